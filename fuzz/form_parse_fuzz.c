/* libFuzzer target over the IdMS form / query-string parser (src/idms/form.c), checked against
 * its rules: accepted input is within the limits, has no duplicate names, every value decodes to
 * no more octets than its text; refused input leaves an empty form; every accepted name looks up
 * to its own value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idms/form_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > IDMS_FORM_MAX_INPUT + 16)
        return 0;
    /* a copy of exactly size octets, so that reading past the end is caught by ASan */
    char *in = malloc(size ? size : 1);
    if (in == NULL)
        abort();
    memcpy(in, data, size);
    idms_form f;
    mcx_status st = idms_form_parse(in, size, &f);
    if (st != MCX_OK) {
        if (f.n != 0 || f.buf != NULL)
            abort();
        if (size > IDMS_FORM_MAX_INPUT && st != MCX_E_LENGTH)
            abort();
    } else {
        if (size > IDMS_FORM_MAX_INPUT || f.n > IDMS_FORM_MAX_PAIRS)
            abort();
        size_t total = 0;
        for (size_t i = 0; i < f.n; i++) {
            size_t nl = strlen(f.pairs[i].name);
            if (nl == 0 || nl > IDMS_FORM_MAX_NAME)
                abort();
            total += nl + (f.pairs[i].value != NULL ? strlen(f.pairs[i].value) : 0);
            for (size_t j = 0; j < i; j++)
                if (strcmp(f.pairs[i].name, f.pairs[j].name) == 0)
                    abort();
            if (idms_form_get(&f, f.pairs[i].name) != f.pairs[i].value)
                abort();
        }
        if (total > size)
            abort();
        /* a raw space or control octet is never accepted */
        for (size_t i = 0; i < size; i++)
            if ((unsigned char)in[i] <= 0x20 || (unsigned char)in[i] >= 0x7F)
                abort();
    }
    idms_form_free(&f);
    free(in);
    return 0;
}
