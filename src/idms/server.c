/* The IdMS HTTPS server: libmicrohttpd wiring (TLS, thread pool, bind address, limits), routing,
 * per-request memory, store connections per worker, signing-key reloads, and one structured log
 * line per request (never a password, code or token: the path is logged without its query). */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/error_internal.h"
#include "idms/form_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

#define KEY_CHECK_SECONDS  5
#define KEY_RELOAD_SECONDS 60
#define HOUSEKEEP_SECONDS  60
#define CONNECTION_LIMIT   1000
#define CONNECTION_TIMEOUT 30
#define CONNECTION_MEM     (64 * 1024)
/* GnuTLS priorities: TLS 1.3 and 1.2 only (RFC 8996 deprecates 1.0 and 1.1; RFC 9325 §3.1.1),
 * safe renegotiation required (RFC 5746). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SAFE_RENEGOTIATION"

/* libmicrohttpd keeps the TLS key and certificate text for the daemon's life. */
typedef struct tls_mem {
    char *cert;
    char *key;
    size_t key_len;
} tls_mem;

typedef struct server_priv {
    tls_mem tls;
    char *discovery;
} server_priv;

/* ---- Store connections: one per worker at a time, reused ------------------------------------ */

static mcx_status pool_get(mcx_idms *srv, mcx_store **out)
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

static void pool_put(mcx_idms *srv, mcx_store *st)
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

/* ---- Signing keys ---------------------------------------------------------------------------- */

idms_keyset *idms_keys_acquire(mcx_idms *srv)
{
    pthread_mutex_lock(&srv->keys_lock);
    idms_keyset *ks = srv->keys;
    ks->refs++;
    pthread_mutex_unlock(&srv->keys_lock);
    return ks;
}

void idms_keys_release(mcx_idms *srv, idms_keyset *ks)
{
    if (ks == NULL)
        return;
    pthread_mutex_lock(&srv->keys_lock);
    int last = --ks->refs == 0;
    pthread_mutex_unlock(&srv->keys_lock);
    if (last)
        idms_keyset_free(ks);
}

static int64_t max_token_ttl(const mcx_idms_config *cfg)
{
    return cfg->access_token_ttl > cfg->id_token_ttl ? cfg->access_token_ttl : cfg->id_token_ttl;
}

static mcx_status reload_keys_with(mcx_idms *srv, mcx_store *st)
{
    idms_keyset *ks = NULL;
    MCX_GUARD(idms_keys_load(st, (int64_t)time(NULL), max_token_ttl(srv->cfg), &ks));
    /* Access tokens this IdMS issued, checked against its own published keys (token exchange). */
    mcx_token_verifier_config vc = {0};
    vc.issuer = srv->cfg->issuer;
    vc.audience = idms_audience(srv->cfg);
    vc.kind = MCX_TOKEN_ACCESS;
    vc.jwks_json = ks->jwks;
    mcx_status rc = mcx_token_verifier_new(&ks->own_verifier, &vc);
    if (rc != MCX_OK) {
        idms_keyset_free(ks);
        return rc;
    }
    pthread_mutex_lock(&srv->keys_lock);
    idms_keyset *old = srv->keys;
    srv->keys = ks;
    snprintf(srv->active_kid, sizeof srv->active_kid, "%s", mcx_signing_key_kid(ks->active));
    pthread_mutex_unlock(&srv->keys_lock);
    idms_keys_release(srv, old);
    return MCX_OK;
}

