/* Arithmetic on the SAKKE curve E: y^2 = x^3 - 3x over F_p (RFC 6508 §2.1). Formulas from the
 * Explicit-Formulas Database (Bernstein-Lange): dbl-2001-b for a = -3, madd-2007-bl, add-2007-bl.
 */
#include <stdlib.h>
#include <string.h>

#include "common/ct_internal.h"
#include "common/ctgrind_internal.h"
#include "common/error_internal.h"
#include "crypto/sakke_ec_internal.h"
#include "mcxsec/mem.h"

#define P (&sakke_p)

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

mcx_status ec_decode(ec_affine *pt, const uint8_t *in, size_t len, const char *what)
{
    if (len != EC_POINT_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: %s is %zu octets, expected %d", what, len,
                        EC_POINT_BYTES);
    uint8_t prefix = in[0];
    MCX_CT_PUBLIC(&prefix, 1); /* the encoding format is public, even for a secret point */
    if (prefix != 0x04)
        return MCX_FAIL(MCX_E_ENCODING, "SAKKE: %s does not start with 0x04 (uncompressed point)",
                        what);
    fp x, y;
    if (fp_from_bytes(&x, in + 1, P, "x") != MCX_OK ||
        fp_from_bytes(&y, in + 1 + FP_BYTES, P, "y") != MCX_OK)
        return MCX_FAIL(MCX_E_ENCODING, "SAKKE: %s has a coordinate not less than p", what);
    fp_to_mont(&pt->x, &x, P);
    fp_to_mont(&pt->y, &y, P);
    uint64_t on = ec_on_curve(pt);
    MCX_CT_PUBLIC(&on, sizeof on); /* the verdict is public: the input is refused or not */
    if (!on)
        return MCX_FAIL(MCX_E_NOT_ON_CURVE, "SAKKE: %s is not on the curve y^2 = x^3 - 3x", what);
    return MCX_OK;
}

void ec_encode(uint8_t out[EC_POINT_BYTES], const ec_affine *pt)
{
    fp t;
    out[0] = 0x04;
    fp_from_mont(&t, &pt->x, P);
    fp_to_bytes(out + 1, &t);
    fp_from_mont(&t, &pt->y, P);
    fp_to_bytes(out + 1 + FP_BYTES, &t);
}

uint64_t ec_on_curve(const ec_affine *pt)
{
    fp lhs, rhs, t;
    fp_sqr(&lhs, &pt->y, P);
    fp_sqr(&t, &pt->x, P);
    fp_sub(&t, &t, &sakke_three, P); /* x^2 - 3 */
    fp_mul(&rhs, &t, &pt->x, P);     /* x^3 - 3x */
    return fp_eq(&lhs, &rhs);
}

void ec_from_affine(ec_jac *r, const ec_affine *a)
{
    r->X = a->x;
    r->Y = a->y;
    r->Z = sakke_p.one;
}

void ec_neg_affine(ec_affine *r, const ec_affine *a, uint64_t mask)
{
    fp ny;
    fp_neg(&ny, &a->y, P);
    r->x = a->x;
    r->y = a->y;
    fp_cmov(&r->y, &ny, mask);
}

void ec_dbl(ec_jac *r, const ec_jac *a)
{
    fp delta, gamma, beta, alpha, t1, t2;
    fp_sqr(&delta, &a->Z, P);
    fp_sqr(&gamma, &a->Y, P);
    fp_mul(&beta, &a->X, &gamma, P);
    fp_sub(&t1, &a->X, &delta, P);
    fp_add(&t2, &a->X, &delta, P);
    fp_mul(&alpha, &t1, &t2, P);
    fp_add(&t1, &alpha, &alpha, P);
    fp_add(&alpha, &alpha, &t1, P); /* alpha = 3(X - delta)(X + delta) */
    /* Z3 = (Y + Z)^2 - gamma - delta */
    fp_add(&t1, &a->Y, &a->Z, P);
    fp_sqr(&t1, &t1, P);
    fp_sub(&t1, &t1, &gamma, P);
    fp_sub(&r->Z, &t1, &delta, P);
    /* X3 = alpha^2 - 8 beta */
    fp_dbl(&beta, &beta, P);
    fp_dbl(&beta, &beta, P); /* 4 beta */
    fp_sqr(&t1, &alpha, P);
    fp_dbl(&t2, &beta, P);
    fp_sub(&r->X, &t1, &t2, P);
    /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
    fp_sub(&t1, &beta, &r->X, P);
    fp_mul(&t1, &alpha, &t1, P);
    fp_sqr(&gamma, &gamma, P);
    fp_dbl(&gamma, &gamma, P);
    fp_dbl(&gamma, &gamma, P);
    fp_dbl(&gamma, &gamma, P);
    fp_sub(&r->Y, &t1, &gamma, P);
}

