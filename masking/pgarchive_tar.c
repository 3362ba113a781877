/*
 * pg_dump tar format (-Ft), read and written with libarchive. pg_dump
 * writes toc.dat first (header + TOC; each entry's extra field is its
 * member name "NNNN.dat"), then one member per table and the large-object
 * members, then restore.sql. pg_restore reads members in archive order, so
 * the output keeps the input's member order and metadata; table members
 * are masked, every other member is copied byte for byte.
 *
 * The coordinator walks the members in order. A masked table's data is read
 * here and masked by workers in pieces (see pgarchive_int.h); its member is
 * written once the last piece is done (a tar header needs the size). Other
 * members are copied: on a seekable input whose members are plain ustar (as
 * pg_dump writes them) from their byte range, after a worker has counted a
 * verbatim table's rows; otherwise as they stream by (after everything
 * before them has been written).
 * Like pg_dump's own tar format, a member cannot exceed 8 GiB (ustar).
 */
#define _GNU_SOURCE /* qsort_r */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pgarchive_int.h"
#include "pgarchive_run.h"

#define TOC_MAX ((size_t)1 << 30)

enum { UM_RANGE = 1, UM_STREAM, UM_SPOOLED };

typedef struct tar_unit {
    pga_unit u;
    struct archive_entry *entry;
    long idx;       /* TOC entry, -1 for members the TOC does not name */
    int table;      /* masked (else copied) */
    int mode;
    uint64_t pos;   /* header offset, for messages */
    uint64_t off, size;
    pga_spool spool;
    int count;      /* a verbatim table: count its rows */
    uint64_t rows;
} tar_unit;

typedef struct tar_ctx {
    pga_job *j;
    char name[512];
    int fd, seekable;
    uint64_t fsize;
    struct archive *ar, *aw;
    pga_outfile of;
    pga_runner run;
    long *byname;   /* TOC entry indexes with a file name, sorted by it */
    size_t nbyname;
    int discard;    /* after an error: swallow what libarchive still writes */
    uint64_t written;
    int werrno;
} tar_ctx;

/* libarchive's write callback: the output file, unless the run failed. */
static la_ssize_t out_write(struct archive *a, void *ud, const void *p, size_t n)
{
    tar_ctx *c = ud;
    const unsigned char *b = p;
    size_t left = n;
    (void)a;
    if (c->discard)
        return (la_ssize_t)n;
    while (left > 0) {
        ssize_t w = write(c->of.fd, b, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            c->werrno = errno;
            archive_set_error(a, errno, "%s", strerror(errno));
            return -1;
        }
        b += w;
        left -= (size_t)w;
    }
    c->written += n;
    return (la_ssize_t)n;
}

static int ar_fail(tar_ctx *c, struct archive *a, const char *what, sf_error *err)
{
    const char *msg = archive_error_string(a);
    return sf_error_set(err, SF_EFORMAT, "%s: %s: %s", c->name, what, msg ? msg : "libarchive error");
}

static int aw_fail(tar_ctx *c, const char *what, sf_error *err)
{
    const char *msg = archive_error_string(c->aw);
    return sf_error_set(err, SF_EIO, "cannot write %s: %s: %s",
                        c->of.tmp ? c->of.out : "standard output", what, msg ? msg : "libarchive error");
}

static int cmp_byname(const void *a, const void *b, void *toc)
{
    const pga_toc *t = toc;
    return strcmp(t->e[*(const long *)a].filename.s, t->e[*(const long *)b].filename.s);
}

