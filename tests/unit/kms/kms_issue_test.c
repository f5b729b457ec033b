/* The KMS domain and key-set issuance (include/mcxsec/kms.h) on a real SQLite file, and on
 * PostgreSQL too when MCX_TEST_PG_URL_FILE names the scratch cluster's URL file (tests/cli
 * registers kms.postgresql.kms_issue_test with the "postgresql" fixture): issued key sets validate
 * (RFC 6507 §5.1.2, RFC 6508 §6.1.2), idempotence, revocation, period arithmetic against FACTS §7
 * and the SW keyprov path, the issue log, secrets never in the store, concurrent issuers in two
 * processes ending with one key set, rollover. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcxsec/kms.h"
#include "mcxsec/mem.h"
#include "test.h"

enum { BACKEND_SQLITE, BACKEND_PG };
static int g_backend;
static char g_dir[256];
static char g_pg_base[512];
static mcx_store *g_pg_admin;
static int g_seq, g_pg_dbs;
static char g_url[700];
static char g_sqlite_path[400];

#define NTP_UNIX 2208988800

static void fresh_url(void)
{
    g_seq++;
    if (g_backend == BACKEND_SQLITE) {
        snprintf(g_sqlite_path, sizeof g_sqlite_path, "%s/kms%d.db", g_dir, g_seq);
        snprintf(g_url, sizeof g_url, "sqlite:%s", g_sqlite_path);
        return;
    }
    char sql[128], name[64];
    const char *host = strstr(g_pg_base, "://");
    const char *slash = host != NULL ? strchr(host + 3, '/') : NULL;
    const char *query = strchr(g_pg_base, '?');
    if (slash == NULL) {
        fprintf(stderr, "fixture URL %s has no database name\n", g_pg_base);
        exit(1);
    }
    snprintf(name, sizeof name, "mcx_kms_%ld_%d", (long)getpid(), g_seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (mcx_store_exec(g_pg_admin, sql) != MCX_OK) {
        fprintf(stderr, "%s: %s\n", sql, mcx_last_error());
        exit(1);
    }
    g_pg_dbs = g_seq;
    snprintf(g_url, sizeof g_url, "%.*s/%s%s", (int)(slash - g_pg_base), g_pg_base, name,
             query != NULL ? query : "");
}

static mcx_store *open_store(void)
{
    mcx_store *st = NULL;
    if (mcx_store_open(&st, g_url) != MCX_OK) {
        fprintf(stderr, "cannot open %s: %s\n", g_url, mcx_last_error());
        exit(1);
    }
    return st;
}

/* A fresh store initialised for a domain; *kms opened with the secrets. */
static mcx_store *setup(mcx_kms_secrets **sec, mcx_kms **kms, uint64_t period, uint64_t offset,
                        mcx_id_mode mode)
{
    fresh_url();
    mcx_store *st = open_store();
    CHECK_OK(mcx_kms_secrets_generate(sec));
    mcx_kms_settings set = {"kms.police.example", period, offset, mode};
    CHECK_OK(mcx_kms_init(st, *sec, &set, 1700000000));
    CHECK_OK(mcx_kms_open(kms, st, *sec));
    return st;
}

static int64_t count(mcx_store *st, const char *sql)
{
    mcx_stmt *q;
    int row = 0;
    int64_t n = -1;
    if (mcx_store_prepare(st, sql, &q) != MCX_OK)
        return -1;
    if (mcx_stmt_step(q, &row) == MCX_OK && row)
        n = mcx_stmt_int(q, 0);
    mcx_stmt_done(q);
    return n;
}

/* The key set validates for the identity octets of its UID in mode. */
static void check_valid(const mcx_kms_secrets *sec, const mcx_kms_key_set *ks, const char *uri,
                        uint64_t period, uint64_t offset, mcx_id_mode mode)
{
    uint8_t uid[MCX_UID_BYTES], id[MCX_ID_MAX_BYTES];
    CHECK_OK(mcx_uid_format2(uri, "kms.police.example", period, offset, ks->key_period_no, uid));
    CHECK(ks->user_id_len == MCX_UID_BYTES);
    CHECK_MEM(ks->user_id, uid, MCX_UID_BYTES);
    size_t id_len = mcx_identity_from_uid(uid, mode, id);
    CHECK(id_len == (mode == MCX_ID_RAW ? 32u : 64u));
    CHECK_OK(mcx_eccsi_validate(sec->kpak, id, id_len, ks->ssk, ks->pvt, NULL));
    CHECK_OK(mcx_sakke_validate_rsk(sec->Z, id, id_len, ks->rsk));
    CHECK(strcmp(ks->user_uri, uri) == 0 && strcmp(ks->kms_uri, "kms.police.example") == 0);
}

