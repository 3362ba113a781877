/* `up`: create an environment or reconcile it with its template, intent first. */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "env_impl.h"
#include "stagefork/util.h"

struct up_run {
    sf_engine *e;
    json_t *rec;
    struct sf_analysis *a;
    const sf_up_opts *o;
    struct sf_env_ctx ectx;
    double deadline;
    char *base_dir; /* the template's directory: relative paths in specs (sql, seed_spec) resolve here */
    sf_error first; /* first failure, under e->mu */
};

struct cp_ctx {
    struct up_run *u;
    const char *name;
};

static void note_failure(struct up_run *u, const sf_error *err)
{
    pthread_mutex_lock(&u->e->mu);
    if (!u->first.code)
        sf_error_copy(&u->first, err);
    pthread_mutex_unlock(&u->e->mu);
}

/* Merge src's members into dst (both objects; src may be NULL). */
static int merge_into(json_t *dst, const json_t *src)
{
    return json_is_object(src) ? json_object_update(dst, (json_t *)src) : 0;
}

static int union_names(json_t *dst, const json_t *src)
{
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(src, i, v)
    {
        int have = 0;
        json_array_foreach(dst, j, w) have |= json_equal(v, w);
        if (!have && json_array_append(dst, v) < 0)
            return SF_ENOMEM;
    }
    return 0;
}

/* Engine side of sf_resource_checkpoint(): persist the outputs a provider has so far. */
static int checkpoint_cb(sf_resource_ctx *ctx)
{
    struct cp_ctx *c = ctx->engine;
    struct up_run *u = c->u;
    json_t *res;
    int rc = 0;
    pthread_mutex_lock(&u->e->mu);
    res = sf_rec_resource(u->rec, c->name);
    if (res && ctx->outputs) {
        json_t *outs = json_object_get(res, "outputs"), *sec = json_object_get(res, "secret_outputs");
        if (!json_is_object(outs))
            json_object_set_new(res, "outputs", outs = json_object());
        if (!json_is_array(sec))
            json_object_set_new(res, "secret_outputs", sec = json_array());
        if (merge_into(outs, ctx->outputs) < 0 || (ctx->secrets && union_names(sec, ctx->secrets) < 0))
            rc = sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
        else
            rc = sf_rec_save(u->e, u->rec, "up", c->name, "checkpoint", NULL, &ctx->err);
    }
    pthread_mutex_unlock(&u->e->mu);
    return rc;
}

/* Remove resource `name` from the record (caller holds e->mu). */
static void rec_drop_resource(json_t *rec, const char *name)
{
    json_t *arr = json_object_get(rec, "resources");
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        const char *n = sf_rec_str(r, "name");
        if (n && strcmp(n, name) == 0) {
            json_array_remove(arr, i);
            return;
        }
    }
}

static json_t *self_refs_of(const json_t *sealed);

/* The directory holding the template file, absolute when it can be resolved. */
static char *template_dir(const char *path)
{
    const char *sl = path ? strrchr(path, '/') : NULL;
    char *dir = sl ? strndup(path, sl == path ? 1 : (size_t)(sl - path)) : strdup(".");
    char *abs = dir ? realpath(dir, NULL) : NULL;
    if (abs) {
        free(dir);
        return abs;
    }
    return dir;
}

