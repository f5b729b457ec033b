/* Tests of include/mcxsec/keyparams.h: the plain key-parameters payload (TS 33.180 §E.6) and its
 * MCData protected wrapper (§8.5.4), with the payloads of SW, Alea and EZ (FORMATS.md §5):
 * decoding, re-encoding to the same octets, re-protecting to the same octets, and rejection of
 * truncation at every length, trailing octets, inconsistent counts, limits, a wrong DPPK-ID,
 * every altered octet, unknown algorithms and forms, small buffers and NULL arguments. */
#include "test.h"

#include "mcxsec/kdf.h"
#include "mcxsec/keyparams.h"
#include "mcxsec/keys.h"
#include "mcxsec/mcdata.h"

/* SW v5 "Test 1: GMK" / "Test 2: CSK" plaintexts, Alea v3 GMK, EZ GMS (15 octets). */
static const char sw_gmk_plain[] = "0000000001000000000000000000000000000100";
static const char sw_csk_plain[] = "0200000001000000000000000000000000";
static const char alea_plain[] = "00000000000068d7eafa00ffffffff00000020017b001c7369703a67342e6368"
                                 "6174407665726f6e6963612d636c7573746572";
static const char ez_plain[] = "000000000100637f25cd006e9ecdcd";

/* SW v5 "Test 1: GMK" General Extension content, its GMK and DPPK-ID (= GUK-ID). */
static const char sw_gmk_wrap[] =
    "43000000000100000000000128704fa41c8fe20f881c1bab0d32d8ca06a12aea0000244eddc3bf8c2a4a5d3fc98484"
    "40123e7d054dab4308d505759206cc789d05a4ce0e49364d";
static const char sw_gmk_key[] = "07d1a1677ac36d8e81620484689b3c2d";
#define SW_GMK_DPPK_ID 0x06a12aeau

/* Alea v3 GMK General Extension content (message type 0x40, Unix date-time, one group ID). */
static const char alea_wrap[] =
    "400068daa55500000000000188287fc6cad808cf05ba7125997128020c3408880000434c5acd558ad4bc8b9a35a3d1"
    "4b8b85cf7cc4c9982a6de52101bab5b829b7c6b0a6cc22b549b5a491083cdd2487b1134c1f30aa1a5550ceb9aa7ac8"
    "ca59f18bed5384a9";
static const char alea_key[] = "B1C9D5B7483511820CCFD06B58EF139B";
#define ALEA_DPPK_ID 0x0c340888u

static int kp_equal(const mcx_key_params *a, const mcx_key_params *b)
{
    if (a->key_type != b->key_type || a->status != b->status || a->activation != b->activation ||
        a->expiry != b->expiry || a->text_len != b->text_len ||
        memcmp(a->text, b->text, a->text_len) != 0 || a->has_groups != b->has_groups ||
        a->n_groups != b->n_groups)
        return 0;
    for (unsigned i = 0; i < a->n_groups; i++)
        if (a->groups[i].iei != b->groups[i].iei || a->groups[i].len != b->groups[i].len ||
            memcmp(a->groups[i].id, b->groups[i].id, a->groups[i].len) != 0)
            return 0;
    return 1;
}

/* A key-parameters struct no decoder would produce, to see that failures leave it alone. */
static void sentinel(mcx_key_params *kp)
{
    memset(kp, 0, sizeof *kp);
    kp->key_type = 0xEE;
    kp->status = 0xDEADBEEF;
}

static int is_sentinel(const mcx_key_params *kp)
{
    return kp->key_type == 0xEE && kp->status == 0xDEADBEEF && kp->text_len == 0;
}

/* Decode hex, check it re-encodes to the same octets; returns the decoded struct. */
static void decode_reencode(const char *hex, mcx_key_params *kp)
{
    uint8_t in[512], out[512];
    size_t n = test_unhex(hex, in, sizeof in), m = 0;
    CHECK_OK(mcx_kp_decode(in, n, kp));
    CHECK_OK(mcx_kp_encode(kp, out, sizeof out, &m));
    CHECK(m == n);
    CHECK_MEM(out, in, n);
}

/* ---- plain payload ---- */

