/* mcx group send / listen: group media protected with per-sender SRTP keys from the group's GMK
 * (TS 33.180 §7.4.2; include/mcxsec/media.h), over UDP unicast or IPv4 multicast on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "group_cli.h"
#include "mcxsec/hex.h"
#include "mcxsec/keystore.h"
#include "mcxsec/media.h"
#include "mcxsec/mem.h"

#define RTP_MAX   1500
#define FRAME_MAX (RTP_MAX - MCX_MEDIA_RTP_HEADER_MIN - MCX_MEDIA_TRAILER_BYTES)

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return *end == '\0' && port > 0 && port < 65536 && inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static int is_multicast(const struct sockaddr_in *sa)
{
    return IN_MULTICAST(ntohl(sa->sin_addr.s_addr));
}

static uint8_t cs_id_of(cli_ctx *ctx)
{
    return cli_has(ctx, "cs-id") ? (uint8_t)cli_u64(ctx, "cs-id") : MCX_CS_MCPTT_GROUP;
}

static int put_id(json_t *o, const char *key, uint32_t id)
{
    char h[9];
    snprintf(h, sizeof h, "%08X", (unsigned)id);
    return json_object_set_new(o, key, json_string(h)) != 0;
}

static int put_int(json_t *o, const char *key, int64_t v)
{
    return json_object_set_new(o, key, json_integer((json_int_t)v)) != 0;
}

static int put_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, v != NULL ? json_string(v) : json_null()) != 0;
}

/* ---- mcx group send ---- */

