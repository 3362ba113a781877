/*
 * The decimal fast paths (masking/decimal.c) against the general 256-bit
 * path: sf_sdec_parse accepts what it always accepted, and
 * sf_sdec_mul_text writes exactly the text of sf_dec_mul + sf_dec_rescale
 * + sf_dec_clamp_* + sf_dec_format, over random and edge inputs.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "decimal.h"

/* xorshift64*: reproducible inputs */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static unsigned rndn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* A decimal text: optional sign, 0..ndig integer digits, optional '.' and fraction digits, edge shapes mixed in. */
static void rnd_text(char *out, size_t cap, int maxdig)
{
    static const char *const edge[] = {"0",    "-0",   "+0",   "-0.00", "0.000", ".5",  "5.",  "-.5",  "+5.",
                                       "1",    "-1",   "0.5",  "-0.5",  "9.995", "-9.995", "999999999999999999",
                                       "-999999999999999999", "0.000000000000000001", "100000000000000000",
                                       "99999999999999999.9", "18446744073709551615", "1844674407370955161",
                                       "9223372036854775807", "-9223372036854775808", "00000000000000000012",
                                       "162.13", "16500.00", "-32768", "32767.5", "2147483647.49999"};
    size_t o = 0;
    unsigned nint, nfrac, shape = rndn(16);
    if (shape == 0) {
        snprintf(out, cap, "%s", edge[rndn(sizeof(edge) / sizeof(edge[0]))]);
        return;
    }
    if (rndn(3) == 0)
        out[o++] = rndn(4) ? '-' : '+';
    nint = rndn((unsigned)maxdig + 1);
    nfrac = rndn((unsigned)maxdig + 1 - nint);
    if (nint + nfrac == 0)
        nint = 1;
    for (unsigned i = 0; i < nint; i++)
        out[o++] = (char)('0' + (i == 0 && nint > 1 && rndn(8) ? 1 + rndn(9) : rndn(10)));
    if (nfrac || rndn(8) == 0) {
        out[o++] = '.';
        for (unsigned i = 0; i < nfrac; i++) {
            /* trailing zeros now and then */
            out[o++] = (char)('0' + (i + 2 >= nfrac && rndn(3) == 0 ? 0 : rndn(10)));
        }
    }
    out[o] = 0;
}

/* The general path's answer; 0 when it reports an error. */
static int general(char out[SF_DEC_TEXT_MAX + 1], const char *a, const char *b, const sf_dec_fit *fit)
{
    sf_dec x, y, r;
    if (sf_dec_parse(&x, a, strlen(a)) != SF_DEC_OK || sf_dec_parse(&y, b, strlen(b)) != SF_DEC_OK)
        return 0;
    if (sf_dec_mul(&r, &x, &y) != 0 || sf_dec_rescale(&r, fit->scale) != 0)
        return 0;
    if (fit->int_range)
        sf_dec_clamp_i64(&r, fit->min, fit->max);
    else if (fit->digits >= 0)
        sf_dec_clamp_digits(&r, fit->digits);
    sf_dec_format(&r, out);
    return 1;
}

/* Fast answer (0 = declined) compared with the general one; returns 1 if the fast path answered. */
static int compare(const char *a, const char *b, const sf_dec_fit *fit)
{
    sf_sdec x, y, back, parsed;
    char want[SF_DEC_TEXT_MAX + 1], got[SF_DEC_TEXT_MAX + 1];
    size_t n;
    if (!sf_sdec_parse(&x, a, strlen(a)) || !sf_sdec_parse(&y, b, strlen(b)))
        return 0;
    memset(got, 'x', sizeof(got));
    if (!(n = sf_sdec_mul_text(got, &x, &y, fit, &back))) {
        cr_assert_eq(back.scale, -1, "a declined product gives no value");
        return 0;
    }
    cr_assert(general(want, a, b, fit), "general path failed on %s * %s", a, b);
    cr_assert_eq(n, strlen(got), "length %zu for '%s'", n, got);
    cr_assert_str_eq(got, want, "%s * %s at scale %d (digits %d, int %d [%lld, %lld])", a, b, fit->scale, fit->digits,
                     fit->int_range, (long long)fit->min, (long long)fit->max);
    /* the value handed back is what parsing the text gives (when it is handed back) */
    if (back.scale >= 0) {
        cr_assert(sf_sdec_parse(&parsed, got, n), "'%s' does not parse back", got);
        cr_assert(parsed.mag == back.mag && parsed.scale == back.scale && parsed.neg == back.neg,
                  "'%s': value %llu e-%d neg %d, parsed %llu e-%d neg %d", got, (unsigned long long)back.mag, back.scale,
                  back.neg, (unsigned long long)parsed.mag, parsed.scale, parsed.neg);
    } else {
        size_t digits = n - (got[0] == '-') - (fit->scale > 0);
        cr_assert(digits > 8 || fit->scale > 7, "'%s' (scale %d): a small result gives its value", got, fit->scale);
    }
    return 1;
}

