/* Tests of UID format 2 (TS 33.180 F.2.1), key period numbers and identity octets. */
#include "test.h"

#include <openssl/evp.h>

#include "mcxsec/uid.h"

/* Reference: SHA-256 of S assembled by hand. */
static void sha256(const uint8_t *s, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    if (!EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) || len != 32) {
        fprintf(stderr, "reference SHA-256 failed\n");
        exit(2);
    }
}

/* The TS 33.180 example UID and SW's period-1 vector (SW test_uid_format2.cc). */
static void uid_known_answers(void)
{
    uint8_t uid[32], want[32];
    CHECK_OK(mcx_uid_format2("sip:user@example.org", "kms.example.org", 2592000, 0, 1388, uid));
    test_unhex("3a81fb14c3b1d0fe43c9c577104d55a6d81788bfd2f09743c4557746a5a0353b", want, 32);
    CHECK_MEM(uid, want, 32);
    CHECK_OK(mcx_uid_format2("sip:user@example.org", "kms.example.org", 2592000, 0, 1, uid));
    test_unhex("74e2af803ab5d72841bbced0ce319ffe64f6fe23c88a2d258aabcf6ac5658ef4", want, 32);
    CHECK_MEM(uid, want, 32);
}

/* S written out octet by octet for edge-case integers: 0 is one 0x00 octet, 255 is ff, 256 is
 * 01 00, 2^64-1 is eight ff octets (minimal big-endian, FORMATS.md §1). */
static void uid_integer_encoding(void)
{
    uint8_t uid[32], want[32], s[128];
    static const uint8_t head[] = {0x00, 'M', 'I', 'K', 'E', 'Y', '-', 'S',  'A',
                                   'K',  'K', 'E', '-', 'U', 'I', 'D', 0x00, 0x0F};
    size_t n = 0;
    memcpy(s, head, sizeof head);
    n += sizeof head;
    memcpy(s + n, "a@b\0\x03", 5); /* P1 = "a@b", L1 = 00 03 */
    n += 5;
    memcpy(s + n, "k\0\x01", 3); /* P2 = "k", L2 = 00 01 */
    n += 3;
    memcpy(s + n, "\x00\x00\x01", 3); /* P3 = 0 */
    n += 3;
    memcpy(s + n, "\xff\x00\x01", 3); /* P4 = 255 */
    n += 3;
    memcpy(s + n, "\x01\x00\x00\x02", 4); /* P5 = 256 */
    n += 4;
    sha256(s, n, want);
    CHECK_OK(mcx_uid_format2("a@b", "k", 0, 255, 256, uid));
    CHECK_MEM(uid, want, 32);

    n = sizeof head + 5 + 3;
    memcpy(s + n, "\xff\xff\xff\xff\xff\xff\xff\xff\x00\x08", 10); /* P3 = 2^64-1 */
    n += 10;
    memcpy(s + n, "\x00\x00\x01", 3); /* P4 = 0 */
    n += 3;
    memcpy(s + n, "\x49\x6c\xeb\xb8\x00\x00\x05", 7); /* P5 = 315360000000 (5 octets) */
    n += 7;
    sha256(s, n, want);
    CHECK_OK(mcx_uid_format2("a@b", "k", UINT64_MAX, 0, 315360000000u, uid));
    CHECK_MEM(uid, want, 32);

    /* empty URIs are encoded as L = 00 00 */
    n = sizeof head;
    memcpy(s + n, "\0\0\0\0\x01\x00\x01\x02\x00\x01\x03\x00\x01", 13);
    n += 13;
    sha256(s, n, want);
    CHECK_OK(mcx_uid_format2("", "", 1, 2, 3, uid));
    CHECK_MEM(uid, want, 32);
}

