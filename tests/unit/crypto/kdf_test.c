/* Tests of the TS 33.220 B.2 KDF and the MIKEY PRF (RFC 3830 §4.1.2, PRF-HMAC-SHA-256 of
 * RFC 6043 §6.1): hand-checked values, a slow reference written from the RFC text, and the
 * argument checks. */
#include "test.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mcxsec/kdf.h"

static void hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                        uint8_t out[32])
{
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n) == NULL || n != 32) {
        fprintf(stderr, "reference HMAC failed\n");
        exit(2);
    }
}

/* ---- TS 33.220 B.2 KDF ---- */

/* Values computed by hand with Python's hmac module from S = FC || P0 || L0 || ... */
static void kdf_known_answers(void)
{
    uint8_t key[32], out[32], want[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;

    /* S = 0x50 (no parameters) */
    CHECK_OK(mcx_kdf(key, sizeof key, 0x50, NULL, 0, out));
    test_unhex("e230da2becfc276c9e00ffa64f771a6acd606506913c683793da0d764cb39af4", want, 32);
    CHECK_MEM(out, want, 32);

    /* S = 0x53 || "" || 00 00 */
    mcx_kdf_param empty = {NULL, 0};
    CHECK_OK(mcx_kdf(key, sizeof key, MCX_KDF_FC_DPCK, &empty, 1, out));
    test_unhex("cf85ae6e6927dcfbdf41ddbf3666a35236499900daef52a35d0c8366258a7889", want, 32);
    CHECK_MEM(out, want, 32);

    /* S = 0x51 || "sip:alice@example.org" || 00 15 || 3a bc de f0 || 00 04 */
    uint8_t k16[16], xpk_id[4];
    test_unhex("00112233445566778899aabbccddeeff", k16, sizeof k16);
    test_unhex("3abcdef0", xpk_id, sizeof xpk_id);
    mcx_kdf_param two[2] = {{(const uint8_t *)"sip:alice@example.org", 21}, {xpk_id, 4}};
    CHECK_OK(mcx_kdf(k16, sizeof k16, MCX_KDF_FC_XPK_CONF, two, 2, out));
    test_unhex("9da9b8a391115323c89221c0884218647881dbcb567619052fc31ef200fa5810", want, 32);
    CHECK_MEM(out, want, 32);

    /* Etherstack GUK-ID vector (TS 33.180 F.1.3): KDF(GMK, 0x50, P0 = user URI) */
    uint8_t gmk[16];
    test_unhex("FCFE65CD967C58D260B603CCB9A887A9", gmk, sizeof gmk);
    const char *uri = "sip:p25user01@etherstack.com";
    mcx_kdf_param p0 = {(const uint8_t *)uri, strlen(uri)};
    CHECK_OK(mcx_kdf(gmk, sizeof gmk, MCX_KDF_FC_GUK_SALT, &p0, 1, out));
    test_unhex("0496277227EA8E43DA9B6E0953C44B20321AEFA4D43F1623B603C427E877434C", want, 32);
    CHECK_MEM(out, want, 32);
}

/* The maximum parameter length 65535 is accepted and encoded as L = ff ff; checked against S
 * built by hand. */
static void kdf_long_parameter(void)
{
    size_t n = 0xFFFF;
    uint8_t *s = malloc(1 + n + 2);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    s[0] = 0x52;
    for (size_t i = 0; i < n; i++)
        s[1 + i] = (uint8_t)(i * 7);
    s[1 + n] = 0xff;
    s[2 + n] = 0xff;
    uint8_t key[20], out[32], want[32];
    memset(key, 0x5a, sizeof key);
    hmac_sha256(key, sizeof key, s, 1 + n + 2, want);
    mcx_kdf_param p = {s + 1, n};
    CHECK_OK(mcx_kdf(key, sizeof key, 0x52, &p, 1, out));
    CHECK_MEM(out, want, 32);

    /* one octet more cannot be described by a 2-octet Li */
    uint8_t *big = calloc(1, n + 1);
    CHECK(big != NULL);
    if (big != NULL) {
        mcx_kdf_param ok_and_big[2] = {{s + 1, 10}, {big, n + 1}};
        memset(out, 0xee, sizeof out);
        CHECK_ST(mcx_kdf(key, sizeof key, 0x52, ok_and_big, 2, out), MCX_E_LENGTH);
        CHECK(strstr(mcx_last_error(), "KDF: P1") != NULL);
        CHECK(strstr(mcx_last_error(), "65536") != NULL);
        free(big);
    }
    free(s);
}

static void kdf_rejects_bad_arguments(void)
{
    uint8_t key[16] = {1}, out[32];
    mcx_kdf_param p = {(const uint8_t *)"x", 1};
    mcx_kdf_param null_data = {NULL, 3};
    CHECK_ST(mcx_kdf(NULL, 16, 0x50, &p, 1, out), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "KDF: ", 5) == 0);
    CHECK_ST(mcx_kdf(key, sizeof key, 0x50, &p, 1, NULL), MCX_E_ARG);
    CHECK_ST(mcx_kdf(key, sizeof key, 0x50, NULL, 1, out), MCX_E_ARG);
    CHECK_ST(mcx_kdf(key, sizeof key, 0x50, &null_data, 1, out), MCX_E_ARG);
    CHECK_ST(mcx_kdf(key, 0, 0x50, &p, 1, out), MCX_E_LENGTH);
}

