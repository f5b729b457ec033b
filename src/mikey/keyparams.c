/* The 3GPP key-parameters payload (TS 33.180 §E.6) and the MCData protected payload that carries
 * it in a MIKEY General Extension of type 7 (TS 33.180 §8.5.4; FORMATS.md §5, FACTS.md §6.2).
 * Encoder and decoder side by side, both through the bounds-checked cursor.
 *
 * Decisions where the sources leave room (FORMATS.md §5):
 * - Wrapper TLV length: SW's parser ignores it and takes "the rest of the payload". mcxsec
 *   accepts exactly one value, the number of octets that follow it, and rejects any other with
 *   the two numbers in the reason: both deployed senders (SW, Alea) write that value, and a
 *   disagreeing length means a damaged or mis-framed payload.
 * - Wrapper TLV type: both deployed senders write 0 and no other value is defined, so anything
 *   else is MCX_E_UNSUPPORTED (the octet is not covered by the AAD, so it is checked here).
 * - Message type: any value with the "encrypted" bit 0x40 (SW 0x43, Alea 0x40); payload ID and
 *   sequence number are not checked (they are authenticated as AAD; E.6 fixes them to 0).
 * - Payload algorithm 2 (AES-256-GCM): no sender uses it and TS 33.180 F.1.5 defines only a
 *   128-bit DPCK; mcxsec takes the whole 256-bit KDF output as the AES-256 key. */
#include <string.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/kdf.h"
#include "mcxsec/keyparams.h"
#include "mcxsec/keys.h"
#include "mcxsec/mem.h"
#include "mikey/aead_internal.h"

#define KP_TIME_MAX ((UINT64_C(1) << 40) - 1)
/* key type (1) | status (4) | activation (5) | expiry (5): the shortest form (EZ GMS) */
#define KP_FIXED_BYTES 15
/* The longest plain payload within the MCX_KP_* limits. */
#define KP_PLAIN_MAX                                                                               \
    (KP_FIXED_BYTES + 2 + MCX_KP_TEXT_MAX + 2 + 1 + MCX_KP_GROUPS_MAX * (3 + MCX_KP_GROUP_ID_MAX))
/* type (1) | date-time (5) | payload ID (4) | seq (1) | algorithm (1) */
#define WRAP_HEAD_BYTES 12
/* AAD = the first 12 octets || IV || DPPK-ID: the first 32 octets of the wrapper */
#define WRAP_AAD_BYTES (WRAP_HEAD_BYTES + MCX_KP_IV_BYTES + 4)
#define WRAP_ENCRYPTED 0x40u /* TS 24.282 message type bit "encrypted" */
#define WRAP_TLV_TYPE  0x00
#define LEGACY_MIN     1 /* legacy first octet = key type + 1, GMK/PCK/CSK (SW <= 1.1.13) */
#define LEGACY_MAX     3

int mcx_kp_type_has_groups(unsigned key_type)
{
    return key_type == MCX_KEY_GMK || key_type == MCX_KEY_MKFC || key_type == MCX_KEY_MUSIK;
}

/* ---- plain payload ---- */

/* MC group IDs (LV-E, TS 24.379 Annex I): length (2) | count (1) | { IEI (1) | length (2) | ID }.
 * The length covers the count and the entries. */
