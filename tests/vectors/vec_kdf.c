/* Vector family "kdf": the TS 33.220 B.2 KDF and the MIKEY PRF (RFC 3830 §4.1.2/§4.1.3,
 * PRF-HMAC-SHA-256 of RFC 6043 §6.1) through mcx_kdf and mcx_mikey_prf.
 *
 * mcx_3gpp.txt (one unnamed section): every *_kdf_0x50_out, *_guk_id, *_label_tek,
 * *_srtp_master_key, *_srtp_master_salt and *_dpck entry.
 * mikey_prf_tek_salt.txt: every expected_* entry of every [section] (the *_bytes variant when the
 * source text was not canonical hex), plus the GUK-ID of sections that give the GMK-ID and URI.
 *
 * The handler walks the entries and fails on an output it cannot check, so a case added to a
 * file cannot be skipped silently. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/kdf.h"
#include "runner.h"

/* RFC 3830 §4.1.3 label constants */
#define PRF_CONST_TEK  0x2AD01C64u
#define PRF_CONST_SALT 0x39A2C14Bu

#define MAX_RAND 64
#define MAX_KEY  64

typedef struct kdf_counts {
    unsigned kdf;   /* outputs of mcx_kdf compared with a vector */
    unsigned prf;   /* outputs of mcx_mikey_prf compared with a vector */
    unsigned guk;   /* GUK-IDs rebuilt from the KDF 0x50 output (TS 33.180 F.1.3) */
    unsigned label; /* labels built here compared with the file's label */
} kdf_counts;

/* Inputs of one MIKEY PRF derivation: TGK and label = const || CS-ID || CSB-ID || RAND. */
typedef struct prf_case {
    uint8_t key[MAX_KEY];
    size_t key_len;
    uint8_t cs_id;
    uint8_t csb_id[4];
    uint8_t rand[MAX_RAND];
    size_t rand_len;
    int cs_known; /* 0: the file names no CS-ID for this key (only its DPCK is checked) */
} prf_case;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static uint32_t be32(const uint8_t p[4])
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* RFC 3830 §4.1.3: label = const(4) || CS-ID(1) || CSB-ID(4) || RAND */
static size_t build_label(uint32_t c, const prf_case *pc, uint8_t *label)
{
    label[0] = (uint8_t)(c >> 24);
    label[1] = (uint8_t)(c >> 16);
    label[2] = (uint8_t)(c >> 8);
    label[3] = (uint8_t)c;
    label[4] = pc->cs_id;
    memcpy(label + 5, pc->csb_id, 4);
    memcpy(label + 9, pc->rand, pc->rand_len);
    return 9 + pc->rand_len;
}

static void check_prf(const char *where, const prf_case *pc, uint32_t c, const uint8_t *want,
                      size_t n)
{
    uint8_t label[9 + MAX_RAND], out[64];
    size_t label_len = build_label(c, pc, label);
    CHECK(n > 0 && n <= sizeof out);
    if (n == 0 || n > sizeof out)
        return;
    CHECK_OK(mcx_mikey_prf(pc->key, pc->key_len, label, label_len, out, n));
    if (memcmp(out, want, n) != 0) {
        fprintf(stderr, "kdf %s: MIKEY PRF (const %08x) differs\n", where, (unsigned)c);
        test_hexdump("  got ", out, n);
        test_hexdump("  want", want, n);
        test_failed_checks++;
    }
}

/* TS 33.180 F.1.3: salt = 28 LSBs of KDF(GMK, 0x50, P0 = user URI); GUK-ID = GMK-ID XOR salt
 * with the 4-bit purpose tag kept. */
static void check_guk(const char *where, const uint8_t *gmk, size_t gmk_len, const char *uri,
                      size_t uri_len, const uint8_t gmk_id[4], const uint8_t want[4])
{
    uint8_t out[MCX_KDF_OUT_BYTES];
    mcx_kdf_param p0 = {(const uint8_t *)uri, uri_len};
    CHECK_OK(mcx_kdf(gmk, gmk_len, MCX_KDF_FC_GUK_SALT, &p0, 1, out));
    uint32_t salt = be32(out + 28) & 0x0FFFFFFFu;
    uint32_t id = be32(gmk_id);
    uint32_t guk = (id & 0xF0000000u) | ((id ^ salt) & 0x0FFFFFFFu);
    if (guk != be32(want)) {
        fprintf(stderr, "kdf %s: GUK-ID %08x, vector %08x\n", where, (unsigned)guk,
                (unsigned)be32(want));
        test_failed_checks++;
    }
}

