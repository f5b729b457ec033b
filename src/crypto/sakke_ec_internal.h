/* The SAKKE curve E: y^2 = x^3 - 3x over F_p (RFC 6508 §2.1, parameter set 1): points, encoding,
 * Jacobian arithmetic and fixed-base scalar multiplication with precomputed tables.
 * Coordinates are in Montgomery form (sakke_fp_internal.h). */
#ifndef MCX_SAKKE_EC_INTERNAL_H
#define MCX_SAKKE_EC_INTERNAL_H

#include "crypto/sakke_fp_internal.h"

#define EC_POINT_BYTES 257

typedef struct ec_affine {
    fp x, y;
} ec_affine;

/* Jacobian coordinates: x = X/Z^2, y = Y/Z^3; Z = 0 is the point at infinity. */
typedef struct ec_jac {
    fp X, Y, Z;
} ec_jac;

/* Parameter set 1, valid after sakke_params_init() (idempotent, thread-safe). */
void sakke_params_init(void);
extern ec_affine sakke_P;
extern fp sakke_g;     /* g = <P,P> as an element of PF_p, Montgomery form */
extern fp sakke_three; /* 3 in Montgomery form */
void sakke_q_bytes(uint8_t out[FP_BYTES]);

/* Decode 04||x||y. Errors: MCX_E_LENGTH, MCX_E_ENCODING (prefix, coordinate >= p),
 * MCX_E_NOT_ON_CURVE. "what" names the point in the error text ("SAKKE: RSK ..."). */
mcx_status ec_decode(ec_affine *pt, const uint8_t *in, size_t len, const char *what);
void ec_encode(uint8_t out[EC_POINT_BYTES], const ec_affine *pt);

/* all-ones if (x, y) satisfies the curve equation */
uint64_t ec_on_curve(const ec_affine *pt);

void ec_from_affine(ec_jac *r, const ec_affine *a);
void ec_neg_affine(ec_affine *r, const ec_affine *a, uint64_t mask); /* r = mask ? -a : a */

/* Doubling (dbl-2001-b, a = -3): 3M + 5S. Valid for any point; infinity stays infinity. */
void ec_dbl(ec_jac *r, const ec_jac *a);

/* Mixed addition (madd-2007-bl): r = a + b with a != infinity. If a and b have the same x
 * coordinate (a = b or a = -b) the result is wrong and *exceptional gets all-ones OR-ed in. */
void ec_madd(ec_jac *r, const ec_jac *a, const ec_affine *b, uint64_t *exceptional);

/* r = a to affine, a not infinity, with a blinded inversion (constant-time in a).
 * Errors: MCX_E_RANDOM, MCX_E_INTERNAL. */
mcx_status ec_to_affine(ec_affine *r, const ec_jac *a);

/* r = a to affine for a public point (not infinity): plain inversion, no blinding. */
void ec_to_affine_vartime(ec_affine *r, const ec_jac *a);

/* Projective equality of a (Jacobian) with b (affine), constant-time; all-ones if equal. */
uint64_t ec_jac_eq_affine(const ec_jac *a, const ec_affine *b);

/* [k]base for a public scalar k (plain, little-endian limbs, nlimbs) handling every special
 * case; variable-time. Result may be infinity (Z = 0). */
void ec_mul_vartime(ec_jac *r, const ec_affine *base, const uint64_t *k, size_t nlimbs);

/* all-ones if [q]pt is the point at infinity (pt in the order-q subgroup); variable-time. */
int ec_in_subgroup_vartime(const ec_affine *pt);

/* Fixed-base table: odd multiples [1, 3, ..., 2^W - 1] * 2^(W*i) * base for every window i. */
#define EC_TABLE_W    6
#define EC_TABLE_WINS 171 /* ceil(1023 / 6) windows cover scalars < 2^1026 */
#define EC_TABLE_ODD  (1 << (EC_TABLE_W - 1))

typedef struct ec_table ec_table;

/* A secret scalar recoded into regular signed odd digits (sakke_table.c): u = (k' + 2^N - 1)/2
 * with k' = k, or q - k when k is even (then every digit's sign is flipped, negating the result
 * of a group exponentiation by k' back to k). */
typedef struct recoded {
    uint64_t u[FP_LIMBS + 1];
    uint64_t negate; /* all-ones if k' = q - k */
} recoded;

/* Errors: MCX_E_RANGE (k = 0). k must be < q. */
mcx_status ec_recode(recoded *rc, const fp *k);

/* Digit i as a table index idx (|digit| = 2 idx + 1) and a sign mask (all-ones if negative). */
unsigned ec_recode_digit(const recoded *rc, int i, uint64_t *negative);

/* Build the table for a public base point. Returns NULL if out of memory. */
ec_table *ec_table_new(const ec_affine *base);
void ec_table_free(ec_table *t);

/* r = [k]base for a secret scalar k (plain form, 0 < k < q) in constant time: regular signed
 * odd-digit windows, every table entry read for each window. Errors: MCX_E_RANGE (k = 0),
 * MCX_E_RANDOM (blinding), MCX_E_INTERNAL. The result is affine. */
mcx_status ec_table_mul(ec_affine *r, const ec_table *t, const fp *k);

/* r = [k1]t1 + [k2]t2 (both scalars secret, same rules), as a Jacobian point for comparison. */
mcx_status ec_table_mul2_jac(ec_jac *r, const ec_table *t1, const fp *k1, const ec_table *t2,
                             const fp *k2);

/* The process-wide table for P (built once, on first use). */
const ec_table *sakke_P_table(void);

/* Blinded inversion: r = a^-1 (Montgomery form) in constant time in a, via a random blinding
 * factor and a fast variable-time inversion of the (uniformly random) blinded value.
 * Errors: MCX_E_RANDOM, MCX_E_RANGE (a = 0), MCX_E_INTERNAL. */
mcx_status fp_inv_blinded(fp *r, const fp *a, const fp_mod *md);

#endif
