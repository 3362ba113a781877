/*
 * The plain-format reader: streams a pg_dump SQL script through the masker.
 * Memory is bounded by the longest statement or COPY line: the input is
 * read in large blocks into a window that only grows when one unit does not
 * fit; output is collected in a buffer and written in large blocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <sys/stat.h>
#include "insert.h"
#include "maskerint.h"
#include "plain_par.h"
#include "sqlident.h"
#include "sqlscan.h"
#include "sqltok.h"

#define RD_BLOCK (1u << 20)
#define WR_BLOCK (1u << 20)
#define MAX_UNIT ((size_t)1 << 30) /* longest statement or COPY line accepted */
/* COPY data handed to a worker at a time with -j N (<= RD_BLOCK / 2: a refilled window holds one) */
#define PAR_CHUNK ((size_t)256 << 10)

typedef struct reader {
    FILE *f;
    char *buf;
    size_t mapped;   /* > 0: buf is the whole input file mapped (read-only), this long; no reads */
    size_t released; /* mapped bytes before this have been dropped from memory (MADV_DONTNEED) */
    size_t cap;
    size_t start; /* the unit being read begins here; bytes before it are consumed */
    size_t end;   /* valid bytes end here */
    int eof;
    const unsigned char *pre; /* bytes already read from f (format sniffing) */
    size_t npre;
    uint64_t bytes;
} reader;

typedef struct writer {
    FILE *f; /* NULL: discard (check mode) */
    sf_buf buf;
    uint64_t bytes;
} writer;

typedef struct plain {
    sf_masker *m;
    reader rd;
    writer wr;
    sf_sqlscan sc;
    int check;
    int jobs;          /* > 1: masked COPY blocks go through par */
    sf_plainpar *par;  /* created at the first such block */
    sf_error err;
    sf_copyhead ch;
    sf_insert ins;
    /* the table of the INSERT statements being read, kept across statements */
    sf_mask_table *it;
    sf_buf it_key;
    sf_buf tmp;
} plain;

/* ---- I/O -------------------------------------------------------------- */

/* Read more input after the window's end; compacts and grows as needed. 1 = got bytes, 0 = eof, <0 error. */
static int rd_fill(plain *p)
{
    reader *r = &p->rd;
    size_t n;
    if (r->eof)
        return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < RD_BLOCK / 2) {
        size_t ncap = r->cap ? r->cap * 2 : RD_BLOCK;
        char *nb;
        if (r->end >= MAX_UNIT)
            return sf_error_set(&p->err, SF_ENOMEM, "line %llu: a statement or COPY line is longer than 1 GiB",
                                (unsigned long long)p->sc.line);
        if (!(nb = realloc(r->buf, ncap + 1)))
            return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
        r->buf = nb;
        r->cap = ncap;
    }
    if (r->npre) {
        n = r->npre < r->cap - r->end ? r->npre : r->cap - r->end;
        memcpy(r->buf + r->end, r->pre, n);
        r->pre += n;
        r->npre -= n;
    } else {
        n = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
        if (n == 0) {
            if (ferror(r->f))
                return sf_error_set(&p->err, SF_EIO, "cannot read the dump: %s", strerror(errno));
            r->eof = 1;
            return 0;
        }
    }
    r->end += n;
    r->bytes += n;
    return 1;
}

/*
 * A regular input file is mapped instead of read: no copy from the page
 * cache, no window to compact. 0 = mapped, -1 = read it the usual way.
 * Only when the stream is exactly at npre (the sniffed bytes are the
 * file's first bytes, as the map holds them).
 */
static int rd_map(reader *r)
{
    struct stat st;
    off_t pos;
    void *m;
    int fd = fileno(r->f);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2)
        return -1;
    if ((pos = ftello(r->f)) < 0 || (uint64_t)pos != (uint64_t)r->npre || r->npre > (size_t)st.st_size)
        return -1;
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return -1;
    madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    r->buf = m;
    r->mapped = r->cap = r->end = (size_t)st.st_size;
    r->bytes = (uint64_t)st.st_size;
    r->eof = 1;
    r->pre = NULL;
    r->npre = 0;
    return 0;
}

/* Drop the mapped input well behind the read position from memory (it stays correct if touched again). */
static void rd_release(reader *r)
{
    const size_t step = (size_t)32 << 20;
    size_t upto;
    if (!r->mapped || r->start < r->released + 2 * step)
        return;
    upto = (r->start - step) & ~(step - 1);
    if (upto > r->released) {
        madvise(r->buf + r->released, upto - r->released, MADV_DONTNEED);
        r->released = upto;
    }
}

