/* Tests of include/mcxsec/keys.h: key type names, key IDs, GUK-ID (TS 33.180 F.1.3), SRTP master
 * key and salt (RFC 3830 §4.1.3, TS 33.180 §7.4), DPCK (F.1.5) and XPK keys (F.1.4): known
 * answers from the Etherstack and SW vectors, round trips and every argument check. */
#include "test.h"

#include "mcxsec/kdf.h"
#include "mcxsec/keys.h"

static uint8_t long_uri_buf[70000];

/* A NUL-terminated URI of n octets (n < sizeof long_uri_buf). */
static const char *long_uri(size_t n)
{
    memset(long_uri_buf, 'a', n);
    long_uri_buf[n] = '\0';
    return (const char *)long_uri_buf;
}

static void key_type_names(void)
{
    static const char *const names[] = {"gmk", "pck", "csk", "spk", "mkfc", "mscck", "musik"};
    for (unsigned t = 0; t <= MCX_KEY_TYPE_MAX; t++) {
        CHECK(mcx_key_type_name(t) != NULL && strcmp(mcx_key_type_name(t), names[t]) == 0);
        mcx_key_type got = (mcx_key_type)99;
        CHECK_OK(mcx_key_type_from_name(names[t], &got));
        CHECK(got == (mcx_key_type)t);
    }
    CHECK(mcx_key_type_name(7) == NULL);
    CHECK(mcx_key_type_name(15) == NULL);
    CHECK(mcx_key_type_name(0xFFFFFFFFu) == NULL);

    mcx_key_type got = MCX_KEY_GMK;
    CHECK_OK(mcx_key_type_from_name("MuSiK", &got));
    CHECK(got == MCX_KEY_MUSIK);
    CHECK_OK(mcx_key_type_from_name("CSK", &got));
    CHECK(got == MCX_KEY_CSK);
    CHECK_ST(mcx_key_type_from_name("kfc", &got), MCX_E_ARG);
    CHECK(strstr(mcx_last_error(), "kfc") != NULL);
    CHECK(got == MCX_KEY_CSK);
    CHECK_ST(mcx_key_type_from_name("", &got), MCX_E_ARG);
    CHECK_ST(mcx_key_type_from_name("gmk ", &got), MCX_E_ARG);
    CHECK_ST(mcx_key_type_from_name(NULL, &got), MCX_E_ARG);
    CHECK_ST(mcx_key_type_from_name("gmk", NULL), MCX_E_ARG);
}

static void key_id_new(void)
{
    for (unsigned t = 0; t <= MCX_KEY_TYPE_MAX; t++) {
        uint32_t a = 0, b = 0;
        CHECK_OK(mcx_key_id_new((mcx_key_type)t, &a));
        CHECK_OK(mcx_key_id_new((mcx_key_type)t, &b));
        CHECK(mcx_key_id_purpose(a) == t && mcx_key_id_purpose(b) == t);
        CHECK(a != b); /* 28 random bits: equal with probability 2^-28 */
    }
    /* every one of the 28 low bits takes both values over a few IDs */
    uint32_t ones = 0, zeros = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t id;
        CHECK_OK(mcx_key_id_new(MCX_KEY_CSK, &id));
        ones |= id;
        zeros |= ~id;
    }
    CHECK((ones & 0x0FFFFFFFu) == 0x0FFFFFFFu && (zeros & 0x0FFFFFFFu) == 0x0FFFFFFFu);

    uint32_t id = 0x12345678;
    CHECK_ST(mcx_key_id_new((mcx_key_type)7, &id), MCX_E_ARG);
    CHECK(id == 0x12345678);
    CHECK_ST(mcx_key_id_new(MCX_KEY_GMK, NULL), MCX_E_ARG);
    CHECK(mcx_key_id_purpose(0xF0000000u) == 15 && mcx_key_id_purpose(0x0FFFFFFFu) == 0);
}

