/* mcx-bench: medians of the crypto core's operations, single thread, after warm-up, with the
 * field multiplications each needs (so the distance to the arithmetic floor is visible), next to
 * the same operations in wolfSSL (the wolf_peer test tool, run as a separate process).
 *
 *   mcx-bench [--iterations N] [--json FILE] [--no-peer]
 *
 * Prints a table and writes one JSON object of medians in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"

typedef struct result {
    const char *key;   /* JSON name, e.g. "sakke_decap_us" */
    const char *label; /* table text */
    double target_us;  /* 0: none */
    double us;
    double muls; /* field multiplications per operation (SAKKE) */
    double wolf_us;
} result;

static result results[] = {
    {"field_mul_us", "field multiplication (1024-bit)", 0, 0, 1, 0},
    {"pairing_us", "pairing <R,Q> (RFC 6508 3.2)", 0, 0, 0, 0},
    {"sakke_encap_us", "SAKKE encapsulate, new identity", 1000, 0, 0, 0},
    {"sakke_decap_us", "SAKKE decapsulate", 2500, 0, 0, 0},
    {"rsk_validate_us", "RSK validation + receiver tables", 6000, 0, 0, 0},
    {"rsk_issue_us", "RSK issue (KMS)", 400, 0, 0, 0},
    {"eccsi_sign_us", "ECCSI sign", 30, 0, 0, 0},
    {"eccsi_verify_us", "ECCSI verify, first contact", 100, 0, 0, 0},
    {"eccsi_verify_cached_us", "ECCSI verify, cached sender", 0, 0, 0, 0},
    {"ssk_issue_us", "SSK+PVT issue (KMS)", 20, 0, 0, 0},
};
#define N_RESULTS (sizeof results / sizeof results[0])

static result *res(const char *key)
{
    for (size_t i = 0; i < N_RESULTS; i++)
        if (strcmp(results[i].key, key) == 0)
            return &results[i];
    abort();
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "mcx-bench: %s failed: %s\n", what, mcx_last_error());
    exit(1);
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != MCX_OK)                                                                      \
            die(#call);                                                                            \
    } while (0)

/* Time body n times after n/10 + 1 warm-up runs; record the median and the mean number of field
 * multiplications per run. */
#define MEASURE(key, n, body)                                                                      \
    do {                                                                                           \
        double *t_ = malloc(sizeof(double) * (size_t)(n));                                         \
        if (t_ == NULL)                                                                            \
            abort();                                                                               \
        for (int w_ = 0; w_ < (n) / 10 + 1; w_++) {                                                \
            body;                                                                                  \
        }                                                                                          \
        uint64_t m0_ = fp_mul_count;                                                               \
        for (int i_ = 0; i_ < (n); i_++) {                                                         \
            double s_ = now_us();                                                                  \
            body;                                                                                  \
            t_[i_] = now_us() - s_;                                                                \
        }                                                                                          \
        res(key)->muls = (double)(fp_mul_count - m0_) / (n);                                       \
        res(key)->us = median(t_, (n));                                                            \
        free(t_);                                                                                  \
    } while (0)

static void random_id(uint8_t id[32])
{
    OK(mcx_random(id, 32));
}

static void bench_field(int n)
{
    sakke_params_init();
    fp a = sakke_P.x, b = sakke_P.y;
    double *t = malloc(sizeof(double) * (size_t)n);
    if (t == NULL)
        abort();
    for (int i = 0; i < n + n / 10; i++) {
        double s = now_us();
        for (int k = 0; k < 1000; k++)
            fp_mul(&a, &a, &b, &sakke_p);
        if (i >= n / 10)
            t[i - n / 10] = (now_us() - s) / 1000;
    }
    res("field_mul_us")->us = median(t, n);
    free(t);
    if (a.v[0] == 42) /* keep the loop */
        puts("");
}

