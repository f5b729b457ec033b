/* AES-GCM for MCData payloads (include/mcxsec/mcdata.h, TS 33.180 §8.5.4) and the GCM helpers
 * of src/mikey/aead_internal.h that the key-parameters wrapper shares.
 *
 * Wire format of the stand-alone AEAD (FORMATS.md §5, as deployed MCData libraries write it):
 * ciphertext || tag (16) || IV (12 or 16). */
#include <string.h>

#include <openssl/evp.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mcdata.h"
#include "mcxsec/mem.h"
#include "mikey/aead_internal.h"

static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
    if (key_len == 16)
        return EVP_aes_128_gcm();
    if (key_len == 32)
        return EVP_aes_256_gcm();
    return NULL;
}

/* Common set-up of an encryption or decryption context: cipher, IV length, key and IV, AAD. */
static mcx_status gcm_start(EVP_CIPHER_CTX *ctx, int enc, const char *who, const uint8_t *key,
                            size_t key_len, const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                            size_t aad_len)
{
    const EVP_CIPHER *cipher = gcm_cipher(key_len);
    if (cipher == NULL)
        return MCX_FAIL(MCX_E_LENGTH, "%s: AES-GCM key of %zu octets, 16 or 32 needed", who,
                        key_len);
    if (iv_len == 0 || iv_len > 64 || aad_len > MCX_GCM_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: AES-GCM IV of %zu or AAD of %zu octets", who, iv_len,
                        aad_len);
    int n = 0;
    if (!EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) ||
        !EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) ||
        (aad_len > 0 && !EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len)))
        return MCX_FAIL(MCX_E_INTERNAL, "%s: AES-GCM set-up failed", who);
    return MCX_OK;
}

mcx_status mcx_gcm_seal(const char *who, const uint8_t *key, size_t key_len, const uint8_t *iv,
                        size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                        size_t len, uint8_t *ct, uint8_t tag[MCX_GCM_TAG_BYTES])
{
    if (len > MCX_GCM_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: plaintext of %zu octets is too long", who, len);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "%s: cannot create a cipher context", who);
    mcx_status st;
    int n = 0, fin = 0;
    MCX_GUARD_GOTO(st, gcm_start(ctx, 1, who, key, key_len, iv, iv_len, aad, aad_len), done);
    if ((len > 0 && !EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len)) ||
        !EVP_EncryptFinal_ex(ctx, ct + n, &fin) || (size_t)n + (size_t)fin != len ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MCX_GCM_TAG_BYTES, tag)) {
        mcx_memzero(ct, len);
        mcx_memzero(tag, MCX_GCM_TAG_BYTES);
        st = MCX_FAIL(MCX_E_INTERNAL, "%s: AES-GCM encryption failed", who);
        goto done;
    }
    st = MCX_OK;
done:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return st;
}

mcx_status mcx_gcm_open(const char *who, const uint8_t *key, size_t key_len, const uint8_t *iv,
                        size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                        size_t len, const uint8_t tag[MCX_GCM_TAG_BYTES], uint8_t *pt)
{
    if (len > MCX_GCM_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: ciphertext of %zu octets is too long", who, len);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "%s: cannot create a cipher context", who);
    /* a copy: OpenSSL takes the expected tag through a non-const pointer, and pt may overwrite
     * the caller's buffer that holds it */
    uint8_t want[MCX_GCM_TAG_BYTES];
    memcpy(want, tag, sizeof want);
    mcx_status st;
    int n = 0, fin = 0;
    MCX_GUARD_GOTO(st, gcm_start(ctx, 0, who, key, key_len, iv, iv_len, aad, aad_len), done);
    if ((len > 0 && !EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len)) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, MCX_GCM_TAG_BYTES, want)) {
        st = MCX_FAIL(MCX_E_INTERNAL, "%s: AES-GCM decryption failed", who);
        goto done;
    }
    /* EVP_DecryptFinal_ex compares the tags in constant time */
    if (EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1) {
        st = MCX_FAIL(MCX_E_TAG_INVALID, "%s: AES-GCM tag does not verify", who);
        goto done;
    }
    st = (size_t)n + (size_t)fin == len
             ? MCX_OK
             : MCX_FAIL(MCX_E_INTERNAL, "%s: AES-GCM gave %d octets for %zu", who, n + fin, len);
done:
    if (st != MCX_OK)
        mcx_memzero(pt, len);
    EVP_CIPHER_CTX_free(ctx);
    return st;
}

size_t mcx_mcdata_key_bytes(unsigned alg)
{
    switch (alg) {
    case MCX_MCDATA_ALG_AES128_GCM:
        return 16;
    case MCX_MCDATA_ALG_AES256_GCM:
        return 32;
    default:
        return 0;
    }
}