/* Etherstack GMK and three users (SW unit_tests/test_guk.cc), SW v5 "Test 1: GMK". */
static void guk_id_known_answers(void)
{
    uint8_t gmk[16];
    test_unhex("FCFE65CD967C58D260B603CCB9A887A9", gmk, sizeof gmk);
    static const struct {
        const char *uri;
        uint32_t guk;
    } eth[] = {{"sip:p25user01@etherstack.com", 0x01C8DE7Bu},
               {"sip:p25user02@etherstack.co.jp", 0x0ABE69D0u},
               {"sip:92100002447@att.com", 0x0C449727u}};
    for (size_t i = 0; i < sizeof eth / sizeof eth[0]; i++) {
        uint32_t guk = 0, gmk_id = 0;
        CHECK_OK(mcx_guk_id(gmk, sizeof gmk, 0x09BF9D37u, eth[i].uri, &guk));
        CHECK(guk == eth[i].guk);
        CHECK_OK(mcx_gmk_id_from_guk_id(gmk, sizeof gmk, guk, eth[i].uri, &gmk_id));
        CHECK(gmk_id == 0x09BF9D37u);
    }

    uint8_t sw[16];
    test_unhex("07D1A1677AC36D8E81620484689B3C2D", sw, sizeof sw);
    uint32_t guk = 0;
    CHECK_OK(mcx_guk_id(sw, sizeof sw, 0x0DF9BC39u, "sip:alice@streamwide.com", &guk));
    CHECK(guk == 0x06A12AEAu);
}

/* The purpose tag of the input ID is kept, the 28 low bits are XORed with the same salt. */
static void guk_id_keeps_purpose_tag(void)
{
    uint8_t gmk[16];
    test_unhex("FCFE65CD967C58D260B603CCB9A887A9", gmk, sizeof gmk);
    const char *uri = "sip:p25user01@etherstack.com";
    /* salt = 0x09BF9D37 ^ 0x01C8DE7B */
    uint32_t salt = 0x09BF9D37u ^ 0x01C8DE7Bu;
    for (uint32_t tag = 0; tag < 16; tag++) {
        uint32_t id = (tag << 28) | 0x0ABCDEF1u, guk = 0, back = 0;
        CHECK_OK(mcx_guk_id(gmk, sizeof gmk, id, uri, &guk));
        CHECK(guk == ((tag << 28) | ((0x0ABCDEF1u ^ salt) & 0x0FFFFFFFu)));
        CHECK_OK(mcx_gmk_id_from_guk_id(gmk, sizeof gmk, guk, uri, &back));
        CHECK(back == id);
    }
    /* a different URI gives a different salt */
    uint32_t a = 0, b = 0;
    CHECK_OK(mcx_guk_id(gmk, sizeof gmk, 0, "sip:a@x", &a));
    CHECK_OK(mcx_guk_id(gmk, sizeof gmk, 0, "sip:b@x", &b));
    CHECK(a != b);
    /* an empty URI is a valid (if odd) P0 of length 0 */
    CHECK_OK(mcx_guk_id(gmk, sizeof gmk, 0, "", &a));
    /* the longest URI a 2-octet L0 allows */
    CHECK_OK(mcx_guk_id(gmk, sizeof gmk, 0, long_uri(65535), &a));
}

