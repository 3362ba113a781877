/* Masking key loading, fingerprint, HKDF derivation and the AES-CMAC PRF. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/kdf.h>
#include "prf.h"
#include "stagefork/mask.h"

static const char key32[] = "0123456789abcdef0123456789ABCDEF";

static char *write_file(const void *data, size_t len)
{
    static char path[64];
    int fd;
    snprintf(path, sizeof(path), "/tmp/sf-key-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* HKDF-SHA256 through the EVP_PKEY interface: an independent path to the same function. */
static void pkey_hkdf(const void *key, size_t klen, const char *info, unsigned char *out, size_t outlen)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t n = outlen;
    cr_assert(pc);
    cr_assert_eq(EVP_PKEY_derive_init(pc), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()), 1);
    cr_assert_eq(EVP_PKEY_CTX_set1_hkdf_key(pc, key, (int)klen), 1);
    cr_assert_eq(EVP_PKEY_CTX_add1_hkdf_info(pc, (const unsigned char *)info, (int)strlen(info)), 1);
    cr_assert_eq(EVP_PKEY_derive(pc, out, &n), 1);
    EVP_PKEY_CTX_free(pc);
}

Test(prf, short_key_is_a_usage_error_with_its_length)
{
    sf_mask_key *k = (sf_mask_key *)1;
    sf_error e = {0};
    cr_assert_eq(sf_mask_key_from_bytes(&k, key32, 31, &e), SF_EUSAGE);
    cr_assert_null(k);
    cr_assert_str_eq(e.msg, "masking key is 31 bytes; at least 32 are required");
    cr_assert_eq(sf_mask_key_from_bytes(&k, key32, 32, &e), 0);
    sf_mask_key_free(k);
    sf_mask_key_free(NULL);
}

Test(prf, fingerprint_is_hkdf_of_the_key_and_hides_it)
{
    sf_mask_key *k;
    unsigned char fp[8];
    char hex[17];
    cr_assert_eq(sf_mask_key_from_bytes(&k, key32, 32, NULL), 0);
    pkey_hkdf(key32, 32, "stagefork key fingerprint", fp, sizeof(fp));
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", fp[i]);
    cr_assert_str_eq(sf_mask_key_fingerprint(k), hex);
    cr_assert_eq(strlen(sf_mask_key_fingerprint(k)), 16);
    cr_assert_null(strstr(sf_mask_key_fingerprint(k), "0123"));
    sf_mask_key_free(k);
}

Test(prf, key_file_drops_exactly_one_trailing_newline)
{
    sf_mask_key *a, *b, *c;
    char buf[64];
    sf_error e = {0};
    char *p;
    cr_assert_eq(sf_mask_key_from_bytes(&a, key32, 32, NULL), 0);
    snprintf(buf, sizeof(buf), "%s\n", key32);
    p = write_file(buf, 33);
    cr_assert_eq(sf_mask_key_load(&b, p, NULL, &e), 0, "%s", e.msg);
    unlink(p);
    cr_assert_str_eq(sf_mask_key_fingerprint(a), sf_mask_key_fingerprint(b));
    snprintf(buf, sizeof(buf), "%s\n\n", key32);
    p = write_file(buf, 34);
    cr_assert_eq(sf_mask_key_load(&c, p, NULL, &e), 0, "%s", e.msg);
    unlink(p);
    cr_assert_str_neq(sf_mask_key_fingerprint(a), sf_mask_key_fingerprint(c));
    sf_mask_key_free(a);
    sf_mask_key_free(b);
    sf_mask_key_free(c);
}

