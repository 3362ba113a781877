/* Table plans and every rule's guarantees: determinism, uniqueness, layout, type fitting, NULLs, strict mode. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "decimal.h"
#include "rowmask.h"
#include "stagefork/dict.h"
#include "stagefork/mask.h"

/* ---- harness -------------------------------------------------------------- */

static sf_mask_key *key_n(int n)
{
    char k[40];
    sf_mask_key *key;
    snprintf(k, sizeof(k), "test-masking-key-%02d-0123456789abcdef", n);
    cr_assert_eq(sf_mask_key_from_bytes(&key, k, strlen(k), NULL), 0);
    return key;
}

static sf_mask_policy *policy(const char *yaml)
{
    sf_mask_policy *p;
    sf_error e = {0};
    cr_assert_eq(sf_mask_policy_load_mem(&p, "p.yaml", yaml, strlen(yaml), &e), 0, "%s", e.msg);
    return p;
}

#define MAXC 16

typedef struct {
    sf_tableplan *plan;
    size_t n;
} tbl;

/* cols: "name:type" pairs separated by ';' */
static int try_plan(tbl *t, const sf_mask_policy *pol, const char *schema, const char *table, const char *spec, int strict,
                    sf_error *err)
{
    char buf[1024], *names[MAXC];
    sf_coltype types[MAXC];
    size_t n = 0;
    char *save = NULL;
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *item = strtok_r(buf, ";", &save); item && n < MAXC; item = strtok_r(NULL, ";", &save)) {
        char *colon = strrchr(item, ':');
        cr_assert_not_null(colon, "bad spec %s", item);
        *colon = 0;
        names[n] = item;
        sf_coltype_parse(&types[n], colon + 1, strlen(colon + 1));
        n++;
    }
    t->n = n;
    memset(err, 0, sizeof(*err));
    return sf_tableplan_new(&t->plan, pol, schema, table, (const char *const *)names, types, n, strict, err);
}

static tbl plan(const sf_mask_policy *pol, const char *table, const char *spec)
{
    tbl t;
    sf_error e;
    cr_assert_eq(try_plan(&t, pol, "public", table, spec, 1, &e), 0, "%s", e.msg);
    return t;
}

/* Mask one row given as strings (NULL = SQL NULL); out[i] malloc'd or NULL. */
static int mask_row(tbl *t, sf_rowctx *ctx, const char *const *vals, char **out, sf_error *err)
{
    sf_field in[MAXC], o[MAXC];
    int rc;
    for (size_t i = 0; i < t->n; i++) {
        in[i].null = vals[i] == NULL;
        in[i].ptr = vals[i];
        in[i].len = vals[i] ? strlen(vals[i]) : 0;
    }
    memset(err, 0, sizeof(*err));
    if ((rc = sf_tableplan_mask(t->plan, ctx, in, o, err)))
        return rc;
    for (size_t i = 0; i < t->n; i++) {
        if (o[i].null) {
            out[i] = NULL;
        } else {
            out[i] = malloc(o[i].len + 1);
            memcpy(out[i], o[i].ptr, o[i].len);
            out[i][o[i].len] = 0;
        }
    }
    return 0;
}

/* Mask a one-column value (table with columns given by spec, value in column `col`). */
static char *mask1(tbl *t, sf_rowctx *ctx, size_t col, const char *v)
{
    const char *vals[MAXC] = {0};
    char *out[MAXC];
    sf_error e;
    char *r;
    for (size_t i = 0; i < t->n; i++)
        vals[i] = i == col ? v : NULL;
    cr_assert_eq(mask_row(t, ctx, vals, out, &e), 0, "%s", e.msg);
    r = out[col];
    for (size_t i = 0; i < t->n; i++)
        if (i != col)
            free(out[i]);
    return r;
}

static sf_rowctx *rowctx(const sf_mask_key *k)
{
    sf_rowctx *c;
    cr_assert_eq(sf_rowctx_new(&c, k, NULL), 0);
    return c;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* No two of v[0..n) are equal. */
static void assert_distinct(char **v, size_t n, const char *what)
{
    qsort(v, n, sizeof(char *), cmpstr);
    for (size_t i = 1; i < n; i++)
        cr_assert_str_neq(v[i - 1], v[i], "%s: collision on '%s'", what, v[i]);
}

static void layout_kept(const char *in, const char *out, int letters_too)
{
    cr_assert_eq(strlen(in), strlen(out), "'%s' -> '%s'", in, out);
    for (size_t i = 0; in[i]; i++) {
        char a = in[i], b = out[i];
        int ad = a >= '0' && a <= '9', bd = b >= '0' && b <= '9';
        int al = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z');
        if (ad)
            cr_assert(bd, "'%s' -> '%s': digit at %zu", in, out, i);
        else if (al && letters_too)
            cr_assert((a >= 'a') == (b >= 'a') && ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')),
                      "'%s' -> '%s': letter case at %zu", in, out, i);
        else
            cr_assert_eq(a, b, "'%s' -> '%s': character %zu changed", in, out, i);
    }
}

/* ---- strict mode and plan errors ------------------------------------------------ */

Test(transform, strict_mode_names_the_first_unruled_sensitive_column)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  customers:\n    email: email\n"
                                 "  erp.\"Supplier Contacts\":\n    \"Full Name\": name\n");
    tbl t;
    sf_error e;
    cr_assert_eq(try_plan(&t, pol, "public", "customers", "id:bigint;email:text;phone:text;fax:text", 1, &e), SF_EPOLICY);
    cr_assert_str_eq(e.msg, "strict mode: no masking rule for sensitive column public.customers.phone");
    cr_assert_eq(try_plan(&t, pol, "erp", "Supplier Contacts", "id:bigint;Full Name:text;E-Mail:text", 1, &e), SF_EPOLICY);
    cr_assert_str_eq(e.msg, "strict mode: no masking rule for sensitive column erp.\"Supplier Contacts\".\"E-Mail\"");
    /* a table the policy does not list is checked too */
    cr_assert_eq(try_plan(&t, pol, "public", "audit", "id:bigint;actor_email:text", 1, &e), SF_EPOLICY);
    cr_assert_str_eq(e.msg, "strict mode: no masking rule for sensitive column public.audit.actor_email");
    /* strict off: allowed, and only ruled columns change */
    cr_assert_eq(try_plan(&t, pol, "public", "customers", "id:bigint;email:text;phone:text", 0, &e), 0, "%s", e.msg);
    cr_assert_eq(sf_tableplan_sensitive(t.plan, 2), 1);
    cr_assert_eq(sf_tableplan_masks(t.plan, 2), 0);
    cr_assert_null(sf_tableplan_rule(t.plan, 2));
    cr_assert_str_eq(sf_tableplan_rule(t.plan, 1), "email");
    sf_tableplan_free(t.plan);
    sf_mask_policy_free(pol);
}

Test(transform, unlisted_table_without_sensitive_columns_is_identity)
{
    sf_mask_policy *pol = policy("version: 1\n");
    sf_mask_key *k = key_n(1);
    sf_rowctx *ctx = rowctx(k);
    tbl t = plan(pol, "warehouses", "id:bigint;code:text;stock_level:integer");
    char *v;
    cr_assert(sf_tableplan_identity(t.plan));
    cr_assert_eq(sf_tableplan_ncols(t.plan), 3);
    v = mask1(&t, ctx, 1, "W-01");
    cr_assert_str_eq(v, "W-01");
    free(v);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(k);
    sf_mask_policy_free(pol);
}

static void plan_fails(const char *yaml, const char *table, const char *spec, int code, const char *msg)
{
    sf_mask_policy *pol = policy(yaml);
    tbl t;
    sf_error e;
    cr_assert_eq(try_plan(&t, pol, "public", table, spec, 1, &e), code, "plan of %s accepted", spec);
    cr_assert_str_eq(e.msg, msg);
    sf_mask_policy_free(pol);
}

Test(transform, plan_errors_name_the_policy_position)
{
    plan_fails("version: 1\ntables:\n  t:\n    x: keep\n", "t", "id:integer", SF_ECONFIG, "p.yaml:4:5: public.t has no column x");
    plan_fails("version: 1\ntables:\n  t:\n    p: {noise: 0.1, by: sku}\n", "t", "p:numeric(10,2)", SF_ECONFIG,
               "p.yaml:4:25: public.t.p: by: names column 'sku', which the table does not have");
    plan_fails("version: 1\ntables:\n  t:\n    total: {expr: \"qty * price\"}\n", "t", "qty:integer;total:numeric(12,2)",
               SF_ECONFIG, "p.yaml:4:12: public.t.total: expr references column 'price', which the table does not have");
    plan_fails("version: 1\ntables:\n  t:\n    a: {expr: \"b\"}\n    b: {expr: \"1\"}\n", "t", "a:integer;b:integer",
               SF_ECONFIG, "p.yaml:4:8: public.t.a: expr references 'b', which is itself an expr column");
    plan_fails("version: 1\ntables:\n  t:\n    n: email\n", "t", "n:integer", SF_ECONFIG,
               "p.yaml:4:8: public.t.n: rule email cannot produce values of the column's type integer");
    plan_fails("version: 1\ntables:\n  t:\n    n: {noise: 0.1}\n", "t", "n:character varying(10)", SF_ECONFIG,
               "p.yaml:4:8: public.t.n: rule noise cannot produce values of the column's type character varying(10)");
    plan_fails("version: 1\ntables:\n  t:\n    d: {date_shift: 3}\n", "t", "d:text", SF_ECONFIG,
               "p.yaml:4:8: public.t.d: rule date_shift cannot produce values of the column's type text");
    plan_fails("version: 1\ntables:\n  t:\n    tags: name\n", "t", "tags:text[]", SF_ECONFIG,
               "p.yaml:4:11: public.t.tags: rule name cannot mask the array column (text[]); use keep, null or fixed");
    plan_fails("version: 1\ntables:\n  t:\n    c: token\n", "t", "c:character varying(15)", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: token needs at least 16 characters (prefix + 16), but the column is character varying(15)");
    plan_fails("version: 1\ntables:\n  t:\n    c: {token: {prefix: AB-}}\n", "t", "c:character varying(18)", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: token needs at least 19 characters (prefix + 16), but the column is character varying(18)");
    plan_fails("version: 1\ntables:\n  t:\n    email: email\n", "t", "email:character varying(20)", SF_ECONFIG,
               "p.yaml:4:12: public.t.email: email needs at least 21 characters (16-character token @ x.io), but the column is "
               "character varying(20)");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: abc}\n", "t", "c:character(2)", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value 'abc' does not fit character(2): it is longer than the column allows");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: 40000}\n", "t", "c:smallint", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value '40000' does not fit smallint: it is not an integer in the column's range");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: 1234.5}\n", "t", "c:numeric(5,2)", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value '1234.5' does not fit numeric(5,2): it does not fit the column's precision");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: 999.996}\n", "t", "c:numeric(5,2)", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value '999.996' does not fit numeric(5,2): it does not fit the column's precision");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: soon}\n", "t", "c:date", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value 'soon' does not fit date: it is not a date/timestamp (ISO: 2024-01-31 or "
               "2024-01-31 12:00:00)");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: '{x'}\n", "t", "c:jsonb", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value '{x' does not fit jsonb: it is not valid JSON");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: maybe}\n", "t", "c:boolean", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value 'maybe' does not fit boolean: it is not a boolean");
    plan_fails("version: 1\ntables:\n  t:\n    c: {fixed: 1234}\n", "t", "c:uuid", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: fixed value '1234' does not fit uuid: it is not a uuid (8-4-4-4-12 hex digits)");
    plan_fails("version: 1\ntables:\n  t:\n    c: alnum\n", "t", "c:integer", SF_ECONFIG,
               "p.yaml:4:8: public.t.c: rule alnum cannot produce values of the column's type integer");
}