static void guk_id_rejects_bad_arguments(void)
{
    uint8_t gmk[16] = {1};
    uint32_t out = 0x55555555u;
    CHECK_ST(mcx_guk_id(NULL, 16, 0, "sip:a@b", &out), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "GUK-ID: ", 8) == 0);
    CHECK_ST(mcx_guk_id(gmk, 16, 0, NULL, &out), MCX_E_ARG);
    CHECK_ST(mcx_guk_id(gmk, 16, 0, "sip:a@b", NULL), MCX_E_ARG);
    CHECK_ST(mcx_guk_id(gmk, 0, 0, "sip:a@b", &out), MCX_E_LENGTH);
    CHECK_ST(mcx_guk_id(gmk, 16, 0, long_uri(65536), &out), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "65536") != NULL);
    CHECK(out == 0x55555555u);
    CHECK_ST(mcx_gmk_id_from_guk_id(NULL, 16, 0, "sip:a@b", &out), MCX_E_ARG);
    CHECK_ST(mcx_gmk_id_from_guk_id(gmk, 16, 0, NULL, &out), MCX_E_ARG);
    CHECK_ST(mcx_gmk_id_from_guk_id(gmk, 16, 0, "sip:a@b", NULL), MCX_E_ARG);
    CHECK_ST(mcx_gmk_id_from_guk_id(gmk, 0, 0, "sip:a@b", &out), MCX_E_LENGTH);
    CHECK_ST(mcx_gmk_id_from_guk_id(gmk, 16, 0, long_uri(65536), &out), MCX_E_LENGTH);
    CHECK(out == 0x55555555u);
}

/* Etherstack user 1 (CS-ID 4, CSB-ID = GUK-ID) and the SW GMK I_MESSAGE (mcx_3gpp.txt). */
static void srtp_master_known_answers(void)
{
    uint8_t gmk[16], rand[16], key[16], salt[12], want_key[16], want_salt[12];
    test_unhex("FCFE65CD967C58D260B603CCB9A887A9", gmk, sizeof gmk);
    test_unhex("6819E679461120E10AC458CCE67B8024", rand, sizeof rand);
    CHECK_OK(mcx_srtp_master(gmk, sizeof gmk, MCX_CS_MCPTT_GROUP, 0x01C8DE7Bu, rand, sizeof rand,
                             key, sizeof key, salt, sizeof salt));
    test_unhex("64837D2B4D69A266E4489D3807353AD9", want_key, sizeof want_key);
    test_unhex("8B2F081CE8E8BDAB1F8D9EB8", want_salt, sizeof want_salt);
    CHECK_MEM(key, want_key, 16);
    CHECK_MEM(salt, want_salt, 12);

    test_unhex("07D1A1677AC36D8E81620484689B3C2D", gmk, sizeof gmk);
    test_unhex("CA2F5D51FF0866362C1D85A56F84651E", rand, sizeof rand);
    CHECK_OK(mcx_srtp_master(gmk, sizeof gmk, MCX_CS_MCPTT_GROUP, 0x06A12AEAu, rand, sizeof rand,
                             key, sizeof key, salt, sizeof salt));
    test_unhex("ACB1B4E2B2DCA12291E1794A8EF84947", want_key, sizeof want_key);
    test_unhex("EE2F78E5EF16939D4A938327", want_salt, sizeof want_salt);
    CHECK_MEM(key, want_key, 16);
    CHECK_MEM(salt, want_salt, 12);
}

/* The other lengths agree with mcx_mikey_prf over a label built by hand. */
static void srtp_master_matches_prf(void)
{
    uint8_t tgk[32], rand[32], label[9 + 32];
    for (int i = 0; i < 32; i++) {
        tgk[i] = (uint8_t)(0xA0 + i);
        rand[i] = (uint8_t)(3 * i);
    }
    uint8_t key[32], salt[14], want_key[32], want_salt[14];
    CHECK_OK(mcx_srtp_master(tgk, 32, 9, 0x6ABCDEF0u, rand, 32, key, 32, salt, 14));
    static const uint8_t head_key[] = {0x2A, 0xD0, 0x1C, 0x64, 9, 0x6A, 0xBC, 0xDE, 0xF0};
    static const uint8_t head_salt[] = {0x39, 0xA2, 0xC1, 0x4B, 9, 0x6A, 0xBC, 0xDE, 0xF0};
    memcpy(label, head_key, 9);
    memcpy(label + 9, rand, 32);
    CHECK_OK(mcx_mikey_prf(tgk, 32, label, sizeof label, want_key, 32));
    memcpy(label, head_salt, 9);
    CHECK_OK(mcx_mikey_prf(tgk, 32, label, sizeof label, want_salt, 14));
    CHECK_MEM(key, want_key, 32);
    CHECK_MEM(salt, want_salt, 14);

    /* RAND of one octet and of 255 octets (the RAND payload's 1-octet length) */
    uint8_t big_rand[255];
    memset(big_rand, 0x77, sizeof big_rand);
    CHECK_OK(mcx_srtp_master(tgk, 16, 0, 1, big_rand, 1, key, 16, salt, 12));
    CHECK_OK(mcx_srtp_master(tgk, 16, 0, 1, big_rand, 255, key, 16, salt, 12));
}

