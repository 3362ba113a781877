#ifndef SF_MASKING_SQLSCAN_H
#define SF_MASKING_SQLSCAN_H
/*
 * Where statements end in a psql script, read incrementally: the unit being
 * scanned stays contiguous in the caller's window and grows as more input
 * arrives. Follows psql's own splitter: ';' ends a statement outside
 * quotes, comments, parentheses and CREATE FUNCTION ... BEGIN ATOMIC
 * bodies; strings ('..', E'..', with standard_conforming_strings on or
 * off), "identifiers", $tag$ bodies $tag$, -- and nested block comments
 * are skipped; a line starting with a backslash before any token of a
 * statement is a psql meta-command (\connect, \restrict, ...).
 */

#include <stddef.h>
#include <stdint.h>

enum {
    SF_SCAN_MORE = 0, /* need more input (or end of input: see sf_sqlscan_eof_error) */
    SF_SCAN_STMT,     /* a statement ends at *end (just after its ';') */
    SF_SCAN_META      /* a meta-command line ends at *end (just after its newline) */
};

typedef struct sf_sqlscan {
    int state;       /* lexer state (normal, string, identifier, dollar body, comments) */
    int depth;       /* block comment nesting */
    int paren;       /* parenthesis depth */
    int begin_depth; /* BEGIN ... END nesting in CREATE FUNCTION bodies */
    int nwords;
    char words[4];   /* first letters of the first words, for CREATE [OR REPLACE] FUNCTION */
    int scs;         /* standard_conforming_strings (the caller follows SET lines) */
    int line_blank;  /* only whitespace so far on the current line */
    size_t pos;      /* next byte to scan, relative to the unit start */
    size_t tok;      /* first token of the statement, SIZE_MAX if none yet */
    size_t tag_off, tag_len; /* the current $tag$ */
    uint64_t line;   /* line number of the byte at pos (1-based) */
    uint64_t tok_line; /* line of the first token */
    uint64_t open_line; /* line where the current string, identifier, body or comment began */
} sf_sqlscan;

/* Start scanning a script (line 1, standard_conforming_strings on). */
void sf_sqlscan_init(sf_sqlscan *sc);
/* Begin a new unit at the byte after the previous one (keeps line and scs). */
void sf_sqlscan_next_unit(sf_sqlscan *sc);

/*
 * Scan s[0..len) (the whole unit so far; s may move between calls, the
 * unit's bytes may not change). With eof set, no more bytes will follow.
 */
int sf_sqlscan_run(sf_sqlscan *sc, const char *s, size_t len, int eof, size_t *end);

/*
 * At end of input: NULL if the unit holds only whitespace and comments,
 * else what is unterminated ("unterminated quoted string", "statement
 * without a terminating ';'", ...) and, in *line, where it began.
 */
const char *sf_sqlscan_eof_error(const sf_sqlscan *sc, uint64_t *line);

#endif
