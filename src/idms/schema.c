/* The IdMS schema (component "idms" of mcx_schema), in SQL valid for both SQLite and PostgreSQL
 * (include/mcxsec/store.h). Secrets are never kept in clear: codes and refresh tokens by their
 * SHA-256 (hex), passwords as argon2id strings; signing keys as PKCS#8 PEM (the store must be
 * protected, docs/idms.md). */
#include "common/error_internal.h"
#include "idms/idms_internal.h"

static const mcx_store_migration idms_migrations[] = {
    {1, "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
        " mcptt_id TEXT, mcvideo_id TEXT, mcdata_id TEXT, enabled BIGINT NOT NULL,"
        " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
        "CREATE TABLE clients (client_id TEXT PRIMARY KEY, created_at BIGINT NOT NULL);"
        "CREATE TABLE client_redirects (client_id TEXT NOT NULL REFERENCES clients (client_id),"
        " redirect_uri TEXT NOT NULL, PRIMARY KEY (client_id, redirect_uri));"
        "CREATE TABLE login_requests (id TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
        " redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, state TEXT, nonce TEXT,"
        " code_challenge TEXT NOT NULL, expires_at BIGINT NOT NULL);"
        "CREATE TABLE codes (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
        " username TEXT NOT NULL, redirect_uri TEXT NOT NULL, code_challenge TEXT NOT NULL,"
        " scope TEXT NOT NULL, nonce TEXT, auth_time BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL, used BIGINT NOT NULL, family TEXT NOT NULL);"
        "CREATE INDEX codes_expires ON codes (expires_at);"
        "CREATE TABLE refresh_tokens (hash TEXT PRIMARY KEY, family TEXT NOT NULL,"
        " username TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL,"
        " auth_time BIGINT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
        " used BIGINT NOT NULL, revoked BIGINT NOT NULL);"
        "CREATE INDEX refresh_tokens_family ON refresh_tokens (family);"
        "CREATE INDEX refresh_tokens_user ON refresh_tokens (username);"
        "CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, private_pem TEXT NOT NULL,"
        " created_at BIGINT NOT NULL, retired_at BIGINT);"
        "CREATE TABLE throttle (key TEXT PRIMARY KEY, failures BIGINT NOT NULL,"
        " window_start BIGINT NOT NULL, locked_until BIGINT NOT NULL);"
        "CREATE TABLE audit (at BIGINT NOT NULL, event TEXT NOT NULL, username TEXT,"
        " client_id TEXT, address TEXT, outcome TEXT NOT NULL, detail TEXT);"
        "CREATE INDEX audit_at ON audit (at);"
        "CREATE TABLE exchanged_jti (iss TEXT NOT NULL, jti TEXT NOT NULL,"
        " expires_at BIGINT NOT NULL, PRIMARY KEY (iss, jti))"},
};

mcx_status idms_schema_migrate(mcx_store *st)
{
    return mcx_store_migrate(st, "idms", idms_migrations,
                             sizeof idms_migrations / sizeof idms_migrations[0]);
}

mcx_status mcx_idms_init(mcx_store *st, int64_t now)
{
    if (st == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL store");
    MCX_GUARD(idms_schema_migrate(st));
    char kid[128];
    MCX_GUARD(idms_keys_active_kid(st, kid, sizeof kid));
    if (kid[0] == '\0')
        MCX_GUARD(mcx_idms_key_rotate(st, now, kid, sizeof kid));
    return MCX_OK;
}
