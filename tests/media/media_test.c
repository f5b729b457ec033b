/* Group and private call media (include/mcxsec/media.h, TS 33.180 §7.4, RFC 7714):
 * - RFC 7714 §16.1 through libsrtp2's AES-GCM, and mcxsec's packets against an independent
 *   RFC 3711 §4.3 KDF + RFC 7714 §8 construction (OpenSSL) checked on the published vectors;
 * - the Etherstack GUK-ID / SRTP key vectors (mcx_3gpp.txt);
 * - two senders with the same SSRC and sequence numbers, late entry, sequence number wrap with a
 *   late joiner after it (ROC hint), tamper / replay / unknown MKI / truncation with the counters,
 *   key removal, private calls, what a GUK-ID collision means;
 * - 10,000 members x 8 streams (4 GMKs x CS-ID 4 and 5): every (key, salt) distinct. */
#include <openssl/evp.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/valgrind.h>

#include "mcxsec/kdf.h"
#include "mcxsec/keys.h"
#include "mcxsec/media.h"
#include "mcxsec/mem.h"
#include "test.h"
#include "vecfile.h"

/* libsrtp2's AES-128-GCM cipher type: exported by the library, not declared in its headers */
extern const srtp_cipher_type_t srtp_aes_gcm_128;

#define PKT_CAP 2048

static const uint8_t GMK[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f};
static const uint32_t GMK_ID = 0x0ABCDEF1;
static const uint8_t RAND[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const char *const MEMBERS[] = {"sip:alice@example.org", "sip:bob@example.org",
                                      "sip:carol@example.org"};
#define N_MEMBERS 3

static vec_file *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", MCX_VECTOR_DIR, name);
    return vec_load(path);
}

/* ---- independent oracle: RFC 3711 §4.3 KDF (AES-CM PRF) and RFC 7714 §8 AES-GCM ---- */

static void aes_ecb(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    CHECK(c != NULL && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) == 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    CHECK(EVP_EncryptUpdate(c, out, &n, in, 16) == 1 && n == 16);
    EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 §4.3.1 with kdr 0: x = label << 48 XOR master salt (112 bits, a 96-bit salt padded
 * with zeros on the right, RFC 7714 §11); out = AES-CM(master key, x || 0x0000) keystream. */
static void oracle_kdf(const uint8_t mkey[16], const uint8_t *msalt, size_t msalt_len,
                       uint8_t label, uint8_t *out, size_t out_len)
{
    uint8_t x[16] = {0};
    memcpy(x, msalt, msalt_len);
    x[7] ^= label;
    for (size_t off = 0, ctr = 0; off < out_len; off += 16, ctr++) {
        uint8_t block[16], ks[16];
        memcpy(block, x, 16);
        block[14] = (uint8_t)(ctr >> 8);
        block[15] = (uint8_t)ctr;
        aes_ecb(mkey, block, ks);
        memcpy(out + off, ks, out_len - off < 16 ? out_len - off : 16);
    }
}

/* RFC 7714 §8.1: IV = salt XOR (00 00 || SSRC || ROC || SEQ); AAD = the RTP header; output =
 * header || ciphertext || tag. */
static size_t oracle_gcm(const uint8_t key[16], const uint8_t salt[12], uint32_t roc,
                         const uint8_t *rtp, size_t len, size_t hdr_len, uint8_t *out,
                         uint8_t iv_out[12])
{
    uint8_t iv[12] = {0};
    memcpy(iv + 2, rtp + 8, 4);
    iv[6] = (uint8_t)(roc >> 24);
    iv[7] = (uint8_t)(roc >> 16);
    iv[8] = (uint8_t)(roc >> 8);
    iv[9] = (uint8_t)roc;
    iv[10] = rtp[2];
    iv[11] = rtp[3];
    for (int i = 0; i < 12; i++)
        iv[i] ^= salt[i];
    if (iv_out != NULL)
        memcpy(iv_out, iv, 12);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    CHECK(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv) == 1);
    CHECK(EVP_EncryptUpdate(c, NULL, &n, rtp, (int)hdr_len) == 1);
    memcpy(out, rtp, hdr_len);
    CHECK(EVP_EncryptUpdate(c, out + hdr_len, &n, rtp + hdr_len, (int)(len - hdr_len)) == 1);
    CHECK(EVP_EncryptFinal_ex(c, out + hdr_len + n, &m) == 1);
    CHECK(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + len) == 1);
    EVP_CIPHER_CTX_free(c);
    return len + 16;
}

