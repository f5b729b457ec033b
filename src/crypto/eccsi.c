/* ECCSI signatures (RFC 6507) on NIST P-256 with SHA-256.
 *
 * Point arithmetic is OpenSSL's (one P-256 EC_GROUP shared by every call); arithmetic on secret
 * scalars modulo q is mcxsec's own constant-time code (p256_scalar.c). A secret scalar reaches
 * OpenSSL only as the BIGNUM handed to EC_POINT_mul, flagged BN_FLG_CONSTTIME and cleared after.
 *
 * In the MCX_CTGRIND build the secrets are undefined memory; each MCX_CT_PUBLIC below marks a
 * value that is public by design and says why. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "common/ctgrind_internal.h"
#include "common/error_internal.h"
#include "crypto/p256_scalar_internal.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/mem.h"

#define N_BYTES     MCX_ECCSI_SCALAR_BYTES
#define PT_BYTES    MCX_ECCSI_POINT_BYTES
#define HASH_BYTES  MCX_ECCSI_HASH_BYTES
#define MAX_DRAWS   64 /* random scalars tried before the generator is blamed */
#define CACHE_LIMIT (1u << 24)

/* RFC 6507 §5.2.1 step 5: s = q - s' if s' does not fit in N octets. Every residue mod q fits
 * in N octets when q < 2^(8N), as on P-256, so s = s' always; this pins that assumption. */
_Static_assert(N_BYTES * 8 >= 256, "s' mod q must fit in N octets");

/* ---- the shared P-256 group and SHA-256 (RFC 6507 §4.1 parameters) ---- */

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static EC_GROUP *p256;
static EVP_MD *sha256;
static uint8_t g_bytes[PT_BYTES]; /* G as 04||x||y, hashed into HS */
static uint8_t p_bytes[N_BYTES];  /* the field prime, to refuse coordinates >= p */

static void shared_init(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *p = BN_new();
    int ok = g != NULL && p != NULL && EC_GROUP_get_curve(g, p, NULL, NULL, NULL) &&
             BN_bn2binpad(p, p_bytes, N_BYTES) == N_BYTES &&
             EC_POINT_point2oct(g, EC_GROUP_get0_generator(g), POINT_CONVERSION_UNCOMPRESSED,
                                g_bytes, PT_BYTES, NULL) == PT_BYTES;
    BN_free(p);
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (ok)
        p256 = g;
    else
        EC_GROUP_free(g);
    ERR_clear_error();
}

/* Per-call working state: the shared group and a BN_CTX for OpenSSL's temporaries. */
typedef struct eccsi_ctx {
    const EC_GROUP *g;
    BN_CTX *bn;
} eccsi_ctx;

static mcx_status ctx_open(eccsi_ctx *c)
{
    c->g = NULL;
    c->bn = NULL;
    if (pthread_once(&shared_once, shared_init) != 0 || p256 == NULL || sha256 == NULL)
        return MCX_FAIL(MCX_E_INTERNAL, "ECCSI: OpenSSL has no P-256 group or SHA-256");
    c->g = p256;
    c->bn = BN_CTX_new();
    if (c->bn == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a BN_CTX");
    return MCX_OK;
}

static void ctx_close(eccsi_ctx *c)
{
    BN_CTX_free(c->bn);
    c->bn = NULL;
}

static mcx_status openssl_fail(const char *what)
{
    ERR_clear_error();
    return MCX_FAIL(MCX_E_INTERNAL, "ECCSI: OpenSSL failed in %s", what);
}

/* ---- hashes (RFC 6507 §5.1.1 step 3, §5.2.1 step 3, §5.2.2 steps 2-3) ---- */

typedef struct chunk {
    const uint8_t *p;
    size_t n;
} chunk;

static mcx_status sha256_chunks(uint8_t out[HASH_BYTES], const chunk *parts, size_t n_parts)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex2(md, sha256, NULL);
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = EVP_DigestUpdate(md, parts[i].p, parts[i].n);
    ok = ok && EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    return ok ? MCX_OK : openssl_fail("SHA-256");
}

/* HS = hash(G || KPAK || ID || PVT) */
static mcx_status hash_hs(uint8_t hs[HASH_BYTES], const uint8_t kpak[PT_BYTES], const uint8_t *id,
                          size_t id_len, const uint8_t pvt[PT_BYTES])
{
    const chunk parts[] = {{g_bytes, PT_BYTES}, {kpak, PT_BYTES}, {id, id_len}, {pvt, PT_BYTES}};
    return sha256_chunks(hs, parts, 4);
}

/* HE = hash(HS || r || M) */
static mcx_status hash_he(uint8_t he[HASH_BYTES], const uint8_t hs[HASH_BYTES],
                          const uint8_t r[N_BYTES], const uint8_t *msg, size_t msg_len)
{
    const chunk parts[] = {{hs, HASH_BYTES}, {r, N_BYTES}, {msg, msg_len}};
    return sha256_chunks(he, parts, 3);
}

/* ---- points ---- */