static mcx_status decode_groups(mcx_reader *r, mcx_key_params *kp)
{
    uint16_t glen;
    MCX_GUARD(rd_u16(r, "group IDs length", &glen));
    if (glen > rd_left(r))
        return MCX_FAIL(MCX_E_LENGTH, "%s: group IDs length %u exceeds the %zu octets left",
                        r->where, glen, rd_left(r));
    mcx_reader g;
    MCX_GUARD(rd_sub(r, "group IDs", glen, NULL, &g));
    kp->has_groups = 1;
    if (glen == 0)
        return rd_fail(&g, MCX_E_ENCODING, "group IDs length 0 leaves no room for the count");
    uint8_t count;
    MCX_GUARD(rd_u8(&g, "group ID count", &count));
    if (count > MCX_KP_GROUPS_MAX)
        return rd_fail(&g, MCX_E_UNSUPPORTED, "%u group IDs, at most %d kept", count,
                       MCX_KP_GROUPS_MAX);
    for (unsigned i = 0; i < count; i++) {
        mcx_kp_group_id *id = &kp->groups[i];
        if (rd_left(&g) < 3)
            return rd_fail(&g, MCX_E_ENCODING,
                           "count %u disagrees with group IDs length %u: group ID %u has no "
                           "room for its header",
                           count, glen, i + 1);
        MCX_GUARD(rd_u8(&g, "group ID IEI", &id->iei));
        MCX_GUARD(rd_u16(&g, "group ID length", &id->len));
        if (id->len > rd_left(&g))
            return rd_fail(&g, MCX_E_ENCODING,
                           "group ID %u of %u octets exceeds the %zu octets left in the group "
                           "IDs length",
                           i + 1, id->len, rd_left(&g));
        if (id->len > MCX_KP_GROUP_ID_MAX)
            return rd_fail(&g, MCX_E_UNSUPPORTED, "group ID %u is %u octets, at most %d kept",
                           i + 1, id->len, MCX_KP_GROUP_ID_MAX);
        MCX_GUARD(rd_copy(&g, "group ID", id->len, id->id));
    }
    if (rd_left(&g) != 0)
        return rd_fail(&g, MCX_E_ENCODING,
                       "count %u disagrees with group IDs length %u: %zu octets unused", count,
                       glen, rd_left(&g));
    kp->n_groups = count;
    return MCX_OK;
}

/* The plain payload (TS 33.180 §E.6). legacy: the first octet is key type + 1 and no group-IDs
 * field follows the text (SW <= 1.1.13, FORMATS.md §5). kp is cleared first. */
static mcx_status decode_body(mcx_reader *r, int legacy, mcx_key_params *kp)
{
    memset(kp, 0, sizeof *kp);
    MCX_GUARD(rd_u8(r, "key type", &kp->key_type));
    if (legacy)
        kp->key_type = (uint8_t)(kp->key_type - 1);
    else if (kp->key_type > MCX_KEY_TYPE_MAX)
        return rd_fail(r, MCX_E_UNSUPPORTED, "key type %u is not defined", kp->key_type);
    MCX_GUARD(rd_u32(r, "status", &kp->status));
    MCX_GUARD(rd_u40(r, "activation time", &kp->activation));
    MCX_GUARD(rd_u40(r, "expiry time", &kp->expiry));
    /* One deployed GMS (EZ) ends the payload here: no text length, no group IDs. */
    if (rd_left(r) == 0)
        return MCX_OK;
    MCX_GUARD(rd_u16(r, "text length", &kp->text_len));
    if (kp->text_len > rd_left(r))
        return MCX_FAIL(MCX_E_LENGTH, "%s: text length %u exceeds the %zu octets left", r->where,
                        kp->text_len, rd_left(r));
    if (kp->text_len > MCX_KP_TEXT_MAX)
        return rd_fail(r, MCX_E_UNSUPPORTED, "text of %u octets, at most %d kept", kp->text_len,
                       MCX_KP_TEXT_MAX);
    MCX_GUARD(rd_copy(r, "text", kp->text_len, kp->text));
    if (!legacy && mcx_kp_type_has_groups(kp->key_type))
        MCX_GUARD(decode_groups(r, kp));
    return rd_end(r);
}

mcx_status mcx_kp_decode(const uint8_t *in, size_t len, mcx_key_params *kp)
{
    if (kp == NULL || (in == NULL && len > 0))
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS: NULL argument");
    mcx_key_params tmp;
    mcx_reader r;
    rd_init(&r, in, len, "KEYPARAMS");
    mcx_status st = decode_body(&r, 0, &tmp);
    if (st == MCX_OK)
        *kp = tmp;
    mcx_memzero(&tmp, sizeof tmp);
    return st;
}

