/* The store (include/mcxsec/store.h) against real databases: SQLite files in a scratch folder
 * always, and PostgreSQL too when MCX_TEST_PG_URL_FILE names the URL file of the scratch cluster
 * (tests/pg/, ctest store.postgresql.store_test). Each test gets a fresh, empty database: a new
 * SQLite file, or a new PostgreSQL database created for it and dropped at the end. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcxsec/store.h"
#include "test.h"

enum { BACKEND_SQLITE, BACKEND_PG };

static int g_backend;
static char g_dir[256];       /* scratch folder for SQLite files */
static char g_pg_base[512];   /* the fixture's URL */
static mcx_store *g_pg_admin; /* a connection to the fixture's database, to create databases */
static int g_seq;
static int g_pg_dbs; /* databases created (mcx_st_<pid>_1..n) */

#define URL_MAX 600

/* A URL for a new empty database of the current backend. */
static void fresh_url(char *url, size_t cap)
{
    g_seq++;
    if (g_backend == BACKEND_SQLITE) {
        snprintf(url, cap, "sqlite:%s/db%d.sqlite", g_dir, g_seq);
        return;
    }
    {
        char sql[128], name[64];
        const char *host = strstr(g_pg_base, "://");
        const char *slash = host != NULL ? strchr(host + 3, '/') : NULL;
        const char *query = strchr(g_pg_base, '?');
        if (slash == NULL) {
            fprintf(stderr, "fixture URL %s has no database name\n", g_pg_base);
            exit(1);
        }
        snprintf(name, sizeof name, "mcx_st_%ld_%d", (long)getpid(), g_seq);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        if (mcx_store_exec(g_pg_admin, sql) != MCX_OK) {
            fprintf(stderr, "%s: %s\n", sql, mcx_last_error());
            exit(1);
        }
        g_pg_dbs = g_seq;
        snprintf(url, cap, "%.*s/%s%s", (int)(slash - g_pg_base), g_pg_base, name,
                 query != NULL ? query : "");
    }
}

static mcx_store *fresh(char *url, size_t cap)
{
    mcx_store *st = NULL;
    fresh_url(url, cap);
    CHECK_OK(mcx_store_open(&st, url));
    if (st == NULL) {
        fprintf(stderr, "cannot open %s\n", url);
        exit(1);
    }
    return st;
}

static int contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) != NULL)
        return 1;
    fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", hay, needle);
    return 0;
}

static const char *bname(void)
{
    return g_backend == BACKEND_SQLITE ? "store (sqlite): " : "store (postgresql): ";
}

/* Rows of a one-number query. */
static int64_t count(mcx_store *st, const char *sql)
{
    mcx_stmt *s = NULL;
    int row = 0;
    int64_t v = -1;
    CHECK_OK(mcx_store_prepare(st, sql, &s));
    if (s == NULL)
        return -1;
    CHECK_OK(mcx_stmt_step(s, &row));
    if (row)
        v = mcx_stmt_int(s, 0);
    mcx_stmt_done(s);
    return v;
}

/* Run a one-parameter write, returning its status. */
static mcx_status put_user(mcx_store *st, const char *name, int64_t n)
{
    mcx_stmt *s = NULL;
    mcx_status rc = mcx_store_prepare(st, "INSERT INTO users (username, n) VALUES (?, ?)", &s);
    if (rc != MCX_OK)
        return rc;
    rc = mcx_stmt_bind_text(s, 1, name);
    if (rc == MCX_OK)
        rc = mcx_stmt_bind_int(s, 2, n);
    if (rc == MCX_OK)
        rc = mcx_stmt_step(s, NULL);
    mcx_stmt_done(s);
    return rc;
}

static const mcx_store_migration users_v2[] = {
    {1, "CREATE TABLE users (username TEXT PRIMARY KEY, n BIGINT NOT NULL);"
        "CREATE TABLE keys (kid TEXT PRIMARY KEY, owner TEXT NOT NULL REFERENCES users(username), "
        "k BLOB NOT NULL)"},
    {2, "ALTER TABLE users ADD COLUMN note TEXT; "
        "-- a seed row: it appears once however often the migrations run\n"
        "INSERT INTO users (username, n, note) VALUES ('seed', 0, 'from migration 2');"},
};

/* ---- opening ------------------------------------------------------------------------------- */

