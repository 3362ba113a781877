#ifndef SF_MASKING_PGARCHIVE_RUN_H
#define SF_MASKING_PGARCHIVE_RUN_H
/*
 * Ordered parallel work for the archive formats: the coordinating thread
 * adds units in output order; up to `jobs` worker threads run each unit's
 * work function (mask one table into a spool, or write one file); the
 * coordinator emits units strictly in the order they were added. So the
 * output is the same bytes for any number of jobs. A bounded window of
 * units in flight bounds memory and temp-file use.
 *
 * With jobs <= 1 there are no threads: add() works and emits inline, which
 * is also the only mode for inputs that can only be read sequentially.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include "stagefork/error.h"

typedef struct pga_unit pga_unit;
struct pga_unit {
    pga_unit *next;
    int kind;      /* the format's own unit kind */
    int work;      /* 1: run the work function in a worker */
    int state;     /* 0 queued, 1 running, 2 done */
    int rc;
    sf_error err;
    void *data;    /* the format's own unit description */
};

typedef int (*pga_unit_fn)(void *ctx, pga_unit *u, sf_error *err);
typedef void (*pga_unit_drop)(void *ctx, pga_unit *u);

typedef struct pga_runner {
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pthread_t *threads;
    int nthreads;
    pga_unit *head, *tail, *next_work;
    size_t queued, window;
    int stop;
    atomic_int cancel;
    pga_unit_fn work, emit;
    pga_unit_drop drop;
    void *ctx;
} pga_runner;

/*
 * Start a runner. work runs in a worker thread (or inline); emit runs on
 * the calling thread, in order; drop frees a unit (always called, also on
 * error paths).
 */
int pga_runner_init(pga_runner *r, int jobs, pga_unit_fn work, pga_unit_fn emit, pga_unit_drop drop,
                    void *ctx, sf_error *err);
/* Queue u (ownership passes to the runner); may emit earlier units. The
   first failing unit's error (in order) is returned. */
int pga_runner_add(pga_runner *r, pga_unit *u, sf_error *err);
/* Wait for and emit every queued unit. */
int pga_runner_finish(pga_runner *r, sf_error *err);
/* Stop workers (a unit in progress is asked to stop through
   pga_runner_cancelled), drop what is left, join threads. */
void pga_runner_free(pga_runner *r);
/* True once the coordinator has given up; long work functions poll it. */
int pga_runner_cancelled(pga_runner *r);

#endif
