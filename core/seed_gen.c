/*
 * Row generation: the value of (table, column, row) computed on demand and
 * memoised per row, and rows written as COPY text. A `ref` picks a parent
 * row index and recomputes the parent's value there (parents are always
 * earlier tables, so the recursion is bounded by the number of tables);
 * a ref to the target's rows (from: existing / any) reads the parent row
 * the load transaction fetched. A unique key whose rows were moved off the
 * target's values (seed_append.c) reads its bijection at the remapped index.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "seed_internal.h"

struct cval {
    sf_buf text;
    unsigned gen;     /* == ctx->gen when text/null hold this row's value */
    unsigned pgen;    /* == ctx->gen when prow holds this row's parent row */
    int null;
    uint64_t prow;
};

struct tctx {
    seed_table *t;
    int64_t row;
    unsigned gen;
    struct cval *v;
    unsigned *tgen;   /* per tuple */
    uint64_t **tdig;  /* per tuple: one digit per column */
};

struct seed_gen {
    sf_seed *s;
    struct tctx *ctx; /* one per table */
    sf_buf scratch;
};

/* ---- formatting ----------------------------------------------------- */

static int add_u64(sf_buf *b, uint64_t u)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return sf_buf_add(b, tmp + i, sizeof(tmp) - i);
}

static int add_i64(sf_buf *b, int64_t v)
{
    if (v < 0) {
        if (sf_buf_addc(b, '-'))
            return SF_ENOMEM;
        return add_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return add_u64(b, (uint64_t)v);
}

/* A scaled integer m * 10^-scale as "123.45". */
static int add_scaled(sf_buf *b, int64_t m, int scale)
{
    char tmp[48];
    size_t i = sizeof(tmp);
    uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    int d = 0;
    if (scale <= 0)
        return add_i64(b, m);
    while (d < scale || u) {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
        if (++d == scale)
            tmp[--i] = '.';
        if (d > scale && !u)
            break;
    }
    if (tmp[i] == '.')
        tmp[--i] = '0';
    if (m < 0)
        tmp[--i] = '-';
    return sf_buf_add(b, tmp + i, sizeof(tmp) - i);
}

static int add_2(sf_buf *b, unsigned v, char sep)
{
    char t[3] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10), sep};
    return sf_buf_add(b, t, sep ? 3 : 2);
}

static int add_date(sf_buf *b, int64_t days)
{
    int64_t y;
    unsigned m, d;
    char t[5];
    seed_civil_from_days(days, &y, &m, &d);
    t[0] = (char)('0' + y / 1000 % 10);
    t[1] = (char)('0' + y / 100 % 10);
    t[2] = (char)('0' + y / 10 % 10);
    t[3] = (char)('0' + y % 10);
    t[4] = '-';
    if (sf_buf_add(b, t, 5) || add_2(b, m, '-') || add_2(b, d, 0))
        return SF_ENOMEM;
    return 0;
}

static int add_timestamp(sf_buf *b, int64_t secs)
{
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    if (add_date(b, days) || sf_buf_addc(b, ' ') || add_2(b, (unsigned)(rem / 3600), ':') ||
        add_2(b, (unsigned)(rem / 60 % 60), ':') || add_2(b, (unsigned)(rem % 60), 0))
        return SF_ENOMEM;
    return 0;
}

/* COPY text escaping of one field value (delimiter tab, NULL as \N). */
static int add_escaped(sf_buf *b, const char *p, size_t len)
{
    size_t i, start = 0;
    for (i = 0; i < len; i++) {
        char e;
        switch (p[i]) {
        case '\\': e = '\\'; break;
        case '\t': e = 't'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        default: continue;
        }
        if (sf_buf_add(b, p + start, i - start) || sf_buf_addc(b, '\\') || sf_buf_addc(b, e))
            return SF_ENOMEM;
        start = i + 1;
    }
    return sf_buf_add(b, p + start, len - start);
}

/* ---- email local parts ---------------------------------------------- */

/* Base letters of U+0100..U+017F (Latin Extended-A), lower-cased on use. */
static const char latin_ext_a[] = "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOo"
                                  "OoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

