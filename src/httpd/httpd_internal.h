/* The HTTPS daemon plumbing shared by the IdMS, KMS and GMS servers: libmicrohttpd with GnuTLS
 * (TLS 1.2/1.3 only), the listen address, per-request state (raw path, client address, request
 * ID, body with a size cap), the store connection pool, bearer tokens and scopes, and one
 * structured log line per request. Each server keeps only its routes, handlers and responses.
 * Not a public API. */
#ifndef MCX_HTTPD_INTERNAL_H
#define MCX_HTTPD_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "mcxsec/common.h"
#include "mcxsec/store.h"

struct MHD_Connection;
struct MHD_Response;

/* ---- Store connections: one per worker at a time, reused ------------------------------------ */

typedef struct httpd_pool {
    const char *url; /* the store URL (not copied) */
    size_t max_idle; /* idle connections kept; 0: no limit */
    pthread_mutex_t lock;
    mcx_store **idle;
    size_t n, cap;
} httpd_pool;

void httpd_pool_init(httpd_pool *p, const char *url, size_t max_idle);
/* An idle connection, or a new one. Errors: those of mcx_store_open. */
mcx_status httpd_pool_get(httpd_pool *p, mcx_store **out);
/* Back to the pool, its transaction (if any) rolled back; closed when the pool is full. NULL is
 * accepted. */
void httpd_pool_put(httpd_pool *p, mcx_store *st);
/* Close every idle connection. */
void httpd_pool_free(httpd_pool *p);

/* ---- Requests -------------------------------------------------------------------------------- */

#define HTTPD_PATH_MAX 1024

typedef struct httpd_config httpd_config;

typedef struct httpd_request {
    const httpd_config *cfg;
    void *app; /* httpd_config.app */
    struct MHD_Connection *conn;
    const char *method;
    char *uri;         /* the raw request target (wiped at the end: a query may hold a code) */
    const char *query; /* after '?' in uri, or NULL */
    /* The raw (still percent-encoded) path without the query, printable ASCII only, so that a
     * log line cannot be forged and an encoded '/' stays inside its segment. */
    char path[HTTPD_PATH_MAX];
    char addr[64]; /* the client's address, "-" when unknown */
    char request_id[33];
    char sub[256];       /* the token's subject for the log line ("-" before) */
    const char *outcome; /* for the log line (NULL: "-") */
    char *body;          /* NUL-terminated; wiped at the end (a login form holds a password) */
    size_t body_len, body_cap;
    int body_too_big; /* the body passed httpd_config.max_body: the handler answers 413 */
    unsigned status;
    int responded;
    double started, dispatched; /* monotonic ms */
    int64_t now;                /* Unix seconds when the headers arrived */
    mcx_store *st; /* leased from httpd_config.pool; returned at the end if still set */
} httpd_request;

/* How the request's log line looks (each server's existing format). */
typedef enum httpd_log_style {
    /* at completion: "P: time= method= path= status= addr= duration_ms=[ aborted=1]" */
    HTTPD_LOG_PLAIN,
    /* at completion, with request_id, sub and outcome */
    HTTPD_LOG_TRACED,
    /* right after the handler (an event stream completes only when it closes): request_id,
     * sub and outcome, no time */
    HTTPD_LOG_AT_DISPATCH,
} httpd_log_style;

struct httpd_config {
    const char *what;        /* message prefix for files and addresses: "KMS" */
    const char *server_name; /* message prefix for the daemon: "KMS server" */
    const char *log_prefix;  /* the log lines' program name: "mcx-kms" */
    const char *listen;      /* ADDR:PORT or [ADDR]:PORT; port 0: any free port */
    const char *tls_cert, *tls_key;
    size_t path_max;     /* the path is cut to path_max - 1 octets (<= HTTPD_PATH_MAX) */
    size_t request_size; /* >= sizeof(httpd_request), which starts the server's own struct */
    size_t max_body;     /* larger bodies set body_too_big */
    int early_413;       /* refuse an announced Content-Length above max_body with too_large */
    /* The thread model: a pool of threads workers each polling many connections, or (when
     * per_connection) a thread per connection, for handlers that hold theirs open. */
    int per_connection;
    unsigned threads;
    unsigned connections; /* simultaneous connections */
    unsigned per_ip;      /* per client address; 0: no limit */
    unsigned timeout;     /* idle seconds before a connection is closed */
    size_t conn_memory;   /* per-connection memory; 0: libmicrohttpd's default */
    int log_requests;
    httpd_log_style log_style;
    httpd_pool *pool; /* where a request's st goes back (may be NULL) */
    void *app;
    /* A new request (zeroed, app set); may be NULL. */
    void (*init)(httpd_request *r);
    /* The whole request has arrived: route it and queue one response. */
    mcx_status (*dispatch)(httpd_request *r);
    /* Answer a Content-Length above max_body (early_413), before the body is read. */
    mcx_status (*too_large)(httpd_request *r);
    /* The headers have arrived, the body not yet (may be NULL): may queue a response (e.g. a
     * refused token), so that nobody unauthenticated can make the server hold a large body. */
    mcx_status (*headers)(httpd_request *r);
    /* Answer a failure of dispatch (rc) when nothing was queued. */
    mcx_status (*failed)(httpd_request *r, mcx_status rc);
    /* The request ends: release the server's own parts of it (st, body and uri are the
     * module's); may be NULL. */
    void (*done)(httpd_request *r);
};