static void test_oracle_on_published_vectors(void)
{
    /* the oracle's KDF against RFC 3711 B.3, its AEAD against RFC 7714 §16.1 */
    vec_file *f = load("rfc3711_srtp.txt");
    const vec_section *s = &f->sections[0];
    uint8_t mk[16], ms[14], want[16], got[16];
    vec_hex(s, "b3_master_key", mk, sizeof mk);
    vec_hex(s, "b3_master_salt", ms, sizeof ms);
    vec_hex(s, "b3_cipher_key", want, sizeof want);
    oracle_kdf(mk, ms, 14, 0x00, got, 16);
    CHECK_MEM(got, want, 16);
    vec_hex(s, "b3_cipher_salt", want, 14);
    oracle_kdf(mk, ms, 14, 0x02, got, 14);
    CHECK_MEM(got, want, 14);
    vec_free(f);

    f = load("rfc7714_aes128gcm.txt");
    s = &f->sections[0];
    uint8_t key[16], salt[12], iv_want[12], iv[12], plain[256], prot[256], out[256];
    vec_hex(s, "key", key, sizeof key);
    vec_hex(s, "salt", salt, sizeof salt);
    vec_hex(s, "rtp_iv", iv_want, sizeof iv_want);
    size_t pl = vec_hex(s, "rtp_plain_packet", plain, sizeof plain);
    size_t prl = vec_hex(s, "rtp_protected_packet", prot, sizeof prot);
    CHECK(oracle_gcm(key, salt, 0, plain, pl, 12, out, iv) == prl);
    CHECK_MEM(iv, iv_want, 12);
    CHECK_MEM(out, prot, prl);
    vec_free(f);
}

static void test_rfc7714_through_libsrtp2(void)
{
    /* RFC 7714 §16.1 with libsrtp2's own AES-128-GCM (the cipher type the AEAD_AES_128_GCM
     * policy selects): same ciphertext and tag as the RFC */
    vec_file *f = load("rfc7714_aes128gcm.txt");
    const vec_section *s = &f->sections[0];
    uint8_t key[28] = {0}, iv[12], plain[256], prot[256];
    vec_hex(s, "key", key, 16);
    vec_hex(s, "salt", key + 16, 12);
    vec_hex(s, "rtp_iv", iv, sizeof iv);
    size_t pl = vec_hex(s, "rtp_plain_packet", plain, sizeof plain);
    size_t prl = vec_hex(s, "rtp_protected_packet", prot, sizeof prot);
    mcx_media_receiver *init = NULL; /* initialises libsrtp2 */
    CHECK_OK(mcx_media_receiver_new(&init, NULL));
    mcx_media_receiver_free(init);
    srtp_cipher_t *c = NULL;
    CHECK(srtp_cipher_type_alloc(&srtp_aes_gcm_128, &c, 28, 16) == srtp_err_status_ok);
    CHECK(srtp_cipher_init(c, key) == srtp_err_status_ok);
    CHECK(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt) == srtp_err_status_ok);
    CHECK(srtp_cipher_set_aad(c, plain, 12) == srtp_err_status_ok);
    uint32_t n = (uint32_t)(pl - 12);
    CHECK(srtp_cipher_encrypt(c, plain + 12, &n) == srtp_err_status_ok);
    uint32_t tl = 16;
    CHECK(srtp_cipher_get_tag(c, plain + pl, &tl) == srtp_err_status_ok && tl == 16);
    CHECK(pl + 16 == prl);
    CHECK_MEM(plain, prot, prl);
    srtp_cipher_dealloc(c);

    /* the whole path as mcxsec configures libsrtp2: master key/salt through the RFC 3711 KDF,
     * RFC 7714 AEAD, MKI after the tag; byte-identical to the oracle's packet plus the MKI */
    mcx_media_keys k;
    memset(&k, 0, sizeof k);
    memcpy(k.master_key, key, 16);
    memcpy(k.master_salt, key + 16, 12);
    k.mki_len = 8;
    memcpy(k.mki, "\x0a\xbc\xde\xf1\x01\x02\x03\x04", 8);
    mcx_media_sender *snd = NULL;
    CHECK_OK(mcx_media_sender_new(&snd, &k));
    uint8_t pkt[PKT_CAP], oracle[PKT_CAP];
    pl = vec_hex(s, "rtp_plain_packet", plain, sizeof plain);
    memcpy(pkt, plain, pl);
    size_t out_len = 0;
    CHECK_OK(mcx_media_protect(snd, pkt, pl, sizeof pkt, &out_len));
    CHECK(out_len == pl + 16 + 8);
    uint8_t sk[16], ss[12];
    oracle_kdf(k.master_key, k.master_salt, 12, 0x00, sk, 16); /* SRTP encryption key */
    oracle_kdf(k.master_key, k.master_salt, 12, 0x02, ss, 12); /* SRTP salt */
    CHECK(oracle_gcm(sk, ss, 0, plain, pl, 12, oracle, NULL) == pl + 16);
    CHECK_MEM(pkt, oracle, pl + 16);
    CHECK_MEM(pkt + pl + 16, k.mki, 8); /* RFC 7714 §8.2: MKI after the tag */
    mcx_media_sender_free(snd);
    vec_free(f);
}

