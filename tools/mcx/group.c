/* mcx group: the client side of group keying (include/mcxsec/group.h, docs/gms.md).
 * `mcx group list` asks the GMS for the caller's groups; `mcx group fetch` fetches a group
 * document and accepts its I_MESSAGEs into the keystore; `mcx group show` lists the group keys
 * the keystore holds (never their bytes); `mcx group watch` follows the GMS's event stream.
 * Token, keystore and TLS options as `mcx keys fetch`. The media commands (send, listen) are in
 * group_media.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "group_cli.h"
#include "mcxsec/group.h"
#include "mcxsec/hex.h"
#include "mcxsec/keystore.h"
#include "mcxsec/login.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int put_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, v != NULL ? json_string(v) : json_null()) != 0;
}

static int put_int(json_t *o, const char *key, int64_t v)
{
    return json_object_set_new(o, key, json_integer((json_int_t)v)) != 0;
}

static int put_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char h[2 * 64 + 1];
    if (n > 64)
        return 1;
    mcx_hex_encode(p, n, h);
    return put_str(o, key, h);
}

static int put_id(json_t *o, const char *key, uint32_t id)
{
    char h[9];
    snprintf(h, sizeof h, "%08X", (unsigned)id);
    return put_str(o, key, h);
}

/* The GMS client of the running command: tokens of mcx login (--label), the user (--user or the
 * token's mcptt_id), and with keystore_flags >= 0 the keystore. Free with client_done. */
typedef struct client {
    mcx_tokens t;
    char *user;
    mcx_keystore *ks;
    char kpath[4096];
    mcx_group_client c;
} client;

static void client_done(client *cl)
{
    mcx_tokens_clear(&cl->t);
    free(cl->user);
    mcx_keystore_free(cl->ks);
    memset(cl, 0, sizeof *cl);
}

static int client_init(cli_ctx *ctx, client *cl, int keystore_flags)
{
    memset(cl, 0, sizeof *cl);
    char tpath[4096];
    mcx_status s = mcx_tokens_path(cli_str(ctx, "label"), tpath, sizeof tpath);
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "--label: %s", mcx_last_error());
    if (s != MCX_OK)
        return cli_fail(ctx, s, "token file");
    if ((s = mcx_tokens_load(&cl->t, tpath)) != MCX_OK)
        return cli_fail(ctx, s, "loading the tokens");
    if (keystore_flags >= 0 && cli_has(ctx, "user"))
        cl->user = strdup(cli_str(ctx, "user"));
    else if (keystore_flags >= 0 && (cl->user = cli_token_mcptt_id(cl->t.access_token)) == NULL)
        cl->user = cli_token_mcptt_id(cl->t.id_token);
    if (cl->user == NULL && keystore_flags >= 0) {
        client_done(cl);
        return cli_usage(ctx, "the tokens name no mcptt_id: give --user");
    }
    if (keystore_flags >= 0) {
        int rc =
            cli_open_keystore(ctx, (unsigned)keystore_flags, cl->kpath, sizeof cl->kpath, &cl->ks);
        if (rc != CLI_EXIT_OK) {
            client_done(cl);
            return rc;
        }
    }
    cl->c.gms_url = cli_str(ctx, "gms");
    cl->c.access_token = cl->t.access_token;
    cl->c.ca_file = cli_str(ctx, "cacert");
    cl->c.keystore = cl->ks;
    cl->c.user_uri = cl->user;
    cl->c.gms_uri = keystore_flags >= 0 ? cli_str(ctx, "gms-id") : NULL;
    return CLI_EXIT_OK;
}

static int lib_fail(cli_ctx *ctx, mcx_status s, const char *what)
{
    if (s == MCX_E_ARG)
        return cli_usage(ctx, "%s", mcx_last_error());
    return cli_fail(ctx, s, "%s", what);
}

/* ---- mcx group list ---- */

