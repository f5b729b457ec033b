/* The GMS HTTPS server (docs/gms.md): libmicrohttpd with GnuTLS, a thread per connection (the
 * event stream holds its connection open), bearer access tokens on every request (RFC 6750),
 * JSON administration, the group document (XML) and Server-Sent Events pushing each member its
 * new keys as they are made.
 *
 *   GET  /health                          GET  /groups            POST /groups
 *   GET  /groups/<id>                     DELETE /groups/<id>     POST /groups/<id>/members
 *   POST /groups/<id>/rekey               POST /groups/<id>/revoke
 *   POST /regroups                        GET  /events */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libxml/xmlwriter.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "common/error_internal.h"
#include "gms/gms_internal.h"
#include "httpd/httpd_internal.h"
#include "gms/server_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

#define CONNECTION_TIMEOUT 60
#define DEFAULT_MAX_CONN   512
#define PING_SECONDS       15
#define EVENT_QUEUE_MAX    4096 /* a subscriber that falls this far behind is disconnected */
#define POOL_IDLE          16   /* store connections kept between requests */
#define PER_IP_LIMIT       64   /* connections (threads) per client address */
#define JWKS_FILE_MAX      (256 * 1024)

/* ---- the event hub: one subscriber per open /events stream ------------------------------- */

typedef struct ev_item {
    struct ev_item *next;
    size_t len, off;
    char text[];
} ev_item;

typedef struct subscriber {
    struct subscriber *next;
    char ids[3][256]; /* the token's MC IDs: events for any of them are sent */
    ev_item *head, *tail;
    size_t queued;
    int closed;
    pthread_cond_t cond;
} subscriber;

struct gms_server {
    const gms_config *cfg;
    mcx_gms *g;
    mcx_token_verifier *verifier;
    httpd_config http_cfg;
    httpd_server *http;
    httpd_pool pool;
    pthread_mutex_t hub_lock;
    subscriber *subs;
    int stopping;
};

static void hub_push(gms_server *srv, const char *member, const char *text, size_t len)
{
    pthread_mutex_lock(&srv->hub_lock);
    for (subscriber *s = srv->subs; s != NULL; s = s->next) {
        if (s->closed || (strcmp(s->ids[0], member) != 0 && strcmp(s->ids[1], member) != 0 &&
                          strcmp(s->ids[2], member) != 0))
            continue;
        if (s->queued >= EVENT_QUEUE_MAX) {
            s->closed = 1; /* too slow: it reconnects and fetches the group document */
            pthread_cond_signal(&s->cond);
            continue;
        }
        ev_item *it = malloc(sizeof *it + len);
        if (it == NULL) {
            s->closed = 1;
            pthread_cond_signal(&s->cond);
            continue;
        }
        it->next = NULL;
        it->len = len;
        it->off = 0;
        memcpy(it->text, text, len);
        if (s->tail != NULL)
            s->tail->next = it;
        else
            s->head = it;
        s->tail = it;
        s->queued++;
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&srv->hub_lock);
}

static char *base64(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out != NULL)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* The engine's events, as SSE (docs/gms.md "Events"); called after each commit. */
static void on_gms_event(void *arg, const mcx_gms_event *ev)
{
    gms_server *srv = arg;
    json_t *d = json_object();
    if (d == NULL)
        return;
    json_object_set_new(d, "group", json_string(ev->group));
    const char *name = "group-removed";
    if (ev->kind == MCX_GMS_EVENT_KEY || ev->kind == MCX_GMS_EVENT_REVOKED) {
        char kid[9];
        snprintf(kid, sizeof kid, "%08" PRIX32, ev->key_id);
        json_object_set_new(d, "key_id", json_string(kid));
        name = "group-revoked";
    }
    if (ev->kind == MCX_GMS_EVENT_KEY) {
        name = "group-key";
        json_object_set_new(d, "type", json_string(ev->key_type));
        json_object_set_new(d, "context", json_integer((json_int_t)ev->context));
        char *b = base64(ev->imessage, ev->imessage_len);
        if (b != NULL)
            json_object_set_new(d, "imessage", json_string(b));
        free(b);
    }
    char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    if (data == NULL)
        return;
    size_t n = strlen(data) + strlen(name) + 32;
    char *text = malloc(n);
    if (text != NULL) {
        int len = snprintf(text, n, "event: %s\ndata: %s\n\n", name, data);
        hub_push(srv, ev->member, text, (size_t)len);
    }
    free(text);
    free(data);
}

