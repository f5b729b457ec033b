/* The sealed master-secrets file (include/mcxsec/kms.h): round trips in both modes, wrong
 * passphrase and key file, every byte of the file altered, loose permissions, mode confusion,
 * atomic replacement, and the daemon's configuration file. argon2id runs with low costs here
 * (t=1, m=64 KiB); the defaults are checked by reading them back from a file's header. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcxsec/kms.h"
#include "mcxsec/mem.h"
#include "test.h"

static char g_dir[256];
static const mcx_kms_kdf_params low = {1, 64, 1};

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void spit(const char *path, const uint8_t *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, buf, n) == (ssize_t)n);
        close(fd);
    }
}

static int same_secrets(const mcx_kms_secrets *a, const mcx_kms_secrets *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void test_passphrase_round_trip(void)
{
    char path[300];
    path_of(path, sizeof path, "pass.sealed");
    mcx_kms_secrets *s = NULL, *t = NULL;
    CHECK_OK(mcx_kms_secrets_generate(&s));
    mcx_kms_unlock u = {"correct horse", 13, NULL};
    CHECK_OK(mcx_kms_secrets_seal(s, path, &u, &low));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_OK(mcx_kms_secrets_load(&t, path, &u));
    CHECK(t != NULL && same_secrets(s, t));
    mcx_kms_secrets_free(t);
    t = NULL;

    /* the file holds no secret in clear */
    uint8_t buf[512];
    size_t n = slurp(path, buf, sizeof buf);
    CHECK(n == 232);
    CHECK(memcmp(buf, "MCXKMSS1", 8) == 0 && buf[8] == 1);
    CHECK(memmem(buf, n, s->ksak, 16) == NULL && memmem(buf, n, s->z, 16) == NULL);

    /* wrong passphrase: a tag failure with a clear reason */
    mcx_kms_unlock w = {"correct horsf", 13, NULL};
    CHECK_ST(mcx_kms_secrets_load(&t, path, &w), MCX_E_TAG_INVALID);
    CHECK(strstr(mcx_last_error(), "wrong passphrase") != NULL);
    CHECK(t == NULL);
    /* a key file for a passphrase file */
    mcx_kms_unlock k = {NULL, 0, path};
    CHECK_ST(mcx_kms_secrets_load(&t, path, &k), MCX_E_ENCODING);
    /* neither, both, empty */
    mcx_kms_unlock none = {NULL, 0, NULL}, both = {"x", 1, path}, empty = {"", 0, NULL};
    CHECK_ST(mcx_kms_secrets_load(&t, path, &none), MCX_E_ARG);
    CHECK_ST(mcx_kms_secrets_load(&t, path, &both), MCX_E_ARG);
    CHECK_ST(mcx_kms_secrets_seal(s, path, &empty, &low), MCX_E_ARG);

    /* default costs are written into the header (t=3, m=64 MiB, 1 lane) */
    char dpath[300];
    path_of(dpath, sizeof dpath, "default.sealed");
    CHECK_OK(mcx_kms_secrets_seal(s, dpath, &u, NULL));
    n = slurp(dpath, buf, sizeof buf);
    static const uint8_t costs[12] = {0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 1};
    CHECK(n == 232 && memcmp(buf + 12, costs, 12) == 0);
    /* the atomic write replaces an existing file and leaves no temporary behind */
    CHECK_OK(mcx_kms_secrets_seal(s, path, &u, &low));
    CHECK_OK(mcx_kms_secrets_load(&t, path, &u));
    CHECK(t != NULL && same_secrets(s, t));
    mcx_kms_secrets_free(t);
    mcx_kms_secrets_free(s);
}

