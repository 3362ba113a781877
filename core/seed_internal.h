#ifndef SF_CORE_SEED_INTERNAL_H
#define SF_CORE_SEED_INTERNAL_H
/*
 * The seeding engine's internal model, shared by its files:
 *   seed_expr.c   arithmetic expressions (row counts, numeric arguments, `expr`)
 *   seed_rand.c   counter-based PRNG, keyed permutations, zipf sampling
 *   seed_dict.c   dictionaries (company, name, ..., product)
 *   seed_spec.c   YAML -> model, static validation
 *   seed_plan.c   profiles and parameters -> resolved numbers, run validation
 *   seed_gen.c    per-row value generation and COPY text rows
 *   seed_catalog.c  the target's catalog and type checks
 *   seed_load.c   COPY text to a stream or through libpq
 *   seed_append.c seeding into a non-empty target: MAX reads, existing
 *                 parent rows, unique keys checked against the target
 *
 * Every value is a pure function of (seed, table, column, row index), so a
 * `ref` re-computes a parent row's value instead of remembering it, and
 * output is byte-identical for equal inputs.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"
#include "stagefork/seed.h"
#include "stagefork/yaml.h"

struct pg_result; /* libpq's PGresult */

/* ---- expressions (seed_expr.c) -------------------------------------- */

typedef struct seed_expr seed_expr;

/*
 * Resolve an identifier of an expression to a slot number (>= 0), or -1
 * when unknown. `name` is the real identifier (quotes removed).
 */
typedef int (*seed_ident_fn)(void *ud, const char *name, size_t len);

/*
 * Compile the scalar node n ("tenants * 200 * scale", "42") into *out.
 * Syntax: numbers (digits with an optional fraction), identifiers
 * ([A-Za-z_][A-Za-z0-9_]* or "double quoted"), + - * / unary minus,
 * parentheses, min(a, b, ...) and max(a, b, ...). Errors name the node's file:line and the column of the
 * offending character.
 */
int seed_expr_compile(seed_expr **out, const sf_node *n, seed_ident_fn fn, void *ud, sf_error *err);
void seed_expr_free(seed_expr *e);
/*
 * Evaluate with slot values (and optional NULL flags, NULL = none null).
 * A NULL operand gives *is_null = 1. Division by zero is SF_ECONFIG naming
 * the operator's position when err is set; with err == NULL it gives NULL.
 */
int seed_expr_eval(const seed_expr *e, const double *slots, const unsigned char *nulls, double *out,
                   int *is_null, sf_error *err);
/* Call fn for every slot the expression reads. */
void seed_expr_slots(const seed_expr *e, void (*fn)(void *ud, int slot), void *ud);
/*
 * The decimal scale of the result given each slot's scale: + - take the
 * larger, * adds, unary minus keeps; -1 when a division is involved.
 */
int seed_expr_scale(const seed_expr *e, const int *slot_scales);
/* True if the expression is a single number literal (no identifiers). */
int seed_expr_is_const(const seed_expr *e);

/* ---- random numbers (seed_rand.c) ----------------------------------- */

uint64_t seed_mix64(uint64_t x);
uint64_t seed_hash_str(uint64_t h, const char *s, size_t len);
/* The random 64-bit word number `i` of stream `key`. */
static inline uint64_t seed_rand_at(uint64_t key, uint64_t i)
{
    return seed_mix64(key + (i + 1) * UINT64_C(0x9E3779B97F4A7C15));
}
/* Uniform double in [0, 1) from a 64-bit word (53 bits). */
static inline double seed_unit(uint64_t r)
{
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}
/* Uniform integer in [0, n) from a 64-bit word (n > 0; multiply-shift, no modulo bias worth noting). */
uint64_t seed_below(uint64_t r, uint64_t n);

