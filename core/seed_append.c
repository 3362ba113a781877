/*
 * Seeding into a database that already has rows (a restored snapshot, an
 * earlier seed). Everything here runs inside the load's transaction, after
 * the spec's tables are locked against concurrent writers and before any
 * COPY, so what is read is exactly what the rows are checked against:
 *
 *   - `{seq: {after: max}}`: MAX(column), so new keys start past it;
 *   - refs `from: existing` / `from: any`: the parent's rows (the columns
 *     the ref and its row_of siblings copy), ordered by those columns so the
 *     same target contents give the same rows;
 *   - unique keys (seq, email, unique: true, table-level unique lists) of a
 *     table that has rows: every generated key is compared with the
 *     target's rows by PostgreSQL itself (a temporary table of the keys,
 *     joined with `=` of the column types), and each row that collides is
 *     moved to an unused index of its key's bijection, until none does.
 *     Generated keys stay distinct among themselves (a bijection, distinct
 *     indexes), so the result cannot violate the key.
 *
 * The outcome is a pure function of (spec, parameters, seed, target rows).
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include "seed_internal.h"
#include "stagefork/util.h"

#define KEY_BATCH 1024        /* rows of key text generated between flushes */
#define KEY_FLUSH (1u << 20)  /* bytes of key text handed to COPY at once */
#define MAX_KEY_COLS 64

static int db_err(sf_seed *s, PGconn *conn, PGresult *res, const char *what, const char *arg)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    sf_error_set(&s->err, SF_EDB, "%s %s: %.*s", what, arg, (int)n, msg);
    PQclear(res);
    return SF_EDB;
}

static int oom(sf_seed *s)
{
    return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
}

/* Append an identifier escaped by libpq. */
static int add_ident(sf_seed *s, PGconn *conn, sf_buf *out, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    int rc;
    if (!q)
        return db_err(s, conn, NULL, "quoting", name);
    rc = sf_buf_adds(out, q);
    PQfreemem(q);
    return rc ? oom(s) : 0;
}

static int add_table(sf_seed *s, PGconn *conn, sf_buf *out, const char *schema, const char *name)
{
    if (add_ident(s, conn, out, schema) || sf_buf_addc(out, '.') || add_ident(s, conn, out, name))
        return s->err.code ? s->err.code : oom(s);
    return 0;
}

static PGresult *query(sf_seed *s, PGconn *conn, const char *sql, const char *what, const char *arg)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        db_err(s, conn, res, what, arg);
        return NULL;
    }
    return res;
}

static int exec_sql(sf_seed *s, PGconn *conn, const char *sql, const char *what, const char *arg)
{
    PGresult *res = query(s, conn, sql, what, arg);
    if (!res)
        return SF_EDB;
    PQclear(res);
    return 0;
}

/* ---- reading the target --------------------------------------------- */

/* Writers wait until the load commits: MAXes and collision checks stay true. */
static int lock_tables(sf_seed *s, PGconn *conn)
{
    sf_buf sql = SF_BUF_INIT;
    int rc = 0;
    if (!s->ntables)
        return 0;
    if (sf_buf_adds(&sql, "LOCK TABLE "))
        rc = oom(s);
    for (size_t i = 0; i < s->ntables && !rc; i++)
        if ((i && sf_buf_adds(&sql, ", ")) || add_table(s, conn, &sql, s->tables[i].schema, s->tables[i].name))
            rc = s->err.code ? s->err.code : oom(s);
    if (!rc && sf_buf_adds(&sql, " IN SHARE ROW EXCLUSIVE MODE"))
        rc = oom(s);
    if (!rc)
        rc = exec_sql(s, conn, "SAVEPOINT sf_seed_lock", "locking", "the seeded tables");
    if (!rc) {
        /*
         * The lock needs UPDATE, DELETE or TRUNCATE; a role that may only
         * INSERT still seeds, with the checks true as of its snapshot.
         */
        PGresult *res = PQexec(conn, sql.ptr);
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            PQclear(res);
            rc = exec_sql(s, conn, "RELEASE SAVEPOINT sf_seed_lock", "locking", "the seeded tables");
        } else if (state && strcmp(state, "42501") == 0) {
            PQclear(res);
            sf_log(SF_LOG_WARN, "cannot lock the seeded tables against writers (no UPDATE/DELETE/TRUNCATE "
                                "privilege): maxima and unique checks see only rows committed before they run");
            rc = exec_sql(s, conn, "ROLLBACK TO SAVEPOINT sf_seed_lock", "locking", "the seeded tables");
        } else {
            rc = db_err(s, conn, res, "locking", "the seeded tables");
        }
    }
    sf_buf_free(&sql);
    return rc;
}

