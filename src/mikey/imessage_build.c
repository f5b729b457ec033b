/* Building MIKEY-SAKKE I_MESSAGEs for MCX keys (RFC 6509 §4, TS 33.180 E.1-E.6, FORMATS.md §4).
 *
 * Layout written (what the deployed vendors read, FORMATS §4):
 *   HDR  version 1, data type 26, V 0, PRF 1 (HMAC-SHA-256), CSB-ID, CS-ID map:
 *        GMK: GENERIC-ID, CS-ID 4, SPI = GMK-ID || GUK-ID, CSB-ID = GUK-ID
 *        CSK/MuSiK: GENERIC-ID, CS-ID 6/7, SPI = key ID, CSB-ID = key ID
 *        PCK, SPK, MKFC, MSCCK: #CS 0 with the empty map (TS 33.180 E.1.2), CSB-ID = key ID
 *   T    NTP-UTC, seconds in the high 32 bits
 *   RAND 16 octets
 *   IDR  roles 8/9 (UIDs) or 1/2 (URIs), then 6/7 (KMS URIs)
 *   SP   the TS 33.179 default profile, when the map names a crypto session
 *   SAKKE parameter set 1, ID scheme 2, SED
 *   GEXT type 6 (SAKKE-to-self), type 7 (protected key parameters)
 *   SIGN ECCSI over every octet up to and including the SIGN header (RFC 3830 §5.2). */
#include <string.h>
#include <time.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mikey/mikey_internal.h"

#define SENDER_CACHE 4 /* SAKKE senders kept for receivers' KMSs other than our own */

struct mcx_mikey_builder {
    mcx_kms_cert kms;
    char uri[MCX_URI_MAX];
    uint8_t uid[MCX_UID_BYTES];
    mcx_eccsi_signer signer;
    mcx_sakke_sender *own; /* encapsulates to identities of our own KMS */
    struct {
        uint8_t Z[MCX_SAKKE_POINT_BYTES];
        mcx_sakke_sender *sender;
    } other[SENDER_CACHE];
    size_t n_other, next_evict;
};

/* The default SRTP profile (TS 33.179 Tables E.2-1, E.3-1) as SW writes it: encryption AES-GCM
 * (0:6), key 16 (1:16), auth RCCm3 (2:4), salt 12 (4:12), PRF AES-CM (5:0), KDR 0 (6:0), SRTP
 * auth tag 4 (18:4), SRTCP auth tag 0 (19:0), AEAD tag 16 (20:16). */
static const uint8_t DEFAULT_SP_PARAMS[] = {0, 1, 6, 1, 1,  16, 2, 1,  4, 4, 1,  12, 5, 1,
                                            0, 6, 1, 0, 18, 1,  4, 19, 1, 0, 20, 1,  16};

uint64_t mcx_ntp_now(void)
{
    return (uint64_t)time(NULL) + MCX_NTP_UNIX_OFFSET;
}

mcx_status mcx_mikey_builder_new(mcx_mikey_builder **out, const mcx_kms_cert *kms, const char *uri,
                                 const uint8_t *uid, uint64_t period_no,
                                 const uint8_t ssk[MCX_ECCSI_SCALAR_BYTES],
                                 const uint8_t pvt[MCX_ECCSI_POINT_BYTES])
{
    if (!out || !kms || !ssk || !pvt || (!uri && !uid))
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: NULL argument (a URI or a UID is needed)");
    *out = NULL;
    if (uri && strlen(uri) >= MCX_URI_MAX)
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: sender URI longer than %d octets",
                        MCX_URI_MAX - 1);
    mcx_mikey_builder *b = mcx_secure_alloc(sizeof *b); /* holds the SSK */
    if (!b)
        return MCX_FAIL(MCX_E_NOMEM, "MIKEY build: out of memory");
    mcx_status st;
    b->kms = *kms;
    if (uri)
        strcpy(b->uri, uri);
    if (uid)
        memcpy(b->uid, uid, MCX_UID_BYTES);
    else
        MCX_GUARD_GOTO(st, mikey_uid(uri, kms, period_no, b->uid), fail);
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t id_len = mcx_identity_from_uid(b->uid, kms->id_mode, id);
    MCX_GUARD_GOTO(st, mcx_eccsi_signer_init(&b->signer, kms->kpak, id, id_len, ssk, pvt), fail);
    MCX_GUARD_GOTO(st, mcx_sakke_sender_new(&b->own, kms->Z), fail);
    *out = b;
    return MCX_OK;
