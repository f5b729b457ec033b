/* ECCSI: Elliptic Curve-Based Certificateless Signatures for Identity-Based Encryption
 * (RFC 6507) on NIST P-256 with SHA-256, as used by MIKEY-SAKKE (RFC 6509) and TS 33.180.
 *
 * Octet formats: scalars are 32-octet big-endian; points are uncompressed 04||x||y (65 octets);
 * a signature is r(32) || s(32) || PVT(65) = 129 octets (RFC 6507 §3.3). Identities are opaque
 * octet strings (in MCX: the 32-octet UID, or its 64-character lowercase hex string, see uid.h).
 *
 * Secrets (KSAK, SSK, the ephemeral v and j) are handled in constant time and wiped after use. */
#ifndef MCXSEC_ECCSI_H
#define MCXSEC_ECCSI_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_ECCSI_SCALAR_BYTES 32
#define MCX_ECCSI_POINT_BYTES  65
#define MCX_ECCSI_HASH_BYTES   32
#define MCX_ECCSI_SIG_BYTES    129

/* KMS master key generation (RFC 6507 §4.2): random KSAK in [1, q), KPAK = [KSAK]G. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_kms_keygen(uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                                                       uint8_t kpak[MCX_ECCSI_POINT_BYTES]);

/* KPAK = [KSAK]G for a given KSAK. Errors: MCX_E_RANGE (KSAK is 0 or >= q). */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_kpak_from_ksak(
    const uint8_t ksak[MCX_ECCSI_SCALAR_BYTES], uint8_t kpak[MCX_ECCSI_POINT_BYTES]);

/* Key issue (RFC 6507 §5.1.1): random v, PVT = [v]G, HS = hash(G||KPAK||ID||PVT),
 * SSK = KSAK + HS*v mod q. Retries with a fresh v in the negligible case SSK = 0.
 * Errors: MCX_E_RANGE (KSAK), MCX_E_NOT_ON_CURVE (KPAK), MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_issue(const uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                                                  const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                                                  const uint8_t *id, size_t id_len,
                                                  uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                                  uint8_t pvt[MCX_ECCSI_POINT_BYTES]);

/* Key issue with a caller-chosen v: for known-answer tests (RFC 6507 Appendix A) only. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_issue_with_v(const uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                                                         const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                                                         const uint8_t *id, size_t id_len,
                                                         const uint8_t v[MCX_ECCSI_SCALAR_BYTES],
                                                         uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                                         uint8_t pvt[MCX_ECCSI_POINT_BYTES]);

/* Client validation of a received SSK/PVT pair (RFC 6507 §5.1.2): PVT on the curve and not the
 * identity, SSK in [1, q), [SSK]G == KPAK + [HS]PVT. On success writes HS (may be NULL).
 * Errors: MCX_E_ENCODING / MCX_E_NOT_ON_CURVE / MCX_E_WRONG_ORDER (PVT or KPAK),
 *         MCX_E_RANGE (SSK), MCX_E_KEY_INVALID (the equation fails). */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_validate(const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                                                     const uint8_t *id, size_t id_len,
                                                     const uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                                     const uint8_t pvt[MCX_ECCSI_POINT_BYTES],
                                                     uint8_t hs[MCX_ECCSI_HASH_BYTES]);

/* A signer: a validated key set with its HS (caller-allocated; wipe with mcx_eccsi_signer_wipe). */
typedef struct mcx_eccsi_signer {
    uint8_t ssk[MCX_ECCSI_SCALAR_BYTES];
    uint8_t pvt[MCX_ECCSI_POINT_BYTES];
    uint8_t hs[MCX_ECCSI_HASH_BYTES];
} mcx_eccsi_signer;

/* Validate (as mcx_eccsi_validate) and keep the key set for signing. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_signer_init(mcx_eccsi_signer *signer,
                                                        const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                                                        const uint8_t *id, size_t id_len,
                                                        const uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                                        const uint8_t pvt[MCX_ECCSI_POINT_BYTES]);

/* Zeroise a signer. */
MCX_API void mcx_eccsi_signer_wipe(mcx_eccsi_signer *signer);

/* Sign (RFC 6507 §5.2.1) with a fresh random j. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_sign(const mcx_eccsi_signer *signer, const uint8_t *msg,
                                                 size_t msg_len, uint8_t sig[MCX_ECCSI_SIG_BYTES]);

/* Sign with a caller-chosen j: for known-answer tests only. Errors: MCX_E_RANGE (bad j). */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_sign_with_j(const mcx_eccsi_signer *signer,
                                                        const uint8_t *msg, size_t msg_len,
                                                        const uint8_t j[MCX_ECCSI_SCALAR_BYTES],
                                                        uint8_t sig[MCX_ECCSI_SIG_BYTES]);

/* One-shot verification (RFC 6507 §5.2.2).
 * Errors: MCX_E_LENGTH (sig_len != 129), MCX_E_ENCODING / MCX_E_NOT_ON_CURVE / MCX_E_WRONG_ORDER
 *         (PVT in the signature, or KPAK), MCX_E_RANGE (r or s is 0 or >= q),
 *         MCX_E_SIG_INVALID (the signature does not verify). */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_verify(const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                                                   const uint8_t *id, size_t id_len,
                                                   const uint8_t *msg, size_t msg_len,
                                                   const uint8_t *sig, size_t sig_len);

/* A verifier for one KMS (KPAK) that caches HS and Y = [HS]PVT + KPAK per (sender identity, PVT),
 * so that verifying a known sender costs one two-scalar multiplication. The cache is bounded
 * (least-recently-used entries are evicted). Not thread-safe: one per thread, or lock it. */
typedef struct mcx_eccsi_verifier mcx_eccsi_verifier;

/* Create a verifier with room for max_entries cached senders (0 selects 1024).
 * Errors: MCX_E_NOT_ON_CURVE / MCX_E_ENCODING (KPAK), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_verifier_new(mcx_eccsi_verifier **out,
                                                         const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                                                         size_t max_entries);

/* Verify as mcx_eccsi_verify, using and filling the cache. Same errors. */
MCX_API MCX_MUST_CHECK mcx_status mcx_eccsi_verifier_verify(mcx_eccsi_verifier *v,
                                                            const uint8_t *id, size_t id_len,
                                                            const uint8_t *msg, size_t msg_len,
                                                            const uint8_t *sig, size_t sig_len);

/* Cache counters: verifications answered from the cache (hits), first contacts that computed Y
 * (misses, counted whether or not the signature then verified), and cached senders. Any output
 * pointer may be NULL. */
MCX_API void mcx_eccsi_verifier_stats(const mcx_eccsi_verifier *v, uint64_t *hits, uint64_t *misses,
                                      size_t *entries);

MCX_API void mcx_eccsi_verifier_free(mcx_eccsi_verifier *v);

#ifdef __cplusplus
}
#endif
#endif
