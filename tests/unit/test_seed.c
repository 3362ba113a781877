/*
 * Seeding engine without a database: spec validation (file:line:column),
 * every generator's contract, profiles and parameters, determinism, COPY
 * text escaping, and the shipped distribution spec's row counts.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seed_util.h"
#include "stagefork/util.h"

#define HDR "version: 1\n"
#define PINNED_DIGEST "c1b013716bc338ba7cf1b403f1fc71f5426da3a6f6357dfb507fbad49c6ece78"

static char *run_ok(const char *yaml)
{
    sf_error err;
    char *out = seed_run(yaml, NULL, NULL, 1, &err);
    cr_assert_not_null(out, "seed failed: %s", err.msg);
    return out;
}

/* The spec must fail with `code` and a message starting "spec.yaml:LINE:COL: " and containing `what`. */
static void expect_error(const char *yaml, int code, int line, int col, const char *what)
{
    sf_error err;
    char prefix[64];
    char *out = seed_run(yaml, NULL, NULL, 1, &err);
    cr_assert_null(out, "expected an error containing '%s'", what);
    cr_assert_eq(err.code, code, "code %d (%s)", err.code, err.msg);
    snprintf(prefix, sizeof(prefix), "spec.yaml:%d:%d: ", line, col);
    cr_assert(strncmp(err.msg, prefix, strlen(prefix)) == 0, "expected '%s...', got '%s'", prefix, err.msg);
    cr_assert(strstr(err.msg, what) != NULL, "expected '%s' in '%s'", what, err.msg);
}

static long long cents(const char *v)
{
    /* "123.45" -> 12345 exactly (no floating point) */
    long long w = 0, f = 0;
    int neg = *v == '-', fd = 0;
    if (neg)
        v++;
    while (*v >= '0' && *v <= '9')
        w = w * 10 + (*v++ - '0');
    if (*v == '.')
        for (v++; *v >= '0' && *v <= '9' && fd < 2; fd++)
            f = f * 10 + (*v++ - '0');
    while (fd++ < 2)
        f *= 10;
    return (neg ? -1 : 1) * (w * 100 + f);
}

/* ---- determinism ---------------------------------------------------- */

static const char det_spec[] =
    HDR
    "params: {n: 300}\n"
    "tables:\n"
    "  - table: a\n"
    "    rows: n\n"
    "    columns:\n"
    "      id: seq\n"
    "      v: {int: {min: -5, max: 5000}}\n"
    "      d: {decimal: {min: 0, max: 99, scale: 3}}\n"
    "      day: {date: {from: 2020-01-01, to: 2024-12-31}}\n"
    "      ts: {timestamp: {from: 2020-01-01, to: 2020-01-02}}\n"
    "      p: {pick: {values: [x, y, z], weights: [1, 2, 3]}}\n"
    "      code: {pattern: 'AB-##?\?', unique: true}\n"
    "      k: {int: {min: 1, max: 100000}, unique: true, null: 0.1}\n"
    "  - table: b\n"
    "    rows: n * 3\n"
    "    columns:\n"
    "      a_id: {ref: a.id, skew: zipf}\n"
    "      code: {ref: a.code, row_of: a_id}\n"
    "      q: {int: {min: 1, max: 9}}\n"
    "      total: {expr: 'q * 2.5', scale: 2}\n";

Test(seed, same_seed_gives_identical_bytes)
{
    sf_error err;
    char *a = seed_run(det_spec, NULL, NULL, 42, &err), *b = seed_run(det_spec, NULL, NULL, 42, &err);
    cr_assert_not_null(a, "%s", err.msg);
    cr_assert_not_null(b);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
}

Test(seed, different_seed_gives_different_data)
{
    sf_error err;
    char *a = seed_run(det_spec, NULL, NULL, 1, &err), *b = seed_run(det_spec, NULL, NULL, 2, &err);
    seed_colvals va, vb;
    size_t same = 0;
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_str_neq(a, b);
    va = seed_column(a, "public.a", "v");
    vb = seed_column(b, "public.a", "v");
    cr_assert_eq(va.n, vb.n);
    for (size_t i = 0; i < va.n; i++)
        same += !strcmp(va.v[i], vb.v[i]);
    cr_assert_lt(same, va.n / 10, "%zu of %zu values equal across seeds", same, va.n);
    seed_colvals_free(&va);
    seed_colvals_free(&vb);
    free(a);
    free(b);
}

/*
 * Pinned digest of the output for seed 7: changes only when generation
 * changes on purpose (then update it and say so in the commit), and proves
 * output does not depend on the machine, time or environment.
 */
Test(seed, output_is_pinned_for_a_seed)
{
    sf_error err;
    char *a = seed_run(det_spec, NULL, NULL, 7, &err);
    char hex[65];
    cr_assert_not_null(a);
    sf_sha256_hex(hex, a, strlen(a));
    cr_log_info("digest %s", hex);
    cr_assert_str_eq(hex, PINNED_DIGEST);
    free(a);
}

/* ---- generators ----------------------------------------------------- */

Test(seed, seq_counts_from_start_by_step)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 5\n    columns:\n"
                           "      a: seq\n      b: {seq: {start: 1000, step: -7}}\n");
    seed_colvals a = seed_column(out, "public.t", "a"), b = seed_column(out, "public.t", "b");
    cr_assert_eq(a.n, 5);
    for (size_t i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof(want), "%zu", i + 1);
        cr_assert_str_eq(a.v[i], want);
        snprintf(want, sizeof(want), "%lld", 1000 - 7 * (long long)i);
        cr_assert_str_eq(b.v[i], want);
    }
    seed_colvals_free(&a);
    seed_colvals_free(&b);
    free(out);
}