static int wr_flush(plain *p)
{
    writer *w = &p->wr;
    rd_release(&p->rd);
    if (w->buf.len && w->f && fwrite(w->buf.ptr, 1, w->buf.len, w->f) != w->buf.len)
        return sf_error_set(&p->err, SF_EIO, "cannot write the masked dump: %s", strerror(errno));
    w->bytes += w->buf.len;
    sf_buf_clear(&w->buf);
    return 0;
}

/* Write s[0..n) after what is buffered, without copying it into the buffer. */
static int wr_direct(plain *p, const char *s, size_t n)
{
    writer *w = &p->wr;
    if (wr_flush(p) < 0)
        return p->err.code;
    if (fwrite(s, 1, n, w->f) != n)
        return sf_error_set(&p->err, SF_EIO, "cannot write the masked dump: %s", strerror(errno));
    w->bytes += n;
    return 0;
}

static int wr_add(plain *p, const char *s, size_t n)
{
    writer *w = &p->wr;
    if (!w->f)
        return 0;
    if (n >= WR_BLOCK)
        return wr_direct(p, s, n);
    if (sf_buf_add(&w->buf, s, n) < 0)
        return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
    return w->buf.len >= WR_BLOCK ? wr_flush(p) : 0;
}

/* Take over a table handle's error, prefixed by nothing (it names line and table). */
static int table_fail(plain *p, const sf_mask_table *t)
{
    return sf_error_copy(&p->err, sf_mask_table_error(t));
}

static int masker_fail(plain *p)
{
    return sf_error_copy(&p->err, sf_masker_error(p->m));
}

static uint64_t count_nl(const char *s, size_t n)
{
    uint64_t c = 0;
    const char *e = s + n;
    while ((s = memchr(s, '\n', (size_t)(e - s))) != NULL) {
        c++;
        s++;
    }
    return c;
}

static void quote_table(sf_buf *b, const char *schema, const char *name)
{
    sf_buf_clear(b);
    sf_ident_quote(b, schema, strlen(schema));
    sf_buf_addc(b, '.');
    sf_ident_quote(b, name, strlen(name));
}

/* ---- INSERT ------------------------------------------------------------ */

static int close_insert_table(plain *p)
{
    int rc = 0;
    if (p->it) {
        rc = sf_mask_table_end(p->it);
        p->it = NULL;
        if (rc < 0)
            return masker_fail(p);
    }
    sf_buf_clear(&p->it_key);
    return 0;
}

/* Columns of an INSERT without a column list: all of the table's columns (generated ones get DEFAULT). */
static int insert_columns(plain *p, const char ***cols, size_t *ncols, uint64_t line)
{
    const sf_cattable *ct;
    sf_insert *ins = &p->ins;
    if (ins->has_list) {
        *cols = ins->cols;
        *ncols = ins->ncols;
        return 0;
    }
    ct = sf_catalog_table(&p->m->cat, ins->schema.ptr, ins->table.ptr);
    if (!ct) {
        quote_table(&p->tmp, ins->schema.ptr, ins->table.ptr);
        return sf_error_set(&p->err, SF_EFORMAT,
                            "line %llu: INSERT INTO %s has no column list and the dump has no CREATE TABLE for it "
                            "(dump with --column-inserts)",
                            (unsigned long long)line, p->tmp.ptr);
    }
    *cols = calloc(ct->ncols ? ct->ncols : 1, sizeof(**cols));
    if (!*cols)
        return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < ct->ncols; i++)
        (*cols)[i] = ct->cols[i].name;
    *ncols = ct->ncols;
    return 0;
}

/* The table handle for the current INSERT (reused while the same table and column list continue). */
static int insert_table(plain *p, uint64_t line)
{
    sf_insert *ins = &p->ins;
    const char **cols = NULL;
    size_t ncols = 0;
    int rc;
    sf_buf_clear(&p->tmp);
    sf_buf_add(&p->tmp, ins->schema.ptr, ins->schema.len + 1);
    sf_buf_add(&p->tmp, ins->table.ptr, ins->table.len + 1);
    sf_buf_addc(&p->tmp, ins->has_list ? 'L' : 'A');
    sf_buf_add(&p->tmp, ins->names.ptr, ins->names.len);
    if (p->it_key.len && p->tmp.len == p->it_key.len && memcmp(p->tmp.ptr, p->it_key.ptr, p->tmp.len) == 0)
        return 0;
    if ((rc = close_insert_table(p)) < 0)
        return rc;
    if (sf_buf_set(&p->it_key, p->tmp.ptr, p->tmp.len) < 0)
        return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
    if ((rc = insert_columns(p, &cols, &ncols, line)) < 0) {
        sf_buf_clear(&p->it_key);
        return rc;
    }
    if (p->check)
        rc = sf_masker_note_table(p->m, ins->schema.ptr, ins->table.ptr, cols, ncols);
    else if ((rc = sf_masker_open_table(p->m, &p->it, ins->schema.ptr, ins->table.ptr, cols, ncols)) < 0)
        sf_error_set(&p->err, rc, "line %llu: %s", (unsigned long long)line, sf_masker_error(p->m)->msg);
    if (cols != ins->cols)
        free(cols);
    if (rc < 0) {
        sf_buf_clear(&p->it_key);
        if (p->err.code == 0)
            sf_error_set(&p->err, rc, "out of memory");
    }
    return rc;
}

