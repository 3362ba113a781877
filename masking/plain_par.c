/*
 * Parallel masking of one COPY block's rows for the plain reader (see
 * plain_par.h). The ordering and the worker threads are the archive
 * formats' ordered runner (pgarchive_run.c); this file adds the chunks and
 * the table handles the workers share.
 */
#include <stdlib.h>
#include <string.h>
#include "pgarchive_run.h"
#include "plain_par.h"

#define MAX_HANDLES 65                  /* the runner's at most 64 workers + the caller's handle */
#define KEEP_CAP ((size_t)4 << 20)      /* a chunk buffer grown past this by a long line is freed after use */

typedef struct chunk {
    pga_unit u;
    struct chunk *next_free;
    const char *data; /* complete lines: own.ptr, or the caller's stable bytes */
    size_t len;
    uint64_t line0;
    sf_buf own;
    sf_buf out;
} chunk;

struct sf_plainpar {
    int jobs;
    sf_plainpar_emit emit;
    void *ectx;
    sf_mask_table *t;  /* the caller's handle of the current table; NULL between tables */
    sf_buf stmt;       /* its COPY statement, for the workers' handles */
    chunk *pending;    /* the table's first chunk, held until a second one starts the workers */
    pga_runner run;
    int running;
    int failed;        /* add or drain failed: the runner is cancelled, only end may follow */
    sf_error ferr;
    /* handles: h[0] is the caller's; each is used by at most one thread at a time */
    pthread_mutex_t mu;
    sf_mask_table *h[MAX_HANDLES];
    size_t nh;
    size_t idle[MAX_HANDLES];
    size_t nidle;
    chunk *free_chunks;
};

int sf_plainpar_new(sf_plainpar **out, int jobs, sf_plainpar_emit emit, void *ctx, sf_error *err)
{
    sf_plainpar *pp = calloc(1, sizeof(*pp));
    *out = NULL;
    if (!pp)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pp->jobs = jobs;
    pp->emit = emit;
    pp->ectx = ctx;
    sf_buf_init(&pp->stmt, 0);
    pthread_mutex_init(&pp->mu, NULL);
    *out = pp;
    return 0;
}

void sf_plainpar_free(sf_plainpar *pp)
{
    chunk *c;
    if (!pp)
        return;
    sf_plainpar_end(pp, 0);
    while ((c = pp->free_chunks)) {
        pp->free_chunks = c->next_free;
        sf_buf_free(&c->own);
        sf_buf_free(&c->out);
        free(c);
    }
    sf_buf_free(&pp->stmt);
    pthread_mutex_destroy(&pp->mu);
    free(pp);
}

