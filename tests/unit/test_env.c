/*
 * The engine end to end with the test.resource provider (tests/support/testprov.c),
 * on both state backends: create, reconcile, replace, destroy, partial failure,
 * adoption after a crash, guardrails, slug collisions, secrets never in specs.
 */
#include <sys/stat.h>
#include "envtest.h"
#include "stagefork/config.h"
#include "stagefork/env.h"
#include "stagefork/names.h"
#include "stagefork/state.h"
#include "stagefork/util.h"

/* Write a template (RECORD in the text is replaced by the record path); returns its path. */
static const char *fx_tpl(et_engine *f, const char *name, const char *text)
{
    static char path[300];
    sf_buf b = SF_BUF_INIT;
    for (const char *p = text; *p;) {
        const char *hit = strstr(p, "RECORD");
        if (!hit) {
            sf_buf_adds(&b, p);
            break;
        }
        sf_buf_add(&b, p, (size_t)(hit - p));
        sf_buf_adds(&b, f->record);
        p = hit + 6;
    }
    snprintf(path, sizeof(path), "%s/%s.yaml", f->dir, name);
    et_write(path, b.ptr);
    sf_buf_free(&b);
    return path;
}

static int fx_up_env(et_engine *f, json_t **rec, const char *branch, const char *tpl, const char *const *set,
                     size_t nset)
{
    sf_up_opts o;
    memset(&o, 0, sizeof(o));
    o.template_ref = tpl;
    o.set = set;
    o.nset = nset;
    return sf_env_up(rec, f->e, branch, &o);
}

static int artifact_exists(et_engine *f, const char *name)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    return access(p, F_OK) == 0;
}

static const char *res_status(const json_t *rec, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rec, "resources"), i, r) if (!strcmp(json_string_value(json_object_get(r, "name")),
                                                                              name)) return json_string_value(json_object_get(r, "status"));
    return NULL;
}

#define STACK                                                                                                         \
    "params: {greeting: {default: hello}}\n"                                                                          \
    "resources:\n"                                                                                                    \
    "  db:  {type: test.resource, with: {record: RECORD, data: {g: '${param.greeting}', pw: '${secret.pw}'}}}\n"      \
    "  api: {type: test.resource, with: {record: RECORD, data: {db: '${db.url}', tok: '${db.token}', "                \
    "port: '${self.port}', auth: 'Bearer ${envvar.SF_ENV_TOKEN}'}}}\n"                                                \
    "  web: {type: test.resource, with: {record: RECORD, data: '${api.url}'}}\n"                                      \
    "outputs:\n  DB_URL: ${db.url}\n  DB_TOKEN: ${db.token}\n  API: '${api.url}/v1'\n  PW: ${secret.pw}\n"

