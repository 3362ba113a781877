/*
 * Micro-benchmark of the masking rules: values per second through
 * sf_tableplan_mask for each rule, on distinct values (no memo hits) and on
 * a repeating working set (memo hits), one row at a time and in batches of
 * SF_TABLEPLAN_MAX_ROWS rows (sf_tableplan_mask_rows, as the plain reader
 * masks COPY data), plus a customers-like row with about 40% of its text
 * columns masked. The baseline is copying the same
 * values, measured in the same run. Times are this process's CPU time, so
 * other load on a shared machine does not skew the figures.
 * Usage: bench_rules [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rowmask.h"
#include "stagefork/mask.h"
#include "stagefork/util.h"

/* customers, plus one table "b<k>" per case below whose column `col` has the rule `rule`. */
static const char *const customers_policy =
    "  customers:\n"
    "    customer_code: alnum\n    company_name: company\n    contact_name: name\n    email: email\n"
    "    phone: phone\n    credit_limit: {noise: 0.10}\n    notes: null\n    birth_date: {date_shift: 180}\n";

typedef struct {
    const char *col, *type, *label, *rule;
} bcase;

static const bcase cases[] = {
    {"token", "text", "token", "token"},
    {"email", "character varying(120)", "email", "email"},
    {"name", "character varying(60)", "name", "name"},
    {"company", "character varying(80)", "company", "company"},
    {"city", "character varying(60)", "city", "city"},
    {"phone", "character varying(24)", "digits (phone text)", "phone"},
    {"account", "bigint", "digits (bigint)", "digits"},
    {"iban", "character varying(34)", "alnum (IBAN)", "{alnum: {keep_leading: 2}}"},
    {"price", "numeric(12,2)", "noise", "{noise: 0.05}"},
    {"price_by", "numeric(10,2)", "noise by sku", "{noise: 0.05, by: sku}"},
    {"day", "date", "date_shift", "{date_shift: 30}"},
    {"day_by", "timestamp with time zone", "date_shift by sku", "{date_shift: {days: 30, by: sku}}"},
    {"total", "numeric(14,2)", "expr qty * price", "{expr: \"qty * price_in\"}"},
    {"fixed", "text", "fixed", "{fixed: REDACTED}"},
    {"nulled", "text", "null", "null"},
};

static void value_for(char *out, size_t cap, const char *col, long i)
{
    if (!strcmp(col, "token") || !strcmp(col, "name") || !strcmp(col, "company") || !strcmp(col, "city"))
        snprintf(out, cap, "Customer Name %ld", i);
    else if (!strcmp(col, "email"))
        snprintf(out, cap, "user.%ld@shop%ld.example.com", i, i % 97);
    else if (!strcmp(col, "phone"))
        snprintf(out, cap, "+49 (30) %03ld-%05ld", i / 100000 % 1000, i % 100000);
    else if (!strcmp(col, "account"))
        snprintf(out, cap, "%ld", 4000000000000000L + i * 7919);
    else if (!strcmp(col, "iban"))
        snprintf(out, cap, "DE%02ld 3704 0044 %04ld %04ld 00", i % 97, i / 10000 % 10000, i % 10000);
    else if (!strcmp(col, "price") || !strcmp(col, "price_by"))
        snprintf(out, cap, "%ld.%02ld", i % 100000, i % 100);
    else if (!strcmp(col, "day"))
        snprintf(out, cap, "20%02ld-%02ld-%02ld", i % 30, 1 + i % 12, 1 + i % 28);
    else if (!strcmp(col, "day_by"))
        snprintf(out, cap, "2024-%02ld-%02ld 12:%02ld:00+01", 1 + i % 12, 1 + i % 28, i % 60);
    else
        snprintf(out, cap, "value %ld", i);
}

static char **make_values(const char *col, long n, long distinct)
{
    char **v = malloc((size_t)n * sizeof(char *));
    for (long i = 0; i < n; i++) {
        char buf[128];
        value_for(buf, sizeof(buf), col, distinct ? i % distinct : i);
        v[i] = strdup(buf);
    }
    return v;
}

