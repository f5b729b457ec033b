/* Tests of the MIKEY transport encodings: base64 (RFC 4648 §10 vectors, round trips, strictness),
 * the SDP key-mgmt attribute (every Streamwide I_MESSAGE line, a SIP offer with session- and
 * media-level attributes) and application/mikey MIME bodies (single parts, multipart/mixed with
 * preamble, other parts, nesting), each with its rejections. */
#include "test.h"
#include "vecfile.h"

#include "mcxsec/mikey_transport.h"

#define ERR_HAS(s) CHECK(strstr(mcx_last_error(), (s)) != NULL)

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* Reproducible pseudo-random octets (xorshift64*), so a failure can be replayed. */
static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        p[i] = (uint8_t)((rng_state * 0x2545f4914f6cdd1du) >> 56);
    }
}

/* A random "MIKEY message": the SAKKE I_MESSAGE header octets, then noise. */
static void fake_mikey(uint8_t *p, size_t n)
{
    fill(p, n);
    if (n >= 2) {
        p[0] = 0x01;
        p[1] = 0x1a;
    }
}

/* ---- base64 ---- */

static void base64_rfc4648_vectors(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char text[16];
        uint8_t back[8];
        size_t n = 99, m = 99;
        CHECK_OK(
            mcx_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), text, sizeof text, &n));
        CHECK(n == strlen(enc[i]) && strcmp(text, enc[i]) == 0);
        CHECK_OK(mcx_base64_decode(enc[i], strlen(enc[i]), back, sizeof back, &m));
        CHECK(m == strlen(plain[i]) && memcmp(back, plain[i], m) == 0);
    }
}

static void base64_round_trip(void)
{
    uint8_t msg[300], back[300];
    char text[MCX_BASE64_ENCODED_LEN(300) + 1];
    for (size_t len = 0; len <= 300; len++) {
        size_t n = 0, m = 0;
        fill(msg, len);
        CHECK_OK(mcx_base64_encode(msg, len, text, sizeof text, &n));
        CHECK(n == MCX_BASE64_ENCODED_LEN(len) && text[n] == '\0');
        CHECK(MCX_BASE64_DECODED_MAX(n) >= len);
        CHECK_OK(mcx_base64_decode(text, n, back, sizeof back, &m));
        CHECK(m == len);
        CHECK_MEM(back, msg, len);
        /* the exact size fits, one octet less is refused and says what is needed */
        if (len > 0) {
            CHECK_OK(mcx_base64_decode(text, n, back, len, &m));
            CHECK_ST(mcx_base64_decode(text, n, back, len - 1, &m), MCX_E_LENGTH);
            CHECK(m == len);
        }
    }
}

