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
 *     validated key sets are added (RFC 6507 §5.1.2, RFC 6508 §6.1.2).
 *
 * The file: mode 0600 in a folder of mode 0700, both owned by the user; a file or folder others
 * can read or write is refused (MCX_E_DENIED) on open and on save. It is replaced atomically
 * (temporary file in the same folder, fsync, rename, fsync of the folder).
 * With a passphrase the body is sealed with AES-256-GCM under a key derived with Argon2id
 * (RFC 9106; salt and parameters in the header, which is authenticated as associated data).
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

#ifdef __cplusplus
}
#endif
#endif
