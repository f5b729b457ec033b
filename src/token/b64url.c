/* What the token module adds to cjose's JOSE primitives: the canonical-base64url check (RFC 7515
 * §2) cjose's decoder does not make, cjose error reasons, and the RFC 7638 thumbprint. */
#include <openssl/sha.h>
#include <string.h>

#include "common/error_internal.h"
#include "token/token_internal.h"

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

int b64url_canonical(const char *in, size_t n)
{
    /* RFC 4648 §3.5 / RFC 7515 Appendix C: a remainder of 1 character cannot encode an octet. */
    if (n % 4 == 1)
        return 0;
    int last = 0;
    for (size_t i = 0; i < n; i++) {
        last = b64url_value((unsigned char)in[i]);
        if (last < 0)
            return 0;
    }
    /* The unused low bits of the last character must be zero (4 bits when 2 characters remain,
     * 2 bits when 3 remain): otherwise two texts would decode to the same octets. */
    if (n % 4 == 2)
        return (last & 0x0F) == 0;
    if (n % 4 == 3)
        return (last & 0x03) == 0;
    return 1;
}

const char *cjose_why(const cjose_err *err)
{
    return err->message != NULL ? err->message : "no reason given";
}

mcx_status jwk_public_members(const cjose_jwk_t *jwk, json_t **out)
{
    *out = NULL;
    cjose_err err = {0};
    char *text = cjose_jwk_to_json(jwk, false, &err);
    if (text == NULL)
        return MCX_FAIL(err.code == CJOSE_ERR_NO_MEMORY ? MCX_E_NOMEM : MCX_E_INTERNAL,
                        "token: cjose cannot export the public JWK: %s", cjose_why(&err));
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    cjose_get_dealloc()(text);
    const char *kty = json_string_value(json_object_get(j, "kty"));
    const char *crv = json_string_value(json_object_get(j, "crv"));
    const char *x = json_string_value(json_object_get(j, "x"));
    const char *y = json_string_value(json_object_get(j, "y"));
    /* RFC 7518 §6.2.1: full-length coordinates; cjose pads them, this makes sure of it. */
    if (kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL || strcmp(crv, "P-256") != 0 ||
        x == NULL || strlen(x) != B64_COORD_CHARS || y == NULL || strlen(y) != B64_COORD_CHARS ||
        json_object_get(j, "d") != NULL) {
        json_decref(j);
        return MCX_FAIL(MCX_E_INTERNAL, "token: cjose exported no public P-256 JWK");
    }
    *out = j;
    return MCX_OK;
}

mcx_status jwk_thumbprint(const cjose_jwk_t *jwk, char kid[B64_COORD_CHARS + 1])
{
    json_t *pub = NULL;
    MCX_GUARD(jwk_public_members(jwk, &pub));
    /* RFC 7638 §3.2: only the required members of an EC key (crv, kty, x, y), in lexicographic
     * order of their names, no whitespace. jansson sorts by octets, which is the code-point order
     * for these ASCII names. cjose's own export puts kty first and may add kid, so it is not
     * hashed as is. */
    json_t *req = json_pack("{s:O, s:O, s:O, s:O}", "crv", json_object_get(pub, "crv"), "kty",
                            json_object_get(pub, "kty"), "x", json_object_get(pub, "x"), "y",
                            json_object_get(pub, "y"));
    json_decref(pub);
    char *text = req != NULL ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(req);
    if (text == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    uint8_t h[SHA256_DIGEST_LENGTH];
    int ok = SHA256((const unsigned char *)text, strlen(text), h) != NULL;
    free(text);
    if (!ok)
        return MCX_FAIL(MCX_E_INTERNAL, "token: SHA-256 failed");
    cjose_err err = {0};
    char *b64 = NULL;
    size_t n = 0;
    if (!cjose_base64url_encode(h, sizeof h, &b64, &n, &err))
        return MCX_FAIL(err.code == CJOSE_ERR_NO_MEMORY ? MCX_E_NOMEM : MCX_E_INTERNAL,
                        "token: base64url of the thumbprint failed: %s", cjose_why(&err));
    mcx_status st = MCX_OK;
    if (n != B64_COORD_CHARS)
        st = MCX_FAIL(MCX_E_INTERNAL, "token: thumbprint of %zu characters", n);
    else {
        memcpy(kid, b64, n);
        kid[n] = '\0';
    }
    cjose_get_dealloc()(b64);
    return st;
}
