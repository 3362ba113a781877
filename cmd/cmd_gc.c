/* stagefork gc */
#include <string.h>
#include "cli.h"
#include "stagefork/gc.h"

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
    "guard.protected. Looks on postgres.admin_url, s3.endpoint and every server and\n"
    "endpoint the state's resources were created on. Exit 5 if an orphan could not\n"
    "be removed, 1 if a configured server could not be listed.\n"
    "\n"
    "      --orphans          also look for orphaned resources (default: golden templates only)\n"
    "      --dry-run          list, remove nothing\n"
;

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void print_report(const json_t *report)
{
    const json_t *c = json_object_get(report, "counts"), *tpl = json_object_get(report, "templates");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(report, "targets"), i, x)
    {
        if (json_object_get(x, "error"))
            cli_warn("cannot list %s %s: %s", str(x, "kind"), str(x, "target"), str(x, "error"));
    }
    json_array_foreach(json_object_get(report, "orphans"), i, x)
    {
        const char *r = str(x, "result");
        printf("%-12s %-8s %s on %s", !strcmp(r, "would-remove") ? "would remove" : r, str(x, "kind"), str(x, "name"),
               str(x, "target"));
        if (json_object_get(x, "env"))
            printf(" (env %s)", str(x, "env"));
        else if (json_object_get(x, "env_id"))
            printf(" (env id %s, unknown to this state)", str(x, "env_id"));
        if (json_object_get(x, "detail"))
            printf(": %s", str(x, "detail"));
        if (json_object_get(x, "error"))
            printf(": %s", str(x, "error"));
        printf("\n");
    }
    if (json_object_size(c) && json_array_size(json_object_get(report, "targets"))) {
        json_int_t n = json_integer_value(json_object_get(c, "orphans"));
        if (n == 0)
            printf("gc: nothing to collect");
        else
            printf("gc: %" JSON_INTEGER_FORMAT " to collect: %" JSON_INTEGER_FORMAT " removed, %" JSON_INTEGER_FORMAT
                   " failed, %" JSON_INTEGER_FORMAT " skipped, %" JSON_INTEGER_FORMAT " would be removed",
                   n, json_integer_value(json_object_get(c, "removed")),
                   json_integer_value(json_object_get(c, "failed")), json_integer_value(json_object_get(c, "skipped")),
                   json_integer_value(json_object_get(c, "would-remove")));
        if (json_integer_value(json_object_get(c, "kept")))
            printf("; %" JSON_INTEGER_FORMAT " kept", json_integer_value(json_object_get(c, "kept")));
        printf("\n");
    }
    json_array_foreach(json_object_get(report, "targets"), i, x)
    {
        if (json_object_get(x, "templates_error"))
            cli_warn("cannot check the golden templates on %s: %s", str(x, "target"), str(x, "templates_error"));
    }
    if (json_object_get(tpl, "detail"))
        printf("gc: golden templates: %s\n", str(tpl, "detail"));
}

int cmd_gc(sf_cli *cli, const cli_args *args)
{
    sf_gc_opts o;
    sf_config *cfg;
    sf_error err = {0};
    json_t *report = NULL;
    int rc, lrc;

    memset(&o, 0, sizeof(o));
    o.templates = 1;
    if (args->npos)
        return cli_usage_error(cli, "gc takes no arguments");
    for (size_t i = 0; i < args->nopt; i++) {
        if (args->opt[i].id == OPT_ORPHANS)
            o.orphans = 1;
        else if (args->opt[i].id == OPT_DRY_RUN)
            o.dry_run = 1;
    }
    if ((rc = cli_config(cli, &cfg)) != 0)
        return rc;
    lrc = sf_gc(&report, cfg, cli->state_url, &o, &err);
    if (report) {
        if (cli->json) {
            json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
        } else if (!cli->quiet) {
            print_report(report);
        }
    }
    json_decref(report);
    return lrc < 0 ? cli_fail(&err) : 0;
}
