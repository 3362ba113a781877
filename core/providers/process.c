/*
 * process.service: a local long-running process (no shell) in its own
 * session and process group, logging to <state_dir>/<name>.log, with a free
 * port for `${self.port}` and a health check before it counts as ready.
 * Its pid and kernel start time are recorded (outputs and a pid file
 * written right after the spawn), and destroy signals the group only while
 * /proc/PID/stat still shows that start time, so a reused pid is never hit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "providers/spec.h"
#include "stagefork/guard.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

extern char **environ;

#define LOG_TAIL_LINES 20
#define LOG_TAIL_BYTES 4096

static const char *const proc_outputs[] = {"pid", "port", "url", "log", "start_time", NULL};
static const char *const proc_keys[] = {"command", "cwd", "env", "health", "grace", NULL};
static const char *const health_keys[] = {"http", "tcp", "timeout", NULL};

/* ------------------------------------------------------------------ /proc -- */

/* Start time (field 22 of /proc/PID/stat, clock ticks since boot); 0 if gone or a zombie. */
static unsigned long long start_time_of(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long v = 0;
    ssize_t n;
    int fd;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')) || p[1] != ' ')
        return 0;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return 0;
    /* p is at field 3 (state); field 22 is 19 fields further */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (p) {
        char *end;
        errno = 0;
        v = strtoull(p, &end, 10);
        if (errno || end == p)
            v = 0;
    }
    return v;
}

