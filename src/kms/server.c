/* The KMS HTTPS server (TS 33.180 Annex D, D.2): libmicrohttpd with GnuTLS, routing, bearer
 * access tokens (TS 33.180 Annex B, RFC 6750), KmsRequest parsing, key-set issue through the core
 * (include/mcxsec/kms.h), and one structured log line per request (never a token or a key).
 *
 *   POST /keymanagement/identity/v1/init                       -> KmsInit (the certificate)
 *   POST /keymanagement/identity/v1/keyprov[/<user>/<NTP-64>]  -> KmsKeyProv (key sets)
 *   POST /keymanagement/identity/v1/certcache                  -> KmsCertCache
 *   GET  /health                                               -> 200
 * Refusals are KmsResponse/KmsError documents whose ErrorCode is the HTTP status. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "common/error_internal.h"
#include "httpd/httpd_internal.h"
#include "kms/kms_internal.h"
#include "kms/server_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

#define CONNECTION_LIMIT   1000
#define PER_IP_LIMIT       64
#define CONNECTION_TIMEOUT 30
#define CONNECTION_MEM     (64 * 1024)
#define PATH_MAX_KMS       512
#define JWKS_FILE_MAX      (256 * 1024)
#define NTP_UNIX_OFFSET    2208988800u /* seconds from 1900-01-01 to 1970-01-01 */

struct kms_server {
    const mcx_kms_config *cfg;
    const mcx_kms *kms;
    mcx_token_verifier *verifier;
    httpd_config http_cfg;
    httpd_server *http;
    httpd_pool pool; /* one store connection per worker at a time, reused */
};

/* A request: the shared part first (httpd_internal.h), then the KMS's. */
typedef struct kreq {
    httpd_request h;
    kms_server *srv;
    int64_t kms_now; /* h.now + clock_offset: the key-period clock (docs/kms.md) */
    mcx_token_claims claims;
    mcx_kms_request rq;
    mcx_kms_request_info info; /* for the issue log: filled once the token is verified */
    /* The requesting identity's TrK / InK (TS 33.180 D.1), secure memory, once the request is
     * known to be for an identity the token may fetch; NULL before (responses plain). */
    mcx_kms_client_keys *ck;
} kreq;

/* ---- Responses ------------------------------------------------------------------------------- */

static void free_xml_cb(void *p)
{
    mcx_kms_xml_free(p); /* may hold SSKs and RSKs: wiped */
}

/* Queue a response. body is copied unless own_xml: then it is a document from the XML writer
 * that libmicrohttpd releases (wiped) when sent. headers: NULL-terminated name/value pairs. */
static mcx_status respond(kreq *r, unsigned status, const char *content_type, char *body,
                          size_t len, int own_xml, const char *const *headers)
{
    struct MHD_Response *resp =
        own_xml ? MHD_create_response_from_buffer_with_free_callback(len, body, free_xml_cb)
                : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        if (own_xml)
            mcx_kms_xml_free(body);
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot create a response");
    }
    /* HTTPS only, for a year (RFC 6797 §6.1); key sets must never sit in a cache
     * (RFC 9111 §5.2.2.5) */
    const char *const std[] = {
        "X-Content-Type-Options", "nosniff",       "Strict-Transport-Security",
        "max-age=31536000",       "Cache-Control", "no-store",
        "X-Request-Id",           r->h.request_id, NULL};
    return httpd_queue(&r->h, status, resp, content_type, std, headers);
}

static mcx_status respond_text(kreq *r, unsigned status, const char *text,
                               const char *const *headers)
{
    return respond(r, status, "text/plain; charset=utf-8", (char *)(uintptr_t)text, strlen(text), 0,
                   headers);
}

/* A KmsResponse around r's request: UserUri and ClientReqUrl from the KmsRequest when it was
 * read, else the KmsUri and the URL this request reached. */
