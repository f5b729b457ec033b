/* The GMS's HTTPS interface from the client side (include/mcxsec/group.h, docs/gms.md): the list
 * of groups, the group document, and the text/event-stream of key changes.
 *
 * Through the library's HTTPS client (http_internal.h) and its policy: HTTPS only, TLS 1.2 or
 * newer, the peer certificate and host name verified, no redirects, bounded answers; the access
 * token is wiped from every buffer that held it. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client/http_internal.h"
#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/group.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey_transport.h"

#define SSE_EVENT_MAX (64u * 1024u) /* largest event (its data lines) */

/* A GMS request: the URL (the GMS's base URL and path) and the options common to every GMS
 * exchange. */
typedef struct req {
    char *url;
    char shown[MCX_SHOWN_MAX];
    mcx_http_request_opts o;
} req;

static void req_free(req *r)
{
    free(r->url);
    memset(r, 0, sizeof *r);
}

static mcx_status req_init(req *r, const mcx_group_client *c, const char *path, const char *accept)
{
    memset(r, 0, sizeof *r);
    if (c == NULL || c->gms_url == NULL || c->access_token == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: no URL or access token");
    size_t n = strlen(c->gms_url) + strlen(path) + 1;
    if ((r->url = malloc(n)) == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    snprintf(r->url, n, "%s%s", c->gms_url, path);
    mcx_printable(r->url, r->shown, sizeof r->shown);
    /* HTTPS only, the access token as a bearer token (RFC 6750 §2.1): http_internal.h */
    r->o.url = r->url;
    r->o.ca_file = c->ca_file;
    r->o.accept = accept;
    r->o.bearer = c->access_token;
    r->o.who = "GMS";
    r->o.user_agent = "mcxsec-group-client/0.1";
    return MCX_OK;
}

/* The GMS's JSON error answer as a reason, and the status it maps to. */
static mcx_status http_error(const req *r, long code, const char *text)
{
    char why[MCX_SHOWN_MAX] = "";
    json_t *j = text != NULL ? json_loads(text, 0, NULL) : NULL;
    const char *d = json_string_value(json_object_get(j, "error_description"));
    if (d == NULL)
        d = json_string_value(json_object_get(j, "error"));
    if (d != NULL)
        mcx_printable(d, why, sizeof why);
    json_decref(j);
    mcx_status st = code == 401 || code == 403 ? MCX_E_DENIED
                    : code == 404              ? MCX_E_NOT_FOUND
                                               : MCX_E_IO;
    return MCX_FAIL(st, "GMS %s: HTTP %ld%s%s", r->shown, code, why[0] ? ": " : "", why);
}

/* GET path; a 200 answer's body (NUL-terminated, at most max octets) into *out. */
static mcx_status gms_get(const mcx_group_client *c, const char *path, const char *accept,
                          size_t max, mcx_http_response *out)
{
    memset(out, 0, sizeof *out);
    req r;
    MCX_GUARD(req_init(&r, c, path, accept));
    r.o.body_max = max;
    r.o.oversize = MCX_E_LENGTH;
    mcx_status st = mcx_http_request_ex(&r.o, out);
    if (st == MCX_OK && out->status != 200) {
        st = http_error(&r, out->status, out->body);
        mcx_http_response_free(out);
    }
    req_free(&r);
    return st;
}

static void copy_str(json_t *o, const char *key, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(out, cap, "%s", v != NULL ? v : "");
}

static int64_t get_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

mcx_status mcx_group_list_remote(const mcx_group_client *c, mcx_group_summary **out, size_t *n)
{
    if (out == NULL || n == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: no output");
    *out = NULL;
    *n = 0;
    mcx_http_response b;
    MCX_GUARD(gms_get(c, "/groups", "application/json", MCX_HTTP_BODY_MAX, &b));
    json_error_t je;
    json_t *j = json_loadb(b.body, b.body_len, 0, &je);
    mcx_http_response_free(&b);
    json_t *groups = json_object_get(j, "groups");
    if (!json_is_array(groups)) {
        json_decref(j);
        return MCX_FAIL(MCX_E_ENCODING, "GMS /groups: the answer is not {\"groups\": [...]}");
    }
    size_t k = json_array_size(groups);
    mcx_group_summary *s = calloc(k > 0 ? k : 1, sizeof *s);
    if (s == NULL) {
        json_decref(j);
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
        json_t *g = json_array_get(groups, i);
        if (!json_is_object(g) || !json_is_string(json_object_get(g, "id"))) {
            free(s);
            json_decref(j);
            return MCX_FAIL(MCX_E_ENCODING, "GMS /groups: group %zu has no id", i);
        }
        copy_str(g, "id", s[i].id, sizeof s[i].id);
        copy_str(g, "kind", s[i].kind, sizeof s[i].kind);
        copy_str(g, "display_name", s[i].display_name, sizeof s[i].display_name);
        copy_str(g, "gmk_id", s[i].gmk_id, sizeof s[i].gmk_id);
        copy_str(g, "status", s[i].status, sizeof s[i].status);
        s[i].members = get_int(g, "members");
        s[i].context = get_int(g, "context");
        s[i].created = get_int(g, "created");
        s[i].rekeyed = get_int(g, "rekeyed");
    }
    json_decref(j);
    *out = s;
    *n = k;
    return MCX_OK;
}

static mcx_status client_check(const mcx_group_client *c)
{
    if (c == NULL || c->keystore == NULL || c->user_uri == NULL || c->gms_uri == NULL ||
        c->user_uri[0] == '\0' || c->gms_uri[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "GMS: no keystore, user or GMS identity");
    return MCX_OK;
}

mcx_status mcx_group_fetch(const mcx_group_client *c, const char *group_id,
                           mcx_group_fetch_result *res)
{
    if (res == NULL || group_id == NULL || group_id[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "GMS: no group or result");
    memset(res, 0, sizeof *res);
    MCX_GUARD(client_check(c));
    char *enc = mcx_url_encode(group_id);
    size_t pn = enc != NULL ? strlen(enc) + 16 : 0;
    char *path = enc != NULL ? malloc(pn) : NULL;
    if (path == NULL) {
        free(enc);
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    }
    snprintf(path, pn, "/groups/%s", enc); /* RFC 3986 §2.1: sip%3Afire-1%40example.org */
    free(enc);
    mcx_http_response b;
    mcx_status st = gms_get(c, path, "application/xml", MCX_GROUP_DOC_MAX_BYTES, &b);
    free(path);
    if (st != MCX_OK)
        return st;
    mcx_group_doc *d = NULL;
    st = mcx_group_doc_parse((const uint8_t *)b.body, b.body_len, &d);
    mcx_http_response_free(&b);
    if (st != MCX_OK)
        return st;
    if (strcmp(d->uri, group_id) != 0) {
        st = MCX_FAIL(MCX_E_ENCODING, "GMS: asked for group '%.200s', the document is for '%.200s'",
                      group_id, d->uri);
    } else if (strcmp(d->gms, c->gms_uri) != 0) {
        st = MCX_FAIL(MCX_E_UNKNOWN_PEER,
                      "GMS: the document names the GMS '%.200s', expected '%.200s'", d->gms,
                      c->gms_uri);
    }
    if (st != MCX_OK) {
        mcx_group_doc_free(d);
        return st;
    }
    snprintf(res->display_name, sizeof res->display_name, "%s", d->display_name);
    res->n_members = d->n_members;
    res->context = d->context;
    res->revoked = d->revoked;
    res->n_keys = d->n_keys;
    mcx_status first = MCX_OK;
    char first_why[400] = "";
    for (size_t i = 0; i < d->n_keys; i++) {
        mcx_group_accept_result *r = &res->keys[i];
        mcx_status s = mcx_group_key_accept(c->keystore, c->user_uri, c->gms_uri, group_id,
                                            (int)d->keys[i].kind, d->keys[i].imessage,
                                            d->keys[i].imessage_len, c->now_ntp, r);
        if (s == MCX_OK && r->verdict == MCX_GROUP_ACCEPTED) {
            res->n_accepted++;
        } else if (s == MCX_OK || r->verdict == MCX_GROUP_REPLAYED) {
            res->n_held++; /* what the document serves again is not an attack */
        } else {
            res->n_refused++;
            if (first == MCX_OK) {
                first = s;
                snprintf(first_why, sizeof first_why, "key %zu (%s %08X): %s", i + 1,
                         mcx_group_key_kind_name(d->keys[i].kind), (unsigned)d->keys[i].key_id,
                         r->reason);
            }
        }
    }
    st = mcx_keystore_group_set_info(c->keystore, group_id, d->gms, d->display_name, d->kind,
                                     (const char *const *)d->members, d->n_members,
                                     (int64_t)time(NULL));
    mcx_group_doc_free(d);
    if (st == MCX_OK && !c->no_save)
        st = mcx_keystore_save(c->keystore);
    if (st != MCX_OK)
        return st;
    if (first != MCX_OK)
        return MCX_FAIL(first, "GMS: %s", first_why);
    mcx_clear_error();
    return MCX_OK;
}

/* ---- events (HTML Living Standard §9.2 "Server-sent events": event stream interpretation) ---- */

typedef struct sse {
    const mcx_group_client *c;
    mcx_group_event_fn cb;
    void *arg;
    mcx_buf line; /* the line being read */
    mcx_buf data; /* the event's data lines */
    char type[64];
    int type_too_long;
    size_t n_events;
    int stop;
    mcx_status fail; /* a local failure that ends the watch */
} sse;

static const char *json_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void handle_event(sse *s)
{
    const mcx_group_client *c = s->c;
    mcx_group_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = s->type[0] != '\0' ? s->type : "message";
    ev.data = s->data.buf != NULL ? s->data.buf : "";
    json_t *j = json_loads(ev.data, 0, NULL);
    ev.group = json_str(j, "group");
    mcx_group_accept_result *ar = NULL;
    int changed = 0;
    if (strcmp(ev.type, "group-key") == 0) {
        const char *b64 = json_str(j, "imessage"), *type = json_str(j, "type");
        mcx_group_key_kind kind = MCX_GROUP_KEY_GMK;
        size_t bl = b64 != NULL ? strlen(b64) : 0, ml = 0;
        uint8_t *msg = bl > 0 && bl <= MCX_BASE64_ENCODED_LEN(MCX_GROUP_IMESSAGE_MAX)
                           ? malloc(MCX_BASE64_DECODED_MAX(bl) + 1)
                           : NULL;
        ar = calloc(1, sizeof *ar);
        if (ev.group == NULL || type == NULL || mcx_group_key_kind_from_name(type, &kind) != MCX_OK)
            ev.status = MCX_FAIL(MCX_E_ENCODING, "group-key event without group or known type");
        else if (msg == NULL || ar == NULL)
            ev.status = MCX_FAIL(bl == 0 ? MCX_E_ENCODING : MCX_E_NOMEM,
                                 "group-key event: no I_MESSAGE (or out of memory)");
        else if ((ev.status = mcx_base64_decode(b64, bl, msg, MCX_BASE64_DECODED_MAX(bl) + 1,
                                                &ml)) == MCX_OK) {
            ev.status = mcx_group_key_accept(c->keystore, c->user_uri, c->gms_uri, ev.group,
                                             (int)kind, msg, ml, c->now_ntp, ar);
            ev.accept = ar;
            changed = ev.status == MCX_OK && ar->verdict == MCX_GROUP_ACCEPTED;
            ev.n_changed = (size_t)changed;
        }
        free(msg);
    } else if (strcmp(ev.type, "group-removed") == 0) {
        if (ev.group == NULL)
            ev.status = MCX_FAIL(MCX_E_ENCODING, "group-removed event without group");
        else
            ev.status = mcx_keystore_group_remove(c->keystore, ev.group, &ev.n_changed);
        changed = ev.status == MCX_OK;
    } else if (strcmp(ev.type, "group-revoked") == 0) {
        const char *kid = json_str(j, "key_id");
        unsigned long id = 0;
        char *end = NULL;
        if (kid != NULL)
            id = strtoul(kid, &end, 16);
        if (ev.group == NULL || (kid != NULL && (strlen(kid) != 8 || *end != '\0')))
            ev.status = MCX_FAIL(MCX_E_ENCODING, "group-revoked event without group or with a "
                                                 "key_id that is not 8 hex digits");
        else
            ev.status = mcx_keystore_group_mark_revoked(c->keystore, ev.group, -1, (uint32_t)id,
                                                        &ev.n_changed);
        if (ev.status == MCX_E_NOT_FOUND) /* a key never held: nothing to do */
            ev.status = MCX_OK;
        changed = ev.n_changed > 0;
    }
    if (ev.status != MCX_OK)
        snprintf(ev.reason, sizeof ev.reason, "%s",
                 ar != NULL && ar->reason[0] ? ar->reason : mcx_last_error());
    if (changed && !c->no_save) {
        mcx_status st = mcx_keystore_save(c->keystore);
        if (st != MCX_OK) {
            s->fail = st;
            s->stop = 1;
        }
    }
    s->n_events++;
    if (s->cb != NULL && s->cb(s->arg, &ev) != 0)
        s->stop = 1;
    free(ar);
    json_decref(j);
}

/* One line of the stream (without its end of line). */
static void sse_line(sse *s, const char *l, size_t n)
{
    if (n == 0) { /* dispatch */
        if (s->data.len > 0 || s->type[0] != '\0') {
            if (s->data.len > 0 && s->data.buf[s->data.len - 1] == '\n')
                s->data.buf[--s->data.len] = '\0'; /* the last data line's newline */
            if (!s->type_too_long)
                handle_event(s);
        }
        mcx_buf_free(&s->data);
        s->data.max = SSE_EVENT_MAX;
        s->type[0] = '\0';
        s->type_too_long = 0;
        return;
    }
    if (l[0] == ':')
        return; /* a comment: ": ping" */
    const char *colon = memchr(l, ':', n);
    size_t fl = colon != NULL ? (size_t)(colon - l) : n;
    const char *v = colon != NULL ? colon + 1 : l + n;
    size_t vl = colon != NULL ? n - fl - 1 : 0;
    if (vl > 0 && v[0] == ' ') {
        v++;
        vl--;
    }
    if (fl == 5 && memcmp(l, "event", 5) == 0) {
        if (vl >= sizeof s->type)
            s->type_too_long = 1;
        else {
            memcpy(s->type, v, vl);
            s->type[vl] = '\0';
        }
    } else if (fl == 4 && memcmp(l, "data", 4) == 0) {
        if (!mcx_buf_put(&s->data, v, vl) || !mcx_buf_put(&s->data, "\n", 1)) {
            s->fail = s->data.oom ? MCX_FAIL(MCX_E_NOMEM, "out of memory")
                                  : MCX_FAIL(MCX_E_ENCODING,
                                             "GMS events: an event larger than "
                                             "%u octets",
                                             SSE_EVENT_MAX);
            s->stop = 1;
        }
    } /* id, retry and unknown fields: ignored */
}

/* The stream's octets as they arrive (mcx_http_stream_fn): cut into lines. */
static int on_sse(void *user, const char *p, size_t n)
{
    sse *s = user;
    for (size_t i = 0; i < n && !s->stop; i++) {
        char ch = p[i];
        if (ch == '\n' || ch == '\r') {
            /* CRLF, LF or CR end a line; a CR followed by LF in the next chunk is handled by
             * the empty-line rule only when a line is pending (the GMS sends LF) */
            sse_line(s, s->line.buf != NULL ? s->line.buf : "", s->line.len);
            s->line.len = 0;
            if (ch == '\r' && i + 1 < n && p[i + 1] == '\n')
                i++;
        } else if (!mcx_buf_put(&s->line, &ch, 1)) {
            s->fail =
                MCX_FAIL(MCX_E_ENCODING, "GMS events: a line longer than %u octets", SSE_EVENT_MAX);
            s->stop = 1;
        }
    }
    return s->stop;
}

mcx_status mcx_group_watch(const mcx_group_client *c, uint64_t timeout_ms, mcx_group_event_fn cb,
                           void *arg, size_t *n_events)
{
    if (n_events != NULL)
        *n_events = 0;
    MCX_GUARD(client_check(c));
    req r;
    MCX_GUARD(req_init(&r, c, "/events", "text/event-stream"));
    sse s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.cb = cb;
    s.arg = arg;
    s.line.max = SSE_EVENT_MAX;
    s.data.max = SSE_EVENT_MAX;
    /* HTML §9.2: a 200 text/event-stream answer is read as it comes, until the time given (0:
     * none) passes, the callback ends it or the GMS closes it; any other answer is an error
     * document */
    r.o.timeout_ms = timeout_ms == 0 ? -1 : timeout_ms > LONG_MAX ? LONG_MAX : (long)timeout_ms;
    r.o.stream_type = "text/event-stream";
    r.o.stream_fn = on_sse;
    r.o.stream_arg = &s;
    mcx_http_response hr;
    mcx_status st = mcx_http_request_ex(&r.o, &hr);
    if (s.fail != MCX_OK) {
        st = s.fail;                          /* the reason is set */
    } else if (st == MCX_OK && !hr.stopped) { /* (a failed exchange's reason is set) */
        if (hr.status != 200)
            st = http_error(&r, hr.status, hr.body);
        else if (!hr.streamed && hr.body_len > 0)
            st = MCX_FAIL(MCX_E_ENCODING, "GMS %s: the answer is not text/event-stream", r.shown);
    }
    if (n_events != NULL)
        *n_events = s.n_events;
    mcx_http_response_free(&hr);
    mcx_buf_free(&s.line);
    mcx_buf_free(&s.data);
    req_free(&r);
    if (st == MCX_OK)
        mcx_clear_error();
    return st;
}
