/* The KMS domain: its schema (component "kms"), settings, certificate and key periods, and the
 * identities (users and services) it issues key sets for. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"

/* SQL valid for SQLite and PostgreSQL (include/mcxsec/store.h). Tables carry the kms_ prefix so
 * that a KMS may share a database with an IdMS. Key sets hold the UID and PVT (public) in clear
 * and SSK || RSK only encrypted (kms_internal.h); the master secrets are never stored here. The
 * issue log is append-only: the code never updates or deletes its rows. */
static const mcx_store_migration kms_migrations[] = {
    {1, "CREATE TABLE kms_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE kms_users (uri TEXT PRIMARY KEY, created_at BIGINT NOT NULL,"
        " revoked_at BIGINT);"
        "CREATE TABLE kms_services (uri TEXT PRIMARY KEY, client_id TEXT NOT NULL,"
        " created_at BIGINT NOT NULL, revoked_at BIGINT);"
        "CREATE INDEX kms_services_client ON kms_services (client_id);"
        "CREATE TABLE kms_key_sets (uri TEXT NOT NULL, period_no BIGINT NOT NULL,"
        " uid BLOB NOT NULL, pvt BLOB NOT NULL, sealed BLOB NOT NULL, issued_at BIGINT NOT NULL,"
        " PRIMARY KEY (uri, period_no));"
        "CREATE INDEX kms_key_sets_period ON kms_key_sets (period_no);"
        "CREATE TABLE kms_issue_log (at BIGINT NOT NULL, identity TEXT NOT NULL,"
        " period_no BIGINT NOT NULL, request_id TEXT, token_sub TEXT, token_jti TEXT,"
        " client_id TEXT, address TEXT, outcome TEXT NOT NULL);"
        "CREATE INDEX kms_issue_log_at ON kms_issue_log (at);"
        "CREATE INDEX kms_issue_log_identity ON kms_issue_log (identity);"
        "CREATE TABLE kms_certcache (kms_uri TEXT PRIMARY KEY, cert_xml TEXT NOT NULL,"
        " added_at BIGINT NOT NULL)"},
    /* TS 33.180 D.1: per-identity transport (TrK) and integrity (InK) keys, each a nonce ||
     * AES-256-GCM ciphertext || tag under the storage key (client_keys.c); NULL: none. */
    {2, "CREATE TABLE kms_client_keys (uri TEXT PRIMARY KEY, trk BLOB, ink BLOB,"
        " created_at BIGINT NOT NULL)"},
    /* the IdMS subject (token "sub") that may fetch a service identity, with its client_id;
     * NULL for a service added before: served to nobody until added again */
    {3, "ALTER TABLE kms_services ADD COLUMN subject TEXT"},
    /* an external KMS certificate this domain no longer vouches for: still listed by certcache,
     * marked Revoked (TS 33.180 D.3.2.2), so that clients that cached it drop it */
    {4, "ALTER TABLE kms_certcache ADD COLUMN revoked_at BIGINT"},
};

#define STORAGE_LABEL "mcxsec kms key-set storage v1"
#define URI_MAX       255

mcx_status kms_schema_migrate(mcx_store *st)
{
    return mcx_store_migrate(st, "kms", kms_migrations,
                             sizeof kms_migrations / sizeof kms_migrations[0]);
}

static mcx_status check_settings(const mcx_kms_settings *s)
{
    size_t n = strnlen(s->kms_uri, sizeof s->kms_uri);
    if (n == 0 || n >= sizeof s->kms_uri)
        return MCX_FAIL(MCX_E_ARG, "KMS: KmsUri must be 1..%zu octets", sizeof s->kms_uri - 1);
    if (s->key_period == 0)
        return MCX_FAIL(MCX_E_ARG, "KMS: UserKeyPeriod must be > 0");
    if (s->key_offset >= s->key_period)
        return MCX_FAIL(MCX_E_ARG,
                        "KMS: UserKeyOffset %" PRIu64 " must be below the period %" PRIu64,
                        s->key_offset, s->key_period);
    if (s->id_mode != MCX_ID_RAW && s->id_mode != MCX_ID_HEX_STRING)
        return MCX_FAIL(MCX_E_ARG, "KMS: unknown identity mode");
    return MCX_OK;
}

