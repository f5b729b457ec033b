/* Tests of ECCSI (RFC 6507): the Appendix A known answer, random round trips, every rejection
 * with its specific status, and the verifier's sender cache (hits, misses, eviction). */
#include "test.h"

#include "mcxsec/eccsi.h"
#include "mcxsec/mem.h"

/* RFC 6507 Appendix A */
#define RFC_KSAK "0000000000000000000000000000000000000000000000000000000000012345"
#define RFC_KPAK                                                                                   \
    "0450D4670BDE75244F28D2838A0D25558A7A72686D4522D4C8273FB6442AEBFA93DBDD37551AFD263B5DFD617F39" \
    "60C65A8C298850FF99F20366DCE7D4367217F4"
#define RFC_ID "323031312D30320074656C3A2B34343737303039303031323300"
#define RFC_V  "0000000000000000000000000000000000000000000000000000000000023456"
#define RFC_PVT                                                                                    \
    "04758A142779BE89E829E71984CB40EF758CC4AD775FC5B9A3E1C8ED52F6FA36D9A79D247692F4EDA3A6BDAB77D6" \
    "AA6474A464AE4934663C5265BA7018BA091F79"
#define RFC_HS  "490F3FEBBC1C902F6289723D7F8CBF79DB88930849D19F38F0295B5C276C14D1"
#define RFC_SSK "23F374AE1F4033F3E9DBDDAAEF20F4CF0B86BBD5A138A5AE9E7E006B34489A0D"
#define RFC_M   "6D65737361676500"
#define RFC_J   "0000000000000000000000000000000000000000000000000000000000034567"
#define RFC_SIG                                                                                    \
    "269D4C8FDEB66A74E4EF8C0D5DCC597DDFE6029C2AFFC4936008CD2CC1045D81E09B528D0EF8D6DF1AA3ECBF8011" \
    "0CFCEC9FC68252CEBB679F4134846940CCFD04758A142779BE89E829E71984CB40EF758CC4AD775FC5B9A3E1C8ED" \
    "52F6FA36D9A79D247692F4EDA3A6BDAB77D6AA6474A464AE4934663C5265BA7018BA091F79"
#define P256_Q "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"
#define P256_P "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF"
#define P256_G                                                                                     \
    "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C" \
    "0F9E162BCE33576B315ECECBB6406837BF51F5"

typedef struct rfc_case {
    uint8_t ksak[32], kpak[65], id[26], v[32], pvt[65], hs[32], ssk[32], m[8], j[32], sig[129];
    uint8_t q[32], g[65];
} rfc_case;

static rfc_case R;

static void rfc_load(void)
{
    test_unhex(RFC_KSAK, R.ksak, sizeof R.ksak);
    test_unhex(RFC_KPAK, R.kpak, sizeof R.kpak);
    test_unhex(RFC_ID, R.id, sizeof R.id);
    test_unhex(RFC_V, R.v, sizeof R.v);
    test_unhex(RFC_PVT, R.pvt, sizeof R.pvt);
    test_unhex(RFC_HS, R.hs, sizeof R.hs);
    test_unhex(RFC_SSK, R.ssk, sizeof R.ssk);
    test_unhex(RFC_M, R.m, sizeof R.m);
    test_unhex(RFC_J, R.j, sizeof R.j);
    test_unhex(RFC_SIG, R.sig, sizeof R.sig);
    test_unhex(P256_Q, R.q, sizeof R.q);
    test_unhex(P256_G, R.g, sizeof R.g);
}

static mcx_status verify_rfc_sig(const uint8_t *sig, size_t sig_len)
{
    return mcx_eccsi_verify(R.kpak, R.id, sizeof R.id, R.m, sizeof R.m, sig, sig_len);
}

/* The message of the last failure starts with "ECCSI: " and contains want. */
static int error_says(const char *want)
{
    const char *e = mcx_last_error();
    return strncmp(e, "ECCSI: ", 7) == 0 && strstr(e, want) != NULL;
}

/* ---- RFC 6507 Appendix A ---- */