/* Does any process of group pgid still exist (zombies of our own children are reaped first)? */
static int group_alive(pid_t pgid)
{
    while (waitpid(-pgid, NULL, WNOHANG) > 0)
        ;
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* ------------------------------------------------------------------- spec -- */

static int proc_validate(sf_resource_ctx *ctx)
{
    json_t *cmd = json_object_get(ctx->spec, "command"), *v, *h;
    size_t i;
    double d;
    int rc;
    if ((rc = sf_spec_keys(ctx, ctx->spec, "with", proc_keys, &ctx->err)) < 0)
        return rc;
    if (!json_is_array(cmd) || !json_array_size(cmd))
        return sf_error_set(&ctx->err, SF_ECONFIG, "process.service: 'command' must be a non-empty list (argv, no shell)");
    json_array_foreach(cmd, i, v) if (!json_is_string(v)) return sf_error_set(
        &ctx->err, SF_ECONFIG, "process.service: command[%zu] must be a string", i);
    if ((v = json_object_get(ctx->spec, "cwd")) && !json_is_string(v))
        return sf_error_set(&ctx->err, SF_ECONFIG, "process.service: 'cwd' must be a string");
    if ((v = json_object_get(ctx->spec, "env"))) {
        const char *k;
        json_t *x;
        if (!json_is_object(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "process.service: 'env' must be a mapping");
        json_object_foreach(v, k, x) if (!json_is_string(x) || !*k || strchr(k, '=')) return sf_error_set(
            &ctx->err, SF_ECONFIG, "process.service: env.%s must be a string with a name without '='", k);
    }
    if ((h = json_object_get(ctx->spec, "health"))) {
        if ((rc = sf_spec_keys(ctx, h, "health", health_keys, &ctx->err)) < 0)
            return rc;
        if (!!json_object_get(h, "http") == !!json_object_get(h, "tcp"))
            return sf_error_set(&ctx->err, SF_ECONFIG, "process.service: health takes exactly one of http: URL or tcp: PORT");
        if ((v = json_object_get(h, "http")) && !json_is_string(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "process.service: health.http must be a URL");
        if ((v = json_object_get(h, "tcp")) && !json_is_string(v) && !json_is_integer(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "process.service: health.tcp must be a port");
        if ((rc = sf_spec_duration(&d, h, "timeout", 30, &ctx->err)) < 0)
            return rc;
    }
    return sf_spec_duration(&d, ctx->spec, "grace", 10, &ctx->err);
}

static int proc_name(sf_buf *out, const sf_resource_ctx *ctx)
{
    return sf_spec_name(out, ctx, '-', 63);
}

/* ------------------------------------------------------------------ helpers -- */

static int free_port(int *out, sf_error *err)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sf_error_set(err, SF_EIO, "cannot allocate a port: %s", strerror(errno));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        int e = errno;
        close(fd);
        return sf_error_set(err, SF_EIO, "cannot allocate a port: %s", strerror(e));
    }
    close(fd);
    *out = ntohs(a.sin_port);
    return 0;
}

static int tcp_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void sleep_secs(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* The last LOG_TAIL_LINES lines of the log (from its last LOG_TAIL_BYTES bytes). */
static void log_tail(sf_buf *out, const char *path)
{
    char buf[LOG_TAIL_BYTES + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC), lines = 0;
    off_t size;
    ssize_t n;
    char *p;
    sf_buf_clear(out);
    if (fd < 0)
        return;
    size = lseek(fd, 0, SEEK_END);
    if (size > LOG_TAIL_BYTES)
        lseek(fd, size - LOG_TAIL_BYTES, SEEK_SET);
    else
        lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, LOG_TAIL_BYTES);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    for (p = buf + n; p > buf; p--)
        if (p[-1] == '\n' && ++lines == LOG_TAIL_LINES)
            break;
    sf_buf_adds(out, p);
}

static int pidfile_path(sf_buf *out, const sf_resource_ctx *ctx, const char *name, const char *ext)
{
    const char *dir = ctx->env && ctx->env->state_dir ? ctx->env->state_dir : ".";
    sf_buf_clear(out);
    return sf_buf_addf(out, "%s/%s.%s", dir, name, ext) < 0 ? SF_ENOMEM : 0;
}

/* Record pid, start time and port so a crash before the outputs are saved still lets destroy find it. */
static void pidfile_write(const char *path, pid_t pid, unsigned long long st, int port)
{
    char tmp[4096], line[128];
    int fd, n = snprintf(line, sizeof(line), "%ld %llu %d\n", (long)pid, st, port);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return;
    if (write(fd, line, (size_t)n) == n && fsync(fd) == 0)
        rename(tmp, path);
    close(fd);
}

static int pidfile_read(const char *path, pid_t *pid, unsigned long long *st, int *port)
{
    FILE *f = fopen(path, "re");
    long p = 0;
    int ok;
    if (!f)
        return 0;
    ok = fscanf(f, "%ld %llu %d", &p, st, port) == 3 && p > 1;
    fclose(f);
    *pid = (pid_t)p;
    return ok;
}

/* pid/start_time from prior outputs, else from the pid file. */
static int recorded(const sf_resource_ctx *ctx, const char *pidpath, pid_t *pid, unsigned long long *st, int *port)
{
    const char *sp = sf_spec_prior(ctx, "pid"), *ss = sf_spec_prior(ctx, "start_time"),
               *sport = sf_spec_prior(ctx, "port");
    int64_t v, s, pt = 0;
    if (sp && ss && sf_parse_i64(&v, sp, 2, INT32_MAX) == 0 && sf_parse_i64(&s, ss, 1, INT64_MAX) == 0) {
        *pid = (pid_t)v;
        *st = (unsigned long long)s;
        *port = sport && sf_parse_i64(&pt, sport, 1, 65535) == 0 ? (int)pt : 0;
        return 1;
    }
    return pidfile_read(pidpath, pid, st, port);
}

/* recorded(), and the recorded process is still that process (same start time). */
static int still_running(const sf_resource_ctx *ctx, const char *pidpath, pid_t *pid, unsigned long long *st,
                         int *port)
{
    return recorded(ctx, pidpath, pid, st, port) && *st && start_time_of(*pid) == *st;
}

/* The resource's name and the paths of its pid file and (when logpath) log; errors in ctx->err. */
static int proc_paths(sf_buf *name, sf_buf *pidpath, sf_buf *logpath, sf_resource_ctx *ctx)
{
    int rc;
    if ((rc = proc_name(name, ctx)) < 0)
        return sf_error_set(&ctx->err, rc, "process.service: cannot derive a name");
    if ((rc = pidfile_path(pidpath, ctx, name->ptr, "pid")) < 0 || !logpath)
        return rc;
    return pidfile_path(logpath, ctx, name->ptr, "log");
}

/*
 * SIGTERM the group, wait `grace`, SIGKILL, verify it is gone. The leader's
 * start time must match `st` (pid-reuse guard); a leader that is gone while
 * the group lives on is still the same group (a group's id is not reused
 * while any member exists).
 */
static int stop_group(sf_resource_ctx *ctx, pid_t pid, unsigned long long st, double grace)
{
    unsigned long long now_st = start_time_of(pid);
    double end;
    if (now_st && now_st != st) {
        sf_log(SF_LOG_WARN, "process.service %s: pid %ld now belongs to another process (start time %llu, recorded "
                            "%llu); not signalling it",
               ctx->resource, (long)pid, now_st, st);
        return 0;
    }
    if (!now_st && !group_alive(pid))
        return 0;
    if (kill(-pid, SIGTERM) < 0 && errno == ESRCH)
        return 0;
    for (end = sf_monotonic() + grace; sf_monotonic() < end;) {
        if (!group_alive(pid))
            return 0;
        sleep_secs(0.05);
    }
    sf_log(SF_LOG_INFO, "process.service %s: still running after %.0fs grace; sending SIGKILL", ctx->resource, grace);
    kill(-pid, SIGKILL);
    for (end = sf_monotonic() + 5; sf_monotonic() < end;) {
        if (!group_alive(pid))
            return 0;
        sleep_secs(0.05);
    }
    return sf_error_set(&ctx->err, SF_EIO, "process.service %s: process group %ld survived SIGKILL", ctx->resource,
                        (long)pid);
}

/* ---------------------------------------------------------------- create --- */

typedef struct launch {
    char **argv, **envp;
    size_t argc, envc;
} launch;

static void launch_free(launch *l)
{
    for (size_t i = 0; l->argv && i < l->argc; i++)
        free(l->argv[i]);
    for (size_t i = 0; l->envp && i < l->envc; i++)
        free(l->envp[i]);
    free(l->argv);
    free(l->envp);
}

static char *subst(const char *text, const json_t *vars, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    if (sf_spec_self(&b, text, vars, err) < 0) {
        sf_buf_free(&b);
        return NULL;
    }
    return sf_buf_detach(&b, NULL);
}

/* argv and the environment (inherited + env:), with ${self.port} / ${self.log} filled in. */
static int build_launch(launch *l, sf_resource_ctx *ctx, const json_t *vars)
{
    json_t *cmd = json_object_get(ctx->spec, "command"), *env = json_object_get(ctx->spec, "env"), *v;
    size_t n = 0, i;
    const char *k;
    memset(l, 0, sizeof(*l));
    while (environ[n])
        n++;
    l->argv = calloc(json_array_size(cmd) + 1, sizeof(char *));
    l->envp = calloc(n + json_object_size(env) + 1, sizeof(char *));
    if (!l->argv || !l->envp)
        return sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
    json_array_foreach(cmd, i, v)
    {
        if (!(l->argv[l->argc] = subst(json_string_value(v), vars, &ctx->err)))
            return sf_error_prefix(&ctx->err, "process.service command[%zu]", i);
        l->argc++;
    }
    for (i = 0; i < n; i++) {
        size_t klen = strcspn(environ[i], "=");
        int overridden = 0;
        json_object_foreach(env, k, v) if (strlen(k) == klen && strncmp(k, environ[i], klen) == 0) overridden = 1;
        if (!overridden && !(l->envp[l->envc++] = strdup(environ[i])))
            return sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
    }
    json_object_foreach(env, k, v)
    {
        char *val = subst(json_string_value(v), vars, &ctx->err);
        sf_buf kv = SF_BUF_INIT;
        if (!val)
            return sf_error_prefix(&ctx->err, "process.service env.%s", k);
        sf_buf_addf(&kv, "%s=%s", k, val);
        free(val);
        l->envp[l->envc++] = sf_buf_detach(&kv, NULL);
    }
    return 0;
}

static int spawn(pid_t *out, sf_resource_ctx *ctx, const launch *l, const char *logpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, deflt;
    const char *cwd = sf_resource_str(ctx, "cwd");
    int rc, logfd;
    logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return sf_error_set(&ctx->err, SF_EIO, "cannot open '%s': %s", logpath, strerror(errno));
    {
        char line[128], ts[SF_TIME_LEN];
        int n;
        sf_time_format(ts, sf_now());
        n = snprintf(line, sizeof(line), "=== stagefork: starting %s at %s ===\n", l->argv[0], ts);
        if (write(logfd, line, (size_t)n) < 0)
            sf_log(SF_LOG_DEBUG, "cannot write to '%s'", logpath);
    }
    sigemptyset(&none);
    sigfillset(&deflt);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, logfd, 1);
    posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    /* no descriptor of ours (sockets of other providers' threads, state files) leaks into the service */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (cwd && *cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    rc = posix_spawnp(out, l->argv[0], &fa, &at, l->argv, l->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(logfd);
    if (rc != 0)
        return sf_error_set(&ctx->err, SF_EIO, "process.service %s: cannot start '%s'%s%s%s: %s", ctx->resource,
                            l->argv[0], cwd ? " in '" : "", cwd ? cwd : "", cwd ? "'" : "", strerror(rc));
    return 0;
}

/* Poll until healthy; 0, or an error naming why (exit status, timeout). */
static int wait_healthy(sf_resource_ctx *ctx, pid_t pid, const json_t *vars)
{
    json_t *h = json_object_get(ctx->spec, "health"), *tcp = json_object_get(h, "tcp");
    char *url = NULL;
    int port = 0, rc = 0, status;
    double timeout, end;
    sf_http *http = NULL;
    sf_http_response resp;
    sf_http_opts o;
    sf_buf last = SF_BUF_INIT;

    sf_spec_duration(&timeout, h, "timeout", h ? 30 : 0.5, NULL);
    end = sf_monotonic() + timeout;
    if (ctx->deadline > 0 && ctx->deadline < end)
        end = ctx->deadline;
    sf_http_response_init(&resp);
    if (json_is_string(json_object_get(h, "http"))) {
        if (!(url = subst(json_string_value(json_object_get(h, "http")), vars, &ctx->err)))
            return sf_error_prefix(&ctx->err, "process.service health.http");
        sf_spec_http_opts(&o, ctx);
        o.connect_timeout = 1;
        o.timeout = 2;
        o.max_attempts = 1;
        if ((rc = sf_http_new(&http, &o, &ctx->err)) < 0)
            goto out;
    } else if (tcp) {
        char *t = json_is_string(tcp) ? subst(json_string_value(tcp), vars, &ctx->err) : NULL;
        int64_t p = json_is_integer(tcp) ? json_integer_value(tcp) : 0;
        if (json_is_string(tcp) && (!t || sf_parse_i64(&p, t, 1, 65535) < 0)) {
            free(t);
            rc = sf_error_set(&ctx->err, SF_ECONFIG, "process.service: health.tcp is not a port");
            goto out;
        }
        free(t);
        port = (int)p;
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD && !start_time_of(pid))) {
            if (w == pid && WIFEXITED(status))
                rc = sf_error_set(&ctx->err, SF_EIO, "exited with status %d before becoming healthy",
                                  WEXITSTATUS(status));
            else if (w == pid && WIFSIGNALED(status))
                rc = sf_error_set(&ctx->err, SF_EIO, "was killed by signal %d before becoming healthy",
                                  WTERMSIG(status));
            else
                rc = sf_error_set(&ctx->err, SF_EIO, "exited before becoming healthy");
            goto out;
        }
        if (http) {
            sf_http_request q = {.method = "GET", .url = url, .flags = SF_HTTP_NO_RETRY};
            sf_error e = {0};
            int hr = sf_http_do(http, &resp, &q, &e);
            if (hr == SF_EGUARD) {
                rc = sf_error_copy(&ctx->err, &e);
                goto out;
            }
            if (hr == 0 && resp.status / 100 == 2)
                goto out;
            sf_buf_clear(&last);
            if (hr == 0)
                sf_buf_addf(&last, "%s answered HTTP %ld", url, resp.status);
            else
                sf_buf_adds(&last, e.msg);
        } else if (port) {
            if (tcp_open(port))
                goto out;
            sf_buf_clear(&last);
            sf_buf_addf(&last, "nothing accepts connections on 127.0.0.1:%d", port);
        } else if (sf_monotonic() >= end) {
            goto out; /* no health check: alive for the settle time is enough */
        }
        if (sf_monotonic() >= end || (ctx->cancel && *ctx->cancel)) {
            rc = sf_error_set(&ctx->err, SF_ETIMEOUT, "not healthy after %.0fs (%s)", timeout, last.ptr);
            goto out;
        }
        sleep_secs(0.1);
    }
out:
    free(url);
    sf_http_free(http);
    sf_http_response_free(&resp);
    sf_buf_free(&last);
    return rc;
}

static int set_outputs(sf_resource_ctx *ctx, pid_t pid, unsigned long long st, int port, const char *log)
{
    char b[64];
    int rc = 0;
    snprintf(b, sizeof(b), "%ld", (long)pid);
    rc |= sf_resource_output(ctx, "pid", b, 0);
    snprintf(b, sizeof(b), "%d", port);
    rc |= sf_resource_output(ctx, "port", b, 0);
    snprintf(b, sizeof(b), "http://127.0.0.1:%d", port);
    rc |= sf_resource_output(ctx, "url", b, 0);
    rc |= sf_resource_output(ctx, "log", log, 0);
    snprintf(b, sizeof(b), "%llu", st);
    rc |= sf_resource_output(ctx, "start_time", b, 0);
    return rc ? sf_error_set(&ctx->err, SF_ENOMEM, "out of memory") : 0;
}

/*
 * Before create (the engine then renders ${self.port} and calls create with
 * these outputs kept): the port of the still-running recorded process, else
 * the recorded port while it is free, else a new free port.
 */
static int proc_prepare(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT, pidpath = SF_BUF_INIT, logpath = SF_BUF_INIT;
    pid_t pid = 0;
    unsigned long long st = 0;
    int port = 0, rc;
    char b[64];
    if ((rc = proc_validate(ctx)) < 0)
        return rc;
    if ((rc = proc_paths(&name, &pidpath, &logpath, ctx)) < 0)
        goto out;
    if (!still_running(ctx, pidpath.ptr, &pid, &st, &port) &&
        (!port || tcp_open(port)) && (rc = free_port(&port, &ctx->err)) < 0)
        goto out;
    snprintf(b, sizeof(b), "%d", port);
    rc = sf_resource_output(ctx, "port", b, 0);
    snprintf(b, sizeof(b), "http://127.0.0.1:%d", port);
    if (rc == 0)
        rc = sf_resource_output(ctx, "url", b, 0);
    if (rc == 0)
        rc = sf_resource_output(ctx, "log", logpath.ptr, 0);
    if (rc < 0)
        rc = sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
out:
    sf_buf_free(&name);
    sf_buf_free(&pidpath);
    sf_buf_free(&logpath);
    return rc;
}

static int proc_create(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT, pidpath = SF_BUF_INIT, logpath = SF_BUF_INIT, tail = SF_BUF_INIT;
    launch l = {0};
    json_t *vars = NULL;
    pid_t pid = 0;
    unsigned long long st = 0;
    int port = 0, rc;
    double grace;
    char portstr[16];

    if ((rc = proc_validate(ctx)) < 0)
        return rc;
    sf_spec_duration(&grace, ctx->spec, "grace", 10, NULL);
    if ((rc = proc_paths(&name, &pidpath, &logpath, ctx)) < 0 ||
        (rc = sf_guard_check(ctx->cfg, NULL, name.ptr, &ctx->err)) < 0)
        goto out;
    /* adopt the process an earlier run started, if it is still that process */
    if (still_running(ctx, pidpath.ptr, &pid, &st, &port)) {
        sf_log(SF_LOG_INFO, "process.service %s: adopting running pid %ld", ctx->resource, (long)pid);
        rc = set_outputs(ctx, pid, st, port, logpath.ptr);
        goto out;
    }
    if (pid > 0 && st && (rc = stop_group(ctx, pid, st, grace)) < 0) /* leftover group of a dead leader */
        goto out;
    {
        /* the port prepare() chose (the spec was rendered with it), else the earlier one while free */
        json_t *pp = ctx->outputs ? json_object_get(ctx->outputs, "port") : NULL;
        int64_t v;
        if (json_is_string(pp) && sf_parse_i64(&v, json_string_value(pp), 1, 65535) == 0)
            port = (int)v;
        else if ((!port || tcp_open(port)) && (rc = free_port(&port, &ctx->err)) < 0)
            goto out;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    vars = json_pack("{s:s, s:s}", "port", portstr, "log", logpath.ptr);
    if (!vars) {
        rc = SF_ENOMEM;
        goto out;
    }
    if ((rc = build_launch(&l, ctx, vars)) < 0)
        goto out;
    if ((rc = spawn(&pid, ctx, &l, logpath.ptr)) < 0)
        goto out;
    /* the start time is readable as soon as the child exists */
    st = start_time_of(pid);
    pidfile_write(pidpath.ptr, pid, st, port);
    /* intent first: the pid is in the state before the (long) health wait */
    if ((rc = set_outputs(ctx, pid, st, port, logpath.ptr)) == 0 && (rc = sf_resource_checkpoint(ctx)) < 0)
        sf_error_prefix(&ctx->err, "process.service %s: cannot record pid %ld", ctx->resource, (long)pid);
    if (rc < 0 || (rc = wait_healthy(ctx, pid, vars)) < 0) {
        sf_error saved = ctx->err;
        if (st)
            stop_group(ctx, pid, st, 2);
        else
            kill(-pid, SIGKILL);
        waitpid(pid, NULL, WNOHANG);
        unlink(pidpath.ptr);
        log_tail(&tail, logpath.ptr);
        ctx->err = saved;
        sf_error_prefix(&ctx->err, "process.service %s: '%s' (pid %ld)", ctx->resource, l.argv[0], (long)pid);
        if (tail.len) {
            size_t used = strlen(ctx->err.msg);
            snprintf(ctx->err.msg + used, sizeof(ctx->err.msg) - used, "; last lines of %s:\n%s", logpath.ptr,
                     tail.ptr);
        }
        rc = ctx->err.code;
        goto out;
    }
    rc = set_outputs(ctx, pid, st, port, logpath.ptr);
out:
    json_decref(vars);
    launch_free(&l);
    sf_buf_free(&name);
    sf_buf_free(&pidpath);
    sf_buf_free(&logpath);
    sf_buf_free(&tail);
    return rc;
}

static int proc_destroy(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT, pidpath = SF_BUF_INIT;
    pid_t pid = 0;
    unsigned long long st = 0;
    int port = 0, rc;
    double grace;
    if ((rc = proc_validate(ctx)) < 0)
        return rc;
    sf_spec_duration(&grace, ctx->spec, "grace", 10, NULL);
    if ((rc = proc_paths(&name, &pidpath, NULL, ctx)) < 0 ||
        (rc = sf_guard_check(ctx->cfg, NULL, name.ptr, &ctx->err)) < 0)
        goto out;
    if (recorded(ctx, pidpath.ptr, &pid, &st, &port) && (rc = stop_group(ctx, pid, st, grace)) < 0)
        goto out;
    unlink(pidpath.ptr);
out:
    sf_buf_free(&name);
    sf_buf_free(&pidpath);
    return rc;
}

static int proc_check(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT, pidpath = SF_BUF_INIT;
    pid_t pid = 0;
    unsigned long long st = 0;
    int port = 0, rc;
    if ((rc = proc_paths(&name, &pidpath, NULL, ctx)) == 0 && !still_running(ctx, pidpath.ptr, &pid, &st, &port))
        rc = sf_error_set(&ctx->err, SF_ENOTFOUND, "process.service %s: not running", ctx->resource);
    sf_buf_free(&name);
    sf_buf_free(&pidpath);
    return rc;
}

const sf_provider sf_provider_process = {
    .type = "process.service",
    .name = proc_name,
    .validate = proc_validate,
    .create = proc_create,
    .destroy = proc_destroy,
    .check = proc_check,
    .outputs = proc_outputs,
    .prepare = proc_prepare,
};