void ec_madd(ec_jac *r, const ec_jac *a, const ec_affine *b, uint64_t *exceptional)
{
    fp z1z1, u2, s2, h, hh, i, j, rr, v, t;
    fp_sqr(&z1z1, &a->Z, P);
    fp_mul(&u2, &b->x, &z1z1, P);
    fp_mul(&s2, &b->y, &a->Z, P);
    fp_mul(&s2, &s2, &z1z1, P);
    fp_sub(&h, &u2, &a->X, P);
    *exceptional |= fp_is_zero(&h);
    fp_sqr(&hh, &h, P);
    fp_dbl(&i, &hh, P);
    fp_dbl(&i, &i, P);
    fp_mul(&j, &h, &i, P);
    fp_sub(&rr, &s2, &a->Y, P);
    fp_dbl(&rr, &rr, P);
    fp_mul(&v, &a->X, &i, P);
    /* Z3 = (Z1 + H)^2 - Z1Z1 - HH (computed before X3/Y3 overwrite a when r == a) */
    fp_add(&t, &a->Z, &h, P);
    fp_sqr(&t, &t, P);
    fp_sub(&t, &t, &z1z1, P);
    fp_sub(&t, &t, &hh, P);
    fp y1j;
    fp_mul(&y1j, &a->Y, &j, P);
    r->Z = t;
    /* X3 = r^2 - J - 2V */
    fp_sqr(&t, &rr, P);
    fp_sub(&t, &t, &j, P);
    fp_sub(&t, &t, &v, P);
    fp_sub(&r->X, &t, &v, P);
    /* Y3 = r (V - X3) - 2 Y1 J */
    fp_sub(&t, &v, &r->X, P);
    fp_mul(&t, &rr, &t, P);
    fp_dbl(&y1j, &y1j, P);
    fp_sub(&r->Y, &t, &y1j, P);
}

/* General Jacobian addition (add-2007-bl) with every special case handled; variable-time. */
static void ec_add_vartime(ec_jac *r, const ec_jac *a, const ec_jac *b)
{
    if (fp_is_zero(&a->Z)) {
        *r = *b;
        return;
    }
    if (fp_is_zero(&b->Z)) {
        *r = *a;
        return;
    }
    fp z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
    fp_sqr(&z1z1, &a->Z, P);
    fp_sqr(&z2z2, &b->Z, P);
    fp_mul(&u1, &a->X, &z2z2, P);
    fp_mul(&u2, &b->X, &z1z1, P);
    fp_mul(&s1, &a->Y, &b->Z, P);
    fp_mul(&s1, &s1, &z2z2, P);
    fp_mul(&s2, &b->Y, &a->Z, P);
    fp_mul(&s2, &s2, &z1z1, P);
    fp_sub(&h, &u2, &u1, P);
    fp_sub(&rr, &s2, &s1, P);
    if (fp_is_zero(&h)) {
        if (fp_is_zero(&rr)) {
            ec_dbl(r, a);
        } else {
            memset(r, 0, sizeof *r); /* a = -b: infinity */
            r->X = sakke_p.one;
            r->Y = sakke_p.one;
        }
        return;
    }
    fp_dbl(&i, &h, P);
    fp_sqr(&i, &i, P);
    fp_mul(&j, &h, &i, P);
    fp_dbl(&rr, &rr, P);
    fp_mul(&v, &u1, &i, P);
    fp z3;
    fp_add(&z3, &a->Z, &b->Z, P);
    fp_sqr(&z3, &z3, P);
    fp_sub(&z3, &z3, &z1z1, P);
    fp_sub(&z3, &z3, &z2z2, P);
    fp_mul(&r->Z, &z3, &h, P);
    fp_sqr(&t, &rr, P);
    fp_sub(&t, &t, &j, P);
    fp_sub(&t, &t, &v, P);
    fp_sub(&r->X, &t, &v, P);
    fp_sub(&t, &v, &r->X, P);
    fp_mul(&t, &rr, &t, P);
    fp_mul(&s1, &s1, &j, P);
    fp_dbl(&s1, &s1, P);
    fp_sub(&r->Y, &t, &s1, P);
}

