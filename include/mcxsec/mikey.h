/* MIKEY-SAKKE I_MESSAGEs for MCX keys (RFC 3830, RFC 6043, RFC 6509, TS 33.180 Annex E;
 * FACTS.md §3, §6; FORMATS.md §1, §4).
 *
 * Three layers:
 *   - the codec: mcx_mikey_decode / mcx_mikey_encode between octets and mcx_mikey_msg, a view of
 *     every payload (HDR, T, RAND, IDR, SP, SAKKE, General Extension, SIGN);
 *   - the builder: a sender's validated key set makes signed I_MESSAGEs carrying a key (GMK, PCK,
 *     CSK, SPK, MKFC, MSCCK, MuSiK) SAKKE-encrypted to a receiver;
 *   - the opener: a receiver's keys and trusted KMSs open I_MESSAGEs in the order that keeps a
 *     forged message from touching any secret: parse, time window, replay cache, sender and KMS
 *     known, ECCSI signature, and only then SAKKE decryption and the key parameters. */
#ifndef MCXSEC_MIKEY_H
#define MCXSEC_MIKEY_H

#include "mcxsec/common.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/keyparams.h"
#include "mcxsec/keys.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Codec ------------------------------------------------------------------------------- */

/* Payload types (RFC 3830 §6.1, RFC 6043 §6.6, RFC 6509 §4.2). */
enum {
    MCX_MIKEY_PT_LAST = 0,
    MCX_MIKEY_PT_KEMAC = 1,
    MCX_MIKEY_PT_PKE = 2,
    MCX_MIKEY_PT_DH = 3,
    MCX_MIKEY_PT_SIGN = 4,
    MCX_MIKEY_PT_T = 5,
    MCX_MIKEY_PT_ID = 6,
    MCX_MIKEY_PT_CERT = 7,
    MCX_MIKEY_PT_CHASH = 8,
    MCX_MIKEY_PT_V = 9,
    MCX_MIKEY_PT_SP = 10,
    MCX_MIKEY_PT_RAND = 11,
    MCX_MIKEY_PT_ERR = 12,
    MCX_MIKEY_PT_IDR = 14,
    MCX_MIKEY_PT_GEXT = 21,
    MCX_MIKEY_PT_SAKKE = 26,
    MCX_MIKEY_PT_HDR = 255 /* not on the wire: marks the common header in mcx_mikey_msg.order */
};

#define MCX_MIKEY_DATA_SAKKE_I   26 /* HDR data type of a SAKKE I_MESSAGE (RFC 6509 §4.1) */
#define MCX_MIKEY_DATA_SAKKE_R   27 /* ... and of its response */
#define MCX_MIKEY_PRF_HMAC256    1  /* PRF-HMAC-SHA-256 (RFC 6043 §6.1) */
#define MCX_MIKEY_MAP_SRTP_ID    0 /* CS-ID map types (RFC 3830 §6.1, TS 33.180 E.1.2, RFC 6043) */
#define MCX_MIKEY_MAP_EMPTY      1
#define MCX_MIKEY_MAP_GENERIC_ID 2
#define MCX_MIKEY_TS_NTP_UTC     0 /* T payload types (RFC 3830 §6.6) */
#define MCX_MIKEY_TS_NTP         1
#define MCX_MIKEY_TS_COUNTER     2
#define MCX_MIKEY_SIGN_ECCSI     2 /* SIGN S type (RFC 6509 §4.3) */
#define MCX_MIKEY_SAKKE_PARAMS_1 1 /* RFC 6509 parameter set 1 */
#define MCX_MIKEY_ID_SCHEME_UID  2 /* "3GPP MCX hashed UID" (TS 33.180 F.2.1) as deployed */
#define MCX_MIKEY_GEXT_SELF      6 /* General Extension: SAKKE-to-self (TS 33.180 E.5) */
#define MCX_MIKEY_GEXT_KEYPARAMS 7 /* General Extension: 3GPP key parameters (TS 33.180 E.6) */