static void test_etherstack_vectors(void)
{
    vec_file *f = load("mcx_3gpp.txt");
    const vec_section *s = &f->sections[0];
    uint8_t gmk[16], gmk_id_b[4], rand[16];
    vec_hex(s, "eth_gmk", gmk, sizeof gmk);
    vec_hex(s, "eth_gmk_id", gmk_id_b, 4);
    size_t rl = vec_hex(s, "eth_rand", rand, sizeof rand);
    uint32_t gmk_id = (uint32_t)gmk_id_b[0] << 24 | (uint32_t)gmk_id_b[1] << 16 |
                      (uint32_t)gmk_id_b[2] << 8 | gmk_id_b[3];
    for (int u = 1; u <= 3; u++) {
        char name[64];
        uint8_t user[128] = {0}, guk[4], key[16], salt[12];
        snprintf(name, sizeof name, "eth%d_user", u);
        vec_hex(s, name, user, sizeof user - 1);
        snprintf(name, sizeof name, "eth%d_guk_id", u);
        vec_hex(s, name, guk, 4);
        snprintf(name, sizeof name, "eth%d_srtp_master_key", u);
        vec_hex(s, name, key, 16);
        snprintf(name, sizeof name, "eth%d_srtp_master_salt", u);
        vec_hex(s, name, salt, 12);
        mcx_media_keys k;
        CHECK_OK(mcx_media_group_keys(gmk, 16, gmk_id, rand, rl, (const char *)user,
                                      MCX_CS_MCPTT_GROUP, &k));
        CHECK_MEM(k.master_key, key, 16);
        CHECK_MEM(k.master_salt, salt, 12);
        CHECK(k.mki_len == 8);
        CHECK_MEM(k.mki, gmk_id_b, 4);
        CHECK_MEM(k.mki + 4, guk, 4);
        CHECK(k.key_id == gmk_id && k.cs_id == 4);
        mcx_memzero(&k, sizeof k);
    }
    /* the CS-ID enters the label: MCVideo keys differ from MCPTT keys */
    mcx_media_keys a, b;
    CHECK_OK(
        mcx_media_group_keys(gmk, 16, gmk_id, rand, rl, "sip:p25user01@etherstack.com", 4, &a));
    CHECK_OK(
        mcx_media_group_keys(gmk, 16, gmk_id, rand, rl, "sip:p25user01@etherstack.com", 5, &b));
    CHECK(memcmp(a.master_key, b.master_key, 16) != 0);
    CHECK(memcmp(a.mki, b.mki, 8) == 0);
    /* argument checks */
    CHECK_ST(mcx_media_group_keys(gmk, 16, gmk_id, rand, rl, "x", 6, &a), MCX_E_ARG);
    CHECK_ST(mcx_media_group_keys(gmk, 16, 0x11BF9D37, rand, rl, "x", 4, &a), MCX_E_ARG);
    CHECK_ST(mcx_media_group_keys(gmk, 16, gmk_id, rand, 0, "x", 4, &a), MCX_E_LENGTH);
    CHECK_ST(mcx_media_group_keys(gmk, 0, gmk_id, rand, rl, "x", 4, &a), MCX_E_LENGTH);
    CHECK_ST(mcx_media_private_keys(gmk, 16, gmk_id, rand, rl, 0, &a), MCX_E_ARG);
    CHECK_ST(mcx_media_private_keys(gmk, 16, 0x11BF9D37, rand, rl, 4, &a), MCX_E_ARG);
    /* private call: csb_id = PCK-ID, MKI = PCK-ID (TS 33.180 §7.4.1) */
    uint8_t key[16], salt[12];
    CHECK_OK(mcx_media_private_keys(gmk, 16, 0x11BF9D37, rand, rl, 0, &a));
    CHECK_OK(mcx_srtp_master(gmk, 16, 0, 0x11BF9D37, rand, rl, key, 16, salt, 12));
    CHECK_MEM(a.master_key, key, 16);
    CHECK_MEM(a.master_salt, salt, 12);
    CHECK(a.mki_len == 4 && memcmp(a.mki, "\x11\xbf\x9d\x37", 4) == 0);
    vec_free(f);
}

/* An RTP packet: V=2, PT 96, seq, timestamp 160 * seq, ssrc, payload of n octets. */
static size_t rtp_packet(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t n, uint8_t fill)
{
    uint32_t ts = 160u * seq;
    p[0] = 0x80;
    p[1] = 96;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = (uint8_t)(ssrc >> 24);
    p[9] = (uint8_t)(ssrc >> 16);
    p[10] = (uint8_t)(ssrc >> 8);
    p[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < n; i++)
        p[12 + i] = (uint8_t)(fill + i + seq);
    return 12 + n;
}

static mcx_media_sender *group_sender(const char *uri, uint8_t cs_id)
{
    mcx_media_sender *s = NULL;
    CHECK_OK(mcx_media_sender_new_group(&s, GMK, 16, GMK_ID, RAND, 16, uri, cs_id));
    return s;
}

static mcx_media_receiver *group_receiver(void)
{
    mcx_media_receiver *r = NULL;
    CHECK_OK(mcx_media_receiver_new(&r, NULL));
    CHECK_OK(mcx_media_receiver_add_group_key(r, GMK, 16, GMK_ID, RAND, 16, 4, MEMBERS, N_MEMBERS));
    return r;
}

