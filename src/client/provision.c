/* Client key provisioning (include/mcxsec/provision.h): init, certificate check and pin,
 * keyprov, validation of every key set before any is kept, keystore save. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/http_internal.h"
#include "client/keystore_internal.h"
#include "client/kms_http_internal.h"
#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/kms_xml.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/provision.h"

#define NTP_UNIX_OFFSET 2208988800ull /* seconds from 1900 to 1970 (RFC 5905 §6) */
#define URL_MAX         2048
#define INIT_PATH       "/keymanagement/identity/v1/init"
#define KEYPROV_PATH    "/keymanagement/identity/v1/keyprov/"
#define CERTCACHE_PATH  "/keymanagement/identity/v1/certcache"

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The last reason, copied: mcx_fail writes the buffer mcx_last_error reads. */
static const char *copy_reason(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", mcx_last_error());
    return buf;
}

/* The host of an https:// URL (for the KmsUri of the first request, before the certificate
 * names the KMS). */
static void host_of(const char *url, char *out, size_t cap)
{
    const char *h = url + 8;
    size_t n = strcspn(h, ":/?#");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, h, n);
    out[n] = '\0';
}

/* POST a KmsRequest and parse the KmsResponse. A KmsError answer is MCX_E_DENIED naming its
 * code and message; an HTTP error without a KmsResponse is MCX_E_IO. */
static mcx_status exchange(const mcx_provision_params *p, mcx_kms_http_session *session,
                           const char *url, const char *kms_uri, time_t unix_now,
                           mcx_kms_response *resp)
{
    mcx_kms_request rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.user_uri, sizeof rq.user_uri, "%s", p->user_uri);
    snprintf(rq.kms_uri, sizeof rq.kms_uri, "%s", kms_uri);
    snprintf(rq.client_req_url, sizeof rq.client_req_url, "%s", url);
    rq.time = unix_now;
    char *xml = NULL;
    size_t xml_len = 0;
    MCX_GUARD(mcx_kms_request_write(&rq, &xml, &xml_len));
    mcx_http_response hr;
    mcx_status st =
        mcx_kms_http_post_on(session, url, p->access_token, xml, xml_len, p->ca_file, &hr);
    mcx_kms_xml_free(xml);
    MCX_GUARD(st);
    char shown[MCX_SHOWN_MAX], why[512];
    mcx_printable(url, shown, sizeof shown);
    long status = hr.status;
    /* TS 33.180 D.1: with an InK every answer must be a SignedKmsResponse that verifies (its
     * KmsResponse is read from the verified tree); with a TrK wrapped keys are unwrapped. */
    if (p->ink != NULL)
        st =
            mcx_kms_response_verify((const uint8_t *)hr.body, hr.body_len, 0, p->ink, p->trk, resp);
    else
        st = mcx_kms_response_parse_wrapped((const uint8_t *)hr.body, hr.body_len, 0, p->trk, resp);
    if (st != MCX_OK) {
        if (status != 200 && p->ink != NULL && st == MCX_E_SIG_INVALID)
            st = MCX_FAIL(MCX_E_IO,
                          "KMS %s: HTTP status %ld (an answer that is not signed with "
                          "the InK: not read)",
                          shown, status);
        else if (status != 200)
            st = MCX_FAIL(MCX_E_IO, "KMS %s: HTTP status %ld", shown, status);
        else if (st == MCX_E_SIG_INVALID)
            st = MCX_FAIL(st,
                          "KMS %s: the response is refused, its signature under the InK "
                          "does not verify: %s",
                          shown, copy_reason(why, sizeof why));
        else if (st == MCX_E_UNSUPPORTED && p->trk == NULL &&
                 strstr(hr.body != NULL ? hr.body : "", "EncryptedKey") != NULL)
            st = MCX_FAIL(st,
                          "KMS %s: the key material is wrapped with a transport key "
                          "(xenc:EncryptedKey) and no TrK was given (mcx keys fetch --trk-file)",
                          shown);
        else if (st == MCX_E_TAG_INVALID)
            st = MCX_FAIL(st, "KMS %s: a wrapped key does not unwrap (wrong TrK?): %s", shown,
                          copy_reason(why, sizeof why));
        else
            st = MCX_FAIL(st, "KMS %s: %s", shown, copy_reason(why, sizeof why));
        mcx_http_response_free(&hr);
        return st;
    }
    mcx_http_response_free(&hr);
    if (resp->type == MCX_KMS_MSG_ERROR) {
        char msg[MCX_SHOWN_MAX];
        mcx_printable(resp->error_msg, msg, sizeof msg);
        st = MCX_FAIL(MCX_E_DENIED, "KMS refused: KmsError %lld: %s", (long long)resp->error_code,
                      msg);
        mcx_kms_response_free(resp);
        return st;
    }
    if (status != 200) {
        mcx_kms_response_free(resp);
        return MCX_FAIL(MCX_E_IO, "KMS %s: HTTP status %ld", shown, status);
    }
    /* TS 33.180 D.2.3: the response is for this user (an empty UserUri is not checked) */
    if (resp->user_uri[0] != '\0' && strcmp(resp->user_uri, p->user_uri) != 0) {
        mcx_kms_response_free(resp);
        return MCX_FAIL(MCX_E_DENIED, "KMS %s: the response is for another user", shown);
    }
    return MCX_OK;
}

