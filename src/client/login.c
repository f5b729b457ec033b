/* The client side of MCX user authentication (include/mcxsec/login.h): OpenID Connect discovery,
 * the authorization code flow with PKCE driven from a terminal, refresh, and the inter-domain
 * token exchange. Every secret (password, code, verifier, tokens) lives in buffers wiped before
 * they are freed. */
#include "mcxsec/login.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/http_internal.h"
#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

#define DEFAULT_CLIENT_ID    "mcx-cli"
#define DEFAULT_REDIRECT_URI "http://127.0.0.1/callback"
#define DEFAULT_SCOPE                                                                              \
    MCX_SCOPE_OPENID " " MCX_SCOPE_PTT_SERVICE " " MCX_SCOPE_PTT_KMS " " MCX_SCOPE_PTT_CMS         \
                     " " MCX_SCOPE_PTT_GMS " " MCX_SCOPE_VIDEO_SERVICE " " MCX_SCOPE_VIDEO_KMS     \
                     " " MCX_SCOPE_VIDEO_CMS " " MCX_SCOPE_VIDEO_GMS " " MCX_SCOPE_DATA_SERVICE    \
                     " " MCX_SCOPE_DATA_KMS " " MCX_SCOPE_DATA_CMS " " MCX_SCOPE_DATA_GMS

/* RFC 8693 §3 token type identifiers */
#define GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define TT_ACCESS            "urn:ietf:params:oauth:token-type:access_token"
#define TT_ID                "urn:ietf:params:oauth:token-type:id_token"

#define URL_MAX 2048

void mcx_tokens_clear(mcx_tokens *t)
{
    if (t == NULL)
        return;
    mcx_str_wipe_free(t->issuer);
    mcx_str_wipe_free(t->access_token);
    mcx_str_wipe_free(t->id_token);
    mcx_str_wipe_free(t->refresh_token);
    mcx_str_wipe_free(t->scope);
    memset(t, 0, sizeof *t);
}

static char *dup_str(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

static const char *client_id_of(const mcx_login_params *p)
{
    return p->client_id != NULL ? p->client_id : DEFAULT_CLIENT_ID;
}

static const char *redirect_of(const mcx_login_params *p)
{
    return p->redirect_uri != NULL ? p->redirect_uri : DEFAULT_REDIRECT_URI;
}

/* ---- discovery (OpenID Connect Discovery 1.0 §4) ---- */

typedef struct discovery {
    char *issuer, *authorization_endpoint, *token_endpoint, *jwks_uri;
    int iss_param_supported; /* RFC 9207 §3 authorization_response_iss_parameter_supported */
} discovery;

static void discovery_free(discovery *d)
{
    free(d->issuer);
    free(d->authorization_endpoint);
    free(d->token_endpoint);
    free(d->jwks_uri);
    memset(d, 0, sizeof *d);
}

static mcx_status json_body(const mcx_http_response *r, const char *what, json_t **out)
{
    json_error_t err;
    *out = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return MCX_FAIL(MCX_E_ENCODING, "%s: answer is not a JSON object (HTTP %ld)", what,
                        r->status);
    }
    return MCX_OK;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static mcx_status discover(const char *issuer, const char *ca_file, discovery *d)
{
    memset(d, 0, sizeof *d);
    if (issuer == NULL || issuer[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "login: no IdMS URL");
    size_t n = strlen(issuer);
    if (n > URL_MAX)
        return MCX_FAIL(MCX_E_ARG, "login: IdMS URL too long");
    /* §4.1: the issuer with any terminating '/' removed, then the well-known path */
    char url[URL_MAX + 64];
    snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration",
             (int)(issuer[n - 1] == '/' ? n - 1 : n), issuer);
    mcx_http_response r;
    MCX_GUARD(mcx_http_request(url, NULL, ca_file, &r));
    mcx_status st = MCX_OK;
    json_t *j = NULL;
    if (r.status != 200) {
        st = MCX_FAIL(MCX_E_IO, "discovery: %s answered HTTP %ld", url, r.status);
        goto out;
    }
    MCX_GUARD_GOTO(st, json_body(&r, "discovery", &j), out);
    const char *iss = jstr(j, "issuer"), *az = jstr(j, "authorization_endpoint"),
               *tk = jstr(j, "token_endpoint"), *jw = jstr(j, "jwks_uri");
    if (iss == NULL || az == NULL || tk == NULL || jw == NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "discovery: issuer, authorization_endpoint, token_endpoint "
                                      "or jwks_uri missing");
        goto out;
    }
    /* §4.3: the issuer returned MUST be identical to the one the configuration was asked for,
     * else an attacker's document could name another issuer's keys */
    if (strcmp(iss, issuer) != 0) {
        char got[MCX_SHOWN_MAX], asked[MCX_SHOWN_MAX];
        st = MCX_FAIL(MCX_E_DENIED, "discovery: issuer '%s' is not the IdMS asked for '%s'",
                      mcx_printable(iss, got, sizeof got),
                      mcx_printable(issuer, asked, sizeof asked));
        goto out;
    }
    /* RFC 7636 §4.3 / RFC 8414 §2: when methods are listed, S256 must be among them */
    json_t *m = json_object_get(j, "code_challenge_methods_supported");
    if (json_is_array(m)) {
        int s256 = 0;
        size_t i;
        json_t *v;
        json_array_foreach(m, i, v) s256 |=
            json_is_string(v) && strcmp(json_string_value(v), "S256") == 0;
        if (!s256) {
            st = MCX_FAIL(MCX_E_UNSUPPORTED, "discovery: the IdMS does not offer PKCE S256");
            goto out;
        }
    }
    d->iss_param_supported =
        json_is_true(json_object_get(j, "authorization_response_iss_parameter_supported"));
    d->issuer = dup_str(iss);
    d->authorization_endpoint = dup_str(az);
    d->token_endpoint = dup_str(tk);
    d->jwks_uri = dup_str(jw);
    if (d->issuer == NULL || d->authorization_endpoint == NULL || d->token_endpoint == NULL ||
        d->jwks_uri == NULL)
        st = MCX_FAIL(MCX_E_NOMEM, "discovery: out of memory");
out:
    json_decref(j);
    mcx_http_response_free(&r);
    if (st != MCX_OK)
        discovery_free(d);
    return st;
}

