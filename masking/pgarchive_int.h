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
#include "pgarchive_run.h"
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
    /* Optional, instead of line for consecutive rows: append each transformed
       line followed by its own end (lines[i].eol bytes); the first line is
       lineno. Same bytes and errors as line once per row, rows in batches. */
    int (*lines)(void *table, uint64_t lineno, const sf_mask_line *lines, size_t n, sf_buf *out, sf_error *err);
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
   "-" is stdout (fd 1); an existing device or FIFO is opened and written in place. */
typedef struct pga_outfile {
    int fd;
    int own_fd;      /* fd is an opened device/FIFO: closed by commit/discard, nothing renamed */
    char *tmp;       /* NULL for stdout and devices */
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

#define PGA_COPY_BATCH 64 /* rows handed to ops->lines at a time */

typedef struct pga_copy {
    const pga_ops *ops;
    void *table;
    pga_sink_fn sink;
    void *ud;
    sf_buf part, out;
    int ended;           /* the "\." line has passed */
    uint64_t lineno;
    sf_mask_line batch[PGA_COPY_BATCH]; /* rows of the piece being fed, waiting for ops->lines */
    size_t nbatch;
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

/* ---- pieces (pgarchive_piece.c) ------------------------------------------
 *
 * A masked table's decoded COPY text is cut at line boundaries into pieces
 * of about PGA_PIECE bytes, each masked (and compressed as a raw deflate
 * piece) by a worker into its own spool; the coordinator writes them in
 * order inside one zlib/gzip container whose check value it combines from
 * the pieces'. Piece boundaries depend only on the input, so the output is
 * the same for any number of workers, and one huge table keeps every worker
 * busy. A table under PGA_PIECE bytes is one piece. Tests may shrink the
 * piece size with STAGEFORK_ARCHIVE_PIECE_BYTES (it changes the output's
 * bytes, not its content).
 */

#define PGA_PIECE ((size_t)2 << 20)
enum { PGA_UNIT_PIECE = 100 };

/* Per-table state shared by its pieces (touched on the coordinating thread only). */
typedef struct pga_tstate {
    int refs;
    size_t idx;          /* TOC entry */
    int zmode;           /* output container: PGA_Z_NONE, PGA_Z_ZLIB or PGA_Z_GZIP */
    int level;
    uint32_t check;      /* combined check value of the pieces written so far */
    uint64_t tlen;       /* their masked, uncompressed bytes */
    void *fmt;           /* the format's own per-table output state */
    void (*fmt_free)(void *fmt);
} pga_tstate;

typedef struct pga_piece {
    pga_unit u;          /* kind PGA_UNIT_PIECE */
    pga_tstate *ts;
    uint32_t k;          /* piece number within the table */
    int last;
    sf_buf text;         /* unmasked input lines (freed once masked) */
    uint64_t first_line; /* line number of its first line within the table */
    void *table;         /* table hook handle; piece 0 uses the plan's */
    pga_spool spool;     /* masked output (raw deflate piece when compressed) */
    uint32_t check;      /* check value of its masked, uncompressed bytes */
    uint64_t tlen;
} pga_piece;

/* Worker side: mask p->text into p->spool. */
int pga_piece_work(const pga_job *j, pga_piece *p, pga_runner *run, sf_error *err);
/* Coordinator side, in order: fold p's check value into its table's; then
   end its table handle (piece 0: the plan's). */
int pga_piece_done(pga_job *j, pga_piece *p, sf_error *err);
/* Free a piece (aborting a handle it still owns) and drop its table ref. */
void pga_piece_free(pga_job *j, pga_piece *p);

pga_tstate *pga_tstate_new(size_t idx, int zmode, int level);
void pga_tstate_unref(pga_tstate *ts);

/* Cuts one table's decoded text into pieces and adds them to the runner. */
typedef struct pga_split {
    pga_job *j;
    pga_runner *run;
    pga_tstate *ts;
    sf_buf cur;
    uint64_t first_line, lines;
    size_t scanned, piece;
    int ended;           /* the "\." line passed: no more cuts */
    uint32_t k;
} pga_split;

/* ts: a new table state (the splitter takes the caller's reference). */
void pga_split_init(pga_split *s, pga_job *j, pga_runner *run, pga_tstate *ts);
/* pga_sink_fn: ud is a pga_split. */
int pga_split_feed(void *ud, const void *p, size_t n, sf_error *err);
/* Add the last piece (possibly empty). */
int pga_split_finish(pga_split *s, sf_error *err);
void pga_split_free(pga_split *s);

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
