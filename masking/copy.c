/* The COPY TEXT codec: split, decode, encode, and the COPY head. */
#include <stdlib.h>
#include <string.h>
#include "copy.h"
#include "sqltok.h"

size_t sf_copy_split(sf_span *fields, size_t max, const char *line, size_t len, size_t *bad)
{
    const char *p = line, *end = line + len;
    size_t n = 0;
    if (!memchr(line, '\\', len)) {
        /* common case: no escapes, every tab is a delimiter */
        for (;;) {
            const char *t = memchr(p, '\t', (size_t)(end - p));
            const char *fe = t ? t : end;
            if (n < max) {
                fields[n].ptr = p;
                fields[n].len = (size_t)(fe - p);
            }
            n++;
            if (!t)
                return n;
            p = t + 1;
        }
    }
    for (;;) {
        const char *q = p;
        while (q < end && *q != '\t') {
            if (*q == '\\') {
                if (q + 1 >= end) {
                    *bad = (size_t)(q - line);
                    return 0;
                }
                q += 2;
            } else {
                q++;
            }
        }
        if (n < max) {
            fields[n].ptr = p;
            fields[n].len = (size_t)(q - p);
        }
        n++;
        if (q >= end)
            return n;
        p = q + 1;
    }
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

int sf_copy_decode(sf_buf *out, const char *raw, size_t len, const char **why, size_t *at)
{
    size_t i = 0;
    if (sf_buf_grow(out, len) < 0) {
        *why = "out of memory";
        *at = 0;
        return -1;
    }
    while (i < len) {
        const char *bs = memchr(raw + i, '\\', len - i);
        size_t run = bs ? (size_t)(bs - (raw + i)) : len - i;
        size_t esc;
        int v;
        if (run) {
            if (memchr(raw + i, '\0', run)) {
                *why = "NUL byte in the data";
                *at = (size_t)((const char *)memchr(raw + i, '\0', run) - raw);
                return -1;
            }
            memcpy(out->ptr + out->len, raw + i, run);
            out->len += run;
            i += run;
            if (!bs)
                break;
        }
        esc = i++;
        if (i >= len) {
            *why = "backslash at the end of the field";
            *at = esc;
            return -1;
        }
        switch (raw[i]) {
        case 'b': v = '\b'; i++; break;
        case 'f': v = '\f'; i++; break;
        case 'n': v = '\n'; i++; break;
        case 'r': v = '\r'; i++; break;
        case 't': v = '\t'; i++; break;
        case 'v': v = '\v'; i++; break;
        case 'x':
            i++;
            if (i >= len || hexval((unsigned char)raw[i]) < 0) {
                *why = "invalid \\x escape (no hex digit)";
                *at = esc;
                return -1;
            }
            v = hexval((unsigned char)raw[i++]);
            if (i < len && hexval((unsigned char)raw[i]) >= 0)
                v = v * 16 + hexval((unsigned char)raw[i++]);
            break;
        default:
            if (raw[i] >= '0' && raw[i] <= '7') {
                v = raw[i++] - '0';
                if (i < len && raw[i] >= '0' && raw[i] <= '7') {
                    v = v * 8 + (raw[i++] - '0');
                    if (i < len && raw[i] >= '0' && raw[i] <= '7')
                        v = v * 8 + (raw[i++] - '0');
                }
                v &= 0xFF;
            } else {
                v = (unsigned char)raw[i++];
            }
        }
        if (v == 0) {
            *why = "escape produces a NUL byte";
            *at = esc;
            return -1;
        }
        out->ptr[out->len++] = (char)v;
    }
    out->ptr[out->len] = '\0';
    return 0;
}

/* 1 for the bytes COPY TEXT output escapes. */
static const unsigned char needs_escape[256] = {
    ['\b'] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, ['\\'] = 1, [0] = 1,
};

int sf_copy_encode(sf_buf *out, const char *value, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t run = 0;
        while (i + run < len && !needs_escape[(unsigned char)value[i + run]])
            run++;
        if (run) {
            if (sf_buf_add(out, value + i, run) < 0)
                return -1;
            i += run;
            if (i >= len)
                break;
        }
        {
            char e[2] = {'\\', 0};
            switch (value[i]) {
            case '\b': e[1] = 'b'; break;
            case '\t': e[1] = 't'; break;
            case '\n': e[1] = 'n'; break;
            case '\v': e[1] = 'v'; break;
            case '\f': e[1] = 'f'; break;
            case '\r': e[1] = 'r'; break;
            case '\\': e[1] = '\\'; break;
            default: return -1; /* NUL */
            }
            if (sf_buf_add(out, e, 2) < 0)
                return -1;
            i++;
        }
    }
    return 0;
}

