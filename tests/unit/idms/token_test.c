/* Token module (include/mcxsec/token.h): signing keys, ES256 JWTs, JWK Sets and mcx_token_verify,
 * including the fetch of the issuer's keys from a real HTTPS server on 127.0.0.1 (a TLS server
 * run by this test in a thread, with a self-signed certificate made here with OpenSSL).
 *
 * The module does its JOSE with cjose; this test's side is OpenSSL directly: hostile tokens are
 * built with this file's own ES256 signer and base64url, and the interop test checks the module
 * against OpenSSL in both directions (our r || s signatures re-verified with EVP_DigestVerify after
 * DER conversion, and OpenSSL-signed tokens under a JWK made here from OpenSSL's public point).
 * tests/token checks the same against the `jose` tool. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mcxsec/mem.h"
#include "mcxsec/token.h"
#include "test.h"

#define ISS "https://idms.example:8443"
#define AUD "https://kms.example"

static int64_t now_s;

/* ---- helpers: claims, keys, an independent signer ---------------------------------------- */

static json_t *base_claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", ISS, "sub", "alice", "aud",
                     AUD, "iat", (json_int_t)now_s, "exp", (json_int_t)(now_s + 300), "scope",
                     "openid 3gpp:mcptt:key_management_server", "client_id", "mcptt_client",
                     "mcptt_id", "sip:alice@mcx.example");
}

static char *sign(const mcx_signing_key *k, mcx_token_kind kind, json_t *claims)
{
    char *jwt = NULL;
    CHECK_OK(mcx_jwt_sign(k, kind, claims, &jwt));
    json_decref(claims);
    return jwt;
}

static char *jwks_text(const mcx_signing_key *const *keys, size_t n)
{
    json_t *set = mcx_jwks_of(keys, n);
    CHECK(set != NULL);
    char *s = json_dumps(set, JSON_COMPACT);
    json_decref(set);
    return s;
}

static mcx_token_verifier *static_verifier(const mcx_signing_key *k, mcx_token_kind kind)
{
    char *jwks = jwks_text(&k, 1);
    mcx_token_verifier_config cfg = {
        .issuer = ISS, .audience = AUD, .kind = kind, .jwks_json = jwks};
    mcx_token_verifier *v = NULL;
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    free(jwks);
    return v;
}

/* base64url without padding (RFC 4648 §5) from OpenSSL's base64: an encoder that is not the
 * module's (cjose). out holds 4 * ceil(n / 3) + 1 characters. */
static void b64u(const void *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

/* The inverse for text made by the module: returns the octets written, or -1. */
static int unb64u(const char *in, size_t n, unsigned char *out, size_t cap)
{
    char buf[16384];
    if (n + 4 > sizeof buf || n / 4 * 3 + 3 > cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    size_t pad = (4 - n % 4) % 4;
    memset(buf + n, '=', pad);
    int len = EVP_DecodeBlock(out, (unsigned char *)buf, (int)(n + pad));
    return len < 0 ? -1 : len - (int)pad;
}

/* An OpenSSL copy of the signing key, via its PKCS#8 PEM. */
static EVP_PKEY *openssl_key(const mcx_signing_key *k)
{
    char *pem = NULL;
    CHECK_OK(mcx_signing_key_to_pem(k, &pem));
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    mcx_signing_key_pem_free(pem);
    if (pk == NULL)
        abort();
    return pk;
}

/* header.payload.signature with an ES256 signature of sig_len octets made here (sig_len 64 is the
 * JOSE form; 0 leaves the part empty; der != 0 puts OpenSSL's DER form instead). */
static char *forge(EVP_PKEY *pk, const char *header, const char *payload, int der)
{
    static char buf[16384];
    char h[4096], p[8192];
    b64u(header, strlen(header), h);
    b64u(payload, strlen(payload), p);
    snprintf(buf, sizeof buf, "%s.%s", h, p);
    size_t n = strlen(buf);
    unsigned char sig[80], raw[64];
    size_t sl = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
        EVP_DigestSign(md, sig, &sl, (unsigned char *)buf, n) != 1)
        abort();
    EVP_MD_CTX_free(md);
    char s[200];
    if (der) {
        b64u(sig, sl, s);
    } else {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sl);
        const BIGNUM *r, *ss;
        ECDSA_SIG_get0(es, &r, &ss);
        BN_bn2binpad(r, raw, 32);
        BN_bn2binpad(ss, raw + 32, 32);
        ECDSA_SIG_free(es);
        b64u(raw, 64, s);
    }
    snprintf(buf + n, sizeof buf - n, ".%s", s);
    return buf;
}

static char *claims_text(json_t *c)
{
    static char buf[8192];
    char *s = json_dumps(c, JSON_COMPACT);
    snprintf(buf, sizeof buf, "%s", s);
    free(s);
    json_decref(c);
    return buf;
}

/* ---- scopes ----------------------------------------------------------------------------- */

static void test_scope_canonical(void)
{
    CHECK(strcmp(mcx_scope_canonical("3gpp:mcptt:ptt_server"), MCX_SCOPE_PTT_SERVICE) == 0);
    CHECK(strcmp(mcx_scope_canonical("3gpp:mcptt:key_management_server"), MCX_SCOPE_PTT_KMS) == 0);
    CHECK(strcmp(mcx_scope_canonical("3gpp:mcptt:config_management_server"), MCX_SCOPE_PTT_CMS) ==
          0);
    CHECK(strcmp(mcx_scope_canonical("3gpp:mcptt:group_management_server"), MCX_SCOPE_PTT_GMS) ==
          0);
    CHECK(strcmp(mcx_scope_canonical("3gpp:mcvideo:video_server"), MCX_SCOPE_VIDEO_SERVICE) == 0);
    CHECK(strcmp(mcx_scope_canonical("3gpp:mcdata:key_management_server"), MCX_SCOPE_DATA_KMS) ==
          0);
    CHECK(strcmp(mcx_scope_canonical(MCX_SCOPE_DATA_GMS), MCX_SCOPE_DATA_GMS) == 0);
    CHECK(strcmp(mcx_scope_canonical("openid"), "openid") == 0);
    CHECK(mcx_scope_canonical("3gpp:mcptt:ptt_serve") == NULL);
    CHECK(mcx_scope_canonical("profile") == NULL);
    CHECK(mcx_scope_canonical(NULL) == NULL);
}

/* ---- keys ------------------------------------------------------------------------------- */

/* RFC 7638 §3 computed here independently: jansson with sorted keys, OpenSSL SHA-256 and
 * base64. */