/* ---- MIKEY PRF, RFC 3830 §4.1.2 ---- */

/* Slow reference, step by step from the RFC text: n = ceil(inkey_len / 256 bits) chunks;
 * m = ceil(out_len / 256 bits); for each chunk s_j: A_0 = label, A_i = HMAC(s_j, A_(i-1)),
 * P(s_j, label, m) = HMAC(s_j, A_1 || label) || ... || HMAC(s_j, A_m || label) (m*32 octets, all
 * built in full); PRF = P(s_1) XOR ... XOR P(s_n), truncated to out_len. */
static void ref_prf(const uint8_t *inkey, size_t inkey_len, const uint8_t *label, size_t label_len,
                    uint8_t *out, size_t out_len)
{
    size_t n = (inkey_len + 31) / 32;
    size_t m = (out_len + 31) / 32;
    uint8_t *acc = calloc(m, 32);
    uint8_t *p = malloc(m * 32);
    uint8_t *a = malloc((m + 1) * 32 + label_len); /* A_0 is the label, A_i are 32 octets */
    uint8_t *buf = malloc(32 + label_len);
    if (acc == NULL || p == NULL || a == NULL || buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t j = 0; j < n; j++) {
        const uint8_t *s = inkey + 32 * j;
        size_t s_len = j + 1 < n ? 32 : inkey_len - 32 * j;
        /* A_1 = HMAC(s, A_0 = label); A_i = HMAC(s, A_(i-1)); A_i is stored at a + 32*(i-1) */
        hmac_sha256(s, s_len, label, label_len, a);
        for (size_t i = 1; i < m; i++)
            hmac_sha256(s, s_len, a + 32 * (i - 1), 32, a + 32 * i);
        for (size_t i = 0; i < m; i++) {
            memcpy(buf, a + 32 * i, 32);
            memcpy(buf + 32, label, label_len);
            hmac_sha256(s, s_len, buf, 32 + label_len, p + 32 * i);
        }
        for (size_t k = 0; k < m * 32; k++)
            acc[k] ^= p[k];
    }
    memcpy(out, acc, out_len);
    free(acc);
    free(p);
    free(a);
    free(buf);
}

static void prf_matches_reference(void)
{
    static const size_t key_lens[] = {16, 32, 33, 64, 65, 96};
    static const size_t out_lens[] = {1, 12, 16, 31, 32, 33, 48, 64, 100};
    uint8_t inkey[96], label[25], out[100], want[100];
    for (size_t i = 0; i < sizeof inkey; i++)
        inkey[i] = (uint8_t)(0xa5 ^ (i * 13));
    /* label = TEK const || CS-ID || CSB-ID || RAND (RFC 3830 §4.1.3) */
    test_unhex("2AD01C64 04 01C8DE7B 6819E679461120E10AC458CCE67B8024", label, sizeof label);
    for (size_t a = 0; a < sizeof key_lens / sizeof key_lens[0]; a++) {
        for (size_t b = 0; b < sizeof out_lens / sizeof out_lens[0]; b++) {
            size_t kl = key_lens[a], ol = out_lens[b];
            memset(out, 0xcc, sizeof out);
            CHECK_OK(mcx_mikey_prf(inkey, kl, label, sizeof label, out, ol));
            ref_prf(inkey, kl, label, sizeof label, want, ol);
            if (memcmp(out, want, ol) != 0)
                fprintf(stderr, "PRF mismatch: inkey %zu octets, out_len %zu\n", kl, ol);
            CHECK_MEM(out, want, ol);
            /* nothing written past out_len */
            for (size_t k = ol; k < sizeof out; k++)
                CHECK(out[k] == 0xcc);
        }
    }
}

