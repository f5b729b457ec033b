/* Opening MIKEY-SAKKE I_MESSAGEs (RFC 6509 §4, TS 33.180 E.1-E.7, FORMATS.md §1, §4).
 *
 * The order of the checks is the security argument: everything an attacker controls is parsed and
 * judged against public data first (structure, T window, replay cache, known sender and KMS), the
 * ECCSI signature is verified, and only a message that a known sender signed reaches the SAKKE
 * decapsulation with the receiver's RSK and the decryption of its key parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"
#include "mikey/mikey_internal.h"

#define MAX_KMS        8
#define MAX_IDENTITIES 16
#define MAX_PEERS      64
#define VERIFIER_CACHE 256 /* (identity, PVT) entries per KMS (RFC 6507 HS and Y) */

typedef struct kms_entry {
    mcx_kms_cert cert;
    mcx_eccsi_verifier *verifier;
} kms_entry;

typedef struct identity {
    char uri[MCX_URI_MAX]; /* "" when known only by UID */
    uint8_t uid[MCX_UID_BYTES];
    size_t kms;
    uint64_t period_no;
    int period_known;
    mcx_sakke_receiver *rx;
} identity;

typedef struct peer {
    char uri[MCX_URI_MAX];
    uint8_t uid[MCX_UID_BYTES];
    size_t kms;
} peer;

typedef struct replay_entry {
    uint8_t digest[32];
    uint64_t t;
} replay_entry;

struct mcx_mikey_opener {
    mcx_mikey_settings set;
    kms_entry kms[MAX_KMS];
    size_t n_kms;
    identity ids[MAX_IDENTITIES];
    size_t n_ids;
    peer peers[MAX_PEERS];
    size_t n_peers;
    replay_entry *replay; /* ring of set.replay_entries */
    size_t replay_count, replay_next;
};

static uint64_t default_now(void *arg)
{
    (void)arg;
    return mcx_ntp_now();
}

mcx_status mcx_mikey_opener_new(mcx_mikey_opener **out, const mcx_mikey_settings *settings)
{
    if (!out)
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: NULL argument");
    mcx_mikey_opener *o = calloc(1, sizeof *o);
    if (!o)
        return MCX_FAIL(MCX_E_NOMEM, "MIKEY open: out of memory");
    if (settings)
        o->set = *settings;
    if (!o->set.time_window)
        o->set.time_window = 300;
    if (!o->set.period_search)
        o->set.period_search = 2;
    if (!o->set.replay_entries)
        o->set.replay_entries = 4096;
    if (!o->set.now)
        o->set.now = default_now;
    o->replay = calloc(o->set.replay_entries, sizeof *o->replay);
    if (!o->replay) {
        free(o);
        return MCX_FAIL(MCX_E_NOMEM, "MIKEY open: out of memory");
    }
    *out = o;
    return MCX_OK;
}

void mcx_mikey_opener_free(mcx_mikey_opener *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n_kms; i++)
        mcx_eccsi_verifier_free(o->kms[i].verifier);
    for (size_t i = 0; i < o->n_ids; i++)
        mcx_sakke_receiver_free(o->ids[i].rx);
    free(o->replay);
    mcx_memzero(o, sizeof *o);
    free(o);
}

/* The trusted KMS named name (len octets, as carried in an IDR; a trailing NUL some senders
 * add is ignored), or SIZE_MAX. A KMS added with the name "" matches any name. */
static size_t find_kms(const mcx_mikey_opener *o, const uint8_t *name, size_t len)
{
    while (len > 0 && name[len - 1] == 0)
        len--;
    for (size_t i = 0; i < o->n_kms; i++) {
        const char *u = o->kms[i].cert.uri;
        if (!u[0] || (strlen(u) == len && memcmp(u, name, len) == 0))
            return i;
    }
    return SIZE_MAX;
}

static size_t find_kms_str(const mcx_mikey_opener *o, const char *name)
{
    return find_kms(o, (const uint8_t *)name, strlen(name));
}

