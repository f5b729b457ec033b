/* Pairing of RFC 6508 §3.2 (see sakke_pairing_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "common/ct_internal.h"
#include "common/ctgrind_internal.h"
#include "common/error_internal.h"
#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/mem.h"

#define P (&sakke_p)

void fp2_sqr(fp2 *r, const fp2 *x)
{
    fp s, d, ab;
    fp_add(&s, &x->a, &x->b, P);
    fp_sub(&d, &x->a, &x->b, P);
    fp_mul(&ab, &x->a, &x->b, P);
    fp_mul(&r->a, &s, &d, P);
    fp_add(&r->b, &ab, &ab, P);
}

/* Karatsuba with lazy reduction: three double-width products, two reductions. */
void fp2_mul(fp2 *r, const fp2 *x, const fp2 *y)
{
    fp_wide t1, t2, t3;
    fp s1, s2;
    fp_mul_wide(&t1, &x->a, &y->a);
    fp_mul_wide(&t2, &x->b, &y->b);
    fp_add(&s1, &x->a, &x->b, P);
    fp_add(&s2, &y->a, &y->b, P);
    fp_mul_wide(&t3, &s1, &s2);
    fp_wide_sub(&t3, &t3, &t1, P); /* (a + b)(c + d) - ac - bd = ad + bc (mod m) */
    fp_wide_sub(&t3, &t3, &t2, P);
    fp_wide_sub(&t1, &t1, &t2, P); /* ac - bd */
    fp_redc(&r->a, &t1, P);
    fp_redc(&r->b, &t3, P);
}

mcx_status fp2_to_pfp(fp *out, const fp2 *f)
{
    fp inv;
    MCX_GUARD(fp_inv_blinded(&inv, &f->a, P));
    fp_mul(out, &f->b, &inv, P);
    mcx_memzero(&inv, sizeof inv);
    return MCX_OK;
}

/* f^((p+1)/q) = f^4, then Im/Re (RFC 6508 §3.2 steps 3-4) */
static mcx_status final_step(fp *out, fp2 *f)
{
    fp2_sqr(f, f);
    fp2_sqr(f, f);
    return fp2_to_pfp(out, f);
}

/* bit i of q - 1 (public) */
static int q_minus_1_bit(int i)
{
    uint64_t w = sakke_q.m[i / 64];
    if (i / 64 == 0)
        w -= 1; /* q is odd, so q - 1 only clears bit 0 */
    return (int)((w >> (i % 64)) & 1);
}

mcx_status sakke_pairing(fp *out, const ec_affine *R, const ec_affine *Q)
{
    /* RFC 6508 §3.2, with C in Jacobian coordinates and each line multiplied by a power of Z
     * (a factor in F_p, which the projection to PF_p removes). */
    fp2 v, l;
    v.a = sakke_p.one;
    memset(&v.b, 0, sizeof v.b);
    ec_jac C;
    ec_from_affine(&C, R);
    for (int i = 1020; i >= 0; i--) {
        /* doubling: l = 3(Cx^2 - 1)(Qx + Cx) - 2 Cy^2 + (2 Cy Qy) i, times Z^6 */
        fp delta, alpha, t, u;
        fp_sqr(&delta, &C.Z, P);
        fp_sub(&t, &C.X, &delta, P);
        fp_add(&u, &C.X, &delta, P);
        fp_mul(&alpha, &t, &u, P);
        fp_add(&t, &alpha, &alpha, P);
        fp_add(&alpha, &alpha, &t, P); /* 3(X^2 - Z^4) */
        fp_mul(&t, &Q->x, &delta, P);
        fp_add(&t, &t, &C.X, P);
        fp_mul(&l.a, &alpha, &t, P);
        fp_sqr(&t, &C.Y, P);
        fp_add(&t, &t, &t, P);
        fp_sub(&l.a, &l.a, &t, P); /* - 2 Y^2 */
        fp_mul(&t, &C.Y, &C.Z, P);
        fp_mul(&t, &t, &delta, P);
        fp_add(&t, &t, &t, P);
        fp_mul(&l.b, &t, &Q->y, P); /* 2 Y Z^3 Qy */
        fp2_sqr(&v, &v);
        fp2_mul(&v, &v, &l);
        ec_dbl(&C, &C);
        if (q_minus_1_bit(i)) {
            /* addition: l = (Qx + Rx) Cy - (Qx + Cx) Ry + ((Cx - Rx) Qy) i, times Z^3 */
            fp z2, z3, w;
            fp_sqr(&z2, &C.Z, P);
            fp_mul(&z3, &z2, &C.Z, P);
            fp_add(&t, &Q->x, &R->x, P);
            fp_mul(&l.a, &t, &C.Y, P);
            fp_mul(&t, &Q->x, &z2, P);
            fp_add(&t, &t, &C.X, P);
            fp_mul(&t, &t, &C.Z, P);
            fp_mul(&t, &t, &R->y, P);
            fp_sub(&l.a, &l.a, &t, P);
            fp_mul(&w, &R->x, &z2, P);
            fp_sub(&w, &C.X, &w, P);
            fp_mul(&w, &w, &C.Z, P);
            fp_mul(&l.b, &w, &Q->y, P);
            fp2_mul(&v, &v, &l);
            uint64_t exc = 0;
            ec_madd(&C, &C, R, &exc);
        }
    }
    return final_step(out, &v);
}

