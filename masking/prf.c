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

#define GROUP 32

int sf_prf_eval_many(sf_prf *p, const unsigned char *tags, const void *const *data, const size_t *len, size_t count,
                     unsigned char *out)
{
    unsigned char st[GROUP][16], buf[GROUP * 16];
    for (size_t g = 0; g < count; g += GROUP) {
        size_t k = count - g < GROUP ? count - g : GROUP, most = 0;
        memset(st, 0, sizeof(st));
        for (size_t j = 0; j < k; j++) {
            size_t nb = (len[g + j] + 1 + 15) / 16;
            if (nb > most)
                most = nb;
        }
        /* block b of every message that has one, one AES call per block index */
        for (size_t b = 0; b < most; b++) {
            size_t act = 0;
            int outl = 0;
            for (size_t j = 0; j < k; j++) {
                const unsigned char *d = data[g + j];
                size_t mlen = len[g + j] + 1, nb = (mlen + 15) / 16;
                unsigned char m[16];
                if (b >= nb)
                    continue;
                if (b + 1 < nb) {
                    if (b == 0) {
                        m[0] = tags[g + j];
                        memcpy(m + 1, d, 15);
                    } else {
                        memcpy(m, d + 16 * b - 1, 16);
                    }
                } else {
                    /* the last block: complete -> xor K1; partial -> 10* padding, xor K2 */
                    size_t last = mlen - 16 * (nb - 1);
                    memset(m, 0, sizeof(m));
                    if (nb == 1) {
                        m[0] = tags[g + j];
                        if (len[g + j])
                            memcpy(m + 1, d, len[g + j]);
                    } else {
                        memcpy(m, d + 16 * (nb - 1) - 1, last);
                    }
                    if (last < 16)
                        m[last] = 0x80;
                    xor16(m, last == 16 ? p->k1 : p->k2);
                }
                xor16(st[j], m);
                memcpy(buf + 16 * act++, st[j], 16);
            }
            if (!EVP_EncryptUpdate(p->aes, buf, &outl, buf, (int)(16 * act)) || outl != (int)(16 * act)) {
                ERR_clear_error();
                return SF_ECRYPTO;
            }
            act = 0;
            for (size_t j = 0; j < k; j++)
                if (b < (len[g + j] + 1 + 15) / 16)
                    memcpy(st[j], buf + 16 * act++, 16);
        }
        for (size_t j = 0; j < k; j++)
            memcpy(out + (g + j) * SF_PRF_LEN, st[j], SF_PRF_LEN);
    }
    return 0;
}
