/* MIKEY payload codec (RFC 3830 §6, RFC 6043 §6, RFC 6509 §4): each payload's decoder and encoder
 * side by side, dispatched from one table (STYLE.md #5), all through the byte cursor. */
#include <string.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/mikey.h"

/* Payloads that may follow each other in a SAKKE I_MESSAGE go in rank order (RFC 6509 §4.1,
 * TS 33.180 E.1): T and RAND, IDRs, SPs, then SAKKE and General Extensions (one deployed GMS puts
 * its extension before SAKKE, FORMATS §4), SIGN last. */
enum { RANK_TR = 1, RANK_IDR, RANK_SP, RANK_BODY, RANK_SIGN };

typedef struct payload_ops {
    uint8_t type;
    const char *name;
    const char *where; /* error prefix */
    int rank;
    int once; /* may appear at most once */
    mcx_status (*decode)(mcx_reader *r, mcx_mikey_msg *m);
    void (*encode)(mcx_writer *w, const mcx_mikey_msg *m, size_t index);
} payload_ops;

/* ---- HDR (RFC 3830 §6.1, CS-ID maps of RFC 3830 §6.1.1, TS 33.180 E.1.2, RFC 6043 §6.1.1) ---- */

static mcx_status decode_generic_id(mcx_reader *r, mcx_mikey_cs *cs)
{
    uint8_t sp;
    uint16_t sd_len;
    uint8_t spi_len;
    MCX_GUARD(rd_u8(r, "GENERIC-ID CS-ID", &cs->cs_id));
    MCX_GUARD(rd_u8(r, "GENERIC-ID protocol type", &cs->prot_type));
    MCX_GUARD(rd_u8(r, "GENERIC-ID S/#P", &sp));
    cs->s_flag = sp >> 7;
    cs->n_policies = sp & 0x7f;
    if (cs->n_policies > MCX_MIKEY_MAX_POLICIES)
        return rd_fail(r, MCX_E_UNSUPPORTED, "GENERIC-ID lists %u policies, at most %d supported",
                       cs->n_policies, MCX_MIKEY_MAX_POLICIES);
    MCX_GUARD(rd_copy(r, "GENERIC-ID policy list", cs->n_policies, cs->policies));
    MCX_GUARD(rd_u16(r, "GENERIC-ID session data length", &sd_len));
    cs->session_data.len = sd_len;
    MCX_GUARD(rd_bytes(r, "GENERIC-ID session data", sd_len, &cs->session_data.p));
    MCX_GUARD(rd_u8(r, "GENERIC-ID SPI length", &spi_len));
    cs->spi.len = spi_len;
    return rd_bytes(r, "GENERIC-ID SPI", spi_len, &cs->spi.p);
}

static mcx_status decode_hdr(mcx_reader *r, mcx_mikey_msg *m, uint8_t *next)
{
    uint8_t vprf;
    MCX_GUARD(rd_u8(r, "version", &m->version));
    if (m->version != 1)
        return rd_fail(r, MCX_E_UNSUPPORTED, "version %u is not MIKEY version 1", m->version);
    MCX_GUARD(rd_u8(r, "data type", &m->data_type));
    MCX_GUARD(rd_u8(r, "next payload", next));
    MCX_GUARD(rd_u8(r, "V/PRF", &vprf));
    m->v_flag = vprf >> 7;
    m->prf = vprf & 0x7f;
    MCX_GUARD(rd_u32(r, "CSB-ID", &m->csb_id));
    MCX_GUARD(rd_u8(r, "#CS", &m->n_cs));
    MCX_GUARD(rd_u8(r, "CS-ID map type", &m->map_type));
    if (m->n_cs > MCX_MIKEY_MAX_CS)
        return rd_fail(r, MCX_E_UNSUPPORTED, "#CS is %u, at most %d supported", m->n_cs,
                       MCX_MIKEY_MAX_CS);
    switch (m->map_type) {
    case MCX_MIKEY_MAP_SRTP_ID:
        for (unsigned i = 0; i < m->n_cs; i++) {
            MCX_GUARD(rd_u8(r, "SRTP-ID policy number", &m->cs[i].policy_no));
            MCX_GUARD(rd_u32(r, "SRTP-ID SSRC", &m->cs[i].ssrc));
            MCX_GUARD(rd_u32(r, "SRTP-ID ROC", &m->cs[i].roc));
        }
        return MCX_OK;
    case MCX_MIKEY_MAP_EMPTY:
        if (m->n_cs != 0)
            return rd_fail(r, MCX_E_ENCODING, "#CS is %u but the CS-ID map type is empty (1)",
                           m->n_cs);
        return MCX_OK;
    case MCX_MIKEY_MAP_GENERIC_ID:
        for (unsigned i = 0; i < m->n_cs; i++)
            MCX_GUARD(decode_generic_id(r, &m->cs[i]));
        return MCX_OK;
    default:
        return rd_fail(r, MCX_E_UNSUPPORTED, "CS-ID map type %u is not supported", m->map_type);
    }
}

