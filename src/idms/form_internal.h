/* application/x-www-form-urlencoded bodies and query strings (HTML 5 §4.10.21.7, RFC 6749
 * Appendix B), parsed strictly:
 *   - pairs are separated by '&'; empty pairs (as in "a=1&&b=2" or a trailing '&') are skipped;
 *   - '+' is a space; '%' must be followed by two hex digits; an escaped NUL is refused;
 *   - raw octets must be visible ASCII (0x21..0x7E): spaces, controls and raw non-ASCII are
 *     refused (a browser percent-encodes them);
 *   - a parameter given twice is refused (RFC 6749 §3.1: "Request and response parameters MUST
 *     NOT be included more than once");
 *   - a parameter without a value ("a" or "a=") is treated as omitted (RFC 6749 §3.1), but still
 *     counts for the duplicate rule;
 *   - limits: IDMS_FORM_MAX_INPUT octets of input, IDMS_FORM_MAX_PAIRS pairs, names of at most
 *     IDMS_FORM_MAX_NAME octets. */
#ifndef IDMS_FORM_INTERNAL_H
#define IDMS_FORM_INTERNAL_H

#include <stddef.h>

#include "mcxsec/common.h"

#define IDMS_FORM_MAX_INPUT 16384
#define IDMS_FORM_MAX_PAIRS 64
#define IDMS_FORM_MAX_NAME  64

typedef struct idms_form_pair {
    const char *name;  /* decoded, NUL-terminated */
    const char *value; /* decoded, NUL-terminated; NULL for a parameter without a value */
} idms_form_pair;

typedef struct idms_form {
    idms_form_pair pairs[IDMS_FORM_MAX_PAIRS];
    size_t n;
    char *buf; /* holds every decoded string */
    size_t buf_len;
} idms_form;

/* Parse in[0..len) (not NUL-terminated; may be empty) into *f. On failure *f is left empty and
 * needs no free. Errors: MCX_E_LENGTH (input, pair count or name over the limit), MCX_E_ENCODING
 * (bad escape, forbidden octet, empty name, duplicate parameter), MCX_E_NOMEM, MCX_E_ARG. */
mcx_status idms_form_parse(const char *in, size_t len, idms_form *f);

/* The value of name, or NULL when absent or without a value. */
const char *idms_form_get(const idms_form *f, const char *name);

/* Wipe (values may be passwords) and free. Safe on an empty or failed form. */
void idms_form_free(idms_form *f);

#endif
