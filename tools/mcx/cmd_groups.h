/* The command groups of mcx, one table each (cmd_<group>.c). A new group is one line here and one
 * line in main.c's table. */
#ifndef MCX_TOOLS_CMD_GROUPS_H
#define MCX_TOOLS_CMD_GROUPS_H

#include "cli.h"

extern const cli_group mcx_crypto_group;
extern const cli_group mcx_mikey_group;
extern const cli_group mcx_idms_group;
extern const cli_group mcx_login_group;
extern const cli_group mcx_token_group;
extern const cli_group mcx_kms_group;
extern const cli_group mcx_keys_group;
extern const cli_group mcx_group_group;

#endif
