/* Vector families "imessage" and "imessage_3gpp": deployed vendors' MIKEY-SAKKE I_MESSAGEs opened
 * through the public API (mcx_mikey_open), exactly as a receiving MCX client would: the sender is
 * a known peer by URI, the receiver holds its RSK for the key period, the clock is set near T.
 *
 * streamwide_imessages.txt: every [imsg-*] section (GMK, CSK, PCK, legacy IWF GMK; two library
 * versions). mcx_3gpp.txt: the sw_{gmk,csk,pck}_imessage entries with the sw_* key sets.
 * Each message must also survive decode -> encode unchanged, be refused when replayed, and be
 * refused after any one of a sample of flipped octets. */
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"
#include "mcxsec/mikey.h"
#include "runner.h"

typedef struct imsg_case {
    const char *where;
    mcx_kms_cert kms;
    const char *initiator_uri, *responder_uri;
    uint64_t period_no;
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];
    uint8_t msg[2048];
    size_t msg_len;
    uint8_t key[32];
    size_t key_len;
    uint32_t key_id;
    const char *type; /* "GMK", ... */
    uint8_t rand[64];
    size_t rand_len;
    int has_guk;
    uint32_t guk_id;
    uint8_t params[256]; /* expected plaintext of the key parameters, if any */
    size_t params_len;
    int params_legacy;
} imsg_case;

static uint64_t fixed_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

