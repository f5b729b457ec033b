/* mcx mikey: MIKEY-SAKKE I_MESSAGEs on the command line (RFC 6509, TS 33.180 Annex E). Build a
 * signed I_MESSAGE carrying an MCX key, open one as its receiver, show any message payload by
 * payload, and the derivations around them: GUK-ID (F.1.3), SRTP master key and salt (§7.4,
 * RFC 3830 §4.1.3) and DPCK (F.1.5). Every command only calls the public API of mikey.h, keys.h,
 * keyparams.h and mikey_transport.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_groups.h"
#include "mcxsec/hex.h"
#include "mcxsec/kdf.h"
#include "mcxsec/keyparams.h"
#include "mcxsec/keys.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/mikey_transport.h"
#include "mcxsec/uid.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define NTP_UNIX_OFFSET 2208988800u     /* seconds from 1900-01-01 to 1970-01-01 (RFC 5905) */
#define KP_TIME_MAX     0xffffffffffull /* key-parameter times are 40 bits (TS 33.180 E.6) */
/* The KMS certificate of the UID form of 'open' needs a key period, but nothing computes a UID
 * there: any non-zero value does. 30 days, the usual UserKeyPeriod. */
#define ID_FORM_PERIOD 2592000u

/* ---- flags shared by several commands ---- */

#define F_IN                                                                                       \
    {                                                                                              \
        "in", CLI_BYTES, CLI_REQUIRED, {0, 0}, 1, MCX_TRANSPORT_BODY_MAX,                          \
            "the MIKEY message: base64, 'mikey <base64>' (SDP key-mgmt) or hex"                    \
    }
#define F_KPAK                                                                                     \
    {                                                                                              \
        "kpak", CLI_HEX, CLI_REQUIRED, {MCX_ECCSI_POINT_BYTES, 0}, 0, 0,                           \
            "KMS public authentication key, 04||x||y, 65 octets"                                   \
    }
#define F_ZPUB                                                                                     \
    {                                                                                              \
        "Z", CLI_HEX, CLI_REQUIRED, {MCX_SAKKE_POINT_BYTES, 0}, 0, 0,                              \
            "KMS public encryption key of SAKKE, 04||x||y, 257 octets"                             \
    }
#define F_KMS_URI(help)                                                                            \
    {                                                                                              \
        "kms-uri", CLI_STR, 0, {0, 0}, 1, MCX_URI_MAX - 1, help                                    \
    }
#define F_PERIOD                                                                                   \
    {                                                                                              \
        "period", CLI_U64, 0, {0, 0}, 0, 0, "UserKeyPeriod of the KMS in seconds, e.g. 2592000"    \
    }
#define F_OFFSET                                                                                   \
    {                                                                                              \
        "offset", CLI_U64, 0, {0, 0}, 0, 0, "UserKeyOffset of the KMS in seconds, e.g. 0"          \
    }
#define F_ID_HEX_STRING                                                                            \
    {                                                                                              \
        "id-hex-string", CLI_BOOL, 0, {0, 0}, 0, 0,                                                \
            "ECCSI/SAKKE identities are the UIDs' 64-character hex strings (some deployed KMSs)"   \
    }
#define F_UID(name, help)                                                                          \
    {                                                                                              \
        name, CLI_HEX, 0, {MCX_UID_BYTES, 0}, 0, 0, help                                           \
    }
#define F_URI(name, help)                                                                          \
    {                                                                                              \
        name, CLI_STR, 0, {0, 0}, 1, MCX_URI_MAX - 1, help                                         \
    }
#define F_KEY(help)                                                                                \
    {                                                                                              \
        "key", CLI_HEX, CLI_REQUIRED | CLI_SECRET, {16, 32}, 0, 0, help                            \
    }
#define F_ID32(name, opts, help)                                                                   \
    {                                                                                              \
        name, CLI_HEX, opts, {4, 0}, 0, 0, help                                                    \
    }

/* ---- small helpers ---- */

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t be_n(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A JSON string of lowercase hex (NULL when out of memory). */
static json_t *jhex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return NULL;
    mcx_hex_encode(p, n, s);
    json_t *j = json_stringn(s, 2 * n);
    free(s);
    return j;
}

static json_t *jhex32(uint32_t v)
{
    char s[9];
    snprintf(s, sizeof s, "%08x", (unsigned)v);
    return json_string(s);
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* json_object_set_new that tells whether it failed (v NULL: out of memory). */
static int put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) != 0;
}

static int append(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) != 0;
}

/* The text of an IDR or a group ID: printable ASCII, else NULL. */
static json_t *jtext_or_null(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return NULL;
    return json_stringn((const char *)p, n);
}

/* ---- key parameters as JSON (open) and from JSON (build) ---- */

