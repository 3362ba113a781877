/* stagefork reap */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "envcli.h"
#include "stagefork/reap.h"

enum {
    OPT_DRY_RUN = OPT_VERB_BASE,
    OPT_WATCH,
    OPT_MAX,
    OPT_JOBS,
    OPT_GRACE
};

const struct cli_opt cmd_reap_opts[] = {
    {"dry-run", 0, 0, OPT_DRY_RUN},
    {"watch", 0, 1, OPT_WATCH},
    {"max", 0, 1, OPT_MAX},
    {"jobs", 'j', 1, OPT_JOBS},
    {"grace", 0, 1, OPT_GRACE},
    {NULL, 0, 0, 0}};

const char cmd_reap_usage[] =
    "usage: stagefork reap [--dry-run] [--watch INTERVAL] [--max N] [-j N] [--grace DUR]\n"
    "\n"
    "Tear down every environment whose expiry has passed, and resume environments\n"
    "left creating/deleting by a process that is gone (lock free, unchanged for the\n"
    "grace period). Environments in use by another process are skipped, so several\n"
    "reapers can run at once. Exit 5 if an environment could not be fully removed\n"
    "(it is retried next sweep), 1 if an interrupted one could not be resumed.\n"
    "\n"
    "      --dry-run          list what would be reaped, change nothing\n"
    "      --watch INTERVAL   sweep every INTERVAL until SIGINT/SIGTERM (the environments\n"
    "                         in hand are finished first)\n"
    "      --max N            reap at most N environments per sweep (most overdue first)\n"
    "  -j, --jobs N           environments torn down at once (default 4)\n"
    "      --grace DUR        how long an interrupted environment must be left alone before\n"
    "                         it is resumed (default 10m)\n";

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* "erp (sf_x_erp), assets (sf-x-assets)"; with errors for what remains. */
static void print_resources(const json_t *arr, int errors)
{
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        printf("%s%s (%s)", i ? ", " : "", str(r, "name"), str(r, "id"));
        if (errors && json_object_get(r, "error"))
            printf(": %s", str(r, "error"));
    }
}

struct out {
    const sf_cli *cli;
};

/* One line per environment as soon as it is done (human output). */
static void print_item(const json_t *it, void *ud)
{
    const struct out *o = ud;
    const char *res = str(it, "result"), *reason = str(it, "reason");
    if (o->cli->json || o->cli->quiet)
        return;
    if (!strcmp(res, "would-delete") || !strcmp(res, "would-resume")) {
        printf("would %s %s (%s): %s since %s\n", !strcmp(res, "would-delete") ? "reap" : "resume", str(it, "branch"),
               str(it, "slug"), reason, str(it, "since"));
    } else if (!strcmp(res, "deleted") || !strcmp(res, "incomplete")) {
        json_t *rm = json_object_get(it, "removed");
        printf("%s %s (%s): %s since %s; ", !strcmp(res, "deleted") ? "reaped" : "incomplete", str(it, "branch"),
               str(it, "slug"), reason, str(it, "since"));
        if (json_array_size(rm)) {
            printf("removed ");
            print_resources(rm, 0);
        } else {
            printf("nothing left to remove");
        }
        if (!strcmp(res, "incomplete")) {
            printf("; left ");
            print_resources(json_object_get(it, "remaining"), 1);
        }
        printf("\n");
    } else if (!strcmp(res, "resumed")) {
        printf("resumed %s (%s): %s since %s; ready\n", str(it, "branch"), str(it, "slug"), reason, str(it, "since"));
    } else if (!strcmp(res, "skipped")) {
        printf("skipped %s (%s): %s\n", str(it, "branch"), str(it, "slug"), str(it, "detail"));
    } else {
        printf("failed %s (%s): %s: %s\n", str(it, "branch"), str(it, "slug"), str(it, "action"), str(it, "error"));
    }
    fflush(stdout);
}

