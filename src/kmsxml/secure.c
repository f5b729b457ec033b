/* Signed KMS responses and wrapped keys (TS 33.180 D.1: "optionally signed with HMAC-SHA256
 * using the InK or TrK; key material may be encrypted with the TrK").
 *
 * Annex D names neither the key wrap algorithm URI nor the shape of the signature, so the
 * choices are mcxsec's (docs/kms_xml.md):
 *  - keys: xenc:EncryptedKey with AES-256 key wrap, RFC 3394 (xmlenc#kw-aes256) for keys of a
 *    multiple of 8 octets, RFC 5649 (xmlenc11#kw-aes-256-pad) for the 257-octet RSK, which
 *    RFC 3394 cannot wrap;
 *  - signature: enveloped ds:Signature as the last child of SignedKmsResponse, exclusive C14N,
 *    HMAC-SHA-256, one Reference URI="" with the enveloped-signature and exclusive C14N
 *    transforms and SHA-256. URI="" digests the whole document, so the KmsResponse that is
 *    parsed is the one that was signed: no Id lookup that a second KmsResponse could answer
 *    (XML signature wrapping).
 * The verifier accepts nothing else: one Reference, those transforms and algorithms, no
 * HMACOutputLength (truncation), and the document is exactly SignedKmsResponse{KmsResponse,
 * ds:Signature}. XML-DSig itself is libxmlsec1 (OpenSSL back end); the key wrap is OpenSSL EVP. */
#include <pthread.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "common/error_internal.h"
#include "kmsxml/kms_xml_internal.h"
#include "mcxsec/mem.h"

#define DSIG_NS "http://www.w3.org/2000/09/xmldsig#"

/* ---------- AES key wrap (RFC 3394 / RFC 5649) ---------- */

static mcx_status kw(int enc, int padded, const uint8_t *trk, const uint8_t *in, size_t in_len,
                     uint8_t *out, size_t cap, size_t *out_len)
{
    /* RFC 3394 §2.2.1 / RFC 5649 §4.1: the output is at most 8 octets longer than the padded
     * input; EVP writes it in one update. */
    size_t room = enc ? (in_len + 7) / 8 * 8 + 8 : in_len;
    if (cap < room)
        return MCX_FAIL(MCX_E_LENGTH, "KMS key wrap: output of %zu octets, room for %zu", room,
                        cap);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "out of memory");
    /* The wrap modes must be allowed explicitly (OpenSSL EVP_CIPHER_CTX_FLAG_WRAP_ALLOW). */
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    const EVP_CIPHER *c = padded ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
    int n = 0, f = 0;
    mcx_status st = MCX_OK;
    if (EVP_CipherInit_ex(ctx, c, NULL, trk, NULL, enc) != 1)
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS key wrap: EVP init failed");
    else if (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1 || n < 0 ||
             EVP_CipherFinal_ex(ctx, out + n, &f) != 1)
        st = enc ? MCX_FAIL(MCX_E_INTERNAL, "KMS key wrap: EVP wrap failed")
                 /* RFC 3394 §2.2.3 / RFC 5649 §3: the integrity check value differs. */
                 : MCX_FAIL(MCX_E_TAG_INVALID, "KMS key unwrap: integrity check failed");
    EVP_CIPHER_CTX_free(ctx);
    if (st != MCX_OK) {
        mcx_memzero(out, cap < room ? cap : room);
        return st;
    }
    *out_len = (size_t)n + (size_t)f;
    return MCX_OK;
}

