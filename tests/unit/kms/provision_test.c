/* mcx_client_provision against a scripted KMS: a real TLS server on 127.0.0.1 (OpenSSL, its own
 * self-signed certificate, one thread) answering init and keyprov with real TS 33.180 Annex D
 * XML written by mcx_kms_response_write, carrying real key material: KSAK and z drawn here, key
 * sets issued with mcx_eccsi_issue and mcx_sakke_issue_rsk. Each test bends one answer: a
 * KmsError, a corrupted RSK or SSK, a wrong UID, a key set for another user or KMS, a changed
 * certificate (refused, then re-pinned), an untrusted TLS certificate. The server checks what the
 * client sends (bearer token, content type, KmsRequest, the keyprov path). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/keystore.h"
#include "mcxsec/kms_xml.h"
#include "mcxsec/mem.h"
#include "mcxsec/provision.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"
#include "test.h"

#define PERIOD        2592000u
#define NOW           (3862080000ull + 1000u) /* NTP: inside key period 1490 */
#define CUR           1490u
#define NTP_UNIX      2208988800ull
#define ALICE         "sip:alice@police.example"
#define BOB           "sip:bob@police.example"
#define KMS_URI       "kms.police.example"
#define OTHER_KMS_URI "kms.rogue.example"
#define TOKEN         "eyJhbGciOiJFUzI1NiJ9.e30.test-access-token"

typedef enum {
    SC_OK,
    SC_KMS_ERROR,
    SC_BAD_RSK,
    SC_BAD_SSK,
    SC_WRONG_UID,
    SC_OTHER_USER,
    SC_OTHER_KMS,
    SC_ONLY_NEXT,
    SC_NOT_XML,
} scenario;

typedef struct tkms {
    uint8_t ksak[MCX_ECCSI_SCALAR_BYTES];
    uint8_t z[MCX_SAKKE_SCALAR_BYTES];
    mcx_kms_certificate cert;
    mcx_kms_key_set *sets; /* locked: alice CUR, alice CUR+1, bob CUR */
} tkms;

static tkms K1, K2, K3; /* K2: other master keys, same KmsUri; K3: another KmsUri */

static struct server {
    int lfd;
    uint16_t port;
    SSL_CTX *ctx;
    pthread_t th;
    volatile int stop;
    char url[64];
    char ca_file[256];
    scenario sc;
    tkms *kms; /* whose certificate and key sets are served */
    /* what the client sent */
    int init_calls, keyprov_calls, bearer_ok, ctype_ok, request_ok;
    char keyprov_path[1024];
} S;

static char dir[200], path[300];

