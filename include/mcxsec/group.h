/* The client side of group keying (TS 33.179 §4.3.5.2, §7.3; TS 33.180 §5.2.3, §7.3, Annex E;
 * docs/gms.md): a member receives its group keys (GMK, MKFC, GDK) from the GMS, each in a
 * MIKEY-SAKKE I_MESSAGE encrypted to it and signed by the GMS, checks them and keeps them in the
 * client keystore (keystore.h).
 *
 *   - mcx_group_key_accept: open one I_MESSAGE and check it against the group it was fetched for;
 *   - mcx_group_doc_parse: the group document of GET /groups/<id> (docs/gms.md);
 *   - mcx_group_fetch, mcx_group_list_remote, mcx_group_watch: the GMS's HTTPS interface
 *     (the document, the list of groups, the text/event-stream of key changes).
 * The implicit group pseudonym is mcx_group_pseudonym (keys.h). */
#ifndef MCXSEC_GROUP_H
#define MCXSEC_GROUP_H

#include "mcxsec/common.h"
#include "mcxsec/keys.h"
#include "mcxsec/keystore.h"
#include "mcxsec/mikey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- accepting one group key ---------------------------------------------------------------- */

/* mcx_group_key_accept's kind argument: the kind from the purpose tag (0: GMK, 4: MKFC). */
#define MCX_GROUP_KEY_AUTO (-1)

/* Why a group key was or was not kept. Each refusal has its own verdict and reason. */
typedef enum mcx_group_verdict {
    MCX_GROUP_ACCEPTED = 0, /* opened, checked and stored */
    MCX_GROUP_ALREADY_HELD, /* the same key under the same key ID was held: nothing changed */
    MCX_GROUP_OPEN_FAILED,  /* the MIKEY opener refused it (stage and status say why) */
    MCX_GROUP_WRONG_SENDER, /* not signed by the expected GMS identity (MCX_E_UNKNOWN_PEER) */
    MCX_GROUP_WRONG_TYPE,   /* not a GMK/MKFC (or a kind that disagrees with its purpose tag)
                               (MCX_E_UNSUPPORTED) */
    MCX_GROUP_NO_PARAMS,    /* no key parameters (MCX_E_ENCODING) */
    MCX_GROUP_NOT_IN_GROUP, /* the key parameters do not name the group (MCX_E_DENIED) */
    MCX_GROUP_REVOKED,      /* status without "not revoked" (MCX_E_KEY_INVALID) */
    MCX_GROUP_EXPIRED,      /* expiry time passed (MCX_E_TIME) */
    MCX_GROUP_FROM_FUTURE,  /* T further ahead than the time window (MCX_E_TIME) */
    MCX_GROUP_REPLAYED,     /* the same I_MESSAGE (signed octets) was accepted before
                               (MCX_E_REPLAY) */
    MCX_GROUP_ROLLBACK,     /* T older than the newest key held for the group and kind
                               (MCX_E_REPLAY) */
    MCX_GROUP_KEY_CONFLICT, /* another key under a key ID already held (MCX_E_EXISTS) */
    MCX_GROUP_NOT_STORED    /* the keystore refused it (its status) */
} mcx_group_verdict;

/* "accepted", "already held", "not opened", "not from the GMS", "not a group key",
 * "no key parameters", "a GMK for a group it is not in", "revoked", "expired", "from the future",
 * "replayed", "rollback", "key ID conflict", "not stored". */
MCX_API const char *mcx_group_verdict_name(mcx_group_verdict v);

/* What became of one I_MESSAGE. No secret key material: the key itself is in the keystore. */
typedef struct mcx_group_accept_result {
    mcx_status status;
    mcx_group_verdict verdict;
    mcx_mikey_stage stage; /* for MCX_GROUP_OPEN_FAILED: where the opener refused it */
    char reason[320];
    /* As far as the message got (all of it when accepted or already held): */
    mcx_group_key_kind kind;
    uint32_t key_id;
    uint32_t guk_id;
    uint64_t t_ntp;
    int has_params;
    uint32_t key_status; /* MCX_KP_STATUS_* */
    uint64_t activation, expiry;
    int has_pseudonym;
    uint8_t pseudonym[MCX_GROUP_PSEUDONYM_BYTES];          /* explicit, from the text */
    uint8_t implicit_pseudonym[MCX_GROUP_PSEUDONYM_BYTES]; /* GMK and GDK: from the key */
} mcx_group_accept_result;

