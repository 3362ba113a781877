/*
 * Seeding into a real PostgreSQL ($STAGEFORK_TEST_PG): every shipped
 * profile loads into templates/distribution/schema.sql with all keys and
 * CHECKs enforced by PostgreSQL, catalog validation refuses bad specs
 * before writing anything (file:line:column), a failure mid-load rolls
 * everything back, and identifiers, escapes, multibyte text and huge rows
 * survive COPY.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pgtest.h"
#include "seed_util.h"
#include "stagefork/config.h"
#include "stagefork/seed.h"

/* ---- shipped profiles ----------------------------------------------- */

static void load_profile(const char *tag, const char *profiles, const char *scale)
{
    char dsn[512], db[128], set[64];
    char *schema = slurp("templates/distribution/schema.sql");
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", tag);
    c = connect_ok(dsn);
    exec_ok(c, schema);
    free(schema);
    cr_assert_eq(sf_seed_open(&s, "templates/distribution/seed.yaml", &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_use_profiles(s, profiles), 0, "%s", sf_seed_error(s)->msg);
    snprintf(set, sizeof(set), "scale=%s", scale);
    cr_assert_eq(sf_seed_set(s, set), 0);
    /* every key and CHECK of schema.sql is enforced by PostgreSQL during this load */
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s: %s", profiles, sf_seed_error(s)->msg);
    for (size_t i = 0; i < sf_seed_table_count(s); i++) {
        const char *name;
        int64_t rows;
        char sql[256];
        sf_seed_table_info(s, i, &name, &rows);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", name);
        cr_assert_eq(scalar(c, sql), rows, "%s: %s has %lld rows, expected %lld", profiles, name, scalar(c, sql),
                     (long long)rows);
        cr_assert_gt(rows, 0, "%s: %s is populated", profiles, name);
    }
    /* denormalised copies come from the same parent row */
    cr_assert_eq(scalar(c, "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                           "WHERE c.email <> o.customer_email OR c.tenant_id <> o.tenant_id"), 0);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM order_lines l JOIN products p ON p.id = l.product_id "
                           "WHERE p.sku <> l.sku OR p.list_price <> l.unit_price"), 0);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM invoices i JOIN orders o ON o.id = i.order_id "
                           "WHERE o.customer_id <> i.customer_id OR o.currency <> i.currency"), 0);
    /* generated dates and timestamps stay inside the spec's ranges */
    cr_assert_eq(scalar(c, "SELECT count(*) FROM products WHERE created_at < '2020-01-01' OR created_at >= '2025-07-01'"),
                 0);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM tenants WHERE created_at < '2019-01-01' OR created_at >= '2023-01-01'"),
                 0);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM orders WHERE order_date > '2025-06-30' OR order_date < '2023-06-30' "
                           "OR created_at >= '2025-07-01' OR created_at < '2023-06-30'"),
                 0);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM price_lists WHERE valid_from < '2024-01-01' OR valid_to > '2026-12-31'"),
                 0);
    /* identity sequences were moved past the generated keys: the application can insert */
    exec_ok(c, "INSERT INTO tenants (slug, name, region, plan, data_retention_days, created_at) "
               "VALUES ('new-tenant', 'New', 'eu', 'starter', 30, now())");
    cr_assert_eq(scalar(c, "SELECT count(*) FROM tenants WHERE slug = 'new-tenant' AND id > 1"), 1);
    sf_seed_free(s);
    PQfinish(c);
    drop_db(db);
}

Test(seed_pg, standard_profile_loads_with_every_constraint_holding)
{
    load_profile("std", "standard", "0.1");
}

Test(seed_pg, high_volume_profile_loads_with_every_constraint_holding)
{
    load_profile("hv", "high-volume", "0.01");
}

Test(seed_pg, integration_heavy_profile_loads_with_every_constraint_holding)
{
    load_profile("ih", "integration-heavy", "0.001");
}

Test(seed_pg, regulated_profile_loads_with_every_constraint_holding)
{
    load_profile("reg", "standard,regulated", "0.05");
}

