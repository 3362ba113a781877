#ifndef SF_MASKING_SQLTOK_H
#define SF_MASKING_SQLTOK_H
/*
 * A small SQL tokenizer over one complete statement, following
 * PostgreSQL's lexical rules closely enough to read what pg_dump writes:
 * CREATE TABLE / CREATE DOMAIN column types, COPY and INSERT heads, INSERT
 * value lists, SET lines. Whitespace and comments (line comments and nested block comments)
 * are skipped. Used by catalog.c, copy.c and insert.c; the streaming
 * statement splitter is sqlscan.c.
 */

#include <stddef.h>
#include "stagefork/buf.h"

typedef enum {
    SF_TOK_EOF = 0,
    SF_TOK_WORD,   /* unquoted identifier or keyword */
    SF_TOK_QIDENT, /* "quoted identifier" */
    SF_TOK_STRING, /* '...', E'...', B'...', X'...', N'...', U&'...' */
    SF_TOK_NUMBER, /* 42, 1.5, .5, 1e-3 (no sign) */
    SF_TOK_DOLLAR, /* $tag$ ... $tag$ */
    SF_TOK_OP,     /* one punctuation byte, or "::" */
    SF_TOK_ERROR   /* unterminated string, identifier, comment or dollar quote */
} sf_tok_kind;

typedef struct sf_tok {
    sf_tok_kind kind;
    size_t start, end; /* byte span in the statement, prefix and quotes included */
    char prefix;       /* STRING: 0 (plain), 'E', 'B', 'X', 'N' or 'U' */
    int backslash;     /* STRING: backslashes are escapes (E'' or standard_conforming_strings off) */
} sf_tok;

typedef struct sf_lexer {
    const char *s;
    size_t len, pos;
    int scs; /* standard_conforming_strings */
} sf_lexer;

void sf_lex_init(sf_lexer *lx, const char *s, size_t len, int scs);
/* The next token (EOF at the end). Never reads past len. */
sf_tok_kind sf_lex_next(sf_lexer *lx, sf_tok *t);
/* Peek without consuming. */
sf_tok_kind sf_lex_peek(const sf_lexer *lx, sf_tok *t);
/* WORD equal to kw (ASCII case-insensitive). */
int sf_tok_word(const sf_lexer *lx, const sf_tok *t, const char *kw);
/* OP equal to op ("(", "::", ...). */
int sf_tok_op(const sf_lexer *lx, const sf_tok *t, const char *op);
/* The real name of a WORD (folded to lower case) or QIDENT (quotes removed). */
int sf_tok_ident(sf_buf *out, const sf_lexer *lx, const sf_tok *t);

/*
 * Append the value of a STRING token with prefix 0, 'E' or 'N' to out:
 * doubled quotes undone, and backslash escapes (\b \f \n \r \t, octal,
 * \xHH, \uXXXX, \UXXXXXXXX, any other char = itself) applied when
 * t->backslash. Returns 0, or -1 with *why set for a prefix that is not a
 * character string, an invalid escape or a NUL byte.
 */
int sf_sql_string_value(sf_buf *out, const sf_lexer *lx, const sf_tok *t, const char **why);

/*
 * Append value as an SQL string literal: '...' with quotes doubled, or,
 * when scs is off and the value holds a backslash, E'...' with backslashes
 * doubled too.
 */
int sf_sql_string_literal(sf_buf *out, const char *value, size_t len, int scs);

#endif
