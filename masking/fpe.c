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

struct sf_fpe {
    sf_ff3 ff3;
    unsigned char tweak[7];
    EVP_CIPHER_CTX *stream;            /* AES-256-ECB under the permutation key, on counter blocks */
    uint32_t *table[NDOMAINS][NRADIX][SMALL_MAX];
    sf_ff3_req *reqs;                  /* the FF3-1 requests of one sf_fpe_encrypt_many */
    size_t reqs_cap;
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
    free(f->reqs);
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
        uint32_t bound = i + 1, lim = (uint32_t)(0x100000000ull - (0x100000000ull % bound)), r, j, tmp;
        do {
            if (next_word(s, &r) < 0) {
                OPENSSL_cleanse(s, sizeof(*s));
                free(s);
                free(t);
                return NULL;
            }
        } while (lim != 0 && r >= lim);
        j = r % bound;
        tmp = t[i];
        t[i] = t[j];
        t[j] = tmp;
    }
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
    return t;
}

static int small(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *x, size_t n)
{
    int ri = radix_index(radix);
    uint32_t size = 1, v = 0;
    uint32_t **slot;
    for (size_t i = 0; i < n; i++)
        size *= radix;
    slot = &f->table[domain % NDOMAINS][ri][n];
    if (!*slot && !(*slot = build_table(f, domain, radix, n, size)))
        return SF_ECRYPTO;
    for (size_t i = 0; i < n; i++)
        v = v * radix + x[i];
    v = (*slot)[v];
    for (size_t i = n; i-- > 0;) {
        x[i] = (uint8_t)(v % radix);
        v /= radix;
    }
    return 0;
}

int sf_fpe_encrypt_many(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *const *x, const size_t *n, size_t count)
{
    size_t minlen, maxlen, nreq = 0;
    if (radix_index(radix) < 0)
        return SF_EUSAGE;
    minlen = sf_ff3_minlen(radix);
    maxlen = sf_ff3_maxlen(radix);
    for (size_t i = 0; i < count; i++) {
        if (n[i] == 0)
            continue;
        if (n[i] < minlen) {
            int rc = small(f, radix, domain, x[i], n[i]);
            if (rc)
                return rc;
        } else {
            nreq += (n[i] + maxlen - 1) / maxlen;
        }
    }
    if (nreq > f->reqs_cap) {
        size_t cap = nreq < 64 ? 64 : nreq;
        sf_ff3_req *r = realloc(f->reqs, cap * sizeof(*r));
        if (!r)
            return SF_ENOMEM;
        f->reqs = r;
        f->reqs_cap = cap;
    }
    nreq = 0;
    for (size_t i = 0; i < count; i++) {
        size_t chunks, base, rem, off = 0;
        if (n[i] < minlen)
            continue;
        chunks = (n[i] + maxlen - 1) / maxlen;
        base = n[i] / chunks;
        rem = n[i] % chunks;
        for (size_t c = 0; c < chunks; c++) {
            sf_ff3_req *q = &f->reqs[nreq++];
            size_t len = base + (c < rem ? 1 : 0);
            memcpy(q->tweak, f->tweak, 7);
            q->tweak[0] ^= (uint8_t)domain;
            q->tweak[1] ^= (uint8_t)radix;
            q->tweak[5] ^= (uint8_t)(c >> 8);
            q->tweak[6] ^= (uint8_t)c;
            q->radix = radix;
            q->x = x[i] + off;
            q->n = len;
            off += len;
        }
    }
    return sf_ff3_encrypt_many(&f->ff3, f->reqs, nreq);
}

int sf_fpe_encrypt(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *x, size_t n)
{
    return sf_fpe_encrypt_many(f, radix, domain, &x, &n, 1);
}
