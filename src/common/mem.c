/* Zeroising and locked memory for secrets (STYLE.md #6). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"

void mcx_memzero(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

/* A secure allocation is a whole number of pages: a header page-aligned block holding the
 * mapping size, followed by the caller's bytes. mmap keeps it away from the heap; mlock keeps
 * it out of swap (best effort: RLIMIT_MEMLOCK may refuse); MADV_DONTDUMP keeps it out of cores. */
struct secure_hdr {
    size_t map_len;
    size_t user_len;
};

#define SECURE_HDR_BYTES 64

void *mcx_secure_alloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - SECURE_HDR_BYTES - page)
        return NULL;
    size_t map_len = (n + SECURE_HDR_BYTES + page - 1) / page * page;
    void *base = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    (void)mlock(base, map_len);
    (void)madvise(base, map_len, MADV_DONTDUMP);
    struct secure_hdr *h = base;
    h->map_len = map_len;
    h->user_len = n;
    return (uint8_t *)base + SECURE_HDR_BYTES;
}

void mcx_secure_free(void *p)
{
    if (p == NULL)
        return;
    struct secure_hdr *h = (struct secure_hdr *)(void *)((uint8_t *)p - SECURE_HDR_BYTES);
    size_t map_len = h->map_len;
    explicit_bzero(h, map_len);
    (void)munlock(h, map_len);
    (void)munmap(h, map_len);
}

int mcx_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    return (int)((((uint32_t)acc) - 1u) >> 31);
}

mcx_status mcx_random(uint8_t *buf, size_t n)
{
    if (n > 0 && RAND_bytes(buf, (int)n) != 1)
        return MCX_FAIL(MCX_E_RANDOM, "random: OpenSSL RAND_bytes failed");
    return MCX_OK;
}