static void expect_thumbprint(const mcx_signing_key *k)
{
    json_t *jwk = mcx_signing_key_public_jwk(k);
    json_t *req = json_pack("{s:O, s:O, s:O, s:O}", "crv", json_object_get(jwk, "crv"), "kty",
                            json_object_get(jwk, "kty"), "x", json_object_get(jwk, "x"), "y",
                            json_object_get(jwk, "y"));
    char *s = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char h[32];
    SHA256((unsigned char *)s, strlen(s), h);
    char want[64];
    b64u(h, 32, want);
    CHECK(strcmp(mcx_signing_key_kid(k), want) == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "kid")), want) == 0);
    CHECK(strlen(json_string_value(json_object_get(jwk, "x"))) == 43);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "alg")), "ES256") == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "use")), "sig") == 0);
    CHECK(json_object_get(jwk, "d") == NULL);
    free(s);
    json_decref(req);
    json_decref(jwk);
}

static char *encode_pem(EVP_PKEY *pk, int selection, const char *structure)
{
    OSSL_ENCODER_CTX *e = OSSL_ENCODER_CTX_new_for_pkey(pk, selection, "PEM", structure, NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    if (e == NULL || OSSL_ENCODER_to_data(e, &data, &len) != 1)
        abort();
    OSSL_ENCODER_CTX_free(e);
    char *s = malloc(len + 1);
    memcpy(s, data, len);
    s[len] = '\0';
    OPENSSL_free(data);
    return s;
}

static void test_keys_and_pem(void)
{
    mcx_signing_key *k = NULL, *k2 = NULL, *k3 = NULL;
    CHECK_OK(mcx_signing_key_generate(&k));
    expect_thumbprint(k);
    char *pem = NULL;
    CHECK_OK(mcx_signing_key_to_pem(k, &pem));
    CHECK(strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
    CHECK_OK(mcx_signing_key_from_pem(&k2, pem));
    CHECK(strcmp(mcx_signing_key_kid(k), mcx_signing_key_kid(k2)) == 0);
    /* A token signed by the reloaded key verifies against the original's JWK. */
    mcx_token_verifier *v = static_verifier(k, MCX_TOKEN_ACCESS);
    char *jwt = sign(k2, MCX_TOKEN_ACCESS, base_claims());
    CHECK_OK(mcx_token_verify(v, jwt, NULL, now_s, NULL));
    free(jwt);
    mcx_token_verifier_free(v);

    /* SEC1 ("EC PRIVATE KEY") is accepted too and gives the same kid. */
    EVP_PKEY *pk = openssl_key(k);
    char *sec1 = encode_pem(pk, EVP_PKEY_KEYPAIR, "type-specific");
    CHECK(strstr(sec1, "BEGIN EC PRIVATE KEY") != NULL);
    CHECK_OK(mcx_signing_key_from_pem(&k3, sec1));
    CHECK(k3 != NULL && strcmp(mcx_signing_key_kid(k3), mcx_signing_key_kid(k)) == 0);
    /* A public key, a P-384 key, an RSA key and junk are refused. */
    char *pub = encode_pem(pk, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo");
    mcx_signing_key *bad = NULL;
    CHECK_ST(mcx_signing_key_from_pem(&bad, pub), MCX_E_ENCODING);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *p384_pem = encode_pem(p384, EVP_PKEY_KEYPAIR, "PrivateKeyInfo");
    CHECK_ST(mcx_signing_key_from_pem(&bad, p384_pem), MCX_E_ENCODING);
    EVP_PKEY *rsa = EVP_RSA_gen(1024);
    char *rsa_pem = encode_pem(rsa, EVP_PKEY_KEYPAIR, "PrivateKeyInfo");
    CHECK_ST(mcx_signing_key_from_pem(&bad, rsa_pem), MCX_E_ENCODING);
    CHECK_ST(mcx_signing_key_from_pem(&bad, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE "
                                            "KEY-----\n"),
             MCX_E_ENCODING);
    CHECK_ST(mcx_signing_key_from_pem(&bad, "hello"), MCX_E_ENCODING);
    CHECK(bad == NULL);
    CHECK_ST(mcx_signing_key_from_pem(NULL, pem), MCX_E_ARG);

    /* Two keys make a two-key set; distinct keys have distinct kids. */
    mcx_signing_key *other = NULL;
    CHECK_OK(mcx_signing_key_generate(&other));
    CHECK(strcmp(mcx_signing_key_kid(other), mcx_signing_key_kid(k)) != 0);
    const mcx_signing_key *both[2] = {k, other};
    json_t *set = mcx_jwks_of(both, 2);
    CHECK(json_array_size(json_object_get(set, "keys")) == 2);
    json_decref(set);

    free(sec1);
    free(pub);
    free(p384_pem);
    free(rsa_pem);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa);
    mcx_signing_key_pem_free(pem);
    mcx_signing_key_free(k);
    mcx_signing_key_free(k2);
    mcx_signing_key_free(k3);
    mcx_signing_key_free(other);
    mcx_signing_key_free(NULL);
}

/* ---- round trips and claims -------------------------------------------------------------- */

static mcx_signing_key *key;
static mcx_token_verifier *va, *vi; /* access-token and ID-token verifiers (static JWKS) */

static void test_round_trip(void)
{
    json_t *c = base_claims();
    json_object_set_new(c, "mcx_home_iss", json_string("https://home.example"));
    json_object_set_new(c, "nbf", json_integer(now_s - 5));
    json_object_set_new(c, "jti", json_string("t-1"));
    json_object_set_new(c, "auth_time", json_integer(now_s - 100));
    char *jwt = sign(key, MCX_TOKEN_ACCESS, c);
    mcx_token_claims cl;
    CHECK_OK(mcx_token_verify(va, jwt, MCX_SCOPE_PTT_KMS, now_s, &cl));
    CHECK(strcmp(cl.iss, ISS) == 0);
    CHECK(strcmp(cl.sub, "alice") == 0);
    CHECK(strcmp(cl.client_id, "mcptt_client") == 0);
    CHECK(strcmp(cl.jti, "t-1") == 0);
    CHECK(strcmp(cl.mcptt_id, "sip:alice@mcx.example") == 0);
    CHECK(cl.mcvideo_id[0] == '\0');
    CHECK(strcmp(cl.acting_for, "https://home.example") == 0);
    CHECK(strcmp(cl.scope, "openid 3gpp:mc:ptt_key_management_service") == 0);
    CHECK(cl.exp == now_s + 300 && cl.iat == now_s && cl.nbf == now_s - 5);
    CHECK(cl.auth_time == now_s - 100);
    /* The header is what the contract says. */
    json_t *h = NULL, *cc = NULL;
    CHECK_OK(mcx_jwt_decode_unverified(jwt, &h, &cc));
    CHECK(strcmp(json_string_value(json_object_get(h, "alg")), "ES256") == 0);
    CHECK(strcmp(json_string_value(json_object_get(h, "typ")), "at+jwt") == 0);
    CHECK(strcmp(json_string_value(json_object_get(h, "kid")), mcx_signing_key_kid(key)) == 0);
    CHECK(strcmp(json_string_value(json_object_get(cc, "sub")), "alice") == 0);
    json_decref(h);
    json_decref(cc);
    /* An access token is no ID token. */
    CHECK_ST(mcx_token_verify(vi, jwt, NULL, now_s, &cl), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "typ \"at+jwt\"") != NULL);
    CHECK(cl.sub[0] == '\0'); /* nothing is reported on failure */
    free(jwt);

    jwt = sign(key, MCX_TOKEN_ID, base_claims());
    CHECK_OK(mcx_token_verify(vi, jwt, NULL, now_s, &cl));
    CHECK(strcmp(cl.sub, "alice") == 0);
    CHECK_ST(mcx_token_verify(va, jwt, NULL, now_s, NULL), MCX_E_DENIED);
    CHECK(strstr(mcx_last_error(), "typ \"JWT\" where an access token (at+jwt) is required") !=
          NULL);
    free(jwt);

    json_t *bad = json_array();
    char *out = NULL;
    CHECK_ST(mcx_jwt_sign(key, MCX_TOKEN_ACCESS, bad, &out), MCX_E_ARG);
    CHECK_ST(mcx_jwt_sign(key, (mcx_token_kind)7, bad, &out), MCX_E_ARG);
    json_decref(bad);
}

/* Sign c as an access token and verify it with required scope req. */
static mcx_status verify_claims(json_t *c, const char *req, mcx_token_claims *cl)
{
    char *jwt = sign(key, MCX_TOKEN_ACCESS, c);
    mcx_status st = mcx_token_verify(va, jwt, req, now_s, cl);
    free(jwt);
    return st;
}

static json_t *with(const char *name, json_t *value)
{
    json_t *c = base_claims();
    if (value == NULL)
        json_object_del(c, name);
    else
        json_object_set_new(c, name, value);
    return c;
}

static void test_claims(void)
{
    mcx_token_claims cl;
    CHECK_ST(verify_claims(with("iss", json_string("https://evil.example")), NULL, &cl),
             MCX_E_UNKNOWN_PEER);
    CHECK(strstr(mcx_last_error(), "evil") != NULL);
    CHECK_ST(verify_claims(with("iss", NULL), NULL, &cl), MCX_E_UNKNOWN_PEER);
    CHECK_ST(verify_claims(with("aud", json_string("https://gms.example")), NULL, &cl),
             MCX_E_DENIED);
    CHECK(strcmp(mcx_last_error(), "token: aud does not contain \"" AUD "\"") == 0);
    CHECK_ST(verify_claims(with("aud", NULL), NULL, &cl), MCX_E_DENIED);
    CHECK_OK(verify_claims(with("aud", json_pack("[s,s]", "x", AUD)), NULL, &cl));
    CHECK_ST(verify_claims(with("aud", json_pack("[s,s]", "x", "y")), NULL, &cl), MCX_E_DENIED);
    CHECK_ST(verify_claims(with("aud", json_pack("[s,i]", AUD, 1)), NULL, &cl), MCX_E_ENCODING);
    CHECK_ST(verify_claims(with("aud", json_integer(3)), NULL, &cl), MCX_E_ENCODING);

    /* exp: required; refused on or after exp + skew (60 s by default). */
    CHECK_ST(verify_claims(with("exp", NULL), NULL, &cl), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "exp") != NULL);
    CHECK_ST(verify_claims(with("exp", json_string("soon")), NULL, &cl), MCX_E_ENCODING);
    CHECK_ST(verify_claims(with("exp", json_integer(now_s - 61)), NULL, &cl), MCX_E_TIME);
    char want[160];
    snprintf(want, sizeof want, "token: expired at %lld (now %lld, skew 60 s)",
             (long long)(now_s - 61), (long long)now_s);
    CHECK(strcmp(mcx_last_error(), want) == 0);
    CHECK_ST(verify_claims(with("exp", json_integer(now_s - 60)), NULL, &cl), MCX_E_TIME);
    CHECK_OK(verify_claims(with("exp", json_integer(now_s - 59)), NULL, &cl));
    CHECK_OK(verify_claims(with("exp", json_real((double)now_s + 10.5)), NULL, &cl));
    CHECK(cl.exp == now_s + 10);
    CHECK_ST(verify_claims(with("nbf", json_integer(now_s + 61)), NULL, &cl), MCX_E_TIME);
    CHECK(strstr(mcx_last_error(), "not valid before") != NULL);
    CHECK_OK(verify_claims(with("nbf", json_integer(now_s + 59)), NULL, &cl));
    CHECK_ST(verify_claims(with("iat", json_integer(now_s + 61)), NULL, &cl), MCX_E_TIME);
    CHECK(strstr(mcx_last_error(), "issued in the future") != NULL);
    CHECK_OK(verify_claims(with("iat", NULL), NULL, &cl));
    CHECK_ST(verify_claims(with("iat", json_true()), NULL, &cl), MCX_E_ENCODING);

    /* Scope: either naming style satisfies either; string or array; unknown scopes kept. */
    CHECK_OK(verify_claims(base_claims(), MCX_SCOPE_PTT_KMS, &cl));
    CHECK_OK(verify_claims(base_claims(), "3gpp:mcptt:key_management_server", &cl));
    CHECK_OK(verify_claims(with("scope", json_string(MCX_SCOPE_PTT_SERVICE)),
                           "3gpp:mcptt:ptt_server", &cl));
    CHECK_ST(verify_claims(base_claims(), MCX_SCOPE_PTT_GMS, &cl), MCX_E_DENIED);
    CHECK(strcmp(mcx_last_error(), "token: scope does not include \"" MCX_SCOPE_PTT_GMS "\"") == 0);
    CHECK_ST(verify_claims(with("scope", NULL), MCX_SCOPE_PTT_KMS, &cl), MCX_E_DENIED);
    CHECK_OK(verify_claims(with("scope", NULL), NULL, &cl));
    CHECK(cl.scope[0] == '\0');
    CHECK_OK(verify_claims(with("scope", json_pack("[s,s,s]", "3gpp:mcptt:ptt_server", "profile",
                                                   "3gpp:mcdata:data_server")),
                           MCX_SCOPE_DATA_SERVICE, &cl));
    CHECK(strcmp(cl.scope, "3gpp:mc:ptt_service profile 3gpp:mc:data_service") == 0);
    CHECK_OK(verify_claims(with("scope", json_string("  openid   3gpp:mcptt:ptt_server ")),
                           MCX_SCOPE_PTT_SERVICE, &cl));
    CHECK(strcmp(cl.scope, "openid 3gpp:mc:ptt_service") == 0);
    CHECK_ST(verify_claims(with("scope", json_pack("[s,i]", "openid", 2)), NULL, &cl),
             MCX_E_ENCODING);
    CHECK_ST(verify_claims(with("scope", json_pack("[s]", "openid profile")), NULL, &cl),
             MCX_E_ENCODING);
    CHECK_ST(verify_claims(with("scope", json_integer(1)), NULL, &cl), MCX_E_ENCODING);
    /* A scope substring is not the scope. */
    CHECK_ST(verify_claims(with("scope", json_string("3gpp:mc:ptt_key_management_servic")),
                           MCX_SCOPE_PTT_KMS, &cl),
             MCX_E_DENIED);

    /* Strings longer than their field are refused, not truncated; exactly fitting is fine. */
    char big[300];
    memset(big, 'a', sizeof big);
    big[255] = '\0';
    CHECK_OK(verify_claims(with("mcptt_id", json_string(big)), NULL, &cl));
    CHECK(strlen(cl.mcptt_id) == 255);
    big[255] = 'a';
    big[256] = '\0';
    CHECK_ST(verify_claims(with("mcptt_id", json_string(big)), NULL, &cl), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "mcptt_id") != NULL);
    CHECK_ST(verify_claims(with("client_id", json_stringn(big, 128)), NULL, &cl), MCX_E_ENCODING);
    CHECK_ST(verify_claims(with("sub", json_integer(5)), NULL, &cl), MCX_E_ENCODING);
    CHECK_ST(verify_claims(with("sub", json_stringn("a\0b", 3)), NULL, &cl), MCX_E_ENCODING);
    json_t *scopes = json_array();
    for (int i = 0; i < 60; i++)
        json_array_append_new(scopes, json_string("3gpp:mc:ptt_config_management_service"));
    CHECK_ST(verify_claims(with("scope", scopes), NULL, &cl), MCX_E_ENCODING);

    /* A verifier's own settings: a larger skew. */
    char *jwks = jwks_text((const mcx_signing_key *const *)&key, 1);
    mcx_token_verifier_config cfg = {.issuer = ISS,
                                     .audience = AUD,
                                     .kind = MCX_TOKEN_ACCESS,
                                     .jwks_json = jwks,
                                     .skew_seconds = 600};
    mcx_token_verifier *v = NULL;
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    char *jwt = sign(key, MCX_TOKEN_ACCESS, with("exp", json_integer(now_s - 500)));
    CHECK_OK(mcx_token_verify(v, jwt, NULL, now_s, NULL));
    CHECK_ST(mcx_token_verify(va, jwt, NULL, now_s, NULL), MCX_E_TIME);
    free(jwt);
    mcx_token_verifier_free(v);
    free(jwks);
}

