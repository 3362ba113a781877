/*
 * Seeding into a database that already has rows ($STAGEFORK_TEST_PG):
 * every shipped profile appended onto a seeded distribution database made
 * with the same seed (so every unique pattern collides unless it is moved)
 * loads with all constraints, leaves the existing rows byte-identical,
 * gives new ids after the old MAX and is deterministic; refs from: existing
 * and from: any point at the target's rows; what needs a target is refused
 * without one; bad entries name file:line:column; odd identifiers survive.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "seed_util.h"
#include "pgtest.h"
#include "stagefork/seed.h"

static const char *const tables[] = {"tenants", "warehouses", "suppliers", "products", "price_lists",
                                     "price_tiers", "customers", "customer_contacts", "inventory", "orders",
                                     "order_lines", "shipments", "invoices", "edi_partners", "edi_messages"};
#define NT (sizeof(tables) / sizeof(tables[0]))

/* Seed the shipped spec; returns the handle (rows per table readable) or fails the test. */
static sf_seed *seed_shipped(const char *dsn, const char *profiles, const char *scale, uint64_t seed)
{
    sf_seed *s;
    sf_error err;
    char set[64];
    cr_assert_eq(sf_seed_open(&s, "templates/distribution/seed.yaml", &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_use_profiles(s, profiles), 0, "%s", sf_seed_error(s)->msg);
    snprintf(set, sizeof(set), "scale=%s", scale);
    cr_assert_eq(sf_seed_set(s, set), 0);
    sf_seed_set_random(s, seed);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s: %s", profiles, sf_seed_error(s)->msg);
    return s;
}

/* md5 of a table's rows in a stable order, limited by `where` ("true" for all). */
static char *table_md5(PGconn *c, const char *table, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM %s x WHERE %s",
             table, where);
    return value_of(c, sql);
}

/* Rows of the table that existed before: the key is at most the old max (inventory: by warehouse). */
static void old_rows_where(char *out, size_t cap, const char *table, long long oldmax)
{
    snprintf(out, cap, "%s <= %lld", strcmp(table, "inventory") ? "x.id" : "x.warehouse_id", oldmax);
}

static long long table_max(PGconn *c, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(%s), 0) FROM %s",
             strcmp(table, "inventory") ? "id" : "warehouse_id", table);
    return scalar(c, sql);
}

/*
 * A "production" database (high-volume, seed 1), then `profile` appended
 * with the same seed: returns the md5 of every table afterwards.
 */
static void append_profile(const char *tag, const char *profile, char *md5s[NT])
{
    char dsn[512], db[128], sql[512], where[128];
    char *schema = slurp("templates/distribution/schema.sql"), *before[NT];
    long long count[NT], oldmax[NT];
    PGconn *c;
    sf_seed *s;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_append", tag);
    c = connect_ok(dsn);
    exec_ok(c, schema);
    free(schema);
    sf_seed_free(seed_shipped(dsn, "high-volume", "0.002", 1));
    for (size_t i = 0; i < NT; i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
        count[i] = scalar(c, sql);
        cr_assert_gt(count[i], 0);
        oldmax[i] = table_max(c, tables[i]);
        before[i] = table_md5(c, tables[i], "true");
    }
    /* the same seed: without moving them, every unique pattern value would collide */
    s = seed_shipped(dsn, profile, "0.01", 1);
    for (size_t i = 0; i < NT; i++) {
        const char *name;
        int64_t rows;
        char *now;
        sf_seed_table_info(s, i, &name, &rows);
        cr_assert(strstr(name, tables[i]), "%s vs %s", name, tables[i]);
        cr_assert_gt(rows, 0);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
        cr_assert_eq(scalar(c, sql), count[i] + rows, "%s: %s has %lld rows, expected %lld + %lld", profile, tables[i],
                     scalar(c, sql), count[i], (long long)rows);
        /* existing rows untouched: the same rows, byte for byte */
        old_rows_where(where, sizeof(where), tables[i], oldmax[i]);
        now = table_md5(c, tables[i], where);
        cr_assert_str_eq(now, before[i], "%s: existing rows of %s changed", profile, tables[i]);
        free(now);
        free(before[i]);
        /* new keys come after the old MAX */
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s x WHERE NOT (%s)", tables[i], where);
        cr_assert_eq(scalar(c, sql), rows, "%s: %s: new rows are past the old max", profile, tables[i]);
        md5s[i] = table_md5(c, tables[i], "true");
    }
    /* new rows reference the new parents (from: new), denormalised copies are consistent */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM orders o WHERE o.id > %lld AND o.customer_id <= %lld", oldmax[9],
             oldmax[6]);
    cr_assert_eq(scalar(c, sql), 0, "%s: new orders point at new customers", profile);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM order_lines l JOIN products p ON p.id = l.product_id "
                        "WHERE p.sku <> l.sku OR p.list_price <> l.unit_price"), 0);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                        "WHERE c.email <> o.customer_email OR c.tenant_id <> o.tenant_id"), 0);
    /* identity sequences are past the new max: the application can insert */
    exec_ok(c, "INSERT INTO tenants (slug, name, region, plan, data_retention_days, created_at) "
               "VALUES ('after-append', 'New', 'eu', 'starter', 30, now())");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenants WHERE slug = 'after-append' AND id > %lld",
             oldmax[0] + 3);
    cr_assert_eq(scalar(c, sql), 1);
    exec_ok(c, "DELETE FROM tenants WHERE slug = 'after-append'");
    sf_seed_free(s);
    PQfinish(c);
    drop_db(db);
}

