/* Internals of the KMS core (include/mcxsec/kms.h). */
#ifndef MCX_KMS_INTERNAL_H
#define MCX_KMS_INTERNAL_H

#include "mcxsec/kms.h"

#define KMS_NONCE_BYTES 12
#define KMS_TAG_BYTES   16
#define KMS_KEY_BYTES   32

/* The stored form of a key set's secrets: nonce || AES-256-GCM(SSK || RSK) || tag. */
#define KMS_SEALED_PT_BYTES (MCX_ECCSI_SCALAR_BYTES + MCX_SAKKE_POINT_BYTES)
#define KMS_SEALED_BYTES    (KMS_NONCE_BYTES + KMS_SEALED_PT_BYTES + KMS_TAG_BYTES)

struct mcx_kms {
    mcx_kms_settings settings;
    uint8_t kpak[MCX_ECCSI_POINT_BYTES];
    uint8_t Z[MCX_SAKKE_POINT_BYTES];
    mcx_kms_secrets *secrets; /* secure memory; NULL: public only */
    uint8_t *storage_key;     /* secure memory, KMS_KEY_BYTES; NULL with secrets */
};

/* AES-256-GCM with a 12-octet nonce and 16-octet tag written after the ciphertext.
 * open: MCX_E_TAG_INVALID when the tag fails (nothing usable is left in pt). */
mcx_status kms_gcm_seal(const uint8_t key[KMS_KEY_BYTES], const uint8_t nonce[KMS_NONCE_BYTES],
                        const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                        uint8_t *ct_tag);
mcx_status kms_gcm_open(const uint8_t key[KMS_KEY_BYTES], const uint8_t nonce[KMS_NONCE_BYTES],
                        const uint8_t *aad, size_t aad_len, const uint8_t *ct_tag, size_t len,
                        uint8_t *pt);

/* Write data to path atomically with mode 0600. */
mcx_status kms_write_atomic(const char *path, const uint8_t *data, size_t len);

mcx_status kms_schema_migrate(mcx_store *st);

/* The public fields of a key set (UID, URIs, period, validity), no keys. */
mcx_status kms_compute_public(const mcx_kms *kms, const char *uri, uint64_t period_no,
                              mcx_kms_key_set *out);

/* Compute a key set for (uri, period_no) without touching the store: UID, SSK, PVT, RSK. */
mcx_status kms_compute(const mcx_kms *kms, const char *uri, uint64_t period_no,
                       mcx_kms_key_set *out);

/* Encrypt a computed key set's SSK || RSK for its row (random nonce). */
mcx_status kms_seal_row(const mcx_kms *kms, const mcx_kms_key_set *ks,
                        uint8_t sealed[KMS_SEALED_BYTES]);

/* INSERT ... ON CONFLICT DO NOTHING of one key-set row; *inserted = 0 when it existed. */
mcx_status kms_insert_sealed(mcx_store *st, const char *uri, uint64_t period_no, const uint8_t *uid,
                             const uint8_t *pvt, const uint8_t *sealed, int64_t now, int *inserted);

/* Inside a transaction: lock identity uri's row (kms_users or kms_services) until the commit, so
 * that a revocation cannot slip between a check and the insert that relies on it. *locked = 1
 * when a row was locked; with active_only only a row that is not revoked. */
mcx_status kms_lock_identity(mcx_store *st, const char *uri, int active_only, int *locked);

/* Append one issue_log row. */
mcx_status kms_log_row(mcx_store *st, const char *uri, uint64_t period_no,
                       const mcx_kms_request_info *info, const char *outcome);

/* An external KMS certificate as stored in kms_certcache: a KmsCertificate element, or a whole
 * KmsResponse / KmsInit document (mcx kms export-cert --format xml at that KMS), read with the
 * codec. Errors: those of mcx_kms_response_parse, MCX_E_ENCODING (not one certificate),
 * MCX_E_LENGTH, MCX_E_NOMEM. */
mcx_status kms_certcache_parse(const char *cert_xml, mcx_kms_certificate *out);

#endif