static void encode_hdr(mcx_writer *w, const mcx_mikey_msg *m, uint8_t next)
{
    wr_u8(w, m->version);
    wr_u8(w, m->data_type);
    wr_u8(w, next);
    wr_u8(w, (uint8_t)((m->v_flag ? 0x80 : 0) | (m->prf & 0x7f)));
    wr_u32(w, m->csb_id);
    wr_u8(w, m->n_cs);
    wr_u8(w, m->map_type);
    for (unsigned i = 0; i < m->n_cs && i < MCX_MIKEY_MAX_CS; i++) {
        const mcx_mikey_cs *cs = &m->cs[i];
        if (m->map_type == MCX_MIKEY_MAP_SRTP_ID) {
            wr_u8(w, cs->policy_no);
            wr_u32(w, cs->ssrc);
            wr_u32(w, cs->roc);
        } else if (m->map_type == MCX_MIKEY_MAP_GENERIC_ID) {
            wr_u8(w, cs->cs_id);
            wr_u8(w, cs->prot_type);
            wr_u8(w, (uint8_t)((cs->s_flag ? 0x80 : 0) | (cs->n_policies & 0x7f)));
            wr_bytes(w, cs->policies, cs->n_policies);
            wr_u16(w, (uint16_t)cs->session_data.len);
            wr_bytes(w, cs->session_data.p, cs->session_data.len);
            wr_u8(w, (uint8_t)cs->spi.len);
            wr_bytes(w, cs->spi.p, cs->spi.len);
        }
    }
}

/* ---- T (RFC 3830 §6.6) ---- */

static mcx_status decode_t(mcx_reader *r, mcx_mikey_msg *m)
{
    MCX_GUARD(rd_u8(r, "TS type", &m->ts_type));
    m->has_t = 1;
    switch (m->ts_type) {
    case MCX_MIKEY_TS_NTP_UTC:
    case MCX_MIKEY_TS_NTP:
        return rd_u64(r, "TS value", &m->ts);
    case MCX_MIKEY_TS_COUNTER: {
        uint32_t c;
        MCX_GUARD(rd_u32(r, "TS value", &c));
        m->ts = c;
        return MCX_OK;
    }
    default:
        return rd_fail(r, MCX_E_UNSUPPORTED, "TS type %u is not supported", m->ts_type);
    }
}

static void encode_t(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    (void)index;
    wr_u8(w, m->ts_type);
    if (m->ts_type == MCX_MIKEY_TS_COUNTER)
        wr_u32(w, (uint32_t)m->ts);
    else
        wr_u64(w, m->ts);
}

/* ---- RAND (RFC 3830 §6.11) ---- */

static mcx_status decode_rand(mcx_reader *r, mcx_mikey_msg *m)
{
    uint8_t n;
    MCX_GUARD(rd_u8(r, "RAND length", &n));
    if (n == 0)
        return rd_fail(r, MCX_E_ENCODING, "RAND is empty");
    m->has_rand = 1;
    m->rand.len = n;
    return rd_bytes(r, "RAND", n, &m->rand.p);
}

static void encode_rand(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    (void)index;
    wr_u8(w, (uint8_t)m->rand.len);
    wr_bytes(w, m->rand.p, m->rand.len);
}

/* ---- IDR (RFC 6043 §6.6) ---- */

