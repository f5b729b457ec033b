/* A small HTTPS client over libcurl for the login flow (include/mcxsec/login.h).
 *
 * Deliberately narrow: HTTPS only (the credentials and tokens it carries must never travel in
 * clear, RFC 6749 §3.1 / §3.2 "MUST use TLS"), TLS 1.2 or newer, the peer certificate and host
 * name always verified, no automatic redirects (the login flow reads the 302 Location itself:
 * following it would send the authorization code to the redirect URI), answers limited to
 * MCX_HTTP_BODY_MAX octets, and bounded connect and total times. Response bodies may hold tokens:
 * they are zeroised when freed. */
#ifndef MCX_CLIENT_HTTP_INTERNAL_H
#define MCX_CLIENT_HTTP_INTERNAL_H

#include <stddef.h>

#include "mcxsec/common.h"

#define MCX_HTTP_BODY_MAX     (256u * 1024u) /* largest answer accepted */
#define MCX_HTTP_LOCATION_MAX 4096u          /* largest Location header kept */
#define MCX_HTTP_TIMEOUT_MS   10000L         /* whole exchange */
#define MCX_HTTP_CONNECT_MS   5000L

typedef struct mcx_http_response {
    long status;
    char *body; /* NUL-terminated (binary answers are not expected), malloc'd */
    size_t body_len;
    char *location;     /* the raw Location header, or NULL */
    char *content_type; /* or NULL */
} mcx_http_response;

/* GET url (form == NULL) or POST form as application/x-www-form-urlencoded. ca_file: PEM trust
 * anchors (NULL: the system store). A completed exchange is MCX_OK whatever its HTTP status
 * (the caller reads out->status). Errors: MCX_E_ARG (not an https:// URL), MCX_E_IO (cannot
 * connect, TLS or certificate failure, timeout, answer too large; the reason names the URL and
 * curl's error), MCX_E_NOMEM. On error *out is empty. */
mcx_status mcx_http_request(const char *url, const char *form, const char *ca_file,
                            mcx_http_response *out);

/* Zeroise and free the response's buffers. NULL is accepted. */
void mcx_http_response_free(mcx_http_response *r);

/* libcurl's process-wide initialisation, once (curl_global_init is not thread-safe in every
 * libcurl), for every HTTPS client of this library. Returns 1 when libcurl is usable. */
int mcx_http_curl_ready(void);

/* application/x-www-form-urlencoded building (HTML 5 §4.10.21.8, RFC 3986 unreserved characters
 * kept, everything else %XX). A buffer that grows and is zeroised when freed: it holds passwords
 * and codes. */
typedef struct mcx_form {
    char *buf;
    size_t len, cap;
    int oom;
} mcx_form;

void mcx_form_add(mcx_form *f, const char *name, const char *value);
/* The encoded text, or NULL when out of memory (the form is then freed). */
const char *mcx_form_text(const mcx_form *f);
void mcx_form_free(mcx_form *f);

/* Percent-encode s (as mcx_form does for a value) into a new malloc'd string, or NULL. */
char *mcx_url_encode(const char *s);

#endif