/* ---- settings rows ---- */

typedef struct setting_row {
    const char *name;
    char value[2 * MCX_SAKKE_POINT_BYTES + 1];
} setting_row;

enum { S_URI, S_PERIOD, S_OFFSET, S_MODE, S_FORMAT, S_KPAK, S_Z, S_CREATED, S_COUNT };
static const char *const setting_names[S_COUNT] = {
    "kms_uri", "key_period", "key_offset", "id_mode", "user_id_format", "kpak", "z", "created_at"};

static void settings_to_rows(const mcx_kms_settings *s, const uint8_t *kpak, const uint8_t *Z,
                             int64_t now, setting_row rows[S_COUNT])
{
    for (int i = 0; i < S_COUNT; i++)
        rows[i].name = setting_names[i];
    snprintf(rows[S_URI].value, sizeof rows[0].value, "%s", s->kms_uri);
    snprintf(rows[S_PERIOD].value, sizeof rows[0].value, "%" PRIu64, s->key_period);
    snprintf(rows[S_OFFSET].value, sizeof rows[0].value, "%" PRIu64, s->key_offset);
    snprintf(rows[S_MODE].value, sizeof rows[0].value, "%s",
             s->id_mode == MCX_ID_HEX_STRING ? "hex" : "raw");
    snprintf(rows[S_FORMAT].value, sizeof rows[0].value, "2");
    mcx_hex_encode(kpak, MCX_ECCSI_POINT_BYTES, rows[S_KPAK].value);
    mcx_hex_encode(Z, MCX_SAKKE_POINT_BYTES, rows[S_Z].value);
    snprintf(rows[S_CREATED].value, sizeof rows[0].value, "%" PRId64, now);
}

/* Read the settings rows; *found = number of known names present. */
static mcx_status settings_read(mcx_store *st, setting_row rows[S_COUNT], int *found)
{
    mcx_stmt *q;
    *found = 0;
    for (int i = 0; i < S_COUNT; i++) {
        rows[i].name = setting_names[i];
        rows[i].value[0] = '\0';
    }
    MCX_GUARD(mcx_store_prepare(st, "SELECT name, value FROM kms_settings", &q));
    mcx_status s;
    for (;;) {
        int row = 0;
        s = mcx_stmt_step(q, &row);
        if (s != MCX_OK || !row)
            break;
        for (int i = 0; i < S_COUNT; i++) {
            if (strcmp(mcx_stmt_text(q, 0), setting_names[i]) == 0) {
                snprintf(rows[i].value, sizeof rows[i].value, "%s", mcx_stmt_text(q, 1));
                (*found)++;
            }
        }
    }
    mcx_stmt_done(q);
    return s;
}

