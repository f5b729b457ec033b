/* SAKKE: Sakai-Kasahara Key Encryption (RFC 6508) with parameter set 1 (RFC 6509 Appendix A):
 * a 1024-bit prime field, the supersingular curve y^2 = x^3 - 3x, a pairing into PF_p.
 *
 * Octet formats: field elements and scalars are 128-octet big-endian; points are uncompressed
 * 04||x||y (257 octets); an SED is R(257) || H(n) where n is the SSV length, 16 or 32 octets
 * (RFC 6508 §4). Identities are opaque octet strings, read as a big-endian integer b when an
 * integer is needed (RFC 6508 §2.1).
 *
 * The sender and receiver objects hold per-KMS and per-key precomputation (fixed-base tables,
 * the receiver's pairing lines). Secrets (z, RSK, SSV, r) are processed in constant time and
 * wiped when freed. */
#ifndef MCXSEC_SAKKE_H
#define MCXSEC_SAKKE_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_SAKKE_FP_BYTES       128
#define MCX_SAKKE_SCALAR_BYTES   128
#define MCX_SAKKE_POINT_BYTES    257
#define MCX_SAKKE_SSV_MAX_BYTES  32
#define MCX_SAKKE_SED_BYTES(ssv) (MCX_SAKKE_POINT_BYTES + (ssv))

/* KMS master key generation (RFC 6508 §2.2): random z in [1, q), Z = [z]P. */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_kms_keygen(uint8_t z[MCX_SAKKE_SCALAR_BYTES],
                                                       uint8_t Z[MCX_SAKKE_POINT_BYTES]);

/* Z = [z]P for a given z of at most 128 octets. Errors: MCX_E_LENGTH, MCX_E_RANGE (z = 0 mod q
 * or z >= q). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_kms_pubkey(const uint8_t *z, size_t z_len,
                                                       uint8_t Z[MCX_SAKKE_POINT_BYTES]);

/* RSK issue (RFC 6508 §6.1.1): RSK = [(b + z)^-1 mod q]P for identity b.
 * Errors: MCX_E_LENGTH, MCX_E_RANGE (z), MCX_E_KEY_INVALID (b + z = 0 mod q: no key exists). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_issue_rsk(const uint8_t *z, size_t z_len,
                                                      const uint8_t *id, size_t id_len,
                                                      uint8_t rsk[MCX_SAKKE_POINT_BYTES]);

/* Client validation of a received RSK (RFC 6508 §6.1.2): RSK on E, in the order-q subgroup,
 * and <[b]P + Z, RSK> == g.
 * Errors: MCX_E_LENGTH / MCX_E_ENCODING / MCX_E_NOT_ON_CURVE / MCX_E_WRONG_ORDER (RSK or Z),
 *         MCX_E_KEY_INVALID (the pairing check fails). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_validate_rsk(const uint8_t Z[MCX_SAKKE_POINT_BYTES],
                                                         const uint8_t *id, size_t id_len,
                                                         const uint8_t rsk[MCX_SAKKE_POINT_BYTES]);

/* A sender for one KMS: holds Z and its fixed-base table. Immutable after creation, so it may be
 * shared between threads. */
typedef struct mcx_sakke_sender mcx_sakke_sender;

/* Errors: MCX_E_LENGTH / MCX_E_ENCODING / MCX_E_NOT_ON_CURVE / MCX_E_WRONG_ORDER (Z),
 *         MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_sender_new(mcx_sakke_sender **out,
                                                       const uint8_t Z[MCX_SAKKE_POINT_BYTES]);
MCX_API void mcx_sakke_sender_free(mcx_sakke_sender *s);

/* Encapsulate an SSV of 16 or 32 octets to identity b (RFC 6508 §6.2.1):
 * r = HashToIntegerRange(SSV || b, q), R = [r]([b]P + Z), H = SSV xor HashToIntegerRange(g^r, 2^n).
 * Writes the SED (257 + ssv_len octets) to sed[0..sed_cap) and its length to *sed_len.
 * Errors: MCX_E_LENGTH (ssv_len, sed_cap), MCX_E_KEY_INVALID (r = 0 mod q, negligible). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_encap(const mcx_sakke_sender *s, const uint8_t *id,
                                                  size_t id_len, const uint8_t *ssv, size_t ssv_len,
                                                  uint8_t *sed, size_t sed_cap, size_t *sed_len);

/* A receiver: one identity's validated RSK for one KMS and key period, with the pairing lines of
 * the RSK and a fixed-base table of [b]P + Z precomputed. Immutable after creation. */
typedef struct mcx_sakke_receiver mcx_sakke_receiver;

/* Validate rsk (as mcx_sakke_validate_rsk) and build the receiver's tables.
 * Errors: those of mcx_sakke_validate_rsk, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_receiver_new(mcx_sakke_receiver **out,
                                                         const uint8_t Z[MCX_SAKKE_POINT_BYTES],
                                                         const uint8_t *id, size_t id_len,
                                                         const uint8_t rsk[MCX_SAKKE_POINT_BYTES]);
MCX_API void mcx_sakke_receiver_free(mcx_sakke_receiver *r);

/* Decapsulate (RFC 6508 §6.2.2): w = <R, RSK>, SSV = H xor HashToIntegerRange(w, 2^n), then the
 * check R == [HashToIntegerRange(SSV || b, q)]([b]P + Z). The SSV length is sed_len - 257.
 * Nothing is written to ssv unless the check holds.
 * Errors: MCX_E_LENGTH (sed_len, ssv_cap), MCX_E_ENCODING / MCX_E_NOT_ON_CURVE (R),
 *         MCX_E_SED_INVALID (the check fails: altered SED, or an SED for another identity). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sakke_decap(const mcx_sakke_receiver *r, const uint8_t *sed,
                                                  size_t sed_len, uint8_t *ssv, size_t ssv_cap,
                                                  size_t *ssv_len);

#ifdef __cplusplus
}
#endif
#endif
