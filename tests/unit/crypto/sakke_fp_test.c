/* The Montgomery kernels behind fp_mul and fp_sqr (crypto/sakke_fp_mont_internal.h): the
 * MULX/ADCX/ADOX multiplication and squaring against the portable C, and both against OpenSSL
 * BIGNUM (a*b*2^-1024 mod m computed as BN_mod_mul(BN_mod_mul(a, b), 2^-1024)), for the SAKKE
 * prime p and the group order q (and two moduli just below 2^1024 for the carry paths that p and q
 * never reach): random pairs (20,000 per SAKKE modulus, 2,000 under valgrind), every pair of edge
 * values, aliasing of r with a and b, the run-time kernel choice, and under valgrind a
 * constant-time check of every kernel with its inputs marked undefined. */
#include "test.h"

#include <openssl/bn.h>
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include "crypto/sakke_ec_internal.h"
#include "crypto/sakke_fp_mont_internal.h"

#define L FP_LIMBS

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static int less_than(const uint64_t x[L], const uint64_t m[L])
{
    for (int i = L - 1; i >= 0; i--)
        if (x[i] != m[i])
            return x[i] < m[i];
    return 0;
}

/* A value below m; a third of the limbs are 0 or all-ones some of the time, to exercise long
 * carry chains. */
static void random_below(uint64_t x[L], const fp_mod *md)
{
    uint64_t top_mask = md->m[L - 1];
    for (int s = 1; s < 64; s <<= 1)
        top_mask |= top_mask >> s;
    int style = (int)(rng() % 4);
    do {
        for (int i = 0; i < L; i++) {
            uint64_t w = rng();
            if (style == 1 && rng() % 3 == 0)
                w = (rng() & 1) ? ~(uint64_t)0 : 0;
            if (style == 2 && i < L - 1)
                w |= 0xFFFFFFFF00000000u;
            x[i] = w;
        }
        x[L - 1] &= top_mask;
    } while (!less_than(x, md->m));
}

/* --- reference: OpenSSL BIGNUM --- */

typedef struct ref_ctx {
    BN_CTX *ctx;
    BIGNUM *m, *rinv, *x, *y, *z;
} ref_ctx;

static BIGNUM *limbs_to_bn(BIGNUM *bn, const uint64_t v[L])
{
    uint8_t be[FP_BYTES];
    fp t;
    memcpy(t.v, v, sizeof t.v);
    fp_to_bytes(be, &t);
    return BN_bin2bn(be, FP_BYTES, bn);
}

static void bn_to_limbs(uint64_t v[L], const BIGNUM *bn)
{
    uint8_t be[FP_BYTES];
    if (BN_bn2binpad(bn, be, FP_BYTES) != FP_BYTES)
        abort();
    for (int i = 0; i < L; i++) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++)
            w = (w << 8) | be[FP_BYTES - 8 * (i + 1) + k];
        v[i] = w;
    }
}

static void ref_init(ref_ctx *rc, const fp_mod *md)
{
    rc->ctx = BN_CTX_new();
    rc->m = limbs_to_bn(NULL, md->m);
    rc->rinv = BN_new();
    rc->x = BN_new();
    rc->y = BN_new();
    rc->z = BN_new();
    if (!rc->ctx || !rc->m || !rc->rinv || !rc->x || !rc->y || !rc->z)
        abort();
    /* 2^-1024 mod m */
    BIGNUM *r = BN_new();
    if (!r || !BN_set_bit(r, 64 * L) || !BN_mod_inverse(rc->rinv, r, rc->m, rc->ctx))
        abort();
    BN_free(r);
}

static void ref_free(ref_ctx *rc)
{
    BN_free(rc->m);
    BN_free(rc->rinv);
    BN_free(rc->x);
    BN_free(rc->y);
    BN_free(rc->z);
    BN_CTX_free(rc->ctx);
}

/* want = a*b*2^-1024 mod m */
static void ref_mont(ref_ctx *rc, uint64_t want[L], const uint64_t a[L], const uint64_t b[L])
{
    if (!limbs_to_bn(rc->x, a) || !limbs_to_bn(rc->y, b) ||
        !BN_mod_mul(rc->z, rc->x, rc->y, rc->m, rc->ctx) ||
        !BN_mod_mul(rc->z, rc->z, rc->rinv, rc->m, rc->ctx))
        abort();
    bn_to_limbs(want, rc->z);
}

