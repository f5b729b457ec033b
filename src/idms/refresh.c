/* Refresh tokens: 32 random octets in base64url, kept as SHA-256, rotated on every use, grouped in
 * families. Presenting a rotated or revoked token again revokes the whole family (RFC 9700
 * §4.14.2, OAuth 2.1 §4.3.1): either the client or an attacker holds a stolen copy. */
#include <string.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

mcx_status idms_refresh_insert(mcx_store *st, const char *family, const char *username,
                               const char *client_id, const char *scope, int64_t auth_time,
                               int64_t now, int64_t expires_at, char out[IDMS_TOKEN_CHARS + 1])
{
    char hash[IDMS_HASH_HEX];
    MCX_GUARD(idms_random_token(out));
    idms_sha256_hex(out, hash);
    mcx_status rc = idms_exec(st,
                              "INSERT INTO refresh_tokens (hash, family, username, client_id,"
                              " scope, auth_time, created_at, expires_at, used, revoked)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                              NULL, "tttttiii", hash, family, username, client_id, scope, auth_time,
                              now, expires_at);
    if (rc != MCX_OK)
        mcx_memzero(out, IDMS_TOKEN_CHARS + 1);
    return rc;
}

mcx_status idms_refresh_revoke_family(mcx_store *st, const char *family, int64_t *n)
{
    return idms_exec(st, "UPDATE refresh_tokens SET revoked = 1 WHERE family = ? AND revoked = 0",
                     n, "t", family);
}
