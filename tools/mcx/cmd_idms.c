/* mcx idms: administration of an IdMS store (TS 33.180 Annex B users and clients, the signing
 * keys). Every command opens the store named by --store, or by the "store" of the daemon's
 * configuration file (--config), and calls the administration API of include/mcxsec/idms.h. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_groups.h"
#include "mcxsec/idms.h"
#include "mcxsec/mem.h"
#include "mcxsec/store.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define URL_MAX           4096
#define REDIRECT_URIS_MAX 16

#define F_STORE                                                                                    \
    {                                                                                              \
        "store", CLI_STR, 0, {0, 0}, 0, URL_MAX,                                                   \
            "the store: sqlite:PATH, PATH, or postgresql://... (or use --config)"                  \
    }
#define F_CONFIG                                                                                   \
    {                                                                                              \
        "config", CLI_STR, 0, {0, 0}, 0, URL_MAX,                                                  \
            "the mcx-idms configuration file whose \"store\" to use"                               \
    }
#define F_USER                                                                                     \
    {                                                                                              \
        "user", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 64, "the user name (1..64 of [A-Za-z0-9._@-])"   \
    }
#define F_PASSWORD_FILE                                                                            \
    {                                                                                              \
        "password-file", CLI_STR, 0, {0, 0}, 0, URL_MAX,                                           \
            "read the password from FILE (else standard input, else asked twice on the terminal)"  \
    }

/* The store URL of the daemon's configuration file, resolved exactly as mcx-idms does (a
 * relative SQLite file is relative to the file's folder). */
static int config_store_url(cli_ctx *ctx, const char *path, char *url, size_t cap)
{
    mcx_idms_config *cfg = NULL;
    mcx_status s = mcx_idms_config_load(&cfg, path);
    if (s == MCX_E_NOMEM)
        return cli_fail(ctx, s, "--config");
    if (s != MCX_OK)
        return cli_usage(ctx, "--config: %s", mcx_last_error());
    /* new password hashes get the costs the daemon is configured with */
    mcx_idms_config_apply_costs(cfg);
    const char *store = mcx_idms_config_store_url(cfg);
    int rc = CLI_EXIT_OK;
    if (store == NULL || store[0] == '\0')
        rc = cli_usage(ctx, "--config: %s has no \"store\"", path);
    else if ((size_t)snprintf(url, cap, "%s", store) >= cap)
        rc = cli_usage(ctx, "--config: the store URL is too long");
    mcx_idms_config_free(cfg);
    return rc;
}

/* Open the store of --store or --config (exactly one). */
static int open_store(cli_ctx *ctx, mcx_store **st)
{
    *st = NULL;
    int has_store = cli_has(ctx, "store"), has_config = cli_has(ctx, "config");
    if (has_store == has_config)
        return cli_usage(ctx, "give exactly one of --store URL and --config FILE");
    char url[URL_MAX + 256];
    if (has_store) {
        snprintf(url, sizeof url, "%s", cli_str(ctx, "store"));
    } else {
        int rc = config_store_url(ctx, cli_str(ctx, "config"), url, sizeof url);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    mcx_status s = mcx_store_open(st, url);
    mcx_memzero(url, sizeof url); /* a PostgreSQL URI may carry a password */
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--store: %s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "opening the store");
    return CLI_EXIT_OK;
}

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

/* ---- init ---- */