/* --- the kernels under test --- */

static int use_adx(void)
{
#if MCX_FP_HAVE_ADX
    /* valgrind hides ADX in its CPUID but runs the instructions */
    return fp_mont_cpu_has_adx() || RUNNING_ON_VALGRIND;
#else
    return 0;
#endif
}

static int iterations(void)
{
    return RUNNING_ON_VALGRIND ? 2000 : 20000;
}

/* Every kernel on (a, b), against want; sqr kernels too when a == b. Returns 1 if all agree. */
static int check_pair(const fp_mod *md, const uint64_t a[L], const uint64_t b[L],
                      const uint64_t want[L])
{
    int ok = 1;
    uint64_t r[L];
    fp_mont_mul_portable(r, a, b, md);
    ok &= memcmp(r, want, sizeof r) == 0;
    fp x, y, z;
    memcpy(x.v, a, sizeof x.v);
    memcpy(y.v, b, sizeof y.v);
    fp_mul(&z, &x, &y, md);
    ok &= memcmp(z.v, want, sizeof r) == 0;
    int same = memcmp(a, b, sizeof r) == 0;
    if (same) {
        fp_sqr(&z, &x, md);
        ok &= memcmp(z.v, want, sizeof r) == 0;
    }
    /* the two halves (lazy reduction) */
    fp_wide w;
    fp_mul_wide(&w, &x, &y);
    fp_redc(&z, &w, md);
    ok &= memcmp(z.v, want, sizeof r) == 0;
    fp_mont_prod_portable(w.v, a, b);
    fp_mont_redc_portable(r, w.v, md);
    ok &= memcmp(r, want, sizeof r) == 0;
#if MCX_FP_HAVE_ADX
    if (use_adx()) {
        fp_mont_prod_adx(w.v, a, b);
        fp_mont_redc_adx(r, w.v, md);
        ok &= memcmp(r, want, sizeof r) == 0;
        fp_mont_mul_adx(r, a, b, md);
        ok &= memcmp(r, want, sizeof r) == 0;
        if (same) {
            fp_mont_sqr_adx(r, a, md);
            ok &= memcmp(r, want, sizeof r) == 0;
        }
    }
#endif
#if MCX_FP_HAVE_IFMA
    if (fp_mont_cpu_has_ifma()) {
        fp_mont_mul_ifma(r, a, b, md);
        ok &= memcmp(r, want, sizeof r) == 0;
        if (same) {
            fp_mont_sqr_ifma(r, a, md);
            ok &= memcmp(r, want, sizeof r) == 0;
        }
    }
#endif
    return ok;
}

static void random_pairs(const fp_mod *md, int n)
{
    ref_ctx rc;
    ref_init(&rc, md);
    int bad = 0;
    for (int it = 0; it < n && bad < 5; it++) {
        uint64_t a[L], b[L], want[L];
        random_below(a, md);
        if (it % 4 == 3)
            memcpy(b, a, sizeof b); /* also exercises the squaring kernels */
        else
            random_below(b, md);
        ref_mont(&rc, want, a, b);
        if (!check_pair(md, a, b, want)) {
            fprintf(stderr, "mismatch at iteration %d\n", it);
            test_hexdump("  a", (const unsigned char *)a, sizeof a);
            test_hexdump("  b", (const unsigned char *)b, sizeof b);
            bad++;
        }
    }
    CHECK(bad == 0);
    ref_free(&rc);
}

static void random_p(void)
{
    sakke_params_init();
    random_pairs(&sakke_p, iterations());
}

static void random_q(void)
{
    sakke_params_init();
    random_pairs(&sakke_q, iterations());
}

/* The SAKKE moduli keep every intermediate below 2^1024 (p < 0.6 * 2^1024, so even 2p^2/2^1024 + p
 * is), which leaves the kernels' top-carry paths idle. Two odd moduli just below 2^1024 exercise
 * them: 2^1024 - 105 and a random one with all-ones top limbs. */
static fp_mod big_mod[2];

static void big_moduli_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    uint8_t be[FP_BYTES];
    memset(be, 0xFF, sizeof be);
    be[FP_BYTES - 1] = 0x97; /* 2^1024 - 105 */
    fp_mod_init(&big_mod[0], be);
    for (int i = 2; i < FP_BYTES; i++)
        be[i] = (uint8_t)rng();
    be[FP_BYTES - 1] |= 1;
    fp_mod_init(&big_mod[1], be);
}

