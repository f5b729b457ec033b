/* Vector family "mcdata" (label mikey): DPCK derivation (TS 33.180 F.1.5), the stand-alone
 * MCData AEAD and the protected key-parameters payload (TS 33.180 §8.5.4, §E.6), over
 * mcdata_protection.txt, through mcx_dpck, mcx_mcdata_*, mcx_kp_open, mcx_kp_decode,
 * mcx_kp_encode and mcx_kp_protect_with_iv.
 *
 * Sections by name:
 *   dpck-*               DPCK from dppk, dppk_id, fc.
 *   mcdata-aes256gcm-*   a fixed AEAD case: ciphertext, tag and the library payload, both ways.
 *   mcdata-roundtrip-*   round trips with random IVs for key128 and key256; with a fixed iv, the
 *                        payloads must equal computed_aes{128,256}_stw_payload.
 *   mcdata-keyparams-*   open computed_payload with dppk (DPPK-ID from the payload, checked
 *                        against computed_dppk_id); every computed_* value is checked; the
 *                        plaintext is decoded, re-encoded, and re-protected with the same IV.
 * An unknown section or entry fails the family, so new cases cannot be skipped silently. */
#include <stdint.h>
#include <string.h>

#include "mcxsec/keyparams.h"
#include "mcxsec/keys.h"
#include "mcxsec/mcdata.h"
#include "runner.h"

#define BUF 4096

typedef struct mcdata_counts {
    unsigned dpck, aead, roundtrip, keyparams;
} mcdata_counts;

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static uint32_t be32(const uint8_t p[4])
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Fails the family on any entry of s not in known (NULL-terminated). */
static int only_known(const vec_section *s, const char *const *known)
{
    int ok = 1;
    for (size_t e = 0; e < s->n_entries; e++) {
        size_t k = 0;
        while (known[k] != NULL && strcmp(known[k], s->entries[e].name) != 0)
            k++;
        if (known[k] == NULL) {
            fprintf(stderr, "mcdata [%s]: unknown entry '%s'\n", s->name, s->entries[e].name);
            test_failed_checks++;
            ok = 0;
        }
    }
    return ok;
}

/* A required entry; fails the family when it is missing. */
static const char *need(const vec_section *s, const char *name)
{
    const char *v = vec_get(s, name);
    if (v == NULL) {
        fprintf(stderr, "mcdata [%s]: entry '%s' missing\n", s->name, name);
        test_failed_checks++;
    }
    return v;
}

/* ---- DPCK ---- */

static void dpck_section(const vec_section *s, mcdata_counts *c)
{
    static const char *const known[] = {"dppk", "dppk_id", "fc", "expected_dpck", NULL};
    if (!only_known(s, known) || !need(s, "dppk") || !need(s, "dppk_id") || !need(s, "fc") ||
        !need(s, "expected_dpck"))
        return;
    uint8_t dppk[64], id[4], fc[1], want[16], got[MCX_DPCK_BYTES];
    size_t n = vec_hex(s, "dppk", dppk, sizeof dppk);
    CHECK(vec_hex(s, "dppk_id", id, sizeof id) == 4);
    CHECK(vec_hex(s, "fc", fc, sizeof fc) == 1);
    CHECK(vec_hex(s, "expected_dpck", want, sizeof want) == 16);
    CHECK_OK(mcx_dpck(dppk, n, be32(id), fc[0], got));
    CHECK_MEM(got, want, 16);
    c->dpck++;
}

/* ---- stand-alone AEAD ---- */

