/* The engine handle and what its verbs share: records, env info, names, TTLs, destroying one resource. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "env_impl.h"
#include "stagefork/names.h"
#include "stagefork/util.h"

int sf_engine_new(sf_engine **out, const sf_config *cfg, const char *state_url, sf_error *err)
{
    sf_engine *e = calloc(1, sizeof(*e));
    sf_buf url = SF_BUF_INIT;
    int rc;
    *out = NULL;
    if (!e)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    e->cfg = cfg;
    e->lock_timeout = 120;
    e->parallel = 4;
    pthread_mutex_init(&e->mu, NULL);
    if ((rc = sf_state_resolve(&url, state_url, cfg, err)) < 0 || (rc = sf_state_open(&e->st, url.ptr, err)) < 0) {
        sf_buf_free(&url);
        sf_engine_free(e);
        return rc;
    }
    sf_buf_free(&url);
    *out = e;
    return 0;
}

void sf_engine_free(sf_engine *e)
{
    if (!e)
        return;
    sf_state_free(e->st);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

void sf_engine_set_lock_timeout(sf_engine *e, double secs) { e->lock_timeout = secs; }
void sf_engine_set_cancel(sf_engine *e, volatile int *cancel) { e->cancel = cancel; }
void sf_engine_set_parallel(sf_engine *e, size_t n) { e->parallel = n ? n : 1; }
const sf_error *sf_engine_error(const sf_engine *e) { return &e->err; }

int sf_env_names_init(struct sf_env_names *n, const char *branch, sf_error *err)
{
    sf_buf_init(&n->slug, 0);
    sf_buf_init(&n->ident, 0);
    if (!*branch)
        return sf_error_set(err, SF_EUSAGE, "the branch name is empty");
    if (strlen(branch) > 1024)
        return sf_error_set(err, SF_EUSAGE, "the branch name is longer than 1024 bytes");
    if (sf_slug(&n->slug, branch) < 0 || sf_slug_ident(&n->ident, n->slug.ptr) < 0) {
        sf_env_names_free(n);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

void sf_env_names_free(struct sf_env_names *n)
{
    sf_buf_free(&n->slug);
    sf_buf_free(&n->ident);
}

json_t *sf_json_text(const char *s)
{
    json_t *v = json_string(s ? s : "");
    if (!v) { /* not UTF-8: keep ASCII, mark the rest */
        char *c = strdup(s);
        if (!c)
            return NULL;
        for (char *p = c; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        v = json_string(c);
        free(c);
    }
    return v;
}

const char *sf_rec_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int sf_rec_set_str(json_t *o, const char *key, const char *val)
{
    return json_object_set_new(o, key, val ? sf_json_text(val) : json_null()) < 0 ? SF_ENOMEM : 0;
}

int sf_rec_set_time(json_t *o, const char *key, int64_t t)
{
    char buf[SF_TIME_LEN];
    if (t < 0)
        return json_object_set_new(o, key, json_null()) < 0 ? SF_ENOMEM : 0;
    sf_time_format(buf, t);
    return sf_rec_set_str(o, key, buf);
}

json_t *sf_rec_resource(const json_t *rec, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rec, "resources"), i, r)
    {
        const char *n = sf_rec_str(r, "name");
        if (n && strcmp(n, name) == 0)
            return r;
    }
    return NULL;
}

