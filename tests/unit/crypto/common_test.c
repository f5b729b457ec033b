/* Tests of the common layer: hex codec, constant-time equality, secure memory, error text. */
#include "test.h"

#include "common/error_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"

static void hex_round_trip(void)
{
    uint8_t all[256], back[256];
    char text[513];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    mcx_hex_encode(all, sizeof all, text);
    CHECK(strncmp(text, "000102", 6) == 0);
    CHECK(strcmp(text + 500, "fafbfcfdfeff") == 0);
    size_t n = 0;
    CHECK_OK(mcx_hex_decode(text, back, sizeof back, &n));
    CHECK(n == 256);
    CHECK_MEM(back, all, 256);
}

static void hex_accepts_case_and_separators(void)
{
    uint8_t out[8];
    size_t n = 0;
    CHECK_OK(mcx_hex_decode("De:AD be\tEF", out, sizeof out, &n));
    CHECK(n == 4);
    CHECK(out[0] == 0xde && out[1] == 0xad && out[2] == 0xbe && out[3] == 0xef);
    CHECK_OK(mcx_hex_decode("", out, sizeof out, &n));
    CHECK(n == 0);
}

static void hex_rejects_bad_input(void)
{
    uint8_t out[4];
    size_t n = 0;
    CHECK_ST(mcx_hex_decode("abc", out, sizeof out, &n), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "odd") != NULL);
    CHECK_ST(mcx_hex_decode("12g4", out, sizeof out, &n), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "character 3") != NULL);
    CHECK_ST(mcx_hex_decode("0x12", out, sizeof out, &n), MCX_E_ENCODING);
    CHECK_ST(mcx_hex_decode("0102030405", out, sizeof out, &n), MCX_E_LENGTH);
    /* every byte value that is not a hex digit or separator is refused */
    for (int c = 1; c < 256; c++) {
        char s[3] = {(char)c, '0', 0};
        int digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        int sep = c == ' ' || c == '\t' || c == ':' || c == '\n' || c == '\r';
        mcx_status st = mcx_hex_decode(s, out, sizeof out, &n);
        CHECK(st == (digit ? MCX_OK : (sep ? MCX_E_ENCODING : MCX_E_ENCODING)));
    }
}

static void ct_equal_works(void)
{
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK(mcx_ct_equal(a, b, 32) == 1);
    for (int i = 0; i < 32; i++) {
        b[i] = 0x80;
        CHECK(mcx_ct_equal(a, b, 32) == 0);
        b[i] = 0;
    }
    CHECK(mcx_ct_equal(a, b, 0) == 1);
}

static void secure_alloc_zeroed_and_freed(void)
{
    uint8_t *p = mcx_secure_alloc(5000);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(p[0] == 0 && p[4999] == 0);
    memset(p, 0xaa, 5000);
    mcx_secure_free(p);
    mcx_secure_free(NULL);
}

static void error_text(void)
{
    mcx_status st = mcx_fail(MCX_E_LENGTH, "X: %d octets", 7);
    CHECK(st == MCX_E_LENGTH);
    CHECK(strcmp(mcx_last_error(), "X: 7 octets") == 0);
    mcx_clear_error();
    CHECK(mcx_last_error()[0] == '\0');
    CHECK(strcmp(mcx_status_name(MCX_E_SED_INVALID), "MCX_E_SED_INVALID") == 0);
}

int main(void)
{
    RUN(hex_round_trip);
    RUN(hex_accepts_case_and_separators);
    RUN(hex_rejects_bad_input);
    RUN(ct_equal_works);
    RUN(secure_alloc_zeroed_and_freed);
    RUN(error_text);
    return test_summary();
}
