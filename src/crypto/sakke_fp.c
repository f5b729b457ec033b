/* Montgomery arithmetic modulo the 1024-bit SAKKE prime p and group order q (see
 * sakke_fp_internal.h). Portable C with unsigned __int128, plus MULX/ADCX/ADOX kernels for
 * fp_mul and fp_sqr on x86-64 CPUs with BMI2 and ADX (sakke_fp_mont_internal.h; chosen once at
 * run time). Constant-time throughout except the functions named _vartime, which only ever see
 * public values. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/ct_internal.h"
#include "common/ctgrind_internal.h"
#include "common/error_internal.h"
#include "crypto/sakke_fp_internal.h"
#include "crypto/sakke_fp_mont_internal.h"
#include "mcxsec/mem.h"

#if MCX_FP_HAVE_ADX
#include <cpuid.h>
#endif

__extension__ typedef unsigned __int128 u128;

_Thread_local uint64_t fp_mul_count;

/* Carry chains: on x86-64 the ADC/SBB intrinsics (baseline instructions, no ADX needed), fully
 * unrolled; elsewhere unsigned __int128. Both are branch-free. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <x86intrin.h>
#define FP_UNROLL _Pragma("GCC unroll 16")
typedef unsigned char fp_carry;
static inline fp_carry addc(fp_carry c, uint64_t a, uint64_t b, uint64_t *r)
{
    unsigned long long t;
    c = _addcarry_u64(c, a, b, &t);
    *r = t;
    return c;
}
static inline fp_carry subb(fp_carry c, uint64_t a, uint64_t b, uint64_t *r)
{
    unsigned long long t;
    c = _subborrow_u64(c, a, b, &t);
    *r = t;
    return c;
}
#else
#define FP_UNROLL
typedef uint64_t fp_carry;
static inline fp_carry addc(fp_carry c, uint64_t a, uint64_t b, uint64_t *r)
{
    u128 x = (u128)a + b + c;
    *r = (uint64_t)x;
    return (fp_carry)(x >> 64);
}
static inline fp_carry subb(fp_carry c, uint64_t a, uint64_t b, uint64_t *r)
{
    u128 x = (u128)a - b - c;
    *r = (uint64_t)x;
    return (fp_carry)(x >> 64) & 1;
}
#endif

/* r = t - m if t >= m else t, where t has FP_LIMBS limbs plus a carry limb t_hi (0 or 1). */
static void reduce_once(uint64_t r[FP_LIMBS], const uint64_t t[FP_LIMBS], uint64_t t_hi,
                        const uint64_t m[FP_LIMBS])
{
    uint64_t d[FP_LIMBS];
    fp_carry borrow = 0;
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        borrow = subb(borrow, t[i], m[i], &d[i]);
    /* t >= m iff the subtraction did not borrow past the carry limb */
    uint64_t keep_t = ct_mask_bit((uint64_t)borrow & (t_hi ^ 1));
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        r[i] = ct_select(keep_t, t[i], d[i]);
}

/* CIOS Montgomery multiplication (Koc, Acar, Kaliski 1996): r = a*b*2^-1024 mod m. */
void fp_mont_mul_portable(uint64_t r[FP_LIMBS], const uint64_t a[FP_LIMBS],
                          const uint64_t b[FP_LIMBS], const fp_mod *md)
{
    uint64_t t[FP_LIMBS + 2] = {0};
    const uint64_t *m = md->m;
    for (int i = 0; i < FP_LIMBS; i++) {
        uint64_t ai = a[i];
        u128 c = 0;
        for (int j = 0; j < FP_LIMBS; j++) {
            c = (u128)ai * b[j] + t[j] + (uint64_t)(c >> 64);
            t[j] = (uint64_t)c;
        }
        c = (u128)t[FP_LIMBS] + (uint64_t)(c >> 64);
        t[FP_LIMBS] = (uint64_t)c;
        t[FP_LIMBS + 1] = (uint64_t)(c >> 64);

        uint64_t mi = t[0] * md->m0inv;
        c = (u128)mi * m[0] + t[0];
        for (int j = 1; j < FP_LIMBS; j++) {
            c = (u128)mi * m[j] + t[j] + (uint64_t)(c >> 64);
            t[j - 1] = (uint64_t)c;
        }
        c = (u128)t[FP_LIMBS] + (uint64_t)(c >> 64);
        t[FP_LIMBS - 1] = (uint64_t)c;
        t[FP_LIMBS] = t[FP_LIMBS + 1] + (uint64_t)(c >> 64);
    }
    reduce_once(r, t, t[FP_LIMBS], m);
}

