/* The identity management server (IdMS, TS 33.180 Annex B): an OpenID Connect provider for MCX
 * users. The daemon is tools/idms (mcx-idms); this header is its library: configuration, the
 * server itself, and the administration calls `mcx idms ...` makes on the store.
 *
 * Endpoints (docs/idms.md):
 *   GET  /.well-known/openid-configuration     discovery (OpenID Connect Discovery 1.0)
 *   GET  /jwks                                 the signing keys still in use (RFC 7517)
 *   GET  /authorize                            the HTML login page (code flow + PKCE S256 only)
 *   POST /authorize                            the login form: username, password -> 302 with code
 *   POST /token                                authorization_code, refresh_token, and
 *                                              urn:ietf:params:oauth:grant-type:token-exchange
 *                                              (RFC 8693, inter-domain: TR 33.880 §7.7)
 *   GET  /health                               liveness
 *
 * State lives in the store (include/mcxsec/store.h): users (argon2id hashes, MC IDs, enabled),
 * clients (exact redirect URIs), authorization codes, refresh tokens (hashed, rotated, in
 * families revoked together), signing keys (active, retired), login throttling, and an audit
 * log. */
#ifndef MCXSEC_IDMS_H
#define MCXSEC_IDMS_H

#include "mcxsec/common.h"
#include "mcxsec/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Configuration --------------------------------------------------------------------------- */

/* The daemon's configuration, read from a JSON file (docs/idms.md):
 * {
 *   "issuer": "https://idms.police.example:8443",     the "iss" of every token (required)
 *   "listen": "127.0.0.1:8443",                      address:port ("[::1]:8443" for IPv6)
 *   "tls_cert": "cert.pem", "tls_key": "key.pem",    PEM files (required: HTTPS only)
 *   "store": "sqlite:/var/lib/mcxsec/idms.db",       or "postgresql://..."
 *   "access_token_ttl": 3600, "id_token_ttl": 3600, "refresh_token_ttl": 2592000,
 *   "code_ttl": 60, "threads": 2, "per_ip_connections": 64,
 *   "login_throttle": {"max_failures": 5, "window": 300, "lockout": 300},
 *   "exchange_audiences": ["https://idms.fire.example:8443"],   partners this (primary) IdMS
 *                                                     issues ID tokens for
 *   "partners": [ {                                   primaries whose users this IdMS accepts
 *       "issuer": "https://idms.police.example:8443",
 *       "jwks_file": "police-jwks.json",             or "jwks_uri" (+ "ca_file")
 *       "allow_users": ["*"], "deny_users": ["bob"], user names (sub) admitted / refused
 *       "scopes": ["3gpp:mc:ptt_service", ...],       the most a visiting user may get
 *       "label": "police",                           visitors get sub "<home sub>@<label>"
 *                                                     (default: the issuer's host[:port])
 *       "mc_id_domains": ["police.example"]           the only domains this primary's MC IDs
 *                                                     may be in (none: no MC ID accepted)
 *   } ]
 * }
 * Relative file names are relative to the configuration file's folder. */
typedef struct mcx_idms_config mcx_idms_config;

/* Errors: MCX_E_IO (unreadable file), MCX_E_ENCODING (not JSON, or a field of the wrong type; the
 * reason names the field), MCX_E_ARG (a required field missing), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_config_load(mcx_idms_config **out, const char *path);

/* Override one top-level string or integer setting (command-line flags), e.g. ("listen",
 * "127.0.0.1:9443") or ("store", "sqlite:x.db"). Errors: MCX_E_ARG (unknown key), MCX_E_ENCODING.
 */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_config_set(mcx_idms_config *cfg, const char *key,
                                                      const char *value);

MCX_API const char *mcx_idms_config_store_url(const mcx_idms_config *cfg);

/* Make the administration calls below in this process hash new passwords with cfg's "argon2"
 * costs, as the server does (mcx_idms_start applies them too). Without it they use the defaults
 * (t_cost 2, m_cost 19456 KiB). */
