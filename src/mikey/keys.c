/* MCX key types, key IDs and the keys derived from them (include/mcxsec/keys.h): purpose tags
 * (TS 33.180 §5.2.3, Table E.6.11-1), GUK-ID (F.1.3), SRTP master key and salt with the MIKEY PRF
 * (RFC 3830 §4.1.3, TS 33.180 §7.4), DPCK (F.1.5) and the XPK signalling keys (F.1.4).
 *
 * Every intermediate output of the KDF or PRF is wiped before return, also on failure. */
#include <string.h>
#include <strings.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/kdf.h"
#include "mcxsec/keys.h"
#include "mcxsec/mem.h"

#define KEY_ID_TAG_MASK  0xF0000000u
#define KEY_ID_RAND_MASK 0x0FFFFFFFu

/* RFC 3830 §4.1.3: the constants of the key and salt labels (TEK / master key, salt). */
#define PRF_CONST_TEK  0x2AD01C64u
#define PRF_CONST_SALT 0x39A2C14Bu

/* RFC 3830 §6.11: the RAND payload carries its length in one octet. */
#define RAND_MAX_BYTES 255

/* TS 33.220 B.2: Li has two octets. */
#define KDF_PARAM_MAX 0xFFFFu

static const char *const key_type_names[MCX_KEY_TYPE_MAX + 1] = {"gmk",  "pck",   "csk",  "spk",
                                                                 "mkfc", "mscck", "musik"};

const char *mcx_key_type_name(unsigned type)
{
    return type <= MCX_KEY_TYPE_MAX ? key_type_names[type] : NULL;
}

mcx_status mcx_key_type_from_name(const char *name, mcx_key_type *type)
{
    if (name == NULL || type == NULL)
        return MCX_FAIL(MCX_E_ARG, "KEYS: NULL argument");
    for (unsigned t = 0; t <= MCX_KEY_TYPE_MAX; t++) {
        if (strcasecmp(name, key_type_names[t]) == 0) {
            *type = (mcx_key_type)t;
            return MCX_OK;
        }
    }
    return MCX_FAIL(MCX_E_ARG, "KEYS: unknown key type '%.32s'", name);
}

mcx_status mcx_key_id_new(mcx_key_type type, uint32_t *key_id)
{
    if (key_id == NULL)
        return MCX_FAIL(MCX_E_ARG, "KEYS: NULL argument");
    if ((unsigned)type > MCX_KEY_TYPE_MAX)
        return MCX_FAIL(MCX_E_ARG, "KEYS: key type %u has no purpose tag", (unsigned)type);
    uint8_t r[4];
    MCX_GUARD(mcx_random(r, sizeof r));
    /* TS 33.180 §5.2.3: 4-bit purpose tag, 28 random bits */
    *key_id = ((uint32_t)type << 28) | (load_be32(r) & KEY_ID_RAND_MASK);
    mcx_memzero(r, sizeof r);
    return MCX_OK;
}

/* TS 33.180 F.1.3: user salt = the 28 least significant bits of KDF(GMK, 0x50, P0 = the MC
 * service ID of the receiving user). The salt is the last 4 octets of the 32-octet output (SW
 * truncates to the key length first, which keeps the same last octets; FORMATS §2). */
static mcx_status guk_salt(const uint8_t *gmk, size_t gmk_len, const char *user_uri, uint32_t *salt)
{
    if (gmk == NULL || user_uri == NULL)
        return MCX_FAIL(MCX_E_ARG, "GUK-ID: NULL argument");
    if (gmk_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "GUK-ID: GMK is empty");
    size_t uri_len = strlen(user_uri);
    if (uri_len > KDF_PARAM_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "GUK-ID: user URI is %zu octets, at most 65535 allowed",
                        uri_len);
    uint8_t out[MCX_KDF_OUT_BYTES];
    mcx_kdf_param p0 = {(const uint8_t *)user_uri, uri_len};
    mcx_status st = mcx_kdf(gmk, gmk_len, MCX_KDF_FC_GUK_SALT, &p0, 1, out);
    if (st == MCX_OK)
        *salt = load_be32(out + MCX_KDF_OUT_BYTES - 4) & KEY_ID_RAND_MASK;
    mcx_memzero(out, sizeof out);
    return st;
}

