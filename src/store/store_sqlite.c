/* The SQLite backend of the store: one connection in WAL mode (readers do not block the writer),
 * foreign keys enforced, a 5 s busy timeout, synchronous=NORMAL (durable at checkpoints, never
 * corrupt: https://sqlite.org/pragma.html#pragma_synchronous). Statements are prepared once with
 * SQLITE_PREPARE_PERSISTENT and cached by the common layer. Bound values are the common layer's
 * own copies bound with SQLITE_STATIC, so SQLite keeps no copy of a secret that the store cannot
 * wipe. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "store/store_internal.h"

#define BUSY_TIMEOUT_MS 5000

static const uint8_t empty_blob[1];

static sqlite3 *db_of(const mcx_store *st)
{
    return (sqlite3 *)st->conn;
}

static sqlite3_stmt *stmt_of(const mcx_stmt *s)
{
    return (sqlite3_stmt *)s->impl;
}

/* Map an SQLite result code to a status and leave the reason naming the statement. */
static mcx_status sqlite_fail(mcx_store *st, int rc, const char *sql)
{
    char head[STORE_HEAD_MAX];
    mcx_status status = MCX_E_STORE;

    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        status = MCX_E_EXISTS;
    else if (rc == SQLITE_NOMEM)
        status = MCX_E_NOMEM;
    mcx_store_sql_head(sql, head, sizeof head);
    return MCX_FAIL(status, "store (sqlite): %s: %s", head, sqlite3_errmsg(db_of(st)));
}

/* Run a script: every statement in turn, rows discarded. */
static mcx_status sqlite_exec(mcx_store *st, const char *sql)
{
    const char *p = sql;
    while (*p != '\0') {
        sqlite3_stmt *stmt = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(db_of(st), p, -1, &stmt, &tail);
        if (rc != SQLITE_OK)
            return sqlite_fail(st, rc, p);
        if (stmt != NULL) {
            do {
                rc = sqlite3_step(stmt);
            } while (rc == SQLITE_ROW);
            if (rc != SQLITE_DONE) {
                /* The extended code and message stay on the connection until the next call. */
                mcx_status status = sqlite_fail(st, sqlite3_extended_errcode(db_of(st)), p);
                sqlite3_finalize(stmt);
                return status;
            }
            sqlite3_finalize(stmt);
        }
        if (tail == NULL || tail == p)
            break;
        p = tail;
    }
    return MCX_OK;
}

static void sqlite_close(mcx_store *st)
{
    sqlite3_close_v2(db_of(st));
    st->conn = NULL;
}

/* Only white space and comments follow? */
static int only_blanks(const char *p)
{
    while (*p != '\0') {
        size_t k = (*p == '-' || *p == '/') ? mcx_store_sql_skip(p) : 0;
        if (k > 0)
            p += k;
        else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')
            p++;
        else
            return 0;
    }
    return 1;
}

static mcx_status sqlite_prepare(mcx_store *st, mcx_stmt *s)
{
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    char head[STORE_HEAD_MAX];
    int rc = sqlite3_prepare_v3(db_of(st), s->sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);

    if (rc != SQLITE_OK)
        return sqlite_fail(st, rc, s->sql);
    mcx_store_sql_head(s->sql, head, sizeof head);
    if (stmt == NULL)
        return MCX_FAIL(MCX_E_STORE, "store (sqlite): prepare: empty statement");
    if (tail != NULL && !only_blanks(tail)) {
        sqlite3_finalize(stmt);
        return MCX_FAIL(MCX_E_STORE, "store (sqlite): %s: more than one statement", head);
    }
    s->impl = stmt;
    s->nparams = sqlite3_bind_parameter_count(stmt);
    return MCX_OK;
}

static void sqlite_finalize(mcx_stmt *s)
{
    sqlite3_finalize(stmt_of(s));
    s->impl = NULL;
}

static mcx_status bind_all(mcx_stmt *s)
{
    sqlite3_stmt *stmt = stmt_of(s);
    int i;
    for (i = 0; i < s->nparams; i++) {
        const store_param *p = &s->params[i];
        int rc = SQLITE_OK;
        switch (p->type) {
        case PARAM_NULL:
            rc = sqlite3_bind_null(stmt, i + 1);
            break;
        case PARAM_INT:
            rc = sqlite3_bind_int64(stmt, i + 1, p->i);
            break;
        case PARAM_TEXT:
            rc = sqlite3_bind_text64(stmt, i + 1, (const char *)p->buf, p->len, SQLITE_STATIC,
                                     SQLITE_UTF8);
            break;
        case PARAM_BLOB:
            /* A NULL pointer would bind SQL NULL; the empty blob is a zero-length zeroblob. */
            if (p->len == 0)
                rc = sqlite3_bind_zeroblob(stmt, i + 1, 0);
            else
                rc = sqlite3_bind_blob64(stmt, i + 1, p->buf, p->len, SQLITE_STATIC);
            break;
        }
        if (rc != SQLITE_OK)
            return sqlite_fail(s->st, rc, s->sql);
    }
    return MCX_OK;
}

