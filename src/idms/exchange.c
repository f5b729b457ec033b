/* RFC 8693 token exchange between MC domains (TR 33.880 §7.7). This IdMS plays either role:
 *
 *   primary:  a user's home IdMS. Given one of its own access tokens (subject_token_type
 *             access_token) and a partner's issuer as audience, it issues a short-lived ID token
 *             for that partner (requested_token_type id_token).
 *   partner:  the visited domain's IdMS. Given such an ID token from a configured primary
 *             (subject_token_type id_token), it checks it with that primary's keys, applies its
 *             own admission policy and scope limits, and issues a local access token for the
 *             visiting user (no refresh token: the home domain stays in control). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

#define TT_ACCESS "urn:ietf:params:oauth:token-type:access_token"
#define TT_ID     "urn:ietf:params:oauth:token-type:id_token"
#define GT_NAME   "token-exchange"

static mcx_status refuse(idms_req *r, const char *username, const char *client_id,
                         const char *error, const char *desc)
{
    char detail[512];
    snprintf(detail, sizeof detail, "%s: %s", GT_NAME, desc);
    idms_audit(r->st, r->now, "token", username, client_id, r->addr, error, detail);
    return idms_respond_oauth_error(r, 400, error, desc);
}

static mcx_status respond_exchange(idms_req *r, const char *token, const char *type,
                                   const char *token_type, int64_t expires_in, const char *scope)
{
    json_t *o = json_object();
    json_object_set_new(o, "access_token", json_string(token));
    json_object_set_new(o, "issued_token_type", json_string(type));
    json_object_set_new(o, "token_type", json_string(token_type));
    json_object_set_new(o, "expires_in", json_integer(expires_in));
    if (scope != NULL)
        json_object_set_new(o, "scope", json_string(scope));
    mcx_status rc = idms_respond_json(r, 200, o, 1);
    json_decref(o);
    return rc;
}

static mcx_status sign(idms_req *r, mcx_token_kind kind, json_t *claims, char **jwt)
{
    idms_keyset *ks = idms_keys_acquire(r->srv);
    mcx_status rc = mcx_jwt_sign(ks->active, kind, claims, jwt);
    idms_keys_release(r->srv, ks);
    return rc;
}

static void jwt_free(char *jwt)
{
    if (jwt != NULL) {
        mcx_memzero(jwt, strlen(jwt));
        free(jwt);
    }
}

static mcx_status as_primary(idms_req *r, const idms_form *f, const char *client_id,
                             const char *subject)
{
    const mcx_idms_config *cfg = r->srv->cfg;
    const char *audience = idms_form_get(f, "audience");
    const char *requested = idms_form_get(f, "requested_token_type");
    if (audience == NULL)
        return refuse(r, NULL, client_id, "invalid_request", "audience is required");
    int known = 0;
    for (size_t i = 0; i < cfg->n_exchange_audiences; i++)
        known |= strcmp(cfg->exchange_audiences[i], audience) == 0;
    if (!known)
        return refuse(r, NULL, client_id, "invalid_target",
                      "audience is not a partner domain of this IdMS");
    if (requested == NULL || strcmp(requested, TT_ID) != 0)
        return refuse(r, NULL, client_id, "invalid_request", "requested_token_type must be " TT_ID);
    mcx_token_claims *tc = calloc(1, sizeof *tc);
    idms_user_row *u = calloc(1, sizeof *u);
    json_t *c = NULL;
    char *jwt = NULL;
    mcx_status rc = MCX_OK;
    if (tc == NULL || u == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto out;
    }
    idms_keyset *ks = idms_keys_acquire(r->srv);
    mcx_status v = mcx_token_verify(ks->own_verifier, subject, NULL, r->now, tc);
    idms_keys_release(r->srv, ks);
    if (v != MCX_OK) {
        char why[200];
        snprintf(why, sizeof why, "subject_token refused: %s", mcx_last_error());
        rc = refuse(r, NULL, client_id, "invalid_grant", why);
        goto out;
    }
    if (tc->acting_for[0] != '\0') {
        /* a visiting user's token is not passed on to a third domain */
        rc = refuse(r, tc->sub, client_id, "invalid_grant",
                    "a visiting user's access token cannot be exchanged onwards");
        goto out;
    }
    /* The token must be the requesting client's own (RFC 8693 §2.1 leaves the authorization of
     * the exchange to the server: another client's token is not this client's to spend), and an
     * OpenID Connect one: the ID token issued is the user's identity. */
    if (strcmp(tc->client_id, client_id) != 0) {
        rc = refuse(r, tc->sub, client_id, "invalid_grant",
                    "subject_token was issued to another client");
        goto out;
    }
    if (!idms_scope_has(tc->scope, MCX_SCOPE_OPENID)) {
        rc = refuse(r, tc->sub, client_id, "invalid_grant", "subject_token scope lacks openid");
        goto out;
    }
    mcx_status ur = idms_user_get(r->st, tc->sub, u);
    if (ur == MCX_E_NOT_FOUND || (ur == MCX_OK && !u->enabled)) {
        rc = refuse(r, tc->sub, client_id, "invalid_grant", "user is disabled or unknown");
        goto out;
    }
    if (ur != MCX_OK) {
        rc = ur;
        goto out;
    }
    int64_t ttl =
        cfg->id_token_ttl < IDMS_EXCHANGE_ID_TTL ? cfg->id_token_ttl : IDMS_EXCHANGE_ID_TTL;
    c = json_object();
    if (c == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto out;
    }
    json_object_set_new(c, "iss", json_string(cfg->issuer));
    json_object_set_new(c, "sub", json_string(u->username));
    json_object_set_new(c, "aud", json_string(audience));
    json_object_set_new(c, "azp", json_string(client_id));
    json_object_set_new(c, "iat", json_integer(r->now));
    json_object_set_new(c, "exp", json_integer(r->now + ttl));
    if (tc->auth_time > 0)
        json_object_set_new(c, "auth_time", json_integer(tc->auth_time));
    idms_add_mc_ids(c, u->mcptt_id, u->mcvideo_id, u->mcdata_id);
    /* what the user was granted here: the partner grants no more (a KMS-only token must not turn
     * into a PTT-service token in the partner domain) */
    json_object_set_new(c, "scope", json_string(tc->scope));
    MCX_GUARD_GOTO(rc, idms_add_jti(c), out);
    /* signed first: only a token that exists is audited as issued */
    MCX_GUARD_GOTO(rc, sign(r, MCX_TOKEN_ID, c, &jwt), out);
    char detail[256];
    snprintf(detail, sizeof detail, "%s id_token for %.100s jti=%s", GT_NAME, audience,
             json_string_value(json_object_get(c, "jti")));
    idms_audit(r->st, r->now, "token", u->username, client_id, r->addr, "issued", detail);
    rc = respond_exchange(r, jwt, TT_ID, "N_A", ttl, NULL);
