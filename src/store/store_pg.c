/* The PostgreSQL backend of the store (libpq). The portable SQL of store.h is rewritten
 * token by token, outside quoted text and comments: each '?' becomes $1, $2, ... and the type
 * word BLOB becomes BYTEA. Each statement is prepared once (PQprepare) under a generated name;
 * parameters go out with PQexecPrepared, blobs in binary format (no escaping, NUL bytes intact),
 * the rest as text. Results come back in text format; a bytea column is decoded from the hex
 * output format (https://www.postgresql.org/docs/current/datatype-binary.html §8.4.1), which the
 * connection selects when it opens.
 *
 * Not understood by the rewriter (not used by mcxsec's SQL): dollar-quoted strings and E'...'
 * strings with backslash-escaped quotes. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "store/store_internal.h"

#define PG_BOOLOID  16 /* src/include/catalog/pg_type.dat */
#define PG_BYTEAOID 17
#define PG_INT_TEXT 24 /* "-9223372036854775808" and its NUL fit */

/* The one advisory lock key serialising migrations of every component: "mcxschem" in ASCII. */
#define MIGRATION_LOCK_SQL "SELECT pg_advisory_xact_lock(7882276209812858221)"

static const uint8_t empty_blob[1];

typedef struct pg_stmt {
    char name[32];
    char *text;       /* the rewritten SQL, to prepare again after a reconnection */
    unsigned session; /* st->session it was prepared in */
    PGresult *res;
    int row; /* current row of res, -1 before the first */
    int ncols;
    uint8_t **blobs; /* [ncols] decoded bytea values of the current row (NULL: not decoded) */
    size_t *blob_lens;
    char (*ints)[PG_INT_TEXT]; /* [nparams] integer parameters as text */
} pg_stmt;

static PGconn *conn_of(const mcx_store *st)
{
    return (PGconn *)st->conn;
}

static pg_stmt *stmt_of(const mcx_stmt *s)
{
    return (pg_stmt *)s->impl;
}

/* ---- SQL rewriting --------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *np;
        while (cap < b->n + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

/* Rewrite sql[0..len) for PostgreSQL: BLOB -> BYTEA as a whole word and, with params, '?' ->
 * $n. *blank is set when the text holds nothing but white space and comments. Returns NULL when
 * out of memory. */