Test(seed, int_stays_in_range_and_reaches_both_ends)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 2000\n    columns:\n      v: {int: {min: -3, max: 3}}\n");
    seed_colvals v = seed_column(out, "public.t", "v");
    int seen[7] = {0};
    for (size_t i = 0; i < v.n; i++) {
        long long x = strtoll(v.v[i], NULL, 10);
        cr_assert(x >= -3 && x <= 3, "%lld out of range", x);
        seen[x + 3]++;
    }
    for (int i = 0; i < 7; i++)
        cr_assert_gt(seen[i], 200, "value %d seen %d times of 2000", i - 3, seen[i]);
    seed_colvals_free(&v);
    free(out);
}

Test(seed, int_handles_64_bit_limits)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 200\n    columns:\n"
                           "      v: {int: {min: -9223372036854775808, max: 9223372036854775807}}\n"
                           "  - table: u\n    rows: 2\n    columns:\n"
                           "      w: {int: {min: 9223372036854775806, max: 9223372036854775807}, unique: true}\n");
    seed_colvals v = seed_column(out, "public.t", "v"), w = seed_column(out, "public.u", "w");
    int neg = 0;
    cr_assert_eq(v.n, 200);
    for (size_t i = 0; i < v.n; i++)
        neg += v.v[i][0] == '-';
    cr_assert(neg > 50 && neg < 150, "%d negatives of 200", neg);
    cr_assert_eq(w.n, 2);
    cr_assert_str_neq(w.v[0], w.v[1]);
    cr_assert(!strcmp(w.v[0], "9223372036854775807") || !strcmp(w.v[1], "9223372036854775807"));
    seed_colvals_free(&v);
    seed_colvals_free(&w);
    free(out);
}

Test(seed, unique_int_is_a_permutation_of_the_range)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 1000\n    columns:\n"
                           "      v: {int: {min: 5001, max: 6000}, unique: true}\n");
    seed_colvals v = seed_column(out, "public.t", "v");
    unsigned char seen[1000] = {0};
    int in_order = 0;
    for (size_t i = 0; i < v.n; i++) {
        long long x = strtoll(v.v[i], NULL, 10);
        cr_assert(x >= 5001 && x <= 6000);
        cr_assert_eq(seen[x - 5001], 0, "duplicate %lld", x);
        seen[x - 5001] = 1;
        in_order += x == (long long)(5001 + i);
    }
    cr_assert_lt(in_order, 50, "a permutation, not the identity");
    seed_colvals_free(&v);
    free(out);
}

Test(seed, decimal_has_exact_scale_and_range)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 1000\n    columns:\n"
                           "      v: {decimal: {min: -1.5, max: 2.25, scale: 3}}\n"
                           "      w: {decimal: {min: 0, max: 1, scale: 0}}\n");
    seed_colvals v = seed_column(out, "public.t", "v"), w = seed_column(out, "public.t", "w");
    for (size_t i = 0; i < v.n; i++) {
        const char *dot = strchr(v.v[i], '.');
        double x = strtod(v.v[i], NULL);
        cr_assert_not_null(dot, "%s", v.v[i]);
        cr_assert_eq(strlen(dot + 1), 3, "%s has scale 3", v.v[i]);
        cr_assert(x >= -1.5 && x <= 2.25, "%s", v.v[i]);
        cr_assert(dot > v.v[i] && dot[-1] >= '0' && dot[-1] <= '9', "leading zero in %s", v.v[i]);
        cr_assert(!strchr(w.v[i], '.') && (!strcmp(w.v[i], "0") || !strcmp(w.v[i], "1")));
    }
    seed_colvals_free(&v);
    seed_colvals_free(&w);
    free(out);
}

Test(seed, dates_and_timestamps_stay_in_range)
{
    char *out = run_ok(HDR "params: {recent: 10}\n"
                           "tables:\n  - table: t\n    rows: 500\n    columns:\n"
                           "      d: {date: {from: 2024-02-27, to: 2024-03-01}}\n"
                           "      r: {date: {to: 2025-06-30, days: recent}}\n"
                           "      ts: {timestamp: {from: '1999-12-31 23:59:00', to: '2000-01-01 00:01:00'}}\n"
                           "      td: {timestamp: {from: 2024-02-29, to: 2024-02-29}}\n"
                           "      tr: {timestamp: {to: '2025-06-30 12:00:00', days: recent}}\n");
    seed_colvals d = seed_column(out, "public.t", "d"), r = seed_column(out, "public.t", "r"),
                 ts = seed_column(out, "public.t", "ts"), td = seed_column(out, "public.t", "td"),
                 tr = seed_column(out, "public.t", "tr");
    int leap = 0;
    for (size_t i = 0; i < d.n; i++) {
        cr_assert(strcmp(d.v[i], "2024-02-27") >= 0 && strcmp(d.v[i], "2024-03-01") <= 0, "%s", d.v[i]);
        leap += !strcmp(d.v[i], "2024-02-29");
        cr_assert(strcmp(r.v[i], "2025-06-20") >= 0 && strcmp(r.v[i], "2025-06-30") <= 0, "%s", r.v[i]);
        cr_assert_eq(strlen(ts.v[i]), 19);
        cr_assert(strcmp(ts.v[i], "1999-12-31 23:59:00") >= 0 && strcmp(ts.v[i], "2000-01-01 00:01:00") <= 0, "%s",
                  ts.v[i]);
        cr_assert(!strncmp(td.v[i], "2024-02-29 ", 11) && strlen(td.v[i]) == 19, "a date bound covers its day: %s",
                  td.v[i]);
        cr_assert(strcmp(tr.v[i], "2025-06-20 12:00:00") >= 0 && strcmp(tr.v[i], "2025-06-30 12:00:00") <= 0, "%s",
                  tr.v[i]);
    }
    cr_assert_gt(leap, 50, "2024-02-29 exists");
    seed_colvals_free(&d);
    seed_colvals_free(&r);
    seed_colvals_free(&ts);
    seed_colvals_free(&td);
    seed_colvals_free(&tr);
    free(out);
}

