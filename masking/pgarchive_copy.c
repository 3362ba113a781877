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
        if ((rc = c->ops->line(c->table, c->lineno, p, n, &c->out, err)) < 0)
            return rc;
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

/* Run the queued rows through ops->lines (they point into the piece being fed). */
static int flush_batch(pga_copy *c, sf_error *err)
{
    int rc;
    size_t n = c->nbatch;
    if (!n)
        return 0;
    c->nbatch = 0;
    if ((rc = c->ops->lines(c->table, c->lineno + 1, c->batch, n, &c->out, err)) < 0)
        return rc;
    c->lineno += n;
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
            if ((rc = flush_batch(c, err)) < 0)
                return rc;
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
        } else if (c->ops->lines && !c->ended && !(k == 2 && p[0] == '\\' && p[1] == '.')) {
            /* a row: queued, masked with the rows after it in this piece */
            c->batch[c->nbatch].ptr = p;
            c->batch[c->nbatch].len = k;
            c->batch[c->nbatch].eol = 1;
            rc = ++c->nbatch == PGA_COPY_BATCH ? flush_batch(c, err) : 0;
        } else {
            rc = flush_batch(c, err);
            if (rc == 0)
                rc = one_line(c, p, k, err);
        }
        if (rc < 0)
            return rc;
        p += k + 1;
        n -= k + 1;
    }
    return flush_batch(c, err);
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

/* ---- row counting ----------------------------------------------------------- */

int pga_rows_init(pga_rows *r, int zmode, sf_error *err)
{
    memset(r, 0, sizeof(*r));
    r->zmode = zmode;
    return zmode == PGA_Z_NONE ? 0 : pga_zr_init(&r->zr, zmode, err);
}

static int count_text(void *ud, const void *data, size_t n, sf_error *err)
{
    pga_rows *r = ud;
    const char *p = data;
    (void)err;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (r->linelen < 2 && k > 0) {
            if (r->linelen == 0) {
                r->c0 = p[0];
                if (k > 1)
                    r->c1 = p[1];
            } else {
                r->c1 = p[0];
            }
        }
        r->linelen += k;
        if (!nl)
            break;
        if (!r->ended) {
            if (r->linelen == 2 && r->c0 == '\\' && r->c1 == '.')
                r->ended = 1;
            else
                r->rows++;
        }
        r->linelen = 0;
        p += k + 1;
        n -= k + 1;
    }
    return 0;
}

int pga_rows_feed(void *ud, const void *p, size_t n, sf_error *err)
{
    pga_rows *r = ud;
    r->fed += n;
    return r->zmode == PGA_Z_NONE ? count_text(r, p, n, err) : pga_zr_feed(&r->zr, p, n, count_text, r, err);
}

int pga_rows_finish(pga_rows *r, sf_error *err)
{
    int rc;
    /* an empty .gz file reads as empty, as with gzread */
    if (r->zmode != PGA_Z_NONE && !(r->zmode == PGA_Z_GZIP && r->fed == 0) && (rc = pga_zr_finish(&r->zr, err)) < 0)
        return rc;
    if (r->linelen && !r->ended)
        return sf_error_set(err, SF_EFORMAT, "table data ends inside line %llu (no newline; truncated?)",
                            (unsigned long long)r->rows + 1);
    return 0;
}

void pga_rows_free(pga_rows *r)
{
    if (r && r->zmode != PGA_Z_NONE)
        pga_zr_free(&r->zr);
}

int pga_tee_sink(void *ud, const void *p, size_t n, sf_error *err)
{
    pga_tee *t = ud;
    int rc = t->a(t->ua, p, n, err);
    return rc < 0 ? rc : t->b(t->ub, p, n, err);
}
