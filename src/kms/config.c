/* The KMS daemon's JSON configuration (include/mcxsec/kms.h, docs/kms.md). Unknown keys are
 * refused so that a misspelt setting does not silently fall back to its default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"

void mcx_kms_config_free(mcx_kms_config *cfg)
{
    if (cfg == NULL)
        return;
    char **f[] = {&cfg->store,    &cfg->secrets,   &cfg->key_file, &cfg->passphrase_file,
                  &cfg->listen,   &cfg->tls_cert,  &cfg->tls_key,  &cfg->issuer,
                  &cfg->audience, &cfg->jwks_file, &cfg->jwks_uri, &cfg->ca_file};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    free(cfg);
}

/* A string setting; file names are made relative to the configuration's folder (dir, may be
 * NULL), and a relative "sqlite:" store too. */
static mcx_status get_str(json_t *root, const char *key, const char *dir, int kind, char **out)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL)
        return MCX_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return MCX_FAIL(MCX_E_ENCODING, "KMS config: \"%s\" must be a non-empty string", key);
    const char *s = json_string_value(v), *prefix = "";
    if (kind == 2) { /* a store URL */
        if (strncmp(s, "sqlite:", 7) == 0 && s[7] != '/' && strcmp(s + 7, ":memory:") != 0) {
            prefix = "sqlite:";
            s += 7;
        } else {
            dir = NULL;
        }
    }
    if (kind == 0 || s[0] == '/')
        dir = NULL;
    size_t n = strlen(prefix) + (dir ? strlen(dir) + 1 : 0) + strlen(s) + 1;
    char *c = malloc(n);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS config: out of memory");
    snprintf(c, n, "%s%s%s%s", prefix, dir ? dir : "", dir ? "/" : "", s);
    free(*out);
    *out = c;
    return MCX_OK;
}

static mcx_status get_u64(json_t *o, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return MCX_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return MCX_FAIL(MCX_E_ENCODING, "KMS config: \"%s\" must be an integer in %llu..%llu", key,
                        (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return MCX_OK;
}

static mcx_status check_keys(json_t *o, const char *where, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i] != NULL; i++)
            ok |= strcmp(known[i], key) == 0;
        if (!ok)
            return MCX_FAIL(MCX_E_ENCODING, "KMS config: unknown key \"%.64s\"%s", key, where);
    }
    return MCX_OK;
}

