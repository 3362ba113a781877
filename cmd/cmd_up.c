/* stagefork up */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"

enum {
    OPT_TEMPLATE = OPT_VERB_BASE,
    OPT_TTL,
    OPT_SET,
    OPT_OUTPUT_ENV,
    OPT_WAIT_TIMEOUT,
    OPT_RECREATE,
    OPT_KEEP_TTL
};

const struct cli_opt cmd_up_opts[] = {
    {"template", 't', 1, OPT_TEMPLATE},
    {"ttl", 0, 1, OPT_TTL},
    {"set", 0, 1, OPT_SET},
    {"output-env", 0, 1, OPT_OUTPUT_ENV},
    {"wait-timeout", 0, 1, OPT_WAIT_TIMEOUT},
    {"recreate", 0, 0, OPT_RECREATE},
    {"keep-ttl", 0, 0, OPT_KEEP_TTL},
    {NULL, 0, 0, 0}};

const char cmd_up_usage[] =
    "usage: stagefork up BRANCH [-t TEMPLATE] [--ttl DUR] [--set K=V]... [--output-env FILE]\n"
    "                    [--wait-timeout DUR] [--recreate] [--keep-ttl]\n"
    "\n"
    "Create the environment for BRANCH from TEMPLATE, or reconcile an existing one:\n"
    "create what is missing, replace resources whose rendered spec changed, keep the\n"
    "rest, renew the expiry. Prints the environment's outputs.\n"
    "\n"
    "  -t, --template NAME    template name or path (default: the env's template, else \"default\")\n"
    "      --ttl DUR          time to live: 90s, 15m, 8h, 3d, or none (default limits.default_ttl)\n"
    "      --set K=V          template parameter (repeatable)\n"
    "      --output-env FILE  append KEY=VALUE lines (secrets included) to FILE, mode 0600\n"
    "      --wait-timeout DUR give up waiting for resources to become ready after DUR\n"
    "      --recreate         destroy and rebuild every resource\n"
    "      --keep-ttl         do not renew the expiry of an existing environment\n"
;

int cmd_up(sf_cli *cli, const cli_args *args)
{
    sf_up_opts o;
    sf_engine *e = NULL;
    json_t *rec = NULL;
    const char *branch, *output_env = NULL;
    int64_t d;
    int rc;

    memset(&o, 0, sizeof(o));
    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    for (size_t i = 0; i < args->nopt; i++) {
        const char *v = args->opt[i].val;
        switch (args->opt[i].id) {
        case OPT_TEMPLATE: o.template_ref = v; break;
        case OPT_TTL:
            if ((rc = cli_duration(&o.ttl, "--ttl", v)))
                return rc;
            break;
        case OPT_OUTPUT_ENV: output_env = v; break;
        case OPT_WAIT_TIMEOUT:
            if ((rc = cli_duration(&d, "--wait-timeout", v)))
                return rc;
            o.wait_timeout = d == SF_DURATION_NONE ? 0 : (double)d;
            break;
        case OPT_RECREATE: o.recreate = 1; break;
        case OPT_KEEP_TTL: o.keep_ttl = 1; break;
        default: break;
        }
    }
    if (o.keep_ttl && o.ttl)
        return cli_usage_error(cli, "--keep-ttl and --ttl cannot be combined");
    o.set = envcli_collect(args, OPT_SET, &o.nset);
    if (!o.set)
        return cli_error("out of memory");
    for (size_t i = 0; i < o.nset; i++)
        if (!strchr(o.set[i], '=') || o.set[i][0] == '=') {
            free((void *)o.set);
            return cli_usage_error(cli, "--set '%s': expected NAME=VALUE", o.set[i]);
        }
    if ((rc = envcli_open(cli, &e))) {
        free((void *)o.set);
        return rc;
    }
    envcli_catch_signals(e);
    if (sf_env_up(&rec, e, branch, &o) < 0) {
        rc = cli_fail(sf_engine_error(e));
        if (rec && cli->json)
            envcli_print_view(rec);
        else if (rec && !cli->quiet)
            envcli_print_env(rec, 0);
        goto out;
    }
    if (output_env) {
        json_t *outs;
        sf_error err = {0};
        if (sf_env_outputs(&outs, rec, 1, 1, &err) < 0 || sf_env_dotenv_write(output_env, outs, &err) < 0) {
            if (outs)
                json_decref(outs);
            rc = cli_fail(&err);
            goto out;
        }
        json_decref(outs);
    }
    if (cli->json)
        rc = envcli_print_view(rec);
    else
        envcli_print_env(rec, 1);
out:
    json_decref(rec);
    free((void *)o.set);
    sf_engine_free(e);
    return rc;
}
