/* Keyed bijections on numeral strings of any length (see fpe.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "ff3.h"
#include "fpe.h"

#define NDOMAINS 8
#define NRADIX 3  /* 10, 26, 36 */
#define SMALL_MAX 6
#define SMALL_BATCH 64 /* short values looked up together */

struct sf_fpe {
    sf_ff3 ff3;
    unsigned char tweak[7];
    EVP_CIPHER_CTX *stream;            /* AES-256-ECB under the permutation key, on counter blocks */
    uint32_t *table[NDOMAINS][NRADIX][SMALL_MAX];
    sf_ff3_lane *lanes;                /* the FF3-1 requests of one sf_fpe_encrypt_many */
    size_t lanes_cap;
};

static int radix_index(unsigned radix)
{
    return radix == 10 ? 0 : radix == 26 ? 1 : radix == 36 ? 2 : -1;
}

int sf_fpe_new(sf_fpe **out, const unsigned char ff3_key[32], const unsigned char perm_key[32],
               const unsigned char tweak[7], sf_error *err)
{
    sf_fpe *f = calloc(1, sizeof(*f));
    EVP_CIPHER *c;
    int rc;
    *out = NULL;
    if (!f)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((rc = sf_ff3_init(&f->ff3, ff3_key, 32, err))) {
        free(f);
        return rc;
    }
    memcpy(f->tweak, tweak, 7);
    c = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    f->stream = c ? EVP_CIPHER_CTX_new() : NULL;
    if (!f->stream || !EVP_EncryptInit_ex2(f->stream, c, perm_key, NULL, NULL) ||
        !EVP_CIPHER_CTX_set_padding(f->stream, 0)) {
        ERR_clear_error();
        EVP_CIPHER_free(c);
        sf_fpe_free(f);
        return sf_error_set(err, SF_ECRYPTO, "cannot set up AES-256 for the FPE permutations");
    }
    EVP_CIPHER_free(c);
    *out = f;
    return 0;
}

void sf_fpe_free(sf_fpe *f)
{
    if (!f)
        return;
    sf_ff3_cleanup(&f->ff3);
    EVP_CIPHER_CTX_free(f->stream);
    for (int d = 0; d < NDOMAINS; d++)
        for (int r = 0; r < NRADIX; r++)
            for (int n = 0; n < SMALL_MAX; n++)
                free(f->table[d][r][n]);
    OPENSSL_cleanse(f->tweak, sizeof(f->tweak));
    free(f->lanes);
    free(f);
}

#define STREAM_BLOCKS 256

/*
 * The permutation's random words: AES on counter blocks ('P', domain,
 * radix, n, 0, 0, 0, 0, counter big-endian), each block's four big-endian
 * words taken last first. STREAM_BLOCKS blocks per AES call: the tables of
 * 26^4 entries take ~114k blocks.
 */
typedef struct {
    EVP_CIPHER_CTX *aes;
    unsigned char head[8];
    unsigned char ct[STREAM_BLOCKS * 16];
    size_t left;   /* words still unread in ct, read from the end of each block backwards */
    size_t blocks; /* blocks in ct */
    uint64_t ctr;
} stream;

static int next_word(stream *s, uint32_t *out)
{
    size_t b, w;
    const unsigned char *p;
    if (s->left == 0) {
        unsigned char pt[STREAM_BLOCKS * 16];
        int outl = 0;
        for (size_t k = 0; k < STREAM_BLOCKS; k++, s->ctr++) {
            memcpy(pt + 16 * k, s->head, 8);
            for (int i = 0; i < 8; i++)
                pt[16 * k + 8 + i] = (unsigned char)(s->ctr >> (56 - 8 * i));
        }
        if (!EVP_EncryptUpdate(s->aes, s->ct, &outl, pt, (int)sizeof(pt)) || outl != (int)sizeof(pt)) {
            ERR_clear_error();
            return -1;
        }
        s->blocks = STREAM_BLOCKS;
        s->left = 4 * STREAM_BLOCKS;
    }
    /* word index within the batch: blocks in order, each block's words 3, 2, 1, 0 */
    b = s->blocks - (s->left + 3) / 4;
    w = (s->left - 1) % 4;
    s->left--;
    p = s->ct + 16 * b + 4 * w;
    *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return 0;
}

/* Keyed Fisher-Yates permutation of [0, size). */
static uint32_t *build_table(sf_fpe *f, unsigned domain, unsigned radix, size_t n, uint32_t size)
{
    uint32_t *t = malloc(size * sizeof(uint32_t));
    stream *s = t ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        free(t);
        return NULL;
    }
    s->aes = f->stream;
    s->head[0] = 'P';
    s->head[1] = (unsigned char)domain;
    s->head[2] = (unsigned char)radix;
    s->head[3] = (unsigned char)n;
    for (uint32_t i = 0; i < size; i++)
        t[i] = i;
    for (uint32_t i = size - 1; i > 0; i--) {
        uint32_t bound = i + 1, lim, r, j, tmp;
        for (;;) {
            if (next_word(s, &r) < 0) {
                OPENSSL_cleanse(s, sizeof(*s));
                free(s);
                free(t);
                return NULL;
            }
            /* lim = 2^32 - (2^32 mod bound) > 2^32 - bound: only a word above that needs lim (the division) */
            if (r <= 0xFFFFFFFFu - bound + 1u)
                break;
            lim = (uint32_t)(0x100000000ull - (0x100000000ull % bound));
            if (lim == 0 || r < lim)
                break;
        }
        j = r % bound;
        tmp = t[i];
        t[i] = t[j];
        t[j] = tmp;
    }
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
    return t;
}

