#ifndef SF_CORE_PROVIDERS_POSTGRES_H
#define SF_CORE_PROVIDERS_POSTGRES_H
/* postgres.database beyond the provider interface (internal): refresh. */

#include <jansson.h>
#include "stagefork/provider.h"

/*
 * Rebuild the database of a created postgres.database resource (ctx as
 * for destroy: spec rendered, ctx->name the recorded physical name) from
 * the newest snapshot of `snapshot` (NULL: the spec's from.snapshot):
 * clone the golden template beside the live database, then under a short
 * lock stop new connections, terminate sessions and swap the names, and
 * drop the old one. Role, password and URL stay the same. *report gets
 * {database, snapshot, template, template_built, downtime_ms, seconds}.
 */
int sf_postgres_refresh(sf_resource_ctx *ctx, const char *snapshot, json_t **report);

#endif
