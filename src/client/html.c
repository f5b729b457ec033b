/* Scraping the IdMS login page and reading the redirect that ends the login (login_internal.h).
 *
 * The page comes from the network: every scan is bounded by the given length, nothing recurses,
 * and every decoded value has a fixed ceiling. This is not an HTML parser; it understands what a
 * login form needs (HTML 5 §13.2.5 tag and attribute syntax, comments, raw-text elements, and
 * character references) and refuses anything it cannot read rather than guessing. */
#include <ctype.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"

void mcx_str_wipe_free(char *s)
{
    if (s == NULL)
        return;
    mcx_memzero(s, strlen(s));
    free(s);
}

const char *mcx_printable(const char *in, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(in != NULL ? in : "");
    for (; *p != '\0'; p++) {
        if (o + 1 >= cap) {
            /* cut: say so, rather than let a shortened text pass for the whole */
            for (size_t k = cap > 4 ? cap - 4 : 0; k < cap - 1; k++)
                out[k] = '.';
            o = cap - 1;
            break;
        }
        if (*p >= 0x20 && *p < 0x7f) {
            out[o++] = (char)*p;
            continue;
        }
        out[o++] = '?';
        /* one mark for a whole UTF-8 sequence: skip its continuation octets */
        if (*p >= 0xc0)
            while ((p[1] & 0xc0) == 0x80)
                p++;
    }
    out[o] = '\0';
    return out;
}

/* ---- PKCE ---- */

void mcx_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
    }
    out[o] = '\0';
}

mcx_status mcx_pkce_verifier(char out[MCX_PKCE_CHARS + 1])
{
    uint8_t r[32];
    MCX_GUARD(mcx_random(r, sizeof r));
    mcx_b64url_encode(r, sizeof r, out);
    mcx_memzero(r, sizeof r);
    return MCX_OK;
}

mcx_status mcx_pkce_challenge(const char *verifier, char out[MCX_PKCE_CHARS + 1])
{
    size_t n = verifier != NULL ? strlen(verifier) : 0;
    /* RFC 7636 §4.1: 43..128 characters of the unreserved set */
    if (n < 43 || n > 128)
        return MCX_FAIL(MCX_E_ARG, "PKCE: code_verifier of %zu characters, expected 43 to 128", n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)verifier[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'))
            return MCX_FAIL(MCX_E_ARG,
                            "PKCE: code_verifier has a character outside [A-Za-z0-9-._~]");
    }
    uint8_t h[SHA256_DIGEST_LENGTH];
    if (SHA256((const unsigned char *)verifier, n, h) == NULL)
        return MCX_FAIL(MCX_E_INTERNAL, "PKCE: SHA-256 failed");
    mcx_b64url_encode(h, sizeof h, out);
    return MCX_OK;
}

/* ---- a bounded tag reader ---- */

#define TAG_ATTRS_MAX 16
#define TAG_POOL      (2 * MCX_FORM_VALUE_MAX + 512)

typedef struct tag {
    char name[16]; /* lowercase; "" for a name longer than that (never one we want) */
    int closing;   /* </name> */
    size_t n_attrs;
    struct {
        char name[MCX_FORM_NAME_MAX + 1]; /* lowercase */
        size_t value;                     /* offset in pool */
    } attrs[TAG_ATTRS_MAX];
    size_t pool_len; /* octets of pool in use; always < TAG_POOL once a tag is being read */
    int overflow;    /* an attribute value did not fit: the tag's values are incomplete */
    /* the decoded values, NUL-terminated, back to back. Last member, so that a write one past it
     * leaves the allocation (valgrind and ASan see it) rather than silently hitting pool_len */
    char pool[TAG_POOL];
} tag;

typedef struct scan {
    const char *s;
    size_t len, pos;
} scan;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Whether s[pos..) starts with lit, ASCII case-insensitively. */
static int at_ci(const scan *sc, size_t pos, const char *lit)
{
    size_t k = strlen(lit);
    if (pos > sc->len || sc->len - pos < k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (lower(sc->s[pos + i]) != lit[i])
            return 0;
    return 1;
}

/* Position of the first lit (case-insensitive) at or after pos, or len. */
static size_t find_ci(const scan *sc, size_t pos, const char *lit)
{
    for (; pos < sc->len; pos++)
        if (at_ci(sc, pos, lit))
            return pos;
    return sc->len;
}

/* Append one code point as UTF-8 to the pool; 0 if it does not fit. */
static int pool_put_cp(tag *t, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd; /* HTML 5 §13.2.5.80: replaced, never a NUL */
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (t->pool_len + n + 1 > TAG_POOL)
        return 0;
    memcpy(t->pool + t->pool_len, u, n);
    t->pool_len += n;
    return 1;
}

/* Decode a character reference at s[0..n) (s[0] == '&'): the named ones a form uses and numeric
 * ones. Returns the octets consumed (0: not a reference, keep the '&' literally). */
static size_t char_ref(const char *s, size_t n, uint32_t *cp)
{
    static const struct {
        const char *name;
        uint32_t cp;
    } named[] = {{"&amp;", '&'},  {"&lt;", '<'},    {"&gt;", '>'},
                 {"&quot;", '"'}, {"&apos;", '\''}, {"&nbsp;", 0xa0}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t k = strlen(named[i].name);
        if (n >= k && memcmp(s, named[i].name, k) == 0) {
            *cp = named[i].cp;
            return k;
        }
    }
    if (n < 4 || s[1] != '#')
        return 0;
    size_t i = 2;
    int hex = i < n && (s[i] == 'x' || s[i] == 'X');
    if (hex)
        i++;
    uint32_t v = 0;
    size_t digits = 0;
    for (; i < n && digits < 8; i++, digits++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (hex && lower(c) >= 'a' && lower(c) <= 'f')
            d = lower(c) - 'a' + 10;
        else
            break;
        v = v * (hex ? 16u : 10u) + (uint32_t)d;
    }
    if (digits == 0 || i >= n || s[i] != ';')
        return 0;
    *cp = v;
    return i + 1;
}

/* Decode s[0..n) (an attribute value) into the pool, NUL-terminated; returns its offset. A value
 * that does not fit sets overflow and reads as "" (offset 0).
 *
 * Bounds: pool_len <= TAG_POOL always, and it reaches TAG_POOL when earlier values fill the pool
 * exactly (4096 + 4096 + 508 octets with their NULs). Nothing is stored at pool_len unless
 * pool_len < TAG_POOL: each octet only when its NUL still fits after it, so the final NUL has its
 * place; a refused value writes nothing (no NUL at start, which may be TAG_POOL). */
static size_t pool_put_decoded(tag *t, const char *s, size_t n)
{
    if (n == 0)
        return 0; /* "" needs no room: offset 0 is the empty string */
    size_t start = t->pool_len;
    if (start >= TAG_POOL - 1) {
        /* not even one octet and its NUL fit */
        t->overflow = 1;
        return 0;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = s[i] == '&' ? char_ref(s + i, n - i, &cp) : 0;
        int ok;
        if (k > 0) {
            ok = pool_put_cp(t, cp);
            i += k;
        } else if (s[i] == '\0') {
            ok = pool_put_cp(t, 0);
            i++;
        } else {
            ok = t->pool_len + 2 <= TAG_POOL; /* the octet and a NUL after it */
            if (ok)
                t->pool[t->pool_len++] = s[i];
            i++;
        }
        if (!ok || t->pool_len - start > MCX_FORM_VALUE_MAX) {
            t->overflow = 1;
            t->pool_len = start;
            return 0;
        }
    }
    /* every store above left room for this one */
    if (t->pool_len >= TAG_POOL) {
        t->overflow = 1;
        t->pool_len = start;
        return 0;
    }
    t->pool[t->pool_len++] = '\0';
    return start;
}

/* Read the tag whose '<' is at sc->pos; on return sc->pos is after its '>'. Returns 1 for a tag,
 * 0 when the text ends inside it (unterminated). */
static int read_tag(scan *sc, tag *t)
{
    memset(t, 0, offsetof(tag, pool));
    t->pool[0] = '\0';
    t->pool_len = 1; /* offset 0: the empty string */
    size_t p = sc->pos + 1;
    if (p < sc->len && sc->s[p] == '/') {
        t->closing = 1;
        p++;
    }
    size_t nl = 0;
    while (p < sc->len && !is_space(sc->s[p]) && sc->s[p] != '>' && sc->s[p] != '/') {
        if (nl + 1 < sizeof t->name)
            t->name[nl] = lower(sc->s[p]);
        nl++;
        p++;
    }
    if (nl >= sizeof t->name)
        t->name[0] = '\0';
    else
        t->name[nl] = '\0';
    for (;;) {
        while (p < sc->len && (is_space(sc->s[p]) || sc->s[p] == '/'))
            p++;
        if (p >= sc->len)
            return 0;
        if (sc->s[p] == '>') {
            sc->pos = p + 1;
            return 1;
        }
        size_t a = p;
        /* HTML 5 §13.2.5.33: a name runs to white space, '/', '>' or '='; a leading '=' is part
         * of it */
        p++;
        while (p < sc->len && !is_space(sc->s[p]) && sc->s[p] != '/' && sc->s[p] != '>' &&
               sc->s[p] != '=')
            p++;
        size_t an = p - a;
        while (p < sc->len && is_space(sc->s[p]))
            p++;
        size_t vs = 0, vn = 0;
        int has_value = 0;
        if (p < sc->len && sc->s[p] == '=') {
            p++;
            while (p < sc->len && is_space(sc->s[p]))
                p++;
            if (p >= sc->len)
                return 0;
            if (sc->s[p] == '"' || sc->s[p] == '\'') {
                char q = sc->s[p++];
                vs = p;
                while (p < sc->len && sc->s[p] != q)
                    p++;
                if (p >= sc->len)
                    return 0;
                vn = p - vs;
                p++;
            } else {
                vs = p;
                while (p < sc->len && !is_space(sc->s[p]) && sc->s[p] != '>')
                    p++;
                vn = p - vs;
            }
            has_value = 1;
        }
        if (t->n_attrs < TAG_ATTRS_MAX && an <= MCX_FORM_NAME_MAX) {
            /* HTML 5 §13.2.5.33: a repeated attribute is dropped, the first one counts */
            char nm[MCX_FORM_NAME_MAX + 1];
            for (size_t i = 0; i < an; i++)
                nm[i] = lower(sc->s[a + i]);
            nm[an] = '\0';
            int dup = 0;
            for (size_t i = 0; i < t->n_attrs; i++)
                dup |= strcmp(t->attrs[i].name, nm) == 0;
            if (!dup) {
                memcpy(t->attrs[t->n_attrs].name, nm, an + 1);
                t->attrs[t->n_attrs].value = has_value ? pool_put_decoded(t, sc->s + vs, vn) : 0;
                t->n_attrs++;
            }
        }
    }
}

static const char *tag_attr(const tag *t, const char *name)
{
    for (size_t i = 0; i < t->n_attrs; i++)
        if (strcmp(t->attrs[i].name, name) == 0)
            return t->pool + t->attrs[i].value;
    return NULL;
}

typedef enum { NEXT_TAG, NEXT_END, NEXT_BROKEN } next_kind;

/* Advance to the next element tag, skipping text, comments, doctypes and the content of raw-text
 * elements (<script>, <style>, <textarea>, <title>: a fake form inside them is not a form). */
static next_kind next_tag(scan *sc, tag *t)
{
    for (;;) {
        while (sc->pos < sc->len && sc->s[sc->pos] != '<')
            sc->pos++;
        if (sc->pos >= sc->len)
            return NEXT_END;
        if (at_ci(sc, sc->pos, "<!--")) {
            size_t e = find_ci(sc, sc->pos + 4, "-->");
            if (e >= sc->len)
                return NEXT_BROKEN;
            sc->pos = e + 3;
            continue;
        }
        if (at_ci(sc, sc->pos, "<!") || at_ci(sc, sc->pos, "<?")) {
            size_t e = find_ci(sc, sc->pos, ">");
            if (e >= sc->len)
                return NEXT_BROKEN;
            sc->pos = e + 1;
            continue;
        }
        char c = sc->pos + 1 < sc->len ? sc->s[sc->pos + 1] : '\0';
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/')) {
            sc->pos++; /* a bare '<' in text */
            continue;
        }
        if (!read_tag(sc, t))
            return NEXT_BROKEN;
        static const char *const raw[] = {"script", "style", "textarea", "title"};
        for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
            if (!t->closing && strcmp(t->name, raw[i]) == 0) {
                char end[16];
                snprintf(end, sizeof end, "</%s", raw[i]);
                size_t e = find_ci(sc, sc->pos, end);
                if (e >= sc->len)
                    return NEXT_BROKEN;
                sc->pos = e; /* the closing tag is read next */
            }
        }
        return NEXT_TAG;
    }
}

/* ---- the form ---- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

static void copy_lower(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] != '\0' && i + 1 < cap; i++)
        dst[i] = lower(src[i]);
    dst[i] = '\0';
}

void mcx_html_form_free(mcx_html_form *f)
{
    if (f == NULL)
        return;
    mcx_str_wipe_free(f->action);
    for (size_t i = 0; i < f->n_inputs; i++)
        mcx_str_wipe_free(f->inputs[i].value);
    memset(f, 0, sizeof *f);
}

mcx_status mcx_html_form_scrape(const char *html, size_t len, mcx_html_form *out)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "login page: no output");
    memset(out, 0, sizeof *out);
    if (html == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "login page: empty");
    tag *t = malloc(sizeof *t);
    if (t == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "login page: out of memory");
    scan sc = {html, len, 0};
    mcx_status st = MCX_OK;
    int in_form = 0;
    for (;;) {
        next_kind k = next_tag(&sc, t);
        if (k == NEXT_END) {
            st = in_form ? MCX_FAIL(MCX_E_ENCODING, "login page: the form is not closed")
                         : MCX_FAIL(MCX_E_ENCODING, "login page: no <form>");
            break;
        }
        if (k == NEXT_BROKEN) {
            st = MCX_FAIL(MCX_E_ENCODING, "login page: unterminated tag or comment at byte %zu",
                          sc.pos);
            break;
        }
        if (!in_form) {
            if (t->closing || strcmp(t->name, "form") != 0)
                continue;
            if (t->overflow) {
                st = MCX_FAIL(MCX_E_ENCODING, "login page: a form attribute is longer than %u",
                              (unsigned)MCX_FORM_VALUE_MAX);
                break;
            }
            const char *m = tag_attr(t, "method");
            copy_lower(out->method, sizeof out->method, m != NULL && m[0] != '\0' ? m : "get");
            const char *a = tag_attr(t, "action");
            out->action = dup_str(a != NULL ? a : "");
            if (out->action == NULL) {
                st = MCX_FAIL(MCX_E_NOMEM, "login page: out of memory");
                break;
            }
            in_form = 1;
            continue;
        }
        if (strcmp(t->name, "form") == 0) {
            if (t->closing)
                break; /* done */
            continue;  /* HTML 5: a nested <form> start tag is ignored */
        }
        if (t->closing || strcmp(t->name, "input") != 0)
            continue;
        /* before the name: a value that did not fit may have been the name itself, and an input
         * skipped for a lost name would silently drop a hidden field */
        if (t->overflow) {
            st = MCX_FAIL(MCX_E_ENCODING, "login page: an input attribute is longer than %u",
                          (unsigned)MCX_FORM_VALUE_MAX);
            break;
        }
        const char *name = tag_attr(t, "name");
        if (name == NULL || name[0] == '\0')
            continue; /* not submitted (HTML 5 §4.10.21.4) */
        if (strlen(name) > MCX_FORM_NAME_MAX) {
            st = MCX_FAIL(MCX_E_ENCODING, "login page: an input name is longer than %d",
                          MCX_FORM_NAME_MAX);
            break;
        }
        if (out->n_inputs == MCX_FORM_INPUTS_MAX) {
            st = MCX_FAIL(MCX_E_ENCODING, "login page: more than %d inputs in the form",
                          MCX_FORM_INPUTS_MAX);
            break;
        }
        mcx_html_input *in = &out->inputs[out->n_inputs];
        memcpy(in->name, name, strlen(name) + 1);
        const char *type = tag_attr(t, "type");
        copy_lower(in->type, sizeof in->type, type != NULL && type[0] != '\0' ? type : "text");
        const char *value = tag_attr(t, "value");
        in->value = dup_str(value != NULL ? value : "");
        if (in->value == NULL) {
            st = MCX_FAIL(MCX_E_NOMEM, "login page: out of memory");
            break;
        }
        out->n_inputs++;
    }
    mcx_memzero(t, sizeof *t);
    free(t);
    if (st != MCX_OK)
        mcx_html_form_free(out);
    return st;
}

const char *mcx_html_form_value(const mcx_html_form *f, const char *name)
{
    for (size_t i = 0; i < f->n_inputs; i++)
        if (strcmp(f->inputs[i].name, name) == 0)
            return f->inputs[i].value;
    return NULL;
}

/* Whether the class attribute value holds the token "error" (white-space separated). */
static int has_class_error(const char *cls)
{
    const char *p = cls;
    while (*p != '\0') {
        while (*p != '\0' && is_space(*p))
            p++;
        const char *b = p;
        while (*p != '\0' && !is_space(*p))
            p++;
        if (p - b == 5 && strncasecmp(b, "error", 5) == 0)
            return 1;
    }
    return 0;
}

int mcx_html_error_text(const char *html, size_t len, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    if (html == NULL)
        return 0;
    tag *t = malloc(sizeof *t);
    if (t == NULL)
        return 0;
    scan sc = {html, len, 0};
    int found = 0;
    while (!found && next_tag(&sc, t) == NEXT_TAG) {
        const char *cls = tag_attr(t, "class");
        if (t->closing || strcmp(t->name, "p") != 0 || cls == NULL || !has_class_error(cls))
            continue;
        found = 1;
        /* the text up to </p>, tags inside dropped, references decoded, spaces collapsed */
        size_t o = 0;
        int space = 0;
        size_t p = sc.pos;
        while (p < len && !at_ci(&sc, p, "</p")) {
            char c = html[p];
            if (c == '<') {
                while (p < len && html[p] != '>')
                    p++;
                p++;
                continue;
            }
            uint32_t cp = (unsigned char)c;
            size_t k = c == '&' ? char_ref(html + p, len - p, &cp) : 0;
            p += k > 0 ? k : 1;
            if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xa0) {
                space = o > 0;
                continue;
            }
            if (space && o + 1 < cap)
                out[o++] = ' ';
            space = 0;
            if (o + 1 < cap)
                out[o++] = (cp >= 0x20 && cp < 0x7f) ? (char)cp : '?';
            /* a UTF-8 sequence counts once: skip its continuation octets */
            while (k == 0 && p < len && ((unsigned char)html[p] & 0xc0) == 0x80 && cp >= 0x80)
                p++;
        }
        out[o] = '\0';
    }
    mcx_memzero(t, sizeof *t);
    free(t);
    return found;
}

/* ---- resolving the form's action ---- */

/* Length of "https://authority" at the start of url, or 0 when url is not https. */
static size_t origin_len(const char *url)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return 0;
    size_t n = 8 + strcspn(url + 8, "/?#");
    return n > 8 ? n : 0;
}

mcx_status mcx_form_action_resolve(const char *page_url, const char *action, char **out)
{
    *out = NULL;
    size_t ol = origin_len(page_url);
    if (ol == 0)
        return MCX_FAIL(MCX_E_ENCODING, "login page: its URL is not https");
    size_t an = strlen(action);
    while (an > 0 && is_space(action[0])) {
        action++;
        an--;
    }
    while (an > 0 && is_space(action[an - 1]))
        an--;
    const char *prefix = "";
    size_t pn = 0;
    if (an == 0) {
        /* HTML 5 §4.10.21.3: an empty action submits to the document's own URL */
        action = page_url;
        an = strcspn(page_url, "#");
    } else if (strncasecmp(action, "https://", 8) == 0) {
        size_t aol = origin_len(action);
        if (aol != ol || strncasecmp(action, page_url, ol) != 0)
            return MCX_FAIL(MCX_E_ENCODING, "login page: the form posts to another origin");
    } else if (action[0] == '/' && an > 1 && action[1] == '/') {
        return MCX_FAIL(MCX_E_ENCODING, "login page: the form posts to another origin");
    } else if (action[0] == '/') {
        prefix = page_url;
        pn = ol;
    } else if (memchr(action, ':', strcspn(action, "/?#")) != NULL) {
        return MCX_FAIL(MCX_E_ENCODING, "login page: the form posts to another scheme");
    } else {
        /* a relative path: replaces the last segment of the page's path (RFC 3986 §5.2.3) */
        size_t path_end = ol + strcspn(page_url + ol, "?#");
        size_t slash = ol;
        for (size_t i = ol; i < path_end; i++)
            if (page_url[i] == '/')
                slash = i + 1;
        prefix = page_url;
        pn = slash > ol ? slash : ol;
        if (slash == ol) {
            /* no path at all: "https://host" + "/" + action */
            char *r = malloc(ol + 1 + an + 1);
            if (r == NULL)
                return MCX_FAIL(MCX_E_NOMEM, "login page: out of memory");
            memcpy(r, page_url, ol);
            r[ol] = '/';
            memcpy(r + ol + 1, action, an);
            r[ol + 1 + an] = '\0';
            *out = r;
            return MCX_OK;
        }
    }
    for (size_t i = 0; i < an; i++)
        if ((unsigned char)action[i] < 0x21 || action[i] == 0x7f)
            return MCX_FAIL(MCX_E_ENCODING, "login page: the form action has a control character");
    char *r = malloc(pn + an + 1);
    if (r == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "login page: out of memory");
    memcpy(r, prefix, pn);
    memcpy(r + pn, action, an);
    r[pn + an] = '\0';
    *out = r;
    return MCX_OK;
}

/* ---- the redirect ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode s[0..n) ('+' is a space: application/x-www-form-urlencoded) into a new string.
 * Returns MCX_E_ENCODING for a bad escape or an encoded NUL. */
static mcx_status pct_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "redirect: out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int a = i + 1 < n ? hexval(s[i + 1]) : -1;
            int b = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                mcx_memzero(d, n + 1); /* not terminated yet: wipe the whole buffer */
                free(d);
                return MCX_FAIL(MCX_E_ENCODING, "redirect: bad percent-encoding");
            }
            d[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            d[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    d[o] = '\0';
    *out = d;
    return MCX_OK;
}

void mcx_redirect_free(mcx_redirect *r)
{
    if (r == NULL)
        return;
    mcx_str_wipe_free(r->code);
    mcx_str_wipe_free(r->state);
    mcx_str_wipe_free(r->iss);
    mcx_str_wipe_free(r->error);
    mcx_str_wipe_free(r->error_description);
    memset(r, 0, sizeof *r);
}

mcx_status mcx_redirect_parse(const char *location, const char *redirect_uri, mcx_redirect *out)
{
    memset(out, 0, sizeof *out);
    if (location == NULL || redirect_uri == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "redirect: no Location");
    size_t rn = strlen(redirect_uri);
    if (strncmp(location, redirect_uri, rn) != 0)
        return MCX_FAIL(MCX_E_ENCODING, "redirect: Location is not the redirect URI");
    /* RFC 6749 §3.1.2: the redirect URI's own query is kept; the response's parameters follow */
    char sep = strchr(redirect_uri, '?') != NULL ? '&' : '?';
    const char *q = location + rn;
    if (*q != sep)
        return MCX_FAIL(MCX_E_ENCODING, "redirect: Location has no query after the redirect URI");
    q++;
    size_t qn = strcspn(q, "#");
    struct {
        const char *name;
        char **slot;
    } known[] = {{"code", &out->code},
                 {"state", &out->state},
                 {"iss", &out->iss},
                 {"error", &out->error},
                 {"error_description", &out->error_description}};
    size_t i = 0;
    while (i < qn) {
        size_t e = i;
        while (e < qn && q[e] != '&')
            e++;
        size_t eq = i;
        while (eq < e && q[eq] != '=')
            eq++;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            size_t kn = strlen(known[k].name);
            if (eq - i != kn || memcmp(q + i, known[k].name, kn) != 0)
                continue;
            if (*known[k].slot != NULL) {
                mcx_redirect_free(out);
                return MCX_FAIL(MCX_E_ENCODING, "redirect: parameter '%s' given twice",
                                known[k].name);
            }
            const char *v = eq < e ? q + eq + 1 : q + e;
            mcx_status st = pct_decode(v, (size_t)(q + e - v), known[k].slot);
            if (st != MCX_OK) {
                mcx_redirect_free(out);
                return st;
            }
        }
        i = e + 1;
    }
    return MCX_OK;
}