static int read_nonempty(sf_seed *s, PGconn *conn, seed_table *t)
{
    sf_buf sql = SF_BUF_INIT;
    PGresult *res = NULL;
    int rc = 0;
    if (sf_buf_adds(&sql, "SELECT EXISTS (SELECT 1 FROM ") || add_table(s, conn, &sql, t->schema, t->name) ||
        sf_buf_addc(&sql, ')'))
        rc = s->err.code ? s->err.code : oom(s);
    else if (!(res = query(s, conn, sql.ptr, "reading", t->display)))
        rc = SF_EDB;
    else
        t->nonempty = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    sf_buf_free(&sql);
    return rc;
}

static int read_max(sf_seed *s, PGconn *conn, seed_table *t, seed_col *c)
{
    sf_buf sql = SF_BUF_INIT;
    PGresult *res = NULL;
    int rc = 0;
    c->has_max = 0;
    if (sf_buf_adds(&sql, "SELECT max(") || add_ident(s, conn, &sql, c->name) || sf_buf_adds(&sql, ")::text FROM ") ||
        add_table(s, conn, &sql, t->schema, t->name))
        rc = s->err.code ? s->err.code : oom(s);
    else if (!(res = query(s, conn, sql.ptr, "reading the largest value of", c->name)))
        rc = SF_EDB;
    else if (!PQgetisnull(res, 0, 0)) {
        if (sf_parse_i64(&c->tmax, PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX) < 0)
            rc = sf_node_error(&s->err, SF_ECONFIG, c->after_node, "seq after: max: MAX(%s) of %s is '%s', not an integer",
                               c->name, t->display, PQgetvalue(res, 0, 0));
        else
            c->has_max = 1;
    }
    PQclear(res);
    sf_buf_free(&sql);
    return rc;
}

/*
 * The parent rows of ref root `ci` (from: existing / any): the columns it
 * and its row_of siblings copy, non-NULL in the root's column, in a stable
 * order. The result stays on the root until seed_append_release.
 */
static int read_existing(sf_seed *s, PGconn *conn, seed_table *t, size_t ci)
{
    seed_col *root = &t->cols[ci];
    sf_buf sql = SF_BUF_INIT, order = SF_BUF_INIT;
    const char *fields[MAX_KEY_COLS];
    int nf = 0, rc = 0;
    PGresult *res;
    for (size_t k = 0; k < t->ncols && !rc; k++) {
        seed_col *c = &t->cols[k];
        int f;
        if (k != ci && !(c->kind == SG_REF && c->row_of == (int)ci))
            continue;
        for (f = 0; f < nf; f++)
            if (!strcmp(fields[f], c->ext_col))
                break;
        if (f == nf) {
            if (nf == MAX_KEY_COLS)
                return sf_node_error(&s->err, SF_ECONFIG, c->key, "more than %d columns copied from one parent row",
                                     MAX_KEY_COLS);
            fields[nf++] = c->ext_col;
        }
        c->ex_field = f;
    }
    rc = sf_buf_adds(&sql, "SELECT ") ? oom(s) : 0;
    for (int f = 0; f < nf && !rc; f++) {
        if ((f && (sf_buf_adds(&sql, ", ") || sf_buf_adds(&order, ", "))) || add_ident(s, conn, &sql, fields[f]) ||
            sf_buf_addf(&order, "%d", f + 1))
            rc = s->err.code ? s->err.code : oom(s);
    }
    if (!rc && (sf_buf_adds(&sql, " FROM ") || add_table(s, conn, &sql, root->ext_schema, root->ext_table) ||
                sf_buf_adds(&sql, " WHERE ") || add_ident(s, conn, &sql, fields[0]) ||
                sf_buf_addf(&sql, " IS NOT NULL ORDER BY %s", order.ptr)))
        rc = s->err.code ? s->err.code : oom(s);
    if (!rc) {
        char what[300];
        snprintf(what, sizeof(what), "%s.%s", root->ext_schema, root->ext_table);
        if (!(res = query(s, conn, sql.ptr, "reading the existing rows of", what))) {
            rc = SF_EDB;
        } else {
            root->ex_res = res;
            for (size_t k = 0; k < t->ncols; k++)
                if (k == ci || (t->cols[k].kind == SG_REF && t->cols[k].row_of == (int)ci))
                    t->cols[k].ex_rows = PQntuples(res);
            sf_log(SF_LOG_INFO, "%s.%s: %s refers to %d existing rows of %s", t->display, root->name,
                   root->ref_from == REF_ANY ? "from: any" : "from: existing", PQntuples(res), what);
        }
    }
    sf_buf_free(&sql);
    sf_buf_free(&order);
    return rc;
}

