/* mcx_login_pkce, mcx_login_refresh and mcx_login_exchange against a scripted IdMS: a real TLS
 * server on 127.0.0.1 (OpenSSL, its own self-signed certificate, one thread) whose answers each
 * test bends in one way: another issuer, a form posting elsewhere, a wrong state, iss or nonce,
 * an error redirect, an error page, a lockout, a token error, a foreign signing key, a redirect
 * that must not be followed, an answer too large. The server checks what the client sends
 * (PKCE S256 verifier against the challenge, the hidden field, client_id) and signs real ES256
 * tokens with the token module, so the successful runs are the whole flow. The real mcx-idms is
 * exercised by tests/cli/idms_cli_test.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/http_internal.h"
#include "client/login_internal.h"
#include "mcxsec/login.h"
#include "mcxsec/token.h"
#include "test.h"

typedef enum {
    SC_OK,
    SC_ISSUER_MISMATCH,
    SC_FORM_ELSEWHERE,
    SC_FORM_GET,
    SC_STATE_MISMATCH,
    SC_ISS_MISMATCH,
    SC_ISS_MISSING, /* discovery promises iss, the redirect lacks it */
    SC_ERROR_REDIRECT,
    SC_ERROR_PAGE,
    SC_LOCKED,
    SC_TOKEN_ERROR,
    SC_NONCE_MISMATCH,
    SC_FOREIGN_KEY,
    SC_AUD_MISMATCH,
    SC_PAGE_REDIRECT,
    SC_HUGE_PAGE,
    SC_NO_CODE,
    SC_HOSTILE_TEXT, /* error texts with escape sequences, line breaks, UTF-8 and great length */
} scenario;

static struct server {
    int lfd;
    uint16_t port;
    SSL_CTX *ctx;
    pthread_t th;
    volatile int stop;
    char issuer[64];
    char ca_file[256];
    mcx_signing_key *key, *foreign;
    scenario sc;
    /* what the client sent, for the checks */
    char challenge[128], nonce[128], state[128];
    int posts_with_password, elsewhere_hits, pkce_ok, hidden_ok, token_calls;
    char refresh[64];
    int refresh_serial;
    char last_grant[128];
    char sub[64]; /* the subject the tokens name: "alice" unless a test changes it */
} S;

/* What a hostile IdMS puts in error and error_description: a terminal escape (clear screen, red),
 * a forged second line, a bell, UTF-8, DEL, and 1000 characters more. */
static char hostile_desc[1200];
static const char hostile_error[] = "invalid_grant\x1b[2J\x1b[31m\r\nmcx: login OK\x07";

static void make_hostile_desc(void)
{
    int n = snprintf(hostile_desc, sizeof hostile_desc,
                     "denied\x1b]0;pwned\x07\r\nmcx: token saved \xc3\xa9\xe2\x82\xac\x7f ");
    memset(hostile_desc + n, 'z', 1000);
    hostile_desc[n + 1000] = '\0';
}

/* Whether s is printable ASCII only and no longer than max. */
static int printable_only(const char *s, size_t max)
{
    for (const char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return 0;
    return strlen(s) <= max;
}

/* ---- request parsing ---- */

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The percent-decoded value of name in an x-www-form-urlencoded text, or 0 when absent. */
static int param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = q; p != NULL && *p != '\0';) {
        const char *e = strchr(p, '&');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < len && o + 1 < cap; i++) {
                if (p[i] == '%' && i + 2 < len + 1 && hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
                    out[o++] = (char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2]));
                    i += 2;
                } else {
                    out[o++] = p[i] == '+' ? ' ' : p[i];
                }
            }
            out[o] = '\0';
            return 1;
        }
        p = e != NULL ? e + 1 : NULL;
    }
    out[0] = '\0';
    return 0;
}

/* ---- answers ---- */

typedef struct answer {
    char *buf;
    size_t len, cap;
} answer;

static void put(answer *a, const char *s, size_t n)
{
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n + 1)
            cap *= 2;
        a->buf = realloc(a->buf, cap);
        if (a->buf == NULL)
            abort();
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

