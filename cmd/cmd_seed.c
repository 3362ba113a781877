/* stagefork seed */
#include "cli.h"

enum {
    OPT_SPEC = OPT_VERB_BASE,
    OPT_PROFILE,
    OPT_TO,
    OPT_SEED,
    OPT_SET
};

const struct cli_opt cmd_seed_opts[] = {
    {"spec", 0, 1, OPT_SPEC},
    {"profile", 0, 1, OPT_PROFILE},
    {"to", 0, 1, OPT_TO},
    {"seed", 0, 1, OPT_SEED},
    {"set", 0, 1, OPT_SET},
    {NULL, 0, 0, 0}};

const char cmd_seed_usage[] =
    "usage: stagefork seed --spec FILE --profile NAME[,NAME] --to DSN|- [--seed N] [--set PARAM=VALUE]...\n"
    "\n"
    "Generate representative tenant data from a seed spec into a database (COPY), or\n"
    "as COPY text on standard output with --to -. Deterministic for a given --seed.\n"
    "\n"
    "      --spec FILE        seed spec (YAML)\n"
    "      --profile NAMES    profiles to apply, comma separated (they compose)\n"
    "      --to DSN|-         target database, or - for COPY text on stdout\n"
    "      --seed N           random seed (default 1)\n"
    "      --set PARAM=VALUE  override a profile parameter such as scale (repeatable)\n"
;

int cmd_seed(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "seeding arrives with issue #8");
}
