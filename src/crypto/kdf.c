/* The 3GPP key derivation function (TS 33.220 Annex B.2) and the MIKEY PRF (RFC 3830 §4.1.2)
 * instantiated with HMAC-SHA-256 (PRF-HMAC-SHA-256, RFC 6043 §6.1).
 *
 * Both run on one EVP_MAC HMAC context per call: the key schedule (ipad/opad blocks) is computed
 * once per key and reused for every block, and the message is streamed in pieces, so no input is
 * copied into a concatenation buffer. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/error_internal.h"
#include "mcxsec/kdf.h"
#include "mcxsec/mem.h"

#define SHA256_BYTES 32
/* RFC 3830 §4.1.2: the inkey is cut into chunks of 256 bits for PRF-HMAC-SHA-256 (RFC 6043 §6.1).
 */
#define PRF_CHUNK_BYTES 32

typedef struct hmac256 {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
} hmac256;

static void hmac256_free(hmac256 *h)
{
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    h->ctx = NULL;
    h->mac = NULL;
}

static mcx_status hmac256_new(hmac256 *h, const char *who)
{
    h->ctx = NULL;
    h->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (h->mac != NULL)
        h->ctx = EVP_MAC_CTX_new(h->mac);
    if (h->ctx == NULL) {
        hmac256_free(h);
        return MCX_FAIL(MCX_E_INTERNAL, "%s: cannot create an HMAC context", who);
    }
    return MCX_OK;
}

/* Start a MAC under key; key == NULL restarts with the key already set (OpenSSL keeps the
 * HMAC key schedule, so repeated blocks under one key cost no extra key setup). */
static mcx_status hmac256_start(hmac256 *h, const uint8_t *key, size_t key_len, const char *who)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(h->ctx, key, key_len, key != NULL ? params : NULL))
        return MCX_FAIL(MCX_E_INTERNAL, "%s: HMAC-SHA-256 init failed", who);
    return MCX_OK;
}

static mcx_status hmac256_update(hmac256 *h, const uint8_t *p, size_t n, const char *who)
{
    if (n > 0 && !EVP_MAC_update(h->ctx, p, n))
        return MCX_FAIL(MCX_E_INTERNAL, "%s: HMAC-SHA-256 update failed", who);
    return MCX_OK;
}

static mcx_status hmac256_finish(hmac256 *h, uint8_t out[SHA256_BYTES], const char *who)
{
    size_t n = 0;
    if (!EVP_MAC_final(h->ctx, out, &n, SHA256_BYTES) || n != SHA256_BYTES)
        return MCX_FAIL(MCX_E_INTERNAL, "%s: HMAC-SHA-256 final failed", who);
    return MCX_OK;
}

/* TS 33.220 B.2: S = FC || P0 || L0 || ... || Pn || Ln, derived key = HMAC-SHA-256(Key, S). */
static mcx_status kdf_run(hmac256 *h, const uint8_t *key, size_t key_len, uint8_t fc,
                          const mcx_kdf_param *params, size_t n_params,
                          uint8_t out[MCX_KDF_OUT_BYTES])
{
    MCX_GUARD(hmac256_start(h, key, key_len, "KDF"));
    MCX_GUARD(hmac256_update(h, &fc, 1, "KDF"));
    for (size_t i = 0; i < n_params; i++) {
        /* TS 33.220 B.2: Li is the length of Pi in octets, as a 2-octet big-endian number. */
        uint8_t li[2] = {(uint8_t)(params[i].len >> 8), (uint8_t)params[i].len};
        MCX_GUARD(hmac256_update(h, params[i].data, params[i].len, "KDF"));
        MCX_GUARD(hmac256_update(h, li, sizeof li, "KDF"));
    }
    return hmac256_finish(h, out, "KDF");
}

mcx_status mcx_kdf(const uint8_t *key, size_t key_len, uint8_t fc, const mcx_kdf_param *params,
                   size_t n_params, uint8_t out[MCX_KDF_OUT_BYTES])
{
    if (key == NULL || out == NULL || (params == NULL && n_params > 0))
        return MCX_FAIL(MCX_E_ARG, "KDF: NULL argument");
    if (key_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "KDF: key is empty");
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].data == NULL && params[i].len > 0)
            return MCX_FAIL(MCX_E_ARG, "KDF: P%zu is NULL", i);
        /* Li has 2 octets (TS 33.220 B.2), so no parameter can exceed 65535 octets. */
        if (params[i].len > 0xFFFF)
            return MCX_FAIL(MCX_E_LENGTH, "KDF: P%zu is %zu octets, at most 65535 allowed", i,
                            params[i].len);
    }

    hmac256 h;
    MCX_GUARD(hmac256_new(&h, "KDF"));
    mcx_status st = kdf_run(&h, key, key_len, fc, params, n_params, out);
    hmac256_free(&h); /* EVP_MAC_CTX_free cleanses the key schedule */
    if (st != MCX_OK)
        mcx_memzero(out, MCX_KDF_OUT_BYTES);
    return st;
}

