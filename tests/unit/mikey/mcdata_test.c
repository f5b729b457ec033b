/* Tests of include/mcxsec/mcdata.h, the stand-alone MCData AEAD (ciphertext || tag || IV):
 * the NIST AES-256-GCM case and the SW library cases, round trips with both key sizes and both
 * IV lengths, in-place use, tampering with every octet, and every argument check. */
#include "test.h"

#include "mcxsec/mcdata.h"

static const char key128_hex[] = "01020304050607080910111213141516";
static const char key256_hex[] = "0102030405060708091011121314151601020304050607080910111213141516";

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* SW unit_tests/test_mcdata_crypto.cc test_crypto_nist_256 (NIST CAVP AES-256-GCM). */
static void nist_aes256(void)
{
    uint8_t key[32], iv[12], pt[16], aad[16], want[16 + 16 + 12], out[64], back[64];
    test_unhex("eebc1f57487f51921c0465665f8ae6d1658bb26de6f8a069a3520293a572078f", key, 32);
    test_unhex("99aa3e68ed8173a0eed06684", iv, 12);
    test_unhex("f56e87055bc32d0eeb31b2eacc2bf2a5", pt, 16);
    test_unhex("4d23c3cec334b49bdb370c437fec78de", aad, 16);
    test_unhex("f7264413a84c0e7cd536867eb9f2173667ba0510262ae487d737ee6298f77e0c"
               "99aa3e68ed8173a0eed06684",
               want, sizeof want);
    size_t n = 0;
    CHECK_OK(mcx_mcdata_encrypt(MCX_MCDATA_ALG_AES256_GCM, key, 32, iv, 12, aad, 16, pt, 16, out,
                                sizeof out, &n));
    CHECK(n == sizeof want);
    CHECK_MEM(out, want, sizeof want);
    size_t m = 0;
    CHECK_OK(mcx_mcdata_decrypt(MCX_MCDATA_ALG_AES256_GCM, key, 32, 12, aad, 16, want, sizeof want,
                                back, sizeof back, &m));
    CHECK(m == 16);
    CHECK_MEM(back, pt, 16);
}

/* test_crypto_nominal_unaligned_custom_iv_len: a 16-octet IV and a 32-octet AAD; the payloads
 * were computed independently (mcdata_protection.txt computed_aes*_stw_payload). */
static void custom_iv_16(void)
{
    uint8_t k128[16], k256[32], iv[16], aad[32], want[23 + 32], out[64];
    const char *pt = "toto12345-libMikeySakke";
    test_unhex(key128_hex, k128, 16);
    test_unhex(key256_hex, k256, 32);
    test_unhex("02010304050607081009111213151416", iv, 16);
    test_unhex("1602030405060708091011121314150116020304050607080910111213141501", aad, 32);
    size_t n = 0;
    CHECK_OK(mcx_mcdata_encrypt(MCX_MCDATA_ALG_AES128_GCM, k128, 16, iv, 16, aad, 32,
                                (const uint8_t *)pt, 23, out, sizeof out, &n));
    test_unhex("75067d1ed7d597b4189a2877ca3e8a2be4612217c1ceba041c461b9df97b373f4972fd0954af33"
               "02010304050607081009111213151416",
               want, sizeof want);
    CHECK(n == sizeof want);
    CHECK_MEM(out, want, sizeof want);
    CHECK_OK(mcx_mcdata_encrypt(MCX_MCDATA_ALG_AES256_GCM, k256, 32, iv, 16, aad, 32,
                                (const uint8_t *)pt, 23, out, sizeof out, &n));
    test_unhex("f954de0dc3f20f0a2692f4b6c1c4d342d4dda1c3f3af34f2946ac6d4320dfd5a995cc6c60cad48"
               "02010304050607081009111213151416",
               want, sizeof want);
    CHECK(n == sizeof want);
    CHECK_MEM(out, want, sizeof want);
}

/* Round trips with a random 12-octet IV for both key sizes, several lengths, empty AAD. */
static void round_trips(void)
{
    uint8_t k128[16], k256[32], aad[16];
    test_unhex(key128_hex, k128, 16);
    test_unhex(key256_hex, k256, 32);
    test_unhex("16020304050607080910111213141501", aad, 16);
    static const size_t lens[] = {0, 1, 4, 15, 16, 17, 100, 1000};
    uint8_t pt[1000], out[1000 + 28], back[1000], other[1000 + 28];
    for (size_t i = 0; i < sizeof pt; i++)
        pt[i] = (uint8_t)(i * 13 + 1);
    for (unsigned alg = 1; alg <= 2; alg++) {
        const uint8_t *key = alg == 1 ? k128 : k256;
        size_t kl = mcx_mcdata_key_bytes(alg);
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t len = lens[li], n = 0, m = 0, n2 = 0;
            const uint8_t *a = li % 2 ? aad : NULL;
            size_t al = li % 2 ? 16 : 0;
            CHECK_OK(
                mcx_mcdata_encrypt_random_iv(alg, key, kl, a, al, pt, len, out, sizeof out, &n));
            CHECK(n == len + 28);
            CHECK_OK(mcx_mcdata_decrypt(alg, key, kl, 12, a, al, out, n, back, sizeof back, &m));
            CHECK(m == len);
            CHECK_MEM(back, pt, len);
            /* a second encryption draws another IV */
            CHECK_OK(mcx_mcdata_encrypt_random_iv(alg, key, kl, a, al, pt, len, other, sizeof other,
                                                  &n2));
            CHECK(n2 == n && memcmp(out + len + 16, other + len + 16, 12) != 0);
        }
    }
    CHECK(mcx_mcdata_key_bytes(0) == 0 && mcx_mcdata_key_bytes(3) == 0);
}

