/*
 * The masker's row paths agree byte for byte: sf_mask_table_lines (batches,
 * one SIMD split per line, values re-encoded only where they changed) and
 * sf_mask_table_line (one row at a time), and the plain reader on a mapped
 * file and on a stream. Same bytes, same report counters, same errors.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "copy.h"
#include "maskerint.h"
#include "stagefork/mask.h"

static const char KEY[] = "maskrows-test-key-0123456789abcdef-0123456789";

/* Masked first and last columns, a reading rule, fixed values that need escaping, null, keep and unruled columns. */
static const char POLICY[] = "version: 1\n"
                             "strict: false\n"
                             "tables:\n"
                             "  public.t:\n"
                             "    a: {fixed: \"F\\\\x\\tq\"}\n"
                             "    c: email\n"
                             "    d: null\n"
                             "    e: keep\n"
                             "    g: alnum\n"
                             "    h: {fixed: \"a-longer-fixed-value-than-16-bytes\"}\n"
                             "  public.one:\n"
                             "    v: email\n"
                             "  public.tail:\n"
                             "    z: {fixed: \"\"}\n"
                             "  public.tok:\n"
                             "    v: token\n"
                             "  public.wide:\n"
                             "    w3: email\n"
                             "    w50: alnum\n"
                             "    w99: {fixed: \"W\"}\n";
static const char DDL[] = "CREATE TABLE public.t (a text, b text, c text, d text, e text, f text, g text, h text);\n"
                          "CREATE TABLE public.one (v text);\n"
                          "CREATE TABLE public.tail (k text, z text);\n"
                          "CREATE TABLE public.tok (k text, v text);\n";
static const char COPY_T[] = "COPY public.t (a, b, c, d, e, f, g, h) FROM stdin;";
static const char COPY_ONE[] = "COPY public.one (v) FROM stdin;";
static const char COPY_TAIL[] = "COPY public.tail (k, z) FROM stdin;";
static const char COPY_TOK[] = "COPY public.tok (k, v) FROM stdin;";

typedef struct outcome {
    int rc;
    sf_buf out;
    char err[SF_ERROR_MSG_MAX];
    json_t *report; /* without "seconds" */
} outcome;

static void outcome_free(outcome *o)
{
    sf_buf_free(&o->out);
    json_decref(o->report);
}

