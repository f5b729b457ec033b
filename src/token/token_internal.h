/* Internals of the token module (include/mcxsec/token.h).
 *
 * JOSE itself goes through cjose: the signing key is a cjose_jwk (private), tokens are signed with
 * cjose_jws_sign, verification keys are cjose_jwks imported from the JWK Set and cached by kid,
 * and tokens are checked with cjose_jws_import + cjose_jws_verify. What cjose does not do is here:
 * the RFC 7638 thumbprint, the canonical-base64url check
 * (cjose's decoder accepts padding and non-zero unused bits), duplicate JSON names (cjose parses
 * with jansson's defaults, last name wins), and every policy check of mcx_token_verify. */
#ifndef MCX_TOKEN_INTERNAL_H
#define MCX_TOKEN_INTERNAL_H

#include <cjose/cjose.h>
#include <stdint.h>

#include "mcxsec/token.h"

/* RFC 7519 tokens are small; anything larger is refused before any decoding (a 1 KiB access
 * token is typical, 8 KiB leaves room for long MC IDs and scope lists). */
#define TOKEN_MAX_BYTES 8192

/* P-256 field element and JOSE ES256 signature sizes (RFC 7518 §3.4, §6.2.1.2). */
#define P256_COORD_BYTES 32
#define ES256_SIG_BYTES  64

/* base64url without padding of a 32-octet coordinate: 43 characters. The RFC 7638 thumbprint is
 * the same length (SHA-256). A 64-octet ES256 signature: 86 characters. */
#define B64_COORD_CHARS 43
#define ES256_SIG_CHARS 86
#define TOKEN_KID_MAX   255

/* 1 if in[0..n) is canonical base64url without padding (RFC 7515 §2, Appendix C; RFC 4648 §3.5,
 * §5): only the URL-safe alphabet, no padding, no whitespace, no length of 1 mod 4, and the unused
 * low bits of the last character zero, so that each octet string has exactly one accepted text.
 * cjose_base64url_decode is more lenient (it takes "=" padding and non-zero unused bits), so every
 * text is checked here before cjose decodes it. */
int b64url_canonical(const char *in, size_t n);

/* cjose's reason for a failure (err initialised to {0} before the call). */
const char *cjose_why(const cjose_err *err);

/* base64url (no padding) of in[0..n) with cjose, into out (cap characters with the NUL).
 * Errors: MCX_E_NOMEM, MCX_E_INTERNAL (does not fit). */
mcx_status b64url_encode_to(const uint8_t *in, size_t n, char *out, size_t cap);

/* The RFC 7638 thumbprint of the P-256 key with base64url coordinates x and y: base64url(SHA-256
 * of {"crv","kty","x","y"} in lexicographic order without whitespace), 43 characters + NUL. */
mcx_status p256_thumbprint(const char x[B64_COORD_CHARS + 1], const char y[B64_COORD_CHARS + 1],
                           char kid[B64_COORD_CHARS + 1]);

/* 1 if jansson allocates with cjose's allocator. cjose frees some jansson output with its own
 * deallocator (cjose_jws_sign's header text, cjose_jwk_to_json), so those calls are only safe
 * then; an application that replaces jansson's allocator must do it through
 * cjose_set_alloc_funcs, which sets both. Verification never depends on it. */
int token_allocators_agree(void);

/* A verification key: its kid and the imported cjose key (so a verify costs no key import). */
typedef struct token_key {
    char kid[TOKEN_KID_MAX + 1];
    cjose_jwk_t *jwk;
} token_key;

typedef struct token_keyset {
    token_key *keys;
    size_t n;
} token_keyset;

/* Parse a JWK Set (RFC 7517 §5): keys with kty "EC", crv "P-256", x, y and kid are kept (with
 * "use" absent or "sig", "alg" absent or "ES256") and imported with cjose; any other key is
 * skipped. A kept key whose coordinates are not a point of P-256 makes the whole set invalid.
 * *n_skipped (may be NULL) counts the skipped keys. Errors: MCX_E_ENCODING, MCX_E_NOMEM. */
mcx_status token_keyset_parse(const char *json, size_t len, token_keyset *out, size_t *n_skipped);
void token_keyset_clear(token_keyset *s);
const token_key *token_keyset_find(const token_keyset *s, const char *kid, size_t kid_len);

/* GET url with libcurl (http/https only, no redirects, timeout, CA file, body at most max
 * octets, status 200 required). *body is malloc'd and NUL-terminated.
 * Errors: MCX_E_IO, MCX_E_NOMEM. */
mcx_status token_http_get(const char *url, const char *ca_file, unsigned timeout_ms, size_t max,
                          char **body, size_t *body_len);

/* The private cjose key behind a signing key (for jwt.c). */
const cjose_jwk_t *signing_key_jwk(const mcx_signing_key *k);

/* Split a compact JWS into its three parts (RFC 7515 §7.1) after the size check; each part is a
 * (pointer, length) view into jwt. Errors: MCX_E_ENCODING, MCX_E_ARG. */
typedef struct jws_parts {
    const char *hdr, *payload, *sig;
    size_t hdr_len, payload_len, sig_len;
} jws_parts;
mcx_status jws_split(const char *jwt, jws_parts *p);

/* Decode one part (canonical base64url, then a JSON object with duplicate names refused) to a new
 * jansson object. what names the part in reasons ("header", "claims").
 * Errors: MCX_E_ENCODING, MCX_E_NOMEM. */
mcx_status jws_part_json(const char *b64, size_t len, const char *what, json_t **out);

/* The claims (JWS payload, already decoded) as a JSON object with duplicate names refused.
 * Errors: MCX_E_ENCODING. */
mcx_status jws_claims_json(const uint8_t *text, size_t len, json_t **out);

#endif
