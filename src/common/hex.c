/* Hex codec. Digit decoding is branch-free (no table index or branch on the digit's value), so a
 * secret key passed as hex on a command line does not leak through its decoding. */
#include "common/error_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"

/* Value of hex digit c, or -1: computed with masks only. */
static int hex_digit_ct(unsigned c)
{
    unsigned num = c ^ 0x30u;                   /* '0'..'9' -> 0..9 */
    unsigned num_ok = ((num - 10u) >> 8) & 1u;  /* num < 10 */
    unsigned alpha = (c | 0x20u) - 0x61u + 10u; /* 'a'..'f' / 'A'..'F' -> 10..15 */
    unsigned alpha_ok = (((alpha - 10u) >> 8) ^ 1u) & ((alpha - 16u) >> 8) & 1u;
    unsigned val = (num & (0u - num_ok)) | (alpha & (0u - alpha_ok));
    unsigned ok = num_ok | alpha_ok;
    return (int)((val & (0u - ok)) | (~0u + ok));
}

static int is_separator(char c)
{
    return c == ' ' || c == '\t' || c == ':' || c == '\n' || c == '\r';
}

mcx_status mcx_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *out_len)
{
    if (hex == NULL || out_len == NULL || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "hex: NULL argument");
    size_t n = 0;
    int have_high = 0;
    unsigned high = 0;
    unsigned bad = 0;
    size_t pos = 0;
    for (; hex[pos] != '\0'; pos++) {
        if (is_separator(hex[pos]))
            continue;
        int d = hex_digit_ct((unsigned char)hex[pos]);
        bad |= (unsigned)d >> 31;
        if (!have_high) {
            high = (unsigned)d;
            have_high = 1;
            continue;
        }
        if (n >= cap) {
            mcx_memzero(out, n);
            return MCX_FAIL(MCX_E_LENGTH, "hex: more than %zu bytes", cap);
        }
        out[n++] = (uint8_t)((high << 4) | (unsigned)d);
        have_high = 0;
    }
    high = 0;
    if (bad) {
        /* Only now, for input already known to be malformed, look for the culprit. */
        for (pos = 0; hex[pos] != '\0'; pos++)
            if (!is_separator(hex[pos]) && hex_digit_ct((unsigned char)hex[pos]) < 0)
                break;
        mcx_memzero(out, n);
        return MCX_FAIL(MCX_E_ENCODING, "hex: character %zu ('%c') is not a hex digit", pos + 1,
                        hex[pos]);
    }
    if (have_high) {
        mcx_memzero(out, n);
        return MCX_FAIL(MCX_E_ENCODING, "hex: odd number of hex digits");
    }
    *out_len = n;
    return MCX_OK;
}

/* Branch-free nibble to lowercase hex digit (no table index on a possibly secret value). */
static char hex_char_ct(unsigned v)
{
    return (char)(v + 0x30u + (((9u - v) >> 8) & 0x27u));
}

void mcx_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_char_ct(in[i] >> 4);
        out[2 * i + 1] = hex_char_ct(in[i] & 15u);
    }
    out[2 * n] = '\0';
}
