#ifndef STAGEFORK_GC_H
#define STAGEFORK_GC_H
/*
 * Orphan collection (`stagefork gc`, SPEC §2): resources that carry the
 * configured prefix but belong to no live environment in the state.
 *
 * Where it looks: every PostgreSQL server and S3 endpoint the config names
 * (postgres.admin_url; s3.endpoint with s3.region / s3.access_key /
 * s3.secret_key / s3.session_token, else AWS_ACCESS_KEY_ID / ...) plus
 * every server and endpoint recorded in the state's resources (live and
 * deleted envs), and this machine's local state files (process pid files).
 *
 * What counts as stagefork's (docs/operations.md lists it exactly):
 *  - a database or role named <prefix>_… whose COMMENT is the
 *    postgres.database provider's ownership marker
 *    "stagefork:<env id>/<resource> <state>" (a database without a comment
 *    counts when its owner is the same-named marked role);
 *  - a bucket named <prefix>-… that the state records as an s3.bucket of
 *    some env (S3 buckets carry no marker; a prefixed bucket the state has
 *    no record of is listed as "kept", never removed);
 *  - a process whose pid file lies in <local state>/files/<slug>/ (the
 *    process.service provider's), signalled only while its start time
 *    matches; and such a directory once no live env owns the slug.
 * It is an orphan when no live env records it (and, for databases and
 * roles, its marker names no live env).
 * Golden templates (`<prefix>_tpl_…`, see snapshot.h) are collected when
 * nothing needs them: no database on the server was cloned from them and
 * they are not built from the newest snapshot of their name; each is
 * dropped by sf_golden_drop under its build lock after checking again.
 * Without snapshots.store in the config they are not judged at all. Nothing matching guard.protected,
 * or on a host guard.allow_hosts does not allow, is ever touched.
 * Removal goes through the providers' own destroy, under the owning env's
 * lock (try-lock: an env in use is skipped) after the state is read again.
 */

#include <jansson.h>
#include "stagefork/config.h"
#include "stagefork/error.h"

typedef struct sf_gc_opts {
    int orphans;    /* look for orphaned resources */
    int templates;  /* golden templates nothing needs (the CLI always sets it) */
    int dry_run;    /* list, remove nothing */
} sf_gc_opts;

/*
 * One collection over the state at state_url (NULL: as sf_engine_new
 * resolves it); cfg is borrowed. *out is a new report:
 *   {"dry_run",
 *    "targets": [{"kind": "postgres"|"s3"|"local", "target", "from": "config"|"state"|"local", "found", "error"?}],
 *    "orphans": [{"kind": "database"|"role"|"bucket"|"process"|"files"|"template", "target", "name",
 *                 "env", "env_id", "resource", "snapshot", "result": "removed"|"would-remove"|"failed"
 *                 |"skipped"|"kept", "detail", "error"}],
 *    "templates": {"supported", "checked": servers looked at, "detail"?} (null without opts->templates),
 *    "counts": {"orphans", "removed", "failed", "skipped", "kept", "would-remove"}}
 * Targets are shown without passwords. Returns 0; SF_EINCOMPLETE when an
 * orphan could not be removed; SF_EIO when a target named by the config
 * could not be listed (targets known only from the state are reported but
 * do not fail the run: they may be long gone); other codes (and *out
 * NULL) when the state cannot be read.
 */
int sf_gc(json_t **out, const sf_config *cfg, const char *state_url, const sf_gc_opts *opts, sf_error *err);

#endif
