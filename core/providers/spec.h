#ifndef STAGEFORK_PROVIDERS_SPEC_H
#define STAGEFORK_PROVIDERS_SPEC_H
/*
 * Internal helpers shared by the built-in providers (not public API):
 * reading the rendered `with:` object, `${self.NAME}` substitution,
 * deterministic names and HTTP options from the resource context.
 */

#include <jansson.h>
#include "stagefork/buf.h"
#include "stagefork/http.h"
#include "stagefork/provider.h"

/* SF_ECONFIG naming the first key of spec not in the NULL-terminated allowed list. */
int sf_spec_keys(const sf_resource_ctx *ctx, const json_t *obj, const char *where,
                 const char *const *allowed, sf_error *err);
/* A duration member: a number of seconds or a string like "30s"/"2m"; dflt if absent. */
int sf_spec_duration(double *out, const json_t *obj, const char *key, double dflt, sf_error *err);
/* A string member that must be present and non-empty. */
int sf_spec_required(const char **out, const json_t *obj, const char *key, const char *type, sf_error *err);
/*
 * "The state says we created it": the engine passes prior_outputs (maybe an
 * empty object) whenever it records this physical name as ours; a recorded
 * `name` output must then match.
 */
int sf_spec_ours(const sf_resource_ctx *ctx, const char *name);
/* A string member of prior_outputs, or NULL. */
const char *sf_spec_prior(const sf_resource_ctx *ctx, const char *key);
/*
 * Copy text into out replacing `${self.NAME}` by the string member NAME of
 * vars (vars may be NULL). An unknown NAME is SF_ENOTFOUND with a message
 * naming it; other `${...}` text is left alone.
 */
int sf_spec_self(sf_buf *out, const char *text, const json_t *vars, sf_error *err);
/* 1 if text contains `${self.` */
int sf_spec_has_self(const char *text);
/*
 * <prefix><sep><ident><sep><resource> bounded by max (sf_name_make), the
 * resource part lowercased with characters outside [a-z0-9] mapped to sep.
 */
int sf_spec_name(sf_buf *out, const sf_resource_ctx *ctx, char sep, size_t max);
/* HTTP options from the context: guard config, deadline, cancel flag. */
void sf_spec_http_opts(sf_http_opts *o, const sf_resource_ctx *ctx);

#endif
