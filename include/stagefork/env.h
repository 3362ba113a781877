#ifndef STAGEFORK_ENV_H
#define STAGEFORK_ENV_H
/*
 * The environment engine (SPEC §3): plan, up (create or reconcile), down,
 * extend, and read access to environments kept in the state (state.h).
 *
 * An environment record is a JSON object (the state stores it as is):
 *   version, branch, slug, ident, id, template, template_ref, set {K: V},
 *   status (creating|ready|failed|deleting|deleted), created_at,
 *   updated_at, expires_at (RFC 3339 UTC or null = persistent), error,
 *   secrets {NAME: value}, outputs {NAME: sealed value}, secret_outputs [..],
 *   resources [{name, type, physical, status, hash, spec (sealed),
 *               depends_on [..], outputs {..}, secret_outputs [..], error}]
 * "Sealed" values keep ${envvar.X}, ${secret.X}, ${self.X}, ${env.expires_at}
 * and references to other resources' secret outputs as references
 * ({"${}": ["text", {"ref": "envvar.X"}]}), so no envvar value and no
 * secret is copied into a spec; secrets live only in `secrets` and in the
 * resources' outputs (named in secret_outputs).
 *
 * Records handed out by these functions are new references the caller
 * must json_decref; they contain secrets: print them only through
 * sf_env_view / sf_env_outputs.
 */

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "stagefork/buf.h"
#include "stagefork/config.h"
#include "stagefork/error.h"

typedef struct sf_engine sf_engine;

typedef struct sf_up_opts {
    const char *template_ref;     /* -t: name or path; NULL = the env's template, else "default" */
    const char *const *set;       /* "K=V" parameter values, merged over the env's earlier ones */
    size_t nset;
    int64_t ttl;                  /* seconds, SF_DURATION_NONE, or 0 = template ttl / limits.default_ttl */
    int keep_ttl;                 /* an existing env keeps its expiry */
    int recreate;                 /* destroy and rebuild every resource */
    double wait_timeout;          /* seconds a provider may wait for readiness; 0 = its default */
} sf_up_opts;

/*
 * An engine over the state at state_url (NULL: $STAGEFORK_STATE, config
 * `state:`, default directory; see sf_state_resolve). cfg is borrowed and
 * must outlive the engine.
 */
int sf_engine_new(sf_engine **out, const sf_config *cfg, const char *state_url, sf_error *err);
void sf_engine_free(sf_engine *e);
/* How long to wait for an env's lock (default 120 s; < 0 = for ever). */
void sf_engine_set_lock_timeout(sf_engine *e, double secs);
/* A flag a signal handler may set: stop starting work, ask providers to stop waiting. */
void sf_engine_set_cancel(sf_engine *e, volatile int *cancel);
/* Resources created or destroyed at once (default 4). */
void sf_engine_set_parallel(sf_engine *e, size_t n);
/* The error of the last failed call. */
const sf_error *sf_engine_error(const sf_engine *e);

/*
 * Create BRANCH's environment or reconcile it with its template: destroy
 * resources the template no longer has, create missing ones, replace those
 * whose rendered spec changed (destroy, then create), keep the rest, renew
 * the expiry. Intent first: each resource's physical name is stored with
 * status `creating` before its provider is called. On failure the env is
 * `failed`, its error recorded, what was created is kept in the state, and
 * *out still gets the record. Codes: SF_ECONFIG (template, params; nothing
 * touched), SF_ECONFLICT (another branch owns the slug), SF_EGUARD
 * (max_envs, max_ttl, a provider's guard), SF_ELOCK, else runtime errors.
 */
int sf_env_up(json_t **out, sf_engine *e, const char *branch, const sf_up_opts *opts);

/*
 * Destroy every resource in reverse dependency order, up to `parallel` at
 * once; each is tried 3 times and a failure does not stop the others.
 * A missing (or already deleted) env is success with *out = NULL.
 * SF_EINCOMPLETE if anything could not be removed (the record keeps those
 * resources; run it again). With force, the record is marked deleted
 * anyway, the leftovers listed in its `error` and in the audit log
 * (gc --orphans finds them by prefix), and the call succeeds.
 */
int sf_env_down(json_t **out, sf_engine *e, const char *branch, int force);

/* Move the expiry to now + ttl (SF_DURATION_NONE = persistent), within limits.max_ttl. */
int sf_env_extend(json_t **out, sf_engine *e, const char *branch, int64_t ttl);
/* The record of BRANCH (SF_ENOTFOUND if none, SF_ECONFLICT if its slug belongs to another branch). */
int sf_env_get(json_t **out, sf_engine *e, const char *branch);
/* The last `max` audit events of BRANCH's env, oldest first. */
int sf_env_events(json_t **out, sf_engine *e, const char *branch, size_t max);

enum { SF_LIST_ALL = 1, SF_LIST_EXPIRED = 2 };
/* Records ordered by slug; without SF_LIST_ALL deleted envs are left out;
   SF_LIST_EXPIRED keeps only live envs whose expiry has passed. */
int sf_env_list(json_t **out, sf_engine *e, unsigned flags);

/*
 * Render and validate a template for BRANCH without touching anything (no
 * state is read or written). The plan is a new object: branch, slug, ident,
 * template, template_path, ttl, params, order [names], resources [{name,
 * type, id, depends_on, spec}], outputs, warnings [..]; references not
 * known before `up` (resource outputs, secrets, env.id, envvars) appear as
 * "${ref}" text. Errors name file:line:column (SF_ECONFIG).
 */
int sf_env_plan(json_t **out, const sf_config *cfg, const char *branch, const char *template_ref,
                const char *const *set, size_t nset, sf_error *err);

/*
 * The expiry for a new or renewed env: requested (0 = not given) wins,
 * else the template's ttl (0 = none given), else limits.default_ttl. A
 * requested ttl above limits.max_ttl, or `none` while max_ttl is finite,
 * is SF_EGUARD; a template ttl above max_ttl is cut to max_ttl.
 * *expires_at = now + ttl, or -1 for a persistent env.
 */
int sf_env_ttl(int64_t *expires_at, const sf_config *cfg, int64_t requested, int64_t template_ttl, int64_t now,
               sf_error *err);

/*
 * {"branch","slug","template","status","created_at","expires_at",
 *  "outputs":{..},"resources":[{"name","type","status","id"}]} (the shape
 * of `up --json`), with secret outputs as "***" and an "error" member when
 * the env has one.
 */
int sf_env_view(json_t **out, const json_t *rec, sf_error *err);
/*
 * The env's outputs as name -> string. Secret ones are "***" unless
 * reveal. With strict, an unset ${envvar.X} is an error; otherwise it
 * reads "${envvar.X}".
 */
int sf_env_outputs(json_t **out, const json_t *rec, int reveal, int strict, sf_error *err);
/*
 * Append one KEY=VALUE entry in the form both GitHub's $GITHUB_ENV and
 * GitLab's dotenv reports read: KEY=VALUE when the value is one line, a
 * KEY<<DELIM heredoc (GitHub) when it holds a newline. SF_EUSAGE for a key
 * that is not [A-Za-z_][A-Za-z0-9_]*.
 */
int sf_env_dotenv_add(sf_buf *out, const char *key, const char *value, sf_error *err);
/* Append the lines of an outputs object to `path` (created, or narrowed, to mode 0600). */
int sf_env_dotenv_write(const char *path, const json_t *outputs, sf_error *err);

#endif
