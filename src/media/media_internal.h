/* Internals of the media module (include/mcxsec/media.h): libsrtp2 set-up shared by the sender
 * and the receiver, and the RTP header walk both use before handing a packet to libsrtp2. */
#ifndef MCX_MEDIA_INTERNAL_H
#define MCX_MEDIA_INTERNAL_H

#include <srtp2/srtp.h>

#include "mcxsec/media.h"

/* master key || master salt || MKI, as media_policy lays them out for libsrtp2 */
#define MEDIA_POLICY_KEY_BYTES                                                                     \
    (MCX_SRTP_MASTER_KEY_BYTES + MCX_SRTP_MASTER_SALT_BYTES + MCX_MEDIA_MKI_MAX_BYTES)

/* srtp_init once per process (libsrtp2's crypto kernel is global). */
mcx_status media_srtp_init(void);

/* The policy of one sender's key: AEAD_AES_128_GCM with the 16-octet tag for SRTP and SRTCP
 * (RFC 7714 §14.1; TS 33.180 §7.4 and TS 33.179 §7.6.1: AES-128-GCM), the master key || salt of
 * keys and its MKI (copied to master, which the caller wipes). ssrc_type is ssrc_any_outbound
 * (sender) or ssrc_any_inbound (receiver). */
void media_policy(srtp_policy_t *policy, srtp_master_key_t *mk, srtp_master_key_t **mk_list,
                  uint8_t master[MEDIA_POLICY_KEY_BYTES], const mcx_media_keys *keys,
                  srtp_ssrc_type_t ssrc_type, unsigned window);

/* Length of the RTP header at pkt (RFC 3550 §5.1, §5.3.1: 12 + 4 * CC, plus the extension with its
 * 4-octet header when X is set) and its SSRC. Errors: MCX_E_LENGTH (truncated), MCX_E_ENCODING
 * (version not 2). */
mcx_status media_rtp_header(const uint8_t *pkt, size_t len, const char *what, size_t *hdr_len,
                            uint32_t *ssrc);

/* libsrtp2 status -> mcx_status with a reason naming what failed. */
mcx_status media_srtp_fail(srtp_err_status_t err, const char *what);

#endif
