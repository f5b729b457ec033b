/* AES-256-GCM (NIST SP 800-38D) through OpenSSL EVP, for the sealed secrets file and the stored
 * key sets. */
#include <string.h>

#include <openssl/evp.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "mcxsec/mem.h"

static mcx_status gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                      size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory (cipher)");
    int n = 0, ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, KMS_NONCE_BYTES, NULL) == 1 &&
                    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
                    (aad_len == 0 || EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1) &&
                    EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 && (size_t)n == len;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, KMS_TAG_BYTES, tag) == 1;
    mcx_status st = MCX_OK;
    if (!ok) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS: AES-256-GCM failed");
    } else if (EVP_CipherFinal_ex(c, out + len, &n) != 1) {
        st = enc ? MCX_FAIL(MCX_E_INTERNAL, "KMS: AES-256-GCM failed")
                 : MCX_FAIL(MCX_E_TAG_INVALID, "KMS: AES-256-GCM tag does not verify");
    } else if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, KMS_TAG_BYTES, tag) != 1) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS: AES-256-GCM tag");
    }
    EVP_CIPHER_CTX_free(c);
    return st;
}

mcx_status kms_gcm_seal(const uint8_t key[KMS_KEY_BYTES], const uint8_t nonce[KMS_NONCE_BYTES],
                        const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len,
                        uint8_t *ct_tag)
{
    return gcm(1, key, nonce, aad, aad_len, pt, len, ct_tag, ct_tag + len);
}

mcx_status kms_gcm_open(const uint8_t key[KMS_KEY_BYTES], const uint8_t nonce[KMS_NONCE_BYTES],
                        const uint8_t *aad, size_t aad_len, const uint8_t *ct_tag, size_t len,
                        uint8_t *pt)
{
    uint8_t tag[KMS_TAG_BYTES];
    memcpy(tag, ct_tag + len, KMS_TAG_BYTES);
    mcx_status st = gcm(0, key, nonce, aad, aad_len, ct_tag, len, pt, tag);
    if (st != MCX_OK)
        mcx_memzero(pt, len);
    return st;
}
