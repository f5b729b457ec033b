/* Fuzz target: arbitrary bytes as an I_MESSAGE for mcx_mikey_open (RFC 6509 §4, TS 33.180 E).
 *
 * One opener, set up once, holds the keys of the Streamwide test-1 vector
 * (tests/vectors/streamwide_imessages.txt [imsg-sw-official-v5-test1]): the KMS
 * kms.mydev.streamwide.com, the receiver sip:alice@streamwide.com with her RSK for key period
 * 236, and the senders gms@, alice@ and bob@streamwide.com. It ignores the clock (any_time) and
 * accepts the legacy signature scope, so everything before the signature is reachable: parsing,
 * the shape checks, the replay cache, the sender and KMS look-ups by IDR, the UID search over key
 * periods and the ECCSI verification itself. A forged input essentially never gets further; the
 * seeds that are genuine messages to alice (vendor and built) take the rest of the path once and
 * are then refused as replays.
 *
 * Oracles: no crash, no leak, no read outside the input; the result agrees with the status (an
 * accepted message has a key of 16 or 32 octets and stage NONE; a refused one has a stage, a
 * reason and no key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"
#include "mcxsec/mikey.h"

static const char KMS_URI[] = "kms.mydev.streamwide.com";

static const char Z_HEX[] =
    "046fc2cf00fd48467abe7c02f383002fc49b6632bf0f7071d958f1f128154e6fae1f69bb91691a191a358fe6"
    "47a3e020d2365d52f81fb3af4ea271654f1a880274c1ae228ac72cc15d535394321bd2143cea2619fb3b0c6c"
    "e7a5f72714d8ef4d11cb0c991c3376ca31b168b01e66021effdbf7920bd66615e6f0d6a1e61c06e72e61b413"
    "8738c11bc249a3849e9c4cff327a7d0d2769c3d97a37f86adfb13baa257e628ce236f40360d3f7b8d95b0e3f"
    "cc19417602d7d6b8928b855eae9129be1f0b87d33e884906dd95a04a8bd61240bad60f9dfada64806726f8f0"
    "8b86343f54046416f5198116e9798c218bcf9ca07d0baa4be50062bfe54e44495b6ed59cb6";

static const char KPAK_HEX[] =
    "0448f9c2c48b50735f6bc70ec6691073243f1e0bd83cc73bb936d61ffcb2d6049a5b297e8205b29fbd8591cb"
    "582d6402add21451ce4beebeaaa7520e93b11cf28f";

static const char ALICE_RSK_HEX[] =
    "0428b44cd6dffd2e7fe73521a5c514738287df177c1ae841ba6f5d72601b9c6bc5509c3fd800ac1fee833dd8"
    "1c74ab39d2740a10fba25cd9b0debb25a3da958cf52e35e863d2db37ea22b318d23d9911d36f585eb110e430"
    "123f3cd84d2692a4013bc7f59533e5da2083d8e6e8b96764eb8e8be599dc2361e7428460b8490200417baa5b"
    "ac10efaa5262301b3110f6da9e8bc9c4b62827c3d4f4070a8e341346a326a23f219d2a99298036615956bb85"
    "a60cf303d15d469c1ee837c29cba5dccb28d74e4ba0d83dac9400d72eecb1817cc60127203f1321e82b7a24f"
    "60c07f1804a9895cbb455a94694a5ef627b1c631760295dad53f0eed1714ba52d5a932bddd";

static mcx_mikey_opener *opener;

static void unhex(const char *hex, uint8_t *out, size_t want)
{
    size_t n = 0;
    if (mcx_hex_decode(hex, out, want, &n) != MCX_OK || n != want)
        abort();
}

static void setup(void)
{
    mcx_kms_cert kms;
    memset(&kms, 0, sizeof kms);
    memcpy(kms.uri, KMS_URI, sizeof KMS_URI);
    unhex(Z_HEX, kms.Z, sizeof kms.Z);
    unhex(KPAK_HEX, kms.kpak, sizeof kms.kpak);
    kms.key_period = 16777215;
    kms.key_offset = 0;
    kms.id_mode = MCX_ID_RAW;
    uint8_t rsk[MCX_SAKKE_POINT_BYTES];
    unhex(ALICE_RSK_HEX, rsk, sizeof rsk);

    mcx_mikey_settings set;
    memset(&set, 0, sizeof set);
    set.any_time = 1;
    set.allow_legacy_scope = 1;
    if (mcx_mikey_opener_new(&opener, &set) != MCX_OK ||
        mcx_mikey_opener_add_kms(opener, &kms) != MCX_OK ||
        mcx_mikey_opener_add_identity(opener, "sip:alice@streamwide.com", NULL, KMS_URI, 236,
                                      rsk) != MCX_OK ||
        mcx_mikey_opener_add_peer(opener, "gms@streamwide.com", NULL, KMS_URI) != MCX_OK ||
        mcx_mikey_opener_add_peer(opener, "sip:alice@streamwide.com", NULL, KMS_URI) != MCX_OK ||
        mcx_mikey_opener_add_peer(opener, "sip:bob@streamwide.com", NULL, KMS_URI) != MCX_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (opener == NULL)
        setup();
    mcx_mikey_result res;
    mcx_status st = mcx_mikey_open(opener, data, size, NULL, &res);
    if (st != res.status)
        abort();
    if (st == MCX_OK) {
        if (res.stage != MCX_MIKEY_STAGE_NONE || (res.key_len != 16 && res.key_len != 32))
            abort();
    } else {
        if (res.stage == MCX_MIKEY_STAGE_NONE || res.reason[0] == 0 || res.key_len != 0 ||
            !memchr(res.reason, 0, sizeof res.reason))
            abort();
    }
    if (mcx_mikey_stage_verdict(res.stage) == NULL)
        abort();
    mcx_mikey_result_wipe(&res);
    return 0;
}
