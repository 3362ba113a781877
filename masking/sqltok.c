/* SQL tokens of one complete statement (PostgreSQL lexical rules). */
#include <string.h>
#include "sqltok.h"

static int ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int ident_cont(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

void sf_lex_init(sf_lexer *lx, const char *s, size_t len, int scs)
{
    lx->s = s;
    lx->len = len;
    lx->pos = 0;
    lx->scs = scs;
}

/* Skip whitespace and comments; -1 on an unterminated block comment. */
static int skip_space(sf_lexer *lx)
{
    const char *s = lx->s;
    size_t i = lx->pos, n = lx->len;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
                         s[i] == '\v'))
            i++;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (depth > 0) {
                if (i + 1 >= n) {
                    lx->pos = n;
                    return -1;
                }
                if (s[i] == '/' && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (s[i] == '*' && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
            continue;
        }
        break;
    }
    lx->pos = i;
    return 0;
}

/* Scan a quoted run starting at the opening quote q; returns end or 0. */
static size_t scan_quoted(const char *s, size_t n, size_t i, char q, int backslash)
{
    i++;
    while (i < n) {
        char c = s[i];
        if (backslash && c == '\\') {
            i += 2;
            continue;
        }
        if (c == q) {
            if (i + 1 < n && s[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return 0;
}

sf_tok_kind sf_lex_next(sf_lexer *lx, sf_tok *t)
{
    const char *s = lx->s;
    size_t n = lx->len, i;
    unsigned char c;
    memset(t, 0, sizeof(*t));
    if (skip_space(lx) < 0) {
        t->start = t->end = lx->pos;
        return t->kind = SF_TOK_ERROR;
    }
    i = lx->pos;
    t->start = i;
    if (i >= n) {
        t->end = i;
        return t->kind = SF_TOK_EOF;
    }
    c = (unsigned char)s[i];
    if (ident_start(c)) {
        size_t j = i + 1;
        char p = (char)lower(c);
        /* string prefixes: E'..', B'..', X'..', N'..', U&'..' */
        if (j < n && s[j] == '\'' && (p == 'e' || p == 'b' || p == 'x' || p == 'n')) {
            size_t e;
            t->prefix = (char)(p - 'a' + 'A');
            t->backslash = p == 'e' || (p == 'n' && !lx->scs);
            e = scan_quoted(s, n, j, '\'', t->backslash);
            t->end = lx->pos = e ? e : n;
            return t->kind = e ? SF_TOK_STRING : SF_TOK_ERROR;
        }
        if (p == 'u' && j + 1 < n && s[j] == '&' && s[j + 1] == '\'') {
            size_t e = scan_quoted(s, n, j + 1, '\'', 0);
            t->prefix = 'U';
            t->end = lx->pos = e ? e : n;
            return t->kind = e ? SF_TOK_STRING : SF_TOK_ERROR;
        }
        while (j < n && ident_cont((unsigned char)s[j]))
            j++;
        t->end = lx->pos = j;
        return t->kind = SF_TOK_WORD;
    }
    if (c == '\'') {
        size_t e;
        t->backslash = !lx->scs;
        e = scan_quoted(s, n, i, '\'', t->backslash);
        t->end = lx->pos = e ? e : n;
        return t->kind = e ? SF_TOK_STRING : SF_TOK_ERROR;
    }
    if (c == '"') {
        size_t e = scan_quoted(s, n, i, '"', 0);
        t->end = lx->pos = e ? e : n;
        return t->kind = e ? SF_TOK_QIDENT : SF_TOK_ERROR;
    }
    if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) {
        size_t j = i;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j < n && s[j] == '.' && !(j + 1 < n && s[j + 1] == '.')) {
            j++;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < n && is_digit((unsigned char)s[k])) {
                while (k < n && is_digit((unsigned char)s[k]))
                    k++;
                j = k;
            }
        }
        t->end = lx->pos = j;
        return t->kind = SF_TOK_NUMBER;
    }
    if (c == '$') {
        size_t j = i + 1;
        if (j < n && ident_start((unsigned char)s[j])) {
            while (j < n && ident_cont((unsigned char)s[j]) && s[j] != '$')
                j++;
        }
        if (j < n && s[j] == '$') {
            size_t taglen = j + 1 - i, k = j + 1;
            for (;;) {
                const char *q = k < n ? memchr(s + k, '$', n - k) : NULL;
                if (!q) {
                    t->end = lx->pos = n;
                    return t->kind = SF_TOK_ERROR;
                }
                k = (size_t)(q - s);
                if (n - k >= taglen && memcmp(s + k, s + i, taglen) == 0) {
                    t->end = lx->pos = k + taglen;
                    return t->kind = SF_TOK_DOLLAR;
                }
                k++;
            }
        }
        /* $1 parameter or a stray $: one OP byte (digits follow as NUMBER) */
    }
    if (c == ':' && i + 1 < n && s[i + 1] == ':') {
        t->end = lx->pos = i + 2;
        return t->kind = SF_TOK_OP;
    }
    t->end = lx->pos = i + 1;
    return t->kind = SF_TOK_OP;
}

sf_tok_kind sf_lex_peek(const sf_lexer *lx, sf_tok *t)
{
    sf_lexer copy = *lx;
    return sf_lex_next(&copy, t);
}

int sf_tok_word(const sf_lexer *lx, const sf_tok *t, const char *kw)
{
    size_t n = strlen(kw);
    if (t->kind != SF_TOK_WORD || t->end - t->start != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)lx->s[t->start + i]) != lower((unsigned char)kw[i]))
            return 0;
    return 1;
}

