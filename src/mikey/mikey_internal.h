/* Internals shared by the MIKEY builder and opener. */
#ifndef MCX_MIKEY_INTERNAL_H
#define MCX_MIKEY_INTERNAL_H

#include "mcxsec/mikey.h"

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define MCX_NTP_UNIX_OFFSET 2208988800u

/* UID format 2 of uri at kms for key period period_no (TS 33.180 F.2.1). */
static inline mcx_status mikey_uid(const char *uri, const mcx_kms_cert *kms, uint64_t period_no,
                                   uint8_t uid[MCX_UID_BYTES])
{
    return mcx_uid_format2(uri, kms->uri, kms->key_period, kms->key_offset, period_no, uid);
}

#endif
