/* Key-set issuance (TS 33.180 §5.2.3 and Annex D.3.3): UID format 2 (Annex F.2.1), SSK and PVT
 * (RFC 6507 §5.1.1), RSK (RFC 6508 §6.1.1). A key set is stored once per (identity, period) with
 * its secrets encrypted, and returned unchanged on every later request; every request is logged. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "mcxsec/mem.h"

#define NTP_UNIX_OFFSET 2208988800u /* seconds from 1900-01-01 to 1970-01-01 (RFC 5905) */
#define AAD_MAX         (MCX_KMS_TEXT_MAX + 1 + 8 + MCX_UID_BYTES + MCX_ECCSI_POINT_BYTES)

/* The period's start and end (exclusive) in Unix seconds; 0 when the numbers do not fit. */
static int period_bounds(const mcx_kms *kms, uint64_t n, int64_t *from, int64_t *to)
{
    uint64_t p = kms->settings.key_period, off = kms->settings.key_offset;
    if (n >= (UINT64_MAX - off) / p - 1)
        return 0;
    uint64_t a = n * p + off, b = a + p;
    if (b > (uint64_t)INT64_MAX)
        return 0;
    *from = (int64_t)a - (int64_t)NTP_UNIX_OFFSET;
    *to = (int64_t)b - (int64_t)NTP_UNIX_OFFSET;
    return 1;
}

mcx_status kms_compute_public(const mcx_kms *kms, const char *uri, uint64_t period_no,
                              mcx_kms_key_set *ks)
{
    memset(ks, 0, sizeof *ks);
    int64_t from, to;
    if (!period_bounds(kms, period_no, &from, &to))
        return MCX_FAIL(MCX_E_ARG, "KMS: key period %" PRIu64 " out of range", period_no);
    if (strlen(uri) >= sizeof ks->user_uri)
        return MCX_FAIL(MCX_E_ARG, "KMS: identity URI too long");
    MCX_GUARD(mcx_uid_format2(uri, kms->settings.kms_uri, kms->settings.key_period,
                              kms->settings.key_offset, period_no, ks->user_id));
    ks->user_id_len = MCX_UID_BYTES;
    snprintf(ks->version, sizeof ks->version, "1.1.0");
    snprintf(ks->kms_uri, sizeof ks->kms_uri, "%s", kms->settings.kms_uri);
    snprintf(ks->cert_uri, sizeof ks->cert_uri, "%s", kms->settings.kms_uri);
    snprintf(ks->issuer, sizeof ks->issuer, "%s", kms->settings.kms_uri);
    snprintf(ks->user_uri, sizeof ks->user_uri, "%s", uri);
    ks->has_valid_from = ks->has_valid_to = 1;
    ks->valid_from = (time_t)from;
    ks->valid_to = (time_t)to;
    ks->key_period_no = period_no;
    ks->revoked = MCX_KMS_FALSE;
    return MCX_OK;
}

mcx_status kms_compute(const mcx_kms *kms, const char *uri, uint64_t period_no, mcx_kms_key_set *ks)
{
    MCX_GUARD(kms_compute_public(kms, uri, period_no, ks));
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t id_len = mcx_identity_from_uid(ks->user_id, kms->settings.id_mode, id);
    mcx_status s =
        mcx_eccsi_issue(kms->secrets->ksak, kms->secrets->kpak, id, id_len, ks->ssk, ks->pvt);
    if (s == MCX_OK)
        s = mcx_sakke_issue_rsk(kms->secrets->z, MCX_KMS_ZSECRET_BYTES, id, id_len, ks->rsk);
    if (s != MCX_OK)
        mcx_memzero(ks, sizeof *ks);
    return s;
}

/* Additional data binding a stored key set's ciphertext to its row: identity || 0 || period (8,
 * big-endian) || UID || PVT. */
static size_t row_aad(const char *uri, uint64_t period_no, const uint8_t *uid, const uint8_t *pvt,
                      uint8_t aad[AAD_MAX])
{
    size_t n = strlen(uri);
    memcpy(aad, uri, n);
    aad[n++] = 0;
    for (int i = 7; i >= 0; i--)
        aad[n++] = (uint8_t)(period_no >> (8 * i));
    memcpy(aad + n, uid, MCX_UID_BYTES);
    n += MCX_UID_BYTES;
    memcpy(aad + n, pvt, MCX_ECCSI_POINT_BYTES);
    return n + MCX_ECCSI_POINT_BYTES;
}