static json_t *params_json(const mcx_key_params *kp, mcx_kp_form form)
{
    json_t *o = json_object();
    const char *tn = mcx_key_type_name(kp->key_type);
    int bad = o == NULL;
    bad |= put(o, "type", tn ? json_string(tn) : jint(kp->key_type));
    bad |= put(o, "status", jint(kp->status));
    bad |= put(o, "activation", jint(kp->activation));
    bad |= put(o, "expiry", jint(kp->expiry));
    /* text is UTF-8 by TS 33.180 E.6, but comes from the sender: hex when it is not */
    json_t *text = json_stringn((const char *)kp->text, kp->text_len);
    if (text != NULL) {
        bad |= put(o, "text", text);
    } else {
        bad |= put(o, "text", json_null());
        bad |= put(o, "text_hex", jhex(kp->text, kp->text_len));
    }
    if (kp->has_groups) {
        json_t *a = json_array();
        bad |= a == NULL;
        for (unsigned i = 0; a != NULL && i < kp->n_groups; i++) {
            const mcx_kp_group_id *g = &kp->groups[i];
            json_t *s =
                g->iei == MCX_KP_IEI_GROUP_ID ? json_stringn((const char *)g->id, g->len) : NULL;
            if (s == NULL) { /* another IEI or not UTF-8: keep every octet */
                s = json_object();
                bad |=
                    s == NULL || put(s, "iei", jint(g->iei)) || put(s, "hex", jhex(g->id, g->len));
            }
            bad |= append(a, s);
        }
        bad |= put(o, "group_ids", a);
    } else {
        bad |= put(o, "group_ids", json_null());
    }
    bad |= put(o, "form", json_string(form == MCX_KP_FORM_LEGACY ? "legacy" : "protected"));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int json_u64_in(const json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

/* --params: {"status", "activation", "expiry", "text", "group_ids"}, every member optional; the
 * key type is the one of --type. */
static int parse_params(cli_ctx *ctx, json_t *j, mcx_key_type type, mcx_key_params *kp)
{
    memset(kp, 0, sizeof *kp);
    kp->key_type = (uint8_t)type;
    kp->status = MCX_KP_STATUS_ACTIVE;
    kp->has_groups = mcx_kp_type_has_groups(type);
    if (!json_is_object(j))
        return cli_usage(ctx, "--params: expected a JSON object such as "
                              "{\"status\":1,\"text\":\"...\",\"group_ids\":[\"sip:g@x\"]}");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        uint64_t x;
        if (strcmp(k, "status") == 0) {
            if (!json_u64_in(v, UINT32_MAX, &x))
                return cli_usage(ctx, "--params: \"status\" must be an integer 0..4294967295");
            kp->status = (uint32_t)x;
        } else if (strcmp(k, "activation") == 0 || strcmp(k, "expiry") == 0) {
            if (!json_u64_in(v, KP_TIME_MAX, &x))
                return cli_usage(ctx, "--params: \"%s\" must be an integer 0..%llu (40 bits)", k,
                                 (unsigned long long)KP_TIME_MAX);
            if (k[0] == 'a')
                kp->activation = x;
            else
                kp->expiry = x;
        } else if (strcmp(k, "text") == 0) {
            size_t n = json_is_string(v) ? json_string_length(v) : 0;
            if (!json_is_string(v) || n > MCX_KP_TEXT_MAX)
                return cli_usage(ctx, "--params: \"text\" must be a string of at most %d octets",
                                 MCX_KP_TEXT_MAX);
            memcpy(kp->text, json_string_value(v), n);
            kp->text_len = (uint16_t)n;
        } else if (strcmp(k, "group_ids") == 0) {
            if (!kp->has_groups)
                return cli_usage(ctx,
                                 "--params: a %s carries no group IDs (only gmk, mkfc and musik)",
                                 mcx_key_type_name(type));
            if (!json_is_array(v) || json_array_size(v) > MCX_KP_GROUPS_MAX)
                return cli_usage(ctx,
                                 "--params: \"group_ids\" must be an array of at most %d "
                                 "strings",
                                 MCX_KP_GROUPS_MAX);
            size_t i;
            json_t *g;
            json_array_foreach(v, i, g)
            {
                size_t n = json_is_string(g) ? json_string_length(g) : 0;
                if (n == 0 || n > MCX_KP_GROUP_ID_MAX)
                    return cli_usage(ctx,
                                     "--params: group_ids[%zu] must be a string of 1 to %d octets",
                                     i, MCX_KP_GROUP_ID_MAX);
                kp->groups[i].iei = MCX_KP_IEI_GROUP_ID;
                kp->groups[i].len = (uint16_t)n;
                memcpy(kp->groups[i].id, json_string_value(g), n);
            }
            kp->n_groups = (uint8_t)json_array_size(v);
        } else if (strcmp(k, "type") == 0) {
            return cli_usage(ctx, "--params: \"type\" is not a member: the key type is --type");
        } else {
            return cli_usage(ctx,
                             "--params: unknown member \"%s\" (status, activation, expiry, text, "
                             "group_ids)",
                             k);
        }
    }
    return CLI_EXIT_OK;
}

/* ---- build ---- */

static const cli_flag build_flags[] = {
    {"type",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     1,
     16,
     "key type: gmk, pck, csk, spk, mkfc, mscck, musik"},
    F_KEY("the key to send (the SSV), 16 or 32 octets"),
    F_ID32("key-id", CLI_REQUIRED,
           "its key ID, 4 octets, purpose tag = --type (for a GMK: the GMK-ID)"),
    F_KPAK,
    F_UID("sender-id", "the sender's UID, 32 octets (or --sender-uri with --kms-uri, --period, "
                       "--offset)"),
    {"ssk",
     CLI_HEX,
     CLI_REQUIRED | CLI_SECRET,
     {MCX_ECCSI_SCALAR_BYTES, 0},
     0,
     0,
     "the sender's secret signing key, 32 octets"},
    {"pvt",
     CLI_HEX,
     CLI_REQUIRED,
     {MCX_ECCSI_POINT_BYTES, 0},
     0,
     0,
     "the sender's public validation token, 65 octets"},
    F_ZPUB,
    F_UID("receiver-id", "the receiver's UID, 32 octets (or --receiver-uri with --kms-uri, "
                         "--period, --offset)"),
    F_URI("receiver-uri", "the receiver's MC service ID (needed for a GMK: its GUK-ID)"),
    {"rand", CLI_HEX, 0, {0, 0}, 1, 255, "RAND, 1 to 255 octets (default: 16 random octets)"},
    {"params",
     CLI_JSON,
     0,
     {0, 0},
     0,
     0,
     "key parameters (General Extension 7), e.g. {\"status\":1,\"text\":\"x\","
     "\"group_ids\":[\"sip:g@x\"]}"},
    F_KMS_URI("the KMS URI, written in IDR roles 6 and 7 and used in UIDs computed from URIs"),
    F_PERIOD,
    F_OFFSET,
    F_URI("sender-uri", "the sender's MC service ID"),
    F_URI("receiver-kms-uri", "the receiver's KMS when it is not the sender's (IDR role 7); --Z "
                              "is then that KMS's Z"),
    {"t", CLI_U64, 0, {0, 0}, 0, 0, "T in NTP seconds (default: now)"},
    {"cs-id",
     CLI_U64,
     0,
     {0, 0},
     0,
     0,
     "CS-ID of the GENERIC-ID map (default: GMK 4, CSK 6, MuSiK 7, others no crypto session)"},
    {"self-copy",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "also encrypt the key to the sender (General Extension 6, SAKKE-to-self)"},
    {"uri-idr",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "name sender and receiver by URI (IDR roles 1/2) instead of UID (roles 8/9)"},
    F_ID_HEX_STRING,
};

/* One side's UID: given, or computed from its URI at the KMS in the key period at T. */
static int need_uid_by_uri(cli_ctx *ctx, const char *side)
{
    char id_flag[32], uri_flag[32];
    snprintf(id_flag, sizeof id_flag, "%s-id", side);
    snprintf(uri_flag, sizeof uri_flag, "%s-uri", side);
    if (cli_has(ctx, id_flag))
        return CLI_EXIT_OK;
    if (!cli_has(ctx, uri_flag) || !cli_has(ctx, "kms-uri") || !cli_has(ctx, "period") ||
        !cli_has(ctx, "offset"))
        return cli_usage(ctx,
                         "give --%s, or --%s with --kms-uri, --period and --offset to compute "
                         "the UID",
                         id_flag, uri_flag);
    return CLI_EXIT_OK;
}

static int run_build(cli_ctx *ctx)
{
    mcx_key_type type;
    if (mcx_key_type_from_name(cli_str(ctx, "type"), &type) != MCX_OK)
        return cli_usage(ctx, "--type: '%s' is not one of gmk, pck, csk, spk, mkfc, mscck, musik",
                         cli_str(ctx, "type"));
    size_t key_len, rand_len;
    const uint8_t *key = cli_hex(ctx, "key", &key_len);
    uint32_t key_id = be32(cli_hex(ctx, "key-id", NULL));
    if (mcx_key_id_purpose(key_id) != (unsigned)type) {
        const char *tn = mcx_key_type_name(mcx_key_id_purpose(key_id));
        return cli_usage(ctx, "--key-id: %08x has purpose tag %u (%s), but --type is %s",
                         (unsigned)key_id, mcx_key_id_purpose(key_id), tn ? tn : "none",
                         mcx_key_type_name(type));
    }
    int rc;
    if ((rc = need_uid_by_uri(ctx, "sender")) != CLI_EXIT_OK ||
        (rc = need_uid_by_uri(ctx, "receiver")) != CLI_EXIT_OK)
        return rc;
    if (cli_has(ctx, "period") && cli_u64(ctx, "period") == 0)
        return cli_usage(ctx, "--period: must be positive");
    if (type == MCX_KEY_GMK && !cli_has(ctx, "receiver-uri"))
        return cli_usage(ctx, "a GMK needs --receiver-uri: its GUK-ID is derived from it "
                              "(TS 33.180 F.1.3)");
    if (cli_has(ctx, "uri-idr") && !(cli_has(ctx, "sender-uri") && cli_has(ctx, "receiver-uri")))
        return cli_usage(ctx, "--uri-idr needs --sender-uri and --receiver-uri");
    if (cli_has(ctx, "self-copy") && cli_has(ctx, "receiver-kms-uri"))
        return cli_usage(ctx, "--self-copy needs the sender's own Z, but with --receiver-kms-uri "
                              "--Z is the receiver's KMS's");
    if (cli_has(ctx, "cs-id") && cli_u64(ctx, "cs-id") > 255)
        return cli_usage(ctx, "--cs-id: %llu is not an octet (0..255)",
                         (unsigned long long)cli_u64(ctx, "cs-id"));
    mcx_key_params kp;
    if (cli_has(ctx, "params") &&
        (rc = parse_params(ctx, cli_json(ctx, "params"), type, &kp)) != CLI_EXIT_OK)
        return rc;

    mcx_kms_cert kms;
    memset(&kms, 0, sizeof kms);
    if (cli_has(ctx, "kms-uri"))
        snprintf(kms.uri, sizeof kms.uri, "%s", cli_str(ctx, "kms-uri"));
    memcpy(kms.Z, cli_hex(ctx, "Z", NULL), sizeof kms.Z);
    memcpy(kms.kpak, cli_hex(ctx, "kpak", NULL), sizeof kms.kpak);
    kms.key_period = cli_u64(ctx, "period");
    kms.key_offset = cli_u64(ctx, "offset");
    kms.id_mode = cli_has(ctx, "id-hex-string") ? MCX_ID_HEX_STRING : MCX_ID_RAW;

    /* One T for the message and for every UID computed from a URI. */
    uint64_t t = cli_has(ctx, "t") ? cli_u64(ctx, "t") : mcx_ntp_now();
    if (t == 0)
        return cli_usage(ctx, "--t: must be positive (NTP seconds since 1900)");
    uint64_t period_no = kms.key_period ? mcx_key_period_no(t, kms.key_period, kms.key_offset) : 0;

    /* Another KMS for the receiver: same key period and offset, --Z is its Z (SAKKE encrypts
     * under the receiver's KMS); the sender's certificate only signs then. */
    mcx_kms_cert rkms = kms;
    if (cli_has(ctx, "receiver-kms-uri"))
        snprintf(rkms.uri, sizeof rkms.uri, "%s", cli_str(ctx, "receiver-kms-uri"));

    mcx_mikey_builder *b = NULL;
    mcx_status st =
        mcx_mikey_builder_new(&b, &kms, cli_str(ctx, "sender-uri"), cli_hex(ctx, "sender-id", NULL),
                              period_no, cli_hex(ctx, "ssk", NULL), cli_hex(ctx, "pvt", NULL));
    if (st != MCX_OK)
        return cli_fail(ctx, st, "sender key set rejected (RFC 6507 5.1.2)");
    mcx_mikey_build_args a;
    memset(&a, 0, sizeof a);
    a.type = type;
    a.key = key;
    a.key_len = key_len;
    a.key_id = key_id;
    a.receiver_uri = cli_str(ctx, "receiver-uri");
    a.receiver_uid = cli_hex(ctx, "receiver-id", NULL);
    a.receiver_kms = cli_has(ctx, "receiver-kms-uri") ? &rkms : NULL;
    a.params = cli_has(ctx, "params") ? &kp : NULL;
    a.rand = cli_hex(ctx, "rand", &rand_len);
    a.rand_len = rand_len;
    a.t_ntp = t;
    a.cs_id = cli_has(ctx, "cs-id") ? (int)cli_u64(ctx, "cs-id") : -1;
    a.self_copy = cli_has(ctx, "self-copy");
    a.idr_style = cli_has(ctx, "uri-idr") ? MCX_IDR_STYLE_URI : MCX_IDR_STYLE_UID;
    uint8_t msg[MCX_MIKEY_MAX_BYTES];
    size_t msg_len = 0;
    st = mcx_mikey_build(b, &a, msg, sizeof msg, &msg_len);
    mcx_mikey_builder_free(b);
    mcx_memzero(&kp, sizeof kp);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "building the I_MESSAGE failed");
    char b64[MCX_BASE64_ENCODED_LEN(MCX_MIKEY_MAX_BYTES) + 1];
    size_t b64_len;
    st = mcx_base64_encode(msg, msg_len, b64, sizeof b64, &b64_len);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "base64 encoding failed");
    json_t *o = cli_out_new();
    if (o == NULL || put(o, "mikey", json_stringn(b64, b64_len))) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- open ---- */

