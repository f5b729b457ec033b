/* Signed KMS responses and wrapped keys (TS 33.180 D.1; src/kmsxml/secure.c): key wrap against
 * the RFC 3394 / RFC 5649 test vectors and an independent EVP unwrap, wrapped key sets and signed
 * responses round trip and stay schema-valid, and tampered, re-arranged (signature wrapping),
 * re-keyed and unsigned documents are refused with the reason. The xmlsec1 command's side is
 * tests/kmsxml/kms_xmlsec_test.sh. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/kms_xml.h"
#include "mcxsec/mem.h"
#include "test.h"

static uint8_t TRK[32], INK[32];

static void fill_keys(void)
{
    for (int i = 0; i < 32; i++) {
        TRK[i] = (uint8_t)(0x10 + i);
        INK[i] = (uint8_t)(0x80 ^ (i * 5));
    }
}

/* s with the first occurrence of from replaced by to (malloc'ed); NULL if from is absent. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (p == NULL) {
        fprintf(stderr, "replace: '%.60s' not found\n", from);
        test_failed_checks++;
        return NULL;
    }
    size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
    char *r = malloc(a + tl + rest + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, p + fl, rest + 1);
    return r;
}

/* RFC 3394 §4.6 (256-bit KEK, 256-bit key) and RFC 5649 §6 (192-bit KEK is not AES-256, so the
 * padded path is checked against an independent EVP call instead). */
static void test_key_wrap_vectors(void)
{
    uint8_t kek[32], key[32], want[40], out[64], back[64];
    test_unhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", kek, 32);
    test_unhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", key, 32);
    test_unhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
               want, 40);
    size_t n = 0, m = 0;
    int padded = -1;
    CHECK_OK(mcx_kms_key_wrap(kek, key, 32, out, sizeof out, &n, &padded));
    CHECK(n == 40 && padded == 0);
    CHECK_MEM(out, want, 40);
    CHECK_OK(mcx_kms_key_unwrap(kek, 0, out, n, back, sizeof back, &m));
    CHECK(m == 32);
    CHECK_MEM(back, key, 32);
    /* Wrong KEK or a flipped bit: the RFC 3394 §2.2.3 integrity check fails. */
    kek[0] ^= 1;
    CHECK_ST(mcx_kms_key_unwrap(kek, 0, out, n, back, sizeof back, &m), MCX_E_TAG_INVALID);
    kek[0] ^= 1;
    out[39] ^= 0x80;
    CHECK_ST(mcx_kms_key_unwrap(kek, 0, out, n, back, sizeof back, &m), MCX_E_TAG_INVALID);
    CHECK_ST(mcx_kms_key_unwrap(kek, 0, out, 36, back, sizeof back, &m), MCX_E_LENGTH);

    /* 257 octets (the RSK): RFC 5649; unwrap independently with EVP. */
    uint8_t rsk[257], w[300], plain[300];
    for (int i = 0; i < 257; i++)
        rsk[i] = (uint8_t)(i * 13 + 4);
    CHECK_OK(mcx_kms_key_wrap(TRK, rsk, 257, w, sizeof w, &n, &padded));
    CHECK(padded == 1 && n == 272);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    int l1 = 0, l2 = 0;
    CHECK(EVP_DecryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, TRK, NULL) == 1);
    CHECK(EVP_DecryptUpdate(c, plain, &l1, w, (int)n) == 1);
    CHECK(EVP_DecryptFinal_ex(c, plain + l1, &l2) == 1);
    EVP_CIPHER_CTX_free(c);
    CHECK(l1 + l2 == 257);
    CHECK_MEM(plain, rsk, 257);
    CHECK_ST(mcx_kms_key_unwrap(TRK, 1, w, n, back, 64, &m), MCX_E_LENGTH);
    /* Padded data unwrapped as unpadded (or the reverse) fails the check. */
    CHECK(mcx_kms_key_unwrap(TRK, 0, w, n, plain, sizeof plain, &m) != MCX_OK);
    CHECK_ST(mcx_kms_key_wrap(TRK, rsk, 0, w, sizeof w, &n, NULL), MCX_E_LENGTH);
}

