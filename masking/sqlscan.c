/* Incremental statement splitter for psql scripts (pg_dump plain format). */
#include <stdint.h>
#include <string.h>
#include "sqlscan.h"

enum { NORMAL, SQUOTE, EQUOTE, DQUOTE, DOLLAR, LINECOMMENT, BLOCKCOMMENT };

#define NO_TOK SIZE_MAX

static int ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int ident_cont(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int word_is(const char *w, size_t n, const char *kw)
{
    if (strlen(kw) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)w[i]) != kw[i])
            return 0;
    return 1;
}

void sf_sqlscan_init(sf_sqlscan *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->scs = 1;
    sc->line = 1;
    sc->line_blank = 1;
    sf_sqlscan_next_unit(sc);
}

void sf_sqlscan_next_unit(sf_sqlscan *sc)
{
    sc->state = NORMAL;
    sc->depth = sc->paren = sc->begin_depth = sc->nwords = 0;
    memset(sc->words, 0, sizeof(sc->words));
    sc->pos = 0;
    sc->tok = NO_TOK;
    sc->tok_line = sc->line;
    sc->tag_off = sc->tag_len = 0;
}

/* psql's heuristic for BEGIN ATOMIC bodies: track CREATE [OR REPLACE] FUNCTION|PROCEDURE. */
static void track_word(sf_sqlscan *sc, const char *w, size_t n)
{
    if (sc->nwords < 4) {
        if (word_is(w, n, "create") || word_is(w, n, "or") || word_is(w, n, "replace") ||
            word_is(w, n, "function") || word_is(w, n, "procedure"))
            sc->words[sc->nwords] = (char)lower((unsigned char)w[0]);
    }
    if (sc->nwords < 1000)
        sc->nwords++;
    if (sc->words[0] == 'c' &&
        (sc->words[1] == 'f' || sc->words[1] == 'p' ||
         (sc->words[1] == 'o' && sc->words[2] == 'r' && (sc->words[3] == 'f' || sc->words[3] == 'p'))) &&
        sc->paren == 0) {
        if (word_is(w, n, "begin"))
            sc->begin_depth++;
        else if (word_is(w, n, "case")) {
            if (sc->begin_depth >= 1)
                sc->begin_depth++;
        } else if (word_is(w, n, "end")) {
            if (sc->begin_depth > 0)
                sc->begin_depth--;
        }
    }
}

