/* mikey_gen: I_MESSAGEs made by mcxsec's builder, for checking them with an independent decoder
 * (Wireshark's MIKEY dissector, see mikey_tshark_test.sh) and for seeding the MIKEY fuzzers.
 *
 *   mikey_gen VECTOR_DIR [--raw DIR]
 *
 * The senders and receivers are the Streamwide key sets of VECTOR_DIR/mcx_3gpp.txt (the KMS
 * kms.mydev.streamwide.com, gms@, sip:alice@ and sip:bob@streamwide.com in key period 236), so
 * every message opens with the vector RSKs. Each message goes to stdout as one line:
 *
 *   name map csb_id next_payloads idr_roles rand sed_len hex
 *
 * map is "empty" (#CS 0, CS-ID map type 1: PCK, SPK, MKFC, MSCCK) or "generic" (GENERIC-ID map
 * type 2: GMK, CSK, MuSiK); csb_id is 0x%08x; next_payloads lists the next-payload octets of HDR
 * and of every payload after it except SIGN (RFC 3830 §6), comma-separated; idr_roles lists the
 * IDR roles in order; rand is the RAND in hex; sed_len the SAKKE data length. These expectations
 * are derived from the build arguments, not from mcxsec's own decoder, so the other decoder checks
 * what the builder was asked to write.
 *
 * With --raw each message is also written as DIR/built_<name>, and DIR/signed_<name> receives
 * messages that the sender really signed but that sip:alice@streamwide.com must refuse after the
 * signature (another receiver or key period, inconsistent CSB-ID/SPI/key parameters, a damaged
 * SED, a T counter): seeds that take the MIKEY fuzzers past the signature check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "vecfile.h"

#define PERIOD_NO 236
#define T_NTP     0xEC898DA8u /* the T of the vector messages: in key period 236 */

enum { GMS, ALICE, BOB, N_USERS };

static const char *const USER_URI[N_USERS] = {"gms@streamwide.com", "sip:alice@streamwide.com",
                                              "sip:bob@streamwide.com"};
static const char *const USER_TAG[N_USERS] = {"gms", "alice", "bob"};

typedef struct gen_case {
    const char *name;
    mcx_key_type type;
    int from, to;
    size_t key_len;
    mcx_mikey_idr_style style;
    int params;
    int self_copy;
} gen_case;

static const gen_case CASES[] = {
    {"pck", MCX_KEY_PCK, BOB, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0},
    {"pck_uri_k32", MCX_KEY_PCK, BOB, ALICE, 32, MCX_IDR_STYLE_URI, 0, 0},
    {"pck_self", MCX_KEY_PCK, BOB, ALICE, 16, MCX_IDR_STYLE_UID, 1, 1},
    {"spk", MCX_KEY_SPK, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0},
    {"spk_uri", MCX_KEY_SPK, GMS, ALICE, 16, MCX_IDR_STYLE_URI, 0, 0},
    {"mkfc", MCX_KEY_MKFC, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0},
    {"mscck_k32", MCX_KEY_MSCCK, GMS, ALICE, 32, MCX_IDR_STYLE_UID, 1, 0},
    {"mscck_uri_self", MCX_KEY_MSCCK, GMS, ALICE, 16, MCX_IDR_STYLE_URI, 1, 1},
    {"gmk", MCX_KEY_GMK, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0},
    {"gmk_uri_self_k32", MCX_KEY_GMK, GMS, ALICE, 32, MCX_IDR_STYLE_URI, 1, 1},
    {"csk", MCX_KEY_CSK, ALICE, GMS, 16, MCX_IDR_STYLE_UID, 1, 0},
    {"musik", MCX_KEY_MUSIK, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0},
};

static void die(const char *what)
{
    fprintf(stderr, "mikey_gen: %s failed: %s\n", what, mcx_last_error());
    exit(1);
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != MCX_OK)                                                                      \
            die(#call);                                                                            \
    } while (0)

