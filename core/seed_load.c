/*
 * Writing a seed run: COPY text blocks to a stream, or COPY FROM STDIN
 * through libpq. A database load is one transaction over all tables (so a
 * failure part-way leaves nothing), preceded by the catalog checks and the
 * reads of the target's state (seed_append.c), and followed by moving
 * serial/identity sequences past the generated keys.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include "seed_internal.h"
#include "stagefork/guard.h"
#include "stagefork/util.h"

#define FLUSH_AT (1u << 20) /* bytes of COPY text handed over at once */
#define BATCH 512           /* rows generated between size checks */

typedef int (*sink_fn)(void *ud, const char *data, size_t len);

/* Generate one table's rows, handing them to sink in ~1 MiB pieces. */
static int stream_table(sf_seed *s, seed_gen *g, size_t ti, sink_fn sink, void *ud)
{
    sf_buf b = SF_BUF_INIT;
    int64_t n = s->tables[ti].nrows, r = 0;
    int rc = 0;
    if (sf_buf_grow(&b, FLUSH_AT + 65536) < 0)
        return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
    while (r < n && !rc) {
        int64_t to = r + BATCH < n ? r + BATCH : n;
        if ((rc = seed_gen_rows(g, ti, r, to, &b)))
            break;
        r = to;
        if (b.len >= FLUSH_AT || r == n) {
            rc = sink(ud, b.ptr, b.len);
            sf_buf_clear(&b);
        }
    }
    sf_buf_free(&b);
    return rc;
}

/* ---- stream --------------------------------------------------------- */

struct file_sink {
    sf_seed *s;
    FILE *f;
};

static int file_write(void *ud, const char *data, size_t len)
{
    struct file_sink *fs = ud;
    if (len && fwrite(data, 1, len, fs->f) != len)
        return sf_error_set(&fs->s->err, SF_EIO, "cannot write the COPY text: %s", strerror(errno));
    return 0;
}

/*
 * Every table as "COPY schema.t (cols) FROM stdin;" + rows + "\." with a
 * blank line after each block: what psql reads from a pg_dump.
 */
int seed_load_stream(sf_seed *s, FILE *out)
{
    seed_gen *g;
    struct file_sink fs = {s, out};
    sf_buf head = SF_BUF_INIT;
    int rc = 0;
    if ((rc = seed_append_check_stream(s)))
        return rc;
    if (seed_gen_new(&g, s))
        return s->err.code;
    for (size_t i = 0; i < s->ntables && !rc; i++) {
        sf_buf_clear(&head);
        if (sf_buf_addf(&head, "COPY %s ", s->tables[i].display) || seed_gen_column_list(s, i, &head) ||
            sf_buf_adds(&head, " FROM stdin;\n")) {
            rc = sf_error_set(&s->err, SF_ENOMEM, "out of memory");
            break;
        }
        if ((rc = file_write(&fs, head.ptr, head.len)) || (rc = stream_table(s, g, i, file_write, &fs)) ||
            (rc = file_write(&fs, "\\.\n\n", 4)))
            break;
        sf_log(SF_LOG_INFO, "wrote %s: %lld rows", s->tables[i].display, (long long)s->tables[i].nrows);
    }
    if (!rc && fflush(out) != 0)
        rc = sf_error_set(&s->err, SF_EIO, "cannot write the COPY text: %s", strerror(errno));
    sf_buf_free(&head);
    seed_gen_free(g);
    return rc;
}

/* ---- database ------------------------------------------------------- */

struct pq_sink {
    sf_seed *s;
    PGconn *conn;
    const char *table;
};

static int pq_error(sf_seed *s, PGconn *conn, PGresult *res, const char *fmt, const char *arg)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n = strlen(msg);
    char what[512];
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(what, sizeof(what), fmt, arg);
    sf_error_set(&s->err, SF_EDB, "%s: %.*s", what, (int)n, msg);
    PQclear(res);
    return SF_EDB;
}

