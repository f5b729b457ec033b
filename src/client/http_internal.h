/* The client library's one HTTPS client over libcurl: the login flow (login.c), the KMS
 * exchanges (kms_http.c, TS 33.180 Annex D) and the GMS's documents and event stream
 * (group_http.c) all go through mcx_http_request_ex.
 *
 * Deliberately narrow: HTTPS only (the credentials, tokens and key material it carries must never
 * travel in clear, RFC 6749 §3.1 / §3.2 "MUST use TLS", TS 33.180 §5.2), TLS 1.2 or newer, the
 * peer certificate and host name always verified, no automatic redirects (the login flow reads the
 * 302 Location itself: following it would send the authorization code to the redirect URI),
 * answers limited in size, and bounded connect and total times. Response bodies may hold tokens
 * or key sets: they are zeroised when freed, and so is the Authorization header's memory. */
#ifndef MCX_CLIENT_HTTP_INTERNAL_H
#define MCX_CLIENT_HTTP_INTERNAL_H

#include <stddef.h>

#include "mcxsec/common.h"

#define MCX_HTTP_BODY_MAX     (256u * 1024u) /* largest answer accepted by default */
#define MCX_HTTP_LOCATION_MAX 4096u          /* largest Location header kept */
#define MCX_HTTP_TIMEOUT_MS   10000L         /* whole exchange, by default */
#define MCX_HTTP_CONNECT_MS   5000L

typedef struct mcx_http_response {
    long status;
    char *body; /* NUL-terminated (binary answers are not expected), malloc'd */
    size_t body_len;
    char *location;     /* the raw Location header, or NULL */
    char *content_type; /* or NULL */
    int streamed;       /* stream mode: the body went to the stream callback, not to body */
    int stopped;        /* stream mode: the stream callback ended the exchange */
    int timed_out;      /* stream mode: the time given passed after the answer began */
} mcx_http_response;

/* Called with each piece of a streamed answer's body, in order. Returns 0 to go on, anything else
 * to end the exchange (which is then MCX_OK with out->stopped set: the callback keeps its own
 * reason, mcx_last_error() is left as it set it). */
typedef int (*mcx_http_stream_fn)(void *arg, const char *data, size_t n);

/* A connection kept across several requests (the KMS's init then keyprov), so the second reuses
 * the first's TLS connection and session instead of a new handshake. Not thread-safe. */
typedef struct mcx_http_session mcx_http_session;

/* NULL when out of memory or libcurl cannot start. */
mcx_http_session *mcx_http_session_new(void);
/* NULL is accepted. */
void mcx_http_session_free(mcx_http_session *s);

/* One request. Zero-initialise and set what differs from the defaults. */
typedef struct mcx_http_request_opts {
    const char *url;     /* https:// only */
    const char *ca_file; /* PEM trust anchors; NULL: the system store */
    /* POST when body != NULL (body_len octets, sent as content_type), GET otherwise */
    const char *body;
    size_t body_len;
    const char *content_type;  /* NULL: application/x-www-form-urlencoded */
    const char *accept;        /* the Accept header; NULL: "application/json, text/html" */
    const char *bearer;        /* "Authorization: Bearer <bearer>" (RFC 6750 §2.1), or NULL */
    const char *who;           /* prefix of error reasons ("KMS HTTP"); NULL: "HTTP" */
    const char *user_agent;    /* NULL: "mcxsec/0.1" */
    size_t body_max;           /* largest answer kept in out->body; 0: MCX_HTTP_BODY_MAX */
    mcx_status oversize;       /* status of an answer over body_max; MCX_OK: MCX_E_IO */
    long timeout_ms;           /* whole exchange; 0: MCX_HTTP_TIMEOUT_MS; < 0: none */
    mcx_http_session *session; /* NULL: a connection of its own */
    /* Stream mode (stream_fn != NULL, e.g. a text/event-stream, HTML §9.2): a 200 answer whose
     * Content-Type starts with stream_type is passed to stream_fn as it arrives (nothing is kept
     * in out->body and body_max does not apply); any other answer is read into out->body as
     * usual. The exchange then has no size limit, only timeout_ms, and running out of time once
     * the answer has begun (a 200 status, or body octets read) ends it normally: MCX_OK with
     * out->timed_out set. */
    const char *stream_type;
    mcx_http_stream_fn stream_fn;
    void *stream_arg;
} mcx_http_request_opts;

/* Perform the request. A completed exchange is MCX_OK whatever its HTTP status (the caller reads
 * out->status). Errors: MCX_E_ARG (not an https:// URL, a bearer token with a line break),
 * MCX_E_IO (cannot connect, TLS or certificate failure, timeout; the reason names the URL without
 * its query and curl's error), opts->oversize (answer too large), MCX_E_NOMEM. Every reason
 * starts with opts->who. On error *out is empty. Free *out with mcx_http_response_free. */
mcx_status mcx_http_request_ex(const mcx_http_request_opts *opts, mcx_http_response *out);

/* GET url (form == NULL) or POST form as application/x-www-form-urlencoded, with the defaults
 * above (the login flow's requests). */
mcx_status mcx_http_request(const char *url, const char *form, const char *ca_file,
                            mcx_http_response *out);

/* Zeroise and free the response's buffers. NULL is accepted. */
void mcx_http_response_free(mcx_http_response *r);

/* libcurl's process-wide initialisation, once (curl_global_init is not thread-safe in every
 * libcurl), for every HTTPS client of this library. Returns 1 when libcurl is usable. */
int mcx_http_curl_ready(void);

/* A growing text buffer bounded to max octets (0: no bound), NUL-terminated, whose old copies
 * and contents are zeroised (answers and event streams carry tokens and keys). Zero-initialise. */
typedef struct mcx_buf {
    char *buf;
    size_t len, cap, max;
    int too_large, oom; /* why a put failed */
} mcx_buf;

/* Append n octets; 1 on success, 0 (and too_large or oom set, the buffer unchanged) on failure. */
int mcx_buf_put(mcx_buf *b, const char *p, size_t n);
/* Zeroise and free; the buffer is empty again (max is kept). */
void mcx_buf_free(mcx_buf *b);

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
