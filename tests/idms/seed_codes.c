/* seed_codes: issue N authorization codes straight into an IdMS store, one per line on stdout, for
 * the /token load benchmark (scripts/bench-idms) and tests that need many codes. Each code is
 * issued exactly as a successful login at POST /authorize would (mcx_idms_code_issue), so the
 * benchmark measures the token endpoint alone, without the deliberately slow password check.
 *
 * usage: seed_codes STORE_URL CLIENT_ID USERNAME REDIRECT_URI CODE_CHALLENGE SCOPE N TTL_SECONDS
 * Exit status 0 when all N codes were issued; 1 with the reason on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcxsec/idms.h"
#include "mcxsec/store.h"

static int parse_count(const char *s, unsigned long *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] == '\0' || s[0] == '-' || *end != '\0' || v == 0 || v > 10000000UL) {
        return 0;
    }
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr,
                "usage: %s STORE_URL CLIENT_ID USERNAME REDIRECT_URI CODE_CHALLENGE SCOPE "
                "N TTL_SECONDS\n",
                argv[0]);
        return 2;
    }
    unsigned long n = 0;
    unsigned long ttl = 0;
    if (!parse_count(argv[7], &n) || !parse_count(argv[8], &ttl)) {
        fprintf(stderr, "seed_codes: N and TTL_SECONDS must be positive integers\n");
        return 2;
    }
    mcx_store *st = NULL;
    mcx_status s = mcx_store_open(&st, argv[1]);
    if (s != MCX_OK) {
        fprintf(stderr, "seed_codes: %s: %s\n", mcx_status_name(s), mcx_last_error());
        return 1;
    }
    int rc = 0;
    int64_t now = (int64_t)time(NULL);
    char code[128];
    /* Batches of 1000 per transaction: mcx_idms_code_issue opens none of its own, and one commit
     * per code would make seeding tens of thousands of codes slow on PostgreSQL. */
    for (unsigned long i = 0; i < n; i++) {
        if (i % 1000 == 0 && (s = mcx_store_begin(st)) != MCX_OK) {
            fprintf(stderr, "seed_codes: begin: %s\n", mcx_last_error());
            rc = 1;
            break;
        }
        s = mcx_idms_code_issue(st, argv[2], argv[3], argv[4], argv[5], argv[6], NULL, now,
                                (unsigned)ttl, code, sizeof(code));
        if (s != MCX_OK) {
            fprintf(stderr, "seed_codes: code %lu: %s: %s\n", i, mcx_status_name(s),
                    mcx_last_error());
            rc = 1;
            break;
        }
        if (puts(code) == EOF) {
            rc = 1;
            break;
        }
        if ((i % 1000 == 999 || i + 1 == n) && (s = mcx_store_commit(st)) != MCX_OK) {
            fprintf(stderr, "seed_codes: commit: %s\n", mcx_last_error());
            rc = 1;
            break;
        }
    }
    if (rc != 0) {
        mcx_store_rollback(st);
    }
    mcx_store_close(st);
    if (fflush(stdout) != 0) {
        rc = 1;
    }
    return rc;
}