/* Accept one group key for own_uri (the keystore owner) from the GMS gms_uri for group_id:
 *   1. open the I_MESSAGE (mikey.h) trusting the keystore's pinned KMS certificates, with own_uri's
 *      key sets (every period held) and gms_uri as the only peer at each pinned KMS; T is not held
 *      to the opener's window (a document served later carries the T of its making) but may not
 *      be more than 300 s ahead of now;
 *   2. the sender is gms_uri; the purpose tag is GMK (kind gmk or gdk) or MKFC (kind mkfc);
 *      kind is MCX_GROUP_KEY_AUTO or an mcx_group_key_kind, as the document or event named it;
 *   3. key parameters present, of the same type; group_id among their group IDs; status has
 *      "not revoked" (TS 33.180 E.6.9); expiry (when not 0) not passed;
 *   4. not a replay: the same signed octets already held, or T older than the newest key held
 *      for the group and kind (rollback); a different key under a held key ID is a conflict;
 *   5. stored (mcx_keystore_group_key_add) with its RAND, GUK-ID, parameters, T, GMS, digest and
 *      the explicit pseudonym of a text "pseudonym=<32 hex digits>". The keystore is not saved.
 * now_ntp: NTP seconds (0: the system clock). res (required) is always filled; returns
 * res->status. Errors: MCX_E_ARG, the opener's statuses (MCX_E_SIG_INVALID bad signature,
 * MCX_E_UNKNOWN_PEER unknown sender, MCX_E_NO_KEY no key set for T, ...), and those listed with
 * mcx_group_verdict. */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_key_accept(mcx_keystore *ks, const char *own_uri,
                                                       const char *gms_uri, const char *group_id,
                                                       int kind, const uint8_t *imessage,
                                                       size_t len, uint64_t now_ntp,
                                                       mcx_group_accept_result *res);

/* ---- the group document (docs/gms.md "The group document") ---------------------------------- */

#define MCX_GROUP_DOC_MAX_BYTES   (256u * 1024u)
#define MCX_GROUP_DOC_MAX_KEYS    16
#define MCX_GROUP_IMESSAGE_MAX    8192
#define MCX_GROUP_NS_LIST_SERVICE "urn:oma:xml:poc:list-service"
#define MCX_GROUP_NS_MCX          "urn:mcxsec:gms:1.0"

typedef struct mcx_group_doc_key {
    mcx_group_key_kind kind;
    uint32_t key_id; /* as the document says: a convenience, the I_MESSAGE is believed */
    int has_activation, has_expiry;
    uint64_t activation, expiry;
    uint8_t *imessage; /* decoded base64 */
    size_t imessage_len;
} mcx_group_doc_key;

typedef struct mcx_group_doc {
    char uri[MCX_GROUP_ID_MAX];
    char display_name[MCX_GROUP_ID_MAX];
    char kind[16]; /* "normal" or "broadcast" */
    char gms[MCX_GROUP_ID_MAX];
    uint64_t context;
    int revoked; /* status="revoked" */
    size_t n_members;
    char **members;
    size_t n_keys;
    mcx_group_doc_key keys[MCX_GROUP_DOC_MAX_KEYS];
} mcx_group_doc;

/* Parse a group document (at most MCX_GROUP_DOC_MAX_BYTES). Refused, each with a reason:
 * not well-formed, a DOCTYPE, a root other than list-service in MCX_GROUP_NS_LIST_SERVICE, no uri,
 * no list or more than one, an entry without uri or a member twice, more than
 * MCX_KEYSTORE_MAX_MEMBERS members, no mcx:group-security (MCX_GROUP_NS_MCX) or more than one,
 * kind/status/context outside their values, an unknown mcx: element, a key with an unknown type,
 * a key-id that is not 8 hex digits, times that are not decimal, empty or bad base64, more than
 * MCX_GROUP_DOC_MAX_KEYS keys, URIs longer than MCX_GROUP_ID_MAX - 1. Elements of other
 * namespaces are ignored. Errors: MCX_E_ARG, MCX_E_ENCODING, MCX_E_LENGTH, MCX_E_NOMEM.
 * Free *out with mcx_group_doc_free. */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_doc_parse(const uint8_t *xml, size_t len,
                                                      mcx_group_doc **out);
MCX_API void mcx_group_doc_free(mcx_group_doc *doc);

/* ---- the GMS over HTTPS -------------------------------------------------------------------- */

