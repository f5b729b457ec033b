/* mcx kms: administration of a KMS (include/mcxsec/kms.h, docs/kms.md): the master secrets and
 * domain (init), identities, the certificate, rollover and single issues. Every command takes
 * the store and the sealed secrets from flags, or from the daemon's configuration file (--config),
 * flags overriding the file. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_groups.h"
#include "mcxsec/hex.h"
#include "mcxsec/kms.h"
#include "mcxsec/kms_xml.h"
#include "mcxsec/mem.h"
#include "mcxsec/store.h"

#define COUNT(a)  (sizeof(a) / sizeof((a)[0]))
#define PATH_MAX_ 4096

#define F_STORE                                                                                    \
    {                                                                                              \
        "store", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                                 \
            "the store: sqlite:PATH, PATH, or postgresql://... (or from --config)"                 \
    }
#define F_CONFIG                                                                                   \
    {                                                                                              \
        "config", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                                \
            "the mcx-kms configuration file (store, secrets, key or passphrase file)"              \
    }
#define F_SECRETS                                                                                  \
    {                                                                                              \
        "secrets", CLI_STR, 0, {0, 0}, 0, PATH_MAX_, "the sealed master-secrets file (mode 0600)"  \
    }
#define F_PASSFILE                                                                                 \
    {                                                                                              \
        "passphrase-file", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                       \
            "the secrets are sealed with the passphrase in FILE (mode 0600; argon2id)"             \
    }
#define F_KEYFILE                                                                                  \
    {                                                                                              \
        "key-file", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                              \
            "the secrets are sealed with the random key in FILE (mode 0600; init creates it)"      \
    }
#define F_URI                                                                                      \
    {                                                                                              \
        "uri", CLI_STR, CLI_REQUIRED, {0, 0}, 1, 255,                                              \
            "the identity: an MC service ID, e.g. sip:alice@police.example"                        \
    }

/* Where the store and the secrets are: the configuration file, then the flags over it. */
typedef struct kms_paths {
    mcx_kms_config *cfg;
    const char *store, *secrets, *key_file, *passphrase_file;
} kms_paths;

static int paths_get(cli_ctx *ctx, kms_paths *p)
{
    memset(p, 0, sizeof *p);
    if (cli_has(ctx, "config")) {
        mcx_status s = mcx_kms_config_load(&p->cfg, cli_str(ctx, "config"));
        if (s == MCX_E_NOMEM)
            return cli_fail(ctx, s, "--config");
        if (s != MCX_OK)
            return cli_usage(ctx, "--config: %s", mcx_last_error());
        p->store = p->cfg->store;
        p->secrets = p->cfg->secrets;
        p->key_file = p->cfg->key_file;
        p->passphrase_file = p->cfg->passphrase_file;
    }
    if (cli_has(ctx, "store"))
        p->store = cli_str(ctx, "store");
    if (cli_has(ctx, "secrets"))
        p->secrets = cli_str(ctx, "secrets");
    /* a flag for one sealing mode replaces the configuration's choice */
    if (cli_has(ctx, "key-file") || cli_has(ctx, "passphrase-file")) {
        p->key_file = cli_str(ctx, "key-file");
        p->passphrase_file = cli_str(ctx, "passphrase-file");
    }
    if (p->store == NULL)
        return cli_usage(ctx, "give --store URL or --config FILE");
    return CLI_EXIT_OK;
}

static void paths_free(kms_paths *p)
{
    mcx_kms_config_free(p->cfg);
    p->cfg = NULL;
}

static int open_store(cli_ctx *ctx, const kms_paths *p, mcx_store **st)
{
    mcx_status s = mcx_store_open(st, p->store);
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--store: %s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "opening the store");
    return CLI_EXIT_OK;
}

/* The unlock of the sealed file: exactly one of the key file and the passphrase file. *pw is the
 * passphrase in secure memory (free with mcx_secure_free). */
static int unlock_get(cli_ctx *ctx, const kms_paths *p, mcx_kms_unlock *u, char **pw)
{
    memset(u, 0, sizeof *u);
    *pw = NULL;
    if (p->secrets == NULL)
        return cli_usage(ctx, "give --secrets FILE (or --config FILE)");
    if ((p->key_file == NULL) == (p->passphrase_file == NULL))
        return cli_usage(ctx, "give exactly one of --key-file FILE and --passphrase-file FILE");
    if (p->key_file != NULL) {
        u->key_file = p->key_file;
        return CLI_EXIT_OK;
    }
    mcx_status s = mcx_kms_read_passphrase(p->passphrase_file, pw, &u->passphrase_len);
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--passphrase-file: %s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "reading the passphrase file");
    u->passphrase = *pw;
    return CLI_EXIT_OK;
}

