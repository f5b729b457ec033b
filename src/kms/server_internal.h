/* The KMS HTTPS daemon (TS 33.180 Annex D over HTTPS; tools/kms/main.c): libmicrohttpd with
 * GnuTLS, a thread pool, one store connection per worker at a time, access tokens checked on
 * every request. Not a public API: only the mcx-kms program uses it. */
#ifndef MCX_KMS_SERVER_INTERNAL_H
#define MCX_KMS_SERVER_INTERNAL_H

#include "mcxsec/kms.h"

#define KMS_MAX_BODY   (64u * 1024u) /* request bodies above this get 413 */
#define KMS_API_PREFIX "/keymanagement/identity/v1/"

typedef struct kms_server kms_server;

/* Start listening on cfg->listen (port 0: any free port) with cfg->tls_cert / tls_key, accepting
 * access tokens of cfg->issuer (keys from cfg->jwks_file, else cfg->jwks_uri with cfg->ca_file,
 * else <issuer>/jwks) for cfg->audience (default: the issuer, which is what the IdMS writes in
 * "aud" without an "audience" setting). cfg and kms must outlive the server; kms should hold its
 * secrets (mcx_kms_can_issue), else keyprov answers 503.
 * Errors: MCX_E_ARG (no listen, TLS files or issuer; a bad listen address), MCX_E_IO (files,
 * cannot listen), MCX_E_ENCODING (a JWK Set file that is not one), MCX_E_UNSUPPORTED (no TLS in
 * libmicrohttpd), MCX_E_STORE, MCX_E_NOMEM. */
mcx_status kms_server_start(kms_server **out, const mcx_kms_config *cfg, const mcx_kms *kms);

/* The bound port. */
uint16_t kms_server_port(const kms_server *srv);

/* Stop accepting, finish the requests in progress, release everything. NULL is accepted. */
void kms_server_stop(kms_server *srv);

#endif
