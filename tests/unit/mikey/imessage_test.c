/* MIKEY-SAKKE I_MESSAGE builder and opener: a security domain made here (KMS master keys, key
 * sets for a GMS and two users), round trips for every MCX key type in both identity modes, and
 * every rejection the opener must make, each with its own stage and status. */
#include <stdlib.h>
#include <string.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"
#include "test.h"

#define PERIOD     2592000u    /* 30 days */
#define NOW        3900000000u /* NTP seconds, fixed */
#define PERIOD_NOW (NOW / PERIOD)

typedef struct domain {
    mcx_kms_cert cert;
    uint8_t ksak[MCX_ECCSI_SCALAR_BYTES];
    uint8_t z[MCX_SAKKE_SCALAR_BYTES];
} domain;

typedef struct user {
    const char *uri;
    uint64_t period_no;
    uint8_t uid[MCX_UID_BYTES];
    uint8_t ssk[MCX_ECCSI_SCALAR_BYTES];
    uint8_t pvt[MCX_ECCSI_POINT_BYTES];
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];
} user;

static uint64_t clock_now = NOW;

static uint64_t test_clock(void *arg)
{
    (void)arg;
    return clock_now;
}

static void make_domain(domain *d, const char *uri, mcx_id_mode mode)
{
    memset(d, 0, sizeof *d);
    snprintf(d->cert.uri, sizeof d->cert.uri, "%s", uri);
    d->cert.key_period = PERIOD;
    d->cert.key_offset = 0;
    d->cert.id_mode = mode;
    CHECK_OK(mcx_eccsi_kms_keygen(d->ksak, d->cert.kpak));
    CHECK_OK(mcx_sakke_kms_keygen(d->z, d->cert.Z));
}

static void make_user(const domain *d, user *u, const char *uri, uint64_t period_no)
{
    uint8_t id[MCX_ID_MAX_BYTES];
    u->uri = uri;
    u->period_no = period_no;
    CHECK_OK(mcx_uid_format2(uri, d->cert.uri, PERIOD, 0, period_no, u->uid));
    size_t n = mcx_identity_from_uid(u->uid, d->cert.id_mode, id);
    CHECK_OK(mcx_eccsi_issue(d->ksak, d->cert.kpak, id, n, u->ssk, u->pvt));
    CHECK_OK(mcx_sakke_issue_rsk(d->z, sizeof d->z, id, n, u->rsk));
}

static mcx_mikey_builder *builder_for(const domain *d, const user *u)
{
    mcx_mikey_builder *b = NULL;
    CHECK_OK(mcx_mikey_builder_new(&b, &d->cert, u->uri, NULL, u->period_no, u->ssk, u->pvt));
    return b;
}

/* An opener for u, trusting d and knowing the sender uri. */
static mcx_mikey_opener *opener_for(const domain *d, const user *u, const char *sender_uri,
                                    const mcx_mikey_settings *extra)
{
    mcx_mikey_settings set = {.now = test_clock};
    if (extra) {
        set = *extra;
        set.now = test_clock;
    }
    mcx_mikey_opener *o = NULL;
    CHECK_OK(mcx_mikey_opener_new(&o, &set));
    CHECK_OK(mcx_mikey_opener_add_kms(o, &d->cert));
    CHECK_OK(mcx_mikey_opener_add_identity(o, u->uri, NULL, d->cert.uri, u->period_no, u->rsk));
    if (sender_uri)
        CHECK_OK(mcx_mikey_opener_add_peer(o, sender_uri, NULL, d->cert.uri));
    return o;
}

static size_t build(mcx_mikey_builder *b, mcx_key_type type, const uint8_t *key, size_t key_len,
                    uint32_t key_id, const char *to, const mcx_key_params *kp, uint8_t *out)
{
    mcx_mikey_build_args a = {
        .type = type,
        .key = key,
        .key_len = key_len,
        .key_id = key_id,
        .receiver_uri = to,
        .params = kp,
        .t_ntp = clock_now,
        .cs_id = -1,
    };
    size_t n = 0;
    CHECK_OK(mcx_mikey_build(b, &a, out, MCX_MIKEY_MAX_BYTES, &n));
    return n;
}

