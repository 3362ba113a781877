/*
 * Seed spec YAML -> model (seed_internal.h), with every static check that
 * does not depend on parameter values: known keys, generator shapes,
 * `ref`s to earlier tables, column dependencies without cycles, value
 * classes for type checks. Errors name file:line:column.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "seed_internal.h"
#include "sqlident.h"

static const char *const gen_names[SG__COUNT] = {"seq", "ref", "dict", "email", "int", "decimal", "date",
                                                 "timestamp", "pick", "const", "pattern", "expr"};

#define GEN_LIST "seq, ref, dict, email, int, decimal, date, timestamp, pick, const, pattern, expr"

static int oom(sf_seed *s)
{
    return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
}

static char *dupn(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static int want(sf_seed *s, const sf_node *n, sf_node_kind k, const char *what)
{
    static const char *kinds[] = {"a scalar", "a mapping", "a sequence"};
    if (!n || n->kind != k)
        return sf_node_error(&s->err, SF_ECONFIG, n, "%s must be %s, not a %s", what, kinds[k],
                             sf_node_kind_name(n));
    return 0;
}

static int check_keys(sf_seed *s, const sf_node *map, const char *where, const char *const *allowed)
{
    for (size_t i = 0; i < map->n; i++) {
        size_t j;
        for (j = 0; allowed[j]; j++)
            if (strcmp(map->keys[i]->str, allowed[j]) == 0)
                break;
        if (!allowed[j]) {
            char list[256] = "";
            size_t off = 0;
            for (j = 0; allowed[j] && off < sizeof(list); j++) {
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", allowed[j]);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return sf_node_error(&s->err, SF_ECONFIG, map->keys[i], "unknown key '%s' in %s (expected one of: %s)",
                                 map->keys[i]->str, where, list);
        }
    }
    return 0;
}

/* ---- numbers over parameters ---------------------------------------- */

/*
 * Names in spec numbers: a parameter, else the row count of an earlier
 * table by its (unqualified, unambiguous) name; table k is slot
 * nparams + k. Parameters shadow table names.
 */
static int ident_param(void *ud, const char *name, size_t len)
{
    sf_seed *s = ud;
    int p = seed_param_find(s, name, len), found = -1;
    if (p >= 0)
        return p;
    for (size_t i = 0; i + 1 < s->ntables; i++)
        if (strlen(s->tables[i].name) == len && !memcmp(s->tables[i].name, name, len)) {
            if (found >= 0)
                return -1;
            found = (int)i;
        }
    return found < 0 ? -1 : (int)s->nparams + found;
}

/* A parameter's index by exact name, or -1. */
int seed_param_find(const sf_seed *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->nparams; i++)
        if (strlen(s->params[i].name) == len && memcmp(s->params[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* A number or an expression over parameters (resolved later). */
static int parse_num(sf_seed *s, seed_num *out, const sf_node *n)
{
    out->node = n;
    return seed_expr_compile(&out->expr, n, ident_param, s, &s->err);
}

static int opt_num(sf_seed *s, seed_num *out, const sf_node *map, const char *key)
{
    const sf_node *n = sf_node_get(map, key);
    if (!n)
        return 0;
    return parse_num(s, out, n);
}

static void free_num(seed_num *n)
{
    seed_expr_free(n->expr);
    n->expr = NULL;
}

/* A plain number literal (params and profiles). */
static int literal(sf_seed *s, double *out, const sf_node *n, const char *what)
{
    if (want(s, n, SF_NODE_SCALAR, what))
        return SF_ECONFIG;
    if (sf_node_double(out, n, &s->err) < 0 || !isfinite(*out))
        return sf_node_error(&s->err, SF_ECONFIG, n, "%s must be a number, got '%s'", what, n->str);
    return 0;
}

/* ---- params and profiles -------------------------------------------- */

static int valid_param_name(const char *n)
{
    if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || *n == '_'))
        return 0;
    for (n++; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') || *n == '_'))
            return 0;
    return 1;
}

static int declare_param(sf_seed *s, const sf_node *key, int *idx)
{
    int i = seed_param_find(s, key->str, key->len);
    seed_param *p;
    if (i >= 0) {
        *idx = i;
        return 0;
    }
    if (!valid_param_name(key->str))
        return sf_node_error(&s->err, SF_ECONFIG, key,
                             "parameter name '%s' must be a word ([A-Za-z_][A-Za-z0-9_]*)", key->str);
    p = realloc(s->params, (s->nparams + 1) * sizeof(*p));
    if (!p)
        return oom(s);
    s->params = p;
    p = &s->params[s->nparams];
    memset(p, 0, sizeof(*p));
    if (!(p->name = strdup(key->str)))
        return oom(s);
    p->node = key;
    *idx = (int)s->nparams++;
    return 0;
}

static int parse_params(sf_seed *s, const sf_node *n)
{
    if (!n || sf_node_is_null(n))
        return 0;
    if (want(s, n, SF_NODE_MAP, "params"))
        return SF_ECONFIG;
    for (size_t i = 0; i < n->n; i++) {
        int idx;
        double v;
        if (declare_param(s, n->keys[i], &idx) || literal(s, &v, n->vals[i], "a parameter's default"))
            return s->err.code;
        s->params[idx].def = s->params[idx].val = v;
        s->params[idx].has_def = s->params[idx].has_val = 1;
    }
    return 0;
}

/* Profiles: declare their parameters first (pass 1), values come in pass 2. */
static int parse_profiles(sf_seed *s, const sf_node *n, int pass)
{
    if (!n || sf_node_is_null(n))
        return 0;
    if (want(s, n, SF_NODE_MAP, "profiles"))
        return SF_ECONFIG;
    if (pass == 1) {
        for (size_t i = 0; i < n->n; i++) {
            const sf_node *pm = n->vals[i];
            if (sf_node_is_null(pm))
                continue;
            if (want(s, pm, SF_NODE_MAP, "a profile"))
                return SF_ECONFIG;
            for (size_t j = 0; j < pm->n; j++) {
                int idx;
                if (declare_param(s, pm->keys[j], &idx))
                    return s->err.code;
            }
        }
        return 0;
    }
    s->profiles = calloc(n->n ? n->n : 1, sizeof(*s->profiles));
    if (!s->profiles)
        return oom(s);
    for (size_t i = 0; i < n->n; i++) {
        seed_profile *p = &s->profiles[s->nprofiles++];
        const sf_node *pm = n->vals[i];
        if (!(p->name = strdup(n->keys[i]->str)))
            return oom(s);
        p->node = n->keys[i];
        if (!n->keys[i]->len || strchr(p->name, ','))
            return sf_node_error(&s->err, SF_ECONFIG, n->keys[i], "profile name '%s' must be non-empty without ','",
                                 p->name);
        if (sf_node_is_null(pm))
            continue;
        p->param = calloc(pm->n ? pm->n : 1, sizeof(*p->param));
        p->vals = calloc(pm->n ? pm->n : 1, sizeof(*p->vals));
        if (!p->param || !p->vals)
            return oom(s);
        for (size_t j = 0; j < pm->n; j++) {
            double v;
            if (literal(s, &v, pm->vals[j], "a profile parameter"))
                return SF_ECONFIG;
            p->param[j] = (size_t)seed_param_find(s, pm->keys[j]->str, pm->keys[j]->len);
            p->vals[j].node = pm->vals[j];
            p->vals[j].val = v;
            p->nset++;
        }
    }
    return 0;
}

/* ---- dates ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
int64_t seed_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The proleptic Gregorian date of a day number (inverse of seed_days_from_civil). */
void seed_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * "YYYY-MM-DD" (years 1000-9999) or, with `ts`, also "YYYY-MM-DD HH:MM:SS"
 * / "...THH:MM:SS": days (or seconds) since 1970-01-01.
 */
static int parse_when(int64_t *out, const char *s, size_t len, int ts)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    int64_t days;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 10 && !(ts && len == 19))
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d))
        return -1;
    if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    if (len == 19) {
        if ((s[10] != ' ' && s[10] != 'T') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
            s[16] != ':' || digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 59)
            return -1;
    }
    days = seed_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out = ts ? days * 86400 + h * 3600 + mi * 60 + se : days;
    return 0;
}