static const cli_flag open_flags[] = {
    F_IN,
    {"rsk",
     CLI_HEX,
     CLI_REQUIRED | CLI_SECRET,
     {MCX_SAKKE_POINT_BYTES, 0},
     0,
     0,
     "the receiver's secret key (RSK), 257 octets"},
    F_ZPUB,
    F_KPAK,
    F_UID("receiver-id", "the receiver's UID, 32 octets (with --sender-id)"),
    F_UID("sender-id", "the sender's UID, 32 octets (with --receiver-id)"),
    F_URI("receiver-uri", "the receiver's MC service ID (with --sender-uri, --kms-uri, --period, "
                          "--offset)"),
    F_URI("sender-uri", "the sender's MC service ID"),
    F_KMS_URI("the KMS URI (UIDs computed from URIs; the message's IDRkms must name it)"),
    F_PERIOD,
    F_OFFSET,
    {"period-no",
     CLI_U64,
     0,
     {0, 0},
     0,
     0,
     "the receiver's key period number (default: the one in force at the message's T)"},
    {"sender-kpak",
     CLI_HEX,
     0,
     {MCX_ECCSI_POINT_BYTES, 0},
     0,
     0,
     "KPAK of the sender's KMS when it is another KMS, named by the message's IDRkmsi"},
    F_ID_HEX_STRING,
    {"any-time", CLI_BOOL, 0, {0, 0}, 0, 0, "skip the check of T against the clock"},
    {"legacy-sign-scope",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "also accept signatures over the octets before SIGN (older deployed senders)"},
};

