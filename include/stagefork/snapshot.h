#ifndef STAGEFORK_SNAPSHOT_H
#define STAGEFORK_SNAPSHOT_H
/*
 * Masked, signed database snapshots (SPEC §6) and the golden template
 * databases built from them.
 *
 *   store = sf_snap_store_open("/var/lib/snaps" | "s3://bucket/prefix", cfg)
 *   sf_snapshot_create(&manifest, store, &create_opts, &err)
 *   sf_snapshot_list / _verify / _restore / _prune
 *
 * An archive is `<store>/<NAME>/<ID>.tar.zst` (ID = UTC time such as
 * 20261121T221500Z): a zstd-compressed tar whose first member is
 * manifest.json (signed with an HMAC-SHA256 subkey of the masking key),
 * then schema/pre-data.sql, one data/NNNNN.copy member per table (masked
 * COPY text), schema/sequences.sql and schema/post-data.sql.
 * docs/snapshots.md describes the format.
 *
 * Manifests handed out are new JSON references (the caller decrefs them);
 * they hold no secret.
 */

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "stagefork/config.h"
#include "stagefork/error.h"
#include "stagefork/mask.h"

/* ---- stores ---------------------------------------------------------- */

typedef struct sf_snap_store sf_snap_store;

/*
 * Open a store: a directory path (created on the first write, 0700), or
 * s3://bucket/prefix reached through the S3 settings of the config
 * (s3.endpoint, s3.region, s3.access_key, s3.secret_key,
 * s3.session_token; else $AWS_ENDPOINT_URL, $AWS_REGION,
 * $AWS_ACCESS_KEY_ID, ...). Guard rules (allow_hosts) apply to the S3
 * endpoint. url NULL or empty is SF_EUSAGE. cfg is borrowed (may be NULL)
 * and must outlive the store.
 */
int sf_snap_store_open(sf_snap_store **out, const char *url, const sf_config *cfg, sf_error *err);
void sf_snap_store_free(sf_snap_store *st);
/* The URL the store was opened with. */
const char *sf_snap_store_url(const sf_snap_store *st);

/* ---- keys ------------------------------------------------------------- */

/*
 * The masking key the snapshot verbs use, in this order: key_file /
 * key_env (command line), then the `key:` of the policy (policy_path, else
 * config masking.policy; a relative key file is relative to the policy),
 * then config masking.key_env / masking.key_file. SF_EUSAGE when none is
 * configured. Every snapshot verb resolves the key the same way, so the
 * key that signed an archive is the one that verifies it.
 */
int sf_snapshot_key_resolve(sf_mask_key **out, const sf_config *cfg, const char *policy_path, const char *key_file,
                            const char *key_env, sf_error *err);

/* ---- snapshots ---------------------------------------------------------- */

/* NAME: 1-100 bytes of [A-Za-z0-9._-], not starting with '.' or '-'. */
int sf_snapshot_name_valid(const char *name);

typedef struct sf_snap_create_opts {
    const char *name;
    const char *from_dsn;              /* source database (libpq DSN or URL) */
    const sf_mask_policy *policy;      /* mandatory */
    const sf_mask_key *key;            /* mandatory: masks and signs */
    int strict;                        /* < 0: the policy's setting */
    int jobs;                          /* connections on one exported snapshot; 0 = 1 */
    const char *pg_bindir;             /* directory of pg_dump; NULL = $STAGEFORK_PG_BINDIR, else $PATH */
    const char *tmpdir;                /* spill directory for MASKED table data; NULL = $TMPDIR, else /tmp */
    int zstd_level;                    /* 0 = 3 */
    const sf_config *cfg;              /* may be NULL; the source is only read, so no guard applies to it */
    volatile int *cancel;              /* non-zero stops the dump; may be NULL */
} sf_snap_create_opts;