static void test_open_errors(void)
{
    mcx_store *st = (mcx_store *)1;
    char path[URL_MAX];
    FILE *f;

    CHECK_ST(mcx_store_open(&st, "mysql://root@localhost/x"), MCX_E_ARG);
    CHECK(st == NULL);
    CHECK(contains(mcx_last_error(), "\"mysql\""));
    CHECK_ST(mcx_store_open(&st, "sqlite:"), MCX_E_ARG);
    CHECK_ST(mcx_store_open(&st, ""), MCX_E_ARG);
    CHECK_ST(mcx_store_open(&st, NULL), MCX_E_ARG);
    CHECK_ST(mcx_store_open(NULL, "sqlite::memory:"), MCX_E_ARG);

    CHECK_ST(mcx_store_open(&st, "sqlite:/nonexistent-mcx-dir/x.db"), MCX_E_STORE);
    CHECK(st == NULL);
    CHECK(contains(mcx_last_error(), "store (sqlite): open /nonexistent-mcx-dir/x.db: "));

    /* A file that is not a database is refused when opened, not at the first query. */
    snprintf(path, sizeof path, "%s/not-a-db", g_dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        for (int i = 0; i < 200; i++)
            fputs("this is not an SQLite database\n", f);
        fclose(f);
    }
    CHECK_ST(mcx_store_open(&st, path), MCX_E_STORE);
    CHECK(contains(mcx_last_error(), "not a database"));

    /* Nothing listens on port 1: the connection is refused at once. */
    CHECK_ST(mcx_store_open(&st, "postgresql://postgres@127.0.0.1:1/mcx"), MCX_E_STORE);
    CHECK(contains(mcx_last_error(), "store (postgresql): connect: "));
    CHECK_ST(mcx_store_open(&st, "postgres://nobody:secret@127.0.0.1:1/mcx"), MCX_E_STORE);
    CHECK(strstr(mcx_last_error(), "secret") == NULL);

    CHECK_OK(mcx_store_open(&st, "sqlite::memory:"));
    CHECK(strcmp(mcx_store_backend(st), "sqlite") == 0);
    mcx_store_close(st);
    /* A plain path is an SQLite file. */
    snprintf(path, sizeof path, "%s/plain.db", g_dir);
    CHECK_OK(mcx_store_open(&st, path));
    CHECK(strcmp(mcx_store_backend(st), "sqlite") == 0);
    {
        mcx_stmt *s = NULL;
        int row = 0;
        CHECK_OK(mcx_store_prepare(st, "PRAGMA journal_mode", &s));
        CHECK_OK(mcx_stmt_step(s, &row));
        CHECK(row && strcmp(mcx_stmt_text(s, 0), "wal") == 0);
        mcx_stmt_done(s);
    }
    CHECK(count(st, "PRAGMA foreign_keys") == 1);
    CHECK(count(st, "PRAGMA busy_timeout") == 5000);
    CHECK(count(st, "PRAGMA synchronous") == 1); /* NORMAL */
    mcx_store_close(st);
    mcx_store_close(NULL);
}

static void test_backend_name(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    CHECK(strcmp(mcx_store_backend(st), g_backend == BACKEND_SQLITE ? "sqlite" : "postgresql") ==
          0);
    mcx_store_close(st);
}

/* ---- migrations ------------------------------------------------------------------------------ */

static void test_migrations(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    int v = -1;

    CHECK_OK(mcx_store_schema_version(st, "idms", &v));
    CHECK(v == 0);
    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 1));
    CHECK_OK(mcx_store_schema_version(st, "idms", &v));
    CHECK(v == 1);
    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 2));
    CHECK_OK(mcx_store_schema_version(st, "idms", &v));
    CHECK(v == 2);
    CHECK(count(st, "SELECT count(*) FROM users") == 1);
    /* Again: nothing to do, the seed row is not inserted twice. */
    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 2));
    CHECK(count(st, "SELECT count(*) FROM users") == 1);
    CHECK(count(st, "SELECT count(*) FROM mcx_schema") == 1);
    CHECK(count(st, "SELECT applied_at FROM mcx_schema WHERE component = 'idms'") >=
          (int64_t)time(NULL) - 60);
    /* Components are independent. */
    CHECK_OK(mcx_store_schema_version(st, "kms", &v));
    CHECK(v == 0);

    /* The database is newer than the program. */
    CHECK_ST(mcx_store_migrate(st, "idms", users_v2, 1), MCX_E_UNSUPPORTED);
    CHECK(contains(mcx_last_error(), "version 2"));
    CHECK_ST(mcx_store_migrate(st, "idms", NULL, 0), MCX_E_UNSUPPORTED);

    /* Malformed lists. */
    {
        const mcx_store_migration gap[] = {{1, "SELECT 1"}, {3, "SELECT 1"}};
        const mcx_store_migration zero[] = {{0, "SELECT 1"}};
        const mcx_store_migration nosql[] = {{1, NULL}};
        CHECK_ST(mcx_store_migrate(st, "x", gap, 2), MCX_E_ARG);
        CHECK_ST(mcx_store_migrate(st, "x", zero, 1), MCX_E_ARG);
        CHECK_ST(mcx_store_migrate(st, "x", nosql, 1), MCX_E_ARG);
        CHECK_ST(mcx_store_migrate(st, "", users_v2, 2), MCX_E_ARG);
        CHECK_ST(mcx_store_migrate(st, NULL, users_v2, 2), MCX_E_ARG);
        CHECK_ST(mcx_store_migrate(st, "x", NULL, 2), MCX_E_ARG);
        CHECK_ST(mcx_store_schema_version(st, "idms", NULL), MCX_E_ARG);
    }

    /* A failing migration leaves nothing behind: no table, no row, no new version. */
    {
        const mcx_store_migration bad[] = {
            users_v2[0],
            users_v2[1],
            {3, "CREATE TABLE t3 (x BIGINT); INSERT INTO users (username, n) VALUES ('m3', 3);"
                "INSERT INTO no_such_table VALUES (1)"},
        };
        mcx_stmt *s = NULL;
        CHECK_ST(mcx_store_migrate(st, "idms", bad, 3), MCX_E_STORE);
        CHECK(contains(mcx_last_error(), bname()));
        CHECK(contains(mcx_last_error(), "INSERT INTO no_such_table"));
        CHECK(contains(mcx_last_error(), "migration 3 of idms rolled back"));
        CHECK_OK(mcx_store_schema_version(st, "idms", &v));
        CHECK(v == 2);
        CHECK(count(st, "SELECT count(*) FROM users") == 1);
        CHECK_ST(mcx_store_prepare(st, "SELECT x FROM t3", &s), MCX_E_STORE);
        CHECK(s == NULL);
        /* The store is usable afterwards, outside any transaction. */
        CHECK_OK(put_user(st, "after", 1));
        CHECK_OK(mcx_store_begin(st));
        mcx_store_rollback(st);
    }

    /* A second connection sees the schema and has nothing to do. */
    {
        mcx_store *st2 = NULL;
        CHECK_OK(mcx_store_open(&st2, url));
        CHECK_OK(mcx_store_migrate(st2, "idms", users_v2, 2));
        CHECK_OK(mcx_store_schema_version(st2, "idms", &v));
        CHECK(v == 2);
        mcx_store_close(st2);
    }
    mcx_store_close(st);
}