/* IDR roles (RFC 6043 §6.6, TS 33.180 E.7). */
enum {
    MCX_IDR_I = 1,   /* initiator, URI */
    MCX_IDR_R = 2,   /* responder, URI */
    MCX_IDR_KMS = 3, /* KMS (one for both, or first initiator's then responder's) */
    MCX_IDR_PSK = 4,
    MCX_IDR_APP = 5,
    MCX_IDR_KMS_I = 6, /* initiator's KMS */
    MCX_IDR_KMS_R = 7, /* responder's KMS */
    MCX_IDR_UID_I = 8, /* initiator's UID (identity hiding) */
    MCX_IDR_UID_R = 9  /* responder's UID */
};

#define MCX_MIKEY_MAX_CS       8
#define MCX_MIKEY_MAX_POLICIES 16
#define MCX_MIKEY_MAX_IDR      8
#define MCX_MIKEY_MAX_SP       4
#define MCX_MIKEY_MAX_GEXT     4
#define MCX_MIKEY_MAX_PAYLOADS 32
#define MCX_MIKEY_MAX_BYTES    4096 /* largest message the builder makes */

/* A run of octets inside the decoded message (or, for encoding, in caller memory). */
typedef struct mcx_mikey_bytes {
    const uint8_t *p;
    size_t len;
} mcx_mikey_bytes;

/* One CS-ID map entry. GENERIC-ID (RFC 6043 §6.1.1): cs_id, prot_type, s_flag, policies,
 * session_data, spi. SRTP-ID (RFC 3830 §6.1.1): policy_no, ssrc, roc. */
typedef struct mcx_mikey_cs {
    uint8_t cs_id;
    uint8_t prot_type;
    uint8_t s_flag;
    uint8_t n_policies;
    uint8_t policies[MCX_MIKEY_MAX_POLICIES];
    mcx_mikey_bytes session_data;
    mcx_mikey_bytes spi;
    uint8_t policy_no;
    uint32_t ssrc;
    uint32_t roc;
} mcx_mikey_cs;

typedef struct mcx_mikey_idr {
    uint8_t role;
    uint8_t id_type; /* 0 NAI, 1 URI, 2 byte string */
    mcx_mikey_bytes data;
} mcx_mikey_idr;

typedef struct mcx_mikey_sp {
    uint8_t policy_no;
    uint8_t prot_type;
    mcx_mikey_bytes params; /* { type(1) length(1) value } ..., checked to be well formed */
} mcx_mikey_sp;

typedef struct mcx_mikey_gext {
    uint8_t type;
    mcx_mikey_bytes data;
} mcx_mikey_gext;

typedef struct mcx_mikey_msg {
    /* HDR (RFC 3830 §6.1) */
    uint8_t version;
    uint8_t data_type;
    uint8_t v_flag;
    uint8_t prf;
    uint32_t csb_id;
    uint8_t n_cs;
    uint8_t map_type;
    mcx_mikey_cs cs[MCX_MIKEY_MAX_CS];
    /* T */
    int has_t;
    uint8_t ts_type;
    uint64_t ts; /* the 8-octet (or 4-octet COUNTER) value as sent */
    /* RAND */
    int has_rand;
    mcx_mikey_bytes rand;
    size_t n_idr;
    mcx_mikey_idr idr[MCX_MIKEY_MAX_IDR];
    size_t n_sp;
    mcx_mikey_sp sp[MCX_MIKEY_MAX_SP];
    /* SAKKE (RFC 6509 §4.2) */
    int has_sakke;
    uint8_t sakke_params;
    uint8_t id_scheme;
    mcx_mikey_bytes sed;
    size_t n_gext;
    mcx_mikey_gext gext[MCX_MIKEY_MAX_GEXT];
    /* SIGN (RFC 3830 §6.5): always last */
    int has_sign;
    uint8_t sign_type;
    mcx_mikey_bytes sig;
    size_t sign_offset; /* where SIGN starts: the legacy signature scope is msg[0..sign_offset) */
    size_t signed_len;  /* sign_offset + 2: RFC 3830 §5.2 scope, through the SIGN header */
    /* The payloads in wire order (MCX_MIKEY_PT_*), HDR first. The encoder follows this order when
     * n_payloads != 0, else the TS 33.180 E order (HDR T RAND IDR.. SP.. SAKKE GEXT.. SIGN). */
    size_t n_payloads;
    uint8_t order[MCX_MIKEY_MAX_PAYLOADS];
} mcx_mikey_msg;

