/* The GMS engine (include/mcxsec/gms.h, docs/gms.md): groups, members and security contexts in
 * the store, and the I_MESSAGEs that carry each context's keys to each member. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "gms/gms_internal.h"
#include "mcxsec/media.h"
#include "mcxsec/mem.h"

#define NTP_UNIX_OFFSET  2208988800u
#define DEFAULT_LIFETIME (30u * 86400u)
#define MAX_REGROUP      16
#define COMMIT_RETRIES   3
#define GMK_DRAWS        16 /* a collision-free GMK is found in one or two draws */

/* SQL valid for SQLite and PostgreSQL (store.h). A context row and its keys and messages are
 * written once and never updated, except the context's status and revoked_at. Removed members
 * are deleted from gms_members; the log (append-only) keeps the history. */
static const mcx_store_migration gms_migrations[] = {
    {1, "CREATE TABLE gms_groups (id TEXT PRIMARY KEY, display_name TEXT NOT NULL,"
        " broadcast BIGINT NOT NULL, mkfc BIGINT NOT NULL, gdk BIGINT NOT NULL,"
        " regroup_of TEXT, current_context BIGINT NOT NULL, created_at BIGINT NOT NULL,"
        " rekeyed_at BIGINT NOT NULL, deleted_at BIGINT);"
        "CREATE TABLE gms_members (group_id TEXT NOT NULL, uri TEXT NOT NULL,"
        " added_at BIGINT NOT NULL, PRIMARY KEY (group_id, uri));"
        "CREATE INDEX gms_members_uri ON gms_members (uri);"
        "CREATE TABLE gms_contexts (group_id TEXT NOT NULL, context BIGINT NOT NULL,"
        " status TEXT NOT NULL, rand BLOB NOT NULL, created_at BIGINT NOT NULL,"
        " reason TEXT NOT NULL, revoked_at BIGINT, PRIMARY KEY (group_id, context));"
        "CREATE TABLE gms_keys (group_id TEXT NOT NULL, context BIGINT NOT NULL,"
        " key_type TEXT NOT NULL, key_id BIGINT NOT NULL, sealed BLOB NOT NULL,"
        " activation BIGINT NOT NULL, expiry BIGINT NOT NULL,"
        " PRIMARY KEY (group_id, context, key_type));"
        "CREATE TABLE gms_messages (group_id TEXT NOT NULL, context BIGINT NOT NULL,"
        " key_type TEXT NOT NULL, member TEXT NOT NULL, imessage BLOB NOT NULL,"
        " created_at BIGINT NOT NULL, PRIMARY KEY (group_id, context, key_type, member));"
        "CREATE INDEX gms_messages_member ON gms_messages (member);"
        "CREATE TABLE gms_log (at BIGINT NOT NULL, actor TEXT NOT NULL, group_id TEXT NOT NULL,"
        " action TEXT NOT NULL, detail TEXT NOT NULL);"
        "CREATE INDEX gms_log_group ON gms_log (group_id)"},
};

mcx_status mcx_gms_migrate(mcx_store *st)
{
    return mcx_store_migrate(st, "gms", gms_migrations,
                             sizeof gms_migrations / sizeof gms_migrations[0]);
}

/* ---- store helpers: binding by a format (mcx_stmt_vbindf: "t" text, "i" int64, "b" blob) ---- */

/* Prepare and bind a query; the caller steps it and calls mcx_stmt_done. */
static mcx_status query(mcx_store *st, mcx_stmt **q, const char *sql, const char *fmt, ...)
{
    MCX_GUARD(mcx_store_prepare(st, sql, q));
    va_list ap;
    va_start(ap, fmt);
    mcx_status s = mcx_stmt_vbindf(*q, fmt, ap);
    va_end(ap);
    if (s != MCX_OK) {
        mcx_stmt_done(*q);
        *q = NULL;
    }
    return s;
}

static mcx_status log_change(mcx_store *st, int64_t now, const char *actor, const char *group,
                             const char *action, const char *detail)
{
    return mcx_store_execf(
        st, NULL, "INSERT INTO gms_log (at, actor, group_id, action, detail) VALUES (?,?,?,?,?)",
        "itttt", now, actor != NULL && actor[0] != '\0' ? actor : "-", group, action, detail);
}

/* ---- names ---- */

/* A group ID or member URI: 1..255 printable ASCII octets, no spaces or quotes (they go into
 * XML attributes, logs and the key parameters), with a scheme ("sip:", "tel:", ...). */
static mcx_status check_id(const char *what, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "GMS: a %s is required", what);
    size_t n = strlen(s);
    if (n >= MCX_GMS_ID_MAX)
        return MCX_FAIL(MCX_E_ARG, "GMS: %s \"%.40s...\" is longer than %d octets", what, s,
                        MCX_GMS_ID_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\')
            return MCX_FAIL(MCX_E_ARG, "GMS: %s \"%.80s\" has a forbidden character at %zu", what,
                            s, i);
    }
    if (strchr(s, ':') == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: %s \"%.80s\" is not a URI (no scheme)", what, s);
    return MCX_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- engine ---- */

