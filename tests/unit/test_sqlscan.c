/* Statement splitting of psql scripts, fed in chunks of every size. */
#include <criterion/criterion.h>
#include <string.h>
#include "sqlscan.h"

#define MAXU 32

typedef struct {
    int n;
    int kind[MAXU];
    char text[MAXU][512];
    unsigned long line[MAXU]; /* line of the unit's first token */
    const char *eof_error;
    unsigned long eof_line;
    char rest[512];
} units;

static void split(units *u, const char *script, size_t chunk, int scs)
{
    sf_sqlscan sc;
    size_t len = strlen(script), avail = chunk < len ? chunk : len, start = 0;
    memset(u, 0, sizeof(*u));
    sf_sqlscan_init(&sc);
    sc.scs = scs;
    for (;;) {
        size_t end = 0;
        int eof = avail == len;
        int r = sf_sqlscan_run(&sc, script + start, avail - start, eof, &end);
        if (r == SF_SCAN_MORE) {
            if (eof) {
                uint64_t line = 0;
                u->eof_error = sf_sqlscan_eof_error(&sc, &line);
                u->eof_line = (unsigned long)line;
                memcpy(u->rest, script + start, len - start);
                return;
            }
            avail = avail + chunk < len ? avail + chunk : len;
            continue;
        }
        cr_assert_lt(u->n, MAXU);
        u->kind[u->n] = r;
        u->line[u->n] = (unsigned long)sc.tok_line;
        memcpy(u->text[u->n], script + start, end);
        u->n++;
        start += end;
        sf_sqlscan_next_unit(&sc);
    }
}

/* Same units whatever the chunking. */
static void split_all(units *u, const char *script, int scs)
{
    units v;
    size_t sizes[] = {1, 2, 3, 5, 7, 64, 100000};
    split(u, script, 100000, scs);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        split(&v, script, sizes[i], scs);
        cr_assert_eq(v.n, u->n, "chunk %zu: %d units vs %d", sizes[i], v.n, u->n);
        for (int k = 0; k < u->n; k++) {
            cr_assert_str_eq(v.text[k], u->text[k], "chunk %zu unit %d", sizes[i], k);
            cr_assert_eq(v.kind[k], u->kind[k]);
            cr_assert_eq(v.line[k], u->line[k], "chunk %zu unit %d line", sizes[i], k);
        }
        cr_assert_str_eq(v.rest, u->rest);
    }
}

Test(sqlscan, comments_and_strings_hide_semicolons)
{
    units u;
    split_all(&u, "-- a; comment\nSET x = 'a;b';\n/* c; /* nested; */ still; */ SELECT \"x;y\";\n"
                  "SELECT $$ ; $$, $tag$ $$ ; $tag$;\n",
              1);
    cr_assert_eq(u.n, 3);
    cr_assert_str_eq(u.text[0], "-- a; comment\nSET x = 'a;b';");
    cr_assert_str_eq(u.text[1], "\n/* c; /* nested; */ still; */ SELECT \"x;y\";");
    cr_assert_str_eq(u.text[2], "\nSELECT $$ ; $$, $tag$ $$ ; $tag$;");
    cr_assert_eq(u.line[0], 2);
    cr_assert_eq(u.line[2], 4);
    cr_assert_null(u.eof_error);
    cr_assert_str_eq(u.rest, "\n");
}

Test(sqlscan, escape_strings_and_scs_off)
{
    units u;
    split_all(&u, "SELECT E'it\\'s; fine', 'a''b;';\nSELECT 'c\\';\n", 1);
    cr_assert_eq(u.n, 2);
    cr_assert_str_eq(u.text[0], "SELECT E'it\\'s; fine', 'a''b;';");
    /* with standard_conforming_strings on, 'c\' is a complete string */
    cr_assert_str_eq(u.text[1], "\nSELECT 'c\\';");
    split_all(&u, "SELECT 'c\\'; still';\n", 0);
    cr_assert_eq(u.n, 1);
    cr_assert_str_eq(u.text[0], "SELECT 'c\\'; still';");
}