/* libmicrohttpd pulls the stream from here (its own thread for this connection). */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    subscriber *s = cls;
    gms_server *srv = *(gms_server **)(void *)(s + 1);
    pthread_mutex_lock(&srv->hub_lock);
    if (s->head == NULL && !s->closed && !srv->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += PING_SECONDS;
        pthread_cond_timedwait(&s->cond, &srv->hub_lock, &ts);
    }
    ssize_t n;
    if (s->head != NULL) {
        ev_item *it = s->head;
        size_t k = it->len - it->off < max ? it->len - it->off : max;
        memcpy(buf, it->text + it->off, k);
        it->off += k;
        if (it->off == it->len) {
            s->head = it->next;
            if (s->head == NULL)
                s->tail = NULL;
            s->queued--;
            free(it);
        }
        n = (ssize_t)k;
    } else if (s->closed || srv->stopping) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        static const char ping[] = ": ping\n\n";
        n = (ssize_t)(sizeof ping - 1 < max ? sizeof ping - 1 : max);
        memcpy(buf, ping, (size_t)n);
    }
    pthread_mutex_unlock(&srv->hub_lock);
    return n;
}

static void sse_free(void *cls)
{
    subscriber *s = cls;
    gms_server *srv = *(gms_server **)(void *)(s + 1);
    pthread_mutex_lock(&srv->hub_lock);
    for (subscriber **pp = &srv->subs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&srv->hub_lock);
    while (s->head != NULL) {
        ev_item *it = s->head;
        s->head = it->next;
        free(it);
    }
    pthread_cond_destroy(&s->cond);
    free(s);
}

/* ---- requests ---------------------------------------------------------------------------- */

/* A request: the shared part first (httpd_internal.h), then the GMS's. */
typedef struct greq {
    httpd_request h;
    gms_server *srv;
    int authorized; /* the token was checked at the headers (on_headers) */
    mcx_token_claims claims;
    int admin, dispatcher;
} greq;

static mcx_status queue(greq *r, unsigned status, struct MHD_Response *resp, const char *type,
                        const char *const *headers)
{
    const char *const std[] = {"Strict-Transport-Security",
                               "max-age=31536000",
                               "Cache-Control",
                               "no-store",
                               "X-Request-Id",
                               r->h.request_id,
                               NULL};
    return httpd_queue(&r->h, status, resp, type, std, headers);
}

static mcx_status respond_buf(greq *r, unsigned status, const char *type, char *body, size_t n,
                              const char *const *headers)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    }
    return queue(r, status, resp, type, headers);
}

static mcx_status respond_json(greq *r, unsigned status, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    return respond_buf(r, status, "application/json", s, strlen(s), NULL);
}