static void append_twice(const char *profile, const char *tag1, const char *tag2)
{
    char *a[NT], *b[NT];
    append_profile(tag1, profile, a);
    append_profile(tag2, profile, b);
    for (size_t i = 0; i < NT; i++) {
        cr_assert_str_eq(a[i], b[i], "%s: %s differs between two runs on equal targets", profile, tables[i]);
        free(a[i]);
        free(b[i]);
    }
}

Test(seed_append, standard_appends_onto_a_seeded_database_deterministically)
{
    append_twice("standard", "std1", "std2");
}

Test(seed_append, high_volume_appends_onto_a_seeded_database_deterministically)
{
    append_twice("high-volume", "hv1", "hv2");
}

Test(seed_append, integration_heavy_appends_onto_a_seeded_database_deterministically)
{
    append_twice("integration-heavy", "ih1", "ih2");
}

Test(seed_append, regulated_appends_onto_a_seeded_database_deterministically)
{
    append_twice("regulated", "reg1", "reg2");
}

/* ---- from: existing / any ------------------------------------------- */

static const char EXISTING_SPEC[] =
    "version: 1\n"
    "params: {orders: 40}\n"
    "tables:\n"
    "  - table: orders\n"
    "    rows: orders\n"
    "    columns:\n"
    "      id: {seq: {after: max}}\n"
    "      customer_id: {ref: customers.id, from: existing, skew: zipf}\n"
    "      tenant_id: {ref: customers.tenant_id, row_of: customer_id}\n"
    "      customer_email: {ref: customers.email, row_of: customer_id}\n"
    "      order_no: {pattern: \"SO-#########\", unique: true}\n"
    "      warehouse_id: {ref: warehouses.id, from: existing}\n"
    "      status: {const: open}\n"
    "      channel: {const: edi}\n"
    "      currency: {const: EUR}\n"
    "      order_date: {date: {from: 2025-06-01, to: 2025-06-30}}\n"
    "      created_at: {timestamp: {from: 2025-06-01, to: 2025-06-30}}\n"
    "  - table: order_lines\n"
    "    rows: orders * 3\n"
    "    unique: [order_id, line_no]\n"
    "    columns:\n"
    "      id: {seq: {after: max}}\n"
    "      order_id: {ref: orders.id}\n"
    "      line_no: {int: {min: 1, max: 40}}\n"
    "      product_id: {ref: products.id, from: existing, skew: zipf}\n"
    "      sku: {ref: products.sku, row_of: product_id}\n"
    "      qty: {int: {min: 1, max: 24}}\n"
    "      unit_price: {ref: products.list_price, row_of: product_id}\n"
    "      line_total: {expr: \"qty * unit_price\", scale: 2}\n";

