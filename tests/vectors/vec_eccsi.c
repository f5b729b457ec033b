/* Vector family "eccsi": RFC 6507 Appendix A (rfc6507_eccsi.txt, one unnamed section) through the
 * public ECCSI API. Every entry of the file is checked:
 *   p, B, q, G  the P-256 parameters: G = [1]G satisfies y^2 = x^3 - 3x + B mod p, q is the first
 *               KSAK refused and [q-1]G = -G, a coordinate equal to p is refused;
 *   KSAK, KPAK  KPAK = [KSAK]G;
 *   ID, v, PVT, SSK   issue_with_v;           HS   validate;
 *   M, j, J, r  J = [j]G, r = Jx;            HE   SHA-256(HS || r || M);
 *   s, SIG      sign_with_j, and SIG verifies (one-shot and through a verifier).
 * An entry the handler does not know fails the family, so nothing added to the file is skipped. */
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/sha.h>

#include "mcxsec/eccsi.h"
#include "runner.h"

typedef struct eccsi_case {
    uint8_t p[32], b[32], q[32], g[65];
    uint8_t ksak[32], kpak[65], id[256], v[32], pvt[65], hs[32], ssk[32];
    uint8_t m[256], j[32], jpt[65], r[32], he[32], s[32], sig[129];
    size_t id_len, m_len;
} eccsi_case;

static void load_case(const vec_section *sec, eccsi_case *c)
{
    CHECK(vec_hex(sec, "p", c->p, sizeof c->p) == 32);
    CHECK(vec_hex(sec, "B", c->b, sizeof c->b) == 32);
    CHECK(vec_hex(sec, "q", c->q, sizeof c->q) == 32);
    CHECK(vec_hex(sec, "G", c->g, sizeof c->g) == 65);
    CHECK(vec_hex(sec, "KSAK", c->ksak, sizeof c->ksak) == 32);
    CHECK(vec_hex(sec, "KPAK", c->kpak, sizeof c->kpak) == 65);
    c->id_len = vec_hex(sec, "ID", c->id, sizeof c->id);
    CHECK(vec_hex(sec, "v", c->v, sizeof c->v) == 32);
    CHECK(vec_hex(sec, "PVT", c->pvt, sizeof c->pvt) == 65);
    CHECK(vec_hex(sec, "HS", c->hs, sizeof c->hs) == 32);
    CHECK(vec_hex(sec, "SSK", c->ssk, sizeof c->ssk) == 32);
    c->m_len = vec_hex(sec, "M", c->m, sizeof c->m);
    CHECK(vec_hex(sec, "j", c->j, sizeof c->j) == 32);
    CHECK(vec_hex(sec, "J", c->jpt, sizeof c->jpt) == 65);
    CHECK(vec_hex(sec, "r", c->r, sizeof c->r) == 32);
    CHECK(vec_hex(sec, "HE", c->he, sizeof c->he) == 32);
    CHECK(vec_hex(sec, "s", c->s, sizeof c->s) == 32);
    CHECK(vec_hex(sec, "SIG", c->sig, sizeof c->sig) == 129);
}

