/* MIKEY-SAKKE UID, format 2 (TS 33.180 Annex F.2.1), key periods, and the identity octets that
 * ECCSI and SAKKE use. */
#ifndef MCXSEC_UID_H
#define MCXSEC_UID_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCX_UID_BYTES    32
#define MCX_ID_MAX_BYTES 64

/* UID = SHA-256(0x00 || "MIKEY-SAKKE-UID" || 00 0F || uri || L || kms_uri || L || period || L ||
 * offset || L || period_no || L). Integers are minimal big-endian octets (0 is one 0x00 octet);
 * every L is 2 octets. Errors: MCX_E_LENGTH (a URI longer than 65535 octets), MCX_E_ARG. */
MCX_API MCX_MUST_CHECK mcx_status mcx_uid_format2(const char *uri, const char *kms_uri,
                                                  uint64_t key_period, uint64_t key_offset,
                                                  uint64_t period_no, uint8_t uid[MCX_UID_BYTES]);

/* The key period number in force at NTP time t (seconds since 1900): (t - offset) / period.
 * Returns 0 for t < offset or period 0. */
MCX_API uint64_t mcx_key_period_no(uint64_t ntp_seconds, uint64_t key_period, uint64_t key_offset);

/* How a deployment turns a UID into the identity octets given to ECCSI and SAKKE (FORMATS.md §1):
 * the 32 raw octets (what TS 33.180 says), or their 64-character lowercase hex string (some
 * deployed KMSs). */
typedef enum mcx_id_mode { MCX_ID_RAW = 0, MCX_ID_HEX_STRING = 1 } mcx_id_mode;

/* Write the identity octets for uid in the given mode to id[0..MCX_ID_MAX_BYTES); returns their
 * length (32 or 64). */
MCX_API size_t mcx_identity_from_uid(const uint8_t uid[MCX_UID_BYTES], mcx_id_mode mode,
                                     uint8_t id[MCX_ID_MAX_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
