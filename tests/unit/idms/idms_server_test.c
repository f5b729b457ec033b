/* The IdMS server in process: HTTPS on 127.0.0.1 (port 0) with a throwaway certificate, a real
 * SQLite store in a temporary folder, small argon2 costs, driven with libcurl. Covers discovery,
 * JWKS, the login page and its errors, login, the code grant with PKCE, code replay revoking the
 * refresh family, refresh rotation and reuse detection, throttling, disabled users, the RFC 8693
 * exchange between two servers with a deny list, key rotation, and the HTTP error cases. */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <curl/curl.h>
#include <jansson.h>

#include "idms/idms_internal.h"
#include "mcxsec/idms.h"
#include "mcxsec/store.h"
#include "mcxsec/token.h"
#include "test.h"

#define ISS_A    "https://idms-a.test"
#define ISS_B    "https://idms-b.test"
#define CLIENT   "mcx-cli"
#define CLIENT2  "other-cli"
#define REDIRECT "http://127.0.0.1/callback"
#define VERIFIER "dBjftJeZ4CVP-mJ92K9xKHqdH4OYGzRFdLAXD1sNqvQw"

static char dir[] = "/tmp/idms_server_XXXXXX";
static char cert[300];
static mcx_idms_config *cfg_a, *cfg_b;
static mcx_idms *srv_a, *srv_b;
static char base_a[64], base_b[64];
static char challenge[IDMS_TOKEN_CHARS + 1];

static int write_file(const char *path, const char *text);

typedef struct resp {
    long status;
    char *body;
    size_t len;
    char location[4096];
    char cache_control[128];
    char allow[64];
    char csp[1024];
    char hsts[128];
    char retry_after[32];
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + r->len, p, sz * n);
    r->body = nb;
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
        const char *v = line + nl + 1;
        while (*v == ' ')
            v++;
        size_t l = n - (size_t)(v - line);
        while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n'))
            l--;
        snprintf(out, cap, "%.*s", (int)l, v);
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    header_value(p, sz * n, "Location", r->location, sizeof r->location);
    header_value(p, sz * n, "Cache-Control", r->cache_control, sizeof r->cache_control);
    header_value(p, sz * n, "Allow", r->allow, sizeof r->allow);
    header_value(p, sz * n, "Content-Security-Policy", r->csp, sizeof r->csp);
    header_value(p, sz * n, "Strict-Transport-Security", r->hsts, sizeof r->hsts);
    header_value(p, sz * n, "Retry-After", r->retry_after, sizeof r->retry_after);
    return sz * n;
}

/* One request; body NULL for GET. */
static void http(const char *method, const char *url, const char *ctype, const char *body,
                 size_t body_len, resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, cert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    struct curl_slist *h = NULL;
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
        char ct[200];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype != NULL ? ctype : "");
        h = curl_slist_append(h, ct);
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "curl %s %s: %s\n", method, url, curl_easy_strerror(rc));
    CHECK(rc == CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body == NULL)
        r->body = calloc(1, 1);
}

static void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

static void get(const char *base, const char *path, resp *r)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", base, path);
    http("GET", url, NULL, NULL, 0, r);
}

static void post_form(const char *base, const char *path, const char *body, resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    http("POST", url, "application/x-www-form-urlencoded", body, strlen(body), r);
}

static json_t *body_json(const resp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    CHECK(j != NULL);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* The value of a query parameter in a Location (first match), into out. */
static int query_param(const char *loc, const char *name, char *out, size_t cap)
{
    const char *q = strchr(loc, '?');
    if (q == NULL)
        return 0;
    idms_form f;
    if (idms_form_parse(q + 1, strlen(q + 1), &f) != MCX_OK)
        return 0;
    const char *v = idms_form_get(&f, name);
    if (v != NULL)
        snprintf(out, cap, "%s", v);
    idms_form_free(&f);
    return v != NULL;
}

static mcx_store *store_a(void)
{
    mcx_store *st = NULL;
    CHECK_OK(mcx_store_open(&st, mcx_idms_config_store_url(cfg_a)));
    return st;
}

/* GET the login page and return the login_request id. */
static int login_page(const char *state, char *id, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback"
             "&scope=openid+3gpp%%3Amc%%3Aptt_service+3gpp%%3Amcptt%%3Akey_management_server"
             "&state=%s&nonce=n-0S6_WzA2Mj&code_challenge=%s&code_challenge_method=S256",
             state, challenge);
    resp r;
    get(base_a, path, &r);
    CHECK(r.status == 200);
    const char *m = strstr(r.body, "name=\"login_request\" value=\"");
    int ok = m != NULL;
    if (ok)
        snprintf(id, cap, "%.43s", m + strlen("name=\"login_request\" value=\""));
    resp_free(&r);
    return ok;
}

static void login_post(const char *id, const char *user, const char *pw, resp *r)
{
    char body[512];
    snprintf(body, sizeof body, "login_request=%s&username=%s&password=%s", id, user, pw);
    post_form(base_a, "/authorize", body, r);
}

static void token_code(const char *code, const char *verifier, resp *r)
{
    char body[512];
    snprintf(body, sizeof body,
             "grant_type=authorization_code&code=%s&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%"
             "2Fcallback&client_id=" CLIENT "&code_verifier=%s",
             code, verifier);
    post_form(base_a, "/token", body, r);
}

static void token_refresh(const char *rt, resp *r)
{
    char body[256];
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s&client_id=" CLIENT, rt);
    post_form(base_a, "/token", body, r);
}

static void expect_error(const resp *r, long status, const char *error)
{
    CHECK(r->status == status);
    json_t *j = body_json(r);
    if (strcmp(jstr(j, "error"), error) != 0)
        fprintf(stderr, "expected %s, got %s\n", error, r->body);
    CHECK(strcmp(jstr(j, "error"), error) == 0);
    json_decref(j);
}