/* A keyed bijection of [0, n): a Feistel network with cycle walking. */
typedef struct seed_perm {
    uint64_t n, key;
    unsigned half;   /* bits per Feistel half */
    uint64_t mask;
} seed_perm;
void seed_perm_init(seed_perm *p, uint64_t n, uint64_t key);
uint64_t seed_perm_apply(const seed_perm *p, uint64_t i);

/* Zipf(s) over ranks 1..n by rejection-inversion (O(1) per draw, no tables). */
typedef struct seed_zipf {
    uint64_t n;
    double s, h_x1, h_n, c;
} seed_zipf;
void seed_zipf_init(seed_zipf *z, uint64_t n, double s);
/* A rank in [1, n], drawing 64-bit words from (key, *ctr) as needed. */
uint64_t seed_zipf_draw(const seed_zipf *z, uint64_t key, uint64_t *ctr);

/*
 * A sparse row -> index map (open addressing): the rows of a unique key
 * whose values collided with the target's rows get an unused index of
 * the key's bijection instead of their own row number (seed_append.c).
 */
typedef struct seed_remap {
    uint64_t *keys;   /* row + 1, 0 = empty slot */
    uint64_t *vals;
    size_t cap, n;
} seed_remap;
/* The index row `row` uses: its remapped one, else the row itself. */
uint64_t seed_remap_get(const seed_remap *m, uint64_t row);
int seed_remap_put(seed_remap *m, uint64_t row, uint64_t idx);
void seed_remap_free(seed_remap *m);

/* ---- dictionaries (seed_dict.c) ------------------------------------- */

typedef enum {
    SEED_DICT_COMPANY = 0,
    SEED_DICT_NAME,
    SEED_DICT_FIRST_NAME,
    SEED_DICT_LAST_NAME,
    SEED_DICT_CITY,
    SEED_DICT_STREET,
    SEED_DICT_PRODUCT,
    SEED_DICT__COUNT
} seed_dict_kind;

/* "company" -> kind, -1 if unknown. */
int seed_dict_find(const char *name);
const char *seed_dict_name(int kind);
/* Comma-separated list of the known names, for messages. */
const char *seed_dict_names(void);
/* Number of distinct values of a dictionary. */
uint64_t seed_dict_size(int kind);
/* Append value number i (< size) to out. Values are UTF-8 without control characters. */
int seed_dict_get(sf_buf *out, int kind, uint64_t i);
/* Longest value in characters. */
size_t seed_dict_max_chars(int kind);

/* ---- the model (seed_spec.c) ---------------------------------------- */

/* A number in the spec: a literal or an expression over parameters. */
typedef struct seed_num {
    const sf_node *node;  /* NULL when absent */
    seed_expr *expr;
    double val;           /* resolved by seed_plan.c */
} seed_num;

typedef enum {
    SG_SEQ = 0, SG_REF, SG_DICT, SG_EMAIL, SG_INT, SG_DECIMAL, SG_DATE, SG_TIMESTAMP,
    SG_PICK, SG_CONST, SG_PATTERN, SG_EXPR, SG__COUNT
} seed_gen_kind;

/* Where a ref's parent rows come from: rows generated by this run, the target's rows, or both. */
typedef enum { REF_NEW = 0, REF_EXISTING, REF_ANY } seed_ref_from;

/* What kind of value a generator produces (for type checks and `expr`). */
typedef enum { VC_INT = 0, VC_DEC, VC_DATE, VC_TS, VC_TEXT, VC_ANY } seed_vclass;

typedef struct seed_str {
    char *ptr;
    size_t len;
    int null;             /* SQL NULL (pick/const `null`) */
    const sf_node *node;
} seed_str;