static int rejected(const cli_ctx *ctx, mcx_mikey_stage stage, mcx_status st, const char *reason)
{
    if (st == MCX_E_NOMEM || st == MCX_E_INTERNAL || st == MCX_E_RANDOM)
        return cli_fail(ctx, st, "opening failed");
    return cli_reject(ctx, "rejected (%s): %s (%s)", mcx_mikey_stage_verdict(stage), reason,
                      mcx_status_name(st));
}

/* The name of the sender's KMS as the opener reads it: IDR role 6, else the first role 3,
 * without the trailing NULs some senders add. Returns 0 when the message names none usable. */
static int sender_kms_name(const mcx_mikey_msg *m, char name[MCX_URI_MAX])
{
    const mcx_mikey_idr *idr = NULL;
    for (size_t i = 0; i < m->n_idr && idr == NULL; i++)
        if (m->idr[i].role == MCX_IDR_KMS_I)
            idr = &m->idr[i];
    for (size_t i = 0; i < m->n_idr && idr == NULL; i++)
        if (m->idr[i].role == MCX_IDR_KMS)
            idr = &m->idr[i];
    if (idr == NULL)
        return 0;
    size_t n = idr->data.len;
    while (n > 0 && idr->data.p[n - 1] == 0)
        n--;
    if (n == 0 || n >= MCX_URI_MAX || memchr(idr->data.p, 0, n) != NULL)
        return 0;
    memcpy(name, idr->data.p, n);
    name[n] = 0;
    return 1;
}

/* Which of the two ways of naming the parties the flags use, checked. */
static int open_form(cli_ctx *ctx, int *id_form)
{
    int ids = cli_has(ctx, "receiver-id") || cli_has(ctx, "sender-id");
    int uris = cli_has(ctx, "receiver-uri") || cli_has(ctx, "sender-uri");
    if (ids && uris)
        return cli_usage(ctx, "give either --receiver-id and --sender-id, or --receiver-uri and "
                              "--sender-uri, not both");
    if (!ids && !uris)
        return cli_usage(ctx, "give --receiver-id and --sender-id, or --receiver-uri, "
                              "--sender-uri, --kms-uri, --period and --offset");
    static const char *const ID_FORM[] = {"receiver-id", "sender-id"};
    static const char *const URI_FORM[] = {"receiver-uri", "sender-uri", "kms-uri", "period",
                                           "offset"};
    const char *const *need = ids ? ID_FORM : URI_FORM;
    size_t n = ids ? COUNT(ID_FORM) : COUNT(URI_FORM);
    for (size_t i = 0; i < n; i++)
        if (!cli_has(ctx, need[i]))
            return cli_usage(ctx, "missing --%s (with --%s)", need[i],
                             ids ? "receiver-id/--sender-id" : "receiver-uri/--sender-uri");
    if (ids && cli_has(ctx, "period-no"))
        return cli_usage(ctx, "--period-no applies to --receiver-uri: a UID names its period");
    if (cli_has(ctx, "period") && cli_u64(ctx, "period") == 0)
        return cli_usage(ctx, "--period: must be positive");
    *id_form = ids;
    return CLI_EXIT_OK;
}

static json_t *open_json(const mcx_mikey_result *r)
{
    json_t *o = cli_out_new();
    const char *tn = mcx_key_type_name(r->type);
    int gmk = r->type == MCX_KEY_GMK;
    int bad = o == NULL;
    bad |= put(o, "verdict", json_string(mcx_mikey_stage_verdict(r->stage)));
    bad |= put(o, "type", tn ? json_string(tn) : jint(r->type));
    bad |= cli_out_hex(o, "key", r->key, r->key_len) != 0;
    bad |= put(o, "key_id", jhex32(r->key_id));
    bad |= put(o, "gmk_id", gmk ? jhex32(r->gmk_id) : json_null());
    bad |= put(o, "guk_id", gmk ? jhex32(r->guk_id) : json_null());
    bad |= put(o, "rand", jhex(r->rand, r->rand_len));
    bad |= put(o, "params", r->has_params ? params_json(&r->params, r->params_form) : json_null());
    bad |= put(o, "period_no",
               r->receiver_period_known ? jint(r->receiver_period_no)
               : r->sender_period_known ? jint(r->sender_period_no)
                                        : json_null());
    bad |= cli_out_bool(o, "legacy_scope", r->legacy_scope) != 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int run_open(cli_ctx *ctx)
{
    int id_form = 0, rc;
    if ((rc = open_form(ctx, &id_form)) != CLI_EXIT_OK)
        return rc;
    size_t msg_len;
    const uint8_t *msg = cli_hex(ctx, "in", &msg_len);

    /* The message's structure first: its T gives the receiver's key period, its IDRkmsi the
     * name of the sender's KMS. A malformed message is rejected here as the opener would. */
    mcx_mikey_msg m;
    mcx_status st = mcx_mikey_decode(msg, msg_len, &m);
    if (st != MCX_OK)
        return rejected(ctx, MCX_MIKEY_STAGE_PARSE, st, mcx_last_error());
    if (!m.has_t)
        return rejected(ctx, MCX_MIKEY_STAGE_PARSE, MCX_E_ENCODING, "MIKEY: no T payload");

    /* The receiver's KMS: named by --kms-uri, or "" (any name: the keys were given by hand). */
    mcx_kms_cert rk;
    memset(&rk, 0, sizeof rk);
    if (cli_has(ctx, "kms-uri"))
        snprintf(rk.uri, sizeof rk.uri, "%s", cli_str(ctx, "kms-uri"));
    memcpy(rk.Z, cli_hex(ctx, "Z", NULL), sizeof rk.Z);
    memcpy(rk.kpak, cli_hex(ctx, "kpak", NULL), sizeof rk.kpak);
    rk.key_period = cli_has(ctx, "period") ? cli_u64(ctx, "period") : ID_FORM_PERIOD;
    rk.key_offset = cli_u64(ctx, "offset");
    rk.id_mode = cli_has(ctx, "id-hex-string") ? MCX_ID_HEX_STRING : MCX_ID_RAW;

    /* --sender-kpak: the sender's KMS is another one, known by the name the message gives it
     * (IDRkmsi); the opener finds KMSs by name, so that name gets its own certificate with the
     * sender's KPAK (its Z is never used: the sender's KMS only verifies). It is added first, so
     * a receiver's KMS named "" (which matches any name) does not shadow it. */
    mcx_kms_cert sk;
    const char *sender_kms = rk.uri;
    if (cli_has(ctx, "sender-kpak")) {
        sk = rk;
        if (!sender_kms_name(&m, sk.uri))
            return cli_usage(ctx, "--sender-kpak: the message names no sender's KMS (IDR role 6 "
                                  "or 3), so no KMS can be given that KPAK");
        if (rk.uri[0] && strcmp(rk.uri, sk.uri) == 0)
            return cli_usage(ctx,
                             "--sender-kpak: the message names the sender's KMS \"%s\", which is "
                             "--kms-uri: one KMS has one KPAK",
                             sk.uri);
        memcpy(sk.kpak, cli_hex(ctx, "sender-kpak", NULL), sizeof sk.kpak);
        sender_kms = sk.uri;
    }

    mcx_mikey_settings set;
    memset(&set, 0, sizeof set);
    set.any_time = cli_has(ctx, "any-time");
    set.allow_legacy_scope = cli_has(ctx, "legacy-sign-scope");
    set.replay_entries = 4; /* one message per run */
    mcx_mikey_opener *o = NULL;
    st = mcx_mikey_opener_new(&o, &set);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "opener");
    mcx_mikey_result res;
    memset(&res, 0, sizeof res);
    if (cli_has(ctx, "sender-kpak") && (st = mcx_mikey_opener_add_kms(o, &sk)) != MCX_OK) {
        rc = cli_fail(ctx, st, "--sender-kpak rejected");
        goto out;
    }
    if ((st = mcx_mikey_opener_add_kms(o, &rk)) != MCX_OK) {
        rc = cli_fail(ctx, st, "--Z/--kpak rejected");
        goto out;
    }
    uint64_t period_no = 0;
    if (id_form) {
        st = mcx_mikey_opener_add_identity(o, NULL, cli_hex(ctx, "receiver-id", NULL), rk.uri, 0,
                                           cli_hex(ctx, "rsk", NULL));
    } else {
        period_no = cli_has(ctx, "period-no")
                        ? cli_u64(ctx, "period-no")
                        : mcx_key_period_no(mcx_mikey_t_seconds(&m), rk.key_period, rk.key_offset);
        st = mcx_mikey_opener_add_identity(o, cli_str(ctx, "receiver-uri"), NULL, rk.uri, period_no,
                                           cli_hex(ctx, "rsk", NULL));
    }
    if (st != MCX_OK) {
        if (id_form)
            rc = cli_fail(ctx, st, "RSK rejected for --receiver-id (RFC 6508 6.1.2)");
        else
            rc = cli_fail(ctx, st, "RSK rejected for %s in key period %llu (RFC 6508 6.1.2)",
                          cli_str(ctx, "receiver-uri"), (unsigned long long)period_no);
        goto out;
    }
    st = id_form ? mcx_mikey_opener_add_peer(o, NULL, cli_hex(ctx, "sender-id", NULL), sender_kms)
                 : mcx_mikey_opener_add_peer(o, cli_str(ctx, "sender-uri"), NULL, sender_kms);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "cannot accept the sender");
        goto out;
    }
    st = mcx_mikey_open(o, msg, msg_len, NULL, &res);
    if (st != MCX_OK) {
        rc = rejected(ctx, res.stage, st, res.reason);
        goto out;
    }
    rc = cli_emit(ctx, open_json(&res));
