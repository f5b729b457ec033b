/* mcx-demo, step 1: user authentication (TS 33.180 Annex B). An IdMS runs in this process on
 * 127.0.0.1, with a throwaway TLS certificate, configuration and SQLite store in a scratch folder
 * removed at the end. alice logs in as an MC client does: OpenID Connect authorization code flow
 * with PKCE S256 over HTTPS (mcx_login_pkce). Her access token is then checked as every MCX
 * service checks it (mcx_token_verify: ES256 signature by a key fetched from the IdMS's /jwks,
 * issuer, audience, lifetime, scope): it is what the KMS asks for before it hands out her keys.
 * A wrong password is refused. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "demo.h"
#include "mcxsec/idms.h"
#include "mcxsec/login.h"
#include "mcxsec/store.h"
#include "mcxsec/token.h"

#define CLIENT_ID    "mcx-cli"
#define REDIRECT_URI "http://127.0.0.1/callback"

static int openssl_failed(const char *what)
{
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    fprintf(stderr, "mcx-demo: FAILED: %s: %s\n", what, buf);
    ERR_clear_error();
    return 1;
}

/* The IdMS's TLS certificate: self-signed P-256 for IP 127.0.0.1, valid one hour. It is its own
 * trust anchor: the client is given it as ca_file. The key file is written 0600. */
static int make_tls_cert(const char *dir)
{
    char path[512];
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f = NULL;
    int rc = 1;
    if (pk == NULL || x == NULL) {
        openssl_failed("TLS key");
        goto out;
    }
    X509_set_version(x, 2); /* v3, for the extensions */
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mcx-demo IdMS", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    /* TLS clients match the IP address against subjectAltName (RFC 6125), never the CN. */
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    static const char *const exts[][2] = {{"subjectAltName", "IP:127.0.0.1"},
                                          {"basicConstraints", "critical,CA:TRUE"},
                                          {"keyUsage", "critical,digitalSignature,keyCertSign"}};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
        X509_EXTENSION_free(e);
        if (!ok) {
            openssl_failed("TLS certificate extension");
            goto out;
        }
    }
    if (X509_sign(x, pk, EVP_sha256()) == 0) {
        openssl_failed("TLS certificate signature");
        goto out;
    }
    snprintf(path, sizeof path, "%s/cert.pem", dir);
    f = fopen(path, "w");
    if (f == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "mcx-demo: FAILED: cannot write %s\n", path);
        goto out;
    }
    snprintf(path, sizeof path, "%s/key.pem", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    if (f == NULL || PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "mcx-demo: FAILED: cannot write %s\n", path);
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}

/* A free TCP port on 127.0.0.1, picked by the kernel. The IdMS's issuer must name the port
 * clients reach it on (discovery's "issuer" is checked against the URL asked for, OpenID
 * Connect Discovery 1.0 §4.3), so it is chosen before the server starts. Another process could
 * take it in between; mcx_idms_start then fails with MCX_E_IO. */
static int free_port(uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
             getsockname(fd, (struct sockaddr *)&sa, &len) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        fprintf(stderr, "mcx-demo: FAILED: no free port on 127.0.0.1\n");
        return 1;
    }
    *port = ntohs(sa.sin_port);
    return 0;
}

