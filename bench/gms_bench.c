/* gms_bench OUT_JSON [MEMBERS] [RUNS]: the GMS engine rekeying a large group, in one process on
 * a real SQLite file (the default store), as mcx-gms does it: a new context, and for every member
 * a GMK I_MESSAGE (SAKKE-encrypted to the member's UID, ECCSI-signed by the GMS, key parameters
 * encrypted under the GMK) built on the GMS's two builder threads, then every message stored in
 * one transaction. The group of MEMBERS (default 10,000) is created once (its first context is
 * the same work), then rekeyed RUNS (default 3) times; the median rekey is gms_rekey_10k_s.
 * Writes {"gms_rekey_10k_s": S, "gms_create_10k_s": S, "gms_members": N} to OUT_JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/gms.h"
#include "mcxsec/keystore.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"

#define PERIOD  2592000u
#define KMS_URI "kms.bench.example"
#define GMS_URI "sip:gms@bench.example"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const char *what)
{
    fprintf(stderr, "gms_bench: %s: %s\n", what, mcx_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: gms_bench OUT_JSON [MEMBERS] [RUNS]\n");
        return 2;
    }
    size_t members = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    if (members < 1 || members > MCX_GMS_MAX_MEMBERS || runs < 1 || runs > 20) {
        fprintf(stderr, "gms_bench: MEMBERS 1..%d, RUNS 1..20\n", MCX_GMS_MAX_MEMBERS);
        return 2;
    }
    char dir[] = "/tmp/mcx-gms-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char ks_path[64], db[64];
    snprintf(ks_path, sizeof ks_path, "%s/ks/gms.ks", dir);
    snprintf(db, sizeof db, "%s/gms.db", dir);

    /* a KMS and the GMS's key set for now */
    uint8_t ksak[MCX_ECCSI_SCALAR_BYTES], z[MCX_SAKKE_SCALAR_BYTES];
    mcx_kms_certificate cert;
    memset(&cert, 0, sizeof cert);
    if (mcx_eccsi_kms_keygen(ksak, cert.kpak) != MCX_OK ||
        mcx_sakke_kms_keygen(z, cert.z) != MCX_OK)
        return die("KMS keys");
    snprintf(cert.version, sizeof cert.version, "1.1.0");
    cert.role = MCX_KMS_ROLE_ROOT;
    snprintf(cert.kms_uri, sizeof cert.kms_uri, "%s", KMS_URI);
    snprintf(cert.user_id_format, sizeof cert.user_id_format, "2");
    cert.user_key_period = PERIOD;
    mcx_keystore *ks = NULL;
    if (mcx_keystore_open(&ks, ks_path, NULL, 0, MCX_KEYSTORE_CREATE) != MCX_OK ||
        mcx_keystore_pin(ks, &cert, MCX_ID_RAW, 0) != MCX_OK)
        return die("keystore");
    mcx_keystore_key_set *set = mcx_secure_alloc(sizeof *set);
    memset(set, 0, sizeof *set);
    snprintf(set->user_uri, sizeof set->user_uri, "%s", GMS_URI);
    snprintf(set->kms_uri, sizeof set->kms_uri, "%s", KMS_URI);
    int64_t t = (int64_t)time(NULL);
    set->period_no = ((uint64_t)t + 2208988800u) / PERIOD;
    uint8_t id[MCX_ID_MAX_BYTES];
    if (mcx_uid_format2(GMS_URI, KMS_URI, PERIOD, 0, set->period_no, set->uid) != MCX_OK)
        return die("UID");
    size_t idn = mcx_identity_from_uid(set->uid, MCX_ID_RAW, id);
    if (mcx_eccsi_issue(ksak, cert.kpak, id, idn, set->ssk, set->pvt) != MCX_OK ||
        mcx_sakke_issue_rsk(z, sizeof z, id, idn, set->rsk) != MCX_OK ||
        mcx_keystore_add_key_set(ks, set) != MCX_OK)
        return die("GMS key set");
    mcx_secure_free(set);

    uint8_t skey[MCX_GMS_STORAGE_KEY_LEN];
    if (mcx_random(skey, sizeof skey) != MCX_OK)
        return die("storage key");
    mcx_gms_params gp = {GMS_URI, ks, skey, 2, 0};
    mcx_gms *g = NULL;
    mcx_store *st = NULL;
    if (mcx_gms_new(&g, &gp) != MCX_OK || mcx_store_open(&st, db) != MCX_OK ||
        mcx_gms_migrate(st) != MCX_OK)
        return die("GMS");
    char **uris = calloc(members, sizeof *uris);
    for (size_t i = 0; i < members; i++) {
        uris[i] = malloc(48);
        snprintf(uris[i], 48, "sip:member-%06zu@bench.example", i);
    }
    mcx_gms_group_spec spec = {"sip:big@bench.example",   "big",  0, 0, 0,
                               (const char *const *)uris, members};
    double t0 = now_s();
    if (mcx_gms_group_create(g, st, &spec, "bench", t, NULL) != MCX_OK)
        return die("create");
    double create_s = now_s() - t0;
    fprintf(stderr, "gms_bench: group of %zu created in %.2f s\n", members, create_s);
    double rekey[20] = {0};
    for (int r = 0; r < runs; r++) {
        t0 = now_s();
        if (mcx_gms_rekey(g, st, spec.id, "bench", "bench", t, NULL) != MCX_OK)
            return die("rekey");
        rekey[r] = now_s() - t0;
        fprintf(stderr, "gms_bench: rekey %d: %.2f s\n", r + 1, rekey[r]);
    }
    qsort(rekey, (size_t)runs, sizeof rekey[0], cmp_d);
    double med = rekey[runs / 2];
    FILE *f = fopen(argv[1], "w");
    if (f == NULL)
        return 1;
    fprintf(f, "{\"gms_rekey_10k_s\": %.2f, \"gms_create_10k_s\": %.2f, \"gms_members\": %zu}\n",
            med, create_s, members);
    fclose(f);
    printf("gms_rekey_10k_s=%.2f (median of %d, %zu members) create=%.2f\n", med, runs, members,
           create_s);
    for (size_t i = 0; i < members; i++)
        free(uris[i]);
    free(uris);
    mcx_store_close(st);
    mcx_gms_free(g);
    mcx_keystore_free(ks);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