static void aead_fixed_section(const vec_section *s, mcdata_counts *c)
{
    static const char *const known[] = {
        "key", "iv", "pt", "aad", "expected_ct", "expected_tag", "expected_ct_stw_payload", NULL};
    if (!only_known(s, known))
        return;
    static const char *const all[] = {
        "key", "iv", "pt", "aad", "expected_ct", "expected_tag", "expected_ct_stw_payload"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!need(s, all[i]))
            return;
    uint8_t key[32], iv[16], pt[BUF], aad[BUF], ct[BUF], tag[16], want[BUF], out[BUF], back[BUF];
    size_t kl = vec_hex(s, "key", key, sizeof key);
    size_t ivl = vec_hex(s, "iv", iv, sizeof iv);
    size_t pl = vec_hex(s, "pt", pt, sizeof pt);
    size_t al = vec_hex(s, "aad", aad, sizeof aad);
    size_t cl = vec_hex(s, "expected_ct", ct, sizeof ct);
    CHECK(vec_hex(s, "expected_tag", tag, sizeof tag) == 16);
    size_t wl = vec_hex(s, "expected_ct_stw_payload", want, sizeof want);
    unsigned alg = kl == 32 ? MCX_MCDATA_ALG_AES256_GCM : MCX_MCDATA_ALG_AES128_GCM;
    /* the payload is ciphertext || tag || IV */
    CHECK(cl == pl && wl == cl + 16 + ivl);
    if (wl != cl + 16 + ivl)
        return;
    CHECK_MEM(want, ct, cl);
    CHECK_MEM(want + cl, tag, 16);
    CHECK_MEM(want + cl + 16, iv, ivl);
    size_t n = 0, m = 0;
    CHECK_OK(mcx_mcdata_encrypt(alg, key, kl, iv, ivl, aad, al, pt, pl, out, sizeof out, &n));
    CHECK(n == wl);
    CHECK_MEM(out, want, wl);
    CHECK_OK(mcx_mcdata_decrypt(alg, key, kl, ivl, aad, al, want, wl, back, sizeof back, &m));
    CHECK(m == pl);
    CHECK_MEM(back, pt, pl);
    c->aead++;
}

/* One key size of a round-trip section: a random-IV round trip, and with a fixed IV the
 * deterministic payload. */
static void roundtrip_one(const vec_section *s, unsigned alg, const char *key_name,
                          const char *payload_name, mcdata_counts *c)
{
    uint8_t key[32], aad[BUF], out[BUF], back[BUF];
    const char *pt = need(s, "plaintext_ascii");
    if (pt == NULL || !need(s, key_name) || !need(s, "aad"))
        return;
    size_t pl = strlen(pt);
    size_t kl = vec_hex(s, key_name, key, sizeof key);
    size_t al = vec_hex(s, "aad", aad, sizeof aad);
    CHECK(kl == mcx_mcdata_key_bytes(alg));
    size_t n = 0, m = 0;
    CHECK_OK(mcx_mcdata_encrypt_random_iv(alg, key, kl, aad, al, (const uint8_t *)pt, pl, out,
                                          sizeof out, &n));
    CHECK(n == pl + 16 + 12);
    CHECK_OK(mcx_mcdata_decrypt(alg, key, kl, 12, aad, al, out, n, back, sizeof back, &m));
    CHECK(m == pl);
    CHECK_MEM(back, pt, pl);
    c->roundtrip++;

    if (vec_get(s, "iv") == NULL) {
        /* without a fixed IV the file can give no payload */
        CHECK(vec_get(s, payload_name) == NULL);
        return;
    }
    uint8_t iv[16], want[BUF];
    size_t ivl = vec_hex(s, "iv", iv, sizeof iv);
    if (!need(s, payload_name))
        return;
    size_t wl = vec_hex(s, payload_name, want, sizeof want);
    CHECK_OK(mcx_mcdata_encrypt(alg, key, kl, iv, ivl, aad, al, (const uint8_t *)pt, pl, out,
                                sizeof out, &n));
    CHECK(n == wl);
    CHECK_MEM(out, want, wl < n ? wl : n);
    CHECK_OK(mcx_mcdata_decrypt(alg, key, kl, ivl, aad, al, want, wl, back, sizeof back, &m));
    CHECK(m == pl);
    CHECK_MEM(back, pt, pl);
    c->roundtrip++;
}