static void respond(answer *a, int status, const char *ctype, const char *extra, const char *body,
                    size_t body_len)
{
    char h[4096];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, ctype, body_len, extra != NULL ? extra : "");
    put(a, h, (size_t)n);
    put(a, body, body_len);
}

static void respond_json(answer *a, int status, json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    respond(a, status, "application/json", NULL, t, strlen(t));
    free(t);
}

static char *sign(mcx_signing_key *k, mcx_token_kind kind, json_t *claims)
{
    char *jwt = NULL;
    if (mcx_jwt_sign(k, kind, claims, &jwt) != MCX_OK)
        abort();
    json_decref(claims);
    return jwt;
}

static void token_answer(answer *a, const char *nonce, int with_id)
{
    int64_t now = (int64_t)time(NULL);
    json_t *at =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", S.issuer, "sub", S.sub, "aud",
                  S.issuer, "iat", (json_int_t)now, "exp", (json_int_t)(now + 600), "client_id",
                  "mcx-cli", "scope", "openid 3gpp:mc:ptt_service", "jti", "j1");
    char *access = sign(S.key, MCX_TOKEN_ACCESS, at);
    snprintf(S.refresh, sizeof S.refresh, "rt-%d", ++S.refresh_serial);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", access, "token_type",
                          "Bearer", "expires_in", 600, "refresh_token", S.refresh, "scope",
                          "openid 3gpp:mc:ptt_service");
    free(access);
    if (with_id) {
        json_t *id =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", S.issuer, "sub", S.sub, "aud",
                      S.sc == SC_AUD_MISMATCH ? "someone-else" : "mcx-cli", "iat", (json_int_t)now,
                      "exp", (json_int_t)(now + 600), "mcptt_id", "sip:alice@police.example");
        if (nonce != NULL)
            json_object_set_new(id, "nonce", json_string(nonce));
        char *idt = sign(S.sc == SC_FOREIGN_KEY ? S.foreign : S.key, MCX_TOKEN_ID, id);
        json_object_set_new(o, "id_token", json_string(idt));
        free(idt);
    }
    respond_json(a, 200, o);
}

static const char login_page[] =
    "<!DOCTYPE html><html><body><!-- <form action=https://evil/> -->"
    "<form method=\"%s\" action=\"%s\"><input type=\"hidden\" name=\"login_request\" "
    "value=\"LR&amp;42\"><input name=\"username\"><input type=\"password\" name=\"password\">"
    "<button>Sign in</button></form></body></html>";