mcx_status mcx_mikey_opener_add_kms(mcx_mikey_opener *o, const mcx_kms_cert *kms)
{
    if (!o || !kms || !memchr(kms->uri, 0, sizeof kms->uri))
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: bad KMS certificate argument");
    if (kms->key_period == 0)
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: KMS \"%s\" has a key period of 0", kms->uri);
    if (o->n_kms == MAX_KMS)
        return MCX_FAIL(MCX_E_NOMEM, "MIKEY open: more than %d trusted KMSs", MAX_KMS);
    for (size_t i = 0; i < o->n_kms; i++)
        if (strcmp(o->kms[i].cert.uri, kms->uri) == 0)
            return MCX_FAIL(MCX_E_ARG, "MIKEY open: KMS \"%s\" added twice", kms->uri);
    kms_entry *e = &o->kms[o->n_kms];
    e->cert = *kms;
    MCX_GUARD(mcx_eccsi_verifier_new(&e->verifier, kms->kpak, VERIFIER_CACHE));
    o->n_kms++;
    return MCX_OK;
}

static mcx_status copy_uri(char dst[MCX_URI_MAX], const char *uri, const char *what)
{
    if (!uri) {
        dst[0] = 0;
        return MCX_OK;
    }
    size_t n = strlen(uri);
    if (n == 0 || n >= MCX_URI_MAX)
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: %s URI must be 1 to %d octets", what,
                        MCX_URI_MAX - 1);
    memcpy(dst, uri, n + 1);
    return MCX_OK;
}

mcx_status mcx_mikey_opener_add_identity(mcx_mikey_opener *o, const char *uri, const uint8_t *uid,
                                         const char *kms_uri, uint64_t period_no,
                                         const uint8_t rsk[MCX_SAKKE_POINT_BYTES])
{
    if (!o || !kms_uri || !rsk || (!uri && !uid))
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: NULL argument (a URI or a UID is needed)");
    if (o->n_ids == MAX_IDENTITIES)
        return MCX_FAIL(MCX_E_NOMEM, "MIKEY open: more than %d own key sets", MAX_IDENTITIES);
    size_t k = find_kms_str(o, kms_uri);
    if (k == SIZE_MAX)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY open: KMS \"%s\" is not trusted", kms_uri);
    identity *id = &o->ids[o->n_ids];
    memset(id, 0, sizeof *id);
    MCX_GUARD(copy_uri(id->uri, uri, "receiver"));
    id->kms = k;
    id->period_no = period_no;
    id->period_known = uri != NULL || uid == NULL;
    if (uid)
        memcpy(id->uid, uid, MCX_UID_BYTES);
    else
        MCX_GUARD(mikey_uid(uri, &o->kms[k].cert, period_no, id->uid));
    uint8_t ident[MCX_ID_MAX_BYTES];
    size_t n = mcx_identity_from_uid(id->uid, o->kms[k].cert.id_mode, ident);
    MCX_GUARD(mcx_sakke_receiver_new(&id->rx, o->kms[k].cert.Z, ident, n, rsk));
    o->n_ids++;
    return MCX_OK;
}

mcx_status mcx_mikey_opener_add_peer(mcx_mikey_opener *o, const char *uri, const uint8_t *uid,
                                     const char *kms_uri)
{
    if (!o || !kms_uri || (!uri && !uid))
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: NULL argument (a URI or a UID is needed)");
    if (o->n_peers == MAX_PEERS)
        return MCX_FAIL(MCX_E_NOMEM, "MIKEY open: more than %d known senders", MAX_PEERS);
    size_t k = find_kms_str(o, kms_uri);
    if (k == SIZE_MAX)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY open: KMS \"%s\" is not trusted", kms_uri);
    peer *p = &o->peers[o->n_peers];
    memset(p, 0, sizeof *p);
    MCX_GUARD(copy_uri(p->uri, uri, "sender"));
    if (uid)
        memcpy(p->uid, uid, MCX_UID_BYTES);
    p->kms = k;
    o->n_peers++;
    return MCX_OK;
}

