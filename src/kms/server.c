/* The KMS HTTPS server (TS 33.180 Annex D, D.2): libmicrohttpd with GnuTLS, routing, bearer
 * access tokens (TS 33.180 Annex B, RFC 6750), KmsRequest parsing, key-set issue through the core
 * (include/mcxsec/kms.h), and one structured log line per request (never a token or a key).
 *
 *   POST /keymanagement/identity/v1/init                       -> KmsInit (the certificate)
 *   POST /keymanagement/identity/v1/keyprov[/<user>/<NTP-64>]  -> KmsKeyProv (key sets)
 *   POST /keymanagement/identity/v1/certcache                  -> KmsCertCache
 *   GET  /health                                               -> 200
 * Refusals are KmsResponse/KmsError documents whose ErrorCode is the HTTP status. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "kms/server_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

#define CONNECTION_LIMIT   1000
#define PER_IP_LIMIT       64
#define CONNECTION_TIMEOUT 30
#define CONNECTION_MEM     (64 * 1024)
#define NTP_UNIX_OFFSET    2208988800u /* seconds from 1900-01-01 to 1970-01-01 */
/* GnuTLS priorities: TLS 1.3 and 1.2 only (RFC 8996; RFC 9325 §3.1.1), safe renegotiation
 * required (RFC 5746). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SAFE_RENEGOTIATION"

struct kms_server {
    const mcx_kms_config *cfg;
    const mcx_kms *kms;
    mcx_token_verifier *verifier;
    struct MHD_Daemon *daemon;
    uint16_t port;
    char *tls_cert, *tls_key; /* kept for the daemon's life (libmicrohttpd does not copy) */
    pthread_mutex_t pool_lock;
    mcx_store **pool;
    size_t pool_n, pool_cap;
};

typedef struct kreq {
    kms_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char path[512]; /* raw (still percent-encoded) path, printable ASCII only */
    char addr[INET6_ADDRSTRLEN];
    char request_id[33];
    char sub[256]; /* for the log line */
    const char *outcome;
    char *body;
    size_t body_len, body_cap;
    int body_too_big;
    unsigned status;
    int responded;
    double started;
    int64_t now;     /* Unix seconds: tokens, the audit log, the response's Time */
    int64_t kms_now; /* now + clock_offset: the key-period clock (docs/kms.md) */
    mcx_store *st;
    mcx_token_claims claims;
    mcx_kms_request rq;
    mcx_kms_request_info info; /* for the issue log: filled once the token is verified */
    /* The requesting identity's TrK / InK (TS 33.180 D.1), secure memory, once the request is
     * known to be for an identity the token may fetch; NULL before (responses plain). */
    mcx_kms_client_keys *ck;
} kreq;

/* ---- Store connections: one per worker at a time, reused ------------------------------------ */

static mcx_status pool_get(kms_server *srv, mcx_store **out)
{
    pthread_mutex_lock(&srv->pool_lock);
    if (srv->pool_n > 0) {
        *out = srv->pool[--srv->pool_n];
        pthread_mutex_unlock(&srv->pool_lock);
        return MCX_OK;
    }
    pthread_mutex_unlock(&srv->pool_lock);
    return mcx_store_open(out, srv->cfg->store);
}

static void pool_put(kms_server *srv, mcx_store *st)
{
    if (st == NULL)
        return;
    mcx_store_rollback(st); /* a handler that failed midway leaves no transaction open */
    pthread_mutex_lock(&srv->pool_lock);
    if (srv->pool_n == srv->pool_cap) {
        size_t nc = srv->pool_cap ? 2 * srv->pool_cap : 8;
        mcx_store **np = realloc(srv->pool, nc * sizeof *np);
        if (np == NULL) {
            pthread_mutex_unlock(&srv->pool_lock);
            mcx_store_close(st);
            return;
        }
        srv->pool = np;
        srv->pool_cap = nc;
    }
    srv->pool[srv->pool_n++] = st;
    pthread_mutex_unlock(&srv->pool_lock);
}

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
    if (r->responded) {
        if (own_xml)
            mcx_kms_xml_free(body);
        return MCX_FAIL(MCX_E_INTERNAL, "KMS: second response to one request");
    }
    struct MHD_Response *resp =
        own_xml ? MHD_create_response_from_buffer_with_free_callback(len, body, free_xml_cb)
                : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        if (own_xml)
            mcx_kms_xml_free(body);
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot create a response");
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* HTTPS only, for a year (RFC 6797 §6.1) */
    MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    /* key sets must never sit in a cache (RFC 9111 §5.2.2.5) */
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return MCX_FAIL(MCX_E_IO, "KMS: cannot queue the response");
    r->status = status;
    r->responded = 1;
    return MCX_OK;
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
                 s->kms_uri, r->path);
    out->time = (time_t)r->now;
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
    if (r->outcome == NULL)
        r->outcome = "refused";
    mcx_status rc = respond_xml(r, status, &resp, headers);
    if (rc != MCX_OK && !r->responded) /* the writer refused (e.g. an over-long UserUri) */
        return respond_text(r, status, resp.error_msg, headers);
    return rc;
}

