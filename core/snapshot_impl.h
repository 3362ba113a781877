#ifndef SF_CORE_SNAPSHOT_IMPL_H
#define SF_CORE_SNAPSHOT_IMPL_H
/*
 * Shared by the snapshot files (internal): the manifest (canonical form,
 * signature), streaming archive readers over a store, and libpq helpers.
 */

#include <libpq-fe.h>
#include <openssl/evp.h>
#include "snapstore.h"
#include "stagefork/buf.h"
#include "stagefork/snapshot.h"

#define SF_SNAP_FORMAT "stagefork-snapshot"
#define SF_SNAP_VERSION 1
#define SF_SNAP_MANIFEST "manifest.json"
#define SF_SNAP_PRE "schema/pre-data.sql"
#define SF_SNAP_SEQ "schema/sequences.sql"
#define SF_SNAP_POST "schema/post-data.sql"
#define SF_SNAP_HMAC_PURPOSE "snapshot-manifest-hmac"
#define SF_SNAP_SCHEMA_MAX ((size_t)1 << 30)  /* a schema member is held in memory */
#define SF_SNAP_MANIFEST_MAX ((size_t)64 << 20)

/* Set m.signature = HMAC-SHA256(subkey, canonical(m without signature)). */
int sf_manifest_sign(json_t *m, const sf_mask_key *key, sf_error *err);
/*
 * Check the signature, the format/version, masked: true, and (when given)
 * that name and id are the ones the archive is stored under. SF_ECRYPTO /
 * SF_EFORMAT.
 */
int sf_manifest_check(const json_t *m, const sf_mask_key *key, const char *name, const char *id, sf_error *err);
/* The member entry {name,size,sha256} of `member`, or NULL. */
json_t *sf_manifest_member(const json_t *m, const char *member);

/* A streaming reader of one archive's members (libarchive over a store reader). */
typedef struct sf_arc sf_arc;
int sf_arc_open(sf_arc **out, sf_snap_store *st, const char *name, const char *id, sf_error *err);
void sf_arc_close(sf_arc *a);
/* Next member: 0 with *path (borrowed) and *size, SF_ENOTFOUND at the end, < 0 on error (in err). */
int sf_arc_next(sf_arc *a, const char **path, long long *size, sf_error *err);
/* Read the current member's data: > 0 bytes, 0 at its end, < 0 on error (in err). */
long sf_arc_read(sf_arc *a, void *buf, size_t len, sf_error *err);
/* Skip the rest of the current member. */
int sf_arc_skip(sf_arc *a, sf_error *err);
/*
 * Read the whole current member into out (at most max bytes), checking its
 * size and SHA-256 against the manifest entry when entry is non-NULL.
 */
int sf_arc_slurp(sf_arc *a, sf_buf *out, size_t max, const json_t *entry, const char *path, sf_error *err);
/*
 * Open NAME/ID and read its first member, which must be manifest.json;
 * *manifest is unverified (call sf_manifest_check). The archive stays
 * positioned after the manifest.
 */
int sf_arc_open_manifest(sf_arc **out, json_t **manifest, sf_snap_store *st, const char *name, const char *id,
                         sf_error *err);

/* Lowercase hex of a 32-byte digest. */
void sf_hex32(char out[65], const unsigned char d[32]);

/* libpq: the primary message of a result or connection, trimmed, into err with a prefix. */
int sf_pq_error(sf_error *err, PGconn *c, PGresult *r, const char *fmt, ...) SF_PRINTF(4, 5);
/* Run a command that returns no rows (or any rows, ignored); SF_EDB with the prefix. */
int sf_pq_exec(PGconn *c, const char *sql, sf_error *err, const char *what);
/* Connect to dsn (dbname overrides the DSN's database when non-NULL), client_encoding UTF8. */
int sf_pq_connect(PGconn **out, const char *dsn, const char *dbname, const char *appname, sf_error *err);
/* Remove psql's \restrict / \unrestrict lines from a pg_dump script (in place). */
void sf_strip_restrict(sf_buf *script);
/* Run a whole SQL script (many statements) in one PQexec; errors name `what`:line:column. */
int sf_pq_script(PGconn *c, const sf_buf *script, const char *what, sf_error *err);

#endif