static mcx_token_verifier *verifier_for(const char *base, const char *iss, const char *aud,
                                        mcx_token_kind kind)
{
    resp r;
    get(base, "/jwks", &r);
    mcx_token_verifier_config vc = {0};
    vc.issuer = iss;
    vc.audience = aud;
    vc.kind = kind;
    vc.jwks_json = r.body;
    mcx_token_verifier *v = NULL;
    CHECK_OK(mcx_token_verifier_new(&v, &vc));
    resp_free(&r);
    return v;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_discovery_jwks_health(void)
{
    resp r;
    get(base_a, "/.well-known/openid-configuration", &r);
    CHECK(r.status == 200);
    json_t *d = body_json(&r);
    CHECK(strcmp(jstr(d, "issuer"), ISS_A) == 0);
    CHECK(strcmp(jstr(d, "token_endpoint"), ISS_A "/token") == 0);
    CHECK(strcmp(jstr(d, "jwks_uri"), ISS_A "/jwks") == 0);
    json_t *m = json_object_get(d, "code_challenge_methods_supported");
    CHECK(json_array_size(m) == 1 && strcmp(json_string_value(json_array_get(m, 0)), "S256") == 0);
    CHECK(json_is_true(json_object_get(d, "authorization_response_iss_parameter_supported")));
    CHECK(json_array_size(json_object_get(d, "scopes_supported")) >= 17);
    json_decref(d);
    resp_free(&r);

    get(base_a, "/jwks", &r);
    CHECK(r.status == 200);
    CHECK(strstr(r.cache_control, "max-age=60") != NULL);
    json_t *k = body_json(&r);
    CHECK(json_array_size(json_object_get(k, "keys")) == 1);
    CHECK(strstr(r.body, "\"d\"") == NULL); /* never the private part */
    json_decref(k);
    resp_free(&r);

    get(base_a, "/health", &r);
    CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
    resp_free(&r);

    /* HSTS (RFC 6797) on JSON, HTML and error answers alike */
    get(base_a, "/.well-known/openid-configuration", &r);
    CHECK(strcmp(r.hsts, "max-age=31536000") == 0);
    resp_free(&r);
    get(base_a, "/authorize?client_id=nobody", &r);
    CHECK(r.status == 400 && strcmp(r.hsts, "max-age=31536000") == 0);
    resp_free(&r);
    post_form(base_a, "/token", "grant_type=password", &r);
    CHECK(r.status == 401 && strcmp(r.hsts, "max-age=31536000") == 0);
    resp_free(&r);
}

/* 1 if the server closes a TCP connection from 127.0.0.1 to port within ms milliseconds (it
 * never sends anything first: TLS waits for the client's hello). */
static int closed_within(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    char c;
    return recv(fd, &c, 1, 0) <= 0;
}

static int connect_local(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void test_per_ip_limit(void)
{
    /* a third server on A's store allowing 2 connections per address */
    char path[400];
    snprintf(path, sizeof path, "%s/c.json", dir);
    write_file(path, "{\"issuer\":\"https://idms-c.test\",\"listen\":\"127.0.0.1:0\","
                     "\"tls_cert\":\"cert.pem\",\"tls_key\":\"key.pem\",\"store\":"
                     "\"sqlite:a.db\",\"threads\":2,\"log_requests\":false,"
                     "\"per_ip_connections\":2}");
    mcx_idms_config *cfg = NULL;
    mcx_idms *srv = NULL;
    CHECK_OK(mcx_idms_config_load(&cfg, path));
    CHECK_OK(mcx_idms_start(&srv, cfg));
    if (srv == NULL) {
        mcx_idms_config_free(cfg);
        return;
    }
    uint16_t port = mcx_idms_port(srv);
    int a = connect_local(port), b = connect_local(port), c = connect_local(port);
    CHECK(a >= 0 && b >= 0 && c >= 0);
    CHECK(closed_within(c, 15000)); /* generous: under valgrind on a loaded machine */
    CHECK(!closed_within(a, 300) && !closed_within(b, 300));
    close(a);
    close(b);
    close(c);
    /* once they are gone, a new one is served */
    usleep(300 * 1000);
    char base[64];
    snprintf(base, sizeof base, "https://127.0.0.1:%u", port);
    resp r;
    get(base, "/health", &r);
    CHECK(r.status == 200);
    resp_free(&r);
    mcx_idms_stop(srv);
    mcx_idms_config_free(cfg);
}

static void test_authorize_page(void)
{
    char path[1024];
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback&scope=openid&state=%%3Cb%%3E"
             "&code_challenge=%s&code_challenge_method=S256",
             challenge);
    resp r;
    get(base_a, path, &r);
    CHECK(r.status == 200);
    CHECK(strstr(r.body, "<form method=\"post\" action=\"/authorize\">") != NULL);
    CHECK(strstr(r.body, "name=\"username\"") != NULL);
    CHECK(strstr(r.body, "type=\"password\" name=\"password\"") != NULL);
    CHECK(strstr(r.body, "name=\"login_request\"") != NULL);
    CHECK(strstr(r.body, "<b>") == NULL); /* the state is never echoed unescaped */
    CHECK(strcmp(r.cache_control, "no-store") == 0);
    /* the page's form may post here and its redirect lead to the client's origin */
    if (strstr(r.csp, "form-action 'self' http://127.0.0.1") == NULL)
        fprintf(stderr, "CSP: %s\n", r.csp);
    CHECK(strstr(r.csp, "form-action 'self' http://127.0.0.1") != NULL);
    CHECK(strstr(r.csp, "default-src 'none'") != NULL);
    resp_free(&r);
    /* a redirect URI that no CSP source expression can name: form-action 'self' still */
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT2
             "&redirect_uri=http%%3A%%2F%%2Fu_1%%40127.0.0.1%%2Fcb&scope=openid"
             "&code_challenge=%s&code_challenge_method=S256",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 200);
    CHECK(strstr(r.csp, "form-action 'self'") != NULL);
    resp_free(&r);

    /* unknown client, wrong redirect URI: a page, never a redirect */
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=evil&redirect_uri=http%%3A%%2F%%2F127.0.0."
             "1%%2Fcallback&scope=openid&code_challenge=%s&code_challenge_method=S256",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 400 && r.location[0] == '\0');
    resp_free(&r);
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT
             "&redirect_uri=https%%3A%%2F%%2Fevil.example%%2F&scope=openid&code_challenge=%s"
             "&code_challenge_method=S256",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 400 && r.location[0] == '\0');
    resp_free(&r);
    /* duplicated parameter: refused as a page */
    get(base_a, "/authorize?client_id=" CLIENT "&client_id=" CLIENT, &r);
    CHECK(r.status == 400 && r.location[0] == '\0');
    resp_free(&r);

    /* good client and redirect, no PKCE: back to the client with invalid_request and state */
    get(base_a,
        "/authorize?response_type=code&client_id=" CLIENT
        "&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=openid&state=s1",
        &r);
    CHECK(r.status == 302);
    char v[256] = "";
    CHECK(strncmp(r.location, REDIRECT "?", strlen(REDIRECT) + 1) == 0);
    CHECK(query_param(r.location, "error", v, sizeof v) && strcmp(v, "invalid_request") == 0);
    CHECK(query_param(r.location, "state", v, sizeof v) && strcmp(v, "s1") == 0);
    CHECK(query_param(r.location, "iss", v, sizeof v) && strcmp(v, ISS_A) == 0);
    resp_free(&r);
    /* an S256 challenge is exactly 43 base64url characters: 44, or a '~', go back at once */
    const char *bad_cc[] = {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMx",
                            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw~cM",
                            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"};
    for (size_t i = 0; i < sizeof bad_cc / sizeof bad_cc[0]; i++) {
        snprintf(path, sizeof path,
                 "/authorize?response_type=code&client_id=" CLIENT
                 "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback&scope=openid"
                 "&code_challenge=%s&code_challenge_method=S256",
                 bad_cc[i]);
        get(base_a, path, &r);
        CHECK(r.status == 302 && query_param(r.location, "error", v, sizeof v) &&
              strcmp(v, "invalid_request") == 0);
        resp_free(&r);
    }
    /* plain PKCE refused; unknown scope; no openid; wrong response_type */
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback&scope=openid"
             "&code_challenge=%s&code_challenge_method=plain",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 302 && query_param(r.location, "error", v, sizeof v) &&
          strcmp(v, "invalid_request") == 0);
    resp_free(&r);
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback&scope=openid+bogus"
             "&code_challenge=%s&code_challenge_method=S256",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 302 && query_param(r.location, "error", v, sizeof v) &&
          strcmp(v, "invalid_scope") == 0);
    resp_free(&r);
    /* the refused scope is not echoed, nor are bytes outside RFC 6749's error_description set */
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=" CLIENT
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback&scope=openid+%%3Cscript%%3E%%FF"
             "&code_challenge=%s&code_challenge_method=S256",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 302 && query_param(r.location, "error", v, sizeof v) &&
          strcmp(v, "invalid_scope") == 0);
    CHECK(query_param(r.location, "error_description", v, sizeof v));
    CHECK(strstr(v, "<script>") == NULL && strchr(v, '"') == NULL);
    for (const char *q = v; *q != '\0'; q++)
        CHECK(*q >= 0x20 && *q <= 0x7E);
    resp_free(&r);
    /* an unknown client_id that is not UTF-8 is still audited, as printable ASCII */
    get(base_a,
        "/authorize?response_type=code&client_id=%FF%FEx%0A&redirect_uri=http%3A%2F%2F127.0.0."
        "1%2Fcallback&scope=openid",
        &r);
    CHECK(r.status == 400);
    resp_free(&r);
    mcx_store *st = store_a();
    mcx_stmt *s;
    int row = 0;
    CHECK_OK(idms_query(st,
                        "SELECT COUNT(*) FROM audit WHERE outcome = 'unauthorized_client'"
                        " AND client_id = '??x?'",
                        &s, &row, ""));
    CHECK(row && mcx_stmt_int(s, 0) == 1);
    mcx_stmt_done(s);
    mcx_store_close(st);
    snprintf(path, sizeof path,
             "/authorize?response_type=token&client_id=" CLIENT
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%2Fcallback&scope=openid"
             "&code_challenge=%s&code_challenge_method=S256",
             challenge);
    get(base_a, path, &r);
    CHECK(r.status == 302 && query_param(r.location, "error", v, sizeof v) &&
          strcmp(v, "unsupported_response_type") == 0);
    resp_free(&r);
}