static void rfc6507_known_answer(void)
{
    uint8_t kpak[65], ssk[32], pvt[65], hs[32], sig[129];
    CHECK_OK(mcx_eccsi_kpak_from_ksak(R.ksak, kpak));
    CHECK_MEM(kpak, R.kpak, 65);
    CHECK_OK(mcx_eccsi_issue_with_v(R.ksak, R.kpak, R.id, sizeof R.id, R.v, ssk, pvt));
    CHECK_MEM(ssk, R.ssk, 32);
    CHECK_MEM(pvt, R.pvt, 65);
    CHECK_OK(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, R.ssk, R.pvt, hs));
    CHECK_MEM(hs, R.hs, 32);

    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_signer_init(&signer, R.kpak, R.id, sizeof R.id, R.ssk, R.pvt));
    CHECK_MEM(signer.hs, R.hs, 32);
    CHECK_OK(mcx_eccsi_sign_with_j(&signer, R.m, sizeof R.m, R.j, sig));
    CHECK_MEM(sig, R.sig, 129);
    mcx_eccsi_signer_wipe(&signer);
    static const mcx_eccsi_signer zero_signer;
    CHECK_MEM(&signer, &zero_signer, sizeof signer);

    CHECK_OK(verify_rfc_sig(R.sig, sizeof R.sig));
    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, R.kpak, 0));
    CHECK_OK(mcx_eccsi_verifier_verify(v, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129));
    mcx_eccsi_verifier_free(v);
}

static void kms_keygen_gives_matching_kpak(void)
{
    uint8_t ksak[32], kpak[65], kpak2[65];
    CHECK_OK(mcx_eccsi_kms_keygen(ksak, kpak));
    CHECK_OK(mcx_eccsi_kpak_from_ksak(ksak, kpak2));
    CHECK_MEM(kpak, kpak2, 65);
    mcx_memzero(ksak, sizeof ksak);
}

/* ---- random round trips ---- */

static void round_trip_once(int i)
{
    uint8_t ksak[32], kpak[65], ssk[32], pvt[65], hs[32], sig[129], id[40], msg[100];
    size_t id_len = 1 + (size_t)i % sizeof id, msg_len = (size_t)i * 7 % sizeof msg;
    CHECK_OK(mcx_random(id, sizeof id));
    CHECK_OK(mcx_random(msg, sizeof msg));
    CHECK_OK(mcx_eccsi_kms_keygen(ksak, kpak));
    CHECK_OK(mcx_eccsi_issue(ksak, kpak, id, id_len, ssk, pvt));
    CHECK_OK(mcx_eccsi_validate(kpak, id, id_len, ssk, pvt, hs));

    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_signer_init(&signer, kpak, id, id_len, ssk, pvt));
    CHECK_MEM(signer.hs, hs, 32);
    CHECK_OK(mcx_eccsi_sign(&signer, msg, msg_len, sig));
    CHECK_MEM(sig + 64, pvt, 65);
    CHECK_OK(mcx_eccsi_verify(kpak, id, id_len, msg, msg_len, sig, sizeof sig));

    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, kpak, 4));
    CHECK_OK(mcx_eccsi_verifier_verify(v, id, id_len, msg, msg_len, sig, sizeof sig));
    CHECK_OK(mcx_eccsi_verifier_verify(v, id, id_len, msg, msg_len, sig, sizeof sig));
    msg[0] ^= 1;
    CHECK_ST(mcx_eccsi_verify(kpak, id, id_len, msg, msg_len + 1, sig, sizeof sig),
             MCX_E_SIG_INVALID);
    CHECK_ST(mcx_eccsi_verifier_verify(v, id, id_len, msg, msg_len + 1, sig, sizeof sig),
             MCX_E_SIG_INVALID);
    mcx_eccsi_verifier_free(v);

    /* two signatures of one message differ (fresh j) and both verify */
    uint8_t sig2[129];
    CHECK_OK(mcx_eccsi_sign(&signer, msg, msg_len, sig2));
    CHECK(memcmp(sig, sig2, 64) != 0);
    CHECK_OK(mcx_eccsi_verify(kpak, id, id_len, msg, msg_len, sig2, sizeof sig2));
    mcx_eccsi_signer_wipe(&signer);
    mcx_memzero(ksak, sizeof ksak);
    mcx_memzero(ssk, sizeof ssk);
}