/* The purpose tag is kept and the 28 lower bits are XORed with the salt; the same operation
 * maps a GMK-ID to its GUK-ID and back (TS 33.180 F.1.3). */
static uint32_t xor_salt(uint32_t id, uint32_t salt)
{
    return (id & KEY_ID_TAG_MASK) | ((id ^ salt) & KEY_ID_RAND_MASK);
}

mcx_status mcx_guk_id(const uint8_t *gmk, size_t gmk_len, uint32_t gmk_id, const char *user_uri,
                      uint32_t *guk_id)
{
    if (guk_id == NULL)
        return MCX_FAIL(MCX_E_ARG, "GUK-ID: NULL argument");
    uint32_t salt = 0;
    MCX_GUARD(guk_salt(gmk, gmk_len, user_uri, &salt));
    *guk_id = xor_salt(gmk_id, salt);
    return MCX_OK;
}

mcx_status mcx_gmk_id_from_guk_id(const uint8_t *gmk, size_t gmk_len, uint32_t guk_id,
                                  const char *user_uri, uint32_t *gmk_id)
{
    if (gmk_id == NULL)
        return MCX_FAIL(MCX_E_ARG, "GUK-ID: NULL argument");
    uint32_t salt = 0;
    MCX_GUARD(guk_salt(gmk, gmk_len, user_uri, &salt));
    *gmk_id = xor_salt(guk_id, salt);
    return MCX_OK;
}

mcx_status mcx_group_pseudonym(const uint8_t *gmk, size_t gmk_len, const char *group_id,
                               uint8_t out[MCX_GROUP_PSEUDONYM_BYTES])
{
    if (gmk == NULL || group_id == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "group pseudonym: NULL argument");
    if (gmk_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "group pseudonym: GMK is empty");
    size_t id_len = strlen(group_id);
    if (id_len > KDF_PARAM_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "group pseudonym: group ID is %zu octets, at most 65535",
                        id_len);
    uint8_t full[MCX_KDF_OUT_BYTES];
    mcx_kdf_param p0 = {(const uint8_t *)group_id, id_len};
    mcx_status st = mcx_kdf(gmk, gmk_len, MCX_KDF_FC_GROUP_PSEUDONYM, &p0, 1, full);
    if (st == MCX_OK)
        memcpy(out, full + MCX_KDF_OUT_BYTES - MCX_GROUP_PSEUDONYM_BYTES,
               MCX_GROUP_PSEUDONYM_BYTES);
    mcx_memzero(full, sizeof full);
    return st;
}

/* RFC 3830 §4.1.3: label = const (4) || CS-ID (1) || CSB-ID (4) || RAND. */
static size_t prf_label(uint32_t c, uint8_t cs_id, uint32_t csb_id, const uint8_t *rand,
                        size_t rand_len, uint8_t *label)
{
    store_be32(label, c);
    label[4] = cs_id;
    store_be32(label + 5, csb_id);
    memcpy(label + 9, rand, rand_len);
    return 9 + rand_len;
}

