/* The COPY TEXT codec: byte-exact round trips, PostgreSQL's escapes, errors, COPY heads. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "copy.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* A random value: all 256 byte values except NUL (PostgreSQL text cannot hold NUL). */
static size_t random_value(char *out, size_t max)
{
    size_t n = (size_t)(rnd() % (max + 1));
    for (size_t i = 0; i < n; i++) {
        unsigned char c;
        switch (rnd() % 4) {
        case 0: c = (unsigned char)"\t\n\r\\\b\f\v\\N."[rnd() % 10]; break;
        default: c = (unsigned char)(rnd() % 255 + 1);
        }
        out[i] = (char)c;
    }
    return n;
}

static void decode_all(sf_buf *out, const char *raw, size_t len)
{
    const char *why = NULL;
    size_t at = 0;
    sf_buf_clear(out);
    cr_assert_eq(sf_copy_decode(out, raw, len, &why, &at), 0, "decode failed: %s at %zu", why ? why : "", at);
}

Test(copy, encode_decode_roundtrip_random_bytes)
{
    sf_buf enc = SF_BUF_INIT, dec = SF_BUF_INIT;
    char *v = malloc(4096);
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = random_value(v, 4096);
        sf_buf_clear(&enc);
        cr_assert_eq(sf_copy_encode(&enc, v, n), 0);
        cr_assert_null(memchr(enc.ptr, '\t', enc.len), "an encoded field holds a raw tab");
        cr_assert_null(memchr(enc.ptr, '\n', enc.len), "an encoded field holds a raw newline");
        cr_assert_null(memchr(enc.ptr, '\r', enc.len), "an encoded field holds a raw CR");
        if (n == 1 && v[0] == 'N')
            cr_assert(!sf_copy_is_null(enc.ptr, enc.len));
        decode_all(&dec, enc.ptr, enc.len);
        cr_assert_eq(dec.len, n);
        cr_assert_eq(memcmp(dec.ptr, v, n), 0);
    }
    free(v);
    sf_buf_free(&enc);
    sf_buf_free(&dec);
}

Test(copy, huge_field_roundtrip)
{
    size_t n = 1 << 20;
    char *v = malloc(n);
    sf_buf enc = SF_BUF_INIT, dec = SF_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(i % 255 + 1);
    cr_assert_eq(sf_copy_encode(&enc, v, n), 0);
    decode_all(&dec, enc.ptr, enc.len);
    cr_assert_eq(dec.len, n);
    cr_assert_eq(memcmp(dec.ptr, v, n), 0);
    free(v);
    sf_buf_free(&enc);
    sf_buf_free(&dec);
}

/* A canonical (PostgreSQL-written) field decodes and re-encodes to the same bytes. */
Test(copy, decode_encode_canonical_is_identity)
{
    sf_buf enc = SF_BUF_INIT, dec = SF_BUF_INIT, re = SF_BUF_INIT;
    char *v = malloc(2048);
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = random_value(v, 2048);
        sf_buf_clear(&enc);
        sf_copy_encode(&enc, v, n);
        decode_all(&dec, enc.ptr, enc.len);
        sf_buf_clear(&re);
        cr_assert_eq(sf_copy_encode(&re, dec.ptr, dec.len), 0);
        cr_assert_eq(re.len, enc.len);
        cr_assert_eq(memcmp(re.ptr, enc.ptr, enc.len), 0);
    }
    free(v);
    sf_buf_free(&enc);
    sf_buf_free(&dec);
    sf_buf_free(&re);
}

Test(copy, postgres_escapes)
{
    sf_buf d = SF_BUF_INIT;
    const char *raw = "a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh\\101\\x42\\x4z\\7\\q\\.\\N";
    decode_all(&d, raw, strlen(raw));
    cr_assert_eq(d.len, 23);
    cr_assert_eq(memcmp(d.ptr, "a\tb\nc\rd\\e\bf\fg\vhAB\x04z\aq.N", 23), 0);
    sf_buf_free(&d);
}