out:
    mcx_mikey_result_wipe(&res);
    mcx_mikey_opener_free(o);
    return rc;
}

/* ---- dump ---- */

static const cli_flag dump_flags[] = {F_IN};

static const char *role_name(unsigned role)
{
    static const char *const N[] = {
        [MCX_IDR_I] = "initiator",
        [MCX_IDR_R] = "responder",
        [MCX_IDR_KMS] = "KMS",
        [MCX_IDR_PSK] = "pre-shared key",
        [MCX_IDR_APP] = "application",
        [MCX_IDR_KMS_I] = "initiator's KMS",
        [MCX_IDR_KMS_R] = "responder's KMS",
        [MCX_IDR_UID_I] = "initiator's UID",
        [MCX_IDR_UID_R] = "responder's UID",
    };
    return role < COUNT(N) && N[role] ? N[role] : "unknown";
}

static int dump_hdr(json_t *p, const mcx_mikey_msg *m)
{
    static const char *const MAP[] = {"SRTP-ID", "empty", "GENERIC-ID"};
    const char *purpose = mcx_key_type_name(mcx_key_id_purpose(m->csb_id));
    int bad = put(p, "version", jint(m->version));
    bad |= put(p, "data_type", jint(m->data_type));
    bad |= put(p, "data_type_name",
               json_string(m->data_type == MCX_MIKEY_DATA_SAKKE_I   ? "SAKKE I_MESSAGE"
                           : m->data_type == MCX_MIKEY_DATA_SAKKE_R ? "SAKKE response"
                                                                    : "other"));
    bad |= put(p, "v", jint(m->v_flag));
    bad |= put(p, "prf", jint(m->prf));
    bad |= put(p, "prf_name",
               json_string(m->prf == MCX_MIKEY_PRF_HMAC256 ? "PRF-HMAC-SHA-256"
                           : m->prf == 0                   ? "MIKEY-1"
                                                           : "unknown"));
    bad |= put(p, "csb_id", jhex32(m->csb_id));
    bad |= put(p, "csb_id_purpose", purpose ? json_string(purpose) : json_null());
    bad |= put(p, "n_cs", jint(m->n_cs));
    bad |= put(p, "map_type", jint(m->map_type));
    bad |= put(p, "map_type_name", json_string(m->map_type < 3 ? MAP[m->map_type] : "unknown"));
    json_t *cs = json_array();
    bad |= cs == NULL;
    for (unsigned i = 0; cs != NULL && i < m->n_cs; i++) {
        const mcx_mikey_cs *c = &m->cs[i];
        json_t *e = json_object();
        bad |= e == NULL;
        if (m->map_type == MCX_MIKEY_MAP_SRTP_ID) {
            bad |= put(e, "policy_no", jint(c->policy_no));
            bad |= put(e, "ssrc", jhex32(c->ssrc));
            bad |= put(e, "roc", jhex32(c->roc));
        } else {
            json_t *pol = json_array();
            bad |= pol == NULL;
            for (unsigned k = 0; pol != NULL && k < c->n_policies; k++)
                bad |= append(pol, jint(c->policies[k]));
            bad |= put(e, "cs_id", jint(c->cs_id));
            bad |= put(e, "prot_type", jint(c->prot_type));
            bad |= put(e, "s", jint(c->s_flag));
            bad |= put(e, "policies", pol);
            bad |= put(e, "session_data", jhex(c->session_data.p, c->session_data.len));
            bad |= put(e, "spi", jhex(c->spi.p, c->spi.len));
        }
        bad |= append(cs, e);
    }
    bad |= put(p, "cs", cs);
    return bad;
}

