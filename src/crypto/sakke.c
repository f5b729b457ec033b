/* SAKKE (RFC 6508) with parameter set 1 (RFC 6509): KMS keys, RSK issue and validation,
 * encapsulation and decapsulation. See include/mcxsec/sakke.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/ct_internal.h"
#include "common/ctgrind_internal.h"
#include "common/error_internal.h"
#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"

#define P (&sakke_p)
#define Q (&sakke_q)

/* ---- HashToIntegerRange (RFC 6508 §5.1) ----------------------------------------------------- */

/* v = (v_1 || ... || v_l) with A = H(s), h_0 = 0^256, h_i = H(h_{i-1}), v_i = H(h_i || A),
 * l = ceil(bitlen(n) / 256) as the deployed implementations compute it (FORMATS.md §7: for
 * n = 2^256 that is 2). The caller reduces modulo n. out holds 32*l octets. */
static void hash_blocks(uint8_t *out, int l, const uint8_t *s1, size_t n1, const uint8_t *s2,
                        size_t n2)
{
    uint8_t A[32], h[32], buf[64];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    /* SHA-256 cannot fail on valid arguments; a NULL context (out of memory) gives A = 0 and
     * then a failed SED check or a wrong key, never a wrong acceptance */
    memset(A, 0, sizeof A);
    if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(c, s1, n1) == 1 && (n2 == 0 || EVP_DigestUpdate(c, s2, n2) == 1)) {
        unsigned int alen = 0;
        (void)EVP_DigestFinal_ex(c, A, &alen);
    }
    EVP_MD_CTX_free(c);
    memset(h, 0, sizeof h);
    for (int i = 0; i < l; i++) {
        SHA256(h, 32, h);
        memcpy(buf, h, 32);
        memcpy(buf + 32, A, 32);
        SHA256(buf, 64, out + 32 * i);
    }
    mcx_memzero(A, sizeof A);
    mcx_memzero(h, sizeof h);
    mcx_memzero(buf, sizeof buf);
}

/* HashToIntegerRange(s1 || s2, q) as a plain fp (< q), constant-time reduction */
static void h2ir_q(fp *r, const uint8_t *s1, size_t n1, const uint8_t *s2, size_t n2)
{
    uint8_t v[128];
    hash_blocks(v, 4, s1, n1, s2, n2);
    fp_from_bytes_reduce(r, v, Q);
    mcx_memzero(v, sizeof v);
}

/* HashToIntegerRange(s, 2^(8 n)) for an SSV of n = 16 or 32 octets: the last n octets */
static void h2ir_mask(uint8_t *mask, size_t n, const uint8_t *s, size_t slen)
{
    uint8_t v[64];
    int l = n == 16 ? 1 : 2;
    hash_blocks(v, l, s, slen, NULL, 0);
    memcpy(mask, v + 32 * l - n, n);
    mcx_memzero(v, sizeof v);
}

/* ---- scalars ----------------------------------------------------------------------------------
 */

/* identity octets as an integer mod q (plain form) */
static mcx_status id_to_scalar(fp *b, const uint8_t *id, size_t id_len)
{
    uint8_t buf[FP_BYTES];
    if (id_len == 0 || id_len > FP_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: identity is %zu octets, expected 1 to %d", id_len,
                        FP_BYTES);
    memset(buf, 0, sizeof buf);
    memcpy(buf + FP_BYTES - id_len, id, id_len);
    fp_from_bytes_reduce(b, buf, Q);
    return MCX_OK;
}

/* r = a*b mod q for plain a, b */
static void mul_mod_q(fp *r, const fp *a, const fp *b)
{
    fp t;
    fp_mul(&t, a, b, Q);      /* a b R^-1 */
    fp_mul(r, &t, &Q->r2, Q); /* a b */
    mcx_memzero(&t, sizeof t);
}