mcx_status mcx_gms_new(mcx_gms **out, const mcx_gms_params *p)
{
    if (out == NULL || p == NULL || p->keystore == NULL || p->storage_key == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    *out = NULL;
    MCX_GUARD(check_id("GMS identity", p->identity));
    mcx_gms *g = calloc(1, sizeof *g);
    if (g == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    g->storage_key = mcx_secure_alloc(MCX_GMS_STORAGE_KEY_LEN);
    if (g->storage_key == NULL) {
        free(g);
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    }
    memcpy(g->storage_key, p->storage_key, MCX_GMS_STORAGE_KEY_LEN);
    snprintf(g->identity, sizeof g->identity, "%s", p->identity);
    g->keystore = p->keystore;
    g->threads = p->threads != 0 ? p->threads : 2;
    if (g->threads > 16)
        g->threads = 16;
    g->key_lifetime = p->key_lifetime != 0 ? p->key_lifetime : DEFAULT_LIFETIME;
    pthread_mutex_init(&g->keystore_lock, NULL);
    *out = g;
    return MCX_OK;
}

void mcx_gms_free(mcx_gms *g)
{
    if (g == NULL)
        return;
    mcx_secure_free(g->storage_key);
    pthread_mutex_destroy(&g->keystore_lock);
    free(g);
}

void mcx_gms_set_event_handler(mcx_gms *g, mcx_gms_event_fn fn, void *arg)
{
    if (g == NULL)
        return;
    g->event_fn = fn;
    g->event_arg = arg;
}

static void emit(mcx_gms *g, const mcx_gms_event *ev)
{
    if (g->event_fn != NULL)
        g->event_fn(g->event_arg, ev);
}

/* ---- reading groups ---- */

#define GROUP_COLUMNS                                                                              \
    "g.id, g.display_name, g.broadcast, g.mkfc, g.gdk, g.regroup_of, g.current_context,"           \
    " g.created_at, g.rekeyed_at, c.status,"                                                       \
    " (SELECT COUNT(*) FROM gms_members m WHERE m.group_id = g.id),"                               \
    " (SELECT k.key_id FROM gms_keys k WHERE k.group_id = g.id AND k.context = g.current_context"  \
    "  AND k.key_type = 'gmk'),"                                                                   \
    " (SELECT k.key_id FROM gms_keys k WHERE k.group_id = g.id AND k.context = g.current_context"  \
    "  AND k.key_type = 'mkfc'),"                                                                  \
    " (SELECT k.key_id FROM gms_keys k WHERE k.group_id = g.id AND k.context = g.current_context"  \
    "  AND k.key_type = 'gdk')"                                                                    \
    " FROM gms_groups g JOIN gms_contexts c ON c.group_id = g.id AND c.context = "                 \
    "g.current_context"

static void read_info(mcx_stmt *q, mcx_gms_group_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->id, sizeof info->id, "%s", mcx_stmt_text(q, 0));
    snprintf(info->display_name, sizeof info->display_name, "%s", mcx_stmt_text(q, 1));
    info->broadcast = mcx_stmt_int(q, 2) != 0;
    info->has_mkfc = mcx_stmt_int(q, 3) != 0;
    info->has_gdk = mcx_stmt_int(q, 4) != 0;
    if (!mcx_stmt_is_null(q, 5))
        snprintf(info->regroup_of, sizeof info->regroup_of, "%s", mcx_stmt_text(q, 5));
    info->context = (uint64_t)mcx_stmt_int(q, 6);
    info->created = mcx_stmt_int(q, 7);
    info->rekeyed = mcx_stmt_int(q, 8);
    info->revoked = strcmp(mcx_stmt_text(q, 9), "revoked") == 0;
    info->n_members = (size_t)mcx_stmt_int(q, 10);
    info->gmk_id = (uint32_t)mcx_stmt_int(q, 11);
    info->mkfc_id = (uint32_t)mcx_stmt_int(q, 12);
    info->gdk_id = (uint32_t)mcx_stmt_int(q, 13);
}

mcx_status mcx_gms_group_get(mcx_store *st, const char *id, mcx_gms_group_info *info)
{
    if (st == NULL || id == NULL || info == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    mcx_stmt *q;
    int row = 0;
    MCX_GUARD(
        query(st, &q, "SELECT " GROUP_COLUMNS " WHERE g.id = ? AND g.deleted_at IS NULL", "t", id));
    mcx_status s = mcx_stmt_step(q, &row);
    if (s == MCX_OK && row)
        read_info(q, info);
    mcx_stmt_done(q);
    MCX_GUARD(s);
    if (!row)
        return MCX_FAIL(MCX_E_NOT_FOUND, "GMS: no group \"%.200s\"", id);
    return MCX_OK;
}

mcx_status mcx_gms_group_list(mcx_store *st, const char *member,
                              void (*fn)(void *arg, const mcx_gms_group_info *info), void *arg)
{
    if (st == NULL || fn == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    mcx_stmt *q;
    if (member == NULL)
        MCX_GUARD(
            query(st, &q, "SELECT " GROUP_COLUMNS " WHERE g.deleted_at IS NULL ORDER BY g.id", ""));
    else
        MCX_GUARD(query(st, &q,
                        "SELECT " GROUP_COLUMNS " WHERE g.deleted_at IS NULL AND EXISTS (SELECT 1"
                        " FROM gms_members m WHERE m.group_id = g.id AND m.uri = ?) ORDER BY g.id",
                        "t", member));
    mcx_status s;
    int row = 0;
    mcx_gms_group_info info;
    while ((s = mcx_stmt_step(q, &row)) == MCX_OK && row) {
        read_info(q, &info);
        fn(arg, &info);
    }
    mcx_stmt_done(q);
    return s;
}

/* The members as a sorted array of strings (one allocation each; free with free_list). */
typedef struct str_list {
    char **v;
    size_t n, cap;
} str_list;

static void free_list(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static mcx_status list_add(str_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (nv == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n] = strdup(s);
    if (l->v[l->n] == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    l->n++;
    return MCX_OK;
}

static mcx_status read_members(mcx_store *st, const char *id, str_list *out)
{
    mcx_stmt *q;
    MCX_GUARD(
        query(st, &q, "SELECT uri FROM gms_members WHERE group_id = ? ORDER BY uri", "t", id));
    mcx_status s;
    int row = 0;
    while ((s = mcx_stmt_step(q, &row)) == MCX_OK && row)
        if ((s = list_add(out, mcx_stmt_text(q, 0))) != MCX_OK)
            break;
    mcx_stmt_done(q);
    if (s != MCX_OK)
        free_list(out);
    return s;
}

mcx_status mcx_gms_members(mcx_store *st, const char *id, void (*fn)(void *arg, const char *uri),
                           void *arg)
{
    if (st == NULL || id == NULL || fn == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    str_list l = {0};
    MCX_GUARD(read_members(st, id, &l));
    for (size_t i = 0; i < l.n; i++)
        fn(arg, l.v[i]);
    free_list(&l);
    return MCX_OK;
}

int mcx_gms_is_member(mcx_store *st, const char *id, const char *uri)
{
    if (st == NULL || id == NULL || uri == NULL)
        return 0;
    mcx_stmt *q;
    int row = 0;
    if (query(st, &q,
              "SELECT 1 FROM gms_members m JOIN gms_groups g ON g.id = m.group_id WHERE"
              " m.group_id = ? AND m.uri = ? AND g.deleted_at IS NULL",
              "tt", id, uri) != MCX_OK)
        return 0;
    if (mcx_stmt_step(q, &row) != MCX_OK)
        row = 0;
    mcx_stmt_done(q);
    return row;
}

mcx_status mcx_gms_member_keys(mcx_store *st, const char *id, const char *member,
                               void (*fn)(void *arg, const mcx_gms_member_key *k), void *arg)
{
    if (st == NULL || id == NULL || member == NULL || fn == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    mcx_stmt *q;
    MCX_GUARD(query(st, &q,
                    "SELECT k.key_type, k.key_id, k.context, k.activation, k.expiry, m.imessage"
                    " FROM gms_groups g JOIN gms_keys k ON k.group_id = g.id AND k.context ="
                    " g.current_context JOIN gms_messages m ON m.group_id = g.id AND m.context ="
                    " k.context AND m.key_type = k.key_type WHERE g.id = ? AND m.member = ? AND"
                    " g.deleted_at IS NULL ORDER BY k.key_type",
                    "tt", id, member));
    mcx_status s;
    int row = 0;
    while ((s = mcx_stmt_step(q, &row)) == MCX_OK && row) {
        mcx_gms_member_key k;
        k.key_type = mcx_stmt_text(q, 0);
        k.key_id = (uint32_t)mcx_stmt_int(q, 1);
        k.context = (uint64_t)mcx_stmt_int(q, 2);
        k.activation = (uint64_t)mcx_stmt_int(q, 3);
        k.expiry = (uint64_t)mcx_stmt_int(q, 4);
        k.imessage = mcx_stmt_blob(q, 5, &k.imessage_len);
        fn(arg, &k);
    }
    mcx_stmt_done(q);
    return s;
}

/* ---- contexts ---- */

static mcx_status new_context(mcx_gms *g, const char *group, uint64_t context, int mkfc, int gdk,
                              int64_t now, gms_context *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->group, sizeof c->group, "%s", group);
    c->context = context;
    MCX_GUARD(mcx_random(c->rand, sizeof c->rand));
    static const struct {
        const char *type;
        mcx_key_type tag;
    } kinds[GMS_KEY_TYPES] = {{"gmk", MCX_KEY_GMK}, {"mkfc", MCX_KEY_MKFC}, {"gdk", MCX_KEY_GMK}};
    uint64_t act = (uint64_t)now + NTP_UNIX_OFFSET;
    for (size_t i = 0; i < GMS_KEY_TYPES; i++) {
        if ((i == 1 && !mkfc) || (i == 2 && !gdk))
            continue;
        gms_key *k = &c->keys[c->n_keys++];
        k->type = kinds[i].type;
        k->tag = kinds[i].tag;
        MCX_GUARD(mcx_key_id_new(k->tag, &k->key_id));
        MCX_GUARD(mcx_random(k->key, sizeof k->key));
        if (i == 0)
            MCX_GUARD(mcx_random(k->pseudonym, sizeof k->pseudonym));
        k->activation = act;
        k->expiry = act + g->key_lifetime;
    }
    return MCX_OK;
}

/* A member's SRTP keys derive from (GMK, GUK-ID, RAND), and the GUK-ID keeps only 28 bits of
 * the member's salt (TS 33.180 F.1.3): two members whose GUK-IDs collide would share a key stream.
 * With 10,000 members that happens for about one GMK in six, so the GMK (and its ID) is drawn
 * again until no two members' GUK-IDs collide. */
static mcx_status guk_collisions(const gms_context *c, const char *const *members, size_t n,
                                 size_t *pairs)
{
    return mcx_media_guk_collisions(c->keys[0].key, GMS_KEY_BYTES, c->keys[0].key_id, members, n,
                                    pairs);
}

static mcx_status draw_collision_free(gms_context *c, const char *const *members, size_t n)
{
    for (int i = 0; i < GMK_DRAWS; i++) {
        size_t pairs = 0;
        MCX_GUARD(guk_collisions(c, members, n, &pairs));
        if (pairs == 0)
            return MCX_OK;
        MCX_GUARD(mcx_key_id_new(MCX_KEY_GMK, &c->keys[0].key_id));
        MCX_GUARD(mcx_random(c->keys[0].key, GMS_KEY_BYTES));
    }
    return MCX_FAIL(MCX_E_INTERNAL, "GMS: no GMK without GUK-ID collisions in %d draws", GMK_DRAWS);
}

/* The context's keys from the store, unsealed. */
static mcx_status load_context(mcx_gms *g, mcx_store *st, const char *group, uint64_t context,
                               gms_context *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->group, sizeof c->group, "%s", group);
    c->context = context;
    mcx_stmt *q;
    int row = 0;
    MCX_GUARD(query(st, &q, "SELECT rand FROM gms_contexts WHERE group_id = ? AND context = ?",
                    "ti", group, (int64_t)context));
    mcx_status s = mcx_stmt_step(q, &row);
    size_t rl = 0;
    const uint8_t *r = row ? mcx_stmt_blob(q, 0, &rl) : NULL;
    if (s == MCX_OK && (!row || rl != GMS_RAND_BYTES))
        s = MCX_FAIL(MCX_E_STORE, "GMS: context %" PRIu64 " of %.200s is missing or damaged",
                     context, group);
    if (s == MCX_OK)
        memcpy(c->rand, r, GMS_RAND_BYTES);
    mcx_stmt_done(q);
    MCX_GUARD(s);
    MCX_GUARD(query(st, &q,
                    "SELECT key_type, key_id, sealed, activation, expiry FROM gms_keys WHERE"
                    " group_id = ? AND context = ? ORDER BY CASE key_type WHEN 'gmk' THEN 0 WHEN"
                    " 'mkfc' THEN 1 ELSE 2 END",
                    "ti", group, (int64_t)context));
    while ((s = mcx_stmt_step(q, &row)) == MCX_OK && row && c->n_keys < GMS_KEY_TYPES) {
        gms_key *k = &c->keys[c->n_keys];
        const char *t = mcx_stmt_text(q, 0);
        k->type = strcmp(t, "gmk") == 0 ? "gmk" : strcmp(t, "mkfc") == 0 ? "mkfc" : "gdk";
        k->tag = strcmp(t, "mkfc") == 0 ? MCX_KEY_MKFC : MCX_KEY_GMK;
        k->key_id = (uint32_t)mcx_stmt_int(q, 1);
        k->activation = (uint64_t)mcx_stmt_int(q, 3);
        k->expiry = (uint64_t)mcx_stmt_int(q, 4);
        size_t sl = 0;
        const uint8_t *sealed = mcx_stmt_blob(q, 2, &sl);
        if ((s = gms_unseal(g, c, k, sealed, sl)) != MCX_OK)
            break;
        c->n_keys++;
    }
    mcx_stmt_done(q);
    if (s != MCX_OK)
        mcx_memzero(c, sizeof *c);
    return s;
}

static mcx_status store_context(mcx_gms *g, mcx_store *st, const gms_context *c, int64_t now,
                                const char *reason)
{
    MCX_GUARD(mcx_store_execf(
        st, NULL,
        "INSERT INTO gms_contexts (group_id, context, status, rand, created_at,"
        " reason) VALUES (?,?,'active',?,?,?)",
        "tibit", c->group, (int64_t)c->context, c->rand, (size_t)GMS_RAND_BYTES, now, reason));
    for (size_t i = 0; i < c->n_keys; i++) {
        uint8_t sealed[GMS_SEAL_MAX];
        size_t sl = 0;
        MCX_GUARD(gms_seal(g, c, &c->keys[i], sealed, &sl));
        MCX_GUARD(mcx_store_execf(
            st, NULL,
            "INSERT INTO gms_keys (group_id, context, key_type, key_id, sealed,"
            " activation, expiry) VALUES (?,?,?,?,?,?,?)",
            "titibii", c->group, (int64_t)c->context, c->keys[i].type, (int64_t)c->keys[i].key_id,
            sealed, sl, (int64_t)c->keys[i].activation, (int64_t)c->keys[i].expiry));
    }
    return MCX_OK;
}

static mcx_status store_messages(mcx_store *st, const gms_context *c, const char *const *members,
                                 size_t n, const gms_message *msgs, int64_t now)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c->n_keys; k++) {
            const gms_message *m = &msgs[i * c->n_keys + k];
            MCX_GUARD(
                mcx_store_execf(st, NULL,
                                "INSERT INTO gms_messages (group_id, context, key_type, member,"
                                " imessage, created_at) VALUES (?,?,?,?,?,?)",
                                "tittbi", c->group, (int64_t)c->context, c->keys[k].type,
                                members[i], (const uint8_t *)m->p, m->len, now));
        }
    return MCX_OK;
}

static void emit_keys(mcx_gms *g, const gms_context *c, const char *const *members, size_t n,
                      const gms_message *msgs)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c->n_keys; k++) {
            const gms_message *m = &msgs[i * c->n_keys + k];
            mcx_gms_event ev = {MCX_GMS_EVENT_KEY, c->group,   members[i], c->keys[k].type,
                                c->keys[k].key_id, c->context, m->p,       m->len};
            emit(g, &ev);
        }
}

/* Lock the group's row for this transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE already
 * serialises writers) and read its current context and options. */
typedef struct group_row {
    uint64_t context;
    int mkfc, gdk, deleted;
} group_row;

static mcx_status lock_group(mcx_store *st, const char *id, group_row *gr)
{
    int64_t changed = 0;
    MCX_GUARD(
        mcx_store_execf(st, &changed,
                        "UPDATE gms_groups SET current_context = current_context WHERE id = ? AND"
                        " deleted_at IS NULL",
                        "t", id));
    if (changed == 0)
        return MCX_FAIL(MCX_E_NOT_FOUND, "GMS: no group \"%.200s\"", id);
    mcx_stmt *q;
    int row = 0;
    MCX_GUARD(
        query(st, &q, "SELECT current_context, mkfc, gdk FROM gms_groups WHERE id = ?", "t", id));
    mcx_status s = mcx_stmt_step(q, &row);
    if (s == MCX_OK && row) {
        gr->context = (uint64_t)mcx_stmt_int(q, 0);
        gr->mkfc = mcx_stmt_int(q, 1) != 0;
        gr->gdk = mcx_stmt_int(q, 2) != 0;
    }
    mcx_stmt_done(q);
    return s;
}

static int same_list(const str_list *a, const str_list *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return 0;
    return 1;
}

/* A new context for the group's current members, built outside any transaction (SAKKE for
 * thousands of members takes seconds) and committed only if the members did not change
 * meanwhile; otherwise built again. */
static mcx_status rekey_locked_retry(mcx_gms *g, mcx_store *st, const char *id, const char *actor,
                                     const char *reason, int64_t now)
{
    for (int attempt = 0; attempt < COMMIT_RETRIES; attempt++) {
        str_list members = {0};
        mcx_gms_group_info info;
        MCX_GUARD(mcx_gms_group_get(st, id, &info));
        MCX_GUARD(read_members(st, id, &members));
        gms_context c;
        gms_message *msgs = NULL;
        size_t n_msgs = 0;
        mcx_status s = new_context(g, id, info.context + 1, info.has_mkfc, info.has_gdk, now, &c);
        if (s == MCX_OK)
            s = draw_collision_free(&c, (const char *const *)members.v, members.n);
        if (s == MCX_OK) {
            n_msgs = members.n * c.n_keys;
            msgs = calloc(n_msgs ? n_msgs : 1, sizeof *msgs);
            s = msgs != NULL ? MCX_OK : MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
        }
        if (s == MCX_OK)
            s = gms_build_messages(g, &c, (const char *const *)members.v, members.n,
                                   (uint64_t)now + NTP_UNIX_OFFSET, msgs);
        int retry = 0;
        if (s == MCX_OK)
            s = mcx_store_begin(st);
        if (s == MCX_OK) {
            group_row gr = {0};
            str_list now_members = {0};
            s = lock_group(st, id, &gr);
            if (s == MCX_OK)
                s = read_members(st, id, &now_members);
            if (s == MCX_OK && (gr.context != info.context || !same_list(&members, &now_members)))
                retry = 1;
            free_list(&now_members);
            if (s == MCX_OK && !retry)
                s = store_context(g, st, &c, now, reason);
            if (s == MCX_OK && !retry)
                s = store_messages(st, &c, (const char *const *)members.v, members.n, msgs, now);
            if (s == MCX_OK && !retry)
                s = mcx_store_execf(
                    st, NULL,
                    "UPDATE gms_groups SET current_context = ?, rekeyed_at = ? WHERE"
                    " id = ?",
                    "iit", (int64_t)c.context, now, id);
            char detail[160];
            snprintf(detail, sizeof detail,
                     "context %" PRIu64 " gmk-id %08" PRIX32 " members %zu reason %s", c.context,
                     c.keys[0].key_id, members.n, reason);
            if (s == MCX_OK && !retry)
                s = log_change(st, now, actor, id, "rekey", detail);
            if (s == MCX_OK && !retry)
                s = mcx_store_commit(st);
            else
                mcx_store_rollback(st);
        }
        if (s == MCX_OK && !retry)
            emit_keys(g, &c, (const char *const *)members.v, members.n, msgs);
        gms_messages_free(msgs, n_msgs);
        free(msgs);
        mcx_memzero(&c, sizeof c);
        free_list(&members);
        if (s != MCX_OK || !retry)
            return s;
    }
    return MCX_FAIL(MCX_E_STORE,
                    "GMS: the members of %.200s kept changing during the rekey; "
                    "try again",
                    id);
}

mcx_status mcx_gms_rekey(mcx_gms *g, mcx_store *st, const char *id, const char *actor,
                         const char *reason, int64_t now, mcx_gms_group_info *info)
{
    if (g == NULL || st == NULL || id == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    MCX_GUARD(rekey_locked_retry(g, st, id, actor, reason != NULL ? reason : "on demand", now));
    return info != NULL ? mcx_gms_group_get(st, id, info) : MCX_OK;
}

/* Check a member list: URIs, no duplicates, within bounds. Returns a sorted copy. */
static mcx_status sorted_members(const char *const *in, size_t n, str_list *out)
{
    if (n > MCX_GMS_MAX_MEMBERS)
        return MCX_FAIL(MCX_E_ARG, "GMS: %zu members, at most %d", n, MCX_GMS_MAX_MEMBERS);
    for (size_t i = 0; i < n; i++) {
        mcx_status s = check_id("member URI", in[i]);
        if (s == MCX_OK)
            s = list_add(out, in[i]);
        if (s != MCX_OK) {
            free_list(out);
            return s;
        }
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    for (size_t i = 1; i < out->n; i++)
        if (strcmp(out->v[i - 1], out->v[i]) == 0) {
            mcx_status s = MCX_FAIL(MCX_E_ARG, "GMS: member \"%.200s\" is listed twice", out->v[i]);
            free_list(out);
            return s;
        }
    return MCX_OK;
}

static mcx_status create_group(mcx_gms *g, mcx_store *st, const mcx_gms_group_spec *spec,
                               const str_list *members, const char *regroup_of, const char *actor,
                               int64_t now)
{
    gms_context c;
    MCX_GUARD(new_context(g, spec->id, 1, spec->mkfc, spec->gdk, now, &c));
    mcx_status dc = draw_collision_free(&c, (const char *const *)members->v, members->n);
    if (dc != MCX_OK) {
        mcx_memzero(&c, sizeof c);
        return dc;
    }
    size_t n_msgs = members->n * c.n_keys;
    gms_message *msgs = calloc(n_msgs ? n_msgs : 1, sizeof *msgs);
    if (msgs == NULL) {
        mcx_memzero(&c, sizeof c);
        return MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
    }
    mcx_status s = gms_build_messages(g, &c, (const char *const *)members->v, members->n,
                                      (uint64_t)now + NTP_UNIX_OFFSET, msgs);
    if (s == MCX_OK)
        s = mcx_store_begin(st);
    if (s == MCX_OK) {
        /* a group deleted earlier under the same ID is replaced: its contexts stay in the log */
        int64_t gone = 0;
        s = mcx_store_execf(st, &gone,
                            "DELETE FROM gms_groups WHERE id = ? AND deleted_at IS NOT NULL", "t",
                            spec->id);
        if (s == MCX_OK && gone) {
            static const char *const purge[] = {"DELETE FROM gms_messages WHERE group_id = ?",
                                                "DELETE FROM gms_keys WHERE group_id = ?",
                                                "DELETE FROM gms_contexts WHERE group_id = ?",
                                                "DELETE FROM gms_members WHERE group_id = ?"};
            for (size_t i = 0; i < 4 && s == MCX_OK; i++)
                s = mcx_store_execf(st, NULL, purge[i], "t", spec->id);
        }
        if (s == MCX_OK)
            s = mcx_store_execf(st, NULL,
                                "INSERT INTO gms_groups (id, display_name, broadcast, mkfc, gdk,"
                                " regroup_of, current_context, created_at, rekeyed_at) VALUES"
                                " (?,?,?,?,?,?,1,?,?)",
                                "ttiiitii", spec->id,
                                spec->display_name != NULL ? spec->display_name : spec->id,
                                (int64_t)(spec->broadcast != 0), (int64_t)(spec->mkfc != 0),
                                (int64_t)(spec->gdk != 0), regroup_of, now, now);
        for (size_t i = 0; i < members->n && s == MCX_OK; i++)
            s = mcx_store_execf(st, NULL,
                                "INSERT INTO gms_members (group_id, uri, added_at) VALUES (?,?,?)",
                                "tti", spec->id, members->v[i], now);
        if (s == MCX_OK)
            s = store_context(g, st, &c, now, regroup_of != NULL ? "regroup" : "created");
        if (s == MCX_OK)
            s = store_messages(st, &c, (const char *const *)members->v, members->n, msgs, now);
        char detail[700];
        snprintf(detail, sizeof detail, "%s members %zu context 1 gmk-id %08" PRIX32 "%s%s%s%s",
                 spec->broadcast ? "broadcast" : "normal", members->n, c.keys[0].key_id,
                 spec->mkfc ? " mkfc" : "", spec->gdk ? " gdk" : "",
                 regroup_of != NULL ? " of " : "", regroup_of != NULL ? regroup_of : "");
        if (s == MCX_OK)
            s = log_change(st, now, actor, spec->id, regroup_of != NULL ? "regroup" : "create",
                           detail);
        if (s == MCX_OK)
            s = mcx_store_commit(st);
        else
            mcx_store_rollback(st);
        if (s == MCX_E_EXISTS)
            s = MCX_FAIL(MCX_E_EXISTS, "GMS: group \"%.200s\" exists", spec->id);
    }
    if (s == MCX_OK)
        emit_keys(g, &c, (const char *const *)members->v, members->n, msgs);
    gms_messages_free(msgs, n_msgs);
    free(msgs);
    mcx_memzero(&c, sizeof c);
    return s;
}

mcx_status mcx_gms_group_create(mcx_gms *g, mcx_store *st, const mcx_gms_group_spec *spec,
                                const char *actor, int64_t now, mcx_gms_group_info *info)
{
    if (g == NULL || st == NULL || spec == NULL || (spec->n_members > 0 && spec->members == NULL))
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    MCX_GUARD(check_id("group ID", spec->id));
    if (spec->display_name != NULL && strlen(spec->display_name) >= MCX_GMS_NAME_MAX)
        return MCX_FAIL(MCX_E_ARG, "GMS: display name longer than %d octets", MCX_GMS_NAME_MAX - 1);
    mcx_gms_group_info old;
    if (mcx_gms_group_get(st, spec->id, &old) == MCX_OK)
        return MCX_FAIL(MCX_E_EXISTS, "GMS: group \"%.200s\" exists", spec->id);
    str_list members = {0};
    MCX_GUARD(sorted_members(spec->members, spec->n_members, &members));
    mcx_status s = create_group(g, st, spec, &members, NULL, actor, now);
    free_list(&members);
    MCX_GUARD(s);
    return info != NULL ? mcx_gms_group_get(st, spec->id, info) : MCX_OK;
}

/* Add members without keys, then make a new context for everyone. */
static mcx_status add_then_rekey(mcx_gms *g, mcx_store *st, const char *id, const str_list *add,
                                 const char *actor, int64_t now)
{
    MCX_GUARD(mcx_store_begin(st));
    group_row gr = {0};
    mcx_status s = lock_group(st, id, &gr);
    for (size_t i = 0; i < add->n && s == MCX_OK; i++)
        s = mcx_store_execf(st, NULL,
                            "INSERT INTO gms_members (group_id, uri, added_at) VALUES (?,?,?)",
                            "tti", id, add->v[i], now);
    for (size_t i = 0; i < add->n && s == MCX_OK; i++)
        s = log_change(st, now, actor, id, "member-add", add->v[i]);
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    else
        mcx_store_rollback(st);
    if (s == MCX_E_EXISTS)
        return MCX_FAIL(MCX_E_EXISTS, "GMS: a member to add is already in %.200s", id);
    MCX_GUARD(s);
    return rekey_locked_retry(g, st, id, actor, "GUK-ID collision of a new member", now);
}

/* Give members[] the current context's keys (they join without a rekey: TS 33.179 §7.3 lets a
 * new member have the GMK in use). */
static mcx_status add_members(mcx_gms *g, mcx_store *st, const char *id, const str_list *add,
                              const char *actor, int64_t now)
{
    for (int attempt = 0; attempt < COMMIT_RETRIES; attempt++) {
        mcx_gms_group_info info;
        MCX_GUARD(mcx_gms_group_get(st, id, &info));
        for (size_t i = 0; i < add->n; i++)
            if (mcx_gms_is_member(st, id, add->v[i]))
                return MCX_FAIL(MCX_E_EXISTS, "GMS: %.200s is already a member of %.200s",
                                add->v[i], id);
        gms_context c;
        MCX_GUARD(load_context(g, st, id, info.context, &c));
        /* a newcomer whose GUK-ID under the current GMK collides with a member's: a new context
         * for everyone instead (the GMK in use cannot serve both) */
        str_list all = {0};
        size_t pairs = 0;
        mcx_status cs = read_members(st, id, &all);
        for (size_t i = 0; cs == MCX_OK && i < add->n; i++)
            cs = list_add(&all, add->v[i]);
        if (cs == MCX_OK)
            cs = guk_collisions(&c, (const char *const *)all.v, all.n, &pairs);
        free_list(&all);
        if (cs != MCX_OK || pairs != 0) {
            mcx_memzero(&c, sizeof c);
            return cs != MCX_OK ? cs : add_then_rekey(g, st, id, add, actor, now);
        }
        size_t n_msgs = add->n * c.n_keys;
        gms_message *msgs = calloc(n_msgs ? n_msgs : 1, sizeof *msgs);
        mcx_status s = msgs != NULL ? MCX_OK : MCX_FAIL(MCX_E_NOMEM, "GMS: out of memory");
        if (s == MCX_OK)
            s = gms_build_messages(g, &c, (const char *const *)add->v, add->n,
                                   (uint64_t)now + NTP_UNIX_OFFSET, msgs);
        int retry = 0;
        if (s == MCX_OK)
            s = mcx_store_begin(st);
        if (s == MCX_OK) {
            group_row gr = {0};
            s = lock_group(st, id, &gr);
            retry = s == MCX_OK && gr.context != info.context;
            for (size_t i = 0; i < add->n && s == MCX_OK && !retry; i++)
                s = mcx_store_execf(
                    st, NULL, "INSERT INTO gms_members (group_id, uri, added_at) VALUES (?,?,?)",
                    "tti", id, add->v[i], now);
            if (s == MCX_OK && !retry)
                s = store_messages(st, &c, (const char *const *)add->v, add->n, msgs, now);
            for (size_t i = 0; i < add->n && s == MCX_OK && !retry; i++)
                s = log_change(st, now, actor, id, "member-add", add->v[i]);
            if (s == MCX_OK && !retry)
                s = mcx_store_commit(st);
            else
                mcx_store_rollback(st);
            if (s == MCX_E_EXISTS)
                s = MCX_FAIL(MCX_E_EXISTS, "GMS: a member to add is already in %.200s", id);
        }
        if (s == MCX_OK && !retry)
            emit_keys(g, &c, (const char *const *)add->v, add->n, msgs);
        gms_messages_free(msgs, n_msgs);
        free(msgs);
        mcx_memzero(&c, sizeof c);
        if (s != MCX_OK || !retry)
            return s;
    }
    return MCX_FAIL(MCX_E_STORE, "GMS: %.200s was rekeyed during the change; try again", id);
}

/* Remove members; the rekey that follows is what keeps them out (TS 33.179 §7.3.3). */
static mcx_status remove_members(mcx_gms *g, mcx_store *st, const char *id, const str_list *rm,
                                 const char *actor, int64_t now)
{
    MCX_GUARD(mcx_store_begin(st));
    group_row gr = {0};
    mcx_status s = lock_group(st, id, &gr);
    for (size_t i = 0; i < rm->n && s == MCX_OK; i++) {
        int64_t changed = 0;
        s = mcx_store_execf(st, &changed, "DELETE FROM gms_members WHERE group_id = ? AND uri = ?",
                            "tt", id, rm->v[i]);
        if (s == MCX_OK && changed == 0)
            s = MCX_FAIL(MCX_E_NOT_FOUND, "GMS: %.200s is not a member of %.200s", rm->v[i], id);
        if (s == MCX_OK)
            s = log_change(st, now, actor, id, "member-remove", rm->v[i]);
    }
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    else
        mcx_store_rollback(st);
    MCX_GUARD(s);
    for (size_t i = 0; i < rm->n; i++) {
        mcx_gms_event ev = {MCX_GMS_EVENT_REMOVED, id, rm->v[i], "gmk", 0, gr.context, NULL, 0};
        emit(g, &ev);
    }
    return rekey_locked_retry(g, st, id, actor, "member removed", now);
}

mcx_status mcx_gms_members_change(mcx_gms *g, mcx_store *st, const char *id, const char *const *add,
                                  size_t n_add, const char *const *remove, size_t n_remove,
                                  const char *actor, int64_t now, mcx_gms_group_info *info)
{
    if (g == NULL || st == NULL || id == NULL || (n_add && add == NULL) ||
        (n_remove && remove == NULL))
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    mcx_gms_group_info cur;
    MCX_GUARD(mcx_gms_group_get(st, id, &cur));
    str_list a = {0}, r = {0};
    MCX_GUARD(sorted_members(add, n_add, &a));
    mcx_status s = sorted_members(remove, n_remove, &r);
    for (size_t i = 0; s == MCX_OK && i < a.n; i++)
        for (size_t j = 0; j < r.n; j++)
            if (strcmp(a.v[i], r.v[j]) == 0)
                s = MCX_FAIL(MCX_E_ARG, "GMS: %.200s is both added and removed", a.v[i]);
    if (s == MCX_OK && cur.n_members + a.n > MCX_GMS_MAX_MEMBERS)
        s = MCX_FAIL(MCX_E_ARG, "GMS: %.200s would have more than %d members", id,
                     MCX_GMS_MAX_MEMBERS);
    /* removal first: the rekey then already covers the members added after it */
    if (s == MCX_OK && r.n > 0)
        s = remove_members(g, st, id, &r, actor, now);
    if (s == MCX_OK && a.n > 0)
        s = add_members(g, st, id, &a, actor, now);
    free_list(&a);
    free_list(&r);
    MCX_GUARD(s);
    return info != NULL ? mcx_gms_group_get(st, id, info) : MCX_OK;
}

static mcx_status revoke_current(mcx_gms *g, mcx_store *st, const char *id, const char *actor,
                                 int64_t now, int delete_group)
{
    MCX_GUARD(mcx_store_begin(st));
    group_row gr = {0};
    str_list members = {0};
    uint32_t gmk_id = 0;
    mcx_status s = lock_group(st, id, &gr);
    if (s == MCX_OK)
        s = read_members(st, id, &members);
    if (s == MCX_OK)
        s = mcx_store_execf(
            st, NULL,
            "UPDATE gms_contexts SET status = 'revoked', revoked_at = ? WHERE group_id ="
            " ? AND context = ? AND status = 'active'",
            "iti", now, id, (int64_t)gr.context);
    if (s == MCX_OK) {
        mcx_stmt *q;
        int row = 0;
        s = query(st, &q,
                  "SELECT key_id FROM gms_keys WHERE group_id = ? AND context = ? AND key_type ="
                  " 'gmk'",
                  "ti", id, (int64_t)gr.context);
        if (s == MCX_OK) {
            s = mcx_stmt_step(q, &row);
            if (s == MCX_OK && row)
                gmk_id = (uint32_t)mcx_stmt_int(q, 0);
            mcx_stmt_done(q);
        }
    }
    if (s == MCX_OK && delete_group)
        s = mcx_store_execf(st, NULL, "UPDATE gms_groups SET deleted_at = ? WHERE id = ?", "it",
                            now, id);
    char detail[64];
    snprintf(detail, sizeof detail, "context %" PRIu64 " gmk-id %08" PRIX32, gr.context, gmk_id);
    if (s == MCX_OK)
        s = log_change(st, now, actor, id, delete_group ? "delete" : "revoke", detail);
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    else
        mcx_store_rollback(st);
    if (s == MCX_OK)
        for (size_t i = 0; i < members.n; i++) {
            mcx_gms_event ev = {
                MCX_GMS_EVENT_REVOKED, id, members.v[i], "gmk", gmk_id, gr.context, NULL, 0};
            emit(g, &ev);
        }
    free_list(&members);
    return s;
}

mcx_status mcx_gms_revoke(mcx_gms *g, mcx_store *st, const char *id, const char *actor, int64_t now,
                          mcx_gms_group_info *info)
{
    if (g == NULL || st == NULL || id == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    MCX_GUARD(revoke_current(g, st, id, actor, now, 0));
    return info != NULL ? mcx_gms_group_get(st, id, info) : MCX_OK;
}

mcx_status mcx_gms_group_delete(mcx_gms *g, mcx_store *st, const char *id, const char *actor,
                                int64_t now)
{
    if (g == NULL || st == NULL || id == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    return revoke_current(g, st, id, actor, now, 1);
}

mcx_status mcx_gms_regroup(mcx_gms *g, mcx_store *st, const char *id, const char *display_name,
                           const char *const *of, size_t n_of, const char *actor, int64_t now,
                           mcx_gms_group_info *info)
{
    if (g == NULL || st == NULL || id == NULL || of == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument");
    if (n_of < 2 || n_of > MAX_REGROUP)
        return MCX_FAIL(MCX_E_ARG, "GMS: a regroup combines 2..%d groups, not %zu", MAX_REGROUP,
                        n_of);
    MCX_GUARD(check_id("group ID", id));
    mcx_gms_group_info tmp;
    if (mcx_gms_group_get(st, id, &tmp) == MCX_OK)
        return MCX_FAIL(MCX_E_EXISTS, "GMS: group \"%.200s\" exists", id);
    /* the union of the members of the groups combined, and their options */
    str_list all = {0}, uniq = {0};
    char sources[512] = "";
    size_t o = 0;
    int mkfc = 0, gdk = 0;
    mcx_status s = MCX_OK;
    for (size_t i = 0; i < n_of && s == MCX_OK; i++) {
        s = mcx_gms_group_get(st, of[i], &tmp);
        if (s == MCX_OK) {
            mkfc |= tmp.has_mkfc;
            gdk |= tmp.has_gdk;
            s = read_members(st, of[i], &uniq);
        }
        for (size_t j = 0; s == MCX_OK && j < uniq.n; j++)
            s = list_add(&all, uniq.v[j]);
        free_list(&uniq);
        int n = snprintf(sources + o, sizeof sources - o, "%s%s", i ? " " : "", of[i]);
        if (s == MCX_OK && (n < 0 || (size_t)n >= sizeof sources - o))
            s = MCX_FAIL(MCX_E_ARG, "GMS: the IDs of the groups combined are too long");
        else if (n > 0)
            o += (size_t)n;
    }
    if (s == MCX_OK && all.n > 1)
        qsort(all.v, all.n, sizeof *all.v, cmp_str);
    for (size_t i = 0; s == MCX_OK && i < all.n; i++)
        if (i == 0 || strcmp(all.v[i], all.v[i - 1]) != 0)
            s = list_add(&uniq, all.v[i]);
    free_list(&all);
    if (s == MCX_OK) {
        mcx_gms_group_spec spec = {id, display_name, 0, mkfc, gdk, NULL, 0};
        s = create_group(g, st, &spec, &uniq, sources, actor, now);
    }
    free_list(&uniq);
    MCX_GUARD(s);
    return info != NULL ? mcx_gms_group_get(st, id, info) : MCX_OK;
}

typedef struct due_list {
    str_list ids;
    int64_t before;
    mcx_status st;
} due_list;

static void collect_due(void *arg, const mcx_gms_group_info *info)
{
    due_list *d = arg;
    if (d->st == MCX_OK && info->rekeyed <= d->before && info->n_members > 0)
        d->st = list_add(&d->ids, info->id);
}

mcx_status mcx_gms_rekey_due(mcx_gms *g, mcx_store *st, int64_t interval, int64_t now,
                             size_t *n_rekeyed)
{
    if (g == NULL || st == NULL || interval <= 0)
        return MCX_FAIL(MCX_E_ARG, "GMS: NULL argument or interval <= 0");
    due_list d = {{0}, now - interval, MCX_OK};
    MCX_GUARD(mcx_gms_group_list(st, NULL, collect_due, &d));
    mcx_status s = d.st;
    size_t n = 0;
    for (size_t i = 0; i < d.ids.n && s == MCX_OK; i++) {
        s = rekey_locked_retry(g, st, d.ids.v[i], "gms", "periodic", now);
        n += s == MCX_OK;
    }
    free_list(&d.ids);
    if (n_rekeyed != NULL)
        *n_rekeyed = n;
    return s;
}
