/* PostgreSQL state backend: schema stagefork, per-env advisory locks, transactional writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include "state_impl.h"
#include "stagefork/util.h"

/* Advisory lock keys: (SF_LOCK_CLASS, key) with the two-int4 form; key 0 guards the DDL. */
#define SF_LOCK_CLASS 1397096448 /* 'SF\0\0' */

struct pg_state {
    char *url;
    PGconn *conn;
};

struct pg_lock {
    PGconn *conn;
    char cls[16], key[16];
};

static const char ddl[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(1397096448, 0);"
    "CREATE SCHEMA IF NOT EXISTS stagefork;"
    "CREATE TABLE IF NOT EXISTS stagefork.envs ("
    " slug text PRIMARY KEY,"
    " branch text NOT NULL,"
    " status text NOT NULL,"
    " expires_at timestamptz,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " record jsonb NOT NULL);"
    "CREATE TABLE IF NOT EXISTS stagefork.events ("
    " id bigserial PRIMARY KEY,"
    " at timestamptz NOT NULL DEFAULT now(),"
    " actor text NOT NULL,"
    " ci_job text,"
    " verb text NOT NULL,"
    " env text NOT NULL,"
    " resource text,"
    " result text NOT NULL,"
    " detail text);"
    "CREATE INDEX IF NOT EXISTS events_env_id ON stagefork.events (env, id);"
    "CREATE TABLE IF NOT EXISTS stagefork.meta ("
    " key text PRIMARY KEY,"
    " value jsonb NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now());"
    "COMMIT;";

/* Copy libpq's message once, without its trailing newline. */
static int pg_error(sf_error *err, const char *what, const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return sf_error_set(err, SF_EDB, "%s: %.*s", what, (int)n, msg ? msg : "");
}

/* libpq would print notices on stderr; the library never prints. */
static void on_notice(void *arg, const char *msg)
{
    (void)arg;
    sf_log(SF_LOG_DEBUG, "state database: %s", msg);
}