/* ---- mcx_3gpp.txt ---- */

/* Hex entry "<prefix><suffix>" of s. */
static size_t entry_hex(const vec_section *s, const char *prefix, const char *suffix, uint8_t *out,
                        size_t cap)
{
    char name[128];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    return vec_hex(s, name, out, cap);
}

static int has_entry(const vec_section *s, const char *prefix, const char *suffix)
{
    char name[128];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    return vec_get(s, name) != NULL;
}

/* The PRF inputs behind an entry prefix of mcx_3gpp.txt, as its comments describe them:
 *   ethN   Etherstack group call: TGK = eth_gmk, CSB-ID = ethN_guk_id, RAND = eth_rand, CS-ID 4
 *   csk6   TGK = csk6_key, CSB-ID = csk6_key_id, RAND = csk6_rand, CS-ID 6
 *   sw_X   SW I_MESSAGE X: TGK = sw_X_key, CSB-ID = the HDR CSB-ID (sw_X_guk_id for the GMK,
 *          else sw_X_key_id), RAND = sw_X_rand; CS-ID 4 for the GMK, 6 for the CSK, none
 *          for the PCK (no PRF output is given for it). */
static int prf_case_for(const vec_section *s, const char *prefix, prf_case *pc)
{
    memset(pc, 0, sizeof *pc);
    if (strncmp(prefix, "eth", 3) == 0 && prefix[3] >= '1' && prefix[3] <= '9') {
        pc->key_len = vec_hex(s, "eth_gmk", pc->key, sizeof pc->key);
        pc->cs_id = 4;
        CHECK(entry_hex(s, prefix, "_guk_id", pc->csb_id, 4) == 4);
        pc->rand_len = vec_hex(s, "eth_rand", pc->rand, sizeof pc->rand);
        pc->cs_known = 1;
        return 1;
    }
    if (strcmp(prefix, "csk6") == 0 || strcmp(prefix, "sw_csk") == 0) {
        pc->cs_id = 6;
        pc->cs_known = 1;
    } else if (strcmp(prefix, "sw_gmk") == 0) {
        pc->cs_id = 4;
        pc->cs_known = 1;
    } else if (strcmp(prefix, "sw_pck") != 0) {
        return 0;
    }
    pc->key_len = entry_hex(s, prefix, "_key", pc->key, sizeof pc->key);
    const char *id = has_entry(s, prefix, "_guk_id") ? "_guk_id" : "_key_id";
    CHECK(entry_hex(s, prefix, id, pc->csb_id, 4) == 4);
    pc->rand_len = entry_hex(s, prefix, "_rand", pc->rand, sizeof pc->rand);
    return 1;
}

/* The responder of the SW GMK I_MESSAGE, whose URI its GUK-ID is built from (file comment
 * "test gmk: initiator gms@streamwide.com -> responder sip:alice@streamwide.com"). */
static const char sw_gmk_responder[] = "sip:alice@streamwide.com";