struct migrator {
    const char *url;
    mcx_status rc;
    char why[256];
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    mcx_store *st = NULL;
    m->rc = mcx_store_open(&st, m->url);
    if (m->rc == MCX_OK)
        m->rc = mcx_store_migrate(st, "idms", users_v2, 2);
    snprintf(m->why, sizeof m->why, "%s", mcx_last_error());
    mcx_store_close(st);
    return NULL;
}

/* Four connections migrate one new database at once: all succeed, the work is done once. */
static void test_concurrent_migrations(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    struct migrator m[4];
    pthread_t t[4];
    int i, v = 0;

    for (i = 0; i < 4; i++) {
        m[i].url = url;
        m[i].rc = MCX_E_INTERNAL;
        CHECK(pthread_create(&t[i], NULL, migrate_thread, &m[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (m[i].rc != MCX_OK)
            fprintf(stderr, "  migrator %d: %s: %s\n", i, mcx_status_name(m[i].rc), m[i].why);
        CHECK(m[i].rc == MCX_OK);
    }
    CHECK_OK(mcx_store_schema_version(st, "idms", &v));
    CHECK(v == 2);
    CHECK(count(st, "SELECT count(*) FROM users WHERE username = 'seed'") == 1);
    mcx_store_close(st);
}

/* ---- transactions ---------------------------------------------------------------------------- */

static void test_transactions(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);

    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 2));
    mcx_store_rollback(st); /* outside a transaction: nothing happens */
    CHECK_ST(mcx_store_commit(st), MCX_E_STORE);

    CHECK_OK(mcx_store_begin(st));
    CHECK_ST(mcx_store_begin(st), MCX_E_STORE); /* not nested */
    CHECK_OK(put_user(st, "alice", 1));
    CHECK(count(st, "SELECT count(*) FROM users WHERE username = 'alice'") == 1);
    mcx_store_rollback(st);
    CHECK(count(st, "SELECT count(*) FROM users WHERE username = 'alice'") == 0);

    CHECK_OK(mcx_store_begin(st));
    CHECK_OK(put_user(st, "alice", 1));
    CHECK_OK(put_user(st, "bob", 2));
    CHECK_OK(mcx_store_commit(st));
    CHECK(count(st, "SELECT count(*) FROM users") == 3);
    {
        /* Committed means visible to another connection. */
        mcx_store *st2 = NULL;
        CHECK_OK(mcx_store_open(&st2, url));
        CHECK(count(st2, "SELECT sum(n) FROM users") == 3);
        mcx_store_close(st2);
    }

    /* A failed statement inside a transaction: committing does not keep the rest. */
    CHECK_OK(mcx_store_begin(st));
    CHECK_OK(put_user(st, "carol", 3));
    CHECK_ST(put_user(st, "alice", 9), MCX_E_EXISTS);
    if (g_backend == BACKEND_PG) {
        /* PostgreSQL aborts the whole transaction at the first error. */
        CHECK_ST(mcx_store_commit(st), MCX_E_STORE);
        CHECK(contains(mcx_last_error(), "rolled back"));
        CHECK(count(st, "SELECT count(*) FROM users WHERE username = 'carol'") == 0);
    } else {
        /* SQLite undoes only the failed statement. */
        CHECK_OK(mcx_store_commit(st));
        CHECK(count(st, "SELECT count(*) FROM users WHERE username = 'carol'") == 1);
    }
    mcx_store_rollback(st);
    CHECK_OK(mcx_store_begin(st)); /* the store is usable again */
    CHECK_OK(mcx_store_commit(st));

    /* Closing with a transaction open rolls it back. */
    CHECK_OK(mcx_store_begin(st));
    CHECK_OK(put_user(st, "dave", 4));
    mcx_store_close(st);
    CHECK_OK(mcx_store_open(&st, url));
    CHECK(count(st, "SELECT count(*) FROM users WHERE username = 'dave'") == 0);
    mcx_store_close(st);
}

