/* Internal side of the error convention (include/mcxsec/common.h).
 *
 *   return MCX_FAIL(MCX_E_LENGTH, "SAKKE: SED is %zu octets, expected %d", n, 273);
 *   MCX_GUARD(fp_from_bytes(...));                 -- propagate a failure unchanged
 *   MCX_GUARD_GOTO(st, decode(...), out);          -- store status in st and jump to cleanup
 */
#ifndef MCX_ERROR_INTERNAL_H
#define MCX_ERROR_INTERNAL_H

#include "mcxsec/common.h"

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
mcx_status
mcx_fail(mcx_status st, const char *fmt, ...);

#define MCX_FAIL(st, ...) mcx_fail((st), __VA_ARGS__)

#define MCX_GUARD(expr)                                                                            \
    do {                                                                                           \
        mcx_status guard_st_ = (expr);                                                             \
        if (guard_st_ != MCX_OK)                                                                   \
            return guard_st_;                                                                      \
    } while (0)

#define MCX_GUARD_GOTO(st, expr, label)                                                            \
    do {                                                                                           \
        (st) = (expr);                                                                             \
        if ((st) != MCX_OK)                                                                        \
            goto label;                                                                            \
    } while (0)

#endif
