/* KMS XML interface of 3GPP TS 33.180 Annex D: KmsRequest / KmsResponse codec (libxml2).
 *
 * Namespace urn:3gpp:ns:mcsecKMSInterface:1.0 (TS 33.180 D.3). The KMS answers
 *   POST .../keymanagement/identity/v1/init      -> KmsResponse/KmsMessage/KmsInit/KmsCertificate
 *   POST .../keymanagement/identity/v1/keyprov   -> KmsResponse/KmsMessage/KmsKeyProv/KmsKeySet*
 *   POST .../keymanagement/identity/v1/certcache -> KmsResponse/KmsMessage/KmsCertCache
 * and refuses with KmsResponse/KmsError (ErrorCode, ErrorMsg).
 *
 * Parsing is XXE-safe: no network, no DTD (a document with a DOCTYPE is refused), no entity
 * substitution, at most MCX_KMS_XML_MAX_BYTES. Every element is checked for namespace, order,
 * multiplicity, length and format; a refusal names the element, e.g.
 * "KMS XML: KmsKeySet/UserSigningKeySSK: 31 octets, expected 32".
 * Key text is read by the rule of the deployed KMS clients (all hex digits: hex, else base64);
 * keys are always written as hexBinary with xsi:type="KeyContentType".
 * Output is valid against schemas/mcsecKMSInterface.xsd (compiled in: mcx_kms_xml_validate).
 * mcx_kms_response_parse refuses keys wrapped with the transport key (xenc:EncryptedKey,
 * MCX_E_UNSUPPORTED) and does not check signatures (the inner message of a Signed* form is
 * parsed and signed_form is set); see the last section for wrapped keys and SignedKmsResponse
 * verification. SignedKmsRequest/SignedKmsCertificate signatures are not verified. */
#ifndef MCXSEC_KMS_XML_H
#define MCXSEC_KMS_XML_H

#include <time.h>

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_KMS_XML_NS        "urn:3gpp:ns:mcsecKMSInterface:1.0"
#define MCX_KMS_XML_MAX_BYTES (256u * 1024u) /* largest document parsed */
#define MCX_KMS_TEXT_MAX      256            /* URIs and short strings, with the NUL */
#define MCX_KMS_MSG_MAX       512            /* ErrorMsg, with the NUL */
#define MCX_KMS_VERSION_MAX   16             /* Version attributes, with the NUL */
#define MCX_KMS_MAX_DOMAINS   8              /* KmsDomainList/KmsDomain */
#define MCX_KMS_MAX_KEY_SETS  16             /* KmsKeyProv/KmsKeySet */
#define MCX_KMS_MAX_CERTS     16             /* KmsCertCache certificates */
#define MCX_KMS_Z_BYTES       257 /* PubEncKey: SAKKE Z, 0x04||x||y (MCX_SAKKE_POINT_BYTES) */
#define MCX_KMS_KPAK_BYTES    65  /* PubAuthKey: ECCSI KPAK (MCX_ECCSI_POINT_BYTES) */
#define MCX_KMS_RSK_BYTES     257 /* UserDecryptKey: SAKKE RSK */
#define MCX_KMS_SSK_BYTES     32  /* UserSigningKeySSK: ECCSI SSK */
#define MCX_KMS_PVT_BYTES     65  /* UserPubTokenPVT: ECCSI PVT */
#define MCX_KMS_UID_MAX_BYTES 64  /* UserID octets (32 for UID format 2) */

/* Parse flag: also validate the document against the compiled-in schema. */
#define MCX_KMS_XML_VALIDATE 1u

typedef enum mcx_kms_role {
    MCX_KMS_ROLE_NONE = 0, /* attribute absent */
    MCX_KMS_ROLE_ROOT,
    MCX_KMS_ROLE_EXTERNAL
} mcx_kms_role;

/* Optional booleans: absent, false or true. */
typedef enum mcx_kms_bool { MCX_KMS_ABSENT = 0, MCX_KMS_FALSE, MCX_KMS_TRUE } mcx_kms_bool;

