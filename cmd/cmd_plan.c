/* stagefork plan */
#include "cli.h"

enum {
    OPT_TEMPLATE = OPT_VERB_BASE,
    OPT_SET
};

const struct cli_opt cmd_plan_opts[] = {
    {"template", 't', 1, OPT_TEMPLATE},
    {"set", 0, 1, OPT_SET},
    {NULL, 0, 0, 0}};

const char cmd_plan_usage[] =
    "usage: stagefork plan BRANCH -t TEMPLATE [--set K=V]...\n"
    "\n"
    "Render and validate TEMPLATE for BRANCH and print the resource graph with the\n"
    "rendered specs (secrets redacted). Touches nothing.\n"
    "\n"
    "  -t, --template NAME    template name or path\n"
    "      --set K=V          template parameter (repeatable)\n"
;

int cmd_plan(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "templates arrive with issue #5");
}
