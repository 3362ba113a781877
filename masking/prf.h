#ifndef SF_MASKING_PRF_H
#define SF_MASKING_PRF_H
/*
 * Keyed primitives of the rule side: HKDF subkeys from the masking key
 * (key.c) and the HMAC-SHA256 PRF (prf.c). A PRF context is keyed once and
 * re-initialised per call without any OpenSSL allocation.
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/error.h"
#include "stagefork/mask.h"

#define SF_PRF_LEN 32

/* HKDF-SHA256(key, info) -> out[outlen] (no salt). SF_ECRYPTO on failure. */
int sf_mask_key_hkdf(const sf_mask_key *key, const void *info, size_t infolen, unsigned char *out, size_t outlen,
                     sf_error *err);

typedef struct sf_prf {
    void *mac; /* EVP_MAC_CTX keyed with the subkey */
} sf_prf;

/* Key a PRF context (the key bytes are not kept outside OpenSSL). */
int sf_prf_init(sf_prf *p, const unsigned char key[32], sf_error *err);
void sf_prf_cleanup(sf_prf *p);
/* HMAC-SHA256(key, tag || data). tag separates uses of one subkey. */
int sf_prf_eval(sf_prf *p, unsigned char tag, const void *data, size_t len, unsigned char out[SF_PRF_LEN]);
/* Eight bytes of a PRF output as an integer (big-endian). */
uint64_t sf_prf_u64(const unsigned char *bytes8);

#endif
