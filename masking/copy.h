#ifndef SF_MASKING_COPY_H
#define SF_MASKING_COPY_H
/*
 * PostgreSQL's COPY TEXT format, byte-exact: split a data line into raw
 * fields, decode a raw field into its real value, encode a value back, and
 * read a "COPY schema.table (cols) FROM stdin;" head.
 *
 * Escapes (decode): \b \f \n \r \t \v \\, \N (a whole field: NULL),
 * \d{1,3} octal, \xH{1,2} hex, any other backslashed byte is that byte.
 * Two deliberate departures from PostgreSQL's leniency, because pg_dump
 * never writes them and they signal a corrupt dump: "\x" not followed by a
 * hex digit, and a backslash ending the line (PostgreSQL's deprecated
 * "backslash-newline") are errors. A NUL byte, raw or from an escape, is
 * an error, as in PostgreSQL.
 */

#include <stddef.h>
#include "stagefork/buf.h"

typedef struct sf_span {
    const char *ptr;
    size_t len;
} sf_span;

/*
 * Split line[0..len) at unescaped tabs into at most max spans (raw bytes,
 * escapes kept). Returns the number of fields found, which may exceed max
 * (the extra ones are not stored), or 0 when the line ends with an
 * unpaired backslash (*bad = its offset).
 */
size_t sf_copy_split(sf_span *fields, size_t max, const char *line, size_t len, size_t *bad);
/* The same; *escaped (may be NULL) says whether the line holds any backslash (when 0, no field needs decoding). */
size_t sf_copy_split_esc(sf_span *fields, size_t max, const char *line, size_t len, size_t *bad, int *escaped);

/* The raw field is exactly \N (NULL). */
static inline int sf_copy_is_null(const char *raw, size_t len)
{
    return len == 2 && raw[0] == '\\' && raw[1] == 'N';
}

/*
 * Append the decoded value of raw[0..len) to out. Returns 0, or -1 with
 * *why ("invalid \\x escape", ...) and *at (offset in raw) set.
 */
int sf_copy_decode(sf_buf *out, const char *raw, size_t len, const char **why, size_t *at);

/*
 * Append value[0..len) escaped as PostgreSQL writes it (\\ \t \n \r \b \f
 * \v; other bytes as they are). NULL is the caller's "\N". Returns 0, or
 * -1 if the value holds a NUL byte (not representable) or memory ran out.
 */
int sf_copy_encode(sf_buf *out, const char *value, size_t len);
/* The same into dst, which has room for 2 * len bytes; returns the end, or NULL for a NUL byte. */
char *sf_copy_encode_to(char *dst, const char *value, size_t len);

/* ---- COPY head ------------------------------------------------------- */

typedef struct sf_copyhead {
    sf_buf schema, table;
    sf_buf names;        /* column names, each followed by a NUL */
    const char **cols;   /* ncols pointers into names (valid until the next parse) */
    size_t ncols, cols_cap;
    int has_list;        /* an explicit (col, ...) list */
    int options;         /* anything after FROM stdin (FORMAT csv, DELIMITER ...): not plain text */
} sf_copyhead;

void sf_copyhead_init(sf_copyhead *h);
void sf_copyhead_free(sf_copyhead *h);
/*
 * Parse a COPY statement (leading comments allowed). Returns 0 for
 * "COPY name [(cols)] FROM stdin ...", 1 for any other COPY (TO stdout,
 * FROM 'file': not table data in the dump), -1 if it cannot be read.
 * Unqualified names get default_schema.
 */
int sf_copyhead_parse(sf_copyhead *h, const char *stmt, size_t len, const char *default_schema, int scs);

#endif
