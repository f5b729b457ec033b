/* Internals of the KMS XML codec (TS 33.180 Annex D), shared by the reader and the writer. */
#ifndef MCX_KMS_XML_INTERNAL_H
#define MCX_KMS_XML_INTERNAL_H

#include <time.h>

#include <libxml/tree.h>

#include "mcxsec/kms_xml.h"

/* xs:dateTime text -> UTC time_t. Accepts YYYY-MM-DDThh:mm:ss[.fraction][Z|(+|-)hh:mm]; no
 * zone means UTC (the KMS examples of TS 33.180 and the deployed KMSs write none).
 * Returns 0 on success, -1 if the text is not such a time. */
int mcx_kms_time_parse(const char *s, time_t *out);

/* UTC time_t -> "YYYY-MM-DDThh:mm:ss" (buf of at least 32 chars). Returns 0, or -1 if the year
 * is outside 0001..9999. */
int mcx_kms_time_format(time_t t, char *buf, size_t cap);

/* Parse len bytes into a libxml2 tree with the reader's safety rules (size limit, no DOCTYPE,
 * no network, no entities; MCX_KMS_XML_VALIDATE: schema check). Free with
 * mcx_kms_xml_free_doc (wipes the text). */
mcx_status mcx_kms_xml_read_doc(const uint8_t *xml, size_t len, unsigned flags, xmlDoc **out);
void mcx_kms_xml_free_doc(xmlDoc *doc);

/* Walk a KmsResponse element into *out (zeroed by the caller), unwrapping keys with trk (NULL:
 * wrapped keys are refused). On failure the caller releases *out with mcx_kms_response_free. */
mcx_status mcx_kms_response_from_el(const xmlNode *el, const uint8_t *trk, mcx_kms_response *out);

/* Base64 (RFC 4648 §4) of the key wrapped under trk (secure.c), NUL-terminated in b64 (cap
 * chars); *alg: the xenc EncryptionMethod URI. Deterministic (the writer measures first). */
mcx_status mcx_kms_wrap_b64(const uint8_t *trk, const uint8_t *key, size_t n, char *b64, size_t cap,
                            const char **alg);

#endif
