/* Transport encodings of MIKEY messages (include/mcxsec/mikey_transport.h): strict base64, the
 * SDP key-mgmt attribute (RFC 4567) and application/mikey MIME bodies (RFC 3830 §10, RFC 2045,
 * RFC 2046). Every walk over untrusted text goes through the byte cursor, line by line or span by
 * span; every output goes through its writer. The data is public, so nothing here needs to be
 * constant-time. */
#include <stdio.h>
#include <string.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mikey_transport.h"

#define B64_MIME_LINE    76   /* RFC 2045 §6.8: encoded lines of at most 76 characters */
#define MIME_HEADERS_MAX 8192 /* longest header section of one entity */
#define MIME_DEPTH_MAX   4    /* multiparts nested in multiparts */
#define MIME_BOUNDARY    70   /* RFC 2046 §5.1.1: 1 to 70 characters */

static const char keymgmt_prefix[] = "a=key-mgmt:";
static const char keymgmt_mikey[] = "a=key-mgmt:mikey ";
static const char mime_ct_line[] = "Content-Type: application/mikey\r\n";
static const char mime_cte_line[] = "Content-Transfer-Encoding: base64\r\n";

/* ---- text helpers -------------------------------------------------------------------------- */

static int is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int is_not_wsp(uint8_t c)
{
    return !is_wsp(c);
}

/* White space including the line breaks of a folded header or a base64 body. */
static int is_space(uint8_t c)
{
    return is_wsp(c) || c == '\r' || c == '\n';
}

static int is_not_lf(uint8_t c)
{
    return c != '\n';
}

/* RFC 2045 §5.1 token: CHAR except SPACE, CTLs and tspecials. */
static int is_token(uint8_t c)
{
    if (c <= 0x20 || c >= 0x7f)
        return 0;
    return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Header field name (RFC 5322 §2.2): printable characters except ':'. */
static int is_field_name(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != ':';
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* p[0..n) equals the lowercase literal lit, without regard to case. */
static int eq_ci(const uint8_t *p, size_t n, const char *lit)
{
    if (n != strlen(lit))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != (uint8_t)lit[i])
            return 0;
    return 1;
}

/* Untrusted text made printable for an error message: at most 40 characters, the others as
 * \xHH, "..." when cut. */
static const char *show(const uint8_t *p, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 40 || o + 8 > cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

/* One character for an error message: 'c' or 0xHH. */
static const char *show_char(uint8_t c, char buf[8])
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, 8, "'%c'", (char)c);
    else
        snprintf(buf, 8, "0x%02x", c);
    return buf;
}

/* ---- text scanning on the byte cursor ------------------------------------------------------- */

/* Number of octets from the cursor on for which pred holds. */
static size_t rd_count(const mcx_reader *r, int (*pred)(uint8_t))
{
    mcx_reader t = *r;
    const uint8_t *p;
    size_t left, k = 0;
    rd_rest(&t, &p, &left);
    while (k < left && pred(p[k]))
        k++;
    return k;
}

/* Take the next k octets (k from rd_count, so they are there). */
static const uint8_t *rd_take(mcx_reader *r, size_t k)
{
    const uint8_t *p = NULL;
    (void)rd_bytes(r, "text", k, &p);
    return p;
}

/* The next octet without taking it; 0 at the end. */
static int rd_peek(const mcx_reader *r, uint8_t *c)
{
    mcx_reader t = *r;
    return rd_u8(&t, "octet", c) == MCX_OK;
}

static void rd_skip(mcx_reader *r, int (*pred)(uint8_t))
{
    (void)rd_take(r, rd_count(r, pred));
}

/* The next line: *line and *n without its end; *eol is 2 (CRLF), 1 (LF) or 0 (last line, no end; a
 * CR there stays in the line). Returns 0 when nothing is left. */
static int rd_line(mcx_reader *r, const uint8_t **line, size_t *n, size_t *eol)
{
    if (rd_left(r) == 0)
        return 0;
    size_t k = rd_count(r, is_not_lf);
    *line = rd_take(r, k);
    *n = k;
    *eol = 0;
    if (rd_left(r) > 0) {
        (void)rd_take(r, 1);
        *eol = 1;
        if (k > 0 && (*line)[k - 1] == '\r') {
            *n = k - 1;
            *eol = 2;
        }
    }
    return 1;
}

/* buf[off..off+n) through the cursor (checked against len). */
static mcx_status slice_at(const uint8_t *buf, size_t len, size_t off, size_t n, const uint8_t **p)
{
    mcx_reader r;
    const uint8_t *skip;
    rd_init(&r, buf, len, "MIME");
    MCX_GUARD(rd_bytes(&r, "offset", off, &skip));
    return rd_bytes(&r, "part", n, p);
}

