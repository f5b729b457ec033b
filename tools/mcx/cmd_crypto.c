/* mcx crypto: the identity-based primitives of MIKEY-SAKKE on the command line. ECCSI (RFC 6507)
 * key issue, validation, signing and verification; SAKKE (RFC 6508) key issue, validation,
 * encapsulation and decapsulation; the MIKEY-SAKKE UID of TS 33.180 Annex F.2.1. */
#include <string.h>

#include "cli.h"
#include "cmd_groups.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"

/* Flags shared by several commands. The lengths are the octet formats of eccsi.h and sakke.h. */
#define F_KSAK                                                                                     \
    {                                                                                              \
        "ksak", CLI_HEX, CLI_REQUIRED | CLI_SECRET, {MCX_ECCSI_SCALAR_BYTES, 0}, 0, 0,             \
            "KMS secret authentication key (ECCSI master secret), 32 octets"                       \
    }
#define F_KPAK                                                                                     \
    {                                                                                              \
        "kpak", CLI_HEX, CLI_REQUIRED, {MCX_ECCSI_POINT_BYTES, 0}, 0, 0,                           \
            "KMS public authentication key, 04||x||y, 65 octets"                                   \
    }
#define F_ZSECRET                                                                                  \
    {                                                                                              \
        "z", CLI_HEX, CLI_REQUIRED | CLI_SECRET, {0, 0}, 1, MCX_SAKKE_SCALAR_BYTES,                \
            "KMS master secret of SAKKE, up to 128 octets"                                         \
    }
#define F_ZPUB                                                                                     \
    {                                                                                              \
        "Z", CLI_HEX, CLI_REQUIRED, {MCX_SAKKE_POINT_BYTES, 0}, 0, 0,                              \
            "KMS public key of SAKKE, 04||x||y, 257 octets"                                        \
    }
#define F_ID                                                                                       \
    {                                                                                              \
        "id", CLI_HEX, CLI_REQUIRED, {0, 0}, 1, 0,                                                 \
            "the user's identity octets (in MCX a UID: see 'mcx crypto uid')"                      \
    }
#define F_SSK                                                                                      \
    {                                                                                              \
        "ssk", CLI_HEX, CLI_REQUIRED | CLI_SECRET, {MCX_ECCSI_SCALAR_BYTES, 0}, 0, 0,              \
            "secret signing key, 32 octets"                                                        \
    }
#define F_PVT                                                                                      \
    {                                                                                              \
        "pvt", CLI_HEX, CLI_REQUIRED, {MCX_ECCSI_POINT_BYTES, 0}, 0, 0,                            \
            "public validation token, 04||x||y, 65 octets"                                         \
    }
#define F_RSK                                                                                      \
    {                                                                                              \
        "rsk", CLI_HEX, CLI_REQUIRED | CLI_SECRET, {MCX_SAKKE_POINT_BYTES, 0}, 0, 0,               \
            "receiver secret key, 04||x||y, 257 octets"                                            \
    }

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- kms-keygen ---- */

static int run_kms_keygen(cli_ctx *ctx)
{
    uint8_t ksak[MCX_ECCSI_SCALAR_BYTES], kpak[MCX_ECCSI_POINT_BYTES];
    uint8_t z[MCX_SAKKE_SCALAR_BYTES], Z[MCX_SAKKE_POINT_BYTES];
    int rc;
    mcx_status st = mcx_eccsi_kms_keygen(ksak, kpak);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "ECCSI master key generation failed");
        goto out;
    }
    st = mcx_sakke_kms_keygen(z, Z);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "SAKKE master key generation failed");
        goto out;
    }
    json_t *o = cli_out_new();
    if (cli_out_hex(o, "ksak", ksak, sizeof ksak) || cli_out_hex(o, "kpak", kpak, sizeof kpak) ||
        cli_out_hex(o, "z", z, sizeof z) || cli_out_hex(o, "Z", Z, sizeof Z)) {
        json_decref(o);
        o = NULL;
    }
    rc = cli_emit(ctx, o);
