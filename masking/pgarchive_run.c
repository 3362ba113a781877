/* Ordered parallel unit runner for archive masking (see pgarchive_run.h). */
#include <stdlib.h>
#include <string.h>
#include "pgarchive_run.h"

#define JOBS_MAX 64

static void *worker(void *arg)
{
    pga_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        pga_unit *u;
        while (!r->stop && (!r->next_work || atomic_load(&r->cancel)))
            pthread_cond_wait(&r->cv_work, &r->mu);
        if (r->stop)
            break;
        u = r->next_work;
        r->next_work = u->next;
        while (r->next_work && !r->next_work->work)
            r->next_work = r->next_work->next;
        u->state = 1;
        pthread_mutex_unlock(&r->mu);
        sf_error_clear(&u->err);
        u->rc = r->work(r->ctx, u, &u->err);
        pthread_mutex_lock(&r->mu);
        u->state = 2;
        pthread_cond_broadcast(&r->cv_done);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int pga_runner_init(pga_runner *r, int jobs, pga_unit_fn work, pga_unit_fn emit, pga_unit_drop drop,
                    void *ctx, sf_error *err)
{
    memset(r, 0, sizeof(*r));
    r->work = work;
    r->emit = emit;
    r->drop = drop;
    r->ctx = ctx;
    atomic_init(&r->cancel, 0);
    if (jobs > JOBS_MAX)
        jobs = JOBS_MAX;
    if (jobs <= 1)
        return 0;
    r->window = (size_t)jobs * 3;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv_work, NULL);
    pthread_cond_init(&r->cv_done, NULL);
    if (!(r->threads = calloc((size_t)jobs, sizeof(*r->threads))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (int i = 0; i < jobs; i++) {
        if (pthread_create(&r->threads[i], NULL, worker, r) != 0) {
            pga_runner_free(r);
            return sf_error_set(err, SF_ENOMEM, "cannot start worker thread %d of %d", i + 1, jobs);
        }
        r->nthreads++;
    }
    return 0;
}

int pga_runner_cancelled(pga_runner *r)
{
    return atomic_load(&r->cancel);
}

static int finish_unit(pga_runner *r, pga_unit *u, sf_error *err)
{
    int rc = u->rc;
    if (rc < 0)
        sf_error_copy(err, &u->err);
    else
        rc = r->emit(r->ctx, u, err);
    r->drop(r->ctx, u);
    if (rc < 0)
        atomic_store(&r->cancel, 1);
    return rc;
}

/* Emit the head unit; block for it when `wait`. 1 = nothing to emit now. */
static int emit_head(pga_runner *r, int wait, sf_error *err)
{
    pga_unit *u;
    pthread_mutex_lock(&r->mu);
    while (r->head && r->head->state != 2 && wait)
        pthread_cond_wait(&r->cv_done, &r->mu);
    u = r->head;
    if (!u || u->state != 2) {
        pthread_mutex_unlock(&r->mu);
        return 1;
    }
    r->head = u->next;
    if (!r->head)
        r->tail = NULL;
    r->queued--;
    pthread_mutex_unlock(&r->mu);
    return finish_unit(r, u, err);
}

int pga_runner_add(pga_runner *r, pga_unit *u, sf_error *err)
{
    int rc;
    u->next = NULL;
    u->rc = 0;
    if (!r->nthreads) {
        u->state = 2;
        if (u->work && !atomic_load(&r->cancel))
            u->rc = r->work(r->ctx, u, &u->err);
        return finish_unit(r, u, err);
    }
    pthread_mutex_lock(&r->mu);
    u->state = u->work ? 0 : 2;
    if (r->tail)
        r->tail->next = u;
    else
        r->head = u;
    r->tail = u;
    r->queued++;
    if (u->work && !r->next_work) {
        r->next_work = u;
        pthread_cond_signal(&r->cv_work);
    } else if (u->work) {
        pthread_cond_signal(&r->cv_work);
    }
    pthread_mutex_unlock(&r->mu);
    while ((rc = emit_head(r, r->queued >= r->window, err)) == 0)
        ;
    return rc < 0 ? rc : 0;
}

int pga_runner_finish(pga_runner *r, sf_error *err)
{
    int rc;
    if (!r->nthreads)
        return 0;
    while ((rc = emit_head(r, 1, err)) == 0)
        ;
    return rc < 0 ? rc : 0;
}

void pga_runner_free(pga_runner *r)
{
    pga_unit *u;
    if (!r->nthreads && !r->threads)
        return;
    atomic_store(&r->cancel, 1);
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv_work);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i], NULL);
    free(r->threads);
    r->threads = NULL;
    r->nthreads = 0;
    while ((u = r->head)) {
        r->head = u->next;
        r->drop(r->ctx, u);
    }
    r->tail = NULL;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv_work);
    pthread_cond_destroy(&r->cv_done);
}
