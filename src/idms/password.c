/* Password hashing with argon2id (RFC 9106) from Debian's libargon2. Defaults follow the OWASP
 * Password Storage Cheat Sheet's argon2id setting (m = 19 MiB, t = 2, p = 1); the configuration
 * can lower them for tests ("argon2": {"t_cost", "m_cost_kib"}). The encoded string carries its own
 * parameters and salt, so verification uses whatever a hash was made with. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "common/error_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/mem.h"

#define SALT_BYTES 16
#define HASH_BYTES 32

static _Atomic uint32_t cost_t = IDMS_ARGON2_T_DEFAULT;
static _Atomic uint32_t cost_m = IDMS_ARGON2_M_DEFAULT;

void idms_password_set_costs(uint32_t t_cost, uint32_t m_cost_kib)
{
    /* libargon2's own minimums: t >= 1, m >= 8 KiB per lane */
    cost_t = t_cost < 1 ? 1 : t_cost;
    cost_m = m_cost_kib < 8 ? 8 : m_cost_kib;
}

mcx_status idms_password_hash(const char *password, char **encoded)
{
    if (password == NULL || encoded == NULL || password[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "IdMS: empty password");
    uint32_t t = cost_t, m = cost_m;
    uint8_t salt[SALT_BYTES];
    MCX_GUARD(mcx_random(salt, sizeof salt));
    size_t cap = argon2_encodedlen(t, m, 1, SALT_BYTES, HASH_BYTES, Argon2_id);
    char *out = malloc(cap);
    if (out == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "IdMS: out of memory");
    int rc = argon2id_hash_encoded(t, m, 1, password, strlen(password), salt, sizeof salt,
                                   HASH_BYTES, out, cap);
    if (rc != ARGON2_OK) {
        free(out);
        return MCX_FAIL(rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MCX_E_NOMEM : MCX_E_INTERNAL,
                        "IdMS: argon2id: %s", argon2_error_message(rc));
    }
    *encoded = out;
    return MCX_OK;
}

int idms_password_verify(const char *encoded, const char *password)
{
    if (encoded == NULL || password == NULL)
        return 0;
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}