mcx_status kms_seal_row(const mcx_kms *kms, const mcx_kms_key_set *ks,
                        uint8_t sealed[KMS_SEALED_BYTES])
{
    uint8_t aad[AAD_MAX], pt[KMS_SEALED_PT_BYTES];
    size_t aad_len = row_aad(ks->user_uri, ks->key_period_no, ks->user_id, ks->pvt, aad);
    MCX_GUARD(mcx_random(sealed, KMS_NONCE_BYTES));
    memcpy(pt, ks->ssk, MCX_ECCSI_SCALAR_BYTES);
    memcpy(pt + MCX_ECCSI_SCALAR_BYTES, ks->rsk, MCX_SAKKE_POINT_BYTES);
    mcx_status s = kms_gcm_seal(kms->storage_key, sealed, aad, aad_len, pt, sizeof pt,
                                sealed + KMS_NONCE_BYTES);
    mcx_memzero(pt, sizeof pt);
    return s;
}

/* Read the stored key set of (uri, period) into ks; *found = 0 when there is none. */
static mcx_status load_row(const mcx_kms *kms, mcx_store *st, const char *uri, uint64_t period_no,
                           mcx_kms_key_set *ks, int *found)
{
    mcx_stmt *q;
    int row = 0;
    *found = 0;
    MCX_GUARD(mcx_store_prepare(
        st, "SELECT uid, pvt, sealed FROM kms_key_sets WHERE uri = ? AND period_no = ?", &q));
    mcx_status s = mcx_stmt_bind_text(q, 1, uri);
    if (s == MCX_OK)
        s = mcx_stmt_bind_int(q, 2, (int64_t)period_no);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, &row);
    if (s == MCX_OK && row) {
        size_t ul = 0, pl = 0, sl = 0;
        const uint8_t *uid = mcx_stmt_blob(q, 0, &ul), *pvt = mcx_stmt_blob(q, 1, &pl),
                      *sealed = mcx_stmt_blob(q, 2, &sl);
        if (ul != MCX_UID_BYTES || pl != MCX_ECCSI_POINT_BYTES || sl != KMS_SEALED_BYTES) {
            s = MCX_FAIL(MCX_E_STORE,
                         "KMS: stored key set of \"%.200s\" period %" PRIu64 " is malformed", uri,
                         period_no);
        } else {
            /* the fields that are not stored are recomputed; the UID must agree */
            s = kms_compute_public(kms, uri, period_no, ks);
            if (s == MCX_OK && !mcx_ct_equal(ks->user_id, uid, MCX_UID_BYTES))
                s = MCX_FAIL(MCX_E_TAG_INVALID,
                             "KMS: stored key set of \"%.200s\" period %" PRIu64
                             " has another UID (domain settings changed?)",
                             uri, period_no);
            if (s == MCX_OK) {
                uint8_t aad[AAD_MAX], pt[KMS_SEALED_PT_BYTES];
                memcpy(ks->pvt, pvt, MCX_ECCSI_POINT_BYTES);
                size_t aad_len = row_aad(uri, period_no, uid, pvt, aad);
                s = kms_gcm_open(kms->storage_key, sealed, aad, aad_len, sealed + KMS_NONCE_BYTES,
                                 KMS_SEALED_PT_BYTES, pt);
                if (s == MCX_E_TAG_INVALID)
                    s = MCX_FAIL(MCX_E_TAG_INVALID,
                                 "KMS: stored key set of \"%.200s\" period %" PRIu64
                                 " fails authentication (altered, or other master secrets)",
                                 uri, period_no);
                if (s == MCX_OK) {
                    memcpy(ks->ssk, pt, MCX_ECCSI_SCALAR_BYTES);
                    memcpy(ks->rsk, pt + MCX_ECCSI_SCALAR_BYTES, MCX_SAKKE_POINT_BYTES);
                    *found = 1;
                }
                mcx_memzero(pt, sizeof pt);
            }
        }
    }
    mcx_stmt_done(q);
    if (s != MCX_OK)
        mcx_memzero(ks, sizeof *ks);
    return s;
}