/* ASCII transliteration of one code point (may be ""); `one` holds single letters. */
static const char *translit(uint32_t cp, char one[2])
{
    if (cp >= 0xC0 && cp <= 0xFF) {
        static const char *const l1[64] = {
            "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
            "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
            "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
            "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y"};
        return l1[cp - 0xC0];
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        char ch = latin_ext_a[cp - 0x100];
        one[0] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        one[1] = '\0';
        return one;
    }
    return "";
}

/*
 * Lower-case ASCII mailbox text from a name: letters and digits kept
 * (Latin accents transliterated), runs of anything else become one '.',
 * at most 40 bytes, no leading/trailing '.'.
 */
static int add_slug(sf_buf *b, const char *p, size_t len)
{
    size_t start = b->len;
    int dot = 0;
    for (size_t i = 0; i < len && b->len - start < 40;) {
        unsigned char c = (unsigned char)p[i];
        uint32_t cp = c;
        size_t n = 1;
        const char *rep;
        char one[2] = {0, 0};
        if (c >= 0xC0 && c < 0xE0 && i + 1 < len) {
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)p[i + 1] & 0x3F);
            n = 2;
        } else if (c >= 0xE0 && c < 0xF0) {
            n = 3;
        } else if (c >= 0xF0) {
            n = 4;
        }
        i += n;
        if (cp < 0x80) {
            if (cp >= 'A' && cp <= 'Z')
                cp += 'a' - 'A';
            if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
                one[0] = (char)cp;
            rep = one;
        } else {
            rep = n == 2 ? translit(cp, one) : "";
        }
        if (!*rep) {
            if (cp < 0x80 || n > 2)
                dot = 1;
            continue;
        }
        if (dot && b->len > start && sf_buf_addc(b, '.'))
            return SF_ENOMEM;
        dot = 0;
        if (sf_buf_adds(b, rep))
            return SF_ENOMEM;
    }
    if (b->len - start > 40)
        sf_buf_truncate(b, start + 40);
    while (b->len > start && b->ptr[b->len - 1] == '.')
        sf_buf_truncate(b, b->len - 1);
    return 0;
}

/* ---- values --------------------------------------------------------- */

static int value(seed_gen *g, struct tctx *x, size_t c);

static void begin_row(struct tctx *x, int64_t row)
{
    x->row = row;
    if (++x->gen == 0) { /* stamp wrapped: forget every memo */
        for (size_t i = 0; i < x->t->ncols; i++)
            x->v[i].gen = x->v[i].pgen = 0;
        for (size_t i = 0; i < x->t->ntuples; i++)
            x->tgen[i] = 0;
        x->gen = 1;
    }
}

static uint64_t tuple_digit(struct tctx *x, int k, int pos)
{
    seed_tuple *tp = &x->t->tuples[k];
    if (x->tgen[k] != x->gen) {
        uint64_t d = seed_perm_apply(&tp->perm, seed_remap_get(&tp->remap, (uint64_t)x->row));
        for (size_t j = tp->n; j-- > 0;) {
            uint64_t dom = x->t->cols[tp->cols[j]].domain;
            if (dom == UINT64_MAX || dom == 0) {
                x->tdig[k][j] = d;
                d = 0;
            } else {
                x->tdig[k][j] = d % dom;
                d /= dom;
            }
        }
        x->tgen[k] = x->gen;
    }
    return x->tdig[k][pos];
}

/* The value index in [0, domain) for this row: tuple digit, permutation (unique) or random. */
static uint64_t domain_index(struct tctx *x, const seed_col *c)
{
    uint64_t r;
    if (c->tuple >= 0)
        return tuple_digit(x, c->tuple, c->tuple_pos);
    if (c->unique)
        return seed_perm_apply(&c->perm, seed_remap_get(&c->remap, (uint64_t)x->row));
    r = seed_rand_at(c->rkey, (uint64_t)x->row);
    if (c->cum) {
        double u = seed_unit(r) * c->cum[c->nvalues - 1];
        size_t lo = 0, hi = c->nvalues - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c->cum[mid] > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo;
    }
    return c->domain == UINT64_MAX ? r : seed_below(r, c->domain);
}

