/* Group and private call media protection: per-sender SRTP keys (TS 33.180 §7.4) protected with
 * AEAD_AES_128_GCM (RFC 7714) by libsrtp2, the MKI in every packet (docs/media.md).
 *
 * Key chain for a group (TS 33.180 §7.4.2, FACTS §8): GUK-ID = GMK-ID XOR the 28-bit user salt of
 * the sender's MC service ID (F.1.3); SRTP master key (16 octets) and master salt (12 octets) =
 * MIKEY PRF(GMK, cs_id, csb_id = GUK-ID, RAND of the GMK's I_MESSAGE) (RFC 3830 §4.1.3);
 * MKI = GMK-ID || GUK-ID (8 octets). Private call (§7.4.1): TGK = PCK, csb_id = PCK-ID,
 * MKI = PCK-ID (4 octets).
 *
 * Packets are RTP header || ciphertext || tag (16) || MKI: for AEAD the MKI follows the tag
 * (RFC 7714 §8.2 and RFC 3711 §3.1: the MKI is not authenticated).
 *
 * Senders and receivers are opaque heap objects; neither is thread-safe (one per media thread). */
#ifndef MCXSEC_MEDIA_H
#define MCXSEC_MEDIA_H

#include "mcxsec/common.h"
#include "mcxsec/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_MEDIA_TAG_BYTES         16 /* AEAD_AES_128_GCM, full tag (RFC 7714 §14.1) */
#define MCX_MEDIA_GROUP_MKI_BYTES   8  /* GMK-ID || GUK-ID */
#define MCX_MEDIA_PRIVATE_MKI_BYTES 4  /* PCK-ID */
#define MCX_MEDIA_MKI_MAX_BYTES     8
/* What protect adds to an RTP packet at most: the tag and the longest MKI. */
#define MCX_MEDIA_TRAILER_BYTES  (MCX_MEDIA_TAG_BYTES + MCX_MEDIA_MKI_MAX_BYTES)
#define MCX_MEDIA_RTP_HEADER_MIN 12  /* RFC 3550 §5.1 fixed header */
#define MCX_MEDIA_RAND_MAX_BYTES 255 /* RFC 3830 §6.11: one length octet */

/* The SRTP keying of one sender's media. */
typedef struct mcx_media_keys {
    uint8_t master_key[MCX_SRTP_MASTER_KEY_BYTES];
    uint8_t master_salt[MCX_SRTP_MASTER_SALT_BYTES];
    uint8_t mki[MCX_MEDIA_MKI_MAX_BYTES];
    size_t mki_len;  /* 8 (group) or 4 (private call) */
    uint32_t key_id; /* GMK-ID or PCK-ID */
    uint32_t csb_id; /* GUK-ID or PCK-ID */
    uint8_t cs_id;
} mcx_media_keys;

/* The keys a group member with MC service ID sender_uri sends under (TS 33.180 §7.4.2): the GMK
 * (16 octets or more), its GMK-ID (purpose tag 0), the RAND of the GMK's I_MESSAGE and cs_id 4
 * (MCX_CS_MCPTT_GROUP) or 5 (MCX_CS_MCVIDEO_GROUP). The caller wipes *keys (mcx_memzero) after
 * use. Errors: MCX_E_ARG (NULL, cs_id not 4 or 5, GMK-ID tag not GMK), MCX_E_LENGTH (empty GMK,
 * RAND empty or over 255 octets). */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_group_keys(const uint8_t *gmk, size_t gmk_len,
                                                       uint32_t gmk_id, const uint8_t *rand,
                                                       size_t rand_len, const char *sender_uri,
                                                       uint8_t cs_id, mcx_media_keys *keys);

/* The keys of a private call (TS 33.180 §7.4.1): TGK = PCK, csb_id = PCK-ID, MKI = PCK-ID, cs_id
 * 0..3 (Table E.1.3-1: the initiator's and the receiver's media differ in cs_id). Errors as
 * mcx_media_group_keys (cs_id above 3, PCK-ID tag not PCK). */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_private_keys(const uint8_t *pck, size_t pck_len,
                                                         uint32_t pck_id, const uint8_t *rand,
                                                         size_t rand_len, uint8_t cs_id,
                                                         mcx_media_keys *keys);

