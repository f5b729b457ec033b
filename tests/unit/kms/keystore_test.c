/* The client keystore (include/mcxsec/keystore.h) with real key material: a KMS made here
 * (KSAK and z drawn at random), key sets issued with mcx_eccsi_issue and mcx_sakke_issue_rsk,
 * real files in a private folder. Round trips in clear and sealed, a wrong or missing passphrase,
 * every byte of a file altered, loose modes on the file and the folder, the atomic replace,
 * pinning (first use, change refused, explicit re-pin), validation before a key set is kept,
 * look-up by time and the MIKEY view. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/keystore.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"
#include "test.h"

#define PERIOD 2592000u /* 30 days */
#define OFFSET 0u
#define NOW    (3862080000ull + 1000u) /* NTP seconds inside key period 1490 */

typedef struct tkms {
    uint8_t ksak[MCX_ECCSI_SCALAR_BYTES];
    uint8_t z[MCX_SAKKE_SCALAR_BYTES];
    mcx_kms_certificate cert;
} tkms;

static tkms K1, K2; /* two master key pairs for the same KmsUri: a changed certificate */
static char dir[256], path[300];

static void make_kms(tkms *k, const char *uri)
{
    memset(k, 0, sizeof *k);
    if (mcx_eccsi_kms_keygen(k->ksak, k->cert.kpak) != MCX_OK ||
        mcx_sakke_kms_keygen(k->z, k->cert.z) != MCX_OK)
        abort();
    snprintf(k->cert.version, sizeof k->cert.version, "1.1.0");
    k->cert.role = MCX_KMS_ROLE_ROOT;
    snprintf(k->cert.cert_uri, sizeof k->cert.cert_uri, "%s/cert", uri);
    snprintf(k->cert.kms_uri, sizeof k->cert.kms_uri, "%s", uri);
    snprintf(k->cert.issuer, sizeof k->cert.issuer, "%s", uri);
    snprintf(k->cert.user_id_format, sizeof k->cert.user_id_format, "2");
    k->cert.user_key_period = PERIOD;
    k->cert.user_key_offset = OFFSET;
    k->cert.has_parameter_set = 1;
    k->cert.parameter_set = 1;
    k->cert.n_domains = 1;
    snprintf(k->cert.domains[0], sizeof k->cert.domains[0], "police.example");
}

static void issue(const tkms *k, const char *user, uint64_t period_no, mcx_keystore_key_set *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->user_uri, sizeof s->user_uri, "%s", user);
    snprintf(s->kms_uri, sizeof s->kms_uri, "%s", k->cert.kms_uri);
    s->period_no = period_no;
    if (mcx_uid_format2(user, k->cert.kms_uri, PERIOD, OFFSET, period_no, s->uid) != MCX_OK)
        abort();
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t n = mcx_identity_from_uid(s->uid, MCX_ID_RAW, id);
    if (mcx_eccsi_issue(k->ksak, k->cert.kpak, id, n, s->ssk, s->pvt) != MCX_OK ||
        mcx_sakke_issue_rsk(k->z, sizeof k->z, id, n, s->rsk) != MCX_OK)
        abort();
    s->has_valid_from = 1;
    s->valid_from = (time_t)(period_no * PERIOD - 2208988800ull);
}

static mcx_keystore_key_set *SETS; /* locked memory: [0] alice 1490, [1] alice 1491, [2] bob */

static size_t file_bytes(const char *p, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void write_bytes(const char *p, const uint8_t *buf, size_t n)
{
    int fd = open(p, O_WRONLY | O_TRUNC | O_CREAT, 0600);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
        abort();
    close(fd);
}

static size_t files_in_dir(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* A keystore with K1 pinned and alice's two periods, saved (sealed when pass != NULL). */
static mcx_keystore *filled(const char *pass)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pass ? strlen(pass) : 0, MCX_KEYSTORE_CREATE));
    if (ks == NULL)
        abort();
    CHECK_OK(mcx_keystore_set_kdf(ks, 1, 32, 1)); /* cheap for the tests (valgrind twin) */
    CHECK_OK(mcx_keystore_pin(ks, &K1.cert, MCX_ID_RAW, 0));
    CHECK_OK(mcx_keystore_add_key_set(ks, &SETS[0]));
    CHECK_OK(mcx_keystore_add_key_set(ks, &SETS[1]));
    CHECK_OK(mcx_keystore_save(ks));
    return ks;
}

