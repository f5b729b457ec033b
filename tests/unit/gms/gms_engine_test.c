/* The GMS engine (include/mcxsec/gms.h) on a real SQLite file, with a KMS made here and the GMS's
 * own key set in a real keystore: a group's first context reaches every member as an I_MESSAGE
 * that the member opens with the MIKEY opener (signed by the GMS, for this group, one GMK and one
 * RAND for all); adding a member hands over the current GMK; removing one makes a new context the
 * removed member gets nothing of; rekey, revoke, delete and regroup leave other contexts alone;
 * keys are sealed at rest; bad input is refused with nothing stored. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/gms.h"
#include "mcxsec/keystore.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"
#include "test.h"

#define PERIOD   2592000u
#define KMS_URI  "kms.fire.example"
#define GMS_URI  "sip:gms@fire.example"
#define NTP_UNIX 2208988800ull

static uint8_t KSAK[MCX_ECCSI_SCALAR_BYTES], ZS[MCX_SAKKE_SCALAR_BYTES];
static mcx_kms_certificate CERT;
static char dir[256], db[300], ks_path[300], url[320];
static int64_t NOW;

static void make_kms(void)
{
    if (mcx_eccsi_kms_keygen(KSAK, CERT.kpak) != MCX_OK ||
        mcx_sakke_kms_keygen(ZS, CERT.z) != MCX_OK)
        abort();
    snprintf(CERT.version, sizeof CERT.version, "1.1.0");
    CERT.role = MCX_KMS_ROLE_ROOT;
    snprintf(CERT.cert_uri, sizeof CERT.cert_uri, "%s/cert", KMS_URI);
    snprintf(CERT.kms_uri, sizeof CERT.kms_uri, "%s", KMS_URI);
    snprintf(CERT.issuer, sizeof CERT.issuer, "%s", KMS_URI);
    snprintf(CERT.user_id_format, sizeof CERT.user_id_format, "2");
    CERT.user_key_period = PERIOD;
    CERT.has_parameter_set = 1;
    CERT.parameter_set = 1;
}

static uint64_t period_now(void)
{
    return ((uint64_t)NOW + NTP_UNIX) / PERIOD;
}

static void issue(const char *user, mcx_keystore_key_set *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->user_uri, sizeof s->user_uri, "%s", user);
    snprintf(s->kms_uri, sizeof s->kms_uri, "%s", KMS_URI);
    s->period_no = period_now();
    if (mcx_uid_format2(user, KMS_URI, PERIOD, 0, s->period_no, s->uid) != MCX_OK)
        abort();
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t n = mcx_identity_from_uid(s->uid, MCX_ID_RAW, id);
    if (mcx_eccsi_issue(KSAK, CERT.kpak, id, n, s->ssk, s->pvt) != MCX_OK ||
        mcx_sakke_issue_rsk(ZS, sizeof ZS, id, n, s->rsk) != MCX_OK)
        abort();
}

/* A member's view: opens I_MESSAGEs with its own RSK, trusting the KMS and the GMS. */
static mcx_mikey_opener *member_opener(const char *user)
{
    mcx_keystore_key_set *s = mcx_secure_alloc(sizeof *s);
    issue(user, s);
    mcx_kms_cert kc;
    mcx_keystore_cert_to_mikey(&CERT, MCX_ID_RAW, &kc);
    mcx_mikey_opener *o = NULL;
    CHECK_OK(mcx_mikey_opener_new(&o, NULL));
    CHECK_OK(mcx_mikey_opener_add_kms(o, &kc));
    CHECK_OK(mcx_mikey_opener_add_identity(o, user, NULL, KMS_URI, s->period_no, s->rsk));
    CHECK_OK(mcx_mikey_opener_add_peer(o, GMS_URI, NULL, KMS_URI));
    mcx_secure_free(s);
    return o;
}

typedef struct keys_seen {
    size_t n;
    char type[4][8];
    uint32_t key_id[4];
    uint64_t context[4];
    uint8_t msg[4][MCX_MIKEY_MAX_BYTES];
    size_t len[4];
} keys_seen;

static void on_key(void *arg, const mcx_gms_member_key *k)
{
    keys_seen *s = arg;
    if (s->n >= 4 || k->imessage_len > MCX_MIKEY_MAX_BYTES)
        return;
    snprintf(s->type[s->n], sizeof s->type[0], "%s", k->key_type);
    s->key_id[s->n] = k->key_id;
    s->context[s->n] = k->context;
    memcpy(s->msg[s->n], k->imessage, k->imessage_len);
    s->len[s->n] = k->imessage_len;
    s->n++;
}

