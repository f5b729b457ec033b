/* Fuzz target: the 3GPP key-parameters payload and its protected wrapper (mcxsec/keyparams.h).
 *
 * 1. mcx_kp_decode on the input; whatever decodes must re-encode, decode to the same values and
 *    re-encode to the same octets; a failure must leave the output untouched.
 * 2. mcx_kp_open on the input under the keys of the deployed vectors (SW GMK/CSK/PCK, Alea GMK),
 *    with the DPPK-ID the input carries so the fuzzer reaches the tag check; legacy allowed.
 *    Success must give values that re-encode; failure must leave the output untouched.
 * 3. The input protected as plaintext and opened again must give exactly what decoding it gave,
 *    so the decoder behind the AEAD is fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"
#include "mcxsec/keyparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const key_hex[] = {
    "07d1a1677ac36d8e81620484689b3c2d", /* SW v5 GMK */
    "e06e65106183547342d3e8a6ce2540a8", /* SW v5 CSK */
    "b4c96b703acd5c1bf7d4cc45068d9965", /* SW v5 PCK */
    "b1c9d5b7483511820ccfd06b58ef139b", /* Alea v3 GMK */
};
#define N_KEYS (sizeof key_hex / sizeof key_hex[0])

static uint8_t keys[N_KEYS][16];
static int keys_ready;

static int kp_equal(const mcx_key_params *a, const mcx_key_params *b)
{
    if (a->key_type != b->key_type || a->status != b->status || a->activation != b->activation ||
        a->expiry != b->expiry || a->text_len != b->text_len ||
        memcmp(a->text, b->text, a->text_len) != 0 || a->n_groups != b->n_groups)
        return 0;
    for (unsigned i = 0; i < a->n_groups; i++)
        if (a->groups[i].iei != b->groups[i].iei || a->groups[i].len != b->groups[i].len ||
            memcmp(a->groups[i].id, b->groups[i].id, a->groups[i].len) != 0)
            return 0;
    return 1;
}

static void sentinel(mcx_key_params *kp)
{
    memset(kp, 0xA5, sizeof *kp);
}

static int is_sentinel(const mcx_key_params *kp)
{
    const uint8_t *p = (const uint8_t *)kp;
    for (size_t i = 0; i < sizeof *kp; i++)
        if (p[i] != 0xA5)
            return 0;
    return 1;
}

/* kp must re-encode, decode to the same values and encode to the same octets again. */
static void check_reencodes(const mcx_key_params *kp)
{
    static uint8_t a[4096], b[4096];
    static mcx_key_params again;
    size_t na = 0, nb = 0;
    if (mcx_kp_encode(kp, a, sizeof a, &na) != MCX_OK)
        abort();
    if (mcx_kp_decode(a, na, &again) != MCX_OK || !kp_equal(kp, &again))
        abort();
    /* the group-IDs field is written whenever the type calls for it (the 15-octet form has
     * none, so has_groups may change from 0 to 1 once) */
    if (again.has_groups != mcx_kp_type_has_groups(kp->key_type))
        abort();
    if (mcx_kp_encode(&again, b, sizeof b, &nb) != MCX_OK || na != nb || memcmp(a, b, na) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mcx_key_params kp, opened;
    static uint8_t wrapped[8192];
    if (!keys_ready) {
        for (size_t i = 0; i < N_KEYS; i++) {
            size_t n = 0;
            if (mcx_hex_decode(key_hex[i], keys[i], 16, &n) != MCX_OK || n != 16)
                abort();
        }
        keys_ready = 1;
    }

    /* 1. plain payload */
    sentinel(&kp);
    mcx_status dec = mcx_kp_decode(data, size, &kp);
    if (dec == MCX_OK)
        check_reencodes(&kp);
    else if (!is_sentinel(&kp))
        abort();

    /* 2. General Extension content under the known keys */
    uint32_t dppk_id = 0;
    if (size >= 32)
        dppk_id = ((uint32_t)data[28] << 24) | ((uint32_t)data[29] << 16) |
                  ((uint32_t)data[30] << 8) | data[31];
    for (size_t i = 0; i < N_KEYS; i++) {
        mcx_kp_form form = (mcx_kp_form)7;
        sentinel(&opened);
        mcx_status st = mcx_kp_open(keys[i], 16, dppk_id, data, size, 1, &opened, &form);
        if (st == MCX_OK) {
            if (form != MCX_KP_FORM_PROTECTED && form != MCX_KP_FORM_LEGACY)
                abort();
            check_reencodes(&opened);
        } else if (!is_sentinel(&opened) || form != (mcx_kp_form)7) {
            abort();
        }
    }

    /* 3. the input as the plaintext of a wrapper: opening it decodes exactly like step 1 (for
     * inputs well within the size mcx_kp_open decrypts) */
    if (size <= 1024) {
        static const uint8_t iv[MCX_KP_IV_BYTES] = {1, 2, 3};
        size_t n = 0;
        if (mcx_kp_protect_with_iv(keys[0], 16, 0x0123abcdu, 1, iv, data, size, wrapped,
                                   sizeof wrapped, &n) != MCX_OK)
            abort();
        sentinel(&opened);
        mcx_status st = mcx_kp_open(keys[0], 16, 0x0123abcdu, wrapped, n, 0, &opened, NULL);
        if (st != dec)
            abort();
        if (st == MCX_OK && (!kp_equal(&kp, &opened) || kp.has_groups != opened.has_groups))
            abort();
        /* one flipped tag bit is always refused */
        wrapped[n - 1] ^= 0x80;
        if (mcx_kp_open(keys[0], 16, 0x0123abcdu, wrapped, n, 0, &opened, NULL) !=
            MCX_E_TAG_INVALID)
            abort();
    }
    return 0;
}
