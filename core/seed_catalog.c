/*
 * Validation of a resolved spec against the target database's catalog,
 * before anything is written: tables and columns exist, every generator
 * fits its column's type (integer ranges, numeric precision/scale,
 * varchar/char lengths, enum labels, booleans), NOT NULL columns the spec
 * leaves out have defaults, and the target's unique and foreign keys are
 * promised by the generators (unique / seq / email / composite `unique:`
 * lists; `ref`s to the referenced table and column). Errors are
 * SF_ECONFIG at the spec position that has to change.
 *
 * Dictionary values longer than a varchar(n)/char(n) column are cut to n
 * characters (dictionary contents are not the spec author's to shorten);
 * every other value that could be too long is an error.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "seed_internal.h"

typedef enum { TK_INT, TK_NUMERIC, TK_FLOAT, TK_MONEY, TK_TEXT, TK_DATE, TK_TS, TK_BOOL, TK_ENUM, TK_OTHER } tkind;

typedef struct target_col {
    char *name;
    int notnull, hasdef, generated;
    tkind k;
    int64_t lo, hi;   /* TK_INT */
    int prec, scale;  /* TK_NUMERIC, -1 = unconstrained */
    int len;          /* TK_TEXT: characters, -1 = unbounded */
    char *type;       /* format_type(), for messages */
    char *sequence;
    char *typoid;     /* enum type oid (text) */
    int used;
} target_col;

struct cat {
    sf_seed *s;
    PGconn *conn;
};

static int db_error(struct cat *k, PGresult *res, const char *what)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(k->conn);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    sf_error_set(&k->s->err, SF_EDB, "%s: %.*s", what, (int)n, msg);
    PQclear(res);
    return SF_EDB;
}

static PGresult *query(struct cat *k, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(k->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_error(k, res, "reading the target's catalog");
        return NULL;
    }
    return res;
}

static const char SQL_TABLE[] =
    "SELECT c.oid, c.relkind FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2";

static const char SQL_COLUMNS[] =
    "SELECT a.attname, a.attnotnull OR COALESCE(t.typnotnull, false), a.atthasdef OR t.typdefault IS NOT NULL, "
    "  a.attidentity <> '' , a.attgenerated <> '', "
    "  COALESCE(bt.typtype, t.typtype), COALESCE(bt.typname, t.typname), "
    "  CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, "
    "  a.attndims > 0 OR COALESCE(bt.typcategory, t.typcategory) = 'A', "
    "  COALESCE(bt.oid, t.oid)::text, pg_catalog.format_type(a.atttypid, a.atttypmod), "
    "  pg_catalog.pg_get_serial_sequence(pg_catalog.quote_ident(n.nspname) || '.' || "
    "                                    pg_catalog.quote_ident(c.relname), a.attname) "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

static const char SQL_UNIQUE[] =
    "SELECT i.indexrelid::text, a.attname FROM pg_catalog.pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = $1::oid AND i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL "
    "ORDER BY i.indexrelid, k.ord";

static const char SQL_FKEYS[] =
    "SELECT con.oid::text, a.attname, rn.nspname, rc.relname, ra.attname "
    "FROM pg_catalog.pg_constraint con "
    "CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(att, ratt, ord) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.att "
    "JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid "
    "JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace "
    "JOIN pg_catalog.pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.ratt "
    "WHERE con.conrelid = $1::oid AND con.contype = 'f' ORDER BY con.oid, k.ord";

static const char SQL_ENUM[] = "SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1::oid";

