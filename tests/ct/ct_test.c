/* Constant-time proof ("ctgrind"): the secret inputs of key issue, signing, encapsulation and
 * decapsulation are marked undefined for valgrind's memcheck, so that any branch or memory index
 * that depends on them is reported. Run under valgrind --error-exitcode by ctest (crypto.ct);
 * zero reports is the pass criterion, the CHECKs below only make sure the operations ran.
 * Linked with mcxsec_ctgrind, the library build that marks its internal secrets (random v, j,
 * blinding factors) and declassifies only values that are public by design. */
#include <valgrind/memcheck.h>

#include "test.h"

#include "mcxsec/eccsi.h"
#include "mcxsec/mem.h"
#include "mcxsec/sakke.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static uint8_t id_alice[32] =
    "alice-uid-0123456789abcdef-0000"; /* signer, used by the ECCSI part */
static uint8_t id_bob[32] = "bob-uid-0123456789abcdef-0000000";

static void sakke_issue_encap_decap(void)
{
    uint8_t z[MCX_SAKKE_SCALAR_BYTES], Z[MCX_SAKKE_POINT_BYTES], rsk[MCX_SAKKE_POINT_BYTES];
    uint8_t ssv[16], sed[MCX_SAKKE_SED_BYTES(16)], out[32];
    size_t n = 0, outl = 0;
    CHECK_OK(mcx_sakke_kms_keygen(z, Z));

    SECRET(z, sizeof z); /* KMS master secret */
    CHECK_OK(mcx_sakke_issue_rsk(z, sizeof z, id_bob, sizeof id_bob, rsk));
    PUBLIC(z, sizeof z);

    mcx_sakke_sender *s = NULL;
    CHECK_OK(mcx_sakke_sender_new(&s, Z));
    CHECK_OK(mcx_random(ssv, sizeof ssv));
    SECRET(ssv, sizeof ssv); /* the key being sent */
    CHECK_OK(mcx_sakke_encap(s, id_bob, sizeof id_bob, ssv, sizeof ssv, sed, sizeof sed, &n));
    PUBLIC(ssv, sizeof ssv);
    PUBLIC(sed, sizeof sed); /* the SED is sent in the clear */

    SECRET(rsk, sizeof rsk); /* the receiver's secret key: validation and table building */
    mcx_sakke_receiver *r = NULL;
    CHECK_OK(mcx_sakke_receiver_new(&r, Z, id_bob, sizeof id_bob, rsk));
    CHECK_OK(mcx_sakke_decap(r, sed, n, out, sizeof out, &outl));
    PUBLIC(out, sizeof out);
    CHECK(outl == 16 && memcmp(out, ssv, 16) == 0);
    mcx_sakke_receiver_free(r);
    mcx_sakke_sender_free(s);
}

static void eccsi_issue_sign(void)
{
    uint8_t ksak[32], kpak[65], ssk[32], pvt[65], sig[129], hs[32];
    const uint8_t msg[] = "floor granted to alice";
    CHECK_OK(mcx_eccsi_kms_keygen(ksak, kpak));

    SECRET(ksak, sizeof ksak); /* KMS master secret */
    CHECK_OK(mcx_eccsi_issue(ksak, kpak, id_alice, sizeof id_alice, ssk, pvt));
    PUBLIC(ksak, sizeof ksak);
    PUBLIC(ssk, sizeof ssk); /* handed to alice: it is her secret from here on */

    SECRET(ssk, sizeof ssk); /* the signer's key: validation and signing */
    CHECK_OK(mcx_eccsi_validate(kpak, id_alice, sizeof id_alice, ssk, pvt, hs));
    mcx_eccsi_signer signer;
    CHECK_OK(mcx_eccsi_signer_init(&signer, kpak, id_alice, sizeof id_alice, ssk, pvt));
    CHECK_OK(mcx_eccsi_sign(&signer, msg, sizeof msg, sig));
    PUBLIC(sig, sizeof sig);
    PUBLIC(&signer, sizeof signer);
    CHECK_OK(mcx_eccsi_verify(kpak, id_alice, sizeof id_alice, msg, sizeof msg, sig, sizeof sig));
    mcx_eccsi_signer_wipe(&signer);
}

int main(void)
{
    RUN(eccsi_issue_sign);
    RUN(sakke_issue_encap_decap);
    return test_summary();
}
