/* The daemon's JSON configuration (include/mcxsec/idms.h, docs/idms.md). Unknown keys are refused
 * so that a misspelt setting does not silently fall back to its default. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void mcx_idms_config_free(mcx_idms_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->dir);
    free(cfg->issuer);
    free(cfg->audience);
    free(cfg->listen);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->store);
    free_list(cfg->exchange_audiences, cfg->n_exchange_audiences);
    for (size_t i = 0; i < cfg->n_partners; i++) {
        idms_partner *p = &cfg->partners[i];
        free(p->issuer);
        free(p->jwks_json);
        free(p->jwks_uri);
        free(p->ca_file);
        free_list(p->allow_users, p->n_allow);
        free_list(p->deny_users, p->n_deny);
        free_list(p->scopes, p->n_scopes);
        free(p->label);
        free_list(p->mc_id_domains, p->n_mc_id_domains);
    }
    free(cfg->partners);
    free(cfg);
}

const char *mcx_idms_config_store_url(const mcx_idms_config *cfg)
{
    return cfg != NULL ? cfg->store : NULL;
}

const char *idms_audience(const mcx_idms_config *cfg)
{
    return cfg->audience != NULL ? cfg->audience : cfg->issuer;
}

static mcx_status dup_str(char **dst, const char *s)
{
    char *c = strdup(s);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
    free(*dst);
    *dst = c;
    return MCX_OK;
}

/* A file name relative to the configuration's folder. */
static mcx_status dup_path(const mcx_idms_config *cfg, char **dst, const char *s)
{
    if (s[0] == '/' || cfg->dir == NULL)
        return dup_str(dst, s);
    size_t n = strlen(cfg->dir) + strlen(s) + 2;
    char *c = malloc(n);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
    snprintf(c, n, "%s/%s", cfg->dir, s);
    free(*dst);
    *dst = c;
    return MCX_OK;
}

static mcx_status get_string(json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL)
        return MCX_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must be a non-empty string", key);
    *out = json_string_value(v);
    return MCX_OK;
}

static mcx_status get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return MCX_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must be an integer in %lld..%lld", key,
                        (long long)min, (long long)max);
    *out = json_integer_value(v);
    return MCX_OK;
}

/* The integer settings with their limits, for the file and for mcx_idms_config_set alike. */
typedef struct int_setting {
    const char *name;
    size_t off;
    int is_unsigned; /* the field is an unsigned, else an int64_t */
    int64_t min, max;
} int_setting;

static const int_setting int_settings[] = {
    {"access_token_ttl", offsetof(mcx_idms_config, access_token_ttl), 0, 1, 86400 * 7},
    {"id_token_ttl", offsetof(mcx_idms_config, id_token_ttl), 0, 1, 86400 * 7},
    {"refresh_token_ttl", offsetof(mcx_idms_config, refresh_token_ttl), 0, 1, 86400 * 365},
    {"code_ttl", offsetof(mcx_idms_config, code_ttl), 0, 1, 600},
    {"threads", offsetof(mcx_idms_config, threads), 1, 1, 256},
    {"per_ip_connections", offsetof(mcx_idms_config, per_ip_connections), 1, 1, 1000},
};

static void int_setting_store(mcx_idms_config *cfg, const int_setting *is, int64_t v)
{
    char *p = (char *)cfg + is->off;
    if (is->is_unsigned) {
        unsigned u = (unsigned)v;
        memcpy(p, &u, sizeof u);
    } else {
        memcpy(p, &v, sizeof v);
    }
}

static mcx_status get_int_settings(mcx_idms_config *cfg, json_t *root)
{
    for (size_t i = 0; i < sizeof int_settings / sizeof int_settings[0]; i++) {
        const int_setting *is = &int_settings[i];
        json_t *v = json_object_get(root, is->name);
        if (v == NULL)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < is->min ||
            json_integer_value(v) > is->max)
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must be an integer in %lld..%lld",
                            is->name, (long long)is->min, (long long)is->max);
        int_setting_store(cfg, is, json_integer_value(v));
    }
    return MCX_OK;
}