void fp_mont_prod_portable(uint64_t t[2 * FP_LIMBS + 1], const uint64_t a[FP_LIMBS],
                           const uint64_t b[FP_LIMBS])
{
    memset(t, 0, sizeof(uint64_t) * 2 * FP_LIMBS);
    for (int i = 0; i < FP_LIMBS; i++) {
        u128 c = 0;
        for (int j = 0; j < FP_LIMBS; j++) {
            c = (u128)a[i] * b[j] + t[i + j] + (uint64_t)(c >> 64);
            t[i + j] = (uint64_t)c;
        }
        t[i + FP_LIMBS] = (uint64_t)(c >> 64);
    }
}

void fp_mont_redc_portable(uint64_t r[FP_LIMBS], uint64_t t[2 * FP_LIMBS + 1], const fp_mod *md)
{
    /* SOS: 16 rows t += u m 2^(64 i) with u = t[i] m0inv; carries ripple into the top half, and
     * the final carry (t < m 2^1024 gives a result < 2m) is kept in hi */
    uint64_t hi = 0;
    for (int i = 0; i < FP_LIMBS; i++) {
        uint64_t u = t[i] * md->m0inv;
        u128 c = 0;
        for (int j = 0; j < FP_LIMBS; j++) {
            c = (u128)u * md->m[j] + t[i + j] + (uint64_t)(c >> 64);
            t[i + j] = (uint64_t)c;
        }
        uint64_t carry = (uint64_t)(c >> 64);
        for (int j = i + FP_LIMBS; j < 2 * FP_LIMBS; j++) {
            u128 x = (u128)t[j] + carry;
            t[j] = (uint64_t)x;
            carry = (uint64_t)(x >> 64);
        }
        hi += carry;
    }
    reduce_once(r, t + FP_LIMBS, hi, md->m);
}

int fp_mont_cpu_has_adx(void)
{
#if MCX_FP_HAVE_ADX
    /* CPUID.(EAX=7, ECX=0):EBX bit 8 = BMI2 (MULX), bit 19 = ADX (ADCX/ADOX). clang 14's
     * __builtin_cpu_supports knows no "adx", so read CPUID directly. */
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return 0;
    return (ebx >> 8 & 1) && (ebx >> 19 & 1);
#else
    return 0;
#endif
}

/* 0 = not decided yet, else fp_mont_impl + 1. Every thread that races here computes the same
 * value, so relaxed ordering is enough. */
static _Atomic int fp_mont_choice;

fp_mont_impl fp_mont_active(void)
{
    int c = atomic_load_explicit(&fp_mont_choice, memory_order_relaxed);
    if (c == 0) {
        const char *force = getenv("MCX_FP_PORTABLE");
        int portable = force != NULL && force[0] != '\0' && strcmp(force, "0") != 0;
        c = 1 + (!portable && fp_mont_cpu_has_adx() ? FP_MONT_ADX : FP_MONT_PORTABLE);
        atomic_store_explicit(&fp_mont_choice, c, memory_order_relaxed);
    }
    return (fp_mont_impl)(c - 1);
}

int fp_mont_cpu_has_ifma(void)
{
#if MCX_FP_HAVE_IFMA
    /* CPUID.(EAX=7, ECX=0):EBX bit 16 = AVX512F, bit 21 = AVX512IFMA, bit 31 = AVX512VL;
     * CPUID.1:ECX bit 27 = OSXSAVE, and XCR0 must enable the SSE, AVX and the three AVX-512
     * state components (bits 1, 2, 5, 6, 7). valgrind's CPUID shows no AVX-512, so under
     * valgrind this is 0. */
    unsigned eax, ebx, ecx, edx;
    if (!fp_mont_cpu_has_adx())
        return 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx >> 27 & 1))
        return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return 0;
    if (!((ebx >> 16 & 1) && (ebx >> 21 & 1) && (ebx >> 31 & 1)))
        return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    return (xlo & 0xE6) == 0xE6;
