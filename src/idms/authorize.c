/* The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2, RFC 7636): GET shows
 * the login page for a validated request, POST checks the credentials and redirects with a code.
 *
 * client_id and redirect_uri are checked first: until both are known good, errors are shown as a
 * page and never redirected, so that the endpoint cannot be used as an open redirector (RFC 6749
 * §4.1.2.1, §10.15). The validated parameters are kept server-side in login_requests; the page
 * only carries a random reference to them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

#define MAX_STATE 1024
#define MAX_NONCE 512

static const char login_invalid[] = "Invalid username or password.";

typedef struct login_req {
    char id[IDMS_TOKEN_CHARS + 1];
    char client_id[129];
    char redirect_uri[2049];
    char scope[1024];
    char state[MAX_STATE + 1];
    char nonce[MAX_NONCE + 1];
    char challenge[129];
    int has_state, has_nonce;
    int64_t expires_at;
} login_req;

/* The login page (HTML5). Every value from the request is escaped. */
static mcx_status login_page(idms_req *r, unsigned status, const login_req *lr,
                             const char *username, const char *error)
{
    idms_buf b = {0};
    idms_buf_add(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\">"
                     "<title>Sign in</title><style>"
                     "body{font-family:sans-serif;max-width:22em;margin:3em auto;padding:0 1em}"
                     "h1{font-size:1.4em}label{display:block;margin-top:1em}"
                     "input{width:100%;box-sizing:border-box;padding:.4em;font-size:1em}"
                     "button{margin-top:1.5em;padding:.5em 1.5em;font-size:1em}"
                     ".error{color:#a00;font-weight:bold}.meta{color:#555;font-size:.85em}"
                     "</style></head><body><h1>Sign in</h1>\n");
    if (error != NULL) {
        idms_buf_add(&b, "<p class=\"error\" role=\"alert\">");
        idms_buf_add_html(&b, error);
        idms_buf_add(&b, "</p>\n");
    }
    idms_buf_add(&b, "<p class=\"meta\">Application: ");
    idms_buf_add_html(&b, lr->client_id);
    idms_buf_add(&b, "</p>\n<form method=\"post\" action=\"/authorize\">\n"
                     "<input type=\"hidden\" name=\"login_request\" value=\"");
    idms_buf_add_html(&b, lr->id);
    idms_buf_add(&b, "\">\n<label for=\"username\">Username</label>"
                     "<input id=\"username\" name=\"username\" autocomplete=\"username\" "
                     "required autofocus value=\"");
    idms_buf_add_html(&b, username != NULL ? username : "");
    idms_buf_add(&b, "\">\n<label for=\"password\">Password</label>"
                     "<input id=\"password\" type=\"password\" name=\"password\" "
                     "autocomplete=\"current-password\" required>\n"
                     "<button type=\"submit\">Sign in</button>\n</form>\n</body></html>\n");
    mcx_status rc = b.oom ? MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory")
                          : idms_respond_login_page(r, status, b.p, lr->redirect_uri);
    idms_buf_free(&b);
    return rc;
}

/* 302 to the client's redirect URI with the given query parameters (NULL-terminated pairs; a
 * NULL value is left out) and iss (RFC 9207). */
static mcx_status redirect_to(idms_req *r, const char *redirect_uri, const char *const *params)
{
    idms_buf b = {0};
    idms_buf_add(&b, redirect_uri);
    char sep = strchr(redirect_uri, '?') != NULL ? '&' : '?';
    for (size_t i = 0; params[i] != NULL; i += 2) {
        if (params[i + 1] == NULL)
            continue;
        idms_buf_addn(&b, &sep, 1);
        sep = '&';
        idms_buf_add(&b, params[i]);
        idms_buf_add(&b, "=");
        idms_buf_add_urlenc(&b, params[i + 1]);
    }
    idms_buf_addn(&b, &sep, 1);
    idms_buf_add(&b, "iss=");
    idms_buf_add_urlenc(&b, r->srv->cfg->issuer);
    mcx_status rc;
    if (b.oom) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    } else {
        const char *h[] = {"Location",    b.p, "Cache-Control", "no-store", "Referrer-Policy",
                           "no-referrer", NULL};
        rc = idms_respond(r, 302, "text/plain", "", 0, h);
    }
    idms_buf_free(&b);
    return rc;
}