typedef struct httpd_server httpd_server;

/* MCX_OK when libmicrohttpd has TLS, else MCX_E_UNSUPPORTED naming who. */
mcx_status httpd_require_tls(const char *who);
/* Read cfg->tls_cert and tls_key, parse cfg->listen and start the daemon. cfg and the pool must
 * outlive it. Errors: MCX_E_IO (files, cannot listen), MCX_E_ARG (listen), MCX_E_NOMEM. */
mcx_status httpd_start(httpd_server **out, const httpd_config *cfg);
uint16_t httpd_port(const httpd_server *s);
/* Stop accepting, finish the requests in progress, release everything. NULL is accepted. */
void httpd_stop(httpd_server *s);

/* Queue resp (taken in all cases) with Content-Type (may be NULL), then headers (NULL-terminated
 * name/value pairs, may be NULL), then extra; records the status. A second response fails. */
mcx_status httpd_queue(httpd_request *r, unsigned status, struct MHD_Response *resp,
                       const char *content_type, const char *const *headers,
                       const char *const *extra);
/* A request header, or NULL. */
const char *httpd_header(const httpd_request *r, const char *name);
/* The token of "Authorization: Bearer <token>" (RFC 6750 §2.1), or NULL when there is none. */
const char *httpd_bearer(const httpd_request *r);
/* 1 if the space-separated list scopes holds want (RFC 6749 §3.3). */
int httpd_has_scope(const char *scopes, const char *want);
/* RFC 3986 §2.1 percent-decoding of s[0..n) into out (cap with the NUL): 0 when a '%' is not
 * followed by two hex digits, when out is too small, or when it decodes to nothing or to a
 * control character or NUL; else 1. */
int httpd_pct_decode(const char *s, size_t n, char *out, size_t cap);
/* GET or HEAD. */
int httpd_is_get(const httpd_request *r);

/* ---- Files and addresses --------------------------------------------------------------------- */

/* The file's text in secure memory (NUL-terminated, free with mcx_secure_free), at most max
 * octets. Errors: MCX_E_IO (missing, empty or larger), MCX_E_NOMEM; messages start "what: ". */
mcx_status httpd_read_file(const char *what, const char *path, size_t max, char **out, size_t *len);
/* "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (every address) resolved for a listening socket.
 * Errors: MCX_E_ARG. */
mcx_status httpd_parse_listen(const char *what, const char *listen, struct sockaddr_storage *ss,
                              int *v6);
/* The host part of a listen string as it goes into a URL ("[::1]" keeps its brackets): its
 * length from the start of listen. */
int httpd_listen_host_len(const char *listen);

/* ---- Daemon mains (daemon.c) ----------------------------------------------------------------- */

typedef struct httpd_daemon_args {
    const char *config, *listen, *store, *port_file;
    const char *extra[4]; /* values of the extra options, in their order */
} httpd_daemon_args;

/* The common options (--config FILE --listen ADDR:PORT --store URL --port-file FILE) and extra
 * (NULL-terminated names, each taking a value). Returns -1 to go on, else the exit status
 * (0 after --help, 2 on a usage error, reported on stderr as "prog: ..."). */
int httpd_daemon_parse(int argc, char **argv, const char *prog, const char *const *extra,
                       void (*usage)(FILE *), httpd_daemon_args *out);

/* What httpd_daemon_wait saw. */
enum { HTTPD_SIG_NONE = 0, HTTPD_SIG_STOP = 1, HTTPD_SIG_HUP = 2 };

/* SIGTERM and SIGINT (and SIGHUP when hup) are blocked in this thread, so that the threads it
 * starts later inherit the mask and only httpd_daemon_wait takes them; SIGPIPE is ignored.
 * Call it before any thread is started. */
void httpd_daemon_signals(int hup);
/* Wait up to seconds (0: without limit) for one of those signals: HTTPD_SIG_STOP,
 * HTTPD_SIG_HUP, or HTTPD_SIG_NONE when the time ran out. */
int httpd_daemon_wait(unsigned seconds);
/* Write "PORT\n" to path through a temporary file and rename. -1 (errno) on failure. */
int httpd_daemon_port_file(const char *path, unsigned port);

#endif
