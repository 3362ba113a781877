#ifndef SF_CORE_SNAPSTORE_H
#define SF_CORE_SNAPSTORE_H
/*
 * Snapshot stores (internal): where `<NAME>/<ID>.tar.zst` archives live —
 * a directory or an S3 prefix — behind one streaming interface. Writers
 * commit atomically (temp file + rename, or a completed multipart upload),
 * so a failed create never leaves a visible archive. Readers stream
 * (ranged GETs on S3); each reader and writer has its own connection, so
 * several may run at once on different threads.
 */

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>
#include "stagefork/snapshot.h"

typedef struct sf_store_writer sf_store_writer;
typedef struct sf_store_reader sf_store_reader;

/* IDs look like 20261121T221500Z. */
#define SF_SNAP_ID_LEN 16
int sf_snap_id_valid(const char *id);
/* The ID for unix time t. */
void sf_snap_id_format(char out[SF_SNAP_ID_LEN + 1], int64_t t);

/*
 * Archives of `name` (or of every name when NULL) as [{name, id, size}],
 * sorted by name then id (= oldest first).
 */
int sf_store_list(json_t **out, sf_snap_store *st, const char *name, sf_error *err);
/* 0 if NAME/ID exists, SF_ENOTFOUND if not. */
int sf_store_exists(sf_snap_store *st, const char *name, const char *id, sf_error *err);
int sf_store_delete(sf_snap_store *st, const char *name, const char *id, sf_error *err);

/* Start writing NAME/ID; nothing is visible until commit. SF_EEXIST if it exists already. */
int sf_store_writer_open(sf_store_writer **out, sf_snap_store *st, const char *name, const char *id, sf_error *err);
int sf_store_write(sf_store_writer *w, const void *data, size_t len);
/* The writer's error (after a failed write). */
const sf_error *sf_store_writer_error(const sf_store_writer *w);
/* Make the archive visible and free w (also on failure). */
int sf_store_writer_commit(sf_store_writer *w, sf_error *err);
/* Throw away what was written and free w; NULL is a no-op. */
void sf_store_writer_abort(sf_store_writer *w);

int sf_store_reader_open(sf_store_reader **out, sf_snap_store *st, const char *name, const char *id, sf_error *err);
/* Up to len bytes; 0 at the end; < 0 on error (message in sf_store_reader_error). */
ssize_t sf_store_read(sf_store_reader *r, void *buf, size_t len);
const sf_error *sf_store_reader_error(const sf_store_reader *r);
/* The archive's size in bytes. */
long long sf_store_reader_size(const sf_store_reader *r);
void sf_store_reader_close(sf_store_reader *r);

/* The config the store was opened with (may be NULL). */
const sf_config *sf_store_config(const sf_snap_store *st);

#endif