/* ---- unique keys against the target --------------------------------- */

struct ukey {
    size_t cols[MAX_KEY_COLS];
    size_t n;
    seed_remap *map;
    uint64_t cap;             /* indexes the key's bijection has */
    const sf_node *node;
    char what[160];           /* "column 'sku'" / "combination (a, b)" */
};

static const char TMP[] = "stagefork_seed_keys";

/* COPY the key text of rows[] into the temporary table. */
static int copy_keys(sf_seed *s, PGconn *conn, seed_gen *g, size_t ti, const struct ukey *k, const int64_t *rows,
                     size_t nrows)
{
    sf_buf b = SF_BUF_INIT;
    PGresult *res = PQexec(conn, "COPY pg_temp.stagefork_seed_keys FROM STDIN");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COPY_IN)
        return db_err(s, conn, res, "checking the unique keys of", s->tables[ti].display);
    PQclear(res);
    for (size_t i = 0; i < nrows && !rc; i += KEY_BATCH) {
        size_t m = nrows - i < KEY_BATCH ? nrows - i : KEY_BATCH;
        if ((rc = seed_gen_key_rows(g, ti, k->cols, k->n, rows + i, m, &b)))
            break;
        if (b.len >= KEY_FLUSH || i + m == nrows) {
            if (PQputCopyData(conn, b.ptr, (int)b.len) != 1)
                rc = db_err(s, conn, NULL, "checking the unique keys of", s->tables[ti].display);
            sf_buf_clear(&b);
        }
    }
    if (PQputCopyEnd(conn, rc ? "stagefork seed stopped" : NULL) != 1 && !rc)
        rc = db_err(s, conn, NULL, "checking the unique keys of", s->tables[ti].display);
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc)
            rc = db_err(s, conn, res, "checking the unique keys of", s->tables[ti].display);
        else
            PQclear(res);
    }
    sf_buf_free(&b);
    return rc;
}

/* Rows of the temporary table whose key the target already has, ascending. */
static int collisions(sf_seed *s, PGconn *conn, const char *probe, const char *table, int64_t **rows, size_t *n)
{
    PGresult *res = query(s, conn, probe, "checking the unique keys of", table);
    int nt;
    *n = 0;
    if (!res)
        return SF_EDB;
    nt = PQntuples(res);
    free(*rows);
    *rows = malloc((nt ? (size_t)nt : 1) * sizeof(**rows));
    if (!*rows) {
        PQclear(res);
        return oom(s);
    }
    for (int i = 0; i < nt; i++)
        if (sf_parse_i64(&(*rows)[(*n)++], PQgetvalue(res, i, 0), 0, INT64_MAX) < 0) {
            PQclear(res);
            return sf_error_set(&s->err, SF_EINTERNAL, "bad row number from the key check");
        }
    PQclear(res);
    return 0;
}

/*
 * Move the rows of key k whose values the target has to unused indexes
 * (n, n+1, ...) of the key's bijection, re-checking the moved rows until
 * none collides. Indexes are handed out in row order, so the outcome only
 * depends on the target's contents.
 */