struct waiter {
    const char *url;
    mcx_status begin_rc, commit_rc;
    int64_t seen;
    double waited;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *waiter_thread(void *arg)
{
    struct waiter *w = arg;
    mcx_store *st = NULL;
    double t0;
    if (mcx_store_open(&st, w->url) != MCX_OK) {
        w->begin_rc = MCX_E_STORE;
        return NULL;
    }
    t0 = now_s();
    w->begin_rc = mcx_store_begin(st); /* waits for the other connection's write lock */
    w->waited = now_s() - t0;
    w->seen = count(st, "SELECT count(*) FROM users WHERE username = 'writer'");
    w->commit_rc = w->begin_rc == MCX_OK ? mcx_store_commit(st) : MCX_E_STORE;
    mcx_store_close(st);
    return NULL;
}

/* Two connections to one database: a writer's transaction is invisible to the reader until
 * committed (SQLite WAL: the reader is not blocked), and on SQLite a second writer waits for
 * the lock. */
static void test_two_connections(void)
{
    char url[URL_MAX];
    mcx_store *a = fresh(url, sizeof url), *b = NULL;
    struct waiter w = {url, MCX_E_INTERNAL, MCX_E_INTERNAL, -1, 0};
    pthread_t t;

    CHECK_OK(mcx_store_migrate(a, "idms", users_v2, 2));
    CHECK_OK(mcx_store_open(&b, url));
    CHECK_OK(mcx_store_begin(a));
    CHECK_OK(put_user(a, "writer", 1));
    CHECK(count(b, "SELECT count(*) FROM users WHERE username = 'writer'") == 0);
    if (g_backend == BACKEND_SQLITE) {
        /* BEGIN IMMEDIATE: the second writer waits (busy timeout) until the first commits. */
        CHECK(pthread_create(&t, NULL, waiter_thread, &w) == 0);
        usleep(300 * 1000);
        CHECK_OK(mcx_store_commit(a));
        pthread_join(t, NULL);
        CHECK_OK(w.begin_rc);
        CHECK_OK(w.commit_rc);
        CHECK(w.seen == 1);
        if (w.waited < 0.2)
            fprintf(stderr, "  second writer waited only %.3f s\n", w.waited);
        CHECK(w.waited >= 0.2);
    } else {
        /* PostgreSQL locks rows, not the database: only visibility is checked here. */
        CHECK_OK(mcx_store_commit(a));
    }
    CHECK(count(b, "SELECT count(*) FROM users WHERE username = 'writer'") == 1);
    mcx_store_close(b);
    mcx_store_close(a);
}

/* ---- statements ------------------------------------------------------------------------------ */

static void test_statement_cache(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    mcx_stmt *s1 = NULL, *s2 = NULL, *s3 = NULL;
    int row = 0;
    const char *q = "SELECT n FROM users WHERE username = ?";

    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 2));
    CHECK_OK(put_user(st, "alice", 41));
    CHECK_OK(mcx_store_prepare(st, q, &s1));
    CHECK_OK(mcx_stmt_bind_text(s1, 1, "alice"));
    CHECK_OK(mcx_stmt_step(s1, &row));
    CHECK(row == 1 && mcx_stmt_int(s1, 0) == 41);
    CHECK_OK(mcx_stmt_step(s1, &row));
    CHECK(row == 0);
    CHECK_OK(mcx_stmt_step(s1, &row)); /* stays at the end, does not start over */
    CHECK(row == 0);
    mcx_stmt_done(s1);
    /* The same text is the same statement, its binding gone. */
    CHECK_OK(mcx_store_prepare(st, q, &s2));
    CHECK(s1 == s2);
    CHECK_OK(mcx_stmt_step(s2, &row));
    CHECK(row == 0); /* username = NULL matches nothing */
    mcx_stmt_done(s2);
    /* Another text is another statement. */
    CHECK_OK(mcx_store_prepare(st, "SELECT n FROM users WHERE username = ? ", &s3));
    CHECK(s3 != s1);
    mcx_stmt_done(s3);
    /* Still valid after more DDL. */
    CHECK_OK(mcx_store_exec(st, "CREATE TABLE other (x BIGINT)"));
    CHECK_OK(mcx_store_prepare(st, q, &s1));
    CHECK(s1 == s2);
    CHECK_OK(mcx_stmt_bind_text(s1, 1, "alice"));
    CHECK_OK(mcx_stmt_step(s1, &row));
    CHECK(row == 1 && mcx_stmt_int(s1, 0) == 41);
    /* Binding between steps is refused; done then rebinding works. */
    CHECK_ST(mcx_stmt_bind_text(s1, 1, "bob"), MCX_E_ARG);
    mcx_stmt_done(s1);
    mcx_stmt_done(s1); /* twice is harmless */
    mcx_stmt_done(NULL);

    /* Parameter indexes are 1..n. */
    CHECK_OK(mcx_store_prepare(st, q, &s1));
    CHECK_ST(mcx_stmt_bind_int(s1, 0, 1), MCX_E_ARG);
    CHECK_ST(mcx_stmt_bind_int(s1, 2, 1), MCX_E_ARG);
    CHECK(contains(mcx_last_error(), "parameter 2 out of range 1..1"));
    CHECK_ST(mcx_stmt_bind_blob(s1, 1, NULL, 3), MCX_E_ARG);
    mcx_stmt_done(s1);

    /* SQL that does not compile, and more than one statement, are refused. */
    s1 = (mcx_stmt *)1;
    CHECK_ST(mcx_store_prepare(st, "SELEKT 1", &s1), MCX_E_STORE);
    CHECK(s1 == NULL);
    CHECK(contains(mcx_last_error(), bname()));
    CHECK(contains(mcx_last_error(), "SELEKT 1"));
    CHECK_ST(mcx_store_prepare(st, "SELECT 1; SELECT 2", &s1), MCX_E_STORE);
    CHECK_ST(mcx_store_prepare(st, "  -- nothing\n", &s1), MCX_E_STORE);
    CHECK_ST(mcx_store_prepare(st, "SELECT n FROM no_such_table", &s1), MCX_E_STORE);
    CHECK(contains(mcx_last_error(), "no_such_table"));
    /* The failures were not cached: the store works on. */
    CHECK(count(st, "SELECT count(*) FROM users") == 2);
    mcx_store_close(st);
}