static void lifecycle(int pg)
{
    et_engine f;
    json_t *rec = NULL, *outs;
    sf_error err = {0};
    const char *tpl;
    char *dump, web[128], dbname[128];
    et_engine_up(&f, pg, NULL);
    setenv("SF_ENV_TOKEN", "env-token-VALUE-123", 1);
    tpl = fx_tpl(&f, "stack", STACK);

    cr_assert_eq(fx_up_env(&f, &rec, "feature/Life", tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "ready");
    cr_assert_eq(et_count(f.record, "created "), 3);
    {
        sf_buf slug = SF_BUF_INIT;
        sf_slug(&slug, "feature/Life");
        snprintf(web, sizeof(web), "created sf-%s-web", slug.ptr);
        snprintf(dbname, sizeof(dbname), "sf-%s-db", slug.ptr);
        sf_buf_free(&slug);
    }
    cr_assert(artifact_exists(&f, dbname));
    {
        /* dependency order: db before api before web */
        char *log = et_slurp(f.record);
        char *db = strstr(log, "created sf-feature-life"), *api = strstr(log, "-api {"), *web = strstr(log, "-web {");
        cr_assert(db && api && web && db < api && api < web, "creation order wrong:\n%s", log);
        cr_assert_not_null(strstr(log, "Bearer env-token-VALUE-123"), "the provider sees the envvar value");
        free(log);
    }
    cr_assert_eq(sf_env_outputs(&outs, rec, 0, 1, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(outs, "DB_TOKEN")), "***");
    cr_assert_str_eq(json_string_value(json_object_get(outs, "PW")), "***");
    cr_assert_not_null(strstr(json_string_value(json_object_get(outs, "API")), "-api/v1"));
    json_decref(outs);
    cr_assert_eq(sf_env_outputs(&outs, rec, 1, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(json_string_value(json_object_get(outs, "PW"))), 32, "revealed secret");
    json_decref(outs);

    /* the stored record: no envvar value anywhere, no secret inside any spec */
    dump = json_dumps(rec, JSON_COMPACT);
    cr_assert_null(strstr(dump, "env-token-VALUE-123"), "an envvar value was persisted");
    free(dump);
    {
        size_t i;
        json_t *r;
        const char *pw = json_string_value(json_object_get(json_object_get(rec, "secrets"), "pw"));
        cr_assert_not_null(pw);
        json_array_foreach(json_object_get(rec, "resources"), i, r)
        {
            char *spec = json_dumps(json_object_get(r, "spec"), JSON_COMPACT);
            cr_assert_null(strstr(spec, pw), "secret in the spec of %s", json_string_value(json_object_get(r, "name")));
            free(spec);
        }
    }
    json_decref(rec);

    /* reconcile with nothing changed: nothing is created or destroyed */
    truncate(f.record, 0);
    setenv("SF_ENV_TOKEN", "rotated-token", 1); /* an envvar never causes a replacement */
    cr_assert_eq(fx_up_env(&f, &rec, "feature/Life", NULL, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_eq(et_count(f.record, "created "), 0, "unchanged resources are kept");
    cr_assert_eq(et_count(f.record, "call-destroy "), 0);
    cr_assert_eq(et_count(f.record, "call-check "), 3);
    json_decref(rec);

    /* change a param: db is replaced, its new token changes api's spec hash, web keeps */
    truncate(f.record, 0);
    {
        const char *set[] = {"greeting=bonjour"};
        cr_assert_eq(fx_up_env(&f, &rec, "feature/Life", NULL, set, 1), 0, "%s", sf_engine_error(f.e)->msg);
    }
    cr_assert_eq(et_count(f.record, "destroyed "), 2, "db and api replaced");
    cr_assert_eq(et_count(f.record, "created "), 2);
    cr_assert_eq(et_count(f.record, web), 0, "web kept");
    json_decref(rec);

    /* the --set value sticks to the env: a plain re-run does not revert it */
    truncate(f.record, 0);
    cr_assert_eq(fx_up_env(&f, &rec, "feature/Life", NULL, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_eq(et_count(f.record, "created "), 0);
    json_decref(rec);

    /* a resource removed from the template is destroyed */
    truncate(f.record, 0);
    fx_tpl(&f, "stack",
           "resources:\n  db: {type: test.resource, with: {record: RECORD, data: {g: '${param.greeting}', "
           "pw: '${secret.pw}'}}}\nparams: {greeting: {default: hello}}\n");
    cr_assert_eq(fx_up_env(&f, &rec, "feature/Life", NULL, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_eq(et_count(f.record, "destroyed "), 2, "api and web removed");
    cr_assert_eq(et_count(f.record, "created "), 0);
    cr_assert_eq(json_array_size(json_object_get(rec, "resources")), 1);
    cr_assert_eq(json_object_size(json_object_get(rec, "outputs")), 0);
    json_decref(rec);

    /* --recreate rebuilds everything */
    truncate(f.record, 0);
    {
        sf_up_opts o;
        memset(&o, 0, sizeof(o));
        o.recreate = 1;
        cr_assert_eq(sf_env_up(&rec, f.e, "feature/Life", &o), 0, "%s", sf_engine_error(f.e)->msg);
    }
    cr_assert_eq(et_count(f.record, "destroyed "), 1);
    cr_assert_eq(et_count(f.record, "created "), 1);
    json_decref(rec);

    /* down: everything gone, record kept as deleted, down again is a no-op */
    cr_assert_eq(sf_env_down(&rec, f.e, "feature/Life", 0), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "deleted");
    cr_assert_eq(json_object_size(json_object_get(rec, "secrets")), 0, "secrets dropped with the env");
    json_decref(rec);
    cr_assert_eq(et_count(f.record, "destroyed "), 2, "the recreated db, then db again at down");
    {
        char cmd[300], line[16] = "";
        FILE *p;
        snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^sf-'", f.dir);
        p = popen(cmd, "r");
        cr_assert_not_null(fgets(line, sizeof(line), p));
        pclose(p);
        cr_assert_str_eq(line, "0\n", "artifacts left behind");
    }
    cr_assert_eq(sf_env_down(&rec, f.e, "feature/Life", 0), 0);
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "never/existed", 0), 0, "a missing env is success");
    cr_assert_null(rec);
    {
        json_t *list;
        cr_assert_eq(sf_env_list(&list, f.e, 0), 0);
        cr_assert_eq(json_array_size(list), 0, "deleted envs are hidden");
        json_decref(list);
        cr_assert_eq(sf_env_list(&list, f.e, SF_LIST_ALL), 0);
        cr_assert_eq(json_array_size(list), 1);
        json_decref(list);
    }
    et_engine_down(&f);
}

Test(env, directory_create_reconcile_replace_destroy) { lifecycle(0); }
Test(env, postgres_create_reconcile_replace_destroy) { lifecycle(1); }

static void partial_failure(int pg)
{
    et_engine f;
    json_t *rec = NULL;
    const char *tpl;
    int rc;
    et_engine_up(&f, pg, NULL);
    tpl = fx_tpl(&f, "broken",
                 "resources:\n"
                 "  a: {type: test.resource, with: {record: RECORD}}\n"
                 "  b: {type: test.resource, with: {record: RECORD, fail: create, data: '${a.url}'}}\n"
                 "  c: {type: test.resource, with: {record: RECORD, data: '${b.url}'}}\n");
    rc = fx_up_env(&f, &rec, "partial", tpl, NULL, 0);
    cr_assert_eq(rc, SF_EIO, "rc %d: %s", rc, sf_engine_error(f.e)->msg);
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "injected create failure"), "%s", sf_engine_error(f.e)->msg);
    cr_assert_not_null(rec, "a failed up still returns the record");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "failed");
    cr_assert_not_null(strstr(json_string_value(json_object_get(rec, "error")), "injected"));
    cr_assert_str_eq(res_status(rec, "a"), "ready", "created resources are kept in the state");
    cr_assert_str_eq(res_status(rec, "b"), "failed");
    cr_assert_null(res_status(rec, "c"), "nothing after a failure is started");
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "partial", 0), 0, "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    cr_assert(!artifact_exists(&f, "sf-partial-a"));
    cr_assert_eq(et_count(f.record, "destroyed sf-partial-a"), 1);
    cr_assert_eq(et_count(f.record, "destroyed sf-partial-b"), 1, "the failed one is destroyed too (idempotent)");
    et_engine_down(&f);
}

Test(env, directory_partial_failure_then_down) { partial_failure(0); }
Test(env, postgres_partial_failure_then_down) { partial_failure(1); }

static void teardown_incomplete(int pg)
{
    et_engine f;
    json_t *rec = NULL;
    const char *tpl;
    et_engine_up(&f, pg, NULL);
    tpl = fx_tpl(&f, "sticky",
                 "resources:\n"
                 "  a: {type: test.resource, with: {record: RECORD}}\n"
                 "  b: {type: test.resource, with: {record: RECORD, fail: destroy, data: '${a.url}'}}\n"
                 "  c: {type: test.resource, with: {record: RECORD, data: '${b.url}'}}\n"
                 "  flaky: {type: test.resource, with: {record: RECORD, fail: destroy, fail_first: 2}}\n");
    cr_assert_eq(fx_up_env(&f, &rec, "sticky", tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "sticky", 0), SF_EINCOMPLETE);
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "b (sf-sticky-b)"), "%s", sf_engine_error(f.e)->msg);
    cr_assert_eq(et_count(f.record, "fail-destroy sf-sticky-b"), 3, "3 attempts");
    cr_assert_eq(et_count(f.record, "destroyed sf-sticky-flaky"), 1, "a transient failure is retried");
    cr_assert_eq(et_count(f.record, "destroyed sf-sticky-a"), 1, "a failure does not stop the others");
    cr_assert_eq(et_count(f.record, "destroyed sf-sticky-c"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "deleting", "the state is kept");
    cr_assert_str_eq(res_status(rec, "b"), "deleting");
    cr_assert_str_eq(res_status(rec, "a"), "deleted");
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "sticky", 0), SF_EINCOMPLETE, "still stuck, still exit 5");
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "sticky", 1), 0, "--force drops the record");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "deleted");
    cr_assert_not_null(strstr(json_string_value(json_object_get(rec, "error")), "sf-sticky-b"));
    cr_assert(artifact_exists(&f, "sf-sticky-b"), "forced: the leftover is reported, not hidden");
    json_decref(rec);
    et_engine_down(&f);
}