static void check_content(const mcx_keystore *ks)
{
    CHECK(mcx_keystore_cert_count(ks) == 1);
    mcx_kms_certificate c;
    mcx_id_mode mode = MCX_ID_HEX_STRING;
    uint8_t fp[MCX_KEYSTORE_FP_BYTES], want[MCX_KEYSTORE_FP_BYTES];
    CHECK_OK(mcx_keystore_cert_at(ks, 0, &c, &mode, fp));
    CHECK(memcmp(&c, &K1.cert, sizeof c) == 0);
    CHECK(mode == MCX_ID_RAW);
    mcx_keystore_cert_fingerprint(&K1.cert, MCX_ID_RAW, want);
    CHECK_MEM(fp, want, sizeof fp);
    const mcx_keystore_key_set *s = NULL;
    CHECK_OK(mcx_keystore_get_key_set(ks, "sip:alice@police.example", NULL, NOW, &s));
    CHECK(s != NULL && memcmp(s, &SETS[0], sizeof *s) == 0);
    CHECK_OK(mcx_keystore_get_key_set(ks, "sip:alice@police.example", K1.cert.kms_uri, NOW + PERIOD,
                                      &s));
    CHECK(s != NULL && memcmp(s, &SETS[1], sizeof *s) == 0);
    CHECK_ST(mcx_keystore_get_key_set(ks, "sip:alice@police.example", NULL, NOW + 2 * PERIOD, &s),
             MCX_E_NO_KEY);
    CHECK_ST(mcx_keystore_get_key_set(ks, "sip:bob@police.example", NULL, NOW, &s), MCX_E_NO_KEY);
    CHECK_ST(mcx_keystore_get_key_set(ks, "sip:alice@police.example", "kms.other", NOW, &s),
             MCX_E_NOT_FOUND);
    mcx_keystore_entry e[4];
    size_t n = 0;
    mcx_keystore_list(ks, e, 4, &n);
    CHECK(n == 2 && e[0].period_no == 1490 && e[1].period_no == 1491);
    CHECK_MEM(e[1].uid, SETS[1].uid, MCX_UID_BYTES);
}

static void test_round_trip_clear(void)
{
    mcx_keystore *ks = filled(NULL);
    check_content(ks);
    CHECK(!mcx_keystore_sealed(ks));
    mcx_keystore_free(ks);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(files_in_dir() == 1); /* no temporary file left */
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    if (ks != NULL)
        check_content(ks);
    /* the clear file really is clear: the SSK is in it (documented) */
    static uint8_t buf[65536];
    size_t n = file_bytes(path, buf, sizeof buf);
    CHECK(memmem(buf, n, SETS[0].ssk, sizeof SETS[0].ssk) != NULL);

    /* the MIKEY view */
    mcx_kms_cert kc;
    const mcx_keystore_key_set *s = NULL;
    CHECK_OK(mcx_keystore_mikey_view(ks, "sip:alice@police.example", NULL, NOW, &kc, &s));
    CHECK(strcmp(kc.uri, K1.cert.kms_uri) == 0 && kc.key_period == PERIOD &&
          kc.id_mode == MCX_ID_RAW);
    CHECK_MEM(kc.Z, K1.cert.z, sizeof kc.Z);
    CHECK_MEM(kc.kpak, K1.cert.kpak, sizeof kc.kpak);
    CHECK(s != NULL && s->period_no == 1490);
    /* and MIKEY accepts it: a builder from the stored SSK/PVT */
    mcx_mikey_builder *b = NULL;
    if (s != NULL)
        CHECK_OK(mcx_mikey_builder_new(&b, &kc, s->user_uri, NULL, s->period_no, s->ssk, s->pvt));
    mcx_mikey_builder_free(b);
    mcx_keystore_free(ks);
    CHECK_ST(mcx_keystore_open(&ks, "/nonexistent-mcx/keystore.bin", NULL, 0, 0), MCX_E_NOT_FOUND);
}

