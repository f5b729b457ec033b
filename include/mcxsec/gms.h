/* The group management server's engine (docs/gms.md): groups and members in the store (store.h),
 * each group's security context (GMK, optionally MKFC and GDK, one RAND, a pseudonym), and one
 * MIKEY-SAKKE I_MESSAGE per member and key, SAKKE-encrypted to the member and ECCSI-signed with
 * the GMS's own key set (TS 33.179 §7.3, TS 33.180 §5.2.3, Annex E).
 *
 * A context is never modified: a rekey (on demand, periodic, or because a member left) makes a
 * new one, and creating a group or a regroup never touches another group's context
 * (MCSEC-2.2-4). Keys are sealed at rest with the GMS storage key (AES-256-GCM). Every change is
 * appended to gms_log. Functions taking an mcx_store run on the caller's connection; one
 * mcx_gms may be used by many threads, each with its own connection. */
#ifndef MCXSEC_GMS_H
#define MCXSEC_GMS_H

#include <stdint.h>

#include "mcxsec/common.h"
#include "mcxsec/keystore.h"
#include "mcxsec/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_GMS_ID_MAX          256 /* longest group ID or member URI, with the NUL */
#define MCX_GMS_NAME_MAX        256
#define MCX_GMS_STORAGE_KEY_LEN 32
#define MCX_GMS_MAX_MEMBERS     100000

typedef struct mcx_gms mcx_gms;

typedef struct mcx_gms_params {
    const char *identity;       /* the GMS's MC service ID at its KMS (the I_MESSAGE signer) */
    mcx_keystore *keystore;     /* holds the GMS's key sets; borrowed, used under the GMS's lock */
    const uint8_t *storage_key; /* MCX_GMS_STORAGE_KEY_LEN octets: seals keys at rest (copied) */
    unsigned threads;           /* I_MESSAGE builders (0: 2) */
    uint64_t key_lifetime;      /* seconds from activation to expiry (0: 30 days) */
} mcx_gms_params;

/* Errors: MCX_E_ARG, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_new(mcx_gms **out, const mcx_gms_params *p);
MCX_API void mcx_gms_free(mcx_gms *g);

/* The GMS schema (component "gms"): created or brought up to date. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_migrate(mcx_store *st);

/* Read (or, with create, make: 32 random octets, file mode 0600, written atomically) the
 * storage key file. Errors: MCX_E_IO, MCX_E_DENIED (file readable by others), MCX_E_LENGTH. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_storage_key_load(const char *path, int create,
                                                           uint8_t key[MCX_GMS_STORAGE_KEY_LEN]);

typedef struct mcx_gms_group_info {
    char id[MCX_GMS_ID_MAX];
    char display_name[MCX_GMS_NAME_MAX];
    int broadcast;
    int has_mkfc, has_gdk;
    size_t n_members;
    uint64_t context; /* 1, 2, ...: the current security context */
    uint32_t gmk_id, mkfc_id, gdk_id;
    int revoked;              /* the current context was revoked (the group deleted, or revoke) */
    int64_t created, rekeyed; /* Unix seconds */
    char regroup_of[512];     /* the groups a regroup was made of, space-separated */
} mcx_gms_group_info;

typedef struct mcx_gms_group_spec {
    const char *id;           /* the MC group ID (a URI) */
    const char *display_name; /* NULL: the ID */
    int broadcast;
    int mkfc, gdk; /* also a multicast floor control key / a group data key for MCData */
    const char *const *members;
    size_t n_members;
} mcx_gms_group_spec;

/* What happened, for the event stream (docs/gms.md "Events"), reported after the commit. */
typedef enum mcx_gms_event_kind {
    MCX_GMS_EVENT_KEY = 1, /* member got a key: type, key_id, context, imessage */
    MCX_GMS_EVENT_REMOVED, /* member was removed from the group */
    MCX_GMS_EVENT_REVOKED  /* the group's context key_id was revoked */
} mcx_gms_event_kind;

typedef struct mcx_gms_event {
    mcx_gms_event_kind kind;
    const char *group;
    const char *member;
    const char *key_type; /* "gmk", "mkfc", "gdk" */
    uint32_t key_id;
    uint64_t context;
    const uint8_t *imessage;
    size_t imessage_len;
} mcx_gms_event;

