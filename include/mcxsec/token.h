/* Tokens: ES256-signed JWTs (RFC 7515, RFC 7519) issued by the IdMS and checked by every MCX
 * service (TS 33.180 Annex B; access tokens as in RFC 9068, ID tokens as in OpenID Connect Core).
 *
 *   - mcx_signing_key: an IdMS signing key (P-256) with its key ID (RFC 7638 thumbprint);
 *   - mcx_jwt_sign: claims -> compact JWS;
 *   - mcx_jwks_*: the public keys as a JWK Set (RFC 7517) for /jwks, and back;
 *   - mcx_token_verifier / mcx_token_verify: what a service calls on every request. It checks the
 *     signature by "kid" against the issuer's keys (fetched once over HTTPS with libcurl, fetched
 *     again when a token names an unknown kid, at most once per min_refetch_seconds, cached), the
 *     header's alg and typ, iss, aud, exp / nbf / iat with a small skew, and the required scope,
 *     and returns the user's MC IDs.
 *
 * JOSE and JSON come from cjose and jansson; the P-256 arithmetic from OpenSSL. */
#ifndef MCXSEC_TOKEN_H
#define MCXSEC_TOKEN_H

#include <jansson.h>

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Scopes (TS 33.180 Annex B; FACTS.md §13) ---------------------------------------------- */

/* The scope a service requires, in the newer naming style. Both styles are accepted on input:
 * "3gpp:mcptt:key_management_server" (Rel-13) is the same scope as
 * "3gpp:mc:ptt_key_management_service". */
#define MCX_SCOPE_OPENID        "openid"
#define MCX_SCOPE_PTT_SERVICE   "3gpp:mc:ptt_service"
#define MCX_SCOPE_PTT_KMS       "3gpp:mc:ptt_key_management_service"
#define MCX_SCOPE_PTT_CMS       "3gpp:mc:ptt_config_management_service"
#define MCX_SCOPE_PTT_GMS       "3gpp:mc:ptt_group_management_service"
#define MCX_SCOPE_VIDEO_SERVICE "3gpp:mc:video_service"
#define MCX_SCOPE_VIDEO_KMS     "3gpp:mc:video_key_management_service"
#define MCX_SCOPE_VIDEO_CMS     "3gpp:mc:video_config_management_service"
#define MCX_SCOPE_VIDEO_GMS     "3gpp:mc:video_group_management_service"
#define MCX_SCOPE_DATA_SERVICE  "3gpp:mc:data_service"
#define MCX_SCOPE_DATA_KMS      "3gpp:mc:data_key_management_service"
#define MCX_SCOPE_DATA_CMS      "3gpp:mc:data_config_management_service"
#define MCX_SCOPE_DATA_GMS      "3gpp:mc:data_group_management_service"
/* mcxsec's own scopes for GMS administration (docs/gms.md): no 3GPP scope says who may create
 * groups or regroup them. */
#define MCX_SCOPE_GMS_ADMIN      "mcxsec:gms_admin"
#define MCX_SCOPE_GMS_DISPATCHER "mcxsec:gms_dispatcher"

/* The canonical (newer-style) name of a scope token given in either style, or NULL if it is not
 * an MCX scope nor "openid". E.g. "3gpp:mcptt:ptt_server" -> "3gpp:mc:ptt_service". */
MCX_API const char *mcx_scope_canonical(const char *scope);

/* ---- Signing keys ---------------------------------------------------------------------------- */

typedef struct mcx_signing_key mcx_signing_key;

/* A fresh P-256 key; its kid is the RFC 7638 JWK thumbprint (base64url SHA-256).
 * Errors: MCX_E_RANDOM, MCX_E_NOMEM, MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_signing_key_generate(mcx_signing_key **out);

/* Load from / save to a PKCS#8 PEM private key (as kept in the store). The PEM text written by
 * to_pem is a secret: the caller frees it with mcx_signing_key_pem_free (zeroised).
 * Errors: MCX_E_ENCODING (not a P-256 private key), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_signing_key_from_pem(mcx_signing_key **out, const char *pem);
MCX_API MCX_MUST_CHECK mcx_status mcx_signing_key_to_pem(const mcx_signing_key *k, char **pem);
MCX_API void mcx_signing_key_pem_free(char *pem);

MCX_API const char *mcx_signing_key_kid(const mcx_signing_key *k);

/* The public key as a JWK object {"kty":"EC","crv":"P-256","x","y","kid","use":"sig","alg":
 * "ES256"} (new reference), or NULL when out of memory. */
MCX_API json_t *mcx_signing_key_public_jwk(const mcx_signing_key *k);

/* Zeroise and free. NULL is accepted. */
MCX_API void mcx_signing_key_free(mcx_signing_key *k);

/* ---- Signing --------------------------------------------------------------------------------- */

/* Token types, written to and checked against the JOSE header "typ" so that an ID token can never
 * pass as an access token or the other way round (RFC 9068 §2.1, RFC 8725 §3.11). */