static int dump_t(json_t *p, const mcx_mikey_msg *m)
{
    static const char *const TS[] = {"NTP-UTC", "NTP", "COUNTER"};
    int bad = put(p, "ts_type", jint(m->ts_type));
    bad |= put(p, "ts_type_name", json_string(m->ts_type < 3 ? TS[m->ts_type] : "unknown"));
    if (m->ts_type == MCX_MIKEY_TS_COUNTER) {
        bad |= put(p, "value", jhex32((uint32_t)m->ts));
        bad |= put(p, "counter", jint(m->ts));
        return bad;
    }
    uint8_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(m->ts >> (56 - 8 * i));
    uint64_t secs = mcx_mikey_t_seconds(m);
    bad |= put(p, "value", jhex(v, sizeof v));
    bad |= put(p, "ntp_seconds", jint(secs));
    /* ISO 8601 UTC; NTP era 0 (until 2036), which is what every T here carries */
    time_t unix_time = (time_t)((int64_t)secs - (int64_t)NTP_UNIX_OFFSET);
    struct tm tm;
    char iso[32];
    if (gmtime_r(&unix_time, &tm) != NULL && strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm))
        bad |= put(p, "utc", json_string(iso));
    else
        bad |= put(p, "utc", json_null());
    return bad;
}

static int dump_idr(json_t *p, const mcx_mikey_idr *id)
{
    static const char *const TYPES[] = {"NAI", "URI", "byte string"};
    int bad = put(p, "role", jint(id->role));
    bad |= put(p, "role_name", json_string(role_name(id->role)));
    bad |= put(p, "id_type", jint(id->id_type));
    bad |= put(p, "id_type_name", json_string(id->id_type < 3 ? TYPES[id->id_type] : "unknown"));
    bad |= put(p, "length", jint(id->data.len));
    /* UIDs are hashes: always hex. URIs and KMS names as text when they are printable (a
     * trailing NUL that some senders add is shown in the hex form only). */
    json_t *text = id->role == MCX_IDR_UID_I || id->role == MCX_IDR_UID_R
                       ? NULL
                       : jtext_or_null(id->data.p, id->data.len);
    if (text != NULL)
        bad |= put(p, "text", text);
    else
        bad |= put(p, "hex", jhex(id->data.p, id->data.len));
    return bad;
}

static int dump_sp(json_t *p, const mcx_mikey_sp *sp)
{
    int bad = put(p, "policy_no", jint(sp->policy_no));
    bad |= put(p, "prot_type", jint(sp->prot_type));
    bad |= put(p, "prot_type_name", json_string(sp->prot_type == 0 ? "SRTP" : "other"));
    json_t *a = json_array();
    bad |= a == NULL;
    /* type(1) length(1) value: the decoder checked that the list is well formed */
    for (size_t i = 0; a != NULL && i + 2 <= sp->params.len;) {
        size_t n = sp->params.p[i + 1];
        if (i + 2 + n > sp->params.len)
            break;
        char item[8 + 2 * 255 + 1];
        int k = snprintf(item, sizeof item, "%u:", (unsigned)sp->params.p[i]);
        mcx_hex_encode(sp->params.p + i + 2, n, item + k);
        bad |= append(a, json_string(item));
        i += 2 + n;
    }
    bad |= put(p, "params", a);
    return bad;
}

static int dump_sakke(json_t *p, uint8_t params, uint8_t scheme, size_t sed_len)
{
    int bad = put(p, "params", jint(params));
    bad |= put(p, "id_scheme", jint(scheme));
    bad |= put(p, "id_scheme_name",
               json_string(scheme == MCX_MIKEY_ID_SCHEME_UID ? "3GPP MCX hashed UID" : "other"));
    bad |= put(p, "sed_length", jint(sed_len));
    return bad;
}

/* General Extension 7 (TS 33.180 E.6): the protected wrapper's fields, not decrypted;
 * type(1) date-time(5) payload ID(4) seq(1) algorithm(1) IV(16) DPPK-ID(4) TLV type(1)
 * TLV length(2) ciphertext||tag. A first octet 1..3 is the unencrypted legacy form. */
static int dump_keyparams(json_t *p, const uint8_t *d, size_t n)
{
    enum { HEAD = 1 + 5 + 4 + 1 + 1 + MCX_KP_IV_BYTES + 4 + 1 + 2 };
    int bad = 0;
    if (n > 0 && d[0] >= 1 && d[0] <= 3) {
        const char *tn = mcx_key_type_name(d[0] - 1u);
        bad |= put(p, "form", json_string("legacy (not encrypted)"));
        bad |= put(p, "key_type", tn ? json_string(tn) : jint(d[0] - 1u));
        bad |= put(p, "data", jhex(d, n));
        return bad;
    }
    bad |= put(p, "form", json_string("protected"));
    if (n < HEAD) {
        bad |= put(p, "malformed", json_string("shorter than the protected wrapper's 35 octets"));
        bad |= put(p, "data", jhex(d, n));
        return bad;
    }
    const uint8_t *iv = d + 12, *dppk = iv + MCX_KP_IV_BYTES, *tlv = dppk + 4;
    size_t tlv_len = ((size_t)tlv[1] << 8) | tlv[2];
    bad |= put(p, "wrapper_type", jint(d[0]));
    bad |= put(p, "date_time", jint(be_n(d + 1, 5)));
    bad |= put(p, "payload_id", jhex(d + 6, 4));
    bad |= put(p, "seq", jint(d[10]));
    bad |= put(p, "alg", jint(d[11]));
    bad |= put(p, "alg_name",
               json_string(d[11] == MCX_KP_ALG_AES128_GCM   ? "AES-128-GCM"
                           : d[11] == MCX_KP_ALG_AES256_GCM ? "AES-256-GCM"
                                                            : "unknown"));
    bad |= put(p, "iv", jhex(iv, MCX_KP_IV_BYTES));
    bad |= put(p, "dppk_id", jhex(dppk, 4));
    bad |= put(p, "tlv_type", jint(tlv[0]));
    bad |= put(p, "tlv_length", jint(tlv_len));
    bad |= put(p, "ciphertext_length", jint(n - HEAD));
    if (tlv_len != n - HEAD)
        bad |= put(p, "malformed", json_string("TLV length disagrees with the extension length"));
    return bad;
}