static void mcx_3gpp_file(const vec_file *f, kdf_counts *c)
{
    const vec_section *s = vec_section_named(f, "");
    CHECK(s != NULL);
    if (s == NULL)
        return;
    for (size_t e = 0; e < s->n_entries; e++) {
        const char *name = s->entries[e].name;
        char prefix[64];
        const char *suffix = NULL;
        static const char *const outputs[] = {"_kdf_0x50_out",    "_guk_id",           "_label_tek",
                                              "_srtp_master_key", "_srtp_master_salt", "_dpck"};
        for (size_t k = 0; k < sizeof outputs / sizeof outputs[0] && suffix == NULL; k++)
            if (ends_with(name, outputs[k]))
                suffix = outputs[k];
        if (suffix == NULL)
            continue; /* an input, or a value of another family */
        size_t plen = strlen(name) - strlen(suffix);
        if (plen >= sizeof prefix) {
            test_failed_checks++;
            continue;
        }
        memcpy(prefix, name, plen);
        prefix[plen] = '\0';

        uint8_t want[64];
        size_t n = vec_hex(s, name, want, sizeof want);
        prf_case pc;
        int known = prf_case_for(s, prefix, &pc);

        if (strcmp(suffix, "_kdf_0x50_out") == 0 && known && strncmp(prefix, "eth", 3) == 0) {
            /* TS 33.180 F.1.3 / TS 33.220 B.2: KDF(GMK, 0x50, P0 = receiving user's URI) */
            uint8_t uri[256], out[MCX_KDF_OUT_BYTES];
            size_t ul = entry_hex(s, prefix, "_user", uri, sizeof uri);
            mcx_kdf_param p0 = {uri, ul};
            CHECK_OK(mcx_kdf(pc.key, pc.key_len, MCX_KDF_FC_GUK_SALT, &p0, 1, out));
            CHECK(n == MCX_KDF_OUT_BYTES);
            CHECK_MEM(out, want, MCX_KDF_OUT_BYTES);
            c->kdf++;
        } else if (strcmp(suffix, "_guk_id") == 0 && known &&
                   (strncmp(prefix, "eth", 3) == 0 || strcmp(prefix, "sw_gmk") == 0)) {
            uint8_t uri[256], gmk_id[4];
            size_t ul;
            if (strcmp(prefix, "sw_gmk") == 0) {
                ul = strlen(sw_gmk_responder);
                memcpy(uri, sw_gmk_responder, ul);
                CHECK(vec_hex(s, "sw_gmk_key_id", gmk_id, 4) == 4);
            } else {
                ul = entry_hex(s, prefix, "_user", uri, sizeof uri);
                CHECK(vec_hex(s, "eth_gmk_id", gmk_id, 4) == 4);
            }
            CHECK(n == 4);
            check_guk(name, pc.key, pc.key_len, (const char *)uri, ul, gmk_id, want);
            c->guk++;
        } else if (strcmp(suffix, "_label_tek") == 0 && known && pc.cs_known) {
            uint8_t label[9 + MAX_RAND];
            size_t ll = build_label(PRF_CONST_TEK, &pc, label);
            CHECK(ll == n);
            CHECK_MEM(label, want, ll < n ? ll : n);
            c->label++;
        } else if (strcmp(suffix, "_srtp_master_key") == 0 && known && pc.cs_known) {
            check_prf(name, &pc, PRF_CONST_TEK, want, n);
            c->prf++;
        } else if (strcmp(suffix, "_srtp_master_salt") == 0 && known && pc.cs_known) {
            check_prf(name, &pc, PRF_CONST_SALT, want, n);
            c->prf++;
        } else if (strcmp(suffix, "_dpck") == 0 && known && strncmp(prefix, "sw_", 3) == 0) {
            /* TS 33.180 F.1.5 (as SW implements it): DPCK = rightmost 16 octets of
             * KDF(DPPK, 0x53, P0 = DPPK-ID). The DPPK-ID is the HDR CSB-ID of the message
             * (FORMATS.md §5): the GUK-ID for a GMK, the key ID for a CSK or PCK. */
            uint8_t out[MCX_KDF_OUT_BYTES];
            mcx_kdf_param p0 = {pc.csb_id, 4};
            CHECK_OK(mcx_kdf(pc.key, pc.key_len, MCX_KDF_FC_DPCK, &p0, 1, out));
            CHECK(n == 16);
            CHECK_MEM(out + MCX_KDF_OUT_BYTES - 16, want, 16);
            c->kdf++;
        } else {
            fprintf(stderr, "kdf: no derivation known for entry '%s'\n", name);
            test_failed_checks++;
        }
    }
}

/* ---- mikey_prf_tek_salt.txt ---- */

/* Decode name, preferring name_bytes (the canonical octets) when the file has it. */
static size_t hex_pref(const vec_section *s, const char *name, uint8_t *out, size_t cap)
{
    char bytes[128];
    snprintf(bytes, sizeof bytes, "%s_bytes", name);
    return vec_hex(s, vec_get(s, bytes) != NULL ? bytes : name, out, cap);
}