Test(copy, encode_escapes_like_postgres)
{
    sf_buf e = SF_BUF_INIT;
    const char v[] = "x\ty\nz\r\\\b\f\v\x01\x7f" "\xc3\xa9";
    cr_assert_eq(sf_copy_encode(&e, v, sizeof(v) - 1), 0);
    cr_assert_str_eq(e.ptr, "x\\ty\\nz\\r\\\\\\b\\f\\v\x01\x7f\xc3\xa9");
    sf_buf_clear(&e);
    cr_assert_eq(sf_copy_encode(&e, "\\N", 2), 0);
    cr_assert_str_eq(e.ptr, "\\\\N");
    cr_assert(!sf_copy_is_null(e.ptr, e.len));
    cr_assert_eq(sf_copy_encode(&e, "a\0b", 3), -1, "a NUL byte cannot be written");
    sf_buf_free(&e);
}

Test(copy, decode_errors)
{
    sf_buf d = SF_BUF_INIT;
    const char *why = NULL;
    size_t at = 99;
    cr_assert_eq(sf_copy_decode(&d, "ab\\", 3, &why, &at), -1);
    cr_assert_eq(at, 2);
    cr_assert(strstr(why, "backslash"));
    cr_assert_eq(sf_copy_decode(&d, "a\\xZZ", 5, &why, &at), -1);
    cr_assert_eq(at, 1);
    cr_assert(strstr(why, "\\x"));
    cr_assert_eq(sf_copy_decode(&d, "a\\x", 3, &why, &at), -1);
    cr_assert_eq(sf_copy_decode(&d, "a\\000", 5, &why, &at), -1);
    cr_assert(strstr(why, "NUL"));
    cr_assert_eq(sf_copy_decode(&d, "\\x00", 4, &why, &at), -1);
    cr_assert_eq(sf_copy_decode(&d, "a\\tb\0c", 6, &why, &at), -1);
    cr_assert_eq(at, 4);
    sf_buf_free(&d);
}

Test(copy, split_fields)
{
    sf_span f[8];
    size_t bad = 0;
    const char *l = "1\tab\\tc\t\\N\t\t\\\\";
    size_t n = sf_copy_split(f, 8, l, strlen(l), &bad);
    cr_assert_eq(n, 5);
    cr_assert_eq(f[1].len, 5);
    cr_assert_eq(memcmp(f[1].ptr, "ab\\tc", 5), 0);
    cr_assert(sf_copy_is_null(f[2].ptr, f[2].len));
    cr_assert_eq(f[3].len, 0);
    cr_assert_eq(f[4].len, 2);
    /* an escaped tab byte does not split */
    l = "a\\\tb\tc";
    cr_assert_eq(sf_copy_split(f, 8, l, strlen(l), &bad), 2);
    cr_assert_eq(f[0].len, 4);
    /* more fields than room: counted, not stored */
    cr_assert_eq(sf_copy_split(f, 2, "a\tb\tc\td", 7, &bad), 4);
    /* empty line: one empty field */
    cr_assert_eq(sf_copy_split(f, 8, "", 0, &bad), 1);
    /* trailing lone backslash */
    cr_assert_eq(sf_copy_split(f, 8, "a\tb\\", 4, &bad), 0);
    cr_assert_eq(bad, 3);
}

/* The escape-aware definition: a tab ends a field unless a backslash escapes it. */
static size_t reference_split(sf_span *f, size_t max, const char *l, size_t len, size_t *bad, int *escaped)
{
    size_t n = 0, start = 0, i = 0;
    *escaped = 0;
    while (i <= len) {
        if (i == len || l[i] == '\t') {
            if (n < max) {
                f[n].ptr = l + start;
                f[n].len = i - start;
            }
            n++;
            start = ++i;
            continue;
        }
        if (l[i] == '\\') {
            *escaped = 1;
            if (i + 1 >= len) {
                *bad = i;
                return 0;
            }
            i += 2;
            continue;
        }
        i++;
    }
    return n;
}

Test(copy, split_agrees_with_the_escape_rules_on_random_lines)
{
    /* long and short lines, so both the 16-byte scan and the byte loop meet tabs, \N, \\, escaped tabs */
    static const char alphabet[] = "ab\t\\N\\n\\\\\t x";
    char line[200];
    sf_span f[80], g[80];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(rnd() % (iter % 2 ? 40 : sizeof(line))), bad = 0, gbad = 0, n, m;
        int esc = -1, gesc;
        for (size_t i = 0; i < len; i++)
            line[i] = rnd() % 3 ? (char)('a' + rnd() % 26) : alphabet[rnd() % (sizeof(alphabet) - 1)];
        n = sf_copy_split_esc(f, 80, line, len, &bad, &esc);
        m = reference_split(g, 80, line, len, &gbad, &gesc);
        cr_assert_eq(n, m, "line %d: %zu fields, want %zu", iter, n, m);
        if (m == 0) {
            cr_assert_eq(bad, gbad);
            continue;
        }
        cr_assert_eq(esc, gesc, "line %d: escaped flag", iter);
        for (size_t i = 0; i < m && i < 80; i++)
            cr_assert(f[i].ptr == g[i].ptr && f[i].len == g[i].len, "line %d field %zu", iter, i);
    }
}

