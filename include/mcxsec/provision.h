/* Client key provisioning from a KMS (TS 33.180 §5.2, §5.3, Annex D) into the client keystore
 * (keystore.h), over HTTPS with the user's access token (login.h).
 *
 * mcx_client_provision runs:
 *   1. POST <kms_url>/keymanagement/identity/v1/init with a KmsRequest (Authorization: Bearer,
 *      Content-Type: application/xml) -> KmsResponse/KmsInit/KmsCertificate;
 *   2. the certificate is checked: UserIdFormat 2, not revoked, inside its validity, and against
 *      the pins: its KmsUri must be the one bound to kms_url's origin (keystore.h; a keystore
 *      without bindings and a single certificate: that one) and the certificate the one pinned
 *      for that KmsUri (first use: pinned and bound; a change of either: MCX_E_DENIED unless
 *      repin, which for another KmsUri also drops the old KMS's certificate and key sets when
 *      no other URL is bound to it);
 *   3. POST <kms_url>/keymanagement/identity/v1/keyprov/<percent-encoded user URI>/<NTP-64 time
 *      as 16 hex digits> -> KmsResponse/KmsKeyProv/KmsKeySet* (the current and, when given, the
 *      next key period);
 *   4. every key set is checked before any is kept: KmsUri and UserUri are the expected ones,
 *      UserID is UID format 2 of (user URI, KmsUri, period) (TS 33.180 F.2.1), SSK/PVT validate
 *      for the KPAK (RFC 6507 §5.1.2) and the RSK for Z (RFC 6508 §6.1.2). One failure and
 *      nothing is kept (and the keystore file is not written);
 *   5. the certificate is pinned, the key sets kept, and the keystore saved.
 * A KmsError answer is MCX_E_DENIED with its ErrorCode and ErrorMsg in the reason. */
#ifndef MCXSEC_PROVISION_H
#define MCXSEC_PROVISION_H

#include "mcxsec/common.h"
#include "mcxsec/keystore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcx_provision_params {
    const char *kms_url;      /* https://host[:port][/prefix] (no trailing '/') */
    const char *user_uri;     /* the MC service ID the key sets are for */
    const char *access_token; /* sent as "Authorization: Bearer" */
    const char *ca_file;      /* PEM trust anchors for the KMS's TLS certificate (NULL: system) */
    mcx_keystore *keystore;   /* pinned certificates read, key sets added, saved at the end */
    uint64_t now_ntp;         /* NTP seconds; 0: mcx_ntp_now() */
    int repin;                /* accept a certificate that differs from the pinned one */
    mcx_id_mode id_mode;      /* identity octets from the UID (uid.h); MCX_ID_RAW per TS 33.180 */
    int no_save;              /* keep the result in memory only (do not write the keystore) */
    /* Optional pre-provisioned keys (TS 33.180 D.1), shared with the KMS (mcx kms client-keys):
     * trk, the transport key: key material wrapped in xenc:EncryptedKey is unwrapped with it
     *   (without it a wrapped key is refused, MCX_E_UNSUPPORTED);
     * ink, the integrity key: every answer must then be a SignedKmsResponse whose HMAC-SHA-256
     *   signature verifies under it, else MCX_E_SIG_INVALID and nothing is kept.
     * NULL: none; when given, trk_len / ink_len must be 32. */
    const uint8_t *trk;
    size_t trk_len;
    const uint8_t *ink;
    size_t ink_len;
} mcx_provision_params;

#define MCX_PROVISION_MAX_PERIODS 4

typedef struct mcx_provision_result {
    char kms_uri[MCX_KMS_TEXT_MAX];
    uint8_t fingerprint[MCX_KEYSTORE_FP_BYTES]; /* of the (now pinned) certificate */
    int newly_pinned;                           /* 1: first use or re-pinned */
    uint64_t current_period;
    size_t n_stored; /* key sets kept */
    uint64_t periods[MCX_PROVISION_MAX_PERIODS];
    size_t n_skipped; /* key sets for other periods, or marked revoked: not kept */
    /* wall-clock microseconds */
    uint64_t us_init, us_keyprov; /* the two HTTPS exchanges (connect, TLS, request, parse) */
    uint64_t us_validate;         /* checks and validation of every key set */
    uint64_t us_total;            /* everything but the keystore save */
    uint64_t us_save;
} mcx_provision_result;

/* Provision p->user_uri's key sets from the KMS into p->keystore. res may be NULL.
 * Errors: MCX_E_ARG (missing parameter, kms_url not https://), MCX_E_IO (connection, TLS or
 *   trust failure, HTTP status other than 200, the keystore file), MCX_E_DENIED (KmsError; a
 *   changed certificate without repin; a key set for another user or KMS; revoked or expired
 *   certificate), MCX_E_SIG_INVALID (with an InK: an answer not signed, or whose signature does
 *   not verify), MCX_E_TAG_INVALID (with a TrK: a wrapped key that does not unwrap), MCX_E_ENCODING
 * (malformed XML, unexpected answer), MCX_E_UNSUPPORTED (a user ID format other than 2, wrapped
 * keys without a TrK), MCX_E_KEY_INVALID and the other validation errors (a key set that fails its
 * checks), MCX_E_NO_KEY (no key set for the current period), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_client_provision(const mcx_provision_params *p,
                                                       mcx_provision_result *res);

/* ---- certcache: the external KMS certificates the domain's KMS vouches for (TS 33.180 D.3.4) --
 */

/* One certificate of a KmsCertCache and the client's verdict on it. */
typedef struct mcx_certcache_entry {
    mcx_kms_certificate cert;
    mcx_status verdict; /* MCX_OK: usable; else why it is refused (reason) */
    char reason[160];
} mcx_certcache_entry;

typedef struct mcx_certcache_result {
    char kms_uri[MCX_KMS_TEXT_MAX]; /* the answering (pinned) KMS */
    uint64_t cache_num;             /* CacheNum, 0 when absent */
    size_t n, n_usable;
    mcx_certcache_entry entries[MCX_KMS_MAX_CERTS];
} mcx_certcache_result;

/* POST <kms_url>/keymanagement/identity/v1/certcache (same parameters as mcx_client_provision;
 * keystore, trk, ink, now_ntp and id_mode are used, repin and no_save are not, nothing is saved)
 * and judge each certificate. The KMS must be the one pinned for kms_url (run
 * mcx_client_provision first): its answer names the KmsUri bound to the URL's origin, else
 * MCX_E_DENIED; without a binding MCX_E_NOT_FOUND. A certificate is refused (verdict not MCX_OK,
 * the reason says why) when it is marked Revoked (MCX_E_DENIED: the KMS no longer vouches for
 * it), outside its validity, of a user ID format other than 2, without KmsUri or period, or names
 * the domain's own KmsUri (another certificate for the pinned KMS: MCX_E_DENIED).
 * Errors: as mcx_client_provision's exchanges, MCX_E_NOT_FOUND, MCX_E_ENCODING (not a
 * KmsCertCache). */
MCX_API MCX_MUST_CHECK mcx_status mcx_client_certcache(const mcx_provision_params *p,
                                                       mcx_certcache_result *res);

#ifdef __cplusplus
}
#endif
#endif