/* Every key type, 16- and 32-octet keys, parameters, in one identity mode. */
static void roundtrip_all_types(mcx_id_mode mode)
{
    domain d;
    user gms, alice;
    make_domain(&d, "kms.example.org", mode);
    make_user(&d, &gms, "sip:gms@example.org", PERIOD_NOW);
    make_user(&d, &alice, "sip:alice@example.org", PERIOD_NOW);
    mcx_mikey_builder *b = builder_for(&d, &gms);
    mcx_mikey_opener *o = opener_for(&d, &alice, gms.uri, NULL);
    uint8_t msg[MCX_MIKEY_MAX_BYTES];

    for (unsigned type = 0; type <= MCX_KEY_TYPE_MAX; type++) {
        for (size_t key_len = 16; key_len <= 32; key_len += 16) {
            uint8_t key[32];
            uint32_t key_id;
            CHECK_OK(mcx_random(key, key_len));
            CHECK_OK(mcx_key_id_new((mcx_key_type)type, &key_id));
            mcx_key_params kp;
            memset(&kp, 0, sizeof kp);
            kp.key_type = (uint8_t)type;
            kp.status = MCX_KP_STATUS_ACTIVE;
            kp.activation = 1000;
            kp.expiry = 2000;
            kp.text_len = 5;
            memcpy(kp.text, "fire1", 5);
            kp.has_groups = mcx_kp_type_has_groups(type);
            if (kp.has_groups) {
                kp.n_groups = 1;
                kp.groups[0].iei = MCX_KP_IEI_GROUP_ID;
                kp.groups[0].len = 20;
                memcpy(kp.groups[0].id, "sip:fire@example.org", 20);
            }
            size_t n = build(b, (mcx_key_type)type, key, key_len, key_id, alice.uri, &kp, msg);
            mcx_mikey_result r;
            mcx_status st = mcx_mikey_open(o, msg, n, NULL, &r);
            if (st != MCX_OK)
                fprintf(stderr, "type %u: %s\n", type, r.reason);
            CHECK_OK(st);
            CHECK(r.type == type);
            CHECK(r.key_len == key_len);
            CHECK_MEM(r.key, key, key_len);
            CHECK(r.key_id == key_id);
            CHECK(r.has_params && r.params_form == MCX_KP_FORM_PROTECTED);
            CHECK(r.params.expiry == 2000 && r.params.text_len == 5);
            CHECK(r.params.n_groups == kp.n_groups);
            CHECK(strcmp(r.sender_uri, gms.uri) == 0);
            CHECK(r.sender_period_no == PERIOD_NOW);
            if (type == MCX_KEY_GMK) {
                uint32_t guk;
                CHECK_OK(mcx_guk_id(key, key_len, key_id, alice.uri, &guk));
                CHECK(r.guk_id == guk && r.csb_id == guk && r.gmk_id == key_id);
                CHECK(r.has_cs_id && r.cs_id == MCX_CS_MCPTT_GROUP);
            } else {
                CHECK(r.csb_id == key_id);
            }
            mcx_mikey_result_wipe(&r);
        }
    }
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
}

static void test_roundtrip_raw(void)
{
    roundtrip_all_types(MCX_ID_RAW);
}

static void test_roundtrip_hex_string(void)
{
    roundtrip_all_types(MCX_ID_HEX_STRING);
}

/* Shared fixture of the rejection tests: one domain, a GMS, alice and bob. */
static domain D, OTHER;
static user GMS, ALICE, BOB, MALLORY;

static void fixture(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    make_domain(&D, "kms.example.org", MCX_ID_RAW);
    make_domain(&OTHER, "kms.example.org", MCX_ID_RAW); /* same name, other keys */
    make_user(&D, &GMS, "sip:gms@example.org", PERIOD_NOW);
    make_user(&D, &ALICE, "sip:alice@example.org", PERIOD_NOW);
    make_user(&D, &BOB, "sip:bob@example.org", PERIOD_NOW);
    make_user(&OTHER, &MALLORY, "sip:gms@example.org", PERIOD_NOW);
}

static size_t gmk_to(mcx_mikey_builder *b, const user *to, uint8_t *msg, uint8_t key[16])
{
    uint32_t id;
    CHECK_OK(mcx_random(key, 16));
    CHECK_OK(mcx_key_id_new(MCX_KEY_GMK, &id));
    return build(b, MCX_KEY_GMK, key, 16, id, to->uri, NULL, msg);
}