static void key_params(const gen_case *c, mcx_key_params *kp)
{
    static const char TEXT[] = "mcxsec interop";
    static const char GROUP[] = "sip:group1@streamwide.com";
    memset(kp, 0, sizeof *kp);
    kp->key_type = (uint8_t)c->type;
    kp->status = MCX_KP_STATUS_ACTIVE;
    kp->activation = T_NTP;
    kp->expiry = (uint64_t)T_NTP + 86400;
    kp->text_len = sizeof TEXT - 1;
    memcpy(kp->text, TEXT, sizeof TEXT - 1);
    if (mcx_kp_type_has_groups(c->type)) {
        kp->has_groups = 1;
        kp->n_groups = 1;
        kp->groups[0].iei = MCX_KP_IEI_GROUP_ID;
        kp->groups[0].len = sizeof GROUP - 1;
        memcpy(kp->groups[0].id, GROUP, sizeof GROUP - 1);
    }
}

/* What the builder was asked to write (its layout, imessage_build.c): HDR T RAND IDR x4 [SP]
 * SAKKE [GEXT 6] [GEXT 7] SIGN. */
static void expectations(const gen_case *c, int generic, char *next, size_t next_cap, char *roles,
                         size_t roles_cap)
{
    snprintf(next, next_cap, "%d,%d,%d,%d,%d,%d,", MCX_MIKEY_PT_T, MCX_MIKEY_PT_RAND,
             MCX_MIKEY_PT_IDR, MCX_MIKEY_PT_IDR, MCX_MIKEY_PT_IDR, MCX_MIKEY_PT_IDR);
    if (generic)
        snprintf(next + strlen(next), next_cap - strlen(next), "%d,", MCX_MIKEY_PT_SP);
    snprintf(next + strlen(next), next_cap - strlen(next), "%d,", MCX_MIKEY_PT_SAKKE);
    if (c->self_copy)
        snprintf(next + strlen(next), next_cap - strlen(next), "%d,", MCX_MIKEY_PT_GEXT);
    if (c->params)
        snprintf(next + strlen(next), next_cap - strlen(next), "%d,", MCX_MIKEY_PT_GEXT);
    snprintf(next + strlen(next), next_cap - strlen(next), "%d", MCX_MIKEY_PT_SIGN);
    if (c->style == MCX_IDR_STYLE_URI)
        snprintf(roles, roles_cap, "%d,%d,%d,%d", MCX_IDR_I, MCX_IDR_R, MCX_IDR_KMS_I,
                 MCX_IDR_KMS_R);
    else
        snprintf(roles, roles_cap, "%d,%d,%d,%d", MCX_IDR_UID_I, MCX_IDR_UID_R, MCX_IDR_KMS_I,
                 MCX_IDR_KMS_R);
}

