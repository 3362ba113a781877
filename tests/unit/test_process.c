/* process.service with real child processes (tests/tools/svc). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "prov_util.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

static char spec[4096];

static const char *svc(void)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/tools/svc", tp_env("STAGEFORK_BUILD"));
    cr_assert_eq(access(path, X_OK), 0, "%s missing: build it with make", path);
    return path;
}

static int alive(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    const char *p;
    int zombie = 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
        zombie = p[2] == 'Z';
    fclose(f);
    return !zombie;
}

static pid_t out_pid(tprov *t)
{
    return (pid_t)atol(tp_out(t, "pid"));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    sf_buf b = SF_BUF_INIT;
    char chunk[4096];
    size_t n;
    cr_assert_not_null(f, "%s", path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sf_buf_add(&b, chunk, n);
    fclose(f);
    return sf_buf_detach(&b, NULL);
}

static long http_status(const char *url)
{
    sf_http *h;
    sf_http_response r;
    sf_http_request q = {.url = url};
    sf_error e = {0};
    long st;
    cr_assert_eq(sf_http_new(&h, NULL, &e), 0);
    sf_http_response_init(&r);
    cr_assert_eq(sf_http_do(h, &r, &q, &e), 0, "%s", e.msg);
    st = r.status;
    sf_http_response_free(&r);
    sf_http_free(h);
    return st;
}

Test(process, create_health_adopt_destroy)
{
    tprov t;
    char *log, want[128];
    pid_t pid;
    snprintf(spec, sizeof(spec),
             "{\"command\": [\"%s\", \"--port\", \"${self.port}\", \"--echo-env\", \"SF_X\", \"--echo-env\", "
             "\"SF_PORT\", \"--echo-env\", \"HOME\"],"
             " \"cwd\": \"%s\", \"env\": {\"SF_X\": \"héllo wörld $HOME ${x}\", \"SF_PORT\": \"p=${self.port}\"},"
             " \"health\": {\"http\": \"http://127.0.0.1:${self.port}/health\", \"timeout\": \"10s\"}}",
             svc(), tp_tmpdir());
    tp_init(&t, "process.service", "proc-basic", "api", spec);
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    pid = out_pid(&t);
    cr_assert(alive(pid));
    cr_assert_eq(getpgid(pid), pid, "the service leads its own process group");
    cr_assert_eq(getsid(pid), pid, "and its own session");
    snprintf(want, sizeof(want), "http://127.0.0.1:%s", tp_out(&t, "port"));
    cr_assert_str_eq(tp_out(&t, "url"), want);
    cr_assert_eq(http_status(want), 200);
    log = slurp(tp_out(&t, "log"));
    cr_assert(strstr(log, "env SF_X=héllo wörld $HOME ${x}"), "no shell, no other expansion: %s", log);
    snprintf(want, sizeof(want), "env SF_PORT=p=%s", tp_out(&t, "port"));
    cr_assert(strstr(log, want), "%s", log);
    cr_assert(strstr(log, "env HOME=") && !strstr(log, "env HOME=(unset)"), "inherits the environment: %s", log);
    free(log);

    tp_keep_outputs(&t);
    cr_assert_eq(tp_create(&t), 0, "adopt: %s", t.ctx.err.msg);
    cr_assert_eq(out_pid(&t), pid, "a rerun adopts the running process");
    cr_assert_eq(tp_check(&t), 0, "%s", t.ctx.err.msg);

    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert(!alive(pid));
    cr_assert_eq(tp_destroy(&t), 0, "destroy when gone: %s", t.ctx.err.msg);
    cr_assert_eq(tp_check(&t), SF_ENOTFOUND);
    /* gone behind our back: the next create starts it again */
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_neq(out_pid(&t), pid);
    tp_keep_outputs(&t);
    pid = out_pid(&t);
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert(!alive(pid));
    tp_free(&t);
}

Test(process, crashing_service_fails_with_log_tail)
{
    tprov t;
    snprintf(spec, sizeof(spec),
             "{\"command\": [\"%s\", \"--port\", \"${self.port}\", \"--crash-after\", \"300\"],"
             " \"health\": {\"http\": \"http://127.0.0.1:${self.port}/health\", \"timeout\": \"20s\"}}",
             svc());
    tp_init(&t, "process.service", "proc-crash", "api", spec);
    cr_assert_eq(tp_create(&t), SF_EIO);
    cr_assert(strstr(t.ctx.err.msg, "exited with status 3 before becoming healthy"), "%s", t.ctx.err.msg);
    cr_assert(strstr(t.ctx.err.msg, "svc: fatal: cannot connect to the database"), "%s", t.ctx.err.msg);
    cr_assert(strstr(t.ctx.err.msg, "svc: log line 12\n"), "%s", t.ctx.err.msg);
    cr_assert_null(strstr(t.ctx.err.msg, "svc: log line 11\n"), "only the last 20 lines: %s", t.ctx.err.msg);
    tp_free(&t);
}