out:
    mcx_memzero(ksak, sizeof ksak);
    mcx_memzero(z, sizeof z);
    return rc;
}

/* ---- issue ---- */

static const cli_flag issue_flags[] = {F_KSAK, F_KPAK, F_ZSECRET, F_ID};

static int run_issue(cli_ctx *ctx)
{
    size_t z_len, id_len;
    const uint8_t *ksak = cli_hex(ctx, "ksak", NULL);
    const uint8_t *kpak = cli_hex(ctx, "kpak", NULL);
    const uint8_t *z = cli_hex(ctx, "z", &z_len);
    const uint8_t *id = cli_hex(ctx, "id", &id_len);
    uint8_t kpak_of_ksak[MCX_ECCSI_POINT_BYTES];
    uint8_t ssk[MCX_ECCSI_SCALAR_BYTES], pvt[MCX_ECCSI_POINT_BYTES];
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];
    int rc;

    /* Keys issued under a KPAK that does not belong to the KSAK would never validate. */
    mcx_status st = mcx_eccsi_kpak_from_ksak(ksak, kpak_of_ksak);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "KSAK rejected");
        goto out;
    }
    if (!mcx_ct_equal(kpak_of_ksak, kpak, sizeof kpak_of_ksak)) {
        rc = cli_reject(ctx, "KPAK rejected: it is not [KSAK]G for the given --ksak");
        goto out;
    }
    st = mcx_eccsi_issue(ksak, kpak, id, id_len, ssk, pvt);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "ECCSI key issue failed");
        goto out;
    }
    st = mcx_sakke_issue_rsk(z, z_len, id, id_len, rsk);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "RSK issue failed");
        goto out;
    }
    json_t *o = cli_out_new();
    if (cli_out_hex(o, "ssk", ssk, sizeof ssk) || cli_out_hex(o, "pvt", pvt, sizeof pvt) ||
        cli_out_hex(o, "rsk", rsk, sizeof rsk)) {
        json_decref(o);
        o = NULL;
    }
    rc = cli_emit(ctx, o);
out:
    mcx_memzero(ssk, sizeof ssk);
    mcx_memzero(rsk, sizeof rsk);
    return rc;
}

/* ---- validate ---- */

static const cli_flag validate_flags[] = {F_KPAK, F_ZPUB, F_ID, F_SSK, F_PVT, F_RSK};

static int run_validate(cli_ctx *ctx)
{
    size_t id_len;
    const uint8_t *kpak = cli_hex(ctx, "kpak", NULL);
    const uint8_t *Z = cli_hex(ctx, "Z", NULL);
    const uint8_t *id = cli_hex(ctx, "id", &id_len);
    const uint8_t *ssk = cli_hex(ctx, "ssk", NULL);
    const uint8_t *pvt = cli_hex(ctx, "pvt", NULL);
    const uint8_t *rsk = cli_hex(ctx, "rsk", NULL);
    uint8_t hs[MCX_ECCSI_HASH_BYTES];

    mcx_status st = mcx_eccsi_validate(kpak, id, id_len, ssk, pvt, hs);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "SSK/PVT rejected (RFC 6507 5.1.2)");
    st = mcx_sakke_validate_rsk(Z, id, id_len, rsk);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "RSK rejected (RFC 6508 6.1.2)");
    json_t *o = cli_out_new();
    if (cli_out_bool(o, "valid", 1) || cli_out_hex(o, "hs", hs, sizeof hs)) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- sign ---- */

static const cli_flag sign_flags[] = {
    F_KPAK,
    F_ID,
    F_SSK,
    F_PVT,
    {"msg", CLI_HEX, CLI_REQUIRED, {0, 0}, 0, 0, "the message octets (may be empty)"}};

