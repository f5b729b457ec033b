/* Internals of the IdMS (include/mcxsec/idms.h): configuration, store access by table, the
 * password hashing, small encoders, and the request handlers shared by server.c. */
#ifndef MCX_IDMS_INTERNAL_H
#define MCX_IDMS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "httpd/httpd_internal.h"
#include "idms/form_internal.h"
#include "mcxsec/idms.h"
#include "mcxsec/store.h"
#include "mcxsec/token.h"

/* ---- Limits ---------------------------------------------------------------------------------- */

#define IDMS_MAX_BODY          16384 /* POST bodies above this get 413 */
#define IDMS_LOGIN_TTL         600   /* a displayed login page is valid 10 minutes */
#define IDMS_EXCHANGE_ID_TTL   300   /* RFC 8693 ID tokens for partners live at most 5 minutes */
#define IDMS_EXCHANGE_MAX_LIFE 600   /* a partner accepts them only this long (exp - iat, age) */
#define IDMS_TOKEN_CHARS       43    /* 32 random octets, base64url without padding */
#define IDMS_HASH_HEX          65    /* SHA-256 in hex + NUL */

/* ---- Configuration (config.c) ---------------------------------------------------------------- */

typedef struct idms_partner {
    char *issuer;
    char *jwks_json; /* contents of jwks_file, or NULL */
    char *jwks_uri;
    char *ca_file;
    char **allow_users;
    size_t n_allow;
    char **deny_users;
    size_t n_deny;
    char **scopes; /* canonical */
    size_t n_scopes;
    char *label;          /* visiting users get sub "<home sub>@<label>" */
    char **mc_id_domains; /* hosts the primary may assert MC IDs in (lower case) */
    size_t n_mc_id_domains;
} idms_partner;

struct mcx_idms_config {
    char *dir; /* the configuration file's folder (for relative names) */
    char *issuer;
    char *audience; /* NULL: the issuer */
    char *listen;
    char *tls_cert;
    char *tls_key;
    char *store;
    int64_t access_token_ttl, id_token_ttl, refresh_token_ttl, code_ttl;
    unsigned threads;
    unsigned per_ip_connections; /* simultaneous connections from one address */
    unsigned throttle_max_failures;
    int64_t throttle_window, throttle_lockout;
    uint32_t argon2_t_cost, argon2_m_cost_kib;
    int log_requests;
    char **exchange_audiences;
    size_t n_exchange_audiences;
    idms_partner *partners;
    size_t n_partners;
};

const char *idms_audience(const mcx_idms_config *cfg);

/* ---- Small helpers (util.c) ------------------------------------------------------------------ */

/* base64url without padding (RFC 4648 §5); out needs 4*ceil(n/3)+1. */
void idms_b64url(const uint8_t *in, size_t n, char *out);
/* 32 random octets as base64url (43 characters + NUL). */
mcx_status idms_random_token(char out[IDMS_TOKEN_CHARS + 1]);
/* n random octets as lower-case hex (2n + 1). */
mcx_status idms_random_hex(char *out, size_t n);
/* SHA-256 of s in lower-case hex. */
void idms_sha256_hex(const char *s, char out[IDMS_HASH_HEX]);
/* BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2). */
void idms_pkce_s256(const char *verifier, char out[IDMS_TOKEN_CHARS + 1]);
/* 1 if s is min..max characters of the RFC 3986 unreserved set (RFC 7636 §4.1). */
int idms_is_unreserved(const char *s, size_t min, size_t max);
/* 1 if s can be an S256 code_challenge: BASE64URL of a SHA-256 digest is exactly 43 characters of
 * the base64url alphabet (RFC 7636 §4.2). */
int idms_is_s256_challenge(const char *s);
/* Canonicalise a space-separated scope list into out (each token canonical, no duplicates).
 * Returns MCX_E_ENCODING naming an unknown scope token. */
mcx_status idms_scope_canonical(const char *in, char *out, size_t cap);
/* 1 if the space-separated list has tok. */
int idms_scope_has(const char *list, const char *tok);

/* A malloc'd copy of s with every octet outside printable ASCII replaced by '?' (with oauth, also
 * '"' and '\\': RFC 6749 §5.2 allows only %x20-21 / %x23-5B / %x5D-7E in error_description).
 * NULL for NULL or when out of memory. */
