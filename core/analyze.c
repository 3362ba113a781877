/* Template analysis against params, config and providers; `plan`. */
#include <stdlib.h>
#include <string.h>
#include "env_impl.h"
#include "stagefork/names.h"
#include "stagefork/util.h"

int sf_analysis_index(const struct sf_analysis *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->res[i].r->name, name) == 0)
            return (int)i;
    return -1;
}

void sf_analysis_free(struct sf_analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->res && i < a->n; i++)
        json_decref(a->res[i].plan_spec);
    free(a->res);
    free(a->order);
    sf_graph_free(a->g);
    json_decref(a->params);
    json_decref(a->outputs_plan);
    json_decref(a->warnings);
    json_decref(a->envvars);
    sf_template_free(a->tpl);
    memset(a, 0, sizeof(*a));
}

static const struct sf_tpl_param *find_param(const sf_template *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->nparams; i++)
        if (strlen(t->params[i].name) == len && strncmp(t->params[i].name, name, len) == 0)
            return &t->params[i];
    return NULL;
}

static int declared_params(sf_buf *b, const sf_template *t)
{
    for (size_t i = 0; i < t->nparams; i++)
        if (sf_buf_addf(b, "%s%s", i ? ", " : "", t->params[i].name) < 0)
            return SF_ENOMEM;
    return t->nparams ? 0 : sf_buf_adds(b, "none");
}

/* --set K=V, then the env's earlier values, then defaults; every param must end up with a value. */
static int resolve_params(struct sf_analysis *a, const json_t *prior, const char *const *set, size_t nset,
                          sf_error *err)
{
    const sf_template *t = a->tpl;
    if (!(a->params = json_object()))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < nset; i++) {
        const char *eq = strchr(set[i], '=');
        const struct sf_tpl_param *p;
        json_t *v;
        if (!eq || eq == set[i])
            return sf_error_set(err, SF_EUSAGE, "--set '%s': expected NAME=VALUE", set[i]);
        if (!(p = find_param(t, set[i], (size_t)(eq - set[i])))) {
            sf_buf b = SF_BUF_INIT;
            declared_params(&b, t);
            sf_error_set(err, SF_EUSAGE, "--set %.*s: template '%s' has no parameter '%.*s' (it declares: %s)",
                         (int)(eq - set[i]), set[i], t->name, (int)(eq - set[i]), set[i], b.ptr);
            sf_buf_free(&b);
            return SF_EUSAGE;
        }
        if (!(v = json_string(eq + 1)))
            return sf_error_set(err, SF_EUSAGE, "--set %s: the value is not valid UTF-8", p->name);
        json_object_set_new(a->params, p->name, v);
    }
    for (size_t i = 0; i < t->nparams; i++) {
        const struct sf_tpl_param *p = &t->params[i];
        json_t *v;
        if (json_object_get(a->params, p->name))
            continue;
        if ((v = json_object_get(prior, p->name)) && json_is_string(v)) {
            json_object_set(a->params, p->name, v);
            continue;
        }
        if (!p->def)
            return sf_node_error(err, SF_ECONFIG, p->key, "parameter '%s' has no default: give it with --set %s=VALUE",
                                 p->name, p->name);
        if (!(v = json_stringn(p->def->str, p->def->len)))
            return sf_node_error(err, SF_ECONFIG, p->def, "the default is not valid UTF-8");
        json_object_set_new(a->params, p->name, v);
    }
    return 0;
}

static int cycle_error(struct sf_analysis *a, const size_t *cycle, size_t ncycle, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc;
    /* cycle[k] depends on cycle[k+1]: print it as "a -> b -> ... -> a" */
    for (size_t k = 0; k < ncycle; k++)
        sf_buf_addf(&b, "%s -> ", a->res[cycle[k]].r->name);
    sf_buf_adds(&b, ncycle ? a->res[cycle[0]].r->name : "?");
    rc = sf_node_error(err, SF_ECONFIG, ncycle ? a->res[cycle[0]].r->key : NULL,
                       "dependency cycle: %s (each resource needs the next one's outputs or lists it in depends_on)",
                       b.ptr);
    sf_buf_free(&b);
    return rc;
}

