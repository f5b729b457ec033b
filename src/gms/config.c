/* The GMS daemon's JSON configuration (docs/gms.md "Running it"). Unknown keys are refused so
 * that a misspelt setting does not silently fall back to its default. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error_internal.h"
#include "gms/server_internal.h"

/* kind: 0 plain text, 1 a file name (relative to the configuration's folder), 2 a store URL
 * (a relative SQLite path is made relative to the folder too; postgresql:// kept as is). */
typedef struct str_key {
    const char *name;
    size_t off;
    int kind;
} str_key;

#define S(name, kind)                                                                              \
    {                                                                                              \
#name, offsetof(gms_config, name), kind                                                    \
    }
static const str_key str_keys[] = {S(listen, 0),
                                   S(tls_cert, 1),
                                   S(tls_key, 1),
                                   S(store, 2),
                                   S(issuer, 0),
                                   S(audience, 0),
                                   S(jwks_file, 1),
                                   S(jwks_uri, 0),
                                   S(ca_file, 1),
                                   S(identity, 0),
                                   S(kms_url, 0),
                                   S(keystore, 1),
                                   S(keystore_passphrase_file, 1),
                                   S(token_file, 1),
                                   S(client_id, 0),
                                   S(storage_key, 1)};
#undef S

static char **field(gms_config *cfg, size_t off)
{
    return (char **)(void *)((char *)cfg + off);
}

void gms_config_free(gms_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++)
        free(*field(cfg, str_keys[i].off));
    free(cfg->admins);
    free(cfg->dispatchers);
    free(cfg);
}

static mcx_status set_str(char **dst, const char *dir, const char *s, int kind)
{
    int relative = kind != 0 && s[0] != '/' && strncmp(s, "postgres", 8) != 0 &&
                   strncmp(s, "sqlite:", 7) != 0 && dir != NULL;
    size_t n = (relative ? strlen(dir) + 1 : 0) + strlen(s) + 1;
    char *c = malloc(n);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS config: out of memory");
    snprintf(c, n, "%s%s%s", relative ? dir : "", relative ? "/" : "", s);
    free(*dst);
    *dst = c;
    return MCX_OK;
}

static mcx_status get_uint(json_t *v, const char *key, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return MCX_FAIL(MCX_E_ENCODING, "GMS config: \"%s\" must be an integer in 0..%llu", key,
                        (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return MCX_OK;
}

/* A list of IdMS subjects as " a b c " (subjects are user names: no spaces, checked). */
static mcx_status get_subjects(json_t *v, const char *key, char **out)
{
    if (!json_is_array(v))
        return MCX_FAIL(MCX_E_ENCODING, "GMS config: \"%s\" must be an array of subjects", key);
    size_t n = 2, i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (s == NULL || s[0] == '\0' || strpbrk(s, " \t\r\n") != NULL)
            return MCX_FAIL(MCX_E_ENCODING, "GMS config: \"%s\" entry %zu is not a subject", key,
                            i);
        n += strlen(s) + 1;
    }
    char *c = malloc(n);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS config: out of memory");
    size_t o = 0;
    c[o++] = ' ';
    json_array_foreach(v, i, e)
    {
        size_t l = strlen(json_string_value(e));
        memcpy(c + o, json_string_value(e), l);
        o += l;
        c[o++] = ' ';
    }
    c[o] = '\0';
    free(*out);
    *out = c;
    return MCX_OK;
}

static mcx_status load(gms_config *cfg, json_t *root, const char *dir)
{
    if (!json_is_object(root))
        return MCX_FAIL(MCX_E_ENCODING, "GMS config: not a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int done = 0;
        for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0] && !done; i++) {
            if (strcmp(key, str_keys[i].name) != 0)
                continue;
            if (!json_is_string(v) || json_string_length(v) == 0)
                return MCX_FAIL(MCX_E_ENCODING, "GMS config: \"%s\" must be a non-empty string",
                                key);
            MCX_GUARD(
                set_str(field(cfg, str_keys[i].off), dir, json_string_value(v), str_keys[i].kind));
            done = 1;
        }
        if (done)
            continue;
        uint64_t u = 0;
        if (strcmp(key, "admins") == 0 || strcmp(key, "dispatchers") == 0) {
            MCX_GUARD(get_subjects(v, key, key[0] == 'a' ? &cfg->admins : &cfg->dispatchers));
        } else if (strcmp(key, "rekey_interval") == 0) {
            MCX_GUARD(get_uint(v, key, 10ull * 365 * 86400, &cfg->rekey_interval));
        } else if (strcmp(key, "key_lifetime") == 0) {
            MCX_GUARD(get_uint(v, key, 10ull * 365 * 86400, &cfg->key_lifetime));
        } else if (strcmp(key, "threads") == 0) {
            MCX_GUARD(get_uint(v, key, 16, &u));
            cfg->threads = (unsigned)u;
        } else if (strcmp(key, "max_connections") == 0) {
            MCX_GUARD(get_uint(v, key, 100000, &u));
            cfg->max_connections = (unsigned)u;
        } else if (strcmp(key, "log_requests") == 0) {
            if (!json_is_boolean(v))
                return MCX_FAIL(MCX_E_ENCODING, "GMS config: \"log_requests\" must be true or "
                                                "false");
            cfg->log_requests = json_is_true(v);
        } else {
            return MCX_FAIL(MCX_E_ENCODING, "GMS config: unknown key \"%.64s\"", key);
        }
    }
    static const char *const required[] = {"store", "issuer", "identity", "keystore",
                                           "storage_key"};
    const char *const *vals[] = {
        (const char *const *)&cfg->store, (const char *const *)&cfg->issuer,
        (const char *const *)&cfg->identity, (const char *const *)&cfg->keystore,
        (const char *const *)&cfg->storage_key};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (*vals[i] == NULL)
            return MCX_FAIL(MCX_E_ARG, "GMS config: no \"%s\"", required[i]);
    if ((cfg->kms_url == NULL) != (cfg->token_file == NULL))
        return MCX_FAIL(MCX_E_ARG, "GMS config: \"kms_url\" and \"token_file\" go together (the "
                                   "GMS fetches its own keys with its service account's token)");
    return MCX_OK;
}

mcx_status gms_config_load(gms_config **out, const char *path)
{
    if (out == NULL || path == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS config: NULL argument");
    *out = NULL;
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "GMS config: %s line %d: %s", path, err.line, err.text);
    gms_config *cfg = calloc(1, sizeof *cfg);
    char *pcopy = strdup(path);
    if (cfg == NULL || pcopy == NULL) {
        free(cfg);
        free(pcopy);
        json_decref(root);
        return MCX_FAIL(MCX_E_NOMEM, "GMS config: out of memory");
    }
    cfg->threads = 2;
    mcx_status st = load(cfg, root, dirname(pcopy));
    free(pcopy);
    json_decref(root);
    if (st != MCX_OK) {
        gms_config_free(cfg);
        return st;
    }
    *out = cfg;
    return MCX_OK;
}