static mcx_status decode_idr(mcx_reader *r, mcx_mikey_msg *m)
{
    mcx_mikey_idr *id = &m->idr[m->n_idr];
    uint16_t n;
    MCX_GUARD(rd_u8(r, "ID role", &id->role));
    MCX_GUARD(rd_u8(r, "ID type", &id->id_type));
    MCX_GUARD(rd_u16(r, "ID length", &n));
    if (n == 0)
        return rd_fail(r, MCX_E_ENCODING, "ID data of role %u is empty", id->role);
    id->data.len = n;
    MCX_GUARD(rd_bytes(r, "ID data", n, &id->data.p));
    m->n_idr++;
    return MCX_OK;
}

static void encode_idr(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    const mcx_mikey_idr *id = &m->idr[index];
    wr_u8(w, id->role);
    wr_u8(w, id->id_type);
    wr_u16(w, (uint16_t)id->data.len);
    wr_bytes(w, id->data.p, id->data.len);
}

/* ---- SP (RFC 3830 §6.10) ---- */

static mcx_status decode_sp(mcx_reader *r, mcx_mikey_msg *m)
{
    mcx_mikey_sp *sp = &m->sp[m->n_sp];
    uint16_t n;
    mcx_reader params;
    MCX_GUARD(rd_u8(r, "policy number", &sp->policy_no));
    MCX_GUARD(rd_u8(r, "protocol type", &sp->prot_type));
    MCX_GUARD(rd_u16(r, "policy parameters length", &n));
    MCX_GUARD(rd_sub(r, "policy parameters", n, "MIKEY: SP policy parameters", &params));
    sp->params.p = params.buf;
    sp->params.len = n;
    while (rd_left(&params) > 0) { /* { type(1) length(1) value } until the block ends exactly */
        uint8_t type, len;
        const uint8_t *value;
        MCX_GUARD(rd_u8(&params, "parameter type", &type));
        MCX_GUARD(rd_u8(&params, "parameter length", &len));
        MCX_GUARD(rd_bytes(&params, "parameter value", len, &value));
    }
    m->n_sp++;
    return MCX_OK;
}

static void encode_sp(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    const mcx_mikey_sp *sp = &m->sp[index];
    wr_u8(w, sp->policy_no);
    wr_u8(w, sp->prot_type);
    wr_u16(w, (uint16_t)sp->params.len);
    wr_bytes(w, sp->params.p, sp->params.len);
}

/* ---- SAKKE (RFC 6509 §4.2) ---- */

static mcx_status decode_sakke(mcx_reader *r, mcx_mikey_msg *m)
{
    uint16_t n;
    MCX_GUARD(rd_u8(r, "SAKKE params", &m->sakke_params));
    MCX_GUARD(rd_u8(r, "ID scheme", &m->id_scheme));
    MCX_GUARD(rd_u16(r, "SAKKE data length", &n));
    m->sed.len = n;
    MCX_GUARD(rd_bytes(r, "SAKKE data", n, &m->sed.p));
    m->has_sakke = 1;
    return MCX_OK;
}

static void encode_sakke(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    (void)index;
    wr_u8(w, m->sakke_params);
    wr_u8(w, m->id_scheme);
    wr_u16(w, (uint16_t)m->sed.len);
    wr_bytes(w, m->sed.p, m->sed.len);
}

/* ---- General Extension (RFC 3830 §6.15) ---- */

static mcx_status decode_gext(mcx_reader *r, mcx_mikey_msg *m)
{
    mcx_mikey_gext *g = &m->gext[m->n_gext];
    uint16_t n;
    MCX_GUARD(rd_u8(r, "extension type", &g->type));
    MCX_GUARD(rd_u16(r, "extension length", &n));
    g->data.len = n;
    MCX_GUARD(rd_bytes(r, "extension data", n, &g->data.p));
    m->n_gext++;
    return MCX_OK;
}

static void encode_gext(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    const mcx_mikey_gext *g = &m->gext[index];
    wr_u8(w, g->type);
    wr_u16(w, (uint16_t)g->data.len);
    wr_bytes(w, g->data.p, g->data.len);
}

