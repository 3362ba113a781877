/*
 * The rule side's PRF: AES-256-CMAC (NIST SP 800-38B, RFC 4493) of
 * tag || data, computed block by block over one reused AES-256-ECB context
 * (AES-NI through EVP). CMAC is a PRF on messages of any length; an
 * HMAC-SHA256 through EVP_MAC cost about ten times as much per value.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "prf.h"

static int crypto_error(sf_error *err, const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        return sf_error_set(err, SF_ECRYPTO, "%s: %s", what, buf);
    }
    return sf_error_set(err, SF_ECRYPTO, "%s failed", what);
}

static int aes_block(sf_prf *p, unsigned char b[16])
{
    int outl = 0;
    if (!EVP_EncryptUpdate(p->aes, b, &outl, b, 16) || outl != 16) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* Doubling in GF(2^128) with the polynomial x^128 + x^7 + x^2 + x + 1 (SP 800-38B subkeys). */
static void dbl(unsigned char out[16], const unsigned char in[16])
{
    unsigned char carry = (unsigned char)(in[0] >> 7);
    for (int i = 0; i < 15; i++)
        out[i] = (unsigned char)((in[i] << 1) | (in[i + 1] >> 7));
    out[15] = (unsigned char)((in[15] << 1) ^ (carry ? 0x87 : 0));
}

int sf_prf_init(sf_prf *p, const unsigned char key[SF_PRF_KEYLEN], sf_error *err)
{
    EVP_CIPHER *c;
    unsigned char l[16] = {0};
    memset(p, 0, sizeof(*p));
    if (!(c = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL)))
        return crypto_error(err, "cannot load AES-256");
    p->aes = EVP_CIPHER_CTX_new();
    if (!p->aes || !EVP_EncryptInit_ex2(p->aes, c, key, NULL, NULL) || !EVP_CIPHER_CTX_set_padding(p->aes, 0)) {
        EVP_CIPHER_free(c);
        sf_prf_cleanup(p);
        return crypto_error(err, "cannot key AES-256 for the PRF");
    }
    EVP_CIPHER_free(c);
    if (aes_block(p, l) < 0) {
        sf_prf_cleanup(p);
        return sf_error_set(err, SF_ECRYPTO, "cannot derive the CMAC subkeys");
    }
    dbl(p->k1, l);
    dbl(p->k2, p->k1);
    OPENSSL_cleanse(l, sizeof(l));
    return 0;
}

void sf_prf_cleanup(sf_prf *p)
{
    EVP_CIPHER_CTX_free(p->aes);
    p->aes = NULL;
    OPENSSL_cleanse(p->k1, sizeof(p->k1));
    OPENSSL_cleanse(p->k2, sizeof(p->k2));
}

static inline void xor16(unsigned char *x, const unsigned char *m)
{
    uint64_t a[2], b[2];
    memcpy(a, x, 16);
    memcpy(b, m, 16);
    a[0] ^= b[0];
    a[1] ^= b[1];
    memcpy(x, a, 16);
}

int sf_prf_eval(sf_prf *p, unsigned char tag, const void *data, size_t len, unsigned char out[SF_PRF_LEN])
{
    const unsigned char *d = data;
    size_t mlen = len + 1, nblocks = (mlen + 15) / 16, last;
    unsigned char x[16], m[16];
    /* message block b is bytes [16b, 16b + 16) of tag || data: block 0 is the tag and data[0..15) */
    memset(x, 0, sizeof(x));
    for (size_t b = 0; b + 1 < nblocks; b++) {
        if (b == 0) {
            m[0] = tag;
            memcpy(m + 1, d, 15);
        } else {
            memcpy(m, d + 16 * b - 1, 16);
        }
        xor16(x, m);
        if (aes_block(p, x) < 0)
            return SF_ECRYPTO;
    }
    /* the last block: complete -> xor K1; partial -> 10* padding, xor K2 */
    last = mlen - 16 * (nblocks - 1);
    memset(m, 0, sizeof(m));
    if (nblocks == 1) {
        m[0] = tag;
        if (len)
            memcpy(m + 1, d, len);
    } else {
        memcpy(m, d + 16 * (nblocks - 1) - 1, last);
    }
    if (last < 16)
        m[last] = 0x80;
    xor16(m, last == 16 ? p->k1 : p->k2);
    xor16(x, m);
    if (aes_block(p, x) < 0)
        return SF_ECRYPTO;
    memcpy(out, x, SF_PRF_LEN);
    return 0;
}

uint64_t sf_prf_u64(const unsigned char *bytes8)
{
    uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, bytes8, 8);
    return __builtin_bswap64(v);
#else
    for (int i = 0; i < 8; i++)
        v = (v << 8) | bytes8[i];
    return v;
#endif
}

#define GROUP 64

