/* libFuzzer target over mcx_hex_decode (the parser behind every HEX flag of the mcx CLI), checked
 * against a plain oracle: which inputs are accepted, how many octets they give, that decoding then
 * encoding gives back the digits, and that a too-small buffer is refused without overflow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int oracle_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int oracle_separator(char c)
{
    return c == ' ' || c == '\t' || c == ':' || c == '\n' || c == '\r';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = malloc(size + 1);
    char *digits = malloc(size + 1);
    size_t cap = size / 2 + 1;
    uint8_t *out = malloc(cap);
    char *again = malloc(2 * cap + 1);
    if (text == NULL || digits == NULL || out == NULL || again == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0'; /* the decoder reads up to the first NUL */

    size_t n_digits = 0;
    int bad = 0;
    for (size_t i = 0; text[i] != '\0'; i++) {
        if (oracle_digit(text[i]))
            digits[n_digits++] = lower(text[i]);
        else if (!oracle_separator(text[i]))
            bad = 1;
    }
    digits[n_digits] = '\0';
    int valid = !bad && n_digits % 2 == 0;

    size_t n = (size_t)-1;
    mcx_status st = mcx_hex_decode(text, out, cap, &n);
    if (valid != (st == MCX_OK))
        abort();
    if (!valid && st != MCX_E_ENCODING)
        abort();
    if (valid) {
        if (n != n_digits / 2)
            abort();
        mcx_hex_encode(out, n, again);
        if (strcmp(again, digits) != 0)
            abort();
        /* The exact size fits; one octet less is refused with MCX_E_LENGTH. */
        size_t m = (size_t)-1;
        if (mcx_hex_decode(text, out, n, &m) != MCX_OK || m != n)
            abort();
        if (n > 0 && mcx_hex_decode(text, out, n - 1, &m) != MCX_E_LENGTH)
            abort();
    }
    free(text);
    free(digits);
    free(out);
    free(again);
    return 0;
}