const char *mcx_mikey_stage_verdict(mcx_mikey_stage stage)
{
    static const char *const V[] = {
        [MCX_MIKEY_STAGE_NONE] = "accepted",
        [MCX_MIKEY_STAGE_PARSE] = "malformed",
        [MCX_MIKEY_STAGE_TIME] = "stale",
        [MCX_MIKEY_STAGE_REPLAY] = "replayed",
        [MCX_MIKEY_STAGE_SENDER] = "unknown sender",
        [MCX_MIKEY_STAGE_SIGNATURE] = "bad signature",
        [MCX_MIKEY_STAGE_RECEIVER] = "not for this receiver",
        [MCX_MIKEY_STAGE_DECRYPT] = "decryption failed",
        [MCX_MIKEY_STAGE_KEY] = "inconsistent key",
        [MCX_MIKEY_STAGE_PARAMS] = "bad key parameters",
    };
    return (unsigned)stage < sizeof V / sizeof V[0] ? V[stage] : "rejected";
}

void mcx_mikey_result_wipe(mcx_mikey_result *res)
{
    if (res)
        mcx_memzero(res, sizeof *res);
}

/* ---- the steps ---- */

typedef struct open_ctx {
    mcx_mikey_opener *o;
    const uint8_t *msg;
    mcx_mikey_msg m;
    uint64_t t;
    uint8_t digest[32];
    const mcx_mikey_idr *idr[16]; /* by role */
    size_t sender_kms;
    int sender_known; /* the sender was identified: a failure from here on is the signature's */
} open_ctx;

static mcx_status reject(mcx_mikey_result *res, mcx_mikey_stage stage, mcx_status st)
{
    res->stage = stage;
    res->status = st;
    snprintf(res->reason, sizeof res->reason, "%s", mcx_last_error());
    mcx_memzero(res->key, sizeof res->key);
    res->key_len = 0;
    mcx_memzero(&res->params, sizeof res->params);
    res->has_params = 0;
    return st;
}

static void uid_hex8(const uint8_t *uid, char out[17])
{
    mcx_hex_encode(uid, 8, out);
}

/* Structure a SAKKE I_MESSAGE must have (RFC 6509 §4.1). */
static mcx_status check_shape(open_ctx *c)
{
    const mcx_mikey_msg *m = &c->m;
    if (m->data_type != MCX_MIKEY_DATA_SAKKE_I)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "MIKEY: data type %u is not a SAKKE I_MESSAGE (26)",
                        m->data_type);
    if (!m->has_t)
        return MCX_FAIL(MCX_E_ENCODING, "MIKEY: no T payload");
    if (!m->has_rand)
        return MCX_FAIL(MCX_E_ENCODING, "MIKEY: no RAND payload");
    if (!m->has_sakke)
        return MCX_FAIL(MCX_E_ENCODING, "MIKEY: no SAKKE payload");
    if (!m->has_sign)
        return MCX_FAIL(MCX_E_ENCODING, "MIKEY: no SIGN payload");
    if (m->sign_type != MCX_MIKEY_SIGN_ECCSI)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "MIKEY: SIGN type %u is not ECCSI (2)", m->sign_type);
    if (m->sig.len != MCX_ECCSI_SIG_BYTES)
        return MCX_FAIL(MCX_E_LENGTH, "MIKEY: ECCSI signature is %zu octets, expected %d",
                        m->sig.len, MCX_ECCSI_SIG_BYTES);
    if (m->sakke_params != MCX_MIKEY_SAKKE_PARAMS_1)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "MIKEY: SAKKE parameter set %u is not supported (1)",
                        m->sakke_params);
    if (m->sed.len != MCX_SAKKE_SED_BYTES(16) && m->sed.len != MCX_SAKKE_SED_BYTES(32))
        return MCX_FAIL(MCX_E_LENGTH, "MIKEY: SAKKE data is %zu octets, expected %d or %d",
                        m->sed.len, MCX_SAKKE_SED_BYTES(16), MCX_SAKKE_SED_BYTES(32));
    if (m->ts_type == MCX_MIKEY_TS_COUNTER)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "MIKEY: T is a counter, not a time");
    /* One IDR per role; a second role-3 IDR is the responder's KMS (one deployed GMS). */
    for (size_t i = 0; i < m->n_idr; i++) {
        unsigned role = m->idr[i].role;
        if (role == MCX_IDR_KMS && c->idr[MCX_IDR_KMS] && !c->idr[MCX_IDR_KMS_R])
            role = MCX_IDR_KMS_R;
        if (role == 0 || role > MCX_IDR_UID_R)
            return MCX_FAIL(MCX_E_UNSUPPORTED,
                            "MIKEY: IDR role %u is not an RFC 6043 or "
                            "TS 33.180 role",
                            m->idr[i].role);
        if (c->idr[role])
            return MCX_FAIL(MCX_E_ENCODING, "MIKEY: a second IDR of role %u", m->idr[i].role);
        if ((role == MCX_IDR_UID_I || role == MCX_IDR_UID_R) && m->idr[i].data.len != MCX_UID_BYTES)
            return MCX_FAIL(MCX_E_LENGTH, "MIKEY: IDR role %u holds %zu octets, a UID is %d", role,
                            m->idr[i].data.len, MCX_UID_BYTES);
        c->idr[role] = &m->idr[i];
    }
    return MCX_OK;
}