/* Number of pairs of members whose GUK-IDs under (gmk, gmk_id) coincide. GUK-IDs have 28 random
 * bits: among 10,000 members a pair collides with probability about 0.17, and two colliding
 * members send under the same SRTP key (docs/media.md). A GMS can draw another GMK when this is
 * not 0. Errors: MCX_E_ARG, MCX_E_LENGTH, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_guk_collisions(const uint8_t *gmk, size_t gmk_len,
                                                           uint32_t gmk_id,
                                                           const char *const *members,
                                                           size_t n_members, size_t *n_pairs);

/* ---- Sender ---- */

typedef struct mcx_media_sender mcx_media_sender;

/* A sender protecting with keys (copied; libsrtp2 keeps only the session keys it derives).
 * Errors: MCX_E_ARG, MCX_E_NOMEM, MCX_E_INTERNAL (libsrtp2). */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_sender_new(mcx_media_sender **out,
                                                       const mcx_media_keys *keys);

/* mcx_media_group_keys for own_uri followed by mcx_media_sender_new. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_sender_new_group(mcx_media_sender **out,
                                                             const uint8_t *gmk, size_t gmk_len,
                                                             uint32_t gmk_id, const uint8_t *rand,
                                                             size_t rand_len, const char *own_uri,
                                                             uint8_t cs_id);

/* Protect the RTP packet of len octets at pkt in place; cap is the buffer's size, at least
 * len + MCX_MEDIA_TRAILER_BYTES. *out_len receives the SRTP packet's length. Every (SSRC, index)
 * is protected once only (keystream reuse, RFC 7714 §8.4). Errors: MCX_E_ARG, MCX_E_LENGTH (short
 * RTP packet, too small a buffer), MCX_E_ENCODING (not RTP version 2), MCX_E_REPLAY (the index was
 * protected before), MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_protect(mcx_media_sender *s, uint8_t *pkt, size_t len,
                                                    size_t cap, size_t *out_len);

/* As mcx_media_protect, from rtp (left unchanged) into out of cap octets. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_protect_to(mcx_media_sender *s, const uint8_t *rtp,
                                                       size_t len, uint8_t *out, size_t cap,
                                                       size_t *out_len);

/* The roll-over counter of the sender's stream ssrc (RFC 3711 §3.3.1), for a ROC hint to late
 * joiners. Errors: MCX_E_ARG, MCX_E_NOT_FOUND (nothing sent on ssrc yet). */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_sender_roc(mcx_media_sender *s, uint32_t ssrc,
                                                       uint32_t *roc);

/* Release the sender (libsrtp2 wipes its session keys). NULL is accepted. */
MCX_API void mcx_media_sender_free(mcx_media_sender *s);

/* ---- Receiver ---- */

typedef struct mcx_media_receiver mcx_media_receiver;

/* Why packets were refused. */
typedef struct mcx_media_rejects {
    uint64_t truncated;      /* MCX_E_LENGTH / MCX_E_ENCODING: shorter than header + tag + MKI */
    uint64_t unknown_key;    /* MCX_E_NO_KEY: no GMK with the MKI's GMK-ID, no PCK with its ID */
    uint64_t unknown_sender; /* MCX_E_UNKNOWN_PEER: the GUK-ID is no member's (nor the talker's) */
    uint64_t tag;            /* MCX_E_TAG_INVALID: the AEAD tag does not verify */
    uint64_t replay;         /* MCX_E_REPLAY: index seen before or older than the window */
    uint64_t other;          /* MCX_E_INTERNAL and the rest */
} mcx_media_rejects;

typedef struct mcx_media_stats {
    uint64_t packets; /* packets decrypted and delivered */
    uint64_t octets;  /* RTP octets delivered (header and payload) */
    uint64_t senders; /* sender keys set up (first sight of a sender) */
    mcx_media_rejects rejected;
} mcx_media_stats;

/* Receiver options (zero for defaults). */
typedef struct mcx_media_receiver_opts {
    unsigned replay_window; /* packets, 64..32767; 0: 1024 (RFC 3711 §3.3.2: at least 64) */
} mcx_media_receiver_opts;