static void decode_deployed_payloads(void)
{
    mcx_key_params kp;
    decode_reencode(sw_gmk_plain, &kp);
    CHECK(kp.key_type == MCX_KEY_GMK && kp.status == MCX_KP_STATUS_ACTIVE);
    CHECK(kp.activation == 0 && kp.expiry == 0 && kp.text_len == 0);
    CHECK(kp.has_groups == 1 && kp.n_groups == 0);

    decode_reencode(sw_csk_plain, &kp);
    CHECK(kp.key_type == MCX_KEY_CSK && kp.status == 1 && kp.has_groups == 0);

    decode_reencode("0100000001000000000000000000000000", &kp);
    CHECK(kp.key_type == MCX_KEY_PCK && kp.has_groups == 0);

    decode_reencode(alea_plain, &kp);
    CHECK(kp.key_type == MCX_KEY_GMK && kp.status == 0);
    CHECK(kp.activation == 0x68d7eafaull && kp.expiry == 0xffffffffull);
    CHECK(kp.has_groups == 1 && kp.n_groups == 1);
    CHECK(kp.groups[0].iei == MCX_KP_IEI_GROUP_ID && kp.groups[0].len == 28);
    CHECK(memcmp(kp.groups[0].id, "sip:g4.chat@veronica-cluster", 28) == 0);

    /* EZ: ends after the expiry time; no text length, no group IDs */
    uint8_t in[32], out[64];
    size_t n = test_unhex(ez_plain, in, sizeof in), m = 0;
    CHECK(n == 15);
    CHECK_OK(mcx_kp_decode(in, n, &kp));
    CHECK(kp.key_type == MCX_KEY_GMK && kp.status == 1 && kp.activation == 0x637f25cdull &&
          kp.expiry == 0x6e9ecdcdull && kp.text_len == 0 && kp.has_groups == 0);
    /* re-encoded in the full form: text length 0 and an empty group list */
    CHECK_OK(mcx_kp_encode(&kp, out, sizeof out, &m));
    CHECK(m == 20);
    CHECK_MEM(out, in, 15);
    CHECK(memcmp(out + 15, "\x00\x00\x00\x01\x00", 5) == 0);
}

static void round_trip_limits(void)
{
    mcx_key_params kp, back;
    memset(&kp, 0, sizeof kp);
    kp.key_type = MCX_KEY_MUSIK;
    kp.status = MCX_KP_STATUS_ACTIVE | MCX_KP_STATUS_GATEWAY;
    kp.activation = 0xFFFFFFFFFFull;
    kp.expiry = 0x0123456789ull;
    kp.text_len = MCX_KP_TEXT_MAX;
    for (int i = 0; i < MCX_KP_TEXT_MAX; i++)
        kp.text[i] = (uint8_t)('a' + i % 26);
    kp.has_groups = 1;
    kp.n_groups = MCX_KP_GROUPS_MAX;
    for (int g = 0; g < MCX_KP_GROUPS_MAX; g++) {
        kp.groups[g].iei = (uint8_t)(0x70 + g);
        kp.groups[g].len = (uint16_t)(g == 0 ? 0 : g == 1 ? MCX_KP_GROUP_ID_MAX : 10 * g);
        memset(kp.groups[g].id, '0' + g, kp.groups[g].len);
    }
    static uint8_t buf[4096];
    size_t n = 0;
    CHECK_OK(mcx_kp_encode(&kp, buf, sizeof buf, &n));
    CHECK(n == 15 + 2 + 256 + 2 + 1 + 8 * 3 + 256 + 10 * (2 + 3 + 4 + 5 + 6 + 7));
    CHECK_OK(mcx_kp_decode(buf, n, &back));
    CHECK(kp_equal(&kp, &back));

    /* every output capacity below the length is refused, the exact one accepted */
    for (size_t cap = 0; cap < n; cap++) {
        size_t m = 99;
        CHECK_ST(mcx_kp_encode(&kp, buf, cap, &m), MCX_E_LENGTH);
        CHECK(m == 0);
    }
    CHECK_OK(mcx_kp_encode(&kp, buf, n, &n));

    /* a text in a type without groups, and MKFC with an empty list */
    memset(&kp, 0, sizeof kp);
    kp.key_type = MCX_KEY_SPK;
    kp.text_len = 5;
    memcpy(kp.text, "hello", 5);
    CHECK_OK(mcx_kp_encode(&kp, buf, sizeof buf, &n));
    CHECK(n == 22);
    CHECK_OK(mcx_kp_decode(buf, n, &back));
    CHECK(kp_equal(&kp, &back));
    kp.key_type = MCX_KEY_MKFC;
    kp.has_groups = 1;
    CHECK_OK(mcx_kp_encode(&kp, buf, sizeof buf, &n));
    CHECK(n == 25);
    CHECK_OK(mcx_kp_decode(buf, n, &back));
    CHECK(kp_equal(&kp, &back));
    /* a GMK with has_groups 0 still gets the (empty) field its type requires */
    kp.key_type = MCX_KEY_GMK;
    kp.has_groups = 0;
    CHECK_OK(mcx_kp_encode(&kp, buf, sizeof buf, &n));
    CHECK(n == 25);
    CHECK_OK(mcx_kp_decode(buf, n, &back));
    CHECK(back.has_groups == 1 && back.n_groups == 0);
}

