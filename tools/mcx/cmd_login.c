/* mcx login, mcx token: the client side of MCX user authentication (TS 33.180 Annex B) from a
 * terminal. `mcx login` runs the OpenID Connect code flow with PKCE against an IdMS and keeps the
 * tokens in a private file (include/mcxsec/login.h); `mcx token` shows, refreshes and exchanges
 * them. Tokens are never printed: they are credentials. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_groups.h"
#include "mcxsec/login.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define URL_MAX   2048
#define PATH_MAX_ 4096

#define F_CACERT                                                                                   \
    {                                                                                              \
        "cacert", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                                \
            "PEM trust anchors for the IdMS certificate (default: the system's)"                   \
    }
#define F_LABEL                                                                                    \
    {                                                                                              \
        "label", CLI_STR, 0, {0, 0}, 0, 128,                                                       \
            "the token file tokens-LABEL.json instead of tokens.json"                              \
    }
#define F_CLIENT_ID                                                                                \
    {                                                                                              \
        "client-id", CLI_STR, 0, {0, 0}, 0, 128, "the OAuth client_id (default: mcx-cli)"          \
    }

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

static int fail_path(cli_ctx *ctx, mcx_status s)
{
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--label: %s", mcx_last_error());
    return cli_fail(ctx, s, "token file");
}

/* The claims of a token (not verified: for reading fields of a token we hold), or NULL. */
static json_t *claims_of(const char *jwt)
{
    json_t *h = NULL, *c = NULL;
    if (jwt == NULL || mcx_jwt_decode_unverified(jwt, &h, &c) != MCX_OK)
        return NULL;
    json_decref(h);
    return c;
}

static int put_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, v != NULL ? json_string(v) : json_null()) != 0;
}

/* ---- mcx login ---- */

static int run_login(cli_ctx *ctx)
{
    char path[PATH_MAX_];
    mcx_status s = mcx_tokens_path(cli_str(ctx, "label"), path, sizeof path);
    if (s != MCX_OK)
        return fail_path(ctx, s);
    char *pw = NULL;
    char prompt[128];
    snprintf(prompt, sizeof prompt, "Password for %s at %s", cli_str(ctx, "user"),
             cli_str(ctx, "idms"));
    int rc = cli_read_password(ctx, "password-file", prompt, 0, &pw);
    if (rc != CLI_EXIT_OK)
        return rc;
    mcx_login_params p = {cli_str(ctx, "idms"),         cli_str(ctx, "client-id"),
                          cli_str(ctx, "redirect-uri"), cli_str(ctx, "scope"),
                          cli_str(ctx, "user"),         pw,
                          cli_str(ctx, "cacert")};
    mcx_tokens t;
    s = mcx_login_pkce(&p, &t);
    mcx_secure_free(pw);
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "%s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "login");
    s = mcx_tokens_save(&t, path);
    if (s != MCX_OK) {
        mcx_tokens_clear(&t);
        return cli_fail(ctx, s, "saving the tokens");
    }
    /* the ID token was verified by mcx_login_pkce: its subject is who logged in */
    json_t *idc = claims_of(t.id_token);
    const char *sub = json_string_value(json_object_get(idc, "sub"));
    json_t *o = cli_out_new();
    if (o != NULL &&
        (put_str(o, "issuer", t.issuer) || put_str(o, "user", sub ? sub : cli_str(ctx, "user")) ||
         put_str(o, "scope", t.scope) ||
         json_object_set_new(o, "expires_at", json_integer((json_int_t)t.expires_at)) ||
         put_str(o, "token_file", path))) {
        json_decref(o);
        o = NULL;
    }
    json_decref(idc);
    mcx_tokens_clear(&t);
    return cli_emit(ctx, o);
}

/* ---- mcx token show ---- */

