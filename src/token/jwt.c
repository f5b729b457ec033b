/* Compact JWS (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4): signing with cjose, and the splitting
 * and strict decoding that mcx_token_verify and mcx_jwt_decode_unverified do before cjose sees a
 * token. */
#include <stdio.h>
#include <string.h>

#include "common/error_internal.h"
#include "token/token_internal.h"

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
    /* cjose_jws_import reads up to the second dot and takes the rest as the signature, so a
     * fourth part is refused here. */
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

/* A JSON object from text, duplicate names refused (RFC 7515 §5.2 step 4, RFC 8725 §3.2 leave
 * the choice; refusing means no two parsers can read the same token differently). */
static mcx_status json_object_of(const char *text, size_t len, const char *what, json_t **out)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: %s is not JSON (%.80s)", what, e.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return MCX_FAIL(MCX_E_ENCODING, "token: %s is not a JSON object", what);
    }
    *out = j;
    return MCX_OK;
}

mcx_status jws_part_json(const char *b64, size_t len, const char *what, json_t **out)
{
    if (!b64url_canonical(b64, len))
        return MCX_FAIL(MCX_E_ENCODING, "token: %s is not base64url", what);
    cjose_err err = {0};
    uint8_t *buf = NULL;
    size_t n = 0;
    if (!cjose_base64url_decode(b64, len, &buf, &n, &err))
        return MCX_FAIL(err.code == CJOSE_ERR_NO_MEMORY ? MCX_E_NOMEM : MCX_E_ENCODING,
                        "token: %s is not base64url (%s)", what, cjose_why(&err));
    mcx_status st = json_object_of((const char *)buf, n, what, out);
    cjose_get_dealloc()(buf);
    return st;
}

mcx_status jws_claims_json(const uint8_t *text, size_t len, json_t **out)
{
    return json_object_of((const char *)text, len, "claims", out);
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
    /* cjose_jws_sign frees its header text (from jansson) with cjose's deallocator: refuse
     * cleanly rather than corrupt the heap when the application split the two. */
    if (!token_allocators_agree())
        return MCX_FAIL(MCX_E_INTERNAL, "token: jansson's allocator is not cjose's (set both "
                                        "with cjose_set_alloc_funcs to sign)");
    char *payload = json_dumps(claims, JSON_COMPACT);
    if (payload == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: claims cannot be serialised");
    /* Header {"alg":"ES256","typ":...,"kid":...} in that order (cjose keeps insertion order).
     * RFC 9068 §2.1: access tokens carry typ "at+jwt"; ID tokens the plain "JWT". */
    mcx_status st = MCX_OK;
    cjose_err err = {0};
    cjose_jws_t *jws = NULL;
    const char *ser = NULL;
    cjose_header_t *hdr = cjose_header_new(&err);
    if (hdr == NULL || !cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err) ||
        !cjose_header_set(hdr, "typ", kind == MCX_TOKEN_ACCESS ? "at+jwt" : "JWT", &err) ||
        !cjose_header_set(hdr, CJOSE_HDR_KID, mcx_signing_key_kid(k), &err)) {
        st = MCX_FAIL(MCX_E_NOMEM, "token: cannot build the JOSE header: %s", cjose_why(&err));
        goto out;
    }
    jws = cjose_jws_sign(signing_key_jwk(k), hdr, (const uint8_t *)payload, strlen(payload), &err);
    if (jws == NULL || !cjose_jws_export(jws, &ser, &err)) {
        st = MCX_FAIL(err.code == CJOSE_ERR_NO_MEMORY ? MCX_E_NOMEM : MCX_E_INTERNAL,
                      "token: cjose ES256 signing failed: %s", cjose_why(&err));
        goto out;
    }
    /* RFC 7518 §3.4: r and s each padded to 32 octets, 86 characters together. Checked so that a
     * cjose that dropped a leading zero octet would fail here, not at every verifier. */
    const char *sig = strrchr(ser, '.');
    if (sig == NULL || strlen(sig + 1) != ES256_SIG_CHARS) {
        st = MCX_FAIL(MCX_E_INTERNAL, "token: cjose made an ES256 signature of the wrong length");
        goto out;
    }
    *jwt = strdup(ser);
    if (*jwt == NULL)
        st = MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
out:
    cjose_jws_release(jws); /* also frees ser */
    cjose_header_release(hdr);
    cjose_get_dealloc()(payload); /* jansson's allocator, which is cjose's (checked above) */
    return st;
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