static void test_login_and_code_flow(void)
{
    char id[64];
    CHECK(login_page("st%3D1", id, sizeof id));
    resp r;
    /* wrong password, unknown user: the same page and message */
    login_post(id, "alice", "wrong", &r);
    CHECK(r.status == 200);
    CHECK(strstr(r.body, "<p class=\"error\" role=\"alert\">Invalid username or password.</p>") !=
          NULL);
    CHECK(strstr(r.body, id) != NULL);
    resp_free(&r);
    login_post(id, "nosuchuser", "wrong", &r);
    CHECK(r.status == 200);
    CHECK(strstr(r.body, "Invalid username or password.") != NULL);
    resp_free(&r);
    /* right password: 302 with code, state, iss */
    login_post(id, "alice", "s3cret%21", &r);
    CHECK(r.status == 302);
    char code[128] = "", v[256] = "";
    CHECK(strncmp(r.location, REDIRECT "?", strlen(REDIRECT) + 1) == 0);
    CHECK(query_param(r.location, "code", code, sizeof code) && strlen(code) == 43);
    CHECK(query_param(r.location, "state", v, sizeof v) && strcmp(v, "st=1") == 0);
    CHECK(query_param(r.location, "iss", v, sizeof v) && strcmp(v, ISS_A) == 0);
    resp_free(&r);
    /* the login page is used up */
    login_post(id, "alice", "s3cret%21", &r);
    CHECK(r.status == 400);
    resp_free(&r);

    /* wrong verifier: invalid_grant, and the code stays usable */
    token_code(code, "wrong-verifier-wrong-verifier-wrong-verifier-0", &r);
    expect_error(&r, 400, "invalid_grant");
    CHECK(strcmp(r.cache_control, "no-store") == 0);
    resp_free(&r);
    token_code(code, VERIFIER, &r);
    CHECK(r.status == 200);
    CHECK(strcmp(r.cache_control, "no-store") == 0);
    json_t *t = body_json(&r);
    resp_free(&r);
    CHECK(strcmp(jstr(t, "token_type"), "Bearer") == 0);
    CHECK(strcmp(jstr(t, "scope"),
                 "openid 3gpp:mc:ptt_service 3gpp:mc:ptt_key_management_service") == 0);
    CHECK(json_integer_value(json_object_get(t, "expires_in")) == 3600);

    mcx_token_verifier *va = verifier_for(base_a, ISS_A, ISS_A, MCX_TOKEN_ACCESS);
    mcx_token_verifier *vi = verifier_for(base_a, ISS_A, CLIENT, MCX_TOKEN_ID);
    mcx_token_claims c;
    CHECK_OK(mcx_token_verify(va, jstr(t, "access_token"), MCX_SCOPE_PTT_KMS, time(NULL), &c));
    CHECK(strcmp(c.sub, "alice") == 0);
    CHECK(strcmp(c.mcptt_id, "sip:alice@police.example") == 0);
    CHECK(strcmp(c.client_id, CLIENT) == 0);
    CHECK(c.jti[0] != '\0');
    CHECK_OK(mcx_token_verify(vi, jstr(t, "id_token"), NULL, time(NULL), &c));
    CHECK(strcmp(c.mcptt_id, "sip:alice@police.example") == 0);
    /* the ID token is not an access token and the other way round */
    CHECK_ST(mcx_token_verify(va, jstr(t, "id_token"), NULL, time(NULL), NULL), MCX_E_DENIED);
    json_t *hdr = NULL, *cl = NULL;
    CHECK_OK(mcx_jwt_decode_unverified(jstr(t, "id_token"), &hdr, &cl));
    CHECK(strcmp(jstr(cl, "nonce"), "n-0S6_WzA2Mj") == 0);
    CHECK(strcmp(jstr(cl, "azp"), CLIENT) == 0);
    json_decref(hdr);
    json_decref(cl);

    /* replay: refused, and the refresh token of the first exchange is revoked */
    token_code(code, VERIFIER, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    token_refresh(jstr(t, "refresh_token"), &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    json_decref(t);
    mcx_token_verifier_free(va);
    mcx_token_verifier_free(vi);

    /* an unknown code, a missing client, an unknown client */
    token_code("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", VERIFIER, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    post_form(base_a, "/token", "grant_type=authorization_code&code=x", &r);
    expect_error(&r, 401, "invalid_client");
    resp_free(&r);
    post_form(base_a, "/token", "grant_type=password&client_id=" CLIENT, &r);
    expect_error(&r, 400, "unsupported_grant_type");
    resp_free(&r);
    post_form(base_a, "/token", "grant_type=refresh_token&client_id=evil&refresh_token=x", &r);
    expect_error(&r, 401, "invalid_client");
    resp_free(&r);
    post_form(base_a, "/token", "grant_type=refresh_token&grant_type=refresh_token", &r);
    expect_error(&r, 400, "invalid_request");
    resp_free(&r);
}

static void test_expired_code(void)
{
    mcx_store *st = store_a();
    char code[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge, "openid", NULL,
                                 time(NULL) - 120, 60, code, sizeof code));
    mcx_store_close(st);
    resp r;
    token_code(code, VERIFIER, &r);
    expect_error(&r, 400, "invalid_grant");
    CHECK(strstr(r.body, "expired") != NULL);
    resp_free(&r);
}

static void test_refresh_rotation(void)
{
    mcx_store *st = store_a();
    char code[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge,
                                 "openid 3gpp:mc:ptt_service", NULL, time(NULL), 60, code,
                                 sizeof code));
    mcx_store_close(st);
    resp r;
    token_code(code, VERIFIER, &r);
    CHECK(r.status == 200);
    json_t *t1 = body_json(&r);
    resp_free(&r);
    /* a narrower scope is fine, a wider one is not */
    char body[256];
    snprintf(body, sizeof body,
             "grant_type=refresh_token&refresh_token=%s&client_id=" CLIENT
             "&scope=3gpp%%3Amc%%3Avideo_service",
             jstr(t1, "refresh_token"));
    post_form(base_a, "/token", body, &r);
    expect_error(&r, 400, "invalid_scope");
    resp_free(&r);
    snprintf(body, sizeof body,
             "grant_type=refresh_token&refresh_token=%s&client_id=" CLIENT "&scope=openid",
             jstr(t1, "refresh_token"));
    post_form(base_a, "/token", body, &r);
    CHECK(r.status == 200);
    json_t *t2 = body_json(&r);
    resp_free(&r);
    CHECK(strcmp(jstr(t2, "scope"), "openid") == 0);
    CHECK(strlen(jstr(t2, "refresh_token")) == 43);
    CHECK(strcmp(jstr(t1, "refresh_token"), jstr(t2, "refresh_token")) != 0);
    CHECK(json_object_get(t2, "id_token") != NULL);
    /* narrowed without openid: an access token, no ID token */
    snprintf(body, sizeof body,
             "grant_type=refresh_token&refresh_token=%s&client_id=" CLIENT
             "&scope=3gpp%%3Amc%%3Aptt_service",
             jstr(t2, "refresh_token"));
    post_form(base_a, "/token", body, &r);
    CHECK(r.status == 200);
    json_t *t3 = body_json(&r);
    resp_free(&r);
    CHECK(strcmp(jstr(t3, "scope"), "3gpp:mc:ptt_service") == 0);
    CHECK(json_object_get(t3, "id_token") == NULL);
    CHECK(json_object_get(t3, "access_token") != NULL);
    /* the family ends when its first token would have: rotation does not extend it */
    mcx_store *st2 = store_a();
    char h3[IDMS_HASH_HEX], h4[IDMS_HASH_HEX];
    idms_sha256_hex(jstr(t3, "refresh_token"), h3);
    int64_t end = (int64_t)time(NULL) + 50;
    CHECK_OK(idms_exec(st2, "UPDATE refresh_tokens SET expires_at = ? WHERE hash = ?", NULL, "it",
                       end, h3));
    token_refresh(jstr(t3, "refresh_token"), &r);
    CHECK(r.status == 200);
    json_t *t4 = body_json(&r);
    resp_free(&r);
    idms_sha256_hex(jstr(t4, "refresh_token"), h4);
    mcx_stmt *s;
    int row = 0;
    CHECK_OK(
        idms_query(st2, "SELECT expires_at FROM refresh_tokens WHERE hash = ?", &s, &row, "t", h4));
    CHECK(row && mcx_stmt_int(s, 0) == end);
    mcx_stmt_done(s);
    /* and past it the family is over */
    CHECK_OK(idms_exec(st2, "UPDATE refresh_tokens SET expires_at = ? WHERE hash = ?", NULL, "it",
                       (int64_t)time(NULL) - 1, h4));
    token_refresh(jstr(t4, "refresh_token"), &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    mcx_store_close(st2);
    json_decref(t3);
    json_decref(t4);
    /* the rotated token again: refused, and the whole family with it */
    token_refresh(jstr(t1, "refresh_token"), &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    token_refresh(jstr(t2, "refresh_token"), &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    json_decref(t1);
    json_decref(t2);
}

static void test_disabled_user(void)
{
    mcx_store *st = store_a();
    char code[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "dave", REDIRECT, challenge, "openid", NULL,
                                 time(NULL), 60, code, sizeof code));
    CHECK_OK(mcx_idms_user_set_enabled(st, "dave", 0, time(NULL)));
    resp r;
    token_code(code, VERIFIER, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    /* and at the login form: the uniform message */
    char id[64];
    CHECK(login_page("d", id, sizeof id));
    login_post(id, "dave", "davepw", &r);
    CHECK(r.status == 200 && strstr(r.body, "Invalid username or password.") != NULL);
    resp_free(&r);
    CHECK_OK(mcx_idms_user_set_enabled(st, "dave", 1, time(NULL)));
    mcx_store_close(st);
}

static void test_throttle(void)
{
    /* max_failures 3: three wrong passwords lock carol; the right one is then refused unchecked.
     * Earlier tests' failures from this address are cleared first. */
    mcx_store *st = store_a();
    CHECK_OK(idms_exec(st, "DELETE FROM throttle", NULL, ""));
    mcx_store_close(st);
    char id[64];
    CHECK(login_page("t", id, sizeof id));
    resp r;
    for (int i = 0; i < 3; i++) {
        login_post(id, "carol", "nope", &r);
        CHECK(r.status == 200);
        resp_free(&r);
    }
    login_post(id, "carol", "carolpw", &r);
    CHECK(r.status == 429);
    /* RFC 6585 §4: when to come back, the lockout of 300 s */
    long ra = atol(r.retry_after);
    CHECK(ra >= 295 && ra <= 300);
    CHECK(strstr(r.body, "Too many failed attempts; try again later") != NULL);
    resp_free(&r);
    st = store_a();
    mcx_stmt *s;
    int row = 0;
    CHECK_OK(idms_query(st, "SELECT COUNT(*) FROM audit WHERE event = 'lockout'", &s, &row, ""));
    CHECK(row && mcx_stmt_int(s, 0) >= 1);
    mcx_stmt_done(s);
    /* the address counter also reached its limit meanwhile: clear both for later tests */
    CHECK_OK(idms_exec(st, "DELETE FROM throttle", NULL, ""));
    mcx_store_close(st);
}

static void test_exchange(void)
{
    mcx_store *st = store_a();
    char code[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge,
                                 "openid 3gpp:mc:ptt_service", NULL, time(NULL), 60, code,
                                 sizeof code));
    char code_bob[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "bob", REDIRECT, challenge, "openid", NULL, time(NULL),
                                 60, code_bob, sizeof code_bob));
    mcx_store_close(st);
    resp r;
    token_code(code, VERIFIER, &r);
    json_t *t = body_json(&r);
    resp_free(&r);

    char body[4096];
    /* primary: an ID token for the partner */
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=" CLIENT
             "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aaccess_token&requested_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aid_token&audience=https%%3A%%2F%%2Fidms-b.test",
             jstr(t, "access_token"));
    post_form(base_a, "/token", body, &r);
    CHECK(r.status == 200);
    json_t *x = body_json(&r);
    resp_free(&r);
    CHECK(strcmp(jstr(x, "issued_token_type"), "urn:ietf:params:oauth:token-type:id_token") == 0);
    CHECK(strcmp(jstr(x, "token_type"), "N_A") == 0);
    CHECK(json_integer_value(json_object_get(x, "expires_in")) == 300);
    /* the exchange ID token carries the home grant's scope */
    json_t *xh = NULL, *xc = NULL;
    CHECK_OK(mcx_jwt_decode_unverified(jstr(x, "access_token"), &xh, &xc));
    CHECK(strcmp(jstr(xc, "scope"), "openid 3gpp:mc:ptt_service") == 0);
    json_decref(xh);
    json_decref(xc);
    /* an audience that is no partner */
    char *bad = strdup(body);
    char *aud = strstr(bad, "idms-b.test");
    memcpy(aud, "idms-c", 6);
    post_form(base_a, "/token", bad, &r);
    expect_error(&r, 400, "invalid_target");
    resp_free(&r);
    free(bad);

    /* partner: the ID token for a local access token */
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=" CLIENT
             "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aid_token",
             jstr(x, "access_token"));
    post_form(base_b, "/token", body, &r);
    CHECK(r.status == 200);
    json_t *y = body_json(&r);
    resp_free(&r);
    CHECK(strcmp(jstr(y, "token_type"), "Bearer") == 0);
    CHECK(json_object_get(y, "refresh_token") == NULL);
    mcx_token_verifier *vb = verifier_for(base_b, ISS_B, ISS_B, MCX_TOKEN_ACCESS);
    mcx_token_claims c;
    CHECK_OK(mcx_token_verify(vb, jstr(y, "access_token"), MCX_SCOPE_PTT_SERVICE, time(NULL), &c));
    /* a visitor never shares a local subject: sub is "<home sub>@<label>", label defaulting to
     * the primary's host */
    CHECK(strcmp(c.sub, "alice@idms-a.test") == 0);
    CHECK(strcmp(c.acting_for, ISS_A) == 0);
    json_t *yh = NULL, *yc = NULL;
    CHECK_OK(mcx_jwt_decode_unverified(jstr(y, "access_token"), &yh, &yc));
    CHECK(strcmp(jstr(yc, "mcx_home_sub"), "alice") == 0);
    json_decref(yh);
    json_decref(yc);
    CHECK(strcmp(c.mcptt_id, "sip:alice@police.example") == 0);
    /* the partner allows only the PTT service: the KMS scope is not in it */
    CHECK(strstr(c.scope, "key_management") == NULL);
    mcx_token_verifier_free(vb);
    /* the same ID token again: replay */
    post_form(base_b, "/token", body, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    /* the partner's own token is not accepted back at A as a subject */
    json_decref(x);
    json_decref(y);
    json_decref(t);

    /* bob is on B's deny list */
    token_code(code_bob, VERIFIER, &r);
    t = body_json(&r);
    resp_free(&r);
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=" CLIENT
             "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aaccess_token&requested_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aid_token&audience=https%%3A%%2F%%2Fidms-b.test",
             jstr(t, "access_token"));
    post_form(base_a, "/token", body, &r);
    CHECK(r.status == 200);
    x = body_json(&r);
    resp_free(&r);
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=" CLIENT
             "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aid_token",
             jstr(x, "access_token"));
    post_form(base_b, "/token", body, &r);
    expect_error(&r, 400, "invalid_grant");
    CHECK(strstr(r.body, "user not admitted by this domain") != NULL);
    resp_free(&r);
    /* A's access token is no ID token for B */
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=" CLIENT
             "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-type%%"
             "3Aid_token",
             jstr(t, "access_token"));
    post_form(base_b, "/token", body, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    json_decref(x);
    json_decref(t);
}

