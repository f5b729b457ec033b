/* The keystore's group section (include/mcxsec/keystore.h): group keys and member lists kept,
 * looked up (by ID, latest, list), revoked, removed; saved and reopened in clear and sealed; a
 * keystore without groups is still written as version 2 and a version 2 file (no group section)
 * opens; a version 3 file that lost its group section, or with a damaged group key, is refused;
 * the API's argument checks. Real files in a private folder. */
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcxsec/keystore.h"
#include "mcxsec/mem.h"
#include "test.h"

#define GROUP "sip:fire-1@example.org"
#define GMS   "sip:gms@example.org"

static char dir[256], path[300];

static size_t slurp(uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void spill(const uint8_t *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
        abort();
    close(fd);
}

static mcx_keystore_group_key *gk(mcx_keystore_group_key *k, const char *group,
                                  mcx_group_key_kind kind, uint32_t id, uint64_t t)
{
    memset(k, 0, sizeof *k);
    snprintf(k->group_id, sizeof k->group_id, "%s", group);
    k->kind = kind;
    k->key_id = id;
    k->key_len = 16;
    for (int i = 0; i < 16; i++)
        k->key[i] = (uint8_t)(id + (uint32_t)i);
    k->rand_len = 16;
    memset(k->rand, 0x5a, 16);
    snprintf(k->owner_uri, sizeof k->owner_uri, "sip:alice@example.org");
    k->guk_id = id ^ 0x0123456u;
    k->has_cs_id = 1;
    k->cs_id = 4;
    k->params.key_type = kind == MCX_GROUP_KEY_MKFC ? 4 : 0;
    k->params.status = 1;
    k->params.activation = t;
    k->params.expiry = t + 86400;
    k->params.text_len = 3;
    memcpy(k->params.text, "abc", 3);
    k->params.has_groups = 1;
    k->params.n_groups = 1;
    k->params.groups[0].iei = 0x7b;
    k->params.groups[0].len = (uint16_t)strlen(group);
    memcpy(k->params.groups[0].id, group, strlen(group));
    k->t_ntp = t;
    snprintf(k->gms_uri, sizeof k->gms_uri, GMS);
    memset(k->digest, (int)(id & 0xff), sizeof k->digest);
    k->has_pseudonym = 1;
    memset(k->pseudonym, 0xab, sizeof k->pseudonym);
    k->received = 1700000000;
    return k;
}

static void fill(mcx_keystore *ks)
{
    mcx_keystore_group_key *k = mcx_secure_alloc(sizeof *k);
    CHECK_OK(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x01000001u, 100)));
    CHECK_OK(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x02000002u, 200)));
    CHECK_OK(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_MKFC, 0x43000003u, 150)));
    CHECK_OK(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_GDK, 0x04000004u, 150)));
    CHECK_OK(
        mcx_keystore_group_key_add(ks, gk(k, "sip:fire-2@x", MCX_GROUP_KEY_GMK, 0x05000005u, 50)));
    mcx_secure_free(k);
    const char *members[] = {"sip:alice@example.org", "sip:bob@example.org",
                             "sip:carol@example.org"};
    CHECK_OK(mcx_keystore_group_set_info(ks, GROUP, GMS, "Fire 1", "normal", members, 3, 1234));
    CHECK_OK(mcx_keystore_group_set_info(ks, "sip:fire-2@x", GMS, "", "broadcast", NULL, 0, 5));
}

static void check_filled(const mcx_keystore *ks)
{
    CHECK(mcx_keystore_group_key_count(ks) == 5);
    mcx_keystore_group_key *want = mcx_secure_alloc(sizeof *want);
    const mcx_keystore_group_key *k = NULL;
    CHECK_OK(mcx_keystore_group_key_find(ks, GROUP, MCX_GROUP_KEY_GMK, 0x02000002u, &k));
    gk(want, GROUP, MCX_GROUP_KEY_GMK, 0x02000002u, 200);
    if (k != NULL)
        CHECK(memcmp(k, want, sizeof *k) == 0); /* every field, key parameters included */
    CHECK_OK(mcx_keystore_group_key_find(ks, GROUP, MCX_GROUP_KEY_MKFC, 0x43000003u, &k));
    gk(want, GROUP, MCX_GROUP_KEY_MKFC, 0x43000003u, 150);
    if (k != NULL)
        CHECK(memcmp(k, want, sizeof *k) == 0);
    mcx_secure_free(want);
    CHECK_ST(mcx_keystore_group_key_find(ks, GROUP, MCX_GROUP_KEY_MKFC, 0x02000002u, &k),
             MCX_E_NOT_FOUND);
    CHECK_OK(mcx_keystore_group_key_latest(ks, GROUP, MCX_GROUP_KEY_GMK, &k));
    CHECK(k != NULL && k->key_id == 0x02000002u);
    CHECK_OK(mcx_keystore_group_key_latest(ks, GROUP, MCX_GROUP_KEY_GDK, &k));
    CHECK(k != NULL && k->key_id == 0x04000004u);
    CHECK_ST(mcx_keystore_group_key_latest(ks, "sip:none@x", MCX_GROUP_KEY_GMK, &k), MCX_E_NO_KEY);
    CHECK(mcx_keystore_group_info_count(ks) == 2);
    const mcx_keystore_group_info *g = NULL;
    CHECK_OK(mcx_keystore_group_info_find(ks, GROUP, &g));
    if (g != NULL) {
        CHECK(g->n_members == 3 && strcmp(g->members[2], "sip:carol@example.org") == 0);
        CHECK(strcmp(g->display_name, "Fire 1") == 0 && strcmp(g->kind, "normal") == 0);
        CHECK(strcmp(g->gms_uri, GMS) == 0 && g->updated == 1234);
    }
    CHECK_OK(mcx_keystore_group_info_find(ks, "sip:fire-2@x", &g));
    CHECK(g != NULL && g->n_members == 0 && strcmp(g->kind, "broadcast") == 0);
}