static int dump_gext(json_t *p, const mcx_mikey_gext *g)
{
    int bad = put(p, "type", jint(g->type));
    bad |= put(p, "type_name",
               json_string(g->type == MCX_MIKEY_GEXT_SELF        ? "SAKKE-to-self"
                           : g->type == MCX_MIKEY_GEXT_KEYPARAMS ? "key parameters"
                                                                 : "other"));
    bad |= put(p, "length", jint(g->data.len));
    const uint8_t *d = g->data.p;
    size_t n = g->data.len;
    if (g->type == MCX_MIKEY_GEXT_KEYPARAMS)
        return bad | dump_keyparams(p, d, n);
    if (g->type == MCX_MIKEY_GEXT_SELF) {
        /* a SAKKE payload body (TS 33.180 E.5): next(1) params(1) scheme(1) length(2) SED */
        if (n >= 5 && n == 5 + (((size_t)d[3] << 8) | d[4])) {
            json_t *s = json_object();
            bad |= s == NULL || dump_sakke(s, d[1], d[2], n - 5);
            bad |= put(p, "sakke", s);
            return bad;
        }
        bad |= put(p, "malformed", json_string("not a SAKKE payload body"));
    }
    return bad | put(p, "data", jhex(d, n));
}

static int dump_sign(json_t *p, const mcx_mikey_msg *m)
{
    int bad = put(p, "s_type", jint(m->sign_type));
    bad |= put(p, "s_type_name",
               json_string(m->sign_type == MCX_MIKEY_SIGN_ECCSI ? "ECCSI" : "other"));
    bad |= put(p, "length", jint(m->sig.len));
    bad |= put(p, "signed_length", jint(m->signed_len));
    bad |= put(p, "legacy_signed_length", jint(m->sign_offset));
    if (m->sign_type == MCX_MIKEY_SIGN_ECCSI && m->sig.len == MCX_ECCSI_SIG_BYTES) {
        bad |= put(p, "r", jhex(m->sig.p, 32));
        bad |= put(p, "s", jhex(m->sig.p + 32, 32));
        bad |= put(p, "pvt", jhex(m->sig.p + 64, MCX_ECCSI_POINT_BYTES));
    } else {
        bad |= put(p, "signature", jhex(m->sig.p, m->sig.len));
    }
    return bad;
}

static int run_dump(cli_ctx *ctx)
{
    size_t len;
    const uint8_t *msg = cli_hex(ctx, "in", &len);
    mcx_mikey_msg m;
    mcx_status st = mcx_mikey_decode(msg, len, &m);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "malformed MIKEY message");
    json_t *o = cli_out_new();
    json_t *list = json_array();
    int bad = o == NULL || list == NULL;
    bad |= put(o, "length", jint(len));
    size_t n_idr = 0, n_sp = 0, n_gext = 0;
    for (size_t i = 0; !bad && i < m.n_payloads; i++) {
        unsigned t = m.order[i];
        json_t *p = json_object();
        bad |= p == NULL || put(p, "payload", json_string(mcx_mikey_payload_name(t)));
        if (bad) {
            json_decref(p);
            break;
        }
        switch (t) {
        case MCX_MIKEY_PT_HDR:
            bad |= dump_hdr(p, &m);
            break;
        case MCX_MIKEY_PT_T:
            bad |= dump_t(p, &m);
            break;
        case MCX_MIKEY_PT_RAND:
            bad |= put(p, "length", jint(m.rand.len));
            bad |= put(p, "rand", jhex(m.rand.p, m.rand.len));
            break;
        case MCX_MIKEY_PT_IDR:
            bad |= n_idr >= m.n_idr || dump_idr(p, &m.idr[n_idr++]);
            break;
        case MCX_MIKEY_PT_SP:
            bad |= n_sp >= m.n_sp || dump_sp(p, &m.sp[n_sp++]);
            break;
        case MCX_MIKEY_PT_SAKKE:
            bad |= dump_sakke(p, m.sakke_params, m.id_scheme, m.sed.len);
            break;
        case MCX_MIKEY_PT_GEXT:
            bad |= n_gext >= m.n_gext || dump_gext(p, &m.gext[n_gext++]);
            break;
        case MCX_MIKEY_PT_SIGN:
            bad |= dump_sign(p, &m);
            break;
        default:
            break;
        }
        bad |= append(list, p);
    }
    bad |= put(o, "payloads", list);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- derive-guk-id ---- */

static const cli_flag guk_flags[] = {
    {"gmk", CLI_HEX, CLI_REQUIRED | CLI_SECRET, {16, 32}, 0, 0, "the GMK, 16 or 32 octets"},
    F_ID32("gmk-id", 0, "the GMK-ID, 4 octets: print the receiver's GUK-ID"),
    F_ID32("guk-id", 0, "or a GUK-ID, 4 octets: print the GMK-ID (the receiver's inverse)"),
    {"uri", CLI_STR, CLI_REQUIRED, {0, 0}, 1, 65535, "the receiving user's MC service ID"},
};

static int run_derive_guk(cli_ctx *ctx)
{
    size_t gmk_len;
    const uint8_t *gmk = cli_hex(ctx, "gmk", &gmk_len);
    int fwd = cli_has(ctx, "gmk-id");
    if (fwd == cli_has(ctx, "guk-id"))
        return cli_usage(ctx, "give exactly one of --gmk-id and --guk-id");
    uint32_t in = be32(cli_hex(ctx, fwd ? "gmk-id" : "guk-id", NULL)), out;
    mcx_status st = fwd ? mcx_guk_id(gmk, gmk_len, in, cli_str(ctx, "uri"), &out)
                        : mcx_gmk_id_from_guk_id(gmk, gmk_len, in, cli_str(ctx, "uri"), &out);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "GUK-ID derivation failed");
    json_t *o = cli_out_new();
    if (o == NULL || put(o, fwd ? "guk_id" : "gmk_id", jhex32(out))) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- derive-srtp ---- */

static const cli_flag srtp_flags[] = {
    F_KEY("the TGK: GMK, PCK, CSK, MuSiK, ..., 16 or 32 octets"),
    {"cs-id", CLI_U64, CLI_REQUIRED, {0, 0}, 0, 0, "the CS-ID, 0..255 (TS 33.180 Table E.1.3-1)"},
    F_ID32("csb-id", CLI_REQUIRED, "the CSB-ID, 4 octets (the GUK-ID for a GMK, else the key ID)"),
    {"rand", CLI_HEX, CLI_REQUIRED, {0, 0}, 1, 255, "the I_MESSAGE's RAND"},
    {"key-len", CLI_U64, 0, {0, 0}, 0, 0, "master key octets, 16 (default) or 32"},
    {"salt-len", CLI_U64, 0, {0, 0}, 0, 0, "master salt octets, 12 (default) or 14"},
};