/* An ID token for B signed with A's active key, as A would issue it but with chosen claims. */
static char *forge_id(const char *sub, int64_t iat, int64_t exp, const char *mcptt_id,
                      const char *scope)
{
    json_t *c = json_object();
    json_object_set_new(c, "iss", json_string(ISS_A));
    json_object_set_new(c, "sub", json_string(sub));
    json_object_set_new(c, "aud", json_string(ISS_B));
    json_object_set_new(c, "azp", json_string(CLIENT));
    json_object_set_new(c, "iat", json_integer(iat));
    json_object_set_new(c, "exp", json_integer(exp));
    if (mcptt_id != NULL)
        json_object_set_new(c, "mcptt_id", json_string(mcptt_id));
    if (scope != NULL)
        json_object_set_new(c, "scope", json_string(scope));
    CHECK_OK(idms_add_jti(c));
    idms_keyset *ks = idms_keys_acquire(srv_a);
    char *jwt = NULL;
    CHECK_OK(mcx_jwt_sign(ks->active, MCX_TOKEN_ID, c, &jwt));
    idms_keys_release(srv_a, ks);
    json_decref(c);
    return jwt;
}

static void present_b(const char *idt, const char *extra, resp *r)
{
    char body[4096];
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=" CLIENT "&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%"
             "3Atoken-type%%3Aid_token%s",
             idt, extra != NULL ? extra : "");
    post_form(base_b, "/token", body, r);
}

