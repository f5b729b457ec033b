/* The client keystore (include/mcxsec/keystore.h).
 *
 * File layout (all integers big-endian):
 *   "MCXKEYST"  magic, 8 octets
 *   u8  version (3 with a group section, else 2; version 1 files, which have no KMS URL
 *       bindings, are read too)
 *   u8  protection: 0 clear, 1 Argon2id + AES-256-GCM
 *   [protection 1: u32 t_cost, u32 m_kib, u32 lanes, salt(16), nonce(12)]
 *   u32 body length
 *   body            clear text, or the AES-256-GCM cipher text
 *   trailer         protection 0: SHA-256(header || body); protection 1: the GCM tag (16)
 * The header (everything before the body) is the GCM associated data, so the Argon2 parameters
 * and the salt cannot be altered without the tag failing.
 * Body:
 *   u32 n_certs, then per certificate its stored form (cert_write below)
 *   u32 n_sets,  then per key set: user_uri, kms_uri, period_no, uid, validity, ssk, pvt, rsk
 *   [version 2] u32 n_bindings, then per binding: KMS origin (https://host[:port], lower case),
 *               the KmsUri pinned for it (which must be pinned in this file)
 *   [version 3] u32 n_group_keys, then per group key (gkey_write below): group ID, kind, key ID,
 *               key, RAND, owner, GUK-ID, CS-ID, key parameters (TS 33.180 E.6 plain form),
 *               T, GMS, digest, pseudonym, revoked, received;
 *               u32 n_groups, then per group: group ID, GMS, display name, kind, updated,
 *               u32 n_members and the member URIs
 * Strings are u16 length + octets (no NUL inside, shorter than the in-memory field). */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/keystore_internal.h"
#include "common/cursor_internal.h"
#include "common/error_internal.h"
#include "mikey/aead_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/keystore.h"
#include "mcxsec/login.h"
#include "mcxsec/mem.h"

#define KS_MAGIC       "MCXKEYST"
#define KS_VERSION     3
#define KS_VERSION_V2  2 /* no group section: what a keystore without groups is written as */
#define KS_VERSION_V1  1 /* no KMS URL bindings */
#define KS_CLEAR       0
#define KS_SEALED      1
#define KS_SALT_BYTES  16
#define KS_NONCE_BYTES 12
#define KS_TAG_BYTES   16
#define KS_KEY_BYTES   32
#define KS_SUM_BYTES   32
#define KS_HDR_MAX     (8 + 2 + 12 + KS_SALT_BYTES + KS_NONCE_BYTES + 4)
#define KS_CERT_MAX    4096 /* bound on one stored certificate */
#define KS_SET_MAX     1024 /* bound on one stored key set */
#define KS_BIND_MAX    (4 + MCX_KEYSTORE_ORIGIN_MAX + MCX_KMS_TEXT_MAX) /* one stored binding */
#define KS_GKEY_MAX    4096 /* bound on one stored group key (key parameters: at most 2348) */
#define KS_GROUP_FIXED (3 * (2 + MCX_GROUP_ID_MAX) + 2 + 16 + 8 + 4) /* a group without members */
#define KS_MEMBER_MAX  (2 + MCX_GROUP_ID_MAX)
#define KS_FILE_MAX                                                                                \
    (KS_HDR_MAX + 20 + MCX_KEYSTORE_MAX_CERTS * (KS_CERT_MAX + KS_BIND_MAX) +                      \
     MCX_KEYSTORE_MAX_KEY_SETS * KS_SET_MAX + MCX_KEYSTORE_MAX_GROUP_KEYS * KS_GKEY_MAX +          \
     MCX_KEYSTORE_MAX_GROUPS * KS_GROUP_FIXED + MCX_KEYSTORE_MAX_ALL_MEMBERS * KS_MEMBER_MAX +     \
     KS_SUM_BYTES)
#define KS_PATH_MAX 4096
/* Limits on Argon2 parameters read from a file: a hostile file must not make open take hours
 * or gigabytes. */
#define KS_T_LIMIT 64u
#define KS_M_LIMIT (4u * 1024u * 1024u) /* KiB: 4 GiB */
#define KS_P_LIMIT 16u

typedef struct ks_cert {
    mcx_kms_certificate cert;
    mcx_id_mode mode;
    uint8_t fp[MCX_KEYSTORE_FP_BYTES];
} ks_cert;

/* The KmsUri a KMS URL's origin is pinned to: a server at that origin must keep presenting it. */
typedef struct ks_bind {
    char origin[MCX_KEYSTORE_ORIGIN_MAX];
    char kms_uri[MCX_KMS_TEXT_MAX];
} ks_bind;

struct mcx_keystore {
    char path[KS_PATH_MAX];
    ks_cert *certs; /* public: malloc */
    size_t n_certs;
    ks_bind *binds; /* public: malloc, at most MCX_KEYSTORE_MAX_CERTS */
    size_t n_binds;
    mcx_keystore_key_set *sets; /* secret: mcx_secure_alloc */
    size_t n_sets, cap_sets;
    mcx_keystore_group_key *gkeys; /* secret: mcx_secure_alloc */
    size_t n_gkeys, cap_gkeys;
    mcx_keystore_group_info *groups; /* public: malloc, members malloc'd */
    size_t n_groups, n_all_members;
    char *pass; /* mcx_secure_alloc, or NULL: stored in clear */
    size_t pass_len;
    uint32_t t_cost, m_kib, lanes;
};

/* ---- stored forms ---- */

static void wr_str(mcx_writer *w, const char *s)
{
    size_t n = strlen(s);
    wr_u16(w, (uint16_t)n);
    wr_bytes(w, s, n);
}

static mcx_status rd_str(mcx_reader *r, const char *field, char *out, size_t cap)
{
    uint16_t n;
    const uint8_t *p;
    MCX_GUARD(rd_u16(r, field, &n));
    if ((size_t)n >= cap)
        return rd_fail(r, MCX_E_ENCODING, "%s is %u octets (at most %zu)", field, n, cap - 1);
    MCX_GUARD(rd_bytes(r, field, n, &p));
    if (memchr(p, 0, n) != NULL)
        return rd_fail(r, MCX_E_ENCODING, "%s holds a NUL", field);
    memcpy(out, p, n);
    out[n] = '\0';
    return MCX_OK;
}

static mcx_status rd_flag(mcx_reader *r, const char *field, unsigned max, uint8_t *v)
{
    MCX_GUARD(rd_u8(r, field, v));
    if (*v > max)
        return rd_fail(r, MCX_E_ENCODING, "%s is %u", field, *v);
    return MCX_OK;
}

static void cert_write(mcx_writer *w, const mcx_kms_certificate *c, mcx_id_mode mode)
{
    wr_str(w, c->version);
    wr_u8(w, (uint8_t)c->role);
    wr_u8(w, (uint8_t)c->is_security_gateway);
    wr_u8(w, (uint8_t)(c->signed_form != 0));
    wr_str(w, c->cert_uri);
    wr_str(w, c->kms_uri);
    wr_str(w, c->issuer);
    wr_u8(w, (uint8_t)(c->has_valid_from != 0));
    wr_u64(w, (uint64_t)(int64_t)c->valid_from);
    wr_u8(w, (uint8_t)(c->has_valid_to != 0));
    wr_u64(w, (uint64_t)(int64_t)c->valid_to);
    wr_u8(w, (uint8_t)c->revoked);
    wr_str(w, c->user_id_format);
    wr_u64(w, c->user_key_period);
    wr_u64(w, c->user_key_offset);
    wr_bytes(w, c->z, sizeof c->z);
    wr_bytes(w, c->kpak, sizeof c->kpak);
    wr_u8(w, (uint8_t)(c->has_parameter_set != 0));
    wr_u32(w, c->parameter_set);
    wr_u8(w, (uint8_t)c->n_domains);
    for (size_t i = 0; i < c->n_domains && i < MCX_KMS_MAX_DOMAINS; i++)
        wr_str(w, c->domains[i]);
    wr_u8(w, (uint8_t)mode);
}

static mcx_status cert_read(mcx_reader *r, mcx_kms_certificate *c, mcx_id_mode *mode)
{
    uint8_t v;
    uint64_t t;
    memset(c, 0, sizeof *c);
    MCX_GUARD(rd_str(r, "certificate Version", c->version, sizeof c->version));
    MCX_GUARD(rd_flag(r, "certificate Role", MCX_KMS_ROLE_EXTERNAL, &v));
    c->role = (mcx_kms_role)v;
    MCX_GUARD(rd_flag(r, "certificate IsSecurityGateway", MCX_KMS_TRUE, &v));
    c->is_security_gateway = (mcx_kms_bool)v;
    MCX_GUARD(rd_flag(r, "certificate signed form", 1, &v));
    c->signed_form = v;
    MCX_GUARD(rd_str(r, "CertUri", c->cert_uri, sizeof c->cert_uri));
    MCX_GUARD(rd_str(r, "KmsUri", c->kms_uri, sizeof c->kms_uri));
    MCX_GUARD(rd_str(r, "Issuer", c->issuer, sizeof c->issuer));
    MCX_GUARD(rd_flag(r, "ValidFrom flag", 1, &v));
    c->has_valid_from = v;
    MCX_GUARD(rd_u64(r, "ValidFrom", &t));
    c->valid_from = (time_t)(int64_t)t;
    MCX_GUARD(rd_flag(r, "ValidTo flag", 1, &v));
    c->has_valid_to = v;
    MCX_GUARD(rd_u64(r, "ValidTo", &t));
    c->valid_to = (time_t)(int64_t)t;
    MCX_GUARD(rd_flag(r, "Revoked", MCX_KMS_TRUE, &v));
    c->revoked = (mcx_kms_bool)v;
    MCX_GUARD(rd_str(r, "UserIdFormat", c->user_id_format, sizeof c->user_id_format));
    MCX_GUARD(rd_u64(r, "UserKeyPeriod", &c->user_key_period));
    MCX_GUARD(rd_u64(r, "UserKeyOffset", &c->user_key_offset));
    MCX_GUARD(rd_copy(r, "PubEncKey", sizeof c->z, c->z));
    MCX_GUARD(rd_copy(r, "PubAuthKey", sizeof c->kpak, c->kpak));
    MCX_GUARD(rd_flag(r, "ParameterSet flag", 1, &v));
    c->has_parameter_set = v;
    MCX_GUARD(rd_u32(r, "ParameterSet", &c->parameter_set));
    MCX_GUARD(rd_flag(r, "KmsDomain count", MCX_KMS_MAX_DOMAINS, &v));
    c->n_domains = v;
    for (size_t i = 0; i < c->n_domains; i++)
        MCX_GUARD(rd_str(r, "KmsDomain", c->domains[i], sizeof c->domains[i]));
    MCX_GUARD(rd_flag(r, "identity mode", MCX_ID_HEX_STRING, &v));
    *mode = (mcx_id_mode)v;
    if (c->kms_uri[0] == '\0' || c->user_key_period == 0)
        return rd_fail(r, MCX_E_ENCODING, "certificate without KmsUri or key period");
    return MCX_OK;
}

