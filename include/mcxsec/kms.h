/* The key management server's core (TS 33.180 §5.2, Annex D; RFC 6507/6508 key issue): master
 * secrets sealed at rest, the KMS domain settings and certificate, the store schema, and key-set
 * issuance with its audit log. The HTTPS daemon (Annex D XML interface) is built on this API.
 *
 * Master secrets: the ECCSI KSAK (32 octets) and the SAKKE master secret z (128 octets). They live
 * in a sealed file (never in the database): AES-256-GCM under a key derived from a passphrase with
 * argon2id, or under a random key kept in a separate key file. Both files must have mode 0600 or
 * stricter. Loaded secrets are held in locked, non-dumpable memory (mcx_secure_alloc).
 *
 * Sealed file format (version 1), all integers big-endian:
 *   0  magic "MCXKMSS1" (8)          8  mode (1): 1 = argon2id passphrase, 2 = key file
 *   9  reserved (3, zero)           12  argon2 t_cost (4)   16  m_cost KiB (4)   20  lanes (4)
 *   24 salt (16)                    40  nonce (12)          52  plaintext length (4) = 160
 *   56 ciphertext of KSAK || z (160) || GCM tag (16)
 * The 56-octet header is the GCM additional data, so no field of it can be altered unnoticed.
 * In key-file mode the AES key is HMAC-SHA256(file key, "mcxsec kms seal v1" || salt) and the
 * argon2 fields are zero. The key file holds the 32-octet key as 64 hex digits and a newline.
 *
 * Store schema (component "kms"; docs/kms.md): kms_settings, users, services, issued_key_sets
 * (SSK and RSK encrypted with AES-256-GCM under a key derived from KSAK || z, additional data
 * identity || period), issue_log (append-only audit), certcache (external KMS certificates),
 * client_keys (per-identity TrK and InK, encrypted like key sets; TS 33.180 D.1).
 *
 * Threads: an mcx_kms is immutable after mcx_kms_open and may be shared by threads; the store is
 * not (one connection per thread, include/mcxsec/store.h). */
#ifndef MCXSEC_KMS_H
#define MCXSEC_KMS_H

#include "mcxsec/common.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/kms_xml.h"
#include "mcxsec/mikey.h"
#include "mcxsec/sakke.h"
#include "mcxsec/store.h"
#include "mcxsec/uid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_KMS_KSAK_BYTES       MCX_ECCSI_SCALAR_BYTES /* 32 */
#define MCX_KMS_ZSECRET_BYTES    MCX_SAKKE_SCALAR_BYTES /* 128 */
#define MCX_KMS_FILE_KEY_BYTES   32
#define MCX_KMS_URI_MAX          MCX_KMS_TEXT_MAX /* with the NUL */
#define MCX_KMS_ARGON2_T_DEFAULT 3u
#define MCX_KMS_ARGON2_M_DEFAULT (64u * 1024u)        /* KiB: 64 MiB */
#define MCX_KMS_CLOCK_OFFSET_MAX (10LL * 366 * 86400) /* |clock_offset|, seconds */

/* ---- Master secrets ------------------------------------------------------------------------- */

/* The master secrets and their public keys. Allocate only through mcx_kms_secrets_generate /
 * mcx_kms_secrets_load (secure memory); release with mcx_kms_secrets_free. */
typedef struct mcx_kms_secrets {
    uint8_t ksak[MCX_KMS_KSAK_BYTES];    /* ECCSI KMS Secret Authentication Key */
    uint8_t z[MCX_KMS_ZSECRET_BYTES];    /* SAKKE KMS master secret */
    uint8_t kpak[MCX_ECCSI_POINT_BYTES]; /* KPAK = [KSAK]G (public) */
    uint8_t Z[MCX_SAKKE_POINT_BYTES];    /* Z = [z]P (public) */
} mcx_kms_secrets;

/* How the sealed file is opened: a passphrase (argon2id) or a key file, exactly one. */
typedef struct mcx_kms_unlock {
    const char *passphrase; /* NULL: key-file mode */
    size_t passphrase_len;
    const char *key_file; /* NULL: passphrase mode */
} mcx_kms_unlock;