static void random_big(void)
{
    big_moduli_init();
    random_pairs(&big_mod[0], iterations() / 4);
    random_pairs(&big_mod[1], iterations() / 4);
}

/* x = y - k (y >= k); x may alias y */
static void sub_small(uint64_t x[L], const uint64_t y[L], uint64_t k)
{
    uint64_t borrow = k;
    for (int i = 0; i < L; i++) {
        uint64_t yi = y[i];
        x[i] = yi - borrow;
        borrow = yi < borrow;
    }
}

/* x = x - m while x >= m (variable time: test values only) */
static void reduce_slow(uint64_t x[L], const fp_mod *md)
{
    while (!less_than(x, md->m)) {
        uint64_t borrow = 0;
        for (int i = 0; i < L; i++) {
            uint64_t d = x[i] - md->m[i] - borrow;
            borrow = (x[i] < md->m[i]) | ((x[i] == md->m[i]) & borrow);
            x[i] = d;
        }
    }
}

#define MAX_EDGES 24

static int edge_values(uint64_t e[MAX_EDGES][L], const fp_mod *md)
{
    int n = 0;
    memset(e, 0, sizeof(uint64_t) * MAX_EDGES * L);
    n++;           /* 0 */
    e[n++][0] = 1; /* 1 */
    e[n++][0] = 2;
    sub_small(e[n++], md->m, 1); /* m - 1 */
    sub_small(e[n++], md->m, 2);
    /* 2^1024 - m (reduced) and its neighbours */
    for (int k = 0; k < 3; k++) {
        uint64_t carry = 1;
        for (int i = 0; i < L; i++) { /* ~m + 1 = 2^1024 - m */
            e[n][i] = ~md->m[i] + carry;
            carry = carry && e[n][i] == 0;
        }
        reduce_slow(e[n], md);
        if (k == 1)
            sub_small(e[n], e[n], 1);
        if (k == 2)
            e[n][0] ^= 1;
        n++;
    }
    memcpy(e[n++], md->one.v, sizeof e[0]); /* 2^1024 mod m, "1" in Montgomery form */
    memcpy(e[n++], md->r2.v, sizeof e[0]);
    /* all-ones limbs below m: m[15] - 1 on top, then ~0 */
    for (int i = 0; i < L - 1; i++)
        e[n][i] = ~(uint64_t)0;
    e[n++][L - 1] = md->m[L - 1] - 1;
    /* m - 2^64, m - 2^512, m with its low half cleared */
    sub_small(e[n], md->m, 0);
    e[n++][1] -= 1;
    sub_small(e[n], md->m, 0);
    e[n++][8] -= 1;
    sub_small(e[n], md->m, 0);
    memset(e[n++], 0, 8 * sizeof(uint64_t));
    /* alternating all-ones and zero limbs, single limbs */
    for (int i = 0; i < L - 1; i += 2)
        e[n][i] = ~(uint64_t)0;
    n++;
    e[n++][L - 1] = md->m[L - 1] >> 1;
    e[n++][L - 2] = ~(uint64_t)0;
    e[n++][7] = ~(uint64_t)0;
    e[n][0] = ~(uint64_t)0;
    e[n++][L - 1] = md->m[L - 1] - 1;
    /* (m - 1) / 2 */
    sub_small(e[n], md->m, 1);
    for (int i = 0; i < L; i++)
        e[n][i] = (e[n][i] >> 1) | (i + 1 < L ? e[n][i + 1] << 63 : 0);
    n++;
    for (int i = 0; i < n; i++) /* every edge value must be a valid input */
        reduce_slow(e[i], md);
    return n;
}

static void edges(const fp_mod *md)
{
    ref_ctx rc;
    ref_init(&rc, md);
    uint64_t e[MAX_EDGES][L];
    int n = edge_values(e, md), bad = 0;
    for (int i = 0; i < n; i++)
        CHECK(less_than(e[i], md->m));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint64_t want[L];
            ref_mont(&rc, want, e[i], e[j]);
            if (!check_pair(md, e[i], e[j], want)) {
                fprintf(stderr, "edge pair (%d, %d) mismatch\n", i, j);
                bad++;
            }
        }
    CHECK(bad == 0);
    ref_free(&rc);
}

static void edges_p(void)
{
    sakke_params_init();
    edges(&sakke_p);
}

static void edges_q(void)
{
    sakke_params_init();
    edges(&sakke_q);
}