static sf_masker *new_masker(sf_mask_policy **pol, sf_mask_key **key)
{
    sf_error err = {0};
    sf_masker *m;
    sf_buf wide = SF_BUF_INIT;
    cr_assert_eq(sf_mask_policy_load_mem(pol, "rows.yaml", POLICY, strlen(POLICY), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_mask_key_from_bytes(key, KEY, strlen(KEY), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_masker_new(&m, *pol, *key, -1, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_masker_ddl(m, DDL, strlen(DDL)), 0);
    /* public.wide: 100 text columns w0 .. w99 */
    sf_buf_adds(&wide, "CREATE TABLE public.wide (");
    for (int i = 0; i < 100; i++)
        sf_buf_addf(&wide, "%sw%d text", i ? ", " : "", i);
    sf_buf_adds(&wide, ");\n");
    cr_assert_eq(sf_masker_ddl(m, wide.ptr, wide.len), 0);
    sf_buf_free(&wide);
    return m;
}

static json_t *report_of(sf_masker *m)
{
    sf_buf rep = SF_BUF_INIT;
    json_t *j;
    cr_assert_eq(sf_masker_report_json(m, &rep), 0);
    j = json_loads(rep.ptr, 0, NULL);
    cr_assert_not_null(j);
    json_object_del(j, "seconds");
    sf_buf_free(&rep);
    return j;
}

/* The lines of data[0..len) (each ending in \n) as sf_mask_line. */
static sf_mask_line *split_lines(const char *data, size_t len, size_t *n)
{
    size_t cap = 16;
    sf_mask_line *v = malloc(cap * sizeof(*v));
    *n = 0;
    for (const char *p = data, *e = data + len; p < e;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        cr_assert_not_null(nl);
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        v[*n].ptr = p;
        v[*n].len = (size_t)(nl - p);
        v[*n].eol = 1;
        (*n)++;
        p = nl + 1;
    }
    return v;
}

/* One table of one masker over COPY data split into lines, for a mask_* run. */
typedef struct run {
    sf_mask_policy *pol;
    sf_mask_key *key;
    sf_masker *m;
    sf_mask_table *t;
    sf_mask_line *lines;
    size_t n;
} run;

static void run_begin(run *r, outcome *o, const char *copy, const char *data, size_t len)
{
    r->m = new_masker(&r->pol, &r->key);
    r->lines = split_lines(data, len, &r->n);
    memset(o, 0, sizeof(*o));
    sf_buf_init(&o->out, 0);
    cr_assert_eq(sf_masker_table_begin(r->m, &r->t, copy, strlen(copy)), 0, "%s", sf_masker_error(r->m)->msg);
}

/* After the table ended or was aborted: the report into o, everything freed. */
static void run_end(run *r, outcome *o)
{
    o->report = report_of(r->m);
    free(r->lines);
    sf_masker_free(r->m);
    sf_mask_key_free(r->key);
    sf_mask_policy_free(r->pol);
}

/*
 * Mask COPY data with one sf_mask_table_line call per line (batched = 0),
 * or one sf_mask_table_lines call for all of them (line0 = 0: errors say
 * "row N" on both paths).
 */
static outcome mask_data(const char *copy, const char *data, size_t len, int batched)
{
    run r;
    outcome o;
    sf_mask_table *t;
    sf_mask_line *lines;
    size_t n;
    run_begin(&r, &o, copy, data, len);
    t = r.t, lines = r.lines, n = r.n;
    if (batched) {
        o.rc = sf_mask_table_lines(t, lines, n, 0, &o.out);
    } else {
        for (size_t i = 0; i < n && o.rc == 0; i++)
            if ((o.rc = sf_mask_table_line(t, lines[i].ptr, lines[i].len, &o.out)) == 0)
                sf_buf_addc(&o.out, '\n');
    }
    if (o.rc < 0) {
        snprintf(o.err, sizeof(o.err), "%s", sf_mask_table_error(t)->msg);
        sf_mask_table_abort(t);
    } else {
        cr_assert_eq(sf_mask_table_end(t), 0);
    }
    run_end(&r, &o);
    return o;
}

/*
 * The reference: each line split and decoded whole by the COPY codec
 * (sf_copy_split, sf_copy_decode), masked as decoded values
 * (sf_mask_table_row), and written back with untouched fields as their
 * original bytes and changed ones encoded by sf_copy_encode.
 */
static outcome mask_reference(const char *copy, const char *data, size_t len)
{
    run r;
    outcome o;
    sf_mask_table *t;
    sf_mask_line *lines;
    size_t n;
    run_begin(&r, &o, copy, data, len);
    t = r.t, lines = r.lines, n = r.n;
    for (size_t r = 0; r < n; r++) {
        size_t nc = t->ncols, bad = 0, got;
        sf_span *sp = calloc(nc, sizeof(*sp));
        sf_field *in = calloc(nc, sizeof(*in));
        sf_buf *dec = calloc(nc, sizeof(*dec));
        const sf_field *out;
        got = sf_copy_split(sp, nc, lines[r].ptr, lines[r].len, &bad);
        cr_assert_eq(got, nc, "reference: line %zu does not split into %zu fields", r + 1, nc);
        for (size_t i = 0; i < nc; i++) {
            const char *why;
            size_t at;
            sf_buf_init(&dec[i], 0);
            if (sf_copy_is_null(sp[i].ptr, sp[i].len)) {
                in[i].null = 1;
                continue;
            }
            cr_assert_eq(sf_copy_decode(&dec[i], sp[i].ptr, sp[i].len, &why, &at), 0, "reference: %s", why);
            in[i].ptr = dec[i].ptr;
            in[i].len = dec[i].len;
        }
        cr_assert_eq(sf_mask_table_row(t, in, &out), 0, "%s", sf_mask_table_error(t)->msg);
        for (size_t i = 0; i < nc; i++) {
            if (i)
                sf_buf_addc(&o.out, '\t');
            if (out[i].null == in[i].null && out[i].ptr == in[i].ptr && out[i].len == in[i].len)
                sf_buf_add(&o.out, sp[i].ptr, sp[i].len);
            else if (out[i].null)
                sf_buf_adds(&o.out, "\\N");
            else
                cr_assert_eq(sf_copy_encode(&o.out, out[i].ptr, out[i].len), 0);
        }
        sf_buf_addc(&o.out, '\n');
        for (size_t i = 0; i < nc; i++)
            sf_buf_free(&dec[i]);
        free(dec);
        free(in);
        free(sp);
    }
    cr_assert_eq(sf_mask_table_end(t), 0);
    run_end(&r, &o);
    return o;
}

/*
 * The batched and the one-row paths give the same bytes, counters and
 * errors (and the reference's, when valid), with each line splitter
 * (scalar, SSE2, AVX2; the CPU's best when it has less).
 */
static void assert_paths_agree_with(const char *copy, const char *data, size_t len, int want_rc)
{
    outcome a = mask_data(copy, data, len, 0), b = mask_data(copy, data, len, 1);
    cr_assert_eq(a.rc, want_rc, "one-row path: %s", a.err);
    cr_assert_eq(b.rc, want_rc, "batched path: %s", b.err);
    cr_assert_str_eq(b.err, a.err);
    cr_assert_eq(b.out.len, a.out.len, "batched output is %zu bytes, one-row output %zu", b.out.len, a.out.len);
    cr_assert_eq(memcmp(a.out.ptr, b.out.ptr, a.out.len), 0, "batched output differs from one-row output");
    if (want_rc == 0) {
        outcome ref = mask_reference(copy, data, len);
        cr_assert(json_equal(a.report, b.report), "the reports differ");
        cr_assert_eq(ref.out.len, a.out.len, "reference output is %zu bytes, one-row output %zu", ref.out.len,
                     a.out.len);
        cr_assert_eq(memcmp(a.out.ptr, ref.out.ptr, a.out.len), 0, "the output differs from the reference codec's");
        cr_assert(json_equal(a.report, ref.report), "the report differs from the reference's");
        outcome_free(&ref);
    }
    outcome_free(&a);
    outcome_free(&b);
}

static void assert_paths_agree(const char *copy, const char *data, size_t len, int want_rc)
{
    for (int simd = 0; simd <= 3; simd++) {
        sf_masker_simd = simd;
        assert_paths_agree_with(copy, data, len, want_rc);
    }
    sf_masker_simd = -1;
}

/* A small deterministic generator (xorshift64). */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A raw COPY field: plain text, escapes, octal/hex escapes, UTF-8, \N (NULL) and \\N (the text "\N"), any length. */
static void gen_field(sf_buf *b)
{
    static const char *const atoms[] = {"a", "Z", "7", " ", "@", ".", "-", "\xc3\xa9", "\xe2\x82\xac", "\\t", "\\n", "\\r",
                                        "\\\\", "\\b", "\\f", "\\v", "\\101", "\\x41", "\\x7", "\\N", "x\\Ny", "\\\\N"};
    unsigned kind = rnd(20), n;
    if (kind == 0) {
        sf_buf_adds(b, "\\N");
        return;
    }
    if (kind == 1) {
        sf_buf_adds(b, "\\\\N");
        return;
    }
    n = kind < 4 ? rnd(3) : kind < 17 ? rnd(24) : 16 + rnd(64);
    for (unsigned i = 0; i < n; i++)
        sf_buf_adds(b, atoms[rnd(kind < 10 ? 9 : sizeof(atoms) / sizeof(atoms[0]))]);
}

Test(maskrows, random_rows_agree_between_batched_and_one_row_paths)
{
    sf_buf d = SF_BUF_INIT;
    for (int r = 0; r < 3000; r++) {
        for (int f = 0; f < 8; f++) {
            if (f)
                sf_buf_addc(&d, '\t');
            gen_field(&d);
        }
        sf_buf_addc(&d, '\n');
    }
    assert_paths_agree(COPY_T, d.ptr, d.len, 0);
    sf_buf_free(&d);
}

/* Lines of every length around the 16-byte steps, with backslashes at every offset. */
Test(maskrows, backslashes_at_every_offset_of_short_and_long_lines)
{
    sf_buf d = SF_BUF_INIT;
    /* ... and a backslash before a raw tab (the tab is data, not a delimiter) */
    static const char *const esc[] = {"\\N", "\\\\", "\\t", "\\x41", "\\\\N", "\\\t"};
    for (int len = 0; len < 70; len++) {
        for (int at = 0; at <= len; at++) {
            for (int e = 0; e < 6; e++) {
                /* a, c and g (masked) hold the escape in turn; the others are plain */
                int col = (at + e) % 8;
                for (int f = 0; f < 8; f++) {
                    if (f)
                        sf_buf_addc(&d, '\t');
                    if (f == col) {
                        for (int i = 0; i < at; i++)
                            sf_buf_addc(&d, (char)('a' + i % 26));
                        if (!(e == 0 || e == 4) || at == 0)
                            sf_buf_adds(&d, esc[e]);
                        for (int i = at; i < len; i++)
                            sf_buf_addc(&d, (char)('A' + i % 26));
                    } else {
                        sf_buf_addc(&d, (char)('0' + f));
                    }
                }
                sf_buf_addc(&d, '\n');
            }
        }
    }
    assert_paths_agree(COPY_T, d.ptr, d.len, 0);
    sf_buf_free(&d);
}

/* Every byte value 1..255 in kept, masked and read fields (escaped where COPY escapes them, octal, hex and raw). */
Test(maskrows, every_byte_value)
{
    sf_buf d = SF_BUF_INIT, raw = SF_BUF_INIT, oct = SF_BUF_INIT;
    for (int c = 1; c < 256; c++) {
        const char *e = c == '\t' ? "\\t" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\\' ? "\\\\" : NULL;
        if (e)
            sf_buf_adds(&raw, e);
        else
            sf_buf_addc(&raw, (char)c);
        sf_buf_addf(&oct, c % 2 ? "\\%03o" : "\\x%02x", c);
    }
    for (int r = 0; r < 130; r++)
        sf_buf_addf(&d, "%s\t%s\t%s\t\\N\t%s\t%s\t%s\t%s\n", r % 2 ? raw.ptr : oct.ptr, raw.ptr, r % 3 ? oct.ptr : raw.ptr,
                    raw.ptr, oct.ptr, r % 5 ? raw.ptr : "x", raw.ptr);
    assert_paths_agree(COPY_T, d.ptr, d.len, 0);
    sf_buf_free(&d);
    sf_buf_free(&raw);
    sf_buf_free(&oct);
}

/* One-column rows (the masked field is first and last) and a masked last column set to "". */
Test(maskrows, one_field_rows_and_masked_last_field)
{
    sf_buf d = SF_BUF_INIT, e = SF_BUF_INIT;
    for (int r = 0; r < 200; r++) {
        sf_buf_addf(&d, r % 9 == 0 ? "\\N\n" : r % 4 == 0 ? "\n" : "user%d@example.org%s\n", r,
                    r % 7 == 0 ? "\\t" : "");
        sf_buf_addf(&e, "k%d\t%s\n", r, r % 3 == 0 ? "\\N" : r % 3 == 1 ? "" : "zzzzzzzzzzzzzzzzzzzzzzzzzz");
    }
    assert_paths_agree(COPY_ONE, d.ptr, d.len, 0);
    assert_paths_agree(COPY_TAIL, e.ptr, e.len, 0);
    /* a one-column table given rows of many fields */
    sf_buf_clear(&d);
    for (int r = 0; r < 80; r++)
        sf_buf_adds(&d, r == 33 ? "x\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\ty\n"
                                : "x@y.z\n");
    assert_paths_agree(COPY_ONE, d.ptr, d.len, SF_EFORMAT);
    sf_buf_free(&d);
    sf_buf_free(&e);
}

/* Masked values that come out empty (a rule may give them no storage at all) and short ones at the end of the output. */
Test(maskrows, empty_and_short_masked_values)
{
    sf_buf d = SF_BUF_INIT;
    for (int r = 0; r < 300; r++)
        sf_buf_addf(&d, "%d\t%s\n", r, r % 3 == 0 ? "" : r % 3 == 1 ? "\\N" : "v");
    assert_paths_agree(COPY_TOK, d.ptr, d.len, 0);
    sf_buf_free(&d);
}

/* Rows of several MB, masked fields before and after the long one, in the middle of a batch. */
Test(maskrows, rows_of_several_megabytes)
{
    sf_buf d = SF_BUF_INIT;
    for (int r = 0; r < 5; r++) {
        sf_buf_addf(&d, "a\tb\tc%d@x.org\td\t", r);
        for (size_t i = 0; i < ((size_t)3 << 20); i++) {
            if (i % 4096 == 4095)
                sf_buf_adds(&d, "\\n"); /* an escape now and then */
            else
                sf_buf_addc(&d, (char)('a' + i % 26));
        }
        sf_buf_adds(&d, "\tf\tG7\th\n");
        sf_buf_adds(&d, "a\tb\tc@x.org\td\te\tf\tg\th\n");
    }
    assert_paths_agree(COPY_T, d.ptr, d.len, 0);
    sf_buf_free(&d);
}

/* Bad rows in the middle of batches: the same error and the same rows written before it. */
Test(maskrows, errors_agree_between_paths)
{
    static const char *const bad[] = {
        "a\tb\tc\td\te\tf\tg\n",                        /* 7 fields */
        "a\tb\tc\td\te\tf\tg\th\ti\n",                  /* 9 fields */
        "a\tb\tc\td\te\tf\tg\th\\\n",                   /* backslash at the end */
        "a\tb\tc\\x\td\te\tf\tg\th\n",                  /* \x without a hex digit in a read field */
        "a\tb\tc\td\te\tf\tg\\0\th\n",                  /* an escape giving NUL in a read field */
        "a\tb\tc\td\te\tf\tg\t0123456789abcdef0123456789\\\n", /* broken escape in a long line's tail */
        /* far too many fields, in 16- and 32-byte steps full of tabs */
        "a\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t"
        "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\tz\n",
        "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t"
        "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\\\\\t\\\n", /* ... then a hard escape and a broken one */
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        sf_buf d = SF_BUF_INIT;
        for (int r = 0; r < 100; r++)
            sf_buf_adds(&d, r == 40 + (int)k ? bad[k] : "a1\tb\tc@d.e\t\\N\te\tf\tg8\th\n");
        assert_paths_agree(COPY_T, d.ptr, d.len, SF_EFORMAT);
        sf_buf_free(&d);
    }
}

/* Run a plain dump through sf_mask_run from a file (mapped) and through sf_mask_plain from a stream. */
static void run_plain_both(const char *dump, size_t len, sf_buf *mapped, sf_buf *streamed)
{
    char in[] = "/tmp/sf-maskrows-in-XXXXXX", out[64];
    sf_mask_policy *pol;
    sf_mask_key *key;
    sf_masker *m;
    FILE *fi, *fo;
    char *s = NULL;
    size_t slen = 0;
    int fd = mkstemp(in);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, dump, len), (ssize_t)len);
    close(fd);
    snprintf(out, sizeof(out), "%s.out", in);
    m = new_masker(&pol, &key);
    cr_assert_eq(sf_mask_run(m, SF_MASK_FORMAT_PLAIN, in, out, 1), 0, "%s", sf_masker_error(m)->msg);
    sf_masker_free(m);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    fi = fopen(out, "rb");
    cr_assert_not_null(fi);
    sf_buf_clear(mapped);
    for (int c; (c = fgetc(fi)) != EOF;)
        sf_buf_addc(mapped, (char)c);
    fclose(fi);
    m = new_masker(&pol, &key);
    fi = fmemopen((void *)dump, len, "rb");
    fo = open_memstream(&s, &slen);
    cr_assert_eq(sf_mask_plain(m, fi, fo), 0, "%s", sf_masker_error(m)->msg);
    fclose(fi);
    fclose(fo);
    sf_buf_set(streamed, s, slen);
    free(s);
    sf_masker_free(m);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    unlink(in);
    unlink(out);
}

/*
 * A mapped input file and a stream give the same masked dump, equal to the
 * one-row masking of its COPY data; identity tables come through verbatim
 * whatever their rows look like ("\." inside a line is not the end).
 */
Test(maskrows, plain_mapped_and_streamed_equal_one_row_masking)
{
    sf_buf data = SF_BUF_INIT, dump = SF_BUF_INIT, a = SF_BUF_INIT, b = SF_BUF_INIT, ident = SF_BUF_INIT;
    outcome want;
    const char *at;
    for (int r = 0; r < 700; r++) {
        for (int f = 0; f < 8; f++) {
            if (f)
                sf_buf_addc(&data, '\t');
            gen_field(&data);
        }
        sf_buf_addc(&data, '\n');
    }
    for (int r = 0; r < 300; r++)
        sf_buf_addf(&ident, "%.*s\\.%d\t\\\\.x\t%s\n", r % 40, "0123456789012345678901234567890123456789", r,
                    r % 5 ? "\\N" : "\\\\.");
    sf_buf_adds(&dump, DDL);
    sf_buf_adds(&dump, "CREATE TABLE public.keep (x text, y text, z text);\nCOPY public.keep (x, y, z) FROM stdin;\n");
    sf_buf_add(&dump, ident.ptr, ident.len);
    sf_buf_adds(&dump, "\\.\n");
    sf_buf_adds(&dump, COPY_T);
    sf_buf_addc(&dump, '\n');
    sf_buf_add(&dump, data.ptr, data.len);
    sf_buf_adds(&dump, "\\.\n");
    run_plain_both(dump.ptr, dump.len, &a, &b);
    cr_assert_eq(a.len, b.len);
    cr_assert_eq(memcmp(a.ptr, b.ptr, a.len), 0, "mapped and streamed outputs differ");
    cr_assert_not_null(memmem(a.ptr, a.len, ident.ptr, ident.len), "the identity table is not verbatim");
    want = mask_data(COPY_T, data.ptr, data.len, 0);
    cr_assert_eq(want.rc, 0, "%s", want.err);
    at = memmem(a.ptr, a.len, COPY_T, strlen(COPY_T));
    cr_assert_not_null(at);
    at += strlen(COPY_T) + 1;
    cr_assert((size_t)(a.ptr + a.len - at) == want.out.len + 3 && memcmp(at, want.out.ptr, want.out.len) == 0,
              "the plain reader's masked rows differ from one-row masking");
    outcome_free(&want);
    sf_buf_free(&data);
    sf_buf_free(&dump);
    sf_buf_free(&a);
    sf_buf_free(&b);
    sf_buf_free(&ident);
}

Test(maskrows, masked_values_of_every_length_encode_like_sf_copy_encode)
{
    /* fixed values of 0 to 70 bytes, clean or with one byte to escape (or a control byte that needs none) at the
       start, middle or end: the written field is sf_copy_encode's, whatever the value's length and position */
    static const char esc[] = {'\t', '\\', '\n', '\r', '\x01'};
    static const char *const yesc[] = {"\\t", "\\\\", "\\n", "\\r", "\\x01"};
    const char *copy = "COPY public.v (a, b) FROM stdin;";
    for (size_t len = 0; len <= 70; len++)
        for (int pos = -1; pos < 3; pos++)
            for (size_t e = 0; e < (pos < 0 ? 1 : sizeof(esc)); e++) {
                size_t at = pos == 0 ? 0 : pos == 1 ? len / 2 : len ? len - 1 : 0;
                char val[80], yaml[512];
                sf_buf yv = SF_BUF_INIT, want = SF_BUF_INIT, out = SF_BUF_INIT;
                sf_mask_policy *pol;
                sf_mask_key *key;
                sf_masker *m;
                sf_mask_table *t;
                sf_error err = {0};
                if (pos >= 0 && len == 0)
                    continue;
                for (size_t i = 0; i < len; i++)
                    val[i] = (char)('a' + i % 26);
                if (pos >= 0)
                    val[at] = esc[e];
                for (size_t i = 0; i < len; i++) {
                    if (pos >= 0 && i == at)
                        sf_buf_adds(&yv, yesc[e]);
                    else
                        sf_buf_addc(&yv, val[i]);
                }
                snprintf(yaml, sizeof(yaml), "version: 1\nstrict: false\ntables:\n  public.v:\n    a: {fixed: \"%s\"}\n", yv.ptr);
                cr_assert_eq(sf_mask_policy_load_mem(&pol, "v.yaml", yaml, strlen(yaml), &err), 0, "%s", err.msg);
                cr_assert_eq(sf_mask_key_from_bytes(&key, KEY, strlen(KEY), &err), 0, "%s", err.msg);
                cr_assert_eq(sf_masker_new(&m, pol, key, -1, &err), 0, "%s", err.msg);
                cr_assert_eq(sf_masker_ddl(m, "CREATE TABLE public.v (a text, b text);\n", 40), 0);
                cr_assert_eq(sf_masker_table_begin(m, &t, copy, strlen(copy)), 0, "%s", sf_masker_error(m)->msg);
                {
                    sf_mask_line lines[3] = {{"x\ty\n", 3, 1}, {"\\N\tz\n", 4, 1}, {"xy\tw\n", 4, 1}};
                    cr_assert_eq(sf_mask_table_lines(t, lines, 3, 0, &out), 0, "%s", sf_mask_table_error(t)->msg);
                }
                cr_assert_eq(sf_mask_table_end(t), 0);
                sf_copy_encode(&want, val, len);
                sf_buf_adds(&want, "\ty\n\\N\tz\n");
                sf_copy_encode(&want, val, len);
                sf_buf_adds(&want, "\tw\n");
                cr_assert_eq(out.len, want.len, "length %zu, byte %d at %zu", len, pos < 0 ? -1 : esc[e], at);
                cr_assert_eq(memcmp(out.ptr, want.ptr, out.len), 0, "length %zu, byte %d at %zu: '%s', want '%s'", len,
                             pos < 0 ? -1 : esc[e], at, out.ptr, want.ptr);
                sf_masker_free(m);
                sf_mask_key_free(key);
                sf_mask_policy_free(pol);
                sf_buf_free(&yv);
                sf_buf_free(&want);
                sf_buf_free(&out);
            }
}

Test(maskrows, wide_rows_of_mostly_empty_fields)
{
    /* 100 fields, most of them empty or one byte: up to 64 tabs per 64-byte step, ends far past the first step */
    sf_buf copy = SF_BUF_INIT, d = SF_BUF_INIT;
    sf_buf_adds(&copy, "COPY public.wide (");
    for (int i = 0; i < 100; i++)
        sf_buf_addf(&copy, "%sw%d", i ? ", " : "", i);
    sf_buf_adds(&copy, ") FROM stdin;");
    for (int r = 0; r < 400; r++) {
        for (int f = 0; f < 100; f++) {
            unsigned k = rnd(r % 4 == 0 ? 3 : 12);
            if (f)
                sf_buf_addc(&d, '\t');
            if (f == 3 || f == 50)
                sf_buf_addf(&d, "v%d@x.io%s", r, k == 0 ? "\\t" : "");
            else if (k == 1)
                sf_buf_adds(&d, "\\N");
            else if (k == 2)
                sf_buf_adds(&d, r % 5 ? "\\\\" : "\\t");
            else if (k == 3)
                gen_field(&d);
            else if (k == 4)
                sf_buf_addc(&d, (char)('a' + rnd(26)));
        }
        sf_buf_addc(&d, '\n');
    }
    assert_paths_agree(copy.ptr, d.ptr, d.len, 0);
    sf_buf_free(&copy);
    sf_buf_free(&d);
}