/* RFC 6749 §5.2-style error bodies, the description naming what was wrong. */
static mcx_status respond_error(greq *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static mcx_status respond_error(greq *r, unsigned status, const char *code, const char *fmt, ...)
{
    char desc[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    r->h.outcome = code;
    json_t *j = json_pack("{s:s,s:s}", "error", code, "error_description", desc);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    const char *hd[3] = {NULL, NULL, NULL};
    if (status == 401) {
        hd[0] = "WWW-Authenticate";
        hd[1] = "Bearer realm=\"mcx-gms\", error=\"invalid_token\"";
    } else if (status == 403 && strcmp(code, "insufficient_scope") == 0) {
        hd[0] = "WWW-Authenticate";
        hd[1] = "Bearer realm=\"mcx-gms\", error=\"insufficient_scope\"";
    }
    return respond_buf(r, status, "application/json", s, strlen(s), hd);
}

/* The engine's failure as an HTTP answer. */
static mcx_status respond_failure(greq *r, mcx_status st)
{
    const char *why = mcx_last_error();
    switch (st) {
    case MCX_E_ARG:
        return respond_error(r, 400, "invalid_request", "%s", why);
    case MCX_E_NOT_FOUND:
        return respond_error(r, 404, "not_found", "%s", why);
    case MCX_E_EXISTS:
        return respond_error(r, 409, "conflict", "%s", why);
    case MCX_E_NO_KEY:
        return respond_error(r, 503, "no_gms_keys", "%s", why);
    default:
        return st;
    }
}

/* Whether sub is in the configured list " a b c ". */
static int listed(const char *list, const char *sub)
{
    if (list == NULL || sub[0] == '\0')
        return 0;
    size_t n = strlen(sub);
    for (const char *p = strstr(list, sub); p != NULL; p = strstr(p + 1, sub))
        if (p[-1] == ' ' && p[n] == ' ')
            return 1;
    return 0;
}

/* RFC 6750: 401 without a valid token, 403 without a GMS scope. */
static int authorize(greq *r, mcx_status *rc)
{
    const char *jwt = httpd_bearer(&r->h);
    if (jwt == NULL) {
        *rc = respond_error(r, 401, "invalid_token",
                            "an access token is required (Authorization: Bearer)");
        return 0;
    }
    mcx_status v = mcx_token_verify(r->srv->verifier, jwt, NULL, r->h.now, &r->claims);
    if (r->claims.sub[0] != '\0') /* for the log line */
        snprintf(r->h.sub, sizeof r->h.sub, "%s", r->claims.sub);
    if (v != MCX_OK) {
        *rc = respond_error(r, 401, "invalid_token", "invalid access token: %s", mcx_last_error());
        return 0;
    }
    const char *sc = r->claims.scope;
    if (!httpd_has_scope(sc, MCX_SCOPE_PTT_GMS) && !httpd_has_scope(sc, MCX_SCOPE_VIDEO_GMS) &&
        !httpd_has_scope(sc, MCX_SCOPE_DATA_GMS)) {
        *rc = respond_error(r, 403, "insufficient_scope",
                            "the access token lacks the scope " MCX_SCOPE_PTT_GMS);
        return 0;
    }
    r->admin =
        httpd_has_scope(sc, MCX_SCOPE_GMS_ADMIN) && listed(r->srv->cfg->admins, r->claims.sub);
    r->dispatcher = httpd_has_scope(sc, MCX_SCOPE_GMS_DISPATCHER) &&
                    listed(r->srv->cfg->dispatchers, r->claims.sub);
    return 1;
}

static int caller_is_member(greq *r, const char *group, const char **as)
{
    const char *ids[3] = {r->claims.mcptt_id, r->claims.mcvideo_id, r->claims.mcdata_id};
    for (int i = 0; i < 3; i++)
        if (ids[i][0] != '\0' && mcx_gms_is_member(r->h.st, group, ids[i])) {
            if (as != NULL)
                *as = ids[i];
            return 1;
        }
    return 0;
}

static json_t *summary(const mcx_gms_group_info *i)
{
    char gmk[9];
    snprintf(gmk, sizeof gmk, "%08" PRIX32, i->gmk_id);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:s,s:I,s:I,s:b,s:b}", "id", i->id, "kind",
                  i->broadcast ? "broadcast" : "normal", "display_name", i->display_name, "members",
                  (json_int_t)i->n_members, "gmk_id", gmk, "context", (json_int_t)i->context,
                  "status", i->revoked ? "revoked" : "active", "created", (json_int_t)i->created,
                  "rekeyed", (json_int_t)i->rekeyed, "mkfc", i->has_mkfc, "gdk", i->has_gdk);
    if (j != NULL && i->regroup_of[0] != '\0')
        json_object_set_new(j, "regroup_of", json_string(i->regroup_of));
    return j;
}

static void add_summary(void *arg, const mcx_gms_group_info *info)
{
    json_array_append_new(arg, summary(info));
}

/* ---- the group document (docs/gms.md) ---- */

typedef struct doc_ctx {
    xmlTextWriterPtr w;
    int rc;
} doc_ctx;

static void doc_member(void *arg, const char *uri)
{
    doc_ctx *d = arg;
    if (d->rc < 0)
        return;
    if (xmlTextWriterStartElement(d->w, BAD_CAST "entry") < 0 ||
        xmlTextWriterWriteAttribute(d->w, BAD_CAST "uri", (const xmlChar *)uri) < 0 ||
        xmlTextWriterEndElement(d->w) < 0)
        d->rc = -1;
}