/* protect one packet; returns its SRTP length and keeps the plaintext in plain */
static size_t send_one(mcx_media_sender *s, uint16_t seq, uint32_t ssrc, uint8_t fill,
                       uint8_t *plain, size_t *plain_len, uint8_t *srtp)
{
    size_t n = rtp_packet(plain, seq, ssrc, 160, fill), out = 0;
    *plain_len = n;
    CHECK_OK(mcx_media_protect_to(s, plain, n, srtp, PKT_CAP, &out));
    return out;
}

static void test_two_senders_same_ssrc(void)
{
    mcx_media_sender *a = group_sender(MEMBERS[0], 4), *b = group_sender(MEMBERS[1], 4);
    mcx_media_receiver *r = group_receiver();
    mcx_media_keys ka, kb;
    CHECK_OK(mcx_media_group_keys(GMK, 16, GMK_ID, RAND, 16, MEMBERS[0], 4, &ka));
    CHECK_OK(mcx_media_group_keys(GMK, 16, GMK_ID, RAND, 16, MEMBERS[1], 4, &kb));
    /* (key, SSRC, index) never repeats across senders: same SSRC and index, different keys */
    CHECK(memcmp(ka.master_key, kb.master_key, 16) != 0);
    CHECK(memcmp(ka.master_salt, kb.master_salt, 12) != 0);
    CHECK(memcmp(ka.mki, kb.mki, 8) != 0);
    for (uint16_t seq = 1; seq <= 50; seq++) {
        uint8_t pa[PKT_CAP], pb[PKT_CAP], sa[PKT_CAP], sb[PKT_CAP], out[PKT_CAP];
        size_t la = 0, lb = 0, n = 0;
        size_t na = send_one(a, seq, 0x11223344, 7, pa, &la, sa);
        size_t nb = send_one(b, seq, 0x11223344, 7, pb, &lb, sb);
        CHECK(la == lb && memcmp(pa, pb, la) == 0); /* same plaintext */
        CHECK(memcmp(sa + 12, sb + 12, la - 12) != 0);
        mcx_media_rx_info info;
        CHECK_OK(mcx_media_unprotect(r, sa, na, out, sizeof out, &n, NULL, &info));
        CHECK(n == la && memcmp(out, pa, la) == 0);
        CHECK(info.sender_uri != NULL && strcmp(info.sender_uri, MEMBERS[0]) == 0);
        CHECK(info.new_sender == (seq == 1) && info.csb_id == ka.csb_id);
        CHECK_OK(mcx_media_unprotect(r, sb, nb, sb, sizeof sb, &n, NULL, &info)); /* in place */
        CHECK(n == lb && memcmp(sb, pb, lb) == 0);
        CHECK(info.sender_uri != NULL && strcmp(info.sender_uri, MEMBERS[1]) == 0);
    }
    /* a sender never protects an index twice (keystream reuse) */
    uint8_t p[PKT_CAP];
    size_t n = rtp_packet(p, 50, 0x11223344, 160, 7), out = 0;
    CHECK_ST(mcx_media_protect(a, p, n, sizeof p, &out), MCX_E_REPLAY);
    mcx_media_stats st, s0, s1;
    mcx_media_receiver_stats(r, &st);
    CHECK(st.packets == 100 && st.senders == 2 && st.octets == 100 * 172);
    CHECK(mcx_media_receiver_senders(r) == 2);
    mcx_media_rx_info i0;
    CHECK_OK(mcx_media_receiver_sender(r, 0, &i0, &s0));
    CHECK_OK(mcx_media_receiver_sender(r, 1, NULL, &s1));
    CHECK(s0.packets == 50 && s1.packets == 50 && strcmp(i0.sender_uri, MEMBERS[0]) == 0);
    CHECK_ST(mcx_media_receiver_sender(r, 2, NULL, NULL), MCX_E_NOT_FOUND);
    mcx_media_sender_free(a);
    mcx_media_sender_free(b);
    mcx_media_receiver_free(r);
}

static void test_late_entry(void)
{
    mcx_media_sender *a = group_sender(MEMBERS[2], 4);
    uint8_t p[PKT_CAP], s[PKT_CAP], out[PKT_CAP];
    size_t pl = 0, n = 0, sl = 0;
    for (uint16_t seq = 100; seq < 1100; seq++) /* 1000 packets nobody receives */
        sl = send_one(a, seq, 0xCAFE0001, 1, p, &pl, s);
    (void)sl;
    mcx_media_receiver *r = group_receiver();
    sl = send_one(a, 1100, 0xCAFE0001, 1, p, &pl, s);
    mcx_media_rx_info info;
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, &info));
    CHECK(n == pl && memcmp(out, p, pl) == 0 && info.new_sender == 1);
    CHECK(strcmp(info.sender_uri, MEMBERS[2]) == 0);
    /* naming the talker (floor control) instead of the member list works as well */
    mcx_media_receiver *r2 = NULL;
    CHECK_OK(mcx_media_receiver_new(&r2, NULL));
    CHECK_OK(mcx_media_receiver_add_group_key(r2, GMK, 16, GMK_ID, RAND, 16, 4, NULL, 0));
    mcx_media_rx_hint hint = {MEMBERS[2], 0, 0};
    sl = send_one(a, 1101, 0xCAFE0001, 1, p, &pl, s);
    CHECK_OK(mcx_media_unprotect(r2, s, sl, out, sizeof out, &n, &hint, &info));
    CHECK(n == pl && memcmp(out, p, pl) == 0);
    mcx_media_sender_free(a);
    mcx_media_receiver_free(r);
    mcx_media_receiver_free(r2);
}