static void make_kms(tkms *k, const char *kms_uri)
{
    memset(k, 0, sizeof *k);
    if (mcx_eccsi_kms_keygen(k->ksak, k->cert.kpak) != MCX_OK ||
        mcx_sakke_kms_keygen(k->z, k->cert.z) != MCX_OK)
        abort();
    mcx_kms_certificate *c = &k->cert;
    snprintf(c->version, sizeof c->version, "1.1.0");
    c->role = MCX_KMS_ROLE_ROOT;
    snprintf(c->cert_uri, sizeof c->cert_uri, "%s/cert/1", kms_uri);
    snprintf(c->kms_uri, sizeof c->kms_uri, "%s", kms_uri);
    snprintf(c->issuer, sizeof c->issuer, "%s", kms_uri);
    c->has_valid_from = c->has_valid_to = 1;
    c->valid_from = (time_t)1600000000;
    c->valid_to = (time_t)(NOW - NTP_UNIX + 10 * 365 * 86400ull);
    snprintf(c->user_id_format, sizeof c->user_id_format, "2");
    c->user_key_period = PERIOD;
    c->has_parameter_set = 1;
    c->parameter_set = 1;
    c->n_domains = 1;
    snprintf(c->domains[0], sizeof c->domains[0], "police.example");
    k->sets = mcx_secure_alloc(3 * sizeof *k->sets);
    const char *users[3] = {ALICE, ALICE, BOB};
    const uint64_t periods[3] = {CUR, CUR + 1, CUR};
    for (int i = 0; i < 3; i++) {
        mcx_kms_key_set *s = &k->sets[i];
        snprintf(s->kms_uri, sizeof s->kms_uri, "%s", kms_uri);
        snprintf(s->user_uri, sizeof s->user_uri, "%s", users[i]);
        s->key_period_no = periods[i];
        s->user_id_len = MCX_UID_BYTES;
        if (mcx_uid_format2(users[i], kms_uri, PERIOD, 0, periods[i], s->user_id) != MCX_OK)
            abort();
        s->has_valid_from = s->has_valid_to = 1;
        s->valid_from = (time_t)(periods[i] * PERIOD - NTP_UNIX);
        s->valid_to = s->valid_from + PERIOD;
        if (mcx_eccsi_issue(k->ksak, c->kpak, s->user_id, MCX_UID_BYTES, s->ssk, s->pvt) !=
                MCX_OK ||
            mcx_sakke_issue_rsk(k->z, sizeof k->z, s->user_id, MCX_UID_BYTES, s->rsk) != MCX_OK)
            abort();
    }
}