/* ---- precomputed lines ---------------------------------------------------------------------- */

/* NAF of q - 1 from the most significant digit down (public). The top digit is 1. */
#define NAF_MAX 1024

struct sakke_lines {
    int n_steps;              /* number of doubling steps */
    signed char naf[NAF_MAX]; /* digit after each doubling step: -1, 0, +1 */
    size_t n_coef;
    /* Per step, in order: a doubling step alone keeps its line (x_Q + beta) + (gamma y_Q) i as
     * (beta, gamma); a doubling step followed by an addition keeps the product of its two lines,
     * a polynomial in x_Q and y_Q once y_Q^2 = x_Q^3 - 3 x_Q is substituted:
     *     (x_Q^2 + c3 x_Q^3 + c1 x_Q + c0) + (e1 x_Q y_Q + e0 y_Q) i
     * as (c3, c1, c0, e1, e0): 4M to evaluate instead of 2M + 2M for the two lines, and one F_p^2
     * multiplication instead of two. */
    fp *coef;
};

static int naf_q_minus_1(signed char *digits)
{
    /* k = q - 1 as limbs; standard NAF from the least significant end */
    uint64_t k[FP_LIMBS + 1];
    memcpy(k, sakke_q.m, sizeof sakke_q.m);
    k[FP_LIMBS] = 0;
    k[0] -= 1;
    signed char tmp[NAF_MAX + 2];
    int n = 0;
    for (;;) {
        int nonzero = 0;
        for (int i = 0; i <= FP_LIMBS; i++)
            nonzero |= k[i] != 0;
        if (!nonzero)
            break;
        int d = 0;
        if (k[0] & 1) {
            d = 2 - (int)(k[0] & 3);
            /* k -= d */
            if (d == 1) {
                k[0] -= 1;
            } else {
                for (int i = 0; i <= FP_LIMBS && ++k[i] == 0; i++)
                    ;
            }
        }
        tmp[n++] = (signed char)d;
        for (int i = 0; i < FP_LIMBS; i++)
            k[i] = (k[i] >> 1) | (k[i + 1] << 63);
        k[FP_LIMBS] >>= 1;
    }
    /* most significant first; drop the top digit (it is the starting point C = K) */
    int m = 0;
    for (int i = n - 2; i >= 0; i--)
        digits[m++] = tmp[i];
    return m;
}

/* C = 2C (dbl-2001-b, a = -3) and the doubling line of RFC 6508 3.2 through C, multiplied by
 * Z^6: (alpha delta) x_Q + (alpha X - 2 Y^2) + (2 Y Z delta) y_Q i, sharing the doubling's
 * intermediate values: 3M beyond the doubling. */