static void test_round_trip_sealed(void)
{
    mcx_keystore *ks = filled("correct horse");
    CHECK(mcx_keystore_sealed(ks));
    mcx_keystore_free(ks);
    static uint8_t buf[65536];
    size_t n = file_bytes(path, buf, sizeof buf);
    CHECK(n > 0 && memmem(buf, n, SETS[0].ssk, sizeof SETS[0].ssk) == NULL);
    CHECK(memmem(buf, n, SETS[0].rsk + 1, 32) == NULL);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, "correct horse", 13, 0));
    if (ks != NULL)
        check_content(ks);
    /* saved again with the file's Argon2 costs, still sealed and readable */
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, "correct horse", 13, 0));
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_ST(mcx_keystore_open(&ks, path, "correct horsE", 13, 0), MCX_E_TAG_INVALID);
    CHECK(ks == NULL);
    CHECK_ST(mcx_keystore_open(&ks, path, "", 0, 0), MCX_E_TAG_INVALID);
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_DENIED);
    CHECK(ks == NULL);
    CHECK_ST(mcx_keystore_set_kdf(ks, 0, 32, 1), MCX_E_ARG);
}

static void tamper_each_byte(const char *pass)
{
    mcx_keystore *ks = filled(pass);
    mcx_keystore_free(ks);
    static uint8_t good[65536], bad[65536];
    size_t n = file_bytes(path, good, sizeof good);
    CHECK(n > 1000);
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, good, n);
        bad[i] ^= 0x01;
        write_bytes(path, bad, n);
        ks = NULL;
        mcx_status st = mcx_keystore_open(&ks, path, pass, pass ? strlen(pass) : 0, 0);
        if (st != MCX_OK) {
            refused++;
        } else {
            fprintf(stderr, "byte %zu altered: accepted\n", i);
            mcx_keystore_free(ks);
        }
    }
    CHECK(refused == n);
    /* truncated and extended files */
    write_bytes(path, good, n - 1);
    CHECK(mcx_keystore_open(&ks, path, pass, pass ? strlen(pass) : 0, 0) != MCX_OK);
    memcpy(bad, good, n);
    bad[n] = 0;
    write_bytes(path, bad, n + 1);
    CHECK(mcx_keystore_open(&ks, path, pass, pass ? strlen(pass) : 0, 0) != MCX_OK);
    write_bytes(path, good, n);
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pass ? strlen(pass) : 0, 0));
    mcx_keystore_free(ks);
}

static void test_tamper_sealed(void)
{
    tamper_each_byte("pw");
}

static void test_tamper_clear(void)
{
    tamper_each_byte(NULL);
}