Test(transform, fixed_values_that_fit_are_accepted)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n"
                                 "    a: {fixed: '2024-02-29'}\n    b: {fixed: '2024-01-31 12:00:00+01'}\n"
                                 "    c: {fixed: 'Ab'}\n    d: {fixed: -32768}\n    e: {fixed: 999.994}\n"
                                 "    f: {fixed: '{\"k\": [1]}'}\n    g: {fixed: 'on'}\n"
                                 "    h: {fixed: 0a0e8400-e29b-41d4-a716-446655440000}\n    i: {fixed: '{}'}\n"
                                 "    j: {fixed: 'Ölçü'}\n");
    tbl t = plan(pol, "t",
                 "a:date;b:timestamp with time zone;c:character(2);d:smallint;e:numeric(5,2);f:json;g:boolean;h:uuid;"
                 "i:text[];j:character varying(4)");
    sf_tableplan_free(t.plan);
    sf_mask_policy_free(pol);
}

/* ---- keep, null, fixed, NULLs ----------------------------------------------------- */

Test(transform, null_stays_null_for_every_rule_and_null_rule_nulls)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n"
                                 "    a: email\n    b: token\n    c: name\n    d: digits\n    e: alnum\n"
                                 "    f: {noise: 0.1}\n    g: {date_shift: 5}\n    h: {fixed: X}\n    i: null\n    j: keep\n"
                                 "    k: {expr: \"f * 2\"}\n    l: city\n");
    sf_mask_key *key = key_n(1);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:text;c:text;d:text;e:text;f:numeric;g:date;h:text;i:text;j:text;k:numeric;l:text");
    const char *nulls[MAXC] = {0};
    const char *vals[MAXC] = {"a@b.c", "tok", "Ann", "123", "AB1", "10.5", "2024-01-01", "v", "secret", "kept", "5", "Paris"};
    char *out[MAXC];
    sf_error e;
    cr_assert_eq(mask_row(&t, ctx, nulls, out, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < t.n; i++)
        cr_assert_null(out[i], "column %zu: NULL became '%s'", i, out[i]);
    cr_assert_eq(mask_row(&t, ctx, vals, out, &e), 0, "%s", e.msg);
    cr_assert_str_eq(out[7], "X");
    cr_assert_null(out[8]);
    cr_assert_str_eq(out[9], "kept");
    cr_assert_not_null(out[10]);
    for (size_t i = 0; i < t.n; i++)
        free(out[i]);
    cr_assert_eq(sf_tableplan_masks(t.plan, 9), 0);
    cr_assert_eq(sf_tableplan_masks(t.plan, 8), 1);
    cr_assert_str_eq(sf_tableplan_rule(t.plan, 9), "keep");
    cr_assert_str_eq(sf_tableplan_rule(t.plan, 3), "digits");
    cr_assert(!sf_tableplan_identity(t.plan));
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, keep_only_table_is_identity_and_untouched_fields_are_the_input)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    email: keep\n");
    sf_mask_key *key = key_n(1);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "id:integer;email:text");
    sf_field in[2] = {{"1", 1, 0}, {"a@b", 3, 0}}, out[2];
    cr_assert(sf_tableplan_identity(t.plan));
    cr_assert_eq(sf_tableplan_mask(t.plan, ctx, in, out, NULL), 0);
    cr_assert_eq(out[1].ptr, in[1].ptr);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- determinism ---------------------------------------------------------------- */

Test(transform, same_key_value_rule_gives_same_output_in_any_table_column_and_context)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n"
                                 "  customers:\n    email: email\n    phone: phone\n    contact_name: name\n"
                                 "  orders:\n    customer_email: email\n    contact_phone: digits\n    buyer: name\n");
    sf_mask_key *k1 = key_n(1), *k1b = key_n(1), *k2 = key_n(2);
    sf_rowctx *c1 = rowctx(k1), *c2 = rowctx(k1b), *c3 = rowctx(k2);
    tbl a = plan(pol, "customers", "email:character varying(120);phone:text;contact_name:text");
    tbl b = plan(pol, "orders", "customer_email:character varying(40);contact_phone:character varying(24);buyer:text");
    const char *vals[] = {"Jane.Doe@Example.com", "+49 (30) 123-4567", "Jane Doe"};
    char *oa[MAXC], *ob[MAXC], *oc[MAXC], *od[MAXC];
    sf_error e;
    cr_assert_eq(mask_row(&a, c1, vals, oa, &e), 0, "%s", e.msg);
    cr_assert_eq(mask_row(&b, c2, vals, ob, &e), 0, "%s", e.msg);
    cr_assert_eq(mask_row(&b, c1, vals, oc, &e), 0, "%s", e.msg); /* same context, other plan */
    cr_assert_eq(mask_row(&a, c3, vals, od, &e), 0, "%s", e.msg);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(oa[i], ob[i], "column %d differs across tables", i);
        cr_assert_str_eq(oa[i], oc[i], "column %d differs across plans in one context", i);
        cr_assert_str_neq(oa[i], od[i], "column %d: another key gave the same output", i);
        cr_assert_str_neq(oa[i], vals[i], "column %d unchanged", i);
        free(oa[i]), free(ob[i]), free(oc[i]), free(od[i]);
    }
    sf_tableplan_free(a.plan);
    sf_tableplan_free(b.plan);
    sf_rowctx_free(c1);
    sf_rowctx_free(c2);
    sf_rowctx_free(c3);
    sf_mask_key_free(k1);
    sf_mask_key_free(k1b);
    sf_mask_key_free(k2);
    sf_mask_policy_free(pol);
}