static void test_domain(void)
{
    mcx_kms_secrets *sec = NULL, *other = NULL;
    mcx_kms *kms = NULL, *k2 = NULL;
    mcx_store *st = setup(&sec, &kms, 2592000, 0, MCX_ID_RAW);
    /* init again: the same domain is a no-op; another is refused */
    mcx_kms_settings same = {"kms.police.example", 2592000, 0, MCX_ID_RAW};
    mcx_kms_settings diff = {"kms.police.example", 86400, 0, MCX_ID_RAW};
    CHECK_OK(mcx_kms_init(st, sec, &same, 1800000000));
    CHECK_ST(mcx_kms_init(st, sec, &diff, 1800000000), MCX_E_EXISTS);
    CHECK_OK(mcx_kms_secrets_generate(&other));
    CHECK_ST(mcx_kms_init(st, other, &same, 1800000000), MCX_E_EXISTS);
    /* other secrets do not open this domain */
    CHECK_ST(mcx_kms_open(&k2, st, other), MCX_E_KEY_INVALID);
    /* bad settings */
    mcx_kms_settings bad = {"", 10, 0, MCX_ID_RAW};
    CHECK_ST(mcx_kms_init(st, sec, &bad, 0), MCX_E_ARG);
    mcx_kms_settings bad2 = {"k", 10, 10, MCX_ID_RAW};
    CHECK_ST(mcx_kms_init(st, sec, &bad2, 0), MCX_E_ARG);
    /* without secrets: the certificate, but no issue */
    CHECK_OK(mcx_kms_open(&k2, st, NULL));
    CHECK(k2 != NULL && !mcx_kms_can_issue(k2) && mcx_kms_can_issue(kms));
    mcx_kms_certificate c;
    mcx_kms_cert mc;
    mcx_kms_certificate_get(k2, &c);
    CHECK(strcmp(c.kms_uri, "kms.police.example") == 0 && strcmp(c.user_id_format, "2") == 0);
    CHECK(c.user_key_period == 2592000 && c.user_key_offset == 0 && c.role == MCX_KMS_ROLE_ROOT);
    CHECK_MEM(c.kpak, sec->kpak, sizeof c.kpak);
    CHECK_MEM(c.z, sec->Z, sizeof c.z);
    mcx_kms_mikey_cert(k2, &mc);
    CHECK(strcmp(mc.uri, "kms.police.example") == 0 && mc.key_period == 2592000);
    CHECK_MEM(mc.Z, sec->Z, sizeof mc.Z);
    CHECK_MEM(mc.kpak, sec->kpak, sizeof mc.kpak);
    /* the certificate writes as a valid KmsInit response */
    mcx_kms_response r;
    memset(&r, 0, sizeof r);
    snprintf(r.user_uri, sizeof r.user_uri, "sip:alice@police.example");
    snprintf(r.kms_uri, sizeof r.kms_uri, "kms.police.example");
    snprintf(r.client_req_url, sizeof r.client_req_url,
             "https://kms.police.example/keymanagement/identity/v1/init");
    r.time = 1700000000;
    r.type = MCX_KMS_MSG_INIT;
    r.certs = &c;
    r.n_certs = 1;
    char *xml = NULL;
    size_t xml_len = 0;
    CHECK_OK(mcx_kms_response_write(&r, &xml, &xml_len));
    if (xml != NULL)
        CHECK_OK(mcx_kms_xml_validate((const uint8_t *)xml, xml_len));
    mcx_kms_xml_free(xml);
    mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
    CHECK_OK(mcx_kms_user_add(st, "sip:alice@police.example", 1700000000));
    CHECK_ST(mcx_kms_issue(k2, st, "sip:alice@police.example", 1, NULL, ks, NULL), MCX_E_NO_KEY);
    mcx_secure_free(ks);
    mcx_kms_close(k2);
    /* a store without a domain */
    fresh_url();
    mcx_store *empty = open_store();
    CHECK_ST(mcx_kms_open(&k2, empty, sec), MCX_E_NOT_FOUND);
    mcx_store_close(empty);
    mcx_kms_secrets_free(other);
    mcx_kms_secrets_free(sec);
    mcx_kms_close(kms);
    mcx_store_close(st);
}

/* FACTS §7 / §8: period numbers from NTP time, the SW keyprov example, offsets, the next-period
 * window. */
