#ifndef SF_MASKING_PRF_H
#define SF_MASKING_PRF_H
/*
 * Keyed primitives of the rule side: HKDF subkeys from the masking key
 * (key.c) and the AES-256-CMAC PRF (prf.c). A PRF context is keyed once;
 * each call costs one AES block per 16 bytes of tag || data, without any
 * allocation.
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/error.h"
#include "stagefork/mask.h"

#define SF_PRF_KEYLEN 32 /* the PRF subkey (AES-256) */
#define SF_PRF_LEN 16    /* one PRF output block */

/* HKDF-SHA256(key, info) -> out[outlen] (no salt). SF_ECRYPTO on failure. */
int sf_mask_key_hkdf(const sf_mask_key *key, const void *info, size_t infolen, unsigned char *out, size_t outlen,
                     sf_error *err);

typedef struct sf_prf {
    void *aes;                    /* EVP_CIPHER_CTX: AES-256-ECB keyed with the subkey */
    unsigned char k1[16], k2[16]; /* CMAC subkeys (wiped by sf_prf_cleanup) */
} sf_prf;

/* Key a PRF context (the key bytes are not kept outside OpenSSL; the CMAC subkeys are). */
int sf_prf_init(sf_prf *p, const unsigned char key[SF_PRF_KEYLEN], sf_error *err);
void sf_prf_cleanup(sf_prf *p);
/* AES-256-CMAC(key, tag || data) (NIST SP 800-38B). tag separates uses of one subkey. */
int sf_prf_eval(sf_prf *p, unsigned char tag, const void *data, size_t len, unsigned char out[SF_PRF_LEN]);
/*
 * sf_prf_eval of count messages (tags[i], data[i][0..len[i])) into
 * out[16 * i ..]: the CMAC chains of up to 32 messages advance together,
 * one AES call per block index for all of them. Same outputs.
 */
int sf_prf_eval_many(sf_prf *p, const unsigned char *tags, const void *const *data, const size_t *len, size_t count,
                     unsigned char *out);
/* Eight bytes of a PRF output as an integer (big-endian). */
uint64_t sf_prf_u64(const unsigned char *bytes8);

#endif