static void doc_key(void *arg, const mcx_gms_member_key *k)
{
    doc_ctx *d = arg;
    if (d->rc < 0)
        return;
    char kid[9], act[24], exp[24];
    snprintf(kid, sizeof kid, "%08" PRIX32, k->key_id);
    snprintf(act, sizeof act, "%" PRIu64, k->activation);
    snprintf(exp, sizeof exp, "%" PRIu64, k->expiry);
    char *b = base64(k->imessage, k->imessage_len);
    if (b == NULL || xmlTextWriterStartElement(d->w, BAD_CAST "mcx:key") < 0 ||
        xmlTextWriterWriteAttribute(d->w, BAD_CAST "type", (const xmlChar *)k->key_type) < 0 ||
        xmlTextWriterWriteAttribute(d->w, BAD_CAST "key-id", BAD_CAST kid) < 0 ||
        xmlTextWriterWriteAttribute(d->w, BAD_CAST "activation", BAD_CAST act) < 0 ||
        xmlTextWriterWriteAttribute(d->w, BAD_CAST "expiry", BAD_CAST exp) < 0 ||
        xmlTextWriterWriteString(d->w, BAD_CAST b) < 0 || xmlTextWriterEndElement(d->w) < 0)
        d->rc = -1;
    free(b);
}

static mcx_status group_document(greq *r, const mcx_gms_group_info *info, const char *member)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf != NULL ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (w == NULL) {
        xmlBufferFree(buf);
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    }
    doc_ctx d = {w, 0};
    char ctx[24];
    snprintf(ctx, sizeof ctx, "%" PRIu64, info->context);
    if (xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElement(w, BAD_CAST "list-service") < 0 ||
        xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST "urn:oma:xml:poc:list-service") <
            0 ||
        xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:mcx", BAD_CAST "urn:mcxsec:gms:1.0") < 0 ||
        xmlTextWriterWriteAttribute(w, BAD_CAST "uri", (const xmlChar *)info->id) < 0 ||
        xmlTextWriterWriteElement(w, BAD_CAST "display-name", (const xmlChar *)info->display_name) <
            0 ||
        xmlTextWriterStartElement(w, BAD_CAST "list") < 0)
        d.rc = -1;
    mcx_status st = MCX_OK;
    if (d.rc == 0)
        st = mcx_gms_members(r->h.st, info->id, doc_member, &d);
    if (st == MCX_OK && d.rc == 0 &&
        (xmlTextWriterEndElement(w) < 0 ||
         xmlTextWriterStartElement(w, BAD_CAST "mcx:group-security") < 0 ||
         xmlTextWriterWriteAttribute(w, BAD_CAST "kind",
                                     BAD_CAST(info->broadcast ? "broadcast" : "normal")) < 0 ||
         xmlTextWriterWriteAttribute(w, BAD_CAST "gms", (const xmlChar *)r->srv->g->identity) < 0 ||
         xmlTextWriterWriteAttribute(w, BAD_CAST "context", BAD_CAST ctx) < 0 ||
         xmlTextWriterWriteAttribute(w, BAD_CAST "status",
                                     BAD_CAST(info->revoked ? "revoked" : "active")) < 0))
        d.rc = -1;
    if (st == MCX_OK && d.rc == 0 && member != NULL)
        st = mcx_gms_member_keys(r->h.st, info->id, member, doc_key, &d);
    if (st == MCX_OK && d.rc == 0 && xmlTextWriterEndDocument(w) < 0)
        d.rc = -1;
    xmlFreeTextWriter(w);
    char *body = NULL;
    size_t n = 0;
    if (st == MCX_OK && d.rc == 0) {
        n = (size_t)xmlBufferLength(buf);
        body = malloc(n + 1);
        if (body != NULL)
            memcpy(body, xmlBufferContent(buf), n);
    }
    xmlBufferFree(buf);
    MCX_GUARD(st);
    if (body == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: cannot write the group document");
    r->h.outcome = "group document";
    return respond_buf(r, 200, "application/xml", body, n, NULL);
}

/* ---- JSON bodies ---- */

static mcx_status parse_body(greq *r, json_t **out, int *answered)
{
    *answered = 0;
    json_error_t e;
    *out =
        json_loadb(r->h.body != NULL ? r->h.body : "", r->h.body_len, JSON_REJECT_DUPLICATES, &e);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        *answered = 1;
        return respond_error(r, 400, "invalid_request", "the body is not a JSON object: %s",
                             r->h.body_len == 0 ? "empty" : e.text);
    }
    return MCX_OK;
}

/* A JSON array of strings as a C array (pointing into j). */
static int str_array(json_t *a, const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (a == NULL)
        return 1;
    if (!json_is_array(a))
        return 0;
    size_t k = json_array_size(a);
    const char **v = calloc(k ? k : 1, sizeof *v);
    if (v == NULL)
        return 0;
    for (size_t i = 0; i < k; i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s)) {
            free(v);
            return 0;
        }
        v[i] = json_string_value(s);
    }
    *out = v;
    *n = k;
    return 1;
}

