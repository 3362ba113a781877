#ifndef STAGEFORK_BUF_H
#define STAGEFORK_BUF_H
/*
 * sf_buf: the one growable byte buffer. `ptr` is never NULL and always
 * NUL-terminated (so it can be used as a C string when it holds text);
 * `len` excludes the terminator. `max` (0 = unlimited) caps len: growing
 * past it fails with SF_ENOMEM, which bounds memory on hostile input.
 */

#include <stddef.h>
#include "stagefork/error.h"

typedef struct sf_buf {
    char *ptr;
    size_t len;
    size_t cap; /* 0 while ptr points at the shared empty string */
    size_t max;
} sf_buf;

extern char sf_buf__empty[1];
#define SF_BUF_INIT { sf_buf__empty, 0, 0, 0 }

void sf_buf_init(sf_buf *b, size_t max);
/* Make room for `extra` more bytes plus the terminator. */
int sf_buf_grow(sf_buf *b, size_t extra);
int sf_buf_add(sf_buf *b, const void *data, size_t n);
int sf_buf_adds(sf_buf *b, const char *s);
int sf_buf_addc(sf_buf *b, char c);
int sf_buf_addf(sf_buf *b, const char *fmt, ...) SF_PRINTF(2, 3);
int sf_buf_vaddf(sf_buf *b, const char *fmt, va_list ap);
int sf_buf_set(sf_buf *b, const void *data, size_t n);
int sf_buf_sets(sf_buf *b, const char *s);
void sf_buf_truncate(sf_buf *b, size_t len);
static inline void sf_buf_clear(sf_buf *b) { sf_buf_truncate(b, 0); }
/* Release memory; b is left empty and reusable. */
void sf_buf_free(sf_buf *b);
/* Hand the heap string to the caller (free() it); b is left empty. Never NULL. */
char *sf_buf_detach(sf_buf *b, size_t *len);

#endif
