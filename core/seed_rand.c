/*
 * Randomness of the seeding engine: counter-based (every value is
 * addressable by stream key and index, so any row can be recomputed),
 * keyed bijections for unique columns, and zipf sampling for hot keys.
 * Nothing here uses rand() or global state. Also the sparse remaps that
 * move unique rows off values a non-empty target already holds.
 */
#include <math.h>
#include <stdlib.h>
#include "seed_internal.h"

/* The splitmix64 finalizer: a fast bijective 64-bit mixer. */
uint64_t seed_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x *= UINT64_C(0x94D049BB133111EB);
    x ^= x >> 31;
    return x;
}

/* FNV-1a over the bytes, folded into h and mixed: stable across machines. */
uint64_t seed_hash_str(uint64_t h, const char *s, size_t len)
{
    uint64_t f = UINT64_C(0xCBF29CE484222325);
    for (size_t i = 0; i < len; i++) {
        f ^= (unsigned char)s[i];
        f *= UINT64_C(0x100000001B3);
    }
    return seed_mix64(h ^ f ^ (uint64_t)len);
}

/* High 64 bits of r * n, without a 128-bit type. */
uint64_t seed_below(uint64_t r, uint64_t n)
{
    uint64_t rl = r & 0xFFFFFFFFu, rh = r >> 32, nl = n & 0xFFFFFFFFu, nh = n >> 32;
    uint64_t ll = rl * nl, lh = rl * nh, hl = rh * nl, hh = rh * nh;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

#define FEISTEL_ROUNDS 4

/*
 * Set up the keyed bijection of [0, n) used by unique columns: a balanced
 * Feistel network over the smallest 4^half >= n, restricted to [0, n) by
 * cycle walking (seed_perm_apply).
 */
void seed_perm_init(seed_perm *p, uint64_t n, uint64_t key)
{
    unsigned half = 1;
    /* smallest even bit width 2*half with 2^(2*half) >= n (at most 4n: cycle walking stays short) */
    while (half < 32 && (UINT64_C(1) << (2 * half)) < n)
        half++;
    p->n = n;
    p->key = key;
    p->half = half;
    p->mask = half >= 32 ? UINT64_C(0xFFFFFFFF) : (UINT64_C(1) << half) - 1;
}

static uint64_t feistel(const seed_perm *p, uint64_t x)
{
    uint64_t l = (x >> p->half) & p->mask, r = x & p->mask;
    for (unsigned round = 0; round < FEISTEL_ROUNDS; round++) {
        uint64_t f = seed_mix64(p->key ^ (r * UINT64_C(0x9E3779B97F4A7C15)) ^ ((uint64_t)round << 56)) & p->mask;
        uint64_t t = l ^ f;
        l = r;
        r = t;
    }
    return (l << p->half) | r;
}

/*
 * The image of i (< n) under the keyed bijection of [0, n). Cycle walking:
 * the Feistel network permutes [0, 4^half); re-applying it until the value
 * falls back into [0, n) restricts it to a permutation of [0, n).
 */
uint64_t seed_perm_apply(const seed_perm *p, uint64_t i)
{
    uint64_t x = i;
    if (p->n <= 1)
        return 0;
    do
        x = feistel(p, x);
    while (x >= p->n);
    return x;
}

/*
 * Zipf by rejection-inversion (W. Hörmann, G. Derflinger, "Rejection-
 * inversion to generate variates from monotone discrete distributions",
 * 1996): sample the continuous hat h(x) = x^-s by inverting its integral H,
 * round, and accept with a cheap test. Expected draws per sample are close
 * to 1 for every n and s.
 */
static double helper_log1p_over(double t) /* log1p(t) / t, 1 at 0 */
{
    return fabs(t) > 1e-8 ? log1p(t) / t : 1 - t * (0.5 - t * (1.0 / 3.0 - 0.25 * t));
}

static double helper_expm1_over(double t) /* expm1(t) / t, 1 at 0 */
{
    return fabs(t) > 1e-8 ? expm1(t) / t : 1 + t * 0.5 * (1 + t * (1.0 / 3.0) * (1 + 0.25 * t));
}

static double zh(const seed_zipf *z, double x) /* h(x) = x^-s */
{
    return exp(-z->s * log(x));
}

static double zH(const seed_zipf *z, double x) /* integral of h, (x^(1-s) - 1)/(1-s) */
{
    double lx = log(x);
    return helper_expm1_over((1 - z->s) * lx) * lx;
}

static double zHinv(const seed_zipf *z, double y)
{
    double t = y * (1 - z->s);
    if (t < -1)
        t = -1;
    return exp(helper_log1p_over(t) * y);
}

/* Precompute the hat-function constants for Zipf(s) over ranks 1..n (n >= 1). */
void seed_zipf_init(seed_zipf *z, uint64_t n, double s)
{
    z->n = n ? n : 1;
    z->s = s;
    z->h_x1 = zH(z, 1.5) - 1;
    z->h_n = zH(z, (double)z->n + 0.5);
    z->c = 2 - zHinv(z, zH(z, 2.5) - zh(z, 2));
}

/*
 * One Zipf rank. Uniform numbers come from stream `key` at *ctr onwards, so
 * a row's draw is reproducible; the loop is bounded (64 tries) to stay
 * deterministic even in the practically impossible all-rejected case.
 */
uint64_t seed_zipf_draw(const seed_zipf *z, uint64_t key, uint64_t *ctr)
{
    double x = 1;
    if (z->n <= 1)
        return 1;
    for (int tries = 0; tries < 64; tries++) {
        double u = z->h_n + seed_unit(seed_rand_at(key, (*ctr)++)) * (z->h_x1 - z->h_n);
        double k;
        x = zHinv(z, u);
        k = floor(x + 0.5);
        if (k < 1)
            k = 1;
        else if (k > (double)z->n)
            k = (double)z->n;
        if (k - x <= z->c || u >= zH(z, k + 0.5) - zh(z, k))
            return (uint64_t)k;
    }
    /* practically unreachable (acceptance probability is close to 1); stay deterministic */
    x = floor(x + 0.5);
    return x < 1 ? 1 : x > (double)z->n ? z->n : (uint64_t)x;
}

/* ---- sparse remaps (unique keys moved off the target's values) ------- */

static size_t remap_slot(const seed_remap *m, uint64_t row)
{
    return (size_t)(seed_mix64(row) & (m->cap - 1));
}

/* The index of `row` in its key's bijection: remapped, else the row itself. O(1). */
uint64_t seed_remap_get(const seed_remap *m, uint64_t row)
{
    size_t i;
    if (!m->n)
        return row;
    for (i = remap_slot(m, row); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == row + 1)
            return m->vals[i];
    return row;
}

/* Set (or replace) row's index; the table grows at half load. SF_ENOMEM on failure. */
int seed_remap_put(seed_remap *m, uint64_t row, uint64_t idx)
{
    size_t i;
    if ((m->n + 1) * 2 > m->cap) {
        seed_remap g = {NULL, NULL, m->cap ? m->cap * 2 : 64, 0};
        g.keys = calloc(g.cap, sizeof(*g.keys));
        g.vals = calloc(g.cap, sizeof(*g.vals));
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return SF_ENOMEM;
        }
        for (size_t k = 0; k < m->cap; k++)
            if (m->keys[k]) {
                size_t j = remap_slot(&g, m->keys[k] - 1);
                while (g.keys[j])
                    j = (j + 1) & (g.cap - 1);
                g.keys[j] = m->keys[k];
                g.vals[j] = m->vals[k];
                g.n++;
            }
        seed_remap_free(m);
        *m = g;
    }
    for (i = remap_slot(m, row); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == row + 1) {
            m->vals[i] = idx;
            return 0;
        }
    m->keys[i] = row + 1;
    m->vals[i] = idx;
    m->n++;
    return 0;
}

/* Empty the map and free its memory. */
void seed_remap_free(seed_remap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
    m->cap = m->n = 0;
}
