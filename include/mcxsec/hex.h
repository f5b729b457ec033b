/* Hex encoding for keys on command lines, in files and in test vectors. */
#ifndef MCXSEC_HEX_H
#define MCXSEC_HEX_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decode hex text (upper or lower case; spaces, tabs and ':' between digits are ignored) into
 * out[0..cap). The decoding of each digit is branch-free so secret keys can pass through it.
 * *out_len receives the number of bytes written.
 * Errors: MCX_E_ENCODING (a non-hex character or an odd number of digits),
 *         MCX_E_LENGTH (more than cap bytes). */
MCX_API MCX_MUST_CHECK mcx_status mcx_hex_decode(const char *hex, uint8_t *out, size_t cap,
                                                 size_t *out_len);

/* Encode n bytes as lowercase hex into out, which must hold 2n+1 chars; NUL-terminated. */
MCX_API void mcx_hex_encode(const uint8_t *in, size_t n, char *out);

#ifdef __cplusplus
}
#endif
#endif
