/*
 * The reaper (sf_reap_sweep, sf_reap_heartbeat) with the test.resource
 * provider on both state backends: what is due, --max ordering, dry runs,
 * try-lock skips, incomplete teardowns, resuming interrupted envs, the
 * heartbeat, and the under-lock re-check (sf_env_down_if / sf_env_up_if).
 */
#include <pthread.h>
#include "envtest.h"
#include "env_impl.h"
#include "stagefork/config.h"
#include "stagefork/env.h"
#include "stagefork/reap.h"
#include "stagefork/state.h"
#include "stagefork/util.h"

/* The engine with a two-resource template (b depends on a) in f->tpl. */
static void fx_up(et_engine *f, int pg)
{
    sf_buf p = SF_BUF_INIT;
    et_engine_up(f, pg, "prefix: sf\nlimits: {max_ttl: none}\n");
    sf_buf_addf(&p, "resources:\n  a: {type: test.resource, with: {record: %s}}\n"
                    "  b: {type: test.resource, with: {record: %s, data: \"${a.url}\"}}\n",
                f->record, f->record);
    snprintf(f->tpl, sizeof(f->tpl), "%s/two.yaml", f->dir);
    et_write(f->tpl, p.ptr);
    sf_buf_free(&p);
}

static void up_env(et_engine *f, const char *branch, const char *tpl, int64_t ttl)
{
    sf_up_opts o;
    json_t *rec = NULL;
    memset(&o, 0, sizeof(o));
    o.template_ref = tpl ? tpl : f->tpl;
    o.ttl = ttl;
    cr_assert_eq(sf_env_up(&rec, f->e, branch, &o), 0, "up %s: %s", branch, sf_engine_error(f->e)->msg);
    json_decref(rec);
}

static const char *status_of(et_engine *f, const char *branch)
{
    static char st[32];
    json_t *rec = NULL;
    snprintf(st, sizeof(st), "absent");
    if (sf_env_get(&rec, f->e, branch) == 0)
        snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(rec, "status")));
    json_decref(rec);
    return st;
}

static void pin_now(int64_t t)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)t);
    setenv("STAGEFORK_NOW", v, 1);
}

static int sweep(et_engine *f, json_t **report, sf_reap_opts *o)
{
    sf_error err = {0};
    sf_reap_opts dflt;
    if (!o) {
        memset(&dflt, 0, sizeof(dflt));
        o = &dflt;
    }
    return sf_reap_sweep(report, f->cfg, f->url, o, &err);
}

static json_int_t count(const json_t *report, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(report, "counts"), key));
}

static void only_expired(int pg)
{
    et_engine f;
    json_t *r = NULL;
    int64_t now = sf_now();
    fx_up(&f, pg);
    up_env(&f, "old", NULL, 3600);
    up_env(&f, "new", NULL, 5 * 3600);
    up_env(&f, "forever", NULL, SF_DURATION_NONE);
    pin_now(now + 7200);
    cr_assert_eq(sweep(&f, &r, NULL), 0);
    cr_assert_eq(count(r, "candidates"), 1);
    cr_assert_eq(count(r, "deleted"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r, "envs"), 0), "branch")), "old");
    cr_assert_eq(json_array_size(json_object_get(json_array_get(json_object_get(r, "envs"), 0), "removed")), 2);
    cr_assert_str_eq(status_of(&f, "old"), "deleted");
    cr_assert_str_eq(status_of(&f, "new"), "ready");
    cr_assert_str_eq(status_of(&f, "forever"), "ready");
    cr_assert_eq(et_count(f.record, "destroyed sf-new-"), 0);
    cr_assert_eq(et_count(f.record, "destroyed sf-forever-"), 0);
    json_decref(r);
    et_engine_down(&f);
}
Test(reap, directory_reaps_only_expired_envs) { only_expired(0); }
Test(reap, postgres_reaps_only_expired_envs) { only_expired(1); }