static void random_round_trips(void)
{
    for (int i = 0; i < 50; i++)
        round_trip_once(i);
}

static void empty_identity_and_message(void)
{
    uint8_t ssk[32], pvt[65], sig[129];
    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_issue(R.ksak, R.kpak, NULL, 0, ssk, pvt));
    CHECK_OK(mcx_eccsi_signer_init(&signer, R.kpak, NULL, 0, ssk, pvt));
    CHECK_OK(mcx_eccsi_sign(&signer, NULL, 0, sig));
    CHECK_OK(mcx_eccsi_verify(R.kpak, NULL, 0, NULL, 0, sig, sizeof sig));
    CHECK_ST(mcx_eccsi_verify(R.kpak, R.id, sizeof R.id, NULL, 0, sig, sizeof sig),
             MCX_E_SIG_INVALID);
    mcx_eccsi_signer_wipe(&signer);
}

/* ---- verification rejects ---- */

static void verify_rejects_wrong_lengths(void)
{
    uint8_t big[130];
    memcpy(big, R.sig, 129);
    big[129] = 0;
    CHECK_ST(verify_rfc_sig(R.sig, 128), MCX_E_LENGTH);
    CHECK(error_says("128 octets"));
    CHECK_ST(verify_rfc_sig(big, 130), MCX_E_LENGTH);
    CHECK_ST(verify_rfc_sig(R.sig, 0), MCX_E_LENGTH);
    CHECK_ST(verify_rfc_sig(R.sig, 64), MCX_E_LENGTH);
}

static void verify_rejects_bad_pvt(void)
{
    uint8_t sig[129];
    memcpy(sig, R.sig, 129);
    sig[64] = 0x02; /* compressed prefix */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_ENCODING);
    CHECK(error_says("PVT in signature"));
    sig[64] = 0x00;
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_ENCODING);

    memcpy(sig, R.sig, 129);
    sig[128] ^= 0x01; /* y no longer matches x */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_NOT_ON_CURVE);
    CHECK(error_says("PVT in signature is not on P-256"));

    memcpy(sig, R.sig, 129);
    test_unhex(P256_P, sig + 65, 32); /* x = p is not a field element */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_ENCODING);
    CHECK(error_says("not below p"));
}

static void verify_rejects_scalars_out_of_range(void)
{
    uint8_t sig[129];
    memcpy(sig, R.sig, 129);
    memset(sig, 0, 32); /* r = 0 */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);
    CHECK(error_says("r in signature"));
    memcpy(sig, R.q, 32); /* r = q */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);
    memset(sig, 0xff, 32); /* r = 2^256 - 1 */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);

    memcpy(sig, R.sig, 129);
    memset(sig + 32, 0, 32); /* s = 0 */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);
    CHECK(error_says("s in signature"));
    memcpy(sig + 32, R.q, 32); /* s = q */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);
    memset(sig + 32, 0xff, 32);
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);

    /* r = s = 0 with a valid PVT must not pass as "J = O, Jx = 0 = r" */
    memset(sig, 0, 64);
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_RANGE);
}