static void test_exchange_partner_rules(void)
{
    int64_t now = time(NULL);
    resp r;
    /* the reference: a well-formed ID token is accepted */
    char *t = forge_id("alice", now, now + 300, "sip:alice@police.example", "openid");
    present_b(t, NULL, &r);
    CHECK(r.status == 200);
    resp_free(&r);
    free(t);
    /* no scope claim: the home domain granted nothing to pass on */
    t = forge_id("alice", now, now + 300, NULL, NULL);
    present_b(t, NULL, &r);
    expect_error(&r, 400, "invalid_scope");
    resp_free(&r);
    free(t);
    /* a KMS-only grant at home does not become a PTT-service token here */
    t = forge_id("alice", now, now + 300, NULL, "openid 3gpp:mcptt:key_management_server");
    present_b(t, NULL, &r);
    CHECK(r.status == 200);
    json_t *j = body_json(&r);
    CHECK(strcmp(jstr(j, "scope"), "openid") == 0);
    json_decref(j);
    resp_free(&r);
    free(t);
    t = forge_id("alice", now, now + 300, NULL, "3gpp:mcptt:key_management_server");
    present_b(t, "&scope=3gpp%3Amc%3Aptt_service", &r);
    expect_error(&r, 400, "invalid_scope");
    resp_free(&r);
    free(t);
    /* a home sub outside the user-name rules */
    const char *bad_subs[] = {"alice bob", "a/b", "", "x\u00e9"};
    for (size_t i = 0; i < sizeof bad_subs / sizeof bad_subs[0]; i++) {
        t = forge_id(bad_subs[i], now, now + 300, NULL, "openid");
        present_b(t, NULL, &r);
        expect_error(&r, 400, "invalid_grant");
        resp_free(&r);
        free(t);
    }
    /* an MC ID outside the partner's mc_id_domains, in each URI form */
    const char *foreign[] = {"sip:alice@fire.example",
                             "sip:alice@police.example.evil",
                             "tel:+4912345",
                             "tel:1234;phone-context=fire.example",
                             "https://fire.example/users/alice",
                             "sip:fire.example"};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        t = forge_id("alice", now, now + 300, foreign[i], "openid");
        present_b(t, NULL, &r);
        expect_error(&r, 400, "invalid_grant");
        CHECK(strstr(r.body, "mcptt_id") != NULL);
        resp_free(&r);
        free(t);
    }
    /* ...while these name police.example */
    const char *home[] = {
        "sip:alice@Police.Example", "sips:alice@police.example:5061;transport=tls",
        "tel:1234;phone-context=police.example", "https://alice@police.example:8443/x"};
    for (size_t i = 0; i < sizeof home / sizeof home[0]; i++) {
        t = forge_id("alice", now, now + 300, home[i], "openid");
        present_b(t, NULL, &r);
        if (r.status != 200)
            fprintf(stderr, "%s: %s\n", home[i], r.body);
        CHECK(r.status == 200);
        resp_free(&r);
        free(t);
    }
    /* the refusal is audited, naming the MC ID */
    mcx_store *st = NULL;
    char url[400];
    snprintf(url, sizeof url, "%s", mcx_idms_config_store_url(cfg_b));
    CHECK_OK(mcx_store_open(&st, url));
    mcx_stmt *s;
    int row = 0;
    CHECK_OK(idms_query(st,
                        "SELECT COUNT(*) FROM audit WHERE outcome = 'invalid_grant' AND detail"
                        " LIKE '%sip:alice@fire.example%'",
                        &s, &row, ""));
    CHECK(row && mcx_stmt_int(s, 0) == 1);
    mcx_stmt_done(s);
    mcx_store_close(st);
    /* lifetime: longer than 600 s, issued long ago, no iat */
    t = forge_id("alice", now, now + 601, NULL, "openid");
    present_b(t, NULL, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    free(t);
    t = forge_id("alice", now - 601, now + 30, NULL, "openid");
    present_b(t, NULL, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    free(t);
    t = forge_id("alice", 0, now + 30, NULL, "openid");
    present_b(t, NULL, &r);
    expect_error(&r, 400, "invalid_grant");
    resp_free(&r);
    free(t);
}

static void exchange_at_a(const char *client_id, const char *at, resp *r)
{
    char body[4096];
    snprintf(body, sizeof body,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Atoken-exchange&client_"
             "id=%s&subject_token=%s&subject_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-"
             "type%%3Aaccess_token&requested_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Atoken-"
             "type%%3Aid_token&audience=https%%3A%%2F%%2Fidms-b.test",
             client_id, at);
    post_form(base_a, "/token", body, r);
}

static void test_exchange_primary_rules(void)
{
    mcx_store *st = store_a();
    char code[64], code2[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT2, "alice", REDIRECT, challenge,
                                 "openid 3gpp:mc:ptt_service", NULL, time(NULL), 60, code,
                                 sizeof code));
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge,
                                 "openid 3gpp:mc:ptt_service", NULL, time(NULL), 60, code2,
                                 sizeof code2));
    mcx_store_close(st);
    resp r;
    char body[512];
    snprintf(body, sizeof body,
             "grant_type=authorization_code&code=%s&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%"
             "2Fcallback&client_id=" CLIENT2 "&code_verifier=" VERIFIER,
             code);
    post_form(base_a, "/token", body, &r);
    CHECK(r.status == 200);
    json_t *t = body_json(&r);
    resp_free(&r);
    /* another client's access token is not this client's to exchange */
    exchange_at_a(CLIENT, jstr(t, "access_token"), &r);
    expect_error(&r, 400, "invalid_grant");
    CHECK(strstr(r.body, "another client") != NULL);
    resp_free(&r);
    exchange_at_a(CLIENT2, jstr(t, "access_token"), &r);
    CHECK(r.status == 200);
    resp_free(&r);
    json_decref(t);
    /* an access token without openid (a refresh narrowed to the PTT service) */
    token_code(code2, VERIFIER, &r);
    t = body_json(&r);
    resp_free(&r);
    snprintf(body, sizeof body,
             "grant_type=refresh_token&refresh_token=%s&client_id=" CLIENT
             "&scope=3gpp%%3Amc%%3Aptt_service",
             jstr(t, "refresh_token"));
    post_form(base_a, "/token", body, &r);
    CHECK(r.status == 200);
    json_t *t2 = body_json(&r);
    resp_free(&r);
    exchange_at_a(CLIENT, jstr(t2, "access_token"), &r);
    expect_error(&r, 400, "invalid_grant");
    CHECK(strstr(r.body, "openid") != NULL);
    resp_free(&r);
    json_decref(t);
    json_decref(t2);
}

