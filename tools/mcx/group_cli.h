/* Shared by the mcx group commands (group.c: keys from the GMS; group_media.c: group media). */
#ifndef MCX_TOOLS_GROUP_CLI_H
#define MCX_TOOLS_GROUP_CLI_H

#include <stddef.h>

#include "cli.h"
#include "cli_keys.h"
#include "mcxsec/keystore.h"

#define GROUP_F_KEYSTORE                                                                           \
    {                                                                                              \
        "keystore", CLI_STR, 0, {0, 0}, 0, 4096,                                                   \
            "the keystore file (default: keystore.bin next to the token file)"                     \
    }
#define GROUP_F_PASSFILE                                                                           \
    {                                                                                              \
        "passphrase-file", CLI_STR, 0, {0, 0}, 0, 4096,                                            \
            "read the keystore passphrase from this file ('-': standard input)"                    \
    }

/* mcx group send / listen (group_media.c). */
int group_run_send(cli_ctx *ctx);
int group_run_listen(cli_ctx *ctx);

#endif