static void test_exec(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);

    CHECK_OK(mcx_store_exec(st, ""));
    CHECK_OK(mcx_store_exec(st, " ; -- only a comment\n;"));
    CHECK_OK(mcx_store_exec(st, "CREATE TABLE a (x BIGINT, s TEXT); "
                                "INSERT INTO a VALUES (1, 'one; two'); /* ; */ "
                                "INSERT INTO a VALUES (2, 'it''s')"));
    CHECK(count(st, "SELECT count(*) FROM a") == 2);
    CHECK(count(st, "SELECT x FROM a WHERE s = 'it''s'") == 2);
    /* A failure names the statement that failed, not the first of the script. */
    CHECK_ST(mcx_store_exec(st, "INSERT INTO a VALUES (3, 'three'); INSERT INTO nope VALUES (1)"),
             MCX_E_STORE);
    CHECK(contains(mcx_last_error(), bname()));
    CHECK(contains(mcx_last_error(), "INSERT INTO nope"));
    CHECK_ST(mcx_store_exec(st, "CREATE TABLE a (y BIGINT)"), MCX_E_STORE);
    CHECK_OK(mcx_store_exec(st, "CREATE UNIQUE INDEX a_x ON a (x)"));
    CHECK_ST(mcx_store_exec(st, "INSERT INTO a VALUES (1, 'again')"), MCX_E_EXISTS);
    CHECK_ST(mcx_store_exec(NULL, "SELECT 1"), MCX_E_ARG);
    mcx_store_close(st);
}

static void test_round_trips(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    mcx_stmt *s = NULL;
    uint8_t all[256], nuls[5] = {0, 'a', 0, 0, 'b'};
    const char *utf8 = "h\xc3\xa9llo \xe2\x82\xac 'quoted' ? $1";
    const uint8_t *p;
    size_t n;
    int row = 0, i;

    for (i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    CHECK_OK(mcx_store_exec(st, "CREATE TABLE kv (k TEXT PRIMARY KEY, i BIGINT, b BLOB, t TEXT)"));
    CHECK_OK(mcx_store_prepare(st, "INSERT INTO kv (k, i, b, t) VALUES (?, ?, ?, ?)", &s));
#define PUT(key, ival, bptr, blen, text)                                                           \
    do {                                                                                           \
        CHECK_OK(mcx_store_prepare(st, "INSERT INTO kv (k, i, b, t) VALUES (?, ?, ?, ?)", &s));    \
        CHECK_OK(mcx_stmt_bind_text(s, 1, key));                                                   \
        CHECK_OK(mcx_stmt_bind_int(s, 2, ival));                                                   \
        CHECK_OK(mcx_stmt_bind_blob(s, 3, bptr, blen));                                            \
        CHECK_OK(mcx_stmt_bind_text(s, 4, text));                                                  \
        CHECK_OK(mcx_stmt_step(s, &row));                                                          \
        CHECK(row == 0 && mcx_stmt_changes(s) == 1);                                               \
        mcx_stmt_done(s);                                                                          \
    } while (0)
    PUT("all", INT64_MAX, all, sizeof all, utf8);
    PUT("nuls", INT64_MIN, nuls, sizeof nuls, "");
    PUT("empty", -1, NULL, 0, NULL);
    PUT("one", 0, all + 255, 1, "x");
#undef PUT
    /* NULLs. */
    CHECK_OK(mcx_store_prepare(st, "INSERT INTO kv (k, i, b, t) VALUES (?, ?, ?, ?)", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "nulls"));
    CHECK_OK(mcx_stmt_bind_null(s, 2));
    CHECK_OK(mcx_stmt_bind_null(s, 3));
    CHECK_OK(mcx_stmt_bind_int(s, 4, 7)); /* rebinding replaces */
    CHECK_OK(mcx_stmt_bind_null(s, 4));
    CHECK_OK(mcx_stmt_step(s, NULL));
    mcx_stmt_done(s);

    CHECK_OK(mcx_store_prepare(st, "SELECT i, b, t FROM kv WHERE k = ?", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "all"));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1);
    CHECK(mcx_stmt_int(s, 0) == INT64_MAX);
    p = mcx_stmt_blob(s, 1, &n);
    CHECK(p != NULL && n == 256);
    if (p != NULL && n == 256)
        CHECK_MEM(p, all, 256);
    CHECK(mcx_stmt_text(s, 2) != NULL && strcmp(mcx_stmt_text(s, 2), utf8) == 0);
    CHECK(!mcx_stmt_is_null(s, 0) && !mcx_stmt_is_null(s, 1) && !mcx_stmt_is_null(s, 2));
    mcx_stmt_done(s);

    CHECK_OK(mcx_store_prepare(st, "SELECT i, b, t FROM kv WHERE k = ?", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "nuls"));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1 && mcx_stmt_int(s, 0) == INT64_MIN);
    p = mcx_stmt_blob(s, 1, &n);
    CHECK(p != NULL && n == sizeof nuls);
    if (p != NULL && n == sizeof nuls)
        CHECK_MEM(p, nuls, sizeof nuls);
    CHECK(mcx_stmt_text(s, 2) != NULL && mcx_stmt_text(s, 2)[0] == '\0');
    CHECK(!mcx_stmt_is_null(s, 2)); /* empty text is not NULL */
    mcx_stmt_done(s);

    CHECK_OK(mcx_store_prepare(st, "SELECT i, b, t FROM kv WHERE k = ?", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "empty"));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1 && mcx_stmt_int(s, 0) == -1);
    n = 99;
    p = mcx_stmt_blob(s, 1, &n);
    CHECK(p != NULL && n == 0); /* the empty blob is a value, not NULL */
    CHECK(!mcx_stmt_is_null(s, 1));
    CHECK(mcx_stmt_is_null(s, 2) && mcx_stmt_text(s, 2) == NULL); /* text NULL binds NULL */
    mcx_stmt_done(s);

    CHECK_OK(mcx_store_prepare(st, "SELECT i, b, t FROM kv WHERE k = ?", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "one"));
    CHECK_OK(mcx_stmt_step(s, &row));
    p = mcx_stmt_blob(s, 1, &n);
    CHECK(row == 1 && p != NULL && n == 1 && p[0] == 0xff);
    mcx_stmt_done(s);

    CHECK_OK(mcx_store_prepare(st, "SELECT i, b, t FROM kv WHERE k = ?", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "nulls"));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1);
    CHECK(mcx_stmt_is_null(s, 0) && mcx_stmt_int(s, 0) == 0);
    n = 99;
    CHECK(mcx_stmt_is_null(s, 1) && mcx_stmt_blob(s, 1, &n) == NULL && n == 0);
    CHECK(mcx_stmt_is_null(s, 2) && mcx_stmt_text(s, 2) == NULL);
    mcx_stmt_done(s);

    /* Blobs as parameters of a comparison. */
    CHECK_OK(mcx_store_prepare(st, "SELECT k FROM kv WHERE b = ?", &s));
    CHECK_OK(mcx_stmt_bind_blob(s, 1, nuls, sizeof nuls));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1 && strcmp(mcx_stmt_text(s, 0), "nuls") == 0);
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 0);
    mcx_stmt_done(s);
    CHECK(count(st, "SELECT count(*) FROM kv") == 5);
    mcx_store_close(st);
}