static int run_init(cli_ctx *ctx)
{
    mcx_store *st;
    int rc = open_store(ctx, &st);
    if (rc != CLI_EXIT_OK)
        return rc;
    mcx_status s = mcx_idms_init(st, now());
    if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "initialising the store");
    } else {
        json_t *o = cli_out_new();
        if (o != NULL && (json_object_set_new(o, "store", json_string(mcx_store_backend(st))) ||
                          cli_out_bool(o, "initialized", 1))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_store_close(st);
    return rc;
}

/* ---- users ---- */

static int run_user_add(cli_ctx *ctx)
{
    char *pw = NULL;
    mcx_store *st = NULL;
    char prompt[128];
    snprintf(prompt, sizeof prompt, "New password for %s", cli_str(ctx, "user"));
    int rc = cli_read_password(ctx, "password-file", prompt, 1, &pw);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = open_store(ctx, &st);
    if (rc != CLI_EXIT_OK)
        goto out;
    mcx_idms_user u = {cli_str(ctx, "user"), cli_str(ctx, "mcptt-id"), cli_str(ctx, "mcvideo-id"),
                       cli_str(ctx, "mcdata-id")};
    mcx_status s = mcx_idms_user_add(st, &u, pw, now());
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
        goto out;
    }
    if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "adding user '%s'", u.username);
        goto out;
    }
    json_t *o = cli_out_new();
    int bad = o == NULL || json_object_set_new(o, "user", json_string(u.username)) ||
              cli_out_bool(o, "enabled", 1);
    const char *ids[][2] = {
        {"mcptt_id", u.mcptt_id}, {"mcvideo_id", u.mcvideo_id}, {"mcdata_id", u.mcdata_id}};
    for (size_t i = 0; !bad && i < COUNT(ids); i++)
        if (ids[i][1] != NULL)
            bad |= json_object_set_new(o, ids[i][0], json_string(ids[i][1]));
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    rc = cli_emit(ctx, o);
out:
    mcx_secure_free(pw);
    mcx_store_close(st);
    return rc;
}

static int set_enabled(cli_ctx *ctx, int enabled)
{
    mcx_store *st;
    int rc = open_store(ctx, &st);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *user = cli_str(ctx, "user");
    mcx_status s = mcx_idms_user_set_enabled(st, user, enabled, now());
    if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "%s user '%s'", enabled ? "enabling" : "disabling", user);
    } else {
        json_t *o = cli_out_new();
        if (o != NULL && (json_object_set_new(o, "user", json_string(user)) ||
                          cli_out_bool(o, "enabled", enabled))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_store_close(st);
    return rc;
}

static int run_user_disable(cli_ctx *ctx)
{
    return set_enabled(ctx, 0);
}

static int run_user_enable(cli_ctx *ctx)
{
    return set_enabled(ctx, 1);
}

static int run_user_password(cli_ctx *ctx)
{
    char *pw = NULL;
    mcx_store *st = NULL;
    const char *user = cli_str(ctx, "user");
    char prompt[128];
    snprintf(prompt, sizeof prompt, "New password for %s", user);
    int rc = cli_read_password(ctx, "password-file", prompt, 1, &pw);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = open_store(ctx, &st);
    if (rc != CLI_EXIT_OK)
        goto out;
    mcx_status s = mcx_idms_user_set_password(st, user, pw, now());
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "setting the password of '%s'", user);
    } else {
        json_t *o = cli_out_new();
        if (o != NULL && (json_object_set_new(o, "user", json_string(user)) ||
                          cli_out_bool(o, "password_changed", 1))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
out:
    mcx_secure_free(pw);
    mcx_store_close(st);
    return rc;
}

/* ---- clients ---- */

static int run_client_add(cli_ctx *ctx)
{
    const char *id = cli_str(ctx, "client-id");
    char *list = strdup(cli_str(ctx, "redirect-uri"));
    if (list == NULL) {
        fprintf(stderr, "%s: out of memory\n", cli_prog(ctx));
        return CLI_EXIT_FAILED;
    }
    const char *uris[REDIRECT_URIS_MAX];
    size_t n = 0;
    int rc = CLI_EXIT_OK;
    for (char *save = NULL, *u = strtok_r(list, ",", &save); u != NULL;
         u = strtok_r(NULL, ",", &save)) {
        if (n == REDIRECT_URIS_MAX) {
            rc = cli_usage(ctx, "--redirect-uri: more than %d URIs", REDIRECT_URIS_MAX);
            goto out;
        }
        uris[n++] = u;
    }
    if (n == 0) {
        rc = cli_usage(ctx, "--redirect-uri: no URI");
        goto out;
    }
    mcx_store *st;
    rc = open_store(ctx, &st);
    if (rc != CLI_EXIT_OK)
        goto out;
    mcx_status s = mcx_idms_client_add(st, id, uris, n, now());
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "adding client '%s'", id);
    } else {
        json_t *o = cli_out_new(), *a = json_array();
        int bad = o == NULL || a == NULL;
        for (size_t i = 0; !bad && i < n; i++)
            bad |= json_array_append_new(a, json_string(uris[i]));
        if (!bad) {
            bad |= json_object_set_new(o, "client_id", json_string(id));
            bad |= json_object_set_new(o, "redirect_uris", a);
            a = NULL;
        }
        json_decref(a);
        if (bad) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_store_close(st);
out:
    free(list);
    return rc;
}

