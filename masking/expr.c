/* `expr` rule: recursive-descent parser to a postfix program, exact evaluation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "sqlident.h"

#define EXPR_MAX_OPS 256
#define EXPR_MAX_DEPTH 64

typedef enum { OP_CONST, OP_REF, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG } op_kind;

typedef struct {
    op_kind kind;
    size_t ref;    /* OP_REF */
    sf_dec val;    /* OP_CONST */
    sf_sdec sval;  /* OP_CONST as a small decimal, when small is set */
    int small;
} op;

struct sf_expr {
    op ops[EXPR_MAX_OPS];
    size_t nops;
    char **refs;
    size_t nrefs;
};

typedef struct {
    const char *s;
    size_t len, pos;
    int depth;
    sf_expr *e;    /* NULL: syntax check only */
    size_t nops;   /* counted even without e, for the size limit */
    const char *msg;
    int nomem;
    sf_buf ident;
} parser;

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r'))
        p->pos++;
}

static int fail(parser *p, const char *msg)
{
    if (!p->msg)
        p->msg = msg;
    return -1;
}

static int emit(parser *p, op_kind kind, const sf_dec *val, const char *name)
{
    if (p->nops >= EXPR_MAX_OPS)
        return fail(p, "expression too long");
    if (p->e) {
        op *o = &p->e->ops[p->e->nops++];
        o->kind = kind;
        if (val)
            o->val = *val;
        if (name) {
            size_t i;
            for (i = 0; i < p->e->nrefs; i++)
                if (strcmp(p->e->refs[i], name) == 0)
                    break;
            if (i == p->e->nrefs) {
                char **r = realloc(p->e->refs, (i + 1) * sizeof(*r));
                if (!r || !(r[i] = strdup(name))) {
                    if (r)
                        p->e->refs = r;
                    p->nomem = 1;
                    return fail(p, "out of memory");
                }
                p->e->refs = r;
                p->e->nrefs++;
            }
            o->ref = i;
        }
    }
    p->nops++;
    return 0;
}

static int parse_sum(parser *p);

static int parse_primary(parser *p)
{
    char c;
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, "expected a number, a column or '('");
    c = p->s[p->pos];
    if (c == '(') {
        p->pos++;
        if (parse_sum(p) < 0)
            return -1;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ')')
            return fail(p, "expected ')'");
        p->pos++;
        return 0;
    }
    if ((c >= '0' && c <= '9') || c == '.') {
        size_t start = p->pos;
        sf_dec d;
        while (p->pos < p->len && ((p->s[p->pos] >= '0' && p->s[p->pos] <= '9') || p->s[p->pos] == '.'))
            p->pos++;
        if (sf_dec_parse(&d, p->s + start, p->pos - start) != SF_DEC_OK) {
            p->pos = start;
            return fail(p, "malformed number");
        }
        if (emit(p, OP_CONST, &d, NULL) < 0)
            return -1;
        if (p->e) {
            op *o = &p->e->ops[p->e->nops - 1];
            o->small = sf_sdec_parse(&o->sval, p->s + start, p->pos - start);
        }
        return 0;
    }
    {
        size_t start = p->pos;
        if (sf_ident_next(&p->ident, p->s, p->len, &p->pos) < 0) {
            p->pos = start;
            return fail(p, "expected a number, a column or '('");
        }
        return emit(p, OP_REF, NULL, p->ident.ptr);
    }
}

static int parse_unary(parser *p)
{
    skip_ws(p);
    if (p->pos < p->len && (p->s[p->pos] == '-' || p->s[p->pos] == '+')) {
        int neg = p->s[p->pos] == '-';
        if (++p->depth > EXPR_MAX_DEPTH)
            return fail(p, "expression nested too deeply");
        p->pos++;
        if (parse_unary(p) < 0)
            return -1;
        p->depth--;
        return neg ? emit(p, OP_NEG, NULL, NULL) : 0;
    }
    return parse_primary(p);
}

static int parse_product(parser *p)
{
    if (parse_unary(p) < 0)
        return -1;
    for (;;) {
        char c;
        skip_ws(p);
        if (p->pos >= p->len)
            return 0;
        c = p->s[p->pos];
        if (c != '*' && c != '/')
            return 0;
        p->pos++;
        if (parse_unary(p) < 0 || emit(p, c == '*' ? OP_MUL : OP_DIV, NULL, NULL) < 0)
            return -1;
    }
}

static int parse_sum(parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH)
        return fail(p, "expression nested too deeply");
    if (parse_product(p) < 0)
        return -1;
    for (;;) {
        char c;
        skip_ws(p);
        if (p->pos >= p->len)
            break;
        c = p->s[p->pos];
        if (c != '+' && c != '-')
            break;
        p->pos++;
        if (parse_product(p) < 0 || emit(p, c == '+' ? OP_ADD : OP_SUB, NULL, NULL) < 0)
            return -1;
    }
    p->depth--;
    return 0;
}

