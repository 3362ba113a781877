#ifndef SF_CORE_GOLDEN_H
#define SF_CORE_GOLDEN_H
/*
 * Golden template databases (internal; used by the postgres.database
 * provider and by refresh). One template per content key on a server,
 * `<prefix>_tpl_<key12>`, where key = SHA-256 over the snapshot name and
 * id, the seed spec's bytes, the profiles, the extensions and every sql
 * file's bytes. It is built once under an exclusive advisory lock of the
 * key (parallel builders wait, then find it ready); whoever clones it holds
 * the same lock in shared mode until the clone exists, so gc (exclusive)
 * never drops a template someone is cloning.
 *
 * The template database's COMMENT records what it is:
 *   "stagefork:golden key=<64 hex> snapshot=<NAME>@<ID> ready" (or "building")
 * and every database cloned from it gets " template=<name>" after the
 * provider's "ready" marker, which is how gc knows a live env needs it.
 */

#include <jansson.h>
#include "stagefork/config.h"
#include "stagefork/error.h"

#define SF_GOLDEN_MARK "stagefork:golden "

typedef struct sf_golden_req {
    const char *server;       /* admin DSN of the server */
    const char *snapshot;     /* NAME or NAME@ID */
    const char *seed_spec;    /* path (relative to base_dir) or NULL */
    const json_t *profiles;   /* array of names, "a,b" string, or NULL */
    const json_t *sql;        /* string, array of paths, or NULL */
    const json_t *extensions; /* array of names or NULL */
    const char *base_dir;     /* template directory for relative paths; NULL = cwd */
    const char *prefix;       /* name prefix, default "sf" */
    const sf_config *cfg;     /* snapshots.store, masking key, guard */
    double deadline;          /* sf_monotonic() limit for waiting on a build; 0 = one hour */
    volatile int *cancel;
} sf_golden_req;

typedef struct sf_golden sf_golden;

/*
 * Make sure the template for req exists (building it if needed) and hold
 * it in shared mode. On success *out names it; release it with
 * sf_golden_release() once the clone is made.
 */
int sf_golden_acquire(sf_golden **out, const sf_golden_req *req, sf_error *err);
const char *sf_golden_name(const sf_golden *g);
/* NAME@ID the template was built from. */
const char *sf_golden_snapshot(const sf_golden *g);
/* 1 if this call built the template, 0 if it was there already. */
int sf_golden_built(const sf_golden *g);
void sf_golden_release(sf_golden *g);

/*
 * Does a seed_spec with these `profiles:` seed anything? Absent profiles
 * seed the spec's defaults; profiles given but naming nothing ("" or [],
 * e.g. an unset stack param) seed nothing, so a stack can make seeding
 * optional.
 */
int sf_golden_seeds(const char *seed_spec, const json_t *profiles);

/* A path from the spec resolved against base_dir. */
int sf_golden_path(char **out, const char *base_dir, const char *path);

#endif
