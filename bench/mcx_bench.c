/* mcx-bench: medians of the crypto core's operations, single thread, after warm-up, with the
 * field multiplications each needs (so the distance to the arithmetic floor is visible), next to
 * the same operations in wolfSSL (the wolf_peer test tool, run as a separate process), of
 * the MIKEY-SAKKE I_MESSAGE operations built on them (no peer: wolfSSL has no MIKEY), and of the
 * access-token check every MCX service runs per request.
 *
 *   mcx-bench [--iterations N] [--json FILE] [--no-peer] [--service FILE] [--only KEYS]
 *
 * --only takes a comma-separated list of JSON names (e.g. rsk_validate_us,eccsi_verify_us) and
 * measures only those (for profiling one operation; the others are left out of table and JSON).
 * Prints a table and writes one JSON object of medians in microseconds. --service FILE (may be
 * given several times) adds the figures of whole-service runs (scripts/bench-idms: {"token_rps":
 * N}; scripts/bench-kms: {"kms_issue_100k_s", "keyprov_rps", "client_provision_ms"}; gms_bench:
 * {"gms_rekey_10k_s"}; media_bench: {"late_entry_ms", "srtp_overhead_pct"}) to both, each
 * against its target; make bench runs them first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/keys.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/sakke.h"
#include "mcxsec/token.h"
#include "mcxsec/uid.h"

typedef struct result {
    const char *key;   /* JSON name, e.g. "sakke_decap_us" */
    const char *label; /* table text */
    double target_us;  /* 0: none */
    double us;
    double muls; /* field multiplications per operation (SAKKE) */
    double wolf_us;
    int measured;
} result;

static result results[] = {
    {"field_mul_us", "field multiplication (1024-bit)", 0, 0, 1, 0, 0},
    {"pairing_us", "pairing <R,Q> (RFC 6508 3.2)", 0, 0, 0, 0, 0},
    {"sakke_encap_us", "SAKKE encapsulate, new identity", 1000, 0, 0, 0, 0},
    {"sakke_decap_us", "SAKKE decapsulate", 2500, 0, 0, 0, 0},
    {"rsk_validate_us", "RSK validation + receiver tables", 6000, 0, 0, 0, 0},
    {"rsk_issue_us", "RSK issue (KMS)", 400, 0, 0, 0, 0},
    {"eccsi_sign_us", "ECCSI sign", 30, 0, 0, 0, 0},
    {"eccsi_verify_us", "ECCSI verify, first contact", 100, 0, 0, 0, 0},
    {"eccsi_verify_cached_us", "ECCSI verify, cached sender", 0, 0, 0, 0, 0},
    {"ssk_issue_us", "SSK+PVT issue (KMS)", 20, 0, 0, 0, 0},
    {"mikey_open_gmk_us", "MIKEY open GMK I_MESSAGE + SRTP master", 2800, 0, 0, 0, 0},
    {"mikey_build_gmk_us", "MIKEY build GMK I_MESSAGE", 1100, 0, 0, 0, 0},
    {"token_verify_us", "token verify (ES256, cached key)", 100, 0, 0, 0, 0},
};
#define N_RESULTS (sizeof results / sizeof results[0])

static const char *only; /* --only: comma-separated keys, NULL for all */

static int wanted(const char *key)
{
    if (only == NULL)
        return 1;
    size_t n = strlen(key);
    for (const char *at = only; (at = strstr(at, key)) != NULL; at += n)
        if ((at == only || at[-1] == ',') && (at[n] == ',' || at[n] == '\0'))
            return 1;
    return 0;
}

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
        if (!wanted(key))                                                                          \
            break;                                                                                 \
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
        res(key)->measured = 1;                                                                    \
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
    res("field_mul_us")->measured = 1;
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
    if (wanted("sakke_decap_us") && memcmp(out, ssv, sizeof ssv) != 0)
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
    random_id(id); /* the key set used below (also when ssk_issue_us was not measured) */
    OK(mcx_eccsi_issue(ksak, kpak, id, sizeof id, ssk, pvt));
    mcx_eccsi_signer signer;
    OK(mcx_eccsi_signer_init(&signer, kpak, id, sizeof id, ssk, pvt));
    OK(mcx_random(msg, sizeof msg));
    MEASURE("eccsi_sign_us", n, OK(mcx_eccsi_sign(&signer, msg, sizeof msg, sig)));
    OK(mcx_eccsi_sign(&signer, msg, sizeof msg, sig));
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