static mcx_status check_time(open_ctx *c)
{
    uint64_t now = c->o->set.now(c->o->set.now_arg);
    uint64_t w = c->o->set.time_window;
    if (c->t + w < now)
        return MCX_FAIL(MCX_E_TIME, "MIKEY: T is %llu s old, more than the %llu s allowed",
                        (unsigned long long)(now - c->t), (unsigned long long)w);
    if (c->t > now + w)
        return MCX_FAIL(MCX_E_TIME,
                        "MIKEY: T is %llu s in the future, more than the %llu s allowed",
                        (unsigned long long)(c->t - now), (unsigned long long)w);
    return MCX_OK;
}

/* Replays are recognised by a digest of the signed octets, not of the whole message: an ECCSI
 * signature (r, s) also verifies as (r, q - s), so the signature octets can change. */
static mcx_status check_replay(open_ctx *c)
{
    unsigned int n = 0;
    if (!EVP_Digest(c->msg, c->m.signed_len, c->digest, &n, EVP_sha256(), NULL) || n != 32)
        return MCX_FAIL(MCX_E_INTERNAL, "MIKEY: SHA-256 failed");
    const mcx_mikey_opener *o = c->o;
    for (size_t i = 0; i < o->replay_count; i++)
        if (memcmp(o->replay[i].digest, c->digest, 32) == 0)
            return MCX_FAIL(MCX_E_REPLAY, "MIKEY: this message was already accepted");
    return MCX_OK;
}

static void remember(open_ctx *c)
{
    mcx_mikey_opener *o = c->o;
    replay_entry *e = &o->replay[o->replay_next];
    memcpy(e->digest, c->digest, 32);
    e->t = c->t;
    o->replay_next = (o->replay_next + 1) % o->set.replay_entries;
    if (o->replay_count < o->set.replay_entries)
        o->replay_count++;
}

/* The KMS an IDR names, or: none named and a single trusted KMS. */
static mcx_status kms_of(open_ctx *c, const mcx_mikey_idr *named, const char *who, size_t *k)
{
    if (named) {
        *k = find_kms(c->o, named->data.p, named->data.len);
        if (*k == SIZE_MAX)
            return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY: %s KMS \"%.*s\" is not trusted", who,
                            (int)(named->data.len > 80 ? 80 : named->data.len),
                            (const char *)named->data.p);
        return MCX_OK;
    }
    if (c->o->n_kms == 1) {
        *k = 0;
        return MCX_OK;
    }
    return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY: the message names no %s KMS and %zu are trusted",
                    who, c->o->n_kms);
}

/* Periods to try around p: p, p-1, p+1, p-2, ... */
static int period_at(uint64_t p, unsigned i, uint64_t *out)
{
    uint64_t d = (i + 1) / 2;
    if (i % 2) {
        if (d > p)
            return 0;
        *out = p - d;
    } else {
        *out = p + d;
    }
    return 1;
}