#else
    return 0;
#endif
}

/* 0 = not decided yet, 1 = no, 2 = yes (like fp_mont_choice) */
static _Atomic int fp_ifma_choice;

int fp_mont_ifma_active(void)
{
    int c = atomic_load_explicit(&fp_ifma_choice, memory_order_relaxed);
    if (c == 0) {
        const char *off = getenv("MCX_FP_NO_IFMA");
        int no = off != NULL && off[0] != '\0' && strcmp(off, "0") != 0;
        c = 1 + (!no && fp_mont_active() == FP_MONT_ADX && fp_mont_cpu_has_ifma());
        atomic_store_explicit(&fp_ifma_choice, c, memory_order_relaxed);
    }
    return c - 1;
}

/* The branch on the kernel choice depends only on the CPU and the environment, never on data. */
void fp_mul(fp *r, const fp *a, const fp *b, const fp_mod *md)
{
    fp_mul_count++;
#if MCX_FP_HAVE_ADX
#if MCX_FP_HAVE_IFMA
    if (fp_mont_ifma_active()) {
        fp_mont_mul_ifma(r->v, a->v, b->v, md);
        return;
    }
#endif
    if (fp_mont_active() == FP_MONT_ADX) {
        fp_mont_mul_adx(r->v, a->v, b->v, md);
        return;
    }
#endif
    fp_mont_mul_portable(r->v, a->v, b->v, md);
}

void fp_sqr(fp *r, const fp *a, const fp_mod *md)
{
    fp_mul_count++;
#if MCX_FP_HAVE_ADX
#if MCX_FP_HAVE_IFMA
    if (fp_mont_ifma_active()) {
        fp_mont_sqr_ifma(r->v, a->v, md);
        return;
    }
#endif
    if (fp_mont_active() == FP_MONT_ADX) {
        fp_mont_sqr_adx(r->v, a->v, md);
        return;
    }
#endif
    fp_mont_mul_portable(r->v, a->v, a->v, md);
}

void fp_mul_wide(fp_wide *t, const fp *a, const fp *b)
{
    fp_mul_count++;
#if MCX_FP_HAVE_ADX
    if (fp_mont_active() == FP_MONT_ADX) {
        fp_mont_prod_adx(t->v, a->v, b->v);
        return;
    }
#endif
    fp_mont_prod_portable(t->v, a->v, b->v);
}

void fp_redc(fp *r, fp_wide *t, const fp_mod *md)
{
#if MCX_FP_HAVE_ADX
    if (fp_mont_active() == FP_MONT_ADX) {
        fp_mont_redc_adx(r->v, t->v, md);
        return;
    }
#endif
    fp_mont_redc_portable(r->v, t->v, md);
}

int fp_lazy_pays(void)
{
#if MCX_FP_HAVE_IFMA
    return !fp_mont_ifma_active();
#else
    return 1;
#endif
}

void fp_mul_add2(fp *r, const fp *a, const fp *b, const fp *c, const fp *d, const fp_mod *md)
{
    if (fp_lazy_pays()) {
        fp_wide w1, w2;
        fp_mul_wide(&w1, a, b);
        fp_mul_wide(&w2, c, d);
        fp_wide_add(&w1, &w1, &w2, md);
        fp_redc(r, &w1, md);
        mcx_memzero(&w1, sizeof w1);
        mcx_memzero(&w2, sizeof w2);
    } else {
        fp t1, t2;
        fp_mul(&t1, a, b, md);
        fp_mul(&t2, c, d, md);
        fp_add(r, &t1, &t2, md);
        mcx_memzero(&t1, sizeof t1);
        mcx_memzero(&t2, sizeof t2);
    }
}