/* Every prefix of a payload is truncated (LENGTH), except the 15-octet EZ form; so is every
 * extension by one octet (trailing). Nothing is written to kp on failure. */
static void truncation_and_trailing(void)
{
    static const char *const payloads[] = {sw_gmk_plain, sw_csk_plain, alea_plain};
    for (size_t p = 0; p < sizeof payloads / sizeof payloads[0]; p++) {
        uint8_t in[128];
        size_t n = test_unhex(payloads[p], in, sizeof in);
        mcx_key_params kp;
        for (size_t len = 0; len < n; len++) {
            sentinel(&kp);
            if (len == 15) {
                CHECK_OK(mcx_kp_decode(in, len, &kp));
                continue;
            }
            CHECK_ST(mcx_kp_decode(in, len, &kp), MCX_E_LENGTH);
            CHECK(is_sentinel(&kp));
        }
        in[n] = 0x00;
        sentinel(&kp);
        CHECK_ST(mcx_kp_decode(in, n + 1, &kp), MCX_E_LENGTH);
        CHECK(strstr(mcx_last_error(), "trailing") != NULL);
        CHECK(is_sentinel(&kp));
    }
    mcx_key_params kp;
    CHECK_ST(mcx_kp_decode(NULL, 0, &kp), MCX_E_LENGTH);
}

/* Alea's payload with one field changed. off: octet offset, v: new value. */
static mcx_status alea_with(size_t off, uint8_t v, mcx_key_params *kp)
{
    uint8_t in[128];
    size_t n = test_unhex(alea_plain, in, sizeof in);
    in[off] = v;
    return mcx_kp_decode(in, n, kp);
}

static void inconsistent_counts(void)
{
    /* Alea layout: 0 type, 1-4 status, 5-9, 10-14 times, 15-16 text length, 17-18 group IDs
     * length (0x20), 19 count (1), 20 IEI, 21-22 ID length (0x1c), 23.. ID */
    mcx_key_params kp;
    sentinel(&kp);
    CHECK_ST(alea_with(19, 2, &kp), MCX_E_ENCODING); /* count 2, room for one */
    CHECK(strstr(mcx_last_error(), "count 2") != NULL);
    CHECK_ST(alea_with(19, 0, &kp), MCX_E_ENCODING); /* count 0, 31 octets unused */
    CHECK(strstr(mcx_last_error(), "unused") != NULL);
    CHECK_ST(alea_with(22, 0x1d, &kp), MCX_E_ENCODING); /* ID longer than the list */
    CHECK_ST(alea_with(22, 0x1b, &kp), MCX_E_ENCODING); /* one octet left over */
    CHECK_ST(alea_with(18, 0x1f, &kp), MCX_E_ENCODING); /* list shorter than its entry */
    CHECK_ST(alea_with(18, 0x21, &kp), MCX_E_LENGTH);   /* list longer than what is left */
    CHECK_ST(alea_with(16, 0x01, &kp), MCX_E_LENGTH);   /* text eats the list length's octet */
    CHECK_ST(alea_with(16, 0x40, &kp), MCX_E_LENGTH);   /* text longer than what is left */
    CHECK(strstr(mcx_last_error(), "text length 64 exceeds the 34 octets left") != NULL);
    CHECK(is_sentinel(&kp));

    /* group IDs length 0: no room for the count */
    uint8_t in[32];
    size_t n = test_unhex("00"
                          "00000001"
                          "0000000000"
                          "0000000000"
                          "0000"
                          "0000",
                          in, sizeof in);
    CHECK_ST(mcx_kp_decode(in, n, &kp), MCX_E_ENCODING);
    /* count 2 with an entry header cut short */
    n = test_unhex("00"
                   "00000001"
                   "0000000000"
                   "0000000000"
                   "0000"
                   "0006"
                   "02"
                   "7b0000"
                   "7b00",
                   in, sizeof in);
    CHECK_ST(mcx_kp_decode(in, n, &kp), MCX_E_ENCODING);
    /* a CSK followed by a group list: trailing octets */
    n = test_unhex("02"
                   "00000001"
                   "0000000000"
                   "0000000000"
                   "0000"
                   "0001"
                   "00",
                   in, sizeof in);
    CHECK_ST(mcx_kp_decode(in, n, &kp), MCX_E_LENGTH);
    CHECK(is_sentinel(&kp));
}