static void rnd_fit(sf_dec_fit *fit, int pscale)
{
    static const int64_t ranges[][2] = {{INT16_MIN, INT16_MAX}, {INT32_MIN, INT32_MAX}, {INT64_MIN, INT64_MAX}};
    memset(fit, 0, sizeof(*fit));
    fit->digits = -1;
    switch (rndn(4)) {
    case 0: { /* integer column */
        unsigned r = rndn(3);
        fit->int_range = 1;
        fit->min = ranges[r][0];
        fit->max = ranges[r][1];
        break;
    }
    case 1: /* numeric(p,s) */
        fit->scale = (int)rndn(21);
        fit->digits = fit->scale + (int)rndn(22);
        break;
    case 2: /* unconstrained: the operands' scale */
        fit->scale = pscale;
        break;
    default: /* any scale and precision */
        fit->scale = (int)rndn(21);
        fit->digits = rndn(4) ? (int)rndn(40) : -1;
        break;
    }
}

/* The parse rule the small decimals always had: [+-]digits[.digits], 1..18 digits, at most 20 bytes. */
static int old_accepts(const char *s, size_t len, uint64_t *v, int *scale, int *neg)
{
    size_t i = 0, ndig = 0;
    int frac = -1;
    *v = 0;
    *neg = 0;
    if (len == 0 || len > 20)
        return 0;
    if (s[0] == '-' || s[0] == '+')
        *neg = s[i++] == '-';
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            *v = *v * 10 + (uint64_t)(s[i] - '0');
            ndig++;
            if (frac >= 0)
                frac++;
        } else if (s[i] == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (ndig == 0 || ndig > 18)
        return 0;
    *scale = frac < 0 ? 0 : frac;
    *neg = *neg && *v != 0;
    return 1;
}

Test(decimal, small_parse_accepts_what_it_always_did)
{
    static const char alphabet[] = "0123456789.-+e xN";
    for (int iter = 0; iter < 400000; iter++) {
        char s[32];
        size_t len = rndn(24);
        sf_sdec d;
        uint64_t v;
        int scale, neg, ok, want;
        if (iter % 2)
            for (size_t i = 0; i < len; i++)
                s[i] = alphabet[rndn(sizeof(alphabet) - 1)];
        else
            rnd_text(s, sizeof(s), 20), len = strlen(s);
        s[len] = 0;
        ok = sf_sdec_parse(&d, s, len);
        want = old_accepts(s, len, &v, &scale, &neg);
        cr_assert_eq(ok, want, "'%s': %d, always %d", s, ok, want);
        if (ok) {
            cr_assert(d.mag == v && d.scale == scale && d.neg == neg, "'%s'", s);
        }
    }
}

Test(decimal, product_fast_path_equals_the_general_path)
{
    size_t answered = 0, total = 0;
    for (int iter = 0; iter < 600000; iter++) {
        char a[32], b[32];
        sf_sdec x, y;
        sf_dec_fit fit;
        rnd_text(a, sizeof(a), 18);
        rnd_text(b, sizeof(b), 18);
        if (!sf_sdec_parse(&x, a, strlen(a)) || !sf_sdec_parse(&y, b, strlen(b)))
            continue;
        rnd_fit(&fit, x.scale + y.scale);
        total++;
        answered += (size_t)compare(a, b, &fit);
    }
    /* most products of random 18-digit operands do not fit 64 bits; a good share still does */
    cr_assert_gt(answered, total / 4, "fast path answered %zu of %zu", answered, total);
}