/* KmsCertificate (TS 33.180 D.3.2.2). Strings are NUL-terminated, "" when absent. */
typedef struct mcx_kms_certificate {
    char version[MCX_KMS_VERSION_MAX]; /* Version attribute ("" if absent; written as 1.1.0) */
    mcx_kms_role role;
    mcx_kms_bool is_security_gateway;
    int signed_form; /* parsed from a SignedKmsCertificate (signature NOT verified) */
    char cert_uri[MCX_KMS_TEXT_MAX];
    char kms_uri[MCX_KMS_TEXT_MAX]; /* required */
    char issuer[MCX_KMS_TEXT_MAX];
    int has_valid_from, has_valid_to;
    time_t valid_from, valid_to; /* UTC */
    mcx_kms_bool revoked;
    char user_id_format[MCX_KMS_VERSION_MAX]; /* required; "2" = TS 33.180 F.2.1 hashed UID */
    uint64_t user_key_period;                 /* seconds, > 0 */
    uint64_t user_key_offset;                 /* seconds */
    uint8_t z[MCX_KMS_Z_BYTES];               /* PubEncKey */
    uint8_t kpak[MCX_KMS_KPAK_BYTES];         /* PubAuthKey */
    int has_parameter_set;
    uint32_t parameter_set;
    size_t n_domains;
    char domains[MCX_KMS_MAX_DOMAINS][MCX_KMS_TEXT_MAX];
} mcx_kms_certificate;

/* KmsKeySet: one key period's user keys. Holds secrets (rsk, ssk): keep it in memory from
 * mcx_secure_alloc (the parser does) and wipe it with mcx_memzero. */
typedef struct mcx_kms_key_set {
    char version[MCX_KMS_VERSION_MAX];
    char kms_uri[MCX_KMS_TEXT_MAX]; /* required */
    char cert_uri[MCX_KMS_TEXT_MAX];
    char issuer[MCX_KMS_TEXT_MAX];
    char user_uri[MCX_KMS_TEXT_MAX]; /* required */
    uint8_t user_id[MCX_KMS_UID_MAX_BYTES];
    size_t user_id_len; /* 1..MCX_KMS_UID_MAX_BYTES */
    int has_valid_from, has_valid_to;
    time_t valid_from, valid_to;
    uint64_t key_period_no;
    mcx_kms_bool revoked;
    uint8_t rsk[MCX_KMS_RSK_BYTES]; /* UserDecryptKey (secret) */
    uint8_t ssk[MCX_KMS_SSK_BYTES]; /* UserSigningKeySSK (secret) */
    uint8_t pvt[MCX_KMS_PVT_BYTES]; /* UserPubTokenPVT */
} mcx_kms_key_set;

typedef enum mcx_kms_msg_type {
    MCX_KMS_MSG_NONE = 0,  /* KmsResponse with neither KmsMessage nor KmsError */
    MCX_KMS_MSG_INIT,      /* KmsInit: certs[0] */
    MCX_KMS_MSG_KEYPROV,   /* KmsKeyProv: key_sets[0..n_key_sets) */
    MCX_KMS_MSG_CERTCACHE, /* KmsCertCache: certs[0..n_certs), cache_num */
    MCX_KMS_MSG_ERROR      /* KmsError: error_code, error_msg */
} mcx_kms_msg_type;

/* KmsResponse (TS 33.180 D.2.3). For writing, the caller fills it and points certs/key_sets at
 * its own arrays; a parsed one owns them and is released with mcx_kms_response_free. */
typedef struct mcx_kms_response {
    int signed_form; /* 1: parsed from SignedKmsResponse (not verified); 2: verified */
    char user_uri[MCX_KMS_TEXT_MAX];
    char kms_uri[MCX_KMS_TEXT_MAX];
    time_t time;                           /* Time, UTC */
    char kms_id[MCX_KMS_TEXT_MAX];         /* "" if absent */
    char client_req_url[MCX_KMS_TEXT_MAX]; /* ClientReqUrl */
    mcx_kms_msg_type type;
    char msg_version[MCX_KMS_VERSION_MAX]; /* Version of KmsInit/KmsKeyProv/KmsCertCache */
    mcx_kms_certificate *certs;            /* INIT: 1; CERTCACHE: 0..MCX_KMS_MAX_CERTS */
    size_t n_certs;
    int has_cache_num;
    uint64_t cache_num;
    mcx_kms_key_set *key_sets; /* KEYPROV: 0..MCX_KMS_MAX_KEY_SETS, secure memory when parsed */
    size_t n_key_sets;
    size_t n_new_transport_keys; /* NewTransportKey elements seen (wrapped; not decoded) */
    size_t n_new_integrity_keys; /* NewIntegrityKey elements seen (wrapped; not decoded) */
    int64_t error_code;
    char error_msg[MCX_KMS_MSG_MAX];
} mcx_kms_response;