/* Render, name, and decide for resource i; then destroy/create as needed. */
static int up_task(void *ud, size_t i)
{
    struct up_run *u = ud;
    sf_engine *e = u->e;
    struct sf_ares *ar = &u->a->res[i];
    const char *name = ar->r->name;
    struct sf_resolver rv = {u->a, u->rec, (int)i, NULL, 0, 0};
    json_t *sealed = NULL, *prior = NULL, *spec = NULL, *self_refs = NULL, *deps = NULL, *existing;
    sf_resource_ctx ctx;
    struct cp_ctx cp = {u, name};
    sf_buf phys = SF_BUF_INIT;
    sf_error err = {0};
    char hash[65];
    int rc, adopt = 0, replace = 0;

    memset(&ctx, 0, sizeof(ctx));
    ctx.type = ar->r->type;
    ctx.resource = name;
    ctx.env = &u->ectx.info;
    ctx.cfg = e->cfg;
    ctx.deadline = u->deadline;
    ctx.cancel = e->cancel;
    ctx.checkpoint = checkpoint_cb;
    ctx.engine = &cp;
    ctx.base_dir = u->base_dir;

    pthread_mutex_lock(&e->mu);
    rc = sf_interp_seal(&sealed, ar->r->with, sf_seal_resolve, &rv, &err);
    free(rv.deps);
    if (rc == 0 && sf_spec_hash(hash, sealed, ar->r->type, u->rec) < 0)
        rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
    existing = rc == 0 ? sf_rec_resource(u->rec, name) : NULL;
    if (existing) {
        const char *st = sf_rec_str(existing, "status");
        st = st ? st : "";
        if (!strcmp(st, "deleted")) {
            rec_drop_resource(u->rec, name);
            existing = NULL;
        } else if (u->o->recreate || !sf_rec_str(existing, "hash") || strcmp(sf_rec_str(existing, "hash"), hash) ||
                   strcmp(sf_rec_str(existing, "type") ? sf_rec_str(existing, "type") : "", ar->r->type) ||
                   !strcmp(st, "deleting")) {
            replace = 1;
        } else {
            prior = json_deep_copy(json_is_object(json_object_get(existing, "outputs"))
                                       ? json_object_get(existing, "outputs")
                                       : json_object());
            adopt = strcmp(st, "ready") != 0 ? 1 : 2; /* 1: finish a create; 2: keep if it still exists */
        }
    }
    if (rc == 0) {
        struct sf_final f = {u->rec, prior, 0};
        rc = sf_interp_final(&spec, sealed, sf_final_resolve, &f, &err);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc < 0)
        goto fail;
    ctx.spec = spec;
    ctx.prior_outputs = prior;

    if (adopt == 2) {
        if (!ar->p->check)
            goto kept;
        if (sf_buf_sets(&phys, sf_rec_str(existing, "physical") ? sf_rec_str(existing, "physical") : "") < 0) {
            rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
            goto fail;
        }
        ctx.name = phys.ptr;
        rc = ar->p->check(&ctx);
        ctx.name = NULL;
        if (rc == 0)
            goto kept;
        if (rc != SF_ENOTFOUND)
            sf_log(SF_LOG_WARN, "resource '%s': check failed (%s); creating it again", name,
                   ctx.err.msg[0] ? ctx.err.msg : sf_strerror(rc));
        else
            sf_log(SF_LOG_INFO, "resource '%s' is gone; creating it again", name);
        sf_error_clear(&ctx.err);
    }

    if ((rc = sf_physical_name(&phys, ar->p, &ctx, &err)) < 0)
        goto fail;
    if (existing && !replace && strcmp(sf_rec_str(existing, "physical") ? sf_rec_str(existing, "physical") : "",
                                       phys.ptr) != 0)
        replace = 1;
    if (replace) {
        sf_log(SF_LOG_INFO, "replacing resource '%s' (%s)", name,
               u->o->recreate ? "--recreate" : "its rendered spec changed");
        if ((rc = sf_destroy_resource(e, u->rec, existing, &u->ectx.info, "up", 3, &err)) < 0)
            goto fail;
        pthread_mutex_lock(&e->mu);
        rec_drop_resource(u->rec, name);
        pthread_mutex_unlock(&e->mu);
        json_decref(prior);
        prior = NULL;
        ctx.prior_outputs = NULL;
    }

    /* intent first: the name is in the state before the provider is asked to create it */
    deps = json_array();
    for (size_t k = 0; deps && k < sf_graph_ndeps(u->a->g, i); k++)
        json_array_append_new(deps, json_string(u->a->res[sf_graph_dep(u->a->g, i, k)].r->name));
    pthread_mutex_lock(&e->mu);
    {
        json_t *entry = sf_rec_resource(u->rec, name);
        if (!entry) {
            entry = json_object();
            json_array_append_new(json_object_get(u->rec, "resources"), entry);
        }
        json_object_set_new(entry, "name", json_string(name));
        json_object_set_new(entry, "type", json_string(ar->r->type));
        sf_rec_set_str(entry, "physical", phys.ptr);
        json_object_set_new(entry, "status", json_string("creating"));
        json_object_set_new(entry, "hash", json_string(hash));
        json_object_set(entry, "spec", sealed);
        json_object_set(entry, "depends_on", deps);
        if (!json_is_object(json_object_get(entry, "outputs")))
            json_object_set_new(entry, "outputs", json_object());
        if (!json_is_array(json_object_get(entry, "secret_outputs")))
            json_object_set_new(entry, "secret_outputs", json_array());
        json_object_set_new(entry, "error", json_null());
        rc = sf_rec_save(e, u->rec, "up", name, "creating", phys.ptr, &err);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc < 0)
        goto fail;
    ctx.name = phys.ptr;
    self_refs = self_refs_of(sealed);
    ctx.self_refs = self_refs;

    if (ar->p->prepare) {
        if ((rc = ar->p->prepare(&ctx)) < 0) {
            sf_error_copy(&err, &ctx.err);
            if (!err.code)
                sf_error_set(&err, rc, "%s", sf_strerror(rc));
            sf_error_prefix(&err, "prepare %s '%s'", ar->r->type, name);
            goto fail_recorded;
        }
        if (ctx.outputs && json_object_size(ctx.outputs) && (rc = checkpoint_cb(&ctx)) < 0) {
            sf_error_copy(&err, &ctx.err);
            goto fail_recorded;
        }
    }
    {
        /* render again so ${self.X} sees what prepare produced (over what an earlier run recorded) */
        json_t *self = json_object(), *again = NULL;
        merge_into(self, prior);
        merge_into(self, ctx.outputs);
        pthread_mutex_lock(&e->mu);
        {
            struct sf_final f = {u->rec, self, 0};
            rc = sf_interp_final(&again, sealed, sf_final_resolve, &f, &err);
        }
        pthread_mutex_unlock(&e->mu);
        json_decref(self);
        if (rc < 0)
            goto fail_recorded;
        json_decref(spec);
        spec = again;
        ctx.spec = spec;
    }
    sf_log(SF_LOG_INFO, "creating %s '%s' (%s)", ar->r->type, name, phys.ptr);
    sf_error_clear(&ctx.err);
    rc = ar->p->create ? ar->p->create(&ctx) : 0;
    if (rc < 0) {
        if (ctx.err.code)
            sf_error_copy(&err, &ctx.err);
        else
            sf_error_set(&err, rc, "%s", sf_strerror(rc));
        sf_error_prefix(&err, "create %s '%s' (%s)", ar->r->type, name, phys.ptr);
        goto fail_recorded;
    }
    pthread_mutex_lock(&e->mu);
    {
        json_t *entry = sf_rec_resource(u->rec, name);
        json_t *outs = json_object_get(entry, "outputs"), *sec = json_object_get(entry, "secret_outputs");
        merge_into(outs, ctx.outputs);
        if (ctx.secrets)
            union_names(sec, ctx.secrets);
        json_object_set_new(entry, "status", json_string("ready"));
        rc = sf_rec_save(e, u->rec, "up", name, "ready", phys.ptr, &err);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc < 0)
        goto fail;
    goto out;

kept:
    rc = 0;
    goto out;
fail_recorded:
    pthread_mutex_lock(&e->mu);
    {
        json_t *entry = sf_rec_resource(u->rec, name);
        sf_error serr;
        if (entry) {
            /* keep what the provider reported so far: destroy may need it */
            if (ctx.outputs)
                merge_into(json_object_get(entry, "outputs"), ctx.outputs);
            if (ctx.secrets)
                union_names(json_object_get(entry, "secret_outputs"), ctx.secrets);
            json_object_set_new(entry, "status", json_string("failed"));
            json_object_set_new(entry, "error", sf_json_text(err.msg));
            if (sf_rec_save(e, u->rec, "up", name, "failed", err.msg, &serr) < 0)
                sf_log(SF_LOG_ERROR, "%s", serr.msg);
        }
    }
    pthread_mutex_unlock(&e->mu);
fail:
    if (rc >= 0)
        rc = err.code ? err.code : SF_EINTERNAL;
    note_failure(u, &err);
out:
    json_decref(ctx.outputs);
    json_decref(ctx.secrets);
    json_decref(sealed);
    json_decref(prior);
    json_decref(spec);
    json_decref(self_refs);
    json_decref(deps);
    sf_buf_free(&phys);
    return rc;
}

