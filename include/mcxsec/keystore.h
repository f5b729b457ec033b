/* The client keystore: the KMS certificates a client has pinned and the user key sets it has
 * received and validated (TS 33.180 §5.2, §5.3, Annex D), kept in one private file that
 * mcx_client_provision (provision.h) fills and the MIKEY builder and opener (mikey.h) read.
 *
 * What it holds:
 *   - pinned KMS certificates (every mcx_kms_certificate field, plus the identity mode the
 *     deployment uses, see uid.h), keyed by KmsUri. A certificate is pinned on first use (after
 *     the TLS server authentication of the KMS); a different certificate for the same KmsUri is
 *     refused with MCX_E_DENIED unless the caller re-pins it explicitly, which also drops the key
 *     sets issued under the old one;
 *   - per KMS URL origin (https://host[:port]) the KmsUri pinned for it: the server at that
 *     origin must keep presenting a certificate naming that KmsUri, so a server cannot escape
 *     its pin by naming another KMS (mcx_client_provision checks and records this);
 *   - key sets per (user URI, KmsUri, key period number): UID, SSK, PVT, RSK, validity. Only
 *     validated key sets are added (RFC 6507 §5.1.2, RFC 6508 §6.1.2);
 *   - group keys (TS 33.180 §5.2.3, §7.3; docs/gms.md) per (group ID, kind gmk|mkfc|gdk, key ID):
 *     the key and everything its I_MESSAGE said about it (RAND, GUK-ID, key parameters, T, the
 *     GMS that signed it, a digest for replay detection, the explicit pseudonym), put here by
 *     mcx_group_key_accept (group.h) only after the I_MESSAGE was opened and checked; and per
 *     group the member list of the last group document fetched (sender identification).
 *
 * The file: mode 0600 in a folder of mode 0700, both owned by the user; a file or folder others
 * can read or write is refused (MCX_E_DENIED) on open and on save. It is replaced atomically
 * (temporary file in the same folder, fsync, rename, fsync of the folder).
 * With a passphrase the body is sealed with AES-256-GCM under a key derived with Argon2id
 * (RFC 9106; salt and parameters in the header, which is authenticated as associated data).
 * The group section is part of the body: sealed like the key sets. A keystore without group keys
 * or groups is written as version 2 (readable by builds before the group section); with them,
 * as version 3. Versions 1 and 2 are read.
 * WITHOUT a passphrase the secret keys are stored in clear: the file is protected only by its
 * mode 0600 (like an SSH key without passphrase); a SHA-256 checksum detects corruption, not
 * tampering.
 *
 * In memory the key sets (and the passphrase) live in locked, non-dumpable memory
 * (mcx_secure_alloc) and everything is zeroised when freed. An mcx_keystore is not thread-safe. */
#ifndef MCXSEC_KEYSTORE_H
#define MCXSEC_KEYSTORE_H

#include <time.h>

#include "mcxsec/common.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/keyparams.h"
#include "mcxsec/kms_xml.h"
#include "mcxsec/mikey.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_KEYSTORE_FP_BYTES     32 /* certificate fingerprint: SHA-256 of its stored form */
#define MCX_KEYSTORE_MAX_CERTS    64
#define MCX_KEYSTORE_MAX_KEY_SETS 1024
#define MCX_KEYSTORE_ORIGIN_MAX   520 /* "https://" host[:port] and the NUL */

/* Argon2id defaults (RFC 9106 §4, second recommended option: t=3, 64 MiB, p=4 lowered to 1
 * lane for single-core handsets). */
#define MCX_KEYSTORE_ARGON2_T 3u
#define MCX_KEYSTORE_ARGON2_M 65536u /* KiB */
#define MCX_KEYSTORE_ARGON2_P 1u

/* mcx_keystore_open flags. */
#define MCX_KEYSTORE_CREATE 1u /* a missing file opens an empty keystore (written on save) */

typedef struct mcx_keystore mcx_keystore;

