/* Vector family "keyval": key_material_validation.txt, KMS-issued key sets from several vendors.
 *
 * ECCSI half: every [section] with ssk, pvt and kms_pub_auth_key_KPAK is validated with
 * mcx_eccsi_validate (RFC 6507 §5.1.2) under the identity the section names, and must give MCX_OK
 * exactly when computed_ssk_pvt_valid is true. A section whose PVT is off the curve
 * (computed_pvt_on_curve = false) must fail with MCX_E_NOT_ON_CURVE, any other invalid key set
 * with MCX_E_KEY_INVALID.
 *
 * The identity is built from `uid` (hex) and `identity_encoding`: an encoding that mentions
 * "hex string" means the 64 lowercase hex characters of the UID as ASCII (how the Airbus KMS
 * signs), otherwise (or with no identity_encoding at all) the 32 raw UID octets. */
#include <stdint.h>
#include <string.h>

#include "mcxsec/eccsi.h"
#include "mcxsec/sakke.h"
#include "runner.h"

#define UID_BYTES 32

typedef struct keyval_counts {
    unsigned eccsi_checked;
    unsigned eccsi_invalid;
} keyval_counts;

/* The signing identity of a section (see the header comment); returns its length. */
static size_t section_identity(const vec_section *sec, uint8_t out[2 * UID_BYTES])
{
    uint8_t uid[UID_BYTES];
    size_t n = vec_hex(sec, "uid", uid, sizeof uid);
    CHECK(n == UID_BYTES);
    const char *enc = vec_get(sec, "identity_encoding");
    if (enc == NULL || strstr(enc, "hex string") == NULL) {
        memcpy(out, uid, n);
        return n;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)digits[uid[i] >> 4];
        out[2 * i + 1] = (uint8_t)digits[uid[i] & 0x0f];
    }
    return 2 * n;
}

/* An SSK written with extra leading zero octets (the eazon sets) is read as an integer: drop
 * the zeros down to 32 octets. Returns 0 if the value does not fit. */
static int section_ssk(const vec_section *sec, uint8_t ssk[32])
{
    uint8_t raw[64];
    size_t n = vec_hex(sec, "ssk", raw, sizeof raw);
    size_t skip = 0;
    while (n - skip > 32 && raw[skip] == 0)
        skip++;
    if (n - skip != 32)
        return 0;
    memcpy(ssk, raw + skip, 32);
    return 1;
}

static int is_true(const char *v)
{
    return v != NULL && strncmp(v, "true", 4) == 0;
}

static void eccsi_section(const vec_section *sec, keyval_counts *counts)
{
    uint8_t id[2 * UID_BYTES], kpak[65], pvt[65], ssk[32], hs[32];
    size_t id_len = section_identity(sec, id);
    CHECK(vec_hex(sec, "kms_pub_auth_key_KPAK", kpak, sizeof kpak) == 65);
    CHECK(vec_hex(sec, "pvt", pvt, sizeof pvt) == 65);
    CHECK(section_ssk(sec, ssk));
    const char *valid = vec_get(sec, "computed_ssk_pvt_valid");
    CHECK(valid != NULL);
    const char *on_curve = vec_get(sec, "computed_pvt_on_curve");

    mcx_status want = MCX_OK;
    if (!is_true(valid))
        want = on_curve != NULL && !is_true(on_curve) ? MCX_E_NOT_ON_CURVE : MCX_E_KEY_INVALID;
    mcx_status got = mcx_eccsi_validate(kpak, id, id_len, ssk, pvt, hs);
    if (got != want)
        fprintf(stderr, "keyval [%s]: validate gave %s (%s), expected %s\n", sec->name,
                mcx_status_name(got), mcx_last_error(), mcx_status_name(want));
    CHECK(got == want);
    counts->eccsi_checked++;
    counts->eccsi_invalid += want != MCX_OK;
}

/* RFC 6508 6.1.2: the RSK must validate exactly when the source (or the independent
 * recomputation) says so; an invalid one fails the pairing check. */
static void rsk_section(const vec_section *sec, int *checked, int *invalid)
{
    uint8_t id[2 * UID_BYTES], Z[MCX_SAKKE_POINT_BYTES], rsk[MCX_SAKKE_POINT_BYTES];
    size_t id_len = section_identity(sec, id);
    CHECK(vec_hex(sec, "kms_pub_enc_key_Z", Z, sizeof Z) == sizeof Z);
    CHECK(vec_hex(sec, "rsk", rsk, sizeof rsk) == sizeof rsk);
    mcx_status want = is_true(vec_get(sec, "computed_rsk_valid")) ? MCX_OK : MCX_E_KEY_INVALID;
    mcx_status got = mcx_sakke_validate_rsk(Z, id, id_len, rsk);
    if (got != want)
        fprintf(stderr, "keyval [%s]: RSK validation gave %s (%s), expected %s\n", sec->name,
                mcx_status_name(got), mcx_last_error(), mcx_status_name(want));
    CHECK(got == want);
    (*checked)++;
    *invalid += want != MCX_OK;
}

static void keyval_vectors(const vec_file *f)
{
    keyval_counts counts = {0};
    int rsk_checked = 0, rsk_invalid = 0;
    for (size_t i = 0; i < f->n_sections; i++) {
        const vec_section *sec = &f->sections[i];
        if (vec_get(sec, "ssk") != NULL && vec_get(sec, "pvt") != NULL &&
            vec_get(sec, "kms_pub_auth_key_KPAK") != NULL)
            eccsi_section(sec, &counts);
        if (vec_get(sec, "rsk") != NULL && vec_get(sec, "kms_pub_enc_key_Z") != NULL &&
            vec_get(sec, "computed_rsk_valid") != NULL)
            rsk_section(sec, &rsk_checked, &rsk_invalid);
    }
    printf("     keyval: %u SSK/PVT sets (%u invalid), %d RSKs (%d invalid) checked\n",
           counts.eccsi_checked, counts.eccsi_invalid, rsk_checked, rsk_invalid);
    CHECK(rsk_checked >= 23);
    CHECK(rsk_invalid >= 1);
    /* the file holds 24 ECCSI key sets, 2 of them invalid; finding fewer means a parsing bug */
    CHECK(counts.eccsi_checked >= 24);
    CHECK(counts.eccsi_invalid >= 2);
}

VEC_FAMILY(keyval, "key_material_validation.txt", keyval_vectors)