mcx_status mcx_kms_init(mcx_store *st, const mcx_kms_secrets *secrets,
                        const mcx_kms_settings *settings, int64_t now)
{
    if (st == NULL || secrets == NULL || settings == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    MCX_GUARD(check_settings(settings));
    MCX_GUARD(kms_schema_migrate(st));
    setting_row want[S_COUNT], have[S_COUNT];
    int found = 0;
    settings_to_rows(settings, secrets->kpak, secrets->Z, now, want);
    MCX_GUARD(settings_read(st, have, &found));
    if (found == 0) {
        MCX_GUARD(mcx_store_begin(st));
        mcx_status s = MCX_OK;
        for (int i = 0; s == MCX_OK && i < S_COUNT; i++) {
            mcx_stmt *q;
            s = mcx_store_prepare(st, "INSERT INTO kms_settings (name, value) VALUES (?, ?)", &q);
            if (s != MCX_OK)
                break;
            s = mcx_stmt_bind_text(q, 1, want[i].name);
            if (s == MCX_OK)
                s = mcx_stmt_bind_text(q, 2, want[i].value);
            if (s == MCX_OK)
                s = mcx_stmt_step(q, NULL);
            mcx_stmt_done(q);
        }
        if (s == MCX_OK)
            s = mcx_store_commit(st);
        if (s == MCX_OK)
            return MCX_OK;
        mcx_store_rollback(st);
        if (s != MCX_E_EXISTS)
            return s;
        /* another process initialised it at the same moment: compare with what it wrote */
        MCX_GUARD(settings_read(st, have, &found));
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (i == S_CREATED)
            continue;
        if (strcmp(have[i].value, want[i].value) != 0)
            return MCX_FAIL(
                MCX_E_EXISTS,
                "KMS: the store already holds the KMS domain \"%.200s\" with another %s",
                have[S_URI].value, setting_names[i]);
    }
    return MCX_OK;
}

static mcx_status parse_u64(const char *name, const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || end == NULL || *end != '\0')
        return MCX_FAIL(MCX_E_STORE, "KMS: setting %s is not a number: \"%.32s\"", name, text);
    *out = v;
    return MCX_OK;
}