static void print_summary(const sf_cli *cli, const json_t *report)
{
    const json_t *c = json_object_get(report, "counts");
    json_int_t n = json_integer_value(json_object_get(c, "candidates"));
    if (cli->quiet)
        return;
    if (n == 0) {
        printf("reap: nothing to do\n");
        return;
    }
    printf("reap: %" JSON_INTEGER_FORMAT " deleted, %" JSON_INTEGER_FORMAT " resumed, %" JSON_INTEGER_FORMAT
           " incomplete, %" JSON_INTEGER_FORMAT " failed, %" JSON_INTEGER_FORMAT " skipped, %" JSON_INTEGER_FORMAT
           " deferred (of %" JSON_INTEGER_FORMAT " due) in %.1fs%s\n",
           json_integer_value(json_object_get(c, "deleted")), json_integer_value(json_object_get(c, "resumed")),
           json_integer_value(json_object_get(c, "incomplete")), json_integer_value(json_object_get(c, "failed")),
           json_integer_value(json_object_get(c, "skipped")), json_integer_value(json_object_get(c, "deferred")), n,
           json_number_value(json_object_get(report, "seconds")),
           json_is_true(json_object_get(report, "dry_run")) ? " (dry run: nothing changed)" : "");
    fflush(stdout);
}

/* Sleep up to secs, waking early when a signal asks to stop. */
static void nap(double secs)
{
    double end = sf_monotonic() + secs;
    while (!cli_interrupted && sf_monotonic() < end) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int cmd_reap(sf_cli *cli, const cli_args *args)
{
    sf_reap_opts o;
    struct out ou = {cli};
    sf_config *cfg;
    int64_t v, watch = 0;
    int rc;

    memset(&o, 0, sizeof(o));
    if (args->npos)
        return cli_usage_error(cli, "reap takes no arguments");
    for (size_t i = 0; i < args->nopt; i++) {
        const char *val = args->opt[i].val;
        switch (args->opt[i].id) {
        case OPT_DRY_RUN:
            o.dry_run = 1;
            break;
        case OPT_WATCH:
            if ((rc = cli_duration(&watch, "--watch", val)))
                return rc;
            if (watch == SF_DURATION_NONE)
                return cli_usage_error(cli, "--watch needs an interval, not 'none'");
            break;
        case OPT_MAX:
            if (sf_parse_i64(&v, val, 1, 1000000000) < 0)
                return cli_usage_error(cli, "--max: '%s' is not a number from 1 to 1000000000", val);
            o.max = (size_t)v;
            break;
        case OPT_JOBS:
            if (sf_parse_i64(&v, val, 1, 64) < 0)
                return cli_usage_error(cli, "--jobs: '%s' is not a number from 1 to 64", val);
            o.parallel = (size_t)v;
            break;
        case OPT_GRACE:
            if ((rc = cli_duration(&v, "--grace", val)))
                return rc;
            if (v == SF_DURATION_NONE)
                return cli_usage_error(cli, "--grace needs a duration, not 'none'");
            o.grace = v;
            break;
        }
    }
    if ((rc = cli_config(cli, &cfg)) != 0)
        return rc;
    o.interval = (double)watch;
    o.stop = &cli_interrupted;
    o.on_env = print_item;
    o.ud = &ou;
    cli_catch_signals();
    for (;;) {
        json_t *report = NULL;
        sf_error err = {0};
        int lrc = sf_reap_sweep(&report, cfg, cli->state_url, &o, &err);
        rc = lrc < 0 ? sf_exit_code(lrc) : 0;
        if (report) {
            if (cli->json) {
                json_dumpf(report, stdout, (watch ? JSON_COMPACT : JSON_INDENT(2) | JSON_PRESERVE_ORDER) | JSON_REAL_PRECISION(6));
                fputc('\n', stdout);
                fflush(stdout);
            } else {
                print_summary(cli, report);
            }
        }
        if (lrc < 0)
            cli_error("%s", err.msg);
        json_decref(report);
        if (!watch || cli_interrupted)
            break;
        nap((double)watch);
        if (cli_interrupted)
            break;
    }
    return rc;
}
