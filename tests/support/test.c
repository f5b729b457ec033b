#include "test.h"

#include "mcxsec/hex.h"

int test_failed_checks;
static int tests_passed, tests_failed;

void test_hexdump(const char *label, const unsigned char *p, size_t n)
{
    fprintf(stderr, "%s ", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%02x", p[i]);
    fprintf(stderr, "\n");
}

size_t test_unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = 0;
    if (mcx_hex_decode(hex, out, cap, &n) != MCX_OK) {
        fprintf(stderr, "bad hex literal in test: %s (%s)\n", hex, mcx_last_error());
        exit(2);
    }
    return n;
}

void test_record(const char *name, int ok)
{
    if (ok) {
        tests_passed++;
        printf("ok   %s\n", name);
    } else {
        tests_failed++;
        printf("FAIL %s\n", name);
    }
}

void test_run(const char *name, test_fn fn)
{
    int before = test_failed_checks;
    fn();
    test_record(name, test_failed_checks == before);
}

int test_summary(void)
{
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