static void handle(const char *method, const char *target, const char *body, answer *a)
{
    char path[512], buf[1024];
    size_t pl = strcspn(target, "?");
    snprintf(path, sizeof path, "%.*s", (int)pl, target);
    const char *query = target[pl] == '?' ? target + pl + 1 : "";

    if (strcmp(path, "/.well-known/openid-configuration") == 0) {
        char base[80];
        snprintf(base, sizeof base, "https://127.0.0.1:%u", S.port);
        json_t *o = json_object();
        json_object_set_new(
            o, "issuer",
            json_string(S.sc == SC_ISSUER_MISMATCH ? "https://idms.other.example" : S.issuer));
        snprintf(buf, sizeof buf, "%s/authorize", base);
        json_object_set_new(o, "authorization_endpoint", json_string(buf));
        snprintf(buf, sizeof buf, "%s/token", base);
        json_object_set_new(o, "token_endpoint", json_string(buf));
        snprintf(buf, sizeof buf, "%s/jwks", base);
        json_object_set_new(o, "jwks_uri", json_string(buf));
        json_object_set_new(o, "code_challenge_methods_supported", json_pack("[s]", "S256"));
        json_object_set_new(o, "authorization_response_iss_parameter_supported",
                            json_boolean(S.sc == SC_ISS_MISSING));
        respond_json(a, 200, o);
    } else if (strcmp(path, "/jwks") == 0) {
        const mcx_signing_key *ks[1] = {S.key};
        respond_json(a, 200, mcx_jwks_of(ks, 1));
    } else if (strcmp(path, "/authorize") == 0 && strcmp(method, "GET") == 0) {
        param(query, "code_challenge", S.challenge, sizeof S.challenge);
        param(query, "nonce", S.nonce, sizeof S.nonce);
        param(query, "state", S.state, sizeof S.state);
        char m[8];
        if (!param(query, "code_challenge_method", m, sizeof m) || strcmp(m, "S256") != 0) {
            respond(a, 400, "text/plain", NULL, "no S256", 7);
        } else if (S.sc == SC_PAGE_REDIRECT) {
            snprintf(buf, sizeof buf, "Location: https://127.0.0.1:%u/elsewhere\r\n", S.port);
            respond(a, 302, "text/plain", buf, "", 0);
        } else if (S.sc == SC_HUGE_PAGE) {
            size_t n = 300 * 1024;
            char *big = malloc(n);
            memset(big, 'x', n);
            respond(a, 200, "text/html", NULL, big, n);
            free(big);
        } else {
            char page[2048];
            int n = snprintf(page, sizeof page, login_page, S.sc == SC_FORM_GET ? "get" : "post",
                             S.sc == SC_FORM_ELSEWHERE ? "https://evil.example/authorize"
                                                       : "/authorize");
            respond(a, 200, "text/html", NULL, page, (size_t)n);
        }
    } else if (strcmp(path, "/authorize") == 0) {
        char user[64], pw[64], lr[64];
        param(body, "username", user, sizeof user);
        param(body, "password", pw, sizeof pw);
        param(body, "login_request", lr, sizeof lr);
        S.posts_with_password += pw[0] != '\0';
        S.hidden_ok = strcmp(lr, "LR&42") == 0;
        const char *cb = "http://127.0.0.1/callback";
        char loc[1024];
        if (S.sc == SC_ERROR_PAGE || strcmp(pw, "right") != 0) {
            const char *pg = "<html><form method=post action=/authorize></form>"
                             "<p class=\"error\" role=\"alert\">Invalid username or "
                             "password.</p></html>";
            respond(a, 200, "text/html", NULL, pg, strlen(pg));
            return;
        }
        if (S.sc == SC_LOCKED) {
            const char *pg = "<p class=error>Too many failed attempts</p>";
            respond(a, 429, "text/html", NULL, pg, strlen(pg));
            return;
        }
        char *iss = mcx_url_encode(S.sc == SC_ISS_MISMATCH ? "https://evil.example" : S.issuer);
        if (S.sc == SC_HOSTILE_TEXT) {
            char *e = mcx_url_encode(hostile_error), *d = mcx_url_encode(hostile_desc);
            char *l = malloc(strlen(e) + strlen(d) + 512);
            sprintf(l, "Location: %s?error=%s&error_description=%s&state=%s&iss=%s\r\n", cb, e, d,
                    S.state, iss);
            respond(a, 302, "text/plain", l, "", 0);
            free(l);
            free(e);
            free(d);
            free(iss);
            return;
        }
        if (S.sc == SC_ERROR_REDIRECT)
            snprintf(loc, sizeof loc,
                     "Location: %s?error=access_denied&error_description=user+"
                     "disabled&state=%s&iss=%s\r\n",
                     cb, S.state, iss);
        else if (S.sc == SC_STATE_MISMATCH)
            snprintf(loc, sizeof loc, "Location: %s?code=C1&state=forged&iss=%s\r\n", cb, iss);
        else if (S.sc == SC_ISS_MISSING)
            snprintf(loc, sizeof loc, "Location: %s?code=C1&state=%s\r\n", cb, S.state);
        else if (S.sc == SC_NO_CODE)
            snprintf(loc, sizeof loc, "Location: %s?state=%s&iss=%s\r\n", cb, S.state, iss);
        else
            snprintf(loc, sizeof loc, "Location: %s?code=C1&state=%s&iss=%s\r\n", cb, S.state, iss);
        free(iss);
        respond(a, 302, "text/plain", loc, "", 0);
    } else if (strcmp(path, "/token") == 0) {
        char grant[128], verifier[160], client[64], code[64];
        S.token_calls++;
        param(body, "grant_type", grant, sizeof grant);
        param(body, "client_id", client, sizeof client);
        snprintf(S.last_grant, sizeof S.last_grant, "%s", grant);
        if (strcmp(client, "mcx-cli") != 0) {
            respond_json(a, 400, json_pack("{s:s}", "error", "invalid_client"));
        } else if (strcmp(grant, "authorization_code") == 0) {
            param(body, "code_verifier", verifier, sizeof verifier);
            param(body, "code", code, sizeof code);
            /* RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge */
            char want[MCX_PKCE_CHARS + 1];
            uint8_t h[32];
            SHA256((const unsigned char *)verifier, strlen(verifier), h);
            mcx_b64url_encode(h, sizeof h, want);
            S.pkce_ok = strcmp(want, S.challenge) == 0 && strlen(verifier) == 43;
            if (!S.pkce_ok || strcmp(code, "C1") != 0 || S.sc == SC_TOKEN_ERROR)
                respond_json(a, 400,
                             json_pack("{s:s, s:s}", "error", "invalid_grant", "error_description",
                                       "code expired"));
            else
                token_answer(a, S.sc == SC_NONCE_MISMATCH ? "other-nonce" : S.nonce, 1);
        } else if (strcmp(grant, "refresh_token") == 0) {
            char rt[64];
            param(body, "refresh_token", rt, sizeof rt);
            if (S.sc == SC_HOSTILE_TEXT)
                respond_json(a, 400,
                             json_pack("{s:s, s:s}", "error", hostile_error, "error_description",
                                       hostile_desc));
            else if (strcmp(rt, S.refresh) != 0)
                respond_json(a, 400,
                             json_pack("{s:s, s:s}", "error", "invalid_grant", "error_description",
                                       "refresh token reused"));
            else
                token_answer(a, NULL, 1);
        } else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:token-exchange") == 0) {
            char stt[128], aud[128], st[4096];
            param(body, "subject_token_type", stt, sizeof stt);
            param(body, "audience", aud, sizeof aud);
            param(body, "subject_token", st, sizeof st);
            if (strcmp(stt, "urn:ietf:params:oauth:token-type:access_token") == 0 &&
                strcmp(aud, S.issuer) == 0 && strncmp(st, "eyJ", 3) == 0) {
                respond_json(a, 200,
                             json_pack("{s:s, s:s, s:s, s:i}", "access_token", "ID-FOR-PARTNER",
                                       "issued_token_type",
                                       "urn:ietf:params:oauth:token-type:id_token", "token_type",
                                       "N_A", "expires_in", 60));
            } else if (strcmp(stt, "urn:ietf:params:oauth:token-type:id_token") == 0 &&
                       strcmp(st, "ID-FOR-PARTNER") == 0) {
                respond_json(a, 200,
                             json_pack("{s:s, s:s, s:s, s:i, s:s}", "access_token",
                                       "PARTNER-ACCESS", "issued_token_type",
                                       "urn:ietf:params:oauth:token-type:access_token",
                                       "token_type", "Bearer", "expires_in", 300, "scope",
                                       "3gpp:mc:ptt_service"));
            } else {
                respond_json(a, 400, json_pack("{s:s}", "error", "invalid_request"));
            }
        } else {
            respond_json(a, 400, json_pack("{s:s}", "error", "unsupported_grant_type"));
        }
    } else {
        if (strcmp(path, "/elsewhere") == 0)
            S.elsewhere_hits++;
        respond(a, 404, "text/plain", NULL, "no", 2);
    }
}

