/* Compact JWS (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4): signing, splitting and decoding.
 *
 * The ES256 signature on the wire is the raw 64-octet r || s; OpenSSL speaks DER
 * (ECDSA-Sig-Value, RFC 3279 §2.2.3), so both directions are converted here. */
#include <openssl/ecdsa.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "token/token_internal.h"

mcx_status es256_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t n, uint8_t sig[ES256_SIG_BYTES])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t der_len = sizeof der;
    ECDSA_SIG *es = NULL;
    mcx_status st = MCX_OK;
    if (md == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    if (EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1 ||
        EVP_DigestSign(md, der, &der_len, msg, n) != 1) {
        st = MCX_FAIL(MCX_E_INTERNAL, "token: ECDSA signing failed");
        goto out;
    }
    const unsigned char *p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r = NULL, *s = NULL;
    if (es != NULL)
        ECDSA_SIG_get0(es, &r, &s);
    if (es == NULL || BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        st = MCX_FAIL(MCX_E_INTERNAL, "token: ECDSA signature conversion failed");
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return st;
}

/* DER INTEGER of a 32-octet unsigned big-endian value: minimal octets, a 0x00 prefix when the
 * top bit is set (X.690 §8.3). Returns the octets written (at most 35). */
static size_t der_uint(const uint8_t v[32], uint8_t *out)
{
    size_t i = 0;
    while (i < 31 && v[i] == 0)
        i++;
    size_t len = 32 - i, pad = v[i] & 0x80 ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(len + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v + i, len);
    return 2 + pad + len;
}

int es256_verify(EVP_PKEY *pkey, const uint8_t *msg, size_t n, const uint8_t sig[ES256_SIG_BYTES])
{
    uint8_t h[SHA256_DIGEST_LENGTH];
    if (SHA256(msg, n, h) == NULL)
        return 0;
    uint8_t der[2 + 35 + 35];
    size_t len = der_uint(sig, der + 2);
    len += der_uint(sig + 32, der + 2 + len);
    der[0] = 0x30;
    der[1] = (uint8_t)len;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    if (ctx == NULL)
        return 0;
    int ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_verify(ctx, der, len + 2, h, sizeof h) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

mcx_status jws_split(const char *jwt, jws_parts *p)
{
    if (jwt == NULL || p == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    size_t n = strnlen(jwt, TOKEN_MAX_BYTES + 1);
    if (n > TOKEN_MAX_BYTES)
        return MCX_FAIL(MCX_E_ENCODING, "token: longer than %d octets", TOKEN_MAX_BYTES);
    const char *d1 = memchr(jwt, '.', n);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - jwt)) : NULL;
    if (d2 == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: not a compact JWS (header.payload.signature)");
    if (memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - jwt)) != NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: more than three parts (a JWE is not accepted)");
    p->hdr = jwt;
    p->hdr_len = (size_t)(d1 - jwt);
    p->payload = d1 + 1;
    p->payload_len = (size_t)(d2 - d1 - 1);
    p->sig = d2 + 1;
    p->sig_len = n - (size_t)(d2 + 1 - jwt);
    /* An empty signature part is left to the verifier: it refuses alg "none" by name. */
    if (p->hdr_len == 0 || p->payload_len == 0)
        return MCX_FAIL(MCX_E_ENCODING, "token: empty %s part",
                        p->hdr_len == 0 ? "header" : "payload");
    return MCX_OK;
}

mcx_status jws_part_json(const char *b64, size_t len, const char *what, json_t **out)
{
    /* The token is at most 8 KiB, so a part decodes to at most 6 KiB: no allocation needed. */
    uint8_t buf[TOKEN_MAX_BYTES / 4 * 3];
    size_t n = 0;
    if (b64url_decode(b64, len, buf, sizeof buf, &n) != 0)
        return MCX_FAIL(MCX_E_ENCODING, "token: %s is not base64url", what);
    json_error_t e;
    json_t *j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: %s is not JSON (%.80s)", what, e.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return MCX_FAIL(MCX_E_ENCODING, "token: %s is not a JSON object", what);
    }
    *out = j;
    return MCX_OK;
}

mcx_status mcx_jwt_sign(const mcx_signing_key *k, mcx_token_kind kind, const json_t *claims,
                        char **jwt)
{
    if (k == NULL || jwt == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    *jwt = NULL;
    if (!json_is_object(claims))
        return MCX_FAIL(MCX_E_ARG, "token: claims are not a JSON object");
    if (kind != MCX_TOKEN_ACCESS && kind != MCX_TOKEN_ID)
        return MCX_FAIL(MCX_E_ARG, "token: unknown token kind %d", (int)kind);
    /* RFC 9068 §2.1: access tokens carry typ "at+jwt"; ID tokens the plain "JWT". */
    char hdr[128];
    int hn = snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"%s\",\"kid\":\"%s\"}",
                      kind == MCX_TOKEN_ACCESS ? "at+jwt" : "JWT", mcx_signing_key_kid(k));
    if (hn < 0 || (size_t)hn >= sizeof hdr)
        return MCX_FAIL(MCX_E_INTERNAL, "token: header does not fit");
    char *payload = json_dumps(claims, JSON_COMPACT);
    if (payload == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: claims cannot be serialised");
    size_t pn = strlen(payload);
    size_t total = b64url_len((size_t)hn) + 1 + b64url_len(pn) + 1 + b64url_len(ES256_SIG_BYTES);
    char *out = malloc(total + 1);
    if (out == NULL) {
        free(payload);
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    }
    size_t o = 0;
    b64url_encode((const uint8_t *)hdr, (size_t)hn, out);
    o = strlen(out);
    out[o++] = '.';
    b64url_encode((const uint8_t *)payload, pn, out + o);
    o += strlen(out + o);
    free(payload);
    uint8_t sig[ES256_SIG_BYTES];
    mcx_status st = es256_sign(signing_key_pkey(k), (const uint8_t *)out, o, sig);
    if (st != MCX_OK) {
        free(out);
        return st;
    }
    out[o++] = '.';
    b64url_encode(sig, sizeof sig, out + o);
    *jwt = out;
    return MCX_OK;
}

mcx_status mcx_jwt_decode_unverified(const char *jwt, json_t **header, json_t **claims)
{
    if (jwt == NULL || header == NULL || claims == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    *header = NULL;
    *claims = NULL;
    jws_parts p;
    MCX_GUARD(jws_split(jwt, &p));
    json_t *h = NULL, *c = NULL;
    MCX_GUARD(jws_part_json(p.hdr, p.hdr_len, "header", &h));
    mcx_status st = jws_part_json(p.payload, p.payload_len, "claims", &c);
    if (st != MCX_OK) {
        json_decref(h);
        return st;
    }
    *header = h;
    *claims = c;
    return MCX_OK;
}
