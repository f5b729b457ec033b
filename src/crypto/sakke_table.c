/* Fixed-base scalar multiplication on the SAKKE curve with precomputed tables (for P, once per
 * process, and for each KMS's Z).
 *
 * The scalar is recoded into regular signed odd digits (Joye-Tunstall): for odd k < 2^N,
 * u = (k + 2^N - 1) / 2 and digit_i = 2 * u_i - (2^W - 1), where u_i is the i-th W-bit chunk of
 * u. Every digit is odd and nonzero, so the accumulator never meets the point at infinity and the
 * same sequence of W-bit table reads and mixed additions is done for every scalar. An even k is
 * replaced by q - k (odd) and the result negated. Each table read scans all 2^(W-1) entries.
 *
 * The entries and the accumulator live on the twisted Edwards form of the curve
 * (sakke_ec_internal.h): 7M a window instead of 11M, and since every point involved has order q
 * the unified addition has no exceptional case. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/ct_internal.h"
#include "common/ctgrind_internal.h"
#include "common/error_internal.h"
#include "crypto/sakke_ec_internal.h"
#include "mcxsec/mem.h"

__extension__ typedef unsigned __int128 u128;

#define P            (&sakke_p)
#define TABLE_POINTS (EC_TABLE_WINS * EC_TABLE_ODD)
#define RECODE_BITS  (EC_TABLE_W * EC_TABLE_WINS)

struct ec_table {
    ed_point base;
    ed_niels pts[TABLE_POINTS]; /* pts[i * ODD + j] = [(2j+1) 2^(W i)] base */
};

ec_table *ec_table_new(const ec_affine *base)
{
    ec_table *t = malloc(sizeof *t);
    ed_point *pt = malloc(sizeof(ed_point) * TABLE_POINTS);
    fp *prod = malloc(sizeof(fp) * TABLE_POINTS);
    if (t == NULL || pt == NULL || prod == NULL) {
        free(t);
        free(pt);
        free(prod);
        return NULL;
    }
    /* the base of a table is public: none of this needs to be constant-time */
    ed_point b;
    ed_from_weierstrass(&b, base);
    t->base = b;
    for (int i = 0; i < EC_TABLE_WINS; i++) {
        ed_point twice;
        ed_dbl(&twice, &b);
        pt[i * EC_TABLE_ODD] = b;
        for (int j = 1; j < EC_TABLE_ODD; j++)
            ed_add(&pt[i * EC_TABLE_ODD + j], &pt[i * EC_TABLE_ODD + j - 1], &twice);
        for (int k = 0; k < EC_TABLE_W; k++)
            ed_dbl(&b, &b);
    }
    /* Batch-normalise (Montgomery's trick): one inversion for all Z. */
    prod[0] = pt[0].Z;
    for (int i = 1; i < TABLE_POINTS; i++)
        fp_mul(&prod[i], &prod[i - 1], &pt[i].Z, P);
    fp inv;
    fp_inv(&inv, &prod[TABLE_POINTS - 1], P);
    for (int i = TABLE_POINTS - 1; i >= 0; i--) {
        fp zi, x, y;
        if (i > 0) {
            fp_mul(&zi, &inv, &prod[i - 1], P);
            fp_mul(&inv, &inv, &pt[i].Z, P);
        } else {
            zi = inv;
        }
        fp_mul(&x, &pt[i].X, &zi, P);
        fp_mul(&y, &pt[i].Y, &zi, P);
        fp_sub(&t->pts[i].ym, &y, &x, P);
        fp_add(&t->pts[i].yp, &y, &x, P);
        fp_mul(&t->pts[i].t2, &x, &y, P);
        fp_add(&t->pts[i].t2, &t->pts[i].t2, &t->pts[i].t2, P);
    }
    free(pt);
    free(prod);
    return t;
}

void ec_table_free(ec_table *t)
{
    free(t);
}

const ed_point *ec_table_base(const ec_table *t)
{
    return &t->base;
}