static void uid_rejects_bad_arguments(void)
{
    uint8_t uid[32];
    CHECK_ST(mcx_uid_format2(NULL, "k", 1, 0, 1, uid), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "UID: ", 5) == 0);
    CHECK_ST(mcx_uid_format2("u", NULL, 1, 0, 1, uid), MCX_E_ARG);
    CHECK_ST(mcx_uid_format2("u", "k", 1, 0, 1, NULL), MCX_E_ARG);

    char *big = malloc(65537);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    memset(big, 'a', 65536);
    big[65535] = '\0'; /* 65535 octets: the largest L */
    CHECK_OK(mcx_uid_format2(big, "k", 1, 0, 1, uid));
    CHECK_OK(mcx_uid_format2("u", big, 1, 0, 1, uid));
    big[65535] = 'a';
    big[65536] = '\0'; /* 65536 octets */
    CHECK_ST(mcx_uid_format2(big, "k", 1, 0, 1, uid), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "user URI is 65536") != NULL);
    CHECK_ST(mcx_uid_format2("u", big, 1, 0, 1, uid), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "KMS URI is 65536") != NULL);
    free(big);
}

static void key_period_numbers(void)
{
    /* T payload of SW's GMK I_MESSAGE: NTP seconds 0xEC898DA8 is period 236 for the SW KMS
     * (UserKeyPeriod 16777215, offset 0), the period its UIDs are built for. */
    CHECK(mcx_key_period_no(0xEC898DA8u, 16777215, 0) == 236);
    CHECK(mcx_key_period_no(2592000ull * 1490, 2592000, 0) == 1490);
    CHECK(mcx_key_period_no(2592000ull * 1490 - 1, 2592000, 0) == 1489);
    /* offset shifts the boundaries */
    CHECK(mcx_key_period_no(100, 25920000, 100) == 0);
    CHECK(mcx_key_period_no(100 + 25920000, 25920000, 100) == 1);
    CHECK(mcx_key_period_no(45920000ull + 25920000ull * 20393844ull, 25920000, 45920000) ==
          20393844);
    /* before the offset, or with no period: 0 */
    CHECK(mcx_key_period_no(99, 25920000, 100) == 0);
    CHECK(mcx_key_period_no(12345, 0, 0) == 0);
    CHECK(mcx_key_period_no(UINT64_MAX, 1, 0) == UINT64_MAX);
}

static void identity_octets(void)
{
    uint8_t uid[32], id[65];
    test_unhex("3a81fb14c3b1d0fe43c9c577104d55a6d81788bfd2f09743c4557746a5a0353b", uid, 32);

    memset(id, 0xee, sizeof id);
    CHECK(mcx_identity_from_uid(uid, MCX_ID_RAW, id) == 32);
    CHECK_MEM(id, uid, 32);
    CHECK(id[32] == 0xee);

    memset(id, 0xee, sizeof id);
    CHECK(mcx_identity_from_uid(uid, MCX_ID_HEX_STRING, id) == 64);
    CHECK_MEM(id, "3a81fb14c3b1d0fe43c9c577104d55a6d81788bfd2f09743c4557746a5a0353b", 64);
    CHECK(id[64] == 0xee); /* exactly 64 octets, no terminator */

    /* every nibble value maps to 0-9a-f */
    for (int i = 0; i < 32; i++)
        uid[i] = (uint8_t)(i * 8 + (i & 7));
    CHECK(mcx_identity_from_uid(uid, MCX_ID_HEX_STRING, id) == 64);
    for (int i = 0; i < 32; i++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", uid[i]);
        CHECK(id[2 * i] == (uint8_t)two[0] && id[2 * i + 1] == (uint8_t)two[1]);
    }

    /* in place: id and uid may be the same buffer for raw mode */
    uint8_t same[64];
    memcpy(same, uid, 32);
    CHECK(mcx_identity_from_uid(same, MCX_ID_RAW, same) == 32);
    CHECK_MEM(same, uid, 32);

    CHECK(mcx_identity_from_uid(NULL, MCX_ID_RAW, id) == 0);
    CHECK(mcx_identity_from_uid(uid, MCX_ID_RAW, NULL) == 0);
    CHECK(mcx_identity_from_uid(uid, (mcx_id_mode)7, id) == 0);
}

int main(void)
{
    RUN(uid_known_answers);
    RUN(uid_integer_encoding);
    RUN(uid_rejects_bad_arguments);
    RUN(key_period_numbers);
    RUN(identity_octets);
    return test_summary();
}
