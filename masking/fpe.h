#ifndef SF_MASKING_FPE_H
#define SF_MASKING_FPE_H
/*
 * Keyed bijections on numeral strings of any length, for the digits and
 * alnum rules:
 *   - lengths FF3-1 accepts (radix^n >= 10^6, n <= maxlen): FF3-1;
 *   - shorter strings (10^n <= 100000, 26^n <= 456976): a keyed
 *     permutation of the whole domain, built by Fisher-Yates from an
 *     AES-CTR stream on first use and cached in the sf_fpe;
 *   - longer strings: split into ceil(n / maxlen) nearly equal chunks
 *     (each >= maxlen/2 >= minlen), each encrypted with FF3-1 under a
 *     tweak that includes its index.
 * Every case is a permutation of radix^n for each n, so uniqueness holds.
 * `domain` separates independent uses (text digits, integer part, ...).
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/error.h"

typedef struct sf_fpe sf_fpe;

/* ff3_key and perm_key are 32 bytes; tweak 7 bytes. */
int sf_fpe_new(sf_fpe **out, const unsigned char ff3_key[32], const unsigned char perm_key[32],
               const unsigned char tweak[7], sf_error *err);
void sf_fpe_free(sf_fpe *f);
/* Encrypt x[0..n) in place; radix 10, 26 or 36; every numeral < radix (not checked: callers build them). */
int sf_fpe_encrypt(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *x, size_t n);
/*
 * sf_fpe_encrypt of x[i][0..n[i]) for every i, with all their FF3-1 chunks
 * run as one batch (sf_ff3_encrypt_many): same results, a fraction of the
 * AES calls. Not thread-safe (the request list lives in f).
 */
int sf_fpe_encrypt_many(sf_fpe *f, unsigned radix, unsigned domain, uint8_t *const *x, const size_t *n, size_t count);

#endif
