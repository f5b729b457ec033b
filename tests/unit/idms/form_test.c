/* The strict form / query-string parser of the IdMS (src/idms/form_internal.h): decoding,
 * refused escapes and octets, duplicates (RFC 6749 §3.1), parameters without values, limits. */
#include <stdio.h>
#include <string.h>

#include "idms/form_internal.h"
#include "test.h"

static mcx_status parse(const char *s, idms_form *f)
{
    return idms_form_parse(s, strlen(s), f);
}

static void test_basic(void)
{
    idms_form f;
    CHECK_OK(parse("grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%"
                   "2Fcb&scope=openid+3gpp%3amc%3Aptt_service",
                   &f));
    CHECK(f.n == 4);
    CHECK(strcmp(idms_form_get(&f, "grant_type"), "authorization_code") == 0);
    CHECK(strcmp(idms_form_get(&f, "redirect_uri"), "http://127.0.0.1/cb") == 0);
    CHECK(strcmp(idms_form_get(&f, "scope"), "openid 3gpp:mc:ptt_service") == 0);
    CHECK(idms_form_get(&f, "missing") == NULL);
    idms_form_free(&f);
    idms_form_free(&f); /* twice is safe */

    CHECK_OK(parse("", &f));
    CHECK(f.n == 0);
    idms_form_free(&f);
    CHECK_OK(idms_form_parse(NULL, 0, &f));
    CHECK(f.n == 0);
    idms_form_free(&f);

    /* empty pairs skipped; a value-less parameter reads as omitted */
    CHECK_OK(parse("&a=1&&b=&c&", &f));
    CHECK(f.n == 3);
    CHECK(strcmp(idms_form_get(&f, "a"), "1") == 0);
    CHECK(idms_form_get(&f, "b") == NULL);
    CHECK(idms_form_get(&f, "c") == NULL);
    idms_form_free(&f);

    /* '=' inside a value and UTF-8 through escapes */
    CHECK_OK(parse("state=a%3Db=c&name=%C3%A9", &f));
    CHECK(strcmp(idms_form_get(&f, "state"), "a=b=c") == 0);
    CHECK(strcmp(idms_form_get(&f, "name"), "\xc3\xa9") == 0);
    idms_form_free(&f);

    /* not NUL-terminated input: only len octets are read */
    const char raw[] = {'a', '=', '1', '&', 'b', '=', '2'};
    CHECK_OK(idms_form_parse(raw, 3, &f));
    CHECK(f.n == 1 && strcmp(idms_form_get(&f, "a"), "1") == 0);
    idms_form_free(&f);
}

static void test_bad_escapes(void)
{
    static const char *const bad[] = {"a=%",   "a=%4",   "a=%zz",  "a=%4g",      "a=1%",   "a=%00",
                                      "%00=1", "a=b c",  "a=\x01", "a=\xc3\xa9", "a=\x7f", "=1",
                                      "=",     "a=1&=2", "%=1",    "a=%%41"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idms_form f;
        mcx_status st = parse(bad[i], &f);
        if (st != MCX_E_ENCODING)
            fprintf(stderr, "input %zu (%s): %s\n", i, bad[i], mcx_status_name(st));
        CHECK(st == MCX_E_ENCODING);
        CHECK(f.n == 0 && f.buf == NULL);
        idms_form_free(&f);
    }
    idms_form f;
    CHECK_ST(parse("a=%4", &f), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "escape") != NULL);
}

static void test_duplicates(void)
{
    idms_form f;
    CHECK_ST(parse("code=1&code=2", &f), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "repeated") != NULL);
    /* the same name spelt differently is still the same parameter once decoded */
    CHECK_ST(parse("code=1&c%6Fde=2", &f), MCX_E_ENCODING);
    /* without a value it still counts */
    CHECK_ST(parse("code=&code=2", &f), MCX_E_ENCODING);
    CHECK_ST(parse("scope&scope", &f), MCX_E_ENCODING);
    /* names are case-sensitive */
    CHECK_OK(parse("code=1&Code=2", &f));
    idms_form_free(&f);
}

static void test_limits(void)
{
    static char big[IDMS_FORM_MAX_INPUT + 2];
    idms_form f;
    memset(big, 'a', sizeof big - 1);
    big[0] = 'x';
    big[1] = '=';
    CHECK_OK(idms_form_parse(big, IDMS_FORM_MAX_INPUT, &f));
    CHECK(f.n == 1 && strlen(idms_form_get(&f, "x")) == IDMS_FORM_MAX_INPUT - 2);
    idms_form_free(&f);
    CHECK_ST(idms_form_parse(big, IDMS_FORM_MAX_INPUT + 1, &f), MCX_E_LENGTH);

    char many[IDMS_FORM_MAX_PAIRS * 8 + 16];
    size_t o = 0;
    for (int i = 0; i < IDMS_FORM_MAX_PAIRS; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "p%d=1&", i);
    CHECK_OK(idms_form_parse(many, o, &f));
    CHECK(f.n == IDMS_FORM_MAX_PAIRS);
    idms_form_free(&f);
    o += (size_t)snprintf(many + o, sizeof many - o, "last=1");
    CHECK_ST(idms_form_parse(many, o, &f), MCX_E_LENGTH);

    char name[IDMS_FORM_MAX_NAME + 8];
    memset(name, 'n', IDMS_FORM_MAX_NAME);
    strcpy(name + IDMS_FORM_MAX_NAME, "=1");
    CHECK_OK(parse(name, &f));
    idms_form_free(&f);
    memset(name, 'n', IDMS_FORM_MAX_NAME + 1);
    strcpy(name + IDMS_FORM_MAX_NAME + 1, "=1");
    CHECK_ST(parse(name, &f), MCX_E_LENGTH);
    CHECK_ST(idms_form_parse(NULL, 1, &f), MCX_E_ARG);
}

int main(void)
{
    RUN(test_basic);
    RUN(test_bad_escapes);
    RUN(test_duplicates);
    RUN(test_limits);
    return test_summary();
}
