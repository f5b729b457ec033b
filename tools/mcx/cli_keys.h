/* What the mcx commands that work on the client's keys share (cmd_keys.c, group.c,
 * group_media.c): the keystore of --keystore / --passphrase-file, and the user a token names. */
#ifndef MCX_TOOLS_CLI_KEYS_H
#define MCX_TOOLS_CLI_KEYS_H

#include <stddef.h>

#include "cli.h"
#include "mcxsec/keystore.h"

/* Open the keystore of --keystore (default: keystore.bin next to the token file) with the
 * passphrase of --passphrase-file when given; path receives the file's name. Returns an exit
 * code (the reason printed). */
int cli_open_keystore(cli_ctx *ctx, unsigned flags, char *path, size_t cap, mcx_keystore **ks);

/* The MC service ID a token names (TS 33.180 B.4: its mcptt_id claim), malloc'd, or NULL. The
 * token is not verified: the services it is sent to do that. */
char *cli_token_mcptt_id(const char *jwt);

#endif