static void roundtrip_section(const vec_section *s, mcdata_counts *c)
{
    static const char *const known[] = {"plaintext_ascii",
                                        "key128",
                                        "key256",
                                        "aad",
                                        "iv",
                                        "expected",
                                        "computed_aes128_stw_payload",
                                        "computed_aes256_stw_payload",
                                        NULL};
    if (!only_known(s, known))
        return;
    roundtrip_one(s, MCX_MCDATA_ALG_AES128_GCM, "key128", "computed_aes128_stw_payload", c);
    roundtrip_one(s, MCX_MCDATA_ALG_AES256_GCM, "key256", "computed_aes256_stw_payload", c);
}

/* ---- protected key parameters ---- */

static int kp_equal(const mcx_key_params *a, const mcx_key_params *b)
{
    if (a->key_type != b->key_type || a->status != b->status || a->activation != b->activation ||
        a->expiry != b->expiry || a->text_len != b->text_len ||
        memcmp(a->text, b->text, a->text_len) != 0 || a->has_groups != b->has_groups ||
        a->n_groups != b->n_groups)
        return 0;
    for (unsigned i = 0; i < a->n_groups; i++)
        if (a->groups[i].iei != b->groups[i].iei || a->groups[i].len != b->groups[i].len ||
            memcmp(a->groups[i].id, b->groups[i].id, a->groups[i].len) != 0)
            return 0;
    return 1;
}

/* The wrapper layout (keyparams.h): type (1) | date-time (5) | payload ID (4) | seq (1) |
 * algorithm (1) | IV (16) | DPPK-ID (4) | TLV type (1) | TLV length (2) | ciphertext || tag. */
#define W_DATE  1
#define W_IV    12
#define W_DPPK  28
#define W_TLV   32
#define W_CT    35
#define W_AAD   32
#define TAG_LEN 16