static void test_unique_and_changes(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    mcx_stmt *s = NULL;

    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 2));
    CHECK_OK(put_user(st, "alice", 1));
    CHECK_ST(put_user(st, "alice", 2), MCX_E_EXISTS);
    if (g_backend == BACKEND_SQLITE)
        CHECK(strcmp(mcx_last_error(), "store (sqlite): INSERT INTO users: UNIQUE constraint "
                                       "failed: users.username") == 0);
    else
        CHECK(contains(mcx_last_error(),
                       "store (postgresql): INSERT INTO users: duplicate key value"));
    /* A foreign key refusal is a store error, not "exists". */
    CHECK_OK(mcx_store_prepare(st, "INSERT INTO keys (kid, owner, k) VALUES (?, ?, ?)", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "k1"));
    CHECK_OK(mcx_stmt_bind_text(s, 2, "nobody"));
    CHECK_OK(mcx_stmt_bind_blob(s, 3, (const uint8_t *)"\x01\x02", 2));
    CHECK_ST(mcx_stmt_step(s, NULL), MCX_E_STORE);
    CHECK(contains(mcx_last_error(), "INSERT INTO keys"));
    mcx_stmt_done(s);
    /* NOT NULL. */
    CHECK_ST(mcx_store_exec(st, "INSERT INTO users (username) VALUES ('x')"), MCX_E_STORE);
    /* ON CONFLICT DO NOTHING works in both and changes nothing. */
    CHECK_OK(mcx_store_prepare(
        st, "INSERT INTO users (username, n) VALUES (?, ?) ON CONFLICT DO NOTHING", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "alice"));
    CHECK_OK(mcx_stmt_bind_int(s, 2, 5));
    CHECK_OK(mcx_stmt_step(s, NULL));
    CHECK(mcx_stmt_changes(s) == 0);
    mcx_stmt_done(s);

    CHECK_OK(put_user(st, "bob", 1));
    CHECK_OK(put_user(st, "carol", 2));
    CHECK_OK(mcx_store_prepare(st, "UPDATE users SET n = n + 10 WHERE n = ?", &s));
    CHECK_OK(mcx_stmt_bind_int(s, 1, 1));
    CHECK_OK(mcx_stmt_step(s, NULL));
    CHECK(mcx_stmt_changes(s) == 2);
    mcx_stmt_done(s);
    CHECK_OK(mcx_store_prepare(st, "UPDATE users SET n = n + 10 WHERE n = ?", &s));
    CHECK_OK(mcx_stmt_bind_int(s, 1, 12345));
    CHECK_OK(mcx_stmt_step(s, NULL));
    CHECK(mcx_stmt_changes(s) == 0);
    mcx_stmt_done(s);
    CHECK_OK(mcx_store_prepare(st, "DELETE FROM users WHERE username = ?", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "carol"));
    CHECK_OK(mcx_stmt_step(s, NULL));
    CHECK(mcx_stmt_changes(s) == 1);
    mcx_stmt_done(s);
    /* A query changes nothing, even right after a write. */
    CHECK_OK(mcx_store_prepare(st, "SELECT username FROM users", &s));
    CHECK_OK(mcx_stmt_step(s, NULL));
    CHECK(mcx_stmt_changes(s) == 0);
    mcx_stmt_done(s);
    CHECK(mcx_stmt_changes(NULL) == 0);

    /* binding by a format: text, int and blob; changes reported; a bad format character */
    int64_t changed = -1;
    CHECK_OK(mcx_store_execf(st, &changed, "INSERT INTO users (username, n) VALUES (?, ?)", "ti",
                             "dave", (int64_t)7));
    CHECK(changed == 1);
    CHECK_OK(mcx_store_execf(st, NULL, "INSERT INTO keys (kid, owner, k) VALUES (?, ?, ?)", "ttb",
                             "k2", "dave", (const uint8_t *)"\x03\x04\x05", (size_t)3));
    CHECK_OK(mcx_store_prepare(st, "SELECT k FROM keys WHERE kid = 'k2'", &s));
    int row = 0;
    CHECK_OK(mcx_stmt_step(s, &row));
    size_t klen = 0;
    const uint8_t *k = row ? mcx_stmt_blob(s, 0, &klen) : NULL;
    CHECK(row && klen == 3 && k != NULL && memcmp(k, "\x03\x04\x05", 3) == 0);
    mcx_stmt_done(s);
    CHECK_ST(mcx_store_execf(st, NULL, "DELETE FROM users WHERE username = ?", "x", "dave"),
             MCX_E_ARG);
    CHECK(contains(mcx_last_error(), "unknown format character 'x'"));
    mcx_store_close(st);
}

