/* libFuzzer target over the MIKEY transport parsers (mikey_transport.h): the same bytes go to the
 * strict base64 decoder, the SDP attribute parser, the SDP body search (the first byte picks the
 * level) and the MIME parser, both as an entity with its own headers and as a body whose
 * Content-Type is the first line. Whatever decodes must re-encode and decode to the same octets
 * (base64 must even give back the very input: the accepted encoding is canonical), must be
 * refused with MCX_E_LENGTH in a buffer one octet short, and no parser may report a failure of
 * the API contract (MCX_E_ARG) or of itself (MCX_E_INTERNAL). Buffers are allocated to their
 * exact size so that AddressSanitizer sees any overflow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/mikey_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static void expect_ok(mcx_status st)
{
    if (st != MCX_OK)
        abort();
}

/* A failure must be one a parser is allowed to report. */
static void expect_reason(mcx_status st)
{
    if (st == MCX_E_ARG || st == MCX_E_INTERNAL || st == MCX_E_NOMEM)
        abort();
}

/* The decoded message msg[0..n) goes through both formatters and both parsers unchanged. */
static void round_trip(const uint8_t *msg, size_t n)
{
    if (n == 0)
        abort(); /* no parser may return an empty MIKEY message */
    size_t cap = MCX_SDP_KEYMGMT_MAX(n), len = 0, m = 0;
    char *line = xmalloc(cap);
    uint8_t *back = xmalloc(n);
    expect_ok(mcx_sdp_keymgmt_format(msg, n, MCX_SDP_CRLF, line, cap, &len));
    expect_ok(mcx_sdp_keymgmt_parse(line, len, back, n, &m));
    if (m != n || memcmp(back, msg, n) != 0)
        abort();
    expect_ok(mcx_sdp_keymgmt_find(line, len, MCX_SDP_SESSION, back, n, &m, NULL));
    if (m != n || memcmp(back, msg, n) != 0)
        abort();
    free(line);

    cap = MCX_MIME_MIKEY_MAX(n);
    uint8_t *part = xmalloc(cap);
    for (int enc = MCX_MIME_BINARY; enc <= MCX_MIME_BASE64; enc++) {
        expect_ok(mcx_mime_mikey_format(msg, n, (mcx_mime_encoding)enc, part, cap, &len));
        expect_ok(mcx_mime_mikey_parse(NULL, part, len, back, n, &m));
        if (m != n || memcmp(back, msg, n) != 0)
            abort();
    }
    free(part);
    free(back);
}

/* A parser that gave n octets must refuse a buffer of n - 1 and name n (st and got from a call
 * made before this one: the arguments of one call are not sequenced). */
static void one_short(mcx_status st, size_t got, size_t n)
{
    if (st != MCX_E_LENGTH || got != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MCX_TRANSPORT_BODY_MAX)
        return 0;
    const char *text = (const char *)data;
    size_t cap = size, n = 0, m = 0;
    uint8_t *out = xmalloc(cap);
    uint8_t *small;
    mcx_status st;

    /* base64: canonical, so encoding the result gives the input back */
    st = mcx_base64_decode(text, size, out, cap, &n);
    if (st == MCX_OK) {
        char *again = xmalloc(size + 1);
        expect_ok(mcx_base64_encode(out, n, again, size + 1, &m));
        if (m != size || memcmp(again, data, size) != 0)
            abort();
        free(again);
        if (n > 0) {
            small = xmalloc(n - 1);
            st = mcx_base64_decode(text, size, small, n - 1, &m);
            one_short(st, m, n);
            free(small);
        }
    } else if (st != MCX_E_ENCODING) {
        abort();
    }

    /* one SDP attribute value or line */
    st = mcx_sdp_keymgmt_parse(text, size, out, cap, &n);
    if (st == MCX_OK) {
        round_trip(out, n);
        small = xmalloc(n - 1);
        st = mcx_sdp_keymgmt_parse(text, size, small, n - 1, &m);
        one_short(st, m, n);
        free(small);
    } else {
        expect_reason(st);
    }

    /* an SDP body, at the level the first byte picks */
    int media = size > 0 ? (int)(data[0] % 5) - 2 : MCX_SDP_ANY;
    unsigned line = 0;
    st = mcx_sdp_keymgmt_find(text, size, media, out, cap, &n, &line);
    if (st == MCX_OK) {
        if (line == 0)
            abort();
        round_trip(out, n);
        small = xmalloc(n - 1);
        st = mcx_sdp_keymgmt_find(text, size, media, small, n - 1, &m, NULL);
        one_short(st, m, n);
        free(small);
    } else {
        expect_reason(st);
    }

    /* a MIME entity with its own headers */
    st = mcx_mime_mikey_parse(NULL, data, size, out, cap, &n);
    if (st == MCX_OK) {
        round_trip(out, n);
        small = xmalloc(n - 1);
        st = mcx_mime_mikey_parse(NULL, data, size, small, n - 1, &m);
        one_short(st, m, n);
        free(small);
    } else {
        expect_reason(st);
    }

    /* a MIME body whose Content-Type header value is the first line */
    const uint8_t *lf = memchr(data, '\n', size < 512 ? size : 512);
    if (lf != NULL) {
        size_t ct_len = (size_t)(lf - data);
        char *ct = xmalloc(ct_len + 1);
        memcpy(ct, data, ct_len);
        ct[ct_len] = '\0';
        const uint8_t *body = lf + 1;
        size_t body_len = size - ct_len - 1;
        st = mcx_mime_mikey_parse(ct, body, body_len, out, cap, &n);
        if (st == MCX_OK) {
            round_trip(out, n);
            small = xmalloc(n - 1);
            st = mcx_mime_mikey_parse(ct, body, body_len, small, n - 1, &m);
            one_short(st, m, n);
            free(small);
        } else {
            expect_reason(st);
        }
        free(ct);
    }
    free(out);
    return 0;
}
