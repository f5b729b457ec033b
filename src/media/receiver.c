/* The receiving side (include/mcxsec/media.h): group and private keys held by key ID, senders
 * identified from the MKI on first sight, one libsrtp2 session per sender key.
 *
 * Why a session per sender and not one per receiver: libsrtp2 finds a stream by SSRC only, and
 * two members of a group may well use the same SSRC (each picks it at random, RFC 3550 §8.1);
 * their keys differ (the GUK-ID is their CSB-ID), so each sender key gets its own session with
 * its own per-SSRC streams and replay windows (RFC 3711 §3.3.2). Sessions are found by MKI
 * through an open-addressing table. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "media/media_internal.h"

#define DEFAULT_WINDOW 1024u
/* Group MKIs have a GMK-ID (purpose tag 0) in the high half; a PCK's MKI key is tagged with a
 * high half no GMK-ID can have. */
#define PRIVATE_MKI_TAG 0xFFFFFFFF00000000ull

typedef struct guk_entry {
    uint32_t guk_id;
    uint32_t member;
} guk_entry;

typedef struct rx_key {
    uint32_t key_id;
    uint8_t cs_id;
    int is_group;
    uint8_t *secret; /* mcx_secure_alloc: TGK || RAND */
    size_t tgk_len, rand_len;
    char **members; /* n_members pointers into arena */
    char *arena;
    size_t n_members;
    guk_entry *index; /* sorted by GUK-ID; NULL until first needed */
} rx_key;

typedef struct rx_sender {
    uint64_t mki;
    rx_key *key;
    mcx_media_keys keys; /* kept to add a stream with a ROC hint; wiped on free */
    char *uri;           /* own copy; NULL for a private call */
    srtp_t session;
    size_t index; /* position in receiver->senders */
    mcx_media_stats stats;
} rx_sender;

struct mcx_media_receiver {
    rx_key **keys;
    size_t n_keys, cap_keys;
    rx_sender **senders;
    size_t n_senders, cap_senders;
    rx_sender **table; /* by MKI, open addressing */
    size_t table_cap;  /* power of two */
    size_t table_used;
    unsigned window;
    mcx_media_stats stats;
};

static size_t mki_hash(uint64_t k)
{
    /* splitmix64 finaliser: MKIs are partly attacker-chosen, so spread them */
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebull;
    k ^= k >> 31;
    return (size_t)k;
}

static rx_sender **table_slot(const mcx_media_receiver *r, uint64_t mki)
{
    if (r->table_cap == 0)
        return NULL;
    size_t mask = r->table_cap - 1;
    for (size_t i = mki_hash(mki) & mask;; i = (i + 1) & mask) {
        if (r->table[i] == NULL || r->table[i]->mki == mki)
            return &r->table[i];
    }
}

static mcx_status table_rebuild(mcx_media_receiver *r, size_t want_heads)
{
    size_t cap = 16;
    while (cap < 2 * want_heads + 2)
        cap *= 2;
    rx_sender **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: sender table of %zu", cap);
    free(r->table);
    r->table = t;
    r->table_cap = cap;
    r->table_used = 0;
    for (size_t i = 0; i < r->n_senders; i++) {
        *table_slot(r, r->senders[i]->mki) = r->senders[i];
        r->table_used++;
    }
    return MCX_OK;
}

mcx_status mcx_media_receiver_new(mcx_media_receiver **out, const mcx_media_receiver_opts *opts)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    *out = NULL;
    unsigned window =
        opts != NULL && opts->replay_window != 0 ? opts->replay_window : DEFAULT_WINDOW;
    /* libsrtp2: at least 64 (RFC 3711 §3.3.2), below 2^15 (the index estimate's half range) */
    if (window < 64 || window >= 0x8000)
        return MCX_FAIL(MCX_E_ARG, "media: replay window %u, expected 64..32767", window);
    MCX_GUARD(media_srtp_init());
    mcx_media_receiver *r = calloc(1, sizeof *r);
    if (r == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: receiver");
    r->window = window;
    mcx_status st = table_rebuild(r, 8);
    if (st != MCX_OK) {
        free(r);
        return st;
    }
    *out = r;
    return MCX_OK;
}

static rx_key *find_key(const mcx_media_receiver *r, uint32_t key_id, int is_group)
{
    for (size_t i = 0; i < r->n_keys; i++)
        if (r->keys[i]->key_id == key_id && r->keys[i]->is_group == is_group)
            return r->keys[i];
    return NULL;
}