Test(reap, max_takes_the_most_overdue_and_defers_the_rest)
{
    et_engine f;
    json_t *r = NULL;
    sf_reap_opts o;
    int64_t now = sf_now();
    fx_up(&f, 0);
    up_env(&f, "one-hour", NULL, 3600);
    up_env(&f, "ten-minutes", NULL, 600);
    up_env(&f, "two-hours", NULL, 7200);
    pin_now(now + 3 * 3600);
    memset(&o, 0, sizeof(o));
    o.max = 2;
    o.parallel = 1;
    cr_assert_eq(sweep(&f, &r, &o), 0);
    cr_assert_eq(count(r, "candidates"), 3);
    cr_assert_eq(count(r, "deleted"), 2);
    cr_assert_eq(count(r, "deferred"), 1);
    cr_assert_str_eq(status_of(&f, "ten-minutes"), "deleted");
    cr_assert_str_eq(status_of(&f, "one-hour"), "deleted");
    cr_assert_str_eq(status_of(&f, "two-hours"), "ready", "the least overdue is left for the next sweep");
    json_decref(r);
    et_engine_down(&f);
}

Test(reap, dry_run_changes_nothing_and_stores_no_heartbeat)
{
    et_engine f;
    json_t *r = NULL, *hb = NULL;
    sf_reap_opts o;
    int64_t now = sf_now();
    fx_up(&f, 0);
    up_env(&f, "old", NULL, 60);
    pin_now(now + 7200);
    memset(&o, 0, sizeof(o));
    o.dry_run = 1;
    cr_assert_eq(sweep(&f, &r, &o), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r, "envs"), 0), "result")),
                     "would-delete");
    cr_assert_str_eq(status_of(&f, "old"), "ready");
    cr_assert_eq(et_count(f.record, "call-destroy"), 0);
    cr_assert_eq(sf_reap_heartbeat(&hb, f.e), 0);
    cr_assert_null(hb, "a dry run leaves no heartbeat");
    json_decref(r);
    et_engine_down(&f);
}

static void locked_env_skipped(int pg)
{
    et_engine f;
    json_t *r = NULL;
    sf_state *other;
    sf_lock *lk;
    sf_error err = {0};
    double t0;
    int64_t now = sf_now();
    fx_up(&f, pg);
    up_env(&f, "busy", NULL, 60);
    /* another "process": its own state handle holding the env's lock */
    cr_assert_eq(sf_state_open(&other, f.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_lock(&lk, other, "busy", 0, &err), 0, "%s", err.msg);
    pin_now(now + 7200);
    t0 = sf_monotonic();
    cr_assert_eq(sweep(&f, &r, NULL), 0);
    cr_assert_lt(sf_monotonic() - t0, 5.0, "the reaper must not wait for a held lock");
    cr_assert_eq(count(r, "skipped"), 1);
    cr_assert_str_eq(status_of(&f, "busy"), "ready");
    json_decref(r);
    sf_lock_free(lk);
    cr_assert_eq(sweep(&f, &r, NULL), 0);
    cr_assert_eq(count(r, "deleted"), 1, "reaped once the lock is free");
    json_decref(r);
    sf_state_free(other);
    et_engine_down(&f);
}
Test(reap, directory_locked_env_is_skipped_without_waiting) { locked_env_skipped(0); }
Test(reap, postgres_locked_env_is_skipped_without_waiting) { locked_env_skipped(1); }

Test(reap, incomplete_teardown_is_eincomplete_and_retried)
{
    et_engine f;
    json_t *r = NULL, *e;
    sf_buf t = SF_BUF_INIT, text = SF_BUF_INIT;
    int64_t now = sf_now();
    fx_up(&f, 0);
    sf_buf_addf(&text, "resources:\n  a: {type: test.resource, with: {record: %s, fail: destroy, fail_first: 3}}\n",
                f.record);
    et_file(&t, f.dir, "sticky.yaml", text.ptr);
    sf_buf_free(&text);
    up_env(&f, "sticky", t.ptr, 60);
    pin_now(now + 7200);
    cr_assert_eq(sweep(&f, &r, NULL), SF_EINCOMPLETE);
    cr_assert_not_null(r, "the report is set even when an env is left");
    e = json_array_get(json_object_get(r, "envs"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "result")), "incomplete");
    cr_assert_eq(json_array_size(json_object_get(e, "remaining")), 1);
    cr_assert_not_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(e, "remaining"), 0),
                                                                "error")),
                              "injected destroy failure"));
    cr_assert_str_eq(status_of(&f, "sticky"), "deleting");
    json_decref(r);
    cr_assert_eq(sweep(&f, &r, NULL), 0, "the next sweep retries an expired env");
    cr_assert_str_eq(status_of(&f, "sticky"), "deleted");
    json_decref(r);
    sf_buf_free(&t);
    et_engine_down(&f);
}

