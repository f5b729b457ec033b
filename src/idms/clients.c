/* OAuth clients: public native clients (no secret; PKCE required) with exact redirect URIs
 * (RFC 6749 §3.1.2, RFC 8252 §8.4; compared as strings, never by prefix). */
#include <string.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"

static int client_id_valid(const char *id)
{
    /* RFC 6749 Appendix A.1: VSCHAR; narrowed to the unreserved set for safe logging */
    return idms_is_unreserved(id, 1, 128);
}

static mcx_status redirect_valid(const char *uri)
{
    size_t n = uri != NULL ? strlen(uri) : 0;
    if (n == 0 || n > 2048)
        return MCX_FAIL(MCX_E_ARG, "IdMS: redirect URI must be 1..2048 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)uri[i] <= 0x20 || (unsigned char)uri[i] >= 0x7F)
            return MCX_FAIL(MCX_E_ARG, "IdMS: redirect URI has a space or non-ASCII character");
    /* RFC 6749 §3.1.2: an absolute URI without a fragment */
    const char *colon = strchr(uri, ':');
    if (colon == NULL || colon == uri)
        return MCX_FAIL(MCX_E_ARG, "IdMS: redirect URI \"%.64s\" is not absolute", uri);
    for (const char *p = uri; p < colon; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (p > uri && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok)
            return MCX_FAIL(MCX_E_ARG, "IdMS: redirect URI \"%.64s\" has a bad scheme", uri);
    }
    if (strchr(uri, '#') != NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: redirect URI must not have a fragment (RFC 6749 §3.1.2)");
    return MCX_OK;
}

mcx_status mcx_idms_client_add(mcx_store *st, const char *client_id,
                               const char *const *redirect_uris, size_t n, int64_t now)
{
    if (st == NULL || (redirect_uris == NULL && n > 0))
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    if (!client_id_valid(client_id))
        return MCX_FAIL(MCX_E_ARG, "IdMS: client id must be 1..128 characters of [A-Za-z0-9._~-]");
    if (n == 0)
        return MCX_FAIL(MCX_E_ARG, "IdMS: a client needs at least one redirect URI");
    for (size_t i = 0; i < n; i++)
        MCX_GUARD(redirect_valid(redirect_uris[i]));
    MCX_GUARD(mcx_store_begin(st));
    mcx_status rc = idms_exec(st, "INSERT INTO clients (client_id, created_at) VALUES (?, ?)", NULL,
                              "ti", client_id, now);
    if (rc == MCX_E_EXISTS)
        rc = MCX_FAIL(MCX_E_EXISTS, "IdMS: client \"%s\" exists already", client_id);
    for (size_t i = 0; rc == MCX_OK && i < n; i++) {
        rc = idms_exec(st,
                       "INSERT INTO client_redirects (client_id, redirect_uri) VALUES (?, ?)"
                       " ON CONFLICT DO NOTHING",
                       NULL, "tt", client_id, redirect_uris[i]);
    }
    if (rc == MCX_OK)
        rc = mcx_store_commit(st);
    if (rc != MCX_OK)
        mcx_store_rollback(st);
    return rc;
}

mcx_status idms_client_check(mcx_store *st, const char *client_id, const char *redirect_uri,
                             int *ok)
{
    *ok = 0;
    /* request bytes that no registration can hold are not looked up (PostgreSQL would refuse a
     * query with invalid UTF-8 text as an error) */
    if (client_id == NULL || !client_id_valid(client_id))
        return MCX_OK;
    for (const char *p = redirect_uri; p != NULL && *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F)
            return MCX_OK;
    mcx_stmt *s;
    int row;
    if (redirect_uri == NULL)
        MCX_GUARD(
            idms_query(st, "SELECT 1 FROM clients WHERE client_id = ?", &s, &row, "t", client_id));
    else
        MCX_GUARD(idms_query(st,
                             "SELECT 1 FROM client_redirects WHERE client_id = ?"
                             " AND redirect_uri = ?",
                             &s, &row, "tt", client_id, redirect_uri));
    *ok = row;
    mcx_stmt_done(s);
    return MCX_OK;
}