/* '?' and BLOB inside quoted text and comments are left alone by the PostgreSQL rewriting (and
 * the same SQL means the same on SQLite). */
static void test_quoted_text(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    mcx_stmt *s = NULL;
    int row = 0;
    const uint8_t *p;
    size_t n;

    CHECK_OK(mcx_store_prepare(st,
                               "SELECT 'a?b', ?, 'it''s ?' AS \"odd?name\" -- why?\n"
                               ", /* ? */ ?",
                               &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "one"));
    CHECK_OK(mcx_stmt_bind_text(s, 2, "two"));
    CHECK_ST(mcx_stmt_bind_text(s, 3, "three"), MCX_E_ARG); /* only two placeholders */
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1);
    CHECK(mcx_stmt_text(s, 0) && strcmp(mcx_stmt_text(s, 0), "a?b") == 0);
    CHECK(mcx_stmt_text(s, 1) && strcmp(mcx_stmt_text(s, 1), "one") == 0);
    CHECK(mcx_stmt_text(s, 2) && strcmp(mcx_stmt_text(s, 2), "it's ?") == 0);
    CHECK(mcx_stmt_text(s, 3) && strcmp(mcx_stmt_text(s, 3), "two") == 0);
    mcx_stmt_done(s);

    /* BLOB is rewritten as a type word only: not in a default string, not in longer names. */
    CHECK_OK(mcx_store_exec(st, "CREATE TABLE bl (blob_id TEXT, b blob NOT NULL, "
                                "note TEXT DEFAULT 'BLOB; a ''BLOB'' ?', blobs BIGINT)"));
    CHECK_OK(mcx_store_prepare(st, "INSERT INTO bl (blob_id, b, blobs) VALUES (?, ?, 2)", &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "x"));
    CHECK_OK(mcx_stmt_bind_blob(s, 2, (const uint8_t *)"\0\\x00", 5));
    CHECK_OK(mcx_stmt_step(s, NULL));
    mcx_stmt_done(s);
    CHECK_OK(mcx_store_prepare(st, "SELECT b, note, blobs FROM bl WHERE blob_id = 'x'", &s));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1);
    p = mcx_stmt_blob(s, 0, &n);
    CHECK(p != NULL && n == 5 && memcmp(p, "\0\\x00", 5) == 0);
    CHECK(mcx_stmt_text(s, 1) && strcmp(mcx_stmt_text(s, 1), "BLOB; a 'BLOB' ?") == 0);
    CHECK(mcx_stmt_int(s, 2) == 2);
    mcx_stmt_done(s);
    mcx_store_close(st);
}

static void test_column_bounds(void)
{
    char url[URL_MAX];
    mcx_store *st = fresh(url, sizeof url);
    mcx_stmt *s = NULL;
    size_t n = 99;
    int row = 0;

    CHECK_OK(mcx_store_prepare(st, "SELECT 1, 'two'", &s));
    /* Before the first step there is no row. */
    CHECK(mcx_stmt_text(s, 0) == NULL && mcx_stmt_int(s, 0) == 0);
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1 && mcx_stmt_int(s, 0) == 1);
    CHECK(mcx_stmt_text(s, 2) == NULL);
    CHECK(mcx_stmt_text(s, -1) == NULL);
    CHECK(mcx_stmt_int(s, 2) == 0 && mcx_stmt_int(s, 1000000) == 0);
    CHECK(mcx_stmt_blob(s, 2, &n) == NULL && n == 0);
    CHECK(mcx_stmt_blob(s, 0, NULL) != NULL);
    CHECK(mcx_stmt_is_null(s, 2) == 1 && mcx_stmt_is_null(s, 1) == 0);
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 0);
    /* After the last row there is none either. */
    CHECK(mcx_stmt_text(s, 1) == NULL && mcx_stmt_int(s, 0) == 0);
    mcx_stmt_done(s);
    CHECK(mcx_stmt_text(s, 0) == NULL);
    CHECK(mcx_stmt_text(NULL, 0) == NULL && mcx_stmt_int(NULL, 0) == 0);
    CHECK(mcx_stmt_blob(NULL, 0, &n) == NULL && n == 0 && mcx_stmt_is_null(NULL, 0));
    CHECK_ST(mcx_stmt_step(NULL, &row), MCX_E_ARG);
    mcx_store_close(st);
}