static void key_free(rx_key *k)
{
    if (k == NULL)
        return;
    mcx_secure_free(k->secret);
    free(k->members);
    free(k->arena);
    free(k->index);
    free(k);
}

static mcx_status add_key(mcx_media_receiver *r, int is_group, const uint8_t *tgk, size_t tgk_len,
                          uint32_t key_id, const uint8_t *rand, size_t rand_len, uint8_t cs_id,
                          const char *const *members, size_t n_members)
{
    for (size_t i = 0; i < r->n_keys; i++)
        if (r->keys[i]->key_id == key_id)
            return MCX_FAIL(MCX_E_EXISTS, "media: a key with ID %08X is held already", key_id);
    if (r->n_keys == r->cap_keys) {
        size_t cap = r->cap_keys ? 2 * r->cap_keys : 4;
        rx_key **k = realloc(r->keys, cap * sizeof *k);
        if (k == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "media: key table");
        r->keys = k;
        r->cap_keys = cap;
    }
    rx_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: key");
    k->key_id = key_id;
    k->cs_id = cs_id;
    k->is_group = is_group;
    k->tgk_len = tgk_len;
    k->rand_len = rand_len;
    k->secret = mcx_secure_alloc(tgk_len + rand_len);
    size_t arena_len = 0;
    for (size_t i = 0; i < n_members; i++)
        arena_len += strlen(members[i]) + 1;
    k->members = n_members ? calloc(n_members, sizeof *k->members) : NULL;
    k->arena = arena_len ? malloc(arena_len) : NULL;
    if (k->secret == NULL || (n_members && (k->members == NULL || k->arena == NULL))) {
        key_free(k);
        return MCX_FAIL(MCX_E_NOMEM, "media: key with %zu members", n_members);
    }
    memcpy(k->secret, tgk, tgk_len);
    memcpy(k->secret + tgk_len, rand, rand_len);
    char *p = k->arena;
    for (size_t i = 0; i < n_members; i++) {
        size_t n = strlen(members[i]) + 1;
        memcpy(p, members[i], n);
        k->members[i] = p;
        p += n;
    }
    k->n_members = n_members;
    r->keys[r->n_keys++] = k;
    return MCX_OK;
}

mcx_status mcx_media_receiver_add_group_key(mcx_media_receiver *r, const uint8_t *gmk,
                                            size_t gmk_len, uint32_t gmk_id, const uint8_t *rand,
                                            size_t rand_len, uint8_t cs_id,
                                            const char *const *members, size_t n_members)
{
    if (r == NULL || (members == NULL && n_members > 0))
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    for (size_t i = 0; i < n_members; i++)
        if (members[i] == NULL)
            return MCX_FAIL(MCX_E_ARG, "media: member %zu is NULL", i);
    if (n_members > UINT32_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "media: %zu members", n_members);
    /* the same checks as the sender's derivation, before anything is kept */
    mcx_media_keys probe;
    MCX_GUARD(mcx_media_group_keys(gmk, gmk_len, gmk_id, rand, rand_len, "", cs_id, &probe));
    mcx_memzero(&probe, sizeof probe);
    return add_key(r, 1, gmk, gmk_len, gmk_id, rand, rand_len, cs_id, members, n_members);
}

