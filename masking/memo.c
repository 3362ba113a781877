/* The rule side's memo: set-associative, adaptive (see memo.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "memo.h"

#define WAYS 8
#define ENT 64
#define DATA (ENT - 2)
#define SETS_MIN 64   /* 512 entries, 32 KiB */
#define SETS_MAX 2048 /* 16384 entries, 1 MiB */
#define WINDOW_MIN 4096
#define SAMPLE_COLD 16

uint64_t sf_memo_hash(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= w * 0xbf58476d1ce4e5b9ull;
        h = (h << 31 | h >> 33) * 0x94d049bb133111ebull;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h ^= w * 0xbf58476d1ce4e5b9ull;
        h = (h << 31 | h >> 33) * 0x94d049bb133111ebull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
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

/* A table of nsets sets (old contents dropped); 0, or -1 leaving no table. */
static int alloc_sets(sf_memo *m, size_t nsets)
{
    release(m);
    m->tags = calloc(nsets * WAYS, sizeof(uint32_t));
    m->ents = malloc(nsets * WAYS * ENT);
    m->ref = calloc(nsets, 1);
    m->hand = calloc(nsets, 1);
    if (!m->tags || !m->ents || !m->ref || !m->hand) {
        free(m->tags);
        free(m->ents);
        free(m->ref);
        free(m->hand);
        m->tags = NULL;
        m->ents = NULL;
        m->ref = m->hand = NULL;
        return -1;
    }
    m->nsets = nsets;
    return 0;
}

/*
 * End of a window: go cold when hardly anything hits, grow while the table
 * churns (evictions) and not everything hits: a working set larger than the
 * table looks like distinct values until the table is large enough.
 */
static void adapt(sf_memo *m)
{
    size_t cap = m->nsets * WAYS;
    /* hit rate under 2%: use the memo for one value in 16 (enough to notice repetition coming back) */
    m->sample = m->hits * 50 < m->lookups ? SAMPLE_COLD : 1;
    if (m->nsets && m->nsets < SETS_MAX && m->evictions > cap / 4 && m->hits * 50 < m->lookups * 49)
        (void)alloc_sets(m, m->nsets * 4 > SETS_MAX ? SETS_MAX : m->nsets * 4);
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
        __builtin_prefetch(m->tags + ((size_t)h & (m->nsets - 1)) * WAYS);
}

void sf_memo_prefetch_entry(const sf_memo *m, uint64_t h)
{
    if (m->tags) {
        size_t set = (size_t)h & (m->nsets - 1);
        uint32_t tag = (uint32_t)(h >> 32) | 1u;
        const uint32_t *t = m->tags + set * WAYS;
        for (unsigned w = 0; w < WAYS; w++)
            if (t[w] == tag) {
                __builtin_prefetch(m->ents + (set * WAYS + w) * ENT);
                return;
            }
    }
}

const unsigned char *sf_memo_get(sf_memo *m, uint64_t h, const void *key, size_t klen, size_t *vlen)
{
    size_t window = m->nsets * WAYS * 4;
    if (++m->lookups >= (window > WINDOW_MIN ? window : WINDOW_MIN))
        adapt(m);
    m->total_lookups++;
    if (m->tags) {
        size_t set = (size_t)h & (m->nsets - 1);
        uint32_t tag = (uint32_t)(h >> 32) | 1u;
        const uint32_t *t = m->tags + set * WAYS;
        for (unsigned w = 0; w < WAYS; w++) {
            const unsigned char *e;
            if (t[w] != tag)
                continue;
            e = m->ents + (set * WAYS + w) * ENT;
            if (e[0] == klen && memcmp(e + 2, key, klen) == 0) {
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
    set = (size_t)h & (m->nsets - 1);
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
    t[w] = (uint32_t)(h >> 32) | 1u;
    m->ref[set] &= (uint8_t)~(1u << w);
    e = m->ents + (set * WAYS + w) * ENT;
    e[0] = (unsigned char)klen;
    e[1] = (unsigned char)vlen;
    memcpy(e + 2, key, klen);
    memcpy(e + 2 + klen, val, vlen);
}