void ec_mul_vartime(ec_jac *r, const ec_affine *base, const uint64_t *k, size_t nlimbs)
{
    ec_jac acc, b;
    memset(&acc, 0, sizeof acc);
    ec_from_affine(&b, base);
    for (size_t i = nlimbs * 64; i-- > 0;) {
        if (!fp_is_zero(&acc.Z))
            ec_dbl(&acc, &acc);
        if ((k[i / 64] >> (i % 64)) & 1)
            ec_add_vartime(&acc, &acc, &b);
    }
    *r = acc;
}

int ec_in_subgroup_vartime(const ec_affine *pt)
{
    ec_jac r;
    ec_mul_vartime(&r, pt, sakke_q.m, FP_LIMBS);
    return fp_is_zero(&r.Z) != 0;
}

uint64_t ec_jac_eq_affine(const ec_jac *a, const ec_affine *b)
{
    fp z2, z3, t;
    fp_sqr(&z2, &a->Z, P);
    fp_mul(&z3, &z2, &a->Z, P);
    fp_mul(&t, &b->x, &z2, P);
    uint64_t eq = fp_eq(&t, &a->X);
    fp_mul(&t, &b->y, &z3, P);
    eq &= fp_eq(&t, &a->Y);
    return eq & ~fp_is_zero(&a->Z);
}

/* ---- twisted Edwards form (see sakke_ec_internal.h) ---------------------------------------- */

void ed_from_weierstrass(ed_point *r, const ec_affine *a)
{
    /* x_E = c s x / y = A / C and y_E = (x - s) / (x + s) = B / C with A = c s x (x + s),
     * B = (x - s) y, C = y (x + s); extended: (A C : B C : C^2 : A B) */
    fp xps, xms, A, B, C;
    fp_add(&xps, &a->x, &sakke_ed_s, P);
    fp_sub(&xms, &a->x, &sakke_ed_s, P);
    fp_mul(&A, &a->x, &xps, P);
    fp_mul(&A, &A, &sakke_ed_cs, P);
    fp_mul(&B, &xms, &a->y, P);
    fp_mul(&C, &a->y, &xps, P);
    fp_mul(&r->X, &A, &C, P);
    fp_mul(&r->Y, &B, &C, P);
    fp_sqr(&r->Z, &C, P);
    fp_mul(&r->T, &A, &B, P);
}

void ed_madd(ed_point *r, const ed_point *a, const ed_niels *b)
{
    fp A, B, C, D, E, F, G, H;
    fp_sub(&A, &a->Y, &a->X, P);
    fp_mul(&A, &A, &b->ym, P);
    fp_add(&B, &a->Y, &a->X, P);
    fp_mul(&B, &B, &b->yp, P);
    fp_mul(&C, &a->T, &b->t2, P);
    fp_add(&D, &a->Z, &a->Z, P);
    fp_sub(&E, &B, &A, P);
    fp_sub(&F, &D, &C, P);
    fp_add(&G, &D, &C, P);
    fp_add(&H, &B, &A, P);
    fp_mul(&r->X, &E, &F, P);
    fp_mul(&r->Y, &G, &H, P);
    fp_mul(&r->T, &E, &H, P);
    fp_mul(&r->Z, &F, &G, P);
}

void ed_add(ed_point *r, const ed_point *a, const ed_point *b)
{
    fp A, B, C, D, E, F, G, H, t;
    fp_sub(&A, &a->Y, &a->X, P);
    fp_sub(&t, &b->Y, &b->X, P);
    fp_mul(&A, &A, &t, P);
    fp_add(&B, &a->Y, &a->X, P);
    fp_add(&t, &b->Y, &b->X, P);
    fp_mul(&B, &B, &t, P);
    fp_mul(&C, &a->T, &b->T, P);
    fp_add(&C, &C, &C, P); /* 2d T1 T2 with d = 1 */
    fp_mul(&D, &a->Z, &b->Z, P);
    fp_add(&D, &D, &D, P);
    fp_sub(&E, &B, &A, P);
    fp_sub(&F, &D, &C, P);
    fp_add(&G, &D, &C, P);
    fp_add(&H, &B, &A, P);
    fp_mul(&r->X, &E, &F, P);
    fp_mul(&r->Y, &G, &H, P);
    fp_mul(&r->T, &E, &H, P);
    fp_mul(&r->Z, &F, &G, P);
}

