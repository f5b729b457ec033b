/* IdMS signing keys: P-256 key pairs (ES256, RFC 7518 §3.4) with their RFC 7638 key IDs, kept as
 * PKCS#8 PEM in the store (OpenSSL), held for signing as a cjose JWK, published as JWKs
 * (RFC 7517, RFC 7518 §6.2). */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "token/token_internal.h"

struct mcx_signing_key {
    /* The same private key twice: OpenSSL's for key generation and the PKCS#8 PEM kept in the
     * store (cjose has neither), cjose's for signing. Both wipe the scalar when freed. */
    EVP_PKEY *pkey;
    cjose_jwk_t *jwk;
    char x[B64_COORD_CHARS + 1], y[B64_COORD_CHARS + 1]; /* base64url public coordinates */
    char kid[B64_COORD_CHARS + 1];
};

/* The cjose key for the private scalar of pk: cjose_jwk_create_EC_spec computes the public point
 * from d. (cjose 0.6.2 frees its temporary BIGNUM of d without clearing it; nothing here can
 * change that.) */
static mcx_status key_to_cjose(EVP_PKEY *pk, cjose_jwk_t **out)
{
    uint8_t d[P256_COORD_BYTES];
    BIGNUM *bn = NULL;
    int ok = EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
             BN_bn2binpad(bn, d, sizeof d) == (int)sizeof d;
    BN_clear_free(bn);
    if (!ok) {
        mcx_memzero(d, sizeof d);
        return MCX_FAIL(MCX_E_INTERNAL, "token: cannot read the signing key's scalar");
    }
    cjose_jwk_ec_keyspec spec = {.crv = CJOSE_JWK_EC_P_256, .d = d, .dlen = sizeof d};
    cjose_err err = {0};
    cjose_jwk_t *jwk = cjose_jwk_create_EC_spec(&spec, &err);
    mcx_memzero(d, sizeof d);
    if (jwk == NULL)
        return MCX_FAIL(MCX_E_INTERNAL, "token: cjose cannot make the signing JWK: %s",
                        cjose_why(&err));
    *out = jwk;
    return MCX_OK;
}

/* The public coordinates and the kid, from OpenSSL's public point. They are not read back from
 * cjose (cjose_jwk_to_json) because that call frees jansson output with cjose's deallocator,
 * which breaks in a process that gave jansson its own allocator (the mcx tool does, to wipe
 * secret JSON) and that only makes keys, never signs. */
static mcx_status key_public(mcx_signing_key *k)
{
    uint8_t pt[1 + 2 * P256_COORD_BYTES];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n) != 1 ||
        n != sizeof pt || pt[0] != 0x04)
        return MCX_FAIL(MCX_E_INTERNAL, "token: cannot read the signing key's public point");
    MCX_GUARD(b64url_encode_to(pt + 1, P256_COORD_BYTES, k->x, sizeof k->x));
    MCX_GUARD(b64url_encode_to(pt + 1 + P256_COORD_BYTES, P256_COORD_BYTES, k->y, sizeof k->y));
    if (strlen(k->x) != B64_COORD_CHARS || strlen(k->y) != B64_COORD_CHARS)
        return MCX_FAIL(MCX_E_INTERNAL, "token: public coordinates of the wrong length");
    return p256_thumbprint(k->x, k->y, k->kid);
}

static mcx_status key_wrap(EVP_PKEY *pk, mcx_signing_key **out)
{
    mcx_signing_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pk);
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    }
    k->pkey = pk;
    cjose_err err = {0};
    mcx_status st = key_public(k);
    if (st == MCX_OK)
        st = key_to_cjose(pk, &k->jwk);
    if (st == MCX_OK && !cjose_jwk_set_kid(k->jwk, k->kid, strlen(k->kid), &err))
        st = MCX_FAIL(MCX_E_NOMEM, "token: cjose cannot set the kid: %s", cjose_why(&err));
    if (st != MCX_OK) {
        mcx_signing_key_free(k);
        return st;
    }
    *out = k;
    return MCX_OK;
}

mcx_status mcx_signing_key_generate(mcx_signing_key **out)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    *out = NULL;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    if (pk == NULL)
        return MCX_FAIL(MCX_E_RANDOM, "token: P-256 key generation failed");
    return key_wrap(pk, out);
}

/* Never prompt for a passphrase: an encrypted PEM is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

mcx_status mcx_signing_key_from_pem(mcx_signing_key **out, const char *pem)
{
    if (out == NULL || pem == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    *out = NULL;
    /* Only the two unencrypted private-key forms: PKCS#8 (RFC 5958) and SEC1 (RFC 5915). */
    const char *begin = strstr(pem, "-----BEGIN ");
    if (begin == NULL || (strncmp(begin, "-----BEGIN PRIVATE KEY-----", 27) != 0 &&
                          strncmp(begin, "-----BEGIN EC PRIVATE KEY-----", 30) != 0))
        return MCX_FAIL(MCX_E_ENCODING,
                        "token: signing key is not a PKCS#8 or SEC1 PEM private key");
    BIO *bio = BIO_new_mem_buf(begin, -1);
    if (bio == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pk == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: signing key PEM does not parse");
    char group[32] = "";
    size_t glen = 0;
    if (!EVP_PKEY_is_a(pk, "EC") ||
        EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        EVP_PKEY_free(pk);
        return MCX_FAIL(MCX_E_ENCODING, "token: signing key is not a P-256 private key");
    }
    return key_wrap(pk, out);
}

mcx_status mcx_signing_key_to_pem(const mcx_signing_key *k, char **pem)
{
    if (k == NULL || pem == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    *pem = NULL;
    /* A secure-heap BIO so the encoded scalar is wiped when the BIO is freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    mcx_status st = MCX_OK;
    char *data = NULL;
    long n = 0;
    if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        st = MCX_FAIL(MCX_E_INTERNAL, "token: PKCS#8 encoding failed");
    } else {
        char *out = mcx_secure_alloc((size_t)n + 1);
        if (out == NULL) {
            st = MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
        } else {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
            *pem = out;
        }
    }
    BIO_free(bio);
    return st;
}

void mcx_signing_key_pem_free(char *pem)
{
    mcx_secure_free(pem);
}

const char *mcx_signing_key_kid(const mcx_signing_key *k)
{
    return k != NULL ? k->kid : NULL;
}

json_t *mcx_signing_key_public_jwk(const mcx_signing_key *k)
{
    if (k == NULL)
        return NULL;
    /* use and alg (RFC 7517 §4.2, §4.4) say what the key is for, so that a relying party never
     * takes it for an encryption key. */
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", k->x,
                     "y", k->y, "kid", k->kid, "use", "sig", "alg", "ES256");
}

void mcx_signing_key_free(mcx_signing_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    cjose_jwk_release(k->jwk); /* EC_KEY_free inside clears the scalar */
    mcx_memzero(k, sizeof *k);
    free(k);
}

json_t *mcx_jwks_of(const mcx_signing_key *const *keys, size_t n)
{
    if (keys == NULL && n > 0)
        return NULL;
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *jwk = mcx_signing_key_public_jwk(keys[i]);
        if (jwk == NULL || json_array_append_new(arr, jwk) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return json_pack("{s:o}", "keys", arr);
}

const cjose_jwk_t *signing_key_jwk(const mcx_signing_key *k)
{
    return k->jwk;
}
