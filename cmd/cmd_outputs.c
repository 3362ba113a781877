/* stagefork outputs */
#include "cli.h"

enum {
    OPT_REVEAL = OPT_VERB_BASE,
    OPT_FORMAT
};

const struct cli_opt cmd_outputs_opts[] = {
    {"reveal", 0, 0, OPT_REVEAL},
    {"format", 0, 1, OPT_FORMAT},
    {NULL, 0, 0, 0}};

const char cmd_outputs_usage[] =
    "usage: stagefork outputs BRANCH [--reveal] [--format env|json]\n"
    "\n"
    "An environment's outputs. Secrets are shown as *** unless --reveal.\n"
    "\n"
    "      --reveal           show secret values\n"
    "      --format FMT       env (KEY=VALUE lines, default) or json\n"
;

int cmd_outputs(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "environments arrive with issue #5");
}
