/* Fuzz target: arbitrary bytes as an ECCSI verification (RFC 6507 §5.2.2) under the KPAK of
 * RFC 6507 Appendix A, one-shot and through a small verifier cache.
 *
 * Input layout: id_len(1) || sig_len(1) || sig(sig_len) || id(id_len) || message(rest); lengths
 * are clipped to what is left. Oracle: no crash, and the one-shot verifier and the cached verifier
 * (first and repeated contact) give the same status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/eccsi.h"

static const uint8_t RFC_KPAK[MCX_ECCSI_POINT_BYTES] = {
    0x04, 0x50, 0xD4, 0x67, 0x0B, 0xDE, 0x75, 0x24, 0x4F, 0x28, 0xD2, 0x83, 0x8A,
    0x0D, 0x25, 0x55, 0x8A, 0x7A, 0x72, 0x68, 0x6D, 0x45, 0x22, 0xD4, 0xC8, 0x27,
    0x3F, 0xB6, 0x44, 0x2A, 0xEB, 0xFA, 0x93, 0xDB, 0xDD, 0x37, 0x55, 0x1A, 0xFD,
    0x26, 0x3B, 0x5D, 0xFD, 0x61, 0x7F, 0x39, 0x60, 0xC6, 0x5A, 0x8C, 0x29, 0x88,
    0x50, 0xFF, 0x99, 0xF2, 0x03, 0x66, 0xDC, 0xE7, 0xD4, 0x36, 0x72, 0x17, 0xF4};

static mcx_eccsi_verifier *verifier;

static size_t take(size_t want, size_t *left)
{
    size_t n = want < *left ? want : *left;
    *left -= n;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (verifier == NULL && mcx_eccsi_verifier_new(&verifier, RFC_KPAK, 4) != MCX_OK)
        abort();
    size_t left = size - 2;
    size_t sig_len = take(data[1], &left);
    size_t id_len = take(data[0], &left);
    const uint8_t *sig = data + 2;
    const uint8_t *id = sig + sig_len;
    const uint8_t *msg = id + id_len;
    size_t msg_len = left;

    mcx_status one = mcx_eccsi_verify(RFC_KPAK, id, id_len, msg, msg_len, sig, sig_len);
    mcx_status first = mcx_eccsi_verifier_verify(verifier, id, id_len, msg, msg_len, sig, sig_len);
    mcx_status again = mcx_eccsi_verifier_verify(verifier, id, id_len, msg, msg_len, sig, sig_len);
    if (one != first || one != again)
        abort();
    return 0;
}
