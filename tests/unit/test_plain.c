/* The plain-format reader end to end: sf_mask_plain over in-memory dumps. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/mask.h"

static const char KEY[] = "plain-reader-test-key-0123456789abcdef";

typedef struct result {
    int rc;
    char *out;
    size_t len;
    char err[SF_ERROR_MSG_MAX];
    char report[8192];
} result;

static result run(const char *policy, const char *dump, size_t dlen)
{
    result r;
    sf_mask_policy *pol = NULL;
    sf_mask_key *key = NULL;
    sf_masker *m = NULL;
    sf_error err = {0};
    FILE *in, *out;
    sf_buf rep = SF_BUF_INIT;
    memset(&r, 0, sizeof(r));
    cr_assert_eq(sf_mask_policy_load_mem(&pol, "test.yaml", policy, strlen(policy), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_mask_key_from_bytes(&key, KEY, strlen(KEY), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_masker_new(&m, pol, key, -1, &err), 0);
    in = fmemopen((void *)dump, dlen, "rb");
    out = open_memstream(&r.out, &r.len);
    cr_assert(in && out);
    r.rc = sf_mask_plain(m, in, out);
    fclose(in);
    fclose(out);
    snprintf(r.err, sizeof(r.err), "%s", sf_masker_error(m)->msg);
    if (sf_masker_report_json(m, &rep) == 0)
        snprintf(r.report, sizeof(r.report), "%s", rep.ptr);
    sf_buf_free(&rep);
    sf_masker_free(m);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    return r;
}

static result runs(const char *policy, const char *dump)
{
    return run(policy, dump, strlen(dump));
}

static const char IDENTITY[] = "version: 1\nstrict: false\ntables: {}\n";

static const char PEOPLE_POLICY[] = "version: 1\n"
                                    "tables:\n"
                                    "  public.people:\n"
                                    "    email: email\n"
                                    "    note: {fixed: \"a\\tb\\nc\\\\d \\\\N\"}\n"
                                    "    name: keep\n";

static const char PEOPLE_DDL[] = "CREATE TABLE public.people (\n"
                                 "    id integer NOT NULL,\n"
                                 "    name text,\n"
                                 "    email character varying(60),\n"
                                 "    note text\n"
                                 ");\n";

Test(plain, identity_dump_is_byte_exact)
{
    const char *dump = "--\n-- x\n--\n\n\\restrict abc\nSET standard_conforming_strings = on;\n"
                       "CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$ SELECT 'COPY x FROM stdin;' $$;\n"
                       "CREATE TABLE public.t (a text, b text);\n"
                       "COPY public.t (a, b) FROM stdin;\n"
                       "x\\ty\t\\N\n"
                       "\\.x looks like an end marker\t1\n"
                       "\t\n"
                       "\\.\n"
                       "COPY public.t (a, b) FROM stdin;\n"
                       "\\.\n"
                       "/* trailing comment */\n"
                       "\\unrestrict abc";
    result r = runs(IDENTITY, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(r.len, strlen(dump));
    cr_assert_eq(memcmp(r.out, dump, r.len), 0);
    cr_assert(strstr(r.report, "\"rows\": 3"), "%s", r.report);
    free(r.out);
}