static void test_periods(void)
{
    mcx_kms_secrets *sec = NULL;
    mcx_kms *kms = NULL;
    mcx_store *st = setup(&sec, &kms, 2592000, 0, MCX_ID_RAW);
    /* ".../keyprov/alice@org.com/e632aa0000000000 is the start of period 1490" */
    CHECK(mcx_kms_period_of(kms, 0xe632aa00u) == 1490);
    CHECK(mcx_kms_period_of(kms, 0xe632aa00u - 1) == 1489);
    CHECK(mcx_kms_period_start(kms, 1490) == 0xe632aa00u);
    /* the next period is due in the last tenth (259200 s), or a given window */
    CHECK(!mcx_kms_next_period_due(kms, 0xe632aa00u + 2592000 - 259201, 0));
    CHECK(mcx_kms_next_period_due(kms, 0xe632aa00u + 2592000 - 259200, 0));
    CHECK(mcx_kms_next_period_due(kms, 0xe632aa00u + 2592000 - 1, 0));
    CHECK(!mcx_kms_next_period_due(kms, 0xe632aa00u + 2592000, 0));
    CHECK(!mcx_kms_next_period_due(kms, 0xe632aa00u + 2592000 - 3601, 3600));
    CHECK(mcx_kms_next_period_due(kms, 0xe632aa00u + 2592000 - 3600, 3600));
    CHECK(mcx_kms_user_add(st, "alice@org.com", 1700000000) == MCX_OK);
    mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
    CHECK_OK(mcx_kms_issue(kms, st, "alice@org.com", 1490, NULL, ks, NULL));
    CHECK(ks->key_period_no == 1490 && ks->has_valid_from && ks->has_valid_to);
    CHECK((int64_t)ks->valid_from == (int64_t)0xe632aa00u - NTP_UNIX);
    CHECK((int64_t)ks->valid_to == (int64_t)0xe632aa00u + 2592000 - NTP_UNIX);
    check_valid(sec, ks, "alice@org.com", 2592000, 0, MCX_ID_RAW);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);

    /* FACTS §7: T = EC898DA8 is period 236 with period 16777215 s and offset 0 */
    st = setup(&sec, &kms, 16777215, 0, MCX_ID_RAW);
    CHECK(mcx_kms_period_of(kms, 0xEC898DA8u) == 236);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);

    /* an offset moves the boundaries: P5 = (t - offset) DIV period */
    st = setup(&sec, &kms, 100, 30, MCX_ID_HEX_STRING);
    CHECK(mcx_kms_period_of(kms, 29) == 0 && mcx_kms_period_of(kms, 129) == 0);
    CHECK(mcx_kms_period_of(kms, 130) == 1 && mcx_kms_period_start(kms, 7) == 730);
    CHECK(!mcx_kms_next_period_due(kms, 219, 0) && mcx_kms_next_period_due(kms, 220, 0));
    /* hex-string identities: key sets for the 64-character UID text */
    CHECK_OK(mcx_kms_user_add(st, "sip:bob@police.example", 1));
    CHECK_OK(mcx_kms_issue(kms, st, "sip:bob@police.example", 40000000, NULL, ks, NULL));
    check_valid(sec, ks, "sip:bob@police.example", 100, 30, MCX_ID_HEX_STRING);
    CHECK_ST(mcx_kms_issue(kms, st, "sip:bob@police.example", UINT64_MAX / 50, NULL, ks, NULL),
             MCX_E_ARG);
    mcx_secure_free(ks);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);
}

/* RFC 5905 §6: the era of a 32-bit NTP seconds field is the one nearest to the local clock. */
static void test_ntp_era(void)
{
    const uint64_t era = (uint64_t)1 << 32;
    /* 2026 (era 0): a keyprov time of 2026 stays in era 0 */
    uint64_t now = 0xED000000u;
    CHECK(mcx_kms_ntp_nearest(0xED000E10u, now) == 0xED000E10u);
    CHECK(mcx_kms_ntp_nearest(0xECFFF1F0u, now) == 0xECFFF1F0u);
    /* 2036-02-07 06:28:16 UTC is NTP 2^32: one hour later, in era 1 */
    now = era + 3600;
    CHECK(mcx_kms_ntp_nearest(7200, now) == era + 7200);
    /* a time from just before the rollover, named after it, is still in era 0 */
    CHECK(mcx_kms_ntp_nearest(0xFFFFF000u, now) == 0xFFFFF000u);
    /* just before the rollover a time a little after it lands in era 1 */
    now = era - 60;
    CHECK(mcx_kms_ntp_nearest(60, now) == era + 60);
    CHECK(mcx_kms_ntp_nearest(0xFFFFFF00u, now) == 0xFFFFFF00u);
    /* the nearest era either way: half an era is the turning point */
    now = era + 0x80000000u;
    CHECK(mcx_kms_ntp_nearest(0, now) == era);
    CHECK(mcx_kms_ntp_nearest(0xFFFFFFFFu, now) == era + 0xFFFFFFFFu);
    /* no underflow in era 0, no overflow in the last era */
    CHECK(mcx_kms_ntp_nearest(0xFFFFFFFFu, 0) == 0xFFFFFFFFu);
    CHECK(mcx_kms_ntp_nearest(0, UINT64_MAX) == UINT64_MAX - 0xFFFFFFFFu);
}

