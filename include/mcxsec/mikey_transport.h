/* Transport encodings of MIKEY messages: how the octets of an I_MESSAGE travel in SIP.
 *
 *   base64      RFC 4648 §4 (standard alphabet, padded); strict decoding.
 *   SDP         the key management attribute of RFC 4567 §3.1:
 *                 a=key-mgmt:mikey <base64 of the MIKEY message>
 *               at session level or in a media section (TS 24.379 private calls carry the PCK
 *               I_MESSAGE this way; the Streamwide test vectors use the attribute value form).
 *   MIME        a body part of media type application/mikey (registered by RFC 3830 §10), as
 *               MC clients attach a CSK or GMK I_MESSAGE to a SIP request: alone, or as one part
 *               of a multipart/mixed body (TS 24.379 §6.5). SIP carries binary bodies, so the part
 *               has just a Content-Type header; Content-Transfer-Encoding: base64 is also read
 *               and can be written for paths that are not 8-bit clean.
 *
 * Every function writes into a caller buffer of stated capacity and allocates nothing. Inputs are
 * untrusted: lengths are explicit, nothing is read beyond them, and no input needs a NUL. When a
 * result does not fit, the function fails with MCX_E_LENGTH and still stores the size it needs in
 * *out_len, so a caller may ask with cap = 0 (out may then be NULL). */
#ifndef MCXSEC_MIKEY_TRANSPORT_H
#define MCXSEC_MIKEY_TRANSPORT_H

#include "mcxsec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Characters of the padded base64 encoding of n octets (no NUL). */
#define MCX_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Most octets that len characters of base64 can decode to. */
#define MCX_BASE64_DECODED_MAX(len) (((len) / 4) * 3)

/* Largest SDP or MIME body the parsers accept, and largest MIKEY message the SDP and MIME
 * formatters accept (a SIP body over UDP is smaller than 64 KiB). */
#define MCX_TRANSPORT_BODY_MAX 65536

/* Encode in[0..n) as padded base64 into out, NUL-terminated; cap must be at least
 * MCX_BASE64_ENCODED_LEN(n) + 1. *out_len receives the number of characters (without the NUL).
 * n = 0 gives "".
 * Errors: MCX_E_ARG (in NULL with n > 0, out_len NULL), MCX_E_LENGTH (cap too small; *out_len
 *         receives the characters needed, without the NUL). */
MCX_API MCX_MUST_CHECK mcx_status mcx_base64_encode(const uint8_t *in, size_t n, char *out,
                                                    size_t cap, size_t *out_len);

/* Strictly decode text[0..len) (RFC 4648 §4): only the 64 alphabet characters, then at most two
 * '=' that complete the last group of four; the length is a multiple of 4; the unused bits of the
 * last character are zero (RFC 4648 §3.5), so each octet string has exactly one accepted
 * encoding. No whitespace is skipped. len = 0 decodes to zero octets. *out_len receives the
 * number of octets.
 * Errors: MCX_E_ARG (text NULL with len > 0, out NULL with cap > 0, out_len NULL),
 *         MCX_E_ENCODING (the reason names the 1-based character: "base64: character 7 ('!') is
 *         not in the base64 alphabet", bad padding, non-zero trailing bits, a length that is not
 *         a multiple of 4),
 *         MCX_E_LENGTH (more than cap octets; *out_len receives the octets needed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_base64_decode(const char *text, size_t len, uint8_t *out,
                                                    size_t cap, size_t *out_len);

/* Characters of an SDP key-mgmt line for an n-octet MIKEY message with CRLF and NUL: enough for
 * mcx_sdp_keymgmt_format with either flag. */
#define MCX_SDP_KEYMGMT_MAX(n) (sizeof "a=key-mgmt:mikey " - 1 + MCX_BASE64_ENCODED_LEN(n) + 2 + 1)

#define MCX_SDP_CRLF 1u /* mcx_sdp_keymgmt_format: end the line with CRLF (RFC 8866 §5) */

/* Format the SDP attribute line "a=key-mgmt:mikey <base64(msg)>" (RFC 4567 §3.1) into out,
 * NUL-terminated, followed by CRLF if flags has MCX_SDP_CRLF (otherwise no line end, for a
 * caller that joins lines itself). *out_len receives the characters written, without the NUL.
 * Errors: MCX_E_ARG (NULL argument, unknown flag, n = 0: an attribute needs data),
 *         MCX_E_LENGTH (n above MCX_TRANSPORT_BODY_MAX, or cap too small; in the second case
 *         *out_len receives the characters needed, without the NUL). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sdp_keymgmt_format(const uint8_t *msg, size_t n,
                                                         unsigned flags, char *out, size_t cap,
                                                         size_t *out_len);

/* Decode one key-mgmt attribute: either its value "mikey <base64>" (the form of the Streamwide
 * vectors) or the whole line "a=key-mgmt:mikey <base64>". The protocol id is matched without
 * regard to case (RFC 5234 §2.3 strings); spaces or tabs may separate it from the data; a line
 * end (CRLF or LF) and spaces or tabs after the data are ignored. The MIKEY message goes to
 * out[0..cap), its length to *out_len.
 * Errors: MCX_E_ARG (NULL argument),
 *         MCX_E_UNSUPPORTED (a protocol id other than mikey: "SDP: key-mgmt: unknown protocol id
 *         \"foo\""),
 *         MCX_E_ENCODING (no protocol id, no data after it, bad base64 naming the character),
 *         MCX_E_LENGTH (len above MCX_TRANSPORT_BODY_MAX, or the message does not fit; in the
 *         second case *out_len receives the octets needed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sdp_keymgmt_parse(const char *value, size_t len, uint8_t *out,
                                                        size_t cap, size_t *out_len);

/* Which key-mgmt attribute mcx_sdp_keymgmt_find returns. */
#define MCX_SDP_ANY     (-2) /* the first a=key-mgmt:mikey of the body, at whatever level */
#define MCX_SDP_SESSION (-1) /* the session-level one (before the first m= line) */
/* media >= 0: the one that applies to the media-th m= section (0-based): its own media-level
 * attribute if it has one, else the session-level one (RFC 4567 §3.1: media level overrides
 * session level for that media). */

