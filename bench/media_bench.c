/* media_bench: group media protection (src/media) timed in one process.
 *
 *   media_bench [--json FILE] [--rounds N]
 *
 * late_entry_ms: a receiver holding the GMK of a group of 10,000 members gets the first packet of
 *   a sender it has not seen; the time from the call of mcx_media_unprotect to the decrypted RTP
 *   packet (MKI read, GMK found by GMK-ID, member found by GUK-ID, SRTP key derived, libsrtp2
 *   session set up, packet decrypted). Median over 101 senders on one receiver; the first of them
 *   also builds the GUK-ID -> member index (10,000 KDFs), reported alone as late_entry_first_ms.
 * srtp_protect_ns / srtp_unprotect_ns: one RTP packet with a 160-octet payload (20 ms of G.711)
 *   through mcx_media_protect_to / mcx_media_unprotect (copy included), median over rounds of
 *   20,000 packets. bare_srtp_*_ns: the same packets and keys straight through libsrtp2
 *   (memcpy + srtp_protect_mki / srtp_unprotect_mki); both must give identical packets.
 * srtp_overhead_pct: (mcx protect + unprotect) / (bare protect + unprotect) - 1, in percent.
 *
 * Prints one line of key=value and, with --json, writes the same figures as one JSON object for
 * mcx-bench --service FILE. Targets: late_entry_ms <= 5, srtp_overhead_pct <= 10. */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcxsec/media.h"
#include "mcxsec/mem.h"

#define N_MEMBERS  10000
#define N_LATE     101
#define N_PACKETS  20000
#define PAYLOAD    160
#define RTP_LEN    (12 + PAYLOAD)
#define SRTP_LEN   (RTP_LEN + MCX_MEDIA_TAG_BYTES + MCX_MEDIA_GROUP_MKI_BYTES)
#define MAX_ROUNDS 100

static const uint8_t GMK[16] = {0x3c, 0x11, 0x5a, 0x7e, 0x21, 0x90, 0x42, 0x08,
                                0xd3, 0x6b, 0x1f, 0xe4, 0x55, 0xaa, 0x0c, 0x97};
static const uint8_t RAND[16] = {0x52, 0x41, 0x4e, 0x44, 0x20, 0x6f, 0x66, 0x20,
                                 0x74, 0x68, 0x65, 0x20, 0x47, 0x4d, 0x4b, 0x21};
#define GMK_ID 0x0BE4C401u

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void rtp_packet(uint8_t *p, uint32_t i, uint32_t ssrc)
{
    uint16_t seq = (uint16_t)i;
    uint32_t ts = 160u * i;
    p[0] = 0x80;
    p[1] = 0x00; /* PT 0, PCMU */
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = (uint8_t)(ssrc >> 24);
    p[9] = (uint8_t)(ssrc >> 16);
    p[10] = (uint8_t)(ssrc >> 8);
    p[11] = (uint8_t)ssrc;
    for (int j = 0; j < PAYLOAD; j++)
        p[12 + j] = (uint8_t)(j ^ i);
}

static int fail(const char *what)
{
    fprintf(stderr, "media_bench: %s: %s\n", what, mcx_last_error());
    return 0;
}

