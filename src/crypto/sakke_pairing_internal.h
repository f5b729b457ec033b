/* The pairing of RFC 6508 §3.2 on the SAKKE curve, with output in PF_p, and F_p^2 arithmetic.
 *
 * F_p^2 = F_p[i]/(i^2 + 1); a + b i is represented in PF_p by b/a (RFC 6508 §2.1). The pairing
 * <R,Q> runs Miller's loop over the bits of q - 1 with the line functions of the RFC, raises the
 * result to (p+1)/q = 4 and returns Im/Re (FACTS.md §2: only that power; the projection to PF_p
 * absorbs the rest of the final exponentiation).
 *
 * The pairing is symmetric on this curve (<R,Q> = <Q,R> for R, Q in the order-q subgroup), so a
 * receiver runs the loop on its fixed RSK once per key period, keeps the line coefficients
 * normalised to (x_Q + beta) + (gamma y_Q) i, and each later pairing costs only the evaluation. */
#ifndef MCX_SAKKE_PAIRING_INTERNAL_H
#define MCX_SAKKE_PAIRING_INTERNAL_H

#include "crypto/sakke_ec_internal.h"

typedef struct fp2 {
    fp a, b; /* a + b i */
} fp2;

void fp2_sqr(fp2 *r, const fp2 *x);
void fp2_mul(fp2 *r, const fp2 *x, const fp2 *y);

/* Reference pairing <R,Q> exactly as RFC 6508 §3.2 (binary loop, Jacobian C), for public points.
 * Output b/a in Montgomery form. Errors: MCX_E_INTERNAL. */
mcx_status sakke_pairing(fp *out, const ec_affine *R, const ec_affine *Q);

/* The precomputed lines of a fixed point K (normally the RSK). */
typedef struct sakke_lines sakke_lines;

/* Run the Miller loop on K (constant-time in K), store the normalised lines, and report whether
 * [q]K is the point at infinity (K in the order-q subgroup) in *in_subgroup (1/0).
 * Errors: MCX_E_NOMEM, MCX_E_RANDOM, MCX_E_INTERNAL. */
mcx_status sakke_lines_new(sakke_lines **out, const ec_affine *K, int *in_subgroup);
void sakke_lines_free(sakke_lines *l);

/* <K,Q> = <Q,K> from the precomputed lines of K, constant-time in K and Q. Output in PF_p
 * (Montgomery form). Errors: MCX_E_RANDOM, MCX_E_INTERNAL (blinded inversion). */
mcx_status sakke_pairing_lines(fp *out, const sakke_lines *l, const ec_affine *Q);

/* The same before the projection: f = a + b i with <K,Q> = b/a in PF_p; a check <K,Q> = v is
 * b = v a with a != 0, without an inversion. Constant-time in K and Q. */
void sakke_pairing_lines_fp2(fp2 *f, const sakke_lines *l, const ec_affine *Q);

/* (1 + g i)^r as b/a in PF_p for a secret exponent r (plain form, < q) using a fixed-base table
 * of g built once per process. Errors: MCX_E_RANDOM, MCX_E_INTERNAL. */
mcx_status sakke_g_pow(fp *out, const fp *r);
/* The same before the projection: f = a + b i with b/a = (1 + g i)^r in PF_p (a != 0). */
mcx_status sakke_g_pow_fp2(fp2 *f, const fp *r);

/* Output of an element f = a + b i in PF_p: b/a (blinded inversion of a). */
mcx_status fp2_to_pfp(fp *out, const fp2 *f);

#endif
