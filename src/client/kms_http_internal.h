/* The KMS client's HTTPS exchange (TS 33.180 Annex D over HTTPS): one POST of an XML body with
 * the user's access token, under the same policy as the login client (http_internal.h): HTTPS
 * only, TLS 1.2 or newer, peer certificate and host name verified, no redirects, bounded answer
 * size and time, bodies wiped when freed (key sets carry secret keys). */
#ifndef MCX_CLIENT_KMS_HTTP_INTERNAL_H
#define MCX_CLIENT_KMS_HTTP_INTERNAL_H

#include "client/http_internal.h"

/* POST body (body_len octets, Content-Type: application/xml) to url with
 * "Authorization: Bearer <bearer>" (bearer may be NULL). A completed exchange is MCX_OK whatever
 * its HTTP status. Errors as mcx_http_request. Free *out with mcx_http_response_free. */
mcx_status mcx_kms_http_post(const char *url, const char *bearer, const char *body, size_t body_len,
                             const char *ca_file, mcx_http_response *out);

/* A connection kept across the POSTs of one provisioning run (init, then keyprov), so the second
 * reuses the first's TLS connection instead of a new handshake. Not thread-safe. */
typedef struct mcx_kms_http_session mcx_kms_http_session;

/* NULL when out of memory or libcurl cannot start. */
mcx_kms_http_session *mcx_kms_http_session_new(void);
void mcx_kms_http_session_free(mcx_kms_http_session *s);

/* As mcx_kms_http_post, on session's connection (session NULL: a connection of its own). */
mcx_status mcx_kms_http_post_on(mcx_kms_http_session *session, const char *url, const char *bearer,
                                const char *body, size_t body_len, const char *ca_file,
                                mcx_http_response *out);

#endif