Test(transform, cache_hits_equal_fresh_computation)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: email\n    b: digits\n    c: name\n    d: alnum\n");
    sf_mask_key *key = key_n(3);
    sf_rowctx *warm = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:text;c:text;d:text");
    char buf[4][64];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3000; i++) {
            const char *vals[4] = {buf[0], buf[1], buf[2], buf[3]};
            char *o1[MAXC], *o2[MAXC];
            sf_rowctx *fresh = rowctx(key);
            sf_error e;
            snprintf(buf[0], 64, "user%d@corp.example", i % 700);
            snprintf(buf[1], 64, "+1 555 %07d", (i * 7919) % 5000);
            snprintf(buf[2], 64, "Person %d", i % 300);
            snprintf(buf[3], 64, "SKU-%c%c-%04d", 'A' + i % 26, 'A' + i % 7, i % 900);
            cr_assert_eq(mask_row(&t, warm, vals, o1, &e), 0, "%s", e.msg);
            if (i % 50 == 0) {
                cr_assert_eq(mask_row(&t, fresh, vals, o2, &e), 0, "%s", e.msg);
                for (int c = 0; c < 4; c++) {
                    cr_assert_str_eq(o1[c], o2[c]);
                    free(o2[c]);
                }
            }
            for (int c = 0; c < 4; c++)
                free(o1[c]);
            sf_rowctx_free(fresh);
        }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(warm);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, prf_memo_hits_in_batches_equal_fresh_single_rows, .timeout = 120)
{
    /* repeated values through the PRF rules' memo, in batches, against a fresh context one row at a time */
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: email\n    b: {token: {length: 64, prefix: \"t_\"}}\n"
                                 "    c: city\n    d: name\n    e: email\n    f: {token: {length: 20}}\n");
    sf_mask_key *key = key_n(22);
    sf_rowctx *warm = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:text;c:character(12);d:citext;e:character varying(40);f:text");
    static char vals[64][6][48];
    for (int batch = 0; batch < 400; batch++) {
        sf_field in[64 * MAXC], out[64 * MAXC];
        size_t nrows = 1 + (size_t)(batch * 37 % 64);
        sf_error e = {0};
        for (size_t r = 0; r < nrows; r++) {
            unsigned x = (unsigned)(batch * 131 + r * 17) % 997, hot = x % 5 ? x % 40 : x;
            snprintf(vals[r][0], 48, "user.%u@corp.example", hot);
            snprintf(vals[r][1], 48, "token input %u", hot);
            if (hot % 11 == 0)
                vals[r][1][0] = 0; /* empty stays empty */
            snprintf(vals[r][2], 48, "%-12.*s", (int)(hot % 9), "Porto Alegre");
            snprintf(vals[r][3], 48, "%s Person %u", hot % 2 ? "ANNA" : "anna", hot);
            snprintf(vals[r][4], 48, "%u.contact@example.org", hot % 7);
            snprintf(vals[r][5], 48, "id-%u", x);
            for (size_t c = 0; c < 6; c++) {
                in[r * 6 + c].ptr = vals[r][c];
                in[r * 6 + c].len = strlen(vals[r][c]);
                in[r * 6 + c].null = (x + c) % 23 == 0;
            }
        }
        cr_assert_eq(sf_tableplan_mask_rows(t.plan, warm, in, out, nrows, &e), 0, "%s", e.msg);
        for (size_t r = 0; r < nrows; r += 3) {
            sf_rowctx *fresh = rowctx(key);
            sf_field o1[MAXC];
            cr_assert_eq(sf_tableplan_mask(t.plan, fresh, in + r * 6, o1, &e), 0, "%s", e.msg);
            for (size_t c = 0; c < 6; c++) {
                const sf_field *w = &out[r * 6 + c];
                cr_assert_eq(w->null, o1[c].null);
                cr_assert(w->null || (w->len == o1[c].len && memcmp(w->ptr, o1[c].ptr, w->len) == 0),
                          "column %zu of '%s': batch '%.*s', fresh '%.*s'", c, vals[r][c], (int)w->len, w->ptr,
                          (int)o1[c].len, o1[c].ptr);
            }
            sf_rowctx_free(fresh);
        }
    }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(warm);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, a_batch_writes_only_the_transformed_columns)
{
    /* qty and note have no rule: the batch leaves their out fields alone, yet the expr over qty sees its value */
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    price: {noise: 0.1}\n"
                                 "    total: {expr: \"qty * price\"}\n    code: digits\n");
    sf_mask_key *key = key_n(5);
    tbl t = plan(pol, "t", "qty:integer;price:numeric(10,2);total:numeric(12,2);code:text;note:text");
    enum { ROWS = 40, NC = 5 };
    static char vals[ROWS][NC][32];
    sf_field in[ROWS * NC], out[ROWS * NC], o[NC];
    sf_field poison = {"poison", 6, 0};
    sf_rowctx *batch = rowctx(key), *one = rowctx(key);
    sf_error e = {0};
    for (int r = 0; r < ROWS; r++) {
        snprintf(vals[r][0], 32, "%d", 1 + r % 7);
        snprintf(vals[r][1], 32, "%d.%02d", 10 + r, r % 100);
        snprintf(vals[r][2], 32, "0.00");
        snprintf(vals[r][3], 32, "+49 30 %07d", r * 7919);
        snprintf(vals[r][4], 32, "note %d", r);
        for (int c = 0; c < NC; c++) {
            sf_field *f = &in[r * NC + c];
            f->null = c == 0 && r % 9 == 4;
            f->ptr = f->null ? NULL : vals[r][c];
            f->len = f->null ? 0 : strlen(vals[r][c]);
            out[r * NC + c] = poison;
        }
    }
    cr_assert_eq(sf_tableplan_mask_rows(t.plan, batch, in, out, ROWS, &e), 0, "%s", e.msg);
    for (int r = 0; r < ROWS; r++) {
        cr_assert_eq(sf_tableplan_mask(t.plan, one, in + r * NC, o, &e), 0, "%s", e.msg);
        /* one row: every column of out, the untransformed ones equal to in */
        cr_assert_eq(o[4].ptr, in[r * NC + 4].ptr);
        cr_assert_eq(o[0].null, in[r * NC].null);
        for (int c = 1; c < 4; c++) {
            const sf_field *b = &out[r * NC + c];
            cr_assert_eq(b->null, o[c].null, "row %d column %d", r, c);
            cr_assert(b->null || (b->len == o[c].len && memcmp(b->ptr, o[c].ptr, b->len) == 0),
                      "row %d column %d: '%.*s' in the batch, '%.*s' alone", r, c, (int)b->len, b->ptr, (int)o[c].len,
                      o[c].ptr);
        }
        /* a NULL qty makes the product NULL */
        cr_assert_eq(out[r * NC + 2].null, r % 9 == 4, "row %d", r);
        cr_assert_eq(out[r * NC + 4].ptr, poison.ptr, "row %d: an untransformed column was written", r);
    }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(batch);
    sf_rowctx_free(one);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, a_batch_of_rows_masks_like_one_row_at_a_time)
{
    /* every kind of rule, by:, expr, integer digits (cycle walking), numeric digits, NULLs, NaN, repeats,
       three-block tokens, character(n) padding and citext case */
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: email\n    b: {digits: {keep_leading: 1}}\n"
                                 "    c: name\n    d: {alnum: {keep_leading: 2}}\n    e: digits\n    f: digits\n"
                                 "    g: {noise: 0.1, by: d}\n    h: {date_shift: {days: 30}}\n    i: {expr: \"g * 2\"}\n"
                                 "    j: null\n    k: {fixed: X}\n    l: {token: {length: 64}}\n    m: email\n");
    sf_mask_key *key = key_n(4);
    tbl t = plan(pol, "t", "a:text;b:text;c:character(12);d:text;e:smallint;f:numeric(9,3);g:numeric(10,2);"
                           "h:date;i:numeric(12,2);j:text;k:text;l:text;m:citext");
    enum { ROWS = 150 };
    static char vals[ROWS][13][48];
    static sf_field in[ROWS * 13], out[ROWS * 13];
    sf_rowctx *batch = rowctx(key), *one = rowctx(key);
    sf_error e;
    for (int r = 0; r < ROWS; r++) {
        snprintf(vals[r][0], 48, "user%d@corp.example", r % 40);
        snprintf(vals[r][1], 48, "+49 30 %07d", r * 7919 % 10000000);
        snprintf(vals[r][2], 48, "Name %d", r % 9);
        /* d and e repeat within a batch: encrypted once, copied to the repeats */
        snprintf(vals[r][3], 48, "DE%02d AB%03d x%d", r % 97, r % 23, r % 5);
        snprintf(vals[r][4], 48, "%d", (r % 50 * 331) % 32768 - (r % 3 ? 0 : 16384));
        snprintf(vals[r][5], 48, r % 17 == 0 ? "NaN" : "%d.%03d", r * 13 % 1000000, r % 1000);
        snprintf(vals[r][6], 48, "%d.%02d", r * 7, r % 100);
        snprintf(vals[r][7], 48, "2024-%02d-%02d", 1 + r % 12, 1 + r % 28);
        snprintf(vals[r][8], 48, "1.00");
        snprintf(vals[r][9], 48, "secret %d", r);
        snprintf(vals[r][10], 48, "v%d", r);
        snprintf(vals[r][11], 48, "tok-%d", r % 60);
        snprintf(vals[r][12], 48, r % 2 ? "Mixed.Case%d@X.org" : "mixed.case%d@x.org", r % 30);
        for (int c = 0; c < 13; c++) {
            sf_field *f = &in[r * 13 + c];
            f->null = (r + c) % 11 == 0 && c != 8;
            f->ptr = f->null ? NULL : vals[r][c];
            f->len = f->null ? 0 : strlen(vals[r][c]);
        }
    }
    /* batches of every size from 1 to 64 over the rows, against one row at a time */
    for (size_t r0 = 0, size = 1; r0 < ROWS; r0 += size, size = size % 64 + 7) {
        size_t nr = r0 + size > ROWS ? ROWS - r0 : size;
        memset(&e, 0, sizeof(e));
        cr_assert_eq(sf_tableplan_mask_rows(t.plan, batch, in + r0 * 13, out + r0 * 13, nr, &e), 0, "%s", e.msg);
        for (size_t r = r0; r < r0 + nr; r++) {
            sf_field o[13];
            cr_assert_eq(sf_tableplan_mask(t.plan, one, in + r * 13, o, &e), 0, "%s", e.msg);
            for (int c = 0; c < 13; c++) {
                const sf_field *b = &out[r * 13 + c];
                cr_assert_eq(b->null, o[c].null, "row %zu column %d", r, c);
                cr_assert(b->null || (b->len == o[c].len && memcmp(b->ptr, o[c].ptr, b->len) == 0),
                          "row %zu column %d: '%.*s' in a batch of %zu, '%.*s' alone", r, c, (int)b->len, b->ptr, nr,
                          (int)o[c].len, o[c].ptr);
            }
        }
    }
    /* a bad value anywhere in a batch fails the batch */
    in[5 * 13 + 4].ptr = "12x";
    in[5 * 13 + 4].len = 3;
    in[5 * 13 + 4].null = 0;
    memset(&e, 0, sizeof(e));
    cr_assert_eq(sf_tableplan_mask_rows(t.plan, batch, in, out, 10, &e), SF_EFORMAT);
    cr_assert_str_eq(e.msg, "cannot mask public.t.e (digits): value is not an integer");
    sf_tableplan_free(t.plan);
    sf_rowctx_free(batch);
    sf_rowctx_free(one);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- token and email -------------------------------------------------------------- */

#define UNIQUE_N 200000

Test(transform, token_format_prefix_length_and_uniqueness, .timeout = 120)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: token\n    b: {token: {prefix: C-, length: 30}}\n"
                                 "    c: {token: {prefix: Ü-, length: 64}}\n    d: token\n");
    sf_mask_key *key = key_n(4);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:text;c:text;d:character varying(18)");
    char **all = malloc(UNIQUE_N * sizeof(char *));
    char *v;
    v = mask1(&t, ctx, 0, "customer-1");
    cr_assert_eq(strlen(v), 20);
    cr_assert_eq(strspn(v, "abcdefghijklmnopqrstuvwxyz234567"), 20);
    free(v);
    v = mask1(&t, ctx, 1, "customer-1");
    cr_assert_eq(strncmp(v, "C-", 2), 0);
    cr_assert_eq(strlen(v), 32);
    free(v);
    v = mask1(&t, ctx, 2, "customer-1");
    cr_assert_eq(strncmp(v, "Ü-", 3), 0);
    cr_assert_eq(strlen(v), 3 + 64);
    cr_assert_eq(strspn(v + 3, "abcdefghijklmnopqrstuvwxyz234567"), 64);
    free(v);
    v = mask1(&t, ctx, 3, "customer-1"); /* varchar(18): shortened, never below 16 */
    cr_assert_eq(strlen(v), 18);
    {
        char *full = mask1(&t, ctx, 0, "customer-1");
        cr_assert_eq(strncmp(full, v, 18), 0, "the shortened token is a prefix of the full one");
        free(full);
    }
    free(v);
    v = mask1(&t, ctx, 0, "");
    cr_assert_str_eq(v, "");
    free(v);
    for (int i = 0; i < UNIQUE_N; i++) {
        char in[32];
        snprintf(in, sizeof(in), "C%07d", i);
        all[i] = mask1(&t, ctx, 3, in);
    }
    assert_distinct(all, UNIQUE_N, "token");
    for (int i = 0; i < UNIQUE_N; i++)
        free(all[i]);
    free(all);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, tokens_and_emails_equal_the_recorded_bytes)
{
    /*
     * Tokens of lengths 16..64 (the base32 of one to three PRF blocks, whole groups of eight characters and
     * every partial one) and e-mails: a stable format, so their outputs must hash to the value recorded
     * before base32 was rewritten.
     */
    sf_buf yaml = SF_BUF_INIT, spec = SF_BUF_INIT, all = SF_BUF_INIT;
    sf_mask_policy *pol;
    sf_mask_key *key = key_n(7);
    sf_rowctx *ctx = rowctx(key);
    unsigned char h[32];
    char hex[65];
    tbl t;
    sf_buf_adds(&yaml, "version: 1\ntables:\n  t:\n    e: email\n");
    sf_buf_adds(&spec, "e:text");
    static const int lens[] = {16, 17, 19, 21, 23, 25, 26, 31, 33, 40, 47, 58, 64};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        sf_buf_addf(&yaml, "    t%d: {token: {length: %d}}\n", lens[k], lens[k]);
        sf_buf_addf(&spec, ";t%d:text", lens[k]);
    }
    pol = policy(yaml.ptr);
    t = plan(pol, "t", spec.ptr);
    for (int i = 0; i < 300; i++) {
        char in[32];
        snprintf(in, sizeof(in), "value-%d@example.org", i * 7919);
        for (size_t c = 0; c < t.n; c++) {
            char *v = mask1(&t, ctx, c, in);
            sf_buf_adds(&all, v);
            sf_buf_addc(&all, '\n');
            free(v);
        }
    }
    EVP_Digest(all.ptr, all.len, h, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    cr_assert_str_eq(hex, "5d53ed282f3e960eab04c399ffce04d9e937bcafa55d5d0d4a55cca0551b9844", "%zu columns, %zu bytes", t.n,
                     all.len);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    sf_buf_free(&yaml);
    sf_buf_free(&spec);
    sf_buf_free(&all);
}

Test(transform, email_is_valid_lower_case_unique_and_fits, .timeout = 120)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: email\n    b: {email: {domain: Corp.Example.ORG}}\n"
                                 "    c: {email: {domain: Corp.Example.ORG}}\n");
    sf_mask_key *key = key_n(5);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:character varying(120);b:text;c:character varying(25)");
    char **all = malloc(UNIQUE_N * sizeof(char *));
    char *v, *w;
    v = mask1(&t, ctx, 0, "Jürgen.Müller@Firma.DE");
    cr_assert_eq(strlen(v), 16 + 1 + strlen("example.com"));
    cr_assert_eq(strspn(v, "abcdefghijklmnopqrstuvwxyz234567"), 16);
    cr_assert_str_eq(v + 16, "@example.com");
    w = mask1(&t, ctx, 1, "Jürgen.Müller@Firma.DE");
    cr_assert_str_eq(w + 16, "@corp.example.org");
    free(v);
    v = w;
    w = mask1(&t, ctx, 2, "Jürgen.Müller@Firma.DE"); /* varchar(25) < 16+1+16: the short domain */
    cr_assert_str_eq(w + 16, "@x.io");
    cr_assert_leq(strlen(w), 25);
    cr_assert_eq(strncmp(v, w, 16), 0, "a narrower column keeps the local part");
    free(v);
    free(w);
    /* byte-exact: case variants are different inputs (a unique column may hold both) */
    v = mask1(&t, ctx, 0, "a@x.org");
    w = mask1(&t, ctx, 0, "A@x.org");
    cr_assert_str_neq(v, w);
    free(v);
    free(w);
    for (int i = 0; i < UNIQUE_N; i++) {
        char in[48];
        snprintf(in, sizeof(in), "user.%d@shop%d.example", i, i % 97);
        all[i] = mask1(&t, ctx, 0, in);
    }
    assert_distinct(all, UNIQUE_N, "email");
    for (int i = 0; i < UNIQUE_N; i++)
        free(all[i]);
    free(all);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- dictionaries ------------------------------------------------------------------ */