/* ---- the token endpoint (RFC 6749 §5) ---- */

/* An error answer of the token endpoint (RFC 6749 §5.2) as MCX_E_DENIED naming it, else a
 * failure naming the HTTP status. */
static mcx_status token_error(const mcx_http_response *r, const char *who)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    const char *e = jstr(j, "error"), *desc = jstr(j, "error_description");
    mcx_status st;
    char es[65], ds[MCX_SHOWN_MAX];
    if (e != NULL)
        st = MCX_FAIL(MCX_E_DENIED, "%s refused: %s%s%s", who, mcx_printable(e, es, sizeof es),
                      desc ? ": " : "", mcx_printable(desc, ds, sizeof ds));
    else if (r->status == 429)
        st = MCX_FAIL(MCX_E_DENIED, "%s refused: too many requests", who);
    else
        st = MCX_FAIL(MCX_E_IO, "%s: token endpoint answered HTTP %ld", who, r->status);
    json_decref(j);
    return st;
}

/* POST form to the token endpoint and parse a successful answer (RFC 6749 §5.1) into out, which
 * receives access_token, refresh_token, id_token, scope and expires_at (issuer untouched).
 * issued_type: for RFC 8693 answers, the issued_token_type required (else NULL). */
static mcx_status token_call(const char *endpoint, const char *form, const char *ca_file,
                             const char *who, const char *issued_type, mcx_tokens *out)
{
    mcx_http_response r;
    MCX_GUARD(mcx_http_request(endpoint, form, ca_file, &r));
    mcx_status st = MCX_OK;
    json_t *j = NULL;
    if (r.status != 200) {
        st = token_error(&r, who);
        goto out;
    }
    MCX_GUARD_GOTO(st, json_body(&r, who, &j), out);
    const char *at = jstr(j, "access_token"), *tt = jstr(j, "token_type");
    json_t *exp = json_object_get(j, "expires_in");
    if (at == NULL || at[0] == '\0' || tt == NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "%s: answer without access_token or token_type", who);
        goto out;
    }
    /* RFC 6749 §7.1 / RFC 6750: the only type this client can present. RFC 8693 §2.2.1 allows
     * "N_A" when the issued token is not an access token. */
    if (strcasecmp(tt, "Bearer") != 0 && !(issued_type != NULL && strcmp(tt, "N_A") == 0)) {
        char ts[33];
        st = MCX_FAIL(MCX_E_UNSUPPORTED, "%s: token_type '%s' is not Bearer", who,
                      mcx_printable(tt, ts, sizeof ts));
        goto out;
    }
    if (issued_type != NULL) {
        const char *it = jstr(j, "issued_token_type");
        if (it == NULL || strcmp(it, issued_type) != 0) {
            st = MCX_FAIL(MCX_E_ENCODING, "%s: issued_token_type is not %s", who, issued_type);
            goto out;
        }
    }
    if (exp != NULL && (!json_is_integer(exp) || json_integer_value(exp) <= 0 ||
                        json_integer_value(exp) > 100 * 365 * 86400LL)) {
        st = MCX_FAIL(MCX_E_ENCODING, "%s: expires_in is not a positive integer", who);
        goto out;
    }
    const char *rt = jstr(j, "refresh_token"), *it = jstr(j, "id_token"), *sc = jstr(j, "scope");
    out->access_token = dup_str(at);
    out->refresh_token = dup_str(rt);
    out->id_token = dup_str(it);
    out->scope = dup_str(sc);
    out->expires_at = (int64_t)time(NULL) + (exp != NULL ? (int64_t)json_integer_value(exp) : 0);
    if (out->access_token == NULL || (rt && !out->refresh_token) || (it && !out->id_token) ||
        (sc && !out->scope))
        st = MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", who);