static void test_permissions(void)
{
    mcx_keystore *ks = filled(NULL);
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK(chmod(path, 0640) == 0);
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_DENIED);
    CHECK(chmod(path, 0604) == 0);
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_DENIED);
    CHECK(chmod(path, 0600) == 0);
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    /* a folder others can enter or write to is refused on open and on save */
    CHECK(chmod(dir, 0750) == 0);
    mcx_keystore *ks2 = NULL;
    CHECK_ST(mcx_keystore_open(&ks2, path, NULL, 0, 0), MCX_E_DENIED);
    CHECK_ST(mcx_keystore_save(ks), MCX_E_DENIED);
    CHECK(chmod(dir, 0701) == 0);
    CHECK_ST(mcx_keystore_save(ks), MCX_E_DENIED);
    CHECK(chmod(dir, 0700) == 0);
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    /* a symbolic link is not followed */
    char link[320];
    snprintf(link, sizeof link, "%s/link.bin", dir);
    CHECK(symlink(path, link) == 0);
    CHECK(mcx_keystore_open(&ks, link, NULL, 0, 0) != MCX_OK);
    unlink(link);
    /* a new folder is created 0700 */
    char sub[320], p2[340];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(p2, sizeof p2, "%s/ks.bin", sub);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, p2, NULL, 0, MCX_KEYSTORE_CREATE));
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    struct stat sb;
    CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    CHECK(stat(p2, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    unlink(p2);
    rmdir(sub);
}

static void test_atomic_replace(void)
{
    mcx_keystore *ks = filled(NULL);
    static uint8_t before[65536], seen[65536], after[65536];
    size_t nb = file_bytes(path, before, sizeof before);
    struct stat s1, s2;
    CHECK(stat(path, &s1) == 0);
    int fd = open(path, O_RDONLY); /* a reader holding the old file */
    CHECK(fd >= 0);
    CHECK_OK(mcx_keystore_add_key_set(ks, &SETS[2]));
    CHECK_OK(mcx_keystore_save(ks));
    CHECK(stat(path, &s2) == 0);
    CHECK(s1.st_ino != s2.st_ino); /* a new file renamed over, not rewritten in place */
    ssize_t r = read(fd, seen, sizeof seen);
    CHECK(r == (ssize_t)nb && memcmp(seen, before, nb) == 0); /* the reader sees all of the old */
    close(fd);
    size_t na = file_bytes(path, after, sizeof after);
    CHECK(na > nb);
    CHECK(files_in_dir() == 1);
    /* a save that fails leaves the previous file as it was */
    CHECK(chmod(dir, 0755) == 0);
    CHECK_OK(mcx_keystore_pin(ks, &K2.cert, MCX_ID_RAW, 1)); /* drops the K1 key sets */
    CHECK_ST(mcx_keystore_save(ks), MCX_E_DENIED);
    CHECK(chmod(dir, 0700) == 0);
    size_t nc = file_bytes(path, seen, sizeof seen);
    CHECK(nc == na && memcmp(seen, after, na) == 0);
    CHECK(files_in_dir() == 1);
    mcx_keystore_free(ks);
}

static void test_pinning(void)
{
    mcx_keystore *ks = filled(NULL);
    CHECK_OK(mcx_keystore_check_pinned(ks, &K1.cert, MCX_ID_RAW));
    CHECK_OK(mcx_keystore_pin(ks, &K1.cert, MCX_ID_RAW, 0));
    CHECK_ST(mcx_keystore_check_pinned(ks, &K2.cert, MCX_ID_RAW), MCX_E_DENIED);
    CHECK_ST(mcx_keystore_pin(ks, &K2.cert, MCX_ID_RAW, 0), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "re-pin") != NULL);
    /* any field counts: the same keys with another period, another identity mode */
    mcx_kms_certificate c = K1.cert;
    c.user_key_offset = 60;
    CHECK_ST(mcx_keystore_pin(ks, &c, MCX_ID_RAW, 0), MCX_E_DENIED);
    CHECK_ST(mcx_keystore_pin(ks, &K1.cert, MCX_ID_HEX_STRING, 0), MCX_E_DENIED);
    c = K1.cert;
    snprintf(c.kms_uri, sizeof c.kms_uri, "kms.other.example");
    CHECK_ST(mcx_keystore_check_pinned(ks, &c, MCX_ID_RAW), MCX_E_NOT_FOUND);
    snprintf(c.user_id_format, sizeof c.user_id_format, "1");
    CHECK_ST(mcx_keystore_pin(ks, &c, MCX_ID_RAW, 0), MCX_E_ARG);
    size_t n = 9;
    mcx_keystore_list(ks, NULL, 0, &n);
    CHECK(n == 2);
    /* the explicit re-pin replaces it and drops the key sets of the old master keys */
    CHECK_OK(mcx_keystore_pin(ks, &K2.cert, MCX_ID_RAW, 1));
    CHECK_OK(mcx_keystore_check_pinned(ks, &K2.cert, MCX_ID_RAW));
    mcx_keystore_list(ks, NULL, 0, &n);
    CHECK(n == 0);
    CHECK(mcx_keystore_cert_count(ks) == 1);
    /* K1's key sets no longer validate against the pinned certificate */
    CHECK_ST(mcx_keystore_add_key_set(ks, &SETS[0]), MCX_E_KEY_INVALID);
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    CHECK_OK(mcx_keystore_check_pinned(ks, &K2.cert, MCX_ID_RAW));
    CHECK_ST(mcx_keystore_check_pinned(ks, &K1.cert, MCX_ID_RAW), MCX_E_DENIED);
    mcx_keystore_free(ks);
}