/* {"header", "claims", "expired"} of a token, without its signature. */
static json_t *token_view(const char *jwt, int *bad)
{
    if (jwt == NULL)
        return json_null();
    json_t *h = NULL, *c = NULL;
    mcx_status s = mcx_jwt_decode_unverified(jwt, &h, &c);
    json_t *v = json_object();
    if (v == NULL) {
        *bad = 1;
    } else if (s != MCX_OK) {
        *bad |= json_object_set_new(v, "error", json_string(mcx_last_error())) != 0;
    } else {
        json_t *exp = json_object_get(c, "exp");
        int expired = !json_is_integer(exp) || json_integer_value(exp) <= now();
        *bad |= json_object_set(v, "header", h) != 0;
        *bad |= json_object_set(v, "claims", c) != 0;
        *bad |= json_object_set_new(v, "expired", json_boolean(expired)) != 0;
    }
    json_decref(h);
    json_decref(c);
    return v;
}

static int load_tokens(cli_ctx *ctx, const char *file, char *path, size_t cap, mcx_tokens *t)
{
    if (file != NULL) {
        if (cli_has(ctx, "label"))
            return cli_usage(ctx, "give --label or --file, not both");
        snprintf(path, cap, "%s", file);
    } else {
        mcx_status s = mcx_tokens_path(cli_str(ctx, "label"), path, cap);
        if (s != MCX_OK)
            return fail_path(ctx, s);
    }
    mcx_status s = mcx_tokens_load(t, path);
    if (s != MCX_OK)
        return cli_fail(ctx, s, "loading the tokens");
    return CLI_EXIT_OK;
}

static int run_show(cli_ctx *ctx)
{
    char path[PATH_MAX_];
    mcx_tokens t;
    int rc = load_tokens(ctx, cli_str(ctx, "file"), path, sizeof path, &t);
    if (rc != CLI_EXIT_OK)
        return rc;
    int bad = 0;
    json_t *o = cli_out_new();
    if (o == NULL) {
        bad = 1;
    } else {
        bad |= put_str(o, "token_file", path);
        bad |= put_str(o, "issuer", t.issuer);
        bad |= put_str(o, "scope", t.scope);
        bad |= json_object_set_new(o, "expires_at", json_integer((json_int_t)t.expires_at)) != 0;
        bad |= cli_out_bool(o, "expired", t.expires_at <= now()) != 0;
        bad |= json_object_set_new(o, "access_token", token_view(t.access_token, &bad)) != 0;
        bad |= json_object_set_new(o, "id_token", token_view(t.id_token, &bad)) != 0;
        /* the refresh token is opaque and a credential: only whether one is held */
        bad |= cli_out_bool(o, "refresh_token", t.refresh_token != NULL) != 0;
    }
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    mcx_tokens_clear(&t);
    return cli_emit(ctx, o);
}

/* ---- mcx token refresh ---- */

static int emit_summary(cli_ctx *ctx, const mcx_tokens *t, const char *path, const char *extra_key,
                        json_t *extra)
{
    json_t *o = cli_out_new();
    if (o != NULL &&
        (put_str(o, "issuer", t->issuer) || put_str(o, "scope", t->scope) ||
         json_object_set_new(o, "expires_at", json_integer((json_int_t)t->expires_at)) ||
         put_str(o, "token_file", path) ||
         (extra_key != NULL && json_object_set(o, extra_key, extra)))) {
        json_decref(o);
        o = NULL;
    }
    json_decref(extra);
    return cli_emit(ctx, o);
}

/* The client the tokens were issued to (RFC 9068 §2.2 "client_id"), unless --client-id. */
static char *client_of(cli_ctx *ctx, const mcx_tokens *t)
{
    if (cli_str(ctx, "client-id") != NULL)
        return strdup(cli_str(ctx, "client-id"));
    json_t *c = claims_of(t->access_token);
    const char *id = json_string_value(json_object_get(c, "client_id"));
    char *r = id != NULL ? strdup(id) : NULL;
    json_decref(c);
    return r;
}

