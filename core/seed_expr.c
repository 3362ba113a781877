/* Arithmetic expressions of seed specs: parsed once into postfix code, evaluated per use. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "seed_internal.h"

#define MAX_TEXT 1024
#define MAX_DEPTH 64

enum { OP_NUM, OP_SLOT, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_MIN, OP_MAX };

struct op {
    int kind;
    int slot;       /* OP_SLOT */
    int scale;      /* OP_NUM: digits after the point */
    double num;     /* OP_NUM */
    size_t pos;     /* offset in the text (for messages) */
};

struct seed_expr {
    const sf_node *node;
    struct op *ops;
    size_t nops, cap;
    size_t maxstack;
    int has_ident;
};

struct parser {
    const char *s;
    size_t len, pos;
    seed_expr *e;
    seed_ident_fn fn;
    void *ud;
    sf_error *err;
    int depth;
};

/* Column of text offset `pos` on the node's line (quoted scalars start one later). */
static unsigned col_of(const sf_node *n, size_t pos)
{
    return n->col + (n->plain ? 0u : 1u) + (unsigned)pos;
}

static int perr(struct parser *p, size_t pos, const char *fmt, const char *arg)
{
    char msg[256];
    const sf_node *n = p->e->node;
    snprintf(msg, sizeof(msg), fmt, arg);
    return sf_error_set(p->err, SF_ECONFIG, "%s:%u:%u: %s in expression '%s'", n->file ? n->file : "",
                        n->line, col_of(n, pos), msg, p->s);
}

static int emit(struct parser *p, struct op op)
{
    seed_expr *e = p->e;
    if (e->nops == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        struct op *o = realloc(e->ops, nc * sizeof(*o));
        if (!o)
            return sf_error_set(p->err, SF_ENOMEM, "out of memory");
        e->ops = o;
        e->cap = nc;
    }
    e->ops[e->nops++] = op;
    return 0;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int parse_sum(struct parser *p);

static int parse_number(struct parser *p)
{
    size_t start = p->pos;
    double v = 0;
    int scale = 0, digits = 0;
    struct op op = {OP_NUM, -1, 0, 0, start};
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        v = v * 10 + (p->s[p->pos++] - '0');
        digits++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        double f = 0.1;
        p->pos++;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            v += f * (p->s[p->pos++] - '0');
            f /= 10;
            scale++;
            digits++;
        }
    }
    if (!digits || digits > 30)
        return perr(p, start, "%s", digits ? "number too long" : "expected a number");
    if (p->pos < p->len && (is_ident_char(p->s[p->pos]) || p->s[p->pos] == '.'))
        return perr(p, p->pos, "unexpected '%.1s' after a number", p->s + p->pos);
    /* re-read with strtod for a correctly rounded value; the loop above only validated */
    {
        char tmp[64];
        size_t n = p->pos - start;
        memcpy(tmp, p->s + start, n);
        tmp[n] = '\0';
        v = strtod(tmp, NULL);
    }
    op.num = v;
    op.scale = scale;
    return emit(p, op);
}

/* min(a, b, ...) / max(a, b, ...): the name is already consumed, p->pos is at '('. */
static int parse_call(struct parser *p, int kind, size_t start)
{
    int rc, nargs = 0;
    if (++p->depth > MAX_DEPTH)
        return perr(p, start, "%s", "too deeply nested");
    p->pos++;
    for (;;) {
        if ((rc = parse_sum(p)))
            return rc;
        if (nargs++) {
            struct op op = {kind, -1, 0, 0, start};
            if ((rc = emit(p, op)))
                return rc;
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ')') {
            p->pos++;
            break;
        }
        return perr(p, start, "%s", "unbalanced '(' in a function call");
    }
    if (nargs < 2)
        return perr(p, start, "%s", "min and max take two or more arguments");
    p->depth--;
    return 0;
}