/* Open member's GMK of group: returns 1 and fills gmk/rand on success. */
static int open_gmk(mcx_store *st, const char *group, const char *member, uint8_t gmk[16],
                    uint8_t rand[16], uint32_t *gmk_id)
{
    keys_seen s = {0};
    CHECK_OK(mcx_gms_member_keys(st, group, member, on_key, &s));
    for (size_t i = 0; i < s.n; i++) {
        if (strcmp(s.type[i], "gmk") != 0)
            continue;
        mcx_mikey_opener *o = member_opener(member);
        mcx_mikey_result r;
        mcx_status rc = mcx_mikey_open(o, s.msg[i], s.len[i], NULL, &r);
        CHECK_OK(rc);
        int ok = rc == MCX_OK;
        if (ok) {
            CHECK(strcmp(r.sender_uri, GMS_URI) == 0);
            CHECK(r.type == MCX_KEY_GMK && r.key_len == 16 && r.gmk_id == s.key_id[i]);
            CHECK(r.has_params && r.params.n_groups == 1 &&
                  r.params.groups[0].len == strlen(group) &&
                  memcmp(r.params.groups[0].id, group, strlen(group)) == 0);
            CHECK(r.params.status & 1u);
            CHECK(r.params.text_len == 42 && memcmp(r.params.text, "pseudonym=", 10) == 0);
            memcpy(gmk, r.key, 16);
            memcpy(rand, r.rand, 16);
            CHECK(r.rand_len == 16);
            *gmk_id = r.gmk_id;
        }
        mcx_mikey_result_wipe(&r);
        mcx_mikey_opener_free(o);
        return ok;
    }
    return 0;
}

static size_t count_rows(mcx_store *st, const char *sql)
{
    mcx_stmt *q;
    int row = 0;
    size_t n = 0;
    if (mcx_store_prepare(st, sql, &q) == MCX_OK && mcx_stmt_step(q, &row) == MCX_OK && row)
        n = (size_t)mcx_stmt_int(q, 0);
    mcx_stmt_done(q);
    return n;
}

typedef struct ev_log {
    size_t keys, removed, revoked;
} ev_log;

static void on_event(void *arg, const mcx_gms_event *ev)
{
    ev_log *l = arg;
    if (ev->kind == MCX_GMS_EVENT_KEY)
        l->keys++;
    else if (ev->kind == MCX_GMS_EVENT_REMOVED)
        l->removed++;
    else
        l->revoked++;
}

static mcx_keystore *GKS;
static mcx_gms *G;
static mcx_store *ST;
static ev_log EV;
static uint8_t SKEY[MCX_GMS_STORAGE_KEY_LEN];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mcx-gms-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(db, sizeof db, "%s/gms.db", dir);
    snprintf(ks_path, sizeof ks_path, "%s/ks/gms.ks", dir);
    snprintf(url, sizeof url, "%s", db);
    NOW = (int64_t)time(NULL);
    make_kms();
    CHECK_OK(mcx_keystore_open(&GKS, ks_path, NULL, 0, MCX_KEYSTORE_CREATE));
    CHECK_OK(mcx_keystore_pin(GKS, &CERT, MCX_ID_RAW, 0));
    mcx_keystore_key_set *s = mcx_secure_alloc(sizeof *s);
    issue(GMS_URI, s);
    CHECK_OK(mcx_keystore_add_key_set(GKS, s));
    mcx_secure_free(s);
    char kpath[320];
    snprintf(kpath, sizeof kpath, "%s/storage.key", dir);
    CHECK_OK(mcx_gms_storage_key_load(kpath, 1, SKEY));
    uint8_t again[MCX_GMS_STORAGE_KEY_LEN];
    CHECK_OK(mcx_gms_storage_key_load(kpath, 0, again));
    CHECK_MEM(again, SKEY, sizeof SKEY);
    chmod(kpath, 0644);
    CHECK_ST(mcx_gms_storage_key_load(kpath, 0, again), MCX_E_DENIED);
    mcx_gms_params p = {GMS_URI, GKS, SKEY, 2, 0};
    CHECK_OK(mcx_gms_new(&G, &p));
    mcx_gms_set_event_handler(G, on_event, &EV);
    CHECK_OK(mcx_store_open(&ST, url));
    CHECK_OK(mcx_gms_migrate(ST));
}