static void classify_type(target_col *tc, const char *typtype, const char *name, int typmod, int array)
{
    tc->prec = tc->scale = tc->len = -1;
    tc->k = TK_OTHER;
    if (array)
        return;
    if (*typtype == 'e') {
        tc->k = TK_ENUM;
    } else if (!strcmp(name, "int2")) {
        tc->k = TK_INT;
        tc->lo = -32768;
        tc->hi = 32767;
    } else if (!strcmp(name, "int4")) {
        tc->k = TK_INT;
        tc->lo = INT32_MIN;
        tc->hi = INT32_MAX;
    } else if (!strcmp(name, "int8")) {
        tc->k = TK_INT;
        tc->lo = INT64_MIN;
        tc->hi = INT64_MAX;
    } else if (!strcmp(name, "numeric")) {
        tc->k = TK_NUMERIC;
        if (typmod >= 4) {
            int m = typmod - 4;
            tc->prec = (m >> 16) & 0xFFFF;
            tc->scale = (((m & 0x7FF) ^ 1024) - 1024);
        }
    } else if (!strcmp(name, "float4") || !strcmp(name, "float8")) {
        tc->k = TK_FLOAT;
    } else if (!strcmp(name, "money")) {
        tc->k = TK_MONEY;
    } else if (!strcmp(name, "text") || !strcmp(name, "varchar") || !strcmp(name, "bpchar") ||
               !strcmp(name, "citext") || !strcmp(name, "name")) {
        tc->k = TK_TEXT;
        if ((!strcmp(name, "varchar") || !strcmp(name, "bpchar")) && typmod >= 4)
            tc->len = typmod - 4;
    } else if (!strcmp(name, "date")) {
        tc->k = TK_DATE;
    } else if (!strcmp(name, "timestamp") || !strcmp(name, "timestamptz")) {
        tc->k = TK_TS;
    } else if (!strcmp(name, "bool")) {
        tc->k = TK_BOOL;
    }
}

static const char *gen_name(const seed_col *c)
{
    static const char *const n[SG__COUNT] = {"seq", "ref", "dict", "email", "int", "decimal", "date",
                                             "timestamp", "pick", "const", "pattern", "expr"};
    return n[c->kind];
}

/* Does a ref (directly or through its parents' refs) copy values of the target's existing rows? */
static int reads_target(const sf_seed *s, const seed_col *c)
{
    while (c->kind == SG_REF) {
        if (c->ref_from != REF_NEW)
            return 1;
        c = &s->tables[c->ref_table].cols[c->ref_col];
    }
    return 0;
}

/* Longest value in characters as written (truncation and refs followed); 0 = unknown. */
static size_t eff_chars(const sf_seed *s, const seed_col *c)
{
    if (c->truncate_chars)
        return c->truncate_chars;
    if (c->kind == SG_REF && reads_target(s, c))
        return 0;
    if (c->kind == SG_REF)
        return eff_chars(s, &s->tables[c->ref_table].cols[c->ref_col]);
    return c->max_chars;
}

static int mismatch(struct cat *k, const seed_table *t, const seed_col *c, const target_col *tc, const char *why)
{
    return sf_node_error(&k->s->err, SF_ECONFIG, c->node, "column '%s' of %s is %s, but %s", c->name, t->display,
                         tc->type, why);
}

static int check_length(struct cat *k, const seed_table *t, seed_col *c, const target_col *tc)
{
    size_t m = eff_chars(k->s, c);
    char why[160];
    if (tc->len < 0 || m == 0 || m <= (size_t)tc->len)
        return 0;
    if (c->kind == SG_DICT && !c->unique && c->tuple < 0) {
        c->truncate_chars = (size_t)tc->len;
        sf_log(SF_LOG_INFO, "%s.%s: dictionary values longer than %d characters are cut to fit %s", t->display,
               c->name, tc->len, tc->type);
        return 0;
    }
    snprintf(why, sizeof(why), "the %s generator makes values of up to %zu characters%s", gen_name(c), m,
             c->kind == SG_DICT ? " (a unique dictionary column cannot be cut to fit)" : "");
    return mismatch(k, t, c, tc, why);
}

static int is_bool_literal(const char *v)
{
    static const char *const ok[] = {"t", "f", "true", "false", "yes", "no", "on", "off", "1", "0", "y", "n"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strcasecmp(v, ok[i]))
            return 1;
    return 0;
}