static void set_write(mcx_writer *w, const mcx_keystore_key_set *s)
{
    wr_str(w, s->user_uri);
    wr_str(w, s->kms_uri);
    wr_u64(w, s->period_no);
    wr_bytes(w, s->uid, sizeof s->uid);
    wr_u8(w, (uint8_t)(s->has_valid_from != 0));
    wr_u64(w, (uint64_t)(int64_t)s->valid_from);
    wr_u8(w, (uint8_t)(s->has_valid_to != 0));
    wr_u64(w, (uint64_t)(int64_t)s->valid_to);
    wr_bytes(w, s->ssk, sizeof s->ssk);
    wr_bytes(w, s->pvt, sizeof s->pvt);
    wr_bytes(w, s->rsk, sizeof s->rsk);
}

static mcx_status set_read(mcx_reader *r, mcx_keystore_key_set *s)
{
    uint8_t v;
    uint64_t t;
    MCX_GUARD(rd_str(r, "key set UserUri", s->user_uri, sizeof s->user_uri));
    MCX_GUARD(rd_str(r, "key set KmsUri", s->kms_uri, sizeof s->kms_uri));
    MCX_GUARD(rd_u64(r, "KeyPeriodNo", &s->period_no));
    MCX_GUARD(rd_copy(r, "UserID", sizeof s->uid, s->uid));
    MCX_GUARD(rd_flag(r, "ValidFrom flag", 1, &v));
    s->has_valid_from = v;
    MCX_GUARD(rd_u64(r, "ValidFrom", &t));
    s->valid_from = (time_t)(int64_t)t;
    MCX_GUARD(rd_flag(r, "ValidTo flag", 1, &v));
    s->has_valid_to = v;
    MCX_GUARD(rd_u64(r, "ValidTo", &t));
    s->valid_to = (time_t)(int64_t)t;
    MCX_GUARD(rd_copy(r, "SSK", sizeof s->ssk, s->ssk));
    MCX_GUARD(rd_copy(r, "PVT", sizeof s->pvt, s->pvt));
    MCX_GUARD(rd_copy(r, "RSK", sizeof s->rsk, s->rsk));
    return MCX_OK;
}

void mcx_keystore_cert_fingerprint(const mcx_kms_certificate *cert, mcx_id_mode mode,
                                   uint8_t fp[MCX_KEYSTORE_FP_BYTES])
{
    uint8_t buf[KS_CERT_MAX];
    mcx_writer w;
    wr_init(&w, buf, sizeof buf);
    cert_write(&w, cert, mode);
    SHA256(buf, wr_len(&w), fp);
}

/* ---- file system ---- */

mcx_status mcx_keystore_default_path(char *path, size_t cap)
{
    char tok[KS_PATH_MAX];
    MCX_GUARD(mcx_tokens_path(NULL, tok, sizeof tok));
    char *slash = strrchr(tok, '/');
    if (slash != NULL)
        *slash = '\0';
    int n = snprintf(path, cap, "%s/keystore.bin", slash != NULL ? tok : ".");
    if (n < 0 || (size_t)n >= cap)
        return MCX_FAIL(MCX_E_ARG, "keystore: path longer than %zu", cap - 1);
    return MCX_OK;
}

static void dir_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, cap, ".");
}

/* The folder must be ours and closed to others: whoever can write to it can swap the file. */
static mcx_status check_dir(const char *dir, int *exists)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT && exists != NULL) {
            *exists = 0;
            return MCX_OK;
        }
        return MCX_FAIL(MCX_E_IO, "keystore: '%s': %s", dir, strerror(errno));
    }
    if (exists != NULL)
        *exists = 1;
    if (!S_ISDIR(sb.st_mode))
        return MCX_FAIL(MCX_E_IO, "keystore: '%s' is not a folder", dir);
    if (sb.st_uid != geteuid() || (sb.st_mode & 0077) != 0)
        return MCX_FAIL(MCX_E_DENIED,
                        "keystore: folder '%s' has mode %03o (or another owner); it must be 0700 "
                        "and yours",
                        dir, (unsigned)(sb.st_mode & 0777));
    return MCX_OK;
}

static mcx_status make_dirs(char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return S_ISDIR(sb.st_mode) ? MCX_OK
                                   : MCX_FAIL(MCX_E_IO, "keystore: '%s' is not a folder", dir);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        mcx_status st = make_dirs(dir);
        *slash = '/';
        MCX_GUARD(st);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return MCX_FAIL(MCX_E_IO, "keystore: cannot create '%s': %s", dir, strerror(errno));
    return MCX_OK;
}

/* ---- sealing ---- */

static mcx_status derive_key(const char *pass, size_t pass_len, uint32_t t, uint32_t m, uint32_t p,
                             const uint8_t salt[KS_SALT_BYTES], uint8_t key[KS_KEY_BYTES])
{
    /* RFC 9106 Argon2id: the passphrase is the only secret; salt and costs are in the header */
    int rc = argon2id_hash_raw(t, m, p, pass, pass_len, salt, KS_SALT_BYTES, key, KS_KEY_BYTES);
    if (rc != ARGON2_OK)
        return MCX_FAIL(rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MCX_E_NOMEM : MCX_E_INTERNAL,
                        "keystore: Argon2id failed: %s", argon2_error_message(rc));
    return MCX_OK;
}

/* AES-256-GCM (NIST SP 800-38D, the core's mikey/aead_internal.h) over in[0..n) into out, with
 * aad; enc 1 seals (writes tag), enc 0 opens (checks tag; out wiped on failure). */
static mcx_status gcm(int enc, const uint8_t key[KS_KEY_BYTES], const uint8_t nonce[KS_NONCE_BYTES],
                      const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
                      uint8_t tag[KS_TAG_BYTES])
{
    if (enc)
        return mcx_gcm_seal("keystore", key, KS_KEY_BYTES, nonce, KS_NONCE_BYTES, aad, aad_len, in,
                            n, out, tag);
    mcx_status st = mcx_gcm_open("keystore", key, KS_KEY_BYTES, nonce, KS_NONCE_BYTES, aad, aad_len,
                                 in, n, tag, out);
    if (st == MCX_E_TAG_INVALID)
        st = MCX_FAIL(MCX_E_TAG_INVALID, "keystore: wrong passphrase, or the file was altered");
    return st;
}

/* ---- keystore object ---- */

static void group_info_clear(mcx_keystore_group_info *g)
{
    for (size_t i = 0; i < g->n_members; i++)
        free(g->members[i]);
    free(g->members);
    memset(g, 0, sizeof *g);
}

static mcx_keystore *ks_new(const char *path)
{
    mcx_keystore *ks = calloc(1, sizeof *ks);
    if (ks == NULL)
        return NULL;
    snprintf(ks->path, sizeof ks->path, "%s", path);
    ks->t_cost = MCX_KEYSTORE_ARGON2_T;
    ks->m_kib = MCX_KEYSTORE_ARGON2_M;
    ks->lanes = MCX_KEYSTORE_ARGON2_P;
    return ks;
}

void mcx_keystore_free(mcx_keystore *ks)
{
    if (ks == NULL)
        return;
    mcx_secure_free(ks->sets);
    mcx_secure_free(ks->gkeys);
    for (size_t i = 0; i < ks->n_groups; i++)
        group_info_clear(&ks->groups[i]);
    free(ks->groups);
    mcx_secure_free(ks->pass);
    if (ks->certs != NULL) {
        mcx_memzero(ks->certs, ks->n_certs * sizeof *ks->certs);
        free(ks->certs);
    }
    free(ks->binds);
    mcx_memzero(ks, sizeof *ks);
    free(ks);
}

int mcx_keystore_sealed(const mcx_keystore *ks)
{
    return ks != NULL && ks->pass != NULL;
}