static int late_entry(double *median_ms, double *first_ms)
{
    static char names[N_MEMBERS][48];
    static const char *members[N_MEMBERS];
    for (int i = 0; i < N_MEMBERS; i++) {
        snprintf(names[i], sizeof names[i], "sip:member%05d@bench.example", i);
        members[i] = names[i];
    }
    mcx_media_receiver *r = NULL;
    if (mcx_media_receiver_new(&r, NULL) != MCX_OK ||
        mcx_media_receiver_add_group_key(r, GMK, 16, GMK_ID, RAND, 16, MCX_CS_MCPTT_GROUP, members,
                                         N_MEMBERS) != MCX_OK)
        return fail("late entry receiver");
    static double ms[N_LATE];
    for (int k = 0; k < N_LATE; k++) {
        int who = (k * 97 + 13) % N_MEMBERS;
        mcx_media_sender *s = NULL;
        uint8_t pkt[SRTP_LEN], out[SRTP_LEN], rtp[RTP_LEN];
        size_t n = 0, m = 0;
        /* the sender has been talking for a while: 1000 packets before this one */
        for (uint32_t i = 0; i <= 1000; i++) {
            rtp_packet(rtp, i, 0x10000u + (uint32_t)k);
            if (i == 0 && mcx_media_sender_new_group(&s, GMK, 16, GMK_ID, RAND, 16, members[who],
                                                     MCX_CS_MCPTT_GROUP) != MCX_OK)
                return fail("late entry sender");
            if (mcx_media_protect_to(s, rtp, RTP_LEN, pkt, sizeof pkt, &n) != MCX_OK)
                return fail("late entry protect");
        }
        uint64_t t0 = now_ns();
        mcx_media_rx_info info;
        mcx_status st = mcx_media_unprotect(r, pkt, n, out, sizeof out, &m, NULL, &info);
        uint64_t t1 = now_ns();
        if (st != MCX_OK || m != RTP_LEN || memcmp(out, rtp, RTP_LEN) != 0 || !info.new_sender ||
            strcmp(info.sender_uri, members[who]) != 0)
            return fail("late entry unprotect");
        ms[k] = (double)(t1 - t0) / 1e6;
        mcx_media_sender_free(s);
    }
    *first_ms = ms[0];
    *median_ms = median(ms, N_LATE);
    mcx_media_receiver_free(r);
    return 1;
}

/* libsrtp2 on its own, configured as media_policy does (AEAD_AES_128_GCM, 16-octet tag, MKI). */
static int bare_session(srtp_t *session, const mcx_media_keys *k, srtp_ssrc_type_t type)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    p.ssrc.type = type;
    uint8_t master[28], mki[8];
    memcpy(master, k->master_key, 16);
    memcpy(master + 16, k->master_salt, 12);
    memcpy(mki, k->mki, 8);
    srtp_master_key_t mk = {master, mki, 8}, *list[1] = {&mk};
    p.keys = list;
    p.num_master_keys = 1;
    p.window_size = 1024;
    int ok = srtp_create(session, &p) == srtp_err_status_ok;
    mcx_memzero(master, sizeof master);
    return ok;
}

