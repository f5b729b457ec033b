/* AES-256-GCM (NIST SP 800-38D) for the sealed secrets file and the stored key sets: the
 * KMS's fixed sizes (32-octet key, 96-bit nonce, tag after the ciphertext) over the core's
 * AES-GCM (mikey/aead_internal.h). */
#include "kms/kms_internal.h"
#include "mikey/aead_internal.h"

mcx_status kms_gcm_seal(const uint8_t key[KMS_KEY_BYTES], const uint8_t nonce[KMS_NONCE_BYTES],
                        const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                        uint8_t *ct_tag)
{
    return mcx_gcm_seal("KMS", key, KMS_KEY_BYTES, nonce, KMS_NONCE_BYTES, aad, aad_len, pt, len,
                        ct_tag, ct_tag + len);
}

mcx_status kms_gcm_open(const uint8_t key[KMS_KEY_BYTES], const uint8_t nonce[KMS_NONCE_BYTES],
                        const uint8_t *aad, size_t aad_len, const uint8_t *ct_tag, size_t len,
                        uint8_t *pt)
{
    return mcx_gcm_open("KMS", key, KMS_KEY_BYTES, nonce, KMS_NONCE_BYTES, aad, aad_len, ct_tag,
                        len, ct_tag + len, pt);
}