mcx_status mcx_kms_open(mcx_kms **out, mcx_store *st, const mcx_kms_secrets *secrets)
{
    if (out == NULL || st == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    *out = NULL;
    int version = 0;
    MCX_GUARD(mcx_store_schema_version(st, "kms", &version));
    if (version == 0)
        return MCX_FAIL(MCX_E_NOT_FOUND, "KMS: the store holds no KMS domain (run mcx kms init)");
    if ((size_t)version > sizeof kms_migrations / sizeof kms_migrations[0])
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "KMS: the store's schema version %d is newer than this"
                        " program's",
                        version);
    setting_row rows[S_COUNT];
    int found = 0;
    MCX_GUARD(settings_read(st, rows, &found));
    if (found == 0)
        return MCX_FAIL(MCX_E_NOT_FOUND, "KMS: the store holds no KMS domain (run mcx kms init)");
    mcx_kms *k = calloc(1, sizeof *k);
    if (k == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    mcx_status s = MCX_OK;
    size_t n = 0;
    size_t ul = strlen(rows[S_URI].value);
    if (ul >= sizeof k->settings.kms_uri)
        s = MCX_FAIL(MCX_E_STORE, "KMS: setting kms_uri is too long");
    else
        memcpy(k->settings.kms_uri, rows[S_URI].value, ul + 1);
    k->settings.id_mode = strcmp(rows[S_MODE].value, "hex") == 0 ? MCX_ID_HEX_STRING : MCX_ID_RAW;
    if (s == MCX_OK)
        s = parse_u64("key_period", rows[S_PERIOD].value, &k->settings.key_period);
    if (s == MCX_OK)
        s = parse_u64("key_offset", rows[S_OFFSET].value, &k->settings.key_offset);
    if (s == MCX_OK && (mcx_hex_decode(rows[S_KPAK].value, k->kpak, sizeof k->kpak, &n) != MCX_OK ||
                        n != sizeof k->kpak))
        s = MCX_FAIL(MCX_E_STORE, "KMS: setting kpak is malformed");
    if (s == MCX_OK &&
        (mcx_hex_decode(rows[S_Z].value, k->Z, sizeof k->Z, &n) != MCX_OK || n != sizeof k->Z))
        s = MCX_FAIL(MCX_E_STORE, "KMS: setting z is malformed");
    if (s == MCX_OK && check_settings(&k->settings) != MCX_OK) {
        char why[400]; /* copied: mcx_fail writes the buffer mcx_last_error reads */
        snprintf(why, sizeof why, "%s", mcx_last_error());
        s = MCX_FAIL(MCX_E_STORE, "KMS: the stored settings are invalid: %s", why);
    }
    if (s == MCX_OK && secrets != NULL) {
        if (!mcx_ct_equal(secrets->kpak, k->kpak, sizeof k->kpak) ||
            !mcx_ct_equal(secrets->Z, k->Z, sizeof k->Z)) {
            s = MCX_FAIL(MCX_E_KEY_INVALID,
                         "KMS: the master secrets do not belong to the domain \"%.200s\" of this"
                         " store (KPAK or Z differ)",
                         k->settings.kms_uri);
        } else {
            k->secrets = mcx_secure_alloc(sizeof *k->secrets);
            k->storage_key = mcx_secure_alloc(KMS_KEY_BYTES);
            if (k->secrets == NULL || k->storage_key == NULL) {
                s = MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
            } else {
                memcpy(k->secrets, secrets, sizeof *secrets);
                /* The key-set storage key: HMAC-SHA256(KSAK || z, label), a PRF output that
                 * changes with the master secrets (HKDF-Expand with one block, RFC 5869 §2.3). */
                uint8_t ikm[MCX_KMS_KSAK_BYTES + MCX_KMS_ZSECRET_BYTES];
                memcpy(ikm, secrets->ksak, MCX_KMS_KSAK_BYTES);
                memcpy(ikm + MCX_KMS_KSAK_BYTES, secrets->z, MCX_KMS_ZSECRET_BYTES);
                unsigned int olen = 0;
                if (HMAC(EVP_sha256(), ikm, sizeof ikm, (const uint8_t *)STORAGE_LABEL,
                         sizeof STORAGE_LABEL - 1, k->storage_key, &olen) == NULL ||
                    olen != KMS_KEY_BYTES)
                    s = MCX_FAIL(MCX_E_INTERNAL, "KMS: HMAC-SHA256 failed");
                mcx_memzero(ikm, sizeof ikm);
            }
        }
    }
    if (s != MCX_OK) {
        mcx_kms_close(k);
        return s;
    }
    *out = k;
    return MCX_OK;
}

void mcx_kms_close(mcx_kms *kms)
{
    if (kms == NULL)
        return;
    mcx_secure_free(kms->secrets);
    mcx_secure_free(kms->storage_key);
    free(kms);
}

const mcx_kms_settings *mcx_kms_get_settings(const mcx_kms *kms)
{
    return &kms->settings;
}

int mcx_kms_can_issue(const mcx_kms *kms)
{
    return kms != NULL && kms->secrets != NULL;
}

void mcx_kms_certificate_get(const mcx_kms *kms, mcx_kms_certificate *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->version, sizeof c->version, "1.1.0");
    c->role = MCX_KMS_ROLE_ROOT;
    snprintf(c->cert_uri, sizeof c->cert_uri, "%s", kms->settings.kms_uri);
    snprintf(c->kms_uri, sizeof c->kms_uri, "%s", kms->settings.kms_uri);
    snprintf(c->issuer, sizeof c->issuer, "%s", kms->settings.kms_uri);
    snprintf(c->user_id_format, sizeof c->user_id_format, "2");
    c->user_key_period = kms->settings.key_period;
    c->user_key_offset = kms->settings.key_offset;
    memcpy(c->z, kms->Z, sizeof c->z);
    memcpy(c->kpak, kms->kpak, sizeof c->kpak);
}

void mcx_kms_mikey_cert(const mcx_kms *kms, mcx_kms_cert *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->uri, sizeof c->uri, "%s", kms->settings.kms_uri);
    memcpy(c->Z, kms->Z, sizeof c->Z);
    memcpy(c->kpak, kms->kpak, sizeof c->kpak);
    c->key_period = kms->settings.key_period;
    c->key_offset = kms->settings.key_offset;
    c->id_mode = kms->settings.id_mode;
}

/* ---- periods (TS 33.180 F.2.1: P5 = (NTP seconds - offset) DIV period) ---- */

