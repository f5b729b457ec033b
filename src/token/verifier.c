/* mcx_token_verify: the check every MCX service runs on each request's token (TS 33.180 Annex B;
 * RFC 7519 §7.2, RFC 9068 §4, RFC 8725).
 *
 * The issuer's keys are cached by kid as cjose keys imported once from the JWK Set, so a token with
 * a known kid costs a few small JSON parses, one SHA-256 and one ECDSA verification. A kid not in
 * the cache triggers one fetch of the issuer's JWK Set (at most once per min_refetch_seconds),
 * which is how key rotation at the IdMS reaches the services.
 *
 * cjose (cjose_jws_import, cjose_jws_verify, cjose_jws_get_plaintext) does the JWS itself; the
 * cheap checks before it are what cjose does not do or does more leniently: the size limit,
 * exactly three parts, canonical base64url, a header without duplicate names, alg fixed to
 * ES256 (RFC 8725 §3.1), no "crit", typ by kind, a known kid, and a signature of exactly 64
 * octets (cjose 0.6.2 splits whatever length it gets in two halves). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "token/token_internal.h"

#define DEFAULT_SKEW_SECONDS    60
#define DEFAULT_REFETCH_SECONDS 30
#define DEFAULT_TIMEOUT_MS      5000
#define JWKS_MAX_BODY           (64 * 1024)

struct mcx_token_verifier {
    char *issuer, *audience, *jwks_uri, *ca_file;
    mcx_token_kind kind;
    unsigned skew, min_refetch, timeout_ms;
    int is_static; /* keys from configuration: never fetched */

    pthread_rwlock_t lock; /* guards keys */
    token_keyset keys;

    pthread_mutex_t fetch_lock; /* one fetch at a time; guards the fields below */
    int attempted, fetched_ok;
    double last_attempt; /* CLOCK_MONOTONIC seconds */
};

static double mono_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *dup_opt(const char *s, int *fail)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *fail = 1;
    return d;
}

void mcx_token_verifier_free(mcx_token_verifier *v)
{
    if (v == NULL)
        return;
    token_keyset_clear(&v->keys);
    pthread_rwlock_destroy(&v->lock);
    pthread_mutex_destroy(&v->fetch_lock);
    free(v->issuer);
    free(v->audience);
    free(v->jwks_uri);
    free(v->ca_file);
    free(v);
}