static void verify_rejects_tampering(void)
{
    uint8_t sig[129], msg[8], id[26], kpak[65];
    for (int bit = 0; bit < 8; bit++) {
        memcpy(sig, R.sig, 129);
        sig[31 - bit] ^= (uint8_t)(1u << bit); /* r */
        CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_SIG_INVALID);
        memcpy(sig, R.sig, 129);
        sig[63 - bit] ^= (uint8_t)(1u << bit); /* s */
        CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_SIG_INVALID);
        memcpy(sig, R.sig, 129);
        sig[65 + bit] ^= (uint8_t)(1u << bit); /* x of PVT: off the curve */
        CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_NOT_ON_CURVE);
    }
    CHECK(error_says("not on P-256"));

    memcpy(sig, R.sig, 129);
    memcpy(sig + 64, R.kpak, 65); /* another point on the curve as PVT */
    CHECK_ST(verify_rfc_sig(sig, 129), MCX_E_SIG_INVALID);
    CHECK(error_says("does not verify"));

    memcpy(msg, R.m, sizeof msg);
    msg[3] ^= 0x10;
    CHECK_ST(mcx_eccsi_verify(R.kpak, R.id, sizeof R.id, msg, sizeof msg, R.sig, 129),
             MCX_E_SIG_INVALID);
    CHECK_ST(mcx_eccsi_verify(R.kpak, R.id, sizeof R.id, R.m, sizeof R.m - 1, R.sig, 129),
             MCX_E_SIG_INVALID);

    memcpy(id, R.id, sizeof id);
    id[10] ^= 0x01;
    CHECK_ST(mcx_eccsi_verify(R.kpak, id, sizeof id, R.m, sizeof R.m, R.sig, 129),
             MCX_E_SIG_INVALID);
    CHECK_ST(mcx_eccsi_verify(R.kpak, R.id, sizeof R.id - 1, R.m, sizeof R.m, R.sig, 129),
             MCX_E_SIG_INVALID);

    CHECK_ST(mcx_eccsi_verify(R.g, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129),
             MCX_E_SIG_INVALID); /* wrong KPAK, on the curve */
    memcpy(kpak, R.kpak, 65);
    kpak[64] ^= 0x80;
    CHECK_ST(mcx_eccsi_verify(kpak, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129),
             MCX_E_NOT_ON_CURVE);
    CHECK(error_says("KPAK is not on P-256"));
    kpak[0] = 0x03;
    CHECK_ST(mcx_eccsi_verify(kpak, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129),
             MCX_E_ENCODING);
}

static void verify_rejects_null_arguments(void)
{
    CHECK_ST(mcx_eccsi_verify(NULL, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129), MCX_E_ARG);
    CHECK_ST(mcx_eccsi_verify(R.kpak, NULL, 3, R.m, sizeof R.m, R.sig, 129), MCX_E_ARG);
    CHECK_ST(mcx_eccsi_verify(R.kpak, R.id, sizeof R.id, NULL, 2, R.sig, 129), MCX_E_ARG);
    CHECK_ST(mcx_eccsi_verify(R.kpak, R.id, sizeof R.id, R.m, sizeof R.m, NULL, 129), MCX_E_ARG);
}

/* ---- validation, issue and signing rejects ---- */

static void validate_rejects(void)
{
    uint8_t ssk[32], pvt[65], id[26], hs[32] = {0};
    memset(ssk, 0, 32);
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, ssk, R.pvt, hs), MCX_E_RANGE);
    CHECK(error_says("SSK is 0 or not below q"));
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, R.q, R.pvt, hs), MCX_E_RANGE);
    memset(ssk, 0xff, 32);
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, ssk, R.pvt, hs), MCX_E_RANGE);

    memcpy(ssk, R.ssk, 32);
    ssk[31] ^= 0x01; /* SSK that does not match PVT */
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, ssk, R.pvt, hs), MCX_E_KEY_INVALID);
    CHECK(error_says("[SSK]G != KPAK + [HS]PVT"));
    static const uint8_t zero[32];
    CHECK_MEM(hs, zero, 32); /* HS only on success */

    memcpy(id, R.id, sizeof id);
    id[0] ^= 0x01;
    CHECK_ST(mcx_eccsi_validate(R.kpak, id, sizeof id, R.ssk, R.pvt, hs), MCX_E_KEY_INVALID);
    CHECK_ST(mcx_eccsi_validate(R.g, R.id, sizeof R.id, R.ssk, R.pvt, hs), MCX_E_KEY_INVALID);
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, R.ssk, R.g, hs), MCX_E_KEY_INVALID);

    memcpy(pvt, R.pvt, 65);
    pvt[40] ^= 0x04;
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, R.ssk, pvt, hs), MCX_E_NOT_ON_CURVE);
    CHECK(error_says("PVT is not on P-256"));
    pvt[0] = 0x06;
    CHECK_ST(mcx_eccsi_validate(R.kpak, R.id, sizeof R.id, R.ssk, pvt, hs), MCX_E_ENCODING);

    mcx_eccsi_signer signer;
    memset(&signer, 0xAA, sizeof signer);
    CHECK_ST(mcx_eccsi_signer_init(&signer, R.kpak, R.id, sizeof R.id, ssk, R.pvt),
             MCX_E_KEY_INVALID);
    static const mcx_eccsi_signer zero_signer;
    CHECK_MEM(&signer, &zero_signer, sizeof signer); /* a failed init leaves nothing behind */
}