static int remap_key(sf_seed *s, PGconn *conn, seed_gen *g, size_t ti, struct ukey *k)
{
    seed_table *t = &s->tables[ti];
    sf_buf create = SF_BUF_INIT, probe = SF_BUF_INIT;
    int64_t *rows = NULL, *hit = NULL;
    size_t nhit = 0, moved = 0;
    uint64_t next = (uint64_t)t->nrows;
    int rc = 0;

    /* a table of the keys with the target's column types: PostgreSQL's own `=` decides */
    if (sf_buf_addf(&create, "CREATE TEMPORARY TABLE %s ON COMMIT DROP AS SELECT 0::bigint AS \"stagefork row\"", TMP) ||
        sf_buf_addf(&probe, "SELECT k.\"stagefork row\" FROM pg_temp.%s k WHERE EXISTS (SELECT 1 FROM ", TMP))
        rc = oom(s);
    for (size_t j = 0; j < k->n && !rc; j++)
        if (sf_buf_adds(&create, ", ") || add_ident(s, conn, &create, t->cols[k->cols[j]].name))
            rc = s->err.code ? s->err.code : oom(s);
    if (!rc && (sf_buf_adds(&create, " FROM ") || add_table(s, conn, &create, t->schema, t->name) ||
                sf_buf_adds(&create, " WITH NO DATA") || add_table(s, conn, &probe, t->schema, t->name) ||
                sf_buf_adds(&probe, " x WHERE ")))
        rc = s->err.code ? s->err.code : oom(s);
    for (size_t j = 0; j < k->n && !rc; j++) {
        const char *name = t->cols[k->cols[j]].name;
        if ((j && sf_buf_adds(&probe, " AND ")) || sf_buf_adds(&probe, "x.") || add_ident(s, conn, &probe, name) ||
            sf_buf_adds(&probe, " = k.") || add_ident(s, conn, &probe, name))
            rc = s->err.code ? s->err.code : oom(s);
    }
    if (!rc && sf_buf_adds(&probe, ") ORDER BY 1"))
        rc = oom(s);
    if (!rc)
        rc = exec_sql(s, conn, create.ptr, "checking the unique keys of", t->display);

    /* every row once */
    if (!rc && !(rows = malloc((t->nrows ? (size_t)t->nrows : 1) * sizeof(*rows))))
        rc = oom(s);
    for (int64_t r = 0; !rc && r < t->nrows; r++)
        rows[r] = r;
    if (!rc && !(rc = copy_keys(s, conn, g, ti, k, rows, (size_t)t->nrows)))
        rc = collisions(s, conn, probe.ptr, t->display, &hit, &nhit);
    while (!rc && nhit) {
        moved += nhit;
        for (size_t i = 0; i < nhit && !rc; i++) {
            if (next >= k->cap)
                rc = sf_node_error(&s->err, SF_ECONFIG, k->node,
                                   "unique %s of %s: %zu generated values are already in the target, and the generator "
                                   "has no unused values left (%llu in all, %lld rows to generate)",
                                   k->what, t->display, nhit, (unsigned long long)k->cap, (long long)t->nrows);
            else if (seed_remap_put(k->map, (uint64_t)hit[i], next++))
                rc = oom(s);
        }
        seed_gen_reset(g);
        if (!rc)
            rc = exec_sql(s, conn, "TRUNCATE pg_temp.stagefork_seed_keys", "checking the unique keys of", t->display);
        if (!rc && !(rc = copy_keys(s, conn, g, ti, k, hit, nhit))) {
            int64_t *again = NULL;
            size_t nagain = 0;
            rc = collisions(s, conn, probe.ptr, t->display, &again, &nagain);
            free(hit);
            hit = again;
            nhit = nagain;
        }
    }
    if (!rc)
        rc = exec_sql(s, conn, "DROP TABLE pg_temp.stagefork_seed_keys", "checking the unique keys of", t->display);
    if (!rc && moved)
        sf_log(SF_LOG_INFO, "%s: unique %s: %zu generated values were already in the target; those rows take unused "
               "values instead", t->display, k->what, moved);
    free(rows);
    free(hit);
    sf_buf_free(&create);
    sf_buf_free(&probe);
    return rc;
}

/* Indexes a seq can take before its values overflow 64 bits. */
static uint64_t seq_cap(const seed_col *c)
{
    uint64_t room = c->seq_step > 0 ? (uint64_t)INT64_MAX - (uint64_t)c->seq_start
                                    : (uint64_t)c->seq_start - (uint64_t)INT64_MIN;
    uint64_t step = c->seq_step > 0 ? (uint64_t)c->seq_step : (uint64_t)0 - (uint64_t)c->seq_step;
    return room / step + 1;
}

