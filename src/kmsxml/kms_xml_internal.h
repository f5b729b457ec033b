/* Internals of the KMS XML codec (TS 33.180 Annex D), shared by the reader and the writer. */
#ifndef MCX_KMS_XML_INTERNAL_H
#define MCX_KMS_XML_INTERNAL_H

#include <time.h>

#include "mcxsec/kms_xml.h"

/* xs:dateTime text -> UTC time_t. Accepts YYYY-MM-DDThh:mm:ss[.fraction][Z|(+|-)hh:mm]; no
 * zone means UTC (the KMS examples of TS 33.180 and the deployed KMSs write none).
 * Returns 0 on success, -1 if the text is not such a time. */
int mcx_kms_time_parse(const char *s, time_t *out);

/* UTC time_t -> "YYYY-MM-DDThh:mm:ss" (buf of at least 32 chars). Returns 0, or -1 if the year
 * is outside 0001..9999. */
int mcx_kms_time_format(time_t t, char *buf, size_t cap);

#endif
