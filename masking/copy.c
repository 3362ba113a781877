/* The COPY TEXT codec: split, decode, encode, and the COPY head. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "copy.h"
#include "copyscan.h"
#include "sqltok.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The escape-aware split from field start p on (after a backslash was seen). */
static size_t split_escaped(sf_span *fields, size_t max, size_t n, const char *line, const char *p, const char *end,
                            size_t *bad)
{
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

size_t sf_copy_split_esc(sf_span *fields, size_t max, const char *line, size_t len, size_t *bad, int *escaped)
{
    const char *p = line, *end = line + len, *fs = line;
    size_t n = 0;
    int esc = 0;
    /*
     * One pass. A backslash followed by anything but a tab or a backslash
     * ("\N", "\n", "\t", "\x41") cannot change where fields end, so every
     * raw tab is still a delimiter. At the first backslash followed by a tab
     * or a backslash, the escape-aware loop takes over from the start of the
     * field it is in.
     */
#if defined(__SSE2__)
    if (len >= 16) {
        for (;;) {
            sf_copy_step st;
            const char *q;
            unsigned mt, mb, hard;
            int tail;
            if (p >= end)
                break;
            sf_copy_step16(&st, p, end);
            q = st.q, mt = st.mt, mb = st.mb, hard = st.hard, tail = st.tail;
            if (mb)
                esc = 1;
            if (hard)
                mt &= (hard & (0u - hard)) - 1; /* the tabs before that backslash */
            while (mt) {
                const char *t = q + __builtin_ctz(mt);
                if (n < max) {
                    fields[n].ptr = fs;
                    fields[n].len = (size_t)(t - fs);
                }
                n++;
                fs = t + 1;
                mt &= mt - 1;
            }
            if (hard)
                goto slow;
            if (tail)
                break;
            /* a harmless backslash in the last byte escapes the next chunk's first: never a tab */
            p += 16 + ((mb >> 15) & 1);
        }
        if (n < max) {
            fields[n].ptr = fs;
            fields[n].len = (size_t)(end - fs);
        }
        if (escaped)
            *escaped = esc;
        return n + 1;
    }
#endif
    for (; p < end; p++) {
        if (*p == '\t') {
            if (n < max) {
                fields[n].ptr = fs;
                fields[n].len = (size_t)(p - fs);
            }
            n++;
            fs = p + 1;
        } else if (*p == '\\') {
            esc = 1;
            if (p + 1 >= end || p[1] == '\t' || p[1] == '\\')
                goto slow;
            p++;
        }
    }
    if (n < max) {
        fields[n].ptr = fs;
        fields[n].len = (size_t)(end - fs);
    }
    if (escaped)
        *escaped = esc;
    return n + 1;
slow:
    if (escaped)
        *escaped = 1;
    return split_escaped(fields, max, n, line, fs, end, bad);
}

size_t sf_copy_split(sf_span *fields, size_t max, const char *line, size_t len, size_t *bad)
{
    return sf_copy_split_esc(fields, max, line, len, bad, NULL);
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

/* Some byte of x is below 14 (NUL and \b..\r, with a few harmless false alarms) or a backslash. */
static inline int word_needs_escape(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t y = x ^ (ones * '\\');
    return (((x - ones * 14) & ~x) | ((y - ones) & ~y)) & highs ? 1 : 0;
}

char *sf_copy_encode_to(char *dst, const char *value, size_t len)
{
    static const char letter[256] = {['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\v'] = 'v',
                                     ['\f'] = 'f', ['\r'] = 'r', ['\\'] = '\\'};
    size_t i = 0;
    for (;;) {
        size_t stop;
        /* 8 bytes at a time while no byte needs a look */
        while (i + 8 <= len) {
            uint64_t x;
            memcpy(&x, value + i, 8);
            if (word_needs_escape(x))
                break;
            memcpy(dst, &x, 8);
            dst += 8;
            i += 8;
        }
        if (i >= len)
            return dst;
        stop = i + 8 < len ? i + 8 : len;
        for (; i < stop; i++) {
            unsigned char c = (unsigned char)value[i];
            if (!needs_escape[c]) {
                *dst++ = (char)c;
            } else if (c == 0) {
                return NULL;
            } else {
                *dst++ = '\\';
                *dst++ = letter[c];
            }
        }
    }
}

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
