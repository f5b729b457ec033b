/* Marking secrets for valgrind's constant-time check ("ctgrind", STYLE.md #7).
 *
 * In the MCX_CTGRIND build (target mcxsec_ctgrind, run by tests/ct) secret inputs are marked
 * undefined; memcheck then reports any branch or memory index that depends on them. A value that
 * is public by design (a public key, a signature, a point that is about to be sent) is
 * declassified with MCX_CT_PUBLIC at the one place where it becomes public, with a comment saying
 * why. In normal builds both macros compile to nothing. */
#ifndef MCX_CTGRIND_INTERNAL_H
#define MCX_CTGRIND_INTERNAL_H

#if defined(MCX_CTGRIND) && MCX_CTGRIND
#include <valgrind/memcheck.h>
#define MCX_CT_SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define MCX_CT_PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define MCX_CT_SECRET(p, n) ((void)(p), (void)(n))
#define MCX_CT_PUBLIC(p, n) ((void)(p), (void)(n))
#endif

#endif