/* ---- base64 (RFC 4648 §4) ------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Check text[0..len) as padded base64 and count the octets it encodes. skip_ws: ignore spaces,
 * tabs and line breaks anywhere (a MIME body); otherwise nothing but the alphabet and '='.
 * Errors name the character as col + its index (col: 1-based column of text[0]). */
static mcx_status b64_check(const uint8_t *text, size_t len, int skip_ws, const char *where,
                            size_t col, size_t *octets)
{
    size_t chars = 0, pad = 0, last = 0;
    int last_val = 0;
    char cb[8];
    for (size_t i = 0; i < len; i++) {
        uint8_t c = text[i];
        if (skip_ws && is_space(c))
            continue;
        if (c == '=') {
            /* Padding completes a group whose first two characters are there (§4 cases 2, 3). */
            if (chars % 4 < 2)
                return MCX_FAIL(MCX_E_ENCODING,
                                "%s: '=' at character %zu is not padding (position %zu of a "
                                "group of 4)",
                                where, col + i, chars % 4 + 1);
            pad++;
            chars++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0)
            return MCX_FAIL(MCX_E_ENCODING, "%s: character %zu (%s) is not in the base64 alphabet",
                            where, col + i, show_char(c, cb));
        if (pad)
            return MCX_FAIL(MCX_E_ENCODING, "%s: character %zu (%s) follows the padding", where,
                            col + i, show_char(c, cb));
        chars++;
        last = i;
        last_val = v;
    }
    if (chars % 4 != 0)
        return MCX_FAIL(MCX_E_ENCODING,
                        "%s: %zu characters, not a multiple of 4 (cut short or unpadded)", where,
                        chars);
    /* RFC 4648 §3.5: the bits after the last octet are zero, so the encoding is canonical. */
    if ((pad == 1 && (last_val & 3)) || (pad == 2 && (last_val & 15)))
        return MCX_FAIL(MCX_E_ENCODING, "%s: character %zu (%s) has non-zero unused bits", where,
                        col + last, show_char(text[last], cb));
    *octets = chars / 4 * 3 - pad;
    return MCX_OK;
}

/* Decode text already accepted by b64_check. */
static void b64_emit(const uint8_t *text, size_t len, mcx_writer *w)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '=')
            break;
        int v = b64_value(text[i]);
        if (v < 0)
            continue; /* white space of a MIME body */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            wr_u8(w, (uint8_t)(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
}

/* Check, then decode into out[0..cap). *out_len: the octets, or the octets needed on
 * MCX_E_LENGTH. */
static mcx_status b64_decode_into(const uint8_t *text, size_t len, int skip_ws, const char *where,
                                  size_t col, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = 0;
    MCX_GUARD(b64_check(text, len, skip_ws, where, col, &n));
    *out_len = n;
    if (n > cap)
        return MCX_FAIL(MCX_E_LENGTH, "%s: output buffer of %zu octets is too small (%zu needed)",
                        where, cap, n);
    mcx_writer w;
    wr_init(&w, out, cap);
    b64_emit(text, len, &w);
    return wr_status(&w, where);
}

/* Write the base64 of in[0..n); line > 0 puts CRLF between lines of that many characters (a
 * multiple of 4). */
static void b64_write(mcx_writer *w, const uint8_t *in, size_t n, size_t line)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t k = n - i < 3 ? n - i : 3;
        uint32_t v = (uint32_t)in[i] << 16;
        if (k > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (k > 2)
            v |= in[i + 2];
        char q[4] = {b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
                     k > 1 ? b64_alphabet[(v >> 6) & 63] : '=', k > 2 ? b64_alphabet[v & 63] : '='};
        if (line && col == line) {
            wr_bytes(w, "\r\n", 2);
            col = 0;
        }
        wr_bytes(w, q, 4);
        col += 4;
    }
}

/* Characters of the base64 of n octets in lines of `line` characters joined by CRLF. */
static size_t b64_lines_len(size_t n, size_t line)
{
    size_t chars = MCX_BASE64_ENCODED_LEN(n);
    return chars == 0 ? 0 : chars + 2 * ((chars - 1) / line);
}

mcx_status mcx_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    if (out_len == NULL || (in == NULL && n > 0) || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "base64: NULL argument");
    if (n > SIZE_MAX / 2)
        return MCX_FAIL(MCX_E_LENGTH, "base64: %zu octets is too long to encode", n);
    size_t need = MCX_BASE64_ENCODED_LEN(n);
    *out_len = need;
    if (cap < need + 1)
        return MCX_FAIL(MCX_E_LENGTH,
                        "base64: output buffer of %zu characters is too small (%zu needed with "
                        "the NUL)",
                        cap, need + 1);
    mcx_writer w;
    wr_init(&w, (uint8_t *)out, cap);
    b64_write(&w, in, n, 0);
    wr_u8(&w, 0);
    return wr_status(&w, "base64");
}

