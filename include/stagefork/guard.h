#ifndef STAGEFORK_GUARD_H
#define STAGEFORK_GUARD_H
/* Guardrails from the config's `guard:` section, enforced by every provider. */

#include "stagefork/config.h"
#include "stagefork/error.h"

/*
 * One call for providers before they touch anything:
 *  - `host` (may be NULL) must match guard.allow_hosts when that list is
 *    non-empty (glob patterns, case-insensitive), and must not match any
 *    guard.protected pattern;
 *  - `name` (a database/bucket/resource name, may be NULL) must not match
 *    any guard.protected pattern.
 * Refusal is SF_EGUARD with a message naming the pattern.
 * A NULL cfg allows everything.
 */
int sf_guard_check(const sf_config *cfg, const char *host, const char *name, sf_error *err);

/* Host part of a URL or libpq DSN ("postgres://u:p@h:5432/db", "host=h dbname=x",
   "http://h:9000/"), lowercased, without port or brackets. */
int sf_guard_host_of(sf_buf *out, const char *url);

#endif
