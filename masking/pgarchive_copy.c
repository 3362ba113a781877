/* The COPY text pump: split an archive's table data into lines and run each
   row through the table hooks, byte-exact for everything else. */
#include <string.h>
#include "pgarchive_int.h"

/* A single COPY row may be up to 1 GB in PostgreSQL; allow some slack. */
#define LINE_MAX_BYTES ((size_t)1 << 31)

void pga_copy_init(pga_copy *c, const pga_ops *ops, void *table, pga_sink_fn sink, void *ud)
{
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->table = table;
    c->sink = sink;
    c->ud = ud;
    sf_buf_init(&c->part, LINE_MAX_BYTES);
    sf_buf_init(&c->out, 0);
}

static int one_line(pga_copy *c, const char *p, size_t n, sf_error *err)
{
    int rc;
    c->lineno++;
    if (c->ended || (n == 2 && p[0] == '\\' && p[1] == '.')) {
        c->ended = 1;
        rc = sf_buf_add(&c->out, p, n);
    } else {
        rc = c->ops->line(c->table, p, n, &c->out, err);
        if (rc < 0)
            return sf_error_prefix(err, "line %llu", (unsigned long long)c->lineno);
    }
    if (rc == 0)
        rc = sf_buf_addc(&c->out, '\n');
    if (rc < 0)
        return sf_error_set(err, rc, "out of memory at line %llu", (unsigned long long)c->lineno);
    if (c->out.len >= PGA_CHUNK) {
        rc = c->sink(c->ud, c->out.ptr, c->out.len, err);
        sf_buf_clear(&c->out);
    }
    return rc;
}

int pga_copy_feed(void *ud, const void *data, size_t n, sf_error *err)
{
    pga_copy *c = ud;
    const char *p = data;
    int rc;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k;
        if (!nl) {
            if (sf_buf_add(&c->part, p, n) < 0)
                return sf_error_set(err, SF_ENOMEM, "line %llu is longer than %zu bytes",
                                    (unsigned long long)c->lineno + 1, LINE_MAX_BYTES);
            return 0;
        }
        k = (size_t)(nl - p);
        if (c->part.len) {
            if (sf_buf_add(&c->part, p, k) < 0)
                return sf_error_set(err, SF_ENOMEM, "line %llu is longer than %zu bytes",
                                    (unsigned long long)c->lineno + 1, LINE_MAX_BYTES);
            rc = one_line(c, c->part.ptr, c->part.len, err);
            sf_buf_clear(&c->part);
        } else {
            rc = one_line(c, p, k, err);
        }
        if (rc < 0)
            return rc;
        p += k + 1;
        n -= k + 1;
    }
    return 0;
}

int pga_copy_finish(pga_copy *c, sf_error *err)
{
    int rc;
    if (c->part.len) {
        if (!c->ended)
            return sf_error_set(err, SF_EFORMAT, "table data ends inside line %llu (no newline; truncated?)",
                                (unsigned long long)c->lineno + 1);
        if (sf_buf_add(&c->out, c->part.ptr, c->part.len) < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        sf_buf_clear(&c->part);
    }
    if (c->out.len) {
        rc = c->sink(c->ud, c->out.ptr, c->out.len, err);
        sf_buf_clear(&c->out);
        return rc;
    }
    return 0;
}

void pga_copy_free(pga_copy *c)
{
    if (!c)
        return;
    sf_buf_free(&c->part);
    sf_buf_free(&c->out);
}