mcx_status mcx_media_receiver_add_private_key(mcx_media_receiver *r, const uint8_t *pck,
                                              size_t pck_len, uint32_t pck_id, const uint8_t *rand,
                                              size_t rand_len, uint8_t cs_id)
{
    if (r == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    mcx_media_keys probe;
    MCX_GUARD(mcx_media_private_keys(pck, pck_len, pck_id, rand, rand_len, cs_id, &probe));
    mcx_memzero(&probe, sizeof probe);
    return add_key(r, 0, pck, pck_len, pck_id, rand, rand_len, cs_id, NULL, 0);
}

static void sender_free(rx_sender *s)
{
    if (s == NULL)
        return;
    if (s->session != NULL)
        srtp_dealloc(s->session);
    free(s->uri);
    mcx_memzero(&s->keys, sizeof s->keys);
    free(s);
}

mcx_status mcx_media_receiver_remove_key(mcx_media_receiver *r, uint32_t key_id)
{
    if (r == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    size_t ki = 0;
    while (ki < r->n_keys && r->keys[ki]->key_id != key_id)
        ki++;
    if (ki == r->n_keys)
        return MCX_FAIL(MCX_E_NOT_FOUND, "media: no key with ID %08X is held", key_id);
    rx_key *k = r->keys[ki];
    size_t kept = 0;
    for (size_t i = 0; i < r->n_senders; i++) {
        rx_sender *s = r->senders[i];
        if (s->key == k) {
            sender_free(s);
        } else {
            s->index = kept;
            r->senders[kept++] = s;
        }
    }
    r->n_senders = kept;
    r->keys[ki] = r->keys[--r->n_keys];
    key_free(k);
    return table_rebuild(r, r->table_used);
}

void mcx_media_receiver_free(mcx_media_receiver *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_senders; i++)
        sender_free(r->senders[i]);
    for (size_t i = 0; i < r->n_keys; i++)
        key_free(r->keys[i]);
    free(r->senders);
    free(r->keys);
    free(r->table);
    free(r);
}

void mcx_media_receiver_stats(const mcx_media_receiver *r, mcx_media_stats *stats)
{
    if (stats == NULL)
        return;
    if (r == NULL) {
        memset(stats, 0, sizeof *stats);
        return;
    }
    *stats = r->stats;
}

size_t mcx_media_receiver_senders(const mcx_media_receiver *r)
{
    return r == NULL ? 0 : r->n_senders;
}

static void fill_info(const rx_sender *s, uint32_t ssrc, int new_sender, mcx_media_rx_info *info)
{
    info->key_id = s->keys.key_id;
    info->csb_id = s->keys.csb_id;
    info->ssrc = ssrc;
    info->sender_uri = s->uri;
    info->sender_index = s->index;
    info->new_sender = new_sender;
}

mcx_status mcx_media_receiver_sender(const mcx_media_receiver *r, size_t i, mcx_media_rx_info *info,
                                     mcx_media_stats *stats)
{
    if (r == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    if (i >= r->n_senders)
        return MCX_FAIL(MCX_E_NOT_FOUND, "media: sender %zu of %zu", i, r->n_senders);
    if (info != NULL)
        fill_info(r->senders[i], 0, 0, info);
    if (stats != NULL)
        *stats = r->senders[i]->stats;
    return MCX_OK;
}

static int cmp_guk(const void *a, const void *b)
{
    const guk_entry *x = a, *y = b;
    if (x->guk_id != y->guk_id)
        return x->guk_id < y->guk_id ? -1 : 1;
    return x->member < y->member ? -1 : x->member > y->member;
}

/* The GUK-ID -> member index of a group key, built on first use: one KDF per member (F.1.3). */
static mcx_status key_index(rx_key *k)
{
    if (k->index != NULL || k->n_members == 0)
        return MCX_OK;
    guk_entry *ix = malloc(k->n_members * sizeof *ix);
    if (ix == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: GUK-ID index of %zu members", k->n_members);
    for (size_t i = 0; i < k->n_members; i++) {
        mcx_status st = mcx_guk_id(k->secret, k->tgk_len, k->key_id, k->members[i], &ix[i].guk_id);
        if (st != MCX_OK) {
            free(ix);
            return st;
        }
        ix[i].member = (uint32_t)i;
    }
    qsort(ix, k->n_members, sizeof *ix, cmp_guk);
    k->index = ix;
    return MCX_OK;
}

/* Set up the sender (uri, or the private call's peer when uri is NULL) under key k. */
static mcx_status sender_new(mcx_media_receiver *r, rx_key *k, uint64_t mki, const char *uri,
                             rx_sender **out)
{
    if (r->n_senders == r->cap_senders) {
        size_t cap = r->cap_senders ? 2 * r->cap_senders : 8;
        rx_sender **a = realloc(r->senders, cap * sizeof *a);
        if (a == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "media: sender list");
        r->senders = a;
        r->cap_senders = cap;
    }
    rx_sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: sender");
    mcx_status st;
    const uint8_t *rand = k->secret + k->tgk_len;
    if (k->is_group) {
        st = mcx_media_group_keys(k->secret, k->tgk_len, k->key_id, rand, k->rand_len, uri,
                                  k->cs_id, &s->keys);
        if (st == MCX_OK && (s->uri = strdup(uri)) == NULL)
            st = MCX_FAIL(MCX_E_NOMEM, "media: sender URI");
    } else {
        st = mcx_media_private_keys(k->secret, k->tgk_len, k->key_id, rand, k->rand_len, k->cs_id,
                                    &s->keys);
    }
    if (st == MCX_OK) {
        srtp_policy_t policy;
        srtp_master_key_t mk, *mk_list[1];
        uint8_t master[MEDIA_POLICY_KEY_BYTES];
        media_policy(&policy, &mk, mk_list, master, &s->keys, ssrc_any_inbound, r->window);
        srtp_err_status_t err = srtp_create(&s->session, &policy);
        mcx_memzero(master, sizeof master);
        if (err != srtp_err_status_ok) {
            s->session = NULL;
            st = media_srtp_fail(err, "receiver set-up");
        }
    }
    if (st != MCX_OK) {
        sender_free(s);
        return st;
    }
    s->mki = mki;
    s->key = k;
    s->stats.senders = 1;
    s->index = r->n_senders;
    r->senders[r->n_senders++] = s;
    /* keep the table at most half full */
    if (2 * (r->table_used + 1) > r->table_cap) {
        st = table_rebuild(r, r->table_used + 1); /* inserts s with the others */
        if (st != MCX_OK) {
            r->n_senders--;
            sender_free(s);
            return st;
        }
    } else {
        *table_slot(r, mki) = s;
        r->table_used++;
    }
    r->stats.senders++;
    *out = s;
    return MCX_OK;
}

/* Apply a ROC hint to a stream this sender has not seen (RFC 3711 §3.3.1: a late joiner cannot
 * guess the ROC; TS 33.180 carries none in the packet, so the caller supplies it). */
static mcx_status apply_roc(const mcx_media_receiver *r, rx_sender *s, uint32_t ssrc,
                            const mcx_media_rx_hint *hint)
{
    if (hint == NULL || !hint->has_roc || hint->roc == 0)
        return MCX_OK;
    uint32_t roc = 0;
    if (srtp_get_stream_roc(s->session, ssrc, &roc) == srtp_err_status_ok)
        return MCX_OK; /* the stream exists: libsrtp2 tracks its ROC */
    srtp_policy_t policy;
    srtp_master_key_t mk, *mk_list[1];
    uint8_t master[MEDIA_POLICY_KEY_BYTES];
    media_policy(&policy, &mk, mk_list, master, &s->keys, ssrc_specific, r->window);
    policy.ssrc.value = ssrc;
    srtp_err_status_t err = srtp_add_stream(s->session, &policy);
    mcx_memzero(master, sizeof master);
    if (err == srtp_err_status_ok)
        err = srtp_set_stream_roc(s->session, ssrc, hint->roc);
    if (err != srtp_err_status_ok)
        return media_srtp_fail(err, "ROC hint");
    return MCX_OK;
}

static void count_reject(mcx_media_receiver *r, mcx_status st)
{
    mcx_media_rejects *c = &r->stats.rejected;
    switch (st) {
    case MCX_E_LENGTH:
    case MCX_E_ENCODING:
        c->truncated++;
        break;
    case MCX_E_NO_KEY:
        c->unknown_key++;
        break;
    case MCX_E_UNKNOWN_PEER:
        c->unknown_sender++;
        break;
    case MCX_E_TAG_INVALID:
        c->tag++;
        break;
    case MCX_E_REPLAY:
        c->replay++;
        break;
    default:
        c->other++;
        break;
    }
}

/* First sight of an MKI under group key k (or private key k): the sender is the talker named by
 * the hint, else the member whose GUK-ID is the MKI's. Members whose GUK-IDs coincide have the
 * same CSB-ID and so the same SRTP key (TS 33.180 §7.4.2): the first of them in the member list
 * is named (docs/media.md; mcx_media_guk_collisions lets a GMS avoid such GMKs). */
static mcx_status identify(mcx_media_receiver *r, rx_key *k, uint64_t mki, uint32_t guk_id,
                           const mcx_media_rx_hint *hint, rx_sender **out)
{
    if (!k->is_group)
        return sender_new(r, k, mki, NULL, out);
    if (hint != NULL && hint->sender_uri != NULL) {
        uint32_t g = 0;
        MCX_GUARD(mcx_guk_id(k->secret, k->tgk_len, k->key_id, hint->sender_uri, &g));
        if (g != guk_id)
            return MCX_FAIL(MCX_E_UNKNOWN_PEER,
                            "media: MKI GUK-ID %08X is not the talker's (%.64s: %08X)", guk_id,
                            hint->sender_uri, g);
        return sender_new(r, k, mki, hint->sender_uri, out);
    }
    MCX_GUARD(key_index(k));
    size_t lo = 0, hi = k->n_members;
    while (lo < hi) { /* first entry with guk_id >= the MKI's */
        size_t mid = lo + (hi - lo) / 2;
        if (k->index[mid].guk_id < guk_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == k->n_members || k->index[lo].guk_id != guk_id)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "media: GUK-ID %08X under GMK-ID %08X is no member's",
                        guk_id, k->key_id);
    return sender_new(r, k, mki, k->members[k->index[lo].member], out);
}

static mcx_status unprotect(mcx_media_receiver *r, const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len, const mcx_media_rx_hint *hint, mcx_media_rx_info *info)
{
    size_t hdr_len = 0;
    uint32_t ssrc = 0;
    MCX_GUARD(media_rtp_header(in, len, "unprotect", &hdr_len, &ssrc));
    if (len > INT_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "media: SRTP packet of %zu octets", len);
    /* RFC 7714 §8.2 (RFC 3711 §3.1): header || ciphertext || tag || MKI, the MKI last */
    if (len < hdr_len + MCX_MEDIA_TAG_BYTES + MCX_MEDIA_PRIVATE_MKI_BYTES)
        return MCX_FAIL(MCX_E_LENGTH,
                        "media: SRTP packet of %zu octets, header %zu + tag %d + MKI needs more",
                        len, hdr_len, MCX_MEDIA_TAG_BYTES);
    uint32_t tail = load_be32(in + len - 4);
    rx_key *k = NULL;
    uint64_t mki = 0;
    uint32_t guk_id = 0;
    if ((k = find_key(r, tail, 0)) != NULL) {
        mki = PRIVATE_MKI_TAG | tail; /* a private call: MKI = PCK-ID (TS 33.180 §7.4.1) */
    } else {
        if (len < hdr_len + MCX_MEDIA_TAG_BYTES + MCX_MEDIA_GROUP_MKI_BYTES)
            return MCX_FAIL(MCX_E_LENGTH,
                            "media: SRTP packet of %zu octets, header %zu + tag %d + MKI %d "
                            "needs more",
                            len, hdr_len, MCX_MEDIA_TAG_BYTES, MCX_MEDIA_GROUP_MKI_BYTES);
        uint32_t gmk_id = load_be32(in + len - 8);
        guk_id = tail;
        mki = ((uint64_t)gmk_id << 32) | guk_id;
    }
    rx_sender *s = *table_slot(r, mki);
    int first_sight = s == NULL;
    if (first_sight) {
        if (k == NULL) {
            uint32_t gmk_id = (uint32_t)(mki >> 32);
            k = find_key(r, gmk_id, 1);
            if (k == NULL)
                return MCX_FAIL(MCX_E_NO_KEY,
                                "media: unknown MKI %08X%08X: no GMK with GMK-ID %08X", gmk_id,
                                guk_id, gmk_id);
        }
        MCX_GUARD(identify(r, k, mki, guk_id, hint, &s));
    }
    if (out != in)
        memmove(out, in, len);
    MCX_GUARD(apply_roc(r, s, ssrc, hint));
    int n = (int)len;
    srtp_err_status_t err = srtp_unprotect_mki(s->session, out, &n, 1);
    if (err != srtp_err_status_ok) {
        mcx_status st = media_srtp_fail(err, s->uri != NULL ? s->uri : "private call");
        if (st == MCX_E_TAG_INVALID)
            s->stats.rejected.tag++;
        else if (st == MCX_E_REPLAY)
            s->stats.rejected.replay++;
        else
            s->stats.rejected.other++;
        return st;
    }
    *out_len = (size_t)n;
    s->stats.packets++;
    s->stats.octets += *out_len;
    if (info != NULL)
        fill_info(s, ssrc, first_sight, info);
    return MCX_OK;
}

mcx_status mcx_media_unprotect(mcx_media_receiver *r, const uint8_t *in, size_t len, uint8_t *out,
                               size_t cap, size_t *out_len, const mcx_media_rx_hint *hint,
                               mcx_media_rx_info *info)
{
    if (out_len != NULL)
        *out_len = 0;
    if (r == NULL || in == NULL || out == NULL || out_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    if (cap < len) {
        r->stats.rejected.other++;
        return MCX_FAIL(MCX_E_ARG, "media: output buffer of %zu octets for %zu", cap, len);
    }
    mcx_status st = unprotect(r, in, len, out, out_len, hint, info);
    if (st != MCX_OK) {
        /* nothing unauthenticated reaches the caller (libsrtp2 decrypts before the tag check) */
        mcx_memzero(out, len);
        *out_len = 0;
        count_reject(r, st);
        return st;
    }
    r->stats.packets++;
    r->stats.octets += *out_len;
    return MCX_OK;
}
