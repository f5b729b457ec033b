/* Per-identity transport and integrity keys (TS 33.180 D.1: TrK and InK, provisioned out of band
 * to the client and to the KMS). Stored in kms_client_keys, each key encrypted like a key set's
 * secrets: AES-256-GCM under the master-derived storage key, additional data identity || 0 ||
 * column name, so a value cannot be moved to another identity or from the trk to the ink column
 * unnoticed. */
#include <stdio.h>
#include <string.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "mcxsec/mem.h"

#define CK_SEALED_BYTES (KMS_NONCE_BYTES + KMS_KEY_BYTES + KMS_TAG_BYTES)
#define CK_AAD_MAX      (MCX_KMS_URI_MAX + 8)

static size_t ck_aad(const char *uri, const char *col, uint8_t aad[CK_AAD_MAX])
{
    size_t n = strlen(uri), c = strlen(col);
    memcpy(aad, uri, n);
    aad[n++] = 0;
    memcpy(aad + n, col, c);
    return n + c;
}

static mcx_status ck_seal(const mcx_kms *kms, const char *uri, const char *col, const uint8_t *key,
                          uint8_t out[CK_SEALED_BYTES])
{
    uint8_t aad[CK_AAD_MAX];
    size_t aad_len = ck_aad(uri, col, aad);
    MCX_GUARD(mcx_random(out, KMS_NONCE_BYTES));
    return kms_gcm_seal(kms->storage_key, out, aad, aad_len, key, KMS_KEY_BYTES,
                        out + KMS_NONCE_BYTES);
}

static mcx_status ck_open(const mcx_kms *kms, const char *uri, const char *col, const uint8_t *in,
                          size_t in_len, uint8_t key[KMS_KEY_BYTES])
{
    if (in_len != CK_SEALED_BYTES)
        return MCX_FAIL(MCX_E_STORE, "KMS: stored %s of \"%.200s\" is malformed", col, uri);
    uint8_t aad[CK_AAD_MAX];
    size_t aad_len = ck_aad(uri, col, aad);
    mcx_status s =
        kms_gcm_open(kms->storage_key, in, aad, aad_len, in + KMS_NONCE_BYTES, KMS_KEY_BYTES, key);
    if (s == MCX_E_TAG_INVALID)
        return MCX_FAIL(MCX_E_TAG_INVALID,
                        "KMS: stored %s of \"%.200s\" fails authentication (altered, or other "
                        "master secrets)",
                        col, uri);
    return s;
}

static mcx_status check_uri(const char *uri)
{
    if (uri == NULL || uri[0] == '\0' || strlen(uri) >= MCX_KMS_URI_MAX)
        return MCX_FAIL(MCX_E_ARG, "KMS: an identity URI must be 1..%d octets",
                        MCX_KMS_URI_MAX - 1);
    return MCX_OK;
}