static int only_keys(json_t *o, const char *const *known, const char **bad)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i] != NULL; i++)
            ok |= strcmp(known[i], key) == 0;
        if (!ok) {
            *bad = key;
            return 0;
        }
    }
    return 1;
}

static mcx_status handle_create(greq *r)
{
    json_t *j;
    int answered;
    MCX_GUARD(parse_body(r, &j, &answered));
    if (answered)
        return MCX_OK;
    static const char *const known[] = {"id",  "kind", "display_name", "members", "mkfc",
                                        "gdk", NULL};
    const char *bad = NULL, **members = NULL;
    size_t n = 0;
    mcx_status st;
    json_t *kind = json_object_get(j, "kind"), *mk = json_object_get(j, "mkfc"),
           *gd = json_object_get(j, "gdk"), *dn = json_object_get(j, "display_name");
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!only_keys(j, known, &bad))
        st = respond_error(r, 400, "invalid_request", "unknown key \"%.64s\"", bad);
    else if (id == NULL)
        st = respond_error(r, 400, "invalid_request", "\"id\" (the group's URI) is required");
    else if (kind != NULL &&
             (!json_is_string(kind) || (strcmp(json_string_value(kind), "normal") != 0 &&
                                        strcmp(json_string_value(kind), "broadcast") != 0)))
        st = respond_error(r, 400, "invalid_request", "\"kind\" is \"normal\" or \"broadcast\"");
    else if ((mk != NULL && !json_is_boolean(mk)) || (gd != NULL && !json_is_boolean(gd)))
        st = respond_error(r, 400, "invalid_request", "\"mkfc\" and \"gdk\" are true or false");
    else if (dn != NULL && !json_is_string(dn))
        st = respond_error(r, 400, "invalid_request", "\"display_name\" must be a string");
    else if (!str_array(json_object_get(j, "members"), &members, &n))
        st = respond_error(r, 400, "invalid_request", "\"members\" must be an array of URIs");
    else {
        mcx_gms_group_spec spec = {id,
                                   json_string_value(dn),
                                   kind != NULL &&
                                       strcmp(json_string_value(kind), "broadcast") == 0,
                                   json_is_true(mk),
                                   json_is_true(gd),
                                   members,
                                   n};
        mcx_gms_group_info info;
        st = mcx_gms_group_create(r->srv->g, r->h.st, &spec, r->claims.sub, r->h.now, &info);
        if (st == MCX_OK) {
            r->h.outcome = "created";
            st = respond_json(r, 201, summary(&info));
        } else {
            st = respond_failure(r, st);
        }
    }
    free(members);
    json_decref(j);
    return st;
}

static mcx_status handle_members(greq *r, const char *id)
{
    json_t *j;
    int answered;
    MCX_GUARD(parse_body(r, &j, &answered));
    if (answered)
        return MCX_OK;
    static const char *const known[] = {"add", "remove", NULL};
    const char *bad = NULL, **add = NULL, **rm = NULL;
    size_t na = 0, nr = 0;
    mcx_status st;
    if (!only_keys(j, known, &bad))
        st = respond_error(r, 400, "invalid_request", "unknown key \"%.64s\"", bad);
    else if (!str_array(json_object_get(j, "add"), &add, &na) ||
             !str_array(json_object_get(j, "remove"), &rm, &nr))
        st = respond_error(r, 400, "invalid_request",
                           "\"add\" and \"remove\" must be arrays of URIs");
    else if (na + nr == 0)
        st = respond_error(r, 400, "invalid_request", "nothing to add or remove");
    else {
        mcx_gms_group_info info;
        st = mcx_gms_members_change(r->srv->g, r->h.st, id, add, na, rm, nr, r->claims.sub,
                                    r->h.now, &info);
        if (st == MCX_OK) {
            r->h.outcome = nr ? "members changed, rekeyed" : "members added";
            st = respond_json(r, 200, summary(&info));
        } else {
            st = respond_failure(r, st);
        }
    }
    free(add);
    free(rm);
    json_decref(j);
    return st;
}