/* ---- the scripted KMS ---- */

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void pct_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (in[i] == '%' && i + 2 < n && hexv(in[i + 1]) >= 0 && hexv(in[i + 2]) >= 0) {
            out[o++] = (char)(hexv(in[i + 1]) * 16 + hexv(in[i + 2]));
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

typedef struct answer {
    char *buf;
    size_t len;
} answer;

static void respond(answer *a, int status, const char *ctype, const char *body, size_t n)
{
    char h[512];
    int hl = snprintf(h, sizeof h,
                      "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, ctype, n);
    a->buf = malloc((size_t)hl + n + 1);
    memcpy(a->buf, h, (size_t)hl);
    memcpy(a->buf + hl, body, n);
    a->len = (size_t)hl + n;
}

static void respond_xml(answer *a, int status, const mcx_kms_response *r)
{
    char *xml = NULL;
    size_t n = 0;
    if (mcx_kms_response_write(r, &xml, &n) != MCX_OK) {
        fprintf(stderr, "test KMS: %s\n", mcx_last_error());
        abort();
    }
    respond(a, status, "application/xml", xml, n);
    mcx_kms_xml_free(xml);
}

static void head(mcx_kms_response *r, const char *user, const char *url)
{
    memset(r, 0, sizeof *r);
    snprintf(r->user_uri, sizeof r->user_uri, "%s", user);
    snprintf(r->kms_uri, sizeof r->kms_uri, "%s", KMS_URI);
    r->time = (time_t)(NOW - NTP_UNIX);
    snprintf(r->client_req_url, sizeof r->client_req_url, "%s", url);
}

static void kms_error(answer *a, int status, int64_t code, const char *msg)
{
    mcx_kms_response r;
    head(&r, ALICE, "https://kms/keymanagement/identity/v1/init");
    r.type = MCX_KMS_MSG_ERROR;
    r.error_code = code;
    snprintf(r.error_msg, sizeof r.error_msg, "%s", msg);
    respond_xml(a, status, &r);
}

static void handle(const char *headers, const char *target, const char *body, size_t body_len,
                   answer *a)
{
    char want[256];
    snprintf(want, sizeof want, "\r\nAuthorization: Bearer %s\r\n", TOKEN);
    S.bearer_ok = strstr(headers, want) != NULL;
    S.ctype_ok = strcasestr(headers, "\r\nContent-Type: application/xml\r\n") != NULL;
    mcx_kms_request rq;
    S.request_ok = mcx_kms_request_parse((const uint8_t *)body, body_len, MCX_KMS_XML_VALIDATE,
                                         &rq) == MCX_OK &&
                   strcmp(rq.user_uri, ALICE) == 0;
    if (!S.bearer_ok) {
        kms_error(a, 401, 401, "access token missing or not valid");
        return;
    }
    const char *kp = "/keymanagement/identity/v1/keyprov/";
    mcx_kms_response r;
    if (strcmp(target, "/keymanagement/identity/v1/init") == 0) {
        S.init_calls++;
        if (S.sc == SC_KMS_ERROR) {
            kms_error(a, 403, 1002, "user not authorised for key management");
            return;
        }
        if (S.sc == SC_NOT_XML) {
            respond(a, 200, "application/xml", "<html>oops</html>", 17);
            return;
        }
        head(&r, ALICE, target);
        r.type = MCX_KMS_MSG_INIT;
        r.certs = &S.kms->cert;
        r.n_certs = 1;
        respond_xml(a, 200, &r);
    } else if (strncmp(target, kp, strlen(kp)) == 0) {
        S.keyprov_calls++;
        snprintf(S.keyprov_path, sizeof S.keyprov_path, "%s", target + strlen(kp));
        const char *slash = strrchr(target, '/');
        char user[256];
        pct_decode(target + strlen(kp), (size_t)(slash - target) - strlen(kp), user, sizeof user);
        if (strcmp(user, ALICE) != 0 || strlen(slash + 1) != 16) {
            kms_error(a, 404, 404, "no such user");
            return;
        }
        mcx_kms_key_set *sets = mcx_secure_alloc(2 * sizeof *sets);
        sets[0] = S.kms->sets[0];
        sets[1] = S.kms->sets[1];
        size_t n = 2;
        switch (S.sc) {
        case SC_BAD_RSK:
            sets[1].rsk[200] ^= 0x01; /* the next period's RSK: the current one alone is fine */
            break;
        case SC_BAD_SSK:
            sets[0].ssk[5] ^= 0x80;
            break;
        case SC_WRONG_UID:
            sets[1].user_id[31] ^= 0x01;
            break;
        case SC_OTHER_USER:
            sets[1] = S.kms->sets[2]; /* bob's real key set, in alice's answer */
            break;
        case SC_OTHER_KMS:
            snprintf(sets[1].kms_uri, sizeof sets[1].kms_uri, "kms.evil.example");
            break;
        case SC_ONLY_NEXT:
            sets[0] = sets[1];
            n = 1;
            break;
        default:
            break;
        }
        head(&r, ALICE, target);
        r.type = MCX_KMS_MSG_KEYPROV;
        r.key_sets = sets;
        r.n_key_sets = n;
        respond_xml(a, 200, &r);
        mcx_secure_free(sets);
    } else {
        kms_error(a, 404, 404, "not found");
    }
}

static void serve_one(int fd)
{
    SSL *ssl = SSL_new(S.ctx);
    SSL_set_fd(ssl, fd);
    static char req[65536];
    size_t n = 0;
    char *end = NULL;
    if (SSL_accept(ssl) != 1)
        goto out;
    while (n + 1 < sizeof req) {
        int r = SSL_read(ssl, req + n, (int)(sizeof req - 1 - n));
        if (r <= 0)
            goto out;
        n += (size_t)r;
        req[n] = '\0';
        if ((end = strstr(req, "\r\n\r\n")) == NULL)
            continue;
        const char *cl = strcasestr(req, "\r\nContent-Length:");
        size_t want = cl != NULL && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
        if (n >= (size_t)(end + 4 - req) + want)
            break;
    }
    if (end == NULL)
        goto out;
    end[2] = '\0'; /* headers keep their last CRLF */
    char method[8], target[1024];
    if (sscanf(req, "%7s %1023s", method, target) != 2)
        goto out;
    answer a = {NULL, 0};
    handle(req, target, end + 4, n - (size_t)(end + 4 - req), &a);
    for (size_t off = 0; off < a.len;) {
        int w = SSL_write(ssl, a.buf + off, (int)(a.len - off));
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(a.buf);
    SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    close(fd);
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!S.stop) {
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (S.stop) {
            close(fd);
            break;
        }
        serve_one(fd);
    }
    return NULL;
}

static int make_cert(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (pk == NULL || x == NULL)
        return 0;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"kms test", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", "IP:127.0.0.1"},
                             {"basicConstraints", "critical,CA:TRUE"},
                             {"keyUsage", "critical,digitalSignature,keyCertSign"}};
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (e == NULL)
            return 0;
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, pk, EVP_sha256()) == 0)
        return 0;
    FILE *f = fopen(S.ca_file, "w");
    if (f == NULL)
        return 0;
    PEM_write_X509(f, x);
    fclose(f);
    int ok = SSL_CTX_use_certificate(S.ctx, x) == 1 && SSL_CTX_use_PrivateKey(S.ctx, pk) == 1;
    X509_free(x);
    EVP_PKEY_free(pk);
    return ok;
}

