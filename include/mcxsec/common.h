/* mcxsec common definitions: status codes and the error convention shared by every module.
 *
 * Every fallible function returns an mcx_status. MCX_OK (0) is success; anything else names a
 * category, and the calling thread's last-error text carries a short reason that a server can log
 * and a CLI can print, e.g. "SAKKE: R is not on the curve". */
#ifndef MCXSEC_COMMON_H
#define MCXSEC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MCX_API        __attribute__((visibility("default")))
#define MCX_MUST_CHECK __attribute__((warn_unused_result))
#else
#define MCX_API
#define MCX_MUST_CHECK
#endif

typedef enum mcx_status {
    MCX_OK = 0,
    MCX_E_ARG,          /* caller broke the API contract (NULL pointer, bad option) */
    MCX_E_LENGTH,       /* an input has the wrong length */
    MCX_E_ENCODING,     /* an input is malformed (bad hex, bad point prefix, bad syntax) */
    MCX_E_NOT_ON_CURVE, /* a point does not satisfy the curve equation */
    MCX_E_WRONG_ORDER,  /* a point is the identity or not in the order-q subgroup */
    MCX_E_RANGE,        /* a scalar or field element is out of range (0, >= q, >= p) */
    MCX_E_KEY_INVALID,  /* key validation failed (RFC 6507 5.1.2, RFC 6508 6.1.2) */
    MCX_E_SIG_INVALID,  /* an ECCSI signature does not verify */
    MCX_E_SED_INVALID,  /* a SAKKE SED fails the receiver's check of R (RFC 6508 6.2.2) */
    MCX_E_NOMEM,        /* out of memory */
    MCX_E_RANDOM,       /* the random generator failed */
    MCX_E_INTERNAL,     /* an internal invariant or a library call failed */
    MCX_E_UNSUPPORTED,  /* a well-formed input uses a feature or value mcxsec does not support */
    MCX_E_TIME,         /* a timestamp lies outside the acceptance window */
    MCX_E_REPLAY,       /* a message was seen before within its acceptance window */
    MCX_E_UNKNOWN_PEER, /* a sender, receiver or KMS is not known or not trusted */
    MCX_E_NO_KEY,       /* no key is held for the identity or key period a message needs */
    MCX_E_TAG_INVALID,  /* an authentication tag (AES-GCM, HMAC) does not verify */
    MCX_E_DENIED,       /* a valid request or token that policy refuses (scope, audience, user) */
    MCX_E_NOT_FOUND,    /* a named record (user, client, key, code) does not exist */
    MCX_E_EXISTS,       /* a record to be created exists already */
    MCX_E_STORE,        /* the store (SQLite, PostgreSQL) failed */
    MCX_E_IO            /* a file, socket or HTTP exchange failed */
} mcx_status;

/* Short stable name of a status, e.g. "MCX_E_SIG_INVALID". */
MCX_API const char *mcx_status_name(mcx_status st);

/* Reason for the calling thread's most recent failure ("" if none). Valid until the next call
 * into mcxsec on this thread. */
MCX_API const char *mcx_last_error(void);

/* Forget the calling thread's last error. */
MCX_API void mcx_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