Test(seed_pg, high_volume_customers_are_measurably_hot)
{
    char dsn[512], db[128];
    char *schema = slurp("templates/distribution/schema.sql");
    sf_seed *s;
    sf_error err;
    PGconn *c;
    long long top, total;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", "hot");
    c = connect_ok(dsn);
    exec_ok(c, schema);
    free(schema);
    cr_assert_eq(sf_seed_open(&s, "templates/distribution/seed.yaml", &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_use_profiles(s, "high-volume"), 0);
    cr_assert_eq(sf_seed_set(s, "scale=0.01"), 0);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    /* 100 customers: the top 5% place well over 5% of the orders */
    total = scalar(c, "SELECT count(*) FROM orders");
    top = scalar(c, "SELECT sum(n) FROM (SELECT count(*) AS n FROM orders GROUP BY customer_id "
                    "ORDER BY 1 DESC LIMIT (SELECT count(*) / 20 FROM customers)) x");
    cr_log_info("top 5%% of customers: %lld of %lld orders", top, total);
    cr_assert_gt(top * 100 / total, 40);
    sf_seed_free(s);
    PQfinish(c);
    drop_db(db);
}

/* ---- validation before writing -------------------------------------- */

struct bad_case {
    const char *ddl;   /* tables in schema "cN" (N = case number) */
    const char *spec;  /* the spec; %1$s stands for the schema name */
    int line, col;
    const char *what;
};

#define DDL_PARENT "CREATE TABLE %1$s.p (id integer PRIMARY KEY, name varchar(10));"

static const struct bad_case bad[] = {
    {"CREATE TABLE %1$s.t (id int);",
     "version: 1\ntables:\n  - table: %1$s.nosuch\n    rows: 1\n    columns: {id: seq}\n", 3, 12,
     "does not exist in the target database"},
    {"CREATE TABLE %1$s.t (id int);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      id: seq\n      bogus: seq\n", 7, 7,
     "column 'bogus' does not exist"},
    {"CREATE TABLE %1$s.t (qty integer);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      qty: {decimal: {min: 1, max: 9, scale: 2}}\n", 6,
     12, "makes numbers with 2 decimals"},
    {"CREATE TABLE %1$s.t (code varchar(5));",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      code: {pattern: 'SKU-####'}\n", 6, 13,
     "up to 8 characters"},
    {"CREATE TABLE %1$s.t (name varchar(4) UNIQUE);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 3\n    columns:\n      name: {dict: company, unique: true}\n", 6,
     13, "cannot be cut to fit"},
    {"CREATE TABLE %1$s.t (id int, status text NOT NULL);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns: {id: seq}\n", 3, 12,
     "column 'status' of %1$s.t is NOT NULL without a default"},
    {DDL_PARENT "CREATE TABLE %1$s.t (p_id integer REFERENCES %1$s.p);",
     "version: 1\ntables:\n  - table: %1$s.p\n    rows: 2\n    columns: {id: seq}\n"
     "  - table: %1$s.t\n    rows: 1\n    columns:\n      p_id: {int: {min: 1, max: 2}}\n",
     9, 13, "is a foreign key to %1$s.p(id); generate it with {ref: %1$s.p.id}"},
    {"CREATE TABLE %1$s.t (sku text UNIQUE);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      sku: {pattern: 'S-####'}\n", 6, 12,
     "does not promise unique values; add unique: true"},
    {"CREATE TABLE %1$s.t (a int, b int, UNIQUE (a, b));",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      a: {int: {min: 1, max: 9}}\n"
     "      b: {int: {min: 1, max: 9}}\n",
     3, 12, "add unique: [a, b] to the table entry"},
    {"CREATE TYPE %1$s.mood AS ENUM ('happy', 'sad'); CREATE TABLE %1$s.t (m %1$s.mood);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      m: {pick: [happy, angry]}\n", 6, 25,
     "'angry' is not a label of enum"},
    {"CREATE TABLE %1$s.t (v smallint);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      v: {int: {min: 0, max: 40000}}\n", 6, 10,
     "makes values from 0 to 40000"},
    {"CREATE TABLE %1$s.t (ok boolean);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      ok: {pick: [true, maybe]}\n", 6, 25,
     "'maybe' is not a boolean"},
    {"CREATE TABLE %1$s.t (v int NOT NULL);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      v: {int: {min: 1, max: 2}, null: 0.1}\n", 6,
     40, "is NOT NULL, but null is 0.1"},
    {"CREATE TABLE %1$s.t (a int, b int GENERATED ALWAYS AS (a * 2) STORED);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      a: seq\n      b: seq\n", 7, 7,
     "is a generated column"},
    {"CREATE TABLE %1$s.t (d date);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      d: {timestamp: {from: 2024-01-01, to: 2024-02-01}}\n",
     6, 10, "timestamps (use date)"},
    {"CREATE TABLE %1$s.t (price numeric(6,2));",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      price: {decimal: {min: 0, max: 99999, scale: 2}}\n",
     6, 14, "need 5 integer digits"},
    {"CREATE TABLE %1$s.t (price numeric(8,1));",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      price: {decimal: {min: 0, max: 9, scale: 2}}\n",
     6, 14, "with 2 decimals (they would be rounded)"},
    {"CREATE TABLE %1$s.t (id uuid);",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns:\n      id: seq\n", 6, 11,
     "values do not fit that type"},
    {"CREATE TABLE %1$s.p (id int, t int, PRIMARY KEY (t, id));"
     "CREATE TABLE %1$s.c (pid int, t int, FOREIGN KEY (t, pid) REFERENCES %1$s.p (t, id));",
     "version: 1\ntables:\n  - table: %1$s.p\n    rows: 4\n    unique: [id, t]\n    columns:\n"
     "      id: {int: {min: 1, max: 2}}\n      t: {int: {min: 1, max: 2}}\n"
     "  - table: %1$s.c\n    rows: 1\n    columns:\n      pid: {ref: %1$s.p.id}\n      t: {ref: %1$s.p.t}\n",
     12, 12, "take it from the same parent row with row_of: t"},
    {"CREATE TABLE %1$s.v0 (id int); CREATE VIEW %1$s.t AS SELECT * FROM %1$s.v0;",
     "version: 1\ntables:\n  - table: %1$s.t\n    rows: 1\n    columns: {id: seq}\n", 3, 12, "is not a table"},
};

static char *fmt1(const char *f, const char *arg)
{
    size_t n = strlen(f) + 16 * strlen(arg) + 1;
    char *o = malloc(n), *w = o;
    cr_assert_not_null(o);
    for (const char *p = f; *p;) {
        if (!strncmp(p, "%1$s", 4)) {
            w += snprintf(w, n - (size_t)(w - o), "%s", arg);
            p += 4;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return o;
}

Test(seed_pg, catalog_mismatches_are_config_errors_and_write_nothing)
{
    char dsn[512], db[128];
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", "bad");
    c = connect_ok(dsn);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char schema[16], sql[256], prefix[64];
        char *ddl, *spec, *what;
        sf_seed *s;
        sf_error err;
        int rc;
        snprintf(schema, sizeof(schema), "c%zu", i);
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
        exec_ok(c, sql);
        ddl = fmt1(bad[i].ddl, schema);
        spec = fmt1(bad[i].spec, schema);
        what = fmt1(bad[i].what, schema);
        exec_ok(c, ddl);
        cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec, strlen(spec), &err), 0, "case %zu: %s", i, err.msg);
        rc = sf_seed_to_db(s, dsn, NULL);
        cr_assert_eq(rc, SF_ECONFIG, "case %zu: rc %d: %s", i, rc, sf_seed_error(s)->msg);
        snprintf(prefix, sizeof(prefix), "spec.yaml:%d:%d: ", bad[i].line, bad[i].col);
        cr_assert(!strncmp(sf_seed_error(s)->msg, prefix, strlen(prefix)), "case %zu: expected %s..., got %s", i,
                  prefix, sf_seed_error(s)->msg);
        cr_assert(strstr(sf_seed_error(s)->msg, what), "case %zu: expected '%s' in %s", i, what,
                  sf_seed_error(s)->msg);
        /* nothing was written to any table of the case */
        snprintf(sql, sizeof(sql),
                 "SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml('SELECT count(*) AS n FROM ' || "
                 "oid::regclass::text, false, true, '')))[1]::text::int), 0) FROM pg_class "
                 "WHERE relnamespace = '%s'::regnamespace AND relkind = 'r'",
                 schema);
        cr_assert_eq(scalar(c, sql), 0, "case %zu wrote rows", i);
        sf_seed_free(s);
        free(ddl);
        free(spec);
        free(what);
    }
    PQfinish(c);
    drop_db(db);
}