/* A shorter output is a prefix of a longer one, and a 64-octet inkey gives the XOR of the PRFs
 * of its two halves (RFC 3830 §4.1.2). */
static void prf_structure(void)
{
    uint8_t inkey[64], label[9] = {0x39, 0xa2, 0xc1, 0x4b, 6, 0x1c, 0x5f, 0x78, 0x86};
    uint8_t full[100], part[100], lo[100], hi[100];
    for (size_t i = 0; i < sizeof inkey; i++)
        inkey[i] = (uint8_t)(i + 1);
    CHECK_OK(mcx_mikey_prf(inkey, 64, label, sizeof label, full, 100));
    CHECK_OK(mcx_mikey_prf(inkey, 64, label, sizeof label, part, 12));
    CHECK_MEM(part, full, 12);
    CHECK_OK(mcx_mikey_prf(inkey, 32, label, sizeof label, lo, 100));
    CHECK_OK(mcx_mikey_prf(inkey + 32, 32, label, sizeof label, hi, 100));
    for (size_t i = 0; i < 100; i++)
        lo[i] ^= hi[i];
    CHECK_MEM(full, lo, 100);
    /* an empty label is allowed (A_0 = the empty string) and matches the reference */
    CHECK_OK(mcx_mikey_prf(inkey, 16, NULL, 0, part, 40));
    ref_prf(inkey, 16, label, 0, full, 40);
    CHECK_MEM(part, full, 40);
}

/* Hand-checked: the Etherstack CS-ID 6 vector and the SW GMK salt (mcx_3gpp.txt). */
static void prf_known_answers(void)
{
    uint8_t key[16], label[25], out[16], want[16];
    test_unhex("28BA74447F037DCC09AD7F2576DC2DEF", key, sizeof key);
    test_unhex("2AD01C64 06 1C5F7886 30333032343661303730646133333265", label, sizeof label);
    CHECK_OK(mcx_mikey_prf(key, sizeof key, label, sizeof label, out, 16));
    test_unhex("185D08CB5A226D19D71679ADF5E415BE", want, 16);
    CHECK_MEM(out, want, 16);

    test_unhex("07D1A1677AC36D8E81620484689B3C2D", key, sizeof key);
    test_unhex("39A2C14B 04 06A12AEA CA2F5D51FF0866362C1D85A56F84651E", label, sizeof label);
    CHECK_OK(mcx_mikey_prf(key, sizeof key, label, sizeof label, out, 12));
    test_unhex("EE2F78E5EF16939D4A938327", want, 12);
    CHECK_MEM(out, want, 12);
}

static void prf_rejects_bad_arguments(void)
{
    uint8_t key[16] = {1}, label[4] = {2}, out[16];
    CHECK_ST(mcx_mikey_prf(NULL, 16, label, 4, out, 16), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "MIKEY PRF: ", 11) == 0);
    CHECK_ST(mcx_mikey_prf(key, 16, NULL, 4, out, 16), MCX_E_ARG);
    CHECK_ST(mcx_mikey_prf(key, 16, label, 4, NULL, 16), MCX_E_ARG);
    CHECK_ST(mcx_mikey_prf(key, 0, label, 4, out, 16), MCX_E_LENGTH);
    CHECK_ST(mcx_mikey_prf(key, 16, label, 4, out, 0), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "output length is 0") != NULL);
}

int main(void)
{
    RUN(kdf_known_answers);
    RUN(kdf_long_parameter);
    RUN(kdf_rejects_bad_arguments);
    RUN(prf_matches_reference);
    RUN(prf_structure);
    RUN(prf_known_answers);
    RUN(prf_rejects_bad_arguments);
    return test_summary();
}
