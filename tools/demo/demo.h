/* mcx-demo's steps shared between its files. */
#ifndef MCX_DEMO_H
#define MCX_DEMO_H

#include <stddef.h>

#include "mcxsec/common.h"

/* A user of the demo's domain as the IdMS knows them. */
typedef struct demo_account {
    const char *name;     /* user name at the IdMS */
    const char *uri;      /* MCPTT ID, the URI the KMS keys are bound to */
    const char *password; /* demo only: real users type theirs */
} demo_account;

/* Print "mcx-demo: FAILED: what: reason (status)" on stderr; returns 1. */
int demo_failed(const char *what, mcx_status st);

/* Step 1 (demo_idms.c): an IdMS on loopback with accounts[0..n) registered; accounts[0] logs in
 * and the access token is checked as the KMS will check it. Returns 0, or 1 after printing why. */
int demo_idms_login(const demo_account *accounts, size_t n);

#endif