/* KmsRequest (TS 33.180 D.2.2). */
typedef struct mcx_kms_request {
    int signed_form; /* parsed from SignedKmsRequest (signature NOT verified) */
    char user_uri[MCX_KMS_TEXT_MAX];
    char kms_uri[MCX_KMS_TEXT_MAX];
    time_t time;
    char client_id[MCX_KMS_TEXT_MAX]; /* "" if absent */
    char device_id[MCX_KMS_TEXT_MAX]; /* "" if absent */
    char client_req_url[MCX_KMS_TEXT_MAX];
    int has_krr_list; /* KrrList present (contents not interpreted) */
    int has_client_error;
    int64_t client_error_code;
    char client_error_msg[MCX_KMS_MSG_MAX];
} mcx_kms_request;

/* Parse a KmsResponse or SignedKmsResponse from len bytes. flags: 0 or MCX_KMS_XML_VALIDATE.
 * On success *out owns its arrays: release with mcx_kms_response_free. On failure *out holds
 * nothing to free.
 * Errors: MCX_E_ARG, MCX_E_LENGTH (too big; a field of the wrong size), MCX_E_ENCODING (not
 * well-formed, DTD, wrong namespace or root, missing/duplicate/misplaced element, bad value),
 * MCX_E_UNSUPPORTED (a key wrapped in xenc:EncryptedKey), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_response_parse(const uint8_t *xml, size_t len,
                                                         unsigned flags, mcx_kms_response *out);

/* Wipe and release what mcx_kms_response_parse allocated; leaves *r zeroed. NULL is accepted. */
MCX_API void mcx_kms_response_free(mcx_kms_response *r);

/* Parse a KmsRequest or SignedKmsRequest. Errors as mcx_kms_response_parse. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_request_parse(const uint8_t *xml, size_t len,
                                                        unsigned flags, mcx_kms_request *out);

/* Write r as a KmsResponse document (UTF-8, canonical namespace as default namespace).
 * *out is NUL-terminated, *out_len excludes the NUL; it may hold secret keys: release it with
 * mcx_kms_xml_free. Errors: MCX_E_ARG (missing required field, too many entries, a value that
 * cannot be written), MCX_E_NOMEM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_response_write(const mcx_kms_response *r, char **out,
                                                         size_t *out_len);

/* Write r as a KmsRequest document. Release *out with mcx_kms_xml_free. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_request_write(const mcx_kms_request *r, char **out,
                                                        size_t *out_len);

/* Wipe and release a document from mcx_kms_*_write. NULL is accepted. */
MCX_API void mcx_kms_xml_free(char *xml);

/* Validate a document against the compiled-in schema (schemas/mcsecKMSInterface.xsd).
 * Errors: MCX_E_ENCODING with the first schema error, MCX_E_LENGTH, MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_xml_validate(const uint8_t *xml, size_t len);

/* The compiled-in schema text. */
MCX_API const char *mcx_kms_xml_schema(void);

/* Decode KMS key text (FORMATS §8): if every character is a hex digit it is hex, otherwise
 * base64 (RFC 4648 §4, padded). Surrounding whitespace is ignored.
 * Errors: MCX_E_ENCODING (neither), MCX_E_LENGTH (more than cap octets). */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_key_decode(const char *text, uint8_t *out, size_t cap,
                                                     size_t *out_len);

/* ---------- Signed responses and wrapped keys (TS 33.180 D.1; src/kmsxml/secure.c) ----------
 *
 * Optional per client. Annex D signs with HMAC-SHA-256 under the integrity key InK (or TrK) and
 * may wrap key material with the transport key TrK; the algorithm URIs and the Reference are not
 * given there, so mcxsec chooses (docs/kms_xml.md, "Signed responses and wrapped keys"):
 *   wrap: xenc:EncryptedKey, AES-256 key wrap (RFC 3394, xmlenc#kw-aes256) when the key is a
 *         multiple of 8 octets (SSK), else AES-256 key wrap with padding (RFC 5649,
 *         xmlenc11#kw-aes-256-pad; the 257-octet RSK);
 *   sign: enveloped ds:Signature, last child of SignedKmsResponse, exclusive C14N, HMAC-SHA-256,
 *         one Reference URI="" (the whole document) with the enveloped-signature and exclusive
 *         C14N transforms, digest SHA-256. */
