/* Constant-time arithmetic modulo the P-256 group order q (see p256_scalar_internal.h).
 *
 * Montgomery form with R = 2^256 is used only inside a product or an inversion; every value that
 * crosses the API is in normal form and fully reduced. The only branches and table indices below
 * depend on loop counters and on the public exponent q-2, never on a scalar. */
#include "crypto/p256_scalar_internal.h"

#include "common/ct_internal.h"
#include "mcxsec/mem.h"

__extension__ typedef unsigned __int128 u128;

/* q, least significant limb first */
static const uint64_t Q[4] = {0xf3b9cac2fc632551u, 0xbce6faada7179e84u, 0xffffffffffffffffu,
                              0xffffffff00000000u};
/* q - 2, the Fermat exponent: a^(q-2) = a^-1 mod q for a != 0 */
static const uint64_t Q_MINUS_2[4] = {0xf3b9cac2fc63254fu, 0xbce6faada7179e84u, 0xffffffffffffffffu,
                                      0xffffffff00000000u};
/* -q^-1 mod 2^64 */
static const uint64_t Q_INV = 0xccd1c8aaee00bc4fu;
/* R^2 mod q, to enter the Montgomery domain */
static const uint64_t R2[4] = {0x83244c95be79eea2u, 0x4699799c49bd6fa6u, 0x2845b2392b6bec59u,
                               0x66e12d94f3d95620u};
static const uint64_t ONE[4] = {1, 0, 0, 0};

/* r = t - q if the five-limb value hi:t is >= q, else t (hi is 0 or 1 and hi:t < 2q). */
static void sub_q_masked(uint64_t r[4], const uint64_t t[4], uint64_t hi)
{
    uint64_t d[4];
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)t[i] - Q[i] - borrow;
        d[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    /* hi:t < q exactly when the subtraction borrowed out of the top limb and hi is 0 */
    uint64_t keep = ct_mask_bit(borrow & (hi ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = ct_select(keep, t[i], d[i]);
}

/* lo = a*b + c + *carry, *carry = the high half (never overflows 128 bits) */
static inline uint64_t mac(uint64_t a, uint64_t b, uint64_t c, uint64_t *carry)
{
    u128 x = (u128)a * b + c + *carry;
    *carry = (uint64_t)(x >> 64);
    return (uint64_t)x;
}

/* One CIOS round: t = (t + a*bi + m*q) / 2^64 with m chosen to clear the low limb. */
static inline void mont_round(uint64_t t[5], const uint64_t a[4], uint64_t bi)
{
    uint64_t c = 0, hi;
    t[0] = mac(a[0], bi, t[0], &c);
    t[1] = mac(a[1], bi, t[1], &c);
    t[2] = mac(a[2], bi, t[2], &c);
    t[3] = mac(a[3], bi, t[3], &c);
    u128 top = (u128)t[4] + c;
    hi = (uint64_t)(top >> 64);

    uint64_t m = t[0] * Q_INV;
    c = 0;
    (void)mac(m, Q[0], t[0], &c);
    t[0] = mac(m, Q[1], t[1], &c);
    t[1] = mac(m, Q[2], t[2], &c);
    t[2] = mac(m, Q[3], t[3], &c);
    top = (u128)(uint64_t)top + c;
    t[3] = (uint64_t)top;
    t[4] = hi + (uint64_t)(top >> 64);
}

/* r = a * b * R^-1 mod q (CIOS Montgomery multiplication); a, b < q. */
static void mont_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t[5] = {0};
    mont_round(t, a, b[0]);
    mont_round(t, a, b[1]);
    mont_round(t, a, b[2]);
    mont_round(t, a, b[3]);
    sub_q_masked(r, t, t[4]);
}

static void limbs_from_bytes(uint64_t w[4], const uint8_t in[MCX_P256_SCALAR_BYTES])
{
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v = (v << 8) | in[8 * i + k];
        w[3 - i] = v;
    }
}