static int run_refresh(cli_ctx *ctx)
{
    char path[PATH_MAX_];
    mcx_tokens t;
    int rc = load_tokens(ctx, NULL, path, sizeof path, &t);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (t.refresh_token == NULL) {
        mcx_tokens_clear(&t);
        return cli_reject(ctx, "%s holds no refresh token; run mcx login", path);
    }
    char *client = client_of(ctx, &t);
    mcx_login_params p = {cli_str(ctx, "idms"),  client, NULL, NULL, NULL, NULL,
                          cli_str(ctx, "cacert")};
    char *old = strdup(t.refresh_token);
    mcx_status s = mcx_login_refresh(&p, &t);
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "refresh");
    } else if ((s = mcx_tokens_save(&t, path)) != MCX_OK) {
        rc = cli_fail(ctx, s, "saving the tokens");
    } else {
        int rotated = old == NULL || strcmp(old, t.refresh_token) != 0;
        rc = emit_summary(ctx, &t, path, "rotated", json_boolean(rotated));
    }
    if (old != NULL) {
        mcx_memzero(old, strlen(old));
        free(old);
    }
    free(client);
    mcx_tokens_clear(&t);
    return rc;
}

/* ---- mcx token exchange ---- */

/* "host:port" of an https URL (the default label of a partner's tokens). */
static int host_port(const char *url, char *out, size_t cap)
{
    if (strncmp(url, "https://", 8) != 0)
        return 0;
    const char *h = url + 8;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (n == 0 || n >= cap)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (h[i] != '[' && h[i] != ']')
            out[o++] = h[i];
    out[o] = '\0';
    if (strchr(out, ':') == NULL && o + 4 < cap)
        memcpy(out + o, ":443", 5);
    return 1;
}

static int run_exchange(cli_ctx *ctx)
{
    const char *partner = cli_str(ctx, "partner");
    char label[160];
    if (cli_has(ctx, "as"))
        snprintf(label, sizeof label, "%s", cli_str(ctx, "as"));
    else if (!host_port(partner, label, sizeof label))
        return cli_usage(ctx, "--partner: '%s' is not an https:// URL", partner);
    char out_path[PATH_MAX_];
    mcx_status s = mcx_tokens_path(label, out_path, sizeof out_path);
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--as: %s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "token file");
    char path[PATH_MAX_];
    mcx_tokens home, got;
    int rc = load_tokens(ctx, NULL, path, sizeof path, &home);
    if (rc != CLI_EXIT_OK)
        return rc;
    char *client = client_of(ctx, &home);
    mcx_login_params p = {cli_str(ctx, "idms"),  client, NULL, cli_str(ctx, "scope"), NULL, NULL,
                          cli_str(ctx, "cacert")};
    s = mcx_login_exchange(&p, &home, partner, cli_str(ctx, "partner-cacert"), &got);
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "exchange");
    } else {
        if ((s = mcx_tokens_save(&got, out_path)) != MCX_OK)
            rc = cli_fail(ctx, s, "saving the partner's tokens");
        else
            rc = emit_summary(ctx, &got, out_path, "home_issuer", json_string(home.issuer));
        mcx_tokens_clear(&got);
    }
    free(client);
    mcx_tokens_clear(&home);
    return rc;
}

/* ---- the tables ---- */

static const cli_flag login_flags[] = {
    {"idms",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     0,
     URL_MAX,
     "the IdMS (its issuer), e.g. https://idms.police.example:8443"},
    {"user", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 64, "the user name"},
    {"password-file",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "read the password from FILE (else standard input, else asked on the terminal)"},
    F_CACERT,
    F_CLIENT_ID,
    {"redirect-uri",
     CLI_STR,
     0,
     {0, 0},
     0,
     URL_MAX,
     "the redirect URI registered for the client (default: http://127.0.0.1/callback)"},
    {"scope",
     CLI_STR,
     0,
     {0, 0},
     0,
     2048,
     "space-separated scopes (default: openid and every MCX service scope)"},
    F_LABEL,
};

