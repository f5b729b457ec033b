/* Login throttling (config "login_throttle"): failures are counted per user ("user:<name>") and
 * per client address ("addr:<ip>") within a window; max_failures within the window locks the key
 * for lockout seconds. While locked, no password is checked at all (OWASP Authentication Cheat
 * Sheet, "Account Lockout"). A successful login resets the user's counter, never the address's,
 * so one valid account cannot be used to keep guessing others from the same place. */
#include "common/error_internal.h"
#include "idms/idms_internal.h"

mcx_status idms_throttle_locked(mcx_store *st, const char *key, int64_t now, int64_t *until)
{
    mcx_stmt *s;
    int row;
    *until = 0;
    MCX_GUARD(
        idms_query(st, "SELECT locked_until FROM throttle WHERE key = ?", &s, &row, "t", key));
    if (row && mcx_stmt_int(s, 0) > now)
        *until = mcx_stmt_int(s, 0);
    mcx_stmt_done(s);
    return MCX_OK;
}

/* Counted with one atomic UPDATE ... RETURNING in the caller's transaction: concurrent failures
 * (several workers, or several servers on one PostgreSQL store) each add one, none is lost to a
 * read-modify-write race. The row lock the UPDATE takes orders them on PostgreSQL; SQLite's
 * BEGIN IMMEDIATE does the same. */
mcx_status idms_throttle_fail(mcx_store *st, const mcx_idms_config *cfg, const char *key,
                              int64_t now, int *locked_now)
{
    *locked_now = 0;
    MCX_GUARD(idms_exec(st,
                        "INSERT INTO throttle (key, failures, window_start, locked_until)"
                        " VALUES (?, 0, ?, 0) ON CONFLICT DO NOTHING",
                        NULL, "ti", key, now));
    /* a failure after the window (or after a lockout ended) starts a new window */
    mcx_stmt *s;
    int row;
    MCX_GUARD(idms_query(st,
                         "UPDATE throttle SET"
                         " failures = CASE WHEN ? - window_start >= ? THEN 1"
                         " ELSE failures + 1 END,"
                         " window_start = CASE WHEN ? - window_start >= ? THEN ?"
                         " ELSE window_start END"
                         " WHERE key = ? RETURNING failures",
                         &s, &row, "iiiiit", now, cfg->throttle_window, now, cfg->throttle_window,
                         now, key));
    int64_t failures = row ? mcx_stmt_int(s, 0) : 0;
    mcx_stmt_done(s);
    if (failures < (int64_t)cfg->throttle_max_failures)
        return MCX_OK;
    /* this failure reaches the limit: lock; a new window starts after the lockout */
    int64_t until = now + cfg->throttle_lockout;
    *locked_now = 1;
    return idms_exec(st,
                     "UPDATE throttle SET failures = 0, window_start = ?, locked_until = ?"
                     " WHERE key = ?",
                     NULL, "iit", until, until, key);
}

mcx_status idms_throttle_reset(mcx_store *st, const char *key)
{
    return idms_exec(st, "DELETE FROM throttle WHERE key = ?", NULL, "t", key);
}