static void expect_reject(mcx_mikey_opener *o, const uint8_t *msg, size_t n, mcx_status st,
                          mcx_mikey_stage stage)
{
    mcx_mikey_result r;
    mcx_status got = mcx_mikey_open(o, msg, n, NULL, &r);
    if (got != st || r.stage != stage)
        fprintf(stderr, "  expected %s at stage %s, got %s at %s: %s\n", mcx_status_name(st),
                mcx_mikey_stage_verdict(stage), mcx_status_name(got),
                mcx_mikey_stage_verdict(r.stage), r.reason);
    CHECK_ST(got, st);
    CHECK(r.stage == stage);
    CHECK(r.key_len == 0);
    CHECK(r.reason[0] != 0);
    mcx_mikey_result_wipe(&r);
}

static void test_every_flipped_byte(void)
{
    fixture();
    mcx_mikey_builder *b = builder_for(&D, &GMS);
    mcx_mikey_opener *o = opener_for(&D, &ALICE, GMS.uri, NULL);
    uint8_t msg[MCX_MIKEY_MAX_BYTES], key[16];
    size_t n = gmk_to(b, &ALICE, msg, key);
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned bit = (unsigned)(i % 8); /* every octet, every bit position along the way */
        uint8_t bad[MCX_MIKEY_MAX_BYTES];
        memcpy(bad, msg, n);
        bad[i] ^= (uint8_t)(1u << bit);
        mcx_mikey_result r;
        if (mcx_mikey_open(o, bad, n, NULL, &r) != MCX_OK && r.key_len == 0)
            refused++;
        else
            fprintf(stderr, "  flipping bit %u of byte %zu was accepted\n", bit, i);
        /* nothing past the signature ran for a bad message */
        CHECK(r.stage != MCX_MIKEY_STAGE_DECRYPT && r.stage != MCX_MIKEY_STAGE_PARAMS);
        mcx_mikey_result_wipe(&r);
    }
    CHECK(refused == n);
    /* and the untouched message still opens (nothing was remembered for the bad ones) */
    mcx_mikey_result r;
    CHECK_OK(mcx_mikey_open(o, msg, n, NULL, &r));
    CHECK_MEM(r.key, key, 16);
    mcx_mikey_result_wipe(&r);
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
}