/* Every unique key of a table that has rows, checked and moved off the target's values. */
static int remap_table(sf_seed *s, PGconn *conn, seed_gen *g, size_t ti)
{
    seed_table *t = &s->tables[ti];
    int rc = 0;
    if (!t->nonempty || t->nrows <= 0)
        return 0;
    for (size_t i = 0; i < t->ncols && !rc; i++) {
        seed_col *c = &t->cols[i];
        struct ukey k;
        if (c->null_p >= 1 || c->tuple >= 0)
            continue;
        memset(&k, 0, sizeof(k));
        if (c->kind == SG_SEQ && !c->seq_after_max)
            k.cap = seq_cap(c);
        else if (c->kind == SG_EMAIL)
            k.cap = UINT64_MAX - 1;
        else if (c->unique && c->domain)
            k.cap = c->perm.n;
        else
            continue; /* not unique, or seq after: max: past every existing value by construction */
        k.cols[0] = i;
        k.n = 1;
        k.map = &c->remap;
        k.node = c->key;
        snprintf(k.what, sizeof(k.what), "column '%s'", c->name);
        seed_remap_free(&c->remap);
        rc = remap_key(s, conn, g, ti, &k);
    }
    for (size_t u = 0; u < t->ntuples && !rc; u++) {
        seed_tuple *tp = &t->tuples[u];
        struct ukey k;
        memset(&k, 0, sizeof(k));
        if (tp->n > MAX_KEY_COLS)
            continue;
        memcpy(k.cols, tp->cols, tp->n * sizeof(size_t));
        k.n = tp->n;
        k.map = &tp->remap;
        k.cap = tp->perm.n;
        k.node = tp->node;
        {
            sf_buf names = SF_BUF_INIT;
            for (size_t j = 0; j < tp->n; j++)
                sf_buf_addf(&names, "%s%s", j ? ", " : "", t->cols[tp->cols[j]].name);
            snprintf(k.what, sizeof(k.what), "combination (%s)", names.ptr ? names.ptr : "");
            sf_buf_free(&names);
        }
        seed_remap_free(&tp->remap);
        rc = remap_key(s, conn, g, ti, &k);
    }
    seed_gen_reset(g);
    return rc;
}

/* ---- public to the engine ------------------------------------------- */

/* Lock, read the target's state, finish the plan, move unique keys off existing values. */
int seed_append_prepare(sf_seed *s, PGconn *conn, seed_gen *g)
{
    int rc;
    seed_append_release(s);
    if ((rc = lock_tables(s, conn)))
        return rc;
    for (size_t i = 0; i < s->ntables; i++) {
        seed_table *t = &s->tables[i];
        if ((rc = read_nonempty(s, conn, t)))
            return rc;
        for (size_t k = 0; k < t->ncols; k++) {
            seed_col *c = &t->cols[k];
            if (c->kind == SG_SEQ && c->seq_after_max && t->nonempty && (rc = read_max(s, conn, t, c)))
                return rc;
            if (c->kind == SG_REF && c->ref_from != REF_NEW && c->row_of < 0 && (rc = read_existing(s, conn, t, k)))
                return rc;
        }
    }
    if ((rc = seed_plan_target(s)))
        return rc;
    seed_gen_reset(g);
    for (size_t i = 0; i < s->ntables; i++)
        if ((rc = remap_table(s, conn, g, i)))
            return rc;
    return 0;
}

/* Drop what was read from the target (results, MAXes, remaps); idempotent. */
void seed_append_release(sf_seed *s)
{
    for (size_t i = 0; i < s->ntables; i++) {
        seed_table *t = &s->tables[i];
        t->nonempty = 0;
        for (size_t k = 0; k < t->ncols; k++) {
            seed_col *c = &t->cols[k];
            PQclear(c->ex_res);
            c->ex_res = NULL;
            c->ex_rows = 0;
            c->has_max = 0;
            seed_remap_free(&c->remap);
        }
        for (size_t u = 0; u < t->ntuples; u++)
            seed_remap_free(&t->tuples[u].remap);
    }
}

/*
 * COPY text has no target: refs from: existing have nothing to read and are
 * refused at their `from:`. (seq after: max starts at `start`, and from: any
 * uses the new rows only, as for an empty target.)
 */
int seed_append_check_stream(sf_seed *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        for (size_t k = 0; k < s->tables[i].ncols; k++) {
            const seed_col *c = &s->tables[i].cols[k];
            if (c->kind == SG_REF && c->ref_from == REF_EXISTING && c->row_of < 0)
                return sf_node_error(&s->err, SF_ECONFIG, c->ref_from_node,
                                     "ref '%s' from: existing reads rows of the target database, and COPY text "
                                     "output has none; seed into a database instead",
                                     c->ref_node->str);
        }
    return 0;
}
