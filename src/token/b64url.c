/* What the token module adds to cjose's JOSE primitives: the canonical-base64url check (RFC 7515
 * §2) cjose's decoder does not make, cjose error reasons, the RFC 7638 thumbprint, and the check
 * that jansson and cjose share an allocator (which cjose's signing needs). */
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

mcx_status b64url_encode_to(const uint8_t *in, size_t n, char *out, size_t cap)
{
    cjose_err err = {0};
    char *b64 = NULL;
    size_t len = 0;
    if (!cjose_base64url_encode(in, n, &b64, &len, &err))
        return MCX_FAIL(err.code == CJOSE_ERR_NO_MEMORY ? MCX_E_NOMEM : MCX_E_INTERNAL,
                        "token: base64url failed: %s", cjose_why(&err));
    mcx_status st = MCX_OK;
    if (len >= cap) {
        st = MCX_FAIL(MCX_E_INTERNAL, "token: base64url of %zu characters does not fit", len);
    } else {
        memcpy(out, b64, len);
        out[len] = '\0';
    }
    cjose_get_dealloc()(b64);
    return st;
}

mcx_status p256_thumbprint(const char x[B64_COORD_CHARS + 1], const char y[B64_COORD_CHARS + 1],
                           char kid[B64_COORD_CHARS + 1])
{
    /* RFC 7638 §3.2: only the required members of an EC key (crv, kty, x, y), in lexicographic
     * order of their names, no whitespace. jansson sorts by octets, which is the code-point order
     * for these ASCII names. */
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC", "x", x, "y", y);
    char *text = req != NULL ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(req);
    if (text == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    uint8_t h[SHA256_DIGEST_LENGTH];
    int ok = SHA256((const unsigned char *)text, strlen(text), h) != NULL;
    /* text came from jansson's allocator, which the application may have replaced */
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(text);
    if (!ok)
        return MCX_FAIL(MCX_E_INTERNAL, "token: SHA-256 failed");
    return b64url_encode_to(h, sizeof h, kid, B64_COORD_CHARS + 1);
}

int token_allocators_agree(void)
{
    json_malloc_t jm = NULL;
    json_free_t jf = NULL;
    json_get_alloc_funcs(&jm, &jf);
    return jm == cjose_get_alloc() && jf == cjose_get_dealloc();
}