static void limits_unsupported(void)
{
    mcx_key_params kp;
    sentinel(&kp);
    /* key types 7..255 are not defined */
    CHECK_ST(alea_with(0, 7, &kp), MCX_E_UNSUPPORTED);
    CHECK(strstr(mcx_last_error(), "key type 7") != NULL);
    CHECK_ST(alea_with(0, 0xFF, &kp), MCX_E_UNSUPPORTED);

    static uint8_t in[4096];
    /* text of 257 octets (present in full) */
    size_t n = test_unhex("03"
                          "00000001"
                          "0000000000"
                          "0000000000"
                          "0101",
                          in, sizeof in);
    memset(in + n, 't', 257);
    CHECK_ST(mcx_kp_decode(in, n + 257, &kp), MCX_E_UNSUPPORTED);
    CHECK(strstr(mcx_last_error(), "257") != NULL);
    /* 9 group IDs of 0 octets */
    n = test_unhex("00"
                   "00000001"
                   "0000000000"
                   "0000000000"
                   "0000"
                   "001c"
                   "09",
                   in, sizeof in);
    memset(in + n, 0, 27);
    CHECK_ST(mcx_kp_decode(in, n + 27, &kp), MCX_E_UNSUPPORTED);
    /* a group ID of 257 octets */
    n = test_unhex("00"
                   "00000001"
                   "0000000000"
                   "0000000000"
                   "0000"
                   "0105"
                   "01"
                   "7b0101",
                   in, sizeof in);
    memset(in + n, 'g', 257);
    CHECK_ST(mcx_kp_decode(in, n + 257, &kp), MCX_E_UNSUPPORTED);
    CHECK(is_sentinel(&kp));
    /* and the limits themselves decode: 256-octet text, 8 IDs */
    n = test_unhex("03"
                   "00000001"
                   "0000000000"
                   "0000000000"
                   "0100",
                   in, sizeof in);
    memset(in + n, 't', 256);
    CHECK_OK(mcx_kp_decode(in, n + 256, &kp));
    CHECK(kp.text_len == 256);
}

static void encode_rejects_bad_arguments(void)
{
    mcx_key_params kp;
    memset(&kp, 0, sizeof kp);
    uint8_t out[64];
    size_t n = 5;
    CHECK_ST(mcx_kp_encode(NULL, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_kp_encode(&kp, NULL, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, NULL), MCX_E_ARG);
    kp.key_type = 7;
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_ARG);
    kp.key_type = MCX_KEY_GMK;
    kp.activation = 1ull << 40;
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_RANGE);
    kp.activation = 0;
    kp.expiry = UINT64_MAX;
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_RANGE);
    kp.expiry = 0;
    kp.text_len = MCX_KP_TEXT_MAX + 1;
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_ARG);
    kp.text_len = 0;
    kp.has_groups = 1;
    kp.n_groups = MCX_KP_GROUPS_MAX + 1;
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_ARG);
    kp.n_groups = 1;
    kp.groups[0].len = MCX_KP_GROUP_ID_MAX + 1;
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_ARG);
    kp.groups[0].len = 3;
    kp.key_type = MCX_KEY_CSK; /* a CSK has no group IDs */
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_ARG);
    CHECK(strstr(mcx_last_error(), "csk") != NULL);
    kp.key_type = MCX_KEY_GMK;
    kp.has_groups = 0; /* n_groups without has_groups */
    CHECK_ST(mcx_kp_encode(&kp, out, sizeof out, &n), MCX_E_ARG);
    kp.has_groups = 1;
    CHECK_OK(mcx_kp_encode(&kp, out, sizeof out, &n));
    CHECK(n == 26);
    CHECK_ST(mcx_kp_decode(out, n, NULL), MCX_E_ARG);
    CHECK_ST(mcx_kp_decode(NULL, 3, &kp), MCX_E_ARG);
}

/* ---- protected wrapper ---- */