/* ---- SIGN (RFC 3830 §6.5): S type (4 bits) | length (12 bits) | signature; no next field ---- */

static mcx_status decode_sign(mcx_reader *r, mcx_mikey_msg *m)
{
    uint16_t tl;
    m->sign_offset = rd_offset(r);
    MCX_GUARD(rd_u16(r, "S type/signature length", &tl));
    m->signed_len = rd_offset(r);
    m->sign_type = (uint8_t)(tl >> 12);
    m->sig.len = tl & 0x0fff;
    MCX_GUARD(rd_bytes(r, "signature", m->sig.len, &m->sig.p));
    m->has_sign = 1;
    return rd_end(r);
}

static void encode_sign(mcx_writer *w, const mcx_mikey_msg *m, size_t index)
{
    (void)index;
    wr_u16(w, (uint16_t)((m->sign_type << 12) | (m->sig.len & 0x0fff)));
    if (m->sig.p) {
        wr_bytes(w, m->sig.p, m->sig.len);
    } else {
        for (size_t i = 0; i < m->sig.len; i++)
            wr_u8(w, 0);
    }
}

static const payload_ops PAYLOADS[] = {
    {MCX_MIKEY_PT_T, "T", "MIKEY: T payload", RANK_TR, 1, decode_t, encode_t},
    {MCX_MIKEY_PT_RAND, "RAND", "MIKEY: RAND payload", RANK_TR, 1, decode_rand, encode_rand},
    {MCX_MIKEY_PT_IDR, "IDR", "MIKEY: IDR payload", RANK_IDR, 0, decode_idr, encode_idr},
    {MCX_MIKEY_PT_SP, "SP", "MIKEY: SP payload", RANK_SP, 0, decode_sp, encode_sp},
    {MCX_MIKEY_PT_SAKKE, "SAKKE", "MIKEY: SAKKE payload", RANK_BODY, 1, decode_sakke, encode_sakke},
    {MCX_MIKEY_PT_GEXT, "General Extension", "MIKEY: General Extension payload", RANK_BODY, 0,
     decode_gext, encode_gext},
    {MCX_MIKEY_PT_SIGN, "SIGN", "MIKEY: SIGN payload", RANK_SIGN, 1, decode_sign, encode_sign},
};

static const payload_ops *find_ops(uint8_t type)
{
    for (size_t i = 0; i < sizeof PAYLOADS / sizeof PAYLOADS[0]; i++)
        if (PAYLOADS[i].type == type)
            return &PAYLOADS[i];
    return NULL;
}

const char *mcx_mikey_payload_name(unsigned type)
{
    static const char *const OTHER[] = {
        [MCX_MIKEY_PT_KEMAC] = "KEMAC", [MCX_MIKEY_PT_PKE] = "PKE",
        [MCX_MIKEY_PT_DH] = "DH",       [MCX_MIKEY_PT_ID] = "ID",
        [MCX_MIKEY_PT_CERT] = "CERT",   [MCX_MIKEY_PT_CHASH] = "CHASH",
        [MCX_MIKEY_PT_V] = "V",         [MCX_MIKEY_PT_ERR] = "ERR",
    };
    if (type == MCX_MIKEY_PT_HDR)
        return "HDR";
    const payload_ops *ops = type < 256 ? find_ops((uint8_t)type) : NULL;
    if (ops)
        return ops->name;
    if (type < sizeof OTHER / sizeof OTHER[0] && OTHER[type])
        return OTHER[type];
    return "unknown";
}

/* Room left in m for one more payload of this type. */
static int has_room(const mcx_mikey_msg *m, uint8_t type, size_t *limit)
{
    switch (type) {
    case MCX_MIKEY_PT_IDR:
        *limit = MCX_MIKEY_MAX_IDR;
        return m->n_idr < MCX_MIKEY_MAX_IDR;
    case MCX_MIKEY_PT_SP:
        *limit = MCX_MIKEY_MAX_SP;
        return m->n_sp < MCX_MIKEY_MAX_SP;
    case MCX_MIKEY_PT_GEXT:
        *limit = MCX_MIKEY_MAX_GEXT;
        return m->n_gext < MCX_MIKEY_MAX_GEXT;
    default:
        *limit = 1;
        return 1;
    }
}

