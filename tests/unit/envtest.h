/* Helpers for the environment suites: scratch dirs, files, per-test PostgreSQL databases. */
#ifndef SF_TESTS_ENVTEST_H
#define SF_TESTS_ENVTEST_H

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/rand.h>
#include "stagefork/buf.h"
#include "stagefork/config.h"
#include "stagefork/env.h"

/* A fresh scratch directory (static buffer per call site is fine: one per test). */
static inline void et_tmpdir(char out[128])
{
    snprintf(out, 128, "/tmp/sf-envtest-XXXXXX");
    cr_assert_not_null(mkdtemp(out));
}

static inline void et_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Write dir/name with printf-style content; returns the path in out. */
static inline void et_file(sf_buf *out, const char *dir, const char *name, const char *text)
{
    sf_buf_clear(out);
    sf_buf_addf(out, "%s/%s", dir, name);
    et_write(out->ptr, text);
}

static inline void et_rmrf(const char *dir)
{
    char cmd[300];
    if (strncmp(dir, "/tmp/sf-envtest-", 16) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
}

static inline char *et_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    sf_buf b = SF_BUF_INIT;
    char chunk[4096];
    size_t n;
    if (!f)
        return strdup("");
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sf_buf_add(&b, chunk, n);
    fclose(f);
    return sf_buf_detach(&b, NULL);
}

/* Count lines of a file that start with prefix. */
static inline int et_count(const char *path, const char *prefix)
{
    char *s = et_slurp(path), *p = s;
    int n = 0;
    size_t pl = strlen(prefix);
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (!strncmp(p, prefix, pl))
            n++;
        p = nl ? nl + 1 : NULL;
    }
    free(s);
    return n;
}

/* The test PostgreSQL server; integration suites fail (never skip) without it. */
static inline const char *et_pg(void)
{
    const char *u = getenv("STAGEFORK_TEST_PG");
    cr_assert(u && *u, "STAGEFORK_TEST_PG is not set: run through `make test` (scripts/run-tests.sh)");
    return u;
}

/* CREATE DATABASE with a unique name; out gets its postgres:// URL, name its name. */
static inline void et_pg_newdb(char url[512], char name[64])
{
    const char *base = et_pg();
    const char *host = strstr(base, "://"), *slash;
    unsigned char r[6];
    PGconn *c;
    PGresult *res;
    char sql[128];
    RAND_bytes(r, sizeof(r));
    snprintf(name, 64, "sf_et_%ld_%02x%02x%02x%02x%02x%02x", (long)getpid(), r[0], r[1], r[2], r[3], r[4], r[5]);
    c = PQconnectdb(base);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
    slash = host ? strchr(host + 3, '/') : NULL;
    cr_assert_not_null(slash, "cannot parse STAGEFORK_TEST_PG '%s'", base);
    snprintf(url, 512, "%.*s/%s", (int)(slash - base), base, name);
}

static inline void et_pg_dropdb(const char *name)
{
    PGconn *c = PQconnectdb(et_pg());
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

/*
 * An engine for one test: a scratch dir, config `cfgtext` written there (NULL:
 * "prefix: sf"), and state in dir/state or, when pg, in a new database of
 * the test server. XDG_STATE_HOME points into the dir; STAGEFORK_STATE and
 * STAGEFORK_NOW are unset. test.resource records to `record`; `tpl` is free
 * for a suite's template path. et_engine_down undoes all of it.
 */
typedef struct et_engine {
    char dir[128];
    char url[512];
    char db[64];
    char record[256];
    char tpl[300];
    int pg;
    sf_config *cfg;
    sf_engine *e;
} et_engine;

static inline void et_engine_up(et_engine *f, int pg, const char *cfgtext)
{
    sf_buf p = SF_BUF_INIT;
    sf_error err = {0};
    memset(f, 0, sizeof(*f));
    f->pg = pg;
    et_tmpdir(f->dir);
    setenv("XDG_STATE_HOME", f->dir, 1);
    unsetenv("STAGEFORK_STATE");
    unsetenv("STAGEFORK_NOW");
    snprintf(f->record, sizeof(f->record), "%s/record.log", f->dir);
    if (pg)
        et_pg_newdb(f->url, f->db);
    else
        snprintf(f->url, sizeof(f->url), "%s/state", f->dir);
    et_file(&p, f->dir, "stagefork.yaml", cfgtext ? cfgtext : "prefix: sf\n");
    cr_assert_eq(sf_config_load(&f->cfg, p.ptr, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_engine_new(&f->e, f->cfg, f->url, &err), 0, "%s", err.msg);
    sf_buf_free(&p);
}

static inline void et_engine_down(et_engine *f)
{
    sf_engine_free(f->e);
    sf_config_free(f->cfg);
    unsetenv("STAGEFORK_NOW");
    if (f->pg)
        et_pg_dropdb(f->db);
    et_rmrf(f->dir);
}

#endif
