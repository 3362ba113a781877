#ifndef SF_MASKING_ROWMASK_H
#define SF_MASKING_ROWMASK_H
/*
 * The contract between the dump side of the masker (readers, COPY codec,
 * INSERT parser, driver: plain.c, copy.c, insert.c, masker.c) and the rule
 * side (policy.c, key.c, prf.c, ff3.c, dict.c, transform.c, sqltype.c).
 *
 * The dump side decodes each row into fields holding the *real* values
 * (COPY escapes and SQL quoting removed), asks a table plan to mask them,
 * and re-encodes the result in the format it came from.
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"
#include "stagefork/mask.h"

/* ---- declared column types (sqltype.c) ------------------------------- */

typedef enum {
    SF_T_OPAQUE = 0, /* domains, enums, unknown types: text rules apply without a length limit */
    SF_T_TEXT,       /* text, unbounded varchar */
    SF_T_VARCHAR,    /* character varying(n): len = n (characters) */
    SF_T_CHAR,       /* character(n) / bpchar: len = n */
    SF_T_INT2, SF_T_INT4, SF_T_INT8,
    SF_T_NUMERIC,    /* precision/scale, -1 if unconstrained */
    SF_T_FLOAT4, SF_T_FLOAT8,
    SF_T_MONEY,
    SF_T_DATE, SF_T_TIMESTAMP, SF_T_TIMESTAMPTZ,
    SF_T_BOOL, SF_T_UUID, SF_T_JSON, SF_T_JSONB, SF_T_BYTEA, SF_T_CITEXT
} sf_type_kind;

typedef struct sf_coltype {
    sf_type_kind kind;
    int32_t len;        /* varchar/char length limit in characters; -1 = none */
    int32_t precision;  /* numeric; -1 = unconstrained */
    int32_t scale;      /* numeric; -1 = unconstrained */
    int is_array;       /* "text[]": treated as opaque by value transformers */
} sf_coltype;

/*
 * Parse a declared type as pg_dump writes it in CREATE TABLE:
 * "character varying(40)", "numeric(12,2)", "integer", "timestamp with time zone",
 * "public.email_domain", "text[]", ... Unknown names give SF_T_OPAQUE
 * (never an error). Domains learned from CREATE DOMAIN resolve through the
 * masker's catalog, not here.
 */
void sf_coltype_parse(sf_coltype *out, const char *decl, size_t len);

/* ---- rows ------------------------------------------------------------ */

typedef struct sf_field {
    const char *ptr; /* real value bytes (not NUL-terminated necessarily) */
    size_t len;
    int null;        /* SQL NULL (ptr/len unused) */
} sf_field;

/* ---- per-table plans (transform.c) ----------------------------------- */

typedef struct sf_tableplan sf_tableplan;

/*
 * Compile the policy's rules for one table whose columns (real names, dump
 * order) and types are given. Strict mode: a column whose name matches the
 * policy's `sensitive` substrings (case-insensitive) and has no rule is
 * SF_EPOLICY "strict mode: no masking rule for sensitive column
 * schema.table.column". Rules naming columns the table lacks, `by:`/`expr`
 * references to unknown columns, or a rule that cannot produce values of
 * the column's type (e.g. `email` on an integer) are SF_ECONFIG naming the
 * policy's file:line:column. A table absent from the policy gets an empty
 * plan (identity) unless strict mode finds sensitive columns.
 */
int sf_tableplan_new(sf_tableplan **out, const sf_mask_policy *pol, const char *schema,
                     const char *table, const char *const *cols, const sf_coltype *types,
                     size_t ncols, int strict, sf_error *err);
void sf_tableplan_free(sf_tableplan *p);
/* No column is transformed. */
int sf_tableplan_identity(const sf_tableplan *p);
size_t sf_tableplan_ncols(const sf_tableplan *p);
/* Column i is transformed (any rule but keep). */
int sf_tableplan_masks(const sf_tableplan *p, size_t i);
/* The plan reads column i's value: it is transformed (by a rule other than null), or a by: / expr input of another column. */
int sf_tableplan_reads(const sf_tableplan *p, size_t i);
/* Rule name of column i ("email", "noise", "keep", ...) or NULL if it has none. */
const char *sf_tableplan_rule(const sf_tableplan *p, size_t i);
/* Column i's name matches `sensitive`. */
int sf_tableplan_sensitive(const sf_tableplan *p, size_t i);

/* Per-thread scratch and crypto contexts (HMAC, AES) reused across rows. */
typedef struct sf_rowctx sf_rowctx;
int sf_rowctx_new(sf_rowctx **out, const sf_mask_key *key, sf_error *err);
void sf_rowctx_free(sf_rowctx *ctx);

/*
 * Mask one row: in[0..ncols) -> out[0..ncols). out[i] either equals in[i]
 * (untouched) or points into ctx's scratch, valid until the next call with
 * the same ctx. Every produced value fits types[i]. NULL stays NULL for
 * every rule, `fixed` included. `expr` columns are computed last, from the masked values of
 * the row. Errors (a value that cannot be parsed as the declared type, e.g.
 * a non-numeric string under `noise`) are SF_EFORMAT naming the column.
 */
int sf_tableplan_mask(const sf_tableplan *p, sf_rowctx *ctx, const sf_field *in, sf_field *out,
                      sf_error *err);

#define SF_TABLEPLAN_MAX_ROWS 64

/*
 * sf_tableplan_mask for nrows (<= SF_TABLEPLAN_MAX_ROWS) rows at once: in and out hold nrows * ncols
 * fields, row after row; outputs are valid until the next call with ctx.
 * Unlike sf_tableplan_mask, out is only guaranteed for the columns the
 * plan transforms (sf_tableplan_masks): the other columns' values are
 * in's, and their out fields may be left as they were (callers read them
 * from in; the batch does not copy every field). The same outputs as one
 * call per row, computed column by column so that
 * digits and alnum encrypt a whole column's values in one FF3-1 batch. On
 * an error nothing says which row failed: callers that need the failing
 * row (and the rows before it) mask the rows one at a time again.
 */
int sf_tableplan_mask_rows(const sf_tableplan *p, sf_rowctx *ctx, const sf_field *in, sf_field *out, size_t nrows,
                           sf_error *err);

/*
 * Test hook: 0 keeps the digits/alnum scan on its byte loops even where the
 * CPU has the vector one (AVX-512 VBMI2, values of up to 64 bytes), so
 * tests compare the two. -1 (default): the CPU's best.
 */
extern int sf_tableplan_simd;

/* ---- policy queries the dump side needs (policy.c) ------------------- */

/* Tables named in the policy, as "schema.table" real names; for the
   "listed in the policy but absent from the dump" warning. */
size_t sf_mask_policy_ntables(const sf_mask_policy *pol);
const char *sf_mask_policy_table_schema(const sf_mask_policy *pol, size_t i);
const char *sf_mask_policy_table_name(const sf_mask_policy *pol, size_t i);

#endif