static int run_sign(cli_ctx *ctx)
{
    size_t id_len, msg_len;
    const uint8_t *kpak = cli_hex(ctx, "kpak", NULL);
    const uint8_t *id = cli_hex(ctx, "id", &id_len);
    const uint8_t *ssk = cli_hex(ctx, "ssk", NULL);
    const uint8_t *pvt = cli_hex(ctx, "pvt", NULL);
    const uint8_t *msg = cli_hex(ctx, "msg", &msg_len);
    mcx_eccsi_signer signer;
    uint8_t sig[MCX_ECCSI_SIG_BYTES];
    int rc;

    /* The signer validates the key pair first (RFC 6507 5.1.2): never sign with a bad SSK. */
    mcx_status st = mcx_eccsi_signer_init(&signer, kpak, id, id_len, ssk, pvt);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "SSK/PVT rejected (RFC 6507 5.1.2)");
        goto out;
    }
    st = mcx_eccsi_sign(&signer, msg, msg_len, sig);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "signing failed");
        goto out;
    }
    json_t *o = cli_out_new();
    if (cli_out_hex(o, "sig", sig, sizeof sig)) {
        json_decref(o);
        o = NULL;
    }
    rc = cli_emit(ctx, o);
out:
    mcx_eccsi_signer_wipe(&signer);
    return rc;
}

/* ---- verify ---- */

static const cli_flag verify_flags[] = {
    F_KPAK,
    F_ID,
    {"msg", CLI_HEX, CLI_REQUIRED, {0, 0}, 0, 0, "the message octets"},
    {"sig",
     CLI_HEX,
     CLI_REQUIRED,
     {MCX_ECCSI_SIG_BYTES, 0},
     0,
     0,
     "the signature r||s||PVT, 129 octets"}};

static int run_verify(cli_ctx *ctx)
{
    size_t id_len, msg_len, sig_len;
    const uint8_t *kpak = cli_hex(ctx, "kpak", NULL);
    const uint8_t *id = cli_hex(ctx, "id", &id_len);
    const uint8_t *msg = cli_hex(ctx, "msg", &msg_len);
    const uint8_t *sig = cli_hex(ctx, "sig", &sig_len);

    mcx_status st = mcx_eccsi_verify(kpak, id, id_len, msg, msg_len, sig, sig_len);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "signature rejected");
    json_t *o = cli_out_new();
    if (cli_out_bool(o, "valid", 1)) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- encap ---- */

static const cli_flag encap_flags[] = {F_ZPUB,
                                       F_ID,
                                       {"ssv",
                                        CLI_HEX,
                                        CLI_REQUIRED | CLI_SECRET,
                                        {16, 32},
                                        0,
                                        0,
                                        "the shared secret value to send, 16 or 32 octets"}};

static int run_encap(cli_ctx *ctx)
{
    size_t id_len, ssv_len, sed_len;
    const uint8_t *Z = cli_hex(ctx, "Z", NULL);
    const uint8_t *id = cli_hex(ctx, "id", &id_len);
    const uint8_t *ssv = cli_hex(ctx, "ssv", &ssv_len);
    uint8_t sed[MCX_SAKKE_SED_BYTES(MCX_SAKKE_SSV_MAX_BYTES)];
    mcx_sakke_sender *sender = NULL;

    mcx_status st = mcx_sakke_sender_new(&sender, Z);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "Z rejected");
    st = mcx_sakke_encap(sender, id, id_len, ssv, ssv_len, sed, sizeof sed, &sed_len);
    mcx_sakke_sender_free(sender);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "encapsulation failed");
    json_t *o = cli_out_new();
    if (cli_out_hex(o, "sed", sed, sed_len)) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

/* ---- decap ---- */

static const cli_flag decap_flags[] = {F_ZPUB,
                                       F_ID,
                                       F_RSK,
                                       {"sed",
                                        CLI_HEX,
                                        CLI_REQUIRED,
                                        {MCX_SAKKE_SED_BYTES(16), MCX_SAKKE_SED_BYTES(32)},
                                        0,
                                        0,
                                        "the SAKKE encapsulated data R||H, 273 or 289 octets"}};

