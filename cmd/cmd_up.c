/* stagefork up */
#include "cli.h"

enum {
    OPT_TEMPLATE = OPT_VERB_BASE,
    OPT_TTL,
    OPT_SET,
    OPT_OUTPUT_ENV,
    OPT_WAIT_TIMEOUT,
    OPT_RECREATE,
    OPT_KEEP_TTL
};

const struct cli_opt cmd_up_opts[] = {
    {"template", 't', 1, OPT_TEMPLATE},
    {"ttl", 0, 1, OPT_TTL},
    {"set", 0, 1, OPT_SET},
    {"output-env", 0, 1, OPT_OUTPUT_ENV},
    {"wait-timeout", 0, 1, OPT_WAIT_TIMEOUT},
    {"recreate", 0, 0, OPT_RECREATE},
    {"keep-ttl", 0, 0, OPT_KEEP_TTL},
    {NULL, 0, 0, 0}};

const char cmd_up_usage[] =
    "usage: stagefork up BRANCH [-t TEMPLATE] [--ttl DUR] [--set K=V]... [--output-env FILE]\n"
    "                    [--wait-timeout DUR] [--recreate] [--keep-ttl]\n"
    "\n"
    "Create the environment for BRANCH from TEMPLATE, or reconcile an existing one:\n"
    "create what is missing, replace resources whose rendered spec changed, keep the\n"
    "rest, renew the expiry. Prints the environment's outputs.\n"
    "\n"
    "  -t, --template NAME    template name or path (default: the env's template, else \"default\")\n"
    "      --ttl DUR          time to live: 90s, 15m, 8h, 3d, or none (default limits.default_ttl)\n"
    "      --set K=V          template parameter (repeatable)\n"
    "      --output-env FILE  append KEY=VALUE lines (secrets included) to FILE, mode 0600\n"
    "      --wait-timeout DUR give up waiting for resources to become ready after DUR\n"
    "      --recreate         destroy and rebuild every resource\n"
    "      --keep-ttl         do not renew the expiry of an existing environment\n"
;

int cmd_up(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "environments arrive with issue #5");
}