void ed_dbl(ed_point *r, const ed_point *a)
{
    fp A, B, C, E, F, G, H;
    fp_sqr(&A, &a->X, P);
    fp_sqr(&B, &a->Y, P);
    fp_sqr(&C, &a->Z, P);
    fp_add(&C, &C, &C, P);
    fp_add(&E, &a->X, &a->Y, P);
    fp_sqr(&E, &E, P);
    fp_sub(&E, &E, &A, P);
    fp_sub(&E, &E, &B, P); /* 2XY */
    fp_sub(&G, &B, &A, P); /* D + B with D = aA = -A */
    fp_sub(&F, &G, &C, P);
    fp_add(&H, &A, &B, P); /* -(D - B) */
    fp_neg(&H, &H, P);
    fp_mul(&r->X, &E, &F, P);
    fp_mul(&r->Y, &G, &H, P);
    fp_mul(&r->T, &E, &H, P);
    fp_mul(&r->Z, &F, &G, P);
}

void ed_from_niels(ed_point *r, const ed_niels *n)
{
    fp_sub(&r->X, &n->yp, &n->ym, P);
    fp_add(&r->Y, &n->yp, &n->ym, P);
    r->Z = sakke_two;
    r->T = n->t2;
}

void ed_niels_cneg(ed_niels *r, const ed_niels *n, uint64_t mask)
{
    fp nt;
    fp_neg(&nt, &n->t2, P);
    for (int i = 0; i < FP_LIMBS; i++) {
        uint64_t d = mask & (n->ym.v[i] ^ n->yp.v[i]);
        uint64_t ym = n->ym.v[i] ^ d, yp = n->yp.v[i] ^ d;
        r->ym.v[i] = ym;
        r->yp.v[i] = yp;
        r->t2.v[i] = ct_select(mask, nt.v[i], n->t2.v[i]);
    }
}

void ed_to_weierstrass_den(fp *den, const ed_point *a)
{
    fp t;
    fp_sub(&t, &a->Z, &a->Y, P);
    fp_mul(den, &t, &a->X, P);
}

void ed_to_weierstrass_finish(ec_affine *r, const ed_point *a, const fp *den_inv)
{
    /* x = s (Z + Y) X / den, y = -3c Z (Z + Y) / den */
    fp zpy, t;
    fp_add(&zpy, &a->Z, &a->Y, P);
    fp_mul(&zpy, &zpy, den_inv, P);
    fp_mul(&t, &zpy, &a->X, P);
    fp_mul(&r->x, &t, &sakke_ed_s, P);
    fp_mul(&t, &zpy, &a->Z, P);
    fp_mul(&r->y, &t, &sakke_ed_m3c, P);
}

mcx_status ed_to_weierstrass(ec_affine *r, const ed_point *a)
{
    fp den, inv;
    ed_to_weierstrass_den(&den, a);
    MCX_GUARD(fp_inv_blinded(&inv, &den, P));
    ed_to_weierstrass_finish(r, a, &inv);
    mcx_memzero(&inv, sizeof inv);
    return MCX_OK;
}

uint64_t ed_eq_weierstrass(const ed_point *a, const ec_affine *b)
{
    fp zmy, zpy, l, rr;
    fp_sub(&zmy, &a->Z, &a->Y, P);
    fp_add(&zpy, &a->Z, &a->Y, P);
    fp_mul(&l, &b->x, &zmy, P);
    fp_mul(&rr, &sakke_ed_s, &zpy, P);
    uint64_t eq = fp_eq(&l, &rr);
    fp_mul(&l, &b->y, &zmy, P);
    fp_mul(&l, &l, &a->X, P);
    fp_mul(&rr, &sakke_ed_m3c, &zpy, P);
    fp_mul(&rr, &rr, &a->Z, P);
    eq &= fp_eq(&l, &rr);
    return eq & ~fp_is_zero(&zmy);
}

/* ---- inversion ---------------------------------------------------------------------------- */

/* Bits [pos, pos + 33) of x (16 limbs), pos >= 0. */
static uint64_t bits33(const uint64_t x[FP_LIMBS], int pos)
{
    int w = pos / 64, o = pos % 64;
    uint64_t v = x[w] >> o;
    if (o != 0 && w + 1 < FP_LIMBS)
        v |= x[w + 1] << (64 - o);
    return v & (((uint64_t)1 << 33) - 1);
}

static int bitlen(const uint64_t x[FP_LIMBS])
{
    for (int i = FP_LIMBS - 1; i >= 0; i--)
        if (x[i] != 0)
            return 64 * i + 64 - __builtin_clzll(x[i]);
    return 0;
}