typedef enum mcx_token_kind {
    MCX_TOKEN_ACCESS = 1, /* typ "at+jwt" */
    MCX_TOKEN_ID = 2      /* typ "JWT" (OpenID Connect ID token) */
} mcx_token_kind;

/* Sign claims (a JSON object, not modified) as a compact JWS with header {"alg":"ES256",
 * "typ":..., "kid":...}. *jwt is malloc'd; free with free().
 * Errors: MCX_E_ARG (claims not an object), MCX_E_NOMEM, MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_jwt_sign(const mcx_signing_key *k, mcx_token_kind kind,
                                               const json_t *claims, char **jwt);

/* ---- Key sets -------------------------------------------------------------------------------- */

/* A JWK Set {"keys":[...]} of the public keys of keys[0..n) (new reference), or NULL when out of
 * memory. */
MCX_API json_t *mcx_jwks_of(const mcx_signing_key *const *keys, size_t n);

/* ---- Verification ---------------------------------------------------------------------------- */

typedef struct mcx_token_verifier mcx_token_verifier;

typedef struct mcx_token_verifier_config {
    const char *issuer;   /* required "iss", e.g. "https://idms.example:8443" */
    const char *audience; /* required in "aud" (string, or one of an array) */
    mcx_token_kind kind;  /* MCX_TOKEN_ACCESS or MCX_TOKEN_ID */
    /* Where the issuer's keys come from: a static JWK Set (a partner's keys from configuration),
     * else jwks_uri, else issuer + "/jwks". */
    const char *jwks_json;
    const char *jwks_uri;
    const char *ca_file;          /* PEM trust anchors for the HTTPS fetch (NULL: system) */
    unsigned skew_seconds;        /* clock skew allowed on exp / nbf / iat (0: 60) */
    unsigned min_refetch_seconds; /* least time between fetches for unknown kids (0: 30) */
    unsigned fetch_timeout_ms;    /* HTTPS fetch timeout (0: 5000) */
} mcx_token_verifier_config;

/* A verifier for one issuer. The strings of cfg are copied. Keys are fetched lazily (first
 * verify), so creating a verifier does no I/O. Thread-safe: many threads may verify at once.
 * Errors: MCX_E_ARG (no issuer, audience or kind), MCX_E_ENCODING (jwks_json is not a JWK Set
 * holding at least one P-256 key with a kid; keys of other types are skipped), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_token_verifier_new(mcx_token_verifier **out,
                                                         const mcx_token_verifier_config *cfg);
MCX_API void mcx_token_verifier_free(mcx_token_verifier *v);

/* What a verified token says. Strings are empty when the claim is absent. */
typedef struct mcx_token_claims {
    char iss[256];
    char sub[256];
    char client_id[128];
    char jti[128];
    char scope[1024]; /* space-separated, each scope in canonical form */
    char mcptt_id[256];
    char mcvideo_id[256];
    char mcdata_id[256];
    char acting_for[256]; /* inter-domain: the primary domain's issuer ("mcx_home_iss") */
    int64_t iat, exp, nbf, auth_time;
} mcx_token_claims;

/* Verify jwt at time now (Unix seconds) and, when required_scope is not NULL, that its scope
 * holds required_scope (either naming style). On success fills *claims (may be NULL).
 * Errors, each with a reason naming what was wrong:
 *   MCX_E_ENCODING     not a compact JWS / bad base64url / bad JSON / a claim of the wrong type
 *   MCX_E_UNSUPPORTED  alg is not ES256 (never "none"), or a "crit" header
 *   MCX_E_UNKNOWN_PEER the kid is not among the issuer's keys (after one refetch), or iss differs
 *   MCX_E_SIG_INVALID  the signature does not verify
 *   MCX_E_DENIED       wrong typ for the kind, aud does not hold the audience, or scope missing
 *   MCX_E_TIME         expired, not yet valid, or issued in the future
 *   MCX_E_IO           the keys could not be fetched
 * Details: a token over 8 KiB, or without "exp", is MCX_E_ENCODING; a signature that is not
 * exactly 64 octets (JOSE r || s) is MCX_E_SIG_INVALID. "typ" is required: "at+jwt" for access
 * tokens, "JWT" for ID tokens (case-insensitive, "application/" prefix allowed). "jwk", "jku",
 * "x5u" and "x5c" header parameters are ignored: keys come only from the configured JWK Set or
 * the issuer's jwks_uri. Times are checked with the skew: refused when now >= exp + skew,
 * now + skew < nbf, or iat > now + skew. "scope" may be a space-separated string or a JSON array;
 * string claims longer than their field are MCX_E_ENCODING, never truncated. On failure *claims
 * is zeroed. */
MCX_API MCX_MUST_CHECK mcx_status mcx_token_verify(mcx_token_verifier *v, const char *jwt,
                                                   const char *required_scope, int64_t now,
                                                   mcx_token_claims *claims);

/* Decode a JWT's header and claims without verifying anything (for `mcx token show` and logs).
 * *header and *claims are new references. Errors: MCX_E_ENCODING, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_jwt_decode_unverified(const char *jwt, json_t **header,
                                                            json_t **claims);

#ifdef __cplusplus
}
#endif
#endif