static void issue_rejects(void)
{
    uint8_t ssk[32], pvt[65], bad[65], zero[32] = {0};
    CHECK_ST(mcx_eccsi_issue(zero, R.kpak, R.id, sizeof R.id, ssk, pvt), MCX_E_RANGE);
    CHECK(error_says("KSAK"));
    CHECK_ST(mcx_eccsi_issue(R.q, R.kpak, R.id, sizeof R.id, ssk, pvt), MCX_E_RANGE);
    CHECK_ST(mcx_eccsi_kpak_from_ksak(R.q, pvt), MCX_E_RANGE);
    CHECK_ST(mcx_eccsi_issue_with_v(R.ksak, R.kpak, R.id, sizeof R.id, zero, ssk, pvt),
             MCX_E_RANGE);
    CHECK(error_says("v is 0"));
    CHECK_ST(mcx_eccsi_issue_with_v(R.ksak, R.kpak, R.id, sizeof R.id, R.q, ssk, pvt), MCX_E_RANGE);
    memcpy(bad, R.kpak, 65);
    bad[1] ^= 0x01;
    CHECK_ST(mcx_eccsi_issue(R.ksak, bad, R.id, sizeof R.id, ssk, pvt), MCX_E_NOT_ON_CURVE);
    CHECK_ST(mcx_eccsi_issue(R.ksak, R.kpak, NULL, 1, ssk, pvt), MCX_E_ARG);
}

static void sign_rejects(void)
{
    uint8_t sig[129], zero[32] = {0};
    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_signer_init(&signer, R.kpak, R.id, sizeof R.id, R.ssk, R.pvt));
    CHECK_ST(mcx_eccsi_sign_with_j(&signer, R.m, sizeof R.m, zero, sig), MCX_E_RANGE);
    CHECK(error_says("j is 0"));
    CHECK_ST(mcx_eccsi_sign_with_j(&signer, R.m, sizeof R.m, R.q, sig), MCX_E_RANGE);
    CHECK_ST(mcx_eccsi_sign(&signer, NULL, 5, sig), MCX_E_ARG);
    memset(signer.ssk, 0, 32); /* a signer filled in by hand with SSK = 0 */
    CHECK_ST(mcx_eccsi_sign(&signer, R.m, sizeof R.m, sig), MCX_E_RANGE);
    mcx_eccsi_signer_wipe(&signer);
}

/* ---- the verifier's sender cache ---- */

typedef struct sender {
    uint8_t id[16];
    uint8_t ssk[32], pvt[65];
    uint8_t sig[129];
} sender;

static const uint8_t MSG[] = "cache test message";

static void sender_make(sender *s, uint8_t tag)
{
    memset(s->id, tag, sizeof s->id);
    CHECK_OK(mcx_eccsi_issue(R.ksak, R.kpak, s->id, sizeof s->id, s->ssk, s->pvt));
    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_signer_init(&signer, R.kpak, s->id, sizeof s->id, s->ssk, s->pvt));
    CHECK_OK(mcx_eccsi_sign(&signer, MSG, sizeof MSG, s->sig));
    mcx_eccsi_signer_wipe(&signer);
}