static void test_wrap_and_roc_hint(void)
{
    mcx_media_sender *a = group_sender(MEMBERS[0], 4);
    mcx_media_receiver *r = group_receiver();
    uint8_t p[PKT_CAP], s[PKT_CAP], out[PKT_CAP];
    size_t pl = 0, n = 0, sl = 0;
    uint16_t seq = 65500;
    for (int i = 0; i < 100; i++, seq++) { /* through the wrap: ROC 0 -> 1 */
        sl = send_one(a, seq, 0x5EED0001, 3, p, &pl, s);
        CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));
        CHECK(n == pl && memcmp(out, p, pl) == 0);
    }
    uint32_t roc = 0;
    CHECK_OK(mcx_media_sender_roc(a, 0x5EED0001, &roc));
    CHECK(roc == 1);
    CHECK_ST(mcx_media_sender_roc(a, 0x0BADBAD0, &roc), MCX_E_NOT_FOUND);
    /* a late joiner after the wrap: without the ROC its IV is wrong and the tag fails ... */
    mcx_media_receiver *late = group_receiver();
    sl = send_one(a, seq++, 0x5EED0001, 3, p, &pl, s);
    CHECK_ST(mcx_media_unprotect(late, s, sl, out, sizeof out, &n, NULL, NULL), MCX_E_TAG_INVALID);
    /* ... with the ROC hint it decrypts at once, and goes on without hints */
    mcx_media_rx_hint hint = {NULL, 1, roc};
    sl = send_one(a, seq++, 0x5EED0001, 3, p, &pl, s);
    CHECK_OK(mcx_media_unprotect(late, s, sl, out, sizeof out, &n, &hint, NULL));
    CHECK(n == pl && memcmp(out, p, pl) == 0);
    for (int i = 0; i < 10; i++) {
        sl = send_one(a, seq++, 0x5EED0001, 3, p, &pl, s);
        CHECK_OK(mcx_media_unprotect(late, s, sl, out, sizeof out, &n, NULL, NULL));
        CHECK(n == pl && memcmp(out, p, pl) == 0);
        CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));
    }
    mcx_media_stats st;
    mcx_media_receiver_stats(late, &st);
    CHECK(st.packets == 11 && st.rejected.tag == 1);
    mcx_media_sender_free(a);
    mcx_media_receiver_free(r);
    mcx_media_receiver_free(late);
}

