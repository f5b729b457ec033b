/* HTTPS POST of KMS requests (kms_http_internal.h): what TS 33.180 Annex D asks of the exchange,
 * on the library's HTTPS client. */
#include <string.h>

#include "client/kms_http_internal.h"
#include "common/error_internal.h"

mcx_status mcx_kms_http_post(const char *url, const char *bearer, const char *body, size_t body_len,
                             const char *ca_file, mcx_http_response *out)
{
    return mcx_kms_http_post_on(NULL, url, bearer, body, body_len, ca_file, out);
}

mcx_status mcx_kms_http_post_on(mcx_kms_http_session *session, const char *url, const char *bearer,
                                const char *body, size_t body_len, const char *ca_file,
                                mcx_http_response *out)
{
    if (body == NULL) {
        if (out != NULL)
            memset(out, 0, sizeof *out);
        return MCX_FAIL(MCX_E_ARG, "KMS HTTP: no URL or body");
    }
    /* TS 33.180 Annex D: KMS requests and answers are XML; the access token authorises the
     * request (§5.2, RFC 6750 §2.1) and must never travel in clear */
    mcx_http_request_opts o;
    memset(&o, 0, sizeof o);
    o.url = url;
    o.ca_file = ca_file;
    o.body = body;
    o.body_len = body_len;
    o.content_type = "application/xml";
    o.accept = "application/xml";
    o.bearer = bearer;
    o.who = "KMS HTTP";
    o.user_agent = "mcxsec-kms-client/0.1";
    o.session = session;
    return mcx_http_request_ex(&o, out);
}
