/* IdMS administration on a real SQLite file: init (schema + first key), users (argon2id hashes,
 * duplicates, disable, password change), clients, key rotation, code issuing and its checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idms/idms_internal.h"
#include "mcxsec/idms.h"
#include "mcxsec/store.h"
#include "test.h"

static char dir[] = "/tmp/idms_admin_XXXXXX";
static char url[300];
static const int64_t now = 1700000000;

static mcx_store *open_store(void)
{
    mcx_store *st = NULL;
    CHECK_OK(mcx_store_open(&st, url));
    return st;
}

static int64_t count(mcx_store *st, const char *sql)
{
    mcx_stmt *s;
    int row = 0;
    int64_t n = -1;
    if (idms_query(st, sql, &s, &row, "") == MCX_OK) {
        if (row)
            n = mcx_stmt_int(s, 0);
        mcx_stmt_done(s);
    }
    return n;
}

static void test_init(void)
{
    mcx_store *st = open_store();
    CHECK_OK(mcx_idms_init(st, now));
    int v = 0;
    CHECK_OK(mcx_store_schema_version(st, "idms", &v));
    CHECK(v == 1);
    CHECK(count(st, "SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL") == 1);
    /* again: nothing new */
    CHECK_OK(mcx_idms_init(st, now + 1));
    CHECK(count(st, "SELECT COUNT(*) FROM signing_keys") == 1);
    mcx_store_close(st);
}

static void test_users(void)
{
    mcx_store *st = open_store();
    mcx_idms_user u = {"alice", "sip:alice@police.example", NULL, "sip:alice-data@police.example"};
    CHECK_OK(mcx_idms_user_add(st, &u, "correct horse", now));
    CHECK_ST(mcx_idms_user_add(st, &u, "other", now), MCX_E_EXISTS);
    mcx_idms_user bad = {"al ice", NULL, NULL, NULL};
    CHECK_ST(mcx_idms_user_add(st, &bad, "pw", now), MCX_E_ARG);
    bad.username = "";
    CHECK_ST(mcx_idms_user_add(st, &bad, "pw", now), MCX_E_ARG);
    bad.username = "x";
    CHECK_ST(mcx_idms_user_add(st, &bad, "", now), MCX_E_ARG);
    bad.mcptt_id = "not a uri";
    CHECK_ST(mcx_idms_user_add(st, &bad, "pw", now), MCX_E_ARG);

    idms_user_row row;
    CHECK_OK(idms_user_get(st, "alice", &row));
    CHECK(strcmp(row.mcptt_id, "sip:alice@police.example") == 0);
    CHECK(row.mcvideo_id[0] == '\0');
    CHECK(row.enabled == 1);
    /* never the password in clear: an argon2id string that verifies */
    CHECK(strstr(row.password_hash, "correct horse") == NULL);
    CHECK(strncmp(row.password_hash, "$argon2id$", 10) == 0);
    CHECK(idms_password_verify(row.password_hash, "correct horse"));
    CHECK(!idms_password_verify(row.password_hash, "correct horsE"));

    CHECK_OK(mcx_idms_user_set_password(st, "alice", "battery staple", now + 5));
    CHECK_OK(idms_user_get(st, "alice", &row));
    CHECK(idms_password_verify(row.password_hash, "battery staple"));
    CHECK(!idms_password_verify(row.password_hash, "correct horse"));
    CHECK_ST(mcx_idms_user_set_password(st, "nobody", "x", now), MCX_E_NOT_FOUND);
    CHECK_ST(mcx_idms_user_set_password(st, "alice", "", now), MCX_E_ARG);

    CHECK_OK(mcx_idms_user_set_enabled(st, "alice", 0, now + 6));
    CHECK_OK(idms_user_get(st, "alice", &row));
    CHECK(row.enabled == 0);
    CHECK_OK(mcx_idms_user_set_enabled(st, "alice", 1, now + 7));
    CHECK_ST(mcx_idms_user_set_enabled(st, "nobody", 1, now), MCX_E_NOT_FOUND);
    CHECK_ST(idms_user_get(st, "nobody", &row), MCX_E_NOT_FOUND);
    mcx_store_close(st);
}