static int collect_self(void *ud, const sf_ref *ref)
{
    json_t *arr = ud;
    size_t i;
    json_t *v;
    if (ref->kind != SF_REF_SELF)
        return 0;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), ref->name)) return 0;
    json_array_append_new(arr, json_string(ref->name));
    return 0;
}

static json_t *self_refs_of(const json_t *sealed)
{
    json_t *arr = json_array();
    if (arr)
        sf_interp_each_ref(sealed, collect_self, arr);
    return arr;
}

/* Phase 1: destroy recorded resources the template no longer has (or all, with --recreate). */
struct rm_run {
    struct up_run *u;
    json_t **res;
    int *results;
};

static int rm_task(void *ud, size_t i)
{
    struct rm_run *r = ud;
    sf_error err = {0};
    int rc = sf_destroy_resource(r->u->e, r->u->rec, r->res[i], &r->u->ectx.info, "up", 3, &err);
    if (rc < 0)
        note_failure(r->u, &err);
    return rc;
}

static int remove_stale(struct up_run *u, sf_error *err)
{
    json_t *arr = json_object_get(u->rec, "resources"), *r;
    json_t **stale = NULL;
    size_t n = 0, i;
    sf_graph *g = NULL;
    int *results = NULL, rc = 0;

    pthread_mutex_lock(&u->e->mu);
    /* records left as `deleted` by an earlier down are history: drop them */
    for (i = json_array_size(arr); i-- > 0;) {
        const char *st = sf_rec_str(json_array_get(arr, i), "status");
        if (st && !strcmp(st, "deleted"))
            json_array_remove(arr, i);
    }
    stale = calloc(json_array_size(arr) + 1, sizeof(*stale));
    json_array_foreach(arr, i, r)
    {
        const char *name = sf_rec_str(r, "name"), *type = sf_rec_str(r, "type");
        int idx = name ? sf_analysis_index(u->a, name) : -1;
        if (stale && (idx < 0 || !type || strcmp(type, u->a->res[idx].r->type) != 0))
            stale[n++] = json_incref(r);
    }
    pthread_mutex_unlock(&u->e->mu);
    if (!stale)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (n == 0)
        goto out;
    if (sf_graph_new(&g, n) < 0 || !(results = calloc(n, sizeof(*results)))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(stale[i], "depends_on"), k, d)
        {
            for (size_t j = 0; j < n; j++)
                if (j != i && json_is_string(d) && !strcmp(json_string_value(d), sf_rec_str(stale[j], "name")))
                    sf_graph_add_dep(g, i, j);
        }
    }
    {
        struct rm_run rr = {u, stale, results};
        rc = sf_sched_run(g, SF_SCHED_REVERSE, u->e->parallel, rm_task, &rr, u->e->cancel, results);
    }
    pthread_mutex_lock(&u->e->mu);
    for (i = 0; i < n; i++)
        if (results[i] == 0)
            rec_drop_resource(u->rec, sf_rec_str(stale[i], "name"));
    pthread_mutex_unlock(&u->e->mu);
    if (rc < 0)
        sf_error_copy(err, &u->first);