mcx_status mcx_kp_encode(const mcx_key_params *kp, uint8_t *out, size_t cap, size_t *out_len)
{
    if (kp == NULL || out == NULL || out_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: NULL argument");
    *out_len = 0;
    if (kp->key_type > MCX_KEY_TYPE_MAX)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: key type %u is not defined", kp->key_type);
    if (kp->activation > KP_TIME_MAX || kp->expiry > KP_TIME_MAX)
        return MCX_FAIL(MCX_E_RANGE, "KEYPARAMS encode: a time above 2^40-1 does not fit 5 octets");
    if (kp->text_len > MCX_KP_TEXT_MAX)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: text length %u above %d", kp->text_len,
                        MCX_KP_TEXT_MAX);
    int groups = mcx_kp_type_has_groups(kp->key_type);
    if (!kp->has_groups && kp->n_groups != 0)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: %u group IDs but has_groups is 0",
                        kp->n_groups);
    if (!groups && kp->has_groups && kp->n_groups > 0)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: a %s carries no group IDs",
                        mcx_key_type_name(kp->key_type));
    if (kp->n_groups > MCX_KP_GROUPS_MAX)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: %u group IDs, at most %d", kp->n_groups,
                        MCX_KP_GROUPS_MAX);
    for (unsigned i = 0; i < kp->n_groups; i++)
        if (kp->groups[i].len > MCX_KP_GROUP_ID_MAX)
            return MCX_FAIL(MCX_E_ARG, "KEYPARAMS encode: group ID %u is %u octets, at most %d",
                            i + 1, kp->groups[i].len, MCX_KP_GROUP_ID_MAX);

    mcx_writer w;
    wr_init(&w, out, cap);
    wr_u8(&w, kp->key_type);
    wr_u32(&w, kp->status);
    wr_u40(&w, kp->activation);
    wr_u40(&w, kp->expiry);
    wr_u16(&w, kp->text_len);
    wr_bytes(&w, kp->text, kp->text_len);
    /* GMK, MKFC and MuSiK always carry the field; an empty list is length 1, count 0. */
    if (groups) {
        size_t mark = wr_reserve(&w, 2);
        wr_u8(&w, kp->n_groups);
        for (unsigned i = 0; i < kp->n_groups; i++) {
            wr_u8(&w, kp->groups[i].iei);
            wr_u16(&w, kp->groups[i].len);
            wr_bytes(&w, kp->groups[i].id, kp->groups[i].len);
        }
        MCX_GUARD(wr_fill_len(&w, mark, 2, "KEYPARAMS encode: group IDs"));
    }
    MCX_GUARD(wr_status(&w, "KEYPARAMS encode"));
    *out_len = wr_len(&w);
    return MCX_OK;
}

/* ---- protected wrapper ---- */

/* The AES-GCM key of the wrapper: the DPCK (TS 33.180 F.1.5) for algorithm 1, the whole KDF
 * output for algorithm 2 (see the top of the file). */
static mcx_status wrap_key(const uint8_t *key, size_t key_len, uint32_t dppk_id, uint8_t alg,
                           uint8_t out[MCX_KDF_OUT_BYTES], size_t *out_len)
{
    if (alg == MCX_KP_ALG_AES128_GCM) {
        *out_len = MCX_DPCK_BYTES;
        return mcx_dpck(key, key_len, dppk_id, MCX_KDF_FC_DPCK, out);
    }
    uint8_t id[4] = {(uint8_t)(dppk_id >> 24), (uint8_t)(dppk_id >> 16), (uint8_t)(dppk_id >> 8),
                     (uint8_t)dppk_id};
    mcx_kdf_param p0 = {id, sizeof id};
    if (key_len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "DPCK: DPPK is empty");
    *out_len = MCX_KDF_OUT_BYTES;
    return mcx_kdf(key, key_len, MCX_KDF_FC_DPCK, &p0, 1, out);
}

