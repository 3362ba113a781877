/* The resource graph: dependency edges, stable topological order, cycle naming. */
#include <stdlib.h>
#include <string.h>
#include "graph.h"

struct sf_graph {
    size_t n;
    size_t *ndeps, *cap;
    size_t **deps;
};

int sf_graph_new(sf_graph **out, size_t n)
{
    sf_graph *g = calloc(1, sizeof(*g));
    *out = NULL;
    if (!g)
        return SF_ENOMEM;
    g->n = n;
    g->ndeps = calloc(n ? n : 1, sizeof(size_t));
    g->cap = calloc(n ? n : 1, sizeof(size_t));
    g->deps = calloc(n ? n : 1, sizeof(size_t *));
    if (!g->ndeps || !g->cap || !g->deps) {
        sf_graph_free(g);
        return SF_ENOMEM;
    }
    *out = g;
    return 0;
}

void sf_graph_free(sf_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->deps && i < g->n; i++)
        free(g->deps[i]);
    free(g->deps);
    free(g->ndeps);
    free(g->cap);
    free(g);
}

size_t sf_graph_size(const sf_graph *g) { return g->n; }
size_t sf_graph_ndeps(const sf_graph *g, size_t i) { return g->ndeps[i]; }
size_t sf_graph_dep(const sf_graph *g, size_t i, size_t k) { return g->deps[i][k]; }

int sf_graph_depends(const sf_graph *g, size_t i, size_t j)
{
    for (size_t k = 0; k < g->ndeps[i]; k++)
        if (g->deps[i][k] == j)
            return 1;
    return 0;
}

int sf_graph_add_dep(sf_graph *g, size_t i, size_t j)
{
    if (i >= g->n || j >= g->n)
        return SF_EINTERNAL;
    if (sf_graph_depends(g, i, j))
        return 0;
    if (g->ndeps[i] == g->cap[i]) {
        size_t nc = g->cap[i] ? g->cap[i] * 2 : 4;
        size_t *p = realloc(g->deps[i], nc * sizeof(*p));
        if (!p)
            return SF_ENOMEM;
        g->deps[i] = p;
        g->cap[i] = nc;
    }
    g->deps[i][g->ndeps[i]++] = j;
    return 0;
}

/* DFS from `start` over unfinished nodes to find a cycle; fills cycle[]. */
static int find_cycle(const sf_graph *g, const char *done, size_t start, size_t *cycle, size_t *ncycle)
{
    size_t n = g->n, depth = 0;
    size_t *stack = malloc(n * sizeof(size_t)), *next = calloc(n, sizeof(size_t));
    char *onstack = calloc(n, 1), *seen = calloc(n, 1);
    int found = 0;
    if (!stack || !next || !onstack || !seen)
        goto out;
    stack[depth++] = start;
    onstack[start] = seen[start] = 1;
    while (depth && !found) {
        size_t v = stack[depth - 1];
        if (next[v] < g->ndeps[v]) {
            size_t w = g->deps[v][next[v]++];
            if (done[w])
                continue;
            if (onstack[w]) {
                size_t k = 0;
                while (stack[k] != w)
                    k++;
                *ncycle = 0;
                for (; k < depth; k++)
                    cycle[(*ncycle)++] = stack[k];
                found = 1;
            } else if (!seen[w]) {
                seen[w] = onstack[w] = 1;
                stack[depth++] = w;
            }
        } else {
            onstack[v] = 0;
            depth--;
        }
    }
out:
    free(stack);
    free(next);
    free(onstack);
    free(seen);
    return found;
}

int sf_graph_order(const sf_graph *g, size_t *order, size_t *cycle, size_t *ncycle)
{
    size_t n = g->n, placed = 0;
    char *done = calloc(n ? n : 1, 1);
    if (!done)
        return SF_ENOMEM;
    *ncycle = 0;
    /* n is small (resources of one template): O(n^2) keeps the order stable and simple */
    while (placed < n) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            size_t k;
            if (done[i])
                continue;
            for (k = 0; k < g->ndeps[i]; k++)
                if (!done[g->deps[i][k]])
                    break;
            if (k == g->ndeps[i])
                pick = i;
        }
        if (pick == n) {
            for (size_t i = 0; i < n; i++)
                if (!done[i] && find_cycle(g, done, i, cycle, ncycle))
                    break;
            free(done);
            return SF_ECONFIG;
        }
        done[pick] = 1;
        order[placed++] = pick;
    }
    free(done);
    return 0;
}