static int server_start(void)
{
    memset(&S, 0, sizeof S);
    snprintf(S.ca_file, sizeof S.ca_file, "%s/kms-ca.pem", dir);
    S.ctx = SSL_CTX_new(TLS_server_method());
    if (S.ctx == NULL || !make_cert())
        return 0;
    SSL_CTX_set_min_proto_version(S.ctx, TLS1_2_VERSION);
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (S.lfd < 0 || bind(S.lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(S.lfd, 16) != 0 || getsockname(S.lfd, (struct sockaddr *)&sa, &sl) != 0)
        return 0;
    S.port = ntohs(sa.sin_port);
    snprintf(S.url, sizeof S.url, "https://127.0.0.1:%u", S.port);
    S.kms = &K1;
    return pthread_create(&S.th, NULL, server_main, NULL) == 0;
}

static void server_stop(void)
{
    S.stop = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(S.port);
    if (fd >= 0) {
        (void)connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
    }
    pthread_join(S.th, NULL);
    close(S.lfd);
    SSL_CTX_free(S.ctx);
    unlink(S.ca_file);
}

/* ---- the tests ---- */

static mcx_keystore *fresh(void)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, MCX_KEYSTORE_CREATE));
    if (ks == NULL)
        abort();
    return ks;
}

static mcx_status run(scenario sc, tkms *k, mcx_keystore *ks, int repin, mcx_provision_result *res)
{
    S.sc = sc;
    S.kms = k;
    mcx_provision_params p;
    memset(&p, 0, sizeof p);
    p.kms_url = S.url;
    p.user_uri = ALICE;
    p.access_token = TOKEN;
    p.ca_file = S.ca_file;
    p.keystore = ks;
    p.now_ntp = NOW;
    p.repin = repin;
    return mcx_client_provision(&p, res);
}

static size_t held(const mcx_keystore *ks)
{
    size_t n = 0;
    mcx_keystore_list(ks, NULL, 0, &n);
    return n;
}