static int run_derive_srtp(cli_ctx *ctx)
{
    size_t key_len, rand_len;
    const uint8_t *tgk = cli_hex(ctx, "key", &key_len);
    const uint8_t *rand = cli_hex(ctx, "rand", &rand_len);
    uint64_t cs_id = cli_u64(ctx, "cs-id");
    uint64_t mk_len = cli_has(ctx, "key-len") ? cli_u64(ctx, "key-len") : 16;
    uint64_t ms_len = cli_has(ctx, "salt-len") ? cli_u64(ctx, "salt-len") : 12;
    if (cs_id > 255)
        return cli_usage(ctx, "--cs-id: %llu is not an octet (0..255)", (unsigned long long)cs_id);
    if (mk_len != 16 && mk_len != 32)
        return cli_usage(ctx, "--key-len: must be 16 or 32");
    if (ms_len != 12 && ms_len != 14)
        return cli_usage(ctx, "--salt-len: must be 12 or 14");
    uint8_t mk[32], ms[14];
    mcx_status st =
        mcx_srtp_master(tgk, key_len, (uint8_t)cs_id, be32(cli_hex(ctx, "csb-id", NULL)), rand,
                        rand_len, mk, mk_len, ms, ms_len);
    int rc;
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "SRTP master key derivation failed");
    } else {
        json_t *o = cli_out_new();
        if (cli_out_hex(o, "master_key", mk, mk_len) || cli_out_hex(o, "master_salt", ms, ms_len)) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_memzero(mk, sizeof mk);
    mcx_memzero(ms, sizeof ms);
    return rc;
}

/* ---- derive-dpck ---- */

#define DPCK_FC_LEGACY 0xAA /* what libraries before 2023 used (FORMATS §5) */

static const cli_flag dpck_flags[] = {
    F_KEY("the DPPK (the GMK, PCK, ... of the MCData payload), 16 or 32 octets"),
    F_ID32("dppk-id", CLI_REQUIRED,
           "the DPPK-ID, 4 octets (in an I_MESSAGE's key parameters: the CSB-ID)"),
    {"legacy-fc",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "use FC 0xAA as libraries before 2023, not 0x53 (TS 33.180 F.1.5)"},
};

static int run_derive_dpck(cli_ctx *ctx)
{
    size_t key_len;
    const uint8_t *dppk = cli_hex(ctx, "key", &key_len);
    uint8_t dpck[MCX_DPCK_BYTES];
    mcx_status st = mcx_dpck(dppk, key_len, be32(cli_hex(ctx, "dppk-id", NULL)),
                             cli_has(ctx, "legacy-fc") ? DPCK_FC_LEGACY : MCX_KDF_FC_DPCK, dpck);
    int rc;
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "DPCK derivation failed");
    } else {
        json_t *o = cli_out_new();
        if (cli_out_hex(o, "dpck", dpck, sizeof dpck)) {
            json_decref(o);
            o = NULL;
        }
        rc = cli_emit(ctx, o);
    }
    mcx_memzero(dpck, sizeof dpck);
    return rc;
}

static const cli_command mikey_commands[] = {
    {.name = "build",
     .summary = "build a signed MIKEY-SAKKE I_MESSAGE carrying an MCX key",
     .description =
         "Encrypt --key to the receiver with SAKKE (RFC 6508) and sign the I_MESSAGE with the\n"
         "sender's ECCSI key pair (RFC 6507), in the layout of TS 33.180 Annex E that deployed\n"
         "receivers read. The sender's SSK/PVT are validated first (exit 1 if bad). UIDs are\n"
         "given (--sender-id, --receiver-id) or computed from the URIs at --kms-uri in the key\n"
         "period in force at T. A GMK needs --receiver-uri: the CSB-ID is its GUK-ID.",
     .output = "{\"mikey\"}: the message in base64",
     .flags = build_flags,
     .n_flags = COUNT(build_flags),
     .run = run_build},
    {.name = "open",
     .summary = "open an I_MESSAGE as its receiver and print the key",
     .description =
         "Open an I_MESSAGE as a receiving MC client does: structure, T within 300 s of now\n"
         "(unless --any-time), known sender and KMS, ECCSI signature, and only then SAKKE with\n"
         "the RSK and the key parameters. Parties are named either by UID (--receiver-id and\n"
         "--sender-id; any KMS name accepted) or by URI (--receiver-uri, --sender-uri, --kms-uri,\n"
         "--period, --offset; the receiver's key period is the one at T unless --period-no).\n"
         "A rejection exits 1 with the verdict and the reason on stderr.",
     .output = "{\"verdict\", \"type\", \"key\", \"key_id\", \"gmk_id\", \"guk_id\", \"rand\", "
               "\"params\", \"period_no\", \"legacy_scope\"}",
     .flags = open_flags,
     .n_flags = COUNT(open_flags),
     .run = run_open,
     .secret_output = 1},
    {.name = "dump",
     .summary = "show every payload of a MIKEY message (no keys)",
     .description =
         "Decode a MIKEY message and print its payloads in wire order with their fields: HDR and\n"
         "its CS-ID map, T (as sent, NTP seconds, UTC), RAND, IDRs, SPs, SAKKE, General\n"
         "Extensions (key parameters: the wrapper only, not decrypted), SIGN and the lengths of\n"
         "its two signature scopes. Nothing is verified or decrypted. A malformed message exits 1\n"
         "with the decoder's reason.",
     .output = "{\"length\", \"payloads\": [{\"payload\", ...}, ...]}",
     .flags = dump_flags,
     .n_flags = COUNT(dump_flags),
     .run = run_dump},
    {.name = "derive-guk-id",
     .summary = "GUK-ID from a GMK-ID, or GMK-ID from a GUK-ID (TS 33.180 F.1.3)",
     .description =
         "GUK-ID = GMK-ID XOR the 28 low bits of KDF(GMK, 0x50, --uri), purpose tag kept\n"
         "(TS 33.180 F.1.3). With --guk-id instead of --gmk-id, the receiver's inverse.",
     .output = "{\"guk_id\"} (with --gmk-id) or {\"gmk_id\"} (with --guk-id)",
     .flags = guk_flags,
     .n_flags = COUNT(guk_flags),
     .run = run_derive_guk},
    {.name = "derive-srtp",
     .summary = "SRTP master key and salt from a MIKEY TGK (TS 33.180 7.4)",
     .description = "The MIKEY PRF (RFC 3830 4.1.3, HMAC-SHA-256) over the TGK with the label\n"
                    "const || CS-ID || CSB-ID || RAND (TS 33.180 7.4).",
     .output = "{\"master_key\", \"master_salt\"}",
     .flags = srtp_flags,
     .n_flags = COUNT(srtp_flags),
     .run = run_derive_srtp,
     .secret_output = 1},
    {.name = "derive-dpck",
     .summary = "DPCK from a DPPK and its DPPK-ID (TS 33.180 F.1.5)",
     .description = "DPCK = the 128 low bits of KDF(DPPK, 0x53, DPPK-ID) (TS 33.180 F.1.5); it\n"
                    "protects MCData payloads and an I_MESSAGE's key parameters.",
     .output = "{\"dpck\"}",
     .flags = dpck_flags,
     .n_flags = COUNT(dpck_flags),
     .run = run_derive_dpck,
     .secret_output = 1},
};

const cli_group mcx_mikey_group = {
    "mikey", "MIKEY-SAKKE I_MESSAGEs: build, open, dump; GUK-ID, SRTP and DPCK derivations",
    mikey_commands, COUNT(mikey_commands)};
