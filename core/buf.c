/* sf_buf: growable, always NUL-terminated, optionally capped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/buf.h"

char sf_buf__empty[1];

void sf_buf_init(sf_buf *b, size_t max)
{
    b->ptr = sf_buf__empty;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int sf_buf_grow(sf_buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;
    if (extra > SIZE_MAX - b->len - 1)
        return SF_ENOMEM;
    need = b->len + extra + 1;
    if (b->max && need - 1 > b->max)
        return SF_ENOMEM;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    p = realloc(b->cap ? b->ptr : NULL, ncap);
    if (!p)
        return SF_ENOMEM;
    if (!b->cap)
        p[0] = '\0';
    b->ptr = p;
    b->cap = ncap;
    return 0;
}

int sf_buf_add(sf_buf *b, const void *data, size_t n)
{
    int rc;
    if (n == 0)
        return 0;
    if ((rc = sf_buf_grow(b, n)) < 0)
        return rc;
    memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int sf_buf_adds(sf_buf *b, const char *s)
{
    return sf_buf_add(b, s, strlen(s));
}

int sf_buf_addc(sf_buf *b, char c)
{
    if (b->len + 1 < b->cap && (!b->max || b->len < b->max)) {
        b->ptr[b->len++] = c;
        b->ptr[b->len] = '\0';
        return 0;
    }
    return sf_buf_add(b, &c, 1);
}

int sf_buf_vaddf(sf_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, rc;
    va_copy(cp, ap);
    n = vsnprintf(b->cap ? b->ptr + b->len : NULL, b->cap ? b->cap - b->len : 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return SF_EINTERNAL;
    if (b->cap && (size_t)n < b->cap - b->len) {
        if (b->max && b->len + (size_t)n > b->max) {
            b->ptr[b->len] = '\0';
            return SF_ENOMEM;
        }
        b->len += (size_t)n;
        return 0;
    }
    if ((rc = sf_buf_grow(b, (size_t)n)) < 0) {
        if (b->cap)
            b->ptr[b->len] = '\0';
        return rc;
    }
    vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sf_buf_addf(sf_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = sf_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int sf_buf_set(sf_buf *b, const void *data, size_t n)
{
    sf_buf_truncate(b, 0);
    return sf_buf_add(b, data, n);
}

int sf_buf_sets(sf_buf *b, const char *s)
{
    return sf_buf_set(b, s, strlen(s));
}

void sf_buf_truncate(sf_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        if (b->cap)
            b->ptr[len] = '\0';
    }
}

void sf_buf_free(sf_buf *b)
{
    if (b->cap)
        free(b->ptr);
    b->ptr = sf_buf__empty;
    b->len = 0;
    b->cap = 0;
}

char *sf_buf_detach(sf_buf *b, size_t *len)
{
    char *p;
    if (len)
        *len = b->len;
    if (!b->cap) {
        p = malloc(1);
        if (p)
            p[0] = '\0';
        return p;
    }
    p = b->ptr;
    b->ptr = sf_buf__empty;
    b->len = 0;
    b->cap = 0;
    return p;
}
