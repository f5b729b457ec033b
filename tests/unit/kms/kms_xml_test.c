/* KMS XML codec (TS 33.180 Annex D): the deployed KMS's responses, round trips of every message
 * type validated against schemas/mcsecKMSInterface.xsd (libxml2 and, when present, xmllint), and
 * hostile documents refused with a reason naming the element. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcxsec/kms_xml.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h" /* both define KMS types: their names must not clash */
#include "test.h"

#define SCHEMA_PATH MCX_VECTOR_DIR "/../../schemas/mcsecKMSInterface.xsd"

static const char Z_HEX[] =
    "045958EF1B1679BF099B3A030DF255AA6A23C1D8F143D4D23F753E69BD27A832F38CB4AD53DDEF4260B0FE8BB45C"
    "4C1FF510EFFE300367A37B61F701D914AEF09724825FA0707D61A6DFF4FBD7273566CDDE352A0B04B7C16A78309B"
    "E640697DE747613A5FC195E8B9F328852A579DB8F99B1D0034479EA9C5595F47C4B2F54FF21508D37514DCF7A8E1"
    "43A6058C09A6BF2C9858CA37C258065AE6BF7532BC8B5B63383866E0753C5AC0E72709F8445F2E6178E065857E0E"
    "DA10F68206B63505ED87E534FB2831FF957FB7DC619DAE61301EEACC2FDA3680EA4999258A833CEA8FC67C6D1948"
    "7FB449059F26CC8AAB655AB58B7CC796E24E9A394095754F5F8BAE";
static const char KPAK_HEX[] = "0450D4670BDE75244F28D2838A0D25558A7A72686D4522D4C8273FB6442AEBFA93"
                               "DBDD37551AFD263B5DFD617F3960C65A8C298850FF99F20366DCE7D4367217F4";
#define SSK_HEX "D31C6FD21791D92D0BC721B50125C2B83450F4727EC5A845853AD30E023C34F3"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

static char *vector(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/kms_xml/%s", MCX_VECTOR_DIR, name);
    return read_file(path, len);
}

/* s with the first occurrence of from replaced by to (malloc'ed); aborts if from is absent. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (p == NULL) {
        fprintf(stderr, "replace: '%s' not found\n", from);
        exit(2);
    }
    size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
    char *r = malloc(a + tl + rest + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, p + fl, rest + 1);
    return r;
}

/* Validate with the system's xmllint too, when it is installed (an independent validator). */
static void xmllint_valid(const char *xml, size_t len)
{
    if (access("/usr/bin/xmllint", X_OK) != 0)
        return;
    char path[] = "/tmp/kms_xml_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, xml, len) == (ssize_t)len);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout --nonet --schema %s %s >/dev/null 2>&1",
             SCHEMA_PATH, path);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "xmllint refused:\n%s\n", xml);
    CHECK(rc == 0);
    unlink(path);
}

static void test_schema_matches_file(void)
{
    size_t n;
    char *file = read_file(SCHEMA_PATH, &n);
    CHECK(strlen(mcx_kms_xml_schema()) == n);
    CHECK(strcmp(mcx_kms_xml_schema(), file) == 0);
    free(file);
}

static void test_vector_init(void)
{
    size_t n;
    char *xml = vector("test_init_response.xml", &n);
    CHECK_OK(mcx_kms_xml_validate((const uint8_t *)xml, n));
    mcx_kms_response r;
    CHECK_OK(mcx_kms_response_parse((const uint8_t *)xml, n, MCX_KMS_XML_VALIDATE, &r));
    CHECK(r.type == MCX_KMS_MSG_INIT && r.n_certs == 1);
    CHECK(strcmp(r.user_uri, "alice@org.com") == 0);
    CHECK(strcmp(r.kms_uri, "localhost:8080") == 0);
    CHECK(r.time == 1620645782); /* 2021-05-10T11:23:02 UTC */
    CHECK(strcmp(r.msg_version, "1.0.0") == 0);
    if (r.type == MCX_KMS_MSG_INIT) {
        const mcx_kms_certificate *c = &r.certs[0];
        CHECK(c->role == MCX_KMS_ROLE_ROOT && strcmp(c->version, "1.1.0") == 0);
        CHECK(strcmp(c->user_id_format, "2") == 0);
        CHECK(c->user_key_period == 2592000 && c->user_key_offset == 0);
        uint8_t z[257], kpak[65];
        test_unhex(Z_HEX, z, sizeof z);
        test_unhex(KPAK_HEX, kpak, sizeof kpak);
        CHECK_MEM(c->z, z, 257);
        CHECK_MEM(c->kpak, kpak, 65);
    }
    mcx_kms_response_free(&r);
    CHECK(r.certs == NULL && r.n_certs == 0);
    free(xml);
}