/* ---- text helpers --------------------------------------------------- */

/* Characters of UTF-8 text (bytes that do not continue a sequence). */
size_t seed_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* Bytes of the first `chars` characters: where to cut without splitting a sequence. */
size_t seed_utf8_prefix(const char *s, size_t len, size_t chars)
{
    size_t n = 0, i;
    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == chars)
                break;
            n++;
        }
    return i;
}

/* Scalar -> seed_str (a plain null scalar is SQL NULL). */
static int str_of(sf_seed *s, seed_str *out, const sf_node *n, const char *what)
{
    if (want(s, n, SF_NODE_SCALAR, what))
        return SF_ECONFIG;
    out->node = n;
    if (sf_node_is_null(n)) {
        out->null = 1;
        return 0;
    }
    if (memchr(n->str, '\0', n->len))
        return sf_node_error(&s->err, SF_ECONFIG, n, "%s contains a NUL byte (PostgreSQL text cannot hold one)", what);
    if (!(out->ptr = dupn(n->str, n->len)))
        return oom(s);
    out->len = n->len;
    return 0;
}

/* Is the text an integer / a decimal number as PostgreSQL reads it? Returns decimals, or -1. */
static int numeric_scale(const char *p, size_t len, int *is_int)
{
    size_t i = 0;
    int nd = 0, sc = 0, dot = 0;
    if (i < len && (p[i] == '-' || p[i] == '+'))
        i++;
    for (; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            nd++;
            if (dot)
                sc++;
        } else if (p[i] == '.' && !dot) {
            dot = 1;
        } else {
            return -1;
        }
    }
    if (!nd || nd > 30)
        return -1;
    *is_int = !dot;
    return sc;
}

/* ---- generators ----------------------------------------------------- */