Test(seed, pick_values_are_members_and_follow_weights)
{
    char *out = run_ok(HDR "params: {w: 0}\n"
                           "tables:\n  - table: t\n    rows: 4000\n    columns:\n"
                           "      p: {pick: [red, green, blue]}\n"
                           "      q: {pick: {values: [a, b, never], weights: [1, 3, w]}}\n"
                           "      n: {pick: [x, null]}\n");
    seed_colvals p = seed_column(out, "public.t", "p"), q = seed_column(out, "public.t", "q"),
                 n = seed_column(out, "public.t", "n");
    int a = 0, b = 0, nulls = 0;
    for (size_t i = 0; i < p.n; i++) {
        cr_assert(!strcmp(p.v[i], "red") || !strcmp(p.v[i], "green") || !strcmp(p.v[i], "blue"));
        cr_assert(strcmp(q.v[i], "never") != 0, "zero weight never picked");
        a += !strcmp(q.v[i], "a");
        b += !strcmp(q.v[i], "b");
        nulls += n.v[i] == NULL;
    }
    cr_assert(b > 2 * a && b < 4 * a, "weights 1:3 gave %d:%d", a, b);
    cr_assert(nulls > 1600 && nulls < 2400, "pick null gives SQL NULL (%d of 4000)", nulls);
    seed_colvals_free(&p);
    seed_colvals_free(&q);
    seed_colvals_free(&n);
    free(out);
}

Test(seed, unique_pick_uses_each_value_once)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 4\n    columns:\n"
                           "      p: {pick: [a, b, c, d], unique: true}\n");
    seed_colvals p = seed_column(out, "public.t", "p");
    int seen[4] = {0};
    for (size_t i = 0; i < p.n; i++)
        seen[p.v[i][0] - 'a']++;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(seen[i], 1);
    seed_colvals_free(&p);
    free(out);
}

Test(seed, const_repeats_its_value_or_null)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 3\n    columns:\n"
                           "      c: {const: 'EUR'}\n      n: {const: null}\n      s: {const: '\\N'}\n");
    seed_colvals c = seed_column(out, "public.t", "c"), n = seed_column(out, "public.t", "n"),
                 s = seed_column(out, "public.t", "s");
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(c.v[i], "EUR");
        cr_assert_null(n.v[i]);
        cr_assert_str_eq(s.v[i], "\\N", "the text \\N is not NULL");
    }
    cr_assert(strstr(out, "\t\\\\N\n") != NULL, "literal backslash-N is escaped");
    seed_colvals_free(&c);
    seed_colvals_free(&n);
    seed_colvals_free(&s);
    free(out);
}

Test(seed, pattern_has_its_shape)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 500\n    columns:\n"
                           "      p: {pattern: 'SKU-##?-\\#x-Ü'}\n");
    seed_colvals p = seed_column(out, "public.t", "p");
    for (size_t i = 0; i < p.n; i++) {
        const char *v = p.v[i];
        cr_assert_eq(strlen(v), strlen("SKU-12A-#x-Ü"), "%s", v);
        cr_assert(!strncmp(v, "SKU-", 4) && v[4] >= '0' && v[4] <= '9' && v[5] >= '0' && v[5] <= '9' &&
                      v[6] >= 'A' && v[6] <= 'Z' && !strcmp(v + 7, "-#x-Ü"),
                  "%s", v);
    }
    seed_colvals_free(&p);
    free(out);
}

Test(seed, unique_pattern_covers_its_whole_domain)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 260\n    columns:\n"
                           "      p: {pattern: 'X#?', unique: true}\n");
    seed_colvals p = seed_column(out, "public.t", "p");
    unsigned char seen[260] = {0};
    for (size_t i = 0; i < p.n; i++) {
        int k = (p.v[i][1] - '0') * 26 + (p.v[i][2] - 'A');
        cr_assert_eq(seen[k], 0, "duplicate %s", p.v[i]);
        seen[k] = 1;
    }
    seed_colvals_free(&p);
    free(out);
}

Test(seed, unique_domain_too_small_is_a_validation_error)
{
    expect_error(HDR "tables:\n  - table: t\n    rows: 101\n    columns:\n      p: {pattern: '##', unique: true}\n",
                 SF_ECONFIG, 6, 7, "needs 101 distinct values");
    expect_error(HDR "tables:\n  - table: t\n    rows: 11\n    columns:\n      v: {int: {min: 0, max: 9}, unique: true}\n",
                 SF_ECONFIG, 6, 7, "has only 10");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1000000\n    columns:\n      v: {dict: city, unique: true}\n",
                 SF_ECONFIG, 6, 7, "dict generator has only");
    expect_error(HDR "tables:\n  - table: p\n    rows: 2\n    columns: {id: seq}\n"
                     "  - table: t\n    rows: 3\n    columns:\n      v: {ref: p.id, unique: true}\n",
                 SF_ECONFIG, 9, 7, "ref generator has only 2");
}

Test(seed, dictionaries_give_known_values)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 200\n    columns:\n"
                           "      c: {dict: company}\n      n: {dict: name}\n      f: {dict: first_name}\n"
                           "      l: {dict: last_name}\n      ci: {dict: city}\n      s: {dict: street}\n"
                           "      p: {dict: product}\n      u: {dict: product, unique: true}\n");
    seed_colvals n = seed_column(out, "public.t", "n"), p = seed_column(out, "public.t", "p"),
                 u = seed_column(out, "public.t", "u");
    for (size_t i = 0; i < n.n; i++) {
        cr_assert_not_null(strchr(n.v[i], ' '), "name is 'first last': %s", n.v[i]);
        cr_assert_geq(strlen(p.v[i]), 5);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(u.v[i], u.v[j], "unique products");
    }
    seed_colvals_free(&n);
    seed_colvals_free(&p);
    seed_colvals_free(&u);
    free(out);
}

