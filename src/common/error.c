/* Thread-local last-error text behind mcx_last_error(). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error_internal.h"

static _Thread_local char last_error[256];

/* Formatted into a scratch buffer first: a reason often wraps the one before it
 * (MCX_FAIL(st, "...: %s", mcx_last_error())), and vsnprintf must not read what it writes. */
mcx_status mcx_fail(mcx_status st, const char *fmt, ...)
{
    char text[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memcpy(last_error, text, sizeof last_error);
    return st;
}

const char *mcx_last_error(void)
{
    return last_error;
}

void mcx_clear_error(void)
{
    last_error[0] = '\0';
}

const char *mcx_status_name(mcx_status st)
{
    switch (st) {
    case MCX_OK:
        return "MCX_OK";
    case MCX_E_ARG:
        return "MCX_E_ARG";
    case MCX_E_LENGTH:
        return "MCX_E_LENGTH";
    case MCX_E_ENCODING:
        return "MCX_E_ENCODING";
    case MCX_E_NOT_ON_CURVE:
        return "MCX_E_NOT_ON_CURVE";
    case MCX_E_WRONG_ORDER:
        return "MCX_E_WRONG_ORDER";
    case MCX_E_RANGE:
        return "MCX_E_RANGE";
    case MCX_E_KEY_INVALID:
        return "MCX_E_KEY_INVALID";
    case MCX_E_SIG_INVALID:
        return "MCX_E_SIG_INVALID";
    case MCX_E_SED_INVALID:
        return "MCX_E_SED_INVALID";
    case MCX_E_NOMEM:
        return "MCX_E_NOMEM";
    case MCX_E_RANDOM:
        return "MCX_E_RANDOM";
    case MCX_E_INTERNAL:
        return "MCX_E_INTERNAL";
    case MCX_E_UNSUPPORTED:
        return "MCX_E_UNSUPPORTED";
    case MCX_E_TIME:
        return "MCX_E_TIME";
    case MCX_E_REPLAY:
        return "MCX_E_REPLAY";
    case MCX_E_UNKNOWN_PEER:
        return "MCX_E_UNKNOWN_PEER";
    case MCX_E_NO_KEY:
        return "MCX_E_NO_KEY";
    case MCX_E_TAG_INVALID:
        return "MCX_E_TAG_INVALID";
    case MCX_E_DENIED:
        return "MCX_E_DENIED";
    case MCX_E_NOT_FOUND:
        return "MCX_E_NOT_FOUND";
    case MCX_E_EXISTS:
        return "MCX_E_EXISTS";
    case MCX_E_STORE:
        return "MCX_E_STORE";
    case MCX_E_IO:
        return "MCX_E_IO";
    }
    return "MCX_E_UNKNOWN";
}
