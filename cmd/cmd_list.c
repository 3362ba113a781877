/* stagefork list */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"

enum {
    OPT_ALL = OPT_VERB_BASE,
    OPT_EXPIRED
};

const struct cli_opt cmd_list_opts[] = {
    {"all", 0, 0, OPT_ALL},
    {"expired", 0, 0, OPT_EXPIRED},
    {NULL, 0, 0, 0}};

const char cmd_list_usage[] =
    "usage: stagefork list [--all] [--expired]\n"
    "\n"
    "Environments: branch, slug, template, status, created, expires, resources.\n"
    "\n"
    "      --all              include deleted environments\n"
    "      --expired          only environments whose expiry has passed\n"
;

int cmd_list(sf_cli *cli, const cli_args *args)
{
    sf_engine *e = NULL;
    json_t *list = NULL, *r;
    unsigned flags = 0;
    size_t i, w[6] = {6, 4, 8, 6, 7, 7};
    int rc;

    if (args->npos)
        return cli_usage_error(cli, "list takes no arguments");
    for (size_t k = 0; k < args->nopt; k++) {
        if (args->opt[k].id == OPT_ALL)
            flags |= SF_LIST_ALL;
        if (args->opt[k].id == OPT_EXPIRED)
            flags |= SF_LIST_EXPIRED;
    }
    if ((rc = envcli_open(cli, &e)))
        return rc;
    if (sf_env_list(&list, e, flags) < 0) {
        rc = cli_fail(sf_engine_error(e));
        sf_engine_free(e);
        return rc;
    }
    if (cli->json) {
        json_t *arr = json_array();
        json_array_foreach(list, i, r)
        {
            json_t *v;
            sf_error err = {0};
            if (sf_env_view(&v, r, &err) == 0)
                json_array_append_new(arr, v);
        }
        envcli_print_json(arr);
        json_decref(arr);
    } else {
        static const char *const keys[] = {"branch", "slug", "template", "status", "created_at", "expires_at"};
        json_array_foreach(list, i, r) for (size_t k = 0; k < 6; k++)
        {
            const char *v = json_string_value(json_object_get(r, keys[k]));
            size_t len = strlen(v ? v : (k == 5 ? "never" : "-"));
            w[k] = len > w[k] ? len : w[k];
        }
        printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], "BRANCH", (int)w[1], "SLUG", (int)w[2],
               "TEMPLATE", (int)w[3], "STATUS", (int)w[4], "CREATED", (int)w[5], "EXPIRES", "RESOURCES");
        json_array_foreach(list, i, r)
        {
            const char *v[6];
            size_t ready = 0, j;
            json_t *x;
            for (size_t k = 0; k < 6; k++) {
                v[k] = json_string_value(json_object_get(r, keys[k]));
                if (!v[k])
                    v[k] = k == 5 ? "never" : "-";
            }
            json_array_foreach(json_object_get(r, "resources"), j, x)
            {
                const char *st = json_string_value(json_object_get(x, "status"));
                ready += st && !strcmp(st, "ready");
            }
            printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %zu/%zu\n", (int)w[0], v[0], (int)w[1], v[1], (int)w[2], v[2],
                   (int)w[3], v[3], (int)w[4], v[4], (int)w[5], v[5], ready,
                   json_array_size(json_object_get(r, "resources")));
        }
        if (!cli->quiet) {
            printf("\n");
            envcli_print_reaper(e);
        }
    }
    json_decref(list);
    sf_engine_free(e);
    return 0;
}