/* TS 33.180 D.1 client keys: a TrK equal to the InK (one secret for key wrap and HMAC) is
 * refused and nothing is stored; distinct keys are kept. */
static void test_client_keys_distinct(void)
{
    mcx_kms_secrets *sec = NULL;
    mcx_kms *kms = NULL;
    mcx_store *st = setup(&sec, &kms, 3600, 0, MCX_ID_RAW);
    const char *u = "sip:carol@police.example";
    CHECK_OK(mcx_kms_user_add(st, u, 1));
    uint8_t a[MCX_KMS_TRK_BYTES], b[MCX_KMS_INK_BYTES];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    CHECK_ST(mcx_kms_client_keys_set(kms, st, u, a, b, 2), MCX_E_ARG);
    mcx_kms_client_keys *ck = mcx_secure_alloc(sizeof *ck);
    CHECK_OK(mcx_kms_client_keys_get(kms, st, u, ck));
    CHECK(!ck->has_trk && !ck->has_ink);
    b[31] ^= 1;
    CHECK_OK(mcx_kms_client_keys_set(kms, st, u, a, b, 2));
    CHECK_OK(mcx_kms_client_keys_get(kms, st, u, ck));
    CHECK(ck->has_trk && ck->has_ink && memcmp(ck->trk, a, sizeof a) == 0 &&
          memcmp(ck->ink, b, sizeof b) == 0);
    /* one of the two alone is fine */
    CHECK_OK(mcx_kms_client_keys_set(kms, st, u, a, NULL, 3));
    mcx_secure_free(ck);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);
}

