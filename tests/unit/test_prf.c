/* Masking key loading, fingerprint, HKDF derivation and the HMAC PRF. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

Test(prf, prf_is_hmac_sha256_of_tag_and_data_and_reusable)
{
    unsigned char key[32], out[32], ref[32], msg[64];
    unsigned int rl = 0;
    sf_prf p;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 5);
    cr_assert_eq(sf_prf_init(&p, key, NULL), 0);
    for (int round = 0; round < 3; round++) {
        const char *data = round == 1 ? "" : "jane.doe@example.org";
        size_t n = strlen(data);
        msg[0] = (unsigned char)('a' + round);
        memcpy(msg + 1, data, n);
        cr_assert_eq(sf_prf_eval(&p, msg[0], data, n, out), 0);
        HMAC(EVP_sha256(), key, 32, msg, n + 1, ref, &rl);
        cr_assert_eq(rl, 32);
        cr_assert_eq(memcmp(out, ref, 32), 0, "round %d", round);
    }
    cr_assert_eq(sf_prf_u64((const unsigned char *)"\x01\x02\x03\x04\x05\x06\x07\x08"), 0x0102030405060708ull);
    sf_prf_cleanup(&p);
}