static uint64_t parent_row(struct tctx *x, size_t ci)
{
    seed_col *c = &x->t->cols[ci];
    struct cval *v = &x->v[ci];
    if (v->pgen == x->gen)
        return v->prow;
    if (c->row_of >= 0) {
        v->prow = parent_row(x, (size_t)c->row_of);
    } else if (c->zipf && c->tuple < 0 && !c->unique) {
        uint64_t ctr = 0, rk = seed_rand_at(c->rkey, (uint64_t)x->row);
        uint64_t rank = seed_zipf_draw(&c->zipfd, rk, &ctr);
        v->prow = seed_perm_apply(&c->ref_scatter, rank - 1);
    } else {
        v->prow = domain_index(x, c);
    }
    v->pgen = x->gen;
    return v->prow;
}

static int pattern_value(sf_buf *out, const seed_col *c, uint64_t d, int random, uint64_t rk)
{
    size_t pos[1000];
    size_t np = 0, start = out->len;
    uint64_t ctr = 0;
    for (size_t i = 0; i < c->pattern_len; i++) {
        char ch = c->pattern[i];
        if (ch == '\\') {
            ch = c->pattern[++i];
        } else if (ch == '#' || ch == '?') {
            pos[np++] = out->len - start;
        }
        if (sf_buf_addc(out, ch))
            return SF_ENOMEM;
    }
    /*
     * Right to left: the index d fills positions while their combined range
     * fits the permutation's range (2^62); positions beyond it cannot add
     * collisions and are drawn at random.
     */
    uint64_t acc = 1;
    for (size_t k = np; k-- > 0;) {
        char *p = out->ptr + start + pos[k];
        uint64_t base = *p == '#' ? 10 : 26, digit;
        if (random || acc > (UINT64_C(1) << 62) / base) {
            digit = seed_below(seed_rand_at(rk, ctr++), base);
        } else {
            digit = d % base;
            d /= base;
            acc *= base;
        }
        *p = (char)(base == 10 ? '0' + digit : 'A' + digit);
    }
    return 0;
}

/* Value number d of a finite-domain generator. */
static int value_at(sf_buf *out, const seed_col *c, uint64_t d, int *is_null, uint64_t rk)
{
    switch (c->kind) {
    case SG_INT: return add_i64(out, (int64_t)((uint64_t)c->lo + d));
    case SG_DECIMAL: return add_scaled(out, (int64_t)((uint64_t)c->lo + d), c->scale);
    case SG_DATE: return add_date(out, c->lo + (int64_t)d);
    case SG_TIMESTAMP: return add_timestamp(out, c->lo + (int64_t)d);
    case SG_PICK:
    case SG_CONST:
        if (c->values[d].null) {
            *is_null = 1;
            return 0;
        }
        return sf_buf_add(out, c->values[d].ptr, c->values[d].len);
    case SG_DICT: return seed_dict_get(out, c->dict, d);
    case SG_PATTERN:
        return pattern_value(out, c, d, c->domain == UINT64_MAX && !c->unique && c->tuple < 0, rk);
    default: return SF_EINTERNAL;
    }
}

static int email_value(seed_gen *g, struct tctx *x, const seed_col *c, sf_buf *out)
{
    uint64_t rk = seed_rand_at(c->rkey, (uint64_t)x->row);
    size_t start = out->len;
    if (c->email_from >= 0) {
        int rc = value(g, x, (size_t)c->email_from);
        const struct cval *f = &x->v[c->email_from];
        if (rc)
            return rc;
        if (!f->null && add_slug(out, f->text.ptr, f->text.len))
            return SF_ENOMEM;
    } else {
        /* a leaf computation (no recursion), so one scratch buffer per generator suffices */
        sf_buf *name = &g->scratch;
        sf_buf_clear(name);
        if (seed_dict_get(name, SEED_DICT_FIRST_NAME,
                          seed_below(seed_rand_at(rk, 0), seed_dict_size(SEED_DICT_FIRST_NAME))) ||
            sf_buf_addc(name, ' ') ||
            seed_dict_get(name, SEED_DICT_LAST_NAME,
                          seed_below(seed_rand_at(rk, 1), seed_dict_size(SEED_DICT_LAST_NAME))) ||
            add_slug(out, name->ptr, name->len))
            return SF_ENOMEM;
    }
    if (out->len == start && sf_buf_adds(out, "user"))
        return SF_ENOMEM;
    /* the number makes the address unique; a remapped row takes an unused number */
    if (sf_buf_addc(out, '.') || add_u64(out, seed_remap_get(&c->remap, (uint64_t)x->row) + 1) ||
        sf_buf_addc(out, '@'))
        return SF_ENOMEM;
    {
        const seed_str *d = &c->domains[c->ndomains > 1 ? seed_below(seed_rand_at(rk, 2), c->ndomains) : 0];
        return sf_buf_add(out, d->ptr, d->len);
    }
}