void fp_mul_sub2(fp *r, const fp *a, const fp *b, const fp *c, const fp *d, const fp_mod *md)
{
    if (fp_lazy_pays()) {
        fp_wide w1, w2;
        fp_mul_wide(&w1, a, b);
        fp_mul_wide(&w2, c, d);
        fp_wide_sub(&w1, &w1, &w2, md);
        fp_redc(r, &w1, md);
        mcx_memzero(&w1, sizeof w1);
        mcx_memzero(&w2, sizeof w2);
    } else {
        fp t1, t2;
        fp_mul(&t1, a, b, md);
        fp_mul(&t2, c, d, md);
        fp_sub(r, &t1, &t2, md);
        mcx_memzero(&t1, sizeof t1);
        mcx_memzero(&t2, sizeof t2);
    }
}

void fp_wide_sub(fp_wide *r, const fp_wide *a, const fp_wide *b, const fp_mod *md)
{
    fp_carry borrow = 0;
    FP_UNROLL
    for (int i = 0; i < 2 * FP_LIMBS; i++)
        borrow = subb(borrow, a->v[i], b->v[i], &r->v[i]);
    uint64_t mask = ct_mask_bit(borrow);
    fp_carry carry = 0;
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        carry = addc(carry, r->v[FP_LIMBS + i], md->m[i] & mask, &r->v[FP_LIMBS + i]);
}

void fp_wide_add(fp_wide *r, const fp_wide *a, const fp_wide *b, const fp_mod *md)
{
    uint64_t t[2 * FP_LIMBS];
    fp_carry carry = 0;
    FP_UNROLL
    for (int i = 0; i < 2 * FP_LIMBS; i++)
        carry = addc(carry, a->v[i], b->v[i], &t[i]);
    /* the top half minus m, kept when the sum is at least m 2^1024 */
    uint64_t d[FP_LIMBS];
    fp_carry borrow = 0;
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        borrow = subb(borrow, t[FP_LIMBS + i], md->m[i], &d[i]);
    uint64_t keep = ct_mask_bit((uint64_t)borrow & ((uint64_t)carry ^ 1));
    memcpy(r->v, t, sizeof(uint64_t) * FP_LIMBS);
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        r->v[FP_LIMBS + i] = ct_select(keep, t[FP_LIMBS + i], d[i]);
}

void fp_add(fp *r, const fp *a, const fp *b, const fp_mod *md)
{
    uint64_t t[FP_LIMBS];
    fp_carry carry = 0;
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        carry = addc(carry, a->v[i], b->v[i], &t[i]);
    reduce_once(r->v, t, carry, md->m);
}

void fp_sub(fp *r, const fp *a, const fp *b, const fp_mod *md)
{
    uint64_t t[FP_LIMBS];
    fp_carry borrow = 0;
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        borrow = subb(borrow, a->v[i], b->v[i], &t[i]);
    /* add m back if the subtraction borrowed */
    uint64_t mask = ct_mask_bit(borrow);
    fp_carry carry = 0;
    FP_UNROLL
    for (int i = 0; i < FP_LIMBS; i++)
        carry = addc(carry, t[i], md->m[i] & mask, &r->v[i]);
}

void fp_neg(fp *r, const fp *a, const fp_mod *md)
{
    fp zero;
    memset(&zero, 0, sizeof zero);
    fp_sub(r, &zero, a, md);
}

void fp_dbl(fp *r, const fp *a, const fp_mod *md)
{
    fp_add(r, a, a, md);
}

void fp_to_mont(fp *r, const fp *a, const fp_mod *md)
{
    fp_mul(r, a, &md->r2, md);
}

void fp_from_mont(fp *r, const fp *a, const fp_mod *md)
{
    fp one;
    memset(&one, 0, sizeof one);
    one.v[0] = 1;
    fp_mul(r, a, &one, md);
}

/* Fixed 4-bit window exponentiation by the public exponent m-2: the sequence of operations is
 * the same for every input, and the table index comes from the public exponent only. */
void fp_inv(fp *r, const fp *a, const fp_mod *md)
{
    fp_pow_vartime(r, a, md->m_minus_2, FP_LIMBS, md);
}