static mcx_kms_key_set *make_key_sets(size_t n)
{
    mcx_kms_key_set *ks = mcx_secure_alloc(n * sizeof *ks);
    for (size_t i = 0; i < n; i++) {
        mcx_kms_key_set *k = &ks[i];
        strcpy(k->kms_uri, "kms.example.org");
        strcpy(k->user_uri, "sip:alice@example.org");
        k->user_id_len = 32;
        for (int j = 0; j < 32; j++)
            k->user_id[j] = (uint8_t)(i * 32 + (size_t)j);
        k->key_period_no = 700 + i;
        k->rsk[0] = 0x04;
        for (int j = 1; j < 257; j++)
            k->rsk[j] = (uint8_t)(j * 7 + (int)i);
        for (int j = 0; j < 32; j++)
            k->ssk[j] = (uint8_t)(0xa0 + j + (int)i);
        k->pvt[0] = 0x04;
        for (int j = 1; j < 65; j++)
            k->pvt[j] = (uint8_t)(j * 3 + (int)i);
    }
    return ks;
}

static void fill_response(mcx_kms_response *r, mcx_kms_key_set *ks, size_t n)
{
    memset(r, 0, sizeof *r);
    strcpy(r->user_uri, "sip:alice@example.org");
    strcpy(r->kms_uri, "kms.example.org");
    r->time = 1700000000;
    strcpy(r->client_req_url, "https://kms.example.org/keymanagement/identity/v1/keyprov");
    r->type = MCX_KMS_MSG_KEYPROV;
    r->key_sets = ks;
    r->n_key_sets = n;
}

static void check_sets(const mcx_kms_response *b, const mcx_kms_key_set *ks, size_t n)
{
    CHECK(b->type == MCX_KMS_MSG_KEYPROV && b->n_key_sets == n);
    for (size_t i = 0; i < n && i < b->n_key_sets; i++) {
        CHECK_MEM(b->key_sets[i].rsk, ks[i].rsk, 257);
        CHECK_MEM(b->key_sets[i].ssk, ks[i].ssk, 32);
        CHECK_MEM(b->key_sets[i].pvt, ks[i].pvt, 65);
        CHECK(b->key_sets[i].key_period_no == ks[i].key_period_no);
    }
}