static void test_replay_time_receiver_kms(void)
{
    fixture();
    mcx_mikey_builder *b = builder_for(&D, &GMS);
    mcx_mikey_opener *o = opener_for(&D, &ALICE, GMS.uri, NULL);
    uint8_t msg[MCX_MIKEY_MAX_BYTES], key[16];
    size_t n = gmk_to(b, &ALICE, msg, key);
    mcx_mikey_result r;
    CHECK_OK(mcx_mikey_open(o, msg, n, NULL, &r));
    mcx_mikey_result_wipe(&r);
    expect_reject(o, msg, n, MCX_E_REPLAY, MCX_MIKEY_STAGE_REPLAY);

    /* T outside the window, both ways */
    clock_now = NOW + 301;
    n = gmk_to(b, &ALICE, msg, key);
    clock_now = NOW;
    expect_reject(o, msg, n, MCX_E_TIME, MCX_MIKEY_STAGE_TIME);
    clock_now = NOW - 301;
    n = gmk_to(b, &ALICE, msg, key);
    clock_now = NOW;
    expect_reject(o, msg, n, MCX_E_TIME, MCX_MIKEY_STAGE_TIME);

    /* a known sender's message with a malformed signature: r = 0, then a PVT that is no point */
    n = gmk_to(b, &ALICE, msg, key);
    mcx_mikey_msg dm;
    CHECK_OK(mcx_mikey_decode(msg, n, &dm));
    uint8_t zero_r[MCX_MIKEY_MAX_BYTES];
    memcpy(zero_r, msg, n);
    memset(zero_r + dm.signed_len, 0, 32);
    expect_reject(o, zero_r, n, MCX_E_RANGE, MCX_MIKEY_STAGE_SIGNATURE);
    memcpy(zero_r, msg, n);
    zero_r[dm.signed_len + 64] = 0x05;
    expect_reject(o, zero_r, n, MCX_E_ENCODING, MCX_MIKEY_STAGE_SIGNATURE);

    /* for bob, opened by alice */
    n = gmk_to(b, &BOB, msg, key);
    expect_reject(o, msg, n, MCX_E_UNKNOWN_PEER, MCX_MIKEY_STAGE_RECEIVER);

    /* signed under another KMS that uses the same name: the signature fails */
    mcx_mikey_builder *mb = builder_for(&OTHER, &MALLORY);
    n = gmk_to(mb, &ALICE, msg, key);
    expect_reject(o, msg, n, MCX_E_SIG_INVALID, MCX_MIKEY_STAGE_SIGNATURE);
    mcx_mikey_builder_free(mb);

    /* a KMS name nobody trusts */
    domain far;
    user stranger;
    make_domain(&far, "kms.elsewhere.net", MCX_ID_RAW);
    make_user(&far, &stranger, "sip:gms@example.org", PERIOD_NOW);
    mcx_mikey_builder *fb = builder_for(&far, &stranger);
    mcx_mikey_build_args a = {.type = MCX_KEY_PCK,
                              .key = key,
                              .key_len = 16,
                              .key_id = 0x10000001,
                              .receiver_uri = ALICE.uri,
                              .receiver_kms = &D.cert,
                              .t_ntp = NOW,
                              .cs_id = -1};
    CHECK_OK(mcx_mikey_build(fb, &a, msg, sizeof msg, &n));
    expect_reject(o, msg, n, MCX_E_UNKNOWN_PEER, MCX_MIKEY_STAGE_SENDER);
    mcx_mikey_builder_free(fb);

    /* a sender the receiver does not know, unless the signalling names it */
    mcx_mikey_builder *bb = builder_for(&D, &BOB);
    a.receiver_kms = NULL;
    a.key_id = 0x10000002;
    CHECK_OK(mcx_mikey_build(bb, &a, msg, sizeof msg, &n));
    expect_reject(o, msg, n, MCX_E_UNKNOWN_PEER, MCX_MIKEY_STAGE_SENDER);
    CHECK_OK(mcx_mikey_open(o, msg, n, BOB.uri, &r));
    CHECK(strcmp(r.sender_uri, BOB.uri) == 0 && r.type == MCX_KEY_PCK);
    mcx_mikey_result_wipe(&r);
    mcx_mikey_builder_free(bb);

    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
}

/* Truncations at every length, extra octets, and length fields that claim more than there is. */
static void test_lengths(void)
{
    fixture();
    mcx_mikey_builder *b = builder_for(&D, &GMS);
    mcx_mikey_opener *o = opener_for(&D, &ALICE, GMS.uri, NULL);
    uint8_t msg[MCX_MIKEY_MAX_BYTES + 1], key[16];
    size_t n = gmk_to(b, &ALICE, msg, key);
    for (size_t len = 0; len < n; len++) {
        mcx_mikey_result r;
        CHECK(mcx_mikey_open(o, msg, len, NULL, &r) != MCX_OK);
        CHECK(r.stage == MCX_MIKEY_STAGE_PARSE && r.key_len == 0);
    }
    msg[n] = 0;
    expect_reject(o, msg, n + 1, MCX_E_LENGTH, MCX_MIKEY_STAGE_PARSE);

    /* over-long RAND length: RAND is at 17 + 10 (HDR with one 8-octet-SPI GENERIC-ID entry,
     * T payload); its length octet follows its next-payload octet */
    mcx_mikey_msg m;
    CHECK_OK(mcx_mikey_decode(msg, n, &m));
    size_t rand_at = (size_t)(m.rand.p - msg) - 1;
    msg[rand_at] = 0xff;
    mcx_mikey_result r;
    CHECK(mcx_mikey_open(o, msg, n, NULL, &r) != MCX_OK);
    CHECK(r.stage == MCX_MIKEY_STAGE_PARSE);
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
}

/* A sender whose key set is for the previous period (the receiver searches nearby periods), and
 * a receiver that holds no key for the period the message uses. */