mcx_status mcx_kms_key_wrap(const uint8_t trk[MCX_KMS_TRK_BYTES], const uint8_t *key,
                            size_t key_len, uint8_t *out, size_t cap, size_t *out_len, int *padded)
{
    if (trk == NULL || key == NULL || out == NULL || out_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS key wrap: NULL argument");
    if (key_len == 0 || key_len > MCX_KMS_RSK_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "KMS key wrap: %zu octets of key, expected 1..%d", key_len,
                        MCX_KMS_RSK_BYTES);
    /* RFC 3394 wraps n >= 2 64-bit blocks; anything else takes the RFC 5649 padding. */
    int pad = key_len % 8 != 0 || key_len < 16;
    if (padded)
        *padded = pad;
    return kw(1, pad, trk, key, key_len, out, cap, out_len);
}

mcx_status mcx_kms_key_unwrap(const uint8_t trk[MCX_KMS_TRK_BYTES], int padded, const uint8_t *in,
                              size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (trk == NULL || in == NULL || out == NULL || out_len == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS key unwrap: NULL argument");
    if (in_len % 8 != 0 || in_len < (padded ? 16u : 24u) || in_len > MCX_KMS_WRAP_MAX_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "KMS key unwrap: %zu octets is not a wrapped key (%s)",
                        in_len, padded ? "RFC 5649" : "RFC 3394");
    uint8_t tmp[MCX_KMS_WRAP_MAX_BYTES];
    size_t n = 0;
    mcx_status st = kw(0, padded, trk, in, in_len, tmp, sizeof tmp, &n);
    if (st == MCX_OK && n > cap)
        st = MCX_FAIL(MCX_E_LENGTH, "KMS key unwrap: %zu octets, room for %zu", n, cap);
    if (st == MCX_OK) {
        memcpy(out, tmp, n);
        *out_len = n;
    }
    mcx_memzero(tmp, sizeof tmp);
    return st;
}

mcx_status mcx_kms_wrap_b64(const uint8_t *trk, const uint8_t *key, size_t n, char *b64, size_t cap,
                            const char **alg)
{
    uint8_t w[MCX_KMS_WRAP_MAX_BYTES];
    size_t wl = 0;
    int padded = 0;
    MCX_GUARD(mcx_kms_key_wrap(trk, key, n, w, sizeof w, &wl, &padded));
    if (cap < (wl + 2) / 3 * 4 + 1)
        return MCX_FAIL(MCX_E_LENGTH, "KMS key wrap: base64 does not fit");
    EVP_EncodeBlock((unsigned char *)b64, w, (int)wl);
    *alg = padded ? MCX_KMS_XENC_KW_AES256_PAD : MCX_KMS_XENC_KW_AES256;
    return MCX_OK;
}

/* ---------- xmlsec ---------- */

static pthread_once_t sec_once = PTHREAD_ONCE_INIT;
static int sec_ready;

/* xmlsec reports through a global callback; keep the first reason of this thread's operation
 * for the MCX_FAIL message instead of printing to stderr. */
static _Thread_local char sec_reason[160];

static void sec_error(const char *file, int line, const char *func, const char *obj,
                      const char *subj, int reason, const char *msg)
{
    (void)file;
    (void)line;
    (void)func;
    (void)reason;
    if (sec_reason[0] == '\0')
        snprintf(sec_reason, sizeof sec_reason, "%s%s%s: %s", obj ? obj : "",
                 obj && subj ? "/" : "", subj ? subj : "", msg ? msg : "error");
}

static void sec_init(void)
{
    xmlInitParser();
    if (xmlSecInit() < 0)
        return;
    if (xmlSecCheckVersion() != 1)
        return;
    if (xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0)
        return;
    /* After the initialisations, which install the default (stderr) callback. */
    xmlSecErrorsSetCallback(sec_error);
    sec_ready = 1;
}

static mcx_status sec_start(void)
{
    pthread_once(&sec_once, sec_init);
    sec_reason[0] = '\0';
    if (!sec_ready)
        return MCX_FAIL(MCX_E_INTERNAL, "KMS XML: libxmlsec1 (OpenSSL) failed to initialise");
    return MCX_OK;
}

static xmlSecKeyPtr hmac_key(const uint8_t *ink)
{
    return xmlSecKeyReadMemory(xmlSecKeyDataHmacId, ink, MCX_KMS_INK_BYTES);
}

static int is_el(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* The element children of n, in order; refuses text other than whitespace. Returns the count
 * (at most cap stored), or -1 for stray text. */
static int elements(const xmlNode *n, const xmlNode **v, int cap)
{
    int k = 0;
    for (const xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (k < cap)
                v[k] = c;
            k++;
        } else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
                   !xmlIsBlankNode(c)) {
            return -1;
        }
    }
    return k;
}

static int alg_is(const xmlNode *n, const char *uri)
{
    xmlChar *a = xmlGetNoNsProp(n, (const xmlChar *)"Algorithm");
    int ok = a && strcmp((const char *)a, uri) == 0;
    xmlFree(a);
    return ok;
}

mcx_status mcx_kms_response_sign(const uint8_t *xml, size_t len,
                                 const uint8_t ink[MCX_KMS_INK_BYTES], char **out, size_t *out_len)
{
    if (xml == NULL || ink == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML sign: NULL argument");
    *out = NULL;
    if (out_len)
        *out_len = 0;
    MCX_GUARD(sec_start());
    xmlDoc *doc;
    MCX_GUARD(mcx_kms_xml_read_doc(xml, len, 0, &doc));
    mcx_status st = MCX_OK;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlChar *buf = NULL;
    int blen = 0;
    xmlNode *resp = xmlDocGetRootElement(doc);
    if (!is_el(resp, MCX_KMS_XML_NS, "KmsResponse")) {
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML sign: the document is not a KmsResponse");
        goto done;
    }
    /* SignedKmsResponse{KmsResponse, ds:Signature} (TS 33.180 D.2.3, D.3). */
    xmlNode *root = xmlNewDocNode(doc, NULL, (const xmlChar *)"SignedKmsResponse", NULL);
    xmlNs *ns = root ? xmlNewNs(root, (const xmlChar *)MCX_KMS_XML_NS, NULL) : NULL;
    if (root == NULL || ns == NULL) {
        xmlFreeNode(root);
        st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
        goto done;
    }
    xmlSetNs(root, ns);
    xmlReplaceNode(resp, root);
    xmlAddChild(root, resp);
    /* The KmsResponse keeps its own (identical) default namespace declaration; xmlReconciliateNs
     * is not needed as every node still points at a declaration in scope. */
    xmlNode *sig = xmlSecTmplSignatureCreateNsPref(
        doc, xmlSecTransformExclC14NId, xmlSecTransformHmacSha256Id, NULL, (const xmlChar *)"ds");
    xmlNode *ref = sig ? xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
                                                         (const xmlChar *)"", NULL)
                       : NULL;
    if (sig == NULL || ref == NULL || xmlAddChild(root, sig) == NULL ||
        xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
        xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS XML sign: signature template: %s", sec_reason);
        goto done;
    }
    ctx = xmlSecDSigCtxCreate(NULL);
    if (ctx == NULL || (ctx->signKey = hmac_key(ink)) == NULL) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS XML sign: HMAC key: %s", sec_reason);
        goto done;
    }
    if (xmlSecDSigCtxSign(ctx, sig) < 0) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS XML sign: %s", sec_reason);
        goto done;
    }
    xmlDocDumpMemoryEnc(doc, &buf, &blen, "UTF-8");
    if (buf == NULL || blen <= 0) {
        st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
        goto done;
    }
    *out = mcx_secure_alloc((size_t)blen + 1);
    if (*out == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "out of memory");
        goto done;
    }
    memcpy(*out, buf, (size_t)blen);
    (*out)[blen] = '\0';
    if (out_len)
        *out_len = (size_t)blen;