static void test_key_file_round_trip(void)
{
    char path[300], key[300];
    path_of(path, sizeof path, "kf.sealed");
    path_of(key, sizeof key, "kf.key");
    mcx_kms_secrets *s = NULL, *t = NULL;
    CHECK_OK(mcx_kms_secrets_generate(&s));
    mcx_kms_unlock u = {NULL, 0, key};
    CHECK_OK(mcx_kms_secrets_seal(s, path, &u, NULL)); /* creates the key file */
    struct stat sb;
    CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 65);
    CHECK_OK(mcx_kms_secrets_load(&t, path, &u));
    CHECK(t != NULL && same_secrets(s, t));
    mcx_kms_secrets_free(t);
    t = NULL;
    /* sealing again reuses the existing key file */
    uint8_t k1[80], k2[80];
    size_t n1 = slurp(key, k1, sizeof k1);
    CHECK_OK(mcx_kms_secrets_seal(s, path, &u, NULL));
    size_t n2 = slurp(key, k2, sizeof k2);
    CHECK(n1 == 65 && n2 == 65 && memcmp(k1, k2, 65) == 0);
    /* another key file: tag failure */
    char other[300];
    path_of(other, sizeof other, "other.key");
    memcpy(k2, k1, 65);
    k2[0] = k2[0] == '0' ? '1' : '0';
    spit(other, k2, 65);
    mcx_kms_unlock o = {NULL, 0, other};
    CHECK_ST(mcx_kms_secrets_load(&t, path, &o), MCX_E_TAG_INVALID);
    CHECK(strstr(mcx_last_error(), "wrong key file") != NULL);
    /* a malformed key file */
    spit(other, (const uint8_t *)"zz\n", 3);
    CHECK_ST(mcx_kms_secrets_load(&t, path, &o), MCX_E_ENCODING);
    /* a passphrase for a key-file file */
    mcx_kms_unlock p = {"pw", 2, NULL};
    CHECK_ST(mcx_kms_secrets_load(&t, path, &p), MCX_E_ENCODING);
    CHECK(t == NULL);
    mcx_kms_secrets_free(s);
}

/* Every byte of the file, altered, is refused: the header is authenticated (AAD). */
static void tamper_each_byte(const char *path, const mcx_kms_unlock *u)
{
    uint8_t orig[512], buf[512];
    size_t n = slurp(path, orig, sizeof orig);
    CHECK(n == 232);
    char tpath[300];
    path_of(tpath, sizeof tpath, "tampered");
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, orig, n);
        buf[i] ^= 0x80;
        spit(tpath, buf, n);
        mcx_kms_secrets *t = NULL;
        mcx_status st = mcx_kms_secrets_load(&t, tpath, u);
        if (st == MCX_E_TAG_INVALID || st == MCX_E_ENCODING)
            refused++;
        else
            fprintf(stderr, "byte %zu altered: %s (%s)\n", i, mcx_status_name(st),
                    mcx_last_error());
        CHECK(t == NULL);
        mcx_kms_secrets_free(t);
    }
    CHECK(refused == (int)n);
    /* truncated and extended */
    spit(tpath, orig, n - 1);
    mcx_kms_secrets *t = NULL;
    CHECK_ST(mcx_kms_secrets_load(&t, tpath, u), MCX_E_ENCODING);
    memcpy(buf, orig, n);
    buf[n] = 0;
    spit(tpath, buf, n + 1);
    CHECK_ST(mcx_kms_secrets_load(&t, tpath, u), MCX_E_ENCODING);
}

static void test_tamper(void)
{
    char path[300], key[300];
    mcx_kms_secrets *s = NULL;
    CHECK_OK(mcx_kms_secrets_generate(&s));
    path_of(path, sizeof path, "tamper-kf.sealed");
    path_of(key, sizeof key, "tamper.key");
    mcx_kms_unlock k = {NULL, 0, key};
    CHECK_OK(mcx_kms_secrets_seal(s, path, &k, NULL));
    tamper_each_byte(path, &k);
    path_of(path, sizeof path, "tamper-pw.sealed");
    mcx_kms_unlock p = {"tamper", 6, NULL};
    CHECK_OK(mcx_kms_secrets_seal(s, path, &p, &low));
    tamper_each_byte(path, &p);
    mcx_kms_secrets_free(s);
}

