/* Helper of kms_xmlsec_test.sh: writes signed / wrapped KMS responses with mcxsec and verifies
 * documents (e.g. signed by the xmlsec1 command) with mcxsec, so that the shell test can check
 * both directions against xmlsec1 and OpenSSL.
 *   kms_xmlsec_tool make TRK INK OUT.xml SSK.bin RSK.bin  signed KmsResponse, keys wrapped
 *   kms_xmlsec_tool plain OUT.xml                          unsigned, unwrapped KmsResponse
 *   kms_xmlsec_tool verify INK TRK|- IN.xml                verify + parse; prints the SSK in hex
 * Key files hold 32 raw octets. Exit 0 on success, 1 on refusal (reason on stderr), 2 on misuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/kms_xml.h"
#include "mcxsec/mem.h"

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void key32(const char *path, uint8_t k[32])
{
    if (slurp(path, k, 32) != 32) {
        fprintf(stderr, "%s: expected 32 octets\n", path);
        exit(2);
    }
}

static int make(int wrapped_signed, const char *trk_path, const char *ink_path, const char *out,
                const char *ssk_path, const char *rsk_path)
{
    uint8_t trk[32], ink[32];
    mcx_kms_key_set *ks = mcx_secure_alloc(sizeof *ks);
    strcpy(ks->kms_uri, "kms.example.org");
    strcpy(ks->user_uri, "sip:alice@example.org");
    ks->user_id_len = 32;
    for (int j = 0; j < 32; j++)
        ks->user_id[j] = (uint8_t)j;
    ks->key_period_no = 1234;
    ks->rsk[0] = 0x04;
    for (int j = 1; j < 257; j++)
        ks->rsk[j] = (uint8_t)(j * 29 + 3);
    for (int j = 0; j < 32; j++)
        ks->ssk[j] = (uint8_t)(0xc0 ^ (j * 11));
    ks->pvt[0] = 0x04;
    for (int j = 1; j < 65; j++)
        ks->pvt[j] = (uint8_t)(j * 5);
    mcx_kms_response r;
    memset(&r, 0, sizeof r);
    strcpy(r.user_uri, "sip:alice@example.org");
    strcpy(r.kms_uri, "kms.example.org");
    r.time = 1700000000;
    strcpy(r.client_req_url, "https://kms.example.org/keymanagement/identity/v1/keyprov");
    r.type = MCX_KMS_MSG_KEYPROV;
    r.key_sets = ks;
    r.n_key_sets = 1;
    char *xml = NULL, *sig = NULL;
    size_t n = 0, sn = 0;
    mcx_status st;
    if (wrapped_signed) {
        key32(trk_path, trk);
        key32(ink_path, ink);
        st = mcx_kms_response_write_wrapped(&r, trk, &xml, &n);
        if (st == MCX_OK)
            st = mcx_kms_response_sign((const uint8_t *)xml, n, ink, &sig, &sn);
    } else {
        st = mcx_kms_response_write(&r, &xml, &n);
    }
    if (st != MCX_OK) {
        fprintf(stderr, "%s: %s\n", mcx_status_name(st), mcx_last_error());
        return 1;
    }
    if (sig)
        spill(out, sig, sn);
    else
        spill(out, xml, n);
    if (ssk_path)
        spill(ssk_path, ks->ssk, sizeof ks->ssk);
    if (rsk_path)
        spill(rsk_path, ks->rsk, sizeof ks->rsk);
    mcx_kms_xml_free(xml);
    mcx_kms_xml_free(sig);
    mcx_secure_free(ks);
    return 0;
}

static int verify(const char *ink_path, const char *trk_path, const char *in)
{
    uint8_t ink[32], trk[32];
    key32(ink_path, ink);
    int have_trk = strcmp(trk_path, "-") != 0;
    if (have_trk)
        key32(trk_path, trk);
    static uint8_t doc[MCX_KMS_XML_MAX_BYTES + 1];
    size_t n = slurp(in, doc, sizeof doc);
    mcx_kms_response r;
    mcx_status st =
        mcx_kms_response_verify(doc, n, MCX_KMS_XML_VALIDATE, ink, have_trk ? trk : NULL, &r);
    if (st != MCX_OK) {
        fprintf(stderr, "%s: %s\n", mcx_status_name(st), mcx_last_error());
        return 1;
    }
    printf("verified %s", r.user_uri);
    if (r.n_key_sets > 0) {
        printf(" ssk=");
        for (size_t i = 0; i < 32; i++)
            printf("%02x", r.key_sets[0].ssk[i]);
    }
    printf("\n");
    mcx_kms_response_free(&r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "make") == 0)
        return make(1, argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc == 3 && strcmp(argv[1], "plain") == 0)
        return make(0, NULL, NULL, argv[2], NULL, NULL);
    if (argc == 5 && strcmp(argv[1], "verify") == 0)
        return verify(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: %s make TRK INK OUT SSK RSK | plain OUT | verify INK TRK|- IN\n",
            argv[0]);
    return 2;
}