/*
 * Dump `from_dsn` into a new archive NAME/ID: the schema by pg_dump
 * (--section=pre-data / post-data, --snapshot), every table's rows by
 * `COPY ... TO STDOUT` through the masker in this process, all from one
 * exported snapshot shared by `jobs` connections (largest tables first).
 * Unmasked rows never leave the process; masked rows are spilled to
 * unlinked temp files because a tar member needs its size up front. A
 * strict-mode violation (SF_EPOLICY) is found for every table before any
 * row is read; any failure stores nothing. *out is the manifest.
 */
int sf_snapshot_create(json_t **out, sf_snap_store *st, const sf_snap_create_opts *o, sf_error *err);

/*
 * Archives in the store, oldest first: [{name, id, size, created_at,
 * tables, rows, signature ("ok", "bad" or "unchecked" when key is NULL)}].
 * name NULL lists every snapshot. Only each manifest is read.
 */
int sf_snapshot_list(json_t **out, sf_snap_store *st, const char *name, const sf_mask_key *key, sf_error *err);

/*
 * Split "NAME" or "NAME@ID" and find the archive: without @ID the newest
 * one. *id is a new string (free() it). SF_ENOTFOUND when there is none.
 */
int sf_snapshot_resolve(char **name, char **id, sf_snap_store *st, const char *ref, sf_error *err);

/*
 * Read the whole archive: the manifest's signature first, then every
 * member's size and SHA-256, and that the members are exactly the ones the
 * manifest lists. SF_ECRYPTO for a bad signature or a wrong key,
 * SF_EFORMAT for a damaged archive or member. *out is the manifest.
 */
int sf_snapshot_verify(json_t **out, sf_snap_store *st, const char *ref, const sf_mask_key *key, sf_error *err);

typedef struct sf_snap_restore_opts {
    const char *ref;                   /* NAME or NAME@ID */
    const char *to_dsn;                /* target database */
    const char *dbname;                /* overrides the DSN's database; may be NULL */
    int jobs;                          /* parallel table loads; 0 = 1 */
    const sf_mask_key *key;            /* verifies the signature */
    const sf_config *cfg;              /* guard checks on the target; may be NULL */
    volatile int *cancel;
} sf_snap_restore_opts;

/*
 * Restore into an existing (normally empty) database: verify the
 * manifest's signature before anything is loaded, run the pre-data schema
 * (after checking its checksum), stream every table member into COPY FROM
 * STDIN on `jobs` connections, each checked against its checksum while
 * streaming, commit the rows only once every member has verified, then set
 * sequences and run the post-data schema (indexes, constraints). A member
 * that fails aborts the restore (SF_EFORMAT): no rows are committed; the
 * schema created before stays. *out (may be NULL) gets the manifest.
 */
int sf_snapshot_restore(json_t **out, sf_snap_store *st, const sf_snap_restore_opts *o, sf_error *err);

/*
 * Delete all but the newest `keep` archives of NAME (keep >= 0). *out is
 * the array of removed ids.
 */
int sf_snapshot_prune(json_t **out, sf_snap_store *st, const char *name, int keep, sf_error *err);

/* ---- golden templates (for gc) ----------------------------------------- */

/*
 * Golden template databases (`<prefix>_tpl_<key12>`) on the server
 * `server_dsn` that nothing needs any more: no database on that server was
 * cloned from it (a live env's database records its template) and it was
 * not built from the newest snapshot of its NAME in the configured store.
 * *out is an array of {name, snapshot, id, key, reason}. Nothing is
 * changed. If the store cannot be read the error is returned: a template
 * is never called unneeded on a guess.
 */
int sf_golden_unneeded(json_t **out, const char *server_dsn, const sf_config *cfg, sf_error *err);

/*
 * Drop one golden template, under its build lock and only if it is still
 * unneeded (checked again under the lock), so a concurrent `up` that is
 * about to clone it is never broken. SF_EEXIST if it became needed,
 * success if it is already gone.
 */
int sf_golden_drop(const char *server_dsn, const sf_config *cfg, const char *name, sf_error *err);

#endif