static void dbl_with_line(ec_jac *C, fp *num_b, fp *num_g, fp *den)
{
    fp delta, gamma, beta, alpha, t1, t2;
    fp_sqr(&delta, &C->Z, P);
    fp_sqr(&gamma, &C->Y, P);
    fp_mul(&beta, &C->X, &gamma, P);
    fp_sub(&t1, &C->X, &delta, P);
    fp_add(&t2, &C->X, &delta, P);
    fp_mul(&alpha, &t1, &t2, P);
    fp_add(&t1, &alpha, &alpha, P);
    fp_add(&alpha, &alpha, &t1, P); /* 3(X - delta)(X + delta) */
    /* line */
    fp_mul(den, &alpha, &delta, P);
    fp_mul(num_b, &alpha, &C->X, P);
    fp_add(&t1, &gamma, &gamma, P);
    fp_sub(num_b, num_b, &t1, P);
    /* Z3 = 2 Y Z = (Y + Z)^2 - gamma - delta */
    fp_add(&t1, &C->Y, &C->Z, P);
    fp_sqr(&t1, &t1, P);
    fp_sub(&t1, &t1, &gamma, P);
    fp_sub(&C->Z, &t1, &delta, P);
    fp_mul(num_g, &C->Z, &delta, P);
    /* X3 = alpha^2 - 8 beta */
    fp_dbl(&beta, &beta, P);
    fp_dbl(&beta, &beta, P);
    fp_sqr(&t1, &alpha, P);
    fp_dbl(&t2, &beta, P);
    fp_sub(&C->X, &t1, &t2, P);
    /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
    fp_sub(&t1, &beta, &C->X, P);
    fp_mul(&t1, &alpha, &t1, P);
    fp_sqr(&gamma, &gamma, P);
    fp_dbl(&gamma, &gamma, P);
    fp_dbl(&gamma, &gamma, P);
    fp_dbl(&gamma, &gamma, P);
    fp_sub(&C->Y, &t1, &gamma, P);
}

/* C = C + A (madd-2007-bl, A affine, A != +-C) and the addition line of RFC 6508 3.2 through C
 * and A, multiplied by -Z^3: (S2 - Y) x_Q + (X Z A_y - A_x Y) + (H Z) y_Q i, where S2 = Z^3 A_y
 * and H = Z^2 A_x - X come from the addition: 2M beyond it. */
static void add_with_line(ec_jac *C, const ec_affine *A, fp *num_b, fp *num_g, fp *den)
{
    fp z1z1, u2, ayz, s2, h, hh, i, j, r, v, t;
    fp_sqr(&z1z1, &C->Z, P);
    fp_mul(&u2, &A->x, &z1z1, P);
    fp_mul(&ayz, &A->y, &C->Z, P);
    fp_mul(&s2, &ayz, &z1z1, P);
    fp_sub(&h, &u2, &C->X, P);
    /* line */
    fp_sub(den, &s2, &C->Y, P);
    fp_mul(num_b, &C->X, &ayz, P);
    fp_mul(&t, &A->x, &C->Y, P);
    fp_sub(num_b, num_b, &t, P);
    fp_mul(num_g, &h, &C->Z, P); /* H Z; Z3 = 2 H Z */
    /* addition */
    fp_sqr(&hh, &h, P);
    fp_dbl(&i, &hh, P);
    fp_dbl(&i, &i, P);
    fp_mul(&j, &h, &i, P);
    fp_sub(&r, &s2, &C->Y, P);
    fp_dbl(&r, &r, P);
    fp_mul(&v, &C->X, &i, P);
    fp_dbl(&C->Z, num_g, P);
    fp_mul(&t, &C->Y, &j, P);
    fp_dbl(&t, &t, P); /* 2 Y1 J */
    fp x3;
    fp_sqr(&x3, &r, P);
    fp_sub(&x3, &x3, &j, P);
    fp_sub(&x3, &x3, &v, P);
    fp_sub(&x3, &x3, &v, P);
    fp_sub(&v, &v, &x3, P);
    fp_mul(&v, &r, &v, P);
    fp_sub(&C->Y, &v, &t, P);
    C->X = x3;
}