char *idms_printable(const char *s, int oauth);

/* A growable string; any allocation failure sets oom and later adds do nothing. */
typedef struct idms_buf {
    char *p;
    size_t len, cap;
    int oom;
} idms_buf;
void idms_buf_add(idms_buf *b, const char *s);
void idms_buf_addn(idms_buf *b, const char *s, size_t n);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void idms_buf_addf(idms_buf *b, const char *fmt, ...);
void idms_buf_add_html(idms_buf *b, const char *s);   /* HTML-escaped text / attribute value */
void idms_buf_add_urlenc(idms_buf *b, const char *s); /* percent-encoded query component */
void idms_buf_free(idms_buf *b);

/* Run sql with parameters bound by types (mcx_stmt_vbindf: 't' a const char *, NULL binds SQL
 * NULL; 'i' an int64_t). idms_exec steps once and reports the rows changed (changes may be NULL;
 * it is the store's mcx_store_execf); idms_query leaves *out on its first row (*row = 0 when
 * none), to be finished with mcx_stmt_done. */
#define idms_exec(st, sql, changes, ...) mcx_store_execf((st), (changes), (sql), __VA_ARGS__)
mcx_status idms_query(mcx_store *st, const char *sql, mcx_stmt **out, int *row, const char *types,
                      ...);
/* Copy text column col into out (truncating; "" for NULL). */
void idms_col(const mcx_stmt *s, int col, char *out, size_t cap);

/* ---- Password hashing (password.c) ----------------------------------------------------------- */

#define IDMS_ARGON2_T_DEFAULT 2
#define IDMS_ARGON2_M_DEFAULT 19456

/* The costs new hashes get (process-wide; mcx_idms_start sets them from the configuration). */
void idms_password_set_costs(uint32_t t_cost, uint32_t m_cost_kib);
/* argon2id encoded string (malloc'd, free with free()). Errors: MCX_E_ARG, MCX_E_RANDOM,
 * MCX_E_NOMEM, MCX_E_INTERNAL. */
mcx_status idms_password_hash(const char *password, char **encoded);
/* 1 if password matches encoded, else 0 (also for a malformed encoded string). */
int idms_password_verify(const char *encoded, const char *password);

/* ---- Store access by table ------------------------------------------------------------------- */

typedef struct idms_user_row {
    char username[65];
    char password_hash[256];
    char mcptt_id[256];
    char mcvideo_id[256];
    char mcdata_id[256];
    int enabled;
} idms_user_row;

int idms_username_valid(const char *u);
/* Errors: MCX_E_NOT_FOUND, MCX_E_STORE. */
mcx_status idms_user_get(mcx_store *st, const char *username, idms_user_row *out);

/* *ok = 1 if the client is registered (and, when redirect_uri is not NULL, has exactly that
 * redirect URI). */
mcx_status idms_client_check(mcx_store *st, const char *client_id, const char *redirect_uri,
                             int *ok);

/* Insert a code row without a transaction of its own (the login handler runs it inside one). */
mcx_status idms_code_insert(mcx_store *st, const char *client_id, const char *username,
                            const char *redirect_uri, const char *code_challenge, const char *scope,
                            const char *nonce, int64_t auth_time, int64_t now, unsigned ttl,
                            char *code_out, size_t code_cap);

/* Insert a refresh token of family (new random token in out), valid until expires_at: a
 * family's first token gets now + refresh_token_ttl, each rotation inherits it. */
mcx_status idms_refresh_insert(mcx_store *st, const char *family, const char *username,
                               const char *client_id, const char *scope, int64_t auth_time,
                               int64_t now, int64_t expires_at, char out[IDMS_TOKEN_CHARS + 1]);
/* Revoke every refresh token of a family; *n receives how many were live. */
mcx_status idms_refresh_revoke_family(mcx_store *st, const char *family, int64_t *n);

/* Signing keys: the active one and those still published. */
typedef struct idms_keyset {
    int refs;
    mcx_signing_key *active;
    mcx_signing_key **keys; /* active first, then retired ones still in date */
    size_t n;
    char *jwks;                       /* {"keys":[...]} text */
    mcx_token_verifier *own_verifier; /* access tokens of this IdMS (token exchange) */
} idms_keyset;
mcx_status idms_keys_load(mcx_store *st, int64_t now, int64_t max_ttl, idms_keyset **out);
void idms_keyset_free(idms_keyset *ks);
/* The kid of the active key ("" when none). */
mcx_status idms_keys_active_kid(mcx_store *st, char *kid, size_t cap);