/* ---- keys ---- */

static int run_key_rotate(cli_ctx *ctx)
{
    mcx_store *st;
    int rc = open_store(ctx, &st);
    if (rc != CLI_EXIT_OK)
        return rc;
    char kid[128];
    mcx_status s = mcx_idms_key_rotate(st, now(), kid, sizeof kid);
    if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "rotating the signing key");
    } else {
        json_t *o = cli_out_new();
        if (o != NULL && json_object_set_new(o, "kid", json_string(kid))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_store_close(st);
    return rc;
}

/* ---- the table ---- */

static const cli_flag init_flags[] = {F_STORE, F_CONFIG};

static const cli_flag user_add_flags[] = {
    F_USER,
    F_PASSWORD_FILE,
    {"mcptt-id", CLI_STR, 0, {0, 0}, 0, 255, "MCPTT ID, e.g. sip:alice@police.example"},
    {"mcvideo-id", CLI_STR, 0, {0, 0}, 0, 255, "MCVideo ID"},
    {"mcdata-id", CLI_STR, 0, {0, 0}, 0, 255, "MCData ID"},
    F_STORE,
    F_CONFIG,
};

static const cli_flag user_flags[] = {F_USER, F_STORE, F_CONFIG};
static const cli_flag user_password_flags[] = {F_USER, F_PASSWORD_FILE, F_STORE, F_CONFIG};

static const cli_flag client_add_flags[] = {
    {"client-id", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 128, "the OAuth client_id, e.g. mcx-cli"},
    {"redirect-uri",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     0,
     URL_MAX,
     "its exact redirect URIs, comma-separated"},
    F_STORE,
    F_CONFIG,
};

static const cli_flag key_flags[] = {F_STORE, F_CONFIG};

static const cli_command idms_commands[] = {
    {"init", "create or upgrade the store's schema and its first signing key",
     "Create or upgrade the IdMS schema in the store and, when it has no active signing key, "
     "create one (P-256, ES256). Running it again changes nothing.",
     "{\"store\": \"sqlite\"|\"postgresql\", \"initialized\": true}", init_flags, COUNT(init_flags),
     run_init, 0},
    {"user add", "add a user with a password and MC IDs",
     "Add a user: an argon2id hash of the password (never stored in clear) and the user's MC IDs. "
     "The password comes from --password-file, else from standard input when it is not a "
     "terminal, else it is asked twice on the terminal without echo; never on the command line.",
     "{\"user\", \"enabled\": true, \"mcptt_id\", \"mcvideo_id\", \"mcdata_id\"}", user_add_flags,
     COUNT(user_add_flags), run_user_add, 0},
    {"user disable", "disable a user and revoke the user's refresh tokens",
     "Disable a user: logins are refused and every refresh token of the user is revoked.",
     "{\"user\", \"enabled\": false}", user_flags, COUNT(user_flags), run_user_disable, 0},
    {"user enable", "enable a disabled user", "Enable a user that was disabled.",
     "{\"user\", \"enabled\": true}", user_flags, COUNT(user_flags), run_user_enable, 0},
    {"user password", "replace a user's password",
     "Replace a user's password (read as for 'user add').",
     "{\"user\", \"password_changed\": true}", user_password_flags, COUNT(user_password_flags),
     run_user_password, 0},
    {"client add", "register an OAuth client (public, PKCE) with its redirect URIs",
     "Register a public native client (no secret; PKCE S256 required) with the exact redirect "
     "URIs it may use.",
     "{\"client_id\", \"redirect_uris\": [...]}", client_add_flags, COUNT(client_add_flags),
     run_client_add, 0},
    {"key rotate", "create a new signing key; the old one is retired",
     "Create a new active signing key. The previous key no longer signs but stays in /jwks until "
     "every token it signed has expired. A running mcx-idms picks the new key up within a few "
     "seconds (or at once on SIGHUP).",
     "{\"kid\": the new key's ID}", key_flags, COUNT(key_flags), run_key_rotate, 0},
};

const cli_group mcx_idms_group = {
    "idms", "administration of an IdMS store: schema, users, clients, signing keys", idms_commands,
    COUNT(idms_commands)};