/* Does uri at KMS k, in some key period near T, have UID want? */
static int uri_matches_uid(open_ctx *c, const char *uri, size_t k, const uint8_t *want,
                           uint64_t *period)
{
    const mcx_kms_cert *kms = &c->o->kms[k].cert;
    uint64_t p0 = mcx_key_period_no(c->t, kms->key_period, kms->key_offset);
    for (unsigned i = 0; i <= 2 * c->o->set.period_search; i++) {
        uint8_t uid[MCX_UID_BYTES];
        if (!period_at(p0, i, period) || mikey_uid(uri, kms, *period, uid) != MCX_OK)
            continue;
        if (memcmp(uid, want, MCX_UID_BYTES) == 0)
            return 1;
    }
    return 0;
}

static mcx_status verify_as(open_ctx *c, const uint8_t uid[MCX_UID_BYTES], mcx_mikey_result *res)
{
    kms_entry *k = &c->o->kms[c->sender_kms];
    c->sender_known = 1;
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t n = mcx_identity_from_uid(uid, k->cert.id_mode, id);
    mcx_status st = mcx_eccsi_verifier_verify(k->verifier, id, n, c->msg, c->m.signed_len,
                                              c->m.sig.p, c->m.sig.len);
    if (st == MCX_E_SIG_INVALID && c->o->set.allow_legacy_scope) {
        st = mcx_eccsi_verifier_verify(k->verifier, id, n, c->msg, c->m.sign_offset, c->m.sig.p,
                                       c->m.sig.len);
        res->legacy_scope = st == MCX_OK;
    }
    return st;
}

/* Find who signed: a UID (IDR role 8) must belong to a known or claimed sender in a period near
 * T; a URI (role 1) must be known or claimed, and its UID is the one of the period at T (or, if
 * that signature fails, a nearby one). Then verify. */
static mcx_status check_sender(open_ctx *c, const char *claimed, mcx_mikey_result *res)
{
    mcx_mikey_opener *o = c->o;
    const mcx_mikey_idr *kmsi = c->idr[MCX_IDR_KMS_I] ? c->idr[MCX_IDR_KMS_I] : c->idr[MCX_IDR_KMS];
    MCX_GUARD(kms_of(c, kmsi, "sender's", &c->sender_kms));
    const mcx_mikey_idr *uidi = c->idr[MCX_IDR_UID_I], *urii = c->idr[MCX_IDR_I];
    char uri[MCX_URI_MAX] = "";
    if (urii) {
        if (urii->data.len >= MCX_URI_MAX || memchr(urii->data.p, 0, urii->data.len))
            return MCX_FAIL(MCX_E_ENCODING,
                            "MIKEY: initiator URI is not a URI of at most %d "
                            "octets",
                            MCX_URI_MAX - 1);
        memcpy(uri, urii->data.p, urii->data.len);
        uri[urii->data.len] = 0;
    }
    if (uidi) {
        const char *cands[MAX_PEERS + 2];
        size_t nc = 0;
        if (uri[0])
            cands[nc++] = uri;
        if (claimed)
            cands[nc++] = claimed;
        for (size_t i = 0; i < o->n_peers; i++)
            if (o->peers[i].kms == c->sender_kms && o->peers[i].uri[0])
                cands[nc++] = o->peers[i].uri;
        for (size_t i = 0; i < nc; i++) {
            uint64_t p;
            if (uri_matches_uid(c, cands[i], c->sender_kms, uidi->data.p, &p)) {
                snprintf(res->sender_uri, sizeof res->sender_uri, "%s", cands[i]);
                res->sender_period_no = p;
                res->sender_period_known = 1;
                memcpy(res->sender_uid, uidi->data.p, MCX_UID_BYTES);
                return verify_as(c, res->sender_uid, res);
            }
        }
        for (size_t i = 0; i < o->n_peers; i++)
            if (o->peers[i].kms == c->sender_kms && !o->peers[i].uri[0] &&
                memcmp(o->peers[i].uid, uidi->data.p, MCX_UID_BYTES) == 0) {
                memcpy(res->sender_uid, uidi->data.p, MCX_UID_BYTES);
                return verify_as(c, res->sender_uid, res);
            }
        char h[17];
        uid_hex8(uidi->data.p, h);
        return MCX_FAIL(MCX_E_UNKNOWN_PEER,
                        "MIKEY: sender UID %s... is none of the %zu known senders in key periods "
                        "near T",
                        h, nc);
    }
    if (!uri[0])
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY: the message names no initiator (IDR role 1 "
                                            "or 8)");
    int known = claimed && strcmp(claimed, uri) == 0;
    for (size_t i = 0; !known && i < o->n_peers; i++)
        known = o->peers[i].kms == c->sender_kms && strcmp(o->peers[i].uri, uri) == 0;
    if (!known)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY: sender \"%.80s\" is not a known sender", uri);
    const mcx_kms_cert *kms = &o->kms[c->sender_kms].cert;
    uint64_t p0 = mcx_key_period_no(c->t, kms->key_period, kms->key_offset);
    mcx_status st = MCX_E_SIG_INVALID;
    for (unsigned i = 0; i <= 2 * o->set.period_search; i++) {
        uint64_t p;
        if (!period_at(p0, i, &p))
            continue;
        MCX_GUARD(mikey_uid(uri, kms, p, res->sender_uid));
        st = verify_as(c, res->sender_uid, res);
        if (st != MCX_E_SIG_INVALID) {
            snprintf(res->sender_uri, sizeof res->sender_uri, "%s", uri);
            res->sender_period_no = p;
            res->sender_period_known = 1;
            return st;
        }
    }
    return MCX_FAIL(st,
                    "MIKEY: the signature does not verify for \"%.80s\" in any key period "
                    "near T",
                    uri);
}