/* The SW round-trip plaintexts with a 16-octet caller IV. */
static void round_trip_iv16(void)
{
    uint8_t k256[32], aad[16], iv[16], out[64], back[64];
    test_unhex(key256_hex, k256, 32);
    test_unhex("16020304050607080910111213141501", aad, 16);
    memset(iv, 0x5c, sizeof iv);
    const char *pt = "toto123456123456";
    size_t n = 0, m = 0;
    CHECK_OK(mcx_mcdata_encrypt(2, k256, 32, iv, 16, aad, 16, (const uint8_t *)pt, 16, out,
                                sizeof out, &n));
    CHECK(n == 16 + 32);
    CHECK_MEM(out + 32, iv, 16);
    CHECK_OK(mcx_mcdata_decrypt(2, k256, 32, 16, aad, 16, out, n, back, sizeof back, &m));
    CHECK(m == 16);
    CHECK_MEM(back, pt, 16);
    /* read with the wrong IV length, the IV and tag positions move: the tag fails */
    CHECK_ST(mcx_mcdata_decrypt(2, k256, 32, 12, aad, 16, out, n, back, sizeof back, &m),
             MCX_E_TAG_INVALID);
}

/* out == pt for encryption, out == in for decryption. */
static void in_place(void)
{
    uint8_t key[16], iv[12], buf[40 + 28], pt[40];
    test_unhex(key128_hex, key, 16);
    memset(iv, 7, sizeof iv);
    for (int i = 0; i < 40; i++)
        pt[i] = buf[i] = (uint8_t)i;
    size_t n = 0, m = 0;
    CHECK_OK(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, buf, 40, buf, sizeof buf, &n));
    CHECK(n == sizeof buf);
    uint8_t copy[sizeof buf], other[sizeof buf];
    memcpy(copy, buf, sizeof buf);
    CHECK_OK(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, pt, 40, other, sizeof other, &n));
    CHECK_MEM(other, copy, sizeof copy);
    CHECK_OK(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, buf, n, buf, sizeof buf, &m));
    CHECK(m == 40);
    CHECK_MEM(buf, pt, 40);
}

/* Any altered octet of ciphertext, tag or IV, of the AAD or of the key fails the tag, and no
 * plaintext is left in the output. */
static void tamper(void)
{
    uint8_t key[16], aad[16], pt[20], out[20 + 28], bad[sizeof out], back[20];
    test_unhex(key128_hex, key, 16);
    test_unhex("16020304050607080910111213141501", aad, 16);
    memset(pt, 'x', sizeof pt);
    size_t n = 0, m = 99;
    CHECK_OK(mcx_mcdata_encrypt_random_iv(1, key, 16, aad, 16, pt, 20, out, sizeof out, &n));
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, out, n);
        bad[i] ^= 0x01;
        memset(back, 0xAA, sizeof back);
        CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, aad, 16, bad, n, back, sizeof back, &m),
                 MCX_E_TAG_INVALID);
        CHECK(m == 0);
        CHECK(all_zero(back, sizeof back));
    }
    for (size_t i = 0; i < sizeof aad; i++) {
        aad[i] ^= 0x80;
        CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, aad, 16, out, n, back, sizeof back, &m),
                 MCX_E_TAG_INVALID);
        aad[i] ^= 0x80;
    }
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, aad, 15, out, n, back, sizeof back, &m),
             MCX_E_TAG_INVALID);
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, out, n, back, sizeof back, &m),
             MCX_E_TAG_INVALID);
    key[3] ^= 1;
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, aad, 16, out, n, back, sizeof back, &m),
             MCX_E_TAG_INVALID);
    key[3] ^= 1;
    CHECK(strstr(mcx_last_error(), "tag") != NULL);
    /* the other algorithm needs another key length */
    CHECK_ST(mcx_mcdata_decrypt(2, key, 16, 12, aad, 16, out, n, back, sizeof back, &m),
             MCX_E_LENGTH);
    /* every truncation: shorter than tag + IV is a length error, longer fails the tag */
    for (size_t len = 0; len < n; len++) {
        mcx_status want = len < 28 ? MCX_E_LENGTH : MCX_E_TAG_INVALID;
        CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, aad, 16, out, len, back, sizeof back, &m),
                 want);
    }
    /* an octet appended */
    uint8_t longer[sizeof out + 1];
    memcpy(longer, out, n);
    longer[n] = 0;
    uint8_t back2[21];
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, aad, 16, longer, n + 1, back2, sizeof back2, &m),
             MCX_E_TAG_INVALID);
    CHECK_OK(mcx_mcdata_decrypt(1, key, 16, 12, aad, 16, out, n, back, sizeof back, &m));
}

