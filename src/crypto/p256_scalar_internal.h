/* Constant-time arithmetic modulo the order q of the NIST P-256 group (FIPS 186-4 D.1.2.3),
 * for the secret scalars of ECCSI (RFC 6507): KSAK, v, SSK, j and s'.
 *
 * A scalar is four 64-bit limbs, least significant first, always fully reduced (< q). No function
 * here branches on, or indexes memory by, a scalar's value: products use Montgomery multiplication
 * with a masked final subtraction, and inversion is Fermat's a^(q-2) with a public exponent.
 * Results that are yes/no questions come back as masks (all-ones or 0, see ct_internal.h). */
#ifndef MCX_P256_SCALAR_INTERNAL_H
#define MCX_P256_SCALAR_INTERNAL_H

#include <stdint.h>

#define MCX_P256_SCALAR_BYTES 32

typedef struct mcx_p256_scalar {
    uint64_t w[4];
} mcx_p256_scalar;

/* r = in mod q, in a 32-octet big-endian integer (hash outputs, x-coordinates). Since
 * 2^256 < 2q, one masked subtraction reduces any input. */
void mcx_p256_scalar_reduce(mcx_p256_scalar *r, const uint8_t in[MCX_P256_SCALAR_BYTES]);

/* r = in mod q; returns all-ones if 0 < in < q (a valid scalar), else 0. */
uint64_t mcx_p256_scalar_load(mcx_p256_scalar *r, const uint8_t in[MCX_P256_SCALAR_BYTES]);

/* out = a as 32 big-endian octets. */
void mcx_p256_scalar_store(uint8_t out[MCX_P256_SCALAR_BYTES], const mcx_p256_scalar *a);

/* r = a + b mod q */
void mcx_p256_scalar_add(mcx_p256_scalar *r, const mcx_p256_scalar *a, const mcx_p256_scalar *b);

/* r = -a mod q (0 stays 0) */
void mcx_p256_scalar_neg(mcx_p256_scalar *r, const mcx_p256_scalar *a);

/* r = a * b mod q */
void mcx_p256_scalar_mul(mcx_p256_scalar *r, const mcx_p256_scalar *a, const mcx_p256_scalar *b);

/* r = a^-1 mod q, computed as a^(q-2); the inverse of 0 comes out as 0. */
void mcx_p256_scalar_inv(mcx_p256_scalar *r, const mcx_p256_scalar *a);

/* all-ones if a == 0 */
uint64_t mcx_p256_scalar_is_zero(const mcx_p256_scalar *a);

/* Zeroise a scalar that held a secret. */
void mcx_p256_scalar_wipe(mcx_p256_scalar *a);

#endif