/* Line numbers inside one statement, counted incrementally as offsets grow. */
typedef struct linecur {
    const char *s;
    size_t off;
    uint64_t line;
} linecur;

static uint64_t line_at(linecur *lc, size_t off)
{
    if (off < lc->off) { /* backwards: count again from the statement start */
        lc->line -= count_nl(lc->s + off, lc->off - off);
    } else {
        lc->line += count_nl(lc->s + lc->off, off - lc->off);
    }
    lc->off = off;
    return lc->line;
}

/*
 * One INSERT statement s[0..len) starting on `line`, preceded by prefix
 * (comments, whitespace) that is written as it is.
 */
static int do_insert(plain *p, const char *prefix, size_t plen, const char *s, size_t len, uint64_t line)
{
    sf_insert *ins = &p->ins;
    const char *why = NULL;
    size_t at = 0, last = 0;
    linecur lc = {s, 0, line};
    sf_mask_table *t;
    int rc;
    rc = sf_insert_head(ins, s, len, sf_catalog_default_schema(&p->m->cat), p->sc.scs, &why);
    if (rc < 0)
        return sf_error_set(&p->err, SF_EFORMAT, "line %llu: %s", (unsigned long long)line, why);
    if (rc == 1) {
        /* DEFAULT VALUES or INSERT ... SELECT: no values to mask */
        if ((rc = insert_table(p, line)) < 0)
            return rc;
        if (p->it && !sf_mask_table_identity(p->it)) {
            quote_table(&p->tmp, ins->schema.ptr, ins->table.ptr);
            return sf_error_set(&p->err, SF_EFORMAT,
                                "line %llu: INSERT INTO %s without a VALUES list cannot be masked",
                                (unsigned long long)line, p->tmp.ptr);
        }
        if (p->it)
            sf_mask_table_add_rows(p->it, 1);
        if (wr_add(p, prefix, plen) < 0 || wr_add(p, s, len) < 0)
            return p->err.code;
        return 0;
    }
    if ((rc = insert_table(p, line)) < 0)
        return rc;
    t = p->it;
    if (p->check || sf_mask_table_identity(t)) {
        uint64_t rows = 0;
        while ((rc = sf_insert_tuple(ins, &why, &at)) == 1)
            rows++;
        if (rc < 0)
            return sf_error_set(&p->err, SF_EFORMAT, "line %llu: %s", (unsigned long long)line_at(&lc, at), why);
        if (t)
            sf_mask_table_add_rows(t, rows);
        if (wr_add(p, prefix, plen) < 0 || wr_add(p, s, len) < 0)
            return p->err.code;
        return 0;
    }
    /* masked: the statement is rebuilt in a buffer, then written whole */
    sf_buf_clear(&p->tmp);
    while ((rc = sf_insert_tuple(ins, &why, &at)) == 1) {
        const sf_field *o;
        if (ins->nvals != t->ncols) {
            quote_table(&p->tmp, t->schema, t->name);
            return sf_error_set(&p->err, SF_EFORMAT, "line %llu: table %s: VALUES tuple has %zu value%s, expected %zu",
                                (unsigned long long)line_at(&lc, ins->tuple_start), p->tmp.ptr, ins->nvals,
                                ins->nvals == 1 ? "" : "s", t->ncols);
        }
        for (size_t i = 0; i < ins->nvals; i++) {
            const sf_insval *v = &ins->vals[i];
            t->in[i].null = v->kind == SF_IV_NULL || v->kind == SF_IV_DEFAULT;
            t->in[i].ptr = t->in[i].null ? NULL : sf_insval_ptr(ins, v);
            t->in[i].len = t->in[i].null ? 0 : v->len;
        }
        sf_mask_table_set_line(t, line_at(&lc, ins->tuple_start));
        if (sf_mask_table_row(t, t->in, &o) < 0)
            return table_fail(p, t);
        for (size_t i = 0; i < ins->nvals; i++) {
            const sf_insval *v = &ins->vals[i];
            if (!t->masks[i] || (o[i].null == t->in[i].null && o[i].ptr == t->in[i].ptr && o[i].len == t->in[i].len))
                continue;
            if ((v->kind == SF_IV_EXPR || v->kind == SF_IV_DEFAULT) && !t->opaque_ok[i]) {
                char where[768];
                sf_mask_table_set_line(t, line_at(&lc, v->start));
                sf_mask_table_where(t, (long)i, where, sizeof(where));
                return sf_error_set(&p->err, SF_EFORMAT,
                                    "%s: the value is an SQL expression, not a literal; only keep, null or fixed "
                                    "can apply to it",
                                    where);
            }
            if (sf_buf_add(&p->tmp, s + last, v->start - last) < 0 ||
                sf_insert_render(&p->tmp, o[i].ptr, o[i].len, o[i].null, v, s, p->sc.scs) < 0)
                return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
            last = v->end;
        }
    }
    if (rc < 0)
        return sf_error_set(&p->err, SF_EFORMAT, "line %llu: %s", (unsigned long long)line_at(&lc, at), why);
    if (sf_buf_add(&p->tmp, s + last, len - last) < 0)
        return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
    if (wr_add(p, prefix, plen) < 0 || wr_add(p, p->tmp.ptr, p->tmp.len) < 0)
        return p->err.code;
    return 0;
}

