/* Small encoders shared by the IdMS: base64url, random tokens, SHA-256 hex, PKCE S256, scope
 * lists, and a growable string for HTML pages and redirect URLs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void idms_b64url(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
}

mcx_status idms_random_token(char out[IDMS_TOKEN_CHARS + 1])
{
    uint8_t r[32];
    MCX_GUARD(mcx_random(r, sizeof r));
    idms_b64url(r, sizeof r, out);
    mcx_memzero(r, sizeof r);
    return MCX_OK;
}

mcx_status idms_random_hex(char *out, size_t n)
{
    uint8_t r[64];
    if (n > sizeof r)
        return MCX_FAIL(MCX_E_ARG, "IdMS: random hex of %zu octets", n);
    MCX_GUARD(mcx_random(r, n));
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[2 * n] = '\0';
    return MCX_OK;
}

void idms_sha256_hex(const char *s, char out[IDMS_HASH_HEX])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), d);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof d; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * sizeof d] = '\0';
}

void idms_pkce_s256(const char *verifier, char out[IDMS_TOKEN_CHARS + 1])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)verifier, strlen(verifier), d);
    idms_b64url(d, sizeof d, out);
}

int idms_is_unreserved(const char *s, size_t min, size_t max)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok || n >= max)
            return 0;
    }
    return n >= min;
}

int idms_is_s256_challenge(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (!ok || n >= IDMS_TOKEN_CHARS)
            return 0;
    }
    return n == IDMS_TOKEN_CHARS;
}

int idms_scope_has(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (p != NULL && *p != '\0') {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
        if (l == tl && l > 0 && memcmp(p, tok, l) == 0)
            return 1;
        p = e;
    }
    return 0;
}

mcx_status idms_scope_canonical(const char *in, char *out, size_t cap)
{
    if (in == NULL || cap == 0)
        return MCX_FAIL(MCX_E_ARG, "scope: NULL argument");
    out[0] = '\0';
    size_t used = 0;
    const char *p = in;
    char tok[128];
    while (*p != '\0') {
        /* RFC 6749 §3.3: scope-token *( SP scope-token ) */
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        const char *e = p;
        while (*e != '\0' && *e != ' ')
            e++;
        size_t l = (size_t)(e - p);
        if (l >= sizeof tok)
            return MCX_FAIL(MCX_E_ENCODING, "scope: a scope of %zu characters", l);
        memcpy(tok, p, l);
        tok[l] = '\0';
        const char *c = mcx_scope_canonical(tok);
        if (c == NULL)
            return MCX_FAIL(MCX_E_ENCODING, "scope: unknown scope \"%.64s\"", tok);
        if (!idms_scope_has(out, c)) {
            size_t cl = strlen(c);
            if (used + (used > 0) + cl + 1 > cap)
                return MCX_FAIL(MCX_E_LENGTH, "scope: list too long");
            if (used > 0)
                out[used++] = ' ';
            memcpy(out + used, c, cl + 1);
            used += cl;
        }
        p = e;
    }
    return MCX_OK;
}

char *idms_printable(const char *s, int oauth)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = c >= 0x20 && c <= 0x7E && (!oauth || (c != '"' && c != '\\'));
        o[i] = ok ? (char)c : '?';
    }
    o[n] = '\0';
    return o;
}

static void buf_reserve(idms_buf *b, size_t more)
{
    if (b->oom)
        return;
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void idms_buf_addn(idms_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void idms_buf_add(idms_buf *b, const char *s)
{
    idms_buf_addn(b, s, strlen(s));
}

void idms_buf_addf(idms_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1;
        return;
    }
    idms_buf_addn(b, tmp, (size_t)n);
}

void idms_buf_add_html(idms_buf *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            idms_buf_add(b, "&amp;");
            break;
        case '<':
            idms_buf_add(b, "&lt;");
            break;
        case '>':
            idms_buf_add(b, "&gt;");
            break;
        case '"':
            idms_buf_add(b, "&quot;");
            break;
        case '\'':
            idms_buf_add(b, "&#39;");
            break;
        default:
            idms_buf_addn(b, s, 1);
        }
    }
}

void idms_buf_add_urlenc(idms_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            idms_buf_addn(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            idms_buf_addn(b, e, 3);
        }
    }
}

void idms_buf_free(idms_buf *b)
{
    if (b->p != NULL) {
        mcx_memzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

mcx_status idms_query(mcx_store *st, const char *sql, mcx_stmt **out, int *row, const char *types,
                      ...)
{
    mcx_stmt *s = NULL;
    *out = NULL;
    *row = 0;
    MCX_GUARD(mcx_store_prepare(st, sql, &s));
    va_list ap;
    va_start(ap, types);
    mcx_status rc = mcx_stmt_vbindf(s, types, ap);
    va_end(ap);
    if (rc == MCX_OK)
        rc = mcx_stmt_step(s, row);
    if (rc != MCX_OK) {
        mcx_stmt_done(s);
        return rc;
    }
    *out = s;
    return MCX_OK;
}

void idms_col(const mcx_stmt *s, int col, char *out, size_t cap)
{
    const char *t = mcx_stmt_text(s, col);
    if (t == NULL)
        t = "";
    snprintf(out, cap, "%s", t);
}