fail:
    mcx_mikey_builder_free(b);
    return st;
}

void mcx_mikey_builder_free(mcx_mikey_builder *b)
{
    if (!b)
        return;
    mcx_eccsi_signer_wipe(&b->signer);
    mcx_sakke_sender_free(b->own);
    for (size_t i = 0; i < b->n_other; i++)
        mcx_sakke_sender_free(b->other[i].sender);
    mcx_secure_free(b);
}

/* The SAKKE sender for a receiver's KMS: ours, or one from a small cache of others. */
static mcx_status sender_for(mcx_mikey_builder *b, const mcx_kms_cert *kms,
                             const mcx_sakke_sender **s)
{
    if (memcmp(kms->Z, b->kms.Z, MCX_SAKKE_POINT_BYTES) == 0) {
        *s = b->own;
        return MCX_OK;
    }
    for (size_t i = 0; i < b->n_other; i++)
        if (memcmp(kms->Z, b->other[i].Z, MCX_SAKKE_POINT_BYTES) == 0) {
            *s = b->other[i].sender;
            return MCX_OK;
        }
    mcx_sakke_sender *fresh;
    MCX_GUARD(mcx_sakke_sender_new(&fresh, kms->Z));
    size_t slot;
    if (b->n_other < SENDER_CACHE) {
        slot = b->n_other++;
    } else { /* full: replace the oldest */
        slot = b->next_evict++ % SENDER_CACHE;
        mcx_sakke_sender_free(b->other[slot].sender);
    }
    b->other[slot].sender = fresh;
    memcpy(b->other[slot].Z, kms->Z, MCX_SAKKE_POINT_BYTES);
    *s = fresh;
    return MCX_OK;
}

static int default_cs_id(mcx_key_type type)
{
    switch (type) {
    case MCX_KEY_GMK:
        return MCX_CS_MCPTT_GROUP;
    case MCX_KEY_CSK:
        return MCX_CS_CSK_SRTCP_MCPTT;
    case MCX_KEY_MUSIK:
        return MCX_CS_MUSIK_SRTCP_MCPTT;
    default:
        return -1; /* #CS = 0: the default profile (TS 33.180 E.3.1) */
    }
}

/* A SAKKE payload body as the content of a General Extension of type 6 (TS 33.180 E.5): next
 * payload 0, parameter set, ID scheme, SED length, SED. */
static size_t self_copy_payload(const uint8_t *sed, size_t sed_len, uint8_t *out)
{
    out[0] = MCX_MIKEY_PT_LAST;
    out[1] = MCX_MIKEY_SAKKE_PARAMS_1;
    out[2] = MCX_MIKEY_ID_SCHEME_UID;
    out[3] = (uint8_t)(sed_len >> 8);
    out[4] = (uint8_t)sed_len;
    memcpy(out + 5, sed, sed_len);
    return 5 + sed_len;
}

static mcx_status check_args(const mcx_mikey_build_args *a)
{
    if (!a->key || (a->key_len != 16 && a->key_len != 32))
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: the key must be 16 or 32 octets");
    if ((unsigned)a->type > MCX_KEY_TYPE_MAX)
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: key type %u is not an MCX key type",
                        (unsigned)a->type);
    if (mcx_key_id_purpose(a->key_id) != (unsigned)a->type)
        return MCX_FAIL(
            MCX_E_ARG, "MIKEY build: key ID %08x has purpose tag %u, but the key is a %s",
            (unsigned)a->key_id, mcx_key_id_purpose(a->key_id), mcx_key_type_name(a->type));
    if (!a->receiver_uri && !a->receiver_uid)
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: no receiver URI or UID");
    if (a->type == MCX_KEY_GMK && !a->receiver_uri)
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: a GMK needs the receiver's URI for its GUK-ID");
    if (a->rand && (a->rand_len == 0 || a->rand_len > 255))
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: RAND must be 1 to 255 octets");
    if (a->cs_id > 255)
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: CS-ID %d out of range", a->cs_id);
    return MCX_OK;
}