/* ---- hostile tokens --------------------------------------------------------------------- */

static void test_hostile(void)
{
    EVP_PKEY *pk = openssl_key(key);
    const char *kid = mcx_signing_key_kid(key);
    char hdr[512], *payload = claims_text(base_claims());
    char pl[8192];
    snprintf(pl, sizeof pl, "%s", payload);

    /* The forger itself is right: a well-formed header verifies. */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    CHECK_OK(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL));
    /* typ may be the full media type, in any case (RFC 7515 §4.1.9). */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"application/AT+JWT\",\"kid\":\"%s\"}",
             kid);
    CHECK_OK(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL));

    /* alg none, with an empty signature part. */
    char h64[512], p64[8192], tok[9000];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    b64u(hdr, strlen(hdr), h64);
    b64u(pl, strlen(pl), p64);
    snprintf(tok, sizeof tok, "%s.%s.", h64, p64);
    CHECK_ST(mcx_token_verify(va, tok, NULL, now_s, NULL), MCX_E_UNSUPPORTED);
    CHECK(strstr(mcx_last_error(), "\"none\"") != NULL);
    /* HS256 keyed with the public JWK text (the classic key-confusion attack). */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    b64u(hdr, strlen(hdr), h64);
    snprintf(tok, sizeof tok, "%s.%s", h64, p64);
    json_t *jwk = mcx_signing_key_public_jwk(key);
    char *jwk_s = json_dumps(jwk, JSON_COMPACT);
    unsigned char mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), jwk_s, (int)strlen(jwk_s), (unsigned char *)tok, strlen(tok), mac, &maclen);
    char mac64[64];
    b64u(mac, 32, mac64);
    strcat(tok, ".");
    strcat(tok, mac64);
    CHECK_ST(mcx_token_verify(va, tok, NULL, now_s, NULL), MCX_E_UNSUPPORTED);
    free(jwk_s);
    json_decref(jwk);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES384\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_UNSUPPORTED);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"es256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_UNSUPPORTED);
    snprintf(hdr, sizeof hdr, "{\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_ENCODING);
    /* crit, even naming nothing or a parameter that is present. */
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"crit\":[\"exp\"],\"exp\":1}",
             kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_UNSUPPORTED);
    CHECK(strstr(mcx_last_error(), "crit") != NULL);
    /* No typ; no kid; a kid that is not a string. */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_DENIED);
    CHECK_ST(mcx_token_verify(va, forge(pk, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", pl, 0), NULL,
                              now_s, NULL),
             MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va,
                              forge(pk, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":7}", pl, 0),
                              NULL, now_s, NULL),
             MCX_E_ENCODING);
    /* A NUL inside alg or kid. */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\\u0000x\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_ENCODING);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\\u0000\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_ENCODING);
    /* Duplicate header member (could hide a second alg). */
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"alg\":\"none\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_ENCODING);

    /* A key embedded in the header ("jwk", "jku", "x5u") is never used: a token signed by an
     * attacker's key that names the IdMS's kid fails, one naming the attacker's kid is unknown. */
    mcx_signing_key *evil = NULL;
    CHECK_OK(mcx_signing_key_generate(&evil));
    EVP_PKEY *epk = openssl_key(evil);
    json_t *ejwk = mcx_signing_key_public_jwk(evil);
    char *ejwk_s = json_dumps(ejwk, JSON_COMPACT);
    char big_hdr[1024];
    snprintf(big_hdr, sizeof big_hdr,
             "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"jwk\":%s,"
             "\"jku\":\"https://evil.example/jwks\",\"x5u\":\"https://evil.example/c\"}",
             kid, ejwk_s);
    CHECK_ST(mcx_token_verify(va, forge(epk, big_hdr, pl, 0), NULL, now_s, NULL),
             MCX_E_SIG_INVALID);
    snprintf(big_hdr, sizeof big_hdr,
             "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"jwk\":%s}",
             mcx_signing_key_kid(evil), ejwk_s);
    CHECK_ST(mcx_token_verify(va, forge(epk, big_hdr, pl, 0), NULL, now_s, NULL),
             MCX_E_UNKNOWN_PEER);
    char want[200];
    snprintf(want, sizeof want, "token: kid \"%s\" not among " ISS "'s keys",
             mcx_signing_key_kid(evil));
    CHECK(strcmp(mcx_last_error(), want) == 0);
    free(ejwk_s);
    json_decref(ejwk);
    EVP_PKEY_free(epk);
    mcx_signing_key_free(evil);

    /* The DER form of the signature (70-72 octets) is not the JOSE form. */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 1), NULL, now_s, NULL), MCX_E_SIG_INVALID);

    /* Tampering: each character of the signature part replaced, a claim changed, the signature
     * cut, lengthened, or moved to another token. */
    char *good = sign(key, MCX_TOKEN_ACCESS, base_claims());
    CHECK_OK(mcx_token_verify(va, good, NULL, now_s, NULL));
    size_t n = strlen(good);
    char *sig = strrchr(good, '.') + 1;
    CHECK(strlen(sig) == 86);
    char *t = malloc(n + 8);
    int refused = 0;
    for (size_t i = 0; i < 86; i++) {
        memcpy(t, good, n + 1);
        char *s = t + (sig - good);
        s[i] = s[i] == 'A' ? 'B' : 'A';
        mcx_status st = mcx_token_verify(va, t, NULL, now_s, NULL);
        refused += st == MCX_E_SIG_INVALID || st == MCX_E_ENCODING;
    }
    CHECK(refused == 86);
    memcpy(t, good, n + 1);
    t[n - 1] = '='; /* padding is not base64url */
    CHECK_ST(mcx_token_verify(va, t, NULL, now_s, NULL), MCX_E_ENCODING);
    memcpy(t, good, n + 1);
    t[n - 2] = '\0'; /* 85 characters */
    CHECK_ST(mcx_token_verify(va, t, NULL, now_s, NULL), MCX_E_SIG_INVALID);
    memcpy(t, good, n + 1);
    strcat(t, "AAAA"); /* 67 octets */
    CHECK_ST(mcx_token_verify(va, t, NULL, now_s, NULL), MCX_E_SIG_INVALID);
    CHECK(strstr(mcx_last_error(), "64 octets") != NULL);
    /* A changed claim: flip one character of the payload part. */
    char *dot = strchr(good, '.');
    for (size_t i = 1; i < 8; i++) {
        memcpy(t, good, n + 1);
        char *c = t + (dot - good) + i * 10;
        *c = *c == 'a' ? 'b' : 'a';
        mcx_status st = mcx_token_verify(va, t, NULL, now_s, NULL);
        CHECK(st == MCX_E_SIG_INVALID || st == MCX_E_ENCODING);
    }
    /* The signature of one token on another token's header and payload. */
    char *other = sign(key, MCX_TOKEN_ACCESS, with("sub", json_string("mallory")));
    char *osig = strrchr(other, '.') + 1;
    memcpy(t, good, n + 1);
    memcpy(t + (sig - good), osig, 86);
    CHECK_ST(mcx_token_verify(va, t, NULL, now_s, NULL), MCX_E_SIG_INVALID);
    free(other);

    /* Not a compact JWS. */
    CHECK_ST(mcx_token_verify(va, "", NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va, "abc", NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va, "a.b", NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va, "a.b.c.d.e", NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va, ".b.c", NULL, now_s, NULL), MCX_E_ENCODING);
    snprintf(t, n + 8, "%s.x", good);
    CHECK_ST(mcx_token_verify(va, t, NULL, now_s, NULL), MCX_E_ENCODING);
    memcpy(t, good, n + 1);
    t[3] = '+'; /* base64, not base64url */
    CHECK_ST(mcx_token_verify(va, t, NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va, forge(pk, "[1,2]", pl, 0), NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK_ST(mcx_token_verify(va, forge(pk, "{\"alg\":", pl, 0), NULL, now_s, NULL),
             MCX_E_ENCODING);
    /* Claims that are not an object or repeat a name, under a good signature. */
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, "[]", 0), NULL, now_s, NULL), MCX_E_ENCODING);
    snprintf(pl, sizeof pl,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"sub\":\"a\",\"sub\":\"b\"}", ISS, AUD,
             (long long)now_s + 60);
    CHECK_ST(mcx_token_verify(va, forge(pk, hdr, pl, 0), NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "claims") != NULL);
    /* Larger than 8 KiB, even when signed. */
    json_t *c = base_claims();
    char pad[7000];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    json_object_set_new(c, "pad", json_string(pad));
    char *huge = sign(key, MCX_TOKEN_ACCESS, c);
    CHECK(strlen(huge) > 8192);
    CHECK_ST(mcx_token_verify(va, huge, NULL, now_s, NULL), MCX_E_ENCODING);
    CHECK(strstr(mcx_last_error(), "8192") != NULL);
    json_t *h = NULL, *cc = NULL;
    CHECK_ST(mcx_jwt_decode_unverified(huge, &h, &cc), MCX_E_ENCODING);
    CHECK(h == NULL && cc == NULL);
    free(huge);
    CHECK_ST(mcx_token_verify(va, NULL, NULL, now_s, NULL), MCX_E_ARG);
    CHECK_ST(mcx_token_verify(NULL, good, NULL, now_s, NULL), MCX_E_ARG);

    free(t);
    free(good);
    EVP_PKEY_free(pk);
}