Test(env, directory_teardown_incomplete_then_force) { teardown_incomplete(0); }
Test(env, postgres_teardown_incomplete_then_force) { teardown_incomplete(1); }

static void adoption(int pg)
{
    et_engine f;
    json_t *rec = NULL;
    const char *tpl;
    sf_up_opts o;
    et_engine_up(&f, pg, NULL);
    /* hang is read from an envvar so it is not part of the spec's hash */
    tpl = fx_tpl(&f, "hangs", "resources:\n  a: {type: test.resource, with: {record: RECORD, hang: '${envvar.SF_HANG}'}}\n");
    setenv("SF_HANG", "create", 1);
    memset(&o, 0, sizeof(o));
    o.template_ref = tpl;
    o.wait_timeout = 0.3;
    cr_assert_eq(sf_env_up(&rec, f.e, "adopt", &o), SF_ETIMEOUT, "%s", sf_engine_error(f.e)->msg);
    cr_assert_str_eq(res_status(rec, "a"), "failed");
    cr_assert(artifact_exists(&f, "sf-adopt-a"), "the provider made it before hanging");
    json_decref(rec);
    setenv("SF_HANG", "no", 1);
    truncate(f.record, 0);
    cr_assert_eq(fx_up_env(&f, &rec, "adopt", NULL, NULL, 0), 0, "adoption failed: %s", sf_engine_error(f.e)->msg);
    cr_assert_eq(et_count(f.record, "call-destroy"), 0, "same spec: finished in place, not replaced");
    cr_assert_eq(et_count(f.record, "created sf-adopt-a"), 1);
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "adopt", 0), 0);
    json_decref(rec);

    /* something of that name that the state does not know is not ours: refused */
    {
        char p[400];
        snprintf(p, sizeof(p), "%s/sf-adopt-a", f.dir);
        et_write(p, "foreign");
    }
    cr_assert_eq(fx_up_env(&f, &rec, "adopt", tpl, NULL, 0), SF_EEXIST, "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    et_engine_down(&f);
}

