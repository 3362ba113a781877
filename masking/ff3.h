#ifndef SF_MASKING_FF3_H
#define SF_MASKING_FF3_H
/*
 * NIST SP 800-38G Rev. 1 FF3-1 format-preserving encryption over AES
 * (OpenSSL EVP, ECB single blocks through one context created at init).
 * Numeral strings are arrays of values < radix, most significant first.
 * Lengths must lie in [sf_ff3_minlen(radix), sf_ff3_maxlen(radix)].
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/error.h"

typedef struct sf_ff3 {
    void *aes;                     /* EVP_CIPHER_CTX keyed with REVB(K) */
    struct sf_ff3_moduli *moduli;  /* reciprocals of radix^k for the batch rounds */
} sf_ff3;

/* key: 16, 24 or 32 bytes (AES-128/192/256). */
int sf_ff3_init(sf_ff3 *f, const unsigned char *key, size_t keylen, sf_error *err);
void sf_ff3_cleanup(sf_ff3 *f);

/* Smallest n with radix^n >= 1,000,000, and 2 * floor(log_radix(2^96)). radix 2..256. */
size_t sf_ff3_minlen(unsigned radix);
size_t sf_ff3_maxlen(unsigned radix);

/* FF3-1 with a 56-bit tweak. in and out may be the same. Returns 0, SF_EUSAGE (bad length/numeral), SF_ECRYPTO. */
int sf_ff3_encrypt(sf_ff3 *f, unsigned radix, const uint8_t tweak[7], const uint8_t *in, uint8_t *out, size_t n);
int sf_ff3_decrypt(sf_ff3 *f, unsigned radix, const uint8_t tweak[7], const uint8_t *in, uint8_t *out, size_t n);

/* One FF3-1 encryption of a batch: x[0..n) in place, under tweak. */
typedef struct sf_ff3_req {
    unsigned radix;
    uint8_t tweak[7];
    uint8_t *x;
    size_t n;
} sf_ff3_req;

/*
 * sf_ff3_encrypt for every request (any radix, length and tweak), with the
 * rounds of up to 64 requests interleaved: one AES call per round encrypts
 * all their blocks, so the AES latency and the EVP call are paid once per
 * round for the group instead of once per value. Same results as one call
 * each. SF_EUSAGE (before anything is changed) if any request is invalid.
 */
int sf_ff3_encrypt_many(sf_ff3 *f, sf_ff3_req *reqs, size_t count);

/*
 * The batch of fpe.c, which builds only valid requests: numerals x[0..n)
 * (< radix, n within the radix's limits), the tweak as the two words of
 * sf_ff3_tweak_words. Nothing is checked. Lanes whose halves fit 64 bits
 * run 64 at a time with reductions by reciprocal; the others with 128-bit
 * divisions. Same results as sf_ff3_encrypt.
 */
typedef struct sf_ff3_lane {
    uint8_t *x;
    uint16_t n, radix;
    uint32_t wl, wr; /* T_L, T_R as the AES block's last word (before the round number) */
} sf_ff3_lane;

void sf_ff3_tweak_words(const uint8_t tweak[7], uint32_t *wl, uint32_t *wr);
int sf_ff3_encrypt_lanes(sf_ff3 *f, sf_ff3_lane *lanes, size_t count);

/*
 * Test hook: 0 keeps sf_ff3_encrypt_lanes on its scalar rounds even where
 * the CPU has the vector ones (AVX-512: lanes with radix^u < 2^50, eight
 * per instruction), so tests compare the two. -1 (default): the CPU's best.
 */
extern int sf_ff3_simd;

/* The original FF3 with a 64-bit tweak, only to check against NIST's FF3 sample vectors. */
int sf_ff3_encrypt_64(sf_ff3 *f, unsigned radix, const uint8_t tweak[8], const uint8_t *in, uint8_t *out, size_t n);
int sf_ff3_decrypt_64(sf_ff3 *f, unsigned radix, const uint8_t tweak[8], const uint8_t *in, uint8_t *out, size_t n);

#endif