static mcx_status load_json(mcx_kms_config *cfg, json_t *root, const char *dir)
{
    static const char *const known[] = {
        "store",    "secrets",      "key_file", "passphrase_file",    "listen",
        "tls_cert", "tls_key",      "issuer",   "audience",           "jwks_file",
        "jwks_uri", "ca_file",      "threads",  "next_period_window", "log_requests",
        "argon2",   "clock_offset", NULL};
    if (!json_is_object(root))
        return MCX_FAIL(MCX_E_ENCODING, "KMS config: not a JSON object");
    MCX_GUARD(check_keys(root, "", known));
    MCX_GUARD(get_str(root, "store", dir, 2, &cfg->store));
    MCX_GUARD(get_str(root, "secrets", dir, 1, &cfg->secrets));
    MCX_GUARD(get_str(root, "key_file", dir, 1, &cfg->key_file));
    MCX_GUARD(get_str(root, "passphrase_file", dir, 1, &cfg->passphrase_file));
    MCX_GUARD(get_str(root, "listen", dir, 0, &cfg->listen));
    MCX_GUARD(get_str(root, "tls_cert", dir, 1, &cfg->tls_cert));
    MCX_GUARD(get_str(root, "tls_key", dir, 1, &cfg->tls_key));
    MCX_GUARD(get_str(root, "issuer", dir, 0, &cfg->issuer));
    MCX_GUARD(get_str(root, "audience", dir, 0, &cfg->audience));
    MCX_GUARD(get_str(root, "jwks_file", dir, 1, &cfg->jwks_file));
    MCX_GUARD(get_str(root, "jwks_uri", dir, 0, &cfg->jwks_uri));
    MCX_GUARD(get_str(root, "ca_file", dir, 1, &cfg->ca_file));
    uint64_t v = cfg->threads;
    MCX_GUARD(get_u64(root, "threads", 1, 256, &v));
    cfg->threads = (unsigned)v;
    MCX_GUARD(get_u64(root, "next_period_window", 0, UINT32_MAX, &cfg->next_period_window));
    json_t *co = json_object_get(root, "clock_offset");
    if (co != NULL) {
        /* at most ten years either way: enough for any drill, far from overflow */
        if (!json_is_integer(co) || json_integer_value(co) > MCX_KMS_CLOCK_OFFSET_MAX ||
            json_integer_value(co) < -MCX_KMS_CLOCK_OFFSET_MAX)
            return MCX_FAIL(MCX_E_ENCODING,
                            "KMS config: \"clock_offset\" must be an integer of seconds within "
                            "+-%lld",
                            (long long)MCX_KMS_CLOCK_OFFSET_MAX);
        cfg->clock_offset = (int64_t)json_integer_value(co);
    }
    json_t *lr = json_object_get(root, "log_requests");
    if (lr != NULL) {
        if (!json_is_boolean(lr))
            return MCX_FAIL(MCX_E_ENCODING, "KMS config: \"log_requests\" must be true or false");
        cfg->log_requests = json_is_true(lr);
    }
    json_t *a = json_object_get(root, "argon2");
    if (a != NULL) {
        static const char *const ak[] = {"t_cost", "m_cost_kib", "lanes", NULL};
        if (!json_is_object(a))
            return MCX_FAIL(MCX_E_ENCODING, "KMS config: \"argon2\" must be an object");
        MCX_GUARD(check_keys(a, " in argon2", ak));
        v = cfg->argon2.t_cost;
        MCX_GUARD(get_u64(a, "t_cost", 1, 100, &v));
        cfg->argon2.t_cost = (uint32_t)v;
        v = cfg->argon2.m_cost_kib;
        MCX_GUARD(get_u64(a, "m_cost_kib", 8, 4 * 1024 * 1024, &v));
        cfg->argon2.m_cost_kib = (uint32_t)v;
        v = cfg->argon2.lanes;
        MCX_GUARD(get_u64(a, "lanes", 1, 16, &v));
        cfg->argon2.lanes = (uint32_t)v;
    }
    if (cfg->store == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS config: no \"store\"");
    if (cfg->secrets == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS config: no \"secrets\"");
    if ((cfg->key_file == NULL) == (cfg->passphrase_file == NULL))
        return MCX_FAIL(MCX_E_ARG,
                        "KMS config: give exactly one of \"key_file\" and \"passphrase_file\"");
    return MCX_OK;
}

mcx_status mcx_kms_config_load(mcx_kms_config **out, const char *path)
{
    if (out == NULL || path == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS config: NULL argument");
    *out = NULL;
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            return MCX_FAIL(MCX_E_IO, "KMS config: cannot read %s: %s", path, strerror(errno));
        fclose(f);
        return MCX_FAIL(MCX_E_ENCODING, "KMS config: %s line %d: %s", path, err.line, err.text);
    }
    mcx_kms_config *cfg = calloc(1, sizeof *cfg);
    char *dir = strdup(path);
    mcx_status s = MCX_OK;
    if (cfg == NULL || dir == NULL) {
        s = MCX_FAIL(MCX_E_NOMEM, "KMS config: out of memory");
    } else {
        cfg->threads = 2;
        cfg->log_requests = 1;
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        s = load_json(cfg, root, slash != NULL ? (dir[0] ? dir : "/") : NULL);
    }
    json_decref(root);
    free(dir);
    if (s != MCX_OK) {
        mcx_kms_config_free(cfg);
        return s;
    }
    *out = cfg;
    return MCX_OK;
}
