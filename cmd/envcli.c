/* Helpers shared by the environment verbs: engine setup, signals, printing records. */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"
#include "stagefork/reap.h"

void envcli_catch_signals(sf_engine *e)
{
    cli_catch_signals();
    sf_engine_set_cancel(e, &cli_interrupted);
}

int envcli_open(sf_cli *cli, sf_engine **out)
{
    sf_config *cfg;
    sf_error err = {0};
    int rc;
    *out = NULL;
    if ((rc = cli_config(cli, &cfg)) != 0)
        return rc;
    if (sf_engine_new(out, cfg, cli->state_url, &err) < 0)
        return cli_fail(&err);
    sf_engine_set_lock_timeout(*out, cli->lock_timeout == INT64_MAX ? -1.0 : (double)cli->lock_timeout);
    return 0;
}

const char **envcli_collect(const cli_args *args, int id, size_t *n)
{
    const char **v = calloc(args->nopt + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; v && i < args->nopt; i++)
        if (args->opt[i].id == id)
            v[(*n)++] = args->opt[i].val;
    return v;
}

void envcli_print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

int envcli_print_view(const json_t *rec)
{
    json_t *view;
    sf_error err = {0};
    if (sf_env_view(&view, rec, &err) < 0)
        return cli_fail(&err);
    envcli_print_json(view);
    json_decref(view);
    return 0;
}

static const char *s(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

/* "in 7h59m" / "3m ago" / "" */
static void relative(char out[48], const char *when)
{
    int64_t t, d;
    char dur[32];
    out[0] = '\0';
    if (!when || sf_time_parse(&t, when, NULL) < 0)
        return;
    d = t - sf_now();
    sf_duration_format(dur, d >= 0 ? d : -d);
    snprintf(out, 48, d >= 0 ? " (in %s)" : " (%s ago)", d == 0 ? "0s" : dur);
}

void envcli_print_env(const json_t *rec, int show_outputs)
{
    json_t *res = json_object_get(rec, "resources"), *r, *outs = NULL;
    size_t i, wn = 8, wt = 4, ws = 6;
    char rel[48];
    sf_error err = {0};
    relative(rel, json_string_value(json_object_get(rec, "expires_at")));
    printf("branch     %s\n", s(rec, "branch"));
    printf("slug       %s\n", s(rec, "slug"));
    printf("template   %s\n", s(rec, "template"));
    printf("status     %s\n", s(rec, "status"));
    printf("created    %s\n", s(rec, "created_at"));
    printf("expires    %s%s\n", json_is_string(json_object_get(rec, "expires_at")) ? s(rec, "expires_at") : "never",
           rel);
    if (json_is_string(json_object_get(rec, "error")))
        printf("error      %s\n", s(rec, "error"));
    json_array_foreach(res, i, r)
    {
        size_t a = strlen(s(r, "name")), b = strlen(s(r, "type")), c = strlen(s(r, "status"));
        wn = a > wn ? a : wn;
        wt = b > wt ? b : wt;
        ws = c > ws ? c : ws;
    }
    if (json_array_size(res)) {
        printf("\n%-*s  %-*s  %-*s  %s\n", (int)wn, "RESOURCE", (int)wt, "TYPE", (int)ws, "STATUS", "ID");
        json_array_foreach(res, i, r)
        {
            printf("%-*s  %-*s  %-*s  %s\n", (int)wn, s(r, "name"), (int)wt, s(r, "type"), (int)ws, s(r, "status"),
                   s(r, "physical"));
            if (json_is_string(json_object_get(r, "error")))
                printf("%-*s  error: %s\n", (int)wn, "", s(r, "error"));
        }
    }
    if (show_outputs && sf_env_outputs(&outs, rec, 0, 0, &err) == 0 && json_object_size(outs)) {
        const char *k;
        json_t *v;
        size_t w = 6;
        json_object_foreach(outs, k, v) w = strlen(k) > w ? strlen(k) : w;
        printf("\n%-*s  %s\n", (int)w, "OUTPUT", "VALUE");
        json_object_foreach(outs, k, v) printf("%-*s  %s\n", (int)w, k, json_string_value(v));
    }
    json_decref(outs);
}

int envcli_branch(const sf_cli *cli, const cli_args *args, const char **branch)
{
    if (args->npos != 1)
        return cli_usage_error(cli, args->npos ? "expected exactly one BRANCH" : "missing BRANCH");
    *branch = args->pos[0];
    return 0;
}

void envcli_print_reaper(sf_engine *e)
{
    json_t *hb = NULL;
    char age[32], every[32];
    double iv;
    if (sf_reap_heartbeat(&hb, e) < 0) {
        printf("reaper     cannot read the heartbeat: %s\n", sf_engine_error(e)->msg);
        return;
    }
    if (!hb) {
        printf("reaper     no sweep recorded in this state (run `stagefork reap` from a scheduler, or `reap --watch`)\n");
        return;
    }
    sf_duration_format(age, json_integer_value(json_object_get(hb, "age")) > 0 ? json_integer_value(json_object_get(hb, "age")) : 1);
    iv = json_number_value(json_object_get(hb, "interval"));
    sf_duration_format(every, iv >= 1 ? (int64_t)iv : 1);
    printf("reaper     %slast sweep %s (%s ago) by %s pid %" JSON_INTEGER_FORMAT "%s%s%s: %" JSON_INTEGER_FORMAT
           " deleted, %" JSON_INTEGER_FORMAT " incomplete, %" JSON_INTEGER_FORMAT " failed\n",
           json_is_true(json_object_get(hb, "stale")) ? "STALE: " : "", s(hb, "last_sweep"), age, s(hb, "host"),
           json_integer_value(json_object_get(hb, "pid")), iv > 0 ? ", sweeping every " : " (one-shot)",
           iv > 0 ? every : "", "",
           json_integer_value(json_object_get(json_object_get(hb, "counts"), "deleted")),
           json_integer_value(json_object_get(json_object_get(hb, "counts"), "incomplete")),
           json_integer_value(json_object_get(json_object_get(hb, "counts"), "failed")));
    json_decref(hb);
}