static void test_create_and_open(void)
{
    const char *m[] = {"sip:carol@fire.example", "sip:alice@fire.example", "sip:bob@fire.example"};
    mcx_gms_group_spec spec = {"sip:fire-1@fire.example", "Fire 1", 0, 1, 0, m, 3};
    mcx_gms_group_info info;
    CHECK_OK(mcx_gms_group_create(G, ST, &spec, "admin", NOW, &info));
    CHECK(info.n_members == 3 && info.context == 1 && info.has_mkfc && !info.revoked);
    CHECK((info.gmk_id >> 28) == 0 && (info.mkfc_id >> 28) == 4);
    CHECK(EV.keys == 6);
    CHECK_ST(mcx_gms_group_create(G, ST, &spec, "admin", NOW, NULL), MCX_E_EXISTS);

    uint8_t g1[16], r1[16], g2[16], r2[16];
    uint32_t id1 = 0, id2 = 0;
    CHECK(open_gmk(ST, spec.id, "sip:alice@fire.example", g1, r1, &id1));
    CHECK(open_gmk(ST, spec.id, "sip:bob@fire.example", g2, r2, &id2));
    CHECK_MEM(g1, g2, 16);
    CHECK_MEM(r1, r2, 16); /* one RAND for all: the same SRTP keys (TS 33.180 §7.4.2) */
    CHECK(id1 == info.gmk_id && id2 == id1);
    /* alice's message is not bob's: opening it with bob's key fails */
    keys_seen s = {0};
    CHECK_OK(mcx_gms_member_keys(ST, spec.id, "sip:alice@fire.example", on_key, &s));
    CHECK(s.n == 2);
    mcx_mikey_opener *o = member_opener("sip:bob@fire.example");
    mcx_mikey_result r;
    CHECK(mcx_mikey_open(o, s.msg[0], s.len[0], NULL, &r) != MCX_OK);
    mcx_mikey_result_wipe(&r);
    mcx_mikey_opener_free(o);
    CHECK(mcx_gms_is_member(ST, spec.id, "sip:alice@fire.example"));
    CHECK(!mcx_gms_is_member(ST, spec.id, "sip:dave@fire.example"));
    /* the keys are not in the store in clear */
    CHECK(count_rows(ST, "SELECT COUNT(*) FROM gms_keys") == 2);
}

static void test_bad_input(void)
{
    const char *dup[] = {"sip:a@x", "sip:a@x"};
    mcx_gms_group_spec spec = {"sip:g2@x", NULL, 0, 0, 0, dup, 2};
    size_t before = count_rows(ST, "SELECT COUNT(*) FROM gms_messages");
    CHECK_ST(mcx_gms_group_create(G, ST, &spec, "admin", NOW, NULL), MCX_E_ARG);
    const char *bad[] = {"alice"};
    spec.members = bad;
    spec.n_members = 1;
    CHECK_ST(mcx_gms_group_create(G, ST, &spec, "admin", NOW, NULL), MCX_E_ARG);
    const char *quote[] = {"sip:a\"@x"};
    spec.members = quote;
    CHECK_ST(mcx_gms_group_create(G, ST, &spec, "admin", NOW, NULL), MCX_E_ARG);
    spec.id = "no scheme";
    spec.n_members = 0;
    CHECK_ST(mcx_gms_group_create(G, ST, &spec, "admin", NOW, NULL), MCX_E_ARG);
    mcx_gms_group_info info;
    CHECK_ST(mcx_gms_group_get(ST, "sip:g2@x", &info), MCX_E_NOT_FOUND);
    CHECK(count_rows(ST, "SELECT COUNT(*) FROM gms_messages") == before);
    const char *rm[] = {"sip:nobody@fire.example"};
    CHECK_ST(mcx_gms_members_change(G, ST, "sip:fire-1@fire.example", NULL, 0, rm, 1, "admin", NOW,
                                    NULL),
             MCX_E_NOT_FOUND);
    CHECK_ST(mcx_gms_rekey(G, ST, "sip:none@fire.example", "admin", NULL, NOW, NULL),
             MCX_E_NOT_FOUND);
    CHECK(count_rows(ST, "SELECT COUNT(*) FROM gms_messages") == before);
}

