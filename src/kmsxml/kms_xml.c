/* KMS XML reader (TS 33.180 Annex D.2/D.3): KmsRequest and KmsResponse through libxml2.
 *
 * The document is parsed by libxml2 with no network, no DTD loading and no entity substitution;
 * a DOCTYPE is refused before libxml2 sees the bytes (XXE and entity expansion cannot start).
 * The tree is then walked against a table per complex type (name, required, repeatable) that
 * mirrors the Annex D.3 sequences, so order, duplicates and missing elements are refused with
 * the element's name. Elements of other namespaces are skipped where the schema has
 * <xs:any namespace="##other" processContents="lax"/> (every type here has one or is a leaf). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "common/error_internal.h"
#include "kmsxml/kms_xml_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"

#define XSI_NS  "http://www.w3.org/2001/XMLSchema-instance"
#define XENC_NS "http://www.w3.org/2001/04/xmlenc#"

/* libxml2 wants one xmlInitParser before use from several threads. xmlCleanupParser is left to
 * process exit: calling it per parse would break other threads' parsers. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void)
{
    xmlInitParser();
}

/* ---------- key text and scalar values ---------- */

static int b64_value(unsigned char c)
{
    /* Arithmetic on the character instead of a table lookup indexed by it (secret text). */
    int v = -1;
    v += ((c >= 'A') & (c <= 'Z')) * (c - 'A' + 1);
    v += ((c >= 'a') & (c <= 'z')) * (c - 'a' + 27);
    v += ((c >= '0') & (c <= '9')) * (c - '0' + 53);
    v += (c == '+') * 63;
    v += (c == '/') * 64;
    return v;
}

static mcx_status b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n % 4 != 0)
        return MCX_FAIL(MCX_E_ENCODING, "base64 text of %zu characters (not a multiple of 4)", n);
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    size_t olen = n / 4 * 3 - pad;
    if (olen > cap)
        return MCX_FAIL(MCX_E_LENGTH, "%zu octets, at most %zu", olen, cap);
    size_t o = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t acc = 0;
        for (size_t k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            int v = b64_value(c);
            int is_pad = (c == '=') & (i + 4 == n) & (k >= 4 - pad);
            bad |= (v < 0) & !is_pad;
            acc = (acc << 6) | (uint32_t)(v < 0 ? 0 : v);
        }
        uint8_t b[3] = {(uint8_t)(acc >> 16), (uint8_t)(acc >> 8), (uint8_t)acc};
        for (size_t k = 0; k < 3 && o < olen; k++)
            out[o++] = b[k];
        mcx_memzero(b, sizeof b);
    }
    if (bad) {
        mcx_memzero(out, olen);
        return MCX_FAIL(MCX_E_ENCODING, "neither hex nor base64");
    }
    *out_len = olen;
    return MCX_OK;
}

mcx_status mcx_kms_key_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len)
{
    if (text == NULL || out_len == NULL || (out == NULL && cap != 0))
        return MCX_FAIL(MCX_E_ARG, "KMS XML: key text: NULL argument");
    *out_len = 0;
    size_t b = 0, e = strlen(text);
    while (b < e && isspace((unsigned char)text[b]))
        b++;
    while (e > b && isspace((unsigned char)text[e - 1]))
        e--;
    if (b == e)
        return MCX_FAIL(MCX_E_ENCODING, "empty key text");
    /* FORMATS §8 (the deployed clients' rule): all hex digits -> hex, otherwise base64. */
    int all_hex = 1;
    for (size_t i = b; i < e; i++)
        all_hex &= isxdigit((unsigned char)text[i]) != 0;
    if (!all_hex)
        return b64_decode(text + b, e - b, out, cap, out_len);
    if ((e - b) % 2 != 0)
        return MCX_FAIL(MCX_E_ENCODING, "odd number of hex digits (%zu)", e - b);
    if ((e - b) / 2 > cap)
        return MCX_FAIL(MCX_E_LENGTH, "%zu octets, at most %zu", (e - b) / 2, cap);
    /* mcx_hex_decode needs a NUL-terminated string: decode from a bounded copy. */
    char *tmp = malloc(e - b + 1);
    if (tmp == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    memcpy(tmp, text + b, e - b);
    tmp[e - b] = '\0';
    mcx_status st = mcx_hex_decode(tmp, out, cap, out_len);
    mcx_memzero(tmp, e - b);
    free(tmp);
    return st;
}

static int parse_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int mcx_kms_time_parse(const char *s, time_t *out)
{
    int Y, M, D, h, m, sec;
    size_t n = strlen(s);
    if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    if (parse_digits(s, 4, &Y) || parse_digits(s + 5, 2, &M) || parse_digits(s + 8, 2, &D) ||
        parse_digits(s + 11, 2, &h) || parse_digits(s + 14, 2, &m) || parse_digits(s + 17, 2, &sec))
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
        return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return -1;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        i++;
        size_t f = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return -1;
    }
    long zone = 0;
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int zh, zm;
        if (n - i != 6 || s[i + 3] != ':' || parse_digits(s + i + 1, 2, &zh) ||
            parse_digits(s + i + 4, 2, &zm) || zh > 14 || zm > 59)
            return -1;
        zone = (s[i] == '+' ? 1 : -1) * (zh * 3600L + zm * 60L);
        i += 6;
    }
    if (i != n)
        return -1;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = t - zone;
    return 0;
}

int mcx_kms_time_format(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return -1;
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* ---------- tree walking ---------- */

typedef struct walk {
    const char *parent; /* name of the element whose children are walked, for reasons */
} walk;

static int is_ours(const xmlNode *n)
{
    return n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *)n->ns->href, MCX_KMS_XML_NS) == 0;
}

static const char *nm(const xmlNode *n)
{
    return (const char *)n->name;
}

/* Text of a leaf element: its text and CDATA children concatenated, whitespace trimmed (the
 * Annex D leaf types all collapse whitespace). Refuses child elements. *out is malloc'ed; the
 * caller wipes and frees it (key text is secret). */
