/* stagefork gc */
#include "cli.h"

enum {
    OPT_ORPHANS = OPT_VERB_BASE,
    OPT_DRY_RUN
};

const struct cli_opt cmd_gc_opts[] = {
    {"orphans", 0, 0, OPT_ORPHANS},
    {"dry-run", 0, 0, OPT_DRY_RUN},
    {NULL, 0, 0, 0}};

const char cmd_gc_usage[] =
    "usage: stagefork gc [--orphans] [--dry-run]\n"
    "\n"
    "Find resources that carry the stagefork prefix but belong to no environment in\n"
    "the state (databases, roles, buckets, processes) and golden templates nothing\n"
    "needs, and remove them. Never touches anything without the prefix or matching\n"
    "guard.protected.\n"
    "\n"
    "      --orphans          look for orphaned resources (default: templates only)\n"
    "      --dry-run          list, remove nothing\n"
;

int cmd_gc(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "orphan collection arrives with issue #9");
}