static void bench_sakke(int n)
{
    uint8_t z[MCX_SAKKE_SCALAR_BYTES], Z[MCX_SAKKE_POINT_BYTES], rsk[MCX_SAKKE_POINT_BYTES];
    uint8_t id[32], ssv[16], sed[MCX_SAKKE_SED_BYTES(16)], out[32];
    size_t sed_len = 0, out_len = 0;
    OK(mcx_sakke_kms_keygen(z, Z));
    mcx_sakke_sender *s = NULL;
    OK(mcx_sakke_sender_new(&s, Z));

    ec_affine R;
    OK(ec_decode(&R, Z, sizeof Z, "Z"));
    fp w;
    MEASURE("pairing_us", n, OK(sakke_pairing(&w, &sakke_P, &R)));

    MEASURE("rsk_issue_us", n, {
        random_id(id);
        OK(mcx_sakke_issue_rsk(z, sizeof z, id, sizeof id, rsk));
    });
    MEASURE("sakke_encap_us", n, {
        random_id(id);
        OK(mcx_random(ssv, sizeof ssv));
        OK(mcx_sakke_encap(s, id, sizeof id, ssv, sizeof ssv, sed, sizeof sed, &sed_len));
    });
    random_id(id);
    OK(mcx_sakke_issue_rsk(z, sizeof z, id, sizeof id, rsk));
    MEASURE("rsk_validate_us", n, {
        mcx_sakke_receiver *r = NULL;
        OK(mcx_sakke_receiver_new(&r, Z, id, sizeof id, rsk));
        mcx_sakke_receiver_free(r);
    });
    mcx_sakke_receiver *r = NULL;
    OK(mcx_sakke_receiver_new(&r, Z, id, sizeof id, rsk));
    OK(mcx_random(ssv, sizeof ssv));
    OK(mcx_sakke_encap(s, id, sizeof id, ssv, sizeof ssv, sed, sizeof sed, &sed_len));
    MEASURE("sakke_decap_us", n, OK(mcx_sakke_decap(r, sed, sed_len, out, sizeof out, &out_len)));
    if (memcmp(out, ssv, sizeof ssv) != 0)
        die("decapsulated SSV check");
    mcx_sakke_receiver_free(r);
    mcx_sakke_sender_free(s);
    mcx_memzero(z, sizeof z);
}

static void bench_eccsi(int n)
{
    uint8_t ksak[32], kpak[65], ssk[32], pvt[65], id[32], msg[100], sig[129];
    OK(mcx_eccsi_kms_keygen(ksak, kpak));
    MEASURE("ssk_issue_us", n, {
        random_id(id);
        OK(mcx_eccsi_issue(ksak, kpak, id, sizeof id, ssk, pvt));
    });
    mcx_eccsi_signer signer;
    OK(mcx_eccsi_signer_init(&signer, kpak, id, sizeof id, ssk, pvt));
    OK(mcx_random(msg, sizeof msg));
    MEASURE("eccsi_sign_us", n, OK(mcx_eccsi_sign(&signer, msg, sizeof msg, sig)));
    MEASURE("eccsi_verify_us", n,
            OK(mcx_eccsi_verify(kpak, id, sizeof id, msg, sizeof msg, sig, sizeof sig)));
    mcx_eccsi_verifier *v = NULL;
    OK(mcx_eccsi_verifier_new(&v, kpak, 0));
    OK(mcx_eccsi_verifier_verify(v, id, sizeof id, msg, sizeof msg, sig, sizeof sig));
    MEASURE("eccsi_verify_cached_us", n,
            OK(mcx_eccsi_verifier_verify(v, id, sizeof id, msg, sizeof msg, sig, sizeof sig)));
    mcx_eccsi_verifier_free(v);
    mcx_eccsi_signer_wipe(&signer);
    mcx_memzero(ksak, sizeof ksak);
}