mcx_status mcx_kp_protect_with_iv(const uint8_t *key, size_t key_len, uint32_t dppk_id,
                                  uint64_t date_time, const uint8_t iv[MCX_KP_IV_BYTES],
                                  const uint8_t *plain, size_t plain_len, uint8_t *out, size_t cap,
                                  size_t *out_len)
{
    static const char who[] = "KEYPARAMS protect";
    if (key == NULL || iv == NULL || out == NULL || out_len == NULL ||
        (plain == NULL && plain_len > 0))
        return MCX_FAIL(MCX_E_ARG, "%s: NULL argument", who);
    *out_len = 0;
    if (date_time > KP_TIME_MAX)
        return MCX_FAIL(MCX_E_ARG, "%s: date-time above 2^40-1 does not fit 5 octets", who);
    /* the TLV length (2 octets) counts the ciphertext and the tag */
    if (plain_len > 0xFFFFu - MCX_KP_TAG_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "%s: payload of %zu octets does not fit the TLV length", who,
                        plain_len);
    size_t total = MCX_KP_WRAP_OVERHEAD + plain_len;
    if (cap < total)
        return MCX_FAIL(MCX_E_LENGTH, "%s: output buffer of %zu octets is too small (%zu needed)",
                        who, cap, total);

    uint8_t k[MCX_KDF_OUT_BYTES];
    size_t k_len = 0;
    mcx_status st;
    MCX_GUARD_GOTO(st, wrap_key(key, key_len, dppk_id, MCX_KP_ALG_AES128_GCM, k, &k_len), done);

    /* TS 33.180 §8.5.4 / FORMATS.md §5: the layout SW writes (payload ID 0, sequence 0) */
    mcx_writer w;
    wr_init(&w, out, cap);
    wr_u8(&w, MCX_KP_WRAP_TYPE_ENCRYPTED);
    wr_u40(&w, date_time);
    wr_u32(&w, 0); /* payload ID: 0 for key parameters (TS 33.180 E.6) */
    wr_u8(&w, 0);  /* payload sequence number */
    wr_u8(&w, MCX_KP_ALG_AES128_GCM);
    wr_bytes(&w, iv, MCX_KP_IV_BYTES);
    wr_u32(&w, dppk_id);
    wr_u8(&w, WRAP_TLV_TYPE);
    wr_u16(&w, (uint16_t)(plain_len + MCX_KP_TAG_BYTES));
    size_t ct_pos = wr_len(&w);
    wr_bytes(&w, plain, plain_len); /* encrypted in place below */
    size_t tag_pos = wr_len(&w);
    static const uint8_t no_tag[MCX_KP_TAG_BYTES] = {0};
    wr_bytes(&w, no_tag, sizeof no_tag); /* room for the tag, filled below */
    MCX_GUARD_GOTO(st, wr_status(&w, who), done);
    MCX_GUARD_GOTO(st,
                   mcx_gcm_seal(who, k, k_len, iv, MCX_KP_IV_BYTES, out, WRAP_AAD_BYTES,
                                out + ct_pos, plain_len, out + ct_pos, out + tag_pos),
                   done);
    *out_len = wr_len(&w);
done:
    if (st != MCX_OK)
        mcx_memzero(out, total); /* no plaintext or key octets left behind */
    mcx_memzero(k, sizeof k);
    return st;
}

mcx_status mcx_kp_protect(const uint8_t *key, size_t key_len, uint32_t dppk_id, uint64_t date_time,
                          const uint8_t *plain, size_t plain_len, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    uint8_t iv[MCX_KP_IV_BYTES];
    MCX_GUARD(mcx_random(iv, sizeof iv));
    return mcx_kp_protect_with_iv(key, key_len, dppk_id, date_time, iv, plain, plain_len, out, cap,
                                  out_len);
}

/* The legacy form: the plain payload with key type + 1 in the first octet, no group IDs. */
static mcx_status open_legacy(const uint8_t *in, size_t len, mcx_key_params *tmp)
{
    mcx_reader r;
    rd_init(&r, in, len, "KEYPARAMS legacy");
    return decode_body(&r, 1, tmp);
}