mcx_status mcx_idms_reload_keys(mcx_idms *srv)
{
    if (srv == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL server");
    mcx_store *st = NULL;
    MCX_GUARD(pool_get(srv, &st));
    mcx_status rc = reload_keys_with(srv, st);
    pool_put(srv, st);
    return rc;
}

/* Every few seconds: a new active key (mcx idms key rotate from another process) is picked up;
 * once a minute the key set is rebuilt (retired keys age out of /jwks) and expired login pages,
 * codes and exchange records are deleted. */
static void *watcher_main(void *arg)
{
    mcx_idms *srv = arg;
    int64_t last_reload = (int64_t)time(NULL), last_housekeep = 0;
    pthread_mutex_lock(&srv->stop_lock);
    while (!srv->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += KEY_CHECK_SECONDS;
        pthread_cond_timedwait(&srv->stop_cond, &srv->stop_lock, &ts);
        if (srv->stopping)
            break;
        pthread_mutex_unlock(&srv->stop_lock);
        int64_t now = (int64_t)time(NULL);
        mcx_store *st = NULL;
        if (pool_get(srv, &st) == MCX_OK) {
            char kid[128];
            pthread_mutex_lock(&srv->keys_lock);
            char cur[128];
            snprintf(cur, sizeof cur, "%s", srv->active_kid);
            pthread_mutex_unlock(&srv->keys_lock);
            if (idms_keys_active_kid(st, kid, sizeof kid) == MCX_OK &&
                ((kid[0] != '\0' && strcmp(kid, cur) != 0) ||
                 now - last_reload >= KEY_RELOAD_SECONDS)) {
                if (reload_keys_with(srv, st) == MCX_OK)
                    last_reload = now;
                else
                    fprintf(stderr, "mcx-idms: key reload failed: %s\n", mcx_last_error());
            }
            if (now - last_housekeep >= HOUSEKEEP_SECONDS) {
                last_housekeep = now;
                if (idms_exec(st, "DELETE FROM login_requests WHERE expires_at < ?", NULL, "i",
                              now) != MCX_OK ||
                    idms_exec(st, "DELETE FROM codes WHERE expires_at < ?", NULL, "i",
                              now - 86400) != MCX_OK ||
                    idms_exec(st, "DELETE FROM exchanged_jti WHERE expires_at < ?", NULL, "i",
                              now - 3600) != MCX_OK)
                    fprintf(stderr, "mcx-idms: housekeeping failed: %s\n", mcx_last_error());
            }
            pool_put(srv, st);
        }
        pthread_mutex_lock(&srv->stop_lock);
    }
    pthread_mutex_unlock(&srv->stop_lock);
    return NULL;
}

/* ---- Responses ------------------------------------------------------------------------------- */

mcx_status idms_respond(idms_req *r, unsigned status, const char *content_type, const char *body,
                        size_t len, const char *const *headers)
{
    if (r->responded)
        return MCX_FAIL(MCX_E_INTERNAL, "IdMS: second response to one request");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: cannot create a response");
    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* HTTPS only, for a year (RFC 6797 §6.1); no includeSubDomains: the IdMS does not speak for
     * its domain's other hosts */
    MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return MCX_FAIL(MCX_E_IO, "IdMS: cannot queue the response");
    r->status = status;
    r->responded = 1;
    return MCX_OK;
}

mcx_status idms_respond_json(idms_req *r, unsigned status, json_t *obj, int no_store)
{
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (text == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    /* RFC 6749 §5.1: token responses must not be cached */
    static const char *const no_store_headers[] = {"Cache-Control", "no-store", "Pragma",
                                                   "no-cache", NULL};
    mcx_status rc = idms_respond(r, status, "application/json", text, strlen(text),
                                 no_store ? no_store_headers : NULL);
    mcx_memzero(text, strlen(text)); /* may hold tokens */
    free(text);
    return rc;
}

mcx_status idms_respond_oauth_error(idms_req *r, unsigned status, const char *error,
                                    const char *description)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(error));
    /* never raw request bytes: RFC 6749 §5.2's character set only */
    char *desc = idms_printable(description, 1);
    if (desc != NULL)
        json_object_set_new(o, "error_description", json_string(desc));
    free(desc);
    mcx_status rc = idms_respond_json(r, status, o, 1);
    json_decref(o);
    return rc;
}

static const char *const html_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options",
    "DENY",
    "Cache-Control",
    "no-store",
    "Referrer-Policy",
    "no-referrer",
    NULL};

