/* The HTTPS daemon plumbing of the IdMS, KMS and GMS (httpd_internal.h): libmicrohttpd with
 * GnuTLS, per-request memory, body accumulation with a cap, the store pool, bearer tokens, and
 * the request log line. */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "common/error_internal.h"
#include "httpd/httpd_internal.h"
#include "mcxsec/mem.h"

/* GnuTLS priorities: TLS 1.3 and 1.2 only (RFC 8996 deprecates 1.0 and 1.1; RFC 9325 §3.1.1),
 * safe renegotiation required (RFC 5746). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SAFE_RENEGOTIATION"
#define TLS_FILE_MAX   65535 /* a certificate chain or key in PEM */

struct httpd_server {
    const httpd_config *cfg;
    struct MHD_Daemon *daemon;
    uint16_t port;
    char *tls_cert, *tls_key; /* kept for the daemon's life (libmicrohttpd does not copy) */
};

/* ---- Store connections ----------------------------------------------------------------------- */

void httpd_pool_init(httpd_pool *p, const char *url, size_t max_idle)
{
    memset(p, 0, sizeof *p);
    p->url = url;
    p->max_idle = max_idle;
    pthread_mutex_init(&p->lock, NULL);
}

mcx_status httpd_pool_get(httpd_pool *p, mcx_store **out)
{
    pthread_mutex_lock(&p->lock);
    if (p->n > 0) {
        *out = p->idle[--p->n];
        pthread_mutex_unlock(&p->lock);
        return MCX_OK;
    }
    pthread_mutex_unlock(&p->lock);
    return mcx_store_open(out, p->url);
}

void httpd_pool_put(httpd_pool *p, mcx_store *st)
{
    if (st == NULL)
        return;
    mcx_store_rollback(st); /* a handler that failed midway leaves no transaction open */
    pthread_mutex_lock(&p->lock);
    if (p->n == p->cap && (p->max_idle == 0 || p->cap < p->max_idle)) {
        size_t nc = p->cap ? 2 * p->cap : 8;
        if (p->max_idle != 0 && nc > p->max_idle)
            nc = p->max_idle;
        mcx_store **np = realloc(p->idle, nc * sizeof *np);
        if (np != NULL) {
            p->idle = np;
            p->cap = nc;
        }
    }
    if (p->n < p->cap) {
        p->idle[p->n++] = st;
        st = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    mcx_store_close(st); /* the pool is full (NULL: kept) */
}

void httpd_pool_free(httpd_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        mcx_store_close(p->idle[i]);
    free(p->idle);
    p->idle = NULL;
    p->n = p->cap = 0;
    pthread_mutex_destroy(&p->lock);
}

/* ---- Requests -------------------------------------------------------------------------------- */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

const char *httpd_header(const httpd_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_bearer(const httpd_request *r)
{
    const char *h = httpd_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    const char *t = h + 7 + strspn(h + 7, " ");
    return *t != '\0' ? t : NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 3986 §2.1 percent-decoding of n octets into out (cap with the NUL). 0 when malformed, too
 * long, or decoding to a control character or NUL. */
int httpd_pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return 0;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return 0;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7F || o + 1 >= cap)
            return 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o > 0;
}

int httpd_has_scope(const char *scopes, const char *want)
{
    size_t wl = strlen(want);
    for (const char *p = scopes; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == wl && memcmp(p, want, n) == 0)
            return 1;
        p += n;
        p += strspn(p, " ");
    }
    return 0;
}