Test(prf, key_file_errors)
{
    sf_mask_key *k;
    sf_error e = {0};
    char *p;
    cr_assert_eq(sf_mask_key_load(&k, "/nonexistent/key", NULL, &e), SF_EIO);
    cr_assert_str_eq(e.msg, "cannot open '/nonexistent/key': No such file or directory");
    p = write_file("too short\n", 10);
    cr_assert_eq(sf_mask_key_load(&k, p, NULL, &e), SF_EUSAGE);
    unlink(p);
    cr_assert_str_eq(e.msg, "masking key is 9 bytes; at least 32 are required");
    cr_assert_eq(sf_mask_key_load(&k, "/tmp", NULL, &e), SF_EIO);
    cr_assert_eq(sf_mask_key_load(&k, NULL, NULL, &e), SF_EUSAGE);
    cr_assert_eq(sf_mask_key_load(&k, "/x", "Y", &e), SF_EUSAGE);
}

Test(prf, key_from_environment)
{
    sf_mask_key *a, *b;
    sf_error e = {0};
    setenv("SF_TEST_MASK_KEY_ENV", key32, 1);
    cr_assert_eq(sf_mask_key_load(&a, NULL, "SF_TEST_MASK_KEY_ENV", &e), 0, "%s", e.msg);
    cr_assert_eq(sf_mask_key_from_bytes(&b, key32, 32, NULL), 0);
    cr_assert_str_eq(sf_mask_key_fingerprint(a), sf_mask_key_fingerprint(b));
    sf_mask_key_free(a);
    unsetenv("SF_TEST_MASK_KEY_UNSET");
    cr_assert_eq(sf_mask_key_load(&a, NULL, "SF_TEST_MASK_KEY_UNSET", &e), SF_EUSAGE);
    cr_assert_str_eq(e.msg, "environment variable SF_TEST_MASK_KEY_UNSET (masking key) is not set");
    setenv("SF_TEST_MASK_KEY_SHORT", "abc", 1);
    cr_assert_eq(sf_mask_key_load(&a, NULL, "SF_TEST_MASK_KEY_SHORT", &e), SF_EUSAGE);
    cr_assert_str_eq(e.msg, "masking key is 3 bytes; at least 32 are required");
    sf_mask_key_free(b);
}

Test(prf, derive_is_hkdf_with_the_purpose_as_info)
{
    sf_mask_key *k, *k2;
    unsigned char a[32], b[32], c[32], ref[32];
    cr_assert_eq(sf_mask_key_from_bytes(&k, key32, 32, NULL), 0);
    cr_assert_eq(sf_mask_key_from_bytes(&k2, "another key, also 32 bytes long!", 32, NULL), 0);
    cr_assert_eq(sf_mask_key_derive(k, "snapshot-manifest-hmac", a), 0);
    cr_assert_eq(sf_mask_key_derive(k, "snapshot-manifest-hmac", b), 0);
    cr_assert_eq(memcmp(a, b, 32), 0);
    pkey_hkdf(key32, 32, "snapshot-manifest-hmac", ref, 32);
    cr_assert_eq(memcmp(a, ref, 32), 0);
    cr_assert_eq(sf_mask_key_derive(k, "other-purpose", c), 0);
    cr_assert_neq(memcmp(a, c, 32), 0);
    cr_assert_eq(sf_mask_key_derive(k2, "snapshot-manifest-hmac", c), 0);
    cr_assert_neq(memcmp(a, c, 32), 0);
    sf_mask_key_free(k);
    sf_mask_key_free(k2);
}