static void test_wrapped_round_trip(void)
{
    mcx_kms_key_set *ks = make_key_sets(2);
    mcx_kms_response r, b;
    fill_response(&r, ks, 2);
    char *xml = NULL;
    size_t n = 0;
    CHECK_OK(mcx_kms_response_write_wrapped(&r, TRK, &xml, &n));
    if (xml == NULL)
        return;
    CHECK(strstr(xml, "xenc:EncryptedKey") != NULL);
    CHECK(strstr(xml, MCX_KMS_XENC_KW_AES256 "\"") != NULL);
    CHECK(strstr(xml, MCX_KMS_XENC_KW_AES256_PAD) != NULL);
    /* No key octets in the clear: the SSK hex must not appear. */
    CHECK(strstr(xml, "A0A1A2A3A4A5") == NULL);
    CHECK_OK(mcx_kms_xml_validate((const uint8_t *)xml, n));
    CHECK_OK(
        mcx_kms_response_parse_wrapped((const uint8_t *)xml, n, MCX_KMS_XML_VALIDATE, TRK, &b));
    check_sets(&b, ks, 2);
    mcx_kms_response_free(&b);
    /* Without a TrK: unsupported, as before. With the wrong TrK: the integrity check fails. */
    CHECK_ST(mcx_kms_response_parse((const uint8_t *)xml, n, 0, &b), MCX_E_UNSUPPORTED);
    uint8_t bad[32];
    memcpy(bad, TRK, 32);
    bad[31] ^= 0x01;
    CHECK_ST(mcx_kms_response_parse_wrapped((const uint8_t *)xml, n, 0, bad, &b),
             MCX_E_TAG_INVALID);
    CHECK(strstr(mcx_last_error(), "UserDecryptKey") != NULL);
    /* Another EncryptionMethod is refused by name. */
    char *t =
        replace(xml, MCX_KMS_XENC_KW_AES256 "\"", "http://www.w3.org/2001/04/xmlenc#aes256-cbc\"");
    if (t) {
        CHECK_ST(mcx_kms_response_parse_wrapped((const uint8_t *)t, strlen(t), 0, TRK, &b),
                 MCX_E_UNSUPPORTED);
        free(t);
    }
    /* An unwrapped SSK of the wrong length (a wrapped 24-octet key) is refused. */
    uint8_t w[64];
    size_t wl = 0;
    CHECK_OK(mcx_kms_key_wrap(TRK, ks[0].ssk, 24, w, sizeof w, &wl, NULL));
    char b64[128];
    EVP_EncodeBlock((unsigned char *)b64, w, (int)wl);
    const char *cv = strstr(xml, MCX_KMS_XENC_KW_AES256 "\"");
    cv = cv ? strstr(cv, "<xenc:CipherValue>") : NULL;
    if (cv) {
        cv += strlen("<xenc:CipherValue>");
        const char *e = strstr(cv, "<");
        char old[128];
        snprintf(old, sizeof old, "%.*s", (int)(e - cv), cv);
        t = replace(xml, old, b64);
        if (t) {
            CHECK_ST(mcx_kms_response_parse_wrapped((const uint8_t *)t, strlen(t), 0, TRK, &b),
                     MCX_E_LENGTH);
            free(t);
        }
        /* Too short to be a wrapped key, and not base64. */
        t = replace(xml, old, "AAAA");
        if (t) {
            CHECK_ST(mcx_kms_response_parse_wrapped((const uint8_t *)t, strlen(t), 0, TRK, &b),
                     MCX_E_LENGTH);
            free(t);
        }
        t = replace(xml, old, "%%%%");
        if (t) {
            CHECK_ST(mcx_kms_response_parse_wrapped((const uint8_t *)t, strlen(t), 0, TRK, &b),
                     MCX_E_ENCODING);
            free(t);
        }
    }
    mcx_kms_xml_free(xml);
    mcx_secure_free(ks);
}

/* Signed and wrapped response, as a KMS would send it. */
static char *signed_doc(size_t *len, mcx_kms_key_set **ks_out)
{
    mcx_kms_key_set *ks = make_key_sets(1);
    mcx_kms_response r;
    fill_response(&r, ks, 1);
    char *xml = NULL, *sig = NULL;
    size_t n = 0;
    CHECK_OK(mcx_kms_response_write_wrapped(&r, TRK, &xml, &n));
    if (xml)
        CHECK_OK(mcx_kms_response_sign((const uint8_t *)xml, n, INK, &sig, len));
    mcx_kms_xml_free(xml);
    *ks_out = ks;
    return sig;
}

static void verify_refused(const char *what, const char *doc, mcx_status want, const char *reason)
{
    mcx_kms_response b;
    mcx_status st = mcx_kms_response_verify((const uint8_t *)doc, strlen(doc), 0, INK, TRK, &b);
    if (st != want || (reason && strstr(mcx_last_error(), reason) == NULL)) {
        fprintf(stderr, "%s: got %s (%s), expected %s with '%s'\n", what, mcx_status_name(st),
                mcx_last_error(), mcx_status_name(want), reason ? reason : "");
        test_failed_checks++;
    }
    if (st == MCX_OK)
        mcx_kms_response_free(&b);
}