Test(seed, email_is_unique_lowercase_and_valid)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 3000\n    columns:\n"
                           "      who: {pick: ['Zoë Ångström-Müller', 'Tom O''Neil', '李伟', null]}\n"
                           "      e: {email: {from: who, domains: [example.com, example.org]}}\n"
                           "      plain: email\n");
    seed_colvals e = seed_column(out, "public.t", "e"), plain = seed_column(out, "public.t", "plain");
    int zoe = 0;
    for (size_t i = 0; i < e.n; i++) {
        const char *at = strchr(e.v[i], '@');
        cr_assert_not_null(at, "%s", e.v[i]);
        cr_assert(!strcmp(at, "@example.com") || !strcmp(at, "@example.org"), "%s", e.v[i]);
        for (const char *c = e.v[i]; c < at; c++)
            cr_assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.', "%s", e.v[i]);
        cr_assert(e.v[i][0] != '.' && at[-1] != '.', "%s", e.v[i]);
        zoe += !strncmp(e.v[i], "zoe.angstrom.muller.", 20);
        cr_assert_not_null(strchr(plain.v[i], '@'));
    }
    cr_assert_gt(zoe, 500, "accents transliterated");
    /* uniqueness: the row number is part of the mailbox */
    for (size_t i = 1; i < e.n; i++)
        cr_assert_str_neq(e.v[i], e.v[i - 1]);
    seed_colvals_free(&e);
    seed_colvals_free(&plain);
    free(out);
}

static const char ref_spec[] =
    HDR
    "tables:\n"
    "  - table: parent\n"
    "    rows: 1000\n"
    "    columns:\n"
    "      id: {seq: {start: 10, step: 10}}\n"
    "      grp: {int: {min: 1, max: 50}}\n"
    "  - table: child\n"
    "    rows: 20000\n"
    "    columns:\n"
    "      u: {ref: parent.id}\n"
    "      z: {ref: parent.id, skew: zipf, s: 1.1}\n"
    "      zg: {ref: parent.grp, row_of: z}\n";

static double top_share(seed_colvals *v, size_t parents, size_t top)
{
    size_t *count = calloc(parents, sizeof(size_t)), sum = 0;
    cr_assert_not_null(count);
    for (size_t i = 0; i < v->n; i++) {
        long long id = strtoll(v->v[i], NULL, 10);
        cr_assert(id >= 10 && id <= 10 * (long long)parents && id % 10 == 0, "ref %lld is a parent key", id);
        count[id / 10 - 1]++;
    }
    for (size_t k = 0; k < top; k++) { /* sum of the `top` largest counts */
        size_t best = 0;
        for (size_t i = 1; i < parents; i++)
            if (count[i] > count[best])
                best = i;
        sum += count[best];
        count[best] = 0;
    }
    free(count);
    return (double)sum / (double)v->n;
}

Test(seed, ref_points_at_parent_keys_and_zipf_is_hot)
{
    char *out = run_ok(ref_spec);
    seed_colvals u = seed_column(out, "public.child", "u"), z = seed_column(out, "public.child", "z");
    double su = top_share(&u, 1000, 10), sz = top_share(&z, 1000, 10);
    cr_log_info("top 1%% of parents: uniform %.3f, zipf %.3f", su, sz);
    cr_assert_lt(su, 0.04, "uniform: top 1%% of parents get ~1%%");
    cr_assert_gt(sz, 0.30, "zipf s=1.1: top 1%% of parents get > 30%%");
    seed_colvals_free(&u);
    seed_colvals_free(&z);
    free(out);
}

Test(seed, row_of_takes_columns_from_the_same_parent_row)
{
    char *out = run_ok(ref_spec);
    seed_colvals pid = seed_column(out, "public.parent", "id"), pg = seed_column(out, "public.parent", "grp"),
                 z = seed_column(out, "public.child", "z"), zg = seed_column(out, "public.child", "zg");
    for (size_t i = 0; i < z.n; i++) {
        size_t row = (size_t)(strtoll(z.v[i], NULL, 10) / 10 - 1);
        cr_assert_str_eq(pid.v[row], z.v[i]);
        cr_assert_str_eq(zg.v[i], pg.v[row], "child row %zu", i);
    }
    seed_colvals_free(&pid);
    seed_colvals_free(&pg);
    seed_colvals_free(&z);
    seed_colvals_free(&zg);
    free(out);
}

Test(seed, composite_unique_combinations_are_distinct)
{
    char *out = run_ok(HDR "tables:\n  - table: w\n    rows: 7\n    columns: {id: seq}\n"
                           "  - table: p\n    rows: 30\n    columns: {id: seq}\n"
                           "  - table: inv\n    rows: 210\n    unique: [w_id, p_id]\n    columns:\n"
                           "      w_id: {ref: w.id}\n      p_id: {ref: p.id}\n");
    seed_colvals a = seed_column(out, "public.inv", "w_id"), b = seed_column(out, "public.inv", "p_id");
    unsigned char seen[8][31] = {{0}};
    for (size_t i = 0; i < a.n; i++) {
        int x = (int)strtol(a.v[i], NULL, 10), y = (int)strtol(b.v[i], NULL, 10);
        cr_assert(x >= 1 && x <= 7 && y >= 1 && y <= 30);
        cr_assert_eq(seen[x][y], 0, "duplicate (%d, %d)", x, y);
        seen[x][y] = 1;
    }
    seed_colvals_free(&a);
    seed_colvals_free(&b);
    free(out);
    expect_error(HDR "tables:\n  - table: w\n    rows: 2\n    columns: {id: seq}\n"
                     "  - table: inv\n    rows: 7\n    unique: [a, b]\n    columns:\n"
                     "      a: {ref: w.id}\n      b: {pick: [x, y, z]}\n",
                 SF_ECONFIG, 8, 13, "only have 6 combinations");
}

Test(seed, null_ratio_is_respected)
{
    char *out = run_ok(HDR "params: {p: 0.25}\n"
                           "tables:\n  - table: t\n    rows: 8000\n    columns:\n"
                           "      v: {int: {min: 1, max: 5}, null: p}\n      never: {int: {min: 1, max: 5}, null: 0}\n");
    seed_colvals v = seed_column(out, "public.t", "v"), nv = seed_column(out, "public.t", "never");
    int nulls = 0;
    for (size_t i = 0; i < v.n; i++) {
        nulls += v.v[i] == NULL;
        cr_assert_not_null(nv.v[i]);
    }
    cr_assert(nulls > 1700 && nulls < 2300, "%d nulls of 8000 at 0.25", nulls);
    seed_colvals_free(&v);
    seed_colvals_free(&nv);
    free(out);
}