static void test_members_change(void)
{
    const char *gid = "sip:fire-1@fire.example";
    uint8_t g_old[16], r_old[16], g[16], r[16];
    uint32_t id_old = 0, id = 0;
    CHECK(open_gmk(ST, gid, "sip:alice@fire.example", g_old, r_old, &id_old));
    /* dave joins: he gets the GMK in use, no rekey */
    const char *add[] = {"sip:dave@fire.example"};
    mcx_gms_group_info info;
    CHECK_OK(mcx_gms_members_change(G, ST, gid, add, 1, NULL, 0, "admin", NOW, &info));
    CHECK(info.context == 1 && info.n_members == 4);
    CHECK(open_gmk(ST, gid, "sip:dave@fire.example", g, r, &id));
    CHECK_MEM(g, g_old, 16);
    CHECK(id == id_old);
    CHECK_ST(mcx_gms_members_change(G, ST, gid, add, 1, NULL, 0, "admin", NOW, NULL), MCX_E_EXISTS);
    /* carol leaves: a new context, which carol gets nothing of */
    size_t removed_before = EV.removed;
    const char *rm[] = {"sip:carol@fire.example"};
    CHECK_OK(mcx_gms_members_change(G, ST, gid, NULL, 0, rm, 1, "admin", NOW + 1, &info));
    CHECK(info.context == 2 && info.n_members == 3 && info.gmk_id != id_old);
    CHECK(EV.removed == removed_before + 1);
    CHECK(open_gmk(ST, gid, "sip:alice@fire.example", g, r, &id));
    CHECK(memcmp(g, g_old, 16) != 0 && memcmp(r, r_old, 16) != 0 && id == info.gmk_id);
    keys_seen s = {0};
    CHECK_OK(mcx_gms_member_keys(ST, gid, "sip:carol@fire.example", on_key, &s));
    CHECK(s.n == 0);
    CHECK(!mcx_gms_is_member(ST, gid, "sip:carol@fire.example"));
    CHECK(count_rows(ST, "SELECT COUNT(*) FROM gms_log WHERE action = 'member-remove'") == 1);
}

static void test_regroup_rekey_revoke(void)
{
    const char *m2[] = {"sip:erin@fire.example", "sip:alice@fire.example"};
    mcx_gms_group_spec spec = {"sip:fire-2@fire.example", "Fire 2", 1, 0, 1, m2, 2};
    mcx_gms_group_info f1, f2, rg, tmp;
    CHECK_OK(mcx_gms_group_create(G, ST, &spec, "admin", NOW, &f2));
    CHECK(f2.broadcast && f2.has_gdk && !f2.has_mkfc);
    CHECK_OK(mcx_gms_group_get(ST, "sip:fire-1@fire.example", &f1));
    const char *of[] = {"sip:fire-1@fire.example", "sip:fire-2@fire.example"};
    CHECK_OK(mcx_gms_regroup(G, ST, "sip:regroup-1@fire.example", "Fire 1+2", of, 2, "dispatcher",
                             NOW, &rg));
    CHECK(rg.n_members == 4); /* alice, bob, dave, erin */
    CHECK(rg.has_mkfc && rg.has_gdk &&
          strcmp(rg.regroup_of, "sip:fire-1@fire.example "
                                "sip:fire-2@fire.example") == 0);
    /* the groups combined keep their contexts (MCSEC-2.2-4) */
    CHECK_OK(mcx_gms_group_get(ST, "sip:fire-1@fire.example", &tmp));
    CHECK(tmp.context == f1.context && tmp.gmk_id == f1.gmk_id);
    CHECK_OK(mcx_gms_group_get(ST, "sip:fire-2@fire.example", &tmp));
    CHECK(tmp.context == f2.context && tmp.gmk_id == f2.gmk_id);
    const char *one[] = {"sip:fire-1@fire.example"};
    CHECK_ST(mcx_gms_regroup(G, ST, "sip:r2@x", NULL, one, 1, "d", NOW, NULL), MCX_E_ARG);
    uint8_t g[16], r[16];
    uint32_t id = 0;
    CHECK(open_gmk(ST, rg.id, "sip:erin@fire.example", g, r, &id));
    CHECK(id == rg.gmk_id);

    /* rekey on demand leaves the other groups alone */
    CHECK_OK(mcx_gms_rekey(G, ST, "sip:fire-2@fire.example", "admin", NULL, NOW, &tmp));
    CHECK(tmp.context == f2.context + 1 && tmp.gmk_id != f2.gmk_id);
    CHECK_OK(mcx_gms_group_get(ST, "sip:fire-1@fire.example", &f2));
    CHECK(f2.gmk_id == f1.gmk_id);
    /* revoke */
    size_t rv = EV.revoked;
    CHECK_OK(mcx_gms_revoke(G, ST, "sip:fire-2@fire.example", "admin", NOW, &tmp));
    CHECK(tmp.revoked && EV.revoked == rv + 2);
    CHECK_OK(mcx_gms_rekey(G, ST, "sip:fire-2@fire.example", "admin", NULL, NOW, &tmp));
    CHECK(!tmp.revoked);
    /* periodic rekey: everything rekeyed more than an hour ago */
    size_t n = 0;
    CHECK_OK(mcx_gms_rekey_due(G, ST, 3600, NOW + 7200, &n));
    CHECK(n == 3);
    CHECK_OK(mcx_gms_rekey_due(G, ST, 3600, NOW + 7200, &n));
    CHECK(n == 0);
    /* delete */
    CHECK_OK(mcx_gms_group_delete(G, ST, "sip:regroup-1@fire.example", "admin", NOW));
    CHECK_ST(mcx_gms_group_get(ST, "sip:regroup-1@fire.example", &tmp), MCX_E_NOT_FOUND);
    keys_seen s = {0};
    CHECK_OK(
        mcx_gms_member_keys(ST, "sip:regroup-1@fire.example", "sip:erin@fire.example", on_key, &s));
    CHECK(s.n == 0);
}