int group_run_send(cli_ctx *ctx)
{
    struct sockaddr_in to;
    if (!parse_addr(cli_str(ctx, "to"), &to))
        return cli_usage(ctx, "--to: '%s' is not IPv4-ADDR:PORT", cli_str(ctx, "to"));
    uint8_t cs_id = cs_id_of(ctx);
    if (cs_id != MCX_CS_MCPTT_GROUP && cs_id != MCX_CS_MCVIDEO_GROUP)
        return cli_usage(ctx, "--cs-id: 4 (MCPTT group) or 5 (MCVideo group)");
    uint64_t frame = cli_has(ctx, "frame") ? cli_u64(ctx, "frame") : 160;
    uint64_t pt = cli_has(ctx, "pt") ? cli_u64(ctx, "pt") : 0;
    uint64_t interval = cli_has(ctx, "interval-ms") ? cli_u64(ctx, "interval-ms") : 20;
    if (frame == 0 || frame > FRAME_MAX)
        return cli_usage(ctx, "--frame: 1..%d octets", FRAME_MAX);
    if (pt > 127)
        return cli_usage(ctx, "--pt: 0..127");
    if (interval > 10000)
        return cli_usage(ctx, "--interval-ms: at most 10000");
    if (cli_has(ctx, "ssrc") && cli_u64(ctx, "ssrc") > UINT32_MAX)
        return cli_usage(ctx, "--ssrc: a 32-bit value");
    const char *in = cli_str(ctx, "in");
    int fd = strcmp(in, "-") == 0 ? STDIN_FILENO : open(in, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(ctx, MCX_E_IO, "--in: %s: %s", in, strerror(errno));

    char kpath[4096];
    mcx_keystore *ks = NULL;
    int rc = cli_open_keystore(ctx, 0, kpath, sizeof kpath, &ks);
    if (rc != CLI_EXIT_OK) {
        if (fd != STDIN_FILENO)
            close(fd);
        return rc;
    }
    const char *group = cli_str(ctx, "group");
    const mcx_keystore_group_key *k = NULL;
    mcx_status s = mcx_keystore_group_key_latest(ks, group, MCX_GROUP_KEY_GMK, &k);
    mcx_media_sender *snd = NULL;
    const char *me = cli_has(ctx, "user") ? cli_str(ctx, "user") : k != NULL ? k->owner_uri : "";
    if (s == MCX_OK)
        s = mcx_media_sender_new_group(&snd, k->key, k->key_len, k->key_id, k->rand, k->rand_len,
                                       me, cs_id);
    uint32_t gmk_id = k != NULL ? k->key_id : 0, guk_id = 0;
    char sender[MCX_GROUP_ID_MAX];
    snprintf(sender, sizeof sender, "%s", me);
    if (s == MCX_OK)
        s = mcx_guk_id(k->key, k->key_len, k->key_id, sender, &guk_id);
    mcx_keystore_free(ks); /* the sender keeps only its derived session keys */
    if (s != MCX_OK) {
        if (fd != STDIN_FILENO)
            close(fd);
        mcx_media_sender_free(snd);
        return cli_fail(ctx, s, "group %s", group);
    }
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint8_t rnd[10];
    if (mcx_random(rnd, sizeof rnd) != MCX_OK) {
        if (fd != STDIN_FILENO)
            close(fd);
        mcx_media_sender_free(snd);
        return cli_fail(ctx, MCX_E_RANDOM, "random");
    }
    /* RFC 3550 §5.1: random initial sequence number and timestamp, random SSRC */
    ssrc = cli_has(ctx, "ssrc")
               ? (uint32_t)cli_u64(ctx, "ssrc")
               : (uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 | (uint32_t)rnd[2] << 8 | rnd[3];
    seq = (uint16_t)(rnd[4] << 8 | rnd[5]);
    ts = (uint32_t)rnd[6] << 24 | (uint32_t)rnd[7] << 16 | (uint32_t)rnd[8] << 8 | rnd[9];

    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int ok = sock >= 0;
    if (ok && is_multicast(&to)) {
        /* the group address on the loopback interface, looped back to local listeners */
        struct in_addr lo;
        lo.s_addr = htonl(INADDR_LOOPBACK);
        unsigned char ttl = 1, loop = 1;
        ok = setsockopt(sock, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo) == 0 &&
             setsockopt(sock, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) == 0 &&
             setsockopt(sock, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) == 0;
    }
    uint64_t packets = 0, octets = 0;
    uint8_t pkt[RTP_MAX];
    int err = ok ? 0 : errno;
    while (ok) {
        size_t got = 0;
        while (got < frame) {
            ssize_t r = read(fd, pkt + MCX_MEDIA_RTP_HEADER_MIN + got, (size_t)frame - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got == 0)
            break;
        pkt[0] = 0x80;                                      /* V=2, no padding, extension or CSRC */
        pkt[1] = (uint8_t)((packets == 0 ? 0x80 : 0) | pt); /* marker: first packet of a talk */
        pkt[2] = (uint8_t)(seq >> 8);
        pkt[3] = (uint8_t)seq;
        pkt[4] = (uint8_t)(ts >> 24);
        pkt[5] = (uint8_t)(ts >> 16);
        pkt[6] = (uint8_t)(ts >> 8);
        pkt[7] = (uint8_t)ts;
        pkt[8] = (uint8_t)(ssrc >> 24);
        pkt[9] = (uint8_t)(ssrc >> 16);
        pkt[10] = (uint8_t)(ssrc >> 8);
        pkt[11] = (uint8_t)ssrc;
        size_t n = 0;
        s = mcx_media_protect(snd, pkt, MCX_MEDIA_RTP_HEADER_MIN + got, sizeof pkt, &n);
        if (s != MCX_OK)
            break;
        if (sendto(sock, pkt, n, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)n) {
            ok = 0;
            err = errno;
            break;
        }
        packets++;
        octets += got;
        seq++;
        ts += (uint32_t)got; /* 8 kHz PCMU: one sample per octet */
        if (got < frame)
            break;
        if (interval > 0) {
            struct timespec d = {(time_t)(interval / 1000), (long)(interval % 1000) * 1000000L};
            while (nanosleep(&d, &d) != 0 && errno == EINTR)
                ;
        }
    }
    if (sock >= 0)
        close(sock);
    if (fd != STDIN_FILENO)
        close(fd);
    mcx_media_sender_free(snd);
    if (s != MCX_OK)
        return cli_fail(ctx, s, "protecting packet %llu", (unsigned long long)packets + 1);
    if (!ok)
        return cli_fail(ctx, MCX_E_IO, "sending to %s: %s", cli_str(ctx, "to"), strerror(err));
    json_t *o = cli_out_new();
    int bad = o == NULL || put_str(o, "group", group) || put_id(o, "gmk_id", gmk_id) ||
              put_id(o, "guk_id", guk_id) || put_str(o, "sender", sender) ||
              put_int(o, "ssrc", ssrc) || put_str(o, "to", cli_str(ctx, "to")) ||
              put_int(o, "packets", (int64_t)packets) || put_int(o, "octets", (int64_t)octets);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- mcx group listen ---- */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Offset of the RTP payload (RFC 3550 §5.1, §5.3.1), or 0 when the header does not fit. */
static size_t rtp_payload_at(const uint8_t *p, size_t n)
{
    if (n < MCX_MEDIA_RTP_HEADER_MIN)
        return 0;
    size_t off = MCX_MEDIA_RTP_HEADER_MIN + 4u * (p[0] & 0x0f);
    if ((p[0] & 0x10) != 0) {
        if (n < off + 4)
            return 0;
        off += 4 + 4u * ((size_t)p[off + 2] << 8 | p[off + 3]);
    }
    return off <= n ? off : 0;
}

static json_t *rejects_json(const mcx_media_rejects *r)
{
    json_t *o = json_object();
    if (o == NULL || put_int(o, "truncated", (int64_t)r->truncated) ||
        put_int(o, "unknown_key", (int64_t)r->unknown_key) ||
        put_int(o, "unknown_sender", (int64_t)r->unknown_sender) ||
        put_int(o, "tag", (int64_t)r->tag) || put_int(o, "replay", (int64_t)r->replay) ||
        put_int(o, "other", (int64_t)r->other)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int group_run_listen(cli_ctx *ctx)
{
    struct sockaddr_in on;
    if (!parse_addr(cli_str(ctx, "on"), &on))
        return cli_usage(ctx, "--on: '%s' is not IPv4-ADDR:PORT", cli_str(ctx, "on"));
    uint8_t cs_id = cs_id_of(ctx);
    if (cs_id != MCX_CS_MCPTT_GROUP && cs_id != MCX_CS_MCVIDEO_GROUP)
        return cli_usage(ctx, "--cs-id: 4 (MCPTT group) or 5 (MCVideo group)");
    uint64_t count = cli_u64(ctx, "count");
    uint64_t timeout = cli_has(ctx, "timeout") ? cli_u64(ctx, "timeout") : 10;
    if (timeout > 86400)
        return cli_usage(ctx, "--timeout: at most 86400 s");
    const char *group = cli_str(ctx, "group");

    char kpath[4096];
    mcx_keystore *ks = NULL;
    int rc = cli_open_keystore(ctx, 0, kpath, sizeof kpath, &ks);
    if (rc != CLI_EXIT_OK)
        return rc;
    const mcx_keystore_group_info *gi = NULL;
    size_t n_members = 0;
    const char *const *members = NULL;
    if (mcx_keystore_group_info_find(ks, group, &gi) == MCX_OK) {
        n_members = gi->n_members;
        members = (const char *const *)gi->members;
    }
    mcx_media_receiver *rx = NULL;
    mcx_status s = mcx_media_receiver_new(&rx, NULL);
    size_t n_keys = 0;
    for (size_t i = 0; s == MCX_OK && i < mcx_keystore_group_key_count(ks); i++) {
        const mcx_keystore_group_key *k = NULL;
        if (mcx_keystore_group_key_at(ks, i, &k) != MCX_OK || k->kind != MCX_GROUP_KEY_GMK ||
            k->revoked || strcmp(k->group_id, group) != 0)
            continue; /* a revoked GMK protects nothing any more */
        s = mcx_media_receiver_add_group_key(rx, k->key, k->key_len, k->key_id, k->rand,
                                             k->rand_len, cs_id, members, n_members);
        n_keys++;
    }
    mcx_keystore_free(ks);
    if (s == MCX_OK && n_keys == 0) {
        mcx_media_receiver_free(rx);
        return cli_reject(ctx, "no GMK held for group '%.200s' (mcx group fetch)", group);
    }
    if (s != MCX_OK) {
        mcx_media_receiver_free(rx);
        return cli_fail(ctx, s, "group %s", group);
    }

    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
    int ok = sock >= 0 && setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
             bind(sock, (struct sockaddr *)&on, sizeof on) == 0;
    if (ok && is_multicast(&on)) {
        struct ip_mreq mr;
        mr.imr_multiaddr = on.sin_addr;
        mr.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
        ok = setsockopt(sock, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) == 0;
    }
    if (!ok) {
        int e = errno;
        if (sock >= 0)
            close(sock);
        mcx_media_receiver_free(rx);
        return cli_fail(ctx, MCX_E_IO, "--on %s: %s", cli_str(ctx, "on"), strerror(e));
    }
    FILE *out = NULL;
    if (cli_has(ctx, "out") && (out = fopen(cli_str(ctx, "out"), "wb")) == NULL) {
        int e = errno;
        close(sock);
        mcx_media_receiver_free(rx);
        return cli_fail(ctx, MCX_E_IO, "--out %s: %s", cli_str(ctx, "out"), strerror(e));
    }
    int64_t end = now_ms() + (int64_t)timeout * 1000;
    uint64_t delivered = 0;
    uint8_t buf[2048], plain[2048];
    while (count == 0 || delivered < count) {
        int64_t left = end - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {sock, POLLIN, 0};
        int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        ssize_t n = recv(sock, buf, sizeof buf, 0);
        if (n <= 0)
            continue;
        size_t pl = 0;
        mcx_media_rx_info info;
        if (mcx_media_unprotect(rx, buf, (size_t)n, plain, sizeof plain, &pl, NULL, &info) !=
            MCX_OK)
            continue; /* counted by the receiver, by reason */
        delivered++;
        size_t at = rtp_payload_at(plain, pl);
        if (out != NULL && at > 0 && fwrite(plain + at, 1, pl - at, out) != pl - at)
            break;
    }
    close(sock);
    int out_failed = out != NULL && fclose(out) != 0;
    mcx_media_stats st;
    mcx_media_receiver_stats(rx, &st);
    json_t *o = cli_out_new(), *senders = json_array();
    int bad = o == NULL || senders == NULL;
    for (size_t i = 0; !bad && i < mcx_media_receiver_senders(rx); i++) {
        mcx_media_rx_info info;
        mcx_media_stats ss;
        json_t *e = json_object();
        bad |= e == NULL || mcx_media_receiver_sender(rx, i, &info, &ss) != MCX_OK;
        if (bad) {
            json_decref(e);
            break;
        }
        bad |= put_str(e, "sender", info.sender_uri) || put_id(e, "gmk_id", info.key_id) ||
               put_id(e, "guk_id", info.csb_id) || put_int(e, "ssrc", info.ssrc) ||
               put_int(e, "packets", (int64_t)ss.packets) ||
               put_int(e, "octets", (int64_t)ss.octets) ||
               put_int(e, "tag", (int64_t)ss.rejected.tag) ||
               put_int(e, "replay", (int64_t)ss.rejected.replay);
        bad |= json_array_append_new(senders, e) != 0;
    }
    json_t *rej = bad ? NULL : rejects_json(&st.rejected);
    if (!bad)
        bad |= rej == NULL || json_object_set_new(o, "rejected", rej) != 0 ||
               put_str(o, "group", group) || put_int(o, "keys", (int64_t)n_keys) ||
               put_int(o, "members", (int64_t)n_members) ||
               put_int(o, "packets", (int64_t)st.packets) ||
               put_int(o, "octets", (int64_t)st.octets) ||
               json_object_set(o, "senders", senders) != 0;
    json_decref(senders);
    mcx_media_receiver_free(rx);
    if (out_failed) {
        json_decref(o);
        return cli_fail(ctx, MCX_E_IO, "--out: writing failed");
    }
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    int code = cli_emit(ctx, o);
    if (code == CLI_EXIT_OK && delivered == 0)
        return cli_reject(ctx, "nothing decrypted in %llu s", (unsigned long long)timeout);
    return code;
}