static void keyparams_section(const vec_section *s, mcdata_counts *c)
{
    static const char *const known[] = {"dppk",
                                        "expected",
                                        "computed_payload",
                                        "computed_dppk_id",
                                        "computed_dpck",
                                        "computed_iv",
                                        "computed_aad",
                                        "computed_ciphertext",
                                        "computed_tag",
                                        "computed_plaintext",
                                        "computed_tag_valid",
                                        "computed_group_id_ascii",
                                        NULL};
    if (!only_known(s, known))
        return;
    static const char *const all[] = {"dppk",
                                      "computed_payload",
                                      "computed_dppk_id",
                                      "computed_dpck",
                                      "computed_iv",
                                      "computed_aad",
                                      "computed_ciphertext",
                                      "computed_tag",
                                      "computed_plaintext",
                                      "computed_tag_valid"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!need(s, all[i]))
            return;
    CHECK(strcmp(vec_get(s, "computed_tag_valid"), "true") == 0);

    uint8_t dppk[64], payload[BUF], id[4], dpck[16], iv[16], aad[W_AAD], ct[BUF], tag[16],
        plain[BUF], got[BUF];
    size_t kl = vec_hex(s, "dppk", dppk, sizeof dppk);
    size_t n = vec_hex(s, "computed_payload", payload, sizeof payload);
    CHECK(vec_hex(s, "computed_dppk_id", id, 4) == 4);
    CHECK(vec_hex(s, "computed_dpck", dpck, 16) == 16);
    CHECK(vec_hex(s, "computed_iv", iv, 16) == 16);
    CHECK(vec_hex(s, "computed_aad", aad, sizeof aad) == W_AAD);
    size_t cl = vec_hex(s, "computed_ciphertext", ct, sizeof ct);
    CHECK(vec_hex(s, "computed_tag", tag, 16) == 16);
    size_t pl = vec_hex(s, "computed_plaintext", plain, sizeof plain);
    if (n != W_CT + cl + TAG_LEN || cl != pl) {
        fprintf(stderr, "mcdata [%s]: payload of %zu octets, ciphertext %zu, plaintext %zu\n",
                s->name, n, cl, pl);
        test_failed_checks++;
        return;
    }
    uint32_t dppk_id = be32(id);

    /* the pieces sit where the layout says */
    CHECK_MEM(payload, aad, W_AAD);
    CHECK_MEM(payload + W_IV, iv, 16);
    CHECK_MEM(payload + W_DPPK, id, 4);
    CHECK_MEM(payload + W_CT, ct, cl);
    CHECK_MEM(payload + W_CT + cl, tag, TAG_LEN);
    CHECK(payload[W_TLV] == 0 &&
          ((size_t)payload[W_TLV + 1] << 8 | payload[W_TLV + 2]) == cl + TAG_LEN);

    /* DPCK = KDF(DPPK, 0x53, DPPK-ID) */
    uint8_t k[MCX_DPCK_BYTES];
    CHECK_OK(mcx_dpck(dppk, kl, dppk_id, 0x53, k));
    CHECK_MEM(k, dpck, 16);

    /* open: authenticated, decrypted, decoded; equal to decoding the plaintext */
    mcx_key_params opened, decoded;
    mcx_kp_form form = MCX_KP_FORM_LEGACY;
    CHECK_OK(mcx_kp_open(dppk, kl, dppk_id, payload, n, 0, &opened, &form));
    CHECK(form == MCX_KP_FORM_PROTECTED);
    CHECK_OK(mcx_kp_decode(plain, pl, &decoded));
    CHECK(kp_equal(&opened, &decoded));
    const char *group = vec_get(s, "computed_group_id_ascii");
    if (group != NULL) {
        CHECK(decoded.has_groups && decoded.n_groups == 1 &&
              decoded.groups[0].len == strlen(group) &&
              memcmp(decoded.groups[0].id, group, strlen(group)) == 0);
    }
    /* the plaintext re-encodes to itself */
    size_t m = 0;
    CHECK_OK(mcx_kp_encode(&decoded, got, sizeof got, &m));
    CHECK(m == pl);
    CHECK_MEM(got, plain, pl);

    /* re-protect with the same IV and date-time. mcxsec writes message type 0x43; a payload of
     * that type comes out identical. Another type (Alea's 0x40) is in the AAD, so only the tag
     * differs: every other octet is compared and the result must open. */
    uint64_t date_time = 0;
    for (int i = 0; i < 5; i++)
        date_time = date_time << 8 | payload[W_DATE + i];
    CHECK_OK(
        mcx_kp_protect_with_iv(dppk, kl, dppk_id, date_time, iv, plain, pl, got, sizeof got, &m));
    CHECK(m == n);
    if (payload[0] == MCX_KP_WRAP_TYPE_ENCRYPTED) {
        CHECK_MEM(got, payload, n);
    } else {
        CHECK(got[0] == MCX_KP_WRAP_TYPE_ENCRYPTED);
        CHECK_MEM(got + 1, payload + 1, n - 1 - TAG_LEN);
        mcx_key_params again;
        CHECK_OK(mcx_kp_open(dppk, kl, dppk_id, got, m, 0, &again, NULL));
        CHECK(kp_equal(&again, &decoded));
    }
    c->keyparams++;
}

static void mcdata_vectors(const vec_file *f)
{
    mcdata_counts c = {0, 0, 0, 0};
    for (size_t i = 0; i < f->n_sections; i++) {
        const vec_section *s = &f->sections[i];
        if (s->n_entries == 0)
            continue;
        if (starts_with(s->name, "dpck-"))
            dpck_section(s, &c);
        else if (starts_with(s->name, "mcdata-aes256gcm-"))
            aead_fixed_section(s, &c);
        else if (starts_with(s->name, "mcdata-roundtrip-"))
            roundtrip_section(s, &c);
        else if (starts_with(s->name, "mcdata-keyparams-"))
            keyparams_section(s, &c);
        else {
            fprintf(stderr, "mcdata: no handler for section [%s]\n", s->name);
            test_failed_checks++;
        }
    }
    printf("mcdata: %u cases checked (%u DPCK, %u fixed AEAD, %u round trip, %u protected key "
           "parameters)\n",
           c.dpck + c.aead + c.roundtrip + c.keyparams, c.dpck, c.aead, c.roundtrip, c.keyparams);
    CHECK(c.dpck >= 2 && c.aead >= 1 && c.roundtrip >= 8 && c.keyparams >= 4);
}

VEC_FAMILY_LABEL(mcdata, "mikey", "mcdata_protection.txt", mcdata_vectors)