/* Which of our key sets the message is for. */
static mcx_status find_receiver(open_ctx *c, const identity **found, mcx_mikey_result *res)
{
    mcx_mikey_opener *o = c->o;
    const mcx_mikey_idr *kmsr = c->idr[MCX_IDR_KMS_R] ? c->idr[MCX_IDR_KMS_R] : c->idr[MCX_IDR_KMS];
    const mcx_mikey_idr *uidr = c->idr[MCX_IDR_UID_R], *urir = c->idr[MCX_IDR_R];
    size_t k = SIZE_MAX;
    if (kmsr) {
        k = find_kms(o, kmsr->data.p, kmsr->data.len);
        if (k == SIZE_MAX)
            return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY: receiver's KMS \"%.*s\" is not trusted",
                            (int)(kmsr->data.len > 80 ? 80 : kmsr->data.len),
                            (const char *)kmsr->data.p);
    }
    *found = NULL;
    if (uidr) {
        for (size_t i = 0; i < o->n_ids; i++)
            if (memcmp(o->ids[i].uid, uidr->data.p, MCX_UID_BYTES) == 0)
                *found = &o->ids[i];
        if (!*found) {
            /* Ours but for a period we hold no key for? Say so precisely. */
            for (size_t i = 0; i < o->n_ids; i++) {
                uint64_t p;
                if (o->ids[i].uri[0] &&
                    uri_matches_uid(c, o->ids[i].uri, o->ids[i].kms, uidr->data.p, &p))
                    return MCX_FAIL(MCX_E_NO_KEY,
                                    "MIKEY: message is for \"%.80s\" in key "
                                    "period %llu, for which no RSK is held",
                                    o->ids[i].uri, (unsigned long long)p);
            }
            char h[17];
            uid_hex8(uidr->data.p, h);
            return MCX_FAIL(MCX_E_UNKNOWN_PEER,
                            "MIKEY: message is for UID %s..., not for this "
                            "receiver",
                            h);
        }
    } else {
        /* By URI (or no responder named): the key set of the period at T, else the nearest. */
        const char *want = NULL;
        char uri[MCX_URI_MAX];
        if (urir) {
            if (urir->data.len >= MCX_URI_MAX)
                return MCX_FAIL(MCX_E_UNKNOWN_PEER, "MIKEY: responder URI too long");
            memcpy(uri, urir->data.p, urir->data.len);
            uri[urir->data.len] = 0;
            want = uri;
        }
        uint64_t best = UINT64_MAX;
        for (size_t i = 0; i < o->n_ids; i++) {
            const identity *id = &o->ids[i];
            if (want && strcmp(id->uri, want) != 0)
                continue;
            const mcx_kms_cert *kc = &o->kms[id->kms].cert;
            uint64_t p0 = mcx_key_period_no(c->t, kc->key_period, kc->key_offset);
            uint64_t d = id->period_no > p0 ? id->period_no - p0 : p0 - id->period_no;
            if (!id->period_known)
                d = o->set.period_search; /* a raw UID key set: any period */
            if (d <= o->set.period_search && d < best) {
                best = d;
                *found = id;
            }
        }
        if (!*found)
            return MCX_FAIL(want ? MCX_E_NO_KEY : MCX_E_UNKNOWN_PEER,
                            "MIKEY: no RSK held for %s%.80s%s in a key period near T",
                            want ? "\"" : "the receiver", want ? want : "", want ? "\"" : "");
    }
    if (k != SIZE_MAX && k != (*found)->kms && o->kms[k].cert.uri[0] &&
        o->kms[(*found)->kms].cert.uri[0])
        return MCX_FAIL(MCX_E_UNKNOWN_PEER,
                        "MIKEY: receiver's KMS \"%s\" is not the KMS of "
                        "the receiver's key (\"%s\")",
                        o->kms[k].cert.uri, o->kms[(*found)->kms].cert.uri);
    memcpy(res->receiver_uid, (*found)->uid, MCX_UID_BYTES);
    snprintf(res->receiver_uri, sizeof res->receiver_uri, "%s", (*found)->uri);
    res->receiver_period_no = (*found)->period_no;
    res->receiver_period_known = (*found)->period_known;
    return MCX_OK;
}

