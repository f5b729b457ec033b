/* The 3GPP key-parameters payload (TS 33.180 §E.6, a MIKEY General Extension of type 7) and the
 * MCData protected payload that carries it (TS 33.180 §8.5.4; FORMATS.md §5, FACTS.md §6.1-6.2).
 *
 * Plain payload:
 *   key type (1) | status (4) | activation time (5) | expiry time (5) | text length (2) | text
 *   [GMK, MKFC, MuSiK:] group IDs length (2) | count (1) | { IEI (1) | length (2) | group ID }
 * Protected wrapper (AES-128-GCM under the DPCK of the distributed key, DPPK-ID = the HDR CSB-ID):
 *   type (1) | date-time (5) | payload ID (4) | seq (1) | algorithm (1) | IV (16) | DPPK-ID (4) |
 *   TLV type (1) | TLV length (2) | ciphertext || tag (16)
 *   AAD = the first 12 octets || IV || DPPK-ID. */
#ifndef MCXSEC_KEYPARAMS_H
#define MCXSEC_KEYPARAMS_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_KP_TEXT_MAX       256  /* longest text kept (a longer one is MCX_E_UNSUPPORTED) */
#define MCX_KP_GROUPS_MAX     8    /* most group IDs kept */
#define MCX_KP_GROUP_ID_MAX   256  /* longest group ID kept */
#define MCX_KP_IEI_GROUP_ID   0x7b /* MC group ID IEI used by deployed GMSs (Alea, FORMATS §5) */
#define MCX_KP_STATUS_ACTIVE  0x1u /* "not revoked" (TS 33.180 E.6.9) */
#define MCX_KP_STATUS_GATEWAY 0x2u /* "shared with a security gateway" */

typedef struct mcx_kp_group_id {
    uint8_t iei;
    uint16_t len;
    uint8_t id[MCX_KP_GROUP_ID_MAX];
} mcx_kp_group_id;

typedef struct mcx_key_params {
    uint8_t key_type;    /* purpose tag of the key (mcx_key_type) */
    uint32_t status;     /* MCX_KP_STATUS_* bits */
    uint64_t activation; /* 40-bit time; deployments differ on the epoch (NTP or Unix) */
    uint64_t expiry;     /* 40-bit time */
    uint16_t text_len;
    uint8_t text[MCX_KP_TEXT_MAX]; /* UTF-8, not NUL-terminated */
    /* Group IDs: present (has_groups = 1) for GMK, MKFC and MuSiK. An empty list is encoded as
     * length 1, count 0 (what deployed GMSs send). Decoding sets has_groups to whether the field
     * was there (0 for the 15-octet form and the legacy form); encoding writes the field for
     * every GMK, MKFC and MuSiK, empty when has_groups is 0. */
    int has_groups;
    uint8_t n_groups;
    mcx_kp_group_id groups[MCX_KP_GROUPS_MAX];
} mcx_key_params;

/* Whether key parameters of this type carry the group-IDs field (GMK, MKFC, MuSiK). */
MCX_API int mcx_kp_type_has_groups(unsigned key_type);

/* Encode the plain payload into out[0..cap); *out_len receives its length.
 * Errors: MCX_E_ARG (also: key type above 6, text or group IDs beyond the MCX_KP_* limits,
 * n_groups without has_groups, group IDs for a type without them), MCX_E_LENGTH (buffer too
 * small), MCX_E_RANGE (a time above 2^40-1). */
MCX_API MCX_MUST_CHECK mcx_status mcx_kp_encode(const mcx_key_params *kp, uint8_t *out, size_t cap,
                                                size_t *out_len);

/* Decode a plain payload. Whether a group-IDs field follows the text is decided by the key type
 * octet; a payload that ends right after the expiry time (no text length, as one deployed GMS
 * sends) decodes with an empty text. Errors: MCX_E_LENGTH (truncated, trailing octets),
 * MCX_E_ENCODING (counts that disagree with lengths), MCX_E_UNSUPPORTED (text or group IDs
 * beyond the MCX_KP_* limits). */
