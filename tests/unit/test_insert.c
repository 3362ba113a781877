/* INSERT statements as pg_dump writes them: heads, tuples, literals, rendering. */
#include <criterion/criterion.h>
#include <string.h>
#include "insert.h"

static sf_insert ins;

static void setup(void)
{
    sf_insert_init(&ins);
}

static void teardown(void)
{
    sf_insert_free(&ins);
}

static const char *val(const sf_insval *v)
{
    static char b[4096];
    memcpy(b, sf_insval_ptr(&ins, v), v->len);
    b[v->len] = '\0';
    return b;
}

TestSuite(insert, .init = setup, .fini = teardown);

Test(insert, plain_inserts_literals)
{
    const char *s = "INSERT INTO public.customers VALUES (1, 'O''Brien', NULL, -12.50, 1e+20, true, false, "
                    "'{a,b}', 'NaN', E'tab\\there', 'back\\slash');";
    const char *why;
    size_t at;
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    cr_assert_str_eq(ins.schema.ptr, "public");
    cr_assert_str_eq(ins.table.ptr, "customers");
    cr_assert(!ins.has_list);
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), 1);
    cr_assert_eq(ins.nvals, 11);
    cr_assert_eq(ins.vals[0].kind, SF_IV_NUMBER);
    cr_assert_str_eq(val(&ins.vals[0]), "1");
    cr_assert_eq(ins.vals[1].kind, SF_IV_STRING);
    cr_assert_str_eq(val(&ins.vals[1]), "O'Brien");
    cr_assert_eq(ins.vals[2].kind, SF_IV_NULL);
    cr_assert_eq(ins.vals[3].kind, SF_IV_NUMBER);
    cr_assert_str_eq(val(&ins.vals[3]), "-12.50");
    cr_assert_str_eq(val(&ins.vals[4]), "1e+20");
    cr_assert_eq(ins.vals[5].kind, SF_IV_BOOL);
    cr_assert_str_eq(val(&ins.vals[5]), "t");
    cr_assert_str_eq(val(&ins.vals[6]), "f");
    cr_assert_str_eq(val(&ins.vals[7]), "{a,b}");
    cr_assert_str_eq(val(&ins.vals[8]), "NaN");
    cr_assert_str_eq(val(&ins.vals[9]), "tab\there");
    /* standard_conforming_strings on: backslashes are literal */
    cr_assert_str_eq(val(&ins.vals[10]), "back\\slash");
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), 0);
}

Test(insert, column_inserts_and_odd_identifiers)
{
    const char *s = "INSERT INTO erp.\"Supplier Contacts\" (id, \"Full Name\", \"E-Mail\", \"we\"\"ird\") "
                    "OVERRIDING SYSTEM VALUE VALUES (7, 'Zoë \xe6\x97\xa5', 'a@b.c', DEFAULT);";
    const char *why;
    size_t at;
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    cr_assert_str_eq(ins.schema.ptr, "erp");
    cr_assert_str_eq(ins.table.ptr, "Supplier Contacts");
    cr_assert_eq(ins.ncols, 4);
    cr_assert_str_eq(ins.cols[1], "Full Name");
    cr_assert_str_eq(ins.cols[3], "we\"ird");
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), 1);
    cr_assert_str_eq(val(&ins.vals[1]), "Zoë \xe6\x97\xa5");
    cr_assert_eq(ins.vals[3].kind, SF_IV_DEFAULT);
}

Test(insert, multi_row_and_on_conflict)
{
    const char *s = "INSERT INTO public.t VALUES\n\t(1, 'a'),\n\t(2, 'b'),\n\t(3, NULL) ON CONFLICT DO NOTHING;";
    const char *why;
    size_t at;
    int rows = 0;
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    while (sf_insert_tuple(&ins, &why, &at) == 1) {
        rows++;
        cr_assert_eq(ins.nvals, 2);
        cr_assert_eq(s[ins.tuple_start], '(');
        cr_assert_eq(s[ins.tuple_end - 1], ')');
    }
    cr_assert_eq(rows, 3);
    cr_assert_eq(strncmp(s + ins.lx.pos, " ON CONFLICT", 12), 0);
}

Test(insert, casts_and_expressions)
{
    const char *s = "INSERT INTO t VALUES ('x'::character varying, '2024-01-01'::date, ARRAY[1,2], "
                    "B'0101', 'a' || 'b', (1), now(), numeric '1.5', '{}'::public.\"T\"[]);";
    const char *why;
    size_t at;
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "sales", 1, &why), 0);
    cr_assert_str_eq(ins.schema.ptr, "sales");
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), 1);
    cr_assert_eq(ins.nvals, 9);
    cr_assert_eq(ins.vals[0].kind, SF_IV_STRING);
    cr_assert_str_eq(val(&ins.vals[0]), "x");
    cr_assert_eq(strncmp(s + ins.vals[0].lit_end, "::character varying", ins.vals[0].end - ins.vals[0].lit_end), 0);
    cr_assert_eq(ins.vals[1].kind, SF_IV_STRING);
    for (int i = 2; i < 8; i++)
        cr_assert_eq(ins.vals[i].kind, SF_IV_EXPR, "value %d", i);
    cr_assert_str_eq(val(&ins.vals[2]), "ARRAY[1,2]");
    cr_assert_str_eq(val(&ins.vals[4]), "'a' || 'b'");
    cr_assert_eq(ins.vals[8].kind, SF_IV_STRING);
}