/* Decode a MIKEY message into m; every view points into msg, which must outlive m.
 * Structure is checked, not meaning: payload order (T and RAND, then IDRs, then SPs, then SAKKE
 * and General Extensions, SIGN last), duplicates, every length field, SP parameter lists, the
 * GENERIC-ID and SRTP-ID maps. Errors name the payload, the field and the byte:
 *   MCX_E_LENGTH (truncated or over-long fields, trailing octets after SIGN),
 *   MCX_E_ENCODING (bad version, payload out of order or repeated, unknown payload type,
 *                   counts that disagree), MCX_E_UNSUPPORTED (payloads MIKEY-SAKKE never uses:
 *                   KEMAC, PKE, DH, ...; too many entries for the MCX_MIKEY_MAX_* bounds). */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_decode(const uint8_t *msg, size_t len,
                                                   mcx_mikey_msg *m);

/* Encode m into out[0..cap). With m->has_sign the SIGN payload is written with m->sig, which
 * may be all zeros to be filled in after signing msg[0..m->signed_len); m->sign_offset and
 * m->signed_len are set. Errors: MCX_E_ARG, MCX_E_LENGTH (buffer too small, a field too long
 * for its length octets). */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_encode(mcx_mikey_msg *m, uint8_t *out, size_t cap,
                                                   size_t *out_len);

/* Name of a payload type ("HDR", "T", "SAKKE", ...; "unknown" otherwise). */
MCX_API const char *mcx_mikey_payload_name(unsigned type);

/* The NTP seconds a T payload carries. NTP-UTC/NTP: the high 32 bits; a value whose high 32
 * bits are zero is read from the low 32 bits (one deployed GMS writes it there, FORMATS §4). */
MCX_API uint64_t mcx_mikey_t_seconds(const mcx_mikey_msg *m);

/* ---- KMS certificates and identities ----------------------------------------------------- */

#define MCX_URI_MAX 256 /* longest URI kept, with its NUL */

/* What a KMS certificate says (TS 33.180 D.3.2), as MIKEY needs it. */
typedef struct mcx_kms_cert {
    char uri[MCX_URI_MAX]; /* KmsUri, as written in UIDs and IDRkms. "" in an opener's list
                              matches any KMS name: only for a single explicitly given KMS. */
    uint8_t Z[MCX_SAKKE_POINT_BYTES];    /* PubEncKey */
    uint8_t kpak[MCX_ECCSI_POINT_BYTES]; /* PubAuthKey */
    uint64_t key_period;                 /* UserKeyPeriod, seconds */
    uint64_t key_offset;                 /* UserKeyOffset, seconds */
    mcx_id_mode id_mode; /* raw UID octets or their hex string as the ECCSI/SAKKE identity */
} mcx_kms_cert;

/* The NTP seconds of now from the system clock. */
MCX_API uint64_t mcx_ntp_now(void);

/* ---- Builder ----------------------------------------------------------------------------- */

typedef struct mcx_mikey_builder mcx_mikey_builder;

