/* The sending side: one libsrtp2 session per sender key (its MKI in every packet), streams per
 * SSRC created by libsrtp2 from the any-outbound template. */
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "media/media_internal.h"

struct mcx_media_sender {
    srtp_t session;
    size_t mki_len;
};

mcx_status mcx_media_sender_new(mcx_media_sender **out, const mcx_media_keys *keys)
{
    if (out == NULL || keys == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    *out = NULL;
    if (keys->mki_len != MCX_MEDIA_GROUP_MKI_BYTES && keys->mki_len != MCX_MEDIA_PRIVATE_MKI_BYTES)
        return MCX_FAIL(MCX_E_ARG, "media: MKI of %zu octets, expected 4 or 8", keys->mki_len);
    MCX_GUARD(media_srtp_init());
    mcx_media_sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: sender");
    srtp_policy_t policy;
    srtp_master_key_t mk, *mk_list[1];
    uint8_t master[MEDIA_POLICY_KEY_BYTES];
    media_policy(&policy, &mk, mk_list, master, keys, ssrc_any_outbound, 0);
    srtp_err_status_t err = srtp_create(&s->session, &policy);
    mcx_memzero(master, sizeof master);
    if (err != srtp_err_status_ok) {
        free(s);
        return media_srtp_fail(err, "sender set-up");
    }
    s->mki_len = keys->mki_len;
    *out = s;
    return MCX_OK;
}

mcx_status mcx_media_sender_new_group(mcx_media_sender **out, const uint8_t *gmk, size_t gmk_len,
                                      uint32_t gmk_id, const uint8_t *rand, size_t rand_len,
                                      const char *own_uri, uint8_t cs_id)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    *out = NULL;
    mcx_media_keys keys;
    MCX_GUARD(mcx_media_group_keys(gmk, gmk_len, gmk_id, rand, rand_len, own_uri, cs_id, &keys));
    mcx_status st = mcx_media_sender_new(out, &keys);
    mcx_memzero(&keys, sizeof keys);
    return st;
}

mcx_status mcx_media_protect(mcx_media_sender *s, uint8_t *pkt, size_t len, size_t cap,
                             size_t *out_len)
{
    if (s == NULL || pkt == NULL || out_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    *out_len = 0;
    size_t hdr_len = 0;
    uint32_t ssrc = 0;
    MCX_GUARD(media_rtp_header(pkt, len, "protect", &hdr_len, &ssrc));
    if (len > (size_t)0x7FFFFFFF - MCX_MEDIA_TRAILER_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "media: protect: RTP packet of %zu octets", len);
    if (cap < len + MCX_MEDIA_TAG_BYTES + s->mki_len)
        return MCX_FAIL(MCX_E_LENGTH, "media: protect: buffer of %zu octets, need %zu", cap,
                        len + MCX_MEDIA_TAG_BYTES + s->mki_len);
    int n = (int)len;
    srtp_err_status_t err = srtp_protect_mki(s->session, pkt, &n, 1, 0);
    if (err != srtp_err_status_ok)
        return media_srtp_fail(err, "protect");
    *out_len = (size_t)n;
    return MCX_OK;
}

mcx_status mcx_media_protect_to(mcx_media_sender *s, const uint8_t *rtp, size_t len, uint8_t *out,
                                size_t cap, size_t *out_len)
{
    if (s == NULL || rtp == NULL || out == NULL || out_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    *out_len = 0;
    if (cap < len)
        return MCX_FAIL(MCX_E_LENGTH, "media: protect: buffer of %zu octets, need %zu", cap,
                        len + MCX_MEDIA_TAG_BYTES + s->mki_len);
    if (out != rtp)
        memmove(out, rtp, len);
    return mcx_media_protect(s, out, len, cap, out_len);
}

mcx_status mcx_media_sender_roc(mcx_media_sender *s, uint32_t ssrc, uint32_t *roc)
{
    if (s == NULL || roc == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    if (srtp_get_stream_roc(s->session, ssrc, roc) != srtp_err_status_ok)
        return MCX_FAIL(MCX_E_NOT_FOUND, "media: nothing sent on SSRC %08X", ssrc);
    return MCX_OK;
}

void mcx_media_sender_free(mcx_media_sender *s)
{
    if (s == NULL)
        return;
    srtp_dealloc(s->session); /* libsrtp2 zeroises the session keys */
    free(s);
}