static int run_decap(cli_ctx *ctx)
{
    size_t id_len, sed_len, ssv_len;
    const uint8_t *Z = cli_hex(ctx, "Z", NULL);
    const uint8_t *id = cli_hex(ctx, "id", &id_len);
    const uint8_t *rsk = cli_hex(ctx, "rsk", NULL);
    const uint8_t *sed = cli_hex(ctx, "sed", &sed_len);
    uint8_t ssv[MCX_SAKKE_SSV_MAX_BYTES];
    mcx_sakke_receiver *receiver = NULL;
    int rc;

    /* Creating the receiver validates the RSK (RFC 6508 6.1.2). */
    mcx_status st = mcx_sakke_receiver_new(&receiver, Z, id, id_len, rsk);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "RSK rejected (RFC 6508 6.1.2)");
    st = mcx_sakke_decap(receiver, sed, sed_len, ssv, sizeof ssv, &ssv_len);
    mcx_sakke_receiver_free(receiver);
    if (st != MCX_OK) {
        rc = cli_fail(ctx, st, "SED rejected (RFC 6508 6.2.2)");
        goto out;
    }
    json_t *o = cli_out_new();
    if (cli_out_hex(o, "ssv", ssv, ssv_len)) {
        json_decref(o);
        o = NULL;
    }
    rc = cli_emit(ctx, o);
out:
    mcx_memzero(ssv, sizeof ssv);
    return rc;
}

/* ---- uid ---- */

static const cli_flag uid_flags[] = {
    {"uri", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 65535, "the user's URI, e.g. sip:alice@example.org"},
    {"kms-uri", CLI_STR, CLI_REQUIRED, {0, 0}, 0, 65535, "the KMS URI, e.g. kms.example.org"},
    {"period", CLI_U64, CLI_REQUIRED, {0, 0}, 0, 0, "UserKeyPeriod in seconds, e.g. 2592000"},
    {"offset", CLI_U64, CLI_REQUIRED, {0, 0}, 0, 0, "UserKeyOffset in seconds, e.g. 0"},
    {"period-no",
     CLI_U64,
     CLI_REQUIRED,
     {0, 0},
     0,
     0,
     "key period number: (NTP seconds - offset) / period"},
    {"id-hex-string",
     CLI_BOOL,
     0,
     {0, 0},
     0,
     0,
     "also print \"id\": the identity octets in hex-string mode (the UID as 64 lowercase hex "
     "characters, as some deployed KMSs use it)"}};

static int run_uid(cli_ctx *ctx)
{
    uint8_t uid[MCX_UID_BYTES];
    mcx_status st =
        mcx_uid_format2(cli_str(ctx, "uri"), cli_str(ctx, "kms-uri"), cli_u64(ctx, "period"),
                        cli_u64(ctx, "offset"), cli_u64(ctx, "period-no"), uid);
    if (st != MCX_OK)
        return cli_fail(ctx, st, "UID computation failed");
    json_t *o = cli_out_new();
    int bad = cli_out_hex(o, "uid", uid, sizeof uid);
    if (!bad && cli_has(ctx, "id-hex-string")) {
        uint8_t id[MCX_ID_MAX_BYTES];
        size_t n = mcx_identity_from_uid(uid, MCX_ID_HEX_STRING, id);
        bad = cli_out_hex(o, "id", id, n);
    }
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return cli_emit(ctx, o);
}

