/* JWK Sets (RFC 7517 §5) of P-256 verification keys, each imported with cjose, and their fetch
 * over HTTPS with libcurl. */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "common/error_internal.h"
#include "token/token_internal.h"

/* A JWK Set is a few keys; one this large is not a key set. */
#define JWKS_MAX_KEYS 64

void token_keyset_clear(token_keyset *s)
{
    for (size_t i = 0; i < s->n; i++)
        cjose_jwk_release(s->keys[i].jwk);
    free(s->keys);
    s->keys = NULL;
    s->n = 0;
}

const token_key *token_keyset_find(const token_keyset *s, const char *kid, size_t kid_len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strncmp(s->keys[i].kid, kid, kid_len) == 0 && s->keys[i].kid[kid_len] == '\0')
            return &s->keys[i];
    return NULL;
}

/* A member that must be a string when present; NULL when absent or not a string. */
static const char *opt_string(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* 1 if jwk is an ES256 verification key this module keeps (RFC 7518 §6.2.1, RFC 7517 §4.2/4.4). */
static int jwk_is_p256_sig(const json_t *jwk)
{
    const char *kty = opt_string(jwk, "kty"), *crv = opt_string(jwk, "crv");
    const char *use = opt_string(jwk, "use"), *alg = opt_string(jwk, "alg");
    if (kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL || strcmp(crv, "P-256") != 0)
        return 0;
    if (json_object_get(jwk, "use") != NULL && (use == NULL || strcmp(use, "sig") != 0))
        return 0;
    if (json_object_get(jwk, "alg") != NULL && (alg == NULL || strcmp(alg, "ES256") != 0))
        return 0;
    return 1;
}

static mcx_status jwk_coord(const json_t *jwk, const char *name, const char *kid)
{
    const char *v = opt_string(jwk, name);
    /* RFC 7518 §6.2.1.2: the full-length 32-octet coordinate, canonical base64url. cjose checks
     * the length but ignores "=" padding and unused bits, so the text is checked here. */
    if (v == NULL || strlen(v) != B64_COORD_CHARS || !b64url_canonical(v, B64_COORD_CHARS))
        return MCX_FAIL(MCX_E_ENCODING, "token: JWK \"%.64s\": \"%s\" is not a 32-octet base64url",
                        kid, name);
    return MCX_OK;
}

/* Import the public key of jwk with cjose. Only kty, crv, x and y are handed over: a "d" in a
 * published set (a key leak at the issuer) must not make this verifier hold a private key. cjose
 * sets the point with EC_POINT_set_affine_coordinates, which refuses a point not on P-256. */
static mcx_status jwk_import(const json_t *jwk, const char *kid, cjose_jwk_t **out)
{
    json_t *pub = json_pack("{s:s, s:s, s:O, s:O}", "kty", "EC", "crv", "P-256", "x",
                            json_object_get(jwk, "x"), "y", json_object_get(jwk, "y"));
    if (pub == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    cjose_err err = {0};
    cjose_jwk_t *k = cjose_jwk_import_json((cjose_header_t *)pub, &err);
    json_decref(pub);
    /* cjose reports a point off the curve as CJOSE_ERR_NO_MEMORY (cjose 0.6.2, jwk.c), so its
     * code cannot tell a bad key from a failed allocation: either way the set is not usable. */
    if (k == NULL)
        return MCX_FAIL(MCX_E_ENCODING,
                        "token: JWK \"%.64s\" is not a point of P-256 (cjose "
                        "refused it: %s)",
                        kid, cjose_why(&err));
    err = (cjose_err){0};
    if (cjose_jwk_get_kty(k, &err) != CJOSE_JWK_KTY_EC ||
        cjose_jwk_EC_get_curve(k, &err) != CJOSE_JWK_EC_P_256) {
        cjose_jwk_release(k);
        return MCX_FAIL(MCX_E_ENCODING, "token: JWK \"%.64s\" is not a P-256 key", kid);
    }
    *out = k;
    return MCX_OK;
}

mcx_status token_keyset_parse(const char *json, size_t len, token_keyset *out, size_t *n_skipped)
{
    out->keys = NULL;
    out->n = 0;
    if (n_skipped != NULL)
        *n_skipped = 0;
    json_error_t e;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (root == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: JWK Set is not JSON (%.80s, line %d)", e.text,
                        e.line);
    json_t *arr = json_object_get(root, "keys");
    if (!json_is_array(arr)) {
        json_decref(root);
        return MCX_FAIL(MCX_E_ENCODING, "token: not a JWK Set (no \"keys\" array)");
    }
    size_t total = json_array_size(arr);
    if (total > JWKS_MAX_KEYS) {
        json_decref(root);
        return MCX_FAIL(MCX_E_ENCODING, "token: JWK Set has %zu keys, at most %d accepted", total,
                        JWKS_MAX_KEYS);
    }
    mcx_status st = MCX_OK;
    token_key *keys = total > 0 ? calloc(total, sizeof *keys) : NULL;
    if (total > 0 && keys == NULL) {
        json_decref(root);
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    }
    size_t n = 0, skipped = 0;
    for (size_t i = 0; i < total; i++) {
        const json_t *jwk = json_array_get(arr, i);
        const char *kid = opt_string(jwk, "kid");
        /* Keys of other types or uses, and keys without a kid (a token could not name them; nor
         * one holding a NUL, which a token's kid never matches), are not ours to judge: skip
         * them. */
        if (!json_is_object(jwk) || !jwk_is_p256_sig(jwk) || kid == NULL || kid[0] == '\0' ||
            strlen(kid) > TOKEN_KID_MAX ||
            strlen(kid) != json_string_length(json_object_get(jwk, "kid"))) {
            skipped++;
            continue;
        }
        if (token_keyset_find(&(token_keyset){keys, n}, kid, strlen(kid)) != NULL) {
            st = MCX_FAIL(MCX_E_ENCODING, "token: JWK Set names kid \"%.64s\" twice", kid);
            break;
        }
        if ((st = jwk_coord(jwk, "x", kid)) != MCX_OK ||
            (st = jwk_coord(jwk, "y", kid)) != MCX_OK ||
            (st = jwk_import(jwk, kid, &keys[n].jwk)) != MCX_OK)
            break;
        memcpy(keys[n].kid, kid, strlen(kid) + 1);
        n++;
    }
    json_decref(root);
    out->keys = keys;
    out->n = n;
    if (st != MCX_OK) {
        token_keyset_clear(out);
        return st;
    }
    if (n_skipped != NULL)
        *n_skipped = skipped;
    return MCX_OK;
}

/* ---- HTTPS fetch ------------------------------------------------------------------------------
 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on every platform: run it exactly once. */
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct body_buf {
    char *p;
    size_t n, max;
    int too_big;
} body_buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    body_buf *b = user;
    size_t n = size * nmemb;
    if (n > b->max - b->n) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    char *q = realloc(b->p, b->n + n + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->n, data, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

mcx_status token_http_get(const char *url, const char *ca_file, unsigned timeout_ms, size_t max,
                          char **body, size_t *body_len)
{
    *body = NULL;
    *body_len = 0;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return MCX_FAIL(MCX_E_IO, "token: libcurl initialisation failed");
    CURL *c = curl_easy_init();
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    body_buf b = {NULL, 0, max, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    /* Only http(s), no redirects (a redirect could lead the fetch anywhere), no signals
     * (verifiers run in threads), a bounded time and body. */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mcxsec-token");
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    mcx_status st = MCX_OK;
    if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        st = MCX_FAIL(MCX_E_IO, "token: %s: key set larger than %zu octets", url, max);
    else if (rc != CURLE_OK)
        st = MCX_FAIL(MCX_E_IO, "token: fetching %s failed: %s", url,
                      errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (code != 200)
        st = MCX_FAIL(MCX_E_IO, "token: %s answered HTTP %ld", url, code);
    else if (b.p == NULL)
        st = MCX_FAIL(MCX_E_IO, "token: %s answered an empty body", url);
    if (st != MCX_OK) {
        free(b.p);
        return st;
    }
    *body = b.p;
    *body_len = b.n;
    return MCX_OK;
}