/* ---- key sets --------------------------------------------------------------------------- */

static void test_jwks_config(void)
{
    mcx_token_verifier *v = NULL;
    mcx_token_verifier_config cfg = {.issuer = ISS, .audience = AUD, .kind = MCX_TOKEN_ACCESS};
    json_t *jwk = mcx_signing_key_public_jwk(key);
    char *x = strdup(json_string_value(json_object_get(jwk, "x")));
    char *y = strdup(json_string_value(json_object_get(jwk, "y")));
    char buf[2048];

    /* Other kinds of keys are skipped, an EC key without kid too. */
    snprintf(buf, sizeof buf,
             "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"kid\":\"r\"},"
             "{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"o\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\",\"kid\":\"p\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"enc\","
             "\"use\":\"enc\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\"}]}",
             x, y, x, y, x, y, mcx_signing_key_kid(key));
    cfg.jwks_json = buf;
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    char *jwt = sign(key, MCX_TOKEN_ACCESS, base_claims());
    CHECK_OK(mcx_token_verify(v, jwt, NULL, now_s, NULL));
    mcx_token_verifier_free(v);
    v = NULL;

    /* The same token against a set holding the key under another kid: unknown, not fetched. */
    snprintf(
        buf, sizeof buf,
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"k2\"}]}",
        x, y);
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    CHECK_ST(mcx_token_verify(v, jwt, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    CHECK_ST(mcx_token_verify(v, jwt, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    mcx_token_verifier_free(v);
    v = NULL;

    /* Broken sets. */
    const char *bad[] = {"", "[]", "{\"keys\":{}}", "{\"keys\":[]}", "not json", "{\"keys\":[1]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.jwks_json = bad[i];
        CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ENCODING);
        CHECK(v == NULL);
    }
    /* A point that is not on P-256 (y + 1), a short coordinate, padding. */
    char y2[64];
    snprintf(y2, sizeof y2, "%s", y);
    y2[10] = y2[10] == 'A' ? 'B' : 'A';
    snprintf(
        buf, sizeof buf,
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"k\"}]}",
        x, y2);
    cfg.jwks_json = buf;
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ENCODING);
    snprintf(buf, sizeof buf,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.40s\",\"y\":\"%s\",\"kid\":"
             "\"k\"}]}",
             x, y);
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ENCODING);
    snprintf(
        buf, sizeof buf,
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s=\",\"y\":\"%s\",\"kid\":\"k\"}]}",
        x, y);
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ENCODING);
    /* The same kid twice. */
    snprintf(
        buf, sizeof buf,
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"k\"},"
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"k\"}]}",
        x, y, x, y);
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ENCODING);

    /* Arguments. */
    cfg.jwks_json = NULL;
    cfg.issuer = NULL;
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ARG);
    cfg.issuer = ISS;
    cfg.audience = "";
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ARG);
    cfg.audience = AUD;
    cfg.kind = (mcx_token_kind)0;
    CHECK_ST(mcx_token_verifier_new(&v, &cfg), MCX_E_ARG);
    CHECK_ST(mcx_token_verifier_new(&v, NULL), MCX_E_ARG);
    mcx_token_verifier_free(NULL);

    free(jwt);
    free(x);
    free(y);
    json_decref(jwk);
}

