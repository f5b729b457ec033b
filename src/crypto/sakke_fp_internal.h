/* Fixed-width Montgomery arithmetic modulo a 1024-bit odd modulus: the SAKKE prime p and the
 * group order q of parameter set 1 (RFC 6509 Appendix A). Elements are 16 little-endian 64-bit
 * limbs, always fully reduced (< modulus), kept in Montgomery form (a*2^1024 mod m) unless a
 * function says otherwise.
 *
 * Every function here is constant-time in its inputs unless its name ends in _vartime: no branch
 * and no memory index depends on an element's value. */
#ifndef MCX_SAKKE_FP_INTERNAL_H
#define MCX_SAKKE_FP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mcxsec/common.h"

#define FP_LIMBS 16
#define FP_BYTES 128

typedef struct fp {
    uint64_t v[FP_LIMBS];
} fp;

/* A modulus and its Montgomery constants. */
typedef struct fp_mod {
    uint64_t m[FP_LIMBS];         /* the modulus */
    uint64_t m0inv;               /* -m^-1 mod 2^64 */
    fp one;                       /* 2^1024 mod m (1 in Montgomery form) */
    fp r2;                        /* 2^2048 mod m (to convert into Montgomery form) */
    uint64_t m_minus_2[FP_LIMBS]; /* exponent for inversion by Fermat */
    /* the AVX-512 IFMA kernel's copy of m in 52-bit digits (sakke_fp_ifma.c); after the fields
     * above, which the ADX assembly addresses by offset */
    uint64_t ifma_m[24];
} fp_mod;

/* The two moduli of parameter set 1, ready after sakke_params_init(). */
extern fp_mod sakke_p;
extern fp_mod sakke_q;

/* Set up an fp_mod from the big-endian modulus (public data). */
void fp_mod_init(fp_mod *md, const uint8_t modulus_be[FP_BYTES]);

/* r = a*b / 2^1024 mod m. r may alias a or b. */
void fp_mul(fp *r, const fp *a, const fp *b, const fp_mod *md);
void fp_sqr(fp *r, const fp *a, const fp_mod *md);
void fp_add(fp *r, const fp *a, const fp *b, const fp_mod *md);
void fp_sub(fp *r, const fp *a, const fp *b, const fp_mod *md);
void fp_neg(fp *r, const fp *a, const fp_mod *md);
/* r = 2a, 3a mod m */
void fp_dbl(fp *r, const fp *a, const fp_mod *md);

/* Lazy reduction: a double-width value (a product, or a sum or difference of products) that is
 * reduced once. v[32] is scratch for the kernels. */
typedef struct fp_wide {
    uint64_t v[2 * FP_LIMBS + 1];
} fp_wide;

/* t = a*b (2048 bits, < m^2 for a, b < m). */
void fp_mul_wide(fp_wide *t, const fp *a, const fp *b);
/* r = t / 2^1024 mod m for t < m * 2^1024; t is destroyed. */
void fp_redc(fp *r, fp_wide *t, const fp_mod *md);
/* r = a - b, plus m * 2^1024 if that is negative: for a, b < m * 2^1024 the result stays below
 * m * 2^1024 and is congruent to a - b. Constant-time. r may alias a or b. */
void fp_wide_sub(fp_wide *r, const fp_wide *a, const fp_wide *b, const fp_mod *md);
/* r = a + b, minus m * 2^1024 if that is not below it: for a, b < m * 2^1024. Constant-time. */
void fp_wide_add(fp_wide *r, const fp_wide *a, const fp_wide *b, const fp_mod *md);

/* r = a*b + c*d and r = a*b - c*d (Montgomery form), each with one reduction where the kernels
 * make that cheaper (the two products reduced together), else as two multiplications (the AVX-512
 * IFMA kernel, whose fused multiplication costs less than the ADX product and reduction halves).
 * r may alias any input. Constant-time. */
void fp_mul_add2(fp *r, const fp *a, const fp *b, const fp *c, const fp *d, const fp_mod *md);
void fp_mul_sub2(fp *r, const fp *a, const fp *b, const fp *c, const fp *d, const fp_mod *md);

/* 1 if lazy reduction (fp_mul_wide, fp_wide_*, fp_redc) is cheaper than fp_mul for the active
 * kernels (it is not with the IFMA kernel: sakke_fp_mont_internal.h). Depends only on the CPU and
 * the environment. */
int fp_lazy_pays(void);

/* Montgomery form conversions. */
void fp_to_mont(fp *r, const fp *a, const fp_mod *md);
void fp_from_mont(fp *r, const fp *a, const fp_mod *md);

/* a^-1 by Fermat's little theorem (a^(m-2)); 0 maps to 0. Constant-time. Montgomery form. */
void fp_inv(fp *r, const fp *a, const fp_mod *md);

/* a^e for a public exponent e (little-endian limbs, nlimbs). Montgomery form. */
void fp_pow_vartime(fp *r, const fp *a, const uint64_t *e, size_t nlimbs, const fp_mod *md);

/* Plain (non-Montgomery) big-endian codec. fp_from_bytes rejects values >= m with MCX_E_RANGE
 * ("what" names the value in the error text). fp_from_bytes_reduce reduces any 128-octet value
 * modulo m (constant-time; m must be > 2^1021 so at most 7 subtractions are needed). */
mcx_status fp_from_bytes(fp *r, const uint8_t in[FP_BYTES], const fp_mod *md, const char *what);
void fp_from_bytes_reduce(fp *r, const uint8_t in[FP_BYTES], const fp_mod *md);
void fp_to_bytes(uint8_t out[FP_BYTES], const fp *a);
/* The limbs of a big-endian value, unreduced and without Montgomery conversion. */
void fp_limbs_from_be(uint64_t r[FP_LIMBS], const uint8_t in[FP_BYTES]);

/* Masks (all-ones or 0). */
uint64_t fp_is_zero(const fp *a);
uint64_t fp_eq(const fp *a, const fp *b);
/* r = mask ? a : r */
void fp_cmov(fp *r, const fp *a, uint64_t mask);

/* Number of fp_mul/fp_sqr calls since start (for the benchmark's operation counts). */
extern _Thread_local uint64_t fp_mul_count;

#endif