#define MCX_KMS_TRK_BYTES          32 /* transport key TrK (AES-256) */
#define MCX_KMS_INK_BYTES          32 /* integrity key InK (HMAC-SHA-256) */
#define MCX_KMS_XENC_KW_AES256     "http://www.w3.org/2001/04/xmlenc#kw-aes256"
#define MCX_KMS_XENC_KW_AES256_PAD "http://www.w3.org/2009/xmlenc11#kw-aes-256-pad"
#define MCX_KMS_DSIG_HMAC_SHA256   "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
#define MCX_KMS_WRAP_MAX_BYTES     (MCX_KMS_RSK_BYTES + 15) /* largest wrapped key */

/* Wrap key_len octets of key material under trk: RFC 3394 when key_len is a multiple of 8 and
 * at least 16, else RFC 5649 (*padded set to 1). out holds at least key_len + 15 octets.
 * Errors: MCX_E_ARG, MCX_E_LENGTH (key_len 0 or above MCX_KMS_RSK_BYTES, cap too small),
 * MCX_E_INTERNAL. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_key_wrap(const uint8_t trk[MCX_KMS_TRK_BYTES],
                                                   const uint8_t *key, size_t key_len, uint8_t *out,
                                                   size_t cap, size_t *out_len, int *padded);

/* Unwrap (padded: RFC 5649, else RFC 3394). Errors: MCX_E_ARG, MCX_E_LENGTH (in_len not a
 * wrapped size, result above cap), MCX_E_TAG_INVALID (integrity check failed: wrong TrK or
 * altered ciphertext). */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_key_unwrap(const uint8_t trk[MCX_KMS_TRK_BYTES],
                                                     int padded, const uint8_t *in, size_t in_len,
                                                     uint8_t *out, size_t cap, size_t *out_len);

/* As mcx_kms_response_write, but every KmsKeySet's UserDecryptKey (RSK) and UserSigningKeySSK
 * are written as xsi:type="EncKeyContentType" holding an xenc:EncryptedKey wrapped under trk.
 * Release *out with mcx_kms_xml_free. Errors as mcx_kms_response_write. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_response_write_wrapped(
    const mcx_kms_response *r, const uint8_t trk[MCX_KMS_TRK_BYTES], char **out, size_t *out_len);

/* As mcx_kms_response_parse, and keys held in xenc:EncryptedKey are unwrapped with trk (NULL:
 * wrapped keys are refused with MCX_E_UNSUPPORTED, as by mcx_kms_response_parse).
 * Extra errors: MCX_E_TAG_INVALID (wrong TrK or altered wrapped key), MCX_E_UNSUPPORTED (another
 * EncryptionMethod, CipherReference). The signature of a SignedKmsResponse is NOT verified. */
MCX_API MCX_MUST_CHECK mcx_status
mcx_kms_response_parse_wrapped(const uint8_t *xml, size_t len, unsigned flags,
                               const uint8_t trk[MCX_KMS_TRK_BYTES], mcx_kms_response *out);

/* Sign a KmsResponse document (e.g. from mcx_kms_response_write[_wrapped]): the result is
 * <SignedKmsResponse> holding it and a ds:Signature (HMAC-SHA-256 under ink, as above).
 * *out is NUL-terminated, in secure memory: release with mcx_kms_xml_free.
 * Errors: MCX_E_ARG, MCX_E_LENGTH, MCX_E_ENCODING (not a KmsResponse document), MCX_E_NOMEM,
 * MCX_E_INTERNAL (xmlsec failed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_response_sign(const uint8_t *xml, size_t len,
                                                        const uint8_t ink[MCX_KMS_INK_BYTES],
                                                        char **out, size_t *out_len);

/* Verify a SignedKmsResponse under ink and parse the KmsResponse it holds (the same tree that
 * was verified), unwrapping keys with trk (may be NULL). The document must be exactly
 * SignedKmsResponse{KmsResponse, ds:Signature}, the signature must use the algorithms above
 * with a single Reference URI="" (so it covers the whole KmsResponse; signature wrapping is
 * refused). out->signed_form is 2 after a verified signature.
 * Errors: MCX_E_SIG_INVALID (unsigned document, misplaced or malformed signature, other
 * algorithms or references, digest or HMAC mismatch: the reason names which), the errors of
 * mcx_kms_response_parse_wrapped. */
MCX_API MCX_MUST_CHECK mcx_status mcx_kms_response_verify(const uint8_t *xml, size_t len,
                                                          unsigned flags,
                                                          const uint8_t ink[MCX_KMS_INK_BYTES],
                                                          const uint8_t *trk,
                                                          mcx_kms_response *out);

#ifdef __cplusplus
}
#endif

#endif