mcx_status sakke_lines_new(sakke_lines **out, const ec_affine *K, int *in_subgroup)
{
    sakke_lines *l = calloc(1, sizeof *l);
    if (l == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory for pairing lines");
    l->n_steps = naf_q_minus_1(l->naf);
    int n_add = 0;
    for (int i = 0; i < l->n_steps; i++)
        n_add += l->naf[i] != 0;
    int n_lines = l->n_steps + n_add;
    l->n_coef = 2 * (size_t)(l->n_steps - n_add) + 5 * (size_t)n_add;
    l->coef = mcx_secure_alloc(sizeof(fp) * l->n_coef);
    fp *beta = malloc(sizeof(fp) * (size_t)n_lines); /* wiped below, like the numerators */
    fp *gamma = malloc(sizeof(fp) * (size_t)n_lines);
    fp *num_b = malloc(sizeof(fp) * (size_t)n_lines);
    fp *num_g = malloc(sizeof(fp) * (size_t)n_lines);
    fp *den = malloc(sizeof(fp) * (size_t)n_lines);
    mcx_status st = MCX_OK;
    if (l->coef == NULL || beta == NULL || gamma == NULL || num_b == NULL || num_g == NULL ||
        den == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory for pairing lines");
        goto out;
    }

    /* Miller loop on C = K; each line is kept as numerators and a common denominator (the
     * coefficient of x_Q), all denominators are inverted together at the end. */
    ec_jac C;
    ec_from_affine(&C, K);
    ec_affine negK;
    ec_neg_affine(&negK, K, ~(uint64_t)0);
    int k = 0;
    for (int i = 0; i < l->n_steps; i++) {
        dbl_with_line(&C, &num_b[k], &num_g[k], &den[k]);
        k++;
        if (l->naf[i] != 0) {
            add_with_line(&C, l->naf[i] > 0 ? K : &negK, &num_b[k], &num_g[k], &den[k]);
            k++;
        }
    }
    /* C = [q-1]K; K is in the order-q subgroup iff C = -K */
    uint64_t sub = ec_jac_eq_affine(&C, &negK);
    MCX_CT_PUBLIC(&sub, sizeof sub); /* validation verdict */
    *in_subgroup = sub != 0;

    /* batch inversion of the denominators (Montgomery's trick), blinded once */
    beta[0] = den[0];
    for (int j = 1; j < n_lines; j++)
        fp_mul(&beta[j], &beta[j - 1], &den[j], P);
    fp inv;
    st = fp_inv_blinded(&inv, &beta[n_lines - 1], P);
    if (st != MCX_OK)
        goto out;
    for (int j = n_lines - 1; j >= 0; j--) {
        fp di;
        if (j > 0) {
            fp_mul(&di, &inv, &beta[j - 1], P);
            fp_mul(&inv, &inv, &den[j], P);
        } else {
            di = inv;
        }
        fp_mul(&beta[j], &num_b[j], &di, P);
        fp_mul(&gamma[j], &num_g[j], &di, P);
    }
    mcx_memzero(&inv, sizeof inv);
    mcx_memzero(&C, sizeof C);
    /* the per-step coefficients */
    fp *c = l->coef;
    k = 0;
    for (int i = 0; i < l->n_steps; i++) {
        if (l->naf[i] == 0) {
            c[0] = beta[k];
            c[1] = gamma[k];
            c += 2;
            k++;
            continue;
        }
        const fp *b1 = &beta[k], *g1 = &gamma[k], *b2 = &beta[k + 1], *g2 = &gamma[k + 1];
        fp gg, s1, s2;
        fp_mul(&gg, g1, g2, P);   /* g1 g2 */
        fp_neg(&c[0], &gg, P);    /* c3 = -g1 g2 */
        fp_add(&c[1], b1, b2, P); /* c1 = b1 + b2 + 3 g1 g2 */
        fp_add(&s1, &gg, &gg, P);
        fp_add(&s1, &s1, &gg, P);
        fp_add(&c[1], &c[1], &s1, P);
        fp_mul(&c[2], b1, b2, P); /* c0 = b1 b2 */
        fp_add(&c[3], g1, g2, P); /* e1 = g1 + g2 */
        fp_add(&s1, b1, g1, P);   /* e0 = b1 g2 + b2 g1 = (b1 + g1)(b2 + g2) - b1 b2 - g1 g2 */
        fp_add(&s2, b2, g2, P);
        fp_mul(&s1, &s1, &s2, P);
        fp_sub(&s1, &s1, &c[2], P);
        fp_sub(&c[4], &s1, &gg, P);
        mcx_memzero(&gg, sizeof gg);
        mcx_memzero(&s1, sizeof s1);
        mcx_memzero(&s2, sizeof s2);
        c += 5;
        k += 2;
    }
out:
    if (beta != NULL)
        mcx_memzero(beta, sizeof(fp) * (size_t)n_lines);
    if (gamma != NULL)
        mcx_memzero(gamma, sizeof(fp) * (size_t)n_lines);
    if (num_b != NULL)
        mcx_memzero(num_b, sizeof(fp) * (size_t)n_lines);
    if (num_g != NULL)
        mcx_memzero(num_g, sizeof(fp) * (size_t)n_lines);
    if (den != NULL)
        mcx_memzero(den, sizeof(fp) * (size_t)n_lines);
    free(beta);
    free(gamma);
    free(num_b);
    free(num_g);
    free(den);
    if (st != MCX_OK) {
        sakke_lines_free(l);
        return st;
    }
    *out = l;
    return MCX_OK;
}

void sakke_lines_free(sakke_lines *l)
{
    if (l == NULL)
        return;
    mcx_secure_free(l->coef);
    free(l);
}

/* f *= (x_Q + beta) + (gamma y_Q) i : 1M for gamma y_Q, 3M Karatsuba */
static void mul_line(fp2 *f, const fp *beta, const fp *gamma, const ec_affine *Q)
{
    fp2 ln;
    fp_add(&ln.a, &Q->x, beta, P);
    fp_mul(&ln.b, gamma, &Q->y, P);
    fp2_mul(f, f, &ln);
    mcx_memzero(&ln, sizeof ln); /* derived from the secret RSK's lines */
}

/* f *= (x^2 + c3 x^3 + c1 x + c0) + (e1 xy + e0 y) i with x^2, x^3, xy of Q precomputed; each
 * part's two products are added before one reduction */
static void mul_quad(fp2 *f, const fp *c, const fp pw[3], const ec_affine *Q)
{
    fp2 ln;
    fp_wide w1, w2;
    fp_mul_wide(&w1, &c[0], &pw[1]);
    fp_mul_wide(&w2, &c[1], &Q->x);
    fp_wide_add(&w1, &w1, &w2, P);
    fp_redc(&ln.a, &w1, P);
    fp_add(&ln.a, &ln.a, &c[2], P);
    fp_add(&ln.a, &ln.a, &pw[0], P);
    fp_mul_wide(&w1, &c[3], &pw[2]);
    fp_mul_wide(&w2, &c[4], &Q->y);
    fp_wide_add(&w1, &w1, &w2, P);
    fp_redc(&ln.b, &w1, P);
    fp2_mul(f, f, &ln);
    mcx_memzero(&ln, sizeof ln);
    mcx_memzero(&w1, sizeof w1);
    mcx_memzero(&w2, sizeof w2);
}

mcx_status sakke_pairing_lines(fp *out, const sakke_lines *l, const ec_affine *Q)
{
    fp2 f;
    fp pw[3]; /* x^2, x^3, xy */
    fp_sqr(&pw[0], &Q->x, P);
    fp_mul(&pw[1], &pw[0], &Q->x, P);
    fp_mul(&pw[2], &Q->x, &Q->y, P);
    f.a = sakke_p.one;
    memset(&f.b, 0, sizeof f.b);
    const fp *c = l->coef;
    for (int i = 0; i < l->n_steps; i++) {
        fp2_sqr(&f, &f);
        if (l->naf[i] == 0) {
            mul_line(&f, &c[0], &c[1], Q);
            c += 2;
        } else {
            mul_quad(&f, c, pw, Q);
            c += 5;
        }
    }
    mcx_status st = final_step(out, &f);
    mcx_memzero(&f, sizeof f);
    return st;
}