static void roundtrip(const char *pass)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    size_t pl = pass != NULL ? strlen(pass) : 0;
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pl, MCX_KEYSTORE_CREATE));
    if (ks == NULL)
        return;
    CHECK_OK(mcx_keystore_set_kdf(ks, 1, 32, 1));
    fill(ks);
    check_filled(ks);
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    static uint8_t f[1 << 20];
    size_t n = slurp(f, sizeof f);
    CHECK(n > 10 && f[8] == 3 && f[9] == (pass != NULL ? 1 : 0));
    /* the key bytes are not in a sealed file */
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)(0x02000002u + (uint32_t)i);
    int found = 0;
    for (size_t i = 0; i + 16 <= n; i++)
        found |= memcmp(f + i, key, 16) == 0;
    CHECK(found == (pass == NULL));
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pl, 0));
    if (ks == NULL)
        return;
    check_filled(ks);
    /* revoke and remove, saved and read back */
    size_t k = 0;
    CHECK_OK(mcx_keystore_group_mark_revoked(ks, GROUP, -1, 0, &k));
    CHECK(k == 4);
    const mcx_keystore_group_key *gkp = NULL;
    CHECK_ST(mcx_keystore_group_key_latest(ks, GROUP, MCX_GROUP_KEY_GMK, &gkp), MCX_E_NO_KEY);
    CHECK_OK(mcx_keystore_group_remove(ks, "sip:fire-2@x", &k));
    CHECK(k == 1);
    CHECK_OK(mcx_keystore_group_remove(ks, "sip:never@x", &k));
    CHECK(k == 0);
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pl, 0));
    if (ks == NULL)
        return;
    CHECK(mcx_keystore_group_key_count(ks) == 4 && mcx_keystore_group_info_count(ks) == 1);
    CHECK_OK(mcx_keystore_group_key_at(ks, 0, &gkp));
    CHECK(gkp != NULL && gkp->revoked);
    CHECK_ST(mcx_keystore_group_key_at(ks, 4, &gkp), MCX_E_NOT_FOUND);
    /* everything removed: written as version 2 again */
    CHECK_OK(mcx_keystore_group_remove(ks, GROUP, &k));
    CHECK(k == 4 && mcx_keystore_group_info_count(ks) == 0);
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    n = slurp(f, sizeof f);
    CHECK(n > 10 && f[8] == 2);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pl, 0));
    CHECK(mcx_keystore_group_key_count(ks) == 0);
    mcx_keystore_free(ks);
}

static void test_roundtrip_clear(void)
{
    roundtrip(NULL);
}

static void test_roundtrip_sealed(void)
{
    roundtrip("group passphrase");
}

