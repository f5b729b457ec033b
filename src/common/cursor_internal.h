/* One bounds-checked byte cursor for every parser and encoder (STYLE.md #4, after s2n_stuffer).
 *
 * Reader: each read names the field it reads, so a failure says what was wrong and where:
 *   "MIKEY: SIGN payload: signature truncated at byte 212 (129 octets needed, 40 left)".
 * Sub-readers take a length-prefixed block out of the parent; rd_end() insists that a block was
 * consumed exactly. Reads return pointers into the input (no copy); the input must outlive them.
 *
 * Writer: writes into a caller buffer of fixed capacity; once a write does not fit, the writer is
 * marked overflowed and every later write is ignored, so an encoder checks wr_status() once at the
 * end. Length fields can be reserved and filled in when the block they measure is complete. */
#ifndef MCX_CURSOR_INTERNAL_H
#define MCX_CURSOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mcxsec/common.h"

/* Big-endian 32-bit fields outside a cursor walk (labels, SPIs, key IDs built in place). */
static inline uint32_t load_be32(const uint8_t p[4])
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void store_be32(uint8_t p[4], uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

typedef struct mcx_reader {
    const uint8_t *buf;
    size_t len;        /* octets in this block */
    size_t pos;        /* next octet to read, relative to buf */
    size_t base;       /* offset of buf[0] in the outermost input, for messages */
    const char *where; /* "MIKEY: SIGN payload": prefix of every error of this reader */
} mcx_reader;

/* A reader over buf[0..len); where prefixes its error texts. */
void rd_init(mcx_reader *r, const uint8_t *buf, size_t len, const char *where);

static inline size_t rd_left(const mcx_reader *r)
{
    return r->len - r->pos;
}

/* Absolute offset of the next octet in the outermost input. */
static inline size_t rd_offset(const mcx_reader *r)
{
    return r->base + r->pos;
}

/* Fixed-width big-endian reads. Errors: MCX_E_LENGTH (the field does not fit in what is left). */
mcx_status rd_u8(mcx_reader *r, const char *field, uint8_t *v);
mcx_status rd_u16(mcx_reader *r, const char *field, uint16_t *v);
mcx_status rd_u32(mcx_reader *r, const char *field, uint32_t *v);
mcx_status rd_u40(mcx_reader *r, const char *field, uint64_t *v);
mcx_status rd_u64(mcx_reader *r, const char *field, uint64_t *v);

/* n octets: *p points into the input. */
mcx_status rd_bytes(mcx_reader *r, const char *field, size_t n, const uint8_t **p);
/* n octets copied to dst. */
mcx_status rd_copy(mcx_reader *r, const char *field, size_t n, uint8_t *dst);
/* The next n octets as a nested block, with its own error prefix (NULL: the parent's). */
mcx_status rd_sub(mcx_reader *r, const char *field, size_t n, const char *where, mcx_reader *sub);
/* Everything left. Never fails. */
void rd_rest(mcx_reader *r, const uint8_t **p, size_t *n);

/* The block must have been consumed exactly. Errors: MCX_E_LENGTH naming the trailing octets. */
mcx_status rd_end(const mcx_reader *r);

/* A value that is well-formed octets but wrong: "<where>: <field> is <what> at byte N".
 * Returns st (MCX_E_ENCODING, MCX_E_UNSUPPORTED, ...) with the error text set. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
mcx_status
rd_fail(const mcx_reader *r, mcx_status st, const char *fmt, ...);

typedef struct mcx_writer {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    int overflow;
} mcx_writer;

void wr_init(mcx_writer *w, uint8_t *buf, size_t cap);
void wr_u8(mcx_writer *w, uint8_t v);
void wr_u16(mcx_writer *w, uint16_t v);
void wr_u32(mcx_writer *w, uint32_t v);
void wr_u40(mcx_writer *w, uint64_t v);
void wr_u64(mcx_writer *w, uint64_t v);
void wr_bytes(mcx_writer *w, const void *p, size_t n);

/* Reserve a 1- or 2-octet length field; returns its position for wr_fill_len. */
size_t wr_reserve(mcx_writer *w, size_t width);
/* Fill the field reserved at mark (width 1 or 2) with the number of octets written after it.
 * Errors: MCX_E_LENGTH when that number does not fit in the field (what names it). */
mcx_status wr_fill_len(mcx_writer *w, size_t mark, size_t width, const char *what);

/* MCX_OK, or MCX_E_LENGTH "<where>: output buffer of N octets is too small" after an overflow. */
mcx_status wr_status(const mcx_writer *w, const char *where);

static inline size_t wr_len(const mcx_writer *w)
{
    return w->pos;
}

#endif
