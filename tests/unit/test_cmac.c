/*
 * The masker's batched AES-256-CMAC (masking/prf.c) is our own chaining over
 * OpenSSL's AES, done so 32 values can share one AES call. It must equal
 * OpenSSL's own CMAC (EVP_MAC "CMAC") exactly, for single and batched calls.
 */
#include <criterion/criterion.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <string.h>
#include "prf.h"

static void openssl_cmac(const unsigned char key[32], unsigned char tag, const unsigned char *data, size_t len,
                         unsigned char out[16])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    char cipher[] = "AES-256-CBC";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0), OSSL_PARAM_END};
    size_t outl = 0;
    cr_assert(mac && ctx);
    cr_assert(EVP_MAC_init(ctx, key, 32, params));
    cr_assert(EVP_MAC_update(ctx, &tag, 1));
    if (len)
        cr_assert(EVP_MAC_update(ctx, data, len));
    cr_assert(EVP_MAC_final(ctx, out, &outl, 16));
    cr_assert_eq(outl, 16);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

Test(cmac, equals_openssl_cmac_for_every_length)
{
    unsigned char key[32], data[200], want[16], got[16];
    sf_prf p;
    sf_error err;
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
        cr_assert_eq(RAND_bytes(data, sizeof(data)), 1);
        cr_assert_eq(sf_prf_init(&p, key, &err), 0, "%s", err.msg);
        for (size_t len = 0; len <= 100; len++) {
            unsigned char tag = (unsigned char)(len * 7 + k);
            openssl_cmac(key, tag, data, len, want);
            cr_assert_eq(sf_prf_eval(&p, tag, data, len, got), 0);
            cr_assert_eq(memcmp(want, got, 16), 0, "length %zu differs from OpenSSL's CMAC", len);
        }
        sf_prf_cleanup(&p);
    }
}

Test(cmac, batches_equal_single_calls_and_openssl)
{
    enum { N = 77 };
    unsigned char key[32], buf[N][64], tags[N], out[16 * N], want[16];
    const void *ptrs[N];
    size_t lens[N];
    sf_prf p;
    sf_error err;
    cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
    cr_assert_eq(RAND_bytes(&buf[0][0], sizeof(buf)), 1);
    for (int i = 0; i < N; i++) {
        tags[i] = (unsigned char)i;
        lens[i] = (size_t)(i * 13 % 64); /* mixed lengths in one batch, 0 included */
        ptrs[i] = buf[i];
    }
    cr_assert_eq(sf_prf_init(&p, key, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_prf_eval_many(&p, tags, ptrs, lens, N, out), 0);
    for (int i = 0; i < N; i++) {
        openssl_cmac(key, tags[i], buf[i], lens[i], want);
        cr_assert_eq(memcmp(want, out + 16 * i, 16), 0, "batch entry %d (length %zu) differs", i, lens[i]);
    }
    sf_prf_cleanup(&p);
}

Test(cmac, random_batches_equal_openssl, .timeout = 60)
{
    /* batches of any size (beyond one group of 64), short and long messages mixed or alone */
    enum { MAXN = 200 };
    static unsigned char buf[MAXN][160], out[16 * MAXN];
    unsigned char key[32], tags[MAXN], want[16], r[4];
    const void *ptrs[MAXN];
    size_t lens[MAXN];
    sf_prf p;
    sf_error err;
    cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
    cr_assert_eq(sf_prf_init(&p, key, &err), 0, "%s", err.msg);
    for (int iter = 0; iter < 300; iter++) {
        size_t n, maxlen;
        cr_assert_eq(RAND_bytes(r, sizeof(r)), 1);
        n = 1 + r[0] % MAXN;
        maxlen = r[1] % 4 == 0 ? 15 : r[1] % 4 == 1 ? 31 : 160; /* one-block batches, two-block ones, any */
        cr_assert_eq(RAND_bytes(&buf[0][0], sizeof(buf)), 1);
        cr_assert_eq(RAND_bytes(tags, sizeof(tags)), 1);
        for (size_t i = 0; i < n; i++) {
            lens[i] = (size_t)(buf[i][0] | buf[i][1] << 8) % (maxlen + 1);
            ptrs[i] = buf[i];
        }
        cr_assert_eq(sf_prf_eval_many(&p, tags, ptrs, lens, n, out), 0);
        for (size_t i = 0; i < n; i++) {
            openssl_cmac(key, tags[i], buf[i], lens[i], want);
            cr_assert_eq(memcmp(want, out + 16 * i, 16), 0, "batch of %zu, entry %zu (length %zu) differs", n, i, lens[i]);
        }
    }
    sf_prf_cleanup(&p);
}