int httpd_is_get(const httpd_request *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

mcx_status httpd_queue(httpd_request *r, unsigned status, struct MHD_Response *resp,
                       const char *content_type, const char *const *headers,
                       const char *const *extra)
{
    if (resp == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "%s: cannot create a response", r->cfg->what);
    if (r->responded) {
        MHD_destroy_response(resp);
        return MCX_FAIL(MCX_E_INTERNAL, "%s: second response to one request", r->cfg->what);
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2)
        MHD_add_response_header(resp, extra[i], extra[i + 1]);
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return MCX_FAIL(MCX_E_IO, "%s: cannot queue the response", r->cfg->what);
    r->status = status;
    r->responded = 1;
    return MCX_OK;
}

/* Printable ASCII without space or '"' (anything else becomes '?'), so that a log line cannot be
 * forged. */
static void printable(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && in[i] != '\0' && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = (c > 0x20 && c < 0x7F && c != '"') ? (char)c : '?';
    }
    out[o] = '\0';
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    const httpd_config *cfg = ((httpd_server *)cls)->cfg;
    httpd_request *r = calloc(1, cfg->request_size);
    if (r == NULL)
        return NULL;
    r->cfg = cfg;
    r->app = cfg->app;
    r->started = mono_ms();
    r->uri = strdup(uri != NULL ? uri : "");
    if (r->uri == NULL) {
        free(r);
        return NULL;
    }
    char *q = strchr(r->uri, '?');
    if (q != NULL)
        r->query = q + 1;
    size_t plen = q != NULL ? (size_t)(q - r->uri) : strlen(r->uri);
    size_t cap =
        cfg->path_max != 0 && cfg->path_max < sizeof r->path ? cfg->path_max : sizeof r->path;
    printable(r->uri, plen, r->path, cap);
    uint8_t id[16];
    if (RAND_bytes(id, sizeof id) != 1)
        memset(id, 0, sizeof id);
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(r->request_id + 2 * i, 3, "%02x", id[i]);
    snprintf(r->sub, sizeof r->sub, "-");
    if (cfg->init != NULL)
        cfg->init(r);
    return r;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* Append n octets to the body. Grown by hand, not realloc: the old buffer may hold a password
 * and realloc would free it unwiped. 0 when out of memory. */
static int body_add(httpd_request *r, const char *data, size_t n)
{
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap != 0 ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *nb = malloc(cap);
        if (nb == NULL)
            return 0;
        if (r->body != NULL) {
            memcpy(nb, r->body, r->body_len);
            mcx_memzero(r->body, r->body_cap);
            free(r->body);
        }
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 1;
}

static void log_line(const httpd_config *cfg, const httpd_request *r, int aborted)
{
    char ts[32] = "";
    if (cfg->log_style != HTTPD_LOG_AT_DISPATCH) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    char sub[sizeof r->sub];
    printable(r->sub, sizeof r->sub, sub, sizeof sub); /* token text */
    const char *outcome = r->outcome != NULL ? r->outcome : "-";
    char line[2048];
    int n;
    switch (cfg->log_style) {
    case HTTPD_LOG_PLAIN:
        n = snprintf(line, sizeof line,
                     "%s: time=%s method=%s path=%s status=%u addr=%s duration_ms=%.3f%s\n",
                     cfg->log_prefix, ts, r->method, r->path, r->status, r->addr,
                     mono_ms() - r->started, aborted ? " aborted=1" : "");
        break;
    case HTTPD_LOG_TRACED:
        n = snprintf(line, sizeof line,
                     "%s: time=%s request_id=%s method=%s path=%s status=%u addr=%s sub=%s "
                     "outcome=\"%s\" duration_ms=%.3f%s\n",
                     cfg->log_prefix, ts, r->request_id, r->method, r->path, r->status, r->addr,
                     sub, outcome, mono_ms() - r->started, aborted ? " aborted=1" : "");
        break;
    default:
        n = snprintf(line, sizeof line,
                     "%s: request_id=%s method=%s path=%s status=%u addr=%s sub=%s "
                     "outcome=\"%s\" duration_ms=%.3f\n",
                     cfg->log_prefix, r->request_id, r->method, r->path, r->status, r->addr, sub,
                     outcome, mono_ms() - r->dispatched);
        break;
    }
    if (n > 0) {
        /* one write per line, so that lines from the workers do not interleave */
        size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
    }
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    const httpd_config *cfg = ((httpd_server *)cls)->cfg;
    httpd_request *r = *con_cls;
    if (r == NULL)
        return MHD_NO;
    if (r->conn == NULL) {
        /* first call: headers only */
        r->conn = conn;
        r->method = method;
        client_address(conn, r->addr, sizeof r->addr);
        r->now = (int64_t)time(NULL);
        if (cfg->early_413) {
            const char *cl = httpd_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl != NULL && strtoull(cl, NULL, 10) > cfg->max_body)
                /* refused before reading the body; libmicrohttpd then closes the connection */
                return cfg->too_large(r) == MCX_OK ? MHD_YES : MHD_NO;
        }
        if (cfg->headers != NULL) {
            mcx_clear_error();
            if (cfg->headers(r) != MCX_OK)
                return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES; /* 413 already queued; libmicrohttpd discards the rest */
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->body_too_big || r->body_len + n > cfg->max_body) {
            r->body_too_big = 1;
            return MHD_YES;
        }
        return body_add(r, upload_data, n) ? MHD_YES : MHD_NO;
    }
    mcx_clear_error();
    r->dispatched = mono_ms();
    mcx_status rc = cfg->dispatch(r);
    if (rc != MCX_OK || !r->responded) {
        if (cfg->log_style == HTTPD_LOG_PLAIN)
            fprintf(stderr, "%s: %s %s failed: %s (%s)\n", cfg->log_prefix, r->method, r->path,
                    mcx_status_name(rc), mcx_last_error());
        else
            fprintf(stderr, "%s: %s %s failed: %s (%s) request_id=%s\n", cfg->log_prefix, r->method,
                    r->path, mcx_status_name(rc), mcx_last_error(), r->request_id);
        if (!r->responded && cfg->failed(r, rc) != MCX_OK)
            return MHD_NO;
    }
    if (cfg->log_requests && cfg->log_style == HTTPD_LOG_AT_DISPATCH)
        log_line(cfg, r, 0);
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    const httpd_config *cfg = ((httpd_server *)cls)->cfg;
    httpd_request *r = *con_cls;
    *con_cls = NULL;
    if (r == NULL)
        return;
    if (cfg->log_requests && cfg->log_style != HTTPD_LOG_AT_DISPATCH && r->method != NULL)
        log_line(cfg, r, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (cfg->done != NULL)
        cfg->done(r);
    if (r->st != NULL) {
        if (cfg->pool != NULL)
            httpd_pool_put(cfg->pool, r->st);
        else
            mcx_store_close(r->st);
    }
    if (r->body != NULL) {
        mcx_memzero(r->body, r->body_cap);
        free(r->body);
    }
    mcx_memzero(r->uri, strlen(r->uri));
    free(r->uri);
    free(r);
}

/* ---- Files and addresses --------------------------------------------------------------------- */

mcx_status httpd_read_file(const char *what, const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return MCX_FAIL(MCX_E_IO, "%s: cannot read %s: %s", what, path, strerror(errno));
    char *buf = mcx_secure_alloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max, f) : 0;
    int big = buf != NULL && n == max && fgetc(f) != EOF;
    fclose(f);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", what);
    if (big || n == 0) {
        mcx_secure_free(buf);
        return MCX_FAIL(MCX_E_IO, "%s: %s is empty or larger than %zu KiB", what, path,
                        (max + 1023) / 1024);
    }
    buf[n] = '\0';
    *out = buf;
    if (len != NULL)
        *len = n;
    return MCX_OK;
}