int sf_tok_op(const sf_lexer *lx, const sf_tok *t, const char *op)
{
    size_t n = strlen(op);
    return t->kind == SF_TOK_OP && t->end - t->start == n && memcmp(lx->s + t->start, op, n) == 0;
}

int sf_tok_ident(sf_buf *out, const sf_lexer *lx, const sf_tok *t)
{
    sf_buf_clear(out);
    if (t->kind == SF_TOK_WORD) {
        if (sf_buf_grow(out, t->end - t->start) < 0)
            return -1;
        for (size_t i = t->start; i < t->end; i++)
            out->ptr[out->len++] = (char)lower((unsigned char)lx->s[i]);
        out->ptr[out->len] = '\0';
        return 0;
    }
    if (t->kind == SF_TOK_QIDENT) {
        for (size_t i = t->start + 1; i + 1 < t->end; i++) {
            if (lx->s[i] == '"')
                i++;
            if (sf_buf_addc(out, lx->s[i]) < 0)
                return -1;
        }
        return out->len ? 0 : -1;
    }
    return -1;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int add_utf8(sf_buf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sf_buf_add(out, b, n);
}

int sf_sql_string_value(sf_buf *out, const sf_lexer *lx, const sf_tok *t, const char **why)
{
    const char *s = lx->s;
    size_t i, end;
    if (t->kind != SF_TOK_STRING || (t->prefix != 0 && t->prefix != 'E' && t->prefix != 'N')) {
        *why = "not a character string literal";
        return -1;
    }
    i = t->start + (t->prefix ? 2 : 1);
    end = t->end - 1;
    while (i < end) {
        const char *q = s + i;
        size_t run = 0;
        /* copy plain runs in one go */
        while (i + run < end && q[run] != '\'' && !(t->backslash && q[run] == '\\'))
            run++;
        if (run) {
            if (sf_buf_add(out, q, run) < 0)
                goto nomem;
            i += run;
            continue;
        }
        if (s[i] == '\'') { /* doubled quote */
            if (sf_buf_addc(out, '\'') < 0)
                goto nomem;
            i += 2;
            continue;
        }
        /* backslash escape */
        i++;
        if (i >= end) {
            *why = "backslash at the end of the string";
            return -1;
        }
        {
            unsigned char c = (unsigned char)s[i++];
            int v;
            switch (c) {
            case 'b': v = '\b'; break;
            case 'f': v = '\f'; break;
            case 'n': v = '\n'; break;
            case 'r': v = '\r'; break;
            case 't': v = '\t'; break;
            case 'x':
                if (i < end && hexval((unsigned char)s[i]) >= 0) {
                    v = hexval((unsigned char)s[i++]);
                    if (i < end && hexval((unsigned char)s[i]) >= 0)
                        v = v * 16 + hexval((unsigned char)s[i++]);
                } else {
                    v = 'x';
                }
                break;
            case 'u':
            case 'U': {
                int nd = c == 'u' ? 4 : 8;
                unsigned long cp = 0;
                for (int k = 0; k < nd; k++, i++) {
                    if (i >= end || hexval((unsigned char)s[i]) < 0) {
                        *why = "invalid Unicode escape";
                        return -1;
                    }
                    cp = cp * 16 + (unsigned long)hexval((unsigned char)s[i]);
                }
                /* a UTF-16 surrogate pair written as two \u escapes */
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= end && s[i] == '\\' && s[i + 1] == 'u') {
                    unsigned long lo = 0;
                    int ok = 1;
                    for (int k = 0; k < 4; k++) {
                        int h = hexval((unsigned char)s[i + 2 + k]);
                        if (h < 0)
                            ok = 0;
                        else
                            lo = lo * 16 + (unsigned long)h;
                    }
                    if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                if (add_utf8(out, cp) < 0) {
                    *why = "invalid Unicode escape value";
                    return -1;
                }
                continue;
            }
            default:
                if (c >= '0' && c <= '7') {
                    v = c - '0';
                    if (i < end && s[i] >= '0' && s[i] <= '7') {
                        v = v * 8 + (s[i++] - '0');
                        if (i < end && s[i] >= '0' && s[i] <= '7')
                            v = v * 8 + (s[i++] - '0');
                    }
                    v &= 0xFF;
                } else {
                    v = c;
                }
            }
            if (v == 0) {
                *why = "escape produces a NUL byte";
                return -1;
            }
            if (sf_buf_addc(out, (char)v) < 0)
                goto nomem;
        }
    }
    return 0;
nomem:
    *why = "out of memory";
    return -1;
}

int sf_sql_string_literal(sf_buf *out, const char *value, size_t len, int scs)
{
    int e = !scs && memchr(value, '\\', len) != NULL;
    if (e && sf_buf_addc(out, 'E') < 0)
        return -1;
    if (sf_buf_grow(out, len + 2) < 0 || sf_buf_addc(out, '\'') < 0)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t run = 0;
        while (i + run < len && value[i + run] != '\'' && value[i + run] != '\\')
            run++;
        if (run) {
            if (sf_buf_add(out, value + i, run) < 0)
                return -1;
            i += run;
            continue;
        }
        if (value[i] == '\'' || e) {
            if (sf_buf_addc(out, value[i]) < 0)
                return -1;
        }
        if (sf_buf_addc(out, value[i]) < 0)
            return -1;
        i++;
    }
    return sf_buf_addc(out, '\'');
}
