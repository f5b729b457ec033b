/* mcx keys: the client's user keys from a KMS (TS 33.180 §5.2, §5.3, Annex D).
 * `mcx keys fetch` provisions the key sets of the current and next key period into the client
 * keystore (include/mcxsec/provision.h, keystore.h) with the access token of `mcx login`;
 * `mcx keys show` lists what the keystore holds. Secret keys are never printed. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_keys.h"
#include "cmd_groups.h"
#include "mcxsec/hex.h"
#include "mcxsec/keystore.h"
#include "mcxsec/login.h"
#include "mcxsec/mem.h"
#include "mcxsec/provision.h"
#include "mcxsec/token.h"

#define COUNT(a)  (sizeof(a) / sizeof((a)[0]))
#define PATH_MAX_ 4096

static int put_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, v != NULL ? json_string(v) : json_null()) != 0;
}

static int put_int(json_t *o, const char *key, int64_t v)
{
    return json_object_set_new(o, key, json_integer((json_int_t)v)) != 0;
}

static json_t *hex_value(const uint8_t *p, size_t n)
{
    char h[2 * MCX_KEYSTORE_FP_BYTES + 1];
    if (n > MCX_KEYSTORE_FP_BYTES)
        return NULL;
    mcx_hex_encode(p, n, h);
    return json_string(h);
}

/* ---- mcx keys fetch ---- */

#define CLIENT_KEY_BYTES 32

/* A TrK or InK file (mcx kms client-keys set): 64 hex digits and a newline, owner-only. */
static int read_client_key(cli_ctx *ctx, const char *flag, uint8_t key[CLIENT_KEY_BYTES])
{
    const char *path = cli_str(ctx, flag);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cli_fail(ctx, MCX_E_IO, "--%s: cannot open %s: %s", flag, path, strerror(errno));
    struct stat sb;
    char buf[2 * CLIENT_KEY_BYTES + 4];
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077) == 0)
        n = read(fd, buf, sizeof buf - 1);
    else if (fstat(fd, &sb) == 0) {
        close(fd);
        return cli_fail(ctx, MCX_E_DENIED, "--%s: %s must be a regular file of mode 0600", flag,
                        path);
    }
    close(fd);
    size_t len = n > 0 ? (size_t)n : 0, got = 0;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    mcx_status s = len == 2 * CLIENT_KEY_BYTES ? mcx_hex_decode(buf, key, CLIENT_KEY_BYTES, &got)
                                               : MCX_E_ENCODING;
    mcx_memzero(buf, sizeof buf);
    if (s != MCX_OK || got != CLIENT_KEY_BYTES)
        return cli_fail(ctx, MCX_E_ENCODING, "--%s: %s must hold 64 hex digits", flag, path);
    return CLI_EXIT_OK;
}

static int certcache_emit(cli_ctx *ctx, const char *user, const mcx_certcache_result *res);