static uint32_t hex32(const vec_section *s, const char *name)
{
    uint8_t b[4];
    vec_hex(s, name, b, 4);
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static void set_kms(imsg_case *c, const char *uri, uint64_t period, uint64_t offset)
{
    memset(&c->kms.uri, 0, sizeof c->kms.uri);
    snprintf(c->kms.uri, sizeof c->kms.uri, "%s", uri);
    c->kms.key_period = period;
    c->kms.key_offset = offset;
    c->kms.id_mode = MCX_ID_RAW;
}

/* Open c's message as its responder would, and check everything the vector says. */
static void run_case(const imsg_case *c)
{
    mcx_mikey_msg m;
    CHECK_OK(mcx_mikey_decode(c->msg, c->msg_len, &m));
    uint64_t now = mcx_mikey_t_seconds(&m) + 30;

    /* decode -> encode gives back the same octets */
    uint8_t again[2048];
    size_t again_len = 0;
    CHECK_OK(mcx_mikey_encode(&m, again, sizeof again, &again_len));
    CHECK(again_len == c->msg_len && memcmp(again, c->msg, c->msg_len) == 0);

    mcx_mikey_settings set = {.now = fixed_clock, .now_arg = &now};
    mcx_mikey_opener *o = NULL;
    CHECK_OK(mcx_mikey_opener_new(&o, &set));
    if (!o)
        return;
    CHECK_OK(mcx_mikey_opener_add_kms(o, &c->kms));
    CHECK_OK(
        mcx_mikey_opener_add_identity(o, c->responder_uri, NULL, c->kms.uri, c->period_no, c->rsk));
    CHECK_OK(mcx_mikey_opener_add_peer(o, c->initiator_uri, NULL, c->kms.uri));

    /* Tampering: a sample of single flipped octets across the message, each refused before any
     * key is released (the opener is fresh for each, so replay is not what stops them). */
    for (size_t i = 0; i < c->msg_len; i += 37) {
        uint8_t bad[2048];
        memcpy(bad, c->msg, c->msg_len);
        bad[i] ^= 0x01;
        mcx_mikey_result r;
        mcx_status st = mcx_mikey_open(o, bad, c->msg_len, NULL, &r);
        if (st == MCX_OK) {
            fprintf(stderr, "%s: flipping byte %zu was not detected\n", c->where, i);
            CHECK(0);
        }
        CHECK(r.key_len == 0);
        mcx_mikey_result_wipe(&r);
    }

    mcx_mikey_result r;
    mcx_status st = mcx_mikey_open(o, c->msg, c->msg_len, NULL, &r);
    if (st != MCX_OK)
        fprintf(stderr, "%s: rejected (%s): %s\n", c->where, mcx_mikey_stage_verdict(r.stage),
                r.reason);
    CHECK_OK(st);
    CHECK_MEM(r.key, c->key, c->key_len);
    CHECK(r.key_len == c->key_len);
    CHECK(r.key_id == c->key_id);
    CHECK(strcmp(c->type, "GMK") == 0   ? r.type == MCX_KEY_GMK
          : strcmp(c->type, "CSK") == 0 ? r.type == MCX_KEY_CSK
          : strcmp(c->type, "PCK") == 0 ? r.type == MCX_KEY_PCK
                                        : 0);
    CHECK(r.rand_len == c->rand_len);
    CHECK_MEM(r.rand, c->rand, c->rand_len);
    if (c->has_guk)
        CHECK(r.guk_id == c->guk_id);
    CHECK(strcmp(r.sender_uri, c->initiator_uri) == 0);
    CHECK(r.sender_period_no == c->period_no);
    if (c->params_len) {
        CHECK(r.has_params);
        CHECK(r.params_form == (c->params_legacy ? MCX_KP_FORM_LEGACY : MCX_KP_FORM_PROTECTED));
        uint8_t enc[256];
        size_t enc_len = 0;
        CHECK_OK(mcx_kp_encode(&r.params, enc, sizeof enc, &enc_len));
        /* The legacy form's first octet is key type + 1 and it has no group-ID field even for a
         * GMK, so only the common prefix is compared for it. */
        size_t cmp = c->params_legacy && enc_len > c->params_len ? c->params_len : enc_len;
        if (cmp != c->params_len)
            fprintf(stderr, "%s: key parameters re-encode to %zu octets, not %zu\n", c->where,
                    enc_len, c->params_len);
        CHECK(cmp == c->params_len);
        CHECK(enc[0] + (c->params_legacy ? 1 : 0) == c->params[0]);
        CHECK(cmp > 1 && memcmp(enc + 1, c->params + 1, cmp - 1) == 0);
    }
    mcx_mikey_result_wipe(&r);

    /* The same message again is a replay. */
    st = mcx_mikey_open(o, c->msg, c->msg_len, NULL, &r);
    CHECK_ST(st, MCX_E_REPLAY);
    CHECK(r.stage == MCX_MIKEY_STAGE_REPLAY && r.key_len == 0);
    mcx_mikey_opener_free(o);
}

/* Entries of an [imsg-*] section that this family does not check one by one: the decoded views
 * (computed_hdr, computed_idr_*, ...) are implied by the byte-exact re-encoding and the open. */
static int informational(const char *name)
{
    static const char *const PREFIXES[] = {"computed_",     "user_id_format",     "initiator_uid",
                                           "responder_uid", "responder_ssk",      "responder_pvt",
                                           "initiator_pvt", "expected_signature", "i_message"};
    for (size_t i = 0; i < sizeof PREFIXES / sizeof PREFIXES[0]; i++)
        if (strncmp(name, PREFIXES[i], strlen(PREFIXES[i])) == 0)
            return 1;
    return 0;
}

static void streamwide_vectors(const vec_file *f)
{
    static const char *const CHECKED[] = {
        "kms_uri",           "user_key_period",       "user_key_offset",   "key_period_no",
        "kms_pub_enc_key_Z", "kms_pub_auth_key_KPAK", "initiator_uri",     "responder_uri",
        "responder_rsk",     "expected_key",          "expected_key_type", "expected_key_id",
        "expected_rand",     "expected_guk_id"};
    unsigned n = 0;
    for (size_t si = 0; si < f->n_sections; si++) {
        const vec_section *s = &f->sections[si];
        if (strncmp(s->name, "imsg-", 5) != 0)
            continue;
        for (size_t e = 0; e < s->n_entries; e++) {
            int ok = informational(s->entries[e].name);
            for (size_t k = 0; !ok && k < sizeof CHECKED / sizeof CHECKED[0]; k++)
                ok = strcmp(s->entries[e].name, CHECKED[k]) == 0;
            if (!ok) {
                fprintf(stderr, "imessage [%s]: entry %s is not checked\n", s->name,
                        s->entries[e].name);
                CHECK(0);
            }
        }
        imsg_case *c = calloc(1, sizeof *c);
        c->where = s->name;
        set_kms(c, vec_get(s, "kms_uri"), strtoull(vec_get(s, "user_key_period"), NULL, 10),
                strtoull(vec_get(s, "user_key_offset"), NULL, 10));
        vec_hex(s, "kms_pub_enc_key_Z", c->kms.Z, sizeof c->kms.Z);
        vec_hex(s, "kms_pub_auth_key_KPAK", c->kms.kpak, sizeof c->kms.kpak);
        c->period_no = strtoull(vec_get(s, "key_period_no"), NULL, 10);
        c->initiator_uri = vec_get(s, "initiator_uri");
        c->responder_uri = vec_get(s, "responder_uri");
        vec_hex(s, "responder_rsk", c->rsk, sizeof c->rsk);
        c->msg_len = vec_hex(s, "computed_i_message_hex", c->msg, sizeof c->msg);
        c->key_len = vec_hex(s, "expected_key", c->key, sizeof c->key);
        c->key_id = hex32(s, "expected_key_id");
        c->type = vec_get(s, "expected_key_type");
        c->rand_len = vec_hex(s, "expected_rand", c->rand, sizeof c->rand);
        if (vec_get(s, "expected_guk_id")) {
            c->has_guk = 1;
            c->guk_id = hex32(s, "expected_guk_id");
        }
        if (vec_get(s, "computed_keyparams_plaintext")) {
            c->params_len = vec_hex(s, "computed_keyparams_plaintext", c->params, sizeof c->params);
        } else if (vec_get(s, "computed_keyparams_unencrypted")) {
            c->params_len =
                vec_hex(s, "computed_keyparams_unencrypted", c->params, sizeof c->params);
            c->params_legacy = 1;
        }
        run_case(c);
        free(c);
        n++;
    }
    CHECK(n >= 7);
    printf("imessage: %u vendor I_MESSAGEs opened\n", n);
}

/* mcx_3gpp.txt: three messages and four key sets in one unnamed section. */
static void threegpp_vectors(const vec_file *f)
{
    const vec_section *s = &f->sections[0];
    static const struct {
        const char *tag, *type, *from, *to;
    } MSGS[] = {{"gmk", "GMK", "gms", "alice"},
                {"csk", "CSK", "alice", "gms"},
                {"pck", "PCK", "alice", "bob"}};
    static const struct {
        const char *who, *uri;
    } URIS[] = {{"gms", "gms@streamwide.com"},
                {"alice", "sip:alice@streamwide.com"},
                {"bob", "sip:bob@streamwide.com"}};
    unsigned n = 0;
    for (size_t i = 0; i < 3; i++) {
        imsg_case *c = calloc(1, sizeof *c);
        char name[64], kms_uri[128];
        uint8_t raw_uri[128];
        size_t ul = vec_hex(s, "sw_kms_uri", raw_uri, sizeof raw_uri - 1);
        memcpy(kms_uri, raw_uri, ul);
        kms_uri[ul] = 0;
        c->where = MSGS[i].tag;
        set_kms(c, kms_uri, 16777215, 0);
        vec_hex(s, "sw_Z", c->kms.Z, sizeof c->kms.Z);
        vec_hex(s, "sw_KPAK", c->kms.kpak, sizeof c->kms.kpak);
        c->period_no = 236;
        for (size_t u = 0; u < 3; u++) {
            if (strcmp(URIS[u].who, MSGS[i].from) == 0)
                c->initiator_uri = URIS[u].uri;
            if (strcmp(URIS[u].who, MSGS[i].to) == 0)
                c->responder_uri = URIS[u].uri;
        }
        snprintf(name, sizeof name, "sw_%s_rsk", MSGS[i].to);
        vec_hex(s, name, c->rsk, sizeof c->rsk);
        snprintf(name, sizeof name, "sw_%s_imessage", MSGS[i].tag);
        c->msg_len = vec_hex(s, name, c->msg, sizeof c->msg);
        snprintf(name, sizeof name, "sw_%s_key", MSGS[i].tag);
        c->key_len = vec_hex(s, name, c->key, sizeof c->key);
        snprintf(name, sizeof name, "sw_%s_key_id", MSGS[i].tag);
        c->key_id = hex32(s, name);
        snprintf(name, sizeof name, "sw_%s_rand", MSGS[i].tag);
        c->rand_len = vec_hex(s, name, c->rand, sizeof c->rand);
        c->type = MSGS[i].type;
        if (i == 0) {
            c->has_guk = 1;
            c->guk_id = hex32(s, "sw_gmk_guk_id");
        }
        snprintf(name, sizeof name, "sw_%s_keyparams", MSGS[i].tag);
        c->params_len = vec_hex(s, name, c->params, sizeof c->params);
        run_case(c);
        free(c);
        n++;
    }
    printf("imessage_3gpp: %u I_MESSAGEs opened\n", n);
}

VEC_FAMILY_LABEL(imessage, "mikey", "streamwide_imessages.txt", streamwide_vectors)
VEC_FAMILY_LABEL(imessage_3gpp, "mikey", "mcx_3gpp.txt", threegpp_vectors)
