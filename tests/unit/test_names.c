#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "stagefork/names.h"
#include "stagefork/guard.h"
#include "stagefork/util.h"

static const char *slug(const char *b)
{
    static sf_buf out = SF_BUF_INIT;
    cr_assert_eq(sf_slug(&out, b), 0);
    return out.ptr;
}

static void expect_hashed(const char *branch, const char *stem)
{
    char hex[65], want[128];
    sf_sha256_hex(hex, branch, strlen(branch));
    snprintf(want, sizeof(want), "%s-%.6s", stem, hex);
    cr_assert_str_eq(slug(branch), want, "slug(%s)", branch);
}

Test(slug, spec_examples)
{
    cr_assert_str_eq(slug("main"), "main");
    cr_assert_str_eq(slug("MAIN"), "main"); /* ASCII case folding alone is no change */
    cr_assert_str_eq(slug("fix-42"), "fix-42");
    expect_hashed("feature/ABC-12_x", "feature-abc-12-x");
}

Test(slug, punctuation_runs_trim_and_empty)
{
    expect_hashed("--x--", "x");
    expect_hashed("a//b", "a-b");
    expect_hashed("a--b", "a-b");
    expect_hashed("", "env");
    expect_hashed("///", "env");
    expect_hashed("café", "caf");
    expect_hashed("日本語", "env");
}

Test(slug, long_branches_are_cut_and_hashed)
{
    char b[201];
    memset(b, 'a', 200);
    b[200] = '\0';
    const char *s = slug(b);
    cr_assert_eq(strlen(s), 47);
    cr_assert_eq(strncmp(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-", 41), 0);
    char b2[201];
    memcpy(b2, b, sizeof(b));
    b2[199] = 'b';
    cr_assert_str_neq(slug(b), (char[48]){0}); /* non-empty */
    char s1[64];
    snprintf(s1, sizeof(s1), "%s", slug(b));
    cr_assert_str_neq(s1, slug(b2), "long branches differing at the end must not collide");
}

Test(slug, case_or_punctuation_variants_differ)
{
    char a[64], b[64];
    snprintf(a, sizeof(a), "%s", slug("feature/x"));
    snprintf(b, sizeof(b), "%s", slug("feature_x"));
    cr_assert_str_neq(a, b);
    snprintf(a, sizeof(a), "%s", slug("Feature/X"));
    cr_assert_str_neq(a, b);
}

Test(names, short_names_join_and_long_names_hash)
{
    sf_buf out = SF_BUF_INIT;
    const char *p1[] = {"sf", "feature_x", "erp"};
    cr_assert_eq(sf_name_make(&out, '_', 63, p1, 3), 0);
    cr_assert_str_eq(out.ptr, "sf_feature_x_erp");
    char longid[80];
    memset(longid, 'x', 79);
    longid[79] = '\0';
    const char *p2[] = {"sf", longid, "erp"};
    cr_assert_eq(sf_name_make(&out, '_', 63, p2, 3), 0);
    cr_assert_eq(out.len, 63);
    cr_assert_eq(strncmp(out.ptr, "sf_xxx", 6), 0);
    char first[64];
    snprintf(first, sizeof(first), "%s", out.ptr);
    cr_assert_eq(sf_name_make(&out, '_', 63, p2, 3), 0);
    cr_assert_str_eq(out.ptr, first, "deterministic");
    const char *p3[] = {"sf", longid, "erq"};
    cr_assert_eq(sf_name_make(&out, '_', 63, p3, 3), 0);
    cr_assert_str_neq(out.ptr, first);
    sf_buf_free(&out);
}

Test(guard, host_extraction)
{
    sf_buf h = SF_BUF_INIT;
    cr_assert_eq(sf_guard_host_of(&h, "postgres://u:p@w@DB.example:5432/x"), 0);
    cr_assert_str_eq(h.ptr, "db.example");
    cr_assert_eq(sf_guard_host_of(&h, "http://[::1]:9000/bucket"), 0);
    cr_assert_str_eq(h.ptr, "::1");
    cr_assert_eq(sf_guard_host_of(&h, "host=10.0.0.5 port=5432 dbname=x"), 0);
    cr_assert_str_eq(h.ptr, "10.0.0.5");
    cr_assert_eq(sf_guard_host_of(&h, "dbname=x"), 0);
    cr_assert_str_eq(h.ptr, "localhost");
    sf_buf_free(&h);
}
