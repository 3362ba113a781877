/* State backends (directory and PostgreSQL): records, events, locks, first-use races, choice of backend. */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "envtest.h"
#include "stagefork/config.h"
#include "stagefork/state.h"
#include "stagefork/util.h"

struct backend {
    char dir[128];
    char url[512];
    char db[64];
    int pg;
};

static void backend_up(struct backend *b, int pg)
{
    memset(b, 0, sizeof(*b));
    b->pg = pg;
    et_tmpdir(b->dir);
    setenv("XDG_STATE_HOME", b->dir, 1); /* the PostgreSQL backend keeps local files there */
    if (pg)
        et_pg_newdb(b->url, b->db);
    else
        snprintf(b->url, sizeof(b->url), "%s/state", b->dir);
}

static void backend_down(struct backend *b)
{
    if (b->pg)
        et_pg_dropdb(b->db);
    et_rmrf(b->dir);
}

static void roundtrip(int pg)
{
    struct backend b;
    sf_state *st;
    sf_error err = {0};
    json_t *rec, *got, *list, *evs, *ev;
    backend_up(&b, pg);
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_str_eq(sf_state_kind(st), pg ? "postgres" : "directory");
    cr_assert_eq(sf_state_get(&got, st, "feature-x", &err), SF_ENOTFOUND);
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "branch", "feature/x", "slug", "feature-x", "status", "ready",
                    "expires_at", "2030-01-01T00:00:00Z", "note", "naïve \"quoted\" \\ 日本");
    setenv("CI_JOB_ID", "4242", 1);
    ev = sf_state_event_new("up", "feature-x", "db", "ready", "detail");
    cr_assert_eq(sf_state_put(st, "feature-x", rec, ev, &err), 0, "%s", err.msg);
    json_decref(ev);
    ev = sf_state_event_new("up", "feature-x", NULL, "ready", NULL);
    unsetenv("CI_JOB_ID");
    cr_assert_eq(sf_state_event(st, ev, &err), 0, "%s", err.msg);
    json_decref(ev);
    cr_assert_eq(sf_state_get(&got, st, "feature-x", &err), 0, "%s", err.msg);
    cr_assert(json_equal(got, rec), "record changed on the way through the %s backend", sf_state_kind(st));
    json_decref(got);
    json_object_set_new(rec, "status", json_string("deleted"));
    cr_assert_eq(sf_state_put(st, "feature-x", rec, NULL, &err), 0, "%s", err.msg);
    {
        json_t *other = json_pack("{s:s, s:s, s:s, s:n}", "branch", "a", "slug", "a", "status", "ready", "expires_at");
        cr_assert_eq(sf_state_put(st, "a", other, NULL, &err), 0, "%s", err.msg);
        json_decref(other);
    }
    cr_assert_eq(sf_state_list(&list, st, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(list), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "slug")), "a", "ordered by slug");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "status")), "deleted");
    json_decref(list);
    cr_assert_eq(sf_state_events(&evs, st, "feature-x", 10, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(evs), 2);
    ev = json_array_get(evs, 0);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "resource")), "db");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "ci_job")), "4242");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "verb")), "up");
    cr_assert_not_null(json_object_get(ev, "time"));
    cr_assert_not_null(json_object_get(ev, "actor"));
    cr_assert_null(json_object_get(json_array_get(evs, 1), "resource"));
    json_decref(evs);
    cr_assert_eq(sf_state_events(&evs, st, "feature-x", 1, &err), 0);
    cr_assert_eq(json_array_size(evs), 1, "max keeps the newest");
    cr_assert_null(json_object_get(json_array_get(evs, 0), "resource"));
    json_decref(evs);
    cr_assert_eq(sf_state_get(&got, st, "../etc", &err), SF_EUSAGE, "slugs are checked");
    json_decref(rec);
    sf_state_free(st);
    sf_state_free(NULL);
    backend_down(&b);
}

Test(state, directory_roundtrip) { roundtrip(0); }
Test(state, postgres_roundtrip) { roundtrip(1); }