out:
    for (i = 0; i < n; i++)
        json_decref(stale[i]);
    free(stale);
    free(results);
    sf_graph_free(g);
    return rc;
}

/* Which template outputs are secret: those that refer to a secret or a secret resource output. */
struct secret_scan {
    const json_t *rec;
    int secret;
};

static int scan_secret(void *ud, const sf_ref *ref)
{
    struct secret_scan *s = ud;
    if (ref->kind == SF_REF_SECRET ||
        (ref->kind == SF_REF_RES && sf_rec_is_secret_output(sf_rec_resource(s->rec, ref->head), ref->name)))
        s->secret = 1;
    return 0;
}

static int seal_outputs(struct up_run *u, sf_error *err)
{
    json_t *outs = json_object(), *sec = json_array();
    int rc = 0;
    if (!outs || !sec) {
        json_decref(outs);
        json_decref(sec);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < u->a->tpl->nouts; i++) {
        struct sf_resolver rv = {u->a, u->rec, -1, NULL, 0, 0};
        struct secret_scan s = {u->rec, 0};
        json_t *v;
        if ((rc = sf_interp_seal(&v, u->a->tpl->outs[i].value, sf_seal_resolve, &rv, err)) < 0)
            break;
        sf_interp_each_ref(v, scan_secret, &s);
        json_object_set_new(outs, u->a->tpl->outs[i].name, v);
        if (s.secret)
            json_array_append_new(sec, json_string(u->a->tpl->outs[i].name));
    }
    if (rc < 0) {
        json_decref(outs);
        json_decref(sec);
        return rc;
    }
    json_object_set_new(u->rec, "outputs", outs);
    json_object_set_new(u->rec, "secret_outputs", sec);
    return 0;
}

