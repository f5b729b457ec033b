/* Minimal unit-test harness: each test file has static test functions and a main that runs them
 * with RUN(fn); a failed CHECK prints file:line and the failing expression and marks the test
 * failed. The last line printed is "N passed, M failed". */
#ifndef MCX_TEST_H
#define MCX_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/common.h"

extern int test_failed_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

/* expr must return exactly the status want */
#define CHECK_ST(expr, want)                                                                       \
    do {                                                                                           \
        mcx_status got_ = (expr);                                                                  \
        if (got_ != (want)) {                                                                      \
            fprintf(stderr, "%s:%d: %s returned %s (%s), expected %s\n", __FILE__, __LINE__,       \
                    #expr, mcx_status_name(got_), mcx_last_error(), mcx_status_name(want));        \
            test_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr) CHECK_ST(expr, MCX_OK)

#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            fprintf(stderr, "%s:%d: %s != %s\n", __FILE__, __LINE__, #a, #b);                      \
            test_hexdump("  got ", (const unsigned char *)(a), (n));                               \
            test_hexdump("  want", (const unsigned char *)(b), (n));                               \
            test_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

void test_hexdump(const char *label, const unsigned char *p, size_t n);

/* Decode hex or abort the test program (for literals inside tests). Returns the length. */
size_t test_unhex(const char *hex, unsigned char *out, size_t cap);

typedef void (*test_fn)(void);
void test_run(const char *name, test_fn fn);
void test_record(const char *name, int ok);
int test_summary(void);

#define RUN(fn) test_run(#fn, fn)

#endif