/* d[0..n) = s[0..n) for n <= 16, in at most four loads and stores (no library call). */
static inline void copy_short(unsigned char *d, const unsigned char *s, size_t n)
{
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/* The last (padded) block of message tag || d[0..len), nb blocks in all, xor K1 or K2. */
static inline void last_block(const sf_prf *p, unsigned char m[16], unsigned char tag, const unsigned char *d, size_t len,
                              size_t nb)
{
    size_t mlen = len + 1, last = mlen - 16 * (nb - 1);
    memset(m, 0, 16);
    if (nb == 1) {
        m[0] = tag;
        copy_short(m + 1, d, len);
    } else {
        copy_short(m, d + 16 * (nb - 1) - 1, last);
    }
    if (last < 16)
        m[last] = 0x80;
    xor16(m, last == 16 ? p->k1 : p->k2);
}

#if defined(__SIZEOF_INT128__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PRF_WORDS 1
typedef unsigned __int128 u128;

/* s[0..n) (n <= 16) as a little-endian 128-bit number, in at most two loads (no staging buffer). */
static inline u128 load_partial(const unsigned char *s, size_t n)
{
    uint64_t lo, hi;
    if (n >= 8) {
        memcpy(&lo, s, 8);
        if (n == 8)
            return lo;
        memcpy(&hi, s + n - 8, 8);
        return (u128)(hi >> (8 * (16 - n))) << 64 | lo;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        return (uint64_t)a | (uint64_t)b << (8 * (n - 4));
    }
    if (n)
        return (uint64_t)s[0] | (uint64_t)s[n / 2] << (8 * (n / 2)) | (uint64_t)s[n - 1] << (8 * (n - 1));
    return 0;
}

/*
 * Message block b of tag || d[0..len) (nb blocks in all; the last one
 * padded and xored with K1 or K2) as a 128-bit number: built in registers,
 * because assembling it in memory and reloading it stalls store forwarding.
 */
static inline u128 block_word(const sf_prf *p, unsigned char tag, const unsigned char *d, size_t len, size_t nb, size_t b)
{
    u128 m, k;
    size_t last;
    if (b + 1 < nb) {
        uint64_t w0, w1;
        if (b == 0) {
            memcpy(&w0, d, 8);
            memcpy(&w1, d + 7, 8);
            return (u128)w1 << 64 | (w0 << 8 | tag);
        }
        memcpy(&m, d + 16 * b - 1, 16);
        return m;
    }
    last = len + 1 - 16 * (nb - 1);
    m = nb == 1 ? load_partial(d, len) << 8 | tag : load_partial(d + 16 * (nb - 1) - 1, last);
    if (last < 16)
        m |= (u128)0x80 << (8 * last);
    memcpy(&k, last == 16 ? p->k1 : p->k2, 16);
    return m ^ k;
}
#endif

int sf_prf_eval_many(sf_prf *p, const unsigned char *tags, const void *const *data, const size_t *len, size_t count,
                     unsigned char *out)
{
    /*
     * The chains of a group advance together: st[j] is the state of the
     * group's j-th longest message, so the messages that still have a
     * block b are st[0..act) and are encrypted in place by one call.
     */
    unsigned char st[GROUP * 16];
    unsigned char idx[GROUP];
    size_t nbs[GROUP];
    for (size_t g = 0; g < count; g += GROUP) {
        size_t k = count - g < GROUP ? count - g : GROUP, most = 0, act;
        /* longest first (a stable counting order over the block counts) */
        {
            size_t cnt[8] = {0}, n = 0;
            int small = 1;
            for (size_t j = 0; j < k; j++) {
                size_t nb = (len[g + j] + 16) / 16;
                nbs[j] = nb;
                if (nb > most)
                    most = nb;
                if (nb > 7)
                    small = 0;
                else
                    cnt[nb]++;
            }
            if (small) {
                size_t at[8];
                for (size_t b = 7; b > 0; b--) {
                    at[b] = n;
                    n += cnt[b];
                }
                for (size_t j = 0; j < k; j++)
                    idx[at[nbs[j]]++] = (unsigned char)j;
            } else {
                /* long messages: a plain insertion sort, still longest first */
                for (size_t j = 0; j < k; j++) {
                    size_t i = j;
                    while (i > 0 && nbs[idx[i - 1]] < nbs[j]) {
                        idx[i] = idx[i - 1];
                        i--;
                    }
                    idx[i] = (unsigned char)j;
                }
            }
        }
        memset(st, 0, 16 * k);
        act = k;
        for (size_t b = 0; b < most; b++) {
            int outl = 0;
            while (act > 0 && nbs[idx[act - 1]] <= b)
                act--;
            for (size_t j = 0; j < act; j++) {
                size_t m = g + idx[j], nb = nbs[idx[j]];
                const unsigned char *d = data[m];
#ifdef PRF_WORDS
                u128 x;
                memcpy(&x, st + 16 * j, 16);
                x ^= block_word(p, tags[m], d, len[m], nb, b);
                memcpy(st + 16 * j, &x, 16);
#else
                unsigned char blk[16];
                if (b + 1 < nb) {
                    if (b == 0) {
                        blk[0] = tags[m];
                        memcpy(blk + 1, d, 15);
                    } else {
                        memcpy(blk, d + 16 * b - 1, 16);
                    }
                } else {
                    last_block(p, blk, tags[m], d, len[m], nb);
                }
                xor16(st + 16 * j, blk);
#endif
            }
            if (!EVP_EncryptUpdate(p->aes, st, &outl, st, (int)(16 * act)) || outl != (int)(16 * act)) {
                ERR_clear_error();
                return SF_ECRYPTO;
            }
        }
        for (size_t j = 0; j < k; j++)
            memcpy(out + (g + idx[j]) * SF_PRF_LEN, st + 16 * j, SF_PRF_LEN);
    }
    return 0;
}