/* ---- the server ---- */

static void serve_one(int fd)
{
    SSL *ssl = SSL_new(S.ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1)
        goto out;
    char req[65536];
    size_t n = 0;
    char *end = NULL;
    while (n + 1 < sizeof req) {
        int r = SSL_read(ssl, req + n, (int)(sizeof req - 1 - n));
        if (r <= 0)
            goto out;
        n += (size_t)r;
        req[n] = '\0';
        if ((end = strstr(req, "\r\n\r\n")) == NULL)
            continue;
        const char *cl = strcasestr(req, "\r\nContent-Length:");
        size_t want = cl != NULL && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
        if (n >= (size_t)(end + 4 - req) + want)
            break;
    }
    if (end == NULL)
        goto out;
    *end = '\0';
    char method[8], target[4096];
    if (sscanf(req, "%7s %4095s", method, target) != 2)
        goto out;
    answer a = {NULL, 0, 0};
    handle(method, target, end + 4, &a);
    for (size_t off = 0; off < a.len;) {
        int w = SSL_write(ssl, a.buf + off, (int)(a.len - off));
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(a.buf);
    SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    close(fd);
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!S.stop) {
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (S.stop) {
            close(fd);
            break;
        }
        serve_one(fd);
    }
    return NULL;
}

/* A self-signed P-256 certificate for 127.0.0.1 (its own trust anchor), key into the context. */
static int make_cert(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (pk == NULL || x == NULL)
        return 0;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"login test", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", "IP:127.0.0.1"},
                             {"basicConstraints", "critical,CA:TRUE"},
                             {"keyUsage", "critical,digitalSignature,keyCertSign"}};
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (e == NULL)
            return 0;
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, pk, EVP_sha256()) == 0)
        return 0;
    FILE *f = fopen(S.ca_file, "w");
    if (f == NULL)
        return 0;
    PEM_write_X509(f, x);
    fclose(f);
    int ok = SSL_CTX_use_certificate(S.ctx, x) == 1 && SSL_CTX_use_PrivateKey(S.ctx, pk) == 1;
    X509_free(x);
    EVP_PKEY_free(pk);
    return ok;
}