static char *pg_rewrite(const char *sql, size_t len, int params, int *nparams, int *blank)
{
    sbuf b = {NULL, 0, 0, 0};
    size_t i = 0;
    int n = 0;

    *blank = 1;
    sb_put(&b, "", 0);
    while (i < len) {
        char c = sql[i];
        size_t k = mcx_store_sql_skip(sql + i);
        if (k > 0) {
            if (i + k > len)
                k = len - i;
            if (c == '\'' || c == '"')
                *blank = 0;
            sb_put(&b, sql + i, k);
            i += k;
        } else if (is_word_char(c)) {
            size_t j = i;
            while (j < len && is_word_char(sql[j]))
                j++;
            if (j - i == 4 && strncasecmp(sql + i, "BLOB", 4) == 0)
                sb_put(&b, "BYTEA", 5);
            else
                sb_put(&b, sql + i, j - i);
            *blank = 0;
            i = j;
        } else if (c == '?' && params) {
            char num[16];
            int m = snprintf(num, sizeof num, "$%d", ++n);
            sb_put(&b, num, (size_t)m);
            *blank = 0;
            i++;
        } else {
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';')
                *blank = 0;
            sb_put(&b, &c, 1);
            i++;
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (nparams != NULL)
        *nparams = n;
    return b.p;
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void trim_nl(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* Map a failed result (or NULL) to a status, leave the reason naming the statement, and free
 * res. SQLSTATE 23505 is unique_violation (PostgreSQL Appendix A). */
static mcx_status pg_fail(mcx_store *st, PGresult *res, const char *sql)
{
    char head[STORE_HEAD_MAX];
    char msg[200];
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    mcx_status status = MCX_E_STORE;

    if (state != NULL && strcmp(state, "23505") == 0)
        status = MCX_E_EXISTS;
    snprintf(msg, sizeof msg, "%s", primary != NULL ? primary : PQerrorMessage(conn_of(st)));
    trim_nl(msg);
    if (res == NULL && msg[0] == '\0')
        snprintf(msg, sizeof msg, "out of memory");
    mcx_store_sql_head(sql, head, sizeof head);
    PQclear(res);
    return MCX_FAIL(status, "store (postgresql): %s: %s", head, msg);
}

static int res_ok(const PGresult *res)
{
    ExecStatusType t = PQresultStatus(res);
    return res != NULL && (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK);
}

/* One statement without parameters, through the simple query protocol. */
static mcx_status pg_simple(mcx_store *st, const char *sql, const char *shown)
{
    PGresult *res = PQexec(conn_of(st), sql);
    if (!res_ok(res))
        return pg_fail(st, res, shown);
    PQclear(res);
    return MCX_OK;
}

/* ---- the backend ----------------------------------------------------------------------------- */

/* Settings every session needs: hex bytea output (decoded by pg_blob), UTF-8 text. */
static mcx_status pg_session_setup(mcx_store *st)
{
    PGconn *conn = conn_of(st);
    char msg[200];
    if (PQsetClientEncoding(conn, "UTF8") == 0 &&
        pg_simple(st, "SET bytea_output = 'hex'", "SET bytea_output") == MCX_OK)
        return MCX_OK;
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
    trim_nl(msg);
    return MCX_FAIL(MCX_E_STORE, "store (postgresql): connect: setting up the session: %s", msg);
}

/* A connection the server dropped (restart, failover, idle timeout) is opened again before the
 * next statement, outside a transaction only: a transaction's work is lost with its session, and
 * the caller learns it from the failure of the statement that found the connection gone. The
 * prepared statements went with the session; each is prepared again on its next use. */
static mcx_status pg_revive(mcx_store *st)
{
    char msg[200];
    if (PQstatus(conn_of(st)) == CONNECTION_OK)
        return MCX_OK;
    if (st->in_tx)
        return MCX_FAIL(MCX_E_STORE, "store (postgresql): the connection was lost during a "
                                     "transaction");
    PQreset(conn_of(st));
    st->session++;
    if (PQstatus(conn_of(st)) != CONNECTION_OK) {
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn_of(st)));
        trim_nl(msg);
        return MCX_FAIL(MCX_E_STORE, "store (postgresql): reconnect: %s", msg);
    }
    return pg_session_setup(st);
}

/* Each statement of the script on its own, so that a failure names the one that failed. */
static mcx_status pg_exec(mcx_store *st, const char *sql)
{
    const char *p = sql;
    MCX_GUARD(pg_revive(st));
    while (*p != '\0') {
        size_t len = 0;
        int blank;
        char *text;
        mcx_status rc;

        while (p[len] != '\0' && p[len] != ';') {
            size_t k = mcx_store_sql_skip(p + len);
            len += k > 0 ? k : 1;
        }
        text = pg_rewrite(p, len, 0, NULL, &blank);
        if (text == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "store (postgresql): out of memory");
        rc = blank ? MCX_OK : pg_simple(st, text, text);
        free(text);
        if (rc != MCX_OK)
            return rc;
        p += len;
        if (*p == ';')
            p++;
    }
    return MCX_OK;
}

static void pg_close(mcx_store *st)
{
    PQfinish(conn_of(st));
    st->conn = NULL;
}

/* Prepare ps->text on the server under ps->name. */
static mcx_status pg_prepare_named(mcx_store *st, pg_stmt *ps, int n, const char *sql)
{
    /* No parameter types: the server infers each from its use, as it would for a literal. */
    PGresult *res = PQprepare(conn_of(st), ps->name, ps->text, n, NULL);
    if (!res_ok(res))
        return pg_fail(st, res, sql);
    PQclear(res);
    ps->session = st->session;
    return MCX_OK;
}

static mcx_status pg_prepare(mcx_store *st, mcx_stmt *s)
{
    pg_stmt *ps;
    mcx_status rc;
    int blank, n = 0;
    char *text;

    MCX_GUARD(pg_revive(st));
    text = pg_rewrite(s->sql, strlen(s->sql), 1, &n, &blank);
    if (text == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "store (postgresql): out of memory");
    if (blank) {
        free(text);
        return MCX_FAIL(MCX_E_STORE, "store (postgresql): prepare: empty statement");
    }
    ps = calloc(1, sizeof *ps);
    if (ps == NULL || (n > 0 && (ps->ints = calloc((size_t)n, sizeof *ps->ints)) == NULL)) {
        free(ps);
        free(text);
        return MCX_FAIL(MCX_E_NOMEM, "store (postgresql): out of memory");
    }
    snprintf(ps->name, sizeof ps->name, "mcx_%u", st->next_name++);
    ps->row = -1;
    ps->text = text;
    rc = pg_prepare_named(st, ps, n, s->sql);
    if (rc != MCX_OK) {
        free(ps->ints);
        free(ps->text);
        free(ps);
        return rc;
    }
    s->impl = ps;
    s->nparams = n;
    return MCX_OK;
}

static void free_blobs(pg_stmt *ps)
{
    int c;
    if (ps->blobs == NULL)
        return;
    for (c = 0; c < ps->ncols; c++) {
        if (ps->blobs[c] != NULL) {
            mcx_memzero(ps->blobs[c], ps->blob_lens[c]);
            free(ps->blobs[c]);
            ps->blobs[c] = NULL;
        }
    }
}

static void pg_reset(mcx_stmt *s)
{
    pg_stmt *ps = stmt_of(s);
    if (ps->res != NULL) {
        /* The rows may hold secrets (keys, token hashes): wipe them before libpq frees them. */
        int r, c, nr = PQntuples(ps->res), nc = PQnfields(ps->res);
        for (r = 0; r < nr; r++) {
            for (c = 0; c < nc; c++) {
                if (!PQgetisnull(ps->res, r, c))
                    mcx_memzero(PQgetvalue(ps->res, r, c), (size_t)PQgetlength(ps->res, r, c));
            }
        }
        PQclear(ps->res);
        ps->res = NULL;
    }
    free_blobs(ps);
    free(ps->blobs);
    free(ps->blob_lens);
    ps->blobs = NULL;
    ps->blob_lens = NULL;
    ps->ncols = 0;
    ps->row = -1;
    if (ps->ints != NULL)
        mcx_memzero(ps->ints, (size_t)s->nparams * sizeof *ps->ints);
}

static void pg_finalize(mcx_stmt *s)
{
    pg_stmt *ps = stmt_of(s);
    if (ps == NULL)
        return;
    pg_reset(s);
    /* The server forgets prepared statements when the session ends (mcx_store_close). */
    free(ps->ints);
    free(ps->text);
    free(ps);
    s->impl = NULL;
}

static mcx_status pg_execute(mcx_stmt *s)
{
    pg_stmt *ps = stmt_of(s);
    const char **values = NULL;
    int *lengths = NULL, *formats = NULL;
    PGresult *res;
    int i, n = s->nparams;

    MCX_GUARD(pg_revive(s->st));
    if (ps->session != s->st->session)
        MCX_GUARD(pg_prepare_named(s->st, ps, n, s->sql));
    if (n > 0) {
        values = calloc((size_t)n, sizeof *values);
        lengths = calloc((size_t)n, sizeof *lengths);
        formats = calloc((size_t)n, sizeof *formats);
        if (values == NULL || lengths == NULL || formats == NULL) {
            free(values);
            free(lengths);
            free(formats);
            return MCX_FAIL(MCX_E_NOMEM, "store (postgresql): out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        const store_param *p = &s->params[i];
        switch (p->type) {
        case PARAM_NULL:
            values[i] = NULL;
            break;
        case PARAM_INT:
            snprintf(ps->ints[i], sizeof ps->ints[i], "%lld", (long long)p->i);
            values[i] = ps->ints[i];
            break;
        case PARAM_TEXT:
            values[i] = (const char *)p->buf;
            break;
        case PARAM_BLOB:
            /* Binary format: the bytes as they are, however many NULs (an empty blob needs a
             * non-NULL pointer, or it would be SQL NULL). */
            values[i] = p->len > 0 ? (const char *)p->buf : (const char *)empty_blob;
            lengths[i] = (int)p->len;
            formats[i] = 1;
            break;
        }
    }
    res = PQexecPrepared(conn_of(s->st), ps->name, n, values, lengths, formats, 0);
    free(values);
    free(lengths);
    free(formats);
    if (!res_ok(res))
        return pg_fail(s->st, res, s->sql);
    ps->res = res;
    ps->row = -1;
    ps->ncols = PQnfields(res);
    if (ps->ncols > 0) {
        ps->blobs = calloc((size_t)ps->ncols, sizeof *ps->blobs);
        ps->blob_lens = calloc((size_t)ps->ncols, sizeof *ps->blob_lens);
        if (ps->blobs == NULL || ps->blob_lens == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "store (postgresql): out of memory");
    }
    /* PQcmdTuples also counts the rows a SELECT returned; only writes change rows. */
    {
        const char *tag = PQcmdStatus(res);
        if (strncmp(tag, "INSERT ", 7) == 0 || strncmp(tag, "UPDATE ", 7) == 0 ||
            strncmp(tag, "DELETE ", 7) == 0 || strncmp(tag, "MERGE ", 6) == 0)
            s->changes = strtoll(PQcmdTuples(res), NULL, 10);
    }
    return MCX_OK;
}

static mcx_status pg_step(mcx_stmt *s, int *row)
{
    pg_stmt *ps = stmt_of(s);
    *row = 0;
    if (!s->started)
        MCX_GUARD(pg_execute(s));
    free_blobs(ps);
    if (ps->row + 1 < PQntuples(ps->res)) {
        ps->row++;
        *row = 1;
    }
    return MCX_OK;
}

static int pg_ncols(const mcx_stmt *s)
{
    return stmt_of(s)->ncols;
}

static int pg_is_null(const mcx_stmt *s, int col)
{
    const pg_stmt *ps = stmt_of(s);
    return PQgetisnull(ps->res, ps->row, col);
}

static const char *pg_text(const mcx_stmt *s, int col)
{
    const pg_stmt *ps = stmt_of(s);
    if (PQgetisnull(ps->res, ps->row, col))
        return NULL;
    return PQgetvalue(ps->res, ps->row, col);
}

static int64_t pg_int(const mcx_stmt *s, int col)
{
    const pg_stmt *ps = stmt_of(s);
    const char *v;
    if (PQgetisnull(ps->res, ps->row, col))
        return 0;
    v = PQgetvalue(ps->res, ps->row, col);
    if (PQftype(ps->res, col) == PG_BOOLOID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const uint8_t *pg_blob(const mcx_stmt *s, int col, size_t *len)
{
    pg_stmt *ps = stmt_of(s);
    const char *v;
    size_t n, i;
    uint8_t *out;

    if (PQgetisnull(ps->res, ps->row, col))
        return NULL;
    v = PQgetvalue(ps->res, ps->row, col);
    n = (size_t)PQgetlength(ps->res, ps->row, col);
    if (PQftype(ps->res, col) != PG_BYTEAOID) {
        /* Any other type reads as the bytes of its text form, like SQLite's. */
        *len = n;
        return n > 0 ? (const uint8_t *)v : empty_blob;
    }
    if (ps->blobs[col] != NULL) {
        *len = ps->blob_lens[col];
        return ps->blobs[col];
    }
    /* Hex format: "\x" then two hex digits per byte. */
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || (n - 2) % 2 != 0)
        return NULL;
    if (n == 2)
        return empty_blob;
    out = malloc((n - 2) / 2);
    if (out == NULL)
        return NULL;
    for (i = 0; i < (n - 2) / 2; i++) {
        int hi = hex_val(v[2 + 2 * i]), lo = hex_val(v[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            mcx_memzero(out, i);
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    ps->blobs[col] = out;
    ps->blob_lens[col] = (n - 2) / 2;
    *len = ps->blob_lens[col];
    return out;
}

static mcx_status pg_begin(mcx_store *st)
{
    MCX_GUARD(pg_revive(st));
    return pg_simple(st, "BEGIN", "BEGIN");
}

static mcx_status pg_commit(mcx_store *st)
{
    PGresult *res;
    /* After a failed statement PostgreSQL answers COMMIT with a silent ROLLBACK: report it. */
    if (PQtransactionStatus(conn_of(st)) == PQTRANS_INERROR) {
        (void)pg_simple(st, "ROLLBACK", "ROLLBACK");
        return MCX_FAIL(MCX_E_STORE, "store (postgresql): COMMIT: a statement of the transaction "
                                     "failed; the transaction was rolled back");
    }
    res = PQexec(conn_of(st), "COMMIT");
    if (!res_ok(res))
        return pg_fail(st, res, "COMMIT");
    if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        PQclear(res);
        return MCX_FAIL(MCX_E_STORE, "store (postgresql): COMMIT: the transaction was rolled "
                                     "back");
    }
    PQclear(res);
    return MCX_OK;
}

static void pg_rollback(mcx_store *st)
{
    PGTransactionStatusType t = PQtransactionStatus(conn_of(st));
    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
        (void)pg_simple(st, "ROLLBACK", "ROLLBACK");
}

static mcx_status pg_migrate_lock(mcx_store *st)
{
    /* Held until this transaction ends; a second migrator waits here. */
    return pg_simple(st, MIGRATION_LOCK_SQL, "SELECT pg_advisory_xact_lock");
}

static const store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .step = pg_step,
    .reset = pg_reset,
    .ncols = pg_ncols,
    .is_null = pg_is_null,
    .text = pg_text,
    .get_int = pg_int,
    .blob = pg_blob,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .migrate_lock = pg_migrate_lock,
    .schema_exists_sql = "SELECT to_regclass('mcx_schema') IS NOT NULL",
};

static void quiet_notices(void *arg, const char *message)
{
    /* "relation ... already exists, skipping" and the like are not the caller's business. */
    (void)arg;
    (void)message;
}

mcx_status mcx_store_pg_open(mcx_store *st, const char *uri)
{
    /* The URI is expanded in place of "dbname"; the defaults before it apply unless the URI
     * sets them itself: a server that does not answer fails the open after 10 s, not never. */
    static const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"10", "mcxsec", uri, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    char msg[200];
    mcx_status rc;

    if (conn == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "store (postgresql): connect: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
        trim_nl(msg);
        PQfinish(conn);
        return MCX_FAIL(MCX_E_STORE, "store (postgresql): connect: %s", msg);
    }
    st->ops = &pg_ops;
    st->conn = conn;
    PQsetNoticeProcessor(conn, quiet_notices, NULL);
    rc = pg_session_setup(st);
    if (rc != MCX_OK) {
        PQfinish(conn);
        st->conn = NULL;
    }
    return rc;
}