static void write_raw(const char *dir, const char *prefix, const char *name, const uint8_t *msg,
                      size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_%s", dir, prefix, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(msg, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

typedef struct sender {
    mcx_mikey_builder *b;
    mcx_eccsi_signer signer; /* the same key set, for re-signing edited messages */
} sender;

/* One I_MESSAGE from c->from to c->to (or to the UID receiver_uid) with a fresh key and key ID;
 * key, key_id and rand receive what was used. */
static size_t build(sender *from, const gen_case *c, const mcx_key_params *kp,
                    const uint8_t *receiver_uid, uint8_t key[32], uint32_t *key_id,
                    uint8_t rand[16], uint8_t *msg, size_t cap)
{
    size_t len = 0;
    OK(mcx_random(key, c->key_len));
    OK(mcx_random(rand, 16));
    OK(mcx_key_id_new(c->type, key_id));
    mcx_mikey_build_args a;
    memset(&a, 0, sizeof a);
    a.type = c->type;
    a.key = key;
    a.key_len = c->key_len;
    a.key_id = *key_id;
    a.receiver_uri = USER_URI[c->to];
    a.receiver_uid = receiver_uid;
    a.params = c->params ? kp : NULL;
    a.rand = rand;
    a.rand_len = 16;
    a.t_ntp = T_NTP;
    a.cs_id = -1;
    a.self_copy = c->self_copy;
    a.idr_style = c->style;
    OK(mcx_mikey_build(from->b, &a, msg, cap, &len));
    return len;
}

/* Encode m (payloads in the TS 33.180 E order), sign it as s and write it. */
static void resign(const char *dir, const char *name, mcx_mikey_msg *m, const sender *s)
{
    uint8_t out[MCX_MIKEY_MAX_BYTES];
    size_t len = 0;
    m->n_payloads = 0;
    m->sig.p = NULL;
    m->sig.len = MCX_ECCSI_SIG_BYTES;
    OK(mcx_mikey_encode(m, out, sizeof out, &len));
    OK(mcx_eccsi_sign(&s->signer, out, m->signed_len, out + m->signed_len));
    write_raw(dir, "signed", name, out, len);
}

/* Signed messages alice must refuse after the signature holds. */
static void refused_after_signature(const char *dir, sender *users, const mcx_kms_cert *kms)
{
    uint8_t key[32], rand[16], msg[MCX_MIKEY_MAX_BYTES], edit[8];
    uint32_t key_id;
    size_t len;
    mcx_key_params kp;
    mcx_mikey_msg m;

    /* Receivers alice holds no RSK for: bob by URI, alice in key period 235. */
    const gen_case to_bob = {"uri_to_bob", MCX_KEY_SPK, GMS, BOB, 16, MCX_IDR_STYLE_URI, 0, 0};
    len = build(&users[GMS], &to_bob, NULL, NULL, key, &key_id, rand, msg, sizeof msg);
    write_raw(dir, "signed", to_bob.name, msg, len);
    uint8_t old_uid[MCX_UID_BYTES];
    OK(mcx_uid_format2(USER_URI[ALICE], kms->uri, kms->key_period, kms->key_offset, PERIOD_NO - 1,
                       old_uid));
    const gen_case old = {"alice_period_235", MCX_KEY_PCK, BOB, ALICE, 16, MCX_IDR_STYLE_UID, 0, 0};
    len = build(&users[BOB], &old, NULL, old_uid, key, &key_id, rand, msg, sizeof msg);
    write_raw(dir, "signed", old.name, msg, len);

    /* Key parameters that name another key type than the CSB-ID. */
    const gen_case gmk = {"gmk", MCX_KEY_GMK, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0};
    const gen_case pck = {"pck", MCX_KEY_PCK, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 1, 0};
    key_params(&pck, &kp);
    len = build(&users[GMS], &gmk, &kp, NULL, key, &key_id, rand, msg, sizeof msg);
    write_raw(dir, "signed", "gmk_params_say_pck", msg, len);

    /* A GMK, edited and signed again. */
    key_params(&gmk, &kp);
    len = build(&users[GMS], &gmk, &kp, NULL, key, &key_id, rand, msg, sizeof msg);
    OK(mcx_mikey_decode(msg, len, &m));
    mcx_mikey_msg e = m;
    e.csb_id = (e.csb_id & 0x0fffffffu) | 0x70000000u; /* purpose tag 7: no MCX key */
    resign(dir, "csb_purpose_7", &e, &users[GMS]);
    e = m;
    memcpy(edit, m.cs[0].spi.p, 8);
    edit[7] ^= 1; /* SPI GUK-ID != CSB-ID */
    e.cs[0].spi.p = edit;
    resign(dir, "gmk_spi_guk_id", &e, &users[GMS]);
    e = m;
    memcpy(edit, m.cs[0].spi.p, 8);
    edit[3] ^= 1; /* SPI GMK-ID != the one derived from the GUK-ID */
    e.cs[0].spi.p = edit;
    resign(dir, "gmk_spi_gmk_id", &e, &users[GMS]);
    e = m;
    uint8_t sed[MCX_SAKKE_SED_BYTES(32)];
    memcpy(sed, m.sed.p, m.sed.len);
    sed[m.sed.len - 1] ^= 1; /* the SSV no longer matches R */
    e.sed.p = sed;
    resign(dir, "gmk_sed_damaged", &e, &users[GMS]);
    e = m;
    e.gext[e.n_gext] = e.gext[e.n_gext - 1]; /* the key parameters twice */
    e.n_gext++;
    resign(dir, "gmk_params_twice", &e, &users[GMS]);
    e = m;
    e.ts_type = MCX_MIKEY_TS_COUNTER;
    e.ts = 7;
    resign(dir, "gmk_t_counter", &e, &users[GMS]);

    /* A MuSiK whose 4-octet SPI is not its CSB-ID. */
    const gen_case musik = {"musik", MCX_KEY_MUSIK, GMS, ALICE, 16, MCX_IDR_STYLE_UID, 0, 0};
    len = build(&users[GMS], &musik, NULL, NULL, key, &key_id, rand, msg, sizeof msg);
    OK(mcx_mikey_decode(msg, len, &m));
    memcpy(edit, m.cs[0].spi.p, 4);
    edit[3] ^= 1;
    m.cs[0].spi.p = edit;
    resign(dir, "musik_spi", &m, &users[GMS]);
    mcx_memzero(key, sizeof key);
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--raw") == 0)) {
        fprintf(stderr, "usage: mikey_gen VECTOR_DIR [--raw DIR]\n");
        return 2;
    }
    const char *raw_dir = argc == 4 ? argv[3] : NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/mcx_3gpp.txt", argv[1]);
    vec_file *vf = vec_load(path);
    const vec_section *s = &vf->sections[0];

    mcx_kms_cert kms;
    memset(&kms, 0, sizeof kms);
    uint8_t raw_uri[MCX_URI_MAX];
    size_t ul = vec_hex(s, "sw_kms_uri", raw_uri, sizeof raw_uri - 1);
    memcpy(kms.uri, raw_uri, ul);
    vec_hex(s, "sw_Z", kms.Z, sizeof kms.Z);
    vec_hex(s, "sw_KPAK", kms.kpak, sizeof kms.kpak);
    kms.key_period = 16777215;
    kms.key_offset = 0;
    kms.id_mode = MCX_ID_RAW;

    sender users[N_USERS];
    for (int u = 0; u < N_USERS; u++) {
        char name[64];
        uint8_t ssk[MCX_ECCSI_SCALAR_BYTES], pvt[MCX_ECCSI_POINT_BYTES], uid[MCX_UID_BYTES];
        uint8_t id[MCX_ID_MAX_BYTES];
        snprintf(name, sizeof name, "sw_%s_ssk", USER_TAG[u]);
        vec_hex(s, name, ssk, sizeof ssk);
        snprintf(name, sizeof name, "sw_%s_pvt", USER_TAG[u]);
        vec_hex(s, name, pvt, sizeof pvt);
        OK(mcx_mikey_builder_new(&users[u].b, &kms, USER_URI[u], NULL, PERIOD_NO, ssk, pvt));
        OK(mcx_uid_format2(USER_URI[u], kms.uri, kms.key_period, kms.key_offset, PERIOD_NO, uid));
        size_t id_len = mcx_identity_from_uid(uid, kms.id_mode, id);
        OK(mcx_eccsi_signer_init(&users[u].signer, kms.kpak, id, id_len, ssk, pvt));
        mcx_memzero(ssk, sizeof ssk);
    }

    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const gen_case *c = &CASES[i];
        uint8_t key[32], rand[16], msg[MCX_MIKEY_MAX_BYTES];
        uint32_t key_id;
        mcx_key_params kp;
        key_params(c, &kp);
        size_t len = build(&users[c->from], c, &kp, NULL, key, &key_id, rand, msg, sizeof msg);

        uint32_t csb_id = key_id;
        if (c->type == MCX_KEY_GMK)
            OK(mcx_guk_id(key, c->key_len, key_id, USER_URI[c->to], &csb_id));
        int generic = c->type == MCX_KEY_GMK || c->type == MCX_KEY_CSK || c->type == MCX_KEY_MUSIK;
        char next[128], roles[64], rand_hex[2 * sizeof rand + 1];
        expectations(c, generic, next, sizeof next, roles, sizeof roles);
        mcx_hex_encode(rand, sizeof rand, rand_hex);
        char *hex = malloc(2 * len + 1);
        if (hex == NULL)
            die("malloc");
        mcx_hex_encode(msg, len, hex);
        printf("%s %s 0x%08x %s %s %s %d %s\n", c->name, generic ? "generic" : "empty",
               (unsigned)csb_id, next, roles, rand_hex, (int)MCX_SAKKE_SED_BYTES(c->key_len), hex);
        free(hex);
        if (raw_dir)
            write_raw(raw_dir, "built", c->name, msg, len);
        mcx_memzero(key, sizeof key);
    }
    if (raw_dir)
        refused_after_signature(raw_dir, users, &kms);
    for (int u = 0; u < N_USERS; u++) {
        mcx_mikey_builder_free(users[u].b);
        mcx_eccsi_signer_wipe(&users[u].signer);
    }
    vec_free(vf);
    return 0;
}