static int build_byname(tar_ctx *c, sf_error *err)
{
    pga_toc *t = &c->j->toc;
    if (t->n && !(c->byname = malloc(t->n * sizeof(*c->byname))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        if (pga_str_nonempty(&t->e[i].filename))
            c->byname[c->nbyname++] = (long)i;
    if (c->nbyname)
        qsort_r(c->byname, c->nbyname, sizeof(*c->byname), cmp_byname, t);
    return 0;
}

static long find_member(tar_ctx *c, const char *name)
{
    size_t lo = 0, hi = c->nbyname;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->j->toc.e[c->byname[mid]].filename.s, name);
        if (d == 0)
            return c->byname[mid];
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Read the current member's data from the archive stream into sink. */
static int stream_member(tar_ctx *c, tar_unit *tu, pga_sink_fn sink, void *ud, sf_error *err)
{
    unsigned char *buf = malloc(PGA_CHUNK);
    int rc = 0;
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (;;) {
        la_ssize_t n = archive_read_data(c->ar, buf, PGA_CHUNK);
        if (n < 0) {
            char what[512];
            snprintf(what, sizeof(what), "member '%s' at offset %llu", archive_entry_pathname(tu->entry),
                     (unsigned long long)tu->pos);
            rc = ar_fail(c, c->ar, what, err);
            break;
        }
        if (n == 0)
            break;
        if ((rc = sink(ud, buf, (size_t)n, err)) < 0)
            break;
    }
    free(buf);
    return rc;
}

static int range_member(tar_ctx *c, tar_unit *tu, pga_sink_fn sink, void *ud, sf_error *err)
{
    unsigned char *buf = malloc(PGA_CHUNK);
    uint64_t left = tu->size;
    pga_in in;
    int rc;
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((rc = pga_in_init_range(&in, c->fd, c->name, tu->off, tu->size, err)) == 0) {
        while (left > 0 && rc == 0) {
            size_t k = left < PGA_CHUNK ? (size_t)left : PGA_CHUNK;
            if ((rc = pga_in_need(&in, buf, k, "member data", err)) == 0)
                rc = sink(ud, buf, k, err);
            left -= k;
            if (rc == 0 && pga_runner_cancelled(&c->run))
                rc = sf_error_set(err, SF_EINTERNAL, "cancelled");
        }
        pga_in_free(&in);
    }
    free(buf);
    return rc;
}

/* Per masked table member: its header and the masked pieces written so far. */
typedef struct tar_table {
    struct archive_entry *entry;
    pga_spool *parked;
    size_t nparked;
} tar_table;

static void tar_table_free(void *p)
{
    tar_table *tt = p;
    if (!tt)
        return;
    for (size_t i = 0; i < tt->nparked; i++)
        pga_spool_free(&tt->parked[i]);
    free(tt->parked);
    if (tt->entry)
        archive_entry_free(tt->entry);
    free(tt);
}

static void table_where(tar_ctx *c, pga_tstate *ts, sf_error *err)
{
    char label[256];
    tar_table *tt = ts->fmt;
    if (strncmp(err->msg, c->name, strlen(c->name)) == 0)
        return;
    pga_entry_label(&c->j->toc.e[ts->idx], label, sizeof(label));
    sf_error_prefix(err, "%s: member '%s' (%s)", c->name, archive_entry_pathname(tt->entry), label);
}

static void member_where(tar_ctx *c, tar_unit *tu, sf_error *err)
{
    char label[256];
    if (strncmp(err->msg, c->name, strlen(c->name)) == 0)
        return;
    pga_entry_label(&c->j->toc.e[tu->idx], label, sizeof(label));
    sf_error_prefix(err, "%s: member '%s' (%s)", c->name, archive_entry_pathname(tu->entry), label);
}

/* Copy (or, with to == NULL, just read) a verbatim table member, counting its rows. */
static int count_member(tar_ctx *c, tar_unit *tu, pga_sink_fn to, void *ud, sf_error *err)
{
    pga_rows rows;
    pga_tee tee = {pga_rows_feed, to, &rows, ud};
    int rc = pga_rows_init(&rows, PGA_Z_NONE, err);
    if (rc < 0)
        return rc;
    if (tu->mode == UM_RANGE && !to)
        rc = range_member(c, tu, pga_rows_feed, &rows, err);
    else
        rc = stream_member(c, tu, to ? pga_tee_sink : pga_rows_feed, to ? (void *)&tee : (void *)&rows, err);
    if (rc == 0)
        rc = pga_rows_finish(&rows, err);
    tu->rows = rows.rows;
    pga_rows_free(&rows);
    if (rc < 0)
        member_where(c, tu, err);
    return rc;
}

static int unit_work(void *ctx, pga_unit *u, sf_error *err)
{
    tar_ctx *c = ctx;
    tar_unit *tu = (tar_unit *)u;
    if (u->kind == PGA_UNIT_PIECE) {
        pga_piece *p = (pga_piece *)u;
        int rc = pga_piece_work(c->j, p, &c->run, err);
        if (rc < 0)
            table_where(c, p->ts, err);
        return rc;
    }
    if (tu->count && tu->mode == UM_RANGE)
        return count_member(c, tu, NULL, NULL, err);
    if (tu->count && tu->mode == UM_SPOOLED)
        return count_member(c, tu, pga_spool_sink, &tu->spool, err);
    return tu->mode == UM_SPOOLED ? stream_member(c, tu, pga_spool_sink, &tu->spool, err) : 0;
}

static int aw_sink(void *ud, const void *p, size_t n, sf_error *err)
{
    tar_ctx *c = ud;
    la_ssize_t w = archive_write_data(c->aw, p, n);
    if (w < 0 || (size_t)w != n)
        return aw_fail(c, "member data", err);
    return 0;
}

/* Keep a masked piece until its table's last; then write the member. */
static int emit_piece(tar_ctx *c, pga_piece *p, sf_error *err)
{
    tar_table *tt = p->ts->fmt;
    pga_spool *np;
    uint64_t total = 0;
    int rc;
    if ((rc = pga_piece_done(c->j, p, err)) < 0)
        return rc;
    if (!(np = realloc(tt->parked, (tt->nparked + 1) * sizeof(*np))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    tt->parked = np;
    tt->parked[tt->nparked++] = p->spool;
    pga_spool_init(&p->spool);
    if (!p->last)
        return 0;
    for (size_t i = 0; i < tt->nparked; i++)
        total += tt->parked[i].total;
    archive_entry_set_size(tt->entry, (la_int64_t)total);
    if (archive_write_header(c->aw, tt->entry) < ARCHIVE_WARN)
        return aw_fail(c, archive_entry_pathname(tt->entry), err);
    for (size_t i = 0; i < tt->nparked; i++) {
        if ((rc = pga_spool_drain(&tt->parked[i], aw_sink, c, err)) < 0)
            return rc;
        pga_spool_free(&tt->parked[i]);
    }
    tt->nparked = 0;
    if (archive_write_finish_entry(c->aw) < ARCHIVE_WARN)
        return aw_fail(c, archive_entry_pathname(tt->entry), err);
    return 0;
}

static int unit_emit(void *ctx, pga_unit *u, sf_error *err)
{
    tar_ctx *c = ctx;
    tar_unit *tu = (tar_unit *)u;
    int rc;
    if (u->kind == PGA_UNIT_PIECE)
        return emit_piece(c, (pga_piece *)u, err);
    if (tu->mode == UM_SPOOLED)
        archive_entry_set_size(tu->entry, (la_int64_t)tu->spool.total);
    if (archive_write_header(c->aw, tu->entry) < ARCHIVE_WARN)
        return aw_fail(c, archive_entry_pathname(tu->entry), err);
    if (tu->mode == UM_SPOOLED)
        rc = pga_spool_drain(&tu->spool, aw_sink, c, err);
    else if (tu->mode == UM_RANGE)
        rc = range_member(c, tu, aw_sink, c, err);
    else if (tu->count)
        rc = count_member(c, tu, aw_sink, c, err);
    else
        rc = stream_member(c, tu, aw_sink, c, err);
    if (rc < 0)
        return rc;
    if (archive_write_finish_entry(c->aw) < ARCHIVE_WARN)
        return aw_fail(c, archive_entry_pathname(tu->entry), err);
    if (tu->count && c->j->ops->rows)
        c->j->ops->rows(c->j->plans[tu->idx].table, tu->rows);
    return tu->idx >= 0 ? pga_job_end(c->j, (size_t)tu->idx, err) : 0;
}

static void unit_drop(void *ctx, pga_unit *u)
{
    tar_ctx *c = ctx;
    tar_unit *tu = (tar_unit *)u;
    if (u->kind == PGA_UNIT_PIECE) {
        pga_piece_free(c->j, (pga_piece *)u);
        return;
    }
    if (tu->entry)
        archive_entry_free(tu->entry);
    pga_spool_free(&tu->spool);
    free(tu);
}

static uint64_t tar_number(const unsigned char *f, size_t n)
{
    uint64_t v = 0;
    if (f[0] & 0x80) { /* base-256 */
        for (size_t i = 1; i < n; i++)
            v = (v << 8) | f[i];
        return v;
    }
    for (size_t i = 0; i < n && f[i]; i++)
        if (f[i] >= '0' && f[i] <= '7')
            v = v * 8 + (uint64_t)(f[i] - '0');
    return v;
}

/* The member's data starts right after a plain ustar header at pos. */
static int data_offset(tar_ctx *c, tar_unit *tu, uint64_t *off)
{
    unsigned char h[512];
    const char *name = archive_entry_pathname(tu->entry);
    ssize_t n;
    do
        n = pread(c->fd, h, sizeof(h), (off_t)tu->pos);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(h) || !pga_tar_header_ok(h) || (h[156] != '0' && h[156] != '\0'))
        return 0;
    if (!name || strnlen((const char *)h, 100) != strlen(name) || memcmp(h, name, strlen(name)) != 0)
        return 0;
    if (tar_number(h + 124, 12) != tu->size || tu->pos + 512 + tu->size > c->fsize)
        return 0;
    *off = tu->pos + 512;
    return 1;
}

/* Read the first member, which must be toc.dat, into raw and parse it into c->j->toc. */
static int load_toc(tar_ctx *c, struct archive_entry **entry, sf_buf *raw, sf_error *err)
{
    struct archive_entry *ae;
    unsigned char *buf;
    char tname[600];
    pga_in in;
    int r, rc = 0;
    r = archive_read_next_header(c->ar, &ae);
    if (r == ARCHIVE_EOF)
        return sf_error_set(err, SF_EFORMAT, "%s: empty tar archive (not a pg_dump -Ft archive)", c->name);
    if (r < ARCHIVE_WARN)
        return ar_fail(c, c->ar, "offset 0", err);
    if (strcmp(archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "", "toc.dat") != 0)
        return sf_error_set(err, SF_EFORMAT, "%s: the first member is '%s', not toc.dat (not a pg_dump -Ft "
                            "archive)", c->name, archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "");
    if (!(buf = malloc(PGA_CHUNK)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    sf_buf_init(raw, TOC_MAX);
    for (;;) {
        la_ssize_t n = archive_read_data(c->ar, buf, PGA_CHUNK);
        if (n < 0) {
            rc = ar_fail(c, c->ar, "member 'toc.dat'", err);
            break;
        }
        if (n == 0)
            break;
        if (sf_buf_add(raw, buf, (size_t)n) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "%s: toc.dat is larger than 1 GiB", c->name);
            break;
        }
    }
    free(buf);
    if (rc == 0) {
        snprintf(tname, sizeof(tname), "%s: toc.dat", c->name);
        pga_in_init_mem(&in, raw->ptr, raw->len, tname);
        rc = pga_toc_read(&c->j->toc, &in, PGA_FMT_TAR, err);
    }
    if (rc == 0 && c->j->toc.compression != 0)
        rc = sf_error_set(err, SF_EFORMAT, "%s: toc.dat: compressed tar archives (compression level %d) are not "
                          "supported; pg_dump writes tar archives uncompressed", c->name, c->j->toc.compression);
    *entry = ae;
    return rc;
}

static int read_toc_member(tar_ctx *c, sf_error *err)
{
    struct archive_entry *ae = NULL;
    sf_buf b = SF_BUF_INIT;
    int rc = load_toc(c, &ae, &b, err);
    if (rc == 0 && (rc = pga_job_prepare(c->j, c->name, err)) == 0) {
        /* The output starts with the same toc.dat. */
        if (archive_write_header(c->aw, ae) < ARCHIVE_WARN)
            rc = aw_fail(c, "toc.dat", err);
        else if (b.len && archive_write_data(c->aw, b.ptr, b.len) != (la_ssize_t)b.len)
            rc = aw_fail(c, "toc.dat", err);
        else if (archive_write_finish_entry(c->aw) < ARCHIVE_WARN)
            rc = aw_fail(c, "toc.dat", err);
    }
    sf_buf_free(&b);
    return rc;
}

/* Coordinator: read a masked table's member and hand it to workers in pieces. */
static int read_masked_member(tar_ctx *c, tar_unit *tu, sf_error *err)
{
    pga_tstate *ts = pga_tstate_new((size_t)tu->idx, PGA_Z_NONE, 0);
    tar_table *tt = calloc(1, sizeof(*tt));
    pga_split split;
    int rc;
    if (!ts || !tt || !(tt->entry = archive_entry_clone(tu->entry))) {
        pga_tstate_unref(ts);
        free(tt);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    /* the member keeps its header, with the masked size */
    ts->fmt = tt;
    ts->fmt_free = tar_table_free;
    pga_split_init(&split, c->j, &c->run, ts);
    rc = tu->mode == UM_RANGE ? range_member(c, tu, pga_split_feed, &split, err)
                              : stream_member(c, tu, pga_split_feed, &split, err);
    if (rc == 0)
        rc = pga_split_finish(&split, err);
    if (rc < 0)
        table_where(c, ts, err);
    pga_split_free(&split);
    return rc;
}

static int read_members(tar_ctx *c, int parallel, sf_error *err)
{
    pga_toc *t = &c->j->toc;
    unsigned char *seen = calloc(t->n ? t->n : 1, 1);
    int rc = 0;
    if (!seen)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (;;) {
        struct archive_entry *ae;
        tar_unit *tu;
        const char *name;
        int r = archive_read_next_header(c->ar, &ae);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            char what[64];
            snprintf(what, sizeof(what), "offset %lld", (long long)archive_read_header_position(c->ar));
            rc = ar_fail(c, c->ar, what, err);
            break;
        }
        if (!(tu = calloc(1, sizeof(*tu))) || !(tu->entry = archive_entry_clone(ae))) {
            free(tu);
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        pga_spool_init(&tu->spool);
        tu->u.data = tu;
        tu->pos = (uint64_t)archive_read_header_position(c->ar);
        tu->size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0;
        name = archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "";
        tu->idx = archive_entry_filetype(ae) == AE_IFREG ? find_member(c, name) : -1;
        if (tu->idx >= 0) {
            if (seen[tu->idx]) {
                rc = sf_error_set(err, SF_EFORMAT, "%s: member '%s' at offset %llu appears twice", c->name, name,
                                  (unsigned long long)tu->pos);
                unit_drop(c, &tu->u);
                break;
            }
            seen[tu->idx] = 1;
            tu->table = c->j->plans[tu->idx].transform;
            tu->count = !tu->table && c->j->plans[tu->idx].open;
        }
        if (tu->table) {
            int ranged = parallel && data_offset(c, tu, &tu->off);
            tu->mode = ranged ? UM_RANGE : UM_STREAM;
            rc = read_masked_member(c, tu, err);
            unit_drop(c, &tu->u);
            if (rc < 0)
                break;
            continue;
        }
        if (parallel && data_offset(c, tu, &tu->off)) {
            tu->mode = UM_RANGE;
            tu->u.work = tu->count;
        } else if (parallel) {
            /* Not a plain ustar member: process it here, while it streams by. */
            tu->mode = UM_SPOOLED;
            if ((rc = unit_work(c, &tu->u, err)) < 0) {
                unit_drop(c, &tu->u);
                break;
            }
        } else {
            /* copied as it streams by: everything before it is written first */
            tu->mode = UM_STREAM;
            if ((rc = pga_runner_finish(&c->run, err)) < 0) {
                unit_drop(c, &tu->u);
                break;
            }
        }
        if ((rc = pga_runner_add(&c->run, &tu->u, err)) < 0)
            break;
    }
    if (rc == 0 && (rc = pga_runner_finish(&c->run, err)) == 0) {
        for (size_t i = 0; i < t->n; i++) {
            /* BLOBS entries name a "NNNN.dat" that pg_dump never writes (it
               writes blobs.toc and blob_OID.dat instead): only table data counts. */
            if (!pga_str_nonempty(&t->e[i].filename) || seen[i] || !pga_str_eq(&t->e[i].desc, "TABLE DATA"))
                continue;
            char label[256];
            pga_entry_label(&t->e[i], label, sizeof(label));
            rc = sf_error_set(err, SF_EFORMAT, "%s: %s: member '%s' is missing (truncated archive?)", c->name,
                              label, t->e[i].filename.s);
            break;
        }
    }
    free(seen);
    return rc;
}

int pga_tar_run(pga_job *j, sf_error *err)
{
    tar_ctx c;
    int rc, parallel, run_started = 0;
    memset(&c, 0, sizeof(c));
    c.j = j;
    c.of.fd = -1;
    snprintf(c.name, sizeof(c.name), "tar archive '%s'", strcmp(j->in, "-") ? j->in : "<stdin>");
    if ((rc = pga_open_input(j->in, &c.fd, &c.seekable, &c.fsize, err)) < 0)
        return rc;
    if (!(c.ar = archive_read_new()) || !(c.aw = archive_write_new())) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto done;
    }
    archive_read_support_format_tar(c.ar);
    if (archive_read_open_fd(c.ar, c.fd, 64 << 10) != ARCHIVE_OK) {
        rc = ar_fail(&c, c.ar, "open", err);
        goto done;
    }
    if ((rc = pga_outfile_open(&c.of, j->out, err)) < 0)
        goto done;
    if (archive_write_set_format_ustar(c.aw) != ARCHIVE_OK || archive_write_add_filter_none(c.aw) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(c.aw, 1) != ARCHIVE_OK ||
        archive_write_open2(c.aw, &c, NULL, out_write, NULL, NULL) != ARCHIVE_OK) {
        rc = aw_fail(&c, "open", err);
        goto done;
    }
    if ((rc = read_toc_member(&c, err)) < 0 || (rc = build_byname(&c, err)) < 0)
        goto done;
    parallel = c.seekable && j->jobs > 1;
    if ((rc = pga_runner_init(&c.run, j->jobs, unit_work, unit_emit, unit_drop, &c, err)) < 0)
        goto done;
    run_started = 1;
    if ((rc = read_members(&c, parallel, err)) < 0)
        goto done;
    pga_runner_free(&c.run);
    run_started = 0;
    if ((rc = pga_job_end_rest(j, err)) < 0)
        goto done;
    if (archive_write_close(c.aw) != ARCHIVE_OK) {
        rc = aw_fail(&c, "end of archive", err);
        goto done;
    }
    j->stats.bytes_in = c.seekable ? c.fsize : (uint64_t)archive_filter_bytes(c.ar, -1);
    j->stats.bytes_out = c.written;
    rc = pga_outfile_commit(&c.of, err);
done:
    if (run_started)
        pga_runner_free(&c.run);
    if (c.aw && rc < 0)
        c.discard = 1; /* no end-of-archive trailer on a broken output */
    if (c.aw)
        archive_write_free(c.aw);
    if (c.ar)
        archive_read_free(c.ar);
    if (rc < 0)
        pga_outfile_discard(&c.of);
    free(c.byname);
    if (c.fd > 0)
        close(c.fd);
    return rc;
}

int pga_tar_load_toc(pga_job *j, sf_error *err)
{
    tar_ctx c;
    struct archive_entry *ae;
    sf_buf raw = SF_BUF_INIT;
    int rc;
    memset(&c, 0, sizeof(c));
    c.j = j;
    snprintf(c.name, sizeof(c.name), "tar archive '%s'", strcmp(j->in, "-") ? j->in : "<stdin>");
    if ((rc = pga_open_input(j->in, &c.fd, &c.seekable, &c.fsize, err)) < 0)
        return rc;
    if (!(c.ar = archive_read_new())) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    } else {
        archive_read_support_format_tar(c.ar);
        if (archive_read_open_fd(c.ar, c.fd, 64 << 10) != ARCHIVE_OK)
            rc = ar_fail(&c, c.ar, "open", err);
        else
            rc = load_toc(&c, &ae, &raw, err);
        archive_read_free(c.ar);
    }
    sf_buf_free(&raw);
    if (c.fd > 0)
        close(c.fd);
    return rc;
}