static mcx_status get_list(json_t *o, const char *key, int scopes, char ***out, size_t *n)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    *n = 0;
    if (v == NULL)
        return MCX_OK;
    if (!json_is_array(v))
        return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must be an array of strings", key);
    size_t m = json_array_size(v);
    char **l = calloc(m + 1, sizeof *l);
    if (l == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
    for (size_t i = 0; i < m; i++) {
        json_t *e = json_array_get(v, i);
        const char *s = json_string_value(e);
        if (s == NULL || s[0] == '\0') {
            free_list(l, i);
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must be an array of strings", key);
        }
        if (scopes) {
            s = mcx_scope_canonical(s);
            if (s == NULL) {
                free_list(l, i);
                return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\": unknown scope \"%.64s\"", key,
                                json_string_value(e));
            }
        }
        l[i] = strdup(s);
        if (l[i] == NULL) {
            free_list(l, i);
            return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
        }
    }
    *out = l;
    *n = m;
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
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: unknown key \"%.64s\"%s", key, where);
    }
    return MCX_OK;
}

static mcx_status read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return MCX_FAIL(MCX_E_IO, "IdMS config: cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
        if (len + 1 == cap) {
            char *nb = cap > (1u << 22) ? NULL : realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS config: %s too large or out of memory", path);
    buf[len] = '\0';
    *out = buf;
    return MCX_OK;
}

static int label_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '_' || c == '-' || c == '[' || c == ']') ||
            n >= 128)
            return 0;
    }
    return n > 0;
}

static mcx_status load_partner(mcx_idms_config *cfg, json_t *o, idms_partner *p, size_t idx)
{
    static const char *const known[] = {"issuer",        "jwks_file",  "jwks_uri", "ca_file",
                                        "allow_users",   "deny_users", "scopes",   "label",
                                        "mc_id_domains", NULL};
    if (!json_is_object(o))
        return MCX_FAIL(MCX_E_ENCODING, "IdMS config: partners[%zu] must be an object", idx);
    MCX_GUARD(check_keys(o, " in a partner", known));
    const char *s;
    MCX_GUARD(get_string(o, "issuer", &s));
    if (s == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS config: partners[%zu] has no \"issuer\"", idx);
    MCX_GUARD(dup_str(&p->issuer, s));
    MCX_GUARD(get_string(o, "jwks_file", &s));
    if (s != NULL) {
        char *path = NULL;
        MCX_GUARD(dup_path(cfg, &path, s));
        mcx_status rc = read_file(path, &p->jwks_json);
        free(path);
        MCX_GUARD(rc);
    }
    MCX_GUARD(get_string(o, "jwks_uri", &s));
    if (s != NULL)
        MCX_GUARD(dup_str(&p->jwks_uri, s));
    MCX_GUARD(get_string(o, "ca_file", &s));
    if (s != NULL)
        MCX_GUARD(dup_path(cfg, &p->ca_file, s));
    MCX_GUARD(get_list(o, "allow_users", 0, &p->allow_users, &p->n_allow));
    MCX_GUARD(get_list(o, "deny_users", 0, &p->deny_users, &p->n_deny));
    MCX_GUARD(get_list(o, "scopes", 1, &p->scopes, &p->n_scopes));
    if (p->scopes == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS config: partners[%zu] has no \"scopes\"", idx);
    /* The label qualifies visiting users' subjects; by default the primary's host[:port]. */
    MCX_GUARD(get_string(o, "label", &s));
    if (s != NULL) {
        MCX_GUARD(dup_str(&p->label, s));
    } else {
        const char *h = strstr(p->issuer, "://");
        h = h != NULL ? h + 3 : p->issuer;
        p->label = strndup(h, strcspn(h, "/?#"));
        if (p->label == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
    }
    if (!label_valid(p->label))
        return MCX_FAIL(MCX_E_ENCODING,
                        "IdMS config: partners[%zu] \"label\" must be 1..128 characters of "
                        "[A-Za-z0-9.:_[]-]",
                        idx);
    MCX_GUARD(get_list(o, "mc_id_domains", 0, &p->mc_id_domains, &p->n_mc_id_domains));
    for (size_t i = 0; i < p->n_mc_id_domains; i++) {
        for (char *c = p->mc_id_domains[i]; *c != '\0'; c++) {
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
            else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                       *c == '-'))
                return MCX_FAIL(MCX_E_ENCODING,
                                "IdMS config: partners[%zu] \"mc_id_domains\" holds \"%.64s\","
                                " not a domain name",
                                idx, p->mc_id_domains[i]);
        }
    }
    return MCX_OK;
}

