/* The client library's HTTPS client over libcurl (see http_internal.h for the policy). */
#include "client/http_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
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

struct mcx_http_session {
    CURL *curl;
};

mcx_http_session *mcx_http_session_new(void)
{
    if (!mcx_http_curl_ready())
        return NULL;
    mcx_http_session *s = calloc(1, sizeof *s);
    if (s != NULL && (s->curl = curl_easy_init()) == NULL) {
        free(s);
        s = NULL;
    }
    return s;
}

void mcx_http_session_free(mcx_http_session *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->curl);
    free(s);
}

/* What the callbacks of one exchange share. */
typedef struct sink {
    CURL *curl;
    mcx_buf body;
    int too_large; /* a header too long */
    int oom;
    char *location;
    char *content_type;
    /* stream mode */
    const mcx_http_request_opts *opts;
    int checked;  /* the first body octets arrived: status and Content-Type looked at */
    int streamed; /* ... and the body goes to opts->stream_fn */
    int stopped;  /* opts->stream_fn ended the exchange */
} sink;

/* Grow *buf (cap octets, len used) to hold need + 1 octets; the old buffer is wiped (it may
 * hold a token). 0 when out of memory. */
static int grow(char **buf, size_t *cap, size_t len, size_t need)
{
    if (need + 1 <= *cap)
        return 1;
    size_t c = *cap == 0 ? 256 : *cap;
    while (c < need + 1)
        c *= 2;
    char *n = malloc(c);
    if (n == NULL)
        return 0;
    if (*buf != NULL) {
        memcpy(n, *buf, len);
        mcx_memzero(*buf, *cap);
        free(*buf);
    }
    *buf = n;
    *cap = c;
    return 1;
}

int mcx_buf_put(mcx_buf *b, const char *p, size_t n)
{
    if (b->max != 0 && (n > b->max || b->len + n > b->max)) {
        b->too_large = 1;
        return 0;
    }
    if (!grow(&b->buf, &b->cap, b->len, b->len + n)) {
        b->oom = 1;
        return 0;
    }
    if (n > 0)
        memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 1;
}

void mcx_buf_free(mcx_buf *b)
{
    size_t max = b->max;
    if (b->buf != NULL) {
        mcx_memzero(b->buf, b->cap);
        free(b->buf);
    }
    memset(b, 0, sizeof *b);
    b->max = max;
}

/* Stream mode: on the first body octets, whether this answer is the stream asked for (a 200 with
 * the expected Content-Type) or something else (an error document) read as a body. */
static void sink_check(sink *s)
{
    s->checked = 1;
    long code = 0;
    char *ct = NULL;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(s->curl, CURLINFO_CONTENT_TYPE, &ct);
    const char *want = s->opts->stream_type != NULL ? s->opts->stream_type : "";
    s->streamed = code == 200 && ct != NULL && strncasecmp(ct, want, strlen(want)) == 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (s->opts->stream_fn != NULL && !s->checked)
        sink_check(s);
    if (s->streamed) {
        if (s->opts->stream_fn(s->opts->stream_arg, data, n) != 0) {
            s->stopped = 1;
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        return n;
    }
    return mcx_buf_put(&s->body, data, n) ? n : 0; /* 0 aborts with CURLE_WRITE_ERROR */
}

/* libcurl's progress callback, also called while a stream is idle: a stop is seen at once. */
static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return ((sink *)user)->stopped;
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

/* Append line to *list; 0 when out of memory (the list is unchanged). */
static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *h = curl_slist_append(*list, line);
    if (h == NULL)
        return 0;
    *list = h;
    return 1;
}

/* Free a header list after wiping every copy of its lines: one of them may be the
 * Authorization header, the access token itself. */
static void headers_free(struct curl_slist *list)
{
    for (struct curl_slist *h = list; h != NULL; h = h->next)
        mcx_memzero(h->data, strlen(h->data));
    curl_slist_free_all(list);
}

/* The request's headers; MCX_OK or MCX_E_NOMEM. */
static mcx_status build_headers(const mcx_http_request_opts *o, struct curl_slist **out)
{
    struct curl_slist *hdrs = NULL;
    char line[160];
    int ok = add_header(&hdrs, "Expect:"); /* no 100-continue round trip */
    snprintf(line, sizeof line, "Accept: %s",
             o->accept != NULL ? o->accept : "application/json, text/html");
    ok = ok && add_header(&hdrs, line);
    if (o->body != NULL && o->content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", o->content_type);
        ok = ok && add_header(&hdrs, line);
    }
    if (ok && o->bearer != NULL) {
        size_t n = strlen(o->bearer) + sizeof "Authorization: Bearer ";
        char *auth = malloc(n);
        if (auth == NULL) {
            ok = 0;
        } else {
            snprintf(auth, n, "Authorization: Bearer %s", o->bearer);
            ok = add_header(&hdrs, auth);
            mcx_memzero(auth, n); /* the access token; curl keeps its own copy */
            free(auth);
        }
    }
    if (!ok) {
        headers_free(hdrs);
        return MCX_E_NOMEM;
    }
    *out = hdrs;
    return MCX_OK;
}

