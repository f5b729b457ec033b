/* Constant-time helpers (STYLE.md #7). Every comparison or selection that involves a secret goes
 * through these: no branch and no memory index depends on their inputs. Masks are all-ones or 0. */
#ifndef MCX_CT_INTERNAL_H
#define MCX_CT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* The optimiser barrier keeps the compiler from turning mask arithmetic back into branches. */
static inline uint64_t ct_barrier(uint64_t x)
{
    __asm__("" : "+r"(x));
    return x;
}

/* all-ones if x != 0, else 0 */
static inline uint64_t ct_mask_nonzero(uint64_t x)
{
    return ct_barrier((uint64_t)0 - ((x | ((uint64_t)0 - x)) >> 63));
}

/* all-ones if x == 0, else 0 */
static inline uint64_t ct_mask_zero(uint64_t x)
{
    return ~ct_mask_nonzero(x);
}

/* all-ones if a == b */
static inline uint64_t ct_mask_eq(uint64_t a, uint64_t b)
{
    return ct_mask_zero(a ^ b);
}

/* all-ones if bit is 1 (bit must be 0 or 1) */
static inline uint64_t ct_mask_bit(uint64_t bit)
{
    return ct_barrier((uint64_t)0 - bit);
}

/* mask ? a : b */
static inline uint64_t ct_select(uint64_t mask, uint64_t a, uint64_t b)
{
    return b ^ (mask & (a ^ b));
}

/* dst = mask ? src : dst, over n 64-bit words */
static inline void ct_cmov_words(uint64_t *dst, const uint64_t *src, size_t n, uint64_t mask)
{
    for (size_t i = 0; i < n; i++)
        dst[i] ^= mask & (dst[i] ^ src[i]);
}

/* all-ones if the n bytes are all zero */
static inline uint64_t ct_mask_bytes_zero(const uint8_t *p, size_t n)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return ct_mask_zero(acc);
}

#endif