static int file_exists(void)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void test_success(void)
{
    mcx_keystore *ks = fresh();
    mcx_provision_result res;
    S.init_calls = S.keyprov_calls = 0;
    CHECK_OK(run(SC_OK, &K1, ks, 0, &res));
    CHECK(S.bearer_ok && S.ctype_ok && S.request_ok);
    CHECK(S.init_calls == 1 && S.keyprov_calls == 1);
    char want[128];
    snprintf(want, sizeof want, "sip%%3Aalice%%40police.example/%016llx",
             (unsigned long long)((NOW & 0xffffffffull) << 32));
    CHECK(strcmp(S.keyprov_path, want) == 0);
    CHECK(res.n_stored == 2 && res.periods[0] == CUR && res.periods[1] == CUR + 1);
    CHECK(res.current_period == CUR && res.newly_pinned == 1 && res.n_skipped == 0);
    CHECK(strcmp(res.kms_uri, KMS_URI) == 0);
    uint8_t fp[MCX_KEYSTORE_FP_BYTES];
    mcx_keystore_cert_fingerprint(&K1.cert, MCX_ID_RAW, fp);
    CHECK_MEM(res.fingerprint, fp, sizeof fp);
    mcx_keystore_free(ks);

    /* what was saved: the certificate as sent, the keys as issued */
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    if (ks == NULL)
        return;
    CHECK_OK(mcx_keystore_check_pinned(ks, &K1.cert, MCX_ID_RAW));
    const mcx_keystore_key_set *s = NULL;
    CHECK_OK(mcx_keystore_get_key_set(ks, ALICE, NULL, NOW, &s));
    CHECK(s != NULL && s->period_no == CUR);
    if (s != NULL) {
        CHECK_MEM(s->ssk, K1.sets[0].ssk, MCX_ECCSI_SCALAR_BYTES);
        CHECK_MEM(s->rsk, K1.sets[0].rsk, MCX_SAKKE_POINT_BYTES);
        CHECK_MEM(s->uid, K1.sets[0].user_id, MCX_UID_BYTES);
    }
    CHECK_OK(mcx_keystore_get_key_set(ks, ALICE, KMS_URI, NOW + PERIOD, &s));

    /* again: already pinned; timings over several runs (loopback, TLS handshake included) */
    uint64_t best = UINT64_MAX, worst = 0;
    for (int i = 0; i < 5; i++) {
        CHECK_OK(run(SC_OK, &K1, ks, 0, &res));
        CHECK(res.newly_pinned == 0 && res.n_stored == 2);
        if (res.us_total < best)
            best = res.us_total;
        if (res.us_total > worst)
            worst = res.us_total;
        printf("provision: init %llu us, keyprov %llu us, validation of 2 key sets %llu us, "
               "total %llu us, save %llu us\n",
               (unsigned long long)res.us_init, (unsigned long long)res.us_keyprov,
               (unsigned long long)res.us_validate, (unsigned long long)res.us_total,
               (unsigned long long)res.us_save);
    }
    printf("provision: total best %llu us, worst %llu us (target 30000 us)\n",
           (unsigned long long)best, (unsigned long long)worst);
    CHECK(held(ks) == 2);
    mcx_keystore_free(ks);
}

static void refused(scenario sc, mcx_status want, const char *why)
{
    mcx_keystore *ks = fresh();
    mcx_provision_result res;
    CHECK_ST(run(sc, &K1, ks, 0, &res), want);
    if (why != NULL && strstr(mcx_last_error(), why) == NULL) {
        fprintf(stderr, "reason '%s' lacks '%s'\n", mcx_last_error(), why);
        test_failed_checks++;
    }
    /* nothing kept, nothing written, not even the certificate */
    CHECK(held(ks) == 0);
    CHECK(mcx_keystore_cert_count(ks) == 0);
    CHECK(!file_exists());
    CHECK(res.n_stored == 0);
    mcx_keystore_free(ks);
}

static void test_kms_error(void)
{
    refused(SC_KMS_ERROR, MCX_E_DENIED, "1002: user not authorised");
    /* a wrong access token: the KMS answers 401 with a KmsError */
    mcx_keystore *ks = fresh();
    mcx_provision_params p;
    memset(&p, 0, sizeof p);
    p.kms_url = S.url;
    p.user_uri = ALICE;
    p.access_token = "not-the-token";
    p.ca_file = S.ca_file;
    p.keystore = ks;
    p.now_ntp = NOW;
    S.sc = SC_OK;
    CHECK_ST(mcx_client_provision(&p, NULL), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "401") != NULL);
    CHECK(!S.bearer_ok);
    /* a token with a line break cannot smuggle a header */
    p.access_token = TOKEN "\r\nX-Evil: 1";
    CHECK(mcx_client_provision(&p, NULL) != MCX_OK);
    CHECK(held(ks) == 0 && !file_exists());
    mcx_keystore_free(ks);
    refused(SC_NOT_XML, MCX_E_ENCODING, NULL);
}

