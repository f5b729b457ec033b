/* Internals of the GMS engine (include/mcxsec/gms.h) shared by its source files. */
#ifndef MCX_GMS_INTERNAL_H
#define MCX_GMS_INTERNAL_H

#include <pthread.h>

#include "mcxsec/gms.h"
#include "mcxsec/keys.h"
#include "mcxsec/mikey.h"

#define GMS_KEY_BYTES  16 /* GMK, MKFC and GDK are 16 octets (TS 33.179 E.1; FACTS §6.1) */
#define GMS_RAND_BYTES 16
#define GMS_SEAL_NONCE 12
#define GMS_SEAL_TAG   16
#define GMS_SEAL_MAX   (GMS_SEAL_NONCE + 2 * GMS_KEY_BYTES + GMS_SEAL_TAG)
#define GMS_KEY_TYPES  3

struct mcx_gms {
    char identity[MCX_GMS_ID_MAX];
    mcx_keystore *keystore;
    pthread_mutex_t keystore_lock; /* an mcx_keystore is not thread-safe */
    uint8_t *storage_key;          /* secure memory */
    unsigned threads;
    uint64_t key_lifetime;
    mcx_gms_event_fn event_fn;
    void *event_arg;
    uint64_t last_next_try; /* NTP seconds of the last attempt at the next period's key set */
};

/* One key of a context: type name, purpose tag, ID, the key (and for a GMK the explicit
 * pseudonym), its times. Holds secrets. */
typedef struct gms_key {
    const char *type; /* "gmk", "mkfc", "gdk" */
    mcx_key_type tag;
    uint32_t key_id;
    uint8_t key[GMS_KEY_BYTES];
    uint8_t pseudonym[MCX_GROUP_PSEUDONYM_BYTES]; /* GMK only */
    uint64_t activation, expiry;                  /* NTP seconds */
} gms_key;

typedef struct gms_context {
    char group[MCX_GMS_ID_MAX];
    uint64_t context;
    uint8_t rand[GMS_RAND_BYTES];
    size_t n_keys;
    gms_key keys[GMS_KEY_TYPES];
} gms_context;

/* seal.c: AES-256-GCM of key || pseudonym under the storage key, bound to (group, context, type)
 * as associated data. */
mcx_status gms_seal(const mcx_gms *g, const gms_context *c, const gms_key *k, uint8_t *out,
                    size_t *out_len);
mcx_status gms_unseal(const mcx_gms *g, const gms_context *c, gms_key *k, const uint8_t *in,
                      size_t in_len);

/* build.c: one I_MESSAGE per (member, key) of c into msgs[i * c->n_keys + j], built by
 * g->threads threads, each with its own MIKEY builder made from the GMS key set in force at
 * t_ntp. msgs[] entries are malloc'ed (free with gms_messages_free). */
typedef struct gms_message {
    uint8_t *p;
    size_t len;
} gms_message;

mcx_status gms_build_messages(mcx_gms *g, const gms_context *c, const char *const *members,
                              size_t n_members, uint64_t t_ntp, gms_message *msgs);
void gms_messages_free(gms_message *msgs, size_t n);

#endif