Test(process, unhealthy_service_times_out_and_is_killed)
{
    tprov t;
    char path[512];
    pid_t pid = 0;
    unsigned long long st;
    int port;
    FILE *f;
    snprintf(spec, sizeof(spec),
             "{\"command\": [\"%s\", \"--port\", \"${self.port}\", \"--unhealthy\", \"--child\"],"
             " \"health\": {\"http\": \"http://127.0.0.1:${self.port}/health\", \"timeout\": 1}}",
             svc());
    tp_init(&t, "process.service", "proc-sick", "api", spec);
    cr_assert_eq(tp_create(&t), SF_ETIMEOUT);
    cr_assert(strstr(t.ctx.err.msg, "not healthy after 1s") && strstr(t.ctx.err.msg, "answered HTTP 503"), "%s",
              t.ctx.err.msg);
    cr_assert(strstr(t.ctx.err.msg, "svc: started pid"), "%s", t.ctx.err.msg);
    sscanf(strstr(t.ctx.err.msg, "(pid ") + 5, "%d", &pid);
    cr_assert_gt(pid, 1);
    cr_assert(!alive(pid));
    cr_assert(kill(-pid, 0) < 0 && errno == ESRCH, "the whole group is gone");
    snprintf(path, sizeof(path), "%s/%s.pid", t.state_dir, t.name.ptr);
    f = fopen(path, "r");
    cr_assert_null(f, "no pid file is left after a failed create");
    (void)st;
    (void)port;
    tp_free(&t);
}

Test(process, sigterm_ignored_means_sigkill_after_grace)
{
    tprov t;
    pid_t pid;
    double t0, took;
    snprintf(spec, sizeof(spec),
             "{\"command\": [\"%s\", \"--port\", \"${self.port}\", \"--ignore-term\", \"--child\"],"
             " \"health\": {\"tcp\": \"${self.port}\", \"timeout\": \"10s\"}, \"grace\": \"1s\"}",
             svc());
    tp_init(&t, "process.service", "proc-term", "worker", spec);
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    pid = out_pid(&t);
    tp_keep_outputs(&t);
    t0 = sf_monotonic();
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    took = sf_monotonic() - t0;
    cr_assert_geq(took, 1.0, "waited the grace period (%.2fs)", took);
    cr_assert_lt(took, 6.0, "then SIGKILL (%.2fs)", took);
    cr_assert(!alive(pid));
    cr_assert(kill(-pid, 0) < 0 && errno == ESRCH, "the grandchild in the group is gone too");
    tp_free(&t);
}

Test(process, recorded_pid_with_other_start_time_is_not_signalled)
{
    tprov t;
    pid_t other = fork();
    char prior[256], stat[64];
    cr_assert_geq(other, 0);
    if (other == 0) {
        setsid();
        for (;;)
            pause();
    }
    usleep(100 * 1000);
    snprintf(spec, sizeof(spec), "{\"command\": [\"%s\"]}", svc());
    tp_init(&t, "process.service", "proc-reuse", "api", spec);
    /* the record says pid `other`, but started at a different time: a reused pid */
    {
        FILE *f;
        char buf[1024], *p;
        unsigned long long st = 0;
        snprintf(stat, sizeof(stat), "/proc/%ld/stat", (long)other);
        f = fopen(stat, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        p = strrchr(buf, ')') + 2;
        for (int field = 3; field < 22; field++)
            p = strchr(p, ' ') + 1;
        st = strtoull(p, NULL, 10);
        snprintf(prior, sizeof(prior), "{\"pid\": \"%ld\", \"start_time\": \"%llu\", \"port\": \"1\"}", (long)other,
                 st + 12345);
    }
    t.ctx.prior_outputs = json_loads(prior, 0, NULL);
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    usleep(200 * 1000);
    cr_assert(alive(other), "a pid whose start time differs must not be signalled");
    cr_assert_eq(tp_check(&t), SF_ENOTFOUND);
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    tp_free(&t);
}

Test(process, pid_file_lets_destroy_work_without_recorded_outputs)
{
    tprov t;
    pid_t pid;
    tp_init(&t, "process.service", "proc-crashsafe", "sleeper", "{\"command\": [\"sleep\", \"60\"]}");
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    pid = out_pid(&t);
    cr_assert(alive(pid));
    /* the engine crashed before saving outputs: create again adopts via the pid file */
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(out_pid(&t), pid);
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert(!alive(pid));
    tp_free(&t);
}

Test(process, bad_command_guard_and_validation)
{
    tprov t;
    tp_init(&t, "process.service", "proc-bad", "api", "{\"command\": [\"/nonexistent/bin/api\", \"--x\"]}");
    cr_assert_eq(tp_create(&t), SF_EIO);
    cr_assert(strstr(t.ctx.err.msg, "cannot start '/nonexistent/bin/api': No such file or directory"), "%s",
              t.ctx.err.msg);
    tp_spec(&t, "{\"command\": [\"sleep\", \"60\"], \"cwd\": \"/nonexistent-dir\"}");
    cr_assert_eq(tp_create(&t), SF_EIO);
    cr_assert(strstr(t.ctx.err.msg, "in '/nonexistent-dir'"), "%s", t.ctx.err.msg);
    tp_spec(&t, "{\"command\": [\"sleep\", \"60\"]}");
    tp_config(&t, "guard:\n  protected: [\"sf-*-api\"]\n");
    cr_assert_eq(tp_create(&t), SF_EGUARD);
    tp_spec(&t, "{\"command\": \"sleep 60\"}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"command\": [\"x\"], \"health\": {\"http\": \"u\", \"tcp\": 1}}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"command\": [\"x\"], \"grace\": \"soon\"}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"command\": [\"x\", \"${self.nope}\"]}");
    tp_config(&t, "guard: {}\n");
    cr_assert_eq(tp_create(&t), SF_ENOTFOUND);
    cr_assert(strstr(t.ctx.err.msg, "${self.nope}"), "%s", t.ctx.err.msg);
    tp_free(&t);
}
