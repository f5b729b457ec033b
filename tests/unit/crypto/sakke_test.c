/* SAKKE (RFC 6508, parameter set 1): field and pairing internals, the RFC Appendix A vector
 * through the public API, round trips, and every rejection with its own status. */
#include "test.h"

#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"

#define PT MCX_SAKKE_POINT_BYTES

static const char *RFC_Z_HEX =
    "045958EF1B1679BF099B3A030DF255AA6A23C1D8F143D4D23F753E69BD27A832F38CB4AD53DDEF4260B0FE8BB45C"
    "4C1FF510EFFE300367A37B61F701D914AEF09724825FA0707D61A6DFF4FBD7273566CDDE352A0B04B7C16A78309B"
    "E640697DE747613A5FC195E8B9F328852A579DB8F99B1D0034479EA9C5595F47C4B2F54FF21508D37514DCF7A8E1"
    "43A6058C09A6BF2C9858CA37C258065AE6BF7532BC8B5B63383866E0753C5AC0E72709F8445F2E6178E065857E0E"
    "DA10F68206B63505ED87E534FB2831FF957FB7DC619DAE61301EEACC2FDA3680EA4999258A833CEA8FC67C6D1948"
    "7FB449059F26CC8AAB655AB58B7CC796E24E9A394095754F5F8BAE";
static const char *RFC_z_HEX = "AFF429D35F84B110D094803B3595A6E2998BC99F";
static const char *RFC_ID_HEX = "323031312D30320074656C3A2B34343737303039303031323300";
static const char *RFC_RSK_HEX =
    "0493AF67E5007BA6E6A80DA793DA300FA4B52D0A74E25E6E7B2B3D6EE9D18A9B5C5023597BD82D8062D34019563B"
    "A1D25C0DC56B7B979D74AA50F29FBF11CC2C93F5DFCA615E609279F6175CEADB00B58C6BEE1E7A2A47C4F0C456F0"
    "5259A6FA94A634A40DAE1DF593D4FECF688D5FC678BE7EFC6DF3D6835325B83B2C6E69036B155F0A27241094B04B"
    "FB0BDFAC6C670A65C325D39A069F03659D44CA27D3BE8DF311172B554160181CBE94A2A783320CED590BC4264470"
    "2CF371271E496BF20F588B78A1BC01ECBB6559934BDD2FB65D2884318A33D1A42ADF5E33CC5800280B28356497F8"
    "7135BAB9612A17260424409AC15FEE996B744C332151235DECB0F5";
static const char *RFC_SSV_HEX = "123456789ABCDEF0123456789ABCDEF0";

static void pairing_of_P_is_g(void)
{
    sakke_params_init();
    fp w;
    CHECK_OK(sakke_pairing(&w, &sakke_P, &sakke_P));
    CHECK(fp_eq(&w, &sakke_g));
    sakke_lines *l = NULL;
    int sub = 0;
    CHECK_OK(sakke_lines_new(&l, &sakke_P, &sub));
    CHECK(sub == 1);
    CHECK_OK(sakke_pairing_lines(&w, l, &sakke_P));
    CHECK(fp_eq(&w, &sakke_g));
    sakke_lines_free(l);
}