static int throughput(int rounds, double *prot_ns, double *unprot_ns, double *bare_prot_ns,
                      double *bare_unprot_ns)
{
    mcx_media_keys k;
    if (mcx_media_group_keys(GMK, 16, GMK_ID, RAND, 16, "sip:member00042@bench.example",
                             MCX_CS_MCPTT_GROUP, &k) != MCX_OK)
        return fail("keys");
    static const char *members[] = {"sip:member00042@bench.example"};
    uint8_t(*rtp)[RTP_LEN] = malloc((size_t)N_PACKETS * RTP_LEN);
    uint8_t(*ours)[SRTP_LEN] = malloc((size_t)N_PACKETS * SRTP_LEN);
    uint8_t(*bare)[SRTP_LEN] = malloc((size_t)N_PACKETS * SRTP_LEN);
    if (rtp == NULL || ours == NULL || bare == NULL)
        return fail("memory");
    static double p_ns[MAX_ROUNDS], u_ns[MAX_ROUNDS], bp_ns[MAX_ROUNDS], bu_ns[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        uint32_t ssrc = 0xBE000000u + (uint32_t)r;
        for (uint32_t i = 0; i < N_PACKETS; i++)
            rtp_packet(rtp[i], i, ssrc);
        mcx_media_sender *s = NULL;
        mcx_media_receiver *rx = NULL;
        srtp_t bs = NULL, br = NULL;
        if (mcx_media_sender_new(&s, &k) != MCX_OK || mcx_media_receiver_new(&rx, NULL) != MCX_OK ||
            mcx_media_receiver_add_group_key(rx, GMK, 16, GMK_ID, RAND, 16, MCX_CS_MCPTT_GROUP,
                                             members, 1) != MCX_OK)
            return fail("set-up");
        if (!bare_session(&bs, &k, ssrc_any_outbound) || !bare_session(&br, &k, ssrc_any_inbound))
            return fail("bare libsrtp2 set-up");
        size_t n = 0;
        /* alternate the order so neither side always runs on a warmer cache */
        for (int pass = 0; pass < 2; pass++) {
            if ((pass ^ (r & 1)) == 0) {
                uint64_t t0 = now_ns();
                for (uint32_t i = 0; i < N_PACKETS; i++)
                    if (mcx_media_protect_to(s, rtp[i], RTP_LEN, ours[i], SRTP_LEN, &n) != MCX_OK)
                        return fail("protect");
                p_ns[r] = (double)(now_ns() - t0) / N_PACKETS;
            } else {
                uint64_t t0 = now_ns();
                for (uint32_t i = 0; i < N_PACKETS; i++) {
                    int len = RTP_LEN;
                    memcpy(bare[i], rtp[i], RTP_LEN);
                    if (srtp_protect_mki(bs, bare[i], &len, 1, 0) != srtp_err_status_ok)
                        return fail("bare protect");
                }
                bp_ns[r] = (double)(now_ns() - t0) / N_PACKETS;
            }
        }
        if (memcmp(ours, bare, (size_t)N_PACKETS * SRTP_LEN) != 0) {
            fprintf(stderr, "media_bench: mcxsec and bare libsrtp2 packets differ\n");
            return 0;
        }
        static uint8_t out[SRTP_LEN];
        for (int pass = 0; pass < 2; pass++) {
            if ((pass ^ (r & 1)) == 0) {
                uint64_t t0 = now_ns();
                for (uint32_t i = 0; i < N_PACKETS; i++)
                    if (mcx_media_unprotect(rx, ours[i], SRTP_LEN, out, sizeof out, &n, NULL,
                                            NULL) != MCX_OK ||
                        n != RTP_LEN)
                        return fail("unprotect");
                u_ns[r] = (double)(now_ns() - t0) / N_PACKETS;
            } else {
                uint64_t t0 = now_ns();
                for (uint32_t i = 0; i < N_PACKETS; i++) {
                    int len = SRTP_LEN;
                    memcpy(out, bare[i], SRTP_LEN);
                    if (srtp_unprotect_mki(br, out, &len, 1) != srtp_err_status_ok ||
                        len != RTP_LEN)
                        return fail("bare unprotect");
                }
                bu_ns[r] = (double)(now_ns() - t0) / N_PACKETS;
            }
        }
        mcx_media_sender_free(s);
        mcx_media_receiver_free(rx);
        srtp_dealloc(bs);
        srtp_dealloc(br);
    }
    *prot_ns = median(p_ns, (size_t)rounds);
    *unprot_ns = median(u_ns, (size_t)rounds);
    *bare_prot_ns = median(bp_ns, (size_t)rounds);
    *bare_unprot_ns = median(bu_ns, (size_t)rounds);
    mcx_memzero(&k, sizeof k);
    free(rtp);
    free(ours);
    free(bare);
    return 1;
}

int main(int argc, char **argv)
{
    const char *json = NULL;
    int rounds = 15;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
            if (rounds < 1 || rounds > MAX_ROUNDS) {
                fprintf(stderr, "media_bench: --rounds must be 1..%d\n", MAX_ROUNDS);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: media_bench [--json FILE] [--rounds N]\n");
            return 2;
        }
    }
    double late = 0, late_first = 0, p = 0, u = 0, bp = 0, bu = 0;
    if (!late_entry(&late, &late_first) || !throughput(rounds, &p, &u, &bp, &bu))
        return 1;
    double overhead = ((p + u) / (bp + bu) - 1.0) * 100.0;
    printf("late_entry_ms=%.3f late_entry_first_ms=%.3f srtp_protect_ns=%.0f "
           "srtp_unprotect_ns=%.0f bare_srtp_protect_ns=%.0f bare_srtp_unprotect_ns=%.0f "
           "srtp_overhead_pct=%.1f members=%d payload=%d rounds=%d\n",
           late, late_first, p, u, bp, bu, overhead, N_MEMBERS, PAYLOAD, rounds);
    if (json != NULL) {
        FILE *f = fopen(json, "w");
        if (f == NULL) {
            perror(json);
            return 1;
        }
        fprintf(f,
                "{\n  \"late_entry_ms\": %.3f,\n  \"late_entry_first_ms\": %.3f,\n"
                "  \"srtp_protect_ns\": %.0f,\n  \"srtp_unprotect_ns\": %.0f,\n"
                "  \"bare_srtp_protect_ns\": %.0f,\n  \"bare_srtp_unprotect_ns\": %.0f,\n"
                "  \"srtp_overhead_pct\": %.1f\n}\n",
                late, late_first, p, u, bp, bu, overhead);
        if (fclose(f) != 0) {
            perror(json);
            return 1;
        }
    }
    return 0;
}
