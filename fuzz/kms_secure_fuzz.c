/* Fuzz target: arbitrary bytes as a signed and/or wrapped TS 33.180 Annex D KmsResponse
 * (D.1: HMAC-SHA-256 signature under the integrity key InK, key material wrapped under the
 * transport key TrK) through the client's checks in include/mcxsec/kms_xml.h:
 *   mcx_kms_response_verify with a fixed InK, without a TrK and with a fixed TrK;
 *   mcx_kms_response_parse_wrapped with the fixed TrK.
 *
 * Oracles:
 *   - every refusal is one of the statuses the header documents, with a reason in
 *     mcx_last_error (never a crash, never MCX_E_INTERNAL or another undocumented status);
 *   - an accepted signed document has signed_form 2, its bounds hold, and verifying the same bytes
 *     again gives the same values (verification is a function of the input);
 *   - whatever was accepted, written again (wrapped under the TrK, then signed under the InK),
 *     verifies and reads back the same values: the library accepts its own output.
 *
 * Seeds (fuzz/corpus/kms_secure_fuzz/) were made with the generator below, a valid signed
 * (plain and wrapped) and a valid wrapped response under the fixed keys, plus truncated copies:
 *   cc -DKMS_SECURE_FUZZ_SEEDS -Iinclude -Isrc fuzz/kms_secure_fuzz.c \
 *      BUILD/lib/libmcxsec_kmsxml.a BUILD/lib/libmcxsec.a \
 *      $(pkg-config --libs xmlsec1-openssl libxml-2.0 libcrypto) -o /tmp/gen && /tmp/gen DIR */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/kms_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed keys every seed was made with: InK 0xa0.., TrK 0x50.. */
static void fixed_keys(uint8_t ink[MCX_KMS_INK_BYTES], uint8_t trk[MCX_KMS_TRK_BYTES])
{
    for (size_t i = 0; i < MCX_KMS_INK_BYTES; i++)
        ink[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < MCX_KMS_TRK_BYTES; i++)
        trk[i] = (uint8_t)(0x50 + i);
}

#ifndef KMS_SECURE_FUZZ_SEEDS

