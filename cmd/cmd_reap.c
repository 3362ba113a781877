/* stagefork reap */
#include "cli.h"

enum {
    OPT_DRY_RUN = OPT_VERB_BASE,
    OPT_WATCH,
    OPT_MAX
};

const struct cli_opt cmd_reap_opts[] = {
    {"dry-run", 0, 0, OPT_DRY_RUN},
    {"watch", 0, 1, OPT_WATCH},
    {"max", 0, 1, OPT_MAX},
    {NULL, 0, 0, 0}};

const char cmd_reap_usage[] =
    "usage: stagefork reap [--dry-run] [--watch INTERVAL] [--max N]\n"
    "\n"
    "Tear down every environment whose expiry has passed, and resume environments\n"
    "left creating/deleting by a process that is gone.\n"
    "\n"
    "      --dry-run          list what would be reaped, change nothing\n"
    "      --watch INTERVAL   sweep every INTERVAL until SIGINT/SIGTERM\n"
    "      --max N            reap at most N environments per sweep\n"
;

int cmd_reap(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "the reaper arrives with issue #9");
}