static int parse_ident(struct parser *p)
{
    size_t start = p->pos;
    char name[256];
    size_t n = 0;
    int slot;
    struct op op = {OP_SLOT, 0, 0, 0, start};
    if (p->s[p->pos] == '"') {
        p->pos++;
        for (;;) {
            if (p->pos >= p->len)
                return perr(p, start, "%s", "unterminated quoted identifier");
            if (p->s[p->pos] == '"') {
                if (p->pos + 1 < p->len && p->s[p->pos + 1] == '"') {
                    p->pos++;
                } else {
                    p->pos++;
                    break;
                }
            }
            if (n + 1 >= sizeof(name))
                return perr(p, start, "%s", "identifier too long");
            name[n++] = p->s[p->pos++];
        }
        if (!n)
            return perr(p, start, "%s", "empty quoted identifier");
    } else {
        while (p->pos < p->len && is_ident_char(p->s[p->pos])) {
            if (n + 1 >= sizeof(name))
                return perr(p, start, "%s", "identifier too long");
            name[n++] = p->s[p->pos++];
        }
    }
    name[n] = '\0';
    if (p->s[start] != '"') {
        size_t q = p->pos;
        while (q < p->len && (p->s[q] == ' ' || p->s[q] == '\t'))
            q++;
        if (q < p->len && p->s[q] == '(') {
            if (strcmp(name, "min") && strcmp(name, "max"))
                return perr(p, start, "unknown function '%s' (there are min and max)", name);
            p->pos = q;
            return parse_call(p, name[1] == 'i' ? OP_MIN : OP_MAX, start);
        }
    }
    slot = p->fn ? p->fn(p->ud, name, n) : -1;
    if (slot < 0)
        return perr(p, start, "unknown name '%s'", name);
    op.slot = slot;
    p->e->has_ident = 1;
    return emit(p, op);
}

static int parse_primary(struct parser *p)
{
    char c;
    skip_ws(p);
    if (p->pos >= p->len)
        return perr(p, p->pos, "%s", "unexpected end");
    c = p->s[p->pos];
    if (c == '(') {
        size_t open = p->pos++;
        int rc;
        if (++p->depth > MAX_DEPTH)
            return perr(p, open, "%s", "too deeply nested");
        if ((rc = parse_sum(p)))
            return rc;
        p->depth--;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ')')
            return perr(p, open, "%s", "unbalanced '('");
        p->pos++;
        return 0;
    }
    if (c == '-' || c == '+') {
        size_t at = p->pos++;
        int rc;
        if (++p->depth > MAX_DEPTH)
            return perr(p, at, "%s", "too deeply nested");
        if ((rc = parse_primary(p)))
            return rc;
        p->depth--;
        if (c == '-') {
            struct op op = {OP_NEG, -1, 0, 0, at};
            return emit(p, op);
        }
        return 0;
    }
    if ((c >= '0' && c <= '9') || c == '.')
        return parse_number(p);
    if (is_ident_start(c) || c == '"')
        return parse_ident(p);
    return perr(p, p->pos, "unexpected '%.1s'", p->s + p->pos);
}

static int parse_product(struct parser *p)
{
    int rc = parse_primary(p);
    while (!rc) {
        char c;
        size_t at;
        skip_ws(p);
        if (p->pos >= p->len || (p->s[p->pos] != '*' && p->s[p->pos] != '/'))
            break;
        c = p->s[p->pos];
        at = p->pos++;
        if ((rc = parse_primary(p)))
            break;
        {
            struct op op = {c == '*' ? OP_MUL : OP_DIV, -1, 0, 0, at};
            rc = emit(p, op);
        }
    }
    return rc;
}

static int parse_sum(struct parser *p)
{
    int rc = parse_product(p);
    while (!rc) {
        char c;
        size_t at;
        skip_ws(p);
        if (p->pos >= p->len || (p->s[p->pos] != '+' && p->s[p->pos] != '-'))
            break;
        c = p->s[p->pos];
        at = p->pos++;
        if ((rc = parse_product(p)))
            break;
        {
            struct op op = {c == '+' ? OP_ADD : OP_SUB, -1, 0, 0, at};
            rc = emit(p, op);
        }
    }
    return rc;
}

/*
 * Compile node n's scalar text into postfix code. Identifiers are resolved
 * through fn now, so evaluation never looks names up. The tree node is
 * borrowed (it is kept for error positions at evaluation time).
 */
int seed_expr_compile(seed_expr **out, const sf_node *n, seed_ident_fn fn, void *ud, sf_error *err)
{
    struct parser p = {0};
    seed_expr *e;
    int rc;
    *out = NULL;
    if (!n || n->kind != SF_NODE_SCALAR)
        return sf_node_error(err, SF_ECONFIG, n, "expected a number or an expression, got a %s",
                             sf_node_kind_name(n));
    if (n->len == 0 || sf_node_is_null(n))
        return sf_node_error(err, SF_ECONFIG, n, "expected a number or an expression, got nothing");
    if (n->len > MAX_TEXT || strlen(n->str) != n->len)
        return sf_node_error(err, SF_ECONFIG, n, "expression too long or contains a NUL byte");
    e = calloc(1, sizeof(*e));
    if (!e)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    e->node = n;
    p.s = n->str;
    p.len = n->len;
    p.e = e;
    p.fn = fn;
    p.ud = ud;
    p.err = err;
    rc = parse_sum(&p);
    if (!rc) {
        skip_ws(&p);
        if (p.pos < p.len)
            rc = perr(&p, p.pos, "unexpected '%.1s'", p.s + p.pos);
    }
    if (rc) {
        seed_expr_free(e);
        return rc;
    }
    /* stack depth: each operand pushes, each binary op pops one */
    {
        size_t depth = 0;
        for (size_t i = 0; i < e->nops; i++) {
            if (e->ops[i].kind == OP_NUM || e->ops[i].kind == OP_SLOT)
                depth++;
            else if (e->ops[i].kind != OP_NEG)
                depth--;
            if (depth > e->maxstack)
                e->maxstack = depth;
        }
    }
    *out = e;
    return 0;
}