static void test_wrong_storage_key(void)
{
    /* a GMS with another storage key cannot unseal the keys to hand them to a new member */
    uint8_t other[MCX_GMS_STORAGE_KEY_LEN];
    memcpy(other, SKEY, sizeof other);
    other[0] ^= 1;
    mcx_gms_params p = {GMS_URI, GKS, other, 1, 0};
    mcx_gms *g2 = NULL;
    CHECK_OK(mcx_gms_new(&g2, &p));
    const char *add[] = {"sip:frank@fire.example"};
    size_t before = count_rows(ST, "SELECT COUNT(*) FROM gms_members");
    CHECK_ST(mcx_gms_members_change(g2, ST, "sip:fire-1@fire.example", add, 1, NULL, 0, "admin",
                                    NOW, NULL),
             MCX_E_TAG_INVALID);
    CHECK(count_rows(ST, "SELECT COUNT(*) FROM gms_members") == before);
    mcx_gms_free(g2);
}

static void test_no_gms_keys(void)
{
    /* a GMS without a key set for the time: nothing is created */
    mcx_keystore *empty = NULL;
    char p2[340];
    snprintf(p2, sizeof p2, "%s/ks/empty.ks", dir);
    CHECK_OK(mcx_keystore_open(&empty, p2, NULL, 0, MCX_KEYSTORE_CREATE));
    mcx_gms_params p = {GMS_URI, empty, SKEY, 1, 0};
    mcx_gms *g2 = NULL;
    CHECK_OK(mcx_gms_new(&g2, &p));
    const char *m[] = {"sip:alice@fire.example"};
    mcx_gms_group_spec spec = {"sip:fire-9@fire.example", NULL, 0, 0, 0, m, 1};
    mcx_status rc = mcx_gms_group_create(g2, ST, &spec, "admin", NOW, NULL);
    CHECK(rc != MCX_OK);
    mcx_gms_group_info info;
    CHECK_ST(mcx_gms_group_get(ST, spec.id, &info), MCX_E_NOT_FOUND);
    mcx_gms_free(g2);
    mcx_keystore_free(empty);
}

int main(void)
{
    setup();
    test_run("create_and_open", test_create_and_open);
    test_run("bad_input", test_bad_input);
    test_run("members_change", test_members_change);
    test_run("regroup_rekey_revoke", test_regroup_rekey_revoke);
    test_run("wrong_storage_key", test_wrong_storage_key);
    test_run("no_gms_keys", test_no_gms_keys);
    mcx_store_close(ST);
    mcx_gms_free(G);
    mcx_keystore_free(GKS);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return test_summary();
}