static mcx_status load_json(mcx_idms_config *cfg, json_t *root)
{
    static const char *const known[] = {"issuer",           "audience",     "listen",
                                        "tls_cert",         "tls_key",      "store",
                                        "access_token_ttl", "id_token_ttl", "refresh_token_ttl",
                                        "code_ttl",         "threads",      "per_ip_connections",
                                        "login_throttle",   "argon2",       "exchange_audiences",
                                        "partners",         "log_requests", NULL};
    if (!json_is_object(root))
        return MCX_FAIL(MCX_E_ENCODING, "IdMS config: not a JSON object");
    MCX_GUARD(check_keys(root, "", known));
    const char *s;
    MCX_GUARD(get_string(root, "issuer", &s));
    if (s != NULL)
        MCX_GUARD(dup_str(&cfg->issuer, s));
    MCX_GUARD(get_string(root, "audience", &s));
    if (s != NULL)
        MCX_GUARD(dup_str(&cfg->audience, s));
    MCX_GUARD(get_string(root, "listen", &s));
    if (s != NULL)
        MCX_GUARD(dup_str(&cfg->listen, s));
    MCX_GUARD(get_string(root, "tls_cert", &s));
    if (s != NULL)
        MCX_GUARD(dup_path(cfg, &cfg->tls_cert, s));
    MCX_GUARD(get_string(root, "tls_key", &s));
    if (s != NULL)
        MCX_GUARD(dup_path(cfg, &cfg->tls_key, s));
    MCX_GUARD(get_string(root, "store", &s));
    if (s != NULL) {
        /* a relative SQLite file is relative to the configuration too */
        if (strncmp(s, "sqlite:", 7) == 0 && s[7] != '/' && strcmp(s + 7, ":memory:") != 0) {
            char *p = NULL;
            MCX_GUARD(dup_path(cfg, &p, s + 7));
            size_t n = strlen(p) + 8;
            free(cfg->store);
            cfg->store = malloc(n);
            if (cfg->store == NULL) {
                free(p);
                return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
            }
            snprintf(cfg->store, n, "sqlite:%s", p);
            free(p);
        } else {
            MCX_GUARD(dup_str(&cfg->store, s));
        }
    }
    MCX_GUARD(get_int_settings(cfg, root));
    int64_t v;
    json_t *lr = json_object_get(root, "log_requests");
    if (lr != NULL) {
        if (!json_is_boolean(lr))
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"log_requests\" must be true or false");
        cfg->log_requests = json_is_true(lr);
    }
    json_t *t = json_object_get(root, "login_throttle");
    if (t != NULL) {
        static const char *const tk[] = {"max_failures", "window", "lockout", NULL};
        if (!json_is_object(t))
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"login_throttle\" must be an object");
        MCX_GUARD(check_keys(t, " in login_throttle", tk));
        v = cfg->throttle_max_failures;
        MCX_GUARD(get_int(t, "max_failures", 1, 1000, &v));
        cfg->throttle_max_failures = (unsigned)v;
        MCX_GUARD(get_int(t, "window", 1, 86400, &cfg->throttle_window));
        MCX_GUARD(get_int(t, "lockout", 1, 86400, &cfg->throttle_lockout));
    }
    json_t *a = json_object_get(root, "argon2");
    if (a != NULL) {
        static const char *const ak[] = {"t_cost", "m_cost_kib", NULL};
        if (!json_is_object(a))
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"argon2\" must be an object");
        MCX_GUARD(check_keys(a, " in argon2", ak));
        v = cfg->argon2_t_cost;
        MCX_GUARD(get_int(a, "t_cost", 1, 100, &v));
        cfg->argon2_t_cost = (uint32_t)v;
        v = cfg->argon2_m_cost_kib;
        MCX_GUARD(get_int(a, "m_cost_kib", 8, 4 * 1024 * 1024, &v));
        cfg->argon2_m_cost_kib = (uint32_t)v;
    }
    MCX_GUARD(get_list(root, "exchange_audiences", 0, &cfg->exchange_audiences,
                       &cfg->n_exchange_audiences));
    json_t *ps = json_object_get(root, "partners");
    if (ps != NULL) {
        if (!json_is_array(ps))
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"partners\" must be an array");
        size_t n = json_array_size(ps);
        cfg->partners = calloc(n + 1, sizeof *cfg->partners);
        if (cfg->partners == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
        for (size_t i = 0; i < n; i++) {
            cfg->n_partners = i + 1;
            MCX_GUARD(load_partner(cfg, json_array_get(ps, i), &cfg->partners[i], i));
        }
    }
    return MCX_OK;
}