static void unhex(const char *h, unsigned char *out)
{
    for (size_t i = 0; h[2 * i]; i++) {
        unsigned v = 0;
        cr_assert_eq(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

Test(prf, prf_matches_the_nist_sp800_38b_aes256_cmac_examples)
{
    /* SP 800-38B appendix D.3 examples 10-12; the message's first byte is the PRF's tag */
    static const char *const msgs[] = {
        "6bc1bee22e409f96e93d7e117393172a",
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411",
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411"
        "e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"};
    static const char *const tags[] = {"28a7023f452e8f82bd4bf28d8c37c35c", "aaf3d8f1de5640c232f5b169b9c911e6",
                                       "e1992190549f6ed5696a2c056c315410"};
    unsigned char key[32], msg[64], want[16], got[SF_PRF_LEN];
    sf_prf p;
    unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", key);
    cr_assert_eq(sf_prf_init(&p, key, NULL), 0);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(msgs[i]) / 2;
        unhex(msgs[i], msg);
        unhex(tags[i], want);
        cr_assert_eq(sf_prf_eval(&p, msg[0], msg + 1, n - 1, got), 0);
        cr_assert_eq(memcmp(got, want, 16), 0, "example %d", 10 + i);
    }
    sf_prf_cleanup(&p);
}

/* AES-256-CMAC through OpenSSL's own CMAC (EVP_MAC): an independent implementation of the same function. */
static void openssl_cmac(const unsigned char key[32], const unsigned char *msg, size_t n, unsigned char out[16])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t outl = 0;
    cr_assert(ctx);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-256-CBC", 0);
    params[1] = OSSL_PARAM_construct_end();
    cr_assert_eq(EVP_MAC_init(ctx, key, 32, params), 1);
    cr_assert_eq(EVP_MAC_update(ctx, msg, n), 1);
    cr_assert_eq(EVP_MAC_final(ctx, out, &outl, 16), 1);
    cr_assert_eq(outl, 16);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

Test(prf, prf_is_aes256_cmac_of_tag_and_data_and_reusable)
{
    unsigned char key[32], out[SF_PRF_LEN], ref[16], msg[80];
    char data[80];
    sf_prf p;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 5);
    cr_assert_eq(sf_prf_init(&p, key, NULL), 0);
    /* every message length from 1 to 80: one block, complete and padded last blocks, several blocks */
    for (size_t n = 0; n < 80; n++) {
        for (size_t i = 0; i < n; i++)
            data[i] = (char)("jane.doe@example.org"[i % 20] + i / 20);
        msg[0] = (unsigned char)('a' + n % 26);
        memcpy(msg + 1, data, n);
        cr_assert_eq(sf_prf_eval(&p, msg[0], n ? data : NULL, n, out), 0);
        openssl_cmac(key, msg, n + 1, ref);
        cr_assert_eq(memcmp(out, ref, 16), 0, "data length %zu", n);
    }
    /* the context is reusable: the first value again */
    msg[0] = 'a';
    cr_assert_eq(sf_prf_eval(&p, 'a', NULL, 0, out), 0);
    openssl_cmac(key, msg, 1, ref);
    cr_assert_eq(memcmp(out, ref, 16), 0);
    cr_assert_eq(sf_prf_u64((const unsigned char *)"\x01\x02\x03\x04\x05\x06\x07\x08"), 0x0102030405060708ull);
    sf_prf_cleanup(&p);
}

Test(prf, a_batch_gives_what_one_call_each_gives)
{
    unsigned char key[32], want[16], out[100 * SF_PRF_LEN], tags[100];
    char data[100][80];
    const void *ptr[100];
    size_t len[100];
    sf_prf p;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 9 + 1);
    cr_assert_eq(sf_prf_init(&p, key, NULL), 0);
    for (size_t count = 0; count <= 100; count += 9) {
        /* lengths 0..79: one block, complete and padded last blocks, several blocks, mixed in one batch */
        for (size_t i = 0; i < count; i++) {
            len[i] = (i * 37 + count) % 80;
            tags[i] = (unsigned char)("TDvn"[i % 4]);
            for (size_t j = 0; j < len[i]; j++)
                data[i][j] = (char)(i + j * 3);
            ptr[i] = data[i];
        }
        cr_assert_eq(sf_prf_eval_many(&p, tags, ptr, len, count, out), 0);
        for (size_t i = 0; i < count; i++) {
            cr_assert_eq(sf_prf_eval(&p, tags[i], data[i], len[i], want), 0);
            cr_assert_eq(memcmp(out + i * SF_PRF_LEN, want, 16), 0, "batch of %zu, message %zu (%zu bytes)", count, i, len[i]);
        }
    }
    sf_prf_cleanup(&p);
}
