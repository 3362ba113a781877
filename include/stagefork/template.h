#ifndef STAGEFORK_TEMPLATE_H
#define STAGEFORK_TEMPLATE_H
/*
 * Environment templates (SPEC §4): a YAML file, or a directory holding
 * stack.yaml, with keys name, description, ttl, params, resources, outputs.
 * Loading checks the structure (unknown keys, kinds, names) and the syntax
 * of every ${...}; what references mean (params, resources, types, cycles)
 * is checked when the template is planned for an environment (env.h).
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/buf.h"
#include "stagefork/config.h"
#include "stagefork/error.h"
#include "stagefork/yaml.h"

typedef struct sf_template sf_template;

/*
 * Resolve a template reference to a file: a path (contains '/', or names an
 * existing file or directory) is used as is; otherwise NAME is looked up as
 * NAME.yaml, NAME.yml or NAME/stack.yaml in each of the config's
 * `templates:` directories, then in ./templates. SF_ENOTFOUND names the
 * places searched.
 */
int sf_template_find(sf_buf *out_path, const char *ref, const sf_config *cfg, sf_error *err);
/* sf_template_find + load. Errors name file:line:column (SF_ECONFIG). */
int sf_template_load(sf_template **out, const char *ref, const sf_config *cfg, sf_error *err);
/* Load from memory (`name` is used in messages); for tests and fuzzing. */
int sf_template_load_mem(sf_template **out, const char *name, const char *data, size_t len, sf_error *err);
void sf_template_free(sf_template *t);

/* `name:`, else the file's stem ("distribution" for distribution/stack.yaml). Borrowed. */
const char *sf_template_name(const sf_template *t);
const char *sf_template_description(const sf_template *t); /* "" if none */
const char *sf_template_path(const sf_template *t);
/* `ttl:` in seconds, SF_DURATION_NONE for `none`, 0 if absent. */
int64_t sf_template_ttl(const sf_template *t);
size_t sf_template_nresources(const sf_template *t);
/* Resource i in file order: its key and type. Borrowed. */
const char *sf_template_resource_name(const sf_template *t, size_t i);
const char *sf_template_resource_type(const sf_template *t, size_t i);

#endif