/* A sender: its KMS certificate, its MC service ID (uri, may be NULL when uid is given), the key
 * period number its key set belongs to, and its SSK and PVT, validated here (RFC 6507 §5.1.2).
 * uid (may be NULL) overrides the UID format 2 computed from uri, KMS and period.
 * Errors: MCX_E_ARG, those of mcx_eccsi_validate, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_builder_new(mcx_mikey_builder **out,
                                                        const mcx_kms_cert *kms, const char *uri,
                                                        const uint8_t *uid, uint64_t period_no,
                                                        const uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                                        const uint8_t pvt[MCX_ECCSI_POINT_BYTES]);

MCX_API void mcx_mikey_builder_free(mcx_mikey_builder *b);

typedef enum mcx_mikey_idr_style {
    MCX_IDR_STYLE_UID = 0, /* roles 8/9 with the UIDs and 6/7 with the KMS URIs (TS 33.180 E.7) */
    MCX_IDR_STYLE_URI = 1  /* roles 1/2 with the URIs and 6/7 with the KMS URIs */
} mcx_mikey_idr_style;

typedef struct mcx_mikey_build_args {
    mcx_key_type type;
    const uint8_t *key; /* the SSV: 16 or 32 octets */
    size_t key_len;
    uint32_t key_id; /* its purpose tag must be type; for a GMK this is the GMK-ID */
    /* Receiver: its MC service ID (needed for a GMK: the GUK-ID), or its UID (overrides). */
    const char *receiver_uri;
    const uint8_t *receiver_uid;
    const mcx_kms_cert *receiver_kms; /* NULL: the sender's KMS */
    const mcx_key_params *params;     /* NULL: no key-parameters extension */
    const uint8_t *rand;              /* NULL: 16 random octets */
    size_t rand_len;
    uint64_t t_ntp; /* NTP seconds for T; 0: now */
    int cs_id; /* CS-ID for the GENERIC-ID map; -1: the type's default (GMK 4, CSK 6, MuSiK 7) */
    int self_copy; /* also encrypt the key to the sender (General Extension type 6) */
    mcx_mikey_idr_style idr_style;
} mcx_mikey_build_args;

/* Build and sign one I_MESSAGE into out[0..cap) (MCX_MIKEY_MAX_BYTES is always enough).
 * The receiver's UID uses the receiver's KMS and the key period in force at T.
 * Errors: MCX_E_ARG (key ID tag disagrees with type, GMK without receiver URI, bad lengths),
 * MCX_E_LENGTH, those of the SAKKE and ECCSI operations, MCX_E_RANDOM, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_build(mcx_mikey_builder *b,
                                                  const mcx_mikey_build_args *a, uint8_t *out,
                                                  size_t cap, size_t *out_len);

/* ---- Opener ------------------------------------------------------------------------------ */

typedef struct mcx_mikey_settings {
    uint64_t time_window;     /* |T - now| allowed, seconds (0: 300) */
    int any_time;             /* skip the T check (offline analysis) */
    int allow_legacy_scope;   /* also accept signatures over the octets before SIGN (FORMATS §4) */
    int refuse_legacy_params; /* refuse unencrypted key parameters (SW 1.1.x form) */
    unsigned period_search;   /* key periods searched either side of T's (0: 2) */
    size_t replay_entries;    /* replay cache capacity (0: 4096) */
    uint64_t (*now)(void *arg); /* NTP seconds; NULL: mcx_ntp_now */
    void *now_arg;
} mcx_mikey_settings;

typedef struct mcx_mikey_opener mcx_mikey_opener;