static void rfc6508_appendix_a(void)
{
    uint8_t Z[PT], z[20], id[32], rsk[PT], ssv[16], Zc[PT], rskc[PT], sed[PT + 32], out[32];
    test_unhex(RFC_Z_HEX, Z, sizeof Z);
    size_t zl = test_unhex(RFC_z_HEX, z, sizeof z);
    size_t idl = test_unhex(RFC_ID_HEX, id, sizeof id);
    test_unhex(RFC_RSK_HEX, rsk, sizeof rsk);
    test_unhex(RFC_SSV_HEX, ssv, sizeof ssv);
    CHECK_OK(mcx_sakke_kms_pubkey(z, zl, Zc));
    CHECK_MEM(Zc, Z, PT);
    CHECK_OK(mcx_sakke_issue_rsk(z, zl, id, idl, rskc));
    CHECK_MEM(rskc, rsk, PT);
    CHECK_OK(mcx_sakke_validate_rsk(Z, id, idl, rsk));

    mcx_sakke_sender *s = NULL;
    CHECK_OK(mcx_sakke_sender_new(&s, Z));
    size_t sedl = 0;
    CHECK_OK(mcx_sakke_encap(s, id, idl, ssv, sizeof ssv, sed, sizeof sed, &sedl));
    CHECK(sedl == PT + 16);
    uint8_t want[PT + 16];
    test_unhex(
        "0444E8AD44AB8592A6A5A3DDCA5CF896C718043606A01D650DEF37A01F37C228C332FC317354E2C274D4"
        "DAF8AD001054C76CE57971C6F4486D5723043261C506EBF5BE438F53DE04F067C776E0DD3B71A629013"
        "3283725A532F21AF145126DC1D777ECC27BE50835BD28098B8A73D9F801D893793A41FF5C49B87E79F2"
        "BE4D56CE557E134AD85BB1D4B9CE4F8BE4B08A12BABF55B1D6F1D7A638019EA28E15AB1C9F76375FDD1"
        "210D4F4351B9A009486B7F3ED46C965DED2D80DADE4F38C6721D52C3AD103A10EBD2959248B4EF00683"
        "6BF097448E6107C9EDEE9FB704823DF199F832C905AE45F8A247A072D8EF729EABC5E27574B07739B34"
        "BE74A532F747B8689E0BC661AA1E91638E6ACC84E496507",
        want, sizeof want);
    CHECK_MEM(sed, want, PT + 16);
    mcx_sakke_receiver *r = NULL;
    CHECK_OK(mcx_sakke_receiver_new(&r, Z, id, idl, rsk));
    size_t outl = 0;
    CHECK_OK(mcx_sakke_decap(r, want, sizeof want, out, sizeof out, &outl));
    CHECK(outl == 16);
    CHECK_MEM(out, ssv, 16);
    mcx_sakke_receiver_free(r);
    mcx_sakke_sender_free(s);
}

/* K + (0,0): (0,0) has order 2 on y^2 = x^3 - 3x, so the sum is on E but not in the order-q
 * subgroup. Affine addition with public test data. */
static void add_two_torsion(uint8_t out[PT], const uint8_t in[PT])
{
    ec_affine K, S;
    CHECK_OK(ec_decode(&K, in, PT, "test point"));
    fp lambda, inv, t;
    fp_inv(&inv, &K.x, &sakke_p);
    fp_mul(&lambda, &K.y, &inv, &sakke_p); /* (Ky - 0) / (Kx - 0) */
    fp_sqr(&t, &lambda, &sakke_p);
    fp_sub(&S.x, &t, &K.x, &sakke_p);
    fp_sub(&t, &K.x, &S.x, &sakke_p);
    fp_mul(&t, &lambda, &t, &sakke_p);
    fp_sub(&S.y, &t, &K.y, &sakke_p);
    CHECK(ec_on_curve(&S));
    ec_encode(out, &S);
}

static void pairing_is_symmetric_and_bilinear(void)
{
    /* A = [a]P, B = [b]P: <A,B> = <B,A> (the receiver's swap) and <A,B> = g^(ab) */
    uint8_t a[128], b[128], Ab[PT], Bb[PT];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    a[127] = 7;
    b[120] = 0x35;
    b[127] = 0x11;
    CHECK_OK(mcx_sakke_kms_pubkey(a, sizeof a, Ab));
    CHECK_OK(mcx_sakke_kms_pubkey(b, sizeof b, Bb));
    ec_affine A, B;
    CHECK_OK(ec_decode(&A, Ab, PT, "A"));
    CHECK_OK(ec_decode(&B, Bb, PT, "B"));
    fp ab, ba, lab, gab;
    CHECK_OK(sakke_pairing(&ab, &A, &B));
    CHECK_OK(sakke_pairing(&ba, &B, &A));
    CHECK(fp_eq(&ab, &ba));
    sakke_lines *l = NULL;
    int sub = 0;
    CHECK_OK(sakke_lines_new(&l, &A, &sub));
    CHECK(sub == 1);
    CHECK_OK(sakke_pairing_lines(&lab, l, &B));
    CHECK(fp_eq(&lab, &ab));
    sakke_lines_free(l);
    /* g^(a b) with a b = 7 * 0x35...11 computed by the fixed-base exponentiation */
    fp e;
    /* b = 0x35 * 2^56 + 0x11 (byte 120 of the big-endian scalar is bits 56..63 of limb 0) */
    memset(&e, 0, sizeof e);
    e.v[0] = (0x35ULL << 56) + 0x11;
    fp e7;
    fp_add(&e7, &e, &e, &sakke_q);   /* 2b */
    fp_add(&e7, &e7, &e7, &sakke_q); /* 4b */
    fp_add(&e7, &e7, &e, &sakke_q);  /* 5b */
    fp_add(&e7, &e7, &e, &sakke_q);  /* 6b */
    fp_add(&e7, &e7, &e, &sakke_q);  /* 7b */
    CHECK_OK(sakke_g_pow(&gab, &e7));
    CHECK(fp_eq(&gab, &ab));
}