/* Decode a public point 04||x||y: the prefix, x and y below p, on P-256, not the identity. */
static mcx_status point_decode(const eccsi_ctx *c, EC_POINT *out, const uint8_t in[PT_BYTES],
                               const char *what)
{
    if (in[0] != 0x04)
        return MCX_FAIL(MCX_E_ENCODING, "ECCSI: %s starts with 0x%02x, not 0x04 (uncompressed)",
                        what, in[0]);
    if (memcmp(in + 1, p_bytes, N_BYTES) >= 0 || memcmp(in + 1 + N_BYTES, p_bytes, N_BYTES) >= 0)
        return MCX_FAIL(MCX_E_ENCODING, "ECCSI: %s has a coordinate that is not below p", what);
    if (EC_POINT_oct2point(c->g, out, in, PT_BYTES, c->bn) != 1) {
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        if (ERR_GET_LIB(e) == ERR_LIB_EC && ERR_GET_REASON(e) == EC_R_POINT_IS_NOT_ON_CURVE)
            return MCX_FAIL(MCX_E_NOT_ON_CURVE, "ECCSI: %s is not on P-256", what);
        return openssl_fail("point decoding");
    }
    /* unreachable for a 04 encoding on P-256, kept for RFC 6507 §5.1.2 ("not the identity") */
    if (EC_POINT_is_at_infinity(c->g, out))
        return MCX_FAIL(MCX_E_WRONG_ORDER, "ECCSI: %s is the point at infinity", what);
    return MCX_OK;
}

