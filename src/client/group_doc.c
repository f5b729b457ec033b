/* The group document of GET /groups/<id> (include/mcxsec/group.h, docs/gms.md): an OMA/TS 24.481
 * style list-service with the members, and the mcxsec extension holding the caller's I_MESSAGEs.
 *
 * libxml2 parses without network, without DTD loading and without entity substitution, and a
 * document with a DOCTYPE is refused before it is parsed (XXE, entity expansion). Elements are
 * matched by namespace URI and local name, never by prefix. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "mcxsec/group.h"
#include "mcxsec/mikey_transport.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

static int in_ns(const xmlNode *n, const char *ns)
{
    return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

static int is(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && in_ns(n, ns) && strcmp((const char *)n->name, name) == 0;
}

/* An attribute without namespace, copied into out (cap octets). 0: absent; -1: too long. */
static int attr(const xmlNode *n, const char *name, char *out, size_t cap)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (v == NULL)
        return 0;
    size_t len = strlen((const char *)v);
    int rc = len < cap ? 1 : -1;
    if (rc == 1)
        memcpy(out, v, len + 1);
    xmlFree(v);
    return rc;
}

static mcx_status need_attr(const xmlNode *n, const char *name, char *out, size_t cap,
                            const char *where)
{
    int rc = attr(n, name, out, cap);
    if (rc == 0)
        return MCX_FAIL(MCX_E_ENCODING, "group document: %s without %s", where, name);
    if (rc < 0)
        return MCX_FAIL(MCX_E_ENCODING, "group document: %s's %s is longer than %zu octets", where,
                        name, cap - 1);
    if (out[0] == '\0')
        return MCX_FAIL(MCX_E_ENCODING, "group document: %s has an empty %s", where, name);
    return MCX_OK;
}

static int parse_dec(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (*s == '\0' || strlen(s) > 19)
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 1;
}

static mcx_status opt_time(const xmlNode *n, const char *name, int *has, uint64_t *v)
{
    char buf[32];
    int rc = attr(n, name, buf, sizeof buf);
    *has = 0;
    if (rc == 0)
        return MCX_OK;
    if (rc < 0 || !parse_dec(buf, v))
        return MCX_FAIL(MCX_E_ENCODING, "group document: key %s is not a decimal NTP time", name);
    *has = 1;
    return MCX_OK;
}

/* Text content of a leaf element (no element children), copied without the white space the
 * base64 of a long I_MESSAGE may be wrapped with when strip is set. */