/* A KMS, a GMS and one group member, keys issued here. */
typedef struct mikey_bench_keys {
    mcx_kms_cert kms;
    uint64_t period_no;
    uint8_t ssk[MCX_ECCSI_SCALAR_BYTES], pvt[MCX_ECCSI_POINT_BYTES]; /* the GMS's */
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];                              /* the member's */
} mikey_bench_keys;

static const char GMS_URI[] = "sip:gms@bench.mcxsec.example";
static const char MEMBER_URI[] = "sip:member@bench.mcxsec.example";

static void mikey_keys(mikey_bench_keys *k)
{
    uint8_t z[MCX_SAKKE_SCALAR_BYTES], ksak[MCX_ECCSI_SCALAR_BYTES];
    uint8_t uid[MCX_UID_BYTES], id[MCX_ID_MAX_BYTES];
    memset(k, 0, sizeof *k);
    snprintf(k->kms.uri, sizeof k->kms.uri, "kms.bench.mcxsec.example");
    k->kms.key_period = 2592000; /* 30 days */
    k->kms.id_mode = MCX_ID_RAW;
    OK(mcx_sakke_kms_keygen(z, k->kms.Z));
    OK(mcx_eccsi_kms_keygen(ksak, k->kms.kpak));
    k->period_no = mcx_key_period_no(mcx_ntp_now(), k->kms.key_period, k->kms.key_offset);
    OK(mcx_uid_format2(GMS_URI, k->kms.uri, k->kms.key_period, 0, k->period_no, uid));
    size_t n = mcx_identity_from_uid(uid, k->kms.id_mode, id);
    OK(mcx_eccsi_issue(ksak, k->kms.kpak, id, n, k->ssk, k->pvt));
    OK(mcx_uid_format2(MEMBER_URI, k->kms.uri, k->kms.key_period, 0, k->period_no, uid));
    n = mcx_identity_from_uid(uid, k->kms.id_mode, id);
    OK(mcx_sakke_issue_rsk(z, sizeof z, id, n, k->rsk));
    mcx_memzero(z, sizeof z);
    mcx_memzero(ksak, sizeof ksak);
}

/* GMK distribution (TS 33.180 §5.2, E): the GMS's builder exists; each build makes one signed
 * I_MESSAGE with the GMK SAKKE-encrypted to the member and protected key parameters (the group
 * ID). The member's opener exists (its RSK validated, not timed); each open takes one distinct
 * message from parsing to the GMK, the GMK-ID from the GUK-ID and the key parameters, then the
 * SRTP master key and salt (TS 33.180 §7.4). The sender's ECCSI values are cached after the
 * first message, as for any repeat sender. */