static int in_dict(sf_dict_kind kind, const char *s, size_t len)
{
    for (size_t i = 0; i < sf_dict_size(kind); i++) {
        const char *d = sf_dict_get(kind, i);
        if (strlen(d) == len && memcmp(d, s, len) == 0)
            return 1;
    }
    return 0;
}

Test(transform, dictionary_rules_pick_realistic_values_and_fit)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: name\n    b: first_name\n    c: last_name\n"
                                 "    d: company\n    e: street\n    f: city\n    g: name\n    h: city\n");
    sf_mask_key *key = key_n(6);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:text;c:text;d:text;e:text;f:text;g:character varying(5);h:character(3)");
    int distinct_names = 0;
    char *prev = NULL;
    for (int i = 0; i < 2000; i++) {
        char in[32];
        const char *vals[8];
        char *o[MAXC];
        sf_error e;
        const char *sp;
        snprintf(in, sizeof(in), "Input %d", i);
        for (int c = 0; c < 8; c++)
            vals[c] = in;
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), 0, "%s", e.msg);
        sp = strchr(o[0], ' ');
        cr_assert_not_null(sp, "name '%s' is not 'First Last'", o[0]);
        cr_assert(in_dict(SF_DICT_FIRST_NAME, o[0], (size_t)(sp - o[0])), "%s", o[0]);
        cr_assert(in_dict(SF_DICT_LAST_NAME, sp + 1, strlen(sp + 1)), "%s", o[0]);
        cr_assert(in_dict(SF_DICT_FIRST_NAME, o[1], strlen(o[1])), "%s", o[1]);
        cr_assert(in_dict(SF_DICT_LAST_NAME, o[2], strlen(o[2])), "%s", o[2]);
        cr_assert(in_dict(SF_DICT_COMPANY, o[3], strlen(o[3])), "%s", o[3]);
        sp = strrchr(o[4], ' ');
        cr_assert(sp && in_dict(SF_DICT_STREET, o[4], (size_t)(sp - o[4])) && atoi(sp + 1) >= 1 && atoi(sp + 1) <= 199,
                  "street '%s'", o[4]);
        cr_assert(in_dict(SF_DICT_CITY, o[5], strlen(o[5])), "%s", o[5]);
        cr_assert_leq(utf8_len(o[6]), 5, "'%s'", o[6]);
        cr_assert(valid_utf8(o[6]), "'%s' split a UTF-8 sequence", o[6]);
        cr_assert_neq(o[6][strlen(o[6]) - 1], ' ');
        cr_assert_leq(utf8_len(o[7]), 3, "'%s'", o[7]);
        cr_assert(valid_utf8(o[7]), "'%s' split a UTF-8 sequence", o[7]);
        if (!prev || strcmp(prev, o[0]) != 0)
            distinct_names++;
        free(prev);
        prev = strdup(o[0]);
        for (int c = 0; c < 8; c++)
            free(o[c]);
    }
    free(prev);
    cr_assert_gt(distinct_names, 1900);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, dictionaries_are_large_international_utf8)
{
    static const char *const must[] = {"Müller", "García", "Østergaard", "Nakamura", "São Paulo", "Łódź"};
    size_t found = 0;
    for (int k = 0; k < SF_DICT__COUNT; k++) {
        cr_assert_geq(sf_dict_size((sf_dict_kind)k), 250, "%s has %zu entries", sf_dict_name((sf_dict_kind)k),
                      sf_dict_size((sf_dict_kind)k));
        for (size_t i = 0; i < sf_dict_size((sf_dict_kind)k); i++) {
            const char *s = sf_dict_get((sf_dict_kind)k, i);
            cr_assert(valid_utf8(s) && *s);
            for (size_t m = 0; m < sizeof(must) / sizeof(must[0]); m++)
                found += strcmp(s, must[m]) == 0;
        }
        cr_assert_null(sf_dict_get((sf_dict_kind)k, sf_dict_size((sf_dict_kind)k)));
    }
    cr_assert_eq(found, sizeof(must) / sizeof(must[0]));
    cr_assert_eq(sf_dict_size(SF_DICT__COUNT), 0);
    cr_assert_str_eq(sf_dict_name(SF_DICT_STREET), "street");
}

Test(transform, char_padding_and_citext_case_do_not_change_outputs)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: email\n    b: email\n    c: email\n    d: name\n"
                                 "    e: name\n");
    sf_mask_key *key = key_n(16);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:character(40);c:public.citext;d:text;e:character(30)");
    char *x = mask1(&t, ctx, 0, "ann@example.org"), *y = mask1(&t, ctx, 1, "ann@example.org                         "),
         *z = mask1(&t, ctx, 2, "Ann@Example.ORG");
    cr_assert_str_eq(x, y, "character(n) padding is ignored");
    cr_assert_str_eq(x, z, "citext compares case-insensitively");
    free(x), free(y), free(z);
    x = mask1(&t, ctx, 3, "Ann Lee");
    y = mask1(&t, ctx, 4, "Ann Lee                       ");
    cr_assert_str_eq(x, y);
    free(x), free(y);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- digits and alnum ---------------------------------------------------------------- */

Test(transform, digits_keeps_layout_and_is_unique, .timeout = 120)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: phone\n    b: {digits: {keep_leading: 2}}\n    c: digits\n");
    sf_mask_key *key = key_n(7);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:character varying(24);b:text;c:uuid");
    char **all = malloc(UNIQUE_N * sizeof(char *));
    static const char *const samples[] = {"+49 (30) 123-4567", "0049 30 1", "7", "12", "abc", "", "Tel. 555-0199 ext 12",
                                          "00000", "9999999999999999999999999999999999999999999999999999999999999999999"};
    char *v;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        v = mask1(&t, ctx, 0, samples[i]);
        layout_kept(samples[i], v, 0);
        free(v);
    }
    v = mask1(&t, ctx, 1, "+49 30 1234567");
    layout_kept("+49 30 1234567", v, 0);
    cr_assert_eq(strncmp(v, "+49 ", 4), 0, "keep_leading: 2 keeps the country code: %s", v);
    free(v);
    v = mask1(&t, ctx, 2, "0a0e8400-e29b-41d4-a716-446655440000");
    layout_kept("0a0e8400-e29b-41d4-a716-446655440000", v, 0);
    for (size_t i = 0; v[i]; i++)
        if (v[i] >= 'a')
            cr_assert_eq(v[i], "0a0e8400-e29b-41d4-a716-446655440000"[i]);
    free(v);
    for (int i = 0; i < UNIQUE_N; i++) {
        char in[32];
        snprintf(in, sizeof(in), "+1 (555) %03d-%04d", i / 10000, i % 10000);
        all[i] = mask1(&t, ctx, 0, in);
        layout_kept(in, all[i], 0);
    }
    assert_distinct(all, UNIQUE_N, "digits");
    for (int i = 0; i < UNIQUE_N; i++)
        free(all[i]);
    /* short inputs use the keyed small-domain permutation: all 3-digit strings stay distinct */
    for (int i = 0; i < 1000; i++) {
        char in[16];
        snprintf(in, sizeof(in), "%03d", i);
        all[i] = mask1(&t, ctx, 0, in);
    }
    assert_distinct(all, 1000, "3-digit");
    for (int i = 0; i < 1000; i++)
        free(all[i]);
    free(all);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

static void int_in_range(const char *in, const char *out, long double min, long double max)
{
    char *end;
    long double v = strtold(out, &end);
    size_t di = strlen(in) - (in[0] == '-'), dout = strlen(out) - (out[0] == '-');
    cr_assert_eq(*end, 0, "'%s' is not a number", out);
    cr_assert(v >= min && v <= max, "'%s' -> '%s' out of range", in, out);
    cr_assert_eq(di, dout, "'%s' -> '%s': digit count changed", in, out);
    cr_assert_eq(in[0] == '-', out[0] == '-', "'%s' -> '%s': sign changed", in, out);
    if (dout > 1)
        cr_assert_neq(out[out[0] == '-'], '0', "'%s' -> '%s': leading zero", in, out);
}