mcx_status mcx_mikey_decode(const uint8_t *msg, size_t len, mcx_mikey_msg *m)
{
    if (!msg || !m)
        return MCX_FAIL(MCX_E_ARG, "MIKEY: NULL argument");
    memset(m, 0, sizeof *m);
    mcx_reader r;
    rd_init(&r, msg, len, "MIKEY: HDR");
    uint8_t next;
    MCX_GUARD(decode_hdr(&r, m, &next));
    m->order[m->n_payloads++] = MCX_MIKEY_PT_HDR;

    int rank = 0;
    uint8_t seen[256] = {0};
    while (next != MCX_MIKEY_PT_LAST) {
        size_t at = rd_offset(&r);
        const payload_ops *ops = find_ops(next);
        if (!ops) {
            const char *name = mcx_mikey_payload_name(next);
            if (strcmp(name, "unknown") != 0)
                return MCX_FAIL(MCX_E_UNSUPPORTED,
                                "MIKEY: %s payload (type %u) at byte %zu is not used by "
                                "MIKEY-SAKKE",
                                name, next, at);
            return MCX_FAIL(MCX_E_ENCODING, "MIKEY: unknown payload type %u at byte %zu", next, at);
        }
        if (ops->rank < rank)
            return MCX_FAIL(MCX_E_ENCODING, "MIKEY: %s payload at byte %zu is out of order",
                            ops->name, at);
        if (ops->once && seen[next])
            return MCX_FAIL(MCX_E_ENCODING, "MIKEY: second %s payload at byte %zu", ops->name, at);
        size_t limit;
        if (!has_room(m, next, &limit))
            return MCX_FAIL(MCX_E_UNSUPPORTED, "MIKEY: more than %zu %s payloads (byte %zu)", limit,
                            ops->name, at);
        if (m->n_payloads == MCX_MIKEY_MAX_PAYLOADS)
            return MCX_FAIL(MCX_E_UNSUPPORTED, "MIKEY: more than %d payloads",
                            MCX_MIKEY_MAX_PAYLOADS);
        rank = ops->rank;
        seen[next] = 1;
        m->order[m->n_payloads++] = next;
        r.where = ops->where;
        if (next == MCX_MIKEY_PT_SIGN)
            return decode_sign(&r, m); /* always last: no next-payload field */
        MCX_GUARD(rd_u8(&r, "next payload", &next));
        MCX_GUARD(ops->decode(&r, m));
    }
    r.where = "MIKEY: message";
    return rd_end(&r);
}

static mcx_status check_counts(const mcx_mikey_msg *m)
{
    size_t n_idr = 0, n_sp = 0, n_gext = 0;
    int t = 0, rnd = 0, sakke = 0, sign = 0;
    if (m->order[0] != MCX_MIKEY_PT_HDR)
        return MCX_FAIL(MCX_E_ARG, "MIKEY encode: payload order does not start with HDR");
    for (size_t i = 1; i < m->n_payloads; i++) {
        switch (m->order[i]) {
        case MCX_MIKEY_PT_T:
            t++;
            break;
        case MCX_MIKEY_PT_RAND:
            rnd++;
            break;
        case MCX_MIKEY_PT_IDR:
            n_idr++;
            break;
        case MCX_MIKEY_PT_SP:
            n_sp++;
            break;
        case MCX_MIKEY_PT_SAKKE:
            sakke++;
            break;
        case MCX_MIKEY_PT_GEXT:
            n_gext++;
            break;
        case MCX_MIKEY_PT_SIGN:
            if (i + 1 != m->n_payloads)
                return MCX_FAIL(MCX_E_ARG, "MIKEY encode: SIGN is not the last payload");
            sign++;
            break;
        default:
            return MCX_FAIL(MCX_E_ARG, "MIKEY encode: payload type %u cannot be encoded",
                            m->order[i]);
        }
    }
    if (t != !!m->has_t || rnd != !!m->has_rand || sakke != !!m->has_sakke ||
        sign != !!m->has_sign || n_idr != m->n_idr || n_sp != m->n_sp || n_gext != m->n_gext)
        return MCX_FAIL(MCX_E_ARG, "MIKEY encode: payload order disagrees with the payloads");
    return MCX_OK;
}