static const cli_command crypto_commands[] = {
    {.name = "kms-keygen",
     .summary = "generate KMS master secrets and public keys (KSAK, KPAK, z, Z)",
     .description =
         "Generate a security domain's master secrets: the ECCSI KSAK with its public\n"
         "KPAK = [KSAK]G (RFC 6507 4.2) and the SAKKE z with its public Z = [z]P (RFC 6508 2.2).\n"
         "The output holds secrets: it is never written to a file that others can read.",
     .output = "{\"ksak\", \"kpak\", \"z\", \"Z\"}",
     .run = run_kms_keygen,
     .secret_output = 1},
    {.name = "issue",
     .summary = "issue a user's key set (SSK, PVT, RSK) from the KMS master secrets",
     .description =
         "Issue the key set of identity --id as the KMS does: SSK and PVT (RFC 6507 5.1.1, with\n"
         "a fresh random v) and RSK (RFC 6508 6.1.1). --kpak must be the KPAK of --ksak.",
     .output = "{\"ssk\", \"pvt\", \"rsk\"}",
     .flags = issue_flags,
     .n_flags = COUNT(issue_flags),
     .run = run_issue,
     .secret_output = 1},
    {.name = "validate",
     .summary = "validate a received key set (SSK/PVT and RSK) as a client does",
     .description =
         "Validate a key set as a client must before use: the SSK/PVT pair against the KPAK\n"
         "(RFC 6507 5.1.2) and the RSK against Z (RFC 6508 6.1.2). A rejection names the key\n"
         "that failed (SSK/PVT or RSK).",
     .output = "{\"valid\": true, \"hs\"}",
     .flags = validate_flags,
     .n_flags = COUNT(validate_flags),
     .run = run_validate},
    {.name = "sign",
     .summary = "sign a message with ECCSI",
     .description = "Sign --msg with the ECCSI key pair of --id (RFC 6507 5.2.1). The key pair is\n"
                    "validated first; a bad pair is rejected (exit 1).",
     .output = "{\"sig\"}",
     .flags = sign_flags,
     .n_flags = COUNT(sign_flags),
     .run = run_sign},
    {.name = "verify",
     .summary = "verify an ECCSI signature",
     .description = "Verify the ECCSI signature --sig of --msg by identity --id under --kpak\n"
                    "(RFC 6507 5.2.2). Exit 1 if the signature does not verify.",
     .output = "{\"valid\": true}",
     .flags = verify_flags,
     .n_flags = COUNT(verify_flags),
     .run = run_verify},
    {.name = "encap",
     .summary = "encapsulate a shared secret value to an identity with SAKKE",
     .description =
         "Encapsulate --ssv to identity --id under the KMS public key --Z (RFC 6508 6.2.1).\n"
         "SAKKE encapsulation is deterministic: the same SSV and identity give the same SED.",
     .output = "{\"sed\"}",
     .flags = encap_flags,
     .n_flags = COUNT(encap_flags),
     .run = run_encap},
    {.name = "decap",
     .summary = "recover a shared secret value from a SAKKE SED",
     .description =
         "Recover the SSV from --sed with the RSK of --id (RFC 6508 6.2.2). The RSK is validated\n"
         "first; an SED that fails the receiver's check is rejected (exit 1).",
     .output = "{\"ssv\"}",
     .flags = decap_flags,
     .n_flags = COUNT(decap_flags),
     .run = run_decap,
     .secret_output = 1},
    {.name = "uid",
     .summary = "compute a MIKEY-SAKKE UID (TS 33.180 F.2.1, format 2)",
     .description =
         "Compute UID = SHA-256(0x00 || \"MIKEY-SAKKE-UID\" || ...) of TS 33.180 Annex F.2.1 for\n"
         "a user URI, KMS URI, key period, offset and period number. The period number in force\n"
         "at NTP time t is (t - offset) / period (NTP seconds = Unix seconds + 2208988800).",
     .output = "{\"uid\"} (and \"id\" with --id-hex-string)",
     .flags = uid_flags,
     .n_flags = COUNT(uid_flags),
     .run = run_uid},
};

const cli_group mcx_crypto_group = {
    "crypto", "ECCSI signatures, SAKKE key encapsulation, KMS key sets and MIKEY-SAKKE UIDs",
    crypto_commands, COUNT(crypto_commands)};