static int find_col(const seed_table *t, const char *name, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const char *const from_names[] = {"new", "existing", "any"};

/*
 * A ref's `from:` (new, existing, any). A row_of sibling takes its root's:
 * the root is found by name among the table's column nodes, since the
 * columns are linked only after all of them are parsed.
 */
static int ref_from(sf_seed *s, seed_col *c, size_t ti, const sf_node *v)
{
    const sf_node *f = sf_node_get(v, "from"), *ro = sf_node_get(v, "row_of");
    if (f && ro)
        return sf_node_error(&s->err, SF_ECONFIG, f,
                             "'from' belongs on the column named by row_of ('%s'): a row_of column takes its parent row "
                             "from there",
                             ro->kind == SF_NODE_SCALAR ? ro->str : "?");
    if (!f && ro && ro->kind == SF_NODE_SCALAR && s->tables_node) {
        const sf_node *cols = sf_node_get(s->tables_node->vals[ti], "columns");
        const sf_node *root = cols ? sf_node_get(cols, ro->str) : NULL;
        if (root && root->kind == SF_NODE_MAP)
            f = sf_node_get(root, "from");
    }
    c->ref_from = REF_NEW;
    if (!f)
        return 0;
    c->ref_from_node = f;
    for (int k = 0; k < 3; k++)
        if (f->kind == SF_NODE_SCALAR && !strcmp(f->str, from_names[k])) {
            c->ref_from = (seed_ref_from)k;
            return 0;
        }
    return sf_node_error(&s->err, SF_ECONFIG, f,
                         "ref from must be new (rows this run generates), existing (rows the target already has) or "
                         "any (both), got '%s'",
                         f->kind == SF_NODE_SCALAR ? f->str : sf_node_kind_name(f));
}

/*
 * The target column a from: existing / any ref reads: [schema.]table
 * (default schema public) and the column after the last '.'.
 */
static int ref_target(sf_seed *s, seed_col *c, const sf_buf *schema, const sf_buf *name, const char *col)
{
    if (!(c->ext_schema = strdup(schema->len ? schema->ptr : "public")) || !(c->ext_table = strdup(name->ptr)) ||
        !(c->ext_col = strdup(col)))
        return oom(s);
    return 0;
}

/*
 * `ref: [schema.]table.column`: split at the last '.', match the table part
 * against earlier tables (qualified exactly, or unqualified by name when
 * that is unambiguous).
 */
static int resolve_ref(sf_seed *s, seed_col *c, size_t this_table, const sf_node *n)
{
    const char *dot;
    sf_buf schema = SF_BUF_INIT, name = SF_BUF_INIT;
    int found = -1, rc = 0, qualified;
    if (want(s, n, SF_NODE_SCALAR, "ref"))
        return SF_ECONFIG;
    dot = strrchr(n->str, '.');
    if (!dot || dot == n->str || !dot[1])
        return sf_node_error(&s->err, SF_ECONFIG, n, "ref must be 'table.column' or 'schema.table.column', got '%s'",
                             n->str);
    if (sf_ident_qualified(&schema, &name, n->str, (size_t)(dot - n->str), "") < 0) {
        rc = sf_node_error(&s->err, SF_ECONFIG, n, "ref '%s': bad table name", n->str);
        goto out;
    }
    qualified = schema.len > 0;
    if (c->ref_from != REF_NEW && (rc = ref_target(s, c, &schema, &name, dot + 1)))
        goto out;
    for (size_t i = 0; i < s->ntables; i++) {
        const seed_table *t = &s->tables[i];
        if (strcmp(t->name, name.ptr) != 0 || (qualified && strcmp(t->schema, schema.ptr) != 0))
            continue;
        if (found >= 0) {
            rc = sf_node_error(&s->err, SF_ECONFIG, n, "ref '%s' is ambiguous (%s and %s); qualify it with the schema",
                               n->str, s->tables[found].display, t->display);
            goto out;
        }
        found = (int)i;
    }
    if (c->ref_from == REF_EXISTING) {
        /* the target's rows: the table may be generated earlier, later, not at all, or be this one */
        int pc = found >= 0 && (size_t)found < this_table ? find_col(&s->tables[found], dot + 1, s->tables[found].ncols)
                                                          : -1;
        if (pc < 0) {
            c->ref_ext = 1;
        } else {
            c->ref_table = (size_t)found;
            c->ref_col = (size_t)pc;
        }
        goto out;
    }
    if (found < 0 && s->tables_node) {
        /* not parsed yet: is it listed further down? */
        for (size_t i = this_table + 1; i < s->tables_node->n; i++) {
            const sf_node *tn = sf_node_get(s->tables_node->vals[i], "table");
            sf_buf ls = SF_BUF_INIT, ln = SF_BUF_INIT;
            int later = tn && tn->kind == SF_NODE_SCALAR &&
                        sf_ident_qualified(&ls, &ln, tn->str, tn->len, "public") == 0 && !strcmp(ln.ptr, name.ptr) &&
                        (!qualified || !strcmp(ls.ptr, schema.ptr));
            sf_buf_free(&ls);
            sf_buf_free(&ln);
            if (later) {
                rc = sf_node_error(&s->err, SF_ECONFIG, n,
                                   "ref '%s': table %s is generated later (line %u); list parent tables first",
                                   n->str, tn->str, tn->line);
                goto out;
            }
        }
    }
    if (found < 0 || (size_t)found >= this_table) {
        rc = sf_node_error(&s->err, SF_ECONFIG, n, "ref '%s': table %s%s%s", n->str,
                           found < 0 ? "is not in the spec" : s->tables[found].display,
                           found < 0 ? "" : (size_t)found == this_table ? " is this table (self-references are not supported)"
                                                                          : " is generated later; list parent tables first",
                           found < 0 || (size_t)found == this_table ? " (from: existing reads the target's rows instead)"
                                                                   : "");
        goto out;
    }
    c->ref_table = (size_t)found;
    {
        int pc = find_col(&s->tables[found], dot + 1, s->tables[found].ncols);
        if (pc < 0) {
            rc = sf_node_error(&s->err, SF_ECONFIG, n, "ref '%s': %s has no generated column '%s'%s", n->str,
                               s->tables[found].display, dot + 1,
                               c->ref_from == REF_ANY ? " (from: any needs it for the new rows)" : "");
            goto out;
        }
        c->ref_col = (size_t)pc;
    }
out:
    sf_buf_free(&schema);
    sf_buf_free(&name);
    return rc;
}

static int parse_range(sf_seed *s, seed_col *c, const sf_node *v, const char *gen, int need_scale)
{
    static const char *const keys_int[] = {"min", "max", NULL};
    static const char *const keys_dec[] = {"min", "max", "scale", NULL};
    char where[32];
    snprintf(where, sizeof(where), "%s", gen);
    if (want(s, v, SF_NODE_MAP, gen) || check_keys(s, v, where, need_scale ? keys_dec : keys_int))
        return SF_ECONFIG;
    if (!sf_node_get(v, "min") || !sf_node_get(v, "max"))
        return sf_node_error(&s->err, SF_ECONFIG, v, "%s needs min and max", gen);
    if (opt_num(s, &c->min, v, "min") || opt_num(s, &c->max, v, "max"))
        return s->err.code;
    c->scale = need_scale ? 2 : 0;
    if (need_scale && sf_node_get(v, "scale")) {
        long long sc;
        if (sf_node_i64(&sc, sf_node_get(v, "scale"), 0, 15, &s->err) < 0)
            return SF_ECONFIG;
        c->scale = (int)sc;
    }
    return 0;
}

static int parse_dates(sf_seed *s, seed_col *c, const sf_node *v, int ts)
{
    static const char *const keys[] = {"from", "to", "days", NULL};
    const char *gen = ts ? "timestamp" : "date";
    int have = 0;
    if (want(s, v, SF_NODE_MAP, gen) || check_keys(s, v, gen, keys))
        return SF_ECONFIG;
    for (int k = 0; k < 2; k++) {
        const sf_node *n = sf_node_get(v, k ? "to" : "from");
        int64_t w;
        if (!n)
            continue;
        if (want(s, n, SF_NODE_SCALAR, k ? "to" : "from"))
            return SF_ECONFIG;
        if (parse_when(&w, n->str, n->len, ts) < 0)
            return sf_node_error(&s->err, SF_ECONFIG, n, "'%s' is not a date (YYYY-MM-DD%s)", n->str,
                                 ts ? " or YYYY-MM-DD HH:MM:SS" : "");
        if (k) {
            c->to = ts && n->len == 10 ? w + 86399 : w; /* a date as `to` includes its whole day */
            c->has_to = 1;
            c->to_node = n;
        } else {
            c->from = w;
            c->has_from = 1;
            c->from_node = n;
        }
        have++;
    }
    if (sf_node_get(v, "days")) {
        if (opt_num(s, &c->days, v, "days"))
            return s->err.code;
        have++;
    }
    if (have != 2)
        return sf_node_error(&s->err, SF_ECONFIG, v, "%s needs exactly two of from, to and days", gen);
    if (c->has_from && c->has_to && c->from > c->to)
        return sf_node_error(&s->err, SF_ECONFIG, c->to_node, "%s: 'to' is before 'from'", gen);
    return 0;
}

static int parse_pick(sf_seed *s, seed_col *c, const sf_node *v)
{
    const sf_node *vals = v, *weights = NULL;
    if (v->kind == SF_NODE_MAP) {
        static const char *const keys[] = {"values", "weights", NULL};
        if (check_keys(s, v, "pick", keys))
            return SF_ECONFIG;
        vals = sf_node_get(v, "values");
        weights = sf_node_get(v, "weights");
        if (!vals)
            return sf_node_error(&s->err, SF_ECONFIG, v, "pick needs values");
    }
    if (want(s, vals, SF_NODE_SEQ, "pick values"))
        return SF_ECONFIG;
    if (!vals->n)
        return sf_node_error(&s->err, SF_ECONFIG, vals, "pick needs at least one value");
    c->values = calloc(vals->n, sizeof(*c->values));
    if (!c->values)
        return oom(s);
    c->nvalues = vals->n;
    for (size_t i = 0; i < vals->n; i++)
        if (str_of(s, &c->values[i], vals->vals[i], "a pick value"))
            return s->err.code;
    if (weights) {
        if (want(s, weights, SF_NODE_SEQ, "pick weights"))
            return SF_ECONFIG;
        if (weights->n != vals->n)
            return sf_node_error(&s->err, SF_ECONFIG, weights, "pick has %zu values but %zu weights", vals->n,
                                 weights->n);
        c->weights = calloc(vals->n, sizeof(*c->weights));
        if (!c->weights)
            return oom(s);
        for (size_t i = 0; i < weights->n; i++)
            if (parse_num(s, &c->weights[i], weights->vals[i]))
                return s->err.code;
    }
    return 0;
}

static int parse_pattern(sf_seed *s, seed_col *c, const sf_node *v)
{
    int placeholders = 0;
    if (want(s, v, SF_NODE_SCALAR, "pattern"))
        return SF_ECONFIG;
    if (!v->len || memchr(v->str, '\0', v->len) || v->len > 1000)
        return sf_node_error(&s->err, SF_ECONFIG, v, "pattern must be non-empty text of at most 1000 bytes");
    for (size_t i = 0; i < v->len; i++) {
        if (v->str[i] == '\\') {
            if (++i == v->len)
                return sf_node_error(&s->err, SF_ECONFIG, v, "pattern '%s' ends with a lone '\\'", v->str);
        } else if (v->str[i] == '#' || v->str[i] == '?') {
            placeholders++;
        }
    }
    (void)placeholders;
    if (!(c->pattern = dupn(v->str, v->len)))
        return oom(s);
    c->pattern_len = v->len;
    return 0;
}

static int parse_email(sf_seed *s, seed_col *c, const sf_node *v)
{
    static const char *const keys[] = {"domain", "domains", "from", NULL};
    const sf_node *d;
    c->email_from = -1;
    if (v && !sf_node_is_null(v)) {
        if (want(s, v, SF_NODE_MAP, "email") || check_keys(s, v, "email", keys))
            return SF_ECONFIG;
        if (sf_node_get(v, "domain") && sf_node_get(v, "domains"))
            return sf_node_error(&s->err, SF_ECONFIG, v, "email takes domain or domains, not both");
    }
    d = v ? sf_node_get(v, "domains") : NULL;
    if (d) {
        if (want(s, d, SF_NODE_SEQ, "email domains"))
            return SF_ECONFIG;
        if (!d->n)
            return sf_node_error(&s->err, SF_ECONFIG, d, "email domains must not be empty");
    } else if (v && (d = sf_node_get(v, "domain")) != NULL) {
        if (want(s, d, SF_NODE_SCALAR, "email domain"))
            return SF_ECONFIG;
    }
    c->ndomains = d && d->kind == SF_NODE_SEQ ? d->n : 1;
    c->domains = calloc(c->ndomains, sizeof(*c->domains));
    if (!c->domains)
        return oom(s);
    for (size_t i = 0; i < c->ndomains; i++) {
        const sf_node *dn = d ? (d->kind == SF_NODE_SEQ ? d->vals[i] : d) : NULL;
        const char *txt = dn ? dn->str : "example.com";
        if (dn && want(s, dn, SF_NODE_SCALAR, "an email domain"))
            return SF_ECONFIG;
        if (!*txt || strlen(txt) > 200)
            return sf_node_error(&s->err, SF_ECONFIG, dn, "email domain must be 1-200 characters");
        for (const char *p = txt; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
                return sf_node_error(&s->err, SF_ECONFIG, dn,
                                     "email domain '%s' may only hold lower-case letters, digits, '.' and '-'", txt);
        if (!(c->domains[i].ptr = strdup(txt)))
            return oom(s);
        c->domains[i].len = strlen(txt);
        c->domains[i].node = dn;
    }
    return 0;
}

/* Pass 1 of a column: its generator and options (references between columns are resolved in pass 2). */
static int parse_column(sf_seed *s, size_t ti, seed_col *c, const sf_node *key, const sf_node *v)
{
    const sf_node *gen = NULL, *arg = NULL;
    c->key = key;
    c->node = v;
    c->tuple = -1;
    c->row_of = -1;
    c->email_from = -1;
    c->dict = -1;
    if (!(c->name = strdup(key->str)))
        return oom(s);
    if (!key->len || memchr(key->str, '\0', key->len))
        return sf_node_error(&s->err, SF_ECONFIG, key, "column name must be non-empty text");
    if (v->kind == SF_NODE_SCALAR) {
        if (strcmp(v->str, "seq") == 0)
            c->kind = SG_SEQ;
        else if (strcmp(v->str, "email") == 0)
            c->kind = SG_EMAIL;
        else
            return sf_node_error(&s->err, SF_ECONFIG, v, "unknown generator '%s' (a bare name may be seq or email; "
                                 "otherwise write {GENERATOR: ...}, one of: " GEN_LIST ")", v->str);
        gen = v;
    } else if (v->kind == SF_NODE_MAP) {
        for (size_t i = 0; i < v->n; i++) {
            const char *k = v->keys[i]->str;
            int g;
            for (g = 0; g < SG__COUNT; g++)
                if (strcmp(k, gen_names[g]) == 0)
                    break;
            if (g < SG__COUNT) {
                if (gen)
                    return sf_node_error(&s->err, SF_ECONFIG, v->keys[i],
                                         "column '%s' has two generators ('%s' and '%s')", c->name, gen->str, k);
                gen = v->keys[i];
                arg = v->vals[i];
                c->kind = (seed_gen_kind)g;
            } else if (strcmp(k, "unique") && strcmp(k, "null") && strcmp(k, "skew") && strcmp(k, "s") &&
                       strcmp(k, "row_of") && strcmp(k, "scale") && strcmp(k, "from")) {
                return sf_node_error(&s->err, SF_ECONFIG, v->keys[i],
                                     "unknown generator or option '%s' (generators: " GEN_LIST
                                     "; options: unique, null; ref also takes skew, s, row_of, from; expr takes scale)",
                                     k);
            }
        }
        if (!gen)
            return sf_node_error(&s->err, SF_ECONFIG, v, "column '%s' has no generator (one of: " GEN_LIST ")",
                                 c->name);
    } else {
        return sf_node_error(&s->err, SF_ECONFIG, v, "column '%s': a generator must be a name or a mapping, not a %s",
                             c->name, sf_node_kind_name(v));
    }

    if (v->kind == SF_NODE_MAP) {
        const sf_node *u = sf_node_get(v, "unique");
        if (u && sf_node_bool(&c->unique, u, &s->err) < 0)
            return SF_ECONFIG;
        if (opt_num(s, &c->null_ratio, v, "null"))
            return s->err.code;
        for (size_t i = 0; i < v->n; i++) {
            const char *k = v->keys[i]->str;
            if (c->kind != SG_REF && (!strcmp(k, "skew") || !strcmp(k, "s") || !strcmp(k, "row_of") || !strcmp(k, "from")))
                return sf_node_error(&s->err, SF_ECONFIG, v->keys[i], "option '%s' only applies to ref", k);
            if (c->kind != SG_EXPR && !strcmp(k, "scale"))
                return sf_node_error(&s->err, SF_ECONFIG, v->keys[i],
                                     "option 'scale' only applies to expr (decimal takes {decimal: {min, max, scale}})");
        }
    }

    switch (c->kind) {
    case SG_SEQ:
        if (arg && !sf_node_is_null(arg)) {
            static const char *const keys[] = {"start", "step", "after", NULL};
            const sf_node *after = NULL;
            if (want(s, arg, SF_NODE_MAP, "seq") || check_keys(s, arg, "seq", keys))
                return SF_ECONFIG;
            if (opt_num(s, &c->start, arg, "start") || opt_num(s, &c->step, arg, "step"))
                return s->err.code;
            if ((after = sf_node_get(arg, "after")) != NULL) {
                if (after->kind != SF_NODE_SCALAR || strcmp(after->str, "max") != 0)
                    return sf_node_error(&s->err, SF_ECONFIG, after,
                                         "seq after must be 'max' (start after the target column's largest value)");
                c->seq_after_max = 1;
                c->after_node = after;
            }
        }
        return 0;
    case SG_REF: {
        const sf_node *skew = sf_node_get(v, "skew");
        if (ref_from(s, c, ti, v) || resolve_ref(s, c, ti, arg))
            return s->err.code;
        c->ref_node = arg;
        if (skew) {
            if (want(s, skew, SF_NODE_SCALAR, "skew"))
                return SF_ECONFIG;
            if (strcmp(skew->str, "zipf") == 0)
                c->zipf = 1;
            else if (strcmp(skew->str, "uniform") != 0)
                return sf_node_error(&s->err, SF_ECONFIG, skew, "skew must be zipf or uniform, got '%s'", skew->str);
        }
        if (sf_node_get(v, "s")) {
            if (!c->zipf)
                return sf_node_error(&s->err, SF_ECONFIG, sf_node_get(v, "s"), "'s' (the zipf exponent) needs skew: zipf");
            if (opt_num(s, &c->zipf_s, v, "s"))
                return s->err.code;
        }
        return 0;
    }
    case SG_DICT:
        if (want(s, arg, SF_NODE_SCALAR, "dict"))
            return SF_ECONFIG;
        if ((c->dict = seed_dict_find(arg->str)) < 0)
            return sf_node_error(&s->err, SF_ECONFIG, arg, "unknown dictionary '%s' (one of: %s)", arg->str,
                                 seed_dict_names());
        return 0;
    case SG_EMAIL:
        return parse_email(s, c, arg);
    case SG_INT:
        return parse_range(s, c, arg, "int", 0);
    case SG_DECIMAL:
        return parse_range(s, c, arg, "decimal", 1);
    case SG_DATE:
    case SG_TIMESTAMP:
        return parse_dates(s, c, arg, c->kind == SG_TIMESTAMP);
    case SG_PICK:
        if (arg->kind != SF_NODE_SEQ && arg->kind != SF_NODE_MAP)
            return sf_node_error(&s->err, SF_ECONFIG, arg, "pick takes a list of values or {values, weights}");
        return parse_pick(s, c, arg);
    case SG_CONST:
        c->values = calloc(1, sizeof(*c->values));
        if (!c->values)
            return oom(s);
        c->nvalues = 1;
        return str_of(s, &c->values[0], arg, "const");
    case SG_PATTERN:
        return parse_pattern(s, c, arg);
    case SG_EXPR:
        if (want(s, arg, SF_NODE_SCALAR, "expr"))
            return SF_ECONFIG;
        c->scale = -1;
        if (sf_node_get(v, "scale")) {
            long long sc;
            if (sf_node_i64(&sc, sf_node_get(v, "scale"), 0, 15, &s->err) < 0)
                return SF_ECONFIG;
            c->scale = (int)sc;
        }
        return 0;
    default:
        return sf_error_set(&s->err, SF_EINTERNAL, "unhandled generator");
    }
}

/* ---- pass 2: references between columns of one table ---------------- */

struct expr_ctx {
    seed_table *t;
};

static int ident_column(void *ud, const char *name, size_t len)
{
    seed_table *t = ud;
    for (size_t i = 0; i < t->ncols; i++)
        if (strlen(t->cols[i].name) == len && memcmp(t->cols[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static int sibling(sf_seed *s, seed_table *t, const sf_node *n, const char *what, int *out)
{
    if (want(s, n, SF_NODE_SCALAR, what))
        return SF_ECONFIG;
    *out = ident_column(t, n->str, n->len);
    if (*out < 0)
        return sf_node_error(&s->err, SF_ECONFIG, n, "%s '%s' is not a column of this table", what, n->str);
    return 0;
}

/* Do two refs read the same parent table (in the spec, or the same table of the target)? */
static int same_parent(const seed_col *a, const seed_col *b)
{
    if (a->ref_from != b->ref_from)
        return 0;
    if (a->ref_from != REF_NEW)
        return !strcmp(a->ext_schema, b->ext_schema) && !strcmp(a->ext_table, b->ext_table);
    return a->ref_table == b->ref_table;
}

static int link_columns(sf_seed *s, seed_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        seed_col *c = &t->cols[i];
        const sf_node *n;
        if (c->kind == SG_REF && (n = sf_node_get(c->node, "row_of")) != NULL) {
            seed_col *o;
            if (sibling(s, t, n, "row_of", &c->row_of))
                return SF_ECONFIG;
            o = &t->cols[c->row_of];
            if ((size_t)c->row_of == i || o->kind != SG_REF || !same_parent(o, c) || o->row_of >= 0 ||
                sf_node_get(o->node, "row_of")) {
                char parent[300];
                if (c->ref_from != REF_NEW)
                    snprintf(parent, sizeof(parent), "%s.%s", c->ext_schema, c->ext_table);
                else
                    snprintf(parent, sizeof(parent), "%s", s->tables[c->ref_table].display);
                return sf_node_error(&s->err, SF_ECONFIG, n,
                                     "row_of '%s' must name another column of this table that is a ref to %s "
                                     "(without row_of itself)",
                                     n->str, parent);
            }
            if (c->zipf || c->unique)
                return sf_node_error(&s->err, SF_ECONFIG, n, "row_of takes its parent row from '%s'; "
                                     "skew and unique do not apply", n->str);
        }
        if (c->kind == SG_EMAIL && c->node->kind == SF_NODE_MAP) {
            const sf_node *a = sf_node_get(c->node, "email");
            if (a && (n = sf_node_get(a, "from")) != NULL) {
                if (sibling(s, t, n, "email from", &c->email_from))
                    return SF_ECONFIG;
                if ((size_t)c->email_from == i)
                    return sf_node_error(&s->err, SF_ECONFIG, n, "email from names the column itself");
            }
        }
        if (c->kind == SG_EXPR) {
            const sf_node *a = sf_node_get(c->node, "expr");
            if (seed_expr_compile(&c->expr, a, ident_column, t, &s->err) < 0)
                return s->err.code;
        }
    }
    return 0;
}

/* Column evaluation order: depth-first over dependencies, cycles are errors. */
struct topo {
    sf_seed *s;
    seed_table *t;
    unsigned char *state; /* 0 new, 1 in progress, 2 done */
    size_t n;
    int rc;
    size_t from;
};

static void visit(struct topo *tp, size_t i);

static void visit_slot(void *ud, int slot)
{
    struct topo *tp = ud;
    if (!tp->rc)
        visit(tp, (size_t)slot);
}

static void visit(struct topo *tp, size_t i)
{
    seed_col *c = &tp->t->cols[i];
    if (tp->rc || tp->state[i] == 2)
        return;
    if (tp->state[i] == 1) {
        tp->rc = sf_node_error(&tp->s->err, SF_ECONFIG, c->key, "column '%s' depends on itself through '%s'",
                               c->name, tp->t->cols[tp->from].name);
        return;
    }
    {
        size_t saved = tp->from;
        tp->state[i] = 1;
        tp->from = i;
        if (c->row_of >= 0)
            visit(tp, (size_t)c->row_of);
        if (c->email_from >= 0)
            visit(tp, (size_t)c->email_from);
        if (c->expr)
            seed_expr_slots(c->expr, visit_slot, tp);
        tp->from = saved;
    }
    tp->state[i] = 2;
    tp->t->order[tp->n++] = i;
}

static int order_columns(sf_seed *s, seed_table *t)
{
    struct topo tp = {s, t, NULL, 0, 0, 0};
    tp.state = calloc(t->ncols ? t->ncols : 1, 1);
    t->order = calloc(t->ncols ? t->ncols : 1, sizeof(*t->order));
    if (!tp.state || !t->order) {
        free(tp.state);
        return oom(s);
    }
    for (size_t i = 0; i < t->ncols && !tp.rc; i++) {
        tp.from = i;
        visit(&tp, i);
    }
    free(tp.state);
    return tp.rc;
}

struct operand_check {
    sf_seed *s;
    seed_table *t;
    seed_col *c;
    int rc;
    int ext;    /* an operand is a ref to target rows: its scale is not known here */
};

static void check_operand(void *ud, int slot)
{
    struct operand_check *oc = ud;
    const seed_col *o = &oc->t->cols[slot];
    if (oc->rc)
        return;
    if (o->kind == SG_REF && o->ref_ext) {
        oc->ext = slot + 1;
        return;
    }
    if (o->vclass != VC_INT && o->vclass != VC_DEC)
        oc->rc = sf_node_error(&oc->s->err, SF_ECONFIG, sf_node_get(oc->c->node, "expr"),
                               "expr '%s' uses column '%s', which is not a number",
                               sf_node_get(oc->c->node, "expr")->str, o->name);
}

/* Value class and decimals of every column, in dependency order (refs look at earlier tables). */
static int classify(sf_seed *s, seed_table *t)
{
    for (size_t k = 0; k < t->ncols; k++) {
        seed_col *c = &t->cols[t->order[k]];
        switch (c->kind) {
        case SG_SEQ:
        case SG_INT: c->vclass = VC_INT; c->out_scale = 0; break;
        case SG_DECIMAL: c->vclass = VC_DEC; c->out_scale = c->scale; break;
        case SG_DATE: c->vclass = VC_DATE; break;
        case SG_TIMESTAMP: c->vclass = VC_TS; break;
        case SG_DICT:
        case SG_EMAIL:
        case SG_PATTERN: c->vclass = VC_TEXT; break;
        case SG_REF: {
            const seed_col *p;
            if (c->ref_ext) { /* values of a target column the spec does not generate */
                c->vclass = VC_ANY;
                c->out_scale = 0;
                break;
            }
            p = &s->tables[c->ref_table].cols[c->ref_col];
            c->vclass = p->vclass;
            c->out_scale = p->out_scale;
            break;
        }
        case SG_PICK:
        case SG_CONST: {
            int all_int = 1, all_num = 1, sc = 0, any = 0;
            for (size_t i = 0; i < c->nvalues; i++) {
                int is_int, vs;
                if (c->values[i].null)
                    continue;
                any = 1;
                vs = numeric_scale(c->values[i].ptr, c->values[i].len, &is_int);
                if (vs < 0) {
                    all_num = all_int = 0;
                    break;
                }
                if (!is_int)
                    all_int = 0;
                if (vs > sc)
                    sc = vs;
            }
            c->vclass = !any ? VC_ANY : all_int ? VC_INT : all_num ? VC_DEC : VC_ANY;
            c->out_scale = sc;
            break;
        }
        case SG_EXPR: {
            int *scales;
            int sc;
            struct operand_check oc = {s, t, c, 0, 0};
            seed_expr_slots(c->expr, check_operand, &oc);
            if (oc.rc)
                return oc.rc;
            if (oc.ext && c->scale < 0)
                return sf_node_error(&s->err, SF_ECONFIG, sf_node_get(c->node, "expr"),
                                     "expr '%s' reads '%s', a ref to the target's rows whose decimals are not known "
                                     "here; add scale: N",
                                     sf_node_get(c->node, "expr")->str, t->cols[oc.ext - 1].name);
            if (!(scales = calloc(t->ncols, sizeof(int))))
                return oom(s);
            for (size_t i = 0; i < t->ncols; i++)
                scales[i] = t->cols[i].vclass == VC_INT || t->cols[i].vclass == VC_DEC ? t->cols[i].out_scale : -2;
            sc = seed_expr_scale(c->expr, scales);
            free(scales);
            if (c->scale < 0 && sc < 0)
                return sf_node_error(&s->err, SF_ECONFIG, sf_node_get(c->node, "expr"),
                                     "expr '%s' divides, so its scale cannot be inferred; add scale: N",
                                     sf_node_get(c->node, "expr")->str);
            if (c->scale < 0)
                c->scale = sc > 15 ? 15 : sc;
            c->out_scale = c->scale;
            c->vclass = c->scale ? VC_DEC : VC_INT;
            break;
        }
        default: break;
        }
    }
    return 0;
}

/* expr values are not under our control: they cannot be promised unique. */
static int check_exprs(sf_seed *s, seed_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        seed_col *c = &t->cols[i];
        if (c->kind == SG_EXPR && c->unique)
            return sf_node_error(&s->err, SF_ECONFIG, c->key, "unique cannot be guaranteed for expr column '%s'",
                                 c->name);
    }
    return 0;
}

/* Table-level `unique: [a, b]` or `unique: [[a, b], [c, d]]`. */
static int parse_tuples(sf_seed *s, seed_table *t, const sf_node *u)
{
    size_t n;
    int nested;
    if (!u || sf_node_is_null(u))
        return 0;
    if (want(s, u, SF_NODE_SEQ, "table unique"))
        return SF_ECONFIG;
    nested = u->n && u->vals[0]->kind == SF_NODE_SEQ;
    n = nested ? u->n : 1;
    t->tuples = calloc(n ? n : 1, sizeof(*t->tuples));
    if (!t->tuples)
        return oom(s);
    for (size_t k = 0; k < n; k++) {
        const sf_node *list = nested ? u->vals[k] : u;
        seed_tuple *tp = &t->tuples[t->ntuples++];
        if (want(s, list, SF_NODE_SEQ, "a unique column list"))
            return SF_ECONFIG;
        if (list->n < 2)
            return sf_node_error(&s->err, SF_ECONFIG, list,
                                 "a table-level unique needs two or more columns (use unique: true on one column)");
        tp->node = list;
        tp->cols = calloc(list->n, sizeof(*tp->cols));
        if (!tp->cols)
            return oom(s);
        for (size_t j = 0; j < list->n; j++) {
            int ci;
            seed_col *c;
            if (sibling(s, t, list->vals[j], "unique column", &ci))
                return SF_ECONFIG;
            c = &t->cols[ci];
            if (c->tuple >= 0 || c->unique)
                return sf_node_error(&s->err, SF_ECONFIG, list->vals[j],
                                     "column '%s' is already unique on its own or in another unique list", c->name);
            if (c->kind == SG_SEQ || c->kind == SG_EMAIL || c->kind == SG_EXPR || c->row_of >= 0 || c->zipf)
                return sf_node_error(&s->err, SF_ECONFIG, list->vals[j],
                                     "column '%s' (%s%s) cannot be part of a unique list: it needs a generator with a "
                                     "finite set of values (ref, int, decimal, date, timestamp, pick, dict, pattern, const)",
                                     c->name, gen_names[c->kind],
                                     c->row_of >= 0 ? " with row_of" : c->zipf ? " with skew: zipf" : "");
            c->tuple = (int)k;
            c->tuple_pos = (int)j;
            tp->cols[tp->n++] = (size_t)ci;
        }
    }
    return 0;
}

static int check_unique_support(sf_seed *s, seed_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        seed_col *c = &t->cols[i];
        if (!c->unique)
            continue;
        if (c->kind == SG_REF && c->zipf)
            return sf_node_error(&s->err, SF_ECONFIG, c->key,
                                 "unique ref '%s' takes every parent row once; skew: zipf does not apply", c->name);
        if (c->kind == SG_PICK && c->weights)
            return sf_node_error(&s->err, SF_ECONFIG, c->key, "unique pick '%s' uses each value once; weights do not apply",
                                 c->name);
    }
    return 0;
}

static int parse_table(sf_seed *s, size_t ti, const sf_node *n)
{
    static const char *const keys[] = {"table", "rows", "columns", "unique", NULL};
    seed_table *t = &s->tables[ti];
    const sf_node *name = sf_node_get(n, "table"), *rows = sf_node_get(n, "rows"), *cols = sf_node_get(n, "columns");
    sf_buf schema = SF_BUF_INIT, tname = SF_BUF_INIT, disp = SF_BUF_INIT;
    int rc = 0;
    t->node = n;
    if (want(s, n, SF_NODE_MAP, "a table entry") || check_keys(s, n, "a table entry", keys))
        return SF_ECONFIG;
    if (!name || !rows || !cols)
        return sf_node_error(&s->err, SF_ECONFIG, n, "a table entry needs table, rows and columns");
    if (want(s, name, SF_NODE_SCALAR, "table"))
        return SF_ECONFIG;
    t->table_node = name;
    if (sf_ident_qualified(&schema, &tname, name->str, name->len, "public") < 0 || !tname.len) {
        rc = sf_node_error(&s->err, SF_ECONFIG, name, "'%s' is not a table name (schema.table, SQL quoting allowed)",
                           name->str);
        goto out;
    }
    if (seed_ident_quote(&disp, schema.ptr, schema.len) || sf_buf_addc(&disp, '.') ||
        seed_ident_quote(&disp, tname.ptr, tname.len)) {
        rc = oom(s);
        goto out;
    }
    t->schema = sf_buf_detach(&schema, NULL);
    t->name = sf_buf_detach(&tname, NULL);
    t->display = sf_buf_detach(&disp, NULL);
    for (size_t i = 0; i < ti; i++)
        if (!strcmp(s->tables[i].schema, t->schema) && !strcmp(s->tables[i].name, t->name)) {
            rc = sf_node_error(&s->err, SF_ECONFIG, name, "table %s is listed twice (first at line %u)", t->display,
                               s->tables[i].table_node->line);
            goto out;
        }
    if ((rc = parse_num(s, &t->rows, rows)))
        goto out;
    if (want(s, cols, SF_NODE_MAP, "columns")) {
        rc = SF_ECONFIG;
        goto out;
    }
    if (!cols->n) {
        rc = sf_node_error(&s->err, SF_ECONFIG, cols, "columns must name at least one column");
        goto out;
    }
    t->cols = calloc(cols->n, sizeof(*t->cols));
    if (!t->cols) {
        rc = oom(s);
        goto out;
    }
    for (size_t i = 0; i < cols->n; i++) {
        t->ncols++;
        if ((rc = parse_column(s, ti, &t->cols[i], cols->keys[i], cols->vals[i])))
            goto out;
    }
    if ((rc = link_columns(s, t)) || (rc = order_columns(s, t)) || (rc = classify(s, t)) ||
        (rc = check_exprs(s, t)) || (rc = parse_tuples(s, t, sf_node_get(n, "unique"))) ||
        (rc = check_unique_support(s, t)))
        goto out;
out:
    sf_buf_free(&schema);
    sf_buf_free(&tname);
    sf_buf_free(&disp);
    return rc;
}

/*
 * Parse the whole document into s. On error s->err names the position and
 * the partial model is left for seed_spec_free_model().
 */
int seed_spec_parse(sf_seed *s, const sf_node *root)
{
    static const char *const keys[] = {"version", "params", "profiles", "tables", NULL};
    const sf_node *ver, *tables;
    long long v;
    if (want(s, root, SF_NODE_MAP, "a seed spec") || check_keys(s, root, "a seed spec", keys))
        return SF_ECONFIG;
    ver = sf_node_get(root, "version");
    if (!ver)
        return sf_node_error(&s->err, SF_ECONFIG, root, "a seed spec needs 'version: 1'");
    if (sf_node_i64(&v, ver, 1, 1, &s->err) < 0)
        return sf_node_error(&s->err, SF_ECONFIG, ver, "unsupported seed spec version '%s' (expected 1)", ver->str);
    if (parse_params(s, sf_node_get(root, "params")) || parse_profiles(s, sf_node_get(root, "profiles"), 1) ||
        parse_profiles(s, sf_node_get(root, "profiles"), 2))
        return s->err.code;
    tables = sf_node_get(root, "tables");
    if (!tables)
        return sf_node_error(&s->err, SF_ECONFIG, root, "a seed spec needs 'tables:'");
    if (want(s, tables, SF_NODE_SEQ, "tables"))
        return SF_ECONFIG;
    s->tables = calloc(tables->n ? tables->n : 1, sizeof(*s->tables));
    if (!s->tables)
        return oom(s);
    s->tables_node = tables;
    for (size_t i = 0; i < tables->n; i++) {
        s->ntables++;
        if (parse_table(s, i, tables->vals[i]))
            return s->err.code;
    }
    return 0;
}

static void free_strs(seed_str *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].ptr);
    free(v);
}

/* Free everything seed_spec_parse built (also after a partial parse); s itself stays. */
void seed_spec_free_model(sf_seed *s)
{
    for (size_t i = 0; i < s->ntables; i++) {
        seed_table *t = &s->tables[i];
        for (size_t j = 0; j < t->ncols; j++) {
            seed_col *c = &t->cols[j];
            free(c->name);
            free_num(&c->null_ratio);
            free_num(&c->start);
            free_num(&c->step);
            free_num(&c->zipf_s);
            free_num(&c->min);
            free_num(&c->max);
            free_num(&c->days);
            free_strs(c->domains, c->ndomains);
            free_strs(c->values, c->nvalues);
            if (c->weights)
                for (size_t k = 0; k < c->nvalues; k++)
                    free_num(&c->weights[k]);
            free(c->weights);
            free(c->cum);
            free(c->pattern);
            seed_expr_free(c->expr);
            free(c->expr_cols);
            free(c->sequence);
            free(c->ext_schema);
            free(c->ext_table);
            free(c->ext_col);
            seed_remap_free(&c->remap);
        }
        for (size_t j = 0; j < t->ntuples; j++) {
            free(t->tuples[j].cols);
            seed_remap_free(&t->tuples[j].remap);
        }
        free(t->tuples);
        free(t->cols);
        free(t->order);
        free_num(&t->rows);
        free(t->schema);
        free(t->name);
        free(t->display);
    }
    free(s->tables);
    for (size_t i = 0; i < s->nparams; i++)
        free(s->params[i].name);
    free(s->params);
    for (size_t i = 0; i < s->nprofiles; i++) {
        free(s->profiles[i].name);
        free(s->profiles[i].param);
        free(s->profiles[i].vals);
    }
    free(s->profiles);
    s->tables = NULL;
    s->params = NULL;
    s->profiles = NULL;
    s->ntables = s->nparams = s->nprofiles = 0;
}