static void test_signed_round_trip(void)
{
    mcx_kms_key_set *ks;
    size_t n = 0;
    char *sig = signed_doc(&n, &ks);
    if (sig == NULL)
        return;
    CHECK(strlen(sig) == n);
    CHECK(strstr(sig, "<SignedKmsResponse") != NULL);
    CHECK(strstr(sig, MCX_KMS_DSIG_HMAC_SHA256) != NULL);
    CHECK_OK(mcx_kms_xml_validate((const uint8_t *)sig, n));
    mcx_kms_response b;
    CHECK_OK(mcx_kms_response_verify((const uint8_t *)sig, n, MCX_KMS_XML_VALIDATE, INK, TRK, &b));
    CHECK(b.signed_form == 2);
    check_sets(&b, ks, 1);
    mcx_kms_response_free(&b);
    /* The plain parser still reads it (signature not checked there). */
    CHECK_OK(mcx_kms_response_parse_wrapped((const uint8_t *)sig, n, 0, TRK, &b));
    CHECK(b.signed_form == 1);
    mcx_kms_response_free(&b);
    /* Signed response with the wrong TrK: signature fine, unwrap refused. */
    uint8_t bad[32];
    memcpy(bad, TRK, 32);
    bad[0] ^= 0x40;
    CHECK_ST(mcx_kms_response_verify((const uint8_t *)sig, n, 0, INK, bad, &b), MCX_E_TAG_INVALID);
    /* Wrong InK. */
    memcpy(bad, INK, 32);
    bad[5] ^= 0x01;
    CHECK_ST(mcx_kms_response_verify((const uint8_t *)sig, n, 0, bad, TRK, &b), MCX_E_SIG_INVALID);
    CHECK(strstr(mcx_last_error(), "SignatureValue") != NULL);
    mcx_kms_xml_free(sig);
    mcx_secure_free(ks);

    /* An unsigned error response signs and verifies too. */
    mcx_kms_response e;
    memset(&e, 0, sizeof e);
    strcpy(e.user_uri, "sip:alice@example.org");
    strcpy(e.kms_uri, "kms.example.org");
    strcpy(e.client_req_url, "https://kms.example.org/keymanagement/identity/v1/init");
    e.type = MCX_KMS_MSG_ERROR;
    e.error_code = 401;
    strcpy(e.error_msg, "Unauthorised & <refused>");
    char *x = NULL, *s = NULL;
    CHECK_OK(mcx_kms_response_write(&e, &x, &n));
    if (x)
        CHECK_OK(mcx_kms_response_sign((const uint8_t *)x, n, INK, &s, &n));
    if (s) {
        CHECK_OK(mcx_kms_response_verify((const uint8_t *)s, n, 0, INK, NULL, &b));
        CHECK(b.type == MCX_KMS_MSG_ERROR && strcmp(b.error_msg, e.error_msg) == 0);
        mcx_kms_response_free(&b);
        /* The unsigned document is refused by the verifier. */
        verify_refused("unsigned", x, MCX_E_SIG_INVALID, "not signed");
    }
    mcx_kms_xml_free(x);
    mcx_kms_xml_free(s);
    /* Signing refuses what is not a KmsResponse. */
    const char *req = "<KmsRequest xmlns=\"" MCX_KMS_XML_NS "\"/>";
    CHECK_ST(mcx_kms_response_sign((const uint8_t *)req, strlen(req), INK, &s, &n), MCX_E_ENCODING);
}