static mcx_status leaf_text(const char *parent, const xmlNode *el, char **out, size_t *out_n)
{
    size_t total = 0;
    for (const xmlNode *c = el->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: unexpected child element <%s>", parent,
                            nm(el), nm(c));
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            total += strlen((const char *)c->content);
        else if (c->type == XML_ENTITY_REF_NODE)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: entity reference", parent, nm(el));
    }
    char *buf = malloc(total + 1);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    size_t o = 0;
    for (const xmlNode *c = el->children; c != NULL; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            size_t k = strlen((const char *)c->content);
            memcpy(buf + o, c->content, k);
            o += k;
        }
    buf[o] = '\0';
    size_t b = 0, e = o;
    while (b < e && isspace((unsigned char)buf[b]))
        b++;
    while (e > b && isspace((unsigned char)buf[e - 1]))
        e--;
    memmove(buf, buf + b, e - b);
    mcx_memzero(buf + (e - b), o - (e - b));
    buf[e - b] = '\0';
    *out = buf;
    *out_n = e - b;
    return MCX_OK;
}

static void text_free(char *t, size_t n)
{
    if (t != NULL) {
        mcx_memzero(t, n);
        free(t);
    }
}

/* A string leaf into dst[cap]: no control characters, fits. */
static mcx_status get_string(const char *parent, const xmlNode *el, char *dst, size_t cap,
                             int required_nonempty)
{
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, el, &t, &n));
    mcx_status st = MCX_OK;
    if (n >= cap)
        st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: %zu characters, at most %zu", parent, nm(el),
                      n, cap - 1);
    else if (required_nonempty && n == 0)
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: empty", parent, nm(el));
    for (size_t i = 0; st == MCX_OK && i < n; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: control character at %zu", parent,
                          nm(el), i);
    if (st == MCX_OK)
        memcpy(dst, t, n + 1);
    text_free(t, n);
    return st;
}

static mcx_status get_u64(const char *parent, const xmlNode *el, uint64_t *v)
{
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, el, &t, &n));
    mcx_status st = MCX_OK;
    const char *p = t;
    if (*p == '+')
        p++;
    if (*p < '0' || *p > '9' || strlen(p) > 20) {
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: '%.40s' is not a non-negative integer",
                      parent, nm(el), t);
    } else {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(p, &end, 10);
        if (errno != 0 || *end != '\0')
            st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: '%.40s' is not a 64-bit integer", parent,
                          nm(el), t);
        else
            *v = x;
    }
    text_free(t, n);
    return st;
}

static mcx_status get_i64(const char *parent, const xmlNode *el, int64_t *v)
{
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, el, &t, &n));
    mcx_status st = MCX_OK;
    const char *p = t + (*t == '+' || *t == '-');
    if (*p < '0' || *p > '9' || strlen(t) > 20) {
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: '%.40s' is not an integer", parent, nm(el),
                      t);
    } else {
        char *end;
        errno = 0;
        long long x = strtoll(t, &end, 10);
        if (errno != 0 || *end != '\0')
            st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: '%.40s' is not a 64-bit integer", parent,
                          nm(el), t);
        else
            *v = x;
    }
    text_free(t, n);
    return st;
}

static mcx_status get_bool(const char *parent, const xmlNode *el, mcx_kms_bool *v)
{
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, el, &t, &n));
    mcx_status st = MCX_OK;
    if (strcmp(t, "true") == 0 || strcmp(t, "1") == 0)
        *v = MCX_KMS_TRUE;
    else if (strcmp(t, "false") == 0 || strcmp(t, "0") == 0)
        *v = MCX_KMS_FALSE;
    else
        st =
            MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: '%.40s' is not a boolean", parent, nm(el), t);
    text_free(t, n);
    return st;
}

static mcx_status get_time(const char *parent, const xmlNode *el, time_t *v)
{
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, el, &t, &n));
    mcx_status st = MCX_OK;
    if (mcx_kms_time_parse(t, v) != 0)
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: '%.40s' is not an xs:dateTime", parent,
                      nm(el), t);
    text_free(t, n);
    return st;
}

/* The transport key of the parse under way (mcx_kms_response_parse_wrapped / _verify), NULL
 * otherwise. Thread-local: the walk's callbacks take the record they fill, not a context. */
static _Thread_local const uint8_t *parse_trk;

/* The element children of el in the XML Encryption namespace, and whether el has other element
 * children or non-blank text. */
static int is_xenc(const xmlNode *c, const char *name)
{
    return c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
           strcmp((const char *)c->ns->href, XENC_NS) == 0 &&
           (name == NULL || strcmp(nm(c), name) == 0);
}

static const xmlNode *only_child(const xmlNode *el, const char *name)
{
    const xmlNode *f = NULL;
    for (const xmlNode *c = el->children; c != NULL; c = c->next)
        if (is_xenc(c, name)) {
            if (f != NULL)
                return NULL;
            f = c;
        }
    return f;
}

/* xenc:EncryptedKey (W3C XML Encryption §3.5.1) -> the unwrapped key in dst (cap octets).
 * EncryptionMethod must be AES-256 key wrap (RFC 3394) or with padding (RFC 5649), the cipher
 * text a CipherData/CipherValue (no CipherReference: nothing is fetched); ds:KeyInfo and other
 * optional children are ignored (the key is the TrK given by the caller). */
