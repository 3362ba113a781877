#ifndef STAGEFORK_REAP_H
#define STAGEFORK_REAP_H
/*
 * The reaper (`stagefork reap`, SPEC §2): one sweep tears down every
 * environment whose expires_at has passed and resumes every environment
 * left `creating`/`deleting` by a process that is gone (its lock is free
 * and its record has not changed for a grace period): a `deleting` env is
 * torn down, a `creating` one is reconciled again from its recorded
 * template and parameters, keeping its expiry.
 *
 * Several reapers may sweep the same state at once (PostgreSQL backend,
 * several machines): each env is taken with a try-lock and skipped when
 * another process holds it, and the decision is checked again under the
 * lock, so no env is torn down twice and no reaper waits for another.
 * Independent envs are handled concurrently, up to `parallel` at once.
 *
 * A sweep that ran (the state could be listed) stores a heartbeat in the
 * state (sf_state_meta "reaper"): when it finished, how long it took, who
 * ran it, the watch interval and the counts, so `list` and `status` can
 * show a reaper that stopped sweeping.
 */

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "stagefork/config.h"
#include "stagefork/env.h"
#include "stagefork/error.h"

#define SF_REAP_DEFAULT_GRACE 600 /* seconds */
#define SF_REAP_DEFAULT_PARALLEL 4

typedef struct sf_reap_opts {
    int dry_run;          /* decide and report, take no lock, change nothing, no heartbeat */
    size_t max;           /* act on at most this many envs per sweep (most overdue first); 0 = all */
    size_t parallel;      /* envs handled at once; 0 = SF_REAP_DEFAULT_PARALLEL */
    int64_t grace;        /* seconds an interrupted env must be unchanged; 0 = SF_REAP_DEFAULT_GRACE */
    double interval;      /* seconds between sweeps (--watch), recorded in the heartbeat; 0 = one-shot */
    volatile int *stop;   /* non-zero: start no further env; those in hand are finished */
    /* Each env's result (an item of the report's "envs") as soon as it is known; calls are serialized. */
    void (*on_env)(const json_t *item, void *ud);
    void *ud;
} sf_reap_opts;

/*
 * One sweep over the state at state_url (NULL: as sf_engine_new resolves
 * it); cfg is borrowed. *out is a new report:
 *   {"dry_run", "started_at", "finished_at", "seconds",
 *    "counts": {"candidates", "deleted", "resumed", "incomplete", "failed", "skipped", "deferred"},
 *    "envs": [{"branch", "slug", "action": "delete"|"resume",
 *              "reason": "expired"|"interrupted", "since": RFC 3339,
 *              "result": "deleted"|"resumed"|"incomplete"|"failed"|"skipped"
 *                        |"would-delete"|"would-resume",
 *              "detail", "error", "removed": [{"name", "type", "id"}],
 *              "remaining": [{"name", "type", "id", "error"}]}]}
 * ("deferred": candidates left for the next sweep by `max` or `stop`).
 * Returns 0; SF_EINCOMPLETE when an env could not be fully removed (it is
 * kept in the state and retried next sweep); SF_EIO when an interrupted
 * env could not be resumed; another code (and *out NULL) when the sweep
 * could not run at all. The report is set whenever the sweep ran.
 */
int sf_reap_sweep(json_t **out, const sf_config *cfg, const char *state_url, const sf_reap_opts *opts,
                  sf_error *err);

/*
 * The last heartbeat stored by a reaper (new reference), or *out = NULL
 * when no reaper ever finished a sweep on this state:
 *   {"last_sweep", "started_at", "seconds", "host", "pid", "interval"
 *    (seconds or null), "counts": {..}, "version",
 *    "age": seconds since last_sweep (now, STAGEFORK_NOW honoured),
 *    "stale": true when a --watch reaper is more than 3 intervals + 60 s
 *             late; null for a one-shot reaper (cron decides its own period)}
 */
int sf_reap_heartbeat(json_t **out, sf_engine *e);

#endif