mcx_status idms_respond_html(idms_req *r, unsigned status, const char *html)
{
    return idms_respond(r, status, "text/html; charset=utf-8", html, strlen(html), html_headers);
}

/* html_headers followed by extra (NULL-terminated pairs, at most 4). */
static mcx_status respond_html_with(idms_req *r, unsigned status, const char *html,
                                    const char *const *extra)
{
    const char *all[32];
    size_t k = 0;
    for (size_t i = 0; html_headers[i] != NULL; i += 2) {
        all[k++] = html_headers[i];
        all[k++] = html_headers[i + 1];
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && k + 3 < sizeof all / sizeof all[0];
         i += 2) {
        all[k++] = extra[i];
        all[k++] = extra[i + 1];
    }
    all[k] = NULL;
    return idms_respond(r, status, "text/html; charset=utf-8", html, strlen(html), all);
}

/* The CSP source expression (CSP3 §2.3.1) that admits redirect_uri: "scheme://host[:port]" for
 * http(s), "scheme:" for a native app's private-use scheme (RFC 8252 §7.1). 0 when the URI holds
 * anything outside the characters such an expression may carry. */
static int csp_source_of(const char *redirect_uri, char *out, size_t cap)
{
    const char *colon = strchr(redirect_uri, ':');
    if (colon == NULL || colon == redirect_uri)
        return 0;
    size_t n;
    if (strncmp(colon, "://", 3) == 0) {
        n = (size_t)(colon + 3 - redirect_uri);
        n += strcspn(redirect_uri + n, "/?#");
    } else {
        n = (size_t)(colon + 1 - redirect_uri);
    }
    if (n + 1 > cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)redirect_uri[i];
        if (!(isalnum(c) || c == ':' || c == '/' || c == '.' || c == '-' || c == '+' || c == '[' ||
              c == ']'))
            return 0;
    }
    memcpy(out, redirect_uri, n);
    out[n] = '\0';
    return 1;
}