static void test_key_periods(void)
{
    fixture();
    user old_gms, alice_next;
    make_user(&D, &old_gms, GMS.uri, PERIOD_NOW - 1);
    make_user(&D, &alice_next, ALICE.uri, PERIOD_NOW + 5);
    mcx_mikey_builder *b = builder_for(&D, &old_gms);
    mcx_mikey_opener *o = opener_for(&D, &ALICE, GMS.uri, NULL);
    uint8_t msg[MCX_MIKEY_MAX_BYTES], key[16];
    size_t n = gmk_to(b, &ALICE, msg, key);
    mcx_mikey_result r;
    CHECK_OK(mcx_mikey_open(o, msg, n, NULL, &r));
    CHECK(r.sender_period_no == PERIOD_NOW - 1);
    mcx_mikey_result_wipe(&r);

    /* to alice's key of period +5: she holds only the current one */
    mcx_mikey_build_args a = {.type = MCX_KEY_PCK,
                              .key = key,
                              .key_len = 16,
                              .key_id = 0x1abcdef0,
                              .receiver_uri = ALICE.uri,
                              .receiver_uid = alice_next.uid,
                              .t_ntp = NOW,
                              .cs_id = -1};
    CHECK_OK(mcx_mikey_build(b, &a, msg, sizeof msg, &n));
    mcx_mikey_settings wide = {.period_search = 6};
    mcx_mikey_opener *o6 = opener_for(&D, &ALICE, GMS.uri, &wide);
    expect_reject(o6, msg, n, MCX_E_NO_KEY, MCX_MIKEY_STAGE_RECEIVER);
    mcx_mikey_opener_free(o6);
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
}

/* URI-style IDRs (roles 1/2), SAKKE-to-self, and the legacy signature scope. */
static void test_variants(void)
{
    fixture();
    mcx_mikey_builder *b = builder_for(&D, &ALICE);
    mcx_mikey_opener *o = opener_for(&D, &BOB, ALICE.uri, NULL);
    uint8_t msg[MCX_MIKEY_MAX_BYTES], key[16] = {1, 2, 3};
    mcx_mikey_build_args a = {.type = MCX_KEY_PCK,
                              .key = key,
                              .key_len = 16,
                              .key_id = 0x12345678,
                              .receiver_uri = BOB.uri,
                              .t_ntp = NOW,
                              .cs_id = -1,
                              .self_copy = 1,
                              .idr_style = MCX_IDR_STYLE_URI};
    size_t n;
    CHECK_OK(mcx_mikey_build(b, &a, msg, sizeof msg, &n));
    mcx_mikey_msg m;
    CHECK_OK(mcx_mikey_decode(msg, n, &m));
    CHECK(m.n_gext == 1 && m.gext[0].type == MCX_MIKEY_GEXT_SELF);
    CHECK(m.idr[0].role == MCX_IDR_I && m.idr[1].role == MCX_IDR_R);
    CHECK(m.map_type == MCX_MIKEY_MAP_EMPTY && m.n_cs == 0);
    mcx_mikey_result r;
    CHECK_OK(mcx_mikey_open(o, msg, n, NULL, &r));
    CHECK(r.has_self_copy && r.key_id == 0x12345678 && !r.legacy_scope);
    CHECK_MEM(r.key, key, 16);
    mcx_mikey_result_wipe(&r);

    /* re-sign over the legacy scope (the octets before SIGN) */
    a.idr_style = MCX_IDR_STYLE_UID;
    a.self_copy = 0;
    a.key_id = 0x12345679;
    CHECK_OK(mcx_mikey_build(b, &a, msg, sizeof msg, &n));
    CHECK_OK(mcx_mikey_decode(msg, n, &m));
    mcx_eccsi_signer s;
    CHECK_OK(
        mcx_eccsi_signer_init(&s, D.cert.kpak, ALICE.uid, MCX_UID_BYTES, ALICE.ssk, ALICE.pvt));
    CHECK_OK(mcx_eccsi_sign(&s, msg, m.sign_offset, msg + m.signed_len));
    mcx_eccsi_signer_wipe(&s);
    expect_reject(o, msg, n, MCX_E_SIG_INVALID, MCX_MIKEY_STAGE_SIGNATURE);
    mcx_mikey_settings legacy = {.allow_legacy_scope = 1};
    mcx_mikey_opener *ol = opener_for(&D, &BOB, ALICE.uri, &legacy);
    CHECK_OK(mcx_mikey_open(ol, msg, n, NULL, &r));
    CHECK(r.legacy_scope);
    mcx_mikey_result_wipe(&r);
    mcx_mikey_opener_free(ol);
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
}