/* ---- OpenSSL as the independent side ----------------------------------------------------- */

/* An OpenSSL public key from a JWK's x and y (as a relying party would build it). */
static EVP_PKEY *pkey_of_jwk(const json_t *jwk)
{
    unsigned char pt[65];
    pt[0] = 0x04;
    const char *x = json_string_value(json_object_get(jwk, "x"));
    const char *y = json_string_value(json_object_get(jwk, "y"));
    if (x == NULL || y == NULL || unb64u(x, strlen(x), pt + 1, 40) != 32 ||
        unb64u(y, strlen(y), pt + 33, 40) != 32)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pk = NULL;
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* 1 if jwt's JOSE signature (64-octet r || s) verifies under pk with OpenSSL: r and s go into
 * an ECDSA-Sig-Value (DER) for EVP_DigestVerify over header.payload. *lead_zero is set when r or
 * s starts with a zero octet (the case a wrong encoder gets wrong). */
static int openssl_verifies(EVP_PKEY *pk, const char *jwt, int *lead_zero)
{
    const char *dot = strrchr(jwt, '.');
    unsigned char raw[80];
    if (dot == NULL || unb64u(dot + 1, strlen(dot + 1), raw, sizeof raw) != 64)
        return 0;
    if (raw[0] == 0 || raw[32] == 0)
        *lead_zero = 1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *sv = BN_bin2bn(raw + 32, 32, NULL);
    ECDSA_SIG_set0(es, r, sv);
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)jwt,
                              (size_t)(dot - jwt)) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

