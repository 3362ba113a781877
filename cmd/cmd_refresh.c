/* stagefork refresh */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"
#include "stagefork/refresh.h"

enum {
    OPT_SNAPSHOT = OPT_VERB_BASE
};

const struct cli_opt cmd_refresh_opts[] = {
    {"snapshot", 0, 1, OPT_SNAPSHOT},
    {NULL, 0, 0, 0}};

const char cmd_refresh_usage[] =
    "usage: stagefork refresh BRANCH [--snapshot NAME]\n"
    "\n"
    "Rebuild a persistent environment's databases from the newest snapshot beside\n"
    "the live ones, then swap names under a short lock. Outputs stay the same.\n"
    "\n"
    "      --snapshot NAME    snapshot to use (default: the one in the template)\n"
    "\n"
    "Sessions on a refreshed database are terminated at the swap; clients reconnect\n"
    "to the same URL and find the new data. The downtime (from closing the database\n"
    "to new connections until the renamed one accepts them) is printed.\n";

int cmd_refresh(sf_cli *cli, const cli_args *args)
{
    sf_engine *e = NULL;
    json_t *rep = NULL, *r;
    const char *branch, *snapshot = NULL;
    size_t i;
    int rc;
    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    for (size_t k = 0; k < args->nopt; k++)
        if (args->opt[k].id == OPT_SNAPSHOT)
            snapshot = args->opt[k].val;
    if (snapshot && !strchr(snapshot, '@') && !sf_snapshot_name_valid(snapshot))
        return cli_usage_error(cli, "--snapshot '%s' is not a snapshot name", snapshot);
    if ((rc = envcli_open(cli, &e)))
        return rc;
    envcli_catch_signals(e);
    if (sf_env_refresh(&rep, e, branch, snapshot) < 0) {
        rc = cli_fail(sf_engine_error(e));
        sf_engine_free(e);
        return rc;
    }
    if (cli->json) {
        envcli_print_json(rep);
    } else if (!cli->quiet) {
        json_array_foreach(json_object_get(rep, "resources"), i, r)
        {
            printf("%s: %s refreshed from %s (template %s, %s) in %.1fs, downtime %.0f ms\n",
                   json_string_value(json_object_get(r, "name")), json_string_value(json_object_get(r, "database")),
                   json_string_value(json_object_get(r, "snapshot")),
                   json_string_value(json_object_get(r, "template")),
                   json_is_true(json_object_get(r, "template_built")) ? "built" : "reused",
                   json_real_value(json_object_get(r, "seconds")), json_real_value(json_object_get(r, "downtime_ms")));
        }
    }
    json_decref(rep);
    sf_engine_free(e);
    return 0;
}
