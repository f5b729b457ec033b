/* The store: one interface over SQLite (the embedded default) and PostgreSQL (for deployments that
 * outgrow one machine), used by every server for its state (IdMS users, clients, codes, tokens,
 * signing keys; later KMS and GMS records).
 *
 * A store is one connection. It is not thread-safe: a server either gives each thread its own
 * store or serialises calls with a lock.
 *
 * SQL is written once for both backends:
 *   - placeholders are '?' (rewritten to $1, $2, ... for PostgreSQL);
 *   - column types are TEXT, BIGINT and BLOB (BLOB becomes BYTEA for PostgreSQL); times are BIGINT
 *     seconds since the Unix epoch;
 *   - only the common subset of SQL is used (no AUTOINCREMENT / SERIAL, no RETURNING, no UPSERT
 *     dialects); "INSERT ... ON CONFLICT DO NOTHING" is fine in both.
 *
 * Errors: every failure returns a status and leaves a reason in mcx_last_error() naming the
 * backend and the statement's first words, e.g. "store (sqlite): INSERT INTO users: UNIQUE
 * constraint failed: users.username". A uniqueness violation is MCX_E_EXISTS; anything else the
 * database refuses is MCX_E_STORE. */
#ifndef MCXSEC_STORE_H
#define MCXSEC_STORE_H

#include <stdarg.h>

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcx_store mcx_store;
typedef struct mcx_stmt mcx_stmt;

/* Open a store. url is one of
 *   "sqlite:PATH"            an SQLite file (created if missing; WAL mode, foreign keys on,
 *                            busy timeout 5 s); "sqlite::memory:" for a private in-memory store
 *   "PATH"                   the same as "sqlite:PATH" when it contains no "://"
 *   "postgresql://..." or "postgres://..."   a libpq connection URI
 * Errors: MCX_E_ARG (unknown scheme), MCX_E_STORE (cannot open or connect; the reason names why),
 * MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_open(mcx_store **out, const char *url);

/* Close the connection and release every statement. NULL is accepted. */
MCX_API void mcx_store_close(mcx_store *st);

/* "sqlite" or "postgresql". */
MCX_API const char *mcx_store_backend(const mcx_store *st);

/* One schema migration of a component: applied once, in order of version (1, 2, ...). sql may
 * hold several statements separated by ';'. */
typedef struct mcx_store_migration {
    int version;
    const char *sql;
} mcx_store_migration;

/* Bring component's schema up to the newest version in m[0..n): every migration whose version is
 * above the one recorded in the table mcx_schema (component, version, applied_at) is applied, each
 * in its own transaction together with the record of it. Running it again is a no-op. Two
 * processes migrating at once are safe (the second waits, then finds nothing to do).
 * Errors: MCX_E_ARG (versions not 1..n in order), MCX_E_STORE (a statement failed; that
 * migration is rolled back), MCX_E_UNSUPPORTED (the store records a newer version than m knows:
 * the program is older than the database). */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_migrate(mcx_store *st, const char *component,
                                                    const mcx_store_migration *m, size_t n);

/* The version recorded for component (0 if none). */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_schema_version(mcx_store *st, const char *component,
                                                           int *version);

/* Transactions. begin takes the write lock at once (SQLite BEGIN IMMEDIATE), so a transaction
 * that reads then writes cannot deadlock against another. Not nested. rollback is always safe to
 * call (a no-op outside a transaction). Errors: MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_begin(mcx_store *st);
MCX_API MCX_MUST_CHECK mcx_status mcx_store_commit(mcx_store *st);
MCX_API void mcx_store_rollback(mcx_store *st);

/* Run SQL that takes no parameters and returns no rows (DDL, several statements separated by ';').
 * Errors: MCX_E_STORE, MCX_E_EXISTS. */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_exec(mcx_store *st, const char *sql);

/* A prepared statement for sql, cached by the store by its text: the first call prepares it
 * (sqlite3_prepare_v3 / PQprepare), later calls return the same statement reset with its
 * bindings cleared. The statement belongs to the store; call mcx_stmt_done when finished with it.
 * The same SQL text must not be in use twice at once.
 * Errors: MCX_E_STORE (the SQL does not compile), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_prepare(mcx_store *st, const char *sql, mcx_stmt **out);

/* Bind parameter idx (1-based, the idx-th '?'). text NULL binds SQL NULL. Values are copied.
 * Errors: MCX_E_ARG (idx out of range), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_stmt_bind_text(mcx_stmt *s, int idx, const char *text);
MCX_API MCX_MUST_CHECK mcx_status mcx_stmt_bind_int(mcx_stmt *s, int idx, int64_t v);
MCX_API MCX_MUST_CHECK mcx_status mcx_stmt_bind_blob(mcx_stmt *s, int idx, const uint8_t *v,
                                                     size_t len);
MCX_API MCX_MUST_CHECK mcx_status mcx_stmt_bind_null(mcx_stmt *s, int idx);

/* Execute (on the first call) and advance to the next row. Returns MCX_OK with *row = 1 when a row
 * is available, MCX_OK with *row = 0 when there are no more rows (row may be NULL for statements
 * that return none). Errors: MCX_E_EXISTS (uniqueness violated), MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_stmt_step(mcx_stmt *s, int *row);

/* Rows changed by the INSERT, UPDATE or DELETE just stepped. */
MCX_API int64_t mcx_stmt_changes(const mcx_stmt *s);

/* Columns of the current row, 0-based. A NULL value reads as NULL text, 0, or an empty blob;
 * mcx_stmt_is_null tells them apart. Pointers stay valid until the next step, reset or done. */
MCX_API int mcx_stmt_is_null(const mcx_stmt *s, int col);
MCX_API const char *mcx_stmt_text(const mcx_stmt *s, int col);
MCX_API int64_t mcx_stmt_int(const mcx_stmt *s, int col);
MCX_API const uint8_t *mcx_stmt_blob(const mcx_stmt *s, int col, size_t *len);

/* Finish with a statement: its result is released and its bindings wiped (they may hold secrets,
 * e.g. a private key being stored); it stays cached for the next mcx_store_prepare. NULL is
 * accepted. */
MCX_API void mcx_stmt_done(mcx_stmt *s);

/* Bind parameters 1, 2, ... by a format, one character per '?': 't' text (const char *; NULL
 * binds SQL NULL), 'i' an int64_t, 'b' a blob (const uint8_t *, then its size_t length).
 * Errors: those of the binds, MCX_E_ARG (another format character). */
MCX_API MCX_MUST_CHECK mcx_status mcx_stmt_vbindf(mcx_stmt *s, const char *fmt, va_list ap);

/* Prepare sql, bind by fmt (as mcx_stmt_vbindf) and step once: for statements that return no
 * rows; *changes (may be NULL) receives the rows changed. Errors: those of the steps. */
MCX_API MCX_MUST_CHECK mcx_status mcx_store_execf(mcx_store *st, int64_t *changes, const char *sql,
                                                  const char *fmt, ...);

#ifdef __cplusplus
}
#endif
#endif
