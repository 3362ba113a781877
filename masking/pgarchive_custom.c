/*
 * pg_dump custom format (-Fc), as pg_backup_custom.c writes it: header,
 * TOC (each entry's data offset: a flag and off_size bytes), then one data
 * block per entry with data: a block type byte (BLK_DATA, BLK_BLOBS), the
 * dump id, and length-prefixed chunks ending with a zero length. Chunks
 * carry one zlib stream when the header's compression level is not 0, raw
 * COPY text otherwise. BLOBS blocks hold (oid, chunks...) pairs ending with
 * oid 0.
 *
 * The output keeps the header and TOC; block order follows the input. Like
 * pg_dump, the TOC is written first with offsets "not set", then the
 * blocks, then - when the output is seekable - rewritten in place with the
 * real offsets. The coordinator reads the blocks in order: a masked table's
 * data is inflated and cut into pieces that workers mask and deflate (see
 * pgarchive_int.h), its chunks re-framed here; other blocks are copied
 * verbatim - on a seekable input from their byte range, after a worker has
 * counted a verbatim table's rows; on a stream as they pass (after
 * everything before them has been written).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pgarchive_int.h"
#include "pgarchive_run.h"

typedef struct cus_unit {
    pga_unit u; /* first: the runner hands back this pointer */
    size_t idx;
    int type;
    unsigned char hdr[10]; /* the block's type byte and dump id, as read */
    size_t hdrlen;
    uint64_t start, body, end;
    pga_spool spool;
    uint64_t rows; /* verbatim tables: rows counted */
} cus_unit;

typedef struct cus_ctx {
    pga_job *j;
    char name[512];
    int fd, seekable;
    uint64_t size;
    pga_in in;
    pga_outfile of;
    pga_out out;
    int out_seekable;
    int zmode, level;
    pga_runner run;
    unsigned char *had_data; /* per entry: the input TOC promises a data block */
} cus_ctx;

/* Per masked table: its block header and the chunk framer of its output. */
typedef struct cus_table {
    unsigned char hdr[10];
    size_t hdrlen;
    uint64_t start;
    unsigned char *fbuf;
    size_t flen;
} cus_table;

static void cus_table_free(void *p)
{
    cus_table *ct = p;
    if (ct)
        free(ct->fbuf);
    free(ct);
}

static void block_where(const cus_ctx *c, size_t idx, uint64_t start, char *buf, size_t size)
{
    char label[256];
    pga_entry_label(&c->j->toc.e[idx], label, sizeof(label));
    snprintf(buf, size, "%s: block for %s at offset %llu", c->name, label, (unsigned long long)start);
}

static void unit_where(const cus_ctx *c, const cus_unit *cu, char *buf, size_t size)
{
    block_where(c, cu->idx, cu->start, buf, size);
}

