/* The audit log: every login success, failure and lockout, every token issued, every refusal
 * with its error. Rows are never secrets: no password, code or token, only a token's jti. */
#include <stdio.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"

void idms_audit(mcx_store *st, int64_t now, const char *event, const char *username,
                const char *client_id, const char *address, const char *outcome, const char *detail)
{
    mcx_status rc =
        idms_exec(st,
                  "INSERT INTO audit (at, event, username, client_id, address, outcome,"
                  " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  NULL, "itttttt", now, event, username, client_id, address, outcome, detail);
    if (rc != MCX_OK)
        fprintf(stderr, "mcx-idms: audit write failed: %s\n", mcx_last_error());
}