static void bench_mikey(int n)
{
    mikey_bench_keys k;
    mikey_keys(&k);
    mcx_mikey_builder *b = NULL;
    OK(mcx_mikey_builder_new(&b, &k.kms, GMS_URI, NULL, k.period_no, k.ssk, k.pvt));
    /* The T check runs; the window is wide because a long run (--iterations 100000) opens
     * messages built minutes earlier. */
    mcx_mikey_settings set;
    memset(&set, 0, sizeof set);
    set.time_window = 86400;
    mcx_mikey_opener *o = NULL;
    OK(mcx_mikey_opener_new(&o, &set));
    OK(mcx_mikey_opener_add_kms(o, &k.kms));
    OK(mcx_mikey_opener_add_identity(o, MEMBER_URI, NULL, k.kms.uri, k.period_no, k.rsk));
    OK(mcx_mikey_opener_add_peer(o, GMS_URI, NULL, k.kms.uri));

    static const char GROUP[] = "sip:group@bench.mcxsec.example";
    mcx_key_params kp;
    memset(&kp, 0, sizeof kp);
    kp.key_type = MCX_KEY_GMK;
    kp.status = MCX_KP_STATUS_ACTIVE;
    kp.has_groups = 1;
    kp.n_groups = 1;
    kp.groups[0].iei = MCX_KP_IEI_GROUP_ID;
    kp.groups[0].len = sizeof GROUP - 1;
    memcpy(kp.groups[0].id, GROUP, sizeof GROUP - 1);
    uint8_t gmk[16];
    uint32_t gmk_id;
    OK(mcx_random(gmk, sizeof gmk));
    OK(mcx_key_id_new(MCX_KEY_GMK, &gmk_id));
    mcx_mikey_build_args a;
    memset(&a, 0, sizeof a);
    a.type = MCX_KEY_GMK;
    a.key = gmk;
    a.key_len = sizeof gmk;
    a.key_id = gmk_id;
    a.receiver_uri = MEMBER_URI;
    a.params = &kp;
    a.cs_id = -1;

    /* Every message built (warm-up and timed) is kept: each is opened once below, so the replay
     * cache never refuses one. A GMK I_MESSAGE with key parameters is about 750 octets. */
    enum { STRIDE = 2048 };
    int total = n / 10 + 1 + n;
    uint8_t *msgs = malloc((size_t)total * STRIDE);
    size_t *lens = malloc((size_t)total * sizeof *lens);
    if (msgs == NULL || lens == NULL)
        abort();
    int built = 0, opened = 0;
    MEASURE("mikey_build_gmk_us", n, {
        OK(mcx_mikey_build(b, &a, msgs + (size_t)built * STRIDE, STRIDE, &lens[built]));
        built++;
    });
    uint8_t srtp_key[MCX_SRTP_MASTER_KEY_BYTES], srtp_salt[MCX_SRTP_MASTER_SALT_BYTES];
    mcx_mikey_result r;
    MEASURE("mikey_open_gmk_us", n, {
        OK(mcx_mikey_open(o, msgs + (size_t)opened * STRIDE, lens[opened], NULL, &r));
        OK(mcx_srtp_master(r.key, r.key_len, r.cs_id, r.csb_id, r.rand, r.rand_len, srtp_key,
                           sizeof srtp_key, srtp_salt, sizeof srtp_salt));
        if (r.gmk_id != gmk_id || r.key_len != sizeof gmk || !r.has_params)
            die("opened GMK check");
        mcx_mikey_result_wipe(&r);
        opened++;
    });
    free(msgs);
    free(lens);
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
    mcx_memzero(&k, sizeof k);
    mcx_memzero(gmk, sizeof gmk);
    mcx_memzero(srtp_key, sizeof srtp_key);
}

/* mcx_token_verify of one access token, as a service checks each request: the verifier holds the
 * issuer's key (static JWK Set, so no fetch), and each run parses header and claims, hashes and
 * verifies the ES256 signature, and checks iss, aud, typ, times and the scope. */
static void bench_token(int n)
{
    mcx_signing_key *k = NULL;
    OK(mcx_signing_key_generate(&k));
    int64_t now = (int64_t)time(NULL);
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", "https://idms.example:8443",
                  "sub", "alice", "aud", "https://kms.example", "iat", (json_int_t)now, "exp",
                  (json_int_t)(now + 3600), "scope", "openid 3gpp:mc:ptt_key_management_service",
                  "client_id", "mcptt_client", "mcptt_id", "sip:alice@mcx.example");
    char *jwt = NULL;
    OK(mcx_jwt_sign(k, MCX_TOKEN_ACCESS, claims, &jwt));
    json_t *set = mcx_jwks_of((const mcx_signing_key *const *)&k, 1);
    char *jwks = json_dumps(set, JSON_COMPACT);
    if (claims == NULL || set == NULL || jwks == NULL)
        abort();
    mcx_token_verifier_config cfg = {.issuer = "https://idms.example:8443",
                                     .audience = "https://kms.example",
                                     .kind = MCX_TOKEN_ACCESS,
                                     .jwks_json = jwks};
    mcx_token_verifier *v = NULL;
    OK(mcx_token_verifier_new(&v, &cfg));
    mcx_token_claims c;
    MEASURE("token_verify_us", n, OK(mcx_token_verify(v, jwt, MCX_SCOPE_PTT_KMS, now, &c)));
    mcx_token_verifier_free(v);
    free(jwks);
    free(jwt);
    json_decref(set);
    json_decref(claims);
    mcx_signing_key_free(k);
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
        if (!r->measured)
            continue;
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

/* Whole-service figures measured by another program (a load generator against a real daemon, a
 * timed command): rates, where more is better (target is a minimum), or durations, where less is
 * better (target is a maximum). */