Test(seed_pg, long_dictionary_values_are_cut_by_characters)
{
    char dsn[512], db[128];
    const char spec[] = "version: 1\ntables:\n  - table: t\n    rows: 3000\n    columns:\n"
                        "      c: {dict: company}\n      n: {dict: name}\n      s: {dict: street}\n"
                        "      p: {dict: product}\n";
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", "cut");
    c = connect_ok(dsn);
    exec_ok(c, "CREATE TABLE t (c varchar(6), n varchar(5), s character(4), p varchar(7))");
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM t"), 3000);
    cr_assert_eq(scalar(c, "SELECT max(char_length(c)) FROM t"), 6);
    cr_assert_eq(scalar(c, "SELECT max(char_length(n)) FROM t"), 5);
    cr_assert_eq(scalar(c, "SELECT max(char_length(p)) FROM t"), 7);
    /* multibyte values were cut between characters (the load would fail on broken UTF-8) */
    cr_assert_gt(scalar(c, "SELECT count(*) FROM t WHERE octet_length(c) > char_length(c) "
                           "OR octet_length(n) > char_length(n) OR octet_length(s) > char_length(s)"),
                 0, "the dictionaries hold non-ASCII names");
    sf_seed_free(s);
    PQfinish(c);
    drop_db(db);
}

