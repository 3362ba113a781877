/* `down`: destroy every resource in reverse dependency order, each independently. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "env_impl.h"

#define DESTROY_ATTEMPTS 3

struct down_run {
    sf_engine *e;
    json_t *rec;
    json_t **res;
    const sf_env_info *info;
};

static int down_task(void *ud, size_t i)
{
    struct down_run *d = ud;
    const char *st;
    sf_error err = {0};
    int rc;
    pthread_mutex_lock(&d->e->mu);
    st = sf_rec_str(d->res[i], "status");
    rc = st && !strcmp(st, "deleted");
    pthread_mutex_unlock(&d->e->mu);
    if (rc)
        return 0;
    rc = sf_destroy_resource(d->e, d->rec, d->res[i], d->info, "down", DESTROY_ATTEMPTS, &err);
    if (rc < 0)
        sf_log(SF_LOG_ERROR, "%s", err.msg);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        sf_log(SF_LOG_WARN, "cannot remove '%s'", path);
    return 0;
}

/* The env's local files (provider logs) go with it. */
static void remove_files_dir(const char *dir)
{
    if (access(dir, F_OK) == 0)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* env.h; the unconditional form of sf_env_down_if. */
int sf_env_down(json_t **out, sf_engine *e, const char *branch, int force)
{
    return sf_env_down_if(out, e, branch, force, NULL);
}

/* env.h / env_impl.h: cond (may be NULL) is asked under the lock, before anything is written. */
int sf_env_down_if(json_t **out, sf_engine *e, const char *branch, int force, struct sf_env_cond *cond)
{
    struct sf_env_names names;
    struct sf_env_ctx ectx;
    sf_lock *lock = NULL;
    json_t *rec = NULL, *arr;
    json_t **res = NULL;
    int *results = NULL;
    sf_graph *g = NULL;
    size_t n, i;
    sf_buf left = SF_BUF_INIT;
    int rc, nleft = 0;

    *out = NULL;
    memset(&ectx, 0, sizeof(ectx));
    sf_error_clear(&e->err);
    if ((rc = sf_env_names_init(&names, branch, &e->err)) < 0)
        return rc;
    if ((rc = sf_state_lock(&lock, e->st, names.slug.ptr, e->lock_timeout, &e->err)) < 0)
        goto out;
    rc = sf_rec_load(&rec, e, branch, names.slug.ptr, 1, &e->err);
    if (rc == SF_ENOTFOUND) { /* nothing to tear down is success */
        sf_error_clear(&e->err);
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (cond && !cond->fn(rec, cond->ud)) {
        cond->skipped = 1;
        goto out;
    }
    if (!strcmp(sf_rec_str(rec, "status"), "deleted")) {
        *out = json_incref(rec);
        goto out;
    }
    json_object_set_new(rec, "status", json_string("deleting"));
    json_object_set_new(rec, "error", json_null());
    if ((rc = sf_rec_save(e, rec, "down", NULL, "deleting", NULL, &e->err)) < 0)
        goto out;
    if ((rc = sf_env_ctx_init(&ectx, e, rec, 1, &e->err)) < 0)
        goto out;

    arr = json_object_get(rec, "resources");
    n = json_array_size(arr);
    res = calloc(n + 1, sizeof(*res));
    results = calloc(n + 1, sizeof(*results));
    if (!res || !results || sf_graph_new(&g, n) < 0) {
        rc = sf_error_set(&e->err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++)
        res[i] = json_array_get(arr, i);
    for (i = 0; i < n; i++) {
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(res[i], "depends_on"), k, d)
        {
            for (size_t j = 0; j < n; j++)
                if (j != i && json_is_string(d) && sf_rec_str(res[j], "name") &&
                    !strcmp(json_string_value(d), sf_rec_str(res[j], "name")))
                    sf_graph_add_dep(g, i, j);
        }
    }
    {
        struct down_run d = {e, rec, res, &ectx.info};
        /* no STOP_ON_ERROR: one resource failing must not keep the others alive */
        sf_sched_run(g, SF_SCHED_REVERSE, e->parallel, down_task, &d, NULL, results);
    }
    pthread_mutex_lock(&e->mu);
    for (i = 0; i < n; i++) {
        const char *st = sf_rec_str(res[i], "status");
        if (!st || strcmp(st, "deleted") != 0) {
            nleft++;
            sf_buf_addf(&left, "%s%s (%s)", left.len ? ", " : "", sf_rec_str(res[i], "name"),
                        sf_rec_str(res[i], "physical") ? sf_rec_str(res[i], "physical") : "?");
        }
    }
    if (nleft == 0 || force) {
        json_object_set_new(rec, "status", json_string("deleted"));
        json_object_set_new(rec, "secrets", json_object());
        json_object_set_new(rec, "outputs", json_object());
        json_object_set_new(rec, "secret_outputs", json_array());
        if (nleft) {
            sf_buf msg = SF_BUF_INIT;
            sf_buf_addf(&msg, "forced: %d resource%s could not be removed and may remain: %s", nleft,
                        nleft == 1 ? "" : "s", left.ptr);
            json_object_set_new(rec, "error", sf_json_text(msg.ptr));
            sf_log(SF_LOG_WARN, "%s (the state record is dropped anyway; `stagefork gc --orphans` finds leftovers by "
                                "prefix)", msg.ptr);
            rc = sf_rec_save(e, rec, "down", NULL, "deleted", msg.ptr, &e->err);
            sf_buf_free(&msg);
        } else {
            rc = sf_rec_save(e, rec, "down", NULL, "deleted", NULL, &e->err);
        }
        if (rc == 0)
            remove_files_dir(ectx.files.ptr);
    } else {
        sf_error serr;
        sf_error_set(&e->err, SF_EINCOMPLETE,
                     "teardown of '%s' incomplete: %d resource%s could not be removed: %s (the state keeps them; run "
                     "`stagefork down` again)",
                     branch, nleft, nleft == 1 ? "" : "s", left.ptr);
        json_object_set_new(rec, "error", sf_json_text(e->err.msg));
        if (sf_rec_save(e, rec, "down", NULL, "incomplete", e->err.msg, &serr) < 0)
            sf_log(SF_LOG_ERROR, "%s", serr.msg);
        rc = SF_EINCOMPLETE;
    }
    pthread_mutex_unlock(&e->mu);
    *out = json_incref(rec);
out:
    sf_env_ctx_free(&ectx);
    sf_buf_free(&left);
    free(res);
    free(results);
    sf_graph_free(g);
    json_decref(rec);
    sf_lock_free(lock);
    sf_env_names_free(&names);
    return rc;
}