Test(seed, expr_line_total_is_exactly_qty_times_price)
{
    char *out = run_ok(HDR "tables:\n  - table: p\n    rows: 50\n    columns:\n"
                           "      id: seq\n      price: {decimal: {min: 0.01, max: 99999.99, scale: 2}}\n"
                           "  - table: l\n    rows: 5000\n    columns:\n"
                           "      pid: {ref: p.id}\n      qty: {int: {min: 1, max: 999}}\n"
                           "      price: {ref: p.price, row_of: pid}\n      total: {expr: 'qty * price'}\n"
                           "      half: {expr: '(qty + 1) / 2', scale: 1}\n");
    seed_colvals q = seed_column(out, "public.l", "qty"), pr = seed_column(out, "public.l", "price"),
                 t = seed_column(out, "public.l", "total"), h = seed_column(out, "public.l", "half");
    for (size_t i = 0; i < q.n; i++) {
        long long qty = strtoll(q.v[i], NULL, 10);
        cr_assert_eq(cents(t.v[i]), qty * cents(pr.v[i]), "%s * %s = %s", q.v[i], pr.v[i], t.v[i]);
        cr_assert_not_null(strchr(t.v[i], '.'), "scale 2 kept: %s", t.v[i]);
        cr_assert_eq(cents(h.v[i]), (qty + 1) * 50, "(%s + 1) / 2 = %s", q.v[i], h.v[i]);
    }
    seed_colvals_free(&q);
    seed_colvals_free(&pr);
    seed_colvals_free(&t);
    seed_colvals_free(&h);
    free(out);
}

Test(seed, copy_text_escapes_and_round_trips)
{
    char *out = run_ok(HDR "tables:\n  - table: t\n    rows: 40\n    columns:\n"
                           "      s: {pick: [\"tab\\there\", \"two\\nlines\", \"cr\\rlf\", 'back\\slash', 'Zoë 東京 😀']}\n");
    seed_colvals s = seed_column(out, "public.t", "s");
    const char *want[] = {"tab\there", "two\nlines", "cr\rlf", "back\\slash", "Zoë 東京 😀"};
    int seen[5] = {0};
    for (size_t i = 0; i < s.n; i++)
        for (int k = 0; k < 5; k++)
            seen[k] += !strcmp(s.v[i], want[k]);
    for (int k = 0; k < 5; k++)
        cr_assert_gt(seen[k], 0, "value %d round-trips", k);
    cr_assert_not_null(strstr(out, "tab\\there"));
    cr_assert_not_null(strstr(out, "two\\nlines"));
    cr_assert_not_null(strstr(out, "cr\\rlf"));
    cr_assert_not_null(strstr(out, "back\\\\slash"));
    seed_colvals_free(&s);
    free(out);
}

Test(seed, odd_identifiers_are_quoted_in_copy_headers)
{
    char *out = run_ok(HDR "tables:\n  - table: 'erp.\"Supplier Contacts\"'\n    rows: 1\n    columns:\n"
                           "      \"Full Name\": {const: x}\n      id: seq\n      \"select\": {const: y}\n");
    cr_assert_not_null(strstr(out, "COPY erp.\"Supplier Contacts\" (\"Full Name\", id, \"select\") FROM stdin;\n"), "%s",
                       out);
    free(out);
}

/* ---- row counts, params, profiles ----------------------------------- */

static const char prof_spec[] =
    HDR
    "params: {scale: 1, tenants: 3}\n"
    "profiles:\n"
    "  small: {scale: 0.01}\n"
    "  many: {tenants: 7}\n"
    "  one: {tenants: 1, scale: 2}\n"
    "tables:\n"
    "  - table: t\n"
    "    rows: tenants\n"
    "    columns: {id: seq}\n"
    "  - table: c\n"
    "    rows: \"tenants * 200 * scale\"\n"
    "    columns: {id: seq}\n"
    "  - table: d\n"
    "    rows: (tenants + 1) * 10 / 3 - 1\n"
    "    columns: {id: seq}\n";

