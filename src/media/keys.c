/* Per-sender SRTP keys of group and private calls (TS 33.180 §7.4), the shared libsrtp2 policy and
 * the RTP header walk (media_internal.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mem.h"
#include "media/media_internal.h"

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtp_init_status = srtp_err_status_fail;

static void srtp_init_once(void)
{
    srtp_init_status = srtp_init();
    /* libsrtp2 2.x: a second srtp_init (another library of the process called it first) finds
     * its debug module loaded and says bad_param; the crypto kernel is initialised all the same */
    if (srtp_init_status == srtp_err_status_bad_param)
        srtp_init_status = srtp_err_status_ok;
}

mcx_status media_srtp_init(void)
{
    pthread_once(&srtp_once, srtp_init_once);
    if (srtp_init_status != srtp_err_status_ok)
        return MCX_FAIL(MCX_E_INTERNAL, "media: srtp_init failed (libsrtp2 status %d)",
                        (int)srtp_init_status);
    return MCX_OK;
}

mcx_status media_srtp_fail(srtp_err_status_t err, const char *what)
{
    switch (err) {
    case srtp_err_status_auth_fail:
        return MCX_FAIL(MCX_E_TAG_INVALID, "media: %s: AEAD tag does not verify", what);
    case srtp_err_status_replay_fail:
        return MCX_FAIL(MCX_E_REPLAY, "media: %s: packet index seen before", what);
    case srtp_err_status_replay_old:
        return MCX_FAIL(MCX_E_REPLAY, "media: %s: packet index older than the replay window", what);
    case srtp_err_status_bad_mki:
        return MCX_FAIL(MCX_E_NO_KEY, "media: %s: MKI not this sender's", what);
    case srtp_err_status_alloc_fail:
        return MCX_FAIL(MCX_E_NOMEM, "media: %s: libsrtp2 out of memory", what);
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
        return MCX_FAIL(MCX_E_ENCODING, "media: %s: libsrtp2 refused the packet (status %d)", what,
                        (int)err);
    case srtp_err_status_key_expired:
        return MCX_FAIL(MCX_E_NO_KEY, "media: %s: key usage limit reached (RFC 3711 §9.2)", what);
    default:
        return MCX_FAIL(MCX_E_INTERNAL, "media: %s: libsrtp2 status %d", what, (int)err);
    }
}

void media_policy(srtp_policy_t *policy, srtp_master_key_t *mk, srtp_master_key_t **mk_list,
                  uint8_t master[MEDIA_POLICY_KEY_BYTES], const mcx_media_keys *keys,
                  srtp_ssrc_type_t ssrc_type, unsigned window)
{
    memset(policy, 0, sizeof *policy);
    /* RFC 7714 §14.1 AEAD_AES_128_GCM: 16-octet key, 12-octet salt, 16-octet tag; the session
     * keys come from the RFC 3711 §4.3 KDF with the AES-CM PRF (RFC 7714 §11). */
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
    policy->ssrc.type = ssrc_type;
    policy->ssrc.value = 0;
    /* libsrtp2 takes the master key and salt as one string */
    memcpy(master, keys->master_key, MCX_SRTP_MASTER_KEY_BYTES);
    memcpy(master + MCX_SRTP_MASTER_KEY_BYTES, keys->master_salt, MCX_SRTP_MASTER_SALT_BYTES);
    mk->key = master;
    /* libsrtp2 copies the MKI; its field is not const */
    memcpy(master + MCX_SRTP_MASTER_KEY_BYTES + MCX_SRTP_MASTER_SALT_BYTES, keys->mki,
           keys->mki_len);
    mk->mki_id = master + MCX_SRTP_MASTER_KEY_BYTES + MCX_SRTP_MASTER_SALT_BYTES;
    mk->mki_size = (unsigned)keys->mki_len;
    mk_list[0] = mk;
    policy->keys = mk_list;
    policy->num_master_keys = 1;
    policy->key = NULL;
    policy->window_size = window;
    policy->allow_repeat_tx = 0; /* one (key, SSRC, index) protects one packet */
    policy->next = NULL;
}

mcx_status media_rtp_header(const uint8_t *pkt, size_t len, const char *what, size_t *hdr_len,
                            uint32_t *ssrc)
{
    mcx_reader rd;
    rd_init(&rd, pkt, len, what);
    uint8_t b0 = 0, b1 = 0;
    uint16_t seq = 0, ext_len = 0;
    uint32_t ts = 0;
    MCX_GUARD(rd_u8(&rd, "RTP V/P/X/CC", &b0));
    MCX_GUARD(rd_u8(&rd, "RTP M/PT", &b1));
    MCX_GUARD(rd_u16(&rd, "RTP sequence number", &seq));
    MCX_GUARD(rd_u32(&rd, "RTP timestamp", &ts));
    MCX_GUARD(rd_u32(&rd, "RTP SSRC", ssrc));
    if ((b0 >> 6) != 2)
        return MCX_FAIL(MCX_E_ENCODING, "media: %s: RTP version %u, expected 2 (RFC 3550 §5.1)",
                        what, (unsigned)(b0 >> 6));
    const uint8_t *skip = NULL;
    MCX_GUARD(rd_bytes(&rd, "RTP CSRC list", 4u * (b0 & 0x0Fu), &skip));
    if (b0 & 0x10u) { /* RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words */
        uint16_t profile = 0;
        MCX_GUARD(rd_u16(&rd, "RTP extension profile", &profile));
        MCX_GUARD(rd_u16(&rd, "RTP extension length", &ext_len));
        MCX_GUARD(rd_bytes(&rd, "RTP extension", 4u * ext_len, &skip));
    }
    *hdr_len = rd_offset(&rd);
    return MCX_OK;
}