out:
    jwt_free(jwt);
    json_decref(c);
    free(tc);
    free(u);
    return rc;
}

/* The host an MC ID names, lower-cased (0 when it names none): "sip:alice@police.example" and
 * "sips:" (RFC 3261 §19.1.1: the part after '@', without port or parameters), "tel:" only with a
 * domain name in phone-context (RFC 3966 §5.1.5), "scheme://[userinfo@]host[:port]/..." (RFC 3986
 * §3.2), and any other "scheme:user@host". */
static int mc_id_host(const char *id, char *host, size_t cap)
{
    const char *colon = strchr(id, ':');
    if (colon == NULL || colon == id)
        return 0;
    const char *h;
    size_t n;
    if (strncmp(colon, "://", 3) == 0) {
        const char *a = colon + 3;
        size_t an = strcspn(a, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < an; i++)
            if (a[i] == '@')
                at = a + i;
        h = at != NULL ? at + 1 : a;
        n = (size_t)(a + an - h);
        if (n > 0 && h[0] == '[') {
            const char *e = memchr(h, ']', n);
            if (e == NULL)
                return 0;
            n = (size_t)(e + 1 - h);
        } else {
            const char *p = memchr(h, ':', n);
            if (p != NULL)
                n = (size_t)(p - h);
        }
    } else if ((size_t)(colon - id) == 3 && strncasecmp(id, "tel", 3) == 0) {
        const char *pc = strstr(colon, ";phone-context=");
        if (pc == NULL)
            return 0;
        h = pc + strlen(";phone-context=");
        n = strcspn(h, ";");
        if (n > 0 && h[0] == '+') /* a global number prefix names no domain */
            return 0;
    } else {
        const char *a = colon + 1;
        size_t an = strcspn(a, ";?>");
        const char *at = NULL;
        for (size_t i = 0; i < an; i++)
            if (a[i] == '@')
                at = a + i;
        h = at != NULL ? at + 1 : a;
        n = (size_t)(a + an - h);
        const char *p = memchr(h, ':', n);
        if (p != NULL)
            n = (size_t)(p - h);
    }
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        host[i] = (h[i] >= 'A' && h[i] <= 'Z') ? (char)(h[i] - 'A' + 'a') : h[i];
    host[n] = '\0';
    return 1;
}