Test(transform, digits_on_integers_stays_in_range_without_leading_zero)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: digits\n    b: digits\n    c: digits\n"
                                 "    d: digits\n    e: digits\n    f: digits\n");
    sf_mask_key *key = key_n(8);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:smallint;b:integer;c:bigint;d:numeric(6,2);e:numeric(2,2);f:numeric(6,2)");
    static const char *const i2[] = {"0", "7", "10", "99", "32767", "-32768", "32000", "-10000", "30000"};
    static const char *const i8[] = {"9223372036854775807", "-9223372036854775808", "9223372036854775000",
                                     "1000000000000000000", "-1", "42"};
    char **all = malloc(100000 * sizeof(char *));
    char *v;
    sf_error e;
    for (size_t i = 0; i < sizeof(i2) / sizeof(i2[0]); i++) {
        v = mask1(&t, ctx, 0, i2[i]);
        int_in_range(i2[i], v, -32768, 32767);
        free(v);
    }
    for (size_t i = 0; i < sizeof(i8) / sizeof(i8[0]); i++) {
        v = mask1(&t, ctx, 2, i8[i]);
        int_in_range(i8[i], v, -9223372036854775808.0L, 9223372036854775807.0L);
        cr_assert(strlen(v) < 19 || strcmp(v, "9223372036854775807") <= 0 || v[0] == '-', "%s", v);
        cr_assert(v[0] != '-' || strlen(v) < 20 || strcmp(v, "-9223372036854775808") <= 0, "%s", v);
        free(v);
    }
    for (int i = 0; i < 100000; i++) {
        char in[16];
        snprintf(in, sizeof(in), "%d", 2147383648 + i);
        all[i] = mask1(&t, ctx, 1, in);
        int_in_range(in, all[i], -2147483648.0L, 2147483647.0L);
    }
    assert_distinct(all, 100000, "int4 digits");
    for (int i = 0; i < 100000; i++)
        free(all[i]);
    free(all);
    v = mask1(&t, ctx, 3, "1234.56");
    cr_assert_eq(strlen(v), 7);
    cr_assert_eq(v[4], '.');
    cr_assert_neq(v[0], '0');
    free(v);
    for (int i = 0; i < 100; i++) {
        char in[16];
        snprintf(in, sizeof(in), "0.%02d", i);
        v = mask1(&t, ctx, 5, in); /* numeric(6,2) may change the 0 (cached under its own fit) */
        free(v);
        v = mask1(&t, ctx, 4, in);
        cr_assert_eq(strncmp(v, "0.", 2), 0, "numeric(2,2) has no integer digits: %s -> %s", in, v);
        free(v);
    }
    {
        const char *vals[6] = {"1", "1", "12x", "1", "0.1", "1"};
        char *o[MAXC];
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), SF_EFORMAT);
        cr_assert_str_eq(e.msg, "cannot mask public.t.c (digits): value is not an integer");
    }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, alnum_maps_letters_to_letters_digits_to_digits, .timeout = 120)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: alnum\n    b: {alnum: {keep_leading: 2}}\n");
    sf_mask_key *key = key_n(9);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:character varying(34);b:text");
    char **all = malloc(UNIQUE_N * sizeof(char *));
    static const char *const samples[] = {"DE89 3704 0044 0532 0130 00", "CUST-00017", "aB3", "x", "Straße-12Ü", "", "----",
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123"};
    char *v;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        v = mask1(&t, ctx, 0, samples[i]);
        layout_kept(samples[i], v, 1);
        free(v);
    }
    v = mask1(&t, ctx, 0, "Straße-12Ü");
    cr_assert_eq(memcmp(v + 4, "ß", 2), 0, "non-ASCII letters are kept: %s", v);
    cr_assert_eq(memcmp(v + strlen(v) - 2, "Ü", 2), 0);
    free(v);
    v = mask1(&t, ctx, 1, "DE89 3704 0044 0532 0130 00");
    cr_assert_eq(strncmp(v, "DE", 2), 0);
    layout_kept("DE89 3704 0044 0532 0130 00", v, 1);
    free(v);
    for (int i = 0; i < UNIQUE_N; i++) {
        char in[32];
        snprintf(in, sizeof(in), "%c%c-%05d-x", 'A' + (i / 26 / 100000) % 26, 'A' + (i / 100000) % 26, i % 100000);
        all[i] = mask1(&t, ctx, 0, in);
        layout_kept(in, all[i], 1);
    }
    assert_distinct(all, UNIQUE_N, "alnum");
    for (int i = 0; i < UNIQUE_N; i++)
        free(all[i]);
    free(all);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, huge_values)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: digits\n    b: alnum\n    c: token\n    d: name\n");
    sf_mask_key *key = key_n(10);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:text;b:text;c:text;d:text");
    size_t n = 1 << 20;
    char *big = malloc(n + 1), *o[MAXC];
    const char *vals[4] = {big, big, big, big};
    sf_error e;
    for (size_t i = 0; i < n; i++)
        big[i] = "aZ9-ü"[i % 5];
    big[n] = 0;
    cr_assert_eq(mask_row(&t, ctx, vals, o, &e), 0, "%s", e.msg);
    layout_kept(big, o[0], 0);
    layout_kept(big, o[1], 1);
    cr_assert_eq(strlen(o[2]), 20);
    cr_assert(strchr(o[3], ' '));
    for (int i = 0; i < 4; i++)
        free(o[i]);
    free(big);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- noise ------------------------------------------------------------------------ */

static void dec(sf_dec *d, const char *s)
{
    cr_assert_eq(sf_dec_parse(d, s, strlen(s)), SF_DEC_OK, "'%s'", s);
}

/* |out - in| <= p * |in| + half a unit of the output's last place, same sign */
static void within_noise(const char *in, const char *out, const char *p)
{
    sf_dec a, b, pp, diff, lim, half, t;
    dec(&a, in);
    dec(&b, out);
    dec(&pp, p);
    cr_assert(sf_dec_is_zero(&b) || a.neg == b.neg, "sign: %s -> %s", in, out);
    sf_dec_sub(&diff, &b, &a);
    diff.neg = 0;
    a.neg = 0;
    sf_dec_mul(&lim, &a, &pp);
    memset(&half, 0, sizeof(half));
    half.mag.w[0] = 5;
    half.scale = b.scale + 1;
    sf_dec_add(&t, &lim, &half);
    cr_assert_leq(sf_dec_cmp(&diff, &t), 0, "%s -> %s moves more than %s", in, out, p);
}

static int decimals(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot ? (int)strlen(dot + 1) : 0;
}

Test(transform, noise_bounds_sign_scale_and_type_limits)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: {noise: 0.10}\n    b: {noise: 0.5}\n    c: {noise: 0.10}\n"
                                 "    d: {noise: 1}\n    e: {noise: 0.2}\n    f: {noise: 0.1}\n    g: {noise: 0.3}\n");
    sf_mask_key *key = key_n(11);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "a:numeric(12,2);b:integer;c:numeric;d:smallint;e:numeric(4,2);f:double precision;g:public.money_d");
    int moved = 0;
    char *v;
    sf_error e;
    for (int i = 0; i < 3000; i++) {
        char in[32], in2[32];
        snprintf(in, sizeof(in), "%s%d.%02d", i % 3 ? "" : "-", i * 37, i % 100);
        v = mask1(&t, ctx, 0, in);
        within_noise(in, v, "0.10");
        cr_assert_eq(decimals(v), 2, "%s -> %s", in, v);
        moved += strcmp(in, v) != 0;
        free(v);
        snprintf(in2, sizeof(in2), "%d", (i - 1500) * 1000);
        v = mask1(&t, ctx, 1, in2);
        within_noise(in2, v, "0.5");
        cr_assert_null(strchr(v, '.'));
        free(v);
        snprintf(in2, sizeof(in2), "%d.%03d", i, i % 1000);
        v = mask1(&t, ctx, 2, in2);
        cr_assert_eq(decimals(v), 3, "unconstrained numeric keeps the input's decimals: %s -> %s", in2, v);
        within_noise(in2, v, "0.10");
        free(v);
    }
    cr_assert_gt(moved, 2900);
    v = mask1(&t, ctx, 0, "0.00");
    cr_assert_str_eq(v, "0.00");
    free(v);
    v = mask1(&t, ctx, 0, "0");
    cr_assert_str_eq(v, "0.00");
    free(v);
    v = mask1(&t, ctx, 2, "NaN");
    cr_assert_str_eq(v, "NaN");
    free(v);
    v = mask1(&t, ctx, 2, "-Infinity");
    cr_assert_str_eq(v, "-Infinity");
    free(v);
    for (int i = 0; i < 500; i++) {
        char in[16];
        snprintf(in, sizeof(in), "%d", i % 2 ? 32767 - i : -32768 + i);
        v = mask1(&t, ctx, 3, in);
        cr_assert(atoi(v) >= -32768 && atoi(v) <= 32767, "smallint %s -> %s", in, v);
        free(v);
        v = mask1(&t, ctx, 4, i % 2 ? "99.99" : "-99.99");
        cr_assert_eq(strlen(v) - (v[0] == '-'), 5, "numeric(4,2) clamps: %s", v);
        free(v);
    }
    v = mask1(&t, ctx, 5, "1.5e+20");
    cr_assert(strtod(v, NULL) >= 1.35e20 && strtod(v, NULL) <= 1.65e20, "%s", v);
    free(v);
    v = mask1(&t, ctx, 5, "-Infinity");
    cr_assert_str_eq(v, "-Infinity");
    free(v);
    v = mask1(&t, ctx, 6, "n/a"); /* opaque: applied only when the text parses */
    cr_assert_str_eq(v, "n/a");
    free(v);
    v = mask1(&t, ctx, 6, "100.0");
    within_noise("100.0", v, "0.3");
    free(v);
    {
        const char *vals[7] = {"12,50", "1", "1", "1", "1", "1", "1"};
        char *o[MAXC];
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), SF_EFORMAT);
        cr_assert_str_eq(e.msg, "cannot mask public.t.a (noise): value is not a number");
    }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, noise_by_column_moves_one_products_prices_together)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n"
                                 "  order_lines:\n    unit_price: {noise: 0.05, by: sku}\n"
                                 "  price_lists:\n    unit_price: {noise: 0.05, by: sku}\n");
    sf_mask_key *key = key_n(12);
    sf_rowctx *ctx = rowctx(key);
    tbl a = plan(pol, "order_lines", "sku:text;unit_price:numeric(10,2)");
    tbl b = plan(pol, "price_lists", "unit_price:numeric(10,2);sku:character varying(16)");
    const char *r1[] = {"SKU-1", "100.00"}, *r2[] = {"200.00", "SKU-1"}, *r3[] = {"SKU-2", "100.00"};
    char *o1[MAXC], *o2[MAXC], *o3[MAXC];
    sf_dec x, y, two, t;
    sf_error e;
    cr_assert_eq(mask_row(&a, ctx, r1, o1, &e), 0, "%s", e.msg);
    cr_assert_eq(mask_row(&b, ctx, r2, o2, &e), 0, "%s", e.msg);
    cr_assert_eq(mask_row(&a, ctx, r3, o3, &e), 0, "%s", e.msg);
    cr_assert_str_eq(o1[0], "SKU-1", "the by column itself is not changed");
    dec(&x, o1[1]);
    dec(&y, o2[0]);
    dec(&two, "2");
    sf_dec_mul(&t, &x, &two);
    sf_dec_sub(&t, &t, &y);
    t.neg = 0;
    dec(&two, "0.01");
    cr_assert_leq(sf_dec_cmp(&t, &two), 0, "same sku, same factor: 100.00 -> %s, 200.00 -> %s", o1[1], o2[0]);
    cr_assert_str_neq(o1[1], o3[1], "another sku, another factor");
    for (int i = 0; i < 2; i++)
        free(o1[i]), free(o2[i]), free(o3[i]);
    sf_tableplan_free(a.plan);
    sf_tableplan_free(b.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- date_shift ---------------------------------------------------------------------- */

static long days_between(const char *a, const char *b)
{
    struct tm ta = {0}, tb = {0};
    cr_assert_eq(sscanf(a, "%d-%d-%d", &ta.tm_year, &ta.tm_mon, &ta.tm_mday), 3);
    cr_assert_eq(sscanf(b, "%d-%d-%d", &tb.tm_year, &tb.tm_mon, &tb.tm_mday), 3);
    ta.tm_year -= 1900, tb.tm_year -= 1900, ta.tm_mon--, tb.tm_mon--;
    ta.tm_hour = tb.tm_hour = 12;
    return (long)((timegm(&tb) - timegm(&ta)) / 86400);
}

Test(transform, date_shift_bounds_formats_and_by_order)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    d: {date_shift: {days: 30}}\n"
                                 "    ts: {date_shift: {days: 10, by: cid}}\n    tz: {date_shift: {days: 10, by: cid}}\n"
                                 "    o: {date_shift: 3}\n");
    sf_mask_key *key = key_n(13);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "cid:bigint;d:date;ts:timestamp without time zone;tz:timestamp with time zone;o:public.dom");
    int shifted = 0;
    char *v;
    sf_error e;
    for (int i = 0; i < 1000; i++) {
        char in[32];
        long dd;
        snprintf(in, sizeof(in), "20%02d-%02d-%02d", i % 40, 1 + i % 12, 1 + i % 28);
        v = mask1(&t, ctx, 1, in);
        dd = days_between(in, v);
        cr_assert(dd >= -30 && dd <= 30, "%s -> %s", in, v);
        shifted += dd != 0;
        free(v);
    }
    cr_assert_gt(shifted, 900);
    /* by: one customer's timestamps all move by the same offset: order and gaps kept, time and zone text kept */
    for (int c = 0; c < 50; c++) {
        char cid[16];
        const char *r1[5], *r2[5];
        char *o1[MAXC], *o2[MAXC];
        snprintf(cid, sizeof(cid), "%d", c);
        r1[0] = r2[0] = cid;
        r1[1] = r2[1] = "2024-01-01";
        r1[2] = "2024-02-28 23:59:59.999999", r2[2] = "2024-03-01 00:00:00";
        r1[3] = "2024-12-31 12:34:56.123456+05:30", r2[3] = "2025-01-01 00:00:00-08";
        r1[4] = r2[4] = "infinity";
        cr_assert_eq(mask_row(&t, ctx, r1, o1, &e), 0, "%s", e.msg);
        cr_assert_eq(mask_row(&t, ctx, r2, o2, &e), 0, "%s", e.msg);
        cr_assert_eq(days_between(o1[2], o2[2]), days_between(r1[2], r2[2]), "%s %s", o1[2], o2[2]);
        cr_assert_str_eq(o1[2] + 10, " 23:59:59.999999");
        cr_assert_str_eq(o2[2] + 10, " 00:00:00");
        cr_assert_str_eq(o1[3] + 10, " 12:34:56.123456+05:30");
        cr_assert_str_eq(o2[3] + 10, " 00:00:00-08");
        cr_assert_eq(days_between(r1[3], o1[3]), days_between(r1[2], o1[2]), "ts and tz share the by offset");
        cr_assert_str_eq(o1[4], "infinity");
        for (int i = 0; i < 5; i++)
            free(o1[i]), free(o2[i]);
    }
    v = mask1(&t, ctx, 1, "-infinity");
    cr_assert_str_eq(v, "-infinity");
    free(v);
    v = mask1(&t, ctx, 1, "0044-03-15 BC");
    cr_assert(strstr(v, " BC") && strlen(v) == strlen("0044-03-15 BC"), "%s", v);
    free(v);
    v = mask1(&t, ctx, 1, "0001-01-01");
    cr_assert(strlen(v) >= 10, "%s", v); /* may become 1 BC: "0001-12-xx BC" */
    free(v);
    v = mask1(&t, ctx, 1, "2024-02-29");
    cr_assert_eq(v[4], '-');
    free(v);
    v = mask1(&t, ctx, 4, "not a date"); /* opaque: unchanged */
    cr_assert_str_eq(v, "not a date");
    free(v);
    {
        const char *vals[5] = {"1", "2024-13-01", "2024-01-01 00:00:00", "2024-01-01 00:00:00+00", "x"};
        char *o[MAXC];
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), SF_EFORMAT);
        cr_assert_str_eq(e.msg, "cannot mask public.t.d (date_shift): value is not an ISO date or timestamp");
    }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- expr --------------------------------------------------------------------------- */