Test(env, directory_crash_leftover_is_adopted_foreign_is_refused) { adoption(0); }
Test(env, postgres_crash_leftover_is_adopted_foreign_is_refused) { adoption(1); }

static void guardrails(int pg)
{
    et_engine f;
    json_t *rec = NULL;
    const char *tpl;
    sf_up_opts o;
    et_engine_up(&f, pg,
          "limits: {max_envs: 2, default_ttl: 1h, max_ttl: 2d}\n"
          "guard: {protected: ['sf-prod-*']}\n");
    tpl = fx_tpl(&f, "one", "resources:\n  a: {type: test.resource, with: {record: RECORD}}\n");
    cr_assert_eq(fx_up_env(&f, &rec, "one", tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "two", tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "three", tpl, NULL, 0), SF_EGUARD);
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "limits.max_envs"), "%s", sf_engine_error(f.e)->msg);
    cr_assert_null(rec, "nothing was written");
    cr_assert_eq(fx_up_env(&f, &rec, "one", NULL, NULL, 0), 0, "reconciling an existing env is not a new one");
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "two", 0), 0);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "three", tpl, NULL, 0), 0, "a deleted env frees its slot");
    json_decref(rec);

    memset(&o, 0, sizeof(o));
    o.template_ref = tpl;
    o.ttl = 3 * 86400;
    cr_assert_eq(sf_env_up(&rec, f.e, "one", &o), SF_EGUARD, "ttl above max_ttl");
    o.ttl = SF_DURATION_NONE;
    cr_assert_eq(sf_env_up(&rec, f.e, "one", &o), SF_EGUARD, "none while max_ttl is finite");
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "--ttl none"), "%s", sf_engine_error(f.e)->msg);
    cr_assert_eq(sf_env_extend(&rec, f.e, "one", 5 * 86400), SF_EGUARD);

    /* a protected name is refused by the provider through sf_guard_check: exit 6 */
    tpl = fx_tpl(&f, "prod", "resources:\n  a: {type: test.resource, with: {record: RECORD, name: sf-prod-main}}\n");
    cr_assert_eq(sf_env_down(&rec, f.e, "one", 0), 0);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "one", tpl, NULL, 0), SF_EGUARD, "%s", sf_engine_error(f.e)->msg);
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "guard.protected"), "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    et_engine_down(&f);
}