/* The Edwards constants, the map E <-> Edwards, its group law against E's, and fixed-base table
 * multiplications against the plain double-and-add for scalars at the edges (1, 2, even, odd,
 * q - 1, q - 2) and random ones. */
static void edwards_form(void)
{
    sakke_params_init();
    fp t, u, m3;
    /* s^2 = -3; s is a square (s^((p-1)/2) = 1); (c s)^2 = -2 s; (-3c)^2 = 9 c^2 = -18/s */
    fp_sqr(&t, &sakke_ed_s, &sakke_p);
    fp_neg(&m3, &sakke_three, &sakke_p);
    CHECK(fp_eq(&t, &m3));
    uint64_t e[FP_LIMBS];
    memcpy(e, sakke_p.m, sizeof e);
    for (int i = 0; i < FP_LIMBS; i++) /* (p - 1) / 2 */
        e[i] = (e[i] >> 1) | (i + 1 < FP_LIMBS ? e[i + 1] << 63 : 0);
    fp_pow_vartime(&t, &sakke_ed_s, e, FP_LIMBS, &sakke_p);
    CHECK(fp_eq(&t, &sakke_p.one));
    fp_sqr(&t, &sakke_ed_cs, &sakke_p);
    fp_add(&u, &sakke_ed_s, &sakke_ed_s, &sakke_p);
    fp_neg(&u, &u, &sakke_p);
    CHECK(fp_eq(&t, &u));
    fp_sqr(&t, &sakke_ed_m3c, &sakke_p); /* 9 c^2 = 9 (cs)^2 / s^2 = -3 (cs)^2 */
    fp_sqr(&u, &sakke_ed_cs, &sakke_p);
    fp_mul(&u, &u, &m3, &sakke_p);
    CHECK(fp_eq(&t, &u));

    /* round trip of P, and the group law: 2P, 3P = 2P + P, P + P through every formula */
    ed_point eP, e2, e3, ea;
    ec_affine a;
    ed_from_weierstrass(&eP, &sakke_P);
    CHECK_OK(ed_to_weierstrass(&a, &eP));
    CHECK(fp_eq(&a.x, &sakke_P.x) && fp_eq(&a.y, &sakke_P.y));
    CHECK(ed_eq_weierstrass(&eP, &sakke_P));
    ec_jac j2, j3;
    uint64_t k[1] = {2};
    ec_mul_vartime(&j2, &sakke_P, k, 1);
    k[0] = 3;
    ec_mul_vartime(&j3, &sakke_P, k, 1);
    ec_affine a2, a3;
    ec_to_affine_vartime(&a2, &j2);
    ec_to_affine_vartime(&a3, &j3);
    ed_dbl(&e2, &eP);
    CHECK(ed_eq_weierstrass(&e2, &a2));
    CHECK(!ed_eq_weierstrass(&e2, &a3));
    CHECK(!ed_eq_weierstrass(&eP, &a2));
    ed_add(&ea, &eP, &eP);
    CHECK(ed_eq_weierstrass(&ea, &a2));
    ed_add(&e3, &e2, &eP);
    CHECK(ed_eq_weierstrass(&e3, &a3));
    /* mixed additions with Niels entries, including doubling and P + (-P) = (0, 1) */
    ed_niels nP, nnP;
    fp zi, x, y;
    fp_inv(&zi, &eP.Z, &sakke_p);
    fp_mul(&x, &eP.X, &zi, &sakke_p);
    fp_mul(&y, &eP.Y, &zi, &sakke_p);
    fp_sub(&nP.ym, &y, &x, &sakke_p);
    fp_add(&nP.yp, &y, &x, &sakke_p);
    fp_mul(&nP.t2, &x, &y, &sakke_p);
    fp_add(&nP.t2, &nP.t2, &nP.t2, &sakke_p);
    ed_madd(&ea, &e2, &nP);
    CHECK(ed_eq_weierstrass(&ea, &a3));
    ed_madd(&ea, &eP, &nP);
    CHECK(ed_eq_weierstrass(&ea, &a2));
    ed_from_niels(&ea, &nP);
    CHECK(ed_eq_weierstrass(&ea, &sakke_P));
    ed_niels_cneg(&nnP, &nP, 0);
    CHECK(fp_eq(&nnP.ym, &nP.ym) && fp_eq(&nnP.yp, &nP.yp) && fp_eq(&nnP.t2, &nP.t2));
    ed_niels_cneg(&nnP, &nP, ~(uint64_t)0);
    ed_madd(&ea, &e2, &nnP); /* 2P - P */
    CHECK(ed_eq_weierstrass(&ea, &sakke_P));
    ed_madd(&ea, &eP, &nnP); /* P - P: X = 0, Y = Z */
    CHECK(fp_is_zero(&ea.X) && fp_eq(&ea.Y, &ea.Z) && !fp_is_zero(&ea.Z));
    CHECK(!ed_eq_weierstrass(&ea, &sakke_P));
    ed_madd(&ea, &ea, &nP); /* O + P */
    CHECK(ed_eq_weierstrass(&ea, &sakke_P));
    fp zero;
    memset(&zero, 0, sizeof zero);
    ed_from_niels(&ea, &nP);
    ed_madd(&ea, &ea, &nnP);
    CHECK(ed_to_weierstrass(&a, &ea) == MCX_E_RANGE); /* the neutral element has no affine image */
    mcx_clear_error();

    /* table multiplications */
    const ec_table *tp = sakke_P_table();
    CHECK(tp != NULL);
    fp sc[8];
    memset(sc, 0, sizeof sc);
    sc[0].v[0] = 1;
    sc[1].v[0] = 2;
    sc[2].v[0] = 0x1234;
    sc[3].v[0] = 0x12345;
    memcpy(sc[4].v, sakke_q.m, sizeof sc[4].v);
    sc[4].v[0] -= 1; /* q - 1 */
    memcpy(sc[5].v, sakke_q.m, sizeof sc[5].v);
    sc[5].v[0] -= 2; /* q - 2 */
    for (int i = 6; i < 8; i++) {
        uint8_t rnd[FP_BYTES];
        CHECK_OK(mcx_random(rnd, sizeof rnd));
        fp_from_bytes_reduce(&sc[i], rnd, &sakke_q);
    }
    for (int i = 0; i < 8; i++) {
        ec_affine r;
        ec_jac want;
        CHECK_OK(ec_table_mul(&r, tp, &sc[i]));
        ec_mul_vartime(&want, &sakke_P, sc[i].v, FP_LIMBS);
        CHECK(ec_jac_eq_affine(&want, &r));
        /* [k]P + [k]P through the two-table path */
        ed_point r2;
        ec_affine w2;
        ec_jac want2;
        CHECK_OK(ec_table_mul2(&r2, tp, &sc[i], tp, &sc[i]));
        ec_to_affine_vartime(&w2, &want);
        ec_from_affine(&want2, &w2);
        ec_dbl(&want2, &want2);
        ec_to_affine_vartime(&w2, &want2);
        CHECK(ed_eq_weierstrass(&r2, &w2));
    }
    ec_affine r;
    CHECK(ec_table_mul(&r, tp, &zero) == MCX_E_RANGE);
    mcx_clear_error();
}