static void test_openssl_interop(void)
{
    /* Our tokens, checked by OpenSSL under the key rebuilt from our published JWK, until a
     * signature with a leading zero octet in r or s has been seen (about 1 in 64). */
    json_t *jwk = mcx_signing_key_public_jwk(key);
    EVP_PKEY *pub = pkey_of_jwk(jwk);
    CHECK(pub != NULL);
    int good = 0, lead_zero = 0, i;
    for (i = 0; pub != NULL && i < 2000 && (i < 20 || !lead_zero); i++) {
        char *jwt = sign(key, MCX_TOKEN_ACCESS, base_claims());
        good += openssl_verifies(pub, jwt, &lead_zero);
        free(jwt);
    }
    CHECK(good == i && lead_zero);
    /* The header is exactly the contract, and OpenSSL refuses a changed payload. */
    char *jwt = sign(key, MCX_TOKEN_ID, base_claims());
    unsigned char hdr[256];
    int hn = unb64u(jwt, (size_t)(strchr(jwt, '.') - jwt), hdr, sizeof hdr - 1);
    CHECK(hn > 0);
    hdr[hn > 0 ? hn : 0] = '\0';
    char want[200];
    snprintf(want, sizeof want, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             mcx_signing_key_kid(key));
    CHECK(strcmp((char *)hdr, want) == 0);
    char *dot = strchr(jwt, '.');
    dot[5] = dot[5] == 'a' ? 'b' : 'a';
    CHECK(pub == NULL || !openssl_verifies(pub, jwt, &lead_zero));
    free(jwt);
    EVP_PKEY_free(pub);
    json_decref(jwk);

    /* Tokens OpenSSL signed with a key OpenSSL generated, under a JWK Set made here from
     * OpenSSL's public point: the module imports that JWK and verifies them, leading zero octets
     * included. */
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    unsigned char pt[65];
    size_t ptn = 0;
    CHECK(pk != NULL &&
          EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &ptn) == 1 &&
          ptn == 65);
    char x[64], y[64], set[512];
    b64u(pt + 1, 32, x);
    b64u(pt + 33, 32, y);
    snprintf(set, sizeof set,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
             "\"kid\":\"ossl-1\",\"use\":\"sig\",\"alg\":\"ES256\"}]}",
             x, y);
    mcx_token_verifier_config cfg = {
        .issuer = ISS, .audience = AUD, .kind = MCX_TOKEN_ACCESS, .jwks_json = set};
    mcx_token_verifier *v = NULL;
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    static char pl[8192];
    snprintf(pl, sizeof pl, "%s", claims_text(base_claims()));
    const char *h = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"ossl-1\"}";
    good = 0;
    lead_zero = 0;
    for (i = 0; v != NULL && i < 2000 && (i < 20 || !lead_zero); i++) {
        char *t = forge(pk, h, pl, 0);
        int z = 0;
        const char *sig = strrchr(t, '.') + 1;
        unsigned char raw[80];
        if (unb64u(sig, strlen(sig), raw, sizeof raw) == 64 && (raw[0] == 0 || raw[32] == 0))
            z = 1;
        mcx_status st = mcx_token_verify(v, t, MCX_SCOPE_PTT_KMS, now_s, NULL);
        good += st == MCX_OK;
        lead_zero |= z && st == MCX_OK;
    }
    CHECK(good == i && lead_zero);
    mcx_token_verifier_free(v);
    EVP_PKEY_free(pk);
}

/* ---- an application's own jansson allocator ----------------------------------------------- */

/* An allocator with a header, as the mcx tool installs to wipe secret JSON: a block freed by the
 * wrong deallocator crashes (and valgrind names it). */
static void *hdr_malloc(size_t n)
{
    unsigned char *p = malloc(n + 16);
    /* the block is freed by hdr_free from the returned pointer */
    // cppcheck-suppress memleak
    return p != NULL ? p + 16 : NULL;
}

static void hdr_free(void *q)
{
    if (q != NULL)
        free((unsigned char *)q - 16);
}