out:
    if (j != NULL) {
        /* the answer's strings are tokens: wipe them inside jansson's copy too */
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) if (json_is_string(v))
            mcx_memzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
        json_decref(j);
    }
    mcx_http_response_free(&r);
    return st;
}

/* Check an ID token (OpenID Connect Core §3.1.3.7): signature by the issuer's keys from jwks_uri,
 * iss, aud = client_id, typ, exp/iat; and, when nonce is given, its nonce (§3.1.3.7 step 11). The
 * subject is copied to sub (may be NULL). */
static mcx_status check_id_token(const discovery *d, const mcx_login_params *p,
                                 const char *id_token, const char *nonce, char *sub, size_t sub_cap)
{
    mcx_token_verifier_config vc;
    memset(&vc, 0, sizeof vc);
    vc.issuer = d->issuer;
    vc.audience = client_id_of(p);
    vc.kind = MCX_TOKEN_ID;
    vc.jwks_uri = d->jwks_uri;
    vc.ca_file = p->ca_file;
    mcx_token_verifier *v = NULL;
    MCX_GUARD(mcx_token_verifier_new(&v, &vc));
    mcx_token_claims *c = calloc(1, sizeof *c);
    mcx_status st = MCX_OK;
    if (c == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "login: out of memory");
        goto out;
    }
    st = mcx_token_verify(v, id_token, NULL, (int64_t)time(NULL), c);
    if (st != MCX_OK) {
        /* keep the verifier's reason, say whose token it was; the reason may quote the token's
         * claims, which the IdMS wrote */
        char why[256];
        mcx_printable(mcx_last_error(), why, sizeof why);
        st = MCX_FAIL(st, "ID token from the IdMS rejected: %s", why);
        goto out;
    }
    if (nonce != NULL) {
        /* verified above, so its claims may now be read directly */
        json_t *h = NULL, *cl = NULL;
        MCX_GUARD_GOTO(st, mcx_jwt_decode_unverified(id_token, &h, &cl), out);
        const char *got = jstr(cl, "nonce");
        size_t n = strlen(nonce);
        int ok = got != NULL && strlen(got) == n && mcx_ct_equal(got, nonce, n);
        json_decref(h);
        json_decref(cl);
        if (!ok) {
            st = MCX_FAIL(MCX_E_DENIED, "ID token: nonce does not match the request");
            goto out;
        }
    }
    if (sub != NULL)
        snprintf(sub, sub_cap, "%s", c->sub);
out:
    free(c);
    mcx_token_verifier_free(v);
    return st;
}

/* OpenID Connect Core §12.2: an ID token returned on refresh must name the same subject as the
 * one issued at the original authentication, else the session now belongs to someone else (an
 * IdMS bug, or tokens swapped under us). old_id was verified when it was received; new_id has just
 * been. The sub strings are compared whole (json_string_length: no cut, no stop at a NUL). */