mcx_status mcx_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    if (out_len == NULL || (text == NULL && len > 0) || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "base64: NULL argument");
    return b64_decode_into((const uint8_t *)text, len, 0, "base64", 1, out, cap, out_len);
}

/* ---- SDP key-mgmt attribute (RFC 4567 §3.1) ------------------------------------------------- */

/* The base64 text of one key-mgmt attribute. */
typedef struct keymgmt {
    const uint8_t *data;
    size_t len;
    size_t col;    /* 1-based column of data[0], for error texts */
    unsigned line; /* 1-based line in an SDP body; 0 = none found */
} keymgmt;

/* Split an attribute value v[0..n) (after "a=key-mgmt:", no line end) into protocol id and data:
 *   key-mgmt = "a=key-mgmt:" prtcl-id SP keymgmt-data
 * *mikey = 0 for another protocol id, whose text is then in *id, *id_len. col: 1-based column of
 * v[0]. */
static mcx_status keymgmt_value(const uint8_t *v, size_t n, size_t col, const char *where,
                                int *mikey, const uint8_t **id, size_t *id_len, keymgmt *km)
{
    mcx_reader r;
    rd_init(&r, v, n, where);
    *id_len = rd_count(&r, is_not_wsp);
    if (*id_len == 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: no protocol id", where);
    *id = rd_take(&r, *id_len);
    /* RFC 5234 §2.3: the ABNF literal "mikey" matches in any case. */
    *mikey = eq_ci(*id, *id_len, "mikey");
    if (!*mikey)
        return MCX_OK;
    rd_skip(&r, is_wsp);
    km->col = col + (n - rd_left(&r));
    rd_rest(&r, &km->data, &km->len);
    while (km->len > 0 && (is_wsp(km->data[km->len - 1]) || km->data[km->len - 1] == '\r'))
        km->len--;
    if (km->len == 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: mikey attribute has no key management data", where);
    return MCX_OK;
}

mcx_status mcx_sdp_keymgmt_format(const uint8_t *msg, size_t n, unsigned flags, char *out,
                                  size_t cap, size_t *out_len)
{
    if (msg == NULL || out_len == NULL || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "SDP: key-mgmt: NULL argument");
    if (flags & ~MCX_SDP_CRLF)
        return MCX_FAIL(MCX_E_ARG, "SDP: key-mgmt: unknown flags 0x%x", flags);
    if (n == 0)
        return MCX_FAIL(MCX_E_ARG, "SDP: key-mgmt: empty MIKEY message");
    if (n > MCX_TRANSPORT_BODY_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "SDP: key-mgmt: MIKEY message of %zu octets exceeds %d", n,
                        MCX_TRANSPORT_BODY_MAX);
    size_t need = sizeof keymgmt_mikey - 1 + MCX_BASE64_ENCODED_LEN(n);
    if (flags & MCX_SDP_CRLF)
        need += 2;
    *out_len = need;
    if (cap < need + 1)
        return MCX_FAIL(MCX_E_LENGTH,
                        "SDP: key-mgmt: output buffer of %zu characters is too small (%zu needed "
                        "with the NUL)",
                        cap, need + 1);
    mcx_writer w;
    wr_init(&w, (uint8_t *)out, cap);
    wr_bytes(&w, keymgmt_mikey, sizeof keymgmt_mikey - 1);
    b64_write(&w, msg, n, 0);
    if (flags & MCX_SDP_CRLF)
        wr_bytes(&w, "\r\n", 2);
    wr_u8(&w, 0);
    return wr_status(&w, "SDP: key-mgmt");
}

mcx_status mcx_sdp_keymgmt_parse(const char *value, size_t len, uint8_t *out, size_t cap,
                                 size_t *out_len)
{
    static const char where[] = "SDP: key-mgmt";
    if (value == NULL || out_len == NULL || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "%s: NULL argument", where);
    if (len > MCX_TRANSPORT_BODY_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "%s: %zu characters exceeds %d", where, len,
                        MCX_TRANSPORT_BODY_MAX);
    mcx_reader r;
    rd_init(&r, (const uint8_t *)value, len, where);
    const uint8_t *v;
    size_t n, eol;
    if (!rd_line(&r, &v, &n, &eol) || n == 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: empty attribute", where);
    if (rd_left(&r) > 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: more than one line", where);
    size_t col = 1;
    if (n >= sizeof keymgmt_prefix - 1 && eq_ci(v, sizeof keymgmt_prefix - 1, keymgmt_prefix)) {
        col += sizeof keymgmt_prefix - 1;
        v += sizeof keymgmt_prefix - 1;
        n -= sizeof keymgmt_prefix - 1;
    }
    int mikey = 0;
    const uint8_t *id;
    size_t id_len;
    keymgmt km = {0};
    MCX_GUARD(keymgmt_value(v, n, col, where, &mikey, &id, &id_len, &km));
    if (!mikey) {
        char shown[64];
        return MCX_FAIL(MCX_E_UNSUPPORTED, "%s: unknown protocol id \"%s\"", where,
                        show(id, id_len, shown, sizeof shown));
    }
    return b64_decode_into(km.data, km.len, 0, "SDP: key-mgmt: base64", km.col, out, cap, out_len);
}

mcx_status mcx_sdp_keymgmt_find(const char *sdp, size_t len, int media, uint8_t *out, size_t cap,
                                size_t *out_len, unsigned *line)
{
    if (sdp == NULL || out_len == NULL || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "SDP: NULL argument");
    if (media < MCX_SDP_ANY)
        return MCX_FAIL(MCX_E_ARG, "SDP: media index %d", media);
    if (len > MCX_TRANSPORT_BODY_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "SDP: body of %zu octets exceeds %d", len,
                        MCX_TRANSPORT_BODY_MAX);
    mcx_reader r;
    rd_init(&r, (const uint8_t *)sdp, len, "SDP");
    keymgmt first = {0}, session = {0}, in_media = {0};
    int section = -1; /* -1: session level; then the index of the current m= section */
    unsigned ln = 0;
    const uint8_t *l;
    size_t n, eol;
    char where[48];
    while (rd_line(&r, &l, &n, &eol)) {
        ln++;
        /* RFC 8866 §5: <type>=<value>, the type letter case-significant. */
        if (n >= 2 && l[0] == 'm' && l[1] == '=') {
            section++;
            continue;
        }
        if (n < sizeof keymgmt_prefix - 1 || !eq_ci(l, sizeof keymgmt_prefix - 1, keymgmt_prefix) ||
            l[0] != 'a')
            continue;
        snprintf(where, sizeof where, "SDP: key-mgmt line %u", ln);
        int mikey = 0;
        const uint8_t *id;
        size_t id_len;
        keymgmt km = {0};
        MCX_GUARD(keymgmt_value(l + (sizeof keymgmt_prefix - 1), n - (sizeof keymgmt_prefix - 1),
                                sizeof keymgmt_prefix, where, &mikey, &id, &id_len, &km));
        if (!mikey)
            continue; /* another key management protocol: not ours to judge */
        size_t octets;
        MCX_GUARD(b64_check(km.data, km.len, 0, where, km.col, &octets));
        km.line = ln;
        if (!first.line)
            first = km;
        if (section < 0 && !session.line)
            session = km;
        if (section >= 0 && section == media && !in_media.line)
            in_media = km;
    }
    if (media >= 0 && section < media)
        return MCX_FAIL(MCX_E_NO_KEY, "SDP: no m= section %d (the body has %d)", media,
                        section + 1);
    const keymgmt *pick = media == MCX_SDP_ANY       ? &first
                          : media == MCX_SDP_SESSION ? &session
                          : in_media.line            ? &in_media
                                                     : &session;
    if (!pick->line) {
        if (media == MCX_SDP_ANY)
            return MCX_FAIL(MCX_E_NO_KEY, "SDP: no a=key-mgmt:mikey attribute");
        if (media == MCX_SDP_SESSION)
            return MCX_FAIL(MCX_E_NO_KEY, "SDP: no session-level a=key-mgmt:mikey attribute");
        return MCX_FAIL(MCX_E_NO_KEY, "SDP: no a=key-mgmt:mikey attribute for m= section %d",
                        media);
    }
    snprintf(where, sizeof where, "SDP: key-mgmt line %u", pick->line);
    MCX_GUARD(b64_decode_into(pick->data, pick->len, 0, where, pick->col, out, cap, out_len));
    if (line != NULL)
        *line = pick->line;
    return MCX_OK;
}

/* ---- application/mikey MIME bodies (RFC 2045, RFC 2046 §5.1) -------------------------------- */

mcx_status mcx_mime_mikey_format(const uint8_t *msg, size_t n, mcx_mime_encoding enc, uint8_t *out,
                                 size_t cap, size_t *out_len)
{
    if (msg == NULL || out_len == NULL || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "MIME: NULL argument");
    if (enc != MCX_MIME_BINARY && enc != MCX_MIME_BASE64)
        return MCX_FAIL(MCX_E_ARG, "MIME: unknown transfer encoding %d", (int)enc);
    if (n == 0)
        return MCX_FAIL(MCX_E_ARG, "MIME: empty MIKEY message");
    if (n > MCX_TRANSPORT_BODY_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "MIME: MIKEY message of %zu octets exceeds %d", n,
                        MCX_TRANSPORT_BODY_MAX);
    size_t need = sizeof mime_ct_line - 1 + 2;
    need += enc == MCX_MIME_BASE64 ? sizeof mime_cte_line - 1 + b64_lines_len(n, B64_MIME_LINE) : n;
    *out_len = need;
    if (cap < need)
        return MCX_FAIL(MCX_E_LENGTH, "MIME: output buffer of %zu octets is too small (%zu needed)",
                        cap, need);
    mcx_writer w;
    wr_init(&w, out, cap);
    wr_bytes(&w, mime_ct_line, sizeof mime_ct_line - 1);
    if (enc == MCX_MIME_BASE64)
        wr_bytes(&w, mime_cte_line, sizeof mime_cte_line - 1);
    wr_bytes(&w, "\r\n", 2);
    if (enc == MCX_MIME_BASE64)
        b64_write(&w, msg, n, B64_MIME_LINE);
    else
        wr_bytes(&w, msg, n);
    return wr_status(&w, "MIME");
}

typedef enum ct_kind { CT_OTHER, CT_MIKEY, CT_MULTIPART } ct_kind;

/* What the parser needs of a Content-Type. */
typedef struct ct_info {
    ct_kind kind;
    char name[48]; /* "type/subtype", printable, for messages */
    char boundary[MIME_BOUNDARY + 1];
    size_t boundary_len;
} ct_info;

typedef enum cte_kind { CTE_IDENTITY, CTE_BASE64 } cte_kind;

/* The headers of one entity that matter here; values are spans of the input (folded lines
 * included). */
typedef struct mime_headers {
    const uint8_t *ct, *cte;
    size_t ct_len, cte_len;
} mime_headers;

/* RFC 2046 §5.1.1 bchars. */
static int is_bchar(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

/* A parameter value (token or quoted-string, RFC 2045 §5.1) into val (at most cap - 1 octets
 * kept; *len counts them all). */
static mcx_status ct_param_value(mcx_reader *r, const char *where, char *val, size_t cap,
                                 size_t *len)
{
    uint8_t c = 0;
    *len = 0;
    if (rd_peek(r, &c) && c == '"') {
        (void)rd_take(r, 1);
        for (;;) {
            if (rd_u8(r, "quoted string", &c) != MCX_OK)
                return MCX_FAIL(MCX_E_ENCODING, "%s: unterminated quoted string", where);
            if (c == '"')
                break;
            if (c == '\\' && rd_u8(r, "quoted pair", &c) != MCX_OK)
                return MCX_FAIL(MCX_E_ENCODING, "%s: unterminated quoted string", where);
            if (*len + 1 < cap)
                val[*len] = (char)c;
            (*len)++;
        }
    } else {
        size_t k = rd_count(r, is_token);
        if (k == 0)
            return MCX_FAIL(MCX_E_ENCODING, "%s: parameter without a value", where);
        const uint8_t *p = rd_take(r, k);
        memcpy(val, p, k < cap ? k : cap - 1);
        *len = k;
    }
    val[*len < cap ? *len : cap - 1] = '\0';
    return MCX_OK;
}

/* Parse a Content-Type value (RFC 2045 §5.1): type "/" subtype *(";" attribute "=" value), white
 * space and folding between the parts. */
static mcx_status ct_parse(const uint8_t *v, size_t n, const char *where, ct_info *ct)
{
    mcx_reader r;
    char shown[64];
    uint8_t c = 0;
    memset(ct, 0, sizeof *ct);
    rd_init(&r, v, n, where);
    rd_skip(&r, is_space);
    size_t tlen = rd_count(&r, is_token);
    const uint8_t *type = rd_take(&r, tlen);
    if (tlen == 0 || rd_u8(&r, "'/'", &c) != MCX_OK || c != '/')
        return MCX_FAIL(MCX_E_ENCODING, "%s: Content-Type \"%s\" is not type/subtype", where,
                        show(v, n, shown, sizeof shown));
    size_t slen = rd_count(&r, is_token);
    const uint8_t *sub = rd_take(&r, slen);
    if (slen == 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: Content-Type \"%s\" has no subtype", where,
                        show(v, n, shown, sizeof shown));
    char tname[24], sname[24];
    snprintf(ct->name, sizeof ct->name, "%s/%s", show(type, tlen, tname, sizeof tname),
             show(sub, slen, sname, sizeof sname));
    if (eq_ci(type, tlen, "application") && eq_ci(sub, slen, "mikey"))
        ct->kind = CT_MIKEY;
    else if (eq_ci(type, tlen, "multipart"))
        ct->kind = CT_MULTIPART; /* RFC 2046 §5.1.7: unknown subtypes are read as mixed */
    int have_boundary = 0;
    for (;;) {
        rd_skip(&r, is_space);
        if (!rd_peek(&r, &c))
            break;
        (void)rd_take(&r, 1);
        if (c != ';')
            return MCX_FAIL(MCX_E_ENCODING, "%s: Content-Type \"%s\": %s where ';' belongs", where,
                            show(v, n, shown, sizeof shown), show_char(c, tname));
        rd_skip(&r, is_space);
        if (!rd_peek(&r, &c))
            break; /* a trailing ';' */
        size_t alen = rd_count(&r, is_token);
        const uint8_t *attr = rd_take(&r, alen);
        rd_skip(&r, is_space);
        if (alen == 0 || rd_u8(&r, "'='", &c) != MCX_OK || c != '=')
            return MCX_FAIL(MCX_E_ENCODING, "%s: Content-Type \"%s\": malformed parameter", where,
                            show(v, n, shown, sizeof shown));
        rd_skip(&r, is_space);
        char val[MIME_BOUNDARY + 2];
        size_t vlen;
        MCX_GUARD(ct_param_value(&r, where, val, sizeof val, &vlen));
        if (!eq_ci(attr, alen, "boundary"))
            continue;
        if (have_boundary)
            return MCX_FAIL(MCX_E_ENCODING, "%s: Content-Type has two boundary parameters", where);
        have_boundary = 1;
        int ok = vlen >= 1 && vlen <= MIME_BOUNDARY && val[vlen - 1] != ' ';
        for (size_t i = 0; ok && i < vlen; i++)
            ok = is_bchar((uint8_t)val[i]);
        if (!ok)
            return MCX_FAIL(MCX_E_ENCODING,
                            "%s: boundary \"%s\" is not 1 to 70 boundary characters (RFC 2046 "
                            "§5.1.1)",
                            where, show((const uint8_t *)val, vlen, shown, sizeof shown));
        memcpy(ct->boundary, val, vlen + 1);
        ct->boundary_len = vlen;
    }
    if (ct->kind == CT_MULTIPART && !have_boundary)
        return MCX_FAIL(MCX_E_ENCODING, "%s: %s without a boundary parameter", where, ct->name);
    return MCX_OK;
}

static mcx_status cte_parse(const uint8_t *v, size_t n, const char *where, cte_kind *k)
{
    mcx_reader r;
    char shown[64];
    rd_init(&r, v, n, where);
    rd_skip(&r, is_space);
    size_t tlen = rd_count(&r, is_token);
    const uint8_t *t = rd_take(&r, tlen);
    rd_skip(&r, is_space);
    if (tlen == 0 || rd_left(&r) != 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: Content-Transfer-Encoding \"%s\" is malformed", where,
                        show(v, n, shown, sizeof shown));
    if (eq_ci(t, tlen, "binary") || eq_ci(t, tlen, "8bit") || eq_ci(t, tlen, "7bit")) {
        *k = CTE_IDENTITY;
        return MCX_OK;
    }
    if (eq_ci(t, tlen, "base64")) {
        *k = CTE_BASE64;
        return MCX_OK;
    }
    return MCX_FAIL(MCX_E_UNSUPPORTED, "%s: Content-Transfer-Encoding \"%s\" is not supported",
                    where, show(t, tlen, shown, sizeof shown));
}

/* Read the header section of an entity up to and including the empty line that ends it. An
 * empty entity has no headers (and no body). */
static mcx_status headers_read(mcx_reader *r, const char *where, mime_headers *h)
{
    const uint8_t **val = NULL; /* the value a continuation line extends, if it is one we keep */
    size_t *val_len = NULL;
    size_t left0 = rd_left(r), prev_eol = 0;
    unsigned hl = 0;
    int have_field = 0;
    char shown[64];
    memset(h, 0, sizeof *h);
    if (left0 == 0)
        return MCX_OK;
    for (;;) {
        const uint8_t *l;
        size_t n, eol;
        if (left0 - rd_left(r) > MIME_HEADERS_MAX)
            return MCX_FAIL(MCX_E_LENGTH, "%s: header section longer than %d octets", where,
                            MIME_HEADERS_MAX);
        if (!rd_line(r, &l, &n, &eol))
            return MCX_FAIL(MCX_E_ENCODING, "%s: header section not ended by an empty line", where);
        if (n == 0)
            return MCX_OK; /* the empty line (rd_line gives n = 0 only with a line end) */
        hl++;
        if (is_wsp(l[0])) {
            /* RFC 5322 §2.2.3: a folded line continues the field before it; the lines are
             * contiguous, so the value span just grows. */
            if (!have_field)
                return MCX_FAIL(MCX_E_ENCODING, "%s: header line %u is a continuation of nothing",
                                where, hl);
            if (val != NULL)
                *val_len += prev_eol + n;
            prev_eol = eol;
            if (eol == 0)
                return MCX_FAIL(MCX_E_ENCODING, "%s: header section not ended by an empty line",
                                where);
            continue;
        }
        mcx_reader lr;
        uint8_t colon = 0;
        rd_init(&lr, l, n, where);
        size_t nlen = rd_count(&lr, is_field_name);
        const uint8_t *name = rd_take(&lr, nlen);
        if (nlen == 0 || rd_u8(&lr, "':'", &colon) != MCX_OK || colon != ':')
            return MCX_FAIL(MCX_E_ENCODING, "%s: header line %u \"%s\" is not name: value", where,
                            hl, show(l, n, shown, sizeof shown));
        if (eol == 0)
            return MCX_FAIL(MCX_E_ENCODING, "%s: header section not ended by an empty line", where);
        have_field = 1;
        prev_eol = eol;
        val = NULL;
        val_len = NULL;
        if (eq_ci(name, nlen, "content-type")) {
            if (h->ct != NULL)
                return MCX_FAIL(MCX_E_ENCODING, "%s: two Content-Type headers", where);
            val = &h->ct;
            val_len = &h->ct_len;
        } else if (eq_ci(name, nlen, "content-transfer-encoding")) {
            if (h->cte != NULL)
                return MCX_FAIL(MCX_E_ENCODING, "%s: two Content-Transfer-Encoding headers", where);
            val = &h->cte;
            val_len = &h->cte_len;
        }
        if (val != NULL)
            rd_rest(&lr, val, val_len);
    }
}

/* Decoding state shared by the recursion. */
typedef struct mime_out {
    uint8_t *out;
    size_t cap;
    size_t *out_len;
    int found;
} mime_out;

static mcx_status mime_entity(const ct_info *ct, cte_kind cte, const uint8_t *body, size_t len,
                              const char *where, int depth, mime_out *mo);

/* The body of an application/mikey entity. */
static mcx_status mikey_body(cte_kind cte, const uint8_t *body, size_t len, const char *where,
                             mime_out *mo)
{
    if (cte == CTE_BASE64) {
        char wb[64];
        snprintf(wb, sizeof wb, "%s: base64 body", where);
        MCX_GUARD(b64_decode_into(body, len, 1, wb, 1, mo->out, mo->cap, mo->out_len));
        if (*mo->out_len == 0)
            return MCX_FAIL(MCX_E_ENCODING, "%s: application/mikey body is empty", where);
        mo->found = 1;
        return MCX_OK;
    }
    if (len == 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: application/mikey body is empty", where);
    *mo->out_len = len;
    if (len > mo->cap)
        return MCX_FAIL(MCX_E_LENGTH, "%s: output buffer of %zu octets is too small (%zu needed)",
                        where, mo->cap, len);
    mcx_writer w;
    wr_init(&w, mo->out, mo->cap);
    wr_bytes(&w, body, len);
    MCX_GUARD(wr_status(&w, where));
    mo->found = 1;
    return MCX_OK;
}

/* One entity with its own headers (a body part, or a whole body given without Content-Type). */
static mcx_status mime_part(const uint8_t *p, size_t n, const char *where, int depth, mime_out *mo,
                            ct_info *ct_out)
{
    mcx_reader r;
    mime_headers h;
    ct_info ct;
    cte_kind cte = CTE_IDENTITY;
    rd_init(&r, p, n, where);
    MCX_GUARD(headers_read(&r, where, &h));
    if (h.ct != NULL) {
        MCX_GUARD(ct_parse(h.ct, h.ct_len, where, &ct));
    } else {
        memset(&ct, 0, sizeof ct); /* RFC 2045 §5.2: text/plain by default */
        snprintf(ct.name, sizeof ct.name, "text/plain (no Content-Type)");
    }
    if (h.cte != NULL)
        MCX_GUARD(cte_parse(h.cte, h.cte_len, where, &cte));
    if (ct_out != NULL)
        *ct_out = ct;
    const uint8_t *body;
    size_t len;
    rd_rest(&r, &body, &len);
    return mime_entity(&ct, cte, body, len, where, depth, mo);
}

/* The line l[0..n) against the boundary: 0 not a delimiter, 1 delimiter, 2 close delimiter
 * (RFC 2046 §5.1.1: "--" boundary ["--"] transport-padding, padding being spaces and tabs). */
static int delimiter(const uint8_t *l, size_t n, const char *b, size_t blen)
{
    mcx_reader r;
    const uint8_t *p;
    rd_init(&r, l, n, "MIME");
    if (rd_bytes(&r, "dashes", 2, &p) != MCX_OK || p[0] != '-' || p[1] != '-' ||
        rd_bytes(&r, "boundary", blen, &p) != MCX_OK || memcmp(p, b, blen) != 0)
        return 0;
    int kind = 1;
    uint8_t c;
    if (rd_peek(&r, &c) && c == '-') {
        if (rd_bytes(&r, "close", 2, &p) != MCX_OK || p[1] != '-')
            return 0;
        kind = 2;
    }
    rd_skip(&r, is_wsp);
    return rd_left(&r) == 0 ? kind : 0;
}

/* Walk a multipart body: every delimiter up to the close delimiter must be there; every part's
 * headers are read; the first application/mikey part (depth first) is decoded. */
static mcx_status multipart(const ct_info *ct, const uint8_t *body, size_t len, const char *where,
                            int depth, mime_out *mo)
{
    if (depth >= MIME_DEPTH_MAX)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "%s: multipart nested deeper than %d levels", where,
                        MIME_DEPTH_MAX);
    mcx_reader r;
    rd_init(&r, body, len, where);
    unsigned part = 0;
    int closed = 0;
    size_t part_start = 0, prev_eol = 0;
    const uint8_t *l;
    size_t n, eol;
    for (;;) {
        size_t line_start = len - rd_left(&r);
        if (!rd_line(&r, &l, &n, &eol))
            break;
        int kind = delimiter(l, n, ct->boundary, ct->boundary_len);
        if (kind != 0 && part > 0) {
            /* The line end before a delimiter belongs to it, not to the part (§5.1.1). */
            size_t end = line_start >= part_start + prev_eol ? line_start - prev_eol : part_start;
            const uint8_t *p;
            char w[64];
            if (depth == 0)
                snprintf(w, sizeof w, "MIME: part %u", part);
            else
                snprintf(w, sizeof w, "%s.%u", where, part);
            MCX_GUARD(slice_at(body, len, part_start, end - part_start, &p));
            MCX_GUARD(mime_part(p, end - part_start, w, depth + 1, mo, NULL));
        }
        prev_eol = eol;
        if (kind == 2) {
            closed = 1;
            break; /* the epilogue is ignored */
        }
        if (kind == 1) {
            part++;
            part_start = len - rd_left(&r);
        }
    }
    if (part == 0 && closed)
        return MCX_FAIL(MCX_E_ENCODING, "%s: close delimiter \"--%s--\" before any part", where,
                        ct->boundary);
    if (part == 0)
        return MCX_FAIL(MCX_E_ENCODING, "%s: boundary \"%s\" does not occur in the body", where,
                        ct->boundary);
    if (!closed)
        return MCX_FAIL(MCX_E_LENGTH,
                        "%s: multipart body cut short: no close delimiter \"--%s--\" after part "
                        "%u",
                        where, ct->boundary, part);
    return MCX_OK;
}

static mcx_status mime_entity(const ct_info *ct, cte_kind cte, const uint8_t *body, size_t len,
                              const char *where, int depth, mime_out *mo)
{
    if (ct->kind == CT_MULTIPART) {
        /* RFC 2045 §6.4: a composite entity is never encoded. */
        if (cte != CTE_IDENTITY)
            return MCX_FAIL(MCX_E_ENCODING, "%s: %s with Content-Transfer-Encoding base64", where,
                            ct->name);
        return multipart(ct, body, len, where, depth, mo);
    }
    if (ct->kind == CT_MIKEY && !mo->found)
        return mikey_body(cte, body, len, where, mo);
    return MCX_OK;
}

mcx_status mcx_mime_mikey_parse(const char *content_type, const uint8_t *body, size_t len,
                                uint8_t *out, size_t cap, size_t *out_len)
{
    if (body == NULL || out_len == NULL || (out == NULL && cap > 0))
        return MCX_FAIL(MCX_E_ARG, "MIME: NULL argument");
    if (len > MCX_TRANSPORT_BODY_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "MIME: body of %zu octets exceeds %d", len,
                        MCX_TRANSPORT_BODY_MAX);
    mime_out mo = {out, cap, out_len, 0};
    ct_info ct;
    memset(&ct, 0, sizeof ct);
    if (content_type != NULL) {
        size_t ct_len = strnlen(content_type, MIME_HEADERS_MAX + 1);
        if (ct_len > MIME_HEADERS_MAX)
            return MCX_FAIL(MCX_E_LENGTH, "MIME: Content-Type longer than %d characters",
                            MIME_HEADERS_MAX);
        MCX_GUARD(ct_parse((const uint8_t *)content_type, ct_len, "MIME", &ct));
        MCX_GUARD(mime_entity(&ct, CTE_IDENTITY, body, len, "MIME: body", 0, &mo));
    } else {
        MCX_GUARD(mime_part(body, len, "MIME: entity", 0, &mo, &ct));
    }
    if (!mo.found)
        return MCX_FAIL(MCX_E_NO_KEY, "MIME: no application/mikey part (the body is %s)", ct.name);
    return MCX_OK;
}