static int64_t info_now(const mcx_kms_request_info *info)
{
    return info != NULL && info->now != 0 ? info->now : (int64_t)time(NULL);
}

mcx_status kms_log_row(mcx_store *st, const char *uri, uint64_t period_no,
                       const mcx_kms_request_info *info, const char *outcome)
{
    static const mcx_kms_request_info none = {0};
    if (info == NULL)
        info = &none;
    mcx_stmt *q;
    MCX_GUARD(mcx_store_prepare(st,
                                "INSERT INTO kms_issue_log (at, identity, period_no, request_id,"
                                " token_sub, token_jti, client_id, address, outcome)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                &q));
    mcx_status s = mcx_stmt_bind_int(q, 1, info_now(info));
    const char *texts[] = {uri,
                           NULL,
                           info->request_id,
                           info->token_sub,
                           info->token_jti,
                           info->client_id,
                           info->client_address,
                           outcome};
    for (int i = 0; s == MCX_OK && i < 8; i++)
        s = i == 1 ? mcx_stmt_bind_int(q, 3, (int64_t)period_no)
                   : mcx_stmt_bind_text(q, i + 2, texts[i]);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    mcx_stmt_done(q);
    return s;
}

/* A refusal is logged in its own statement; the refusal's status and reason are kept. */
static mcx_status refuse(mcx_store *st, const char *uri, uint64_t period_no,
                         const mcx_kms_request_info *info, const char *outcome, mcx_status why)
{
    char reason[512];
    snprintf(reason, sizeof reason, "%s", mcx_last_error());
    mcx_status s = kms_log_row(st, uri, period_no, info, outcome);
    if (s != MCX_OK)
        return s;
    return MCX_FAIL(why, "%s", reason);
}

/* Whether identity may have period's key set: known, and not revoked before the period ends. */
static mcx_status check_identity(const mcx_kms *kms, mcx_store *st, const char *uri,
                                 uint64_t period_no, const mcx_kms_request_info *info)
{
    mcx_kms_identity id;
    mcx_status s = mcx_kms_identity_get(st, uri, &id);
    if (s == MCX_E_NOT_FOUND)
        return refuse(st, uri, period_no, info, "refused: unknown identity", s);
    MCX_GUARD(s);
    int64_t from, to;
    if (!period_bounds(kms, period_no, &from, &to))
        return MCX_FAIL(MCX_E_ARG, "KMS: key period %" PRIu64 " out of range", period_no);
    if (id.revoked && id.revoked_at < to) {
        MCX_FAIL(MCX_E_DENIED,
                 "KMS: \"%.200s\" was revoked at %" PRId64 " (Unix), before period %" PRIu64
                 " ends",
                 uri, id.revoked_at, period_no);
        return refuse(st, uri, period_no, info, "refused: revoked", MCX_E_DENIED);
    }
    return MCX_OK;
}

mcx_status kms_lock_identity(mcx_store *st, const char *uri, int active_only, int *locked)
{
    /* A no-op UPDATE: it takes the row's write lock on PostgreSQL (a concurrent revocation, an
     * UPDATE of the same row, waits for this transaction or is waited for, and what is read
     * afterwards is its outcome), and the database write lock on SQLite; the SQL is the same for
     * both backends. */
    static const char *const sql[2][2] = {
        {"UPDATE kms_users SET revoked_at = revoked_at WHERE uri = ?",
         "UPDATE kms_services SET revoked_at = revoked_at WHERE uri = ?"},
        {"UPDATE kms_users SET revoked_at = revoked_at WHERE uri = ? AND revoked_at IS NULL",
         "UPDATE kms_services SET revoked_at = revoked_at WHERE uri = ? AND revoked_at IS NULL"}};
    *locked = 0;
    for (int i = 0; i < 2 && !*locked; i++) {
        mcx_stmt *q;
        MCX_GUARD(mcx_store_prepare(st, sql[active_only != 0][i], &q));
        mcx_status s = mcx_stmt_bind_text(q, 1, uri);
        if (s == MCX_OK)
            s = mcx_stmt_step(q, NULL);
        if (s == MCX_OK)
            *locked = mcx_stmt_changes(q) == 1;
        mcx_stmt_done(q);
        MCX_GUARD(s);
    }
    return MCX_OK;
}

mcx_status kms_insert_sealed(mcx_store *st, const char *uri, uint64_t period_no, const uint8_t *uid,
                             const uint8_t *pvt, const uint8_t *sealed, int64_t now, int *inserted)
{
    mcx_stmt *q;
    *inserted = 0;
    MCX_GUARD(mcx_store_prepare(st,
                                "INSERT INTO kms_key_sets (uri, period_no, uid, pvt, sealed,"
                                " issued_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                &q));
    mcx_status s = mcx_stmt_bind_text(q, 1, uri);
    if (s == MCX_OK)
        s = mcx_stmt_bind_int(q, 2, (int64_t)period_no);
    if (s == MCX_OK)
        s = mcx_stmt_bind_blob(q, 3, uid, MCX_UID_BYTES);
    if (s == MCX_OK)
        s = mcx_stmt_bind_blob(q, 4, pvt, MCX_ECCSI_POINT_BYTES);
    if (s == MCX_OK)
        s = mcx_stmt_bind_blob(q, 5, sealed, KMS_SEALED_BYTES);
    if (s == MCX_OK)
        s = mcx_stmt_bind_int(q, 6, now);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    *inserted = s == MCX_OK && mcx_stmt_changes(q) > 0;
    mcx_stmt_done(q);
    return s;
}

mcx_status mcx_kms_issue(const mcx_kms *kms, mcx_store *st, const char *uri, uint64_t period_no,
                         const mcx_kms_request_info *info, mcx_kms_key_set *out, int *fresh)
{
    if (kms == NULL || st == NULL || uri == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    if (fresh != NULL)
        *fresh = 0;
    if (kms->secrets == NULL)
        return MCX_FAIL(MCX_E_NO_KEY, "KMS: opened without its master secrets: cannot issue");
    MCX_GUARD(check_identity(kms, st, uri, period_no, info));
    int found = 0;
    MCX_GUARD(load_row(kms, st, uri, period_no, out, &found));
    if (found)
        return kms_log_row(st, uri, period_no, info, "returned");
    /* Compute outside the transaction (0.4 ms of pairing-free arithmetic; no lock held). */
    uint8_t sealed[KMS_SEALED_BYTES];
    MCX_GUARD(kms_compute(kms, uri, period_no, out));
    mcx_status s = kms_seal_row(kms, out, sealed);
    int inserted = 0;
    if (s == MCX_OK)
        s = mcx_store_begin(st);
    if (s != MCX_OK)
        goto fail;
    /* Again with the identity's row locked: it may have been revoked meanwhile, and it cannot be
     * revoked between this check and the commit. */
    int locked = 0;
    s = kms_lock_identity(st, uri, 0, &locked);
    if (s == MCX_OK)
        s = check_identity(kms, st, uri, period_no, info);
    if (s == MCX_E_DENIED || s == MCX_E_NOT_FOUND) {
        /* keep the refusal's log row */
        char reason[512];
        snprintf(reason, sizeof reason, "%s", mcx_last_error());
        if (mcx_store_commit(st) != MCX_OK)
            mcx_store_rollback(st);
        mcx_memzero(out, sizeof *out);
        return MCX_FAIL(s, "%s", reason);
    }
    if (s == MCX_OK)
        s = kms_insert_sealed(st, uri, period_no, out->user_id, out->pvt, sealed, info_now(info),
                              &inserted);
    if (s == MCX_OK && !inserted) /* another issuer won: return its key set */
        s = load_row(kms, st, uri, period_no, out, &found);
    if (s == MCX_OK)
        s = kms_log_row(st, uri, period_no, info, inserted ? "issued" : "returned");
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    if (s != MCX_OK)
        mcx_store_rollback(st);
fail:
    if (s != MCX_OK) {
        mcx_memzero(out, sizeof *out);
        return s;
    }
    if (fresh != NULL)
        *fresh = inserted;
    return MCX_OK;
}