static mcx_status same_subject(const char *old_id, const char *new_id)
{
    json_t *oh = NULL, *oc = NULL, *nh = NULL, *nc = NULL;
    mcx_status st = MCX_OK;
    if (mcx_jwt_decode_unverified(old_id, &oh, &oc) != MCX_OK) {
        st = MCX_FAIL(MCX_E_ENCODING, "refresh: the ID token held cannot be read (log in again)");
        goto out;
    }
    MCX_GUARD_GOTO(st, mcx_jwt_decode_unverified(new_id, &nh, &nc), out);
    const json_t *os = json_object_get(oc, "sub"), *ns = json_object_get(nc, "sub");
    if (!json_is_string(os) || !json_is_string(ns)) {
        st = MCX_FAIL(MCX_E_ENCODING, "refresh: an ID token without sub");
        goto out;
    }
    size_t on = json_string_length(os);
    if (json_string_length(ns) != on ||
        memcmp(json_string_value(os), json_string_value(ns), on) != 0) {
        char a[MCX_SHOWN_MAX], b[MCX_SHOWN_MAX];
        st = MCX_FAIL(MCX_E_DENIED,
                      "refresh: the new ID token is for subject '%s', the session is '%s' "
                      "(OpenID Connect Core 12.2)",
                      mcx_printable(json_string_value(ns), a, sizeof a),
                      mcx_printable(json_string_value(os), b, sizeof b));
    }
out:
    json_decref(oh);
    json_decref(oc);
    json_decref(nh);
    json_decref(nc);
    return st;
}

/* ---- the login (RFC 6749 §4.1 with RFC 7636) ---- */

static mcx_status random_b64url(char *out, size_t octets)
{
    uint8_t r[32];
    if (octets > sizeof r)
        return MCX_FAIL(MCX_E_ARG, "login: random value too long");
    MCX_GUARD(mcx_random(r, octets));
    mcx_b64url_encode(r, octets, out);
    mcx_memzero(r, sizeof r);
    return MCX_OK;
}

/* A refusal read off a page the IdMS answered with, as MCX_E_DENIED. */
static mcx_status page_refusal(const mcx_http_response *r, const char *what)
{
    char text[256];
    if (r->status == 429)
        return MCX_FAIL(MCX_E_DENIED, "%s: too many failed attempts", what);
    if (mcx_html_error_text(r->body, r->body_len, text, sizeof text) && text[0] != '\0')
        return MCX_FAIL(MCX_E_DENIED, "%s: %s", what, text);
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    const char *e = jstr(j, "error"), *desc = jstr(j, "error_description");
    mcx_status st;
    char es[65], ds[MCX_SHOWN_MAX];
    if (e != NULL)
        st = MCX_FAIL(MCX_E_DENIED, "%s: IdMS refused: %s%s%s", what,
                      mcx_printable(e, es, sizeof es), desc ? ": " : "",
                      mcx_printable(desc, ds, sizeof ds));
    else
        st = MCX_FAIL(MCX_E_DENIED, "%s: IdMS answered HTTP %ld", what, r->status);
    json_decref(j);
    return st;
}

/* Check the redirect that ends the login and take its code (RFC 6749 §4.1.2, RFC 9207 §2.4). */
static mcx_status take_code(const discovery *d, const mcx_login_params *p, const char *location,
                            const char *state, char **code)
{
    mcx_redirect rd;
    MCX_GUARD(mcx_redirect_parse(location, redirect_of(p), &rd));
    mcx_status st = MCX_OK;
    /* RFC 9207 §2.4: iss, when present (or promised by discovery), must be the issuer: a mix-up
     * attacker's IdMS cannot then pass its code to us as this one's */
    if (rd.iss != NULL ? strcmp(rd.iss, d->issuer) != 0 : d->iss_param_supported) {
        st = MCX_FAIL(MCX_E_DENIED, "login: redirect %s",
                      rd.iss ? "from another issuer" : "without iss");
        goto out;
    }
    if (rd.error != NULL) {
        char es[65], ds[MCX_SHOWN_MAX];
        st = MCX_FAIL(MCX_E_DENIED, "IdMS refused: %s%s%s", mcx_printable(rd.error, es, sizeof es),
                      rd.error_description ? ": " : "",
                      mcx_printable(rd.error_description, ds, sizeof ds));
        goto out;
    }
    size_t n = strlen(state);
    /* RFC 6749 §10.12: the state binds the answer to this request (CSRF) */
    if (rd.state == NULL || strlen(rd.state) != n || !mcx_ct_equal(rd.state, state, n)) {
        st = MCX_FAIL(MCX_E_ENCODING, "login: redirect state does not match the request");
        goto out;
    }
    if (rd.code == NULL || rd.code[0] == '\0') {
        st = MCX_FAIL(MCX_E_ENCODING, "login: redirect without a code");
        goto out;
    }
    *code = rd.code;
    rd.code = NULL;
out:
    mcx_redirect_free(&rd);
    return st;
}

