/* KMS XML writer (TS 33.180 Annex D.2/D.3): KmsRequest and KmsResponse documents.
 *
 * The documents have a fixed shape, so they are written directly rather than through a libxml2
 * tree: the output then goes into one buffer from mcx_secure_alloc and the secret keys never
 * pass through libxml2's own (unwiped) buffers. Two passes: the first measures, the second
 * writes. Text is escaped (&, <, >, ", '); control characters other than TAB/LF/CR cannot be
 * written in XML 1.0 and are refused. Every document is valid against
 * schemas/mcsecKMSInterface.xsd (the unit test validates each one). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error_internal.h"
#include "kmsxml/kms_xml_internal.h"
#include "mcxsec/mem.h"

#define XSI_NS  "http://www.w3.org/2001/XMLSchema-instance"
#define XENC_NS "http://www.w3.org/2001/04/xmlenc#"

typedef struct out {
    char *p;    /* NULL while measuring */
    size_t len; /* written (or measured) so far */
    size_t cap; /* size of p */
    int depth;  /* indentation level */
    mcx_status st;
    const char *bad;    /* name of the element that could not be written */
    const uint8_t *trk; /* transport key: secret keys are written wrapped (secure.c) */
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->p != NULL && o->len + n <= o->cap)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void indent(out *o)
{
    put(o, "\n", 1);
    for (int i = 0; i < o->depth; i++)
        put(o, "  ", 2);
}

static void escaped(out *o, const char *name, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            puts_(o, "&amp;");
            break;
        case '<':
            puts_(o, "&lt;");
            break;
        case '>':
            puts_(o, "&gt;");
            break;
        case '"':
            puts_(o, "&quot;");
            break;
        case '\'':
            puts_(o, "&apos;");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                if (o->st == MCX_OK) {
                    o->st = MCX_E_ARG;
                    o->bad = name;
                }
                return;
            }
            put(o, s, 1);
        }
    }
}

static void open_tag(out *o, const char *name, const char *attrs)
{
    indent(o);
    puts_(o, "<");
    puts_(o, name);
    if (attrs)
        puts_(o, attrs);
    puts_(o, ">");
    o->depth++;
}

static void close_tag(out *o, const char *name)
{
    o->depth--;
    indent(o);
    puts_(o, "</");
    puts_(o, name);
    puts_(o, ">");
}

static void leaf(out *o, const char *name, const char *attrs, const char *text)
{
    indent(o);
    puts_(o, "<");
    puts_(o, name);
    if (attrs)
        puts_(o, attrs);
    puts_(o, ">");
    escaped(o, name, text);
    puts_(o, "</");
    puts_(o, name);
    puts_(o, ">");
}

static void leaf_opt(out *o, const char *name, const char *text)
{
    if (text[0] != '\0')
        leaf(o, name, NULL, text);
}

static void leaf_u64(out *o, const char *name, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    leaf(o, name, NULL, b);
}

static void leaf_i64(out *o, const char *name, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    leaf(o, name, NULL, b);
}

static void leaf_time(out *o, const char *name, time_t t)
{
    char b[32];
    if (mcx_kms_time_format(t, b, sizeof b) != 0) {
        if (o->st == MCX_OK) {
            o->st = MCX_E_ARG;
            o->bad = name;
        }
        return;
    }
    leaf(o, name, NULL, b);
}

static void leaf_bool(out *o, const char *name, mcx_kms_bool b)
{
    if (b != MCX_KMS_ABSENT)
        leaf(o, name, NULL, b == MCX_KMS_TRUE ? "true" : "false");
}

/* hexBinary (canonical upper case, XML Schema Part 2 §3.2.15) without a temporary buffer:
 * secret keys go straight into the secure output. */
static void hex_out(out *o, const uint8_t *p, size_t n, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char d[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        put(o, d, 2);
        mcx_memzero(d, sizeof d);
    }
}

static void leaf_hex(out *o, const char *name, const char *attrs, const uint8_t *p, size_t n,
                     int upper)
{
    indent(o);
    puts_(o, "<");
    puts_(o, name);
    if (attrs)
        puts_(o, attrs);
    puts_(o, ">");
    hex_out(o, p, n, upper);
    puts_(o, "</");
    puts_(o, name);
    puts_(o, ">");
}

static void need(out *o, const char *name, const char *v)
{
    if (v[0] == '\0' && o->st == MCX_OK) {
        o->st = MCX_E_ARG;
        o->bad = name;
    }
}

static void attr(char *buf, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(buf);
    if (value[0] != '\0' && n < cap)
        snprintf(buf + n, cap - n, " %s=\"%s\"", name, value);
}

/* Attribute values come from fixed vocabularies or short version strings: refuse anything that
 * would need escaping. */
