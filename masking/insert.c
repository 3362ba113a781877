/* INSERT ... VALUES statements: head, tuples, masked literals. */
#include <stdlib.h>
#include <string.h>
#include "insert.h"

void sf_insert_init(sf_insert *ins)
{
    memset(ins, 0, sizeof(*ins));
    sf_buf_init(&ins->schema, 0);
    sf_buf_init(&ins->table, 0);
    sf_buf_init(&ins->names, 0);
    sf_buf_init(&ins->scratch, 0);
}

void sf_insert_free(sf_insert *ins)
{
    if (!ins)
        return;
    sf_buf_free(&ins->schema);
    sf_buf_free(&ins->table);
    sf_buf_free(&ins->names);
    sf_buf_free(&ins->scratch);
    free(ins->cols);
    free(ins->vals);
    memset(ins, 0, sizeof(*ins));
}

static int is_name(const sf_tok *t)
{
    return t->kind == SF_TOK_WORD || t->kind == SF_TOK_QIDENT;
}

int sf_insert_head(sf_insert *ins, const char *stmt, size_t len, const char *default_schema, int scs,
                   const char **why)
{
    sf_lexer *lx = &ins->lx;
    sf_buf name = SF_BUF_INIT;
    sf_tok t;
    size_t off;
    int rc = -1;
    sf_lex_init(lx, stmt, len, scs);
    sf_buf_clear(&ins->names);
    ins->ncols = 0;
    ins->has_list = 0;
    ins->nvals = 0;
    ins->tuple_start = ins->tuple_end = 0;
    *why = "cannot read the INSERT statement";
    if (!(sf_lex_next(lx, &t) == SF_TOK_WORD && sf_tok_word(lx, &t, "insert")) ||
        !(sf_lex_next(lx, &t) == SF_TOK_WORD && sf_tok_word(lx, &t, "into")))
        goto out;
    if (sf_lex_next(lx, &t) == SF_TOK_EOF || !is_name(&t) || sf_tok_ident(&ins->table, lx, &t) < 0)
        goto out;
    sf_lex_peek(lx, &t);
    if (sf_tok_op(lx, &t, ".")) {
        sf_lex_next(lx, &t);
        if (sf_buf_set(&ins->schema, ins->table.ptr, ins->table.len) < 0)
            goto out;
        if (sf_lex_next(lx, &t) == SF_TOK_EOF || !is_name(&t) || sf_tok_ident(&ins->table, lx, &t) < 0)
            goto out;
    } else if (sf_buf_sets(&ins->schema, default_schema) < 0) {
        goto out;
    }
    sf_lex_next(lx, &t);
    if (sf_tok_op(lx, &t, "(")) {
        ins->has_list = 1;
        for (;;) {
            if (sf_lex_next(lx, &t) == SF_TOK_EOF || !is_name(&t) || sf_tok_ident(&name, lx, &t) < 0)
                goto out;
            if (sf_buf_add(&ins->names, name.ptr, name.len + 1) < 0)
                goto out;
            ins->ncols++;
            sf_lex_next(lx, &t);
            if (sf_tok_op(lx, &t, ")"))
                break;
            if (!sf_tok_op(lx, &t, ","))
                goto out;
        }
        sf_lex_next(lx, &t);
    }
    if (ins->ncols > ins->cols_cap) {
        size_t cap = ins->ncols < 16 ? 16 : ins->ncols;
        const char **c = realloc(ins->cols, cap * sizeof(*c));
        if (!c)
            goto out;
        ins->cols = c;
        ins->cols_cap = cap;
    }
    off = 0;
    for (size_t i = 0; i < ins->ncols; i++) {
        ins->cols[i] = ins->names.ptr + off;
        off += strlen(ins->names.ptr + off) + 1;
    }
    if (sf_tok_word(lx, &t, "overriding")) { /* OVERRIDING SYSTEM|USER VALUE */
        sf_lex_next(lx, &t);
        sf_lex_next(lx, &t);
        sf_lex_next(lx, &t);
    }
    if (!sf_tok_word(lx, &t, "values")) {
        rc = 1; /* DEFAULT VALUES, SELECT ... */
        goto out;
    }
    rc = 0;
out:
    sf_buf_free(&name);
    return rc;
}

static int push_val(sf_insert *ins, const sf_insval *v)
{
    if (ins->nvals == ins->vcap) {
        size_t cap = ins->vcap ? ins->vcap * 2 : 16;
        sf_insval *n = realloc(ins->vals, cap * sizeof(*n));
        if (!n)
            return -1;
        ins->vals = n;
        ins->vcap = cap;
    }
    ins->vals[ins->nvals++] = *v;
    return 0;
}

/* Classify the tokens of one value [first .. last] (n tokens) and store its real value. */
static int classify(sf_insert *ins, sf_insval *v, const sf_tok *first, const sf_tok *second, size_t n,
                    int cast_after_first, const char **why)
{
    sf_lexer *lx = &ins->lx;
    const char *s = lx->s;
    v->off = ins->scratch.len;
    v->len = 0;
    v->lit_end = v->end;
    if (n == 1 && first->kind == SF_TOK_WORD) {
        if (sf_tok_word(lx, first, "null")) {
            v->kind = SF_IV_NULL;
            return 0;
        }
        if (sf_tok_word(lx, first, "default")) {
            v->kind = SF_IV_DEFAULT;
            return 0;
        }
        if (sf_tok_word(lx, first, "true") || sf_tok_word(lx, first, "false")) {
            v->kind = SF_IV_BOOL;
            v->len = 1;
            return sf_buf_addc(&ins->scratch, sf_tok_word(lx, first, "true") ? 't' : 'f');
        }
    }
    if ((n == 1 && first->kind == SF_TOK_NUMBER) ||
        (n == 2 && (sf_tok_op(lx, first, "-") || sf_tok_op(lx, first, "+")) && second->kind == SF_TOK_NUMBER &&
         second->start == first->end)) {
        v->kind = SF_IV_NUMBER;
        v->len = v->end - v->start;
        return sf_buf_add(&ins->scratch, s + v->start, v->len);
    }
    if (first->kind == SF_TOK_STRING && (first->prefix == 0 || first->prefix == 'E' || first->prefix == 'N') &&
        (n == 1 || cast_after_first)) {
        if (sf_sql_string_value(&ins->scratch, lx, first, why) < 0)
            return -1;
        v->kind = SF_IV_STRING;
        v->lit_end = first->end;
        v->len = ins->scratch.len - v->off;
        return 0;
    }
    v->kind = SF_IV_EXPR;
    v->len = v->end - v->start;
    return sf_buf_add(&ins->scratch, s + v->start, v->len);
}