/* RFC 3830 §4.1.2: P(s, label, m) = HMAC(s, A_1 || label) || ... || HMAC(s, A_m || label) with
 * A_0 = label and A_i = HMAC(s, A_(i-1)); the output is XORed into out[0..out_len). */
static mcx_status prf_xor_chunk(hmac256 *h, const uint8_t *s, size_t s_len, const uint8_t *label,
                                size_t label_len, uint8_t *out, size_t out_len)
{
    uint8_t a[SHA256_BYTES];
    uint8_t block[SHA256_BYTES];
    mcx_status st;

    MCX_GUARD_GOTO(st, hmac256_start(h, s, s_len, "MIKEY PRF"), done);
    /* A_1 = HMAC(s, A_0), A_0 = label */
    MCX_GUARD_GOTO(st, hmac256_update(h, label, label_len, "MIKEY PRF"), done);
    MCX_GUARD_GOTO(st, hmac256_finish(h, a, "MIKEY PRF"), done);
    for (size_t off = 0; off < out_len; off += SHA256_BYTES) {
        if (off > 0) {
            /* A_i = HMAC(s, A_(i-1)) */
            MCX_GUARD_GOTO(st, hmac256_start(h, NULL, 0, "MIKEY PRF"), done);
            MCX_GUARD_GOTO(st, hmac256_update(h, a, sizeof a, "MIKEY PRF"), done);
            MCX_GUARD_GOTO(st, hmac256_finish(h, a, "MIKEY PRF"), done);
        }
        /* block i = HMAC(s, A_i || label) */
        MCX_GUARD_GOTO(st, hmac256_start(h, NULL, 0, "MIKEY PRF"), done);
        MCX_GUARD_GOTO(st, hmac256_update(h, a, sizeof a, "MIKEY PRF"), done);
        MCX_GUARD_GOTO(st, hmac256_update(h, label, label_len, "MIKEY PRF"), done);
        MCX_GUARD_GOTO(st, hmac256_finish(h, block, "MIKEY PRF"), done);
        /* The last block is truncated: only out_len octets of P are used. */
        size_t n = out_len - off < SHA256_BYTES ? out_len - off : SHA256_BYTES;
        for (size_t k = 0; k < n; k++)
            out[off + k] ^= block[k];
    }
    st = MCX_OK;
done:
    mcx_memzero(a, sizeof a);
    mcx_memzero(block, sizeof block);
    return st;
}

mcx_status mcx_mikey_prf(const uint8_t *inkey, size_t inkey_len, const uint8_t *label,
                         size_t label_len, uint8_t *out, size_t out_len)
{
    if (inkey == NULL || out == NULL || (label == NULL && label_len > 0))
        return MCX_FAIL(MCX_E_ARG, "MIKEY PRF: NULL argument");
    if (inkey_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "MIKEY PRF: inkey is empty");
    if (out_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "MIKEY PRF: output length is 0");

    hmac256 h;
    MCX_GUARD(hmac256_new(&h, "MIKEY PRF"));
    memset(out, 0, out_len);
    mcx_status st = MCX_OK;
    /* RFC 3830 §4.1.2: n = ceil(inkey_len / 256 bits) chunks s_1..s_n, the last possibly
     * shorter; the output is P(s_1, label, m) XOR ... XOR P(s_n, label, m). */
    for (size_t j = 0; j < inkey_len && st == MCX_OK; j += PRF_CHUNK_BYTES) {
        size_t s_len = inkey_len - j < PRF_CHUNK_BYTES ? inkey_len - j : PRF_CHUNK_BYTES;
        st = prf_xor_chunk(&h, inkey + j, s_len, label, label_len, out, out_len);
    }
    hmac256_free(&h);
    if (st != MCX_OK)
        mcx_memzero(out, out_len);
    return st;
}
