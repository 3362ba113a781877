/* Declared column types as pg_dump writes them. */
#include <criterion/criterion.h>
#include <string.h>
#include "rowmask.h"

typedef struct {
    const char *decl;
    sf_type_kind kind;
    int32_t len, precision, scale;
    int is_array;
} tcase;

static const tcase cases[] = {
    {"integer", SF_T_INT4, -1, -1, -1, 0},
    {"bigint", SF_T_INT8, -1, -1, -1, 0},
    {"smallint", SF_T_INT2, -1, -1, -1, 0},
    {"int8", SF_T_INT8, -1, -1, -1, 0},
    {"character varying(40)", SF_T_VARCHAR, 40, -1, -1, 0},
    {"CHARACTER VARYING(12) NOT NULL", SF_T_VARCHAR, 12, -1, -1, 0},
    {"character varying", SF_T_TEXT, -1, -1, -1, 0},
    {"varchar(5)", SF_T_VARCHAR, 5, -1, -1, 0},
    {"character(2)", SF_T_CHAR, 2, -1, -1, 0},
    {"character", SF_T_CHAR, 1, -1, -1, 0},
    {"bpchar", SF_T_CHAR, -1, -1, -1, 0},
    {"\"char\"", SF_T_OPAQUE, -1, -1, -1, 0},
    {"text", SF_T_TEXT, -1, -1, -1, 0},
    {"text COLLATE pg_catalog.\"C\"", SF_T_TEXT, -1, -1, -1, 0},
    {"numeric(12,2)", SF_T_NUMERIC, -1, 12, 2, 0},
    {"numeric(10)", SF_T_NUMERIC, -1, 10, 0, 0},
    {"numeric", SF_T_NUMERIC, -1, -1, -1, 0},
    {"numeric( 14 , 2 )", SF_T_NUMERIC, -1, 14, 2, 0},
    {"real", SF_T_FLOAT4, -1, -1, -1, 0},
    {"double precision", SF_T_FLOAT8, -1, -1, -1, 0},
    {"money", SF_T_MONEY, -1, -1, -1, 0},
    {"date", SF_T_DATE, -1, -1, -1, 0},
    {"timestamp without time zone", SF_T_TIMESTAMP, -1, -1, -1, 0},
    {"timestamp with time zone", SF_T_TIMESTAMPTZ, -1, -1, -1, 0},
    {"timestamp(3) with time zone", SF_T_TIMESTAMPTZ, -1, -1, -1, 0},
    {"timestamp(6) without time zone", SF_T_TIMESTAMP, -1, -1, -1, 0},
    {"time without time zone", SF_T_OPAQUE, -1, -1, -1, 0},
    {"interval", SF_T_OPAQUE, -1, -1, -1, 0},
    {"boolean", SF_T_BOOL, -1, -1, -1, 0},
    {"uuid", SF_T_UUID, -1, -1, -1, 0},
    {"json", SF_T_JSON, -1, -1, -1, 0},
    {"jsonb", SF_T_JSONB, -1, -1, -1, 0},
    {"bytea", SF_T_BYTEA, -1, -1, -1, 0},
    {"public.citext", SF_T_CITEXT, -1, -1, -1, 0},
    {"citext", SF_T_CITEXT, -1, -1, -1, 0},
    {"pg_catalog.int4", SF_T_INT4, -1, -1, -1, 0},
    {"public.email_domain", SF_T_OPAQUE, -1, -1, -1, 0},
    {"public.\"Mood\"", SF_T_OPAQUE, -1, -1, -1, 0},
    {"erp.integer", SF_T_OPAQUE, -1, -1, -1, 0},
    {"text[]", SF_T_TEXT, -1, -1, -1, 1},
    {"character varying(20)[]", SF_T_VARCHAR, 20, -1, -1, 1},
    {"integer[][]", SF_T_INT4, -1, -1, -1, 1},
    {"numeric(8,3)[]", SF_T_NUMERIC, -1, 8, 3, 1},
    {"public.mood[]", SF_T_OPAQUE, -1, -1, -1, 1},
    {"timestamp with time zone[]", SF_T_TIMESTAMPTZ, -1, -1, -1, 1},
    {"", SF_T_OPAQUE, -1, -1, -1, 0},
    {"(((", SF_T_OPAQUE, -1, -1, -1, 0},
};

Test(sqltype, pg_dump_type_names)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tcase *c = &cases[i];
        sf_coltype t;
        sf_coltype_parse(&t, c->decl, strlen(c->decl));
        cr_expect_eq(t.kind, c->kind, "'%s': kind %d, expected %d", c->decl, t.kind, c->kind);
        cr_expect_eq(t.len, c->len, "'%s': len %d", c->decl, t.len);
        cr_expect_eq(t.precision, c->precision, "'%s': precision %d", c->decl, t.precision);
        cr_expect_eq(t.scale, c->scale, "'%s': scale %d", c->decl, t.scale);
        cr_expect_eq(t.is_array, c->is_array, "'%s': is_array %d", c->decl, t.is_array);
    }
}

Test(sqltype, length_is_respected_not_nul_terminated)
{
    sf_coltype t;
    const char *s = "character varying(40)garbage";
    sf_coltype_parse(&t, s, strlen("character varying(40)"));
    cr_assert_eq(t.kind, SF_T_VARCHAR);
    cr_assert_eq(t.len, 40);
    sf_coltype_parse(&t, s, strlen("character varying(4"));
    cr_assert_eq(t.kind, SF_T_TEXT); /* unterminated modifier: no length known */
    sf_coltype_parse(&t, "integer", 3);
    cr_assert_eq(t.kind, SF_T_INT4); /* "int" */
}