Test(sqlscan, meta_commands)
{
    units u;
    split_all(&u, "\\restrict abc123\n--\nSET a = 1;\n\\connect - postgres\n  \\unrestrict abc123\n", 1);
    cr_assert_eq(u.n, 4);
    cr_assert_eq(u.kind[0], SF_SCAN_META);
    cr_assert_str_eq(u.text[0], "\\restrict abc123\n");
    cr_assert_eq(u.kind[1], SF_SCAN_STMT);
    cr_assert_eq(u.kind[2], SF_SCAN_META);
    cr_assert_str_eq(u.text[2], "\n\\connect - postgres\n");
    cr_assert_str_eq(u.text[3], "  \\unrestrict abc123\n");
    /* a meta-command on the last line without a newline */
    split_all(&u, "SELECT 1;\n\\unrestrict k", 1);
    cr_assert_eq(u.n, 2);
    cr_assert_str_eq(u.text[1], "\n\\unrestrict k");
}

Test(sqlscan, parentheses_and_begin_atomic)
{
    units u;
    split_all(&u,
              "CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);\n"
              "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n"
              " SELECT CASE WHEN true THEN 1 ELSE 2 END;\n SELECT 3;\nEND;\n"
              "CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC SELECT 1; END;\n"
              "SELECT begin, \"end\" FROM t;\n",
              1);
    cr_assert_eq(u.n, 4);
    cr_assert(strstr(u.text[1], " SELECT 3;\nEND;"));
    cr_assert(strstr(u.text[2], "PROCEDURE p() BEGIN ATOMIC SELECT 1; END;"));
    cr_assert_str_eq(u.text[3], "\nSELECT begin, \"end\" FROM t;");
}

Test(sqlscan, dollar_edge_cases)
{
    units u;
    /* identifiers may contain $; $1 is a parameter; tags are case-sensitive */
    split_all(&u, "SELECT a$b$ FROM t; PREPARE p AS SELECT $1; SELECT $A$ $a$; $A$;\n", 1);
    cr_assert_eq(u.n, 3);
    cr_assert_str_eq(u.text[2], " SELECT $A$ $a$; $A$;");
}

Test(sqlscan, unterminated_input)
{
    units u;
    split_all(&u, "SELECT 1;\nSELECT 'abc;\n", 1);
    cr_assert_eq(u.n, 1);
    cr_assert_str_eq(u.eof_error, "unterminated quoted string");
    cr_assert_eq(u.eof_line, 2);
    split_all(&u, "SELECT 1;\n\n-- c\nSELECT 2,\n/* x\n\n", 1);
    cr_assert_str_eq(u.eof_error, "unterminated /* comment");
    cr_assert_eq(u.eof_line, 5);
    split_all(&u, "SELECT 1;\nSELECT 2\n", 1);
    cr_assert_str_eq(u.eof_error, "statement without a terminating ';'");
    cr_assert_eq(u.eof_line, 2);
    split_all(&u, "/* open /* nested */ still open\n", 1);
    cr_assert_str_eq(u.eof_error, "unterminated /* comment");
    split_all(&u, "SELECT $x$ never closed;\n", 1);
    cr_assert_str_eq(u.eof_error, "unterminated dollar-quoted string");
    split_all(&u, "SELECT \"open;\n", 1);
    cr_assert_str_eq(u.eof_error, "unterminated quoted identifier");
    split_all(&u, "SELECT 1;\n-- only a comment at the end", 1);
    cr_assert_null(u.eof_error);
}

Test(sqlscan, line_numbers_across_multiline_tokens)
{
    units u;
    split_all(&u, "SELECT 'a\nb\nc';\n/* x\ny */\nSELECT $$\n$$;\n\n\nINSERT INTO t VALUES (E'\\\n');\nSELECT 9;", 1);
    cr_assert_eq(u.n, 4);
    cr_assert_eq(u.line[0], 1);
    cr_assert_eq(u.line[1], 6);
    cr_assert_eq(u.line[2], 10);
    cr_assert_eq(u.line[3], 12);
}