static int expr_value(seed_gen *g, struct tctx *x, const seed_col *c, struct cval *v)
{
    double slots[256], res;
    unsigned char nulls[256];
    size_t n = x->t->ncols < 256 ? x->t->ncols : 256;
    int is_null = 0, rc;
    /* operands are columns of this row; compute the ones it reads */
    for (size_t i = 0; i < n; i++) {
        slots[i] = 0;
        nulls[i] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!c->expr_cols[i])
            continue;
        if ((rc = value(g, x, i)))
            return rc;
        nulls[i] = (unsigned char)x->v[i].null;
        slots[i] = x->v[i].null ? 0 : strtod(x->v[i].text.ptr, NULL);
    }
    seed_expr_eval(c->expr, slots, nulls, &res, &is_null, NULL);
    if (!is_null) {
        double m = nearbyint(res * pow(10, c->scale));
        if (!(fabs(m) < 9.2e18)) {
            is_null = 1;
        } else {
            if (m == 0)
                m = 0; /* no "-0" */
            return add_scaled(&v->text, (int64_t)m, c->scale);
        }
    }
    v->null = is_null;
    return 0;
}

/* Compute (or reuse) the value of column ci in x's current row. */
static int value(seed_gen *g, struct tctx *x, size_t ci)
{
    seed_col *c = &x->t->cols[ci];
    struct cval *v = &x->v[ci];
    uint64_t row = (uint64_t)x->row;
    int rc = 0;
    if (v->gen == x->gen)
        return 0;
    sf_buf_clear(&v->text);
    v->null = 0;
    if (c->null_p > 0 && seed_unit(seed_rand_at(c->null_key, row)) < c->null_p) {
        v->null = 1;
        v->gen = x->gen;
        return 0;
    }
    switch (c->kind) {
    case SG_SEQ:
        rc = add_i64(&v->text,
                     (int64_t)((uint64_t)c->seq_start + seed_remap_get(&c->remap, row) * (uint64_t)c->seq_step));
        break;
    case SG_EMAIL:
        rc = email_value(g, x, c, &v->text);
        break;
    case SG_EXPR:
        rc = expr_value(g, x, c, v);
        break;
    case SG_REF: {
        uint64_t pr = parent_row(x, ci);
        const seed_col *root = c->row_of >= 0 ? &x->t->cols[c->row_of] : c;
        struct tctx *px;
        if (root->ref_from != REF_NEW) {
            if (pr < (uint64_t)root->ex_rows) {
                const PGresult *res = root->ex_res;
                v->null = PQgetisnull(res, (int)pr, c->ex_field);
                rc = v->null ? 0
                             : sf_buf_set(&v->text, PQgetvalue(res, (int)pr, c->ex_field),
                                          (size_t)PQgetlength(res, (int)pr, c->ex_field));
                break;
            }
            pr -= (uint64_t)root->ex_rows; /* from: any: a new parent row follows the existing ones */
        }
        px = &g->ctx[c->ref_table];
        if (px->row != (int64_t)pr || px->gen == 0)
            begin_row(px, (int64_t)pr);
        if ((rc = value(g, px, c->ref_col)))
            return rc;
        v->null = px->v[c->ref_col].null;
        rc = sf_buf_set(&v->text, px->v[c->ref_col].text.ptr, px->v[c->ref_col].text.len);
        break;
    }
    default: {
        uint64_t d = domain_index(x, c);
        rc = value_at(&v->text, c, d, &v->null, c->kind == SG_PATTERN ? seed_rand_at(c->rkey ^ 1, row) : 0);
        break;
    }
    }
    if (rc)
        return rc < 0 ? rc : SF_ENOMEM;
    if (c->truncate_chars && !v->null)
        sf_buf_truncate(&v->text, seed_utf8_prefix(v->text.ptr, v->text.len, c->truncate_chars));
    v->gen = x->gen;
    return 0;
}

