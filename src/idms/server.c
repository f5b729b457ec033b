/* The IdMS HTTPS server: libmicrohttpd wiring (TLS, thread pool, bind address, limits), routing,
 * per-request memory, store connections per worker, signing-key reloads, and one structured log
 * line per request (never a password, code or token: the path is logged without its query). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
#define PATH_MAX_IDMS      256

typedef struct server_priv {
    char *discovery;
} server_priv;

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
    MCX_GUARD(httpd_pool_get(&srv->pool, &st));
    mcx_status rc = reload_keys_with(srv, st);
    httpd_pool_put(&srv->pool, st);
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
        if (httpd_pool_get(&srv->pool, &st) == MCX_OK) {
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
            httpd_pool_put(&srv->pool, st);
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
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: cannot create a response");
    /* HTTPS only, for a year (RFC 6797 §6.1); no includeSubDomains: the IdMS does not speak for
     * its domain's other hosts */
    static const char *const std[] = {"X-Content-Type-Options", "nosniff",
                                      "Strict-Transport-Security", "max-age=31536000", NULL};
    return httpd_queue(r->http, status, resp, content_type, std, headers);
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
    return httpd_header(r->http, name);
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
    return httpd_is_get(r->http);
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
    mcx_status rc = httpd_pool_get(&r->srv->pool, &r->st);
    if (rc != MCX_OK)
        return rc;
    rc = fn(r);
    httpd_pool_put(&r->srv->pool, r->st);
    r->st = NULL;
    return rc;
}

static mcx_status dispatch(idms_req *r)
{
    if (r->http->body_too_big)
        return respond_json_status(r, 413, "request_too_large", NULL);
    if (strcmp(r->http->path, "/health") == 0) {
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        static const char ok[] = "{\"status\":\"ok\"}";
        static const char *const h[] = {"Cache-Control", "no-store", NULL};
        return idms_respond(r, 200, "application/json", ok, sizeof ok - 1, h);
    }
    if (strcmp(r->http->path, "/.well-known/openid-configuration") == 0) {
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        const char *d = ((server_priv *)r->srv->priv)->discovery;
        static const char *const h[] = {"Cache-Control", "public, max-age=300", NULL};
        return idms_respond(r, 200, "application/json", d, strlen(d), h);
    }
    if (strcmp(r->http->path, "/jwks") == 0) {
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        return handle_jwks(r);
    }
    if (strcmp(r->http->path, "/authorize") == 0) {
        if (is_get(r))
            return with_store(r, idms_handle_authorize_get);
        if (strcmp(r->method, "POST") == 0)
            return with_store(r, idms_handle_authorize_post);
        return method_not_allowed(r, "GET, HEAD, POST");
    }
    if (strcmp(r->http->path, "/token") == 0) {
        if (strcmp(r->method, "POST") == 0)
            return with_store(r, idms_handle_token);
        return method_not_allowed(r, "POST");
    }
    return respond_json_status(r, 404, "not_found", NULL);
}

/* ---- The shared daemon's hooks (httpd_internal.h) ------------------------------------------- */

/* The handlers' view of a request. */
static idms_req view_of(httpd_request *h)
{
    idms_req r = {0};
    r.http = h;
    r.srv = h->app;
    r.method = h->method;
    r.query = h->query;
    r.addr = h->addr;
    r.body = h->body;
    r.body_len = h->body_len;
    r.now = h->now;
    return r;
}

static mcx_status on_dispatch(httpd_request *h)
{
    idms_req r = view_of(h);
    return dispatch(&r);
}

static mcx_status on_too_large(httpd_request *h)
{
    idms_req r = view_of(h);
    return respond_json_status(&r, 413, "request_too_large", NULL);
}

static mcx_status on_failed(httpd_request *h, mcx_status rc)
{
    idms_req r = view_of(h);
    return respond_json_status(&r, rc == MCX_E_NOMEM ? 503 : 500, "server_error", NULL);
}

/* ---- Start and stop -------------------------------------------------------------------------- */

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
    httpd_pool_free(&srv->pool);
    if (srv->keys != NULL)
        idms_keyset_free(srv->keys);
    if (srv->partner_verifiers != NULL) {
        for (size_t i = 0; i < srv->cfg->n_partners; i++)
            mcx_token_verifier_free(srv->partner_verifiers[i]);
        free(srv->partner_verifiers);
    }
    free(srv->dummy_hash);
    if (priv != NULL) {
        free(priv->discovery);
        free(priv);
    }
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
    MCX_GUARD(httpd_require_tls("IdMS"));
    mcx_idms *srv = calloc(1, sizeof *srv);
    server_priv *priv = calloc(1, sizeof *priv);
    if (srv == NULL || priv == NULL) {
        free(srv);
        free(priv);
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    }
    srv->cfg = cfg;
    srv->priv = priv;
    httpd_pool_init(&srv->pool, cfg->store, 0);
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
    httpd_pool_put(&srv->pool, st);
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

    httpd_config *hc = &srv->http_cfg;
    hc->what = "IdMS";
    hc->server_name = "IdMS";
    hc->log_prefix = "mcx-idms";
    hc->listen = cfg->listen;
    hc->tls_cert = cfg->tls_cert;
    hc->tls_key = cfg->tls_key;
    hc->path_max = PATH_MAX_IDMS;
    hc->request_size = sizeof(httpd_request);
    hc->max_body = IDMS_MAX_BODY;
    hc->early_413 = 1;
    hc->threads = cfg->threads;
    hc->connections = CONNECTION_LIMIT;
    hc->per_ip = cfg->per_ip_connections;
    hc->timeout = CONNECTION_TIMEOUT;
    hc->conn_memory = CONNECTION_MEM;
    hc->log_requests = cfg->log_requests;
    hc->log_style = HTTPD_LOG_PLAIN;
    hc->pool = &srv->pool;
    hc->app = srv;
    hc->dispatch = on_dispatch;
    hc->too_large = on_too_large;
    hc->failed = on_failed;
    MCX_GUARD_GOTO(rc, httpd_start(&srv->http, hc), fail);
    if (pthread_create(&srv->watcher, NULL, watcher_main, srv) == 0)
        srv->watcher_started = 1;
    *out = srv;
    return MCX_OK;
fail:
    free_server(srv);
    return rc;
}

uint16_t mcx_idms_port(const mcx_idms *srv)
{
    return srv != NULL ? httpd_port(srv->http) : 0;
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
    httpd_stop(srv->http);
    free_server(srv);
}