MCX_API MCX_MUST_CHECK mcx_status mcx_kp_decode(const uint8_t *in, size_t len, mcx_key_params *kp);

#define MCX_KP_WRAP_TYPE_ENCRYPTED 0x43 /* encrypted + signalled as protected, what SW sends */
#define MCX_KP_ALG_AES128_GCM      1
#define MCX_KP_ALG_AES256_GCM      2
#define MCX_KP_IV_BYTES            16
#define MCX_KP_TAG_BYTES           16
#define MCX_KP_WRAP_OVERHEAD       (12 + MCX_KP_IV_BYTES + 4 + 3 + MCX_KP_TAG_BYTES)

/* Protect a plain payload for the General Extension of type 7: DPCK from (key, dppk_id) with
 * FC 0x53, a random IV, AES-128-GCM, message type 0x43, payload ID 0, sequence 0. date_time is
 * written as given (0 is fine). plain is not checked; out must not overlap it. On failure no
 * plaintext is left in out. Errors: MCX_E_ARG (also date_time above 2^40-1), MCX_E_LENGTH (empty
 * key, plain over 65519 octets, buffer below plain_len + MCX_KP_WRAP_OVERHEAD), MCX_E_RANDOM,
 * MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kp_protect(const uint8_t *key, size_t key_len,
                                                 uint32_t dppk_id, uint64_t date_time,
                                                 const uint8_t *plain, size_t plain_len,
                                                 uint8_t *out, size_t cap, size_t *out_len);

/* Same with a caller-chosen IV (tests and reproducible vectors). */
MCX_API MCX_MUST_CHECK mcx_status mcx_kp_protect_with_iv(const uint8_t *key, size_t key_len,
                                                         uint32_t dppk_id, uint64_t date_time,
                                                         const uint8_t iv[MCX_KP_IV_BYTES],
                                                         const uint8_t *plain, size_t plain_len,
                                                         uint8_t *out, size_t cap, size_t *out_len);

/* The content of a General Extension of type 7, whatever its form. */
typedef enum mcx_kp_form {
    MCX_KP_FORM_PROTECTED = 0, /* protected wrapper, decrypted and authenticated */
    MCX_KP_FORM_LEGACY = 1     /* unencrypted, first octet = key type + 1 (SW 1.1.x, FORMATS §5) */
} mcx_kp_form;

/* Open the content of a General Extension of type 7 with the distributed key: check that the
 * wrapper's DPPK-ID equals expect_dppk_id (the HDR CSB-ID), derive the DPCK, authenticate and
 * decrypt (AES-128-GCM or AES-256-GCM by the algorithm octet), decode into kp. A first octet of
 * 1..3 is the legacy unencrypted form (accepted only if allow_legacy). Nothing is written to kp
 * or *form (form may be NULL) unless everything succeeds; the plaintext is wiped.
 * Strictness: the message type must have the "encrypted" bit 0x40 (SW 0x43, Alea 0x40); the TLV
 * type must be 0 and the TLV length must equal the octets that follow it (SW's parser ignores
 * the length; every known sender writes that value). Algorithm 2 (no known sender) uses the
 * whole 32-octet KDF(key, 0x53, DPPK-ID) output as its AES-256 key.
 * Errors: MCX_E_ARG (NULL key, in or kp), MCX_E_LENGTH, MCX_E_ENCODING, MCX_E_UNSUPPORTED
 * (algorithm, legacy form not allowed, message type, TLV type, beyond the MCX_KP_* limits),
 * MCX_E_TAG_INVALID, MCX_E_INTERNAL; MCX_E_ENCODING also when the DPPK-ID is not the CSB-ID. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kp_open(const uint8_t *key, size_t key_len,
                                              uint32_t expect_dppk_id, const uint8_t *in,
                                              size_t len, int allow_legacy, mcx_key_params *kp,
                                              mcx_kp_form *form);

#ifdef __cplusplus
}
#endif
#endif