static void open_deployed(void)
{
    static const struct {
        const char *key, *wrap, *plain;
        uint32_t dppk_id;
    } cases[] = {
        {sw_gmk_key, sw_gmk_wrap, sw_gmk_plain, SW_GMK_DPPK_ID},
        {"e06e65106183547342d3e8a6ce2540a8",
         "4300000000010000000000016f7ee262ac4da7f5d06a72de86816abe2ddd5bf0000021bc70f370864c4fa8f7"
         "a8b3992acc17d2335538bea90d6016992b6b982ae86008f0",
         sw_csk_plain, 0x2ddd5bf0u},
        {alea_key, alea_wrap, alea_plain, ALEA_DPPK_ID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t key[16], in[256], plain[128];
        test_unhex(cases[i].key, key, sizeof key);
        size_t n = test_unhex(cases[i].wrap, in, sizeof in);
        size_t pn = test_unhex(cases[i].plain, plain, sizeof plain);
        mcx_key_params kp, want;
        mcx_kp_form form = (mcx_kp_form)9;
        CHECK_OK(mcx_kp_open(key, 16, cases[i].dppk_id, in, n, 0, &kp, &form));
        CHECK(form == MCX_KP_FORM_PROTECTED);
        CHECK_OK(mcx_kp_decode(plain, pn, &want));
        CHECK(kp_equal(&kp, &want));
        /* form may be NULL */
        CHECK_OK(mcx_kp_open(key, 16, cases[i].dppk_id, in, n, 1, &kp, NULL));
    }
}

/* Re-protecting SW's plaintext with SW's IV and date-time gives SW's octets. Alea's wrapper
 * differs only in its message type (0x40, mcxsec writes 0x43): same ciphertext, other tag. */
static void reprotect_same_octets(void)
{
    uint8_t key[16], in[256], plain[128], out[256];
    test_unhex(sw_gmk_key, key, sizeof key);
    size_t n = test_unhex(sw_gmk_wrap, in, sizeof in);
    size_t pn = test_unhex(sw_gmk_plain, plain, sizeof plain), m = 0;
    CHECK(n == MCX_KP_WRAP_OVERHEAD + pn);
    CHECK_OK(mcx_kp_protect_with_iv(key, 16, SW_GMK_DPPK_ID, 1, in + 12, plain, pn, out, sizeof out,
                                    &m));
    CHECK(m == n);
    CHECK_MEM(out, in, n);

    test_unhex(alea_key, key, sizeof key);
    n = test_unhex(alea_wrap, in, sizeof in);
    pn = test_unhex(alea_plain, plain, sizeof plain);
    CHECK_OK(mcx_kp_protect_with_iv(key, 16, ALEA_DPPK_ID, 0x68daa555ull, in + 12, plain, pn, out,
                                    sizeof out, &m));
    CHECK(m == n && out[0] == MCX_KP_WRAP_TYPE_ENCRYPTED);
    CHECK_MEM(out + 1, in + 1, n - 1 - MCX_KP_TAG_BYTES);
    CHECK(memcmp(out + n - 16, in + n - 16, 16) != 0);
    mcx_key_params kp;
    CHECK_OK(mcx_kp_open(key, 16, ALEA_DPPK_ID, out, m, 0, &kp, NULL));
    CHECK(kp.n_groups == 1 && kp.groups[0].len == 28);
}

static void protect_round_trip(void)
{
    mcx_key_params kp, back;
    memset(&kp, 0, sizeof kp);
    kp.key_type = MCX_KEY_GMK;
    kp.status = 1;
    kp.activation = 0xE0000000ull;
    kp.expiry = 0xF0000000ull;
    kp.text_len = 3;
    memcpy(kp.text, "abc", 3);
    kp.has_groups = 1;
    kp.n_groups = 2;
    kp.groups[0] = (mcx_kp_group_id){.iei = MCX_KP_IEI_GROUP_ID, .len = 5, .id = "sip:g"};
    kp.groups[1] = (mcx_kp_group_id){.iei = MCX_KP_IEI_GROUP_ID, .len = 1, .id = "h"};
    uint8_t plain[128], a[256], b[256], key[32];
    size_t pn = 0, an = 0, bn = 0;
    memset(key, 0x3c, sizeof key);
    CHECK_OK(mcx_kp_encode(&kp, plain, sizeof plain, &pn));
    CHECK_OK(mcx_kp_protect(key, 32, 0x01234567u, 0x0102030405ull, plain, pn, a, sizeof a, &an));
    CHECK(an == pn + MCX_KP_WRAP_OVERHEAD);
    CHECK(a[0] == 0x43 && memcmp(a + 1, "\x01\x02\x03\x04\x05\0\0\0\0\0\x01", 11) == 0);
    CHECK(memcmp(a + 28, "\x01\x23\x45\x67\x00", 5) == 0);
    CHECK(a[33] == (uint8_t)((pn + 16) >> 8) && a[34] == (uint8_t)(pn + 16));
    CHECK_OK(mcx_kp_protect(key, 32, 0x01234567u, 0x0102030405ull, plain, pn, b, sizeof b, &bn));
    CHECK(bn == an && memcmp(a + 12, b + 12, 16) != 0); /* fresh IVs */
    mcx_kp_form form = MCX_KP_FORM_LEGACY;
    CHECK_OK(mcx_kp_open(key, 32, 0x01234567u, a, an, 0, &back, &form));
    CHECK(kp_equal(&kp, &back) && form == MCX_KP_FORM_PROTECTED);
    CHECK_OK(mcx_kp_open(key, 32, 0x01234567u, b, bn, 0, &back, &form));
    CHECK(kp_equal(&kp, &back));
    /* another key of the same ID fails the tag */
    key[31] ^= 1;
    sentinel(&back);
    CHECK_ST(mcx_kp_open(key, 32, 0x01234567u, a, an, 0, &back, &form), MCX_E_TAG_INVALID);
    CHECK(is_sentinel(&back));
}

/* What mcx_kp_open says about each altered octet of SW's GMK wrapper. */
static void tamper_every_octet(void)
{
    uint8_t key[16], in[256];
    test_unhex(sw_gmk_key, key, sizeof key);
    size_t n = test_unhex(sw_gmk_wrap, in, sizeof in);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t v = (uint8_t)(in[i] ^ (1u << bit));
            mcx_status want = MCX_E_TAG_INVALID;
            if (i == 0 && (v & 0x40) == 0)
                want = MCX_E_UNSUPPORTED; /* not encrypted (0x03: legacy, not allowed) */
            else if (i == 11 && v != 2)
                want = MCX_E_UNSUPPORTED; /* unknown payload algorithm */
            else if (i == 11)
                want = MCX_E_TAG_INVALID; /* AES-256-GCM under another key */
            else if (i >= 28 && i < 32)
                want = MCX_E_ENCODING; /* DPPK-ID is not the CSB-ID */
            else if (i == 32)
                want = MCX_E_UNSUPPORTED; /* TLV type */
            else if (i == 33 || i == 34)
                want = MCX_E_LENGTH; /* TLV length disagrees */
            mcx_key_params kp;
            sentinel(&kp);
            in[i] = v;
            CHECK_ST(mcx_kp_open(key, 16, SW_GMK_DPPK_ID, in, n, 0, &kp, NULL), want);
            in[i] = (uint8_t)(v ^ (1u << bit));
            CHECK(is_sentinel(&kp));
        }
    }
    CHECK_OK(mcx_kp_open(key, 16, SW_GMK_DPPK_ID, in, n, 0, &(mcx_key_params){0}, NULL));
}