done:
    if (buf) {
        /* The document may hold unwrapped keys: wipe libxml2's copy. */
        mcx_memzero(buf, (size_t)blen);
        xmlFree(buf);
    }
    if (ctx)
        xmlSecDSigCtxDestroy(ctx);
    mcx_kms_xml_free_doc(doc);
    return st;
}

/* The shape the verifier accepts (see the head of this file); returns the reason or NULL. */
static const char *check_signature_shape(const xmlNode *sig)
{
    const xmlNode *v[4], *si[4], *t[4];
    int n = elements(sig, v, 4);
    if (n < 2 || !is_el(v[0], DSIG_NS, "SignedInfo") || !is_el(v[1], DSIG_NS, "SignatureValue"))
        return "ds:Signature must hold SignedInfo then SignatureValue";
    for (int i = 2; i < n && i < 4; i++)
        if (is_el(v[i], DSIG_NS, "Object"))
            return "ds:Object in the signature is not accepted";
    int m = elements(v[0], si, 4);
    if (m != 3 || !is_el(si[0], DSIG_NS, "CanonicalizationMethod") ||
        !is_el(si[1], DSIG_NS, "SignatureMethod") || !is_el(si[2], DSIG_NS, "Reference"))
        return "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference";
    if (!alg_is(si[0], (const char *)xmlSecHrefExcC14N))
        return "CanonicalizationMethod is not exclusive C14N";
    if (!alg_is(si[1], MCX_KMS_DSIG_HMAC_SHA256))
        return "SignatureMethod is not HMAC-SHA-256";
    const xmlNode *x[1];
    if (elements(si[1], x, 1) != 0)
        return "SignatureMethod has children (HMACOutputLength truncation is not accepted)";
    xmlChar *uri = xmlGetNoNsProp(si[2], (const xmlChar *)"URI");
    int uri_ok = uri != NULL && uri[0] == '\0';
    xmlFree(uri);
    if (!uri_ok)
        return "Reference URI is not \"\" (the whole document)";
    const xmlNode *r[4];
    int k = elements(si[2], r, 4);
    if (k != 3 || !is_el(r[0], DSIG_NS, "Transforms") || !is_el(r[1], DSIG_NS, "DigestMethod") ||
        !is_el(r[2], DSIG_NS, "DigestValue"))
        return "Reference must hold Transforms, DigestMethod, DigestValue";
    if (!alg_is(r[1], (const char *)xmlSecHrefSha256))
        return "DigestMethod is not SHA-256";
    int nt = elements(r[0], t, 4);
    if (nt < 1 || nt > 2 || !is_el(t[0], DSIG_NS, "Transform") ||
        !alg_is(t[0], (const char *)xmlSecHrefEnveloped) ||
        (nt == 2 &&
         (!is_el(t[1], DSIG_NS, "Transform") || !alg_is(t[1], (const char *)xmlSecHrefExcC14N))))
        return "Reference transforms must be enveloped-signature [, exclusive C14N]";
    return NULL;
}