static void test_bad_key_sets(void)
{
    refused(SC_BAD_RSK, MCX_E_NOT_ON_CURVE, "RSK");
    refused(SC_BAD_SSK, MCX_E_KEY_INVALID, "SSK");
    refused(SC_WRONG_UID, MCX_E_KEY_INVALID, "UserID");
    refused(SC_OTHER_USER, MCX_E_DENIED, "another user");
    refused(SC_OTHER_KMS, MCX_E_DENIED, "another KMS");
    refused(SC_ONLY_NEXT, MCX_E_NO_KEY, "current period");

    /* with good keys held already: a bad answer leaves keystore and file as they were */
    mcx_keystore *ks = fresh();
    CHECK_OK(run(SC_OK, &K1, ks, 0, NULL));
    static uint8_t before[65536], after[65536];
    int fd = open(path, O_RDONLY);
    ssize_t nb = read(fd, before, sizeof before);
    close(fd);
    CHECK_ST(run(SC_BAD_SSK, &K1, ks, 0, NULL), MCX_E_KEY_INVALID);
    fd = open(path, O_RDONLY);
    ssize_t na = read(fd, after, sizeof after);
    close(fd);
    CHECK(nb > 0 && nb == na && memcmp(before, after, (size_t)nb) == 0);
    CHECK(held(ks) == 2);
    mcx_keystore_free(ks);
}

static void test_certificate_change(void)
{
    mcx_keystore *ks = fresh();
    CHECK_OK(run(SC_OK, &K1, ks, 0, NULL));
    /* the KMS now presents other master keys under the same KmsUri */
    CHECK_ST(run(SC_OK, &K2, ks, 0, NULL), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "changed") != NULL);
    CHECK_OK(mcx_keystore_check_pinned(ks, &K1.cert, MCX_ID_RAW));
    const mcx_keystore_key_set *s = NULL;
    CHECK_OK(mcx_keystore_get_key_set(ks, ALICE, NULL, NOW, &s));
    CHECK(s != NULL && memcmp(s->rsk, K1.sets[0].rsk, MCX_SAKKE_POINT_BYTES) == 0);
    /* re-pinned explicitly: K2's certificate and key sets replace K1's */
    mcx_provision_result res;
    CHECK_OK(run(SC_OK, &K2, ks, 1, &res));
    CHECK(res.newly_pinned == 1 && res.n_stored == 2);
    CHECK_OK(mcx_keystore_check_pinned(ks, &K2.cert, MCX_ID_RAW));
    CHECK_OK(mcx_keystore_get_key_set(ks, ALICE, NULL, NOW, &s));
    CHECK(s != NULL && memcmp(s->rsk, K2.sets[0].rsk, MCX_SAKKE_POINT_BYTES) == 0);
    CHECK(held(ks) == 2);
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    CHECK_OK(mcx_keystore_check_pinned(ks, &K2.cert, MCX_ID_RAW));
    mcx_keystore_free(ks);
}

static size_t slurp(uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;
    if (fd >= 0)
        close(fd);
    return n > 0 ? (size_t)n : 0;
}

/* The server at the pinned URL switches to a certificate naming another KmsUri (its own KPAK
 * and Z, key sets that validate against it): not a first use, refused without repin. */
