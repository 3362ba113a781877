/* stagefork list */
#include "cli.h"

enum {
    OPT_ALL = OPT_VERB_BASE,
    OPT_EXPIRED
};

const struct cli_opt cmd_list_opts[] = {
    {"all", 0, 0, OPT_ALL},
    {"expired", 0, 0, OPT_EXPIRED},
    {NULL, 0, 0, 0}};

const char cmd_list_usage[] =
    "usage: stagefork list [--all] [--expired]\n"
    "\n"
    "Environments: branch, slug, template, status, created, expires, resources.\n"
    "\n"
    "      --all              include deleted environments\n"
    "      --expired          only environments whose expiry has passed\n"
;

int cmd_list(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "environments arrive with issue #5");
}
