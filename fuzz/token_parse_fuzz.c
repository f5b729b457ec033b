/* libFuzzer target over the token parsers: arbitrary text to mcx_jwt_decode_unverified and to
 * mcx_token_verify (access and ID verifiers with a static JWK Set, so no network), with checks:
 *   - decode gives two JSON objects or nothing;
 *   - verify returns only the documented statuses, and accepts only texts of at most 8 KiB that
 *     also decode, whose header names alg ES256 and the configured key, whose claims name the
 *     issuer; the reported strings are NUL-terminated inside their fields;
 *   - the verdict does not depend on the verifier's cache (a second verify agrees).
 * Seeds (fuzz/corpus/token_parse_fuzz) are tokens signed by `jose` with the key below, valid at
 * FUZZ_NOW, and broken variants (alg none, crit, long signature, wrong part counts, padding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1700000000
#define FUZZ_ISS "https://idms.example:8443"
#define FUZZ_AUD "https://kms.example"
#define FUZZ_KID "Pd-ZSbsfSUW6PyCgSTom2hyZ3VUet3tsLO3mlGB4-vo"

static const char jwks[] =
    "{\"keys\":[{\"alg\":\"ES256\",\"crv\":\"P-256\",\"kid\":\"" FUZZ_KID "\",\"kty\":\"EC\","
    "\"x\":\"r7MXD7Tl84tLZa8_t46lQeP_I64i06cmg2X--RmzfuE\","
    "\"y\":\"H4XatJeVd02yZ3VM_MBXJ9wDKjDFQh_pfnHdOLdqUeE\"}]}";

static mcx_token_verifier *verifier(mcx_token_kind kind)
{
    mcx_token_verifier_config cfg = {
        .issuer = FUZZ_ISS, .audience = FUZZ_AUD, .kind = kind, .jwks_json = jwks};
    mcx_token_verifier *v = NULL;
    if (mcx_token_verifier_new(&v, &cfg) != MCX_OK)
        abort();
    return v;
}

static int documented(mcx_status st)
{
    return st == MCX_OK || st == MCX_E_ENCODING || st == MCX_E_UNSUPPORTED ||
           st == MCX_E_UNKNOWN_PEER || st == MCX_E_SIG_INVALID || st == MCX_E_DENIED ||
           st == MCX_E_TIME;
}

static void check_terminated(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static void check_accepted(const char *text, const mcx_token_claims *c)
{
    if (strlen(text) > 8192)
        abort();
    json_t *h = NULL, *cl = NULL;
    if (mcx_jwt_decode_unverified(text, &h, &cl) != MCX_OK)
        abort();
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    if (alg == NULL || strcmp(alg, "ES256") != 0 || kid == NULL || strcmp(kid, FUZZ_KID) != 0 ||
        json_object_get(h, "crit") != NULL)
        abort();
    if (strcmp(c->iss, FUZZ_ISS) != 0 || c->exp + 60 <= FUZZ_NOW)
        abort();
    check_terminated(c->sub, sizeof c->sub);
    check_terminated(c->client_id, sizeof c->client_id);
    check_terminated(c->jti, sizeof c->jti);
    check_terminated(c->scope, sizeof c->scope);
    check_terminated(c->mcptt_id, sizeof c->mcptt_id);
    check_terminated(c->mcvideo_id, sizeof c->mcvideo_id);
    check_terminated(c->mcdata_id, sizeof c->mcdata_id);
    check_terminated(c->acting_for, sizeof c->acting_for);
    json_decref(h);
    json_decref(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mcx_token_verifier *va, *vi;
    if (va == NULL) {
        va = verifier(MCX_TOKEN_ACCESS);
        vi = verifier(MCX_TOKEN_ID);
    }
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0'; /* a token is read up to the first NUL */

    json_t *h = (json_t *)1, *c = (json_t *)1;
    mcx_status st = mcx_jwt_decode_unverified(text, &h, &c);
    if (st == MCX_OK) {
        if (!json_is_object(h) || !json_is_object(c))
            abort();
        json_decref(h);
        json_decref(c);
    } else if (h != NULL || c != NULL || st != MCX_E_ENCODING) {
        abort();
    }

    mcx_token_verifier *vs[2] = {va, vi};
    for (int i = 0; i < 2; i++) {
        mcx_token_claims cl;
        mcx_status a = mcx_token_verify(vs[i], text, NULL, FUZZ_NOW, &cl);
        if (!documented(a))
            abort();
        if (a == MCX_OK)
            check_accepted(text, &cl);
        else if (cl.iss[0] != '\0' || cl.sub[0] != '\0')
            abort(); /* nothing is reported on failure */
        mcx_status b = mcx_token_verify(vs[i], text, MCX_SCOPE_PTT_KMS, FUZZ_NOW, &cl);
        if (!documented(b) || (a != MCX_OK && b != a))
            abort();
        if (b == MCX_OK && strstr(cl.scope, MCX_SCOPE_PTT_KMS) == NULL)
            abort();
    }
    free(text);
    return 0;
}
