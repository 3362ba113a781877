/* stagefork refresh */
#include "cli.h"

enum {
    OPT_SNAPSHOT = OPT_VERB_BASE
};

const struct cli_opt cmd_refresh_opts[] = {
    {"snapshot", 0, 1, OPT_SNAPSHOT},
    {NULL, 0, 0, 0}};

const char cmd_refresh_usage[] =
    "usage: stagefork refresh BRANCH [--snapshot NAME]\n"
    "\n"
    "Rebuild a persistent environment's databases from the newest snapshot beside\n"
    "the live ones, then swap names under a short lock. Outputs stay the same.\n"
    "\n"
    "      --snapshot NAME    snapshot to use (default: the one in the template)\n"
;

int cmd_refresh(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "refresh arrives with issue #7");
}
