/* Fuzz target: arbitrary bytes as a MIKEY message (RFC 3830 §6, RFC 6043, RFC 6509 §4) through
 * mcx_mikey_decode.
 *
 * Oracles, for every input the decoder accepts:
 *   - every view it returns lies inside the input, and the SIGN offsets agree with the input;
 *   - mcx_mikey_encode in the decoded payload order gives back the input octet for octet (the
 *     decoder keeps the order), needs exactly that much room and refuses one octet less;
 *   - the TS 33.180 E order encoding (order cleared) has the same length and decodes again to
 *     the same payloads;
 *   - mcx_mikey_payload_name names each payload it kept, and mcx_mikey_t_seconds is callable.
 * A refused input must leave a reason in mcx_last_error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/mikey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, const mcx_mikey_bytes *b)
{
    if (b->len == 0)
        return;
    if (b->p == NULL || b->p < data || b->len > size || (size_t)(b->p - data) > size - b->len)
        abort();
}

static void check_views(const uint8_t *data, size_t size, const mcx_mikey_msg *m)
{
    if (m->n_cs > MCX_MIKEY_MAX_CS || m->n_idr > MCX_MIKEY_MAX_IDR || m->n_sp > MCX_MIKEY_MAX_SP ||
        m->n_gext > MCX_MIKEY_MAX_GEXT || m->n_payloads == 0 ||
        m->n_payloads > MCX_MIKEY_MAX_PAYLOADS || m->order[0] != MCX_MIKEY_PT_HDR)
        abort();
    if (m->map_type == MCX_MIKEY_MAP_GENERIC_ID)
        for (size_t i = 0; i < m->n_cs; i++) {
            inside(data, size, &m->cs[i].session_data);
            inside(data, size, &m->cs[i].spi);
        }
    if (m->has_rand)
        inside(data, size, &m->rand);
    for (size_t i = 0; i < m->n_idr; i++)
        inside(data, size, &m->idr[i].data);
    for (size_t i = 0; i < m->n_sp; i++)
        inside(data, size, &m->sp[i].params);
    if (m->has_sakke)
        inside(data, size, &m->sed);
    for (size_t i = 0; i < m->n_gext; i++)
        inside(data, size, &m->gext[i].data);
    if (m->has_sign) {
        inside(data, size, &m->sig);
        /* SIGN is last and its signature runs to the end of the message */
        if (m->signed_len != m->sign_offset + 2 || m->signed_len + m->sig.len != size ||
            m->order[m->n_payloads - 1] != MCX_MIKEY_PT_SIGN)
            abort();
    }
    for (size_t i = 0; i < m->n_payloads; i++) {
        const char *name = mcx_mikey_payload_name(m->order[i]);
        if (name == NULL || strcmp(name, "unknown") == 0)
            abort();
    }
    (void)mcx_mikey_t_seconds(m);
}

/* The payloads two decodings agree on (not the views' addresses). */
static void same_payloads(const mcx_mikey_msg *a, const mcx_mikey_msg *b)
{
    if (a->csb_id != b->csb_id || a->n_cs != b->n_cs || a->map_type != b->map_type ||
        a->has_t != b->has_t || a->ts != b->ts || a->has_rand != b->has_rand ||
        a->rand.len != b->rand.len || a->n_idr != b->n_idr || a->n_sp != b->n_sp ||
        a->has_sakke != b->has_sakke || a->sed.len != b->sed.len || a->n_gext != b->n_gext ||
        a->has_sign != b->has_sign || a->sig.len != b->sig.len || a->n_payloads != b->n_payloads ||
        mcx_mikey_t_seconds(a) != mcx_mikey_t_seconds(b))
        abort();
    if (a->has_sakke && a->sed.len && memcmp(a->sed.p, b->sed.p, a->sed.len) != 0)
        abort();
    for (size_t i = 0; i < a->n_idr; i++)
        if (a->idr[i].role != b->idr[i].role || a->idr[i].data.len != b->idr[i].data.len ||
            memcmp(a->idr[i].data.p, b->idr[i].data.p, a->idr[i].data.len) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcx_mikey_msg m;
    if (mcx_mikey_decode(data, size, &m) != MCX_OK) {
        const char *why = mcx_last_error();
        if (why == NULL || why[0] == 0)
            abort();
        return 0;
    }
    check_views(data, size, &m);

    /* Byte-exact re-encoding in the decoded order, in a buffer of exactly the input's size. */
    uint8_t *out = malloc(size ? size : 1);
    if (out == NULL)
        return 0;
    mcx_mikey_msg e = m;
    size_t len = 0;
    if (mcx_mikey_encode(&e, out, size, &len) != MCX_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort();
    if (e.has_sign && (e.sign_offset != m.sign_offset || e.signed_len != m.signed_len))
        abort();
    if (size > 0 && mcx_mikey_encode(&e, out, size - 1, &len) == MCX_OK)
        abort(); /* one octet short must be refused, not overrun */

    /* The canonical order: same length, decodes again to the same payloads. */
    e = m;
    e.n_payloads = 0;
    if (mcx_mikey_encode(&e, out, size, &len) != MCX_OK || len != size)
        abort();
    mcx_mikey_msg again;
    if (mcx_mikey_decode(out, len, &again) != MCX_OK)
        abort();
    check_views(out, len, &again);
    same_payloads(&m, &again);
    free(out);
    return 0;
}