static void response_head(kreq *r, mcx_kms_response *out)
{
    const mcx_kms_settings *s = mcx_kms_get_settings(r->srv->kms);
    memset(out, 0, sizeof *out);
    snprintf(out->user_uri, sizeof out->user_uri, "%s",
             r->rq.user_uri[0] != '\0' ? r->rq.user_uri : s->kms_uri);
    snprintf(out->kms_uri, sizeof out->kms_uri, "%s", s->kms_uri);
    if (r->rq.client_req_url[0] != '\0')
        snprintf(out->client_req_url, sizeof out->client_req_url, "%s", r->rq.client_req_url);
    else
        snprintf(out->client_req_url, sizeof out->client_req_url, "https://%.100s%.120s",
                 s->kms_uri, r->h.path);
    out->time = (time_t)r->h.now;
}

/* The document for resp: with the identity's TrK the key material of a KmsKeyProv is wrapped
 * (xenc:EncryptedKey); with its InK the whole KmsResponse (KmsError too) is sent as a
 * SignedKmsResponse (TS 33.180 D.1; include/mcxsec/kms_xml.h). */
static mcx_status respond_xml(kreq *r, unsigned status, const mcx_kms_response *resp,
                              const char *const *headers)
{
    char *xml = NULL;
    size_t len = 0;
    const mcx_kms_client_keys *ck = r->ck;
    if (ck != NULL && ck->has_trk && resp->type == MCX_KMS_MSG_KEYPROV)
        MCX_GUARD(mcx_kms_response_write_wrapped(resp, ck->trk, &xml, &len));
    else
        MCX_GUARD(mcx_kms_response_write(resp, &xml, &len));
    if (ck != NULL && ck->has_ink) {
        char *signed_xml = NULL;
        size_t signed_len = 0;
        mcx_status st =
            mcx_kms_response_sign((const uint8_t *)xml, len, ck->ink, &signed_xml, &signed_len);
        mcx_kms_xml_free(xml);
        MCX_GUARD(st);
        xml = signed_xml;
        len = signed_len;
    }
    return respond(r, status, "application/xml; charset=utf-8", xml, len, 1, headers);
}

/* KmsError (TS 33.180 D.2.3) with ErrorCode = the HTTP status. msg is cut to printable ASCII
 * (it may quote a parser's reason about request bytes). */