static void test_issue(void)
{
    mcx_kms_secrets *sec = NULL;
    mcx_kms *kms = NULL;
    mcx_store *st = setup(&sec, &kms, 2592000, 0, MCX_ID_RAW);
    const char *alice = "sip:alice@police.example", *grp = "sip:group-7@police.example";
    CHECK_OK(mcx_kms_user_add(st, alice, 1700000000));
    CHECK_ST(mcx_kms_user_add(st, alice, 1700000000), MCX_E_EXISTS);
    CHECK_OK(mcx_kms_service_add(st, grp, "mcx-gms", "gms-svc", 1700000000));
    CHECK_ST(mcx_kms_service_add(st, alice, "mcx-gms", "gms-svc", 1700000000), MCX_E_EXISTS);
    CHECK_ST(mcx_kms_user_add(st, "", 1), MCX_E_ARG);
    mcx_kms_identity id;
    CHECK_OK(mcx_kms_identity_get(st, grp, &id));
    CHECK(id.is_service && !id.revoked && strcmp(id.client_id, "mcx-gms") == 0 &&
          strcmp(id.subject, "gms-svc") == 0);
    /* a service names the account that may fetch it as well as the client */
    CHECK_ST(mcx_kms_service_add(st, "sip:group-8@police.example", "mcx-gms", "", 1), MCX_E_ARG);
    CHECK_ST(mcx_kms_service_add(st, "sip:group-8@police.example", "mcx-gms", NULL, 1), MCX_E_ARG);
    CHECK_ST(mcx_kms_identity_get(st, "sip:group-8@police.example", &id), MCX_E_NOT_FOUND);

    mcx_kms_key_set *a = mcx_secure_alloc(sizeof *a), *b = mcx_secure_alloc(sizeof *b);
    mcx_kms_request_info info = {"req-1", "alice", "jti-1", "mcx-cli", "127.0.0.1", 1700000100};
    int fresh = -1;
    uint64_t p = mcx_kms_period_of(kms, mcx_ntp_now());
    CHECK_OK(mcx_kms_issue(kms, st, alice, p, &info, a, &fresh));
    CHECK(fresh == 1);
    check_valid(sec, a, alice, 2592000, 0, MCX_ID_RAW);
    /* idempotent: the same key set, not a new one */
    info.request_id = "req-2";
    CHECK_OK(mcx_kms_issue(kms, st, alice, p, &info, b, &fresh));
    CHECK(fresh == 0);
    CHECK(memcmp(a, b, sizeof *a) == 0);
    /* a reopened KMS (another process) returns it too */
    mcx_kms *k2 = NULL;
    CHECK_OK(mcx_kms_open(&k2, st, sec));
    CHECK_OK(mcx_kms_issue(k2, st, alice, p, NULL, b, &fresh));
    CHECK(fresh == 0 && memcmp(a, b, sizeof *a) == 0);
    mcx_kms_close(k2);
    /* the next period: another key set */
    CHECK_OK(mcx_kms_issue(kms, st, alice, p + 1, &info, b, &fresh));
    CHECK(fresh == 1 && memcmp(a->ssk, b->ssk, 32) != 0 && memcmp(a->rsk, b->rsk, 257) != 0);
    check_valid(sec, b, alice, 2592000, 0, MCX_ID_RAW);
    /* a service identity */
    CHECK_OK(mcx_kms_issue(kms, st, grp, p, &info, b, &fresh));
    check_valid(sec, b, grp, 2592000, 0, MCX_ID_RAW);
    /* unknown */
    CHECK_ST(mcx_kms_issue(kms, st, "sip:mallory@police.example", p, &info, b, NULL),
             MCX_E_NOT_FOUND);
    CHECK(strstr(mcx_last_error(), "mallory") != NULL);

    /* the issue log: every request, refusals too */
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log") == 6);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'issued'") == 3);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'returned'") == 2);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'refused: unknown "
                    "identity' AND identity = 'sip:mallory@police.example'") == 1);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE request_id = 'req-1' AND token_sub ="
                    " 'alice' AND token_jti = 'jti-1' AND client_id = 'mcx-cli' AND address ="
                    " '127.0.0.1' AND at = 1700000100 AND outcome = 'issued'") == 1);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_key_sets") == 3);

    /* revocation at time R: no key set for a period that ends after R, old ones stay */
    int64_t start_p = (int64_t)mcx_kms_period_start(kms, p) - NTP_UNIX;
    int64_t revoked_at = start_p + 1000;
    CHECK_OK(mcx_kms_identity_revoke(st, alice, revoked_at));
    CHECK_OK(mcx_kms_identity_revoke(st, alice, revoked_at + 5)); /* keeps the first time */
    CHECK_OK(mcx_kms_identity_get(st, alice, &id));
    CHECK(id.revoked && id.revoked_at == revoked_at && !id.is_service);
    CHECK_ST(mcx_kms_issue(kms, st, alice, p, &info, b, NULL), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "revoked") != NULL);
    CHECK_ST(mcx_kms_issue(kms, st, alice, p + 1, &info, b, NULL), MCX_E_DENIED);
    CHECK_OK(mcx_kms_issue(kms, st, alice, p - 1, &info, b, &fresh)); /* ended before R */
    CHECK(fresh == 1);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'refused: revoked'") == 2);
    CHECK_ST(mcx_kms_identity_revoke(st, "sip:nobody@x", 1), MCX_E_NOT_FOUND);
    CHECK_OK(mcx_kms_identity_revoke(st, grp, 1));
    CHECK_ST(mcx_kms_issue(kms, st, grp, p, &info, b, NULL), MCX_E_DENIED);

    /* a stored key set altered in the store fails authentication */
    CHECK_OK(mcx_store_exec(st, "UPDATE kms_users SET revoked_at = NULL"));
    mcx_stmt *q;
    CHECK_OK(mcx_store_prepare(st, "UPDATE kms_key_sets SET pvt = ? WHERE period_no = ?", &q));
    CHECK_OK(mcx_stmt_bind_blob(q, 1, a->pvt, 65)); /* a valid point, of another key set */
    CHECK_OK(mcx_stmt_bind_int(q, 2, (int64_t)(p - 1)));
    CHECK_OK(mcx_stmt_step(q, NULL));
    mcx_stmt_done(q);
    CHECK_ST(mcx_kms_issue(kms, st, alice, p - 1, &info, b, NULL), MCX_E_TAG_INVALID);

    /* certcache: only a certificate the codec reads, under its own KmsUri */
    CHECK_ST(mcx_kms_certcache_put(st, "kms.fire.example", "<KmsCertificate/>", 1), MCX_E_ARG);
    CHECK_ST(mcx_kms_certcache_put(st, "kms.fire.example", "not xml", 1), MCX_E_ARG);
    {
        mcx_kms_certificate c;
        mcx_kms_certificate_get(kms, &c);
        snprintf(c.kms_uri, sizeof c.kms_uri, "kms.fire.example");
        mcx_kms_response r;
        memset(&r, 0, sizeof r);
        snprintf(r.user_uri, sizeof r.user_uri, "kms.fire.example");
        snprintf(r.kms_uri, sizeof r.kms_uri, "kms.fire.example");
        snprintf(r.client_req_url, sizeof r.client_req_url, "https://kms.fire.example/");
        r.time = 1700000000;
        r.type = MCX_KMS_MSG_INIT;
        r.certs = &c;
        r.n_certs = 1;
        char *xml = NULL;
        size_t len = 0;
        CHECK_OK(mcx_kms_response_write(&r, &xml, &len));
        CHECK_ST(mcx_kms_certcache_put(st, "kms.other.example", xml, 1), MCX_E_ARG);
        CHECK(strstr(mcx_last_error(), "kms.fire.example") != NULL);
        CHECK_OK(mcx_kms_certcache_put(st, "kms.fire.example", xml, 1));
        CHECK_OK(mcx_kms_certcache_put(st, "kms.fire.example", xml, 2)); /* replaces */
        /* the bare KmsCertificate element is accepted too */
        const char *el = strstr(xml, "<KmsCertificate");
        const char *end = strstr(xml, "</KmsCertificate>");
        CHECK(el != NULL && end != NULL);
        if (el != NULL && end != NULL) {
            char bare[8192];
            int n = snprintf(bare, sizeof bare, "%.*s", (int)(end + 17 - el), el);
            CHECK(n > 0 && (size_t)n < sizeof bare);
            CHECK_OK(mcx_kms_certcache_put(st, "kms.fire.example", bare, 3));
        }
        mcx_kms_xml_free(xml);
    }
    CHECK(count(st, "SELECT COUNT(*) FROM kms_certcache") == 1);
    /* revocation: the first time is kept; unknown entries are named */
    CHECK(count(st, "SELECT COUNT(*) FROM kms_certcache WHERE revoked_at IS NULL") == 1);
    CHECK_OK(mcx_kms_certcache_revoke(st, "kms.fire.example", 10));
    CHECK_OK(mcx_kms_certcache_revoke(st, "kms.fire.example", 20));
    CHECK(count(st, "SELECT revoked_at FROM kms_certcache") == 10);
    CHECK_ST(mcx_kms_certcache_revoke(st, "kms.none.example", 10), MCX_E_NOT_FOUND);
    CHECK_ST(mcx_kms_certcache_revoke(st, "", 10), MCX_E_ARG);
    CHECK_OK(mcx_kms_certcache_remove(st, "kms.fire.example"));
    CHECK_ST(mcx_kms_certcache_remove(st, "kms.fire.example"), MCX_E_NOT_FOUND);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_certcache") == 0);

    /* a service without a subject (added before schema version 3) gets one with service_set */
    CHECK_OK(mcx_store_exec(st, "UPDATE kms_services SET subject = NULL"));
    CHECK_OK(mcx_kms_identity_get(st, grp, &id));
    CHECK(id.subject[0] == '\0');
    CHECK_OK(mcx_kms_service_set(st, grp, "mcx-gms2", "gms-svc2"));
    CHECK_OK(mcx_kms_identity_get(st, grp, &id));
    CHECK(strcmp(id.subject, "gms-svc2") == 0 && strcmp(id.client_id, "mcx-gms2") == 0);
    CHECK_ST(mcx_kms_service_set(st, alice, "mcx-gms", "gms-svc"), MCX_E_ARG);
    CHECK(strstr(mcx_last_error(), "is a user") != NULL);
    CHECK_ST(mcx_kms_service_set(st, "sip:nobody@x", "mcx-gms", "gms-svc"), MCX_E_NOT_FOUND);
    CHECK_ST(mcx_kms_service_set(st, grp, "", "gms-svc"), MCX_E_ARG);
    CHECK_ST(mcx_kms_service_set(st, grp, "mcx-gms", ""), MCX_E_ARG);
    CHECK_OK(mcx_kms_identity_get(st, grp, &id));
    CHECK(strcmp(id.subject, "gms-svc2") == 0); /* unchanged by the refusals */

    /* secrets never appear in the SQLite file (nor its WAL): KSAK, z, an SSK, an RSK */
    if (g_backend == BACKEND_SQLITE) {
        mcx_store_close(st);
        st = NULL;
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char path[450];
            snprintf(path, sizeof path, "%s%s", g_sqlite_path, suffix[i]);
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                continue;
            size_t cap = 16u << 20, n;
            uint8_t *buf = malloc(cap);
            n = buf != NULL ? fread(buf, 1, cap, f) : 0;
            fclose(f);
            CHECK(n > 0 || i > 0);
            CHECK(memmem(buf, n, sec->ksak, 16) == NULL);
            CHECK(memmem(buf, n, sec->z + 64, 16) == NULL);
            CHECK(memmem(buf, n, a->ssk, 16) == NULL);
            CHECK(memmem(buf, n, a->rsk + 1, 16) == NULL);
            CHECK(memmem(buf, n, a->rsk + 129, 16) == NULL);
            /* the public parts are there: the search does find what is stored */
            if (i == 0)
                CHECK(memmem(buf, n, a->user_id, 32) != NULL || n < 4096);
            free(buf);
        }
    } else {
        /* PostgreSQL: no column holds a secret in clear */
        mcx_stmt *s2;
        CHECK_OK(mcx_store_prepare(st, "SELECT uid, pvt, sealed FROM kms_key_sets", &s2));
        int row = 0, rows = 0;
        while (mcx_stmt_step(s2, &row) == MCX_OK && row) {
            for (int c = 0; c < 3; c++) {
                size_t n = 0;
                const uint8_t *v = mcx_stmt_blob(s2, c, &n);
                CHECK(memmem(v, n, a->ssk, 16) == NULL && memmem(v, n, a->rsk + 1, 16) == NULL);
            }
            rows++;
        }
        mcx_stmt_done(s2);
        CHECK(rows == 4);
    }
    mcx_secure_free(a);
    mcx_secure_free(b);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);
}