/* Keep the record's resources in the template's creation order (leftovers last). */
static void reorder_resources(json_t *rec, const struct sf_analysis *a)
{
    json_t *old = json_object_get(rec, "resources"), *sorted = json_array(), *r;
    size_t i;
    if (!sorted)
        return;
    for (size_t k = 0; k < a->n; k++)
        if ((r = sf_rec_resource(rec, a->res[a->order[k]].r->name)))
            json_array_append(sorted, r);
    json_array_foreach(old, i, r)
    {
        const char *n = sf_rec_str(r, "name");
        if (!n || sf_analysis_index(a, n) < 0)
            json_array_append(sorted, r);
    }
    json_object_set_new(rec, "resources", sorted);
}

static int count_live(sf_engine *e, const char *slug, long long *count, sf_error *err)
{
    json_t *all, *r;
    size_t i;
    int rc = sf_state_list(&all, e->st, err);
    if (rc < 0)
        return rc;
    *count = 0;
    json_array_foreach(all, i, r)
    {
        const char *st = sf_rec_str(r, "status"), *s = sf_rec_str(r, "slug");
        if (st && strcmp(st, "deleted") != 0 && s && strcmp(s, slug) != 0)
            (*count)++;
    }
    json_decref(all);
    return 0;
}

static json_t *new_record(const char *branch, const struct sf_env_names *names, sf_error *err)
{
    unsigned char raw[16];
    char id[33];
    json_t *rec;
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        sf_error_set(err, SF_ECRYPTO, "cannot generate an environment id: RAND_bytes failed");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:n}", "version", SF_RECORD_VERSION, "branch",
                    branch, "slug", names->slug.ptr, "ident", names->ident.ptr, "id", id, "set", json_object(),
                    "secrets", json_object(), "resources", json_array(), "outputs", json_object(), "secret_outputs",
                    json_array(), "error");
    if (!rec || sf_rec_set_time(rec, "created_at", sf_now()) < 0) {
        json_decref(rec);
        sf_error_set(err, SF_ENOMEM, "out of memory");
        return NULL;
    }
    return rec;
}

