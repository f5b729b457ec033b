/* Vector family "uid": MIKEY-SAKKE UID format 2 (TS 33.180 F.2.1) through mcx_uid_format2.
 *
 * uid_format2.txt: every [section]; expected_uid is the source's value, computed_uid* are the
 * independent Python values (checked too), source_unasserted_expectedUid must NOT match.
 * mcx_3gpp.txt: every uidN with its preimage uidN_S (the inputs are read back out of S, so the
 * encoding of each field is checked as well as the hash), and the sw_*_uid of the SW KMS.
 *
 * The handler walks every entry of each file and fails on any it does not know, so a case added
 * to a file cannot be skipped silently. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mcxsec/uid.h"
#include "runner.h"

typedef struct uid_counts {
    unsigned expected; /* values the source asserts */
    unsigned computed; /* independently computed cross-check values */
    unsigned negative; /* values that must not match */
} uid_counts;

static int parse_u64(const vec_section *s, const char *name, uint64_t *v)
{
    const char *t = vec_get(s, name);
    if (t == NULL || *t < '0' || *t > '9') {
        fprintf(stderr, "uid [%s]: %s missing or not a decimal number\n", s->name, name);
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(t, &end, 10);
    if (errno != 0 || *end != '\0') {
        fprintf(stderr, "uid [%s]: %s = '%s' is not a decimal number\n", s->name, name, t);
        return 0;
    }
    *v = x;
    return 1;
}

static void check_uid(const char *where, const char *uri, const char *kms, uint64_t period,
                      uint64_t offset, uint64_t period_no, const uint8_t want[32], int must_equal)
{
    uint8_t uid[32];
    mcx_status st = mcx_uid_format2(uri, kms, period, offset, period_no, uid);
    CHECK_OK(st);
    if (st != MCX_OK)
        return;
    int equal = memcmp(uid, want, 32) == 0;
    if (equal != must_equal) {
        fprintf(stderr, "uid %s: UID(%s, %s, %llu, %llu, %llu) %s\n", where, uri, kms,
                (unsigned long long)period, (unsigned long long)offset,
                (unsigned long long)period_no,
                must_equal ? "differs" : "matches a value that must not match");
        test_hexdump("  got ", uid, 32);
        test_hexdump("  vec ", want, 32);
        test_failed_checks++;
    }
}

/* Minimal big-endian octets of v (0 -> 00), to compare with a *_octets entry. */
static size_t be_minimal(uint64_t v, uint8_t out[8])
{
    size_t n = 1;
    while (n < 8 && (v >> (8 * n)) != 0)
        n++;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

static int is_input(const char *name)
{
    static const char *const inputs[] = {"user_uri",        "kms_uri",       "user_key_period",
                                         "user_key_offset", "key_period_no", "expected"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        if (strcmp(name, inputs[i]) == 0)
            return 1;
    return 0;
}

static void uid_format2_file(const vec_file *f, uid_counts *c)
{
    static const char head_kms[] = "computed_uid_with_head_kms_uri_";
    for (size_t i = 0; i < f->n_sections; i++) {
        const vec_section *s = &f->sections[i];
        if (s->n_entries == 0)
            continue;
        const char *uri = vec_get(s, "user_uri");
        const char *kms = vec_get(s, "kms_uri");
        uint64_t period = 0, offset = 0, no = 0;
        int ok = uri != NULL && kms != NULL && parse_u64(s, "user_key_period", &period) &&
                 parse_u64(s, "user_key_offset", &offset) && parse_u64(s, "key_period_no", &no);
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "uid [%s]: incomplete inputs\n", s->name);
            continue;
        }
        unsigned outputs = 0;
        for (size_t e = 0; e < s->n_entries; e++) {
            const char *name = s->entries[e].name;
            uint8_t want[32];
            if (is_input(name))
                continue;
            if (strcmp(name, "expected_uid") == 0) {
                CHECK(vec_hex(s, name, want, sizeof want) == 32);
                check_uid(s->name, uri, kms, period, offset, no, want, 1);
                c->expected++;
            } else if (strcmp(name, "computed_uid") == 0) {
                CHECK(vec_hex(s, name, want, sizeof want) == 32);
                check_uid(s->name, uri, kms, period, offset, no, want, 1);
                c->computed++;
            } else if (strncmp(name, head_kms, sizeof head_kms - 1) == 0) {
                /* the same inputs with the KMS URI named in the key (SW HEAD's value) */
                CHECK(vec_hex(s, name, want, sizeof want) == 32);
                check_uid(s->name, uri, name + sizeof head_kms - 1, period, offset, no, want, 1);
                c->computed++;
            } else if (strcmp(name, "source_unasserted_expectedUid") == 0) {
                /* a value copied into the source without an assertion: not these inputs' UID */
                CHECK(vec_hex(s, name, want, sizeof want) == 32);
                check_uid(s->name, uri, kms, period, offset, no, want, 0);
                c->negative++;
            } else if (strcmp(name, "user_key_period_octets") == 0) {
                /* eazon hard-codes P3; it must be the minimal encoding of the period */
                uint8_t octets[8], mine[8];
                size_t n = vec_hex(s, name, octets, sizeof octets);
                size_t m = be_minimal(period, mine);
                CHECK(n == m && memcmp(octets, mine, n) == 0);
                continue;
            } else {
                fprintf(stderr, "uid [%s]: unknown entry '%s'\n", s->name, name);
                test_failed_checks++;
                continue;
            }
            outputs++;
        }
        if (outputs == 0) {
            fprintf(stderr, "uid [%s]: no value to check\n", s->name);
            test_failed_checks++;
        }
    }
}

/* Read one field of S backwards: the last 2 octets before *end are Li, Pi precedes them. */
static int take_field_back(const uint8_t *s, size_t *end, size_t floor, const uint8_t **p,
                           size_t *n)
{
    if (*end < floor + 2)
        return 0;
    size_t len = ((size_t)s[*end - 2] << 8) | s[*end - 1];
    if (*end - 2 < floor + len)
        return 0;
    *n = len;
    *p = s + *end - 2 - len;
    *end = *end - 2 - len;
    return 1;
}

static int be_value(const uint8_t *p, size_t n, uint64_t *v)
{
    uint8_t mine[8];
    if (n == 0 || n > 8)
        return 0;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | p[i];
    /* TS 33.180 F.2.1 as implemented by every vendor: minimal octets, 0 as one 00 octet */
    return be_minimal(*v, mine) == n && memcmp(mine, p, n) == 0;
}

/* uidN = SHA-256(uidN_S); S is split back into P1..P5 and the API must rebuild the same UID. */
static void uid_from_preimage(const vec_section *s, const char *name)
{
    static const uint8_t head[] = {0x00, 'M', 'I', 'K', 'E', 'Y', '-', 'S',  'A',
                                   'K',  'K', 'E', '-', 'U', 'I', 'D', 0x00, 0x0F};
    char sname[64];
    uint8_t want[32], hash[32], S[1024];
    snprintf(sname, sizeof sname, "%s_S", name);
    CHECK(vec_hex(s, name, want, sizeof want) == 32);
    size_t n = vec_hex(s, sname, S, sizeof S);

    unsigned int hl = 0;
    CHECK(EVP_Digest(S, n, hash, &hl, EVP_sha256(), NULL) && hl == 32);
    CHECK_MEM(hash, want, 32);

    const uint8_t *p[5];
    size_t len[5], end = n;
    int ok = n > sizeof head && memcmp(S, head, sizeof head) == 0;
    for (int k = 4; k >= 0 && ok; k--)
        ok = take_field_back(S, &end, sizeof head, &p[k], &len[k]);
    ok = ok && end == sizeof head;
    uint64_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3 && ok; k++)
        ok = be_value(p[2 + k], len[2 + k], &v[k]);
    if (!ok) {
        fprintf(stderr, "uid %s: %s is not a well-formed format-2 S\n", name, sname);
        test_failed_checks++;
        return;
    }
    char uri[512], kms[512];
    if (len[0] >= sizeof uri || len[1] >= sizeof kms) {
        fprintf(stderr, "uid %s: URI too long for this test\n", name);
        test_failed_checks++;
        return;
    }
    memcpy(uri, p[0], len[0]);
    uri[len[0]] = '\0';
    memcpy(kms, p[1], len[1]);
    kms[len[1]] = '\0';
    check_uid(name, uri, kms, v[0], v[1], v[2], want, 1);
}