static int attr_ok(const char *v)
{
    for (; *v; v++)
        if (!((*v >= '0' && *v <= '9') || (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
              *v == '.' || *v == '-' || *v == '_'))
            return 0;
    return 1;
}

static void cert_out(out *o, const char *wrapper, const mcx_kms_certificate *c)
{
    char a[160] = "";
    const char *version = c->version[0] ? c->version : "1.1.0";
    if (!attr_ok(version) && o->st == MCX_OK) {
        o->st = MCX_E_ARG;
        o->bad = "KmsCertificate@Version";
    }
    attr(a, sizeof a, "Version", version);
    attr(a, sizeof a, "Role",
         c->role == MCX_KMS_ROLE_ROOT       ? "Root"
         : c->role == MCX_KMS_ROLE_EXTERNAL ? "External"
                                            : "");
    attr(a, sizeof a, "IsSecurityGateway",
         c->is_security_gateway == MCX_KMS_TRUE    ? "true"
         : c->is_security_gateway == MCX_KMS_FALSE ? "false"
                                                   : "");
    if (wrapper)
        open_tag(o, wrapper, NULL);
    open_tag(o, "KmsCertificate", a);
    leaf_opt(o, "CertUri", c->cert_uri);
    need(o, "KmsCertificate/KmsUri", c->kms_uri);
    leaf(o, "KmsUri", NULL, c->kms_uri);
    leaf_opt(o, "Issuer", c->issuer);
    if (c->has_valid_from)
        leaf_time(o, "ValidFrom", c->valid_from);
    if (c->has_valid_to)
        leaf_time(o, "ValidTo", c->valid_to);
    leaf_bool(o, "Revoked", c->revoked);
    need(o, "KmsCertificate/UserIdFormat", c->user_id_format);
    leaf(o, "UserIdFormat", NULL, c->user_id_format);
    if (c->user_key_period == 0 && o->st == MCX_OK) {
        o->st = MCX_E_ARG;
        o->bad = "KmsCertificate/UserKeyPeriod";
    }
    leaf_u64(o, "UserKeyPeriod", c->user_key_period);
    leaf_u64(o, "UserKeyOffset", c->user_key_offset);
    leaf_hex(o, "PubEncKey", NULL, c->z, sizeof c->z, 1);
    leaf_hex(o, "PubAuthKey", NULL, c->kpak, sizeof c->kpak, 1);
    if (c->has_parameter_set)
        leaf_u64(o, "ParameterSet", c->parameter_set);
    if (c->n_domains > MCX_KMS_MAX_DOMAINS && o->st == MCX_OK) {
        o->st = MCX_E_ARG;
        o->bad = "KmsDomainList";
    }
    if (c->n_domains > 0 && c->n_domains <= MCX_KMS_MAX_DOMAINS) {
        open_tag(o, "KmsDomainList", NULL);
        for (size_t i = 0; i < c->n_domains; i++) {
            need(o, "KmsDomainList/KmsDomain", c->domains[i]);
            leaf(o, "KmsDomain", NULL, c->domains[i]);
        }
        close_tag(o, "KmsDomainList");
    }
    close_tag(o, "KmsCertificate");
    if (wrapper)
        close_tag(o, wrapper);
}

/* Keys carry xsi:type="KeyContentType": the published schema declares the key elements with
 * an abstract type (see the notes in schemas/mcsecKMSInterface.xsd). */
#define KEY_ATTR " xsi:type=\"KeyContentType\""

/* A secret key wrapped under the transport key (TS 33.180 D.1, D.3 EncKeyContentType): an
 * xenc:EncryptedKey (W3C XML Encryption §3.5.1) with the AES key wrap method and the wrapped
 * octets in CipherValue. The wrap is deterministic, so both writer passes agree. */
static void leaf_wrapped(out *o, const char *name, const uint8_t *key, size_t n)
{
    char b64[(MCX_KMS_WRAP_MAX_BYTES + 2) / 3 * 4 + 1];
    const char *alg = NULL;
    if (mcx_kms_wrap_b64(o->trk, key, n, b64, sizeof b64, &alg) != MCX_OK) {
        if (o->st == MCX_OK) {
            o->st = MCX_E_INTERNAL;
            o->bad = name;
        }
        return;
    }
    indent(o);
    puts_(o, "<");
    puts_(o, name);
    puts_(o, " xsi:type=\"EncKeyContentType\">");
    o->depth++;
    indent(o);
    puts_(o, "<xenc:EncryptedKey xmlns:xenc=\"" XENC_NS "\">");
    o->depth++;
    indent(o);
    puts_(o, "<xenc:EncryptionMethod Algorithm=\"");
    puts_(o, alg);
    puts_(o, "\"/>");
    indent(o);
    puts_(o, "<xenc:CipherData><xenc:CipherValue>");
    puts_(o, b64);
    puts_(o, "</xenc:CipherValue></xenc:CipherData>");
    o->depth--;
    indent(o);
    puts_(o, "</xenc:EncryptedKey>");
    o->depth--;
    indent(o);
    puts_(o, "</");
    puts_(o, name);
    puts_(o, ">");
}

static void keyset_out(out *o, const mcx_kms_key_set *k)
{
    /* Version is fixed to 1.1.0 by the schema. */
    open_tag(o, "KmsKeySet", " Version=\"1.1.0\"");
    need(o, "KmsKeySet/KmsUri", k->kms_uri);
    leaf(o, "KmsUri", NULL, k->kms_uri);
    leaf_opt(o, "CertUri", k->cert_uri);
    leaf_opt(o, "Issuer", k->issuer);
    need(o, "KmsKeySet/UserUri", k->user_uri);
    leaf(o, "UserUri", NULL, k->user_uri);
    if ((k->user_id_len == 0 || k->user_id_len > MCX_KMS_UID_MAX_BYTES) && o->st == MCX_OK) {
        o->st = MCX_E_ARG;
        o->bad = "KmsKeySet/UserID";
    }
    /* UserID in lower case as the deployed KMS writes it (kms_xml/test_key_prov_response.xml). */
    leaf_hex(o, "UserID", NULL, k->user_id,
             k->user_id_len <= MCX_KMS_UID_MAX_BYTES ? k->user_id_len : 0, 0);
    if (k->has_valid_from)
        leaf_time(o, "ValidFrom", k->valid_from);
    if (k->has_valid_to)
        leaf_time(o, "ValidTo", k->valid_to);
    leaf_u64(o, "KeyPeriodNo", k->key_period_no);
    leaf_bool(o, "Revoked", k->revoked);
    if (o->trk) {
        leaf_wrapped(o, "UserDecryptKey", k->rsk, sizeof k->rsk);
        leaf_wrapped(o, "UserSigningKeySSK", k->ssk, sizeof k->ssk);
    } else {
        leaf_hex(o, "UserDecryptKey", KEY_ATTR, k->rsk, sizeof k->rsk, 1);
        leaf_hex(o, "UserSigningKeySSK", KEY_ATTR, k->ssk, sizeof k->ssk, 1);
    }
    leaf_hex(o, "UserPubTokenPVT", KEY_ATTR, k->pvt, sizeof k->pvt, 1);
    close_tag(o, "KmsKeySet");
}

static void error_out(out *o, const char *name, int64_t code, const char *msg)
{
    open_tag(o, name, NULL);
    leaf_i64(o, "ErrorCode", code);
    leaf(o, "ErrorMsg", NULL, msg);
    close_tag(o, name);
}

static void response_out(out *o, const mcx_kms_response *r)
{
    puts_(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    o->depth = -1;
    open_tag(o, "KmsResponse",
             " xmlns=\"" MCX_KMS_XML_NS "\" xmlns:xsi=\"" XSI_NS "\" Version=\"1.0.0\"");
    need(o, "KmsResponse/UserUri", r->user_uri);
    leaf(o, "UserUri", NULL, r->user_uri);
    need(o, "KmsResponse/KmsUri", r->kms_uri);
    leaf(o, "KmsUri", NULL, r->kms_uri);
    leaf_time(o, "Time", r->time);
    leaf_opt(o, "KmsId", r->kms_id);
    need(o, "KmsResponse/ClientReqUrl", r->client_req_url);
    leaf(o, "ClientReqUrl", NULL, r->client_req_url);
    switch (r->type) {
    case MCX_KMS_MSG_INIT:
        if ((r->n_certs != 1 || r->certs == NULL) && o->st == MCX_OK) {
            o->st = MCX_E_ARG;
            o->bad = "KmsInit (needs exactly one certificate)";
            break;
        }
        open_tag(o, "KmsMessage", NULL);
        /* xsi:type as the deployed KMS writes it; no NewTransportKey/NewIntegrityKey yet. */
        open_tag(o, "KmsInit", " Version=\"1.0.0\" xsi:type=\"KmsInitTkIkType\"");
        cert_out(o, r->certs[0].signed_form ? "SignedKmsCertificate" : NULL, &r->certs[0]);
        close_tag(o, "KmsInit");
        close_tag(o, "KmsMessage");
        break;
    case MCX_KMS_MSG_KEYPROV:
        if ((r->n_key_sets > MCX_KMS_MAX_KEY_SETS || (r->n_key_sets && r->key_sets == NULL)) &&
            o->st == MCX_OK) {
            o->st = MCX_E_ARG;
            o->bad = "KmsKeyProv (key sets)";
            break;
        }
        open_tag(o, "KmsMessage", NULL);
        open_tag(o, "KmsKeyProv", " Version=\"1.0.0\" xsi:type=\"KmsKeyProvTkIkType\"");
        for (size_t i = 0; i < r->n_key_sets; i++)
            keyset_out(o, &r->key_sets[i]);
        close_tag(o, "KmsKeyProv");
        close_tag(o, "KmsMessage");
        break;
    case MCX_KMS_MSG_CERTCACHE: {
        if ((r->n_certs > MCX_KMS_MAX_CERTS || (r->n_certs && r->certs == NULL)) &&
            o->st == MCX_OK) {
            o->st = MCX_E_ARG;
            o->bad = "KmsCertCache (certificates)";
            break;
        }
        char a[64] = " Version=\"1.0.0\"";
        if (r->has_cache_num)
            snprintf(a + strlen(a), sizeof a - strlen(a), " CacheNum=\"%llu\"",
                     (unsigned long long)r->cache_num);
        open_tag(o, "KmsMessage", NULL);
        open_tag(o, "KmsCertCache", a);
        /* The schema's sequence puts every SignedKmsCertificate before every KmsCertificate. */
        for (int pass = 1; pass >= 0; pass--)
            for (size_t i = 0; i < r->n_certs; i++)
                if ((r->certs[i].signed_form != 0) == pass)
                    cert_out(o, pass ? "SignedKmsCertificate" : NULL, &r->certs[i]);
        close_tag(o, "KmsCertCache");
        close_tag(o, "KmsMessage");
        break;
    }
    case MCX_KMS_MSG_ERROR:
        error_out(o, "KmsError", r->error_code, r->error_msg);
        break;
    case MCX_KMS_MSG_NONE:
        break;
    default:
        if (o->st == MCX_OK) {
            o->st = MCX_E_ARG;
            o->bad = "KmsResponse (message type)";
        }
    }
    close_tag(o, "KmsResponse");
    put(o, "\n", 1);
}

static void request_out(out *o, const mcx_kms_request *q)
{
    puts_(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    o->depth = -1;
    open_tag(o, "KmsRequest", " xmlns=\"" MCX_KMS_XML_NS "\" Version=\"1.1.0\"");
    need(o, "KmsRequest/UserUri", q->user_uri);
    leaf(o, "UserUri", NULL, q->user_uri);
    need(o, "KmsRequest/KmsUri", q->kms_uri);
    leaf(o, "KmsUri", NULL, q->kms_uri);
    leaf_time(o, "Time", q->time);
    leaf_opt(o, "ClientId", q->client_id);
    leaf_opt(o, "DeviceId", q->device_id);
    need(o, "KmsRequest/ClientReqUrl", q->client_req_url);
    leaf(o, "ClientReqUrl", NULL, q->client_req_url);
    if (q->has_client_error)
        error_out(o, "ClientError", q->client_error_code, q->client_error_msg);
    close_tag(o, "KmsRequest");
    put(o, "\n", 1);
}

typedef void (*writer)(out *o, const void *msg);

static void w_response(out *o, const void *m)
{
    response_out(o, m);
}

static void w_request(out *o, const void *m)
{
    request_out(o, m);
}

static mcx_status write_doc(writer w, const void *msg, const uint8_t *trk, char **res,
                            size_t *res_len)
{
    *res = NULL;
    if (res_len)
        *res_len = 0;
    out o = {0};
    o.trk = trk;
    w(&o, msg);
    if (o.st != MCX_OK)
        return MCX_FAIL(o.st, "KMS XML: cannot write %s (missing, out of range or not writable)",
                        o.bad ? o.bad : "document");
    size_t need_len = o.len;
    o = (out){0};
    o.p = mcx_secure_alloc(need_len + 1);
    if (o.p == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    o.cap = need_len;
    o.trk = trk;
    w(&o, msg);
    if (o.st != MCX_OK || o.len != need_len) {
        mcx_secure_free(o.p);
        return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: writer passes disagree");
    }
    o.p[need_len] = '\0';
    *res = o.p;
    if (res_len)
        *res_len = need_len;
    return MCX_OK;
}

mcx_status mcx_kms_response_write(const mcx_kms_response *r, char **out_xml, size_t *out_len)
{
    if (r == NULL || out_xml == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML: NULL argument");
    return write_doc(w_response, r, NULL, out_xml, out_len);
}

mcx_status mcx_kms_request_write(const mcx_kms_request *q, char **out_xml, size_t *out_len)
{
    if (q == NULL || out_xml == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML: NULL argument");
    return write_doc(w_request, q, NULL, out_xml, out_len);
}

mcx_status mcx_kms_response_write_wrapped(const mcx_kms_response *r,
                                          const uint8_t trk[MCX_KMS_TRK_BYTES], char **out_xml,
                                          size_t *out_len)
{
    if (r == NULL || trk == NULL || out_xml == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML: NULL argument");
    return write_doc(w_response, r, trk, out_xml, out_len);
}

void mcx_kms_xml_free(char *xml)
{
    mcx_secure_free(xml);
}