/* TS 33.180 D.3.2: a certificate the client can use. */
static mcx_status check_cert(const mcx_kms_certificate *c, time_t unix_now)
{
    if (strcmp(c->user_id_format, "2") != 0)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "KMS certificate: UserIdFormat '%.16s' (only 2)",
                        c->user_id_format);
    if (c->has_parameter_set && c->parameter_set != 1)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "KMS certificate: ParameterSet %u (only 1)",
                        c->parameter_set);
    if (c->user_key_period == 0 || c->kms_uri[0] == '\0')
        return MCX_FAIL(MCX_E_ENCODING, "KMS certificate: no KmsUri or UserKeyPeriod 0");
    if (c->revoked == MCX_KMS_TRUE)
        return MCX_FAIL(MCX_E_DENIED, "KMS certificate: revoked");
    if ((c->has_valid_from && unix_now < c->valid_from) ||
        (c->has_valid_to && unix_now > c->valid_to))
        return MCX_FAIL(MCX_E_DENIED, "KMS certificate: outside its validity");
    return MCX_OK;
}

/* One key set's validation (RFC 6507 §5.1.2, RFC 6508 §6.1.2, the UID of TS 33.180 F.2.1): an
 * RSK check costs a pairing, so the current and next period's sets are checked side by side. */
typedef struct validate_job {
    const mcx_kms_certificate *cert;
    mcx_id_mode id_mode;
    const mcx_keystore_key_set *set;
    size_t index; /* 1-based position in the KmsKeyProv, for the reason */
    mcx_status st;
    char why[512];
} validate_job;

static void *validate_run(void *arg)
{
    validate_job *j = arg;
    j->st = mcx_keystore_validate_key_set(j->cert, j->id_mode, j->set);
    if (j->st != MCX_OK)
        copy_reason(j->why, sizeof j->why);
    return NULL;
}