static int check_values(struct cat *k, const seed_table *t, seed_col *c, const target_col *tc)
{
    PGresult *res = NULL;
    int rc = 0;
    if (tc->k == TK_ENUM) {
        const char *p[1] = {tc->typoid};
        if (!(res = query(k, SQL_ENUM, 1, p)))
            return SF_EDB;
    }
    for (size_t i = 0; i < c->nvalues && !rc; i++) {
        const seed_str *v = &c->values[i];
        if (v->null)
            continue;
        if (tc->k == TK_BOOL && !is_bool_literal(v->ptr))
            rc = sf_node_error(&k->s->err, SF_ECONFIG, v->node, "'%s' is not a boolean (column '%s' of %s is %s)",
                               v->ptr, c->name, t->display, tc->type);
        if (tc->k == TK_ENUM) {
            int found = 0;
            for (int r = 0; r < PQntuples(res) && !found; r++)
                found = !strcmp(PQgetvalue(res, r, 0), v->ptr);
            if (!found)
                rc = sf_node_error(&k->s->err, SF_ECONFIG, v->node, "'%s' is not a label of enum %s (column '%s' of %s)",
                                   v->ptr, tc->type, c->name, t->display);
        }
        if ((tc->k == TK_INT || tc->k == TK_NUMERIC || tc->k == TK_FLOAT || tc->k == TK_MONEY) && c->vclass == VC_ANY)
            rc = sf_node_error(&k->s->err, SF_ECONFIG, v->node, "'%s' is not a number (column '%s' of %s is %s)",
                               v->ptr, c->name, t->display, tc->type);
    }
    PQclear(res);
    return rc;
}

static int check_number(struct cat *k, const seed_table *t, seed_col *c, const target_col *tc)
{
    char why[200];
    int known = c->kind != SG_EXPR;
    if (tc->k == TK_INT) {
        if (c->vclass == VC_DEC) {
            snprintf(why, sizeof(why), "the %s generator makes numbers with %d decimals", gen_name(c), c->out_scale);
            return mismatch(k, t, c, tc, why);
        }
        if (known && (c->lo < tc->lo || c->hi > tc->hi)) {
            snprintf(why, sizeof(why), "the %s generator makes values from %lld to %lld", gen_name(c),
                     (long long)c->lo, (long long)c->hi);
            return mismatch(k, t, c, tc, why);
        }
    } else if (tc->k == TK_NUMERIC && tc->prec > 0) {
        if (tc->scale >= 0 && c->out_scale > tc->scale) {
            snprintf(why, sizeof(why), "the %s generator makes numbers with %d decimals (they would be rounded)",
                     gen_name(c), c->out_scale);
            return mismatch(k, t, c, tc, why);
        }
        if (known && c->max_abs >= 0) {
            int int_digits = tc->prec - (tc->scale > 0 ? tc->scale : 0);
            int64_t v = c->max_abs;
            int nd = 0;
            while (v) {
                nd++;
                v /= 10;
            }
            if (nd > int_digits) {
                snprintf(why, sizeof(why), "the %s generator makes values up to %lld, which need %d integer digits",
                         gen_name(c), (long long)c->max_abs, nd);
                return mismatch(k, t, c, tc, why);
            }
        }
    }
    return 0;
}