static int run(parser *p, size_t *at, char *msg, size_t msgcap)
{
    int rc = parse_sum(p);
    if (rc == 0) {
        skip_ws(p);
        if (p->pos < p->len)
            rc = fail(p, "expected an operator (+ - * /) or the end");
    }
    if (rc < 0) {
        *at = p->pos;
        snprintf(msg, msgcap, "%s", p->msg ? p->msg : "syntax error");
    }
    sf_buf_free(&p->ident);
    return rc < 0 ? (p->nomem ? -2 : -1) : 0;
}

int sf_expr_check_syntax(const char *text, size_t len, size_t *at, char *msg, size_t msgcap)
{
    parser p = {text, len, 0, 0, NULL, 0, NULL, 0, SF_BUF_INIT};
    return run(&p, at, msg, msgcap) == 0 ? 0 : -1;
}

int sf_expr_parse(sf_expr **out, const char *text, size_t len, size_t *at, char *msg, size_t msgcap)
{
    parser p = {text, len, 0, 0, NULL, 0, NULL, 0, SF_BUF_INIT};
    int rc;
    *out = NULL;
    if (!(p.e = calloc(1, sizeof(*p.e)))) {
        snprintf(msg, msgcap, "out of memory");
        *at = 0;
        return -2;
    }
    if ((rc = run(&p, at, msg, msgcap)) < 0) {
        sf_expr_free(p.e);
        return rc;
    }
    *out = p.e;
    return 0;
}

void sf_expr_free(sf_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nrefs; i++)
        free(e->refs[i]);
    free(e->refs);
    free(e);
}

size_t sf_expr_nrefs(const sf_expr *e)
{
    return e->nrefs;
}

const char *sf_expr_ref(const sf_expr *e, size_t i)
{
    return i < e->nrefs ? e->refs[i] : NULL;
}

int sf_expr_product(const sf_expr *e, sf_expr_operand *x, sf_expr_operand *y)
{
    sf_expr_operand *xy[2] = {x, y};
    if (e->nops != 3 || e->ops[2].kind != OP_MUL)
        return 0;
    for (int i = 0; i < 2; i++) {
        const op *o = &e->ops[i];
        if (o->kind == OP_REF) {
            xy[i]->ref = o->ref;
            xy[i]->cval = NULL;
        } else if (o->kind == OP_CONST && o->small) {
            xy[i]->ref = SIZE_MAX;
            xy[i]->cval = &o->sval;
        } else {
            return 0;
        }
    }
    return 1;
}

int sf_expr_eval(const sf_expr *e, const sf_dec *vals, int div_scale, sf_dec *out)
{
    sf_dec stack[EXPR_MAX_OPS];
    size_t sp = 0;
    int rc = 0;
    for (size_t i = 0; i < e->nops; i++) {
        const op *o = &e->ops[i];
        switch (o->kind) {
        case OP_CONST:
            stack[sp++] = o->val;
            break;
        case OP_REF:
            stack[sp++] = vals[o->ref];
            break;
        case OP_NEG:
            if (!sf_dec_is_zero(&stack[sp - 1]))
                stack[sp - 1].neg = !stack[sp - 1].neg;
            break;
        default: {
            sf_dec *a = &stack[sp - 2], *b = &stack[sp - 1];
            switch (o->kind) {
            case OP_ADD:
                rc = sf_dec_add(a, a, b);
                break;
            case OP_SUB:
                rc = sf_dec_sub(a, a, b);
                break;
            case OP_MUL:
                rc = sf_dec_mul(a, a, b);
                break;
            default: {
                int scale = div_scale;
                if (a->scale > scale)
                    scale = a->scale;
                if (b->scale > scale)
                    scale = b->scale;
                rc = sf_dec_div(a, a, b, scale);
                break;
            }
            }
            sp--;
            if (rc)
                return rc;
        }
        }
    }
    *out = stack[0];
    return SF_DEC_OK;
}

int sf_expr_eval_small(const sf_expr *e, const sf_sdec *vals, sf_sdec *out)
{
    sf_sdec stack[EXPR_MAX_OPS];
    size_t sp = 0;
    for (size_t i = 0; i < e->nops; i++) {
        const op *o = &e->ops[i];
        switch (o->kind) {
        case OP_CONST:
            if (!o->small)
                return -1;
            stack[sp++] = o->sval;
            break;
        case OP_REF:
            stack[sp++] = vals[o->ref];
            break;
        case OP_NEG:
            stack[sp - 1].neg = !stack[sp - 1].neg && stack[sp - 1].mag != 0;
            break;
        case OP_DIV:
            return -1;
        default: {
            sf_sdec *a = &stack[sp - 2], *b = &stack[sp - 1];
            int rc = o->kind == OP_ADD ? sf_sdec_add(a, a, b) : o->kind == OP_SUB ? sf_sdec_sub(a, a, b) : sf_sdec_mul(a, a, b);
            if (rc < 0)
                return -1;
            sp--;
            break;
        }
        }
    }
    *out = stack[0];
    return 0;
}