/* PostgreSQL: a session the server ends (restart, idle timeout) fails the statement that finds
 * it gone; the next statement reconnects and prepares the cached statements again. */
static void test_reconnect(void)
{
    char url[URL_MAX], sql[128];
    mcx_store *st = fresh(url, sizeof url);
    const char *q = "SELECT n FROM users WHERE username = ?";
    mcx_stmt *s = NULL;
    int64_t pid;
    int row = 0;

    CHECK_OK(mcx_store_migrate(st, "idms", users_v2, 2));
    CHECK_OK(put_user(st, "alice", 7));
    CHECK_OK(mcx_store_prepare(st, q, &s));
    mcx_stmt_done(s);

    pid = count(st, "SELECT pg_backend_pid()");
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld, 5000)", (long long)pid);
    CHECK_OK(mcx_store_exec(g_pg_admin, sql));
    CHECK_OK(mcx_store_prepare(st, q, &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "alice"));
    CHECK_ST(mcx_stmt_step(s, &row), MCX_E_STORE);
    mcx_stmt_done(s);
    CHECK_OK(mcx_store_prepare(st, q, &s));
    CHECK_OK(mcx_stmt_bind_text(s, 1, "alice"));
    CHECK_OK(mcx_stmt_step(s, &row));
    CHECK(row == 1 && mcx_stmt_int(s, 0) == 7);
    mcx_stmt_done(s);
    CHECK(count(st, "SELECT pg_backend_pid()") != pid);

    /* Lost inside a transaction: the transaction's work is gone, said so, and the store works
     * again after the rollback. */
    pid = count(st, "SELECT pg_backend_pid()");
    CHECK_OK(mcx_store_begin(st));
    CHECK_OK(put_user(st, "bob", 8));
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld, 5000)", (long long)pid);
    CHECK_OK(mcx_store_exec(g_pg_admin, sql));
    CHECK_ST(put_user(st, "carol", 9), MCX_E_STORE);
    CHECK_ST(put_user(st, "dave", 9), MCX_E_STORE);
    CHECK(contains(mcx_last_error(), "lost during a transaction"));
    CHECK_ST(mcx_store_commit(st), MCX_E_STORE);
    mcx_store_rollback(st);
    CHECK(count(st, "SELECT count(*) FROM users WHERE username IN ('bob', 'carol')") == 0);
    CHECK_OK(put_user(st, "erin", 10));
    CHECK(count(st, "SELECT count(*) FROM users") == 3);
    mcx_store_close(st);
}

/* ---- driver ---------------------------------------------------------------------------------- */

static void suite(void)
{
    RUN(test_backend_name);
    RUN(test_migrations);
    RUN(test_concurrent_migrations);
    RUN(test_transactions);
    RUN(test_two_connections);
    RUN(test_statement_cache);
    RUN(test_exec);
    RUN(test_round_trips);
    RUN(test_unique_and_changes);
    RUN(test_quoted_text);
    RUN(test_column_bounds);
}

static void remove_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    const char *url_file = getenv("MCX_TEST_PG_URL_FILE");
    const char *tmp = getenv("TMPDIR");

    snprintf(g_dir, sizeof g_dir, "%s/mcx-store-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    g_backend = BACKEND_SQLITE;
    RUN(test_open_errors);
    suite();

    if (url_file != NULL && url_file[0] != '\0') {
        /* Asked for PostgreSQL: a missing fixture is a failure, not a skip. */
        FILE *f = fopen(url_file, "r");
        if (f == NULL || fgets(g_pg_base, sizeof g_pg_base, f) == NULL) {
            fprintf(stderr, "cannot read the PostgreSQL URL from %s\n", url_file);
            test_record("postgresql fixture", 0);
        } else {
            g_pg_base[strcspn(g_pg_base, "\r\n")] = '\0';
            if (mcx_store_open(&g_pg_admin, g_pg_base) != MCX_OK) {
                fprintf(stderr, "%s\n", mcx_last_error());
                test_record("postgresql fixture", 0);
            } else {
                int i;
                g_backend = BACKEND_PG;
                g_seq = 0;
                suite();
                RUN(test_reconnect);
                for (i = 1; i <= g_pg_dbs; i++) {
                    char sql[128];
                    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS mcx_st_%ld_%d WITH (FORCE)",
                             (long)getpid(), i);
                    if (mcx_store_exec(g_pg_admin, sql) != MCX_OK)
                        fprintf(stderr, "%s: %s\n", sql, mcx_last_error());
                }
                mcx_store_close(g_pg_admin);
            }
        }
        if (f != NULL)
            fclose(f);
    }
    remove_dir(g_dir);
    return test_summary();
}
