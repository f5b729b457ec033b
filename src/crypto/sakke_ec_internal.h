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
extern fp sakke_two;   /* 2 in Montgomery form */
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

/* ---- the same group in twisted Edwards form --------------------------------------------------
 *
 * E is birationally equivalent to the twisted Edwards curve -x^2 + y^2 = 1 + x^2 y^2 (a = -1,
 * d = 1): with s^2 = -3 (the square root of -3 that is a square) and c^2 = -2/s, E -> Montgomery
 * s v^2 = u^3 + u by (x, y) -> (x/s, y/s^2), then to Edwards by (u, v) -> (c u/v, (u-1)/(u+1)):
 *     x_E = c s x / y,  y_E = (x - s) / (x + s);   back: x = s (1 + y_E)/(1 - y_E),
 *     y = -3 c (1 + y_E) / ((1 - y_E) x_E).
 * The map is defined and a group isomorphism on every point of odd order (its exceptions are the
 * points with y = 0 or x = +-s, of order 2 and 4). Since a = -1 is not a square the addition law
 * is not complete on the whole curve, but its exceptions need P1 - P2 or P1 + P2 to be a point of
 * order 2 or 4, so on the order-q subgroup the unified formulas below are exception-free (doubling
 * and the neutral element (0, 1) included): no special case, so no branch, ever.
 *
 * Extended coordinates (Hisil-Wong-Carter-Dawson 2008): x = X/Z, y = Y/Z, T = XY/Z. A table entry
 * is kept in "Niels" form (y - x, y + x, 2dxy) of an affine point: a mixed addition costs 7M
 * against 11M for a Jacobian mixed addition on E. */
typedef struct ed_point {
    fp X, Y, Z, T;
} ed_point;

typedef struct ed_niels {
    fp ym, yp, t2; /* y - x, y + x, 2xy */
} ed_niels;

extern fp sakke_ed_s;   /* s */
extern fp sakke_ed_cs;  /* c s */
extern fp sakke_ed_m3c; /* -3 c */

/* r = the Edwards image of a point of E of odd order (projective, no inversion). Constant-time. */
void ed_from_weierstrass(ed_point *r, const ec_affine *a);
/* Mixed addition (madd-2008-hwcd-3): r = a + b, 7M. r may alias a. */
void ed_madd(ed_point *r, const ed_point *a, const ed_niels *b);
/* Addition (add-2008-hwcd-3 with 2d = 2): r = a + b, 8M. r may alias a or b. */
void ed_add(ed_point *r, const ed_point *a, const ed_point *b);
/* Doubling (dbl-2008-hwcd, a = -1): 4M + 4S. r may alias a. */
void ed_dbl(ed_point *r, const ed_point *a);
/* The point of an entry: (y+x - (y-x), y+x + (y-x), 2, 2xy) = (2x, 2y, 2, 2xy). */
void ed_from_niels(ed_point *r, const ed_niels *n);
/* r = mask ? -n : n, with -(x, y) = (-x, y): swap y-x and y+x, negate 2xy. */
void ed_niels_cneg(ed_niels *r, const ed_niels *n, uint64_t mask);

/* Back to E. a must be a point of odd order other than the neutral element, so that
 * den = (Z - Y) X is nonzero; ed_to_weierstrass_finish takes den^-1 (so callers can share one
 * inversion between several values). */
void ed_to_weierstrass_den(fp *den, const ed_point *a);
void ed_to_weierstrass_finish(ec_affine *r, const ed_point *a, const fp *den_inv);
/* Both steps with a blinded inversion (constant-time in a). Errors: MCX_E_RANDOM,
 * MCX_E_RANGE (a is the neutral element), MCX_E_INTERNAL. */
mcx_status ed_to_weierstrass(ec_affine *r, const ed_point *a);
/* all-ones if the Edwards point a (odd order) is the point b of E (any affine point of E),
 * projectively, without inversion: x_b (Z - Y) = s (Z + Y) and y_b (Z - Y) X = -3c Z (Z + Y). */
uint64_t ed_eq_weierstrass(const ed_point *a, const ec_affine *b);

/* ---- fixed-base tables ------------------------------------------------------------------------
 *
 * Odd multiples [1, 3, ..., 2^W - 1] * 2^(W*i) * base for every window i, as
 * Edwards Niels entries. */
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

/* out = rows[idx] in constant time: every one of the n rows (of words 64-bit words each, words a
 * multiple of 16) is read and the wanted one is kept under an all-ones mask. */
void ec_ct_lookup(uint64_t *out, const uint64_t *rows, unsigned n, unsigned words, unsigned idx);

/* Build the table for a public base point of order q. Returns NULL if out of memory. */
ec_table *ec_table_new(const ec_affine *base);
void ec_table_free(ec_table *t);
/* The base of a table as an Edwards point. */
const ed_point *ec_table_base(const ec_table *t);

/* r = [k]base for a secret scalar k (plain form, 0 < k < q) in constant time: regular signed
 * odd-digit windows, every table entry read for each window. Errors: MCX_E_RANGE (k = 0),
 * MCX_E_RANDOM (blinding), MCX_E_INTERNAL. The result is affine. */
mcx_status ec_table_mul(ec_affine *r, const ec_table *t, const fp *k);

/* r = [k1]t1 + [k2]t2 (both scalars secret, same rules; t2 may be NULL) as an Edwards point. */
mcx_status ec_table_mul2(ed_point *r, const ec_table *t1, const fp *k1, const ec_table *t2,
                         const fp *k2);

/* r = [k]t for a public scalar k (the receiver's identifier b): the same windows, but each
 * window's entry is read directly instead of by scanning all 2^(W-1) of them (a table is 2 MB,
 * more than the L2 cache). Variable-time in k only. Errors as ec_table_mul2. */
mcx_status ec_table_mul_public(ed_point *r, const ec_table *t, const fp *k);

/* The process-wide table for P (built once, on first use). */
const ec_table *sakke_P_table(void);

/* Blinded inversion: r = a^-1 (Montgomery form) in constant time in a, via a random blinding
 * factor and a fast variable-time inversion of the (uniformly random) blinded value.
 * Errors: MCX_E_RANDOM, MCX_E_RANGE (a = 0), MCX_E_INTERNAL. */
mcx_status fp_inv_blinded(fp *r, const fp *a, const fp_mod *md);

#endif