static void test_vector_keyprov_base64(void)
{
    size_t n;
    char *xml = vector("test_key_prov_response.xml", &n);
    mcx_kms_response r;
    CHECK_OK(mcx_kms_response_parse((const uint8_t *)xml, n, MCX_KMS_XML_VALIDATE, &r));
    CHECK(r.type == MCX_KMS_MSG_KEYPROV && r.n_key_sets == 1);
    uint8_t ssk[32];
    test_unhex(SSK_HEX, ssk, sizeof ssk);
    if (r.n_key_sets == 1) {
        CHECK_MEM(r.key_sets[0].ssk, ssk, 32);
        CHECK(r.key_sets[0].key_period_no == 625 && r.key_sets[0].user_id_len == 32);
    }
    mcx_kms_response_free(&r);
    /* The same SSK as base64 text (FORMATS §8: not all hex digits -> base64). */
    char *b64 = replace(xml, SSK_HEX, "0xxv0heR2S0LxyG1ASXCuDRQ9HJ+xahFhTrTDgI8NPM=");
    CHECK_OK(mcx_kms_response_parse((const uint8_t *)b64, strlen(b64), 0, &r));
    if (r.n_key_sets == 1)
        CHECK_MEM(r.key_sets[0].ssk, ssk, 32);
    mcx_kms_response_free(&r);
    free(b64);
    free(xml);
}

static void test_key_decode(void)
{
    uint8_t b[16];
    size_t n;
    CHECK_OK(mcx_kms_key_decode("3q2+7w==", b, sizeof b, &n));
    CHECK(n == 4 && memcmp(b, "\xde\xad\xbe\xef", 4) == 0);
    CHECK_OK(mcx_kms_key_decode(" cafebabe4567\n", b, sizeof b, &n));
    CHECK(n == 6 && memcmp(b, "\xca\xfe\xba\xbe\x45\x67", 6) == 0);
    CHECK_ST(mcx_kms_key_decode("test_invalid", b, sizeof b, &n), MCX_E_ENCODING);
    CHECK_ST(mcx_kms_key_decode("abc", b, sizeof b, &n), MCX_E_ENCODING);
    CHECK_ST(mcx_kms_key_decode("3q2+7w=", b, sizeof b, &n), MCX_E_ENCODING);
    CHECK_ST(mcx_kms_key_decode("3q=+7w==", b, sizeof b, &n), MCX_E_ENCODING);
    CHECK_ST(mcx_kms_key_decode("00112233", b, 3, &n), MCX_E_LENGTH);
    CHECK_ST(mcx_kms_key_decode("", b, sizeof b, &n), MCX_E_ENCODING);
}

static void fill_cert(mcx_kms_certificate *c, int i)
{
    memset(c, 0, sizeof *c);
    c->role = i ? MCX_KMS_ROLE_EXTERNAL : MCX_KMS_ROLE_ROOT;
    c->is_security_gateway = i ? MCX_KMS_TRUE : MCX_KMS_ABSENT;
    snprintf(c->cert_uri, sizeof c->cert_uri, "kms%d.example.org/cert", i);
    snprintf(c->kms_uri, sizeof c->kms_uri, "kms%d.example.org", i);
    snprintf(c->issuer, sizeof c->issuer, "Issuer <%d> & \"co\"", i);
    c->has_valid_from = c->has_valid_to = 1;
    c->valid_from = 1600000000;
    c->valid_to = 1900000000 + i;
    c->revoked = MCX_KMS_FALSE;
    strcpy(c->user_id_format, "2");
    c->user_key_period = 2592000;
    c->user_key_offset = (uint64_t)i * 60;
    test_unhex(Z_HEX, c->z, sizeof c->z);
    test_unhex(KPAK_HEX, c->kpak, sizeof c->kpak);
    c->has_parameter_set = 1;
    c->parameter_set = 1;
    c->n_domains = 2;
    strcpy(c->domains[0], "org.com");
    strcpy(c->domains[1], "example.org");
}