Test(transform, expr_is_exact_on_masked_inputs)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  order_lines:\n"
                                 "    unit_price: {noise: 0.05, by: sku}\n    line_total: {expr: \"qty * unit_price\"}\n"
                                 "    avg: {expr: \"(line_total_orig + 1) / qty\"}\n    n: {expr: \"-qty * 2.5\"}\n");
    sf_mask_key *key = key_n(14);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "order_lines",
                 "sku:text;qty:integer;unit_price:numeric(10,2);line_total:numeric(14,2);line_total_orig:numeric;"
                 "avg:numeric(8,3);n:integer");
    for (int i = 1; i < 2000; i++) {
        char qty[16], price[32], sku[16];
        const char *vals[7];
        char *o[MAXC];
        sf_dec q, p, lt, want;
        sf_error e;
        snprintf(qty, sizeof(qty), "%d", i % 97 + 1);
        snprintf(price, sizeof(price), "%d.%02d", i * 13 % 10000, i % 100);
        snprintf(sku, sizeof(sku), "S%d", i % 50);
        vals[0] = sku, vals[1] = qty, vals[2] = price, vals[3] = "999", vals[4] = "10", vals[5] = "0", vals[6] = "0";
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), 0, "%s", e.msg);
        dec(&q, o[1]);
        dec(&p, o[2]);
        dec(&lt, o[3]);
        sf_dec_mul(&want, &q, &p);
        cr_assert_eq(sf_dec_cmp(&want, &lt), 0, "%s * %s != %s", o[1], o[2], o[3]);
        cr_assert_eq(decimals(o[3]), 2);
        cr_assert_eq(decimals(o[5]), 3);
        cr_assert_null(strchr(o[6], '.'));
        cr_assert_eq(atol(o[6]), -(long)((atol(qty) * 5 + 1) / 2), "-%s * 2.5 rounds half away from zero: %s", qty, o[6]);
        for (int c = 0; c < 7; c++)
            free(o[c]);
    }
    {
        const char *vals[7] = {"S", NULL, "1.00", "5", "1", "1", "1"};
        char *o[MAXC];
        sf_error e;
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), 0, "%s", e.msg);
        cr_assert_null(o[3], "NULL operand gives NULL");
        cr_assert_null(o[6]);
        for (int c = 0; c < 7; c++)
            free(o[c]);
        vals[1] = "0";
        cr_assert_eq(mask_row(&t, ctx, vals, o, &e), SF_EFORMAT);
        cr_assert_str_eq(e.msg, "cannot mask public.order_lines.avg (expr): division by zero");
    }
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

Test(transform, expr_results_fit_the_column)
{
    sf_mask_policy *pol = policy("version: 1\ntables:\n  t:\n    a: {expr: \"x * 1000\"}\n    b: {expr: \"x * x\"}\n"
                                 "    c: {expr: \"x / 3\"}\n");
    sf_mask_key *key = key_n(15);
    sf_rowctx *ctx = rowctx(key);
    tbl t = plan(pol, "t", "x:numeric;a:numeric(5,2);b:smallint;c:numeric");
    const char *vals[4] = {"123.456", "0", "0", "0"};
    char *o[MAXC];
    sf_error e;
    cr_assert_eq(mask_row(&t, ctx, vals, o, &e), 0, "%s", e.msg);
    cr_assert_str_eq(o[1], "999.99", "clamped to numeric(5,2)");
    cr_assert_str_eq(o[2], "15241", "123.456^2 = 15241.383936 -> 15241");
    cr_assert_str_eq(o[3], "41.15200000000000000000");
    for (int i = 0; i < 4; i++)
        free(o[i]);
    vals[0] = "-1000";
    cr_assert_eq(mask_row(&t, ctx, vals, o, &e), 0, "%s", e.msg);
    cr_assert_str_eq(o[1], "-999.99");
    cr_assert_str_eq(o[2], "32767", "1000000 clamped to smallint");
    for (int i = 0; i < 4; i++)
        free(o[i]);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- fast paths against the general path ------------------------------------------ */

static uint64_t fp_state = 0x2545F4914F6CDD1Dull;

static unsigned fp_rnd(unsigned n)
{
    fp_state ^= fp_state >> 12;
    fp_state ^= fp_state << 25;
    fp_state ^= fp_state >> 27;
    return (unsigned)((fp_state * 2685821657736338717ull >> 11) % n);
}

/* A number as a dump holds it: mostly short decimals, with edges, long values, exponents and specials. */
static void fp_number(char *out, size_t cap)
{
    static const char *const edge[] = {"0",      "-0",    "-0.00",   "0.000",  ".5",       "5.",      "+7",
                                       "NaN",    "Infinity", "-Infinity", "1.5e3", "2E-4",  "-9.995",   "32767",
                                       "-32768", "2147483647", "-2147483648", "9223372036854775807",
                                       "-9223372036854775808", "99999999999999999999.99", "0.000000000000000000005",
                                       "123456789012345678", "1234567890123456789", "-999999999999999999.9"};
    char *o = out;
    unsigned nint, nfrac;
    if (fp_rnd(8) == 0) {
        snprintf(out, cap, "%s", edge[fp_rnd(sizeof(edge) / sizeof(edge[0]))]);
        return;
    }
    if (fp_rnd(4) == 0)
        *o++ = '-';
    nint = 1 + fp_rnd(fp_rnd(4) ? 7 : 20);
    nfrac = fp_rnd(4) ? fp_rnd(4) : fp_rnd(22);
    for (unsigned i = 0; i < nint; i++)
        *o++ = (char)('0' + (i == 0 && nint > 1 ? 1 + fp_rnd(9) : fp_rnd(10)));
    if (nfrac) {
        *o++ = '.';
        for (unsigned i = 0; i < nfrac; i++)
            *o++ = (char)('0' + (i + 1 == nfrac && fp_rnd(3) == 0 ? 0 : fp_rnd(10)));
    }
    *o = 0;
}

/* A date or timestamp as pg_dump writes it (ISO), with BC, times, offsets, infinity and the range's ends. */
static void fp_date(char *out, size_t cap)
{
    static const char *const edge[] = {"infinity",   "-infinity",         "4713-01-01 BC", "4714-11-24 BC",
                                       "294276-12-31", "294277-01-01",    "0001-01-01",    "0001-12-31 BC",
                                       "2000-02-29", "1900-02-28",        "2024-12-31 23:59:59.999999+14",
                                       "1999-12-31 12:00:00-03:30", "0044-03-15 BC", "2024-01-31T08:00:00Z"};
    static const char *const rest[] = {"", "", "", " 00:00:00", " 12:34:56+01", " 23:59:59.123456", " 08:15:00-05:30"};
    unsigned y, m, d;
    if (fp_rnd(10) == 0) {
        snprintf(out, cap, "%s", edge[fp_rnd(sizeof(edge) / sizeof(edge[0]))]);
        return;
    }
    y = fp_rnd(5) ? 1900 + fp_rnd(200) : 1 + fp_rnd(9999);
    m = 1 + fp_rnd(12);
    d = 1 + fp_rnd(m == 2 ? (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : 28) : m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31);
    snprintf(out, cap, "%04u-%02u-%02u%s%s", y, m, d, rest[fp_rnd(sizeof(rest) / sizeof(rest[0]))],
             fp_rnd(20) == 0 ? " BC" : "");
}

/* Mask nrows rows; returns the rc and fills txt[r][c] ("\N" for NULL) or the error message. */
static int fp_mask(tbl *t, sf_rowctx *ctx, sf_field *in, size_t nrows, char txt[][MAXC][128], char *msg)
{
    sf_field out[64 * MAXC];
    sf_error e = {0};
    int rc = sf_tableplan_mask_rows(t->plan, ctx, in, out, nrows, &e);
    if (rc) {
        snprintf(msg, 256, "%.200s", e.msg);
        return rc;
    }
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < t->n; c++) {
            const sf_field *f = &out[r * t->n + c];
            cr_assert_lt(f->len, 128);
            if (f->null)
                snprintf(txt[r][c], 128, "\\N");
            else
                snprintf(txt[r][c], 128, "%.*s", (int)f->len, f->ptr);
        }
    return 0;
}

