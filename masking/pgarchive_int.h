#ifndef SF_MASKING_PGARCHIVE_INT_H
#define SF_MASKING_PGARCHIVE_INT_H
/*
 * Internals shared by the archive format drivers (pgarchive_custom.c,
 * pgarchive_dir.c, pgarchive_tar.c) and their callers: the table hooks a
 * rewrite runs every table's COPY data through (the masker, or the identity
 * hooks the format tests use), the per-run state, and the COPY line pump.
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"
#include "stagefork/mask.h"
#include "pgarchive_io.h"
#include "pgarchive_toc.h"

/*
 * What a rewrite does to the data. ddl/begin/end/abort run on the
 * coordinating thread; line runs on a worker thread, one table per thread
 * at a time.
 */
typedef struct pga_ops {
    void *ud;
    int decode_all; /* decode and re-encode even identity tables (format tests) */
    /* A TABLE/DOMAIN/TYPE definition; scs = the archive's standard_conforming_strings. */
    int (*ddl)(void *ud, const char *sql, size_t len, int scs, sf_error *err);
    /* *table = NULL or *identity = 1: the table's bytes are copied verbatim. */
    int (*begin)(void *ud, const char *copy_stmt, size_t len, void **table, int *identity, sf_error *err);
    /* Append the transformed line (no newline) to out; lineno counts from 1
       within the table's data and belongs in error messages. */
    int (*line)(void *table, uint64_t lineno, const char *line, size_t len, sf_buf *out, sf_error *err);
    /* Rows of a table copied verbatim (counted, not decoded); may be NULL. */
    void (*rows)(void *table, uint64_t n);
    int (*end)(void *ud, void *table, sf_error *err);
    void (*abort)(void *ud, void *table);
} pga_ops;

typedef struct pga_plan {
    void *table;
    int open;      /* begin succeeded, end/abort not yet called */
    int transform; /* data goes through ops->line */
    int seen;      /* a data block/member/file was found for it */
} pga_plan;

typedef struct pga_stats {
    uint64_t bytes_in, bytes_out;
} pga_stats;

typedef struct pga_job {
    const pga_ops *ops;
    const char *in, *out;
    int jobs;
    pga_toc toc;
    pga_plan *plans; /* one per TOC entry */
    pga_stats stats; /* archive bytes read and written (set by the drivers) */
} pga_job;

/*
 * Feed every TOC entry's definition to ops->ddl, then begin a plan for every
 * TABLE DATA entry, so a strict-mode refusal happens before any data is
 * written. `where` names the archive for messages.
 */
int pga_job_prepare(pga_job *j, const char *where, sf_error *err);
/* End the plan of entry idx (on the coordinating thread, in output order). */
int pga_job_end(pga_job *j, size_t idx, sf_error *err);
/* End the plans of tables whose data never appeared. */
int pga_job_end_rest(pga_job *j, sf_error *err);
/* Abort every open plan and free the plans and the TOC. */
void pga_job_free(pga_job *j);

/* An output file: a temp file beside `out`, renamed over it by commit;
   "-" is stdout (fd 1). */
typedef struct pga_outfile {
    int fd;
    char *tmp;       /* NULL for stdout */
    const char *out;
} pga_outfile;

int pga_outfile_open(pga_outfile *f, const char *out, sf_error *err);
int pga_outfile_commit(pga_outfile *f, sf_error *err);
/* Remove the temp file (error path); safe after commit. */
void pga_outfile_discard(pga_outfile *f);

/* A 512-byte block is a ustar (POSIX or GNU) header with a valid checksum. */
int pga_tar_header_ok(const unsigned char *h);

/* An input file: "-" is stdin. seekable = a regular file we can pread. */
int pga_open_input(const char *path, int *fd, int *seekable, uint64_t *size, sf_error *err);

/* ---- COPY text pump (pgarchive_copy.c) ---------------------------------- */

typedef struct pga_copy {
    const pga_ops *ops;
    void *table;
    pga_sink_fn sink;
    void *ud;
    sf_buf part, out;
    int ended;           /* the "\." line has passed */
    uint64_t lineno;
} pga_copy;

void pga_copy_init(pga_copy *c, const pga_ops *ops, void *table, pga_sink_fn sink, void *ud);
/* pga_sink_fn: ud is a pga_copy. Splits lines, transforms rows, passes the
   "\." terminator and what follows it verbatim. */
int pga_copy_feed(void *ud, const void *p, size_t n, sf_error *err);
/* A last line without a newline before "\." is SF_EFORMAT. */
int pga_copy_finish(pga_copy *c, sf_error *err);
void pga_copy_free(pga_copy *c);

/*
 * Row counter for tables copied verbatim: counts the COPY lines before "\."
 * in (possibly compressed) table data without decoding any field, so the
 * report has their row counts and corrupt data is still caught.
 */
typedef struct pga_rows {
    int zmode;          /* how the fed bytes are compressed (PGA_Z_*) */
    pga_zr zr;
    uint64_t rows, fed;
    int ended;
    size_t linelen;
    char c0, c1;
} pga_rows;

int pga_rows_init(pga_rows *r, int zmode, sf_error *err);
/* pga_sink_fn: ud is a pga_rows. */
int pga_rows_feed(void *ud, const void *p, size_t n, sf_error *err);
int pga_rows_finish(pga_rows *r, sf_error *err);
void pga_rows_free(pga_rows *r);

/* A sink that passes every piece to two sinks. */
typedef struct pga_tee {
    pga_sink_fn a, b;
    void *ua, *ub;
} pga_tee;

int pga_tee_sink(void *ud, const void *p, size_t n, sf_error *err);

/* ---- format drivers ------------------------------------------------------ */

int pga_custom_run(pga_job *j, sf_error *err);
int pga_dir_run(pga_job *j, sf_error *err);
int pga_tar_run(pga_job *j, sf_error *err);
/* Read only the archive's header and TOC into j->toc (for --check). */
int pga_custom_load_toc(pga_job *j, sf_error *err);
int pga_dir_load_toc(pga_job *j, sf_error *err);
int pga_tar_load_toc(pga_job *j, sf_error *err);

/*
 * Read an archive's TOC and run ops' ddl and begin hooks on it (begin may
 * return no table), writing nothing: what --check needs to learn a dump.
 */
int pga_learn(const pga_ops *ops, sf_mask_format fmt, const char *in, sf_error *err);

/*
 * Rewrite an archive of format fmt from in to out through ops, with up to
 * `jobs` workers. The output keeps the input's format, header and TOC; on
 * error the partial output is removed. stats (may be NULL) gets the bytes
 * read and written.
 */
int pga_rewrite(const pga_ops *ops, sf_mask_format fmt, const char *in, const char *out, int jobs,
                pga_stats *stats, sf_error *err);

#endif
