/*
 * Running pg_dump for the schema parts of a snapshot: posix_spawn (no
 * shell), the connection string passed without its password (the password
 * goes through PGPASSWORD in the child's environment, never on a command
 * line), stdout captured into memory, stderr kept for the error message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "snap_dump.h"

extern char **environ;

/* 'value' quoted for a libpq connection string. */
static void conn_quote(sf_buf *out, const char *v)
{
    sf_buf_addc(out, '\'');
    for (; *v; v++) {
        if (*v == '\'' || *v == '\\')
            sf_buf_addc(out, '\\');
        sf_buf_addc(out, *v);
    }
    sf_buf_addc(out, '\'');
}

/* libpq parses the DSN (URL or key=value), so every form is handled the way psql would. */
int sf_dump_conninfo(sf_buf *conninfo, sf_buf *password, const char *dsn, const char *dbname, sf_error *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &msg), *o;
    sf_buf_clear(conninfo);
    sf_buf_clear(password);
    if (!opts) {
        int rc = sf_error_set(err, SF_EUSAGE, "invalid connection string: %s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return rc;
    }
    for (o = opts; o->keyword; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "dbname") == 0 && dbname)
            v = dbname;
        if (!v || !*v)
            continue;
        if (strcmp(o->keyword, "password") == 0) {
            sf_buf_sets(password, v);
            continue;
        }
        if (conninfo->len)
            sf_buf_addc(conninfo, ' ');
        sf_buf_addf(conninfo, "%s=", o->keyword);
        conn_quote(conninfo, v);
    }
    if (dbname && !strstr(conninfo->ptr, "dbname=")) {
        sf_buf_adds(conninfo, conninfo->len ? " dbname=" : "dbname=");
        conn_quote(conninfo, dbname);
    }
    PQconninfoFree(opts);
    return 0;
}

/* environ without PGPASSWORD, plus PGPASSWORD=password when given. A new array of borrowed/owned strings. */
static char **child_env(const char *password, char **owned)
{
    size_t n = 0, k = 0;
    char **env;
    *owned = NULL;
    while (environ[n])
        n++;
    if (!(env = calloc(n + 2, sizeof(*env))))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PGPASSWORD=", 11) != 0)
            env[k++] = environ[i];
    if (password && *password) {
        size_t len = strlen(password) + 12;
        if (!(*owned = malloc(len))) {
            free(env);
            return NULL;
        }
        snprintf(*owned, len, "PGPASSWORD=%s", password);
        env[k++] = *owned;
    }
    env[k] = NULL;
    return env;
}

/*
 * No shell: posix_spawn with an argument vector; stdout and stderr are drained together so neither pipe can
 * fill and stall pg_dump.
 */
int sf_dump_run(sf_buf *out, const char *pg_bindir, const char *const *args, const char *password, size_t max,
                sf_error *err)
{
    sf_buf prog = SF_BUF_INIT, errtext = SF_BUF_INIT;
    const char *dir = pg_bindir && *pg_bindir ? pg_bindir : getenv("STAGEFORK_PG_BINDIR");
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, devnull = -1, status = 0, rc = 0;
    posix_spawn_file_actions_t fa;
    char **argv = NULL, **env = NULL, *pwenv = NULL;
    size_t nargs = 0;
    pid_t pid = -1;

    sf_buf_clear(out);
    if (dir && *dir)
        sf_buf_addf(&prog, "%s/pg_dump", dir);
    else
        sf_buf_adds(&prog, "pg_dump");
    while (args[nargs])
        nargs++;
    if (!(argv = calloc(nargs + 2, sizeof(*argv))) || !(env = child_env(password, &pwenv))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    argv[0] = prog.ptr;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = (char *)args[i];
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 ||
        (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot create a pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    errno = strchr(prog.ptr, '/') ? posix_spawn(&pid, prog.ptr, &fa, NULL, argv, env)
                                  : posix_spawnp(&pid, prog.ptr, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    if (errno != 0) {
        rc = sf_error_set(err, SF_EIO, "cannot run '%s': %s", prog.ptr, strerror(errno));
        pid = -1;
        goto out;
    }
    {
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        char chunk[65536];
        int open_fds = 2;
        while (open_fds > 0) {
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR)
                    continue;
                rc = sf_error_set(err, SF_EIO, "poll: %s", strerror(errno));
                break;
            }
            for (int i = 0; i < 2; i++) {
                ssize_t n;
                if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                n = read(fds[i].fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    fds[i].fd = -1;
                    open_fds--;
                    continue;
                }
                if (i == 0) {
                    if (rc == 0 && (out->len + (size_t)n > max || sf_buf_add(out, chunk, (size_t)n) < 0))
                        rc = sf_error_set(err, SF_ENOMEM, "pg_dump printed more than %zu MB of schema", max >> 20);
                } else if (errtext.len < 8192) {
                    sf_buf_add(&errtext, chunk, (size_t)n);
                }
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        while (errtext.len && (errtext.ptr[errtext.len - 1] == '\n' || errtext.ptr[errtext.len - 1] == ' '))
            sf_buf_truncate(&errtext, errtext.len - 1);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && errtext.len == 0)
            rc = sf_error_set(err, SF_EIO, "cannot run '%s'", prog.ptr);
        else
            rc = sf_error_set(err, SF_EDB, "pg_dump failed (%s %d): %s",
                              WIFEXITED(status) ? "exit" : "signal",
                              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                              errtext.len ? errtext.ptr : "no message");
    }
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    if (devnull >= 0)
        close(devnull);
    if (pwenv) {
        memset(pwenv, 0, strlen(pwenv));
        free(pwenv);
    }
    free(env);
    free(argv);
    sf_buf_free(&prog);
    sf_buf_free(&errtext);
    return rc;
}
