/* The state interface: backend choice, serialization, audit events, local files dir. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "state_impl.h"
#include "stagefork/util.h"

int sf_state_check_slug(const char *slug, sf_error *err)
{
    size_t n = strlen(slug);
    if (n == 0 || n > 64 || strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        return sf_error_set(err, SF_EUSAGE, "invalid environment slug '%s'", slug);
    return 0;
}

int sf_state_mkdirs(const char *path, mode_t mode, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc = 0;
    if (sf_buf_sets(&b, path) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 1; i <= b.len; i++) {
        if (i < b.len && b.ptr[i] != '/')
            continue;
        b.ptr[i] = '\0';
        if (mkdir(b.ptr, mode) != 0 && errno != EEXIST) {
            rc = sf_error_set(err, SF_EIO, "cannot create directory '%s': %s", b.ptr, strerror(errno));
            break;
        }
        if (i < b.len)
            b.ptr[i] = '/';
    }
    sf_buf_free(&b);
    return rc;
}

int sf_state_default_dir(sf_buf *out, sf_error *err)
{
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    sf_buf_clear(out);
    if (x && x[0] == '/')
        return sf_buf_addf(out, "%s/stagefork", x) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
    if (!home || !*home)
        return sf_error_set(err, SF_EUSAGE, "cannot find a state directory: neither $XDG_STATE_HOME nor $HOME is "
                                             "set (use --state or $STAGEFORK_STATE)");
    return sf_buf_addf(out, "%s/.local/state/stagefork", home) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

int sf_state_resolve(sf_buf *out, const char *url, const sf_config *cfg, sf_error *err)
{
    const char *env = getenv("STAGEFORK_STATE"), *c = cfg ? sf_config_state(cfg) : NULL;
    if (url && *url)
        return sf_buf_sets(out, url) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
    if (env && *env)
        return sf_buf_sets(out, env) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
    if (c && *c) /* may use ${envvar.X} like any config value */
        return sf_config_get(out, cfg, "state", err);
    return sf_state_default_dir(out, err);
}

static int is_pg_url(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

int sf_state_open(sf_state **out, const char *url, sf_error *err)
{
    sf_state *st = calloc(1, sizeof(*st));
    int rc;
    *out = NULL;
    if (!st)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pthread_mutex_init(&st->mu, NULL);
    rc = is_pg_url(url) ? sf_state_pg_open(st, url, err) : sf_state_dir_open(st, url, err);
    if (rc < 0) {
        sf_state_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void sf_state_free(sf_state *st)
{
    if (!st)
        return;
    if (st->ops && st->impl)
        st->ops->close(st);
    free(st->local);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

const char *sf_state_kind(const sf_state *st) { return st->ops->kind; }

int sf_state_lock(sf_lock **out, sf_state *st, const char *slug, double timeout, sf_error *err)
{
    sf_lock *lk;
    int rc;
    *out = NULL;
    if ((rc = sf_state_check_slug(slug, err)) < 0)
        return rc;
    if (!(lk = calloc(1, sizeof(*lk))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    lk->st = st;
    /* not under st->mu: waiting for one env must not block others */
    if ((rc = st->ops->lock(st, slug, timeout, &lk->handle, err)) < 0) {
        free(lk);
        return rc;
    }
    *out = lk;
    return 0;
}

void sf_lock_free(sf_lock *lk)
{
    if (!lk)
        return;
    lk->st->ops->unlock(lk->handle);
    free(lk);
}

int sf_state_get(json_t **out, sf_state *st, const char *slug, sf_error *err)
{
    int rc;
    *out = NULL;
    if ((rc = sf_state_check_slug(slug, err)) < 0)
        return rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->get(st, slug, out, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sf_state_put(sf_state *st, const char *slug, const json_t *rec, const json_t *ev, sf_error *err)
{
    int rc;
    if ((rc = sf_state_check_slug(slug, err)) < 0)
        return rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->put(st, slug, rec, ev, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sf_state_list(json_t **out, sf_state *st, sf_error *err)
{
    int rc;
    *out = NULL;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->list(st, out, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sf_state_event(sf_state *st, const json_t *ev, sf_error *err)
{
    int rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->event(st, ev, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sf_state_events(json_t **out, sf_state *st, const char *slug, size_t max, sf_error *err)
{
    int rc;
    *out = NULL;
    if ((rc = sf_state_check_slug(slug, err)) < 0)
        return rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->events(st, slug, max, out, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* Keys are checked like slugs (they become file names); serialized like every other call. */
int sf_state_meta_put(sf_state *st, const char *key, const json_t *val, sf_error *err)
{
    int rc;
    if ((rc = sf_state_check_slug(key, err)) < 0)
        return rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->meta_put(st, key, val, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* *out is a new reference, NULL unless found. */
int sf_state_meta_get(json_t **out, sf_state *st, const char *key, sf_error *err)
{
    int rc;
    *out = NULL;
    if ((rc = sf_state_check_slug(key, err)) < 0)
        return rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->meta_get(st, key, out, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

json_t *sf_state_event_new(const char *verb, const char *env, const char *resource, const char *result,
                           const char *detail)
{
    char when[SF_TIME_LEN];
    const char *user = getenv("USER"), *ci = getenv("CI_JOB_ID");
    json_t *ev;
    if (!ci || !*ci)
        ci = getenv("GITHUB_RUN_ID");
    sf_time_format(when, sf_now());
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", when, "actor", user && *user ? user : "unknown", "verb",
                   verb, "env", env, "result", result);
    if (!ev)
        return NULL;
    if ((ci && *ci && json_object_set_new(ev, "ci_job", json_string(ci)) < 0) ||
        (resource && json_object_set_new(ev, "resource", json_string(resource)) < 0) ||
        (detail && json_object_set_new(ev, "detail", json_string(detail)) < 0)) {
        json_decref(ev);
        return NULL;
    }
    return ev;
}

int sf_state_files_dir(sf_buf *out, const sf_state *st, const char *slug, int create, sf_error *err)
{
    int rc;
    if ((rc = sf_state_check_slug(slug, err)) < 0)
        return rc;
    sf_buf_clear(out);
    if (sf_buf_addf(out, "%s/files/%s", st->local, slug) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return create ? sf_state_mkdirs(out->ptr, 0700, err) : 0;
}
