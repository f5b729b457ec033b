/* The client side of group keying (include/mcxsec/group.h): a security domain made here (KMS
 * master keys drawn at random, key sets for the GMS, alice, bob and mallory issued with the real
 * ECCSI and SAKKE code), I_MESSAGEs built with mcx_mikey_build as the GMS would, fed to
 * mcx_group_key_accept against a real keystore file: accepted, and every refusal with its own
 * verdict and status (tampered, replayed also as an (r, q - s) signature variant, rollback,
 * another group, another sender, revoked, expired, from the future, no key parameters, wrong
 * type, key ID conflict, not for this receiver). Then the group document parser on a good
 * document and on malformed ones. */
#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/group.h"
#include "mcxsec/keystore.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/mikey_transport.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"
#include "test.h"

#define PERIOD 2592000u        /* 30 days */
#define NOW    (3900000000ull) /* NTP seconds */
#define PNOW   (NOW / PERIOD)
#define GROUP  "sip:fire-1@example.org"
#define GMS_ID "sip:gms@example.org"
#define ALICE  "sip:alice@example.org"
#define BOB    "sip:bob@example.org"

static uint8_t KSAK[MCX_ECCSI_SCALAR_BYTES], ZS[MCX_SAKKE_SCALAR_BYTES];
static mcx_kms_certificate CERT;
static mcx_kms_cert KC;
static mcx_keystore_key_set *SETS; /* locked: [0] gms [1] alice [2] bob [3] mallory */
static char dir[256], path[300];

static void issue(const char *user, uint64_t period_no, mcx_keystore_key_set *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->user_uri, sizeof s->user_uri, "%s", user);
    snprintf(s->kms_uri, sizeof s->kms_uri, "%s", CERT.kms_uri);
    s->period_no = period_no;
    if (mcx_uid_format2(user, CERT.kms_uri, PERIOD, 0, period_no, s->uid) != MCX_OK)
        abort();
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t n = mcx_identity_from_uid(s->uid, MCX_ID_RAW, id);
    if (mcx_eccsi_issue(KSAK, CERT.kpak, id, n, s->ssk, s->pvt) != MCX_OK ||
        mcx_sakke_issue_rsk(ZS, sizeof ZS, id, n, s->rsk) != MCX_OK)
        abort();
}

static void domain(void)
{
    if (mcx_eccsi_kms_keygen(KSAK, CERT.kpak) != MCX_OK ||
        mcx_sakke_kms_keygen(ZS, CERT.z) != MCX_OK)
        abort();
    snprintf(CERT.version, sizeof CERT.version, "1.1.0");
    CERT.role = MCX_KMS_ROLE_ROOT;
    snprintf(CERT.kms_uri, sizeof CERT.kms_uri, "kms.example.org");
    snprintf(CERT.cert_uri, sizeof CERT.cert_uri, "kms.example.org/cert");
    snprintf(CERT.user_id_format, sizeof CERT.user_id_format, "2");
    CERT.user_key_period = PERIOD;
    mcx_keystore_cert_to_mikey(&CERT, MCX_ID_RAW, &KC);
    SETS = mcx_secure_alloc(4 * sizeof *SETS);
    issue(GMS_ID, PNOW, &SETS[0]);
    issue(ALICE, PNOW, &SETS[1]);
    issue(BOB, PNOW, &SETS[2]);
    issue("sip:mallory@example.org", PNOW, &SETS[3]);
}

/* alice's keystore: the KMS pinned and her key set for the current period. */
static mcx_keystore *alice_keystore(const char *pass)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, pass, pass ? strlen(pass) : 0, MCX_KEYSTORE_CREATE));
    if (ks == NULL)
        abort();
    CHECK_OK(mcx_keystore_set_kdf(ks, 1, 32, 1));
    CHECK_OK(mcx_keystore_pin(ks, &CERT, MCX_ID_RAW, 0));
    CHECK_OK(mcx_keystore_add_key_set(ks, &SETS[1]));
    return ks;
}

typedef struct imsg {
    uint8_t b[MCX_MIKEY_MAX_BYTES];
    size_t n;
    uint8_t key[32];
    uint32_t key_id;
} imsg;