/* Chunks of a masked table's output: <int length><up to PGA_CHUNK bytes>. */
static int frame_flush(cus_ctx *c, cus_table *ct, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc;
    if (ct->flen == 0)
        return 0;
    if (pga_put_int(&b, c->j->toc.int_size, (int32_t)ct->flen) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rc = pga_out_write(&c->out, b.ptr, b.len, err);
    sf_buf_free(&b);
    if (rc == 0)
        rc = pga_out_write(&c->out, ct->fbuf, ct->flen, err);
    ct->flen = 0;
    return rc;
}

typedef struct framing {
    cus_ctx *c;
    cus_table *ct;
} framing;

static int frame_sink(void *ud, const void *data, size_t n, sf_error *err)
{
    framing *f = ud;
    const unsigned char *p = data;
    int rc;
    while (n > 0) {
        size_t k = PGA_CHUNK - f->ct->flen;
        if (k > n)
            k = n;
        memcpy(f->ct->fbuf + f->ct->flen, p, k);
        f->ct->flen += k;
        p += k;
        n -= k;
        if (f->ct->flen == PGA_CHUNK && (rc = frame_flush(f->c, f->ct, err)) < 0)
            return rc;
    }
    return 0;
}

/* Write one masked piece: the block header and container header first, the
   container trailer and end-of-data marker after the last. */
static int emit_piece(cus_ctx *c, pga_piece *p, sf_error *err)
{
    pga_tstate *ts = p->ts;
    cus_table *ct = ts->fmt;
    pga_entry *e = &c->j->toc.e[ts->idx];
    framing f = {c, ct};
    unsigned char z[10];
    size_t zn;
    int rc;
    if (p->k == 0) {
        e->data_state = PGA_OFF_SET;
        e->data_pos = c->out.pos;
        if ((rc = pga_out_write(&c->out, ct->hdr, ct->hdrlen, err)) < 0)
            return rc;
        if ((zn = pga_z_header(ts->zmode, ts->level, z)) && (rc = frame_sink(&f, z, zn, err)) < 0)
            return rc;
    }
    if ((rc = pga_spool_drain(&p->spool, frame_sink, &f, err)) < 0 || (rc = pga_piece_done(c->j, p, err)) < 0)
        return rc;
    if (p->last) {
        sf_buf b = SF_BUF_INIT;
        if ((zn = pga_z_trailer(ts->zmode, ts->check, ts->tlen, z)) && (rc = frame_sink(&f, z, zn, err)) < 0)
            return rc;
        if ((rc = frame_flush(c, ct, err)) < 0)
            return rc;
        if (pga_put_int(&b, c->j->toc.int_size, 0) < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        rc = pga_out_write(&c->out, b.ptr, b.len, err);
        sf_buf_free(&b);
    }
    return rc;
}

/*
 * A data block's chunks (length, bytes; a zero length ends the block) from
 * in, through buf (PGA_CHUNK bytes), into sink.
 */
static int read_chunks(pga_in *in, int int_size, unsigned char *buf, pga_sink_fn sink, void *ud, sf_error *err)
{
    int rc;
    for (;;) {
        int32_t len;
        if ((rc = pga_read_int(in, int_size, &len, "a chunk length", err)) < 0 || len == 0)
            return rc;
        if (len < 0)
            return pga_in_fail(in, in->pos - (uint64_t)int_size - 1, SF_EFORMAT, err, "negative chunk length %d",
                               len);
        while (len > 0) {
            size_t k = (size_t)len < PGA_CHUNK ? (size_t)len : PGA_CHUNK;
            if ((rc = pga_in_need(in, buf, k, "chunk data", err)) < 0 || (rc = sink(ud, buf, k, err)) < 0)
                return rc;
            len -= (int32_t)k;
        }
    }
}

/* Coordinator: read a masked table's block, inflate it and hand it to workers in pieces. */
static int read_masked_block(cus_ctx *c, size_t idx, const unsigned char *hdr, size_t hdrlen, uint64_t start,
                             sf_error *err)
{
    const pga_toc *t = &c->j->toc;
    pga_in *in = &c->in;
    pga_tstate *ts = pga_tstate_new(idx, c->zmode, c->level);
    cus_table *ct = calloc(1, sizeof(*ct));
    pga_split split;
    pga_zr zr;
    pga_zr_to into = {&zr, pga_split_feed, &split};
    unsigned char *buf = malloc(PGA_CHUNK);
    int rc = 0, have_zr = 0;
    char where[1024];
    if (!ts || !ct || !buf || !(ct->fbuf = malloc(PGA_CHUNK))) {
        cus_table_free(ct);
        pga_tstate_unref(ts);
        free(buf);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    memcpy(ct->hdr, hdr, hdrlen);
    ct->hdrlen = hdrlen;
    ct->start = start;
    ts->fmt = ct;
    ts->fmt_free = cus_table_free;
    pga_split_init(&split, c->j, &c->run, ts);
    if (c->zmode != PGA_Z_NONE) {
        if ((rc = pga_zr_init(&zr, PGA_Z_ZLIB, err)) < 0)
            goto out;
        have_zr = 1;
    }
    rc = have_zr ? read_chunks(in, t->int_size, buf, pga_zr_sink, &into, err)
                 : read_chunks(in, t->int_size, buf, pga_split_feed, &split, err);
    if (rc == 0 && have_zr)
        rc = pga_zr_finish(&zr, err);
    if (rc == 0)
        rc = pga_split_finish(&split, err);
out:
    if (rc < 0 && err->msg[0] && strncmp(err->msg, c->name, strlen(c->name)) != 0) {
        block_where(c, idx, start, where, sizeof(where));
        sf_error_prefix(err, "%s", where);
    }
    if (have_zr)
        pga_zr_free(&zr);
    pga_split_free(&split);
    free(buf);
    return rc;
}

/* A table copied verbatim: count its rows (and so check its data). */
static int count_block(cus_ctx *c, cus_unit *cu, pga_in *in, sf_error *err)
{
    const pga_toc *t = &c->j->toc;
    unsigned char *buf = malloc(PGA_CHUNK);
    pga_rows rows;
    int rc;
    char where[1024];
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((rc = pga_rows_init(&rows, c->zmode, err)) < 0) {
        free(buf);
        return rc;
    }
    rc = read_chunks(in, t->int_size, buf, pga_rows_feed, &rows, err);
    if (rc == 0)
        rc = pga_rows_finish(&rows, err);
    cu->rows = rows.rows;
    if (rc < 0 && err->msg[0] && strncmp(err->msg, c->name, strlen(c->name)) != 0) {
        unit_where(c, cu, where, sizeof(where));
        sf_error_prefix(err, "%s", where);
    }
    pga_rows_free(&rows);
    free(buf);
    return rc;
}

static int unit_work(void *ctx, pga_unit *u, sf_error *err)
{
    cus_ctx *c = ctx;
    cus_unit *cu = (cus_unit *)u;
    pga_in rin;
    int rc;
    if (u->kind == PGA_UNIT_PIECE) {
        pga_piece *p = (pga_piece *)u;
        char where[1024];
        rc = pga_piece_work(c->j, p, &c->run, err);
        if (rc < 0) {
            block_where(c, p->ts->idx, ((cus_table *)p->ts->fmt)->start, where, sizeof(where));
            sf_error_prefix(err, "%s", where);
        }
        return rc;
    }
    /* a verbatim table on a seekable input: count its rows */
    if ((rc = pga_in_init_range(&rin, c->fd, c->name, cu->body, cu->end - cu->body, err)) < 0)
        return rc;
    rc = count_block(c, cu, &rin, err);
    if (rc == 0 && rin.pos != cu->end)
        rc = pga_in_fail(&rin, rin.pos, SF_EFORMAT, err, "block for TOC entry %d does not end where its "
                         "chunks end", c->j->toc.e[cu->idx].dump_id);
    pga_in_free(&rin);
    return rc;
}

/* Copy one int as raw bytes from in to out; its value in *v. */
static int copy_int(cus_ctx *c, pga_in *in, int32_t *v, const char *what, sf_error *err)
{
    int isz = c->j->toc.int_size;
    unsigned char raw[9];
    pga_in mem;
    int rc;
    if ((rc = pga_in_need(in, raw, (size_t)isz + 1, what, err)) < 0)
        return rc;
    pga_in_init_mem(&mem, raw, (size_t)isz + 1, in->name);
    mem.pos = 0;
    if ((rc = pga_read_int(&mem, isz, v, what, err)) < 0)
        return pga_in_fail(in, in->pos - (uint64_t)isz - 1, SF_EFORMAT, err, "bad integer (reading %s)", what);
    return pga_out_write(&c->out, raw, (size_t)isz + 1, err);
}

static int copy_chunks(cus_ctx *c, pga_in *in, unsigned char *buf, pga_rows *rows, sf_error *err)
{
    for (;;) {
        int32_t len;
        int rc;
        if ((rc = copy_int(c, in, &len, "a chunk length", err)) < 0)
            return rc;
        if (len == 0)
            return 0;
        if (len < 0)
            return pga_in_fail(in, in->pos, SF_EFORMAT, err, "negative chunk length %d", len);
        while (len > 0) {
            size_t k = (size_t)len < PGA_CHUNK ? (size_t)len : PGA_CHUNK;
            if ((rc = pga_in_need(in, buf, k, "chunk data", err)) < 0 ||
                (rc = pga_out_write(&c->out, buf, k, err)) < 0 || (rows && (rc = pga_rows_feed(rows, buf, k, err)) < 0))
                return rc;
            len -= (int32_t)k;
        }
    }
}

/* Verbatim copy of a block that is not transformed. */
static int copy_block(cus_ctx *c, cus_unit *cu, sf_error *err)
{
    unsigned char *buf = malloc(PGA_CHUNK);
    int rc = 0;
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (c->seekable) {
        pga_in rin;
        if ((rc = pga_in_init_range(&rin, c->fd, c->name, cu->start, cu->end - cu->start, err)) == 0) {
            uint64_t left = cu->end - cu->start;
            while (left > 0 && rc == 0) {
                size_t k = left < PGA_CHUNK ? (size_t)left : PGA_CHUNK;
                if ((rc = pga_in_need(&rin, buf, k, "block data", err)) == 0)
                    rc = pga_out_write(&c->out, buf, k, err);
                left -= k;
            }
            pga_in_free(&rin);
        }
    } else if ((rc = pga_out_write(&c->out, cu->hdr, cu->hdrlen, err)) == 0) {
        if (cu->type == PGA_BLK_DATA && c->j->plans[cu->idx].open) {
            /* A verbatim table on a stream: count its rows on the way through. */
            pga_rows rows;
            if ((rc = pga_rows_init(&rows, c->zmode, err)) == 0) {
                rc = copy_chunks(c, &c->in, buf, &rows, err);
                if (rc == 0)
                    rc = pga_rows_finish(&rows, err);
                cu->rows = rows.rows;
                pga_rows_free(&rows);
            }
            if (rc < 0 && strncmp(err->msg, c->name, strlen(c->name)) != 0) {
                char where[1024];
                unit_where(c, cu, where, sizeof(where));
                sf_error_prefix(err, "%s", where);
            }
        } else if (cu->type == PGA_BLK_DATA) {
            rc = copy_chunks(c, &c->in, buf, NULL, err);
        } else {
            for (;;) {
                int32_t oid;
                if ((rc = copy_int(c, &c->in, &oid, "a large object oid", err)) < 0 || oid == 0)
                    break;
                if ((rc = copy_chunks(c, &c->in, buf, NULL, err)) < 0)
                    break;
            }
        }
    }
    free(buf);
    return rc;
}

static int unit_emit(void *ctx, pga_unit *u, sf_error *err)
{
    cus_ctx *c = ctx;
    cus_unit *cu = (cus_unit *)u;
    pga_entry *e;
    pga_plan *plan;
    int rc;
    if (u->kind == PGA_UNIT_PIECE)
        return emit_piece(c, (pga_piece *)u, err);
    e = &c->j->toc.e[cu->idx];
    plan = &c->j->plans[cu->idx];
    e->data_state = PGA_OFF_SET;
    e->data_pos = c->out.pos;
    if ((rc = copy_block(c, cu, err)) < 0)
        return rc;
    if (plan->open && c->j->ops->rows)
        c->j->ops->rows(plan->table, cu->rows);
    return pga_job_end(c->j, cu->idx, err);
}

static void unit_drop(void *ctx, pga_unit *u)
{
    cus_ctx *c = ctx;
    cus_unit *cu = (cus_unit *)u;
    if (u->kind == PGA_UNIT_PIECE) {
        pga_piece_free(c->j, (pga_piece *)u);
        return;
    }
    pga_spool_free(&cu->spool);
    free(cu);
}

/* Seekable input: find where the block's chunks end without reading them. */
static int scan_block(cus_ctx *c, cus_unit *cu, sf_error *err)
{
    pga_in *in = &c->in;
    int isz = c->j->toc.int_size;
    char what[96];
    int rc;
    snprintf(what, sizeof(what), "chunk data of TOC entry %d", c->j->toc.e[cu->idx].dump_id);
    for (;;) {
        int32_t len, oid = 1;
        if (cu->type == PGA_BLK_BLOBS) {
            if ((rc = pga_read_int(in, isz, &oid, "a large object oid", err)) < 0)
                return rc;
            if (oid == 0)
                break;
        }
        for (;;) {
            if ((rc = pga_read_int(in, isz, &len, "a chunk length", err)) < 0)
                return rc;
            if (len == 0)
                break;
            if (len < 0)
                return pga_in_fail(in, in->pos - (uint64_t)isz - 1, SF_EFORMAT, err,
                                   "negative chunk length %d", len);
            if ((rc = pga_in_skip(in, (uint64_t)len, what, err)) < 0)
                return rc;
        }
        if (cu->type == PGA_BLK_DATA)
            break;
    }
    cu->end = in->pos;
    return 0;
}

static int write_toc(cus_ctx *c, int with_head, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc = 0;
    if (with_head)
        rc = pga_toc_write_head(&c->j->toc, &b, err);
    if (rc == 0)
        rc = pga_toc_write_entries(&c->j->toc, &b, err);
    if (rc == 0)
        rc = pga_out_write(&c->out, b.ptr, b.len, err);
    sf_buf_free(&b);
    return rc;
}

static int read_blocks(cus_ctx *c, sf_error *err)
{
    pga_toc *t = &c->j->toc;
    unsigned char *seen = calloc(t->n ? t->n : 1, 1);
    int rc = 0;
    if (!seen)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (;;) {
        cus_unit *cu;
        uint64_t at = c->in.pos;
        unsigned char type;
        int32_t id;
        long idx;
        pga_in mem;
        if ((rc = pga_in_at_eof(&c->in, err)) != 0) {
            rc = rc < 0 ? rc : 0;
            break;
        }
        if (!(cu = calloc(1, sizeof(*cu)))) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        pga_spool_init(&cu->spool);
        cu->start = at;
        cu->hdrlen = (size_t)t->int_size + 2;
        if ((rc = pga_in_need(&c->in, cu->hdr, cu->hdrlen, "a data block header", err)) < 0) {
            unit_drop(c, &cu->u);
            break;
        }
        type = cu->hdr[0];
        pga_in_init_mem(&mem, cu->hdr + 1, (size_t)t->int_size + 1, c->name);
        if ((rc = pga_read_int(&mem, t->int_size, &id, "a dump id", err)) < 0) {
            rc = pga_in_fail(&c->in, at + 1, SF_EFORMAT, err, "bad dump id in a data block header");
            unit_drop(c, &cu->u);
            break;
        }
        if (type != PGA_BLK_DATA && type != PGA_BLK_BLOBS) {
            rc = pga_in_fail(&c->in, at, SF_EFORMAT, err, "unknown data block type %u (dump id %d)", type, id);
            unit_drop(c, &cu->u);
            break;
        }
        if ((idx = pga_toc_find(t, id)) < 0) {
            rc = pga_in_fail(&c->in, at, SF_EFORMAT, err, "data block for dump id %d, which the TOC does "
                             "not list", id);
            unit_drop(c, &cu->u);
            break;
        }
        if (seen[idx]) {
            rc = pga_in_fail(&c->in, at, SF_EFORMAT, err, "second data block for TOC entry %d", id);
            unit_drop(c, &cu->u);
            break;
        }
        seen[idx] = 1;
        cu->idx = (size_t)idx;
        cu->type = type;
        cu->body = c->in.pos;
        cu->u.data = cu;
        if (type == PGA_BLK_BLOBS && c->j->plans[idx].transform) {
            rc = pga_in_fail(&c->in, at, SF_EFORMAT, err, "TOC entry %d holds table data in a large-object "
                             "block", id);
            unit_drop(c, &cu->u);
            break;
        }
        if (c->j->plans[idx].transform) {
            rc = read_masked_block(c, (size_t)idx, cu->hdr, cu->hdrlen, at, err);
            unit_drop(c, &cu->u);
            if (rc < 0)
                break;
            continue;
        }
        /* on a seekable input a worker counts a verbatim table's rows */
        cu->u.work = type == PGA_BLK_DATA && c->seekable && c->j->plans[idx].open;
        if (c->seekable && (rc = scan_block(c, cu, err)) < 0) {
            unit_drop(c, &cu->u);
            break;
        }
        /* on a stream a verbatim block is copied as it passes: everything
           before it must be written first */
        if (!c->seekable && (rc = pga_runner_finish(&c->run, err)) < 0) {
            unit_drop(c, &cu->u);
            break;
        }
        if ((rc = pga_runner_add(&c->run, &cu->u, err)) < 0)
            break;
    }
    if (rc == 0 && (rc = pga_runner_finish(&c->run, err)) == 0) {
        /* A file cut at a block boundary parses cleanly: the TOC tells. */
        for (size_t i = 0; i < t->n; i++) {
            if (c->had_data[i] && !seen[i]) {
                char label[256];
                pga_entry_label(&t->e[i], label, sizeof(label));
                rc = pga_in_fail(&c->in, c->in.pos, SF_EFORMAT, err, "the archive ends before the data block of "
                                 "%s (truncated?)", label);
                break;
            }
        }
    }
    free(seen);
    return rc < 0 ? rc : 0;
}

int pga_custom_run(pga_job *j, sf_error *err)
{
    cus_ctx c;
    struct stat st;
    int rc, run_started = 0;
    memset(&c, 0, sizeof(c));
    c.j = j;
    c.of.fd = -1;
    snprintf(c.name, sizeof(c.name), "custom archive '%s'", strcmp(j->in, "-") ? j->in : "<stdin>");
    if ((rc = pga_open_input(j->in, &c.fd, &c.seekable, &c.size, err)) < 0)
        return rc;
    rc = c.seekable ? pga_in_init_range(&c.in, c.fd, c.name, 0, c.size, err)
                    : pga_in_init_fd(&c.in, c.fd, c.name, 0, err);
    if (rc < 0)
        goto done;
    if ((rc = pga_toc_read(&j->toc, &c.in, PGA_FMT_CUSTOM, err)) < 0)
        goto done;
    if ((rc = pga_job_prepare(j, c.name, err)) < 0)
        goto done;
    c.zmode = j->toc.compression != 0 ? PGA_Z_ZLIB : PGA_Z_NONE;
    c.level = j->toc.compression;
    if (!(c.had_data = calloc(j->toc.n ? j->toc.n : 1, 1))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < j->toc.n; i++) {
        pga_entry *e = &j->toc.e[i];
        c.had_data[i] = e->data_state != PGA_OFF_NO_DATA;
        if (e->data_state != PGA_OFF_NO_DATA)
            e->data_state = PGA_OFF_NOT_SET;
        e->data_pos = 0;
    }
    if ((rc = pga_outfile_open(&c.of, j->out, err)) < 0)
        goto done;
    if ((rc = pga_out_init(&c.out, c.of.fd, c.of.tmp ? j->out : "standard output", err)) < 0)
        goto done;
    /* stdout redirected to a file (not appending) can be rewritten in place too */
    c.out_seekable = c.of.tmp != NULL ||
                     (fstat(c.of.fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(c.of.fd, 0, SEEK_CUR) == 0 &&
                      !(fcntl(c.of.fd, F_GETFL) & O_APPEND));
    if ((rc = write_toc(&c, 1, err)) < 0)
        goto done;
    if ((rc = pga_runner_init(&c.run, j->jobs, unit_work, unit_emit, unit_drop, &c, err)) < 0)
        goto done;
    run_started = 1;
    if ((rc = read_blocks(&c, err)) < 0)
        goto done;
    pga_runner_free(&c.run);
    run_started = 0;
    if ((rc = pga_job_end_rest(j, err)) < 0)
        goto done;
    if (c.out_seekable) {
        uint64_t end = c.out.pos;
        size_t head_len;
        sf_buf hb = SF_BUF_INIT;
        if ((rc = pga_toc_write_head(&j->toc, &hb, err)) < 0) {
            sf_buf_free(&hb);
            goto done;
        }
        head_len = hb.len;
        sf_buf_free(&hb);
        if ((rc = pga_out_seek(&c.out, head_len, err)) < 0 || (rc = write_toc(&c, 0, err)) < 0 ||
            (rc = pga_out_seek(&c.out, end, err)) < 0)
            goto done;
    }
    if ((rc = pga_out_flush(&c.out, err)) < 0)
        goto done;
    j->stats.bytes_in = c.in.pos;
    j->stats.bytes_out = c.out.pos;
    rc = pga_outfile_commit(&c.of, err);
done:
    if (run_started)
        pga_runner_free(&c.run);
    if (rc < 0)
        pga_outfile_discard(&c.of);
    pga_out_free(&c.out);
    pga_in_free(&c.in);
    free(c.had_data);
    if (c.fd > 0)
        close(c.fd);
    return rc;
}

int pga_custom_load_toc(pga_job *j, sf_error *err)
{
    char name[512];
    int fd, seekable, rc;
    uint64_t size;
    pga_in in;
    snprintf(name, sizeof(name), "custom archive '%s'", strcmp(j->in, "-") ? j->in : "<stdin>");
    if ((rc = pga_open_input(j->in, &fd, &seekable, &size, err)) < 0)
        return rc;
    if ((rc = pga_in_init_fd(&in, fd, name, 0, err)) == 0) {
        rc = pga_toc_read(&j->toc, &in, PGA_FMT_CUSTOM, err);
        pga_in_free(&in);
    }
    if (fd > 0)
        close(fd);
    return rc;
}
