/* Vector family "guk" (label mikey): GUK-ID derivation and GMK-ID recovery (TS 33.180 F.1.3)
 * through mcx_guk_id and mcx_gmk_id_from_guk_id, over guk_id.txt.
 *
 * Every [section] gives a user URI, a GMK (or, for eazon, an SSV used as the GMK) and a GMK-ID,
 * and the GUK-ID as expected_guk_id (from the source) or computed_guk_id (recomputed, when the
 * source has none). A *_bytes twin is the canonical octets of a value written with an odd number
 * of hex digits and is preferred. Each section checks the GUK-ID, the HDR CSB-ID when given, and
 * that the GMK-ID comes back from the GUK-ID. An entry the handler does not know fails the
 * section, so a case added to the file cannot be skipped silently. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/keys.h"
#include "runner.h"

#define MAX_KEY 64

static uint32_t be32(const uint8_t p[4])
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* name, or name_bytes when the file gives the canonical octets; 1 if it decoded to 4 octets. */
static int id_entry(const vec_section *s, const char *name, uint32_t *id)
{
    char bytes[96];
    snprintf(bytes, sizeof bytes, "%s_bytes", name);
    const char *use = vec_get(s, bytes) != NULL ? bytes : name;
    if (vec_get(s, use) == NULL)
        return 0;
    uint8_t b[8];
    if (vec_hex(s, use, b, sizeof b) != 4) {
        fprintf(stderr, "guk [%s]: %s is not 4 octets\n", s->name, use);
        test_failed_checks++;
        return 0;
    }
    *id = be32(b);
    return 1;
}

static int known_entry(const char *name)
{
    static const char *const known[] = {"user_uri",
                                        "gmk",
                                        "ssv",
                                        "ssv_ascii",
                                        "gmk_id",
                                        "gmk_id_bytes",
                                        "gmk_id_decimal",
                                        "expected",
                                        "expected_guk_id",
                                        "expected_guk_id_bytes",
                                        "computed_guk_id",
                                        "computed_imessage_hdr_csb_id"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0)
            return 1;
    return 0;
}

/* Returns the number of values checked in section s. */
static unsigned guk_section(const vec_section *s)
{
    for (size_t e = 0; e < s->n_entries; e++) {
        if (!known_entry(s->entries[e].name)) {
            fprintf(stderr, "guk [%s]: unknown entry '%s'\n", s->name, s->entries[e].name);
            test_failed_checks++;
            return 0;
        }
    }
    const char *uri = vec_get(s, "user_uri");
    /* eazon's test passes an SSV (7 ASCII octets) as the GMK */
    const char *key_name = vec_get(s, "gmk") != NULL ? "gmk" : "ssv";
    uint32_t gmk_id = 0;
    if (uri == NULL || vec_get(s, key_name) == NULL || !id_entry(s, "gmk_id", &gmk_id)) {
        fprintf(stderr, "guk [%s]: user_uri, gmk (or ssv) or gmk_id missing\n", s->name);
        test_failed_checks++;
        return 0;
    }
    uint8_t gmk[MAX_KEY];
    size_t gmk_len = vec_hex(s, key_name, gmk, sizeof gmk);
    unsigned checked = 0;

    /* the cross-check values that restate inputs */
    const char *ascii = vec_get(s, "ssv_ascii");
    if (ascii != NULL) {
        CHECK(strlen(ascii) == gmk_len && memcmp(ascii, gmk, gmk_len) == 0);
        checked++;
    }
    const char *dec = vec_get(s, "gmk_id_decimal");
    if (dec != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(dec, &end, 10);
        CHECK(*dec != '\0' && *end == '\0' && errno == 0 && v == gmk_id);
        checked++;
    }

    uint32_t want = 0;
    int have = id_entry(s, "expected_guk_id", &want);
    if (!have)
        have = id_entry(s, "computed_guk_id", &want);
    if (!have) {
        fprintf(stderr, "guk [%s]: neither expected_guk_id nor computed_guk_id\n", s->name);
        test_failed_checks++;
        return checked;
    }
    if (vec_get(s, "expected_guk_id") != NULL && vec_get(s, "computed_guk_id") != NULL) {
        uint32_t other = 0;
        CHECK(id_entry(s, "computed_guk_id", &other) && other == want);
    }

    uint32_t guk = 0, back = 0;
    CHECK_OK(mcx_guk_id(gmk, gmk_len, gmk_id, uri, &guk));
    if (guk != want) {
        fprintf(stderr, "guk [%s]: GUK-ID %08x, vector %08x\n", s->name, (unsigned)guk,
                (unsigned)want);
        test_failed_checks++;
    }
    checked++;
    /* the receiver recovers the GMK-ID from the GUK-ID carried as HDR CSB-ID */
    CHECK_OK(mcx_gmk_id_from_guk_id(gmk, gmk_len, want, uri, &back));
    if (back != gmk_id) {
        fprintf(stderr, "guk [%s]: GMK-ID %08x recovered, vector %08x\n", s->name, (unsigned)back,
                (unsigned)gmk_id);
        test_failed_checks++;
    }
    checked++;
    uint32_t csb = 0;
    if (id_entry(s, "computed_imessage_hdr_csb_id", &csb)) {
        CHECK(csb == guk);
        checked++;
    }
    return checked;
}

static void guk_vectors(const vec_file *f)
{
    unsigned sections = 0, values = 0;
    for (size_t i = 0; i < f->n_sections; i++) {
        const vec_section *s = &f->sections[i];
        if (s->n_entries == 0)
            continue;
        unsigned n = guk_section(s);
        if (n == 0) {
            fprintf(stderr, "guk [%s]: nothing checked\n", s->name);
            test_failed_checks++;
        }
        values += n;
        sections++;
    }
    printf("guk: %u sections, %u values checked (GUK-ID, GMK-ID recovery, CSB-ID)\n", sections,
           values);
    CHECK(sections >= 12);
}

VEC_FAMILY_LABEL(guk, "mikey", "guk_id.txt", guk_vectors)