static mcx_status handle_regroup(greq *r)
{
    json_t *j;
    int answered;
    MCX_GUARD(parse_body(r, &j, &answered));
    if (answered)
        return MCX_OK;
    static const char *const known[] = {"id", "display_name", "of", NULL};
    const char *bad = NULL, **of = NULL;
    size_t n = 0;
    mcx_status st;
    const char *id = json_string_value(json_object_get(j, "id"));
    json_t *dn = json_object_get(j, "display_name");
    if (!only_keys(j, known, &bad))
        st = respond_error(r, 400, "invalid_request", "unknown key \"%.64s\"", bad);
    else if (id == NULL || (dn != NULL && !json_is_string(dn)))
        st = respond_error(r, 400, "invalid_request", "\"id\" (a string) is required");
    else if (!str_array(json_object_get(j, "of"), &of, &n) || n == 0)
        st = respond_error(r, 400, "invalid_request", "\"of\" must list the groups combined");
    else {
        mcx_gms_group_info info;
        st = mcx_gms_regroup(r->srv->g, r->h.st, id, json_string_value(dn), of, n, r->claims.sub,
                             r->h.now, &info);
        if (st == MCX_OK) {
            r->h.outcome = "regrouped";
            st = respond_json(r, 201, summary(&info));
        } else {
            st = respond_failure(r, st);
        }
    }
    free(of);
    json_decref(j);
    return st;
}

static mcx_status handle_events(greq *r)
{
    subscriber *s = calloc(1, sizeof *s + sizeof(gms_server *));
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    *(gms_server **)(void *)(s + 1) = r->srv;
    snprintf(s->ids[0], sizeof s->ids[0], "%s", r->claims.mcptt_id);
    snprintf(s->ids[1], sizeof s->ids[1], "%s", r->claims.mcvideo_id);
    snprintf(s->ids[2], sizeof s->ids[2], "%s", r->claims.mcdata_id);
    for (int i = 0; i < 3; i++)
        if (s->ids[i][0] == '\0')
            snprintf(s->ids[i], sizeof s->ids[i], "\x01"); /* matches no member */
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_lock(&r->srv->hub_lock);
    s->next = r->srv->subs;
    r->srv->subs = s;
    pthread_mutex_unlock(&r->srv->hub_lock);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
    if (resp == NULL) {
        sse_free(s);
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    }
    r->h.outcome = "event stream";
    return queue(r, 200, resp, "text/event-stream", NULL);
}

static int method_is(greq *r, const char *m)
{
    return strcmp(r->h.method, m) == 0;
}

static mcx_status not_allowed(greq *r, const char *allow)
{
    r->h.outcome = "method";
    char *s = strdup("{\"error\":\"method_not_allowed\"}");
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    const char *hd[] = {"Allow", allow, NULL};
    return respond_buf(r, 405, "application/json", s, strlen(s), hd);
}

static mcx_status need_admin(greq *r, int dispatcher_too)
{
    if (r->admin || (dispatcher_too && r->dispatcher))
        return MCX_OK;
    return respond_error(r, 403, "insufficient_scope",
                         "this needs the scope " MCX_SCOPE_GMS_ADMIN "%s and a subject the GMS "
                         "lists in \"admins\"%s",
                         dispatcher_too ? " (or " MCX_SCOPE_GMS_DISPATCHER ")" : "",
                         dispatcher_too ? " (or \"dispatchers\")" : "");
}

static mcx_status route_group(greq *r, const char *rest)
{
    char id[MCX_GMS_ID_MAX];
    size_t n = strcspn(rest, "/");
    const char *action = rest[n] == '/' ? rest + n + 1 : NULL;
    if (n == 0)
        return respond_error(r, 404, "not_found", "no such resource");
    if (!httpd_pct_decode(rest, n, id, sizeof id))
        return respond_error(r, 400, "invalid_request", "the group ID in the path is malformed");
    mcx_gms_group_info info;
    if (action == NULL) {
        if (method_is(r, "GET")) {
            mcx_status st = mcx_gms_group_get(r->h.st, id, &info);
            const char *as = NULL;
            int member = st == MCX_OK && caller_is_member(r, id, &as);
            if (st == MCX_E_NOT_FOUND || (st == MCX_OK && !member && !r->admin))
                /* the same answer for a group that exists but is not the caller's */
                return respond_error(r, 404, "not_found", "no group \"%.200s\" of yours", id);
            MCX_GUARD(st);
            return group_document(r, &info, member ? as : NULL);
        }
        if (method_is(r, "DELETE")) {
            if (need_admin(r, 0) != MCX_OK || r->h.responded)
                return MCX_OK;
            mcx_status st = mcx_gms_group_delete(r->srv->g, r->h.st, id, r->claims.sub, r->h.now);
            if (st != MCX_OK)
                return respond_failure(r, st);
            r->h.outcome = "deleted";
            return respond_json(r, 200, json_pack("{s:s,s:s}", "id", id, "status", "deleted"));
        }
        return not_allowed(r, "GET, DELETE");
    }
    if (!method_is(r, "POST"))
        return not_allowed(r, "POST");
    if (need_admin(r, 0) != MCX_OK || r->h.responded)
        return MCX_OK;
    mcx_status st;
    if (strcmp(action, "members") == 0)
        return handle_members(r, id);
    if (strcmp(action, "rekey") == 0)
        st = mcx_gms_rekey(r->srv->g, r->h.st, id, r->claims.sub, "on demand", r->h.now, &info);
    else if (strcmp(action, "revoke") == 0)
        st = mcx_gms_revoke(r->srv->g, r->h.st, id, r->claims.sub, r->h.now, &info);
    else
        return respond_error(r, 404, "not_found", "no such resource");
    if (st != MCX_OK)
        return respond_failure(r, st);
    r->h.outcome = action;
    return respond_json(r, 200, summary(&info));
}