/* Make the env look left behind by a process that died during `verb`. */
static void interrupt(et_engine *f, const char *slug, const char *status, int64_t updated)
{
    json_t *rec;
    sf_error err = {0};
    sf_state *st;
    cr_assert_eq(sf_state_open(&st, f->url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_get(&rec, st, slug, &err), 0, "%s", err.msg);
    json_object_set_new(rec, "status", json_string(status));
    sf_rec_set_time(rec, "updated_at", updated);
    if (!strcmp(status, "creating")) /* the last resource never finished */
        json_object_set_new(json_array_get(json_object_get(rec, "resources"), 1), "status", json_string("creating"));
    cr_assert_eq(sf_state_put(st, slug, rec, NULL, &err), 0, "%s", err.msg);
    json_decref(rec);
    sf_state_free(st);
}

static void resumes_interrupted(int pg)
{
    et_engine f;
    json_t *r = NULL, *rec = NULL;
    sf_reap_opts o;
    char exp[64];
    int64_t now = sf_now();
    fx_up(&f, pg);
    up_env(&f, "halfway", NULL, 5 * 3600);
    up_env(&f, "leaving", NULL, 5 * 3600);
    cr_assert_eq(sf_env_get(&rec, f.e, "halfway"), 0);
    snprintf(exp, sizeof(exp), "%s", json_string_value(json_object_get(rec, "expires_at")));
    json_decref(rec);
    interrupt(&f, "halfway", "creating", now);
    interrupt(&f, "leaving", "deleting", now);
    memset(&o, 0, sizeof(o));
    o.grace = 600;
    pin_now(now + 300);
    cr_assert_eq(sweep(&f, &r, &o), 0);
    cr_assert_eq(count(r, "candidates"), 0, "within the grace period nothing is due");
    json_decref(r);
    pin_now(now + 900);
    cr_assert_eq(sweep(&f, &r, &o), 0);
    cr_assert_eq(count(r, "resumed"), 1);
    cr_assert_eq(count(r, "deleted"), 1);
    cr_assert_str_eq(status_of(&f, "halfway"), "ready");
    cr_assert_str_eq(status_of(&f, "leaving"), "deleted");
    cr_assert_eq(sf_env_get(&rec, f.e, "halfway"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "expires_at")), exp, "resuming keeps the expiry");
    json_decref(rec);
    json_decref(r);
    et_engine_down(&f);
}
Test(reap, directory_resumes_interrupted_envs_after_the_grace_period) { resumes_interrupted(0); }
Test(reap, postgres_resumes_interrupted_envs_after_the_grace_period) { resumes_interrupted(1); }

static int never(const json_t *rec, void *ud)
{
    (void)rec;
    (*(int *)ud)++;
    return 0;
}