mcx_status mcx_mikey_build(mcx_mikey_builder *b, const mcx_mikey_build_args *a, uint8_t *out,
                           size_t cap, size_t *out_len)
{
    if (!b || !a || !out || !out_len)
        return MCX_FAIL(MCX_E_ARG, "MIKEY build: NULL argument");
    MCX_GUARD(check_args(a));
    const mcx_kms_cert *rkms = a->receiver_kms ? a->receiver_kms : &b->kms;
    uint64_t t = a->t_ntp ? a->t_ntp : mcx_ntp_now();

    uint8_t rand[255];
    size_t rand_len = a->rand ? a->rand_len : 16;
    if (a->rand)
        memcpy(rand, a->rand, rand_len);
    else
        MCX_GUARD(mcx_random(rand, rand_len));

    uint8_t ruid[MCX_UID_BYTES];
    if (a->receiver_uid)
        memcpy(ruid, a->receiver_uid, MCX_UID_BYTES);
    else
        MCX_GUARD(mikey_uid(a->receiver_uri, rkms,
                            mcx_key_period_no(t, rkms->key_period, rkms->key_offset), ruid));

    mcx_mikey_msg m;
    memset(&m, 0, sizeof m);
    m.version = 1;
    m.data_type = MCX_MIKEY_DATA_SAKKE_I;
    m.prf = MCX_MIKEY_PRF_HMAC256;
    uint8_t spi[8];
    m.csb_id = a->key_id;
    if (a->type == MCX_KEY_GMK) {
        MCX_GUARD(mcx_guk_id(a->key, a->key_len, a->key_id, a->receiver_uri, &m.csb_id));
        store_be32(spi, a->key_id);
        store_be32(spi + 4, m.csb_id);
    } else {
        store_be32(spi, a->key_id);
    }
    int cs_id = a->cs_id >= 0 ? a->cs_id : default_cs_id(a->type);
    if (cs_id >= 0) {
        m.n_cs = 1;
        m.map_type = MCX_MIKEY_MAP_GENERIC_ID;
        m.cs[0].cs_id = (uint8_t)cs_id;
        m.cs[0].prot_type = 0; /* SRTP */
        m.cs[0].n_policies = 1;
        m.cs[0].policies[0] = 0;
        m.cs[0].spi.p = spi;
        m.cs[0].spi.len = a->type == MCX_KEY_GMK ? 8 : 4;
        m.n_sp = 1;
        m.sp[0].params.p = DEFAULT_SP_PARAMS;
        m.sp[0].params.len = sizeof DEFAULT_SP_PARAMS;
    } else {
        m.map_type = MCX_MIKEY_MAP_EMPTY;
    }
    m.has_t = 1;
    m.ts_type = MCX_MIKEY_TS_NTP_UTC;
    m.ts = t << 32;
    m.has_rand = 1;
    m.rand.p = rand;
    m.rand.len = rand_len;

    if (a->idr_style == MCX_IDR_STYLE_URI) {
        if (!b->uri[0] || !a->receiver_uri)
            return MCX_FAIL(MCX_E_ARG, "MIKEY build: URI-style IDRs need both URIs");
        m.idr[m.n_idr++] = (mcx_mikey_idr){MCX_IDR_I, 1, {(const uint8_t *)b->uri, strlen(b->uri)}};
        m.idr[m.n_idr++] = (mcx_mikey_idr){
            MCX_IDR_R, 1, {(const uint8_t *)a->receiver_uri, strlen(a->receiver_uri)}};
    } else {
        m.idr[m.n_idr++] = (mcx_mikey_idr){MCX_IDR_UID_I, 1, {b->uid, MCX_UID_BYTES}};
        m.idr[m.n_idr++] = (mcx_mikey_idr){MCX_IDR_UID_R, 1, {ruid, MCX_UID_BYTES}};
    }
    if (b->kms.uri[0])
        m.idr[m.n_idr++] =
            (mcx_mikey_idr){MCX_IDR_KMS_I, 1, {(const uint8_t *)b->kms.uri, strlen(b->kms.uri)}};
    if (rkms->uri[0])
        m.idr[m.n_idr++] =
            (mcx_mikey_idr){MCX_IDR_KMS_R, 1, {(const uint8_t *)rkms->uri, strlen(rkms->uri)}};

    mcx_status st = MCX_OK;
    const mcx_sakke_sender *sender;
    uint8_t sed[MCX_SAKKE_SED_BYTES(MCX_SAKKE_SSV_MAX_BYTES)];
    uint8_t self[5 + sizeof sed];
    uint8_t plain[MCX_KP_TEXT_MAX + MCX_KP_GROUPS_MAX * (MCX_KP_GROUP_ID_MAX + 3) + 32];
    uint8_t wrapped[sizeof plain + MCX_KP_WRAP_OVERHEAD];
    size_t sed_len, plain_len = 0, wrapped_len;
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t id_len = mcx_identity_from_uid(ruid, rkms->id_mode, id);

    MCX_GUARD_GOTO(st, sender_for(b, rkms, &sender), out);
    MCX_GUARD_GOTO(
        st, mcx_sakke_encap(sender, id, id_len, a->key, a->key_len, sed, sizeof sed, &sed_len),
        out);
    m.has_sakke = 1;
    m.sakke_params = MCX_MIKEY_SAKKE_PARAMS_1;
    m.id_scheme = MCX_MIKEY_ID_SCHEME_UID;
    m.sed.p = sed;
    m.sed.len = sed_len;

    if (a->self_copy) {
        uint8_t own_sed[sizeof sed];
        size_t own_len;
        id_len = mcx_identity_from_uid(b->uid, b->kms.id_mode, id);
        MCX_GUARD_GOTO(st,
                       mcx_sakke_encap(b->own, id, id_len, a->key, a->key_len, own_sed,
                                       sizeof own_sed, &own_len),
                       out);
        m.gext[m.n_gext].type = MCX_MIKEY_GEXT_SELF;
        m.gext[m.n_gext].data.p = self;
        m.gext[m.n_gext].data.len = self_copy_payload(own_sed, own_len, self);
        m.n_gext++;
    }
    if (a->params) {
        MCX_GUARD_GOTO(st, mcx_kp_encode(a->params, plain, sizeof plain, &plain_len), out);
        MCX_GUARD_GOTO(st,
                       mcx_kp_protect(a->key, a->key_len, m.csb_id, 0, plain, plain_len, wrapped,
                                      sizeof wrapped, &wrapped_len),
                       out);
        m.gext[m.n_gext].type = MCX_MIKEY_GEXT_KEYPARAMS;
        m.gext[m.n_gext].data.p = wrapped;
        m.gext[m.n_gext].data.len = wrapped_len;
        m.n_gext++;
    }
    m.has_sign = 1;
    m.sign_type = MCX_MIKEY_SIGN_ECCSI;
    m.sig.p = NULL; /* zeros, replaced below */
    m.sig.len = MCX_ECCSI_SIG_BYTES;
    size_t len;
    MCX_GUARD_GOTO(st, mcx_mikey_encode(&m, out, cap, &len), out);
    MCX_GUARD_GOTO(st, mcx_eccsi_sign(&b->signer, out, m.signed_len, out + m.signed_len), out);
    *out_len = len;
out:
    mcx_memzero(plain, sizeof plain);
    return st;
}