mcx_status mcx_login_pkce(const mcx_login_params *p, mcx_tokens *out)
{
    if (p == NULL || out == NULL || p->username == NULL || p->password == NULL)
        return MCX_FAIL(MCX_E_ARG, "login: username and password are required");
    memset(out, 0, sizeof *out);
    const char *scope = p->scope != NULL ? p->scope : DEFAULT_SCOPE;
    discovery d;
    MCX_GUARD(discover(p->idms_url, p->ca_file, &d));

    char verifier[MCX_PKCE_CHARS + 1], challenge[MCX_PKCE_CHARS + 1], state[32], nonce[32];
    char *auth_url = NULL, *action = NULL, *code = NULL;
    mcx_form q, post, tok;
    memset(&q, 0, sizeof q);
    memset(&post, 0, sizeof post);
    memset(&tok, 0, sizeof tok);
    mcx_html_form form;
    memset(&form, 0, sizeof form);
    mcx_http_response page, ans;
    memset(&page, 0, sizeof page);
    memset(&ans, 0, sizeof ans);
    mcx_status st;

    MCX_GUARD_GOTO(st, mcx_pkce_verifier(verifier), out);
    MCX_GUARD_GOTO(st, mcx_pkce_challenge(verifier, challenge), out);
    MCX_GUARD_GOTO(st, random_b64url(state, 16), out);
    MCX_GUARD_GOTO(st, random_b64url(nonce, 16), out);

    /* 1. the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1) */
    mcx_form_add(&q, "response_type", "code");
    mcx_form_add(&q, "client_id", client_id_of(p));
    mcx_form_add(&q, "redirect_uri", redirect_of(p));
    mcx_form_add(&q, "scope", scope);
    mcx_form_add(&q, "state", state);
    mcx_form_add(&q, "nonce", nonce);
    mcx_form_add(&q, "code_challenge", challenge);
    mcx_form_add(&q, "code_challenge_method", "S256");
    const char *qs = mcx_form_text(&q);
    size_t an = strlen(d.authorization_endpoint);
    auth_url = qs != NULL ? malloc(an + strlen(qs) + 2) : NULL;
    if (auth_url == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "login: out of memory");
        goto out;
    }
    snprintf(auth_url, an + strlen(qs) + 2, "%s%c%s", d.authorization_endpoint,
             strchr(d.authorization_endpoint, '?') != NULL ? '&' : '?', qs);
    MCX_GUARD_GOTO(st, mcx_http_request(auth_url, NULL, p->ca_file, &page), out);
    if (page.status == 302 || page.status == 303) {
        /* refused before any login (e.g. unknown scope): an error redirect, or a bad one */
        st = take_code(&d, p, page.location, state, &code);
        if (st == MCX_OK)
            st = MCX_FAIL(MCX_E_ENCODING, "login: a code was issued without a login");
        goto out;
    }
    if (page.status != 200) {
        st = page_refusal(&page, "authorization request");
        goto out;
    }

    /* 2. the login form: its hidden fields, our credentials */
    MCX_GUARD_GOTO(st, mcx_html_form_scrape(page.body, page.body_len, &form), out);
    if (strcmp(form.method, "post") != 0) {
        /* a GET form would put the password in a URL (and in server logs) */
        char ms[sizeof form.method];
        st = MCX_FAIL(MCX_E_ENCODING, "login page: the form's method is '%s', not post",
                      mcx_printable(form.method, ms, sizeof ms));
        goto out;
    }
    if (mcx_html_form_value(&form, "username") == NULL ||
        mcx_html_form_value(&form, "password") == NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "login page: the form has no username or password field");
        goto out;
    }
    MCX_GUARD_GOTO(st, mcx_form_action_resolve(auth_url, form.action, &action), out);
    for (size_t i = 0; i < form.n_inputs; i++)
        if (strcmp(form.inputs[i].type, "hidden") == 0 &&
            strcmp(form.inputs[i].name, "username") != 0 &&
            strcmp(form.inputs[i].name, "password") != 0)
            mcx_form_add(&post, form.inputs[i].name, form.inputs[i].value);
    mcx_form_add(&post, "username", p->username);
    mcx_form_add(&post, "password", p->password);
    if (mcx_form_text(&post) == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "login: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(st, mcx_http_request(action, mcx_form_text(&post), p->ca_file, &ans), out);
    mcx_form_free(&post); /* the password, wiped at once */
    if (ans.status == 302 || ans.status == 303) {
        MCX_GUARD_GOTO(st, take_code(&d, p, ans.location, state, &code), out);
    } else if (ans.status == 200 || ans.status == 400 || ans.status == 401 || ans.status == 403 ||
               ans.status == 429) {
        st = page_refusal(&ans, "login refused");
        goto out;
    } else {
        st = MCX_FAIL(MCX_E_IO, "login: the IdMS answered the form with HTTP %ld", ans.status);
        goto out;
    }

    /* 3. the code for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5); a public client names itself */
    mcx_form_add(&tok, "grant_type", "authorization_code");
    mcx_form_add(&tok, "code", code);
    mcx_form_add(&tok, "redirect_uri", redirect_of(p));
    mcx_form_add(&tok, "client_id", client_id_of(p));
    mcx_form_add(&tok, "code_verifier", verifier);
    if (mcx_form_text(&tok) == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "login: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(
        st, token_call(d.token_endpoint, mcx_form_text(&tok), p->ca_file, "IdMS", NULL, out), out);
    if (out->scope == NULL && (out->scope = dup_str(scope)) == NULL) {
        /* RFC 6749 §5.1: no scope in the answer means the scope requested */
        st = MCX_FAIL(MCX_E_NOMEM, "login: out of memory");
        goto out;
    }
    if (out->id_token == NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "IdMS: no id_token in the answer to an openid request");
        goto out;
    }
    MCX_GUARD_GOTO(st, check_id_token(&d, p, out->id_token, nonce, NULL, 0), out);
    if ((out->issuer = dup_str(d.issuer)) == NULL)
        st = MCX_FAIL(MCX_E_NOMEM, "login: out of memory");