/* Run "bench N" in the wolfSSL peer and pick "wolf_<key>": value pairs out of its JSON answer. */
static int bench_peer(int n)
{
#ifdef MCX_WOLF_PEER
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "printf 'bench %d\\n' | '%s'", n, MCX_WOLF_PEER);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return 0;
    static char line[65536];
    int got = 0;
    if (fgets(line, sizeof line, p) != NULL && strncmp(line, "ok ", 3) == 0) {
        for (size_t i = 0; i < N_RESULTS; i++) {
            char key[128];
            snprintf(key, sizeof key, "\"wolf_%s\"", results[i].key);
            const char *at = strstr(line, key);
            if (at != NULL && (at = strchr(at, ':')) != NULL) {
                results[i].wolf_us = strtod(at + 1, NULL);
                got = 1;
            }
        }
    } else {
        fprintf(stderr, "mcx-bench: wolf_peer answered: %s", line);
    }
    pclose(p);
    return got;
#else
    (void)n;
    return 0;
#endif
}

static void print_table(int n, int peer)
{
    printf("\nmcx-bench: medians over %d runs after warm-up, single thread (microseconds)\n\n", n);
    printf("| operation | mcxsec | field muls | floor (muls x mul) | wolfSSL | wolfSSL/mcxsec "
           "| target |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    double mul = res("field_mul_us")->us;
    for (size_t i = 0; i < N_RESULTS; i++) {
        const result *r = &results[i];
        char muls[32] = "", floor_[32] = "", wolf[32] = "", ratio[32] = "", target[32] = "";
        if (r->muls > 0 && i > 0) {
            snprintf(muls, sizeof muls, "%.0f", r->muls);
            snprintf(floor_, sizeof floor_, "%.1f", r->muls * mul);
        }
        if (peer && r->wolf_us > 0) {
            snprintf(wolf, sizeof wolf, "%.1f", r->wolf_us);
            snprintf(ratio, sizeof ratio, "%.1fx", r->wolf_us / r->us);
        }
        if (r->target_us > 0)
            snprintf(target, sizeof target, "%s %.0f", r->us <= r->target_us ? "<=" : "MISSED",
                     r->target_us);
        printf("| %s | %.*f | %s | %s | %s | %s | %s |\n", r->label, r->us < 10 ? 3 : 1, r->us,
               muls, floor_, wolf, ratio, target);
    }
}

static int write_json(const char *path, int peer)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 0;
    }
    fprintf(f, "{");
    for (size_t i = 0; i < N_RESULTS; i++) {
        fprintf(f, "%s\n  \"%s\": %.4f", i ? "," : "", results[i].key, results[i].us);
        if (results[i].muls > 0 && i > 0)
            fprintf(f, ",\n  \"%s_field_muls\": %.0f", results[i].key, results[i].muls);
    }
    for (size_t i = 0; peer && i < N_RESULTS; i++)
        if (results[i].wolf_us > 0)
            fprintf(f, ",\n  \"wolf_%s\": %.4f", results[i].key, results[i].wolf_us);
    fprintf(f, "\n}\n");
    return fclose(f) == 0;
}

int main(int argc, char **argv)
{
    int n = 200, peer = 1;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else if (strcmp(argv[i], "--no-peer") == 0) {
            peer = 0;
        } else {
            fprintf(stderr, "usage: mcx-bench [--iterations N] [--json FILE] [--no-peer]\n");
            return 2;
        }
    }
    if (n < 1) {
        fprintf(stderr, "mcx-bench: --iterations must be at least 1\n");
        return 2;
    }
    fprintf(stderr, "mcx-bench: measuring mcxsec (%d runs per operation)...\n", n);
    bench_field(n);
    bench_sakke(n);
    bench_eccsi(n);
    if (peer) {
        fprintf(stderr, "mcx-bench: measuring wolfSSL through wolf_peer...\n");
        peer = bench_peer(n);
        if (!peer)
            fprintf(stderr, "mcx-bench: wolfSSL peer not available; its column is empty\n");
    }
    print_table(n, peer);
    if (json != NULL) {
        if (!write_json(json, peer))
            return 1;
        printf("\nwrote %s\n", json);
    }
    return 0;
}