static void check_cert(const mcx_kms_certificate *a, const mcx_kms_certificate *b)
{
    CHECK(a->role == b->role && a->is_security_gateway == b->is_security_gateway);
    CHECK(strcmp(a->cert_uri, b->cert_uri) == 0 && strcmp(a->kms_uri, b->kms_uri) == 0);
    CHECK(strcmp(a->issuer, b->issuer) == 0);
    CHECK(a->has_valid_from == b->has_valid_from && a->valid_from == b->valid_from);
    CHECK(a->has_valid_to == b->has_valid_to && a->valid_to == b->valid_to);
    CHECK(a->revoked == b->revoked && strcmp(a->user_id_format, b->user_id_format) == 0);
    CHECK(a->user_key_period == b->user_key_period && a->user_key_offset == b->user_key_offset);
    CHECK_MEM(a->z, b->z, sizeof a->z);
    CHECK_MEM(a->kpak, b->kpak, sizeof a->kpak);
    CHECK(a->has_parameter_set == b->has_parameter_set && a->parameter_set == b->parameter_set);
    CHECK(a->n_domains == b->n_domains);
    for (size_t i = 0; i < a->n_domains && i < b->n_domains; i++)
        CHECK(strcmp(a->domains[i], b->domains[i]) == 0);
    CHECK(a->signed_form == b->signed_form);
}

static void fill_head(mcx_kms_response *r, const char *path)
{
    memset(r, 0, sizeof *r);
    strcpy(r->user_uri, "sip:alice@org.com");
    strcpy(r->kms_uri, "kms.org.com");
    r->time = 1620645782;
    strcpy(r->kms_id, "KMS-1");
    snprintf(r->client_req_url, sizeof r->client_req_url,
             "https://kms.org.com/keymanagement/identity/v1/%s", path);
}

/* Write, validate twice (libxml2 in-process, xmllint), parse back. */
static int round_trip(const mcx_kms_response *in, mcx_kms_response *back)
{
    char *xml = NULL;
    size_t n = 0;
    CHECK_OK(mcx_kms_response_write(in, &xml, &n));
    if (xml == NULL)
        return 0;
    CHECK(strlen(xml) == n);
    CHECK_OK(mcx_kms_xml_validate((const uint8_t *)xml, n));
    xmllint_valid(xml, n);
    mcx_status st = mcx_kms_response_parse((const uint8_t *)xml, n, MCX_KMS_XML_VALIDATE, back);
    CHECK_OK(st);
    mcx_kms_xml_free(xml);
    if (st != MCX_OK)
        return 0;
    CHECK(strcmp(back->user_uri, in->user_uri) == 0 && strcmp(back->kms_uri, in->kms_uri) == 0);
    CHECK(back->time == in->time && strcmp(back->kms_id, in->kms_id) == 0);
    CHECK(strcmp(back->client_req_url, in->client_req_url) == 0);
    CHECK(back->type == in->type);
    return back->type == in->type;
}

static void test_round_trip_init(void)
{
    mcx_kms_certificate cert;
    fill_cert(&cert, 0);
    mcx_kms_response r, b;
    fill_head(&r, "init");
    r.type = MCX_KMS_MSG_INIT;
    r.certs = &cert;
    r.n_certs = 1;
    if (round_trip(&r, &b)) {
        CHECK(b.n_certs == 1);
        check_cert(&b.certs[0], &cert);
        CHECK(strcmp(b.certs[0].version, "1.1.0") == 0);
        mcx_kms_response_free(&b);
    }
    /* Signed certificate form (no signature: it is optional in SignedKmsCertificate). */
    cert.signed_form = 1;
    if (round_trip(&r, &b)) {
        check_cert(&b.certs[0], &cert);
        mcx_kms_response_free(&b);
    }
}