typedef void (*mcx_gms_event_fn)(void *arg, const mcx_gms_event *ev);

/* Called (from the thread that made the change) for every member event after each commit. */
MCX_API void mcx_gms_set_event_handler(mcx_gms *g, mcx_gms_event_fn fn, void *arg);

/* Create a group and its first context: keys, and one I_MESSAGE per member and key.
 * actor is who asked (a token subject, for the log). Errors: MCX_E_ARG (bad ID or member URI,
 * duplicate members), MCX_E_EXISTS, MCX_E_NO_KEY (the GMS holds no key set for now), those of
 * the MIKEY builder, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_group_create(mcx_gms *g, mcx_store *st,
                                                       const mcx_gms_group_spec *spec,
                                                       const char *actor, int64_t now,
                                                       mcx_gms_group_info *info);

/* Errors: MCX_E_NOT_FOUND (no such group, or deleted), MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_group_get(mcx_store *st, const char *id,
                                                    mcx_gms_group_info *info);

/* Groups (not deleted), all or those member belongs to (member NULL: all); fn is called for
 * each in ID order. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_group_list(mcx_store *st, const char *member,
                                                     void (*fn)(void *arg,
                                                                const mcx_gms_group_info *info),
                                                     void *arg);

/* The members of a group, in URI order. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_members(mcx_store *st, const char *id,
                                                  void (*fn)(void *arg, const char *uri),
                                                  void *arg);

/* Whether uri is a member of group id (0 when not, or no such group). */
MCX_API int mcx_gms_is_member(mcx_store *st, const char *id, const char *uri);

/* A member's I_MESSAGEs of the group's current context, one call per key. */
typedef struct mcx_gms_member_key {
    const char *key_type;
    uint32_t key_id;
    uint64_t context;
    uint64_t activation, expiry; /* NTP seconds */
    const uint8_t *imessage;
    size_t imessage_len;
} mcx_gms_member_key;

MCX_API MCX_MUST_CHECK mcx_status
mcx_gms_member_keys(mcx_store *st, const char *id, const char *member,
                    void (*fn)(void *arg, const mcx_gms_member_key *k), void *arg);

/* Add and remove members. Added members get the current context's keys; any removal makes a new
 * context for those who stay (the removed get nothing new). Errors: MCX_E_NOT_FOUND (group, or a
 * member to remove), MCX_E_EXISTS (a member to add is already in), MCX_E_ARG, and those of a
 * rekey. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_members_change(mcx_gms *g, mcx_store *st, const char *id,
                                                         const char *const *add, size_t n_add,
                                                         const char *const *remove, size_t n_remove,
                                                         const char *actor, int64_t now,
                                                         mcx_gms_group_info *info);

/* A new context for the group: new keys, RAND and pseudonym, an I_MESSAGE per member and key.
 * reason is logged ("on demand", "periodic", ...). */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_rekey(mcx_gms *g, mcx_store *st, const char *id,
                                                const char *actor, const char *reason, int64_t now,
                                                mcx_gms_group_info *info);

/* Revoke the group's current context (members are told; a rekey makes a new active one). */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_revoke(mcx_gms *g, mcx_store *st, const char *id,
                                                 const char *actor, int64_t now,
                                                 mcx_gms_group_info *info);

/* Delete a group: its context is revoked and it disappears from listings. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_group_delete(mcx_gms *g, mcx_store *st, const char *id,
                                                       const char *actor, int64_t now);

/* A regroup (TS 23.379 §10.6.2.x): a new group whose members are those of the groups of[], with
 * its own new context; the groups combined are not touched. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_regroup(mcx_gms *g, mcx_store *st, const char *id,
                                                  const char *display_name, const char *const *of,
                                                  size_t n_of, const char *actor, int64_t now,
                                                  mcx_gms_group_info *info);

/* Rekey every group whose current context is older than interval seconds (periodic rekey);
 * *n_rekeyed receives how many. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gms_rekey_due(mcx_gms *g, mcx_store *st, int64_t interval,
                                                    int64_t now, size_t *n_rekeyed);

#ifdef __cplusplus
}
#endif
#endif