static mcx_status reserve_sets(mcx_keystore *ks, size_t need)
{
    if (need <= ks->cap_sets)
        return MCX_OK;
    if (need > MCX_KEYSTORE_MAX_KEY_SETS)
        return MCX_FAIL(MCX_E_LENGTH, "keystore: more than %d key sets", MCX_KEYSTORE_MAX_KEY_SETS);
    size_t cap = ks->cap_sets == 0 ? 8 : ks->cap_sets * 2;
    while (cap < need)
        cap *= 2;
    if (cap > MCX_KEYSTORE_MAX_KEY_SETS)
        cap = MCX_KEYSTORE_MAX_KEY_SETS;
    mcx_keystore_key_set *n = mcx_secure_alloc(cap * sizeof *n);
    if (n == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    if (ks->sets != NULL)
        memcpy(n, ks->sets, ks->n_sets * sizeof *n);
    mcx_secure_free(ks->sets);
    ks->sets = n;
    ks->cap_sets = cap;
    return MCX_OK;
}

static mcx_status add_cert(mcx_keystore *ks, const mcx_kms_certificate *cert, mcx_id_mode mode)
{
    if (ks->n_certs >= MCX_KEYSTORE_MAX_CERTS)
        return MCX_FAIL(MCX_E_LENGTH, "keystore: more than %d KMS certificates",
                        MCX_KEYSTORE_MAX_CERTS);
    ks_cert *n = realloc(ks->certs, (ks->n_certs + 1) * sizeof *n);
    if (n == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    ks->certs = n;
    n[ks->n_certs].cert = *cert;
    n[ks->n_certs].mode = mode;
    mcx_keystore_cert_fingerprint(cert, mode, n[ks->n_certs].fp);
    ks->n_certs++;
    return MCX_OK;
}

static ks_cert *find_cert(const mcx_keystore *ks, const char *kms_uri)
{
    for (size_t i = 0; i < ks->n_certs; i++)
        if (strcmp(ks->certs[i].cert.kms_uri, kms_uri) == 0)
            return &ks->certs[i];
    return NULL;
}

static mcx_status put_bind(mcx_keystore *ks, const char *origin, const char *kms_uri);
static ks_bind *find_bind(const mcx_keystore *ks, const char *origin);
static mcx_status groups_read(mcx_keystore *ks, mcx_reader *r);
static void groups_write(const mcx_keystore *ks, mcx_writer *w);

static mcx_status parse_body(mcx_keystore *ks, const uint8_t *body, size_t len, unsigned version)
{
    mcx_reader r;
    rd_init(&r, body, len, "keystore");
    uint32_t nc, ns;
    MCX_GUARD(rd_u32(&r, "certificate count", &nc));
    if (nc > MCX_KEYSTORE_MAX_CERTS)
        return rd_fail(&r, MCX_E_ENCODING, "%u certificates", nc);
    for (uint32_t i = 0; i < nc; i++) {
        mcx_kms_certificate c;
        mcx_id_mode mode;
        MCX_GUARD(cert_read(&r, &c, &mode));
        if (find_cert(ks, c.kms_uri) != NULL)
            return rd_fail(&r, MCX_E_ENCODING, "KmsUri pinned twice");
        MCX_GUARD(add_cert(ks, &c, mode));
    }
    MCX_GUARD(rd_u32(&r, "key set count", &ns));
    if (ns > MCX_KEYSTORE_MAX_KEY_SETS)
        return rd_fail(&r, MCX_E_ENCODING, "%u key sets", ns);
    MCX_GUARD(reserve_sets(ks, ns));
    for (uint32_t i = 0; i < ns; i++) {
        MCX_GUARD(set_read(&r, &ks->sets[ks->n_sets]));
        ks->n_sets++;
        if (find_cert(ks, ks->sets[ks->n_sets - 1].kms_uri) == NULL)
            return rd_fail(&r, MCX_E_ENCODING, "a key set of a KMS that is not pinned");
    }
    if (version == KS_VERSION_V1)
        return rd_end(&r); /* no bindings: provisioning binds on its next run */
    uint32_t nb;
    MCX_GUARD(rd_u32(&r, "binding count", &nb));
    if (nb > MCX_KEYSTORE_MAX_CERTS)
        return rd_fail(&r, MCX_E_ENCODING, "%u KMS URL bindings", nb);
    for (uint32_t i = 0; i < nb; i++) {
        char origin[MCX_KEYSTORE_ORIGIN_MAX], kms[MCX_KMS_TEXT_MAX];
        MCX_GUARD(rd_str(&r, "KMS origin", origin, sizeof origin));
        MCX_GUARD(rd_str(&r, "bound KmsUri", kms, sizeof kms));
        if (strncmp(origin, "https://", 8) != 0 || origin[8] == '\0')
            return rd_fail(&r, MCX_E_ENCODING, "a KMS origin that is not https://");
        if (find_cert(ks, kms) == NULL)
            return rd_fail(&r, MCX_E_ENCODING, "a KMS URL bound to a KmsUri that is not pinned");
        if (find_bind(ks, origin) != NULL)
            return rd_fail(&r, MCX_E_ENCODING, "a KMS URL bound twice");
        MCX_GUARD(put_bind(ks, origin, kms));
    }
    if (version == KS_VERSION_V2)
        return rd_end(&r); /* no group section */
    MCX_GUARD(groups_read(ks, &r));
    return rd_end(&r);
}

/* Read the whole file (at most KS_FILE_MAX) into locked memory: a clear file holds keys. */
static mcx_status read_file(int fd, const char *path, uint8_t **out, size_t *out_len)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return MCX_FAIL(MCX_E_IO, "keystore: '%s' is not a regular file", path);
    /* like ssh with its keys: secrets others could have read are not used */
    if (sb.st_uid != geteuid() || (sb.st_mode & 0077) != 0)
        return MCX_FAIL(MCX_E_DENIED,
                        "keystore: '%s' has mode %03o (or another owner); it must be 0600 and "
                        "yours",
                        path, (unsigned)(sb.st_mode & 0777));
    if (sb.st_size > (off_t)KS_FILE_MAX)
        return MCX_FAIL(MCX_E_ENCODING, "keystore: '%s' is larger than %u octets", path,
                        (unsigned)KS_FILE_MAX);
    size_t n = (size_t)sb.st_size, got = 0;
    uint8_t *buf = mcx_secure_alloc(n + 1);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            mcx_secure_free(buf);
            return MCX_FAIL(MCX_E_IO, "keystore: reading '%s' failed", path);
        }
        got += (size_t)r;
    }
    *out = buf;
    *out_len = n;
    return MCX_OK;
}

