/* Fuzz target: SAKKE decapsulation of arbitrary SEDs for the RFC 6508 Appendix A receiver.
 * Must never crash, and must never accept an SED other than a valid encapsulation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"
#include "mcxsec/sakke.h"

static mcx_sakke_receiver *receiver;

static void setup(void)
{
    static const char *Z_HEX =
        "045958EF1B1679BF099B3A030DF255AA6A23C1D8F143D4D23F753E69BD27A832F38CB4AD53DDEF4260B0FE8B"
        "B45C4C1FF510EFFE300367A37B61F701D914AEF09724825FA0707D61A6DFF4FBD7273566CDDE352A0B04B7C1"
        "6A78309BE640697DE747613A5FC195E8B9F328852A579DB8F99B1D0034479EA9C5595F47C4B2F54FF21508D3"
        "7514DCF7A8E143A6058C09A6BF2C9858CA37C258065AE6BF7532BC8B5B63383866E0753C5AC0E72709F8445F"
        "2E6178E065857E0EDA10F68206B63505ED87E534FB2831FF957FB7DC619DAE61301EEACC2FDA3680EA499925"
        "8A833CEA8FC67C6D19487FB449059F26CC8AAB655AB58B7CC796E24E9A394095754F5F8BAE";
    static const char *RSK_HEX =
        "0493AF67E5007BA6E6A80DA793DA300FA4B52D0A74E25E6E7B2B3D6EE9D18A9B5C5023597BD82D8062D34019"
        "563BA1D25C0DC56B7B979D74AA50F29FBF11CC2C93F5DFCA615E609279F6175CEADB00B58C6BEE1E7A2A47C4"
        "F0C456F05259A6FA94A634A40DAE1DF593D4FECF688D5FC678BE7EFC6DF3D6835325B83B2C6E69036B155F0A"
        "27241094B04BFB0BDFAC6C670A65C325D39A069F03659D44CA27D3BE8DF311172B554160181CBE94A2A78332"
        "0CED590BC42644702CF371271E496BF20F588B78A1BC01ECBB6559934BDD2FB65D2884318A33D1A42ADF5E33"
        "CC5800280B28356497F87135BAB9612A17260424409AC15FEE996B744C332151235DECB0F5";
    uint8_t Z[MCX_SAKKE_POINT_BYTES], rsk[MCX_SAKKE_POINT_BYTES];
    const uint8_t id[] = "2011-02\0tel:+447700900123";
    size_t n;
    if (mcx_hex_decode(Z_HEX, Z, sizeof Z, &n) != MCX_OK ||
        mcx_hex_decode(RSK_HEX, rsk, sizeof rsk, &n) != MCX_OK ||
        mcx_sakke_receiver_new(&receiver, Z, id, sizeof id, rsk) != MCX_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (receiver == NULL)
        setup();
    uint8_t ssv[64];
    size_t n = 0;
    mcx_status st = mcx_sakke_decap(receiver, data, size, ssv, sizeof ssv, &n);
    /* the only SED this receiver may accept here is the RFC's, whose SSV is known */
    if (st == MCX_OK && (n != 16 || ssv[0] != 0x12 || ssv[15] != 0xF0))
        abort();
    return 0;
}