static mcx_status validate_all(validate_job *jobs, size_t n)
{
    pthread_t th[MCX_PROVISION_MAX_PERIODS];
    int started[MCX_PROVISION_MAX_PERIODS] = {0};
    for (size_t i = 1; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, validate_run, &jobs[i]) == 0;
    for (size_t i = 0; i < n; i++)
        if (!started[i])
            validate_run(&jobs[i]); /* the first always, others when no thread could start */
    for (size_t i = 1; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    for (size_t i = 0; i < n; i++)
        if (jobs[i].st != MCX_OK)
            return MCX_FAIL(jobs[i].st, "KMS keyprov: key set %zu: %s", jobs[i].index, jobs[i].why);
    return MCX_OK;
}

static mcx_status take_key_sets(const mcx_provision_params *p, const mcx_kms_certificate *cert,
                                const mcx_kms_response *r, uint64_t cur, mcx_keystore_key_set *sets,
                                size_t *n_sets, size_t *skipped)
{
    *n_sets = 0;
    *skipped = 0;
    if (r->type != MCX_KMS_MSG_KEYPROV)
        return MCX_FAIL(MCX_E_ENCODING, "KMS keyprov: the answer is not a KmsKeyProv");
    int have_cur = 0;
    validate_job jobs[MCX_PROVISION_MAX_PERIODS];
    for (size_t i = 0; i < r->n_key_sets; i++) {
        const mcx_kms_key_set *k = &r->key_sets[i];
        if (strcmp(k->kms_uri, cert->kms_uri) != 0)
            return MCX_FAIL(MCX_E_DENIED, "KMS keyprov: key set %zu is from another KMS", i + 1);
        if (strcmp(k->user_uri, p->user_uri) != 0)
            return MCX_FAIL(MCX_E_DENIED, "KMS keyprov: key set %zu is for another user", i + 1);
        if (k->user_id_len != MCX_UID_BYTES)
            return MCX_FAIL(MCX_E_KEY_INVALID,
                            "KMS keyprov: key set %zu: UserID of %zu octets (UID format 2: %d)",
                            i + 1, k->user_id_len, MCX_UID_BYTES);
        if (k->revoked == MCX_KMS_TRUE ||
            (k->key_period_no != cur && k->key_period_no != cur + 1)) {
            (*skipped)++;
            continue;
        }
        for (size_t j = 0; j < *n_sets; j++)
            if (sets[j].period_no == k->key_period_no)
                return MCX_FAIL(MCX_E_ENCODING, "KMS keyprov: two key sets for period %llu",
                                (unsigned long long)k->key_period_no);
        if (*n_sets >= MCX_PROVISION_MAX_PERIODS)
            break;
        mcx_keystore_key_set *s = &sets[*n_sets];
        memset(s, 0, sizeof *s);
        memcpy(s->user_uri, k->user_uri, sizeof s->user_uri);
        memcpy(s->kms_uri, k->kms_uri, sizeof s->kms_uri);
        s->period_no = k->key_period_no;
        memcpy(s->uid, k->user_id, MCX_UID_BYTES);
        s->has_valid_from = k->has_valid_from;
        s->has_valid_to = k->has_valid_to;
        s->valid_from = k->valid_from;
        s->valid_to = k->valid_to;
        memcpy(s->ssk, k->ssk, sizeof s->ssk);
        memcpy(s->pvt, k->pvt, sizeof s->pvt);
        memcpy(s->rsk, k->rsk, sizeof s->rsk);
        jobs[*n_sets] = (validate_job){cert, p->id_mode, s, i + 1, MCX_OK, ""};
        have_cur |= k->key_period_no == cur;
        (*n_sets)++;
    }
    if (!have_cur)
        return MCX_FAIL(MCX_E_NO_KEY, "KMS keyprov: no key set for the current period %llu",
                        (unsigned long long)cur);
    /* RFC 6507 §5.1.2, RFC 6508 §6.1.2 and the UID (TS 33.180 F.2.1) before keeping any */
    return validate_all(jobs, *n_sets);
}

mcx_status mcx_client_provision(const mcx_provision_params *p, mcx_provision_result *res)
{
    mcx_provision_result local;
    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof *res);
    if (p == NULL || p->kms_url == NULL || p->user_uri == NULL || p->user_uri[0] == '\0' ||
        p->access_token == NULL || p->keystore == NULL)
        return MCX_FAIL(MCX_E_ARG, "provision: KMS URL, user, access token and keystore needed");
    if (strncasecmp(p->kms_url, "https://", 8) != 0)
        return MCX_FAIL(MCX_E_ARG, "provision: the KMS URL must be https://");
    size_t ul = strlen(p->kms_url);
    if (ul > 512 || strlen(p->user_uri) >= MCX_KMS_TEXT_MAX)
        return MCX_FAIL(MCX_E_ARG, "provision: KMS URL or user URI too long");
    if ((p->trk != NULL && p->trk_len != MCX_KMS_TRK_BYTES) ||
        (p->ink != NULL && p->ink_len != MCX_KMS_INK_BYTES))
        return MCX_FAIL(MCX_E_ARG, "provision: TrK and InK must be %d octets each",
                        MCX_KMS_TRK_BYTES);
    if (p->id_mode != MCX_ID_RAW && p->id_mode != MCX_ID_HEX_STRING)
        return MCX_FAIL(MCX_E_ARG, "provision: identity mode %d", (int)p->id_mode);
    if (ul > 8 && p->kms_url[ul - 1] == '/')
        ul--;
    /* the KMS URL's origin is bound to the KmsUri pinned for it (keystore.h) */
    char origin[MCX_KEYSTORE_ORIGIN_MAX];
    MCX_GUARD(mcx_keystore_origin(p->kms_url, origin, sizeof origin));
    uint64_t t0 = now_us();
    uint64_t ntp = p->now_ntp != 0 ? p->now_ntp : mcx_ntp_now();
    time_t unix_now = (time_t)(ntp - NTP_UNIX_OFFSET);

    /* 1. init: the KMS certificate */
    char url[URL_MAX], kms_name[MCX_KMS_TEXT_MAX];
    snprintf(url, sizeof url, "%.*s%s", (int)ul, p->kms_url, INIT_PATH);
    /* The KmsUri pinned for this origin. A keystore written before bindings existed (none at
     * all) with a single pinned certificate: that one is the binding (it was the only KMS). */
    char bound[MCX_KMS_TEXT_MAX];
    int have_bound = mcx_keystore_get_binding(p->keystore, origin, bound, sizeof bound) == MCX_OK;
    mcx_kms_certificate pinned;
    if (!have_bound && mcx_keystore_binding_count(p->keystore) == 0 &&
        mcx_keystore_cert_count(p->keystore) == 1 &&
        mcx_keystore_cert_at(p->keystore, 0, &pinned, NULL, NULL) == MCX_OK) {
        snprintf(bound, sizeof bound, "%s", pinned.kms_uri);
        have_bound = 1;
    }
    mcx_clear_error();
    if (have_bound)
        snprintf(kms_name, sizeof kms_name, "%s", bound);
    else
        host_of(p->kms_url, kms_name, sizeof kms_name);
    mcx_kms_response r;
    /* init and keyprov share one TLS connection */
    mcx_kms_http_session *session = mcx_kms_http_session_new();
    if (session == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "provision: no HTTP session (out of memory or libcurl)");
    mcx_status st = exchange(p, session, url, kms_name, unix_now, &r);
    if (st != MCX_OK) {
        mcx_kms_http_session_free(session);
        return st;
    }
    res->us_init = now_us() - t0;
    mcx_kms_certificate *cert = malloc(sizeof *cert);
    mcx_keystore_key_set *sets = mcx_secure_alloc(MCX_PROVISION_MAX_PERIODS * sizeof *sets);
    if (cert == NULL || sets == NULL) {
        mcx_kms_response_free(&r);
        st = MCX_FAIL(MCX_E_NOMEM, "provision: out of memory");
        goto out;
    }
    if (r.type != MCX_KMS_MSG_INIT || r.n_certs != 1) {
        mcx_kms_response_free(&r);
        st = MCX_FAIL(MCX_E_ENCODING, "KMS init: the answer is not a KmsInit with a certificate");
        goto out;
    }
    *cert = r.certs[0];
    mcx_kms_response_free(&r);

    /* 2. the certificate: usable, and the pinned one (or first use, or an explicit re-pin) */
    MCX_GUARD_GOTO(st, check_cert(cert, unix_now), out);
    snprintf(res->kms_uri, sizeof res->kms_uri, "%s", cert->kms_uri);
    mcx_keystore_cert_fingerprint(cert, p->id_mode, res->fingerprint);
    /* The pin is looked up by the origin, not by the offered KmsUri: a server at a pinned origin
     * naming another KmsUri (its own KPAK and Z) would otherwise be a first use. */
    int rebound = have_bound && strcmp(cert->kms_uri, bound) != 0;
    if (rebound && !p->repin) {
        char named[MCX_SHOWN_MAX], was[MCX_SHOWN_MAX], where[MCX_SHOWN_MAX];
        mcx_printable(cert->kms_uri, named, sizeof named);
        mcx_printable(bound, was, sizeof was);
        mcx_printable(origin, where, sizeof where);
        st = MCX_FAIL(MCX_E_DENIED,
                      "KMS certificate for %s names %s, pinned %s (re-pin with --repin)", where,
                      named, was);
        goto out;
    }
    st = mcx_keystore_check_pinned(p->keystore, cert, p->id_mode);
    if (st == MCX_E_NOT_FOUND || (st == MCX_E_DENIED && p->repin) || rebound)
        res->newly_pinned = 1;
    else if (st != MCX_OK)
        goto out;
    st = MCX_OK;

    /* 3. keyprov: <user URI percent-encoded>/<NTP-64 time, 16 hex digits> (TS 33.180 D.2.1) */
    uint64_t t1 = now_us();
    char *enc = mcx_url_encode(p->user_uri);
    if (enc == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "provision: out of memory");
        goto out;
    }
    /* NTP-64: 32-bit seconds of the era, 32-bit fraction (0). The seconds field is explicitly the
     * era's (ntp mod 2^32, RFC 5905 §6): from 2036 (era 1) the full count no longer fits, and the
     * KMS resolves the era as the one nearest its own clock. */
    uint64_t ntp64 = (ntp & 0xffffffffull) << 32;
    snprintf(url, sizeof url, "%.*s%s%s/%016llx", (int)ul, p->kms_url, KEYPROV_PATH, enc,
             (unsigned long long)ntp64);
    free(enc);
    MCX_GUARD_GOTO(st, exchange(p, session, url, cert->kms_uri, unix_now, &r), out);
    uint64_t t2 = now_us();
    res->us_keyprov = t2 - t1;

    /* 4. every key set checked and validated before any is kept */
    res->current_period = mcx_key_period_no(ntp, cert->user_key_period, cert->user_key_offset);
    size_t n = 0;
    st = take_key_sets(p, cert, &r, res->current_period, sets, &n, &res->n_skipped);
    mcx_kms_response_free(&r);
    res->us_validate = now_us() - t2;
    if (st != MCX_OK)
        goto out;

    /* 5. keep: pin, add, save */
    MCX_GUARD_GOTO(st, mcx_keystore_pin(p->keystore, cert, p->id_mode, p->repin), out);
    MCX_GUARD_GOTO(st, mcx_keystore_bind(p->keystore, origin, cert->kms_uri), out);
    /* re-pinned to another KmsUri: the old KMS's certificate and key sets go, unless another
     * KMS URL is still bound to it */
    if (rebound && mcx_keystore_forget_kms(p->keystore, bound) != MCX_OK)
        mcx_clear_error();
    for (size_t i = 0; i < n; i++) {
        MCX_GUARD_GOTO(st, mcx_keystore_put_key_set(p->keystore, &sets[i]), out);
        res->periods[i] = sets[i].period_no;
    }
    res->n_stored = n;
    res->us_total = now_us() - t0;
    if (!p->no_save) {
        uint64_t t3 = now_us();
        st = mcx_keystore_save(p->keystore);
        res->us_save = now_us() - t3;
    }