static void test_app_allocator(void)
{
    json_set_alloc_funcs(hdr_malloc, hdr_free);
    /* Keys are made, loaded and published (mcx idms init, key rotate) ... */
    mcx_signing_key *k = NULL, *k2 = NULL;
    CHECK_OK(mcx_signing_key_generate(&k));
    char *pem = NULL;
    CHECK_OK(mcx_signing_key_to_pem(k, &pem));
    CHECK_OK(mcx_signing_key_from_pem(&k2, pem));
    CHECK(k2 != NULL && strcmp(mcx_signing_key_kid(k), mcx_signing_key_kid(k2)) == 0);
    json_t *set = mcx_jwks_of((const mcx_signing_key *const *)&k, 1);
    CHECK(set != NULL);
    json_decref(set);
    /* ... signing refuses cleanly (cjose would free jansson's text with free()) ... */
    json_t *c = base_claims();
    char *jwt = NULL;
    CHECK_ST(mcx_jwt_sign(k, MCX_TOKEN_ACCESS, c, &jwt), MCX_E_INTERNAL);
    CHECK(jwt == NULL && strstr(mcx_last_error(), "cjose_set_alloc_funcs") != NULL);
    json_decref(c);
    json_set_alloc_funcs(malloc, free);
    /* ... and verification works under it (a token signed with the default allocators). */
    jwt = sign(key, MCX_TOKEN_ACCESS, base_claims());
    char *jwks = jwks_text((const mcx_signing_key *const *)&key, 1);
    json_set_alloc_funcs(hdr_malloc, hdr_free);
    mcx_token_verifier_config cfg = {
        .issuer = ISS, .audience = AUD, .kind = MCX_TOKEN_ACCESS, .jwks_json = jwks};
    mcx_token_verifier *v = NULL;
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    mcx_token_claims cl;
    CHECK_OK(mcx_token_verify(v, jwt, MCX_SCOPE_PTT_KMS, now_s, &cl));
    CHECK(strcmp(cl.sub, "alice") == 0);
    mcx_token_verifier_free(v);
    mcx_signing_key_pem_free(pem);
    mcx_signing_key_free(k);
    mcx_signing_key_free(k2);
    json_set_alloc_funcs(malloc, free);
    free(jwks);
    free(jwt);
}

/* ---- a tiny HTTPS server on 127.0.0.1 ----------------------------------------------------- */

typedef struct server {
    int fd;
    int port;
    SSL_CTX *ctx;
    pthread_t thread;
    atomic_int stop;
    atomic_int jwks_requests;
    pthread_mutex_t lock;
    char *body; /* served at /jwks */
} server;

static void serve_one(server *s, int c)
{
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) != 1)
        goto out;
    char req[4096];
    size_t n = 0;
    while (n < sizeof req - 1) {
        int r = SSL_read(ssl, req + n, (int)(sizeof req - 1 - n));
        if (r <= 0)
            goto out;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    char path[256] = "";
    sscanf(req, "GET %255s", path);
    char head[512];
    char *body = NULL;
    int code = 200;
    const char *extra = "";
    if (strcmp(path, "/jwks") == 0) {
        atomic_fetch_add(&s->jwks_requests, 1);
        pthread_mutex_lock(&s->lock);
        body = strdup(s->body);
        pthread_mutex_unlock(&s->lock);
    } else if (strcmp(path, "/big") == 0) {
        body = malloc(70000);
        memset(body, ' ', 69999);
        body[0] = '{';
        body[69998] = '}';
        body[69999] = '\0';
    } else if (strcmp(path, "/notjson") == 0) {
        body = strdup("hello");
    } else if (strcmp(path, "/redirect") == 0) {
        code = 302;
        extra = "Location: /jwks\r\n";
        body = strdup("");
    } else {
        code = 404;
        body = strdup("not found");
    }
    snprintf(head, sizeof head,
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s"
             "Connection: close\r\n\r\n",
             code, strlen(body), extra);
    SSL_write(ssl, head, (int)strlen(head));
    if (body[0] != '\0')
        SSL_write(ssl, body, (int)strlen(body));
    free(body);
    SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    close(c);
}

static void *server_main(void *arg)
{
    server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c >= 0)
            serve_one(s, c);
    }
    return NULL;
}

/* A self-signed P-256 certificate for 127.0.0.1 (CN and IP SAN). */
static X509 *self_signed(EVP_PKEY *pk)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, pk, EVP_sha256()) == 0)
        abort();
    return x;
}

static void write_cert(X509 *x, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || PEM_write_X509(f, x) != 1)
        abort();
    fclose(f);
}

static char tmpdir[64], ca_path[128], wrong_ca_path[128];

static void server_start(server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *cert = self_signed(pk);
    write_cert(cert, ca_path);
    EVP_PKEY *pk2 = EVP_EC_gen("P-256");
    X509 *other = self_signed(pk2); /* same name, other key: a CA that does not vouch */
    write_cert(other, wrong_ca_path);
    X509_free(other);
    EVP_PKEY_free(pk2);
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate(s->ctx, cert) != 1 || SSL_CTX_use_PrivateKey(s->ctx, pk) != 1)
        abort();
    X509_free(cert);
    EVP_PKEY_free(pk);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 16) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    s->port = ntohs(a.sin_port);
    s->body = strdup("{\"keys\":[]}");
    pthread_create(&s->thread, NULL, server_main, s);
}

static void server_serve(server *s, const mcx_signing_key *const *keys, size_t n)
{
    char *b = jwks_text(keys, n);
    pthread_mutex_lock(&s->lock);
    free(s->body);
    s->body = b;
    pthread_mutex_unlock(&s->lock);
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    SSL_CTX_free(s->ctx);
    free(s->body);
    pthread_mutex_destroy(&s->lock);
}

static mcx_token_verifier *fetching_verifier(server *s, const char *path, const char *ca,
                                             unsigned refetch)
{
    char iss[64], uri[128];
    snprintf(iss, sizeof iss, "https://127.0.0.1:%d", s->port);
    snprintf(uri, sizeof uri, "%s%s", iss, path != NULL ? path : "");
    mcx_token_verifier_config cfg = {.issuer = iss,
                                     .audience = AUD,
                                     .kind = MCX_TOKEN_ACCESS,
                                     .jwks_uri = path != NULL ? uri : NULL,
                                     .ca_file = ca,
                                     .min_refetch_seconds = refetch,
                                     .fetch_timeout_ms = 10000};
    mcx_token_verifier *v = NULL;
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    return v;
}

static char *issued_by(server *s, const mcx_signing_key *k, const char *sub)
{
    char iss[64];
    snprintf(iss, sizeof iss, "https://127.0.0.1:%d", s->port);
    json_t *c = base_claims();
    json_object_set_new(c, "iss", json_string(iss));
    json_object_set_new(c, "sub", json_string(sub));
    return sign(k, MCX_TOKEN_ACCESS, c);
}

typedef struct worker {
    mcx_token_verifier *v;
    const char *jwt;
    int ok;
} worker;

static void *verify_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 25; i++)
        w->ok += mcx_token_verify(w->v, w->jwt, NULL, now_s, NULL) == MCX_OK;
    return NULL;
}