/* The daemon's JSON configuration (docs/idms.md); file names are relative to its folder. */
static int write_config(const char *dir, uint16_t port, char *path, size_t cap)
{
    snprintf(path, cap, "%s/idms.json", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "mcx-demo: FAILED: cannot write %s\n", path);
        return 1;
    }
    /* argon2: tiny costs keep the demo fast, also under valgrind; deployments keep the defaults
     * (t_cost 2, m_cost_kib 19456: OWASP's argon2id setting). */
    fprintf(f,
            "{\n"
            "  \"issuer\": \"https://127.0.0.1:%u\",\n"
            "  \"listen\": \"127.0.0.1:%u\",\n"
            "  \"tls_cert\": \"cert.pem\", \"tls_key\": \"key.pem\",\n"
            "  \"store\": \"sqlite:idms.db\",\n"
            "  \"threads\": 1,\n"
            "  \"log_requests\": false,\n"
            "  \"argon2\": {\"t_cost\": 1, \"m_cost_kib\": 1024}\n"
            "}\n",
            (unsigned)port, (unsigned)port);
    if (fclose(f) != 0) {
        fprintf(stderr, "mcx-demo: FAILED: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* What the administrator does before the server starts (`mcx idms init`, `mcx idms client
 * add`): the schema, a first signing key, and the client the users log in with. */
static int prepare_store(const mcx_idms_config *cfg)
{
    mcx_store *st = NULL;
    const char *const redirects[] = {REDIRECT_URI};
    mcx_status s = mcx_store_open(&st, mcx_idms_config_store_url(cfg));
    if (s == MCX_OK)
        s = mcx_idms_init(st, time(NULL));
    if (s == MCX_OK)
        s = mcx_idms_client_add(st, CLIENT_ID, redirects, 1, time(NULL));
    mcx_store_close(st);
    return s == MCX_OK ? 0 : demo_failed("IdMS store", s);
}

/* Users are added while the server runs, as `mcx idms user add` would; their passwords are
 * hashed with argon2id at the costs the running server took from its configuration. */
static int add_users(const mcx_idms_config *cfg, const demo_account *accounts, size_t n)
{
    mcx_store *st = NULL;
    mcx_status s = mcx_store_open(&st, mcx_idms_config_store_url(cfg));
    for (size_t i = 0; s == MCX_OK && i < n; i++) {
        mcx_idms_user u = {.username = accounts[i].name, .mcptt_id = accounts[i].uri};
        s = mcx_idms_user_add(st, &u, accounts[i].password, time(NULL));
    }
    mcx_store_close(st);
    return s == MCX_OK ? 0 : demo_failed("adding users", s);
}

/* The login, then the access token as the KMS sees it. */
static int login(const char *issuer, const char *ca_file, const demo_account *who)
{
    mcx_login_params p = {.idms_url = issuer,
                          .client_id = CLIENT_ID,
                          .redirect_uri = REDIRECT_URI,
                          .username = who->name,
                          .password = who->password,
                          .ca_file = ca_file};
    mcx_tokens t = {0};
    mcx_token_verifier *v = NULL;
    mcx_token_claims c;
    int rc = 1;
    mcx_status s = mcx_login_pkce(&p, &t);
    if (s != MCX_OK) {
        demo_failed("login", s);
        goto out;
    }
    printf("      %s logs in (OpenID Connect code flow + PKCE S256, over HTTPS): tokens\n"
           "      issued by %s\n",
           who->name, t.issuer);

    /* The KMS trusts this issuer and is the audience of its access tokens (the IdMS's default
     * audience is its issuer); it fetches the signing keys from <issuer>/jwks over HTTPS. */
    mcx_token_verifier_config vc = {
        .issuer = issuer, .audience = issuer, .kind = MCX_TOKEN_ACCESS, .ca_file = ca_file};
    s = mcx_token_verifier_new(&v, &vc);
    if (s == MCX_OK)
        s = mcx_token_verify(v, t.access_token, MCX_SCOPE_PTT_KMS, time(NULL), &c);
    if (s != MCX_OK) {
        demo_failed("verifying the access token", s);
        goto out;
    }
    size_t scopes = 1;
    for (const char *q = c.scope; *q != '\0'; q++)
        scopes += *q == ' ';
    printf("      the KMS verifies her access token (ES256 key from /jwks, iss, aud, exp):\n"
           "      sub %s, mcptt_id %s, valid %lld s,\n"
           "      %zu scopes, %s among them\n",
           c.sub, c.mcptt_id, (long long)(c.exp - c.iat), scopes, MCX_SCOPE_PTT_KMS);
    if (strcmp(c.mcptt_id, who->uri) != 0) {
        fprintf(stderr, "mcx-demo: FAILED: the token names %s, not %s\n", c.mcptt_id, who->uri);
        goto out;
    }

    p.password = "not-her-password";
    mcx_tokens_clear(&t);
    s = mcx_login_pkce(&p, &t);
    if (s != MCX_E_DENIED) {
        fprintf(stderr, "mcx-demo: FAILED: a wrong password was %s\n",
                s == MCX_OK ? "accepted" : "refused for the wrong reason");
        goto out;
    }
    printf("      wrong password: refused (%s)\n", mcx_last_error());
    rc = 0;
out:
    mcx_token_verifier_free(v);
    mcx_tokens_clear(&t);
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int demo_idms_login(const demo_account *accounts, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256], config[512], issuer[64], ca_file[512];
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/mcx-demo-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "mcx-demo: FAILED: cannot create a scratch folder in %s: %s\n", tmp,
                strerror(errno));
        return 1;
    }
    mcx_idms_config *cfg = NULL;
    mcx_idms *srv = NULL;
    uint16_t port = 0;
    int rc = 1;
    if (make_tls_cert(dir) || free_port(&port) || write_config(dir, port, config, sizeof config))
        goto out;
    mcx_status s = mcx_idms_config_load(&cfg, config);
    if (s != MCX_OK) {
        demo_failed("IdMS configuration", s);
        goto out;
    }
    if (prepare_store(cfg))
        goto out;
    s = mcx_idms_start(&srv, cfg);
    if (s != MCX_OK) {
        demo_failed("starting the IdMS", s);
        goto out;
    }
    snprintf(issuer, sizeof issuer, "https://127.0.0.1:%u", (unsigned)mcx_idms_port(srv));
    snprintf(ca_file, sizeof ca_file, "%s/cert.pem", dir);
    if (add_users(cfg, accounts, n))
        goto out;
    printf("[1] IdMS (TS 33.180 Annex B) at %s, self-signed P-256 certificate\n", issuer);
    printf("      client %s; users", CLIENT_ID);
    for (size_t i = 0; i < n; i++)
        printf("%s %s (%s)", i == 0 ? "" : ",", accounts[i].name, accounts[i].uri);
    printf("\n");
    rc = login(issuer, ca_file, &accounts[0]);
out:
    mcx_idms_stop(srv);
    mcx_idms_config_free(cfg);
    if (nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "mcx-demo: FAILED: cannot remove %s\n", dir);
        rc = 1;
    }
    return rc;
}