mcx_status mcx_token_verifier_new(mcx_token_verifier **out, const mcx_token_verifier_config *cfg)
{
    if (out == NULL || cfg == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    *out = NULL;
    if (cfg->issuer == NULL || cfg->issuer[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "token: verifier needs an issuer");
    if (cfg->audience == NULL || cfg->audience[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "token: verifier needs an audience");
    if (cfg->kind != MCX_TOKEN_ACCESS && cfg->kind != MCX_TOKEN_ID)
        return MCX_FAIL(MCX_E_ARG, "token: verifier needs a token kind (access or ID)");
    mcx_token_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    /* Writers first: under a steady stream of verifies a key refresh must still get in. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&v->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rc != 0) {
        free(v);
        return MCX_FAIL(MCX_E_NOMEM, "token: no lock");
    }
    if (pthread_mutex_init(&v->fetch_lock, NULL) != 0) {
        pthread_rwlock_destroy(&v->lock);
        free(v);
        return MCX_FAIL(MCX_E_NOMEM, "token: no lock");
    }
    int fail = 0;
    v->issuer = dup_opt(cfg->issuer, &fail);
    v->audience = dup_opt(cfg->audience, &fail);
    v->ca_file = dup_opt(cfg->ca_file, &fail);
    v->kind = cfg->kind;
    v->skew = cfg->skew_seconds ? cfg->skew_seconds : DEFAULT_SKEW_SECONDS;
    v->min_refetch = cfg->min_refetch_seconds ? cfg->min_refetch_seconds : DEFAULT_REFETCH_SECONDS;
    v->timeout_ms = cfg->fetch_timeout_ms ? cfg->fetch_timeout_ms : DEFAULT_TIMEOUT_MS;
    if (cfg->jwks_json != NULL) {
        v->is_static = 1;
    } else if (cfg->jwks_uri != NULL) {
        v->jwks_uri = dup_opt(cfg->jwks_uri, &fail);
    } else {
        /* The IdMS publishes its keys at <issuer>/jwks (docs/idms.md). */
        size_t n = strlen(cfg->issuer);
        int slash = n > 0 && cfg->issuer[n - 1] == '/';
        v->jwks_uri = malloc(n + 6);
        if (v->jwks_uri == NULL)
            fail = 1;
        else
            snprintf(v->jwks_uri, n + 6, "%s%s", cfg->issuer, slash ? "jwks" : "/jwks");
    }
    if (fail) {
        mcx_token_verifier_free(v);
        return MCX_FAIL(MCX_E_NOMEM, "token: out of memory");
    }
    if (v->is_static) {
        size_t skipped = 0;
        mcx_status st =
            token_keyset_parse(cfg->jwks_json, strlen(cfg->jwks_json), &v->keys, &skipped);
        if (st == MCX_OK && v->keys.n == 0)
            st = MCX_FAIL(MCX_E_ENCODING,
                          "token: the JWK Set for %.128s holds no P-256 key with a kid",
                          cfg->issuer);
        if (st != MCX_OK) {
            mcx_token_verifier_free(v);
            return st;
        }
    }
    *out = v;
    return MCX_OK;
}

/* Fetch the issuer's JWK Set unless the last fetch ended less than min_refetch seconds ago.
 * MCX_OK means the cache is as fresh as the rate limit allows (the caller looks again). */
static mcx_status refresh_keys(mcx_token_verifier *v, const char *kid, size_t kid_len)
{
    pthread_mutex_lock(&v->fetch_lock);
    /* Another thread may have fetched the key while this one waited. */
    pthread_rwlock_rdlock(&v->lock);
    int found = token_keyset_find(&v->keys, kid, kid_len) != NULL;
    pthread_rwlock_unlock(&v->lock);
    mcx_status st = MCX_OK;
    double now = mono_seconds();
    if (found) {
        /* nothing to do */
    } else if (v->attempted && now - v->last_attempt < (double)v->min_refetch) {
        if (!v->fetched_ok)
            st = MCX_FAIL(MCX_E_IO,
                          "token: the keys of %.128s could not be fetched (next attempt in %.0f s)",
                          v->issuer, (double)v->min_refetch - (now - v->last_attempt));
    } else {
        v->attempted = 1;
        v->last_attempt = now;
        char *body = NULL;
        size_t len = 0;
        st = token_http_get(v->jwks_uri, v->ca_file, v->timeout_ms, JWKS_MAX_BODY, &body, &len);
        if (st == MCX_OK) {
            token_keyset fresh;
            st = token_keyset_parse(body, len, &fresh, NULL);
            if (st != MCX_OK) {
                char why[200];
                snprintf(why, sizeof why, "%s", mcx_last_error());
                st = MCX_FAIL(MCX_E_IO, "%.128s served no usable JWK Set: %s", v->jwks_uri, why);
            } else {
                pthread_rwlock_wrlock(&v->lock);
                token_keyset old = v->keys;
                v->keys = fresh;
                pthread_rwlock_unlock(&v->lock);
                token_keyset_clear(&old);
                v->fetched_ok = 1;
            }
            free(body);
        }
        /* The interval runs from the end of the fetch: a slow or timed-out fetch does not
         * leave the issuer open to another one at once. */
        v->last_attempt = mono_seconds();
    }
    pthread_mutex_unlock(&v->fetch_lock);
    return st;
}

/* ---- claims ------------------------------------------------------------------------------- */

/* Copy an optional string claim; absent leaves dst empty. A value that does not fit is refused
 * rather than truncated (a truncated MC ID could name another user). */
static mcx_status claim_string(const json_t *c, const char *name, char *dst, size_t cap)
{
    dst[0] = '\0';
    const json_t *j = json_object_get(c, name);
    if (j == NULL)
        return MCX_OK;
    if (!json_is_string(j))
        return MCX_FAIL(MCX_E_ENCODING, "token: claim \"%s\" is not a string", name);
    size_t n = json_string_length(j);
    const char *s = json_string_value(j);
    if (memchr(s, '\0', n) != NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: claim \"%s\" holds a NUL character", name);
    if (n >= cap)
        return MCX_FAIL(MCX_E_ENCODING, "token: claim \"%s\" is %zu octets, at most %zu accepted",
                        name, n, cap - 1);
    memcpy(dst, s, n + 1);
    return MCX_OK;
}

/* A NumericDate (RFC 7519 §2): integer or fractional seconds; *present says whether it was set. */
static mcx_status claim_time(const json_t *c, const char *name, int64_t *t, int *present)
{
    const json_t *j = json_object_get(c, name);
    *t = 0;
    *present = j != NULL;
    if (j == NULL)
        return MCX_OK;
    if (json_is_integer(j)) {
        *t = (int64_t)json_integer_value(j);
        return MCX_OK;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (isfinite(d) && d > -9.0e15 && d < 9.0e15) {
            /* floor without libm: truncation rounds negative fractions up */
            int64_t i = (int64_t)d;
            *t = (double)i > d ? i - 1 : i;
            return MCX_OK;
        }
    }
    return MCX_FAIL(MCX_E_ENCODING, "token: claim \"%s\" is not a NumericDate", name);
}

/* Append one scope token (canonicalised) to the space-separated list. */
static mcx_status scope_add(char *list, size_t cap, size_t *len, const char *tok, size_t n,
                            const char *required, int *has_required)
{
    if (n == 0)
        return MCX_OK;
    char one[256];
    if (n >= sizeof one)
        return MCX_FAIL(MCX_E_ENCODING, "token: a scope of %zu octets", n);
    memcpy(one, tok, n);
    one[n] = '\0';
    if (memchr(tok, '\0', n) != NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: a scope holds a NUL character");
    const char *canon = mcx_scope_canonical(one);
    const char *name = canon != NULL ? canon : one;
    size_t m = strlen(name);
    if (required != NULL && strcmp(name, required) == 0)
        *has_required = 1;
    if (*len + (*len ? 1 : 0) + m >= cap)
        return MCX_FAIL(MCX_E_ENCODING, "token: scope longer than %zu octets", cap - 1);
    if (*len)
        list[(*len)++] = ' ';
    memcpy(list + *len, name, m + 1);
    *len += m;
    return MCX_OK;
}

/* "scope": a space-separated string (RFC 9068 §2.2.3, RFC 8693 §4.2) or, as some MCX servers
 * write it, a JSON array of strings. */
static mcx_status claim_scope(const json_t *c, mcx_token_claims *out, const char *required,
                              int *has_required, int *present)
{
    const json_t *j = json_object_get(c, "scope");
    size_t len = 0;
    out->scope[0] = '\0';
    *present = j != NULL;
    if (j == NULL)
        return MCX_OK;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j), i = 0;
        while (i < n) {
            size_t e = i;
            while (e < n && s[e] != ' ')
                e++;
            MCX_GUARD(scope_add(out->scope, sizeof out->scope, &len, s + i, e - i, required,
                                has_required));
            i = e + 1;
        }
        return MCX_OK;
    }
    if (json_is_array(j)) {
        size_t i;
        const json_t *e;
        json_array_foreach(j, i, e)
        {
            if (!json_is_string(e))
                return MCX_FAIL(MCX_E_ENCODING, "token: scope entry %zu is not a string", i);
            const char *s = json_string_value(e);
            size_t n = json_string_length(e);
            if (memchr(s, ' ', n) != NULL)
                return MCX_FAIL(MCX_E_ENCODING, "token: scope entry %zu holds a space", i);
            MCX_GUARD(scope_add(out->scope, sizeof out->scope, &len, s, n, required, has_required));
        }
        return MCX_OK;
    }
    return MCX_FAIL(MCX_E_ENCODING, "token: claim \"scope\" is neither a string nor an array");
}

static mcx_status check_aud(const json_t *c, const char *audience)
{
    const json_t *j = json_object_get(c, "aud");
    if (j == NULL)
        return MCX_FAIL(MCX_E_DENIED, "token: no aud (\"%.128s\" required)", audience);
    if (json_is_string(j)) {
        if (strcmp(json_string_value(j), audience) == 0)
            return MCX_OK;
    } else if (json_is_array(j)) {
        size_t i;
        const json_t *e;
        int hit = 0;
        json_array_foreach(j, i, e)
        {
            if (!json_is_string(e))
                return MCX_FAIL(MCX_E_ENCODING, "token: aud entry %zu is not a string", i);
            if (strcmp(json_string_value(e), audience) == 0)
                hit = 1;
        }
        if (hit)
            return MCX_OK;
    } else {
        return MCX_FAIL(MCX_E_ENCODING, "token: claim \"aud\" is neither a string nor an array");
    }
    return MCX_FAIL(MCX_E_DENIED, "token: aud does not contain \"%.128s\"", audience);
}

static mcx_status check_claims(const mcx_token_verifier *v, const json_t *c, const char *required,
                               int64_t now, mcx_token_claims *out)
{
    MCX_GUARD(claim_string(c, "iss", out->iss, sizeof out->iss));
    if (out->iss[0] == '\0')
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "token: no iss (\"%.128s\" expected)", v->issuer);
    if (strcmp(out->iss, v->issuer) != 0)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "token: iss \"%.100s\" where \"%.100s\" is expected",
                        out->iss, v->issuer);
    int has_exp, has_nbf, has_iat, has_auth;
    MCX_GUARD(claim_time(c, "exp", &out->exp, &has_exp));
    MCX_GUARD(claim_time(c, "nbf", &out->nbf, &has_nbf));
    MCX_GUARD(claim_time(c, "iat", &out->iat, &has_iat));
    MCX_GUARD(claim_time(c, "auth_time", &out->auth_time, &has_auth));
    /* RFC 7519 §4.1.4: exp is required here (RFC 9068 §2.2, OIDC Core §2) and the token is
     * refused on or after it; the skew absorbs clock differences between IdMS and service. */
    int64_t skew = (int64_t)v->skew;
    if (!has_exp)
        return MCX_FAIL(MCX_E_ENCODING, "token: no exp claim");
    if (now >= out->exp + skew)
        return MCX_FAIL(MCX_E_TIME, "token: expired at %lld (now %lld, skew %lld s)",
                        (long long)out->exp, (long long)now, (long long)skew);
    if (has_nbf && now + skew < out->nbf)
        return MCX_FAIL(MCX_E_TIME, "token: not valid before %lld (now %lld, skew %lld s)",
                        (long long)out->nbf, (long long)now, (long long)skew);
    if (has_iat && out->iat > now + skew)
        return MCX_FAIL(MCX_E_TIME, "token: issued in the future at %lld (now %lld, skew %lld s)",
                        (long long)out->iat, (long long)now, (long long)skew);
    MCX_GUARD(check_aud(c, v->audience));

    MCX_GUARD(claim_string(c, "sub", out->sub, sizeof out->sub));
    MCX_GUARD(claim_string(c, "client_id", out->client_id, sizeof out->client_id));
    MCX_GUARD(claim_string(c, "jti", out->jti, sizeof out->jti));
    MCX_GUARD(claim_string(c, "mcptt_id", out->mcptt_id, sizeof out->mcptt_id));
    MCX_GUARD(claim_string(c, "mcvideo_id", out->mcvideo_id, sizeof out->mcvideo_id));
    MCX_GUARD(claim_string(c, "mcdata_id", out->mcdata_id, sizeof out->mcdata_id));
    MCX_GUARD(claim_string(c, "mcx_home_iss", out->acting_for, sizeof out->acting_for));

    const char *req = NULL;
    if (required != NULL)
        req = mcx_scope_canonical(required) != NULL ? mcx_scope_canonical(required) : required;
    int has_required = 0, has_scope = 0;
    MCX_GUARD(claim_scope(c, out, req, &has_required, &has_scope));
    if (req != NULL && !has_scope)
        return MCX_FAIL(MCX_E_DENIED, "token: no scope claim (\"%.128s\" required)", req);
    if (req != NULL && !has_required)
        return MCX_FAIL(MCX_E_DENIED, "token: scope does not include \"%.128s\"", req);
    return MCX_OK;
}