static void test_round_trip_keyprov(void)
{
    mcx_kms_key_set *ks = mcx_secure_alloc(3 * sizeof *ks);
    for (int i = 0; i < 3; i++) {
        mcx_kms_key_set *k = &ks[i];
        strcpy(k->kms_uri, "kms.org.com");
        strcpy(k->user_uri, "sip:alice@org.com");
        if (i == 1) {
            strcpy(k->cert_uri, "kms.org.com/cert");
            strcpy(k->issuer, "org");
            k->has_valid_from = k->has_valid_to = 1;
            k->valid_from = 1620000000;
            k->valid_to = 1622592000;
            k->revoked = MCX_KMS_TRUE;
        }
        k->user_id_len = 32;
        for (int j = 0; j < 32; j++)
            k->user_id[j] = (uint8_t)(i * 32 + j);
        k->key_period_no = 625 + (uint64_t)i;
        k->rsk[0] = 0x04;
        for (int j = 1; j < 257; j++)
            k->rsk[j] = (uint8_t)(j * 7 + i);
        for (int j = 0; j < 32; j++)
            k->ssk[j] = (uint8_t)(0xa0 + j + i);
        k->pvt[0] = 0x04;
        for (int j = 1; j < 65; j++)
            k->pvt[j] = (uint8_t)(j * 3 + i);
    }
    mcx_kms_response r, b;
    fill_head(&r, "keyprov");
    r.type = MCX_KMS_MSG_KEYPROV;
    r.key_sets = ks;
    r.n_key_sets = 3;
    if (round_trip(&r, &b)) {
        CHECK(b.n_key_sets == 3);
        for (size_t i = 0; i < 3 && i < b.n_key_sets; i++) {
            const mcx_kms_key_set *x = &b.key_sets[i], *y = &ks[i];
            CHECK(strcmp(x->kms_uri, y->kms_uri) == 0 && strcmp(x->user_uri, y->user_uri) == 0);
            CHECK(strcmp(x->cert_uri, y->cert_uri) == 0 && strcmp(x->issuer, y->issuer) == 0);
            CHECK(x->user_id_len == 32 && memcmp(x->user_id, y->user_id, 32) == 0);
            CHECK(x->has_valid_from == y->has_valid_from && x->valid_from == y->valid_from);
            CHECK(x->has_valid_to == y->has_valid_to && x->valid_to == y->valid_to);
            CHECK(x->key_period_no == y->key_period_no && x->revoked == y->revoked);
            CHECK_MEM(x->rsk, y->rsk, 257);
            CHECK_MEM(x->ssk, y->ssk, 32);
            CHECK_MEM(x->pvt, y->pvt, 65);
            CHECK(strcmp(x->version, "1.1.0") == 0);
        }
        mcx_kms_response_free(&b);
    }
    /* No key sets at all is a valid KmsKeyProv (nothing to provision). */
    r.n_key_sets = 0;
    if (round_trip(&r, &b)) {
        CHECK(b.n_key_sets == 0);
        mcx_kms_response_free(&b);
    }
    mcx_secure_free(ks);
}

static void test_round_trip_certcache(void)
{
    mcx_kms_certificate certs[3];
    for (int i = 0; i < 3; i++)
        fill_cert(&certs[i], i + 1);
    certs[1].signed_form = 1; /* written first: the schema orders signed before plain */
    certs[2].n_domains = 0;
    certs[2].has_parameter_set = 0;
    certs[2].parameter_set = 0;
    certs[2].revoked = MCX_KMS_ABSENT;
    mcx_kms_response r, b;
    fill_head(&r, "certcache");
    r.type = MCX_KMS_MSG_CERTCACHE;
    r.certs = certs;
    r.n_certs = 3;
    r.has_cache_num = 1;
    r.cache_num = 42;
    if (round_trip(&r, &b)) {
        CHECK(b.n_certs == 3 && b.has_cache_num && b.cache_num == 42);
        if (b.n_certs == 3) {
            check_cert(&b.certs[0], &certs[1]);
            check_cert(&b.certs[1], &certs[0]);
            check_cert(&b.certs[2], &certs[2]);
        }
        mcx_kms_response_free(&b);
    }
}