static mcx_status check_rand(const uint8_t *rand, size_t rand_len)
{
    if (rand == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL RAND");
    if (rand_len == 0 || rand_len > MCX_MEDIA_RAND_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "media: RAND is %zu octets, expected 1..%d", rand_len,
                        MCX_MEDIA_RAND_MAX_BYTES);
    return MCX_OK;
}

mcx_status mcx_media_group_keys(const uint8_t *gmk, size_t gmk_len, uint32_t gmk_id,
                                const uint8_t *rand, size_t rand_len, const char *sender_uri,
                                uint8_t cs_id, mcx_media_keys *keys)
{
    if (gmk == NULL || sender_uri == NULL || keys == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    if (cs_id != MCX_CS_MCPTT_GROUP && cs_id != MCX_CS_MCVIDEO_GROUP)
        return MCX_FAIL(MCX_E_ARG, "media: CS-ID %u is not a group media CS-ID (4 or 5)", cs_id);
    if (mcx_key_id_purpose(gmk_id) != MCX_KEY_GMK)
        return MCX_FAIL(MCX_E_ARG, "media: key ID %08X has purpose tag %u, not GMK (0)", gmk_id,
                        mcx_key_id_purpose(gmk_id));
    MCX_GUARD(check_rand(rand, rand_len));
    memset(keys, 0, sizeof *keys);
    uint32_t guk_id = 0;
    /* TS 33.180 §7.4.2: the sender's GUK-ID is the CSB-ID of its media keys */
    MCX_GUARD(mcx_guk_id(gmk, gmk_len, gmk_id, sender_uri, &guk_id));
    mcx_status st =
        mcx_srtp_master(gmk, gmk_len, cs_id, guk_id, rand, rand_len, keys->master_key,
                        sizeof keys->master_key, keys->master_salt, sizeof keys->master_salt);
    if (st != MCX_OK) {
        mcx_memzero(keys, sizeof *keys);
        return st;
    }
    /* FACTS §8: MKI = GMK-ID || GUK-ID, so the receiver finds the GMK and then the sender */
    store_be32(keys->mki, gmk_id);
    store_be32(keys->mki + 4, guk_id);
    keys->mki_len = MCX_MEDIA_GROUP_MKI_BYTES;
    keys->key_id = gmk_id;
    keys->csb_id = guk_id;
    keys->cs_id = cs_id;
    return MCX_OK;
}

mcx_status mcx_media_private_keys(const uint8_t *pck, size_t pck_len, uint32_t pck_id,
                                  const uint8_t *rand, size_t rand_len, uint8_t cs_id,
                                  mcx_media_keys *keys)
{
    if (pck == NULL || keys == NULL)
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    if (cs_id > MCX_CS_MCVIDEO_PRIVATE_RECEIVER)
        return MCX_FAIL(MCX_E_ARG, "media: CS-ID %u is not a private call CS-ID (0..3)", cs_id);
    if (mcx_key_id_purpose(pck_id) != MCX_KEY_PCK)
        return MCX_FAIL(MCX_E_ARG, "media: key ID %08X has purpose tag %u, not PCK (1)", pck_id,
                        mcx_key_id_purpose(pck_id));
    MCX_GUARD(check_rand(rand, rand_len));
    memset(keys, 0, sizeof *keys);
    /* TS 33.180 §7.4.1: TGK = PCK, CSB-ID = PCK-ID, MKI = the 32-bit PCK-ID */
    mcx_status st =
        mcx_srtp_master(pck, pck_len, cs_id, pck_id, rand, rand_len, keys->master_key,
                        sizeof keys->master_key, keys->master_salt, sizeof keys->master_salt);
    if (st != MCX_OK) {
        mcx_memzero(keys, sizeof *keys);
        return st;
    }
    store_be32(keys->mki, pck_id);
    keys->mki_len = MCX_MEDIA_PRIVATE_MKI_BYTES;
    keys->key_id = pck_id;
    keys->csb_id = pck_id;
    keys->cs_id = cs_id;
    return MCX_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

mcx_status mcx_media_guk_collisions(const uint8_t *gmk, size_t gmk_len, uint32_t gmk_id,
                                    const char *const *members, size_t n_members, size_t *n_pairs)
{
    if (gmk == NULL || n_pairs == NULL || (members == NULL && n_members > 0))
        return MCX_FAIL(MCX_E_ARG, "media: NULL argument");
    *n_pairs = 0;
    if (n_members < 2)
        return MCX_OK;
    uint32_t *ids = malloc(n_members * sizeof *ids);
    if (ids == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "media: %zu GUK-IDs", n_members);
    for (size_t i = 0; i < n_members; i++) {
        mcx_status st = mcx_guk_id(gmk, gmk_len, gmk_id, members[i], &ids[i]);
        if (st != MCX_OK) {
            free(ids);
            return st;
        }
    }
    qsort(ids, n_members, sizeof *ids, cmp_u32);
    size_t pairs = 0;
    for (size_t i = 0; i < n_members;) {
        size_t j = i + 1;
        while (j < n_members && ids[j] == ids[i])
            j++;
        pairs += (j - i) * (j - i - 1) / 2;
        i = j;
    }
    free(ids);
    *n_pairs = pairs;
    return MCX_OK;
}