/* Two processes issue the same (identity, period) at once: both get the same key set, and the
 * store holds one. */
static void test_concurrent(void)
{
    mcx_kms_secrets *sec = NULL;
    mcx_kms *kms = NULL;
    mcx_store *st = setup(&sec, &kms, 2592000, 0, MCX_ID_RAW);
    enum { USERS = 3, PERIODS = 2 };
    for (int u = 0; u < USERS; u++) {
        char uri[64];
        snprintf(uri, sizeof uri, "sip:u%d@police.example", u);
        CHECK_OK(mcx_kms_user_add(st, uri, 1));
    }
    /* nothing of the parent's store is carried across fork (and nothing to leak there) */
    mcx_kms_close(kms);
    kms = NULL;
    mcx_store_close(st);
    char out[2][400];
    pid_t pid[2];
    for (int c = 0; c < 2; c++) {
        snprintf(out[c], sizeof out[c], "%s/conc%d-%d", g_dir, g_seq, c);
        pid[c] = fork();
        if (pid[c] == 0) {
            mcx_store *cs = NULL;
            mcx_kms *ck = NULL;
            FILE *f = fopen(out[c], "wb");
            if (f == NULL || mcx_store_open(&cs, g_url) != MCX_OK ||
                mcx_kms_open(&ck, cs, sec) != MCX_OK)
                _exit(2);
            mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
            int rc = 0;
            for (int per = 0; per < PERIODS; per++)
                for (int u = 0; u < USERS; u++) {
                    char uri[64];
                    snprintf(uri, sizeof uri, "sip:u%d@police.example", u);
                    if (mcx_kms_issue(ck, cs, uri, 100 + (uint64_t)per, NULL, ks, NULL) != MCX_OK) {
                        fprintf(stderr, "child %d: %s\n", c, mcx_last_error());
                        rc = 3;
                    }
                    fwrite(ks->pvt, 1, 65, f);
                    fwrite(ks->ssk, 1, 32, f);
                }
            fclose(f);
            mcx_secure_free(ks);
            mcx_kms_close(ck);
            mcx_store_close(cs);
            _exit(rc);
        }
    }
    for (int c = 0; c < 2; c++) {
        int ws = 0;
        CHECK(pid[c] > 0 && waitpid(pid[c], &ws, 0) == pid[c]);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    uint8_t r0[USERS * PERIODS * 97], r1[USERS * PERIODS * 97];
    FILE *f0 = fopen(out[0], "rb"), *f1 = fopen(out[1], "rb");
    CHECK(f0 != NULL && f1 != NULL);
    if (f0 != NULL && f1 != NULL) {
        CHECK(fread(r0, 1, sizeof r0, f0) == sizeof r0 && fread(r1, 1, sizeof r1, f1) == sizeof r1);
        CHECK(memcmp(r0, r1, sizeof r0) == 0);
    }
    if (f0 != NULL)
        fclose(f0);
    if (f1 != NULL)
        fclose(f1);
    st = open_store();
    CHECK(count(st, "SELECT COUNT(*) FROM kms_key_sets") == USERS * PERIODS);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'issued'") ==
          USERS * PERIODS);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log") == 2 * USERS * PERIODS);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);
}