/* Make srv's signing fail (no active key) until mend_signing: the key set is held so that a
 * reload meanwhile cannot free it. */
typedef struct broken_key {
    idms_keyset *ks;
    mcx_signing_key *active;
} broken_key;

static broken_key break_signing(mcx_idms *srv)
{
    broken_key b;
    b.ks = idms_keys_acquire(srv);
    pthread_mutex_lock(&srv->keys_lock);
    b.active = b.ks->active;
    b.ks->active = NULL;
    pthread_mutex_unlock(&srv->keys_lock);
    return b;
}

static void mend_signing(mcx_idms *srv, broken_key b)
{
    pthread_mutex_lock(&srv->keys_lock);
    b.ks->active = b.active;
    pthread_mutex_unlock(&srv->keys_lock);
    idms_keys_release(srv, b.ks);
}

static void test_sign_failure_spends_nothing(void)
{
    mcx_store *st = store_a();
    char code[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge, "openid", NULL,
                                 time(NULL), 60, code, sizeof code));
    mcx_store_close(st);
    resp r;
    /* code grant: a server error, and the code is still good */
    broken_key b = break_signing(srv_a);
    token_code(code, VERIFIER, &r);
    CHECK(r.status == 500);
    CHECK(strstr(r.body, "access_token") == NULL);
    resp_free(&r);
    mend_signing(srv_a, b);
    token_code(code, VERIFIER, &r);
    CHECK(r.status == 200);
    json_t *t = body_json(&r);
    resp_free(&r);
    /* refresh grant: the refresh token is not rotated (nor taken for a reuse) */
    b = break_signing(srv_a);
    token_refresh(jstr(t, "refresh_token"), &r);
    CHECK(r.status == 500);
    resp_free(&r);
    mend_signing(srv_a, b);
    token_refresh(jstr(t, "refresh_token"), &r);
    CHECK(r.status == 200);
    resp_free(&r);
    json_decref(t);
    /* exchange at the partner: the ID token's jti is not spent */
    int64_t now = time(NULL);
    char *idt = forge_id("alice", now, now + 300, NULL, "openid");
    b = break_signing(srv_b);
    present_b(idt, NULL, &r);
    CHECK(r.status == 500);
    resp_free(&r);
    mend_signing(srv_b, b);
    present_b(idt, NULL, &r);
    CHECK(r.status == 200);
    resp_free(&r);
    free(idt);
}

