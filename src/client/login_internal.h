/* Pieces of the login flow (include/mcxsec/login.h) that need no server, exposed for the unit
 * tests (tests/unit/idms/login_test.c): PKCE, scraping the IdMS login page, the redirect that
 * ends it, and resolving the form's action. */
#ifndef MCX_CLIENT_LOGIN_INTERNAL_H
#define MCX_CLIENT_LOGIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mcxsec/common.h"

/* ---- PKCE (RFC 7636) ---- */

#define MCX_PKCE_CHARS 43 /* base64url of 32 octets, no padding: the verifier and the challenge */

/* base64url without padding (RFC 4648 §5, RFC 7636 Appendix A): out holds (4n + 2) / 3 + 1. */
void mcx_b64url_encode(const uint8_t *in, size_t n, char *out);

/* A fresh code_verifier: 32 random octets, base64url (RFC 7636 §4.1, 256 bits of entropy).
 * Errors: MCX_E_RANDOM. */
mcx_status mcx_pkce_verifier(char out[MCX_PKCE_CHARS + 1]);

/* code_challenge = BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2, S256). verifier must
 * be 43..128 characters of [A-Za-z0-9-._~]. Errors: MCX_E_ARG, MCX_E_INTERNAL. */
mcx_status mcx_pkce_challenge(const char *verifier, char out[MCX_PKCE_CHARS + 1]);

/* ---- the login page ---- */

#define MCX_FORM_INPUTS_MAX 16
#define MCX_FORM_NAME_MAX   64   /* longest input name kept */
#define MCX_FORM_VALUE_MAX  4096 /* longest attribute value (decoded) accepted */

typedef struct mcx_html_input {
    char name[MCX_FORM_NAME_MAX + 1];
    char type[16]; /* lowercase; "text" when absent */
    char *value;   /* decoded (character references), malloc'd; "" when absent */
} mcx_html_input;

typedef struct mcx_html_form {
    char method[8]; /* lowercase; "get" when absent */
    char *action;   /* decoded, malloc'd; "" when absent */
    size_t n_inputs;
    mcx_html_input inputs[MCX_FORM_INPUTS_MAX];
} mcx_html_form;

/* The first <form> of html[0..len) with its <input> elements (comments, <script> and <style>
 * content skipped; tag and attribute names case-insensitive; values quoted with " or ' or bare;
 * character references decoded). Never reads outside html[0..len).
 * Errors: MCX_E_ENCODING (no form, an unterminated tag or comment inside it, an attribute longer
 * than MCX_FORM_VALUE_MAX, more than MCX_FORM_INPUTS_MAX inputs), MCX_E_NOMEM. */
mcx_status mcx_html_form_scrape(const char *html, size_t len, mcx_html_form *out);
void mcx_html_form_free(mcx_html_form *f);

/* The value of the input named name, or NULL. */
const char *mcx_html_form_value(const mcx_html_form *f, const char *name);

/* The text of the first <p class="error"> (class holding the token "error") of html[0..len),
 * nested tags dropped, references decoded, white space collapsed, cut to cap - 1 octets of
 * printable ASCII (others become '?'). Returns 1 when found, else 0 (out = ""). */
int mcx_html_error_text(const char *html, size_t len, char *out, size_t cap);

/* Where the form posts: action resolved against page_url (RFC 3986 §5.2, only the cases an IdMS
 * page uses: empty, absolute path, relative path, absolute https URL). The result must have the
 * page's origin: a page must not send the password elsewhere. *out is malloc'd.
 * Errors: MCX_E_ENCODING (another origin or scheme, a malformed page URL), MCX_E_NOMEM. */
mcx_status mcx_form_action_resolve(const char *page_url, const char *action, char **out);

/* ---- the redirect that ends the login (RFC 6749 §4.1.2, RFC 9207) ---- */

typedef struct mcx_redirect {
    char *code, *state, *iss, *error, *error_description; /* percent-decoded, malloc'd, or NULL */
} mcx_redirect;

/* Parse a Location header that must be redirect_uri followed by a query ('?', or '&' when
 * redirect_uri has a query already). Parameters other than the five above are ignored; any of
 * the five given twice is refused (RFC 6749 §3.1).
 * Errors: MCX_E_ENCODING (another target, no query, bad percent-encoding, NUL, repeated
 * parameter), MCX_E_NOMEM. */
mcx_status mcx_redirect_parse(const char *location, const char *redirect_uri, mcx_redirect *out);
void mcx_redirect_free(mcx_redirect *r);

/* ---- server text in messages ---- */

/* in (text an IdMS sent: an error, an error_description, an issuer, a URL; NULL reads as "") made
 * safe for mcx_last_error() and a terminal: printable ASCII kept, any other octet (controls,
 * escape sequences, DEL) and each whole UTF-8 sequence shown as one '?', cut to cap - 1 octets
 * with "..." at the end when cut. Returns out. */
const char *mcx_printable(const char *in, char *out, size_t cap);

#define MCX_SHOWN_MAX 201 /* a buffer for mcx_printable: 200 characters of server text */

/* Free a malloc'd string after zeroising it. NULL is accepted. */
void mcx_str_wipe_free(char *s);

#endif