static void test_validation_before_keeping(void)
{
    mcx_keystore *ks = NULL;
    unlink(path);
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, MCX_KEYSTORE_CREATE));
    /* no certificate pinned for its KMS */
    CHECK_ST(mcx_keystore_add_key_set(ks, &SETS[0]), MCX_E_UNKNOWN_PEER);
    CHECK_OK(mcx_keystore_pin(ks, &K1.cert, MCX_ID_RAW, 0));
    mcx_keystore_key_set *s = mcx_secure_alloc(sizeof *s);
    *s = SETS[0];
    s->rsk[100] ^= 1;
    CHECK(mcx_keystore_add_key_set(ks, s) != MCX_OK);
    *s = SETS[0];
    s->ssk[31] ^= 1;
    CHECK_ST(mcx_keystore_add_key_set(ks, s), MCX_E_KEY_INVALID);
    *s = SETS[0];
    s->uid[0] ^= 1;
    CHECK_ST(mcx_keystore_add_key_set(ks, s), MCX_E_KEY_INVALID);
    *s = SETS[0];
    s->period_no++; /* the UID says 1490 */
    CHECK_ST(mcx_keystore_add_key_set(ks, s), MCX_E_KEY_INVALID);
    *s = SETS[0];
    snprintf(s->user_uri, sizeof s->user_uri, "sip:mallory@police.example");
    CHECK_ST(mcx_keystore_add_key_set(ks, s), MCX_E_KEY_INVALID);
    /* keys issued with the hex-string identity do not validate under the raw mode */
    *s = SETS[0];
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t n = mcx_identity_from_uid(s->uid, MCX_ID_HEX_STRING, id);
    CHECK_OK(mcx_eccsi_issue(K1.ksak, K1.cert.kpak, id, n, s->ssk, s->pvt));
    CHECK_ST(mcx_keystore_add_key_set(ks, s), MCX_E_KEY_INVALID);
    size_t held = 9;
    mcx_keystore_list(ks, NULL, 0, &held);
    CHECK(held == 0);
    /* the same key set twice is kept once */
    CHECK_OK(mcx_keystore_add_key_set(ks, &SETS[0]));
    CHECK_OK(mcx_keystore_add_key_set(ks, &SETS[0]));
    mcx_keystore_list(ks, NULL, 0, &held);
    CHECK(held == 1);
    mcx_secure_free(s);
    mcx_keystore_free(ks);
}

static size_t slurp(uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;
    if (fd >= 0)
        close(fd);
    return n > 0 ? (size_t)n : 0;
}