static void free_values(char **v, long n)
{
    for (long i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Copy every value once: the baseline. */
static double copy_rate(char **vals, long n)
{
    sf_buf b = SF_BUF_INIT;
    double t0 = cpu_seconds(), dt;
    size_t sink = 0;
    for (long i = 0; i < n; i++) {
        sf_buf_clear(&b);
        sf_buf_add(&b, vals[i], strlen(vals[i]));
        sink += b.len;
    }
    dt = cpu_seconds() - t0;
    sf_buf_free(&b);
    if (sink == 0)
        fprintf(stderr, "?");
    return (double)n / dt;
}

/* Mask column `col` of table b over vals, `batch` rows per call; the extra columns (sku, qty, price_in) get fixed values. */
static double rule_rate(const sf_mask_policy *pol, const sf_mask_key *key, size_t k, char **vals, long n, size_t batch)
{
    const bcase *c = &cases[k];
    char table[16];
    const char *cols[4] = {c->col, "sku", "qty", "price_in"};
    sf_coltype types[4];
    sf_tableplan *plan;
    sf_rowctx *ctx;
    static sf_field in[4 * SF_TABLEPLAN_MAX_ROWS], out[4 * SF_TABLEPLAN_MAX_ROWS];
    sf_error err;
    double t0, dt;
    static char skus[5000][16];
    sf_coltype_parse(&types[0], c->type, strlen(c->type));
    sf_coltype_parse(&types[1], "text", 4);
    sf_coltype_parse(&types[2], "integer", 7);
    sf_coltype_parse(&types[3], "numeric(10,2)", 13);
    snprintf(table, sizeof(table), "b%zu", k);
    if (sf_tableplan_new(&plan, pol, "public", table, cols, types, 4, 0, &err) || sf_rowctx_new(&ctx, key, &err)) {
        fprintf(stderr, "bench_rules: %s\n", err.msg);
        exit(1);
    }
    for (int i = 0; i < 5000; i++)
        snprintf(skus[i], sizeof(skus[i]), "SKU-%05d", i);
    t0 = cpu_seconds();
    for (long i = 0; i < n; i += (long)batch) {
        size_t rows = (size_t)(n - i) < batch ? (size_t)(n - i) : batch;
        for (size_t r = 0; r < rows; r++) {
            in[4 * r] = (sf_field){vals[i + (long)r], strlen(vals[i + (long)r]), 0};
            in[4 * r + 1] = (sf_field){skus[(i + (long)r) % 5000], 9, 0};
            in[4 * r + 2] = (sf_field){"3", 1, 0};
            in[4 * r + 3] = (sf_field){"19.99", 5, 0};
        }
        if (sf_tableplan_mask_rows(plan, ctx, in, out, rows, &err)) {
            fprintf(stderr, "bench_rules: %s: %s\n", c->label, err.msg);
            exit(1);
        }
    }
    dt = cpu_seconds() - t0;
    sf_tableplan_free(plan);
    sf_rowctx_free(ctx);
    return (double)n / dt;
}

/* customers rows: 13 columns, 8 masked (5 of 9 text columns, plus noise, date_shift, null), `batch` rows per call. */
static double row_rate(const sf_mask_policy *pol, const sf_mask_key *key, long n, size_t batch, double *copy_rows)
{
    static const char *const cols[] = {"id", "customer_code", "company_name", "contact_name", "email", "phone", "tax_id",
                                       "iban", "credit_limit", "country", "notes", "birth_date", "created_at"};
    static const char *const decl[] = {"bigint", "character varying(12)", "character varying(80)", "character varying(60)",
                                       "character varying(120)", "character varying(24)", "character varying(20)",
                                       "character varying(34)", "numeric(12,2)", "character(2)", "text", "date",
                                       "timestamp with time zone"};
    enum { NC = 13 };
    sf_coltype types[NC];
    sf_tableplan *plan;
    sf_rowctx *ctx;
    static sf_field in[NC * SF_TABLEPLAN_MAX_ROWS], out[NC * SF_TABLEPLAN_MAX_ROWS];
    static char buf[SF_TABLEPLAN_MAX_ROWS][NC][96];
    sf_error err;
    sf_buf line = SF_BUF_INIT;
    double t0, dt = 0, tc = 0;
    for (int i = 0; i < NC; i++)
        sf_coltype_parse(&types[i], decl[i], strlen(decl[i]));
    if (sf_tableplan_new(&plan, pol, "public", "customers", cols, types, NC, 0, &err) || sf_rowctx_new(&ctx, key, &err)) {
        fprintf(stderr, "bench_rules: %s\n", err.msg);
        exit(1);
    }
    for (long r0 = 0; r0 < n; r0 += (long)batch) {
        size_t rows = (size_t)(n - r0) < batch ? (size_t)(n - r0) : batch;
        for (size_t k = 0; k < rows; k++) {
            long r = r0 + (long)k;
            char(*b)[96] = buf[k];
            snprintf(b[0], 96, "%ld", r + 1);
            snprintf(b[1], 96, "CUST-%06ld", r);
            snprintf(b[2], 96, "Company %ld GmbH", r);
            snprintf(b[3], 96, "Person %ld", r);
            snprintf(b[4], 96, "person.%ld@example.de", r);
            snprintf(b[5], 96, "+49 30 %07ld", r);
            snprintf(b[6], 96, "DE%09ld", r);
            snprintf(b[7], 96, "DE89 3704 0044 %010ld", r);
            snprintf(b[8], 96, "%ld.%02ld", r % 50000, r % 100);
            snprintf(b[9], 96, "DE");
            snprintf(b[10], 96, "note %ld", r);
            snprintf(b[11], 96, "19%02ld-%02ld-%02ld", 40 + r % 60, 1 + r % 12, 1 + r % 28);
            snprintf(b[12], 96, "2024-01-%02ld 12:00:00+01", 1 + r % 28);
            for (int i = 0; i < NC; i++)
                in[k * NC + (size_t)i] = (sf_field){b[i], strlen(b[i]), 0};
        }
        t0 = cpu_seconds();
        if (sf_tableplan_mask_rows(plan, ctx, in, out, rows, &err)) {
            fprintf(stderr, "bench_rules: customers: %s\n", err.msg);
            exit(1);
        }
        dt += cpu_seconds() - t0;
        t0 = cpu_seconds();
        for (size_t k = 0; k < rows; k++) {
            sf_buf_clear(&line);
            for (int i = 0; i < NC; i++)
                sf_buf_add(&line, in[k * NC + (size_t)i].ptr, in[k * NC + (size_t)i].len);
        }
        tc += cpu_seconds() - t0;
    }
    *copy_rows = (double)n / tc;
    sf_buf_free(&line);
    sf_tableplan_free(plan);
    sf_rowctx_free(ctx);
    return (double)n / dt;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    sf_mask_policy *pol;
    sf_mask_key *key;
    sf_error err;
    double crow, rrow;
    sf_buf text = SF_BUF_INIT;
    if (n <= 0)
        n = 200000;
    sf_buf_adds(&text, "version: 1\nstrict: false\ntables:\n");
    sf_buf_adds(&text, customers_policy);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        sf_buf_addf(&text, "  b%zu:\n    %s: %s\n", k, cases[k].col, cases[k].rule);
    if (sf_mask_policy_load_mem(&pol, "bench.yaml", text.ptr, text.len, &err) ||
        sf_mask_key_from_bytes(&key, "bench-key-0123456789abcdefghijklmnop", 36, &err)) {
        fprintf(stderr, "bench_rules: %s\n", err.msg);
        return 1;
    }
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char **vals = make_values(cases[k].col, n, 0);
        char **reps = make_values(cases[k].col, n, 1000);
        double base = copy_rate(vals, n);
        double r = rule_rate(pol, key, k, vals, n, 1);
        double rr = rule_rate(pol, key, k, reps, n, 1);
        double rb = rule_rate(pol, key, k, vals, n, SF_TABLEPLAN_MAX_ROWS);
        double rrb = rule_rate(pol, key, k, reps, n, SF_TABLEPLAN_MAX_ROWS);
        printf("rules/%s: %.2f M values/s distinct, %.2f M values/s repeating; in batches of %d rows %.2f / %.2f "
               "(ratio %.3f vs baseline copy %.1f M values/s)\n",
               cases[k].label, r / 1e6, rr / 1e6, SF_TABLEPLAN_MAX_ROWS, rb / 1e6, rrb / 1e6, rb / base, base / 1e6);
        free_values(vals, n);
        free_values(reps, n);
    }
    rrow = row_rate(pol, key, n, 1, &crow);
    printf("rules/customers row (8 of 13 columns masked): %.0f rows/s (ratio %.3f vs baseline copy %.0f rows/s)\n", rrow,
           rrow / crow, crow);
    rrow = row_rate(pol, key, n, SF_TABLEPLAN_MAX_ROWS, &crow);
    printf("rules/customers rows in batches of %d: %.0f rows/s (ratio %.3f vs baseline copy %.0f rows/s)\n",
           SF_TABLEPLAN_MAX_ROWS, rrow, rrow / crow, crow);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    sf_buf_free(&text);
    return 0;
}