/* One generated column against its target column. */
static int check_column(struct cat *k, const seed_table *t, seed_col *c, const target_col *tc)
{
    char why[200];
    seed_vclass vc = c->vclass;
    if (tc->generated)
        return sf_node_error(&k->s->err, SF_ECONFIG, c->key, "column '%s' of %s is a generated column and cannot be "
                             "written; remove it from the spec", c->name, t->display);
    if (tc->notnull) {
        if (c->null_ratio.expr && c->null_p > 0)
            return sf_node_error(&k->s->err, SF_ECONFIG, c->null_ratio.node, "column '%s' of %s is NOT NULL, but "
                                 "null is %g", c->name, t->display, c->null_p);
        for (size_t i = 0; i < c->nvalues; i++)
            if (c->values[i].null)
                return sf_node_error(&k->s->err, SF_ECONFIG, c->values[i].node,
                                     "column '%s' of %s is NOT NULL, but this value is null", c->name, t->display);
    }
    if (c->kind == SG_SEQ && c->seq_after_max) {
        if (tc->k != TK_INT)
            return sf_node_error(&k->s->err, SF_ECONFIG, c->after_node,
                                 "column '%s' of %s is %s: seq after: max needs an integer column (smallint, integer, "
                                 "bigint) to read a usable MAX from",
                                 c->name, t->display, tc->type);
        c->tlo = tc->lo;
        c->thi = tc->hi;
    }
    if (c->kind == SG_REF && reads_target(k->s, c))
        return 0; /* values of a target column: PostgreSQL checks them, inside the load's transaction */
    if ((c->kind == SG_PICK || c->kind == SG_CONST) && check_values(k, t, c, tc))
        return k->s->err.code;
    if (c->kind == SG_REF && (c->vclass == VC_ANY)) {
        /* values come from the parent column; its own check covered their form */
        vc = VC_ANY;
    }
    switch (tc->k) {
    case TK_INT:
    case TK_NUMERIC:
    case TK_FLOAT:
    case TK_MONEY:
        if (vc == VC_INT || vc == VC_DEC)
            return check_number(k, t, c, tc);
        if (vc == VC_ANY && (c->kind == SG_PICK || c->kind == SG_CONST))
            return 0; /* check_values reported non-numbers */
        snprintf(why, sizeof(why), "the %s generator makes %s", gen_name(c),
                 vc == VC_DATE ? "dates" : vc == VC_TS ? "timestamps" : "text");
        return mismatch(k, t, c, tc, why);
    case TK_TEXT:
        return check_length(k, t, c, tc);
    case TK_DATE:
        if (vc == VC_DATE || vc == VC_ANY)
            return 0;
        snprintf(why, sizeof(why), "the %s generator makes %s", gen_name(c),
                 vc == VC_TS ? "timestamps (use date)" : vc == VC_TEXT ? "text" : "numbers");
        return mismatch(k, t, c, tc, why);
    case TK_TS:
        if (vc == VC_DATE || vc == VC_TS || vc == VC_ANY)
            return 0;
        snprintf(why, sizeof(why), "the %s generator makes %s", gen_name(c), vc == VC_TEXT ? "text" : "numbers");
        return mismatch(k, t, c, tc, why);
    case TK_BOOL:
    case TK_ENUM:
        if (c->kind == SG_PICK || c->kind == SG_CONST || c->kind == SG_REF)
            return 0;
        snprintf(why, sizeof(why), "the %s generator cannot make its values (use pick or const)", gen_name(c));
        return mismatch(k, t, c, tc, why);
    default:
        if (c->kind == SG_PICK || c->kind == SG_CONST || c->kind == SG_REF)
            return 0; /* literal values: PostgreSQL checks them, inside the load's transaction */
        snprintf(why, sizeof(why), "the %s generator's values do not fit that type (use pick or const)", gen_name(c));
        return mismatch(k, t, c, tc, why);
    }
}

static int col_index(const seed_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name))
            return (int)i;
    return -1;
}

static int promises_unique(const seed_col *c)
{
    return c->kind == SG_SEQ || c->kind == SG_EMAIL || c->unique;
}

