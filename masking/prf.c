/* HMAC-SHA256 PRF through EVP_MAC, keyed once, re-initialised per value. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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

int sf_prf_init(sf_prf *p, const unsigned char key[32], sf_error *err)
{
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
    OSSL_PARAM params[2];
    p->mac = NULL;
    if (!(mac = EVP_MAC_fetch(NULL, "HMAC", NULL)))
        return crypto_error(err, "cannot load HMAC");
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (!ctx)
        return crypto_error(err, "cannot create an HMAC context");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, key, 32, params)) {
        EVP_MAC_CTX_free(ctx);
        return crypto_error(err, "cannot key HMAC-SHA256");
    }
    p->mac = ctx;
    return 0;
}

void sf_prf_cleanup(sf_prf *p)
{
    EVP_MAC_CTX_free(p->mac);
    p->mac = NULL;
}

int sf_prf_eval(sf_prf *p, unsigned char tag, const void *data, size_t len, unsigned char out[SF_PRF_LEN])
{
    size_t outl = 0;
    /* A NULL key re-initialises HMAC with the key given at sf_prf_init. */
    if (!EVP_MAC_init(p->mac, NULL, 0, NULL) || !EVP_MAC_update(p->mac, &tag, 1) ||
        (len && !EVP_MAC_update(p->mac, data, len)) || !EVP_MAC_final(p->mac, out, &outl, SF_PRF_LEN) ||
        outl != SF_PRF_LEN) {
        ERR_clear_error();
        return SF_ECRYPTO;
    }
    return 0;
}

uint64_t sf_prf_u64(const unsigned char *bytes8)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | bytes8[i];
    return v;
}