/* One user key set for one KMS and key period. Holds secrets (ssk, rsk). */
typedef struct mcx_keystore_key_set {
    char user_uri[MCX_KMS_TEXT_MAX]; /* the MC service ID the keys are for */
    char kms_uri[MCX_KMS_TEXT_MAX];
    uint64_t period_no;
    uint8_t uid[MCX_UID_BYTES]; /* UID format 2 (TS 33.180 F.2.1) */
    int has_valid_from, has_valid_to;
    time_t valid_from, valid_to; /* as the KMS sent them (UTC) */
    uint8_t ssk[MCX_ECCSI_SCALAR_BYTES];
    uint8_t pvt[MCX_ECCSI_POINT_BYTES];
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];
} mcx_keystore_key_set;

/* A key set without its secrets, for listings. */
typedef struct mcx_keystore_entry {
    char user_uri[MCX_KMS_TEXT_MAX];
    char kms_uri[MCX_KMS_TEXT_MAX];
    uint64_t period_no;
    uint8_t uid[MCX_UID_BYTES];
    int has_valid_from, has_valid_to;
    time_t valid_from, valid_to;
} mcx_keystore_entry;

/* The default keystore path: the token file's folder (login.h: $MCX_STATE_DIR, else
 * $XDG_STATE_HOME/mcxsec, else ~/.local/state/mcxsec) and "keystore.bin".
 * Errors: MCX_E_ARG (buffer too small), MCX_E_NOT_FOUND (no folder variable set). */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_default_path(char *path, size_t cap);

/* Open the keystore at path. passphrase (pass_len octets, may be NULL) unlocks a sealed file and
 * seals the file on every later save (a clear file opened with a passphrase is sealed when next
 * saved). With MCX_KEYSTORE_CREATE a missing file gives an empty keystore.
 * Errors: MCX_E_NOT_FOUND (no file, without MCX_KEYSTORE_CREATE), MCX_E_DENIED (file or folder
 *   open to others or not ours; a sealed file and no passphrase), MCX_E_TAG_INVALID (wrong
 *   passphrase or an altered sealed file), MCX_E_ENCODING (malformed or corrupted file),
 *   MCX_E_UNSUPPORTED (unknown version, Argon2 parameters beyond the limits), MCX_E_IO,
 *   MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_open(mcx_keystore **out, const char *path,
                                                    const char *passphrase, size_t pass_len,
                                                    unsigned flags);

/* Argon2id cost for the next saves with a passphrase: t_cost passes, m_kib KiB, p lanes.
 * Errors: MCX_E_ARG (t_cost 0 or > 64, m_kib < 8 * p or > 4 GiB, p 0 or > 16). */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_set_kdf(mcx_keystore *ks, uint32_t t_cost,
                                                       uint32_t m_kib, uint32_t p);

/* Write the keystore to its path atomically (creating the folder with mode 0700 if missing).
 * Errors: MCX_E_DENIED (folder open to others), MCX_E_IO, MCX_E_NOMEM, MCX_E_RANDOM,
 * MCX_E_INTERNAL (Argon2 or the cipher failed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_save(mcx_keystore *ks);

/* Zeroise and free. NULL is accepted. */
MCX_API void mcx_keystore_free(mcx_keystore *ks);

/* Whether the file is (or will be) sealed with a passphrase. */
MCX_API int mcx_keystore_sealed(const mcx_keystore *ks);

/* ---- certificates ---- */

/* Fingerprint of a certificate as the keystore pins it: SHA-256 over its stored form (every
 * field, in order), so any change to the certificate changes it. */
MCX_API void mcx_keystore_cert_fingerprint(const mcx_kms_certificate *cert, mcx_id_mode mode,
                                           uint8_t fp[MCX_KEYSTORE_FP_BYTES]);

/* Is cert the one pinned for its KmsUri? MCX_OK: the same; MCX_E_NOT_FOUND: nothing pinned for
 * that KmsUri; MCX_E_DENIED: another certificate is pinned (the reason gives both fingerprints).
 */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_check_pinned(const mcx_keystore *ks,
                                                            const mcx_kms_certificate *cert,
                                                            mcx_id_mode mode);