/* argon2id costs for sealing with a passphrase (0 fields take the defaults t=3, m=64 MiB, 1 lane).
 */
typedef struct mcx_kms_kdf_params {
    uint32_t t_cost;
    uint32_t m_cost_kib;
    uint32_t lanes;
} mcx_kms_kdf_params;

/* Fresh master secrets (RFC 6507 §4.2, RFC 6508 §2.2). Errors: MCX_E_RANDOM, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_secrets_generate(mcx_kms_secrets **out);

/* Zeroise and release. NULL is accepted. */
MCX_API void mcx_kms_secrets_free(mcx_kms_secrets *s);

/* Seal s into path atomically (a temporary file in the same folder, fsync, rename, fsync of the
 * folder), mode 0600. In key-file mode the key file is created (0600, exclusively) when it does
 * not exist, else its key is used. kdf may be NULL (defaults); it is ignored in key-file mode.
 * Errors: MCX_E_ARG (not exactly one of passphrase / key file; an empty passphrase; costs out of
 * range), MCX_E_DENIED (an existing key file readable by others), MCX_E_ENCODING (a malformed key
 * file), MCX_E_IO, MCX_E_NOMEM, MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_secrets_seal(const mcx_kms_secrets *s, const char *path,
                                                       const mcx_kms_unlock *unlock,
                                                       const mcx_kms_kdf_params *kdf);

/* Read the 32-octet key of a key file (64 hex digits and a newline, mode 0600 or stricter), or
 * create the file (exclusively, 0600) with a fresh random key when it does not exist; *created
 * (may be NULL) tells which. Used for the sealed file's key file and for client TrK / InK files.
 * Errors: MCX_E_DENIED (readable by others), MCX_E_ENCODING (not 64 hex digits), MCX_E_IO,
 * MCX_E_RANDOM, MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_key_file_obtain(const char *path,
                                                          uint8_t key[MCX_KMS_FILE_KEY_BYTES],
                                                          int *created);

/* Open a sealed file into secure memory and recompute KPAK and Z.
 * Errors: MCX_E_DENIED (the sealed file or key file is readable or writable by group or others),
 *         MCX_E_ENCODING (not a sealed file, unknown version, wrong length, a key-file file where a
 *         passphrase was given or the reverse), MCX_E_TAG_INVALID (wrong passphrase or key file, or
 *         the file was altered), MCX_E_RANGE (a decrypted secret out of range), MCX_E_IO,
 *         MCX_E_NOMEM, MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_secrets_load(mcx_kms_secrets **out, const char *path,
                                                       const mcx_kms_unlock *unlock);

/* ---- The KMS domain ------------------------------------------------------------------------- */

/* The domain settings (the KmsCertificate fields that are not keys). */
typedef struct mcx_kms_settings {
    char kms_uri[MCX_KMS_URI_MAX]; /* KmsUri, e.g. "kms.police.example" */
    uint64_t key_period;           /* UserKeyPeriod, seconds (> 0; default 2592000, 30 days) */
    uint64_t key_offset;           /* UserKeyOffset, seconds (< key_period) */
    mcx_id_mode id_mode;           /* identity octets: raw UID or its hex string */
} mcx_kms_settings;

/* Create (or upgrade) the "kms" schema and record the domain: the settings and the public keys of
 * secrets (KPAK, Z). Running it again with the same settings and secrets changes nothing.
 * Errors: MCX_E_ARG (empty or too long KmsUri, period 0, offset >= period), MCX_E_EXISTS (the
 * store already holds a different domain), MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_init(mcx_store *st, const mcx_kms_secrets *secrets,
                                               const mcx_kms_settings *settings, int64_t now);

typedef struct mcx_kms mcx_kms;

/* Open the domain recorded in the store. secrets (copied; may be NULL) must match the recorded
 * public keys; without them the KMS can export its certificate but not issue.
 * Errors: MCX_E_NOT_FOUND (the store holds no KMS domain: run mcx_kms_init), MCX_E_KEY_INVALID
 * (secrets of another domain), MCX_E_UNSUPPORTED (a newer schema), MCX_E_STORE, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_open(mcx_kms **out, mcx_store *st,
                                               const mcx_kms_secrets *secrets);
MCX_API void mcx_kms_close(mcx_kms *kms);

MCX_API const mcx_kms_settings *mcx_kms_get_settings(const mcx_kms *kms);
/* 1 when the KMS holds its master secrets (can issue). */
MCX_API int mcx_kms_can_issue(const mcx_kms *kms);