uint64_t mcx_kms_period_of(const mcx_kms *kms, uint64_t ntp_seconds)
{
    return mcx_key_period_no(ntp_seconds, kms->settings.key_period, kms->settings.key_offset);
}

uint64_t mcx_kms_period_start(const mcx_kms *kms, uint64_t period_no)
{
    return period_no * kms->settings.key_period + kms->settings.key_offset;
}

int mcx_kms_next_period_due(const mcx_kms *kms, uint64_t ntp_seconds, uint64_t window)
{
    uint64_t p = kms->settings.key_period;
    if (window == 0)
        window = p / 10;
    if (window > p)
        window = p;
    if (ntp_seconds < kms->settings.key_offset)
        return 0;
    uint64_t into = (ntp_seconds - kms->settings.key_offset) % p;
    return p - into <= window;
}

uint64_t mcx_kms_ntp_nearest(uint32_t seconds, uint64_t now_ntp)
{
    const uint64_t era = (uint64_t)1 << 32;
    uint64_t t = (now_ntp & ~(era - 1)) | seconds;
    /* |t - now| < 2^32 here; the neighbouring era is nearer when the distance exceeds 2^31 */
    if (t > now_ntp && t - now_ntp > era / 2 && t >= era)
        t -= era;
    else if (t < now_ntp && now_ntp - t > era / 2 && t <= UINT64_MAX - era)
        t += era;
    return t;
}

/* ---- identities ---- */

static mcx_status check_uri(const char *uri)
{
    if (uri == NULL || uri[0] == '\0' || strlen(uri) > URI_MAX)
        return MCX_FAIL(MCX_E_ARG, "KMS: an identity URI must be 1..%d octets", URI_MAX);
    return MCX_OK;
}

static mcx_status add_identity(mcx_store *st, const char *uri, const char *client_id,
                               const char *subject, int64_t now)
{
    MCX_GUARD(check_uri(uri));
    if (client_id != NULL && (client_id[0] == '\0' || strlen(client_id) > URI_MAX))
        return MCX_FAIL(MCX_E_ARG, "KMS: a client_id must be 1..%d octets", URI_MAX);
    if (client_id != NULL && (subject == NULL || subject[0] == '\0' || strlen(subject) > URI_MAX))
        return MCX_FAIL(MCX_E_ARG, "KMS: a service's subject must be 1..%d octets", URI_MAX);
    MCX_GUARD(kms_schema_migrate(st));
    mcx_kms_identity id;
    mcx_status s = mcx_kms_identity_get(st, uri, &id);
    if (s == MCX_OK)
        return MCX_FAIL(MCX_E_EXISTS, "KMS: %s \"%.200s\" exists already",
                        id.is_service ? "service" : "user", uri);
    if (s != MCX_E_NOT_FOUND)
        return s;
    mcx_stmt *q;
    if (client_id == NULL) {
        MCX_GUARD(
            mcx_store_prepare(st, "INSERT INTO kms_users (uri, created_at) VALUES (?, ?)", &q));
        s = mcx_stmt_bind_text(q, 1, uri);
        if (s == MCX_OK)
            s = mcx_stmt_bind_int(q, 2, now);
    } else {
        MCX_GUARD(mcx_store_prepare(st,
                                    "INSERT INTO kms_services (uri, client_id, subject, created_at)"
                                    " VALUES (?, ?, ?, ?)",
                                    &q));
        s = mcx_stmt_bind_text(q, 1, uri);
        if (s == MCX_OK)
            s = mcx_stmt_bind_text(q, 2, client_id);
        if (s == MCX_OK)
            s = mcx_stmt_bind_text(q, 3, subject);
        if (s == MCX_OK)
            s = mcx_stmt_bind_int(q, 4, now);
    }
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    mcx_stmt_done(q);
    if (s == MCX_E_EXISTS)
        return MCX_FAIL(MCX_E_EXISTS, "KMS: \"%.200s\" exists already", uri);
    return s;
}