static mcx_status unwrap_key(const char *parent, const xmlNode *el, const xmlNode *ek, uint8_t *dst,
                             size_t cap, size_t *got)
{
    if (parse_trk == NULL)
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "KMS XML: %s/%s: key wrapped with the transport key "
                        "(xenc:EncryptedKey) is not supported without a TrK",
                        parent, nm(el));
    for (const xmlNode *c = el->children; c != NULL; c = c->next) {
        int blank = c->type == XML_TEXT_NODE && xmlIsBlankNode(c);
        if (c != ek && !blank && c->type != XML_COMMENT_NODE)
            return MCX_FAIL(MCX_E_ENCODING,
                            "KMS XML: %s/%s: text or elements beside xenc:EncryptedKey", parent,
                            nm(el));
    }
    const xmlNode *em = only_child(ek, "EncryptionMethod");
    const xmlNode *cd = only_child(ek, "CipherData");
    const xmlNode *cv = cd ? only_child(cd, "CipherValue") : NULL;
    if (em == NULL || cv == NULL)
        return MCX_FAIL(cd && only_child(cd, "CipherReference") ? MCX_E_UNSUPPORTED
                                                                : MCX_E_ENCODING,
                        "KMS XML: %s/%s: xenc:EncryptedKey needs one EncryptionMethod and "
                        "CipherData/CipherValue",
                        parent, nm(el));
    xmlChar *alg = xmlGetNoNsProp(em, (const xmlChar *)"Algorithm");
    int padded = -1;
    if (alg && strcmp((const char *)alg, MCX_KMS_XENC_KW_AES256) == 0)
        padded = 0;
    else if (alg && strcmp((const char *)alg, MCX_KMS_XENC_KW_AES256_PAD) == 0)
        padded = 1;
    if (padded < 0) {
        mcx_status st = MCX_FAIL(MCX_E_UNSUPPORTED,
                                 "KMS XML: %s/%s: EncryptionMethod '%.80s' (expected AES-256 key "
                                 "wrap %s or %s)",
                                 parent, nm(el), alg ? (const char *)alg : "(none)",
                                 MCX_KMS_XENC_KW_AES256, MCX_KMS_XENC_KW_AES256_PAD);
        xmlFree(alg);
        return st;
    }
    xmlFree(alg);
    /* base64Binary may hold whitespace (xmlsec1 breaks lines): copy without it. */
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, cv, &t, &n));
    mcx_status st = MCX_OK;
    uint8_t ct[MCX_KMS_WRAP_MAX_BYTES + 8];
    size_t ct_len = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r')
            t[k++] = t[i];
    st = b64_decode(t, k, ct, sizeof ct, &ct_len);
    if (st != MCX_OK) {
        st = MCX_FAIL(st, "KMS XML: %s/%s: CipherValue is not base64 of at most %zu octets", parent,
                      nm(el), sizeof ct);
    } else {
        st = mcx_kms_key_unwrap(parse_trk, padded, ct, ct_len, dst, cap, got);
        if (st == MCX_E_TAG_INVALID)
            st = MCX_FAIL(st,
                          "KMS XML: %s/%s: wrapped key fails the key wrap integrity check "
                          "(wrong TrK or altered)",
                          parent, nm(el));
        else if (st != MCX_OK)
            st = MCX_FAIL(st, "KMS XML: %s/%s: %zu octets of %s cannot be unwrapped here", parent,
                          nm(el), ct_len, padded ? "RFC 5649" : "RFC 3394");
    }
    mcx_memzero(ct, sizeof ct);
    text_free(t, n);
    return st;
}

/* A key or point: hex or base64 text (FORMATS §8) of exactly want octets (want_max when 0 <
 * want_max: a variable length up to it). prefix04: the first octet must be 0x04 (uncompressed
 * point, RFC 6507 §3.2 / RFC 6508 §2.1). A key wrapped in an xenc:EncryptedKey child (xsi:type
 * EncKeyContentType, TS 33.180 D.3) is unwrapped with parse_trk, and refused without one. */
static mcx_status get_key(const char *parent, const xmlNode *el, uint8_t *dst, size_t want,
                          size_t *var_len, int prefix04)
{
    for (const xmlNode *c = el->children; c != NULL; c = c->next)
        if (is_xenc(c, NULL)) {
            if (!is_xenc(c, "EncryptedKey"))
                return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: unexpected xenc:%s", parent,
                                nm(el), nm(c));
            uint8_t *wide = mcx_secure_alloc(want + 16);
            if (wide == NULL)
                return MCX_FAIL(MCX_E_NOMEM, "out of memory");
            size_t got = 0;
            mcx_status st = unwrap_key(parent, el, c, wide, want + 16, &got);
            if (st == MCX_OK && var_len == NULL && got != want)
                st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: %zu octets unwrapped, expected %zu",
                              parent, nm(el), got, want);
            else if (st == MCX_OK && var_len != NULL && (got == 0 || got > want))
                st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: %zu octets unwrapped, expected 1..%zu",
                              parent, nm(el), got, want);
            else if (st == MCX_OK && prefix04 && wide[0] != 0x04)
                st = MCX_FAIL(MCX_E_ENCODING,
                              "KMS XML: %s/%s: unwrapped first octet 0x%02x, expected 0x04", parent,
                              nm(el), wide[0]);
            if (st == MCX_OK) {
                memcpy(dst, wide, got);
                if (var_len)
                    *var_len = got;
            }
            mcx_secure_free(wide);
            return st;
        }
    char *t;
    size_t n;
    MCX_GUARD(leaf_text(parent, el, &t, &n));
    size_t got = 0;
    mcx_status st = MCX_OK;
    if (n == 0) {
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: empty", parent, nm(el));
    } else if (n / 2 > want + 2 && n / 4 * 3 > want + 2) {
        /* Too long in either encoding: refuse before decoding (and say how long). */
        st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: %zu characters, expected %zu octets", parent,
                      nm(el), n, want);
    } else {
        /* Decode into a buffer with room to spare so that a long value is reported with its
         * length rather than as an overflow. */
        uint8_t *wide = mcx_secure_alloc(want + 3);
        if (wide == NULL) {
            st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
        } else {
            st = mcx_kms_key_decode(t, wide, want + 3, &got);
            if (st != MCX_OK)
                st = MCX_FAIL(st, "KMS XML: %s/%s: %s", parent, nm(el),
                              st == MCX_E_LENGTH ? "too long" : "neither hex nor base64 text");
            else if (var_len == NULL && got != want)
                st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: %zu octets, expected %zu", parent,
                              nm(el), got, want);
            else if (var_len != NULL && (got == 0 || got > want))
                st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: %zu octets, expected 1..%zu", parent,
                              nm(el), got, want);
            else if (prefix04 && wide[0] != 0x04)
                st = MCX_FAIL(MCX_E_ENCODING,
                              "KMS XML: %s/%s: first octet 0x%02x, expected 0x04 "
                              "(uncompressed point)",
                              parent, nm(el), wide[0]);
            if (st == MCX_OK) {
                memcpy(dst, wide, got);
                if (var_len)
                    *var_len = got;
            }
            mcx_secure_free(wide);
        }
    }
    text_free(t, n);
    return st;
}

