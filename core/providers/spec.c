/* Helpers shared by the built-in providers: spec reading, ${self.*}, names. */
#include <string.h>
#include "providers/spec.h"
#include "stagefork/config.h"
#include "stagefork/names.h"
#include "stagefork/util.h"

int sf_spec_keys(const sf_resource_ctx *ctx, const json_t *obj, const char *where,
                 const char *const *allowed, sf_error *err)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return sf_error_set(err, SF_ECONFIG, "%s: %s must be a mapping", ctx->type, where);
    json_object_foreach((json_t *)obj, key, v) {
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (!allowed[i])
            return sf_error_set(err, SF_ECONFIG, "%s: unknown key '%s' in %s", ctx->type, key, where);
    }
    return 0;
}

int sf_spec_duration(double *out, const json_t *obj, const char *key, double dflt, sf_error *err)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    int64_t secs;
    *out = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        if (*out <= 0)
            return sf_error_set(err, SF_ECONFIG, "'%s' must be a positive duration", key);
        return 0;
    }
    if (!json_is_string(v))
        return sf_error_set(err, SF_ECONFIG, "'%s' must be a duration such as 30s", key);
    if (sf_parse_i64(&secs, json_string_value(v), 1, INT64_C(1) << 40) == 0) {
        *out = (double)secs;
        return 0;
    }
    if (sf_duration_parse(&secs, json_string_value(v), err) < 0 || secs == SF_DURATION_NONE)
        return sf_error_set(err, SF_ECONFIG, "'%s' must be a duration such as 30s, got '%s'", key,
                            json_string_value(v));
    *out = (double)secs;
    return 0;
}

int sf_spec_required(const char **out, const json_t *obj, const char *key, const char *type, sf_error *err)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = json_is_string(v) ? json_string_value(v) : NULL;
    if (!*out || !**out)
        return sf_error_set(err, SF_ECONFIG, "%s: '%s' is required (a string)", type, key);
    return 0;
}

int sf_spec_ours(const sf_resource_ctx *ctx, const char *name)
{
    const char *prior;
    if (!json_is_object(ctx->prior_outputs))
        return 0;
    prior = sf_spec_prior(ctx, "name");
    return !prior || strcmp(prior, name) == 0;
}

const char *sf_spec_prior(const sf_resource_ctx *ctx, const char *key)
{
    json_t *v = ctx->prior_outputs ? json_object_get(ctx->prior_outputs, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int sf_spec_has_self(const char *text)
{
    return strstr(text, "${self.") != NULL;
}

int sf_spec_self(sf_buf *out, const char *text, const json_t *vars, sf_error *err)
{
    const char *p = text;
    sf_buf_clear(out);
    for (;;) {
        const char *s = strstr(p, "${self."), *e;
        json_t *v;
        char name[128];
        if (!s)
            break;
        e = strchr(s, '}');
        if (!e || (size_t)(e - s - 7) >= sizeof(name))
            return sf_error_set(err, SF_ECONFIG, "unterminated or overlong ${self.…} in '%s'", text);
        memcpy(name, s + 7, (size_t)(e - s - 7));
        name[e - s - 7] = '\0';
        v = vars ? json_object_get(vars, name) : NULL;
        if (!json_is_string(v))
            return sf_error_set(err, SF_ENOTFOUND, "${self.%s} has no value here", name);
        if (sf_buf_add(out, p, (size_t)(s - p)) < 0 || sf_buf_adds(out, json_string_value(v)) < 0)
            return SF_ENOMEM;
        p = e + 1;
    }
    return sf_buf_adds(out, p) < 0 ? SF_ENOMEM : 0;
}

int sf_spec_name(sf_buf *out, const sf_resource_ctx *ctx, char sep, size_t max)
{
    sf_buf res = SF_BUF_INIT, ident = SF_BUF_INIT;
    const char *prefix = ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf";
    const char *parts[3];
    int rc;
    if (!ctx->env || !ctx->env->slug || !ctx->resource)
        return SF_EUSAGE;
    if (sf_buf_sets(&res, ctx->resource) < 0 ||
        sf_buf_sets(&ident, sep == '_' ? (ctx->env->ident ? ctx->env->ident : "") : ctx->env->slug) < 0)
        return SF_ENOMEM;
    if (sep == '_' && !ctx->env->ident && sf_slug_ident(&ident, ctx->env->slug) < 0)
        return SF_ENOMEM;
    for (size_t i = 0; i < res.len; i++) {
        char c = res.ptr[i];
        if (c >= 'A' && c <= 'Z')
            res.ptr[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            res.ptr[i] = sep;
    }
    parts[0] = prefix;
    parts[1] = ident.ptr;
    parts[2] = res.ptr;
    rc = sf_name_make(out, sep, max, parts, 3);
    sf_buf_free(&res);
    sf_buf_free(&ident);
    return rc;
}

void sf_spec_http_opts(sf_http_opts *o, const sf_resource_ctx *ctx)
{
    memset(o, 0, sizeof(*o));
    o->cfg = ctx->cfg;
    o->deadline = ctx->deadline;
    o->cancel = ctx->cancel;
}