static mcx_status redirect_error(idms_req *r, const char *redirect_uri, const char *state,
                                 const char *client_id, const char *error, const char *desc)
{
    idms_audit(r->st, r->now, "authorize", NULL, client_id, r->addr, error, desc);
    char *clean = idms_printable(desc, 1); /* RFC 6749 §4.1.2.1: %x20-21 / %x23-5B / %x5D-7E */
    const char *p[] = {"error", error, "error_description", clean, "state", state, NULL};
    mcx_status rc = redirect_to(r, redirect_uri, p);
    free(clean);
    return rc;
}

/* RFC 6749 Appendix A.5: state is VSCHAR (%x20-7E); the nonce is held to the same. They are
 * stored and echoed verbatim, so nothing else (no invalid UTF-8 for PostgreSQL) gets in. */
static int vschar(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
            return 0;
    return 1;
}

mcx_status idms_handle_authorize_get(idms_req *r)
{
    idms_form f;
    const char *q = r->query != NULL ? r->query : "";
    if (idms_form_parse(q, strlen(q), &f) != MCX_OK) {
        char why[200];
        snprintf(why, sizeof why, "The sign-in request is malformed: %s", mcx_last_error());
        return idms_respond_html_error(r, 400, "Invalid request", why);
    }
    mcx_status rc = MCX_OK;
    login_req *lr = calloc(1, sizeof *lr);
    if (lr == NULL) {
        idms_form_free(&f);
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    }
    const char *client_id = idms_form_get(&f, "client_id");
    const char *redirect_uri = idms_form_get(&f, "redirect_uri");
    const char *state = idms_form_get(&f, "state");
    int ok = 0;
    if (client_id != NULL && strlen(client_id) < sizeof lr->client_id)
        MCX_GUARD_GOTO(rc, idms_client_check(r->st, client_id, NULL, &ok), out);
    if (!ok) {
        idms_audit(r->st, r->now, "authorize", NULL, client_id, r->addr, "unauthorized_client",
                   "unknown client_id");
        rc = idms_respond_html_error(r, 400, "Unknown application",
                                     "The application that sent you here is not registered "
                                     "with this identity server.");
        goto out;
    }
    ok = 0;
    if (redirect_uri != NULL && strlen(redirect_uri) < sizeof lr->redirect_uri)
        MCX_GUARD_GOTO(rc, idms_client_check(r->st, client_id, redirect_uri, &ok), out);
    if (!ok) {
        idms_audit(r->st, r->now, "authorize", NULL, client_id, r->addr, "invalid_request",
                   "redirect_uri not registered");
        rc = idms_respond_html_error(r, 400, "Invalid redirect",
                                     "The redirect URI is not registered for this application.");
        goto out;
    }
    /* From here on errors go back to the client (RFC 6749 §4.1.2.1). */
    if (state != NULL && (strlen(state) > MAX_STATE || !vschar(state))) {
        rc = redirect_error(r, redirect_uri, NULL, client_id, "invalid_request",
                            "state must be at most 1024 characters of %x20-7E");
        goto out;
    }
    const char *rt = idms_form_get(&f, "response_type");
    if (rt == NULL) {
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_request",
                            "response_type is required");
        goto out;
    }
    if (strcmp(rt, "code") != 0) {
        rc = redirect_error(r, redirect_uri, state, client_id, "unsupported_response_type",
                            "only response_type=code is supported");
        goto out;
    }
    const char *cc = idms_form_get(&f, "code_challenge");
    const char *ccm = idms_form_get(&f, "code_challenge_method");
    if (cc == NULL) {
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_request",
                            "code_challenge (PKCE, RFC 7636) is required");
        goto out;
    }
    if (ccm == NULL || strcmp(ccm, "S256") != 0) {
        /* RFC 7636 §4.2: plain only for clients that cannot do SHA-256; every MCX client can */
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_request",
                            "code_challenge_method must be S256");
        goto out;
    }
    /* /token compares the 43-character S256 value; anything else could never be redeemed */
    if (!idms_is_s256_challenge(cc)) {
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_request",
                            "code_challenge must be 43 base64url characters (S256, RFC 7636 "
                            "section 4.2)");
        goto out;
    }
    const char *scope = idms_form_get(&f, "scope");
    if (scope == NULL) {
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_scope",
                            "scope is required and must contain openid");
        goto out;
    }
    if (idms_scope_canonical(scope, lr->scope, sizeof lr->scope) != MCX_OK) {
        /* a fixed text: the refused value is the requester's own bytes, not to be echoed */
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_scope",
                            "scope holds a value this server does not know, or is too long");
        goto out;
    }
    if (!idms_scope_has(lr->scope, MCX_SCOPE_OPENID)) {
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_scope",
                            "scope must contain openid");
        goto out;
    }
    const char *nonce = idms_form_get(&f, "nonce");
    if (nonce != NULL && (strlen(nonce) > MAX_NONCE || !vschar(nonce))) {
        rc = redirect_error(r, redirect_uri, state, client_id, "invalid_request",
                            "nonce must be at most 512 characters of %x20-7E");
        goto out;
    }
    snprintf(lr->client_id, sizeof lr->client_id, "%s", client_id);
    /* the page's CSP form-action admits it (idms_respond_login_page) */
    snprintf(lr->redirect_uri, sizeof lr->redirect_uri, "%s", redirect_uri);
    MCX_GUARD_GOTO(rc, idms_random_token(lr->id), out);
    MCX_GUARD_GOTO(rc,
                   idms_exec(r->st,
                             "INSERT INTO login_requests (id, client_id, redirect_uri, scope,"
                             " state, nonce, code_challenge, expires_at)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             NULL, "ttttttti", lr->id, client_id, redirect_uri, lr->scope, state,
                             nonce, cc, r->now + IDMS_LOGIN_TTL),
                   out);
    rc = login_page(r, 200, lr, NULL, NULL);
