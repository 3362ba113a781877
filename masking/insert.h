#ifndef SF_MASKING_INSERT_H
#define SF_MASKING_INSERT_H
/*
 * pg_dump's INSERT statements (--inserts, --column-inserts,
 * --rows-per-insert=N, --on-conflict-do-nothing): read the head and each
 * VALUES tuple into real values with SQL literal rules, and write masked
 * values back as literals. Untouched bytes are the caller's to copy.
 */

#include <stddef.h>
#include "stagefork/buf.h"
#include "sqltok.h"

typedef enum {
    SF_IV_NULL,    /* NULL */
    SF_IV_DEFAULT, /* DEFAULT (generated columns) */
    SF_IV_BOOL,    /* true / false: real value "t" / "f", as COPY writes it */
    SF_IV_NUMBER,  /* bare number, sign included */
    SF_IV_STRING,  /* '...', E'...', N'...', optionally followed by a ::cast */
    SF_IV_EXPR     /* anything else (ARRAY[...], B'..', function calls): opaque text */
} sf_insval_kind;

typedef struct sf_insval {
    sf_insval_kind kind;
    size_t start, end; /* the value's bytes in the statement */
    size_t lit_end;    /* STRING: end of the literal; [lit_end, end) is the cast suffix */
    size_t off, len;   /* the real value in sf_insert.scratch (not for NULL / DEFAULT) */
} sf_insval;

typedef struct sf_insert {
    sf_buf schema, table;
    sf_buf names;       /* column list names, each followed by a NUL */
    const char **cols;  /* ncols pointers into names */
    size_t ncols, cols_cap;
    int has_list;
    sf_lexer lx;        /* over the statement; positioned after the last tuple read */
    sf_insval *vals;    /* the last tuple */
    size_t nvals, vcap;
    size_t tuple_start, tuple_end; /* "(...)" of the last tuple */
    sf_buf scratch;     /* real values of the last tuple */
} sf_insert;

void sf_insert_init(sf_insert *ins);
void sf_insert_free(sf_insert *ins);

/*
 * Read "INSERT INTO name [(cols)] [OVERRIDING ... VALUE] VALUES" of stmt
 * (from its first token; stmt must stay valid while tuples are read).
 * Returns 0, 1 if the statement inserts no VALUES list (DEFAULT VALUES,
 * INSERT ... SELECT), or -1 with *why if it cannot be read.
 */
int sf_insert_head(sf_insert *ins, const char *stmt, size_t len, const char *default_schema, int scs,
                   const char **why);

/*
 * Read the next "(v, ...)" tuple into vals/nvals. Returns 1, 0 when there
 * are no more (the lexer is then at what follows: ";" or ON CONFLICT ...),
 * or -1 with *why and *at (offset in stmt).
 */
int sf_insert_tuple(sf_insert *ins, const char **why, size_t *at);

/* The real value of v (borrowed from scratch). */
static inline const char *sf_insval_ptr(const sf_insert *ins, const sf_insval *v)
{
    return ins->scratch.ptr + v->off;
}

/*
 * Append a masked value in place of orig: NULL; a bare number where the
 * original was bare and the value is numeric; true/false where it was a
 * boolean; otherwise a string literal (E'' only when scs is off and the
 * value has a backslash) followed by orig's cast suffix.
 */
int sf_insert_render(sf_buf *out, const char *value, size_t len, int null, const sf_insval *orig,
                     const char *stmt, int scs);

#endif