static int prf_input_name(const char *name)
{
    static const char *const inputs[] = {"key",    "key_bytes",   "cs_id",        "csb_id",
                                         "rand",   "rand_bytes",  "key_constant", "user_uri",
                                         "gmk_id", "gmk_id_bytes"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        if (strcmp(name, inputs[i]) == 0)
            return 1;
    return 0;
}

static void prf_file(const vec_file *f, kdf_counts *c)
{
    for (size_t i = 0; i < f->n_sections; i++) {
        const vec_section *s = &f->sections[i];
        if (s->n_entries == 0)
            continue;
        prf_case pc;
        memset(&pc, 0, sizeof pc);
        pc.key_len = hex_pref(s, "key", pc.key, sizeof pc.key);
        pc.rand_len = hex_pref(s, "rand", pc.rand, sizeof pc.rand);
        CHECK(hex_pref(s, "csb_id", pc.csb_id, 4) == 4);
        const char *cs = vec_get(s, "cs_id");
        char *end = NULL;
        errno = 0;
        unsigned long cs_id = cs != NULL ? strtoul(cs, &end, 10) : 256;
        if (cs == NULL || *cs == '\0' || *end != '\0' || errno != 0 || cs_id > 255) {
            fprintf(stderr, "kdf [%s]: cs_id missing or not a number 0..255\n", s->name);
            test_failed_checks++;
            continue;
        }
        pc.cs_id = (uint8_t)cs_id;
        /* the key constant of expected_key_16 (RFC 3830 §4.1.3); TEK when not given */
        uint32_t key_const = PRF_CONST_TEK;
        if (vec_get(s, "key_constant") != NULL) {
            uint8_t kc[4];
            CHECK(vec_hex(s, "key_constant", kc, sizeof kc) == 4);
            key_const = be32(kc);
        }

        unsigned outputs = 0;
        for (size_t e = 0; e < s->n_entries; e++) {
            const char *name = s->entries[e].name;
            if (prf_input_name(name))
                continue;
            char base[128], bytes[136];
            snprintf(base, sizeof base, "%s", name);
            if (ends_with(base, "_bytes"))
                base[strlen(base) - 6] = '\0';
            else {
                snprintf(bytes, sizeof bytes, "%s_bytes", name);
                if (vec_get(s, bytes) != NULL)
                    continue; /* checked through its canonical _bytes twin */
            }
            uint8_t want[64];
            size_t n = vec_hex(s, name, want, sizeof want);
            char where[256];
            snprintf(where, sizeof where, "[%s] %s", s->name, name);
            if (strcmp(base, "expected_master_key_16") == 0) {
                CHECK(n == 16);
                check_prf(where, &pc, PRF_CONST_TEK, want, n);
            } else if (strcmp(base, "expected_master_salt_12") == 0 ||
                       strcmp(base, "expected_salt_12") == 0) {
                CHECK(n == 12);
                check_prf(where, &pc, PRF_CONST_SALT, want, n);
            } else if (strcmp(base, "expected_key_16") == 0) {
                CHECK(n == 16);
                check_prf(where, &pc, key_const, want, n);
            } else if (strcmp(base, "expected_key_salt_28") == 0) {
                /* key(16) || salt(12), as eazon prints them */
                CHECK(n == 28);
                if (n == 28) {
                    check_prf(where, &pc, key_const, want, 16);
                    check_prf(where, &pc, PRF_CONST_SALT, want + 16, 12);
                }
            } else {
                fprintf(stderr, "kdf [%s]: unknown entry '%s'\n", s->name, name);
                test_failed_checks++;
                continue;
            }
            c->prf++;
            outputs++;
        }
        if (outputs == 0) {
            fprintf(stderr, "kdf [%s]: no expected value\n", s->name);
            test_failed_checks++;
        }

        /* Sections that give the GMK-ID and the user URI also fix the GUK-ID used as CSB-ID. */
        const char *uri = vec_get(s, "user_uri");
        if (uri != NULL) {
            uint8_t gmk_id[4];
            CHECK(hex_pref(s, "gmk_id", gmk_id, sizeof gmk_id) == 4);
            check_guk(s->name, pc.key, pc.key_len, uri, strlen(uri), gmk_id, pc.csb_id);
            c->guk++;
        }
    }
}

static void kdf_vectors(const vec_file *f)
{
    kdf_counts a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
    mcx_3gpp_file(f, &a);

    /* mikey_prf_tek_salt.txt sits next to mcx_3gpp.txt */
    char path[4096];
    const char *slash = strrchr(f->path, '/');
    int dir_len = slash != NULL ? (int)(slash - f->path) : 1;
    snprintf(path, sizeof path, "%.*s/mikey_prf_tek_salt.txt", dir_len,
             slash != NULL ? f->path : ".");
    vec_file *g = vec_load(path);
    prf_file(g, &b);
    vec_free(g);

    unsigned a_total = a.kdf + a.prf + a.guk + a.label;
    unsigned b_total = b.kdf + b.prf + b.guk + b.label;
    printf("kdf: %u cases checked (mcx_3gpp.txt: %u KDF, %u PRF, %u GUK-ID, %u label; "
           "mikey_prf_tek_salt.txt: %u PRF, %u GUK-ID)\n",
           a_total + b_total, a.kdf, a.prf, a.guk, a.label, b.prf, b.guk);
    CHECK(a.kdf > 0 && a.prf > 0);
    CHECK(b.prf > 0);
}

VEC_FAMILY(kdf, "mcx_3gpp.txt", kdf_vectors)