static void test_fetch(void)
{
    server s;
    server_start(&s);
    mcx_signing_key *k1 = NULL, *k2 = NULL, *k3 = NULL;
    CHECK_OK(mcx_signing_key_generate(&k1));
    CHECK_OK(mcx_signing_key_generate(&k2));
    CHECK_OK(mcx_signing_key_generate(&k3));
    server_serve(&s, (const mcx_signing_key *const[]){k1}, 1);
    char *t1 = issued_by(&s, k1, "one"), *t2 = issued_by(&s, k2, "two");
    char *t3 = issued_by(&s, k3, "three");

    /* Default location <issuer>/jwks; no I/O before the first verify. */
    mcx_token_verifier *v = fetching_verifier(&s, NULL, ca_path, 2);
    CHECK(atomic_load(&s.jwks_requests) == 0);
    mcx_token_claims cl;
    CHECK_OK(mcx_token_verify(v, t1, NULL, now_s, &cl));
    CHECK(strcmp(cl.sub, "one") == 0);
    CHECK(atomic_load(&s.jwks_requests) == 1);

    /* Rotation: k2 appears at the IdMS. Within min_refetch_seconds (2 s) of the last fetch the
     * unknown kid is refused without a fetch; after it, one refetch finds k2. */
    const mcx_signing_key *rotated[2] = {k1, k2};
    server_serve(&s, rotated, 2);
    CHECK_ST(mcx_token_verify(v, t2, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    CHECK(atomic_load(&s.jwks_requests) == 1);

    /* One fetch for many verifies, also from several threads at once. */
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){v, t1, 0};
        pthread_create(&th[i], NULL, verify_many, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].ok == 25);
    }
    CHECK(atomic_load(&s.jwks_requests) == 1);

    usleep(2100 * 1000);
    CHECK_OK(mcx_token_verify(v, t2, NULL, now_s, &cl));
    CHECK(strcmp(cl.sub, "two") == 0);
    CHECK(atomic_load(&s.jwks_requests) == 2);
    CHECK_OK(mcx_token_verify(v, t1, NULL, now_s, NULL));
    /* A kid the IdMS does not have: one refetch (after the interval), then none. */
    usleep(2100 * 1000);
    CHECK_ST(mcx_token_verify(v, t3, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    CHECK(atomic_load(&s.jwks_requests) == 3);
    char want[200];
    snprintf(want, sizeof want, "token: kid \"%s\" not among https://127.0.0.1:%d's keys",
             mcx_signing_key_kid(k3), s.port);
    CHECK(strcmp(mcx_last_error(), want) == 0);
    for (int i = 0; i < 5; i++)
        CHECK_ST(mcx_token_verify(v, t3, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    CHECK(atomic_load(&s.jwks_requests) == 3);
    /* k1 retired: after the next refetch its tokens are refused. */
    server_serve(&s, (const mcx_signing_key *const[]){k2}, 1);
    usleep(2100 * 1000);
    CHECK_ST(mcx_token_verify(v, t3, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    CHECK(atomic_load(&s.jwks_requests) == 4);
    CHECK_ST(mcx_token_verify(v, t1, NULL, now_s, NULL), MCX_E_UNKNOWN_PEER);
    CHECK_OK(mcx_token_verify(v, t2, NULL, now_s, NULL));
    mcx_token_verifier_free(v);

    /* An explicit jwks_uri. */
    v = fetching_verifier(&s, "/jwks", ca_path, 0);
    CHECK_OK(mcx_token_verify(v, t2, NULL, now_s, NULL));
    CHECK(atomic_load(&s.jwks_requests) == 5);
    mcx_token_verifier_free(v);

    /* Failures: wrong trust anchor, 404, redirect (not followed), too large, not a key set,
     * nobody listening, a non-HTTP scheme. Each is MCX_E_IO; a second verify inside the refetch
     * interval does not fetch again and is still MCX_E_IO. */
    v = fetching_verifier(&s, NULL, wrong_ca_path, 30);
    CHECK_ST(mcx_token_verify(v, t2, NULL, now_s, NULL), MCX_E_IO);
    CHECK(strstr(mcx_last_error(), "127.0.0.1") != NULL);
    CHECK_ST(mcx_token_verify(v, t2, NULL, now_s, NULL), MCX_E_IO);
    CHECK(atomic_load(&s.jwks_requests) == 5);
    mcx_token_verifier_free(v);
    const char *paths[] = {"/missing", "/redirect", "/big", "/notjson"};
    for (size_t i = 0; i < 4; i++) {
        v = fetching_verifier(&s, paths[i], ca_path, 0);
        CHECK_ST(mcx_token_verify(v, t2, NULL, now_s, NULL), MCX_E_IO);
        if (i == 1)
            CHECK(strstr(mcx_last_error(), "HTTP 302") != NULL);
        mcx_token_verifier_free(v);
    }
    CHECK(atomic_load(&s.jwks_requests) == 5); /* the redirect was not followed */
    mcx_token_verifier_config cfg = {.issuer = ISS,
                                     .audience = AUD,
                                     .kind = MCX_TOKEN_ACCESS,
                                     .jwks_uri = "https://127.0.0.1:1/jwks",
                                     .fetch_timeout_ms = 2000};
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    CHECK_ST(mcx_token_verify(v, t2, NULL, now_s, NULL), MCX_E_IO);
    mcx_token_verifier_free(v);
    cfg.jwks_uri = "file:///etc/hostname";
    CHECK_OK(mcx_token_verifier_new(&v, &cfg));
    CHECK_ST(mcx_token_verify(v, t2, NULL, now_s, NULL), MCX_E_IO);
    mcx_token_verifier_free(v);

    free(t1);
    free(t2);
    free(t3);
    mcx_signing_key_free(k1);
    mcx_signing_key_free(k2);
    mcx_signing_key_free(k3);
    server_stop(&s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    now_s = (int64_t)time(NULL);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mcx-token-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        abort();
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", tmpdir);
    snprintf(wrong_ca_path, sizeof wrong_ca_path, "%s/wrong.pem", tmpdir);
    if (mcx_signing_key_generate(&key) != MCX_OK)
        abort();
    va = static_verifier(key, MCX_TOKEN_ACCESS);
    vi = static_verifier(key, MCX_TOKEN_ID);

    RUN(test_scope_canonical);
    RUN(test_keys_and_pem);
    RUN(test_round_trip);
    RUN(test_claims);
    RUN(test_hostile);
    RUN(test_jwks_config);
    RUN(test_openssl_interop);
    RUN(test_app_allocator);
    RUN(test_fetch);

    mcx_token_verifier_free(va);
    mcx_token_verifier_free(vi);
    mcx_signing_key_free(key);
    unlink(ca_path);
    unlink(wrong_ca_path);
    rmdir(tmpdir);
    return test_summary();
}
