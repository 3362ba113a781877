#ifndef SF_CORE_GRAPH_H
#define SF_CORE_GRAPH_H
/*
 * The resource graph (internal): nodes 0..n-1, edges "i depends on j".
 * Topological order puts dependencies first and, among nodes ready at the
 * same time, the lowest index first, so the order is stable. sched runs a
 * task per node on up to `par` threads at once, in dependency order or
 * (reverse) in dependents-first order.
 */

#include <stddef.h>
#include "stagefork/error.h"

typedef struct sf_graph sf_graph;

int sf_graph_new(sf_graph **out, size_t n);
void sf_graph_free(sf_graph *g);
size_t sf_graph_size(const sf_graph *g);
/* Node i depends on node j (duplicates are ignored). */
int sf_graph_add_dep(sf_graph *g, size_t i, size_t j);
size_t sf_graph_ndeps(const sf_graph *g, size_t i);
size_t sf_graph_dep(const sf_graph *g, size_t i, size_t k);
int sf_graph_depends(const sf_graph *g, size_t i, size_t j);

/*
 * order[0..n) = a topological order. On a cycle: SF_ECONFIG, and
 * cycle[0..*ncycle) holds the nodes of one cycle in dependency order
 * (cycle[0] depends on cycle[1] ... the last depends on cycle[0]).
 * Both arrays need room for n entries.
 */
int sf_graph_order(const sf_graph *g, size_t *order, size_t *cycle, size_t *ncycle);

/* sched: the task for node i. Return 0 or a negative SF_E* code. */
typedef int (*sf_task_fn)(void *ud, size_t i);
enum { SF_SCHED_STOP_ON_ERROR = 1, SF_SCHED_REVERSE = 2 };
#define SF_SCHED_NOT_RUN 1
/*
 * Run every node's task on up to `par` threads, a node only once every
 * node it waits for has finished (its dependencies; with SF_SCHED_REVERSE,
 * its dependents). With SF_SCHED_STOP_ON_ERROR a failure (or *cancel != 0)
 * stops new tasks from starting; otherwise a failed node still counts as
 * finished, so the others go on. results[i] gets the task's return value,
 * or SF_SCHED_NOT_RUN. Returns 0, or the first failure's code. The graph
 * must be acyclic.
 */
int sf_sched_run(const sf_graph *g, unsigned flags, size_t par, sf_task_fn fn, void *ud,
                 const volatile int *cancel, int *results);

#endif