mcx_status mcx_http_request_ex(const mcx_http_request_opts *o, mcx_http_response *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    const char *who = o != NULL && o->who != NULL ? o->who : "HTTP";
    if (o == NULL || out == NULL || o->url == NULL)
        return MCX_FAIL(MCX_E_ARG, "%s: no URL", who);
    char shown[256];
    url_for_log(o->url, shown, sizeof shown);
    /* RFC 6749 §3.1, §3.2, OpenID Connect Core §16.17, TS 33.180 §5.2: TLS for every exchange. */
    if (strncasecmp(o->url, "https://", 8) != 0)
        return MCX_FAIL(MCX_E_ARG, "%s: '%s' is not an https:// URL", who, shown);
    /* a line break would end the header and let the token smuggle others (RFC 9110 §5.5) */
    if (o->bearer != NULL && strpbrk(o->bearer, "\r\n") != NULL)
        return MCX_FAIL(MCX_E_ARG, "%s: the access token holds a line break", who);
    if (!mcx_http_curl_ready())
        return MCX_FAIL(MCX_E_IO, "%s: libcurl initialisation failed", who);
    int streaming = o->stream_fn != NULL;
    size_t max = o->body_max != 0 ? o->body_max : MCX_HTTP_BODY_MAX;
    long timeout = o->timeout_ms == 0 ? MCX_HTTP_TIMEOUT_MS : o->timeout_ms < 0 ? 0 : o->timeout_ms;

    /* A session's handle is reset to no options but keeps its live connection and TLS session
     * cache (curl_easy_reset), so every option below is set again for this request. */
    CURL *c = o->session != NULL ? o->session->curl : curl_easy_init();
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", who);
    if (o->session != NULL)
        curl_easy_reset(c);
    sink s;
    memset(&s, 0, sizeof s);
    s.curl = c;
    s.body.max = max;
    s.opts = o;
    char err[CURL_ERROR_SIZE];
    err[0] = '\0';
    struct curl_slist *hdrs = NULL;
    mcx_status st = build_headers(o, &hdrs);
    if (st != MCX_OK) {
        st = MCX_FAIL(st, "%s: out of memory", who);
        goto out;
    }

    int bad = 0;
    bad |= curl_easy_setopt(c, CURLOPT_URL, o->url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, MCX_HTTP_CONNECT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    if (!streaming) /* refuse early an answer that announces its excess (Content-Length) */
        bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &s) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT,
                            o->user_agent != NULL ? o->user_agent : "mcxsec/0.1") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
    if (o->ca_file != NULL)
        bad |= curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file) != CURLE_OK;
    if (o->body != NULL) {
        /* POSTFIELDS is not copied by curl: the caller keeps (and later wipes) the body */
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body) != CURLE_OK;
        bad |=
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len) != CURLE_OK;
    }
    if (streaming) {
        bad |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
    }
    if (bad) {
        st = MCX_FAIL(MCX_E_IO, "%s: request setup failed (libcurl refused an option: too old?)",
                      who);
        goto out;
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (s.stopped) {
        /* the stream's consumer ended it and keeps its own reason: no MCX_FAIL here */
        out->stopped = 1;
        rc = CURLE_OK;
    } else if (streaming && rc == CURLE_OPERATION_TIMEDOUT && (out->status == 200 || s.checked)) {
        out->timed_out = 1; /* the time given has passed: the normal end of a stream */
        rc = CURLE_OK;
    }
    if (s.oom) {
        st = MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", who);
        goto out;
    }
    if (s.body.oom) {
        st = MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", who);
        goto out;
    }
    if (s.too_large || s.body.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        st = MCX_FAIL(o->oversize != MCX_OK ? o->oversize : MCX_E_IO,
                      "%s %s: answer larger than %zu octets", who, shown, max);
        goto out;
    }
    if (rc != CURLE_OK) {
        /* curl's message may quote what the peer sent (a host name, a header) */
        char why[CURL_ERROR_SIZE];
        mcx_printable(err[0] != '\0' ? err : curl_easy_strerror(rc), why, sizeof why);
        st = MCX_FAIL(MCX_E_IO, "%s %s: %s", who, shown, why);
        goto out;
    }
    if (s.body.buf == NULL && !mcx_buf_put(&s.body, "", 0)) { /* an empty answer: "" */
        st = MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", who);
        goto out;
    }
    out->body = s.body.buf;
    out->body_len = s.body.len;
    out->location = s.location;
    out->content_type = s.content_type;
    out->streamed = s.streamed;
    s.body.buf = NULL;
    s.location = NULL;
    s.content_type = NULL;
out:
    if (st != MCX_OK)
        memset(out, 0, sizeof *out);
    mcx_buf_free(&s.body);
    set_header(&s.location, NULL);
    set_header(&s.content_type, NULL);
    headers_free(hdrs);
    if (o->session == NULL)
        curl_easy_cleanup(c);
    return st;
}

mcx_status mcx_http_request(const char *url, const char *form, const char *ca_file,
                            mcx_http_response *out)
{
    mcx_http_request_opts o;
    memset(&o, 0, sizeof o);
    o.url = url;
    o.ca_file = ca_file;
    o.body = form;
    o.body_len = form != NULL ? strlen(form) : 0;
    o.content_type = NULL; /* curl's default for POSTFIELDS: application/x-www-form-urlencoded */
    o.user_agent = "mcxsec-login/0.1";
    return mcx_http_request_ex(&o, out);
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
    if (!grow(&f->buf, &f->cap, f->len, f->len + n)) {
        f->oom = 1;
        return;
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
