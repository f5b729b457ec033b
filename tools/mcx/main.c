/* mcx: the mcxsec command-line program. `mcx <group> <command> [flags]` (a command may be several
 * words, and a group may itself be the command: `mcx login --idms ...`); see docs/cli.md. */
#include "cli.h"
#include "cmd_groups.h"

static const cli_group *const groups[] = {
    &mcx_crypto_group, &mcx_mikey_group, &mcx_idms_group, &mcx_login_group,
    &mcx_token_group,  &mcx_kms_group,   &mcx_keys_group, &mcx_group_group,
};

int main(int argc, char **argv)
{
    return cli_main(argc, argv, groups, sizeof groups / sizeof groups[0]);
}