mcx_status idms_respond_login_page(idms_req *r, unsigned status, const char *html,
                                   const char *redirect_uri)
{
    /* Browsers apply form-action to the redirects that follow a form post (CSP3 §6.3.1.1): the
     * successful login's 302 goes to the client's registered redirect URI, so its origin must be
     * admitted beside 'self' or the browser stops on the login page. */
    char source[512];
    char csp[700];
    if (csp_source_of(redirect_uri, source, sizeof source))
        snprintf(csp, sizeof csp,
                 "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' %s", source);
    else /* never without form-action: the form must not post anywhere else */
        snprintf(csp, sizeof csp,
                 "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    const char *headers[] = {"Content-Security-Policy", csp, NULL, NULL};
    /* the rest as every HTML page */
    const char *all[16];
    size_t k = 0;
    all[k++] = headers[0];
    all[k++] = headers[1];
    for (size_t i = 2; html_headers[i] != NULL && k + 2 < sizeof all / sizeof all[0]; i += 2) {
        all[k++] = html_headers[i];
        all[k++] = html_headers[i + 1];
    }
    all[k] = NULL;
    return idms_respond(r, status, "text/html; charset=utf-8", html, strlen(html), all);
}

mcx_status idms_respond_html_error(idms_req *r, unsigned status, const char *title,
                                   const char *message)
{
    return idms_respond_html_error_with(r, status, title, message, NULL);
}

mcx_status idms_respond_html_error_with(idms_req *r, unsigned status, const char *title,
                                        const char *message, const char *const *headers)
{
    idms_buf b = {0};
    idms_buf_add(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    idms_buf_add_html(&b, title);
    idms_buf_add(&b, "</title><style>body{font-family:sans-serif;max-width:30em;margin:3em auto;"
                     "padding:0 1em}h1{font-size:1.4em}</style></head><body><h1>");
    idms_buf_add_html(&b, title);
    idms_buf_add(&b, "</h1><p class=\"error\" role=\"alert\">");
    idms_buf_add_html(&b, message);
    idms_buf_add(&b, "</p></body></html>\n");
    mcx_status rc = b.oom ? MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory")
                          : respond_html_with(r, status, b.p, headers);
    idms_buf_free(&b);
    return rc;
}

const char *idms_header(idms_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- Routing --------------------------------------------------------------------------------- */

static mcx_status respond_json_status(idms_req *r, unsigned status, const char *error,
                                      const char *const *headers)
{
    char body[128];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", error);
    return idms_respond(r, status, "application/json", body, (size_t)n, headers);
}

static mcx_status method_not_allowed(idms_req *r, const char *allow)
{
    const char *h[] = {"Allow", allow, NULL};
    return respond_json_status(r, 405, "method_not_allowed", h);
}

static int is_get(const idms_req *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

static mcx_status handle_jwks(idms_req *r)
{
    idms_keyset *ks = idms_keys_acquire(r->srv);
    static const char *const h[] = {"Cache-Control", "public, max-age=60", NULL};
    mcx_status rc = idms_respond(r, 200, "application/jwk-set+json", ks->jwks, strlen(ks->jwks), h);
    idms_keys_release(r->srv, ks);
    return rc;
}

static mcx_status with_store(idms_req *r, mcx_status (*fn)(idms_req *))
{
    mcx_status rc = pool_get(r->srv, &r->st);
    if (rc != MCX_OK)
        return rc;
    rc = fn(r);
    pool_put(r->srv, r->st);
    r->st = NULL;
    return rc;
}

static mcx_status dispatch(idms_req *r)
{
    if (r->body_too_big)
        return respond_json_status(r, 413, "request_too_large", NULL);
    if (strcmp(r->path, "/health") == 0) {
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        static const char ok[] = "{\"status\":\"ok\"}";
        static const char *const h[] = {"Cache-Control", "no-store", NULL};
        return idms_respond(r, 200, "application/json", ok, sizeof ok - 1, h);
    }
    if (strcmp(r->path, "/.well-known/openid-configuration") == 0) {
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        const char *d = ((server_priv *)r->srv->priv)->discovery;
        static const char *const h[] = {"Cache-Control", "public, max-age=300", NULL};
        return idms_respond(r, 200, "application/json", d, strlen(d), h);
    }
    if (strcmp(r->path, "/jwks") == 0) {
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        return handle_jwks(r);
    }
    if (strcmp(r->path, "/authorize") == 0) {
        if (is_get(r))
            return with_store(r, idms_handle_authorize_get);
        if (strcmp(r->method, "POST") == 0)
            return with_store(r, idms_handle_authorize_post);
        return method_not_allowed(r, "GET, HEAD, POST");
    }
    if (strcmp(r->path, "/token") == 0) {
        if (strcmp(r->method, "POST") == 0)
            return with_store(r, idms_handle_token);
        return method_not_allowed(r, "POST");
    }
    return respond_json_status(r, 404, "not_found", NULL);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    idms_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->srv = cls;
    r->started = mono_ms();
    r->uri = strdup(uri != NULL ? uri : "");
    if (r->uri == NULL) {
        free(r);
        return NULL;
    }
    char *q = strchr(r->uri, '?');
    size_t plen = q != NULL ? (size_t)(q - r->uri) : strlen(r->uri);
    if (q != NULL)
        r->query = q + 1;
    /* The path as logged and routed: printable ASCII only, so that a log line cannot be forged */
    size_t o = 0;
    for (size_t i = 0; i < plen && o + 1 < sizeof r->path; i++) {
        unsigned char c = (unsigned char)r->uri[i];
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
    idms_req *r = *con_cls;
    if (r == NULL)
        return MHD_NO;
    if (r->conn == NULL) {
        /* first call: headers only */
        r->conn = conn;
        r->method = method;
        client_address(conn, r->addr, sizeof r->addr);
        r->now = (int64_t)time(NULL);
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > IDMS_MAX_BODY) {
            /* refused before reading the body; libmicrohttpd then closes the connection */
            return respond_json_status(r, 413, "request_too_large", NULL) == MCX_OK ? MHD_YES
                                                                                    : MHD_NO;
        }
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES; /* 413 already queued; libmicrohttpd discards the rest */
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->body_too_big || r->body_len + n > IDMS_MAX_BODY) {
            r->body_too_big = 1;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            /* grown by hand, not realloc: the old buffer may hold a password and realloc would
             * free it unwiped */
            size_t cap = r->body_cap != 0 ? r->body_cap : 1024;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            char *nb = malloc(cap);
            if (nb == NULL)
                return MHD_NO;
            if (r->body != NULL) {
                memcpy(nb, r->body, r->body_len);
                mcx_memzero(r->body, r->body_cap);
                free(r->body);
            }
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
        fprintf(stderr, "mcx-idms: %s %s failed: %s (%s)\n", r->method, r->path,
                mcx_status_name(rc), mcx_last_error());
        if (!r->responded &&
            respond_json_status(r, rc == MCX_E_NOMEM ? 503 : 500, "server_error", NULL) != MCX_OK)
            return MHD_NO;
    }
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    mcx_idms *srv = cls;
    idms_req *r = *con_cls;
    *con_cls = NULL;
    if (r == NULL)
        return;
    if (srv->cfg->log_requests && r->method != NULL) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        char line[512];
        int n =
            snprintf(line, sizeof line,
                     "mcx-idms: time=%s method=%s path=%s status=%u addr=%s duration_ms=%.3f%s\n",
                     ts, r->method, r->path, r->status, r->addr, mono_ms() - r->started,
                     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
        if (n > 0) {
            size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
            ssize_t w = write(STDERR_FILENO, line, len);
            (void)w;
        }
    }
    if (r->body != NULL) {
        mcx_memzero(r->body, r->body_cap); /* a login form holds a password */
        free(r->body);
    }
    if (r->uri != NULL) {
        mcx_memzero(r->uri, strlen(r->uri));
        free(r->uri);
    }
    free(r);
}

/* ---- Start and stop -------------------------------------------------------------------------- */

static mcx_status read_pem(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return MCX_FAIL(MCX_E_IO, "IdMS: cannot read %s: %s", path, strerror(errno));
    char *buf = mcx_secure_alloc(65536);
    size_t n = buf != NULL ? fread(buf, 1, 65535, f) : 0;
    int big = buf != NULL && !feof(f);
    fclose(f);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    if (big || n == 0) {
        mcx_secure_free(buf);
        return MCX_FAIL(MCX_E_IO, "IdMS: %s is empty or larger than 64 KiB", path);
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
            return MCX_FAIL(MCX_E_ARG, "IdMS: listen \"%.64s\" is not [ADDR]:PORT", listen);
        memcpy(host, listen + 1, (size_t)(e - listen - 1));
        host[e - listen - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(listen, ':');
        if (c == NULL || (size_t)(c - listen) >= sizeof host)
            return MCX_FAIL(MCX_E_ARG, "IdMS: listen \"%.64s\" is not ADDR:PORT", listen);
        memcpy(host, listen, (size_t)(c - listen));
        host[c - listen] = '\0';
        port = c + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
        return MCX_FAIL(MCX_E_ARG, "IdMS: bad port in listen \"%.64s\"", listen);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int e = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
    if (e != 0 || res == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: cannot resolve listen address \"%.64s\": %s", host,
                        gai_strerror(e));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return MCX_OK;
}

static char *build_discovery(const mcx_idms_config *cfg)
{
    json_t *d = json_object();
    char url[1024];
    json_object_set_new(d, "issuer", json_string(cfg->issuer));
    snprintf(url, sizeof url, "%s/authorize", cfg->issuer);
    json_object_set_new(d, "authorization_endpoint", json_string(url));
    snprintf(url, sizeof url, "%s/token", cfg->issuer);
    json_object_set_new(d, "token_endpoint", json_string(url));
    snprintf(url, sizeof url, "%s/jwks", cfg->issuer);
    json_object_set_new(d, "jwks_uri", json_string(url));
    json_object_set_new(d, "response_types_supported", json_pack("[s]", "code"));
    json_object_set_new(d, "response_modes_supported", json_pack("[s]", "query"));
    json_object_set_new(d, "grant_types_supported",
                        json_pack("[sss]", "authorization_code", "refresh_token",
                                  "urn:ietf:params:oauth:grant-type:token-exchange"));
    json_object_set_new(d, "code_challenge_methods_supported", json_pack("[s]", "S256"));
    /* openid and every MCX scope in both naming styles (FACTS.md §13) */
    static const char *const scopes[] = {
        MCX_SCOPE_OPENID,
        MCX_SCOPE_PTT_SERVICE,
        MCX_SCOPE_PTT_KMS,
        MCX_SCOPE_PTT_CMS,
        MCX_SCOPE_PTT_GMS,
        MCX_SCOPE_VIDEO_SERVICE,
        MCX_SCOPE_VIDEO_KMS,
        MCX_SCOPE_VIDEO_CMS,
        MCX_SCOPE_VIDEO_GMS,
        MCX_SCOPE_DATA_SERVICE,
        MCX_SCOPE_DATA_KMS,
        MCX_SCOPE_DATA_CMS,
        MCX_SCOPE_DATA_GMS,
        MCX_SCOPE_GMS_ADMIN,
        MCX_SCOPE_GMS_DISPATCHER,
        "3gpp:mcptt:ptt_server",
        "3gpp:mcptt:key_management_server",
        "3gpp:mcptt:config_management_server",
        "3gpp:mcptt:group_management_server",
        "3gpp:mcvideo:video_server",
        "3gpp:mcvideo:key_management_server",
        "3gpp:mcvideo:config_management_server",
        "3gpp:mcvideo:group_management_server",
        "3gpp:mcdata:data_server",
        "3gpp:mcdata:key_management_server",
        "3gpp:mcdata:config_management_server",
        "3gpp:mcdata:group_management_server",
    };
    json_t *sc = json_array();
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++)
        if (mcx_scope_canonical(scopes[i]) != NULL) /* only names the scope table knows */
            json_array_append_new(sc, json_string(scopes[i]));
    json_object_set_new(d, "scopes_supported", sc);
    json_object_set_new(d, "subject_types_supported", json_pack("[s]", "public"));
    json_object_set_new(d, "id_token_signing_alg_values_supported", json_pack("[s]", "ES256"));
    json_object_set_new(d, "token_endpoint_auth_methods_supported", json_pack("[s]", "none"));
    json_object_set_new(d, "claims_supported",
                        json_pack("[sssssssssss]", "iss", "sub", "aud", "exp", "iat", "auth_time",
                                  "nonce", "azp", "mcptt_id", "mcvideo_id", "mcdata_id"));
    json_object_set_new(d, "authorization_response_iss_parameter_supported", json_true());
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

static void free_server(mcx_idms *srv)
{
    if (srv == NULL)
        return;
    server_priv *priv = srv->priv;
    for (size_t i = 0; i < srv->pool_n; i++)
        mcx_store_close(srv->pool[i]);
    free(srv->pool);
    if (srv->keys != NULL)
        idms_keyset_free(srv->keys);
    if (srv->partner_verifiers != NULL) {
        for (size_t i = 0; i < srv->cfg->n_partners; i++)
            mcx_token_verifier_free(srv->partner_verifiers[i]);
        free(srv->partner_verifiers);
    }
    free(srv->dummy_hash);
    if (priv != NULL) {
        mcx_secure_free(priv->tls.cert);
        mcx_secure_free(priv->tls.key);
        free(priv->discovery);
        free(priv);
    }
    pthread_mutex_destroy(&srv->pool_lock);
    pthread_mutex_destroy(&srv->keys_lock);
    pthread_mutex_destroy(&srv->stop_lock);
    pthread_cond_destroy(&srv->stop_cond);
    free(srv);
}

mcx_status mcx_idms_start(mcx_idms **out, const mcx_idms_config *cfg)
{
    if (out == NULL || cfg == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    *out = NULL;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "IdMS: libmicrohttpd was built without TLS");
    mcx_idms *srv = calloc(1, sizeof *srv);
    server_priv *priv = calloc(1, sizeof *priv);
    if (srv == NULL || priv == NULL) {
        free(srv);
        free(priv);
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    }
    srv->cfg = cfg;
    srv->priv = priv;
    pthread_mutex_init(&srv->pool_lock, NULL);
    pthread_mutex_init(&srv->keys_lock, NULL);
    pthread_mutex_init(&srv->stop_lock, NULL);
    pthread_cond_init(&srv->stop_cond, NULL);
    idms_password_set_costs(cfg->argon2_t_cost, cfg->argon2_m_cost_kib);

    mcx_status rc;
    mcx_store *st = NULL;
    MCX_GUARD_GOTO(rc, mcx_store_open(&st, cfg->store), fail);
    rc = idms_schema_migrate(st);
    if (rc == MCX_OK)
        rc = reload_keys_with(srv, st);
    pool_put(srv, st);
    if (rc != MCX_OK)
        goto fail;
    /* Unknown users are checked against this hash so that the time taken does not reveal which
     * user names exist. */
    MCX_GUARD_GOTO(rc, idms_password_hash("mcx-idms: no such user", &srv->dummy_hash), fail);

    srv->partner_verifiers = calloc(cfg->n_partners + 1, sizeof *srv->partner_verifiers);
    if (srv->partner_verifiers == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_partners; i++) {
        const idms_partner *p = &cfg->partners[i];
        mcx_token_verifier_config vc = {0};
        vc.issuer = p->issuer;
        vc.audience = cfg->issuer; /* the partner's ID token names this IdMS (RFC 8693 §2.1) */
        vc.kind = MCX_TOKEN_ID;
        vc.jwks_json = p->jwks_json;
        vc.jwks_uri = p->jwks_uri;
        vc.ca_file = p->ca_file;
        MCX_GUARD_GOTO(rc, mcx_token_verifier_new(&srv->partner_verifiers[i], &vc), fail);
    }
    priv->discovery = build_discovery(cfg);
    if (priv->discovery == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto fail;
    }

    MCX_GUARD_GOTO(rc, read_pem(cfg->tls_cert, &priv->tls.cert, NULL), fail);
    MCX_GUARD_GOTO(rc, read_pem(cfg->tls_key, &priv->tls.key, &priv->tls.key_len), fail);
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
        MHD_OPTION_HTTPS_MEM_KEY, priv->tls.key, MHD_OPTION_HTTPS_MEM_CERT, priv->tls.cert,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->per_ip_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEM, MHD_OPTION_URI_LOG_CALLBACK,
        uri_log_cb, srv, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        rc = MCX_FAIL(MCX_E_IO,
                      "IdMS: cannot listen on %s with TLS (address in use, or a bad certificate "
                      "or key)",
                      cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di != NULL ? di->port : port;
    if (pthread_create(&srv->watcher, NULL, watcher_main, srv) == 0)
        srv->watcher_started = 1;
    *out = srv;
    return MCX_OK;
fail:
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon);
    free_server(srv);
    return rc;
}

uint16_t mcx_idms_port(const mcx_idms *srv)
{
    return srv != NULL ? srv->port : 0;
}

void mcx_idms_stop(mcx_idms *srv)
{
    if (srv == NULL)
        return;
    if (srv->watcher_started) {
        pthread_mutex_lock(&srv->stop_lock);
        srv->stopping = 1;
        pthread_cond_broadcast(&srv->stop_cond);
        pthread_mutex_unlock(&srv->stop_lock);
        pthread_join(srv->watcher, NULL);
    }
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon);
    free_server(srv);
}
