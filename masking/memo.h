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
 * adapts per window of lookups: it starts at 512 entries and grows to
 * 16384 while it evicts and the hit rate says the working set is larger;
 * when hardly anything hits (every value distinct) it keeps only one miss
 * in 16, so a stream of unique values costs a tag check and little else.
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
    unsigned sample, skipped;          /* keep one miss in `sample` */
    uint64_t total_lookups, total_hits;
} sf_memo;

/* A hash of the key (seed separates kinds of keys); the memo takes it with the key. */
uint64_t sf_memo_hash(const void *key, size_t len, uint64_t seed);
void sf_memo_init(sf_memo *m);
/* Release (entries are wiped: they hold unmasked values). */
void sf_memo_free(sf_memo *m);
/* The value remembered for key (h = sf_memo_hash of it), or NULL; valid until the next put. */
const unsigned char *sf_memo_get(sf_memo *m, uint64_t h, const void *key, size_t klen, size_t *vlen);
/* Remember key -> value after a miss (may decline). */
void sf_memo_put(sf_memo *m, uint64_t h, const void *key, size_t klen, const void *val, size_t vlen);

#endif