int sf_sqlscan_run(sf_sqlscan *sc, const char *s, size_t len, int eof, size_t *end)
{
    size_t i = sc->pos;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        switch (sc->state) {
        case NORMAL:
            if (c == '\n') {
                sc->line++;
                sc->line_blank = 1;
                i++;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
                i++;
                continue;
            }
            if (c == '-' || c == '/') {
                if (i + 1 >= len) {
                    if (!eof)
                        goto more;
                } else if (c == '-' && s[i + 1] == '-') {
                    sc->state = LINECOMMENT;
                    sc->open_line = sc->line;
                    i += 2;
                    continue;
                } else if (c == '/' && s[i + 1] == '*') {
                    sc->state = BLOCKCOMMENT;
                    sc->open_line = sc->line;
                    sc->depth = 1;
                    i += 2;
                    continue;
                }
            }
            if (c == '\\' && sc->tok == NO_TOK && sc->line_blank) {
                const char *nl = memchr(s + i, '\n', len - i);
                if (!nl) {
                    if (!eof)
                        goto more;
                    *end = sc->pos = len;
                    return SF_SCAN_META;
                }
                sc->line++;
                sc->line_blank = 1;
                *end = sc->pos = (size_t)(nl - s) + 1;
                return SF_SCAN_META;
            }
            sc->line_blank = 0;
            if (sc->tok == NO_TOK) {
                sc->tok = i;
                sc->tok_line = sc->line;
            }
            if (ident_start(c)) {
                size_t j = i + 1, wl;
                int lc = lower(c);
                while (j < len && ident_cont((unsigned char)s[j]))
                    j++;
                if (j >= len && !eof)
                    goto more;
                wl = j - i;
                if (wl == 1 && j < len && s[j] == '\'' &&
                    (lc == 'e' || lc == 'b' || lc == 'x' || lc == 'n')) {
                    sc->state = lc == 'e' || (lc == 'n' && !sc->scs) ? EQUOTE : SQUOTE;
                    sc->open_line = sc->line;
                    i = j + 1;
                    continue;
                }
                if (wl == 1 && lc == 'u' && j < len && s[j] == '&') {
                    if (j + 1 >= len && !eof)
                        goto more;
                    if (j + 1 < len && s[j + 1] == '\'') {
                        sc->state = SQUOTE;
                        sc->open_line = sc->line;
                        i = j + 2;
                        continue;
                    }
                }
                track_word(sc, s + i, wl);
                i = j;
                continue;
            }
            if (c == '\'') {
                sc->state = sc->scs ? SQUOTE : EQUOTE;
                sc->open_line = sc->line;
                i++;
                continue;
            }
            if (c == '"') {
                sc->state = DQUOTE;
                sc->open_line = sc->line;
                i++;
                continue;
            }
            if (c == '$') {
                size_t j = i + 1;
                if (j < len && ident_start((unsigned char)s[j]))
                    while (j < len && ident_cont((unsigned char)s[j]) && s[j] != '$')
                        j++;
                if (j >= len) {
                    if (!eof)
                        goto more;
                    i++;
                    continue;
                }
                if (s[j] == '$') {
                    sc->state = DOLLAR;
                    sc->open_line = sc->line;
                    sc->tag_off = i;
                    sc->tag_len = j + 1 - i;
                    i = j + 1;
                    continue;
                }
                i++;
                continue;
            }
            if (c == '(')
                sc->paren++;
            else if (c == ')') {
                if (sc->paren > 0)
                    sc->paren--;
            } else if (c == ';' && sc->paren == 0 && sc->begin_depth == 0) {
                *end = sc->pos = i + 1;
                return SF_SCAN_STMT;
            }
            i++;
            continue;
        case SQUOTE:
        case EQUOTE:
        case DQUOTE: {
            char q = sc->state == DQUOTE ? '"' : '\'';
            int bs = sc->state == EQUOTE;
            while (i < len) {
                c = (unsigned char)s[i];
                if (c == '\n') {
                    sc->line++;
                } else if (bs && c == '\\') {
                    if (i + 1 >= len) {
                        if (!eof)
                            goto more;
                    } else if (s[i + 1] == '\n') {
                        sc->line++;
                    }
                    i += 2;
                    continue;
                } else if (c == (unsigned char)q) {
                    if (i + 1 >= len && !eof)
                        goto more;
                    if (i + 1 < len && s[i + 1] == q) {
                        i += 2;
                        continue;
                    }
                    sc->state = NORMAL;
                    i++;
                    break;
                }
                i++;
            }
            continue;
        }
        case DOLLAR:
            while (i < len) {
                c = (unsigned char)s[i];
                if (c == '\n') {
                    sc->line++;
                } else if (c == '$') {
                    if (len - i < sc->tag_len && !eof)
                        goto more;
                    if (len - i >= sc->tag_len && memcmp(s + i, s + sc->tag_off, sc->tag_len) == 0) {
                        sc->state = NORMAL;
                        i += sc->tag_len;
                        break;
                    }
                }
                i++;
            }
            continue;
        case LINECOMMENT: {
            const char *nl = memchr(s + i, '\n', len - i);
            if (!nl) {
                i = len;
                continue;
            }
            i = (size_t)(nl - s);
            sc->state = NORMAL; /* NORMAL counts the newline */
            continue;
        }
        case BLOCKCOMMENT:
            while (i < len) {
                c = (unsigned char)s[i];
                if (c == '\n') {
                    sc->line++;
                } else if (c == '/' || c == '*') {
                    if (i + 1 >= len) {
                        if (!eof)
                            goto more;
                    } else if (c == '/' && s[i + 1] == '*') {
                        sc->depth++;
                        i += 2;
                        continue;
                    } else if (c == '*' && s[i + 1] == '/') {
                        i += 2;
                        if (--sc->depth == 0) {
                            sc->state = NORMAL;
                            break;
                        }
                        continue;
                    }
                }
                i++;
            }
            continue;
        }
    }
    /* a skipped EQUOTE escape may step one past the end at eof */
    if (i > len)
        i = len;
more:
    sc->pos = i;
    return SF_SCAN_MORE;
}

const char *sf_sqlscan_eof_error(const sf_sqlscan *sc, uint64_t *line)
{
    *line = sc->open_line;
    switch (sc->state) {
    case SQUOTE:
    case EQUOTE: return "unterminated quoted string";
    case DQUOTE: return "unterminated quoted identifier";
    case DOLLAR: return "unterminated dollar-quoted string";
    case BLOCKCOMMENT: return "unterminated /* comment";
    default: break;
    }
    *line = sc->tok_line;
    return sc->tok != NO_TOK ? "statement without a terminating ';'" : NULL;
}