/* Pin cert for its KmsUri. Nothing pinned yet: pinned (trust on first use). The same one pinned:
 * MCX_OK. Another one pinned: MCX_E_DENIED, unless repin, which replaces it and drops every key
 * set of that KmsUri (they belong to the old master keys).
 * Errors: MCX_E_ARG (no KmsUri; user ID format other than "2"; key period 0), MCX_E_DENIED,
 * MCX_E_LENGTH (too many certificates), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_pin(mcx_keystore *ks,
                                                   const mcx_kms_certificate *cert,
                                                   mcx_id_mode mode, int repin);

MCX_API size_t mcx_keystore_cert_count(const mcx_keystore *ks);

/* The i-th pinned certificate (copied), its identity mode and fingerprint (each may be NULL).
 * Errors: MCX_E_NOT_FOUND (i out of range). */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_cert_at(const mcx_keystore *ks, size_t i,
                                                       mcx_kms_certificate *cert, mcx_id_mode *mode,
                                                       uint8_t fp[MCX_KEYSTORE_FP_BYTES]);

/* The pinned certificate for kms_uri. Errors: MCX_E_NOT_FOUND. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_get_cert(const mcx_keystore *ks, const char *kms_uri,
                                                        mcx_kms_certificate *cert,
                                                        mcx_id_mode *mode);

/* ---- KMS URL bindings ---- */

/* The origin of an https:// KMS URL as bindings are keyed: "https://" and the host[:port] in
 * lower case, ":443" dropped (RFC 6454 §4). Errors: MCX_E_ARG (not https://, no host, user
 * information, a control or non-ASCII byte, longer than cap or MCX_KEYSTORE_ORIGIN_MAX). */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_origin(const char *kms_url, char *out, size_t cap);

/* The KmsUri pinned for kms_url's origin, into kms_uri (cap octets).
 * Errors: MCX_E_NOT_FOUND (none bound), MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_get_binding(const mcx_keystore *ks,
                                                           const char *kms_url, char *kms_uri,
                                                           size_t cap);

/* Bind kms_url's origin to kms_uri (replacing any binding of that origin); kms_uri must be
 * pinned. Errors: MCX_E_UNKNOWN_PEER (kms_uri not pinned), MCX_E_LENGTH (too many), MCX_E_ARG,
 * MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_bind(mcx_keystore *ks, const char *kms_url,
                                                    const char *kms_uri);

/* How many KMS origins are bound (0 for a keystore written before bindings existed). */
MCX_API size_t mcx_keystore_binding_count(const mcx_keystore *ks);

/* The MIKEY view (mikey.h) of a certificate. */
MCX_API void mcx_keystore_cert_to_mikey(const mcx_kms_certificate *cert, mcx_id_mode mode,
                                        mcx_kms_cert *out);

/* ---- key sets ---- */

/* Check a key set against a certificate before it is kept: same KmsUri, UID equal to UID
 * format 2 of (user URI, KmsUri, key period, offset, period number), SSK/PVT valid for the KPAK
 * (RFC 6507 §5.1.2) and RSK valid for Z (RFC 6508 §6.1.2), both with the identity the mode
 * gives. Errors: MCX_E_DENIED (another KMS), MCX_E_KEY_INVALID (UID mismatch; a key that does not
 * validate), the validation errors of eccsi.h and sakke.h. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_validate_key_set(const mcx_kms_certificate *cert,
                                                                mcx_id_mode mode,
                                                                const mcx_keystore_key_set *set);

/* Validate set (as above, against the pinned certificate of set->kms_uri) and keep it, replacing
 * any key set of the same (user, KMS, period).
 * Errors: MCX_E_UNKNOWN_PEER (no certificate pinned for its KMS), validation errors,
 * MCX_E_LENGTH (too many key sets), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_add_key_set(mcx_keystore *ks,
                                                           const mcx_keystore_key_set *set);

/* The key set of user_uri at kms_uri (NULL: the only KMS holding key sets for user_uri) for the
 * key period in force at NTP time ntp_seconds (that KMS's UserKeyPeriod and UserKeyOffset).
 * *out points into the keystore's locked memory, valid until the keystore is next changed or
 * freed. Errors: MCX_E_NO_KEY (none held for that period), MCX_E_NOT_FOUND (no such KMS),
 * MCX_E_ARG (kms_uri NULL and the user has key sets of several KMSs). */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_get_key_set(const mcx_keystore *ks,
                                                           const char *user_uri,
                                                           const char *kms_uri,
                                                           uint64_t ntp_seconds,
                                                           const mcx_keystore_key_set **out);