int sf_plainpar_begin(sf_plainpar *pp, sf_mask_table *t, const char *copy_stmt, size_t len, sf_error *err)
{
    sf_plainpar_end(pp, 0);
    if (sf_buf_set(&pp->stmt, copy_stmt, len) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pp->t = t;
    pp->h[0] = t;
    pp->nh = 1;
    pp->idle[0] = 0;
    pp->nidle = 1;
    pp->failed = 0;
    return 0;
}

/* A handle for one chunk: an idle one, else a new one on the table's COPY statement. */
static int take_handle(sf_plainpar *pp, size_t *idx, sf_error *err)
{
    sf_masker *m = pp->t->m;
    size_t i;
    pthread_mutex_lock(&pp->mu);
    if (pp->nidle) {
        i = pp->idle[--pp->nidle];
    } else if (pp->nh < MAX_HANDLES) {
        i = pp->nh++;
        pp->h[i] = NULL;
    } else {
        pthread_mutex_unlock(&pp->mu);
        return sf_error_set(err, SF_EINTERNAL, "more parallel chunks than table handles");
    }
    pthread_mutex_unlock(&pp->mu);
    if (!pp->h[i] && sf_masker_table_begin(m, &pp->h[i], pp->stmt.ptr, pp->stmt.len) < 0) {
        /* the slot stays taken and empty; the caller's handle opened on the same statement, so this is rare */
        pthread_mutex_lock(&m->mu);
        sf_error_copy(err, &m->err);
        pthread_mutex_unlock(&m->mu);
        return err->code ? err->code : sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    *idx = i;
    return 0;
}

static void give_handle(sf_plainpar *pp, size_t i)
{
    pthread_mutex_lock(&pp->mu);
    pp->idle[pp->nidle++] = i;
    pthread_mutex_unlock(&pp->mu);
}

/* Mask one chunk into c->out, a batch of lines at a time (runs in a worker, or inline). */
static int work(void *ctx, pga_unit *u, sf_error *err)
{
    sf_plainpar *pp = ctx;
    chunk *c = u->data;
    sf_line lines[SF_MASK_BATCH];
    size_t at = 0, n = 0, idx = 0;
    uint64_t line = c->line0;
    sf_mask_table *h;
    if (take_handle(pp, &idx, err) < 0)
        return err->code;
    h = pp->h[idx];
    sf_buf_clear(&c->out);
    while (at < c->len) {
        const char *s = c->data + at;
        const char *nl = memchr(s, '\n', c->len - at);
        size_t len = (size_t)(nl - s);
        /* a CR before the newline is part of the line end, as in plain.c's one-thread path */
        size_t eol = len && s[len - 1] == '\r' ? 2 : 1;
        lines[n].ptr = s;
        lines[n].len = len + 1 - eol;
        lines[n].eol = eol;
        n++;
        at += len + 1;
        if (n == SF_MASK_BATCH || at == c->len) {
            if (sf_mask_table_lines(h, lines, n, line, &c->out) < 0)
                return sf_error_copy(err, sf_mask_table_error(h)); /* h is not reused: end aborts it */
            line += n;
            n = 0;
        }
    }
    give_handle(pp, idx);
    return 0;
}

static int emit(void *ctx, pga_unit *u, sf_error *err)
{
    sf_plainpar *pp = ctx;
    chunk *c = u->data;
    return pp->emit(pp->ectx, c->out.ptr, c->out.len, err);
}

/* Back to the free list (always on the calling thread: the runner drops units there). */
static void drop(void *ctx, pga_unit *u)
{
    sf_plainpar *pp = ctx;
    chunk *c = u->data;
    if (c->own.cap > KEEP_CAP)
        sf_buf_free(&c->own);
    if (c->out.cap > KEEP_CAP)
        sf_buf_free(&c->out);
    c->data = NULL;
    c->next_free = pp->free_chunks;
    pp->free_chunks = c;
}

static int fail(sf_plainpar *pp, sf_error *err)
{
    pp->failed = 1;
    sf_error_copy(&pp->ferr, err);
    return err->code;
}

int sf_plainpar_add(sf_plainpar *pp, const char *data, size_t len, int stable, uint64_t line0, sf_error *err)
{
    chunk *c = pp->free_chunks;
    if (pp->failed)
        return sf_error_copy(err, &pp->ferr);
    if (c) {
        pp->free_chunks = c->next_free;
    } else if ((c = calloc(1, sizeof(*c)))) {
        sf_buf_init(&c->own, 0);
        sf_buf_init(&c->out, 0);
    } else {
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    memset(&c->u, 0, sizeof(c->u));
    c->u.work = 1;
    c->u.data = c;
    c->len = len;
    c->line0 = line0;
    c->data = data;
    if (!stable) {
        if (sf_buf_set(&c->own, data, len) < 0) {
            drop(pp, &c->u);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        c->data = c->own.ptr;
    }
    if (!pp->running && !pp->pending) {
        pp->pending = c;
        return 0;
    }
    if (!pp->running) {
        if (pga_runner_init(&pp->run, pp->jobs, work, emit, drop, pp, err) < 0) {
            drop(pp, &c->u);
            return fail(pp, err);
        }
        pp->running = 1;
        if (pga_runner_add(&pp->run, &pp->pending->u, err) < 0) {
            pp->pending = NULL;
            drop(pp, &c->u);
            return fail(pp, err);
        }
        pp->pending = NULL;
    }
    if (pga_runner_add(&pp->run, &c->u, err) < 0)
        return fail(pp, err);
    return 0;
}

int sf_plainpar_drain(sf_plainpar *pp, sf_error *err)
{
    if (pp->failed)
        return sf_error_copy(err, &pp->ferr);
    if (pp->pending) {
        /* the whole table was one chunk: masked here, no thread started */
        chunk *c = pp->pending;
        int rc;
        pp->pending = NULL;
        rc = work(pp, &c->u, err);
        if (rc == 0)
            rc = emit(pp, &c->u, err);
        drop(pp, &c->u);
        return rc < 0 ? fail(pp, err) : 0;
    }
    if (pp->running && pga_runner_finish(&pp->run, err) < 0)
        return fail(pp, err);
    return 0;
}

int sf_plainpar_end(sf_plainpar *pp, int ok)
{
    int rc = 0;
    if (pp->running) {
        pga_runner_free(&pp->run); /* joins the workers: no handle is in use after this */
        pp->running = 0;
    }
    if (pp->pending) {
        drop(pp, &pp->pending->u);
        pp->pending = NULL;
    }
    for (size_t i = 1; i < pp->nh; i++) {
        if (!pp->h[i])
            continue;
        if (ok && !pp->failed) {
            if (sf_mask_table_end(pp->h[i]) < 0 && rc == 0)
                rc = sf_masker_error(pp->t->m)->code;
        } else {
            sf_mask_table_abort(pp->h[i]);
        }
        pp->h[i] = NULL;
    }
    pp->h[0] = NULL;
    pp->nh = 0;
    pp->nidle = 0;
    pp->t = NULL;
    return rc;
}
