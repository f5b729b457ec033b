/* Internals of the store (include/mcxsec/store.h): the common layer (store.c: URL dispatch,
 * statement cache, parameter copies, transactions bookkeeping, migrations) and the two backends
 * behind a small table of functions (store_sqlite.c, store_pg.c). */
#ifndef MCX_STORE_INTERNAL_H
#define MCX_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mcxsec/store.h"

#define STORE_CACHE_BUCKETS 64
#define STORE_HEAD_MAX      48 /* bytes of a statement's first words quoted in a reason */

/* A bound parameter: the store keeps its own copy (zeroised on mcx_stmt_done) so that both
 * backends read the value at execution time without copying it again. */
typedef enum { PARAM_NULL = 0, PARAM_INT, PARAM_TEXT, PARAM_BLOB } store_param_type;

typedef struct store_param {
    store_param_type type;
    int64_t i;
    uint8_t *buf; /* text (NUL-terminated) or blob; NULL for NULL, int, and the empty blob */
    size_t len;
} store_param;

typedef struct store_ops {
    const char *name; /* "sqlite", "postgresql" */
    void (*close)(mcx_store *st);
    /* Run one script of statements separated by ';' (no parameters, rows discarded). */
    mcx_status (*exec)(mcx_store *st, const char *sql);
    /* Compile s->sql; set s->nparams and s->impl. */
    mcx_status (*prepare)(mcx_store *st, mcx_stmt *s);
    void (*finalize)(mcx_stmt *s);
    /* Execute with s->params (first call) or advance to the next row. */
    mcx_status (*step)(mcx_stmt *s, int *row);
    /* Release the result and the backend's references to the parameters. */
    void (*reset)(mcx_stmt *s);
    int (*ncols)(const mcx_stmt *s);
    int (*is_null)(const mcx_stmt *s, int col);
    const char *(*text)(const mcx_stmt *s, int col);
    int64_t (*get_int)(const mcx_stmt *s, int col);
    const uint8_t *(*blob)(const mcx_stmt *s, int col, size_t *len);
    /* Transactions: begin takes the write lock at once; rollback ignores errors. */
    mcx_status (*begin)(mcx_store *st);
    mcx_status (*commit)(mcx_store *st);
    void (*rollback)(mcx_store *st);
    /* Serialise migrations of every component against other connections, inside the current
     * transaction (PostgreSQL: an advisory transaction lock; SQLite: BEGIN IMMEDIATE did it). */
    mcx_status (*migrate_lock)(mcx_store *st);
    /* A query returning one row whose first column is non-zero when table mcx_schema exists. */
    const char *schema_exists_sql;
} store_ops;

struct mcx_stmt {
    mcx_store *st;
    char *sql;
    mcx_stmt *next; /* in its cache bucket */
    int nparams;
    store_param *params; /* [nparams] */
    int started;         /* executed since the last reset */
    int has_row;         /* a current row is available */
    int finished;        /* no more rows */
    int64_t changes;
    void *impl; /* backend's statement */
};

struct mcx_store {
    const store_ops *ops;
    void *conn; /* sqlite3 * or PGconn * */
    int in_tx;
    unsigned next_name; /* PostgreSQL prepared statement names */
    unsigned session;   /* PostgreSQL: counts reconnections (prepared statements are lost) */
    mcx_stmt *cache[STORE_CACHE_BUCKETS];
};

/* Backend entry points: open the connection described by target (path or URI). */
mcx_status mcx_store_sqlite_open(mcx_store *st, const char *path);
mcx_status mcx_store_pg_open(mcx_store *st, const char *uri);

/* The first words of a statement (comments skipped, white space collapsed) for error reasons. */
void mcx_store_sql_head(const char *sql, char *out, size_t cap);

/* SQL lexing shared by the backends: the length of the quoted string, quoted identifier or
 * comment that starts at p (0 if none starts there). Unterminated ones run to the end. */
size_t mcx_store_sql_skip(const char *p);

#endif