/* ---- Requests -------------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 3986 §2.1 percent-decoding of n octets into out (cap with the NUL). 0 when malformed, too
 * long, or decoding to a control character or NUL. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return 0;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return 0;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7F || o + 1 >= cap)
            return 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o > 0;
}

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
    mcx_status s = mcx_kms_identity_get(r->st, uri, &id);
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

static int has_scope(const char *scopes, const char *want)
{
    size_t wl = strlen(want);
    for (const char *p = scopes; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == wl && memcmp(p, want, n) == 0)
            return 1;
        p += n;
        p += strspn(p, " ");
    }
    return 0;
}

/* RFC 6750 §2.1 and §3: the bearer token, 401 without one or with a bad one, 403 without the KMS
 * scope. Returns 1 when the request may go on; 0 when a refusal was queued (or failed: *rc). */
static int authorize(kreq *r, mcx_status *rc)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7 + strspn(h + 7, " ")] == '\0') {
        /* §3.1: a request without credentials gets no error code */
        static const char *const hd[] = {"WWW-Authenticate", "Bearer realm=\"mcx-kms\"", NULL};
        r->outcome = "no token";
        *rc = respond_error(r, 401, "an access token is required (Authorization: Bearer)", hd);
        return 0;
    }
    const char *jwt = h + 7 + strspn(h + 7, " ");
    mcx_status v = mcx_token_verify(r->srv->verifier, jwt, NULL, r->now, &r->claims);
    if (v != MCX_OK) {
        static const char *const hd[] = {
            "WWW-Authenticate",
            "Bearer realm=\"mcx-kms\", error=\"invalid_token\", error_description=\"the access "
            "token is not valid\"",
            NULL};
        char why[300];
        snprintf(why, sizeof why, "invalid access token: %s", mcx_last_error());
        r->outcome = "invalid token";
        *rc = respond_error(r, 401, why, hd);
        return 0;
    }
    snprintf(r->sub, sizeof r->sub, "%s", r->claims.sub);
    r->info.request_id = r->request_id;
    r->info.token_sub = r->claims.sub;
    r->info.token_jti = r->claims.jti;
    r->info.client_id = r->claims.client_id;
    r->info.client_address = r->addr;
    r->info.now = r->now;
    if (!has_scope(r->claims.scope, MCX_SCOPE_PTT_KMS)) {
        static const char *const hd[] = {"WWW-Authenticate",
                                         "Bearer realm=\"mcx-kms\", error=\"insufficient_scope\", "
                                         "scope=\"" MCX_SCOPE_PTT_KMS "\"",
                                         NULL};
        r->outcome = "insufficient scope";
        *rc = respond_error(r, 403, "the access token lacks the scope " MCX_SCOPE_PTT_KMS, hd);
        return 0;
    }
    return 1;
}

/* A refusal made here (not by mcx_kms_issue) appended to kms_issue_log, so that the log holds
 * every keyprov refusal of an authenticated request (docs/kms.md). */