Test(state, directory_modes_and_atomic_files)
{
    struct backend b;
    sf_state *st;
    sf_error err = {0};
    struct stat sb;
    sf_buf p = SF_BUF_INIT;
    json_t *rec = json_pack("{s:s, s:s, s:s}", "branch", "m", "slug", "m", "status", "ready"), *got;
    backend_up(&b, 0);
    umask(022);
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_put(st, "m", rec, NULL, &err), 0, "%s", err.msg);
    {
        json_t *ev = sf_state_event_new("up", "m", NULL, "ready", NULL);
        cr_assert_eq(sf_state_event(st, ev, &err), 0);
        json_decref(ev);
    }
    {
        sf_lock *lk;
        cr_assert_eq(sf_state_lock(&lk, st, "m", 1, &err), 0, "%s", err.msg);
        sf_lock_free(lk);
    }
    const char *paths[] = {"", "/envs", "/locks", "/files"};
    for (size_t i = 0; i < 4; i++) {
        sf_buf_clear(&p);
        sf_buf_addf(&p, "%s%s", b.url, paths[i]);
        cr_assert_eq(stat(p.ptr, &sb), 0);
        cr_assert_eq(sb.st_mode & 0777, 0700, "%s is %o", p.ptr, sb.st_mode & 0777);
    }
    const char *files[] = {"/envs/m.json", "/events.jsonl", "/locks/m.lock"};
    for (size_t i = 0; i < 3; i++) {
        sf_buf_clear(&p);
        sf_buf_addf(&p, "%s%s", b.url, files[i]);
        cr_assert_eq(stat(p.ptr, &sb), 0, "%s", p.ptr);
        cr_assert_eq(sb.st_mode & 0777, 0600, "%s is %o", p.ptr, sb.st_mode & 0777);
    }
    /* no temporary file is left behind */
    sf_buf_clear(&p);
    sf_buf_addf(&p, "ls -A '%s/envs' | grep -c tmp", b.url);
    {
        FILE *f = popen(p.ptr, "r");
        char line[16] = "";
        cr_assert_not_null(fgets(line, sizeof(line), f));
        pclose(f);
        cr_assert_str_eq(line, "0\n");
    }
    /* a damaged record is reported, not silently ignored */
    sf_buf_clear(&p);
    sf_buf_addf(&p, "%s/envs/m.json", b.url);
    et_write(p.ptr, "{\"branch\": ");
    cr_assert_eq(sf_state_get(&got, st, "m", &err), SF_EFORMAT);
    cr_assert_not_null(strstr(err.msg, "m.json"), "%s", err.msg);
    json_decref(rec);
    sf_buf_free(&p);
    sf_state_free(st);
    backend_down(&b);
}

static void lock_waits_and_times_out(int pg)
{
    struct backend b;
    sf_state *st, *st2;
    sf_error err = {0};
    sf_lock *a, *x, *other;
    double t0;
    backend_up(&b, pg);
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_open(&st2, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_lock(&a, st, "env-a", 1, &err), 0, "%s", err.msg);
    t0 = sf_monotonic();
    cr_assert_eq(sf_state_lock(&x, st2, "env-a", 0.6, &err), SF_ELOCK);
    cr_assert_geq(sf_monotonic() - t0, 0.55, "gave up too early");
    cr_assert_lt(sf_monotonic() - t0, 3.0, "waited far past the timeout");
    cr_assert_not_null(strstr(err.msg, "locked by another stagefork process"), "%s", err.msg);
    t0 = sf_monotonic();
    cr_assert_eq(sf_state_lock(&other, st2, "env-b", 0.5, &err), 0, "another env never waits: %s", err.msg);
    cr_assert_lt(sf_monotonic() - t0, 0.4);
    sf_lock_free(other);
    sf_lock_free(a);
    cr_assert_eq(sf_state_lock(&x, st2, "env-a", 2, &err), 0, "released: %s", err.msg);
    sf_lock_free(x);
    sf_lock_free(NULL);
    sf_state_free(st);
    sf_state_free(st2);
    backend_down(&b);
}

Test(state, directory_lock_waits_and_times_out) { lock_waits_and_times_out(0); }
Test(state, postgres_lock_waits_and_times_out) { lock_waits_and_times_out(1); }

/* A process holding the lock dies with SIGKILL: the lock must come free. */
static void lock_released_by_kill(int pg)
{
    struct backend b;
    sf_state *st;
    sf_error err = {0};
    sf_lock *lk;
    int fds[2], status;
    pid_t pid;
    char c;
    backend_up(&b, pg);
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        sf_state *cs;
        sf_lock *cl;
        if (sf_state_open(&cs, b.url, &err) < 0 || sf_state_lock(&cl, cs, "doomed", 5, &err) < 0)
            _exit(3);
        (void)!write(fds[1], "L", 1);
        for (;;)
            pause();
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], &c, 1), 1, "child could not take the lock");
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_lock(&lk, st, "doomed", 0.3, &err), SF_ELOCK);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_eq(sf_state_lock(&lk, st, "doomed", 10, &err), 0, "lock not released by kill -9: %s", err.msg);
    sf_lock_free(lk);
    sf_state_free(st);
    close(fds[0]);
    backend_down(&b);
}

Test(state, directory_lock_released_by_kill) { lock_released_by_kill(0); }
Test(state, postgres_lock_released_by_kill) { lock_released_by_kill(1); }

static const char *race_url;
static void *open_one(void *arg)
{
    sf_state *st;
    sf_error err = {0};
    int *rc = arg;
    *rc = sf_state_open(&st, race_url, &err);
    if (*rc == 0) {
        json_t *ev = sf_state_event_new("up", "race", NULL, "ok", NULL);
        *rc = sf_state_event(st, ev, &err);
        json_decref(ev);
        sf_state_free(st);
    }
    return NULL;
}