/* Key type from the CSB-ID's purpose tag (what deployed receivers do, FORMATS §4); GMK-ID from
 * the GUK-ID (TS 33.180 F.1.3), cross-checked with the GENERIC-ID SPI when there is one. */
static mcx_status identify_key(open_ctx *c, const identity *me, mcx_mikey_result *res)
{
    const mcx_mikey_msg *m = &c->m;
    res->type = mcx_key_id_purpose(m->csb_id);
    res->csb_id = m->csb_id;
    if (res->type > MCX_KEY_TYPE_MAX)
        return MCX_FAIL(MCX_E_ENCODING, "MIKEY: CSB-ID %08x has purpose tag %u, not an MCX key",
                        (unsigned)m->csb_id, res->type);
    const mcx_mikey_bytes *spi = NULL;
    if (m->map_type == MCX_MIKEY_MAP_GENERIC_ID && m->n_cs > 0) {
        res->has_cs_id = 1;
        res->cs_id = m->cs[0].cs_id;
        spi = &m->cs[0].spi;
    }
    if (res->type != MCX_KEY_GMK) {
        res->key_id = m->csb_id;
        if (spi && spi->len == 4 && load_be32(spi->p) != m->csb_id)
            return MCX_FAIL(MCX_E_ENCODING, "MIKEY: SPI %08x differs from the CSB-ID %08x",
                            (unsigned)load_be32(spi->p), (unsigned)m->csb_id);
        return MCX_OK;
    }
    res->guk_id = m->csb_id;
    int have_spi = spi && spi->len == 8;
    if (have_spi && load_be32(spi->p + 4) != m->csb_id)
        return MCX_FAIL(MCX_E_ENCODING, "MIKEY: SPI GUK-ID %08x differs from the CSB-ID %08x",
                        (unsigned)load_be32(spi->p + 4), (unsigned)m->csb_id);
    if (me->uri[0]) {
        MCX_GUARD(mcx_gmk_id_from_guk_id(res->key, res->key_len, m->csb_id, me->uri, &res->gmk_id));
        if (have_spi && load_be32(spi->p) != res->gmk_id)
            return MCX_FAIL(MCX_E_ENCODING,
                            "MIKEY: SPI GMK-ID %08x differs from %08x derived "
                            "from the GUK-ID",
                            (unsigned)load_be32(spi->p), (unsigned)res->gmk_id);
    } else if (have_spi) {
        res->gmk_id = load_be32(spi->p);
    } else {
        return MCX_FAIL(MCX_E_NO_KEY, "MIKEY: GMK-ID unknown: the receiver's URI is not known "
                                      "and the message has no GMK-ID in its SPI");
    }
    res->key_id = res->gmk_id;
    return MCX_OK;
}