/* The env's --set values: earlier ones, overridden by this run's. */
static json_t *merged_set(const json_t *rec, const sf_up_opts *o)
{
    json_t *set = json_is_object(json_object_get(rec, "set")) ? json_deep_copy(json_object_get(rec, "set"))
                                                                : json_object();
    for (size_t i = 0; set && i < o->nset; i++) {
        const char *eq = strchr(o->set[i], '=');
        char *k;
        if (!eq)
            continue;
        if (!(k = strndup(o->set[i], (size_t)(eq - o->set[i])))) {
            json_decref(set);
            return NULL;
        }
        json_object_set_new(set, k, sf_json_text(eq + 1));
        free(k);
    }
    return set;
}

/* env.h; the unconditional form of sf_env_up_if. */
int sf_env_up(json_t **out, sf_engine *e, const char *branch, const sf_up_opts *o)
{
    return sf_env_up_if(out, e, branch, o, NULL);
}

/* env.h / env_impl.h: cond (may be NULL) is asked under the lock, before the template is even loaded. */
int sf_env_up_if(json_t **out, sf_engine *e, const char *branch, const sf_up_opts *o, struct sf_env_cond *cond)
{
    struct sf_env_names names;
    struct sf_analysis a;
    struct up_run u;
    sf_lock *lock = NULL;
    json_t *rec = NULL, *set = NULL;
    const char *ref;
    int64_t expires;
    int rc, fresh = 0, saved = 0;
    int *results = NULL;

    *out = NULL;
    memset(&a, 0, sizeof(a));
    memset(&u, 0, sizeof(u));
    sf_error_clear(&e->err);
    if ((rc = sf_env_names_init(&names, branch, &e->err)) < 0)
        return rc;
    if ((rc = sf_state_lock(&lock, e->st, names.slug.ptr, e->lock_timeout, &e->err)) < 0)
        goto out;
    rc = sf_rec_load(&rec, e, branch, names.slug.ptr, 1, &e->err);
    if (rc == SF_ENOTFOUND) {
        rc = 0;
    } else if (rc < 0) {
        goto out;
    } else if (!strcmp(sf_rec_str(rec, "status"), "deleted")) {
        json_decref(rec);
        rec = NULL;
    }
    if (cond && !cond->fn(rec, cond->ud)) {
        cond->skipped = 1;
        goto out;
    }
    fresh = rec == NULL;
    ref = o->template_ref ? o->template_ref : (rec && sf_rec_str(rec, "template_ref") ? sf_rec_str(rec, "template_ref")
                                                                                      : "default");
    if ((rc = sf_analyze(&a, e->cfg, ref, branch, names.slug.ptr, names.ident.ptr,
                         rec ? json_object_get(rec, "set") : NULL, o->set, o->nset, &e->err)) < 0) {
        if (rc == SF_EUSAGE)
            e->err.code = rc = SF_ECONFIG;
        goto out;
    }
    {
        /* an ${envvar.X} that is not set would fail half-way: refuse before touching anything */
        size_t i;
        json_t *v;
        json_array_foreach(a.envvars, i, v) if (!getenv(json_string_value(v)))
        {
            rc = sf_error_set(&e->err, SF_ECONFIG, "%s: environment variable %s is not set (the template refers to "
                              "${envvar.%s})", a.tpl->path, json_string_value(v), json_string_value(v));
            goto out;
        }
    }
    if (!fresh && o->keep_ttl && !o->ttl) {
        const char *x = sf_rec_str(rec, "expires_at");
        expires = -1;
        if (x && sf_time_parse(&expires, x, NULL) < 0)
            expires = -1;
    } else if ((rc = sf_env_ttl(&expires, e->cfg, o->ttl, a.tpl->ttl, sf_now(), &e->err)) < 0) {
        goto out;
    }
    if (fresh) {
        long long max = sf_config_max_envs(e->cfg), live;
        if (max > 0) {
            if ((rc = count_live(e, names.slug.ptr, &live, &e->err)) < 0)
                goto out;
            if (live >= max) {
                rc = sf_error_set(&e->err, SF_EGUARD,
                                  "refusing to create another environment: %lld live environments reach "
                                  "limits.max_envs (%lld); `stagefork down` one or `stagefork reap` expired ones",
                                  live, max);
                goto out;
            }
        }
        if (!(rec = new_record(branch, &names, &e->err))) {
            rc = e->err.code;
            goto out;
        }
    }
    if (!(set = merged_set(rec, o))) {
        rc = sf_error_set(&e->err, SF_ENOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(rec, "set", set);
    set = NULL;
    json_object_set_new(rec, "template", json_string(a.tpl->name));
    {
        /* a name is looked up again next time (config may move it); a path is kept absolute */
        size_t rl = strlen(ref);
        char *abs = strchr(ref, '/') || (rl > 5 && !strcmp(ref + rl - 5, ".yaml")) || (rl > 4 && !strcmp(ref + rl - 4, ".yml"))
                        ? realpath(a.tpl->path, NULL)
                        : NULL;
        sf_rec_set_str(rec, "template_ref", abs ? abs : ref);
        free(abs);
    }
    json_object_set_new(rec, "status", json_string("creating"));
    json_object_set_new(rec, "error", json_null());
    sf_rec_set_time(rec, "expires_at", expires);
    if (!json_is_array(json_object_get(rec, "resources")))
        json_object_set_new(rec, "resources", json_array());
    if (!json_is_object(json_object_get(rec, "secrets")))
        json_object_set_new(rec, "secrets", json_object());
    if ((rc = sf_rec_save(e, rec, "up", NULL, "creating", fresh ? "new environment" : "reconcile", &e->err)) < 0)
        goto out;
    saved = 1;

    u.e = e;
    u.rec = rec;
    u.a = &a;
    u.o = o;
    u.deadline = o->wait_timeout > 0 ? sf_monotonic() + o->wait_timeout : 0;
    if (!(u.base_dir = template_dir(sf_template_path(a.tpl)))) {
        rc = sf_error_set(&e->err, SF_ENOMEM, "out of memory");
        goto failed;
    }
    if ((rc = sf_env_ctx_init(&u.ectx, e, rec, 1, &e->err)) < 0)
        goto failed;
    if ((rc = remove_stale(&u, &e->err)) < 0)
        goto failed;
    if (!(results = calloc(a.n, sizeof(*results)))) {
        rc = sf_error_set(&e->err, SF_ENOMEM, "out of memory");
        goto failed;
    }
    rc = sf_sched_run(a.g, SF_SCHED_STOP_ON_ERROR, e->parallel, up_task, &u, e->cancel, results);
    if (rc < 0) {
        sf_error_copy(&e->err, &u.first);
        if (!e->err.code)
            sf_error_set(&e->err, rc, "%s", sf_strerror(rc));
        goto failed;
    }
    if (e->cancel && *e->cancel) {
        rc = sf_error_set(&e->err, SF_EIO, "interrupted before every resource was created");
        goto failed;
    }
    pthread_mutex_lock(&e->mu);
    reorder_resources(rec, &a);
    rc = seal_outputs(&u, &e->err);
    if (rc == 0) {
        json_object_set_new(rec, "status", json_string("ready"));
        rc = sf_rec_save(e, rec, "up", NULL, "ready", NULL, &e->err);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc < 0)
        goto failed;
    goto out;

failed:
    pthread_mutex_lock(&e->mu);
    {
        sf_error serr;
        reorder_resources(rec, &a);
        json_object_set_new(rec, "status", json_string("failed"));
        json_object_set_new(rec, "error", sf_json_text(e->err.msg));
        if (sf_rec_save(e, rec, "up", NULL, "failed", e->err.msg, &serr) < 0)
            sf_log(SF_LOG_ERROR, "%s", serr.msg);
    }
    pthread_mutex_unlock(&e->mu);
out:
    if (rec && saved)
        *out = json_incref(rec);
    sf_env_ctx_free(&u.ectx);
    free(u.base_dir);
    free(results);
    json_decref(rec);
    json_decref(set);
    sf_analysis_free(&a);
    sf_lock_free(lock);
    sf_env_names_free(&names);
    return rc;
}