Test(transform, numeric_and_date_fast_paths_equal_the_general_path, .timeout = 120)
{
    sf_mask_policy *pol = policy(
        "version: 1\ntables:\n  t:\n"
        "    a: {noise: 0.05, by: sku}\n    b: {noise: 0.5}\n    c: {noise: 1}\n    d: {noise: 0.3}\n"
        "    e: {noise: 0.2}\n    f: {noise: 0.1}\n    g: {noise: 0.9}\n"
        "    lt: {expr: \"qty * a\"}\n    lt2: {expr: \"b * f\"}\n    lt3: {expr: \"qty * 2.5\"}\n"
        "    lt4: {expr: \"b * qty\"}\n    lt5: {expr: \"g * e\"}\n"
        "    d1: {date_shift: {days: 180}}\n    d2: {date_shift: {days: 3650, by: sku}}\n");
    sf_mask_key *key = key_n(21);
    sf_rowctx *fast = rowctx(key), *slow = rowctx(key);
    tbl t = plan(pol, "t",
                 "sku:text;qty:integer;a:numeric(12,2);b:numeric;c:integer;d:smallint;e:numeric(4,2);"
                 "f:numeric(30,20);g:bigint;lt:numeric(14,2);lt2:numeric;lt3:smallint;lt4:double precision;lt5:public.amount;"
                 "d1:date;d2:timestamp with time zone");
    static char vals[64][MAXC][64];
    static char want[64][MAXC][128], got[64][MAXC][128];
    size_t agree = 0, errors = 0;
    cr_assert_eq(t.n, 16);
    for (int batch = 0; batch < 800; batch++) {
        sf_field in[64 * MAXC];
        size_t nrows = 1 + fp_rnd(64);
        char m1[256] = "", m2[256] = "";
        int rc1, rc2;
        for (size_t r = 0; r < nrows; r++)
            for (size_t c = 0; c < t.n; c++) {
                sf_field *f = &in[r * t.n + c];
                if (c == 0)
                    snprintf(vals[r][c], 64, "SKU-%05u", fp_rnd(300));
                else if (c == 1)
                    snprintf(vals[r][c], 64, "%u", fp_rnd(200));
                else if (c >= 14)
                    fp_date(vals[r][c], 64);
                else
                    fp_number(vals[r][c], 64);
                f->ptr = vals[r][c];
                f->len = strlen(vals[r][c]);
                f->null = fp_rnd(30) == 0;
            }
        sf_dec_fast_paths = 1;
        rc1 = fp_mask(&t, fast, in, nrows, got, m1);
        sf_dec_fast_paths = 0;
        rc2 = fp_mask(&t, slow, in, nrows, want, m2);
        sf_dec_fast_paths = 1;
        cr_assert_eq(rc1, rc2, "batch %d: fast %d (%s), general %d (%s)", batch, rc1, m1, rc2, m2);
        if (rc1) {
            cr_assert_str_eq(m1, m2);
            errors++;
            continue;
        }
        for (size_t r = 0; r < nrows; r++)
            for (size_t c = 0; c < t.n; c++) {
                cr_assert_str_eq(got[r][c], want[r][c], "column %zu, input '%s' (qty %s): fast '%s', general '%s'", c,
                                 vals[r][c], vals[r][1], got[r][c], want[r][c]);
                agree++;
            }
    }
    cr_assert_gt(agree, 100000, "only %zu values compared (%zu batches failed)", agree, errors);
    cr_assert_lt(errors, 80, "%zu of 800 batches failed", errors);
    sf_tableplan_free(t.plan);
    sf_rowctx_free(fast);
    sf_rowctx_free(slow);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

/* ---- exact decimals --------------------------------------------------------------- */

Test(transform, decimal_arithmetic)
{
    sf_dec a, b, c;
    char s[SF_DEC_TEXT_MAX + 1];
    dec(&a, "12345678901234567890.123456789");
    dec(&b, "-98765432109876543210.987654321");
    cr_assert_eq(sf_dec_mul(&c, &a, &b), 0);
    sf_dec_format(&c, s);
    cr_assert_str_eq(s, "-1219326311370217952261850327336229233322.374638011112635269");
    cr_assert_eq(sf_dec_add(&c, &a, &b), 0);
    sf_dec_format(&c, s);
    cr_assert_str_eq(s, "-86419753208641975320.864197532");
    dec(&a, "123456789012345678901234567890.123456789");
    dec(&b, "-987654321098765432109876543210.987654321");
    cr_assert_eq(sf_dec_mul(&c, &a, &b), SF_DEC_RANGE, "78 digits do not fit 256 bits");
    dec(&a, "2.5");
    cr_assert_eq(sf_dec_rescale(&a, 0), 0);
    sf_dec_format(&a, s);
    cr_assert_str_eq(s, "3");
    dec(&a, "-2.5");
    sf_dec_rescale(&a, 0);
    sf_dec_format(&a, s);
    cr_assert_str_eq(s, "-3");
    dec(&a, "-0.004");
    sf_dec_rescale(&a, 2);
    sf_dec_format(&a, s);
    cr_assert_str_eq(s, "0.00", "never -0");
    dec(&a, "1");
    dec(&b, "3");
    cr_assert_eq(sf_dec_div(&c, &a, &b, 4), 0);
    sf_dec_format(&c, s);
    cr_assert_str_eq(s, "0.3333");
    dec(&a, "2");
    cr_assert_eq(sf_dec_div(&c, &a, &b, 4), 0);
    sf_dec_format(&c, s);
    cr_assert_str_eq(s, "0.6667");
    dec(&b, "0");
    cr_assert_eq(sf_dec_div(&c, &a, &b, 4), SF_DEC_DIV0);
    cr_assert_eq(sf_dec_parse(&a, "1e3", 3), 0);
    sf_dec_format(&a, s);
    cr_assert_str_eq(s, "1000");
    cr_assert_eq(sf_dec_parse(&a, "2.5E-3", 6), 0);
    sf_dec_format(&a, s);
    cr_assert_str_eq(s, "0.0025");
    cr_assert_eq(sf_dec_parse(&a, "nan", 3), SF_DEC_SPECIAL);
    cr_assert_eq(sf_dec_parse(&a, "1.2.3", 5), SF_DEC_SYNTAX);
    cr_assert_eq(sf_dec_parse(&a, "", 0), SF_DEC_SYNTAX);
    cr_assert_eq(sf_dec_parse(&a, "-", 1), SF_DEC_SYNTAX);
    cr_assert_eq(sf_dec_parse(&a, "1234567890123456789012345678901234567890123456789012345678901", 61), SF_DEC_RANGE);
    cr_assert_eq(sf_dec_parse(&a, "0000000000000000000000000000000000000000000000000000000000000001", 64), 0);
    dec(&a, "99999.999");
    cr_assert_eq(sf_dec_clamp_digits(&a, 5), 1);
    sf_dec_format(&a, s);
    cr_assert_str_eq(s, "99.999");
}

Test(transform, decimal_fast_paths_agree_with_the_general_ones)
{
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int iter = 0; iter < 200000; iter++) {
        char in[64], padded[96], s1[SF_DEC_TEXT_MAX + 1], s2[SF_DEC_TEXT_MAX + 1], want[64];
        sf_dec a, b, c, d;
        uint64_t ia, ib;
        int fa, len;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ia = x % (iter % 3 == 0 ? 1000000000000000000ull : iter % 3 == 1 ? 100000ull : 100ull);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fa = (int)(x % 6);
        /* "[-]int[.frac]" of ia with fa decimals; 18 digits at most: the short parser takes it */
        len = snprintf(in, sizeof(in), "%s%llu", x % 4 == 0 ? "-" : "", (unsigned long long)ia);
        if (fa && len > fa) {
            memmove(in + len - fa + 1, in + len - fa, (size_t)fa + 1);
            in[len - fa] = '.';
            len++;
        }
        /* the same number behind leading zeros is too long for the short parser */
        snprintf(padded, sizeof(padded), "%s0000000000000000000000%s", in[0] == '-' ? "-" : "", in + (in[0] == '-'));
        cr_assert_eq(sf_dec_parse(&a, in, (size_t)len), 0, "%s", in);
        cr_assert_eq(sf_dec_parse(&b, padded, strlen(padded)), 0, "%s", padded);
        cr_assert(a.scale == b.scale && a.neg == b.neg && memcmp(&a.mag, &b.mag, sizeof(a.mag)) == 0, "%s", in);
        sf_dec_format(&a, s1);
        sf_dec_format(&b, s2);
        cr_assert_str_eq(s1, s2);
        /* formatting a 64-bit magnitude */
        memset(&c, 0, sizeof(c));
        c.mag.w[0] = x;
        sf_dec_format(&c, s1);
        snprintf(want, sizeof(want), "%llu", (unsigned long long)x);
        cr_assert_str_eq(s1, want);
        /* 64 x 64-bit products, exactly */
        ib = x ^ (x >> 29);
        memset(&c, 0, sizeof(c));
        memset(&d, 0, sizeof(d));
        c.mag.w[0] = ia;
        d.mag.w[0] = ib;
        cr_assert_eq(sf_dec_mul(&c, &c, &d), 0);
        {
            unsigned __int128 p = (unsigned __int128)ia * ib;
            cr_assert(c.mag.w[0] == (uint64_t)p && c.mag.w[1] == (uint64_t)(p >> 64) && !c.mag.w[2] && !c.mag.w[3]);
        }
    }
}

/* A small decimal's text and a general decimal's text agree. */
static void same_text(const sf_sdec *a, const sf_dec *b, const char *what)
{
    char x[SF_DEC_TEXT_MAX + 1], y[SF_DEC_TEXT_MAX + 1];
    sf_sdec_format(a, x);
    sf_dec_format(b, y);
    cr_assert_str_eq(x, y, "%s", what);
}

Test(transform, small_decimals_agree_with_the_general_ones)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 300000; iter++) {
        char ta[40], tb[40], what[160];
        sf_sdec sa, sb, sr;
        sf_dec da, db, dr;
        int sc, digits, rs, rd;
        uint64_t ma, mb;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ma = x % (iter % 4 == 0 ? 1000000000000000000ull : iter % 4 == 1 ? 1000000ull : 1000ull);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        mb = x % (iter % 3 == 0 ? 1000000000000000000ull : 100000ull);
        /* "[-]m" with 0..6 decimals: both parsers take it (at most 18 digits) */
        snprintf(ta, sizeof(ta), "%s%llu.%0*llu", x % 5 == 0 ? "-" : "", (unsigned long long)(ma / 1000000),
                 6, (unsigned long long)(ma % 1000000));
        snprintf(tb, sizeof(tb), "%s%llu", x % 7 == 0 ? "-" : "", (unsigned long long)mb);
        if (iter % 2)
            ta[strlen(ta) - (size_t)(x % 7)] = 0; /* fewer decimals; maybe "12." */
        cr_assert_eq(sf_sdec_parse(&sa, ta, strlen(ta)), 1, "%s", ta);
        cr_assert_eq(sf_sdec_parse(&sb, tb, strlen(tb)), 1, "%s", tb);
        cr_assert_eq(sf_dec_parse(&da, ta, strlen(ta)), 0);
        cr_assert_eq(sf_dec_parse(&db, tb, strlen(tb)), 0);
        same_text(&sa, &da, ta);
        snprintf(what, sizeof(what), "%s * %s", ta, tb);
        if (sf_sdec_mul(&sr, &sa, &sb) == 0) {
            cr_assert_eq(sf_dec_mul(&dr, &da, &db), 0, "%s", what);
            same_text(&sr, &dr, what);
        }
        snprintf(what, sizeof(what), "%s + %s", ta, tb);
        if (sf_sdec_add(&sr, &sa, &sb) == 0 && sf_dec_add(&dr, &da, &db) == 0)
            same_text(&sr, &dr, what);
        snprintf(what, sizeof(what), "%s - %s", ta, tb);
        if (sf_sdec_sub(&sr, &sa, &sb) == 0 && sf_dec_sub(&dr, &da, &db) == 0)
            same_text(&sr, &dr, what);
        /* rescale up and down (rounding half away from zero), then clamps */
        sc = (int)(x % 12);
        digits = (int)(x % 9) + 1;
        if (sf_sdec_mul(&sr, &sa, &sb) == 0 && sf_dec_mul(&dr, &da, &db) == 0) {
            rs = sf_sdec_rescale(&sr, sc);
            rd = sf_dec_rescale(&dr, sc);
            snprintf(what, sizeof(what), "%s * %s at scale %d", ta, tb, sc);
            if (rs == 0) {
                cr_assert_eq(rd, 0, "%s", what);
                same_text(&sr, &dr, what);
                cr_assert_eq(sf_sdec_clamp_digits(&sr, digits + sc), sf_dec_clamp_digits(&dr, digits + sc), "%s", what);
                same_text(&sr, &dr, what);
                if (sc == 0) {
                    cr_assert_eq(sf_sdec_clamp_i64(&sr, -32768, 32767), sf_dec_clamp_i64(&dr, -32768, 32767));
                    same_text(&sr, &dr, what);
                }
            }
        }
    }
    /* 20..38-digit magnitudes format through both halves */
    {
        sf_sdec a = {(unsigned __int128)1234567890123456789ull * 10000000000000000000ull + 42, 1, 5};
        char t[SF_DEC_TEXT_MAX + 1];
        sf_sdec_format(&a, t);
        cr_assert_str_eq(t, "-123456789012345678900000000000000.00042");
    }
}

