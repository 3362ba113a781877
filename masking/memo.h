#ifndef SF_MASKING_MEMO_H
#define SF_MASKING_MEMO_H
/*
 * The rule side's memo: remembered input -> output pairs of one rule (and
 * type fit), per row context, so repeated values (SKUs, customers behind
 * `by:`, names) skip the keyed computation. A pure optimisation: a lookup
 * may always miss, and outputs never depend on it.
 *
 * Set-associative (8 ways, CLOCK replacement within a set), entries of one
 * cache line (key + value up to 62 bytes; longer pairs are not kept). It
 * adapts per window of lookups (4x its size): it starts at 512 entries and
 * grows (entries moved over) while it evicts and not every lookup hits:
 * freely up to 16384 entries (1 MiB, x4 per step), then by x16 steps up to
 * 262144 entries (16 MiB, e.g. 120k distinct SKUs) only while at least a
 * quarter of the lookups hit.
 * Bound: 1 MiB + 80 KiB tags per memo, plus at most 64 MiB of entries beyond
 * that for all memos of the process together (a process-wide budget; a memo
 * that finds it spent stays at its size). When hardly anything hits (every
 * value distinct, or a working set still too large) it goes cold: callers
 * skip it (sf_memo_skip) for 15 values in 16, so a stream of unique values
 * costs nearly nothing, and the 16th keeps watch for repetition.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct sf_memo {
    uint32_t *tags;       /* nsets * 8 tags; 0 = empty way */
    unsigned char *ents;  /* nsets * 8 entries: key length, value length, key, value */
    uint8_t *ref;         /* per set: CLOCK reference bits */
    uint8_t *hand;        /* per set: CLOCK hand */
    size_t nsets;
    uint64_t lookups, hits, evictions; /* the current window */
    unsigned sample, skipped;          /* use the memo for one value in `sample` */
    uint64_t total_lookups, total_hits;
} sf_memo;

/* A hash of the key (seed separates kinds of keys); the memo takes it with the key. */
uint64_t sf_memo_hash(const void *key, size_t len, uint64_t seed);
void sf_memo_init(sf_memo *m);
/* Release (entries are wiped: they hold unmasked values). */
void sf_memo_free(sf_memo *m);
/* Leave the memo out for this value (it is cold): no get, no put. */
int sf_memo_skip(sf_memo *m);
/*
 * Hints for a batch of lookups: fetch the tags of key hash h, then (once
 * they are in) the entry they point at, so the cache misses of many keys
 * overlap instead of coming one after the other in sf_memo_get.
 */
void sf_memo_prefetch_tags(const sf_memo *m, uint64_t h);
void sf_memo_prefetch_entry(const sf_memo *m, uint64_t h);
/* The value remembered for key (h = sf_memo_hash of it), or NULL; valid until the next put. */
const unsigned char *sf_memo_get(sf_memo *m, uint64_t h, const void *key, size_t klen, size_t *vlen);
/* Remember key -> value after a miss (declines pairs longer than an entry). */
void sf_memo_put(sf_memo *m, uint64_t h, const void *key, size_t klen, const void *val, size_t vlen);

#endif
