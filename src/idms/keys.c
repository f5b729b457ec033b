/* Signing keys (ES256, P-256) kept in the store as PKCS#8 PEM. One key is active (retired_at
 * NULL) and signs; a rotated-out key stays in /jwks until every token it signed has expired
 * (retired_at + the longest token lifetime), so rotation never invalidates a token in date. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"

mcx_status idms_keys_active_kid(mcx_store *st, char *kid, size_t cap)
{
    mcx_stmt *s;
    int row;
    kid[0] = '\0';
    MCX_GUARD(idms_query(st,
                         "SELECT kid FROM signing_keys WHERE retired_at IS NULL"
                         " ORDER BY created_at DESC",
                         &s, &row, ""));
    if (row)
        idms_col(s, 0, kid, cap);
    mcx_stmt_done(s);
    return MCX_OK;
}

mcx_status mcx_idms_key_rotate(mcx_store *st, int64_t now, char *kid_out, size_t kid_cap)
{
    if (st == NULL || kid_out == NULL)
        return MCX_FAIL(MCX_E_ARG, "IdMS: NULL argument");
    if (kid_cap < 64)
        return MCX_FAIL(MCX_E_ARG, "IdMS: kid buffer of %zu octets, 64 needed", kid_cap);
    mcx_signing_key *k = NULL;
    MCX_GUARD(mcx_signing_key_generate(&k));
    char *pem = NULL;
    mcx_status rc = mcx_signing_key_to_pem(k, &pem);
    if (rc != MCX_OK) {
        mcx_signing_key_free(k);
        return rc;
    }
    const char *kid = mcx_signing_key_kid(k);
    if (strlen(kid) >= kid_cap) {
        rc = MCX_FAIL(MCX_E_ARG, "IdMS: kid buffer too small");
        goto out;
    }
    MCX_GUARD_GOTO(rc, mcx_store_begin(st), out);
    rc = idms_exec(st, "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL", NULL, "i",
                   now);
    if (rc == MCX_OK)
        rc = idms_exec(st,
                       "INSERT INTO signing_keys (kid, private_pem, created_at, retired_at)"
                       " VALUES (?, ?, ?, NULL)",
                       NULL, "tti", kid, pem, now);
    if (rc == MCX_OK)
        rc = mcx_store_commit(st);
    if (rc != MCX_OK) {
        mcx_store_rollback(st);
        goto out;
    }
    snprintf(kid_out, kid_cap, "%s", kid);
out:
    mcx_signing_key_pem_free(pem);
    mcx_signing_key_free(k);
    return rc;
}

void idms_keyset_free(idms_keyset *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        mcx_signing_key_free(ks->keys[i]);
    free(ks->keys);
    free(ks->jwks);
    mcx_token_verifier_free(ks->own_verifier);
    free(ks);
}

mcx_status idms_keys_load(mcx_store *st, int64_t now, int64_t max_ttl, idms_keyset **out)
{
    *out = NULL;
    idms_keyset *ks = calloc(1, sizeof *ks);
    if (ks == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    mcx_stmt *s;
    int row;
    mcx_status rc = idms_query(st,
                               "SELECT kid, private_pem, retired_at FROM signing_keys"
                               " WHERE retired_at IS NULL OR retired_at >= ?"
                               " ORDER BY retired_at IS NULL DESC, created_at DESC",
                               &s, &row, "i", now - max_ttl);
    if (rc != MCX_OK) {
        free(ks);
        return rc;
    }
    size_t cap = 0;
    while (rc == MCX_OK && row) {
        int active = mcx_stmt_is_null(s, 2);
        if (active && ks->active != NULL) {
            /* two active keys (a rotation raced another): the newest signs, the other is only
             * published */
            active = 0;
        }
        mcx_signing_key *k = NULL;
        rc = mcx_signing_key_from_pem(&k, mcx_stmt_text(s, 1));
        if (rc != MCX_OK)
            break;
        if (ks->n == cap) {
            size_t nc = cap ? 2 * cap : 4;
            mcx_signing_key **nk = realloc(ks->keys, nc * sizeof *nk);
            if (nk == NULL) {
                mcx_signing_key_free(k);
                rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
                break;
            }
            ks->keys = nk;
            cap = nc;
        }
        ks->keys[ks->n++] = k;
        if (active)
            ks->active = k;
        rc = mcx_stmt_step(s, &row);
    }
    mcx_stmt_done(s);
    if (rc == MCX_OK && ks->active == NULL)
        rc = MCX_FAIL(MCX_E_NOT_FOUND, "IdMS: no active signing key (run mcx idms init)");
    if (rc == MCX_OK) {
        json_t *set = mcx_jwks_of((const mcx_signing_key *const *)ks->keys, ks->n);
        ks->jwks = set != NULL ? json_dumps(set, JSON_COMPACT) : NULL;
        json_decref(set);
        if (ks->jwks == NULL)
            rc = MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    }
    if (rc != MCX_OK) {
        idms_keyset_free(ks);
        return rc;
    }
    ks->refs = 1;
    *out = ks;
    return MCX_OK;
}
