/* mcx-demo: one MCX security domain in one process, step by step. First the users authenticate
 * (TS 33.180 Annex B): an IdMS on 127.0.0.1 with a throwaway certificate and store, alice logs in
 * with OpenID Connect code flow + PKCE over HTTPS, her access token is verified as the KMS will
 * verify it, and a wrong password is refused (demo_idms.c). Then a KMS creates its master keys
 * and certificate, issues key sets to two users for the current key period, the clients validate
 * them, alice signs a message for bob (ECCSI, RFC 6507) and sends him a fresh key (SAKKE,
 * RFC 6508); then she calls him: a private-call key in a signed MIKEY-SAKKE I_MESSAGE
 * (TS 33.180 E), which bob opens and turns into SRTP master keys, and a replayed copy is refused.
 * Exits non-zero if any step fails. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo.h"
#include "mcxsec/eccsi.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mcxsec/sakke.h"
#include "mcxsec/uid.h"

#define KMS_URI        "kms.fire.example"
#define KEY_PERIOD     2592000u /* 30 days */
#define KEY_OFFSET     0u
#define NTP_UNIX_DELTA 2208988800u /* seconds from 1900-01-01 to 1970-01-01 */

/* Master secrets and user secret keys live in locked, non-dumpable memory (mcx_secure_alloc). */
typedef struct kms_secrets {
    uint8_t ksak[MCX_ECCSI_SCALAR_BYTES];
    uint8_t z[MCX_SAKKE_SCALAR_BYTES];
} kms_secrets;

typedef struct user_secrets {
    uint8_t ssk[MCX_ECCSI_SCALAR_BYTES];
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];
} user_secrets;

typedef struct user {
    const char *name;
    const char *uri;
    uint8_t uid[MCX_UID_BYTES];
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t id_len;
    uint8_t pvt[MCX_ECCSI_POINT_BYTES];
    user_secrets *sec;
    mcx_eccsi_signer signer;
    mcx_sakke_receiver *receiver;
} user;

/* "04a1b2c3...c5d6e7f8": the first and last 4 octets of a value. */
static const char *abbrev(const uint8_t *b, size_t n, char out[32])
{
    if (n <= 8) {
        mcx_hex_encode(b, n, out);
        return out;
    }
    char head[9], tail[9];
    mcx_hex_encode(b, 4, head);
    mcx_hex_encode(b + n - 4, 4, tail);
    snprintf(out, 32, "%s...%s", head, tail);
    return out;
}

int demo_failed(const char *what, mcx_status st)
{
    fprintf(stderr, "mcx-demo: FAILED: %s: %s (%s)\n", what, mcx_last_error(), mcx_status_name(st));
    return 1;
}

static int issue_keys(const kms_secrets *kms, const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                      uint64_t period_no, user *u)
{
    char a[32];
    mcx_status st = mcx_uid_format2(u->uri, KMS_URI, KEY_PERIOD, KEY_OFFSET, period_no, u->uid);
    if (st != MCX_OK)
        return demo_failed("UID", st);
    /* TS 33.180: the identity given to ECCSI and SAKKE is the UID's 32 octets. */
    u->id_len = mcx_identity_from_uid(u->uid, MCX_ID_RAW, u->id);
    st = mcx_eccsi_issue(kms->ksak, kpak, u->id, u->id_len, u->sec->ssk, u->pvt);
    if (st != MCX_OK)
        return demo_failed("ECCSI key issue", st);
    st = mcx_sakke_issue_rsk(kms->z, sizeof kms->z, u->id, u->id_len, u->sec->rsk);
    if (st != MCX_OK)
        return demo_failed("RSK issue", st);
    printf("      %-24s UID %s  SSK + PVT + RSK issued\n", u->uri,
           abbrev(u->uid, MCX_UID_BYTES, a));
    return 0;
}

