/* wolf_peer: wolfSSL's ECCSI (RFC 6507) and SAKKE (RFC 6508, parameter set 1 of RFC 6509) behind a
 * line protocol, so that tests/interop/interop_test can check mcxsec against an independent
 * implementation.
 *
 * README
 * ------
 * A test tool only. It links wolfSSL and nothing else: wolfSSL's symbols clash with OpenSSL's and
 * wolfSSL is GPL, so this program never links mcxsec or OpenSSL and is never installed. mcxsec
 * talks to it over a pipe.
 *
 * Protocol: one command per line on stdin, one answer line per command on stdout, "ok <fields>"
 * or "err <reason>". All octet strings are lowercase hex; "-" is the empty string.
 *
 *   kms-keygen                            -> ok <ksak> <kpak> <z> <Z>   (a fresh KMS)
 *   kms-load <ksak> <z>                   -> ok <kpak> <Z>   (set the KMS master secrets)
 *   issue <id>                            -> ok <ssk> <pvt> <rsk>   (for the loaded KMS)
 *   validate <kpak> <Z> <id> <ssk> <pvt> <rsk> -> ok | err ...   (both checks below)
 *   validate-eccsi <kpak> <id> <ssk> <pvt>     -> ok | err ...   (wc_ValidateEccsiPair)
 *   validate-sakke <Z> <id> <rsk>              -> ok | err ...   (wc_ValidateSakkeRsk)
 *   sign <kpak> <id> <ssk> <pvt> <msg>    -> ok <sig>   (129 octets r || s || PVT)
 *   verify <kpak> <id> <msg> <sig>        -> ok | err ...
 *   encap <Z> <id> <ssv>                  -> ok <sed>   (R(257) || H(|ssv|))
 *   decap <Z> <id> <rsk> <sed>            -> ok <ssv> | err ...
 *   selftest                              -> ok | err <failed checks>   (RFC 6507/6508 App. A)
 *   bench <iterations>                    -> ok {JSON of medians in microseconds}
 *                                            (with a KMS of its own; afterwards none is loaded)
 *
 * How wolfSSL's API maps to the RFC formats (read from wolfcrypt/src/eccsi.c and sakke.c, and
 * checked by "selftest" against the RFC 6507 and RFC 6508 Appendix A vectors):
 *  - Identities are passed as raw octets in both: ECCSI hashes them as-is into
 *    HS = SHA-256(G || KPAK || ID || PVT) with G, KPAK and PVT as 04||x||y (wc_HashEccsiId);
 *    SAKKE reads them as the big-endian integer b (at most SAKKE_ID_MAX_SIZE = 128 octets).
 *  - wolfSSL's sign/verify need HS set on the key first (wc_HashEccsiId or wc_SetEccsiHash); the
 *    verifier must compute HS from the PVT carried in the signature (wc_DecodeEccsiPvtFromSig).
 *  - KPAK, PVT, Z, RSK and R: wolfSSL's point decoders accept 04||x||y or raw x||y; its encoders
 *    write 04||x||y when raw = 0. Signatures are r(32) || s(32) || PVT(65) = 129 octets.
 *  - KSAK and z: fixed-length big-endian private scalars (32 and 128 octets); KPAK and Z are
 *    computed from them here (wc_ecc_make_pub, wc_MakeSakkePublicKey).
 *  - SAKKE encapsulation: wolfSSL returns R (257 octets, its "auth" data) and overwrites the SSV
 *    buffer with H; so SED = auth || H, and decapsulation takes (ssv := H, auth := R). Any SSV
 *    length up to 128 octets is accepted; the mask is HashToIntegerRange(g^r, 2^n) read
 *    literally: l = ceiling(lg(n)/256) hash blocks, so 1 block for a 32-octet SSV, where the
 *    deployed MCX stacks and mcxsec use 2 (shared/spec/FORMATS.md §7). 16-octet SSVs agree.
 *  - SAKKE does not check that an RSK or R is on the curve; a bad one fails the pairing check
 *    (validation) or the R check (decapsulation) instead.
 *  - wolfSSL 5.5.4's wc_VerifyEccsiHash has no range check on r and s: r = s = 0 with any valid
 *    PVT verifies for every message (current wolfSSL rejects r or s outside [1, q-1]).
 *  - A SakkeKey used as a client scribbles over its private-key slot ([b]P + Z reuses it), so the
 *    KMS key object is only ever used for wc_MakeSakkeRsk; every client operation gets a fresh key.
 *  - A KPAK or Z is checked by wc_ecc_check_key the first time the peer sees it and imported as
 *    trusted afterwards (the check of Z costs ~5 ms), as a client would do per KMS.
 *  - This wolfSSL is built with FP_ECC: a point's second use as a scalar-multiplication base
 *    builds a fixed-point table (for a 1024-bit SAKKE point, tens of milliseconds), after which
 *    its multiplications are fast. The cache is process-wide and kept, so the cost of a command
 *    depends on the points used before it; "bench" runs warm-up rounds first.
 *  - wc_VerifyEccsiHash re-uses the HS set on the key, which is wolfSSL's only "cached" verify
 *    path: it saves one hash, not the scalar multiplications (there is no cache of Y).
 *  - Bench (single thread, CLOCK_MONOTONIC, medians after n/10 warm-up rounds, each measurement
 *    starting from an empty FP_ECC cache): wolf_pairing_derived_us = wolf_rsk_validate_us -
 *    wolf_sakke_point_i_us (the API has no bare pairing: wc_ValidateSakkeRsk is [b]P + Z and one
 *    pairing, wc_MakeSakkePointI is [b]P + Z alone). wolf_ssk_validate_us and
 *    wolf_eccsi_verify_us take a signer not seen before each time (for verify: HS from the
 *    signature's PVT, then the verification); wolf_eccsi_verify_cached_us verifies the same
 *    signer again and again with HS kept on the key (wc_SetEccsiHash): its speed-up comes from
 *    the generic FP_ECC tables for that signer's PVT and Y, not from an ECCSI cache.
 *    wolf_sakke_encap_us uses a new identity each time; wolf_sakke_decap_us is one receiver
 *    decapsulating repeatedly (FP_ECC then holds a table for its [b]P + Z).
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/eccsi.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sakke.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define E_N       32  /* ECCSI scalar octets (P-256) */
#define E_PT      65  /* ECCSI point 04||x||y */
#define E_SIG     129 /* r || s || PVT */
#define S_N       128 /* SAKKE field/scalar octets (parameter set 1) */
#define S_PT      257 /* SAKKE point 04||x||y */
#define MAX_BLOB  4096
#define HASH_TYPE WC_HASH_TYPE_SHA256

static WC_RNG g_rng;
static EccsiKey g_ekms; /* the KMS's ECCSI key: KSAK and KPAK */
static SakkeKey g_skms; /* the KMS's SAKKE key: z and Z (used only for wc_MakeSakkeRsk) */
static int g_have_kms;

/* ---- output ------------------------------------------------------------------------------ */

