/* MIKEY-SAKKE UID format 2 (TS 33.180 Annex F.2.1), key period numbers, and the identity octets
 * handed to ECCSI and SAKKE (FORMATS.md §1). */
#include <string.h>

#include <openssl/evp.h>

#include "common/error_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"
#include "mcxsec/uid.h"

/* TS 33.180 F.2.1: P0 = "MIKEY-SAKKE-UID", L0 = 0x000F; FC = 0x00 is a dummy value (the UID is a
 * plain SHA-256 of S, not the TS 33.220 KDF). */
static const uint8_t uid_prefix[] = {0x00, 'M', 'I', 'K', 'E', 'Y', '-', 'S',  'A',
                                     'K',  'K', 'E', '-', 'U', 'I', 'D', 0x00, 0x0F};

/* Minimal big-endian octets of v, 0 -> one 0x00 octet (the encoding that reproduces every
 * SW/Etherstack/eazon vector, FACTS.md §7). Returns the length (1..8). */
static size_t uint_minimal_be(uint64_t v, uint8_t out[8])
{
    size_t n = 1;
    while (n < 8 && (v >> (8 * n)) != 0)
        n++;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

/* Append Pi || Li to the digest, Li = len(Pi) as 2 octets big-endian (TS 33.220 B.2). */
static int digest_param(EVP_MD_CTX *md, const uint8_t *p, size_t n)
{
    uint8_t li[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    return EVP_DigestUpdate(md, p, n) && EVP_DigestUpdate(md, li, sizeof li);
}

mcx_status mcx_uid_format2(const char *uri, const char *kms_uri, uint64_t key_period,
                           uint64_t key_offset, uint64_t period_no, uint8_t uid[MCX_UID_BYTES])
{
    if (uri == NULL || kms_uri == NULL || uid == NULL)
        return MCX_FAIL(MCX_E_ARG, "UID: NULL argument");
    size_t uri_len = strlen(uri);
    size_t kms_len = strlen(kms_uri);
    if (uri_len > 0xFFFF)
        return MCX_FAIL(MCX_E_LENGTH, "UID: user URI is %zu octets, at most 65535 allowed",
                        uri_len);
    if (kms_len > 0xFFFF)
        return MCX_FAIL(MCX_E_LENGTH, "UID: KMS URI is %zu octets, at most 65535 allowed", kms_len);

    uint8_t p3[8], p4[8], p5[8];
    size_t n3 = uint_minimal_be(key_period, p3);
    size_t n4 = uint_minimal_be(key_offset, p4);
    size_t n5 = uint_minimal_be(period_no, p5);

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "UID: cannot create a digest context");
    unsigned int out_len = 0;
    /* S = 0x00 || P0 || L0 || P1 (MC service user ID) || L1 || P2 (KMS URI) || L2 ||
     *     P3 (key period) || L3 || P4 (key period offset) || L4 || P5 (period number) || L5 */
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(md, uid_prefix, sizeof uid_prefix) &&
             digest_param(md, (const uint8_t *)uri, uri_len) &&
             digest_param(md, (const uint8_t *)kms_uri, kms_len) && digest_param(md, p3, n3) &&
             digest_param(md, p4, n4) && digest_param(md, p5, n5) &&
             EVP_DigestFinal_ex(md, uid, &out_len) && out_len == MCX_UID_BYTES;
    EVP_MD_CTX_free(md);
    if (!ok) {
        memset(uid, 0, MCX_UID_BYTES);
        return MCX_FAIL(MCX_E_INTERNAL, "UID: SHA-256 failed");
    }
    return MCX_OK;
}

uint64_t mcx_key_period_no(uint64_t ntp_seconds, uint64_t key_period, uint64_t key_offset)
{
    /* TS 33.180 F.2.1: the current key period number, counted from 1900-01-01 0h (NTP), is
     * (t - UserKeyOffset) DIV UserKeyPeriod. Before the first period, or without a period,
     * there is no period in force; 0 is returned. */
    if (key_period == 0 || ntp_seconds < key_offset)
        return 0;
    return (ntp_seconds - key_offset) / key_period;
}

size_t mcx_identity_from_uid(const uint8_t uid[MCX_UID_BYTES], mcx_id_mode mode,
                             uint8_t id[MCX_ID_MAX_BYTES])
{
    if (uid == NULL || id == NULL)
        return 0;
    switch (mode) {
    case MCX_ID_RAW:
        /* TS 33.180 F.2.1: the full 32 octets are the ECCSI ID and the SAKKE identifier. */
        memmove(id, uid, MCX_UID_BYTES);
        return MCX_UID_BYTES;
    case MCX_ID_HEX_STRING: {
        /* Some KMSs (FORMATS.md §1, "Airbus quirk") use the lowercase ASCII hex string of the
         * UID. mcx_hex_encode is branch-free per nibble and NUL-terminates, hence the buffer. */
        char hex[2 * MCX_UID_BYTES + 1];
        mcx_hex_encode(uid, MCX_UID_BYTES, hex);
        memcpy(id, hex, 2 * MCX_UID_BYTES);
        mcx_memzero(hex, sizeof hex);
        return 2 * MCX_UID_BYTES;
    }
    }
    return 0;
}