static void test_rollover(void)
{
    mcx_kms_secrets *sec = NULL;
    mcx_kms *kms = NULL;
    mcx_store *st = setup(&sec, &kms, 86400, 0, MCX_ID_RAW);
    enum { USERS = 12 };
    for (int u = 0; u < USERS; u++) {
        char uri[64];
        snprintf(uri, sizeof uri, "sip:r%02d@police.example", u);
        CHECK_OK(mcx_kms_user_add(st, uri, 1));
    }
    CHECK_OK(mcx_kms_service_add(st, "sip:grp@police.example", "gms", "gms-svc", 1));
    CHECK_OK(mcx_kms_identity_revoke(st, "sip:r03@police.example", 1));
    mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
    CHECK_OK(mcx_kms_issue(kms, st, "sip:r05@police.example", 50000, NULL, ks, NULL));
    uint64_t issued = 99, existing = 99;
    CHECK_OK(mcx_kms_rollover(kms, st, 50000, 2, NULL, &issued, &existing));
    CHECK(issued == USERS - 2 + 1 && existing == 1);
    CHECK_OK(mcx_kms_rollover(kms, st, 50000, 3, NULL, &issued, &existing));
    CHECK(issued == 0 && existing == USERS);
    CHECK(count(st, "SELECT COUNT(*) FROM kms_issue_log WHERE request_id = 'rollover' AND outcome"
                    " = 'issued (rollover)' AND period_no = 50000") == USERS - 1);
    int fresh = -1;
    CHECK_OK(mcx_kms_issue(kms, st, "sip:r11@police.example", 50000, NULL, ks, &fresh));
    CHECK(fresh == 0);
    check_valid(sec, ks, "sip:r11@police.example", 86400, 0, MCX_ID_RAW);
    CHECK_OK(mcx_kms_issue(kms, st, "sip:grp@police.example", 50000, NULL, ks, &fresh));
    CHECK(fresh == 0);
    mcx_kms *pub = NULL;
    CHECK_OK(mcx_kms_open(&pub, st, NULL));
    CHECK_ST(mcx_kms_rollover(pub, st, 50001, 2, NULL, &issued, &existing), MCX_E_NO_KEY);
    mcx_kms_close(pub);
    mcx_secure_free(ks);
    mcx_kms_close(kms);
    mcx_kms_secrets_free(sec);
    mcx_store_close(st);
}

