/* stagefork extend */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"

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
    sf_engine *e = NULL;
    json_t *rec = NULL;
    const char *branch;
    int64_t ttl = 0;
    int rc;

    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    for (size_t i = 0; i < args->nopt; i++)
        if (args->opt[i].id == OPT_TTL && (rc = cli_duration(&ttl, "--ttl", args->opt[i].val)))
            return rc;
    if (!ttl)
        return cli_usage_error(cli, "--ttl DUR is required");
    if ((rc = envcli_open(cli, &e)))
        return rc;
    if (sf_env_extend(&rec, e, branch, ttl) < 0) {
        rc = cli_fail(sf_engine_error(e));
    } else if (cli->json) {
        rc = envcli_print_view(rec);
    } else if (!cli->quiet) {
        const char *x = json_string_value(json_object_get(rec, "expires_at"));
        printf("environment '%s' now expires %s\n", json_string_value(json_object_get(rec, "slug")), x ? x : "never");
    }
    json_decref(rec);
    sf_engine_free(e);
    return rc;
}
