/* Montgomery multiplication modulo a 1024-bit odd modulus with AVX-512 IFMA (VPMADD52LUQ and
 * VPMADD52HUQ on 256-bit vectors, AVX512VL), chosen at run time by fp_mul and fp_sqr when the CPU
 * and the OS support it (sakke_fp_mont_internal.h). Same contract as the other kernels: the
 * result is a*b*2^-1024 mod m, fully reduced, bit for bit what the portable and ADX kernels give.
 *
 * Algorithm (word-serial Montgomery in radix 2^52, after Gueron and Krasnov, "Software
 * implementation of modular exponentiation, using advanced vector instructions architectures",
 * WAIFI 2012, and OpenSSL's rsaz-2k-avx512 AMM52x20):
 *
 *   a is split into 20 digits of 52 bits; b is split the same way after a shift left by 16 bits
 *   (b' = b*2^16 < 2^1040), so that 20 Montgomery steps of 52 bits (R' = 2^1040) give
 *   a*b'*2^-1040 = a*b*2^-1024 mod m: the radix changes, the Montgomery form stays the same.
 *   Step i adds the low halves of a*b'_i and u_i*m (u_i = column_i * (-m^-1) mod 2^52) to an
 *   accumulator of 24 64-bit lanes, moves it down one lane (column i, now 0 mod 2^52, retires)
 *   and adds the high halves, which belong one column up, at the same lanes as the low ones. The
 *   lanes are never normalised inside the loop (each gains < 2^54 a step: < 2^59 after 20 steps);
 *   only the lowest column, whose value sets u_i, is tracked exactly, in a scalar register.
 *
 * Latency: the products with b'_i do not depend on u and run ahead in their own accumulator; the
 * products with u_i go to a second one. The next column's value needs u_i's contribution to it
 * (lo(m_1 u_i) + hi(m_0 u_i)); that is computed in scalar code, so the chain from u_i to
 * u_(i+1) waits for no vector multiply-add of u_i.
 *
 * The result (T + U m) / 2^1040 < 2m is normalised to 52-bit digits, repacked into 64-bit limbs
 * and reduced once with a masked selection.
 *
 * Constant-time: the loops run a fixed number of times, no address and no branch depends on the
 * data, and the final choice between S and S - m is made with a mask. valgrind cannot run
 * AVX-512, and its CPUID hides AVX-512 (and ADX), so under valgrind fp_mul uses the portable
 * kernel, which the constant-time test checks; this kernel is compared with the others on random
 * and edge inputs by tests/unit/crypto/sakke_fp_test.c. */
#include "crypto/sakke_fp_mont_internal.h"

#if MCX_FP_HAVE_IFMA

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define D     20 /* 52-bit digits */
#define LANES 24 /* 6 vectors of 4 lanes */
#define NV    (LANES / 4)
#define M52   ((uint64_t)0xFFFFFFFFFFFFF)

__extension__ typedef unsigned __int128 u128;

/* digit k of x * 2^shift (shift 0 or 16): bits [52k - shift, 52k - shift + 52) of x */
static inline uint64_t digit(const uint64_t x[FP_LIMBS], int k, int shift)
{
    int bit = 52 * k - shift;
    if (bit < 0)
        return (x[0] << -bit) & M52;
    int w = bit / 64, off = bit % 64;
    uint64_t v = x[w] >> off;
    if (off > 12 && w + 1 < FP_LIMBS)
        v |= x[w + 1] << (64 - off);
    return v & M52;
}

void fp_mont_ifma_prepare(fp_mod *md)
{
    memset(md->ifma_m, 0, sizeof md->ifma_m);
    for (int k = 0; k < D; k++) {
        md->ifma_m[k] = digit(md->m, k, 0);
    }
}

#define UNROLL _Pragma("GCC unroll 24")

#define TARGET __attribute__((target("avx512f,avx512vl,avx512ifma")))

TARGET static inline uint64_t lane0(__m256i v)
{
    return (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(v));
}

TARGET static inline uint64_t lane1(__m256i v)
{
    return (uint64_t)_mm_extract_epi64(_mm256_castsi256_si128(v), 1);
}