static int load_secrets(cli_ctx *ctx, const kms_paths *p, mcx_kms_secrets **sec)
{
    mcx_kms_unlock u;
    char *pw = NULL;
    int rc = unlock_get(ctx, p, &u, &pw);
    if (rc == CLI_EXIT_OK) {
        mcx_status s = mcx_kms_secrets_load(sec, p->secrets, &u);
        if (s != MCX_OK)
            rc = cli_fail(ctx, s, "opening the master secrets");
    }
    mcx_secure_free(pw);
    return rc;
}

/* The store and the KMS, with the secrets when need_secrets. */
static int open_kms(cli_ctx *ctx, int need_secrets, mcx_store **st, mcx_kms **kms)
{
    kms_paths p;
    mcx_kms_secrets *sec = NULL;
    *st = NULL;
    *kms = NULL;
    int rc = paths_get(ctx, &p);
    if (rc == CLI_EXIT_OK && need_secrets)
        rc = load_secrets(ctx, &p, &sec);
    if (rc == CLI_EXIT_OK)
        rc = open_store(ctx, &p, st);
    if (rc == CLI_EXIT_OK) {
        mcx_status s = mcx_kms_open(kms, *st, sec);
        if (s != MCX_OK)
            rc = cli_fail(ctx, s, "opening the KMS");
    }
    mcx_kms_secrets_free(sec);
    paths_free(&p);
    if (rc != CLI_EXIT_OK) {
        mcx_store_close(*st);
        *st = NULL;
    }
    return rc;
}

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v));
}

static int set_int(json_t *o, const char *k, uint64_t v)
{
    return json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* ---- init ---- */

static int run_init(cli_ctx *ctx)
{
    kms_paths p;
    mcx_kms_secrets *sec = NULL;
    mcx_store *st = NULL;
    char *pw = NULL;
    mcx_kms_unlock u;
    int created = 0;
    int rc = paths_get(ctx, &p);
    if (rc != CLI_EXIT_OK)
        return rc;
    mcx_kms_settings set;
    memset(&set, 0, sizeof set);
    snprintf(set.kms_uri, sizeof set.kms_uri, "%s", cli_str(ctx, "kms-uri"));
    set.key_period = cli_has(ctx, "period") ? cli_u64(ctx, "period") : 2592000;
    set.key_offset = cli_u64(ctx, "offset");
    const char *mode = cli_has(ctx, "id-mode") ? cli_str(ctx, "id-mode") : "raw";
    if (strcmp(mode, "raw") == 0) {
        set.id_mode = MCX_ID_RAW;
    } else if (strcmp(mode, "hex") == 0) {
        set.id_mode = MCX_ID_HEX_STRING;
    } else {
        rc = cli_usage(ctx, "--id-mode: expected raw or hex, not '%s'", mode);
        goto out;
    }
    if (set.key_period == 0 || set.key_offset >= set.key_period) {
        rc = cli_usage(ctx, "--period must be > 0 and --offset below it");
        goto out;
    }
    rc = unlock_get(ctx, &p, &u, &pw);
    if (rc != CLI_EXIT_OK)
        goto out;
    mcx_status s;
    if (access(p.secrets, F_OK) == 0) {
        /* an existing file is never overwritten: a second instance or a re-run uses it */
        s = mcx_kms_secrets_load(&sec, p.secrets, &u);
        if (s != MCX_OK) {
            rc = cli_fail(ctx, s, "opening the existing master secrets %s", p.secrets);
            goto out;
        }
    } else {
        mcx_kms_kdf_params kdf = {0, 0, 0};
        if (p.cfg != NULL)
            kdf = p.cfg->argon2;
        if (cli_has(ctx, "kdf-t"))
            kdf.t_cost = (uint32_t)cli_u64(ctx, "kdf-t");
        if (cli_has(ctx, "kdf-m-kib"))
            kdf.m_cost_kib = (uint32_t)cli_u64(ctx, "kdf-m-kib");
        s = mcx_kms_secrets_generate(&sec);
        if (s == MCX_OK)
            s = mcx_kms_secrets_seal(sec, p.secrets, &u, &kdf);
        if (s == MCX_E_ARG) {
            rc = cli_usage(ctx, "%s", mcx_last_error());
            goto out;
        }
        if (s != MCX_OK) {
            rc = cli_fail(ctx, s, "sealing the master secrets");
            goto out;
        }
        created = 1;
    }
    rc = open_store(ctx, &p, &st);
    if (rc != CLI_EXIT_OK)
        goto out;
    s = mcx_kms_init(st, sec, &set, now());
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
        goto out;
    }
    if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "initialising the store");
        goto out;
    }
    json_t *o = cli_out_new();
    if (o != NULL &&
        (set_str(o, "kms_uri", set.kms_uri) || set_str(o, "store", mcx_store_backend(st)) ||
         set_str(o, "secrets", p.secrets) ||
         set_str(o, "sealed_with", u.key_file != NULL ? "key_file" : "passphrase") ||
         cli_out_bool(o, "secrets_created", created) ||
         set_int(o, "user_key_period", set.key_period) ||
         set_int(o, "user_key_offset", set.key_offset) || set_str(o, "id_mode", mode) ||
         cli_out_hex(o, "pub_auth_key", sec->kpak, sizeof sec->kpak))) {
        json_decref(o);
        o = NULL;
    }
    rc = cli_emit(ctx, o);
