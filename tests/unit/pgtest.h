#ifndef SF_TESTS_PGTEST_H
#define SF_TESTS_PGTEST_H
/*
 * PostgreSQL helpers for the suites that talk to the test server
 * ($STAGEFORK_TEST_PG): connect, run SQL, read one value, a fresh database
 * per test, and whole-file reads. Every failure fails the test (never a skip).
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char pgt_admin_dsn[512];

static inline PGconn *connect_ok(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s: %s", dsn, PQerrorMessage(c));
    return c;
}

static inline void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
}

/* The single value of a query as a new string ("" for NULL). */
static inline char *value_of(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v;
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    cr_assert_eq(PQntuples(r), 1, "%s", sql);
    v = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static inline long long scalar(PGconn *c, const char *sql)
{
    char *v = value_of(c, sql);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* A fresh database <prefix>_<tag>_<pid> for one test; its DSN into dsn, its name into name. Dropped by drop_db. */
static inline void make_db(char *dsn, size_t cap, char *name, size_t ncap, const char *prefix, const char *tag)
{
    const char *u = getenv("STAGEFORK_TEST_PG"), *slash;
    PGconn *a;
    char sql[256];
    cr_assert(u && *u, "STAGEFORK_TEST_PG is not set (run through make test / scripts/run-tests.sh)");
    slash = strrchr(u, '/');
    snprintf(pgt_admin_dsn, sizeof(pgt_admin_dsn), "%s", u);
    snprintf(name, ncap, "%s_%s_%d", prefix, tag, (int)getpid());
    snprintf(dsn, cap, "%.*s/%s", (int)(slash - u), u, name);
    a = connect_ok(pgt_admin_dsn);
    exec_ok(a, "SET client_min_messages TO warning");
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
    exec_ok(a, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    exec_ok(a, sql);
    PQfinish(a);
}

static inline void drop_db(const char *name)
{
    PGconn *a = connect_ok(pgt_admin_dsn);
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    exec_ok(a, sql);
    PQfinish(a);
}

/* A whole file as a NUL-terminated string (free it). */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

#endif
