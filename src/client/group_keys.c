/* Accepting one group key from the GMS (include/mcxsec/group.h, docs/gms.md).
 *
 * Order of the checks: a cheap replay look-up on the signed octets first (nothing secret is
 * touched for a message already held), then the MIKEY opener (signature before decryption,
 * mikey.h), then what only the opened message can say (sender, type, key parameters, T), and the
 * keystore last. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/error_internal.h"
#include "mcxsec/group.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"

#define GROUP_FUTURE_WINDOW 300 /* s: how far ahead of now T may be (the opener's default) */
#define GROUP_PERIOD_SEARCH 2   /* key periods either side of T's whose key sets are offered */

static const char *const verdict_names[] = {"accepted",
                                            "already held",
                                            "not opened",
                                            "not from the GMS",
                                            "not a group key",
                                            "no key parameters",
                                            "a GMK for a group it is not in",
                                            "revoked",
                                            "expired",
                                            "from the future",
                                            "replayed",
                                            "rollback",
                                            "key ID conflict",
                                            "not stored"};

const char *mcx_group_verdict_name(mcx_group_verdict v)
{
    return (unsigned)v < sizeof verdict_names / sizeof verdict_names[0] ? verdict_names[v]
                                                                        : "unknown";
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static mcx_status
refuse(mcx_group_accept_result *res, mcx_group_verdict v, mcx_status st, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    res->verdict = v;
    res->status = st;
    snprintf(res->reason, sizeof res->reason, "group key %s: %s", mcx_group_verdict_name(v), why);
    return MCX_FAIL(st, "%s", res->reason);
}

static uint64_t fixed_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

/* "pseudonym=<32 lowercase hex digits>" in the key parameters' text (docs/gms.md), as a word of
 * its own: at the start or after a character that is not a letter, digit or '_'. */
static int text_pseudonym(const mcx_key_params *kp, uint8_t out[MCX_GROUP_PSEUDONYM_BYTES])
{
    static const char tag[] = "pseudonym=";
    const size_t tl = sizeof tag - 1, hl = 2 * MCX_GROUP_PSEUDONYM_BYTES;
    for (size_t i = 0; i + tl + hl <= kp->text_len; i++) {
        if (memcmp(kp->text + i, tag, tl) != 0)
            continue;
        if (i > 0) {
            unsigned char b = kp->text[i - 1];
            if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                b == '_')
                continue;
        }
        const uint8_t *h = kp->text + i + tl;
        int ok = 1;
        for (size_t k = 0; k < hl && ok; k++)
            ok = (h[k] >= '0' && h[k] <= '9') || (h[k] >= 'a' && h[k] <= 'f');
        if (!ok)
            continue;
        if (i + tl + hl < kp->text_len) {
            unsigned char a = kp->text[i + tl + hl];
            if ((a >= '0' && a <= '9') || (a >= 'a' && a <= 'f') || (a >= 'A' && a <= 'F'))
                continue; /* more hex digits: not this form */
        }
        char hex[2 * MCX_GROUP_PSEUDONYM_BYTES + 1];
        memcpy(hex, h, hl);
        hex[hl] = '\0';
        size_t got = 0;
        return mcx_hex_decode(hex, out, MCX_GROUP_PSEUDONYM_BYTES, &got) == MCX_OK &&
               got == MCX_GROUP_PSEUDONYM_BYTES;
    }
    return 0;
}

static int names_group(const mcx_key_params *kp, const char *group_id)
{
    size_t n = strlen(group_id);
    for (size_t i = 0; i < kp->n_groups && i < MCX_KP_GROUPS_MAX; i++)
        if (kp->groups[i].len == n && memcmp(kp->groups[i].id, group_id, n) == 0)
            return 1;
    return 0;
}

/* An opener that trusts every pinned KMS, knows gms_uri as the only sender at each of them, and
 * holds own_uri's key sets for the periods around t_ntp. */