mcx_status mcx_kms_client_keys_set(const mcx_kms *kms, mcx_store *st, const char *uri,
                                   const uint8_t *trk, const uint8_t *ink, int64_t now)
{
    if (kms == NULL || st == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    MCX_GUARD(check_uri(uri));
    if (trk == NULL && ink == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: give a transport key, an integrity key or both");
    /* one secret for AES key wrap (RFC 3394) and HMAC at once: a key must serve one purpose
     * (NIST SP 800-57 Part 1 §5.2) */
    if (trk != NULL && ink != NULL && mcx_ct_equal(trk, ink, KMS_KEY_BYTES))
        return MCX_FAIL(MCX_E_ARG, "KMS: the transport key and the integrity key must differ");
    if (kms->storage_key == NULL)
        return MCX_FAIL(MCX_E_NO_KEY, "KMS: client keys are stored encrypted: open the KMS with "
                                      "its master secrets");
    MCX_GUARD(kms_schema_migrate(st));
    mcx_kms_identity id;
    MCX_GUARD(mcx_kms_identity_get(st, uri, &id));
    uint8_t strk[CK_SEALED_BYTES], sink[CK_SEALED_BYTES];
    if (trk != NULL)
        MCX_GUARD(ck_seal(kms, uri, "trk", trk, strk));
    if (ink != NULL)
        MCX_GUARD(ck_seal(kms, uri, "ink", ink, sink));
    MCX_GUARD(mcx_store_begin(st));
    mcx_stmt *q;
    mcx_status s = mcx_store_prepare(st, "DELETE FROM kms_client_keys WHERE uri = ?", &q);
    if (s == MCX_OK) {
        s = mcx_stmt_bind_text(q, 1, uri);
        if (s == MCX_OK)
            s = mcx_stmt_step(q, NULL);
        mcx_stmt_done(q);
    }
    if (s == MCX_OK)
        s = mcx_store_prepare(
            st, "INSERT INTO kms_client_keys (uri, trk, ink, created_at) VALUES (?, ?, ?, ?)", &q);
    if (s == MCX_OK) {
        s = mcx_stmt_bind_text(q, 1, uri);
        if (s == MCX_OK)
            s = trk != NULL ? mcx_stmt_bind_blob(q, 2, strk, sizeof strk)
                            : mcx_stmt_bind_null(q, 2);
        if (s == MCX_OK)
            s = ink != NULL ? mcx_stmt_bind_blob(q, 3, sink, sizeof sink)
                            : mcx_stmt_bind_null(q, 3);
        if (s == MCX_OK)
            s = mcx_stmt_bind_int(q, 4, now);
        if (s == MCX_OK)
            s = mcx_stmt_step(q, NULL);
        mcx_stmt_done(q);
    }
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    if (s != MCX_OK)
        mcx_store_rollback(st);
    return s;
}

mcx_status mcx_kms_client_keys_clear(mcx_store *st, const char *uri, int *cleared)
{
    if (st == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL store");
    MCX_GUARD(check_uri(uri));
    MCX_GUARD(kms_schema_migrate(st));
    mcx_stmt *q;
    MCX_GUARD(mcx_store_prepare(st, "DELETE FROM kms_client_keys WHERE uri = ?", &q));
    mcx_status s = mcx_stmt_bind_text(q, 1, uri);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    if (s == MCX_OK && cleared != NULL)
        *cleared = mcx_stmt_changes(q) > 0;
    mcx_stmt_done(q);
    return s;
}

mcx_status mcx_kms_client_keys_get(const mcx_kms *kms, mcx_store *st, const char *uri,
                                   mcx_kms_client_keys *out)
{
    if (kms == NULL || st == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    memset(out, 0, sizeof *out);
    MCX_GUARD(check_uri(uri));
    mcx_stmt *q;
    int row = 0;
    MCX_GUARD(mcx_store_prepare(st, "SELECT trk, ink FROM kms_client_keys WHERE uri = ?", &q));
    mcx_status s = mcx_stmt_bind_text(q, 1, uri);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, &row);
    if (s == MCX_OK && row && kms->storage_key == NULL)
        s = MCX_FAIL(MCX_E_NO_KEY, "KMS: the client keys of \"%.200s\" need the master secrets",
                     uri);
    if (s == MCX_OK && row && !mcx_stmt_is_null(q, 0)) {
        size_t n = 0;
        const uint8_t *b = mcx_stmt_blob(q, 0, &n);
        s = ck_open(kms, uri, "trk", b, n, out->trk);
        out->has_trk = s == MCX_OK;
    }
    if (s == MCX_OK && row && !mcx_stmt_is_null(q, 1)) {
        size_t n = 0;
        const uint8_t *b = mcx_stmt_blob(q, 1, &n);
        s = ck_open(kms, uri, "ink", b, n, out->ink);
        out->has_ink = s == MCX_OK;
    }
    mcx_stmt_done(q);
    if (s != MCX_OK)
        mcx_memzero(out, sizeof *out);
    return s;
}