static int server_start(void)
{
    memset(&S, 0, sizeof S);
    const char *td = getenv("TMPDIR");
    snprintf(S.ca_file, sizeof S.ca_file, "%s/mcx-login-flow-%d.pem",
             td != NULL && td[0] != '\0' ? td : "/tmp", (int)getpid());
    S.ctx = SSL_CTX_new(TLS_server_method());
    if (S.ctx == NULL || !make_cert())
        return 0;
    SSL_CTX_set_min_proto_version(S.ctx, TLS1_2_VERSION);
    snprintf(S.sub, sizeof S.sub, "alice");
    make_hostile_desc();
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (S.lfd < 0 || bind(S.lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(S.lfd, 16) != 0 || getsockname(S.lfd, (struct sockaddr *)&sa, &sl) != 0)
        return 0;
    S.port = ntohs(sa.sin_port);
    snprintf(S.issuer, sizeof S.issuer, "https://127.0.0.1:%u", S.port);
    if (mcx_signing_key_generate(&S.key) != MCX_OK ||
        mcx_signing_key_generate(&S.foreign) != MCX_OK)
        return 0;
    return pthread_create(&S.th, NULL, server_main, NULL) == 0;
}

static void server_stop(void)
{
    S.stop = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* wake accept() */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(S.port);
    if (fd >= 0) {
        (void)connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
    }
    pthread_join(S.th, NULL);
    close(S.lfd);
    SSL_CTX_free(S.ctx);
    mcx_signing_key_free(S.key);
    mcx_signing_key_free(S.foreign);
    unlink(S.ca_file);
}

/* ---- the tests ---- */

static mcx_status login_as(scenario sc, const char *password, mcx_tokens *t)
{
    S.sc = sc;
    S.posts_with_password = 0;
    S.pkce_ok = 0;
    S.hidden_ok = 0;
    mcx_login_params p;
    memset(&p, 0, sizeof p);
    p.idms_url = S.issuer;
    p.username = "alice";
    p.password = password;
    p.ca_file = S.ca_file;
    return mcx_login_pkce(&p, t);
}

static void test_login_ok_refresh_exchange(void)
{
    mcx_tokens t;
    CHECK_OK(login_as(SC_OK, "right", &t));
    CHECK(S.pkce_ok);
    CHECK(S.hidden_ok);
    CHECK(strlen(S.challenge) == 43);
    CHECK(t.issuer != NULL && strcmp(t.issuer, S.issuer) == 0);
    CHECK(t.access_token != NULL && strncmp(t.access_token, "eyJ", 3) == 0);
    CHECK(t.id_token != NULL && t.refresh_token != NULL && strcmp(t.refresh_token, "rt-1") == 0);
    CHECK(t.scope != NULL && strcmp(t.scope, "openid 3gpp:mc:ptt_service") == 0);
    int64_t now = (int64_t)time(NULL);
    CHECK(t.expires_at > now + 500 && t.expires_at <= now + 600);

    /* refresh: the refresh token is rotated, the new ID token verified */
    mcx_login_params p;
    memset(&p, 0, sizeof p);
    p.ca_file = S.ca_file;
    char *old_access = strdup(t.access_token);
    CHECK_OK(mcx_login_refresh(&p, &t));
    CHECK(strcmp(S.last_grant, "refresh_token") == 0);
    CHECK(t.refresh_token != NULL && strcmp(t.refresh_token, "rt-2") == 0);
    CHECK(t.access_token != NULL && strcmp(t.access_token, old_access) != 0);
    free(old_access);
    /* the old refresh token again: refused, with the IdMS's words */
    free(t.refresh_token);
    t.refresh_token = strdup("rt-1");
    CHECK_ST(mcx_login_refresh(&p, &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "invalid_grant: refresh token reused") != NULL);
    CHECK(strcmp(t.refresh_token, "rt-1") == 0); /* a failed refresh changes nothing */
    /* tokens of another issuer are not sent to this one */
    p.idms_url = S.issuer;
    free(t.issuer);
    t.issuer = strdup("https://idms.other.example");
    CHECK_ST(mcx_login_refresh(&p, &t), MCX_E_ARG);
    free(t.issuer);
    t.issuer = strdup(S.issuer);

    /* OpenID Connect Core §12.2: a refreshed ID token for another subject is refused, and the
     * tokens held are left as they were */
    free(t.refresh_token);
    t.refresh_token = strdup(S.refresh);
    char *held_rt = strdup(t.refresh_token), *held_id = strdup(t.id_token),
         *held_at = strdup(t.access_token);
    snprintf(S.sub, sizeof S.sub, "mallory");
    CHECK_ST(mcx_login_refresh(&p, &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "'mallory'") != NULL && strstr(mcx_last_error(), "'alice'"));
    CHECK(strcmp(t.refresh_token, held_rt) == 0 && strcmp(t.id_token, held_id) == 0 &&
          strcmp(t.access_token, held_at) == 0);
    /* a subject that only starts like the session's is another subject */
    snprintf(S.sub, sizeof S.sub, "alice2");
    free(t.refresh_token);
    t.refresh_token = strdup(S.refresh);
    CHECK_ST(mcx_login_refresh(&p, &t), MCX_E_DENIED);
    snprintf(S.sub, sizeof S.sub, "alice");
    free(t.refresh_token);
    t.refresh_token = strdup(S.refresh);
    CHECK_OK(mcx_login_refresh(&p, &t));
    CHECK(strcmp(t.id_token, held_id) != 0 || strcmp(t.access_token, held_at) != 0);
    free(held_rt);
    free(held_id);
    free(held_at);
    /* server text in the reason: printable ASCII only, bounded */
    S.sc = SC_HOSTILE_TEXT;
    CHECK_ST(mcx_login_refresh(&p, &t), MCX_E_DENIED);
    CHECK(printable_only(mcx_last_error(), 400));
    CHECK(strstr(mcx_last_error(), "invalid_grant?[2J?[31m??mcx: login OK?") != NULL);
    CHECK(strstr(mcx_last_error(), "mcx: token saved ??? zzz") != NULL);
    S.sc = SC_OK;

    /* exchange, with this server as both the home and the partner IdMS */
    mcx_tokens x;
    CHECK_OK(mcx_login_exchange(&p, &t, S.issuer, NULL, &x));
    CHECK(x.access_token != NULL && strcmp(x.access_token, "PARTNER-ACCESS") == 0);
    CHECK(x.issuer != NULL && strcmp(x.issuer, S.issuer) == 0);
    CHECK(x.scope != NULL && strcmp(x.scope, "3gpp:mc:ptt_service") == 0);
    mcx_tokens_clear(&x);
    CHECK(x.access_token == NULL);
    mcx_tokens_clear(&t);
}

static void test_login_refusals(void)
{
    mcx_tokens t;
    CHECK_ST(login_as(SC_OK, "wrong", &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "Invalid username or password.") != NULL);
    CHECK(t.access_token == NULL && t.issuer == NULL);
    CHECK_ST(login_as(SC_LOCKED, "right", &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "too many failed attempts") != NULL);
    CHECK_ST(login_as(SC_ERROR_REDIRECT, "right", &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "access_denied: user disabled") != NULL);
    CHECK_ST(login_as(SC_TOKEN_ERROR, "right", &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "IdMS refused: invalid_grant: code expired") != NULL);
    /* an error redirect with escape sequences and line breaks: shown as printable ASCII only */
    CHECK_ST(login_as(SC_HOSTILE_TEXT, "right", &t), MCX_E_DENIED);
    CHECK(printable_only(mcx_last_error(), 400));
    CHECK(strstr(mcx_last_error(), "IdMS refused: invalid_grant?[2J?[31m??mcx: login OK?: "
                                   "denied?]0;pwned???mcx: token saved ???") != NULL);
    CHECK(t.access_token == NULL);
}

static void test_login_attacks(void)
{
    mcx_tokens t;
    /* OpenID Connect Discovery §4.3 */
    CHECK_ST(login_as(SC_ISSUER_MISMATCH, "right", &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "issuer") != NULL);
    /* the password never leaves for another origin, nor travels in a GET */
    CHECK_ST(login_as(SC_FORM_ELSEWHERE, "right", &t), MCX_E_ENCODING);
    CHECK(S.posts_with_password == 0);
    CHECK_ST(login_as(SC_FORM_GET, "right", &t), MCX_E_ENCODING);
    CHECK(S.posts_with_password == 0);
    /* CSRF (RFC 6749 §10.12) and mix-up (RFC 9207) */
    CHECK_ST(login_as(SC_STATE_MISMATCH, "right", &t), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "state") != NULL);
    CHECK_ST(login_as(SC_ISS_MISMATCH, "right", &t), MCX_E_DENIED);
    CHECK_ST(login_as(SC_ISS_MISSING, "right", &t), MCX_E_DENIED);
    CHECK_ST(login_as(SC_NO_CODE, "right", &t), MCX_E_ENCODING);
    /* the ID token: replayed nonce, another signer, another audience */
    CHECK_ST(login_as(SC_NONCE_MISMATCH, "right", &t), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "nonce") != NULL);
    CHECK(t.access_token == NULL);
    mcx_status st = login_as(SC_FOREIGN_KEY, "right", &t);
    CHECK(st == MCX_E_UNKNOWN_PEER || st == MCX_E_SIG_INVALID);
    CHECK_ST(login_as(SC_AUD_MISMATCH, "right", &t), MCX_E_DENIED);
    /* redirects are never followed; answers are bounded */
    S.elsewhere_hits = 0;
    CHECK_ST(login_as(SC_PAGE_REDIRECT, "right", &t), MCX_E_ENCODING);
    CHECK(S.elsewhere_hits == 0);
    CHECK_ST(login_as(SC_HUGE_PAGE, "right", &t), MCX_E_IO);
    CHECK(strstr(mcx_last_error(), "larger than") != NULL);
}

static void test_tls_trust(void)
{
    mcx_tokens t;
    mcx_login_params p;
    memset(&p, 0, sizeof p);
    p.idms_url = S.issuer;
    p.username = "alice";
    p.password = "right";
    /* the system store does not trust the test certificate */
    CHECK_ST(mcx_login_pkce(&p, &t), MCX_E_IO);
    /* nor does a CA file that does not exist */
    p.ca_file = "/nonexistent/ca.pem";
    CHECK_ST(mcx_login_pkce(&p, &t), MCX_E_IO);
    /* the certificate names 127.0.0.1 only */
    char url[64];
    snprintf(url, sizeof url, "https://localhost:%u", S.port);
    p.idms_url = url;
    p.ca_file = S.ca_file;
    CHECK_ST(mcx_login_pkce(&p, &t), MCX_E_IO);
}

int main(void)
{
    /* the client hangs up on answers it refuses (too large): the server's write must not kill us */
    signal(SIGPIPE, SIG_IGN);
    if (!server_start()) {
        fprintf(stderr, "cannot start the TLS test server\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    RUN(test_login_ok_refresh_exchange);
    RUN(test_login_refusals);
    RUN(test_login_attacks);
    RUN(test_tls_trust);
    server_stop();
    return test_summary();
}