void sf_copyhead_init(sf_copyhead *h)
{
    memset(h, 0, sizeof(*h));
    sf_buf_init(&h->schema, 0);
    sf_buf_init(&h->table, 0);
    sf_buf_init(&h->names, 0);
}

void sf_copyhead_free(sf_copyhead *h)
{
    if (!h)
        return;
    sf_buf_free(&h->schema);
    sf_buf_free(&h->table);
    sf_buf_free(&h->names);
    free(h->cols);
    h->cols = NULL;
    h->ncols = h->cols_cap = 0;
}

static int is_name(const sf_tok *t)
{
    return t->kind == SF_TOK_WORD || t->kind == SF_TOK_QIDENT;
}

int sf_copyhead_parse(sf_copyhead *h, const char *stmt, size_t len, const char *default_schema, int scs)
{
    sf_lexer lx;
    sf_tok t;
    sf_buf name = SF_BUF_INIT;
    size_t off;
    int rc = -1;
    sf_lex_init(&lx, stmt, len, scs);
    sf_buf_clear(&h->names);
    h->ncols = 0;
    h->has_list = h->options = 0;
    if (sf_lex_next(&lx, &t) != SF_TOK_WORD || !sf_tok_word(&lx, &t, "copy"))
        goto out;
    if (sf_lex_next(&lx, &t) == SF_TOK_EOF || !is_name(&t))
        goto out;
    if (sf_tok_ident(&h->table, &lx, &t) < 0)
        goto out;
    sf_lex_peek(&lx, &t);
    if (sf_tok_op(&lx, &t, ".")) {
        sf_lex_next(&lx, &t);
        if (sf_lex_next(&lx, &t) == SF_TOK_EOF || !is_name(&t))
            goto out;
        if (sf_buf_set(&h->schema, h->table.ptr, h->table.len) < 0 || sf_tok_ident(&h->table, &lx, &t) < 0)
            goto out;
    } else if (sf_buf_sets(&h->schema, default_schema) < 0) {
        goto out;
    }
    sf_lex_next(&lx, &t);
    if (sf_tok_op(&lx, &t, "(")) {
        h->has_list = 1;
        for (;;) {
            if (sf_lex_next(&lx, &t) == SF_TOK_EOF || !is_name(&t) || sf_tok_ident(&name, &lx, &t) < 0)
                goto out;
            if (sf_buf_add(&h->names, name.ptr, name.len + 1) < 0)
                goto out;
            h->ncols++;
            sf_lex_next(&lx, &t);
            if (sf_tok_op(&lx, &t, ")"))
                break;
            if (!sf_tok_op(&lx, &t, ","))
                goto out;
        }
        sf_lex_next(&lx, &t);
    }
    if (h->ncols > h->cols_cap) {
        size_t cap = h->ncols < 16 ? 16 : h->ncols;
        const char **c = realloc(h->cols, cap * sizeof(*c));
        if (!c)
            goto out;
        h->cols = c;
        h->cols_cap = cap;
    }
    off = 0;
    for (size_t i = 0; i < h->ncols; i++) {
        h->cols[i] = h->names.ptr + off;
        off += strlen(h->names.ptr + off) + 1;
    }
    if (!sf_tok_word(&lx, &t, "from")) {
        rc = 1; /* COPY ... TO */
        goto out;
    }
    sf_lex_next(&lx, &t);
    if (!sf_tok_word(&lx, &t, "stdin")) {
        rc = 1;
        goto out;
    }
    sf_lex_next(&lx, &t);
    if (!(sf_tok_op(&lx, &t, ";") || t.kind == SF_TOK_EOF))
        h->options = 1;
    rc = 0;
out:
    sf_buf_free(&name);
    return rc;
}