/* New orders for existing customers, lines for existing products: md5 of the new rows. */
static char *orders_for_existing(const char *tag)
{
    char dsn[512], db[128], sql[256];
    char *schema = slurp("templates/distribution/schema.sql"), *md5;
    long long maxo, maxc, cust;
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_append", tag);
    c = connect_ok(dsn);
    exec_ok(c, schema);
    free(schema);
    sf_seed_free(seed_shipped(dsn, "standard", "0.02", 3));
    maxo = table_max(c, "orders");
    maxc = table_max(c, "customers");
    cust = scalar(c, "SELECT count(*) FROM customers");
    cr_assert_eq(sf_seed_open_mem(&s, "orders.yaml", EXISTING_SPEC, strlen(EXISTING_SPEC), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM orders WHERE id > %lld", maxo);
    cr_assert_eq(scalar(c, sql), 40);
    /* every new order belongs to a customer that was there before, with its own tenant and email */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id AND c.tenant_id = o.tenant_id "
             "AND c.email = o.customer_email WHERE o.id > %lld AND c.id <= %lld",
             maxo, maxc);
    cr_assert_eq(scalar(c, sql), 40);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM customers"), cust, "no customer added");
    /* lines of the new orders carry an existing product's sku and price, and line_total holds */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM order_lines l JOIN products p ON p.id = l.product_id AND p.sku = l.sku "
             "AND p.list_price = l.unit_price WHERE l.order_id > %lld",
             maxo);
    cr_assert_eq(scalar(c, sql), 120);
    /* zipf over existing customers: some customer got several of the new orders */
    snprintf(sql, sizeof(sql),
             "SELECT max(n) FROM (SELECT count(*) AS n FROM orders WHERE id > %lld GROUP BY customer_id) x", maxo);
    cr_assert_gt(scalar(c, sql), 1);
    snprintf(sql, sizeof(sql), "(SELECT * FROM orders WHERE id > %lld)", maxo);
    md5 = table_md5(c, sql, "true");
    sf_seed_free(s);
    PQfinish(c);
    drop_db(db);
    return md5;
}

Test(seed_append, refs_from_existing_point_at_the_targets_rows_deterministically)
{
    char *a = orders_for_existing("ex1"), *b = orders_for_existing("ex2");
    cr_assert_str_eq(a, b, "same spec, seed and target contents give the same rows");
    free(a);
    free(b);
}

Test(seed_append, from_existing_is_refused_without_a_target)
{
    sf_error err;
    char *out = seed_run(EXISTING_SPEC, "", NULL, 1, &err);
    cr_assert_null(out);
    cr_assert_eq(err.code, SF_ECONFIG);
    cr_assert(!strncmp(err.msg, "spec.yaml:8:46: ", 16), "%s", err.msg);
    cr_assert(strstr(err.msg, "from: existing reads rows of the target database"), "%s", err.msg);
}

