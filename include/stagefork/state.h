#ifndef STAGEFORK_STATE_H
#define STAGEFORK_STATE_H
/*
 * Environment state (SPEC §3): one record per env, keyed by slug, plus an
 * append-only audit log, behind one interface with two backends:
 *  - a directory: envs/<slug>.json written atomically (temp file, fsync,
 *    rename, fsync of the directory), locks/<slug>.lock taken with flock,
 *    events.jsonl appended with O_APPEND, meta/<key>.json written like
 *    the records; directories 0700, files 0600;
 *  - postgres://… (or postgresql://…): tables in schema "stagefork",
 *    created on first use; a per-env advisory lock held on a dedicated
 *    connection; record + event written in one transaction.
 * Records are JSON objects (the engine's format, see env.h); the state
 * stores them as they are. Every operation on one handle is serialized
 * internally, so worker threads may share it.
 */

#include <stddef.h>
#include <jansson.h>
#include "stagefork/buf.h"
#include "stagefork/config.h"
#include "stagefork/error.h"

typedef struct sf_state sf_state;
typedef struct sf_lock sf_lock;

/*
 * Which state to use: `url` (the --state option) if set, else
 * $STAGEFORK_STATE, else the config's `state:`, else
 * $XDG_STATE_HOME/stagefork, else ~/.local/state/stagefork.
 */
int sf_state_resolve(sf_buf *out, const char *url, const sf_config *cfg, sf_error *err);
/* Open (and create on first use) the state at url: postgres:// or a directory. */
int sf_state_open(sf_state **out, const char *url, sf_error *err);
void sf_state_free(sf_state *st);
/* "postgres" or "directory". */
const char *sf_state_kind(const sf_state *st);

/*
 * Take the env's exclusive lock, waiting up to timeout seconds (< 0 = for
 * ever). SF_ELOCK when still busy. The lock is released by
 * sf_lock_free (NULL is a no-op), or by the process dying (flock / the server ending the
 * session), so a kill -9 never leaves it behind.
 */
int sf_state_lock(sf_lock **out, sf_state *st, const char *slug, double timeout, sf_error *err);
void sf_lock_free(sf_lock *lk);

/* The record of slug (new reference), or SF_ENOTFOUND. */
int sf_state_get(json_t **out, sf_state *st, const char *slug, sf_error *err);
/* Store rec as slug's record and, if ev is non-NULL, append ev, atomically where the backend allows. */
int sf_state_put(sf_state *st, const char *slug, const json_t *rec, const json_t *ev, sf_error *err);
/* Every record (a new array, ordered by slug). */
int sf_state_list(json_t **out, sf_state *st, sf_error *err);
/* Append one audit event. */
int sf_state_event(sf_state *st, const json_t *ev, sf_error *err);
/* The last `max` events of slug, oldest first (a new array). */
int sf_state_events(json_t **out, sf_state *st, const char *slug, size_t max, sf_error *err);

/*
 * Small named documents kept beside the envs but outside any env (the
 * reaper's heartbeat). key is [a-z0-9-], 1..64. Put replaces the document
 * atomically and appends no audit event (a heartbeat every minute would
 * drown the log). Get returns a new reference, or SF_ENOTFOUND.
 */
int sf_state_meta_put(sf_state *st, const char *key, const json_t *val, sf_error *err);
int sf_state_meta_get(json_t **out, sf_state *st, const char *key, sf_error *err);

/*
 * A new audit event: time (RFC 3339), actor ($USER), ci_job ($CI_JOB_ID or
 * $GITHUB_RUN_ID, when set), verb, env, resource (may be NULL), result,
 * detail (may be NULL). Never put secrets in detail.
 */
json_t *sf_state_event_new(const char *verb, const char *env, const char *resource, const char *result,
                           const char *detail);

/*
 * The env's own directory for local files (provider logs):
 * <dir>/files/<slug> for a directory state, the default state directory's
 * files/<slug> for PostgreSQL. Created 0700 when `create` is set.
 */
int sf_state_files_dir(sf_buf *out, const sf_state *st, const char *slug, int create, sf_error *err);

#endif