/* fetch (certcache 0) or certcache (1): the token, the TrK / InK, the keystore, the exchange. */
static int run_kms(cli_ctx *ctx, int certcache)
{
    char tpath[PATH_MAX_], kpath[PATH_MAX_];
    mcx_status s = mcx_tokens_path(cli_str(ctx, "label"), tpath, sizeof tpath);
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--label: %s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "token file");
    mcx_tokens t;
    s = mcx_tokens_load(&t, tpath);
    if (s != MCX_OK)
        return cli_fail(ctx, s, "loading the tokens");
    char *user = cli_has(ctx, "user") ? strdup(cli_str(ctx, "user")) : NULL;
    if (user == NULL && !cli_has(ctx, "user")) {
        user = cli_token_mcptt_id(t.access_token);
        if (user == NULL)
            user = cli_token_mcptt_id(t.id_token);
        if (user == NULL) {
            mcx_tokens_clear(&t);
            return cli_usage(ctx, "the tokens name no mcptt_id: give --user");
        }
    }
    if (user == NULL) {
        mcx_tokens_clear(&t);
        return cli_fail(ctx, MCX_E_NOMEM, "out of memory");
    }
    /* the TrK and InK, in secure memory */
    uint8_t *ck = mcx_secure_alloc(2 * CLIENT_KEY_BYTES);
    int rc = ck == NULL ? cli_fail(ctx, MCX_E_NOMEM, "out of memory") : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK && cli_has(ctx, "trk-file"))
        rc = read_client_key(ctx, "trk-file", ck);
    if (rc == CLI_EXIT_OK && cli_has(ctx, "ink-file"))
        rc = read_client_key(ctx, "ink-file", ck + CLIENT_KEY_BYTES);
    mcx_keystore *ks = NULL;
    if (rc == CLI_EXIT_OK)
        rc = cli_open_keystore(ctx, MCX_KEYSTORE_CREATE, kpath, sizeof kpath, &ks);
    if (rc != CLI_EXIT_OK) {
        mcx_secure_free(ck);
        free(user);
        mcx_tokens_clear(&t);
        return rc;
    }
    mcx_provision_params p;
    memset(&p, 0, sizeof p);
    p.kms_url = cli_str(ctx, "kms");
    p.user_uri = user;
    p.access_token = t.access_token;
    p.ca_file = cli_str(ctx, "cacert");
    p.keystore = ks;
    p.repin = !certcache && cli_has(ctx, "repin");
    p.now_ntp = cli_has(ctx, "time") ? cli_u64(ctx, "time") : 0;
    p.id_mode = !certcache && cli_has(ctx, "id-hex") ? MCX_ID_HEX_STRING : MCX_ID_RAW;
    if (cli_has(ctx, "trk-file")) {
        p.trk = ck;
        p.trk_len = CLIENT_KEY_BYTES;
    }
    if (cli_has(ctx, "ink-file")) {
        p.ink = ck + CLIENT_KEY_BYTES;
        p.ink_len = CLIENT_KEY_BYTES;
    }
    if (certcache) {
        mcx_certcache_result *cres = malloc(sizeof *cres);
        s = cres != NULL ? mcx_client_certcache(&p, cres) : MCX_E_NOMEM;
        mcx_secure_free(ck);
        mcx_tokens_clear(&t);
        mcx_keystore_free(ks);
        if (s == MCX_E_ARG)
            rc = cli_usage(ctx, "%s", mcx_last_error());
        else if (s != MCX_OK)
            rc = cli_fail(ctx, s, "certcache");
        else
            rc = certcache_emit(ctx, user, cres);
        free(cres);
        free(user);
        return rc;
    }
    mcx_provision_result res;
    s = mcx_client_provision(&p, &res);
    mcx_secure_free(ck);
    mcx_tokens_clear(&t);
    int sealed = mcx_keystore_sealed(ks);
    mcx_keystore_free(ks);
    if (s != MCX_OK) {
        free(user);
        if (s == MCX_E_ARG)
            return cli_usage(ctx, "%s", mcx_last_error());
        return cli_fail(ctx, s, "provisioning");
    }
    json_t *o = cli_out_new();
    json_t *periods = json_array();
    json_t *timing = json_object();
    int bad = o == NULL || periods == NULL || timing == NULL;
    for (size_t i = 0; !bad && i < res.n_stored; i++)
        bad |= json_array_append_new(periods, json_integer((json_int_t)res.periods[i])) != 0;
    if (!bad) {
        bad |= put_str(o, "user", user) || put_str(o, "kms_uri", res.kms_uri);
        bad |= json_object_set_new(o, "fingerprint",
                                   hex_value(res.fingerprint, sizeof res.fingerprint)) != 0;
        bad |= cli_out_bool(o, "newly_pinned", res.newly_pinned) != 0;
        bad |= put_int(o, "current_period", (int64_t)res.current_period);
        bad |= json_object_set(o, "periods", periods) != 0;
        bad |= put_int(o, "skipped", (int64_t)res.n_skipped);
        bad |= put_str(o, "keystore", kpath) || cli_out_bool(o, "sealed", sealed) != 0;
        bad |= put_int(timing, "init", (int64_t)res.us_init) ||
               put_int(timing, "keyprov", (int64_t)res.us_keyprov) ||
               put_int(timing, "validate", (int64_t)res.us_validate) ||
               put_int(timing, "total", (int64_t)res.us_total) ||
               put_int(timing, "save", (int64_t)res.us_save);
        bad |= json_object_set(o, "timing_us", timing) != 0;
    }
    json_decref(periods);
    json_decref(timing);
    free(user);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

static int run_fetch(cli_ctx *ctx)
{
    return run_kms(ctx, 0);
}

static int run_certcache(cli_ctx *ctx)
{
    return run_kms(ctx, 1);
}

/* ---- mcx keys show ---- */

static json_t *cert_json(const mcx_kms_certificate *c, mcx_id_mode mode, const uint8_t *fp)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = put_str(o, "kms_uri", c->kms_uri) || put_str(o, "cert_uri", c->cert_uri) ||
              put_str(o, "issuer", c->issuer) ||
              json_object_set_new(o, "fingerprint", hex_value(fp, MCX_KEYSTORE_FP_BYTES)) != 0 ||
              put_int(o, "user_key_period", (int64_t)c->user_key_period) ||
              put_int(o, "user_key_offset", (int64_t)c->user_key_offset) ||
              put_str(o, "id_mode", mode == MCX_ID_HEX_STRING ? "hex" : "raw");
    if (!bad && c->has_valid_from)
        bad |= put_int(o, "valid_from", (int64_t)c->valid_from);
    if (!bad && c->has_valid_to)
        bad |= put_int(o, "valid_to", (int64_t)c->valid_to);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The certificates a certcache answer offers: the usable ones, and the refused ones with why. */
