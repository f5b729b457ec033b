/* Vector families "sakke" (rfc6508_sakke.txt) and "sakke_params" (rfc6509_sakke_param_set1.txt):
 * every value of RFC 6508 Appendix A through the public API, and parameter set 1 itself. */
#include "runner.h"

#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/sakke.h"

#define PT MCX_SAKKE_POINT_BYTES

static void check_sakke(const vec_file *f)
{
    const vec_section *s = &f->sections[0];
    uint8_t z[128], Z[PT], id[128], rsk[PT], ssv[32], R[PT], H[32], sed[PT + 32];
    uint8_t Zc[PT], rskc[PT], sedc[PT + 32], out[32];
    size_t zl = vec_hex(s, "z", z, sizeof z);
    vec_hex(s, "Z", Z, sizeof Z);
    size_t idl = vec_hex(s, "ID", id, sizeof id);
    vec_hex(s, "RSK", rsk, sizeof rsk);
    size_t n = vec_hex(s, "SSV", ssv, sizeof ssv);
    vec_hex(s, "R", R, sizeof R);
    vec_hex(s, "H", H, sizeof H);
    size_t sedl = vec_hex(s, "SED", sed, sizeof sed);
    int cases = 0;

    CHECK_OK(mcx_sakke_kms_pubkey(z, zl, Zc)); /* Z = [z]P */
    CHECK_MEM(Zc, Z, PT);
    CHECK_OK(mcx_sakke_issue_rsk(z, zl, id, idl, rskc)); /* RSK = [(b+z)^-1]P */
    CHECK_MEM(rskc, rsk, PT);
    CHECK_OK(mcx_sakke_validate_rsk(Z, id, idl, rsk));
    cases += 3;

    mcx_sakke_sender *snd = NULL;
    CHECK_OK(mcx_sakke_sender_new(&snd, Z));
    size_t l = 0;
    CHECK_OK(mcx_sakke_encap(snd, id, idl, ssv, n, sedc, sizeof sedc, &l));
    CHECK(l == sedl);
    CHECK_MEM(sedc, R, PT);     /* R = [r]([b]P + Z) */
    CHECK_MEM(sedc + PT, H, n); /* H = SSV xor mask */
    CHECK_MEM(sedc, sed, sedl); /* SED = R || H */
    cases += 3;
    mcx_sakke_sender_free(snd);

    mcx_sakke_receiver *rcv = NULL;
    CHECK_OK(mcx_sakke_receiver_new(&rcv, Z, id, idl, rsk));
    size_t outl = 0;
    CHECK_OK(mcx_sakke_decap(rcv, sed, sedl, out, sizeof out, &outl));
    CHECK(outl == n);
    CHECK_MEM(out, ssv, n);
    cases++;
    mcx_sakke_receiver_free(rcv);

    /* g^r and <R, RSK> = g^r (internal: the pairing on the vector's points) */
    uint8_t gr[128], rb[128], wb[128];
    vec_hex(s, "g_pow_r", gr, sizeof gr);
    vec_hex(s, "r", rb, sizeof rb);
    fp r, w;
    CHECK_OK(fp_from_bytes(&r, rb, &sakke_q, "r"));
    CHECK_OK(sakke_g_pow(&w, &r));
    fp_from_mont(&w, &w, &sakke_p);
    fp_to_bytes(wb, &w);
    CHECK_MEM(wb, gr, 128);
    ec_affine Rp, K;
    CHECK_OK(ec_decode(&Rp, R, PT, "R"));
    CHECK_OK(ec_decode(&K, rsk, PT, "RSK"));
    CHECK_OK(sakke_pairing(&w, &Rp, &K));
    fp_from_mont(&w, &w, &sakke_p);
    fp_to_bytes(wb, &w);
    CHECK_MEM(wb, gr, 128);
    cases += 2;
    printf("     sakke: %d values checked\n", cases);
}

static void check_params(const vec_file *f)
{
    const vec_section *s = &f->sections[0];
    uint8_t p[128], q[128], px[128], py[128], g[128], qc[128], b[128];
    vec_hex(s, "p", p, sizeof p);
    vec_hex(s, "q", q, sizeof q);
    vec_hex(s, "Px", px, sizeof px);
    vec_hex(s, "Py", py, sizeof py);
    vec_hex(s, "g", g, sizeof g);
    sakke_params_init();
    fp t;
    fp_to_bytes(b, (const fp *)(const void *)sakke_p.m);
    CHECK_MEM(b, p, 128);
    sakke_q_bytes(qc);
    CHECK_MEM(qc, q, 128);
    fp_from_mont(&t, &sakke_P.x, &sakke_p);
    fp_to_bytes(b, &t);
    CHECK_MEM(b, px, 128);
    fp_from_mont(&t, &sakke_P.y, &sakke_p);
    fp_to_bytes(b, &t);
    CHECK_MEM(b, py, 128);
    /* g = <P,P> computed, not just loaded */
    CHECK_OK(sakke_pairing(&t, &sakke_P, &sakke_P));
    fp_from_mont(&t, &t, &sakke_p);
    fp_to_bytes(b, &t);
    CHECK_MEM(b, g, 128);
    CHECK(ec_on_curve(&sakke_P));
    CHECK(ec_in_subgroup_vartime(&sakke_P));
    printf("     sakke_params: p, q, P, g = <P,P>, P on E of order q checked\n");
}

VEC_FAMILY(sakke, "rfc6508_sakke.txt", check_sakke)
VEC_FAMILY(sakke_params, "rfc6509_sakke_param_set1.txt", check_params)