static const cli_command login_commands[] = {
    {"", "log in to an IdMS (OpenID Connect code flow with PKCE) and keep the tokens",
     "Log in to an IdMS: discovery (its issuer must be the --idms URL), the authorization request "
     "with PKCE S256, the login form with the user's password, and the token request; the ID "
     "token's signature, claims and nonce are checked. The tokens are kept in "
     "$MCX_STATE_DIR/tokens.json (else $XDG_STATE_HOME/mcxsec, else ~/.local/state/mcxsec), "
     "mode 0600 in a 0700 folder, and never printed.",
     "{\"issuer\", \"user\", \"scope\", \"expires_at\", \"token_file\"}", login_flags,
     COUNT(login_flags), run_login, 0},
};

const cli_group mcx_login_group = {"login", "log in to an IdMS and keep the tokens", login_commands,
                                   COUNT(login_commands)};

static const cli_flag show_flags[] = {
    F_LABEL,
    {"file", CLI_STR, 0, {0, 0}, 0, PATH_MAX_, "a token file other than the default"},
};

static const cli_flag refresh_flags[] = {
    {"idms", CLI_STR, 0, {0, 0}, 0, URL_MAX, "the IdMS (default: the tokens' issuer)"},
    F_CACERT,
    F_LABEL,
    {"client-id",
     CLI_STR,
     0,
     {0, 0},
     0,
     128,
     "the OAuth client_id (default: the access token's client_id)"},
};

static const cli_flag exchange_flags[] = {
    {"partner",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     0,
     URL_MAX,
     "the partner domain's IdMS (its issuer)"},
    {"partner-cacert",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "trust anchors for the partner IdMS (default: --cacert)"},
    F_CACERT,
    {"idms", CLI_STR, 0, {0, 0}, 0, URL_MAX, "the home IdMS (default: the tokens' issuer)"},
    F_LABEL,
    {"as",
     CLI_STR,
     0,
     {0, 0},
     0,
     128,
     "label of the partner's token file (default: the partner's host:port)"},
    {"scope", CLI_STR, 0, {0, 0}, 0, 2048, "scopes asked of the partner"},
    {"client-id",
     CLI_STR,
     0,
     {0, 0},
     0,
     128,
     "the OAuth client_id (default: the access token's client_id)"},
};

static const cli_command token_commands[] = {
    {"show", "show the tokens held: decoded header and claims, expiry",
     "Show the tokens of a token file: the decoded header and claims of the access token and of "
     "the ID token, each with \"expired\", and whether a refresh token is held. Signatures and "
     "the refresh token are never shown.",
     "{\"token_file\", \"issuer\", \"scope\", \"expires_at\", \"expired\", \"access_token\": "
     "{\"header\", \"claims\", \"expired\"}, \"id_token\": {...}, \"refresh_token\": bool}",
     show_flags, COUNT(show_flags), run_show, 0},
    {"refresh", "new tokens for the refresh token (which is rotated)",
     "Exchange the refresh token for new tokens at the IdMS (RFC 6749 §6); the IdMS rotates the "
     "refresh token, and the new ID token is verified. The token file is replaced atomically.",
     "{\"issuer\", \"scope\", \"expires_at\", \"token_file\", \"rotated\": bool}", refresh_flags,
     COUNT(refresh_flags), run_refresh, 0},
    {"exchange", "an access token of a partner domain for the home tokens (RFC 8693)",
     "Inter-domain (TR 33.880 §7.7): ask the home IdMS for an ID token addressed to the partner "
     "(RFC 8693 token exchange with the access token), present it to the partner IdMS, and keep "
     "the partner's access token in tokens-<host:port>.json (or --as LABEL).",
     "{\"issuer\", \"scope\", \"expires_at\", \"token_file\", \"home_issuer\"}", exchange_flags,
     COUNT(exchange_flags), run_exchange, 0},
};

const cli_group mcx_token_group = {"token", "show, refresh and exchange the tokens of mcx login",
                                   token_commands, COUNT(token_commands)};
