/* Declared column types as pg_dump writes them (format_type output). */
#include <string.h>
#include "rowmask.h"

typedef struct {
    const char *s;
    size_t len, pos;
} lexer;

static void skip_ws(lexer *lx)
{
    while (lx->pos < lx->len && (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t' || lx->s[lx->pos] == '\n' ||
                                 lx->s[lx->pos] == '\r'))
        lx->pos++;
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* Next bare word, lower-cased into w (truncated); 0 if none. Quoted names give "\"". */
static size_t word(lexer *lx, char *w, size_t cap)
{
    size_t n = 0;
    skip_ws(lx);
    if (lx->pos < lx->len && lx->s[lx->pos] == '"') {
        lx->pos++;
        while (lx->pos < lx->len) {
            if (lx->s[lx->pos] == '"') {
                if (lx->pos + 1 < lx->len && lx->s[lx->pos + 1] == '"') {
                    lx->pos += 2;
                    continue;
                }
                lx->pos++;
                break;
            }
            lx->pos++;
        }
        w[0] = '"';
        w[1] = 0;
        return 1;
    }
    while (lx->pos < lx->len && is_word(lx->s[lx->pos])) {
        char c = lx->s[lx->pos++];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (n + 1 < cap)
            w[n++] = c;
    }
    w[n] = 0;
    return n;
}

/* Does the next word equal `kw`? Consumes it if so. */
static int accept(lexer *lx, const char *kw)
{
    lexer save = *lx;
    char w[32];
    if (word(lx, w, sizeof(w)) && strcmp(w, kw) == 0)
        return 1;
    *lx = save;
    return 0;
}

/* "(a)" or "(a,b)"; returns the number of integers read (0 if no parenthesis). */
static int modifiers(lexer *lx, int32_t *a, int32_t *b)
{
    int n = 0;
    int64_t v = 0;
    int digits = 0;
    skip_ws(lx);
    if (lx->pos >= lx->len || lx->s[lx->pos] != '(')
        return 0;
    lx->pos++;
    for (;;) {
        skip_ws(lx);
        if (lx->pos >= lx->len)
            return n;
        char c = lx->s[lx->pos++];
        if (c >= '0' && c <= '9') {
            if (v < 100000000)
                v = v * 10 + (c - '0');
            digits = 1;
        } else if (c == '-' && !digits) {
            continue; /* negative scale (PostgreSQL 15): treated as unknown below */
        } else if (c == ',' || c == ')') {
            if (digits) {
                if (n == 0)
                    *a = (int32_t)v;
                else if (n == 1)
                    *b = (int32_t)v;
                n++;
            }
            v = 0;
            digits = 0;
            if (c == ')')
                return n;
        } else {
            return n;
        }
    }
}

static void time_zone(lexer *lx, sf_coltype *out, sf_type_kind with_tz, sf_type_kind without_tz)
{
    if (accept(lx, "with")) {
        if (accept(lx, "time") && accept(lx, "zone"))
            out->kind = with_tz;
    } else if (accept(lx, "without")) {
        if (accept(lx, "time") && accept(lx, "zone"))
            out->kind = without_tz;
    }
}

void sf_coltype_parse(sf_coltype *out, const char *decl, size_t len)
{
    lexer lx = {decl, len, 0};
    char w[64];
    int32_t a = -1, b = -1;
    int qualified = 0;

    out->kind = SF_T_OPAQUE;
    out->len = -1;
    out->precision = -1;
    out->scale = -1;
    out->is_array = 0;

    if (!word(&lx, w, sizeof(w)))
        return;
    /* schema.type: only the built-in schemas keep the type's meaning, plus citext anywhere. */
    while (lx.pos < lx.len && decl[lx.pos] == '.') {
        int builtin = strcmp(w, "pg_catalog") == 0;
        lx.pos++;
        if (!word(&lx, w, sizeof(w)))
            return;
        if (!builtin && strcmp(w, "citext") != 0)
            qualified = 1;
    }
    if (qualified || strcmp(w, "\"") == 0) {
        modifiers(&lx, &a, &b); /* a user-defined type: opaque */
        goto suffix;
    }

    if (strcmp(w, "character") == 0 || strcmp(w, "char") == 0 || strcmp(w, "varchar") == 0 ||
        strcmp(w, "bpchar") == 0) {
        int varying = strcmp(w, "varchar") == 0 || accept(&lx, "varying");
        int n = modifiers(&lx, &a, &b);
        out->kind = varying ? SF_T_VARCHAR : SF_T_CHAR;
        if (n >= 1 && a > 0)
            out->len = a;
        else if (!varying && strcmp(w, "bpchar") != 0)
            out->len = 1; /* character without a length is character(1) */
        if (varying && out->len < 0)
            out->kind = SF_T_TEXT;
    } else if (strcmp(w, "text") == 0) {
        out->kind = SF_T_TEXT;
    } else if (strcmp(w, "citext") == 0) {
        out->kind = SF_T_CITEXT;
    } else if (strcmp(w, "smallint") == 0 || strcmp(w, "int2") == 0 || strcmp(w, "smallserial") == 0) {
        out->kind = SF_T_INT2;
    } else if (strcmp(w, "integer") == 0 || strcmp(w, "int") == 0 || strcmp(w, "int4") == 0 ||
               strcmp(w, "serial") == 0) {
        out->kind = SF_T_INT4;
    } else if (strcmp(w, "bigint") == 0 || strcmp(w, "int8") == 0 || strcmp(w, "bigserial") == 0) {
        out->kind = SF_T_INT8;
    } else if (strcmp(w, "numeric") == 0 || strcmp(w, "decimal") == 0) {
        int n = modifiers(&lx, &a, &b);
        out->kind = SF_T_NUMERIC;
        if (n >= 1 && a > 0) {
            out->precision = a;
            out->scale = n >= 2 && b >= 0 && b <= a ? b : 0;
        }
    } else if (strcmp(w, "real") == 0 || strcmp(w, "float4") == 0) {
        out->kind = SF_T_FLOAT4;
    } else if (strcmp(w, "double") == 0) {
        if (accept(&lx, "precision"))
            out->kind = SF_T_FLOAT8;
    } else if (strcmp(w, "float8") == 0) {
        out->kind = SF_T_FLOAT8;
    } else if (strcmp(w, "float") == 0) {
        int n = modifiers(&lx, &a, &b);
        out->kind = n >= 1 && a >= 1 && a <= 24 ? SF_T_FLOAT4 : SF_T_FLOAT8;
    } else if (strcmp(w, "money") == 0) {
        out->kind = SF_T_MONEY;
    } else if (strcmp(w, "date") == 0) {
        out->kind = SF_T_DATE;
    } else if (strcmp(w, "timestamp") == 0) {
        out->kind = SF_T_TIMESTAMP;
        modifiers(&lx, &a, &b);
        time_zone(&lx, out, SF_T_TIMESTAMPTZ, SF_T_TIMESTAMP);
    } else if (strcmp(w, "timestamptz") == 0) {
        out->kind = SF_T_TIMESTAMPTZ;
        modifiers(&lx, &a, &b);
    } else if (strcmp(w, "boolean") == 0 || strcmp(w, "bool") == 0) {
        out->kind = SF_T_BOOL;
    } else if (strcmp(w, "uuid") == 0) {
        out->kind = SF_T_UUID;
    } else if (strcmp(w, "json") == 0) {
        out->kind = SF_T_JSON;
    } else if (strcmp(w, "jsonb") == 0) {
        out->kind = SF_T_JSONB;
    } else if (strcmp(w, "bytea") == 0) {
        out->kind = SF_T_BYTEA;
    } else if (strcmp(w, "time") == 0 || strcmp(w, "interval") == 0 || strcmp(w, "bit") == 0) {
        /* opaque, but consume the modifiers so an array suffix is still seen */
        modifiers(&lx, &a, &b);
        if (strcmp(w, "bit") == 0) {
            if (accept(&lx, "varying"))
                modifiers(&lx, &a, &b);
        } else {
            time_zone(&lx, out, SF_T_OPAQUE, SF_T_OPAQUE);
        }
    }
suffix:
    skip_ws(&lx);
    if (lx.pos < lx.len && lx.s[lx.pos] == '[')
        out->is_array = 1;
    else if (accept(&lx, "array"))
        out->is_array = 1;
}