out:
    mcx_secure_free(pw);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);
    paths_free(&p);
    return rc;
}

/* ---- identities ---- */

static int identity_cmd(cli_ctx *ctx, int what)
{
    kms_paths p;
    mcx_store *st = NULL;
    int rc = paths_get(ctx, &p);
    if (rc == CLI_EXIT_OK)
        rc = open_store(ctx, &p, &st);
    paths_free(&p);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *uri = cli_str(ctx, "uri");
    mcx_status s;
    mcx_kms *kms = NULL;
    /* the store must hold a domain: identities without a KMS are a mistake */
    s = mcx_kms_open(&kms, st, NULL);
    mcx_kms_close(kms);
    if (s == MCX_OK) {
        if (what == 0)
            s = mcx_kms_user_add(st, uri, now());
        else if (what == 1)
            s = mcx_kms_identity_revoke(st, uri, now());
        else if (what == 2)
            s = mcx_kms_service_add(st, uri, cli_str(ctx, "client-id"), cli_str(ctx, "sub"), now());
        else
            s = mcx_kms_service_set(st, uri, cli_str(ctx, "client-id"), cli_str(ctx, "sub"));
    }
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "%s '%s'",
                      what == 0   ? "adding user"
                      : what == 1 ? "revoking"
                      : what == 2 ? "adding service"
                                  : "setting service",
                      uri);
    } else {
        mcx_kms_identity id;
        s = mcx_kms_identity_get(st, uri, &id);
        json_t *o = s == MCX_OK ? cli_out_new() : NULL;
        if (o != NULL &&
            (set_str(o, "uri", uri) || set_str(o, "kind", id.is_service ? "service" : "user") ||
             cli_out_bool(o, "revoked", id.revoked) ||
             (id.is_service &&
              (set_str(o, "client_id", id.client_id) || set_str(o, "sub", id.subject))) ||
             (id.revoked && json_object_set_new(o, "revoked_at", json_integer(id.revoked_at))))) {
            json_decref(o);
            o = NULL;
        }
        rc = s != MCX_OK ? cli_fail(ctx, s, "reading '%s'", uri) : cli_emit(ctx, o);
    }
    mcx_store_close(st);
    return rc;
}

static int run_user_add(cli_ctx *ctx)
{
    return identity_cmd(ctx, 0);
}

static int run_user_revoke(cli_ctx *ctx)
{
    return identity_cmd(ctx, 1);
}

static int run_service_add(cli_ctx *ctx)
{
    return identity_cmd(ctx, 2);
}

static int run_service_set(cli_ctx *ctx)
{
    return identity_cmd(ctx, 3);
}

/* ---- certcache: external KMS certificates (TS 33.180 D.3.4) ---- */

#define CERT_FILE_MAX (64 * 1024)