/* The KmsCertificate (TS 33.180 D.3.2.2) for the XML codec: Version 1.1.0, Role Root, CertUri and
 * Issuer = KmsUri, UserIdFormat "2", the period, offset, Z and KPAK. */
MCX_API void mcx_kms_certificate_get(const mcx_kms *kms, mcx_kms_certificate *out);
/* The same certificate as MIKEY's mcx_kms_cert. */
MCX_API void mcx_kms_mikey_cert(const mcx_kms *kms, mcx_kms_cert *out);

/* ---- Key periods ---------------------------------------------------------------------------- */

/* The period number in force at NTP time t: (t - offset) DIV period (TS 33.180 F.2.1, P5). */
MCX_API uint64_t mcx_kms_period_of(const mcx_kms *kms, uint64_t ntp_seconds);
/* NTP time of the start of period n: n * period + offset. */
MCX_API uint64_t mcx_kms_period_start(const mcx_kms *kms, uint64_t period_no);
/* 1 when t lies in the last `window` seconds of its period, so that a client should also get the
 * next period's key set. window 0 selects a tenth of the period. */
MCX_API int mcx_kms_next_period_due(const mcx_kms *kms, uint64_t ntp_seconds, uint64_t window);
/* The full NTP seconds (era included) of the 32-bit seconds field of an NTP-64 timestamp, such as
 * the one in a keyprov path (TS 33.180 D.2.1): the era that puts it nearest to now_ntp (RFC 5905
 * §6: the era is not sent; it is resolved against the local clock, so that 2036 and later work). */
MCX_API uint64_t mcx_kms_ntp_nearest(uint32_t seconds, uint64_t now_ntp);

/* ---- Identities ----------------------------------------------------------------------------- */

/* Add a user (an MC service ID) or a service identity: a URI whose key sets are served only to an
 * access token whose "sub" is subject (a service account at the IdMS) AND whose "client_id" is
 * client_id. Both are required: a client_id alone names an application, and with a public client
 * every user of that application would get the service's keys. Errors: MCX_E_ARG (empty or longer
 * than 255 octets), MCX_E_EXISTS (already there, as a user or a service), MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_user_add(mcx_store *st, const char *uri, int64_t now);
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_service_add(mcx_store *st, const char *uri,
                                                      const char *client_id, const char *subject,
                                                      int64_t now);
/* Set or replace the IdMS subject and client_id of service identity uri (for instance a service
 * added before subjects were recorded, store schema "kms" version 2, which is served to nobody
 * until it has one). Key sets already issued are unchanged; from now on only a token with the new
 * subject and client_id may fetch them. Errors: MCX_E_ARG (empty or too long; uri is a user),
 * MCX_E_NOT_FOUND (unknown identity), MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_service_set(mcx_store *st, const char *uri,
                                                      const char *client_id, const char *subject);

/* Revoke a user or service at time now (Unix seconds): no key set is issued or returned any more
 * for a period that ends after now. Revoking again keeps the first time.
 * Errors: MCX_E_NOT_FOUND, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_identity_revoke(mcx_store *st, const char *uri,
                                                          int64_t now);

/* What the store says of an identity. */
typedef struct mcx_kms_identity {
    int is_service;
    int revoked;
    int64_t revoked_at;              /* Unix seconds, when revoked */
    char client_id[MCX_KMS_URI_MAX]; /* services: the OAuth client allowed to fetch it */
    char subject[MCX_KMS_URI_MAX];   /* services: the token subject allowed to fetch it; "" for a
                                        service added before subjects were recorded (served to
                                        nobody) */
} mcx_kms_identity;