static mcx_status dispatch(greq *r)
{
    if (strcmp(r->h.path, "/health") == 0) {
        if (!method_is(r, "GET"))
            return not_allowed(r, "GET");
        char *s = strdup("{\"status\":\"ok\"}");
        return s != NULL ? respond_buf(r, 200, "application/json", s, strlen(s), NULL)
                         : MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    }
    int groups = strcmp(r->h.path, "/groups") == 0, events = strcmp(r->h.path, "/events") == 0,
        regroups = strcmp(r->h.path, "/regroups") == 0,
        group = strncmp(r->h.path, "/groups/", 8) == 0;
    if (!groups && !events && !regroups && !group)
        return respond_error(r, 404, "not_found", "no such resource");
    if (r->h.body_too_big)
        return respond_error(r, 413, "too_large", "the request body is larger than %u octets",
                             GMS_MAX_BODY);
    mcx_status rc;
    if (!r->authorized && !authorize(r, &rc))
        return rc;
    if (events)
        return method_is(r, "GET") ? handle_events(r) : not_allowed(r, "GET");
    if (regroups && !method_is(r, "POST"))
        return not_allowed(r, "POST");
    if (groups && !method_is(r, "GET") && !method_is(r, "POST"))
        return not_allowed(r, "GET, POST");
    /* a store connection from the pool for the rest */
    /* (back to the pool when the request ends) */
    MCX_GUARD(httpd_pool_get(&r->srv->pool, &r->h.st));
    if (regroups) {
        if (need_admin(r, 1) != MCX_OK || r->h.responded)
            return MCX_OK;
        return handle_regroup(r);
    }
    if (groups && method_is(r, "POST")) {
        if (need_admin(r, 0) != MCX_OK || r->h.responded)
            return MCX_OK;
        return handle_create(r);
    }
    if (groups) {
        json_t *a = json_array();
        const char *ids[3] = {r->claims.mcptt_id, r->claims.mcvideo_id, r->claims.mcdata_id};
        mcx_status st = MCX_OK;
        if (r->admin)
            st = mcx_gms_group_list(r->h.st, NULL, add_summary, a);
        else
            for (int i = 0; i < 3 && st == MCX_OK; i++)
                if (ids[i][0] != '\0' && (i == 0 || strcmp(ids[i], ids[0]) != 0))
                    st = mcx_gms_group_list(r->h.st, ids[i], add_summary, a);
        if (st != MCX_OK) {
            json_decref(a);
            return st;
        }
        r->h.outcome = "list";
        return respond_json(r, 200, json_pack("{s:o}", "groups", a));
    }
    return route_group(r, r->h.path + 8);
}

/* ---- the shared daemon's hooks (httpd_internal.h) ---- */

static void on_init(httpd_request *h)
{
    ((greq *)h)->srv = h->app;
}

/* The token is checked as soon as the headers are in: a request without a valid one is refused
 * before its body (up to GMS_MAX_BODY) is read. Paths outside the interface are left to dispatch
 * (404 whatever the token). */
static mcx_status on_headers(httpd_request *h)
{
    greq *r = (greq *)h;
    const char *p = r->h.path;
    if (strcmp(p, "/groups") != 0 && strncmp(p, "/groups/", 8) != 0 && strcmp(p, "/events") != 0 &&
        strcmp(p, "/regroups") != 0)
        return MCX_OK;
    mcx_status rc = MCX_OK;
    r->authorized = authorize(r, &rc);
    return rc;
}

