/* Runs one task per graph node on a bounded number of threads, in dependency order. */
#include <pthread.h>
#include <stdlib.h>
#include "graph.h"

enum { WAITING, RUNNING, FINISHED };

struct sched {
    const sf_graph *g;
    unsigned flags;
    sf_task_fn fn;
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *st;
    int *results;
    size_t running;
    int failed;
};

struct job {
    struct sched *s;
    size_t i;
    pthread_t th;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    struct sched *s = j->s;
    int rc = s->fn(s->ud, j->i);
    pthread_mutex_lock(&s->mu);
    s->results[j->i] = rc;
    s->st[j->i] = FINISHED;
    if (rc < 0 && !s->failed)
        s->failed = rc;
    s->running--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Is node i ready: everything it waits for has finished? (mu held) */
static int ready(const struct sched *s, size_t i)
{
    const sf_graph *g = s->g;
    size_t n = sf_graph_size(g);
    if (s->flags & SF_SCHED_REVERSE) {
        for (size_t d = 0; d < n; d++)
            if (s->st[d] != FINISHED && sf_graph_depends(g, d, i))
                return 0;
        return 1;
    }
    for (size_t k = 0; k < sf_graph_ndeps(g, i); k++)
        if (s->st[sf_graph_dep(g, i, k)] != FINISHED)
            return 0;
    return 1;
}

int sf_sched_run(const sf_graph *g, unsigned flags, size_t par, sf_task_fn fn, void *ud,
                 const volatile int *cancel, int *results)
{
    size_t n = sf_graph_size(g);
    struct sched s = {g, flags, fn, ud, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, results, 0, 0};
    struct job *jobs = calloc(n ? n : 1, sizeof(*jobs));
    char *joined = calloc(n ? n : 1, 1);
    int rc;
    if (!jobs || !joined || !(s.st = calloc(n ? n : 1, 1))) {
        free(jobs);
        free(joined);
        free(s.st);
        return SF_ENOMEM;
    }
    if (par == 0)
        par = 1;
    for (size_t i = 0; i < n; i++)
        results[i] = SF_SCHED_NOT_RUN;
    pthread_mutex_lock(&s.mu);
    for (;;) {
        int stop = (flags & SF_SCHED_STOP_ON_ERROR) && (s.failed || (cancel && *cancel));
        int started = 0, waiting = 0;
        for (size_t i = 0; i < n && !stop; i++) {
            if (s.st[i] != WAITING)
                continue;
            waiting = 1;
            if (s.running >= par || !ready(&s, i))
                continue;
            s.st[i] = RUNNING;
            s.running++;
            jobs[i].s = &s;
            jobs[i].i = i;
            started = 1;
            if (pthread_create(&jobs[i].th, NULL, worker, &jobs[i]) != 0) {
                /* no thread to be had: run it here, unlocked so the task may block */
                joined[i] = 1;
                pthread_mutex_unlock(&s.mu);
                worker(&jobs[i]);
                pthread_mutex_lock(&s.mu);
            }
        }
        for (size_t i = 0; i < n; i++)
            if (s.st[i] == FINISHED && !joined[i]) {
                joined[i] = 1;
                pthread_mutex_unlock(&s.mu);
                pthread_join(jobs[i].th, NULL);
                pthread_mutex_lock(&s.mu);
            }
        if (started)
            continue;
        /*
         * The joins above let go of the lock: tasks may have finished since
         * the scan, so a node found blocked then may be ready now. Look
         * again before waiting, or before calling what is left a cycle.
         */
        stop = (flags & SF_SCHED_STOP_ON_ERROR) && (s.failed || (cancel && *cancel));
        waiting = 0;
        for (size_t i = 0; i < n; i++) {
            if (s.st[i] == FINISHED && !joined[i])
                started = 1;
            else if (s.st[i] == WAITING && !stop) {
                waiting = 1;
                if (s.running < par && ready(&s, i))
                    started = 1;
            }
        }
        if (started)
            continue;
        if (s.running == 0) {
            if (waiting && !s.failed)
                s.failed = SF_EINTERNAL; /* nothing runnable: the graph has a cycle */
            break;
        }
        pthread_cond_wait(&s.cv, &s.mu);
    }
    pthread_mutex_unlock(&s.mu);
    rc = s.failed;
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    free(jobs);
    free(joined);
    free(s.st);
    return rc;
}
