/* AES-GCM through OpenSSL EVP, shared by the stand-alone MCData AEAD (mcdata.c) and the
 * key-parameters wrapper (keyparams.c). The key length chooses AES-128 (16) or AES-256 (32);
 * any IV length OpenSSL accepts is used as given (12: J0 = IV || 1; 16: J0 from GHASH, NIST
 * SP 800-38D §7.1). The tag is always 16 octets. */
#ifndef MCX_AEAD_INTERNAL_H
#define MCX_AEAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mcxsec/common.h"

#define MCX_GCM_TAG_BYTES 16
/* Longest plaintext or AAD handed to OpenSSL, whose lengths are ints. */
#define MCX_GCM_MAX_BYTES ((size_t)0x7FFFFFC0)

/* ct[0..len) = AES-GCM encryption of pt[0..len) (ct may equal pt), tag = its tag over aad and
 * ct. who prefixes error texts. Errors: MCX_E_LENGTH (key_len, lengths), MCX_E_INTERNAL (OpenSSL;
 * ct and tag are then wiped). */
mcx_status mcx_gcm_seal(const char *who, const uint8_t *key, size_t key_len, const uint8_t *iv,
                        size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                        size_t len, uint8_t *ct, uint8_t tag[MCX_GCM_TAG_BYTES]);

/* pt[0..len) = AES-GCM decryption of ct[0..len) (pt may equal ct) if tag verifies over aad and
 * ct. On failure pt[0..len) is wiped. Errors: MCX_E_LENGTH, MCX_E_TAG_INVALID, MCX_E_INTERNAL. */
mcx_status mcx_gcm_open(const char *who, const uint8_t *key, size_t key_len, const uint8_t *iv,
                        size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                        size_t len, const uint8_t tag[MCX_GCM_TAG_BYTES], uint8_t *pt);

#endif
