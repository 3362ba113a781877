/*
 * The digits / alnum path of the row masker (transform.c's fpe_column,
 * fpe.c, ff3.c, memo.c): its outputs are a stable format, so a corpus of
 * awkward values (every length 0..130, punctuation, both letter cases,
 * multibyte UTF-8, keep_leading, integers at and near their bounds,
 * numerics, repeats inside and across batches) must mask to exactly the
 * bytes recorded before the path was optimised (SHA-256 per column), in
 * batches of every size, one row at a time, on a warm memo and a cold one.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "ff3.h"
#include "rowmask.h"
#include "stagefork/mask.h"

#define NCOL 14
#define ROWS 6000

static const char *const POLICY = "version: 1\ntables:\n  t:\n"
                                  "    a: alnum\n"
                                  "    b: {alnum: {keep_leading: 2}}\n"
                                  "    c: digits\n"
                                  "    d: {digits: {keep_leading: 3}}\n"
                                  "    e: phone\n"
                                  "    f: digits\n"
                                  "    g: {digits: {keep_leading: 1}}\n"
                                  "    h: digits\n"
                                  "    i: digits\n"
                                  "    j: digits\n"
                                  "    k: digits\n"
                                  "    l: {alnum: {keep_leading: 5}}\n"
                                  "    m: alnum\n"
                                  "    n: {digits: {keep_leading: 2}}\n";

static const char *const TYPES[NCOL] = {"text",         "text",         "text",    "text",    "text",
                                        "smallint",     "integer",      "bigint",  "numeric(9,3)", "numeric(4,4)",
                                        "numeric",      "character varying(140)", "citext", "bigint"};

/* The SHA-256 of each column's outputs (one per line, "\N" for NULL), recorded before the optimisation. */
static const char *const GOLDEN[NCOL] = {
    "fb97cbd5c720f4efa6911bf6caeaea734b93a69f149d9031bc300dd150a4e293", /* a */
    "e0a813215acf3e635f1c0eef9f1d76eb03e9e592b4e4f5003af21aaef75ac8f7", /* b */
    "a12fd2378f4624dc650c76b8577b2c3dee002c90a1e06c780068cdb425e17b9f", /* c */
    "90f56e5c95af7f646f114a08ea73e01a61f7016038df33d5b4066f73a62a608f", /* d */
    "91ec874daad3a9a24fb18bd34262e04875e90f24d5702fa8b6749f23172e1ee6", /* e */
    "986c2617067e8c6fb8126cd40a556f5dc4269cd4cb905c60327f1695d3f48796", /* f */
    "e88ca2c3abe68cd595dd3cb5fa385b07b4bbecee7790266dc1946f32f53c87c8", /* g */
    "e44d5b2de63607856034258dbdcded2175f107e3b4b81afa739d8f323dc6090c", /* h */
    "6804e9dca3a774dcff40f6e4dae286d448ead122f9a7371f2d822db34269a3e4", /* i */
    "7c8276e754ea8a731204ba619361d2e4f65eac130da5ae3f9fc373a663477a22", /* j */
    "1a9514e068e911cb3d386db691b928c59cde553a1f6dae7cc0b0fe7d086d114c", /* k */
    "a329b60df2588aa8a1d000fc06a0280dbde45905c8753a0a901249473308e817", /* l */
    "502bcd9b5e693f887453d7c0a2213b3204111efa2d91530423a53e50f492169e", /* m */
    "b1221f7f1338ace8afc5e07b9ad8eceb52dd133438c94b7e76e68e8c3f97a940", /* n */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 17;
}