typedef struct spec {
    int signer;        /* index into SETS (0: the GMS) */
    const char *to;    /* receiver (default alice) */
    mcx_key_type type; /* GMK by default */
    uint64_t t;        /* T (default NOW) */
    const char *group; /* the group the parameters name (default GROUP) */
    uint32_t status;   /* default MCX_KP_STATUS_ACTIVE; 0xFFFFFFFF: 0 */
    uint64_t expiry;   /* default 0 */
    int no_params;
    const char *text;   /* default "pseudonym=<hex>" */
    const uint8_t *key; /* reuse a key and key ID */
    uint32_t key_id;
} spec;

static const char PSEUDO_HEX[] = "00112233445566778899aabbccddeeff";

static void make(const spec *s, imsg *m)
{
    const mcx_keystore_key_set *from = &SETS[s->signer];
    mcx_mikey_builder *b = NULL;
    CHECK_OK(mcx_mikey_builder_new(&b, &KC, from->user_uri, NULL, from->period_no, from->ssk,
                                   from->pvt));
    if (b == NULL)
        abort();
    mcx_key_type type = s->type;
    if (s->key != NULL) {
        memcpy(m->key, s->key, 16);
        m->key_id = s->key_id;
    } else {
        CHECK_OK(mcx_random(m->key, 16));
        CHECK_OK(mcx_key_id_new(type, &m->key_id));
    }
    mcx_key_params kp;
    memset(&kp, 0, sizeof kp);
    kp.key_type = (uint8_t)type;
    kp.status = s->status == 0 ? MCX_KP_STATUS_ACTIVE : s->status == 0xFFFFFFFFu ? 0 : s->status;
    kp.activation = NOW - 10;
    kp.expiry = s->expiry;
    char text[128];
    snprintf(text, sizeof text, "%s", s->text != NULL ? s->text : "ctx=1;pseudonym=");
    if (s->text == NULL)
        strcat(text, PSEUDO_HEX);
    kp.text_len = (uint16_t)strlen(text);
    memcpy(kp.text, text, kp.text_len);
    kp.has_groups = mcx_kp_type_has_groups(type);
    if (kp.has_groups) {
        const char *g = s->group != NULL ? s->group : GROUP;
        kp.n_groups = 1;
        kp.groups[0].iei = MCX_KP_IEI_GROUP_ID;
        kp.groups[0].len = (uint16_t)strlen(g);
        memcpy(kp.groups[0].id, g, strlen(g));
    }
    mcx_mikey_build_args a = {
        .type = type,
        .key = m->key,
        .key_len = 16,
        .key_id = m->key_id,
        .receiver_uri = s->to != NULL ? s->to : ALICE,
        .params = s->no_params ? NULL : &kp,
        .t_ntp = s->t != 0 ? s->t : NOW,
        .cs_id = -1,
    };
    CHECK_OK(mcx_mikey_build(b, &a, m->b, sizeof m->b, &m->n));
    mcx_mikey_builder_free(b);
}

static mcx_status accept_kind(mcx_keystore *ks, const imsg *m, int kind, mcx_group_accept_result *r)
{
    return mcx_group_key_accept(ks, ALICE, GMS_ID, GROUP, kind, m->b, m->n, NOW, r);
}

static mcx_status accept(mcx_keystore *ks, const imsg *m, mcx_group_accept_result *r)
{
    return accept_kind(ks, m, MCX_GROUP_KEY_AUTO, r);
}

static void expect(mcx_keystore *ks, const imsg *m, mcx_status st, mcx_group_verdict v)
{
    mcx_group_accept_result r;
    size_t before = mcx_keystore_group_key_count(ks);
    mcx_status got = accept(ks, m, &r);
    if (got != st || r.verdict != v)
        fprintf(stderr, "  got %s / %s (%s), want %s / %s\n", mcx_status_name(got),
                mcx_group_verdict_name(r.verdict), r.reason, mcx_status_name(st),
                mcx_group_verdict_name(v));
    CHECK(got == st && r.status == st && r.verdict == v);
    CHECK(r.reason[0] != '\0');
    if (st != MCX_OK)
        CHECK(mcx_keystore_group_key_count(ks) == before); /* nothing kept */
}

