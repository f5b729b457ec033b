/* The token endpoint (RFC 6749 §3.2): authorization_code with PKCE (RFC 7636 §4.5-4.6),
 * refresh_token with rotation and reuse detection (RFC 9700 §4.14.2), and the RFC 8693 token
 * exchange (exchange.c). Access tokens are RFC 9068 JWTs (typ at+jwt), ID tokens OpenID Connect
 * Core §2, both carrying the MC IDs (TS 33.180 Annex B).
 *
 * Every grant's database writes happen in one transaction; JWTs are signed before it commits (a
 * signing failure rolls back and leaves the code or refresh token unspent) and the answer is sent
 * only after the commit succeeded. A
 * refused request writes nothing but its audit record, except that a replayed code or refresh
 * token revokes its family: that is the point of detecting the replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

#define GT_CODE     "authorization_code"
#define GT_REFRESH  "refresh_token"
#define GT_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"

void idms_add_mc_ids(json_t *claims, const char *mcptt_id, const char *mcvideo_id,
                     const char *mcdata_id)
{
    if (mcptt_id != NULL && mcptt_id[0] != '\0')
        json_object_set_new(claims, "mcptt_id", json_string(mcptt_id));
    if (mcvideo_id != NULL && mcvideo_id[0] != '\0')
        json_object_set_new(claims, "mcvideo_id", json_string(mcvideo_id));
    if (mcdata_id != NULL && mcdata_id[0] != '\0')
        json_object_set_new(claims, "mcdata_id", json_string(mcdata_id));
}

mcx_status idms_add_jti(json_t *claims)
{
    char jti[33];
    MCX_GUARD(idms_random_hex(jti, 16));
    json_object_set_new(claims, "jti", json_string(jti));
    return MCX_OK;
}

/* RFC 9068 §2.2 claims. */
json_t *idms_access_claims(const mcx_idms_config *cfg, const char *sub, const char *client_id,
                           const char *scope, int64_t now, int64_t auth_time, const char *mcptt_id,
                           const char *mcvideo_id, const char *mcdata_id)
{
    json_t *c = json_object();
    if (c == NULL)
        return NULL;
    json_object_set_new(c, "iss", json_string(cfg->issuer));
    json_object_set_new(c, "sub", json_string(sub));
    json_object_set_new(c, "aud", json_string(idms_audience(cfg)));
    json_object_set_new(c, "exp", json_integer(now + cfg->access_token_ttl));
    json_object_set_new(c, "iat", json_integer(now));
    if (auth_time > 0)
        json_object_set_new(c, "auth_time", json_integer(auth_time));
    json_object_set_new(c, "client_id", json_string(client_id));
    json_object_set_new(c, "scope", json_string(scope));
    idms_add_mc_ids(c, mcptt_id, mcvideo_id, mcdata_id);
    if (idms_add_jti(c) != MCX_OK) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *id_claims(const mcx_idms_config *cfg, const idms_user_row *u, const char *client_id,
                         const char *nonce, int64_t now, int64_t auth_time)
{
    json_t *c = json_object();
    if (c == NULL)
        return NULL;
    json_object_set_new(c, "iss", json_string(cfg->issuer));
    json_object_set_new(c, "sub", json_string(u->username));
    json_object_set_new(c, "aud", json_string(client_id));
    json_object_set_new(c, "azp", json_string(client_id));
    json_object_set_new(c, "exp", json_integer(now + cfg->id_token_ttl));
    json_object_set_new(c, "iat", json_integer(now));
    json_object_set_new(c, "auth_time", json_integer(auth_time));
    if (nonce != NULL && nonce[0] != '\0')
        json_object_set_new(c, "nonce", json_string(nonce));
    idms_add_mc_ids(c, u->mcptt_id, u->mcvideo_id, u->mcdata_id);
    return c;
}

static mcx_status refuse(idms_req *r, const char *grant, const char *username,
                         const char *client_id, const char *error, const char *desc)
{
    char detail[256];
    snprintf(detail, sizeof detail, "%s: %s", grant, desc);
    idms_audit(r->st, r->now, "token", username, client_id, r->addr, error, detail);
    return idms_respond_oauth_error(r, strcmp(error, "invalid_client") == 0 ? 401 : 400, error,
                                    desc);
}

/* The signed tokens of one grant, made before its transaction commits: a signing failure then
 * rolls the grant back and leaves the code or refresh token unspent. */
typedef struct signed_tokens {
    char *at, *it;
} signed_tokens;

static void signed_tokens_free(signed_tokens *t)
{
    if (t->at != NULL) {
        mcx_memzero(t->at, strlen(t->at));
        free(t->at);
    }
    if (t->it != NULL) {
        mcx_memzero(t->it, strlen(t->it));
        free(t->it);
    }
    t->at = t->it = NULL;
}

/* Sign the access token (and an ID token when idc is not NULL) with the active key. */
static mcx_status sign_tokens(idms_req *r, json_t *atc, json_t *idc, signed_tokens *out)
{
    idms_keyset *ks = idms_keys_acquire(r->srv);
    mcx_status rc = mcx_jwt_sign(ks->active, MCX_TOKEN_ACCESS, atc, &out->at);
    if (rc == MCX_OK && idc != NULL)
        rc = mcx_jwt_sign(ks->active, MCX_TOKEN_ID, idc, &out->it);
    idms_keys_release(r->srv, ks);
    if (rc != MCX_OK)
        signed_tokens_free(out);
    return rc;
}

/* The token response (RFC 6749 §5.1), after the commit. */
static mcx_status respond_tokens(idms_req *r, const signed_tokens *t, const char *refresh,
                                 const char *scope)
{
    json_t *o = json_object();
    if (o == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    json_object_set_new(o, "access_token", json_string(t->at));
    json_object_set_new(o, "token_type", json_string("Bearer"));
    json_object_set_new(o, "expires_in", json_integer(r->srv->cfg->access_token_ttl));
    if (refresh != NULL)
        json_object_set_new(o, "refresh_token", json_string(refresh));
    if (t->it != NULL)
        json_object_set_new(o, "id_token", json_string(t->it));
    json_object_set_new(o, "scope", json_string(scope));
    mcx_status rc = idms_respond_json(r, 200, o, 1);
    json_decref(o);
    return rc;
}

/* A code or refresh token presented again (RFC 6749 §4.1.2, RFC 9700 §4.14.2): within the open
 * transaction, revoke its family and audit it, commit, and refuse. Also taken by the loser of two
 * concurrent uses (its conditional UPDATE changed no row): a replay all the same. */
static mcx_status replayed(idms_req *r, const char *family, const char *username,
                           const char *client_id, const char *what, const char *desc)
{
    int64_t n = 0;
    mcx_status rc = idms_refresh_revoke_family(r->st, family, &n);
    if (rc == MCX_OK) {
        char detail[160];
        snprintf(detail, sizeof detail, "%s; %lld refresh token(s) revoked", what, (long long)n);
        idms_audit(r->st, r->now, "token", username, client_id, r->addr, "invalid_grant", detail);
        rc = mcx_store_commit(r->st);
    }
    if (rc != MCX_OK) {
        mcx_store_rollback(r->st);
        return rc;
    }
    return idms_respond_oauth_error(r, 400, "invalid_grant", desc);
}

typedef struct code_row {
    char client_id[129];
    char username[65];
    char redirect_uri[2049];
    char challenge[129];
    char scope[1024];
    char nonce[513];
    char family[65];
    int64_t auth_time, expires_at, used;
} code_row;

static mcx_status grant_code(idms_req *r, const idms_form *f, const char *client_id)
{
    const char *code = idms_form_get(f, "code");
    const char *redirect_uri = idms_form_get(f, "redirect_uri");
    const char *verifier = idms_form_get(f, "code_verifier");
    if (code == NULL || redirect_uri == NULL)
        return refuse(r, GT_CODE, NULL, client_id, "invalid_request",
                      "code and redirect_uri are required");
    if (verifier == NULL || !idms_is_unreserved(verifier, 43, 128))
        return refuse(r, GT_CODE, NULL, client_id, "invalid_request",
                      "code_verifier of 43..128 unreserved characters is required (RFC 7636)");
    char hash[IDMS_HASH_HEX];
    idms_sha256_hex(code, hash);

    code_row *c = calloc(1, sizeof *c);
    idms_user_row *u = calloc(1, sizeof *u);
    json_t *atc = NULL, *idc = NULL;
    signed_tokens tok = {NULL, NULL};
    char refresh[IDMS_TOKEN_CHARS + 1] = "";
    mcx_status rc = MCX_OK;
    const char *err = NULL, *desc = NULL;
    if (c == NULL || u == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(rc, mcx_store_begin(r->st), out);
    mcx_stmt *s;
    int row;
    MCX_GUARD_GOTO(rc,
                   idms_query(r->st,
                              "SELECT client_id, username, redirect_uri, code_challenge, scope,"
                              " nonce, family, auth_time, expires_at, used FROM codes"
                              " WHERE hash = ?",
                              &s, &row, "t", hash),
                   fail);
    if (row) {
        idms_col(s, 0, c->client_id, sizeof c->client_id);
        idms_col(s, 1, c->username, sizeof c->username);
        idms_col(s, 2, c->redirect_uri, sizeof c->redirect_uri);
        idms_col(s, 3, c->challenge, sizeof c->challenge);
        idms_col(s, 4, c->scope, sizeof c->scope);
        idms_col(s, 5, c->nonce, sizeof c->nonce);
        idms_col(s, 6, c->family, sizeof c->family);
        c->auth_time = mcx_stmt_int(s, 7);
        c->expires_at = mcx_stmt_int(s, 8);
        c->used = mcx_stmt_int(s, 9);
    }
    mcx_stmt_done(s);
    if (!row) {
        err = "invalid_grant", desc = "unknown authorization code";
        goto refused;
    }
    if (c->used) {
        /* RFC 6749 §4.1.2: a code used twice revokes what its first use issued */
        rc = replayed(r, c->family, c->username, client_id, "code replayed",
                      "authorization code already used");
        goto out;
    }
    if (strcmp(c->client_id, client_id) != 0) {
        err = "invalid_grant", desc = "code was issued to another client";
    } else if (strcmp(c->redirect_uri, redirect_uri) != 0) {
        err = "invalid_grant", desc = "redirect_uri differs from the authorization request";
    } else if (c->expires_at < r->now) {
        err = "invalid_grant", desc = "authorization code expired";
    } else {
        char computed[IDMS_TOKEN_CHARS + 1];
        idms_pkce_s256(verifier, computed);
        size_t cl = strlen(c->challenge);
        /* RFC 7636 §4.6, compared in constant time */
        if (cl != IDMS_TOKEN_CHARS || !mcx_ct_equal(computed, c->challenge, IDMS_TOKEN_CHARS))
            err = "invalid_grant", desc = "code_verifier does not match the code_challenge";
    }
    if (err != NULL)
        goto refused;
    rc = idms_user_get(r->st, c->username, u);
    if (rc == MCX_E_NOT_FOUND || (rc == MCX_OK && !u->enabled)) {
        rc = MCX_OK;
        err = "invalid_grant", desc = "user is disabled or no longer exists";
        goto refused;
    }
    if (rc != MCX_OK)
        goto fail;
    int64_t changed = 0;
    MCX_GUARD_GOTO(rc,
                   idms_exec(r->st, "UPDATE codes SET used = 1 WHERE hash = ? AND used = 0",
                             &changed, "t", hash),
                   fail);
    if (changed != 1) {
        /* another request spent it between our read and this update: a replay too */
        rc = replayed(r, c->family, c->username, client_id, "code replayed (concurrent use)",
                      "authorization code already used");
        goto out;
    }
    MCX_GUARD_GOTO(rc,
                   idms_refresh_insert(r->st, c->family, u->username, client_id, c->scope,
                                       c->auth_time, r->now,
                                       r->now + r->srv->cfg->refresh_token_ttl, refresh),
                   fail);
    atc = idms_access_claims(r->srv->cfg, u->username, client_id, c->scope, r->now, c->auth_time,
                             u->mcptt_id, u->mcvideo_id, u->mcdata_id);
    idc = id_claims(r->srv->cfg, u, client_id, c->nonce, r->now, c->auth_time);
    if (atc == NULL || idc == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto fail;
    }
    char detail[128];
    snprintf(detail, sizeof detail, "%s jti=%s", GT_CODE,
             json_string_value(json_object_get(atc, "jti")));
    idms_audit(r->st, r->now, "token", u->username, client_id, r->addr, "issued", detail);
    MCX_GUARD_GOTO(rc, sign_tokens(r, atc, idc, &tok), fail);
    MCX_GUARD_GOTO(rc, mcx_store_commit(r->st), fail);
    rc = respond_tokens(r, &tok, refresh, c->scope);
    goto out;
refused:
    mcx_store_rollback(r->st);
    rc = refuse(r, GT_CODE, c->username[0] ? c->username : NULL, client_id, err, desc);
    goto out;
fail:
    mcx_store_rollback(r->st);
out:
    signed_tokens_free(&tok);
    json_decref(atc);
    json_decref(idc);
    mcx_memzero(refresh, sizeof refresh);
    free(c);
    if (u != NULL) {
        mcx_memzero(u, sizeof *u);
        free(u);
    }
    return rc;
}

typedef struct refresh_row {
    char family[65];
    char username[65];
    char client_id[129];
    char scope[1024];
    int64_t auth_time, expires_at, used, revoked;
} refresh_row;

static mcx_status grant_refresh(idms_req *r, const idms_form *f, const char *client_id)
{
    const char *token = idms_form_get(f, "refresh_token");
    const char *want_scope = idms_form_get(f, "scope");
    if (token == NULL)
        return refuse(r, GT_REFRESH, NULL, client_id, "invalid_request",
                      "refresh_token is required");
    char hash[IDMS_HASH_HEX];
    idms_sha256_hex(token, hash);
    refresh_row *t = calloc(1, sizeof *t);
    idms_user_row *u = calloc(1, sizeof *u);
    char scope[1024];
    json_t *atc = NULL, *idc = NULL;
    signed_tokens tok = {NULL, NULL};
    char fresh[IDMS_TOKEN_CHARS + 1] = "";
    mcx_status rc = MCX_OK;
    const char *err = NULL, *desc = NULL;
    if (t == NULL || u == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto out;
    }
    MCX_GUARD_GOTO(rc, mcx_store_begin(r->st), out);
    mcx_stmt *s;
    int row;
    MCX_GUARD_GOTO(rc,
                   idms_query(r->st,
                              "SELECT family, username, client_id, scope, auth_time, expires_at,"
                              " used, revoked FROM refresh_tokens WHERE hash = ?",
                              &s, &row, "t", hash),
                   fail);
    if (row) {
        idms_col(s, 0, t->family, sizeof t->family);
        idms_col(s, 1, t->username, sizeof t->username);
        idms_col(s, 2, t->client_id, sizeof t->client_id);
        idms_col(s, 3, t->scope, sizeof t->scope);
        t->auth_time = mcx_stmt_int(s, 4);
        t->expires_at = mcx_stmt_int(s, 5);
        t->used = mcx_stmt_int(s, 6);
        t->revoked = mcx_stmt_int(s, 7);
    }
    mcx_stmt_done(s);
    if (!row) {
        err = "invalid_grant", desc = "unknown refresh token";
        goto refused;
    }
    if (strcmp(t->client_id, client_id) != 0) {
        err = "invalid_grant", desc = "refresh token was issued to another client";
        goto refused;
    }
    if (t->used || t->revoked) {
        /* RFC 9700 §4.14.2: a rotated token presented again means a copy exists; the whole family
         * goes */
        rc = replayed(r, t->family, t->username, client_id,
                      t->revoked ? "revoked refresh token reused" : "rotated refresh token reused",
                      "refresh token already used or revoked");
        goto out;
    }
    if (t->expires_at < r->now) {
        err = "invalid_grant", desc = "refresh token expired";
        goto refused;
    }
    snprintf(scope, sizeof scope, "%s", t->scope);
    if (want_scope != NULL) {
        /* RFC 6749 §6: no scope beyond what was originally granted */
        char canon[1024];
        if (idms_scope_canonical(want_scope, canon, sizeof canon) != MCX_OK) {
            err = "invalid_scope", desc = "unknown scope";
            goto refused;
        }
        const char *p = canon;
        while (*p != '\0') {
            const char *e = strchr(p, ' ');
            size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
            char one[128];
            snprintf(one, sizeof one, "%.*s", (int)l, p);
            if (!idms_scope_has(t->scope, one)) {
                err = "invalid_scope", desc = "scope exceeds the original grant";
                goto refused;
            }
            p = e != NULL ? e + 1 : p + l;
        }
        snprintf(scope, sizeof scope, "%s", canon);
    }
    rc = idms_user_get(r->st, t->username, u);
    if (rc == MCX_E_NOT_FOUND || (rc == MCX_OK && !u->enabled)) {
        rc = MCX_OK;
        err = "invalid_grant", desc = "user is disabled or no longer exists";
        goto refused;
    }
    if (rc != MCX_OK)
        goto fail;
    int64_t changed = 0;
    MCX_GUARD_GOTO(rc,
                   idms_exec(r->st,
                             "UPDATE refresh_tokens SET used = 1 WHERE hash = ? AND used = 0"
                             " AND revoked = 0",
                             &changed, "t", hash),
                   fail);
    if (changed != 1) {
        /* rotated by a concurrent request between our read and this update: a reuse too */
        rc = replayed(r, t->family, t->username, client_id,
                      "rotated refresh token reused (concurrent use)",
                      "refresh token already used or revoked");
        goto out;
    }
    /* the new token keeps the original grant's scope, so a narrower request now does not narrow
     * later refreshes (RFC 6749 §6); and the family's expiry: rotation never extends the login
     * (the first token's created_at + refresh_token_ttl is the family's absolute end) */
    MCX_GUARD_GOTO(rc,
                   idms_refresh_insert(r->st, t->family, u->username, client_id, t->scope,
                                       t->auth_time, r->now, t->expires_at, fresh),
                   fail);
    atc = idms_access_claims(r->srv->cfg, u->username, client_id, scope, r->now, t->auth_time,
                             u->mcptt_id, u->mcvideo_id, u->mcdata_id);
    /* an ID token only for a request that still holds openid (OpenID Connect Core §12.2) */
    int want_id = idms_scope_has(scope, MCX_SCOPE_OPENID);
    if (want_id)
        idc = id_claims(r->srv->cfg, u, client_id, NULL, r->now, t->auth_time);
    if (atc == NULL || (want_id && idc == NULL)) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto fail;
    }
    char detail[128];
    snprintf(detail, sizeof detail, "%s jti=%s", GT_REFRESH,
             json_string_value(json_object_get(atc, "jti")));
    idms_audit(r->st, r->now, "token", u->username, client_id, r->addr, "issued", detail);
    MCX_GUARD_GOTO(rc, sign_tokens(r, atc, idc, &tok), fail);
    MCX_GUARD_GOTO(rc, mcx_store_commit(r->st), fail);
    rc = respond_tokens(r, &tok, fresh, scope);
    goto out;
refused:
    mcx_store_rollback(r->st);
    rc = refuse(r, GT_REFRESH, t->username[0] ? t->username : NULL, client_id, err, desc);
    goto out;
fail:
    mcx_store_rollback(r->st);
out:
    signed_tokens_free(&tok);
    json_decref(atc);
    json_decref(idc);
    mcx_memzero(fresh, sizeof fresh);
    free(t);
    if (u != NULL) {
        mcx_memzero(u, sizeof *u);
        free(u);
    }
    return rc;
}

mcx_status idms_handle_token(idms_req *r)
{
    const char *ct = idms_header(r, "Content-Type");
    static const char want[] = "application/x-www-form-urlencoded";
    if (ct == NULL || strncasecmp(ct, want, sizeof want - 1) != 0 ||
        (ct[sizeof want - 1] != '\0' && ct[sizeof want - 1] != ';' && ct[sizeof want - 1] != ' '))
        return idms_respond_oauth_error(r, 400, "invalid_request",
                                        "Content-Type must be application/x-www-form-urlencoded");
    idms_form f;
    if (idms_form_parse(r->body, r->body_len, &f) != MCX_OK) {
        char why[200];
        snprintf(why, sizeof why, "%s", mcx_last_error());
        return refuse(r, "-", NULL, NULL, "invalid_request", why);
    }
    mcx_status rc;
    const char *grant = idms_form_get(&f, "grant_type");
    const char *client_id = idms_form_get(&f, "client_id");
    int ok = 0;
    if (grant == NULL) {
        rc = refuse(r, "-", NULL, client_id, "invalid_request", "grant_type is required");
        goto out;
    }
    /* Public clients identify themselves with client_id in the body (RFC 6749 §2.3, §3.2.1) */
    if (client_id != NULL && strlen(client_id) <= 128)
        MCX_GUARD_GOTO(rc, idms_client_check(r->st, client_id, NULL, &ok), out);
    if (!ok) {
        rc = refuse(r, grant, NULL, NULL, "invalid_client",
                    client_id == NULL ? "client_id is required" : "unknown client");
        goto out;
    }
    if (strcmp(grant, GT_CODE) == 0)
        rc = grant_code(r, &f, client_id);
    else if (strcmp(grant, GT_REFRESH) == 0)
        rc = grant_refresh(r, &f, client_id);
    else if (strcmp(grant, GT_EXCHANGE) == 0)
        rc = idms_handle_exchange(r, &f, client_id);
    else
        rc = refuse(r, "-", NULL, client_id, "unsupported_grant_type",
                    "grant_type must be authorization_code, refresh_token or token-exchange");
out:
    idms_form_free(&f);
    return rc;
}