/* What a client does with a key set before using it: RFC 6507 5.1.2 and RFC 6508 6.1.2. */
static int validate_keys(const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                         const uint8_t Z[MCX_SAKKE_POINT_BYTES], user *u)
{
    char a[32];
    mcx_status st = mcx_eccsi_signer_init(&u->signer, kpak, u->id, u->id_len, u->sec->ssk, u->pvt);
    if (st != MCX_OK)
        return demo_failed("SSK/PVT validation", st);
    st = mcx_sakke_receiver_new(&u->receiver, Z, u->id, u->id_len, u->sec->rsk);
    if (st != MCX_OK)
        return demo_failed("RSK validation", st);
    printf("      %-6s SSK/PVT valid (HS %s), RSK valid\n", u->name,
           abbrev(u->signer.hs, sizeof u->signer.hs, a));
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int private_call(const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                        const uint8_t Z[MCX_SAKKE_POINT_BYTES], uint64_t period_no,
                        const user *alice, const user *bob);

static int run(kms_secrets *kms, user *alice, user *bob)
{
    uint8_t kpak[MCX_ECCSI_POINT_BYTES], Z[MCX_SAKKE_POINT_BYTES];
    char a[32], b[32];
    mcx_status st;

    /* 2. The KMS, root of trust of the domain. */
    st = mcx_eccsi_kms_keygen(kms->ksak, kpak);
    if (st != MCX_OK)
        return demo_failed("ECCSI master key generation", st);
    st = mcx_sakke_kms_keygen(kms->z, Z);
    if (st != MCX_OK)
        return demo_failed("SAKKE master key generation", st);
    printf("[2] KMS master secrets generated (KSAK and z stay in locked memory)\n"
           "      KPAK %s  (ECCSI public key, %d octets)\n"
           "      Z    %s  (SAKKE public key, %d octets)\n",
           abbrev(kpak, sizeof kpak, a), MCX_ECCSI_POINT_BYTES, abbrev(Z, sizeof Z, b),
           MCX_SAKKE_POINT_BYTES);

    /* 3. The KMS certificate: what every client of the domain trusts. */
    uint64_t ntp_now = (uint64_t)time(NULL) + NTP_UNIX_DELTA;
    uint64_t period_no = mcx_key_period_no(ntp_now, KEY_PERIOD, KEY_OFFSET);
    printf("[3] KMS certificate of %s: KPAK %s, Z %s,\n"
           "      UserKeyPeriod %u s, UserKeyOffset %u; period in force now: %llu\n",
           KMS_URI, abbrev(kpak, sizeof kpak, a), abbrev(Z, sizeof Z, b), KEY_PERIOD, KEY_OFFSET,
           (unsigned long long)period_no);

    /* 4. Key sets for the current period, each bound to a UID (TS 33.180 F.2.1, format 2). */
    printf("[4] key sets for period %llu (UID format 2)\n", (unsigned long long)period_no);
    if (issue_keys(kms, kpak, period_no, alice) || issue_keys(kms, kpak, period_no, bob))
        return 1;

    /* 5. Each client validates its keys before using them. */
    printf("[5] clients validate their key sets\n");
    if (validate_keys(kpak, Z, alice) || validate_keys(kpak, Z, bob))
        return 1;

    /* 6. alice signs; bob verifies with alice's identity and the KPAK only. */
    static const char text[] = "MCPTT: fire at 5th and Main, engines 3 and 7 respond";
    uint8_t sig[MCX_ECCSI_SIG_BYTES];
    st = mcx_eccsi_sign(&alice->signer, (const uint8_t *)text, strlen(text), sig);
    if (st != MCX_OK)
        return demo_failed("signing", st);
    printf("[6] alice signs \"%s\"\n      signature %s (%d octets)\n", text,
           abbrev(sig, sizeof sig, a), MCX_ECCSI_SIG_BYTES);
    st = mcx_eccsi_verify(kpak, alice->id, alice->id_len, (const uint8_t *)text, strlen(text), sig,
                          sizeof sig);
    if (st != MCX_OK)
        return demo_failed("bob verifies alice's signature", st);
    printf("      bob verifies it with alice's UID: valid\n");
    char tampered[sizeof text];
    memcpy(tampered, text, sizeof text);
    tampered[strlen("MCPTT: fire at ")] = '9'; /* "5th" -> "9th" */
    st = mcx_eccsi_verify(kpak, alice->id, alice->id_len, (const uint8_t *)tampered,
                          strlen(tampered), sig, sizeof sig);
    if (st != MCX_E_SIG_INVALID) {
        fprintf(stderr, "mcx-demo: FAILED: a tampered message was %s\n",
                st == MCX_OK ? "accepted" : "rejected for the wrong reason");
        return 1;
    }
    printf("      tampered copy (\"...%.12s...\"): rejected (%s)\n", tampered + 7,
           mcx_last_error());

    /* 7. alice sends bob a fresh key, as in a MIKEY-SAKKE I_MESSAGE. */
    uint8_t key[16], sed[MCX_SAKKE_SED_BYTES(16)], got[MCX_SAKKE_SSV_MAX_BYTES];
    size_t sed_len, got_len = 0;
    mcx_sakke_sender *sender = NULL;
    int rc = 1;
    st = mcx_random(key, sizeof key);
    if (st != MCX_OK) {
        demo_failed("random key", st);
        goto out;
    }
    st = mcx_sakke_sender_new(&sender, Z);
    if (st == MCX_OK)
        st = mcx_sakke_encap(sender, bob->id, bob->id_len, key, sizeof key, sed, sizeof sed,
                             &sed_len);
    if (st != MCX_OK) {
        demo_failed("SAKKE encapsulation", st);
        goto out;
    }
    printf("[7] alice encapsulates a fresh 128-bit key to bob's UID\n"
           "      SED %s (%zu octets)\n",
           abbrev(sed, sed_len, a), sed_len);
    st = mcx_sakke_decap(bob->receiver, sed, sed_len, got, sizeof got, &got_len);
    if (st != MCX_OK) {
        demo_failed("bob decapsulates", st);
        goto out;
    }
    if (got_len != sizeof key || !mcx_ct_equal(got, key, sizeof key)) {
        fprintf(stderr, "mcx-demo: FAILED: bob recovered a different key\n");
        goto out;
    }
    printf("      bob decapsulates it with his RSK: the two keys match\n");
    rc = private_call(kpak, Z, period_no, alice, bob);
out:
    mcx_sakke_sender_free(sender);
    mcx_memzero(key, sizeof key);
    mcx_memzero(got, sizeof got);
    return rc;
}

int main(void)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("mcx-demo: one MCX security domain (%s) in one process\n", KMS_URI);

    user alice = {.name = "alice", .uri = "sip:alice@fire.example"};
    user bob = {.name = "bob", .uri = "sip:bob@fire.example"};
    kms_secrets *kms = mcx_secure_alloc(sizeof *kms);
    alice.sec = mcx_secure_alloc(sizeof *alice.sec);
    bob.sec = mcx_secure_alloc(sizeof *bob.sec);
    int rc = 1;
    /* 1. Who they are: the IdMS knows them by user name and MCPTT ID (demo_idms.c). */
    const demo_account accounts[] = {{alice.name, alice.uri, "alice-demo-password"},
                                     {bob.name, bob.uri, "bob-demo-password"}};
    if (kms == NULL || alice.sec == NULL || bob.sec == NULL)
        fprintf(stderr, "mcx-demo: FAILED: out of memory\n");
    else if (demo_idms_login(accounts, sizeof accounts / sizeof accounts[0]) == 0)
        rc = run(kms, &alice, &bob);

    mcx_sakke_receiver_free(alice.receiver);
    mcx_sakke_receiver_free(bob.receiver);
    mcx_eccsi_signer_wipe(&alice.signer);
    mcx_eccsi_signer_wipe(&bob.signer);
    mcx_secure_free(kms);
    mcx_secure_free(alice.sec);
    mcx_secure_free(bob.sec);
    if (rc == 0)
        printf("done in %.2f s\n", seconds_since(&t0));
    return rc;
}

