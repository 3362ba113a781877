#ifndef STAGEFORK_NAMES_H
#define STAGEFORK_NAMES_H
/* Branch slugs and the deterministic names of created resources (SPEC §3). */

#include <stddef.h>
#include "stagefork/buf.h"

/*
 * slug(branch): lowercase; each run of characters outside [a-z0-9] becomes
 * one '-'; '-' trimmed at both ends; empty becomes "env". If that changed
 * anything other than ASCII case folding, or the result is longer than 40,
 * it is cut to 40 (and re-trimmed of a trailing '-') and '-' + the first 6
 * hex digits of SHA-256(branch) are appended. Result is at most 47 bytes.
 */
int sf_slug(sf_buf *out, const char *branch);
/* env.ident: the slug with '-' replaced by '_'. */
int sf_slug_ident(sf_buf *out, const char *slug);

/*
 * A resource name: parts joined by `sep` ("sf", "feature_x", "erp" -> "sf_feature_x_erp").
 * If longer than `max` bytes it keeps the first part (the prefix) and is cut
 * deterministically, ending in sep + 8 hex digits of SHA-256 of the full
 * name, so the same inputs always give the same name and different long
 * names stay distinct. Names for PostgreSQL use sep '_' and max 63; S3
 * buckets '-' and 63; DNS labels '-' and 63.
 */
int sf_name_make(sf_buf *out, char sep, size_t max, const char *const *parts, size_t nparts);

#endif