/* Attribute value (no namespace) into dst; absent leaves dst "". */
static mcx_status get_attr(const char *parent, const xmlNode *el, const char *name, char *dst,
                           size_t cap)
{
    xmlChar *v = xmlGetNoNsProp(el, (const xmlChar *)name);
    if (v == NULL)
        return MCX_OK;
    size_t n = strlen((const char *)v);
    mcx_status st = MCX_OK;
    if (n >= cap)
        st = MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s@%s: %zu characters, at most %zu", parent,
                      nm(el), name, n, cap - 1);
    else
        memcpy(dst, v, n + 1);
    xmlFree(v);
    return st;
}

/* One field of a complex type's sequence. */
typedef struct field {
    const char *name;
    int required;
    size_t max; /* occurrences allowed */
} field;

/* Walk el's children against fields[0..n) in order; calls fn(ctx, index, child) for each. */
typedef mcx_status (*field_fn)(void *ctx, size_t idx, const char *parent, const xmlNode *child);

static mcx_status walk_seq(const xmlNode *el, const field *fields, size_t n, field_fn fn, void *ctx)
{
    const char *parent = nm(el);
    size_t seen[24] = {0};
    size_t pos = 0;
    if (n > 24)
        return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: field table too long");
    for (const xmlNode *c = el->children; c != NULL; c = c->next) {
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
            continue;
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            for (const xmlChar *p = c->content; p && *p; p++)
                if (!isspace(*p))
                    return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s: text where only elements belong",
                                    parent);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s: unexpected node (type %d)", parent,
                            (int)c->type);
        if (c->ns == NULL)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: element in no namespace, expected %s",
                            parent, nm(c), MCX_KMS_XML_NS);
        if (!is_ours(c))
            continue; /* <xs:any namespace="##other" processContents="lax"/> */
        size_t j = pos;
        while (j < n && strcmp(fields[j].name, nm(c)) != 0)
            j++;
        if (j == n) {
            for (size_t k = 0; k < pos; k++)
                if (strcmp(fields[k].name, nm(c)) == 0)
                    return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: %s", parent, nm(c),
                                    seen[k] >= fields[k].max ? "duplicate element"
                                                             : "element out of order");
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: unexpected element", parent, nm(c));
        }
        for (size_t k = pos; k < j; k++)
            if (fields[k].required && seen[k] == 0)
                return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: missing (before %s)", parent,
                                fields[k].name, nm(c));
        if (seen[j] >= fields[j].max)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: %s", parent, nm(c),
                            fields[j].max == 1 ? "duplicate element" : "too many elements");
        seen[j]++;
        MCX_GUARD(fn(ctx, j, parent, c));
        pos = fields[j].max == 1 ? j + 1 : j;
    }
    for (size_t k = pos; k < n; k++)
        if (fields[k].required && seen[k] == 0)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: missing", parent, fields[k].name);
    return MCX_OK;
}

/* ---------- KmsCertificate ---------- */

enum {
    C_CERTURI,
    C_KMSURI,
    C_ISSUER,
    C_VFROM,
    C_VTO,
    C_REVOKED,
    C_UIDFMT,
    C_PERIOD,
    C_OFFSET,
    C_PUBENC,
    C_PUBAUTH,
    C_PARAMSET,
    C_DOMAINS
};
static const field cert_fields[] = {
    {"CertUri", 0, 1},       {"KmsUri", 1, 1},    {"Issuer", 0, 1},       {"ValidFrom", 0, 1},
    {"ValidTo", 0, 1},       {"Revoked", 0, 1},   {"UserIdFormat", 1, 1}, {"UserKeyPeriod", 1, 1},
    {"UserKeyOffset", 1, 1}, {"PubEncKey", 1, 1}, {"PubAuthKey", 1, 1},   {"ParameterSet", 0, 1},
    {"KmsDomainList", 0, 1},
};

static mcx_status domain_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    (void)idx;
    mcx_kms_certificate *cert = ctx;
    if (cert->n_domains == MCX_KMS_MAX_DOMAINS)
        return MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: more than %d domains", parent, nm(c),
                        MCX_KMS_MAX_DOMAINS);
    return get_string(parent, c, cert->domains[cert->n_domains++], MCX_KMS_TEXT_MAX, 1);
}

static mcx_status cert_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    mcx_kms_certificate *cert = ctx;
    switch (idx) {
    case C_CERTURI:
        return get_string(parent, c, cert->cert_uri, sizeof cert->cert_uri, 1);
    case C_KMSURI:
        return get_string(parent, c, cert->kms_uri, sizeof cert->kms_uri, 1);
    case C_ISSUER:
        return get_string(parent, c, cert->issuer, sizeof cert->issuer, 0);
    case C_VFROM:
        cert->has_valid_from = 1;
        return get_time(parent, c, &cert->valid_from);
    case C_VTO:
        cert->has_valid_to = 1;
        return get_time(parent, c, &cert->valid_to);
    case C_REVOKED:
        return get_bool(parent, c, &cert->revoked);
    case C_UIDFMT:
        return get_string(parent, c, cert->user_id_format, sizeof cert->user_id_format, 1);
    case C_PERIOD:
        MCX_GUARD(get_u64(parent, c, &cert->user_key_period));
        /* The key period number is (t - offset) / period (TS 33.180 F.2.1): 0 is unusable. */
        if (cert->user_key_period == 0)
            return MCX_FAIL(MCX_E_RANGE, "KMS XML: %s/%s: 0, expected a period > 0", parent, nm(c));
        return MCX_OK;
    case C_OFFSET:
        return get_u64(parent, c, &cert->user_key_offset);
    case C_PUBENC:
        return get_key(parent, c, cert->z, MCX_KMS_Z_BYTES, NULL, 1);
    case C_PUBAUTH:
        return get_key(parent, c, cert->kpak, MCX_KMS_KPAK_BYTES, NULL, 1);
    case C_PARAMSET: {
        uint64_t v;
        MCX_GUARD(get_u64(parent, c, &v));
        if (v > UINT32_MAX)
            return MCX_FAIL(MCX_E_RANGE, "KMS XML: %s/%s: out of range", parent, nm(c));
        cert->has_parameter_set = 1;
        cert->parameter_set = (uint32_t)v;
        return MCX_OK;
    }
    case C_DOMAINS: {
        static const field dom[] = {{"KmsDomain", 1, MCX_KMS_MAX_DOMAINS + 1}};
        return walk_seq(c, dom, 1, domain_field, cert);
    }
    }
    return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: certificate field %zu", idx);
}

