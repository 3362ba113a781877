/* postgres.database against the real test PostgreSQL (STAGEFORK_TEST_PG). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "prov_util.h"
#include "stagefork/util.h"

static PGconn *admin(void)
{
    PGconn *c = PQconnectdb(tp_env("STAGEFORK_TEST_PG"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

/* First value of a one-parameter query, "" if no row; caller frees. */
static char *q1(PGconn *c, const char *sql, const char *param)
{
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
    char *v;
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

static int db_exists(const char *name)
{
    PGconn *c = admin();
    char *v = q1(c, "SELECT count(*) FROM pg_database WHERE datname = $1", name);
    char *r = q1(c, "SELECT count(*) FROM pg_roles WHERE rolname = $1", name);
    int n = atoi(v) + atoi(r);
    free(v);
    free(r);
    PQfinish(c);
    return n;
}

static void exec_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r;
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static char *query_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    char *v;
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    v = q1(c, sql, NULL);
    PQfinish(c);
    return v;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", tp_tmpdir(), name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static char spec[4096];

static const char *server_spec(const char *extra)
{
    snprintf(spec, sizeof(spec), "{\"server\": \"%s\"%s%s}", tp_env("STAGEFORK_TEST_PG"), extra ? ", " : "",
             extra ? extra : "");
    return spec;
}

Test(pgdb, create_adopt_destroy_with_extension_and_sql_files)
{
    tprov t;
    char extra[1024], *v, pw[128], url[512];
    write_file("schema.sql", "-- schema with odd identifiers and multibyte text\n"
                             "CREATE TABLE \"Größe \"\"quoted\"\"\" (id int PRIMARY KEY, note text);\n"
                             "INSERT INTO \"Größe \"\"quoted\"\"\" VALUES (1, 'žluťoučký kůň'), (2, NULL);\n");
    write_file("seed2.sql", "CREATE TABLE second (id int); INSERT INTO second SELECT generate_series(1, 100);\n");
    snprintf(extra, sizeof(extra), "\"extensions\": [\"citext\"], \"sql\": [\"schema.sql\", \"seed2.sql\"]");
    tp_init(&t, "postgres.database", "pg-full", "erp", server_spec(extra));
    t.ctx.base_dir = tp_tmpdir();
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_str_eq(tp_out(&t, "name"), t.name.ptr);
    cr_assert_eq(strncmp(t.name.ptr, "sf_pg_full_", 11), 0, "name %s", t.name.ptr);
    cr_assert_str_eq(tp_out(&t, "user"), t.name.ptr);
    cr_assert_eq(strlen(tp_out(&t, "password")), 48);
    cr_assert_str_eq(tp_out(&t, "host"), "127.0.0.1");
    cr_assert_str_eq(tp_out(&t, "port"), tp_env("STAGEFORK_TEST_PG_PORT"));
    cr_assert_eq(json_array_size(t.ctx.secrets), 2, "url and password are secret");
    snprintf(url, sizeof(url), "%s", tp_out(&t, "url"));
    snprintf(pw, sizeof(pw), "%s", tp_out(&t, "password"));
    /* the url logs in as the new role; objects from the sql files belong to it */
    v = query_on(url, "SELECT current_user || ':' || (SELECT count(*) FROM second) || ':' || "
                      "(SELECT note FROM \"Größe \"\"quoted\"\"\" WHERE id = 1) || ':' || "
                      "(SELECT tableowner FROM pg_tables WHERE tablename = 'second') || ':' || "
                      "(SELECT count(*) FROM pg_extension WHERE extname = 'citext')");
    {
        char want[512];
        snprintf(want, sizeof(want), "%s:100:žluťoučký kůň:%s:1", t.name.ptr, t.name.ptr);
        cr_assert_str_eq(v, want);
    }
    free(v);
    exec_on(url, "INSERT INTO second VALUES (1000)");

    /* rerun with the recorded outputs: adopted, data kept, sql not re-run, same password */
    tp_keep_outputs(&t);
    cr_assert_eq(tp_create(&t), 0, "adopt: %s", t.ctx.err.msg);
    cr_assert_str_eq(tp_out(&t, "password"), pw);
    v = query_on(tp_out(&t, "url"), "SELECT count(*) FROM second");
    cr_assert_str_eq(v, "101");
    free(v);
    cr_assert_eq(tp_check(&t), 0, "%s", t.ctx.err.msg);

    /* destroy while a session is connected: terminated, then dropped with the role */
    {
        PGconn *held = PQconnectdb(url);
        cr_assert_eq(PQstatus(held), CONNECTION_OK);
        cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
        PQfinish(held);
    }
    cr_assert_eq(db_exists(t.name.ptr), 0);
    cr_assert_eq(tp_destroy(&t), 0, "destroy when gone: %s", t.ctx.err.msg);
    cr_assert_eq(tp_check(&t), SF_ENOTFOUND);
    tp_free(&t);
}

Test(pgdb, lost_password_is_reset_on_adopt)
{
    tprov t;
    json_t *prior;
    char old[64];
    tp_init(&t, "postgres.database", "pg-pw", "app", server_spec(NULL));
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    snprintf(old, sizeof(old), "%s", tp_out(&t, "password"));
    /* intent record only: the engine knows the name but lost the outputs (an empty object) */
    prior = json_object();
    t.ctx.prior_outputs = prior;
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_str_neq(tp_out(&t, "password"), old);
    free(query_on(tp_out(&t, "url"), "SELECT 1"));
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    tp_free(&t);
}

Test(pgdb, foreign_database_is_not_adopted_nor_dropped)
{
    tprov t;
    PGconn *c;
    PGresult *r;
    char sql[256];
    tp_init(&t, "postgres.database", "pg-foreign", "erp", server_spec(NULL));
    tp_create(&t); /* computes the name */
    cr_assert_eq(tp_destroy(&t), 0);
    c = admin();
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", t.name.ptr);
    r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    cr_assert_eq(tp_create(&t), SF_EEXIST);
    cr_assert(strstr(t.ctx.err.msg, "did not create it"), "%s", t.ctx.err.msg);
    cr_assert_eq(tp_destroy(&t), SF_EEXIST, "%s", t.ctx.err.msg);
    cr_assert_eq(db_exists(t.name.ptr), 1, "the foreign database must survive");
    snprintf(sql, sizeof(sql), "DROP DATABASE \"%s\"", t.name.ptr);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    tp_free(&t);
}

Test(pgdb, bad_sql_file_reports_file_line_column_and_leaves_nothing)
{
    tprov t;
    char extra[512], want[600];
    const char *path = write_file("bad.sql", "-- é first line\n"
                                             "CREATE TABLE fine (id int);\n"
                                             "SELECT 'ü'; CREATE TABLEX broken (id int);\n");
    snprintf(extra, sizeof(extra), "\"sql\": [\"%s\"]", path);
    tp_init(&t, "postgres.database", "pg-badsql", "erp", server_spec(extra));
    cr_assert_eq(tp_create(&t), SF_EDB);
    snprintf(want, sizeof(want), "%s:3:20: syntax error at or near \"TABLEX\"", path);
    cr_assert_str_eq(t.ctx.err.msg, want);
    cr_assert_eq(db_exists(t.name.ptr), 0, "a failed create must not leave the database or role");
    tp_free(&t);
}

Test(pgdb, missing_sql_file_is_an_io_error)
{
    tprov t;
    tp_init(&t, "postgres.database", "pg-nofile", "erp", server_spec("\"sql\": \"does-not-exist.sql\""));
    t.ctx.base_dir = "/nonexistent-dir";
    cr_assert_eq(tp_create(&t), SF_EIO);
    cr_assert_str_eq(t.ctx.err.msg, "cannot open '/nonexistent-dir/does-not-exist.sql': No such file or directory");
    cr_assert_eq(db_exists(t.name.ptr), 0);
    tp_free(&t);
}

static void *release_later(void *arg)
{
    usleep(1200 * 1000);
    PQfinish(arg);
    return NULL;
}

Test(pgdb, clone_from_template_db_waits_for_template_in_use)
{
    tprov t, tpl;
    char extra[256], *v;
    PGconn *held;
    pthread_t th;
    /* the golden template: another database of ours with data */
    write_file("tpl.sql", "CREATE TABLE items (sku text); INSERT INTO items VALUES ('SKU-1'), ('SKU-2');\n");
    tp_init(&tpl, "postgres.database", "pg-tpl", "golden", server_spec("\"sql\": [\"tpl.sql\"]"));
    tpl.ctx.base_dir = tp_tmpdir();
    cr_assert_eq(tp_create(&tpl), 0, "%s", tpl.ctx.err.msg);

    snprintf(extra, sizeof(extra), "\"from\": {\"template_db\": \"%s\"}", tpl.name.ptr);
    tp_init(&t, "postgres.database", "pg-clone", "erp", server_spec(extra));
    held = PQconnectdb(tp_out(&tpl, "url"));
    cr_assert_eq(PQstatus(held), CONNECTION_OK);
    pthread_create(&th, NULL, release_later, held);
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    pthread_join(th, NULL);
    v = query_on(tp_out(&t, "url"), "SELECT string_agg(sku, ',' ORDER BY sku) FROM items");
    cr_assert_str_eq(v, "SKU-1,SKU-2");
    free(v);
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(tp_destroy(&tpl), 0, "%s", tpl.ctx.err.msg);
    tp_free(&t);
    tp_free(&tpl);
}

Test(pgdb, template_in_use_until_deadline_fails_clearly)
{
    tprov t, tpl;
    char extra[256];
    PGconn *held;
    tp_init(&tpl, "postgres.database", "pg-tpl2", "golden", server_spec(NULL));
    cr_assert_eq(tp_create(&tpl), 0, "%s", tpl.ctx.err.msg);
    held = PQconnectdb(tp_out(&tpl, "url"));
    cr_assert_eq(PQstatus(held), CONNECTION_OK);
    snprintf(extra, sizeof(extra), "\"from\": {\"template_db\": \"%s\"}", tpl.name.ptr);
    tp_init(&t, "postgres.database", "pg-clone2", "erp", server_spec(extra));
    t.ctx.deadline = sf_monotonic() + 2;
    cr_assert_eq(tp_create(&t), SF_EDB);
    cr_assert(strstr(t.ctx.err.msg, "being accessed by other users"), "%s", t.ctx.err.msg);
    cr_assert_eq(db_exists(t.name.ptr), 0);
    PQfinish(held);
    cr_assert_eq(tp_destroy(&tpl), 0, "%s", tpl.ctx.err.msg);
    tp_free(&t);
    tp_free(&tpl);
}

Test(pgdb, missing_template_and_snapshot_are_clear_errors)
{
    tprov t;
    tp_init(&t, "postgres.database", "pg-notpl", "erp", server_spec("\"from\": {\"template_db\": \"sf_no_such_db\"}"));
    cr_assert_eq(tp_create(&t), SF_ENOTFOUND);
    cr_assert(strstr(t.ctx.err.msg, "template database 'sf_no_such_db' does not exist"), "%s", t.ctx.err.msg);
    cr_assert_eq(db_exists(t.name.ptr), 0);
    /* a snapshot needs a store in the config; nothing is left behind when there is none */
    tp_spec(&t, server_spec("\"from\": {\"snapshot\": \"erp-nightly\"}"));
    cr_assert_eq(tp_create(&t), SF_ECONFIG);
    cr_assert(strstr(t.ctx.err.msg, "from.snapshot needs"), "%s", t.ctx.err.msg);
    tp_config(&t, "prefix: sf\n");
    cr_assert_eq(tp_create(&t), SF_ECONFIG);
    cr_assert(strstr(t.ctx.err.msg, "snapshots.store"), "%s", t.ctx.err.msg);
    cr_assert_eq(db_exists(t.name.ptr), 0);
    tp_free(&t);
}

Test(pgdb, unreachable_server_and_bad_credentials)
{
    tprov t;
    double t0;
    tp_init(&t, "postgres.database", "pg-down", "erp", "{\"server\": \"postgres://postgres@127.0.0.1:1/postgres\"}");
    t0 = sf_monotonic();
    cr_assert_eq(tp_create(&t), SF_EDB);
    cr_assert(strstr(t.ctx.err.msg, "postgres '127.0.0.1': cannot connect to the server"), "%s", t.ctx.err.msg);
    cr_assert(sf_monotonic() - t0 < 20, "connect retries are bounded");
    cr_assert_eq(tp_destroy(&t), SF_EDB, "destroy cannot claim success when the server is unreachable");
    {
        char s[512];
        snprintf(s, sizeof(s), "{\"server\": \"postgres://nosuchuser:pw@127.0.0.1:%s/postgres\"}",
                 tp_env("STAGEFORK_TEST_PG_PORT"));
        tp_spec(&t, s);
    }
    t0 = sf_monotonic();
    cr_assert_eq(tp_create(&t), SF_EDB);
    cr_assert(strstr(t.ctx.err.msg, "nosuchuser"), "%s", t.ctx.err.msg);
    cr_assert_null(strstr(t.ctx.err.msg, ":pw@"), "no password in messages");
    cr_assert(sf_monotonic() - t0 < 2, "bad credentials are not retried");
    tp_free(&t);
}

Test(pgdb, guardrails_refuse_protected_hosts_and_names)
{
    tprov t;
    tp_init(&t, "postgres.database", "pg-guard", "erp", server_spec(NULL));
    tp_config(&t, "guard:\n  protected: [\"127.0.0.*\"]\n");
    cr_assert_eq(tp_create(&t), SF_EGUARD);
    cr_assert(strstr(t.ctx.err.msg, "guard.protected"), "%s", t.ctx.err.msg);
    cr_assert_eq(tp_destroy(&t), SF_EGUARD);
    tp_config(&t, "guard:\n  protected: [\"*_erp\"]\n");
    cr_assert_eq(tp_create(&t), SF_EGUARD);
    cr_assert(strstr(t.ctx.err.msg, "_erp"), "%s", t.ctx.err.msg);
    tp_config(&t, "guard:\n  allow_hosts: [\"db.internal\"]\n");
    cr_assert_eq(tp_create(&t), SF_EGUARD);
    cr_assert(strstr(t.ctx.err.msg, "allow_hosts"), "%s", t.ctx.err.msg);
    cr_assert_eq(db_exists(t.name.ptr), 0);
    tp_free(&t);
}

Test(pgdb, names_explicit_prefixed_long_and_odd)
{
    tprov t;
    char s[600];
    tp_init(&t, "postgres.database", "pg-name", "erp", server_spec("\"name\": \"custom_db\""));
    cr_assert_eq(tp_create(&t), SF_ECONFIG, "a name without the prefix is refused");
    cr_assert(strstr(t.ctx.err.msg, "must start with 'sf_'"), "%s", t.ctx.err.msg);
    snprintf(s, sizeof(s), "\"name\": \"sf_custom_%ld\"", (long)getpid());
    tp_spec(&t, server_spec(s));
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(strncmp(tp_out(&t, "name"), "sf_custom_", 10), 0);
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    tp_free(&t);

    /* a long env ident and an odd resource key: bounded, prefixed, deterministic */
    tp_init(&t, "postgres.database", "pg-a-very-long-branch-name-that-goes-on-and-on-and-on", "Odd-Key.Ä",
            server_spec(NULL));
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_leq(strlen(t.name.ptr), 63);
    cr_assert_eq(strncmp(t.name.ptr, "sf_pg_a_very_long", 17), 0, "%s", t.name.ptr);
    free(query_on(tp_out(&t, "url"), "SELECT 1"));
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(db_exists(t.name.ptr), 0);
    tp_free(&t);
}

Test(pgdb, validate_rejects_unknown_keys_and_bad_types)
{
    tprov t;
    tp_init(&t, "postgres.database", "pg-val", "erp", "{\"server\": \"x\", \"extenshuns\": []}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    cr_assert_str_eq(t.ctx.err.msg, "postgres.database: unknown key 'extenshuns' in with");
    tp_spec(&t, "{}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"server\": \"x\", \"extensions\": [1]}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"server\": \"x\", \"from\": {\"template_db\": \"a\", \"snapshot\": \"b\"}}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_free(&t);
}
