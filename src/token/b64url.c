/* Strict base64url (RFC 4648 §5 without padding, as JOSE uses it: RFC 7515 §2), the RFC 7638
 * thumbprint and the P-256 public-key import shared by signing keys and JWK Sets. */
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "common/error_internal.h"
#include "token/token_internal.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    /* RFC 4648 §3.5 / RFC 7515 Appendix C: a remainder of 1 character cannot encode an octet. */
    if (n % 4 == 1)
        return -1;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > cap)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = b64url_value((unsigned char)in[i]), b = b64url_value((unsigned char)in[i + 1]);
        int c = b64url_value((unsigned char)in[i + 2]), d = b64url_value((unsigned char)in[i + 3]);
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    size_t rem = n - i;
    if (rem >= 2) {
        int a = b64url_value((unsigned char)in[i]), b = b64url_value((unsigned char)in[i + 1]);
        int c = rem == 3 ? b64url_value((unsigned char)in[i + 2]) : 0;
        if ((a | b | c) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* Unused low bits must be zero: otherwise two texts would give the same octets. */
        if (rem == 2 && (v & 0xFFFF) != 0)
            return -1;
        if (rem == 3 && (v & 0xFF) != 0)
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (rem == 3)
            out[o++] = (uint8_t)(v >> 8);
    }
    *out_len = o;
    return 0;
}

mcx_status p256_thumbprint(const uint8_t x[P256_COORD_BYTES], const uint8_t y[P256_COORD_BYTES],
                           char kid[B64_COORD_CHARS + 1])
{
    /* RFC 7638 §3.2: the required members of an EC key (crv, kty, x, y) in lexicographic order,
     * no whitespace. */
    char bx[B64_COORD_CHARS + 1], by[B64_COORD_CHARS + 1], json[160];
    b64url_encode(x, P256_COORD_BYTES, bx);
    b64url_encode(y, P256_COORD_BYTES, by);
    int n = snprintf(json, sizeof json,
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
    if (n < 0 || (size_t)n >= sizeof json)
        return MCX_FAIL(MCX_E_INTERNAL, "token: thumbprint input does not fit");
    uint8_t h[SHA256_DIGEST_LENGTH];
    if (SHA256((const unsigned char *)json, (size_t)n, h) == NULL)
        return MCX_FAIL(MCX_E_INTERNAL, "token: SHA-256 failed");
    b64url_encode(h, sizeof h, kid);
    return MCX_OK;
}

mcx_status p256_public_pkey(const uint8_t x[P256_COORD_BYTES], const uint8_t y[P256_COORD_BYTES],
                            EVP_PKEY **out)
{
    /* SEC 1 §2.3.3 uncompressed point 04 || x || y. */
    uint8_t pt[1 + 2 * P256_COORD_BYTES];
    pt[0] = 0x04;
    memcpy(pt + 1, x, P256_COORD_BYTES);
    memcpy(pt + 1 + P256_COORD_BYTES, y, P256_COORD_BYTES);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: no EC key context");
    EVP_PKEY *pk = NULL;
    int ok = EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok || pk == NULL) {
        EVP_PKEY_free(pk);
        return MCX_FAIL(MCX_E_ENCODING, "token: (x, y) is not a point of P-256");
    }
    *out = pk;
    return MCX_OK;
}
