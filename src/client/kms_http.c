/* HTTPS POST of KMS requests over libcurl (kms_http_internal.h). */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "client/kms_http_internal.h"
#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"

typedef struct sink {
    char *buf;
    size_t len, cap;
    int too_large, oom;
    char *content_type;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (n > MCX_HTTP_BODY_MAX || s->len + n > MCX_HTTP_BODY_MAX) {
        s->too_large = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap == 0 ? 8192 : s->cap;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = malloc(cap);
        if (b == NULL) {
            s->oom = 1;
            return 0;
        }
        if (s->buf != NULL) {
            memcpy(b, s->buf, s->len);
            mcx_memzero(s->buf, s->cap); /* a key set answer holds secret keys */
            free(s->buf);
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (n > 13 && n < 512 && strncasecmp(data, "Content-Type:", 13) == 0) {
        size_t a = 13, b = n;
        while (a < b && (data[a] == ' ' || data[a] == '\t'))
            a++;
        while (b > a && (data[b - 1] == '\r' || data[b - 1] == '\n' || data[b - 1] == ' '))
            b--;
        char *v = malloc(b - a + 1);
        if (v == NULL) {
            s->oom = 1;
            return 0;
        }
        memcpy(v, data + a, b - a);
        v[b - a] = '\0';
        free(s->content_type);
        s->content_type = v;
    }
    return n;
}

struct mcx_kms_http_session {
    CURL *curl;
};

mcx_kms_http_session *mcx_kms_http_session_new(void)
{
    if (!mcx_http_curl_ready())
        return NULL;
    mcx_kms_http_session *s = calloc(1, sizeof *s);
    if (s != NULL && (s->curl = curl_easy_init()) == NULL) {
        free(s);
        s = NULL;
    }
    return s;
}

void mcx_kms_http_session_free(mcx_kms_http_session *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->curl);
    free(s);
}

mcx_status mcx_kms_http_post(const char *url, const char *bearer, const char *body, size_t body_len,
                             const char *ca_file, mcx_http_response *out)
{
    return mcx_kms_http_post_on(NULL, url, bearer, body, body_len, ca_file, out);
}

mcx_status mcx_kms_http_post_on(mcx_kms_http_session *session, const char *url, const char *bearer,
                                const char *body, size_t body_len, const char *ca_file,
                                mcx_http_response *out)
{
    if (out == NULL || url == NULL || body == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS HTTP: no URL or body");
    memset(out, 0, sizeof *out);
    char shown[MCX_SHOWN_MAX];
    mcx_printable(url, shown, sizeof shown);
    /* the access token and the key sets must never travel in clear (TS 33.180 §5.2, Annex D) */
    if (strncasecmp(url, "https://", 8) != 0)
        return MCX_FAIL(MCX_E_ARG, "KMS HTTP: '%s' is not an https:// URL", shown);
    if (!mcx_http_curl_ready())
        return MCX_FAIL(MCX_E_IO, "KMS HTTP: libcurl initialisation failed");
    /* A session's handle is reset to no options but keeps its live connection and TLS session
     * cache (curl_easy_reset), so every option below is set again for this request. */
    CURL *c = session != NULL ? session->curl : curl_easy_init();
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS HTTP: out of memory");
    if (session != NULL)
        curl_easy_reset(c);
    sink s;
    memset(&s, 0, sizeof s);
    char err[CURL_ERROR_SIZE];
    err[0] = '\0';
    struct curl_slist *hdrs = NULL, *h;
    char *auth = NULL;
    int bad = 0;
    const char *fixed[] = {"Expect:", "Content-Type: application/xml", "Accept: application/xml"};
    for (size_t i = 0; i < 3; i++) {
        if ((h = curl_slist_append(hdrs, fixed[i])) == NULL)
            bad = 1;
        else
            hdrs = h;
    }
    if (bearer != NULL) {
        size_t n = strlen(bearer) + 32;
        auth = calloc(1, n);
        if (auth == NULL || strpbrk(bearer, "\r\n") != NULL) {
            bad = 1;
        } else {
            snprintf(auth, n, "Authorization: Bearer %s", bearer);
            if ((h = curl_slist_append(hdrs, auth)) == NULL)
                bad = 1;
            else
                hdrs = h;
        }
    }
    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, MCX_HTTP_CONNECT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, MCX_HTTP_TIMEOUT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &s) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "mcxsec-kms-client/0.1") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK;
    if (ca_file != NULL)
        bad |= curl_easy_setopt(c, CURLOPT_CAINFO, ca_file) != CURLE_OK;
    mcx_status st = MCX_OK;
    if (bad) {
        st = MCX_FAIL(MCX_E_IO, "KMS HTTP: request setup failed");
        goto out;
    }
    CURLcode rc = curl_easy_perform(c);
    if (s.oom) {
        st = MCX_FAIL(MCX_E_NOMEM, "KMS HTTP: out of memory");
    } else if (s.too_large) {
        st = MCX_FAIL(MCX_E_IO, "KMS HTTP %s: answer larger than %u octets", shown,
                      MCX_HTTP_BODY_MAX);
    } else if (rc != CURLE_OK) {
        char why[CURL_ERROR_SIZE];
        mcx_printable(err[0] != '\0' ? err : curl_easy_strerror(rc), why, sizeof why);
        st = MCX_FAIL(MCX_E_IO, "KMS HTTP %s: %s", shown, why);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        if (s.buf == NULL && (s.buf = calloc(1, 1)) == NULL) {
            st = MCX_FAIL(MCX_E_NOMEM, "KMS HTTP: out of memory");
            goto out;
        }
        out->body = s.buf;
        out->body_len = s.len;
        out->content_type = s.content_type;
        s.buf = NULL;
        s.content_type = NULL;
    }
out:
    if (s.buf != NULL) {
        mcx_memzero(s.buf, s.cap);
        free(s.buf);
    }
    free(s.content_type);
    if (auth != NULL) {
        mcx_memzero(auth, strlen(auth)); /* the access token */
        free(auth);
    }
    for (h = hdrs; h != NULL; h = h->next) /* the list holds its own copy of the token */
        mcx_memzero(h->data, strlen(h->data));
    curl_slist_free_all(hdrs);
    if (session == NULL)
        curl_easy_cleanup(c);
    return st;
}