static void test_rejections(void)
{
    mcx_media_sender *a = group_sender(MEMBERS[0], 4);
    mcx_media_receiver *r = group_receiver();
    uint8_t p[PKT_CAP], s[PKT_CAP], t[PKT_CAP], out[PKT_CAP];
    size_t pl = 0, n = 99, sl = send_one(a, 7, 0xABCD0001, 9, p, &pl, s);
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));

    /* tampered ciphertext, tampered tag: refused, nothing delivered (output wiped) */
    sl = send_one(a, 8, 0xABCD0001, 9, p, &pl, s);
    memcpy(t, s, sl);
    t[20] ^= 0x01;
    n = 99;
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, NULL, NULL), MCX_E_TAG_INVALID);
    CHECK(n == 0);
    uint8_t zero[PKT_CAP] = {0};
    CHECK_MEM(out, zero, sl);
    memcpy(t, s, sl);
    t[sl - 9] ^= 0x80; /* last tag octet */
    CHECK_ST(mcx_media_unprotect(r, t, sl, t, sizeof t, &n, NULL, NULL), MCX_E_TAG_INVALID);
    memcpy(t, s, sl);
    t[3] ^= 0x01; /* the header is authenticated (AAD) */
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, NULL, NULL), MCX_E_TAG_INVALID);
    /* the genuine packet still decrypts after the forgeries, once; the second time is a replay */
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));
    CHECK(n == pl && memcmp(out, p, pl) == 0);
    CHECK_ST(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL), MCX_E_REPLAY);

    /* unknown MKI: no GMK with its GMK-ID */
    memcpy(t, s, sl);
    t[sl - 8] ^= 0x01;
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, NULL, NULL), MCX_E_NO_KEY);
    /* a GUK-ID that is no member's: a sender outside the member list */
    mcx_media_sender *x = group_sender("sip:mallory@example.org", 4);
    sl = send_one(x, 1, 0xABCD0002, 9, p, &pl, t);
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, NULL, NULL), MCX_E_UNKNOWN_PEER);
    /* ... unless floor control names that talker */
    mcx_media_rx_hint hint = {"sip:mallory@example.org", 0, 0};
    CHECK_OK(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, &hint, NULL));
    /* the talker named is not the packet's sender */
    mcx_media_sender *c = group_sender(MEMBERS[2], 4);
    sl = send_one(c, 1, 0xABCD0003, 9, p, &pl, t);
    hint.sender_uri = MEMBERS[1];
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, &hint, NULL), MCX_E_UNKNOWN_PEER);
    /* the MKI rewritten to another member's GUK-ID: that member's key, so the tag fails */
    mcx_media_keys kb;
    CHECK_OK(mcx_media_group_keys(GMK, 16, GMK_ID, RAND, 16, MEMBERS[1], 4, &kb));
    memcpy(t + sl - 4, kb.mki + 4, 4);
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, NULL, NULL), MCX_E_TAG_INVALID);

    /* truncated and malformed packets */
    sl = send_one(a, 9, 0xABCD0001, 9, p, &pl, s);
    size_t cuts[] = {0, 1, 11, 12, 12 + 16 + 3, 12 + 16 + 7};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        CHECK_ST(mcx_media_unprotect(r, s, cuts[i], out, sizeof out, &n, NULL, NULL), MCX_E_LENGTH);
    memcpy(t, s, sl);
    t[0] = 0x40; /* version 1 */
    CHECK_ST(mcx_media_unprotect(r, t, sl, out, sizeof out, &n, NULL, NULL), MCX_E_ENCODING);
    memcpy(t, s, sl);
    t[0] = 0x8F; /* 15 CSRCs: header longer than the packet allows */
    CHECK_ST(mcx_media_unprotect(r, t, 12 + 60 + 10, out, sizeof out, &n, NULL, NULL),
             MCX_E_LENGTH);
    /* cut in the middle of the ciphertext: the MKI read is garbage -> unknown key */
    CHECK_ST(mcx_media_unprotect(r, s, sl - 20, out, sizeof out, &n, NULL, NULL), MCX_E_NO_KEY);
    CHECK_ST(mcx_media_unprotect(r, s, sl, out, sl - 1, &n, NULL, NULL), MCX_E_ARG);
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));

    mcx_media_stats st;
    mcx_media_receiver_stats(r, &st);
    CHECK(st.packets == 4);
    CHECK(st.rejected.tag == 4);
    CHECK(st.rejected.replay == 1);
    CHECK(st.rejected.unknown_key == 2);
    CHECK(st.rejected.unknown_sender == 2);
    CHECK(st.rejected.truncated == 8);
    CHECK(st.rejected.other == 1);
    CHECK(st.senders == 3); /* alice, mallory (named), bob (set up for the rewritten MKI) */
    mcx_media_stats sa;
    mcx_media_rx_info ia;
    CHECK_OK(mcx_media_receiver_sender(r, 0, &ia, &sa));
    CHECK(strcmp(ia.sender_uri, MEMBERS[0]) == 0);
    CHECK(sa.packets == 3 && sa.rejected.tag == 3 && sa.rejected.replay == 1);

    /* protect errors */
    n = rtp_packet(p, 10, 0xABCD0001, 160, 0);
    CHECK_ST(mcx_media_protect(a, p, n, n + 23, &pl), MCX_E_LENGTH);
    CHECK_ST(mcx_media_protect(a, p, 11, sizeof p, &pl), MCX_E_LENGTH);
    p[0] = 0x00;
    CHECK_ST(mcx_media_protect(a, p, n, sizeof p, &pl), MCX_E_ENCODING);
    mcx_media_sender_free(a);
    mcx_media_sender_free(x);
    mcx_media_sender_free(c);
    mcx_media_receiver_free(r);
}

static void test_remove_key(void)
{
    mcx_media_sender *a = group_sender(MEMBERS[0], 4);
    mcx_media_receiver *r = group_receiver();
    uint8_t p[PKT_CAP], s[PKT_CAP], out[PKT_CAP];
    size_t pl = 0, n = 0, sl = send_one(a, 1, 0x1, 0, p, &pl, s);
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));
    CHECK_ST(mcx_media_receiver_add_group_key(r, GMK, 16, GMK_ID, RAND, 16, 4, MEMBERS, 1),
             MCX_E_EXISTS);
    CHECK_OK(mcx_media_receiver_remove_key(r, GMK_ID));
    CHECK(mcx_media_receiver_senders(r) == 0);
    sl = send_one(a, 2, 0x1, 0, p, &pl, s);
    CHECK_ST(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL), MCX_E_NO_KEY);
    CHECK_ST(mcx_media_receiver_remove_key(r, GMK_ID), MCX_E_NOT_FOUND);
    mcx_media_stats st;
    mcx_media_receiver_stats(r, &st);
    CHECK(st.rejected.unknown_key == 1 && st.packets == 1);
    /* held again (rekey back): decrypts with fresh state */
    CHECK_OK(mcx_media_receiver_add_group_key(r, GMK, 16, GMK_ID, RAND, 16, 4, MEMBERS, 3));
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));
    CHECK(n == pl && memcmp(out, p, pl) == 0);
    mcx_media_sender_free(a);
    mcx_media_receiver_free(r);
}