static void suite(void)
{
    RUN(test_domain);
    RUN(test_periods);
    RUN(test_ntp_era);
    RUN(test_client_keys_distinct);
    RUN(test_issue);
    RUN(test_concurrent);
    RUN(test_rollover);
}

int main(void)
{
    const char *url_file = getenv("MCX_TEST_PG_URL_FILE");
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/mcx-kms-issue-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    g_backend = BACKEND_SQLITE;
    suite();
    if (url_file != NULL && url_file[0] != '\0') {
        /* Asked for PostgreSQL: a missing fixture is a failure, not a skip. */
        FILE *f = fopen(url_file, "r");
        if (f == NULL || fgets(g_pg_base, sizeof g_pg_base, f) == NULL) {
            fprintf(stderr, "cannot read the PostgreSQL URL from %s\n", url_file);
            test_record("postgresql fixture", 0);
        } else if (g_pg_base[strcspn(g_pg_base, "\r\n")] = '\0',
                   mcx_store_open(&g_pg_admin, g_pg_base) != MCX_OK) {
            fprintf(stderr, "%s\n", mcx_last_error());
            test_record("postgresql fixture", 0);
        } else {
            g_backend = BACKEND_PG;
            suite();
            for (int i = 1; i <= g_pg_dbs; i++) {
                char sql[128];
                snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS mcx_kms_%ld_%d WITH (FORCE)",
                         (long)getpid(), i);
                if (mcx_store_exec(g_pg_admin, sql) != MCX_OK)
                    fprintf(stderr, "%s: %s\n", sql, mcx_last_error());
            }
            mcx_store_close(g_pg_admin);
        }
        if (f != NULL)
            fclose(f);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    return test_summary();
}