/* Every unique index of the target over generated columns must be promised by the spec. */
static int check_uniques(struct cat *k, const seed_table *t, const char *oid)
{
    const char *p[1] = {oid};
    PGresult *res = query(k, SQL_UNIQUE, 1, p);
    int n, i = 0, rc = 0;
    if (!res)
        return SF_EDB;
    n = PQntuples(res);
    while (i < n && !rc) {
        int j = i, all_generated = 1, ok = 0;
        int cols[64], nc = 0;
        while (j < n && !strcmp(PQgetvalue(res, j, 0), PQgetvalue(res, i, 0))) {
            int ci = col_index(t, PQgetvalue(res, j, 1));
            if (ci < 0)
                all_generated = 0;
            else if (nc < 64)
                cols[nc++] = ci;
            j++;
        }
        if (all_generated && nc) {
            for (int a = 0; a < nc && !ok; a++)
                ok = promises_unique(&t->cols[cols[a]]) || t->cols[cols[a]].null_p >= 1;
            for (size_t u = 0; u < t->ntuples && !ok; u++) {
                size_t covered = 0;
                for (size_t m = 0; m < t->tuples[u].n; m++)
                    for (int a = 0; a < nc; a++)
                        if ((size_t)cols[a] == t->tuples[u].cols[m])
                            covered++;
                ok = covered == t->tuples[u].n;
            }
            if (!ok) {
                sf_buf names = SF_BUF_INIT;
                for (int a = 0; a < nc; a++)
                    sf_buf_addf(&names, "%s%s", a ? ", " : "", t->cols[cols[a]].name);
                if (nc == 1)
                    rc = sf_node_error(&k->s->err, SF_ECONFIG, t->cols[cols[0]].node,
                                       "%s has a unique key on (%s), but the %s generator of '%s' does not promise "
                                       "unique values; add unique: true",
                                       t->display, names.ptr, gen_name(&t->cols[cols[0]]), t->cols[cols[0]].name);
                else
                    rc = sf_node_error(&k->s->err, SF_ECONFIG, t->table_node,
                                       "%s has a unique key on (%s), but the spec does not promise unique "
                                       "combinations; add unique: [%s] to the table entry",
                                       t->display, names.ptr, names.ptr);
                sf_buf_free(&names);
            }
        }
        i = j;
    }
    PQclear(res);
    return rc;
}

static int find_table(const sf_seed *s, const char *schema, const char *name)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (!strcmp(s->tables[i].schema, schema) && !strcmp(s->tables[i].name, name))
            return (int)i;
    return -1;
}

/*
 * Does a ref column's value come (directly or through parent refs) from
 * table pt's column `name` (pschema.ptable in the target)?
 */
static int ref_reaches(const sf_seed *s, const seed_col *c, size_t pt, const char *pschema, const char *ptable,
                       const char *name)
{
    while (c->kind == SG_REF) {
        const seed_col *p;
        if (c->ref_from == REF_EXISTING)
            return !strcmp(c->ext_schema, pschema) && !strcmp(c->ext_table, ptable) && !strcmp(c->ext_col, name);
        p = &s->tables[c->ref_table].cols[c->ref_col];
        if (c->ref_table == pt && !strcmp(p->name, name))
            return 1;
        c = p;
    }
    return 0;
}

static int root_of(const seed_col *cols, int ci)
{
    return cols[ci].row_of >= 0 ? cols[ci].row_of : ci;
}