static void test_clients_and_codes(void)
{
    mcx_store *st = open_store();
    const char *uris[] = {"http://127.0.0.1/callback", "org.example.mcx:/cb"};
    CHECK_OK(mcx_idms_client_add(st, "mcx-cli", uris, 2, now));
    CHECK_ST(mcx_idms_client_add(st, "mcx-cli", uris, 1, now), MCX_E_EXISTS);
    const char *frag[] = {"http://127.0.0.1/cb#x"};
    CHECK_ST(mcx_idms_client_add(st, "c2", frag, 1, now), MCX_E_ARG);
    const char *rel[] = {"/cb"};
    CHECK_ST(mcx_idms_client_add(st, "c2", rel, 1, now), MCX_E_ARG);
    CHECK_ST(mcx_idms_client_add(st, "c 2", uris, 1, now), MCX_E_ARG);
    CHECK_ST(mcx_idms_client_add(st, "c2", uris, 0, now), MCX_E_ARG);
    /* nothing of a refused client was written */
    CHECK(count(st, "SELECT COUNT(*) FROM clients") == 1);
    CHECK(count(st, "SELECT COUNT(*) FROM client_redirects") == 2);

    const char *chal = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; /* RFC 7636 App. B */
    char code[64], code2[64];
    CHECK_OK(mcx_idms_code_issue(st, "mcx-cli", "alice", "http://127.0.0.1/callback", chal,
                                 "openid 3gpp:mcptt:ptt_server", "n-0S6", now, 60, code,
                                 sizeof code));
    CHECK(strlen(code) == 43);
    CHECK_OK(mcx_idms_code_issue(st, "mcx-cli", "alice", "org.example.mcx:/cb", chal, "openid",
                                 NULL, now, 60, code2, sizeof code2));
    CHECK(strcmp(code, code2) != 0);
    /* stored hashed, with the canonical scope */
    char hash[IDMS_HASH_HEX];
    idms_sha256_hex(code, hash);
    mcx_stmt *s;
    int row = 0;
    CHECK_OK(idms_query(st, "SELECT scope, used, expires_at FROM codes WHERE hash = ?", &s, &row,
                        "t", hash));
    CHECK(row);
    if (row) {
        CHECK(strcmp(mcx_stmt_text(s, 0), "openid 3gpp:mc:ptt_service") == 0);
        CHECK(mcx_stmt_int(s, 1) == 0);
        CHECK(mcx_stmt_int(s, 2) == now + 60);
    }
    mcx_stmt_done(s);
    CHECK(count(st, "SELECT COUNT(*) FROM codes WHERE length(hash) = 64") == 2);

    CHECK_ST(mcx_idms_code_issue(st, "nope", "alice", uris[0], chal, "openid", NULL, now, 60, code,
                                 sizeof code),
             MCX_E_NOT_FOUND);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", "http://127.0.0.1/other", chal, "openid",
                                 NULL, now, 60, code, sizeof code),
             MCX_E_DENIED);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "bob", uris[0], chal, "openid", NULL, now, 60, code,
                                 sizeof code),
             MCX_E_NOT_FOUND);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0], "short", "openid", NULL, now, 60,
                                 code, sizeof code),
             MCX_E_ARG);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0], chal, "3gpp:mc:ptt_service", NULL,
                                 now, 60, code, sizeof code),
             MCX_E_ARG);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0], chal, "openid bogus", NULL, now,
                                 60, code, sizeof code),
             MCX_E_ENCODING);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0], chal, "openid", NULL, now, 60,
                                 code, 10),
             MCX_E_ARG);
    /* an S256 challenge is exactly 43 base64url characters */
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0],
                                 "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMx", "openid", NULL,
                                 now, 60, code, sizeof code),
             MCX_E_ARG);
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0],
                                 "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw~cM", "openid", NULL, now,
                                 60, code, sizeof code),
             MCX_E_ARG);
    CHECK_OK(mcx_idms_user_set_enabled(st, "alice", 0, now));
    CHECK_ST(mcx_idms_code_issue(st, "mcx-cli", "alice", uris[0], chal, "openid", NULL, now, 60,
                                 code, sizeof code),
             MCX_E_DENIED);
    CHECK_OK(mcx_idms_user_set_enabled(st, "alice", 1, now));
    mcx_store_close(st);
}