static void test_kms_uri_switch(void)
{
    mcx_keystore *ks = fresh();
    CHECK_OK(run(SC_OK, &K1, ks, 0, NULL));
    char b[MCX_KMS_TEXT_MAX];
    CHECK_OK(mcx_keystore_get_binding(ks, S.url, b, sizeof b));
    CHECK(strcmp(b, KMS_URI) == 0);
    static uint8_t before[65536], after[65536];
    size_t nb = slurp(before, sizeof before);
    S.keyprov_calls = 0;
    CHECK_ST(run(SC_OK, &K3, ks, 0, NULL), MCX_E_DENIED);
    char want[512];
    snprintf(want, sizeof want, "KMS certificate for %s names %s, pinned %s (re-pin with --repin)",
             S.url, OTHER_KMS_URI, KMS_URI);
    if (strstr(mcx_last_error(), want) == NULL) {
        fprintf(stderr, "reason '%s' lacks '%s'\n", mcx_last_error(), want);
        test_failed_checks++;
    }
    CHECK(S.keyprov_calls == 0); /* refused before any key set is asked for */
    CHECK(mcx_keystore_cert_count(ks) == 1 && held(ks) == 2);
    CHECK_ST(mcx_keystore_get_cert(ks, OTHER_KMS_URI, NULL, NULL), MCX_E_NOT_FOUND);
    size_t na = slurp(after, sizeof after);
    CHECK(nb > 0 && nb == na && memcmp(before, after, nb) == 0);
    /* a fresh process reading the file refuses it too */
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    if (ks == NULL)
        return;
    CHECK_ST(run(SC_OK, &K3, ks, 0, NULL), MCX_E_DENIED);
    na = slurp(after, sizeof after);
    CHECK(nb == na && memcmp(before, after, nb) == 0);
    /* the same origin written differently is the same origin */
    char alt[96];
    snprintf(alt, sizeof alt, "HTTPS://127.0.0.1:%u/", S.port);
    S.sc = SC_OK;
    S.kms = &K3;
    mcx_provision_params p;
    memset(&p, 0, sizeof p);
    p.kms_url = alt;
    p.user_uri = ALICE;
    p.access_token = TOKEN;
    p.ca_file = S.ca_file;
    p.keystore = ks;
    p.now_ntp = NOW;
    CHECK_ST(mcx_client_provision(&p, NULL), MCX_E_DENIED);
    /* re-pinned explicitly: the URL now names K3's KMS, K1's certificate and keys are gone */
    mcx_provision_result res;
    CHECK_OK(run(SC_OK, &K3, ks, 1, &res));
    CHECK(res.newly_pinned == 1 && res.n_stored == 2 && strcmp(res.kms_uri, OTHER_KMS_URI) == 0);
    CHECK_OK(mcx_keystore_check_pinned(ks, &K3.cert, MCX_ID_RAW));
    CHECK_OK(mcx_keystore_get_binding(ks, S.url, b, sizeof b));
    CHECK(strcmp(b, OTHER_KMS_URI) == 0);
    CHECK(mcx_keystore_cert_count(ks) == 1 && held(ks) == 2);
    const mcx_keystore_key_set *s = NULL;
    CHECK_OK(mcx_keystore_get_key_set(ks, ALICE, NULL, NOW, &s));
    CHECK(s != NULL && memcmp(s->rsk, K3.sets[0].rsk, MCX_SAKKE_POINT_BYTES) == 0);
    mcx_keystore_free(ks);
    /* and the switch back is refused in turn */
    ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, NULL, 0, 0));
    if (ks == NULL)
        return;
    CHECK_ST(run(SC_OK, &K1, ks, 0, NULL), MCX_E_DENIED);
    CHECK_OK(run(SC_OK, &K3, ks, 0, &res));
    CHECK(res.newly_pinned == 0);
    mcx_keystore_free(ks);
}

/* A keystore from before bindings (one certificate pinned, no binding): that certificate's
 * KmsUri is the binding, so the switch is refused there too. */
