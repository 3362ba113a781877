/*
 * postgres.database: a role and a database of the same name on `server`
 * (an admin DSN), optionally cloned from a template database, with
 * extensions and SQL files applied. Ownership is recorded in a COMMENT on
 * the role and the database ("stagefork:<env id>/<resource> ready"), so a
 * rerun adopts what this env created and never touches anything else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "file.h"
#include "golden.h"
#include "providers/postgres.h"
#include "providers/spec.h"
#include "stagefork/guard.h"
#include "stagefork/seed.h"
#include "stagefork/util.h"

#define SQL_FILE_MAX ((size_t)64 << 20)
#define SQLSTATE_OBJECT_IN_USE "55006"

static const char *const pg_outputs[] = {"url", "host", "port", "name", "user", "password", NULL};
static const char *const pg_keys[] = {"server", "name", "from", "extensions", "sql", "profiles", "seed_spec", NULL};

typedef struct pgctx {
    sf_resource_ctx *ctx;
    const char *server;
    char *host;             /* guard host of server */
    PGconn *admin;
    sf_buf marker;          /* "stagefork:<env>/<resource>" */
    char name_id[200];      /* quoted identifier of the db/role name */
} pgctx;

/* ------------------------------------------------------------------ utils -- */

static void trim_nl(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static int conn_error(sf_error *err, PGconn *c, const char *what)
{
    char msg[SF_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", c ? PQerrorMessage(c) : "out of memory");
    trim_nl(msg);
    return sf_error_set(err, SF_EDB, "%s: %s", what, msg);
}

static int res_error(sf_error *err, PGresult *r, const char *what)
{
    char msg[SF_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : "out of memory");
    trim_nl(msg);
    return sf_error_set(err, SF_EDB, "%s: %s", what, msg);
}

/* Run sql (no parameters) and expect success; what names the step in errors. */
static int exec_ok(PGconn *c, const char *sql, const char *what, sf_error *err, char sqlstate[6])
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (sqlstate)
        sqlstate[0] = '\0';
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *ss = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        if (sqlstate && ss)
            snprintf(sqlstate, 6, "%s", ss);
        rc = res_error(err, r, what);
    }
    PQclear(r);
    return rc;
}