static void base64_rejects(void)
{
    uint8_t out[16];
    char text[8];
    size_t n = 0;
    /* a character outside the alphabet, by position */
    CHECK_ST(mcx_base64_decode("Zm!v", 4, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("character 3 ('!') is not in the base64 alphabet");
    CHECK_ST(mcx_base64_decode("Zm9v\n", 5, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("character 5 (0x0a)");
    CHECK_ST(mcx_base64_decode("Zm9vYmF-", 8, out, sizeof out, &n), MCX_E_ENCODING); /* url-safe */
    CHECK_ST(mcx_base64_decode("Zm\0v", 4, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("character 3 (0x00)");
    /* padding */
    CHECK_ST(mcx_base64_decode("Zg=", 3, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("not a multiple of 4");
    CHECK_ST(mcx_base64_decode("Zg", 2, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("not a multiple of 4");
    CHECK_ST(mcx_base64_decode("Z===", 4, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("'=' at character 2 is not padding");
    CHECK_ST(mcx_base64_decode("====", 4, out, sizeof out, &n), MCX_E_ENCODING);
    CHECK_ST(mcx_base64_decode("Zg=a", 4, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("character 4 ('a') follows the padding");
    CHECK_ST(mcx_base64_decode("Zg==Zm9v", 8, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("follows the padding");
    /* non-zero unused bits: "Zh==" and "Zm9=" are not canonical */
    CHECK_ST(mcx_base64_decode("Zh==", 4, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("character 2 ('h') has non-zero unused bits");
    CHECK_ST(mcx_base64_decode("Zm9=", 4, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("non-zero unused bits");
    /* output buffer too small: the size needed is reported */
    CHECK_ST(mcx_base64_decode("Zm9vYmFy", 8, out, 5, &n), MCX_E_LENGTH);
    CHECK(n == 6);
    ERR_HAS("too small (6 needed)");
    CHECK_ST(mcx_base64_encode((const uint8_t *)"foo", 3, text, 4, &n), MCX_E_LENGTH);
    CHECK(n == 4);
    CHECK_ST(mcx_base64_encode((const uint8_t *)"foo", 3, NULL, 0, &n), MCX_E_LENGTH);
    CHECK(n == 4);
    /* NULL arguments */
    CHECK_ST(mcx_base64_decode(NULL, 4, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_base64_decode("Zm9v", 4, NULL, 4, &n), MCX_E_ARG);
    CHECK_ST(mcx_base64_decode("Zm9v", 4, out, sizeof out, NULL), MCX_E_ARG);
    CHECK_ST(mcx_base64_encode(NULL, 3, text, sizeof text, &n), MCX_E_ARG);
    CHECK_ST(mcx_base64_encode((const uint8_t *)"foo", 3, text, sizeof text, NULL), MCX_E_ARG);
    ERR_HAS("NULL argument");
}

/* ---- SDP key-mgmt ---- */

/* Every i_message line of the Streamwide vectors decodes to an I_MESSAGE (01 1a ...) equal to
 * the independently computed hex, and formats back to the same text. */
static void sdp_streamwide_vectors(void)
{
    vec_file *f = vec_load(MCX_VECTOR_DIR "/streamwide_imessages.txt");
    unsigned lines = 0, compared = 0;
    for (size_t i = 0; i < f->n_sections; i++) {
        const vec_section *s = &f->sections[i];
        const char *v = vec_get(s, "i_message");
        if (v == NULL)
            continue;
        lines++;
        uint8_t msg[2048], want[2048];
        size_t n = 0;
        mcx_status st = mcx_sdp_keymgmt_parse(v, strlen(v), msg, sizeof msg, &n);
        if (st != MCX_OK) {
            fprintf(stderr, "[%s] %s\n", s->name, mcx_last_error());
            CHECK(st == MCX_OK);
            continue;
        }
        CHECK(n > 2 && msg[0] == 0x01 && msg[1] == 0x1a);
        if (vec_get(s, "computed_i_message_hex") != NULL) {
            size_t wn = vec_hex(s, "computed_i_message_hex", want, sizeof want);
            CHECK(wn == n);
            CHECK_MEM(msg, want, wn < n ? wn : n);
            compared++;
        }
        /* the same text comes back, as a whole attribute line */
        char line[MCX_SDP_KEYMGMT_MAX(2048)];
        size_t ln = 0;
        CHECK_OK(mcx_sdp_keymgmt_format(msg, n, 0, line, sizeof line, &ln));
        CHECK(strncmp(line, "a=key-mgmt:", 11) == 0 && strcmp(line + 11, v) == 0);
        size_t n2 = 0;
        CHECK_OK(mcx_sdp_keymgmt_parse(line, ln, want, sizeof want, &n2));
        CHECK(n2 == n);
        CHECK_MEM(want, msg, n);
    }
    CHECK(lines == 7);
    CHECK(compared == 7);
    vec_free(f);
}

static void sdp_round_trip(void)
{
    uint8_t msg[800], back[800];
    char line[MCX_SDP_KEYMGMT_MAX(800)];
    for (size_t len = 1; len <= 800; len += 37) {
        size_t n = 0, m = 0;
        fake_mikey(msg, len);
        CHECK_OK(mcx_sdp_keymgmt_format(msg, len, MCX_SDP_CRLF, line, sizeof line, &n));
        CHECK(n == strlen(line) && n == 17 + MCX_BASE64_ENCODED_LEN(len) + 2);
        CHECK(strncmp(line, "a=key-mgmt:mikey ", 17) == 0 && strcmp(line + n - 2, "\r\n") == 0);
        CHECK_OK(mcx_sdp_keymgmt_parse(line, n, back, sizeof back, &m));
        CHECK(m == len);
        CHECK_MEM(back, msg, len);
        /* the attribute value alone, with an LF end, a tab and trailing blanks */
        CHECK_OK(mcx_sdp_keymgmt_format(msg, len, 0, line, sizeof line, &n));
        char value[MCX_SDP_KEYMGMT_MAX(800) + 8];
        snprintf(value, sizeof value, "MIKEY\t%s \n", line + 17);
        CHECK_OK(mcx_sdp_keymgmt_parse(value, strlen(value), back, sizeof back, &m));
        CHECK(m == len);
        CHECK_MEM(back, msg, len);
    }
}

static void sdp_attribute_rejects(void)
{
    uint8_t out[64] = {0x01, 0x1a, 0x05};
    char line[64];
    size_t n = 0;
    CHECK_ST(mcx_sdp_keymgmt_parse("foo ARoF", 8, out, sizeof out, &n), MCX_E_UNSUPPORTED);
    ERR_HAS("SDP: key-mgmt: unknown protocol id \"foo\"");
    CHECK_ST(mcx_sdp_keymgmt_parse("a=key-mgmt:kerberos AAAA", 24, out, sizeof out, &n),
             MCX_E_UNSUPPORTED);
    ERR_HAS("\"kerberos\"");
    /* attribute without data */
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey", 5, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("mikey attribute has no key management data");
    CHECK_ST(mcx_sdp_keymgmt_parse("a=key-mgmt:mikey  \r\n", 20, out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("no key management data");
    CHECK_ST(mcx_sdp_keymgmt_parse("a=key-mgmt:", 11, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("no protocol id");
    CHECK_ST(mcx_sdp_keymgmt_parse("", 0, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("empty attribute");
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey AAAA\r\nmikey AAAA", 22, out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("more than one line");
    /* bad base64, named by its column in what was given */
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey AR!F", 10, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("SDP: key-mgmt: base64: character 9 ('!')");
    CHECK_ST(mcx_sdp_keymgmt_parse("a=key-mgmt:mikey AR!F", 21, out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("character 20 ('!')");
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey ARo", 9, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("not a multiple of 4");
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey A===", 10, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("is not padding");
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey AR==", 10, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("non-zero unused bits");
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey AR o=", 11, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("character 9 (0x20)");
    /* output buffer too small */
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey ARoFAQ==", 14, out, 3, &n), MCX_E_LENGTH);
    CHECK(n == 4);
    CHECK_ST(mcx_sdp_keymgmt_format(out, 3, 0, line, 21, &n), MCX_E_LENGTH);
    CHECK(n == 21);
    CHECK_OK(mcx_sdp_keymgmt_format(out, 3, 0, line, 22, &n));
    /* empty message, NULL arguments, unknown flag */
    CHECK_ST(mcx_sdp_keymgmt_format(out, 0, 0, line, sizeof line, &n), MCX_E_ARG);
    ERR_HAS("empty MIKEY message");
    CHECK_ST(mcx_sdp_keymgmt_format(out, 3, 4, line, sizeof line, &n), MCX_E_ARG);
    CHECK_ST(mcx_sdp_keymgmt_format(NULL, 3, 0, line, sizeof line, &n), MCX_E_ARG);
    CHECK_ST(mcx_sdp_keymgmt_parse(NULL, 4, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_sdp_keymgmt_parse("mikey AAAA", 10, out, sizeof out, NULL), MCX_E_ARG);
    CHECK_ST(mcx_sdp_keymgmt_find(NULL, 4, MCX_SDP_ANY, out, sizeof out, &n, NULL), MCX_E_ARG);
    CHECK_ST(mcx_sdp_keymgmt_find("v=0", 3, -3, out, sizeof out, &n, NULL), MCX_E_ARG);
}

/* Append one line (with CRLF or LF) to an SDP body. */
static void sdp_add(char *sdp, size_t cap, const char *line, int lf_only)
{
    size_t n = strlen(sdp);
    snprintf(sdp + n, cap - n, "%s%s", line, lf_only ? "\n" : "\r\n");
}

/* An MCPTT private call offer (TS 24.379): a session-level key-mgmt for another protocol and one
 * for MIKEY, an audio stream with its own MIKEY attribute, the floor-control application stream
 * without one, and a video stream whose attribute is written in capitals. */
static size_t build_offer(char *sdp, size_t cap, const uint8_t *a, size_t an, const uint8_t *b,
                          size_t bn, const uint8_t *c, size_t cn, int lf_only)
{
    char line[MCX_SDP_KEYMGMT_MAX(1024)];
    size_t n;
    sdp[0] = '\0';
    sdp_add(sdp, cap, "v=0", lf_only);
    sdp_add(sdp, cap, "o=alice 2890844526 2890844526 IN IP4 198.51.100.1", lf_only);
    sdp_add(sdp, cap, "s=-", lf_only);
    sdp_add(sdp, cap, "c=IN IP4 198.51.100.1", lf_only);
    sdp_add(sdp, cap, "t=0 0", lf_only);
    sdp_add(sdp, cap, "a=key-mgmt:kerberos YWJjZA==", lf_only); /* line 6: skipped */
    if (mcx_sdp_keymgmt_format(a, an, 0, line, sizeof line, &n) != MCX_OK)
        return 0;
    sdp_add(sdp, cap, line, lf_only); /* line 7 */
    sdp_add(sdp, cap, "m=audio 49170 RTP/SAVP 96", lf_only);
    sdp_add(sdp, cap, "a=rtpmap:96 AMR-WB/16000", lf_only);
    if (mcx_sdp_keymgmt_format(b, bn, 0, line, sizeof line, &n) != MCX_OK)
        return 0;
    sdp_add(sdp, cap, line, lf_only); /* line 10 */
    sdp_add(sdp, cap, "m=application 49172 udp MCPTT", lf_only);
    sdp_add(sdp, cap, "a=fmtp:MCPTT mc_queueing;mc_priority=5", lf_only);
    sdp_add(sdp, cap, "m=video 49174 RTP/SAVP 97", lf_only);
    if (mcx_sdp_keymgmt_format(c, cn, 0, line, sizeof line, &n) != MCX_OK)
        return 0;
    memcpy(line, "a=KEY-MGMT:MIKEY", 16);
    sdp_add(sdp, cap, line, lf_only); /* line 14 */
    return strlen(sdp);
}

static void sdp_offer_levels(void)
{
    uint8_t a[701], b[650], c[40], out[1024];
    char sdp[8192];
    fake_mikey(a, sizeof a);
    fake_mikey(b, sizeof b);
    fake_mikey(c, sizeof c);
    for (int lf_only = 0; lf_only <= 1; lf_only++) {
        size_t len = build_offer(sdp, sizeof sdp, a, sizeof a, b, sizeof b, c, sizeof c, lf_only);
        size_t n = 0;
        unsigned line = 0;
        CHECK(len > 0);
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, len, MCX_SDP_ANY, out, sizeof out, &n, &line));
        CHECK(n == sizeof a && line == 7);
        CHECK_MEM(out, a, sizeof a);
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, len, MCX_SDP_SESSION, out, sizeof out, &n, &line));
        CHECK(n == sizeof a && line == 7);
        /* the audio stream's own attribute overrides the session-level one */
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, len, 0, out, sizeof out, &n, &line));
        CHECK(n == sizeof b && line == 10);
        CHECK_MEM(out, b, sizeof b);
        /* the floor-control stream has none: the session-level one applies */
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, len, 1, out, sizeof out, &n, &line));
        CHECK(n == sizeof a && line == 7);
        CHECK_MEM(out, a, sizeof a);
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, len, 2, out, sizeof out, &n, NULL)); /* line optional */
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, len, 2, out, sizeof out, &n, &line));
        CHECK(n == sizeof c && line == 14);
        CHECK_MEM(out, c, sizeof c);
        CHECK_ST(mcx_sdp_keymgmt_find(sdp, len, 3, out, sizeof out, &n, &line), MCX_E_NO_KEY);
        ERR_HAS("no m= section 3 (the body has 3)");
        /* buffer too small: the size is reported */
        CHECK_ST(mcx_sdp_keymgmt_find(sdp, len, 0, out, 100, &n, &line), MCX_E_LENGTH);
        CHECK(n == sizeof b);
        ERR_HAS("SDP: key-mgmt line 10");
    }
}

static void sdp_body_rejects(void)
{
    uint8_t out[64];
    size_t n = 0;
    unsigned line = 0;
    /* no MIKEY at all: only another protocol, or nothing */
    static const char other[] = "v=0\r\ns=-\r\na=key-mgmt:kerberos YWJj\r\nm=audio 9 RTP/AVP 0\r\n";
    CHECK_ST(mcx_sdp_keymgmt_find(other, strlen(other), MCX_SDP_ANY, out, sizeof out, &n, &line),
             MCX_E_NO_KEY);
    ERR_HAS("no a=key-mgmt:mikey attribute");
    CHECK_ST(mcx_sdp_keymgmt_find(other, strlen(other), 0, out, sizeof out, &n, &line),
             MCX_E_NO_KEY);
    ERR_HAS("for m= section 0");
    CHECK_ST(mcx_sdp_keymgmt_find("", 0, MCX_SDP_SESSION, out, sizeof out, &n, &line),
             MCX_E_NO_KEY);
    /* media level only: no session-level one */
    static const char media_only[] = "v=0\r\nm=audio 9 RTP/SAVP 0\r\na=key-mgmt:mikey AQ==\r\n";
    CHECK_ST(mcx_sdp_keymgmt_find(media_only, strlen(media_only), MCX_SDP_SESSION, out, sizeof out,
                                  &n, &line),
             MCX_E_NO_KEY);
    ERR_HAS("no session-level");
    CHECK_OK(mcx_sdp_keymgmt_find(media_only, strlen(media_only), MCX_SDP_ANY, out, sizeof out, &n,
                                  &line));
    CHECK(n == 1 && out[0] == 1 && line == 3);
    /* a malformed mikey attribute is an error naming its line, even where it is not used */
    static const char bad[] = "v=0\r\na=key-mgmt:mikey AQ==\r\nm=audio 9 RTP/SAVP 0\r\n"
                              "a=key-mgmt:mikey AQ*=\r\n";
    CHECK_ST(mcx_sdp_keymgmt_find(bad, strlen(bad), MCX_SDP_SESSION, out, sizeof out, &n, &line),
             MCX_E_ENCODING);
    ERR_HAS("SDP: key-mgmt line 4: character 20 ('*')");
    static const char nodata[] = "v=0\na=key-mgmt:mikey\nm=audio 9 RTP/SAVP 0\n";
    CHECK_ST(mcx_sdp_keymgmt_find(nodata, strlen(nodata), MCX_SDP_ANY, out, sizeof out, &n, &line),
             MCX_E_ENCODING);
    ERR_HAS("SDP: key-mgmt line 2: mikey attribute has no key management data");
    static const char noid[] = "v=0\r\na=key-mgmt: mikey AQ==\r\n";
    CHECK_ST(mcx_sdp_keymgmt_find(noid, strlen(noid), MCX_SDP_ANY, out, sizeof out, &n, &line),
             MCX_E_ENCODING);
    ERR_HAS("line 2: no protocol id");
    /* too long a body */
    CHECK_ST(mcx_sdp_keymgmt_find(bad, MCX_TRANSPORT_BODY_MAX + 1, MCX_SDP_ANY, out, sizeof out, &n,
                                  &line),
             MCX_E_LENGTH);
}

/* The SDP of a Streamwide vector, as a SIP offer would carry it. */
static void sdp_streamwide_in_offer(void)
{
    vec_file *f = vec_load(MCX_VECTOR_DIR "/streamwide_imessages.txt");
    const vec_section *s = vec_section_named(f, "imsg-sw-official-v5-test3");
    CHECK(s != NULL);
    if (s != NULL) {
        char sdp[4096];
        uint8_t want[1024], out[1024];
        size_t wn = vec_hex(s, "computed_i_message_hex", want, sizeof want), n = 0;
        snprintf(sdp, sizeof sdp,
                 "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nt=0 0\r\n"
                 "m=audio 5004 RTP/SAVP 96\r\nc=IN IP4 192.0.2.7\r\na=key-mgmt:%s\r\n",
                 vec_get(s, "i_message"));
        CHECK_OK(mcx_sdp_keymgmt_find(sdp, strlen(sdp), 0, out, sizeof out, &n, NULL));
        CHECK(n == wn);
        CHECK_MEM(out, want, wn);
    }
    vec_free(f);
}

/* ---- MIME ---- */

static void mime_format_round_trip(void)
{
    uint8_t msg[1000], back[1000], part[MCX_MIME_MIKEY_MAX(1000)];
    for (size_t len = 1; len <= 1000; len += 111) {
        size_t n = 0, m = 0;
        fake_mikey(msg, len);
        CHECK_OK(mcx_mime_mikey_format(msg, len, MCX_MIME_BINARY, part, sizeof part, &n));
        CHECK(n == 35 + len);
        CHECK(memcmp(part, "Content-Type: application/mikey\r\n\r\n", 35) == 0);
        CHECK_OK(mcx_mime_mikey_parse(NULL, part, n, back, sizeof back, &m));
        CHECK(m == len);
        CHECK_MEM(back, msg, len);
        /* the bare message with the Content-Type given separately */
        CHECK_OK(mcx_mime_mikey_parse("application/mikey", msg, len, back, sizeof back, &m));
        CHECK(m == len);
        CHECK_MEM(back, msg, len);

        CHECK_OK(mcx_mime_mikey_format(msg, len, MCX_MIME_BASE64, part, sizeof part, &n));
        CHECK(n <= MCX_MIME_MIKEY_MAX(len));
        CHECK(memcmp(part,
                     "Content-Type: application/mikey\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                     70) == 0);
        /* lines of at most 76 characters, joined by CRLF, no line end after the last */
        size_t col = 0, longest = 0;
        for (size_t i = 70; i < n; i++) {
            if (part[i] == '\r') {
                CHECK(i + 1 < n && part[i + 1] == '\n');
                i++;
                col = 0;
                continue;
            }
            col++;
            longest = col > longest ? col : longest;
        }
        CHECK(longest <= 76 && part[n - 1] != '\n');
        CHECK_OK(mcx_mime_mikey_parse(NULL, part, n, back, sizeof back, &m));
        CHECK(m == len);
        CHECK_MEM(back, msg, len);
    }
}

/* A binary MIKEY body that looks like trouble: line breaks, "--" and the boundary followed by
 * other text inside, white space at the end. */
static size_t awkward_mikey(uint8_t *p, size_t cap)
{
    static const char inner[] = "\r\n--bnd1X not a delimiter\r\n--\n-- bnd1\r\n";
    size_t n = 0;
    fake_mikey(p, 300);
    n = 300;
    memcpy(p + n, inner, sizeof inner - 1);
    n += sizeof inner - 1;
    fill(p + n, 100);
    n += 100;
    memcpy(p + n, " \r\n\t ", 5);
    n += 5;
    return n <= cap ? n : 0;
}

static size_t put(uint8_t *buf, size_t cap, size_t at, const void *p, size_t n)
{
    if (at + n > cap)
        return cap + 1;
    memcpy(buf + at, p, n);
    return at + n;
}

static size_t puts_(uint8_t *buf, size_t cap, size_t at, const char *s)
{
    return put(buf, cap, at, s, strlen(s));
}

/* A SIP MESSAGE-like multipart body: preamble, application/sdp, the MCPTT info XML, the MIKEY
 * part, a second MIKEY part (ignored: the first wins), epilogue. */
static size_t build_multipart(uint8_t *buf, size_t cap, const uint8_t *mikey, size_t mn,
                              const char *eol)
{
    char line[256];
    size_t at = 0;
    snprintf(line, sizeof line, "This is a multi-part message in MIME format.%s%s", eol, eol);
    at = puts_(buf, cap, at, line);
    snprintf(line, sizeof line, "--bnd1%sContent-Type: application/sdp%s%s", eol, eol, eol);
    at = puts_(buf, cap, at, line);
    snprintf(line, sizeof line, "v=0%ss=-%sa=key-mgmt:mikey AQ==%s", eol, eol, eol);
    at = puts_(buf, cap, at, line);
    snprintf(line, sizeof line,
             "%s--bnd1 %scontent-TYPE: application/vnd.3gpp.mcptt-info+xml%sContent-ID: <x>%s%s",
             eol, eol, eol, eol, eol);
    at = puts_(buf, cap, at, line);
    at = puts_(buf, cap, at, "<?xml version=\"1.0\"?><mcpttinfo/>");
    snprintf(line, sizeof line,
             "%s--bnd1%sContent-Type: Application/MIKEY; version=1%s"
             "Content-Transfer-Encoding: binary%s%s",
             eol, eol, eol, eol, eol);
    at = puts_(buf, cap, at, line);
    at = put(buf, cap, at, mikey, mn);
    snprintf(line, sizeof line, "%s--bnd1%sContent-Type: application/mikey%s%sAAAA%s--bnd1--%s",
             eol, eol, eol, eol, eol, eol);
    at = puts_(buf, cap, at, line);
    at = puts_(buf, cap, at, "epilogue, ignored");
    return at;
}

static void mime_multipart(void)
{
    uint8_t mikey[512], body[2048], out[512];
    size_t mn = awkward_mikey(mikey, sizeof mikey);
    static const char *const eols[] = {"\r\n", "\n"};
    static const char *const types[] = {"multipart/mixed;boundary=bnd1",
                                        "Multipart/Mixed; BOUNDARY=\"bnd1\"",
                                        "multipart/mixed ;\r\n boundary = \"bn\\d1\" ; x=y;"};
    CHECK(mn > 0);
    for (int e = 0; e < 2; e++) {
        size_t len = build_multipart(body, sizeof body, mikey, mn, eols[e]);
        CHECK(len <= sizeof body);
        for (int t = 0; t < 3; t++) {
            size_t n = 0;
            CHECK_OK(mcx_mime_mikey_parse(types[t], body, len, out, sizeof out, &n));
            CHECK(n == mn);
            CHECK_MEM(out, mikey, mn);
        }
    }
    /* the same body as an entity with its own (folded) headers */
    uint8_t entity[2300];
    size_t at =
        puts_(entity, sizeof entity, 0,
              "Content-Type: multipart/mixed;\r\n\tboundary=bnd1\r\nMIME-Version: 1.0\r\n\r\n");
    size_t len = build_multipart(body, sizeof body, mikey, mn, "\r\n");
    at = put(entity, sizeof entity, at, body, len);
    size_t n = 0;
    CHECK(at <= sizeof entity);
    CHECK_OK(mcx_mime_mikey_parse(NULL, entity, at, out, sizeof out, &n));
    CHECK(n == mn);
    CHECK_MEM(out, mikey, mn);
}

static void mime_base64_part_and_nesting(void)
{
    uint8_t msg[200], part[MCX_MIME_MIKEY_MAX(200)], body[1024], out[256];
    size_t pn = 0, n = 0, at = 0;
    fake_mikey(msg, sizeof msg);
    CHECK_OK(mcx_mime_mikey_format(msg, sizeof msg, MCX_MIME_BASE64, part, sizeof part, &pn));
    /* multipart/mixed holding a multipart/alternative holding the base64 part */
    at = puts_(body, sizeof body, at,
               "--outer\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
               "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
               "--inner\r\n");
    at = put(body, sizeof body, at, part, pn);
    at = puts_(body, sizeof body, at, "\r\n--inner--\r\n--outer--\r\n");
    CHECK(at <= sizeof body);
    CHECK_OK(
        mcx_mime_mikey_parse("multipart/mixed; boundary=outer", body, at, out, sizeof out, &n));
    CHECK(n == sizeof msg);
    CHECK_MEM(out, msg, sizeof msg);
    /* base64 with odd line lengths and a folded Content-Type; case of the encoding name */
    char b64[300];
    size_t bn = 0;
    CHECK_OK(mcx_base64_encode(msg, sizeof msg, b64, sizeof b64, &bn));
    at =
        puts_(body, sizeof body, 0,
              "Content-Type:\r\n application/mikey\r\ncontent-transfer-encoding:  BASE64 \r\n\r\n");
    for (size_t i = 0; i < bn; i += 50) {
        at = put(body, sizeof body, at, b64 + i, bn - i < 50 ? bn - i : 50);
        at = puts_(body, sizeof body, at, "\r\n");
    }
    CHECK_OK(mcx_mime_mikey_parse(NULL, body, at, out, sizeof out, &n));
    CHECK(n == sizeof msg);
    CHECK_MEM(out, msg, sizeof msg);
}

static void mime_rejects(void)
{
    uint8_t out[64], part[128], body[512];
    size_t n = 0, at;
    static const uint8_t m3[] = {1, 0x1a, 5};
    static const char good[] =
        "--b\r\nContent-Type: application/mikey\r\n\r\n\x01\x1a\x05\r\n--b--\r\n";
    CHECK_OK(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)good, strlen(good),
                                  out, sizeof out, &n));
    CHECK(n == 3 && memcmp(out, m3, 3) == 0);
    /* missing boundary parameter; boundary that does not occur; a bad boundary */
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed", (const uint8_t *)good, strlen(good), out,
                                  sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("multipart/mixed without a boundary parameter");
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed; boundary=zz", (const uint8_t *)good,
                                  strlen(good), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("boundary \"zz\" does not occur");
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed; boundary=\"a\x01\"", (const uint8_t *)good,
                                  strlen(good), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("is not 1 to 70 boundary characters");
    char longb[128];
    snprintf(longb, sizeof longb, "multipart/mixed; boundary=%071d", 7);
    CHECK_ST(mcx_mime_mikey_parse(longb, (const uint8_t *)good, strlen(good), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("is not 1 to 70");
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed; boundary=\"b", (const uint8_t *)good,
                                  strlen(good), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("unterminated quoted string");
    CHECK_ST(mcx_mime_mikey_parse("application", (const uint8_t *)good, strlen(good), out,
                                  sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("is not type/subtype");
    /* truncated: the close delimiter is missing, or the body stops inside the MIKEY part */
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)good,
                                  strlen(good) - 7, out, sizeof out, &n),
             MCX_E_LENGTH);
    ERR_HAS("cut short: no close delimiter \"--b--\" after part 1");
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)good, 42, out,
                                  sizeof out, &n),
             MCX_E_LENGTH);
    ERR_HAS("cut short");
    /* a part whose headers are not ended by an empty line */
    static const char nohdrend[] = "--b\r\nContent-Type: application/mikey\r\n--b--\r\n";
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)nohdrend,
                                  strlen(nohdrend), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("MIME: part 1: header section not ended by an empty line");
    /* empty data */
    static const char empty[] = "--b\r\nContent-Type: application/mikey\r\n\r\n\r\n--b--\r\n";
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)empty,
                                  strlen(empty), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("MIME: part 1: application/mikey body is empty");
    CHECK_ST(mcx_mime_mikey_parse("application/mikey", m3, 0, out, sizeof out, &n), MCX_E_ENCODING);
    ERR_HAS("body is empty");
    static const char empty64[] =
        "Content-Type: application/mikey\r\nContent-Transfer-Encoding: base64\r\n\r\n \r\n";
    CHECK_ST(
        mcx_mime_mikey_parse(NULL, (const uint8_t *)empty64, strlen(empty64), out, sizeof out, &n),
        MCX_E_ENCODING);
    ERR_HAS("body is empty");
    /* another transfer encoding */
    static const char qp[] = "--b\r\nContent-Type: application/mikey\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n=01\r\n--b--\r\n";
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)qp, strlen(qp),
                                  out, sizeof out, &n),
             MCX_E_UNSUPPORTED);
    ERR_HAS("Content-Transfer-Encoding \"quoted-printable\" is not supported");
    /* bad base64 in the third part */
    static const char bad64[] = "--b\r\n\r\ntext\r\n--b\r\nContent-Type: application/sdp\r\n\r\nv=0"
                                "\r\n--b\r\nContent-Type: application/mikey\r\n"
                                "Content-Transfer-Encoding: base64\r\n\r\nARoF\r\nAQ=!\r\n--b--";
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)bad64,
                                  strlen(bad64), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("MIME: part 3: base64 body: character 10 ('!')");
    /* no application/mikey part */
    static const char nokey[] = "--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--\r\n";
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)nokey,
                                  strlen(nokey), out, sizeof out, &n),
             MCX_E_NO_KEY);
    ERR_HAS("no application/mikey part (the body is multipart/mixed)");
    CHECK_ST(mcx_mime_mikey_parse("application/sdp", m3, 3, out, sizeof out, &n), MCX_E_NO_KEY);
    CHECK_ST(mcx_mime_mikey_parse(NULL, (const uint8_t *)"\r\nhello", 7, out, sizeof out, &n),
             MCX_E_NO_KEY);
    ERR_HAS("text/plain");
    /* malformed header lines */
    static const char dup[] =
        "Content-Type: application/mikey\r\ncontent-type: text/plain\r\n\r\nx";
    CHECK_ST(mcx_mime_mikey_parse(NULL, (const uint8_t *)dup, strlen(dup), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("two Content-Type headers");
    static const char nocolon[] = "Content-Type application/mikey\r\n\r\nx";
    CHECK_ST(
        mcx_mime_mikey_parse(NULL, (const uint8_t *)nocolon, strlen(nocolon), out, sizeof out, &n),
        MCX_E_ENCODING);
    ERR_HAS("header line 1");
    static const char cont[] = " folded\r\n\r\nx";
    CHECK_ST(mcx_mime_mikey_parse(NULL, (const uint8_t *)cont, strlen(cont), out, sizeof out, &n),
             MCX_E_ENCODING);
    ERR_HAS("continuation of nothing");
    static const char b64multi[] = "Content-Type: multipart/mixed; boundary=b\r\n"
                                   "Content-Transfer-Encoding: base64\r\n\r\n--b--\r\n";
    CHECK_ST(mcx_mime_mikey_parse(NULL, (const uint8_t *)b64multi, strlen(b64multi), out,
                                  sizeof out, &n),
             MCX_E_ENCODING);
    /* nesting deeper than four multiparts */
    at = 0;
    for (int i = 0; i < 5; i++) {
        char l[96];
        snprintf(l, sizeof l, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i,
                 i + 1);
        at = puts_(body, sizeof body, at, l);
    }
    at = puts_(body, sizeof body, at, "--b5--\r\n--b4--\r\n--b3--\r\n--b2--\r\n--b1--\r\n--b0--");
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed; boundary=b0", body, at, out, sizeof out, &n),
             MCX_E_UNSUPPORTED);
    ERR_HAS("nested deeper than 4");
    /* output buffer too small, both ways */
    CHECK_ST(mcx_mime_mikey_parse("multipart/mixed;boundary=b", (const uint8_t *)good, strlen(good),
                                  out, 2, &n),
             MCX_E_LENGTH);
    CHECK(n == 3);
    CHECK_ST(mcx_mime_mikey_format(m3, 3, MCX_MIME_BINARY, part, 37, &n), MCX_E_LENGTH);
    CHECK(n == 38);
    CHECK_ST(mcx_mime_mikey_format(m3, 3, MCX_MIME_BASE64, NULL, 0, &n), MCX_E_LENGTH);
    CHECK(n == 74);
    /* NULL arguments, empty message, unknown encoding, too long a body */
    CHECK_ST(mcx_mime_mikey_parse("application/mikey", NULL, 3, out, sizeof out, &n), MCX_E_ARG);
    CHECK_ST(mcx_mime_mikey_parse("application/mikey", m3, 3, out, sizeof out, NULL), MCX_E_ARG);
    CHECK_ST(mcx_mime_mikey_parse("application/mikey", m3, 3, NULL, 8, &n), MCX_E_ARG);
    CHECK_ST(mcx_mime_mikey_format(NULL, 3, MCX_MIME_BINARY, part, sizeof part, &n), MCX_E_ARG);
    CHECK_ST(mcx_mime_mikey_format(m3, 0, MCX_MIME_BINARY, part, sizeof part, &n), MCX_E_ARG);
    CHECK_ST(mcx_mime_mikey_format(m3, 3, (mcx_mime_encoding)7, part, sizeof part, &n), MCX_E_ARG);
    CHECK_ST(mcx_mime_mikey_parse("application/mikey", body, MCX_TRANSPORT_BODY_MAX + 1, out,
                                  sizeof out, &n),
             MCX_E_LENGTH);
}

int main(void)
{
    RUN(base64_rfc4648_vectors);
    RUN(base64_round_trip);
    RUN(base64_rejects);
    RUN(sdp_streamwide_vectors);
    RUN(sdp_round_trip);
    RUN(sdp_attribute_rejects);
    RUN(sdp_offer_levels);
    RUN(sdp_body_rejects);
    RUN(sdp_streamwide_in_offer);
    RUN(mime_format_round_trip);
    RUN(mime_multipart);
    RUN(mime_base64_part_and_nesting);
    RUN(mime_rejects);
    return test_summary();
}