typedef struct service_result {
    const char *key;
    const char *label;
    int lower_is_better;
    double target; /* the minimum, or with lower_is_better the maximum */
    double value;
    int present;
} service_result;

static service_result services[] = {
    {"token_rps", "IdMS /token code exchange, requests/s (wrk, 2 threads, 16 connections)", 0, 1000,
     0, 0},
    {"kms_issue_100k_s",
     "KMS rollover: fresh key sets for 100,000 users, one period, 2 threads, SQLite, s", 1, 60, 0,
     0},
    {"keyprov_rps",
     "KMS /keyprov of an issued key set, requests/s (wrk, 2 threads, 16 connections)", 0, 1000, 0,
     0},
    {"client_provision_ms",
     "client provisioning (init + keyprov + validation) on loopback, median ms", 1, 30, 0, 0},
    {"gms_rekey_10k_s",
     "GMS rekey of a 10,000-member group: 10,000 I_MESSAGEs built and stored, SQLite, s", 1, 10, 0,
     0},
    {"late_entry_ms",
     "late entry: first packet of an unknown sender to its decrypted frame (GMK held), median ms",
     1, 5, 0, 0},
    {"srtp_overhead_pct",
     "SRTP protect+unprotect through mcxsec vs bare libsrtp2, same packets, % slower", 1, 10, 0, 0},
};
#define N_SERVICES (sizeof services / sizeof services[0])

static int read_service(const char *path)
{
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    if (!json_is_object(o)) {
        fprintf(stderr, "mcx-bench: %s: %s\n", path, o == NULL ? err.text : "not a JSON object");
        json_decref(o);
        return 0;
    }
    for (size_t i = 0; i < N_SERVICES; i++) {
        json_t *v = json_object_get(o, services[i].key);
        if (json_is_number(v)) {
            services[i].value = json_number_value(v);
            services[i].present = 1;
        }
    }
    json_decref(o);
    return 1;
}

static void print_services(void)
{
    int any = 0;
    for (size_t i = 0; i < N_SERVICES; i++)
        any |= services[i].present;
    if (!any)
        return;
    printf("\n| service under load | mcxsec | target |\n|---|---:|---:|\n");
    for (size_t i = 0; i < N_SERVICES; i++) {
        const service_result *r = &services[i];
        if (!r->present)
            continue;
        int met = r->lower_is_better ? r->value <= r->target : r->value >= r->target;
        printf("| %s | %.*f | %s %.0f |\n", r->label,
               r->value < 1     ? 3
               : r->value < 100 ? 1
                                : 0,
               r->value, met ? (r->lower_is_better ? "<=" : ">=") : "MISSED", r->target);
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
    const char *sep = "";
    for (size_t i = 0; i < N_RESULTS; i++) {
        if (!results[i].measured)
            continue;
        fprintf(f, "%s\n  \"%s\": %.4f", sep, results[i].key, results[i].us);
        sep = ",";
        if (results[i].muls > 0 && i > 0)
            fprintf(f, ",\n  \"%s_field_muls\": %.0f", results[i].key, results[i].muls);
    }
    for (size_t i = 0; peer && i < N_RESULTS; i++)
        if (results[i].wolf_us > 0)
            fprintf(f, ",\n  \"wolf_%s\": %.4f", results[i].key, results[i].wolf_us);
    for (size_t i = 0; i < N_SERVICES; i++)
        if (services[i].present)
            fprintf(f, ",\n  \"%s\": %.1f", services[i].key, services[i].value);
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
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            if (!read_service(argv[++i]))
                return 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: mcx-bench [--iterations N] [--json FILE] [--no-peer] "
                            "[--service FILE] [--only KEYS]\n");
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
    bench_mikey(n);
    bench_token(n);
    if (peer) {
        fprintf(stderr, "mcx-bench: measuring wolfSSL through wolf_peer...\n");
        peer = bench_peer(n);
        if (!peer)
            fprintf(stderr, "mcx-bench: wolfSSL peer not available; its column is empty\n");
    }
    print_table(n, peer);
    print_services();
    if (json != NULL) {
        if (!write_json(json, peer))
            return 1;
        printf("\nwrote %s\n", json);
    }
    return 0;
}