int sf_rec_is_secret_output(const json_t *res, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(res, "secret_outputs"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

int sf_rec_save(sf_engine *e, json_t *rec, const char *verb, const char *resource, const char *result,
                const char *detail, sf_error *err)
{
    json_t *ev;
    int rc;
    if (sf_rec_set_time(rec, "updated_at", sf_now()) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    ev = sf_state_event_new(verb, sf_rec_str(rec, "slug"), resource, result, NULL);
    if (!ev)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (detail)
        json_object_set_new(ev, "detail", sf_json_text(detail));
    rc = sf_state_put(e->st, sf_rec_str(rec, "slug"), rec, ev, err);
    json_decref(ev);
    return rc;
}

int sf_rec_load(json_t **out, sf_engine *e, const char *branch, const char *slug, int allow_deleted_other,
                sf_error *err)
{
    json_t *rec;
    const char *owner, *status;
    int rc;
    *out = NULL;
    if ((rc = sf_state_get(&rec, e->st, slug, err)) < 0)
        return rc;
    owner = sf_rec_str(rec, "branch");
    status = sf_rec_str(rec, "status");
    if (!owner || !status || !sf_rec_str(rec, "slug")) {
        json_decref(rec);
        return sf_error_set(err, SF_EFORMAT, "the state record of '%s' is damaged (no branch, slug or status)", slug);
    }
    if (strcmp(owner, branch) != 0) {
        if (allow_deleted_other && strcmp(status, "deleted") == 0) {
            json_decref(rec);
            return sf_error_set(err, SF_ENOTFOUND, "no environment for branch '%s'", branch);
        }
        json_decref(rec);
        return sf_error_set(err, SF_ECONFLICT,
                            "branches '%s' and '%s' both map to the environment slug '%s'; rename one of them (or "
                            "`stagefork down '%s'` first)",
                            branch, owner, slug, owner);
    }
    *out = rec;
    return 0;
}

int sf_env_ctx_init(struct sf_env_ctx *c, sf_engine *e, const json_t *rec, int create_dir, sf_error *err)
{
    const char *exp = sf_rec_str(rec, "expires_at");
    int64_t t = -1;
    int rc;
    memset(c, 0, sizeof(*c));
    sf_buf_init(&c->files, 0);
    if ((rc = sf_state_files_dir(&c->files, e->st, sf_rec_str(rec, "slug"), create_dir, err)) < 0)
        return rc;
    if (exp && sf_time_parse(&t, exp, NULL) < 0)
        t = -1;
    c->info.branch = sf_rec_str(rec, "branch");
    c->info.slug = sf_rec_str(rec, "slug");
    c->info.ident = sf_rec_str(rec, "ident");
    c->info.id = sf_rec_str(rec, "id");
    c->info.prefix = sf_config_prefix(e->cfg);
    c->info.state_dir = c->files.ptr;
    c->info.expires_at = t;
    return 0;
}

void sf_env_ctx_free(struct sf_env_ctx *c)
{
    sf_buf_free(&c->files);
}

int sf_physical_name(sf_buf *out, const sf_provider *p, sf_resource_ctx *ctx, sf_error *err)
{
    sf_buf_clear(out);
    if (p && p->name) {
        sf_error_clear(&ctx->err);
        if (p->name(out, ctx) < 0 || out->len == 0)
            return sf_error_set(err, ctx->err.code ? ctx->err.code : SF_ECONFIG, "resource '%s': %s", ctx->resource,
                                ctx->err.msg[0] ? ctx->err.msg : "the provider could not name it");
        return 0;
    }
    {
        const char *parts[] = {ctx->env->prefix, ctx->env->slug, ctx->resource};
        if (sf_name_make(out, '-', 63, parts, 3) < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

int sf_env_ttl(int64_t *expires_at, const sf_config *cfg, int64_t requested, int64_t template_ttl, int64_t now,
               sf_error *err)
{
    int64_t max = sf_config_max_ttl(cfg), ttl;
    char a[32], b[32];
    if (requested != 0) {
        if (requested == SF_DURATION_NONE && max != SF_DURATION_NONE) {
            sf_duration_format(b, max);
            return sf_error_set(err, SF_EGUARD, "--ttl none is refused: limits.max_ttl is %s (set it to none to allow "
                                                "persistent environments)", b);
        }
        if (requested != SF_DURATION_NONE && max != SF_DURATION_NONE && requested > max) {
            sf_duration_format(a, requested);
            sf_duration_format(b, max);
            return sf_error_set(err, SF_EGUARD, "--ttl %s is refused: it exceeds limits.max_ttl (%s)", a, b);
        }
        ttl = requested;
    } else if (template_ttl != 0) {
        ttl = template_ttl;
        if (max != SF_DURATION_NONE && (ttl == SF_DURATION_NONE || ttl > max)) {
            sf_duration_format(a, ttl);
            sf_duration_format(b, max);
            sf_log(SF_LOG_WARN, "the template's ttl %s exceeds limits.max_ttl; using %s", a, b);
            ttl = max;
        }
    } else {
        ttl = sf_config_default_ttl(cfg);
        if (max != SF_DURATION_NONE && (ttl == SF_DURATION_NONE || ttl > max))
            ttl = max;
    }
    *expires_at = ttl == SF_DURATION_NONE ? -1 : now + ttl;
    return 0;
}

static void sleep_secs(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int sf_destroy_resource(sf_engine *e, json_t *rec, json_t *res, const sf_env_info *info, const char *verb,
                        int attempts, sf_error *err)
{
    const sf_provider *p;
    json_t *spec = NULL, *outputs = NULL;
    char *type = NULL, *name = NULL, *physical = NULL;
    sf_error lerr = {0};
    int rc;

    pthread_mutex_lock(&e->mu);
    type = strdup(sf_rec_str(res, "type") ? sf_rec_str(res, "type") : "");
    name = strdup(sf_rec_str(res, "name") ? sf_rec_str(res, "name") : "");
    physical = strdup(sf_rec_str(res, "physical") ? sf_rec_str(res, "physical") : "");
    outputs = json_deep_copy(json_is_object(json_object_get(res, "outputs")) ? json_object_get(res, "outputs")
                                                                                : json_object());
    json_object_set_new(res, "status", json_string("deleting"));
    json_object_set_new(res, "error", json_null());
    rc = sf_rec_save(e, rec, verb, name, "deleting", physical, &lerr);
    if (rc == 0) {
        struct sf_final f = {rec, outputs, 0};
        json_t *sealed = json_object_get(res, "spec");
        rc = sf_interp_final(&spec, sealed ? sealed : json_object(), sf_final_resolve, &f, &lerr);
        if (rc < 0)
            sf_error_prefix(&lerr, "cannot render the spec of '%s' for destroy", name);
    }
    pthread_mutex_unlock(&e->mu);
    if (!type || !name || !physical || !outputs) {
        rc = sf_error_set(&lerr, SF_ENOMEM, "out of memory");
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!(p = sf_provider_find(type))) {
        rc = sf_error_set(&lerr, SF_ECONFIG, "resource '%s': no provider for type '%s' in this build", name, type);
        goto done;
    }
    for (int attempt = 1; attempt <= attempts; attempt++) {
        sf_resource_ctx ctx;
        memset(&ctx, 0, sizeof(ctx));
        ctx.type = type;
        ctx.resource = name;
        ctx.env = info;
        ctx.cfg = e->cfg;
        ctx.spec = spec;
        ctx.prior_outputs = outputs;
        ctx.name = physical;
        ctx.cancel = e->cancel;
        rc = p->destroy ? p->destroy(&ctx) : 0;
        if (rc < 0) {
            if (ctx.err.code)
                sf_error_copy(&lerr, &ctx.err);
            else
                sf_error_set(&lerr, rc, "%s", sf_strerror(rc));
            sf_error_prefix(&lerr, "destroy %s '%s' (%s)", type, name, physical);
        }
        json_decref(ctx.outputs);
        json_decref(ctx.secrets);
        if (rc == 0 || rc == SF_EGUARD || (e->cancel && *e->cancel))
            break;
        if (attempt < attempts) {
            sf_log(SF_LOG_WARN, "%s (attempt %d of %d, retrying)", lerr.msg, attempt, attempts);
            sleep_secs(0.25 * (double)(1 << (attempt - 1)));
        }
    }
done:
    pthread_mutex_lock(&e->mu);
    if (rc == 0) {
        json_object_set_new(res, "status", json_string("deleted"));
        json_object_set_new(res, "outputs", json_object());
        json_object_set_new(res, "secret_outputs", json_array());
        json_object_set_new(res, "error", json_null());
        rc = sf_rec_save(e, rec, verb, name, "deleted", physical, &lerr);
    } else {
        sf_error serr;
        json_object_set_new(res, "error", sf_json_text(lerr.msg));
        if (sf_rec_save(e, rec, verb, name, "failed", lerr.msg, &serr) < 0)
            sf_log(SF_LOG_ERROR, "%s", serr.msg);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc < 0)
        sf_error_copy(err, &lerr);
    free(type);
    free(name);
    free(physical);
    json_decref(outputs);
    json_decref(spec);
    return rc;
}