mcx_status mcx_kms_response_verify(const uint8_t *xml, size_t len, unsigned flags,
                                   const uint8_t ink[MCX_KMS_INK_BYTES], const uint8_t *trk,
                                   mcx_kms_response *out)
{
    if (out == NULL || ink == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS XML verify: NULL argument");
    memset(out, 0, sizeof *out);
    MCX_GUARD(sec_start());
    xmlDoc *doc;
    MCX_GUARD(mcx_kms_xml_read_doc(xml, len, flags, &doc));
    mcx_status st = MCX_OK;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlNode *root = xmlDocGetRootElement(doc);
    const xmlNode *v[3];
    const char *why = NULL;
    if (is_el(root, MCX_KMS_XML_NS, "KmsResponse")) {
        st = MCX_FAIL(MCX_E_SIG_INVALID, "KMS XML verify: KmsResponse is not signed");
        goto done;
    }
    if (!is_el(root, MCX_KMS_XML_NS, "SignedKmsResponse")) {
        st = MCX_FAIL(MCX_E_ENCODING, "KMS XML verify: root is not SignedKmsResponse");
        goto done;
    }
    /* Exactly the message and then the signature: a second KmsResponse, a signature elsewhere
     * or anything beside them is refused before any cryptography. */
    int n = elements(root, v, 3);
    if (n != 2 || !is_el(v[0], MCX_KMS_XML_NS, "KmsResponse") ||
        !is_el(v[1], DSIG_NS, "Signature")) {
        st = MCX_FAIL(MCX_E_SIG_INVALID,
                      "KMS XML verify: SignedKmsResponse must hold exactly KmsResponse then "
                      "ds:Signature (%d element children)",
                      n);
        goto done;
    }
    if ((why = check_signature_shape(v[1])) != NULL) {
        st = MCX_FAIL(MCX_E_SIG_INVALID, "KMS XML verify: %s", why);
        goto done;
    }
    ctx = xmlSecDSigCtxCreate(NULL);
    if (ctx == NULL || (ctx->signKey = hmac_key(ink)) == NULL) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS XML verify: HMAC key: %s", sec_reason);
        goto done;
    }
    /* Belt and braces beside the shape check: only a same-document empty URI, only these
     * transforms, and no key taken from KeyInfo (the InK is given). */
    ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
    ctx->keyInfoReadCtx.enabledKeyData.use = 0;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformHmacSha256Id) < 0) {
        st = MCX_FAIL(MCX_E_INTERNAL, "KMS XML verify: xmlsec transform list");
        goto done;
    }
    xmlNode *sig = root->children;
    while (sig != v[1])
        sig = sig->next;
    if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
        st = MCX_FAIL(MCX_E_SIG_INVALID, "KMS XML verify: signature not processed: %s",
                      sec_reason[0] ? sec_reason : "xmlsec error");
        goto done;
    }
    if (ctx->status != xmlSecDSigStatusSucceeded) {
        /* Say whether the KmsResponse changed (digest) or the HMAC (key, SignedInfo) failed. */
        const char *what = "SignatureValue (HMAC-SHA-256 under the InK) does not verify";
        xmlSecDSigReferenceCtxPtr rc = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0);
        if (rc != NULL && rc->status != xmlSecDSigStatusSucceeded)
            what = "DigestValue does not match the document (KmsResponse altered)";
        st = MCX_FAIL(MCX_E_SIG_INVALID, "KMS XML verify: %s", what);
        goto done;
    }
    if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) {
        st = MCX_FAIL(MCX_E_SIG_INVALID, "KMS XML verify: expected exactly one Reference");
        goto done;
    }
    /* The verified tree is the one parsed. */
    st = mcx_kms_response_from_el(v[0], trk, out);
    if (st == MCX_OK)
        out->signed_form = 2;
    else
        mcx_kms_response_free(out);
done:
    if (ctx)
        xmlSecDSigCtxDestroy(ctx);
    mcx_kms_xml_free_doc(doc);
    return st;
}