/* Find the MIKEY message of an SDP body (lines end in CRLF or LF) and decode it into
 * out[0..cap). Attributes with other protocol ids are skipped. Every a=key-mgmt:mikey line of the
 * body is checked, used or not; the first of a level wins. *out_len receives the octets; if
 * line is not NULL it receives the 1-based line number of the attribute used.
 * Errors: MCX_E_ARG (NULL argument, media below MCX_SDP_ANY),
 *         MCX_E_ENCODING (a key-mgmt line without protocol id, or a malformed key-mgmt:mikey
 *         line, named by number: "SDP: key-mgmt line 7: ..."),
 *         MCX_E_NO_KEY (the body carries no MIKEY message for the choice, or has no media-th
 *         m= section),
 *         MCX_E_LENGTH (len above MCX_TRANSPORT_BODY_MAX, or the message does not fit; in the
 *         second case *out_len receives the octets needed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_sdp_keymgmt_find(const char *sdp, size_t len, int media,
                                                       uint8_t *out, size_t cap, size_t *out_len,
                                                       unsigned *line);

/* Transfer encoding of a formatted application/mikey body part. */
typedef enum mcx_mime_encoding {
    MCX_MIME_BINARY = 0, /* the octets as they are, no Content-Transfer-Encoding header (SIP) */
    MCX_MIME_BASE64 = 1  /* Content-Transfer-Encoding: base64, lines of 76 (RFC 2045 §6.8) */
} mcx_mime_encoding;

/* Octets of an application/mikey body part for an n-octet message, either encoding. */
#define MCX_MIME_MIKEY_MAX(n)                                                                      \
    (70 + MCX_BASE64_ENCODED_LEN(n) + 2 * (MCX_BASE64_ENCODED_LEN(n) / 76 + 1))

/* Format a MIME body part carrying msg: header lines, an empty line, the body, all lines ending
 * in CRLF:
 *   Content-Type: application/mikey
 *   [Content-Transfer-Encoding: base64]
 *
 *   <msg, or its base64 in lines of 76 characters>
 * The body has no line end after it: in a multipart body the CRLF before the next boundary
 * belongs to the delimiter (RFC 2046 §5.1.1). out is not NUL-terminated (the body is binary);
 * *out_len receives the octets written.
 * Errors: MCX_E_ARG (NULL argument, unknown encoding, n = 0),
 *         MCX_E_LENGTH (n above MCX_TRANSPORT_BODY_MAX, or cap too small; in the second case
 *         *out_len receives the octets needed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_mime_mikey_format(const uint8_t *msg, size_t n,
                                                        mcx_mime_encoding enc, uint8_t *out,
                                                        size_t cap, size_t *out_len);

/* Find the MIKEY message of a MIME body and decode it into out[0..cap).
 *   content_type != NULL: the body is the payload of a message whose Content-Type header value
 *     is content_type (NUL-terminated), e.g. the SIP body with "multipart/mixed;boundary=xyz"
 *     or "application/mikey"; a single application/mikey body is taken as binary.
 *   content_type == NULL: the body is a MIME entity that starts with its own header lines, such
 *     as one made by mcx_mime_mikey_format (no Content-Type header: text/plain, RFC 2045 §5.2).
 * A multipart/ body (any subtype is read as mixed, RFC 2046 §5.1.7) is split at its boundary
 * (RFC 2046 §5.1.1: preamble and epilogue ignored, CRLF or LF line ends, the whole body up to the
 * close delimiter must be present) and the first application/mikey part is used, looking into
 * nested multiparts up to 4 levels. Header names and media types are matched without regard to
 * case; folded header lines are joined. In a part, Content-Transfer-Encoding binary, 8bit, 7bit
 * or none takes the octets as they are (nothing trimmed); base64 decodes strictly, skipping only
 * line breaks, spaces and tabs (RFC 2045 §6.8). *out_len receives the octets.
 * Errors: MCX_E_ARG (NULL argument),
 *         MCX_E_ENCODING (malformed Content-Type or header line, a multipart type without a
 *         boundary parameter, a boundary that never occurs, an empty application/mikey body,
 *         bad base64; the reason names the part, e.g. "MIME: part 3: ..."),
 *         MCX_E_UNSUPPORTED (another transfer encoding, nesting deeper than 4),
 *         MCX_E_NO_KEY (no application/mikey part),
 *         MCX_E_LENGTH (len above MCX_TRANSPORT_BODY_MAX, a header section above 8 KiB, a
 *         multipart body cut short before its close delimiter, or the message does not fit; in
 *         the last case *out_len receives the octets needed). */
MCX_API MCX_MUST_CHECK mcx_status mcx_mime_mikey_parse(const char *content_type,
                                                       const uint8_t *body, size_t len,
                                                       uint8_t *out, size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