static void srtp_master_rejects_bad_arguments(void)
{
    uint8_t tgk[16] = {1}, rand[16] = {2}, key[32], salt[14];
    memset(key, 0xEE, sizeof key);
    CHECK_ST(mcx_srtp_master(NULL, 16, 4, 1, rand, 16, key, 16, salt, 12), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "SRTP master: ", 13) == 0);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, NULL, 16, key, 16, salt, 12), MCX_E_ARG);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 16, NULL, 16, salt, 12), MCX_E_ARG);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 16, key, 16, NULL, 12), MCX_E_ARG);
    CHECK_ST(mcx_srtp_master(tgk, 0, 4, 1, rand, 16, key, 16, salt, 12), MCX_E_LENGTH);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 0, key, 16, salt, 12), MCX_E_LENGTH);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 256, key, 16, salt, 12), MCX_E_LENGTH);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 16, key, 0, salt, 12), MCX_E_LENGTH);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 16, key, 24, salt, 12), MCX_E_LENGTH);
    CHECK(strstr(mcx_last_error(), "key length 24") != NULL);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 16, key, 16, salt, 13), MCX_E_LENGTH);
    CHECK_ST(mcx_srtp_master(tgk, 16, 4, 1, rand, 16, key, 16, salt, 0), MCX_E_LENGTH);
    CHECK(key[0] == 0xEE); /* nothing written on a rejected call */
}

/* SW unit_tests/test_vectors.cc derivation_dpck (FC 0x53) and its predecessor (FC 0xAA). */
static void dpck_known_answers(void)
{
    uint8_t dppk[16], dpck[MCX_DPCK_BYTES], want[16];
    for (int i = 0; i < 16; i++)
        dppk[i] = (uint8_t)i;
    CHECK_OK(mcx_dpck(dppk, sizeof dppk, 0xDEADBAADu, MCX_KDF_FC_DPCK, dpck));
    test_unhex("d853d0bd6916ffc9837e2a2012a39491", want, 16);
    CHECK_MEM(dpck, want, 16);
    CHECK_OK(mcx_dpck(dppk, sizeof dppk, 0xDEADBAADu, 0xAA, dpck));
    test_unhex("f8a091b4ef8d650fd3d15b02fddb9917", want, 16);
    CHECK_MEM(dpck, want, 16);

    /* SW v5 "Test 1: GMK": DPPK = GMK, DPPK-ID = the GUK-ID */
    test_unhex("07D1A1677AC36D8E81620484689B3C2D", dppk, sizeof dppk);
    CHECK_OK(mcx_dpck(dppk, sizeof dppk, 0x06A12AEAu, MCX_KDF_FC_DPCK, dpck));
    test_unhex("9768340935DB3C2E770F2A3E97A4BB09", want, 16);
    CHECK_MEM(dpck, want, 16);

    /* the rightmost 16 octets of the KDF output */
    uint8_t id[4] = {0xDE, 0xAD, 0xBA, 0xAD}, full[32];
    mcx_kdf_param p0 = {id, 4};
    CHECK_OK(mcx_kdf(dppk, sizeof dppk, MCX_KDF_FC_DPCK, &p0, 1, full));
    CHECK_OK(mcx_dpck(dppk, sizeof dppk, 0xDEADBAADu, MCX_KDF_FC_DPCK, dpck));
    CHECK_MEM(dpck, full + 16, 16);
}