static void test_private_call(void)
{
    const uint32_t pck_id = 0x1234ABCD;
    mcx_media_keys ki, kr;
    CHECK_OK(
        mcx_media_private_keys(GMK, 16, pck_id, RAND, 16, MCX_CS_MCPTT_PRIVATE_INITIATOR, &ki));
    CHECK_OK(mcx_media_private_keys(GMK, 16, pck_id, RAND, 16, MCX_CS_MCPTT_PRIVATE_RECEIVER, &kr));
    CHECK(memcmp(ki.master_key, kr.master_key, 16) != 0);
    mcx_media_sender *si = NULL;
    CHECK_OK(mcx_media_sender_new(&si, &ki));
    /* the callee holds the PCK with the initiator's CS-ID, and a group key besides */
    mcx_media_receiver *r = group_receiver();
    CHECK_OK(mcx_media_receiver_add_private_key(r, GMK, 16, pck_id, RAND, 16, 0));
    CHECK_ST(mcx_media_receiver_add_private_key(r, GMK, 16, pck_id, RAND, 16, 1), MCX_E_EXISTS);
    uint8_t p[PKT_CAP], s[PKT_CAP], out[PKT_CAP];
    size_t pl = 0, n = 0;
    for (uint16_t seq = 1; seq <= 5; seq++) {
        size_t sl = send_one(si, seq, 0x77, 0, p, &pl, s);
        CHECK(sl == pl + 16 + 4 && memcmp(s + sl - 4, "\x12\x34\xab\xcd", 4) == 0);
        mcx_media_rx_info info;
        CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, &info));
        CHECK(n == pl && memcmp(out, p, pl) == 0);
        CHECK(info.sender_uri == NULL && info.key_id == pck_id && info.csb_id == pck_id);
    }
    /* group media still decrypts alongside */
    mcx_media_sender *a = group_sender(MEMBERS[1], 4);
    size_t sl = send_one(a, 1, 0x77, 0, p, &pl, s);
    CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL));
    /* the callee's own direction (CS-ID 1) is not what this receiver holds */
    mcx_media_sender *sr = NULL;
    CHECK_OK(mcx_media_sender_new(&sr, &kr));
    sl = send_one(sr, 1, 0x78, 0, p, &pl, s);
    CHECK_ST(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL), MCX_E_TAG_INVALID);
    CHECK_OK(mcx_media_receiver_remove_key(r, pck_id));
    sl = send_one(si, 6, 0x77, 0, p, &pl, s);
    /* without the PCK its 4-octet MKI is read as the tail of a group MKI: unknown */
    CHECK_ST(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, NULL), MCX_E_NO_KEY);
    mcx_media_sender_free(si);
    mcx_media_sender_free(sr);
    mcx_media_sender_free(a);
    mcx_media_receiver_free(r);
}

/* ---- 10,000 members x 8 streams ---- */

#define N_USERS 10000
#define N_GMKS  4

typedef struct derived {
    uint8_t ks[28];
} derived;

static int cmp_derived(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(derived));
}