static mcx_status leaf_text(const xmlNode *n, const char *what, int strip, char *out, size_t cap,
                            size_t *len)
{
    size_t k = 0;
    for (const xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
            continue;
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            return MCX_FAIL(MCX_E_ENCODING, "group document: %s holds an element", what);
        for (const char *p = (const char *)c->content; p != NULL && *p != '\0'; p++) {
            if (strip && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                continue;
            if (k + 1 >= cap)
                return MCX_FAIL(MCX_E_LENGTH, "group document: %s longer than %zu octets", what,
                                cap - 1);
            out[k++] = *p;
        }
    }
    out[k] = '\0';
    *len = k;
    return MCX_OK;
}

static mcx_status parse_list(mcx_group_doc *d, const xmlNode *list)
{
    for (const xmlNode *e = list->children; e != NULL; e = e->next) {
        if (!is(e, MCX_GROUP_NS_LIST_SERVICE, "entry"))
            continue; /* display names of entries, other vocabularies: not needed */
        char uri[MCX_GROUP_ID_MAX];
        MCX_GUARD(need_attr(e, "uri", uri, sizeof uri, "an entry"));
        for (size_t i = 0; i < d->n_members; i++)
            if (strcmp(d->members[i], uri) == 0)
                return MCX_FAIL(MCX_E_ENCODING, "group document: member '%.200s' listed twice",
                                uri);
        if (d->n_members >= MCX_KEYSTORE_MAX_MEMBERS)
            return MCX_FAIL(MCX_E_LENGTH, "group document: more than %d members",
                            MCX_KEYSTORE_MAX_MEMBERS);
        if (d->n_members % 64 == 0) {
            char **m = realloc(d->members, (d->n_members + 64) * sizeof *m);
            if (m == NULL)
                return MCX_FAIL(MCX_E_NOMEM, "out of memory");
            d->members = m;
        }
        if ((d->members[d->n_members] = strdup(uri)) == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "out of memory");
        d->n_members++;
    }
    return MCX_OK;
}

static mcx_status parse_key(mcx_group_doc *d, const xmlNode *e)
{
    if (d->n_keys >= MCX_GROUP_DOC_MAX_KEYS)
        return MCX_FAIL(MCX_E_LENGTH, "group document: more than %d keys", MCX_GROUP_DOC_MAX_KEYS);
    mcx_group_doc_key *k = &d->keys[d->n_keys];
    char type[8], id[16];
    MCX_GUARD(need_attr(e, "type", type, sizeof type, "a key"));
    if (mcx_group_key_kind_from_name(type, &k->kind) != MCX_OK)
        return MCX_FAIL(MCX_E_ENCODING, "group document: key type '%s' is not gmk, mkfc or gdk",
                        type);
    MCX_GUARD(need_attr(e, "key-id", id, sizeof id, "a key"));
    uint32_t v = 0;
    if (strlen(id) != 8)
        return MCX_FAIL(MCX_E_ENCODING, "group document: key-id '%s' is not 8 hex digits", id);
    for (int i = 0; i < 8; i++) {
        char c = id[i];
        unsigned x = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (x == 16)
            return MCX_FAIL(MCX_E_ENCODING, "group document: key-id '%s' is not 8 hex digits", id);
        v = v << 4 | x;
    }
    k->key_id = v;
    MCX_GUARD(opt_time(e, "activation", &k->has_activation, &k->activation));
    MCX_GUARD(opt_time(e, "expiry", &k->has_expiry, &k->expiry));
    size_t cap = MCX_BASE64_ENCODED_LEN(MCX_GROUP_IMESSAGE_MAX) + 1, len = 0;
    char *text = malloc(cap);
    if (text == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    mcx_status st = leaf_text(e, "a key", 1, text, cap, &len);
    if (st == MCX_OK && len == 0)
        st = MCX_FAIL(MCX_E_ENCODING, "group document: key %08X is empty", (unsigned)v);
    if (st == MCX_OK && (k->imessage = malloc(MCX_BASE64_DECODED_MAX(len) + 1)) == NULL)
        st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
    if (st == MCX_OK) {
        st = mcx_base64_decode(text, len, k->imessage, MCX_BASE64_DECODED_MAX(len) + 1,
                               &k->imessage_len);
        if (st != MCX_OK) {
            char why[200];
            snprintf(why, sizeof why, "%s", mcx_last_error());
            st = MCX_FAIL(MCX_E_ENCODING, "group document: key %08X: %s", (unsigned)v, why);
        }
    }
    free(text);
    d->n_keys++; /* counted even when failing: mcx_group_doc_free releases the I_MESSAGE */
    return st;
}

static mcx_status parse_security(mcx_group_doc *d, const xmlNode *s)
{
    char status[16], ctx[32];
    int rc = attr(s, "kind", d->kind, sizeof d->kind);
    if (rc < 0 || (rc > 0 && strcmp(d->kind, "normal") != 0 && strcmp(d->kind, "broadcast") != 0))
        return MCX_FAIL(MCX_E_ENCODING,
                        "group document: group-security kind is not normal or broadcast");
    MCX_GUARD(need_attr(s, "gms", d->gms, sizeof d->gms, "group-security"));
    MCX_GUARD(need_attr(s, "status", status, sizeof status, "group-security"));
    if (strcmp(status, "revoked") == 0)
        d->revoked = 1;
    else if (strcmp(status, "active") != 0)
        return MCX_FAIL(MCX_E_ENCODING,
                        "group document: group-security status '%s' is not active or revoked",
                        status);
    rc = attr(s, "context", ctx, sizeof ctx);
    if (rc < 0 || (rc > 0 && !parse_dec(ctx, &d->context)))
        return MCX_FAIL(MCX_E_ENCODING, "group document: group-security context is not decimal");
    for (const xmlNode *e = s->children; e != NULL; e = e->next) {
        if (e->type != XML_ELEMENT_NODE || !in_ns(e, MCX_GROUP_NS_MCX))
            continue;
        if (!is(e, MCX_GROUP_NS_MCX, "key"))
            return MCX_FAIL(MCX_E_ENCODING, "group document: unknown element mcx:%.64s",
                            (const char *)e->name);
        MCX_GUARD(parse_key(d, e));
    }
    return MCX_OK;
}

static mcx_status parse_root(mcx_group_doc *d, const xmlNode *root)
{
    if (root == NULL || root->type != XML_ELEMENT_NODE)
        return MCX_FAIL(MCX_E_ENCODING, "group document: no root element");
    if (strcmp((const char *)root->name, "list-service") != 0)
        return MCX_FAIL(MCX_E_ENCODING,
                        "group document: root element is '%.64s', expected list-service",
                        (const char *)root->name);
    if (!in_ns(root, MCX_GROUP_NS_LIST_SERVICE))
        return MCX_FAIL(MCX_E_ENCODING, "group document: list-service is not in namespace %s",
                        MCX_GROUP_NS_LIST_SERVICE);
    MCX_GUARD(need_attr(root, "uri", d->uri, sizeof d->uri, "list-service"));
    int lists = 0, secs = 0, names = 0;
    for (const xmlNode *e = root->children; e != NULL; e = e->next) {
        if (e->type != XML_ELEMENT_NODE)
            continue;
        if (is(e, MCX_GROUP_NS_LIST_SERVICE, "display-name")) {
            size_t len;
            if (names++ > 0)
                return MCX_FAIL(MCX_E_ENCODING, "group document: two display-name elements");
            MCX_GUARD(
                leaf_text(e, "display-name", 0, d->display_name, sizeof d->display_name, &len));
        } else if (is(e, MCX_GROUP_NS_LIST_SERVICE, "list")) {
            if (lists++ > 0)
                return MCX_FAIL(MCX_E_ENCODING, "group document: more than one list");
            MCX_GUARD(parse_list(d, e));
        } else if (is(e, MCX_GROUP_NS_MCX, "group-security")) {
            if (secs++ > 0)
                return MCX_FAIL(MCX_E_ENCODING, "group document: more than one group-security");
            MCX_GUARD(parse_security(d, e));
        } else if (in_ns(e, MCX_GROUP_NS_MCX)) {
            return MCX_FAIL(MCX_E_ENCODING, "group document: unknown element mcx:%.64s",
                            (const char *)e->name);
        }
    }
    if (lists == 0)
        return MCX_FAIL(MCX_E_ENCODING, "group document: no list of members");
    if (secs == 0)
        return MCX_FAIL(MCX_E_ENCODING, "group document: no mcx:group-security (%s)",
                        MCX_GROUP_NS_MCX);
    return MCX_OK;
}

mcx_status mcx_group_doc_parse(const uint8_t *xml, size_t len, mcx_group_doc **out)
{
    if (out == NULL || (xml == NULL && len != 0))
        return MCX_FAIL(MCX_E_ARG, "group document: NULL argument");
    *out = NULL;
    if (len == 0)
        return MCX_FAIL(MCX_E_ENCODING, "group document: empty");
    if (len > MCX_GROUP_DOC_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "group document: %zu octets, at most %u", len,
                        MCX_GROUP_DOC_MAX_BYTES);
    /* no DTD at all (XXE, entity expansion): refused before libxml2 sees one */
    static const char dt[] = "<!DOCTYPE";
    for (size_t i = 0; i + sizeof dt - 1 <= len; i++)
        if (xml[i] == '<' && memcmp(xml + i, dt, sizeof dt - 1) == 0)
            return MCX_FAIL(MCX_E_ENCODING, "group document: a DOCTYPE is not allowed");
    pthread_once(&xml_once, xml_init);
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, (const char *)xml, (int)len, NULL, NULL, opts);
    mcx_status st = MCX_OK;
    if (doc == NULL) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[160] = "";
        if (e != NULL && e->message != NULL) {
            snprintf(msg, sizeof msg, "%s", e->message);
            size_t k = strlen(msg);
            while (k > 0 && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
                msg[--k] = '\0';
        }
        st = MCX_FAIL(MCX_E_ENCODING, "group document: not well-formed at line %d: %s",
                      e != NULL ? e->line : 0, msg);
    } else if (doc->intSubset != NULL || doc->extSubset != NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "group document: a DOCTYPE is not allowed");
    }
    xmlFreeParserCtxt(ctxt);
    mcx_group_doc *d = NULL;
    if (st == MCX_OK && (d = calloc(1, sizeof *d)) == NULL)
        st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
    if (st == MCX_OK)
        st = parse_root(d, xmlDocGetRootElement(doc));
    xmlFreeDoc(doc);
    if (st != MCX_OK) {
        mcx_group_doc_free(d);
        return st;
    }
    *out = d;
    return MCX_OK;
}

void mcx_group_doc_free(mcx_group_doc *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_members; i++)
        free(d->members[i]);
    free(d->members);
    for (size_t i = 0; i < d->n_keys; i++)
        free(d->keys[i].imessage);
    free(d);
}
