/* Helpers for provider tests: a hand-built resource context, as the env engine builds it. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "prov_util.h"
#include "stagefork/names.h"

static int counter;

const char *tp_env(const char *var)
{
    const char *v = getenv(var);
    cr_assert(v && *v, "%s is not set: run through `make test` (scripts/run-tests.sh starts the services)", var);
    return v;
}

static char dir[128];
static pid_t dir_owner;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 ? 0 : 0;
}

/* The scratch directory goes when the test process that made it ends. */
__attribute__((destructor)) static void tmpdir_cleanup(void)
{
    if (dir[0] && dir_owner == getpid())
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tp_tmpdir(void)
{
    if (!dir[0] || dir_owner != getpid()) {
        dir_owner = getpid();
        snprintf(dir, sizeof(dir), "/tmp/sf-prov-test-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    return dir;
}

void tp_spec(tprov *t, const char *spec_json)
{
    json_error_t je;
    json_decref(t->ctx.spec);
    t->ctx.spec = json_loads(spec_json, 0, &je);
    cr_assert_not_null(t->ctx.spec, "bad test spec JSON: %s: %s", je.text, spec_json);
}

void tp_init(tprov *t, const char *type, const char *tag, const char *resource, const char *spec_json)
{
    sf_buf b = SF_BUF_INIT;
    memset(t, 0, sizeof(*t));
    sf_buf_init(&t->name, 0);
    snprintf(t->slug, sizeof(t->slug), "%s-%ld-%d", tag, (long)getpid(), ++counter);
    cr_assert_eq(sf_slug_ident(&b, t->slug), 0);
    snprintf(t->ident, sizeof(t->ident), "%s", b.ptr);
    sf_buf_free(&b);
    snprintf(t->id, sizeof(t->id), "id%ld%d", (long)getpid(), counter);
    snprintf(t->state_dir, sizeof(t->state_dir), "%s/%s", tp_tmpdir(), t->slug);
    mkdir(t->state_dir, 0700);
    t->env.branch = t->slug;
    t->env.slug = t->slug;
    t->env.ident = t->ident;
    t->env.id = t->id;
    t->env.prefix = "sf";
    t->env.state_dir = t->state_dir;
    t->env.expires_at = -1;
    t->p = sf_provider_find(type);
    cr_assert_not_null(t->p, "provider %s not registered", type);
    t->ctx.type = type;
    t->ctx.resource = resource;
    t->ctx.env = &t->env;
    tp_spec(t, spec_json);
}

void tp_config(tprov *t, const char *yaml)
{
    char path[256];
    sf_error err = {0};
    FILE *f;
    snprintf(path, sizeof(path), "%s/cfg-%d.yaml", tp_tmpdir(), ++counter);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(yaml, f);
    fclose(f);
    sf_config_free(t->cfg);
    cr_assert_eq(sf_config_load(&t->cfg, path, &err), 0, "config: %s", err.msg);
    t->ctx.cfg = t->cfg;
}

static void prepare(tprov *t)
{
    json_decref(t->ctx.outputs);
    json_decref(t->ctx.secrets);
    t->ctx.outputs = NULL;
    t->ctx.secrets = NULL;
    sf_error_clear(&t->ctx.err);
    sf_buf_clear(&t->name);
    if (t->p->name(&t->name, &t->ctx) == 0)
        t->ctx.name = t->name.ptr;
    else
        t->ctx.name = NULL;
}

int tp_create(tprov *t)
{
    prepare(t);
    if (t->p->validate) {
        int rc = t->p->validate(&t->ctx);
        if (rc < 0)
            return rc;
    }
    if (t->p->prepare) {
        int rc = t->p->prepare(&t->ctx);
        if (rc < 0)
            return rc;
    }
    return t->p->create(&t->ctx);
}

int tp_destroy(tprov *t)
{
    prepare(t);
    return t->p->destroy(&t->ctx);
}

int tp_check(tprov *t)
{
    prepare(t);
    return t->p->check(&t->ctx);
}

void tp_keep_outputs(tprov *t)
{
    cr_assert_not_null(t->ctx.outputs, "no outputs to keep");
    json_decref(t->ctx.prior_outputs);
    t->ctx.prior_outputs = json_deep_copy(t->ctx.outputs);
}

const char *tp_out(tprov *t, const char *name)
{
    json_t *v = t->ctx.outputs ? json_object_get(t->ctx.outputs, name) : NULL;
    cr_assert(json_is_string(v), "output '%s' missing", name);
    return json_string_value(v);
}

void tp_free(tprov *t)
{
    json_decref(t->ctx.spec);
    json_decref(t->ctx.prior_outputs);
    json_decref(t->ctx.outputs);
    json_decref(t->ctx.secrets);
    sf_config_free(t->cfg);
    sf_buf_free(&t->name);
}

void tp_proxy_start(tproxy *p, const char *upstream_url, const char *const *args)
{
    const char *build = tp_env("STAGEFORK_BUILD");
    char bin[512], up[128], portbuf[32] = "";
    const char *argv[64];
    int fds[2], n = 0;
    const char *hp = strstr(upstream_url, "://");
    pid_t pid;
    ssize_t got = 0;
    static int seq;
    memset(p, 0, sizeof(*p));
    snprintf(bin, sizeof(bin), "%s/tools/faultproxy", build);
    snprintf(up, sizeof(up), "%s", hp ? hp + 3 : upstream_url);
    up[strcspn(up, "/")] = '\0';
    snprintf(p->log, sizeof(p->log), "%s/proxy-%ld-%d.log", tp_tmpdir(), (long)getpid(), ++seq);
    argv[n++] = bin;
    argv[n++] = "--upstream";
    argv[n++] = up;
    argv[n++] = "--log";
    argv[n++] = p->log;
    argv[n++] = "--max-seconds";
    argv[n++] = "300";
    for (size_t i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    while (got < (ssize_t)sizeof(portbuf) - 1) {
        ssize_t r = read(fds[0], portbuf + got, sizeof(portbuf) - 1 - (size_t)got);
        if (r <= 0)
            break;
        got += r;
        if (strchr(portbuf, '\n'))
            break;
    }
    close(fds[0]);
    p->pid = pid;
    p->port = atoi(portbuf);
    cr_assert_gt(p->port, 0, "faultproxy did not start (%s)", bin);
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
}

void tp_proxy_stop(tproxy *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

int tp_proxy_count(const tproxy *p, const char *what)
{
    FILE *f = fopen(p->log, "r");
    char line[1024];
    int n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, what))
            n++;
    fclose(f);
    return n;
}