/* GMK number i and its GMK-ID, deterministic: the KDF of a fixed key over i. */
static void make_gmk(uint32_t i, uint8_t gmk[16], uint32_t *gmk_id)
{
    uint8_t out[MCX_KDF_OUT_BYTES],
        in[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    mcx_kdf_param p = {in, 4};
    CHECK_OK(mcx_kdf(GMK, 16, 0x50, &p, 1, out));
    memcpy(gmk, out, 16);
    *gmk_id =
        ((uint32_t)out[16] << 24 | (uint32_t)out[17] << 16 | (uint32_t)out[18] << 8 | out[19]) &
        0x0FFFFFFFu;
}

static char **make_users(size_t n)
{
    char **u = calloc(n, sizeof *u);
    for (size_t i = 0; i < n; i++) {
        u[i] = malloc(48);
        snprintf(u[i], 48, "sip:user%06zu@mcx.example.org", i);
    }
    return u;
}

static void free_users(char **u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(u[i]);
    free(u);
}

static void test_distinct_keys_10k(void)
{
    /* Under valgrind a tenth of the members (the memcheck twin must stay quick). */
    size_t n_users = RUNNING_ON_VALGRIND ? N_USERS / 10 : N_USERS;
    char **users = make_users(n_users);
    /* Streams: 4 GMKs x CS-ID 4 (MCPTT) and 5 (MCVideo) = 8 per member. A GMK is drawn again
     * when two members' GUK-IDs coincide under it (mcx_media_guk_collisions; with 10,000 members
     * that happens for about one GMK in six, and would give those two members one key). */
    uint8_t gmks[N_GMKS][16];
    uint32_t ids[N_GMKS];
    uint32_t next = 1, redrawn = 0;
    for (int g = 0; g < N_GMKS; g++) {
        for (;;) {
            make_gmk(next++, gmks[g], &ids[g]);
            size_t pairs = 0;
            CHECK_OK(mcx_media_guk_collisions(gmks[g], 16, ids[g], (const char *const *)users,
                                              n_users, &pairs));
            if (pairs == 0)
                break;
            redrawn++;
        }
    }
    size_t total = n_users * N_GMKS * 2, k = 0;
    derived *d = malloc(total * sizeof *d);
    for (int g = 0; g < N_GMKS; g++)
        for (uint8_t cs = 4; cs <= 5; cs++)
            for (size_t u = 0; u < n_users; u++) {
                mcx_media_keys mk;
                CHECK_OK(mcx_media_group_keys(gmks[g], 16, ids[g], RAND, 16, users[u], cs, &mk));
                memcpy(d[k].ks, mk.master_key, 16);
                memcpy(d[k].ks + 16, mk.master_salt, 12);
                k++;
            }
    CHECK(k == total);
    qsort(d, total, sizeof *d, cmp_derived);
    size_t dups = 0;
    for (size_t i = 1; i < total; i++)
        dups += memcmp(d[i - 1].ks, d[i].ks, 28) == 0;
    CHECK(dups == 0);
    printf("  %zu (key, salt) pairs, %zu equal; %u GMK(s) redrawn for a GUK-ID collision\n", total,
           dups, redrawn);
    free(d);
    free_users(users, n_users);
}

static void test_guk_collision(void)
{
    /* Find a GMK under which two of 10,000 members share a GUK-ID (28 bits: expected for about
     * one GMK in six) and show what it means. */
    size_t n_users = RUNNING_ON_VALGRIND ? 0 : N_USERS;
    if (n_users == 0) {
        printf("  skipped under valgrind (10,000 KDFs per GMK tried)\n");
        return;
    }
    char **users = make_users(n_users);
    uint8_t gmk[16];
    uint32_t gmk_id = 0;
    size_t pairs = 0;
    for (uint32_t i = 1000; pairs == 0 && i < 1100; i++) {
        make_gmk(i, gmk, &gmk_id);
        CHECK_OK(
            mcx_media_guk_collisions(gmk, 16, gmk_id, (const char *const *)users, n_users, &pairs));
    }
    CHECK(pairs > 0);
    uint32_t *g = malloc(n_users * sizeof *g);
    size_t u1 = 0, u2 = 0;
    for (size_t i = 0; i < n_users; i++)
        CHECK_OK(mcx_guk_id(gmk, 16, gmk_id, users[i], &g[i]));
    for (size_t i = 0; i < n_users && u2 == 0; i++)
        for (size_t j = i + 1; j < n_users; j++)
            if (g[i] == g[j]) {
                u1 = i;
                u2 = j;
                break;
            }
    CHECK(u2 != 0);
    /* the CSB-ID is the GUK-ID, not the URI: both members send under one SRTP key. This is why
     * a GMS should draw another GMK when mcx_media_guk_collisions finds a pair. */
    mcx_media_keys k1, k2;
    CHECK_OK(mcx_media_group_keys(gmk, 16, gmk_id, RAND, 16, users[u1], 4, &k1));
    CHECK_OK(mcx_media_group_keys(gmk, 16, gmk_id, RAND, 16, users[u2], 4, &k2));
    CHECK(memcmp(&k1, &k2, sizeof k1) == 0);
    mcx_media_sender *s1 = NULL, *s2 = NULL;
    CHECK_OK(mcx_media_sender_new(&s1, &k1));
    CHECK_OK(mcx_media_sender_new(&s2, &k2));
    mcx_media_receiver *r = NULL;
    CHECK_OK(mcx_media_receiver_new(&r, NULL));
    CHECK_OK(mcx_media_receiver_add_group_key(r, gmk, 16, gmk_id, RAND, 16, 4,
                                              (const char *const *)users, n_users));
    /* the receiver decrypts both (other SSRCs), naming the first of the two in the list */
    for (uint16_t seq = 1; seq <= 3; seq++) {
        uint8_t p[PKT_CAP], s[PKT_CAP], out[PKT_CAP];
        size_t pl = 0, n = 0, sl = send_one(s2, seq, 0x42, 0, p, &pl, s);
        mcx_media_rx_info info;
        CHECK_OK(mcx_media_unprotect(r, s, sl, out, sizeof out, &n, NULL, &info));
        CHECK(n == pl && memcmp(out, p, pl) == 0 && strcmp(info.sender_uri, users[u1]) == 0);
        sl = send_one(s1, seq, 0x43, 0, p, &pl, s);
        CHECK_OK(mcx_media_unprotect(r, s, sl, s, sizeof s, &n, NULL, &info));
        CHECK(n == pl && memcmp(s, p, pl) == 0 && strcmp(info.sender_uri, users[u1]) == 0);
    }
    CHECK(mcx_media_receiver_senders(r) == 1);
    printf("  GUK-ID %08X shared by %s and %s: one key for both\n", g[u1], users[u1], users[u2]);
    free(g);
    mcx_media_sender_free(s1);
    mcx_media_sender_free(s2);
    mcx_media_receiver_free(r);
    free_users(users, n_users);
}

int main(void)
{
    RUN(test_oracle_on_published_vectors);
    RUN(test_rfc7714_through_libsrtp2);
    RUN(test_etherstack_vectors);
    RUN(test_two_senders_same_ssrc);
    RUN(test_late_entry);
    RUN(test_wrap_and_roc_hint);
    RUN(test_rejections);
    RUN(test_remove_key);
    RUN(test_private_call);
    RUN(test_distinct_keys_10k);
    RUN(test_guk_collision);
    return test_summary();
}