static void test_key_rotation(void)
{
    mcx_store *st = store_a();
    char code[64], code2[64];
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge, "openid", NULL,
                                 time(NULL), 60, code, sizeof code));
    resp r;
    token_code(code, VERIFIER, &r);
    json_t *old = body_json(&r);
    resp_free(&r);
    char kid[128];
    CHECK_OK(mcx_idms_key_rotate(st, time(NULL), kid, sizeof kid));
    CHECK_OK(mcx_idms_reload_keys(srv_a));
    CHECK_OK(mcx_idms_code_issue(st, CLIENT, "alice", REDIRECT, challenge, "openid", NULL,
                                 time(NULL), 60, code2, sizeof code2));
    mcx_store_close(st);
    token_code(code2, VERIFIER, &r);
    json_t *fresh = body_json(&r);
    resp_free(&r);
    json_t *hdr = NULL, *cl = NULL;
    CHECK_OK(mcx_jwt_decode_unverified(jstr(fresh, "access_token"), &hdr, &cl));
    CHECK(strcmp(jstr(hdr, "kid"), kid) == 0);
    json_decref(hdr);
    json_decref(cl);
    /* the JWKS now has both keys: old and new tokens verify */
    mcx_token_verifier *va = verifier_for(base_a, ISS_A, ISS_A, MCX_TOKEN_ACCESS);
    CHECK_OK(mcx_token_verify(va, jstr(old, "access_token"), NULL, time(NULL), NULL));
    CHECK_OK(mcx_token_verify(va, jstr(fresh, "access_token"), NULL, time(NULL), NULL));
    mcx_token_verifier_free(va);
    get(base_a, "/jwks", &r);
    json_t *k = body_json(&r);
    CHECK(json_array_size(json_object_get(k, "keys")) == 2);
    json_decref(k);
    resp_free(&r);
    json_decref(old);
    json_decref(fresh);
}

static void test_http_errors(void)
{
    resp r;
    get(base_a, "/nope", &r);
    CHECK(r.status == 404);
    CHECK(strstr(r.body, "not_found") != NULL);
    resp_free(&r);
    get(base_a, "/token", &r);
    CHECK(r.status == 405 && strcmp(r.allow, "POST") == 0);
    resp_free(&r);
    char url[128];
    snprintf(url, sizeof url, "%s/jwks", base_a);
    http("DELETE", url, NULL, NULL, 0, &r);
    CHECK(r.status == 405);
    resp_free(&r);
    snprintf(url, sizeof url, "%s/token", base_a);
    http("POST", url, "application/json", "{\"grant_type\":\"x\"}", 18, &r);
    expect_error(&r, 400, "invalid_request");
    resp_free(&r);
    size_t n = 20000;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[0] = 'x';
    big[1] = '=';
    big[n] = '\0';
    http("POST", url, "application/x-www-form-urlencoded", big, n, &r);
    CHECK(r.status == 413);
    resp_free(&r);
    free(big);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int setup(void)
{
    if (mkdtemp(dir) == NULL)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
             " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem"
             " -out %s/cert.pem 2>/dev/null",
             dir, dir);
    if (system(cmd) != 0)
        return -1;
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);

    idms_password_set_costs(1, 64);
    char path[400], url[400];
    snprintf(url, sizeof url, "sqlite:%s/a.db", dir);
    mcx_store *st = NULL;
    if (mcx_store_open(&st, url) != MCX_OK || mcx_idms_init(st, time(NULL)) != MCX_OK)
        return -1;
    const char *uris[] = {REDIRECT};
    const char *uris2[] = {REDIRECT, "http://u_1@127.0.0.1/cb"};
    mcx_idms_user alice = {"alice", "sip:alice@police.example", NULL, NULL};
    mcx_idms_user bob = {"bob", "sip:bob@police.example", NULL, NULL};
    mcx_idms_user carol = {"carol", NULL, NULL, NULL};
    mcx_idms_user dave = {"dave", NULL, NULL, NULL};
    int ok = mcx_idms_client_add(st, CLIENT, uris, 1, 0) == MCX_OK &&
             mcx_idms_client_add(st, CLIENT2, uris2, 2, 0) == MCX_OK &&
             mcx_idms_user_add(st, &alice, "s3cret!", 0) == MCX_OK &&
             mcx_idms_user_add(st, &bob, "bobpw", 0) == MCX_OK &&
             mcx_idms_user_add(st, &carol, "carolpw", 0) == MCX_OK &&
             mcx_idms_user_add(st, &dave, "davepw", 0) == MCX_OK;
    mcx_store_close(st);
    if (!ok)
        return -1;
    snprintf(url, sizeof url, "sqlite:%s/b.db", dir);
    if (mcx_store_open(&st, url) != MCX_OK || mcx_idms_init(st, time(NULL)) != MCX_OK)
        return -1;
    ok = mcx_idms_client_add(st, CLIENT, uris, 1, 0) == MCX_OK;
    mcx_store_close(st);
    if (!ok)
        return -1;

    snprintf(path, sizeof path, "%s/a.json", dir);
    write_file(path, "{\"issuer\":\"" ISS_A "\",\"listen\":\"127.0.0.1:0\",\"tls_cert\":"
                     "\"cert.pem\",\"tls_key\":\"key.pem\",\"store\":\"sqlite:a.db\","
                     "\"threads\":2,\"log_requests\":false,"
                     "\"argon2\":{\"t_cost\":1,\"m_cost_kib\":64},"
                     "\"login_throttle\":{\"max_failures\":3,\"window\":300,\"lockout\":300},"
                     "\"exchange_audiences\":[\"" ISS_B "\"]}");
    if (mcx_idms_config_load(&cfg_a, path) != MCX_OK || mcx_idms_start(&srv_a, cfg_a) != MCX_OK)
        return -1;
    snprintf(base_a, sizeof base_a, "https://127.0.0.1:%u", mcx_idms_port(srv_a));

    resp r;
    get(base_a, "/jwks", &r);
    snprintf(path, sizeof path, "%s/a-jwks.json", dir);
    write_file(path, r.body);
    resp_free(&r);
    snprintf(path, sizeof path, "%s/b.json", dir);
    write_file(path, "{\"issuer\":\"" ISS_B "\",\"listen\":\"127.0.0.1:0\",\"tls_cert\":"
                     "\"cert.pem\",\"tls_key\":\"key.pem\",\"store\":\"sqlite:b.db\","
                     "\"threads\":1,\"log_requests\":false,"
                     "\"argon2\":{\"t_cost\":1,\"m_cost_kib\":64},"
                     "\"partners\":[{\"issuer\":\"" ISS_A "\",\"jwks_file\":\"a-jwks.json\","
                     "\"allow_users\":[\"*\"],\"deny_users\":[\"bob\"],"
                     "\"mc_id_domains\":[\"police.example\"],"
                     "\"scopes\":[\"openid\",\"3gpp:mcptt:ptt_server\"]}]}");
    if (mcx_idms_config_load(&cfg_b, path) != MCX_OK || mcx_idms_start(&srv_b, cfg_b) != MCX_OK)
        return -1;
    snprintf(base_b, sizeof base_b, "https://127.0.0.1:%u", mcx_idms_port(srv_b));
    idms_pkce_s256(VERIFIER, challenge);
    return 0;
}

