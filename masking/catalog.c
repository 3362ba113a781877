/* The DDL catalog: tables, column types, domains, search_path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "sqlident.h"
#include "sqltok.h"
#include "stagefork/error.h"

void sf_catalog_init(sf_catalog *c)
{
    memset(c, 0, sizeof(*c));
    sf_buf_init(&c->default_schema, 0);
}

static void table_free(sf_cattable *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
    }
    free(t->cols);
    free(t->schema);
    free(t->name);
    free(t);
}

void sf_catalog_free(sf_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ntables; i++)
        table_free(c->tables[i]);
    free(c->tables);
    free(c->slots);
    for (size_t i = 0; i < c->ndomains; i++) {
        free(c->domains[i].schema);
        free(c->domains[i].name);
        free(c->domains[i].base);
    }
    free(c->domains);
    sf_buf_free(&c->default_schema);
    memset(c, 0, sizeof(*c));
}

const char *sf_catalog_default_schema(const sf_catalog *c)
{
    return c->default_schema.len ? c->default_schema.ptr : "public";
}

static uint64_t hash_name(const char *schema, const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = schema; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xFF) * 1099511628211ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Slot holding (schema, name) or the empty slot where it would go. */
static size_t find_slot(const sf_catalog *c, const char *schema, const char *name)
{
    size_t mask = c->nslots - 1, i = (size_t)hash_name(schema, name) & mask;
    while (c->slots[i]) {
        const sf_cattable *t = c->tables[c->slots[i] - 1];
        if (strcmp(t->schema, schema) == 0 && strcmp(t->name, name) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

const sf_cattable *sf_catalog_table(const sf_catalog *c, const char *schema, const char *name)
{
    size_t i;
    if (!c->nslots)
        return NULL;
    i = find_slot(c, schema, name);
    return c->slots[i] ? c->tables[c->slots[i] - 1] : NULL;
}

const sf_catcol *sf_cattable_col(const sf_cattable *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

static int rehash(sf_catalog *c, size_t nslots)
{
    size_t *s = calloc(nslots, sizeof(*s));
    if (!s)
        return SF_ENOMEM;
    free(c->slots);
    c->slots = s;
    c->nslots = nslots;
    for (size_t k = 0; k < c->ntables; k++) {
        size_t i = find_slot(c, c->tables[k]->schema, c->tables[k]->name);
        c->slots[i] = k + 1;
    }
    return 0;
}

/* Add t (taking ownership); a table of the same name is replaced. */
static int add_table(sf_catalog *c, sf_cattable *t)
{
    size_t i;
    if ((c->ntables + 1) * 2 > c->nslots && rehash(c, c->nslots ? c->nslots * 2 : 64) < 0)
        goto nomem;
    i = find_slot(c, t->schema, t->name);
    if (c->slots[i]) {
        table_free(c->tables[c->slots[i] - 1]);
        c->tables[c->slots[i] - 1] = t;
        return 0;
    }
    if (c->ntables == c->tcap) {
        size_t cap = c->tcap ? c->tcap * 2 : 32;
        sf_cattable **n = realloc(c->tables, cap * sizeof(*n));
        if (!n)
            goto nomem;
        c->tables = n;
        c->tcap = cap;
    }
    c->tables[c->ntables++] = t;
    c->slots[i] = c->ntables;
    return 0;
nomem:
    table_free(t);
    return SF_ENOMEM;
}

static int add_col(sf_cattable *t, size_t *cap, const char *name, size_t nlen, const char *type, size_t tlen,
                   int generated)
{
    sf_catcol *col;
    for (size_t i = 0; i < t->ncols; i++) /* a local redefinition of an inherited column */
        if (strlen(t->cols[i].name) == nlen && memcmp(t->cols[i].name, name, nlen) == 0)
            return 0;
    if (t->ncols == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        sf_catcol *n = realloc(t->cols, nc * sizeof(*n));
        if (!n)
            return SF_ENOMEM;
        t->cols = n;
        *cap = nc;
    }
    col = &t->cols[t->ncols];
    col->name = strndup(name, nlen);
    col->type = strndup(type, tlen);
    col->generated = generated;
    if (!col->name || !col->type) {
        free(col->name);
        free(col->type);
        return SF_ENOMEM;
    }
    t->ncols++;
    return 0;
}

static int is_name(const sf_tok *t)
{
    return t->kind == SF_TOK_WORD || t->kind == SF_TOK_QIDENT;
}

/* Read a possibly qualified name at the lexer; 0 or -1. */
static int read_qualified(sf_lexer *lx, sf_buf *schema, sf_buf *name, const char *default_schema)
{
    sf_tok t;
    if (sf_lex_next(lx, &t) == SF_TOK_EOF || !is_name(&t) || sf_tok_ident(name, lx, &t) < 0)
        return -1;
    sf_lex_peek(lx, &t);
    if (sf_tok_op(lx, &t, ".")) {
        sf_lex_next(lx, &t);
        if (sf_buf_set(schema, name->ptr, name->len) < 0)
            return -1;
        if (sf_lex_next(lx, &t) == SF_TOK_EOF || !is_name(&t) || sf_tok_ident(name, lx, &t) < 0)
            return -1;
        return 0;
    }
    return sf_buf_sets(schema, default_schema) < 0 ? -1 : 0;
}

static const char *const type_stop[] = {
    "collate", "constraint", "not", "null", "default", "check", "unique", "primary", "references",
    "generated", "compression", "storage", "deferrable", "initially", NULL};

/* t ends a column's type; lx is positioned just after t. */
static int is_stop(const sf_lexer *lx, const sf_tok *t)
{
    if (sf_tok_word(lx, t, "with")) {
        /* "WITH OPTIONS" (typed tables) ends the type, "with time zone" does not */
        sf_tok nx;
        sf_lex_peek(lx, &nx);
        return sf_tok_word(lx, &nx, "options");
    }
    for (int i = 0; type_stop[i]; i++)
        if (sf_tok_word(lx, t, type_stop[i]))
            return 1;
    return 0;
}

/* Copy parent's columns into t (INHERITS / PARTITION OF). */
static int inherit(sf_catalog *c, sf_cattable *t, size_t *cap, const char *schema, const char *name)
{
    const sf_cattable *p = sf_catalog_table(c, schema, name);
    if (!p)
        return 0;
    for (size_t i = 0; i < p->ncols; i++) {
        int rc = add_col(t, cap, p->cols[i].name, strlen(p->cols[i].name), p->cols[i].type,
                         strlen(p->cols[i].type), p->cols[i].generated);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * One column definition, from its first token up to the ',' or ')' that
 * ends it. Table constraints are skipped. 0, 1 at a premature end, SF_ENOMEM.
 */
static int column_def(sf_cattable *t, size_t *cap, sf_lexer *lx, sf_tok *first, sf_buf *name, int *end_paren)
{
    static const char *const constraints[] = {"constraint", "check", "unique", "primary", "foreign",
                                              "exclude", "like", NULL};
    sf_tok tk;
    size_t tstart = 0, tend = 0;
    int depth = 0, in_type = 1, generated = 0, is_constraint = 0, have_type = 0;
    for (int i = 0; constraints[i]; i++)
        if (sf_tok_word(lx, first, constraints[i]))
            is_constraint = 1;
    if (!is_constraint && sf_tok_ident(name, lx, first) < 0)
        is_constraint = 1;
    for (;;) {
        sf_tok_kind k = sf_lex_next(lx, &tk);
        if (k == SF_TOK_EOF || k == SF_TOK_ERROR)
            return 1;
        if (depth == 0 && (sf_tok_op(lx, &tk, ",") || sf_tok_op(lx, &tk, ")"))) {
            *end_paren = sf_tok_op(lx, &tk, ")");
            break;
        }
        if (sf_tok_op(lx, &tk, "(") || sf_tok_op(lx, &tk, "["))
            depth++;
        else if ((sf_tok_op(lx, &tk, ")") || sf_tok_op(lx, &tk, "]")) && depth > 0)
            depth--;
        if (depth == 0 && in_type && is_stop(lx, &tk))
            in_type = 0;
        if (in_type) {
            if (!have_type)
                tstart = tk.start;
            tend = tk.end;
            have_type = 1;
        }
        if (depth == 0 && sf_tok_word(lx, &tk, "generated")) {
            /* GENERATED ALWAYS AS ( expr ) STORED vs. AS IDENTITY */
            sf_lexer probe = *lx;
            sf_tok p;
            while (sf_lex_next(&probe, &p) == SF_TOK_WORD && !sf_tok_word(&probe, &p, "as"))
                ;
            if (sf_tok_word(&probe, &p, "as") && sf_lex_next(&probe, &p) == SF_TOK_OP &&
                sf_tok_op(&probe, &p, "("))
                generated = 1;
        }
    }
    if (is_constraint || !have_type)
        return 0;
    return add_col(t, cap, name->ptr, name->len, lx->s + tstart, tend - tstart, generated);
}

static int create_table(sf_catalog *c, sf_lexer *lx)
{
    sf_buf schema = SF_BUF_INIT, name = SF_BUF_INIT, col = SF_BUF_INIT;
    sf_cattable *t = calloc(1, sizeof(*t));
    size_t cap = 0;
    sf_tok tk;
    int rc = 0;
    if (!t)
        return SF_ENOMEM;
    sf_lex_peek(lx, &tk);
    if (sf_tok_word(lx, &tk, "if")) { /* IF NOT EXISTS */
        sf_lex_next(lx, &tk);
        sf_lex_next(lx, &tk);
        sf_lex_next(lx, &tk);
    }
    if (read_qualified(lx, &schema, &name, sf_catalog_default_schema(c)) < 0)
        goto skip;
    if (!(t->schema = strdup(schema.ptr)) || !(t->name = strdup(name.ptr))) {
        rc = SF_ENOMEM;
        goto skip;
    }
    sf_lex_next(lx, &tk);
    if (sf_tok_word(lx, &tk, "partition")) { /* PARTITION OF parent */
        sf_lex_next(lx, &tk);
        if (read_qualified(lx, &schema, &name, sf_catalog_default_schema(c)) < 0)
            goto skip;
        if ((rc = inherit(c, t, &cap, schema.ptr, name.ptr)) < 0)
            goto skip;
        sf_lex_next(lx, &tk);
    } else if (sf_tok_word(lx, &tk, "of")) { /* OF type: columns come from the type */
        while (tk.kind != SF_TOK_EOF && !sf_tok_op(lx, &tk, "(") && !sf_tok_op(lx, &tk, ";"))
            sf_lex_next(lx, &tk);
    }
    if (sf_tok_op(lx, &tk, "(")) {
        sf_lexer probe = *lx;
        int end_paren = 0;
        /* INHERITS comes after the element list but its columns come first */
        {
            int depth = 1;
            sf_tok p;
            while (depth > 0 && sf_lex_next(&probe, &p) != SF_TOK_EOF && p.kind != SF_TOK_ERROR) {
                if (sf_tok_op(&probe, &p, "("))
                    depth++;
                else if (sf_tok_op(&probe, &p, ")"))
                    depth--;
            }
            sf_lex_next(&probe, &p);
            if (sf_tok_word(&probe, &p, "inherits") && sf_lex_next(&probe, &p) == SF_TOK_OP) {
                for (;;) {
                    if (read_qualified(&probe, &schema, &name, sf_catalog_default_schema(c)) < 0)
                        break;
                    if ((rc = inherit(c, t, &cap, schema.ptr, name.ptr)) < 0)
                        goto skip;
                    if (sf_lex_next(&probe, &p) != SF_TOK_OP || !sf_tok_op(&probe, &p, ","))
                        break;
                }
            }
        }
        sf_lex_peek(lx, &tk);
        if (sf_tok_op(lx, &tk, ")"))
            sf_lex_next(lx, &tk);
        else {
            while (!end_paren) {
                if (sf_lex_next(lx, &tk) == SF_TOK_EOF || tk.kind == SF_TOK_ERROR)
                    break;
                rc = column_def(t, &cap, lx, &tk, &col, &end_paren);
                if (rc < 0)
                    goto skip;
                if (rc > 0) { /* truncated: keep what was read */
                    rc = 0;
                    break;
                }
            }
        }
    }
    sf_buf_free(&schema);
    sf_buf_free(&name);
    sf_buf_free(&col);
    return add_table(c, t);
skip:
    table_free(t);
    sf_buf_free(&schema);
    sf_buf_free(&name);
    sf_buf_free(&col);
    return rc;
}

static int create_domain(sf_catalog *c, sf_lexer *lx)
{
    sf_buf schema = SF_BUF_INIT, name = SF_BUF_INIT;
    sf_tok tk;
    size_t tstart = 0, tend = 0;
    int have = 0, rc = 0, depth = 0;
    sf_catdomain *d;
    if (read_qualified(lx, &schema, &name, sf_catalog_default_schema(c)) < 0)
        goto out;
    sf_lex_peek(lx, &tk);
    if (sf_tok_word(lx, &tk, "as"))
        sf_lex_next(lx, &tk);
    for (;;) {
        sf_tok_kind k = sf_lex_next(lx, &tk);
        if (k == SF_TOK_EOF || k == SF_TOK_ERROR || (depth == 0 && sf_tok_op(lx, &tk, ";")))
            break;
        if (sf_tok_op(lx, &tk, "("))
            depth++;
        else if (sf_tok_op(lx, &tk, ")") && depth > 0)
            depth--;
        if (depth == 0 && is_stop(lx, &tk))
            break;
        if (!have)
            tstart = tk.start;
        tend = tk.end;
        have = 1;
    }
    if (!have)
        goto out;
    if (c->ndomains == c->dcap) {
        size_t cap = c->dcap ? c->dcap * 2 : 8;
        sf_catdomain *n = realloc(c->domains, cap * sizeof(*n));
        if (!n) {
            rc = SF_ENOMEM;
            goto out;
        }
        c->domains = n;
        c->dcap = cap;
    }
    d = &c->domains[c->ndomains];
    d->schema = strdup(schema.ptr);
    d->name = strdup(name.ptr);
    d->base = strndup(lx->s + tstart, tend - tstart);
    if (!d->schema || !d->name || !d->base) {
        free(d->schema);
        free(d->name);
        free(d->base);
        rc = SF_ENOMEM;
        goto out;
    }
    c->ndomains++;
out:
    sf_buf_free(&schema);
    sf_buf_free(&name);
    return rc;
}

int sf_catalog_ddl(sf_catalog *c, const char *sql, size_t len, int scs)
{
    sf_lexer lx;
    sf_tok t;
    sf_lex_init(&lx, sql, len, scs);
    if (sf_lex_next(&lx, &t) != SF_TOK_WORD || !sf_tok_word(&lx, &t, "create"))
        return 0;
    for (;;) {
        if (sf_lex_next(&lx, &t) != SF_TOK_WORD)
            return 0;
        if (sf_tok_word(&lx, &t, "table"))
            return create_table(c, &lx);
        if (sf_tok_word(&lx, &t, "domain"))
            return create_domain(c, &lx);
        if (!(sf_tok_word(&lx, &t, "unlogged") || sf_tok_word(&lx, &t, "foreign") ||
              sf_tok_word(&lx, &t, "global") || sf_tok_word(&lx, &t, "local") ||
              sf_tok_word(&lx, &t, "temp") || sf_tok_word(&lx, &t, "temporary")))
            return 0;
    }
}

/* Pick the first schema of a search_path list that names a real schema for creation. */
static int usable_schema(const char *s)
{
    return *s && strcmp(s, "pg_catalog") != 0 && strcmp(s, "$user") != 0 && strcmp(s, "pg_temp") != 0;
}

/* Parse "a, \"B\", c" (the value of set_config's second argument). */
static int path_from_list(sf_catalog *c, const char *s, size_t len)
{
    sf_buf item = SF_BUF_INIT;
    size_t pos = 0;
    int rc = 0;
    sf_buf_clear(&c->default_schema);
    while (pos < len) {
        if (sf_ident_next(&item, s, len, &pos) < 0)
            break;
        if (usable_schema(item.ptr)) {
            rc = sf_buf_set(&c->default_schema, item.ptr, item.len) < 0 ? SF_ENOMEM : 0;
            break;
        }
        while (pos < len && s[pos] != ',')
            pos++;
        pos++;
    }
    sf_buf_free(&item);
    return rc;
}

int sf_catalog_search_path(sf_catalog *c, const char *sql, size_t len, int scs)
{
    sf_lexer lx;
    sf_tok t;
    sf_buf v = SF_BUF_INIT;
    int rc = 1;
    sf_lex_init(&lx, sql, len, scs);
    sf_lex_next(&lx, &t);
    if (sf_tok_word(&lx, &t, "set")) {
        sf_lex_next(&lx, &t);
        if (sf_tok_word(&lx, &t, "session") || sf_tok_word(&lx, &t, "local"))
            sf_lex_next(&lx, &t);
        if (!sf_tok_word(&lx, &t, "search_path"))
            return 0;
        sf_lex_next(&lx, &t);
        if (!(sf_tok_op(&lx, &t, "=") || sf_tok_word(&lx, &t, "to")))
            return 0;
        sf_buf_clear(&c->default_schema);
        while (sf_lex_next(&lx, &t) != SF_TOK_EOF && t.kind != SF_TOK_ERROR && !sf_tok_op(&lx, &t, ";")) {
            const char *why;
            sf_buf_clear(&v);
            if (sf_tok_word(&lx, &t, "default"))
                break;
            if (t.kind == SF_TOK_STRING) {
                if (sf_sql_string_value(&v, &lx, &t, &why) < 0)
                    break;
            } else if (is_name(&t)) {
                if (sf_tok_ident(&v, &lx, &t) < 0)
                    break;
            } else {
                continue;
            }
            if (usable_schema(v.ptr)) {
                if (sf_buf_set(&c->default_schema, v.ptr, v.len) < 0)
                    rc = SF_ENOMEM;
                break;
            }
        }
        sf_buf_free(&v);
        return rc;
    }
    if (sf_tok_word(&lx, &t, "select")) {
        const char *why;
        sf_lex_next(&lx, &t);
        if (sf_tok_word(&lx, &t, "pg_catalog")) {
            sf_lex_next(&lx, &t);
            if (!sf_tok_op(&lx, &t, "."))
                return 0;
            sf_lex_next(&lx, &t);
        }
        if (!sf_tok_word(&lx, &t, "set_config"))
            return 0;
        if (sf_lex_next(&lx, &t) != SF_TOK_OP || !sf_tok_op(&lx, &t, "("))
            return 0;
        if (sf_lex_next(&lx, &t) != SF_TOK_STRING || sf_sql_string_value(&v, &lx, &t, &why) < 0 ||
            strcmp(v.ptr, "search_path") != 0) {
            sf_buf_free(&v);
            return 0;
        }
        sf_buf_clear(&v);
        if (sf_lex_next(&lx, &t) != SF_TOK_OP || !sf_tok_op(&lx, &t, ",") ||
            sf_lex_next(&lx, &t) != SF_TOK_STRING || sf_sql_string_value(&v, &lx, &t, &why) < 0) {
            sf_buf_free(&v);
            return 0;
        }
        if (path_from_list(c, v.ptr, v.len) < 0)
            rc = SF_ENOMEM;
        sf_buf_free(&v);
        return rc;
    }
    return 0;
}

static const sf_catdomain *find_domain(const sf_catalog *c, const char *schema, const char *name)
{
    for (size_t i = 0; i < c->ndomains; i++)
        if (strcmp(c->domains[i].name, name) == 0 && strcmp(c->domains[i].schema, schema) == 0)
            return &c->domains[i];
    return NULL;
}

const char *sf_catalog_resolve_type(const sf_catalog *c, const char *type, int *is_array)
{
    sf_buf schema = SF_BUF_INIT, name = SF_BUF_INIT;
    const char *cur = type;
    *is_array = 0;
    for (int hops = 0; hops < 16 && c->ndomains; hops++) {
        size_t len = strlen(cur);
        int arr = 0;
        const sf_catdomain *d;
        while (len >= 2 && cur[len - 1] == ']' && cur[len - 2] == '[') {
            len -= 2;
            arr = 1;
            while (len && cur[len - 1] == ' ')
                len--;
        }
        if (sf_ident_qualified(&schema, &name, cur, len, sf_catalog_default_schema(c)) < 0)
            break;
        d = find_domain(c, schema.ptr, name.ptr);
        if (!d && strcmp(schema.ptr, "public") != 0 && memchr(cur, '.', len) == NULL)
            d = find_domain(c, "public", name.ptr);
        if (!d)
            break;
        *is_array |= arr;
        cur = d->base;
    }
    sf_buf_free(&schema);
    sf_buf_free(&name);
    return cur;
}