static mcx_status parse_cert(const xmlNode *el, int signed_form, mcx_kms_certificate *cert)
{
    memset(cert, 0, sizeof *cert);
    cert->signed_form = signed_form;
    const char *p = nm(el);
    MCX_GUARD(get_attr(p, el, "Version", cert->version, sizeof cert->version));
    char role[16] = "", gw[8] = "";
    MCX_GUARD(get_attr(p, el, "Role", role, sizeof role));
    MCX_GUARD(get_attr(p, el, "IsSecurityGateway", gw, sizeof gw));
    if (role[0] == '\0')
        cert->role = MCX_KMS_ROLE_NONE;
    else if (strcmp(role, "Root") == 0)
        cert->role = MCX_KMS_ROLE_ROOT;
    else if (strcmp(role, "External") == 0)
        cert->role = MCX_KMS_ROLE_EXTERNAL;
    else
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s@Role: '%s', expected Root or External", p,
                        role);
    if (gw[0] == '\0')
        cert->is_security_gateway = MCX_KMS_ABSENT;
    else if (strcmp(gw, "true") == 0 || strcmp(gw, "1") == 0)
        cert->is_security_gateway = MCX_KMS_TRUE;
    else if (strcmp(gw, "false") == 0 || strcmp(gw, "0") == 0)
        cert->is_security_gateway = MCX_KMS_FALSE;
    else
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s@IsSecurityGateway: not a boolean", p);
    return walk_seq(el, cert_fields, sizeof cert_fields / sizeof cert_fields[0], cert_field, cert);
}

/* SignedKmsCertificate: KmsCertificate then an optional ds:Signature (skipped, not verified). */
static mcx_status signed_cert_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    (void)idx;
    (void)parent;
    return parse_cert(c, 1, ctx);
}

static mcx_status parse_signed_cert(const xmlNode *el, mcx_kms_certificate *cert)
{
    static const field f[] = {{"KmsCertificate", 1, 1}};
    return walk_seq(el, f, 1, signed_cert_field, cert);
}

/* ---------- KmsKeySet ---------- */

enum {
    K_KMSURI,
    K_CERTURI,
    K_ISSUER,
    K_USERURI,
    K_USERID,
    K_VFROM,
    K_VTO,
    K_PERIODNO,
    K_REVOKED,
    K_RSK,
    K_SSK,
    K_PVT
};
static const field keyset_fields[] = {
    {"KmsUri", 1, 1},
    {"CertUri", 0, 1},
    {"Issuer", 0, 1},
    {"UserUri", 1, 1},
    {"UserID", 1, 1},
    {"ValidFrom", 0, 1},
    {"ValidTo", 0, 1},
    {"KeyPeriodNo", 1, 1},
    {"Revoked", 0, 1},
    {"UserDecryptKey", 1, 1},
    {"UserSigningKeySSK", 1, 1},
    {"UserPubTokenPVT", 1, 1},
};

static mcx_status keyset_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    mcx_kms_key_set *ks = ctx;
    switch (idx) {
    case K_KMSURI:
        return get_string(parent, c, ks->kms_uri, sizeof ks->kms_uri, 1);
    case K_CERTURI:
        return get_string(parent, c, ks->cert_uri, sizeof ks->cert_uri, 1);
    case K_ISSUER:
        return get_string(parent, c, ks->issuer, sizeof ks->issuer, 0);
    case K_USERURI:
        return get_string(parent, c, ks->user_uri, sizeof ks->user_uri, 1);
    case K_USERID:
        return get_key(parent, c, ks->user_id, MCX_KMS_UID_MAX_BYTES, &ks->user_id_len, 0);
    case K_VFROM:
        ks->has_valid_from = 1;
        return get_time(parent, c, &ks->valid_from);
    case K_VTO:
        ks->has_valid_to = 1;
        return get_time(parent, c, &ks->valid_to);
    case K_PERIODNO:
        return get_u64(parent, c, &ks->key_period_no);
    case K_REVOKED:
        return get_bool(parent, c, &ks->revoked);
    case K_RSK:
        return get_key(parent, c, ks->rsk, MCX_KMS_RSK_BYTES, NULL, 1);
    case K_SSK:
        return get_key(parent, c, ks->ssk, MCX_KMS_SSK_BYTES, NULL, 0);
    case K_PVT:
        return get_key(parent, c, ks->pvt, MCX_KMS_PVT_BYTES, NULL, 1);
    }
    return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: key set field %zu", idx);
}

/* ---------- KmsResponse ---------- */

typedef struct resp_ctx {
    mcx_kms_response *r;
    int have_message;
} resp_ctx;

enum { M_CERT_SIGNED, M_CERT, M_NEW_TRK, M_NEW_INK };
enum { P_KEYSET, P_NEW_TRK, P_NEW_INK };
enum { CC_SIGNED, CC_CERT };

static mcx_status init_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    (void)parent;
    mcx_kms_response *r = ctx;
    switch (idx) {
    case M_CERT_SIGNED:
    case M_CERT:
        if (r->n_certs != 0)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: KmsInit/%s: a second certificate", nm(c));
        r->n_certs = 1;
        return idx == M_CERT ? parse_cert(c, 0, &r->certs[0]) : parse_signed_cert(c, &r->certs[0]);
    case M_NEW_TRK:
        r->n_new_transport_keys++;
        return MCX_OK;
    case M_NEW_INK:
        r->n_new_integrity_keys++;
        return MCX_OK;
    }
    return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: init field %zu", idx);
}

