/* Users: argon2id password hashes, MC IDs, enabled flag (mcx idms user ...). */
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"

int idms_username_valid(const char *u)
{
    if (u == NULL)
        return 0;
    size_t n = 0;
    for (; u[n] != '\0'; n++) {
        char c = u[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok || n >= 64)
            return 0;
    }
    return n >= 1;
}

static mcx_status check_mc_id(const char *what, const char *id)
{
    if (id == NULL)
        return MCX_OK;
    size_t n = strlen(id);
    if (n == 0 || n > 255 || strchr(id, ':') == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: %s must be a URI of at most 255 characters", what);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7F)
            return MCX_FAIL(MCX_E_ARG, "IdMS: %s has a space or non-ASCII character", what);
    return MCX_OK;
}

mcx_status mcx_idms_user_add(mcx_store *st, const mcx_idms_user *u, const char *password,
                             int64_t now)
{
    if (st == NULL || u == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    if (!idms_username_valid(u->username))
        return MCX_FAIL(MCX_E_ARG, "IdMS: user name must be 1..64 characters of [A-Za-z0-9._@-]");
    if (password == NULL || password[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "IdMS: empty password");
    MCX_GUARD(check_mc_id("mcptt_id", u->mcptt_id));
    MCX_GUARD(check_mc_id("mcvideo_id", u->mcvideo_id));
    MCX_GUARD(check_mc_id("mcdata_id", u->mcdata_id));
    char *hash = NULL;
    MCX_GUARD(idms_password_hash(password, &hash));
    mcx_status rc = idms_exec(st,
                              "INSERT INTO users (username, password_hash, mcptt_id, mcvideo_id,"
                              " mcdata_id, enabled, created_at, updated_at)"
                              " VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                              NULL, "tttttii", u->username, hash, u->mcptt_id, u->mcvideo_id,
                              u->mcdata_id, now, now);
    free(hash);
    if (rc == MCX_E_EXISTS)
        return MCX_FAIL(MCX_E_EXISTS, "IdMS: user \"%s\" exists already", u->username);
    return rc;
}

mcx_status mcx_idms_user_set_enabled(mcx_store *st, const char *username, int enabled, int64_t now)
{
    if (st == NULL || username == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    MCX_GUARD(mcx_store_begin(st));
    int64_t n = 0;
    mcx_status rc = idms_exec(st, "UPDATE users SET enabled = ?, updated_at = ? WHERE username = ?",
                              &n, "iit", (int64_t)(enabled ? 1 : 0), now, username);
    if (rc == MCX_OK && n == 0)
        rc = MCX_FAIL(MCX_E_NOT_FOUND, "IdMS: no user \"%.64s\"", username);
    /* A disabled user keeps no way back in: every refresh token goes (access tokens expire). */
    if (rc == MCX_OK && !enabled)
        rc = idms_exec(st, "UPDATE refresh_tokens SET revoked = 1 WHERE username = ?", NULL, "t",
                       username);
    if (rc == MCX_OK)
        rc = mcx_store_commit(st);
    if (rc != MCX_OK)
        mcx_store_rollback(st);
    return rc;
}

mcx_status mcx_idms_user_set_password(mcx_store *st, const char *username, const char *password,
                                      int64_t now)
{
    if (st == NULL || username == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    if (password == NULL || password[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "IdMS: empty password");
    char *hash = NULL;
    MCX_GUARD(idms_password_hash(password, &hash));
    mcx_status rc = mcx_store_begin(st);
    if (rc != MCX_OK) {
        free(hash);
        return rc;
    }
    int64_t n = 0;
    rc = idms_exec(st, "UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?", &n,
                   "tit", hash, now, username);
    free(hash);
    if (rc == MCX_OK && n == 0)
        rc = MCX_FAIL(MCX_E_NOT_FOUND, "IdMS: no user \"%.64s\"", username);
    /* A password change is how a suspected compromise is answered: whoever held the old password
     * may hold refresh tokens too, so they all go with it, atomically (RFC 9700 §4.14.2). */
    if (rc == MCX_OK)
        rc = idms_exec(st, "UPDATE refresh_tokens SET revoked = 1 WHERE username = ?", NULL, "t",
                       username);
    if (rc == MCX_OK)
        rc = mcx_store_commit(st);
    if (rc != MCX_OK)
        mcx_store_rollback(st);
    return rc;
}

mcx_status idms_user_get(mcx_store *st, const char *username, idms_user_row *out)
{
    memset(out, 0, sizeof *out);
    mcx_stmt *s;
    int row;
    MCX_GUARD(idms_query(st,
                         "SELECT username, password_hash, mcptt_id, mcvideo_id, mcdata_id,"
                         " enabled FROM users WHERE username = ?",
                         &s, &row, "t", username));
    if (!row) {
        mcx_stmt_done(s);
        return MCX_FAIL(MCX_E_NOT_FOUND, "IdMS: no user \"%.64s\"", username);
    }
    idms_col(s, 0, out->username, sizeof out->username);
    idms_col(s, 1, out->password_hash, sizeof out->password_hash);
    idms_col(s, 2, out->mcptt_id, sizeof out->mcptt_id);
    idms_col(s, 3, out->mcvideo_id, sizeof out->mcvideo_id);
    idms_col(s, 4, out->mcdata_id, sizeof out->mcdata_id);
    out->enabled = mcx_stmt_int(s, 5) != 0;
    mcx_stmt_done(s);
    return MCX_OK;
}
