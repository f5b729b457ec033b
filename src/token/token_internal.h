/* Internals of the token module (include/mcxsec/token.h): strict base64url, the P-256 public-key
 * helpers shared by signing keys and JWK Sets, and the key list a verifier caches. */
#ifndef MCX_TOKEN_INTERNAL_H
#define MCX_TOKEN_INTERNAL_H

#include <openssl/evp.h>
#include <stdint.h>

#include "mcxsec/token.h"

/* RFC 7519 tokens are small; anything larger is refused before any decoding (a 1 KiB access
 * token is typical, 8 KiB leaves room for long MC IDs and scope lists). */
#define TOKEN_MAX_BYTES 8192

/* P-256 field element and JOSE ES256 signature sizes (RFC 7518 §3.4, §6.2.1.2). */
#define P256_COORD_BYTES 32
#define ES256_SIG_BYTES  64

/* base64url without padding of a 32-octet coordinate: 43 characters. The RFC 7638 thumbprint is
 * the same length (SHA-256). */
#define B64_COORD_CHARS 43
#define TOKEN_KID_MAX   255

/* Length of the base64url text (no padding) of n octets. */
static inline size_t b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Encode n octets as base64url without padding (RFC 7515 §2, RFC 4648 §5) into out, which holds
 * b64url_len(n) + 1 characters; NUL-terminated. */
void b64url_encode(const uint8_t *in, size_t n, char *out);

/* Strict base64url decode of in[0..n) into out (cap octets): only the URL-safe alphabet, no
 * padding, no whitespace, no length of 1 mod 4, and the unused low bits of the last character
 * must be zero, so that each octet string has exactly one accepted text (RFC 7515 §2, Appendix C;
 * RFC 4648 §3.5). Returns 0 and sets *out_len, or -1 when the text is not canonical base64url or
 * does not fit. */
int b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* The RFC 7638 thumbprint of the P-256 public key (x, y): base64url(SHA-256 of
 * {"crv":"P-256","kty":"EC","x":"..","y":".."}), 43 characters + NUL. */
mcx_status p256_thumbprint(const uint8_t x[P256_COORD_BYTES], const uint8_t y[P256_COORD_BYTES],
                           char kid[B64_COORD_CHARS + 1]);

/* An EVP_PKEY for the P-256 public point (x, y); OpenSSL checks that it lies on the curve.
 * Errors: MCX_E_ENCODING (not a point of P-256), MCX_E_NOMEM. */
mcx_status p256_public_pkey(const uint8_t x[P256_COORD_BYTES], const uint8_t y[P256_COORD_BYTES],
                            EVP_PKEY **out);

/* A verification key: its kid and the precomputed public key (so a verify costs no key import). */
typedef struct token_key {
    char kid[TOKEN_KID_MAX + 1];
    EVP_PKEY *pkey;
} token_key;

typedef struct token_keyset {
    token_key *keys;
    size_t n;
} token_keyset;

/* Parse a JWK Set (RFC 7517 §5): keys with kty "EC", crv "P-256", x, y and kid are kept (with
 * "use" absent or "sig", "alg" absent or "ES256"); any other key is skipped. A kept key whose
 * coordinates are not a point of P-256 makes the whole set invalid. *n_skipped (may be NULL)
 * counts the skipped keys. Errors: MCX_E_ENCODING, MCX_E_NOMEM. */
mcx_status token_keyset_parse(const char *json, size_t len, token_keyset *out, size_t *n_skipped);
void token_keyset_clear(token_keyset *s);
const token_key *token_keyset_find(const token_keyset *s, const char *kid, size_t kid_len);

/* GET url with libcurl (http/https only, no redirects, timeout, CA file, body at most max
 * octets, status 200 required). *body is malloc'd and NUL-terminated.
 * Errors: MCX_E_IO, MCX_E_NOMEM. */
mcx_status token_http_get(const char *url, const char *ca_file, unsigned timeout_ms, size_t max,
                          char **body, size_t *body_len);

/* The private key behind a signing key (for jwt.c). */
EVP_PKEY *signing_key_pkey(const mcx_signing_key *k);

/* ES256 signature over msg with pkey as JOSE raw r || s (RFC 7518 §3.4). */
mcx_status es256_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t n, uint8_t sig[ES256_SIG_BYTES]);

/* 1 if sig (raw r || s) is a valid ES256 signature of msg under pkey, else 0. */
int es256_verify(EVP_PKEY *pkey, const uint8_t *msg, size_t n, const uint8_t sig[ES256_SIG_BYTES]);

/* Split a compact JWS into its three parts (RFC 7515 §7.1) after the size check; each part is a
 * (pointer, length) view into jwt. Errors: MCX_E_ENCODING, MCX_E_ARG. */
typedef struct jws_parts {
    const char *hdr, *payload, *sig;
    size_t hdr_len, payload_len, sig_len;
} jws_parts;
mcx_status jws_split(const char *jwt, jws_parts *p);

/* Decode one part (base64url JSON object, duplicate names refused) to a new jansson object.
 * what names the part in reasons ("header", "claims"). Errors: MCX_E_ENCODING, MCX_E_NOMEM. */
mcx_status jws_part_json(const char *b64, size_t len, const char *what, json_t **out);

#endif