static void rows_of(const char *profiles, const char *const *sets, int64_t want_t, int64_t want_c, int64_t want_d)
{
    sf_seed *s;
    sf_error err;
    int64_t r;
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", prof_spec, strlen(prof_spec), &err), 0, "%s", err.msg);
    if (profiles)
        cr_assert_eq(sf_seed_use_profiles(s, profiles), 0, "%s", sf_seed_error(s)->msg);
    for (size_t i = 0; sets && sets[i]; i++)
        cr_assert_eq(sf_seed_set(s, sets[i]), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(sf_seed_resolve(s), 0, "%s", sf_seed_error(s)->msg);
    sf_seed_table_info(s, 0, NULL, &r);
    cr_assert_eq(r, want_t, "%s: t rows %lld", profiles ? profiles : "-", (long long)r);
    sf_seed_table_info(s, 1, NULL, &r);
    cr_assert_eq(r, want_c, "%s: c rows %lld", profiles ? profiles : "-", (long long)r);
    sf_seed_table_info(s, 2, NULL, &r);
    cr_assert_eq(r, want_d, "%s: d rows %lld", profiles ? profiles : "-", (long long)r);
    sf_seed_free(s);
}

Test(seed, row_counts_follow_expressions_profiles_and_sets)
{
    const char *set_scale[] = {"scale=0.005", NULL};
    const char *set_two[] = {"tenants=10", "scale=0.5", NULL};
    rows_of(NULL, NULL, 3, 600, 12);              /* (3+1)*10/3 - 1 = 12.33 -> 12 */
    rows_of("small", NULL, 3, 6, 12);             /* 3*200*0.01 = 6 exactly, despite binary rounding */
    rows_of("small,many", NULL, 7, 14, 25);       /* later profiles add/override */
    rows_of("many,one", NULL, 1, 400, 5);         /* left to right: one wins */
    rows_of("one,many", NULL, 7, 2800, 25);
    rows_of("small", set_scale, 3, 3, 12);        /* --set overrides the profile */
    rows_of("many", set_two, 10, 1000, 35);
}

Test(seed, rows_can_use_earlier_tables_and_min_max)
{
    sf_seed *s;
    sf_error err;
    int64_t r;
    const char spec[] = HDR "params: {scale: 0.001}\n"
                            "tables:\n"
                            "  - table: customers\n    rows: max(5, 20000 * scale)\n    columns: {id: seq}\n"
                            "  - table: orders\n    rows: customers * 3\n    columns: {id: seq}\n"
                            "  - table: lines\n    rows: min(orders, 10, 12) + max(1, 2, 3) - min(0.5, 1)\n"
                            "    columns: {id: seq}\n";
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_resolve(s), 0, "%s", sf_seed_error(s)->msg);
    sf_seed_table_info(s, 0, NULL, &r);
    cr_assert_eq(r, 20);
    sf_seed_table_info(s, 1, NULL, &r);
    cr_assert_eq(r, 60);
    sf_seed_table_info(s, 2, NULL, &r);
    cr_assert_eq(r, 12); /* 10 + 3 - 0.5 = 12.5 -> 12 */
    cr_assert_eq(sf_seed_set(s, "scale=0.00001"), 0);
    cr_assert_eq(sf_seed_resolve(s), 0);
    sf_seed_table_info(s, 1, NULL, &r);
    cr_assert_eq(r, 15, "max() floors the parent, and the child follows it");
    sf_seed_free(s);
    expect_error(HDR "tables:\n  - table: a\n    rows: b * 2\n    columns: {id: seq}\n"
                     "  - table: b\n    rows: 1\n    columns: {id: seq}\n",
                 SF_ECONFIG, 4, 11, "unknown name 'b'");
    expect_error(HDR "tables:\n  - table: a\n    rows: avg(1, 2)\n    columns: {id: seq}\n", SF_ECONFIG, 4, 11,
                 "unknown function 'avg'");
    expect_error(HDR "tables:\n  - table: a\n    rows: max(1)\n    columns: {id: seq}\n", SF_ECONFIG, 4, 11,
                 "two or more arguments");
}

Test(seed, unknown_profiles_and_params_are_usage_errors)
{
    sf_seed *s;
    sf_error err;
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", prof_spec, strlen(prof_spec), &err), 0);
    cr_assert_eq(sf_seed_use_profiles(s, "small,nosuch"), SF_EUSAGE);
    cr_assert(strstr(sf_seed_error(s)->msg, "unknown profile 'nosuch'") &&
                  strstr(sf_seed_error(s)->msg, "small, many, one"),
              "%s", sf_seed_error(s)->msg);
    cr_assert_eq(sf_seed_use_profiles(s, "small,"), SF_EUSAGE);
    cr_assert_eq(sf_seed_set(s, "nosuch=1"), SF_EUSAGE);
    cr_assert(strstr(sf_seed_error(s)->msg, "unknown parameter 'nosuch'"), "%s", sf_seed_error(s)->msg);
    cr_assert_eq(sf_seed_set(s, "scale=abc"), SF_EUSAGE);
    cr_assert_eq(sf_seed_set(s, "scale"), SF_EUSAGE);
    cr_assert_eq(sf_seed_set(s, "scale=1e400"), SF_EUSAGE);
    /* a failed profile list changed nothing */
    cr_assert_eq(sf_seed_resolve(s), 0);
    {
        int64_t r;
        sf_seed_table_info(s, 1, NULL, &r);
        cr_assert_eq(r, 600);
    }
    sf_seed_free(s);
}

Test(seed, row_expression_errors_name_the_position)
{
    expect_error(HDR "params: {a: 1}\ntables:\n  - table: t\n    rows: a * bogus\n    columns: {id: seq}\n", SF_ECONFIG,
                 5, 15, "unknown name 'bogus'");
    expect_error(HDR "params: {a: 1}\ntables:\n  - table: t\n    rows: \"a * (2 + 3\"\n    columns: {id: seq}\n",
                 SF_ECONFIG, 5, 16, "unbalanced '('");
    expect_error(HDR "params: {a: 1}\ntables:\n  - table: t\n    rows: a - 5\n    columns: {id: seq}\n", SF_ECONFIG, 5,
                 11, "must be >= 0");
    expect_error(HDR "params: {a: 0}\ntables:\n  - table: t\n    rows: 10 / a\n    columns: {id: seq}\n", SF_ECONFIG, 5,
                 14, "division by zero");
    expect_error(HDR "params: {a: 1}\ntables:\n  - table: t\n    rows: a $ 2\n    columns: {id: seq}\n", SF_ECONFIG, 5,
                 13, "unexpected '$'");
    expect_error(HDR "profiles: {p: {a: 1}}\ntables:\n  - table: t\n    rows: a\n    columns: {id: seq}\n", SF_ECONFIG,
                 5, 11, "parameter 'a' has no value");
}

/* ---- spec validation ------------------------------------------------ */