/* settings may be NULL (defaults). Errors: MCX_E_ARG, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_opener_new(mcx_mikey_opener **out,
                                                       const mcx_mikey_settings *settings);
MCX_API void mcx_mikey_opener_free(mcx_mikey_opener *o);

/* Trust a KMS (its certificate was checked by the caller). Errors: MCX_E_ARG, MCX_E_NOMEM,
 * those of decoding Z and KPAK. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_opener_add_kms(mcx_mikey_opener *o,
                                                           const mcx_kms_cert *kms);

/* One of the receiver's own key sets: MC service ID uri (or, when uri is NULL, the UID uid) at
 * the trusted KMS kms_uri for key period period_no, with its RSK, validated here (RFC 6508
 * §6.1.2). Errors: MCX_E_ARG, MCX_E_UNKNOWN_PEER (KMS not added), RSK validation errors. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_opener_add_identity(
    mcx_mikey_opener *o, const char *uri, const uint8_t *uid, const char *kms_uri,
    uint64_t period_no, const uint8_t rsk[MCX_SAKKE_POINT_BYTES]);

/* A sender whose messages are accepted: its MC service ID uri at kms_uri (UIDs are computed for
 * the periods around T), or, when uri is NULL, a fixed UID. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_opener_add_peer(mcx_mikey_opener *o, const char *uri,
                                                            const uint8_t *uid,
                                                            const char *kms_uri);

/* Where an I_MESSAGE was rejected. */
typedef enum mcx_mikey_stage {
    MCX_MIKEY_STAGE_NONE = 0, /* accepted */
    MCX_MIKEY_STAGE_PARSE,
    MCX_MIKEY_STAGE_TIME,
    MCX_MIKEY_STAGE_REPLAY,
    MCX_MIKEY_STAGE_SENDER,
    MCX_MIKEY_STAGE_SIGNATURE,
    MCX_MIKEY_STAGE_RECEIVER,
    MCX_MIKEY_STAGE_DECRYPT,
    MCX_MIKEY_STAGE_KEY,
    MCX_MIKEY_STAGE_PARAMS
} mcx_mikey_stage;

/* "accepted", "malformed", "stale", "replayed", "unknown sender", "bad signature",
 * "not for this receiver", "decryption failed", "inconsistent key", "bad key parameters". */
MCX_API const char *mcx_mikey_stage_verdict(mcx_mikey_stage stage);

typedef struct mcx_mikey_result {
    mcx_status status;     /* MCX_OK when accepted */
    mcx_mikey_stage stage; /* where it was rejected */
    char reason[256];      /* why, readable */
    /* Filled when accepted (and partly as far as the message got): */
    unsigned type; /* purpose tag of the CSB-ID */
    uint8_t key[MCX_SAKKE_SSV_MAX_BYTES];
    size_t key_len;
    uint32_t key_id; /* GMK-ID for a GMK */
    uint32_t csb_id; /* GUK-ID for a GMK */
    uint32_t gmk_id;
    uint32_t guk_id;
    int has_cs_id;
    uint8_t cs_id;
    uint8_t rand[255];
    size_t rand_len;
    uint64_t t_ntp; /* NTP seconds of T */
    uint64_t sender_period_no;
    uint64_t receiver_period_no;
    int sender_period_known;
    int receiver_period_known;
    uint8_t sender_uid[MCX_UID_BYTES];
    uint8_t receiver_uid[MCX_UID_BYTES];
    char sender_uri[MCX_URI_MAX]; /* "" when the sender was known only by UID */
    char receiver_uri[MCX_URI_MAX];
    int legacy_scope; /* the signature held only over the legacy scope */
    int has_params;
    mcx_kp_form params_form;
    mcx_key_params params;
    int has_self_copy; /* a SAKKE-to-self extension was present (not opened) */
} mcx_mikey_result;

/* Open an I_MESSAGE. claimed_sender_uri (may be NULL) is a sender the signalling names (e.g. the
 * SIP From of a private call): it is tried as a peer at the sender's KMS. res is always filled
 * (status, stage, reason); the key fields only when accepted. Returns res->status.
 * Nothing is decrypted before the signature holds; a rejected message is not remembered by the
 * replay cache. Wipe res with mcx_mikey_result_wipe. */
MCX_API MCX_MUST_CHECK mcx_status mcx_mikey_open(mcx_mikey_opener *o, const uint8_t *msg,
                                                 size_t len, const char *claimed_sender_uri,
                                                 mcx_mikey_result *res);

MCX_API void mcx_mikey_result_wipe(mcx_mikey_result *res);

#ifdef __cplusplus
}
#endif
#endif