Test(decimal, noise_shaped_products_take_the_fast_path)
{
    /* value * (10^15 + P * k) / 10^15 at the column's scale, as noise computes it */
    size_t answered = 0, total = 0;
    for (int iter = 0; iter < 400000; iter++) {
        char a[32], f[40];
        uint64_t p = 1 + rnd() % 1000000000ull; /* 0 < P <= 1 in units of 1e-9 */
        int64_t k = (int64_t)(rnd() % 2000001) - 1000000;
        int64_t fm = 1000000000000000ll + (int64_t)p * k;
        sf_sdec x;
        sf_dec_fit fit;
        rnd_text(a, sizeof(a), iter % 4 ? 9 : 18);
        if (!sf_sdec_parse(&x, a, strlen(a)))
            continue;
        snprintf(f, sizeof(f), "%lld.%015lld", (long long)(fm / 1000000000000000ll), (long long)(fm % 1000000000000000ll));
        rnd_fit(&fit, x.scale);
        if (fit.scale > x.scale + 15)
            fit.scale = x.scale;
        total++;
        if (compare(a, f, &fit))
            answered++;
        else
            cr_assert(strspn(a, "-+0123456789.") != strlen(a) || strlen(a) > 9 || fit.scale > 9, "a value of up to 9 digits at up to 9 decimals always takes the fast path: %s * %s",
                      a, f);
    }
    cr_assert_gt(answered, total * 3 / 4, "fast path answered %zu of %zu", answered, total);
}

Test(decimal, product_edges)
{
    static const char *const vals[] = {"0",   "-0",  "0.00", "-0.00", "1",    "-1",   "0.5",  "-0.5", "0.05",
                                       "-0.005", "5",  "10",  "99.99", "-99.995", "123456789012345678",
                                       "-123456789012345678", "999999999999999999", "0.999999999999999999",
                                       "4294967296", "4294967295.5", "18446744073.709551615", "3.037000499"};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++)
            for (int scale = 0; scale <= 20; scale++)
                for (int digits = -1; digits <= 21; digits += 2) {
                    sf_dec_fit fit = {scale, digits, 0, 0, 0};
                    compare(vals[i], vals[j], &fit);
                    if (scale == 0) {
                        sf_dec_fit fi = {0, -1, 1, INT16_MIN, INT16_MAX};
                        compare(vals[i], vals[j], &fi);
                        fi.min = INT64_MIN, fi.max = INT64_MAX;
                        compare(vals[i], vals[j], &fi);
                        fi.min = 0, fi.max = 100; /* odd ranges too */
                        compare(vals[i], vals[j], &fi);
                        fi.min = -100, fi.max = -1;
                        compare(vals[i], vals[j], &fi);
                    }
                }
    {
        /* a rounded quotient of exactly 2^64 - 1 + 1 and a product beyond 2^64 at scale 0 decline */
        sf_sdec x, y;
        char out[SF_DEC_TEXT_MAX + 1];
        sf_dec_fit fit = {0, -1, 0, 0, 0};
        cr_assert(sf_sdec_parse(&x, "999999999999999999", 18) && sf_sdec_parse(&y, "999999999999999999", 18));
        cr_assert_eq(sf_sdec_mul_text(out, &x, &y, &fit, NULL), 0);
        fit.scale = 25;
        cr_assert(sf_sdec_parse(&x, "1.5", 3) && sf_sdec_parse(&y, "2", 1));
        cr_assert_eq(sf_sdec_mul_text(out, &x, &y, &fit, NULL), 0, "scale above 20 declines");
        fit.scale = 2;
        cr_assert_eq(sf_sdec_mul_text(out, &x, &y, &fit, NULL), 0, "upscaling declines");
        fit.scale = 1;
        cr_assert_eq(sf_sdec_mul_text(out, &x, &y, &fit, NULL), 3);
        cr_assert_str_eq(out, "3.0");
        cr_assert(sf_sdec_parse(&x, "-0.005", 6) && sf_sdec_parse(&y, "1", 1));
        fit.scale = 2;
        cr_assert_eq(sf_sdec_mul_text(out, &x, &y, &fit, NULL), 5);
        cr_assert_str_eq(out, "-0.01", "half away from zero");
        cr_assert(sf_sdec_parse(&x, "-0.004", 6));
        cr_assert_eq(sf_sdec_mul_text(out, &x, &y, &fit, NULL), 4);
        cr_assert_str_eq(out, "0.00", "never -0");
    }
}