static void edges_big(void)
{
    big_moduli_init();
    edges(&big_mod[0]);
    edges(&big_mod[1]);
}

/* r aliasing a, b or both, through fp_mul/fp_sqr and the kernels directly */
static void aliasing(void)
{
    sakke_params_init();
    big_moduli_init();
    const fp_mod *mods[4] = {&sakke_p, &sakke_q, &big_mod[0], &big_mod[1]};
    for (int k = 0; k < 4; k++) {
        const fp_mod *md = mods[k];
        for (int it = 0; it < 50; it++) {
            fp a = {{0}}, b = {{0}}, ab, aa, t;
            random_below(a.v, md);
            random_below(b.v, md);
            fp_mont_mul_portable(ab.v, a.v, b.v, md);
            fp_mont_mul_portable(aa.v, a.v, a.v, md);

            t = a;
            fp_mul(&t, &t, &b, md); /* r == a */
            CHECK(fp_eq(&t, &ab));
            t = b;
            fp_mul(&t, &a, &t, md); /* r == b */
            CHECK(fp_eq(&t, &ab));
            t = a;
            fp_mul(&t, &t, &t, md); /* r == a == b */
            CHECK(fp_eq(&t, &aa));
            t = a;
            fp_sqr(&t, &t, md);
            CHECK(fp_eq(&t, &aa));
            fp_mul(&t, &a, &a, md); /* a == b */
            CHECK(fp_eq(&t, &aa));
#if MCX_FP_HAVE_ADX
            if (use_adx()) {
                t = a;
                fp_mont_mul_adx(t.v, t.v, b.v, md);
                CHECK(fp_eq(&t, &ab));
                t = b;
                fp_mont_mul_adx(t.v, a.v, t.v, md);
                CHECK(fp_eq(&t, &ab));
                t = a;
                fp_mont_mul_adx(t.v, t.v, t.v, md);
                CHECK(fp_eq(&t, &aa));
                t = a;
                fp_mont_sqr_adx(t.v, t.v, md);
                CHECK(fp_eq(&t, &aa));
            }
#endif
        }
    }
}

/* The kernel choice follows the CPU and MCX_FP_PORTABLE, and is stable. */
static void dispatch(void)
{
    const char *force = getenv("MCX_FP_PORTABLE");
    int forced = force != NULL && force[0] != '\0' && strcmp(force, "0") != 0;
    fp_mont_impl want =
        !forced && MCX_FP_HAVE_ADX && fp_mont_cpu_has_adx() ? FP_MONT_ADX : FP_MONT_PORTABLE;
    CHECK(fp_mont_active() == want);
    CHECK(fp_mont_active() == want);
    printf("     fp_mul/fp_sqr kernel: %s (CPU has BMI2+ADX: %s%s)\n",
           fp_mont_active() == FP_MONT_ADX ? "MULX/ADCX/ADOX" : "portable C",
           fp_mont_cpu_has_adx() ? "yes" : "no", forced ? "; MCX_FP_PORTABLE set" : "");
    if (use_adx() && fp_mont_active() != FP_MONT_ADX)
        printf("     the ADX kernels are still compared directly\n");
    /* IFMA for fp_mul/fp_sqr on top of the ADX kernels, unless MCX_FP_NO_IFMA */
    const char *no = getenv("MCX_FP_NO_IFMA");
    int no_ifma = no != NULL && no[0] != '\0' && strcmp(no, "0") != 0;
    CHECK(fp_mont_ifma_active() ==
          (!no_ifma && fp_mont_active() == FP_MONT_ADX && fp_mont_cpu_has_ifma()));
    CHECK(!RUNNING_ON_VALGRIND || !fp_mont_cpu_has_ifma()); /* valgrind hides AVX-512 */
    printf("     AVX-512 IFMA kernel: CPU %s, %s for fp_mul/fp_sqr\n",
           fp_mont_cpu_has_ifma() ? "has it" : "lacks it (or valgrind)",
           fp_mont_ifma_active() ? "used" : "not used");
}

/* Under valgrind: with a and b undefined, memcheck reports any branch or address that depends on
 * them (the output is declassified only after the kernel returns). */
