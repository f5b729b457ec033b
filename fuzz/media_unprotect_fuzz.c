/* libFuzzer target over the receiver's packet handling (mcx_media_unprotect): the RTP header walk,
 * the MKI read from the packet's tail (GMK-ID || GUK-ID, or a PCK-ID), the sender lookup and
 * libsrtp2's AEAD unprotect. Input: one control octet, then the packet.
 *   bit 0: name the talker (hint sender_uri = alice)      bit 1: give a ROC hint (octet 1 of the
 *   bit 2: overwrite the packet's last 8 octets with alice's group MKI    packet, if any)
 *   bit 3: overwrite its last 4 octets with the PCK-ID                    bit 4: decrypt in place
 * Checks: a documented status only; on success the RTP packet is the input minus tag and MKI, the
 * sender is known and one packet is counted; on failure nothing is delivered (output all zero,
 * length 0) and exactly one rejection is counted. Inputs that decrypt are the seeds' genuine
 * packets: they must decrypt to the seeds' plaintext pattern. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t GMK[16] = {0xf0, 0x0d, 0xf0, 0x0d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t RAND[16] = {0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#define GMK_ID 0x0F00D001u
#define PCK_ID 0x1F00D002u
static const char *const MEMBERS[] = {"sip:alice@fuzz.example", "sip:bob@fuzz.example"};

static uint64_t rejected_total(const mcx_media_stats *s)
{
    const mcx_media_rejects *r = &s->rejected;
    return r->truncated + r->unknown_key + r->unknown_sender + r->tag + r->replay + r->other;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    uint8_t ctl = data[0];
    size_t len = size - 1;
    uint8_t *in = malloc(len + 1), *out = malloc(len + 1);
    if (in == NULL || out == NULL)
        abort();
    memcpy(in, data + 1, len);
    mcx_media_keys alice;
    if (mcx_media_group_keys(GMK, 16, GMK_ID, RAND, 16, MEMBERS[0], MCX_CS_MCPTT_GROUP, &alice) !=
        MCX_OK)
        abort();
    if ((ctl & 4) && len >= 8)
        memcpy(in + len - 8, alice.mki, 8);
    if ((ctl & 8) && len >= 4) {
        static const uint8_t pck_id[4] = {0x1F, 0x00, 0xD0, 0x02};
        memcpy(in + len - 4, pck_id, 4);
    }
    mcx_media_receiver *r = NULL;
    if (mcx_media_receiver_new(&r, NULL) != MCX_OK ||
        mcx_media_receiver_add_group_key(r, GMK, 16, GMK_ID, RAND, 16, MCX_CS_MCPTT_GROUP, MEMBERS,
                                         2) != MCX_OK ||
        mcx_media_receiver_add_private_key(r, GMK, 16, PCK_ID, RAND, 16, 0) != MCX_OK)
        abort();
    mcx_media_rx_hint hint = {(ctl & 1) ? MEMBERS[0] : NULL, (ctl & 2) && len > 1,
                              len > 1 ? in[1] : 0};
    uint8_t *dst = (ctl & 16) ? in : out;
    size_t n = 12345;
    mcx_media_rx_info info;
    mcx_status st = mcx_media_unprotect(r, in, len, dst, len + 1, &n, &hint, &info);
    mcx_media_stats stats;
    mcx_media_receiver_stats(r, &stats);
    switch (st) {
    case MCX_OK:
        if (n + MCX_MEDIA_TAG_BYTES + MCX_MEDIA_PRIVATE_MKI_BYTES > len || n < 12)
            abort();
        if (stats.packets != 1 || rejected_total(&stats) != 0 || stats.octets != n)
            abort();
        if (info.key_id != GMK_ID && info.key_id != PCK_ID)
            abort();
        if (info.key_id == GMK_ID &&
            (info.sender_uri == NULL || (strcmp(info.sender_uri, MEMBERS[0]) != 0 &&
                                         strcmp(info.sender_uri, MEMBERS[1]) != 0)))
            abort();
        /* the seeds' payload pattern: octet i of the packet is i - 12, past the CSRCs and the
         * header extension (RFC 3550 §5.1, §5.3.1) */
        size_t h = 12 + 4u * (dst[0] & 0x0Fu);
        if (dst[0] & 0x10u)
            h += 4 + 4u * ((size_t)dst[h + 2] << 8 | dst[h + 3]);
        if (h > n)
            abort();
        for (size_t i = h; i < n; i++)
            if (dst[i] != (uint8_t)(i - 12))
                abort();
        break;
    case MCX_E_LENGTH:
    case MCX_E_ENCODING:
    case MCX_E_NO_KEY:
    case MCX_E_UNKNOWN_PEER:
    case MCX_E_TAG_INVALID:
    case MCX_E_REPLAY:
        if (n != 0 || stats.packets != 0 || rejected_total(&stats) != 1)
            abort();
        for (size_t i = 0; i < len; i++)
            if (dst[i] != 0)
                abort();
        break;
    default:
        abort();
    }
    mcx_media_receiver_free(r);
    free(in);
    free(out);
    return 0;
}
