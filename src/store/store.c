/* The store's common layer (include/mcxsec/store.h): URL dispatch, the statement cache keyed by
 * SQL text, copies of bound values (wiped when a statement is done, as they may be secrets),
 * transaction bookkeeping and schema migrations. The backends are store_sqlite.c and
 * store_pg.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "store/store_internal.h"

#define COMPONENT_MAX 64

/* ---- SQL text helpers ---------------------------------------------------------------------- */

size_t mcx_store_sql_skip(const char *p)
{
    size_t i;
    if (p[0] == '\'' || p[0] == '"') {
        /* SQL standard quoting: a doubled quote inside stands for one. */
        char q = p[0];
        for (i = 1; p[i] != '\0'; i++) {
            if (p[i] == q) {
                if (p[i + 1] == q) {
                    i++;
                    continue;
                }
                return i + 1;
            }
        }
        return i;
    }
    if (p[0] == '-' && p[1] == '-') {
        for (i = 2; p[i] != '\0' && p[i] != '\n'; i++)
            ;
        return i;
    }
    if (p[0] == '/' && p[1] == '*') {
        for (i = 2; p[i] != '\0'; i++) {
            if (p[i] == '*' && p[i + 1] == '/')
                return i + 2;
        }
        return i;
    }
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void mcx_store_sql_head(const char *sql, char *out, size_t cap)
{
    size_t n = 0;
    int words = 0;
    const char *p = sql;

    if (cap == 0)
        return;
    out[0] = '\0';
    if (sql == NULL)
        return;
    /* Up to three words ("INSERT INTO users", "SELECT version FROM"): enough to find the
     * statement in the code, short enough for a log line. */
    while (*p != '\0' && words < 3) {
        size_t k;
        while (is_space(*p))
            p++;
        k = (*p == '-' || *p == '/') ? mcx_store_sql_skip(p) : 0;
        if (k > 0) {
            p += k;
            continue;
        }
        if (*p == '\0' || *p == ';')
            break;
        if (words > 0 && n + 1 < cap)
            out[n++] = ' ';
        while (*p != '\0' && !is_space(*p) && *p != ';' && *p != '(' && n + 1 < cap)
            out[n++] = *p++;
        words++;
        if (*p == '(')
            break;
    }
    out[n] = '\0';
}

/* ---- open and close -------------------------------------------------------------------------- */

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

mcx_status mcx_store_open(mcx_store **out, const char *url)
{
    mcx_store *st;
    mcx_status rc;
    const char *path = NULL;
    int pg = 0;

    if (out == NULL || url == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: no URL given");
    *out = NULL;
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        pg = 1;
    } else if (has_prefix(url, "sqlite:")) {
        path = url + strlen("sqlite:");
    } else if (strstr(url, "://") != NULL) {
        /* Name the scheme only: the rest of a URL may hold a password. */
        int n = (int)(strstr(url, "://") - url);
        return MCX_FAIL(MCX_E_ARG,
                        "store: unknown URL scheme \"%.*s\" (sqlite:PATH, "
                        "postgresql://...)",
                        n > 32 ? 32 : n, url);
    } else {
        path = url;
    }
    if (!pg && path[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "store: empty SQLite path");

    st = calloc(1, sizeof *st);
    if (st == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "store: out of memory");
    rc = pg ? mcx_store_pg_open(st, url) : mcx_store_sqlite_open(st, path);
    if (rc != MCX_OK) {
        free(st);
        return rc;
    }
    *out = st;
    return MCX_OK;
}

static void params_wipe(mcx_stmt *s)
{
    int i;
    for (i = 0; i < s->nparams; i++) {
        store_param *p = &s->params[i];
        if (p->buf != NULL) {
            mcx_memzero(p->buf, p->len + (p->type == PARAM_TEXT ? 1 : 0));
            free(p->buf);
        }
        memset(p, 0, sizeof *p);
    }
}

static void stmt_rewind(mcx_stmt *s)
{
    if (s->started)
        s->st->ops->reset(s);
    params_wipe(s);
    s->started = 0;
    s->has_row = 0;
    s->finished = 0;
}

void mcx_store_close(mcx_store *st)
{
    size_t b;
    if (st == NULL)
        return;
    for (b = 0; b < STORE_CACHE_BUCKETS; b++) {
        mcx_stmt *s = st->cache[b];
        while (s != NULL) {
            mcx_stmt *next = s->next;
            stmt_rewind(s);
            st->ops->finalize(s);
            free(s->params);
            free(s->sql);
            free(s);
            s = next;
        }
        st->cache[b] = NULL;
    }
    /* An open transaction is rolled back by both databases when the connection closes. */
    st->ops->close(st);
    free(st);
}

const char *mcx_store_backend(const mcx_store *st)
{
    return st != NULL ? st->ops->name : "";
}

/* ---- statements ------------------------------------------------------------------------------ */

static size_t sql_bucket(const char *sql)
{
    /* FNV-1a: a cheap spread of the statement texts over the buckets. */
    uint32_t h = 2166136261u;
    for (; *sql != '\0'; sql++) {
        h ^= (uint8_t)*sql;
        h *= 16777619u;
    }
    return h % STORE_CACHE_BUCKETS;
}

mcx_status mcx_store_prepare(mcx_store *st, const char *sql, mcx_stmt **out)
{
    mcx_stmt *s;
    mcx_status rc;
    size_t b;

    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: prepare: no output");
    *out = NULL;
    if (st == NULL || sql == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: prepare: no store or SQL");
    b = sql_bucket(sql);
    for (s = st->cache[b]; s != NULL; s = s->next) {
        if (strcmp(s->sql, sql) == 0) {
            /* Cached: hand it out fresh, as if mcx_stmt_done had been called. */
            stmt_rewind(s);
            *out = s;
            return MCX_OK;
        }
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "store: out of memory");
    s->st = st;
    s->sql = strdup(sql);
    if (s->sql == NULL) {
        free(s);
        return MCX_FAIL(MCX_E_NOMEM, "store: out of memory");
    }
    rc = st->ops->prepare(st, s);
    if (rc != MCX_OK) {
        free(s->sql);
        free(s);
        return rc;
    }
    if (s->nparams > 0) {
        s->params = calloc((size_t)s->nparams, sizeof *s->params);
        if (s->params == NULL) {
            st->ops->finalize(s);
            free(s->sql);
            free(s);
            return MCX_FAIL(MCX_E_NOMEM, "store: out of memory");
        }
    }
    s->next = st->cache[b];
    st->cache[b] = s;
    *out = s;
    return MCX_OK;
}

static mcx_status bind_slot(mcx_stmt *s, int idx, store_param **out)
{
    char head[STORE_HEAD_MAX];
    if (s == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: bind: no statement");
    if (idx < 1 || idx > s->nparams) {
        mcx_store_sql_head(s->sql, head, sizeof head);
        return MCX_FAIL(MCX_E_ARG, "store (%s): %s: parameter %d out of range 1..%d",
                        s->st->ops->name, head, idx, s->nparams);
    }
    if (s->started) {
        mcx_store_sql_head(s->sql, head, sizeof head);
        return MCX_FAIL(MCX_E_ARG, "store (%s): %s: bind after step (call mcx_stmt_done first)",
                        s->st->ops->name, head);
    }
    *out = &s->params[idx - 1];
    if ((*out)->buf != NULL) {
        mcx_memzero((*out)->buf, (*out)->len + ((*out)->type == PARAM_TEXT ? 1 : 0));
        free((*out)->buf);
    }
    memset(*out, 0, sizeof **out);
    return MCX_OK;
}

mcx_status mcx_stmt_bind_null(mcx_stmt *s, int idx)
{
    store_param *p;
    MCX_GUARD(bind_slot(s, idx, &p));
    p->type = PARAM_NULL;
    return MCX_OK;
}

mcx_status mcx_stmt_vbindf(mcx_stmt *s, const char *fmt, va_list ap)
{
    if (s == NULL || fmt == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: bind: NULL argument");
    for (int i = 0; fmt[i] != '\0'; i++) {
        if (fmt[i] == 't') {
            MCX_GUARD(mcx_stmt_bind_text(s, i + 1, va_arg(ap, const char *)));
        } else if (fmt[i] == 'i') {
            MCX_GUARD(mcx_stmt_bind_int(s, i + 1, va_arg(ap, int64_t)));
        } else if (fmt[i] == 'b') {
            const uint8_t *v = va_arg(ap, const uint8_t *);
            MCX_GUARD(mcx_stmt_bind_blob(s, i + 1, v, va_arg(ap, size_t)));
        } else {
            return MCX_FAIL(MCX_E_ARG, "store: bind: unknown format character '%c' at %d", fmt[i],
                            i);
        }
    }
    return MCX_OK;
}

mcx_status mcx_store_execf(mcx_store *st, int64_t *changes, const char *sql, const char *fmt, ...)
{
    mcx_stmt *q = NULL;
    MCX_GUARD(mcx_store_prepare(st, sql, &q));
    va_list ap;
    va_start(ap, fmt);
    mcx_status rc = mcx_stmt_vbindf(q, fmt, ap);
    va_end(ap);
    if (rc == MCX_OK)
        rc = mcx_stmt_step(q, NULL);
    if (rc == MCX_OK && changes != NULL)
        *changes = mcx_stmt_changes(q);
    mcx_stmt_done(q);
    return rc;
}

mcx_status mcx_stmt_bind_int(mcx_stmt *s, int idx, int64_t v)
{
    store_param *p;
    MCX_GUARD(bind_slot(s, idx, &p));
    p->type = PARAM_INT;
    p->i = v;
    return MCX_OK;
}

mcx_status mcx_stmt_bind_text(mcx_stmt *s, int idx, const char *text)
{
    store_param *p;
    size_t n;
    MCX_GUARD(bind_slot(s, idx, &p));
    if (text == NULL)
        return MCX_OK; /* SQL NULL */
    n = strlen(text);
    p->buf = malloc(n + 1);
    if (p->buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "store: out of memory");
    memcpy(p->buf, text, n + 1);
    p->len = n;
    p->type = PARAM_TEXT;
    return MCX_OK;
}

mcx_status mcx_stmt_bind_blob(mcx_stmt *s, int idx, const uint8_t *v, size_t len)
{
    store_param *p;
    if (v == NULL && len > 0)
        return MCX_FAIL(MCX_E_ARG, "store: bind: blob of %zu bytes without data", len);
    if (len > INT32_MAX)
        return MCX_FAIL(MCX_E_ARG, "store: bind: blob of %zu bytes is too long", len);
    MCX_GUARD(bind_slot(s, idx, &p));
    p->type = PARAM_BLOB;
    if (len > 0) {
        p->buf = malloc(len);
        if (p->buf == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "store: out of memory");
        memcpy(p->buf, v, len);
        p->len = len;
    }
    return MCX_OK;
}

mcx_status mcx_stmt_step(mcx_stmt *s, int *row)
{
    int r = 0;
    mcx_status rc;
    if (row != NULL)
        *row = 0;
    if (s == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: step: no statement");
    if (s->finished) {
        s->has_row = 0;
        return MCX_OK;
    }
    if (!s->started)
        s->changes = 0;
    rc = s->st->ops->step(s, &r);
    s->started = 1;
    if (rc != MCX_OK) {
        s->has_row = 0;
        s->finished = 1;
        return rc;
    }
    s->has_row = r;
    if (!r)
        s->finished = 1;
    if (row != NULL)
        *row = r;
    return MCX_OK;
}

int64_t mcx_stmt_changes(const mcx_stmt *s)
{
    return s != NULL ? s->changes : 0;
}

/* A column of the current row, or -1 when there is none (no statement, no row, out of range). */
static int col_ok(const mcx_stmt *s, int col)
{
    return s != NULL && s->has_row && col >= 0 && col < s->st->ops->ncols(s);
}

int mcx_stmt_is_null(const mcx_stmt *s, int col)
{
    return col_ok(s, col) ? s->st->ops->is_null(s, col) : 1;
}

const char *mcx_stmt_text(const mcx_stmt *s, int col)
{
    return col_ok(s, col) ? s->st->ops->text(s, col) : NULL;
}

int64_t mcx_stmt_int(const mcx_stmt *s, int col)
{
    return col_ok(s, col) ? s->st->ops->get_int(s, col) : 0;
}

const uint8_t *mcx_stmt_blob(const mcx_stmt *s, int col, size_t *len)
{
    size_t dummy;
    if (len == NULL)
        len = &dummy;
    *len = 0;
    return col_ok(s, col) ? s->st->ops->blob(s, col, len) : NULL;
}

void mcx_stmt_done(mcx_stmt *s)
{
    if (s != NULL)
        stmt_rewind(s);
}

/* ---- exec and transactions ------------------------------------------------------------------- */

mcx_status mcx_store_exec(mcx_store *st, const char *sql)
{
    if (st == NULL || sql == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: exec: no store or SQL");
    return st->ops->exec(st, sql);
}

mcx_status mcx_store_begin(mcx_store *st)
{
    if (st == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: begin: no store");
    if (st->in_tx)
        return MCX_FAIL(MCX_E_STORE, "store (%s): BEGIN: a transaction is open already",
                        st->ops->name);
    MCX_GUARD(st->ops->begin(st));
    st->in_tx = 1;
    return MCX_OK;
}

mcx_status mcx_store_commit(mcx_store *st)
{
    if (st == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: commit: no store");
    if (!st->in_tx)
        return MCX_FAIL(MCX_E_STORE, "store (%s): COMMIT: no transaction is open", st->ops->name);
    /* Whatever happens the bookkeeping ends here; should the database still hold the
     * transaction open after a failed COMMIT, rollback (which asks the database) ends it. */
    st->in_tx = 0;
    return st->ops->commit(st);
}

void mcx_store_rollback(mcx_store *st)
{
    if (st == NULL)
        return;
    st->in_tx = 0;
    st->ops->rollback(st);
}

/* ---- migrations ------------------------------------------------------------------------------ */

static const char schema_create[] = "CREATE TABLE IF NOT EXISTS mcx_schema ("
                                    "component TEXT PRIMARY KEY, "
                                    "version BIGINT NOT NULL, "
                                    "applied_at BIGINT NOT NULL)";
static const char schema_select[] = "SELECT version FROM mcx_schema WHERE component = ?";
static const char schema_insert[] =
    "INSERT INTO mcx_schema (component, version, applied_at) VALUES (?, ?, ?)";
static const char schema_update[] =
    "UPDATE mcx_schema SET version = ?, applied_at = ? WHERE component = ?";

static mcx_status read_version(mcx_store *st, const char *component, int *version)
{
    mcx_stmt *s;
    int row;
    mcx_status rc;
    int64_t v = 0;

    MCX_GUARD(mcx_store_prepare(st, schema_select, &s));
    rc = mcx_stmt_bind_text(s, 1, component);
    if (rc == MCX_OK)
        rc = mcx_stmt_step(s, &row);
    if (rc == MCX_OK && row)
        v = mcx_stmt_int(s, 0);
    mcx_stmt_done(s);
    if (rc != MCX_OK)
        return rc;
    if (v < 0 || v > INT32_MAX)
        return MCX_FAIL(MCX_E_STORE, "store (%s): mcx_schema: version %lld of %s is invalid",
                        st->ops->name, (long long)v, component);
    *version = (int)v;
    return MCX_OK;
}

static mcx_status write_version(mcx_store *st, const char *component, int old, int version)
{
    mcx_stmt *s;
    mcx_status rc;
    int64_t now = (int64_t)time(NULL);

    if (old == 0) {
        MCX_GUARD(mcx_store_prepare(st, schema_insert, &s));
        rc = mcx_stmt_bind_text(s, 1, component);
        if (rc == MCX_OK)
            rc = mcx_stmt_bind_int(s, 2, version);
        if (rc == MCX_OK)
            rc = mcx_stmt_bind_int(s, 3, now);
    } else {
        MCX_GUARD(mcx_store_prepare(st, schema_update, &s));
        rc = mcx_stmt_bind_int(s, 1, version);
        if (rc == MCX_OK)
            rc = mcx_stmt_bind_int(s, 2, now);
        if (rc == MCX_OK)
            rc = mcx_stmt_bind_text(s, 3, component);
    }
    if (rc == MCX_OK)
        rc = mcx_stmt_step(s, NULL);
    if (rc == MCX_OK && mcx_stmt_changes(s) != 1)
        rc = MCX_FAIL(MCX_E_STORE,
                      "store (%s): mcx_schema: recording version %d of %s changed "
                      "%lld rows",
                      st->ops->name, version, component, (long long)mcx_stmt_changes(s));
    mcx_stmt_done(s);
    return rc;
}

static mcx_status check_component(const mcx_store *st, const char *component)
{
    if (st == NULL || component == NULL || component[0] == '\0' ||
        strlen(component) > COMPONENT_MAX)
        return MCX_FAIL(MCX_E_ARG, "store: migrate: no store or no component name (1..%d bytes)",
                        COMPONENT_MAX);
    return MCX_OK;
}

mcx_status mcx_store_migrate(mcx_store *st, const char *component, const mcx_store_migration *m,
                             size_t n)
{
    size_t i;

    MCX_GUARD(check_component(st, component));
    if (m == NULL && n > 0)
        return MCX_FAIL(MCX_E_ARG, "store: migrate %s: no migrations", component);
    if (n > INT32_MAX)
        return MCX_FAIL(MCX_E_ARG, "store: migrate %s: too many migrations", component);
    for (i = 0; i < n; i++) {
        if (m[i].version != (int)i + 1 || m[i].sql == NULL)
            return MCX_FAIL(MCX_E_ARG,
                            "store: migrate %s: migration %zu has version %d, expected %zu%s",
                            component, i, m[i].version, i + 1, m[i].sql ? "" : " (and no SQL)");
    }
    if (st->in_tx)
        return MCX_FAIL(MCX_E_STORE, "store (%s): migrate %s: a transaction is open already",
                        st->ops->name, component);

    /* One transaction per migration, each taking the migration lock and reading the version
     * afresh: a second process migrating at the same time waits for the lock, then finds the
     * work done. DDL is transactional in both databases, so a failing migration leaves neither
     * a partial schema nor a new version behind. */
    for (;;) {
        int v = 0;
        mcx_status rc;

        MCX_GUARD(mcx_store_begin(st));
        rc = st->ops->migrate_lock(st);
        if (rc == MCX_OK)
            rc = st->ops->exec(st, schema_create);
        if (rc == MCX_OK)
            rc = read_version(st, component, &v);
        if (rc != MCX_OK) {
            mcx_store_rollback(st);
            return rc;
        }
        if ((size_t)v >= n) {
            mcx_store_rollback(st);
            if ((size_t)v > n)
                return MCX_FAIL(MCX_E_UNSUPPORTED,
                                "store (%s): schema of %s is at version %d, this program knows "
                                "only up to %zu (the program is older than the database)",
                                st->ops->name, component, v, n);
            return MCX_OK;
        }
        rc = st->ops->exec(st, m[v].sql);
        if (rc == MCX_OK)
            rc = write_version(st, component, v, v + 1);
        if (rc == MCX_OK)
            rc = mcx_store_commit(st);
        if (rc != MCX_OK) {
            char why[200];
            snprintf(why, sizeof why, "%s", mcx_last_error());
            mcx_store_rollback(st);
            return MCX_FAIL(rc == MCX_E_NOMEM ? MCX_E_NOMEM : MCX_E_STORE,
                            "%s (migration %d of %s rolled back)", why, v + 1, component);
        }
    }
}

mcx_status mcx_store_schema_version(mcx_store *st, const char *component, int *version)
{
    mcx_stmt *s;
    mcx_status rc;
    int row = 0;
    int64_t exists = 0;

    if (version == NULL)
        return MCX_FAIL(MCX_E_ARG, "store: schema version: no output");
    *version = 0;
    MCX_GUARD(check_component(st, component));
    MCX_GUARD(mcx_store_prepare(st, st->ops->schema_exists_sql, &s));
    rc = mcx_stmt_step(s, &row);
    if (rc == MCX_OK && row)
        exists = mcx_stmt_int(s, 0);
    mcx_stmt_done(s);
    if (rc != MCX_OK || !exists)
        return rc;
    return read_version(st, component, version);
}