static void str_ok(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

/* A refusal must be documented (kms_xml.h: verify = parse_wrapped's errors + SIG_INVALID) and
 * carry a reason. */
static void refusal_ok(mcx_status s, int verify)
{
    switch (s) {
    case MCX_E_ARG:
    case MCX_E_LENGTH:
    case MCX_E_ENCODING:
    case MCX_E_UNSUPPORTED:
    case MCX_E_NOMEM:
    case MCX_E_TAG_INVALID:
        break;
    case MCX_E_SIG_INVALID:
        if (!verify)
            abort();
        break;
    default:
        abort();
    }
    if (mcx_last_error()[0] == '\0')
        abort();
}

static void bounds_ok(const mcx_kms_response *r)
{
    if (r->n_certs > MCX_KMS_MAX_CERTS || r->n_key_sets > MCX_KMS_MAX_KEY_SETS)
        abort();
    if ((r->n_certs > 0 && r->certs == NULL) || (r->n_key_sets > 0 && r->key_sets == NULL))
        abort();
    str_ok(r->user_uri, sizeof r->user_uri);
    str_ok(r->kms_uri, sizeof r->kms_uri);
    str_ok(r->error_msg, sizeof r->error_msg);
    for (size_t i = 0; i < r->n_key_sets; i++) {
        const mcx_kms_key_set *k = &r->key_sets[i];
        str_ok(k->user_uri, sizeof k->user_uri);
        if (k->user_id_len == 0 || k->user_id_len > MCX_KMS_UID_MAX_BYTES)
            abort();
    }
    for (size_t i = 0; i < r->n_certs; i++)
        if (r->certs[i].n_domains > MCX_KMS_MAX_DOMAINS || r->certs[i].user_key_period == 0)
            abort();
}

static void same_response(const mcx_kms_response *a, const mcx_kms_response *b)
{
    if (strcmp(a->user_uri, b->user_uri) || strcmp(a->kms_uri, b->kms_uri) || a->time != b->time ||
        strcmp(a->client_req_url, b->client_req_url) || strcmp(a->kms_id, b->kms_id) ||
        a->type != b->type || a->n_certs != b->n_certs || a->n_key_sets != b->n_key_sets ||
        a->error_code != b->error_code || strcmp(a->error_msg, b->error_msg))
        abort();
    for (size_t i = 0; i < a->n_key_sets; i++)
        if (memcmp(a->key_sets[i].rsk, b->key_sets[i].rsk, MCX_KMS_RSK_BYTES) ||
            memcmp(a->key_sets[i].ssk, b->key_sets[i].ssk, MCX_KMS_SSK_BYTES) ||
            memcmp(a->key_sets[i].pvt, b->key_sets[i].pvt, MCX_KMS_PVT_BYTES) ||
            a->key_sets[i].user_id_len != b->key_sets[i].user_id_len ||
            memcmp(a->key_sets[i].user_id, b->key_sets[i].user_id, a->key_sets[i].user_id_len) ||
            a->key_sets[i].key_period_no != b->key_sets[i].key_period_no)
            abort();
    for (size_t i = 0; i < a->n_certs; i++)
        if (memcmp(a->certs[i].z, b->certs[i].z, MCX_KMS_Z_BYTES) ||
            memcmp(a->certs[i].kpak, b->certs[i].kpak, MCX_KMS_KPAK_BYTES) ||
            a->certs[i].user_key_period != b->certs[i].user_key_period ||
            strcmp(a->certs[i].kms_uri, b->certs[i].kms_uri))
            abort();
}

/* Write r again (keys wrapped under trk, signed under ink): it must verify and read back equal.
 * The writer may refuse values the reader tolerates (e.g. a year it cannot print): then there is
 * nothing to compare. */
static void rewrite(const mcx_kms_response *r, const uint8_t *ink, const uint8_t *trk)
{
    char *xml = NULL, *sig = NULL;
    size_t n = 0, sn = 0;
    if (mcx_kms_response_write_wrapped(r, trk, &xml, &n) != MCX_OK)
        return;
    if (mcx_kms_response_sign((const uint8_t *)xml, n, ink, &sig, &sn) != MCX_OK)
        abort();
    mcx_kms_response b;
    if (mcx_kms_response_verify((const uint8_t *)sig, sn, 0, ink, trk, &b) != MCX_OK ||
        b.signed_form != 2)
        abort();
    same_response(r, &b);
    mcx_kms_response_free(&b);
    mcx_kms_xml_free(sig);
    mcx_kms_xml_free(xml);
}

static void verify(const uint8_t *data, size_t size, const uint8_t *ink, const uint8_t *trk)
{
    mcx_kms_response r, again;
    uint8_t k[MCX_KMS_INK_BYTES], t[MCX_KMS_TRK_BYTES];
    fixed_keys(k, t);
    mcx_clear_error();
    mcx_status s = mcx_kms_response_verify(data, size, 0, ink, trk, &r);
    if (s != MCX_OK) {
        refusal_ok(s, 1);
        return;
    }
    if (r.signed_form != 2)
        abort();
    bounds_ok(&r);
    /* an accepted signed document re-verifies, to the same values */
    if (mcx_kms_response_verify(data, size, 0, ink, trk, &again) != MCX_OK)
        abort();
    same_response(&r, &again);
    mcx_kms_response_free(&again);
    /* without a TrK only documents with no wrapped key verify; they must verify with one too */
    if (trk == NULL) {
        if (mcx_kms_response_verify(data, size, 0, ink, t, &again) != MCX_OK)
            abort();
        same_response(&r, &again);
        mcx_kms_response_free(&again);
    }
    rewrite(&r, ink, t);
    mcx_kms_response_free(&r);
}

static void parse_wrapped(const uint8_t *data, size_t size, const uint8_t *ink, const uint8_t *trk)
{
    mcx_kms_response r;
    mcx_clear_error();
    mcx_status s = mcx_kms_response_parse_wrapped(data, size, 0, trk, &r);
    if (s != MCX_OK) {
        refusal_ok(s, 0);
        return;
    }
    /* the signature is not checked here: a Signed* form is 1 at most */
    if (r.signed_form == 2)
        abort();
    bounds_ok(&r);
    rewrite(&r, ink, trk);
    mcx_kms_response_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ink[MCX_KMS_INK_BYTES], trk[MCX_KMS_TRK_BYTES];
    fixed_keys(ink, trk);
    verify(data, size, ink, NULL);
    verify(data, size, ink, trk);
    parse_wrapped(data, size, ink, trk);
    mcx_clear_error();
    return 0;
}

#else /* KMS_SECURE_FUZZ_SEEDS: the seed generator (see the top comment) */

#include <stdio.h>

static void put(const char *dir, const char *name, const char *buf, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
        exit(1);
}

/* name.xml, and copies cut to half and to all but the last 20 octets */
static void put_cut(const char *dir, const char *name, const char *buf, size_t n)
{
    char nm[256];
    snprintf(nm, sizeof nm, "%s.xml", name);
    put(dir, nm, buf, n);
    snprintf(nm, sizeof nm, "%s-half.xml", name);
    put(dir, nm, buf, n / 2);
    snprintf(nm, sizeof nm, "%s-cut.xml", name);
    put(dir, nm, buf, n > 20 ? n - 20 : 0);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    uint8_t ink[MCX_KMS_INK_BYTES], trk[MCX_KMS_TRK_BYTES];
    fixed_keys(ink, trk);
    static mcx_kms_key_set ks;
    strcpy(ks.kms_uri, "kms.fire.example");
    strcpy(ks.user_uri, "sip:alice@fire.example");
    ks.user_id_len = 32;
    for (size_t i = 0; i < 32; i++)
        ks.user_id[i] = (uint8_t)(0x30 + i);
    ks.has_valid_from = ks.has_valid_to = 1;
    ks.valid_from = 1767225600; /* 2026-01-01 */
    ks.valid_to = ks.valid_from + 86400;
    ks.key_period_no = 20454;
    for (size_t i = 0; i < MCX_KMS_RSK_BYTES; i++)
        ks.rsk[i] = (uint8_t)(i * 7 + 1);
    ks.rsk[0] = 0x04;
    for (size_t i = 0; i < MCX_KMS_SSK_BYTES; i++)
        ks.ssk[i] = (uint8_t)(i * 13 + 5);
    for (size_t i = 0; i < MCX_KMS_PVT_BYTES; i++)
        ks.pvt[i] = (uint8_t)(i * 3 + 2);
    ks.pvt[0] = 0x04;
    mcx_kms_response r;
    memset(&r, 0, sizeof r);
    strcpy(r.user_uri, "sip:alice@fire.example");
    strcpy(r.kms_uri, "kms.fire.example");
    strcpy(r.client_req_url, "https://127.0.0.1:8443/keymanagement/identity/v1/keyprov");
    r.time = 1767229200;
    r.type = MCX_KMS_MSG_KEYPROV;
    r.key_sets = &ks;
    r.n_key_sets = 1;
    char *plain = NULL, *wrapped = NULL, *s1 = NULL, *s2 = NULL;
    size_t pn = 0, wn = 0, n1 = 0, n2 = 0;
    if (mcx_kms_response_write(&r, &plain, &pn) != MCX_OK ||
        mcx_kms_response_write_wrapped(&r, trk, &wrapped, &wn) != MCX_OK ||
        mcx_kms_response_sign((const uint8_t *)plain, pn, ink, &s1, &n1) != MCX_OK ||
        mcx_kms_response_sign((const uint8_t *)wrapped, wn, ink, &s2, &n2) != MCX_OK) {
        fprintf(stderr, "%s\n", mcx_last_error());
        return 1;
    }
    put_cut(argv[1], "signed-plain", s1, n1);
    put_cut(argv[1], "signed-wrapped", s2, n2);
    put_cut(argv[1], "wrapped", wrapped, wn);
    /* a signed KmsError (the daemon signs refusals to an identity with an InK too) */
    mcx_kms_response e;
    memset(&e, 0, sizeof e);
    strcpy(e.user_uri, "sip:alice@fire.example");
    strcpy(e.kms_uri, "kms.fire.example");
    strcpy(e.client_req_url, r.client_req_url);
    e.time = r.time;
    e.type = MCX_KMS_MSG_ERROR;
    e.error_code = 403;
    strcpy(e.error_msg, "not your identity");
    char *ex = NULL, *es = NULL;
    size_t exn = 0, esn = 0;
    if (mcx_kms_response_write(&e, &ex, &exn) != MCX_OK ||
        mcx_kms_response_sign((const uint8_t *)ex, exn, ink, &es, &esn) != MCX_OK) {
        fprintf(stderr, "%s\n", mcx_last_error());
        return 1;
    }
    put(argv[1], "signed-error.xml", es, esn);
    mcx_kms_xml_free(plain);
    mcx_kms_xml_free(wrapped);
    mcx_kms_xml_free(s1);
    mcx_kms_xml_free(s2);
    mcx_kms_xml_free(ex);
    mcx_kms_xml_free(es);
    return 0;
}

#endif