static mcx_status decode_file(mcx_keystore *ks, const uint8_t *file, size_t n)
{
    mcx_reader r;
    rd_init(&r, file, n, "keystore");
    const uint8_t *magic;
    uint8_t version, prot;
    MCX_GUARD(rd_bytes(&r, "magic", 8, &magic));
    if (memcmp(magic, KS_MAGIC, 8) != 0)
        return MCX_FAIL(MCX_E_ENCODING, "keystore: not a keystore file (bad magic)");
    MCX_GUARD(rd_u8(&r, "version", &version));
    if (version != KS_VERSION && version != KS_VERSION_V2 && version != KS_VERSION_V1)
        return MCX_FAIL(MCX_E_UNSUPPORTED, "keystore: version %u (this build reads %d)", version,
                        KS_VERSION);
    MCX_GUARD(rd_u8(&r, "protection", &prot));
    if (prot != KS_CLEAR && prot != KS_SEALED)
        return rd_fail(&r, MCX_E_ENCODING, "protection is %u", prot);
    uint32_t t = 0, m = 0, p = 0, body_len;
    const uint8_t *salt = NULL, *nonce = NULL, *body, *trailer;
    if (prot == KS_SEALED) {
        MCX_GUARD(rd_u32(&r, "Argon2 t_cost", &t));
        MCX_GUARD(rd_u32(&r, "Argon2 m_cost", &m));
        MCX_GUARD(rd_u32(&r, "Argon2 lanes", &p));
        MCX_GUARD(rd_bytes(&r, "salt", KS_SALT_BYTES, &salt));
        MCX_GUARD(rd_bytes(&r, "nonce", KS_NONCE_BYTES, &nonce));
    }
    MCX_GUARD(rd_u32(&r, "body length", &body_len));
    size_t hdr_len = rd_offset(&r);
    MCX_GUARD(rd_bytes(&r, "body", body_len, &body));
    MCX_GUARD(rd_bytes(&r, "trailer", prot == KS_SEALED ? KS_TAG_BYTES : KS_SUM_BYTES, &trailer));
    MCX_GUARD(rd_end(&r));

    if (prot == KS_CLEAR) {
        uint8_t sum[KS_SUM_BYTES];
        SHA256(file, hdr_len + body_len, sum);
        if (!mcx_ct_equal(sum, trailer, KS_SUM_BYTES))
            return MCX_FAIL(MCX_E_ENCODING, "keystore: checksum mismatch (file corrupted)");
        return parse_body(ks, body, body_len, version);
    }
    if (ks->pass == NULL)
        return MCX_FAIL(MCX_E_DENIED, "keystore: '%s' is sealed with a passphrase", ks->path);
    if (t == 0 || t > KS_T_LIMIT || p == 0 || p > KS_P_LIMIT || m < 8 * p || m > KS_M_LIMIT)
        return MCX_FAIL(MCX_E_UNSUPPORTED,
                        "keystore: Argon2id parameters t=%u m=%u KiB p=%u beyond the limits", t, m,
                        p);
    uint8_t *key = mcx_secure_alloc(KS_KEY_BYTES + (size_t)body_len + 16);
    if (key == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    uint8_t *plain = key + KS_KEY_BYTES;
    uint8_t tag[KS_TAG_BYTES];
    memcpy(tag, trailer, sizeof tag);
    mcx_status st = derive_key(ks->pass, ks->pass_len, t, m, p, salt, key);
    if (st == MCX_OK)
        st = gcm(0, key, nonce, file, hdr_len, body, body_len, plain, tag);
    if (st == MCX_OK) {
        /* later saves keep the file's costs unless changed with mcx_keystore_set_kdf */
        ks->t_cost = t;
        ks->m_kib = m;
        ks->lanes = p;
        st = parse_body(ks, plain, body_len, version);
    }
    mcx_secure_free(key);
    return st;
}

mcx_status mcx_keystore_open(mcx_keystore **out, const char *path, const char *passphrase,
                             size_t pass_len, unsigned flags)
{
    if (out == NULL || path == NULL || path[0] == '\0' || (passphrase == NULL && pass_len != 0))
        return MCX_FAIL(MCX_E_ARG, "keystore: no path");
    *out = NULL;
    if (strlen(path) >= KS_PATH_MAX - 16)
        return MCX_FAIL(MCX_E_ARG, "keystore: path too long");
    mcx_keystore *ks = ks_new(path);
    if (ks == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    if (passphrase != NULL) {
        ks->pass = mcx_secure_alloc(pass_len + 1);
        if (ks->pass == NULL) {
            mcx_keystore_free(ks);
            return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
        }
        memcpy(ks->pass, passphrase, pass_len);
        ks->pass_len = pass_len;
    }
    char dir[KS_PATH_MAX];
    dir_of(path, dir, sizeof dir);
    int dir_exists = 0;
    mcx_status st = check_dir(dir, &dir_exists);
    if (st != MCX_OK)
        goto fail;
    int fd = dir_exists ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd < 0) {
        if ((!dir_exists || errno == ENOENT) && (flags & MCX_KEYSTORE_CREATE)) {
            *out = ks;
            return MCX_OK;
        }
        st = !dir_exists || errno == ENOENT
                 ? MCX_FAIL(MCX_E_NOT_FOUND, "keystore: '%s' does not exist", path)
                 : MCX_FAIL(MCX_E_IO, "keystore: cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    uint8_t *file = NULL;
    size_t n = 0;
    st = read_file(fd, path, &file, &n);
    close(fd);
    if (st != MCX_OK)
        goto fail;
    st = decode_file(ks, file, n);
    mcx_secure_free(file);
    if (st != MCX_OK)
        goto fail;
    *out = ks;
    return MCX_OK;
fail:
    mcx_keystore_free(ks);
    return st;
}

mcx_status mcx_keystore_set_kdf(mcx_keystore *ks, uint32_t t_cost, uint32_t m_kib, uint32_t p)
{
    if (ks == NULL || t_cost == 0 || t_cost > KS_T_LIMIT || p == 0 || p > KS_P_LIMIT ||
        m_kib < 8 * p || m_kib > KS_M_LIMIT)
        return MCX_FAIL(MCX_E_ARG, "keystore: Argon2id parameters t=%u m=%u KiB p=%u refused",
                        t_cost, m_kib, p);
    ks->t_cost = t_cost;
    ks->m_kib = m_kib;
    ks->lanes = p;
    return MCX_OK;
}

static mcx_status write_all(int fd, const uint8_t *p, size_t n, const char *tmp)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return MCX_FAIL(MCX_E_IO, "keystore: writing '%s': %s", tmp, strerror(errno));
        off += (size_t)w;
    }
    return MCX_OK;
}

/* Temporary file in the same folder (mkstemp: O_EXCL, mode 0600), fsync, rename over the old
 * file, fsync the folder: a reader sees the old or the new file, never half of one. */
static mcx_status replace_file(const char *path, const char *dir, const uint8_t *data, size_t n)
{
    char tmp[KS_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return MCX_FAIL(MCX_E_IO, "keystore: cannot create a file in '%s': %s", dir,
                        strerror(errno));
    mcx_status st = MCX_OK;
    if (fchmod(fd, 0600) != 0) {
        st = MCX_FAIL(MCX_E_IO, "keystore: chmod: %s", strerror(errno));
        goto fail;
    }
    MCX_GUARD_GOTO(st, write_all(fd, data, n, tmp), fail);
    if (fsync(fd) != 0) {
        st = MCX_FAIL(MCX_E_IO, "keystore: fsync: %s", strerror(errno));
        goto fail;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        st = MCX_FAIL(MCX_E_IO, "keystore: close: %s", strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        st = MCX_FAIL(MCX_E_IO, "keystore: rename to '%s': %s", path, strerror(errno));
        goto fail;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return MCX_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return st;
}

mcx_status mcx_keystore_save(mcx_keystore *ks)
{
    if (ks == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: none");
    char dir[KS_PATH_MAX];
    dir_of(ks->path, dir, sizeof dir);
    MCX_GUARD(make_dirs(dir));
    MCX_GUARD(check_dir(dir, NULL));

    size_t body_cap = 20 + ks->n_certs * KS_CERT_MAX + ks->n_sets * KS_SET_MAX +
                      ks->n_binds * KS_BIND_MAX + ks->n_gkeys * KS_GKEY_MAX +
                      ks->n_groups * KS_GROUP_FIXED + ks->n_all_members * KS_MEMBER_MAX;
    /* the lowest version that holds the content: without groups the file stays readable by
     * builds that predate the group section */
    int with_groups = ks->n_gkeys > 0 || ks->n_groups > 0;
    size_t cap = KS_HDR_MAX + 2 * body_cap + KS_SUM_BYTES + KS_KEY_BYTES + 16;
    /* one locked buffer: [file: header | body | trailer] [plain body] [key] */
    uint8_t *mem = mcx_secure_alloc(cap);
    if (mem == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    uint8_t *plain = mem + KS_HDR_MAX + body_cap + KS_SUM_BYTES + 16;
    uint8_t *key = plain + body_cap;
    mcx_status st = MCX_OK;

    mcx_writer bw;
    wr_init(&bw, plain, body_cap);
    wr_u32(&bw, (uint32_t)ks->n_certs);
    for (size_t i = 0; i < ks->n_certs; i++)
        cert_write(&bw, &ks->certs[i].cert, ks->certs[i].mode);
    wr_u32(&bw, (uint32_t)ks->n_sets);
    for (size_t i = 0; i < ks->n_sets; i++)
        set_write(&bw, &ks->sets[i]);
    wr_u32(&bw, (uint32_t)ks->n_binds);
    for (size_t i = 0; i < ks->n_binds; i++) {
        wr_str(&bw, ks->binds[i].origin);
        wr_str(&bw, ks->binds[i].kms_uri);
    }
    if (with_groups)
        groups_write(ks, &bw);
    MCX_GUARD_GOTO(st, wr_status(&bw, "keystore body"), out);
    size_t body_len = wr_len(&bw);

    mcx_writer w;
    wr_init(&w, mem, KS_HDR_MAX + body_cap + KS_SUM_BYTES);
    wr_bytes(&w, KS_MAGIC, 8);
    wr_u8(&w, with_groups ? KS_VERSION : KS_VERSION_V2);
    wr_u8(&w, ks->pass != NULL ? KS_SEALED : KS_CLEAR);
    uint8_t salt[KS_SALT_BYTES], nonce[KS_NONCE_BYTES], tag[KS_TAG_BYTES];
    if (ks->pass != NULL) {
        MCX_GUARD_GOTO(st, mcx_random(salt, sizeof salt), out);
        MCX_GUARD_GOTO(st, mcx_random(nonce, sizeof nonce), out);
        wr_u32(&w, ks->t_cost);
        wr_u32(&w, ks->m_kib);
        wr_u32(&w, ks->lanes);
        wr_bytes(&w, salt, sizeof salt);
        wr_bytes(&w, nonce, sizeof nonce);
    }
    wr_u32(&w, (uint32_t)body_len);
    size_t hdr_len = wr_len(&w);
    MCX_GUARD_GOTO(st, wr_status(&w, "keystore header"), out);
    if (ks->pass != NULL) {
        MCX_GUARD_GOTO(
            st, derive_key(ks->pass, ks->pass_len, ks->t_cost, ks->m_kib, ks->lanes, salt, key),
            out);
        MCX_GUARD_GOTO(st, gcm(1, key, nonce, mem, hdr_len, plain, body_len, mem + hdr_len, tag),
                       out);
        w.pos += body_len;
        wr_bytes(&w, tag, sizeof tag);
    } else {
        wr_bytes(&w, plain, body_len);
        uint8_t sum[KS_SUM_BYTES];
        SHA256(mem, wr_len(&w), sum);
        wr_bytes(&w, sum, sizeof sum);
    }
    MCX_GUARD_GOTO(st, wr_status(&w, "keystore file"), out);
    st = replace_file(ks->path, dir, mem, wr_len(&w));
out:
    mcx_secure_free(mem);
    return st;
}

/* ---- certificates ---- */

static void fp_hex(const uint8_t fp[MCX_KEYSTORE_FP_BYTES], char out[17])
{
    mcx_hex_encode(fp, 8, out); /* the first 8 octets: enough to tell them apart in a message */
}

mcx_status mcx_keystore_check_pinned(const mcx_keystore *ks, const mcx_kms_certificate *cert,
                                     mcx_id_mode mode)
{
    if (ks == NULL || cert == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no certificate");
    const ks_cert *have = find_cert(ks, cert->kms_uri);
    if (have == NULL)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no certificate pinned for this KMS");
    uint8_t fp[MCX_KEYSTORE_FP_BYTES];
    mcx_keystore_cert_fingerprint(cert, mode, fp);
    if (memcmp(fp, have->fp, sizeof fp) != 0) {
        char a[17], b[17];
        fp_hex(have->fp, a);
        fp_hex(fp, b);
        return MCX_FAIL(MCX_E_DENIED,
                        "keystore: the KMS certificate changed (pinned %s..., offered %s...); "
                        "re-pin it explicitly if the change is expected",
                        a, b);
    }
    return MCX_OK;
}

mcx_status mcx_keystore_pin(mcx_keystore *ks, const mcx_kms_certificate *cert, mcx_id_mode mode,
                            int repin)
{
    if (ks == NULL || cert == NULL || cert->kms_uri[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "keystore: certificate without KmsUri");
    if (strcmp(cert->user_id_format, "2") != 0 || cert->user_key_period == 0)
        return MCX_FAIL(MCX_E_ARG,
                        "keystore: certificate with UserIdFormat '%.16s' or key period 0 "
                        "(only format 2 is supported)",
                        cert->user_id_format);
    if (mode != MCX_ID_RAW && mode != MCX_ID_HEX_STRING)
        return MCX_FAIL(MCX_E_ARG, "keystore: identity mode %d", (int)mode);
    mcx_status st = mcx_keystore_check_pinned(ks, cert, mode);
    if (st == MCX_OK)
        return MCX_OK;
    if (st == MCX_E_NOT_FOUND)
        return add_cert(ks, cert, mode);
    if (st != MCX_E_DENIED || !repin)
        return st;
    /* re-pin: the old master keys are gone, and with them every key set they issued */
    ks_cert *have = find_cert(ks, cert->kms_uri);
    have->cert = *cert;
    have->mode = mode;
    mcx_keystore_cert_fingerprint(cert, mode, have->fp);
    size_t k = 0;
    for (size_t i = 0; i < ks->n_sets; i++) {
        if (strcmp(ks->sets[i].kms_uri, cert->kms_uri) == 0)
            continue;
        if (k != i)
            ks->sets[k] = ks->sets[i];
        k++;
    }
    mcx_memzero(ks->sets + k, (ks->n_sets - k) * sizeof *ks->sets);
    ks->n_sets = k;
    mcx_clear_error();
    return MCX_OK;
}

size_t mcx_keystore_cert_count(const mcx_keystore *ks)
{
    return ks != NULL ? ks->n_certs : 0;
}

mcx_status mcx_keystore_cert_at(const mcx_keystore *ks, size_t i, mcx_kms_certificate *cert,
                                mcx_id_mode *mode, uint8_t fp[MCX_KEYSTORE_FP_BYTES])
{
    if (ks == NULL || i >= ks->n_certs)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no certificate %zu", i);
    if (cert != NULL)
        *cert = ks->certs[i].cert;
    if (mode != NULL)
        *mode = ks->certs[i].mode;
    if (fp != NULL)
        memcpy(fp, ks->certs[i].fp, MCX_KEYSTORE_FP_BYTES);
    return MCX_OK;
}

mcx_status mcx_keystore_get_cert(const mcx_keystore *ks, const char *kms_uri,
                                 mcx_kms_certificate *cert, mcx_id_mode *mode)
{
    if (ks == NULL || kms_uri == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no KmsUri");
    const ks_cert *c = find_cert(ks, kms_uri);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no certificate pinned for KMS '%.200s'",
                        kms_uri);
    if (cert != NULL)
        *cert = c->cert;
    if (mode != NULL)
        *mode = c->mode;
    return MCX_OK;
}

void mcx_keystore_cert_to_mikey(const mcx_kms_certificate *cert, mcx_id_mode mode,
                                mcx_kms_cert *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->uri, sizeof out->uri, "%s", cert->kms_uri);
    memcpy(out->Z, cert->z, sizeof out->Z);
    memcpy(out->kpak, cert->kpak, sizeof out->kpak);
    out->key_period = cert->user_key_period;
    out->key_offset = cert->user_key_offset;
    out->id_mode = mode;
}

/* ---- KMS URL bindings ---- */

mcx_status mcx_keystore_origin(const char *kms_url, char *out, size_t cap)
{
    if (kms_url == NULL || strncasecmp(kms_url, "https://", 8) != 0)
        return MCX_FAIL(MCX_E_ARG, "keystore: the KMS URL must be https://");
    const char *h = kms_url + 8;
    size_t n = strcspn(h, "/?#");
    /* RFC 6454 §4: scheme, host and port; host names are case-insensitive (RFC 3986 §3.2.2),
     * and the default port 443 is the same origin as no port */
    if (n > 4 && strncmp(h + n - 4, ":443", 4) == 0) /* an IPv6 literal ends with ']' */
        n -= 4;
    if (n == 0 || memchr(h, '@', n) != NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: the KMS URL has no host (or has user information)");
    if (8 + n >= cap || 8 + n >= MCX_KEYSTORE_ORIGIN_MAX)
        return MCX_FAIL(MCX_E_ARG, "keystore: the KMS URL's host is too long");
    memcpy(out, "https://", 8);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c >= 0x7f)
            return MCX_FAIL(MCX_E_ARG, "keystore: the KMS URL's host holds a byte 0x%02x", c);
        out[8 + i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[8 + n] = '\0';
    return MCX_OK;
}

static ks_bind *find_bind(const mcx_keystore *ks, const char *origin)
{
    for (size_t i = 0; i < ks->n_binds; i++)
        if (strcmp(ks->binds[i].origin, origin) == 0)
            return &ks->binds[i];
    return NULL;
}

static mcx_status put_bind(mcx_keystore *ks, const char *origin, const char *kms_uri)
{
    ks_bind *b = find_bind(ks, origin);
    if (b == NULL) {
        if (ks->n_binds >= MCX_KEYSTORE_MAX_CERTS)
            return MCX_FAIL(MCX_E_LENGTH, "keystore: more than %d KMS URLs",
                            MCX_KEYSTORE_MAX_CERTS);
        ks_bind *n = realloc(ks->binds, (ks->n_binds + 1) * sizeof *n);
        if (n == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
        ks->binds = n;
        b = &n[ks->n_binds++];
        snprintf(b->origin, sizeof b->origin, "%s", origin);
    }
    snprintf(b->kms_uri, sizeof b->kms_uri, "%s", kms_uri);
    return MCX_OK;
}

mcx_status mcx_keystore_get_binding(const mcx_keystore *ks, const char *kms_url, char *kms_uri,
                                    size_t cap)
{
    if (ks == NULL || kms_uri == NULL || cap == 0)
        return MCX_FAIL(MCX_E_ARG, "keystore: no output");
    char origin[MCX_KEYSTORE_ORIGIN_MAX];
    MCX_GUARD(mcx_keystore_origin(kms_url, origin, sizeof origin));
    const ks_bind *b = find_bind(ks, origin);
    if (b == NULL)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no KmsUri pinned for %s", origin);
    if (strlen(b->kms_uri) >= cap)
        return MCX_FAIL(MCX_E_ARG, "keystore: KmsUri longer than %zu", cap - 1);
    snprintf(kms_uri, cap, "%s", b->kms_uri);
    return MCX_OK;
}

mcx_status mcx_keystore_bind(mcx_keystore *ks, const char *kms_url, const char *kms_uri)
{
    if (ks == NULL || kms_uri == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no KmsUri");
    char origin[MCX_KEYSTORE_ORIGIN_MAX];
    MCX_GUARD(mcx_keystore_origin(kms_url, origin, sizeof origin));
    if (find_cert(ks, kms_uri) == NULL)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "keystore: no certificate pinned for KMS '%.200s'",
                        kms_uri);
    return put_bind(ks, origin, kms_uri);
}

size_t mcx_keystore_binding_count(const mcx_keystore *ks)
{
    return ks != NULL ? ks->n_binds : 0;
}

mcx_status mcx_keystore_forget_kms(mcx_keystore *ks, const char *kms_uri)
{
    for (size_t i = 0; i < ks->n_binds; i++)
        if (strcmp(ks->binds[i].kms_uri, kms_uri) == 0)
            return MCX_FAIL(MCX_E_DENIED, "keystore: KMS '%.200s' is still bound to %s", kms_uri,
                            ks->binds[i].origin);
    ks_cert *c = find_cert(ks, kms_uri);
    if (c == NULL)
        return MCX_OK;
    size_t k = 0;
    for (size_t i = 0; i < ks->n_sets; i++) {
        if (strcmp(ks->sets[i].kms_uri, kms_uri) == 0)
            continue;
        if (k != i)
            ks->sets[k] = ks->sets[i];
        k++;
    }
    mcx_memzero(ks->sets + k, (ks->n_sets - k) * sizeof *ks->sets);
    ks->n_sets = k;
    size_t ci = (size_t)(c - ks->certs);
    memmove(ks->certs + ci, ks->certs + ci + 1, (ks->n_certs - ci - 1) * sizeof *ks->certs);
    ks->n_certs--;
    mcx_memzero(ks->certs + ks->n_certs, sizeof *ks->certs);
    return MCX_OK;
}

/* ---- key sets ---- */

mcx_status mcx_keystore_validate_key_set(const mcx_kms_certificate *cert, mcx_id_mode mode,
                                         const mcx_keystore_key_set *set)
{
    if (cert == NULL || set == NULL || set->user_uri[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "keystore: no key set");
    if (strcmp(set->kms_uri, cert->kms_uri) != 0)
        return MCX_FAIL(MCX_E_DENIED, "key set: KmsUri '%.200s' is not the certificate's",
                        set->kms_uri);
    /* TS 33.180 F.2.1: the UID binds the user, the KMS and the key period */
    uint8_t uid[MCX_UID_BYTES];
    MCX_GUARD(mcx_uid_format2(set->user_uri, cert->kms_uri, cert->user_key_period,
                              cert->user_key_offset, set->period_no, uid));
    if (memcmp(uid, set->uid, sizeof uid) != 0)
        return MCX_FAIL(MCX_E_KEY_INVALID,
                        "key set: UserID is not UID format 2 of the user, KMS and period %llu",
                        (unsigned long long)set->period_no);
    uint8_t id[MCX_ID_MAX_BYTES];
    size_t id_len = mcx_identity_from_uid(uid, mode, id);
    char why[256]; /* the reason is copied: mcx_fail writes the buffer mcx_last_error reads */
    mcx_status st = mcx_eccsi_validate(cert->kpak, id, id_len, set->ssk, set->pvt, NULL);
    if (st != MCX_OK) {
        snprintf(why, sizeof why, "%s", mcx_last_error());
        return MCX_FAIL(st, "key set: SSK/PVT of period %llu refused (RFC 6507 5.1.2): %s",
                        (unsigned long long)set->period_no, why);
    }
    st = mcx_sakke_validate_rsk(cert->z, id, id_len, set->rsk);
    if (st != MCX_OK) {
        snprintf(why, sizeof why, "%s", mcx_last_error());
        return MCX_FAIL(st, "key set: RSK of period %llu refused (RFC 6508 6.1.2): %s",
                        (unsigned long long)set->period_no, why);
    }
    return MCX_OK;
}

static mcx_keystore_key_set *find_set(const mcx_keystore *ks, const char *user, const char *kms,
                                      uint64_t period)
{
    for (size_t i = 0; i < ks->n_sets; i++)
        if (ks->sets[i].period_no == period && strcmp(ks->sets[i].user_uri, user) == 0 &&
            strcmp(ks->sets[i].kms_uri, kms) == 0)
            return &ks->sets[i];
    return NULL;
}

mcx_status mcx_keystore_put_key_set(mcx_keystore *ks, const mcx_keystore_key_set *set)
{
    if (find_cert(ks, set->kms_uri) == NULL)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "keystore: no certificate pinned for KMS '%.200s'",
                        set->kms_uri);
    mcx_keystore_key_set *slot = find_set(ks, set->user_uri, set->kms_uri, set->period_no);
    if (slot == NULL) {
        MCX_GUARD(reserve_sets(ks, ks->n_sets + 1));
        slot = &ks->sets[ks->n_sets++];
    }
    *slot = *set;
    return MCX_OK;
}

mcx_status mcx_keystore_add_key_set(mcx_keystore *ks, const mcx_keystore_key_set *set)
{
    if (ks == NULL || set == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no key set");
    const ks_cert *c = find_cert(ks, set->kms_uri);
    if (c == NULL)
        return MCX_FAIL(MCX_E_UNKNOWN_PEER, "keystore: no certificate pinned for KMS '%.200s'",
                        set->kms_uri);
    MCX_GUARD(mcx_keystore_validate_key_set(&c->cert, c->mode, set));
    return mcx_keystore_put_key_set(ks, set);
}

mcx_status mcx_keystore_get_key_set(const mcx_keystore *ks, const char *user_uri,
                                    const char *kms_uri, uint64_t ntp_seconds,
                                    const mcx_keystore_key_set **out)
{
    if (ks == NULL || user_uri == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no user");
    *out = NULL;
    if (kms_uri == NULL) {
        for (size_t i = 0; i < ks->n_sets; i++) {
            if (strcmp(ks->sets[i].user_uri, user_uri) != 0)
                continue;
            if (kms_uri != NULL && strcmp(kms_uri, ks->sets[i].kms_uri) != 0)
                return MCX_FAIL(MCX_E_ARG,
                                "keystore: '%.200s' has key sets of several KMSs; name one",
                                user_uri);
            kms_uri = ks->sets[i].kms_uri;
        }
        if (kms_uri == NULL)
            return MCX_FAIL(MCX_E_NO_KEY, "keystore: no key set held for '%.200s'", user_uri);
    }
    const ks_cert *c = find_cert(ks, kms_uri);
    if (c == NULL)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no certificate pinned for KMS '%.200s'",
                        kms_uri);
    uint64_t period =
        mcx_key_period_no(ntp_seconds, c->cert.user_key_period, c->cert.user_key_offset);
    const mcx_keystore_key_set *s = find_set(ks, user_uri, kms_uri, period);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NO_KEY, "keystore: no key set for '%.200s' in key period %llu",
                        user_uri, (unsigned long long)period);
    *out = s;
    return MCX_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    const mcx_keystore_entry *x = a, *y = b;
    int c = strcmp(x->user_uri, y->user_uri);
    if (c == 0)
        c = strcmp(x->kms_uri, y->kms_uri);
    if (c == 0)
        c = x->period_no < y->period_no ? -1 : x->period_no > y->period_no;
    return c;
}

void mcx_keystore_list(const mcx_keystore *ks, mcx_keystore_entry *out, size_t cap, size_t *n)
{
    size_t total = ks != NULL ? ks->n_sets : 0;
    if (n != NULL)
        *n = total;
    if (out == NULL || cap == 0)
        return;
    mcx_keystore_entry *all = calloc(total > 0 ? total : 1, sizeof *all);
    if (all == NULL)
        return;
    for (size_t i = 0; i < total; i++) {
        const mcx_keystore_key_set *s = &ks->sets[i];
        memcpy(all[i].user_uri, s->user_uri, sizeof all[i].user_uri);
        memcpy(all[i].kms_uri, s->kms_uri, sizeof all[i].kms_uri);
        all[i].period_no = s->period_no;
        memcpy(all[i].uid, s->uid, sizeof all[i].uid);
        all[i].has_valid_from = s->has_valid_from;
        all[i].has_valid_to = s->has_valid_to;
        all[i].valid_from = s->valid_from;
        all[i].valid_to = s->valid_to;
    }
    qsort(all, total, sizeof *all, entry_cmp);
    memcpy(out, all, (total < cap ? total : cap) * sizeof *all);
    free(all);
}

mcx_status mcx_keystore_mikey_view(const mcx_keystore *ks, const char *user_uri,
                                   const char *kms_uri, uint64_t ntp_seconds, mcx_kms_cert *kms,
                                   const mcx_keystore_key_set **set)
{
    if (kms == NULL || set == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no output");
    MCX_GUARD(mcx_keystore_get_key_set(ks, user_uri, kms_uri, ntp_seconds, set));
    const ks_cert *c = find_cert(ks, (*set)->kms_uri);
    mcx_keystore_cert_to_mikey(&c->cert, c->mode, kms);
    return MCX_OK;
}

/* ---- group keys ---- */

#define KS_KP_MAX 2560 /* encoded key parameters: 1+4+5+5+2+256 + 2+1+8*(3+256) = 2348 */

static const char *const kind_names[] = {"gmk", "mkfc", "gdk"};

const char *mcx_group_key_kind_name(unsigned kind)
{
    return kind <= MCX_GROUP_KEY_KIND_MAX ? kind_names[kind] : NULL;
}

mcx_status mcx_group_key_kind_from_name(const char *name, mcx_group_key_kind *kind)
{
    for (unsigned i = 0; name != NULL && kind != NULL && i <= MCX_GROUP_KEY_KIND_MAX; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (mcx_group_key_kind)i;
            return MCX_OK;
        }
    return MCX_FAIL(MCX_E_ARG, "group key kind '%.16s' is not gmk, mkfc or gdk",
                    name != NULL ? name : "");
}

/* The purpose tag a kind's key IDs carry (TS 33.180 Table E.6.11-1; the GDK is the DPPK of group
 * MCData, distributed like a GMK). */
static unsigned kind_tag(mcx_group_key_kind kind)
{
    return kind == MCX_GROUP_KEY_MKFC ? MCX_KEY_MKFC : MCX_KEY_GMK;
}

static mcx_status gkey_check(const mcx_keystore_group_key *k, uint8_t *kp, size_t *kp_len)
{
    if (k->group_id[0] == '\0' || memchr(k->group_id, 0, sizeof k->group_id) == NULL ||
        memchr(k->owner_uri, 0, sizeof k->owner_uri) == NULL ||
        memchr(k->gms_uri, 0, sizeof k->gms_uri) == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: group key without group ID (or an unterminated URI)");
    if ((unsigned)k->kind > MCX_GROUP_KEY_KIND_MAX)
        return MCX_FAIL(MCX_E_ARG, "keystore: group key kind %d", (int)k->kind);
    if (k->key_len != 16 && k->key_len != 32)
        return MCX_FAIL(MCX_E_ARG, "keystore: group key of %zu octets (16 or 32)", k->key_len);
    if (k->rand_len > MCX_GROUP_RAND_MAX)
        return MCX_FAIL(MCX_E_ARG, "keystore: RAND of %zu octets", k->rand_len);
    if (mcx_key_id_purpose(k->key_id) != kind_tag(k->kind))
        return MCX_FAIL(MCX_E_ARG, "keystore: %s key ID %08X has purpose tag %u",
                        kind_names[k->kind], (unsigned)k->key_id, mcx_key_id_purpose(k->key_id));
    return mcx_kp_encode(&k->params, kp, KS_KP_MAX, kp_len);
}

static void gkey_write(mcx_writer *w, const mcx_keystore_group_key *k)
{
    uint8_t kp[KS_KP_MAX];
    size_t kp_len = 0;
    if (mcx_kp_encode(&k->params, kp, sizeof kp, &kp_len) != MCX_OK)
        kp_len = 0; /* cannot happen: checked by mcx_keystore_group_key_add; read refuses it */
    wr_str(w, k->group_id);
    wr_u8(w, (uint8_t)k->kind);
    wr_u32(w, k->key_id);
    wr_u8(w, (uint8_t)k->key_len);
    wr_bytes(w, k->key, k->key_len);
    wr_u8(w, (uint8_t)k->rand_len);
    wr_bytes(w, k->rand, k->rand_len);
    wr_str(w, k->owner_uri);
    wr_u32(w, k->guk_id);
    wr_u8(w, (uint8_t)(k->has_cs_id != 0));
    wr_u8(w, k->cs_id);
    wr_u16(w, (uint16_t)kp_len);
    wr_bytes(w, kp, kp_len);
    wr_u64(w, k->t_ntp);
    wr_str(w, k->gms_uri);
    wr_bytes(w, k->digest, sizeof k->digest);
    wr_u8(w, (uint8_t)(k->has_pseudonym != 0));
    wr_bytes(w, k->pseudonym, sizeof k->pseudonym);
    wr_u8(w, (uint8_t)(k->revoked != 0));
    wr_u64(w, (uint64_t)k->received);
}

static mcx_status gkey_read(mcx_reader *r, mcx_keystore_group_key *k)
{
    uint8_t v;
    uint16_t kp_len;
    uint64_t t;
    const uint8_t *kp;
    memset(k, 0, sizeof *k);
    MCX_GUARD(rd_str(r, "group ID", k->group_id, sizeof k->group_id));
    MCX_GUARD(rd_flag(r, "group key kind", MCX_GROUP_KEY_KIND_MAX, &v));
    k->kind = (mcx_group_key_kind)v;
    MCX_GUARD(rd_u32(r, "group key ID", &k->key_id));
    MCX_GUARD(rd_u8(r, "group key length", &v));
    if (v != 16 && v != 32)
        return rd_fail(r, MCX_E_ENCODING, "group key length is %u", v);
    k->key_len = v;
    MCX_GUARD(rd_copy(r, "group key", k->key_len, k->key));
    MCX_GUARD(rd_u8(r, "RAND length", &v));
    k->rand_len = v;
    MCX_GUARD(rd_copy(r, "RAND", k->rand_len, k->rand));
    MCX_GUARD(rd_str(r, "group key owner", k->owner_uri, sizeof k->owner_uri));
    MCX_GUARD(rd_u32(r, "GUK-ID", &k->guk_id));
    MCX_GUARD(rd_flag(r, "CS-ID flag", 1, &v));
    k->has_cs_id = v;
    MCX_GUARD(rd_u8(r, "CS-ID", &k->cs_id));
    MCX_GUARD(rd_u16(r, "key parameters length", &kp_len));
    MCX_GUARD(rd_bytes(r, "key parameters", kp_len, &kp));
    mcx_status st = mcx_kp_decode(kp, kp_len, &k->params);
    if (st != MCX_OK)
        return rd_fail(r, MCX_E_ENCODING, "group key parameters do not decode");
    MCX_GUARD(rd_u64(r, "T", &k->t_ntp));
    MCX_GUARD(rd_str(r, "GMS identity", k->gms_uri, sizeof k->gms_uri));
    MCX_GUARD(rd_copy(r, "I_MESSAGE digest", sizeof k->digest, k->digest));
    MCX_GUARD(rd_flag(r, "pseudonym flag", 1, &v));
    k->has_pseudonym = v;
    MCX_GUARD(rd_copy(r, "pseudonym", sizeof k->pseudonym, k->pseudonym));
    MCX_GUARD(rd_flag(r, "revoked flag", 1, &v));
    k->revoked = v;
    MCX_GUARD(rd_u64(r, "received", &t));
    k->received = (int64_t)t;
    if (k->group_id[0] == '\0' || mcx_key_id_purpose(k->key_id) != kind_tag(k->kind))
        return rd_fail(r, MCX_E_ENCODING,
                       "a group key without group ID or with a key ID of "
                       "another purpose");
    return MCX_OK;
}

static mcx_status reserve_gkeys(mcx_keystore *ks, size_t need)
{
    if (need <= ks->cap_gkeys)
        return MCX_OK;
    if (need > MCX_KEYSTORE_MAX_GROUP_KEYS)
        return MCX_FAIL(MCX_E_LENGTH, "keystore: more than %d group keys",
                        MCX_KEYSTORE_MAX_GROUP_KEYS);
    size_t cap = ks->cap_gkeys == 0 ? 8 : ks->cap_gkeys * 2;
    while (cap < need)
        cap *= 2;
    if (cap > MCX_KEYSTORE_MAX_GROUP_KEYS)
        cap = MCX_KEYSTORE_MAX_GROUP_KEYS;
    mcx_keystore_group_key *n = mcx_secure_alloc(cap * sizeof *n);
    if (n == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    if (ks->gkeys != NULL)
        memcpy(n, ks->gkeys, ks->n_gkeys * sizeof *n);
    mcx_secure_free(ks->gkeys);
    ks->gkeys = n;
    ks->cap_gkeys = cap;
    return MCX_OK;
}

static mcx_keystore_group_key *find_gkey(const mcx_keystore *ks, const char *group_id,
                                         mcx_group_key_kind kind, uint32_t key_id)
{
    for (size_t i = 0; i < ks->n_gkeys; i++)
        if (ks->gkeys[i].key_id == key_id && ks->gkeys[i].kind == kind &&
            strcmp(ks->gkeys[i].group_id, group_id) == 0)
            return &ks->gkeys[i];
    return NULL;
}

static mcx_keystore_group_info *find_group(const mcx_keystore *ks, const char *group_id)
{
    for (size_t i = 0; i < ks->n_groups; i++)
        if (strcmp(ks->groups[i].group_id, group_id) == 0)
            return &ks->groups[i];
    return NULL;
}

mcx_status mcx_keystore_group_key_add(mcx_keystore *ks, const mcx_keystore_group_key *k)
{
    if (ks == NULL || k == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no group key");
    uint8_t kp[KS_KP_MAX];
    size_t kp_len;
    mcx_status st = gkey_check(k, kp, &kp_len);
    if (st != MCX_OK)
        return st == MCX_E_ARG ? st : MCX_FAIL(MCX_E_ARG, "keystore: %s", mcx_last_error());
    mcx_keystore_group_key *slot = find_gkey(ks, k->group_id, k->kind, k->key_id);
    if (slot != NULL) {
        /* replaced: moved to the end, so "stored last" breaks ties of T */
        size_t i = (size_t)(slot - ks->gkeys);
        memmove(ks->gkeys + i, ks->gkeys + i + 1, (ks->n_gkeys - i - 1) * sizeof *ks->gkeys);
        ks->n_gkeys--;
        mcx_memzero(ks->gkeys + ks->n_gkeys, sizeof *ks->gkeys);
    } else {
        MCX_GUARD(reserve_gkeys(ks, ks->n_gkeys + 1));
    }
    ks->gkeys[ks->n_gkeys++] = *k;
    return MCX_OK;
}

mcx_status mcx_keystore_group_key_find(const mcx_keystore *ks, const char *group_id,
                                       mcx_group_key_kind kind, uint32_t key_id,
                                       const mcx_keystore_group_key **out)
{
    if (ks == NULL || group_id == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no group");
    *out = find_gkey(ks, group_id, kind, key_id);
    if (*out == NULL)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no %s %08X held for group '%.200s'",
                        mcx_group_key_kind_name(kind) ? mcx_group_key_kind_name(kind) : "key",
                        (unsigned)key_id, group_id);
    return MCX_OK;
}

mcx_status mcx_keystore_group_key_latest(const mcx_keystore *ks, const char *group_id,
                                         mcx_group_key_kind kind,
                                         const mcx_keystore_group_key **out)
{
    if (ks == NULL || group_id == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no group");
    *out = NULL;
    for (size_t i = 0; i < ks->n_gkeys; i++) {
        const mcx_keystore_group_key *k = &ks->gkeys[i];
        if (k->kind != kind || k->revoked || strcmp(k->group_id, group_id) != 0)
            continue;
        if (*out == NULL || k->t_ntp >= (*out)->t_ntp)
            *out = k;
    }
    if (*out == NULL)
        return MCX_FAIL(MCX_E_NO_KEY, "keystore: no %s held for group '%.200s' (or all revoked)",
                        mcx_group_key_kind_name(kind) ? mcx_group_key_kind_name(kind) : "key",
                        group_id);
    return MCX_OK;
}

size_t mcx_keystore_group_key_count(const mcx_keystore *ks)
{
    return ks != NULL ? ks->n_gkeys : 0;
}

mcx_status mcx_keystore_group_key_at(const mcx_keystore *ks, size_t i,
                                     const mcx_keystore_group_key **out)
{
    if (ks == NULL || out == NULL || i >= ks->n_gkeys)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no group key %zu", i);
    *out = &ks->gkeys[i];
    return MCX_OK;
}

mcx_status mcx_keystore_group_mark_revoked(mcx_keystore *ks, const char *group_id, int kind,
                                           uint32_t key_id, size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (ks == NULL || group_id == NULL || kind < -1 || kind > MCX_GROUP_KEY_KIND_MAX)
        return MCX_FAIL(MCX_E_ARG, "keystore: no group");
    size_t marked = 0;
    for (size_t i = 0; i < ks->n_gkeys; i++) {
        mcx_keystore_group_key *k = &ks->gkeys[i];
        if ((kind >= 0 && k->kind != (mcx_group_key_kind)kind) ||
            (key_id != 0 && k->key_id != key_id) || strcmp(k->group_id, group_id) != 0)
            continue;
        k->revoked = 1;
        marked++;
    }
    if (n != NULL)
        *n = marked;
    if (marked == 0)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no key %08X held for group '%.200s'",
                        (unsigned)key_id, group_id);
    return MCX_OK;
}

mcx_status mcx_keystore_group_remove(mcx_keystore *ks, const char *group_id, size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (ks == NULL || group_id == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no group");
    size_t k = 0;
    for (size_t i = 0; i < ks->n_gkeys; i++) {
        if (strcmp(ks->gkeys[i].group_id, group_id) == 0)
            continue;
        if (k != i)
            ks->gkeys[k] = ks->gkeys[i];
        k++;
    }
    if (n != NULL)
        *n = ks->n_gkeys - k;
    mcx_memzero(ks->gkeys + k, (ks->n_gkeys - k) * sizeof *ks->gkeys);
    ks->n_gkeys = k;
    mcx_keystore_group_info *g = find_group(ks, group_id);
    if (g != NULL) {
        size_t gi = (size_t)(g - ks->groups);
        ks->n_all_members -= g->n_members;
        group_info_clear(g);
        memmove(ks->groups + gi, ks->groups + gi + 1, (ks->n_groups - gi - 1) * sizeof *g);
        ks->n_groups--;
    }
    return MCX_OK;
}

/* ---- group descriptions ---- */

static int text_ok(const char *s, size_t cap)
{
    return s != NULL && strlen(s) < cap;
}

mcx_status mcx_keystore_group_set_info(mcx_keystore *ks, const char *group_id, const char *gms_uri,
                                       const char *display_name, const char *kind,
                                       const char *const *members, size_t n_members,
                                       int64_t updated)
{
    if (ks == NULL || group_id == NULL || group_id[0] == '\0' ||
        !text_ok(group_id, MCX_GROUP_ID_MAX) || (members == NULL && n_members > 0))
        return MCX_FAIL(MCX_E_ARG, "keystore: no group ID (or longer than %d)",
                        MCX_GROUP_ID_MAX - 1);
    if (!text_ok(gms_uri != NULL ? gms_uri : "", MCX_GROUP_ID_MAX) ||
        !text_ok(display_name != NULL ? display_name : "", MCX_GROUP_ID_MAX) ||
        !text_ok(kind != NULL ? kind : "", 16))
        return MCX_FAIL(MCX_E_ARG, "keystore: group GMS, name or kind too long");
    if (n_members > MCX_KEYSTORE_MAX_MEMBERS)
        return MCX_FAIL(MCX_E_LENGTH, "keystore: group of %zu members (at most %d)", n_members,
                        MCX_KEYSTORE_MAX_MEMBERS);
    for (size_t i = 0; i < n_members; i++)
        if (members[i] == NULL || members[i][0] == '\0' || !text_ok(members[i], MCX_GROUP_ID_MAX))
            return MCX_FAIL(MCX_E_ARG, "keystore: member %zu is empty or too long", i);
    mcx_keystore_group_info *g = find_group(ks, group_id);
    size_t others = ks->n_all_members - (g != NULL ? g->n_members : 0);
    if (others + n_members > MCX_KEYSTORE_MAX_ALL_MEMBERS)
        return MCX_FAIL(MCX_E_LENGTH, "keystore: more than %d members over all groups",
                        MCX_KEYSTORE_MAX_ALL_MEMBERS);
    if (g == NULL && ks->n_groups >= MCX_KEYSTORE_MAX_GROUPS)
        return MCX_FAIL(MCX_E_LENGTH, "keystore: more than %d groups", MCX_KEYSTORE_MAX_GROUPS);
    mcx_keystore_group_info n;
    memset(&n, 0, sizeof n);
    snprintf(n.group_id, sizeof n.group_id, "%s", group_id);
    snprintf(n.gms_uri, sizeof n.gms_uri, "%s", gms_uri != NULL ? gms_uri : "");
    snprintf(n.display_name, sizeof n.display_name, "%s", display_name != NULL ? display_name : "");
    snprintf(n.kind, sizeof n.kind, "%s", kind != NULL ? kind : "");
    n.updated = updated;
    if (n_members > 0 && (n.members = calloc(n_members, sizeof *n.members)) == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
    for (size_t i = 0; i < n_members; i++) {
        if ((n.members[i] = strdup(members[i])) == NULL) {
            group_info_clear(&n);
            return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
        }
        n.n_members++;
    }
    if (g == NULL) {
        mcx_keystore_group_info *a = realloc(ks->groups, (ks->n_groups + 1) * sizeof *a);
        if (a == NULL) {
            group_info_clear(&n);
            return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
        }
        ks->groups = a;
        g = &a[ks->n_groups++];
    } else {
        group_info_clear(g);
    }
    *g = n;
    ks->n_all_members = others + n_members;
    return MCX_OK;
}

mcx_status mcx_keystore_group_info_find(const mcx_keystore *ks, const char *group_id,
                                        const mcx_keystore_group_info **out)
{
    if (ks == NULL || group_id == NULL || out == NULL)
        return MCX_FAIL(MCX_E_ARG, "keystore: no group");
    *out = find_group(ks, group_id);
    if (*out == NULL)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no group document kept for '%.200s'", group_id);
    return MCX_OK;
}

size_t mcx_keystore_group_info_count(const mcx_keystore *ks)
{
    return ks != NULL ? ks->n_groups : 0;
}

mcx_status mcx_keystore_group_info_at(const mcx_keystore *ks, size_t i,
                                      const mcx_keystore_group_info **out)
{
    if (ks == NULL || out == NULL || i >= ks->n_groups)
        return MCX_FAIL(MCX_E_NOT_FOUND, "keystore: no group %zu", i);
    *out = &ks->groups[i];
    return MCX_OK;
}

/* ---- the group section of the file ---- */

static void groups_write(const mcx_keystore *ks, mcx_writer *w)
{
    wr_u32(w, (uint32_t)ks->n_gkeys);
    for (size_t i = 0; i < ks->n_gkeys; i++)
        gkey_write(w, &ks->gkeys[i]);
    wr_u32(w, (uint32_t)ks->n_groups);
    for (size_t i = 0; i < ks->n_groups; i++) {
        const mcx_keystore_group_info *g = &ks->groups[i];
        wr_str(w, g->group_id);
        wr_str(w, g->gms_uri);
        wr_str(w, g->display_name);
        wr_str(w, g->kind);
        wr_u64(w, (uint64_t)g->updated);
        wr_u32(w, (uint32_t)g->n_members);
        for (size_t m = 0; m < g->n_members; m++)
            wr_str(w, g->members[m]);
    }
}

static mcx_status groups_read(mcx_keystore *ks, mcx_reader *r)
{
    uint32_t nk, ng;
    MCX_GUARD(rd_u32(r, "group key count", &nk));
    if (nk > MCX_KEYSTORE_MAX_GROUP_KEYS)
        return rd_fail(r, MCX_E_ENCODING, "%u group keys", nk);
    MCX_GUARD(reserve_gkeys(ks, nk));
    for (uint32_t i = 0; i < nk; i++) {
        mcx_keystore_group_key *k = &ks->gkeys[ks->n_gkeys];
        MCX_GUARD(gkey_read(r, k));
        ks->n_gkeys++;
        if (find_gkey(ks, k->group_id, k->kind, k->key_id) != k)
            return rd_fail(r, MCX_E_ENCODING, "a group key stored twice");
    }
    MCX_GUARD(rd_u32(r, "group count", &ng));
    if (ng > MCX_KEYSTORE_MAX_GROUPS)
        return rd_fail(r, MCX_E_ENCODING, "%u groups", ng);
    mcx_status st = MCX_OK;
    for (uint32_t i = 0; st == MCX_OK && i < ng; i++) {
        char id[MCX_GROUP_ID_MAX], gms[MCX_GROUP_ID_MAX], name[MCX_GROUP_ID_MAX], kind[16];
        uint64_t updated;
        MCX_GUARD(rd_str(r, "group ID", id, sizeof id));
        MCX_GUARD(rd_str(r, "group GMS", gms, sizeof gms));
        MCX_GUARD(rd_str(r, "group name", name, sizeof name));
        MCX_GUARD(rd_str(r, "group kind", kind, sizeof kind));
        uint32_t nm;
        MCX_GUARD(rd_u64(r, "group updated", &updated));
        MCX_GUARD(rd_u32(r, "member count", &nm));
        if (nm > MCX_KEYSTORE_MAX_MEMBERS)
            return rd_fail(r, MCX_E_ENCODING, "%u members", nm);
        if (id[0] == '\0' || find_group(ks, id) != NULL)
            return rd_fail(r, MCX_E_ENCODING, "a group without ID or stored twice");
        char **members = calloc(nm > 0 ? nm : 1, sizeof *members);
        if (members == NULL)
            return MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
        for (uint32_t got = 0; st == MCX_OK && got < nm; got++) {
            char m[MCX_GROUP_ID_MAX];
            st = rd_str(r, "member", m, sizeof m);
            if (st == MCX_OK && (members[got] = strdup(m)) == NULL)
                st = MCX_FAIL(MCX_E_NOMEM, "keystore: out of memory");
            if (st != MCX_OK)
                break;
        }
        if (st == MCX_OK)
            st = mcx_keystore_group_set_info(ks, id, gms, name, kind, (const char *const *)members,
                                             nm, (int64_t)updated);
        if (st == MCX_E_ARG || st == MCX_E_LENGTH) {
            char why[256]; /* copied: rd_fail writes the buffer mcx_last_error reads */
            snprintf(why, sizeof why, "%s", mcx_last_error());
            st = rd_fail(r, MCX_E_ENCODING, "a group that cannot be kept: %s", why);
        }
        for (uint32_t m = 0; m < nm; m++)
            free(members[m]);
        free(members);
    }
    return st;
}