static mcx_status keyprov_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    mcx_kms_response *r = ctx;
    switch (idx) {
    case P_KEYSET: {
        if (r->n_key_sets == MCX_KMS_MAX_KEY_SETS)
            return MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: more than %d key sets", parent, nm(c),
                            MCX_KMS_MAX_KEY_SETS);
        mcx_kms_key_set *ks = &r->key_sets[r->n_key_sets++];
        MCX_GUARD(get_attr(nm(c), c, "Version", ks->version, sizeof ks->version));
        return walk_seq(c, keyset_fields, sizeof keyset_fields / sizeof keyset_fields[0],
                        keyset_field, ks);
    }
    case P_NEW_TRK:
        r->n_new_transport_keys++;
        return MCX_OK;
    case P_NEW_INK:
        r->n_new_integrity_keys++;
        return MCX_OK;
    }
    return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: keyprov field %zu", idx);
}

static mcx_status certcache_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    mcx_kms_response *r = ctx;
    if (r->n_certs == MCX_KMS_MAX_CERTS)
        return MCX_FAIL(MCX_E_LENGTH, "KMS XML: %s/%s: more than %d certificates", parent, nm(c),
                        MCX_KMS_MAX_CERTS);
    mcx_kms_certificate *cert = &r->certs[r->n_certs++];
    return idx == CC_CERT ? parse_cert(c, 0, cert) : parse_signed_cert(c, cert);
}

static mcx_status message_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    (void)idx;
    (void)parent;
    mcx_kms_response *r = ctx;
    if (r->type != MCX_KMS_MSG_NONE)
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: KmsMessage/%s: a second message", nm(c));
    MCX_GUARD(get_attr(nm(c), c, "Version", r->msg_version, sizeof r->msg_version));
    if (strcmp(nm(c), "KmsInit") == 0) {
        static const field f[] = {{"SignedKmsCertificate", 0, 1},
                                  {"KmsCertificate", 0, 1},
                                  {"NewTransportKey", 0, 64},
                                  {"NewIntegrityKey", 0, 64}};
        r->type = MCX_KMS_MSG_INIT;
        r->certs = calloc(1, sizeof *r->certs);
        if (r->certs == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "out of memory");
        MCX_GUARD(walk_seq(c, f, 4, init_field, r));
        if (r->n_certs != 1)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: KmsInit/KmsCertificate: missing");
        return MCX_OK;
    }
    if (strcmp(nm(c), "KmsKeyProv") == 0) {
        static const field f[] = {{"KmsKeySet", 0, MCX_KMS_MAX_KEY_SETS + 1},
                                  {"NewTransportKey", 0, 64},
                                  {"NewIntegrityKey", 0, 64}};
        r->type = MCX_KMS_MSG_KEYPROV;
        r->key_sets = mcx_secure_alloc(MCX_KMS_MAX_KEY_SETS * sizeof *r->key_sets);
        if (r->key_sets == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "out of memory");
        return walk_seq(c, f, 3, keyprov_field, r);
    }
    /* KmsCertCache */
    static const field f[] = {{"SignedKmsCertificate", 0, MCX_KMS_MAX_CERTS + 1},
                              {"KmsCertificate", 0, MCX_KMS_MAX_CERTS + 1}};
    r->type = MCX_KMS_MSG_CERTCACHE;
    char num[24] = "";
    MCX_GUARD(get_attr(nm(c), c, "CacheNum", num, sizeof num));
    if (num[0] != '\0') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(num, &end, 10);
        if (num[0] < '0' || num[0] > '9' || errno != 0 || *end != '\0')
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: KmsCertCache@CacheNum: '%s' is not a number",
                            num);
        r->has_cache_num = 1;
        r->cache_num = v;
    }
    r->certs = calloc(MCX_KMS_MAX_CERTS, sizeof *r->certs);
    if (r->certs == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    return walk_seq(c, f, 2, certcache_field, r);
}

static mcx_status error_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    int64_t *code = ((void **)ctx)[0];
    char *msg = ((void **)ctx)[1];
    if (idx == 0)
        return get_i64(parent, c, code);
    return get_string(parent, c, msg, MCX_KMS_MSG_MAX, 0);
}

static mcx_status parse_error(const xmlNode *el, int64_t *code, char *msg)
{
    static const field f[] = {{"ErrorCode", 1, 1}, {"ErrorMsg", 1, 1}};
    void *ctx[2] = {code, msg};
    return walk_seq(el, f, 2, error_field, ctx);
}

enum { R_USERURI, R_KMSURI, R_TIME, R_KMSID, R_REQURL, R_MESSAGE, R_ERROR };
static const field resp_fields[] = {
    {"UserUri", 1, 1},      {"KmsUri", 1, 1},     {"Time", 1, 1},     {"KmsId", 0, 1},
    {"ClientReqUrl", 1, 1}, {"KmsMessage", 0, 1}, {"KmsError", 0, 1},
};

static mcx_status resp_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    mcx_kms_response *r = ctx;
    switch (idx) {
    case R_USERURI:
        return get_string(parent, c, r->user_uri, sizeof r->user_uri, 1);
    case R_KMSURI:
        return get_string(parent, c, r->kms_uri, sizeof r->kms_uri, 1);
    case R_TIME:
        return get_time(parent, c, &r->time);
    case R_KMSID:
        return get_string(parent, c, r->kms_id, sizeof r->kms_id, 0);
    case R_REQURL:
        return get_string(parent, c, r->client_req_url, sizeof r->client_req_url, 1);
    case R_MESSAGE: {
        static const field f[] = {{"KmsInit", 0, 1}, {"KmsKeyProv", 0, 1}, {"KmsCertCache", 0, 1}};
        MCX_GUARD(walk_seq(c, f, 3, message_field, r));
        if (r->type == MCX_KMS_MSG_NONE)
            return MCX_FAIL(MCX_E_ENCODING,
                            "KMS XML: KmsMessage: empty (expected KmsInit, KmsKeyProv or "
                            "KmsCertCache)");
        return MCX_OK;
    }
    case R_ERROR:
        /* The schema allows KmsMessage and KmsError in one response; the meaning of both is not
         * defined, so a response must carry one or the other. */
        if (r->type != MCX_KMS_MSG_NONE)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: KmsResponse/KmsError: after a KmsMessage");
        r->type = MCX_KMS_MSG_ERROR;
        return parse_error(c, &r->error_code, r->error_msg);
    }
    return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: response field %zu", idx);
}

