/* stagefork status */
#include <stdlib.h>
#include <string.h>
#include "envcli.h"
#include "stagefork/reap.h"

const struct cli_opt cmd_status_opts[] = {
    {NULL, 0, 0, 0}};

const char cmd_status_usage[] =
    "usage: stagefork status BRANCH\n"
    "\n"
    "One environment in detail: resources, their status and ids, expiry, last events.\n"
;

int cmd_status(sf_cli *cli, const cli_args *args)
{
    sf_engine *e = NULL;
    json_t *rec = NULL, *events = NULL;
    const char *branch;
    int rc;

    if ((rc = envcli_branch(cli, args, &branch)))
        return rc;
    if ((rc = envcli_open(cli, &e)))
        return rc;
    if (sf_env_get(&rec, e, branch) < 0 || sf_env_events(&events, e, branch, 10) < 0) {
        rc = cli_fail(sf_engine_error(e));
        goto out;
    }
    if (cli->json) {
        json_t *view;
        sf_error err = {0};
        if (sf_env_view(&view, rec, &err) < 0) {
            rc = cli_fail(&err);
            goto out;
        }
        json_object_set(view, "id", json_object_get(rec, "id"));
        json_object_set(view, "updated_at", json_object_get(rec, "updated_at"));
        json_object_set(view, "events", events);
        {
            json_t *hb = NULL;
            if (sf_reap_heartbeat(&hb, e) < 0) /* the env's own status still prints */
                cli_warn("cannot read the reaper's heartbeat: %s", sf_engine_error(e)->msg);
            json_object_set_new(view, "reaper", hb ? hb : json_null());
        }
        envcli_print_json(view);
        json_decref(view);
    } else {
        size_t i;
        json_t *ev;
        envcli_print_env(rec, 1);
        printf("\n");
        envcli_print_reaper(e);
        if (json_array_size(events))
            printf("\nRECENT EVENTS\n");
        json_array_foreach(events, i, ev)
        {
            const char *res = json_string_value(json_object_get(ev, "resource"));
            const char *det = json_string_value(json_object_get(ev, "detail"));
            printf("%s  %-8s %-7s %s%s%s%s%s\n", json_string_value(json_object_get(ev, "time")),
                   json_string_value(json_object_get(ev, "actor")), json_string_value(json_object_get(ev, "verb")),
                   res ? res : "env", res ? " " : " ", json_string_value(json_object_get(ev, "result")),
                   det ? ": " : "", det ? det : "");
        }
    }
out:
    json_decref(rec);
    json_decref(events);
    sf_engine_free(e);
    return rc;
}
