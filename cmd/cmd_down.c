/* stagefork down */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"

enum {
    OPT_FORCE = OPT_VERB_BASE
};

const struct cli_opt cmd_down_opts[] = {
    {"force", 0, 0, OPT_FORCE},
    {NULL, 0, 0, 0}};

const char cmd_down_usage[] =
    "usage: stagefork down BRANCH [--force]\n"
    "\n"
    "Tear down every resource of BRANCH's environment in reverse dependency order.\n"
    "A missing environment is success. Exit 5 if anything could not be removed\n"
    "(state is kept; run it again).\n"
    "\n"
    "      --force            continue past resources that fail and drop the state record anyway\n"
;

int cmd_down(sf_cli *cli, const cli_args *args)
{
    sf_engine *e = NULL;
    json_t *rec = NULL;
    const char *branch;
    int force = 0, rc, lrc;

    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    for (size_t i = 0; i < args->nopt; i++)
        if (args->opt[i].id == OPT_FORCE)
            force = 1;
    if ((rc = envcli_open(cli, &e)))
        return rc;
    envcli_catch_signals(e);
    lrc = sf_env_down(&rec, e, branch, force);
    if (lrc < 0)
        rc = cli_fail(sf_engine_error(e));
    if (cli->json) {
        if (rec)
            envcli_print_view(rec);
        else if (lrc == 0) {
            sf_buf slug = SF_BUF_INIT;
            json_t *v;
            sf_slug(&slug, branch);
            v = json_pack("{s:s, s:s, s:s}", "branch", branch, "slug", slug.ptr, "status", "absent");
            envcli_print_json(v);
            json_decref(v);
            sf_buf_free(&slug);
        }
    } else if (!cli->quiet) {
        if (lrc == 0 && !rec)
            printf("no environment for branch '%s': nothing to tear down\n", branch);
        else if (lrc == 0)
            printf("environment '%s' (branch %s) is deleted\n", json_string_value(json_object_get(rec, "slug")),
                   branch);
        else if (rec)
            envcli_print_env(rec, 0);
    }
    json_decref(rec);
    sf_engine_free(e);
    return rc;
}