Test(seed_append, from_any_mixes_existing_and_new_parents)
{
    static const char spec[] = "version: 1\n"
                               "tables:\n"
                               "  - table: cat\n"
                               "    rows: 50\n"
                               "    columns:\n"
                               "      id: {seq: {after: max}}\n"
                               "      code: {pattern: \"K##\", unique: true}\n"
                               "  - table: item\n"
                               "    rows: 2000\n"
                               "    columns:\n"
                               "      id: {seq: {after: max}}\n"
                               "      cat_id: {ref: cat.id, from: any}\n"
                               "      cat_code: {ref: cat.code, row_of: cat_id}\n";
    char dsn[512], db[128];
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_append", "any");
    c = connect_ok(dsn);
    exec_ok(c, "CREATE TABLE cat (id int PRIMARY KEY, code text NOT NULL UNIQUE, UNIQUE (id, code));"
               "CREATE TABLE item (id bigserial PRIMARY KEY, cat_id int NOT NULL, cat_code text NOT NULL,"
               "  FOREIGN KEY (cat_id, cat_code) REFERENCES cat (id, code));"
               "INSERT INTO cat SELECT g, 'K' || lpad(g::text, 2, '0') FROM generate_series(0, 49) g");
    cr_assert_eq(sf_seed_open_mem(&s, "any.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    /* 50 of the 100 codes K00..K99 exist: the 50 new categories take exactly the other 50 */
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(DISTINCT code) FROM cat"), 100);
    cr_assert_eq(scalar(c, "SELECT min(id) FROM cat WHERE code NOT IN (SELECT 'K' || lpad(g::text, 2, '0') "
                        "FROM generate_series(0, 49) g)"), 50);
    cr_assert_gt(scalar(c, "SELECT count(*) FROM item WHERE cat_id < 50"), 500, "existing parents are used");
    cr_assert_gt(scalar(c, "SELECT count(*) FROM item WHERE cat_id >= 50"), 500, "new parents are used");
    /* one more category would need a 101st code */
    exec_ok(c, "DELETE FROM item");
    sf_seed_free(s);
    {
        static const char more[] = "version: 1\n"
                                   "tables:\n"
                                   "  - table: cat\n"
                                   "    rows: 1\n"
                                   "    columns:\n"
                                   "      id: {seq: {after: max}}\n"
                                   "      code: {pattern: \"K##\", unique: true}\n";
        cr_assert_eq(sf_seed_open_mem(&s, "more.yaml", more, strlen(more), &err), 0, "%s", err.msg);
        cr_assert_eq(sf_seed_to_db(s, dsn, NULL), SF_ECONFIG);
        cr_assert(!strncmp(sf_seed_error(s)->msg, "more.yaml:7:7: unique column 'code' of public.cat", 49), "%s",
                  sf_seed_error(s)->msg);
        cr_assert(strstr(sf_seed_error(s)->msg, "no unused values left"), "%s", sf_seed_error(s)->msg);
        cr_assert_eq(scalar(c, "SELECT count(*) FROM cat"), 100, "nothing written");
        sf_seed_free(s);
    }
    PQfinish(c);
    drop_db(db);
}

/* ---- errors and identifiers ----------------------------------------- */

Test(seed_append, after_max_needs_an_integer_column_and_names_the_position)
{
    static const char spec[] = "version: 1\n"
                               "tables:\n"
                               "  - table: t\n"
                               "    rows: 3\n"
                               "    columns:\n"
                               "      code: {seq: {after: max}}\n";
    char dsn[512], db[128];
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_append", "txt");
    c = connect_ok(dsn);
    exec_ok(c, "CREATE TABLE t (code text PRIMARY KEY); INSERT INTO t VALUES ('a')");
    cr_assert_eq(sf_seed_open_mem(&s, "spec.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), SF_ECONFIG);
    cr_assert(!strncmp(sf_seed_error(s)->msg, "spec.yaml:6:27: column 'code' of public.t is text", 48), "%s",
              sf_seed_error(s)->msg);
    cr_assert(strstr(sf_seed_error(s)->msg, "needs an integer column"), "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM t"), 1);
    sf_seed_free(s);
    /* an integer column whose MAX plus the new rows leaves its type */
    exec_ok(c, "CREATE TABLE s (id smallint PRIMARY KEY); INSERT INTO s VALUES (32766)");
    {
        static const char small[] = "version: 1\n"
                                    "tables:\n"
                                    "  - table: s\n"
                                    "    rows: 3\n"
                                    "    columns:\n"
                                    "      id: {seq: {after: max}}\n";
        cr_assert_eq(sf_seed_open_mem(&s, "small.yaml", small, strlen(small), &err), 0, "%s", err.msg);
        cr_assert_eq(sf_seed_to_db(s, dsn, NULL), SF_ECONFIG);
        cr_assert(!strncmp(sf_seed_error(s)->msg, "small.yaml:6:25: ", 17), "%s", sf_seed_error(s)->msg);
        cr_assert(strstr(sf_seed_error(s)->msg, "3 rows after the target's MAX 32766 of 'id' go past the column's "
                                                "largest value 32767"),
                  "%s", sf_seed_error(s)->msg);
        sf_seed_free(s);
    }
    /* --to - has no target: after: max starts at `start` as for an empty table */
    {
        char *out = seed_run("version: 1\ntables:\n  - table: s\n    rows: 2\n    columns:\n"
                             "      id: {seq: {after: max, start: 7}}\n",
                             "", NULL, 1, &err);
        cr_assert_not_null(out, "%s", err.msg);
        cr_assert_str_eq(out, "COPY public.s (id) FROM stdin;\n7\n8\n\\.\n\n");
        free(out);
    }
    PQfinish(c);
    drop_db(db);
}

Test(seed_append, odd_identifiers_are_quoted_by_libpq_in_every_append_query)
{
    static const char spec[] = "version: 1\n"
                               "tables:\n"
                               "  - table: 'odd.\"Par ent\"'\n"
                               "    rows: 5\n"
                               "    columns:\n"
                               "      \"Select\": {seq: {after: max}}\n"
                               "      \"na;me\": {pick: [a, b, c, d, e, f], unique: true}\n"
                               "  - table: 'odd.\"Ch\"\"ild\"'\n"
                               "    rows: 20\n"
                               "    columns:\n"
                               "      \"E-Mail\": email\n"
                               "      \"pa rent\": {ref: 'odd.\"Par ent\".Select', from: any}\n";
    char dsn[512], db[128];
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_append", "odd");
    c = connect_ok(dsn);
    exec_ok(c, "CREATE EXTENSION IF NOT EXISTS citext; CREATE SCHEMA odd;"
               "CREATE TABLE odd.\"Par ent\" (\"Select\" int PRIMARY KEY, \"na;me\" text UNIQUE);"
               "CREATE TABLE odd.\"Ch\"\"ild\" (\"E-Mail\" citext UNIQUE, \"pa rent\" int REFERENCES odd.\"Par ent\");"
               "INSERT INTO odd.\"Par ent\" VALUES (10, 'c');");
    cr_assert_eq(sf_seed_open_mem(&s, "odd.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT min(\"Select\") FROM odd.\"Par ent\" WHERE \"Select\" > 10"), 11);
    cr_assert_eq(scalar(c, "SELECT count(DISTINCT \"na;me\") FROM odd.\"Par ent\""), 6);
    /* a second load: the emails of the first are there (citext compares case-insensitively) */
    sf_seed_free(s);
    exec_ok(c, "UPDATE odd.\"Ch\"\"ild\" SET \"E-Mail\" = upper(\"E-Mail\"::text)");
    exec_ok(c, "DELETE FROM odd.\"Par ent\" WHERE \"Select\" > 10 AND \"Select\" NOT IN "
               "(SELECT \"pa rent\" FROM odd.\"Ch\"\"ild\")");
    {
        static const char again[] = "version: 1\n"
                                    "tables:\n"
                                    "  - table: 'odd.\"Ch\"\"ild\"'\n"
                                    "    rows: 20\n"
                                    "    columns:\n"
                                    "      \"E-Mail\": email\n"
                                    "      \"pa rent\": {ref: 'odd.\"Par ent\".Select', from: existing}\n";
        cr_assert_eq(sf_seed_open_mem(&s, "again.yaml", again, strlen(again), &err), 0, "%s", err.msg);
        cr_assert_eq(sf_seed_to_db(s, dsn, NULL), 0, "%s", sf_seed_error(s)->msg);
        cr_assert_eq(scalar(c, "SELECT count(DISTINCT lower(\"E-Mail\"::text)) FROM odd.\"Ch\"\"ild\""), 40);
        sf_seed_free(s);
    }
    PQfinish(c);
    drop_db(db);
}

Test(seed_append, an_insert_only_role_seeds_without_the_writer_lock)
{
    static const char spec[] = "version: 1\n"
                               "tables:\n"
                               "  - table: cat\n"
                               "    rows: 30\n"
                               "    columns:\n"
                               "      id: {seq: {after: max}}\n"
                               "      code: {pattern: \"K##\", unique: true}\n";
    char dsn[512], db[128], role[64], sql[512], rdsn[640];
    sf_seed *s;
    sf_error err;
    PGconn *c;
    make_db(dsn, sizeof(dsn), db, sizeof(db), "sf_t_append", "insonly");
    snprintf(role, sizeof(role), "sf_t_insonly_%d", (int)getpid());
    c = connect_ok(dsn);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE cat (id int PRIMARY KEY, code text NOT NULL UNIQUE);"
             "INSERT INTO cat SELECT g, 'K' || lpad(g::text, 2, '0') FROM generate_series(0, 9) g;"
             "SET client_min_messages TO warning; DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN; GRANT SELECT, INSERT ON cat TO %s",
             role, role, role);
    exec_ok(c, sql);
    /* the same server and database, as the role that may only read and insert */
    snprintf(rdsn, sizeof(rdsn), "%s?user=%s", dsn, role);
    cr_assert_eq(sf_seed_open_mem(&s, "insonly.yaml", spec, strlen(spec), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_seed_to_db(s, rdsn, NULL), 0, "%s", sf_seed_error(s)->msg);
    cr_assert_eq(scalar(c, "SELECT count(*) FROM cat"), 40);
    cr_assert_eq(scalar(c, "SELECT count(DISTINCT code) FROM cat"), 40, "no code collides with an existing one");
    cr_assert_eq(scalar(c, "SELECT min(id) FROM cat WHERE code NOT IN (SELECT 'K' || lpad(g::text, 2, '0') "
                        "FROM generate_series(0, 9) g)"), 10);
    sf_seed_free(s);
    snprintf(sql, sizeof(sql), "DROP TABLE cat; DROP ROLE %s", role);
    exec_ok(c, sql);
    PQfinish(c);
    drop_db(db);
}
