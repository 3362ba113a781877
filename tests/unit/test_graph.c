/* The resource graph: stable topological order, named cycles, bounded parallel scheduling. */
#include <pthread.h>
#include <time.h>
#include "envtest.h"
#include "graph.h"

Test(graph, order_puts_dependencies_first_and_is_stable)
{
    sf_graph *g;
    size_t order[5], cycle[5], nc;
    cr_assert_eq(sf_graph_new(&g, 5), 0);
    /* 0 depends on 3; 1 on 0; 2 on nothing; 4 on 1 and 2 */
    sf_graph_add_dep(g, 0, 3);
    sf_graph_add_dep(g, 1, 0);
    sf_graph_add_dep(g, 4, 1);
    sf_graph_add_dep(g, 4, 2);
    sf_graph_add_dep(g, 4, 2); /* duplicate ignored */
    cr_assert_eq(sf_graph_ndeps(g, 4), 2);
    cr_assert_eq(sf_graph_order(g, order, cycle, &nc), 0);
    size_t want[5] = {2, 3, 0, 1, 4};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(order[i], want[i], "order[%zu] = %zu, want %zu", i, order[i], want[i]);
    cr_assert_eq(sf_graph_add_dep(g, 0, 9), SF_EINTERNAL);
    sf_graph_free(g);
    sf_graph_free(NULL);
}

Test(graph, cycles_are_found_and_listed_in_order)
{
    sf_graph *g;
    size_t order[4], cycle[4], nc;
    cr_assert_eq(sf_graph_new(&g, 4), 0);
    sf_graph_add_dep(g, 0, 1); /* 0 -> 1 -> 2 -> 1, 3 independent */
    sf_graph_add_dep(g, 1, 2);
    sf_graph_add_dep(g, 2, 1);
    cr_assert_eq(sf_graph_order(g, order, cycle, &nc), SF_ECONFIG);
    cr_assert_eq(nc, 2);
    cr_assert_eq(cycle[0], 1);
    cr_assert_eq(cycle[1], 2);
    sf_graph_free(g);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int inflight, peak, seq, started_at[12], finished_at[12];

static int slow_task(void *ud, size_t i)
{
    struct timespec ts = {0, 60 * 1000 * 1000};
    (void)ud;
    pthread_mutex_lock(&mu);
    started_at[i] = ++seq;
    if (++inflight > peak)
        peak = inflight;
    pthread_mutex_unlock(&mu);
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&mu);
    inflight--;
    finished_at[i] = ++seq;
    pthread_mutex_unlock(&mu);
    return i == 7 ? SF_EIO : 0;
}

Test(graph, sched_runs_at_most_par_tasks_in_dependency_order)
{
    sf_graph *g;
    int results[12];
    cr_assert_eq(sf_graph_new(&g, 12), 0);
    sf_graph_add_dep(g, 11, 0); /* 11 waits for 0 and 1 */
    sf_graph_add_dep(g, 11, 1);
    inflight = peak = seq = 0;
    cr_assert_eq(sf_sched_run(g, 0, 4, slow_task, NULL, NULL, results), SF_EIO, "the first failure is returned");
    cr_assert_eq(peak, 4, "10 independent tasks on 4 threads: peak %d", peak);
    cr_assert_gt(started_at[11], finished_at[0]);
    cr_assert_gt(started_at[11], finished_at[1]);
    cr_assert_eq(results[7], SF_EIO);
    cr_assert_eq(results[11], 0, "without STOP_ON_ERROR the others still run");
    sf_graph_free(g);
}

Test(graph, sched_reverse_runs_dependents_first_and_stop_on_error_stops)
{
    sf_graph *g;
    int results[3];
    cr_assert_eq(sf_graph_new(&g, 3), 0);
    sf_graph_add_dep(g, 1, 0); /* 2 -> 1 -> 0 */
    sf_graph_add_dep(g, 2, 1);
    seq = 0;
    cr_assert_eq(sf_sched_run(g, SF_SCHED_REVERSE, 4, slow_task, NULL, NULL, results), 0);
    cr_assert_lt(finished_at[2], started_at[1]);
    cr_assert_lt(finished_at[1], started_at[0]);
    sf_graph_free(g);

    /* 8 tasks, 7 fails first (chain 7 <- 0..6): nothing after it starts */
    cr_assert_eq(sf_graph_new(&g, 8), 0);
    for (size_t i = 0; i < 7; i++)
        sf_graph_add_dep(g, i, 7);
    {
        int r8[8];
        cr_assert_eq(sf_sched_run(g, SF_SCHED_STOP_ON_ERROR, 4, slow_task, NULL, NULL, r8), SF_EIO);
        for (size_t i = 0; i < 7; i++)
            cr_assert_eq(r8[i], SF_SCHED_NOT_RUN);
    }
    sf_graph_free(g);
}

static int instant_task(void *ud, size_t i)
{
    (void)ud;
    (void)i;
    return 0;
}

/*
 * A task that finishes while the scheduler joins another (its lock let go)
 * makes its dependents ready: they must run, never be taken for a cycle.
 * Instant tasks in wide and chained graphs hit that window often.
 */
Test(graph, sched_never_mistakes_a_task_finished_during_a_join_for_a_cycle)
{
    for (int round = 0; round < 400; round++) {
        sf_graph *g;
        int results[16];
        cr_assert_eq(sf_graph_new(&g, 16), 0);
        for (size_t i = 4; i < 16; i++)
            sf_graph_add_dep(g, i, i % 4 + (i >= 8 ? 4 : 0)); /* 4 roots, 4 children each level */
        cr_assert_eq(sf_sched_run(g, round % 2 ? SF_SCHED_REVERSE : 0, 4, instant_task, NULL, NULL, results), 0,
                     "round %d", round);
        for (size_t i = 0; i < 16; i++)
            cr_assert_eq(results[i], 0, "round %d node %zu", round, i);
        sf_graph_free(g);
    }
}