out:
    if (st != MCX_OK)
        mcx_tokens_clear(out);
    mcx_memzero(verifier, sizeof verifier);
    mcx_memzero(state, sizeof state);
    mcx_memzero(nonce, sizeof nonce);
    mcx_str_wipe_free(auth_url);
    mcx_str_wipe_free(action);
    mcx_str_wipe_free(code);
    mcx_form_free(&q);
    mcx_form_free(&post);
    mcx_form_free(&tok);
    mcx_html_form_free(&form);
    mcx_http_response_free(&page);
    mcx_http_response_free(&ans);
    discovery_free(&d);
    return st;
}

/* Replace *slot with a new value (wiping the old one) when the new one is given. */
static void take(char **slot, char **nv)
{
    if (*nv == NULL)
        return;
    mcx_str_wipe_free(*slot);
    *slot = *nv;
    *nv = NULL;
}

mcx_status mcx_login_refresh(const mcx_login_params *p, mcx_tokens *t)
{
    if (p == NULL || t == NULL || t->refresh_token == NULL)
        return MCX_FAIL(MCX_E_ARG, "refresh: no refresh token");
    const char *idms = p->idms_url != NULL ? p->idms_url : t->issuer;
    discovery d;
    MCX_GUARD(discover(idms, p->ca_file, &d));
    mcx_status st;
    mcx_form f;
    memset(&f, 0, sizeof f);
    mcx_tokens n;
    memset(&n, 0, sizeof n);
    if (t->issuer != NULL && strcmp(t->issuer, d.issuer) != 0) {
        char a[MCX_SHOWN_MAX], b[MCX_SHOWN_MAX];
        st = MCX_FAIL(MCX_E_ARG, "refresh: the tokens are from '%s', not '%s'",
                      mcx_printable(t->issuer, a, sizeof a), mcx_printable(d.issuer, b, sizeof b));
        goto out;
    }
    /* RFC 6749 §6 */
    mcx_form_add(&f, "grant_type", "refresh_token");
    mcx_form_add(&f, "refresh_token", t->refresh_token);
    mcx_form_add(&f, "client_id", client_id_of(p));
    if (p->scope != NULL)
        mcx_form_add(&f, "scope", p->scope);
    if (mcx_form_text(&f) == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "refresh: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(
        st, token_call(d.token_endpoint, mcx_form_text(&f), p->ca_file, "IdMS", NULL, &n), out);
    /* OpenID Connect Core §12.2: a new ID token carries no nonce, but is checked all the same,
     * and its subject must be the session's. Tokens held without an ID token (an inter-domain
     * access token) have no subject to compare with. */
    if (n.id_token != NULL) {
        MCX_GUARD_GOTO(st, check_id_token(&d, p, n.id_token, NULL, NULL, 0), out);
        if (t->id_token != NULL)
            MCX_GUARD_GOTO(st, same_subject(t->id_token, n.id_token), out);
    }
    if (t->issuer == NULL && (t->issuer = dup_str(d.issuer)) == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "refresh: out of memory");
        goto out;
    }
    take(&t->access_token, &n.access_token);
    take(&t->refresh_token, &n.refresh_token); /* rotated (RFC 9700 §4.14.2) */
    take(&t->id_token, &n.id_token);
    take(&t->scope, &n.scope);
    t->expires_at = n.expires_at;