static mcx_status sqlite_step(mcx_stmt *s, int *row)
{
    sqlite3_stmt *stmt = stmt_of(s);
    int rc;

    *row = 0;
    if (!s->started)
        MCX_GUARD(bind_all(s));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *row = 1;
        return MCX_OK;
    }
    if (rc == SQLITE_DONE) {
        /* sqlite3_changes counts the last INSERT, UPDATE or DELETE of the connection, which is
         * this statement only when it writes. */
        s->changes = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_of(s->st));
        return MCX_OK;
    }
    return sqlite_fail(s->st, sqlite3_extended_errcode(db_of(s->st)), s->sql);
}

static void sqlite_reset(mcx_stmt *s)
{
    sqlite3_reset(stmt_of(s));
    sqlite3_clear_bindings(stmt_of(s));
}

static int sqlite_ncols(const mcx_stmt *s)
{
    return sqlite3_column_count(stmt_of(s));
}

static int sqlite_is_null(const mcx_stmt *s, int col)
{
    return sqlite3_column_type(stmt_of(s), col) == SQLITE_NULL;
}

static const char *sqlite_text(const mcx_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(stmt_of(s), col);
}

static int64_t sqlite_int(const mcx_stmt *s, int col)
{
    return sqlite3_column_int64(stmt_of(s), col);
}

static const uint8_t *sqlite_blob(const mcx_stmt *s, int col, size_t *len)
{
    const uint8_t *p;
    int n;
    if (sqlite3_column_type(stmt_of(s), col) == SQLITE_NULL)
        return NULL;
    p = sqlite3_column_blob(stmt_of(s), col);
    n = sqlite3_column_bytes(stmt_of(s), col);
    if (p == NULL || n <= 0)
        return empty_blob;
    *len = (size_t)n;
    return p;
}

static mcx_status sqlite_begin(mcx_store *st)
{
    /* IMMEDIATE takes the write lock now, waiting up to the busy timeout: a transaction that
     * reads and then writes cannot fail to upgrade its lock (SQLITE_BUSY without waiting). */
    return sqlite_exec(st, "BEGIN IMMEDIATE");
}

static mcx_status sqlite_commit(mcx_store *st)
{
    return sqlite_exec(st, "COMMIT");
}

static void sqlite_rollback(mcx_store *st)
{
    /* Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll the transaction back by themselves. */
    if (!sqlite3_get_autocommit(db_of(st)))
        (void)sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
}

static mcx_status sqlite_migrate_lock(mcx_store *st)
{
    (void)st; /* BEGIN IMMEDIATE holds the database's one write lock already */
    return MCX_OK;
}

static const store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .exec = sqlite_exec,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .step = sqlite_step,
    .reset = sqlite_reset,
    .ncols = sqlite_ncols,
    .is_null = sqlite_is_null,
    .text = sqlite_text,
    .get_int = sqlite_int,
    .blob = sqlite_blob,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .migrate_lock = sqlite_migrate_lock,
    .schema_exists_sql =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mcx_schema'",
};

mcx_status mcx_store_sqlite_open(mcx_store *st, const char *path)
{
    sqlite3 *db = NULL;
    int rc;
    mcx_status status;

    /* The store is not shared between threads (store.h), so the connection needs no mutex. */
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_EXRESCODE,
                         NULL);
    if (rc != SQLITE_OK) {
        status =
            MCX_FAIL(rc == SQLITE_NOMEM ? MCX_E_NOMEM : MCX_E_STORE, "store (sqlite): open %s: %s",
                     path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return status;
    }
    st->ops = &sqlite_ops;
    st->conn = db;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* No schema tricks from a crafted database file (https://sqlite.org/security.html). */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    /* The first statement reads the file: a file that is no database fails here.
     * secure_delete overwrites deleted records (expired tokens, retired keys) in the file. */
    rc = sqlite3_exec(db,
                      "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
                      "PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        status = MCX_FAIL(rc == SQLITE_NOMEM ? MCX_E_NOMEM : MCX_E_STORE,
                          "store (sqlite): open %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        st->conn = NULL;
        return status;
    }
    return MCX_OK;
}
