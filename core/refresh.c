/* `refresh BRANCH`: new databases from the newest snapshot, swapped in under the env's lock. */
#include <stdlib.h>
#include <string.h>
#include "env_impl.h"
#include "providers/postgres.h"
#include "stagefork/refresh.h"
#include "stagefork/template.h"
#include "stagefork/util.h"

/* The directory of the env's template (relative spec paths resolve there); NULL if it cannot be found. */
static char *template_dir(sf_engine *e, const json_t *rec)
{
    const char *ref = sf_rec_str(rec, "template_ref");
    sf_buf path = SF_BUF_INIT;
    char *dir = NULL, *sl;
    sf_error err;
    if (ref && sf_template_find(&path, ref, e->cfg, &err) == 0) {
        char *abs = realpath(path.ptr, NULL);
        dir = abs ? abs : sf_buf_detach(&path, NULL);
        if ((sl = strrchr(dir, '/')))
            *(sl == dir ? sl + 1 : sl) = '\0';
    }
    sf_buf_free(&path);
    return dir;
}

/* Refresh one recorded resource; *rep gets its report. */
static int refresh_one(sf_engine *e, json_t *rec, json_t *res, const sf_env_info *info, const char *base_dir,
                       const char *snapshot, json_t **rep, sf_error *err)
{
    json_t *outputs = json_object_get(res, "outputs"), *spec = NULL;
    struct sf_final f = {rec, json_is_object(outputs) ? outputs : NULL, 0};
    sf_resource_ctx ctx;
    int rc;
    *rep = NULL;
    if ((rc = sf_interp_final(&spec, json_object_get(res, "spec"), sf_final_resolve, &f, err)) < 0)
        return rc;
    if (!snapshot && !json_is_string(json_object_get(json_object_get(spec, "from"), "snapshot"))) {
        json_decref(spec);
        return SF_ENOTFOUND; /* not built from a snapshot: nothing to refresh */
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.type = sf_rec_str(res, "type");
    ctx.resource = sf_rec_str(res, "name");
    ctx.env = info;
    ctx.cfg = e->cfg;
    ctx.spec = spec;
    ctx.prior_outputs = outputs;
    ctx.name = sf_rec_str(res, "physical");
    ctx.base_dir = base_dir;
    ctx.cancel = e->cancel;
    rc = sf_postgres_refresh(&ctx, snapshot, rep);
    if (rc < 0)
        sf_error_copy(err, &ctx.err);
    json_decref(ctx.outputs);
    json_decref(ctx.secrets);
    json_decref(spec);
    return rc;
}

/*
 * See refresh.h. Holds the env lock for the whole run; each database is refreshed and recorded in the audit
 * log before the next one starts.
 */
int sf_env_refresh(json_t **out, sf_engine *e, const char *branch, const char *snapshot)
{
    struct sf_env_names names;
    struct sf_env_ctx ectx;
    sf_lock *lock = NULL;
    json_t *rec = NULL, *reports = NULL, *res;
    char *base_dir = NULL;
    double worst = 0;
    size_t i;
    int rc, ectx_ok = 0;

    *out = NULL;
    sf_error_clear(&e->err);
    memset(&ectx, 0, sizeof(ectx));
    if ((rc = sf_env_names_init(&names, branch, &e->err)) < 0)
        return rc;
    if ((rc = sf_state_lock(&lock, e->st, names.slug.ptr, e->lock_timeout, &e->err)) < 0)
        goto out;
    rc = sf_rec_load(&rec, e, branch, names.slug.ptr, 1, &e->err);
    if (rc == 0 && !strcmp(sf_rec_str(rec, "status") ? sf_rec_str(rec, "status") : "", "deleted"))
        rc = SF_ENOTFOUND;
    if (rc == SF_ENOTFOUND)
        sf_error_set(&e->err, SF_ENOTFOUND, "no environment for branch '%s'", branch);
    if (rc < 0)
        goto out;
    if (sf_rec_str(rec, "expires_at")) {
        rc = sf_error_set(&e->err, SF_EUSAGE,
                          "refresh is for persistent environments (ttl: none); '%s' expires at %s — "
                          "run `stagefork up %s --recreate` instead",
                          branch, sf_rec_str(rec, "expires_at"), branch);
        goto out;
    }
    if (strcmp(sf_rec_str(rec, "status") ? sf_rec_str(rec, "status") : "", "ready") != 0) {
        rc = sf_error_set(&e->err, SF_EUSAGE, "environment '%s' is %s; run `stagefork up %s` first", branch,
                          sf_rec_str(rec, "status") ? sf_rec_str(rec, "status") : "not ready", branch);
        goto out;
    }
    if ((rc = sf_env_ctx_init(&ectx, e, rec, 1, &e->err)) < 0)
        goto out;
    ectx_ok = 1;
    base_dir = template_dir(e, rec);
    if (!(reports = json_array())) {
        rc = sf_error_set(&e->err, SF_ENOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(json_object_get(rec, "resources"), i, res)
    {
        json_t *rep = NULL;
        sf_error err = {0};
        char detail[512];
        const char *type = sf_rec_str(res, "type");
        if (!type || strcmp(type, "postgres.database") != 0 || !sf_rec_str(res, "status") ||
            strcmp(sf_rec_str(res, "status"), "ready") != 0)
            continue;
        rc = refresh_one(e, rec, res, &ectx.info, base_dir, snapshot, &rep, &err);
        if (rc == SF_ENOTFOUND && !err.code)
            continue;
        if (rc < 0) {
            sf_error_copy(&e->err, &err);
            sf_error_prefix(&e->err, "refresh '%s'", sf_rec_str(res, "name"));
            pthread_mutex_lock(&e->mu);
            sf_rec_save(e, rec, "refresh", sf_rec_str(res, "name"), "failed", e->err.msg, &err);
            pthread_mutex_unlock(&e->mu);
            goto out;
        }
        json_object_set_new(rep, "name", json_string(sf_rec_str(res, "name")));
        json_object_set(res, "snapshot", json_object_get(rep, "snapshot"));
        if (json_real_value(json_object_get(rep, "downtime_ms")) > worst)
            worst = json_real_value(json_object_get(rep, "downtime_ms"));
        snprintf(detail, sizeof(detail), "%s via %s, downtime %.0f ms",
                 json_string_value(json_object_get(rep, "snapshot")),
                 json_string_value(json_object_get(rep, "template")),
                 json_real_value(json_object_get(rep, "downtime_ms")));
        json_array_append_new(reports, rep);
        pthread_mutex_lock(&e->mu);
        rc = sf_rec_save(e, rec, "refresh", sf_rec_str(res, "name"), "refreshed", detail, &e->err);
        pthread_mutex_unlock(&e->mu);
        if (rc < 0)
            goto out;
    }
    if (json_array_size(reports) == 0) {
        rc = sf_error_set(&e->err, SF_EUSAGE,
                          "environment '%s' has no postgres.database built from a snapshot; nothing to refresh",
                          branch);
        goto out;
    }
    *out = json_pack("{s:s, s:s, s:O, s:f}", "branch", branch, "slug", names.slug.ptr, "resources", reports,
                     "downtime_ms", worst);
    rc = *out ? 0 : sf_error_set(&e->err, SF_ENOMEM, "out of memory");
out:
    if (ectx_ok)
        sf_env_ctx_free(&ectx);
    free(base_dir);
    json_decref(reports);
    json_decref(rec);
    sf_lock_free(lock);
    sf_env_names_free(&names);
    return rc;
}