int httpd_listen_host_len(const char *listen)
{
    const char *colon = listen[0] == '[' ? strstr(listen, "]:") : strrchr(listen, ':');
    return colon != NULL ? (int)(colon - listen) + (listen[0] == '[') : (int)strlen(listen);
}

mcx_status httpd_parse_listen(const char *what, const char *listen, struct sockaddr_storage *ss,
                              int *v6)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *e = strchr(listen, ']');
        if (e == NULL || e[1] != ':' || (size_t)(e - listen - 1) >= sizeof host)
            return MCX_FAIL(MCX_E_ARG, "%s: listen \"%.64s\" is not [ADDR]:PORT", what, listen);
        memcpy(host, listen + 1, (size_t)(e - listen - 1));
        host[e - listen - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(listen, ':');
        if (c == NULL || (size_t)(c - listen) >= sizeof host)
            return MCX_FAIL(MCX_E_ARG, "%s: listen \"%.64s\" is not ADDR:PORT", what, listen);
        memcpy(host, listen, (size_t)(c - listen));
        host[c - listen] = '\0';
        port = c + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
        return MCX_FAIL(MCX_E_ARG, "%s: bad port in listen \"%.64s\"", what, listen);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int e = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
    if (e != 0 || res == NULL)
        return MCX_FAIL(MCX_E_ARG, "%s: cannot resolve listen address \"%.64s\": %s", what, host,
                        gai_strerror(e));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return MCX_OK;
}

/* ---- Start and stop -------------------------------------------------------------------------- */

mcx_status httpd_require_tls(const char *who)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "%s: libmicrohttpd was built without TLS", who);
    return MCX_OK;
}

static void free_server(httpd_server *s)
{
    mcx_secure_free(s->tls_cert);
    mcx_secure_free(s->tls_key);
    free(s);
}

mcx_status httpd_start(httpd_server **out, const httpd_config *cfg)
{
    *out = NULL;
    httpd_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "%s: out of memory", cfg->server_name);
    s->cfg = cfg;
    mcx_status rc;
    MCX_GUARD_GOTO(rc, httpd_read_file(cfg->what, cfg->tls_cert, TLS_FILE_MAX, &s->tls_cert, NULL),
                   fail);
    MCX_GUARD_GOTO(rc, httpd_read_file(cfg->what, cfg->tls_key, TLS_FILE_MAX, &s->tls_key, NULL),
                   fail);
    struct sockaddr_storage ss;
    int v6 = 0;
    MCX_GUARD_GOTO(rc, httpd_parse_listen(cfg->what, cfg->listen, &ss, &v6), fail);
    /* The thread model is the server's: a pool of workers, each polling many connections, or a
     * thread per connection where a handler may hold its connection open (an event stream). */
    unsigned flags = MHD_USE_TLS;
    flags |= cfg->per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                                 : MHD_USE_AUTO_INTERNAL_THREAD;
    if (v6)
        flags |= MHD_USE_IPv6;
    uint16_t port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    /* The options that differ by server go first; MHD_OPTION_ARRAY ends them. */
    struct MHD_OptionItem opts[4];
    size_t k = 0;
    if (!cfg->per_connection)
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
    if (cfg->per_ip != 0)
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip, NULL};
    if (cfg->conn_memory != 0)
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (intptr_t)cfg->conn_memory, NULL};
    opts[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, access_cb, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->timeout,
        MHD_OPTION_ARRAY, opts, MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, s,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        rc = MCX_FAIL(MCX_E_IO,
                      "%s: cannot listen on %s with TLS (address in use, or a bad certificate "
                      "or key)",
                      cfg->server_name, cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di != NULL ? di->port : port;
    *out = s;
    return MCX_OK;
fail:
    free_server(s);
    return rc;
}

uint16_t httpd_port(const httpd_server *s)
{
    return s != NULL ? s->port : 0;
}

void httpd_stop(httpd_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    free_server(s);
}