/* ---- public to the engine ------------------------------------------- */

static void mark_slot(void *ud, int slot)
{
    ((int *)ud)[slot] = 1;
}

/* A generator over a resolved spec; it keeps one row context per table. */
int seed_gen_new(seed_gen **out, sf_seed *s)
{
    seed_gen *g = calloc(1, sizeof(*g));
    *out = NULL;
    if (!g || !(g->ctx = calloc(s->ntables ? s->ntables : 1, sizeof(*g->ctx)))) {
        free(g);
        return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
    }
    g->s = s;
    sf_buf_init(&g->scratch, 0);
    for (size_t i = 0; i < s->ntables; i++) {
        struct tctx *x = &g->ctx[i];
        seed_table *t = &s->tables[i];
        x->t = t;
        x->row = -1;
        x->v = calloc(t->ncols, sizeof(*x->v));
        x->tgen = calloc(t->ntuples ? t->ntuples : 1, sizeof(*x->tgen));
        x->tdig = calloc(t->ntuples ? t->ntuples : 1, sizeof(*x->tdig));
        if (!x->v || !x->tgen || !x->tdig)
            goto oom;
        for (size_t k = 0; k < t->ntuples; k++)
            if (!(x->tdig[k] = calloc(t->tuples[k].n, sizeof(uint64_t))))
                goto oom;
        for (size_t k = 0; k < t->ncols; k++) {
            sf_buf_init(&x->v[k].text, 0);
            if (t->cols[k].kind == SG_EXPR && !t->cols[k].expr_cols) {
                if (t->ncols > 256) {
                    seed_gen_free(g);
                    return sf_node_error(&s->err, SF_ECONFIG, t->cols[k].key,
                                         "expr columns are supported in tables of up to 256 generated columns");
                }
                if (!(t->cols[k].expr_cols = calloc(t->ncols, sizeof(int))))
                    goto oom;
                seed_expr_slots(t->cols[k].expr, mark_slot, t->cols[k].expr_cols);
            }
        }
    }
    *out = g;
    return 0;
oom:
    seed_gen_free(g);
    return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
}

/* Free a generator and its per-table row contexts (NULL is a no-op). */
void seed_gen_free(seed_gen *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->ctx && i < g->s->ntables; i++) {
        struct tctx *x = &g->ctx[i];
        if (x->v)
            for (size_t k = 0; k < x->t->ncols; k++)
                sf_buf_free(&x->v[k].text);
        if (x->tdig)
            for (size_t k = 0; k < x->t->ntuples; k++)
                free(x->tdig[k]);
        free(x->v);
        free(x->tgen);
        free(x->tdig);
    }
    free(g->ctx);
    sf_buf_free(&g->scratch);
    free(g);
}

/* Forget the row every context holds, so values are recomputed under new remaps. */
void seed_gen_reset(seed_gen *g)
{
    for (size_t i = 0; i < g->s->ntables; i++)
        g->ctx[i].row = -1;
}

