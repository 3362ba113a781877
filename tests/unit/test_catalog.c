/* The DDL catalog: CREATE TABLE columns and types, domains, inheritance, search_path. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "catalog.h"

static sf_catalog cat;

static void setup(void)
{
    sf_catalog_init(&cat);
}

static void teardown(void)
{
    sf_catalog_free(&cat);
}

TestSuite(catalog, .init = setup, .fini = teardown);

static void ddl(const char *sql)
{
    cr_assert_eq(sf_catalog_ddl(&cat, sql, strlen(sql), 1), 0);
}

Test(catalog, pg_dump_create_table)
{
    const sf_cattable *t;
    ddl("CREATE TABLE public.customers (\n"
        "    id integer NOT NULL,\n"
        "    email character varying(120) NOT NULL,\n"
        "    \"Full Name\" text COLLATE pg_catalog.\"C\",\n"
        "    credit_limit numeric(12,2) DEFAULT 0.00,\n"
        "    created timestamp(3) with time zone DEFAULT now() NOT NULL,\n"
        "    tags text[],\n"
        "    total numeric GENERATED ALWAYS AS ((qty * price)) STORED,\n"
        "    CONSTRAINT ck CHECK ((credit_limit >= (0)::numeric))\n"
        ");");
    t = sf_catalog_table(&cat, "public", "customers");
    cr_assert_not_null(t);
    cr_assert_eq(t->ncols, 7);
    cr_assert_str_eq(t->cols[1].name, "email");
    cr_assert_str_eq(t->cols[1].type, "character varying(120)");
    cr_assert_str_eq(t->cols[2].name, "Full Name");
    cr_assert_str_eq(t->cols[2].type, "text");
    cr_assert_str_eq(t->cols[3].type, "numeric(12,2)");
    cr_assert_str_eq(t->cols[4].type, "timestamp(3) with time zone");
    cr_assert_str_eq(t->cols[5].type, "text[]");
    cr_assert(t->cols[6].generated);
    cr_assert(!t->cols[0].generated);
    cr_assert_null(sf_catalog_table(&cat, "public", "Customers"));
}

Test(catalog, quoted_names_unlogged_and_empty)
{
    const sf_cattable *t;
    ddl("-- comment first\nCREATE UNLOGGED TABLE erp.\"Supplier Contacts\" (\"Full Name\" character varying(80), "
        "\"E-Mail\" text, \"we\"\"ird\" integer);");
    ddl("CREATE TABLE public.nothing (\n);");
    t = sf_catalog_table(&cat, "erp", "Supplier Contacts");
    cr_assert_not_null(t);
    cr_assert_eq(t->ncols, 3);
    cr_assert_str_eq(t->cols[2].name, "we\"ird");
    t = sf_catalog_table(&cat, "public", "nothing");
    cr_assert_not_null(t);
    cr_assert_eq(t->ncols, 0);
}

Test(catalog, inherits_and_partition_of)
{
    const sf_cattable *t;
    ddl("CREATE TABLE public.parent (a integer, b text);");
    ddl("CREATE TABLE public.child (\n    c text\n)\nINHERITS (public.parent);");
    ddl("CREATE TABLE public.part PARTITION OF public.parent FOR VALUES IN (1);");
    t = sf_catalog_table(&cat, "public", "child");
    cr_assert_eq(t->ncols, 3);
    cr_assert_str_eq(t->cols[0].name, "a");
    cr_assert_str_eq(t->cols[2].name, "c");
    t = sf_catalog_table(&cat, "public", "part");
    cr_assert_eq(t->ncols, 2);
}

Test(catalog, domains_resolve)
{
    int arr = 0;
    ddl("CREATE DOMAIN public.email_address AS character varying(200) CONSTRAINT c CHECK ((VALUE ~ '@'::text));");
    ddl("CREATE DOMAIN public.work_email AS public.email_address;");
    ddl("CREATE DOMAIN erp.ts AS timestamp with time zone NOT NULL;");
    cr_assert_str_eq(sf_catalog_resolve_type(&cat, "public.work_email", &arr), "character varying(200)");
    cr_assert(!arr);
    cr_assert_str_eq(sf_catalog_resolve_type(&cat, "public.email_address[]", &arr), "character varying(200)");
    cr_assert(arr);
    cr_assert_str_eq(sf_catalog_resolve_type(&cat, "erp.ts", &arr), "timestamp with time zone");
    cr_assert_str_eq(sf_catalog_resolve_type(&cat, "character varying(3)", &arr), "character varying(3)");
    cr_assert_str_eq(sf_catalog_resolve_type(&cat, "integer", &arr), "integer");
}

Test(catalog, search_path_forms)
{
    const char *a = "SELECT pg_catalog.set_config('search_path', '', false);";
    const char *b = "SET search_path = \"Sales\", public;";
    const char *c = "SELECT pg_catalog.set_config('search_path', '\"$user\", erp, public', false);";
    const char *d = "SET statement_timeout = 0;";
    cr_assert_str_eq(sf_catalog_default_schema(&cat), "public");
    cr_assert_eq(sf_catalog_search_path(&cat, a, strlen(a), 1), 1);
    cr_assert_str_eq(sf_catalog_default_schema(&cat), "public");
    cr_assert_eq(sf_catalog_search_path(&cat, b, strlen(b), 1), 1);
    cr_assert_str_eq(sf_catalog_default_schema(&cat), "Sales");
    ddl("CREATE TABLE Orders (id integer);");
    cr_assert_not_null(sf_catalog_table(&cat, "Sales", "orders"));
    cr_assert_eq(sf_catalog_search_path(&cat, c, strlen(c), 1), 1);
    cr_assert_str_eq(sf_catalog_default_schema(&cat), "erp");
    cr_assert_eq(sf_catalog_search_path(&cat, d, strlen(d), 1), 0);
    cr_assert_str_eq(sf_catalog_default_schema(&cat), "erp");
}

Test(catalog, ignores_other_ddl_and_garbage)
{
    ddl("CREATE INDEX i ON public.t USING btree (a);");
    ddl("CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;");
    ddl("CREATE TABLE");
    ddl("CREATE TABLE public.broken (a integer, b");
    cr_assert_eq(cat.ntables, 1, "a truncated table is still recorded with what could be read");
    cr_assert_eq(cat.tables[0]->ncols, 1);
}

Test(catalog, many_tables_hash)
{
    char sql[128], name[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(sql, sizeof(sql), "CREATE TABLE s%d.t%d (c%d integer);", i % 7, i, i);
        ddl(sql);
    }
    for (int i = 0; i < 3000; i++) {
        char schema[16];
        const sf_cattable *t;
        snprintf(schema, sizeof(schema), "s%d", i % 7);
        snprintf(name, sizeof(name), "t%d", i);
        t = sf_catalog_table(&cat, schema, name);
        cr_assert_not_null(t);
        cr_assert_eq(t->ncols, 1);
    }
    cr_assert_null(sf_catalog_table(&cat, "s1", "t0"));
}