mcx_status mcx_kms_user_add(mcx_store *st, const char *uri, int64_t now)
{
    if (st == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL store");
    return add_identity(st, uri, NULL, NULL, now);
}

mcx_status mcx_kms_service_add(mcx_store *st, const char *uri, const char *client_id,
                               const char *subject, int64_t now)
{
    if (st == NULL || client_id == NULL || subject == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL store, client_id or subject");
    return add_identity(st, uri, client_id, subject, now);
}

mcx_status mcx_kms_service_set(mcx_store *st, const char *uri, const char *client_id,
                               const char *subject)
{
    if (st == NULL || client_id == NULL || subject == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL store, client_id or subject");
    MCX_GUARD(check_uri(uri));
    if (client_id[0] == '\0' || strlen(client_id) > URI_MAX)
        return MCX_FAIL(MCX_E_ARG, "KMS: a client_id must be 1..%d octets", URI_MAX);
    if (subject[0] == '\0' || strlen(subject) > URI_MAX)
        return MCX_FAIL(MCX_E_ARG, "KMS: a service's subject must be 1..%d octets", URI_MAX);
    MCX_GUARD(kms_schema_migrate(st));
    mcx_stmt *q;
    MCX_GUARD(mcx_store_prepare(
        st, "UPDATE kms_services SET client_id = ?, subject = ? WHERE uri = ?", &q));
    mcx_status s = mcx_stmt_bind_text(q, 1, client_id);
    if (s == MCX_OK)
        s = mcx_stmt_bind_text(q, 2, subject);
    if (s == MCX_OK)
        s = mcx_stmt_bind_text(q, 3, uri);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    int changed = s == MCX_OK ? mcx_stmt_changes(q) : 0;
    mcx_stmt_done(q);
    MCX_GUARD(s);
    if (changed)
        return MCX_OK;
    mcx_kms_identity id;
    MCX_GUARD(mcx_kms_identity_get(st, uri, &id));
    return MCX_FAIL(MCX_E_ARG, "KMS: \"%.200s\" is a user, not a service identity", uri);
}

mcx_status mcx_kms_identity_get(mcx_store *st, const char *uri, mcx_kms_identity *out)
{
    if (st == NULL || uri == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    memset(out, 0, sizeof *out);
    static const char *const sql[2] = {
        "SELECT revoked_at, '', '' FROM kms_users WHERE uri = ?",
        "SELECT revoked_at, client_id, subject FROM kms_services WHERE uri = ?"};
    for (int i = 0; i < 2; i++) {
        mcx_stmt *q;
        int row = 0;
        MCX_GUARD(mcx_store_prepare(st, sql[i], &q));
        mcx_status s = mcx_stmt_bind_text(q, 1, uri);
        if (s == MCX_OK)
            s = mcx_stmt_step(q, &row);
        if (s == MCX_OK && row) {
            out->is_service = i;
            out->revoked = !mcx_stmt_is_null(q, 0);
            out->revoked_at = mcx_stmt_int(q, 0);
            snprintf(out->client_id, sizeof out->client_id, "%s", mcx_stmt_text(q, 1));
            if (!mcx_stmt_is_null(q, 2))
                snprintf(out->subject, sizeof out->subject, "%s", mcx_stmt_text(q, 2));
        }
        mcx_stmt_done(q);
        MCX_GUARD(s);
        if (row)
            return MCX_OK;
    }
    return MCX_FAIL(MCX_E_NOT_FOUND, "KMS: unknown identity \"%.200s\"", uri);
}

mcx_status mcx_kms_identity_revoke(mcx_store *st, const char *uri, int64_t now)
{
    mcx_kms_identity id;
    MCX_GUARD(mcx_kms_identity_get(st, uri, &id));
    if (id.revoked)
        return MCX_OK;
    mcx_stmt *q;
    MCX_GUARD(mcx_store_prepare(st,
                                id.is_service
                                    ? "UPDATE kms_services SET revoked_at = ? WHERE uri = ? AND "
                                      "revoked_at IS NULL"
                                    : "UPDATE kms_users SET revoked_at = ? WHERE uri = ? AND "
                                      "revoked_at IS NULL",
                                &q));
    mcx_status s = mcx_stmt_bind_int(q, 1, now);
    if (s == MCX_OK)
        s = mcx_stmt_bind_text(q, 2, uri);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    mcx_stmt_done(q);
    return s;
}

/* ---- external KMS certificates (certcache) ---- */

mcx_status kms_certcache_parse(const char *cert_xml, mcx_kms_certificate *out)
{
    size_t n = strlen(cert_xml);
    if (n > MCX_KMS_XML_MAX_BYTES / 2)
        return MCX_FAIL(MCX_E_LENGTH, "KMS: certcache entry of %zu octets", n);
    /* an XML declaration inside the wrapper would be malformed */
    const char *body = cert_xml;
    if (strncmp(body, "<?xml", 5) == 0) {
        const char *e = strstr(body, "?>");
        if (e != NULL)
            body = e + 2;
    }
    body += strspn(body, " \t\r\n");
    mcx_kms_response resp;
    mcx_status st;
    if (strncmp(body, "<KmsResponse", 12) == 0) {
        /* what mcx kms export-cert --format xml prints at the other KMS */
        st = mcx_kms_response_parse((const uint8_t *)body, strlen(body), 0, &resp);
    } else {
        /* a bare KmsCertificate: read inside a KmsInit, so that every check of the codec (and
         * the schema's, through the same parser) applies to it */
        size_t cap = strlen(body) + 1024;
        char *doc = malloc(cap);
        if (doc == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
        int len = snprintf(doc, cap,
                           "<KmsResponse xmlns=\"" MCX_KMS_XML_NS "\" Version=\"1.0.0\">"
                           "<UserUri>x</UserUri><KmsUri>x</KmsUri>"
                           "<Time>1970-01-01T00:00:00Z</Time>"
                           "<ClientReqUrl>https://localhost/</ClientReqUrl><KmsMessage>"
                           "<KmsInit Version=\"1.0.0\">%s</KmsInit></KmsMessage></KmsResponse>",
                           body);
        st = len > 0 && (size_t)len < cap
                 ? mcx_kms_response_parse((const uint8_t *)doc, (size_t)len, 0, &resp)
                 : MCX_FAIL(MCX_E_LENGTH, "KMS: certcache entry too long");
        free(doc);
    }
    MCX_GUARD(st);
    if (resp.type != MCX_KMS_MSG_INIT || resp.n_certs != 1) {
        mcx_kms_response_free(&resp);
        return MCX_FAIL(MCX_E_ENCODING, "KMS: certcache entry is not one KmsCertificate");
    }
    *out = resp.certs[0];
    mcx_kms_response_free(&resp);
    return MCX_OK;
}

mcx_status mcx_kms_certcache_put(mcx_store *st, const char *kms_uri, const char *cert_xml,
                                 int64_t now)
{
    if (st == NULL || kms_uri == NULL || kms_uri[0] == '\0' || cert_xml == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: certcache entry needs a KmsUri and a certificate");
    /* only a certificate the codec reads, of the KmsUri it is filed under: an entry that does
     * not parse would be left out of every certcache answer */
    mcx_kms_certificate *c = malloc(sizeof *c);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    mcx_status s = kms_certcache_parse(cert_xml, c);
    if (s != MCX_OK && s != MCX_E_NOMEM) {
        char why[400]; /* copied: mcx_fail writes the buffer mcx_last_error reads */
        snprintf(why, sizeof why, "%s", mcx_last_error());
        s = MCX_FAIL(MCX_E_ARG, "KMS: not a KmsCertificate: %s", why);
    }
    if (s == MCX_OK && strcmp(c->kms_uri, kms_uri) != 0)
        s = MCX_FAIL(MCX_E_ARG, "KMS: the certificate is of KmsUri \"%.200s\", not \"%.200s\"",
                     c->kms_uri, kms_uri);
    free(c);
    MCX_GUARD(s);
    MCX_GUARD(kms_schema_migrate(st));
    MCX_GUARD(mcx_store_begin(st));
    mcx_stmt *q;
    s = mcx_store_prepare(st, "DELETE FROM kms_certcache WHERE kms_uri = ?", &q);
    if (s == MCX_OK) {
        s = mcx_stmt_bind_text(q, 1, kms_uri);
        if (s == MCX_OK)
            s = mcx_stmt_step(q, NULL);
        mcx_stmt_done(q);
    }
    if (s == MCX_OK)
        s = mcx_store_prepare(
            st, "INSERT INTO kms_certcache (kms_uri, cert_xml, added_at) VALUES (?, ?, ?)", &q);
    if (s == MCX_OK) {
        s = mcx_stmt_bind_text(q, 1, kms_uri);
        if (s == MCX_OK)
            s = mcx_stmt_bind_text(q, 2, cert_xml);
        if (s == MCX_OK)
            s = mcx_stmt_bind_int(q, 3, now);
        if (s == MCX_OK)
            s = mcx_stmt_step(q, NULL);
        mcx_stmt_done(q);
    }
    if (s == MCX_OK)
        s = mcx_store_commit(st);
    if (s != MCX_OK)
        mcx_store_rollback(st);
    return s;
}

/* One statement on the certcache row of kms_uri; *changed = rows changed. */
static mcx_status certcache_exec(mcx_store *st, const char *sql, const char *kms_uri, int64_t now,
                                 int *changed)
{
    mcx_stmt *q;
    MCX_GUARD(mcx_store_prepare(st, sql, &q));
    int at = 1;
    mcx_status s = MCX_OK;
    if (strchr(sql, '?') != strrchr(sql, '?'))
        s = mcx_stmt_bind_int(q, at++, now);
    if (s == MCX_OK)
        s = mcx_stmt_bind_text(q, at, kms_uri);
    if (s == MCX_OK)
        s = mcx_stmt_step(q, NULL);
    *changed = s == MCX_OK ? mcx_stmt_changes(q) : 0;
    mcx_stmt_done(q);
    return s;
}

mcx_status mcx_kms_certcache_revoke(mcx_store *st, const char *kms_uri, int64_t now)
{
    if (st == NULL || kms_uri == NULL || kms_uri[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "KMS: certcache revoke needs a KmsUri");
    MCX_GUARD(kms_schema_migrate(st));
    int changed = 0;
    MCX_GUARD(certcache_exec(st,
                             "UPDATE kms_certcache SET revoked_at = ? WHERE kms_uri = ? AND"
                             " revoked_at IS NULL",
                             kms_uri, now, &changed));
    if (changed)
        return MCX_OK;
    /* revoked already (the first time is kept), or not there */
    MCX_GUARD(certcache_exec(st,
                             "UPDATE kms_certcache SET revoked_at = revoked_at WHERE kms_uri = ?",
                             kms_uri, now, &changed));
    if (!changed)
        return MCX_FAIL(MCX_E_NOT_FOUND, "KMS: no certcache entry for \"%.200s\"", kms_uri);
    return MCX_OK;
}

mcx_status mcx_kms_certcache_remove(mcx_store *st, const char *kms_uri)
{
    if (st == NULL || kms_uri == NULL || kms_uri[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "KMS: certcache remove needs a KmsUri");
    MCX_GUARD(kms_schema_migrate(st));
    int changed = 0;
    MCX_GUARD(
        certcache_exec(st, "DELETE FROM kms_certcache WHERE kms_uri = ?", kms_uri, 0, &changed));
    if (!changed)
        return MCX_FAIL(MCX_E_NOT_FOUND, "KMS: no certcache entry for \"%.200s\"", kms_uri);
    return MCX_OK;
}
