/* The rule side's memo: set-associative, adaptive (see memo.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <openssl/crypto.h>
#include "memo.h"

#define WAYS 8
#define ENT 64
#define DATA (ENT - 2)
#define SETS_MIN 64      /* 512 entries, 32 KiB */
#define SETS_FREE 2048   /* 16384 entries, 1 MiB: grown to while it churns, whatever the hit rate */
#define SETS_MAX 32768   /* 262144 entries, 16 MiB: only while a quarter of the lookups hit, within BUDGET */
#define BUDGET ((size_t)64 << 20) /* entry bytes of all memos of the process above SETS_FREE sets each */
#define WINDOW_MIN 4096
#define SAMPLE_COLD 16

/* Bytes of entries the memos of this process hold beyond SETS_FREE sets each. */
static atomic_size_t big_bytes;

static size_t over_free(size_t nsets)
{
    return nsets > SETS_FREE ? (nsets - SETS_FREE) * WAYS * ENT : 0;
}

/*
 * The set of a hash and its tag: both from the high 32 bits, the set from
 * bits 1..15 of them, so that a table can be regrown from its tags alone
 * (the hashes are not kept). Tags are never 0 (0 marks an empty way).
 */
static inline uint32_t tag_of(uint64_t h)
{
    return (uint32_t)(h >> 32) | 1u;
}

static inline size_t set_of(uint32_t tag, size_t nsets)
{
    return (size_t)(tag >> 1) & (nsets - 1);
}

static inline uint64_t ld64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t ld32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* 64x64 -> 128-bit multiply, halves folded: the mixing step. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define K0 0xa0761d6478bd642full
#define K1 0xe7037ed1a0b428dbull
#define K2 0x8ebc6af09c88c6e3ull

/*
 * Short keys (the memo's, at most 62 bytes) without a loop or a call: up
 * to 16 bytes as two possibly overlapping loads, longer ones 16 bytes per
 * step and the last 16 overlapping. Nothing outside key[0..len) is read.
 */
uint64_t sf_memo_hash(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ K0 ^ (len * K2), a, b;
    if (len <= 16) {
        if (len >= 8) {
            a = ld64(p);
            b = ld64(p + len - 8);
        } else if (len >= 4) {
            a = ld32(p);
            b = ld32(p + len - 4);
        } else {
            a = len ? (uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1] : 0;
            b = 0;
        }
    } else {
        size_t i = 0;
        for (; i + 16 < len; i += 16)
            h = mum(ld64(p + i) ^ K1, ld64(p + i + 8) ^ h);
        a = ld64(p + len - 16);
        b = ld64(p + len - 8);
    }
    return mum(K1 ^ len, mum(a ^ K1, b ^ h));
}

void sf_memo_init(sf_memo *m)
{
    memset(m, 0, sizeof(*m));
    m->sample = 1;
}

static void release(sf_memo *m)
{
    if (m->ents)
        OPENSSL_cleanse(m->ents, m->nsets * WAYS * ENT);
    atomic_fetch_sub(&big_bytes, over_free(m->nsets));
    free(m->tags);
    free(m->ents);
    free(m->ref);
    free(m->hand);
    m->tags = NULL;
    m->ents = NULL;
    m->ref = m->hand = NULL;
    m->nsets = 0;
}

void sf_memo_free(sf_memo *m)
{
    release(m);
}

#define HUGE_PAGE ((size_t)2 << 20)

/*
 * n bytes for a table, zeroed if asked; from 2 MiB up aligned to 2 MiB and
 * offered to the kernel as huge pages (lookups land anywhere in the table:
 * with 4 KiB pages nearly every one of a 16 MiB table also misses the TLB).
 * Only an optimisation: without transparent huge pages it is plain memory.
 * Freed with free().
 */
