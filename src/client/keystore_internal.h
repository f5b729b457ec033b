/* Internals of the client keystore shared with provisioning (src/client/provision.c). */
#ifndef MCX_CLIENT_KEYSTORE_INTERNAL_H
#define MCX_CLIENT_KEYSTORE_INTERNAL_H

#include "mcxsec/keystore.h"

/* Keep an already validated key set (mcx_keystore_validate_key_set) without validating it again:
 * provisioning validates every key set of a response before it keeps any.
 * Errors: MCX_E_UNKNOWN_PEER (its KMS is not pinned), MCX_E_LENGTH, MCX_E_NOMEM. */
mcx_status mcx_keystore_put_key_set(mcx_keystore *ks, const mcx_keystore_key_set *set);

/* Drop kms_uri's certificate and every key set it issued (a KMS URL was re-pinned to another
 * KmsUri). Nothing pinned: MCX_OK. Errors: MCX_E_DENIED (a KMS URL is still bound to it). */
mcx_status mcx_keystore_forget_kms(mcx_keystore *ks, const char *kms_uri);

#endif