/* Foreign keys over generated columns must be refs to the referenced columns, sharing one parent row. */
static int check_fkeys(struct cat *k, const seed_table *t, size_t ti, const char *oid)
{
    const char *p[1] = {oid};
    PGresult *res = query(k, SQL_FKEYS, 1, p);
    int n, i = 0, rc = 0;
    if (!res)
        return SF_EDB;
    n = PQntuples(res);
    while (i < n && !rc) {
        int j = i, pt = find_table(k->s, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3)), root = -1;
        while (j < n && !strcmp(PQgetvalue(res, j, 0), PQgetvalue(res, i, 0)))
            j++;
        if (pt < 0 || (size_t)pt >= ti) {
            /* referenced table not seeded by this spec (or seeded later): PostgreSQL checks it */
            if (pt >= 0 && (size_t)pt == ti) {
                for (int r = i; r < j && !rc; r++) {
                    int ci = col_index(t, PQgetvalue(res, r, 1));
                    if (ci >= 0 && t->cols[ci].kind == SG_REF && t->cols[ci].ref_from == REF_EXISTING &&
                        ref_reaches(k->s, &t->cols[ci], (size_t)pt, PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
                                    PQgetvalue(res, r, 4)))
                        continue; /* the table's own existing rows: they are there before the load */
                    if (ci >= 0 && t->cols[ci].null_p < 1)
                        rc = sf_node_error(&k->s->err, SF_ECONFIG, t->cols[ci].node,
                                           "'%s' references %s itself; self-references are not generated "
                                           "(use {const: null} or leave the column out)",
                                           t->cols[ci].name, t->display);
                }
            }
            i = j;
            continue;
        }
        for (int r = i; r < j && !rc; r++) {
            int ci = col_index(t, PQgetvalue(res, r, 1));
            const seed_col *c;
            if (ci < 0)
                continue;
            c = &t->cols[ci];
            if (c->null_p >= 1 || (c->kind == SG_CONST && c->values[0].null))
                continue;
            if (!ref_reaches(k->s, c, (size_t)pt, PQgetvalue(res, r, 2), PQgetvalue(res, r, 3), PQgetvalue(res, r, 4))) {
                rc = sf_node_error(&k->s->err, SF_ECONFIG, c->node,
                                   "'%s' is a foreign key to %s(%s); generate it with {ref: %s.%s}", c->name,
                                   k->s->tables[pt].display, PQgetvalue(res, r, 4), k->s->tables[pt].display,
                                   PQgetvalue(res, r, 4));
                break;
            }
            if (root < 0) {
                root = root_of(t->cols, ci);
            } else if (root_of(t->cols, ci) != root) {
                rc = sf_node_error(&k->s->err, SF_ECONFIG, c->node,
                                   "'%s' is part of a multi-column foreign key to %s; take it from the same parent "
                                   "row with row_of: %s",
                                   c->name, k->s->tables[pt].display, t->cols[root].name);
            }
        }
        i = j;
    }
    PQclear(res);
    return rc;
}

static void free_targets(target_col *tcs, int n)
{
    for (int i = 0; i < n; i++) {
        free(tcs[i].name);
        free(tcs[i].type);
        free(tcs[i].sequence);
        free(tcs[i].typoid);
    }
    free(tcs);
}