Test(env, directory_guardrails) { guardrails(0); }
Test(env, postgres_guardrails) { guardrails(1); }

static void slug_collision(int pg)
{
    et_engine f;
    json_t *rec = NULL;
    const char *tpl;
    et_engine_up(&f, pg, NULL);
    tpl = fx_tpl(&f, "one", "resources:\n  a: {type: test.resource, with: {record: RECORD}}\n");
    /* ASCII case folding alone is not a change, so both map to slug "main" */
    cr_assert_eq(fx_up_env(&f, &rec, "main", tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "MAIN", tpl, NULL, 0), SF_ECONFLICT);
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "both map to the environment slug 'main'"), "%s",
                       sf_engine_error(f.e)->msg);
    cr_assert_eq(sf_env_down(&rec, f.e, "MAIN", 0), SF_ECONFLICT, "down of the other branch must not touch it");
    cr_assert_eq(sf_env_get(&rec, f.e, "MAIN"), SF_ECONFLICT);
    /* branches differing in punctuation get distinct slugs: no collision */
    cr_assert_eq(fx_up_env(&f, &rec, "feature/x", tpl, NULL, 0), 0);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "feature_x", tpl, NULL, 0), 0);
    json_decref(rec);
    cr_assert_eq(sf_env_down(&rec, f.e, "main", 0), 0);
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "MAIN", tpl, NULL, 0), 0, "once deleted, the slug may be reused");
    json_decref(rec);
    {
        /* a 200-character branch with multibyte UTF-8 and punctuation: bounded slug and names */
        sf_buf br = SF_BUF_INIT;
        const char *phys;
        for (int i = 0; i < 20; i++)
            sf_buf_adds(&br, "feat/日本-Ünï/");
        cr_assert_eq(fx_up_env(&f, &rec, br.ptr, tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
        cr_assert_leq(strlen(json_string_value(json_object_get(rec, "slug"))), 47);
        phys = json_string_value(json_object_get(json_array_get(json_object_get(rec, "resources"), 0), "physical"));
        cr_assert_leq(strlen(phys), 63, "%s", phys);
        cr_assert_eq(strncmp(phys, "sf-", 3), 0, "%s keeps the prefix", phys);
        cr_assert_str_eq(json_string_value(json_object_get(rec, "branch")), br.ptr, "the branch is kept byte for byte");
        json_decref(rec);
        cr_assert_eq(sf_env_down(&rec, f.e, br.ptr, 0), 0, "%s", sf_engine_error(f.e)->msg);
        json_decref(rec);
        sf_buf_free(&br);
    }
    et_engine_down(&f);
}

Test(env, directory_slug_collision_is_refused) { slug_collision(0); }
Test(env, postgres_slug_collision_is_refused) { slug_collision(1); }

static void lock_busy(int pg)
{
    et_engine f;
    json_t *rec = NULL;
    sf_state *st;
    sf_lock *lk;
    sf_error err = {0};
    et_engine_up(&f, pg, NULL);
    cr_assert_eq(sf_state_open(&st, f.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_lock(&lk, st, "busy", 1, &err), 0, "%s", err.msg);
    sf_engine_set_lock_timeout(f.e, 0.3);
    cr_assert_eq(fx_up_env(&f, &rec, "busy", fx_tpl(&f, "t", "resources: {a: {type: test.resource, with: {record: RECORD}}}\n"),
                           NULL, 0),
                 SF_ELOCK);
    cr_assert_eq(sf_env_down(&rec, f.e, "busy", 0), SF_ELOCK);
    cr_assert_eq(sf_env_extend(&rec, f.e, "busy", 3600), SF_ELOCK);
    sf_lock_free(lk);
    sf_state_free(st);
    et_engine_down(&f);
}

Test(env, directory_lock_busy_is_elock) { lock_busy(0); }
Test(env, postgres_lock_busy_is_elock) { lock_busy(1); }

Test(env, independent_resources_run_four_at_a_time)
{
    et_engine f;
    json_t *rec = NULL;
    double t0, took;
    sf_buf t = SF_BUF_INIT;
    et_engine_up(&f, 0, NULL);
    sf_buf_adds(&t, "resources:\n");
    for (int i = 0; i < 8; i++)
        sf_buf_addf(&t, "  r%d: {type: test.resource, with: {record: RECORD, sleep: 0.4}}\n", i);
    t0 = sf_monotonic();
    cr_assert_eq(fx_up_env(&f, &rec, "par", fx_tpl(&f, "par", t.ptr), NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    took = sf_monotonic() - t0;
    cr_assert_geq(took, 0.75, "8 x 0.4 s on 4 threads is at least 2 rounds, took %.2f", took);
    cr_assert_lt(took, 2.4, "not run in parallel: %.2f s", took);
    json_decref(rec);
    sf_buf_free(&t);
    et_engine_down(&f);
}

Test(env, ttl_math)
{
    sf_config *cfg;
    sf_error err = {0};
    int64_t exp;
    char dir[128];
    sf_buf p = SF_BUF_INIT;
    cr_assert_eq(sf_config_load(&cfg, NULL, &err), 0);
    cr_assert_eq(sf_env_ttl(&exp, cfg, 0, 0, 1000, &err), 0);
    cr_assert_eq(exp, 1000 + 8 * 3600, "limits.default_ttl is 8h");
    cr_assert_eq(sf_env_ttl(&exp, cfg, 0, 3600, 1000, &err), 0);
    cr_assert_eq(exp, 1000 + 3600, "template ttl beats the default");
    cr_assert_eq(sf_env_ttl(&exp, cfg, 60, 3600, 1000, &err), 0);
    cr_assert_eq(exp, 1060, "--ttl beats the template");
    cr_assert_eq(sf_env_ttl(&exp, cfg, 7 * 86400, 0, 0, &err), 0, "exactly max_ttl is allowed");
    cr_assert_eq(sf_env_ttl(&exp, cfg, 7 * 86400 + 1, 0, 0, &err), SF_EGUARD);
    cr_assert_eq(sf_env_ttl(&exp, cfg, SF_DURATION_NONE, 0, 0, &err), SF_EGUARD);
    cr_assert_eq(sf_env_ttl(&exp, cfg, 0, 30 * 86400, 0, &err), 0, "a template ttl is cut to max_ttl");
    cr_assert_eq(exp, 7 * 86400);
    cr_assert_eq(sf_env_ttl(&exp, cfg, 0, SF_DURATION_NONE, 0, &err), 0);
    cr_assert_eq(exp, 7 * 86400);
    sf_config_free(cfg);
    et_tmpdir(dir);
    et_file(&p, dir, "c.yaml", "limits: {max_ttl: none, default_ttl: 2h}\n");
    cr_assert_eq(sf_config_load(&cfg, p.ptr, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_env_ttl(&exp, cfg, SF_DURATION_NONE, 0, 5, &err), 0, "none allowed when max_ttl is none");
    cr_assert_eq(exp, -1);
    cr_assert_eq(sf_env_ttl(&exp, cfg, INT64_C(50) * 365 * 86400, 0, 5, &err), 0);
    cr_assert_eq(sf_env_ttl(&exp, cfg, 0, 0, 5, &err), 0);
    cr_assert_eq(exp, 5 + 7200);
    sf_config_free(cfg);
    sf_buf_free(&p);
    et_rmrf(dir);
}

Test(env, expiry_renew_keep_and_extend_with_pinned_clock)
{
    et_engine f;
    json_t *rec = NULL, *list;
    const char *tpl;
    sf_up_opts o;
    et_engine_up(&f, 0, "limits: {default_ttl: 1h, max_ttl: 1d}\n");
    tpl = fx_tpl(&f, "t", "ttl: 2h\nresources: {a: {type: test.resource, with: {record: RECORD}}}\n");
    setenv("STAGEFORK_NOW", "1000000000", 1); /* 2001-09-09T01:46:40Z */
    cr_assert_eq(fx_up_env(&f, &rec, "clock", tpl, NULL, 0), 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "created_at")), "2001-09-09T01:46:40Z");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "expires_at")), "2001-09-09T03:46:40Z", "template ttl");
    json_decref(rec);
    setenv("STAGEFORK_NOW", "1000003600", 1);
    memset(&o, 0, sizeof(o));
    o.keep_ttl = 1;
    cr_assert_eq(sf_env_up(&rec, f.e, "clock", &o), 0);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "expires_at")), "2001-09-09T03:46:40Z", "--keep-ttl");
    json_decref(rec);
    cr_assert_eq(fx_up_env(&f, &rec, "clock", NULL, NULL, 0), 0);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "expires_at")), "2001-09-09T04:46:40Z", "renewed");
    json_decref(rec);
    cr_assert_eq(sf_env_extend(&rec, f.e, "clock", 30 * 60), 0);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "expires_at")), "2001-09-09T03:16:40Z");
    json_decref(rec);
    setenv("STAGEFORK_NOW", "1000009000", 1);
    cr_assert_eq(sf_env_list(&list, f.e, SF_LIST_EXPIRED), 0);
    cr_assert_eq(json_array_size(list), 1, "expired after its ttl");
    json_decref(list);
    cr_assert_eq(sf_env_extend(&rec, f.e, "nope", 60), SF_ENOTFOUND);
    unsetenv("STAGEFORK_NOW");
    et_engine_down(&f);
}