static int pq_write(void *ud, const char *data, size_t len)
{
    struct pq_sink *ps = ud;
    while (len) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (PQputCopyData(ps->conn, data, chunk) != 1)
            return pq_error(ps->s, ps->conn, NULL, "seeding %s", ps->table);
        data += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

static int exec_ok(sf_seed *s, PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        return pq_error(s, conn, res, "%s", what);
    PQclear(res);
    return 0;
}

/* "COPY <schema>.<table> (<cols>) FROM STDIN" with every identifier escaped by libpq. */
static int copy_sql(sf_seed *s, PGconn *conn, size_t ti, sf_buf *out)
{
    const seed_table *t = &s->tables[ti];
    char *sc = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
    char *tn = PQescapeIdentifier(conn, t->name, strlen(t->name));
    int rc = 0;
    if (!sc || !tn) {
        rc = pq_error(s, conn, NULL, "quoting %s", t->display);
        goto out;
    }
    sf_buf_clear(out);
    if (sf_buf_addf(out, "COPY %s.%s (", sc, tn))
        rc = SF_ENOMEM;
    for (size_t c = 0; c < t->ncols && !rc; c++) {
        char *cn = PQescapeIdentifier(conn, t->cols[c].name, strlen(t->cols[c].name));
        if (!cn) {
            rc = pq_error(s, conn, NULL, "quoting %s", t->cols[c].name);
            break;
        }
        if (sf_buf_addf(out, "%s%s", c ? ", " : "", cn))
            rc = SF_ENOMEM;
        PQfreemem(cn);
    }
    if (!rc && sf_buf_adds(out, ") FROM STDIN"))
        rc = SF_ENOMEM;
    if (rc == SF_ENOMEM)
        sf_error_set(&s->err, SF_ENOMEM, "out of memory");
out:
    PQfreemem(sc);
    PQfreemem(tn);
    return rc;
}

static int copy_table(sf_seed *s, PGconn *conn, seed_gen *g, size_t ti)
{
    sf_buf sql = SF_BUF_INIT;
    struct pq_sink ps = {s, conn, s->tables[ti].display};
    PGresult *res;
    int rc;
    if ((rc = copy_sql(s, conn, ti, &sql)))
        goto out;
    res = PQexec(conn, sql.ptr);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = pq_error(s, conn, res, "seeding %s", s->tables[ti].display);
        goto out;
    }
    PQclear(res);
    rc = stream_table(s, g, ti, pq_write, &ps);
    if (PQputCopyEnd(conn, rc ? "stagefork seed stopped" : NULL) != 1 && !rc)
        rc = pq_error(s, conn, NULL, "seeding %s", s->tables[ti].display);
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc)
            rc = pq_error(s, conn, res, "seeding %s", s->tables[ti].display);
        else
            PQclear(res);
    }
out:
    sf_buf_free(&sql);
    return rc;
}