void mcx_p256_scalar_reduce(mcx_p256_scalar *r, const uint8_t in[MCX_P256_SCALAR_BYTES])
{
    uint64_t w[4];
    limbs_from_bytes(w, in);
    sub_q_masked(r->w, w, 0);
    mcx_memzero(w, sizeof w);
}

uint64_t mcx_p256_scalar_load(mcx_p256_scalar *r, const uint8_t in[MCX_P256_SCALAR_BYTES])
{
    uint64_t w[4];
    limbs_from_bytes(w, in);
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)w[i] - Q[i] - borrow;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    uint64_t below_q = ct_mask_bit(borrow);
    uint64_t nonzero = ct_mask_nonzero(w[0] | w[1] | w[2] | w[3]);
    sub_q_masked(r->w, w, 0);
    mcx_memzero(w, sizeof w);
    return below_q & nonzero;
}

void mcx_p256_scalar_store(uint8_t out[MCX_P256_SCALAR_BYTES], const mcx_p256_scalar *a)
{
    for (int i = 0; i < 4; i++) {
        uint64_t v = a->w[3 - i];
        for (int k = 7; k >= 0; k--) {
            out[8 * i + k] = (uint8_t)v;
            v >>= 8;
        }
    }
}

void mcx_p256_scalar_add(mcx_p256_scalar *r, const mcx_p256_scalar *a, const mcx_p256_scalar *b)
{
    uint64_t t[4];
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (u128)a->w[i] + b->w[i];
        t[i] = (uint64_t)c;
        c >>= 64;
    }
    sub_q_masked(r->w, t, (uint64_t)c);
    mcx_memzero(t, sizeof t);
}

void mcx_p256_scalar_neg(mcx_p256_scalar *r, const mcx_p256_scalar *a)
{
    uint64_t zero = mcx_p256_scalar_is_zero(a);
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)Q[i] - a->w[i] - borrow;
        borrow = (uint64_t)(x >> 64) & 1;
        r->w[i] = ct_select(zero, 0, (uint64_t)x);
    }
}

void mcx_p256_scalar_mul(mcx_p256_scalar *r, const mcx_p256_scalar *a, const mcx_p256_scalar *b)
{
    uint64_t t[4];
    mont_mul(t, a->w, b->w); /* a*b/R */
    mont_mul(r->w, t, R2);   /* (a*b/R) * R^2 / R = a*b */
    mcx_memzero(t, sizeof t);
}

/* Fixed 4-bit windows over the public exponent q-2: 252 squarings and at most 63 products. */
void mcx_p256_scalar_inv(mcx_p256_scalar *r, const mcx_p256_scalar *a)
{
    uint64_t table[16][4]; /* table[k] = a^k * R */
    uint64_t acc[4];
    mont_mul(table[0], ONE, R2);
    mont_mul(table[1], a->w, R2);
    for (int k = 2; k < 16; k++)
        mont_mul(table[k], table[k - 1], table[1]);

    for (int i = 0; i < 4; i++)
        acc[i] = table[Q_MINUS_2[3] >> 60][i];
    for (int nib = 62; nib >= 0; nib--) {
        for (int s = 0; s < 4; s++)
            mont_mul(acc, acc, acc);
        unsigned idx = (unsigned)(Q_MINUS_2[nib / 16] >> (4 * (nib % 16))) & 0xf;
        if (idx != 0) /* public: a digit of the constant exponent */
            mont_mul(acc, acc, table[idx]);
    }
    mont_mul(r->w, acc, ONE); /* leave the Montgomery domain */
    mcx_memzero(table, sizeof table);
    mcx_memzero(acc, sizeof acc);
}

uint64_t mcx_p256_scalar_is_zero(const mcx_p256_scalar *a)
{
    return ct_mask_zero(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

void mcx_p256_scalar_wipe(mcx_p256_scalar *a)
{
    mcx_memzero(a, sizeof *a);
}