/* "row\tv1\tv2\n" for each of rows[]: a unique key's values, for the target comparison. */
int seed_gen_key_rows(seed_gen *g, size_t ti, const size_t *cols, size_t ncols, const int64_t *rows, size_t nrows,
                      sf_buf *out)
{
    struct tctx *x = &g->ctx[ti];
    for (size_t k = 0; k < nrows; k++) {
        begin_row(x, rows[k]);
        if (add_i64(out, rows[k]))
            return sf_error_set(&g->s->err, SF_ENOMEM, "out of memory");
        for (size_t j = 0; j < ncols; j++) {
            struct cval *v = &x->v[cols[j]];
            int rc = value(g, x, cols[j]);
            if (rc)
                return sf_error_set(&g->s->err, rc, "generating %s.%s: %s", x->t->display, x->t->cols[cols[j]].name,
                                    sf_strerror(rc));
            if (sf_buf_addc(out, '\t') || (v->null ? sf_buf_add(out, "\\N", 2) : add_escaped(out, v->text.ptr, v->text.len)))
                return sf_error_set(&g->s->err, SF_ENOMEM, "out of memory");
        }
        if (sf_buf_addc(out, '\n'))
            return sf_error_set(&g->s->err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

/* Rows [from, to) of table ti as COPY text lines appended to out. */
int seed_gen_rows(seed_gen *g, size_t ti, int64_t from, int64_t to, sf_buf *out)
{
    struct tctx *x = &g->ctx[ti];
    seed_table *t = x->t;
    for (int64_t r = from; r < to; r++) {
        begin_row(x, r);
        for (size_t c = 0; c < t->ncols; c++) {
            struct cval *v = &x->v[c];
            int rc = value(g, x, c);
            if (rc)
                return sf_error_set(&g->s->err, rc, "generating %s.%s: %s", t->display, t->cols[c].name,
                                    sf_strerror(rc));
            if (c && sf_buf_addc(out, '\t'))
                return sf_error_set(&g->s->err, SF_ENOMEM, "out of memory");
            if (v->null ? sf_buf_add(out, "\\N", 2) : add_escaped(out, v->text.ptr, v->text.len))
                return sf_error_set(&g->s->err, SF_ENOMEM, "out of memory");
        }
        if (sf_buf_addc(out, '\n'))
            return sf_error_set(&g->s->err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

/*
 * PostgreSQL's reserved and type/function-name keywords (kwlist.h, 15):
 * the words that cannot stand unquoted as a table or column name. Sorted.
 */
static const char *const reserved[] = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
    "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create",
    "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
    "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
    "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike",
    "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like",
    "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or",
    "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
    "session_user", "similar", "some", "symmetric", "table", "tablesample", "then", "to", "trailing", "true",
    "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window", "with"};

static int cmp_kw(const void *a, const void *b)
{
    return strcmp(a, *(const char *const *)b);
}

/*
 * Append an identifier for SQL text written without a connection (the
 * `--to -` stream and messages): bare when PostgreSQL reads it back
 * unchanged (lower-case word, not a reserved keyword), else double-quoted
 * with '"' doubled. Database loads quote with PQescapeIdentifier instead.
 */
int seed_ident_quote(sf_buf *out, const char *name, size_t len)
{
    int need = len == 0 || len > 63 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
    for (size_t i = 0; i < len && !need; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$'))
            need = 1;
    }
    if (!need) {
        char word[64];
        memcpy(word, name, len);
        word[len] = '\0';
        need = bsearch(word, reserved, sizeof(reserved) / sizeof(reserved[0]), sizeof(reserved[0]), cmp_kw) != NULL;
    }
    if (!need)
        return sf_buf_add(out, name, len);
    if (sf_buf_addc(out, '"'))
        return SF_ENOMEM;
    for (size_t i = 0; i < len; i++)
        if ((name[i] == '"' && sf_buf_addc(out, '"')) || sf_buf_addc(out, name[i]))
            return SF_ENOMEM;
    return sf_buf_addc(out, '"');
}

/* "(a, b, \"Odd Name\")" for COPY headers written to a stream. */
int seed_gen_column_list(const sf_seed *s, size_t ti, sf_buf *out)
{
    const seed_table *t = &s->tables[ti];
    if (sf_buf_addc(out, '('))
        return SF_ENOMEM;
    for (size_t c = 0; c < t->ncols; c++) {
        if ((c && sf_buf_adds(out, ", ")) || seed_ident_quote(out, t->cols[c].name, strlen(t->cols[c].name)))
            return SF_ENOMEM;
    }
    return sf_buf_addc(out, ')') ? SF_ENOMEM : 0;
}