out:
    mcx_kms_http_session_free(session);
    mcx_secure_free(sets);
    free(cert);
    return st;
}

mcx_status mcx_client_certcache(const mcx_provision_params *p, mcx_certcache_result *res)
{
    if (p == NULL || res == NULL || p->kms_url == NULL || p->user_uri == NULL ||
        p->user_uri[0] == '\0' || p->access_token == NULL || p->keystore == NULL)
        return MCX_FAIL(MCX_E_ARG, "certcache: KMS URL, user, access token and keystore needed");
    memset(res, 0, sizeof *res);
    if (strncasecmp(p->kms_url, "https://", 8) != 0)
        return MCX_FAIL(MCX_E_ARG, "certcache: the KMS URL must be https://");
    size_t ul = strlen(p->kms_url);
    if (ul > 512 || strlen(p->user_uri) >= MCX_KMS_TEXT_MAX)
        return MCX_FAIL(MCX_E_ARG, "certcache: KMS URL or user URI too long");
    if ((p->trk != NULL && p->trk_len != MCX_KMS_TRK_BYTES) ||
        (p->ink != NULL && p->ink_len != MCX_KMS_INK_BYTES))
        return MCX_FAIL(MCX_E_ARG, "certcache: TrK and InK must be %d octets each",
                        MCX_KMS_TRK_BYTES);
    if (ul > 8 && p->kms_url[ul - 1] == '/')
        ul--;
    /* Only the KMS pinned for this URL may vouch for other KMSs: its certificate was checked
     * by a provisioning, and its answer must name the same KmsUri. */
    char origin[MCX_KEYSTORE_ORIGIN_MAX], bound[MCX_KMS_TEXT_MAX];
    MCX_GUARD(mcx_keystore_origin(p->kms_url, origin, sizeof origin));
    if (mcx_keystore_get_binding(p->keystore, origin, bound, sizeof bound) != MCX_OK) {
        char where[MCX_SHOWN_MAX];
        mcx_printable(origin, where, sizeof where);
        return MCX_FAIL(MCX_E_NOT_FOUND,
                        "certcache: no KMS is pinned for %s (fetch keys from it first)", where);
    }
    uint64_t ntp = p->now_ntp != 0 ? p->now_ntp : mcx_ntp_now();
    time_t unix_now = (time_t)(ntp - NTP_UNIX_OFFSET);
    char url[URL_MAX];
    snprintf(url, sizeof url, "%.*s%s", (int)ul, p->kms_url, CERTCACHE_PATH);
    mcx_kms_http_session *session = mcx_kms_http_session_new();
    if (session == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "certcache: no HTTP session (out of memory or libcurl)");
    mcx_kms_response r;
    mcx_status st = exchange(p, session, url, bound, unix_now, &r);
    mcx_kms_http_session_free(session);
    MCX_GUARD(st);
    if (r.type != MCX_KMS_MSG_CERTCACHE) {
        mcx_kms_response_free(&r);
        return MCX_FAIL(MCX_E_ENCODING, "KMS certcache: the answer is not a KmsCertCache");
    }
    if (strcmp(r.kms_uri, bound) != 0) {
        char named[MCX_SHOWN_MAX], was[MCX_SHOWN_MAX];
        mcx_printable(r.kms_uri, named, sizeof named);
        mcx_printable(bound, was, sizeof was);
        mcx_kms_response_free(&r);
        return MCX_FAIL(MCX_E_DENIED, "KMS certcache: the answer is from %s, pinned %s", named,
                        was);
    }
    snprintf(res->kms_uri, sizeof res->kms_uri, "%s", bound);
    res->cache_num = r.has_cache_num ? r.cache_num : 0;
    for (size_t i = 0; i < r.n_certs && res->n < MCX_KMS_MAX_CERTS; i++) {
        mcx_certcache_entry *e = &res->entries[res->n++];
        e->cert = r.certs[i];
        /* TS 33.180 D.3.2.2: Revoked, validity, format (check_cert), then not a second
         * certificate for the domain's own KMS */
        e->verdict = check_cert(&e->cert, unix_now);
        if (e->verdict == MCX_OK && strcmp(e->cert.kms_uri, bound) == 0)
            e->verdict = MCX_FAIL(MCX_E_DENIED, "KMS certificate: names the pinned KMS itself");
        if (e->verdict != MCX_OK)
            copy_reason(e->reason, sizeof e->reason);
        else
            res->n_usable++;
    }
    mcx_kms_response_free(&r);
    mcx_clear_error();
    return MCX_OK;
}