/* The blinded inversion (binary GCD on the blinded value) against a * a^-1 = 1 and against
 * Fermat, modulo p and q, for edge values and random ones. */
static void blinded_inversion(void)
{
    sakke_params_init();
    const fp_mod *mods[2] = {&sakke_p, &sakke_q};
    for (int k = 0; k < 2; k++) {
        const fp_mod *md = mods[k];
        for (int i = 0; i < 300; i++) {
            fp a, inv, t;
            memset(&a, 0, sizeof a);
            if (i == 0) {
                a.v[0] = 1;
            } else if (i == 1) {
                memcpy(a.v, md->m, sizeof a.v);
                a.v[0] -= 1; /* m - 1 */
            } else if (i == 2) {
                a.v[0] = 2;
            } else if (i == 3) {
                a.v[FP_LIMBS - 1] = 1; /* 2^960 */
            } else {
                uint8_t rnd[FP_BYTES];
                CHECK_OK(mcx_random(rnd, sizeof rnd));
                if (i % 7 == 0) /* small values too */
                    memset(rnd, 0, FP_BYTES - 1 - i % 100);
                fp_from_bytes_reduce(&a, rnd, md);
                if (fp_is_zero(&a))
                    continue;
            }
            fp_to_mont(&a, &a, md);
            CHECK_OK(fp_inv_blinded(&inv, &a, md));
            fp_mul(&t, &inv, &a, md);
            CHECK(fp_eq(&t, &md->one));
            if (i < 8) {
                fp_inv(&t, &a, md);
                CHECK(fp_eq(&t, &inv));
            }
        }
    }
    fp zero, r;
    memset(&zero, 0, sizeof zero);
    CHECK(fp_inv_blinded(&r, &zero, &sakke_p) == MCX_E_RANGE);
    mcx_clear_error();
}

