/* stagefork plan */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"

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

static void print_plan(const json_t *plan)
{
    json_t *res = json_object_get(plan, "resources"), *r, *v;
    const char *k;
    size_t i, j;
    printf("plan for branch '%s' (slug %s): template %s (%s), ttl %s\n",
           json_string_value(json_object_get(plan, "branch")), json_string_value(json_object_get(plan, "slug")),
           json_string_value(json_object_get(plan, "template")),
           json_string_value(json_object_get(plan, "template_path")), json_string_value(json_object_get(plan, "ttl")));
    if (json_object_size(json_object_get(plan, "params"))) {
        printf("params:");
        json_object_foreach(json_object_get(plan, "params"), k, v) printf(" %s=%s", k, json_string_value(v));
        printf("\n");
    }
    printf("\nresources, in creation order (destroyed in reverse):\n");
    json_array_foreach(res, i, r)
    {
        json_t *deps = json_object_get(r, "depends_on"), *d;
        char *spec = json_dumps(json_object_get(r, "spec"), JSON_INDENT(2));
        printf("%zu. %s (%s) -> %s\n", i + 1, json_string_value(json_object_get(r, "name")),
               json_string_value(json_object_get(r, "type")), json_string_value(json_object_get(r, "id")));
        if (json_array_size(deps)) {
            printf("   after:");
            json_array_foreach(deps, j, d) printf(" %s", json_string_value(d));
            printf("\n");
        }
        if (spec) {
            printf("   with: ");
            for (const char *p = spec; *p; p++) {
                putchar(*p);
                if (*p == '\n')
                    fputs("         ", stdout);
            }
            putchar('\n');
            free(spec);
        }
    }
    if (json_object_size(json_object_get(plan, "outputs"))) {
        printf("\noutputs:\n");
        json_object_foreach(json_object_get(plan, "outputs"), k, v)
        {
            char *t = json_dumps(v, JSON_ENCODE_ANY);
            printf("  %s = %s\n", k, json_is_string(v) ? json_string_value(v) : (t ? t : ""));
            free(t);
        }
    }
    json_array_foreach(json_object_get(plan, "warnings"), i, v) fprintf(stderr, "warning: %s\n", json_string_value(v));
}

int cmd_plan(sf_cli *cli, const cli_args *args)
{
    sf_config *cfg;
    json_t *plan = NULL;
    const char *branch, *tpl = NULL;
    const char **set;
    size_t nset;
    sf_error err = {0};
    int rc;

    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    for (size_t i = 0; i < args->nopt; i++)
        if (args->opt[i].id == OPT_TEMPLATE)
            tpl = args->opt[i].val;
    if (!tpl)
        return cli_usage_error(cli, "-t TEMPLATE is required");
    if ((rc = cli_config(cli, &cfg)))
        return rc;
    if (!(set = envcli_collect(args, OPT_SET, &nset)))
        return cli_error("out of memory");
    if (sf_env_plan(&plan, cfg, branch, tpl, set, nset, &err) < 0) {
        if (err.code == SF_EUSAGE)
            err.code = SF_ECONFIG;
        rc = cli_fail(&err);
    } else if (cli->json) {
        envcli_print_json(plan);
    } else {
        print_plan(plan);
    }
    json_decref(plan);
    free((void *)set);
    return rc;
}
