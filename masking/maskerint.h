#ifndef SF_MASKING_MASKERINT_H
#define SF_MASKING_MASKERINT_H
/*
 * The masker's insides, shared by the dump side: masker.c (handles, rows,
 * counters), plain.c (the plain-format reader) and plain_par.c (its -j N
 * workers), check.c (--check) and report.c (--report). Archive readers may
 * use it too.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include "catalog.h"
#include "copy.h"
#include "rowmask.h"
#include "stagefork/mask.h"

/* A table seen with data (COPY or INSERT), with the columns its data names. */
typedef struct sf_seen_table {
    char *schema, *name;
    char **cols;
    size_t ncols;
} sf_seen_table;

/* Report counters of one table, merged over all its COPY/INSERT blocks. */
typedef struct sf_rep_col {
    char *name;
    char *rule;        /* NULL: no rule */
    uint64_t masked;   /* values the rule changed */
    uint64_t nulls;    /* NULLs written */
} sf_rep_col;

typedef struct sf_rep_table {
    char *schema, *name;
    uint64_t rows;
    int identity;
    sf_rep_col *cols;
    size_t ncols;
} sf_rep_table;

struct sf_masker {
    const sf_mask_policy *pol;
    const sf_mask_key *key;
    int strict;
    sf_catalog cat;           /* read-only once tables start */
    pthread_mutex_t mu;       /* guards err, seen, rep, counters below */
    sf_error err;
    sf_seen_table *seen;
    size_t nseen, seen_cap;
    sf_rep_table *rep;
    size_t nrep, rep_cap;
    sf_mask_format format;
    double t_start;           /* sf_monotonic() at the first run; 0 = not started */
    double seconds;
    uint64_t bytes_in, bytes_out;
};

struct sf_mask_table {
    sf_masker *m;
    char *schema, *name;
    char **cols;
    sf_coltype *types;
    size_t ncols;
    sf_tableplan *plan;
    sf_rowctx *ctx;           /* NULL for identity tables */
    int identity;
    unsigned char *masks;     /* column i is transformed */
    unsigned char *opaque_ok; /* column i's rule may replace an SQL expression (null, fixed, keep) */
    unsigned char *reads;     /* the plan reads column i's value (masked, by:, expr operand) */
    size_t *mcols, nmcols;    /* the transformed columns, ascending */
    size_t *rcols, nrcols;    /* the columns the plan reads, ascending */
    sf_span *raw;             /* SF_MASK_BATCH rows of ncols: raw fields */
    sf_field *in, *out;       /* the rows' decoded values and the plan's output */
    size_t *ncols_used, nncols; /* the columns transformed or read, ascending: the only ones split_row fills in */
    const char **ends;        /* split scratch: where each field of a line ends (ncols + 33) */
    size_t *bsl;              /* split scratch: the fields of a line holding a backslash */
    int simd;                 /* the line splitter: 3 = AVX-512, 2 = AVX2, 1 = SSE2, 0 = scalar */
    struct sf_decoded { size_t cell, off; } *dec; /* decoded values: in[cell] is at scratch + off */
    size_t ndec;
    size_t *pnull, npnull;    /* NULLs of untransformed columns in rows split but not yet written */
    sf_buf scratch;
    uint64_t rows;
    uint64_t *masked, *nulls;
    uint64_t line;            /* input line of the current row; 0 = unknown (then "row N") */
    sf_error err;
};

/*
 * Open a table for masking given its real schema/name and the columns its
 * data carries, in order. Column types come from the catalog (domains
 * resolved; unknown = opaque). Errors (SF_EPOLICY, SF_ECONFIG, ...) are set
 * on the masker. Thread-safe.
 */
int sf_masker_open_table(sf_masker *m, sf_mask_table **out, const char *schema, const char *name,
                         const char *const *cols, size_t ncols);

/*
 * Record that a table's data appears in the dump (for --check and the
 * absent-table warning); sf_masker_open_table does it too. Thread-safe.
 */
int sf_masker_note_table(sf_masker *m, const char *schema, const char *name, const char *const *cols,
                         size_t ncols);

/* Learn DDL with an explicit standard_conforming_strings setting. */
int sf_masker_ddl_scs(sf_masker *m, const char *sql, size_t len, int scs);

/*
 * Mask one decoded row: in[0..ncols) -> *out (pointers valid until the next
 * call). Counts the row. Errors are on t->err.
 */
int sf_mask_table_row(sf_mask_table *t, const sf_field *in, const sf_field **out);

/* Rows masked together by sf_mask_table_lines (one FF3-1 batch per column). */
#define SF_MASK_BATCH SF_TABLEPLAN_MAX_ROWS

/* A COPY data line (the public sf_mask_line). */
typedef sf_mask_line sf_line;

/* Count rows copied verbatim by a caller's fast path (identity tables). */
void sf_mask_table_add_rows(sf_mask_table *t, uint64_t n);

/*
 * The COPY line splitter new table handles use: -1 (default) = the best the
 * CPU has (AVX-512 BW + VBMI2, else AVX2, else SSE2), 0 = scalar, 1 = at
 * most SSE2, 2 = at most AVX2, 3 = at most AVX-512. For tests, which
 * compare them; set it before opening tables.
 */
extern int sf_masker_simd;

/* Set the input line of the next row (for messages). */
static inline void sf_mask_table_set_line(sf_mask_table *t, uint64_t line)
{
    t->line = line;
}

/* Compose "line N: table s.t[, column c]: " into buf for messages. */
void sf_mask_table_where(const sf_mask_table *t, long col, char *buf, size_t size);

/* Set the masker's error (thread-safe); returns code. */
int sf_masker_fail(sf_masker *m, const sf_error *err);

/*
 * Warn (sf_log) about policy tables that never appeared in the dump (in a
 * CREATE TABLE or with data). sf_mask_run and sf_mask_plain call it after a
 * successful run; archive readers need not.
 */
void sf_masker_warn_absent(sf_masker *m);

/*
 * The plain reader (plain.c): mask, or with check set only learn DDL and
 * data heads. jobs > 1: the rows of each masked COPY block are masked by
 * that many threads (plain_par.c); the output is the same bytes.
 */
int sf_plain_run(sf_masker *m, FILE *in, const unsigned char *pre, size_t npre, FILE *out, int check, int jobs);

#endif