/* r = (x f + y g) / 2^31 for |f|, |g| <= 2^31, x, y < 2^1024, where the division is exact;
 * returns 1 if the result was negative (then r holds its absolute value). */
static int lin_shift(uint64_t r[FP_LIMBS], const uint64_t x[FP_LIMBS], const uint64_t y[FP_LIMBS],
                     int64_t f, int64_t g)
{
    uint64_t t[FP_LIMBS + 1];
    i128 c = 0;
    for (int i = 0; i < FP_LIMBS; i++) {
        c += (i128)f * (i128)x[i] + (i128)g * (i128)y[i];
        t[i] = (uint64_t)c;
        c >>= 64; /* arithmetic */
    }
    t[FP_LIMBS] = (uint64_t)c;
    int neg = (int64_t)t[FP_LIMBS] < 0;
    if (neg) {
        unsigned char borrow = 1; /* two's complement: ~t + 1 */
        for (int i = 0; i <= FP_LIMBS; i++) {
            t[i] = ~t[i] + borrow;
            borrow = borrow && t[i] == 0;
        }
    }
    for (int i = 0; i < FP_LIMBS; i++)
        r[i] = (t[i] >> 31) | (t[i + 1] << 33);
    return neg;
}

/* r = (u f + v g) / 2^31 mod m for u, v in [0, m): Montgomery-style exact division. */
static void lin_mod(uint64_t r[FP_LIMBS], const uint64_t u[FP_LIMBS], const uint64_t v[FP_LIMBS],
                    int64_t f, int64_t g, const fp_mod *md)
{
    uint64_t t[FP_LIMBS + 1];
    i128 c = 0;
    for (int i = 0; i < FP_LIMBS; i++) {
        c += (i128)f * (i128)u[i] + (i128)g * (i128)v[i];
        t[i] = (uint64_t)c;
        c >>= 64;
    }
    t[FP_LIMBS] = (uint64_t)c;
    /* k = -t m^-1 mod 2^31 makes t + k m divisible by 2^31; |t + k m| / 2^31 < 3m */
    uint64_t k = (t[0] * md->m0inv) & 0x7fffffff;
    i128 d = 0;
    for (int i = 0; i < FP_LIMBS; i++) {
        d += (i128)t[i] + (i128)k * md->m[i];
        t[i] = (uint64_t)d;
        d >>= 64;
    }
    t[FP_LIMBS] = (uint64_t)(d + (int64_t)t[FP_LIMBS]);
    int64_t hi = (int64_t)t[FP_LIMBS] >> 31;
    for (int i = 0; i < FP_LIMBS; i++)
        r[i] = (t[i] >> 31) | (t[i + 1] << 33);
    /* bring hi 2^1024 + r into [0, m) */
    for (;;) {
        int sub = hi > 0;
        if (hi == 0) {
            sub = 1; /* r >= m? */
            for (int i = FP_LIMBS - 1; i >= 0; i--) {
                if (r[i] != md->m[i]) {
                    sub = r[i] > md->m[i];
                    break;
                }
            }
        }
        if (hi >= 0 && !sub)
            break;
        u128 x = 0;
        for (int i = 0; i < FP_LIMBS; i++) {
            if (hi < 0)
                x = (u128)r[i] + md->m[i] + (uint64_t)(x >> 64);
            else
                x = (u128)r[i] - md->m[i] - ((uint64_t)(x >> 64) & 1);
            r[i] = (uint64_t)x;
        }
        if (hi < 0)
            hi += (int64_t)(x >> 64);
        else
            hi -= (int64_t)((x >> 64) & 1);
    }
}

/* y^-1 mod m for a public y in [1, m), m odd: Pornin's optimised binary GCD ("Optimized Binary
 * GCD for Modular Inversion", 2020, algorithm 2), 31 steps at a time on 64-bit approximations of
 * a and b (the low 31 and the top 33 bits), then one update of the full values. Variable-time:
 * only ever given blinded (uniformly random) values. Returns 0 if y is not invertible. */