/* 8. alice calls bob: a private-call key (PCK) in a MIKEY-SAKKE I_MESSAGE. */
static int private_call(const uint8_t kpak[MCX_ECCSI_POINT_BYTES],
                        const uint8_t Z[MCX_SAKKE_POINT_BYTES], uint64_t period_no,
                        const user *alice, const user *bob)
{
    mcx_kms_cert cert;
    memset(&cert, 0, sizeof cert);
    snprintf(cert.uri, sizeof cert.uri, "%s", KMS_URI);
    memcpy(cert.Z, Z, sizeof cert.Z);
    memcpy(cert.kpak, kpak, sizeof cert.kpak);
    cert.key_period = KEY_PERIOD;
    cert.key_offset = KEY_OFFSET;
    cert.id_mode = MCX_ID_RAW;

    mcx_mikey_builder *b = NULL;
    mcx_mikey_opener *o = NULL;
    mcx_mikey_result res;
    memset(&res, 0, sizeof res);
    uint8_t pck[16], msg[MCX_MIKEY_MAX_BYTES];
    uint8_t srtp_key[MCX_SRTP_MASTER_KEY_BYTES], srtp_salt[MCX_SRTP_MASTER_SALT_BYTES];
    size_t n = 0;
    uint32_t pck_id = 0;
    char a[32], c[32];
    int rc = 1;
    mcx_status st = mcx_random(pck, sizeof pck);
    if (st == MCX_OK)
        st = mcx_key_id_new(MCX_KEY_PCK, &pck_id);
    if (st == MCX_OK)
        st = mcx_mikey_builder_new(&b, &cert, alice->uri, NULL, period_no, alice->sec->ssk,
                                   alice->pvt);
    mcx_mikey_build_args args = {.type = MCX_KEY_PCK,
                                 .key = pck,
                                 .key_len = sizeof pck,
                                 .key_id = pck_id,
                                 .receiver_uri = bob->uri,
                                 .cs_id = -1};
    if (st == MCX_OK)
        st = mcx_mikey_build(b, &args, msg, sizeof msg, &n);
    if (st != MCX_OK) {
        demo_failed("building the I_MESSAGE", st);
        goto out;
    }
    printf("[8] alice calls bob: PCK-ID %08x in a MIKEY-SAKKE I_MESSAGE of %zu octets\n"
           "      HDR T RAND IDR(uid i) IDR(uid r) IDR(kms i) IDR(kms r) SAKKE SIGN(ECCSI)\n",
           (unsigned)pck_id, n);

    /* bob: trusts the KMS, holds his RSK, learns alice's URI from the SIP INVITE's From. */
    st = mcx_mikey_opener_new(&o, NULL);
    if (st == MCX_OK)
        st = mcx_mikey_opener_add_kms(o, &cert);
    if (st == MCX_OK)
        st = mcx_mikey_opener_add_identity(o, bob->uri, NULL, KMS_URI, period_no, bob->sec->rsk);
    if (st != MCX_OK) {
        demo_failed("bob's MIKEY receiver", st);
        goto out;
    }
    st = mcx_mikey_open(o, msg, n, alice->uri, &res);
    if (st != MCX_OK) {
        fprintf(stderr, "mcx-demo: FAILED: bob rejects the I_MESSAGE (%s): %s\n",
                mcx_mikey_stage_verdict(res.stage), res.reason);
        goto out;
    }
    if (res.key_len != sizeof pck || !mcx_ct_equal(res.key, pck, sizeof pck) ||
        res.key_id != pck_id) {
        fprintf(stderr, "mcx-demo: FAILED: bob opened a different key\n");
        goto out;
    }
    printf("      bob: signature of %s valid (key period %llu), PCK %s recovered\n", res.sender_uri,
           (unsigned long long)res.sender_period_no, abbrev(res.key, 16, a));
    st = mcx_srtp_master(res.key, res.key_len, MCX_CS_MCPTT_PRIVATE_INITIATOR, res.csb_id, res.rand,
                         res.rand_len, srtp_key, sizeof srtp_key, srtp_salt, sizeof srtp_salt);
    if (st != MCX_OK) {
        demo_failed("SRTP key derivation", st);
        goto out;
    }
    printf("      SRTP master key %s, salt %s for alice's stream (CS-ID 0, MKI = PCK-ID)\n",
           abbrev(srtp_key, sizeof srtp_key, a), abbrev(srtp_salt, sizeof srtp_salt, c));
    mcx_mikey_result_wipe(&res);
    st = mcx_mikey_open(o, msg, n, alice->uri, &res);
    if (st != MCX_E_REPLAY) {
        fprintf(stderr, "mcx-demo: FAILED: a replayed I_MESSAGE was not refused as a replay\n");
        goto out;
    }
    printf("      the same I_MESSAGE again: %s (%s)\n", mcx_mikey_stage_verdict(res.stage),
           res.reason);
    rc = 0;
out:
    mcx_mikey_result_wipe(&res);
    mcx_mikey_opener_free(o);
    mcx_mikey_builder_free(b);
    mcx_memzero(pck, sizeof pck);
    mcx_memzero(srtp_key, sizeof srtp_key);
    mcx_memzero(srtp_salt, sizeof srtp_salt);
    return rc;
}
