/* Authorization codes (RFC 6749 §4.1.2): 32 random octets in base64url, kept only as their
 * SHA-256, valid code_ttl seconds, used once. Each code carries a new refresh-token family so
 * that a replayed code can revoke whatever its first use produced (RFC 6749 §4.1.2). */
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

mcx_status idms_code_insert(mcx_store *st, const char *client_id, const char *username,
                            const char *redirect_uri, const char *code_challenge, const char *scope,
                            const char *nonce, int64_t auth_time, int64_t now, unsigned ttl,
                            char *code_out, size_t code_cap)
{
    if (code_out == NULL || code_cap < IDMS_TOKEN_CHARS + 1)
        return MCX_FAIL(MCX_E_ARG, "IdMS: code buffer too small");
    char code[IDMS_TOKEN_CHARS + 1], hash[IDMS_HASH_HEX], family[33];
    MCX_GUARD(idms_random_token(code));
    MCX_GUARD(idms_random_hex(family, 16));
    idms_sha256_hex(code, hash);
    mcx_status rc = idms_exec(st,
                              "INSERT INTO codes (hash, client_id, username, redirect_uri,"
                              " code_challenge, scope, nonce, auth_time, expires_at, used, family)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                              NULL, "tttttttiit", hash, client_id, username, redirect_uri,
                              code_challenge, scope, nonce, auth_time, now + (int64_t)ttl, family);
    if (rc == MCX_OK)
        memcpy(code_out, code, sizeof code);
    mcx_memzero(code, sizeof code);
    return rc;
}

mcx_status mcx_idms_code_issue(mcx_store *st, const char *client_id, const char *username,
                               const char *redirect_uri, const char *code_challenge,
                               const char *scope, const char *nonce, int64_t now, unsigned ttl,
                               char *code_out, size_t code_cap)
{
    if (st == NULL || client_id == NULL || username == NULL || redirect_uri == NULL ||
        code_challenge == NULL || scope == NULL || code_out == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    if (code_cap < 64)
        return MCX_FAIL(MCX_E_ARG, "IdMS: code buffer of %zu octets, 64 needed", code_cap);
    /* RFC 7636 §4.2: the S256 challenge is always 43 base64url characters (/token checks so) */
    if (!idms_is_s256_challenge(code_challenge))
        return MCX_FAIL(MCX_E_ARG, "IdMS: code_challenge must be 43 base64url characters (S256)");
    char canon[1024];
    MCX_GUARD(idms_scope_canonical(scope, canon, sizeof canon));
    if (!idms_scope_has(canon, MCX_SCOPE_OPENID))
        return MCX_FAIL(MCX_E_ARG, "IdMS: scope must contain openid");
    int ok;
    MCX_GUARD(idms_client_check(st, client_id, NULL, &ok));
    if (!ok)
        return MCX_FAIL(MCX_E_NOT_FOUND, "IdMS: no client \"%.64s\"", client_id);
    MCX_GUARD(idms_client_check(st, client_id, redirect_uri, &ok));
    if (!ok)
        return MCX_FAIL(MCX_E_DENIED, "IdMS: redirect URI not registered for client \"%.64s\"",
                        client_id);
    idms_user_row *u = calloc(1, sizeof *u);
    if (u == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    mcx_status rc = idms_user_get(st, username, u);
    if (rc == MCX_OK && !u->enabled)
        rc = MCX_FAIL(MCX_E_DENIED, "IdMS: user \"%.64s\" is disabled", username);
    free(u);
    if (rc != MCX_OK)
        return rc;
    return idms_code_insert(st, client_id, username, redirect_uri, code_challenge, canon, nonce,
                            now, now, ttl, code_out, code_cap);
}
