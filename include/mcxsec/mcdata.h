/* Stand-alone MCData payload AEAD (TS 33.180 §8.5.4; FORMATS.md §5 last bullet): AES-GCM with
 * the payload-algorithm codes of TS 24.282 (1 = AEAD_AES_128_GCM, 2 = AEAD_AES_256_GCM) and the
 * wire format of deployed MCData libraries:
 *
 *   ciphertext (as long as the plaintext) || tag (16) || IV (12 by default, 16 allowed)
 *
 * The IV is carried at the end so the receiver needs only the key, the AAD and the IV length.
 * A (key, IV) pair must never protect two different payloads; mcx_mcdata_encrypt_random_iv draws
 * a fresh random IV for each call and is the function to use outside tests. */
#ifndef MCXSEC_MCDATA_H
#define MCXSEC_MCDATA_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_MCDATA_ALG_AES128_GCM 1 /* AEAD_AES_128_GCM, 16-octet key */
#define MCX_MCDATA_ALG_AES256_GCM 2 /* AEAD_AES_256_GCM, 32-octet key */
#define MCX_MCDATA_TAG_BYTES      16
#define MCX_MCDATA_IV_BYTES       12 /* default IV length (NIST SP 800-38D 96-bit IV) */
#define MCX_MCDATA_IV_MAX_BYTES   16 /* the other IV length in use (the key-parameters wrapper) */
/* Octets the wire format adds to the plaintext for an IV of iv_len octets. */
#define MCX_MCDATA_OVERHEAD(iv_len) (MCX_MCDATA_TAG_BYTES + (iv_len))

/* Key length in octets of payload algorithm alg: 16 for 1, 32 for 2, 0 for any other value. */
MCX_API size_t mcx_mcdata_key_bytes(unsigned alg);

/* Encrypt and authenticate pt[0..pt_len) with AES-GCM under key (key_len octets, which must be
 * mcx_mcdata_key_bytes(alg)) and the caller's IV (iv_len = 12 or 16), authenticating
 * aad[0..aad_len) as well (aad may be NULL when aad_len is 0; pt may be NULL when pt_len is 0).
 * Writes ciphertext || tag || IV to out[0..cap) and its length, pt_len + 16 + iv_len, to
 * *out_len. out may be pt itself (in place) but must not overlap it otherwise.
 * The caller guarantees the IV is never reused with the same key.
 * Errors: MCX_E_ARG (NULL pointer), MCX_E_UNSUPPORTED (alg neither 1 nor 2), MCX_E_LENGTH
 * (key_len wrong for alg, iv_len neither 12 nor 16, pt_len or aad_len above 2^31 - 64, out too
 * small), MCX_E_INTERNAL (OpenSSL failure; out is then wiped). */
MCX_API MCX_MUST_CHECK mcx_status mcx_mcdata_encrypt(unsigned alg, const uint8_t *key,
                                                     size_t key_len, const uint8_t *iv,
                                                     size_t iv_len, const uint8_t *aad,
                                                     size_t aad_len, const uint8_t *pt,
                                                     size_t pt_len, uint8_t *out, size_t cap,
                                                     size_t *out_len);

/* Same as mcx_mcdata_encrypt with a fresh random IV of MCX_MCDATA_IV_BYTES (12) octets, which
 * ends the output. Errors: those of mcx_mcdata_encrypt, and MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mcdata_encrypt_random_iv(unsigned alg, const uint8_t *key,
                                                               size_t key_len, const uint8_t *aad,
                                                               size_t aad_len, const uint8_t *pt,
                                                               size_t pt_len, uint8_t *out,
                                                               size_t cap, size_t *out_len);

/* The inverse: in[0..in_len) is ciphertext || tag || IV with an IV of iv_len octets (12 or 16).
 * Checks the tag over the AAD and the ciphertext, then writes the plaintext, in_len - 16 -
 * iv_len octets, to out[0..cap) and its length to *out_len. out may be in itself (in place) but
 * must not overlap it otherwise. On any failure no plaintext is left in out (what was written is
 * wiped) and *out_len is 0.
 * Errors: MCX_E_ARG (NULL pointer), MCX_E_UNSUPPORTED (alg), MCX_E_LENGTH (key_len wrong for
 * alg, iv_len neither 12 nor 16, in shorter than tag and IV, out too small), MCX_E_TAG_INVALID
 * (wrong key, AAD, IV or altered ciphertext or tag), MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mcdata_decrypt(unsigned alg, const uint8_t *key,
                                                     size_t key_len, size_t iv_len,
                                                     const uint8_t *aad, size_t aad_len,
                                                     const uint8_t *in, size_t in_len, uint8_t *out,
                                                     size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