static int known_entry(const char *name)
{
    static const char *const names[] = {"p",  "B",   "q", "G", "KSAK", "KPAK", "ID", "v", "PVT",
                                        "HS", "SSK", "M", "j", "J",    "r",    "HE", "s", "SIG"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* y^2 == x^3 - 3x + B (mod p) for the point G of the file */
static int on_curve(const eccsi_case *c)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p = BN_bin2bn(c->p, 32, NULL), *b = BN_bin2bn(c->b, 32, NULL);
    BIGNUM *x = BN_bin2bn(c->g + 1, 32, NULL), *y = BN_bin2bn(c->g + 33, 32, NULL);
    BIGNUM *lhs = BN_new(), *rhs = BN_new(), *t = BN_new();
    int ok = ctx && p && b && x && y && lhs && rhs && t && BN_mod_sqr(lhs, y, p, ctx) &&
             BN_mod_sqr(t, x, p, ctx) && BN_mod_mul(rhs, t, x, p, ctx) && BN_mul_word(x, 3) &&
             BN_mod_sub(rhs, rhs, x, p, ctx) && BN_mod_add(rhs, rhs, b, p, ctx) &&
             BN_cmp(lhs, rhs) == 0;
    BN_free(p);
    BN_free(b);
    BN_free(x);
    BN_free(y);
    BN_free(lhs);
    BN_free(rhs);
    BN_free(t);
    BN_CTX_free(ctx);
    return ok;
}

static void check_parameters(const eccsi_case *c)
{
    uint8_t one[32] = {0}, qm1[32], pt[65], sig[129];
    one[31] = 1;
    CHECK_OK(mcx_eccsi_kpak_from_ksak(one, pt));
    CHECK_MEM(pt, c->g, 65);
    CHECK(on_curve(c));
    CHECK_ST(mcx_eccsi_kpak_from_ksak(c->q, pt), MCX_E_RANGE);
    memcpy(qm1, c->q, 32);
    qm1[31]--; /* q ends in 0x51: no borrow */
    CHECK_OK(mcx_eccsi_kpak_from_ksak(qm1, pt));
    CHECK_MEM(pt + 1, c->g + 1, 32);            /* -G has the x of G */
    CHECK(memcmp(pt + 33, c->g + 33, 32) != 0); /* and the other y */
    memcpy(sig, c->sig, 129);
    memcpy(sig + 65, c->p, 32); /* PVT with x = p */
    CHECK_ST(mcx_eccsi_verify(c->kpak, c->id, c->id_len, c->m, c->m_len, sig, 129), MCX_E_ENCODING);
}

static void check_keys(const eccsi_case *c)
{
    uint8_t kpak[65], ssk[32], pvt[65], hs[32];
    CHECK_OK(mcx_eccsi_kpak_from_ksak(c->ksak, kpak));
    CHECK_MEM(kpak, c->kpak, 65);
    CHECK_OK(mcx_eccsi_issue_with_v(c->ksak, c->kpak, c->id, c->id_len, c->v, ssk, pvt));
    CHECK_MEM(pvt, c->pvt, 65);
    CHECK_MEM(ssk, c->ssk, 32);
    CHECK_OK(mcx_eccsi_validate(c->kpak, c->id, c->id_len, c->ssk, c->pvt, hs));
    CHECK_MEM(hs, c->hs, 32);
}

static void check_signature(const eccsi_case *c)
{
    uint8_t jpt[65], he[32], sig[129];
    /* J = [j]G (computed as a "KPAK" for KSAK = j), r = Jx */
    CHECK_OK(mcx_eccsi_kpak_from_ksak(c->j, jpt));
    CHECK_MEM(jpt, c->jpt, 65);
    CHECK_MEM(c->r, c->jpt + 1, 32);
    /* HE = hash(HS || r || M) */
    uint8_t buf[32 + 32 + 256];
    memcpy(buf, c->hs, 32);
    memcpy(buf + 32, c->r, 32);
    memcpy(buf + 64, c->m, c->m_len);
    SHA256(buf, 64 + c->m_len, he);
    CHECK_MEM(he, c->he, 32);

    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_signer_init(&signer, c->kpak, c->id, c->id_len, c->ssk, c->pvt));
    CHECK_OK(mcx_eccsi_sign_with_j(&signer, c->m, c->m_len, c->j, sig));
    mcx_eccsi_signer_wipe(&signer);
    CHECK_MEM(sig, c->sig, 129);
    CHECK_MEM(sig, c->r, 32);
    CHECK_MEM(sig + 32, c->s, 32);
    CHECK_MEM(sig + 64, c->pvt, 65);

    CHECK_OK(mcx_eccsi_verify(c->kpak, c->id, c->id_len, c->m, c->m_len, c->sig, 129));
    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, c->kpak, 0));
    CHECK_OK(mcx_eccsi_verifier_verify(v, c->id, c->id_len, c->m, c->m_len, c->sig, 129));
    CHECK_OK(mcx_eccsi_verifier_verify(v, c->id, c->id_len, c->m, c->m_len, c->sig, 129));
    mcx_eccsi_verifier_free(v);
}

static void eccsi_vectors(const vec_file *f)
{
    const vec_section *sec = vec_section_named(f, "");
    CHECK(sec != NULL && f->n_sections == 1);
    if (sec == NULL)
        return;
    for (size_t i = 0; i < sec->n_entries; i++) {
        if (!known_entry(sec->entries[i].name)) {
            fprintf(stderr, "eccsi: no check for entry '%s'\n", sec->entries[i].name);
            CHECK(known_entry(sec->entries[i].name));
        }
    }
    static eccsi_case c;
    load_case(sec, &c);
    check_parameters(&c);
    check_keys(&c);
    check_signature(&c);
}

VEC_FAMILY(eccsi, "rfc6507_eccsi.txt", eccsi_vectors)