static mcx_status make_opener(const mcx_keystore *ks, const char *own_uri, const char *gms_uri,
                              uint64_t t_ntp, uint64_t *now, mcx_mikey_opener **out)
{
    /* A group document is served long after its I_MESSAGEs were made: T is judged by the
     * rollback and future checks of the caller, not by the opener's +-300 s window. The key
     * parameters carry the pseudonym: the unencrypted legacy form is refused. */
    mcx_mikey_settings set = {.any_time = 1,
                              .refuse_legacy_params = 1,
                              .period_search = GROUP_PERIOD_SEARCH,
                              .now = fixed_clock,
                              .now_arg = now};
    mcx_mikey_opener *o = NULL;
    MCX_GUARD(mcx_mikey_opener_new(&o, &set));
    mcx_status st = MCX_OK;
    size_t n_ids = 0;
    for (size_t i = 0; st == MCX_OK && i < mcx_keystore_cert_count(ks); i++) {
        mcx_kms_certificate cert;
        mcx_id_mode mode;
        mcx_kms_cert kc;
        MCX_GUARD_GOTO(st, mcx_keystore_cert_at(ks, i, &cert, &mode, NULL), out);
        mcx_keystore_cert_to_mikey(&cert, mode, &kc);
        MCX_GUARD_GOTO(st, mcx_mikey_opener_add_kms(o, &kc), out);
        MCX_GUARD_GOTO(st, mcx_mikey_opener_add_peer(o, gms_uri, NULL, kc.uri), out);
        uint64_t p = mcx_key_period_no(t_ntp, kc.key_period, kc.key_offset);
        uint64_t lo = p > GROUP_PERIOD_SEARCH ? p - GROUP_PERIOD_SEARCH : 0;
        for (uint64_t q = lo; q <= p + GROUP_PERIOD_SEARCH; q++) {
            const mcx_keystore_key_set *s = NULL;
            uint64_t at = kc.key_offset + q * kc.key_period;
            if (mcx_keystore_get_key_set(ks, own_uri, kc.uri, at, &s) != MCX_OK)
                continue;
            MCX_GUARD_GOTO(st, mcx_mikey_opener_add_identity(o, own_uri, NULL, kc.uri, q, s->rsk),
                           out);
            n_ids++;
        }
    }
    mcx_clear_error();
    if (n_ids == 0)
        st = MCX_FAIL(MCX_E_NO_KEY,
                      "no key set of '%.200s' held for the key periods around T (mcx keys fetch)",
                      own_uri);
out:
    if (st != MCX_OK) {
        mcx_mikey_opener_free(o);
        return st;
    }
    *out = o;
    return MCX_OK;
}