static mcx_status on_dispatch(httpd_request *h)
{
    return dispatch((greq *)h);
}

static mcx_status on_failed(httpd_request *h, mcx_status rc)
{
    (void)rc;
    greq *r = (greq *)h;
    return respond_error(r, 500, "server_error", "internal error (request %s)", r->h.request_id);
}

static void on_done(httpd_request *h)
{
    greq *r = (greq *)h;
    mcx_memzero(&r->claims, sizeof r->claims);
}

/* ---- start and stop ---- */

static void free_server(gms_server *srv)
{
    if (srv == NULL)
        return;
    httpd_pool_free(&srv->pool);
    mcx_token_verifier_free(srv->verifier);
    pthread_mutex_destroy(&srv->hub_lock);
    free(srv);
}

mcx_status gms_server_start(gms_server **out, const gms_config *cfg, mcx_gms *g)
{
    if (out == NULL || cfg == NULL || g == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS server: NULL argument");
    *out = NULL;
    if (cfg->listen == NULL || cfg->tls_cert == NULL || cfg->tls_key == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS server: the configuration needs \"listen\", \"tls_cert\" "
                                   "and \"tls_key\"");
    gms_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS server: out of memory");
    srv->cfg = cfg;
    srv->g = g;
    httpd_pool_init(&srv->pool, cfg->store, POOL_IDLE);
    pthread_mutex_init(&srv->hub_lock, NULL);
    mcx_status rc = MCX_OK;
    char *jwks = NULL;
    if (cfg->jwks_file != NULL)
        rc = httpd_read_file("GMS", cfg->jwks_file, JWKS_FILE_MAX, &jwks, NULL);
    if (rc == MCX_OK) {
        mcx_token_verifier_config vc = {0};
        vc.issuer = cfg->issuer;
        vc.audience = cfg->audience != NULL ? cfg->audience : cfg->issuer;
        vc.kind = MCX_TOKEN_ACCESS;
        vc.jwks_json = jwks;
        vc.jwks_uri = cfg->jwks_uri;
        vc.ca_file = cfg->ca_file;
        rc = mcx_token_verifier_new(&srv->verifier, &vc);
    }
    mcx_secure_free(jwks);
    if (rc != MCX_OK) {
        free_server(srv);
        return rc;
    }
    httpd_config *hc = &srv->http_cfg;
    hc->what = "GMS";
    hc->server_name = "GMS server";
    hc->log_prefix = "mcx-gms";
    hc->listen = cfg->listen;
    hc->tls_cert = cfg->tls_cert;
    hc->tls_key = cfg->tls_key;
    hc->path_max = HTTPD_PATH_MAX;
    hc->request_size = sizeof(greq);
    hc->max_body = GMS_MAX_BODY;
    hc->early_413 = 0;      /* an unknown path is a 404 whatever its body */
    hc->per_connection = 1; /* an event stream holds its connection (and thread) open */
    hc->connections = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONN;
    /* each connection is a thread here: one address may not take them all */
    hc->per_ip = PER_IP_LIMIT;
    hc->timeout = CONNECTION_TIMEOUT;
    hc->log_requests = cfg->log_requests;
    hc->log_style = HTTPD_LOG_AT_DISPATCH;
    hc->pool = &srv->pool;
    hc->app = srv;
    hc->init = on_init;
    hc->dispatch = on_dispatch;
    hc->headers = on_headers;
    hc->failed = on_failed;
    hc->done = on_done;
    mcx_gms_set_event_handler(g, on_gms_event, srv);
    rc = httpd_start(&srv->http, hc);
    if (rc != MCX_OK) {
        mcx_gms_set_event_handler(g, NULL, NULL);
        free_server(srv);
        return rc;
    }
    *out = srv;
    return MCX_OK;
}

uint16_t gms_server_port(const gms_server *srv)
{
    return srv != NULL ? httpd_port(srv->http) : 0;
}

void gms_server_stop(gms_server *srv)
{
    if (srv == NULL)
        return;
    /* end the event streams first, so that their threads return */
    pthread_mutex_lock(&srv->hub_lock);
    srv->stopping = 1;
    for (subscriber *s = srv->subs; s != NULL; s = s->next)
        pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&srv->hub_lock);
    mcx_gms_set_event_handler(srv->g, NULL, NULL);
    httpd_stop(srv->http);
    free_server(srv);
}