static void truncated_and_trailing_wrapper(void)
{
    uint8_t key[16], in[256];
    test_unhex(sw_gmk_key, key, sizeof key);
    size_t n = test_unhex(sw_gmk_wrap, in, sizeof in);
    mcx_key_params kp;
    for (size_t len = 0; len < n; len++) {
        sentinel(&kp);
        CHECK_ST(mcx_kp_open(key, 16, SW_GMK_DPPK_ID, in, len, 1, &kp, NULL), MCX_E_LENGTH);
        CHECK(is_sentinel(&kp));
    }
    in[n] = 0;
    CHECK_ST(mcx_kp_open(key, 16, SW_GMK_DPPK_ID, in, n + 1, 0, &kp, NULL), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "TLV length 36 disagrees with the 37 octets left") != NULL);
    CHECK(is_sentinel(&kp));
    /* a TLV length that agrees but leaves no room for the tag */
    in[33] = 0;
    in[34] = 15;
    CHECK_ST(mcx_kp_open(key, 16, SW_GMK_DPPK_ID, in, 35 + 15, 0, &kp, NULL), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "shorter than its tag") != NULL);
}

static void wrong_dppk_id(void)
{
    uint8_t key[16], in[256];
    test_unhex(sw_gmk_key, key, sizeof key);
    size_t n = test_unhex(sw_gmk_wrap, in, sizeof in);
    mcx_key_params kp;
    sentinel(&kp);
    /* the GMK-ID instead of the GUK-ID */
    CHECK_ST(mcx_kp_open(key, 16, 0x0df9bc39u, in, n, 0, &kp, NULL), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "DPPK-ID 06a12aea is not the CSB-ID 0df9bc39") != NULL);
    CHECK(is_sentinel(&kp));
}