static void dpck_rejects_bad_arguments(void)
{
    uint8_t dppk[16] = {0}, dpck[16];
    CHECK_ST(mcx_dpck(NULL, 16, 1, 0x53, dpck), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "DPCK: ", 6) == 0);
    CHECK_ST(mcx_dpck(dppk, 16, 1, 0x53, NULL), MCX_E_ARG);
    CHECK_ST(mcx_dpck(dppk, 0, 1, 0x53, dpck), MCX_E_LENGTH);
}

/* KDF(XPK, 0x51 / 0x52, P0 = "sip:alice@example.org", P1 = 3abcdef0), rightmost 16 octets;
 * computed with Python's hmac module. */
static void xpk_keys_known_answers(void)
{
    uint8_t xpk[16], conf[16], integ[16], want[16];
    test_unhex("00112233445566778899aabbccddeeff", xpk, sizeof xpk);
    CHECK_OK(mcx_xpk_keys(xpk, sizeof xpk, 0x3ABCDEF0u, "sip:alice@example.org", conf, integ));
    test_unhex("7881dbcb567619052fc31ef200fa5810", want, 16);
    CHECK_MEM(conf, want, 16);
    test_unhex("e5070611819bf20170f35cb1c64645a0", want, 16);
    CHECK_MEM(integ, want, 16);

    /* agrees with mcx_kdf for another key, ID and URI */
    uint8_t key[32], id[4] = {0x30, 0x00, 0x00, 0x07}, full[32];
    memset(key, 0x42, sizeof key);
    const char *uri = "sip:mcptt-server@example.net";
    mcx_kdf_param p[2] = {{(const uint8_t *)uri, strlen(uri)}, {id, 4}};
    CHECK_OK(mcx_xpk_keys(key, sizeof key, 0x30000007u, uri, conf, integ));
    CHECK_OK(mcx_kdf(key, sizeof key, MCX_KDF_FC_XPK_CONF, p, 2, full));
    CHECK_MEM(conf, full + 16, 16);
    CHECK_OK(mcx_kdf(key, sizeof key, MCX_KDF_FC_XPK_INTEG, p, 2, full));
    CHECK_MEM(integ, full + 16, 16);
}

static void xpk_keys_rejects_bad_arguments(void)
{
    uint8_t xpk[16] = {0}, conf[16], integ[16];
    const char *uri = "sip:a@b";
    CHECK_ST(mcx_xpk_keys(NULL, 16, 1, uri, conf, integ), MCX_E_ARG);
    CHECK(strncmp(mcx_last_error(), "XPK: ", 5) == 0);
    CHECK_ST(mcx_xpk_keys(xpk, 16, 1, NULL, conf, integ), MCX_E_ARG);
    CHECK_ST(mcx_xpk_keys(xpk, 16, 1, uri, NULL, integ), MCX_E_ARG);
    CHECK_ST(mcx_xpk_keys(xpk, 16, 1, uri, conf, NULL), MCX_E_ARG);
    CHECK_ST(mcx_xpk_keys(xpk, 0, 1, uri, conf, integ), MCX_E_LENGTH);
    CHECK_ST(mcx_xpk_keys(xpk, 16, 1, long_uri(65536), conf, integ), MCX_E_LENGTH);
    CHECK_OK(mcx_xpk_keys(xpk, 16, 1, long_uri(65535), conf, integ));
}

int main(void)
{
    RUN(key_type_names);
    RUN(key_id_new);
    RUN(guk_id_known_answers);
    RUN(guk_id_keeps_purpose_tag);
    RUN(guk_id_rejects_bad_arguments);
    RUN(srtp_master_known_answers);
    RUN(srtp_master_matches_prf);
    RUN(srtp_master_rejects_bad_arguments);
    RUN(dpck_known_answers);
    RUN(dpck_rejects_bad_arguments);
    RUN(xpk_keys_known_answers);
    RUN(xpk_keys_rejects_bad_arguments);
    return test_summary();
}