static PGconn *connect_url(const char *url, sf_error *err)
{
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const vals[] = {url, "stagefork", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        sf_error_set(err, SF_ENOMEM, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        pg_error(err, "cannot connect to the state database", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    return c;
}

/* Run one statement; a connection lost outside a transaction is re-established once. */
static int run(PGconn *c, PGresult **out, const char *sql, int n, const char *const *params, sf_error *err)
{
    for (int attempt = 0;; attempt++) {
        PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
            if (out)
                *out = r;
            else
                PQclear(r);
            return 0;
        }
        if (attempt == 0 && PQstatus(c) == CONNECTION_BAD && PQtransactionStatus(c) != PQTRANS_INERROR) {
            PQclear(r);
            PQreset(c);
            if (PQstatus(c) == CONNECTION_OK)
                continue;
            return pg_error(err, "state database connection lost", PQerrorMessage(c));
        }
        {
            int rc = pg_error(err, "state database", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            PQclear(r);
            return rc;
        }
    }
}

static void lock_key(char out[16], const char *slug)
{
    char hex[65];
    char buf[128];
    unsigned long v;
    int n = snprintf(buf, sizeof(buf), "stagefork-env:%s", slug);
    sf_sha256_hex(hex, buf, (size_t)n);
    hex[8] = '\0';
    v = strtoul(hex, NULL, 16) & 0x7fffffffUL;
    snprintf(out, 16, "%lu", v ? v : 1UL);
}

static void sleep_secs(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int pg_lock(sf_state *st, const char *slug, double timeout, void **handle, sf_error *err)
{
    struct pg_state *p = st->impl;
    struct pg_lock *lk = calloc(1, sizeof(*lk));
    double start = sf_monotonic();
    const char *params[2];
    int rc;
    if (!lk)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    snprintf(lk->cls, sizeof(lk->cls), "%d", SF_LOCK_CLASS);
    lock_key(lk->key, slug);
    params[0] = lk->cls;
    params[1] = lk->key;
    /* a dedicated session: the lock lives exactly as long as it (kill -9 ends it too) */
    if (!(lk->conn = connect_url(p->url, err))) {
        free(lk);
        return err ? err->code : SF_EDB;
    }
    for (;;) {
        PGresult *r;
        int got;
        if ((rc = run(lk->conn, &r, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", 2, params, err)) < 0)
            break;
        got = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (got) {
            *handle = lk;
            return 0;
        }
        if (timeout >= 0 && sf_monotonic() - start >= timeout) {
            char holder[32] = "";
            if (run(lk->conn, &r,
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid"
                    " AND objsubid = 2 AND granted LIMIT 1",
                    2, params, NULL) == 0) {
                if (PQntuples(r) == 1)
                    snprintf(holder, sizeof(holder), "%s", PQgetvalue(r, 0, 0));
                PQclear(r);
            }
            rc = sf_error_set(err, SF_ELOCK,
                              "environment '%s' is locked by another stagefork process%s%s%s (gave up after %.0fs; "
                              "see --lock-timeout)",
                              slug, *holder ? " (PostgreSQL session pid " : "", holder, *holder ? ")" : "", timeout);
            break;
        }
        sleep_secs(0.1);
    }
    PQfinish(lk->conn);
    free(lk);
    return rc;
}

static void pg_unlock(void *handle)
{
    struct pg_lock *lk = handle;
    if (!lk)
        return;
    /* ending the session releases the lock; PQfinish alone is enough */
    PQfinish(lk->conn);
    free(lk);
}

static int parse_record(json_t **out, const char *text, const char *slug, sf_error *err)
{
    json_error_t je;
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return sf_error_set(err, SF_EFORMAT, "state record of '%s' is not a JSON object: %s", slug, je.text);
    }
    return 0;
}

static int pg_get(sf_state *st, const char *slug, json_t **out, sf_error *err)
{
    struct pg_state *p = st->impl;
    const char *params[1] = {slug};
    PGresult *r;
    int rc;
    if ((rc = run(p->conn, &r, "SELECT record::text FROM stagefork.envs WHERE slug = $1", 1, params, err)) < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sf_error_set(err, SF_ENOTFOUND, "no environment '%s'", slug);
    }
    rc = parse_record(out, PQgetvalue(r, 0, 0), slug, err);
    PQclear(r);
    return rc;
}

static const char *str_or_null(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int insert_event(PGconn *c, const json_t *ev, sf_error *err)
{
    const char *params[8] = {str_or_null(ev, "time"),   str_or_null(ev, "actor"),    str_or_null(ev, "ci_job"),
                             str_or_null(ev, "verb"),   str_or_null(ev, "env"),      str_or_null(ev, "resource"),
                             str_or_null(ev, "result"), str_or_null(ev, "detail")};
    return run(c, NULL,
               "INSERT INTO stagefork.events (at, actor, ci_job, verb, env, resource, result, detail)"
               " VALUES (coalesce($1::timestamptz, now()), coalesce($2, 'unknown'), $3, coalesce($4, ''),"
               " coalesce($5, ''), $6, coalesce($7, ''), $8)",
               8, params, err);
}

static int pg_put(sf_state *st, const char *slug, const json_t *rec, const json_t *ev, sf_error *err)
{
    struct pg_state *p = st->impl;
    char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    const char *params[5];
    int rc;
    if (!text)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    params[0] = slug;
    params[1] = str_or_null(rec, "branch") ? str_or_null(rec, "branch") : "";
    params[2] = str_or_null(rec, "status") ? str_or_null(rec, "status") : "";
    params[3] = str_or_null(rec, "expires_at");
    params[4] = text;
    if ((rc = run(p->conn, NULL, "BEGIN", 0, NULL, err)) < 0) {
        free(text);
        return rc;
    }
    rc = run(p->conn, NULL,
             "INSERT INTO stagefork.envs (slug, branch, status, expires_at, updated_at, record)"
             " VALUES ($1, $2, $3, $4::timestamptz, now(), $5::jsonb)"
             " ON CONFLICT (slug) DO UPDATE SET branch = EXCLUDED.branch, status = EXCLUDED.status,"
             " expires_at = EXCLUDED.expires_at, updated_at = now(), record = EXCLUDED.record",
             5, params, err);
    free(text);
    if (rc == 0 && ev)
        rc = insert_event(p->conn, ev, err);
    if (rc == 0)
        return run(p->conn, NULL, "COMMIT", 0, NULL, err);
    {
        PGresult *r = PQexec(p->conn, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}

static int pg_list(sf_state *st, json_t **out, sf_error *err)
{
    struct pg_state *p = st->impl;
    PGresult *r;
    json_t *arr;
    int rc;
    if ((rc = run(p->conn, &r, "SELECT slug, record::text FROM stagefork.envs ORDER BY slug", 0, NULL, err)) < 0)
        return rc;
    if (!(arr = json_array())) {
        PQclear(r);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *rec;
        if ((rc = parse_record(&rec, PQgetvalue(r, i, 1), PQgetvalue(r, i, 0), err)) < 0 ||
            json_array_append_new(arr, rec) < 0) {
            PQclear(r);
            json_decref(arr);
            return rc < 0 ? rc : sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    *out = arr;
    return 0;
}

static int pg_event(sf_state *st, const json_t *ev, sf_error *err)
{
    return ev ? insert_event(((struct pg_state *)st->impl)->conn, ev, err) : 0;
}

static int pg_events(sf_state *st, const char *slug, size_t max, json_t **out, sf_error *err)
{
    static const char *const cols[] = {"time", "actor", "ci_job", "verb", "env", "resource", "result", "detail"};
    struct pg_state *p = st->impl;
    char lim[32];
    const char *params[2] = {slug, lim};
    PGresult *r;
    json_t *arr;
    int rc;
    snprintf(lim, sizeof(lim), "%zu", max ? max : (size_t)1000000);
    if ((rc = run(p->conn, &r,
                  "SELECT * FROM (SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), actor,"
                  " ci_job, verb, env, resource, result, detail, id FROM stagefork.events WHERE env = $1"
                  " ORDER BY id DESC LIMIT $2::bigint) e ORDER BY id",
                  2, params, err)) < 0)
        return rc;
    if (!(arr = json_array())) {
        PQclear(r);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *ev = json_object();
        for (int j = 0; j < 8 && ev; j++)
            if (!PQgetisnull(r, i, j))
                json_object_set_new(ev, cols[j], json_string(PQgetvalue(r, i, j)));
        if (!ev || json_array_append_new(arr, ev) < 0) {
            PQclear(r);
            json_decref(arr);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    *out = arr;
    return 0;
}

static int pg_meta_get(sf_state *st, const char *key, json_t **out, sf_error *err)
{
    struct pg_state *p = st->impl;
    const char *params[1] = {key};
    PGresult *r;
    int rc;
    if ((rc = run(p->conn, &r, "SELECT value::text FROM stagefork.meta WHERE key = $1", 1, params, err)) < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return sf_error_set(err, SF_ENOTFOUND, "no '%s' in the state", key);
    }
    rc = parse_record(out, PQgetvalue(r, 0, 0), key, err);
    PQclear(r);
    return rc;
}

static int pg_meta_put(sf_state *st, const char *key, const json_t *val, sf_error *err)
{
    struct pg_state *p = st->impl;
    char *text = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
    const char *params[2] = {key, text};
    int rc;
    if (!text)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rc = run(p->conn, NULL,
             "INSERT INTO stagefork.meta (key, value, updated_at) VALUES ($1, $2::jsonb, now())"
             " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
             2, params, err);
    free(text);
    return rc;
}

static void pg_close(sf_state *st)
{
    struct pg_state *p = st->impl;
    PQfinish(p->conn);
    free(p->url);
    free(p);
    st->impl = NULL;
}

static const struct sf_state_ops pg_ops = {"postgres", pg_lock,  pg_unlock, pg_get,   pg_put,     pg_list,
                                           pg_event,   pg_events, pg_close, pg_meta_get, pg_meta_put};

static int ensure_schema(PGconn *c, sf_error *err)
{
    PGresult *r;
    int rc, have;
    if ((rc = run(c, &r,
                  "SELECT to_regclass('stagefork.envs') IS NOT NULL AND to_regclass('stagefork.events') IS NOT NULL"
                  " AND to_regclass('stagefork.meta') IS NOT NULL",
                  0, NULL, err)) < 0)
        return rc;
    have = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (have)
        return 0;
    /* several processes may get here at once: the transaction-scoped advisory lock
       makes them create the schema one after the other, and IF NOT EXISTS makes
       the later ones no-ops */
    r = PQexec(c, ddl);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_error(err, "cannot create the state schema", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return rc;
    }
    PQclear(r);
    return 0;
}

int sf_state_pg_open(sf_state *st, const char *url, sf_error *err)
{
    struct pg_state *p = calloc(1, sizeof(*p));
    sf_buf local = SF_BUF_INIT;
    int rc;
    if (!p || !(p->url = strdup(url))) {
        free(p);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if (!(p->conn = connect_url(url, err))) {
        free(p->url);
        free(p);
        return err ? err->code : SF_EDB;
    }
    if ((rc = ensure_schema(p->conn, err)) < 0 || (rc = sf_state_default_dir(&local, err)) < 0) {
        PQfinish(p->conn);
        free(p->url);
        free(p);
        sf_buf_free(&local);
        return rc;
    }
    st->local = sf_buf_detach(&local, NULL);
    st->impl = p;
    st->ops = &pg_ops;
    return 0;
}