void fp_pow_vartime(fp *r, const fp *a, const uint64_t *e, size_t nlimbs, const fp_mod *md)
{
    fp table[16];
    table[0] = md->one;
    table[1] = *a;
    for (int i = 2; i < 16; i++)
        fp_mul(&table[i], &table[i - 1], a, md);
    fp acc = md->one;
    int started = 0;
    for (size_t i = nlimbs * 16; i-- > 0;) {
        unsigned nib = (unsigned)(e[i / 16] >> ((i % 16) * 4)) & 15u;
        if (started) {
            for (int k = 0; k < 4; k++)
                fp_sqr(&acc, &acc, md);
        }
        if (nib != 0) {
            fp_mul(&acc, &acc, &table[nib], md);
            started = 1;
        }
    }
    *r = acc;
}

void fp_limbs_from_be(uint64_t r[FP_LIMBS], const uint8_t in[FP_BYTES])
{
    for (int i = 0; i < FP_LIMBS; i++) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++)
            w = (w << 8) | in[FP_BYTES - 8 * (i + 1) + k];
        r[i] = w;
    }
}

mcx_status fp_from_bytes(fp *r, const uint8_t in[FP_BYTES], const fp_mod *md, const char *what)
{
    fp t = {{0}}; /* filled by fp_limbs_from_be (initialised for the static analyser) */
    fp_limbs_from_be(t.v, in);
    /* t < m iff t - m borrows */
    uint64_t borrow = 0;
    for (int i = 0; i < FP_LIMBS; i++) {
        u128 x = (u128)t.v[i] - md->m[i] - borrow;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    MCX_CT_PUBLIC(&borrow, sizeof borrow); /* the verdict is public: the input is refused or not */
    if (!borrow) {
        memset(&t, 0, sizeof t);
        return MCX_FAIL(MCX_E_RANGE, "%s is not less than the modulus", what);
    }
    *r = t;
    return MCX_OK;
}

void fp_from_bytes_reduce(fp *r, const uint8_t in[FP_BYTES], const fp_mod *md)
{
    uint64_t t[FP_LIMBS] = {0};
    fp_limbs_from_be(t, in);
    for (int k = 0; k < 7; k++)
        reduce_once(t, t, 0, md->m);
    memcpy(r->v, t, sizeof t);
}

void fp_to_bytes(uint8_t out[FP_BYTES], const fp *a)
{
    for (int i = 0; i < FP_LIMBS; i++) {
        uint64_t w = a->v[i];
        for (int k = 7; k >= 0; k--) {
            out[FP_BYTES - 8 * i - 8 + k] = (uint8_t)w;
            w >>= 8;
        }
    }
}

uint64_t fp_is_zero(const fp *a)
{
    uint64_t acc = 0;
    for (int i = 0; i < FP_LIMBS; i++)
        acc |= a->v[i];
    return ct_mask_zero(acc);
}

uint64_t fp_eq(const fp *a, const fp *b)
{
    uint64_t acc = 0;
    for (int i = 0; i < FP_LIMBS; i++)
        acc |= a->v[i] ^ b->v[i];
    return ct_mask_zero(acc);
}

void fp_cmov(fp *r, const fp *a, uint64_t mask)
{
    ct_cmov_words(r->v, a->v, FP_LIMBS, mask);
}

void fp_mod_init(fp_mod *md, const uint8_t modulus_be[FP_BYTES])
{
    memset(md, 0, sizeof *md);
    fp_limbs_from_be(md->m, modulus_be);
    /* -m^-1 mod 2^64 by Newton iteration: x = x*(2 - m*x) doubles the correct bits. */
    uint64_t x = 1;
    for (int i = 0; i < 6; i++)
        x *= 2 - md->m[0] * x;
    md->m0inv = (uint64_t)0 - x;
#if MCX_FP_HAVE_IFMA
    fp_mont_ifma_prepare(md);
#endif
    /* one = 2^1024 mod m: reduce 2^1023 doubled; r2 = one doubled 1024 more times. */
    fp t;
    memset(&t, 0, sizeof t);
    t.v[0] = 1;
    for (int i = 0; i < 1024; i++)
        fp_add(&t, &t, &t, md);
    md->one = t;
    for (int i = 0; i < 1024; i++)
        fp_add(&t, &t, &t, md);
    md->r2 = t;
    /* m - 2, the Fermat inversion exponent */
    uint64_t borrow = 2;
    for (int i = 0; i < FP_LIMBS; i++) {
        u128 d = (u128)md->m[i] - borrow;
        md->m_minus_2[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
}