/* A wrapper with payload algorithm 2, built by hand: AES-256-GCM under the whole 256-bit KDF
 * output (keyparams.c), 16-octet IV, same AAD. */
static void algorithm_aes256(void)
{
    uint8_t key[16], plain[32], wrap[128], full[32], ct[32 + 32], id[4] = {0x26, 0, 0, 1};
    memset(key, 0x11, sizeof key);
    size_t pn = test_unhex(sw_csk_plain, plain, sizeof plain), cn = 0;
    mcx_kdf_param p0 = {id, 4};
    CHECK_OK(mcx_kdf(key, 16, MCX_KDF_FC_DPCK, &p0, 1, full));
    size_t wn = test_unhex("430000000001000000000002"
                           "000102030405060708090a0b0c0d0e0f"
                           "26000001"
                           "000021",
                           wrap, sizeof wrap);
    CHECK(wn == 35);
    CHECK_OK(mcx_mcdata_encrypt(MCX_MCDATA_ALG_AES256_GCM, full, 32, wrap + 12, 16, wrap, 32, plain,
                                pn, ct, sizeof ct, &cn));
    CHECK(cn == pn + 32);
    memcpy(wrap + wn, ct, pn + 16); /* ciphertext || tag, without the trailing IV */
    mcx_key_params kp;
    CHECK_OK(mcx_kp_open(key, 16, 0x26000001u, wrap, wn + pn + 16, 0, &kp, NULL));
    CHECK(kp.key_type == MCX_KEY_CSK && kp.status == 1);
    /* the same ciphertext labelled algorithm 1 fails the tag */
    wrap[11] = 1;
    CHECK_ST(mcx_kp_open(key, 16, 0x26000001u, wrap, wn + pn + 16, 0, &kp, NULL),
             MCX_E_TAG_INVALID);
    wrap[11] = 3;
    CHECK_ST(mcx_kp_open(key, 16, 0x26000001u, wrap, wn + pn + 16, 0, &kp, NULL),
             MCX_E_UNSUPPORTED);
    CHECK(strstr(mcx_last_error(), "algorithm 3") != NULL);
}

static void legacy_form(void)
{
    uint8_t key[16] = {0}, in[64];
    size_t n = test_unhex("0100000001000000000000000000000000", in, sizeof in);
    mcx_key_params kp;
    mcx_kp_form form = MCX_KP_FORM_PROTECTED;
    CHECK_OK(mcx_kp_open(key, 16, 0, in, n, 1, &kp, &form));
    CHECK(form == MCX_KP_FORM_LEGACY && kp.key_type == MCX_KEY_GMK && kp.status == 1);
    CHECK(kp.has_groups == 0);
    in[0] = 3;
    CHECK_OK(mcx_kp_open(key, 16, 0, in, n, 1, &kp, &form));
    CHECK(kp.key_type == MCX_KEY_CSK);
    /* refused when not allowed; nothing written */
    sentinel(&kp);
    form = MCX_KP_FORM_PROTECTED;
    CHECK_ST(mcx_kp_open(key, 16, 0, in, n, 0, &kp, &form), MCX_E_UNSUPPORTED);
    CHECK(strstr(mcx_last_error(), "legacy") != NULL);
    CHECK(is_sentinel(&kp) && form == MCX_KP_FORM_PROTECTED);
    /* truncated and trailing, except the 15-octet form */
    for (size_t len = 1; len < n; len++) {
        if (len == 15)
            continue;
        CHECK_ST(mcx_kp_open(key, 16, 0, in, len, 1, &kp, &form), MCX_E_LENGTH);
    }
    in[n] = 0;
    CHECK_ST(mcx_kp_open(key, 16, 0, in, n + 1, 1, &kp, &form), MCX_E_LENGTH);
    CHECK(is_sentinel(&kp));
    /* neither encrypted nor legacy: a plain payload or a type without the encrypted bit */
    static const uint8_t firsts[] = {0x00, 0x04, 0x06, 0x07, 0x3f, 0x80, 0x83};
    for (size_t i = 0; i < sizeof firsts; i++) {
        in[0] = firsts[i];
        CHECK_ST(mcx_kp_open(key, 16, 0, in, n, 1, &kp, &form), MCX_E_UNSUPPORTED);
    }
    CHECK(is_sentinel(&kp));
}