static mcx_idms_config *config_new(void)
{
    mcx_idms_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return NULL;
    cfg->access_token_ttl = 3600;
    cfg->id_token_ttl = 3600;
    cfg->refresh_token_ttl = 2592000;
    cfg->code_ttl = 60;
    cfg->threads = 2;
    cfg->per_ip_connections = 64;
    cfg->throttle_max_failures = 5;
    cfg->throttle_window = 300;
    cfg->throttle_lockout = 300;
    cfg->argon2_t_cost = IDMS_ARGON2_T_DEFAULT;
    cfg->argon2_m_cost_kib = IDMS_ARGON2_M_DEFAULT;
    cfg->log_requests = 1;
    return cfg;
}

mcx_status mcx_idms_config_load(mcx_idms_config **out, const char *path)
{
    if (out == NULL || path == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS config: NULL argument");
    *out = NULL;
    mcx_idms_config *cfg = config_new();
    if (cfg == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
    mcx_status rc = MCX_OK;
    const char *slash = strrchr(path, '/');
    cfg->dir =
        slash != NULL ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (cfg->dir == NULL) {
        rc = MCX_FAIL(MCX_E_NOMEM, "IdMS config: out of memory");
        goto fail;
    }
    char *text = NULL;
    MCX_GUARD_GOTO(rc, read_file(path, &text), fail);
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (root == NULL) {
        rc = MCX_FAIL(MCX_E_ENCODING, "IdMS config: %s line %d: %s", path, err.line, err.text);
        goto fail;
    }
    rc = load_json(cfg, root);
    json_decref(root);
    if (rc != MCX_OK)
        goto fail;
    if (cfg->issuer == NULL) {
        rc = MCX_FAIL(MCX_E_ARG, "IdMS config: \"issuer\" is required");
        goto fail;
    }
    if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
        rc = MCX_FAIL(MCX_E_ARG, "IdMS config: \"tls_cert\" and \"tls_key\" are required");
        goto fail;
    }
    if (cfg->listen == NULL && (rc = dup_str(&cfg->listen, "127.0.0.1:8443")) != MCX_OK)
        goto fail;
    if (cfg->store == NULL && (rc = dup_str(&cfg->store, "sqlite:idms.db")) != MCX_OK)
        goto fail;
    *out = cfg;
    return MCX_OK;
fail:
    mcx_idms_config_free(cfg);
    return rc;
}

mcx_status mcx_idms_config_set(mcx_idms_config *cfg, const char *key, const char *value)
{
    if (cfg == NULL || key == NULL || value == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS config: NULL argument");
    static const struct {
        const char *name;
        size_t off;
        int path;
    } strs[] = {
        {"issuer", offsetof(mcx_idms_config, issuer), 0},
        {"audience", offsetof(mcx_idms_config, audience), 0},
        {"listen", offsetof(mcx_idms_config, listen), 0},
        {"store", offsetof(mcx_idms_config, store), 0},
        {"tls_cert", offsetof(mcx_idms_config, tls_cert), 0},
        {"tls_key", offsetof(mcx_idms_config, tls_key), 0},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strcmp(key, strs[i].name) == 0) {
            if (value[0] == '\0')
                return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must not be empty", key);
            return dup_str((char **)((char *)cfg + strs[i].off), value);
        }
    }
    for (size_t i = 0; i < sizeof int_settings / sizeof int_settings[0]; i++) {
        const int_setting *is = &int_settings[i];
        if (strcmp(key, is->name) != 0)
            continue;
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < is->min || v > is->max)
            return MCX_FAIL(MCX_E_ENCODING, "IdMS config: \"%s\" must be an integer in %lld..%lld",
                            key, (long long)is->min, (long long)is->max);
        int_setting_store(cfg, is, v);
        return MCX_OK;
    }
    return MCX_FAIL(MCX_E_ARG, "IdMS config: unknown setting \"%.64s\"", key);
}

void mcx_idms_config_apply_costs(const mcx_idms_config *cfg)
{
    if (cfg != NULL)
        idms_password_set_costs(cfg->argon2_t_cost, cfg->argon2_m_cost_kib);
}