static void test_permissions(void)
{
    char path[300], key[300], pw[300];
    mcx_kms_secrets *s = NULL, *t = NULL;
    CHECK_OK(mcx_kms_secrets_generate(&s));
    path_of(path, sizeof path, "perm.sealed");
    path_of(key, sizeof key, "perm.key");
    mcx_kms_unlock k = {NULL, 0, key};
    CHECK_OK(mcx_kms_secrets_seal(s, path, &k, NULL));
    CHECK(chmod(path, 0644) == 0);
    CHECK_ST(mcx_kms_secrets_load(&t, path, &k), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "0644") != NULL);
    CHECK(chmod(path, 0600) == 0 && chmod(key, 0640) == 0);
    CHECK_ST(mcx_kms_secrets_load(&t, path, &k), MCX_E_DENIED);
    CHECK_ST(mcx_kms_secrets_seal(s, path, &k, NULL), MCX_E_DENIED);
    CHECK(chmod(key, 0400) == 0);
    CHECK_OK(mcx_kms_secrets_load(&t, path, &k));
    mcx_kms_secrets_free(t);
    t = NULL;
    /* passphrase files too */
    path_of(pw, sizeof pw, "perm.pw");
    spit(pw, (const uint8_t *)"secret words\n", 13);
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(mcx_kms_read_passphrase(pw, &text, &len));
    CHECK(text != NULL && len == 12 && memcmp(text, "secret words", 12) == 0);
    mcx_secure_free(text);
    text = NULL;
    CHECK(chmod(pw, 0604) == 0);
    CHECK_ST(mcx_kms_read_passphrase(pw, &text, &len), MCX_E_DENIED);
    spit(pw, (const uint8_t *)"\n", 1);
    CHECK(chmod(pw, 0600) == 0);
    CHECK_ST(mcx_kms_read_passphrase(pw, &text, &len), MCX_E_ARG);
    /* missing file */
    path_of(path, sizeof path, "missing.sealed");
    CHECK_ST(mcx_kms_secrets_load(&t, path, &k), MCX_E_IO);
    mcx_kms_secrets_free(s);
}

static void test_config(void)
{
    char path[300];
    path_of(path, sizeof path, "kms.json");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(
        "{\"store\": \"sqlite:kms.db\", \"secrets\": \"kms.sealed\", \"key_file\": \"/k/kms.key\","
        " \"listen\": \"127.0.0.1:8444\", \"tls_cert\": \"c.pem\", \"tls_key\": \"k.pem\","
        " \"issuer\": \"https://idms.example\", \"jwks_file\": \"j.json\", \"threads\": 4,"
        " \"next_period_window\": 3600, \"log_requests\": false,"
        " \"argon2\": {\"t_cost\": 2, \"m_cost_kib\": 1024}}",
        f);
    fclose(f);
    mcx_kms_config *cfg = NULL;
    CHECK_OK(mcx_kms_config_load(&cfg, path));
    if (cfg != NULL) {
        char want[400];
        snprintf(want, sizeof want, "sqlite:%s/kms.db", g_dir);
        CHECK(strcmp(cfg->store, want) == 0);
        snprintf(want, sizeof want, "%s/kms.sealed", g_dir);
        CHECK(strcmp(cfg->secrets, want) == 0);
        CHECK(strcmp(cfg->key_file, "/k/kms.key") == 0 && cfg->passphrase_file == NULL);
        CHECK(strcmp(cfg->listen, "127.0.0.1:8444") == 0 && cfg->threads == 4);
        CHECK(cfg->next_period_window == 3600 && cfg->log_requests == 0);
        CHECK(cfg->argon2.t_cost == 2 && cfg->argon2.m_cost_kib == 1024);
        mcx_kms_config_free(cfg);
        cfg = NULL;
    }
    static const char *const bad[] = {
        "{\"store\": \"x\", \"secrets\": \"s\"}", /* no key */
        "{\"store\": \"x\", \"secrets\": \"s\", \"key_file\": \"k\", \"pasphrase\": 1}", /* typo */
        "{\"store\": \"x\", \"secrets\": \"s\", \"key_file\": \"k\", \"threads\": 0}",
        "{\"secrets\": \"s\", \"key_file\": \"k\"}",
        "[1]",
        "{",
    };
    static const mcx_status want[] = {MCX_E_ARG, MCX_E_ENCODING, MCX_E_ENCODING,
                                      MCX_E_ARG, MCX_E_ENCODING, MCX_E_ENCODING};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(path, "w");
        if (f == NULL)
            continue;
        fputs(bad[i], f);
        fclose(f);
        CHECK_ST(mcx_kms_config_load(&cfg, path), want[i]);
        CHECK(cfg == NULL);
    }
    path_of(path, sizeof path, "nope.json");
    CHECK_ST(mcx_kms_config_load(&cfg, path), MCX_E_IO);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/mcx-kms-seal-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_passphrase_round_trip);
    RUN(test_key_file_round_trip);
    RUN(test_tamper);
    RUN(test_permissions);
    RUN(test_config);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    return test_summary();
}