static void round_trips(void)
{
    uint8_t z[128], Z[PT], rsk[PT], id[64], ssv[32], sed[PT + 32], out[32];
    CHECK_OK(mcx_sakke_kms_keygen(z, Z));
    mcx_sakke_sender *s = NULL;
    CHECK_OK(mcx_sakke_sender_new(&s, Z));
    for (int i = 0; i < 4; i++) {
        size_t idl = (i & 1) ? 64 : 32; /* raw UID, or its hex string */
        CHECK_OK(mcx_random(id, idl));
        if (idl == 64)
            for (size_t k = 0; k < idl; k++)
                id[k] = (uint8_t) "0123456789abcdef"[id[k] & 15];
        size_t n = (i & 2) ? 32 : 16;
        CHECK_OK(mcx_random(ssv, n));
        CHECK_OK(mcx_sakke_issue_rsk(z, sizeof z, id, idl, rsk));
        mcx_sakke_receiver *r = NULL;
        CHECK_OK(mcx_sakke_receiver_new(&r, Z, id, idl, rsk));
        size_t sedl = 0, outl = 0;
        CHECK_OK(mcx_sakke_encap(s, id, idl, ssv, n, sed, sizeof sed, &sedl));
        CHECK(sedl == PT + n);
        CHECK_OK(mcx_sakke_decap(r, sed, sedl, out, sizeof out, &outl));
        CHECK(outl == n);
        CHECK_MEM(out, ssv, n);
        mcx_sakke_receiver_free(r);
    }
    mcx_sakke_sender_free(s);
    mcx_memzero(z, sizeof z);
}