Test(plain, end_marker_at_eof_without_newline)
{
    const char *dump = "CREATE TABLE public.t (a text);\nCOPY public.t (a) FROM stdin;\nx\n\\.";
    result r = runs(IDENTITY, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(r.len, strlen(dump));
    free(r.out);
}

Test(plain, masked_copy_keeps_untouched_raw_bytes_and_escapes_masked_ones)
{
    sf_buf d = SF_BUF_INIT;
    result r;
    sf_buf_adds(&d, PEOPLE_DDL);
    sf_buf_adds(&d, "COPY public.people (id, name, email, note) FROM stdin;\n"
                    "1\tJos\\303\\251 \\x41\\\\\tann@x.org\tsecret\n"
                    "2\t\\N\t\\N\t\\N\n"
                    "\\.\n");
    r = run(PEOPLE_POLICY, d.ptr, d.len);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    /* the keep column keeps its original escapes (octal, \x) byte for byte */
    cr_assert(strstr(r.out, "\n1\tJos\\303\\251 \\x41\\\\\t"), "%s", r.out);
    /* the fixed value is escaped as PostgreSQL would */
    cr_assert(strstr(r.out, "@example.com\ta\\tb\\nc\\\\d \\\\N\n"), "%s", r.out);
    cr_assert(strstr(r.out, "\n2\t\\N\t\\N\t"), "%s", r.out);
    cr_assert_null(strstr(r.out, "ann@x.org"));
    cr_assert_null(strstr(r.out, "secret"));
    free(r.out);
    sf_buf_free(&d);
}

/* Rows far larger than the reader's 1 MiB window, masked and verbatim. */
Test(plain, huge_rows)
{
    size_t big = 3u << 20, field, flen;
    sf_buf d = SF_BUF_INIT;
    result r;
    char *ok;
    sf_buf_adds(&d, PEOPLE_DDL);
    sf_buf_adds(&d, "CREATE TABLE public.blob (b text);\n");
    sf_buf_adds(&d, "COPY public.people (id, name, email, note) FROM stdin;\n1\t");
    field = d.len;
    for (size_t i = 0; i < big; i++) {
        if (i % 1000 == 999)
            sf_buf_adds(&d, "\\t");
        else
            sf_buf_addc(&d, (char)('a' + i % 26));
    }
    flen = d.len - field;
    sf_buf_adds(&d, "\tbig@x.org\tnote\n\\.\nCOPY public.blob (b) FROM stdin;\n");
    for (size_t i = 0; i < big; i++)
        sf_buf_addc(&d, (char)('A' + i % 26));
    sf_buf_adds(&d, "\n\\.\n");
    r = run(PEOPLE_POLICY, d.ptr, d.len);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    /* the long keep field comes through unchanged, the email is masked */
    ok = strstr(r.out, "COPY public.people");
    cr_assert_not_null(ok);
    cr_assert_null(strstr(r.out, "big@x.org"));
    cr_assert_not_null(memmem(r.out, r.len, d.ptr + field - 2, flen + 3), "the 3 MB keep field is unchanged");
    cr_assert(r.len > 2 * big);
    cr_assert_eq(memcmp(r.out + (r.len - big - 4), d.ptr + (d.len - big - 4), big + 4), 0);
    free(r.out);
    sf_buf_free(&d);
}

Test(plain, inserts_all_variants)
{
    const char *dump = "SET standard_conforming_strings = on;\n"
                       "CREATE TABLE public.people (\n    id integer NOT NULL,\n    name text,\n"
                       "    email character varying(60),\n    note text\n);\n"
                       "INSERT INTO public.people VALUES (1, 'O''Hara', 'o@x.org', 'n1');\n"
                       "INSERT INTO public.people (id, name, email, note) VALUES (2, 'B', 'b@x.org', NULL);\n"
                       "INSERT INTO public.people VALUES\n\t(3, 'C\\D', 'c@x.org', 'n3'),\n\t(4, NULL, NULL, 'n4');\n"
                       "INSERT INTO public.people VALUES (5, 'E', 'e@x.org'::character varying, 'n5') "
                       "ON CONFLICT DO NOTHING;\n";
    result r = runs(PEOPLE_POLICY, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert(strstr(r.out, "VALUES (1, 'O''Hara', '"), "%s", r.out);
    cr_assert(strstr(r.out, "(3, 'C\\D', '"), "%s", r.out);
    cr_assert(strstr(r.out, "\t(4, NULL, NULL, 'a\tb\nc\\d \\N');"), "%s", r.out);
    cr_assert(strstr(r.out, "@example.com'::character varying, 'a\tb"), "%s", r.out);
    cr_assert(strstr(r.out, "') ON CONFLICT DO NOTHING;\n"), "%s", r.out);
    cr_assert_null(strstr(r.out, "@x.org"), "%s", r.out);
    cr_assert(strstr(r.report, "\"rows\": 5"), "%s", r.report);
    free(r.out);
}

Test(plain, inserts_with_standard_conforming_strings_off)
{
    const char *dump = "SET standard_conforming_strings = off;\n"
                       "CREATE TABLE public.people (id integer, name text, email text, note text);\n"
                       "INSERT INTO public.people VALUES (1, E'x\\\\y', 'it\\'s@x.org', 'z');\n";
    result r = runs(PEOPLE_POLICY, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    /* the fixed note holds a backslash: written as E'' with doubled backslashes */
    cr_assert(strstr(r.out, ", E'a\tb\nc\\\\d \\\\N');"), "%s", r.out);
    cr_assert(strstr(r.out, "VALUES (1, E'x\\\\y', '"), "%s", r.out);
    cr_assert_null(strstr(r.out, "it\\'s@x.org"));
    free(r.out);
}

Test(plain, search_path_qualifies_unqualified_names)
{
    const char *policy = "version: 1\ntables:\n  sales.customers: {email: {fixed: hidden}}\n";
    const char *dump = "SET search_path = sales, pg_catalog;\n"
                       "CREATE TABLE customers (id integer, email text);\n"
                       "COPY customers (id, email) FROM stdin;\n1\ta@b.c\n\\.\n"
                       "SELECT pg_catalog.set_config('search_path', 'public', false);\n"
                       "CREATE TABLE customers (id integer, email text);\n"
                       "COPY sales.customers (id, email) FROM stdin;\n2\td@e.f\n\\.\n";
    result r = runs(policy, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\n1\thidden\n"), "%s", r.out);
    cr_assert(strstr(r.out, "\n2\thidden\n"), "%s", r.out);
    free(r.out);
    /* public.customers has sensitive email and no rule: strict refuses it */
    r = runs(policy, "CREATE TABLE customers (id integer, email text);\n"
                     "COPY customers (id, email) FROM stdin;\n1\ta@b.c\n\\.\n");
    cr_assert_eq(r.rc, SF_EPOLICY);
    cr_assert(strstr(r.err, "public.customers.email"), "%s", r.err);
    cr_assert_null(strstr(r.out, "a@b.c"));
    cr_assert_null(strstr(r.out, "COPY"));
    free(r.out);
}

Test(plain, domains_give_column_types)
{
    /* varchar(8) through a domain: a fixed value longer than 8 cannot fit, so the rule is refused */
    const char *policy = "version: 1\ntables:\n  public.t: {email: {fixed: \"far-too-long-value\"}}\n";
    const char *dump = "CREATE DOMAIN public.short_text AS character varying(8);\n"
                       "CREATE TABLE public.t (email public.short_text);\n"
                       "COPY public.t (email) FROM stdin;\na@b.c\n\\.\n";
    result r = runs(policy, dump);
    cr_assert_neq(r.rc, 0);
    cr_assert_null(strstr(r.out, "a@b.c"));
    free(r.out);
}

Test(plain, copy_without_column_list_uses_create_table)
{
    const char *dump = "CREATE TABLE public.people (id integer, name text, email text, note text,"
                       " total numeric GENERATED ALWAYS AS (id * 2) STORED);\n"
                       "COPY public.people FROM stdin;\n1\tn\te@x.org\tz\n\\.\n";
    result r = runs(PEOPLE_POLICY, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "e@x.org"));
    free(r.out);
}

Test(plain, errors_name_the_line)
{
    result r = runs(PEOPLE_POLICY, "CREATE TABLE public.people (id integer, name text, email text, note text);\n"
                                   "COPY public.people (id, name, email, note) FROM stdin;\n"
                                   "1\ta\tb@c.d\tx\n"
                                   "2\ta\tb@c.d\n");
    cr_assert_eq(r.rc, SF_EFORMAT);
    cr_assert_str_eq(r.err, "line 4: table public.people: row has 3 fields, expected 4");
    free(r.out);
    r = runs(PEOPLE_POLICY, "CREATE TABLE public.people (id integer, name text, email text, note text);\n"
                            "COPY public.people (id, name, email, note) FROM stdin;\n"
                            "1\ta\tb@c.d\tx\n");
    cr_assert_eq(r.rc, SF_EFORMAT);
    cr_assert(strstr(r.err, "line 4: table public.people: the dump ends inside its COPY data"), "%s", r.err);
    free(r.out);
    r = runs(IDENTITY, "CREATE TABLE public.t (a text);\nCOPY public.t (a) FROM stdin;\nx\n");
    cr_assert_eq(r.rc, SF_EFORMAT);
    cr_assert(strstr(r.err, "line 4: table public.t: the dump ends inside its COPY data"), "%s", r.err);
    free(r.out);
    r = runs(IDENTITY, "SELECT 1;\n\nSELECT $body$ never closed\n;\n");
    cr_assert_eq(r.rc, SF_EFORMAT);
    cr_assert_str_eq(r.err, "line 3: unterminated dollar-quoted string");
    free(r.out);
}

Test(plain, odd_identifiers)
{
    const char *policy = "version: 1\ntables:\n  '\"My Schema\".\"Tab\"\"le\"':\n    \"Ünïcode Col\": {fixed: X}\n";
    const char *dump = "CREATE TABLE \"My Schema\".\"Tab\"\"le\" (\"Ünïcode Col\" text, \"select\" integer);\n"
                       "COPY \"My Schema\".\"Tab\"\"le\" (\"Ünïcode Col\", \"select\") FROM stdin;\nsecret\t1\n\\.\n";
    result r = runs(policy, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\nX\t1\n"), "%s", r.out);
    free(r.out);
}

Test(plain, connect_resets_session_settings)
{
    /* pg_dumpall: each database's section starts a new session */
    const char *policy = "version: 1\ntables:\n  public.people: {email: {fixed: \"a\\\\b\"}}\n";
    const char *dump = "SET standard_conforming_strings = off;\n"
                       "SET search_path = other;\n"
                       "--\n\\connect db2\n"
                       "CREATE TABLE people (email text);\n"
                       "INSERT INTO people VALUES ('x@y.z');\n";
    result r = runs(policy, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    /* public.people (search_path back to default), written with scs on: no E'' */
    cr_assert(strstr(r.out, "INSERT INTO people VALUES ('a\\b');"), "%s", r.out);
    free(r.out);
}

Test(plain, crlf_line_ends)
{
    const char *dump = "CREATE TABLE public.people (id integer, name text, email text, note text);\r\n"
                       "COPY public.people (id, name, email, note) FROM stdin;\r\n"
                       "1\tAnn\ta@b.c\tx\r\n"
                       "\\.\r\n"
                       "CREATE TABLE public.t (a text);\r\n"
                       "COPY public.t (a) FROM stdin;\r\n"
                       "x\r\n"
                       "\\.\r\n";
    result r = runs(PEOPLE_POLICY, dump);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\r\n1\tAnn\t"), "%s", r.out);
    cr_assert(strstr(r.out, "@example.com\ta\\tb\\nc\\\\d \\\\N\r\n\\.\r\n"), "%s", r.out);
    cr_assert(strstr(r.out, "FROM stdin;\r\nx\r\n\\.\r\n"), "%s", r.out);
    cr_assert(strstr(r.report, "\"rows\": 2"), "%s", r.report);
    free(r.out);
}

/* Batches of COPY lines (sf_mask_table_lines) write what line-at-a-time masking writes, and fail on the right line. */
Test(plain, batched_lines_equal_line_at_a_time_and_errors_name_their_line)
{
    static const char POL[] = "version: 1\ntables:\n  public.acc:\n    email: email\n    iban: {alnum: {keep_leading: 2}}\n"
                              "    code: digits\n    total: {noise: 0.1, by: iban}\n";
    static const char DDL[] = "CREATE TABLE public.acc (id integer, email text, iban text, code integer, total numeric(10,2));\n";
    static const char COPY[] = "COPY public.acc (id, email, iban, code, total) FROM stdin;";
    sf_buf dump = SF_BUF_INIT, lines = SF_BUF_INIT, want = SF_BUF_INIT;
    sf_mask_policy *pol;
    sf_mask_key *key;
    sf_masker *m;
    sf_mask_table *t;
    result r;
    sf_buf_adds(&dump, DDL);
    sf_buf_adds(&dump, COPY);
    sf_buf_adds(&dump, "\n");
    for (int i = 1; i <= 300; i++) {
        /* NULLs, escapes in read and unread fields, repeated values, CRLF line ends now and then */
        sf_buf_addf(&lines, "%d\t%s\t%s\t%s\t%d.%02d%s\n", i, i % 7 == 0 ? "\\N" : i % 5 == 0 ? "a\\\\b@c.d" : "u@x.org",
                    i % 3 ? "DE12 3456 7890" : "NL\\t99 AB", i % 11 == 0 ? "\\N" : i % 2 ? "4711" : "90210", i * 3, i % 100,
                    i % 13 == 0 ? "\r" : "");
    }
    sf_buf_add(&dump, lines.ptr, lines.len);
    sf_buf_adds(&dump, "\\.\n");
    r = run(POL, dump.ptr, dump.len);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    /* the same lines through the table API, one call each */
    cr_assert_eq(sf_mask_policy_load_mem(&pol, "test.yaml", POL, strlen(POL), NULL), 0);
    cr_assert_eq(sf_mask_key_from_bytes(&key, KEY, strlen(KEY), NULL), 0);
    cr_assert_eq(sf_masker_new(&m, pol, key, -1, NULL), 0);
    cr_assert_eq(sf_masker_ddl(m, DDL, strlen(DDL)), 0);
    cr_assert_eq(sf_masker_table_begin(m, &t, COPY, strlen(COPY)), 0, "%s", sf_masker_error(m)->msg);
    for (const char *p = lines.ptr; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
        cr_assert_eq(sf_mask_table_line(t, p, len, &want), 0, "%s", sf_mask_table_error(t)->msg);
        sf_buf_add(&want, p + len, (size_t)(nl + 1 - (p + len)));
        p = nl + 1;
    }
    cr_assert_eq(sf_mask_table_end(t), 0);
    cr_assert(strstr(r.out, want.ptr), "batched output differs from line-at-a-time output");
    cr_assert(strstr(r.report, "\"rows\": 300"), "%s", r.report);
    free(r.out);
    /* a bad row in the middle of a batch: the error names its line */
    sf_buf_clear(&dump);
    sf_buf_adds(&dump, DDL);
    sf_buf_adds(&dump, COPY);
    sf_buf_adds(&dump, "\n");
    for (int i = 1; i <= 100; i++)
        sf_buf_addf(&dump, i == 70 ? "%d\tu@x.org\tDE12\t12x\t1.00\n" : "%d\tu@x.org\tDE12\t12\t1.00\n", i);
    sf_buf_adds(&dump, "\\.\n");
    r = run(POL, dump.ptr, dump.len);
    cr_assert_eq(r.rc, SF_EFORMAT);
    cr_assert_str_eq(r.err, "line 72: table public.acc: cannot mask public.acc.code (digits): value is not an integer");
    free(r.out);
    sf_masker_free(m);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    sf_buf_free(&dump);
    sf_buf_free(&lines);
    sf_buf_free(&want);
}
