/* The login flow's HTTPS client over libcurl (see http_internal.h for the policy). */
#include "client/http_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe in every libcurl: run it once, here. */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int mcx_http_curl_ready(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_init_rc == CURLE_OK;
}

typedef struct sink {
    char *buf;
    size_t len, cap;
    int too_large;
    int oom;
    char *location;
    char *content_type;
} sink;

/* Grow to hold need + 1 octets; the old buffer is wiped (it may hold a token). */
static int sink_reserve(sink *s, size_t need)
{
    if (need + 1 <= s->cap)
        return 1;
    size_t cap = s->cap == 0 ? 4096 : s->cap;
    while (cap < need + 1)
        cap *= 2;
    char *n = malloc(cap);
    if (n == NULL)
        return 0;
    if (s->buf != NULL) {
        memcpy(n, s->buf, s->len);
        mcx_memzero(s->buf, s->cap);
        free(s->buf);
    }
    s->buf = n;
    s->cap = cap;
    return 1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (n > MCX_HTTP_BODY_MAX || s->len + n > MCX_HTTP_BODY_MAX) {
        s->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (!sink_reserve(s, s->len + n)) {
        s->oom = 1;
        return 0;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static int header_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && strncasecmp(line, name, k) == 0 && line[k] == ':';
}

/* A header's value with surrounding white space removed, as a new string. */
static char *header_value(const char *line, size_t n, size_t name_len)
{
    size_t a = name_len + 1, b = n;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == '\r' || line[b - 1] == '\n' || line[b - 1] == ' ' ||
                     line[b - 1] == '\t'))
        b--;
    char *v = malloc(b - a + 1);
    if (v != NULL) {
        memcpy(v, line + a, b - a);
        v[b - a] = '\0';
    }
    return v;
}

static void set_header(char **slot, char *v)
{
    if (*slot != NULL) {
        mcx_memzero(*slot, strlen(*slot));
        free(*slot);
    }
    *slot = v;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new response (after an interim 1xx): forget the headers of the previous one */
        set_header(&s->location, NULL);
        set_header(&s->content_type, NULL);
        return n;
    }
    if (header_is(data, n, "Location")) {
        if (n > MCX_HTTP_LOCATION_MAX) {
            s->too_large = 1;
            return 0;
        }
        char *v = header_value(data, n, strlen("Location"));
        if (v == NULL) {
            s->oom = 1;
            return 0;
        }
        set_header(&s->location, v);
    } else if (header_is(data, n, "Content-Type") && n < 512) {
        char *v = header_value(data, n, strlen("Content-Type"));
        if (v == NULL) {
            s->oom = 1;
            return 0;
        }
        set_header(&s->content_type, v);
    }
    return n;
}

/* The URL without its query, for error messages (the query may carry state or a code), in
 * printable ASCII: endpoints and form actions come from the IdMS. */
static void url_for_log(const char *url, char *out, size_t cap)
{
    char bare[512];
    size_t n = strcspn(url, "?#");
    if (n >= sizeof bare)
        n = sizeof bare - 1;
    memcpy(bare, url, n);
    bare[n] = '\0';
    mcx_printable(bare, out, cap);
}