Test(copy, split_then_join_is_identity)
{
    sf_span f[64];
    sf_buf line = SF_BUF_INIT, join = SF_BUF_INIT;
    char v[64];
    for (int iter = 0; iter < 2000; iter++) {
        size_t nf = rnd() % 10 + 1, bad;
        sf_buf_clear(&line);
        for (size_t i = 0; i < nf; i++) {
            if (i)
                sf_buf_addc(&line, '\t');
            if (rnd() % 5 == 0)
                sf_buf_adds(&line, "\\N");
            else
                sf_copy_encode(&line, v, random_value(v, sizeof(v)));
        }
        cr_assert_eq(sf_copy_split(f, 64, line.ptr, line.len, &bad), nf);
        sf_buf_clear(&join);
        for (size_t i = 0; i < nf; i++) {
            if (i)
                sf_buf_addc(&join, '\t');
            sf_buf_add(&join, f[i].ptr, f[i].len);
        }
        cr_assert_eq(join.len, line.len);
        cr_assert_eq(memcmp(join.ptr, line.ptr, line.len), 0);
    }
    sf_buf_free(&line);
    sf_buf_free(&join);
}

Test(copy, masked_values_stay_valid_utf8_and_unambiguous)
{
    /* values a masker may produce: tabs, newlines, backslashes, \N-looking text, multibyte UTF-8 */
    const char *vals[] = {"Jos\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "\\N", "N", "a\tb", "line1\nline2",
                          "C:\\dir\\file", "\\.", "", "trailing\\"};
    sf_buf e = SF_BUF_INIT, d = SF_BUF_INIT;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        sf_buf_clear(&e);
        cr_assert_eq(sf_copy_encode(&e, vals[i], strlen(vals[i])), 0);
        cr_assert(!sf_copy_is_null(e.ptr, e.len), "'%s' must not encode as NULL", vals[i]);
        cr_assert(!(e.len == 2 && memcmp(e.ptr, "\\.", 2) == 0), "a value must not look like the end marker");
        decode_all(&d, e.ptr, e.len);
        cr_assert_str_eq(d.ptr, vals[i]);
    }
    sf_buf_free(&e);
    sf_buf_free(&d);
}

Test(copy, head_parse)
{
    sf_copyhead h;
    const char *s = "COPY erp.\"Supplier Contacts\" (id, \"Full Name\", \"E-Mail\", phone) FROM stdin;";
    sf_copyhead_init(&h);
    cr_assert_eq(sf_copyhead_parse(&h, s, strlen(s), "public", 1), 0);
    cr_assert_str_eq(h.schema.ptr, "erp");
    cr_assert_str_eq(h.table.ptr, "Supplier Contacts");
    cr_assert_eq(h.ncols, 4);
    cr_assert_str_eq(h.cols[1], "Full Name");
    cr_assert_str_eq(h.cols[2], "E-Mail");
    cr_assert(h.has_list);
    cr_assert(!h.options);
    s = "-- x\nCOPY Customers FROM STDIN;";
    cr_assert_eq(sf_copyhead_parse(&h, s, strlen(s), "sales", 1), 0);
    cr_assert_str_eq(h.schema.ptr, "sales");
    cr_assert_str_eq(h.table.ptr, "customers");
    cr_assert_eq(h.ncols, 0);
    cr_assert(!h.has_list);
    s = "COPY public.t (a) FROM stdin WITH (FORMAT csv);";
    cr_assert_eq(sf_copyhead_parse(&h, s, strlen(s), "public", 1), 0);
    cr_assert(h.options);
    s = "COPY public.t (a) TO stdout;";
    cr_assert_eq(sf_copyhead_parse(&h, s, strlen(s), "public", 1), 1);
    s = "COPY public.t (a, FROM stdin;";
    cr_assert_eq(sf_copyhead_parse(&h, s, strlen(s), "public", 1), -1);
    sf_copyhead_free(&h);
    sf_copyhead_free(NULL);
}
