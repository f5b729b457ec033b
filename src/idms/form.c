/* Strict application/x-www-form-urlencoded parser (src/idms/form_internal.h). Every request
 * parameter of the IdMS (query strings and POST bodies) goes through it, and fuzz/form_parse_fuzz.c
 * exercises it. */
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "idms/form_internal.h"
#include "mcxsec/mem.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode in[0..n) into out (which has room for n + 1), NUL-terminated; *out_len gets the length.
 * offset (of in within the whole input) positions the error text. */
static mcx_status decode(const char *in, size_t n, size_t offset, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return MCX_FAIL(MCX_E_ENCODING, "form: truncated %%-escape at octet %zu",
                                offset + i + 1);
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return MCX_FAIL(MCX_E_ENCODING, "form: bad %%-escape at octet %zu", offset + i + 1);
            int v = hi * 16 + lo;
            if (v == 0)
                return MCX_FAIL(MCX_E_ENCODING, "form: escaped NUL at octet %zu", offset + i + 1);
            out[o++] = (char)v;
            i += 2;
        } else if (c < 0x21 || c > 0x7E) {
            return MCX_FAIL(MCX_E_ENCODING, "form: octet 0x%02x at %zu must be percent-encoded", c,
                            offset + i + 1);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return MCX_OK;
}

mcx_status idms_form_parse(const char *in, size_t len, idms_form *f)
{
    if (f == NULL || (in == NULL && len > 0))
        return MCX_FAIL(MCX_E_ARG, "form: NULL argument");
    memset(f, 0, sizeof *f);
    if (len > IDMS_FORM_MAX_INPUT)
        return MCX_FAIL(MCX_E_LENGTH, "form: %zu octets, at most %d allowed", len,
                        IDMS_FORM_MAX_INPUT);
    /* Decoding never lengthens: one buffer of len + one NUL per pair (at most len + 1 pairs). */
    size_t cap = 2 * len + 2;
    char *buf = malloc(cap);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "form: out of memory");
    mcx_status st = MCX_OK;
    size_t used = 0, pos = 0;
    while (pos <= len) {
        size_t end = pos;
        while (end < len && in[end] != '&')
            end++;
        if (end > pos) {
            size_t eq = pos;
            while (eq < end && in[eq] != '=')
                eq++;
            if (eq == pos) {
                st = MCX_FAIL(MCX_E_ENCODING, "form: empty parameter name at octet %zu", pos + 1);
                goto fail;
            }
            if (f->n == IDMS_FORM_MAX_PAIRS) {
                st = MCX_FAIL(MCX_E_LENGTH, "form: more than %d parameters", IDMS_FORM_MAX_PAIRS);
                goto fail;
            }
            char *name = buf + used;
            size_t name_len;
            MCX_GUARD_GOTO(st, decode(in + pos, eq - pos, pos, name, &name_len), fail);
            if (name_len > IDMS_FORM_MAX_NAME) {
                st = MCX_FAIL(MCX_E_LENGTH, "form: parameter name of %zu octets at octet %zu",
                              name_len, pos + 1);
                goto fail;
            }
            if (strlen(name) != name_len) {
                st = MCX_FAIL(MCX_E_ENCODING, "form: NUL in parameter name");
                goto fail;
            }
            used += name_len + 1;
            const char *value = NULL;
            if (eq < end && end - eq > 1) {
                char *v = buf + used;
                size_t v_len;
                MCX_GUARD_GOTO(st, decode(in + eq + 1, end - eq - 1, eq + 1, v, &v_len), fail);
                used += v_len + 1;
                value = v;
            }
            for (size_t i = 0; i < f->n; i++) {
                if (strcmp(f->pairs[i].name, name) == 0) {
                    st = MCX_FAIL(MCX_E_ENCODING,
                                  "form: parameter \"%.64s\" repeated (RFC 6749 §3.1)", name);
                    goto fail;
                }
            }
            f->pairs[f->n].name = name;
            f->pairs[f->n].value = value;
            f->n++;
        }
        pos = end + 1;
    }
    f->buf = buf;
    f->buf_len = cap;
    return MCX_OK;
fail:
    mcx_memzero(buf, cap);
    free(buf);
    memset(f, 0, sizeof *f);
    return st;
}

const char *idms_form_get(const idms_form *f, const char *name)
{
    if (f == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->pairs[i].name, name) == 0)
            return f->pairs[i].value;
    return NULL;
}

void idms_form_free(idms_form *f)
{
    if (f == NULL)
        return;
    if (f->buf != NULL) {
        mcx_memzero(f->buf, f->buf_len);
        free(f->buf);
    }
    memset(f, 0, sizeof *f);
}
