/* The masking key: loading, fingerprint, HKDF derivation. Never logged, wiped on free. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include "prf.h"

#define KEY_MIN 32
#define KEY_FILE_MAX (64u << 10)
#define FINGERPRINT_INFO "stagefork key fingerprint"

struct sf_mask_key {
    unsigned char *bytes;
    size_t len;
    char fingerprint[17];
};

static int hkdf(const unsigned char *key, size_t keylen, const void *info, size_t infolen, unsigned char *out,
                size_t outlen, sf_error *err)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[4];
    int ok;
    EVP_KDF_free(kdf);
    if (!ctx) {
        ERR_clear_error();
        return sf_error_set(err, SF_ECRYPTO, "cannot load HKDF");
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    params[3] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(ctx, out, outlen, params);
    EVP_KDF_CTX_free(ctx);
    if (!ok) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        ERR_clear_error();
        return sf_error_set(err, SF_ECRYPTO, "HKDF failed: %s", buf);
    }
    return 0;
}

int sf_mask_key_from_bytes(sf_mask_key **out, const void *bytes, size_t len, sf_error *err)
{
    sf_mask_key *k;
    unsigned char fp[8];
    static const char hex[] = "0123456789abcdef";
    int rc;
    *out = NULL;
    if (len < KEY_MIN)
        return sf_error_set(err, SF_EUSAGE, "masking key is %zu bytes; at least %d are required", len, KEY_MIN);
    if (!(k = calloc(1, sizeof(*k))) || !(k->bytes = malloc(len))) {
        free(k);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    memcpy(k->bytes, bytes, len);
    k->len = len;
    if ((rc = hkdf(k->bytes, len, FINGERPRINT_INFO, strlen(FINGERPRINT_INFO), fp, sizeof(fp), err))) {
        sf_mask_key_free(k);
        return rc;
    }
    for (int i = 0; i < 8; i++) {
        k->fingerprint[2 * i] = hex[fp[i] >> 4];
        k->fingerprint[2 * i + 1] = hex[fp[i] & 15];
    }
    k->fingerprint[16] = 0;
    *out = k;
    return 0;
}

static int read_key_file(sf_mask_key **out, const char *path, sf_error *err)
{
    struct stat st;
    unsigned char *buf;
    size_t n = 0;
    int fd, rc;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sf_error_set(err, SF_EIO, "cannot read key file '%s': not a regular file", path);
    }
    if ((uint64_t)st.st_size > KEY_FILE_MAX) {
        close(fd);
        return sf_error_set(err, SF_EUSAGE, "key file '%s' is larger than %u bytes", path, KEY_FILE_MAX);
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    while (n < (size_t)st.st_size + 1) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sf_error_set(err, SF_EIO, "cannot read key file '%s': %s", path, strerror(errno));
            close(fd);
            OPENSSL_cleanse(buf, (size_t)st.st_size + 1);
            free(buf);
            return rc;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > (size_t)st.st_size) {
        OPENSSL_cleanse(buf, (size_t)st.st_size + 1);
        free(buf);
        return sf_error_set(err, SF_EIO, "key file '%s' changed while being read", path);
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    rc = sf_mask_key_from_bytes(out, buf, n, err);
    OPENSSL_cleanse(buf, (size_t)st.st_size + 1);
    free(buf);
    return rc;
}

int sf_mask_key_load(sf_mask_key **out, const char *key_file, const char *key_env, sf_error *err)
{
    const char *v;
    *out = NULL;
    if ((key_file && key_env) || (!key_file && !key_env))
        return sf_error_set(err, SF_EUSAGE, "give the masking key as a file or an environment variable (exactly one)");
    if (key_file)
        return read_key_file(out, key_file, err);
    if (!(v = getenv(key_env)))
        return sf_error_set(err, SF_EUSAGE, "environment variable %s (masking key) is not set", key_env);
    return sf_mask_key_from_bytes(out, v, strlen(v), err);
}

void sf_mask_key_free(sf_mask_key *key)
{
    if (!key)
        return;
    if (key->bytes) {
        OPENSSL_cleanse(key->bytes, key->len);
        free(key->bytes);
    }
    OPENSSL_cleanse(key, sizeof(*key));
    free(key);
}

const char *sf_mask_key_fingerprint(const sf_mask_key *key)
{
    return key->fingerprint;
}

int sf_mask_key_derive(const sf_mask_key *key, const char *purpose, unsigned char out[32])
{
    return hkdf(key->bytes, key->len, purpose, strlen(purpose), out, 32, NULL);
}

int sf_mask_key_hkdf(const sf_mask_key *key, const void *info, size_t infolen, unsigned char *out, size_t outlen,
                     sf_error *err)
{
    return hkdf(key->bytes, key->len, info, infolen, out, outlen, err);
}