static mcx_status vv(mcx_eccsi_verifier *v, const sender *s)
{
    return mcx_eccsi_verifier_verify(v, s->id, sizeof s->id, MSG, sizeof MSG, s->sig, 129);
}

static void expect_stats(mcx_eccsi_verifier *v, uint64_t hits, uint64_t misses, size_t entries)
{
    uint64_t h = 0, m = 0;
    size_t e = 0;
    mcx_eccsi_verifier_stats(v, &h, &m, &e);
    CHECK(h == hits);
    CHECK(m == misses);
    CHECK(e == entries);
    if (h != hits || m != misses || e != entries)
        fprintf(stderr, "  stats: hits %llu misses %llu entries %zu\n", (unsigned long long)h,
                (unsigned long long)m, e);
}

static void verifier_hits_and_misses(void)
{
    sender a;
    sender_make(&a, 'a');
    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, R.kpak, 8));
    CHECK_OK(vv(v, &a));
    expect_stats(v, 0, 1, 1);
    CHECK_OK(vv(v, &a));
    CHECK_OK(vv(v, &a));
    expect_stats(v, 2, 1, 1);

    /* a cached sender still gets every check on r, s and the message */
    uint8_t bad[129];
    memcpy(bad, a.sig, 129);
    bad[40] ^= 0x20;
    CHECK_ST(mcx_eccsi_verifier_verify(v, a.id, sizeof a.id, MSG, sizeof MSG, bad, 129),
             MCX_E_SIG_INVALID);
    memset(bad, 0, 32);
    CHECK_ST(mcx_eccsi_verifier_verify(v, a.id, sizeof a.id, MSG, sizeof MSG, bad, 129),
             MCX_E_RANGE);
    CHECK_ST(mcx_eccsi_verifier_verify(v, a.id, sizeof a.id, MSG, sizeof MSG - 1, a.sig, 129),
             MCX_E_SIG_INVALID);
    CHECK_ST(mcx_eccsi_verifier_verify(v, a.id, sizeof a.id, MSG, sizeof MSG, a.sig, 128),
             MCX_E_LENGTH);
    /* the same signature under another identity is a different (failing) sender */
    CHECK_ST(mcx_eccsi_verifier_verify(v, a.id, sizeof a.id - 1, MSG, sizeof MSG, a.sig, 129),
             MCX_E_SIG_INVALID);
    expect_stats(v, 4, 2, 1); /* the failed first contact was not cached */

    /* the RFC signer too, under the RFC KPAK */
    CHECK_OK(mcx_eccsi_verifier_verify(v, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129));
    CHECK_OK(mcx_eccsi_verifier_verify(v, R.id, sizeof R.id, R.m, sizeof R.m, R.sig, 129));
    expect_stats(v, 5, 3, 2);
    mcx_eccsi_verifier_free(v);
}

static void verifier_same_identity_new_pvt(void)
{
    sender a1, a2;
    sender_make(&a1, 'x');
    sender_make(&a2, 'x'); /* same identity, a second key pair */
    CHECK(memcmp(a1.pvt, a2.pvt, 65) != 0);
    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, R.kpak, 8));
    CHECK_OK(vv(v, &a1));
    CHECK_OK(vv(v, &a2));
    expect_stats(v, 0, 2, 2);
    CHECK_OK(vv(v, &a1));
    CHECK_OK(vv(v, &a2));
    expect_stats(v, 2, 2, 2);

    /* a1's (r, s) with a2's PVT: the cache must not answer with a1's Y */
    uint8_t mixed[129];
    memcpy(mixed, a1.sig, 64);
    memcpy(mixed + 64, a2.pvt, 65);
    CHECK_ST(mcx_eccsi_verifier_verify(v, a1.id, sizeof a1.id, MSG, sizeof MSG, mixed, 129),
             MCX_E_SIG_INVALID);
    mcx_eccsi_verifier_free(v);
}

