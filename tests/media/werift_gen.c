/* werift_gen: group media packets from mcxsec for werift-rtp to decrypt (tests/media/werift.sh).
 * Two members of one group send with the same SSRC and sequence numbers across the 16-bit wrap
 * (65530 .. 65545, ROC 0 -> 1); for each sender it prints the SRTP master key and salt derived by
 * mcx_media_group_keys (TS 33.180 §7.4.2), the expected MKI, and each packet as sent and as RTP:
 *   {"senders":[{"uri":..,"key":..,"salt":..,"mki":..,"packets":[{"srtp":..,"rtp":..},..]},..]} */
#include <stdio.h>
#include <string.h>

#include "mcxsec/media.h"
#include "mcxsec/mem.h"

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

int main(void)
{
    static const uint8_t gmk[16] = {0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    static const uint8_t rand[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                     0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    const uint32_t gmk_id = 0x0E1D2C3B;
    const char *uris[] = {"sip:alice@werift.example", "sip:bob@werift.example"};
    printf("{\"senders\":[");
    for (int u = 0; u < 2; u++) {
        mcx_media_keys k;
        mcx_media_sender *s = NULL;
        if (mcx_media_group_keys(gmk, 16, gmk_id, rand, 16, uris[u], MCX_CS_MCPTT_GROUP, &k) !=
                MCX_OK ||
            mcx_media_sender_new(&s, &k) != MCX_OK) {
            fprintf(stderr, "werift_gen: %s\n", mcx_last_error());
            return 1;
        }
        printf("%s{\"uri\":\"%s\",\"key\":\"", u ? "," : "", uris[u]);
        hex(k.master_key, sizeof k.master_key);
        printf("\",\"salt\":\"");
        hex(k.master_salt, sizeof k.master_salt);
        printf("\",\"mki\":\"");
        hex(k.mki, k.mki_len);
        printf("\",\"packets\":[");
        uint16_t seq = 65530;
        for (int i = 0; i < 16; i++, seq++) {
            uint8_t rtp[256], srtp[256];
            size_t n = 12 + 160, out = 0;
            rtp[0] = 0x80;
            rtp[1] = 0x60 | (i == 0 ? 0x80 : 0); /* marker on the first, PT 96 */
            rtp[2] = (uint8_t)(seq >> 8);
            rtp[3] = (uint8_t)seq;
            memcpy(rtp + 4, "\x00\x01\x00\x00", 4);
            memcpy(rtp + 8, "\x13\x57\x9b\xdf", 4); /* the same SSRC for both */
            for (size_t j = 12; j < n; j++)
                rtp[j] = (uint8_t)(j * 7 + i);
            if (mcx_media_protect_to(s, rtp, n, srtp, sizeof srtp, &out) != MCX_OK) {
                fprintf(stderr, "werift_gen: %s\n", mcx_last_error());
                return 1;
            }
            printf("%s{\"srtp\":\"", i ? "," : "");
            hex(srtp, out);
            printf("\",\"rtp\":\"");
            hex(rtp, n);
            printf("\"}");
        }
        printf("]}");
        mcx_memzero(&k, sizeof k);
        mcx_media_sender_free(s);
    }
    printf("]}\n");
    return 0;
}