/* ---------- KmsRequest ---------- */

enum { Q_USERURI, Q_KMSURI, Q_TIME, Q_CLIENTID, Q_DEVICEID, Q_REQURL, Q_KRR, Q_ERROR };
static const field req_fields[] = {
    {"UserUri", 1, 1},  {"KmsUri", 1, 1},       {"Time", 1, 1},    {"ClientId", 0, 1},
    {"DeviceId", 0, 1}, {"ClientReqUrl", 1, 1}, {"KrrList", 0, 1}, {"ClientError", 0, 1},
};

static mcx_status req_field(void *ctx, size_t idx, const char *parent, const xmlNode *c)
{
    mcx_kms_request *q = ctx;
    switch (idx) {
    case Q_USERURI:
        return get_string(parent, c, q->user_uri, sizeof q->user_uri, 1);
    case Q_KMSURI:
        return get_string(parent, c, q->kms_uri, sizeof q->kms_uri, 1);
    case Q_TIME:
        return get_time(parent, c, &q->time);
    case Q_CLIENTID:
        return get_string(parent, c, q->client_id, sizeof q->client_id, 0);
    case Q_DEVICEID:
        return get_string(parent, c, q->device_id, sizeof q->device_id, 0);
    case Q_REQURL:
        return get_string(parent, c, q->client_req_url, sizeof q->client_req_url, 1);
    case Q_KRR:
        q->has_krr_list = 1; /* urn:3gpp:ns:mcsecKMSKRR:1.0 content, not interpreted */
        for (const xmlNode *k = c->children; k != NULL; k = k->next)
            if (k->type == XML_ELEMENT_NODE && is_ours(k))
                return MCX_FAIL(MCX_E_ENCODING, "KMS XML: KrrList/%s: unexpected element", nm(k));
        return MCX_OK;
    case Q_ERROR:
        q->has_client_error = 1;
        return parse_error(c, &q->client_error_code, q->client_error_msg);
    }
    return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: request field %zu", idx);
}

/* ---------- document ---------- */

/* Wipe the text of every node (key text must not linger in freed libxml2 memory). */
static void wipe_tree(xmlDict *dict, xmlNode *n)
{
    for (; n != NULL; n = n->next) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content &&
            (dict == NULL || !xmlDictOwns(dict, n->content)))
            mcx_memzero(n->content, strlen((const char *)n->content));
        if (n->type == XML_ELEMENT_NODE)
            wipe_tree(dict, n->children);
    }
}

mcx_status mcx_kms_xml_read_doc(const uint8_t *xml, size_t len, unsigned flags, xmlDoc **out)
{
    *out = NULL;
    if (xml == NULL && len != 0)
        return MCX_FAIL(MCX_E_ARG, "KMS XML: NULL document");
    if (len == 0)
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: empty document");
    if (len > MCX_KMS_XML_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "KMS XML: document of %zu octets, at most %u", len,
                        MCX_KMS_XML_MAX_BYTES);
    /* No DTD at all: refuse before libxml2 parses one (XXE, billion laughs). The DOCTYPE can
     * only follow the XML declaration, comments and PIs, but any occurrence is refused. */
    static const char dt[] = "<!DOCTYPE";
    for (size_t i = 0; i + sizeof dt - 1 <= len; i++)
        if (xml[i] == '<' && memcmp(xml + i, dt, sizeof dt - 1) == 0)
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: a DOCTYPE (DTD) is not allowed");
    pthread_once(&xml_once, xml_init);
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    /* NONET: no network; no NOENT/DTDLOAD/DTDATTR: entities are not substituted and no external
     * subset is read; NODICT: text is not interned, so wipe_tree reaches it. */
    int opts = XML_PARSE_NONET | XML_PARSE_NODICT | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, (const char *)xml, (int)len, NULL, NULL, opts);
    mcx_status st = MCX_OK;
    if (doc == NULL) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[160] = "not well-formed";
        if (e != NULL && e->message != NULL) {
            snprintf(msg, sizeof msg, "%s", e->message);
            size_t k = strlen(msg);
            while (k > 0 && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
                msg[--k] = '\0';
        }
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: not well-formed at line %d: %s", e ? e->line : 0,
                      msg);
    } else if (doc->intSubset != NULL || doc->extSubset != NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: a DOCTYPE (DTD) is not allowed");
    }
    xmlFreeParserCtxt(ctxt);
    if (st != MCX_OK) {
        if (doc) {
            wipe_tree(doc->dict, doc->children);
            xmlFreeDoc(doc);
        }
        return st;
    }
    if (flags & MCX_KMS_XML_VALIDATE) {
        st = mcx_kms_xml_validate(xml, len);
        if (st != MCX_OK) {
            wipe_tree(doc->dict, doc->children);
            xmlFreeDoc(doc);
            return st;
        }
    }
    *out = doc;
    return MCX_OK;
}

void mcx_kms_xml_free_doc(xmlDoc *doc)
{
    if (doc) {
        wipe_tree(doc->dict, doc->children);
        xmlFreeDoc(doc);
    }
}

/* The root must be name (or Signed<name> wrapping it) in the Annex D namespace; returns the
 * inner element. */