static void verifier_evicts_least_recently_used(void)
{
    sender a, b, c;
    sender_make(&a, 'A');
    sender_make(&b, 'B');
    sender_make(&c, 'C');
    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, R.kpak, 2));
    CHECK_OK(vv(v, &a));
    CHECK_OK(vv(v, &b));
    CHECK_OK(vv(v, &a)); /* hit; now b is the oldest */
    expect_stats(v, 1, 2, 2);
    CHECK_OK(vv(v, &c)); /* evicts b */
    expect_stats(v, 1, 3, 2);
    CHECK_OK(vv(v, &a)); /* still cached */
    expect_stats(v, 2, 3, 2);
    CHECK_OK(vv(v, &b)); /* miss again, evicts c */
    expect_stats(v, 2, 4, 2);
    CHECK_OK(vv(v, &c)); /* miss, evicts a */
    CHECK_OK(vv(v, &b));
    CHECK_OK(vv(v, &c));
    expect_stats(v, 4, 5, 2);
    CHECK_OK(vv(v, &a));
    expect_stats(v, 4, 6, 2);

    /* after all that churn every answer is still right */
    for (int round = 0; round < 3; round++) {
        const sender *all[3] = {&a, &b, &c};
        for (int i = 0; i < 3; i++) {
            CHECK_OK(vv(v, all[i]));
            uint8_t bad[129];
            memcpy(bad, all[i]->sig, 129);
            bad[5] ^= 0x01;
            CHECK_ST(mcx_eccsi_verifier_verify(v, all[i]->id, sizeof all[i]->id, MSG, sizeof MSG,
                                               bad, 129),
                     MCX_E_SIG_INVALID);
        }
    }
    mcx_eccsi_verifier_free(v);
}

static void verifier_size_one(void)
{
    sender a, b;
    sender_make(&a, '1');
    sender_make(&b, '2');
    mcx_eccsi_verifier *v = NULL;
    CHECK_OK(mcx_eccsi_verifier_new(&v, R.kpak, 1));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(vv(v, &a));
        CHECK_OK(vv(v, &b));
    }
    expect_stats(v, 0, 6, 1);
    mcx_eccsi_verifier_free(v);
}

static void verifier_new_rejects(void)
{
    mcx_eccsi_verifier *v = (mcx_eccsi_verifier *)&R; /* must be reset to NULL */
    uint8_t kpak[65];
    memcpy(kpak, R.kpak, 65);
    kpak[64] ^= 0x01;
    CHECK_ST(mcx_eccsi_verifier_new(&v, kpak, 4), MCX_E_NOT_ON_CURVE);
    CHECK(v == NULL);
    kpak[0] = 0x05;
    CHECK_ST(mcx_eccsi_verifier_new(&v, kpak, 4), MCX_E_ENCODING);
    CHECK_ST(mcx_eccsi_verifier_new(&v, R.kpak, (size_t)1 << 30), MCX_E_ARG);
    CHECK_ST(mcx_eccsi_verifier_new(NULL, R.kpak, 4), MCX_E_ARG);
    CHECK_ST(mcx_eccsi_verifier_verify(NULL, R.id, 1, R.m, 1, R.sig, 129), MCX_E_ARG);
    mcx_eccsi_verifier_free(NULL);
}

int main(void)
{
    rfc_load();
    RUN(rfc6507_known_answer);
    RUN(kms_keygen_gives_matching_kpak);
    RUN(random_round_trips);
    RUN(empty_identity_and_message);
    RUN(verify_rejects_wrong_lengths);
    RUN(verify_rejects_bad_pvt);
    RUN(verify_rejects_scalars_out_of_range);
    RUN(verify_rejects_tampering);
    RUN(verify_rejects_null_arguments);
    RUN(validate_rejects);
    RUN(issue_rejects);
    RUN(sign_rejects);
    RUN(verifier_hits_and_misses);
    RUN(verifier_same_identity_new_pvt);
    RUN(verifier_evicts_least_recently_used);
    RUN(verifier_size_one);
    RUN(verifier_new_rejects);
    return test_summary();
}