/* ---- COPY ------------------------------------------------------------- */

#if defined(__SSE2__)
static inline unsigned popcount16(unsigned x)
{
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0F0Fu;
    return (x + (x >> 8)) & 0x1Fu;
}
#endif

/*
 * memmem(b, n, "\n\\.", 3) (the newline before a line starting with \.),
 * counting in *nls the newlines up to and including it, or all of them
 * when there is none: one pass, 16 bytes at a time where SSE2 is there
 * (newlines counted per byte lane, summed every 255 blocks).
 */
static const char *find_end(const char *b, size_t n, uint64_t *nls)
{
    size_t i = 0;
    uint64_t c = 0;
#if defined(__SSE2__)
    const __m128i vn = _mm_set1_epi8('\n'), vb = _mm_set1_epi8('\\'), vd = _mm_set1_epi8('.');
    const __m128i zero = _mm_setzero_si128();
    while (i + 18 <= n) {
        __m128i acc = zero, sum;
        size_t stop = i + 255 * 16;
        for (; i + 18 <= n && i < stop; i += 16) {
            __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
            __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(b + i + 1));
            __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(b + i + 2));
            __m128i en = _mm_cmpeq_epi8(v0, vn);
            unsigned hit = (unsigned)_mm_movemask_epi8(
                _mm_and_si128(en, _mm_and_si128(_mm_cmpeq_epi8(v1, vb), _mm_cmpeq_epi8(v2, vd))));
            if (hit) {
                unsigned k = (unsigned)__builtin_ctz(hit), mn = (unsigned)_mm_movemask_epi8(en);
                sum = _mm_sad_epu8(acc, zero);
                *nls = c + (uint64_t)_mm_cvtsi128_si32(sum) + (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8)) +
                       popcount16(mn & ((2u << k) - 1));
                return b + i + k;
            }
            acc = _mm_sub_epi8(acc, en);
        }
        sum = _mm_sad_epu8(acc, zero);
        c += (uint64_t)_mm_cvtsi128_si32(sum) + (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8));
    }
#endif
    for (; i < n; i++) {
        if (b[i] != '\n')
            continue;
        c++;
        if (i + 2 < n && b[i + 1] == '\\' && b[i + 2] == '.') {
            *nls = c;
            return b + i;
        }
    }
    *nls = c;
    return NULL;
}

