/* Provider registry: built-in types plus any registered at run time (tests). */
#include <stdlib.h>
#include <string.h>
#include "stagefork/provider.h"

extern const sf_provider *const sf_builtin_providers[];

static const sf_provider **extra;
static size_t nextra;

const sf_provider *sf_provider_find(const char *type)
{
    for (size_t i = nextra; i-- > 0;)
        if (strcmp(extra[i]->type, type) == 0)
            return extra[i];
    for (size_t i = 0; sf_builtin_providers[i]; i++)
        if (strcmp(sf_builtin_providers[i]->type, type) == 0)
            return sf_builtin_providers[i];
    return NULL;
}

int sf_provider_register(const sf_provider *p)
{
    const sf_provider **n = realloc(extra, (nextra + 1) * sizeof(*n));
    if (!n)
        return SF_ENOMEM;
    extra = n;
    extra[nextra++] = p;
    return 0;
}

int sf_resource_output(sf_resource_ctx *ctx, const char *name, const char *value, int secret)
{
    if (!ctx->outputs && !(ctx->outputs = json_object()))
        return SF_ENOMEM;
    if (json_object_set_new(ctx->outputs, name, json_string(value ? value : "")) < 0)
        return SF_ENOMEM;
    if (secret) {
        size_t i;
        json_t *v;
        if (!ctx->secrets && !(ctx->secrets = json_array()))
            return SF_ENOMEM;
        json_array_foreach(ctx->secrets, i, v) if (strcmp(json_string_value(v), name) == 0) return 0;
        if (json_array_append_new(ctx->secrets, json_string(name)) < 0)
            return SF_ENOMEM;
    }
    return 0;
}

int sf_resource_checkpoint(sf_resource_ctx *ctx)
{
    return ctx->checkpoint ? ctx->checkpoint(ctx) : 0;
}

const char *sf_resource_str(const sf_resource_ctx *ctx, const char *key)
{
    json_t *v = ctx->spec ? json_object_get(ctx->spec, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}