/* The MC ID (if any) in a domain the partner may not speak for, else NULL. */
static const char *foreign_mc_id(const idms_partner *p, const mcx_token_claims *tc,
                                 const char **which)
{
    const char *ids[] = {tc->mcptt_id, tc->mcvideo_id, tc->mcdata_id};
    static const char *const names[] = {"mcptt_id", "mcvideo_id", "mcdata_id"};
    for (size_t i = 0; i < 3; i++) {
        if (ids[i][0] == '\0')
            continue;
        char host[256];
        int ok = 0;
        if (mc_id_host(ids[i], host, sizeof host))
            for (size_t k = 0; k < p->n_mc_id_domains; k++)
                ok |= strcmp(p->mc_id_domains[k], host) == 0;
        if (!ok) {
            *which = names[i];
            return ids[i];
        }
    }
    return NULL;
}

static int listed(char *const *list, size_t n, const char *who)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], "*") == 0 || strcmp(list[i], who) == 0)
            return 1;
    return 0;
}

static mcx_status as_partner(idms_req *r, const idms_form *f, const char *client_id,
                             const char *subject)
{
    const mcx_idms_config *cfg = r->srv->cfg;
    const char *requested = idms_form_get(f, "requested_token_type");
    if (requested != NULL && strcmp(requested, TT_ACCESS) != 0)
        return refuse(r, NULL, client_id, "invalid_request",
                      "requested_token_type must be " TT_ACCESS);
    /* The unverified iss only picks which partner's keys to verify with. */
    json_t *hdr = NULL, *unv = NULL;
    if (mcx_jwt_decode_unverified(subject, &hdr, &unv) != MCX_OK)
        return refuse(r, NULL, client_id, "invalid_grant", "subject_token is not a JWT");
    const char *iss = json_string_value(json_object_get(unv, "iss"));
    size_t pi = cfg->n_partners;
    for (size_t i = 0; iss != NULL && i < cfg->n_partners; i++)
        if (strcmp(cfg->partners[i].issuer, iss) == 0)
            pi = i;
    json_decref(hdr);
    json_decref(unv);
    if (pi == cfg->n_partners)
        return refuse(r, NULL, client_id, "invalid_grant",
                      "subject_token issuer is not a partner of this IdMS");
    const idms_partner *p = &cfg->partners[pi];

    mcx_token_claims *tc = calloc(1, sizeof *tc);
    json_t *c = NULL;
    char *jwt = NULL;
    mcx_status rc = MCX_OK;
    char scope[1024] = "";
    if (tc == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    if (mcx_token_verify(r->srv->partner_verifiers[pi], subject, NULL, r->now, tc) != MCX_OK) {
        char why[200];
        snprintf(why, sizeof why, "subject_token refused: %s", mcx_last_error());
        rc = refuse(r, NULL, client_id, "invalid_grant", why);
        goto out;
    }
    if (tc->jti[0] == '\0' || tc->sub[0] == '\0') {
        rc = refuse(r, tc->sub, client_id, "invalid_grant", "subject_token has no jti or sub");
        goto out;
    }
    /* This domain's admission policy: the deny list wins over the allow list. */
    if (listed(p->deny_users, p->n_deny, tc->sub) || !listed(p->allow_users, p->n_allow, tc->sub)) {
        rc = refuse(r, tc->sub, client_id, "invalid_grant", "user not admitted by this domain");
        goto out;
    }
    /* The home subject becomes "<sub>@<label>" here, so it is held to the local user-name rules:
     * no separator or control character can make it collide with another subject. */
    if (!idms_username_valid(tc->sub)) {
        rc = refuse(r, NULL, client_id, "invalid_grant",
                    "subject_token sub must be 1..64 characters of [A-Za-z0-9._@-]");
        goto out;
    }
    /* Whatever the primary's own lifetime, an ID token for an exchange is a one-shot credential:
     * at most IDMS_EXCHANGE_MAX_LIFE seconds long and fresh. */
    if (tc->iat <= 0 || tc->exp - tc->iat > IDMS_EXCHANGE_MAX_LIFE ||
        r->now - tc->iat > IDMS_EXCHANGE_MAX_LIFE) {
        rc = refuse(r, tc->sub, client_id, "invalid_grant",
                    "subject_token must have iat, live at most 600 s and be issued in the last "
                    "600 s");
        goto out;
    }
    /* A primary speaks only for its own MC ID domains (TS 33.180 §5.1: the MC ID's domain is the
     * user's home MC system); an MC ID elsewhere would let it impersonate a third domain's user. */
    const char *which = NULL, *foreign = foreign_mc_id(p, tc, &which);
    if (foreign != NULL) {
        char why[400];
        snprintf(why, sizeof why, "%s %.255s is not in a domain %s may assert", which, foreign,
                 p->label);
        rc = refuse(r, tc->sub, client_id, "invalid_grant", why);
        goto out;
    }
    char visitor[256];
    snprintf(visitor, sizeof visitor, "%.64s@%.128s", tc->sub, p->label);
    const char *want = idms_form_get(f, "scope");
    char canon[1024] = "";
    if (want != NULL && idms_scope_canonical(want, canon, sizeof canon) != MCX_OK) {
        rc = refuse(r, tc->sub, client_id, "invalid_scope", "unknown scope");
        goto out;
    }
    /* requested (default: everything allowed) intersected with what the home domain granted
     * (the ID token's "scope") and with the partner's allowed scopes */
    size_t used = 0;
    for (size_t i = 0; i < p->n_scopes; i++) {
        if (want != NULL && !idms_scope_has(canon, p->scopes[i]))
            continue;
        if (!idms_scope_has(tc->scope, p->scopes[i]))
            continue;
        size_t l = strlen(p->scopes[i]);
        if (used + l + 2 > sizeof scope)
            break;
        if (used > 0)
            scope[used++] = ' ';
        memcpy(scope + used, p->scopes[i], l + 1);
        used += l;
    }
    if (used == 0) {
        rc = refuse(r, tc->sub, client_id, "invalid_scope",
                    "no requested scope is both granted at home and allowed for visiting users");
        goto out;
    }
    c = idms_access_claims(cfg, visitor, client_id, scope, r->now, tc->auth_time, tc->mcptt_id,
                           tc->mcvideo_id, tc->mcdata_id);
    if (c == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
        goto out;
    }
    json_object_set_new(c, "mcx_home_iss", json_string(p->issuer));
    json_object_set_new(c, "mcx_home_sub", json_string(tc->sub));
    /* One use per ID token (RFC 8693 §2.1 leaves replay to the server; the jti names it). */
    MCX_GUARD_GOTO(rc, mcx_store_begin(r->st), out);
    int64_t n = 0;
    rc = idms_exec(r->st,
                   "INSERT INTO exchanged_jti (iss, jti, expires_at) VALUES (?, ?, ?)"
                   " ON CONFLICT DO NOTHING",
                   &n, "tti", p->issuer, tc->jti, tc->exp);
    if (rc != MCX_OK) {
        mcx_store_rollback(r->st);
        goto out;
    }
    if (n != 1) {
        mcx_store_rollback(r->st);
        rc = refuse(r, tc->sub, client_id, "invalid_grant", "subject_token already exchanged");
        goto out;
    }
    char detail[256];
    snprintf(detail, sizeof detail, "%s visiting from %.100s jti=%s", GT_NAME, p->issuer,
             json_string_value(json_object_get(c, "jti")));
    idms_audit(r->st, r->now, "token", visitor, client_id, r->addr, "issued", detail);
    /* signed before the commit: a signing failure leaves the jti unspent */
    rc = sign(r, MCX_TOKEN_ACCESS, c, &jwt);
    if (rc == MCX_OK)
        rc = mcx_store_commit(r->st);
    if (rc != MCX_OK) {
        mcx_store_rollback(r->st);
        goto out;
    }
    rc = respond_exchange(r, jwt, TT_ACCESS, "Bearer", cfg->access_token_ttl, scope);
out:
    jwt_free(jwt);
    json_decref(c);
    free(tc);
    return rc;
}

mcx_status idms_handle_exchange(idms_req *r, const idms_form *f, const char *client_id)
{
    const char *subject = idms_form_get(f, "subject_token");
    const char *type = idms_form_get(f, "subject_token_type");
    if (subject == NULL || type == NULL)
        return refuse(r, NULL, client_id, "invalid_request",
                      "subject_token and subject_token_type are required");
    if (strcmp(type, TT_ACCESS) == 0)
        return as_primary(r, f, client_id, subject);
    if (strcmp(type, TT_ID) == 0)
        return as_partner(r, f, client_id, subject);
    return refuse(r, NULL, client_id, "invalid_request",
                  "subject_token_type must be access_token or id_token");
}