/* A text value of length about len from characters that exercise the scanners. */
static void text_value(char *out, size_t len, int kind)
{
    static const char *const alpha[] = {"0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                        "-. /+()#_", "\xc3\x9f", "\xc3\x9c", "\xe2\x82\xac"};
    size_t n = 0;
    while (n < len) {
        unsigned pick = (unsigned)(rnd() % 100);
        int cls = kind == 1 ? (pick < 70 ? 0 : pick < 90 ? 3 : 1)            /* digits-heavy */
                            : (pick < 35 ? 0 : pick < 60 ? 1 : pick < 85 ? 2 : pick < 95 ? 3 : 4 + (int)(pick % 3));
        const char *a = alpha[cls];
        if (cls >= 4) {
            if (n + strlen(a) > len)
                break;
            memcpy(out + n, a, strlen(a));
            n += strlen(a);
        } else {
            out[n++] = a[rnd() % strlen(a)];
        }
    }
    out[n] = 0;
}

static void int_value(char *out, size_t cap, int bits, const char *const *edges, size_t nedges)
{
    uint64_t u = rnd() << 40 ^ rnd() << 20 ^ rnd();
    int64_t v;
    if (rnd() % 10 < 3) {
        snprintf(out, cap, "%s", edges[rnd() % nedges]);
        return;
    }
    /* any value of the type, shortened to a random number of digits */
    v = bits == 64 ? (int64_t)u : (int64_t)(u & ((1ull << bits) - 1)) - (int64_t)(1ull << (bits - 1));
    for (uint64_t cut = rnd() % 19; cut > 0 && v != 0; cut--)
        v /= 10;
    snprintf(out, cap, "%lld", (long long)v);
}

static void numeric_value(char *out, int intmax, int fracmax, int zero_int)
{
    size_t n = 0;
    int ni = zero_int ? 0 : (int)(rnd() % (uint64_t)(intmax + 1)), nf = (int)(rnd() % (uint64_t)(fracmax + 1));
    unsigned pick = (unsigned)(rnd() % 40);
    if (pick == 0) {
        snprintf(out, 8, "NaN");
        return;
    }
    if (rnd() % 4 == 0)
        out[n++] = '-';
    if (ni == 0) {
        out[n++] = '0';
    } else {
        out[n++] = (char)('1' + rnd() % 9);
        for (int i = 1; i < ni; i++)
            out[n++] = (char)('0' + rnd() % 10);
    }
    if (nf > 0) {
        out[n++] = '.';
        for (int i = 0; i < nf; i++)
            out[n++] = (char)('0' + rnd() % 10);
    }
    out[n] = 0;
}

typedef struct {
    char (*v)[NCOL][160];
    sf_field *in;
} corpus;

static corpus make_corpus(void)
{
    static const char *const e2[] = {"32767", "-32768", "32766", "-32767", "0", "9", "10", "-1", "30000", "-30000"};
    static const char *const e4[] = {"2147483647", "-2147483648", "2147483646", "1999999999", "-2000000000", "0"};
    static const char *const e8[] = {"9223372036854775807", "-9223372036854775808", "9223372036854775806",
                                     "-9223372036854775799", "1000000000000000000", "9000000000000000000", "0", "7"};
    corpus c;
    c.v = calloc(ROWS, sizeof(*c.v));
    c.in = calloc((size_t)ROWS * NCOL, sizeof(sf_field));
    rng_state = 42;
    for (int r = 0; r < ROWS; r++) {
        int rep = r > 0 && rnd() % 5 == 0; /* a repeat of a recent row: hits in batch and in the memo */
        int from = rep ? r - 1 - (int)(rnd() % (uint64_t)(r < 200 ? r : 200)) : r;
        for (int k = 0; k < NCOL; k++) {
            char *o = c.v[r][k];
            if (rep) {
                memcpy(o, c.v[from][k], 160);
                continue;
            }
            switch (k) {
            case 0: case 1: case 11: case 12:
                text_value(o, (size_t)(r % 131), 0);
                break;
            case 2: case 3: case 4:
                text_value(o, (size_t)(r % 131), k == 4 || r % 2 ? 1 : 0);
                break;
            case 5: int_value(o, 160, 16, e2, sizeof(e2) / sizeof(e2[0])); break;
            case 6: int_value(o, 160, 32, e4, sizeof(e4) / sizeof(e4[0])); break;
            case 7: case 13: int_value(o, 160, 64, e8, sizeof(e8) / sizeof(e8[0])); break;
            case 8: numeric_value(o, 6, 3, 0); break;
            case 9: numeric_value(o, 0, 4, 1); break;
            default: numeric_value(o, 70, 70, 0); break;
            }
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int k = 0; k < NCOL; k++) {
            sf_field *f = &c.in[(size_t)r * NCOL + (size_t)k];
            f->null = (r * 7 + k) % 23 == 0;
            f->ptr = f->null ? NULL : c.v[r][k];
            f->len = f->null ? 0 : strlen(c.v[r][k]);
        }
    return c;
}

typedef struct {
    sf_mask_policy *pol;
    sf_mask_key *key;
    sf_tableplan *plan;
} setup;

static setup make_setup(void)
{
    static const char *const names[NCOL] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"};
    sf_coltype types[NCOL];
    sf_error e = {0};
    setup s;
    const char *k = "test-masking-key-fpe-path-0123456789abcdef";
    cr_assert_eq(sf_mask_policy_load_mem(&s.pol, "p.yaml", POLICY, strlen(POLICY), &e), 0, "%s", e.msg);
    cr_assert_eq(sf_mask_key_from_bytes(&s.key, k, strlen(k), NULL), 0);
    for (int i = 0; i < NCOL; i++)
        sf_coltype_parse(&types[i], TYPES[i], strlen(TYPES[i]));
    cr_assert_eq(sf_tableplan_new(&s.plan, s.pol, "public", "t", names, types, NCOL, 1, &e), 0, "%s", e.msg);
    return s;
}

static void free_setup(setup *s)
{
    sf_tableplan_free(s->plan);
    sf_mask_key_free(s->key);
    sf_mask_policy_free(s->pol);
}

/* Mask rows [0, ROWS) in batches whose sizes cycle through `sizes`; outputs as strings per cell. */
static char **mask_all(const setup *s, sf_rowctx *ctx, const corpus *c, const size_t *sizes, size_t nsizes)
{
    char **res = calloc((size_t)ROWS * NCOL, sizeof(char *));
    sf_field out[SF_TABLEPLAN_MAX_ROWS * NCOL];
    size_t r0 = 0, si = 0;
    while (r0 < ROWS) {
        size_t n = sizes[si++ % nsizes];
        sf_error e = {0};
        if (n > ROWS - r0)
            n = ROWS - r0;
        cr_assert_eq(sf_tableplan_mask_rows(s->plan, ctx, c->in + r0 * NCOL, out, n, &e), 0, "row %zu: %s", r0, e.msg);
        for (size_t i = 0; i < n * NCOL; i++) {
            char *v = NULL;
            if (!out[i].null) {
                v = malloc(out[i].len + 1);
                memcpy(v, out[i].ptr, out[i].len);
                v[out[i].len] = 0;
            }
            res[r0 * NCOL + i] = v;
        }
        r0 += n;
    }
    return res;
}

static void free_res(char **res)
{
    for (size_t i = 0; i < (size_t)ROWS * NCOL; i++)
        free(res[i]);
    free(res);
}

static void digest(char **res, int col, char hex[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char h[32];
    unsigned hl = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (int r = 0; r < ROWS; r++) {
        const char *v = res[(size_t)r * NCOL + (size_t)col];
        EVP_DigestUpdate(md, v ? v : "\\N", strlen(v ? v : "\\N"));
        EVP_DigestUpdate(md, "\n", 1);
    }
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

static void assert_same(char **a, char **b, const corpus *c, const char *what)
{
    for (size_t i = 0; i < (size_t)ROWS * NCOL; i++) {
        cr_assert_eq(a[i] == NULL, b[i] == NULL, "%s: row %zu column %zu", what, i / NCOL, i % NCOL);
        cr_assert(!a[i] || strcmp(a[i], b[i]) == 0, "%s: row %zu column %zu: '%s' -> '%s' vs '%s'", what, i / NCOL,
                  i % NCOL, c->v[i / NCOL][i % NCOL], a[i], b[i]);
    }
}

Test(fpepath, outputs_equal_the_recorded_bytes_for_every_column)
{
    /* the CPU's vector scan and FF3-1 rounds (where it has them) and the scalar ones, in every combination */
    static const size_t full[] = {64};
    static const int simd[4][2] = {{-1, -1}, {0, -1}, {-1, 0}, {0, 0}};
    setup s = make_setup();
    corpus c = make_corpus();
    int bad = 0;
    for (int cfg = 0; cfg < 4; cfg++) {
        sf_rowctx *ctx;
        char **res;
        sf_tableplan_simd = simd[cfg][0];
        sf_ff3_simd = simd[cfg][1];
        cr_assert_eq(sf_rowctx_new(&ctx, s.key, NULL), 0);
        res = mask_all(&s, ctx, &c, full, 1);
        for (int k = 0; k < NCOL; k++) {
            char hex[65];
            digest(res, k, hex);
            if (strcmp(hex, GOLDEN[k]) != 0) {
                cr_log_error("column %c (%s), scan %d, rounds %d: %s, recorded %s", 'a' + k, TYPES[k], simd[cfg][0],
                             simd[cfg][1], hex, GOLDEN[k]);
                bad++;
            }
        }
        free_res(res);
        sf_rowctx_free(ctx);
    }
    sf_tableplan_simd = -1;
    sf_ff3_simd = -1;
    cr_assert_eq(bad, 0, "%d columns changed", bad);
    free(c.v);
    free(c.in);
    free_setup(&s);
}

Test(fpepath, batches_single_rows_warm_and_cold_memos_agree)
{
    static const size_t full[] = {64}, one[] = {1}, mixed[] = {1, 2, 63, 5, 64, 17, 3, 33, 7, 64, 64, 11};
    setup s = make_setup();
    corpus c = make_corpus();
    sf_rowctx *ctx;
    char **ref, **res;
    cr_assert_eq(sf_rowctx_new(&ctx, s.key, NULL), 0);
    ref = mask_all(&s, ctx, &c, full, 1);
    /* the same context again: every value is in the memo now (or was declined) */
    res = mask_all(&s, ctx, &c, full, 1);
    assert_same(ref, res, &c, "warm memo");
    free_res(res);
    sf_rowctx_free(ctx);
    cr_assert_eq(sf_rowctx_new(&ctx, s.key, NULL), 0);
    res = mask_all(&s, ctx, &c, one, 1);
    assert_same(ref, res, &c, "one row at a time");
    free_res(res);
    sf_rowctx_free(ctx);
    cr_assert_eq(sf_rowctx_new(&ctx, s.key, NULL), 0);
    res = mask_all(&s, ctx, &c, mixed, sizeof(mixed) / sizeof(mixed[0]));
    assert_same(ref, res, &c, "mixed batch sizes");
    free_res(res);
    sf_rowctx_free(ctx);
    free_res(ref);
    free(c.v);
    free(c.in);
    free_setup(&s);
}

/*
 * Values longer than 65536 bytes take the other way back (a second scan
 * instead of stored offsets). Only the letters and digits decide an alnum
 * or digits output, so a long value spread out with '-' must mask to its
 * short form's output spread out the same way; lengths 65536 (the last
 * with offsets) and 65537 included.
 */
Test(fpepath, values_past_65536_bytes_mask_like_their_short_form)
{
    static const char *const pol_yaml = "version: 1\ntables:\n  t:\n    a: alnum\n    b: {alnum: {keep_leading: 2}}\n"
                                        "    c: digits\n    d: {digits: {keep_leading: 3}}\n";
    static const char *const shorts[] = {"aB3xY9z0Q", "DE89370400440532013000", "x1", "12345678901234567890123", "Zz"};
    static const size_t longs[] = {65536, 65537, 70001, 200000};
    const char *names[4] = {"a", "b", "c", "d"};
    sf_coltype types[4];
    sf_mask_policy *pol;
    sf_mask_key *key;
    sf_tableplan *plan;
    sf_rowctx *ctx;
    sf_error e = {0};
    const char *k = "test-masking-key-fpe-path-0123456789abcdef";
    cr_assert_eq(sf_mask_policy_load_mem(&pol, "p.yaml", pol_yaml, strlen(pol_yaml), &e), 0, "%s", e.msg);
    cr_assert_eq(sf_mask_key_from_bytes(&key, k, strlen(k), NULL), 0);
    for (int i = 0; i < 4; i++)
        sf_coltype_parse(&types[i], "text", 4);
    cr_assert_eq(sf_tableplan_new(&plan, pol, "public", "t", names, types, 4, 1, &e), 0, "%s", e.msg);
    cr_assert_eq(sf_rowctx_new(&ctx, key, NULL), 0);
    for (size_t si = 0; si < sizeof(shorts) / sizeof(shorts[0]); si++)
        for (size_t li = 0; li < sizeof(longs) / sizeof(longs[0]); li++) {
            const char *sv = shorts[si];
            size_t sl = strlen(sv), ll = longs[li], gap = (ll - sl) / sl;
            char *lv = malloc(ll + 1), *want[4];
            sf_field in[8], out[8];
            /* the short characters at positions 0, gap+1, 2(gap+1), ...; '-' elsewhere, up to ll bytes */
            memset(lv, '-', ll);
            lv[ll] = 0;
            for (size_t j = 0; j < sl; j++)
                lv[j * (gap + 1)] = sv[j];
            for (int c = 0; c < 4; c++) {
                in[c] = (sf_field){sv, sl, 0};         /* row 0: the short form */
                in[4 + c] = (sf_field){lv, ll, 0};     /* row 1: the long form */
            }
            memset(&e, 0, sizeof(e));
            cr_assert_eq(sf_tableplan_mask_rows(plan, ctx, in, out, 2, &e), 0, "%s", e.msg);
            for (int c = 0; c < 4; c++) {
                want[c] = malloc(out[c].len + 1);
                memcpy(want[c], out[c].ptr, out[c].len);
                want[c][out[c].len] = 0;
            }
            for (int c = 0; c < 4; c++) {
                const sf_field *o = &out[4 + c];
                cr_assert_eq(o->len, ll);
                for (size_t j = 0; j < ll; j++) {
                    int at = j % (gap + 1) == 0 && j / (gap + 1) < sl;
                    char exp = at ? want[c][j / (gap + 1)] : '-';
                    cr_assert_eq(o->ptr[j], exp, "'%s' spread to %zu bytes, column %c, byte %zu", sv, ll, 'a' + c, j);
                }
            }
            for (int c = 0; c < 4; c++)
                free(want[c]);
            free(lv);
        }
    sf_rowctx_free(ctx);
    sf_tableplan_free(plan);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}