static void spill(const uint8_t *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void origin_is(const char *url, const char *want)
{
    char o[MCX_KEYSTORE_ORIGIN_MAX];
    if (want == NULL) {
        CHECK_ST(mcx_keystore_origin(url, o, sizeof o), MCX_E_ARG);
        return;
    }
    CHECK_OK(mcx_keystore_origin(url, o, sizeof o));
    if (strcmp(o, want) != 0) {
        fprintf(stderr, "origin of '%s' is '%s', not '%s'\n", url, o, want);
        test_failed_checks++;
    }
}

/* KMS URL bindings: origins, pinned KmsUri only, kept by save, absent from version 1 files. */
static void test_bindings(void)
{
    origin_is("https://kms.example", "https://kms.example");
    origin_is("HTTPS://KMS.Example:443/prefix/", "https://kms.example");
    origin_is("https://kms.example:8443?x#y", "https://kms.example:8443");
    origin_is("https://[::1]:443/", "https://[::1]");
    origin_is("https://user@kms.example/", NULL);
    origin_is("http://kms.example", NULL);
    origin_is("https:///x", NULL);
    origin_is("https://kms\x01.example", NULL);

    mcx_keystore *ks = filled(NULL);
    char b[MCX_KMS_TEXT_MAX];
    CHECK(mcx_keystore_binding_count(ks) == 0);
    CHECK_ST(mcx_keystore_get_binding(ks, "https://kms.example", b, sizeof b), MCX_E_NOT_FOUND);
    CHECK_ST(mcx_keystore_bind(ks, "https://kms.example", "kms.other.example"), MCX_E_UNKNOWN_PEER);
    mcx_keystore_free(ks);

    /* a version 1 file (no bindings) is read: the same file as version 2 without the count */
    static uint8_t f[65536];
    size_t n = slurp(f, sizeof f);
    CHECK(n > 8 + 2 + 4 + 4 + 32 && f[8] == 2 && f[9] == 0);
    uint32_t body = (uint32_t)f[10] << 24 | (uint32_t)f[11] << 16 | (uint32_t)f[12] << 8 | f[13];
    CHECK(14 + (size_t)body + 32 == n);
    CHECK(memcmp(f + 14 + body - 4, "\0\0\0\0", 4) == 0); /* no bindings */
    f[8] = 1;
    body -= 4;
    f[10] = (uint8_t)(body >> 24);
    f[11] = (uint8_t)(body >> 16);
    f[12] = (uint8_t)(body >> 8);
    f[13] = (uint8_t)body;
    SHA256(f, 14 + body, f + 14 + body);
    spill(f, 14 + body + 32);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    if (ks == NULL)
        return;
    check_content(ks);
    CHECK(mcx_keystore_binding_count(ks) == 0);
    /* bound and saved: version 2 again, the binding kept */
    CHECK_OK(mcx_keystore_bind(ks, "https://KMS.example:443/kms", K1.cert.kms_uri));
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    n = slurp(f, sizeof f);
    CHECK(n > 8 && f[8] == 2);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    if (ks == NULL)
        return;
    check_content(ks);
    CHECK(mcx_keystore_binding_count(ks) == 1);
    CHECK_OK(mcx_keystore_get_binding(ks, "https://kms.example/other", b, sizeof b));
    CHECK(strcmp(b, K1.cert.kms_uri) == 0);
    CHECK_ST(mcx_keystore_get_binding(ks, "https://kms.example:8443", b, sizeof b),
             MCX_E_NOT_FOUND);
    mcx_keystore_free(ks);

    /* a version 1 file that holds bindings is malformed (the count is trailing data: rd_end) */
    n = slurp(f, sizeof f);
    f[8] = 1;
    SHA256(f, n - 32, f + n - 32);
    spill(f, n);
    ks = NULL;
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_LENGTH);
    CHECK(ks == NULL);
    /* a version newer than this program's (3 holds group keys, gms) is not read */
    f[8] = 4;
    SHA256(f, n - 32, f + n - 32);
    spill(f, n);
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_UNSUPPORTED);
}

int main(void)
{
    const char *td = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mcx-keystore-XXXXXX", td != NULL && td[0] ? td : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    chmod(dir, 0700);
    snprintf(path, sizeof path, "%s/keystore.bin", dir);
    make_kms(&K1, "kms.police.example");
    make_kms(&K2, "kms.police.example");
    SETS = mcx_secure_alloc(3 * sizeof *SETS);
    issue(&K1, "sip:alice@police.example", 1490, &SETS[0]);
    issue(&K1, "sip:alice@police.example", 1491, &SETS[1]);
    issue(&K1, "sip:bob@police.example", 1490, &SETS[2]);

    RUN(test_round_trip_clear);
    RUN(test_round_trip_sealed);
    RUN(test_tamper_sealed);
    RUN(test_tamper_clear);
    RUN(test_permissions);
    RUN(test_atomic_replace);
    RUN(test_pinning);
    RUN(test_validation_before_keeping);
    RUN(test_bindings);

    mcx_secure_free(SETS);
    unlink(path);
    rmdir(dir);
    return test_summary();
}