static void test_signed_tampered(void)
{
    mcx_kms_key_set *ks;
    size_t n = 0;
    char *sig = signed_doc(&n, &ks);
    if (sig == NULL)
        return;
    /* Change one hex digit of a key (the PVT is hex in the clear). */
    const char *p = strstr(sig, "<UserPubTokenPVT");
    p = p ? strchr(p, '>') : NULL;
    if (p) {
        char *t = strdup(sig);
        char *d = t + (p - sig) + 3;
        *d = *d == 'A' ? 'B' : 'A';
        verify_refused("PVT digit", t, MCX_E_SIG_INVALID, "DigestValue");
        free(t);
    }
    /* Change the Time. */
    char *t = replace(sig, "2023-11-14T22:13:20", "2023-11-14T22:13:21");
    if (t) {
        verify_refused("time", t, MCX_E_SIG_INVALID, "DigestValue");
        free(t);
    }
    /* Move the signature into the KmsResponse. */
    const char *s0 = strstr(sig, "<ds:Signature");
    const char *s1 = strstr(sig, "</ds:Signature>");
    const char *kr = strstr(sig, "</KmsResponse>");
    if (s0 && s1 && kr && kr < s0) {
        s1 += strlen("</ds:Signature>");
        char *sigel = strndup(s0, (size_t)(s1 - s0));
        char *without = strdup(sig);
        memmove(without + (s0 - sig), without + (s1 - sig), strlen(s1) + 1);
        char *moved = malloc(strlen(sig) + 1);
        size_t a = (size_t)(kr - sig);
        memcpy(moved, without, a);
        strcpy(moved + a, sigel);
        strcat(moved, without + a);
        verify_refused("moved signature", moved, MCX_E_SIG_INVALID, "exactly KmsResponse");
        verify_refused("no signature", without, MCX_E_SIG_INVALID, "exactly KmsResponse");
        free(moved);
        free(without);
        free(sigel);
    }
    /* Signature wrapping: an attacker's KmsResponse before the signed one, and the signed one
     * after an attacker's (the parser would read the first). */
    const char *k0 = strstr(sig, "<KmsResponse");
    if (k0 && kr) {
        const char *k1 = kr + strlen("</KmsResponse>");
        char *orig = strndup(k0, (size_t)(k1 - k0));
        char *evil = replace(orig, "sip:alice@example.org", "sip:mallory@example.org");
        char *both = malloc(strlen(sig) + strlen(evil) + 1);
        size_t a = (size_t)(k0 - sig);
        memcpy(both, sig, a);
        strcpy(both + a, evil);
        strcat(both, k0);
        verify_refused("duplicate KmsResponse", both, MCX_E_SIG_INVALID, "exactly KmsResponse");
        /* Evil response in place, the signed one hidden in a foreign-namespace element. */
        char *hidden = malloc(strlen(sig) + strlen(evil) + 64);
        memcpy(hidden, sig, a);
        strcpy(hidden + a, evil);
        strcat(hidden, "<x:Hide xmlns:x=\"urn:x\">");
        strcat(hidden, orig);
        strcat(hidden, "</x:Hide>");
        strcat(hidden, k1);
        verify_refused("hidden KmsResponse", hidden, MCX_E_SIG_INVALID, NULL);
        free(hidden);
        free(both);
        free(evil);
        free(orig);
    }
    /* Reference to something else, another algorithm, a truncated HMAC. */
    t = replace(sig, "URI=\"\"", "URI=\"#x\"");
    if (t) {
        verify_refused("reference", t, MCX_E_SIG_INVALID, "Reference URI");
        free(t);
    }
    t = replace(sig, MCX_KMS_DSIG_HMAC_SHA256 "\"/>",
                "http://www.w3.org/2000/09/xmldsig#hmac-sha1\"/>");
    if (t) {
        verify_refused("hmac-sha1", t, MCX_E_SIG_INVALID, "HMAC-SHA-256");
        free(t);
    }
    t = replace(sig, MCX_KMS_DSIG_HMAC_SHA256 "\"/>",
                MCX_KMS_DSIG_HMAC_SHA256 "\"><ds:HMACOutputLength>128</ds:HMACOutputLength>"
                                         "</ds:SignatureMethod>");
    if (t) {
        verify_refused("truncated hmac", t, MCX_E_SIG_INVALID, "HMACOutputLength");
        free(t);
    }
    /* A flipped SignatureValue character. */
    p = strstr(sig, "<ds:SignatureValue>");
    if (p) {
        char *u = strdup(sig);
        char *d = u + (p - sig) + strlen("<ds:SignatureValue>") + 2;
        *d = *d == 'A' ? 'B' : 'A';
        verify_refused("signature value", u, MCX_E_SIG_INVALID, "SignatureValue");
        free(u);
    }
    mcx_kms_xml_free(sig);
    mcx_secure_free(ks);
}

int main(void)
{
    fill_keys();
    RUN(test_key_wrap_vectors);
    RUN(test_wrapped_round_trip);
    RUN(test_signed_round_trip);
    RUN(test_signed_tampered);
    return test_summary();
}
