/* The GMS HTTPS daemon (docs/gms.md; tools/gms/main.c): configuration, its own key set from the
 * KMS, and the HTTP interface over libmicrohttpd with GnuTLS. Not a public API. */
#ifndef MCX_GMS_SERVER_INTERNAL_H
#define MCX_GMS_SERVER_INTERNAL_H

#include "mcxsec/gms.h"

#define GMS_MAX_BODY (4u * 1024u * 1024u) /* a 10,000-member group fits; larger bodies get 413 */

typedef struct gms_config {
    char *listen, *tls_cert, *tls_key, *store;
    char *issuer, *audience, *jwks_file, *jwks_uri, *ca_file;
    char *identity, *kms_url, *keystore, *keystore_passphrase_file, *token_file, *client_id;
    char *storage_key;
    /* IdMS subjects allowed to administer / regroup, as " sub1 sub2 " (the scope alone is not
     * enough: an IdMS grants any scope its client asks for) */
    char *admins, *dispatchers;
    uint64_t rekey_interval; /* seconds, 0: never */
    uint64_t key_lifetime;   /* seconds */
    unsigned threads;        /* I_MESSAGE builders */
    unsigned max_connections;
    int log_requests;
} gms_config;

/* Unknown keys are refused; relative file names are taken from the file's folder.
 * Errors: MCX_E_IO, MCX_E_ENCODING (the reason names the key), MCX_E_ARG (a required key
 * missing), MCX_E_NOMEM. */
mcx_status gms_config_load(gms_config **out, const char *path);
void gms_config_free(gms_config *cfg);

/* The GMS's own key sets (docs/gms.md "Running it"): when the keystore holds none for the key
 * period in force at now_ntp (or for the next one once it is due within window seconds), fetch
 * them from cfg->kms_url with the access token of cfg->token_file, refreshed through the IdMS
 * (its refresh token) when it expires within a minute. Runs under the engine's keystore lock.
 * *fetched (may be NULL) tells whether the KMS was asked. */
mcx_status gms_identity_refresh(mcx_gms *g, const gms_config *cfg, uint64_t now_ntp,
                                uint64_t window, int *fetched);

typedef struct gms_server gms_server;

mcx_status gms_server_start(gms_server **out, const gms_config *cfg, mcx_gms *g);
uint16_t gms_server_port(const gms_server *srv);
void gms_server_stop(gms_server *srv);

#endif