static void test_accept(void)
{
    mcx_keystore *ks = alice_keystore(NULL);
    imsg m;
    spec s = {0};
    make(&s, &m);
    mcx_group_accept_result r;
    CHECK_OK(accept(ks, &m, &r));
    CHECK(r.verdict == MCX_GROUP_ACCEPTED && r.kind == MCX_GROUP_KEY_GMK);
    CHECK(r.key_id == m.key_id && r.t_ntp == NOW && r.has_params);
    CHECK(r.key_status == MCX_KP_STATUS_ACTIVE && r.activation == NOW - 10);
    uint8_t want[16];
    test_unhex(PSEUDO_HEX, want, sizeof want);
    CHECK(r.has_pseudonym);
    CHECK_MEM(r.pseudonym, want, 16);
    uint8_t imp[MCX_GROUP_PSEUDONYM_BYTES];
    CHECK_OK(mcx_group_pseudonym(m.key, 16, GROUP, imp));
    CHECK_MEM(r.implicit_pseudonym, imp, sizeof imp);

    const mcx_keystore_group_key *k = NULL;
    CHECK_OK(mcx_keystore_group_key_find(ks, GROUP, MCX_GROUP_KEY_GMK, m.key_id, &k));
    if (k != NULL) {
        CHECK(k->key_len == 16);
        CHECK_MEM(k->key, m.key, 16);
        uint32_t guk;
        CHECK_OK(mcx_guk_id(m.key, 16, m.key_id, ALICE, &guk));
        CHECK(k->guk_id == guk && r.guk_id == guk);
        CHECK(k->rand_len == 16 && k->t_ntp == NOW);
        CHECK(strcmp(k->gms_uri, GMS_ID) == 0 && strcmp(k->owner_uri, ALICE) == 0);
        CHECK(k->has_pseudonym && !k->revoked && k->has_cs_id && k->cs_id == 4);
        CHECK(k->params.n_groups == 1 && k->params.groups[0].len == strlen(GROUP));
        /* the SRTP master key of TS 33.180 §7.4.2 comes from (GMK, GUK-ID, RAND) */
        uint8_t mk[16], salt[12];
        CHECK_OK(mcx_srtp_master(k->key, k->key_len, k->cs_id, k->guk_id, k->rand, k->rand_len, mk,
                                 sizeof mk, salt, sizeof salt));
    }
    const mcx_keystore_group_key *latest = NULL;
    CHECK_OK(mcx_keystore_group_key_latest(ks, GROUP, MCX_GROUP_KEY_GMK, &latest));
    CHECK(latest == k);

    /* the same message again: replayed, before any decryption */
    expect(ks, &m, MCX_E_REPLAY, MCX_GROUP_REPLAYED);
    /* and as the (r, q - s) variant of its signature, which ECCSI also verifies */
    mcx_mikey_msg dm;
    CHECK_OK(mcx_mikey_decode(m.b, m.n, &dm));
    imsg v = m;
    uint8_t *sp = v.b + dm.signed_len + 32;
    BIGNUM *q = NULL, *sv = BN_bin2bn(sp, 32, NULL);
    CHECK(BN_hex2bn(&q, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") > 0);
    CHECK(BN_sub(sv, q, sv) == 1 && BN_bn2binpad(sv, sp, 32) == 32);
    BN_free(q);
    BN_free(sv);
    CHECK(memcmp(v.b, m.b, m.n) != 0);
    expect(ks, &v, MCX_E_REPLAY, MCX_GROUP_REPLAYED);

    /* a newer context is accepted and becomes the latest */
    imsg m2;
    spec s2 = {.t = NOW + 100};
    make(&s2, &m2);
    expect(ks, &m2, MCX_OK, MCX_GROUP_ACCEPTED);
    CHECK_OK(mcx_keystore_group_key_latest(ks, GROUP, MCX_GROUP_KEY_GMK, &latest));
    CHECK(latest != NULL && latest->key_id == m2.key_id);
    /* an older T than the newest held: rollback */
    imsg m3;
    spec s3 = {.t = NOW + 50};
    make(&s3, &m3);
    expect(ks, &m3, MCX_E_REPLAY, MCX_GROUP_ROLLBACK);
    /* the same key re-sent in a new message: already held, nothing changes */
    imsg m4;
    spec s4 = {.t = NOW + 101, .key = m2.key, .key_id = m2.key_id};
    make(&s4, &m4);
    expect(ks, &m4, MCX_OK, MCX_GROUP_ALREADY_HELD);
    CHECK(mcx_keystore_group_key_count(ks) == 2);
    /* another key under a key ID held: a conflict */
    imsg m5;
    uint8_t other[16];
    CHECK_OK(mcx_random(other, sizeof other));
    spec s5 = {.t = NOW + 102, .key = other, .key_id = m2.key_id};
    make(&s5, &m5);
    expect(ks, &m5, MCX_E_EXISTS, MCX_GROUP_KEY_CONFLICT);

    /* an MKFC has its own line of T: older than the GMKs but accepted */
    imsg f;
    spec sf = {.type = MCX_KEY_MKFC};
    make(&sf, &f);
    CHECK_ST(accept_kind(ks, &f, MCX_GROUP_KEY_GMK, &r), MCX_E_UNSUPPORTED);
    CHECK(r.verdict == MCX_GROUP_WRONG_TYPE);
    CHECK_OK(accept(ks, &f, &r));
    CHECK(r.kind == MCX_GROUP_KEY_MKFC && r.verdict == MCX_GROUP_ACCEPTED);
    /* a GDK travels with the GMK tag; named by the document it is kept as a GDK */
    imsg g;
    make(&(spec){0}, &g);
    CHECK_ST(accept_kind(ks, &g, MCX_GROUP_KEY_MKFC, &r), MCX_E_UNSUPPORTED);
    CHECK_OK(accept_kind(ks, &g, MCX_GROUP_KEY_GDK, &r));
    CHECK(r.kind == MCX_GROUP_KEY_GDK);
    CHECK_OK(mcx_keystore_group_key_find(ks, GROUP, MCX_GROUP_KEY_GDK, g.key_id, &k));

    /* revoked by the event stream: no longer the latest */
    size_t n = 0;
    CHECK_OK(mcx_keystore_group_mark_revoked(ks, GROUP, MCX_GROUP_KEY_GMK, m2.key_id, &n));
    CHECK(n == 1);
    CHECK_OK(mcx_keystore_group_key_latest(ks, GROUP, MCX_GROUP_KEY_GMK, &latest));
    CHECK(latest != NULL && latest->key_id == m.key_id);
    CHECK_ST(mcx_keystore_group_mark_revoked(ks, GROUP, -1, 0x0BADBAD0, &n), MCX_E_NOT_FOUND);
    /* the revoked newer context still bars an older one */
    expect(ks, &m3, MCX_E_REPLAY, MCX_GROUP_ROLLBACK);
    mcx_keystore_free(ks);
}

static void test_refusals(void)
{
    mcx_keystore *ks = alice_keystore(NULL);
    imsg m;
    mcx_group_accept_result r;

    /* a bit flipped in the SAKKE payload: the signature fails, nothing is decrypted */
    make(&(spec){0}, &m);
    mcx_mikey_msg dm;
    CHECK_OK(mcx_mikey_decode(m.b, m.n, &dm));
    m.b[(size_t)(dm.sed.p - m.b) + 40] ^= 0x10;
    CHECK_ST(accept(ks, &m, &r), MCX_E_SIG_INVALID);
    CHECK(r.verdict == MCX_GROUP_OPEN_FAILED && r.stage == MCX_MIKEY_STAGE_SIGNATURE);
    CHECK(strstr(r.reason, "bad signature") != NULL);

    /* signed by another user of the same KMS, not by the GMS: unknown sender */
    make(&(spec){.signer = 3}, &m);
    CHECK_ST(accept(ks, &m, &r), MCX_E_UNKNOWN_PEER);
    CHECK(r.verdict == MCX_GROUP_OPEN_FAILED && r.stage == MCX_MIKEY_STAGE_SENDER);
    /* ... and by bob, a member: the same */
    make(&(spec){.signer = 2}, &m);
    CHECK_ST(accept(ks, &m, &r), MCX_E_UNKNOWN_PEER);

    /* a GMK for another group */
    make(&(spec){.group = "sip:fire-2@example.org"}, &m);
    expect(ks, &m, MCX_E_DENIED, MCX_GROUP_NOT_IN_GROUP);
    CHECK_ST(accept(ks, &m, &r), MCX_E_DENIED);
    CHECK(strstr(r.reason, "a GMK for a group it is not in") != NULL);
    /* revoked status */
    make(&(spec){.status = 0xFFFFFFFFu}, &m);
    expect(ks, &m, MCX_E_KEY_INVALID, MCX_GROUP_REVOKED);
    make(&(spec){.status = MCX_KP_STATUS_GATEWAY}, &m);
    expect(ks, &m, MCX_E_KEY_INVALID, MCX_GROUP_REVOKED);
    /* expired */
    make(&(spec){.expiry = NOW - 1}, &m);
    expect(ks, &m, MCX_E_TIME, MCX_GROUP_EXPIRED);
    /* T far ahead */
    make(&(spec){.t = NOW + 3600}, &m);
    expect(ks, &m, MCX_E_TIME, MCX_GROUP_FROM_FUTURE);
    /* no key parameters */
    make(&(spec){.no_params = 1}, &m);
    expect(ks, &m, MCX_E_ENCODING, MCX_GROUP_NO_PARAMS);
    /* a private call key is not a group key */
    make(&(spec){.type = MCX_KEY_PCK}, &m);
    expect(ks, &m, MCX_E_UNSUPPORTED, MCX_GROUP_WRONG_TYPE);
    /* encrypted to bob: alice cannot open it */
    make(&(spec){.to = BOB}, &m);
    CHECK_ST(accept(ks, &m, &r), MCX_E_UNKNOWN_PEER);
    CHECK(r.verdict == MCX_GROUP_OPEN_FAILED && r.stage == MCX_MIKEY_STAGE_RECEIVER);
    /* truncated */
    make(&(spec){0}, &m);
    CHECK(accept(ks, &(imsg){.n = 0}, &r) != MCX_OK);
    m.n -= 1;
    CHECK(accept(ks, &m, &r) != MCX_OK);
    CHECK(r.verdict == MCX_GROUP_OPEN_FAILED && r.stage == MCX_MIKEY_STAGE_PARSE);
    /* a text without the pseudonym form: no explicit pseudonym, still accepted */
    make(&(spec){.text = "pseudonym=0011"}, &m);
    CHECK_OK(accept(ks, &m, &r));
    CHECK(!r.has_pseudonym);
    CHECK(mcx_keystore_group_key_count(ks) == 1);
    /* a keystore without alice's key set for the period: no key */
    mcx_keystore *empty = NULL;
    unlink(path);
    CHECK_OK(mcx_keystore_open(&empty, path, NULL, 0, MCX_KEYSTORE_CREATE));
    CHECK_OK(mcx_keystore_pin(empty, &CERT, MCX_ID_RAW, 0));
    make(&(spec){0}, &m);
    CHECK_ST(accept(empty, &m, &r), MCX_E_NO_KEY);
    mcx_keystore_free(empty);
    /* arguments */
    CHECK_ST(mcx_group_key_accept(ks, ALICE, GMS_ID, "", MCX_GROUP_KEY_AUTO, m.b, m.n, NOW, &r),
             MCX_E_ARG);
    CHECK_ST(mcx_group_key_accept(ks, ALICE, GMS_ID, GROUP, 3, m.b, m.n, NOW, &r), MCX_E_ARG);
    mcx_keystore_free(ks);
}

/* Accepted keys survive a sealed save and reopen; a wrong passphrase opens nothing. */
static void test_persist(void)
{
    mcx_keystore *ks = alice_keystore("correct horse");
    imsg m;
    make(&(spec){0}, &m);
    mcx_group_accept_result r;
    CHECK_OK(accept(ks, &m, &r));
    const char *members[] = {ALICE, BOB};
    CHECK_OK(mcx_keystore_group_set_info(ks, GROUP, GMS_ID, "Fire 1", "normal", members, 2, 7));
    CHECK_OK(mcx_keystore_save(ks));
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_ST(mcx_keystore_open(&ks, path, "wrong", 5, 0), MCX_E_TAG_INVALID);
    CHECK_OK(mcx_keystore_open(&ks, path, "correct horse", 13, 0));
    if (ks == NULL)
        return;
    const mcx_keystore_group_key *k = NULL;
    CHECK_OK(mcx_keystore_group_key_find(ks, GROUP, MCX_GROUP_KEY_GMK, m.key_id, &k));
    if (k != NULL)
        CHECK_MEM(k->key, m.key, 16);
    const mcx_keystore_group_info *gi = NULL;
    CHECK_OK(mcx_keystore_group_info_find(ks, GROUP, &gi));
    CHECK(gi != NULL && gi->n_members == 2 && strcmp(gi->members[1], BOB) == 0);
    /* the replay is still recognised after the reopen */
    expect(ks, &m, MCX_E_REPLAY, MCX_GROUP_REPLAYED);
    mcx_keystore_free(ks);
}

/* ---- the group document ---- */

static char *doc_with(const char *keys_xml, const char *extra_list, const char *root_attrs)
{
    static char buf[65536];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<list-service xmlns=\"urn:oma:xml:poc:list-service\" "
             "xmlns:mcx=\"urn:mcxsec:gms:1.0\" %s>\n"
             "  <display-name>Fire 1</display-name>\n"
             "  <list>\n"
             "    <entry uri=\"sip:alice@example.org\"/>\n"
             "    <entry uri=\"sip:bob@example.org\"/>%s\n"
             "  </list>\n"
             "  <mcx:group-security kind=\"normal\" gms=\"sip:gms@example.org\" context=\"3\" "
             "status=\"active\">%s</mcx:group-security>\n"
             "</list-service>\n",
             root_attrs != NULL ? root_attrs : "uri=\"sip:fire-1@example.org\"",
             extra_list != NULL ? extra_list : "", keys_xml != NULL ? keys_xml : "");
    return buf;
}

static mcx_status parse(const char *xml, mcx_group_doc **d)
{
    return mcx_group_doc_parse((const uint8_t *)xml, strlen(xml), d);
}

static void bad(const char *xml, mcx_status want, const char *why_part)
{
    mcx_group_doc *d = NULL;
    mcx_status st = parse(xml, &d);
    if (st != want || (why_part != NULL && strstr(mcx_last_error(), why_part) == NULL))
        fprintf(stderr, "  got %s (%s), want %s with '%s'\n", mcx_status_name(st), mcx_last_error(),
                mcx_status_name(want), why_part ? why_part : "");
    CHECK(st == want);
    CHECK(why_part == NULL || strstr(mcx_last_error(), why_part) != NULL);
    CHECK(d == NULL);
}

static void test_doc(void)
{
    imsg m;
    make(&(spec){0}, &m);
    char b64[MCX_BASE64_ENCODED_LEN(MCX_MIKEY_MAX_BYTES) + 1];
    size_t bl;
    CHECK_OK(mcx_base64_encode(m.b, m.n, b64, sizeof b64, &bl));
    char keys[12000];
    snprintf(keys, sizeof keys,
             "\n    <mcx:key type=\"gmk\" key-id=\"%08X\" activation=\"100\" expiry=\"200\">\n"
             "%.*s\n%s</mcx:key>\n"
             "    <mcx:key type=\"gdk\" key-id=\"0a1b2c3d\">%s</mcx:key>\n  ",
             (unsigned)m.key_id, 40, b64, b64 + 40, b64);
    mcx_group_doc *d = NULL;
    CHECK_OK(parse(doc_with(keys, NULL, NULL), &d));
    if (d != NULL) {
        CHECK(strcmp(d->uri, GROUP) == 0 && strcmp(d->display_name, "Fire 1") == 0);
        CHECK(strcmp(d->gms, GMS_ID) == 0 && d->context == 3 && !d->revoked);
        CHECK(strcmp(d->kind, "normal") == 0);
        CHECK(d->n_members == 2 && strcmp(d->members[0], ALICE) == 0);
        CHECK(d->n_keys == 2);
        CHECK(d->keys[0].kind == MCX_GROUP_KEY_GMK && d->keys[0].key_id == m.key_id);
        CHECK(d->keys[0].has_activation && d->keys[0].activation == 100);
        CHECK(d->keys[0].has_expiry && d->keys[0].expiry == 200);
        CHECK(d->keys[0].imessage_len == m.n);
        CHECK(d->keys[0].imessage != NULL && memcmp(d->keys[0].imessage, m.b, m.n) == 0);
        CHECK(d->keys[1].kind == MCX_GROUP_KEY_GDK && d->keys[1].key_id == 0x0A1B2C3D);
        CHECK(!d->keys[1].has_activation);
    }
    mcx_group_doc_free(d);
    /* no keys (an admin who is not a member), a foreign element ignored */
    d = NULL;
    CHECK_OK(parse(doc_with("<x:other xmlns:x=\"urn:example\"/>", NULL, NULL), &d));
    CHECK(d != NULL && d->n_keys == 0);
    mcx_group_doc_free(d);

    bad("", MCX_E_ENCODING, NULL);
    bad("<list-service", MCX_E_ENCODING, "well-formed");
    bad("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><list-service/>", MCX_E_ENCODING,
        "DOCTYPE");
    bad("<list-service uri=\"sip:x\"/>", MCX_E_ENCODING, "namespace");
    bad("<x:list-service xmlns:x=\"urn:mcxsec:gms:1.0\" uri=\"sip:x\"/>", MCX_E_ENCODING,
        "namespace");
    bad("<list-servicex xmlns=\"urn:oma:xml:poc:list-service\"/>", MCX_E_ENCODING, "list-service");
    bad(doc_with(NULL, NULL, "id=\"x\""), MCX_E_ENCODING, "uri");
    bad(doc_with(NULL, "<entry/>", NULL), MCX_E_ENCODING, "entry");
    bad(doc_with(NULL, "<entry uri=\"sip:alice@example.org\"/>", NULL), MCX_E_ENCODING, "twice");
    bad(doc_with("<mcx:key type=\"pck\" key-id=\"10000000\">AAAA</mcx:key>", NULL, NULL),
        MCX_E_ENCODING, "type");
    bad(doc_with("<mcx:key type=\"gmk\" key-id=\"0A1B2C3\">AAAA</mcx:key>", NULL, NULL),
        MCX_E_ENCODING, "key-id");
    bad(doc_with("<mcx:key type=\"gmk\" key-id=\"0A1B2C3G\">AAAA</mcx:key>", NULL, NULL),
        MCX_E_ENCODING, "key-id");
    bad(doc_with("<mcx:key type=\"gmk\" key-id=\"0A1B2C3D\">A!AA</mcx:key>", NULL, NULL),
        MCX_E_ENCODING, "base64");
    bad(doc_with("<mcx:key type=\"gmk\" key-id=\"0A1B2C3D\"></mcx:key>", NULL, NULL),
        MCX_E_ENCODING, "empty");
    bad(doc_with("<mcx:key type=\"gmk\" key-id=\"0A1B2C3D\" expiry=\"-1\">AAAA</mcx:key>", NULL,
                 NULL),
        MCX_E_ENCODING, "expiry");
    bad(doc_with("<mcx:key type=\"gmk\" key-id=\"0A1B2C3D\">AAAA<b/></mcx:key>", NULL, NULL),
        MCX_E_ENCODING, "key");
    bad(doc_with("<mcx:surprise/>", NULL, NULL), MCX_E_ENCODING, "surprise");
    /* more keys than kept */
    char many[4096] = "";
    for (int i = 0; i <= MCX_GROUP_DOC_MAX_KEYS; i++)
        strcat(many, "<mcx:key type=\"gmk\" key-id=\"0A1B2C3D\">AAAA</mcx:key>");
    bad(doc_with(many, NULL, NULL), MCX_E_LENGTH, "keys");
    /* status and kind values */
    char *x = doc_with(NULL, NULL, NULL);
    char *p = strstr(x, "status=\"active\"");
    memcpy(p, "status=\"zzzzzz\"", 15);
    bad(x, MCX_E_ENCODING, "status");
    x = doc_with(NULL, NULL, NULL);
    p = strstr(x, "<mcx:group-security");
    memcpy(p, "<mcx:group-securitx", 19);
    p = strstr(x, "</mcx:group-security");
    memcpy(p, "</mcx:group-securitx", 20);
    bad(x, MCX_E_ENCODING, "group-securitx");
    /* a second list */
    x = doc_with(NULL, NULL, NULL);
    char two[70000];
    p = strstr(x, "</list-service>");
    snprintf(two, sizeof two, "%.*s<list/></list-service>", (int)(p - x), x);
    bad(two, MCX_E_ENCODING, "list");
    /* too large */
    size_t big = MCX_GROUP_DOC_MAX_BYTES + 1;
    uint8_t *huge = calloc(1, big);
    mcx_group_doc *dd = NULL;
    CHECK_ST(mcx_group_doc_parse(huge, big, &dd), MCX_E_LENGTH);
    free(huge);
}

int main(void)
{
    const char *td = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mcx-group-XXXXXX", td != NULL && td[0] ? td : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    chmod(dir, 0700);
    snprintf(path, sizeof path, "%s/keystore.bin", dir);
    domain();
    RUN(test_accept);
    RUN(test_refusals);
    RUN(test_persist);
    RUN(test_doc);
    mcx_secure_free(SETS);
    unlink(path);
    rmdir(dir);
    return test_summary();
}
