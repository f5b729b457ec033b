/* Rollover: pre-issue one period's key sets for every active identity that has none. The RSK
 * (about 0.4 ms each) and SSK are computed on several threads; the main thread writes each batch
 * in one transaction with its log rows, so 100,000 identities cost 100 commits. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "mcxsec/mem.h"

#define BATCH       1000
#define MAX_THREADS 64

/* What the workers produce per identity: public parts and the sealed secrets. */
typedef struct roll_item {
    const char *uri;
    uint8_t uid[MCX_UID_BYTES];
    uint8_t pvt[MCX_ECCSI_POINT_BYTES];
    uint8_t sealed[KMS_SEALED_BYTES];
    mcx_status st;
    char reason[160];
} roll_item;

typedef struct roll_job {
    const mcx_kms *kms;
    uint64_t period_no;
    roll_item *items;
    size_t n;
    atomic_size_t next;
} roll_job;

static void *worker(void *arg)
{
    roll_job *job = arg;
    mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->n)
            break;
        roll_item *it = &job->items[i];
        if (ks == NULL) {
            it->st = MCX_E_NOMEM;
            snprintf(it->reason, sizeof it->reason, "KMS: cannot allocate secure memory");
            continue;
        }
        it->st = kms_compute(job->kms, it->uri, job->period_no, ks);
        if (it->st == MCX_OK)
            it->st = kms_seal_row(job->kms, ks, it->sealed);
        if (it->st == MCX_OK) {
            memcpy(it->uid, ks->user_id, MCX_UID_BYTES);
            memcpy(it->pvt, ks->pvt, MCX_ECCSI_POINT_BYTES);
        } else {
            snprintf(it->reason, sizeof it->reason, "%s", mcx_last_error());
        }
        mcx_memzero(ks, sizeof *ks);
    }
    mcx_secure_free(ks);
    return NULL;
}

/* A batch being computed: `started` threads run the workers over job.items[0..job.n). */
typedef struct roll_batch {
    roll_job job;
    pthread_t tid[MAX_THREADS];
    unsigned started;
} roll_batch;

static void batch_start(roll_batch *b, const mcx_kms *kms, uint64_t period_no, roll_item *items,
                        size_t n, unsigned threads)
{
    b->job.kms = kms;
    b->job.period_no = period_no;
    b->job.items = items;
    b->job.n = n;
    atomic_store(&b->job.next, 0);
    b->started = 0;
    for (unsigned t = 0; t < threads; t++) {
        if (pthread_create(&b->tid[b->started], NULL, worker, &b->job) != 0)
            break;
        b->started++;
    }
}

/* The calling thread helps until the batch is done, then joins the others. */
static mcx_status batch_finish(roll_batch *b)
{
    worker(&b->job);
    for (unsigned t = 0; t < b->started; t++)
        pthread_join(b->tid[t], NULL);
    for (size_t i = 0; i < b->job.n; i++)
        if (b->job.items[i].st != MCX_OK)
            return MCX_FAIL(b->job.items[i].st, "%s", b->job.items[i].reason);
    return MCX_OK;
}

/* The identities to issue for: active, and without a key set for the period. */
static mcx_status pending(mcx_store *st, uint64_t period_no, char ***out, size_t *n_out)
{
    static const char sql[] =
        "SELECT uri FROM kms_users u WHERE revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM"
        " kms_key_sets k WHERE k.uri = u.uri AND k.period_no = ?) UNION ALL SELECT uri FROM"
        " kms_services s WHERE revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM kms_key_sets k"
        " WHERE k.uri = s.uri AND k.period_no = ?) ORDER BY 1";
    mcx_stmt *q;
    char **list = NULL;
    size_t n = 0, cap = 0;
    MCX_GUARD(mcx_store_prepare(st, sql, &q));
    mcx_status s = mcx_stmt_bind_int(q, 1, (int64_t)period_no);
    if (s == MCX_OK)
        s = mcx_stmt_bind_int(q, 2, (int64_t)period_no);
    while (s == MCX_OK) {
        int row = 0;
        s = mcx_stmt_step(q, &row);
        if (s != MCX_OK || !row)
            break;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            char **nl = realloc(list, nc * sizeof *nl);
            if (nl == NULL) {
                s = MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
                break;
            }
            list = nl;
            cap = nc;
        }
        list[n] = strdup(mcx_stmt_text(q, 0));
        if (list[n] == NULL) {
            s = MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
            break;
        }
        n++;
    }
    mcx_stmt_done(q);
    if (s != MCX_OK) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return s;
    }
    *out = list;
    *n_out = n;
    return MCX_OK;
}

