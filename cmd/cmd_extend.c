/* stagefork extend */
#include "cli.h"

enum {
    OPT_TTL = OPT_VERB_BASE
};

const struct cli_opt cmd_extend_opts[] = {
    {"ttl", 0, 1, OPT_TTL},
    {NULL, 0, 0, 0}};

const char cmd_extend_usage[] =
    "usage: stagefork extend BRANCH --ttl DUR\n"
    "\n"
    "Move the environment's expiry to now+DUR (bounded by limits.max_ttl).\n"
    "\n"
    "      --ttl DUR          new time to live: 90s, 15m, 8h, 3d, or none\n"
;

int cmd_extend(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "environments arrive with issue #5");
}