static mcx_status find_root(xmlDoc *doc, const char *name, const xmlNode **inner, int *signed_form)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (root == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: no root element");
    if (!is_ours(root))
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s: namespace '%s', expected %s", nm(root),
                        root->ns && root->ns->href ? (const char *)root->ns->href : "(none)",
                        MCX_KMS_XML_NS);
    if (strcmp(nm(root), name) == 0) {
        *inner = root;
        *signed_form = 0;
        return MCX_OK;
    }
    if (strncmp(nm(root), "Signed", 6) != 0 || strcmp(nm(root) + 6, name) != 0)
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: root <%s>, expected %s or Signed%s", nm(root),
                        name, name);
    /* Signed form: the message then ds:Signature (TS 33.180 D.2; signature not verified). */
    const xmlNode *msg = NULL;
    for (const xmlNode *c = root->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_ours(c) && strcmp(nm(c), name) == 0) {
            if (msg != NULL)
                return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: duplicate element", nm(root),
                                name);
            msg = c;
        } else if (is_ours(c) || c->ns == NULL) {
            return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: unexpected element", nm(root), nm(c));
        }
    }
    if (msg == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "KMS XML: %s/%s: missing", nm(root), name);
    *inner = msg;
    *signed_form = 1;
    return MCX_OK;
}

void mcx_kms_response_free(mcx_kms_response *r)
{
    if (r == NULL)
        return;
    free(r->certs);
    mcx_secure_free(r->key_sets);
    mcx_memzero(r, sizeof *r);
}

mcx_status mcx_kms_response_from_el(const xmlNode *el, const uint8_t *trk, mcx_kms_response *out)
{
    parse_trk = trk;
    mcx_status st =
        walk_seq(el, resp_fields, sizeof resp_fields / sizeof resp_fields[0], resp_field, out);
    parse_trk = NULL;
    return st;
}

mcx_status mcx_kms_response_parse_wrapped(const uint8_t *xml, size_t len, unsigned flags,
                                          const uint8_t trk[MCX_KMS_TRK_BYTES],
                                          mcx_kms_response *out)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML: NULL response");
    memset(out, 0, sizeof *out);
    xmlDoc *doc;
    MCX_GUARD(mcx_kms_xml_read_doc(xml, len, flags, &doc));
    const xmlNode *el;
    int signed_form;
    mcx_status st = find_root(doc, "KmsResponse", &el, &signed_form);
    if (st == MCX_OK) {
        out->signed_form = signed_form;
        st = mcx_kms_response_from_el(el, trk, out);
    }
    mcx_kms_xml_free_doc(doc);
    if (st != MCX_OK)
        mcx_kms_response_free(out);
    return st;
}

mcx_status mcx_kms_response_parse(const uint8_t *xml, size_t len, unsigned flags,
                                  mcx_kms_response *out)
{
    return mcx_kms_response_parse_wrapped(xml, len, flags, NULL, out);
}

mcx_status mcx_kms_request_parse(const uint8_t *xml, size_t len, unsigned flags,
                                 mcx_kms_request *out)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML: NULL request");
    memset(out, 0, sizeof *out);
    xmlDoc *doc;
    MCX_GUARD(mcx_kms_xml_read_doc(xml, len, flags, &doc));
    const xmlNode *el;
    int signed_form;
    mcx_status st = find_root(doc, "KmsRequest", &el, &signed_form);
    if (st == MCX_OK) {
        out->signed_form = signed_form;
        st = walk_seq(el, req_fields, sizeof req_fields / sizeof req_fields[0], req_field, out);
    }
    mcx_kms_xml_free_doc(doc);
    if (st != MCX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---------- schema validation ---------- */

typedef struct verr {
    char msg[200];
    int line;
    int set;
} verr;

static void schema_error(void *ctx, xmlErrorPtr e)
{
    verr *v = ctx;
    if (v->set || e == NULL)
        return;
    v->set = 1;
    v->line = e->line;
    snprintf(v->msg, sizeof v->msg, "%s", e->message ? e->message : "invalid");
    size_t k = strlen(v->msg);
    while (k > 0 && (v->msg[k - 1] == '\n' || v->msg[k - 1] == ' '))
        v->msg[--k] = '\0';
}

/* The Annex D schema, compiled once per process: compiling it costs far more than validating a
 * response, and a KMS validates every request. A compiled schema is read-only and may be shared
 * by threads, each validating with its own context (libxml2's xmlschemas threading notes); it
 * lives until process exit. */
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static xmlSchema *compiled_schema;
static char compiled_schema_error[200];

static void schema_compile(void)
{
    pthread_once(&xml_once, xml_init);
    verr v = {{0}, 0, 0};
    const char *xsd = mcx_kms_xml_schema();
    xmlSchemaParserCtxt *pc = xmlSchemaNewMemParserCtxt(xsd, (int)strlen(xsd));
    if (pc == NULL) {
        snprintf(compiled_schema_error, sizeof compiled_schema_error, "out of memory");
        return;
    }
    xmlSchemaSetParserStructuredErrors(pc, schema_error, &v);
    compiled_schema = xmlSchemaParse(pc);
    if (compiled_schema == NULL)
        snprintf(compiled_schema_error, sizeof compiled_schema_error, "%s", v.msg);
    xmlSchemaFreeParserCtxt(pc);
}

mcx_status mcx_kms_xml_validate(const uint8_t *xml, size_t len)
{
    pthread_once(&schema_once, schema_compile);
    if (compiled_schema == NULL)
        return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: compiled-in schema does not load: %s",
                        compiled_schema_error);
    xmlDoc *doc;
    MCX_GUARD(mcx_kms_xml_read_doc(xml, len, 0, &doc));
    verr v = {{0}, 0, 0};
    mcx_status st = MCX_OK;
    xmlSchemaValidCtxt *vc = xmlSchemaNewValidCtxt(compiled_schema);
    if (vc == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
        goto out;
    }
    xmlSchemaSetValidStructuredErrors(vc, schema_error, &v);
    int rc = xmlSchemaValidateDoc(vc, doc);
    if (rc != 0)
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML: not valid against the Annex D schema (line %d): %s",
                      v.line, v.set ? v.msg : "invalid");
out:
    if (vc)
        xmlSchemaFreeValidCtxt(vc);
    mcx_kms_xml_free_doc(doc);
    return st;
}