static int check_table(struct cat *k, size_t ti)
{
    seed_table *t = &k->s->tables[ti];
    const char *p2[2] = {t->schema, t->name};
    PGresult *res = query(k, SQL_TABLE, 2, p2);
    target_col *tcs = NULL;
    char oid[32];
    int n = 0, rc = 0;
    if (!res)
        return SF_EDB;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return sf_node_error(&k->s->err, SF_ECONFIG, t->table_node, "table %s does not exist in the target database",
                             t->display);
    }
    if (!strchr("rp", PQgetvalue(res, 0, 1)[0])) {
        PQclear(res);
        return sf_node_error(&k->s->err, SF_ECONFIG, t->table_node, "%s is not a table in the target database",
                             t->display);
    }
    snprintf(oid, sizeof(oid), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    {
        const char *p1[1] = {oid};
        if (!(res = query(k, SQL_COLUMNS, 1, p1)))
            return SF_EDB;
    }
    n = PQntuples(res);
    tcs = calloc(n ? (size_t)n : 1, sizeof(*tcs));
    if (!tcs) {
        PQclear(res);
        return sf_error_set(&k->s->err, SF_ENOMEM, "out of memory");
    }
    for (int r = 0; r < n; r++) {
        target_col *tc = &tcs[r];
        tc->name = strdup(PQgetvalue(res, r, 0));
        tc->notnull = PQgetvalue(res, r, 1)[0] == 't';
        tc->hasdef = PQgetvalue(res, r, 2)[0] == 't' || PQgetvalue(res, r, 3)[0] == 't';
        tc->generated = PQgetvalue(res, r, 4)[0] == 't';
        classify_type(tc, PQgetvalue(res, r, 5), PQgetvalue(res, r, 6), (int)strtol(PQgetvalue(res, r, 7), NULL, 10),
                      PQgetvalue(res, r, 8)[0] == 't');
        tc->typoid = strdup(PQgetvalue(res, r, 9));
        tc->type = strdup(PQgetvalue(res, r, 10));
        tc->sequence = PQgetisnull(res, r, 11) ? NULL : strdup(PQgetvalue(res, r, 11));
        if (!tc->name || !tc->typoid || !tc->type || (!PQgetisnull(res, r, 11) && !tc->sequence)) {
            PQclear(res);
            free_targets(tcs, n);
            return sf_error_set(&k->s->err, SF_ENOMEM, "out of memory");
        }
    }
    PQclear(res);
    for (size_t i = 0; i < t->ncols && !rc; i++) {
        seed_col *c = &t->cols[i];
        int found = -1;
        for (int r = 0; r < n; r++)
            if (!strcmp(tcs[r].name, c->name))
                found = r;
        if (found < 0) {
            rc = sf_node_error(&k->s->err, SF_ECONFIG, c->key, "column '%s' does not exist in %s", c->name,
                               t->display);
            break;
        }
        tcs[found].used = 1;
        c->truncate_chars = 0;
        rc = check_column(k, t, c, &tcs[found]);
        free(c->sequence);
        c->sequence = NULL;
        if (!rc && tcs[found].sequence && c->vclass == VC_INT) {
            c->sequence = tcs[found].sequence;
            tcs[found].sequence = NULL;
        }
    }
    for (int r = 0; r < n && !rc; r++)
        if (!tcs[r].used && tcs[r].notnull && !tcs[r].hasdef && !tcs[r].generated)
            rc = sf_node_error(&k->s->err, SF_ECONFIG, t->table_node,
                               "column '%s' of %s is NOT NULL without a default, and the spec does not generate it",
                               tcs[r].name, t->display);
    free_targets(tcs, n);
    if (!rc)
        rc = check_uniques(k, t, oid);
    if (!rc)
        rc = check_fkeys(k, t, ti, oid);
    return rc;
}

static const char SQL_HAS_COLUMN[] =
    "SELECT a.attnum FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attname = $3 "
    "AND a.attnum > 0 AND NOT a.attisdropped";

/* The target columns that refs from: existing / any read must be there. */
static int check_ref_targets(struct cat *k, const seed_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        const seed_col *c = &t->cols[i];
        const char *p[3];
        PGresult *res;
        int n;
        if (c->kind != SG_REF || c->ref_from == REF_NEW)
            continue;
        p[0] = c->ext_schema;
        p[1] = c->ext_table;
        p[2] = c->ext_col;
        if (!(res = query(k, SQL_HAS_COLUMN, 3, p)))
            return SF_EDB;
        n = PQntuples(res);
        PQclear(res);
        if (n != 1)
            return sf_node_error(&k->s->err, SF_ECONFIG, c->ref_node,
                                 "ref '%s' from: %s: the target has no column %s of a table %s.%s", c->ref_node->str,
                                 c->ref_from == REF_ANY ? "any" : "existing", c->ext_col, c->ext_schema, c->ext_table);
    }
    return 0;
}

/* Check every table in spec order (refs read their parent's truncation). */
int seed_catalog_check(sf_seed *s, PGconn *conn)
{
    struct cat k = {s, conn};
    for (size_t i = 0; i < s->ntables; i++)
        if (check_ref_targets(&k, &s->tables[i]) || check_table(&k, i))
            return s->err.code;
    return 0;
}