Test(insert, scs_off_backslashes)
{
    const char *s = "INSERT INTO t VALUES ('c:\\\\dir', E'it''s', 'q\\'q');";
    const char *why;
    size_t at;
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 0, &why), 0);
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), 1);
    cr_assert_str_eq(val(&ins.vals[0]), "c:\\dir");
    cr_assert_str_eq(val(&ins.vals[1]), "it's");
    cr_assert_str_eq(val(&ins.vals[2]), "q'q");
}

Test(insert, not_values_and_malformed)
{
    const char *why;
    size_t at;
    const char *s = "INSERT INTO public.empty DEFAULT VALUES;";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 1);
    s = "INSERT INTO public.t (a, \"B\") SELECT 1, 2;";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 1);
    cr_assert_eq(ins.ncols, 2, "the column list is read even without VALUES");
    cr_assert_str_eq(ins.cols[1], "B");
    s = "INSERT INTO public.t SELECT * FROM u;";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 1);
    s = "INSERT public.t VALUES (1);";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), -1);
    s = "INSERT INTO t VALUES (1, 'open";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), -1);
    s = "INSERT INTO t VALUES (1, 2";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), -1);
    cr_assert_str_eq(why, "unterminated VALUES tuple");
    s = "INSERT INTO t VALUES (1, , 2);";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), -1);
    cr_assert_eq(at, 25);
    s = "INSERT INTO t VALUES (E'\\000');";
    cr_assert_eq(sf_insert_head(&ins, s, strlen(s), "public", 1, &why), 0);
    cr_assert_eq(sf_insert_tuple(&ins, &why, &at), -1);
    cr_assert(strstr(why, "NUL"));
}

Test(insert, render_literals)
{
    sf_buf out = SF_BUF_INIT;
    const char *stmt = "'x'::character varying";
    sf_insval str = {SF_IV_STRING, 0, 22, 3, 0, 0};
    sf_insval num = {SF_IV_NUMBER, 0, 2, 2, 0, 0};
    sf_insval bol = {SF_IV_BOOL, 0, 4, 4, 0, 0};
    cr_assert_eq(sf_insert_render(&out, "O'Neil", 6, 0, &str, stmt, 1), 0);
    cr_assert_str_eq(out.ptr, "'O''Neil'::character varying");
    sf_buf_clear(&out);
    sf_insert_render(&out, "a\\b", 3, 0, &str, stmt, 0);
    cr_assert_str_eq(out.ptr, "E'a\\\\b'::character varying");
    sf_buf_clear(&out);
    sf_insert_render(&out, "a\\b", 3, 0, &str, stmt, 1);
    cr_assert_str_eq(out.ptr, "'a\\b'::character varying");
    sf_buf_clear(&out);
    sf_insert_render(&out, "-13.07", 6, 0, &num, stmt, 1);
    cr_assert_str_eq(out.ptr, "-13.07");
    sf_buf_clear(&out);
    sf_insert_render(&out, "NaN", 3, 0, &num, stmt, 1);
    cr_assert_str_eq(out.ptr, "'NaN'");
    sf_buf_clear(&out);
    sf_insert_render(&out, NULL, 0, 1, &num, stmt, 1);
    cr_assert_str_eq(out.ptr, "NULL");
    sf_buf_clear(&out);
    sf_insert_render(&out, "f", 1, 0, &bol, stmt, 1);
    cr_assert_str_eq(out.ptr, "false");
    sf_buf_free(&out);
}

/* Values survive render -> parse unchanged, with and without standard_conforming_strings. */
Test(insert, render_parse_roundtrip)
{
    const char *vals[] = {"plain", "it's", "back\\slash\\", "tab\tnew\nline", "\\N", "Jos\xc3\xa9 \xf0\x9f\x98\x80", ""};
    sf_insval str = {SF_IV_STRING, 0, 0, 0, 0, 0};
    for (int scs = 0; scs <= 1; scs++) {
        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
            sf_buf stmt = SF_BUF_INIT;
            const char *why;
            size_t at;
            sf_buf_adds(&stmt, "INSERT INTO t VALUES (");
            sf_insert_render(&stmt, vals[i], strlen(vals[i]), 0, &str, "", scs);
            sf_buf_adds(&stmt, ");");
            cr_assert_eq(sf_insert_head(&ins, stmt.ptr, stmt.len, "public", scs, &why), 0);
            cr_assert_eq(sf_insert_tuple(&ins, &why, &at), 1, "%s", stmt.ptr);
            cr_assert_str_eq(val(&ins.vals[0]), vals[i], "scs=%d %s", scs, stmt.ptr);
            sf_buf_free(&stmt);
        }
    }
}