/* The key sets held, without secrets, sorted by user, KMS and period: up to cap entries into
 * out (may be NULL when cap is 0); *n receives the total. */
MCX_API void mcx_keystore_list(const mcx_keystore *ks, mcx_keystore_entry *out, size_t cap,
                               size_t *n);

/* What the MIKEY builder (mcx_mikey_builder_new: kms, uri, uid, period_no, ssk, pvt) and opener
 * (mcx_mikey_opener_add_kms, mcx_mikey_opener_add_identity: rsk) need for user_uri at the time
 * ntp_seconds: the KMS's mcx_kms_cert and the key set (pointing into locked memory, as
 * mcx_keystore_get_key_set). Errors as mcx_keystore_get_key_set. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_mikey_view(const mcx_keystore *ks,
                                                          const char *user_uri, const char *kms_uri,
                                                          uint64_t ntp_seconds, mcx_kms_cert *kms,
                                                          const mcx_keystore_key_set **set);

/* ---- group keys (TS 33.180 §5.2.3, §7.3; docs/gms.md) ---- */

#define MCX_KEYSTORE_MAX_GROUP_KEYS  1024
#define MCX_KEYSTORE_MAX_GROUPS      256
#define MCX_KEYSTORE_MAX_MEMBERS     4096             /* per group */
#define MCX_KEYSTORE_MAX_ALL_MEMBERS 16384            /* over every group of the keystore */
#define MCX_GROUP_ID_MAX             MCX_KMS_TEXT_MAX /* group IDs and URIs kept, with the NUL */
#define MCX_GROUP_RAND_MAX           255
#define MCX_GROUP_DIGEST_BYTES       32

/* What a group key is for (docs/gms.md "Security context of a group"). The GDK travels with the
 * GMK's purpose tag (0); the group document and the event stream name it. */
typedef enum mcx_group_key_kind {
    MCX_GROUP_KEY_GMK = 0,  /* group media (SRTP), purpose tag 0 */
    MCX_GROUP_KEY_MKFC = 1, /* multicast floor control (SRTCP), purpose tag 4 */
    MCX_GROUP_KEY_GDK = 2   /* group MCData payloads (DPPK), purpose tag 0 */
} mcx_group_key_kind;

#define MCX_GROUP_KEY_KIND_MAX 2

/* "gmk", "mkfc", "gdk"; NULL for another value. */
MCX_API const char *mcx_group_key_kind_name(unsigned kind);

/* The kind named name (lower case). Errors: MCX_E_ARG (unknown name). */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_key_kind_from_name(const char *name,
                                                               mcx_group_key_kind *kind);

/* One group key. Holds a secret (key). */
typedef struct mcx_keystore_group_key {
    char group_id[MCX_GROUP_ID_MAX]; /* the MC group ID the key parameters name */
    mcx_group_key_kind kind;
    uint32_t key_id; /* GMK-ID, MKFC-ID or GDK-ID (purpose tag in the top 4 bits) */
    uint8_t key[MCX_SAKKE_SSV_MAX_BYTES];
    size_t key_len;                   /* 16 or 32 */
    uint8_t rand[MCX_GROUP_RAND_MAX]; /* the I_MESSAGE's RAND (SRTP master key derivation) */
    size_t rand_len;
    char owner_uri[MCX_GROUP_ID_MAX]; /* the user the I_MESSAGE was encrypted to */
    uint32_t guk_id; /* the CSB-ID: for a GMK the owner's GUK-ID, otherwise the key ID */
    int has_cs_id;
    uint8_t cs_id;
    mcx_key_params params; /* the key parameters (TS 33.180 E.6) as the I_MESSAGE carried them */
    uint64_t t_ntp;        /* T of the I_MESSAGE, NTP seconds */
    char gms_uri[MCX_GROUP_ID_MAX]; /* the GMS identity that signed it */
    /* SHA-256 of the octets the ECCSI signature covers (an (r, q - s) variant of the signature
     * is the same message): a second delivery is recognised as a replay. */
    uint8_t digest[MCX_GROUP_DIGEST_BYTES];
    int has_pseudonym; /* the text carried "pseudonym=<32 hex digits>" (docs/gms.md) */
    uint8_t pseudonym[16];
    int revoked;      /* revoked since (mcx_keystore_group_mark_revoked), or kept revoked */
    int64_t received; /* Unix seconds when it was stored */
} mcx_keystore_group_key;