static void mcx_3gpp_file(const vec_file *f, uid_counts *c)
{
    const vec_section *s = vec_section_named(f, "");
    CHECK(s != NULL);
    if (s == NULL)
        return;
    /* The SW KMS (StreamwideTestVectors.md v5 "KMS Init"): sw_kms_uri, period 16777215,
     * offset 0, key period 236; the URIs are in the file's comments. */
    static const struct {
        const char *entry, *uri;
    } sw_users[] = {{"sw_gms_uid", "gms@streamwide.com"},
                    {"sw_alice_uid", "sip:alice@streamwide.com"},
                    {"sw_bob_uid", "sip:bob@streamwide.com"}};
    char sw_kms[128] = "";
    if (vec_get(s, "sw_kms_uri") != NULL) {
        size_t kms_len = vec_hex(s, "sw_kms_uri", (uint8_t *)sw_kms, sizeof sw_kms - 1);
        sw_kms[kms_len] = '\0';
    }

    for (size_t e = 0; e < s->n_entries; e++) {
        const char *name = s->entries[e].name;
        size_t nl = strlen(name);
        if (strncmp(name, "uid", 3) == 0 && nl > 3 && strspn(name + 3, "0123456789") == nl - 3) {
            uid_from_preimage(s, name);
            c->expected++;
        } else if (strncmp(name, "uid", 3) == 0 && nl > 5 && strcmp(name + nl - 2, "_S") == 0) {
            continue; /* preimage, used with its uidN */
        } else if (strncmp(name, "uid", 3) == 0) {
            fprintf(stderr, "uid: unknown entry '%s'\n", name);
            test_failed_checks++;
        } else if (strncmp(name, "sw_", 3) == 0 && nl > 4 && strcmp(name + nl - 4, "_uid") == 0) {
            size_t k = 0;
            while (k < sizeof sw_users / sizeof sw_users[0] && strcmp(sw_users[k].entry, name) != 0)
                k++;
            if (k == sizeof sw_users / sizeof sw_users[0]) {
                fprintf(stderr, "uid: %s has no known user URI\n", name);
                test_failed_checks++;
                continue;
            }
            uint8_t want[32];
            CHECK(vec_hex(s, name, want, sizeof want) == 32);
            check_uid(name, sw_users[k].uri, sw_kms, 16777215, 0, 236, want, 1);
            c->expected++;
        }
    }
}

static void uid_vectors(const vec_file *f)
{
    uid_counts a = {0, 0, 0}, b = {0, 0, 0};
    uid_format2_file(f, &a);

    /* mcx_3gpp.txt sits next to uid_format2.txt */
    char path[4096];
    const char *slash = strrchr(f->path, '/');
    int dir_len = slash != NULL ? (int)(slash - f->path) : 1;
    snprintf(path, sizeof path, "%.*s/mcx_3gpp.txt", dir_len, slash != NULL ? f->path : ".");
    vec_file *g = vec_load(path);
    mcx_3gpp_file(g, &b);
    vec_free(g);

    unsigned total = a.expected + a.computed + a.negative + b.expected;
    printf("uid: %u cases checked (uid_format2.txt: %u expected, %u computed cross-checks, "
           "%u must-not-match; mcx_3gpp.txt: %u)\n",
           total, a.expected, a.computed, a.negative, b.expected);
    CHECK(a.expected > 0);
    CHECK(b.expected > 0);
}

VEC_FAMILY(uid, "uid_format2.txt", uid_vectors)
