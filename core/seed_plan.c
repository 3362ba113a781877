/*
 * Resolution of a seed run: parameter values (defaults, profiles, --set)
 * turn row-count expressions and generator arguments into numbers; then
 * everything that depends on them is checked (ranges, unique domains large
 * enough, refs to tables that have rows) and the PRNG keys, permutations
 * and samplers of every column are set up for the chosen seed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "seed_internal.h"
#include "stagefork/util.h"

#define MAX_ROWS INT64_C(1000000000000) /* 1e12: a typo guard, far above any real seed */
#define PERM_CAP (UINT64_C(1) << 62)
#define EXACT_INT 9007199254740992.0   /* 2^53 */

struct missing {
    const sf_seed *s;
    int slot;
};

static void find_missing(void *ud, int slot)
{
    struct missing *m = ud;
    if (m->slot < 0 && (size_t)slot < m->s->nparams && !m->s->params[slot].has_val)
        m->slot = slot;
}

/* Evaluate a spec number; a parameter without a value is an error at the expression. */
static int eval(sf_seed *s, seed_num *n, double *out)
{
    double *vals;
    int is_null = 0, rc;
    struct missing m = {s, -1};
    seed_expr_slots(n->expr, find_missing, &m);
    if (m.slot >= 0)
        return sf_node_error(&s->err, SF_ECONFIG, n->node,
                             "parameter '%s' has no value (no default under params:, and neither the selected "
                             "profiles nor --set give one)",
                             s->params[m.slot].name);
    /* slots: parameters, then the row counts of tables (only earlier ones are ever referenced) */
    vals = calloc(s->nparams + s->ntables + 1, sizeof(*vals));
    if (!vals)
        return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nparams; i++)
        vals[i] = s->params[i].val;
    for (size_t i = 0; i < s->ntables; i++)
        vals[s->nparams + i] = (double)s->tables[i].nrows;
    rc = seed_expr_eval(n->expr, vals, NULL, out, &is_null, &s->err);
    free(vals);
    n->val = *out;
    return rc;
}

/* An integer argument: exact int64 for literals, otherwise an integral value within 2^53. */
static int eval_int(sf_seed *s, seed_num *n, int64_t *out, int64_t min, int64_t max, const char *what)
{
    double v;
    if (seed_expr_is_const(n->expr) && sf_parse_i64(out, n->node->str, INT64_MIN, INT64_MAX) == 0) {
        if (*out < min || *out > max)
            return sf_node_error(&s->err, SF_ECONFIG, n->node, "%s %lld is out of range [%lld, %lld]", what,
                                 (long long)*out, (long long)min, (long long)max);
        return 0;
    }
    if (eval(s, n, &v))
        return s->err.code;
    if (fabs(v) > EXACT_INT)
        return sf_node_error(&s->err, SF_ECONFIG, n->node, "%s '%s' is too large (computed values must stay within 2^53)",
                             what, n->node->str);
    if (fabs(v - nearbyint(v)) > 1e-9)
        return sf_node_error(&s->err, SF_ECONFIG, n->node, "%s '%s' must be a whole number, got %g", what,
                             n->node->str, v);
    *out = (int64_t)nearbyint(v);
    if (*out < min || *out > max)
        return sf_node_error(&s->err, SF_ECONFIG, n->node, "%s '%s' = %lld is out of range [%lld, %lld]", what,
                             n->node->str, (long long)*out, (long long)min, (long long)max);
    return 0;
}

static int eval_ratio(sf_seed *s, seed_num *n, double *out, const char *what)
{
    if (!n->expr) {
        *out = 0;
        return 0;
    }
    if (eval(s, n, out))
        return s->err.code;
    if (!(*out >= 0 && *out <= 1))
        return sf_node_error(&s->err, SF_ECONFIG, n->node, "%s must be between 0 and 1, got %g", what, *out);
    return 0;
}

