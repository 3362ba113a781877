/* stagefork outputs */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"

enum {
    OPT_REVEAL = OPT_VERB_BASE,
    OPT_FORMAT
};

const struct cli_opt cmd_outputs_opts[] = {
    {"reveal", 0, 0, OPT_REVEAL},
    {"format", 0, 1, OPT_FORMAT},
    {NULL, 0, 0, 0}};

const char cmd_outputs_usage[] =
    "usage: stagefork outputs BRANCH [--reveal] [--format env|json]\n"
    "\n"
    "An environment's outputs. Secrets are shown as *** unless --reveal.\n"
    "\n"
    "      --reveal           show secret values\n"
    "      --format FMT       env (KEY=VALUE lines, default) or json\n"
;

int cmd_outputs(sf_cli *cli, const cli_args *args)
{
    sf_engine *e = NULL;
    json_t *rec = NULL, *outs = NULL;
    const char *branch, *format = NULL;
    sf_error err = {0};
    int reveal = 0, rc;

    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    for (size_t i = 0; i < args->nopt; i++) {
        if (args->opt[i].id == OPT_REVEAL)
            reveal = 1;
        if (args->opt[i].id == OPT_FORMAT)
            format = args->opt[i].val;
    }
    if (!format)
        format = cli->json ? "json" : "env";
    if (strcmp(format, "env") && strcmp(format, "json"))
        return cli_usage_error(cli, "--format must be env or json, not '%s'", format);
    if ((rc = envcli_open(cli, &e)))
        return rc;
    if (sf_env_get(&rec, e, branch) < 0) {
        rc = cli_fail(sf_engine_error(e));
        goto out;
    }
    if (sf_env_outputs(&outs, rec, reveal, reveal, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (!strcmp(format, "json")) {
        envcli_print_json(outs);
    } else {
        sf_buf b = SF_BUF_INIT;
        const char *k;
        json_t *v;
        json_object_foreach(outs, k, v) if (sf_env_dotenv_add(&b, k, json_string_value(v), &err) < 0)
        {
            rc = cli_fail(&err);
            break;
        }
        fwrite(b.ptr, 1, b.len, stdout);
        sf_buf_free(&b);
    }
out:
    json_decref(rec);
    json_decref(outs);
    sf_engine_free(e);
    return rc;
}
