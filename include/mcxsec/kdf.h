/* Key derivation functions of MCX: the generic KDF of TS 33.220 Annex B.2 (with the FC values of
 * TS 33.180 Annex F) and the MIKEY PRF of RFC 3830 §4.1.2 with HMAC-SHA-256 (RFC 6043 §6.1). */
#ifndef MCXSEC_KDF_H
#define MCXSEC_KDF_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_KDF_OUT_BYTES 32

/* FC values (TS 33.180 Annex F). */
#define MCX_KDF_FC_GUK_SALT 0x50 /* GMK -> GUK-ID user salt, P0 = MC service user ID */
#define MCX_KDF_FC_XPK_CONF                                                                        \
    0x51 /* XPK -> signalling confidentiality key, P0 = user ID, P1 = XPK-ID */
#define MCX_KDF_FC_XPK_INTEG 0x52 /* XPK -> signalling integrity key, same inputs */
#define MCX_KDF_FC_DPCK      0x53 /* DPPK -> DPCK, P0 = DPPK-ID */

/* One input parameter Pi of the KDF; its length Li is written as 2 octets. */
typedef struct mcx_kdf_param {
    const uint8_t *data;
    size_t len; /* at most 65535 */
} mcx_kdf_param;

/* TS 33.220 B.2: out = HMAC-SHA-256(key, FC || P0 || L0 || ... || Pn || Ln).
 * Errors: MCX_E_LENGTH (a parameter longer than 65535 octets), MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kdf(const uint8_t *key, size_t key_len, uint8_t fc,
                                          const mcx_kdf_param *params, size_t n_params,
                                          uint8_t out[MCX_KDF_OUT_BYTES]);

/* MIKEY PRF (RFC 3830 §4.1.2, PRF-HMAC-SHA-256 of RFC 6043): the inkey is cut into 256-bit
 * chunks (the last one shorter), P(s_j, label, m) is computed for each and the results XORed.
 * Errors: MCX_E_ARG, MCX_E_LENGTH (out_len 0 or inkey empty). */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_prf(const uint8_t *inkey, size_t inkey_len,
                                                const uint8_t *label, size_t label_len,
                                                uint8_t *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif
