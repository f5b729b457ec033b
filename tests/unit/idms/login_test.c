/* Unit tests of the client side of login (src/client) that need no server: PKCE (RFC 7636
 * Appendix B), scraping the login page (also hostile pages), the redirect that ends a login, the
 * form's action, and the token file's permissions and atomic replacement. The full flow against
 * a real mcx-idms is tests/cli/idms_cli_test.sh. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/http_internal.h"
#include "client/login_internal.h"
#include "mcxsec/login.h"
#include "test.h"

/* ---- PKCE ---- */

static void test_pkce_rfc7636_appendix_b(void)
{
    /* RFC 7636 Appendix B: the 32 octets, their base64url verifier, and its S256 challenge */
    static const uint8_t octets[32] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                       125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                       191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
    char v[MCX_PKCE_CHARS + 1], c[MCX_PKCE_CHARS + 1];
    mcx_b64url_encode(octets, sizeof octets, v);
    CHECK(strcmp(v, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == 0);
    CHECK_OK(mcx_pkce_challenge(v, c));
    CHECK(strcmp(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") == 0);
}

static void test_pkce_fresh_verifiers(void)
{
    char a[MCX_PKCE_CHARS + 1], b[MCX_PKCE_CHARS + 1], c[MCX_PKCE_CHARS + 1];
    CHECK_OK(mcx_pkce_verifier(a));
    CHECK_OK(mcx_pkce_verifier(b));
    CHECK(strlen(a) == 43 && strlen(b) == 43);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    CHECK_OK(mcx_pkce_challenge(a, c));
    CHECK(strlen(c) == 43);
    /* RFC 7636 §4.1: 43..128 unreserved characters */
    CHECK_ST(mcx_pkce_challenge("short", c), MCX_E_ARG);
    CHECK_ST(mcx_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+", c), MCX_E_ARG);
    char long_v[130];
    memset(long_v, 'a', 129);
    long_v[129] = '\0';
    CHECK_ST(mcx_pkce_challenge(long_v, c), MCX_E_ARG);
    long_v[128] = '\0';
    CHECK_OK(mcx_pkce_challenge(long_v, c));
}

static void test_b64url_lengths(void)
{
    const uint8_t in[3] = {0xfb, 0xff, 0xfe};
    char out[8];
    mcx_b64url_encode(in, 1, out);
    CHECK(strcmp(out, "-w") == 0);
    mcx_b64url_encode(in, 2, out);
    CHECK(strcmp(out, "-_8") == 0);
    mcx_b64url_encode(in, 3, out);
    CHECK(strcmp(out, "-__-") == 0);
    mcx_b64url_encode(in, 0, out);
    CHECK(out[0] == '\0');
}

/* ---- the login page ---- */

/* What mcx-idms serves (include/mcxsec/idms.h): the form, its hidden login_request. */
static const char page[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in</title>"
    "<style>form{margin:auto}</style></head><body>\n"
    "<h1>Sign in to idms.police.example</h1>\n"
    "<form method=\"post\" action=\"/authorize\">\n"
    "  <input type=\"hidden\" name=\"login_request\" value=\"eyJhbGci.x_y-z&amp;1\">\n"
    "  <label>User <input name=\"username\" autocomplete=\"username\" required></label>\n"
    "  <label>Password <input type=\"password\" name=\"password\"></label>\n"
    "  <button type=\"submit\">Sign in</button>\n"
    "</form></body></html>\n";

static void test_form_sample(void)
{
    mcx_html_form f;
    CHECK_OK(mcx_html_form_scrape(page, strlen(page), &f));
    CHECK(strcmp(f.method, "post") == 0);
    CHECK(f.action != NULL && strcmp(f.action, "/authorize") == 0);
    CHECK(f.n_inputs == 3);
    const char *lr = mcx_html_form_value(&f, "login_request");
    CHECK(lr != NULL && strcmp(lr, "eyJhbGci.x_y-z&1") == 0);
    CHECK(mcx_html_form_value(&f, "username") != NULL);
    CHECK(mcx_html_form_value(&f, "password") != NULL);
    CHECK(mcx_html_form_value(&f, "nothing") == NULL);
    CHECK(f.n_inputs == 3 && strcmp(f.inputs[0].type, "hidden") == 0 &&
          strcmp(f.inputs[1].type, "text") == 0 && strcmp(f.inputs[2].type, "password") == 0);
    mcx_html_form_free(&f);
}

static void test_form_syntax_variants(void)
{
    /* upper case, single quotes, bare values, references, a repeated attribute (first wins),
     * a nested form start tag (ignored), an input without name (not submitted) */
    const char *h = "<FORM METHOD=POST ACTION='/a?x=1&amp;y=2'><INPUT TYPE=HIDDEN NAME=k "
                    "VALUE=v1 value=v2><input name='q' value=\"&#x41;&#66;&lt;&quot;\">"
                    "<form action=/other><input value=unnamed><input name=\"u\" value='a\"b'>"
                    "</form><form><input name=later></form>";
    mcx_html_form f;
    CHECK_OK(mcx_html_form_scrape(h, strlen(h), &f));
    CHECK(strcmp(f.method, "post") == 0);
    CHECK(f.action != NULL && strcmp(f.action, "/a?x=1&y=2") == 0);
    CHECK(f.n_inputs == 3);
    CHECK(f.n_inputs == 3 && strcmp(f.inputs[0].type, "hidden") == 0);
    const char *k = mcx_html_form_value(&f, "k"), *q = mcx_html_form_value(&f, "q"),
               *u = mcx_html_form_value(&f, "u");
    CHECK(k != NULL && strcmp(k, "v1") == 0);
    CHECK(q != NULL && strcmp(q, "AB<\"") == 0);
    CHECK(u != NULL && strcmp(u, "a\"b") == 0);
    CHECK(mcx_html_form_value(&f, "later") == NULL);
    mcx_html_form_free(&f);

    /* a method-less form is GET (the login refuses it); a bare '<' in text is text */
    h = "a < b <form><input name=x></form>";
    CHECK_OK(mcx_html_form_scrape(h, strlen(h), &f));
    CHECK(strcmp(f.method, "get") == 0 && f.action != NULL && f.action[0] == '\0');
    mcx_html_form_free(&f);

    /* numeric references: NUL and surrogates become U+FFFD, astral ones are 4 octets */
    h = "<form method=post><input name=n value='&#0;&#xD800;&#x1F600;'></form>";
    CHECK_OK(mcx_html_form_scrape(h, strlen(h), &f));
    const char *n = mcx_html_form_value(&f, "n");
    CHECK(n != NULL && strcmp(n, "\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x98\x80") == 0);
    mcx_html_form_free(&f);
}

static void test_form_hostile(void)
{
    mcx_html_form f;
    /* forms inside a comment, a script, a style or a textarea are not forms */
    const char *h = "<!-- <form method=post action=https://evil/><input name=password> -->"
                    "<script>var s='<form action=\"//evil\">';</script>"
                    "<textarea><form action=/t></textarea>"
                    "<form method=post action=/real><input name=username><input name=password>"
                    "</form>";
    CHECK_OK(mcx_html_form_scrape(h, strlen(h), &f));
    CHECK(f.action != NULL && strcmp(f.action, "/real") == 0);
    CHECK(f.n_inputs == 2);
    mcx_html_form_free(&f);

    /* no form; an unclosed form; an unterminated comment, quote and tag */
    static const char *const bad[] = {
        "<html><body>nothing</body></html>",
        "<form method=post><input name=a>",
        "<!-- <form>",
        "<form method=post action=\"/x><input name=a></form>",
        "<form method=post><input name=a",
        "<script><form></form>",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(mcx_html_form_scrape(bad[i], strlen(bad[i]), &f), MCX_E_ENCODING);
        CHECK(f.action == NULL && f.n_inputs == 0);
    }
    CHECK_ST(mcx_html_form_scrape(NULL, 0, &f), MCX_E_ENCODING);

    /* more inputs than the bound */
    char many[4096];
    size_t o = (size_t)snprintf(many, sizeof many, "<form method=post>");
    for (int i = 0; i < MCX_FORM_INPUTS_MAX + 1; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "<input name=i%d>", i);
    snprintf(many + o, sizeof many - o, "</form>");
    CHECK_ST(mcx_html_form_scrape(many, strlen(many), &f), MCX_E_ENCODING);

    /* a value longer than the bound */
    size_t big_n = MCX_FORM_VALUE_MAX + 100;
    char *big = malloc(big_n + 64);
    CHECK(big != NULL);
    if (big != NULL) {
        o = (size_t)snprintf(big, 64, "<form method=post><input name=a value=\"");
        memset(big + o, 'x', big_n);
        snprintf(big + o + big_n, 64, "\"></form>");
        CHECK_ST(mcx_html_form_scrape(big, strlen(big), &f), MCX_E_ENCODING);
        free(big);
    }

    /* every prefix of the real page, read from an exact-size heap copy (valgrind and ASan see
     * any read past its end): either a complete form or a refusal, never a crash */
    size_t n = strlen(page);
    for (size_t k = 0; k <= n; k++) {
        char *cut = malloc(k > 0 ? k : 1);
        if (cut == NULL)
            break;
        memcpy(cut, page, k);
        mcx_status st = mcx_html_form_scrape(cut, k, &f);
        CHECK(st == MCX_OK || st == MCX_E_ENCODING);
        if (st == MCX_OK)
            CHECK(f.n_inputs == 3);
        mcx_html_form_free(&f);
        char err[64];
        (void)mcx_html_error_text(cut, k, err, sizeof err);
        CHECK(strlen(err) < sizeof err);
        free(cut);
    }
}

/* Server text on its way to mcx_last_error(): printable ASCII, one '?' per other octet or whole
 * UTF-8 sequence, cut with "..." */
static void test_printable(void)
{
    char out[32];
    CHECK(strcmp(mcx_printable("invalid_grant: code expired", out, sizeof out),
                 "invalid_grant: code expired") == 0);
    CHECK(strcmp(mcx_printable("a\x1b[2Jb\r\nc\x07\x7f", out, sizeof out), "a?[2Jb??c??") == 0);
    CHECK(strcmp(mcx_printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!", out, sizeof out),
                 "caf? ? ?!") == 0);
    /* a stray continuation octet and a lead octet at the end */
    CHECK(strcmp(mcx_printable("\x80x\xc3", out, sizeof out), "?x?") == 0);
    CHECK(strcmp(mcx_printable(NULL, out, sizeof out), "") == 0);
    /* exactly cap - 1 octets: whole; one more: cut and marked */
    char in[64];
    memset(in, 'z', 31);
    in[31] = '\0';
    CHECK(strcmp(mcx_printable(in, out, sizeof out), in) == 0);
    in[31] = 'y';
    in[32] = '\0';
    mcx_printable(in, out, sizeof out);
    CHECK(strlen(out) == 31 && strcmp(out + 28, "...") == 0 && out[27] == 'z');
    char tiny[3];
    CHECK(strcmp(mcx_printable("abcdef", tiny, sizeof tiny), "..") == 0);
    CHECK(strcmp(mcx_printable("ab", tiny, sizeof tiny), "ab") == 0);
}

/* Append name="<n times c>" to buf at *o. */
static void put_attr(char *buf, size_t *o, const char *name, size_t n, char c)
{
    *o += (size_t)sprintf(buf + *o, " %s=\"", name);
    memset(buf + *o, c, n);
    *o += n;
    buf[(*o)++] = '"';
    buf[*o] = '\0';
}

/* Regression: attribute values of 4096, 4096 and 508 octets fill a tag's value pool to exactly
 * its size (1 + 4097 + 4097 + 509 octets with their NULs); the next attribute then wrote its NUL
 * one past the pool. Every page below is read from an exact-size heap copy; the valgrind twin and
 * the ASan fuzz build see any octet written or read outside the tag. */
static void test_form_pool_full(void)
{
    size_t cap = 3 * MCX_FORM_VALUE_MAX + 4096;
    char *h = malloc(cap);
    CHECK(h != NULL);
    if (h == NULL)
        return;
    mcx_html_form f;
    size_t o;
    char *copy;

    /* an input whose first three values fill the pool: its name cannot be kept, so the page is
     * refused (not read with a name taken from outside the pool) */
    o = (size_t)sprintf(h, "<form method=post action=/authorize><input");
    put_attr(h, &o, "a", MCX_FORM_VALUE_MAX, 'a');
    put_attr(h, &o, "b", MCX_FORM_VALUE_MAX, 'b');
    put_attr(h, &o, "c", 508, 'c');
    o += (size_t)sprintf(h + o, " name=\"password\" d=1 e=22 f=333 g=4444></form>");
    copy = malloc(o);
    CHECK(copy != NULL);
    if (copy != NULL) {
        memcpy(copy, h, o);
        CHECK_ST(mcx_html_form_scrape(copy, o, &f), MCX_E_ENCODING);
        CHECK(strstr(mcx_last_error(), "longer than") != NULL);
        CHECK(f.action == NULL && f.n_inputs == 0);
        free(copy);
    }

    /* the same on the form tag itself */
    o = (size_t)sprintf(h, "<form");
    put_attr(h, &o, "a", MCX_FORM_VALUE_MAX, 'a');
    put_attr(h, &o, "b", MCX_FORM_VALUE_MAX, 'b');
    put_attr(h, &o, "c", 508, 'c');
    o += (size_t)sprintf(h + o, " method=post action=/x><input name=password></form>");
    CHECK_ST(mcx_html_form_scrape(h, o, &f), MCX_E_ENCODING);

    /* a full pool in a tag the scraper skips, then a good form: the next tag starts afresh */
    o = (size_t)sprintf(h, "<div");
    put_attr(h, &o, "a", MCX_FORM_VALUE_MAX, 'a');
    put_attr(h, &o, "b", MCX_FORM_VALUE_MAX, 'b');
    put_attr(h, &o, "c", 508, 'c');
    o += (size_t)sprintf(h + o, " d=1 e=\"\" f=22 g=333 h i=4444 j=55555></div>"
                                "<form method=post action=/ok><input name=username>"
                                "<input type=hidden name=lr value=\"v&amp;1\"></form>");
    copy = malloc(o);
    CHECK(copy != NULL);
    if (copy != NULL) {
        memcpy(copy, h, o);
        CHECK_OK(mcx_html_form_scrape(copy, o, &f));
        CHECK(f.action != NULL && strcmp(f.action, "/ok") == 0);
        CHECK(f.n_inputs == 2);
        const char *lr = mcx_html_form_value(&f, "lr");
        CHECK(lr != NULL && strcmp(lr, "v&1") == 0);
        mcx_html_form_free(&f);
        free(copy);
    }

    /* one octet less (507): the pool keeps room for exactly one more NUL; an empty value still
     * reads as "", a value that does not fit marks the tag */
    o = (size_t)sprintf(h, "<form method=post action=/y><input");
    put_attr(h, &o, "a", MCX_FORM_VALUE_MAX, 'a');
    put_attr(h, &o, "b", MCX_FORM_VALUE_MAX, 'b');
    put_attr(h, &o, "c", 507, 'c');
    o += (size_t)sprintf(h + o, " value=\"\" type=\"\" name=x></form>");
    CHECK_ST(mcx_html_form_scrape(h, o, &f), MCX_E_ENCODING);

    /* and with the values in a character-reference shape (decoded into the pool one code point
     * at a time) */
    o = (size_t)sprintf(h, "<form method=post><input");
    put_attr(h, &o, "a", MCX_FORM_VALUE_MAX, 'a');
    put_attr(h, &o, "b", MCX_FORM_VALUE_MAX, 'b');
    put_attr(h, &o, "c", 507, 'c');
    o += (size_t)sprintf(h + o, " name=\"&#x1F600;\"></form>");
    CHECK_ST(mcx_html_form_scrape(h, o, &f), MCX_E_ENCODING);

    /* the error text reader walks the same tags: a <p class=error> whose class came after a full
     * pool is not taken for one, and nothing outside the tag is read */
    o = (size_t)sprintf(h, "<p");
    put_attr(h, &o, "a", MCX_FORM_VALUE_MAX, 'a');
    put_attr(h, &o, "b", MCX_FORM_VALUE_MAX, 'b');
    put_attr(h, &o, "c", 508, 'c');
    o += (size_t)sprintf(h + o, " class=error d=1 e=2>Hidden</p><p class=error>Shown</p>");
    char err[64];
    CHECK(mcx_html_error_text(h, o, err, sizeof err) == 1);
    CHECK(strcmp(err, "Shown") == 0);
    free(h);
}

static void test_error_text(void)
{
    char out[128];
    const char *h = "<form method=post></form><p class=\"error\" role=\"alert\">Invalid "
                    "username\n   or <b>password</b> &amp; more</p><p class=error>second</p>";
    CHECK(mcx_html_error_text(h, strlen(h), out, sizeof out) == 1);
    CHECK(strcmp(out, "Invalid username or password & more") == 0);

    h = "<p class='notice big'>x</p><p class=\"msg  Error\">caught</p>";
    CHECK(mcx_html_error_text(h, strlen(h), out, sizeof out) == 1);
    CHECK(strcmp(out, "caught") == 0);

    /* "errors" is another class; a <pre> is not a <p>; one in a comment does not count */
    h = "<p class=errors>no</p><pre class=error>no</pre><!-- <p class=error>no</p> -->";
    CHECK(mcx_html_error_text(h, strlen(h), out, sizeof out) == 0);
    CHECK(out[0] == '\0');

    /* cut to the buffer; non-ASCII shown as '?'; no closing tag: up to the end */
    h = "<p class=error>caf\xc3\xa9 \x01 0123456789012345678901234567890123456789";
    char small[16];
    CHECK(mcx_html_error_text(h, strlen(h), small, sizeof small) == 1);
    CHECK(strlen(small) == 15 && strncmp(small, "caf? ? 01234567", 15) == 0);
}

/* ---- the form's action ---- */

static void test_action_resolve(void)
{
    const char *pg = "https://127.0.0.1:8443/authorize?response_type=code&state=x";
    char *r = NULL;
    CHECK_OK(mcx_form_action_resolve(pg, "/authorize", &r));
    CHECK(r != NULL && strcmp(r, "https://127.0.0.1:8443/authorize") == 0);
    free(r);
    CHECK_OK(mcx_form_action_resolve(pg, "", &r));
    CHECK(r != NULL && strcmp(r, pg) == 0);
    free(r);
    CHECK_OK(mcx_form_action_resolve(pg, "https://127.0.0.1:8443/login", &r));
    CHECK(r != NULL && strcmp(r, "https://127.0.0.1:8443/login") == 0);
    free(r);
    CHECK_OK(mcx_form_action_resolve("https://h/a/b/page?q", "next", &r));
    CHECK(r != NULL && strcmp(r, "https://h/a/b/next") == 0);
    free(r);
    CHECK_OK(mcx_form_action_resolve("https://h?q", "next", &r));
    CHECK(r != NULL && strcmp(r, "https://h/next") == 0);
    free(r);
    /* the password must not leave the IdMS's origin */
    static const char *const bad[] = {
        "https://evil.example/authorize",
        "https://127.0.0.1:8444/authorize",
        "https://127.0.0.1:8443.evil/x",
        "//evil.example/authorize",
        "http://127.0.0.1:8443/authorize",
        "javascript:alert(1)",
        "/a b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = NULL;
        CHECK_ST(mcx_form_action_resolve(pg, bad[i], &r), MCX_E_ENCODING);
        CHECK(r == NULL);
    }
    CHECK_ST(mcx_form_action_resolve("http://127.0.0.1/x", "/a", &r), MCX_E_ENCODING);
}

/* ---- the redirect ---- */

static void test_redirect(void)
{
    const char *ru = "http://127.0.0.1/callback";
    mcx_redirect rd;
    CHECK_OK(mcx_redirect_parse("http://127.0.0.1/callback?code=abc%2Bd+e&state=s1&iss="
                                "https%3A%2F%2F127.0.0.1%3A8443&other=1#frag",
                                ru, &rd));
    CHECK(rd.code != NULL && strcmp(rd.code, "abc+d e") == 0);
    CHECK(rd.state != NULL && strcmp(rd.state, "s1") == 0);
    CHECK(rd.iss != NULL && strcmp(rd.iss, "https://127.0.0.1:8443") == 0);
    CHECK(rd.error == NULL && rd.error_description == NULL);
    mcx_redirect_free(&rd);

    CHECK_OK(mcx_redirect_parse("http://127.0.0.1/callback?error=access_denied&error_description="
                                "User%20disabled&state=s1",
                                ru, &rd));
    CHECK(rd.error != NULL && strcmp(rd.error, "access_denied") == 0);
    CHECK(rd.error_description != NULL && strcmp(rd.error_description, "User disabled") == 0);
    CHECK(rd.code == NULL);
    mcx_redirect_free(&rd);

    /* a redirect URI with its own query: the answer's parameters follow with '&' */
    CHECK_OK(mcx_redirect_parse("https://app/cb?tenant=1&code=c&state=s", "https://app/cb?tenant=1",
                                &rd));
    CHECK(rd.code != NULL && strcmp(rd.code, "c") == 0);
    mcx_redirect_free(&rd);

    /* an empty value and a parameter without '=' */
    CHECK_OK(mcx_redirect_parse("http://127.0.0.1/callback?code=&state", ru, &rd));
    CHECK(rd.code != NULL && rd.code[0] == '\0' && rd.state != NULL && rd.state[0] == '\0');
    mcx_redirect_free(&rd);

    static const char *const bad[] = {
        "http://127.0.0.1/callbackX?code=a&state=s",  /* another path */
        "http://127.0.0.1/callback",                  /* no query */
        "http://evil/callback?code=a&state=s",        /* another host */
        "http://127.0.0.1/callback?code=a&code=b",    /* repeated (RFC 6749 §3.1) */
        "http://127.0.0.1/callback?state=a&state=a",  /* repeated */
        "http://127.0.0.1/callback?code=%zz&state=s", /* bad escape */
        "http://127.0.0.1/callback?code=a%00b",       /* encoded NUL */
        "http://127.0.0.1/callback?code=a%4",         /* truncated escape */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(mcx_redirect_parse(bad[i], ru, &rd), MCX_E_ENCODING);
        CHECK(rd.code == NULL && rd.state == NULL);
    }
    CHECK_ST(mcx_redirect_parse(NULL, ru, &rd), MCX_E_ENCODING);
}

/* ---- form encoding and the HTTPS-only client ---- */

static void test_form_encoding(void)
{
    mcx_form f;
    memset(&f, 0, sizeof f);
    mcx_form_add(&f, "username", "alice@x");
    mcx_form_add(&f, "password", "p&ss w=rd/+%\xc3\xa9~._-");
    CHECK(mcx_form_text(&f) != NULL &&
          strcmp(mcx_form_text(&f),
                 "username=alice%40x&password=p%26ss%20w%3Drd%2F%2B%25%C3%A9~._-") == 0);
    mcx_form_free(&f);
    CHECK(f.buf == NULL && f.len == 0);
    char *e = mcx_url_encode("a b");
    CHECK(e != NULL && strcmp(e, "a%20b") == 0);
    free(e);
}

static void test_http_https_only(void)
{
    mcx_http_response r;
    CHECK_ST(mcx_http_request("http://127.0.0.1:1/x", NULL, NULL, &r), MCX_E_ARG);
    CHECK(strstr(mcx_last_error(), "https") != NULL);
    CHECK_ST(mcx_http_request("ftp://127.0.0.1/x", NULL, NULL, &r), MCX_E_ARG);
    /* nothing listens on port 1: a connection failure, not a hang */
    CHECK_ST(mcx_http_request("https://127.0.0.1:1/x?secret=1", NULL, NULL, &r), MCX_E_IO);
    CHECK(strstr(mcx_last_error(), "secret") == NULL); /* the query is not logged */
    mcx_http_response_free(&r);
    mcx_login_params p;
    memset(&p, 0, sizeof p);
    p.idms_url = "http://127.0.0.1:1";
    p.username = "a";
    p.password = "b";
    mcx_tokens t;
    CHECK_ST(mcx_login_pkce(&p, &t), MCX_E_ARG);
    p.username = NULL;
    CHECK_ST(mcx_login_pkce(&p, &t), MCX_E_ARG);
}

/* ---- the token file ---- */

static char scratch[256];

static void sample_tokens(mcx_tokens *t, const char *rt)
{
    memset(t, 0, sizeof *t);
    t->issuer = strdup("https://127.0.0.1:8443");
    t->access_token = strdup("eyJ.access.sig");
    t->id_token = strdup("eyJ.id.sig");
    t->refresh_token = strdup(rt);
    t->scope = strdup("openid 3gpp:mc:ptt_service");
    t->expires_at = 1900000000;
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_mode & 07777 : (mode_t)-1;
}

static int count_entries(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p != NULL) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void test_tokens_path(void)
{
    char path[512], want[512];
    setenv("MCX_STATE_DIR", "/x/state", 1);
    CHECK_OK(mcx_tokens_path(NULL, path, sizeof path));
    CHECK(strcmp(path, "/x/state/tokens.json") == 0);
    CHECK_OK(mcx_tokens_path("127.0.0.1:9443", path, sizeof path));
    CHECK(strcmp(path, "/x/state/tokens-127.0.0.1:9443.json") == 0);
    CHECK_ST(mcx_tokens_path("../evil", path, sizeof path), MCX_E_ARG);
    CHECK_ST(mcx_tokens_path("a/b", path, sizeof path), MCX_E_ARG);
    CHECK_ST(mcx_tokens_path(".hidden", path, sizeof path), MCX_E_ARG);
    CHECK_ST(mcx_tokens_path("", path, sizeof path), MCX_E_ARG);
    CHECK_ST(mcx_tokens_path(NULL, path, 10), MCX_E_ARG);
    unsetenv("MCX_STATE_DIR");
    setenv("XDG_STATE_HOME", "/y", 1);
    CHECK_OK(mcx_tokens_path(NULL, path, sizeof path));
    CHECK(strcmp(path, "/y/mcxsec/tokens.json") == 0);
    setenv("XDG_STATE_HOME", "relative", 1); /* XDG: only absolute paths count */
    setenv("HOME", "/home/u", 1);
    CHECK_OK(mcx_tokens_path(NULL, path, sizeof path));
    snprintf(want, sizeof want, "/home/u/.local/state/mcxsec/tokens.json");
    CHECK(strcmp(path, want) == 0);
    unsetenv("XDG_STATE_HOME");
}

/* jansson's frees, watched: how many blocks still held one of the secrets when handed back */
static const char *const watched[] = {"AT-SECRET-2f9c81d0e6b34a57", "RT-SECRET-7be04c19aa3d6f82",
                                      "ID-SECRET-c41d5e0f9b2a8763"};
static int leaked_blocks;

static void *watch_malloc(size_t n)
{
    return malloc(n);
}

static void watch_free(void *p)
{
    if (p == NULL)
        return;
    size_t n = malloc_usable_size(p);
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        if (memmem(p, n, watched[i], strlen(watched[i])) != NULL) {
            leaked_blocks++;
            break;
        }
    free(p);
}

/* mcx_tokens_save: the tokens pass through jansson (its string copies) and a serialised buffer;
 * none of jansson's blocks may go back to the allocator still holding them. (Loading cannot
 * promise as much: jansson's lexer frees its own copy of the text unwiped, see tokens_file.c.) */
static void test_tokens_save_wipes(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/wipe/tokens.json", scratch);
    mcx_tokens t;
    memset(&t, 0, sizeof t);
    t.issuer = strdup("https://idms.police.example");
    t.access_token = strdup(watched[0]);
    t.refresh_token = strdup(watched[1]);
    t.id_token = strdup(watched[2]);
    t.scope = strdup("openid");
    t.expires_at = 1900000000;
    json_malloc_t om;
    json_free_t of;
    json_get_alloc_funcs(&om, &of);
    json_set_alloc_funcs(watch_malloc, watch_free);
    leaked_blocks = 0;
    mcx_status st = mcx_tokens_save(&t, path);
    json_set_alloc_funcs(om, of);
    CHECK_OK(st);
    CHECK(leaked_blocks == 0);
    /* the saved file does hold them (the check above is not vacuous) */
    mcx_tokens u;
    CHECK_OK(mcx_tokens_load(&u, path));
    CHECK(u.refresh_token != NULL && strcmp(u.refresh_token, watched[1]) == 0);
    mcx_tokens_clear(&u);
    mcx_tokens_clear(&t);
}

static void test_tokens_file(void)
{
    char dir[300], path[400], other[400];
    snprintf(dir, sizeof dir, "%s/state/deep", scratch);
    snprintf(path, sizeof path, "%s/tokens.json", dir);
    mcx_tokens t, u;
    sample_tokens(&t, "rt-one");
    CHECK_OK(mcx_tokens_save(&t, path));
    /* created folders are 0700, the file 0600, and no temporary file is left behind */
    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(path) == 0600);
    CHECK(count_entries(dir) == 1);
    CHECK_OK(mcx_tokens_load(&u, path));
    CHECK(u.issuer && strcmp(u.issuer, t.issuer) == 0);
    CHECK(u.access_token && strcmp(u.access_token, t.access_token) == 0);
    CHECK(u.id_token && strcmp(u.id_token, t.id_token) == 0);
    CHECK(u.refresh_token && strcmp(u.refresh_token, "rt-one") == 0);
    CHECK(u.scope && strcmp(u.scope, t.scope) == 0);
    CHECK(u.expires_at == 1900000000);
    mcx_tokens_clear(&u);
    CHECK(u.access_token == NULL && u.expires_at == 0);

    /* atomic replacement: a reader holding the old file keeps reading it whole, and the new
     * one is a different inode (rename, not rewrite in place) */
    struct stat before, after;
    CHECK(stat(path, &before) == 0);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    mcx_tokens_clear(&t);
    sample_tokens(&t, "rt-two");
    CHECK_OK(mcx_tokens_save(&t, path));
    CHECK(stat(path, &after) == 0);
    CHECK(before.st_ino != after.st_ino);
    char buf[1024];
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    CHECK(n > 0);
    if (n > 0) {
        buf[n] = '\0';
        CHECK(strstr(buf, "rt-one") != NULL && strstr(buf, "}") != NULL);
    }
    if (fd >= 0)
        close(fd);
    CHECK_OK(mcx_tokens_load(&u, path));
    CHECK(u.refresh_token && strcmp(u.refresh_token, "rt-two") == 0);
    mcx_tokens_clear(&u);
    CHECK(count_entries(dir) == 1);

    /* a file others can read is refused, and so is one for the group */
    CHECK(chmod(path, 0644) == 0);
    CHECK_ST(mcx_tokens_load(&u, path), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "644") != NULL);
    CHECK(u.access_token == NULL);
    CHECK(chmod(path, 0640) == 0);
    CHECK_ST(mcx_tokens_load(&u, path), MCX_E_DENIED);
    CHECK(chmod(path, 0600) == 0);
    CHECK_OK(mcx_tokens_load(&u, path));
    mcx_tokens_clear(&u);
    /* saving over a loose file makes it private again */
    CHECK(chmod(path, 0644) == 0);
    CHECK_OK(mcx_tokens_save(&t, path));
    CHECK(mode_of(path) == 0600);

    /* a symbolic link is not followed */
    snprintf(other, sizeof other, "%s/link.json", dir);
    CHECK(symlink(path, other) == 0);
    CHECK_ST(mcx_tokens_load(&u, other), MCX_E_IO);
    unlink(other);

    /* missing, malformed, and a folder open to others */
    snprintf(other, sizeof other, "%s/none.json", dir);
    CHECK_ST(mcx_tokens_load(&u, other), MCX_E_NOT_FOUND);
    int wf = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(wf >= 0);
    if (wf >= 0) {
        CHECK(write(wf, "{\"issuer\":\"x\"}", 14) == 14);
        close(wf);
    }
    CHECK_ST(mcx_tokens_load(&u, other), MCX_E_ENCODING);
    wf = open(other, O_WRONLY | O_TRUNC);
    if (wf >= 0) {
        CHECK(write(wf, "not json", 8) == 8);
        close(wf);
    }
    CHECK_ST(mcx_tokens_load(&u, other), MCX_E_ENCODING);
    unlink(other);
    CHECK(chmod(dir, 0755) == 0);
    CHECK_ST(mcx_tokens_save(&t, path), MCX_E_DENIED);
    CHECK(chmod(dir, 0700) == 0);
    mcx_tokens_clear(&t);
}

int main(void)
{
    const char *tmpdir = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/mcx-login-test.XXXXXX",
             tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
    if (mkdtemp(scratch) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_pkce_rfc7636_appendix_b);
    RUN(test_pkce_fresh_verifiers);
    RUN(test_b64url_lengths);
    RUN(test_form_sample);
    RUN(test_form_syntax_variants);
    RUN(test_form_hostile);
    RUN(test_form_pool_full);
    RUN(test_printable);
    RUN(test_error_text);
    RUN(test_action_resolve);
    RUN(test_redirect);
    RUN(test_form_encoding);
    RUN(test_http_https_only);
    RUN(test_tokens_path);
    RUN(test_tokens_file);
    RUN(test_tokens_save_wipes);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
    return test_summary();
}