typedef struct seed_col {
    char *name;                 /* real column name */
    const sf_node *key, *node;  /* the key in `columns:` and the generator */
    seed_gen_kind kind;
    int unique;
    seed_num null_ratio;        /* 0..1 */
    int tuple;                  /* composite-unique tuple it belongs to, -1 */
    int tuple_pos;

    /* seq */
    seed_num start, step;
    int seq_after_max;          /* {seq: {after: max}}: first value after the target's MAX */
    const sf_node *after_node;
    /* ref */
    const sf_node *ref_node;
    size_t ref_table, ref_col;  /* the parent in the spec (unused when ref_ext) */
    seed_ref_from ref_from;     /* row_of siblings carry their root's */
    const sf_node *ref_from_node;
    int ref_ext;                /* from: existing of a table/column the spec does not generate */
    char *ext_schema, *ext_table, *ext_col; /* the parent column in the target (from != new) */
    int zipf;
    seed_num zipf_s;
    int row_of;                 /* sibling ref column whose parent row is used, -1 */
    /* dict */
    int dict;
    /* email */
    seed_str *domains;
    size_t ndomains;
    int email_from;             /* sibling column whose value names the mailbox, -1 */
    /* int, decimal */
    seed_num min, max;
    int scale;                  /* decimal, expr: digits after the point */
    /* date, timestamp: bounds as days / seconds since 1970-01-01 */
    const sf_node *from_node, *to_node;
    int64_t from, to;
    int has_from, has_to;
    seed_num days;
    /* pick, const (nvalues == 1) */
    seed_str *values;
    size_t nvalues;
    seed_num *weights;          /* NULL = uniform */
    /* pattern: '#' digit, '?' upper-case letter, '\\x' literal x */
    char *pattern;
    size_t pattern_len;
    /* expr */
    seed_expr *expr;
    int *expr_cols;             /* expr slot -> column index */

    /* static properties (seed_spec.c) */
    seed_vclass vclass;
    int out_scale;              /* decimals of the value (VC_INT 0, VC_DEC scale) */
    uint64_t pick_ints_ok;      /* pick/const: all values integers (1) */

    /* resolved (seed_plan.c) */
    uint64_t rkey;              /* PRNG stream of values */
    uint64_t null_key;          /* PRNG stream of NULL decisions */
    double null_p;
    int64_t lo, hi;             /* int: range; decimal: mantissa range; seq: first/last */
    int64_t seq_start, seq_step;
    uint64_t domain;            /* distinct values (0 = unbounded) */
    seed_perm perm;             /* unique: bijection of [0, domain) */
    seed_zipf zipfd;
    seed_perm ref_scatter;      /* zipf rank -> parent row */
    double *cum;                /* pick weights, cumulative */
    size_t max_chars;           /* longest value in characters (0 = unknown) */
    int64_t max_abs;            /* largest absolute integer part (numbers) */

    /* target (seed_catalog.c) */
    size_t truncate_chars;      /* 0 = none */
    char *sequence;             /* serial/identity sequence to move past the generated keys */
    int64_t tlo, thi;           /* integer column's range (seq after: max) */

    /* the target's state, read in the load transaction (seed_append.c) */
    int has_max;                /* seq after: max: the target's column has a MAX */
    int64_t tmax;                /* its MAX */
    struct pg_result *ex_res;   /* ref root with from != new: the parent's existing rows */
    int ex_field;               /* this column's field in its root's ex_res */
    int64_t ex_rows;            /* rows in the root's ex_res (0 without a target) */
    seed_remap remap;           /* unique column: rows moved off values the target has */
} seed_col;

typedef struct seed_tuple {
    const sf_node *node;
    size_t *cols;
    size_t n;
    uint64_t domain;            /* product of the columns' domains (resolved) */
    seed_perm perm;
    seed_remap remap;           /* rows moved off combinations the target has */
} seed_tuple;

typedef struct seed_table {
    char *schema, *name;        /* real names */
    char *display;              /* schema.name quoted as needed, for messages and `-` output */
    const sf_node *node, *table_node;
    seed_num rows;
    int64_t nrows;              /* resolved */
    seed_col *cols;
    size_t ncols;
    seed_tuple *tuples;
    size_t ntuples;
    size_t *order;              /* evaluation order of columns (dependencies first) */
    int nonempty;               /* the target table had rows when the load began */
} seed_table;