static mcx_status count_existing(mcx_store *st, uint64_t period_no, uint64_t *n)
{
    mcx_stmt *q;
    int row = 0;
    MCX_GUARD(mcx_store_prepare(st, "SELECT COUNT(*) FROM kms_key_sets WHERE period_no = ?", &q));
    mcx_status s = mcx_stmt_bind_int(q, 1, (int64_t)period_no);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, &row);
    *n = s == MCX_OK && row ? (uint64_t)mcx_stmt_int(q, 0) : 0;
    mcx_stmt_done(q);
    return s;
}

/* Write a computed batch: each row unless another issuer was first, with its log row. */
static mcx_status write_batch(mcx_store *st, uint64_t period_no, const roll_item *items, size_t n,
                              const mcx_kms_request_info *info, uint64_t *issued)
{
    MCX_GUARD(mcx_store_begin(st));
    mcx_status s = MCX_OK;
    uint64_t done = 0;
    for (size_t i = 0; s == MCX_OK && i < n; i++) {
        int inserted = 0, live = 0;
        /* the list was read before the batch was computed: an identity revoked since is left
         * out, and its row stays locked until the commit */
        s = kms_lock_identity(st, items[i].uri, 1, &live);
        if (s != MCX_OK || !live)
            continue;
        s = kms_insert_sealed(st, items[i].uri, period_no, items[i].uid, items[i].pvt,
                              items[i].sealed, info->now, &inserted);
        if (s == MCX_OK && inserted) {
            done++;
            s = kms_log_row(st, items[i].uri, period_no, info, "issued (rollover)");
        }
    }
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    if (s != MCX_OK) {
        mcx_store_rollback(st);
        return s;
    }
    *issued += done;
    return MCX_OK;
}

mcx_status mcx_kms_rollover(const mcx_kms *kms, mcx_store *st, uint64_t period_no, unsigned threads,
                            const mcx_kms_request_info *info, uint64_t *issued, uint64_t *existing)
{
    if (kms == NULL || st == NULL || issued == NULL || existing == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    *issued = *existing = 0;
    if (kms->secrets == NULL)
        return MCX_FAIL(MCX_E_NO_KEY, "KMS: opened without its master secrets: cannot issue");
    if (threads == 0)
        threads = 2;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    mcx_kms_request_info ri = {0};
    if (info != NULL)
        ri = *info;
    if (ri.request_id == NULL)
        ri.request_id = "rollover";
    if (ri.now == 0)
        ri.now = (int64_t)time(NULL);
    /* Check the period number before doing any work. */
    mcx_kms_key_set *probe = mcx_secure_alloc(sizeof *probe);
    if (probe == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
    mcx_status s = kms_compute_public(kms, "x", period_no, probe);
    mcx_secure_free(probe);
    MCX_GUARD(s);
    MCX_GUARD(count_existing(st, period_no, existing));
    char **list = NULL;
    size_t n = 0;
    MCX_GUARD(pending(st, period_no, &list, &n));
    /* Two buffers: while the store writes batch k, the workers compute batch k + 1 (the
     * writing thread joins them when it is done). */
    size_t cap = n < BATCH ? (n ? n : 1) : BATCH;
    roll_item *items[2] = {calloc(cap, sizeof(roll_item)), calloc(cap, sizeof(roll_item))};
    roll_batch *b = calloc(1, sizeof *b);
    if (items[0] == NULL || items[1] == NULL || b == NULL)
        s = MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    size_t m = 0;
    if (s == MCX_OK && n > 0) {
        m = n < BATCH ? n : BATCH;
        for (size_t i = 0; i < m; i++)
            items[0][i].uri = list[i];
        batch_start(b, kms, period_no, items[0], m, threads - 1);
        s = batch_finish(b);
    }
    for (size_t at = 0, k = 0; s == MCX_OK && m > 0; k ^= 1) {
        size_t next_at = at + m, next_m = 0;
        if (next_at < n) {
            next_m = n - next_at < BATCH ? n - next_at : BATCH;
            memset(items[k ^ 1], 0, next_m * sizeof(roll_item));
            for (size_t i = 0; i < next_m; i++)
                items[k ^ 1][i].uri = list[next_at + i];
            batch_start(b, kms, period_no, items[k ^ 1], next_m, threads);
        }
        s = write_batch(st, period_no, items[k], m, &ri, issued);
        if (next_m > 0) {
            mcx_status s2 = batch_finish(b); /* always joined, even after a failed write */
            if (s == MCX_OK)
                s = s2;
        }
        m = next_m;
        at = next_at;
    }
    for (int k = 0; k < 2; k++) {
        if (items[k] != NULL)
            mcx_memzero(items[k], cap * sizeof(roll_item));
        free(items[k]);
    }
    free(b);
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return s;
}
