/* mcx: the mcxsec command-line program. `mcx <group> <command> [flags]`; see docs/cli.md. */
#include "cli.h"
#include "cmd_groups.h"

static const cli_group *const groups[] = {
    &mcx_crypto_group,
    &mcx_mikey_group,
};

int main(int argc, char **argv)
{
    return cli_main(argc, argv, groups, sizeof groups / sizeof groups[0]);
}