/* Copy an identity table's data verbatim up to and including its \. line. */
static int copy_verbatim(plain *p, sf_mask_table *t, const char *tname)
{
    reader *r = &p->rd;
    uint64_t rows = 0;
    for (;;) {
        char *b = r->buf + r->start;
        size_t avail = r->end - r->start;
        const char *q;
        uint64_t nls;
        if (avail < 4 && !r->eof) {
            if (rd_fill(p) < 0)
                return p->err.code;
            continue;
        }
        if (avail >= 2 && b[0] == '\\' && b[1] == '.' &&
            (avail == 2 || b[2] == '\n' || (b[2] == '\r' && (avail == 3 || b[3] == '\n')))) {
            size_t n = avail == 2 ? 2 : b[2] == '\n' ? 3 : avail == 3 ? 3 : 4;
            if (wr_add(p, b, n) < 0)
                return p->err.code;
            r->start += n;
            break;
        }
        /* up to the newline before the next line starting with \. (or the last newline we have) */
        q = find_end(b, avail, &nls);
        if (!q)
            q = memrchr(b, '\n', avail);
        if (q) {
            size_t n = (size_t)(q - b) + 1;
            if (wr_add(p, b, n) < 0)
                return p->err.code;
            rows += nls;
            r->start += n;
            continue;
        }
        if (r->eof)
            return sf_error_set(&p->err, SF_EFORMAT,
                                "line %llu: table %s: the dump ends inside its COPY data (no \\. line)",
                                (unsigned long long)(p->sc.line + rows), tname);
        if (rd_fill(p) < 0)
            return p->err.code;
    }
    p->sc.line += rows + 1;
    if (t)
        sf_mask_table_add_rows(t, rows);
    return 0;
}

/* Mask a table's COPY data, a batch of complete lines at a time, up to and including its \. line. */
static int copy_masked(plain *p, sf_mask_table *t, const char *tname)
{
    reader *r = &p->rd;
    writer *w = &p->wr;
    sf_line lines[SF_MASK_BATCH];
    for (;;) {
        char *b = r->buf + r->start;
        size_t avail = r->end - r->start, used = 0, n = 0, endlen = 0;
        /* the complete lines in the window (they stay put until the batch is done: no read in between) */
        while (n < SF_MASK_BATCH) {
            char *nl = memchr(b + used, '\n', avail - used);
            size_t len, eol;
            if (!nl)
                break;
            len = (size_t)(nl - (b + used));
            /* a CR before the newline is part of the line end (dumps written in text mode on Windows):
               COPY text never holds a raw CR in data */
            eol = len && b[used + len - 1] == '\r' ? 2 : 1;
            len -= eol - 1;
            if (len == 2 && b[used] == '\\' && b[used + 1] == '.') {
                endlen = len + eol;
                break;
            }
            lines[n].ptr = b + used;
            lines[n].len = len;
            lines[n].eol = eol;
            n++;
            used += len + eol;
        }
        if (n) {
            if (sf_mask_table_lines(t, lines, n, p->sc.line, &w->buf) < 0)
                return table_fail(p, t);
            r->start += used;
            p->sc.line += n;
            if (w->buf.len >= WR_BLOCK && wr_flush(p) < 0)
                return p->err.code;
        }
        if (endlen) {
            if (wr_add(p, r->buf + r->start, endlen) < 0)
                return p->err.code;
            r->start += endlen;
            p->sc.line++;
            return 0;
        }
        if (n == SF_MASK_BATCH)
            continue;
        /* no complete line left in the window */
        b = r->buf + r->start;
        avail = r->end - r->start;
        if (r->eof) {
            if (avail == 2 && b[0] == '\\' && b[1] == '.') {
                if (wr_add(p, b, 2) < 0)
                    return p->err.code;
                r->start += 2;
                return 0;
            }
            return sf_error_set(&p->err, SF_EFORMAT,
                                "line %llu: table %s: the dump ends inside its COPY data (no \\. line)",
                                (unsigned long long)p->sc.line, tname);
        }
        if (rd_fill(p) < 0)
            return p->err.code;
    }
}

/* A masked chunk (about PAR_CHUNK bytes) is written as it is, not copied into the write buffer first. */
static int par_emit(void *ctx, const char *s, size_t n, sf_error *err)
{
    plain *p = ctx;
    int rc = p->wr.f && n >= PAR_CHUNK / 4 ? wr_direct(p, s, n) : wr_add(p, s, n);
    return rc < 0 ? sf_error_copy(err, &p->err) : 0;
}

/* A reader error (in p->err) inside a table's data: a row error of an earlier chunk comes first, as with -j 1. */
static int par_reader_fail(plain *p)
{
    sf_error e;
    if (sf_plainpar_drain(p->par, &e) < 0)
        sf_error_copy(&p->err, &e);
    return p->err.code;
}

/*
 * copy_masked with worker threads: the data is cut into chunks of complete
 * lines (about PAR_CHUNK bytes, one line when it is longer) and handed to
 * p->par in input order. A mapped input's chunks are used in place (pages
 * rd_release drops are read again from the file); a read window's are
 * copied, as the next rd_fill moves it.
 */