static mcx_status audit(kreq *r, const char *uri, uint64_t period_no, const char *outcome)
{
    mcx_status st = kms_log_row(r->st, uri, period_no, &r->info, outcome);
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
    r->outcome = "init";
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
        r->st, "SELECT kms_uri, cert_xml, added_at, revoked_at FROM kms_certcache ORDER BY kms_uri",
        &q);
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
    r->outcome = "certcache";
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
        r->outcome = "refused: time";
        MCX_GUARD(audit(r, uri, period, r->outcome));
        return respond_error(r, 400, why, NULL);
    }
    if (!mcx_kms_can_issue(kms)) {
        r->outcome = "no secrets";
        return respond_error(r, 503, "the KMS cannot issue key sets now", NULL);
    }
    mcx_kms_key_set *sets = mcx_secure_alloc(2 * sizeof *sets);
    if (sets == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    size_t n = 0;
    int fresh = 0;
    mcx_status st = mcx_kms_issue(kms, r->st, uri, period, &r->info, &sets[0], &fresh);
    if (st == MCX_OK) {
        n = 1;
        r->outcome = fresh ? "issued" : "returned";
        /* the next period's set only when that is cur + 1 and its window is open now */
        if (period + 1 == cur + 1 &&
            mcx_kms_next_period_due(kms, now_ntp, r->srv->cfg->next_period_window)) {
            st = mcx_kms_issue(kms, r->st, uri, period + 1, &r->info, &sets[1], NULL);
            if (st == MCX_OK)
                n = 2;
            else if (st == MCX_E_DENIED || st == MCX_E_NOT_FOUND)
                st = MCX_OK; /* revoked since: the current period's set alone */
        }
    }
    if (st == MCX_E_NOT_FOUND || st == MCX_E_DENIED) {
        mcx_secure_free(sets);
        r->outcome = st == MCX_E_DENIED ? "refused: revoked" : "refused: unknown identity";
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
    st = mcx_kms_identity_get(r->st, uri, &id);
    if (st != MCX_OK) {
        mcx_secure_free(sets);
        return st;
    }
    if (id.revoked) {
        for (size_t i = 0; i < n; i++)
            sets[i].revoked = MCX_KMS_TRUE;
        r->outcome = fresh ? "issued (marked revoked)" : "returned (marked revoked)";
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
            !pct_decode(tail, (size_t)(slash - tail), path_uri, sizeof path_uri)) {
            r->outcome = "refused: path";
            return respond_error(r, 400,
                                 "keyprov path: expected keyprov/<user URI>/<16 hex digits>", NULL);
        }
        errno = 0;
        /* exactly 16 hex digits: strtoull alone would also take a "0x" prefix */
        unsigned long long v = strtoull(slash + 1, &end, 16);
        if (errno != 0 || *end != '\0' || strspn(slash + 1, "0123456789abcdefABCDEF") != 16) {
            r->outcome = "refused: path";
            return respond_error(r, 400, "keyprov path: the time is not 16 hex digits", NULL);
        }
        /* NTP-64: seconds in the high 32 bits, era resolved against the KMS clock (RFC 5905 §6) */
        ntp = mcx_kms_ntp_nearest((uint32_t)(v >> 32), ntp);
    }
    if (r->body_len == 0) {
        r->outcome = "refused: no body";
        return respond_error(r, 400, "a KmsRequest document is required", NULL);
    }
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (ct != NULL && strncasecmp(ct, "application/xml", 15) != 0 &&
        strncasecmp(ct, "text/xml", 8) != 0) {
        r->outcome = "refused: content type";
        return respond_error(r, 415, "the body must be application/xml", NULL);
    }
    mcx_kms_request rq;
    if (mcx_kms_request_parse((const uint8_t *)r->body, r->body_len, MCX_KMS_XML_VALIDATE, &rq) !=
        MCX_OK) {
        char why[400];
        snprintf(why, sizeof why, "malformed KmsRequest: %s", mcx_last_error());
        r->outcome = "refused: malformed";
        return respond_error(r, 400, why, NULL);
    }
    r->rq = rq;
    if (rt == R_KEYPROV_PATH && strcmp(path_uri, rq.user_uri) != 0) {
        r->outcome = "refused: user mismatch";
        return respond_error(r, 400, "the KmsRequest UserUri differs from the URI in the path",
                             NULL);
    }
    int may = may_fetch(r, rq.user_uri, &rc);
    if (may < 0)
        return rc;
    if (!may) {
        static const char *const hd[] = {
            "WWW-Authenticate", "Bearer realm=\"mcx-kms\", error=\"insufficient_scope\"", NULL};
        r->outcome = "refused: not the token's user";
        MCX_GUARD(audit(r, rq.user_uri, mcx_kms_period_of(r->srv->kms, ntp), r->outcome));
        return respond_error(r, 403, "the access token does not authorise this UserUri", hd);
    }
    /* the identity is known: its responses are wrapped / signed when it has client keys */
    r->ck = mcx_secure_alloc(sizeof *r->ck);
    if (r->ck == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
    mcx_status ckst = mcx_kms_client_keys_get(r->srv->kms, r->st, rq.user_uri, r->ck);
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
    if (strcmp(r->path, "/health") == 0) {
        if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
            static const char *const h[] = {"Allow", "GET, HEAD", NULL};
            return respond_text(r, 405, "method not allowed\n", h);
        }
        return respond(r, 200, "application/json", (char *)(uintptr_t) "{\"status\":\"ok\"}", 15, 0,
                       NULL);
    }
    size_t pl = strlen(KMS_API_PREFIX);
    route rt;
    const char *tail = "";
    if (strncmp(r->path, KMS_API_PREFIX, pl) != 0) {
        r->outcome = "not found";
        return respond_error(r, 404, "no such resource", NULL);
    }
    const char *rest = r->path + pl;
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
        r->outcome = "not found";
        return respond_error(r, 404, "no such resource", NULL);
    }
    if (strcmp(r->method, "POST") != 0) {
        static const char *const h[] = {"Allow", "POST", NULL};
        r->outcome = "method";
        return respond_error(r, 405, "only POST is allowed here", h);
    }
    if (r->body_too_big) {
        r->outcome = "too large";
        return respond_error(r, 413, "the request body is larger than 64 KiB", NULL);
    }
    mcx_status rc = pool_get(r->srv, &r->st);
    if (rc != MCX_OK)
        return rc;
    rc = handle_api(r, rt, tail);
    pool_put(r->srv, r->st);
    r->st = NULL;
    return rc;
}