static void *table_alloc(size_t n, int zero)
{
    void *p;
    if (n < HUGE_PAGE)
        return zero ? calloc(n, 1) : malloc(n);
    if (posix_memalign(&p, HUGE_PAGE, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE);
#endif
    if (zero)
        memset(p, 0, n);
    return p;
}

/*
 * Replace the table by one of nsets sets, moving the entries over (a set
 * that overflows keeps its first ways); 0, or -1 with the memo unchanged.
 * Sets above SETS_FREE are taken from the process's BUDGET first.
 */
static int alloc_sets(sf_memo *m, size_t nsets)
{
    size_t extra = over_free(nsets), old_extra = over_free(m->nsets);
    uint32_t *tags;
    unsigned char *ents;
    uint8_t *ref, *hand;
    /* the new table's share is taken now, the old one's given back by release() */
    if (extra && atomic_fetch_add(&big_bytes, extra) + extra - old_extra > BUDGET) {
        atomic_fetch_sub(&big_bytes, extra);
        return -1;
    }
    tags = table_alloc(nsets * WAYS * sizeof(uint32_t), 1);
    ents = table_alloc(nsets * WAYS * ENT, 0);
    ref = calloc(nsets, 1);
    hand = calloc(nsets, 1);
    if (!tags || !ents || !ref || !hand) {
        free(tags);
        free(ents);
        free(ref);
        free(hand);
        atomic_fetch_sub(&big_bytes, extra);
        return -1;
    }
    for (size_t i = 0; i < m->nsets * WAYS; i++) {
        uint32_t tag = m->tags[i];
        size_t set;
        unsigned w;
        if (!tag)
            continue;
        set = set_of(tag, nsets);
        for (w = 0; w < WAYS && tags[set * WAYS + w]; w++)
            ;
        if (w == WAYS)
            continue;
        tags[set * WAYS + w] = tag;
        memcpy(ents + (set * WAYS + w) * ENT, m->ents + i * ENT, ENT);
    }
    release(m);
    m->tags = tags;
    m->ents = ents;
    m->ref = ref;
    m->hand = hand;
    m->nsets = nsets;
    return 0;
}

/*
 * End of a window: go cold when hardly anything hits; grow while the table
 * churns (evictions) and not everything hits: a working set larger than the
 * table looks like distinct values until the table is large enough. Past
 * SETS_FREE sets a bigger table must pay (a quarter of the lookups hit),
 * and it grows x16 at once: the windows of a large table are long, and a
 * table at an intermediate size for one of them loses the hits it would
 * have had.
 */
static void adapt(sf_memo *m)
{
    size_t cap = m->nsets * WAYS;
    /* hit rate under 2%: use the memo for one value in 16 (enough to notice repetition coming back) */
    m->sample = m->hits * 50 < m->lookups ? SAMPLE_COLD : 1;
    if (m->nsets && m->nsets < SETS_MAX && m->evictions > cap / 4 && m->hits * 50 < m->lookups * 49 &&
        (m->nsets < SETS_FREE || m->hits * 4 >= m->lookups))
        (void)alloc_sets(m, m->nsets < SETS_FREE ? (m->nsets * 4 > SETS_FREE ? SETS_FREE : m->nsets * 4)
                                                 : (m->nsets * 16 > SETS_MAX ? SETS_MAX : m->nsets * 16));
    m->lookups = m->hits = m->evictions = 0;
}

int sf_memo_skip(sf_memo *m)
{
    if (m->sample == 1)
        return 0;
    return ++m->skipped % m->sample != 0;
}

void sf_memo_prefetch_tags(const sf_memo *m, uint64_t h)
{
    if (m->tags)
        __builtin_prefetch(m->tags + set_of(tag_of(h), m->nsets) * WAYS);
}

void sf_memo_prefetch_entry(const sf_memo *m, uint64_t h)
{
    if (m->tags) {
        uint32_t tag = tag_of(h);
        size_t set = set_of(tag, m->nsets);
        const uint32_t *t = m->tags + set * WAYS;
        for (unsigned w = 0; w < WAYS; w++)
            if (t[w] == tag) {
                __builtin_prefetch(m->ents + (set * WAYS + w) * ENT);
                return;
            }
    }
}

/* key[0..klen) equals the entry's key bytes e[0..klen)? Inline: keys are short, a call to memcmp costs more. */
static inline int key_eq(const unsigned char *e, const unsigned char *key, size_t klen)
{
    size_t i = 0;
    for (; i + 8 <= klen; i += 8) {
        uint64_t a, b;
        memcpy(&a, e + i, 8);
        memcpy(&b, key + i, 8);
        if (a != b)
            return 0;
    }
    for (; i < klen; i++)
        if (e[i] != key[i])
            return 0;
    return 1;
}

const unsigned char *sf_memo_get(sf_memo *m, uint64_t h, const void *key, size_t klen, size_t *vlen)
{
    size_t window = m->nsets * WAYS * 4;
    if (++m->lookups >= (window > WINDOW_MIN ? window : WINDOW_MIN))
        adapt(m);
    m->total_lookups++;
    if (m->tags) {
        uint32_t tag = tag_of(h);
        size_t set = set_of(tag, m->nsets);
        const uint32_t *t = m->tags + set * WAYS;
        for (unsigned w = 0; w < WAYS; w++) {
            const unsigned char *e;
            if (t[w] != tag)
                continue;
            e = m->ents + (set * WAYS + w) * ENT;
            if (e[0] == klen && key_eq(e + 2, key, klen)) {
                m->ref[set] |= (uint8_t)(1u << w);
                m->hits++;
                m->total_hits++;
                *vlen = e[1];
                return e + 2 + klen;
            }
        }
    }
    return NULL;
}

void sf_memo_put(sf_memo *m, uint64_t h, const void *key, size_t klen, const void *val, size_t vlen)
{
    size_t set;
    uint32_t *t;
    unsigned char *e;
    unsigned w;
    if (klen + vlen > DATA)
        return;
    if (!m->tags && alloc_sets(m, SETS_MIN) < 0)
        return; /* the memo is an optimisation only */
    set = set_of(tag_of(h), m->nsets);
    t = m->tags + set * WAYS;
    for (w = 0; w < WAYS && t[w]; w++)
        ;
    if (w == WAYS) {
        /* CLOCK: the first way from the hand not referenced since the hand last passed it */
        for (;;) {
            w = m->hand[set];
            m->hand[set] = (uint8_t)((w + 1) % WAYS);
            if (!(m->ref[set] & (1u << w)))
                break;
            m->ref[set] &= (uint8_t)~(1u << w);
        }
        m->evictions++;
    }
    t[w] = tag_of(h);
    m->ref[set] &= (uint8_t)~(1u << w);
    e = m->ents + (set * WAYS + w) * ENT;
    e[0] = (unsigned char)klen;
    e[1] = (unsigned char)vlen;
    memcpy(e + 2, key, klen);
    memcpy(e + 2 + klen, val, vlen);
}