static void test_disable_revokes(void)
{
    mcx_store *st = open_store();
    char tok[IDMS_TOKEN_CHARS + 1];
    CHECK_OK(
        idms_refresh_insert(st, "fam1", "alice", "mcx-cli", "openid", now, now, now + 100, tok));
    CHECK(count(st, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked = 0") == 1);
    CHECK_OK(mcx_idms_user_set_enabled(st, "alice", 0, now));
    CHECK(count(st, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked = 0") == 0);
    CHECK_OK(mcx_idms_user_set_enabled(st, "alice", 1, now));
    /* a new password revokes the refresh tokens too; another user's stay */
    CHECK_OK(
        idms_refresh_insert(st, "fam2", "alice", "mcx-cli", "openid", now, now, now + 100, tok));
    CHECK_OK(idms_refresh_insert(st, "fam3", "bob", "mcx-cli", "openid", now, now, now + 100, tok));
    CHECK(count(st, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked = 0") == 2);
    CHECK_OK(mcx_idms_user_set_password(st, "alice", "a new one", now + 1));
    CHECK(
        count(st, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked = 0 AND username = 'alice'") ==
        0);
    CHECK(count(st, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked = 0 AND username = 'bob'") ==
          1);
    /* an unknown user: nothing revoked, nothing left open */
    CHECK_ST(mcx_idms_user_set_password(st, "nobody", "x", now), MCX_E_NOT_FOUND);
    CHECK_OK(mcx_store_begin(st));
    mcx_store_rollback(st);
    mcx_store_close(st);
}

static void test_key_rotate(void)
{
    mcx_store *st = open_store();
    char kid0[128], kid1[128], small[8];
    CHECK_OK(idms_keys_active_kid(st, kid0, sizeof kid0));
    CHECK(kid0[0] != '\0');
    CHECK_OK(mcx_idms_key_rotate(st, now + 100, kid1, sizeof kid1));
    CHECK(strcmp(kid0, kid1) != 0);
    CHECK_ST(mcx_idms_key_rotate(st, now, small, sizeof small), MCX_E_ARG);
    char active[128];
    CHECK_OK(idms_keys_active_kid(st, active, sizeof active));
    CHECK(strcmp(active, kid1) == 0);
    CHECK(count(st, "SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL") == 1);
    /* PKCS#8 PEM in the store */
    CHECK(count(st, "SELECT COUNT(*) FROM signing_keys WHERE private_pem LIKE "
                    "'-----BEGIN PRIVATE KEY-----%'") == 2);
    /* within the retirement window both keys are published, the new one first; after it, one */
    idms_keyset *ks = NULL;
    CHECK_OK(idms_keys_load(st, now + 200, 3600, &ks));
    if (ks != NULL) {
        CHECK(ks->n == 2);
        CHECK(strcmp(mcx_signing_key_kid(ks->active), kid1) == 0);
        CHECK(strstr(ks->jwks, kid0) != NULL && strstr(ks->jwks, kid1) != NULL);
        idms_keyset_free(ks);
    }
    CHECK_OK(idms_keys_load(st, now + 100 + 3601, 3600, &ks));
    if (ks != NULL) {
        CHECK(ks->n == 1);
        CHECK(strstr(ks->jwks, kid0) == NULL);
        idms_keyset_free(ks);
    }
    mcx_store_close(st);
}

static void test_throttle(void)
{
    mcx_store *st = open_store();
    mcx_idms_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.throttle_max_failures = 3;
    cfg.throttle_window = 60;
    cfg.throttle_lockout = 120;
    int64_t locked = 0;
    int now_locked = 0;
    CHECK_OK(idms_throttle_fail(st, &cfg, "user:t", now, &now_locked));
    CHECK_OK(idms_throttle_fail(st, &cfg, "user:t", now + 1, &now_locked));
    CHECK(!now_locked);
    CHECK_OK(idms_throttle_locked(st, "user:t", now + 1, &locked));
    CHECK(!locked);
    CHECK_OK(idms_throttle_fail(st, &cfg, "user:t", now + 2, &now_locked));
    CHECK(now_locked);
    CHECK_OK(idms_throttle_locked(st, "user:t", now + 3, &locked));
    CHECK(locked == now + 2 + 120);
    CHECK_OK(idms_throttle_locked(st, "user:t", now + 2 + 121, &locked));
    CHECK(!locked);
    /* failures outside the window start again */
    CHECK_OK(idms_throttle_fail(st, &cfg, "user:u", now, &now_locked));
    CHECK_OK(idms_throttle_fail(st, &cfg, "user:u", now + 1, &now_locked));
    CHECK_OK(idms_throttle_fail(st, &cfg, "user:u", now + 100, &now_locked));
    CHECK(!now_locked);
    CHECK_OK(idms_throttle_reset(st, "user:u"));
    CHECK(count(st, "SELECT COUNT(*) FROM throttle WHERE key = 'user:u'") == 0);
    mcx_store_close(st);
}

int main(void)
{
    idms_password_set_costs(1, 64); /* small costs keep the valgrind twin fast */
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(url, sizeof url, "sqlite:%s/idms.db", dir);
    RUN(test_init);
    RUN(test_users);
    RUN(test_clients_and_codes);
    RUN(test_disable_revokes);
    RUN(test_key_rotate);
    RUN(test_throttle);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary();
}