/* Keep a group key (the caller checked it: mcx_group_key_accept does). A key with the same
 * (group, kind, key ID) is replaced. Errors: MCX_E_ARG (empty group ID, kind or key length out
 * of range, a key ID whose purpose tag is not the kind's), MCX_E_LENGTH (more than
 * MCX_KEYSTORE_MAX_GROUP_KEYS), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_key_add(mcx_keystore *ks,
                                                             const mcx_keystore_group_key *k);

/* The key (group_id, kind, key_id). *out points into the keystore's locked memory, valid until
 * the keystore is next changed or freed. Errors: MCX_E_NOT_FOUND, MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_key_find(const mcx_keystore *ks,
                                                              const char *group_id,
                                                              mcx_group_key_kind kind,
                                                              uint32_t key_id,
                                                              const mcx_keystore_group_key **out);

/* The newest key (largest T; on equal T the one stored last) of kind for group_id that is not
 * revoked. Errors: MCX_E_NO_KEY (none), MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_key_latest(const mcx_keystore *ks,
                                                                const char *group_id,
                                                                mcx_group_key_kind kind,
                                                                const mcx_keystore_group_key **out);

/* How many group keys are held, and the i-th (in the order stored; pointer as above). */
MCX_API size_t mcx_keystore_group_key_count(const mcx_keystore *ks);
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_key_at(const mcx_keystore *ks, size_t i,
                                                            const mcx_keystore_group_key **out);

/* Mark the key (group_id, kind, key_id) revoked; kind -1 means any kind, key_id 0 every key of
 * the group. *n (may be NULL) receives how many were marked. Errors: MCX_E_NOT_FOUND (none
 * matched), MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_mark_revoked(mcx_keystore *ks,
                                                                  const char *group_id, int kind,
                                                                  uint32_t key_id, size_t *n);

/* Forget a group: every key of group_id (zeroised) and its member list. *n (may be NULL)
 * receives how many keys were dropped. Nothing held: MCX_OK with *n = 0. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_remove(mcx_keystore *ks, const char *group_id,
                                                            size_t *n);

/* A group as its last group document described it (no secrets). */
typedef struct mcx_keystore_group_info {
    char group_id[MCX_GROUP_ID_MAX];
    char gms_uri[MCX_GROUP_ID_MAX];
    char display_name[MCX_GROUP_ID_MAX];
    char kind[16];   /* "normal", "broadcast" or "" */
    int64_t updated; /* Unix seconds of the fetch */
    size_t n_members;
    char **members; /* n_members URIs, owned by the keystore */
} mcx_keystore_group_info;

/* Record (replace) a group's description and member list. Errors: MCX_E_ARG (empty group ID, a
 * member URI that is empty or too long), MCX_E_LENGTH (more than MCX_KEYSTORE_MAX_GROUPS groups,
 * MCX_KEYSTORE_MAX_MEMBERS members, MCX_KEYSTORE_MAX_ALL_MEMBERS over all groups), MCX_E_NOMEM.
 */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_set_info(
    mcx_keystore *ks, const char *group_id, const char *gms_uri, const char *display_name,
    const char *kind, const char *const *members, size_t n_members, int64_t updated);

/* The group recorded for group_id (pointer valid until the keystore is next changed).
 * Errors: MCX_E_NOT_FOUND, MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_info_find(const mcx_keystore *ks,
                                                               const char *group_id,
                                                               const mcx_keystore_group_info **out);

MCX_API size_t mcx_keystore_group_info_count(const mcx_keystore *ks);
MCX_API MCX_MUST_CHECK mcx_status mcx_keystore_group_info_at(const mcx_keystore *ks, size_t i,
                                                             const mcx_keystore_group_info **out);

#ifdef __cplusplus
}
#endif
#endif