/* Errors: MCX_E_NOT_FOUND, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_identity_get(mcx_store *st, const char *uri,
                                                       mcx_kms_identity *out);

/* ---- Issuance ------------------------------------------------------------------------------- */

/* Who asked, for the audit log. Every field may be NULL; now 0 takes the clock. */
typedef struct mcx_kms_request_info {
    const char *request_id;
    const char *token_sub;
    const char *token_jti;
    const char *client_id;
    const char *client_address;
    int64_t now; /* Unix seconds */
} mcx_kms_request_info;

/* Issue the key set of identity uri for key period period_no (TS 33.180 §5.2.3): the UID format 2
 * of (uri, KmsUri, period, offset, period_no), SSK and PVT (RFC 6507 §5.1.1) and RSK (RFC 6508
 * §6.1.1) for the identity octets in the domain's mode. Idempotent: the first issue for
 * (identity, period) is stored (secrets encrypted) and every later call returns that same key set,
 * also when several processes issue at once. Each call appends an issue_log row (also refusals).
 * out is filled as the KmsKeySet (user_id = the UID, valid_from/to = the period, Unix time); keep
 * it in secure memory and wipe it. *fresh (may be NULL) is 1 when this call created the key set.
 * Errors: MCX_E_NOT_FOUND (unknown identity), MCX_E_DENIED (revoked for that period),
 *         MCX_E_NO_KEY (the KMS was opened without its secrets), MCX_E_TAG_INVALID (a stored key
 *         set fails its authentication: altered store or other master secrets), MCX_E_STORE,
 *         MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_issue(const mcx_kms *kms, mcx_store *st, const char *uri,
                                                uint64_t period_no,
                                                const mcx_kms_request_info *info,
                                                mcx_kms_key_set *out, int *fresh);

/* Pre-issue period_no's key sets for every identity that is not revoked and has none yet (the
 * "rollover" before a period starts). The arithmetic runs on `threads` threads (0: 2); rows are
 * written in transactions of up to 1000, each with its issue_log rows (request_id "rollover" when
 * info has none). *issued counts the key sets created, *existing those already there.
 * Errors: as mcx_kms_issue, MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_rollover(const mcx_kms *kms, mcx_store *st,
                                                   uint64_t period_no, unsigned threads,
                                                   const mcx_kms_request_info *info,
                                                   uint64_t *issued, uint64_t *existing);

/* ---- External KMS certificates (certcache) -------------------------------------------------- */

/* Permit an external KMS's certificate for the certcache response: cert_xml is its KmsCertificate
 * element, or the KmsResponse / KmsInit document that KMS serves (mcx kms export-cert --format
 * xml), stored as given once the codec reads it and its KmsUri is kms_uri. Replaces an earlier
 * entry of the same KmsUri (and so its revocation: the new certificate is permitted).
 * Errors: MCX_E_ARG (no KmsUri; not a KmsCertificate; one of another KmsUri), MCX_E_STORE,
 * MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_certcache_put(mcx_store *st, const char *kms_uri,
                                                        const char *cert_xml, int64_t now);

/* Mark the certcache entry of kms_uri revoked at now (Unix seconds): certcache answers keep
 * listing it, with <Revoked>true</Revoked> (TS 33.180 D.3.2.2), so that clients that hold it
 * drop it; CacheNum moves to the revocation time. Revoking again keeps the first time.
 * Errors: MCX_E_NOT_FOUND (no such entry), MCX_E_ARG, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_certcache_revoke(mcx_store *st, const char *kms_uri,
                                                           int64_t now);

/* Remove the certcache entry of kms_uri. Errors: MCX_E_NOT_FOUND, MCX_E_ARG, MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_certcache_remove(mcx_store *st, const char *kms_uri);

/* ---- Per-client transport and integrity keys (TS 33.180 D.1) ------------------------------- */

/* An identity's pre-provisioned keys: with a TrK the daemon wraps the key material of its keyprov
 * responses (xenc:EncryptedKey, mcx_kms_response_write_wrapped); with an InK it signs every
 * response to it (SignedKmsResponse, mcx_kms_response_sign). Keep in secure memory. */