static mcx_status z_from_bytes(fp *z, const uint8_t *zb, size_t z_len)
{
    uint8_t buf[FP_BYTES];
    if (z_len == 0 || z_len > FP_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: z is %zu octets, expected 1 to %d", z_len, FP_BYTES);
    memset(buf, 0, sizeof buf);
    memcpy(buf + FP_BYTES - z_len, zb, z_len);
    mcx_status st = fp_from_bytes(z, buf, Q, "z");
    mcx_memzero(buf, sizeof buf);
    if (st != MCX_OK)
        return MCX_FAIL(MCX_E_RANGE, "SAKKE: z is not less than q");
    uint64_t zero = fp_is_zero(z);
    MCX_CT_PUBLIC(&zero, sizeof zero);
    if (zero)
        return MCX_FAIL(MCX_E_RANGE, "SAKKE: z is zero");
    return MCX_OK;
}

/* ---- per-KMS context: Z and its fixed-base table, cached and shared ---------------------------
 */

#define KMS_CACHE_MAX 8

typedef struct kms_ctx {
    uint8_t Zb[MCX_SAKKE_POINT_BYTES];
    ec_affine Z;
    ec_table *table;
    int refs;
    int cached;
    uint64_t last_use;
} kms_ctx;

static pthread_mutex_t kms_lock = PTHREAD_MUTEX_INITIALIZER;
static kms_ctx *kms_cache[KMS_CACHE_MAX];
static uint64_t kms_clock;

static void kms_ctx_destroy(kms_ctx *k)
{
    ec_table_free(k->table);
    free(k);
}

/* Decode and check Z (on E, in the order-q subgroup) and build its table. */
static mcx_status kms_ctx_create(kms_ctx **out, const uint8_t Zb[MCX_SAKKE_POINT_BYTES])
{
    kms_ctx *k = calloc(1, sizeof *k);
    if (k == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory");
    mcx_status st = ec_decode(&k->Z, Zb, MCX_SAKKE_POINT_BYTES, "Z");
    if (st != MCX_OK) {
        free(k);
        return st;
    }
    memcpy(k->Zb, Zb, MCX_SAKKE_POINT_BYTES);
    /* [q]Z = O: Z is in the order-q subgroup. A plain double-and-add: the table's recoding
     * assumes this very property, so it cannot be used to check it. Once per KMS (cached). */
    if (!ec_in_subgroup_vartime(&k->Z)) {
        free(k);
        return MCX_FAIL(MCX_E_WRONG_ORDER, "SAKKE: Z is not in the order-q subgroup");
    }
    k->table = ec_table_new(&k->Z);
    if (k->table == NULL) {
        free(k);
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory for the table of Z");
    }
    *out = k;
    return MCX_OK;
}

static mcx_status kms_acquire(kms_ctx **out, const uint8_t *Zb, size_t Z_len)
{
    if (Z_len != MCX_SAKKE_POINT_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: Z is %zu octets, expected %d", Z_len,
                        MCX_SAKKE_POINT_BYTES);
    sakke_params_init();
    pthread_mutex_lock(&kms_lock);
    for (int i = 0; i < KMS_CACHE_MAX; i++) {
        kms_ctx *k = kms_cache[i];
        if (k != NULL && memcmp(k->Zb, Zb, MCX_SAKKE_POINT_BYTES) == 0) {
            k->refs++;
            k->last_use = ++kms_clock;
            pthread_mutex_unlock(&kms_lock);
            *out = k;
            return MCX_OK;
        }
    }
    pthread_mutex_unlock(&kms_lock);

    /* Build outside the lock: it takes milliseconds. */
    kms_ctx *k = NULL;
    MCX_GUARD(kms_ctx_create(&k, Zb));
    k->refs = 1;

    pthread_mutex_lock(&kms_lock);
    int slot = -1;
    for (int i = 0; i < KMS_CACHE_MAX && slot < 0; i++)
        if (kms_cache[i] == NULL)
            slot = i;
    for (int i = 0; i < KMS_CACHE_MAX; i++) /* evict the least recently used idle entry */
        if (slot < 0 && kms_cache[i]->refs == 0)
            slot = i;
    for (int i = 0; i < KMS_CACHE_MAX; i++)
        if (kms_cache[i] != NULL && kms_cache[i]->refs == 0 && slot >= 0 &&
            kms_cache[slot] != NULL && kms_cache[i]->last_use < kms_cache[slot]->last_use)
            slot = i;
    if (slot >= 0) {
        if (kms_cache[slot] != NULL)
            kms_ctx_destroy(kms_cache[slot]);
        kms_cache[slot] = k;
        k->cached = 1;
        k->last_use = ++kms_clock;
    }
    pthread_mutex_unlock(&kms_lock);
    *out = k;
    return MCX_OK;
}

static void kms_release(kms_ctx *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&kms_lock);
    k->refs--;
    int destroy = !k->cached && k->refs == 0;
    pthread_mutex_unlock(&kms_lock);
    if (destroy)
        kms_ctx_destroy(k);
}

/* ---- KMS ------------------------------------------------------------------------------------- */

mcx_status mcx_sakke_kms_pubkey(const uint8_t *z, size_t z_len, uint8_t Z[MCX_SAKKE_POINT_BYTES])
{
    if (z == NULL || Z == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    sakke_params_init();
    fp zz;
    ec_affine pt;
    MCX_GUARD(z_from_bytes(&zz, z, z_len));
    mcx_status st = ec_table_mul(&pt, sakke_P_table(), &zz);
    mcx_memzero(&zz, sizeof zz);
    if (st != MCX_OK)
        return st;
    MCX_CT_PUBLIC(&pt, sizeof pt); /* Z is the KMS public key */
    ec_encode(Z, &pt);
    return MCX_OK;
}

mcx_status mcx_sakke_kms_keygen(uint8_t z[MCX_SAKKE_SCALAR_BYTES], uint8_t Z[MCX_SAKKE_POINT_BYTES])
{
    if (z == NULL || Z == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    sakke_params_init();
    /* uniform in [1, q): q has 1022 bits; sample 1022-bit values and reject (accepts > 1/2) */
    for (;;) {
        fp t;
        MCX_GUARD(mcx_random(z, MCX_SAKKE_SCALAR_BYTES));
        z[0] &= 0x3f;
        if (fp_from_bytes(&t, z, Q, "z") == MCX_OK && !fp_is_zero(&t))
            break;
    }
    mcx_clear_error();
    mcx_status st = mcx_sakke_kms_pubkey(z, MCX_SAKKE_SCALAR_BYTES, Z);
    if (st != MCX_OK)
        mcx_memzero(z, MCX_SAKKE_SCALAR_BYTES);
    return st;
}

mcx_status mcx_sakke_issue_rsk(const uint8_t *z, size_t z_len, const uint8_t *id, size_t id_len,
                               uint8_t rsk[MCX_SAKKE_POINT_BYTES])
{
    if (z == NULL || id == NULL || rsk == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    sakke_params_init();
    fp zz, b, s, inv;
    ec_affine K;
    MCX_GUARD(id_to_scalar(&b, id, id_len));
    MCX_GUARD(z_from_bytes(&zz, z, z_len));
    /* RFC 6508 §6.1.1: RSK = [(b + z)^-1 mod q] P */
    fp_add(&s, &b, &zz, Q);
    mcx_status st = MCX_OK;
    uint64_t zero = fp_is_zero(&s);
    MCX_CT_PUBLIC(&zero, sizeof zero); /* b = -z mod q: no key exists for b (negligible) */
    if (zero) {
        st = MCX_FAIL(MCX_E_KEY_INVALID, "SAKKE: b + z = 0 mod q, no RSK exists");
        goto out;
    }
    fp_to_mont(&s, &s, Q);
    st = fp_inv_blinded(&inv, &s, Q);
    if (st != MCX_OK)
        goto out;
    fp_from_mont(&inv, &inv, Q);
    st = ec_table_mul(&K, sakke_P_table(), &inv);
    if (st == MCX_OK) {
        ec_encode(rsk, &K);
    }
out:
    mcx_memzero(&zz, sizeof zz);
    mcx_memzero(&s, sizeof s);
    mcx_memzero(&inv, sizeof inv);
    mcx_memzero(&K, sizeof K);
    return st;
}

/* ---- sender ---------------------------------------------------------------------------------- */

struct mcx_sakke_sender {
    kms_ctx *kms;
};

mcx_status mcx_sakke_sender_new(mcx_sakke_sender **out, const uint8_t Z[MCX_SAKKE_POINT_BYTES])
{
    if (out == NULL || Z == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    mcx_sakke_sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory");
    mcx_status st = kms_acquire(&s->kms, Z, MCX_SAKKE_POINT_BYTES);
    if (st != MCX_OK) {
        free(s);
        return st;
    }
    *out = s;
    return MCX_OK;
}

void mcx_sakke_sender_free(mcx_sakke_sender *s)
{
    if (s == NULL)
        return;
    kms_release(s->kms);
    free(s);
}

/* [r]([b]P + Z) = [r b]P + [r]Z, as an Edwards point */
static mcx_status r_times_bPZ(ed_point *out, const kms_ctx *kms, const fp *r, const fp *b)
{
    fp rb;
    mul_mod_q(&rb, r, b);
    mcx_status st;
    if (fp_is_zero(b)) /* b is public: the identity 0 mod q has [b]P = O */
        st = ec_table_mul2(out, kms->table, r, NULL, NULL);
    else
        st = ec_table_mul2(out, sakke_P_table(), &rb, kms->table, r);
    mcx_memzero(&rb, sizeof rb);
    return st;
}

/* [b]P + Z for a receiver (b public), affine */
static mcx_status bPZ(ec_affine *out, const kms_ctx *kms, const fp *b)
{
    if (fp_is_zero(b)) {
        *out = kms->Z;
        return MCX_OK;
    }
    ed_point t;
    /* b is a hash of the receiver's public identifier: public, so no constant-time scan */
    MCX_GUARD(ec_table_mul_public(&t, sakke_P_table(), b));
    ed_add(&t, &t, ec_table_base(kms->table));
    return ed_to_weierstrass(out, &t); /* refuses [b]P + Z = O (b = -z: no RSK exists) */
}

static mcx_status check_ssv_len(size_t n)
{
    if (n != 16 && n != 32)
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: SSV is %zu octets, expected 16 or 32", n);
    return MCX_OK;
}

mcx_status mcx_sakke_encap(const mcx_sakke_sender *s, const uint8_t *id, size_t id_len,
                           const uint8_t *ssv, size_t ssv_len, uint8_t *sed, size_t sed_cap,
                           size_t *sed_len)
{
    if (s == NULL || id == NULL || ssv == NULL || sed == NULL || sed_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    MCX_GUARD(check_ssv_len(ssv_len));
    if (sed_cap < MCX_SAKKE_SED_BYTES(ssv_len))
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: SED buffer holds %zu octets, need %zu", sed_cap,
                        (size_t)MCX_SAKKE_SED_BYTES(ssv_len));
    fp b, r, w, den, inv, t;
    fp2 f;
    ed_point Re;
    ec_affine R;
    uint8_t wb[FP_BYTES], mask[MCX_SAKKE_SSV_MAX_BYTES];
    MCX_GUARD(id_to_scalar(&b, id, id_len));
    /* RFC 6508 §6.2.1 */
    h2ir_q(&r, ssv, ssv_len, id, id_len);             /* 1. r = HashToIntegerRange(SSV || b, q) */
    mcx_status st = r_times_bPZ(&Re, s->kms, &r, &b); /* 2. R = [r]([b]P + Z) */
    if (st == MCX_OK)
        st = sakke_g_pow_fp2(&f, &r); /* 3. g^r = f.b / f.a */
    if (st == MCX_OK) {
        /* one blinded inversion for both R's denominator and f.a */
        ed_to_weierstrass_den(&den, &Re);
        fp_mul(&t, &den, &f.a, P);
        st = fp_inv_blinded(&inv, &t, P);
    }
    if (st == MCX_OK) {
        fp_mul(&t, &inv, &f.a, P); /* den^-1 */
        ed_to_weierstrass_finish(&R, &Re, &t);
        fp_mul(&t, &inv, &den, P); /* f.a^-1 */
        fp_mul(&w, &f.b, &t, P);
        MCX_CT_PUBLIC(&R, sizeof R); /* R is sent in the clear */
        fp_from_mont(&w, &w, P);
        fp_to_bytes(wb, &w);
        h2ir_mask(mask, ssv_len, wb, sizeof wb); /* H = SSV xor HashToIntegerRange(g^r, 2^n) */
        ec_encode(sed, &R);
        for (size_t i = 0; i < ssv_len; i++)
            sed[MCX_SAKKE_POINT_BYTES + i] = ssv[i] ^ mask[i];
        *sed_len = MCX_SAKKE_SED_BYTES(ssv_len);
    }
    mcx_memzero(&r, sizeof r);
    mcx_memzero(&w, sizeof w);
    mcx_memzero(&f, sizeof f);
    mcx_memzero(&den, sizeof den);
    mcx_memzero(&inv, sizeof inv);
    mcx_memzero(&t, sizeof t);
    mcx_memzero(&Re, sizeof Re);
    mcx_memzero(wb, sizeof wb);
    mcx_memzero(mask, sizeof mask);
    return st;
}

/* ---- receiver -------------------------------------------------------------------------------- */

struct mcx_sakke_receiver {
    kms_ctx *kms;
    sakke_lines *lines;
    uint8_t id[FP_BYTES];
    size_t id_len;
    fp b;
};

void mcx_sakke_receiver_free(mcx_sakke_receiver *r)
{
    if (r == NULL)
        return;
    kms_release(r->kms);
    sakke_lines_free(r->lines);
    mcx_memzero(r, sizeof *r);
    free(r);
}

mcx_status mcx_sakke_receiver_new(mcx_sakke_receiver **out, const uint8_t Z[MCX_SAKKE_POINT_BYTES],
                                  const uint8_t *id, size_t id_len,
                                  const uint8_t rsk[MCX_SAKKE_POINT_BYTES])
{
    if (out == NULL || Z == NULL || id == NULL || rsk == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    sakke_params_init();
    mcx_sakke_receiver *r = calloc(1, sizeof *r);
    if (r == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory");
    ec_affine K, T;
    fp w;
    int in_subgroup = 0;
    mcx_status st = id_to_scalar(&r->b, id, id_len);
    if (st == MCX_OK)
        st = kms_acquire(&r->kms, Z, MCX_SAKKE_POINT_BYTES);
    if (st == MCX_OK)
        st = ec_decode(&K, rsk, MCX_SAKKE_POINT_BYTES, "RSK");
    if (st == MCX_OK)
        st = sakke_lines_new(&r->lines, &K, &in_subgroup);
    if (st == MCX_OK && !in_subgroup)
        st = MCX_FAIL(MCX_E_WRONG_ORDER, "SAKKE: RSK is not in the order-q subgroup");
    /* RFC 6508 §6.1.2: <[b]P + Z, RSK> == g */
    if (st == MCX_OK)
        st = bPZ(&T, r->kms, &r->b);
    if (st == MCX_OK) {
        /* b/a = g as b = g a with a != 0: the projection needs no inversion here */
        fp2 f;
        sakke_pairing_lines_fp2(&f, r->lines, &T);
        fp_mul(&w, &sakke_g, &f.a, P);
        uint64_t ok = fp_eq(&w, &f.b) & ~fp_is_zero(&f.a);
        mcx_memzero(&f, sizeof f);
        MCX_CT_PUBLIC(&ok, sizeof ok); /* validation verdict */
        if (!ok)
            st = MCX_FAIL(MCX_E_KEY_INVALID,
                          "SAKKE: RSK fails validation: <[b]P + Z, RSK> != g (RFC 6508 6.1.2)");
    }
    mcx_memzero(&K, sizeof K);
    mcx_memzero(&w, sizeof w);
    if (st != MCX_OK) {
        mcx_sakke_receiver_free(r);
        return st;
    }
    memcpy(r->id, id, id_len);
    r->id_len = id_len;
    *out = r;
    return MCX_OK;
}

mcx_status mcx_sakke_validate_rsk(const uint8_t Z[MCX_SAKKE_POINT_BYTES], const uint8_t *id,
                                  size_t id_len, const uint8_t rsk[MCX_SAKKE_POINT_BYTES])
{
    mcx_sakke_receiver *r = NULL;
    MCX_GUARD(mcx_sakke_receiver_new(&r, Z, id, id_len, rsk));
    mcx_sakke_receiver_free(r);
    return MCX_OK;
}

mcx_status mcx_sakke_decap(const mcx_sakke_receiver *rc, const uint8_t *sed, size_t sed_len,
                           uint8_t *ssv, size_t ssv_cap, size_t *ssv_len)
{
    if (rc == NULL || sed == NULL || ssv == NULL || ssv_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "SAKKE: NULL argument");
    if (sed_len != MCX_SAKKE_SED_BYTES(16) && sed_len != MCX_SAKKE_SED_BYTES(32))
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: SED is %zu octets, expected %d or %d", sed_len,
                        MCX_SAKKE_SED_BYTES(16), MCX_SAKKE_SED_BYTES(32));
    size_t n = sed_len - MCX_SAKKE_POINT_BYTES;
    if (ssv_cap < n)
        return MCX_FAIL(MCX_E_LENGTH, "SAKKE: SSV buffer holds %zu octets, need %zu", ssv_cap, n);
    ec_affine R;
    MCX_GUARD(ec_decode(&R, sed, MCX_SAKKE_POINT_BYTES, "R in the SED"));
    fp w, r;
    ed_point Rc;
    uint8_t wb[FP_BYTES], mask[MCX_SAKKE_SSV_MAX_BYTES], out[MCX_SAKKE_SSV_MAX_BYTES];
    /* RFC 6508 §6.2.2 */
    mcx_status st = sakke_pairing_lines(&w, rc->lines, &R); /* 1. w = <R, RSK> */
    if (st == MCX_OK) {
        fp_from_mont(&w, &w, P);
        fp_to_bytes(wb, &w);
        h2ir_mask(mask, n, wb, sizeof wb); /* 2. SSV = H xor HashToIntegerRange(w, 2^n) */
        for (size_t i = 0; i < n; i++)
            out[i] = sed[MCX_SAKKE_POINT_BYTES + i] ^ mask[i];
        h2ir_q(&r, out, n, rc->id, rc->id_len);     /* 3. r = HashToIntegerRange(SSV || b, q) */
        st = r_times_bPZ(&Rc, rc->kms, &r, &rc->b); /* 4. [r]([b]P + Z) == R ? */
    }
    if (st == MCX_OK) {
        uint64_t ok = ed_eq_weierstrass(&Rc, &R);
        MCX_CT_PUBLIC(&ok, sizeof ok); /* the verdict is public */
        if (ok) {
            memcpy(ssv, out, n);
            *ssv_len = n;
        } else {
            st = MCX_FAIL(MCX_E_SED_INVALID,
                          "SAKKE: SED check failed: R != [r]([b]P + Z) (altered, or not for "
                          "this identity)");
        }
    }
    mcx_memzero(&w, sizeof w);
    mcx_memzero(&r, sizeof r);
    mcx_memzero(&Rc, sizeof Rc);
    mcx_memzero(wb, sizeof wb);
    mcx_memzero(mask, sizeof mask);
    mcx_memzero(out, sizeof out);
    return st;
}
