#ifndef SF_MASKING_PLAIN_PAR_H
#define SF_MASKING_PLAIN_PAR_H
/*
 * The rows of one COPY block masked by several threads (plain.c with -j N).
 * The reading thread cuts the block's data into chunks of complete lines
 * and adds them in input order; worker threads mask chunks, each with a
 * table handle of its own opened on the same COPY statement; the masked
 * chunks are handed to the emit callback on the reading thread strictly in
 * input order. Every rule is deterministic, so the output is the same bytes
 * as one thread's. A bounded number of chunks is in flight (3 per thread).
 */

#include <stddef.h>
#include <stdint.h>
#include "maskerint.h"

typedef struct sf_plainpar sf_plainpar;

/* Write n masked bytes; runs on the thread that calls add/drain. 0 or SF_E* with err set. */
typedef int (*sf_plainpar_emit)(void *ctx, const char *s, size_t n, sf_error *err);

/*
 * A parallel masker for up to `jobs` worker threads (jobs >= 2) writing
 * through emit. No thread runs until a table has more than one chunk.
 * Free it with sf_plainpar_free.
 */
int sf_plainpar_new(sf_plainpar **out, int jobs, sf_plainpar_emit emit, void *ctx, sf_error *err);

/*
 * Start a table: t is the caller's handle, opened on copy_stmt (the COPY
 * ... FROM stdin statement, copied here), not identity; it stays the
 * caller's (end it or abort it after sf_plainpar_end). Workers open more
 * handles on the same statement as they need them.
 */
int sf_plainpar_begin(sf_plainpar *pp, sf_mask_table *t, const char *copy_stmt, size_t len, sf_error *err);

/*
 * Add the next chunk of the table's data: complete lines (data[len-1] is
 * '\n'), none of them the \. line; the first is input line line0. With
 * stable set the bytes stay valid and unchanged until sf_plainpar_end and
 * are used in place, else they are copied. May emit earlier chunks and
 * wait for one when the in-flight bound is reached. Errors: the first
 * failing chunk's (in input order) or emit's.
 */
int sf_plainpar_add(sf_plainpar *pp, const char *data, size_t len, int stable, uint64_t line0, sf_error *err);

/*
 * Mask and emit every chunk added so far. The first failing chunk's error
 * (nothing after it is emitted) or emit's.
 */
int sf_plainpar_drain(sf_plainpar *pp, sf_error *err);

/*
 * End the table: stop and join the workers, drop chunks not emitted, and
 * fold the workers' handles into the report (ok) or abort them (!ok), so
 * that each row is counted once, by the handle that masked it. Returns 0
 * or the fold's error (on the masker).
 */
int sf_plainpar_end(sf_plainpar *pp, int ok);

/* Free pp (after sf_plainpar_end of its last table). NULL is fine. */
void sf_plainpar_free(sf_plainpar *pp);

#endif