/* The table of the small domain radix^n (built on first use), or NULL. */
static inline const uint32_t *small_table(sf_fpe *f, unsigned radix, unsigned domain, size_t n)
{
    uint32_t size = 1, **slot = &f->table[domain % NDOMAINS][radix_index(radix)][n];
    if (*slot)
        return *slot;
    for (size_t i = 0; i < n; i++)
        size *= radix;
    return *slot = build_table(f, domain, radix, n, size);
}

/* x[0..n) as a number, most significant first; and back. Constant radixes: no divisions. */
static inline uint32_t num_of(const uint8_t *x, size_t n, unsigned radix)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * radix + x[i];
    return v;
}

static inline void str_of(uint8_t *x, size_t n, unsigned radix, uint32_t v)
{
    switch (radix) {
    case 10:
        for (size_t i = n; i-- > 0; v /= 10)
            x[i] = (uint8_t)(v % 10);
        break;
    case 26:
        for (size_t i = n; i-- > 0; v /= 26)
            x[i] = (uint8_t)(v % 26);
        break;
    default:
        for (size_t i = n; i-- > 0; v /= 36)
            x[i] = (uint8_t)(v % 36);
        break;
    }
}

int sf_fpe_encrypt_many(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *const *x, const size_t *n, size_t count)
{
    size_t minlen, maxlen, nreq = 0;
    uint8_t tweak[7];
    uint32_t wl, wr;
    uint32_t idx[SMALL_BATCH];
    const uint32_t *tab[SMALL_BATCH];
    size_t sm[SMALL_BATCH], nsm = 0;
    if (radix_index(radix) < 0)
        return SF_EUSAGE;
    minlen = sf_ff3_minlen(radix);
    maxlen = sf_ff3_maxlen(radix);
    /*
     * Short values through their domain's table: indices first, with the
     * table lines prefetched (26^4 entries take 1.8 MB), then the lookups.
     */
    for (size_t i = 0; i < count; i++) {
        if (n[i] == 0)
            continue;
        if (n[i] >= minlen) {
            nreq += n[i] <= maxlen ? 1 : (n[i] + maxlen - 1) / maxlen;
            continue;
        }
        {
            const uint32_t *t = small_table(f, radix, domain, n[i]);
            if (!t)
                return SF_ECRYPTO;
            idx[nsm] = num_of(x[i], n[i], radix);
            __builtin_prefetch(t + idx[nsm]);
            tab[nsm] = t;
            sm[nsm++] = i;
        }
        if (nsm == SMALL_BATCH) {
            for (size_t k = 0; k < nsm; k++)
                str_of(x[sm[k]], n[sm[k]], radix, tab[k][idx[k]]);
            nsm = 0;
        }
    }
    for (size_t k = 0; k < nsm; k++)
        str_of(x[sm[k]], n[sm[k]], radix, tab[k][idx[k]]);
    if (nreq > f->lanes_cap) {
        size_t cap = nreq < 128 ? 128 : nreq;
        sf_ff3_lane *r = realloc(f->lanes, cap * sizeof(*r));
        if (!r)
            return SF_ENOMEM;
        f->lanes = r;
        f->lanes_cap = cap;
    }
    /* chunk c's tweak differs from chunk 0's in bytes 5 and 6 only: T_R's word */
    memcpy(tweak, f->tweak, 7);
    tweak[0] ^= (uint8_t)domain;
    tweak[1] ^= (uint8_t)radix;
    sf_ff3_tweak_words(tweak, &wl, &wr);
    nreq = 0;
    for (size_t i = 0; i < count; i++) {
        size_t chunks, base, rem, off = 0;
        if (n[i] < minlen)
            continue;
        if (n[i] <= maxlen) {
            sf_ff3_lane *q = &f->lanes[nreq++];
            q->x = x[i];
            q->n = (uint16_t)n[i];
            q->radix = (uint16_t)radix;
            q->wl = wl;
            q->wr = wr;
            continue;
        }
        chunks = (n[i] + maxlen - 1) / maxlen;
        base = n[i] / chunks;
        rem = n[i] % chunks;
        for (size_t c = 0; c < chunks; c++) {
            sf_ff3_lane *q = &f->lanes[nreq++];
            size_t len = base + (c < rem ? 1 : 0);
            uint8_t t[7];
            memcpy(t, tweak, 7);
            t[5] ^= (uint8_t)(c >> 8);
            t[6] ^= (uint8_t)c;
            sf_ff3_tweak_words(t, &q->wl, &q->wr);
            q->radix = (uint16_t)radix;
            q->x = x[i] + off;
            q->n = (uint16_t)len;
            off += len;
        }
    }
    return sf_ff3_encrypt_lanes(&f->ff3, f->lanes, nreq);
}

int sf_fpe_encrypt(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *x, size_t n)
{
    return sf_fpe_encrypt_many(f, radix, domain, &x, &n, 1);
}