static mcx_status open_params(open_ctx *c, mcx_mikey_result *res)
{
    for (size_t i = 0; i < c->m.n_gext; i++) {
        const mcx_mikey_gext *g = &c->m.gext[i];
        if (g->type == MCX_MIKEY_GEXT_SELF) {
            res->has_self_copy = 1;
        } else if (g->type == MCX_MIKEY_GEXT_KEYPARAMS) {
            if (res->has_params)
                return MCX_FAIL(MCX_E_ENCODING, "MIKEY: two key-parameter extensions");
            MCX_GUARD(mcx_kp_open(res->key, res->key_len, c->m.csb_id, g->data.p, g->data.len,
                                  !c->o->set.refuse_legacy_params, &res->params,
                                  &res->params_form));
            res->has_params = 1;
            if (res->params.key_type != res->type)
                return MCX_FAIL(MCX_E_ENCODING, "MIKEY: key parameters say %s, the CSB-ID says %s",
                                mcx_key_type_name(res->params.key_type)
                                    ? mcx_key_type_name(res->params.key_type)
                                    : "an unknown type",
                                mcx_key_type_name(res->type));
        }
    }
    return MCX_OK;
}

mcx_status mcx_mikey_open(mcx_mikey_opener *o, const uint8_t *msg, size_t len,
                          const char *claimed_sender_uri, mcx_mikey_result *res)
{
    if (!res)
        return MCX_FAIL(MCX_E_ARG, "MIKEY open: NULL result");
    memset(res, 0, sizeof *res);
    if (!o || !msg) {
        mcx_status st = MCX_FAIL(MCX_E_ARG, "MIKEY open: NULL argument");
        return reject(res, MCX_MIKEY_STAGE_PARSE, st);
    }
    open_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.msg = msg;
    mcx_status st;
    if ((st = mcx_mikey_decode(msg, len, &c.m)) != MCX_OK || (st = check_shape(&c)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_PARSE, st);
    c.t = mcx_mikey_t_seconds(&c.m);
    res->t_ntp = c.t;
    res->rand_len = c.m.rand.len;
    memcpy(res->rand, c.m.rand.p, c.m.rand.len);
    if (!o->set.any_time && (st = check_time(&c)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_TIME, st);
    if ((st = check_replay(&c)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_REPLAY, st);
    if ((st = check_sender(&c, claimed_sender_uri, res)) != MCX_OK)
        return reject(res, c.sender_known ? MCX_MIKEY_STAGE_SIGNATURE : MCX_MIKEY_STAGE_SENDER, st);
    /* The signature holds: from here on the message is the sender's. */
    const identity *me = NULL;
    if ((st = find_receiver(&c, &me, res)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_RECEIVER, st);
    if ((st = mcx_sakke_decap(me->rx, c.m.sed.p, c.m.sed.len, res->key, sizeof res->key,
                              &res->key_len)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_DECRYPT, st);
    if ((st = identify_key(&c, me, res)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_KEY, st);
    if ((st = open_params(&c, res)) != MCX_OK)
        return reject(res, MCX_MIKEY_STAGE_PARAMS, st);
    remember(&c);
    res->status = MCX_OK;
    res->stage = MCX_MIKEY_STAGE_NONE;
    snprintf(res->reason, sizeof res->reason, "accepted");
    return MCX_OK;
}