mcx_status mcx_srtp_master(const uint8_t *tgk, size_t tgk_len, uint8_t cs_id, uint32_t csb_id,
                           const uint8_t *rand, size_t rand_len, uint8_t *key, size_t key_len,
                           uint8_t *salt, size_t salt_len)
{
    if (tgk == NULL || rand == NULL || key == NULL || salt == NULL)
        return MCX_FAIL(MCX_E_ARG, "SRTP master: NULL argument");
    if (tgk_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "SRTP master: TGK is empty");
    if (rand_len == 0 || rand_len > RAND_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "SRTP master: RAND is %zu octets, 1..255 allowed", rand_len);
    /* SRTP master keys for AES-128 and AES-256 (RFC 3711, RFC 6188); salts of RFC 7714 (12)
     * and RFC 3711 (14). */
    if (key_len != 16 && key_len != 32)
        return MCX_FAIL(MCX_E_LENGTH, "SRTP master: key length %zu, 16 or 32 allowed", key_len);
    if (salt_len != 12 && salt_len != 14)
        return MCX_FAIL(MCX_E_LENGTH, "SRTP master: salt length %zu, 12 or 14 allowed", salt_len);

    uint8_t label[9 + RAND_MAX_BYTES];
    mcx_status st;
    size_t n = prf_label(PRF_CONST_TEK, cs_id, csb_id, rand, rand_len, label);
    MCX_GUARD_GOTO(st, mcx_mikey_prf(tgk, tgk_len, label, n, key, key_len), fail);
    n = prf_label(PRF_CONST_SALT, cs_id, csb_id, rand, rand_len, label);
    MCX_GUARD_GOTO(st, mcx_mikey_prf(tgk, tgk_len, label, n, salt, salt_len), fail);
    return MCX_OK;
fail:
    mcx_memzero(key, key_len);
    mcx_memzero(salt, salt_len);
    return st;
}

mcx_status mcx_dpck(const uint8_t *dppk, size_t dppk_len, uint32_t dppk_id, uint8_t fc,
                    uint8_t dpck[MCX_DPCK_BYTES])
{
    if (dppk == NULL || dpck == NULL)
        return MCX_FAIL(MCX_E_ARG, "DPCK: NULL argument");
    if (dppk_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "DPCK: DPPK is empty");
    uint8_t id[4], out[MCX_KDF_OUT_BYTES];
    store_be32(id, dppk_id);
    mcx_kdf_param p0 = {id, sizeof id};
    mcx_status st = mcx_kdf(dppk, dppk_len, fc, &p0, 1, out);
    /* TS 33.180 F.1.5: the 128 least significant bits, i.e. the rightmost 16 octets */
    if (st == MCX_OK)
        memcpy(dpck, out + MCX_KDF_OUT_BYTES - MCX_DPCK_BYTES, MCX_DPCK_BYTES);
    mcx_memzero(out, sizeof out);
    return st;
}

mcx_status mcx_xpk_keys(const uint8_t *xpk, size_t xpk_len, uint32_t xpk_id, const char *user_uri,
                        uint8_t conf_key[MCX_XPK_KEY_BYTES], uint8_t integ_key[MCX_XPK_KEY_BYTES])
{
    if (xpk == NULL || user_uri == NULL || conf_key == NULL || integ_key == NULL)
        return MCX_FAIL(MCX_E_ARG, "XPK: NULL argument");
    if (xpk_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "XPK: key is empty");
    size_t uri_len = strlen(user_uri);
    if (uri_len > KDF_PARAM_MAX)
        return MCX_FAIL(MCX_E_LENGTH, "XPK: user URI is %zu octets, at most 65535 allowed",
                        uri_len);

    /* TS 33.180 F.1.4: P0 = MC service user ID, P1 = XPK-ID (4 octets) */
    uint8_t id[4], out[MCX_KDF_OUT_BYTES];
    store_be32(id, xpk_id);
    mcx_kdf_param p[2] = {{(const uint8_t *)user_uri, uri_len}, {id, sizeof id}};
    mcx_status st;
    MCX_GUARD_GOTO(st, mcx_kdf(xpk, xpk_len, MCX_KDF_FC_XPK_CONF, p, 2, out), fail);
    memcpy(conf_key, out + MCX_KDF_OUT_BYTES - MCX_XPK_KEY_BYTES, MCX_XPK_KEY_BYTES);
    MCX_GUARD_GOTO(st, mcx_kdf(xpk, xpk_len, MCX_KDF_FC_XPK_INTEG, p, 2, out), fail);
    memcpy(integ_key, out + MCX_KDF_OUT_BYTES - MCX_XPK_KEY_BYTES, MCX_XPK_KEY_BYTES);
    mcx_memzero(out, sizeof out);
    return MCX_OK;
fail:
    mcx_memzero(out, sizeof out);
    mcx_memzero(conf_key, MCX_XPK_KEY_BYTES);
    mcx_memzero(integ_key, MCX_XPK_KEY_BYTES);
    return st;
}