static void rejections(void)
{
    uint8_t Z[PT], z[20], id[32], rsk[PT], bad[PT], sed[PT + 16], out[32], ssv[16], big[129];
    test_unhex(RFC_Z_HEX, Z, sizeof Z);
    size_t zl = test_unhex(RFC_z_HEX, z, sizeof z);
    size_t idl = test_unhex(RFC_ID_HEX, id, sizeof id);
    test_unhex(RFC_RSK_HEX, rsk, sizeof rsk);
    test_unhex(RFC_SSV_HEX, ssv, sizeof ssv);
    size_t n = 0;

    /* malformed keys: each with its own status */
    memcpy(bad, rsk, PT);
    bad[0] = 0x02;
    CHECK_ST(mcx_sakke_validate_rsk(Z, id, idl, bad), MCX_E_ENCODING);
    memcpy(bad, rsk, PT);
    bad[PT - 1] ^= 1;
    CHECK_ST(mcx_sakke_validate_rsk(Z, id, idl, bad), MCX_E_NOT_ON_CURVE);
    memcpy(bad, rsk, PT);
    memset(bad + 1, 0xff, 128); /* x >= p */
    CHECK_ST(mcx_sakke_validate_rsk(Z, id, idl, bad), MCX_E_ENCODING);
    add_two_torsion(bad, rsk);
    CHECK_ST(mcx_sakke_validate_rsk(Z, id, idl, bad), MCX_E_WRONG_ORDER);
    add_two_torsion(bad, Z);
    mcx_sakke_sender *s = NULL;
    CHECK_ST(mcx_sakke_sender_new(&s, bad), MCX_E_WRONG_ORDER);
    uint8_t other[32];
    memcpy(other, id, idl);
    other[3] ^= 0x40;
    CHECK_ST(mcx_sakke_validate_rsk(Z, other, idl, rsk), MCX_E_KEY_INVALID);
    CHECK_ST(mcx_sakke_validate_rsk(Z, id, 0, rsk), MCX_E_LENGTH);

    /* master secret out of range */
    memset(big, 0, sizeof big);
    CHECK_ST(mcx_sakke_kms_pubkey(big, 128, bad), MCX_E_RANGE); /* z = 0 */
    memset(big, 0xff, sizeof big);
    CHECK_ST(mcx_sakke_kms_pubkey(big, 128, bad), MCX_E_RANGE);  /* z >= q */
    CHECK_ST(mcx_sakke_kms_pubkey(big, 129, bad), MCX_E_LENGTH); /* too long */
    CHECK_ST(mcx_sakke_issue_rsk(big, 128, id, idl, bad), MCX_E_RANGE);

    /* SEDs */
    CHECK_OK(mcx_sakke_sender_new(&s, Z));
    CHECK_ST(mcx_sakke_encap(s, id, idl, ssv, 15, sed, sizeof sed, &n), MCX_E_LENGTH);
    CHECK_ST(mcx_sakke_encap(s, id, idl, ssv, 16, sed, PT + 15, &n), MCX_E_LENGTH);
    CHECK_OK(mcx_sakke_encap(s, id, idl, ssv, 16, sed, sizeof sed, &n));
    mcx_sakke_receiver *r = NULL;
    CHECK_OK(mcx_sakke_receiver_new(&r, Z, id, idl, rsk));
    uint8_t t[PT + 16];
    memcpy(t, sed, sizeof t);
    t[PT + 3] ^= 0x08; /* H */
    CHECK_ST(mcx_sakke_decap(r, t, sizeof t, out, sizeof out, &n), MCX_E_SED_INVALID);
    memcpy(t, sed, sizeof t);
    t[100] ^= 0x01; /* R */
    CHECK_ST(mcx_sakke_decap(r, t, sizeof t, out, sizeof out, &n), MCX_E_NOT_ON_CURVE);
    CHECK_ST(mcx_sakke_decap(r, sed, sizeof sed - 1, out, sizeof out, &n), MCX_E_LENGTH);
    CHECK_ST(mcx_sakke_decap(r, sed, sizeof sed, out, 8, &n), MCX_E_LENGTH);
    /* an SED for another identity (same KMS): the check of R fails */
    uint8_t other_rsk[PT], osed[PT + 16];
    CHECK_OK(mcx_sakke_issue_rsk(z, zl, other, idl, other_rsk));
    CHECK_OK(mcx_sakke_encap(s, other, idl, ssv, 16, osed, sizeof osed, &n));
    memset(out, 0, sizeof out);
    CHECK_ST(mcx_sakke_decap(r, osed, sizeof osed, out, sizeof out, &n), MCX_E_SED_INVALID);
    CHECK(out[0] == 0 && out[15] == 0); /* nothing written on rejection */
    /* R of the SED replaced by a point of the wrong order */
    add_two_torsion(t, sed);
    memcpy(t + PT, sed + PT, 16);
    CHECK_ST(mcx_sakke_decap(r, t, sizeof t, out, sizeof out, &n), MCX_E_SED_INVALID);
    mcx_sakke_receiver_free(r);
    mcx_sakke_sender_free(s);
}

int main(void)
{
    RUN(pairing_of_P_is_g);
    RUN(rfc6508_appendix_a);
    RUN(pairing_is_symmetric_and_bilinear);
    RUN(edwards_form);
    RUN(blinded_inversion);
    RUN(round_trips);
    RUN(rejections);
    return test_summary();
}