/* ---- header ------------------------------------------------------------------------------- */

/* A header string member, or NULL when absent or not a string. One holding a NUL (JSON "\u0000")
 * is refused so that "ES256\u0000x" can never compare equal to "ES256". */
static mcx_status header_string(const json_t *h, const char *name, const char **out)
{
    const json_t *j = json_object_get(h, name);
    *out = json_string_value(j);
    if (*out != NULL && strlen(*out) != json_string_length(j))
        return MCX_FAIL(MCX_E_ENCODING, "token: header \"%s\" holds a NUL character", name);
    return MCX_OK;
}

static mcx_status check_header(const mcx_token_verifier *v, const json_t *h, const char **kid)
{
    /* RFC 8725 §3.1: the algorithm is fixed by the verifier, never taken from the token. */
    const char *alg, *t;
    MCX_GUARD(header_string(h, "alg", &alg));
    MCX_GUARD(header_string(h, "typ", &t));
    MCX_GUARD(header_string(h, "kid", kid));
    if (alg == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: header has no alg");
    if (strcmp(alg, "ES256") != 0)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "token: alg \"%.32s\" where only ES256 is accepted",
                        alg);
    /* RFC 7515 §4.1.11: no extension is understood here, so any "crit" makes the JWS invalid. */
    if (json_object_get(h, "crit") != NULL)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "token: header has \"crit\" (no extension understood)");
    /* "jwk", "jku", "x5u", "x5c" are ignored: keys come only from the issuer's JWK Set. */
    const char *want =
        v->kind == MCX_TOKEN_ACCESS ? "an access token (at+jwt)" : "an ID token (JWT)";
    int ok;
    /* RFC 7515 §4.1.9: media types compare case-insensitively, "application/" may be omitted. */
    if (v->kind == MCX_TOKEN_ACCESS)
        ok =
            t != NULL && (strcasecmp(t, "at+jwt") == 0 || strcasecmp(t, "application/at+jwt") == 0);
    else
        ok = t != NULL && (strcasecmp(t, "JWT") == 0 || strcasecmp(t, "application/jwt") == 0);
    if (!ok) {
        if (t == NULL)
            return MCX_FAIL(MCX_E_DENIED, "token: no typ where %s is required", want);
        return MCX_FAIL(MCX_E_DENIED, "token: typ \"%.32s\" where %s is required", t, want);
    }
    if (*kid == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "token: header has no kid");
    return MCX_OK;
}