Test(seed, spec_errors_name_file_line_column)
{
    expect_error("tables: []\n", SF_ECONFIG, 1, 1, "needs 'version: 1'");
    expect_error("version: 2\ntables: []\n", SF_ECONFIG, 1, 10, "unsupported seed spec version");
    expect_error(HDR "tables: []\nextra: 1\n", SF_ECONFIG, 3, 1, "unknown key 'extra'");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {sequence: 1}\n", SF_ECONFIG, 6, 11,
                 "unknown generator or option 'sequence'");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: serial\n", SF_ECONFIG, 6, 10,
                 "unknown generator 'serial'");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1, max: 2}, const: 3}\n",
                 SF_ECONFIG, 6, 34, "two generators");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1}}\n", SF_ECONFIG, 6, 16,
                 "needs min and max");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {dict: planets}\n", SF_ECONFIG, 6, 17,
                 "unknown dictionary 'planets'");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {date: {from: 2024-02-30, to: 2024-03-01}}\n",
                 SF_ECONFIG, 6, 24, "is not a date");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {date: {from: 2024-02-01}}\n", SF_ECONFIG, 6,
                 17, "exactly two of from, to and days");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {pick: {values: [a, b], weights: [1]}}\n",
                 SF_ECONFIG, 6, 43, "2 values but 1 weights");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 5, max: 1}}\n", SF_ECONFIG, 6,
                 30, "below min");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1.5, max: 3}}\n", SF_ECONFIG, 6,
                 22, "whole number");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {pattern: 'A\\'}\n", SF_ECONFIG, 6, 20,
                 "lone");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns: {a: seq}\n  - table: public.t\n    rows: 1\n"
                     "    columns: {a: seq}\n",
                 SF_ECONFIG, 6, 12, "listed twice");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns: {a: {seq: {step: 0}}}\n", SF_ECONFIG, 5, 31,
                 "must not be 0");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1, max: 2}, skew: zipf}\n",
                 SF_ECONFIG, 6, 34, "only applies to ref");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1, max: 2}, null: 1.5}\n",
                 SF_ECONFIG, 6, 40, "between 0 and 1");
}

Test(seed, refs_must_point_at_earlier_tables)
{
    expect_error(HDR "tables:\n  - table: a\n    rows: 1\n    columns:\n      x: {ref: b.id}\n"
                     "  - table: b\n    rows: 1\n    columns: {id: seq}\n",
                 SF_ECONFIG, 6, 16, "is generated later");
    expect_error(HDR "tables:\n  - table: a\n    rows: 1\n    columns:\n      id: seq\n      x: {ref: a.id}\n", SF_ECONFIG,
                 7, 16, "self-references");
    expect_error(HDR "tables:\n  - table: a\n    rows: 1\n    columns:\n      x: {ref: nowhere.id}\n", SF_ECONFIG, 6, 16,
                 "is not in the spec");
    expect_error(HDR "tables:\n  - table: a\n    rows: 1\n    columns: {id: seq}\n"
                     "  - table: b\n    rows: 1\n    columns:\n      x: {ref: a.nope}\n",
                 SF_ECONFIG, 9, 16, "has no generated column 'nope'");
    expect_error(HDR "tables:\n  - table: a\n    rows: 0\n    columns: {id: seq}\n"
                     "  - table: b\n    rows: 1\n    columns:\n      x: {ref: a.id}\n",
                 SF_ECONFIG, 9, 16, "has no rows");
    expect_error(HDR "tables:\n  - table: a\n    rows: 3\n    columns: {id: {seq: {}, null: 0.5}}\n"
                     "  - table: b\n    rows: 1\n    columns:\n      x: {ref: a.id}\n",
                 SF_ECONFIG, 9, 16, "can be NULL");
    expect_error(HDR "tables:\n  - table: a\n    rows: 3\n    columns: {id: seq}\n"
                     "  - table: b\n    rows: 1\n    columns:\n      x: {ref: a.id}\n      y: {ref: a.id, row_of: z}\n",
                 SF_ECONFIG, 10, 30, "not a column of this table");
}

Test(seed, append_option_errors_name_the_position)
{
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns: {a: {seq: {after: min}}}\n", SF_ECONFIG, 5, 32,
                 "seq after must be 'max'");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns: {a: {seq: {after: max, step: -1}}}\n",
                 SF_ECONFIG, 5, 43, "needs a positive step");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      x: {ref: p.id, from: sideways}\n",
                 SF_ECONFIG, 6, 28, "from must be new");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      x: {dict: city, from: existing}\n",
                 SF_ECONFIG, 6, 23, "only applies to ref");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      x: {ref: p.id, from: existing}\n"
                     "      y: {ref: p.code, row_of: x, from: existing}\n",
                 SF_ECONFIG, 7, 41, "belongs on the column named by row_of");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      x: {ref: p.id, from: existing}\n"
                     "      y: {ref: q.code, row_of: x}\n",
                 SF_ECONFIG, 7, 32, "must name another column of this table that is a ref to public.q");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      x: {ref: p.id, from: any}\n", SF_ECONFIG, 6,
                 16, "is not in the spec");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      q: {int: {min: 1, max: 3}}\n"
                     "      p: {ref: products.list_price, from: existing}\n      tot: {expr: 'q * p'}\n",
                 SF_ECONFIG, 8, 19, "add scale: N");
    expect_error(HDR "tables:\n  - table: a\n    rows: 1\n    columns:\n      x: {ref: nowhere.id}\n", SF_ECONFIG, 6, 16,
                 "from: existing reads the target's rows instead");
}

Test(seed, column_dependency_errors)
{
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {expr: 'b + 1'}\n      b: {expr: 'a * 2'}\n",
                 SF_ECONFIG, 6, 7, "depends on itself");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {dict: city}\n      b: {expr: 'a + 1'}\n",
                 SF_ECONFIG, 7, 17, "not a number");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1, max: 2}}\n"
                     "      b: {expr: 'a / 3'}\n",
                 SF_ECONFIG, 7, 17, "add scale");
    expect_error(HDR "tables:\n  - table: t\n    rows: 1\n    columns:\n      a: {int: {min: 1, max: 2}}\n"
                     "      b: {expr: 'a + zz'}\n",
                 SF_ECONFIG, 7, 22, "unknown name 'zz'");
}

/* ---- the shipped spec ----------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

struct expect_rows {
    const char *table;
    double rows;
};

static double fl(double v)
{
    return floor(v + 1e-9);
}

/*
 * Each profile's row counts, computed here from the profile's parameters
 * the way docs/seeding.md describes them (floor of the expression).
 */
