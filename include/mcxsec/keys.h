/* MCX key types, key identifiers and the keys derived from them (TS 33.180 §5.2.3, §7.4, Annex E,
 * Annex F; FACTS.md §5, §8, §10; FORMATS.md §2, §3, §5, §6).
 *
 * Every MCX key carries a 32-bit key ID whose 4 most significant bits are its purpose tag. */
#ifndef MCXSEC_KEYS_H
#define MCXSEC_KEYS_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Purpose tags (TS 33.180 Table E.6.11-1). */
typedef enum mcx_key_type {
    MCX_KEY_GMK = 0,   /* group master key (also the DPPK of group MCData) */
    MCX_KEY_PCK = 1,   /* private call key (also PDK for one-to-one data, TGMK for temp groups) */
    MCX_KEY_CSK = 2,   /* client-server key (upload and download) */
    MCX_KEY_SPK = 3,   /* signalling protection key (server to server) */
    MCX_KEY_MKFC = 4,  /* multicast floor control key */
    MCX_KEY_MSCCK = 5, /* multicast signalling control channel key */
    MCX_KEY_MUSIK = 6  /* MBMS subchannel key */
} mcx_key_type;

#define MCX_KEY_TYPE_MAX 6

/* The purpose tag of a key ID (its 4 most significant bits). */
static inline unsigned mcx_key_id_purpose(uint32_t key_id)
{
    return key_id >> 28;
}

/* "gmk", "pck", "csk", "spk", "mkfc", "mscck", "musik"; NULL for a tag without a name. */
MCX_API const char *mcx_key_type_name(unsigned type);

/* The type named name (lowercase or uppercase). Errors: MCX_E_ARG (unknown name). */
MCX_API MCX_MUST_CHECK mcx_status mcx_key_type_from_name(const char *name, mcx_key_type *type);

/* A fresh key ID for type: 28 random bits below the purpose tag (TS 33.180 §5.2.3).
 * Errors: MCX_E_ARG, MCX_E_RANDOM. */
MCX_API MCX_MUST_CHECK mcx_status mcx_key_id_new(mcx_key_type type, uint32_t *key_id);

/* MIKEY CS-ID values for MCX (TS 33.180 Table E.1.3-1). */
enum {
    MCX_CS_MCPTT_PRIVATE_INITIATOR = 0,
    MCX_CS_MCPTT_PRIVATE_RECEIVER = 1,
    MCX_CS_MCVIDEO_PRIVATE_INITIATOR = 2,
    MCX_CS_MCVIDEO_PRIVATE_RECEIVER = 3,
    MCX_CS_MCPTT_GROUP = 4,
    MCX_CS_MCVIDEO_GROUP = 5,
    MCX_CS_CSK_SRTCP_MCPTT = 6,
    MCX_CS_MUSIK_SRTCP_MCPTT = 7,
    MCX_CS_CSK_SRTCP_MCVIDEO = 8,
    MCX_CS_MUSIK_SRTCP_MCVIDEO = 9
};

/* GUK-ID (TS 33.180 §5.2.3, F.1.3): salt = the 28 least significant bits of
 * KDF(GMK, FC 0x50, P0 = the receiving user's MC service ID); GUK-ID = GMK-ID XOR salt with the
 * purpose tag kept. Errors: MCX_E_ARG, MCX_E_LENGTH (empty GMK or URI over 65535 octets). */
MCX_API MCX_MUST_CHECK mcx_status mcx_guk_id(const uint8_t *gmk, size_t gmk_len, uint32_t gmk_id,
                                             const char *user_uri, uint32_t *guk_id);

/* The receiver's inverse: GMK-ID from its GUK-ID, the GMK and its own MC service ID. */
MCX_API MCX_MUST_CHECK mcx_status mcx_gmk_id_from_guk_id(const uint8_t *gmk, size_t gmk_len,
                                                         uint32_t guk_id, const char *user_uri,
                                                         uint32_t *gmk_id);

#define MCX_SRTP_MASTER_KEY_BYTES  16
#define MCX_SRTP_MASTER_SALT_BYTES 12

/* SRTP master key and master salt from a MIKEY TGK (GMK, PCK, CSK, MuSiK, ...) with the MIKEY PRF
 * (RFC 3830 §4.1.3, PRF-HMAC-SHA-256; TS 33.180 §7.4): label = const || cs_id || csb_id || RAND,
 * const 0x2AD01C64 for the key and 0x39A2C14B for the salt. csb_id is the GUK-ID for a GMK, the
 * key ID otherwise. key_len octets of master key (16 or 32), salt_len octets of salt (12 or 14).
 * Errors: MCX_E_ARG, MCX_E_LENGTH. */
MCX_API MCX_MUST_CHECK mcx_status mcx_srtp_master(const uint8_t *tgk, size_t tgk_len, uint8_t cs_id,
                                                  uint32_t csb_id, const uint8_t *rand,
                                                  size_t rand_len, uint8_t *key, size_t key_len,
                                                  uint8_t *salt, size_t salt_len);

#define MCX_GROUP_PSEUDONYM_BYTES  16
#define MCX_KDF_FC_GROUP_PSEUDONYM 0x5F /* mcxsec's FC: TR 33.880 §7.4.5.3.2 leaves it open */

/* Implicit group pseudonym (TR 33.880 solution #3.5, §7.4.5.3.2): every member derives the same
 * pseudonym from the GMK and the group ID, so the GMS need not send one: the 16 least
 * significant octets of KDF(GMK, FC 0x5F, P0 = the MC group ID). Errors: MCX_E_ARG,
 * MCX_E_LENGTH (empty GMK, group ID over 65535 octets). */
MCX_API MCX_MUST_CHECK mcx_status mcx_group_pseudonym(const uint8_t *gmk, size_t gmk_len,
                                                      const char *group_id,
                                                      uint8_t out[MCX_GROUP_PSEUDONYM_BYTES]);

#define MCX_DPCK_BYTES 16

/* DPCK (TS 33.180 F.1.5): the 128 least significant bits of KDF(DPPK, FC, P0 = DPPK-ID as 4
 * octets). fc is MCX_KDF_FC_DPCK (0x53); 0xAA reproduces libraries before 2023 (FORMATS §5).
 * Errors: MCX_E_ARG, MCX_E_LENGTH. */
MCX_API MCX_MUST_CHECK mcx_status mcx_dpck(const uint8_t *dppk, size_t dppk_len, uint32_t dppk_id,
                                           uint8_t fc, uint8_t dpck[MCX_DPCK_BYTES]);

#define MCX_XPK_KEY_BYTES 16

/* Signalling protection keys from an XPK (CSK or SPK) (TS 33.180 F.1.4, FACTS §10): the 128
 * least significant bits of KDF(XPK, FC 0x51 (confidentiality) or 0x52 (integrity),
 * P0 = MC service user ID, P1 = XPK-ID as 4 octets). Errors: MCX_E_ARG, MCX_E_LENGTH. */
MCX_API MCX_MUST_CHECK mcx_status mcx_xpk_keys(const uint8_t *xpk, size_t xpk_len, uint32_t xpk_id,
                                               const char *user_uri,
                                               uint8_t conf_key[MCX_XPK_KEY_BYTES],
                                               uint8_t integ_key[MCX_XPK_KEY_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
