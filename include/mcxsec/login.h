/* The client side of MCX user authentication (TS 33.180 Annex B): OpenID Connect authorization
 * code flow with PKCE (RFC 7636, S256) against an IdMS, refresh, the inter-domain token exchange
 * (RFC 8693), and the token file a client keeps. HTTPS through libcurl.
 *
 * The flow a native client runs from a terminal (mcx login):
 *   1. discovery: GET <idms>/.well-known/openid-configuration, checking that its "issuer" is the
 *      IdMS asked for;
 *   2. GET the authorization endpoint with response_type=code, client_id, redirect_uri, scope,
 *      state, nonce, code_challenge (S256 of a fresh 32-octet verifier);
 *   3. POST the login form on that page (username, password, and its hidden fields) and read the
 *      302 Location: it must be redirect_uri with the same state and a code;
 *   4. POST the token endpoint with grant_type=authorization_code, the code, redirect_uri,
 *      client_id and code_verifier. */
#ifndef MCXSEC_LOGIN_H
#define MCXSEC_LOGIN_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcx_login_params {
    const char *idms_url;     /* issuer, e.g. "https://127.0.0.1:8443" */
    const char *client_id;    /* NULL: "mcx-cli" */
    const char *redirect_uri; /* NULL: "http://127.0.0.1/callback" */
    const char *scope;        /* NULL: "openid" and every MCX PTT/video/data scope */
    const char *username;
    const char *password;
    const char *ca_file; /* PEM trust anchors for the IdMS certificate (NULL: system store) */
} mcx_login_params;

/* Tokens as a client holds them. Every string is malloc'd (or NULL); mcx_tokens_clear zeroises
 * and frees them. */
typedef struct mcx_tokens {
    char *issuer;
    char *access_token;
    char *id_token;
    char *refresh_token;
    char *scope;
    int64_t expires_at; /* Unix seconds when access_token expires */
} mcx_tokens;

MCX_API void mcx_tokens_clear(mcx_tokens *t);

/* Run the whole PKCE login. Errors, each with a reason:
 *   MCX_E_IO        the IdMS cannot be reached or its certificate is not trusted
 *   MCX_E_DENIED    the IdMS refused the credentials or the request (its error is in the reason)
 *   MCX_E_ENCODING  an answer is malformed (no form, a redirect without code, state mismatch)
 *   MCX_E_ARG, MCX_E_NOMEM, MCX_E_RANDOM */
MCX_API MCX_MUST_CHECK mcx_status mcx_login_pkce(const mcx_login_params *p, mcx_tokens *out);

/* Exchange t's refresh token for new tokens (the refresh token is rotated: t is updated).
 * Errors as mcx_login_pkce. */
MCX_API MCX_MUST_CHECK mcx_status mcx_login_refresh(const mcx_login_params *p, mcx_tokens *t);

/* Inter-domain (TR 33.880 §7.7): ask the home (primary) IdMS at p->idms_url for an ID token for
 * the partner whose issuer is partner_issuer (RFC 8693 with the access token as subject_token and
 * requested_token_type id_token), then present it to the partner IdMS's token endpoint and
 * receive the partner's access token in *out. partner_ca_file: trust anchors for the partner
 * (NULL: p->ca_file). Errors as mcx_login_pkce. */
MCX_API MCX_MUST_CHECK mcx_status mcx_login_exchange(const mcx_login_params *p,
                                                     const mcx_tokens *home,
                                                     const char *partner_issuer,
                                                     const char *partner_ca_file, mcx_tokens *out);

/* The token file: $MCX_STATE_DIR, else $XDG_STATE_HOME/mcxsec, else ~/.local/state/mcxsec, then
 * "tokens.json" (or "tokens-<label>.json" for a partner domain). Written atomically (temporary
 * file + rename) with mode 0600 in a 0700 folder; a file others can read is refused on load.
 * Errors: MCX_E_IO, MCX_E_ENCODING, MCX_E_DENIED (loose permissions), MCX_E_NOT_FOUND, MCX_E_NOMEM.
 */
MCX_API MCX_MUST_CHECK mcx_status mcx_tokens_path(const char *label, char *path, size_t cap);
MCX_API MCX_MUST_CHECK mcx_status mcx_tokens_save(const mcx_tokens *t, const char *path);
MCX_API MCX_MUST_CHECK mcx_status mcx_tokens_load(mcx_tokens *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