mcx_status ec_recode(recoded *rc, const fp *k)
{
    uint64_t zero = fp_is_zero(k);
    MCX_CT_PUBLIC(&zero, sizeof zero); /* a zero scalar is refused, never used */
    if (zero)
        return MCX_FAIL(MCX_E_RANGE, "SAKKE: scalar is zero");
    /* k' = q - k if k is even */
    fp qk;
    uint64_t borrow = 0;
    for (int i = 0; i < FP_LIMBS; i++) {
        u128 d = (u128)sakke_q.m[i] - k->v[i] - borrow;
        qk.v[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
    rc->negate = ct_mask_bit((k->v[0] & 1) ^ 1);
    fp kk = *k;
    fp_cmov(&kk, &qk, rc->negate);
    /* + (2^N - 1): all-ones limbs, then the top limb's low N-1024 bits */
    uint64_t carry = 0;
    uint64_t w[FP_LIMBS + 1];
    for (int i = 0; i < FP_LIMBS; i++) {
        u128 s = (u128)kk.v[i] + UINT64_MAX + carry;
        w[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    w[FP_LIMBS] = ((uint64_t)1 << (RECODE_BITS - 1024)) - 1 + carry;
    /* >> 1 */
    for (int i = 0; i < FP_LIMBS; i++)
        rc->u[i] = (w[i] >> 1) | (w[i + 1] << 63);
    rc->u[FP_LIMBS] = w[FP_LIMBS] >> 1;
    mcx_memzero(&kk, sizeof kk);
    mcx_memzero(&qk, sizeof qk);
    mcx_memzero(w, sizeof w);
    return MCX_OK;
}

/* W-bit chunk i of u */
static unsigned chunk(const recoded *rc, int i)
{
    int bit = i * EC_TABLE_W;
    uint64_t lo = rc->u[bit / 64] >> (bit % 64);
    if (bit % 64 > 64 - EC_TABLE_W && bit / 64 + 1 <= FP_LIMBS)
        lo |= rc->u[bit / 64 + 1] << (64 - bit % 64);
    return (unsigned)(lo & ((1u << EC_TABLE_W) - 1));
}

unsigned ec_recode_digit(const recoded *rc, int i, uint64_t *negative)
{
    unsigned c = chunk(rc, i);
    uint64_t top = ct_mask_bit((c >> (EC_TABLE_W - 1)) & 1);
    /* digit = 2c - (2^W - 1); |digit| = 2 idx + 1 with idx = c - 2^(W-1) if top, else
     * 2^(W-1) - 1 - c; negative when top is clear */
    *negative = ~top ^ rc->negate;
    return (c ^ (unsigned)(~top & (EC_TABLE_ODD - 1))) & (EC_TABLE_ODD - 1);
}

/* 16 words in 8 two-word vectors (SSE2 on x86-64, plain words elsewhere): the accumulators stay
 * in registers while the rows stream past. */
typedef uint64_t u64x2 __attribute__((vector_size(16), aligned(8)));

static void lookup_generic(uint64_t *out, const uint64_t *rows, unsigned n, unsigned words,
                           unsigned idx)
{
    for (unsigned b = 0; b < words; b += 16) {
        u64x2 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (unsigned j = 0; j < n; j++) {
            uint64_t m = ct_mask_eq(j, idx);
            u64x2 mm = {m, m};
            const u64x2 *e = (const u64x2 *)(rows + (size_t)j * words + b);
            a0 |= e[0] & mm;
            a1 |= e[1] & mm;
            a2 |= e[2] & mm;
            a3 |= e[3] & mm;
            a4 |= e[4] & mm;
            a5 |= e[5] & mm;
            a6 |= e[6] & mm;
            a7 |= e[7] & mm;
        }
        u64x2 *o = (u64x2 *)(out + b);
        o[0] = a0;
        o[1] = a1;
        o[2] = a2;
        o[3] = a3;
        o[4] = a4;
        o[5] = a5;
        o[6] = a6;
        o[7] = a7;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same with four-word AVX2 vectors, 32 words at a time, chosen at run time when the CPU has
 * AVX2 (the lookups are bound by the vector operations, not by memory). */
typedef uint64_t u64x4 __attribute__((vector_size(32), aligned(8)));

__attribute__((target("avx2"))) static void lookup_avx2(uint64_t *out, const uint64_t *rows,
                                                        unsigned n, unsigned words, unsigned idx)
{
    unsigned b = 0;
    for (; b + 32 <= words; b += 32) {
        u64x4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (unsigned j = 0; j < n; j++) {
            uint64_t m = ct_mask_eq(j, idx);
            u64x4 mm = {m, m, m, m};
            const u64x4 *e = (const u64x4 *)(rows + (size_t)j * words + b);
            a0 |= e[0] & mm;
            a1 |= e[1] & mm;
            a2 |= e[2] & mm;
            a3 |= e[3] & mm;
            a4 |= e[4] & mm;
            a5 |= e[5] & mm;
            a6 |= e[6] & mm;
            a7 |= e[7] & mm;
        }
        u64x4 *o = (u64x4 *)(out + b);
        o[0] = a0;
        o[1] = a1;
        o[2] = a2;
        o[3] = a3;
        o[4] = a4;
        o[5] = a5;
        o[6] = a6;
        o[7] = a7;
    }
    for (; b < words; b += 16) {
        u64x4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        for (unsigned j = 0; j < n; j++) {
            uint64_t m = ct_mask_eq(j, idx);
            u64x4 mm = {m, m, m, m};
            const u64x4 *e = (const u64x4 *)(rows + (size_t)j * words + b);
            a0 |= e[0] & mm;
            a1 |= e[1] & mm;
            a2 |= e[2] & mm;
            a3 |= e[3] & mm;
        }
        u64x4 *o = (u64x4 *)(out + b);
        o[0] = a0;
        o[1] = a1;
        o[2] = a2;
        o[3] = a3;
    }
}

/* 0 = not decided yet, 1 = generic, 2 = AVX2; every racing thread computes the same value */
static _Atomic int lookup_choice;

void ec_ct_lookup(uint64_t *out, const uint64_t *rows, unsigned n, unsigned words, unsigned idx)
{
    int c = atomic_load_explicit(&lookup_choice, memory_order_relaxed);
    if (c == 0) {
        __builtin_cpu_init();
        c = __builtin_cpu_supports("avx2") ? 2 : 1;
        atomic_store_explicit(&lookup_choice, c, memory_order_relaxed);
    }
    if (c == 2)
        lookup_avx2(out, rows, n, words, idx);
    else
        lookup_generic(out, rows, n, words, idx);
}
#else
void ec_ct_lookup(uint64_t *out, const uint64_t *rows, unsigned n, unsigned words, unsigned idx)
{
    lookup_generic(out, rows, n, words, idx);
}
#endif

/* Constant-time read of digit i's entry, negated for a negative digit. */
static void select_entry(ed_niels *r, const ec_table *t, const recoded *rc, int i)
{
    uint64_t negative;
    unsigned idx = ec_recode_digit(rc, i, &negative);
    ed_niels n;
    /* an entry is ym, yp, t2: 3 * FP_LIMBS consecutive words */
    ec_ct_lookup((uint64_t *)&n, (const uint64_t *)&t->pts[i * EC_TABLE_ODD], EC_TABLE_ODD,
                 3 * FP_LIMBS, idx);
    ed_niels_cneg(r, &n, negative);
    mcx_memzero(&n, sizeof n);
}

/* The same for a public scalar: the entry is read at its index. */
static void select_entry_public(ed_niels *r, const ec_table *t, const recoded *rc, int i)
{
    uint64_t negative;
    unsigned idx = ec_recode_digit(rc, i, &negative);
    ed_niels_cneg(r, &t->pts[i * EC_TABLE_ODD + idx], negative);
}

/* acc += [digits of rc] * table, windows 0..WINS-1; acc starts from window 0's point if *fresh.
 * For a scalar replaced by q - k every digit's sign is flipped, which negates its contribution. */
static void accumulate(ed_point *acc, int *fresh, const ec_table *t, const recoded *rc,
                       int public_scalar)
{
    ed_niels pt;
    for (int i = 0; i < EC_TABLE_WINS; i++) {
        if (public_scalar)
            select_entry_public(&pt, t, rc, i);
        else
            select_entry(&pt, t, rc, i);
        if (*fresh) {
            ed_from_niels(acc, &pt);
            *fresh = 0;
        } else {
            ed_madd(acc, acc, &pt);
        }
    }
    mcx_memzero(&pt, sizeof pt);
}

mcx_status ec_table_mul2(ed_point *r, const ec_table *t1, const fp *k1, const ec_table *t2,
                         const fp *k2)
{
    recoded rc1, rc2;
    mcx_status st = ec_recode(&rc1, k1);
    if (st == MCX_OK && t2 != NULL)
        st = ec_recode(&rc2, k2);
    if (st != MCX_OK)
        return st;
    int fresh = 1;
    accumulate(r, &fresh, t1, &rc1, 0);
    if (t2 != NULL)
        accumulate(r, &fresh, t2, &rc2, 0);
    mcx_memzero(&rc1, sizeof rc1);
    mcx_memzero(&rc2, sizeof rc2);
    return MCX_OK;
}

mcx_status ec_table_mul_public(ed_point *r, const ec_table *t, const fp *k)
{
    recoded rc;
    MCX_GUARD(ec_recode(&rc, k));
    int fresh = 1;
    accumulate(r, &fresh, t, &rc, 1);
    return MCX_OK;
}

mcx_status ec_table_mul(ec_affine *r, const ec_table *t, const fp *k)
{
    ed_point acc;
    MCX_GUARD(ec_table_mul2(&acc, t, k, NULL, NULL));
    mcx_status st = ed_to_weierstrass(r, &acc);
    mcx_memzero(&acc, sizeof acc);
    return st;
}

static ec_table *p_table;
static pthread_once_t p_table_once = PTHREAD_ONCE_INIT;

static void p_table_init(void)
{
    sakke_params_init();
    p_table = ec_table_new(&sakke_P);
}

const ec_table *sakke_P_table(void)
{
    pthread_once(&p_table_once, p_table_init);
    return p_table;
}