static size_t int_chars(int64_t v)
{
    size_t n = v < 0 ? 2 : 1;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

static uint64_t uabs(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

static uint64_t pow10u(int e)
{
    uint64_t p = 1;
    while (e-- > 0)
        p *= 10;
    return p;
}

/* Distinct values [lo, hi] of an int-like range, saturating at UINT64_MAX. */
static uint64_t span_domain(int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    return span == UINT64_MAX ? UINT64_MAX : span + 1;
}

static int ref_domain(sf_seed *s, seed_table *t, seed_col *c, int final);
static int finish_column(sf_seed *s, seed_table *t, seed_col *c);

static int resolve_column(sf_seed *s, seed_table *t, size_t ci)
{
    seed_col *c = &t->cols[ci];
    int64_t n = t->nrows;
    uint64_t tkey = seed_hash_str(seed_mix64(s->seed ^ UINT64_C(0x5EED5EED5EED5EED)), t->display, strlen(t->display));
    c->rkey = seed_hash_str(tkey, c->name, strlen(c->name));
    c->null_key = seed_mix64(c->rkey ^ UINT64_C(0x6E756C6C6E756C6C));
    c->domain = 0;
    c->max_abs = -1;
    c->max_chars = 0;
    c->truncate_chars = 0;
    if (eval_ratio(s, &c->null_ratio, &c->null_p, "null"))
        return s->err.code;

    switch (c->kind) {
    case SG_SEQ: {
        int64_t last;
        c->seq_start = 1;
        c->seq_step = 1;
        if (c->start.expr && eval_int(s, &c->start, &c->seq_start, INT64_MIN, INT64_MAX, "seq start"))
            return s->err.code;
        if (c->step.expr && eval_int(s, &c->step, &c->seq_step, INT64_MIN, INT64_MAX, "seq step"))
            return s->err.code;
        if (!c->seq_step)
            return sf_node_error(&s->err, SF_ECONFIG, c->step.node, "seq step must not be 0");
        if (c->seq_after_max && c->seq_step < 0)
            return sf_node_error(&s->err, SF_ECONFIG, c->step.node, "seq after: max needs a positive step");
        if (c->seq_after_max && c->has_max && c->tmax >= c->seq_start) {
            if (c->tmax == INT64_MAX)
                return sf_node_error(&s->err, SF_ECONFIG, c->after_node,
                                     "seq after: max: the target's %s already holds the largest 64-bit integer", c->name);
            c->seq_start = c->tmax + 1;
        }
        if (n > 0 && (__builtin_mul_overflow(n - 1, c->seq_step, &last) ||
                      __builtin_add_overflow(last, c->seq_start, &last)))
            return sf_node_error(&s->err, SF_ECONFIG, c->node, "seq of %s overflows a 64-bit integer at %lld rows%s",
                                 c->name, (long long)n, c->has_max ? " after the target's MAX" : "");
        if (n <= 0)
            last = c->seq_start;
        c->lo = last < c->seq_start ? last : c->seq_start;
        c->hi = last < c->seq_start ? c->seq_start : last;
        if (c->seq_after_max && c->has_max && (c->lo < c->tlo || c->hi > c->thi))
            return sf_node_error(&s->err, SF_ECONFIG, c->after_node,
                                 "seq after: max: %lld rows after the target's MAX %lld of '%s' go past the column's "
                                 "largest value %lld",
                                 (long long)n, (long long)c->tmax, c->name, (long long)c->thi);
        break;
    }
    case SG_INT:
        if (eval_int(s, &c->min, &c->lo, INT64_MIN, INT64_MAX, "int min") ||
            eval_int(s, &c->max, &c->hi, INT64_MIN, INT64_MAX, "int max"))
            return s->err.code;
        if (c->lo > c->hi)
            return sf_node_error(&s->err, SF_ECONFIG, c->max.node, "int max %lld is below min %lld", (long long)c->hi,
                                 (long long)c->lo);
        c->domain = span_domain(c->lo, c->hi);
        break;
    case SG_DECIMAL: {
        double lo, hi, f = (double)pow10u(c->scale);
        if (eval(s, &c->min, &lo) || eval(s, &c->max, &hi))
            return s->err.code;
        if (fabs(lo * f) > EXACT_INT || fabs(hi * f) > EXACT_INT)
            return sf_node_error(&s->err, SF_ECONFIG, c->node, "decimal range of '%s' is too large for scale %d",
                                 c->name, c->scale);
        c->lo = (int64_t)ceil(lo * f - 1e-6);
        c->hi = (int64_t)floor(hi * f + 1e-6);
        if (c->lo > c->hi)
            return sf_node_error(&s->err, SF_ECONFIG, c->max.node, "decimal max is below min");
        c->domain = span_domain(c->lo, c->hi);
        break;
    }
    case SG_DATE:
    case SG_TIMESTAMP: {
        int64_t unit = c->kind == SG_DATE ? 1 : 86400, d;
        if (c->days.expr) {
            if (eval_int(s, &c->days, &d, 0, 3660000, "days"))
                return s->err.code;
            if (c->has_from)
                c->to = c->from + d * unit;
            else
                c->from = c->to - d * unit;
        }
        c->lo = c->from;
        c->hi = c->to;
        if (c->lo < seed_days_from_civil(1000, 1, 1) * (unit > 1 ? 86400 : 1))
            return sf_node_error(&s->err, SF_ECONFIG, c->node, "%s range of '%s' starts before year 1000",
                                 c->kind == SG_DATE ? "date" : "timestamp", c->name);
        c->domain = span_domain(c->lo, c->hi);
        c->max_chars = c->kind == SG_DATE ? 10 : 19;
        break;
    }
    case SG_PICK:
    case SG_CONST: {
        c->domain = c->nvalues;
        c->lo = INT64_MAX;
        c->hi = INT64_MIN;
        for (size_t i = 0; i < c->nvalues; i++) {
            const seed_str *v = &c->values[i];
            size_t ch;
            if (v->null)
                continue;
            ch = seed_utf8_chars(v->ptr, v->len);
            if (ch > c->max_chars)
                c->max_chars = ch;
            if (c->vclass == VC_INT) {
                int64_t x;
                if (sf_parse_i64(&x, v->ptr[0] == '+' ? v->ptr + 1 : v->ptr, INT64_MIN, INT64_MAX) < 0)
                    return sf_node_error(&s->err, SF_ECONFIG, v->node, "'%s' does not fit a 64-bit integer", v->ptr);
                if (x < c->lo)
                    c->lo = x;
                if (x > c->hi)
                    c->hi = x;
            } else if (c->vclass == VC_DEC) {
                double x = fabs(strtod(v->ptr, NULL));
                if (x >= 9e18)
                    c->max_abs = INT64_MAX;
                else if ((int64_t)x > c->max_abs)
                    c->max_abs = (int64_t)x;
            }
        }
        if (c->lo > c->hi)
            c->lo = c->hi = 0;
        if (c->weights) {
            double total = 0;
            free(c->cum);
            if (!(c->cum = calloc(c->nvalues, sizeof(*c->cum))))
                return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
            for (size_t i = 0; i < c->nvalues; i++) {
                double w;
                if (eval(s, &c->weights[i], &w))
                    return s->err.code;
                if (!(w >= 0) || !isfinite(w))
                    return sf_node_error(&s->err, SF_ECONFIG, c->weights[i].node, "a pick weight must be >= 0, got %g",
                                         w);
                total += w;
                c->cum[i] = total;
            }
            if (!(total > 0))
                return sf_node_error(&s->err, SF_ECONFIG, c->weights[0].node, "pick weights of '%s' add up to 0",
                                     c->name);
        }
        break;
    }
    case SG_DICT:
        c->domain = seed_dict_size(c->dict);
        c->max_chars = seed_dict_max_chars(c->dict);
        break;
    case SG_PATTERN: {
        uint64_t d = 1;
        size_t ch = 0;
        for (size_t i = 0; i < c->pattern_len; i++) {
            unsigned char b = (unsigned char)c->pattern[i];
            if (b == '\\') {
                i++;
                b = (unsigned char)c->pattern[i];
            } else if (b == '#') {
                d = sat_mul(d, 10);
            } else if (b == '?') {
                d = sat_mul(d, 26);
            }
            if ((b & 0xC0) != 0x80)
                ch++;
        }
        c->domain = d;
        c->max_chars = ch;
        break;
    }
    case SG_EMAIL: {
        size_t dom = 0, local;
        for (size_t i = 0; i < c->ndomains; i++)
            if (c->domains[i].len > dom)
                dom = c->domains[i].len;
        if (c->email_from >= 0)
            local = t->cols[c->email_from].max_chars ? 2 * t->cols[c->email_from].max_chars : 64;
        else
            local = 2 * (seed_dict_max_chars(SEED_DICT_FIRST_NAME) + seed_dict_max_chars(SEED_DICT_LAST_NAME)) + 1;
        if (local > 40)
            local = 40;
        c->max_chars = local + 1 + int_chars(n > 0 ? n : 1) + 1 + dom;
        break;
    }
    case SG_REF:
        if (ref_domain(s, t, c, 0))
            return s->err.code;
        break;
    case SG_EXPR:
        break;
    default:
        break;
    }
    return finish_column(s, t, c);
}

/*
 * A ref's set of parent rows: the run's rows of a spec table (new), the
 * target's rows read in the load transaction (existing; 0 before that), or
 * the existing rows followed by the new ones (any). `final` once the
 * target was read: an empty set is then an error.
 */
static int ref_domain(sf_seed *s, seed_table *t, seed_col *c, int final)
{
    int64_t n = t->nrows;
    const seed_table *pt = c->ref_ext ? NULL : &s->tables[c->ref_table];
    const seed_col *p = pt ? &pt->cols[c->ref_col] : NULL;
    const seed_col *root = c->row_of >= 0 ? &t->cols[c->row_of] : c;
    if (c->ref_from != REF_EXISTING) {
        if (p->null_p > 0)
            return sf_node_error(&s->err, SF_ECONFIG, c->ref_node,
                                 "ref '%s' points at a column that can be NULL (null: %g); refs need values", 
                                 c->ref_node->str, p->null_p);
        if ((p->kind == SG_PICK || p->kind == SG_CONST))
            for (size_t i = 0; i < p->nvalues; i++)
                if (p->values[i].null)
                    return sf_node_error(&s->err, SF_ECONFIG, c->ref_node,
                                         "ref '%s' points at a column with a null value", c->ref_node->str);
        if (c->ref_from == REF_NEW && pt->nrows == 0 && n > 0 && c->null_p < 1)
            return sf_node_error(&s->err, SF_ECONFIG, c->ref_node,
                                 "ref '%s': %s has no rows in this run (rows: %s), so there is nothing to point at",
                                 c->ref_node->str, pt->display, pt->rows.node->str);
    }
    c->domain = (uint64_t)(c->ref_from != REF_NEW ? root->ex_rows : 0) +
                (uint64_t)(c->ref_from != REF_EXISTING ? pt->nrows : 0);
    if (final && c->ref_from != REF_NEW && c->row_of < 0 && c->domain == 0 && n > 0 && c->null_p < 1)
        return sf_node_error(&s->err, SF_ECONFIG, c->ref_from_node,
                             "ref '%s' from: %s: %s.%s has no rows in the target%s, so there is nothing to point at",
                             c->ref_node->str, c->ref_from == REF_ANY ? "any" : "existing", c->ext_schema,
                             c->ext_table, c->ref_from == REF_ANY ? " and none in this run" : "");
    if (p) {
        c->lo = p->lo;
        c->hi = p->hi;
        c->max_abs = p->max_abs;
        c->max_chars = p->truncate_chars ? p->truncate_chars : p->max_chars;
    } else {
        c->lo = c->hi = 0;
        c->max_abs = -1;
        c->max_chars = 0;
    }
    if (c->zipf && c->domain) {
        double zs = 1.1;
        if (c->zipf_s.expr && eval(s, &c->zipf_s, &zs))
            return s->err.code;
        if (!(zs > 0 && zs <= 10))
            return sf_node_error(&s->err, SF_ECONFIG, c->zipf_s.node, "zipf exponent s must be in (0, 10], got %g", zs);
        seed_zipf_init(&c->zipfd, c->domain, zs);
        seed_perm_init(&c->ref_scatter, c->domain, seed_mix64(c->rkey ^ UINT64_C(0x7A697066)));
    }
    return 0;
}

/* Derived sizes of a resolved column, then its unique bijection (domain large enough). */
static int finish_column(sf_seed *s, seed_table *t, seed_col *c)
{
    int64_t n = t->nrows;
    if (c->vclass == VC_INT && c->kind != SG_EXPR) {
        c->max_abs = (int64_t)(uabs(c->lo) > uabs(c->hi) ? uabs(c->lo) : uabs(c->hi)) ;
        if (c->max_abs < 0)
            c->max_abs = INT64_MAX;
        if (c->kind != SG_PICK && c->kind != SG_CONST && c->kind != SG_REF) {
            size_t a = int_chars(c->lo), b = int_chars(c->hi);
            c->max_chars = a > b ? a : b;
        }
    } else if (c->kind == SG_DECIMAL) {
        uint64_t f = pow10u(c->scale), m = uabs(c->lo) > uabs(c->hi) ? uabs(c->lo) : uabs(c->hi);
        size_t a = int_chars(c->lo / (int64_t)f), b = int_chars(c->hi / (int64_t)f);
        c->max_abs = (int64_t)(m / f);
        c->max_chars = (a > b ? a : b) + 1 + (size_t)c->scale + (c->lo < 0 ? 1 : 0);
    }

    if (c->unique && c->domain && (uint64_t)n > c->domain)
        return sf_node_error(&s->err, SF_ECONFIG, c->key,
                             "unique column '%s' needs %lld distinct values but its %s generator has only %llu", c->name,
                             (long long)n, c->kind == SG_REF ? "ref" : c->kind == SG_DICT ? "dict" : "value",
                             (unsigned long long)c->domain);
    if (c->unique && c->domain)
        seed_perm_init(&c->perm, c->domain < PERM_CAP ? c->domain : PERM_CAP, seed_mix64(c->rkey ^ UINT64_C(0x7065726D)));
    return 0;
}

static int resolve_table(sf_seed *s, seed_table *t)
{
    double v;
    if (eval(s, &t->rows, &v))
        return s->err.code;
    /* floor, tolerating binary rounding (600 * 0.01 is 6.000000000000001 or 5.999999999999999) */
    v = floor(v + 1e-9 * (fabs(v) > 1 ? fabs(v) : 1));
    if (v < 0)
        return sf_node_error(&s->err, SF_ECONFIG, t->rows.node, "rows '%s' evaluates to %g; it must be >= 0",
                             t->rows.node->str, v);
    if (v > (double)MAX_ROWS)
        return sf_node_error(&s->err, SF_ECONFIG, t->rows.node, "rows '%s' evaluates to %g (more than 10^12)",
                             t->rows.node->str, v);
    t->nrows = (int64_t)v;
    for (size_t k = 0; k < t->ncols; k++)
        if (resolve_column(s, t, t->order[k]))
            return s->err.code;
    for (size_t k = 0; k < t->ntuples; k++) {
        seed_tuple *tp = &t->tuples[k];
        uint64_t d = 1;
        for (size_t j = 0; j < tp->n; j++)
            d = sat_mul(d, t->cols[tp->cols[j]].domain);
        tp->domain = d;
        if ((uint64_t)t->nrows > d)
            return sf_node_error(&s->err, SF_ECONFIG, tp->node,
                                 "unique combination needs %lld distinct values but the columns only have %llu "
                                 "combinations",
                                 (long long)t->nrows, (unsigned long long)d);
        seed_perm_init(&tp->perm, d < PERM_CAP ? d : PERM_CAP,
                       seed_mix64(seed_hash_str(s->seed, t->display, strlen(t->display)) ^ (k + 1) * UINT64_C(0x7475706C)));
    }
    return 0;
}

/*
 * Re-resolve what depends on the target's state (seed_append.c read it):
 * seq after: max starts and their bounds, and the parent sets of refs from
 * existing / any with their zipf samplers and unique bijections.
 */
int seed_plan_target(sf_seed *s)
{
    for (size_t i = 0; i < s->ntables; i++) {
        seed_table *t = &s->tables[i];
        for (size_t k = 0; k < t->ncols; k++) {
            seed_col *c = &t->cols[t->order[k]];
            if (c->kind == SG_SEQ && c->seq_after_max) {
                size_t keep = c->truncate_chars;
                if (resolve_column(s, t, t->order[k]))
                    return s->err.code;
                c->truncate_chars = keep;
            } else if (c->kind == SG_REF && c->ref_from != REF_NEW) {
                if (ref_domain(s, t, c, 1) || finish_column(s, t, c))
                    return s->err.code;
            }
        }
    }
    return 0;
}

/* Resolve every table in spec order (a ref reads its parent's resolved numbers). */
int seed_plan_resolve(sf_seed *s)
{
    s->resolved = 0;
    for (size_t i = 0; i < s->ntables; i++)
        if (resolve_table(s, &s->tables[i]))
            return s->err.code;
    s->resolved = 1;
    return 0;
}