static int inv_vartime(uint64_t out[FP_LIMBS], const uint64_t y[FP_LIMBS], const fp_mod *md)
{
    uint64_t a[FP_LIMBS], b[FP_LIMBS], u[FP_LIMBS], v[FP_LIMBS], na[FP_LIMBS], nb[FP_LIMBS];
    memcpy(a, y, sizeof a);
    memcpy(b, md->m, sizeof b);
    memset(u, 0, sizeof u);
    u[0] = 1;
    memset(v, 0, sizeof v);
    /* at most 2 * 1024 - 1 inner steps (Pornin, theorem 1); the cap is only a safety net */
    for (int it = 0; it < 80; it++) {
        int la = bitlen(a), lb = bitlen(b);
        if (la == 0)
            break;
        int n = la > lb ? la : lb;
        uint64_t xa, xb;
        if (n <= 64) {
            xa = a[0];
            xb = b[0];
        } else {
            xa = (a[0] & 0x7fffffff) | (bits33(a, n - 33) << 31);
            xb = (b[0] & 0x7fffffff) | (bits33(b, n - 33) << 31);
        }
        int64_t f0 = 1, g0 = 0, f1 = 0, g1 = 1;
        for (int j = 0; j < 31; j++) {
            if (xa & 1) {
                if (xa < xb) {
                    uint64_t tx = xa;
                    xa = xb;
                    xb = tx;
                    int64_t tf = f0, tg = g0;
                    f0 = f1;
                    g0 = g1;
                    f1 = tf;
                    g1 = tg;
                }
                xa -= xb;
                f0 -= f1;
                g0 -= g1;
            }
            xa >>= 1;
            f1 *= 2;
            g1 *= 2;
        }
        if (lin_shift(na, a, b, f0, g0)) {
            f0 = -f0;
            g0 = -g0;
        }
        if (lin_shift(nb, a, b, f1, g1)) {
            f1 = -f1;
            g1 = -g1;
        }
        memcpy(a, na, sizeof a);
        memcpy(b, nb, sizeof b);
        lin_mod(na, u, v, f0, g0, md);
        lin_mod(nb, u, v, f1, g1, md);
        memcpy(u, na, sizeof u);
        memcpy(v, nb, sizeof v);
    }
    /* a = 0 and b = gcd(y, m) = 1, with b = v y mod m */
    int ok = bitlen(a) == 0 && bitlen(b) == 1;
    memcpy(out, v, sizeof v);
    return ok;
}

mcx_status fp_inv_blinded(fp *r, const fp *a, const fp_mod *md)
{
    /* a is in Montgomery form: A = a*R. With a random nonzero beta (plain), compute
     * (A*beta)^-1 with a fast variable-time inversion: A*beta is uniformly distributed and
     * independent of a, so the time it takes reveals nothing about a. */
    uint8_t rnd[FP_BYTES];
    fp beta, blinded, inv;
    uint64_t zero = fp_is_zero(a);
    MCX_CT_PUBLIC(&zero, sizeof zero); /* zero only for a refused input or with negligible odds */
    if (zero)
        return MCX_FAIL(MCX_E_RANGE, "SAKKE: inversion of zero");
    do {
        MCX_GUARD(mcx_random(rnd, sizeof rnd));
        fp_from_bytes_reduce(&beta, rnd, md);
    } while (fp_is_zero(&beta));
    mcx_memzero(rnd, sizeof rnd);
    fp_mul(&blinded, a, &beta, md);          /* (a R) beta R^-1 = a*beta as a plain integer */
    MCX_CT_PUBLIC(&blinded, sizeof blinded); /* uniformly random: see above */
    if (!inv_vartime(inv.v, blinded.v, md)) {
        mcx_memzero(&beta, sizeof beta);
        return MCX_FAIL(MCX_E_INTERNAL, "SAKKE: blinded inversion failed");
    }
    /* inv = (a beta)^-1. Into Montgomery form, then times beta R: a^-1 R. */
    fp_to_mont(&inv, &inv, md);
    fp_to_mont(&beta, &beta, md);
    fp_mul(r, &inv, &beta, md);
    mcx_memzero(&beta, sizeof beta);
    return MCX_OK;
}

void ec_to_affine_vartime(ec_affine *r, const ec_jac *a)
{
    fp zi, zi2;
    fp_inv(&zi, &a->Z, P);
    fp_sqr(&zi2, &zi, P);
    fp_mul(&r->x, &a->X, &zi2, P);
    fp_mul(&zi2, &zi2, &zi, P);
    fp_mul(&r->y, &a->Y, &zi2, P);
}

mcx_status ec_to_affine(ec_affine *r, const ec_jac *a)
{
    fp zi, zi2;
    MCX_GUARD(fp_inv_blinded(&zi, &a->Z, P));
    fp_sqr(&zi2, &zi, P);
    fp_mul(&r->x, &a->X, &zi2, P);
    fp_mul(&zi2, &zi2, &zi, P);
    fp_mul(&r->y, &a->Y, &zi2, P);
    return MCX_OK;
}