mcx_status mcx_mikey_encode(mcx_mikey_msg *m, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!m || !out || !out_len)
        return MCX_FAIL(MCX_E_ARG, "MIKEY encode: NULL argument");
    if (m->n_idr > MCX_MIKEY_MAX_IDR || m->n_sp > MCX_MIKEY_MAX_SP ||
        m->n_gext > MCX_MIKEY_MAX_GEXT || m->n_cs > MCX_MIKEY_MAX_CS)
        return MCX_FAIL(MCX_E_ARG, "MIKEY encode: more payloads than the MCX_MIKEY_MAX bounds");

    uint8_t order[MCX_MIKEY_MAX_PAYLOADS];
    size_t n = 0;
    if (m->n_payloads) {
        if (m->n_payloads > MCX_MIKEY_MAX_PAYLOADS)
            return MCX_FAIL(MCX_E_ARG, "MIKEY encode: more than %d payloads",
                            MCX_MIKEY_MAX_PAYLOADS);
        MCX_GUARD(check_counts(m));
        memcpy(order, m->order, m->n_payloads);
        n = m->n_payloads;
    } else { /* TS 33.180 E.1 order */
        order[n++] = MCX_MIKEY_PT_HDR;
        if (m->has_t)
            order[n++] = MCX_MIKEY_PT_T;
        if (m->has_rand)
            order[n++] = MCX_MIKEY_PT_RAND;
        for (size_t i = 0; i < m->n_idr; i++)
            order[n++] = MCX_MIKEY_PT_IDR;
        for (size_t i = 0; i < m->n_sp; i++)
            order[n++] = MCX_MIKEY_PT_SP;
        if (m->has_sakke)
            order[n++] = MCX_MIKEY_PT_SAKKE;
        for (size_t i = 0; i < m->n_gext; i++)
            order[n++] = MCX_MIKEY_PT_GEXT;
        if (m->has_sign)
            order[n++] = MCX_MIKEY_PT_SIGN;
    }
    /* Field widths: a value too long for its length octets is the caller's error. */
    if (m->has_rand && (m->rand.len == 0 || m->rand.len > 255))
        return MCX_FAIL(MCX_E_LENGTH, "MIKEY encode: RAND of %zu octets", m->rand.len);
    for (size_t i = 0; i < m->n_idr; i++)
        if (m->idr[i].data.len == 0 || m->idr[i].data.len > 65535)
            return MCX_FAIL(MCX_E_LENGTH, "MIKEY encode: ID data of %zu octets",
                            m->idr[i].data.len);
    for (size_t i = 0; i < m->n_gext; i++)
        if (m->gext[i].data.len > 65535)
            return MCX_FAIL(MCX_E_LENGTH, "MIKEY encode: extension of %zu octets",
                            m->gext[i].data.len);
    if (m->sed.len > 65535 || m->sig.len > 4095)
        return MCX_FAIL(MCX_E_LENGTH, "MIKEY encode: SAKKE data or signature too long");

    mcx_writer w;
    wr_init(&w, out, cap);
    size_t counts[256] = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t next = i + 1 < n ? order[i + 1] : MCX_MIKEY_PT_LAST;
        if (order[i] == MCX_MIKEY_PT_HDR) {
            encode_hdr(&w, m, next);
            continue;
        }
        const payload_ops *ops = find_ops(order[i]);
        if (order[i] == MCX_MIKEY_PT_SIGN) {
            m->sign_offset = wr_len(&w);
            m->signed_len = m->sign_offset + 2;
        } else {
            wr_u8(&w, next);
        }
        ops->encode(&w, m, counts[order[i]]++);
    }
    MCX_GUARD(wr_status(&w, "MIKEY encode"));
    *out_len = wr_len(&w);
    return MCX_OK;
}

uint64_t mcx_mikey_t_seconds(const mcx_mikey_msg *m)
{
    if (!m->has_t || m->ts_type == MCX_MIKEY_TS_COUNTER)
        return 0;
    uint64_t hi = m->ts >> 32;
    return hi ? hi : (m->ts & 0xffffffffu);
}
