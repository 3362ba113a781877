/* stagefork down */
#include "cli.h"

enum {
    OPT_FORCE = OPT_VERB_BASE
};

const struct cli_opt cmd_down_opts[] = {
    {"force", 0, 0, OPT_FORCE},
    {NULL, 0, 0, 0}};

const char cmd_down_usage[] =
    "usage: stagefork down BRANCH [--force]\n"
    "\n"
    "Tear down every resource of BRANCH's environment in reverse dependency order.\n"
    "A missing environment is success. Exit 5 if anything could not be removed\n"
    "(state is kept; run it again).\n"
    "\n"
    "      --force            continue past resources that fail and drop the state record anyway\n"
;

int cmd_down(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "environments arrive with issue #5");
}
