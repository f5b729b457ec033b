/* The bounds-checked byte cursor (cursor_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"

void rd_init(mcx_reader *r, const uint8_t *buf, size_t len, const char *where)
{
    r->buf = buf;
    r->len = buf ? len : 0;
    r->pos = 0;
    r->base = 0;
    r->where = where ? where : "input";
}

static mcx_status need(const mcx_reader *r, const char *field, size_t n)
{
    if (n <= rd_left(r))
        return MCX_OK;
    return MCX_FAIL(MCX_E_LENGTH, "%s: %s truncated at byte %zu (%zu octets needed, %zu left)",
                    r->where, field, rd_offset(r), n, rd_left(r));
}

static uint64_t be_read(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static mcx_status rd_uint(mcx_reader *r, const char *field, size_t n, uint64_t *v)
{
    MCX_GUARD(need(r, field, n));
    *v = be_read(r->buf + r->pos, n);
    r->pos += n;
    return MCX_OK;
}

mcx_status rd_u8(mcx_reader *r, const char *field, uint8_t *v)
{
    uint64_t x;
    MCX_GUARD(rd_uint(r, field, 1, &x));
    *v = (uint8_t)x;
    return MCX_OK;
}

mcx_status rd_u16(mcx_reader *r, const char *field, uint16_t *v)
{
    uint64_t x;
    MCX_GUARD(rd_uint(r, field, 2, &x));
    *v = (uint16_t)x;
    return MCX_OK;
}

mcx_status rd_u32(mcx_reader *r, const char *field, uint32_t *v)
{
    uint64_t x;
    MCX_GUARD(rd_uint(r, field, 4, &x));
    *v = (uint32_t)x;
    return MCX_OK;
}

mcx_status rd_u40(mcx_reader *r, const char *field, uint64_t *v)
{
    return rd_uint(r, field, 5, v);
}

mcx_status rd_u64(mcx_reader *r, const char *field, uint64_t *v)
{
    return rd_uint(r, field, 8, v);
}

mcx_status rd_bytes(mcx_reader *r, const char *field, size_t n, const uint8_t **p)
{
    MCX_GUARD(need(r, field, n));
    *p = r->buf + r->pos;
    r->pos += n;
    return MCX_OK;
}

mcx_status rd_copy(mcx_reader *r, const char *field, size_t n, uint8_t *dst)
{
    const uint8_t *p;
    MCX_GUARD(rd_bytes(r, field, n, &p));
    if (n)
        memcpy(dst, p, n);
    return MCX_OK;
}

mcx_status rd_sub(mcx_reader *r, const char *field, size_t n, const char *where, mcx_reader *sub)
{
    MCX_GUARD(need(r, field, n));
    sub->buf = r->buf + r->pos;
    sub->len = n;
    sub->pos = 0;
    sub->base = rd_offset(r);
    sub->where = where ? where : r->where;
    r->pos += n;
    return MCX_OK;
}

void rd_rest(mcx_reader *r, const uint8_t **p, size_t *n)
{
    *p = r->buf + r->pos;
    *n = rd_left(r);
    r->pos = r->len;
}

mcx_status rd_end(const mcx_reader *r)
{
    if (rd_left(r) == 0)
        return MCX_OK;
    return MCX_FAIL(MCX_E_LENGTH, "%s: %zu unexpected trailing octets at byte %zu", r->where,
                    rd_left(r), rd_offset(r));
}

mcx_status rd_fail(const mcx_reader *r, mcx_status st, const char *fmt, ...)
{
    char what[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return MCX_FAIL(st, "%s: %s (byte %zu)", r->where, what, rd_offset(r));
}

void wr_init(mcx_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->pos = 0;
    w->overflow = 0;
}

static uint8_t *wr_room(mcx_writer *w, size_t n)
{
    if (w->overflow || n > w->cap - w->pos) {
        w->overflow = 1;
        return NULL;
    }
    uint8_t *p = w->buf + w->pos;
    w->pos += n;
    return p;
}

static void wr_uint(mcx_writer *w, uint64_t v, size_t n)
{
    uint8_t *p = wr_room(w, n);
    if (!p)
        return;
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

void wr_u8(mcx_writer *w, uint8_t v)
{
    wr_uint(w, v, 1);
}

void wr_u16(mcx_writer *w, uint16_t v)
{
    wr_uint(w, v, 2);
}

void wr_u32(mcx_writer *w, uint32_t v)
{
    wr_uint(w, v, 4);
}

void wr_u40(mcx_writer *w, uint64_t v)
{
    wr_uint(w, v, 5);
}

void wr_u64(mcx_writer *w, uint64_t v)
{
    wr_uint(w, v, 8);
}

void wr_bytes(mcx_writer *w, const void *p, size_t n)
{
    uint8_t *d = wr_room(w, n);
    if (d && n)
        memcpy(d, p, n);
}

size_t wr_reserve(mcx_writer *w, size_t width)
{
    size_t mark = w->pos;
    wr_uint(w, 0, width);
    return mark;
}

mcx_status wr_fill_len(mcx_writer *w, size_t mark, size_t width, const char *what)
{
    if (w->overflow)
        return MCX_OK; /* reported once by wr_status */
    size_t n = w->pos - mark - width;
    if (width < 8 && n >> (8 * width))
        return MCX_FAIL(MCX_E_LENGTH, "%s is %zu octets, more than a %zu-octet length allows", what,
                        n, width);
    for (size_t i = width; i-- > 0; n >>= 8)
        w->buf[mark + i] = (uint8_t)n;
    return MCX_OK;
}

mcx_status wr_status(const mcx_writer *w, const char *where)
{
    if (!w->overflow)
        return MCX_OK;
    return MCX_FAIL(MCX_E_LENGTH, "%s: output buffer of %zu octets is too small", where, w->cap);
}