typedef struct mcx_kms_client_keys {
    int has_trk, has_ink;
    uint8_t trk[MCX_KMS_TRK_BYTES];
    uint8_t ink[MCX_KMS_INK_BYTES];
} mcx_kms_client_keys;

/* Record the keys of identity uri (a user or service), replacing any earlier ones: trk and ink
 * (32 octets each; NULL: none of that kind, at least one given). They are stored encrypted
 * (AES-256-GCM under the storage key, additional data the identity and the key's kind), so kms
 * must hold its master secrets. Errors: MCX_E_ARG (also trk == ink: one secret must not serve
 * both AES key wrap and HMAC), MCX_E_NOT_FOUND (unknown identity),
 * MCX_E_NO_KEY (kms opened without secrets), MCX_E_STORE, MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_client_keys_set(const mcx_kms *kms, mcx_store *st,
                                                          const char *uri, const uint8_t *trk,
                                                          const uint8_t *ink, int64_t now);

/* Forget uri's keys; *cleared (may be NULL) is 1 when there were some. Errors: MCX_E_ARG,
 * MCX_E_STORE. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_client_keys_clear(mcx_store *st, const char *uri,
                                                            int *cleared);

/* uri's keys; an identity without any gets MCX_OK with has_trk = has_ink = 0.
 * Errors: MCX_E_NO_KEY (keys stored, kms without secrets), MCX_E_TAG_INVALID (a stored key fails
 * its authentication), MCX_E_STORE, MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_client_keys_get(const mcx_kms *kms, mcx_store *st,
                                                          const char *uri,
                                                          mcx_kms_client_keys *out);

/* ---- The daemon's configuration ------------------------------------------------------------- */

/* A JSON file (docs/kms.md); relative file names are relative to its folder:
 * {
 *   "store": "sqlite:kms.db",                 or "postgresql://..." (required)
 *   "secrets": "kms.sealed",                  the sealed master secrets (required)
 *   "key_file": "kms.key",                    or "passphrase_file": "kms.pass" (exactly one)
 *   "listen": "127.0.0.1:8444", "tls_cert": "cert.pem", "tls_key": "key.pem",
 *   "issuer": "https://idms.police.example:8443",   tokens accepted: their "iss"
 *   "audience": "https://kms.police.example:8444",  their "aud" (default: none checked)
 *   "jwks_file": "idms-jwks.json",            or "jwks_uri" (+ "ca_file"): the issuer's keys
 *   "threads": 2, "next_period_window": 0,    seconds (0: a tenth of the period)
 *   "log_requests": true,
 *   "clock_offset": 0,                        seconds added to the clock for key periods (drills)
 *   "argon2": {"t_cost": 3, "m_cost_kib": 65536}    costs when sealing (mcx kms init)
 * } */
typedef struct mcx_kms_config {
    char *store, *secrets, *key_file, *passphrase_file;
    char *listen, *tls_cert, *tls_key;
    char *issuer, *audience, *jwks_file, *jwks_uri, *ca_file;
    unsigned threads;
    uint64_t next_period_window;
    int log_requests;
    /* Seconds added to the system clock wherever the daemon reasons about key periods (the
     * current period, the next-period window, the one-period limit on requested times); tokens
     * and the audit log keep the real clock. For rollover drills and tests; 0 in production. */
    int64_t clock_offset;
    mcx_kms_kdf_params argon2;
} mcx_kms_config;

/* Errors: MCX_E_IO, MCX_E_ENCODING (not JSON, unknown key, wrong type: the reason names it),
 * MCX_E_ARG (a required key missing), MCX_E_NOMEM. Release with mcx_kms_config_free. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_config_load(mcx_kms_config **out, const char *path);
MCX_API void mcx_kms_config_free(mcx_kms_config *cfg);

/* Read a passphrase file into secure memory (one trailing newline removed). The file must not be
 * readable by group or others. Errors: MCX_E_DENIED, MCX_E_IO, MCX_E_ARG (empty), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_read_passphrase(const char *path, char **out,
                                                          size_t *len);

#ifdef __cplusplus
}
#endif

#endif