/* what: 0 add, 1 revoke, 2 remove */
static int certcache_cmd(cli_ctx *ctx, int what)
{
    kms_paths p;
    mcx_store *st = NULL;
    int rc = paths_get(ctx, &p);
    if (rc == CLI_EXIT_OK)
        rc = open_store(ctx, &p, &st);
    paths_free(&p);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *uri = cli_str(ctx, "uri");
    char *xml = NULL;
    mcx_kms *kms = NULL;
    mcx_status s = mcx_kms_open(&kms, st, NULL); /* the store must hold a domain */
    mcx_kms_close(kms);
    if (s == MCX_OK && what == 0) {
        const char *path = cli_str(ctx, "file");
        FILE *f = fopen(path, "rb");
        xml = f != NULL ? malloc(CERT_FILE_MAX + 1) : NULL;
        size_t n = xml != NULL ? fread(xml, 1, CERT_FILE_MAX, f) : 0;
        int big = xml != NULL && !feof(f);
        if (f != NULL)
            fclose(f);
        if (f == NULL || xml == NULL || big || n == 0) {
            free(xml);
            mcx_store_close(st);
            return f == NULL     ? cli_usage(ctx, "--file: cannot read %s", path)
                   : xml == NULL ? cli_fail(ctx, MCX_E_NOMEM, "out of memory")
                                 : cli_usage(ctx, "--file: %s is empty or over 64 KiB", path);
        }
        xml[n] = '\0';
        s = mcx_kms_certcache_put(st, uri, xml, now());
    } else if (s == MCX_OK) {
        s = what == 1 ? mcx_kms_certcache_revoke(st, uri, now())
                      : mcx_kms_certcache_remove(st, uri);
    }
    free(xml);
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "%s the certcache entry '%s'",
                      what == 0   ? "adding"
                      : what == 1 ? "revoking"
                                  : "removing",
                      uri);
    } else {
        json_t *o = cli_out_new();
        if (o != NULL &&
            (set_str(o, "kms_uri", uri) ||
             (what == 2 ? cli_out_bool(o, "removed", 1) : cli_out_bool(o, "revoked", what == 1)))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_store_close(st);
    return rc;
}

static int run_certcache_add(cli_ctx *ctx)
{
    return certcache_cmd(ctx, 0);
}

static int run_certcache_revoke(cli_ctx *ctx)
{
    return certcache_cmd(ctx, 1);
}

static int run_certcache_remove(cli_ctx *ctx)
{
    return certcache_cmd(ctx, 2);
}

/* ---- export-cert ---- */

static int run_export_cert(cli_ctx *ctx)
{
    const char *fmt = cli_has(ctx, "format") ? cli_str(ctx, "format") : "json";
    if (strcmp(fmt, "json") != 0 && strcmp(fmt, "xml") != 0)
        return cli_usage(ctx, "--format: expected xml or json, not '%s'", fmt);
    mcx_store *st;
    mcx_kms *kms;
    int rc = open_kms(ctx, 0, &st, &kms);
    if (rc != CLI_EXIT_OK)
        return rc;
    mcx_kms_certificate c;
    mcx_kms_certificate_get(kms, &c);
    if (strcmp(fmt, "xml") == 0) {
        /* The certificate as the KMS sends it: a KmsResponse with KmsInit (TS 33.180 D.2.3). */
        mcx_kms_response r;
        memset(&r, 0, sizeof r);
        const char *user = cli_has(ctx, "user-uri") ? cli_str(ctx, "user-uri") : c.kms_uri;
        snprintf(r.user_uri, sizeof r.user_uri, "%s", user);
        snprintf(r.kms_uri, sizeof r.kms_uri, "%s", c.kms_uri);
        snprintf(r.client_req_url, sizeof r.client_req_url,
                 "https://%.200s/keymanagement/identity/v1/init", c.kms_uri);
        r.time = time(NULL);
        r.type = MCX_KMS_MSG_INIT;
        r.certs = &c;
        r.n_certs = 1;
        char *xml = NULL;
        size_t len = 0;
        mcx_status s = mcx_kms_response_write(&r, &xml, &len);
        if (s != MCX_OK) {
            rc = cli_fail(ctx, s, "writing the certificate");
        } else if (fwrite(xml, 1, len, stdout) != len || fflush(stdout) != 0) {
            rc = cli_fail(ctx, MCX_E_IO, "writing to stdout");
        }
        mcx_kms_xml_free(xml);
    } else {
        json_t *o = cli_out_new();
        if (o != NULL &&
            (set_str(o, "kms_uri", c.kms_uri) || set_str(o, "cert_uri", c.cert_uri) ||
             set_str(o, "issuer", c.issuer) || set_str(o, "version", c.version) ||
             set_str(o, "role", "Root") || set_str(o, "user_id_format", c.user_id_format) ||
             set_int(o, "user_key_period", c.user_key_period) ||
             set_int(o, "user_key_offset", c.user_key_offset) ||
             set_str(o, "id_mode",
                     mcx_kms_get_settings(kms)->id_mode == MCX_ID_HEX_STRING ? "hex" : "raw") ||
             cli_out_hex(o, "pub_enc_key", c.z, sizeof c.z) ||
             cli_out_hex(o, "pub_auth_key", c.kpak, sizeof c.kpak))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_kms_close(kms);
    mcx_store_close(st);
    return rc;
}

/* ---- rollover and issue ---- */

static uint64_t ntp_time(cli_ctx *ctx)
{
    return cli_has(ctx, "time") ? cli_u64(ctx, "time") : mcx_ntp_now();
}

static int run_rollover(cli_ctx *ctx)
{
    mcx_store *st;
    mcx_kms *kms;
    int rc = open_kms(ctx, 1, &st, &kms);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* default: the period after the one in force now */
    uint64_t period = cli_has(ctx, "period-no") ? cli_u64(ctx, "period-no")
                                                : mcx_kms_period_of(kms, ntp_time(ctx)) + 1;
    unsigned threads = cli_has(ctx, "threads") ? (unsigned)cli_u64(ctx, "threads") : 0;
    uint64_t issued = 0, existing = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mcx_kms_request_info info = {"rollover (mcx kms)", NULL, NULL, NULL, NULL, 0};
    mcx_status s = mcx_kms_rollover(kms, st, period, threads, &info, &issued, &existing);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "rollover to period %llu", (unsigned long long)period);
    } else {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        json_t *o = cli_out_new();
        if (o != NULL && (set_int(o, "period_no", period) ||
                          set_int(o, "period_start_ntp", mcx_kms_period_start(kms, period)) ||
                          set_int(o, "issued", issued) || set_int(o, "existing", existing) ||
                          json_object_set_new(o, "seconds", json_real(secs)))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_kms_close(kms);
    mcx_store_close(st);
    return rc;
}

static int run_issue(cli_ctx *ctx)
{
    mcx_store *st;
    mcx_kms *kms;
    int rc = open_kms(ctx, 1, &st, &kms);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *uri = cli_str(ctx, "uri");
    uint64_t period = cli_has(ctx, "period-no") ? cli_u64(ctx, "period-no")
                                                : mcx_kms_period_of(kms, ntp_time(ctx));
    mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
    int fresh = 0;
    char rid[64];
    snprintf(rid, sizeof rid, "mcx kms issue (pid %ld)", (long)getpid());
    mcx_kms_request_info info = {rid, NULL, NULL, NULL, NULL, 0};
    mcx_status s =
        ks == NULL ? MCX_E_NOMEM : mcx_kms_issue(kms, st, uri, period, &info, ks, &fresh);
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "issuing to '%s' for period %llu", uri, (unsigned long long)period);
    } else {
        /* a summary: public parts only, never the SSK or RSK */
        json_t *o = cli_out_new();
        if (o != NULL &&
            (set_str(o, "uri", uri) || set_int(o, "period_no", period) ||
             cli_out_hex(o, "user_id", ks->user_id, ks->user_id_len) ||
             json_object_set_new(o, "valid_from", json_integer((json_int_t)ks->valid_from)) ||
             json_object_set_new(o, "valid_to", json_integer((json_int_t)ks->valid_to)) ||
             cli_out_hex(o, "pvt", ks->pvt, sizeof ks->pvt) || cli_out_bool(o, "fresh", fresh))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_secure_free(ks);
    mcx_kms_close(kms);
    mcx_store_close(st);
    return rc;
}

/* ---- client-keys (TS 33.180 D.1: TrK and InK, pre-provisioned) ---- */

/* The key of --NAME: read from the file, or a fresh one written there (0600) when it does not
 * exist. Nothing secret is printed. */
static int client_key_file(cli_ctx *ctx, const char *name, uint8_t *key, int *created,
                           const uint8_t **out)
{
    *out = NULL;
    if (!cli_has(ctx, name))
        return CLI_EXIT_OK;
    mcx_status s = mcx_kms_key_file_obtain(cli_str(ctx, name), key, created);
    if (s != MCX_OK)
        return cli_fail(ctx, s, "--%s", name);
    *out = key;
    return CLI_EXIT_OK;
}

static int run_client_keys_set(cli_ctx *ctx)
{
    if (!cli_has(ctx, "trk-file") && !cli_has(ctx, "ink-file"))
        return cli_usage(ctx, "give --trk-file FILE, --ink-file FILE or both");
    mcx_store *st;
    mcx_kms *kms;
    int rc = open_kms(ctx, 1, &st, &kms);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *uri = cli_str(ctx, "uri");
    uint8_t *keys = mcx_secure_alloc(2 * MCX_KMS_FILE_KEY_BYTES);
    const uint8_t *trk = NULL, *ink = NULL;
    int trk_new = 0, ink_new = 0;
    if (keys == NULL)
        rc = cli_fail(ctx, MCX_E_NOMEM, "out of memory");
    if (rc == CLI_EXIT_OK)
        rc = client_key_file(ctx, "trk-file", keys, &trk_new, &trk);
    if (rc == CLI_EXIT_OK)
        rc = client_key_file(ctx, "ink-file", keys + MCX_KMS_FILE_KEY_BYTES, &ink_new, &ink);
    if (rc == CLI_EXIT_OK) {
        mcx_status s = mcx_kms_client_keys_set(kms, st, uri, trk, ink, now());
        if (s == MCX_E_ARG) {
            rc = cli_usage(ctx, "%s", mcx_last_error());
        } else if (s != MCX_OK) {
            rc = cli_fail(ctx, s, "setting the client keys of '%s'", uri);
        } else {
            json_t *o = cli_out_new();
            if (o != NULL && (set_str(o, "uri", uri) || cli_out_bool(o, "trk", trk != NULL) ||
                              cli_out_bool(o, "ink", ink != NULL) ||
                              cli_out_bool(o, "trk_file_created", trk_new) ||
                              cli_out_bool(o, "ink_file_created", ink_new))) {
                json_decref(o);
                o = NULL;
            }
            rc = cli_emit(ctx, o);
        }
    }
    mcx_secure_free(keys);
    mcx_kms_close(kms);
    mcx_store_close(st);
    return rc;
}

static int run_client_keys_clear(cli_ctx *ctx)
{
    kms_paths p;
    mcx_store *st = NULL;
    int rc = paths_get(ctx, &p);
    if (rc == CLI_EXIT_OK)
        rc = open_store(ctx, &p, &st);
    paths_free(&p);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *uri = cli_str(ctx, "uri");
    int cleared = 0;
    mcx_status s = mcx_kms_client_keys_clear(st, uri, &cleared);
    if (s == MCX_E_ARG) {
        rc = cli_usage(ctx, "%s", mcx_last_error());
    } else if (s != MCX_OK) {
        rc = cli_fail(ctx, s, "clearing the client keys of '%s'", uri);
    } else {
        json_t *o = cli_out_new();
        if (o != NULL && (set_str(o, "uri", uri) || cli_out_bool(o, "cleared", cleared))) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_store_close(st);
    return rc;
}

/* ---- the table ---- */

static const cli_flag init_flags[] = {
    {"kms-uri", CLI_STR, CLI_REQUIRED, {0, 0}, 1, 255, "the KmsUri, e.g. kms.police.example"},
    {"period", CLI_U64, 0, {0, 0}, 0, 0, "UserKeyPeriod in seconds (default 2592000, 30 days)"},
    {"offset", CLI_U64, 0, {0, 0}, 0, 0, "UserKeyOffset in seconds (default 0)"},
    {"id-mode",
     CLI_STR,
     0,
     {0, 0},
     0,
     8,
     "identity octets: raw (the 32-octet UID, TS 33.180) or hex (its hex string)"},
    {"kdf-t", CLI_U64, 0, {0, 0}, 0, 0, "argon2id passes (default 3)"},
    {"kdf-m-kib", CLI_U64, 0, {0, 0}, 0, 0, "argon2id memory in KiB (default 65536)"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

static const cli_flag user_flags[] = {F_URI, F_STORE, F_SECRETS, F_PASSFILE, F_KEYFILE, F_CONFIG};

static const cli_flag service_flags[] = {
    F_URI,
    {"client-id",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     1,
     255,
     "the OAuth client allowed to fetch the service's key sets"},
    {"sub",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     1,
     255,
     "the IdMS subject (token \"sub\", a service account) allowed to fetch them"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

#define F_EXT_URI                                                                                  \
    {                                                                                              \
        "uri", CLI_STR, CLI_REQUIRED, {0, 0}, 1, 255,                                              \
            "the external KMS's KmsUri, e.g. kms.fire.example"                                     \
    }

static const cli_flag certcache_add_flags[] = {
    F_EXT_URI,
    {"file",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     1,
     PATH_MAX_,
     "its KmsCertificate XML, or the document its mcx kms export-cert --format xml prints"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

static const cli_flag certcache_flags[] = {F_EXT_URI,  F_STORE,   F_SECRETS,
                                           F_PASSFILE, F_KEYFILE, F_CONFIG};

static const cli_flag export_flags[] = {
    {"format", CLI_STR, 0, {0, 0}, 0, 8, "json (default) or xml (a KmsResponse with KmsInit)"},
    {"user-uri", CLI_STR, 0, {0, 0}, 1, 255, "xml: the response's UserUri (default the KmsUri)"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

static const cli_flag rollover_flags[] = {
    {"period-no", CLI_U64, 0, {0, 0}, 0, 0, "the key period (default: the one after --time)"},
    {"time", CLI_U64, 0, {0, 0}, 0, 0, "NTP seconds (default now)"},
    {"threads", CLI_U64, 0, {0, 0}, 0, 0, "threads computing keys (default 2)"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

static const cli_flag issue_flags[] = {
    F_URI,
    {"time", CLI_U64, 0, {0, 0}, 0, 0, "NTP seconds whose key period to issue (default now)"},
    {"period-no", CLI_U64, 0, {0, 0}, 0, 0, "the key period number (instead of --time)"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

static const cli_flag client_keys_set_flags[] = {
    F_URI,
    {"trk-file",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "the transport key TrK: 64 hex digits, mode 0600 (created with a random key if missing)"},
    {"ink-file",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "the integrity key InK: 64 hex digits, mode 0600 (created with a random key if missing)"},
    F_STORE,
    F_SECRETS,
    F_PASSFILE,
    F_KEYFILE,
    F_CONFIG,
};

static const cli_command kms_commands[] = {
    {"init", "create the master secrets and the KMS domain in the store",
     "Generate the master secrets (KSAK, z) and seal them into --secrets (AES-256-GCM under an "
     "argon2id key from --passphrase-file, or under a random key in --key-file, created if "
     "missing), then record the domain (KmsUri, period, offset, identity mode, public keys) in the "
     "store. An existing secrets file is opened and used, never overwritten; running it again "
     "with the same settings changes nothing.",
     "{\"kms_uri\", \"store\", \"secrets\", \"sealed_with\", \"secrets_created\", "
     "\"user_key_period\", \"user_key_offset\", \"id_mode\", \"pub_auth_key\"}",
     init_flags, COUNT(init_flags), run_init, 0},
    {"user add", "add a user (MC service ID) that may get key sets",
     "Add a user identity. Key sets are issued only to known, unrevoked identities.",
     "{\"uri\", \"kind\": \"user\", \"revoked\": false}", user_flags, COUNT(user_flags),
     run_user_add, 0},
    {"user revoke", "revoke a user or service: no key sets for periods ending later",
     "Revoke an identity now: no key set is issued or returned for any period that ends after "
     "now. Key sets of earlier periods stay in the log.",
     "{\"uri\", \"kind\", \"revoked\": true, \"revoked_at\"}", user_flags, COUNT(user_flags),
     run_user_revoke, 0},
    {"service add", "add a service identity and the account and OAuth client that may fetch it",
     "Add a service identity (e.g. a group or functional URI) whose key sets are served only to "
     "an access token whose subject is --sub (a service account at the IdMS) and whose client is "
     "--client-id.",
     "{\"uri\", \"kind\": \"service\", \"revoked\": false, \"client_id\", \"sub\"}", service_flags,
     COUNT(service_flags), run_service_add, 0},
    {"service set", "set or replace the account and OAuth client that may fetch a service",
     "Set the IdMS subject (--sub) and OAuth client (--client-id) of an existing service "
     "identity, replacing the recorded ones: a service added before subjects were recorded is "
     "served to nobody until it has one. Key sets already issued stay.",
     "{\"uri\", \"kind\": \"service\", \"revoked\", \"client_id\", \"sub\"}", service_flags,
     COUNT(service_flags), run_service_set, 0},
    {"certcache add", "permit an external KMS's certificate in certcache answers",
     "Record the certificate of an external KMS (--file: its KmsCertificate, or the KmsResponse "
     "that its mcx kms export-cert --format xml prints) under its KmsUri (--uri, which must be "
     "the certificate's), replacing an earlier entry and its revocation. The daemon lists it in "
     "every certcache answer (TS 33.180 D.3.4).",
     "{\"kms_uri\", \"revoked\": false}", certcache_add_flags, COUNT(certcache_add_flags),
     run_certcache_add, 0},
    {"certcache revoke", "mark an external KMS's certificate revoked in certcache answers",
     "Mark the certcache entry of --uri revoked now: certcache answers still list it, with "
     "<Revoked>true</Revoked>, so that clients drop it; CacheNum changes. Revoking again keeps "
     "the first time; certcache add with a new certificate replaces the entry.",
     "{\"kms_uri\", \"revoked\": true}", certcache_flags, COUNT(certcache_flags),
     run_certcache_revoke, 0},
    {"certcache remove", "stop listing an external KMS's certificate",
     "Delete the certcache entry of --uri (clients that cached it are not told: prefer revoke).",
     "{\"kms_uri\", \"removed\": true}", certcache_flags, COUNT(certcache_flags),
     run_certcache_remove, 0},
    {"export-cert", "print the KMS certificate (TS 33.180 D.3.2.2)",
     "Print the KmsCertificate: as JSON, or with --format xml as the KmsResponse/KmsInit document "
     "the KMS serves. Needs only the store.",
     "json: {\"kms_uri\", \"cert_uri\", \"issuer\", \"version\", \"role\", \"user_id_format\", "
     "\"user_key_period\", \"user_key_offset\", \"id_mode\", \"pub_enc_key\", \"pub_auth_key\"}; "
     "xml: the document",
     export_flags, COUNT(export_flags), run_export_cert, 0},
    {"rollover", "pre-issue the next period's key sets for every active identity",
     "Issue the key sets of a period (default: the next one) for every identity that is not "
     "revoked and has none yet, on several threads, written in batches with their audit rows.",
     "{\"period_no\", \"period_start_ntp\", \"issued\", \"existing\", \"seconds\"}", rollover_flags,
     COUNT(rollover_flags), run_rollover, 0},
    {"issue", "issue (or look up) one key set and print its public summary",
     "Issue the key set of --uri for the period of --time (default now) or --period-no, as the "
     "daemon would (idempotent, logged), and print its public parts only: never the SSK or RSK.",
     "{\"uri\", \"period_no\", \"user_id\", \"valid_from\", \"valid_to\", \"pvt\", \"fresh\"}",
     issue_flags, COUNT(issue_flags), run_issue, 0},
    {"client-keys set", "give an identity a transport key (TrK) and/or integrity key (InK)",
     "Record the pre-provisioned keys of TS 33.180 D.1 for --uri (a user or service), replacing "
     "earlier ones: with a TrK the daemon wraps the SSK and RSK of its keyprov responses "
     "(xenc:EncryptedKey, AES key wrap); with an InK it signs every response to the identity "
     "(SignedKmsResponse, HMAC-SHA-256). Each file holds 64 hex digits (mode 0600) and is created "
     "with a random key when missing; give the same file to the client (mcx keys fetch). The keys "
     "are stored encrypted under the master-derived storage key, so the secrets are needed.",
     "{\"uri\", \"trk\", \"ink\", \"trk_file_created\", \"ink_file_created\"}",
     client_keys_set_flags, COUNT(client_keys_set_flags), run_client_keys_set, 0},
    {"client-keys clear", "remove an identity's TrK and InK (plain, unsigned responses again)",
     "Forget the transport and integrity keys of --uri: its responses are plain and unsigned "
     "again.",
     "{\"uri\", \"cleared\"}", user_flags, COUNT(user_flags), run_client_keys_clear, 0},
};

const cli_group mcx_kms_group = {"kms",
                                 "administration of a KMS: master secrets, domain, identities, "
                                 "certificate, key sets",
                                 kms_commands, COUNT(kms_commands)};
