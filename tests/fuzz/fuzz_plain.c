/*
 * Fuzz the plain-dump reader (statement splitter, COPY blocks, INSERTs, DDL
 * catalog) through sf_mask_plain with a small policy, and check the COPY
 * codec's invariant on the same bytes: whatever decodes, re-encodes and
 * decodes to the same value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "copy.h"
#include "stagefork/mask.h"

static const char POLICY[] = "version: 1\n"
                             "strict: false\n"
                             "tables:\n"
                             "  public.people:\n"
                             "    email: email\n"
                             "    name: {fixed: \"x\\ty\"}\n"
                             "    note: null\n"
                             "  public.t:\n"
                             "    b: token\n";
static const char KEY[] = "fuzz-key-0123456789abcdef-0123456789abcdef";

static void codec_invariant(const uint8_t *data, size_t size)
{
    sf_span f[16];
    size_t bad, n = sf_copy_split(f, 16, (const char *)data, size, &bad);
    sf_buf d1 = SF_BUF_INIT, e = SF_BUF_INIT, d2 = SF_BUF_INIT;
    for (size_t i = 0; i < n && i < 16; i++) {
        const char *why;
        size_t at;
        sf_buf_clear(&d1);
        if (sf_copy_decode(&d1, f[i].ptr, f[i].len, &why, &at) < 0)
            continue;
        sf_buf_clear(&e);
        if (sf_copy_encode(&e, d1.ptr, d1.len) < 0)
            abort(); /* decode refuses NUL bytes, so encode must accept whatever it produced */
        sf_buf_clear(&d2);
        if (sf_copy_decode(&d2, e.ptr, e.len, &why, &at) < 0 || d2.len != d1.len ||
            memcmp(d1.ptr, d2.ptr, d1.len) != 0)
            abort();
    }
    sf_buf_free(&d1);
    sf_buf_free(&e);
    sf_buf_free(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sf_mask_policy *pol;
    static sf_mask_key *key;
    static FILE *devnull;
    sf_masker *m;
    sf_error err;
    FILE *in;
    if (!pol) {
        if (sf_mask_policy_load_mem(&pol, "fuzz.yaml", POLICY, strlen(POLICY), &err) < 0 ||
            sf_mask_key_from_bytes(&key, KEY, strlen(KEY), &err) < 0)
            abort();
        devnull = fopen("/dev/null", "wb");
    }
    codec_invariant(data, size);
    if (size == 0 || !(in = fmemopen((void *)data, size, "rb")))
        return 0;
    if (sf_masker_new(&m, pol, key, -1, &err) == 0) {
        (void)sf_mask_plain(m, in, devnull);
        sf_masker_free(m);
    }
    fclose(in);
    return 0;
}