int sf_insert_tuple(sf_insert *ins, const char **why, size_t *at)
{
    sf_lexer *lx = &ins->lx;
    sf_tok t;
    ins->nvals = 0;
    sf_buf_clear(&ins->scratch);
    sf_lex_peek(lx, &t);
    if (sf_tok_op(lx, &t, ",") && ins->tuple_end) { /* between tuples */
        sf_lex_next(lx, &t);
        sf_lex_peek(lx, &t);
    }
    if (!sf_tok_op(lx, &t, "(")) {
        if (t.kind == SF_TOK_ERROR) {
            *why = "unterminated string or comment";
            *at = t.start;
            return -1;
        }
        if (!ins->tuple_end) {
            *why = "VALUES is not followed by a tuple";
            *at = t.start;
            return -1;
        }
        return 0;
    }
    sf_lex_next(lx, &t);
    ins->tuple_start = t.start;
    for (;;) {
        sf_insval v;
        sf_tok first, second, tk;
        size_t n = 0;
        int depth = 0, cast_after_first = 0, closed = 0;
        memset(&v, 0, sizeof(v));
        memset(&first, 0, sizeof(first));
        memset(&second, 0, sizeof(second));
        for (;;) {
            sf_tok_kind k = sf_lex_next(lx, &tk);
            if (k == SF_TOK_EOF || k == SF_TOK_ERROR) {
                *why = k == SF_TOK_EOF ? "unterminated VALUES tuple" : "unterminated string or comment";
                *at = tk.start;
                return -1;
            }
            if (depth == 0 && (sf_tok_op(lx, &tk, ",") || sf_tok_op(lx, &tk, ")"))) {
                closed = sf_tok_op(lx, &tk, ")");
                break;
            }
            if (sf_tok_op(lx, &tk, "(") || sf_tok_op(lx, &tk, "["))
                depth++;
            else if (sf_tok_op(lx, &tk, ")") || sf_tok_op(lx, &tk, "]"))
                depth--;
            if (n == 0) {
                first = tk;
                v.start = tk.start;
            } else if (n == 1) {
                second = tk;
                cast_after_first = sf_tok_op(lx, &tk, "::");
            } else if (cast_after_first && !(tk.kind == SF_TOK_WORD || tk.kind == SF_TOK_QIDENT ||
                                             tk.kind == SF_TOK_NUMBER || sf_tok_op(lx, &tk, ".") ||
                                             sf_tok_op(lx, &tk, "(") || sf_tok_op(lx, &tk, ")") ||
                                             sf_tok_op(lx, &tk, "[") || sf_tok_op(lx, &tk, "]") ||
                                             sf_tok_op(lx, &tk, ",") || sf_tok_op(lx, &tk, "::"))) {
                cast_after_first = 0; /* more than a type name follows: an expression */
            }
            v.end = tk.end;
            n++;
        }
        if (n == 0) {
            *why = "empty value in VALUES tuple";
            *at = tk.start;
            return -1;
        }
        if (classify(ins, &v, &first, &second, n, cast_after_first, why) < 0 || push_val(ins, &v) < 0) {
            *at = v.start;
            return -1;
        }
        if (closed) {
            ins->tuple_end = tk.end;
            return 1;
        }
    }
}

static int numeric_text(const char *v, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (v[i] == '-' || v[i] == '+'))
        i++;
    while (i < len && v[i] >= '0' && v[i] <= '9')
        i++, digits++;
    if (i < len && v[i] == '.') {
        i++;
        while (i < len && v[i] >= '0' && v[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return 0;
    if (i < len && (v[i] == 'e' || v[i] == 'E')) {
        size_t d = 0;
        i++;
        if (i < len && (v[i] == '-' || v[i] == '+'))
            i++;
        while (i < len && v[i] >= '0' && v[i] <= '9')
            i++, d++;
        if (!d)
            return 0;
    }
    return i == len;
}

int sf_insert_render(sf_buf *out, const char *value, size_t len, int null, const sf_insval *orig,
                     const char *stmt, int scs)
{
    if (null)
        return sf_buf_adds(out, "NULL");
    if (orig->kind == SF_IV_NUMBER && numeric_text(value, len))
        return sf_buf_add(out, value, len);
    if (orig->kind == SF_IV_BOOL && len == 1 && (value[0] == 't' || value[0] == 'f'))
        return sf_buf_adds(out, value[0] == 't' ? "true" : "false");
    if (sf_sql_string_literal(out, value, len, scs) < 0)
        return -1;
    if (orig->kind == SF_IV_STRING && orig->end > orig->lit_end)
        return sf_buf_add(out, stmt + orig->lit_end, orig->end - orig->lit_end);
    return 0;
}
