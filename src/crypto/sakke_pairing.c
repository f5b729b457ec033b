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

/* Karatsuba with lazy reduction: three double-width products, two reductions (with the IFMA
 * kernel three fused multiplications, which cost less: fp_lazy_pays). */
void fp2_mul(fp2 *r, const fp2 *x, const fp2 *y)
{
    fp s1, s2;
    if (!fp_lazy_pays()) {
        fp p1, p2, p3;
        fp_mul(&p1, &x->a, &y->a, P);
        fp_mul(&p2, &x->b, &y->b, P);
        fp_add(&s1, &x->a, &x->b, P);
        fp_add(&s2, &y->a, &y->b, P);
        fp_mul(&p3, &s1, &s2, P);
        fp_sub(&r->a, &p1, &p2, P);
        fp_sub(&p3, &p3, &p1, P);
        fp_sub(&r->b, &p3, &p2, P);
        return;
    }
    fp_wide t1, t2, t3;
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
    /* Every line is kept "y-normalised": the line y - y_C - lambda (x - x_C) of RFC 6508 §3.2
     * at the distorted point (-x_Q, i y_Q) is (lambda x_Q + c) + y_Q i with c = lambda x_C - y_C
     * (any factor in F_p vanishes in PF_p). Per step, in order: a doubling step alone keeps
     * (lambda, c); a doubling step followed by an addition keeps the product of its two lines, a
     * polynomial in x_Q and y_Q once y_Q^2 = x_Q^3 - 3 x_Q is substituted:
     *     (-x_Q^3 + a2 x_Q^2 + a1 x_Q + a0) + (e1 x_Q y_Q + e0 y_Q) i
     * as (a2, a1, a0, e1, e0): 4M to evaluate instead of 1M + 1M for the two lines and an F_p^2
     * multiplication more. */
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

/* What the backward pass needs of a doubling step C -> 2C: alpha = 3(X^2 - Z^4), the slope's
 * numerator (lambda = alpha / Z3), nb = alpha X - 2 Y^2 (c = nb / (2 Y Z^3)) and 2Y
 * (Z3 = 2Y Z, so 1/Z = 2Y / Z3). */
typedef struct dbl_rec {
    fp alpha, nb, y2;
} dbl_rec;

/* ... and of an addition step C -> C + A: r = 2(Z^3 A_y - Y) (lambda = r / Z3) and 2H with
 * H = Z^2 A_x - X (Z3 = 2 H Z, so 1/Z = 2H / Z3). */
typedef struct add_rec {
    fp r, h2;
} add_rec;

/* C = 2C (dbl-2001-b, a = -3: 3M + 5S) and the record of its line: 1M more. */
static void dbl_forward(ec_jac *C, dbl_rec *rec)
{
    fp delta, gamma, beta, t1, t2;
    fp_sqr(&delta, &C->Z, P);
    fp_sqr(&gamma, &C->Y, P);
    fp_mul(&beta, &C->X, &gamma, P);
    fp_sub(&t1, &C->X, &delta, P);
    fp_add(&t2, &C->X, &delta, P);
    fp_mul(&rec->alpha, &t1, &t2, P);
    fp_add(&t1, &rec->alpha, &rec->alpha, P);
    fp_add(&rec->alpha, &rec->alpha, &t1, P); /* 3(X - delta)(X + delta) */
    fp_mul(&rec->nb, &rec->alpha, &C->X, P);
    fp_add(&t1, &gamma, &gamma, P);
    fp_sub(&rec->nb, &rec->nb, &t1, P); /* alpha X - 2 Y^2 */
    fp_dbl(&rec->y2, &C->Y, P);
    /* Z3 = 2 Y Z = (Y + Z)^2 - gamma - delta */
    fp_add(&t1, &C->Y, &C->Z, P);
    fp_sqr(&t1, &t1, P);
    fp_sub(&t1, &t1, &gamma, P);
    fp_sub(&C->Z, &t1, &delta, P);
    /* X3 = alpha^2 - 8 beta */
    fp_dbl(&beta, &beta, P);
    fp_dbl(&beta, &beta, P);
    fp_sqr(&t1, &rec->alpha, P);
    fp_dbl(&t2, &beta, P);
    fp_sub(&C->X, &t1, &t2, P);
    /* Y3 = alpha (4 beta - X3) - (8 gamma) gamma, both products reduced together */
    fp_sub(&t1, &beta, &C->X, P);
    fp_dbl(&t2, &gamma, P);
    fp_dbl(&t2, &t2, P);
    fp_dbl(&t2, &t2, P);
    fp_mul_sub2(&C->Y, &rec->alpha, &t1, &t2, &gamma, P);
    mcx_memzero(&gamma, sizeof gamma);
    mcx_memzero(&delta, sizeof delta);
    mcx_memzero(&beta, sizeof beta);
    mcx_memzero(&t1, sizeof t1);
    mcx_memzero(&t2, sizeof t2);
}

/* C = C + A (madd-2007-bl with Z3 = 2 H Z, A affine, A != +-C: 8M + 3S) and its record. */
static void add_forward(ec_jac *C, const ec_affine *A, add_rec *rec)
{
    fp z1z1, u2, s2, h, hh, i, j, v, x3;
    fp_sqr(&z1z1, &C->Z, P);
    fp_mul(&u2, &A->x, &z1z1, P);
    fp_mul(&s2, &A->y, &C->Z, P);
    fp_mul(&s2, &s2, &z1z1, P);
    fp_sub(&h, &u2, &C->X, P);
    fp_dbl(&rec->h2, &h, P);
    fp_sqr(&hh, &h, P);
    fp_dbl(&i, &hh, P);
    fp_dbl(&i, &i, P);
    fp_mul(&j, &h, &i, P);
    fp_sub(&rec->r, &s2, &C->Y, P);
    fp_dbl(&rec->r, &rec->r, P);
    fp_mul(&v, &C->X, &i, P);
    fp_mul(&C->Z, &C->Z, &rec->h2, P); /* 2 H Z */
    fp_sqr(&x3, &rec->r, P);
    fp_sub(&x3, &x3, &j, P);
    fp_sub(&x3, &x3, &v, P);
    fp_sub(&x3, &x3, &v, P);
    /* Y3 = r (V - X3) - (2 Y1) J, both products reduced together */
    fp_sub(&v, &v, &x3, P);
    fp_dbl(&s2, &C->Y, P);
    fp_mul_sub2(&C->Y, &rec->r, &v, &s2, &j, P);
    C->X = x3;
    mcx_memzero(&z1z1, sizeof z1z1);
    mcx_memzero(&u2, sizeof u2);
    mcx_memzero(&s2, sizeof s2);
    mcx_memzero(&h, sizeof h);
    mcx_memzero(&hh, sizeof hh);
    mcx_memzero(&i, sizeof i);
    mcx_memzero(&j, sizeof j);
    mcx_memzero(&v, sizeof v);
}

mcx_status sakke_lines_new(sakke_lines **out, const ec_affine *K, int *in_subgroup)
{
    *in_subgroup = 0;
    sakke_lines *l = calloc(1, sizeof *l);
    if (l == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory for pairing lines");
    l->n_steps = naf_q_minus_1(l->naf);
    int n_add = 0;
    for (int i = 0; i < l->n_steps; i++)
        n_add += l->naf[i] != 0;
    l->n_coef = 2 * (size_t)(l->n_steps - n_add) + 5 * (size_t)n_add;
    l->coef = mcx_secure_alloc(sizeof(fp) * l->n_coef);
    size_t dbl_size = sizeof(dbl_rec) * (size_t)l->n_steps;
    size_t add_size = sizeof(add_rec) * (size_t)(n_add > 0 ? n_add : 1);
    dbl_rec *dr = malloc(dbl_size); /* wiped below: derived from the secret K */
    add_rec *ar = malloc(add_size);
    mcx_status st = MCX_OK;
    ec_jac C;
    ec_affine negK;
    fp iz, iz_old, t, lam1, c1, lam2, c2;
    memset(&C, 0, sizeof C);
    if (l->coef == NULL || dr == NULL || ar == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory for pairing lines");
        goto out;
    }

    /* Forward: Miller's loop on C = K keeps what each line needs; no line is formed yet. */
    ec_from_affine(&C, K);
    ec_neg_affine(&negK, K, ~(uint64_t)0);
    int k = 0;
    for (int i = 0; i < l->n_steps; i++) {
        dbl_forward(&C, &dr[i]);
        if (l->naf[i] != 0)
            add_forward(&C, l->naf[i] > 0 ? K : &negK, &ar[k++]);
    }
    /* C = [q-1]K; K is in the order-q subgroup iff C = -K */
    uint64_t sub = ec_jac_eq_affine(&C, &negK);
    MCX_CT_PUBLIC(&sub, sizeof sub); /* validation verdict */
    if (!sub)
        goto out; /* no lines for a point the caller refuses */
    *in_subgroup = 1;

    /* Backward: every line needs 1/Z of the point it produced, and each step's Z3 is Z times a
     * value the forward pass kept (2Y or 2H), so one inversion of the last Z gives them all at
     * 1M a step, from the last step down (instead of a batch inversion of the lines'
     * denominators at 3M a line, plus 2M a line to normalise them). */
    st = fp_inv_blinded(&iz, &C.Z, P);
    if (st != MCX_OK)
        goto out;
    fp *c = l->coef + l->n_coef;
    for (int i = l->n_steps - 1; i >= 0; i--) {
        if (l->naf[i] != 0) {
            /* the addition line through 2C and A = +-K: lambda = r / Z3, c = lambda A_x - A_y */
            const add_rec *a = &ar[--k];
            const ec_affine *A = l->naf[i] > 0 ? K : &negK;
            fp_mul(&lam2, &a->r, &iz, P);
            fp_mul(&c2, &lam2, &A->x, P);
            fp_sub(&c2, &c2, &A->y, P);
            fp_mul(&iz, &iz, &a->h2, P); /* 1/Z of 2C */
        }
        /* the tangent at C: lambda = alpha / Z3, c = nb / (2 Y Z^3) = nb (1/Z3) (1/Z)^2 */
        const dbl_rec *d = &dr[i];
        fp_mul(&lam1, &d->alpha, &iz, P);
        fp_mul(&iz_old, &iz, &d->y2, P);
        fp_sqr(&t, &iz_old, P);
        fp_mul(&t, &t, &iz, P);
        fp_mul(&c1, &d->nb, &t, P);
        iz = iz_old;
        if (l->naf[i] == 0) {
            c -= 2;
            c[0] = lam1;
            c[1] = c1;
            continue;
        }
        /* (lam1 x + c1 + y i)(lam2 x + c2 + y i) with y^2 = x^3 - 3x:
         * -x^3 + lam1 lam2 x^2 + (lam1 c2 + lam2 c1 + 3) x + c1 c2 + ((lam1 + lam2) x + c1 + c2) y
         * i */
        c -= 5;
        fp s1, s2;
        fp_mul(&c[0], &lam1, &lam2, P); /* a2 */
        fp_mul(&c[2], &c1, &c2, P);     /* a0 */
        fp_add(&s1, &lam1, &c1, P);     /* a1 = (lam1 + c1)(lam2 + c2) - a2 - a0 + 3 */
        fp_add(&s2, &lam2, &c2, P);
        fp_mul(&s1, &s1, &s2, P);
        fp_sub(&s1, &s1, &c[0], P);
        fp_sub(&s1, &s1, &c[2], P);
        fp_add(&c[1], &s1, &sakke_three, P);
        fp_add(&c[3], &lam1, &lam2, P); /* e1 */
        fp_add(&c[4], &c1, &c2, P);     /* e0 */
        mcx_memzero(&s1, sizeof s1);
        mcx_memzero(&s2, sizeof s2);
    }
out:
    mcx_memzero(&C, sizeof C);
    mcx_memzero(&iz, sizeof iz);
    mcx_memzero(&iz_old, sizeof iz_old);
    mcx_memzero(&t, sizeof t);
    mcx_memzero(&lam1, sizeof lam1);
    mcx_memzero(&c1, sizeof c1);
    mcx_memzero(&lam2, sizeof lam2);
    mcx_memzero(&c2, sizeof c2);
    if (dr != NULL)
        mcx_memzero(dr, dbl_size);
    if (ar != NULL)
        mcx_memzero(ar, add_size);
    free(dr);
    free(ar);
    if (st != MCX_OK || !*in_subgroup) {
        sakke_lines_free(l);
        l = NULL;
    }
    *out = l;
    return st;
}

void sakke_lines_free(sakke_lines *l)
{
    if (l == NULL)
        return;
    mcx_secure_free(l->coef);
    free(l);
}

/* f *= (lambda x_Q + c) + y_Q i : 1M for lambda x_Q, 3M Karatsuba */
static void mul_line(fp2 *f, const fp *lam, const fp *c, const ec_affine *Q)
{
    fp2 ln;
    fp_mul(&ln.a, lam, &Q->x, P);
    fp_add(&ln.a, &ln.a, c, P);
    ln.b = Q->y;
    fp2_mul(f, f, &ln);
    mcx_memzero(&ln, sizeof ln); /* derived from the secret RSK's lines */
}

/* f *= (-x^3 + a2 x^2 + a1 x + a0) + (e1 xy + e0 y) i with x^2, x^3, xy of Q precomputed; each
 * part's two products are added before one reduction */
static void mul_quad(fp2 *f, const fp *c, const fp pw[3], const ec_affine *Q)
{
    fp2 ln;
    fp_mul_add2(&ln.a, &c[0], &pw[0], &c[1], &Q->x, P);
    fp_add(&ln.a, &ln.a, &c[2], P);
    fp_sub(&ln.a, &ln.a, &pw[1], P);
    fp_mul_add2(&ln.b, &c[3], &pw[2], &c[4], &Q->y, P);
    fp2_mul(f, f, &ln);
    mcx_memzero(&ln, sizeof ln);
}

void sakke_pairing_lines_fp2(fp2 *f, const sakke_lines *l, const ec_affine *Q)
{
    fp pw[3]; /* x^2, x^3, xy */
    fp_sqr(&pw[0], &Q->x, P);
    fp_mul(&pw[1], &pw[0], &Q->x, P);
    fp_mul(&pw[2], &Q->x, &Q->y, P);
    f->a = sakke_p.one;
    memset(&f->b, 0, sizeof f->b);
    const fp *c = l->coef;
    for (int i = 0; i < l->n_steps; i++) {
        fp2_sqr(f, f);
        if (l->naf[i] == 0) {
            mul_line(f, &c[0], &c[1], Q);
            c += 2;
        } else {
            mul_quad(f, c, pw, Q);
            c += 5;
        }
    }
    /* f^((p+1)/q) = f^4 (RFC 6508 §3.2 step 3) */
    fp2_sqr(f, f);
    fp2_sqr(f, f);
}

mcx_status sakke_pairing_lines(fp *out, const sakke_lines *l, const ec_affine *Q)
{
    fp2 f;
    sakke_pairing_lines_fp2(&f, l, Q);
    mcx_status st = fp2_to_pfp(out, &f); /* step 4: Im/Re */
    mcx_memzero(&f, sizeof f);
    return st;
}