static void test_config_errors(void)
{
    char path[400];
    mcx_idms_config *c = NULL;
    snprintf(path, sizeof path, "%s/bad.json", dir);
    write_file(path, "{\"issuer\":\"x\",\"tls_cert\":\"c\",\"tls_key\":\"k\",\"thread\":2}");
    CHECK_ST(mcx_idms_config_load(&c, path), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "thread") != NULL);
    write_file(path, "{\"tls_cert\":\"c\",\"tls_key\":\"k\"}");
    CHECK_ST(mcx_idms_config_load(&c, path), MCX_E_ARG);
    write_file(path, "{\"issuer\":\"x\",\"tls_cert\":\"c\",\"tls_key\":\"k\",\"code_ttl\":\"6\"}");
    CHECK_ST(mcx_idms_config_load(&c, path), MCX_E_ENCODING);
    write_file(path, "not json");
    CHECK_ST(mcx_idms_config_load(&c, path), MCX_E_ENCODING);
    snprintf(path, sizeof path, "%s/missing.json", dir);
    CHECK_ST(mcx_idms_config_load(&c, path), MCX_E_IO);
    snprintf(path, sizeof path, "%s/a.json", dir);
    CHECK_OK(mcx_idms_config_load(&c, path));
    CHECK_OK(mcx_idms_config_set(c, "listen", "127.0.0.1:9443"));
    CHECK_ST(mcx_idms_config_set(c, "threads", "many"), MCX_E_ENCODING);
    /* the file's limits apply to overrides too */
    CHECK_ST(mcx_idms_config_set(c, "code_ttl", "601"), MCX_E_ENCODING);
    CHECK_ST(mcx_idms_config_set(c, "access_token_ttl", "604801"), MCX_E_ENCODING);
    CHECK_ST(mcx_idms_config_set(c, "id_token_ttl", "0"), MCX_E_ENCODING);
    CHECK_ST(mcx_idms_config_set(c, "threads", "257"), MCX_E_ENCODING);
    CHECK_ST(mcx_idms_config_set(c, "refresh_token_ttl", "31536001"), MCX_E_ENCODING);
    CHECK_OK(mcx_idms_config_set(c, "code_ttl", "600"));
    CHECK_OK(mcx_idms_config_set(c, "threads", "256"));
    CHECK(c->code_ttl == 600 && c->threads == 256);
    snprintf(path, sizeof path, "%s/bad.json", dir);
    write_file(path, "{\"issuer\":\"x\",\"tls_cert\":\"c\",\"tls_key\":\"k\",\"code_ttl\":601}");
    mcx_idms_config *c2 = NULL;
    CHECK_ST(mcx_idms_config_load(&c2, path), MCX_E_ENCODING);
    write_file(path, "{\"issuer\":\"x\",\"tls_cert\":\"c\",\"tls_key\":\"k\",\"threads\":3}");
    CHECK_OK(mcx_idms_config_load(&c2, path));
    CHECK(c2 != NULL && c2->threads == 3);
    mcx_idms_config_free(c2);
    CHECK_ST(mcx_idms_config_set(c, "colour", "blue"), MCX_E_ARG);
    CHECK(strstr(mcx_idms_config_store_url(c), "/a.db") != NULL);
    mcx_idms_config_free(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup() != 0) {
        fprintf(stderr, "setup failed: %s\n", mcx_last_error());
        return 2;
    }
    RUN(test_discovery_jwks_health);
    RUN(test_authorize_page);
    RUN(test_login_and_code_flow);
    RUN(test_expired_code);
    RUN(test_refresh_rotation);
    RUN(test_disabled_user);
    RUN(test_throttle);
    RUN(test_exchange);
    RUN(test_exchange_partner_rules);
    RUN(test_exchange_primary_rules);
    RUN(test_sign_failure_spends_nothing);
    RUN(test_key_rotation);
    RUN(test_http_errors);
    RUN(test_per_ip_limit);
    RUN(test_config_errors);
    mcx_idms_stop(srv_a);
    mcx_idms_stop(srv_b);
    mcx_idms_config_free(cfg_a);
    mcx_idms_config_free(cfg_b);
    curl_global_cleanup();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary();
}