/* One-row, one-column text query with one parameter; *out NULL when no row. */
static int query1(PGconn *c, const char *sql, const char *param, char **out, int *found, sf_error *err)
{
    PGresult *r = PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0);
    *out = NULL;
    *found = 0;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = res_error(err, r, "catalog query failed");
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) > 0) {
        *found = 1;
        if (!PQgetisnull(r, 0, 0) && !(*out = strdup(PQgetvalue(r, 0, 0)))) {
            PQclear(r);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    return 0;
}

static void backoff_sleep(int attempt)
{
    double cap = 0.25;
    unsigned char rnd;
    struct timespec ts;
    for (int i = 1; i < attempt && cap < 4; i++)
        cap *= 2;
    if (RAND_bytes(&rnd, 1) != 1)
        rnd = 128;
    cap = cap * (0.5 + (double)rnd / 512.0);
    ts.tv_sec = (time_t)cap;
    ts.tv_nsec = (long)((cap - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static int deadline_passed(const sf_resource_ctx *ctx, double start, double budget)
{
    double now = sf_monotonic();
    if (ctx->cancel && *ctx->cancel)
        return 1;
    if (ctx->deadline > 0 && now >= ctx->deadline)
        return 1;
    return now - start >= budget;
}

/* Errors that retrying a connection cannot fix. */
static int permanent_connect_error(const char *msg)
{
    return strstr(msg, "authentication failed") || strstr(msg, "does not exist") || strstr(msg, "pg_hba.conf") ||
           strstr(msg, "password") || strstr(msg, "invalid") || strstr(msg, "not permitted");
}

/*
 * Connect to `server`, to database `db` when given (overriding the DSN's
 * dbname), retrying transient failures (refused, timeout) with backoff.
 */
static int pg_connect(PGconn **out, const sf_resource_ctx *ctx, const char *server, const char *db, sf_error *err)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding", db ? "dbname" : NULL,
                          NULL};
    const char *vals[] = {server, "10", "stagefork", "UTF8", db, NULL};
    double start = sf_monotonic();
    *out = NULL;
    for (int attempt = 1;; attempt++) {
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        const char *msg;
        if (c && PQstatus(c) == CONNECTION_OK) {
            *out = c;
            return 0;
        }
        msg = c ? PQerrorMessage(c) : "out of memory";
        if (!c || permanent_connect_error(msg) || attempt >= 5 || deadline_passed(ctx, start, 15)) {
            sf_buf host = SF_BUF_INIT;
            sf_guard_host_of(&host, server);
            conn_error(err, c, db ? "cannot connect to the new database" : "cannot connect to the server");
            sf_error_prefix(err, "postgres '%s'", host.ptr);
            sf_buf_free(&host);
            PQfinish(c);
            return SF_EDB;
        }
        sf_log(SF_LOG_INFO, "postgres: connection failed (attempt %d), retrying", attempt);
        PQfinish(c);
        backoff_sleep(attempt);
    }
}

static int quote_ident(PGconn *c, sf_buf *out, const char *name, sf_error *err)
{
    char *q = PQescapeIdentifier(c, name, strlen(name));
    int rc;
    if (!q)
        return conn_error(err, c, "cannot quote an identifier");
    rc = sf_buf_sets(out, q) < 0 ? SF_ENOMEM : 0;
    PQfreemem(q);
    return rc;
}

static int quote_literal(PGconn *c, sf_buf *out, const char *text, sf_error *err)
{
    char *q = PQescapeLiteral(c, text, strlen(text));
    int rc;
    if (!q)
        return conn_error(err, c, "cannot quote a literal");
    rc = sf_buf_sets(out, q) < 0 ? SF_ENOMEM : 0;
    PQfreemem(q);
    return rc;
}

static void pct_encode(sf_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~')
            sf_buf_addc(out, (char)c);
        else
            sf_buf_addf(out, "%%%02X", c);
    }
}

static int new_password(char out[49])
{
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return SF_ECRYPTO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* ------------------------------------------------------------------ spec --- */

static const char *with_str(const sf_resource_ctx *ctx, const char *obj, const char *key)
{
    json_t *o = json_object_get(ctx->spec, obj);
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int pg_validate(sf_resource_ctx *ctx)
{
    static const char *const from_keys[] = {"template_db", "snapshot", NULL};
    const char *s;
    json_t *v;
    int rc;
    if ((rc = sf_spec_keys(ctx, ctx->spec, "with", pg_keys, &ctx->err)) < 0)
        return rc;
    if ((rc = sf_spec_required(&s, ctx->spec, "server", ctx->type, &ctx->err)) < 0)
        return rc;
    if ((v = json_object_get(ctx->spec, "from"))) {
        if ((rc = sf_spec_keys(ctx, v, "from", from_keys, &ctx->err)) < 0)
            return rc;
        if (json_object_size(v) != 1 || !(json_is_string(json_object_get(v, "template_db")) ||
                                          json_is_string(json_object_get(v, "snapshot"))))
            return sf_error_set(&ctx->err, SF_ECONFIG,
                                "postgres.database: 'from' takes exactly one of template_db: NAME or snapshot: NAME");
    }
    if ((v = json_object_get(ctx->spec, "extensions"))) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: 'extensions' must be a list of names");
        json_array_foreach(v, i, e) if (!json_is_string(e) || !*json_string_value(e)) return sf_error_set(
            &ctx->err, SF_ECONFIG, "postgres.database: 'extensions' must be a list of names");
    }
    if ((v = json_object_get(ctx->spec, "sql")) && !json_is_string(v)) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: 'sql' must be a file or a list of files");
        json_array_foreach(v, i, e) if (!json_is_string(e)) return sf_error_set(
            &ctx->err, SF_ECONFIG, "postgres.database: 'sql' must be a file or a list of files");
    }
    if ((v = json_object_get(ctx->spec, "name")) && !json_is_string(v))
        return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: 'name' must be a string");
    if ((v = json_object_get(ctx->spec, "seed_spec")) && (!json_is_string(v) || !*json_string_value(v)))
        return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: 'seed_spec' must be a file name");
    if ((v = json_object_get(ctx->spec, "profiles"))) {
        size_t i;
        json_t *e;
        if (!json_is_array(v) && !json_is_string(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: 'profiles' must be a list of names");
        json_array_foreach(v, i, e) if (!json_is_string(e) || !*json_string_value(e) ||
                                        strchr(json_string_value(e), ',')) return sf_error_set(
            &ctx->err, SF_ECONFIG, "postgres.database: 'profiles' must be a list of names");
        if (!json_object_get(ctx->spec, "seed_spec"))
            return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: 'profiles' needs a 'seed_spec'");
    }
    return 0;
}

/*
 * `with.name` must carry the configured prefix ("<prefix>_…") and fit in
 * 63 bytes: every created name starts with the prefix so `gc --orphans`
 * can find leaks, and a name the user chose is never silently shortened.
 */
static int pg_name(sf_buf *out, const sf_resource_ctx *ctx)
{
    const char *given = sf_resource_str(ctx, "name");
    const char *prefix = ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf";
    if (given) {
        size_t pl = strlen(prefix);
        if (strncmp(given, prefix, pl) != 0 || given[pl] != '_' || !given[pl + 1])
            return SF_ECONFIG;
        if (strlen(given) > 63)
            return SF_ECONFIG;
        return sf_buf_sets(out, given) < 0 ? SF_ENOMEM : 0;
    }
    return sf_spec_name(out, ctx, '_', 63);
}

static int pg_name_checked(sf_buf *out, sf_resource_ctx *ctx)
{
    int rc = pg_name(out, ctx);
    if (rc == SF_ECONFIG)
        return sf_error_set(&ctx->err, SF_ECONFIG,
                            "postgres.database: name '%s' must start with '%s_' and be at most 63 bytes",
                            sf_resource_str(ctx, "name"), ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf");
    if (rc < 0)
        return sf_error_set(&ctx->err, rc, "postgres.database: cannot derive a database name");
    if (ctx->name && strcmp(ctx->name, out->ptr) != 0)
        return sf_error_set(&ctx->err, SF_EINTERNAL, "postgres.database: recorded name '%s' differs from '%s'",
                            ctx->name, out->ptr);
    return 0;
}

/* --------------------------------------------------------------- session --- */

static void pg_close(pgctx *p)
{
    PQfinish(p->admin);
    free(p->host);
    sf_buf_free(&p->marker);
}

/* Validate, check the guardrails, connect as admin. */
static int pg_open(pgctx *p, sf_resource_ctx *ctx, const char *name)
{
    sf_buf host = SF_BUF_INIT;
    sf_buf q = SF_BUF_INIT;
    int rc;
    memset(p, 0, sizeof(*p));
    p->ctx = ctx;
    sf_buf_init(&p->marker, 0);
    if ((rc = pg_validate(ctx)) < 0)
        return rc;
    p->server = sf_resource_str(ctx, "server");
    if (sf_guard_host_of(&host, p->server) < 0) {
        sf_buf_free(&host);
        return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: cannot find the host in 'server'");
    }
    p->host = sf_buf_detach(&host, NULL);
    if ((rc = sf_guard_check(ctx->cfg, p->host, name, &ctx->err)) < 0)
        return rc;
    if (sf_buf_addf(&p->marker, "stagefork:%s/%s",
                    ctx->env && ctx->env->id ? ctx->env->id : (ctx->env && ctx->env->slug ? ctx->env->slug : "?"),
                    ctx->resource ? ctx->resource : "?") < 0)
        return SF_ENOMEM;
    if ((rc = pg_connect(&p->admin, ctx, p->server, NULL, &ctx->err)) < 0)
        return rc;
    if ((rc = quote_ident(p->admin, &q, name, &ctx->err)) < 0)
        return rc;
    if (q.len >= sizeof(p->name_id)) {
        sf_buf_free(&q);
        return sf_error_set(&ctx->err, SF_EINTERNAL, "quoted name too long");
    }
    memcpy(p->name_id, q.ptr, q.len + 1);
    sf_buf_free(&q);
    return 0;
}

typedef struct pg_found {
    int db, role;
    char *db_comment, *role_comment;
} pg_found;

static void found_free(pg_found *f)
{
    free(f->db_comment);
    free(f->role_comment);
}

static int pg_lookup(pgctx *p, const char *name, pg_found *f)
{
    int rc;
    memset(f, 0, sizeof(*f));
    if ((rc = query1(p->admin, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
                     name, &f->db_comment, &f->db, &p->ctx->err)) < 0)
        return rc;
    return query1(p->admin, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", name,
                  &f->role_comment, &f->role, &p->ctx->err);
}

/*
 * What every operation starts with: the checked name, an admin session and
 * what already exists under the name (errors in ctx->err). pg_finish
 * releases all three whether this succeeded or not.
 */
static int pg_begin(pgctx *p, sf_buf *name, pg_found *f, sf_resource_ctx *ctx)
{
    int rc;
    if ((rc = pg_name_checked(name, ctx)) < 0 || (rc = pg_open(p, ctx, name->ptr)) < 0)
        return rc;
    return pg_lookup(p, name->ptr, f);
}

static void pg_finish(pgctx *p, sf_buf *name, pg_found *f)
{
    found_free(f);
    pg_close(p);
    sf_buf_free(name);
}

static int marker_is(const pgctx *p, const char *comment)
{
    return comment && strncmp(comment, p->marker.ptr, p->marker.len) == 0 &&
           (comment[p->marker.len] == '\0' || comment[p->marker.len] == ' ');
}

static int is_ours(const pgctx *p, const char *name, const pg_found *f)
{
    return sf_spec_ours(p->ctx, name) || marker_is(p, f->db_comment) || marker_is(p, f->role_comment);
}

static int set_comment(pgctx *p, const char *kind, const char *state)
{
    sf_buf lit = SF_BUF_INIT, text = SF_BUF_INIT, sql = SF_BUF_INIT;
    int rc;
    if (sf_buf_addf(&text, "%s %s", p->marker.ptr, state) < 0)
        return SF_ENOMEM;
    if ((rc = quote_literal(p->admin, &lit, text.ptr, &p->ctx->err)) == 0) {
        if (sf_buf_addf(&sql, "COMMENT ON %s %s IS %s", kind, p->name_id, lit.ptr) < 0)
            rc = SF_ENOMEM;
        else
            rc = exec_ok(p->admin, sql.ptr, "cannot record ownership", &p->ctx->err, NULL);
    }
    sf_buf_free(&lit);
    sf_buf_free(&text);
    sf_buf_free(&sql);
    return rc;
}

static int server_version(const pgctx *p)
{
    return PQserverVersion(p->admin);
}

/* Terminate other sessions on the database and drop it. Absent is success. */
static int drop_database(pgctx *p, const char *name)
{
    sf_buf sql = SF_BUF_INIT;
    const char *param = name;
    char state[6];
    double start = sf_monotonic();
    int rc = 0;
    PGresult *r = PQexecParams(p->admin,
                               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = $1 AND pid <> pg_backend_pid()",
                               1, NULL, &param, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = res_error(&p->ctx->err, r, "cannot terminate sessions");
        PQclear(r);
        return rc;
    }
    PQclear(r);
    if (sf_buf_addf(&sql, "DROP DATABASE IF EXISTS %s%s", p->name_id,
                    server_version(p) >= 130000 ? " WITH (FORCE)" : "") < 0)
        return SF_ENOMEM;
    for (int attempt = 1;; attempt++) {
        rc = exec_ok(p->admin, sql.ptr, "cannot drop the database", &p->ctx->err, state);
        if (rc == 0 || strcmp(state, SQLSTATE_OBJECT_IN_USE) != 0 || deadline_passed(p->ctx, start, 30))
            break;
        backoff_sleep(attempt);
    }
    sf_buf_free(&sql);
    if (rc < 0)
        sf_error_prefix(&p->ctx->err, "postgres '%s' database '%s'", p->host, name);
    return rc;
}

static int drop_role(pgctx *p, const char *name)
{
    sf_buf sql = SF_BUF_INIT;
    int rc;
    if (sf_buf_addf(&sql, "DROP ROLE IF EXISTS %s", p->name_id) < 0)
        return SF_ENOMEM;
    rc = exec_ok(p->admin, sql.ptr, "cannot drop the role", &p->ctx->err, NULL);
    sf_buf_free(&sql);
    if (rc < 0)
        sf_error_prefix(&p->ctx->err, "postgres '%s' role '%s'", p->host, name);
    return rc;
}

/* Create the role, or set its password when it exists (ours). The password is sent SCRAM-hashed. */
static int ensure_role(pgctx *p, const char *name, const char *password, int exists)
{
    sf_buf sql = SF_BUF_INIT, lit = SF_BUF_INIT;
    char *enc = PQencryptPasswordConn(p->admin, password, name, NULL);
    int rc;
    if (!enc)
        return conn_error(&p->ctx->err, p->admin, "cannot hash the password");
    rc = quote_literal(p->admin, &lit, enc, &p->ctx->err);
    PQfreemem(enc);
    if (rc < 0)
        return rc;
    if (exists)
        rc = sf_buf_addf(&sql, "ALTER ROLE %s LOGIN PASSWORD %s", p->name_id, lit.ptr);
    else
        rc = sf_buf_addf(&sql, "CREATE ROLE %s LOGIN PASSWORD %s", p->name_id, lit.ptr);
    if (rc < 0) {
        rc = SF_ENOMEM;
    } else {
        rc = exec_ok(p->admin, "BEGIN", "cannot start a transaction", &p->ctx->err, NULL);
        if (rc == 0)
            rc = exec_ok(p->admin, sql.ptr, exists ? "cannot set the role's password" : "cannot create the role",
                         &p->ctx->err, NULL);
        if (rc == 0)
            rc = set_comment(p, "ROLE", "ready");
        if (rc == 0)
            rc = exec_ok(p->admin, "COMMIT", "cannot commit", &p->ctx->err, NULL);
        else
            PQclear(PQexec(p->admin, "ROLLBACK"));
    }
    OPENSSL_cleanse(sql.ptr, sql.len);
    sf_buf_free(&sql);
    sf_buf_free(&lit);
    return rc;
}

/*
 * CREATE DATABASE … OWNER … [TEMPLATE …], retrying while the template is
 * in use. file_copy (PostgreSQL 15+) copies the template's files instead of
 * WAL-logging every block: what makes a golden clone take seconds.
 */
static int create_database(pgctx *p, const char *name, const char *template_db, int file_copy)
{
    sf_buf sql = SF_BUF_INIT, tpl = SF_BUF_INIT;
    char state[6];
    double start = sf_monotonic();
    int rc;
    if (template_db) {
        char *c = NULL;
        int found;
        if ((rc = query1(p->admin, "SELECT datname FROM pg_database WHERE datname = $1", template_db, &c, &found,
                         &p->ctx->err)) < 0)
            return rc;
        free(c);
        if (!found)
            return sf_error_set(&p->ctx->err, SF_ENOTFOUND, "postgres '%s': template database '%s' does not exist",
                                p->host, template_db);
        if ((rc = quote_ident(p->admin, &tpl, template_db, &p->ctx->err)) < 0)
            return rc;
    }
    if (sf_buf_addf(&sql, "CREATE DATABASE %s OWNER %s%s%s%s", p->name_id, p->name_id, template_db ? " TEMPLATE " : "",
                    tpl.ptr, file_copy && server_version(p) >= 150000 ? " STRATEGY = FILE_COPY" : "") < 0) {
        sf_buf_free(&tpl);
        return SF_ENOMEM;
    }
    for (int attempt = 1;; attempt++) {
        rc = exec_ok(p->admin, sql.ptr, "cannot create the database", &p->ctx->err, state);
        if (rc == 0 || strcmp(state, SQLSTATE_OBJECT_IN_USE) != 0)
            break;
        if (deadline_passed(p->ctx, start, 20)) {
            sf_error_prefix(&p->ctx->err, "template '%s' stayed in use for %.0fs", template_db ? template_db : "",
                            sf_monotonic() - start);
            break;
        }
        sf_log(SF_LOG_INFO, "postgres: template '%s' is in use, retrying (attempt %d)",
               template_db ? template_db : "template1", attempt);
        backoff_sleep(attempt);
    }
    if (rc < 0)
        sf_error_prefix(&p->ctx->err, "postgres '%s' database '%s'", p->host, name);
    sf_buf_free(&sql);
    sf_buf_free(&tpl);
    return rc;
}

static int read_sql_file(sf_buf *out, const char *path, sf_error *err)
{
    int rc = sf_file_read_ref(out, path, SQL_FILE_MAX, err);
    if (rc == 0 && memchr(out->ptr, '\0', out->len))
        rc = sf_error_set(err, SF_EFORMAT, "'%s' contains a NUL byte", path);
    return rc;
}

/* Line and column (1-based, in characters) of the 1-based character position pos in text. */
static void position_of(const char *text, long pos, long *line, long *col)
{
    long chars = 0;
    *line = 1;
    *col = 1;
    for (const unsigned char *s = (const unsigned char *)text; *s && chars < pos - 1; s++) {
        if ((*s & 0xC0) == 0x80)
            continue; /* UTF-8 continuation byte: same character */
        chars++;
        if (*s == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int run_sql_file(pgctx *p, PGconn *db, const char *file)
{
    sf_buf path = SF_BUF_INIT, text = SF_BUF_INIT;
    PGresult *r;
    int rc = 0;
    if (file[0] != '/' && p->ctx->base_dir)
        rc = sf_buf_addf(&path, "%s/%s", p->ctx->base_dir, file) < 0 ? SF_ENOMEM : 0;
    else
        rc = sf_buf_sets(&path, file) < 0 ? SF_ENOMEM : 0;
    if (rc == 0)
        rc = read_sql_file(&text, path.ptr, &p->ctx->err);
    if (rc < 0)
        goto out;
    sf_log(SF_LOG_INFO, "postgres: running '%s'", path.ptr);
    r = PQexec(db, text.ptr);
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
               PQresultStatus(r) != PGRES_EMPTY_QUERY)) {
        const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
        const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        char msg[SF_ERROR_MSG_MAX];
        int64_t ipos;
        snprintf(msg, sizeof(msg), "%s", prim ? prim : (r ? PQresultErrorMessage(r) : PQerrorMessage(db)));
        trim_nl(msg);
        if (pos && sf_parse_i64(&ipos, pos, 1, INT64_MAX) == 0) {
            long line, col;
            position_of(text.ptr, (long)ipos, &line, &col);
            rc = sf_error_set(&p->ctx->err, SF_EDB, "%s:%ld:%ld: %s", path.ptr, line, col, msg);
        } else {
            rc = sf_error_set(&p->ctx->err, SF_EDB, "%s: %s", path.ptr, msg);
        }
    }
    PQclear(r);
out:
    sf_buf_free(&path);
    sf_buf_free(&text);
    return rc;
}

/*
 * A clone keeps the template's object owners; hand every schema, relation,
 * routine and standalone type that is not part of an extension or the
 * system to the new role, so the app's credentials can use its database.
 * Identifiers are quoted by the server's format('%I'); the role name comes
 * in as a libpq-escaped literal.
 */
static const char reown_sql[] =
    "DO $sf$ DECLARE r record; owner text := %s; BEGIN\n"
    "FOR r IN SELECT format('ALTER SCHEMA %%I OWNER TO %%I', n.nspname, owner) AS s FROM pg_namespace n\n"
    "  WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'\n"
    "  AND pg_get_userbyid(n.nspowner) NOT IN (owner, 'pg_database_owner')\n"
    "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass\n"
    "                  AND d.objid = n.oid AND d.deptype = 'e')\n"
    "UNION ALL SELECT format('ALTER %%s %%I.%%I OWNER TO %%I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE'\n"
    "    WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,\n"
    "    n.nspname, c.relname, owner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT LIKE 'pg\\_%%'\n"
    "  AND n.nspname <> 'information_schema' AND pg_get_userbyid(c.relowner) <> owner\n"
    "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid\n"
    "                  AND d.deptype IN ('e', 'a', 'i'))\n"
    "UNION ALL SELECT format('ALTER ROUTINE %%s OWNER TO %%I', p.oid::regprocedure, owner) FROM pg_proc p\n"
    "  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT LIKE 'pg\\_%%'\n"
    "  AND n.nspname <> 'information_schema' AND pg_get_userbyid(p.proowner) <> owner\n"
    "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid\n"
    "                  AND d.deptype = 'e')\n"
    "UNION ALL SELECT format('ALTER TYPE %%s OWNER TO %%I', t.oid::regtype, owner) FROM pg_type t\n"
    "  JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r', 'm')\n"
    "  AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'\n"
    "  AND pg_get_userbyid(t.typowner) <> owner\n"
    "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid\n"
    "                  AND d.deptype = 'e')\n"
    "LOOP EXECUTE r.s; END LOOP; END $sf$";

static int reown_clone(pgctx *p, PGconn *db, const char *name)
{
    sf_buf lit = SF_BUF_INIT, sql = SF_BUF_INIT;
    int rc = quote_literal(db, &lit, name, &p->ctx->err);
    if (rc == 0) {
        if (sf_buf_addf(&sql, reown_sql, lit.ptr) < 0)
            rc = SF_ENOMEM;
        else if ((rc = exec_ok(db, sql.ptr, "cannot hand the cloned objects to the new role", &p->ctx->err, NULL)) < 0)
            sf_error_prefix(&p->ctx->err, "postgres '%s' database '%s'", p->host, name);
    }
    sf_buf_free(&lit);
    sf_buf_free(&sql);
    return rc;
}

/* Seed the new database as its role (profiles of with.seed_spec), on db. */
static int seed_db(pgctx *p, PGconn *db, const char *name)
{
    const char *spec = sf_resource_str(p->ctx, "seed_spec");
    json_t *prof = json_object_get(p->ctx->spec, "profiles"), *v;
    sf_buf names = SF_BUF_INIT;
    sf_seed *s = NULL;
    char *path = NULL;
    size_t i;
    int rc;
    if ((rc = sf_golden_path(&path, p->ctx->base_dir, spec)) < 0)
        return sf_error_set(&p->ctx->err, SF_ENOMEM, "out of memory");
    if (json_is_string(prof))
        sf_buf_adds(&names, json_string_value(prof));
    json_array_foreach(prof, i, v) sf_buf_addf(&names, "%s%s", names.len ? "," : "", json_string_value(v));
    rc = sf_seed_open(&s, path, &p->ctx->err);
    if (rc == 0 && names.len && (rc = sf_seed_use_profiles(s, names.ptr)) < 0)
        sf_error_copy(&p->ctx->err, sf_seed_error(s));
    if (rc == 0 && (rc = sf_seed_to_conn(s, (struct pg_conn *)db)) < 0)
        sf_error_copy(&p->ctx->err, sf_seed_error(s));
    if (rc < 0)
        sf_error_prefix(&p->ctx->err, "postgres '%s' database '%s': seeding", p->host, name);
    sf_seed_free(s);
    free(path);
    sf_buf_free(&names);
    return rc;
}

/*
 * Re-own a clone, extensions (as admin), then the SQL files and seeding as
 * the new role. A clone of a golden template (golden set) already has its
 * extensions, seed and sql files: it is only re-owned.
 */
static int populate(pgctx *p, const char *name, int cloned, int golden)
{
    PGconn *db = NULL;
    json_t *ext = json_object_get(p->ctx->spec, "extensions"), *sql = json_object_get(p->ctx->spec, "sql"), *v;
    int seed = !golden && sf_golden_seeds(sf_resource_str(p->ctx, "seed_spec"), json_object_get(p->ctx->spec, "profiles"));
    sf_buf q = SF_BUF_INIT, stmt = SF_BUF_INIT;
    size_t i;
    int rc;
    if (golden)
        ext = sql = NULL;
    if (!json_array_size(ext) && !sql && !cloned && !seed)
        return 0;
    if ((rc = pg_connect(&db, p->ctx, p->server, name, &p->ctx->err)) < 0)
        return rc;
    if (cloned && (rc = reown_clone(p, db, name)) < 0)
        goto out;
    json_array_foreach(ext, i, v)
    {
        if ((rc = quote_ident(db, &q, json_string_value(v), &p->ctx->err)) < 0)
            goto out;
        sf_buf_clear(&stmt);
        if (sf_buf_addf(&stmt, "CREATE EXTENSION IF NOT EXISTS %s", q.ptr) < 0) {
            rc = SF_ENOMEM;
            goto out;
        }
        if ((rc = exec_ok(db, stmt.ptr, "cannot create the extension", &p->ctx->err, NULL)) < 0) {
            sf_error_prefix(&p->ctx->err, "postgres '%s' database '%s'", p->host, name);
            goto out;
        }
    }
    if (sql || seed) {
        sf_buf_clear(&stmt);
        if (sf_buf_addf(&stmt, "SET ROLE %s", p->name_id) < 0) {
            rc = SF_ENOMEM;
            goto out;
        }
        if ((rc = exec_ok(db, stmt.ptr, "cannot switch to the database's role", &p->ctx->err, NULL)) < 0)
            goto out;
    }
    if (sql) {
        if (json_is_string(sql)) {
            rc = run_sql_file(p, db, json_string_value(sql));
        } else {
            json_array_foreach(sql, i, v) if ((rc = run_sql_file(p, db, json_string_value(v))) < 0) break;
        }
        if (rc < 0)
            goto out;
    }
    /* without a snapshot the sql files make the schema, so seeding comes after them */
    if (seed)
        rc = seed_db(p, db, name);
out:
    PQfinish(db);
    sf_buf_free(&q);
    sf_buf_free(&stmt);
    return rc;
}

/* The golden template of this resource's spec (built if needed), held until released. */
static int golden_acquire(pgctx *p, const char *snapshot, sf_golden **out)
{
    sf_resource_ctx *ctx = p->ctx;
    sf_golden_req req;
    memset(&req, 0, sizeof(req));
    req.server = p->server;
    req.snapshot = snapshot;
    req.seed_spec = sf_resource_str(ctx, "seed_spec");
    req.profiles = json_object_get(ctx->spec, "profiles");
    req.sql = json_object_get(ctx->spec, "sql");
    req.extensions = json_object_get(ctx->spec, "extensions");
    req.base_dir = ctx->base_dir;
    req.prefix = ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf";
    req.cfg = ctx->cfg;
    req.deadline = ctx->deadline;
    req.cancel = ctx->cancel;
    if (!ctx->cfg)
        return sf_error_set(&ctx->err, SF_ECONFIG, "postgres.database: from.snapshot needs the config (snapshots.store, masking)");
    return sf_golden_acquire(out, &req, &ctx->err);
}

static int set_outputs(pgctx *p, const char *name, const char *password)
{
    sf_resource_ctx *ctx = p->ctx;
    const char *host = PQhost(p->admin), *port = PQport(p->admin);
    sf_buf url = SF_BUF_INIT;
    int rc = 0;
    if (!host || !*host)
        host = "localhost";
    if (!port || !*port)
        port = "5432";
    sf_buf_adds(&url, "postgresql://");
    pct_encode(&url, name);
    sf_buf_addc(&url, ':');
    pct_encode(&url, password);
    sf_buf_addc(&url, '@');
    if (host[0] == '/') {
        sf_buf_addc(&url, '/');
        pct_encode(&url, name);
        sf_buf_adds(&url, "?host=");
        pct_encode(&url, host);
        sf_buf_addf(&url, "&port=%s", port);
    } else {
        if (strchr(host, ':'))
            sf_buf_addf(&url, "[%s]", host);
        else
            sf_buf_adds(&url, host);
        sf_buf_addf(&url, ":%s/", port);
        pct_encode(&url, name);
    }
    if (sf_resource_output(ctx, "url", url.ptr, 1) < 0 || sf_resource_output(ctx, "host", host, 0) < 0 ||
        sf_resource_output(ctx, "port", port, 0) < 0 || sf_resource_output(ctx, "name", name, 0) < 0 ||
        sf_resource_output(ctx, "user", name, 0) < 0 || sf_resource_output(ctx, "password", password, 1) < 0)
        rc = sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
    OPENSSL_cleanse(url.ptr, url.len);
    sf_buf_free(&url);
    return rc;
}

/* ------------------------------------------------------------ operations --- */

static int pg_create(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT;
    pgctx p;
    pg_found f = {0};
    char password[49];
    const char *prior_pw = sf_spec_prior(ctx, "password");
    sf_golden *golden = NULL;
    char ready[96] = "";
    int rc, created_db = 0, created_role = 0;

    memset(&p, 0, sizeof(p));
    if ((rc = pg_validate(ctx)) < 0)
        return rc;
    if ((rc = pg_begin(&p, &name, &f, ctx)) < 0)
        goto out;
    if ((f.db || f.role) && !is_ours(&p, name.ptr, &f)) {
        rc = sf_error_set(&ctx->err, SF_EEXIST,
                          "postgres '%s': %s '%s' already exists and this environment did not create it", p.host,
                          f.db ? "database" : "role", name.ptr);
        goto out;
    }
    if (f.db && f.db_comment && marker_is(&p, f.db_comment) && strstr(f.db_comment, " ready")) {
        /* adopt: keep the data, make sure the role can log in with a known password */
        sf_log(SF_LOG_INFO, "postgres: adopting database '%s'", name.ptr);
        if (prior_pw && strlen(prior_pw) < sizeof(password))
            snprintf(password, sizeof(password), "%s", prior_pw);
        else if ((rc = new_password(password)) < 0)
            goto out;
        if ((rc = ensure_role(&p, name.ptr, password, f.role)) < 0)
            goto out;
        rc = set_outputs(&p, name.ptr, password);
        goto out;
    }
    if (f.db) {
        /* ours but never finished (interrupted create): start over */
        sf_log(SF_LOG_INFO, "postgres: database '%s' was left half-built; recreating it", name.ptr);
        if ((rc = drop_database(&p, name.ptr)) < 0)
            goto out;
    }
    if ((rc = new_password(password)) < 0) {
        rc = sf_error_set(&ctx->err, SF_ECRYPTO, "cannot generate a password");
        goto out;
    }
    if ((rc = ensure_role(&p, name.ptr, password, f.role)) < 0)
        goto out;
    created_role = !f.role;
    if (with_str(ctx, "from", "snapshot")) {
        /* the golden template stays held (shared) until the clone exists */
        if ((rc = golden_acquire(&p, with_str(ctx, "from", "snapshot"), &golden)) < 0)
            goto out;
        snprintf(ready, sizeof(ready), "ready template=%s", sf_golden_name(golden));
    }
    if ((rc = create_database(&p, name.ptr, golden ? sf_golden_name(golden) : with_str(ctx, "from", "template_db"),
                              golden != NULL)) < 0)
        goto out;
    created_db = 1;
    sf_golden_release(golden);
    golden = NULL;
    if ((rc = set_comment(&p, "DATABASE", "creating")) < 0)
        goto out;
    if ((rc = populate(&p, name.ptr, ready[0] || with_str(ctx, "from", "template_db"), ready[0] != '\0')) < 0)
        goto out;
    /* a golden clone names its template, so gc knows a live env still needs it */
    if ((rc = set_comment(&p, "DATABASE", ready[0] ? ready : "ready")) < 0)
        goto out;
    rc = set_outputs(&p, name.ptr, password);
out:
    if (rc < 0 && p.admin && (created_db || created_role)) {
        /* undo this attempt so a failure leaves nothing behind */
        sf_error saved = ctx->err;
        if (created_db)
            drop_database(&p, name.ptr);
        drop_role(&p, name.ptr);
        ctx->err = saved;
    }
    sf_golden_release(golden);
    OPENSSL_cleanse(password, sizeof(password));
    pg_finish(&p, &name, &f);
    return rc;
}

static int pg_destroy(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT;
    pgctx p;
    pg_found f = {0};
    int rc;
    memset(&p, 0, sizeof(p));
    if ((rc = pg_begin(&p, &name, &f, ctx)) < 0)
        goto out;
    if (!f.db && !f.role) {
        rc = 0;
        goto out;
    }
    if (!is_ours(&p, name.ptr, &f)) {
        rc = sf_error_set(&ctx->err, SF_EEXIST,
                          "postgres '%s': %s '%s' was not created by this environment; not dropping it", p.host,
                          f.db ? "database" : "role", name.ptr);
        goto out;
    }
    if (f.db && (rc = drop_database(&p, name.ptr)) < 0)
        goto out;
    if (f.role)
        rc = drop_role(&p, name.ptr);
out:
    pg_finish(&p, &name, &f);
    return rc;
}

static int pg_check(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT;
    pgctx p;
    pg_found f = {0};
    int rc;
    memset(&p, 0, sizeof(p));
    if ((rc = pg_begin(&p, &name, &f, ctx)) < 0)
        goto out;
    if (!f.db || !f.role)
        rc = sf_error_set(&ctx->err, SF_ENOTFOUND, "postgres '%s': database '%s' does not exist", p.host, name.ptr);
out:
    pg_finish(&p, &name, &f);
    return rc;
}

/* ---------------------------------------------------------------- refresh --- */

/* `ALTER DATABASE a RENAME TO b`-style statement with two quoted names (b NULL: the second %s is empty). */
static int exec_two(pgctx *p, const char *fmt, const char *a, const char *b, const char *what, char sqlstate[6])
{
    sf_buf qa = SF_BUF_INIT, qb = SF_BUF_INIT, sql = SF_BUF_INIT;
    int rc;
    if ((rc = quote_ident(p->admin, &qa, a, &p->ctx->err)) == 0 &&
        (!b || (rc = quote_ident(p->admin, &qb, b, &p->ctx->err)) == 0)) {
        sf_buf_addf(&sql, fmt, qa.ptr, qb.ptr);
        rc = exec_ok(p->admin, sql.ptr, what, &p->ctx->err, sqlstate);
    }
    sf_buf_free(&qa);
    sf_buf_free(&qb);
    sf_buf_free(&sql);
    return rc;
}

static int comment_on(pgctx *p, const char *db, const char *text)
{
    sf_buf lit = SF_BUF_INIT, q = SF_BUF_INIT, sql = SF_BUF_INIT;
    int rc;
    if ((rc = quote_literal(p->admin, &lit, text, &p->ctx->err)) == 0 &&
        (rc = quote_ident(p->admin, &q, db, &p->ctx->err)) == 0) {
        sf_buf_addf(&sql, "COMMENT ON DATABASE %s IS %s", q.ptr, lit.ptr);
        rc = exec_ok(p->admin, sql.ptr, "cannot record ownership", &p->ctx->err, NULL);
    }
    sf_buf_free(&lit);
    sf_buf_free(&q);
    sf_buf_free(&sql);
    return rc;
}

/* Terminate every other session on db; from PostgreSQL 14 on, wait (up to 5 s) until they are gone. */
static void terminate_sessions(pgctx *p, const char *db)
{
    PQclear(PQexecParams(p->admin,
                         server_version(p) >= 140000
                             ? "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1 "
                               "AND pid <> pg_backend_pid()"
                             : "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                               "pg_backend_pid()",
                         1, NULL, &db, NULL, NULL, 0));
}

/* Drop `db` if it exists and carries this resource's marker (a refresh left behind by a crash). */
static int drop_leftover(pgctx *p, const char *db)
{
    char *comment = NULL;
    int found, rc;
    if ((rc = query1(p->admin, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", db,
                     &comment, &found, &p->ctx->err)) < 0)
        return rc;
    if (found && !marker_is(p, comment))
        rc = sf_error_set(&p->ctx->err, SF_EEXIST, "postgres '%s': database '%s' exists and is not ours", p->host, db);
    else if (found)
        rc = exec_two(p, server_version(p) >= 130000 ? "DROP DATABASE IF EXISTS %s WITH (FORCE)%s"
                                                      : "DROP DATABASE IF EXISTS %s%s",
                      db, NULL, "cannot drop a leftover database", NULL);
    free(comment);
    return rc;
}

/* The swap: no new sessions, terminate the old ones, both renames in one transaction. */
static int swap_names(pgctx *p, const char *live, const char *fresh, const char *old, double *downtime)
{
    char state[6];
    double t0;
    int rc;
    t0 = sf_monotonic();
    if ((rc = exec_two(p, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false%s", live, NULL,
                       "cannot stop new connections", NULL)) < 0)
        return rc;
    for (int attempt = 1;; attempt++) {
        terminate_sessions(p, live);
        rc = exec_ok(p->admin, "BEGIN", "cannot begin", &p->ctx->err, NULL);
        if (rc == 0)
            rc = exec_two(p, "ALTER DATABASE %s RENAME TO %s", live, old, "cannot rename the live database", state);
        if (rc == 0)
            rc = exec_two(p, "ALTER DATABASE %s RENAME TO %s", fresh, live, "cannot rename the new database", state);
        if (rc == 0)
            rc = exec_ok(p->admin, "COMMIT", "cannot commit the swap", &p->ctx->err, state);
        else
            PQclear(PQexec(p->admin, "ROLLBACK"));
        if (rc == 0 || strcmp(state, SQLSTATE_OBJECT_IN_USE) != 0 || attempt >= 20)
            break;
        backoff_sleep(1); /* a session was still going away */
    }
    *downtime = sf_monotonic() - t0;
    if (rc < 0) {
        sf_error saved = p->ctx->err;
        exec_two(p, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true%s", live, NULL, "reopen", NULL);
        p->ctx->err = saved;
    }
    return rc;
}

/*
 * See providers/postgres.h. The new database gets deterministic names
 * (<prefix>_rf_/<prefix>_old_ + a hash of the live name) and this
 * resource's marker, so whatever an interrupted refresh leaves is ours to
 * drop next time, and nothing else ever is.
 */
int sf_postgres_refresh(sf_resource_ctx *ctx, const char *snapshot, json_t **report)
{
    sf_buf name = SF_BUF_INIT, fresh = SF_BUF_INIT, old = SF_BUF_INIT, mark = SF_BUF_INIT;
    const char *prefix = ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf";
    sf_golden *golden = NULL;
    pgctx p;
    pg_found f = {0};
    PGconn *db = NULL;
    char hash[65], tpl[64] = "", from[160] = "";
    double t0 = sf_monotonic(), downtime = 0;
    int rc, built = 0, created = 0;

    *report = NULL;
    memset(&p, 0, sizeof(p));
    if (!snapshot && !(snapshot = with_str(ctx, "from", "snapshot")))
        return sf_error_set(&ctx->err, SF_EUSAGE, "postgres.database '%s' is not built from a snapshot",
                            ctx->resource ? ctx->resource : "?");
    if ((rc = pg_begin(&p, &name, &f, ctx)) < 0)
        goto out;
    if (!f.db || !marker_is(&p, f.db_comment)) {
        rc = sf_error_set(&ctx->err, f.db ? SF_EEXIST : SF_ENOTFOUND,
                          "postgres '%s': database '%s' %s", p.host, name.ptr,
                          f.db ? "was not created by this environment" : "does not exist (run up first)");
        goto out;
    }
    sf_sha256_hex(hash, name.ptr, name.len);
    sf_buf_addf(&fresh, "%s_rf_%.12s", prefix, hash);
    sf_buf_addf(&old, "%s_old_%.12s", prefix, hash);
    if ((rc = sf_guard_check(ctx->cfg, p.host, fresh.ptr, &ctx->err)) < 0 ||
        (rc = drop_leftover(&p, fresh.ptr)) < 0 || (rc = drop_leftover(&p, old.ptr)) < 0)
        goto out;

    /* 1. the new database beside the live one, owned by the same role */
    if ((rc = golden_acquire(&p, snapshot, &golden)) < 0)
        goto out;
    snprintf(tpl, sizeof(tpl), "%s", sf_golden_name(golden));
    snprintf(from, sizeof(from), "%s", sf_golden_snapshot(golden));
    built = sf_golden_built(golden);
    {
        sf_buf qf = SF_BUF_INIT, qt = SF_BUF_INIT, sql = SF_BUF_INIT;
        if ((rc = quote_ident(p.admin, &qf, fresh.ptr, &ctx->err)) == 0 &&
            (rc = quote_ident(p.admin, &qt, tpl, &ctx->err)) == 0) {
            sf_buf_addf(&sql, "CREATE DATABASE %s OWNER %s TEMPLATE %s%s", qf.ptr, p.name_id, qt.ptr,
                        server_version(&p) >= 150000 ? " STRATEGY = FILE_COPY" : "");
            rc = exec_ok(p.admin, sql.ptr, "cannot create the new database", &ctx->err, NULL);
        }
        sf_buf_free(&qf);
        sf_buf_free(&qt);
        sf_buf_free(&sql);
    }
    sf_golden_release(golden);
    golden = NULL;
    if (rc < 0)
        goto out;
    created = 1;
    sf_buf_addf(&mark, "%s refresh", p.marker.ptr);
    if ((rc = comment_on(&p, fresh.ptr, mark.ptr)) < 0)
        goto out;
    if ((rc = pg_connect(&db, ctx, p.server, fresh.ptr, &ctx->err)) < 0 || (rc = reown_clone(&p, db, name.ptr)) < 0)
        goto out;
    PQfinish(db);
    db = NULL;
    sf_buf_clear(&mark);
    sf_buf_addf(&mark, "%s ready template=%s", p.marker.ptr, tpl);
    if ((rc = comment_on(&p, fresh.ptr, mark.ptr)) < 0)
        goto out;

    /* 2. the swap, 3. the old one goes */
    if ((rc = swap_names(&p, name.ptr, fresh.ptr, old.ptr, &downtime)) < 0)
        goto out;
    created = 0;
    sf_log(SF_LOG_INFO, "postgres: '%s' now holds %s (downtime %.0f ms)", name.ptr, from, downtime * 1000);
    if (drop_leftover(&p, old.ptr) < 0) {
        sf_log(SF_LOG_WARN, "postgres: could not drop the old database '%s': %s (the next refresh retries)", old.ptr,
               ctx->err.msg);
        sf_error_clear(&ctx->err);
    }
    *report = json_pack("{s:s, s:s, s:s, s:b, s:f, s:f}", "database", name.ptr, "snapshot", from, "template", tpl,
                        "template_built", built, "downtime_ms", (double)(long long)(downtime * 10000) / 10,
                        "seconds", (double)(long long)((sf_monotonic() - t0) * 1000) / 1000);
    if (!*report)
        rc = sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
out:
    if (rc < 0 && created) {
        sf_error saved = ctx->err;
        drop_leftover(&p, fresh.ptr);
        ctx->err = saved;
    }
    sf_golden_release(golden);
    PQfinish(db);
    pg_finish(&p, &name, &f);
    sf_buf_free(&fresh);
    sf_buf_free(&old);
    sf_buf_free(&mark);
    return rc;
}

const sf_provider sf_provider_postgres = {
    .type = "postgres.database",
    .name = pg_name,
    .validate = pg_validate,
    .create = pg_create,
    .destroy = pg_destroy,
    .check = pg_check,
    .outputs = pg_outputs,
};