out:
    mcx_tokens_clear(&n);
    mcx_form_free(&f);
    discovery_free(&d);
    return st;
}

mcx_status mcx_login_exchange(const mcx_login_params *p, const mcx_tokens *home,
                              const char *partner_issuer, const char *partner_ca_file,
                              mcx_tokens *out)
{
    if (p == NULL || home == NULL || out == NULL || partner_issuer == NULL ||
        home->access_token == NULL)
        return MCX_FAIL(MCX_E_ARG, "exchange: home tokens and a partner are required");
    memset(out, 0, sizeof *out);
    const char *pca = partner_ca_file != NULL ? partner_ca_file : p->ca_file;
    discovery hd, pd;
    memset(&pd, 0, sizeof pd);
    MCX_GUARD(discover(p->idms_url != NULL ? p->idms_url : home->issuer, p->ca_file, &hd));
    mcx_status st;
    mcx_form f1, f2;
    memset(&f1, 0, sizeof f1);
    memset(&f2, 0, sizeof f2);
    mcx_tokens mid;
    memset(&mid, 0, sizeof mid);
    MCX_GUARD_GOTO(st, discover(partner_issuer, pca, &pd), out);

    /* 1. home IdMS: the access token for an ID token addressed to the partner (RFC 8693 §2.1,
     * TR 33.880 §7.7) */
    mcx_form_add(&f1, "grant_type", GRANT_TOKEN_EXCHANGE);
    mcx_form_add(&f1, "client_id", client_id_of(p));
    mcx_form_add(&f1, "subject_token", home->access_token);
    mcx_form_add(&f1, "subject_token_type", TT_ACCESS);
    mcx_form_add(&f1, "requested_token_type", TT_ID);
    mcx_form_add(&f1, "audience", pd.issuer);
    if (mcx_form_text(&f1) == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "exchange: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(
        st, token_call(hd.token_endpoint, mcx_form_text(&f1), p->ca_file, "home IdMS", TT_ID, &mid),
        out);

    /* 2. partner IdMS: that ID token for the partner's access token */
    mcx_form_add(&f2, "grant_type", GRANT_TOKEN_EXCHANGE);
    mcx_form_add(&f2, "client_id", client_id_of(p));
    mcx_form_add(&f2, "subject_token", mid.access_token);
    mcx_form_add(&f2, "subject_token_type", TT_ID);
    mcx_form_add(&f2, "requested_token_type", TT_ACCESS);
    if (p->scope != NULL)
        mcx_form_add(&f2, "scope", p->scope);
    if (mcx_form_text(&f2) == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "exchange: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(
        st, token_call(pd.token_endpoint, mcx_form_text(&f2), pca, "partner IdMS", NULL, out), out);
    if ((out->issuer = dup_str(pd.issuer)) == NULL)
        st = MCX_FAIL(MCX_E_NOMEM, "exchange: out of memory");
out:
    if (st != MCX_OK)
        mcx_tokens_clear(out);
    mcx_tokens_clear(&mid);
    mcx_form_free(&f1);
    mcx_form_free(&f2);
    discovery_free(&hd);
    discovery_free(&pd);
    return st;
}