/* Old files open; a version 3 file without its section or with a damaged key is refused. */
static void test_versions(void)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, MCX_KEYSTORE_CREATE));
    CHECK_OK(mcx_keystore_save(ks)); /* an empty keystore: version 2 as before */
    mcx_keystore_free(ks);
    static uint8_t f[1 << 20];
    size_t n = slurp(f, sizeof f);
    CHECK(n == 14 + 12 + 32 && f[8] == 2);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    mcx_keystore_free(ks);
    /* the same body labelled version 3 lacks the group counts: refused, not misread */
    f[8] = 3;
    SHA256(f, n - 32, f + n - 32);
    spill(f, n);
    ks = NULL;
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_LENGTH);
    CHECK(ks == NULL);
    /* version 3 with an empty group section (both counts 0) opens */
    uint32_t body = 12 + 8;
    uint8_t g[14 + 20 + 32];
    memcpy(g, f, 14);
    g[10] = 0, g[11] = 0, g[12] = 0, g[13] = (uint8_t)body;
    memset(g + 14, 0, body);
    SHA256(g, 14 + body, g + 14 + body);
    spill(g, sizeof g);
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    CHECK(ks != NULL && mcx_keystore_group_key_count(ks) == 0);
    mcx_keystore_free(ks);

    /* a group key stored with a bad kind octet: malformed */
    ks = NULL;
    unlink(path);
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, MCX_KEYSTORE_CREATE));
    mcx_keystore_group_key *k = mcx_secure_alloc(sizeof *k);
    CHECK_OK(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x01000001u, 100)));
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    n = slurp(f, sizeof f);
    size_t at = 14 + 12 + 4 + 2 + strlen(GROUP); /* certs, sets, bindings, n_gkeys, group ID */
    CHECK(f[at] == MCX_GROUP_KEY_GMK);
    f[at] = 7;
    SHA256(f, n - 32, f + n - 32);
    spill(f, n);
    ks = NULL;
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_ENCODING);
    /* ... and a kind that disagrees with the key ID's purpose tag */
    f[at] = MCX_GROUP_KEY_MKFC;
    SHA256(f, n - 32, f + n - 32);
    spill(f, n);
    CHECK_ST(mcx_keystore_open(&ks, path, NULL, 0, 0), MCX_E_ENCODING);
    /* every truncation of the file is refused */
    f[at] = MCX_GROUP_KEY_GMK;
    for (size_t cut = 14; cut < n; cut += 7) {
        spill(f, cut);
        ks = NULL;
        CHECK(mcx_keystore_open(&ks, path, NULL, 0, 0) != MCX_OK);
        CHECK(ks == NULL);
    }
    mcx_secure_free(k);
}

static void test_args(void)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, MCX_KEYSTORE_CREATE));
    mcx_keystore_group_key *k = mcx_secure_alloc(sizeof *k);
    gk(k, GROUP, MCX_GROUP_KEY_MKFC, 0x01000001u, 1); /* MKFC with a GMK tag */
    CHECK_ST(mcx_keystore_group_key_add(ks, k), MCX_E_ARG);
    gk(k, "", MCX_GROUP_KEY_GMK, 0x01000001u, 1);
    CHECK_ST(mcx_keystore_group_key_add(ks, k), MCX_E_ARG);
    gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x01000001u, 1);
    k->key_len = 20;
    CHECK_ST(mcx_keystore_group_key_add(ks, k), MCX_E_ARG);
    gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x01000001u, 1);
    k->params.text_len = 300; /* parameters that cannot be encoded */
    CHECK_ST(mcx_keystore_group_key_add(ks, k), MCX_E_ARG);
    /* replacing the same (group, kind, ID) keeps one */
    gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x01000001u, 1);
    CHECK_OK(mcx_keystore_group_key_add(ks, k));
    k->t_ntp = 2;
    CHECK_OK(mcx_keystore_group_key_add(ks, k));
    CHECK(mcx_keystore_group_key_count(ks) == 1);
    /* the bound on group keys */
    for (uint32_t i = 2; i <= MCX_KEYSTORE_MAX_GROUP_KEYS; i++)
        CHECK_OK(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_GMK, i, 1)));
    CHECK_ST(mcx_keystore_group_key_add(ks, gk(k, GROUP, MCX_GROUP_KEY_GMK, 0x0FFFFFFFu, 1)),
             MCX_E_LENGTH);
    mcx_secure_free(k);
    const char *bad[] = {"sip:a@x", ""};
    CHECK_ST(mcx_keystore_group_set_info(ks, GROUP, GMS, "", "", bad, 2, 0), MCX_E_ARG);
    CHECK_ST(mcx_keystore_group_set_info(ks, "", GMS, "", "", NULL, 0, 0), MCX_E_ARG);
    CHECK_ST(mcx_keystore_group_set_info(ks, GROUP, GMS, "", "a kind far too long", NULL, 0, 0),
             MCX_E_ARG);
    CHECK_ST(mcx_keystore_group_mark_revoked(ks, GROUP, 5, 0, NULL), MCX_E_ARG);
    mcx_group_key_kind kind;
    CHECK_OK(mcx_group_key_kind_from_name("mkfc", &kind));
    CHECK(kind == MCX_GROUP_KEY_MKFC);
    CHECK_ST(mcx_group_key_kind_from_name("GMK", &kind), MCX_E_ARG);
    CHECK(strcmp(mcx_group_key_kind_name(MCX_GROUP_KEY_GDK), "gdk") == 0);
    CHECK(mcx_group_key_kind_name(3) == NULL);
    mcx_keystore_free(ks);
}

int main(void)
{
    const char *td = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mcx-ksgroup-XXXXXX", td != NULL && td[0] ? td : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    chmod(dir, 0700);
    snprintf(path, sizeof path, "%s/keystore.bin", dir);
    RUN(test_roundtrip_clear);
    RUN(test_roundtrip_sealed);
    RUN(test_versions);
    RUN(test_args);
    unlink(path);
    rmdir(dir);
    return test_summary();
}