static int run_list(cli_ctx *ctx)
{
    client cl;
    int rc = client_init(ctx, &cl, -1);
    if (rc != CLI_EXIT_OK)
        return rc;
    mcx_group_summary *g = NULL;
    size_t n = 0;
    mcx_status s = mcx_group_list_remote(&cl.c, &g, &n);
    client_done(&cl);
    if (s != MCX_OK)
        return lib_fail(ctx, s, "listing the groups");
    json_t *o = cli_out_new(), *arr = json_array();
    int bad = o == NULL || arr == NULL;
    for (size_t i = 0; !bad && i < n; i++) {
        json_t *e = json_object();
        bad |= e == NULL;
        if (bad)
            break;
        bad |= put_str(e, "id", g[i].id) || put_str(e, "kind", g[i].kind) ||
               put_str(e, "display_name", g[i].display_name) ||
               put_int(e, "members", g[i].members) || put_str(e, "gmk_id", g[i].gmk_id) ||
               put_int(e, "context", g[i].context) || put_str(e, "status", g[i].status) ||
               put_int(e, "created", g[i].created) || put_int(e, "rekeyed", g[i].rekeyed);
        bad |= json_array_append_new(arr, e) != 0;
    }
    free(g);
    if (!bad)
        bad |= json_object_set(o, "groups", arr) != 0;
    json_decref(arr);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- mcx group fetch ---- */

static json_t *accept_json(const mcx_group_accept_result *r)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = put_str(o, "verdict", mcx_group_verdict_name(r->verdict)) ||
              put_str(o, "type", mcx_group_key_kind_name(r->kind)) ||
              put_id(o, "key_id", r->key_id) || put_int(o, "t", (int64_t)r->t_ntp);
    if (r->status != MCX_OK)
        bad |= put_str(o, "status", mcx_status_name(r->status)) || put_str(o, "reason", r->reason);
    if (r->verdict == MCX_GROUP_ACCEPTED || r->verdict == MCX_GROUP_ALREADY_HELD) {
        bad |= put_id(o, "guk_id", r->guk_id) || put_int(o, "activation", (int64_t)r->activation) ||
               put_int(o, "expiry", (int64_t)r->expiry);
        if (r->has_pseudonym)
            bad |= put_hex(o, "pseudonym", r->pseudonym, sizeof r->pseudonym);
        if (r->kind != MCX_GROUP_KEY_MKFC && r->verdict == MCX_GROUP_ACCEPTED)
            bad |= put_hex(o, "implicit_pseudonym", r->implicit_pseudonym,
                           sizeof r->implicit_pseudonym);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int run_fetch(cli_ctx *ctx)
{
    client cl;
    int rc = client_init(ctx, &cl, 0);
    if (rc != CLI_EXIT_OK)
        return rc;
    mcx_group_fetch_result *res = calloc(1, sizeof *res);
    if (res == NULL) {
        client_done(&cl);
        return cli_fail(ctx, MCX_E_NOMEM, "out of memory");
    }
    const char *group = cli_str(ctx, "group");
    mcx_status s = mcx_group_fetch(&cl.c, group, res);
    int sealed = mcx_keystore_sealed(cl.ks);
    char kpath[4096];
    snprintf(kpath, sizeof kpath, "%s", cl.kpath);
    client_done(&cl);
    if (s != MCX_OK && res->n_keys == 0) {
        free(res);
        return lib_fail(ctx, s, "fetching the group");
    }
    if (s != MCX_OK) {
        /* a key refused: say which on stderr and fail, after keeping what was accepted */
        int code = cli_fail(ctx, s, "group %s", group);
        free(res);
        return code;
    }
    json_t *o = cli_out_new(), *keys = json_array();
    int bad = o == NULL || keys == NULL;
    for (size_t i = 0; !bad && i < res->n_keys; i++) {
        json_t *k = accept_json(&res->keys[i]);
        bad |= k == NULL || json_array_append_new(keys, k) != 0;
    }
    if (!bad)
        bad |= put_str(o, "group", group) || put_str(o, "display_name", res->display_name) ||
               put_int(o, "members", (int64_t)res->n_members) ||
               put_int(o, "context", (int64_t)res->context) ||
               put_str(o, "status", res->revoked ? "revoked" : "active") ||
               put_int(o, "accepted", (int64_t)res->n_accepted) ||
               put_int(o, "held", (int64_t)res->n_held) || json_object_set(o, "keys", keys) != 0 ||
               put_str(o, "keystore", kpath) || cli_out_bool(o, "sealed", sealed) != 0;
    json_decref(keys);
    free(res);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- mcx group show ---- */

static json_t *key_json(const mcx_keystore_group_key *k)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    uint8_t imp[MCX_GROUP_PSEUDONYM_BYTES];
    int bad = put_str(o, "group", k->group_id) ||
              put_str(o, "type", mcx_group_key_kind_name(k->kind)) ||
              put_id(o, "key_id", k->key_id) || put_id(o, "guk_id", k->guk_id) ||
              put_str(o, "status", k->revoked ? "revoked" : "active") ||
              put_int(o, "t", (int64_t)k->t_ntp) ||
              put_int(o, "activation", (int64_t)k->params.activation) ||
              put_int(o, "expiry", (int64_t)k->params.expiry) || put_str(o, "gms", k->gms_uri) ||
              put_str(o, "owner", k->owner_uri) || put_int(o, "received", k->received);
    if (!bad && k->has_pseudonym)
        bad |= put_hex(o, "pseudonym", k->pseudonym, sizeof k->pseudonym);
    if (!bad && k->kind != MCX_GROUP_KEY_MKFC &&
        mcx_group_pseudonym(k->key, k->key_len, k->group_id, imp) == MCX_OK)
        bad |= put_hex(o, "implicit_pseudonym", imp, sizeof imp);
    mcx_memzero(imp, sizeof imp);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int run_show(cli_ctx *ctx)
{
    char kpath[4096];
    mcx_keystore *ks = NULL;
    int rc = cli_open_keystore(ctx, 0, kpath, sizeof kpath, &ks);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *only = cli_str(ctx, "group");
    json_t *o = cli_out_new(), *keys = json_array(), *groups = json_array();
    int bad = o == NULL || keys == NULL || groups == NULL;
    for (size_t i = 0; !bad && i < mcx_keystore_group_key_count(ks); i++) {
        const mcx_keystore_group_key *k = NULL;
        bad |= mcx_keystore_group_key_at(ks, i, &k) != MCX_OK;
        if (bad || (only != NULL && strcmp(only, k->group_id) != 0))
            continue;
        json_t *kj = key_json(k);
        bad |= kj == NULL || json_array_append_new(keys, kj) != 0;
    }
    for (size_t i = 0; !bad && i < mcx_keystore_group_info_count(ks); i++) {
        const mcx_keystore_group_info *g = NULL;
        bad |= mcx_keystore_group_info_at(ks, i, &g) != MCX_OK;
        if (bad || (only != NULL && strcmp(only, g->group_id) != 0))
            continue;
        json_t *gj = json_object(), *m = json_array();
        bad |= gj == NULL || m == NULL;
        for (size_t k = 0; !bad && k < g->n_members; k++)
            bad |= json_array_append_new(m, json_string(g->members[k])) != 0;
        if (!bad)
            bad |= put_str(gj, "group", g->group_id) || put_str(gj, "gms", g->gms_uri) ||
                   put_str(gj, "display_name", g->display_name) || put_str(gj, "kind", g->kind) ||
                   put_int(gj, "updated", g->updated) || json_object_set(gj, "members", m) != 0;
        json_decref(m);
        bad |= gj == NULL || json_array_append_new(groups, gj) != 0;
    }
    if (!bad)
        bad |= put_str(o, "keystore", kpath) ||
               cli_out_bool(o, "sealed", mcx_keystore_sealed(ks)) != 0 ||
               json_object_set(o, "groups", groups) != 0 || json_object_set(o, "keys", keys) != 0;
    json_decref(keys);
    json_decref(groups);
    mcx_keystore_free(ks);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- mcx group watch ---- */

typedef struct watch_state {
    uint64_t count, seen;
    int write_failed;
} watch_state;

static int on_event(void *arg, const mcx_group_event *ev)
{
    watch_state *w = arg;
    json_t *o = json_object();
    int bad = o == NULL || put_str(o, "event", ev->type) || put_str(o, "group", ev->group) ||
              put_str(o, "result", ev->status == MCX_OK ? "ok" : mcx_status_name(ev->status));
    if (!bad && ev->status != MCX_OK)
        bad |= put_str(o, "reason", ev->reason);
    if (!bad && ev->accept != NULL) {
        json_t *a = accept_json(ev->accept);
        bad |= a == NULL || json_object_set_new(o, "key", a) != 0;
    } else if (!bad) {
        bad |= put_int(o, "changed", (int64_t)ev->n_changed);
    }
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL || printf("%s\n", text) < 0 || fflush(stdout) != 0)
        w->write_failed = 1;
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree); /* the CLI's zeroising allocator */
    if (text != NULL && jfree != NULL)
        jfree(text);
    w->seen++;
    return w->write_failed || (w->count > 0 && w->seen >= w->count);
}

static int run_watch(cli_ctx *ctx)
{
    client cl;
    int rc = client_init(ctx, &cl, MCX_KEYSTORE_CREATE);
    if (rc != CLI_EXIT_OK)
        return rc;
    watch_state w = {cli_u64(ctx, "count"), 0, 0};
    uint64_t timeout = cli_u64(ctx, "timeout");
    size_t n = 0;
    mcx_status s =
        mcx_group_watch(&cl.c, timeout > UINT64_MAX / 1000 ? 0 : timeout * 1000, on_event, &w, &n);
    client_done(&cl);
    if (s != MCX_OK)
        return lib_fail(ctx, s, "watching the GMS");
    if (w.write_failed)
        return cli_fail(ctx, MCX_E_IO, "writing the events");
    if (w.count > 0 && w.seen < w.count)
        return cli_reject(ctx, "%llu event(s) of the %llu asked for before the stream ended",
                          (unsigned long long)w.seen, (unsigned long long)w.count);
    return CLI_EXIT_OK;
}

/* ---- tables ---- */

#define F_GMS                                                                                      \
    {                                                                                              \
        "gms", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 512, "the GMS, e.g. https://gms.example.org:8445" \
    }
#define F_GMS_ID                                                                                   \
    {                                                                                              \
        "gms-id", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 255,                                           \
            "the GMS's identity (MC service ID at the KMS) that must have signed the keys"         \
    }
#define F_USER                                                                                     \
    {                                                                                              \
        "user", CLI_STR, 0, {0, 0}, 0, 255,                                                        \
            "the MC service ID the keys are for (default: the mcptt_id claim of the access token)" \
    }
#define F_CACERT                                                                                   \
    {                                                                                              \
        "cacert", CLI_STR, 0, {0, 0}, 0, 4096,                                                     \
            "PEM trust anchors for the GMS's TLS certificate (default: the system's)"              \
    }
#define F_LABEL                                                                                    \
    {                                                                                              \
        "label", CLI_STR, 0, {0, 0}, 0, 128,                                                       \
            "the token file tokens-LABEL.json instead of tokens.json"                              \
    }

static const cli_flag list_flags[] = {F_GMS, F_CACERT, F_LABEL};
static const cli_flag fetch_flags[] = {
    F_GMS,
    F_GMS_ID,
    {"group", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 255, "the group ID, e.g. sip:fire-1@example.org"},
    F_USER,
    F_CACERT,
    GROUP_F_KEYSTORE,
    GROUP_F_PASSFILE,
    F_LABEL,
};
static const cli_flag show_flags[] = {
    {"group", CLI_STR, 0, {0, 0}, 0, 255, "only this group"},
    GROUP_F_KEYSTORE,
    GROUP_F_PASSFILE,
};
static const cli_flag watch_flags[] = {
    F_GMS,
    F_GMS_ID,
    {"count", CLI_U64, 0, {0, 0}, 0, 0, "stop after this many events (default: never)"},
    {"timeout", CLI_U64, 0, {0, 0}, 0, 0, "stop after this many seconds (default: never)"},
    F_USER,
    F_CACERT,
    GROUP_F_KEYSTORE,
    GROUP_F_PASSFILE,
    F_LABEL,
};

static const cli_flag send_flags[] = {
    {"group", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 255, "the group whose current GMK protects"},
    {"in", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 4096, "raw audio frames to send ('-': stdin)"},
    {"to",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     0,
     64,
     "ADDR:PORT, a unicast or an IPv4 multicast address (sent on the loopback interface)"},
    {"cs-id", CLI_U64, 0, {0, 0}, 0, 0, "4 (MCPTT group, default) or 5 (MCVideo group)"},
    {"ssrc", CLI_U64, 0, {0, 0}, 0, 0, "the RTP SSRC (default: random)"},
    {"pt", CLI_U64, 0, {0, 0}, 0, 0, "the RTP payload type (default 0, PCMU; 96..127 dynamic)"},
    {"frame", CLI_U64, 0, {0, 0}, 0, 0, "octets of audio per packet (default 160: 20 ms PCMU)"},
    {"interval-ms", CLI_U64, 0, {0, 0}, 0, 0, "pause between packets (default 20)"},
    {"user",
     CLI_STR,
     0,
     {0, 0},
     0,
     255,
     "the sender's MC service ID (default: the user the GMK was accepted for)"},
    GROUP_F_KEYSTORE,
    GROUP_F_PASSFILE,
};
static const cli_flag listen_flags[] = {
    {"group", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 255, "the group whose keys unprotect"},
    {"on",
     CLI_STR,
     CLI_REQUIRED,
     {0, 0},
     0,
     64,
     "ADDR:PORT to bind, or an IPv4 multicast group joined on the loopback interface"},
    {"count", CLI_U64, 0, {0, 0}, 0, 0, "stop after this many packets decrypted"},
    {"timeout", CLI_U64, 0, {0, 0}, 0, 0, "stop after this many seconds (default 10)"},
    {"cs-id", CLI_U64, 0, {0, 0}, 0, 0, "4 (MCPTT group, default) or 5 (MCVideo group)"},
    {"out", CLI_STR, 0, {0, 0}, 0, 4096, "write the decrypted payloads to this file"},
    GROUP_F_KEYSTORE,
    GROUP_F_PASSFILE,
};

static const cli_command group_commands[] = {
    {"list", "the groups the GMS shows the caller",
     "GET /groups on the GMS with the access token of mcx login: a member sees its own groups, "
     "an administrator every group (docs/gms.md).",
     "{\"groups\": [{\"id\", \"kind\", \"display_name\", \"members\", \"gmk_id\", \"context\", "
     "\"status\", \"created\", \"rekeyed\"}]}",
     list_flags, COUNT(list_flags), run_list, 0},
    {"fetch", "fetch a group document and accept its keys into the keystore",
     "GET /groups/<id> on the GMS; the document must be for --group and name --gms-id. Each "
     "I_MESSAGE is opened with the keystore's pinned KMS and the user's key sets and checked: "
     "signed by --gms-id, a GMK/GDK/MKFC whose key parameters name the group, not revoked, not "
     "expired, not a replay or an older context (rollback). Accepted keys and the member list "
     "are saved in the keystore; keys already held are reported as held. A refused key fails "
     "the command (exit 1) after the others were kept.",
     "{\"group\", \"display_name\", \"members\", \"context\", \"status\", \"accepted\", "
     "\"held\", \"keys\": [{\"verdict\", \"type\", \"key_id\", \"t\", \"guk_id\", "
     "\"activation\", \"expiry\", \"pseudonym\", \"implicit_pseudonym\"}], \"keystore\", "
     "\"sealed\"}",
     fetch_flags, COUNT(fetch_flags), run_fetch, 0},
    {"show", "the group keys and member lists in the keystore (no key bytes)",
     "List the keystore's group section: per key its group, type, key ID, GUK-ID, status, T, "
     "activation and expiry, GMS, and the explicit and implicit pseudonyms; per group the "
     "member list of the last document fetched. Key bytes are never shown.",
     "{\"keystore\", \"sealed\", \"groups\": [{\"group\", \"gms\", \"display_name\", \"kind\", "
     "\"updated\", \"members\": [..]}], \"keys\": [{\"group\", \"type\", \"key_id\", "
     "\"guk_id\", \"status\", \"t\", \"activation\", \"expiry\", \"gms\", \"owner\", "
     "\"received\", \"pseudonym\", \"implicit_pseudonym\"}]}",
     show_flags, COUNT(show_flags), run_show, 0},
    {"watch", "follow the GMS's events: new keys, removals, revocations",
     "GET /events (text/event-stream). A group-key event's I_MESSAGE is accepted as by fetch; "
     "group-removed drops the group's keys and member list; group-revoked marks its keys "
     "revoked. The keystore is saved after each change. One JSON line per event on stdout; "
     "stops after --count events or --timeout seconds (exit 1 if the stream ended before "
     "--count events).",
     "one line per event: {\"event\", \"group\", \"result\", \"reason\", \"key\": {...} | "
     "\"changed\"}",
     watch_flags, COUNT(watch_flags), run_watch, 0},
    {"send", "send raw audio as SRTP protected with the sender's key from the group's GMK",
     "Read --in in frames of --frame octets, put each in an RTP packet (payload type --pt, "
     "sequence number and timestamp advancing), protect it with the sender's SRTP key derived "
     "from the group's newest GMK in the keystore (TS 33.180 §7.4.2: GUK-ID of the sender, RAND "
     "of the GMK's I_MESSAGE; AEAD_AES_128_GCM, MKI = GMK-ID || GUK-ID) and send it over UDP to "
     "--to, every --interval-ms. A multicast address is sent on the loopback interface.",
     "{\"group\", \"gmk_id\", \"guk_id\", \"sender\", \"ssrc\", \"to\", \"packets\", "
     "\"octets\"}",
     send_flags, COUNT(send_flags), group_run_send, 0},
    {"listen", "receive group SRTP and report who sent what",
     "Bind --on (joining the multicast group on the loopback interface for a multicast "
     "address), and unprotect every packet with the keys the keystore holds for the group (not "
     "revoked), identifying senders by the GUK-ID in the MKI against the member list of the "
     "last group document fetched. Stops after --count packets or --timeout seconds. Exit 1 if "
     "nothing was decrypted.",
     "{\"group\", \"keys\", \"members\", \"packets\", \"octets\", \"senders\": "
     "[{\"sender\", \"gmk_id\", \"guk_id\", \"ssrc\", \"packets\", \"octets\", \"tag\", "
     "\"replay\"}], \"rejected\": {\"truncated\", \"unknown_key\", \"unknown_sender\", "
     "\"tag\", \"replay\", \"other\"}}",
     listen_flags, COUNT(listen_flags), group_run_listen, 0},
};

const cli_group mcx_group_group = {"group", "group keys from the GMS, group media", group_commands,
                                   COUNT(group_commands)};
