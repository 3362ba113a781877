#ifndef SF_CORE_GC_IMPL_H
#define SF_CORE_GC_IMPL_H
/*
 * Shared by gc.c (decisions, removal) and gc_scan.c (listing what exists)
 * (internal). A found object is a JSON object: the report's fields (kind,
 * target, name, env_id, resource, env) plus hidden ones starting with '_'
 * that never reach the report: _type (provider), _spec (the spec its
 * destroy needs, credentials included), _prior (prior outputs), _host,
 * _has_db / _has_role / _marked (PostgreSQL), _dir (process files).
 */

#include <jansson.h>
#include "stagefork/config.h"
#include "stagefork/error.h"

/*
 * Databases and roles named <prefix>_… on the server at dsn (an admin
 * libpq URL or key=value DSN), appended to found. shown is the target as
 * reported (no password). Objects get _marked when they carry the
 * postgres.database ownership marker, with env_id and resource from it.
 */
int sf_gc_scan_pg(json_t *found, const char *dsn, const char *shown, const char *prefix, sf_error *err);

/* Buckets named <prefix>-… at the endpoint of spec (endpoint, region, access_key, secret_key, session_token). */
int sf_gc_scan_s3(json_t *found, const json_t *spec, const char *shown, const char *prefix, const sf_config *cfg,
                  sf_error *err);

/* Pid files <files_dir>/<slug>/<name>.pid (process) and the <slug> directories themselves (files). */
int sf_gc_scan_local(json_t *found, const char *files_dir, sf_error *err);

/* "stagefork:<32 hex>/<resource> <state>" -> env id and resource (malloc'd); 0 if it is not a marker. */
int sf_gc_parse_marker(const char *comment, char **env_id, char **resource);

#endif
