/* stagefork status */
#include "cli.h"

const struct cli_opt cmd_status_opts[] = {
    {NULL, 0, 0, 0}};

const char cmd_status_usage[] =
    "usage: stagefork status BRANCH\n"
    "\n"
    "One environment in detail: resources, their status and ids, expiry, last events.\n"
;

int cmd_status(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "environments arrive with issue #5");
}