static void check_profile(const char *profile, double scale, double tenants, double wpt, double spt, double ppt,
                          double plpt, double tpp, double cpt, double ccpc, double opc, double lpo, double ept,
                          double mpp)
{
    char *yaml = read_file("templates/distribution/seed.yaml");
    sf_seed *s;
    sf_error err;
    char set[64];
    double P = fl(fmax(tenants * 10, tenants * ppt * scale)), C = fl(fmax(tenants * 5, tenants * cpt * scale));
    double O = fl(C * opc), E = tenants * ept;
    struct expect_rows want[] = {
        {"public.tenants", tenants},
        {"public.warehouses", tenants * wpt},
        {"public.suppliers", fmax(tenants, tenants * spt * scale)},
        {"public.products", P},
        {"public.price_lists", tenants * plpt},
        {"public.price_tiers", P * tpp},
        {"public.customers", C},
        {"public.customer_contacts", C * ccpc},
        {"public.inventory", P * wpt * 0.8},
        {"public.orders", O},
        {"public.order_lines", O * lpo},
        {"public.shipments", O * 0.9},
        {"public.invoices", O * 0.85},
        {"public.edi_partners", E},
        {"public.edi_messages", fmax(E, E * mpp * scale)},
    };
    cr_assert_eq(sf_seed_open_mem(&s, "seed.yaml", yaml, strlen(yaml), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_use_profiles(s, profile), 0, "%s", sf_seed_error(s)->msg);
    snprintf(set, sizeof(set), "scale=%g", scale);
    cr_assert_eq(sf_seed_set(s, set), 0);
    cr_assert_eq(sf_seed_resolve(s), 0, "%s: %s", profile, sf_seed_error(s)->msg);
    cr_assert_eq(sf_seed_table_count(s), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *name;
        int64_t rows;
        sf_seed_table_info(s, i, &name, &rows);
        cr_assert_str_eq(name, want[i].table);
        cr_assert_eq(rows, (int64_t)floor(want[i].rows + 1e-9), "%s %s: %lld rows, expected %.3f", profile, name,
                     (long long)rows, want[i].rows);
    }
    sf_seed_free(s);
    free(yaml);
}

Test(seed, shipped_profiles_have_the_documented_row_counts)
{
    /*            profile               scale  ten wpt spt   ppt plpt tpp cpt  ccpc opc lpo ept mpp */
    check_profile("standard", 1, 3, 2, 25, 400, 3, 2, 150, 2, 8, 4, 2, 40);
    check_profile("high-volume", 1, 5, 4, 200, 20000, 3, 2, 2000, 2, 40, 5, 2, 40);
    check_profile("high-volume", 0.01, 5, 4, 200, 20000, 3, 2, 2000, 2, 40, 5, 2, 40);
    check_profile("integration-heavy", 0.1, 3, 2, 25, 400, 3, 2, 150, 2, 12, 4, 30, 1500);
    check_profile("regulated", 1, 3, 2, 25, 400, 3, 2, 150, 6, 8, 4, 2, 40);
    check_profile("standard,regulated", 0.5, 3, 2, 25, 400, 3, 2, 150, 6, 8, 4, 2, 40);
    check_profile("standard", 0.001, 3, 2, 25, 400, 3, 2, 150, 2, 8, 4, 2, 40); /* max() floors */
}

Test(seed, high_volume_has_millions_of_order_lines_at_scale_1)
{
    char *yaml = read_file("templates/distribution/seed.yaml");
    sf_seed *s;
    sf_error err;
    int64_t rows = 0;
    cr_assert_eq(sf_seed_open_mem(&s, "seed.yaml", yaml, strlen(yaml), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_use_profiles(s, "high-volume"), 0);
    cr_assert_eq(sf_seed_resolve(s), 0, "%s", sf_seed_error(s)->msg);
    for (size_t i = 0; i < sf_seed_table_count(s); i++) {
        const char *name;
        sf_seed_table_info(s, i, &name, &rows);
        if (!strcmp(name, "public.order_lines"))
            break;
    }
    cr_assert_geq(rows, 2000000);
    sf_seed_free(s);
    free(yaml);
}

Test(seed, regulated_profile_keeps_dates_recent_and_countries_in_the_eu)
{
    char *yaml = read_file("templates/distribution/seed.yaml");
    const char *sets[] = {"scale=0.05", NULL};
    sf_error err;
    char *out = seed_run(yaml, "standard,regulated", sets, 1, &err);
    seed_colvals d, c, r;
    cr_assert_not_null(out, "%s", err.msg);
    d = seed_column(out, "public.orders", "order_date");
    c = seed_column(out, "public.customers", "country");
    r = seed_column(out, "public.tenants", "region");
    for (size_t i = 0; i < d.n; i++)
        cr_assert(strcmp(d.v[i], "2025-04-01") >= 0 && strcmp(d.v[i], "2025-06-30") <= 0, "%s", d.v[i]);
    for (size_t i = 0; i < c.n; i++)
        cr_assert(strstr("DE FR NL AT PL", c.v[i]) != NULL, "%s", c.v[i]);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_str_eq(r.v[i], "eu");
    seed_colvals_free(&d);
    seed_colvals_free(&c);
    seed_colvals_free(&r);
    free(out);
    free(yaml);
}

Test(seed, shipped_spec_sha256_is_of_the_file_bytes)
{
    char *yaml = read_file("templates/distribution/seed.yaml");
    sf_seed *s;
    sf_error err;
    char hex[65];
    cr_assert_eq(sf_seed_open(&s, "templates/distribution/seed.yaml", &err), 0, "%s", err.msg);
    sf_sha256_hex(hex, yaml, strlen(yaml));
    cr_assert_str_eq(sf_seed_sha256(s), hex);
    cr_assert_eq(sf_seed_profile_count(s), 5);
    cr_assert_str_eq(sf_seed_profile_name(s, 1), "high-volume");
    sf_seed_free(s);
    free(yaml);
    cr_assert_eq(sf_seed_open(&s, "no/such/seed.yaml", &err), SF_ENOTFOUND);
    cr_assert(strstr(err.msg, "cannot open 'no/such/seed.yaml'"), "%s", err.msg);
}