static int copy_masked_par(plain *p, const char *tname)
{
    reader *r = &p->rd;
    for (;;) {
        char *b = r->buf + r->start;
        size_t avail = r->end - r->start, lim, n = 0;
        const char *q;
        uint64_t nls;
        if (avail < 4 && !r->eof) {
            if (rd_fill(p) < 0)
                return par_reader_fail(p);
            continue;
        }
        /* the \. line (a CR before its newline is part of the line end) */
        if (avail >= 3 && b[0] == '\\' && b[1] == '.' && (b[2] == '\n' || (avail >= 4 && b[2] == '\r' && b[3] == '\n')))
            n = b[2] == '\n' ? 3 : 4;
        else if (r->eof && avail == 2 && b[0] == '\\' && b[1] == '.')
            n = 2;
        if (n) {
            if (sf_plainpar_drain(p->par, &p->err) < 0 || wr_add(p, b, n) < 0)
                return p->err.code;
            r->start += n;
            if (n > 2)
                p->sc.line++;
            return 0;
        }
        lim = avail < PAR_CHUNK ? avail : PAR_CHUNK;
        q = find_end(b, lim, &nls);
        if (!q) {
            if (avail < PAR_CHUNK / 2 && !r->eof) {
                if (rd_fill(p) < 0)
                    return par_reader_fail(p);
                continue;
            }
            q = memrchr(b, '\n', lim);
            if (!q && lim < avail) { /* a line longer than a chunk: a chunk of its own */
                q = memchr(b + lim, '\n', avail - lim);
                nls = 1;
            }
            if (!q) {
                if (r->eof) {
                    sf_error_set(&p->err, SF_EFORMAT,
                                 "line %llu: table %s: the dump ends inside its COPY data (no \\. line)",
                                 (unsigned long long)p->sc.line, tname);
                    return par_reader_fail(p);
                }
                if (rd_fill(p) < 0)
                    return par_reader_fail(p);
                continue;
            }
        }
        n = (size_t)(q - b) + 1;
        if (sf_plainpar_add(p->par, b, n, r->mapped != 0, p->sc.line, &p->err) < 0)
            return p->err.code;
        r->start += n;
        p->sc.line += nls;
    }
}

/* Skip the rest of the COPY statement's line (normally just its newline), writing it. */
static int copy_rest_of_line(plain *p, const char *tname)
{
    reader *r = &p->rd;
    for (;;) {
        char *b = r->buf + r->start;
        char *nl = memchr(b, '\n', r->end - r->start);
        if (nl) {
            size_t n = (size_t)(nl - b) + 1;
            if (wr_add(p, b, n) < 0)
                return p->err.code;
            r->start += n;
            p->sc.line++;
            return 0;
        }
        if (r->eof)
            return sf_error_set(&p->err, SF_EFORMAT,
                                "line %llu: table %s: the dump ends inside its COPY data (no \\. line)",
                                (unsigned long long)p->sc.line, tname);
        if (rd_fill(p) < 0)
            return p->err.code;
    }
}

/*
 * A COPY statement in the unit [start, start+ulen) whose first token is at
 * tok. The head is written only after the table's plan is accepted.
 */