Test(reap, condition_false_under_the_lock_leaves_the_env_alone)
{
    et_engine f;
    json_t *rec = NULL;
    sf_up_opts o;
    int calls = 0;
    struct sf_env_cond c = {never, &calls, 0};
    fx_up(&f, 0);
    up_env(&f, "keep", NULL, 60);
    cr_assert_eq(sf_env_down_if(&rec, f.e, "keep", 0, &c), 0);
    cr_assert_null(rec);
    cr_assert(c.skipped);
    cr_assert_eq(calls, 1);
    cr_assert_str_eq(status_of(&f, "keep"), "ready");
    cr_assert_eq(et_count(f.record, "call-destroy"), 0);
    memset(&o, 0, sizeof(o));
    c.skipped = 0;
    cr_assert_eq(sf_env_up_if(&rec, f.e, "gone", &o, &c), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert(c.skipped, "up of a missing env asks the condition (with NULL) first");
    cr_assert_str_eq(status_of(&f, "gone"), "absent");
    et_engine_down(&f);
}

static void heartbeat(int pg)
{
    et_engine f;
    json_t *r = NULL, *hb = NULL;
    sf_reap_opts o;
    int64_t now = sf_now();
    fx_up(&f, pg);
    memset(&o, 0, sizeof(o));
    o.interval = 60;
    pin_now(now);
    cr_assert_eq(sf_reap_heartbeat(&hb, f.e), 0);
    cr_assert_null(hb);
    cr_assert_eq(sweep(&f, &r, &o), 0);
    json_decref(r);
    pin_now(now + 100);
    cr_assert_eq(sf_reap_heartbeat(&hb, f.e), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_not_null(hb);
    cr_assert_eq(json_number_value(json_object_get(hb, "interval")), 60);
    cr_assert_eq(json_integer_value(json_object_get(hb, "age")), 100);
    cr_assert(json_is_false(json_object_get(hb, "stale")), "100 s is within 3 intervals + 60 s");
    cr_assert_gt(json_integer_value(json_object_get(hb, "pid")), 0);
    cr_assert_not_null(json_string_value(json_object_get(hb, "host")));
    json_decref(hb);
    pin_now(now + 241);
    cr_assert_eq(sf_reap_heartbeat(&hb, f.e), 0);
    cr_assert(json_is_true(json_object_get(hb, "stale")), "241 s is more than 3 intervals + 60 s");
    json_decref(hb);
    o.interval = 0;
    cr_assert_eq(sweep(&f, &r, &o), 0);
    json_decref(r);
    pin_now(now + 100000);
    cr_assert_eq(sf_reap_heartbeat(&hb, f.e), 0);
    cr_assert(json_is_null(json_object_get(hb, "stale")), "a one-shot reaper has no expected period");
    json_decref(hb);
    et_engine_down(&f);
}
Test(reap, directory_heartbeat_age_and_staleness) { heartbeat(0); }
Test(reap, postgres_heartbeat_age_and_staleness) { heartbeat(1); }

Test(reap, unreadable_state_is_an_error_without_a_report)
{
    et_engine f;
    json_t *r = (json_t *)1;
    sf_error err = {0};
    sf_reap_opts o;
    fx_up(&f, 0);
    memset(&o, 0, sizeof(o));
    cr_assert_eq(sf_reap_sweep(&r, f.cfg, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", &o, &err), SF_EDB);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err.msg, "cannot connect to the state database"), "%s", err.msg);
    et_engine_down(&f);
}

/* Many envs, several sweeps at once on one state: each env is torn down by exactly one of them. */
struct racer {
    et_engine *f;
    json_t *report;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    sf_reap_opts o;
    memset(&o, 0, sizeof(o));
    o.parallel = 3;
    r->rc = sweep(r->f, &r->report, &o);
    return NULL;
}

static void concurrent_sweeps(int pg)
{
    et_engine f;
    struct racer rs[3];
    pthread_t th[3];
    json_int_t deleted = 0;
    int64_t now = sf_now();
    fx_up(&f, pg);
    for (int i = 0; i < 12; i++) {
        char b[32];
        snprintf(b, sizeof(b), "env-%d", i);
        up_env(&f, b, NULL, 60);
    }
    pin_now(now + 7200);
    for (int i = 0; i < 3; i++) {
        rs[i].f = &f;
        rs[i].report = NULL;
        pthread_create(&th[i], NULL, race, &rs[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(rs[i].rc, 0);
        deleted += count(rs[i].report, "deleted");
        json_decref(rs[i].report);
    }
    cr_assert_eq(deleted, 12, "12 envs, each deleted by exactly one sweep");
    cr_assert_eq(et_count(f.record, "call-destroy "), 24, "each resource destroyed once");
    et_engine_down(&f);
}
Test(reap, directory_concurrent_sweeps_never_double_teardown) { concurrent_sweeps(0); }
Test(reap, postgres_concurrent_sweeps_never_double_teardown) { concurrent_sweeps(1); }
