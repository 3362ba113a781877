#ifndef STAGEFORK_PROVIDER_H
#define STAGEFORK_PROVIDER_H
/*
 * The provider interface: one implementation per resource type
 * (postgres.database, s3.bucket, http.resource, process.service). The
 * environment engine renders a resource's `with:` into a JSON object,
 * records the resource's deterministic name with status `creating` in the
 * state (intent first), then calls create(); destroy() runs in reverse
 * dependency order. Every call must be idempotent:
 *  - create on something that already exists is adoption when
 *    ctx->prior_outputs shows we created it (same name recorded), otherwise
 *    SF_EEXIST;
 *  - destroy of something already gone is success;
 *  - transient failures (connect errors, 429, 5xx, timeouts) are retried
 *    inside the provider with backoff before giving up.
 * Providers never print; they log through sf_log and report errors in
 * ctx->err (secrets redacted).
 *
 * The spec the engine hands over (docs/environments.md has the details):
 *  - YAML scalars become JSON: plain true/false -> booleans, plain integers
 *    and floats -> numbers, plain null/~/empty -> null; quoted scalars and
 *    any scalar containing ${...} -> strings.
 *  - Every ${...} is resolved except ${self.NAME} while NAME is not yet
 *    among this resource's outputs: such a reference stays in the string as
 *    the literal text "${self.NAME}". For create, the engine first calls
 *    prepare() (if any), which may set outputs (e.g. a free port), then
 *    renders the spec again with them and calls create(). For destroy and
 *    check, self references are resolved from the recorded outputs, so a
 *    `delete: {url: ".../${self.id}"}` is complete by then.
 *  - ctx->self_refs lists the NAMEs the spec refers to as ${self.NAME}, so
 *    a provider knows which optional outputs (e.g. port) it must produce.
 *  - ctx->prior_outputs is non-NULL (possibly an empty object) whenever the
 *    state records this physical name as ours: status ready, or creating /
 *    failed after a crash. That is the "state says we created it" test for
 *    adopting an existing object.
 * Crash safety inside a create: once a provider has made something it will
 * need to find again (a pid, a remote id), it sets that output and calls
 * sf_resource_checkpoint(ctx) before any long wait; the engine writes the
 * outputs to the state then, so a kill -9 later leaves them for destroy.
 *  - Providers also substitute a ${self.NAME} still left in their own
 *    requests (http.resource read/delete from the create response or
 *    prior_outputs; process.service ${self.port}/${self.log} when driven
 *    without prepare()), so either order works.
 */

#include <stdint.h>
#include <jansson.h>
#include "stagefork/buf.h"
#include "stagefork/config.h"
#include "stagefork/error.h"

typedef struct sf_env_info {
    const char *branch;
    const char *slug;      /* SPEC §3 */
    const char *ident;     /* slug with '_' */
    const char *id;        /* stable env id (uuid-like hex) */
    const char *prefix;    /* config prefix, default "sf" */
    const char *state_dir; /* this env's own directory for files (logs); always set, exists
                              (0700) before any provider call, removed after a complete down */
    int64_t expires_at;    /* unix seconds, or -1 for none */
} sf_env_info;

typedef struct sf_resource_ctx {
    /* inputs (borrowed) */
    const char *type;          /* "postgres.database" */
    const char *resource;      /* key in the template ("erp") */
    const sf_env_info *env;
    const sf_config *cfg;      /* for sf_guard_check and connection defaults; may be NULL */
    json_t *spec;              /* rendered `with:` object */
    json_t *prior_outputs;     /* outputs recorded by an earlier create (object) or NULL */
    const char *name;          /* deterministic name from the provider's name() */
    const char *base_dir;      /* relative paths in the spec (sql files) resolve here
                                  (the template's directory); NULL = current directory */
    double deadline;           /* sf_monotonic() time after which waiting gives up; 0 = provider default */
    volatile int *cancel;      /* set non-zero to ask a long wait to stop; may be NULL */
    /* outputs (owned by ctx; the engine takes them) */
    json_t *outputs;           /* object: output name -> string value */
    json_t *secrets;           /* array of output names that are secret */
    sf_error err;
    /* inputs added for ${self.NAME} and crash safety (borrowed) */
    json_t *self_refs;         /* array of NAMEs used as ${self.NAME} in the spec, or NULL */
    /* Set by the engine: persist ctx->outputs now. Call it through
       sf_resource_checkpoint(), which is a no-op when this is NULL. */
    int (*checkpoint)(struct sf_resource_ctx *ctx);
    void *engine;              /* engine-private */
} sf_resource_ctx;

typedef struct sf_provider {
    const char *type;
    /*
     * The deterministic physical name for this env + resource (e.g.
     * "sf_feature_x_erp", "sf-feature-x-assets"), honouring `with.name`
     * when the type allows it and the target's length limits
     * (sf_name_make). Called before create/destroy; the engine records it.
     */
    int (*name)(sf_buf *out, const sf_resource_ctx *ctx);
    /*
     * Plan-time validation of the rendered spec (keys, types); SF_ECONFIG.
     * Called by `plan` and before `up` touches anything. References that
     * are only known later (other resources' outputs, secrets, envvars,
     * env.id, self) appear as literal "${...}" text here: accept them.
     */
    int (*validate)(sf_resource_ctx *ctx);
    int (*create)(sf_resource_ctx *ctx);
    int (*destroy)(sf_resource_ctx *ctx);
    /* 0 if it exists (and is healthy), SF_ENOTFOUND if not, other < 0 on error. */
    int (*check)(sf_resource_ctx *ctx);
    /*
     * Names of outputs this type always produces (NULL-terminated). `plan`
     * rejects ${res.NAME} / ${self.NAME} for a NAME that is neither listed
     * here nor a key of the resource's `with.outputs` mapping (for types
     * whose outputs are declared in the spec); NULL = accept any NAME.
     */
    const char *const *outputs;
    /*
     * Optional, called right before create() (also when create is retried
     * after a crash): set outputs the spec refers to as ${self.NAME} and that
     * can be known before creating (e.g. allocate a free port). The engine
     * checkpoints them, renders the spec again and calls create() with the
     * same ctx (outputs kept). NULL = nothing to prepare.
     */
    int (*prepare)(sf_resource_ctx *ctx);
} sf_provider;

/* Look up a provider by type; NULL if unknown. */
const sf_provider *sf_provider_find(const char *type);
/*
 * Add a provider (tests register a fake one; the built-in ones are always
 * present). Registering an existing type replaces it. Not thread-safe:
 * call before starting work.
 */
int sf_provider_register(const sf_provider *p);

/* Helpers for providers: set outputs[name] = value (and mark secret). */
int sf_resource_output(sf_resource_ctx *ctx, const char *name, const char *value, int secret);
/*
 * Persist the outputs set so far into the state (intent first inside a
 * create: a pid, a remote id). Returns 0, or the state error in ctx->err.
 */
int sf_resource_checkpoint(sf_resource_ctx *ctx);
/* A string member of ctx->spec (NULL if absent or not a string). */
const char *sf_resource_str(const sf_resource_ctx *ctx, const char *key);

#endif