static int do_copy(plain *p, size_t ulen, size_t tok)
{
    reader *r = &p->rd;
    sf_mask_table *t = NULL;
    sf_buf tname = SF_BUF_INIT;
    const char *s = r->buf + r->start + tok;
    uint64_t line = p->sc.tok_line;
    int par = 0;
    int rc = sf_copyhead_parse(&p->ch, s, ulen - tok, sf_catalog_default_schema(&p->m->cat), p->sc.scs);
    if (rc < 0)
        return sf_error_set(&p->err, SF_EFORMAT, "line %llu: cannot read the COPY statement",
                            (unsigned long long)line);
    if (rc == 1) { /* COPY ... TO stdout etc.: no data follows in the dump */
        rc = wr_add(p, r->buf + r->start, ulen);
        r->start += ulen;
        return rc;
    }
    quote_table(&tname, p->ch.schema.ptr, p->ch.table.ptr);
    if (p->check) {
        const char **cols = p->ch.cols;
        size_t ncols = p->ch.ncols;
        const sf_cattable *ct = NULL;
        if (!p->ch.has_list && (ct = sf_catalog_table(&p->m->cat, p->ch.schema.ptr, p->ch.table.ptr))) {
            cols = calloc(ct->ncols ? ct->ncols : 1, sizeof(*cols));
            ncols = 0;
            for (size_t i = 0; cols && i < ct->ncols; i++)
                if (!ct->cols[i].generated)
                    cols[ncols++] = ct->cols[i].name;
        }
        rc = cols ? sf_masker_note_table(p->m, p->ch.schema.ptr, p->ch.table.ptr, cols, ncols) : SF_ENOMEM;
        if (ct)
            free(cols);
        if (rc < 0) {
            sf_buf_free(&tname);
            return sf_error_set(&p->err, rc, "out of memory");
        }
    } else if (sf_masker_table_begin(p->m, &t, s, ulen - tok) < 0) {
        sf_error_set(&p->err, sf_masker_error(p->m)->code, "line %llu: %s", (unsigned long long)line,
                     sf_masker_error(p->m)->msg);
        sf_buf_free(&tname);
        return p->err.code;
    }
    if (t && !sf_mask_table_identity(t) && p->jobs > 1) {
        if (!p->par && sf_plainpar_new(&p->par, p->jobs, par_emit, p, &p->err) < 0)
            goto fail;
        if (sf_plainpar_begin(p->par, t, s, ulen - tok, &p->err) < 0)
            goto fail;
        par = 1;
    }
    /* the plan is accepted: now the head may be written */
    if (wr_add(p, r->buf + r->start, ulen) < 0)
        goto fail;
    r->start += ulen;
    if (copy_rest_of_line(p, tname.ptr) < 0)
        goto fail;
    if (!t || sf_mask_table_identity(t))
        rc = copy_verbatim(p, t, tname.ptr);
    else if (par)
        rc = copy_masked_par(p, tname.ptr);
    else
        rc = copy_masked(p, t, tname.ptr);
    /* the workers' handles are folded before t: each row is counted once, by the handle that masked it */
    if (par && sf_plainpar_end(p->par, rc == 0) < 0 && rc == 0)
        rc = masker_fail(p);
    if (rc < 0)
        goto fail;
    sf_buf_free(&tname);
    if (t && sf_mask_table_end(t) < 0)
        return masker_fail(p);
    return 0;
fail:
    if (par)
        sf_plainpar_end(p->par, 0); /* joins the workers before t goes */
    sf_mask_table_abort(t);
    sf_buf_free(&tname);
    return p->err.code;
}

/* ---- statements ------------------------------------------------------- */

static int first_word_is(const char *s, size_t len, const char *kw)
{
    size_t n = strlen(kw);
    if (len < n || strncasecmp(s, kw, n) != 0)
        return 0;
    return len == n || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_' ||
                         (s[n] >= '0' && s[n] <= '9') || (unsigned char)s[n] >= 0x80);
}

/* SET standard_conforming_strings = on|off */
static void follow_scs(plain *p, const char *s, size_t len)
{
    sf_lexer lx;
    sf_tok t;
    sf_lex_init(&lx, s, len, p->sc.scs);
    sf_lex_next(&lx, &t);
    sf_lex_next(&lx, &t);
    if (sf_tok_word(&lx, &t, "session") || sf_tok_word(&lx, &t, "local"))
        sf_lex_next(&lx, &t);
    if (!sf_tok_word(&lx, &t, "standard_conforming_strings"))
        return;
    sf_lex_next(&lx, &t);
    if (!(sf_tok_op(&lx, &t, "=") || sf_tok_word(&lx, &t, "to")))
        return;
    sf_lex_next(&lx, &t);
    if (t.kind == SF_TOK_STRING && t.prefix == 0 && t.end - t.start >= 2) {
        t.start++;
        t.end--;
        t.kind = SF_TOK_WORD;
    }
    if (sf_tok_word(&lx, &t, "off") || sf_tok_word(&lx, &t, "false") || sf_tok_word(&lx, &t, "no") ||
        sf_tok_word(&lx, &t, "0"))
        p->sc.scs = 0;
    else if (sf_tok_word(&lx, &t, "on") || sf_tok_word(&lx, &t, "true") || sf_tok_word(&lx, &t, "yes") ||
             sf_tok_word(&lx, &t, "1") || sf_tok_word(&lx, &t, "default"))
        p->sc.scs = 1;
}

/* One complete statement: the unit [start, start+ulen) with its first token at tok. */
static int do_statement(plain *p, size_t ulen, size_t tok)
{
    reader *r = &p->rd;
    const char *u = r->buf + r->start, *s = u + tok;
    size_t slen = ulen - tok;
    int rc;
    if (first_word_is(s, slen, "insert")) {
        rc = do_insert(p, u, tok, s, slen, p->sc.tok_line);
        r->start += ulen;
        return rc;
    }
    if ((rc = close_insert_table(p)) < 0)
        return rc;
    if (first_word_is(s, slen, "copy"))
        return do_copy(p, ulen, tok);
    if (first_word_is(s, slen, "create")) {
        if (sf_masker_ddl_scs(p->m, s, slen, p->sc.scs) < 0)
            return masker_fail(p);
    } else if (first_word_is(s, slen, "set")) {
        follow_scs(p, s, slen);
        if (sf_catalog_search_path(&p->m->cat, s, slen, p->sc.scs) < 0)
            return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
    } else if (first_word_is(s, slen, "select")) {
        if (sf_catalog_search_path(&p->m->cat, s, slen, p->sc.scs) < 0)
            return sf_error_set(&p->err, SF_ENOMEM, "out of memory");
    }
    rc = wr_add(p, u, ulen);
    r->start += ulen;
    return rc;
}