static mcx_status respond_error(kreq *r, unsigned status, const char *msg,
                                const char *const *headers)
{
    mcx_kms_response resp;
    response_head(r, &resp);
    resp.type = MCX_KMS_MSG_ERROR;
    resp.error_code = status;
    size_t o = 0;
    for (size_t i = 0; msg[i] != '\0' && o + 1 < sizeof resp.error_msg; i++) {
        unsigned char c = (unsigned char)msg[i];
        resp.error_msg[o++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    resp.error_msg[o] = '\0';
    if (r->h.outcome == NULL)
        r->h.outcome = "refused";
    mcx_status rc = respond_xml(r, status, &resp, headers);
    if (rc != MCX_OK && !r->h.responded) /* the writer refused (e.g. an over-long UserUri) */
        return respond_text(r, status, resp.error_msg, headers);
    return rc;
}

/* ---- Requests -------------------------------------------------------------------------------- */

/* The user URI is the token holder's own MC service ID, or a service identity registered for the
 * token's subject and OAuth client together (mcx kms service add --sub --client-id): the client
 * alone is not enough, since every user of a public client (mcx-cli) holds tokens for it. A URI
 * the KMS knows as a service identity is granted by that binding only, never by a token claim
 * naming it (an IdMS user whose mcptt_id was set to a group's URI gets no group keys).
 * Returns 1 (may), 0 (may not), -1 (the store failed: *rc). */
static int may_fetch(kreq *r, const char *uri, mcx_status *rc)
{
    const mcx_token_claims *c = &r->claims;
    mcx_kms_identity id;
    mcx_status s = mcx_kms_identity_get(r->h.st, uri, &id);
    if (s != MCX_OK && s != MCX_E_NOT_FOUND) {
        *rc = s;
        return -1;
    }
    if (s == MCX_OK && id.is_service)
        return c->client_id[0] != '\0' && c->sub[0] != '\0' && id.subject[0] != '\0' &&
               strcmp(id.subject, c->sub) == 0 && strcmp(id.client_id, c->client_id) == 0;
    /* a user, or unknown (mcx_kms_issue refuses and audits it) */
    return (c->mcptt_id[0] != '\0' && strcmp(c->mcptt_id, uri) == 0) ||
           (c->mcvideo_id[0] != '\0' && strcmp(c->mcvideo_id, uri) == 0) ||
           (c->mcdata_id[0] != '\0' && strcmp(c->mcdata_id, uri) == 0);
}

/* RFC 6750 §2.1 and §3: the bearer token, 401 without one or with a bad one, 403 without the KMS
 * scope. Returns 1 when the request may go on; 0 when a refusal was queued (or failed: *rc). */
static int authorize(kreq *r, mcx_status *rc)
{
    const char *jwt = httpd_bearer(&r->h);
    if (jwt == NULL) {
        /* §3.1: a request without credentials gets no error code */
        static const char *const hd[] = {"WWW-Authenticate", "Bearer realm=\"mcx-kms\"", NULL};
        r->h.outcome = "no token";
        *rc = respond_error(r, 401, "an access token is required (Authorization: Bearer)", hd);
        return 0;
    }
    mcx_status v = mcx_token_verify(r->srv->verifier, jwt, NULL, r->h.now, &r->claims);
    if (v != MCX_OK) {
        static const char *const hd[] = {
            "WWW-Authenticate",
            "Bearer realm=\"mcx-kms\", error=\"invalid_token\", error_description=\"the access "
            "token is not valid\"",
            NULL};
        char why[300];
        snprintf(why, sizeof why, "invalid access token: %s", mcx_last_error());
        r->h.outcome = "invalid token";
        *rc = respond_error(r, 401, why, hd);
        return 0;
    }
    snprintf(r->h.sub, sizeof r->h.sub, "%s", r->claims.sub);
    r->info.request_id = r->h.request_id;
    r->info.token_sub = r->claims.sub;
    r->info.token_jti = r->claims.jti;
    r->info.client_id = r->claims.client_id;
    r->info.client_address = r->h.addr;
    r->info.now = r->h.now;
    if (!httpd_has_scope(r->claims.scope, MCX_SCOPE_PTT_KMS)) {
        static const char *const hd[] = {"WWW-Authenticate",
                                         "Bearer realm=\"mcx-kms\", error=\"insufficient_scope\", "
                                         "scope=\"" MCX_SCOPE_PTT_KMS "\"",
                                         NULL};
        r->h.outcome = "insufficient scope";
        *rc = respond_error(r, 403, "the access token lacks the scope " MCX_SCOPE_PTT_KMS, hd);
        return 0;
    }
    return 1;
}

/* A refusal made here (not by mcx_kms_issue) appended to kms_issue_log, so that the log holds
 * every keyprov refusal of an authenticated request (docs/kms.md). */
static mcx_status audit(kreq *r, const char *uri, uint64_t period_no, const char *outcome)
{
    mcx_status st = kms_log_row(r->h.st, uri, period_no, &r->info, outcome);
    if (st != MCX_OK)
        fprintf(stderr, "mcx-kms: issue log: %s\n", mcx_last_error());
    return st;
}

/* ---- Handlers -------------------------------------------------------------------------------- */

static mcx_status handle_init(kreq *r)
{
    mcx_kms_certificate cert;
    mcx_kms_certificate_get(r->srv->kms, &cert);
    mcx_kms_response resp;
    response_head(r, &resp);
    resp.type = MCX_KMS_MSG_INIT;
    resp.certs = &cert;
    resp.n_certs = 1;
    r->h.outcome = "init";
    return respond_xml(r, 200, &resp, NULL);
}

/* KmsCertCache (TS 33.180 D.3.4): the external KMS certificates this KMS vouches for, from the
 * kms_certcache table; one revoked by the admin (mcx kms certcache revoke) is still listed, with
 * <Revoked>true</Revoked>, so that a client that cached it drops it. CacheNum is the time of the
 * newest change (an addition or a revocation). An entry the codec cannot read is left out and
 * logged. */
static mcx_status handle_certcache(kreq *r)
{
    mcx_kms_certificate *certs = calloc(MCX_KMS_MAX_CERTS, sizeof *certs);
    if (certs == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    size_t n = 0;
    int64_t newest = 0;
    mcx_stmt *q = NULL;
    mcx_status st = mcx_store_prepare(
        r->h.st,
        "SELECT kms_uri, cert_xml, added_at, revoked_at FROM kms_certcache ORDER BY kms_uri", &q);
    int row = 0;
    while (st == MCX_OK && (st = mcx_stmt_step(q, &row)) == MCX_OK && row) {
        int64_t at = mcx_stmt_int(q, 2);
        int revoked = !mcx_stmt_is_null(q, 3);
        if (revoked && mcx_stmt_int(q, 3) > at)
            at = mcx_stmt_int(q, 3);
        if (at > newest)
            newest = at;
        if (n == MCX_KMS_MAX_CERTS) {
            fprintf(stderr, "mcx-kms: certcache: more than %d entries, the rest left out\n",
                    MCX_KMS_MAX_CERTS);
            break;
        }
        const char *uri = mcx_stmt_text(q, 0), *xml = mcx_stmt_text(q, 1);
        if (kms_certcache_parse(xml != NULL ? xml : "", &certs[n]) == MCX_OK) {
            if (revoked)
                certs[n].revoked = MCX_KMS_TRUE;
            n++;
        } else
            fprintf(stderr, "mcx-kms: certcache entry %.200s left out: %s\n",
                    uri != NULL ? uri : "?", mcx_last_error());
    }
    if (q != NULL)
        mcx_stmt_done(q);
    if (st != MCX_OK) {
        free(certs);
        return st;
    }
    mcx_kms_response resp;
    response_head(r, &resp);
    resp.type = MCX_KMS_MSG_CERTCACHE;
    resp.certs = certs;
    resp.n_certs = n;
    resp.has_cache_num = 1;
    resp.cache_num = (uint64_t)newest;
    r->h.outcome = "certcache";
    st = respond_xml(r, 200, &resp, NULL);
    free(certs);
    return st;
}

/* keyprov: the key set of the period in force at the requested time and, in the last part of
 * the current period, the next one (TS 33.180 §5.2.3, D.2.1). "Current" and "next" are decided
 * from the KMS's own clock, never from the requested time: a request may name the previous, the
 * current or the next period, and no key set beyond the next period is ever issued. */
static mcx_status handle_keyprov(kreq *r, const char *uri, uint64_t ntp)
{
    const mcx_kms *kms = r->srv->kms;
    uint64_t now_ntp = (uint64_t)r->kms_now + NTP_UNIX_OFFSET;
    uint64_t cur = mcx_kms_period_of(kms, now_ntp);
    uint64_t period = mcx_kms_period_of(kms, ntp);
    /* within one period of now, and so (belt and braces) in cur - 1 .. cur + 1 */
    uint64_t d = ntp > now_ntp ? ntp - now_ntp : now_ntp - ntp;
    if (d > mcx_kms_get_settings(kms)->key_period || period > cur + 1 || period + 1 < cur) {
        char why[200];
        snprintf(why, sizeof why,
                 "the requested time (key period %" PRIu64
                 ") is more than one key period from now (key period %" PRIu64 ")",
                 period, cur);
        r->h.outcome = "refused: time";
        MCX_GUARD(audit(r, uri, period, r->h.outcome));
        return respond_error(r, 400, why, NULL);
    }
    if (!mcx_kms_can_issue(kms)) {
        r->h.outcome = "no secrets";
        return respond_error(r, 503, "the KMS cannot issue key sets now", NULL);
    }
    mcx_kms_key_set *sets = mcx_secure_alloc(2 * sizeof *sets);
    if (sets == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    size_t n = 0;
    int fresh = 0;
    mcx_status st = mcx_kms_issue(kms, r->h.st, uri, period, &r->info, &sets[0], &fresh);
    if (st == MCX_OK) {
        n = 1;
        r->h.outcome = fresh ? "issued" : "returned";
        /* the next period's set only when that is cur + 1 and its window is open now */
        if (period + 1 == cur + 1 &&
            mcx_kms_next_period_due(kms, now_ntp, r->srv->cfg->next_period_window)) {
            st = mcx_kms_issue(kms, r->h.st, uri, period + 1, &r->info, &sets[1], NULL);
            if (st == MCX_OK)
                n = 2;
            else if (st == MCX_E_DENIED || st == MCX_E_NOT_FOUND)
                st = MCX_OK; /* revoked since: the current period's set alone */
        }
    }
    if (st == MCX_E_NOT_FOUND || st == MCX_E_DENIED) {
        mcx_secure_free(sets);
        r->h.outcome = st == MCX_E_DENIED ? "refused: revoked" : "refused: unknown identity";
        return respond_error(r, 403,
                             st == MCX_E_DENIED ? "the identity is revoked"
                                                : "the identity is not known to this KMS",
                             NULL);
    }
    if (st != MCX_OK) {
        mcx_secure_free(sets);
        return st;
    }
    /* TS 33.180 D.3.3: a key set served to an identity that is revoked (one of a period that
     * ended before the revocation, or one returned while a revocation landed between the two
     * issues above) says so, and clients do not keep it (provision.c). Read after the issues, so
     * that a revocation committed meanwhile is seen. */
    mcx_kms_identity id;
    st = mcx_kms_identity_get(r->h.st, uri, &id);
    if (st != MCX_OK) {
        mcx_secure_free(sets);
        return st;
    }
    if (id.revoked) {
        for (size_t i = 0; i < n; i++)
            sets[i].revoked = MCX_KMS_TRUE;
        r->h.outcome = fresh ? "issued (marked revoked)" : "returned (marked revoked)";
    }
    mcx_kms_response resp;
    response_head(r, &resp);
    resp.type = MCX_KMS_MSG_KEYPROV;
    resp.key_sets = sets;
    resp.n_key_sets = n;
    st = respond_xml(r, 200, &resp, NULL);
    mcx_secure_free(sets);
    return st;
}

typedef enum route { R_INIT, R_KEYPROV, R_KEYPROV_PATH, R_CERTCACHE } route;

/* A POST to one of the Annex D endpoints: token, KmsRequest, the user URI's authorisation. */
static mcx_status handle_api(kreq *r, route rt, const char *tail)
{
    mcx_status rc = MCX_OK;
    if (!authorize(r, &rc))
        return rc;
    char path_uri[MCX_KMS_TEXT_MAX] = "";
    uint64_t ntp = (uint64_t)r->kms_now + NTP_UNIX_OFFSET;
    if (rt == R_KEYPROV_PATH) {
        /* <percent-encoded user URI>/<NTP-64 timestamp, 16 hex digits> (TS 33.180 D.2.1) */
        const char *slash = strrchr(tail, '/');
        char *end = NULL;
        if (slash == NULL || strlen(slash + 1) != 16 ||
            !httpd_pct_decode(tail, (size_t)(slash - tail), path_uri, sizeof path_uri)) {
            r->h.outcome = "refused: path";
            return respond_error(r, 400,
                                 "keyprov path: expected keyprov/<user URI>/<16 hex digits>", NULL);
        }
        errno = 0;
        /* exactly 16 hex digits: strtoull alone would also take a "0x" prefix */
        unsigned long long v = strtoull(slash + 1, &end, 16);
        if (errno != 0 || *end != '\0' || strspn(slash + 1, "0123456789abcdefABCDEF") != 16) {
            r->h.outcome = "refused: path";
            return respond_error(r, 400, "keyprov path: the time is not 16 hex digits", NULL);
        }
        /* NTP-64: seconds in the high 32 bits, era resolved against the KMS clock (RFC 5905 §6) */
        ntp = mcx_kms_ntp_nearest((uint32_t)(v >> 32), ntp);
    }
    if (r->h.body_len == 0) {
        r->h.outcome = "refused: no body";
        return respond_error(r, 400, "a KmsRequest document is required", NULL);
    }
    const char *ct = httpd_header(&r->h, "Content-Type");
    if (ct != NULL && strncasecmp(ct, "application/xml", 15) != 0 &&
        strncasecmp(ct, "text/xml", 8) != 0) {
        r->h.outcome = "refused: content type";
        return respond_error(r, 415, "the body must be application/xml", NULL);
    }
    mcx_kms_request rq;
    if (mcx_kms_request_parse((const uint8_t *)r->h.body, r->h.body_len, MCX_KMS_XML_VALIDATE,
                              &rq) != MCX_OK) {
        char why[400];
        snprintf(why, sizeof why, "malformed KmsRequest: %s", mcx_last_error());
        r->h.outcome = "refused: malformed";
        return respond_error(r, 400, why, NULL);
    }
    r->rq = rq;
    if (rt == R_KEYPROV_PATH && strcmp(path_uri, rq.user_uri) != 0) {
        r->h.outcome = "refused: user mismatch";
        return respond_error(r, 400, "the KmsRequest UserUri differs from the URI in the path",
                             NULL);
    }
    int may = may_fetch(r, rq.user_uri, &rc);
    if (may < 0)
        return rc;
    if (!may) {
        static const char *const hd[] = {
            "WWW-Authenticate", "Bearer realm=\"mcx-kms\", error=\"insufficient_scope\"", NULL};
        r->h.outcome = "refused: not the token's user";
        MCX_GUARD(audit(r, rq.user_uri, mcx_kms_period_of(r->srv->kms, ntp), r->h.outcome));
        return respond_error(r, 403, "the access token does not authorise this UserUri", hd);
    }
    /* the identity is known: its responses are wrapped / signed when it has client keys */
    r->ck = mcx_secure_alloc(sizeof *r->ck);
    if (r->ck == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
    mcx_status ckst = mcx_kms_client_keys_get(r->srv->kms, r->h.st, rq.user_uri, r->ck);
    if (ckst != MCX_OK) {
        /* fail closed: never answer such a client unsigned or with its keys in clear */
        mcx_secure_free(r->ck);
        r->ck = NULL;
        return ckst;
    }
    switch (rt) {
    case R_INIT:
        return handle_init(r);
    case R_CERTCACHE:
        return handle_certcache(r);
    default:
        return handle_keyprov(r, rq.user_uri, ntp);
    }
}

static mcx_status dispatch(kreq *r)
{
    if (strcmp(r->h.path, "/health") == 0) {
        if (strcmp(r->h.method, "GET") != 0 && strcmp(r->h.method, "HEAD") != 0) {
            static const char *const h[] = {"Allow", "GET, HEAD", NULL};
            return respond_text(r, 405, "method not allowed\n", h);
        }
        return respond(r, 200, "application/json", (char *)(uintptr_t) "{\"status\":\"ok\"}", 15, 0,
                       NULL);
    }
    size_t pl = strlen(KMS_API_PREFIX);
    route rt;
    const char *tail = "";
    if (strncmp(r->h.path, KMS_API_PREFIX, pl) != 0) {
        r->h.outcome = "not found";
        return respond_error(r, 404, "no such resource", NULL);
    }
    const char *rest = r->h.path + pl;
    if (strcmp(rest, "init") == 0)
        rt = R_INIT;
    else if (strcmp(rest, "keyprov") == 0)
        rt = R_KEYPROV;
    else if (strncmp(rest, "keyprov/", 8) == 0) {
        rt = R_KEYPROV_PATH;
        tail = rest + 8;
    } else if (strcmp(rest, "certcache") == 0)
        rt = R_CERTCACHE;
    else {
        r->h.outcome = "not found";
        return respond_error(r, 404, "no such resource", NULL);
    }
    if (strcmp(r->h.method, "POST") != 0) {
        static const char *const h[] = {"Allow", "POST", NULL};
        r->h.outcome = "method";
        return respond_error(r, 405, "only POST is allowed here", h);
    }
    if (r->h.body_too_big) {
        r->h.outcome = "too large";
        return respond_error(r, 413, "the request body is larger than 64 KiB", NULL);
    }
    mcx_status rc = httpd_pool_get(&r->srv->pool, &r->h.st);
    if (rc != MCX_OK)
        return rc;
    rc = handle_api(r, rt, tail);
    httpd_pool_put(&r->srv->pool, r->h.st);
    r->h.st = NULL;
    return rc;
}

/* ---- The shared daemon's hooks (httpd_internal.h) ------------------------------------------- */

static void on_init(httpd_request *h)
{
    kreq *r = (kreq *)h;
    r->srv = h->app;
}

static mcx_status on_dispatch(httpd_request *h)
{
    kreq *r = (kreq *)h;
    r->kms_now = r->h.now + r->srv->cfg->clock_offset;
    return dispatch(r);
}

static mcx_status on_too_large(httpd_request *h)
{
    kreq *r = (kreq *)h;
    r->h.outcome = "too large";
    return respond_error(r, 413, "the request body is larger than 64 KiB", NULL);
}

static mcx_status on_failed(httpd_request *h, mcx_status rc)
{
    kreq *r = (kreq *)h;
    r->h.outcome = "error";
    return respond_error(r, rc == MCX_E_NOMEM ? 503 : 500, "internal error", NULL);
}

static void on_done(httpd_request *h)
{
    kreq *r = (kreq *)h;
    mcx_secure_free(r->ck);
    mcx_memzero(&r->claims, sizeof r->claims);
}

/* ---- Start and stop -------------------------------------------------------------------------- */

static void free_server(kms_server *srv)
{
    if (srv == NULL)
        return;
    httpd_pool_free(&srv->pool);
    mcx_token_verifier_free(srv->verifier);
    free(srv);
}

mcx_status kms_server_start(kms_server **out, const mcx_kms_config *cfg, const mcx_kms *kms)
{
    if (out == NULL || cfg == NULL || kms == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS server: NULL argument");
    *out = NULL;
    if (cfg->listen == NULL || cfg->tls_cert == NULL || cfg->tls_key == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS server: the configuration needs \"listen\", \"tls_cert\" "
                                   "and \"tls_key\"");
    if (cfg->issuer == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS server: the configuration needs \"issuer\" (the IdMS "
                                   "whose access tokens are accepted)");
    MCX_GUARD(httpd_require_tls("KMS server"));
    kms_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS server: out of memory");
    srv->cfg = cfg;
    srv->kms = kms;
    httpd_pool_init(&srv->pool, cfg->store, 0);

    mcx_status rc;
    char *jwks = NULL;
    if (cfg->jwks_file != NULL)
        MCX_GUARD_GOTO(rc, httpd_read_file("KMS", cfg->jwks_file, JWKS_FILE_MAX, &jwks, NULL),
                       fail);
    mcx_token_verifier_config vc = {0};
    vc.issuer = cfg->issuer;
    vc.audience = cfg->audience != NULL ? cfg->audience : cfg->issuer;
    vc.kind = MCX_TOKEN_ACCESS;
    vc.jwks_json = jwks;
    vc.jwks_uri = cfg->jwks_uri;
    vc.ca_file = cfg->ca_file;
    rc = mcx_token_verifier_new(&srv->verifier, &vc);
    mcx_secure_free(jwks);
    if (rc != MCX_OK)
        goto fail;

    /* one connection now: the store answers, and it is the first of the pool */
    mcx_store *st = NULL;
    MCX_GUARD_GOTO(rc, mcx_store_open(&st, cfg->store), fail);
    /* a store of an older schema gains the newer tables (kms_client_keys) before serving */
    rc = kms_schema_migrate(st);
    httpd_pool_put(&srv->pool, st);
    if (rc != MCX_OK)
        goto fail;

    httpd_config *hc = &srv->http_cfg;
    hc->what = "KMS";
    hc->server_name = "KMS server";
    hc->log_prefix = "mcx-kms";
    hc->listen = cfg->listen;
    hc->tls_cert = cfg->tls_cert;
    hc->tls_key = cfg->tls_key;
    hc->path_max = PATH_MAX_KMS;
    hc->request_size = sizeof(kreq);
    hc->max_body = KMS_MAX_BODY;
    hc->early_413 = 1;
    hc->threads = cfg->threads ? cfg->threads : 2;
    hc->connections = CONNECTION_LIMIT;
    hc->per_ip = PER_IP_LIMIT;
    hc->timeout = CONNECTION_TIMEOUT;
    hc->conn_memory = CONNECTION_MEM;
    hc->log_requests = cfg->log_requests;
    hc->log_style = HTTPD_LOG_TRACED;
    hc->pool = &srv->pool;
    hc->app = srv;
    hc->init = on_init;
    hc->dispatch = on_dispatch;
    hc->too_large = on_too_large;
    hc->failed = on_failed;
    hc->done = on_done;
    MCX_GUARD_GOTO(rc, httpd_start(&srv->http, hc), fail);
    *out = srv;
    return MCX_OK;
fail:
    free_server(srv);
    return rc;
}

uint16_t kms_server_port(const kms_server *srv)
{
    return srv != NULL ? httpd_port(srv->http) : 0;
}

void kms_server_stop(kms_server *srv)
{
    if (srv == NULL)
        return;
    httpd_stop(srv->http);
    free_server(srv);
}
