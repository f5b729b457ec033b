/* Memory for secrets: zeroising and locked, non-dumpable allocations (STYLE.md #6). */
#ifndef MCXSEC_MEM_H
#define MCXSEC_MEM_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Overwrite n bytes at p with zeros in a way the compiler cannot elide. p may be NULL if n == 0. */
MCX_API void mcx_memzero(void *p, size_t n);

/* Allocate n zeroed bytes for a long-lived secret: locked in RAM where the system allows it and
 * excluded from core dumps. Returns NULL on failure. Free only with mcx_secure_free. */
MCX_API void *mcx_secure_alloc(size_t n);

/* Zeroise and release memory from mcx_secure_alloc. NULL is accepted. */
MCX_API void mcx_secure_free(void *p);

/* Constant-time comparison: returns 1 if the n bytes at a and b are equal, else 0. */
MCX_API int mcx_ct_equal(const void *a, const void *b, size_t n);

/* Fill buf with n bytes from the system's cryptographic random generator (OpenSSL RAND).
 * Errors: MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_random(uint8_t *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