/* A decoded copy of a public point; *out is NULL on failure. */
static mcx_status point_new_decoded(const eccsi_ctx *c, EC_POINT **out, const uint8_t in[PT_BYTES],
                                    const char *what)
{
    *out = EC_POINT_new(c->g);
    if (*out == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a point");
    mcx_status st = point_decode(c, *out, in, what);
    if (st != MCX_OK) {
        EC_POINT_free(*out);
        *out = NULL;
    }
    return st;
}

static mcx_status point_encode(const eccsi_ctx *c, const EC_POINT *pt, uint8_t out[PT_BYTES])
{
    if (EC_POINT_point2oct(c->g, pt, POINT_CONVERSION_UNCOMPRESSED, out, PT_BYTES, c->bn) !=
        PT_BYTES)
        return openssl_fail("point encoding");
    return MCX_OK;
}

/* A scalar as a BIGNUM for EC_POINT_mul, flagged constant-time; free with BN_clear_free. */
static BIGNUM *scalar_to_bn(const mcx_p256_scalar *k)
{
    uint8_t b[N_BYTES];
    mcx_p256_scalar_store(b, k);
    BIGNUM *bn = BN_new();
    if (bn != NULL) {
        BN_set_flags(bn, BN_FLG_CONSTTIME);
        if (BN_bin2bn(b, N_BYTES, bn) == NULL) {
            BN_clear_free(bn);
            bn = NULL;
        }
    }
    mcx_memzero(b, sizeof b);
    return bn;
}

/* out = [a]G + [b]P; a or b (with P) may be NULL. a may be secret. */
static mcx_status point_mul(const eccsi_ctx *c, EC_POINT *out, const mcx_p256_scalar *a,
                            const EC_POINT *p, const mcx_p256_scalar *b)
{
    BIGNUM *abn = a != NULL ? scalar_to_bn(a) : NULL;
    BIGNUM *bbn = b != NULL ? scalar_to_bn(b) : NULL;
    int ok = (a == NULL || abn != NULL) && (b == NULL || bbn != NULL) &&
             EC_POINT_mul(c->g, out, abn, b != NULL ? p : NULL, bbn, c->bn);
    BN_clear_free(abn);
    BN_clear_free(bbn);
    return ok ? MCX_OK : openssl_fail("EC_POINT_mul");
}

/* out = [k]G as 04||x||y for a secret k; the caller declassifies the point it publishes. */
static mcx_status base_mul_encode(const eccsi_ctx *c, const mcx_p256_scalar *k,
                                  uint8_t out[PT_BYTES])
{
    EC_POINT *pt = EC_POINT_new(c->g);
    if (pt == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a point");
    mcx_status st = point_mul(c, pt, k, NULL, NULL);
    if (st == MCX_OK)
        st = point_encode(c, pt, out);
    EC_POINT_clear_free(pt);
    return st;
}

/* ---- scalars ---- */

/* Load a secret scalar that must be in [1, q). */
static mcx_status secret_scalar(mcx_p256_scalar *k, const uint8_t in[N_BYTES], const char *what)
{
    uint64_t ok = mcx_p256_scalar_load(k, in);
    MCX_CT_PUBLIC(&ok, sizeof ok); /* range verdict of an input check: public by design */
    if (!ok) {
        mcx_p256_scalar_wipe(k);
        return MCX_FAIL(MCX_E_RANGE, "ECCSI: %s is 0 or not below q", what);
    }
    return MCX_OK;
}

/* Uniform in [1, q) by rejection sampling (RFC 6507 §4.2, §5.1.1 step 1, §5.2.1 step 1). */
static mcx_status random_scalar(mcx_p256_scalar *k)
{
    uint8_t buf[N_BYTES];
    for (int i = 0; i < MAX_DRAWS; i++) {
        mcx_status st = mcx_random(buf, sizeof buf);
        if (st != MCX_OK)
            return st;
        MCX_CT_SECRET(buf, sizeof buf); /* a fresh secret scalar */
        uint64_t ok = mcx_p256_scalar_load(k, buf);
        MCX_CT_PUBLIC(&ok, sizeof ok); /* a rejected draw is thrown away: says nothing of k */
        if (ok) {
            mcx_memzero(buf, sizeof buf);
            return MCX_OK;
        }
    }
    mcx_memzero(buf, sizeof buf);
    mcx_p256_scalar_wipe(k);
    return MCX_FAIL(MCX_E_RANDOM, "ECCSI: no scalar in [1, q) after %d random draws", MAX_DRAWS);
}

/* ---- KMS keys (RFC 6507 §4.2) ---- */

static mcx_status kpak_of(const mcx_p256_scalar *ksak, uint8_t kpak[PT_BYTES])
{
    eccsi_ctx c;
    mcx_status st = ctx_open(&c);
    if (st == MCX_OK)
        st = base_mul_encode(&c, ksak, kpak);
    MCX_CT_PUBLIC(kpak, PT_BYTES); /* KPAK is the KMS public key */
    ctx_close(&c);
    return st;
}

mcx_status mcx_eccsi_kms_keygen(uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                                uint8_t kpak[MCX_ECCSI_POINT_BYTES])
{
    if (ksak == NULL || kpak == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL KSAK or KPAK buffer");
    mcx_p256_scalar k;
    MCX_GUARD(random_scalar(&k));
    mcx_status st = kpak_of(&k, kpak);
    if (st == MCX_OK)
        mcx_p256_scalar_store(ksak, &k);
    mcx_p256_scalar_wipe(&k);
    return st;
}

mcx_status mcx_eccsi_kpak_from_ksak(const uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                                    uint8_t kpak[MCX_ECCSI_POINT_BYTES])
{
    if (ksak == NULL || kpak == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL KSAK or KPAK buffer");
    mcx_p256_scalar k;
    MCX_GUARD(secret_scalar(&k, ksak, "KSAK"));
    mcx_status st = kpak_of(&k, kpak);
    mcx_p256_scalar_wipe(&k);
    return st;
}

/* ---- key issue (RFC 6507 §5.1.1) ---- */

typedef struct issue_in {
    mcx_p256_scalar ksak;
    const uint8_t *kpak;
    const uint8_t *id;
    size_t id_len;
} issue_in;

/* One attempt with a given v: PVT = [v]G, HS, SSK = KSAK + HS*v. *zero reports SSK = 0. */
static mcx_status issue_once(const eccsi_ctx *c, const issue_in *in, const mcx_p256_scalar *v,
                             uint8_t ssk[N_BYTES], uint8_t pvt[PT_BYTES], int *zero)
{
    uint8_t hs_bytes[HASH_BYTES];
    mcx_p256_scalar hs, t;
    MCX_GUARD(base_mul_encode(c, v, pvt));
    MCX_CT_PUBLIC(pvt, PT_BYTES); /* PVT is sent to the user and travels in every signature */
    MCX_GUARD(hash_hs(hs_bytes, in->kpak, in->id, in->id_len, pvt));
    mcx_p256_scalar_reduce(&hs, hs_bytes);
    mcx_p256_scalar_mul(&t, &hs, v);
    mcx_p256_scalar_add(&t, &t, &in->ksak);
    uint64_t is_zero = mcx_p256_scalar_is_zero(&t);
    MCX_CT_PUBLIC(&is_zero, sizeof is_zero); /* only says this v is discarded (p = 1/q) */
    *zero = is_zero != 0;
    mcx_p256_scalar_store(ssk, &t);
    mcx_p256_scalar_wipe(&t);
    return MCX_OK;
}

/* Check KSAK and KPAK, then issue with the given v, or with fresh random ones if v is NULL. */
static mcx_status issue(const uint8_t ksak[N_BYTES], const uint8_t kpak[PT_BYTES],
                        const uint8_t *id, size_t id_len, const mcx_p256_scalar *v,
                        uint8_t ssk[N_BYTES], uint8_t pvt[PT_BYTES])
{
    issue_in in = {.kpak = kpak, .id = id, .id_len = id_len};
    eccsi_ctx c;
    EC_POINT *kpak_pt = NULL;
    mcx_p256_scalar v_rand;
    int zero = 1;
    mcx_status st;
    MCX_GUARD(secret_scalar(&in.ksak, ksak, "KSAK"));
    MCX_GUARD_GOTO(st, ctx_open(&c), out);
    /* KPAK is hashed into HS: refuse to issue keys against a KPAK that is not a P-256 point */
    MCX_GUARD_GOTO(st, point_new_decoded(&c, &kpak_pt, kpak, "KPAK"), out);
    for (int i = 0; zero && i < MAX_DRAWS; i++) {
        if (v == NULL)
            MCX_GUARD_GOTO(st, random_scalar(&v_rand), out);
        MCX_GUARD_GOTO(st, issue_once(&c, &in, v != NULL ? v : &v_rand, ssk, pvt, &zero), out);
        if (zero && v != NULL) {
            st = MCX_FAIL(MCX_E_RANGE, "ECCSI: this v gives SSK = 0; choose another v");
            goto out;
        }
    }
    if (zero)
        st = MCX_FAIL(MCX_E_RANDOM, "ECCSI: SSK = 0 for %d random v", MAX_DRAWS);
out:
    if (st != MCX_OK)
        mcx_memzero(ssk, N_BYTES);
    EC_POINT_free(kpak_pt);
    ctx_close(&c);
    mcx_p256_scalar_wipe(&v_rand);
    mcx_p256_scalar_wipe(&in.ksak);
    return st;
}

static int id_ok(const uint8_t *id, size_t id_len)
{
    return id != NULL || id_len == 0;
}

mcx_status mcx_eccsi_issue(const uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                           const uint8_t kpak[MCX_ECCSI_POINT_BYTES], const uint8_t *id,
                           size_t id_len, uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                           uint8_t pvt[MCX_ECCSI_POINT_BYTES])
{
    if (ksak == NULL || kpak == NULL || !id_ok(id, id_len) || ssk == NULL || pvt == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to issue");
    return issue(ksak, kpak, id, id_len, NULL, ssk, pvt);
}

mcx_status mcx_eccsi_issue_with_v(const uint8_t ksak[MCX_ECCSI_SCALAR_BYTES],
                                  const uint8_t kpak[MCX_ECCSI_POINT_BYTES], const uint8_t *id,
                                  size_t id_len, const uint8_t v[MCX_ECCSI_SCALAR_BYTES],
                                  uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                  uint8_t pvt[MCX_ECCSI_POINT_BYTES])
{
    if (ksak == NULL || kpak == NULL || !id_ok(id, id_len) || v == NULL || ssk == NULL ||
        pvt == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to issue");
    mcx_p256_scalar vs;
    MCX_GUARD(secret_scalar(&vs, v, "v"));
    mcx_status st = issue(ksak, kpak, id, id_len, &vs, ssk, pvt);
    mcx_p256_scalar_wipe(&vs);
    return st;
}

/* ---- client validation of SSK and PVT (RFC 6507 §5.1.2) ---- */

/* [SSK]G == KPAK + [HS]PVT, checked as [SSK]G + [-HS]PVT == KPAK: one double multiplication
 * and one comparison of encodings. */
static mcx_status check_ssk(const eccsi_ctx *c, const mcx_p256_scalar *ssk,
                            const uint8_t hs_bytes[HASH_BYTES], const EC_POINT *pvt,
                            const uint8_t kpak[PT_BYTES])
{
    mcx_p256_scalar neg_hs;
    uint8_t lhs[PT_BYTES];
    EC_POINT *pt = EC_POINT_new(c->g);
    if (pt == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a point");
    mcx_p256_scalar_reduce(&neg_hs, hs_bytes);
    mcx_p256_scalar_neg(&neg_hs, &neg_hs);
    mcx_status st = point_mul(c, pt, ssk, pvt, &neg_hs);
    int at_infinity = st == MCX_OK && EC_POINT_is_at_infinity(c->g, pt);
    if (st == MCX_OK && !at_infinity)
        st = point_encode(c, pt, lhs);
    EC_POINT_clear_free(pt);
    if (st != MCX_OK)
        return st;
    /* [SSK]G - [HS]PVT is KPAK for a valid key, and otherwise only the public image [SSK]G
     * shifted by public values */
    MCX_CT_PUBLIC(lhs, sizeof lhs);
    if (at_infinity || memcmp(lhs, kpak, PT_BYTES) != 0)
        return MCX_FAIL(MCX_E_KEY_INVALID, "ECCSI: [SSK]G != KPAK + [HS]PVT: SSK does not match "
                                           "this PVT, identity and KPAK");
    return MCX_OK;
}

mcx_status mcx_eccsi_validate(const uint8_t kpak[MCX_ECCSI_POINT_BYTES], const uint8_t *id,
                              size_t id_len, const uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                              const uint8_t pvt[MCX_ECCSI_POINT_BYTES],
                              uint8_t hs[MCX_ECCSI_HASH_BYTES])
{
    if (kpak == NULL || !id_ok(id, id_len) || ssk == NULL || pvt == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to validate");
    eccsi_ctx c;
    EC_POINT *kpak_pt = NULL, *pvt_pt = NULL;
    mcx_p256_scalar k;
    uint8_t hs_bytes[HASH_BYTES];
    mcx_status st;
    MCX_GUARD_GOTO(st, ctx_open(&c), out);
    MCX_GUARD_GOTO(st, point_new_decoded(&c, &pvt_pt, pvt, "PVT"), out);
    MCX_GUARD_GOTO(st, point_new_decoded(&c, &kpak_pt, kpak, "KPAK"), out);
    MCX_GUARD_GOTO(st, secret_scalar(&k, ssk, "SSK"), out);
    MCX_GUARD_GOTO(st, hash_hs(hs_bytes, kpak, id, id_len, pvt), out);
    st = check_ssk(&c, &k, hs_bytes, pvt_pt, kpak);
    if (st == MCX_OK && hs != NULL)
        memcpy(hs, hs_bytes, HASH_BYTES);
out:
    mcx_p256_scalar_wipe(&k);
    EC_POINT_free(kpak_pt);
    EC_POINT_free(pvt_pt);
    ctx_close(&c);
    return st;
}

mcx_status mcx_eccsi_signer_init(mcx_eccsi_signer *signer,
                                 const uint8_t kpak[MCX_ECCSI_POINT_BYTES], const uint8_t *id,
                                 size_t id_len, const uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                 const uint8_t pvt[MCX_ECCSI_POINT_BYTES])
{
    if (signer == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL signer");
    uint8_t hs[HASH_BYTES];
    mcx_status st = mcx_eccsi_validate(kpak, id, id_len, ssk, pvt, hs);
    if (st != MCX_OK) {
        mcx_eccsi_signer_wipe(signer);
        return st;
    }
    memmove(signer->ssk, ssk, N_BYTES); /* the inputs may be the signer's own fields */
    memmove(signer->pvt, pvt, PT_BYTES);
    memcpy(signer->hs, hs, HASH_BYTES);
    return MCX_OK;
}

void mcx_eccsi_signer_wipe(mcx_eccsi_signer *signer)
{
    if (signer != NULL)
        mcx_memzero(signer, sizeof *signer);
}

/* ---- signing (RFC 6507 §5.2.1) ---- */

/* One attempt with a given j. *retry reports a j the RFC discards: r = 0, HE + r*SSK = 0 or
 * s = 0; also Jx >= q, so that r = Jx (step 2, unreduced) is always a scalar below q. */
static mcx_status sign_once(const eccsi_ctx *c, const mcx_eccsi_signer *signer,
                            const mcx_p256_scalar *ssk, const uint8_t *msg, size_t msg_len,
                            const mcx_p256_scalar *j, uint8_t sig[MCX_ECCSI_SIG_BYTES], int *retry)
{
    uint8_t jpt[PT_BYTES], he_bytes[HASH_BYTES];
    mcx_p256_scalar r, he, t;
    *retry = 1;
    /* step 2: J = [j]G, r = Jx */
    MCX_GUARD(base_mul_encode(c, j, jpt));
    MCX_CT_PUBLIC(jpt, sizeof jpt); /* r = Jx is published, and J is recoverable from r */
    if (!mcx_p256_scalar_load(&r, jpt + 1))
        return MCX_OK;
    /* step 3: HE = hash(HS || r || M) */
    MCX_GUARD(hash_he(he_bytes, signer->hs, jpt + 1, msg, msg_len));
    mcx_p256_scalar_reduce(&he, he_bytes);
    /* step 4: HE + r*SSK must be non-zero */
    mcx_p256_scalar_mul(&t, &r, ssk);
    mcx_p256_scalar_add(&t, &t, &he);
    uint64_t t_zero = mcx_p256_scalar_is_zero(&t);
    MCX_CT_PUBLIC(&t_zero, sizeof t_zero); /* only says this j is discarded (p = 1/q) */
    if (!t_zero) {
        /* step 5: s' = (HE + r*SSK)^-1 * j; s = s' (see the static assertion on N) */
        mcx_p256_scalar_inv(&t, &t);
        mcx_p256_scalar_mul(&t, &t, j);
        mcx_p256_scalar_store(sig + N_BYTES, &t);
        MCX_CT_PUBLIC(sig + N_BYTES, N_BYTES); /* s is the published signature */
        static const uint8_t zero[N_BYTES];
        *retry = memcmp(sig + N_BYTES, zero, N_BYTES) == 0;
    }
    mcx_p256_scalar_wipe(&t);
    /* step 6: signature = r || s || PVT */
    memcpy(sig, jpt + 1, N_BYTES);
    memcpy(sig + 2 * N_BYTES, signer->pvt, PT_BYTES);
    return MCX_OK;
}

/* Sign with the given j, or with fresh random ones if j is NULL. */
static mcx_status sign(const mcx_eccsi_signer *signer, const uint8_t *msg, size_t msg_len,
                       const mcx_p256_scalar *j, uint8_t sig[MCX_ECCSI_SIG_BYTES])
{
    eccsi_ctx c;
    mcx_p256_scalar ssk, j_rand;
    int retry = 1;
    mcx_status st;
    MCX_GUARD(secret_scalar(&ssk, signer->ssk, "SSK of the signer"));
    MCX_GUARD_GOTO(st, ctx_open(&c), out);
    for (int i = 0; retry && i < MAX_DRAWS; i++) {
        if (j == NULL)
            MCX_GUARD_GOTO(st, random_scalar(&j_rand), out);
        MCX_GUARD_GOTO(st, sign_once(&c, signer, &ssk, msg, msg_len, j ? j : &j_rand, sig, &retry),
                       out);
        if (retry && j != NULL) {
            st = MCX_FAIL(MCX_E_RANGE, "ECCSI: this j gives Jx = 0, Jx >= q, HE + r*SSK = 0 or "
                                       "s = 0; choose another j");
            goto out;
        }
    }
    if (retry)
        st = MCX_FAIL(MCX_E_RANDOM, "ECCSI: no usable j in %d random draws", MAX_DRAWS);
out:
    if (st != MCX_OK)
        memset(sig, 0, MCX_ECCSI_SIG_BYTES);
    ctx_close(&c);
    mcx_p256_scalar_wipe(&j_rand); /* RFC 6507 §5.2.1 step 5: erase j */
    mcx_p256_scalar_wipe(&ssk);
    return st;
}

mcx_status mcx_eccsi_sign(const mcx_eccsi_signer *signer, const uint8_t *msg, size_t msg_len,
                          uint8_t sig[MCX_ECCSI_SIG_BYTES])
{
    if (signer == NULL || (msg == NULL && msg_len != 0) || sig == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to sign");
    return sign(signer, msg, msg_len, NULL, sig);
}

mcx_status mcx_eccsi_sign_with_j(const mcx_eccsi_signer *signer, const uint8_t *msg, size_t msg_len,
                                 const uint8_t j[MCX_ECCSI_SCALAR_BYTES],
                                 uint8_t sig[MCX_ECCSI_SIG_BYTES])
{
    if (signer == NULL || (msg == NULL && msg_len != 0) || j == NULL || sig == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to sign");
    mcx_p256_scalar js;
    MCX_GUARD(secret_scalar(&js, j, "j"));
    mcx_status st = sign(signer, msg, msg_len, &js, sig);
    mcx_p256_scalar_wipe(&js);
    return st;
}

/* ---- verification (RFC 6507 §5.2.2) ---- */

typedef struct sig_view {
    const uint8_t *r_bytes;
    const uint8_t *pvt;
    mcx_p256_scalar r, s;
} sig_view;

/* Length, and r and s in [1, q). */
static mcx_status sig_parse(sig_view *v, const uint8_t *sig, size_t sig_len)
{
    if (sig_len != MCX_ECCSI_SIG_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "ECCSI: signature is %zu octets, expected %d", sig_len,
                        MCX_ECCSI_SIG_BYTES);
    v->r_bytes = sig;
    v->pvt = sig + 2 * N_BYTES;
    if (!mcx_p256_scalar_load(&v->r, sig))
        return MCX_FAIL(MCX_E_RANGE, "ECCSI: r in signature is 0 or not below q");
    if (!mcx_p256_scalar_load(&v->s, sig + N_BYTES))
        return MCX_FAIL(MCX_E_RANGE, "ECCSI: s in signature is 0 or not below q");
    return MCX_OK;
}

/* Step 4: Y = [HS]PVT + KPAK. */
static mcx_status compute_y(const eccsi_ctx *c, const uint8_t hs_bytes[HASH_BYTES],
                            const EC_POINT *pvt, const EC_POINT *kpak, EC_POINT *y)
{
    mcx_p256_scalar hs;
    mcx_p256_scalar_reduce(&hs, hs_bytes);
    MCX_GUARD(point_mul(c, y, NULL, pvt, &hs));
    if (!EC_POINT_add(c->g, y, y, kpak, c->bn))
        return openssl_fail("EC_POINT_add");
    if (EC_POINT_is_at_infinity(c->g, y))
        return MCX_FAIL(MCX_E_SIG_INVALID, "ECCSI: Y = [HS]PVT + KPAK is the point at infinity");
    return MCX_OK;
}

/* Steps 3, 5, 6 given Y: J = [s]([HE]G + [r]Y) = [s*HE]G + [s*r]Y in one double
 * multiplication; accept iff J is not the identity and Jx = r (r is in [1, q), so this is
 * the RFC's "Jx = r modulo p, Jx non-zero"). */
static mcx_status verify_with_y(const eccsi_ctx *c, const sig_view *v, const uint8_t hs[HASH_BYTES],
                                const EC_POINT *y, const uint8_t *msg, size_t msg_len)
{
    uint8_t he_bytes[HASH_BYTES], jx[N_BYTES];
    mcx_p256_scalar a, b;
    MCX_GUARD(hash_he(he_bytes, hs, v->r_bytes, msg, msg_len));
    mcx_p256_scalar_reduce(&a, he_bytes);
    mcx_p256_scalar_mul(&a, &a, &v->s);
    mcx_p256_scalar_mul(&b, &v->r, &v->s);
    EC_POINT *j = EC_POINT_new(c->g);
    BIGNUM *x = BN_new();
    mcx_status st = j != NULL && x != NULL ? MCX_OK : MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory");
    if (st == MCX_OK)
        st = point_mul(c, j, &a, y, &b);
    if (st == MCX_OK && EC_POINT_is_at_infinity(c->g, j))
        st = MCX_FAIL(MCX_E_SIG_INVALID, "ECCSI: J is the point at infinity");
    if (st == MCX_OK && (!EC_POINT_get_affine_coordinates(c->g, j, x, NULL, c->bn) ||
                         BN_bn2binpad(x, jx, N_BYTES) != N_BYTES))
        st = openssl_fail("affine conversion");
    if (st == MCX_OK && memcmp(jx, v->r_bytes, N_BYTES) != 0)
        st = MCX_FAIL(MCX_E_SIG_INVALID, "ECCSI: signature does not verify (Jx != r)");
    BN_free(x);
    EC_POINT_free(j);
    return st;
}

/* Steps 1-6 without a cache; y receives Y on success. */
static mcx_status verify_uncached(const eccsi_ctx *c, const sig_view *v, const EC_POINT *kpak,
                                  const uint8_t kpak_bytes[PT_BYTES], const uint8_t *id,
                                  size_t id_len, const uint8_t *msg, size_t msg_len,
                                  uint8_t hs[HASH_BYTES], EC_POINT *y)
{
    EC_POINT *pvt = NULL;
    /* step 1: PVT is on the curve */
    MCX_GUARD(point_new_decoded(c, &pvt, v->pvt, "PVT in signature"));
    /* step 2: HS = hash(G || KPAK || ID || PVT) */
    mcx_status st = hash_hs(hs, kpak_bytes, id, id_len, v->pvt);
    if (st == MCX_OK)
        st = compute_y(c, hs, pvt, kpak, y);
    if (st == MCX_OK)
        st = verify_with_y(c, v, hs, y, msg, msg_len);
    EC_POINT_free(pvt);
    return st;
}

/* Steps 1-6 in one multi-scalar multiplication, for a verifier that keeps no Y:
 * J = [s]([HE]G + [r]([HS]PVT + KPAK)) = [s*HE]G + [s*r*HS]PVT + [s*r]KPAK. OpenSSL's P-256
 * code runs the two variable-base terms as one interleaved window loop (their doublings are
 * shared), instead of a multiplication for Y and another for J. Y itself is never formed: the
 * only Y this skips checking, the identity, needs [HS]PVT = -KPAK with HS a hash of PVT, which
 * is as hard as a discrete logarithm, and J = [s*HE]G would then still have to give Jx = r. */
static mcx_status verify_combined(const eccsi_ctx *c, const sig_view *v, const EC_POINT *kpak,
                                  const uint8_t kpak_bytes[PT_BYTES], const uint8_t *id,
                                  size_t id_len, const uint8_t *msg, size_t msg_len)
{
    uint8_t hs_bytes[HASH_BYTES], he_bytes[HASH_BYTES], jx[N_BYTES];
    mcx_p256_scalar a, b, bh, hs;
    EC_POINT *pvt = NULL, *j = NULL;
    BIGNUM *abn = NULL, *bbn = NULL, *bhbn = NULL, *x = NULL;
    /* step 1: PVT is on the curve */
    MCX_GUARD(point_new_decoded(c, &pvt, v->pvt, "PVT in signature"));
    /* steps 2-3: HS = hash(G || KPAK || ID || PVT), HE = hash(HS || r || M) */
    mcx_status st = hash_hs(hs_bytes, kpak_bytes, id, id_len, v->pvt);
    if (st == MCX_OK)
        st = hash_he(he_bytes, hs_bytes, v->r_bytes, msg, msg_len);
    if (st != MCX_OK)
        goto out;
    mcx_p256_scalar_reduce(&hs, hs_bytes);
    mcx_p256_scalar_reduce(&a, he_bytes);
    mcx_p256_scalar_mul(&a, &a, &v->s);    /* s*HE */
    mcx_p256_scalar_mul(&b, &v->r, &v->s); /* s*r */
    mcx_p256_scalar_mul(&bh, &b, &hs);     /* s*r*HS */
    abn = scalar_to_bn(&a);
    bbn = scalar_to_bn(&b);
    bhbn = scalar_to_bn(&bh);
    j = EC_POINT_new(c->g);
    x = BN_new();
    if (abn == NULL || bbn == NULL || bhbn == NULL || j == NULL || x == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory");
        goto out;
    }
    const EC_POINT *pts[2] = {pvt, kpak};
    const BIGNUM *scs[2] = {bhbn, bbn};
    /* EC_POINTs_mul is deprecated in OpenSSL 3 without a replacement for several points */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    int ok = EC_POINTs_mul(c->g, j, abn, 2, pts, scs, c->bn);
#pragma GCC diagnostic pop
    if (!ok) {
        st = openssl_fail("EC_POINTs_mul");
        goto out;
    }
    /* steps 5-6: J is not the identity and Jx = r (r is in [1, q): "Jx = r modulo p") */
    if (EC_POINT_is_at_infinity(c->g, j)) {
        st = MCX_FAIL(MCX_E_SIG_INVALID, "ECCSI: J is the point at infinity");
        goto out;
    }
    if (!EC_POINT_get_affine_coordinates(c->g, j, x, NULL, c->bn) ||
        BN_bn2binpad(x, jx, N_BYTES) != N_BYTES)
        st = openssl_fail("affine conversion");
    else if (memcmp(jx, v->r_bytes, N_BYTES) != 0)
        st = MCX_FAIL(MCX_E_SIG_INVALID, "ECCSI: signature does not verify (Jx != r)");
out:
    BN_free(x);
    BN_free(abn);
    BN_free(bbn);
    BN_free(bhbn);
    EC_POINT_free(j);
    EC_POINT_free(pvt);
    return st;
}

static int verify_args_ok(const uint8_t *id, size_t id_len, const uint8_t *msg, size_t msg_len,
                          const uint8_t *sig)
{
    return id_ok(id, id_len) && (msg != NULL || msg_len == 0) && sig != NULL;
}

mcx_status mcx_eccsi_verify(const uint8_t kpak[MCX_ECCSI_POINT_BYTES], const uint8_t *id,
                            size_t id_len, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                            size_t sig_len)
{
    if (kpak == NULL || !verify_args_ok(id, id_len, msg, msg_len, sig))
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to verify");
    sig_view v;
    eccsi_ctx c;
    EC_POINT *kpak_pt = NULL;
    mcx_status st;
    MCX_GUARD(sig_parse(&v, sig, sig_len));
    MCX_GUARD_GOTO(st, ctx_open(&c), out);
    MCX_GUARD_GOTO(st, point_new_decoded(&c, &kpak_pt, kpak, "KPAK"), out);
    st = verify_combined(&c, &v, kpak_pt, kpak, id, id_len, msg, msg_len);
out:
    EC_POINT_free(kpak_pt);
    ctx_close(&c);
    return st;
}

/* ---- the verifier and its sender cache ---- */

#define NIL UINT32_MAX

/* One sender: key = SHA-256(ID || PVT) (PVT has a fixed length, so the split is unambiguous). */
typedef struct cache_entry {
    uint8_t key[HASH_BYTES];
    uint8_t hs[HASH_BYTES];
    EC_POINT *y;
    uint32_t newer, older; /* LRU list */
    uint32_t next;         /* hash-bucket chain */
} cache_entry;

struct mcx_eccsi_verifier {
    eccsi_ctx c;
    EC_POINT *kpak;
    uint8_t kpak_bytes[PT_BYTES];
    cache_entry *entries;
    uint32_t *buckets;
    uint32_t bucket_bits;
    uint64_t bucket_mul; /* random odd multiplier: senders cannot aim at one bucket */
    uint32_t cap, count;
    uint32_t newest, oldest;
    uint64_t hits, misses;
};

static uint32_t bucket_of(const mcx_eccsi_verifier *v, const uint8_t key[HASH_BYTES])
{
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = (k << 8) | key[i];
    return (uint32_t)((k * v->bucket_mul) >> (64 - v->bucket_bits));
}

static void lru_unlink(mcx_eccsi_verifier *v, uint32_t i)
{
    cache_entry *e = &v->entries[i];
    if (e->newer != NIL)
        v->entries[e->newer].older = e->older;
    else
        v->newest = e->older;
    if (e->older != NIL)
        v->entries[e->older].newer = e->newer;
    else
        v->oldest = e->newer;
}

static void lru_push_newest(mcx_eccsi_verifier *v, uint32_t i)
{
    cache_entry *e = &v->entries[i];
    e->newer = NIL;
    e->older = v->newest;
    if (v->newest != NIL)
        v->entries[v->newest].newer = i;
    v->newest = i;
    if (v->oldest == NIL)
        v->oldest = i;
}

static cache_entry *cache_find(mcx_eccsi_verifier *v, const uint8_t key[HASH_BYTES])
{
    for (uint32_t i = v->buckets[bucket_of(v, key)]; i != NIL; i = v->entries[i].next) {
        if (memcmp(v->entries[i].key, key, HASH_BYTES) == 0) {
            lru_unlink(v, i);
            lru_push_newest(v, i);
            return &v->entries[i];
        }
    }
    return NULL;
}

static void bucket_remove(mcx_eccsi_verifier *v, uint32_t i)
{
    uint32_t *link = &v->buckets[bucket_of(v, v->entries[i].key)];
    while (*link != i)
        link = &v->entries[*link].next;
    *link = v->entries[i].next;
}

/* Add a sender, evicting the least recently used one when full. */
static mcx_status cache_insert(mcx_eccsi_verifier *v, const uint8_t key[HASH_BYTES],
                               const uint8_t hs[HASH_BYTES], const EC_POINT *y)
{
    uint32_t i;
    if (v->count < v->cap) {
        i = v->count;
        v->entries[i].y = EC_POINT_dup(y, v->c.g);
        if (v->entries[i].y == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a cached sender");
        v->count++;
    } else {
        i = v->oldest;
        lru_unlink(v, i);
        bucket_remove(v, i);
        if (!EC_POINT_copy(v->entries[i].y, y))
            return openssl_fail("EC_POINT_copy");
    }
    cache_entry *e = &v->entries[i];
    memcpy(e->key, key, HASH_BYTES);
    memcpy(e->hs, hs, HASH_BYTES);
    uint32_t b = bucket_of(v, key);
    e->next = v->buckets[b];
    v->buckets[b] = i;
    lru_push_newest(v, i);
    return MCX_OK;
}

static mcx_status verifier_alloc(mcx_eccsi_verifier *v, size_t max_entries)
{
    v->cap = (uint32_t)max_entries;
    v->bucket_bits = 1;
    while ((1u << v->bucket_bits) < 2 * v->cap)
        v->bucket_bits++;
    v->entries = calloc(v->cap, sizeof *v->entries);
    v->buckets = malloc(sizeof(uint32_t) << v->bucket_bits);
    if (v->entries == NULL || v->buckets == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a verifier cache");
    for (size_t b = 0; b < (size_t)1 << v->bucket_bits; b++)
        v->buckets[b] = NIL;
    v->newest = v->oldest = NIL;
    MCX_GUARD(mcx_random((uint8_t *)&v->bucket_mul, sizeof v->bucket_mul));
    v->bucket_mul |= 1;
    return MCX_OK;
}

mcx_status mcx_eccsi_verifier_new(mcx_eccsi_verifier **out,
                                  const uint8_t kpak[MCX_ECCSI_POINT_BYTES], size_t max_entries)
{
    if (out == NULL || kpak == NULL)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to verifier_new");
    *out = NULL;
    if (max_entries == 0)
        max_entries = 1024;
    if (max_entries > CACHE_LIMIT)
        return MCX_FAIL(MCX_E_ARG, "ECCSI: verifier cache of %zu entries is above the limit %u",
                        max_entries, CACHE_LIMIT);
    mcx_eccsi_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a verifier");
    mcx_status st;
    MCX_GUARD_GOTO(st, ctx_open(&v->c), fail);
    MCX_GUARD_GOTO(st, point_new_decoded(&v->c, &v->kpak, kpak, "KPAK"), fail);
    memcpy(v->kpak_bytes, kpak, PT_BYTES);
    MCX_GUARD_GOTO(st, verifier_alloc(v, max_entries), fail);
    *out = v;
    return MCX_OK;
fail:
    mcx_eccsi_verifier_free(v);
    return st;
}

/* First contact: the full verification, then remember the sender if the signature is good (a
 * bad signature cannot push good senders out). */
static mcx_status verifier_first_contact(mcx_eccsi_verifier *v, const sig_view *sv,
                                         const uint8_t key[HASH_BYTES], const uint8_t *id,
                                         size_t id_len, const uint8_t *msg, size_t msg_len)
{
    uint8_t hs[HASH_BYTES];
    EC_POINT *y = EC_POINT_new(v->c.g);
    if (y == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "ECCSI: out of memory for a point");
    v->misses++;
    mcx_status st =
        verify_uncached(&v->c, sv, v->kpak, v->kpak_bytes, id, id_len, msg, msg_len, hs, y);
    if (st == MCX_OK)
        st = cache_insert(v, key, hs, y);
    EC_POINT_free(y);
    return st;
}

mcx_status mcx_eccsi_verifier_verify(mcx_eccsi_verifier *v, const uint8_t *id, size_t id_len,
                                     const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                                     size_t sig_len)
{
    if (v == NULL || !verify_args_ok(id, id_len, msg, msg_len, sig))
        return MCX_FAIL(MCX_E_ARG, "ECCSI: NULL argument to verifier_verify");
    sig_view sv;
    uint8_t key[HASH_BYTES];
    MCX_GUARD(sig_parse(&sv, sig, sig_len));
    const chunk parts[] = {{id, id_len}, {sv.pvt, PT_BYTES}};
    MCX_GUARD(sha256_chunks(key, parts, 2));
    const cache_entry *e = cache_find(v, key);
    if (e == NULL)
        return verifier_first_contact(v, &sv, key, id, id_len, msg, msg_len);
    /* a cached PVT was checked on the curve at first contact (the key covers all its octets) */
    v->hits++;
    return verify_with_y(&v->c, &sv, e->hs, e->y, msg, msg_len);
}

void mcx_eccsi_verifier_stats(const mcx_eccsi_verifier *v, uint64_t *hits, uint64_t *misses,
                              size_t *entries)
{
    if (hits != NULL)
        *hits = v != NULL ? v->hits : 0;
    if (misses != NULL)
        *misses = v != NULL ? v->misses : 0;
    if (entries != NULL)
        *entries = v != NULL ? v->count : 0;
}

void mcx_eccsi_verifier_free(mcx_eccsi_verifier *v)
{
    if (v == NULL)
        return;
    for (uint32_t i = 0; i < v->count; i++)
        EC_POINT_free(v->entries[i].y);
    free(v->entries);
    free(v->buckets);
    EC_POINT_free(v->kpak);
    ctx_close(&v->c);
    free(v);
}
