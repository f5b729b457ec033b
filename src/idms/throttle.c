/* Login throttling (config "login_throttle"): failures are counted per user ("user:<name>") and
 * per client address ("addr:<ip>") within a window; max_failures within the window locks the key
 * for lockout seconds. While locked, no password is checked at all (OWASP Authentication Cheat
 * Sheet, "Account Lockout"). A successful login resets the user's counter, never the address's,
 * so one valid account cannot be used to keep guessing others from the same place. */
#include "common/error_internal.h"
#include "idms/idms_internal.h"

mcx_status idms_throttle_locked(mcx_store *st, const char *key, int64_t now, int *locked)
{
    mcx_stmt *s;
    int row;
    *locked = 0;
    MCX_GUARD(
        idms_query(st, "SELECT locked_until FROM throttle WHERE key = ?", &s, &row, "t", key));
    if (row)
        *locked = mcx_stmt_int(s, 0) > now;
    mcx_stmt_done(s);
    return MCX_OK;
}

mcx_status idms_throttle_fail(mcx_store *st, const mcx_idms_config *cfg, const char *key,
                              int64_t now, int *locked_now)
{
    *locked_now = 0;
    MCX_GUARD(idms_exec(st,
                        "INSERT INTO throttle (key, failures, window_start, locked_until)"
                        " VALUES (?, 0, ?, 0) ON CONFLICT DO NOTHING",
                        NULL, "ti", key, now));
    mcx_stmt *s;
    int row;
    MCX_GUARD(idms_query(st, "SELECT failures, window_start FROM throttle WHERE key = ?", &s, &row,
                         "t", key));
    int64_t failures = row ? mcx_stmt_int(s, 0) : 0, start = row ? mcx_stmt_int(s, 1) : now;
    mcx_stmt_done(s);
    if (now - start >= cfg->throttle_window) {
        failures = 0;
        start = now;
    }
    failures++;
    int64_t locked_until = 0;
    if (failures >= (int64_t)cfg->throttle_max_failures) {
        /* a new window starts after the lockout */
        locked_until = now + cfg->throttle_lockout;
        failures = 0;
        start = locked_until;
        *locked_now = 1;
    }
    return idms_exec(st,
                     "UPDATE throttle SET failures = ?, window_start = ?, locked_until = ?"
                     " WHERE key = ?",
                     NULL, "iiit", failures, start, locked_until, key);
}

mcx_status idms_throttle_reset(mcx_store *st, const char *key)
{
    return idms_exec(st, "DELETE FROM throttle WHERE key = ?", NULL, "t", key);
}