static void test_kms_uri_switch_old_keystore(void)
{
    mcx_keystore *ks = fresh();
    CHECK_OK(mcx_keystore_pin(ks, &K1.cert, MCX_ID_RAW, 0));
    CHECK_OK(mcx_keystore_save(ks));
    CHECK(mcx_keystore_binding_count(ks) == 0);
    CHECK_ST(run(SC_OK, &K3, ks, 0, NULL), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "pinned " KMS_URI " (re-pin") != NULL);
    CHECK(mcx_keystore_cert_count(ks) == 1 && held(ks) == 0);
    /* the pinned KMS itself: provisioned, and the URL bound from now on */
    CHECK_OK(run(SC_OK, &K1, ks, 0, NULL));
    char b[MCX_KMS_TEXT_MAX];
    CHECK_OK(mcx_keystore_get_binding(ks, S.url, b, sizeof b));
    CHECK(strcmp(b, KMS_URI) == 0 && held(ks) == 2);
    mcx_keystore_free(ks);
}

static void test_tls_trust(void)
{
    mcx_keystore *ks = fresh();
    mcx_provision_params p;
    memset(&p, 0, sizeof p);
    p.kms_url = S.url;
    p.user_uri = ALICE;
    p.access_token = TOKEN;
    p.keystore = ks;
    p.now_ntp = NOW;
    S.sc = SC_OK;
    S.kms = &K1;
    S.init_calls = 0;
    /* the system store does not trust the test certificate */
    CHECK_ST(mcx_client_provision(&p, NULL), MCX_E_IO);
    p.ca_file = "/nonexistent/ca.pem";
    CHECK_ST(mcx_client_provision(&p, NULL), MCX_E_IO);
    /* the certificate names 127.0.0.1 only */
    char url[64];
    snprintf(url, sizeof url, "https://localhost:%u", S.port);
    p.kms_url = url;
    p.ca_file = S.ca_file;
    CHECK_ST(mcx_client_provision(&p, NULL), MCX_E_IO);
    CHECK(S.init_calls == 0); /* no request reached the handler */
    /* never in clear */
    snprintf(url, sizeof url, "http://127.0.0.1:%u", S.port);
    CHECK_ST(mcx_client_provision(&p, NULL), MCX_E_ARG);
    CHECK(held(ks) == 0 && !file_exists());
    mcx_keystore_free(ks);
}

static void test_sealed_keystore(void)
{
    unlink(path);
    mcx_keystore *ks = NULL;
    CHECK_OK(mcx_keystore_open(&ks, path, "pw", 2, MCX_KEYSTORE_CREATE));
    CHECK_OK(mcx_keystore_set_kdf(ks, 1, 64, 1));
    mcx_provision_result res;
    CHECK_OK(run(SC_OK, &K1, ks, 0, &res));
    mcx_keystore_free(ks);
    ks = NULL;
    CHECK_ST(mcx_keystore_open(&ks, path, "wrong", 5, 0), MCX_E_TAG_INVALID);
    CHECK_OK(mcx_keystore_open(&ks, path, "pw", 2, 0));
    CHECK(held(ks) == 2);
    mcx_keystore_free(ks);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *td = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mcx-provision-XXXXXX", td != NULL && td[0] ? td : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    chmod(dir, 0700);
    snprintf(path, sizeof path, "%s/keystore.bin", dir);
    make_kms(&K1, KMS_URI);
    make_kms(&K2, KMS_URI);
    make_kms(&K3, OTHER_KMS_URI);
    if (!server_start()) {
        fprintf(stderr, "cannot start the TLS test server\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    RUN(test_success);
    RUN(test_kms_error);
    RUN(test_bad_key_sets);
    RUN(test_certificate_change);
    RUN(test_kms_uri_switch);
    RUN(test_kms_uri_switch_old_keystore);
    RUN(test_tls_trust);
    RUN(test_sealed_keystore);
    server_stop();
    mcx_secure_free(K1.sets);
    mcx_secure_free(K2.sets);
    mcx_secure_free(K3.sets);
    unlink(path);
    rmdir(dir);
    return test_summary();
}