/* Move a serial/identity sequence to at least the largest generated key. */
static int bump_sequence(sf_seed *s, PGconn *conn, size_t ti, const seed_col *c)
{
    const seed_table *t = &s->tables[ti];
    char *sc = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
    char *tn = PQescapeIdentifier(conn, t->name, strlen(t->name));
    char *cn = PQescapeIdentifier(conn, c->name, strlen(c->name));
    sf_buf sql = SF_BUF_INIT;
    const char *params[1] = {c->sequence};
    PGresult *res;
    int rc = 0;
    if (!sc || !tn || !cn) {
        rc = pq_error(s, conn, NULL, "quoting %s", t->display);
        goto out;
    }
    if (sf_buf_addf(&sql,
                    "SELECT pg_catalog.setval($1::regclass, GREATEST(m, COALESCE(pg_catalog.pg_sequence_last_value("
                    "$1::regclass), 0))) FROM (SELECT max(%s) AS m FROM %s.%s) AS x WHERE m >= 1",
                    cn, sc, tn)) {
        rc = sf_error_set(&s->err, SF_ENOMEM, "out of memory");
        goto out;
    }
    res = PQexecParams(conn, sql.ptr, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = pq_error(s, conn, res, "moving sequence %s", c->sequence);
    else
        PQclear(res);
out:
    PQfreemem(sc);
    PQfreemem(tn);
    PQfreemem(cn);
    sf_buf_free(&sql);
    return rc;
}

/*
 * Check the catalog, then (unless check_only) load every table in one
 * transaction. The connection must be idle; it is left idle (committed or
 * rolled back).
 */
int seed_load_conn(sf_seed *s, PGconn *conn, int check_only)
{
    seed_gen *g = NULL;
    int rc;
    if (PQstatus(conn) != CONNECTION_OK)
        return pq_error(s, conn, NULL, "%s", "seeding");
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return sf_error_set(&s->err, SF_EUSAGE, "seeding needs an idle connection (not inside a transaction)");
    if (PQsetClientEncoding(conn, "UTF8") != 0)
        return pq_error(s, conn, NULL, "%s", "setting client_encoding to UTF8");
    if ((rc = seed_catalog_check(s, conn)) || check_only)
        return rc;
    if ((rc = seed_gen_new(&g, s)))
        return rc;
    if ((rc = exec_ok(s, conn, "BEGIN", "starting the seed transaction")))
        goto out;
    rc = seed_append_prepare(s, conn, g);
    for (size_t i = 0; i < s->ntables && !rc; i++) {
        double t0 = sf_monotonic();
        rc = copy_table(s, conn, g, i);
        if (!rc)
            sf_log(SF_LOG_INFO, "seeded %s: %lld rows in %.2fs", s->tables[i].display,
                   (long long)s->tables[i].nrows, sf_monotonic() - t0);
    }
    for (size_t i = 0; i < s->ntables && !rc; i++)
        for (size_t c = 0; c < s->tables[i].ncols && !rc; c++)
            if (s->tables[i].cols[c].sequence && s->tables[i].nrows > 0)
                rc = bump_sequence(s, conn, i, &s->tables[i].cols[c]);
    if (!rc)
        rc = exec_ok(s, conn, "COMMIT", "committing the seed transaction");
    if (rc && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(conn, "ROLLBACK");
        PQclear(res);
    }
out:
    seed_append_release(s);
    seed_gen_free(g);
    return rc;
}

/* ---- public --------------------------------------------------------- */

/* Resolve, then the COPY text of every table to out. */
int sf_seed_write(sf_seed *s, FILE *out)
{
    int rc;
    if ((rc = sf_seed_resolve(s)))
        return rc;
    return seed_load_stream(s, out);
}

/* Resolve, check the catalog, load in one transaction on the caller's idle connection. */
int sf_seed_to_conn(sf_seed *s, struct pg_conn *conn)
{
    int rc;
    if ((rc = sf_seed_resolve(s)))
        return rc;
    return seed_load_conn(s, conn, 0);
}

/* Resolve and check the catalog only; writes nothing. */
int sf_seed_check_conn(sf_seed *s, struct pg_conn *conn)
{
    int rc;
    if ((rc = sf_seed_resolve(s)))
        return rc;
    return seed_load_conn(s, conn, 1);
}

/* The host and database a DSN names, for the guard (before connecting). */
static int guard_dsn(sf_seed *s, const char *dsn, const sf_config *cfg)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    const char *host = NULL, *db = NULL;
    int rc;
    if (!opts) {
        size_t n = perr ? strlen(perr) : 0;
        while (n && perr[n - 1] == '\n')
            n--;
        rc = sf_error_set(&s->err, SF_EUSAGE, "invalid connection string: %.*s", (int)n, perr ? perr : "out of memory");
        PQfreemem(perr);
        return rc;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "host") && o->val && *o->val)
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr") && o->val && *o->val && !host)
            host = o->val;
        else if (!strcmp(o->keyword, "dbname") && o->val && *o->val)
            db = o->val;
    }
    rc = sf_guard_check(cfg, host, db, &s->err);
    PQconninfoFree(opts);
    return rc;
}

/* Guard check on the DSN's host and database, connect, then sf_seed_to_conn. */
int sf_seed_to_db(sf_seed *s, const char *dsn, const sf_config *cfg)
{
    PGconn *conn;
    int rc;
    if ((rc = sf_seed_resolve(s)))
        return rc;
    if ((rc = guard_dsn(s, dsn, cfg)))
        return rc;
    conn = PQconnectdb(dsn);
    if (!conn)
        return sf_error_set(&s->err, SF_ENOMEM, "out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        rc = pq_error(s, conn, NULL, "%s", "cannot connect to the target database");
        PQfinish(conn);
        return rc;
    }
    rc = seed_load_conn(s, conn, 0);
    PQfinish(conn);
    return rc;
}