static void put_hex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (n == 0) {
        fputc('-', stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fputc(digits[p[i] >> 4], stdout);
        fputc(digits[p[i] & 15], stdout);
    }
}

/* "ok" followed by count octet strings. */
static void answer_okv(int count, const uint8_t *const p[], const size_t n[])
{
    fputs("ok", stdout);
    for (int i = 0; i < count; i++) {
        fputc(' ', stdout);
        put_hex(p[i], n[i]);
    }
    fputc('\n', stdout);
}

static void answer_ok(void)
{
    answer_okv(0, NULL, NULL);
}

static void answer_ok1(const uint8_t *a, size_t an)
{
    answer_okv(1, &a, &an);
}

static void answer_ok2(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    const uint8_t *p[] = {a, b};
    size_t n[] = {an, bn};
    answer_okv(2, p, n);
}

static void answer_ok3(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, const uint8_t *c,
                       size_t cn)
{
    const uint8_t *p[] = {a, b, c};
    size_t n[] = {an, bn, cn};
    answer_okv(3, p, n);
}

__attribute__((format(printf, 1, 2))) static void answer_err(const char *fmt, ...)
{
    va_list ap;
    fputs("err ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

/* ---- hex input --------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex text ("-" is empty) into out[0..cap). Returns the length, or -1. */
static long unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t len = strlen(s);
    if (strcmp(s, "-") == 0)
        return 0;
    if (len % 2 != 0 || len / 2 > cap)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

/* An argument decoded into a buffer of its own. */
typedef struct blob {
    uint8_t b[MAX_BLOB];
    size_t n;
} blob;

static int arg_blob(const char *name, const char *s, blob *out)
{
    long n = unhex(s, out->b, sizeof out->b);
    if (n < 0) {
        answer_err("bad hex in %s", name);
        return -1;
    }
    out->n = (size_t)n;
    return 0;
}

static int arg_fixed(const char *name, const char *s, uint8_t *out, size_t want)
{
    blob tmp;
    if (arg_blob(name, s, &tmp) != 0)
        return -1;
    if (tmp.n != want) {
        answer_err("%s must be %zu octets, got %zu", name, want, tmp.n);
        return -1;
    }
    memcpy(out, tmp.b, want);
    return 0;
}

/* ---- wolfSSL helpers --------------------------------------------------------------------- */

static const char *wolf_err(int rc)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "%d (%s)", rc, wc_GetErrorString(rc));
    return buf;
}