out:
    idms_form_free(&f);
    free(lr);
    return rc;
}

static mcx_status load_login_request(mcx_store *st, const char *id, login_req *lr, int *found)
{
    mcx_stmt *s;
    int row;
    *found = 0;
    MCX_GUARD(idms_query(st,
                         "SELECT client_id, redirect_uri, scope, state, nonce, code_challenge,"
                         " expires_at FROM login_requests WHERE id = ?",
                         &s, &row, "t", id));
    if (row) {
        *found = 1;
        snprintf(lr->id, sizeof lr->id, "%s", id);
        idms_col(s, 0, lr->client_id, sizeof lr->client_id);
        idms_col(s, 1, lr->redirect_uri, sizeof lr->redirect_uri);
        idms_col(s, 2, lr->scope, sizeof lr->scope);
        lr->has_state = !mcx_stmt_is_null(s, 3);
        idms_col(s, 3, lr->state, sizeof lr->state);
        lr->has_nonce = !mcx_stmt_is_null(s, 4);
        idms_col(s, 4, lr->nonce, sizeof lr->nonce);
        idms_col(s, 5, lr->challenge, sizeof lr->challenge);
        lr->expires_at = mcx_stmt_int(s, 6);
    }
    mcx_stmt_done(s);
    return MCX_OK;
}

static int form_content_type(idms_req *r)
{
    const char *ct = idms_header(r, "Content-Type");
    if (ct == NULL)
        return 0;
    static const char want[] = "application/x-www-form-urlencoded";
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    char c = ct[sizeof want - 1];
    return c == '\0' || c == ';' || c == ' ';
}

/* Count a failed login for the user and the address, in one transaction with its audit. */
static mcx_status count_failure(idms_req *r, const char *user_key, const char *addr_key,
                                const char *username, const char *client_id, const char *why)
{
    MCX_GUARD(mcx_store_begin(r->st));
    int locked_user = 0, locked_addr = 0;
    mcx_status rc = MCX_OK;
    if (user_key != NULL)
        rc = idms_throttle_fail(r->st, r->srv->cfg, user_key, r->now, &locked_user);
    if (rc == MCX_OK)
        rc = idms_throttle_fail(r->st, r->srv->cfg, addr_key, r->now, &locked_addr);
    if (rc == MCX_OK) {
        idms_audit(r->st, r->now, "login", username, client_id, r->addr, "failure", why);
        if (locked_user || locked_addr)
            idms_audit(r->st, r->now, "lockout", username, client_id, r->addr, "locked",
                       locked_user ? "user" : "address");
        rc = mcx_store_commit(r->st);
    }
    if (rc != MCX_OK)
        mcx_store_rollback(r->st);
    return rc;
}