Test(env, view_and_dotenv_shapes)
{
    et_engine f;
    json_t *rec = NULL, *view, *outs;
    sf_error err = {0};
    sf_buf b = SF_BUF_INIT;
    char path[300];
    struct stat sb;
    et_engine_up(&f, 0, NULL);
    cr_assert_eq(fx_up_env(&f, &rec, "views",
                           fx_tpl(&f, "v",
                                  "resources: {a: {type: test.resource, with: {record: RECORD, outputs: "
                                  "{multi: \"l1\\nl2\", eq: 'a=b c'}}}}\n"
                                  "outputs: {URL: '${a.url}', TOKEN: '${a.token}', MULTI: '${a.multi}', EQ: '${a.eq}', "
                                  "N: 8080}\n"),
                           NULL, 0),
                 0, "%s", sf_engine_error(f.e)->msg);
    cr_assert_eq(sf_env_view(&view, rec, &err), 0);
    {
        static const char *const keys[] = {"branch", "slug", "template", "status", "created_at", "expires_at",
                                           "outputs", "resources"};
        cr_assert_eq(json_object_size(view), 8, "exactly the SPEC keys");
        for (size_t i = 0; i < 8; i++)
            cr_assert_not_null(json_object_get(view, keys[i]), "missing %s", keys[i]);
        json_t *r0 = json_array_get(json_object_get(view, "resources"), 0);
        cr_assert_eq(json_object_size(r0), 4);
        cr_assert_str_eq(json_string_value(json_object_get(r0, "id")), "sf-views-a");
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(view, "outputs"), "TOKEN")), "***");
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(view, "outputs"), "N")), "8080");
    }
    json_decref(view);
    cr_assert_eq(sf_env_outputs(&outs, rec, 1, 1, &err), 0, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/github_env", f.dir);
    et_write(path, "EXISTING=1\n");
    chmod(path, 0644);
    cr_assert_eq(sf_env_dotenv_write(path, outs, &err), 0, "%s", err.msg);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
    {
        char *s = et_slurp(path);
        cr_assert_eq(strncmp(s, "EXISTING=1\n", 11), 0, "appends");
        cr_assert_not_null(strstr(s, "\nURL=test://sf-views-a\n"));
        cr_assert_not_null(strstr(s, "\nEQ=a=b c\n"), "values are written verbatim after the first =");
        cr_assert_not_null(strstr(s, "\nMULTI<<SF_EOF_"), "multi-line values use the heredoc form");
        cr_assert_not_null(strstr(s, "\nl1\nl2\nSF_EOF_"));
        cr_assert_null(strstr(s, "***"), "secrets are revealed in the env file");
        free(s);
    }
    cr_assert_eq(sf_env_dotenv_add(&b, "bad-key", "x", &err), SF_EUSAGE);
    cr_assert_eq(sf_env_dotenv_add(&b, "_OK9", "", &err), 0);
    cr_assert_str_eq(b.ptr, "_OK9=\n");
    json_decref(outs);
    json_decref(rec);
    sf_buf_free(&b);
    et_engine_down(&f);
}

Test(env, unset_envvar_is_refused_before_anything_is_created)
{
    et_engine f;
    json_t *rec = NULL;
    et_engine_up(&f, 0, NULL);
    unsetenv("SF_NEVER_SET_X");
    cr_assert_eq(fx_up_env(&f, &rec, "noenv",
                           fx_tpl(&f, "n", "resources: {a: {type: test.resource, with: {record: RECORD, data: "
                                           "'${envvar.SF_NEVER_SET_X}'}}}\n"),
                           NULL, 0),
                 SF_ECONFIG);
    cr_assert_not_null(strstr(sf_engine_error(f.e)->msg, "SF_NEVER_SET_X is not set"), "%s", sf_engine_error(f.e)->msg);
    cr_assert_null(rec);
    cr_assert_eq(et_count(f.record, "call-"), 0);
    et_engine_down(&f);
}