/* Authenticate, decrypt and decode the protected wrapper into *tmp. */
static mcx_status open_protected(const uint8_t *key, size_t key_len, uint32_t expect_dppk_id,
                                 const uint8_t *in, size_t len, mcx_key_params *tmp)
{
    mcx_reader r;
    rd_init(&r, in, len, "KEYPARAMS");
    uint8_t type, seq, alg, tlv_type;
    uint64_t date_time;
    uint32_t payload_id, dppk_id;
    uint16_t tlv_len;
    const uint8_t *iv, *ct, *tag;
    MCX_GUARD(rd_u8(&r, "message type", &type));
    MCX_GUARD(rd_u40(&r, "date-time", &date_time));
    MCX_GUARD(rd_u32(&r, "payload ID", &payload_id));
    MCX_GUARD(rd_u8(&r, "payload sequence number", &seq));
    MCX_GUARD(rd_u8(&r, "payload algorithm", &alg));
    MCX_GUARD(rd_bytes(&r, "IV", MCX_KP_IV_BYTES, &iv));
    MCX_GUARD(rd_u32(&r, "DPPK-ID", &dppk_id));
    MCX_GUARD(rd_u8(&r, "TLV type", &tlv_type));
    MCX_GUARD(rd_u16(&r, "TLV length", &tlv_len));

    /* TS 33.180 E.6: the DPPK-ID is the CSB-ID of the HDR */
    if (dppk_id != expect_dppk_id)
        return MCX_FAIL(MCX_E_ENCODING, "KEYPARAMS: DPPK-ID %08x is not the CSB-ID %08x",
                        (unsigned)dppk_id, (unsigned)expect_dppk_id);
    if (alg != MCX_KP_ALG_AES128_GCM && alg != MCX_KP_ALG_AES256_GCM)
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "KEYPARAMS: payload algorithm %u is not AES-128-GCM "
                        "(1) or AES-256-GCM (2)",
                        alg);
    if (tlv_type != WRAP_TLV_TYPE)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "KEYPARAMS: TLV type %u, only 0 is known", tlv_type);
    if (tlv_len != rd_left(&r))
        return MCX_FAIL(MCX_E_LENGTH, "KEYPARAMS: TLV length %u disagrees with the %zu octets left",
                        tlv_len, rd_left(&r));
    if (tlv_len < MCX_KP_TAG_BYTES)
        return MCX_FAIL(MCX_E_LENGTH,
                        "KEYPARAMS: protected payload of %u octets is shorter than its tag (16)",
                        tlv_len);
    size_t ct_len = (size_t)tlv_len - MCX_KP_TAG_BYTES;
    if (ct_len > KP_PLAIN_MAX)
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "KEYPARAMS: encrypted payload of %zu octets exceeds the %d that fit the "
                        "MCX_KP_* limits",
                        ct_len, KP_PLAIN_MAX);
    MCX_GUARD(rd_bytes(&r, "ciphertext", ct_len, &ct));
    MCX_GUARD(rd_bytes(&r, "tag", MCX_KP_TAG_BYTES, &tag));
    MCX_GUARD(rd_end(&r));

    uint8_t k[MCX_KDF_OUT_BYTES], plain[KP_PLAIN_MAX];
    size_t k_len = 0;
    mcx_status st;
    MCX_GUARD_GOTO(st, wrap_key(key, key_len, dppk_id, alg, k, &k_len), done);
    /* AAD = type .. algorithm || IV || DPPK-ID = the first 32 octets as received */
    MCX_GUARD_GOTO(st,
                   mcx_gcm_open("KEYPARAMS", k, k_len, iv, MCX_KP_IV_BYTES, in, WRAP_AAD_BYTES, ct,
                                ct_len, tag, plain),
                   done);
    rd_init(&r, plain, ct_len, "KEYPARAMS plaintext");
    st = decode_body(&r, 0, tmp);
done:
    mcx_memzero(k, sizeof k);
    mcx_memzero(plain, ct_len);
    return st;
}

mcx_status mcx_kp_open(const uint8_t *key, size_t key_len, uint32_t expect_dppk_id,
                       const uint8_t *in, size_t len, int allow_legacy, mcx_key_params *kp,
                       mcx_kp_form *form)
{
    if (key == NULL || in == NULL || kp == NULL)
        return MCX_FAIL(MCX_E_ARG, "KEYPARAMS: NULL argument");
    if (len == 0)
        return MCX_FAIL(MCX_E_LENGTH, "KEYPARAMS: General Extension content is empty");

    mcx_key_params tmp;
    mcx_kp_form f;
    mcx_status st;
    if (in[0] >= LEGACY_MIN && in[0] <= LEGACY_MAX) {
        if (!allow_legacy)
            return MCX_FAIL(MCX_E_UNSUPPORTED,
                            "KEYPARAMS: legacy unencrypted form (first octet %u) not allowed",
                            in[0]);
        f = MCX_KP_FORM_LEGACY;
        st = open_legacy(in, len, &tmp);
    } else if ((in[0] & WRAP_ENCRYPTED) != 0) {
        f = MCX_KP_FORM_PROTECTED;
        st = open_protected(key, key_len, expect_dppk_id, in, len, &tmp);
    } else {
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "KEYPARAMS: message type 0x%02x is neither encrypted nor the legacy form",
                        in[0]);
    }
    /* kp and form are written only when everything succeeded */
    if (st == MCX_OK) {
        *kp = tmp;
        if (form != NULL)
            *form = f;
    }
    mcx_memzero(&tmp, sizeof tmp);
    return st;
}
