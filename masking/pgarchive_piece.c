/* Masked tables in pieces: the splitter, piece work and bookkeeping (see pgarchive_int.h). */
#include <stdlib.h>
#include <string.h>
#include "pgarchive_int.h"
#include "stagefork/util.h"

pga_tstate *pga_tstate_new(size_t idx, int zmode, int level)
{
    pga_tstate *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return NULL;
    ts->refs = 1;
    ts->idx = idx;
    ts->zmode = zmode;
    ts->level = level;
    ts->check = pga_z_check_init(zmode);
    return ts;
}

void pga_tstate_unref(pga_tstate *ts)
{
    if (!ts || --ts->refs > 0)
        return;
    if (ts->fmt_free)
        ts->fmt_free(ts->fmt);
    free(ts);
}

typedef struct checked {
    pga_piece *p;
    pga_zw *zw;
} checked;

/* Masked text on its way into the compressor: fold it into the piece's check value. */
static int checked_sink(void *ud, const void *data, size_t n, sf_error *err)
{
    checked *c = ud;
    c->p->check = pga_z_check(c->p->ts->zmode, c->p->check, data, n);
    c->p->tlen += n;
    return pga_zw_write(c->zw, data, n, err);
}

int pga_piece_work(const pga_job *j, pga_piece *p, pga_runner *run, sf_error *err)
{
    int zmode = p->ts->zmode, rc;
    pga_zw zw;
    pga_copy copy;
    checked ck = {p, &zw};
    (void)run;
    p->check = pga_z_check_init(zmode);
    p->tlen = 0;
    if (zmode == PGA_Z_NONE) {
        pga_copy_init(&copy, j->ops, p->table, pga_spool_sink, &p->spool);
    } else {
        if ((rc = pga_zw_init(&zw, PGA_Z_RAW, p->ts->level, pga_spool_sink, &p->spool, err)) < 0)
            return rc;
        pga_copy_init(&copy, j->ops, p->table, checked_sink, &ck);
    }
    copy.lineno = p->first_line - 1;
    rc = pga_copy_feed(&copy, p->text.ptr, p->text.len, err);
    if (rc == 0)
        rc = pga_copy_finish(&copy, err);
    if (rc == 0 && zmode != PGA_Z_NONE)
        rc = p->last ? pga_zw_finish(&zw, err) : pga_zw_finish_open(&zw, err);
    if (zmode == PGA_Z_NONE)
        p->tlen = p->spool.total;
    else
        pga_zw_free(&zw);
    pga_copy_free(&copy);
    sf_buf_free(&p->text);
    return rc;
}

int pga_piece_done(pga_job *j, pga_piece *p, sf_error *err)
{
    pga_tstate *ts = p->ts;
    int rc;
    ts->check = pga_z_check_combine(ts->zmode, ts->check, p->check, p->tlen);
    ts->tlen += p->tlen;
    if (p->k == 0)
        return pga_job_end(j, ts->idx, err);
    rc = j->ops->end(j->ops->ud, p->table, err);
    p->table = NULL;
    return rc;
}

void pga_piece_free(pga_job *j, pga_piece *p)
{
    if (!p)
        return;
    if (p->k > 0 && p->table)
        j->ops->abort(j->ops->ud, p->table);
    sf_buf_free(&p->text);
    pga_spool_free(&p->spool);
    pga_tstate_unref(p->ts);
    free(p);
}

/* ---- splitter ------------------------------------------------------------- */

void pga_split_init(pga_split *s, pga_job *j, pga_runner *run, pga_tstate *ts)
{
    memset(s, 0, sizeof(*s));
    s->j = j;
    s->run = run;
    s->ts = ts;
    s->first_line = 1;
    s->piece = PGA_PIECE;
    {
        const char *v = getenv("STAGEFORK_ARCHIVE_PIECE_BYTES");
        int64_t n;
        if (v && sf_parse_i64(&n, v, 1, (int64_t)1 << 30) == 0)
            s->piece = (size_t)n;
    }
    sf_buf_init(&s->cur, 0);
}

/* Hand cur[0..cut) to a new piece; the rest stays in cur. */
static int add_piece(pga_split *s, size_t cut, uint64_t nlines, int last, sf_error *err)
{
    pga_job *j = s->j;
    const pga_entry *e = &j->toc.e[s->ts->idx];
    pga_piece *p = calloc(1, sizeof(*p));
    int identity = 0;
    if (!p)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pga_spool_init(&p->spool);
    sf_buf_init(&p->text, 0);
    p->u.kind = PGA_UNIT_PIECE;
    p->u.work = 1;
    p->u.data = p;
    p->ts = s->ts;
    s->ts->refs++;
    p->k = s->k++;
    p->last = last;
    p->first_line = s->first_line;
    if (p->k == 0) {
        p->table = j->plans[s->ts->idx].table;
    } else {
        int rc = j->ops->begin(j->ops->ud, e->copy_stmt.s, e->copy_stmt.len, &p->table, &identity, err);
        if (rc < 0) {
            pga_piece_free(j, p);
            return rc;
        }
    }
    /* the piece takes the buffer; what follows the cut moves to a fresh one */
    p->text = s->cur;
    sf_buf_init(&s->cur, 0);
    if (cut < p->text.len) {
        if (sf_buf_add(&s->cur, p->text.ptr + cut, p->text.len - cut) < 0) {
            pga_piece_free(j, p);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        sf_buf_truncate(&p->text, cut);
    }
    s->first_line += nlines;
    s->lines -= nlines;
    s->scanned -= cut;
    return pga_runner_add(s->run, &p->u, err);
}

int pga_split_feed(void *ud, const void *data, size_t n, sf_error *err)
{
    pga_split *s = ud;
    size_t cut = 0;
    uint64_t cut_lines = 0;
    if (sf_buf_add(&s->cur, data, n) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    while (s->scanned < s->cur.len) {
        const char *b = s->cur.ptr, *nl = memchr(b + s->scanned, '\n', s->cur.len - s->scanned);
        size_t start = s->scanned, end;
        if (!nl) {
            /* keep the start of the unfinished line; re-scan it when it completes */
            break;
        }
        end = (size_t)(nl - b);
        s->lines++;
        s->scanned = end + 1;
        if (!s->ended && end - start == 2 && b[start] == '\\' && b[start + 1] == '.')
            s->ended = 1;
        if (!s->ended) {
            cut = s->scanned;
            cut_lines = s->lines;
        }
    }
    if (cut >= s->piece)
        return add_piece(s, cut, cut_lines, 0, err);
    return 0;
}

int pga_split_finish(pga_split *s, sf_error *err)
{
    return add_piece(s, s->cur.len, s->lines, 1, err);
}

void pga_split_free(pga_split *s)
{
    sf_buf_free(&s->cur);
    pga_tstate_unref(s->ts);
    s->ts = NULL;
}