/* Let the provider look at the plan-time spec (its own keys and types). */
static int provider_validate(struct sf_analysis *a, size_t i, sf_error *err)
{
    struct sf_ares *ar = &a->res[i];
    sf_resource_ctx ctx;
    sf_env_info info = {a->branch, a->slug, a->ident, "", sf_config_prefix(a->cfg), "", -1};
    json_t *spec = sf_interp_display(ar->plan_spec);
    int rc = 0;
    if (!ar->p->validate) {
        json_decref(spec);
        return 0;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.type = ar->r->type;
    ctx.resource = ar->r->name;
    ctx.env = &info;
    ctx.cfg = a->cfg;
    ctx.spec = spec;
    if (ar->p->validate(&ctx) < 0) {
        rc = ctx.err.code ? ctx.err.code : SF_ECONFIG;
        sf_node_error(err, SF_ECONFIG, ar->r->key, "resource '%s' (%s): %s", ar->r->name, ar->r->type,
                      ctx.err.msg[0] ? ctx.err.msg : "invalid spec");
        rc = SF_ECONFIG;
    }
    json_decref(ctx.outputs);
    json_decref(ctx.secrets);
    json_decref(spec);
    return rc;
}

int sf_analyze(struct sf_analysis *a, const sf_config *cfg, const char *template_ref, const char *branch,
               const char *slug, const char *ident, const json_t *prior_set, const char *const *set, size_t nset,
               sf_error *err)
{
    size_t *cycle = NULL, ncycle = 0;
    int rc;
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->branch = branch;
    a->slug = slug;
    a->ident = ident;
    if ((rc = sf_template_load(&a->tpl, template_ref, cfg, err)) < 0)
        return rc;
    a->n = a->tpl->nres;
    a->warnings = json_array();
    a->envvars = json_array();
    a->res = calloc(a->n, sizeof(*a->res));
    a->order = calloc(a->n, sizeof(*a->order));
    cycle = calloc(a->n, sizeof(*cycle));
    if (!a->warnings || !a->envvars || !a->res || !a->order || !cycle || sf_graph_new(&a->g, a->n) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = resolve_params(a, prior_set, set, nset, err)) < 0)
        goto out;
    for (size_t i = 0; i < a->n; i++) {
        a->res[i].r = &a->tpl->res[i];
        if (!(a->res[i].p = sf_provider_find(a->res[i].r->type))) {
            rc = sf_node_error(err, SF_ECONFIG, a->res[i].r->type_node,
                               "unknown resource type '%s' for resource '%s' (this build provides "
                               "postgres.database, s3.bucket, http.resource and process.service when they are "
                               "compiled in)",
                               a->res[i].r->type, a->res[i].r->name);
            goto out;
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        struct sf_tpl_res *r = a->res[i].r;
        struct sf_resolver rv = {a, NULL, (int)i, NULL, 0, 1};
        rc = sf_interp_seal(&a->res[i].plan_spec, r->with, sf_seal_resolve, &rv, err);
        for (size_t k = 0; rc == 0 && k < rv.ndeps; k++)
            rc = sf_graph_add_dep(a->g, i, rv.deps[k]) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
        free(rv.deps);
        if (rc < 0)
            goto out;
        for (size_t k = 0; k < r->ndeps; k++) {
            int j = sf_analysis_index(a, r->deps[k]->str);
            if (j < 0) {
                rc = sf_node_error(err, SF_ECONFIG, r->deps[k], "depends_on: no resource '%s'", r->deps[k]->str);
                goto out;
            }
            if ((size_t)j == i) {
                rc = sf_node_error(err, SF_ECONFIG, r->deps[k], "resource '%s' cannot depend on itself", r->name);
                goto out;
            }
            if (sf_graph_add_dep(a->g, i, (size_t)j) < 0) {
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    if (sf_graph_order(a->g, a->order, cycle, &ncycle) < 0) {
        rc = cycle_error(a, cycle, ncycle, err);
        goto out;
    }
    if (!(a->outputs_plan = json_object())) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < a->tpl->nouts; i++) {
        struct sf_resolver rv = {a, NULL, -1, NULL, 0, 1};
        json_t *v;
        if ((rc = sf_interp_seal(&v, a->tpl->outs[i].value, sf_seal_resolve, &rv, err)) < 0)
            goto out;
        json_object_set_new(a->outputs_plan, a->tpl->outs[i].name, v);
    }
    for (size_t i = 0; i < a->n; i++)
        if ((rc = provider_validate(a, i, err)) < 0)
            goto out;
    rc = 0;
out:
    free(cycle);
    if (rc < 0)
        sf_analysis_free(a);
    return rc;
}

int sf_env_plan(json_t **out, const sf_config *cfg, const char *branch, const char *template_ref,
                const char *const *set, size_t nset, sf_error *err)
{
    struct sf_env_names names;
    struct sf_analysis a;
    json_t *plan = NULL, *arr, *order;
    int64_t expires;
    char ttl[32];
    int rc;
    *out = NULL;
    if ((rc = sf_env_names_init(&names, branch, err)) < 0)
        return rc;
    if ((rc = sf_analyze(&a, cfg, template_ref, branch, names.slug.ptr, names.ident.ptr, NULL, set, nset, err)) < 0) {
        sf_env_names_free(&names);
        return rc;
    }
    if ((rc = sf_env_ttl(&expires, cfg, 0, a.tpl->ttl, 0, err)) < 0)
        goto out;
    sf_duration_format(ttl, expires < 0 ? SF_DURATION_NONE : expires);
    plan = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "branch", branch, "slug", names.slug.ptr, "ident",
                     names.ident.ptr, "template", a.tpl->name, "template_path", a.tpl->path, "ttl", ttl, "params",
                     a.params);
    arr = json_array();
    order = json_array();
    if (!plan || !arr || !order || json_object_set_new(plan, "order", order) < 0 ||
        json_object_set_new(plan, "resources", arr) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < a.n; k++) {
        size_t i = a.order[k];
        struct sf_ares *ar = &a.res[i];
        sf_env_info info = {branch, names.slug.ptr, names.ident.ptr, "${env.id}", sf_config_prefix(cfg), "",
                            expires < 0 ? -1 : sf_now() + expires};
        sf_resource_ctx ctx;
        sf_buf phys = SF_BUF_INIT;
        sf_error nerr = {0};
        json_t *deps = json_array(), *o;
        for (size_t d = 0; d < sf_graph_ndeps(a.g, i); d++)
            json_array_append_new(deps, json_string(a.res[sf_graph_dep(a.g, i, d)].r->name));
        memset(&ctx, 0, sizeof(ctx));
        ctx.type = ar->r->type;
        ctx.resource = ar->r->name;
        ctx.env = &info;
        ctx.cfg = cfg;
        ctx.spec = sf_interp_display(ar->plan_spec);
        if (sf_physical_name(&phys, ar->p, &ctx, &nerr) < 0) {
            json_array_append_new(a.warnings, sf_json_text(nerr.msg));
            sf_buf_sets(&phys, "?");
        }
        o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", ar->r->name, "type", ar->r->type, "id", phys.ptr,
                      "depends_on", deps, "spec", ctx.spec ? ctx.spec : json_object());
        sf_buf_free(&phys);
        json_decref(ctx.outputs);
        json_decref(ctx.secrets);
        json_array_append_new(order, json_string(ar->r->name));
        if (!o || json_array_append_new(arr, o) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
    }
    {
        json_t *outs = sf_interp_display(a.outputs_plan);
        size_t i;
        json_t *v;
        json_object_set_new(plan, "outputs", outs ? outs : json_object());
        json_array_foreach(a.envvars, i, v)
        {
            int dup = 0;
            for (size_t j = 0; j < i && !dup; j++)
                dup = json_equal(json_array_get(a.envvars, j), v);
            if (!dup && !getenv(json_string_value(v))) {
                sf_buf w = SF_BUF_INIT;
                sf_buf_addf(&w, "environment variable %s is not set here; `up` needs it", json_string_value(v));
                json_array_append_new(a.warnings, sf_json_text(w.ptr));
                sf_buf_free(&w);
            }
        }
        json_object_set(plan, "warnings", a.warnings);
    }
    *out = plan;
    plan = NULL;
out:
    json_decref(plan);
    sf_analysis_free(&a);
    sf_env_names_free(&names);
    return rc;
}