mcx_status mcx_token_verify(mcx_token_verifier *v, const char *jwt, const char *required_scope,
                            int64_t now, mcx_token_claims *claims)
{
    if (claims != NULL)
        memset(claims, 0, sizeof *claims);
    if (v == NULL || jwt == NULL)
        return MCX_FAIL(MCX_E_ARG, "token: NULL argument");
    jws_parts p;
    MCX_GUARD(jws_split(jwt, &p));
    json_t *h = NULL, *c = NULL;
    cjose_jws_t *jws = NULL;
    /* The header is read here with duplicate names refused (cjose's own parse keeps the last
     * one), so that the checks below see what cjose will see. */
    MCX_GUARD(jws_part_json(p.hdr, p.hdr_len, "header", &h));
    const char *kid = NULL;
    mcx_status st = check_header(v, h, &kid);
    if (st != MCX_OK)
        goto out;

    /* RFC 7518 §3.4: the ES256 signature is exactly the 64 octets r || s (86 characters). */
    if (p.sig_len != ES256_SIG_CHARS) {
        st = MCX_FAIL(MCX_E_SIG_INVALID,
                      "token: signature is %zu base64url characters, ES256 needs %d (64 octets)",
                      p.sig_len, ES256_SIG_CHARS);
        goto out;
    }
    if (!b64url_canonical(p.sig, p.sig_len)) {
        st = MCX_FAIL(MCX_E_ENCODING, "token: signature is not base64url");
        goto out;
    }
    if (!b64url_canonical(p.payload, p.payload_len)) {
        st = MCX_FAIL(MCX_E_ENCODING, "token: claims is not base64url");
        goto out;
    }
    cjose_err err = {0};
    jws = cjose_jws_import(jwt, (size_t)(p.sig + p.sig_len - jwt), &err);
    if (jws == NULL) {
        st = MCX_FAIL(MCX_E_ENCODING, "token: cjose cannot read the JWS: %s", cjose_why(&err));
        goto out;
    }
    /* The algorithm cjose will verify with is the one it read from the protected header: it
     * must be the ES256 checked above (RFC 8725 §3.1). */
    const char *cj_alg = json_string_value(
        json_object_get((const json_t *)cjose_jws_get_protected(jws), CJOSE_HDR_ALG));
    if (cj_alg == NULL || strcmp(cj_alg, CJOSE_HDR_ALG_ES256) != 0) {
        st = MCX_FAIL(MCX_E_UNSUPPORTED, "token: cjose reads alg \"%.32s\", not ES256",
                      cj_alg != NULL ? cj_alg : "");
        goto out;
    }

    size_t kid_len = strlen(kid);
    pthread_rwlock_rdlock(&v->lock);
    const token_key *key = token_keyset_find(&v->keys, kid, kid_len);
    if (key == NULL && !v->is_static) {
        pthread_rwlock_unlock(&v->lock);
        st = refresh_keys(v, kid, kid_len);
        if (st != MCX_OK)
            goto out;
        pthread_rwlock_rdlock(&v->lock);
        key = token_keyset_find(&v->keys, kid, kid_len);
    }
    if (key == NULL) {
        pthread_rwlock_unlock(&v->lock);
        st = MCX_FAIL(MCX_E_UNKNOWN_PEER, "token: kid \"%.64s\" not among %.128s's keys", kid,
                      v->issuer);
        goto out;
    }
    /* RFC 7515 §5.2: cjose hashes the header and payload parts as received. The key stays under
     * the read lock while cjose uses it: a refresh frees the old keys only under the write lock
     * (cjose_jwk_retain is not atomic, so the key is not retained instead). */
    err = (cjose_err){0};
    int good = cjose_jws_verify(jws, key->jwk, &err);
    pthread_rwlock_unlock(&v->lock);
    /* cjose's codes are not reliable enough to tell apart (CJOSE_ERR_CRYPTO is a signature that
     * does not verify); whatever the cause, the token is refused. */
    if (!good) {
        if (err.code == CJOSE_ERR_CRYPTO)
            st = MCX_FAIL(MCX_E_SIG_INVALID,
                          "token: ES256 signature does not verify (kid \"%.64s\")", kid);
        else
            st = MCX_FAIL(MCX_E_SIG_INVALID,
                          "token: cjose could not check the ES256 signature (kid \"%.64s\"): %s",
                          kid, cjose_why(&err));
        goto out;
    }

    uint8_t *text = NULL;
    size_t text_len = 0;
    err = (cjose_err){0};
    if (!cjose_jws_get_plaintext(jws, &text, &text_len, &err)) {
        st = MCX_FAIL(MCX_E_INTERNAL, "token: cjose gives no payload: %s", cjose_why(&err));
        goto out;
    }
    MCX_GUARD_GOTO(st, jws_claims_json(text, text_len, &c), out);
    mcx_token_claims local;
    mcx_token_claims *dst = claims;
    if (dst == NULL) {
        memset(&local, 0, sizeof local);
        dst = &local;
    }
    st = check_claims(v, c, required_scope, now, dst);
    if (st != MCX_OK)
        memset(dst, 0, sizeof *dst);
out:
    cjose_jws_release(jws);
    json_decref(h);
    json_decref(c);
    return st;
}