static void expect_decode(const uint8_t *msg, size_t n, mcx_status st, const char *reason_part)
{
    mcx_mikey_msg m;
    mcx_status got = mcx_mikey_decode(msg, n, &m);
    if (got != st || !strstr(mcx_last_error(), reason_part))
        fprintf(stderr, "  expected %s (\"%s\"), got %s: %s\n", mcx_status_name(st), reason_part,
                mcx_status_name(got), mcx_last_error());
    CHECK_ST(got, st);
    CHECK(strstr(mcx_last_error(), reason_part) != NULL);
}

/* The codec's own rejections, each with a reason naming what was wrong. */
static void test_codec_errors(void)
{
    /* HDR: v1, type 26, next T, PRF 1, CSB-ID, #CS 0, map 1; T; RAND(1); SIGN(0 octets) */
    static const uint8_t good[] = {1,    26,  5,    1, 0x10, 0, 0, 1, 0, 1, /* HDR */
                                   11,   0,   0,    0, 0,    1, 0, 0, 0, 0, /* T, next RAND */
                                   4,    1,   0xaa,                         /* RAND, next SIGN */
                                   0x20, 0x00};                             /* SIGN type 2, len 0 */
    uint8_t m[64];
    mcx_mikey_msg msg;
    CHECK_OK(mcx_mikey_decode(good, sizeof good, &msg));
    CHECK(msg.has_t && msg.has_rand && msg.has_sign && msg.n_payloads == 4);

    memcpy(m, good, sizeof good);
    m[0] = 2;
    expect_decode(m, sizeof good, MCX_E_UNSUPPORTED, "version 2");
    memcpy(m, good, sizeof good);
    m[2] = 99;
    expect_decode(m, sizeof good, MCX_E_ENCODING, "unknown payload type 99");
    memcpy(m, good, sizeof good);
    m[2] = MCX_MIKEY_PT_KEMAC;
    expect_decode(m, sizeof good, MCX_E_UNSUPPORTED, "KEMAC");
    memcpy(m, good, sizeof good);
    m[10] = MCX_MIKEY_PT_T; /* T followed by a second T */
    expect_decode(m, sizeof good, MCX_E_ENCODING, "second T");
    memcpy(m, good, sizeof good);
    m[8] = 2; /* #CS 2 with the empty map */
    expect_decode(m, sizeof good, MCX_E_ENCODING, "#CS is 2");
    memcpy(m, good, sizeof good);
    m[9] = 7;
    expect_decode(m, sizeof good, MCX_E_UNSUPPORTED, "map type 7");
    memcpy(m, good, sizeof good);
    m[21] = 0;
    expect_decode(m, sizeof good, MCX_E_ENCODING, "RAND is empty");
    memcpy(m, good, sizeof good);
    m[24] = 5; /* signature length 5, none present */
    expect_decode(m, sizeof good, MCX_E_LENGTH, "SIGN payload: signature truncated");
    expect_decode(good, sizeof good - 1, MCX_E_LENGTH, "truncated at byte 23");
    /* RAND then an IDR then T: out of order */
    static const uint8_t order[] = {1,  26, 11,   1, 0, 0,   0, 0, 0, 1,  /* HDR next RAND */
                                    14, 1,  0x55,                         /* RAND next IDR */
                                    5,  1,  1,    0, 1, 'x',              /* IDR next T */
                                    0,  0,  0,    0, 0, 0,   0, 0, 0, 0}; /* T, last */
    expect_decode(order, sizeof order, MCX_E_ENCODING, "T payload at byte 19 is out of order");
}

int main(void)
{
    RUN(test_codec_errors);
    RUN(test_roundtrip_raw);
    RUN(test_roundtrip_hex_string);
    RUN(test_every_flipped_byte);
    RUN(test_replay_time_receiver_kms);
    RUN(test_lengths);
    RUN(test_key_periods);
    RUN(test_variants);
    return test_summary();
}