static void test_round_trip_error_and_none(void)
{
    mcx_kms_response r, b;
    fill_head(&r, "keyprov");
    r.type = MCX_KMS_MSG_ERROR;
    r.error_code = 403;
    strcpy(r.error_msg, "user <alice> is not allowed & that's final");
    if (round_trip(&r, &b)) {
        CHECK(b.error_code == 403 && strcmp(b.error_msg, r.error_msg) == 0);
        mcx_kms_response_free(&b);
    }
    r.kms_id[0] = '\0';
    r.type = MCX_KMS_MSG_NONE;
    if (round_trip(&r, &b))
        mcx_kms_response_free(&b);
}

static void test_round_trip_request(void)
{
    mcx_kms_request q, b;
    memset(&q, 0, sizeof q);
    strcpy(q.user_uri, "sip:alice@org.com");
    strcpy(q.kms_uri, "kms.org.com");
    q.time = 1700000000;
    strcpy(q.client_id, "mcptt-client");
    strcpy(q.device_id, "imei:35-209900-176148-1");
    strcpy(q.client_req_url, "https://kms.org.com/keymanagement/identity/v1/keyprov");
    q.has_client_error = 1;
    q.client_error_code = -2;
    strcpy(q.client_error_msg, "previous key set failed validation");
    char *xml;
    size_t n;
    CHECK_OK(mcx_kms_request_write(&q, &xml, &n));
    CHECK_OK(mcx_kms_xml_validate((const uint8_t *)xml, n));
    xmllint_valid(xml, n);
    CHECK_OK(mcx_kms_request_parse((const uint8_t *)xml, n, MCX_KMS_XML_VALIDATE, &b));
    CHECK(strcmp(b.user_uri, q.user_uri) == 0 && strcmp(b.kms_uri, q.kms_uri) == 0);
    CHECK(b.time == q.time && strcmp(b.client_id, q.client_id) == 0);
    CHECK(strcmp(b.device_id, q.device_id) == 0);
    CHECK(strcmp(b.client_req_url, q.client_req_url) == 0);
    CHECK(b.has_client_error && b.client_error_code == -2);
    CHECK(strcmp(b.client_error_msg, q.client_error_msg) == 0 && !b.signed_form);
    /* A request is not a response, and the reverse. */
    mcx_kms_response r;
    CHECK_ST(mcx_kms_response_parse((const uint8_t *)xml, n, 0, &r), MCX_E_ENCODING);
    mcx_kms_xml_free(xml);

    /* Signed form: the inner request is read, the ds:Signature skipped. */
    const char *signed_req =
        "<SignedKmsRequest xmlns='urn:3gpp:ns:mcsecKMSInterface:1.0'>"
        "<KmsRequest><UserUri>a@b</UserUri><KmsUri>k</KmsUri><Time>2021-05-10T11:23:02Z</Time>"
        "<ClientReqUrl>http://k/keymanagement/identity/v1/init</ClientReqUrl></KmsRequest>"
        "<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'><ds:SignedInfo/>"
        "</ds:Signature></SignedKmsRequest>";
    CHECK_OK(mcx_kms_request_parse((const uint8_t *)signed_req, strlen(signed_req),
                                   MCX_KMS_XML_VALIDATE, &b));
    CHECK(b.signed_form && b.time == 1620645782 && b.client_id[0] == '\0');
    /* Bad attribute value and unwritable text are refused by the writer. */
    strcpy(q.client_id, "bell\a");
    CHECK_ST(mcx_kms_request_write(&q, &xml, &n), MCX_E_ARG);
    q.client_id[0] = '\0';
    q.kms_uri[0] = '\0';
    CHECK_ST(mcx_kms_request_write(&q, &xml, &n), MCX_E_ARG);
    CHECK(strstr(mcx_last_error(), "KmsRequest/KmsUri") != NULL);
}

/* Parse must fail with want and a reason containing needle. */
static void refused(const char *what, const char *xml, size_t len, mcx_status want,
                    const char *needle)
{
    mcx_kms_response r;
    mcx_status st = mcx_kms_response_parse((const uint8_t *)xml, len, 0, &r);
    if (st != want || strstr(mcx_last_error(), needle) == NULL) {
        fprintf(stderr, "%s: got %s '%s', expected %s '...%s...'\n", what, mcx_status_name(st),
                mcx_last_error(), mcx_status_name(want), needle);
        test_failed_checks++;
    }
    if (st == MCX_OK)
        mcx_kms_response_free(&r);
    CHECK(r.certs == NULL && r.key_sets == NULL);
}