/* ---- libmicrohttpd callbacks ----------------------------------------------------------------- */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    kreq *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->srv = cls;
    r->started = mono_ms();
    uint8_t id[16];
    if (RAND_bytes(id, sizeof id) != 1)
        memset(id, 0, sizeof id);
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(r->request_id + 2 * i, 3, "%02x", id[i]);
    snprintf(r->sub, sizeof r->sub, "-");
    /* The raw path (before libmicrohttpd's unescaping, so that an encoded '/' in a user URI stays
     * inside its segment), without the query, printable ASCII only so that a log line cannot be
     * forged. */
    const char *u = uri != NULL ? uri : "";
    size_t plen = strcspn(u, "?");
    size_t o = 0;
    for (size_t i = 0; i < plen && o + 1 < sizeof r->path; i++) {
        unsigned char c = (unsigned char)u[i];
        r->path[o++] = (c > 0x20 && c < 0x7F && c != '"') ? (char)c : '?';
    }
    r->path[o] = '\0';
    return r;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    kreq *r = *con_cls;
    if (r == NULL)
        return MHD_NO;
    if (r->conn == NULL) {
        /* first call: headers only */
        r->conn = conn;
        r->method = method;
        client_address(conn, r->addr, sizeof r->addr);
        r->now = (int64_t)time(NULL);
        r->kms_now = r->now + r->srv->cfg->clock_offset;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > KMS_MAX_BODY) {
            /* refused before reading the body; libmicrohttpd then closes the connection */
            r->outcome = "too large";
            return respond_error(r, 413, "the request body is larger than 64 KiB", NULL) == MCX_OK
                       ? MHD_YES
                       : MHD_NO;
        }
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES; /* 413 already queued; libmicrohttpd discards the rest */
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->body_too_big || r->body_len + n > KMS_MAX_BODY) {
            r->body_too_big = 1;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap != 0 ? r->body_cap : 4096;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            char *nb = realloc(r->body, cap); /* a KmsRequest holds no secret */
            if (nb == NULL)
                return MHD_NO;
            r->body = nb;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }
    mcx_clear_error();
    mcx_status rc = dispatch(r);
    if (rc != MCX_OK || !r->responded) {
        fprintf(stderr, "mcx-kms: %s %s failed: %s (%s) request_id=%s\n", r->method, r->path,
                mcx_status_name(rc), mcx_last_error(), r->request_id);
        r->outcome = "error";
        if (!r->responded &&
            respond_error(r, rc == MCX_E_NOMEM ? 503 : 500, "internal error", NULL) != MCX_OK)
            return MHD_NO;
    }
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    kms_server *srv = cls;
    kreq *r = *con_cls;
    *con_cls = NULL;
    if (r == NULL)
        return;
    if (srv->cfg->log_requests && r->method != NULL) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        /* sub is token text: printable, no quotes or spaces */
        char sub[sizeof r->sub];
        size_t o = 0;
        for (size_t i = 0; r->sub[i] != '\0' && o + 1 < sizeof sub; i++) {
            unsigned char c = (unsigned char)r->sub[i];
            sub[o++] = (c > 0x20 && c < 0x7F && c != '"') ? (char)c : '?';
        }
        sub[o] = '\0';
        char line[1024];
        int n = snprintf(line, sizeof line,
                         "mcx-kms: time=%s request_id=%s method=%s path=%s status=%u addr=%s "
                         "sub=%s outcome=\"%s\" duration_ms=%.3f%s\n",
                         ts, r->request_id, r->method, r->path, r->status, r->addr, sub,
                         r->outcome != NULL ? r->outcome : "-", mono_ms() - r->started,
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
        if (n > 0) {
            size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
            ssize_t w = write(STDERR_FILENO, line, len);
            (void)w;
        }
    }
    free(r->body);
    mcx_secure_free(r->ck);
    mcx_memzero(&r->claims, sizeof r->claims);
    free(r);
}

