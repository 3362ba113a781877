#ifndef STAGEFORK_CONFIG_H
#define STAGEFORK_CONFIG_H
/*
 * stagefork.yaml (SPEC §4): known top-level keys only, `${envvar.NAME}`
 * allowed in values (expanded when read, never stored), free-form sections
 * readable by dotted path for template interpolation (`${config.PATH}`).
 */

#include <stdint.h>
#include "stagefork/error.h"
#include "stagefork/buf.h"
#include "stagefork/yaml.h"

typedef struct sf_config sf_config;

/*
 * Load and validate `path`. Unknown top-level keys, wrong types and bad
 * durations are SF_ECONFIG with file:line:column. With path == NULL an
 * empty config with all defaults is returned.
 */
int sf_config_load(sf_config **out, const char *path, sf_error *err);
void sf_config_free(sf_config *cfg);

/* Path the config came from, or NULL for the built-in default. */
const char *sf_config_path(const sf_config *cfg);
/* Root of the document (an empty MAP for the default). Borrowed. */
const sf_node *sf_config_root(const sf_config *cfg);

/*
 * Read the scalar at a dotted path into out (replacing its contents), with
 * `${envvar.NAME}` expanded and `$${` unescaped. SF_ENOTFOUND if absent,
 * SF_ECONFIG if it is not a scalar or names an unset variable.
 */
int sf_config_get(sf_buf *out, const sf_config *cfg, const char *dotted, sf_error *err);

/*
 * Expand `${envvar.NAME}` and `$${` in a string taken from node n (used in
 * messages). Other `${...}` references are an error here: config values may
 * not refer to templates.
 */
int sf_config_expand(sf_buf *out, const char *text, const sf_node *n, sf_error *err);

/* Typed views of the well-known keys, with SPEC defaults. Borrowed strings. */
const char *sf_config_prefix(const sf_config *cfg);             /* "sf" */
const char *sf_config_state(const sf_config *cfg);              /* NULL if unset */
size_t sf_config_template_dirs(const sf_config *cfg, const char ***out);
const char *sf_config_snapshot_store(const sf_config *cfg);     /* NULL if unset */
const char *sf_config_mask_policy(const sf_config *cfg);        /* NULL if unset */
const char *sf_config_mask_key_env(const sf_config *cfg);       /* NULL if unset */
const char *sf_config_mask_key_file(const sf_config *cfg);      /* NULL if unset */
long long sf_config_max_envs(const sf_config *cfg);             /* 0 = unlimited */
int64_t sf_config_default_ttl(const sf_config *cfg);            /* seconds; 8h */
int64_t sf_config_max_ttl(const sf_config *cfg);                /* seconds; 7d; NONE = unbounded */
size_t sf_config_protected(const sf_config *cfg, const char ***out);
size_t sf_config_allow_hosts(const sf_config *cfg, const char ***out);

#endif