static void rejects_bad_arguments(void)
{
    uint8_t key[32] = {1}, iv[16] = {2}, pt[8] = {3}, out[64], back[8];
    size_t n = 77;
    /* unknown algorithms */
    for (unsigned alg = 0; alg < 8; alg++) {
        if (alg == 1 || alg == 2)
            continue;
        CHECK_ST(mcx_mcdata_encrypt(alg, key, 16, iv, 12, NULL, 0, pt, 8, out, sizeof out, &n),
                 MCX_E_UNSUPPORTED);
        CHECK_ST(mcx_mcdata_encrypt_random_iv(alg, key, 16, NULL, 0, pt, 8, out, sizeof out, &n),
                 MCX_E_UNSUPPORTED);
        CHECK_ST(mcx_mcdata_decrypt(alg, key, 16, 12, NULL, 0, out, 36, back, sizeof back, &n),
                 MCX_E_UNSUPPORTED);
    }
    CHECK(strstr(mcx_last_error(), "algorithm 7") != NULL);
    /* key length must match the algorithm; IV 12 or 16 */
    CHECK_ST(mcx_mcdata_encrypt(1, key, 32, iv, 12, NULL, 0, pt, 8, out, sizeof out, &n),
             MCX_E_LENGTH);
    CHECK_ST(mcx_mcdata_encrypt(2, key, 16, iv, 12, NULL, 0, pt, 8, out, sizeof out, &n),
             MCX_E_LENGTH);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 8, NULL, 0, pt, 8, out, sizeof out, &n),
             MCX_E_LENGTH);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 0, NULL, 0, pt, 8, out, sizeof out, &n),
             MCX_E_LENGTH);
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 13, NULL, 0, out, 40, back, sizeof back, &n),
             MCX_E_LENGTH);
    CHECK_ST(mcx_mcdata_decrypt(2, key, 31, 12, NULL, 0, out, 40, back, sizeof back, &n),
             MCX_E_LENGTH);
    /* output buffers: exactly enough works, one octet less does not */
    CHECK_OK(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, pt, 8, out, 36, &n));
    CHECK(n == 36);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, pt, 8, out, 35, &n), MCX_E_LENGTH);
    CHECK(n == 0);
    CHECK(strstr(mcx_last_error(), "too small") != NULL);
    CHECK_OK(mcx_mcdata_encrypt(1, key, 16, iv, 16, NULL, 0, pt, 8, out, 40, &n));
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 16, NULL, 0, pt, 8, out, 39, &n), MCX_E_LENGTH);
    CHECK_ST(mcx_mcdata_encrypt_random_iv(1, key, 16, NULL, 0, pt, 8, out, 35, &n), MCX_E_LENGTH);
    CHECK_OK(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, pt, 8, out, 36, &n));
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, out, 36, back, 7, &n), MCX_E_LENGTH);
    CHECK_OK(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, out, 36, back, 8, &n));
    CHECK(n == 8);
    /* an empty plaintext needs no output octets beyond tag and IV, and pt may be NULL */
    CHECK_OK(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, NULL, 0, out, 28, &n));
    CHECK(n == 28);
    CHECK_OK(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, out, 28, back, 0, &n));
    CHECK(n == 0);
    /* NULL arguments */
    CHECK_ST(mcx_mcdata_encrypt(1, NULL, 16, iv, 12, NULL, 0, pt, 8, out, 64, &n), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "MCDATA encrypt: ", 16) == 0);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, NULL, 12, NULL, 0, pt, 8, out, 64, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 4, pt, 8, out, 64, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, NULL, 8, out, 64, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, pt, 8, NULL, 64, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_encrypt(1, key, 16, iv, 12, NULL, 0, pt, 8, out, 64, NULL), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_encrypt_random_iv(1, NULL, 16, NULL, 0, pt, 8, out, 64, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_decrypt(1, NULL, 16, 12, NULL, 0, out, 36, back, 8, &n), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "MCDATA decrypt: ", 16) == 0);
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 1, out, 36, back, 8, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, NULL, 36, back, 8, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, out, 36, NULL, 8, &n), MCX_E_ARG);
    CHECK_ST(mcx_mcdata_decrypt(1, key, 16, 12, NULL, 0, out, 36, back, 8, NULL), MCX_E_ARG);
}

int main(void)
{
    RUN(nist_aes256);
    RUN(custom_iv_16);
    RUN(round_trips);
    RUN(round_trip_iv16);
    RUN(in_place);
    RUN(tamper);
    RUN(rejects_bad_arguments);
    return test_summary();
}