Test(seed_pg, failure_mid_load_rolls_back_every_table)
{
    char dsn[512], db[128];
    const char spec[] = "version: 1\ntables:\n"
                        "  - table: a\n    rows: 500\n    columns: {id: seq}\n"
                        "  - table: b\n    rows: 500\n    columns:\n      a_id: {ref: a.id}\n"
                        "      v: {int: {min: 0, max: 100}}\n";
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", "rb");
    c = connect_ok(dsn);
    exec_ok(c, "CREATE TABLE a (id int PRIMARY KEY); "
               "CREATE TABLE b (a_id int REFERENCES a, v int CHECK (v < 95))");
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    /* the catalog accepts the spec (a CHECK cannot be judged before loading) and nothing is written */
    cr_assert_eq(sf_seed_check_conn(s, c), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM a"), 0);
    /* a caller's connection inside a transaction is refused */
    exec_ok(c, "BEGIN");
    cr_assert_eq(sf_seed_to_conn(s, c), SF_EUSAGE);
    exec_ok(c, "ROLLBACK");
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), SF_EDB);
    cr_assert(strstr(sf_seed_error(s)->msg, "seeding public.b") && strstr(sf_seed_error(s)->msg, "check constraint"),
              "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM a"), 0, "table a was loaded before b failed, and rolled back");
    cr_assert_eq(scalar(c, "SELECT count(*) FROM b"), 0);
    sf_seed_free(s);
    PQfinish(c);
    drop_db(db);
}

Test(seed_pg, odd_identifiers_escapes_and_huge_rows_survive_copy)
{
    char dsn[512], db[128];
    sf_buf spec = SF_BUF_INIT;
    sf_seed *s;
    sf_error err;
    PGconn *c;
    PGresult *r;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", "odd");
    c = connect_ok(dsn);
    exec_ok(c, "CREATE SCHEMA \"Odd Schema\";"
               "CREATE TABLE \"Odd Schema\".\"Order Lines\" (\"select\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " \"Unit Price\" numeric(10,2), \"E-Mail\" varchar(120) UNIQUE, \"Note\" text, big text,"
               " \"Ü\" varchar(3))");
    sf_buf_adds(&spec, "version: 1\ntables:\n  - table: '\"Odd Schema\".\"Order Lines\"'\n    rows: 40\n    columns:\n"
                       "      select: seq\n"
                       "      Unit Price: {decimal: {min: 0, max: 99999999.99, scale: 2}}\n"
                       "      E-Mail: email\n"
                       "      Note: {pick: [\"tab\\there\", \"new\\nline\", \"cr\\rhere\", 'back\\slash', '\\N', "
                       "'Zoë 東京 😀', null, '\"quoted\"']}\n"
                       "      Ü: {pattern: 'Ä#ß'}\n"
                       "      big: {const: '");
    for (int i = 0; i < 200000; i++) /* ~1.2 MiB per row, 40 rows */
        sf_buf_adds(&spec, "x\\yé\t");
    sf_buf_adds(&spec, "'}\n");
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec.ptr, spec.len, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM \"Odd Schema\".\"Order Lines\""), 40);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM \"Odd Schema\".\"Order Lines\" WHERE big = repeat(E'x\\\\yé\\t', "
                           "200000)"),
                 40);
    r = PQexec(c, "SELECT DISTINCT \"Note\" FROM \"Odd Schema\".\"Order Lines\" WHERE \"Note\" IS NOT NULL ORDER BY 1");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    {
        const char *want[] = {"\"quoted\"", "Zoë 東京 😀", "\\N", "back\\slash", "cr\rhere", "new\nline", "tab\there"};
        int found = 0;
        for (int i = 0; i < PQntuples(r); i++)
            for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
                found += !strcmp(PQgetvalue(r, i, 0), want[k]);
        cr_assert_eq(found, PQntuples(r), "every stored note is one of the spec's values, byte for byte");
        cr_assert_geq(found, 5);
    }
    PQclear(r);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM \"Odd Schema\".\"Order Lines\" WHERE \"Ü\" ~ '^Ä[0-9]ß$'"), 40);
    /* the identity sequence continues after the generated keys */
    exec_ok(c, "INSERT INTO \"Odd Schema\".\"Order Lines\" (\"E-Mail\") VALUES ('x@example.com')");
    cr_assert_eq(scalar(c, "SELECT max(\"select\") FROM \"Odd Schema\".\"Order Lines\""), 41);
    sf_seed_free(s);
    sf_buf_free(&spec);
    PQfinish(c);
    drop_db(db);
}