/* ---- Start and stop -------------------------------------------------------------------------- */

static mcx_status read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return MCX_FAIL(MCX_E_IO, "KMS: cannot read %s: %s", path, strerror(errno));
    char *buf = mcx_secure_alloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max, f) : 0;
    int big = buf != NULL && !feof(f);
    fclose(f);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    if (big || n == 0) {
        mcx_secure_free(buf);
        return MCX_FAIL(MCX_E_IO, "KMS: %s is empty or larger than %zu KiB", path, max / 1024);
    }
    buf[n] = '\0';
    *out = buf;
    if (len != NULL)
        *len = n;
    return MCX_OK;
}

static mcx_status parse_listen(const char *listen, struct sockaddr_storage *ss, int *v6)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *e = strchr(listen, ']');
        if (e == NULL || e[1] != ':' || (size_t)(e - listen - 1) >= sizeof host)
            return MCX_FAIL(MCX_E_ARG, "KMS: listen \"%.64s\" is not [ADDR]:PORT", listen);
        memcpy(host, listen + 1, (size_t)(e - listen - 1));
        host[e - listen - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(listen, ':');
        if (c == NULL || (size_t)(c - listen) >= sizeof host)
            return MCX_FAIL(MCX_E_ARG, "KMS: listen \"%.64s\" is not ADDR:PORT", listen);
        memcpy(host, listen, (size_t)(c - listen));
        host[c - listen] = '\0';
        port = c + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
        return MCX_FAIL(MCX_E_ARG, "KMS: bad port in listen \"%.64s\"", listen);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int e = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
    if (e != 0 || res == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: cannot resolve listen address \"%.64s\": %s", host,
                        gai_strerror(e));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return MCX_OK;
}

static void free_server(kms_server *srv)
{
    if (srv == NULL)
        return;
    for (size_t i = 0; i < srv->pool_n; i++)
        mcx_store_close(srv->pool[i]);
    free(srv->pool);
    mcx_token_verifier_free(srv->verifier);
    mcx_secure_free(srv->tls_cert);
    mcx_secure_free(srv->tls_key);
    pthread_mutex_destroy(&srv->pool_lock);
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
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "KMS server: libmicrohttpd was built without TLS");
    kms_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS server: out of memory");
    srv->cfg = cfg;
    srv->kms = kms;
    pthread_mutex_init(&srv->pool_lock, NULL);

    mcx_status rc;
    char *jwks = NULL;
    if (cfg->jwks_file != NULL)
        MCX_GUARD_GOTO(rc, read_file(cfg->jwks_file, 256 * 1024, &jwks, NULL), fail);
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
    pool_put(srv, st);
    if (rc != MCX_OK)
        goto fail;

    MCX_GUARD_GOTO(rc, read_file(cfg->tls_cert, 65535, &srv->tls_cert, NULL), fail);
    MCX_GUARD_GOTO(rc, read_file(cfg->tls_key, 65535, &srv->tls_key, NULL), fail);
    struct sockaddr_storage ss;
    int v6 = 0;
    MCX_GUARD_GOTO(rc, parse_listen(cfg->listen, &ss, &v6), fail);
    unsigned flags = MHD_USE_TLS | MHD_USE_AUTO_INTERNAL_THREAD;
    if (v6)
        flags |= MHD_USE_IPv6;
    uint16_t port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    srv->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, access_cb, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key, MHD_OPTION_HTTPS_MEM_CERT, srv->tls_cert,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)(cfg->threads ? cfg->threads : 2), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEM, MHD_OPTION_URI_LOG_CALLBACK,
        uri_log_cb, srv, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        rc = MCX_FAIL(MCX_E_IO,
                      "KMS server: cannot listen on %s with TLS (address in use, or a bad "
                      "certificate or key)",
                      cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di != NULL ? di->port : port;
    *out = srv;
    return MCX_OK;
fail:
    free_server(srv);
    return rc;
}

uint16_t kms_server_port(const kms_server *srv)
{
    return srv != NULL ? srv->port : 0;
}

void kms_server_stop(kms_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon);
    free_server(srv);
}
