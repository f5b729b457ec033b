/* Fuzz target: arbitrary bytes as a TS 33.180 Annex D KMS document through
 * mcx_kms_response_parse (the client's parser) and mcx_kms_request_parse (the KMS's parser).
 *
 * Oracles, for every input a parser accepts:
 *   - the counts and strings it returns lie inside the API's bounds and are NUL-terminated;
 *   - mcx_*_write of the parsed value succeeds, the output is valid against the compiled-in
 *     schema, and parsing it again gives the same values (write(parse(x)) is a fixed point);
 * A refused input must leave a reason in mcx_last_error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/kms_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void str_ok(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static void cert_ok(const mcx_kms_certificate *c)
{
    str_ok(c->kms_uri, sizeof c->kms_uri);
    str_ok(c->cert_uri, sizeof c->cert_uri);
    str_ok(c->issuer, sizeof c->issuer);
    str_ok(c->version, sizeof c->version);
    if (c->n_domains > MCX_KMS_MAX_DOMAINS || c->kms_uri[0] == '\0' || c->user_key_period == 0 ||
        c->z[0] != 0x04 || c->kpak[0] != 0x04)
        abort();
}

static void same_response(const mcx_kms_response *a, const mcx_kms_response *b)
{
    if (strcmp(a->user_uri, b->user_uri) || strcmp(a->kms_uri, b->kms_uri) || a->time != b->time ||
        strcmp(a->client_req_url, b->client_req_url) || strcmp(a->kms_id, b->kms_id) ||
        a->type != b->type || a->n_certs != b->n_certs || a->n_key_sets != b->n_key_sets ||
        a->error_code != b->error_code || strcmp(a->error_msg, b->error_msg))
        abort();
    for (size_t i = 0; i < a->n_key_sets; i++)
        if (memcmp(a->key_sets[i].rsk, b->key_sets[i].rsk, MCX_KMS_RSK_BYTES) ||
            memcmp(a->key_sets[i].ssk, b->key_sets[i].ssk, MCX_KMS_SSK_BYTES) ||
            memcmp(a->key_sets[i].pvt, b->key_sets[i].pvt, MCX_KMS_PVT_BYTES) ||
            a->key_sets[i].user_id_len != b->key_sets[i].user_id_len ||
            a->key_sets[i].key_period_no != b->key_sets[i].key_period_no)
            abort();
    for (size_t i = 0; i < a->n_certs; i++)
        if (memcmp(a->certs[i].z, b->certs[i].z, MCX_KMS_Z_BYTES) ||
            a->certs[i].user_key_period != b->certs[i].user_key_period ||
            strcmp(a->certs[i].kms_uri, b->certs[i].kms_uri))
            abort();
}

static void response(const uint8_t *data, size_t size)
{
    mcx_kms_response r;
    if (mcx_kms_response_parse(data, size, 0, &r) != MCX_OK) {
        if (mcx_last_error()[0] == '\0')
            abort();
        return;
    }
    int schema_valid = mcx_kms_xml_validate(data, size) == MCX_OK;
    if (r.n_certs > MCX_KMS_MAX_CERTS || r.n_key_sets > MCX_KMS_MAX_KEY_SETS)
        abort();
    str_ok(r.error_msg, sizeof r.error_msg);
    for (size_t i = 0; i < r.n_certs; i++)
        cert_ok(&r.certs[i]);
    char *xml = NULL;
    size_t n = 0;
    /* A parsed time may lie outside the years the writer can print (e.g. year 0001 with a
     * positive zone): then the writer refuses and there is nothing more to compare. */
    if (mcx_kms_response_write(&r, &xml, &n) == MCX_OK) {
        mcx_kms_response b;
        /* The reader is lenient where deployed KMSs are (a KmsUri such as "192.168.4.101:8080" is
         * no xs:anyURI) and the writer writes values as given: so schema-valid in must give
         * schema-valid out, and whatever was read must read back. */
        if (schema_valid && mcx_kms_xml_validate((const uint8_t *)xml, n) != MCX_OK)
            abort();
        if (mcx_kms_response_parse((const uint8_t *)xml, n, 0, &b) != MCX_OK)
            abort();
        same_response(&r, &b);
        mcx_kms_response_free(&b);
        mcx_kms_xml_free(xml);
    }
    mcx_kms_response_free(&r);
}

static void request(const uint8_t *data, size_t size)
{
    mcx_kms_request q, b;
    if (mcx_kms_request_parse(data, size, 0, &q) != MCX_OK) {
        if (mcx_last_error()[0] == '\0')
            abort();
        return;
    }
    str_ok(q.client_id, sizeof q.client_id);
    char *xml = NULL;
    size_t n = 0;
    int schema_valid = mcx_kms_xml_validate(data, size) == MCX_OK;
    if (mcx_kms_request_write(&q, &xml, &n) == MCX_OK) {
        if ((schema_valid && mcx_kms_xml_validate((const uint8_t *)xml, n) != MCX_OK) ||
            mcx_kms_request_parse((const uint8_t *)xml, n, 0, &b) != MCX_OK)
            abort();
        if (strcmp(q.user_uri, b.user_uri) || q.time != b.time ||
            strcmp(q.client_id, b.client_id) || strcmp(q.device_id, b.device_id) ||
            q.has_client_error != b.has_client_error ||
            strcmp(q.client_error_msg, b.client_error_msg))
            abort();
        mcx_kms_xml_free(xml);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcx_clear_error();
    response(data, size);
    mcx_clear_error();
    request(data, size);
    return 0;
}
