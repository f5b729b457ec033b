/* The KMS client's HTTPS exchange (TS 33.180 Annex D over HTTPS): one POST of an XML body with
 * the user's access token, through the library's HTTPS client (http_internal.h) and its policy:
 * HTTPS only, TLS 1.2 or newer, peer certificate and host name verified, no redirects, bounded
 * answer size and time, bodies and the Authorization header wiped when freed (key sets carry
 * secret keys). */
#ifndef MCX_CLIENT_KMS_HTTP_INTERNAL_H
#define MCX_CLIENT_KMS_HTTP_INTERNAL_H

#include "client/http_internal.h"

/* POST body (body_len octets, Content-Type: application/xml) to url with
 * "Authorization: Bearer <bearer>" (bearer may be NULL). A completed exchange is MCX_OK whatever
 * its HTTP status. Errors as mcx_http_request_ex, with reasons starting "KMS HTTP". Free *out
 * with mcx_http_response_free. */
mcx_status mcx_kms_http_post(const char *url, const char *bearer, const char *body, size_t body_len,
                             const char *ca_file, mcx_http_response *out);

/* The connection kept across the POSTs of one provisioning run (init, then keyprov), so the
 * second reuses the first's TLS connection instead of a new handshake. Not thread-safe. */
typedef mcx_http_session mcx_kms_http_session;

/* NULL when out of memory or libcurl cannot start. */
static inline mcx_kms_http_session *mcx_kms_http_session_new(void)
{
    return mcx_http_session_new();
}

static inline void mcx_kms_http_session_free(mcx_kms_http_session *s)
{
    mcx_http_session_free(s);
}

/* As mcx_kms_http_post, on session's connection (session NULL: a connection of its own). */
mcx_status mcx_kms_http_post_on(mcx_kms_http_session *session, const char *url, const char *bearer,
                                const char *body, size_t body_len, const char *ca_file,
                                mcx_http_response *out);

#endif