/* The plaintext authenticates but is not a payload mcxsec decodes. */
static void protected_bad_plaintext(void)
{
    uint8_t key[16] = {9}, out[4096];
    static uint8_t plain[3000];
    size_t n = 0;
    mcx_key_params kp;
    sentinel(&kp);
    CHECK_OK(
        mcx_kp_protect(key, 16, 5, 0, (const uint8_t *)"\x02\x00\x00", 3, out, sizeof out, &n));
    CHECK_ST(mcx_kp_open(key, 16, 5, out, n, 0, &kp, NULL), MCX_E_LENGTH);
    CHECK(strncmp(mcx_last_error(), "KEYPARAMS plaintext: ", 21) == 0);
    CHECK_OK(mcx_kp_protect(key, 16, 5, 0, (const uint8_t *)"abc", 3, out, sizeof out, &n));
    CHECK_ST(mcx_kp_open(key, 16, 5, out, n, 0, &kp, NULL), MCX_E_UNSUPPORTED); /* key type 'a' */
    CHECK_OK(mcx_kp_protect(key, 16, 5, 0, NULL, 0, out, sizeof out, &n));
    CHECK(n == MCX_KP_WRAP_OVERHEAD);
    CHECK_ST(mcx_kp_open(key, 16, 5, out, n, 0, &kp, NULL), MCX_E_LENGTH);
    /* longer than any payload within the limits: refused before decryption */
    memset(plain, 0, sizeof plain);
    CHECK_OK(mcx_kp_protect(key, 16, 5, 0, plain, sizeof plain, out, sizeof out, &n));
    CHECK_ST(mcx_kp_open(key, 16, 5, out, n, 0, &kp, NULL), MCX_E_UNSUPPORTED);
    CHECK(is_sentinel(&kp));
}

static void protect_rejects_bad_arguments(void)
{
    uint8_t key[16] = {1}, iv[16] = {2}, plain[20] = {0}, out[128];
    size_t n = 7;
    CHECK_ST(mcx_kp_protect_with_iv(NULL, 16, 1, 0, iv, plain, 20, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 0, NULL, plain, 20, out, sizeof out, &n),
             MCX_E_ARG);
    CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 0, iv, NULL, 20, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 0, iv, plain, 20, NULL, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 0, iv, plain, 20, out, sizeof out, NULL),
             MCX_E_ARG);
    CHECK_ST(mcx_kp_protect(NULL, 16, 1, 0, plain, 20, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 1ull << 40, iv, plain, 20, out, sizeof out, &n),
             MCX_E_ARG);
    CHECK_ST(mcx_kp_protect_with_iv(key, 0, 1, 0, iv, plain, 20, out, sizeof out, &n),
             MCX_E_LENGTH);
    CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 0, iv, plain, 0xFFFF - 15, out, sizeof out, &n),
             MCX_E_LENGTH);
    /* exactly enough output, and every capacity below */
    size_t need = MCX_KP_WRAP_OVERHEAD + 20;
    CHECK_OK(mcx_kp_protect_with_iv(key, 16, 1, 0, iv, plain, 20, out, need, &n));
    CHECK(n == need);
    for (size_t cap = 0; cap < need; cap++) {
        n = 7;
        CHECK_ST(mcx_kp_protect_with_iv(key, 16, 1, 0, iv, plain, 20, out, cap, &n), MCX_E_LENGTH);
        CHECK(n == 0);
    }
    mcx_key_params kp;
    CHECK_ST(mcx_kp_open(NULL, 16, 1, out, need, 0, &kp, NULL), MCX_E_ARG);
    CHECK_ST(mcx_kp_open(key, 16, 1, NULL, need, 0, &kp, NULL), MCX_E_ARG);
    CHECK_ST(mcx_kp_open(key, 16, 1, out, need, 0, NULL, NULL), MCX_E_ARG);
    CHECK_ST(mcx_kp_open(key, 16, 1, out, 0, 0, &kp, NULL), MCX_E_LENGTH);
    CHECK_ST(mcx_kp_open(key, 0, 1, out, need, 0, &kp, NULL), MCX_E_LENGTH);
}

int main(void)
{
    RUN(decode_deployed_payloads);
    RUN(round_trip_limits);
    RUN(truncation_and_trailing);
    RUN(inconsistent_counts);
    RUN(limits_unsupported);
    RUN(encode_rejects_bad_arguments);
    RUN(open_deployed);
    RUN(reprotect_same_octets);
    RUN(protect_round_trip);
    RUN(tamper_every_octet);
    RUN(truncated_and_trailing_wrapper);
    RUN(wrong_dppk_id);
    RUN(algorithm_aes256);
    RUN(legacy_form);
    RUN(protected_bad_plaintext);
    RUN(protect_rejects_bad_arguments);
    return test_summary();
}