/* The algorithm, key length and IV length checks shared by both directions. */
static mcx_status check_params(const char *who, unsigned alg, size_t key_len, size_t iv_len)
{
    size_t want = mcx_mcdata_key_bytes(alg);
    if (want == 0)
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "%s: payload algorithm %u is not AES-128-GCM (1) or "
                        "AES-256-GCM (2)",
                        who, alg);
    if (key_len != want)
        return MCX_FAIL(MCX_E_LENGTH, "%s: key is %zu octets, algorithm %u needs %zu", who, key_len,
                        alg, want);
    if (iv_len != MCX_MCDATA_IV_BYTES && iv_len != MCX_MCDATA_IV_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: IV is %zu octets, 12 or 16 allowed", who, iv_len);
    return MCX_OK;
}

mcx_status mcx_mcdata_encrypt(unsigned alg, const uint8_t *key, size_t key_len, const uint8_t *iv,
                              size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                              size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    static const char who[] = "MCDATA encrypt";
    if (key == NULL || iv == NULL || out == NULL || out_len == NULL ||
        (aad == NULL && aad_len > 0) || (pt == NULL && pt_len > 0))
        return MCX_FAIL(MCX_E_ARG, "%s: NULL argument", who);
    *out_len = 0;
    MCX_GUARD(check_params(who, alg, key_len, iv_len));
    if (pt_len > MCX_GCM_MAX_BYTES || aad_len > MCX_GCM_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: plaintext of %zu or AAD of %zu octets is too long", who,
                        pt_len, aad_len);
    size_t total = pt_len + MCX_MCDATA_OVERHEAD(iv_len);
    if (cap < total)
        return MCX_FAIL(MCX_E_LENGTH, "%s: output buffer of %zu octets is too small (%zu needed)",
                        who, cap, total);

    /* ciphertext || tag || IV; the IV is copied first in case the caller's IV sits in pt */
    uint8_t iv_copy[MCX_MCDATA_IV_MAX_BYTES];
    memcpy(iv_copy, iv, iv_len);
    MCX_GUARD(mcx_gcm_seal(who, key, key_len, iv_copy, iv_len, aad, aad_len, pt, pt_len, out,
                           out + pt_len));
    memcpy(out + pt_len + MCX_MCDATA_TAG_BYTES, iv_copy, iv_len);
    *out_len = total;
    return MCX_OK;
}

mcx_status mcx_mcdata_encrypt_random_iv(unsigned alg, const uint8_t *key, size_t key_len,
                                        const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                                        size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t iv[MCX_MCDATA_IV_BYTES];
    MCX_GUARD(mcx_random(iv, sizeof iv));
    return mcx_mcdata_encrypt(alg, key, key_len, iv, sizeof iv, aad, aad_len, pt, pt_len, out, cap,
                              out_len);
}

mcx_status mcx_mcdata_decrypt(unsigned alg, const uint8_t *key, size_t key_len, size_t iv_len,
                              const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    static const char who[] = "MCDATA decrypt";
    if (key == NULL || in == NULL || out == NULL || out_len == NULL || (aad == NULL && aad_len > 0))
        return MCX_FAIL(MCX_E_ARG, "%s: NULL argument", who);
    *out_len = 0;
    MCX_GUARD(check_params(who, alg, key_len, iv_len));
    if (aad_len > MCX_GCM_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: AAD of %zu octets is too long", who, aad_len);

    size_t overhead = MCX_MCDATA_OVERHEAD(iv_len);
    if (in_len < overhead)
        return MCX_FAIL(MCX_E_LENGTH, "%s: payload of %zu octets is shorter than tag and IV (%zu)",
                        who, in_len, overhead);
    size_t pt_len = in_len - overhead;
    if (cap < pt_len)
        return MCX_FAIL(MCX_E_LENGTH, "%s: output buffer of %zu octets is too small (%zu needed)",
                        who, cap, pt_len);

    mcx_reader r;
    const uint8_t *ct, *tag, *ivp;
    rd_init(&r, in, in_len, who);
    MCX_GUARD(rd_bytes(&r, "ciphertext", pt_len, &ct));
    MCX_GUARD(rd_bytes(&r, "tag", MCX_MCDATA_TAG_BYTES, &tag));
    MCX_GUARD(rd_bytes(&r, "IV", iv_len, &ivp));
    MCX_GUARD(rd_end(&r));
    /* the IV and tag are copied before the plaintext may overwrite an in-place input */
    uint8_t iv[MCX_MCDATA_IV_MAX_BYTES], tag_copy[MCX_MCDATA_TAG_BYTES];
    memcpy(iv, ivp, iv_len);
    memcpy(tag_copy, tag, sizeof tag_copy);
    MCX_GUARD(mcx_gcm_open(who, key, key_len, iv, iv_len, aad, aad_len, ct, pt_len, tag_copy, out));
    *out_len = pt_len;
    return MCX_OK;
}