/* Free compiled code (NULL is a no-op); the source node is borrowed, not freed. */
void seed_expr_free(seed_expr *e)
{
    if (!e)
        return;
    free(e->ops);
    free(e);
}

/*
 * Evaluate the postfix code. NULL operands propagate to *is_null. With err
 * set, division by zero or a non-finite result is an error at the operator's
 * position; without it the result is NULL (row values: a NULL, never a crash).
 */
int seed_expr_eval(const seed_expr *e, const double *slots, const unsigned char *nulls, double *out,
                   int *is_null, sf_error *err)
{
    double st[MAX_TEXT];
    unsigned char sn[MAX_TEXT];
    size_t sp = 0;
    for (size_t i = 0; i < e->nops; i++) {
        const struct op *o = &e->ops[i];
        switch (o->kind) {
        case OP_NUM:
            st[sp] = o->num;
            sn[sp++] = 0;
            break;
        case OP_SLOT:
            st[sp] = slots ? slots[o->slot] : 0;
            sn[sp++] = nulls ? nulls[o->slot] : 0;
            break;
        case OP_NEG:
            st[sp - 1] = -st[sp - 1];
            break;
        default: {
            double a = st[sp - 2], b = st[sp - 1];
            unsigned char nn = sn[sp - 2] | sn[sp - 1];
            sp--;
            if (o->kind == OP_MIN || o->kind == OP_MAX)
                a = (o->kind == OP_MIN) == (b < a) ? b : a;
            else if (o->kind == OP_ADD)
                a = a + b;
            else if (o->kind == OP_SUB)
                a = a - b;
            else if (o->kind == OP_MUL)
                a = a * b;
            else if (b == 0 && !nn) {
                if (err)
                    return sf_error_set(err, SF_ECONFIG, "%s:%u:%u: division by zero in expression '%s'",
                                        e->node->file ? e->node->file : "", e->node->line,
                                        col_of(e->node, o->pos), e->node->str);
                nn = 1;
            } else if (!nn) {
                a = a / b;
            }
            st[sp - 1] = a;
            sn[sp - 1] = nn;
        }
        }
    }
    *out = st[0];
    *is_null = sn[0];
    if (!sn[0] && !isfinite(st[0])) {
        if (err)
            return sf_node_error(err, SF_ECONFIG, e->node, "expression '%s' overflows", e->node->str);
        *is_null = 1;
    }
    return 0;
}

/* Visit every slot the code reads (dependencies, missing parameters), in order, repeats included. */
void seed_expr_slots(const seed_expr *e, void (*fn)(void *ud, int slot), void *ud)
{
    for (size_t i = 0; i < e->nops; i++)
        if (e->ops[i].kind == OP_SLOT)
            fn(ud, e->ops[i].slot);
}

/*
 * The decimals an exact result needs, from the operands' decimals: + - min
 * max keep the larger, * adds, any division (or an operand of unknown
 * scale, < 0) makes it -1 so the spec must say `scale:`.
 */
int seed_expr_scale(const seed_expr *e, const int *slot_scales)
{
    int st[MAX_TEXT];
    size_t sp = 0;
    for (size_t i = 0; i < e->nops; i++) {
        const struct op *o = &e->ops[i];
        switch (o->kind) {
        case OP_NUM: st[sp++] = o->scale; break;
        case OP_SLOT: st[sp++] = slot_scales ? slot_scales[o->slot] : 0; break;
        case OP_NEG: break;
        default: {
            int a = st[sp - 2], b = st[sp - 1];
            sp--;
            if (a < 0 || b < 0 || o->kind == OP_DIV)
                a = -1;
            else if (o->kind == OP_MIN || o->kind == OP_MAX)
                a = a > b ? a : b;
            else if (o->kind == OP_MUL)
                a = a + b;
            else
                a = a > b ? a : b;
            st[sp - 1] = a;
        }
        }
    }
    return st[0];
}

/* True when the code reads no slot, so the node's text is the exact literal. */
int seed_expr_is_const(const seed_expr *e)
{
    return !e->has_ident;
}