static void constant_time(void)
{
    if (!RUNNING_ON_VALGRIND) {
        printf("     (constant-time check runs under valgrind only)\n");
        return;
    }
    sakke_params_init();
    big_moduli_init();
    const fp_mod *mods[4] = {&sakke_p, &sakke_q, &big_mod[0], &big_mod[1]};
    for (int k = 0; k < 4; k++) {
        const fp_mod *md = mods[k];
        for (int it = 0; it < 8; it++) {
            uint64_t a[L], b[L], want[L], r[L];
            random_below(a, md);
            random_below(b, md);
            fp_mont_mul_portable(want, a, b, md);
            VALGRIND_MAKE_MEM_UNDEFINED(a, sizeof a);
            VALGRIND_MAKE_MEM_UNDEFINED(b, sizeof b);
            fp_mont_mul_portable(r, a, b, md);
            VALGRIND_MAKE_MEM_DEFINED(r, sizeof r);
            CHECK(memcmp(r, want, sizeof r) == 0);
#if MCX_FP_HAVE_ADX
            fp_mont_mul_adx(r, a, b, md);
            VALGRIND_MAKE_MEM_DEFINED(r, sizeof r);
            CHECK(memcmp(r, want, sizeof r) == 0);
            fp_mont_sqr_adx(r, a, md);
            VALGRIND_MAKE_MEM_DEFINED(r, sizeof r);
            VALGRIND_MAKE_MEM_DEFINED(a, sizeof a);
            fp_mont_mul_portable(want, a, a, md);
            CHECK(memcmp(r, want, sizeof r) == 0);
#endif
        }
    }
}

/* Sums and differences of double-width products, reduced once, against the same computed with
 * reduced products: random values and the largest ones (m - 1), on every modulus. */
static void wide_sums_on(const fp_mod *md, int n)
{
    int bad = 0;
    for (int it = 0; it < n; it++) {
        fp v[4];
        for (int k = 0; k < 4; k++) {
            random_below(v[k].v, md);
            if ((it >> k) % 5 == 1) { /* m - 1 */
                memcpy(v[k].v, md->m, sizeof v[k].v);
                v[k].v[0] -= 1;
            } else if ((it >> k) % 5 == 2) {
                memset(v[k].v, 0, sizeof v[k].v);
            }
        }
        fp p1, p2, want, got;
        fp_wide w1, w2, w3;
        fp_mul(&p1, &v[0], &v[1], md);
        fp_mul(&p2, &v[2], &v[3], md);
        fp_mul_wide(&w1, &v[0], &v[1]);
        fp_mul_wide(&w2, &v[2], &v[3]);
        fp_wide_sub(&w3, &w1, &w2, md);
        fp_redc(&got, &w3, md);
        fp_sub(&want, &p1, &p2, md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        fp_wide_add(&w3, &w1, &w2, md);
        fp_redc(&got, &w3, md);
        fp_add(&want, &p1, &p2, md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        fp_wide_sub(&w1, &w1, &w2, md); /* aliasing, then a second difference */
        fp_wide_sub(&w1, &w1, &w2, md);
        fp_redc(&got, &w1, md);
        fp_sub(&want, &p1, &p2, md); /* p1 - p2 - p2 */
        fp_sub(&want, &want, &p2, md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        /* fp_mul_add2 / fp_mul_sub2 (lazy or fused, whichever the kernels favour), also with
         * the output aliasing an input */
        fp_sub(&want, &p1, &p2, md);
        fp_mul_sub2(&got, &v[0], &v[1], &v[2], &v[3], md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        got = v[3];
        fp_mul_sub2(&got, &v[0], &v[1], &v[2], &got, md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        fp_add(&want, &p1, &p2, md);
        fp_mul_add2(&got, &v[0], &v[1], &v[2], &v[3], md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
        got = v[0];
        fp_mul_add2(&got, &got, &v[1], &v[2], &v[3], md);
        bad += memcmp(got.v, want.v, sizeof got.v) != 0;
    }
    CHECK(bad == 0);
}

static void wide_sums(void)
{
    sakke_params_init();
    big_moduli_init();
    wide_sums_on(&sakke_p, iterations() / 4);
    wide_sums_on(&sakke_q, iterations() / 4);
    wide_sums_on(&big_mod[0], iterations() / 4);
    wide_sums_on(&big_mod[1], iterations() / 4);
}

int main(void)
{
    RUN(dispatch);
    RUN(random_p);
    RUN(random_q);
    RUN(edges_p);
    RUN(edges_q);
    RUN(random_big);
    RUN(edges_big);
    RUN(aliasing);
    RUN(wide_sums);
    RUN(constant_time);
    return test_summary();
}