/* Audit (never fails the caller: a failure to write is reported on stderr). */
void idms_audit(mcx_store *st, int64_t now, const char *event, const char *username,
                const char *client_id, const char *address, const char *outcome,
                const char *detail);

/* Throttle keys are "user:<name>" and "addr:<ip>". */
/* *until = the end of the key's lockout, or 0 when it is not locked at now. */
mcx_status idms_throttle_locked(mcx_store *st, const char *key, int64_t now, int64_t *until);
/* Count a failure; *locked_now = 1 when this failure starts a lockout. */
mcx_status idms_throttle_fail(mcx_store *st, const mcx_idms_config *cfg, const char *key,
                              int64_t now, int *locked_now);
mcx_status idms_throttle_reset(mcx_store *st, const char *key);

/* Schema (schema.c). */
mcx_status idms_schema_migrate(mcx_store *st);

/* ---- The server and its requests (server.c) ---------------------------------------------------
 */

typedef struct idms_req idms_req;

struct mcx_idms {
    const mcx_idms_config *cfg;
    httpd_config http_cfg;
    httpd_server *http;
    char *dummy_hash; /* verified for unknown users so that timing does not tell them apart */

    httpd_pool pool; /* store connections: one per worker at a time, reused */

    pthread_mutex_t keys_lock;
    idms_keyset *keys;
    char active_kid[128];

    mcx_token_verifier **partner_verifiers; /* one per cfg->partners[i] */

    void *priv; /* server.c's own state (TLS material, discovery document) */

    pthread_t watcher;
    int watcher_started;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
};

/* What a handler gets and fills: a view of the shared request (httpd_internal.h) made when it
 * is routed, with a store connection leased for it. */
struct idms_req {
    httpd_request *http; /* connection, raw path, status, log line */
    mcx_idms *srv;
    mcx_store *st; /* leased for the request */
    const char *method;
    const char *query; /* after '?' in the request target, or NULL */
    const char *addr;  /* the client's address */
    const char *body;  /* NUL-terminated */
    size_t body_len;
    int64_t now;
};

/* Responses: body copied. headers: NULL-terminated name, value pairs. */
mcx_status idms_respond(idms_req *r, unsigned status, const char *content_type, const char *body,
                        size_t len, const char *const *headers);
mcx_status idms_respond_json(idms_req *r, unsigned status, json_t *obj, int no_store);
mcx_status idms_respond_oauth_error(idms_req *r, unsigned status, const char *error,
                                    const char *description);
mcx_status idms_respond_html(idms_req *r, unsigned status, const char *html);
/* The login page: as idms_respond_html, with a CSP form-action that admits the client's
 * redirect URI (where the successful login's 302 leads). */
mcx_status idms_respond_login_page(idms_req *r, unsigned status, const char *html,
                                   const char *redirect_uri);
mcx_status idms_respond_html_error(idms_req *r, unsigned status, const char *title,
                                   const char *message);
/* As idms_respond_html_error, with extra headers (NULL-terminated pairs, at most 4). */
mcx_status idms_respond_html_error_with(idms_req *r, unsigned status, const char *title,
                                        const char *message, const char *const *headers);
const char *idms_header(idms_req *r, const char *name);

idms_keyset *idms_keys_acquire(mcx_idms *srv);
void idms_keys_release(mcx_idms *srv, idms_keyset *ks);

/* Handlers. */
mcx_status idms_handle_authorize_get(idms_req *r);
mcx_status idms_handle_authorize_post(idms_req *r);
mcx_status idms_handle_token(idms_req *r);
mcx_status idms_handle_exchange(idms_req *r, const idms_form *f, const char *client_id);

/* Token issuing helpers shared by the grants (token_endpoint.c). */
json_t *idms_access_claims(const mcx_idms_config *cfg, const char *sub, const char *client_id,
                           const char *scope, int64_t now, int64_t auth_time, const char *mcptt_id,
                           const char *mcvideo_id, const char *mcdata_id);
mcx_status idms_add_jti(json_t *claims);
void idms_add_mc_ids(json_t *claims, const char *mcptt_id, const char *mcvideo_id,
                     const char *mcdata_id);

#endif