/* \connect (pg_dumpall) starts a new session: settings go back to the server defaults. */
static void follow_connect(plain *p, const char *u, size_t len)
{
    size_t i = 0, e = len;
    const char *nl;
    if (e && u[e - 1] == '\n')
        e--;
    if ((nl = memrchr(u, '\n', e)) != NULL) /* the meta-command is the unit's last line */
        i = (size_t)(nl - u) + 1;
    while (i < len && (u[i] == ' ' || u[i] == '\t'))
        i++;
    if ((len - i >= 8 && strncmp(u + i, "\\connect", 8) == 0 && (len - i == 8 || u[i + 8] == ' ' || u[i + 8] == '\n')) ||
        (len - i >= 3 && strncmp(u + i, "\\c ", 3) == 0)) {
        p->sc.scs = 1;
        sf_catalog_search_path(&p->m->cat, "SET search_path = DEFAULT;", 26, 1);
    }
}

static int run(plain *p)
{
    reader *r = &p->rd;
    int rc;
    for (;;) {
        size_t end = 0;
        int k = sf_sqlscan_run(&p->sc, r->buf + r->start, r->end - r->start, r->eof, &end);
        if (k == SF_SCAN_MORE) {
            if (r->eof) {
                uint64_t line;
                const char *why = sf_sqlscan_eof_error(&p->sc, &line);
                if (why)
                    return sf_error_set(&p->err, SF_EFORMAT, "line %llu: %s", (unsigned long long)line, why);
                if ((rc = close_insert_table(p)) < 0)
                    return rc;
                return wr_add(p, r->buf + r->start, r->end - r->start);
            }
            if (rd_fill(p) < 0)
                return p->err.code;
            continue;
        }
        if (k == SF_SCAN_META) {
            if ((rc = close_insert_table(p)) < 0)
                return rc;
            follow_connect(p, r->buf + r->start, end);
            if (wr_add(p, r->buf + r->start, end) < 0)
                return p->err.code;
            r->start += end;
        } else if ((rc = do_statement(p, end, p->sc.tok)) < 0) {
            return rc;
        }
        sf_sqlscan_next_unit(&p->sc);
    }
}

int sf_plain_run(sf_masker *m, FILE *in, const unsigned char *pre, size_t npre, FILE *out, int check, int jobs)
{
    plain *p = calloc(1, sizeof(*p));
    int rc;
    if (!p)
        return sf_error_set(&m->err, SF_ENOMEM, "out of memory");
    p->m = m;
    p->check = check;
    p->jobs = check ? 1 : jobs;
    p->rd.f = in;
    p->rd.pre = pre;
    p->rd.npre = npre;
    p->wr.f = check ? NULL : out;
    rd_map(&p->rd);
    sf_buf_init(&p->wr.buf, 0);
    sf_buf_init(&p->it_key, 0);
    sf_buf_init(&p->tmp, 0);
    sf_sqlscan_init(&p->sc);
    sf_copyhead_init(&p->ch);
    sf_insert_init(&p->ins);
    rc = run(p);
    if (rc == 0)
        rc = wr_flush(p);
    if (p->it) {
        if (rc == 0) {
            if (sf_mask_table_end(p->it) < 0)
                rc = masker_fail(p);
        } else {
            sf_mask_table_abort(p->it);
        }
    }
    pthread_mutex_lock(&m->mu);
    m->bytes_in += p->rd.bytes;
    m->bytes_out += p->wr.bytes;
    if (rc < 0)
        sf_error_copy(&m->err, &p->err);
    pthread_mutex_unlock(&m->mu);
    sf_plainpar_free(p->par);
    sf_copyhead_free(&p->ch);
    sf_insert_free(&p->ins);
    sf_buf_free(&p->wr.buf);
    sf_buf_free(&p->it_key);
    sf_buf_free(&p->tmp);
    if (p->rd.mapped)
        munmap(p->rd.buf, p->rd.mapped);
    else
        free(p->rd.buf);
    free(p);
    return rc;
}