Test(seed_pg, copy_text_output_loads_the_same_rows_as_a_direct_load)
{
    char dsn[512], db[128];
    char *schema = slurp("templates/distribution/schema.sql"), *yaml = slurp("templates/distribution/seed.yaml");
    const char *sets[] = {"scale=0.02", NULL};
    sf_seed *s;
    sf_error err;
    PGconn *c;
    char *text = seed_run(yaml, "integration-heavy", sets, 9, &err);
    cr_assert_not_null(text, "%s", err.msg);
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_seed", "same");
    c = connect_ok(dsn);
    exec_ok(c, schema);
    exec_ok(c, "CREATE SCHEMA direct");
    cr_assert_eq(sf_seed_open(&s, "templates/distribution/seed.yaml", &err), 0);
    cr_assert_eq(sf_seed_use_profiles(s, "integration-heavy"), 0);
    cr_assert_eq(sf_seed_set(s, "scale=0.02"), 0);
    sf_seed_set_random(s, 9);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    /* COPY TO of a direct load equals the corresponding block of the `-` text */
    {
        PGresult *r = PQexec(c, "COPY public.order_lines (id, order_id, line_no, product_id, sku, qty, unit_price, "
                                "line_total) TO STDOUT");
        sf_buf got = SF_BUF_INIT;
        char *buf;
        int n;
        const char *start, *end;
        cr_assert_eq(PQresultStatus(r), PGRES_COPY_OUT);
        PQclear(r);
        while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
            sf_buf_add(&got, buf, (size_t)n);
            PQfreemem(buf);
        }
        while ((r = PQgetResult(c)))
            PQclear(r);
        start = strstr(text, "COPY public.order_lines (");
        cr_assert_not_null(start);
        start = strchr(start, '\n') + 1;
        end = strstr(start, "\\.\n");
        cr_assert_eq((size_t)(end - start), got.len);
        cr_assert(!memcmp(start, got.ptr, got.len), "byte-identical rows");
        sf_buf_free(&got);
    }
    sf_seed_free(s);
    free(text);
    free(schema);
    free(yaml);
    PQfinish(c);
    drop_db(db);
}

Test(seed_pg, protected_targets_are_refused_before_connecting)
{
    char path[] = "/tmp/sf-seed-guard-XXXXXX";
    int fd = mkstemp(path);
    const char cfgtext[] = "guard:\n  protected: ['erp_live', 'prod-*']\n";
    const char spec[] = "version: 1\ntables:\n  - table: t\n    rows: 1\n    columns: {id: seq}\n";
    sf_config *cfg;
    sf_seed *s;
    sf_error err;
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, cfgtext, sizeof(cfgtext) - 1), (ssize_t)(sizeof(cfgtext) - 1));
    close(fd);
    cr_assert_eq(sf_config_load(&cfg, path, &err), 0, "%s", err.msg);
    unlink(path);
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec, strlen(spec), &err), 0);
    /* port 1: if the guard let it through, the connection would fail with SF_EDB instead */
    cr_assert_eq(sf_seed_to_db(s, "postgres://u@127.0.0.1:1/erp_live", cfg), SF_EGUARD, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(sf_seed_to_db(s, "host=prod-db1 port=1 dbname=x", cfg), SF_EGUARD, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(sf_seed_to_db(s, "postgres://u@127.0.0.1:1/scratch", cfg), SF_EDB);
    sf_seed_free(s);
    sf_config_free(cfg);
}
