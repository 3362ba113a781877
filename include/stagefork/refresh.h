#ifndef STAGEFORK_REFRESH_H
#define STAGEFORK_REFRESH_H
/*
 * `refresh BRANCH` (SPEC §6): rebuild a persistent environment's snapshot
 * databases from the newest snapshot with a near-zero-downtime name swap.
 */

#include <jansson.h>
#include "stagefork/env.h"

/*
 * For every postgres.database of BRANCH's env built `from: {snapshot}`
 * (or every postgres.database when `snapshot` names one to use instead):
 * clone the golden template of the newest snapshot beside the live
 * database, then stop new connections, terminate sessions, swap the names
 * in one transaction and drop the old database. The env's outputs (URL,
 * role, password) do not change. Runs under the env's lock; only for
 * persistent envs (`ttl: none`, SF_EUSAGE otherwise). *out is
 * {branch, slug, resources: [{name, database, snapshot, template,
 * template_built, downtime_ms, seconds}], downtime_ms (the longest)}.
 * The error is on the engine (sf_engine_error).
 */
int sf_env_refresh(json_t **out, sf_engine *e, const char *branch, const char *snapshot);

#endif
