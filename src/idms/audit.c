/* The audit log: every login success, failure and lockout, every token issued, every refusal
 * with its error. Rows are never secrets: no password, code or token, only a token's jti. */
#include <stdio.h>
#include <stdlib.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"

void idms_audit(mcx_store *st, int64_t now, const char *event, const char *username,
                const char *client_id, const char *address, const char *outcome, const char *detail)
{
    /* Fields can hold request bytes (an unknown client_id, a scope): stored as printable ASCII
     * only, so that PostgreSQL (which refuses invalid UTF-8) still takes the row and a reader's
     * terminal gets no control characters. */
    const char *in[] = {event, username, client_id, address, outcome, detail};
    char *f[6];
    int oom = 0;
    for (size_t i = 0; i < 6; i++) {
        f[i] = idms_printable(in[i], 0);
        oom |= in[i] != NULL && f[i] == NULL;
    }
    mcx_status rc = oom ? MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory")
                        : idms_exec(st,
                                    "INSERT INTO audit (at, event, username, client_id, address,"
                                    " outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    NULL, "itttttt", now, f[0], f[1], f[2], f[3], f[4], f[5]);
    for (size_t i = 0; i < 6; i++)
        free(f[i]);
    if (rc != MCX_OK)
        fprintf(stderr, "mcx-idms: audit write failed: %s\n", mcx_last_error());
}