/* ---- masked values load into a real PostgreSQL ---------------------------------------- */

#include <libpq-fe.h>
#include <unistd.h>

static PGconn *pg_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "cannot connect to %s: %s", url, PQerrorMessage(c));
    return c;
}

static void pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQerrorMessage(c));
    PQclear(r);
}

static long pg_count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long n;
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

#define PG_COLS 19

Test(transform_pg, masked_values_fit_their_postgresql_types, .timeout = 300)
{
    const char *url = getenv("STAGEFORK_TEST_PG");
    static const char *const names[PG_COLS] = {
        "id", "customer_code", "company_name", "contact_name", "email", "phone", "tax_id", "iban", "credit_limit",
        "country", "notes", "birth_date", "created_at", "tiny", "code3", "small", "big", "frac", "ref"};
    static const char *const decls[PG_COLS] = {
        "bigint", "character varying(12)", "character varying(80)", "character varying(60)", "character varying(120)",
        "character varying(24)", "character varying(20)", "character varying(34)", "numeric(12,2)", "character(2)",
        "text", "date", "timestamp with time zone", "character varying(5)", "character(3)", "smallint", "bigint",
        "numeric(2,2)", "uuid"};
    const char *yaml = "version: 1\n"
                       "tables:\n"
                       "  customers:\n"
                       "    customer_code: alnum\n    company_name: company\n    contact_name: name\n    email: email\n"
                       "    phone: phone\n    tax_id: {alnum: {keep_leading: 2}}\n    iban: {alnum: {keep_leading: 2}}\n"
                       "    credit_limit: {noise: 0.10}\n    country: keep\n    notes: null\n"
                       "    birth_date: {date_shift: {days: 180}}\n    created_at: {date_shift: {days: 30, by: id}}\n"
                       "    tiny: name\n    code3: city\n    small: {noise: 0.5}\n    big: digits\n    frac: digits\n"
                       "    ref: digits\n"
                       "  order_lines:\n"
                       "    sku: alnum\n    unit_price: {noise: 0.05, by: sku}\n    line_total: {expr: \"qty * unit_price\"}\n";
    char dbname[64], dburl[1024], sql[2048];
    sf_mask_policy *pol;
    sf_mask_key *key = key_n(20);
    sf_rowctx *ctx = rowctx(key);
    sf_tableplan *cust, *lines;
    sf_coltype types[PG_COLS], ltypes[4];
    const char *lnames[4] = {"sku", "qty", "unit_price", "line_total"};
    sf_error e = {0};
    PGconn *admin, *db;
    enum { ROWS = 4000 };

    cr_assert_not_null(url, "STAGEFORK_TEST_PG is not set (run through make test)");
    pol = policy(yaml);
    for (int i = 0; i < PG_COLS; i++)
        sf_coltype_parse(&types[i], decls[i], strlen(decls[i]));
    sf_coltype_parse(&ltypes[0], "character varying(16)", 21);
    sf_coltype_parse(&ltypes[1], "integer", 7);
    sf_coltype_parse(&ltypes[2], "numeric(10,2)", 13);
    sf_coltype_parse(&ltypes[3], "numeric(14,2)", 13);
    cr_assert_eq(sf_tableplan_new(&cust, pol, "public", "customers", names, types, PG_COLS, 1, &e), 0, "%s", e.msg);
    cr_assert_eq(sf_tableplan_new(&lines, pol, "public", "order_lines", lnames, ltypes, 4, 1, &e), 0, "%s", e.msg);

    snprintf(dbname, sizeof(dbname), "sf_rules_%ld", (long)getpid());
    admin = pg_connect(url);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
    pg_ok(admin, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
    pg_ok(admin, sql);
    {
        PQconninfoOption *opts = PQconninfoParse(url, NULL);
        size_t off = 0;
        for (PQconninfoOption *o = opts; o && o->keyword; o++)
            if (o->val && strcmp(o->keyword, "dbname") != 0)
                off += (size_t)snprintf(dburl + off, sizeof(dburl) - off, "%s='%s' ", o->keyword, o->val);
        snprintf(dburl + off, sizeof(dburl) - off, "dbname='%s'", dbname);
        PQconninfoFree(opts);
    }
    db = pg_connect(dburl);
    pg_ok(db, "CREATE TABLE customers (id bigint PRIMARY KEY, customer_code varchar(12) UNIQUE, company_name varchar(80),"
              " contact_name varchar(60), email varchar(120) UNIQUE, phone varchar(24), tax_id varchar(20),"
              " iban varchar(34), credit_limit numeric(12,2), country char(2), notes text, birth_date date,"
              " created_at timestamptz, tiny varchar(5), code3 char(3), small smallint, big bigint UNIQUE,"
              " frac numeric(2,2), ref uuid UNIQUE)");
    pg_ok(db, "CREATE TABLE order_lines (sku varchar(16), qty integer, unit_price numeric(10,2), line_total numeric(14,2))");
    pg_ok(db, "BEGIN");
    for (int r = 0; r < ROWS; r++) {
        char v[PG_COLS][96];
        sf_field in[PG_COLS], o[PG_COLS];
        const char *params[PG_COLS];
        PGresult *res;
        snprintf(v[0], 96, "%d", r + 1);
        snprintf(v[1], 96, "C%c-%05d", 'A' + r % 26, r);
        snprintf(v[2], 96, "Müller & Söhne Handels GmbH %d", r);
        snprintf(v[3], 96, "Zoë O'Brien-Łukasiewicz %d", r);
        snprintf(v[4], 96, r % 2 ? "first.last.%d@example.com" : "First.Last.%d@Example.COM", r);
        snprintf(v[5], 96, "+49 (0)30 %04d-%04d", r / 100, r % 10000);
        snprintf(v[6], 96, "DE%09d", r * 7);
        snprintf(v[7], 96, "DE89 3704 0044 %04d %04d 00", r / 10000, r % 10000);
        snprintf(v[8], 96, "%s", r % 3 == 0 ? "9999999999.99" : r % 3 == 1 ? "-9999999999.99" : "0.01");
        snprintf(v[9], 96, "DE");
        snprintf(v[10], 96, "secret note %d", r);
        snprintf(v[11], 96, r % 50 == 0 ? "0001-01-%02d" : "19%02d-%02d-%02d", r % 50 == 0 ? 1 + r % 28 : 40 + r % 60,
                 1 + r % 12, 1 + r % 28);
        snprintf(v[12], 96, "2024-%02d-%02d 23:59:59.999999+05:30", 1 + r % 12, 1 + r % 28);
        snprintf(v[13], 96, "Bob");
        snprintf(v[14], 96, "ab ");
        snprintf(v[15], 96, "%d", r % 2 ? 32767 - r % 100 : -32768 + r % 100);
        snprintf(v[16], 96, "%lld", r % 2 ? 9223372036854775807LL - r : -9223372036854775807LL + r);
        snprintf(v[17], 96, "0.%02d", r % 100);
        snprintf(v[18], 96, "%08x-e29b-41d4-a716-%012d", r, r);
        for (int i = 0; i < PG_COLS; i++)
            in[i] = (sf_field){v[i], strlen(v[i]), 0};
        cr_assert_eq(sf_tableplan_mask(cust, ctx, in, o, &e), 0, "row %d: %s", r, e.msg);
        for (int i = 0; i < PG_COLS; i++) {
            char *p = o[i].null ? NULL : strndup(o[i].ptr, o[i].len);
            params[i] = p;
        }
        res = PQexecParams(db,
                           "INSERT INTO customers VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
                           PG_COLS, NULL, params, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "row %d rejected: %s", r, PQerrorMessage(db));
        PQclear(res);
        for (int i = 0; i < PG_COLS; i++)
            free((char *)params[i]);
        {
            char sku[32], qty[16], price[32];
            sf_field li[4], lo[4];
            const char *lp[4];
            snprintf(sku, sizeof(sku), "SKU-%c%04d", 'A' + r % 7, r % 300);
            snprintf(qty, sizeof(qty), "%d", 1 + r % 250);
            snprintf(price, sizeof(price), "%d.%02d", r % 2 ? 99999999 : r % 1000, r % 100);
            li[0] = (sf_field){sku, strlen(sku), 0};
            li[1] = (sf_field){qty, strlen(qty), 0};
            li[2] = (sf_field){price, strlen(price), 0};
            li[3] = (sf_field){"0", 1, 0};
            cr_assert_eq(sf_tableplan_mask(lines, ctx, li, lo, &e), 0, "line %d: %s", r, e.msg);
            for (int i = 0; i < 4; i++)
                lp[i] = lo[i].null ? NULL : strndup(lo[i].ptr, lo[i].len);
            res = PQexecParams(db, "INSERT INTO order_lines VALUES ($1,$2,$3,$4)", 4, NULL, lp, NULL, NULL, 0);
            cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "line %d rejected: %s", r, PQerrorMessage(db));
            PQclear(res);
            for (int i = 0; i < 4; i++)
                free((char *)lp[i]);
        }
    }
    pg_ok(db, "COMMIT");
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM customers"), ROWS);
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM customers WHERE notes IS NOT NULL"), 0);
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM customers WHERE email !~ '^[a-z2-7]{16}@example\\.com$'"), 0);
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM customers WHERE country <> 'DE'"), 0);
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM customers WHERE tax_id !~ '^DE[0-9]{9}$'"), 0);
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM order_lines WHERE line_total <> qty * unit_price"), 0);
    /* alnum is bijective: the 2100 distinct original skus stay 2100 distinct masked skus */
    cr_assert_eq(pg_count(db, "SELECT count(DISTINCT sku) FROM order_lines"), 2100);
    cr_assert_eq(pg_count(db, "SELECT count(*) FROM order_lines WHERE sku !~ '^[A-Z]{3}-[A-Z][0-9]{4}$'"), 0);
    PQfinish(db);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s", dbname);
    pg_ok(admin, sql);
    PQfinish(admin);
    sf_tableplan_free(cust);
    sf_tableplan_free(lines);
    sf_rowctx_free(ctx);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}