/* An empty receiver. opts may be NULL. Errors: MCX_E_ARG, MCX_E_NOMEM, MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_receiver_new(mcx_media_receiver **out,
                                                         const mcx_media_receiver_opts *opts);

/* Hold a group key: the GMK, its GMK-ID, the RAND of its I_MESSAGE, cs_id (4 or 5) and the MC
 * service IDs of the group's members (copied; may be empty when the caller always names the
 * talker). The GUK-ID -> member index is built on the first packet that needs it.
 * Errors: MCX_E_ARG, MCX_E_LENGTH, MCX_E_EXISTS (a key with that ID is held), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_receiver_add_group_key(
    mcx_media_receiver *r, const uint8_t *gmk, size_t gmk_len, uint32_t gmk_id, const uint8_t *rand,
    size_t rand_len, uint8_t cs_id, const char *const *members, size_t n_members);

/* Hold a private call key (PCK, PCK-ID, RAND, the peer's cs_id 0..3). Errors as above. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_receiver_add_private_key(
    mcx_media_receiver *r, const uint8_t *pck, size_t pck_len, uint32_t pck_id, const uint8_t *rand,
    size_t rand_len, uint8_t cs_id);

/* Drop the key with ID key_id (GMK-ID or PCK-ID) and every sender set up under it (rekey, member
 * removal): its packets are then refused as unknown keys. Errors: MCX_E_ARG, MCX_E_NOT_FOUND. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_receiver_remove_key(mcx_media_receiver *r,
                                                                uint32_t key_id);

/* What the caller knows about a packet beyond its bytes (all optional). */
typedef struct mcx_media_rx_hint {
    const char *sender_uri; /* the talker's MC service ID (floor control, TS 24.380), or NULL */
    int has_roc;            /* roc is the ROC of a stream not seen before (late entry) */
    uint32_t roc;
} mcx_media_rx_hint;

/* Who sent a delivered packet. */
typedef struct mcx_media_rx_info {
    uint32_t key_id; /* GMK-ID or PCK-ID */
    uint32_t csb_id; /* GUK-ID or PCK-ID */
    uint32_t ssrc;
    const char *sender_uri; /* NULL for a private call; valid while the key is held */
    size_t sender_index;    /* position in mcx_media_receiver_sender() order */
    int new_sender;         /* this packet set the sender up */
} mcx_media_rx_info;

/* Verify and decrypt the SRTP packet in[0..len) into out (cap octets, at least len; out == in
 * decrypts in place). On success *out_len is the RTP packet's length and info (may be NULL)
 * names the sender. A sender seen for the first time is identified from the MKI: the GMK by its
 * GMK-ID, then the member whose GUK-ID matches (hint->sender_uri if given, else the member list),
 * and its key is derived and kept. hint may be NULL. On failure nothing is delivered: out is
 * wiped and *out_len is 0. Errors (each counted, see mcx_media_rejects): MCX_E_ARG,
 * MCX_E_LENGTH, MCX_E_ENCODING, MCX_E_NO_KEY, MCX_E_UNKNOWN_PEER, MCX_E_TAG_INVALID,
 * MCX_E_REPLAY, MCX_E_NOMEM, MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_unprotect(mcx_media_receiver *r, const uint8_t *in,
                                                      size_t len, uint8_t *out, size_t cap,
                                                      size_t *out_len,
                                                      const mcx_media_rx_hint *hint,
                                                      mcx_media_rx_info *info);

/* The receiver's totals. */
MCX_API void mcx_media_receiver_stats(const mcx_media_receiver *r, mcx_media_stats *stats);

/* Number of senders set up. */
MCX_API size_t mcx_media_receiver_senders(const mcx_media_receiver *r);

/* The i-th sender (order of first sight): key_id, csb_id, sender_uri (NULL for a private call)
 * and its own counters (packets and octets delivered, tag and replay refusals; senders = 1).
 * Errors: MCX_E_ARG, MCX_E_NOT_FOUND (i out of range). */
MCX_API MCX_MUST_CHECK mcx_status mcx_media_receiver_sender(const mcx_media_receiver *r, size_t i,
                                                            mcx_media_rx_info *info,
                                                            mcx_media_stats *stats);

/* Release the receiver, its keys (wiped) and senders. NULL is accepted. */
MCX_API void mcx_media_receiver_free(mcx_media_receiver *r);

#ifdef __cplusplus
}
#endif
#endif