mcx_status mcx_group_key_accept(mcx_keystore *ks, const char *own_uri, const char *gms_uri,
                                const char *group_id, int kind, const uint8_t *imessage, size_t len,
                                uint64_t now_ntp, mcx_group_accept_result *res)
{
    if (res == NULL)
        return MCX_FAIL(MCX_E_ARG, "group key: no result");
    memset(res, 0, sizeof *res);
    res->stage = MCX_MIKEY_STAGE_NONE;
    if (ks == NULL || own_uri == NULL || gms_uri == NULL || group_id == NULL || imessage == NULL ||
        own_uri[0] == '\0' || gms_uri[0] == '\0' || group_id[0] == '\0' ||
        kind < MCX_GROUP_KEY_AUTO || kind > MCX_GROUP_KEY_KIND_MAX) {
        res->status = MCX_E_ARG;
        snprintf(res->reason, sizeof res->reason, "group key: missing argument");
        return MCX_FAIL(MCX_E_ARG, "%s", res->reason);
    }
    if (strlen(group_id) >= MCX_GROUP_ID_MAX || strlen(gms_uri) >= MCX_GROUP_ID_MAX ||
        strlen(own_uri) >= MCX_GROUP_ID_MAX) {
        res->status = MCX_E_ARG;
        snprintf(res->reason, sizeof res->reason, "group key: a URI of %d octets or more",
                 MCX_GROUP_ID_MAX);
        return MCX_FAIL(MCX_E_ARG, "%s", res->reason);
    }
    uint64_t now = now_ntp != 0 ? now_ntp : mcx_ntp_now();
    res->kind = kind == MCX_GROUP_KEY_AUTO ? MCX_GROUP_KEY_GMK : (mcx_group_key_kind)kind;

    /* 1. parse, and the digest of what the signature covers (RFC 3830 §5.2 scope) */
    mcx_mikey_msg m;
    mcx_status st = mcx_mikey_decode(imessage, len, &m);
    if (st == MCX_OK && !m.has_sign)
        st = MCX_FAIL(MCX_E_ENCODING, "MIKEY: no SIGN payload");
    if (st != MCX_OK) {
        res->stage = MCX_MIKEY_STAGE_PARSE;
        return refuse(res, MCX_GROUP_OPEN_FAILED, st, "%s", mcx_last_error());
    }
    uint8_t digest[MCX_GROUP_DIGEST_BYTES];
    unsigned int dn = 0;
    if (!EVP_Digest(imessage, m.signed_len, digest, &dn, EVP_sha256(), NULL) || dn != 32) {
        res->status = MCX_E_INTERNAL;
        return MCX_FAIL(MCX_E_INTERNAL, "group key: SHA-256 failed");
    }
    for (size_t i = 0; i < mcx_keystore_group_key_count(ks); i++) {
        const mcx_keystore_group_key *k = NULL;
        if (mcx_keystore_group_key_at(ks, i, &k) == MCX_OK &&
            memcmp(k->digest, digest, sizeof digest) == 0)
            return refuse(res, MCX_GROUP_REPLAYED, MCX_E_REPLAY,
                          "this I_MESSAGE (%s %08X of '%.200s') was accepted before",
                          mcx_group_key_kind_name(k->kind), (unsigned)k->key_id, k->group_id);
    }

    /* 2. open: signature by the GMS, then SAKKE, then the key parameters */
    mcx_mikey_opener *o = NULL;
    st = make_opener(ks, own_uri, gms_uri, mcx_mikey_t_seconds(&m), &now, &o);
    if (st != MCX_OK) {
        res->stage = MCX_MIKEY_STAGE_RECEIVER;
        return refuse(res, MCX_GROUP_OPEN_FAILED, st, "%s", mcx_last_error());
    }
    mcx_mikey_result *r = mcx_secure_alloc(sizeof *r);
    mcx_keystore_group_key *k = mcx_secure_alloc(sizeof *k);
    if (r == NULL || k == NULL) {
        mcx_secure_free(r);
        mcx_secure_free(k);
        mcx_mikey_opener_free(o);
        res->status = MCX_E_NOMEM;
        return MCX_FAIL(MCX_E_NOMEM, "group key: out of memory");
    }
    st = mcx_mikey_open(o, imessage, len, NULL, r);
    mcx_mikey_opener_free(o);
    res->t_ntp = r->t_ntp;
    if (st != MCX_OK) {
        res->stage = r->stage;
        /* "unknown sender" here means: not signed by gms_uri, the only peer known */
        st = refuse(res, MCX_GROUP_OPEN_FAILED, st, "%s: %s", mcx_mikey_stage_verdict(r->stage),
                    r->reason);
        goto out;
    }
    res->key_id = r->key_id;
    res->guk_id = r->csb_id;
    res->has_params = r->has_params;
    if (r->has_params) {
        res->key_status = r->params.status;
        res->activation = r->params.activation;
        res->expiry = r->params.expiry;
    }

    /* 3. what the opened message says */
    if (strcmp(r->sender_uri, gms_uri) != 0) {
        st = refuse(res, MCX_GROUP_WRONG_SENDER, MCX_E_UNKNOWN_PEER,
                    "signed by '%.200s', not by the GMS '%.200s'", r->sender_uri, gms_uri);
        goto out;
    }
    if (r->type != MCX_KEY_GMK && r->type != MCX_KEY_MKFC) {
        st = refuse(res, MCX_GROUP_WRONG_TYPE, MCX_E_UNSUPPORTED,
                    "purpose tag %u (%s): only a GMK, GDK or MKFC comes from the GMS", r->type,
                    mcx_key_type_name(r->type) ? mcx_key_type_name(r->type) : "?");
        goto out;
    }
    if (kind == MCX_GROUP_KEY_AUTO)
        res->kind = r->type == MCX_KEY_MKFC ? MCX_GROUP_KEY_MKFC : MCX_GROUP_KEY_GMK;
    if ((res->kind == MCX_GROUP_KEY_MKFC) != (r->type == MCX_KEY_MKFC)) {
        st = refuse(res, MCX_GROUP_WRONG_TYPE, MCX_E_UNSUPPORTED,
                    "sent as a %s but its purpose tag is %u (%s)",
                    mcx_group_key_kind_name(res->kind), r->type, mcx_key_type_name(r->type));
        goto out;
    }
    if (!r->has_params) {
        st = refuse(res, MCX_GROUP_NO_PARAMS, MCX_E_ENCODING,
                    "the I_MESSAGE carries no key parameters (TS 33.180 E.6)");
        goto out;
    }
    if (r->params.key_type != r->type) {
        st = refuse(res, MCX_GROUP_WRONG_TYPE, MCX_E_UNSUPPORTED,
                    "key parameters of type %u for a key of purpose tag %u", r->params.key_type,
                    r->type);
        goto out;
    }
    if (!names_group(&r->params, group_id)) {
        st = refuse(res, MCX_GROUP_NOT_IN_GROUP, MCX_E_DENIED,
                    "the key parameters of %s %08X name %u group(s), not '%.200s'",
                    mcx_group_key_kind_name(res->kind), (unsigned)r->key_id, r->params.n_groups,
                    group_id);
        goto out;
    }
    if ((r->params.status & MCX_KP_STATUS_ACTIVE) == 0) {
        st = refuse(res, MCX_GROUP_REVOKED, MCX_E_KEY_INVALID,
                    "status 0x%08X lacks \"not revoked\" (TS 33.180 E.6.9)",
                    (unsigned)r->params.status);
        goto out;
    }
    if (r->params.expiry != 0 && r->params.expiry < now) {
        st = refuse(res, MCX_GROUP_EXPIRED, MCX_E_TIME, "expired %llu s ago",
                    (unsigned long long)(now - r->params.expiry));
        goto out;
    }
    if (r->t_ntp > now + GROUP_FUTURE_WINDOW) {
        st = refuse(res, MCX_GROUP_FROM_FUTURE, MCX_E_TIME, "T is %llu s ahead of now",
                    (unsigned long long)(r->t_ntp - now));
        goto out;
    }

    /* 4. rollback and key ID reuse against what is held (revoked keys count: a revoked newer
     *    context must not let an older one back in) */
    for (size_t i = 0; i < mcx_keystore_group_key_count(ks); i++) {
        const mcx_keystore_group_key *h = NULL;
        if (mcx_keystore_group_key_at(ks, i, &h) != MCX_OK || h->kind != res->kind ||
            strcmp(h->group_id, group_id) != 0)
            continue;
        if (h->key_id == r->key_id) {
            if (h->key_len == r->key_len && mcx_ct_equal(h->key, r->key, r->key_len)) {
                res->verdict = MCX_GROUP_ALREADY_HELD;
                res->status = MCX_OK;
                res->has_pseudonym = h->has_pseudonym;
                memcpy(res->pseudonym, h->pseudonym, sizeof res->pseudonym);
                snprintf(res->reason, sizeof res->reason, "group key already held");
                st = MCX_OK;
            } else {
                st = refuse(res, MCX_GROUP_KEY_CONFLICT, MCX_E_EXISTS,
                            "another key under %s %08X, which is held (a context never changes)",
                            mcx_group_key_kind_name(res->kind), (unsigned)r->key_id);
            }
            goto pseudonym;
        }
    }
    const mcx_keystore_group_key *newest = NULL;
    for (size_t i = 0; i < mcx_keystore_group_key_count(ks); i++) {
        const mcx_keystore_group_key *h = NULL;
        if (mcx_keystore_group_key_at(ks, i, &h) == MCX_OK && h->kind == res->kind &&
            strcmp(h->group_id, group_id) == 0 && (newest == NULL || h->t_ntp > newest->t_ntp))
            newest = h;
    }
    if (newest != NULL && r->t_ntp < newest->t_ntp) {
        st = refuse(res, MCX_GROUP_ROLLBACK, MCX_E_REPLAY,
                    "T %llu is %llu s older than %s %08X, the newest held for '%.200s'",
                    (unsigned long long)r->t_ntp, (unsigned long long)(newest->t_ntp - r->t_ntp),
                    mcx_group_key_kind_name(res->kind), (unsigned)newest->key_id, group_id);
        goto out;
    }

    /* 5. keep it */
    snprintf(k->group_id, sizeof k->group_id, "%s", group_id);
    k->kind = res->kind;
    k->key_id = r->key_id;
    memcpy(k->key, r->key, r->key_len);
    k->key_len = r->key_len;
    k->rand_len = r->rand_len <= sizeof k->rand ? r->rand_len : sizeof k->rand;
    memcpy(k->rand, r->rand, k->rand_len);
    snprintf(k->owner_uri, sizeof k->owner_uri, "%s", own_uri);
    k->guk_id = r->csb_id;
    k->has_cs_id = r->has_cs_id;
    k->cs_id = r->cs_id;
    k->params = r->params;
    k->t_ntp = r->t_ntp;
    snprintf(k->gms_uri, sizeof k->gms_uri, "%s", gms_uri);
    memcpy(k->digest, digest, sizeof digest);
    k->has_pseudonym = text_pseudonym(&r->params, k->pseudonym);
    k->received = (int64_t)time(NULL);
    st = mcx_keystore_group_key_add(ks, k);
    if (st != MCX_OK) {
        st = refuse(res, MCX_GROUP_NOT_STORED, st, "%s", mcx_last_error());
        goto out;
    }
    res->verdict = MCX_GROUP_ACCEPTED;
    res->status = MCX_OK;
    res->has_pseudonym = k->has_pseudonym;
    memcpy(res->pseudonym, k->pseudonym, sizeof res->pseudonym);
    snprintf(res->reason, sizeof res->reason, "group key accepted");
pseudonym:
    if (res->kind != MCX_GROUP_KEY_MKFC &&
        mcx_group_pseudonym(r->key, r->key_len, group_id, res->implicit_pseudonym) != MCX_OK)
        memset(res->implicit_pseudonym, 0, sizeof res->implicit_pseudonym);
    if (st == MCX_OK)
        mcx_clear_error();
out:
    mcx_mikey_result_wipe(r);
    mcx_secure_free(r);
    mcx_secure_free(k);
    return st;
}