Test(state, postgres_schema_first_use_is_race_free)
{
    struct backend b;
    pthread_t th[8];
    int rcs[8];
    sf_state *st;
    sf_error err = {0};
    json_t *evs;
    backend_up(&b, 1);
    race_url = b.url;
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, open_one, &rcs[i]);
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(rcs[i], 0, "opener %d failed", i);
    }
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_events(&evs, st, "race", 0, &err), 0);
    cr_assert_eq(json_array_size(evs), 8);
    json_decref(evs);
    sf_state_free(st);
    backend_down(&b);
}

Test(state, postgres_bad_url_is_a_database_error)
{
    sf_state *st;
    sf_error err = {0};
    cr_assert_eq(sf_state_open(&st, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", &err), SF_EDB);
    cr_assert_not_null(strstr(err.msg, "cannot connect to the state database"), "%s", err.msg);
}

Test(state, backend_choice_follows_flag_env_config_default)
{
    char dir[128];
    sf_buf out = SF_BUF_INIT, p = SF_BUF_INIT;
    sf_config *cfg;
    sf_error err = {0};
    et_tmpdir(dir);
    et_file(&p, dir, "c.yaml", "state: /from/config\n");
    cr_assert_eq(sf_config_load(&cfg, p.ptr, &err), 0, "%s", err.msg);
    setenv("STAGEFORK_STATE", "/from/env", 1);
    cr_assert_eq(sf_state_resolve(&out, "/from/flag", cfg, &err), 0);
    cr_assert_str_eq(out.ptr, "/from/flag");
    cr_assert_eq(sf_state_resolve(&out, NULL, cfg, &err), 0);
    cr_assert_str_eq(out.ptr, "/from/env");
    unsetenv("STAGEFORK_STATE");
    cr_assert_eq(sf_state_resolve(&out, NULL, cfg, &err), 0);
    cr_assert_str_eq(out.ptr, "/from/config");
    sf_config_free(cfg);
    cr_assert_eq(sf_config_load(&cfg, NULL, &err), 0);
    setenv("XDG_STATE_HOME", "/xdg", 1);
    cr_assert_eq(sf_state_resolve(&out, NULL, cfg, &err), 0);
    cr_assert_str_eq(out.ptr, "/xdg/stagefork");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    cr_assert_eq(sf_state_resolve(&out, NULL, cfg, &err), 0);
    cr_assert_str_eq(out.ptr, "/home/u/.local/state/stagefork");
    sf_config_free(cfg);
    sf_buf_free(&out);
    sf_buf_free(&p);
    et_rmrf(dir);
}

static void meta_roundtrip(int pg)
{
    struct backend b;
    sf_state *st, *st2;
    sf_error err = {0};
    json_t *v, *got;
    backend_up(&b, pg);
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_meta_get(&got, st, "reaper", &err), SF_ENOTFOUND);
    cr_assert_null(got);
    v = json_pack("{s:s, s:i, s:s}", "last_sweep", "2030-01-01T00:00:00Z", "reaped", 3, "by", "host \"q\" 日本");
    cr_assert_eq(sf_state_meta_put(st, "reaper", v, &err), 0, "%s", err.msg);
    json_object_set_new(v, "reaped", json_integer(4));
    cr_assert_eq(sf_state_meta_put(st, "reaper", v, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_open(&st2, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_meta_get(&got, st2, "reaper", &err), 0, "%s", err.msg);
    cr_assert(json_equal(got, v), "meta document changed on the way through the %s backend", sf_state_kind(st));
    json_decref(got);
    cr_assert_eq(sf_state_meta_put(st, "../x", v, &err), SF_EUSAGE, "keys are checked like slugs");
    {
        json_t *list;
        cr_assert_eq(sf_state_list(&list, st2, &err), 0, "%s", err.msg);
        cr_assert_eq(json_array_size(list), 0, "a meta document is not an environment");
        json_decref(list);
    }
    if (!pg) {
        struct stat sb;
        char path[600];
        snprintf(path, sizeof(path), "%s/meta/reaper.json", b.url);
        cr_assert_eq(stat(path, &sb), 0);
        cr_assert_eq(sb.st_mode & 0777, 0600, "meta files are 0600");
    }
    json_decref(v);
    sf_state_free(st2);
    sf_state_free(st);
    backend_down(&b);
}
Test(state, directory_meta_documents) { meta_roundtrip(0); }
Test(state, postgres_meta_documents) { meta_roundtrip(1); }

Test(state, postgres_schema_without_meta_is_completed)
{
    struct backend b;
    sf_state *st;
    sf_error err = {0};
    json_t *v = json_pack("{s:i}", "n", 1), *got;
    PGconn *c;
    backend_up(&b, 1);
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    sf_state_free(st);
    c = PQconnectdb(b.url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "DROP TABLE stagefork.meta")); /* a state created before meta existed */
    PQfinish(c);
    cr_assert_eq(sf_state_open(&st, b.url, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_meta_put(st, "reaper", v, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_state_meta_get(&got, st, "reaper", &err), 0, "%s", err.msg);
    json_decref(got);
    json_decref(v);
    sf_state_free(st);
    backend_down(&b);
}