static void refused_edit(const char *what, const char *base, const char *from, const char *to,
                         mcx_status want, const char *needle)
{
    char *x = replace(base, from, to);
    refused(what, x, strlen(x), want, needle);
    free(x);
}

static void test_hostile(void)
{
    size_t n, m;
    char *kp = vector("test_key_prov_response.xml", &n);
    char *in = vector("test_init_response.xml", &m);

    const char *xxe = "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                      "<KmsResponse xmlns='urn:3gpp:ns:mcsecKMSInterface:1.0'><UserUri>&x;"
                      "</UserUri></KmsResponse>";
    refused("XXE", xxe, strlen(xxe), MCX_E_ENCODING, "DOCTYPE");
    const char *lol = "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>"
                      "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
                      "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
                      "<KmsResponse xmlns='urn:3gpp:ns:mcsecKMSInterface:1.0'>&c;</KmsResponse>";
    refused("billion laughs", lol, strlen(lol), MCX_E_ENCODING, "DOCTYPE");
    const char *ext = "<!DOCTYPE KmsResponse SYSTEM 'http://127.0.0.1:1/x.dtd'>"
                      "<KmsResponse xmlns='urn:3gpp:ns:mcsecKMSInterface:1.0'/>";
    refused("external DTD", ext, strlen(ext), MCX_E_ENCODING, "DOCTYPE");
    /* An undeclared entity reference without a DTD is not well-formed. */
    refused_edit("entity", kp, "alice@org.com</UserUri>", "&x;</UserUri>", MCX_E_ENCODING,
                 "not well-formed");
    refused("garbage", "<KmsResponse", 12, MCX_E_ENCODING, "not well-formed");
    refused("empty", "", 0, MCX_E_ENCODING, "empty");

    refused_edit("wrong namespace", kp, "urn:3gpp:ns:mcsecKMSInterface:1.0",
                 "urn:3gpp:ns:mcsecKMSInterface:2.0", MCX_E_ENCODING, "namespace");
    refused_edit("no namespace", kp, "xmlns=\"urn:3gpp:ns:mcsecKMSInterface:1.0\"", "",
                 MCX_E_ENCODING, "namespace");
    refused_edit("child in no namespace", kp, "<KmsUri>localhost:8080</KmsUri>",
                 "<KmsUri xmlns=''>localhost:8080</KmsUri>", MCX_E_ENCODING,
                 "KmsResponse/KmsUri: element in no namespace");
    char *wr = replace(kp, "<KmsResponse ", "<KmsRequest ");
    refused_edit("wrong root", wr, "</KmsResponse>", "</KmsRequest>", MCX_E_ENCODING,
                 "root <KmsRequest>, expected KmsResponse");
    free(wr);
    refused_edit("duplicate", kp, "<KmsUri>localhost:8080</KmsUri>",
                 "<KmsUri>localhost:8080</KmsUri><KmsUri>x</KmsUri>", MCX_E_ENCODING,
                 "KmsResponse/KmsUri: duplicate element");
    refused_edit("missing", kp, "<KmsUri>localhost:8080</KmsUri>", "", MCX_E_ENCODING,
                 "KmsResponse/KmsUri: missing");
    refused_edit("order", kp,
                 "<UserUri>alice@org.com</UserUri>\n    <KmsUri>localhost:8080</KmsUri>",
                 "<KmsUri>localhost:8080</KmsUri><UserUri>alice@org.com</UserUri>", MCX_E_ENCODING,
                 "KmsResponse/UserUri: missing");
    refused_edit("unknown element", kp, "<KeyPeriodNo>", "<Bogus/><KeyPeriodNo>", MCX_E_ENCODING,
                 "KmsKeySet/Bogus: unexpected element");
    refused_edit("missing key", kp, "<UserPubTokenPVT>", "<Foo>", MCX_E_ENCODING,
                 "not well-formed");
    char *nopvt = replace(kp, "<UserPubTokenPVT>", "<!--");
    refused_edit("missing PVT", nopvt, "</UserPubTokenPVT>", "-->", MCX_E_ENCODING,
                 "KmsKeySet/UserPubTokenPVT: missing");
    free(nopvt);
    refused_edit("SSK 31 octets", kp, SSK_HEX, SSK_HEX + 2, MCX_E_LENGTH,
                 "KMS XML: KmsKeySet/UserSigningKeySSK: 31 octets, expected 32");
    refused_edit("SSK 33 octets", kp, SSK_HEX,
                 "00D31C6FD21791D92D0BC721B50125C2B83450F4727EC5A845853AD30E023C34F3", MCX_E_LENGTH,
                 "UserSigningKeySSK: 33 octets, expected 32");
    refused_edit("SSK odd hex", kp, SSK_HEX, SSK_HEX + 1, MCX_E_ENCODING,
                 "KmsKeySet/UserSigningKeySSK: neither hex nor base64");
    refused_edit("non-hex", in, "0450D4670BDE", "0450D4670BDX", MCX_E_ENCODING,
                 "KmsCertificate/PubAuthKey: neither hex nor base64");
    refused_edit("RSK prefix", kp, "<UserDecryptKey>04", "<UserDecryptKey>05", MCX_E_ENCODING,
                 "KmsKeySet/UserDecryptKey: first octet 0x05, expected 0x04");
    refused_edit("Z short", in, "<PubEncKey>045958EF", "<PubEncKey>0459", MCX_E_LENGTH,
                 "KmsCertificate/PubEncKey: 255 octets, expected 257");
    refused_edit("wrapped", kp, "<UserSigningKeySSK>" SSK_HEX "</UserSigningKeySSK>",
                 "<UserSigningKeySSK xsi:type='EncKeyContentType'><xenc:EncryptedKey "
                 "xmlns:xenc='http://www.w3.org/2001/04/xmlenc#'/></UserSigningKeySSK>",
                 MCX_E_UNSUPPORTED, "UserSigningKeySSK: key wrapped");
    refused_edit("period 0", in, "<UserKeyPeriod>2592000", "<UserKeyPeriod>0", MCX_E_RANGE,
                 "KmsCertificate/UserKeyPeriod: 0");
    refused_edit("period text", in, "<UserKeyPeriod>2592000", "<UserKeyPeriod>-5", MCX_E_ENCODING,
                 "KmsCertificate/UserKeyPeriod: '-5'");
    refused_edit("period overflow", in, "<UserKeyPeriod>2592000",
                 "<UserKeyPeriod>99999999999999999999", MCX_E_ENCODING,
                 "UserKeyPeriod: '99999999999999999999' is not a 64-bit");
    refused_edit("bad time", kp, "2021-05-17T13:25:16", "2021-02-30T13:25:16", MCX_E_ENCODING,
                 "KmsResponse/Time: '2021-02-30T13:25:16' is not an xs:dateTime");
    refused_edit("bad role", in, "Role=\"Root\"", "Role=\"Boss\"", MCX_E_ENCODING,
                 "KmsCertificate@Role: 'Boss'");
    refused_edit("text in sequence", kp, "<KmsMessage>", "<KmsMessage>junk", MCX_E_ENCODING,
                 "KmsMessage: text where only elements belong");
    refused_edit("element in leaf", kp, "<KeyPeriodNo>625", "<KeyPeriodNo><b/>625", MCX_E_ENCODING,
                 "KmsKeySet/KeyPeriodNo: unexpected child element");
    refused_edit("message and error", kp, "</KmsMessage>",
                 "</KmsMessage><KmsError><ErrorCode>1</ErrorCode><ErrorMsg/></KmsError>",
                 MCX_E_ENCODING, "KmsError: after a KmsMessage");
    refused_edit("two certs", in, "</KmsCertificate>", "</KmsCertificate><KmsCertificate/>",
                 MCX_E_ENCODING, "KmsInit/KmsCertificate: duplicate element");
    refused_edit("empty message", kp, "<KmsMessage>", "<KmsMessage/><X>", MCX_E_ENCODING,
                 "not well-formed");
    const char *no_cert = "<KmsResponse xmlns='urn:3gpp:ns:mcsecKMSInterface:1.0'>"
                          "<UserUri>a</UserUri><KmsUri>k</KmsUri><Time>2021-05-10T11:23:02</Time>"
                          "<ClientReqUrl>u</ClientReqUrl><KmsMessage><KmsInit/></KmsMessage>"
                          "</KmsResponse>";
    refused("KmsInit without certificate", no_cert, strlen(no_cert), MCX_E_ENCODING,
            "KmsInit/KmsCertificate: missing");
    char longuri[400];
    memset(longuri, 'a', 300);
    strcpy(longuri + 300, "</UserUri>");
    refused_edit("long URI", kp, "alice@org.com</UserUri>", longuri, MCX_E_LENGTH,
                 "KmsResponse/UserUri: 300 characters, at most 255");

    /* More key sets than the API holds. */
    const char *ks_b = strstr(kp, "<KmsKeySet");
    const char *ks_e = strstr(kp, "</KmsKeySet>") + strlen("</KmsKeySet>");
    size_t ksl = (size_t)(ks_e - ks_b);
    char *many = malloc(n + (MCX_KMS_MAX_KEY_SETS + 1) * ksl + 1);
    size_t o = (size_t)(ks_b - kp);
    memcpy(many, kp, o);
    for (int i = 0; i <= MCX_KMS_MAX_KEY_SETS; i++, o += ksl)
        memcpy(many + o, ks_b, ksl);
    strcpy(many + o, ks_e);
    refused("too many key sets", many, strlen(many), MCX_E_LENGTH, "more than 16 key sets");
    free(many);

    /* Oversized input: refused on its size before parsing. */
    size_t big = MCX_KMS_XML_MAX_BYTES + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    memcpy(huge, kp, n);
    refused("huge", huge, big, MCX_E_LENGTH, "at most");
    free(huge);

    /* Deep nesting inside a foreign-namespace extension element is skipped, but libxml2's
     * depth limit still bounds it. */
    size_t depth = 300;
    char *deep = malloc(n + depth * 16 + 64);
    char *p = deep;
    const char *cut = strstr(kp, "<KmsMessage>");
    memcpy(p, kp, (size_t)(cut - kp));
    p += cut - kp;
    p += sprintf(p, "<x:a xmlns:x='urn:x'>");
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "<x:a>");
    for (size_t i = 0; i <= depth; i++)
        p += sprintf(p, "</x:a>");
    strcpy(p, cut);
    refused("deep", deep, strlen(deep), MCX_E_ENCODING, "not well-formed");
    free(deep);

    /* Validation at parse time catches what the structural reader tolerates: a PubEncKey in
     * base64 is accepted by the reader (FORMATS §8) but is not xs:hexBinary. */
    char *b64 = replace(in,
                        "<PubAuthKey>0450D4670BDE75244F28D2838A0D25558A7A72686D4522D4C8273FB6442"
                        "AEBFA93DBDD37551AFD263B5DFD617F3960C65A8C298850FF99F20366DCE7D4367217F4",
                        "<PubAuthKey>BFDUZwvedSRPKNKDig0lVYp6cmhtRSLUyCc/tkQq6/qT2903VRr9Jjtd/WF/"
                        "OWDGWowpiFD/mfIDZtzn1DZyF/Q=");
    mcx_kms_response r;
    CHECK_OK(mcx_kms_response_parse((const uint8_t *)b64, strlen(b64), 0, &r));
    if (r.n_certs == 1) {
        uint8_t kpak[65];
        test_unhex(KPAK_HEX, kpak, sizeof kpak);
        CHECK_MEM(r.certs[0].kpak, kpak, 65);
    }
    mcx_kms_response_free(&r);
    CHECK_ST(mcx_kms_response_parse((const uint8_t *)b64, strlen(b64), MCX_KMS_XML_VALIDATE, &r),
             MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "PubAuthKey") != NULL);
    free(b64);

    free(kp);
    free(in);
}

int main(void)
{
    RUN(test_schema_matches_file);
    RUN(test_vector_init);
    RUN(test_vector_keyprov_base64);
    RUN(test_key_decode);
    RUN(test_round_trip_init);
    RUN(test_round_trip_keyprov);
    RUN(test_round_trip_certcache);
    RUN(test_round_trip_error_and_none);
    RUN(test_round_trip_request);
    RUN(test_hostile);
    return test_summary();
}
