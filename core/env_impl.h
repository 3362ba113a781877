#ifndef SF_CORE_ENV_IMPL_H
#define SF_CORE_ENV_IMPL_H
/* Shared by the engine's files (internal): the engine handle, analysis, resolvers, record helpers. */

#include <pthread.h>
#include "graph.h"
#include "interp.h"
#include "template_impl.h"
#include "stagefork/env.h"
#include "stagefork/provider.h"
#include "stagefork/state.h"

#define SF_RECORD_VERSION 1

struct sf_engine {
    const sf_config *cfg;
    sf_state *st;
    double lock_timeout;
    volatile int *cancel;
    size_t parallel;
    sf_error err;
    /* guards the record and the error while workers run */
    pthread_mutex_t mu;
};

/* The env's identity, computed from the branch. */
struct sf_env_names {
    sf_buf slug, ident;
};
int sf_env_names_init(struct sf_env_names *n, const char *branch, sf_error *err);
void sf_env_names_free(struct sf_env_names *n);

/* One resource of an analysed template. */
struct sf_ares {
    struct sf_tpl_res *r;
    const sf_provider *p;
    json_t *plan_spec; /* sealed with plan-time knowledge (display only) */
};

/* A template checked against params, config and providers: what plan prints and up executes. */
struct sf_analysis {
    sf_template *tpl;
    const sf_config *cfg;
    const char *branch, *slug, *ident;
    json_t *params;   /* name -> value */
    size_t n;
    struct sf_ares *res;
    sf_graph *g;
    size_t *order;    /* topological */
    json_t *outputs_plan;
    json_t *warnings; /* array of strings */
    json_t *envvars;  /* names of ${envvar.X} used anywhere (array) */
};

/*
 * Load the template, resolve params (set = "K=V" strings, then `prior`
 * values {K: V} from the env, then defaults), check every reference,
 * resource type and dependency, and order the graph. SF_ECONFIG with
 * file:line:column on any problem.
 */
int sf_analyze(struct sf_analysis *a, const sf_config *cfg, const char *template_ref, const char *branch,
               const char *slug, const char *ident, const json_t *prior_set, const char *const *set, size_t nset,
               sf_error *err);
void sf_analysis_free(struct sf_analysis *a);
int sf_analysis_index(const struct sf_analysis *a, const char *name);

/* Which references resolve now (seal) and from where. */
struct sf_resolver {
    const struct sf_analysis *a;  /* params, config, resource names */
    json_t *rec;                  /* NULL at plan time: resource outputs and secrets unknown */
    int self_index;               /* resource being sealed, or -1 (outputs) */
    size_t *deps;                 /* collected RES dependencies (indexes), may be NULL */
    size_t ndeps;
    int collect_envvars;
};
int sf_seal_resolve(void *ud, const sf_ref *ref, sf_buf *value, json_t **parts, sf_error *err);

/* Final rendering at a provider call (or when showing outputs). */
struct sf_final {
    const json_t *rec;
    const json_t *self_outputs;   /* may be NULL */
    int lenient_envvar;           /* unset envvar -> keep "${envvar.X}" instead of failing */
};
int sf_final_resolve(void *ud, const sf_ref *ref, sf_buf *value, sf_error *err);

/* Spec hash: sealed spec + type + hashes of the secret values it refers to. */
int sf_spec_hash(char out[65], const json_t *sealed, const char *type, const json_t *rec);

/* Record helpers (the caller holds whatever lock protects rec). */
json_t *sf_rec_resource(const json_t *rec, const char *name);
int sf_rec_is_secret_output(const json_t *res, const char *name);
const char *sf_rec_str(const json_t *o, const char *key);
int sf_rec_set_str(json_t *o, const char *key, const char *val);
int sf_rec_set_time(json_t *o, const char *key, int64_t t);
/* A JSON string of s with invalid UTF-8 replaced by '?'. */
json_t *sf_json_text(const char *s);

/* Store rec (updated_at set) and append an event for verb/resource/result. Caller holds e->mu. */
int sf_rec_save(sf_engine *e, json_t *rec, const char *verb, const char *resource, const char *result,
                const char *detail, sf_error *err);

/* Load the record of branch, checking the slug belongs to it. */
int sf_rec_load(json_t **out, sf_engine *e, const char *branch, const char *slug, int allow_deleted_other,
                sf_error *err);

/* Env info for providers. */
struct sf_env_ctx {
    sf_env_info info;
    sf_buf files;
};
int sf_env_ctx_init(struct sf_env_ctx *c, sf_engine *e, const json_t *rec, int create_dir, sf_error *err);
void sf_env_ctx_free(struct sf_env_ctx *c);

/* Physical name of a resource: the provider's name(), else prefix-slug-resource. */
int sf_physical_name(sf_buf *out, const sf_provider *p, sf_resource_ctx *ctx, sf_error *err);

/*
 * A condition checked under the env's lock, right after its record is
 * loaded (rec is NULL when there is none or it is deleted; down calls it
 * only for a record it found): fn returns 1 to go on, 0 to leave the env
 * alone, and the call then succeeds with *out = NULL and `skipped` set.
 * The reaper uses it so that what it decided from a listing still holds
 * once it owns the env (not extended, not finished or torn down meanwhile).
 */
struct sf_env_cond {
    int (*fn)(const json_t *rec, void *ud);
    void *ud;
    int skipped;
};
/* sf_env_down / sf_env_up with a condition (cond may be NULL). */
int sf_env_down_if(json_t **out, sf_engine *e, const char *branch, int force, struct sf_env_cond *cond);
int sf_env_up_if(json_t **out, sf_engine *e, const char *branch, const sf_up_opts *o, struct sf_env_cond *cond);

/* Destroy one recorded resource (final render from the record, `attempts` tries). */
int sf_destroy_resource(sf_engine *e, json_t *rec, json_t *res, const sf_env_info *info, const char *verb,
                        int attempts, sf_error *err);

#endif