typedef struct mcx_group_client {
    const char *gms_url;      /* https://host[:port][/prefix] (no trailing '/') */
    const char *access_token; /* sent as "Authorization: Bearer" */
    const char *ca_file;      /* PEM trust anchors for the GMS's TLS certificate (NULL: system) */
    mcx_keystore *keystore;   /* fetch, watch: keys accepted into it */
    const char *user_uri;     /* fetch, watch: the keystore owner the I_MESSAGEs are for */
    const char *gms_uri;      /* fetch, watch: the GMS identity that must have signed them */
    uint64_t now_ntp;         /* 0: the system clock */
    int no_save;              /* fetch, watch: do not write the keystore */
} mcx_group_client;

/* A summary of GET /groups (docs/gms.md). */
typedef struct mcx_group_summary {
    char id[MCX_GROUP_ID_MAX];
    char kind[16];
    char display_name[MCX_GROUP_ID_MAX];
    int64_t members;
    char gmk_id[16];
    int64_t context;
    char status[16];
    int64_t created, rekeyed;
} mcx_group_summary;

/* GET <gms_url>/groups. *out (free with free()) receives *n summaries.
 * Errors: MCX_E_ARG, MCX_E_IO (connection, TLS, HTTP status other than 200 with the GMS's
 * error_description), MCX_E_DENIED (401, 403), MCX_E_ENCODING (not the expected JSON),
 * MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_list_remote(const mcx_group_client *c,
                                                        mcx_group_summary **out, size_t *n);

typedef struct mcx_group_fetch_result {
    char display_name[MCX_GROUP_ID_MAX];
    size_t n_members;
    uint64_t context;
    int revoked;
    size_t n_keys;     /* mcx:key elements in the document */
    size_t n_accepted; /* stored now */
    size_t n_held;     /* already held (replayed or same key) */
    size_t n_refused;
    mcx_group_accept_result keys[MCX_GROUP_DOC_MAX_KEYS];
} mcx_group_fetch_result;

/* GET <gms_url>/groups/<percent-encoded group_id>, parse the document (its uri must be group_id
 * and its gms attribute c->gms_uri), accept each key (mcx_group_key_accept), record the member
 * list (mcx_keystore_group_set_info), and save the keystore unless c->no_save. Keys already held
 * are not an error. res (required) gets every key's outcome. Returns MCX_OK when no key was
 * refused, else the first refusal's status (what was accepted is kept).
 * Errors: as mcx_group_list_remote, MCX_E_NOT_FOUND (404), those of mcx_group_doc_parse and
 * mcx_group_key_accept, the keystore's. */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_fetch(const mcx_group_client *c, const char *group_id,
                                                  mcx_group_fetch_result *res);

/* One event of GET /events, as the watcher handled it. */
typedef struct mcx_group_event {
    const char *type;  /* "group-key", "group-removed", "group-revoked" or another name */
    const char *data;  /* the data lines, joined */
    const char *group; /* the "group" member, or NULL */
    mcx_status status; /* what handling it gave (MCX_OK: done) */
    char reason[320];  /* when status != MCX_OK */
    /* group-key: */
    const mcx_group_accept_result *accept;
    /* group-revoked / group-removed: keys marked or dropped */
    size_t n_changed;
} mcx_group_event;

/* Return non-zero to stop watching. */
typedef int (*mcx_group_event_fn)(void *arg, const mcx_group_event *ev);

/* GET <gms_url>/events (Accept: text/event-stream) and handle each event as it comes (HTML
 * "server-sent events": fields event and data, a blank line ends an event, ':' lines are
 * comments): group-key -> mcx_group_key_accept of its imessage for its group and type;
 * group-removed -> mcx_keystore_group_remove; group-revoked -> mcx_keystore_group_mark_revoked
 * (its key_id, or every key of the group). The keystore is saved after each change unless
 * c->no_save. cb (may be NULL) is called for every event and may stop the watch. Ends when cb
 * returns non-zero (MCX_OK), after timeout_ms (0: never; MCX_OK), or when the server closes the
 * stream (MCX_OK). *n_events (may be NULL) receives the number of events.
 * Errors: as mcx_group_list_remote; MCX_E_ENCODING (an event larger than 64 KiB, an answer that
 * is not text/event-stream); the keystore's save errors. A refused key is reported to cb, not
 * returned. */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_watch(const mcx_group_client *c, uint64_t timeout_ms,
                                                  mcx_group_event_fn cb, void *arg,
                                                  size_t *n_events);

#ifdef __cplusplus
}
#endif
#endif