MCX_API void mcx_idms_config_apply_costs(const mcx_idms_config *cfg);
MCX_API void mcx_idms_config_free(mcx_idms_config *cfg);

/* ---- The server ------------------------------------------------------------------------------ */

typedef struct mcx_idms mcx_idms;

/* Open the store (migrating it), load the signing keys, and start serving HTTPS on the configured
 * address with cfg's thread count (libmicrohttpd). Returns once the socket listens. cfg must
 * outlive the server. Errors: MCX_E_STORE, MCX_E_IO (cannot bind, bad certificate),
 * MCX_E_NOT_FOUND (no signing key: run `mcx idms init`), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_start(mcx_idms **out, const mcx_idms_config *cfg);

/* The port actually bound (useful with port 0). */
MCX_API uint16_t mcx_idms_port(const mcx_idms *srv);

/* Reload signing keys from the store (after `mcx idms key rotate`; the daemon calls it on SIGHUP
 * and also notices a new active key by itself within a few seconds). */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_reload_keys(mcx_idms *srv);

/* Stop serving (requests in flight finish), close the store, free everything. NULL is accepted. */
MCX_API void mcx_idms_stop(mcx_idms *srv);

/* ---- Administration on the store (what `mcx idms ...` runs) ---------------------------------- */

/* Create or upgrade the schema and, when there is no active signing key, create one.
 * Errors: MCX_E_STORE, MCX_E_UNSUPPORTED (the store is newer than this program). */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_init(mcx_store *st, int64_t now);

typedef struct mcx_idms_user {
    const char *username; /* 1..64 characters of [A-Za-z0-9._@-] */
    const char *mcptt_id; /* MC IDs, each a URI such as "sip:alice@police.example"; NULL: none */
    const char *mcvideo_id;
    const char *mcdata_id;
} mcx_idms_user;

/* Add a user with an argon2id hash of password (never stored in clear).
 * Errors: MCX_E_ARG (bad username, empty password), MCX_E_EXISTS, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_user_add(mcx_store *st, const mcx_idms_user *u,
                                                    const char *password, int64_t now);

/* Disable or re-enable a user. Disabling also revokes every refresh token of the user.
 * Errors: MCX_E_NOT_FOUND, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_user_set_enabled(mcx_store *st, const char *username,
                                                            int enabled, int64_t now);

/* Replace a user's password; in the same transaction every refresh token of the user is revoked.
 * Errors: MCX_E_ARG, MCX_E_NOT_FOUND, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_user_set_password(mcx_store *st, const char *username,
                                                             const char *password, int64_t now);

/* Register an OAuth client (a public native client: no secret, PKCE required) with its exact
 * redirect URIs. Errors: MCX_E_ARG (bad id or URI), MCX_E_EXISTS, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_client_add(mcx_store *st, const char *client_id,
                                                      const char *const *redirect_uris, size_t n,
                                                      int64_t now);

/* Create a new active signing key; the previous one is retired: no longer signs, but stays in
 * /jwks until every token it signed has expired (retired_at + the longest token lifetime).
 * kid_out receives the new key ID (at least 64 octets). Errors: MCX_E_STORE, MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_key_rotate(mcx_store *st, int64_t now, char *kid_out,
                                                      size_t kid_cap);

/* Issue an authorization code exactly as a successful login at POST /authorize does (the user
 * must exist and be enabled, the client and redirect URI must match). code_out receives the code
 * (at least 64 octets). Used by the login handler, tests and the /token load benchmark.
 * Errors: MCX_E_NOT_FOUND, MCX_E_DENIED (user disabled, redirect URI not registered), MCX_E_ARG,
 * MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_idms_code_issue(mcx_store *st, const char *client_id,
                                                      const char *username,
                                                      const char *redirect_uri,
                                                      const char *code_challenge, const char *scope,
                                                      const char *nonce, int64_t now, unsigned ttl,
                                                      char *code_out, size_t code_cap);

#ifdef __cplusplus
}
#endif
#endif