TARGET void fp_mont_mul_ifma(uint64_t r[FP_LIMBS], const uint64_t a[FP_LIMBS],
                             const uint64_t b[FP_LIMBS], const fp_mod *md)
{
    uint64_t A[LANES] = {0}, B[D];
    UNROLL
    for (int k = 0; k < D; k++) {
        A[k] = digit(a, k, 0);
        B[k] = digit(b, k, 16);
    }
    __m256i va[NV], vm[NV], acc_b[NV], acc_u[NV];
    UNROLL
    for (int j = 0; j < NV; j++) {
        va[j] = _mm256_loadu_si256((const __m256i *)&A[4 * j]);
        vm[j] = _mm256_loadu_si256((const __m256i *)&md->ifma_m[4 * j]);
        acc_b[j] = _mm256_setzero_si256();
        acc_u[j] = _mm256_setzero_si256();
    }
    const uint64_t k0 = md->m0inv & M52, m0 = md->ifma_m[0], m1 = md->ifma_m[1];
    const __m256i zero = _mm256_setzero_si256();
    /* u_low = the lowest lane of acc_u plus every carry out of the columns already retired: the
     * scalar shadow of acc_u's lane 0 */
    uint64_t u_low = 0;
    for (int i = 0; i < D; i++) {
        /* low halves at lane k (column i + k); lanes 20..23 of va and vm are zero */
        __m256i bi = _mm256_set1_epi64x((long long)B[i]);
        UNROLL
        for (int j = 0; j < NV - 1; j++)
            acc_b[j] = _mm256_madd52lo_epu64(acc_b[j], va[j], bi);
        uint64_t s = lane0(acc_b[0]) + u_low; /* column i */
        uint64_t u = (s * k0) & M52;
        /* before u_i's products: acc_u's lane 1 is the next column's share so far */
        uint64_t next = lane1(acc_u[0]);
        __m256i ui = _mm256_set1_epi64x((long long)u);
        UNROLL
        for (int j = 0; j < NV - 1; j++)
            acc_u[j] = _mm256_madd52lo_epu64(acc_u[j], vm[j], ui);
        u128 p0 = (u128)m0 * u;
        uint64_t carry = (s + ((uint64_t)p0 & M52)) >> 52; /* column i is now 0 mod 2^52 */
        u_low = next + (((uint64_t)m1 * u) & M52) + (uint64_t)(p0 >> 52) + carry;
        /* column i is retired: move both accumulators down one lane */
        UNROLL
        for (int j = 0; j < NV; j++) {
            __m256i hb = j + 1 < NV ? acc_b[j + 1] : zero;
            __m256i hu = j + 1 < NV ? acc_u[j + 1] : zero;
            acc_b[j] = _mm256_alignr_epi64(hb, acc_b[j], 1);
            acc_u[j] = _mm256_alignr_epi64(hu, acc_u[j], 1);
        }
        /* the high halves belong one column up: lane k after the move */
        UNROLL
        for (int j = 0; j < NV - 1; j++) {
            acc_b[j] = _mm256_madd52hi_epu64(acc_b[j], va[j], bi);
            acc_u[j] = _mm256_madd52hi_epu64(acc_u[j], vm[j], ui);
        }
    }
    /* columns 20..39: acc_b + acc_u, with acc_u's lane 0 replaced by its exact shadow */
    uint64_t S[LANES];
    UNROLL
    for (int j = 0; j < NV; j++)
        _mm256_storeu_si256((__m256i *)&S[4 * j], acc_b[j]);
    uint64_t U[LANES];
    UNROLL
    for (int j = 0; j < NV; j++)
        _mm256_storeu_si256((__m256i *)&U[4 * j], acc_u[j]);
    U[0] = u_low;
    /* normalise to 52-bit digits (the value is < 2m < 2^1025) */
    uint64_t c = 0;
    UNROLL
    for (int k = 0; k < D; k++) {
        uint64_t x = S[k] + U[k] + c;
        S[k] = x & M52;
        c = x >> 52;
    }
    /* repack 20 x 52 bits into 16 x 64 bits (+ the bits above 2^1024 in hi) */
    uint64_t t[FP_LIMBS];
    UNROLL
    for (int w = 0; w < FP_LIMBS; w++) {
        int bit = 64 * w, k = bit / 52, off = bit % 52;
        uint64_t v = S[k] >> off;
        v |= S[k + 1] << (52 - off);
        if (off > 40 && k + 2 < D)
            v |= S[k + 2] << (104 - off);
        t[w] = v;
    }
    uint64_t hi = (S[D - 1] >> (1024 - 52 * (D - 1))) | (c << (1040 - 1024));
    /* r = t - m if t >= m else t */
    uint64_t d[FP_LIMBS];
    unsigned char borrow = 0;
    UNROLL
    for (int w = 0; w < FP_LIMBS; w++) {
        unsigned long long x;
        borrow = _subborrow_u64(borrow, t[w], md->m[w], &x);
        d[w] = x;
    }
    /* keep t iff the subtraction borrowed past hi */
    uint64_t keep_t = (uint64_t)0 - ((uint64_t)borrow & (hi ^ 1)); /* hi is 0 or 1 */
    UNROLL
    for (int w = 0; w < FP_LIMBS; w++)
        r[w] = (t[w] & keep_t) | (d[w] & ~keep_t);
}

TARGET void fp_mont_sqr_ifma(uint64_t r[FP_LIMBS], const uint64_t a[FP_LIMBS], const fp_mod *md)
{
    fp_mont_mul_ifma(r, a, a, md);
}

#else

typedef int mcx_sakke_fp_ifma_unused; /* ISO C forbids an empty translation unit */

#endif