static int certcache_emit(cli_ctx *ctx, const char *user, const mcx_certcache_result *res)
{
    json_t *o = cli_out_new();
    json_t *ok = json_array(), *refused = json_array();
    int bad = o == NULL || ok == NULL || refused == NULL;
    for (size_t i = 0; !bad && i < res->n; i++) {
        const mcx_certcache_entry *e = &res->entries[i];
        uint8_t fp[MCX_KEYSTORE_FP_BYTES];
        mcx_keystore_cert_fingerprint(&e->cert, MCX_ID_RAW, fp);
        json_t *cj = cert_json(&e->cert, MCX_ID_RAW, fp);
        bad |= cj == NULL;
        if (!bad && e->verdict != MCX_OK)
            bad |= put_str(cj, "reason", e->reason) ||
                   put_str(cj, "status", mcx_status_name(e->verdict));
        bad |= cj == NULL || json_array_append_new(e->verdict == MCX_OK ? ok : refused, cj) != 0;
    }
    if (!bad)
        bad |= put_str(o, "user", user) || put_str(o, "kms_uri", res->kms_uri) ||
               put_int(o, "cache_num", (int64_t)res->cache_num) ||
               json_object_set(o, "certificates", ok) != 0 ||
               json_object_set(o, "refused", refused) != 0;
    json_decref(ok);
    json_decref(refused);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

static int run_show(cli_ctx *ctx)
{
    char kpath[PATH_MAX_];
    mcx_keystore *ks = NULL;
    int rc = cli_open_keystore(ctx, 0, kpath, sizeof kpath, &ks);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *o = cli_out_new();
    json_t *certs = json_array(), *sets = json_array();
    int bad = o == NULL || certs == NULL || sets == NULL;
    for (size_t i = 0; !bad && i < mcx_keystore_cert_count(ks); i++) {
        mcx_kms_certificate c;
        mcx_id_mode mode;
        uint8_t fp[MCX_KEYSTORE_FP_BYTES];
        bad |= mcx_keystore_cert_at(ks, i, &c, &mode, fp) != MCX_OK;
        json_t *cj = bad ? NULL : cert_json(&c, mode, fp);
        bad |= cj == NULL || json_array_append_new(certs, cj) != 0;
    }
    size_t n = 0;
    mcx_keystore_list(ks, NULL, 0, &n);
    mcx_keystore_entry *e = n > 0 ? calloc(n, sizeof *e) : NULL;
    if (n > 0 && e == NULL)
        bad = 1;
    else if (n > 0)
        mcx_keystore_list(ks, e, n, &n);
    for (size_t i = 0; !bad && i < n; i++) {
        json_t *sj = json_object();
        bad |= sj == NULL;
        if (bad)
            break;
        bad |= put_str(sj, "user", e[i].user_uri) || put_str(sj, "kms_uri", e[i].kms_uri) ||
               put_int(sj, "period", (int64_t)e[i].period_no) ||
               json_object_set_new(sj, "uid", hex_value(e[i].uid, MCX_UID_BYTES)) != 0;
        if (e[i].has_valid_from)
            bad |= put_int(sj, "valid_from", (int64_t)e[i].valid_from);
        if (e[i].has_valid_to)
            bad |= put_int(sj, "valid_to", (int64_t)e[i].valid_to);
        bad |= json_array_append_new(sets, sj) != 0;
    }
    free(e);
    if (!bad) {
        bad |= put_str(o, "keystore", kpath) ||
               cli_out_bool(o, "sealed", mcx_keystore_sealed(ks)) != 0 ||
               json_object_set(o, "certificates", certs) != 0 ||
               json_object_set(o, "key_sets", sets) != 0;
    }
    json_decref(certs);
    json_decref(sets);
    mcx_keystore_free(ks);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

#define F_KEYSTORE                                                                                 \
    {                                                                                              \
        "keystore", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                              \
            "the keystore file (default: keystore.bin next to the token file)"                     \
    }
#define F_PASSFILE                                                                                 \
    {                                                                                              \
        "passphrase-file", CLI_STR, 0, {0, 0}, 0, PATH_MAX_,                                       \
            "read the keystore passphrase from this file ('-': standard input); without it the "   \
            "keystore is not sealed (mode 0600 only)"                                              \
    }

static const cli_flag fetch_flags[] = {
    {"kms", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 512, "the KMS, e.g. https://kms.police.example:8443"},
    {"user",
     CLI_STR,
     0,
     {0, 0},
     0,
     255,
     "the MC service ID (default: the mcptt_id claim of the access token)"},
    {"cacert",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "PEM trust anchors for the KMS's TLS certificate (default: the system's)"},
    F_KEYSTORE,
    F_PASSFILE,
    {"label",
     CLI_STR,
     0,
     {0, 0},
     0,
     128,
     "the token file tokens-LABEL.json instead of tokens.json"},
    {"repin",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "accept a KMS certificate that differs from the pinned one (drops the old key sets)"},
    {"time",
     CLI_U64,
     0,
     {0, 0},
     0,
     0,
     "NTP seconds to provision for instead of the clock (rollover drills with mcx-kms "
     "--clock-offset, tests)"},
    {"id-hex",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "the KMS uses the UID's hex string as ECCSI/SAKKE identity (some deployed KMSs)"},
    {"trk-file",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "the transport key TrK (64 hex digits, mode 0600) that unwraps key material the KMS sends "
     "as xenc:EncryptedKey (TS 33.180 D.1)"},
    {"ink-file",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "the integrity key InK (64 hex digits, mode 0600): every KMS answer must then be a "
     "SignedKmsResponse whose HMAC-SHA-256 signature verifies, else nothing is kept"},
};

static const cli_flag certcache_flags[] = {
    {"kms", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 512, "the KMS, e.g. https://kms.police.example:8443"},
    {"user", CLI_STR, 0, {0, 0}, 0, 255, "the MC service ID (default: the token's mcptt_id)"},
    {"cacert",
     CLI_STR,
     0,
     {0, 0},
     0,
     PATH_MAX_,
     "PEM trust anchors for the KMS's TLS certificate (default: the system's)"},
    F_KEYSTORE,
    F_PASSFILE,
    {"label", CLI_STR, 0, {0, 0}, 0, 128, "the token file tokens-LABEL.json"},
    {"time", CLI_U64, 0, {0, 0}, 0, 0, "NTP seconds to judge validity at (default: the clock)"},
    {"trk-file", CLI_STR, 0, {0, 0}, 0, PATH_MAX_, "the transport key TrK (as for fetch)"},
    {"ink-file", CLI_STR, 0, {0, 0}, 0, PATH_MAX_, "the integrity key InK (as for fetch)"},
};

static const cli_flag show_flags[] = {F_KEYSTORE, F_PASSFILE};

static const cli_command keys_commands[] = {
    {"fetch", "fetch and validate the user's key sets from a KMS into the keystore",
     "Run the TS 33.180 Annex D exchange with the KMS using the access token of mcx login: init "
     "(the KMS certificate, pinned on first use; a changed certificate is refused unless "
     "--repin), then keyprov for the current and next key period. Every key set is checked "
     "before any is kept: KmsUri and UserUri, the UID (format 2), SSK/PVT (RFC 6507 §5.1.2) and "
     "RSK (RFC 6508 §6.1.2). The keystore is replaced atomically, mode 0600 in a 0700 folder. "
     "With --ink-file every answer must be signed under the InK; with --trk-file wrapped keys "
     "are unwrapped (TS 33.180 D.1; mcx kms client-keys set gives the KMS the same keys).",
     "{\"user\", \"kms_uri\", \"fingerprint\", \"newly_pinned\", \"current_period\", "
     "\"periods\": [..], \"skipped\", \"keystore\", \"sealed\", \"timing_us\": {\"init\", "
     "\"keyprov\", \"validate\", \"total\", \"save\"}}",
     fetch_flags, COUNT(fetch_flags), run_fetch, 0},
    {"certcache", "the external KMS certificates the pinned KMS vouches for, and the verdicts",
     "Ask the KMS pinned for --kms (mcx keys fetch first) for its certcache (TS 33.180 D.3.4) and "
     "judge each external KMS certificate: one marked Revoked, outside its validity, of another "
     "user ID format, or naming the pinned KMS itself is refused, with the reason. Nothing is "
     "written.",
     "{\"user\", \"kms_uri\", \"cache_num\", \"certificates\": [{\"kms_uri\", ...}], "
     "\"refused\": [{\"kms_uri\", ..., \"reason\", \"status\"}]}",
     certcache_flags, COUNT(certcache_flags), run_certcache, 0},
    {"show", "the pinned KMS certificates and the key periods held (no secrets)",
     "List the keystore: each pinned KMS certificate with its SHA-256 fingerprint, and each key "
     "set's user, KMS, period, UID and validity. Secret keys are never shown.",
     "{\"keystore\", \"sealed\", \"certificates\": [{\"kms_uri\", \"fingerprint\", ...}], "
     "\"key_sets\": [{\"user\", \"kms_uri\", \"period\", \"uid\", \"valid_from\", "
     "\"valid_to\"}]}",
     show_flags, COUNT(show_flags), run_show, 0},
};

const cli_group mcx_keys_group = {"keys", "fetch user keys from a KMS and show the keystore",
                                  keys_commands, COUNT(keys_commands)};
