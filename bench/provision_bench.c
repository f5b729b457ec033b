/* provision_bench: the client side of key provisioning, timed inside one process, so that what is
 * measured is mcx_client_provision itself (two HTTPS exchanges with a fresh connection and TLS
 * handshake each, the KmsRequest/KmsResponse XML, the certificate checks and the validation of
 * every key set, TS 33.180 §5.2, §5.3, Annex D) and not process start or argument parsing.
 *
 *   provision_bench KMS_URL USER_URI TOKEN_FILE CA_FILE KEYSTORE_DIR [RUNS]
 *
 * TOKEN_FILE holds the access token (one line). Each run opens a fresh, empty keystore in
 * KEYSTORE_DIR (so the certificate is pinned anew) and keeps the result in memory (no_save): the
 * keystore file write is not part of the figure. After one warm-up run, RUNS (default 20) runs;
 * prints the medians in milliseconds of the total and of its parts:
 *   total_ms=T init_ms=I keyprov_ms=K validate_ms=V runs=N key_sets=S (kept per run) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/keystore.h"
#include "mcxsec/provision.h"

#define MAX_RUNS 1000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return (n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2) / 1000.0;
}

static int read_token(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 0;
    }
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!ok || buf[0] == '\0') {
        fprintf(stderr, "provision_bench: %s: no token\n", path);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: provision_bench KMS_URL USER_URI TOKEN_FILE CA_FILE KEYSTORE_DIR "
                        "[RUNS]\n");
        return 2;
    }
    int runs = argc == 7 ? atoi(argv[6]) : 20;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "provision_bench: RUNS must be 1..%d\n", MAX_RUNS);
        return 2;
    }
    static char token[16384];
    if (!read_token(argv[3], token, sizeof token))
        return 1;
    static uint64_t total[MAX_RUNS], init[MAX_RUNS], keyprov[MAX_RUNS], validate[MAX_RUNS];
    size_t sets = 0;
    for (int i = -1; i < runs; i++) { /* run -1 is the warm-up */
        char path[4096];
        snprintf(path, sizeof path, "%s/keystore-%d.bin", argv[5], i + 1);
        mcx_keystore *ks = NULL;
        mcx_status s = mcx_keystore_open(&ks, path, NULL, 0, MCX_KEYSTORE_CREATE);
        if (s != MCX_OK) {
            fprintf(stderr, "provision_bench: keystore %s: %s (%s)\n", path, mcx_status_name(s),
                    mcx_last_error());
            return 1;
        }
        mcx_provision_params p;
        memset(&p, 0, sizeof p);
        p.kms_url = argv[1];
        p.user_uri = argv[2];
        p.access_token = token;
        p.ca_file = argv[4];
        p.keystore = ks;
        p.id_mode = MCX_ID_RAW;
        p.no_save = 1;
        mcx_provision_result res;
        s = mcx_client_provision(&p, &res);
        mcx_keystore_free(ks);
        if (s != MCX_OK) {
            fprintf(stderr, "provision_bench: run %d: %s (%s)\n", i + 1, mcx_status_name(s),
                    mcx_last_error());
            return 1;
        }
        if (res.n_stored == 0) {
            fprintf(stderr, "provision_bench: run %d: no key set kept\n", i + 1);
            return 1;
        }
        sets = res.n_stored;
        if (i >= 0) {
            total[i] = res.us_total;
            init[i] = res.us_init;
            keyprov[i] = res.us_keyprov;
            validate[i] = res.us_validate;
        }
    }
    printf("total_ms=%.2f init_ms=%.2f keyprov_ms=%.2f validate_ms=%.2f runs=%d key_sets=%zu\n",
           median_ms(total, (size_t)runs), median_ms(init, (size_t)runs),
           median_ms(keyprov, (size_t)runs), median_ms(validate, (size_t)runs), runs, sets);
    return 0;
}