mcx_status idms_handle_authorize_post(idms_req *r)
{
    if (!form_content_type(r))
        return idms_respond_html_error(r, 400, "Invalid request",
                                       "The sign-in form was not sent as a form.");
    idms_form f;
    if (idms_form_parse(r->body, r->body_len, &f) != MCX_OK)
        return idms_respond_html_error(r, 400, "Invalid request", "The sign-in form is malformed.");
    mcx_status rc = MCX_OK;
    login_req *lr = calloc(1, sizeof *lr);
    idms_user_row *u = calloc(1, sizeof *u);
    if (lr == NULL || u == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto out;
    }
    const char *id = idms_form_get(&f, "login_request");
    int found = 0;
    if (id != NULL && idms_is_unreserved(id, IDMS_TOKEN_CHARS, IDMS_TOKEN_CHARS))
        MCX_GUARD_GOTO(rc, load_login_request(r->st, id, lr, &found), out);
    if (!found || lr->expires_at < r->now) {
        rc = idms_respond_html_error(r, 400, "Sign-in expired",
                                     "This sign-in page has expired or was already used; start "
                                     "again from the application.");
        goto out;
    }
    const char *username = idms_form_get(&f, "username");
    const char *password = idms_form_get(&f, "password");
    int valid_name = idms_username_valid(username);
    char user_key[80], addr_key[80];
    snprintf(user_key, sizeof user_key, "user:%s", valid_name ? username : "");
    snprintf(addr_key, sizeof addr_key, "addr:%s", r->addr);

    int64_t locked_user = 0, locked_addr = 0;
    if (valid_name)
        MCX_GUARD_GOTO(rc, idms_throttle_locked(r->st, user_key, r->now, &locked_user), out);
    MCX_GUARD_GOTO(rc, idms_throttle_locked(r->st, addr_key, r->now, &locked_addr), out);
    if (locked_user || locked_addr) {
        idms_audit(r->st, r->now, "login", valid_name ? username : NULL, lr->client_id, r->addr,
                   "locked", locked_user ? "user locked out" : "address locked out");
        /* RFC 6585 §4: when to come back (the later of the two lockouts) */
        int64_t until = locked_user > locked_addr ? locked_user : locked_addr;
        char retry[24];
        snprintf(retry, sizeof retry, "%lld", (long long)(until > r->now ? until - r->now : 1));
        const char *h[] = {"Retry-After", retry, NULL};
        rc = idms_respond_html_error_with(r, 429, "Too many attempts",
                                          "Too many failed attempts; try again later", h);
        goto out;
    }

    /* Always one argon2id verification, against a dummy hash for an unknown user, so that the
     * time taken does not reveal whether a user name exists. */
    const char *why = NULL;
    mcx_status ur = valid_name ? idms_user_get(r->st, username, u) : MCX_E_NOT_FOUND;
    if (ur != MCX_OK && ur != MCX_E_NOT_FOUND) {
        rc = ur;
        goto out;
    }
    int match = idms_password_verify(ur == MCX_OK ? u->password_hash : r->srv->dummy_hash,
                                     password != NULL ? password : "");
    if (ur != MCX_OK)
        why = "unknown user";
    else if (!match)
        why = "wrong password";
    else if (!u->enabled)
        why = "user disabled";
    if (why != NULL) {
        MCX_GUARD_GOTO(rc,
                       count_failure(r, valid_name ? user_key : NULL, addr_key,
                                     valid_name ? username : NULL, lr->client_id, why),
                       out);
        rc = login_page(r, 200, lr, valid_name ? username : NULL, login_invalid);
        goto out;
    }

    char code[IDMS_TOKEN_CHARS + 1];
    MCX_GUARD_GOTO(rc, mcx_store_begin(r->st), out);
    int64_t n = 0;
    rc = idms_exec(r->st, "DELETE FROM login_requests WHERE id = ?", &n, "t", lr->id);
    if (rc == MCX_OK && n != 1) {
        /* the same page submitted twice at once: the other submission won */
        mcx_store_rollback(r->st);
        rc = idms_respond_html_error(r, 400, "Sign-in expired",
                                     "This sign-in page was already used; start again from the "
                                     "application.");
        goto out;
    }
    if (rc == MCX_OK)
        rc = idms_code_insert(r->st, lr->client_id, u->username, lr->redirect_uri, lr->challenge,
                              lr->scope, lr->has_nonce ? lr->nonce : NULL, r->now, r->now,
                              (unsigned)r->srv->cfg->code_ttl, code, sizeof code);
    if (rc == MCX_OK)
        rc = idms_throttle_reset(r->st, user_key);
    if (rc == MCX_OK) {
        idms_audit(r->st, r->now, "login", u->username, lr->client_id, r->addr, "success", NULL);
        rc = mcx_store_commit(r->st);
    }
    if (rc != MCX_OK) {
        mcx_store_rollback(r->st);
        goto out;
    }
    const char *p[] = {"code", code, "state", lr->has_state ? lr->state : NULL, NULL};
    rc = redirect_to(r, lr->redirect_uri, p);
    mcx_memzero(code, sizeof code);
out:
    idms_form_free(&f);
    if (u != NULL) {
        mcx_memzero(u, sizeof *u);
        free(u);
    }
    free(lr);
    return rc;
}