typedef struct seed_param {
    char *name;
    const sf_node *node;        /* where it is first declared */
    double def;
    int has_def;
    double val;
    int has_val;
} seed_param;

typedef struct seed_profile {
    char *name;
    const sf_node *node;
    size_t nset;
    size_t *param;              /* indexes into params */
    seed_num *vals;
} seed_profile;

struct sf_seed {
    sf_yaml_doc *doc;
    char *file;
    char sha256[65];
    seed_param *params;
    size_t nparams;
    seed_profile *profiles;
    size_t nprofiles;
    seed_table *tables;
    size_t ntables;
    const sf_node *tables_node;
    uint64_t seed;
    int resolved;
    sf_error err;
};

/* seed_spec.c */
int seed_spec_parse(sf_seed *s, const sf_node *root);
void seed_spec_free_model(sf_seed *s);
/* Index of a parameter by name, -1 if unknown. */
int seed_param_find(const sf_seed *s, const char *name, size_t len);

/* seed_plan.c: evaluate parameters and everything that depends on them. */
int seed_plan_resolve(sf_seed *s);
/*
 * After the target's state was read (seed_append.c): seq after: max starts,
 * domains of refs to existing rows, and the checks that depend on them.
 */
int seed_plan_target(sf_seed *s);

/* seed_catalog.c: compare the resolved spec with the target's catalog (conn is a PGconn). */
struct pg_conn;
int seed_catalog_check(sf_seed *s, struct pg_conn *conn);

/* seed_append.c */
struct pg_conn;
typedef struct seed_gen seed_gen;
/*
 * Inside the load transaction, before any COPY: lock the spec's tables,
 * read MAXes, existing parent rows and which tables have rows, finish the
 * plan (seed_plan_target) and move unique keys off the target's values.
 */
int seed_append_prepare(sf_seed *s, struct pg_conn *conn, seed_gen *g);
/* Forget the target's state (results, remaps); safe to call twice. */
void seed_append_release(sf_seed *s);
/* --to -: refuse what needs a target (from: existing). */
int seed_append_check_stream(sf_seed *s);

/* seed_load.c */
int seed_load_stream(sf_seed *s, FILE *out);
int seed_load_conn(sf_seed *s, struct pg_conn *conn, int check_only);

/* seed_gen.c: one table's rows as COPY text. */
int seed_gen_new(seed_gen **out, sf_seed *s);
void seed_gen_free(seed_gen *g);
/* Append rows [from, to) of table t, each terminated by '\n'. */
int seed_gen_rows(seed_gen *g, size_t t, int64_t from, int64_t to, sf_buf *out);
/*
 * For unique-key checks: "row\tv1\tv2\n" per row of rows[] (COPY text),
 * the values of table ti's columns cols[] in that row.
 */
int seed_gen_key_rows(seed_gen *g, size_t ti, const size_t *cols, size_t ncols, const int64_t *rows, size_t nrows,
                      sf_buf *out);
/* Forget every memoised row (after a remap changed). */
void seed_gen_reset(seed_gen *g);
/* Append an identifier, double-quoted only when PostgreSQL needs it (keywords included). */
int seed_ident_quote(sf_buf *out, const char *name, size_t len);
/* The COPY column list "(a, b)" with identifiers quoted as needed. */
int seed_gen_column_list(const sf_seed *s, size_t t, sf_buf *out);

/* Date helpers shared by spec parsing and generation. */
int64_t seed_days_from_civil(int64_t y, unsigned m, unsigned d);
void seed_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Length in characters of UTF-8 text. */
size_t seed_utf8_chars(const char *s, size_t len);
/* Byte length of the first `chars` characters of UTF-8 text. */
size_t seed_utf8_prefix(const char *s, size_t len, size_t chars);

#endif