mcx_status mcx_http_request(const char *url, const char *form, const char *ca_file,
                            mcx_http_response *out)
{
    if (out == NULL || url == NULL)
        return MCX_FAIL(MCX_E_ARG, "HTTP: no URL");
    memset(out, 0, sizeof *out);
    char shown[256];
    url_for_log(url, shown, sizeof shown);
    /* RFC 6749 §3.1, §3.2 and OpenID Connect Core §16.17: TLS for every exchange. */
    if (strncasecmp(url, "https://", 8) != 0)
        return MCX_FAIL(MCX_E_ARG, "HTTP: '%s' is not an https:// URL", shown);
    if (!mcx_http_curl_ready())
        return MCX_FAIL(MCX_E_IO, "HTTP: libcurl initialisation failed");

    CURL *c = curl_easy_init();
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "HTTP: out of memory");
    sink s;
    memset(&s, 0, sizeof s);
    char err[CURL_ERROR_SIZE];
    err[0] = '\0';
    struct curl_slist *hdrs = NULL;
    struct curl_slist *h1 = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (h1 != NULL)
        hdrs = h1;
    struct curl_slist *h2 = curl_slist_append(hdrs, "Accept: application/json, text/html");
    if (h2 != NULL)
        hdrs = h2;

    int bad = 0;
    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, MCX_HTTP_CONNECT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, MCX_HTTP_TIMEOUT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |=
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MCX_HTTP_BODY_MAX) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &s) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "mcxsec-login/0.1") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
    if (ca_file != NULL)
        bad |= curl_easy_setopt(c, CURLOPT_CAINFO, ca_file) != CURLE_OK;
    if (form != NULL) {
        /* POSTFIELDS is not copied by curl: the caller keeps (and later wipes) the form */
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, form) != CURLE_OK;
        bad |=
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form)) != CURLE_OK;
    }
    mcx_status st = MCX_OK;
    if (bad) {
        st = MCX_FAIL(MCX_E_IO, "HTTP: libcurl refused an option (too old?)");
        goto out;
    }
    CURLcode rc = curl_easy_perform(c);
    if (s.oom) {
        st = MCX_FAIL(MCX_E_NOMEM, "HTTP: out of memory");
        goto out;
    }
    if (s.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        st = MCX_FAIL(MCX_E_IO, "HTTP %s: answer larger than %u octets", shown, MCX_HTTP_BODY_MAX);
        goto out;
    }
    if (rc != CURLE_OK) {
        /* curl's message may quote what the peer sent (a host name, a header) */
        char why[CURL_ERROR_SIZE];
        mcx_printable(err[0] != '\0' ? err : curl_easy_strerror(rc), why, sizeof why);
        st = MCX_FAIL(MCX_E_IO, "HTTP %s: %s", shown, why);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (!sink_reserve(&s, s.len)) {
        st = MCX_FAIL(MCX_E_NOMEM, "HTTP: out of memory");
        goto out;
    }
    s.buf[s.len] = '\0';
    out->body = s.buf;
    out->body_len = s.len;
    out->location = s.location;
    out->content_type = s.content_type;
    s.buf = NULL;
    s.location = NULL;
    s.content_type = NULL;
out:
    if (s.buf != NULL) {
        mcx_memzero(s.buf, s.cap);
        free(s.buf);
    }
    set_header(&s.location, NULL);
    set_header(&s.content_type, NULL);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return st;
}

void mcx_http_response_free(mcx_http_response *r)
{
    if (r == NULL)
        return;
    if (r->body != NULL) {
        mcx_memzero(r->body, r->body_len);
        free(r->body);
    }
    set_header(&r->location, NULL);
    set_header(&r->content_type, NULL);
    memset(r, 0, sizeof *r);
}

/* ---- form encoding ---- */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void form_put(mcx_form *f, const char *s, size_t n)
{
    if (f->oom)
        return;
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap == 0 ? 256 : f->cap;
        while (cap < f->len + n + 1)
            cap *= 2;
        char *b = malloc(cap);
        if (b == NULL) {
            f->oom = 1;
            return;
        }
        if (f->buf != NULL) {
            memcpy(b, f->buf, f->len);
            mcx_memzero(f->buf, f->cap);
            free(f->buf);
        }
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
}

static void form_put_encoded(mcx_form *f, const char *s)
{
    static const char hx[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (unreserved(*p)) {
            form_put(f, (const char *)p, 1);
        } else {
            char e[3] = {'%', hx[*p >> 4], hx[*p & 15]};
            form_put(f, e, 3);
        }
    }
}

void mcx_form_add(mcx_form *f, const char *name, const char *value)
{
    if (f->len > 0)
        form_put(f, "&", 1);
    form_put_encoded(f, name);
    form_put(f, "=", 1);
    form_put_encoded(f, value != NULL ? value : "");
}

const char *mcx_form_text(const mcx_form *f)
{
    if (f->oom)
        return NULL;
    return f->buf != NULL ? f->buf : "";
}

void mcx_form_free(mcx_form *f)
{
    if (f->buf != NULL) {
        mcx_memzero(f->buf, f->cap);
        free(f->buf);
    }
    memset(f, 0, sizeof *f);
}

char *mcx_url_encode(const char *s)
{
    mcx_form f;
    memset(&f, 0, sizeof f);
    form_put_encoded(&f, s);
    form_put(&f, "", 0);
    if (f.oom) {
        mcx_form_free(&f);
        return NULL;
    }
    return f.buf; /* malloc'd; the caller frees it */
}