#define WOLF(call)                                                                                 \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) {                                                                            \
            answer_err("%s: %s", #call, wolf_err(rc_));                                            \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* KMS public keys that wolfSSL has already checked (wc_ecc_check_key: on the curve and, for
 * SAKKE's Z, in the order-q subgroup, ~5 ms each). Like a real client, the peer checks a KMS key
 * once and then imports it as trusted; the check is what any new KPAK or Z goes through. */
#define TRUSTED_SLOTS 16
static uint8_t g_trusted[TRUSTED_SLOTS][S_PT];
static size_t g_trusted_len[TRUSTED_SLOTS];
static unsigned g_trusted_next;

static int is_trusted(const uint8_t *key, size_t len)
{
    for (int i = 0; i < TRUSTED_SLOTS; i++)
        if (g_trusted_len[i] == len && memcmp(g_trusted[i], key, len) == 0)
            return 1;
    return 0;
}

static void trust(const uint8_t *key, size_t len)
{
    unsigned i = g_trusted_next++ % TRUSTED_SLOTS;
    memcpy(g_trusted[i], key, len);
    g_trusted_len[i] = len;
}

/* A client-side ECCSI key holding KPAK (checked on the curve the first time it is seen). */
static int eccsi_client(EccsiKey *k, const uint8_t kpak[E_PT])
{
    int trusted = is_trusted(kpak, E_PT);
    int rc = wc_InitEccsiKey(k, NULL, INVALID_DEVID);
    if (rc != 0)
        return rc;
    rc = wc_ImportEccsiPublicKey(k, kpak, E_PT, trusted);
    if (rc != 0)
        wc_FreeEccsiKey(k);
    else if (!trusted)
        trust(kpak, E_PT);
    return rc;
}

/* A client-side SAKKE key holding Z (checked on the curve and in the subgroup the first time). */
static int sakke_client(SakkeKey *k, const uint8_t Z[S_PT])
{
    int trusted = is_trusted(Z, S_PT);
    int rc = wc_InitSakkeKey(k, NULL, INVALID_DEVID);
    if (rc != 0)
        return rc;
    rc = wc_ImportSakkePublicKey(k, Z, S_PT, trusted);
    if (rc != 0)
        wc_FreeSakkeKey(k);
    else if (!trusted)
        trust(Z, S_PT);
    return rc;
}

/* Encode a SAKKE point as 04||x||y. */
static int sakke_point_out(const SakkeKey *k, ecc_point *p, uint8_t out[S_PT])
{
    word32 sz = S_PT;
    int rc = wc_EncodeSakkeRsk(k, p, out, &sz, 0);
    return rc != 0 ? rc : (sz == S_PT ? 0 : BUFFER_E);
}

/* Load the KMS from its master secrets; writes KPAK and Z. */
static int kms_load(const uint8_t ksak[E_N], const uint8_t z[S_N], uint8_t kpak[E_PT],
                    uint8_t Z[S_PT])
{
    uint8_t buf[3 * S_N];
    ecc_point *pub = wc_ecc_new_point();
    word32 sz;
    int rc;

    if (pub == NULL)
        return MEMORY_E;
    if (g_have_kms) {
        wc_FreeEccsiKey(&g_ekms);
        wc_FreeSakkeKey(&g_skms);
        g_have_kms = 0;
    }
    /* ECCSI: KPAK = [KSAK]G, then the key as KSAK || KPAKx || KPAKy. */
    rc = wc_InitEccsiKey(&g_ekms, NULL, INVALID_DEVID);
    if (rc == 0)
        rc = wc_ImportEccsiPrivateKey(&g_ekms, ksak, E_N);
    if (rc == 0)
        rc = wc_ecc_make_pub(&g_ekms.ecc, pub);
    if (rc == 0) {
        memcpy(buf, ksak, E_N);
        rc = mp_to_unsigned_bin_len(pub->x, buf + E_N, E_N);
    }
    if (rc == 0)
        rc = mp_to_unsigned_bin_len(pub->y, buf + 2 * E_N, E_N);
    if (rc == 0)
        rc = wc_ImportEccsiKey(&g_ekms, buf, 3 * E_N);
    if (rc == 0) {
        sz = E_PT;
        rc = wc_ExportEccsiPublicKey(&g_ekms, kpak, &sz, 0);
    }
    /* SAKKE: Z = [z]P, then the key as z || Zx || Zy. */
    if (rc == 0)
        rc = wc_InitSakkeKey(&g_skms, NULL, INVALID_DEVID);
    if (rc == 0)
        rc = wc_ImportSakkePrivateKey(&g_skms, z, S_N);
    if (rc == 0)
        rc = wc_MakeSakkePublicKey(&g_skms, pub);
    if (rc == 0) {
        memcpy(buf, z, S_N);
        rc = mp_to_unsigned_bin_len(pub->x, buf + S_N, S_N);
    }
    if (rc == 0)
        rc = mp_to_unsigned_bin_len(pub->y, buf + 2 * S_N, S_N);
    if (rc == 0)
        rc = wc_ImportSakkeKey(&g_skms, buf, 3 * S_N);
    if (rc == 0) {
        sz = S_PT;
        rc = wc_ExportSakkePublicKey(&g_skms, Z, &sz, 0);
    }
    if (rc == 0)
        g_have_kms = 1;
    wc_ecc_del_point(pub);
    memset(buf, 0, sizeof buf);
    return rc;
}

/* ---- the operations, each returning a wolfSSL status ------------------------------------- */

/* wc_ValidateEccsiPair; *valid = 1 if the pair is good. */
static int op_validate_eccsi(const uint8_t kpak[E_PT], const uint8_t *id, size_t id_len,
                             const uint8_t ssk_b[E_N], const uint8_t pvt_b[E_PT], int *valid)
{
    EccsiKey k;
    mp_int ssk;
    ecc_point *pvt = wc_ecc_new_point();
    int rc;

    *valid = 0;
    if (pvt == NULL)
        return MEMORY_E;
    rc = mp_init(&ssk);
    if (rc != 0) {
        wc_ecc_del_point(pvt);
        return rc;
    }
    rc = eccsi_client(&k, kpak);
    if (rc == 0) {
        rc = wc_DecodeEccsiSsk(&k, ssk_b, E_N, &ssk);
        if (rc == 0)
            rc = wc_DecodeEccsiPvt(&k, pvt_b, E_PT, pvt);
        if (rc == 0)
            rc = wc_ValidateEccsiPair(&k, HASH_TYPE, id, (word32)id_len, &ssk, pvt, valid);
        wc_FreeEccsiKey(&k);
    }
    mp_forcezero(&ssk);
    mp_free(&ssk);
    wc_ecc_del_point(pvt);
    return rc;
}

/* wc_ValidateSakkeRsk; *valid = 1 if <[b]P + Z, RSK> == g. */
static int op_validate_sakke(const uint8_t Z[S_PT], const uint8_t *id, size_t id_len,
                             const uint8_t rsk_b[S_PT], int *valid)
{
    SakkeKey k;
    ecc_point *rsk = wc_ecc_new_point();
    int rc;

    *valid = 0;
    if (rsk == NULL)
        return MEMORY_E;
    rc = sakke_client(&k, Z);
    if (rc == 0) {
        rc = wc_DecodeSakkeRsk(&k, rsk_b, S_PT, rsk);
        if (rc == 0)
            rc = wc_ValidateSakkeRsk(&k, id, (word16)id_len, rsk, valid);
        wc_FreeSakkeKey(&k);
    }
    wc_ecc_del_point(rsk);
    return rc;
}

static int op_sign(const uint8_t kpak[E_PT], const uint8_t *id, size_t id_len,
                   const uint8_t ssk_b[E_N], const uint8_t pvt_b[E_PT], const uint8_t *msg,
                   size_t msg_len, uint8_t sig[E_SIG])
{
    static const uint8_t empty[1];
    EccsiKey k;
    mp_int ssk;
    ecc_point *pvt = wc_ecc_new_point();
    uint8_t hs[WC_MAX_DIGEST_SIZE];
    byte hs_len = sizeof hs;
    word32 sig_len = E_SIG;
    int rc;

    if (pvt == NULL)
        return MEMORY_E;
    rc = mp_init(&ssk);
    if (rc != 0) {
        wc_ecc_del_point(pvt);
        return rc;
    }
    rc = eccsi_client(&k, kpak);
    if (rc == 0) {
        rc = wc_DecodeEccsiSsk(&k, ssk_b, E_N, &ssk);
        if (rc == 0)
            rc = wc_DecodeEccsiPvt(&k, pvt_b, E_PT, pvt);
        if (rc == 0)
            rc = wc_SetEccsiPair(&k, &ssk, pvt);
        if (rc == 0)
            rc = wc_HashEccsiId(&k, HASH_TYPE, id, (word32)id_len, pvt, hs, &hs_len);
        if (rc == 0)
            rc = wc_SignEccsiHash(&k, &g_rng, HASH_TYPE, msg_len ? msg : empty, (word32)msg_len,
                                  sig, &sig_len);
        if (rc == 0 && sig_len != E_SIG)
            rc = BUFFER_E;
        wc_FreeEccsiKey(&k);
    }
    mp_forcezero(&ssk);
    mp_free(&ssk);
    wc_ecc_del_point(pvt);
    return rc;
}

/* Verify as a first-contact verifier: HS from the PVT in the signature. *ok = 1 if it verifies. */
static int op_verify(const uint8_t kpak[E_PT], const uint8_t *id, size_t id_len, const uint8_t *msg,
                     size_t msg_len, const uint8_t *sig, size_t sig_len, int *ok)
{
    static const uint8_t empty[1];
    EccsiKey k;
    ecc_point *pvt;
    uint8_t hs[WC_MAX_DIGEST_SIZE];
    byte hs_len = sizeof hs;
    int rc;

    *ok = 0;
    if (sig_len != E_SIG)
        return BAD_FUNC_ARG;
    pvt = wc_ecc_new_point();
    if (pvt == NULL)
        return MEMORY_E;
    rc = eccsi_client(&k, kpak);
    if (rc == 0) {
        rc = wc_DecodeEccsiPvtFromSig(&k, sig, (word32)sig_len, pvt);
        if (rc == 0)
            rc = wc_HashEccsiId(&k, HASH_TYPE, id, (word32)id_len, pvt, hs, &hs_len);
        if (rc == 0)
            rc = wc_VerifyEccsiHash(&k, HASH_TYPE, msg_len ? msg : empty, (word32)msg_len, sig,
                                    (word32)sig_len, ok);
        wc_FreeEccsiKey(&k);
    }
    wc_ecc_del_point(pvt);
    return rc;
}

static int op_encap(const uint8_t Z[S_PT], const uint8_t *id, size_t id_len, const uint8_t *ssv,
                    size_t ssv_len, uint8_t *sed)
{
    SakkeKey k;
    word16 auth_len = S_PT;
    int rc;

    if (ssv_len == 0 || ssv_len > S_N)
        return BAD_FUNC_ARG;
    rc = sakke_client(&k, Z);
    if (rc != 0)
        return rc;
    memcpy(sed + S_PT, ssv, ssv_len); /* wolfSSL turns the SSV into H in place */
    rc = wc_SetSakkeIdentity(&k, id, (word16)id_len);
    if (rc == 0)
        rc =
            wc_MakeSakkeEncapsulatedSSV(&k, HASH_TYPE, sed + S_PT, (word16)ssv_len, sed, &auth_len);
    if (rc == 0 && auth_len != S_PT)
        rc = BUFFER_E;
    wc_FreeSakkeKey(&k);
    return rc;
}

static int op_decap(const uint8_t Z[S_PT], const uint8_t *id, size_t id_len,
                    const uint8_t rsk_b[S_PT], const uint8_t *sed, size_t sed_len, uint8_t *ssv)
{
    SakkeKey k;
    ecc_point *rsk;
    int rc;

    if (sed_len <= S_PT || sed_len > S_PT + S_N)
        return BAD_FUNC_ARG;
    rsk = wc_ecc_new_point();
    if (rsk == NULL)
        return MEMORY_E;
    rc = sakke_client(&k, Z);
    if (rc == 0) {
        rc = wc_SetSakkeIdentity(&k, id, (word16)id_len);
        if (rc == 0)
            rc = wc_DecodeSakkeRsk(&k, rsk_b, S_PT, rsk);
        if (rc == 0)
            rc = wc_SetSakkeRsk(&k, rsk, NULL, 0);
        if (rc == 0) {
            memcpy(ssv, sed + S_PT, sed_len - S_PT); /* H, turned into the SSV in place */
            rc = wc_DeriveSakkeSSV(&k, HASH_TYPE, ssv, (word16)(sed_len - S_PT), sed, S_PT);
        }
        wc_FreeSakkeKey(&k);
    }
    wc_ecc_del_point(rsk);
    return rc;
}

/* ---- commands ---------------------------------------------------------------------------- */

static void cmd_kms_keygen(void)
{
    uint8_t ksak[E_N], z[S_N], kpak[E_PT], Z[S_PT];
    EccsiKey ek;
    SakkeKey sk;
    word32 sz;
    int have_e = 0, have_s = 0;

    /* Generate with wolfSSL's own key generation, then load through the common path. */
    WOLF(wc_InitEccsiKey(&ek, NULL, INVALID_DEVID));
    have_e = 1;
    WOLF(wc_MakeEccsiKey(&ek, &g_rng));
    sz = E_N;
    WOLF(wc_ExportEccsiPrivateKey(&ek, ksak, &sz));
    WOLF(wc_InitSakkeKey(&sk, NULL, INVALID_DEVID));
    have_s = 1;
    WOLF(wc_MakeSakkeKey(&sk, &g_rng));
    sz = S_N;
    WOLF(wc_ExportSakkePrivateKey(&sk, z, &sz));
    WOLF(kms_load(ksak, z, kpak, Z));
    {
        const uint8_t *p[] = {ksak, kpak, z, Z};
        const size_t n[] = {E_N, E_PT, S_N, S_PT};
        answer_okv(4, p, n);
    }
out:
    if (have_e)
        wc_FreeEccsiKey(&ek);
    if (have_s)
        wc_FreeSakkeKey(&sk);
    memset(ksak, 0, sizeof ksak);
    memset(z, 0, sizeof z);
}

static void cmd_kms_load(char **argv)
{
    uint8_t ksak[E_N], z[S_N], kpak[E_PT], Z[S_PT];
    blob zb;

    if (arg_fixed("ksak", argv[0], ksak, E_N) != 0 || arg_blob("z", argv[1], &zb) != 0)
        return;
    if (zb.n > S_N) {
        answer_err("z longer than %d octets", S_N);
        return;
    }
    memset(z, 0, sizeof z);
    memcpy(z + S_N - zb.n, zb.b, zb.n);
    WOLF(kms_load(ksak, z, kpak, Z));
    answer_ok2(kpak, E_PT, Z, S_PT);
out:
    memset(ksak, 0, sizeof ksak);
    memset(z, 0, sizeof z);
}

static void cmd_issue(char **argv)
{
    blob id;
    mp_int ssk;
    ecc_point *pvt = NULL, *rsk = NULL;
    uint8_t ssk_b[E_N], pvt_b[E_PT], rsk_b[S_PT];
    word32 sz;
    int have_ssk = 0;

    if (!g_have_kms) {
        answer_err("no KMS: use kms-keygen or kms-load first");
        return;
    }
    if (arg_blob("id", argv[0], &id) != 0)
        return;
    pvt = wc_ecc_new_point();
    rsk = wc_ecc_new_point();
    if (pvt == NULL || rsk == NULL) {
        answer_err("out of memory");
        goto out;
    }
    WOLF(mp_init(&ssk));
    have_ssk = 1;
    WOLF(wc_MakeEccsiPair(&g_ekms, &g_rng, HASH_TYPE, id.b, (word32)id.n, &ssk, pvt));
    sz = E_N;
    WOLF(wc_EncodeEccsiSsk(&g_ekms, &ssk, ssk_b, &sz));
    sz = E_PT;
    WOLF(wc_EncodeEccsiPvt(&g_ekms, pvt, pvt_b, &sz, 0));
    WOLF(wc_MakeSakkeRsk(&g_skms, id.b, (word16)id.n, rsk));
    WOLF(sakke_point_out(&g_skms, rsk, rsk_b));
    answer_ok3(ssk_b, E_N, pvt_b, E_PT, rsk_b, S_PT);
out:
    if (have_ssk) {
        mp_forcezero(&ssk);
        mp_free(&ssk);
    }
    memset(ssk_b, 0, sizeof ssk_b);
    wc_ecc_del_point(pvt);
    wc_ecc_del_point(rsk);
}

static void cmd_validate(char **argv, int eccsi, int sakke)
{
    uint8_t kpak[E_PT], Z[S_PT], ssk[E_N], pvt[E_PT], rsk[S_PT];
    blob id;
    int ev = 1, sv = 1;

    if (eccsi && sakke) {
        if (arg_fixed("kpak", argv[0], kpak, E_PT) || arg_fixed("Z", argv[1], Z, S_PT) ||
            arg_blob("id", argv[2], &id) || arg_fixed("ssk", argv[3], ssk, E_N) ||
            arg_fixed("pvt", argv[4], pvt, E_PT) || arg_fixed("rsk", argv[5], rsk, S_PT))
            return;
    } else if (eccsi) {
        if (arg_fixed("kpak", argv[0], kpak, E_PT) || arg_blob("id", argv[1], &id) ||
            arg_fixed("ssk", argv[2], ssk, E_N) || arg_fixed("pvt", argv[3], pvt, E_PT))
            return;
    } else {
        if (arg_fixed("Z", argv[0], Z, S_PT) || arg_blob("id", argv[1], &id) ||
            arg_fixed("rsk", argv[2], rsk, S_PT))
            return;
    }
    if (eccsi)
        WOLF(op_validate_eccsi(kpak, id.b, id.n, ssk, pvt, &ev));
    if (sakke)
        WOLF(op_validate_sakke(Z, id.b, id.n, rsk, &sv));
    if (ev && sv)
        answer_ok();
    else
        answer_err("%s%s", ev ? "" : "ECCSI SSK/PVT invalid ", sv ? "" : "SAKKE RSK invalid");
out:
    memset(ssk, 0, sizeof ssk);
}

static void cmd_sign(char **argv)
{
    uint8_t kpak[E_PT], ssk[E_N], pvt[E_PT], sig[E_SIG];
    blob id, msg;

    if (arg_fixed("kpak", argv[0], kpak, E_PT) || arg_blob("id", argv[1], &id) ||
        arg_fixed("ssk", argv[2], ssk, E_N) || arg_fixed("pvt", argv[3], pvt, E_PT) ||
        arg_blob("msg", argv[4], &msg))
        return;
    WOLF(op_sign(kpak, id.b, id.n, ssk, pvt, msg.b, msg.n, sig));
    answer_ok1(sig, E_SIG);
out:
    memset(ssk, 0, sizeof ssk);
}

static void cmd_verify(char **argv)
{
    uint8_t kpak[E_PT];
    blob id, msg, sig;
    int ok = 0, rc;

    if (arg_fixed("kpak", argv[0], kpak, E_PT) || arg_blob("id", argv[1], &id) ||
        arg_blob("msg", argv[2], &msg) || arg_blob("sig", argv[3], &sig))
        return;
    rc = op_verify(kpak, id.b, id.n, msg.b, msg.n, sig.b, sig.n, &ok);
    if (rc != 0)
        answer_err("signature rejected: %s", wolf_err(rc));
    else if (!ok)
        answer_err("signature does not verify");
    else
        answer_ok();
}

static void cmd_encap(char **argv)
{
    uint8_t Z[S_PT], sed[S_PT + S_N];
    blob id, ssv;

    if (arg_fixed("Z", argv[0], Z, S_PT) || arg_blob("id", argv[1], &id) ||
        arg_blob("ssv", argv[2], &ssv))
        return;
    WOLF(op_encap(Z, id.b, id.n, ssv.b, ssv.n, sed));
    answer_ok1(sed, S_PT + ssv.n);
out:
    memset(ssv.b, 0, ssv.n);
}

static void cmd_decap(char **argv)
{
    uint8_t Z[S_PT], rsk[S_PT], ssv[S_N];
    blob id, sed;
    int rc;

    if (arg_fixed("Z", argv[0], Z, S_PT) || arg_blob("id", argv[1], &id) ||
        arg_fixed("rsk", argv[2], rsk, S_PT) || arg_blob("sed", argv[3], &sed))
        return;
    rc = op_decap(Z, id.b, id.n, rsk, sed.b, sed.n, ssv);
    if (rc != 0)
        answer_err("SED rejected: %s", wolf_err(rc));
    else
        answer_ok1(ssv, sed.n - S_PT);
    memset(ssv, 0, sizeof ssv);
}

/* ---- selftest: RFC 6507 and RFC 6508 Appendix A ------------------------------------------ */

static const char RFC_KSAK[] = "0000000000000000000000000000000000000000000000000000000000012345";
static const char RFC_KPAK[] =
    "0450d4670bde75244f28d2838a0d25558a7a72686d4522d4c8273fb6442aebfa93dbdd37551afd263b5dfd617f3960"
    "c65a8c298850ff99f20366dce7d4367217f4";
static const char RFC_ID[] = "323031312d30320074656c3a2b34343737303039303031323300";
static const char RFC_PVT[] =
    "04758a142779be89e829e71984cb40ef758cc4ad775fc5b9a3e1c8ed52f6fa36d9a79d247692f4eda3a6bdab77d6aa"
    "6474a464ae4934663c5265ba7018ba091f79";
static const char RFC_HS[] = "490f3febbc1c902f6289723d7f8cbf79db88930849d19f38f0295b5c276c14d1";
static const char RFC_SSK[] = "23f374ae1f4033f3e9dbddaaef20f4cf0b86bbd5a138a5ae9e7e006b34489a0d";
static const char RFC_M[] = "6d65737361676500";
static const char RFC_SIG[] =
    "269d4c8fdeb66a74e4ef8c0d5dcc597ddfe6029c2affc4936008cd2cc1045d81e09b528d0ef8d6df1aa3ecbf80110c"
    "fcec9fc68252cebb679f4134846940ccfd04758a142779be89e829e71984cb40ef758cc4ad775fc5b9a3e1c8ed52f6"
    "fa36d9a79d247692f4eda3a6bdab77d6aa6474a464ae4934663c5265ba7018ba091f79";
static const char RFC_Z_SECRET[] = "aff429d35f84b110d094803b3595a6e2998bc99f";
static const char RFC_Z[] =
    "045958ef1b1679bf099b3a030df255aa6a23c1d8f143d4d23f753e69bd27a832f38cb4ad53ddef4260b0fe8bb45c4c"
    "1ff510effe300367a37b61f701d914aef09724825fa0707d61a6dff4fbd7273566cdde352a0b04b7c16a78309be640"
    "697de747613a5fc195e8b9f328852a579db8f99b1d0034479ea9c5595f47c4b2f54ff21508d37514dcf7a8e143a605"
    "8c09a6bf2c9858ca37c258065ae6bf7532bc8b5b63383866e0753c5ac0e72709f8445f2e6178e065857e0eda10f682"
    "06b63505ed87e534fb2831ff957fb7dc619dae61301eeacc2fda3680ea4999258a833cea8fc67c6d19487fb449059f"
    "26cc8aab655ab58b7cc796e24e9a394095754f5f8bae";
static const char RFC_RSK[] =
    "0493af67e5007ba6e6a80da793da300fa4b52d0a74e25e6e7b2b3d6ee9d18a9b5c5023597bd82d8062d34019563ba1"
    "d25c0dc56b7b979d74aa50f29fbf11cc2c93f5dfca615e609279f6175ceadb00b58c6bee1e7a2a47c4f0c456f05259"
    "a6fa94a634a40dae1df593d4fecf688d5fc678be7efc6df3d6835325b83b2c6e69036b155f0a27241094b04bfb0bdf"
    "ac6c670a65c325d39a069f03659d44ca27d3be8df311172b554160181cbe94a2a783320ced590bc42644702cf37127"
    "1e496bf20f588b78a1bc01ecbb6559934bdd2fb65d2884318a33d1a42adf5e33cc5800280b28356497f87135bab961"
    "2a17260424409ac15fee996b744c332151235decb0f5";
static const char RFC_SSV[] = "123456789abcdef0123456789abcdef0";
static const char RFC_SED[] =
    "0444e8ad44ab8592a6a5a3ddca5cf896c718043606a01d650def37a01f37c228c332fc317354e2c274d4daf8ad0010"
    "54c76ce57971c6f4486d5723043261c506ebf5be438f53de04f067c776e0dd3b71a6290133283725a532f21af14512"
    "6dc1d777ecc27be50835bd28098b8a73d9f801d893793a41ff5c49b87e79f2be4d56ce557e134ad85bb1d4b9ce4f8b"
    "e4b08a12babf55b1d6f1d7a638019ea28e15ab1c9f76375fdd1210d4f4351b9a009486b7f3ed46c965ded2d80dade4"
    "f38c6721d52c3ad103a10ebd2959248b4ef006836bf097448e6107c9edee9fb704823df199f832c905ae45f8a247a0"
    "72d8ef729eabc5e27574b07739b34be74a532f747b8689e0bc661aa1e91638e6acc84e496507";

static size_t fixed_unhex(const char *s, uint8_t *out, size_t cap)
{
    long n = unhex(s, out, cap);
    if (n < 0) {
        fprintf(stderr, "wolf_peer: bad built-in vector\n");
        exit(2);
    }
    return (size_t)n;
}

static void cmd_selftest(void)
{
    uint8_t ksak[E_N], kpak[E_PT], id[64], pvt[E_PT], hs_want[E_N], ssk[E_N], m[16], sig[E_SIG];
    uint8_t z[S_N], Z[S_PT], rsk[S_PT], ssv[16], sed[S_PT + 16];
    uint8_t got_kpak[E_PT], got_Z[S_PT], got_rsk[S_PT], got_ssv[16], got_sed[S_PT + 16];
    uint8_t hs[WC_MAX_DIGEST_SIZE];
    byte hs_len = sizeof hs;
    char failed[512] = "";
    size_t id_len, m_len, zl;
    int valid = 0, rc;
    ecc_point *pt = wc_ecc_new_point();
    EccsiKey ek;

#define FAIL(what) strncat(failed, what " ", sizeof failed - strlen(failed) - 1)
    if (pt == NULL) {
        answer_err("out of memory");
        return;
    }
    fixed_unhex(RFC_KSAK, ksak, sizeof ksak);
    fixed_unhex(RFC_KPAK, kpak, sizeof kpak);
    id_len = fixed_unhex(RFC_ID, id, sizeof id);
    fixed_unhex(RFC_PVT, pvt, sizeof pvt);
    fixed_unhex(RFC_HS, hs_want, sizeof hs_want);
    fixed_unhex(RFC_SSK, ssk, sizeof ssk);
    m_len = fixed_unhex(RFC_M, m, sizeof m);
    fixed_unhex(RFC_SIG, sig, sizeof sig);
    zl = fixed_unhex(RFC_Z_SECRET, z + S_N - 20, 20);
    memset(z, 0, S_N - zl);
    fixed_unhex(RFC_Z, Z, sizeof Z);
    fixed_unhex(RFC_RSK, rsk, sizeof rsk);
    fixed_unhex(RFC_SSV, ssv, sizeof ssv);
    fixed_unhex(RFC_SED, sed, sizeof sed);

    /* KMS from the App. A secrets: KPAK and Z, and the deterministic RSK. */
    rc = kms_load(ksak, z, got_kpak, got_Z);
    if (rc != 0) {
        FAIL("kms-load");
    } else {
        if (memcmp(got_kpak, kpak, E_PT) != 0)
            FAIL("KPAK");
        if (memcmp(got_Z, Z, S_PT) != 0)
            FAIL("Z");
        if (wc_MakeSakkeRsk(&g_skms, id, (word16)id_len, pt) != 0 ||
            sakke_point_out(&g_skms, pt, got_rsk) != 0 || memcmp(got_rsk, rsk, S_PT) != 0)
            FAIL("RSK-issue");
    }
    /* ECCSI: HS, SSK/PVT validation, verification of the App. A signature. */
    if (eccsi_client(&ek, kpak) != 0) {
        FAIL("KPAK-import");
    } else {
        if (wc_DecodeEccsiPvt(&ek, pvt, E_PT, pt) != 0 ||
            wc_HashEccsiId(&ek, HASH_TYPE, id, (word32)id_len, pt, hs, &hs_len) != 0 ||
            hs_len != E_N || memcmp(hs, hs_want, E_N) != 0)
            FAIL("HS");
        wc_FreeEccsiKey(&ek);
    }
    if (op_validate_eccsi(kpak, id, id_len, ssk, pvt, &valid) != 0 || !valid)
        FAIL("SSK-validate");
    if (op_verify(kpak, id, id_len, m, m_len, sig, E_SIG, &valid) != 0 || !valid)
        FAIL("SIG-verify");
    m[0] ^= 1;
    if (op_verify(kpak, id, id_len, m, m_len, sig, E_SIG, &valid) == 0 && valid)
        FAIL("SIG-verify-accepts-altered-message");
    /* SAKKE: RSK validation, decapsulation of the App. A SED, deterministic encapsulation. */
    if (op_validate_sakke(Z, id, id_len, rsk, &valid) != 0 || !valid)
        FAIL("RSK-validate");
    if (op_decap(Z, id, id_len, rsk, sed, sizeof sed, got_ssv) != 0 ||
        memcmp(got_ssv, ssv, sizeof ssv) != 0)
        FAIL("SED-decap");
    if (op_encap(Z, id, id_len, ssv, sizeof ssv, got_sed) != 0 ||
        memcmp(got_sed, sed, sizeof sed) != 0)
        FAIL("SED-encap");
#undef FAIL
    wc_ecc_del_point(pt);
    if (failed[0] == '\0')
        answer_ok();
    else
        answer_err("selftest failed: %s", failed);
}

/* ---- bench ------------------------------------------------------------------------------- */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
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

static void fresh_id(uint8_t id[32])
{
    if (wc_RNG_GenerateBlock(&g_rng, id, 32) != 0) {
        fprintf(stderr, "wolf_peer: RNG failed\n");
        exit(2);
    }
}

/* Run the body warm + n times and keep the last n timings in t[]. Each measurement starts with
 * wolfSSL's FP_ECC cache emptied, so that what the cache holds (tables for the points this
 * measurement uses repeatedly, built during the warm-up) depends on this measurement alone. */
#define TIME_LOOP(t, ...)                                                                          \
    do {                                                                                           \
        wc_ecc_fp_free();                                                                          \
        for (int it_ = -warm; it_ < n; it_++) {                                                    \
            double t0_ = now_us();                                                                 \
            __VA_ARGS__;                                                                           \
            if (it_ >= 0)                                                                          \
                (t)[it_] = now_us() - t0_;                                                         \
        }                                                                                          \
    } while (0)

#define BENCH_OK(call)                                                                             \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) {                                                                            \
            answer_err("bench: %s: %s", #call, wolf_err(rc_));                                     \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static void cmd_bench(char **argv)
{
    int n = atoi(argv[0]), warm;
    uint8_t ksak[E_N], z[S_N], kpak[E_PT], Z[S_PT], id[32], msg[100], sig[E_SIG];
    uint8_t ssk_b[E_N], pvt_b[E_PT], rsk_b[S_PT], ssv[16], sed[S_PT + 16], buf[16];
    uint8_t hs[WC_MAX_DIGEST_SIZE];
    byte hs_len;
    double *t = NULL;
    /* One signer per iteration for the first-contact measurements: the FP_ECC cache would
     * otherwise hold tables for a PVT and a Y seen before. */
    struct signer_pool {
        uint8_t id[32], ssk[E_N], pvt[E_PT], sig[E_SIG];
    } *pool = NULL;
    double m_ssk, m_rsk, m_rskval, m_pointi, m_enc, m_dec, m_sign, m_ver, m_verc, m_sskval;
    EccsiKey signer, verifier, ek;
    SakkeKey sender, receiver, sk;
    int have_keys = 0, valid = 0;
    word32 sz;
    word16 auth_len;
    mp_int ssk;
    ecc_point *pvt = wc_ecc_new_point(), *rsk = wc_ecc_new_point(), *pvt2 = wc_ecc_new_point();

    if (n < 1 || n > 100000 || pvt == NULL || rsk == NULL || pvt2 == NULL) {
        answer_err("bench: iterations must be 1..100000");
        goto done;
    }
    warm = n < 10 ? 1 : n / 10;
    t = calloc((size_t)n, sizeof *t);
    pool = calloc((size_t)(n + warm), sizeof *pool);
    if (t == NULL || pool == NULL || mp_init(&ssk) != 0) {
        answer_err("out of memory");
        goto done;
    }
    /* A KMS of our own for the bench, so the bench does not disturb a loaded one. */
    BENCH_OK(wc_RNG_GenerateBlock(&g_rng, ksak, sizeof ksak));
    BENCH_OK(wc_RNG_GenerateBlock(&g_rng, z, sizeof z));
    ksak[0] = 0x01; /* well below q */
    z[0] = 0x01;
    BENCH_OK(kms_load(ksak, z, kpak, Z));
    BENCH_OK(eccsi_client(&signer, kpak));
    BENCH_OK(eccsi_client(&verifier, kpak));
    BENCH_OK(eccsi_client(&ek, kpak));
    BENCH_OK(sakke_client(&sender, Z));
    BENCH_OK(sakke_client(&receiver, Z));
    BENCH_OK(sakke_client(&sk, Z));
    have_keys = 1;

    /* KMS side: SSK/PVT issue, RSK issue (each for a new identity). */
    TIME_LOOP(t, {
        fresh_id(id);
        BENCH_OK(wc_MakeEccsiPair(&g_ekms, &g_rng, HASH_TYPE, id, 32, &ssk, pvt));
    });
    m_ssk = median(t, n);
    TIME_LOOP(t, {
        fresh_id(id);
        BENCH_OK(wc_MakeSakkeRsk(&g_skms, id, 32, rsk));
    });
    m_rsk = median(t, n);

    /* The identity used from here on, with its keys. */
    fresh_id(id);
    BENCH_OK(wc_MakeEccsiPair(&g_ekms, &g_rng, HASH_TYPE, id, 32, &ssk, pvt));
    sz = E_N;
    BENCH_OK(wc_EncodeEccsiSsk(&g_ekms, &ssk, ssk_b, &sz));
    sz = E_PT;
    BENCH_OK(wc_EncodeEccsiPvt(&g_ekms, pvt, pvt_b, &sz, 0));
    BENCH_OK(wc_MakeSakkeRsk(&g_skms, id, 32, rsk));
    BENCH_OK(sakke_point_out(&g_skms, rsk, rsk_b));

    /* The signer pool: n + warm identities, each with its SSK/PVT and one signature. */
    BENCH_OK(wc_RNG_GenerateBlock(&g_rng, msg, sizeof msg));
    for (int i = 0; i < n + warm; i++) {
        EccsiKey one;
        fresh_id(pool[i].id);
        BENCH_OK(wc_MakeEccsiPair(&g_ekms, &g_rng, HASH_TYPE, pool[i].id, 32, &ssk, pvt2));
        sz = E_N;
        BENCH_OK(wc_EncodeEccsiSsk(&g_ekms, &ssk, pool[i].ssk, &sz));
        sz = E_PT;
        BENCH_OK(wc_EncodeEccsiPvt(&g_ekms, pvt2, pool[i].pvt, &sz, 0));
        BENCH_OK(eccsi_client(&one, kpak));
        hs_len = sizeof hs;
        sz = E_SIG;
        {
            int rc = wc_SetEccsiPair(&one, &ssk, pvt2);
            if (rc == 0)
                rc = wc_HashEccsiId(&one, HASH_TYPE, pool[i].id, 32, pvt2, hs, &hs_len);
            if (rc == 0)
                rc = wc_SignEccsiHash(&one, &g_rng, HASH_TYPE, msg, sizeof msg, pool[i].sig, &sz);
            wc_FreeEccsiKey(&one);
            BENCH_OK(rc);
        }
    }
    BENCH_OK(wc_DecodeEccsiSsk(&ek, ssk_b, E_N, &ssk)); /* back to the main identity's SSK */

    /* Client key checks: SSK/PVT validation of a new pair each time; RSK validation = [b]P + Z
     * plus one pairing. */
    TIME_LOOP(t, {
        mp_int one_ssk;
        struct signer_pool *e = &pool[it_ + warm];
        int rc = mp_init(&one_ssk);
        if (rc == 0)
            rc = wc_DecodeEccsiSsk(&ek, e->ssk, E_N, &one_ssk);
        if (rc == 0)
            rc = wc_DecodeEccsiPvt(&ek, e->pvt, E_PT, pvt2);
        if (rc == 0)
            rc = wc_ValidateEccsiPair(&ek, HASH_TYPE, e->id, 32, &one_ssk, pvt2, &valid);
        if (rc == 0 && !valid)
            rc = BAD_STATE_E;
        mp_free(&one_ssk);
        BENCH_OK(rc);
    });
    m_sskval = median(t, n);
    TIME_LOOP(t, {
        BENCH_OK(wc_DecodeSakkeRsk(&sk, rsk_b, S_PT, rsk));
        BENCH_OK(wc_ValidateSakkeRsk(&sk, id, 32, rsk, &valid));
        if (!valid)
            BENCH_OK(BAD_STATE_E);
    });
    m_rskval = median(t, n);
    TIME_LOOP(t, { BENCH_OK(wc_MakeSakkePointI(&sk, id, 32)); });
    m_pointi = median(t, n);

    /* ECCSI sign with HS computed once (the normal signer), verify first contact and cached. */
    BENCH_OK(wc_SetEccsiPair(&signer, &ssk, pvt));
    hs_len = sizeof hs;
    BENCH_OK(wc_HashEccsiId(&signer, HASH_TYPE, id, 32, pvt, hs, &hs_len));
    TIME_LOOP(t, {
        sz = E_SIG;
        BENCH_OK(wc_SignEccsiHash(&signer, &g_rng, HASH_TYPE, msg, sizeof msg, sig, &sz));
    });
    m_sign = median(t, n);
    /* First contact: a signer not seen before (HS from its PVT, then the verification). */
    TIME_LOOP(t, {
        struct signer_pool *e = &pool[it_ + warm];
        hs_len = sizeof hs;
        BENCH_OK(wc_DecodeEccsiPvtFromSig(&verifier, e->sig, E_SIG, pvt2));
        BENCH_OK(wc_HashEccsiId(&verifier, HASH_TYPE, e->id, 32, pvt2, hs, &hs_len));
        BENCH_OK(wc_VerifyEccsiHash(&verifier, HASH_TYPE, msg, sizeof msg, e->sig, E_SIG, &valid));
        if (!valid)
            BENCH_OK(BAD_STATE_E);
    });
    m_ver = median(t, n);
    /* Cached: the same signer again and again, HS kept on the key (wc_SetEccsiHash); wolfSSL's
     * FP_ECC tables for its PVT and Y build up after the first uses. */
    hs_len = sizeof hs;
    BENCH_OK(wc_DecodeEccsiPvtFromSig(&verifier, sig, E_SIG, pvt2));
    BENCH_OK(wc_HashEccsiId(&verifier, HASH_TYPE, id, 32, pvt2, hs, &hs_len));
    BENCH_OK(wc_SetEccsiHash(&verifier, hs, hs_len));
    TIME_LOOP(t, {
        BENCH_OK(wc_VerifyEccsiHash(&verifier, HASH_TYPE, msg, sizeof msg, sig, E_SIG, &valid));
        if (!valid)
            BENCH_OK(BAD_STATE_E);
    });
    m_verc = median(t, n);

    /* SAKKE: encapsulation to a new identity each time; decapsulation by one receiver. */
    TIME_LOOP(t, {
        uint8_t id2[32];
        fresh_id(id2);
        BENCH_OK(wc_RNG_GenerateBlock(&g_rng, sed + S_PT, 16));
        BENCH_OK(wc_SetSakkeIdentity(&sender, id2, 32));
        auth_len = S_PT;
        BENCH_OK(wc_MakeSakkeEncapsulatedSSV(&sender, HASH_TYPE, sed + S_PT, 16, sed, &auth_len));
    });
    m_enc = median(t, n);
    BENCH_OK(wc_RNG_GenerateBlock(&g_rng, ssv, sizeof ssv));
    memcpy(sed + S_PT, ssv, sizeof ssv);
    BENCH_OK(wc_SetSakkeIdentity(&sender, id, 32));
    auth_len = S_PT;
    BENCH_OK(wc_MakeSakkeEncapsulatedSSV(&sender, HASH_TYPE, sed + S_PT, 16, sed, &auth_len));
    BENCH_OK(wc_SetSakkeIdentity(&receiver, id, 32));
    BENCH_OK(wc_DecodeSakkeRsk(&receiver, rsk_b, S_PT, rsk));
    BENCH_OK(wc_SetSakkeRsk(&receiver, rsk, NULL, 0));
    TIME_LOOP(t, {
        memcpy(buf, sed + S_PT, 16);
        BENCH_OK(wc_DeriveSakkeSSV(&receiver, HASH_TYPE, buf, 16, sed, S_PT));
        if (memcmp(buf, ssv, 16) != 0)
            BENCH_OK(BAD_STATE_E);
    });
    m_dec = median(t, n);

    printf("ok {\"iterations\":%d,\"wolf_ssk_issue_us\":%.1f,\"wolf_ssk_validate_us\":%.1f,"
           "\"wolf_eccsi_sign_us\":%.1f,\"wolf_eccsi_verify_us\":%.1f,"
           "\"wolf_eccsi_verify_cached_us\":%.1f,\"wolf_rsk_issue_us\":%.1f,"
           "\"wolf_rsk_validate_us\":%.1f,\"wolf_sakke_point_i_us\":%.1f,"
           "\"wolf_pairing_derived_us\":%.1f,\"wolf_sakke_encap_us\":%.1f,"
           "\"wolf_sakke_decap_us\":%.1f}\n",
           n, m_ssk, m_sskval, m_sign, m_ver, m_verc, m_rsk, m_rskval, m_pointi,
           m_rskval - m_pointi, m_enc, m_dec);
out:
    if (have_keys) {
        wc_FreeEccsiKey(&signer);
        wc_FreeEccsiKey(&verifier);
        wc_FreeEccsiKey(&ek);
        wc_FreeSakkeKey(&sender);
        wc_FreeSakkeKey(&receiver);
        wc_FreeSakkeKey(&sk);
    }
    mp_forcezero(&ssk);
    mp_free(&ssk);
done:
    /* The bench replaced the KMS: forget it rather than leave a surprise behind. */
    if (g_have_kms) {
        wc_FreeEccsiKey(&g_ekms);
        wc_FreeSakkeKey(&g_skms);
        g_have_kms = 0;
    }
    free(t);
    free(pool);
    wc_ecc_del_point(pvt);
    wc_ecc_del_point(rsk);
    wc_ecc_del_point(pvt2);
}

/* ---- main loop --------------------------------------------------------------------------- */

#define MAX_ARGS 8

typedef struct command {
    const char *name;
    int argc;
    void (*run)(char **argv);
} command;

static void run_kms_keygen(char **argv)
{
    (void)argv;
    cmd_kms_keygen();
}
static void run_selftest(char **argv)
{
    (void)argv;
    cmd_selftest();
}
static void run_validate(char **argv)
{
    cmd_validate(argv, 1, 1);
}
static void run_validate_eccsi(char **argv)
{
    cmd_validate(argv, 1, 0);
}
static void run_validate_sakke(char **argv)
{
    cmd_validate(argv, 0, 1);
}

static const command commands[] = {
    {"kms-keygen", 0, run_kms_keygen},
    {"kms-load", 2, cmd_kms_load},
    {"issue", 1, cmd_issue},
    {"validate", 6, run_validate},
    {"validate-eccsi", 4, run_validate_eccsi},
    {"validate-sakke", 3, run_validate_sakke},
    {"sign", 5, cmd_sign},
    {"verify", 4, cmd_verify},
    {"encap", 3, cmd_encap},
    {"decap", 4, cmd_decap},
    {"selftest", 0, run_selftest},
    {"bench", 1, cmd_bench},
};

static void dispatch(char *line)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    char *save = NULL;

    for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (argc == MAX_ARGS + 1) {
            answer_err("too many arguments");
            return;
        }
        argv[argc++] = tok;
    }
    if (argc == 0) {
        answer_err("empty command");
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[0], commands[i].name) == 0) {
            if (argc - 1 != commands[i].argc) {
                answer_err("%s takes %d arguments, got %d", commands[i].name, commands[i].argc,
                           argc - 1);
                return;
            }
            commands[i].run(argv + 1);
            return;
        }
    }
    answer_err("unknown command '%s'", argv[0]);
}

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: wolf_peer < commands\n"
                        "A wolfSSL ECCSI/SAKKE peer for mcxsec's interop test: see the comment at\n"
                        "the top of tests/interop/wolf_peer.c for the line protocol.\n");
        return 2;
    }
    if (wolfCrypt_Init() != 0 || wc_InitRng(&g_rng) != 0) {
        fprintf(stderr, "wolf_peer: wolfCrypt initialisation failed\n");
        return 1;
    }
    while (getline(&line, &cap, stdin) > 0) {
        dispatch(line);
        fflush(stdout);
    }
    free(line);
    if (g_have_kms) {
        wc_FreeEccsiKey(&g_ekms);
        wc_FreeSakkeKey(&g_skms);
    }
    wc_FreeRng(&g_rng);
    wolfCrypt_Cleanup();
    return 0;
}
