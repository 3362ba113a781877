/*
 * Snapshots against the real test PostgreSQL and s3rver: stores (directory
 * and S3 multipart), create/verify/restore of odd data (quoted identifiers,
 * multibyte UTF-8, escapes, NULLs, type limits, a multi-megabyte row, a
 * table without columns, generated columns, sequences), strict-mode
 * refusal leaving nothing behind, tampering, wrong keys, prune, and golden
 * templates built once by parallel creators.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "prov_util.h"
#include "snapstore.h"
#include "stagefork/http.h"
#include "stagefork/snapshot.h"
#include "stagefork/util.h"

static const char key_bytes[] = "snapshot-test-key-0123456789abcdef-0123456789";

/* ------------------------------------------------------------- helpers --- */

static PGconn *conn_to(const char *db)
{
    const char *keys[] = {"dbname", db ? "dbname" : NULL, NULL};
    const char *vals[] = {tp_env("STAGEFORK_TEST_PG"), db, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void exec_in(const char *db, const char *sql)
{
    PGconn *c = conn_to(db);
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%.200s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* First column of every row, joined by '\n'; caller frees. */
static char *query_in(const char *db, const char *sql)
{
    PGconn *c = conn_to(db);
    PGresult *r = PQexec(c, sql);
    sf_buf b = SF_BUF_INIT;
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    for (int i = 0; i < PQntuples(r); i++) {
        if (i)
            sf_buf_addc(&b, '\n');
        sf_buf_adds(&b, PQgetisnull(r, i, 0) ? "<NULL>" : PQgetvalue(r, i, 0));
    }
    PQclear(r);
    PQfinish(c);
    return sf_buf_detach(&b, NULL);
}

static char dbnames[16][64];
static int ndb;

/* A fresh database with a unique name; dropped when the test process ends. */
static const char *new_db(const char *tag)
{
    char sql[256];
    cr_assert_lt(ndb, 16);
    snprintf(dbnames[ndb], sizeof(dbnames[ndb]), "sf_t_snap_%s_%ld", tag, (long)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbnames[ndb]);
    exec_in(NULL, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbnames[ndb]);
    exec_in(NULL, sql);
    return dbnames[ndb++];
}

__attribute__((destructor)) static void drop_dbs(void)
{
    const char *url = getenv("STAGEFORK_TEST_PG");
    PGconn *c;
    if (!ndb || !url)
        return;
    c = PQconnectdb(url);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    for (int i = 0; i < ndb && PQstatus(c) == CONNECTION_OK; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbnames[i]);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

static char *dsn_of(const char *db)
{
    const char *base = tp_env("STAGEFORK_TEST_PG");
    const char *sl = strrchr(base, '/');
    sf_buf b = SF_BUF_INIT;
    sf_buf_add(&b, base, (size_t)(sl - base) + 1);
    sf_buf_adds(&b, db);
    return sf_buf_detach(&b, NULL);
}

static sf_mask_key *test_key(void)
{
    sf_mask_key *k = NULL;
    sf_error err = {0};
    cr_assert_eq(sf_mask_key_from_bytes(&k, key_bytes, strlen(key_bytes), &err), 0, "%s", err.msg);
    return k;
}

static sf_mask_policy *policy(const char *yaml)
{
    sf_mask_policy *p = NULL;
    sf_error err = {0};
    cr_assert_eq(sf_mask_policy_load_mem(&p, "policy.yaml", yaml, strlen(yaml), &err), 0, "%s", err.msg);
    return p;
}

static sf_snap_store *dir_store(void)
{
    char path[256];
    sf_snap_store *st = NULL;
    sf_error err = {0};
    snprintf(path, sizeof(path), "%s/store", tp_tmpdir());
    cr_assert_eq(sf_snap_store_open(&st, path, NULL, &err), 0, "%s", err.msg);
    return st;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* The odd source: quoted names, multibyte, escapes, NULLs, limits, a 3 MB row, no-column table, sequences. */
static const char odd_schema[] =
    "CREATE SCHEMA \"Odd Schema\";\n"
    "CREATE TABLE \"Odd Schema\".\"My \"\"Table\"\"\" (\n"
    "  id bigint PRIMARY KEY, \"E-Mail\" varchar(120) UNIQUE, \"naïve col\" text, n numeric(12,2),\n"
    "  i int, big bigint, flag boolean, payload text, g int GENERATED ALWAYS AS (i / 2) STORED);\n"
    "CREATE INDEX odd_i ON \"Odd Schema\".\"My \"\"Table\"\"\" (i);\n"
    "CREATE TABLE public.nocols ();\n"
    "CREATE TABLE public.plain (id serial PRIMARY KEY, note text, ref bigint REFERENCES \"Odd Schema\".\"My \"\"Table\"\"\"(id));\n"
    "INSERT INTO \"Odd Schema\".\"My \"\"Table\"\"\" (id, \"E-Mail\", \"naïve col\", n, i, big, flag, payload) VALUES\n"
    "  (1, 'first@corp.example', E'tab\\there\\nnew line \\\\ back', 12345.67, 2147483647, -9223372036854775808, true, "
    "   'Zürich — 東京 🚀'),\n"
    "  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),\n"
    "  (3, 'third@corp.example', '\\N is not null', -0.01, -2147483648, 9223372036854775807, false, "
    "   repeat('huge ✓ row ', 300000));\n"
    "INSERT INTO public.nocols DEFAULT VALUES; INSERT INTO public.nocols DEFAULT VALUES;\n"
    "INSERT INTO public.plain (note, ref) VALUES ('a', 1), (NULL, 3), ('c', NULL);\n";

static const char odd_policy[] = "version: 1\n"
                                 "strict: true\n"
                                 "tables:\n"
                                 "  '\"Odd Schema\".\"My \"\"Table\"\"\"':\n"
                                 "    \"E-Mail\": email\n";

static json_t *create_odd(sf_snap_store *st, const char *name, const char **src, int jobs)
{
    sf_snap_create_opts o;
    sf_mask_policy *pol = policy(odd_policy);
    sf_mask_key *key = test_key();
    sf_error err = {0};
    json_t *m = NULL;
    char *dsn;
    *src = new_db("src");
    exec_in(*src, odd_schema);
    dsn = dsn_of(*src);
    memset(&o, 0, sizeof(o));
    o.name = name;
    o.from_dsn = dsn;
    o.policy = pol;
    o.key = key;
    o.strict = -1;
    o.jobs = jobs;
    o.pg_bindir = tp_env("STAGEFORK_TEST_PG_BINDIR");
    cr_assert_eq(sf_snapshot_create(&m, st, &o, &err), 0, "%s", err.msg);
    free(dsn);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    return m;
}

static int restore_into(sf_snap_store *st, const char *ref, const char *db, int jobs, sf_error *err)
{
    sf_snap_restore_opts o;
    sf_mask_key *key = test_key();
    char *dsn = dsn_of(db);
    int rc;
    memset(&o, 0, sizeof(o));
    o.ref = ref;
    o.to_dsn = dsn;
    o.jobs = jobs;
    o.key = key;
    rc = sf_snapshot_restore(NULL, st, &o, err);
    free(dsn);
    sf_mask_key_free(key);
    return rc;
}

/* ---------------------------------------------------------------- stores --- */

Test(snapshot, dir_store_writes_atomically)
{
    sf_snap_store *st = dir_store();
    sf_store_writer *w = NULL;
    sf_store_reader *r = NULL;
    sf_error err = {0};
    json_t *l = NULL;
    char buf[64], path[300];
    ssize_t n;
    cr_assert_eq(sf_store_writer_open(&w, st, "n1", "20260101T000000Z", &err), 0, "%s", err.msg);
    cr_assert_eq(sf_store_write(w, "hello ", 6), 0);
    cr_assert_eq(sf_store_list(&l, st, "n1", &err), 0);
    cr_assert_eq(json_array_size(l), 0, "an unfinished archive is invisible");
    json_decref(l);
    sf_store_writer_abort(w);
    snprintf(path, sizeof(path), "%s/store/n1", tp_tmpdir());
    cr_assert_eq(count_entries(path), 0, "abort leaves no temp file");

    cr_assert_eq(sf_store_writer_open(&w, st, "n1", "20260101T000000Z", &err), 0, "%s", err.msg);
    cr_assert_eq(sf_store_write(w, "hello world", 11), 0);
    cr_assert_eq(sf_store_writer_commit(w, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_store_writer_open(&w, st, "n1", "20260101T000000Z", &err), SF_EEXIST);
    cr_assert_eq(sf_store_list(&l, st, NULL, &err), 0);
    cr_assert_eq(json_array_size(l), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(l, 0), "size")), 11);
    json_decref(l);
    cr_assert_eq(sf_store_reader_open(&r, st, "n1", "20260101T000000Z", &err), 0, "%s", err.msg);
    n = sf_store_read(r, buf, sizeof(buf));
    cr_assert_eq(n, 11);
    cr_assert_eq(memcmp(buf, "hello world", 11), 0);
    cr_assert_eq(sf_store_read(r, buf, sizeof(buf)), 0);
    sf_store_reader_close(r);
    cr_assert_eq(sf_store_delete(st, "n1", "20260101T000000Z", &err), 0);
    cr_assert_eq(sf_store_reader_open(&r, st, "n1", "20260101T000000Z", &err), SF_ENOTFOUND);
    sf_snap_store_free(st);
}

Test(snapshot, store_urls_and_names)
{
    sf_snap_store *st = NULL;
    sf_error err = {0};
    cr_assert_eq(sf_snap_store_open(&st, NULL, NULL, &err), SF_EUSAGE);
    cr_assert(strstr(err.msg, "snapshots.store"), "%s", err.msg);
    cr_assert_eq(sf_snap_store_open(&st, "ftp://x/y", NULL, &err), SF_EUSAGE);
    cr_assert_eq(sf_snap_store_open(&st, "s3://x", NULL, &err), SF_EUSAGE, "bucket names are 3+ bytes");
    cr_assert(sf_snapshot_name_valid("erp-nightly_2.x"));
    cr_assert(!sf_snapshot_name_valid(""));
    cr_assert(!sf_snapshot_name_valid(".hidden"));
    cr_assert(!sf_snapshot_name_valid("a/b"));
    cr_assert(!sf_snapshot_name_valid("a b"));
    cr_assert(sf_snap_id_valid("20261121T221500Z"));
    cr_assert(!sf_snap_id_valid("20261121T221500"));
    cr_assert(!sf_snap_id_valid("2026112xT221500Z"));
}

/* Create a bucket on s3rver with the layer the store uses. */
static void make_bucket(const char *bucket)
{
    sf_http *h = NULL;
    sf_http_opts o;
    sf_http_response resp;
    sf_http_request req;
    sf_error err = {0};
    char url[256];
    memset(&o, 0, sizeof(o));
    memset(&req, 0, sizeof(req));
    cr_assert_eq(sf_http_new(&h, &o, &err), 0);
    cr_assert_eq(sf_http_aws_sigv4(h, "us-east-1", "s3", tp_env("STAGEFORK_TEST_S3_ACCESS_KEY"),
                                   tp_env("STAGEFORK_TEST_S3_SECRET_KEY"), NULL),
                 0);
    snprintf(url, sizeof(url), "%s/%s", tp_env("STAGEFORK_TEST_S3"), bucket);
    req.method = "PUT";
    req.url = url;
    sf_http_response_init(&resp);
    cr_assert_eq(sf_http_do(h, &resp, &req, &err), 0, "%s", err.msg);
    cr_assert(resp.status == 200 || resp.status == 409, "PUT bucket: %ld", resp.status);
    sf_http_response_free(&resp);
    sf_http_free(h);
}

static sf_snap_store *s3_store(const char *bucket, const char *prefix)
{
    sf_snap_store *st = NULL;
    sf_error err = {0};
    char url[256];
    setenv("AWS_ENDPOINT_URL", tp_env("STAGEFORK_TEST_S3"), 1);
    setenv("AWS_ACCESS_KEY_ID", tp_env("STAGEFORK_TEST_S3_ACCESS_KEY"), 1);
    setenv("AWS_SECRET_ACCESS_KEY", tp_env("STAGEFORK_TEST_S3_SECRET_KEY"), 1);
    setenv("STAGEFORK_S3_PART_SIZE", "65536", 1);
    make_bucket(bucket);
    snprintf(url, sizeof(url), "s3://%s/%s", bucket, prefix);
    cr_assert_eq(sf_snap_store_open(&st, url, NULL, &err), 0, "%s", err.msg);
    return st;
}

Test(snapshot, s3_store_multipart_round_trip)
{
    char bucket[64];
    sf_snap_store *st;
    sf_store_writer *w = NULL;
    sf_store_reader *r = NULL;
    sf_error err = {0};
    json_t *l = NULL;
    size_t total = 700 * 1000 + 17, got = 0;
    unsigned char *data = malloc(total), *back = malloc(total);
    snprintf(bucket, sizeof(bucket), "sf-t-snap-%ld", (long)getpid());
    st = s3_store(bucket, "nested//prefix/");
    for (size_t i = 0; i < total; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    cr_assert_eq(sf_store_writer_open(&w, st, "big", "20260101T000000Z", &err), 0, "%s", err.msg);
    for (size_t off = 0; off < total; off += 10007)
        cr_assert_eq(sf_store_write(w, data + off, off + 10007 < total ? 10007 : total - off), 0, "%s",
                     sf_store_writer_error(w)->msg);
    cr_assert_eq(sf_store_writer_commit(w, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_store_list(&l, st, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(l), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "name")), "big");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(l, 0), "size")), (json_int_t)total);
    json_decref(l);
    cr_assert_eq(sf_store_reader_open(&r, st, "big", "20260101T000000Z", &err), 0, "%s", err.msg);
    cr_assert_eq(sf_store_reader_size(r), (long long)total);
    for (;;) {
        ssize_t n = sf_store_read(r, back + got, total - got < 4096 ? total - got + 1 : 4096);
        cr_assert_geq(n, 0, "%s", sf_store_reader_error(r)->msg);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    cr_assert_eq(got, total);
    cr_assert_eq(memcmp(data, back, total), 0, "bytes read back equal bytes written");
    sf_store_reader_close(r);
    /* an aborted multipart upload leaves no archive */
    cr_assert_eq(sf_store_writer_open(&w, st, "big", "20260102T000000Z", &err), 0);
    cr_assert_eq(sf_store_write(w, data, total), 0);
    sf_store_writer_abort(w);
    cr_assert_eq(sf_store_list(&l, st, "big", &err), 0);
    cr_assert_eq(json_array_size(l), 1);
    json_decref(l);
    cr_assert_eq(sf_store_delete(st, "big", "20260101T000000Z", &err), 0, "%s", err.msg);
    free(data);
    free(back);
    sf_snap_store_free(st);
}

/* ------------------------------------------------------ create / restore --- */

Test(snapshot, odd_data_round_trip_with_two_jobs)
{
    sf_snap_store *st = dir_store();
    const char *src, *dst = new_db("dst");
    sf_error err = {0};
    json_t *m = create_odd(st, "odd", &src, 2), *v = NULL;
    char *a, *b, ref[64];
    sf_mask_key *key = test_key();
    const char *cols = "SELECT concat_ws('|', id, \"naïve col\", n, i, big, flag, md5(payload), g, "
                       "\"E-Mail\" IS NULL) FROM \"Odd Schema\".\"My \"\"Table\"\"\" ORDER BY id";

    cr_assert_eq(json_array_size(json_object_get(m, "tables")), 3);
    cr_assert_eq(json_integer_value(json_object_get(m, "rows")), 3 + 2 + 3);
    snprintf(ref, sizeof(ref), "odd@%s", json_string_value(json_object_get(m, "id")));
    cr_assert_eq(sf_snapshot_verify(&v, st, ref, key, &err), 0, "%s", err.msg);
    json_decref(v);
    cr_assert_eq(restore_into(st, "odd", dst, 2, &err), 0, "%s", err.msg);

    /* unmasked columns are byte-identical, including the 3 MB row and the generated column */
    a = query_in(src, cols);
    b = query_in(dst, cols);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    /* the masked column is masked, NULL stays NULL, and uniqueness held (the index was built after the load) */
    a = query_in(dst, "SELECT coalesce(\"E-Mail\", '<NULL>') FROM \"Odd Schema\".\"My \"\"Table\"\"\" ORDER BY id");
    cr_assert(!strstr(a, "corp.example"), "%s", a);
    cr_assert(strstr(a, "@example.com"), "%s", a);
    cr_assert(strstr(a, "<NULL>"), "%s", a);
    free(a);
    a = query_in(dst, "SELECT count(*) FROM public.nocols");
    cr_assert_str_eq(a, "2");
    free(a);
    /* post-data ran: index and foreign key exist; the sequence continues after the restored ids */
    a = query_in(dst, "SELECT count(*) FROM pg_indexes WHERE indexname = 'odd_i'");
    cr_assert_str_eq(a, "1");
    free(a);
    a = query_in(dst, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'");
    cr_assert_str_eq(a, "1");
    free(a);
    a = query_in(dst, "SELECT nextval('public.plain_id_seq')");
    cr_assert_str_eq(a, "4");
    free(a);
    json_decref(m);
    sf_mask_key_free(key);
    sf_snap_store_free(st);
}

Test(snapshot, strict_violation_stores_nothing)
{
    sf_snap_store *st = dir_store();
    sf_snap_create_opts o;
    sf_mask_policy *pol = policy("version: 1\nstrict: true\ntables: {}\n");
    sf_mask_key *key = test_key();
    sf_error err = {0};
    const char *src = new_db("strict");
    json_t *m = NULL, *l = NULL;
    char *dsn = dsn_of(src), path[300];
    exec_in(src, odd_schema);
    memset(&o, 0, sizeof(o));
    o.name = "strict";
    o.from_dsn = dsn;
    o.policy = pol;
    o.key = key;
    o.strict = -1;
    o.jobs = 2;
    o.pg_bindir = tp_env("STAGEFORK_TEST_PG_BINDIR");
    snprintf(path, sizeof(path), "%s/spill", tp_tmpdir());
    mkdir(path, 0700);
    o.tmpdir = path;
    cr_assert_eq(sf_snapshot_create(&m, st, &o, &err), SF_EPOLICY, "%d %s", err.code, err.msg);
    cr_assert(strstr(err.msg, "E-Mail"), "names the column: %s", err.msg);
    cr_assert_eq(sf_store_list(&l, st, NULL, &err), 0);
    cr_assert_eq(json_array_size(l), 0);
    cr_assert_eq(count_entries(path), 0, "no spill file is left");
    json_decref(l);
    free(dsn);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    sf_snap_store_free(st);
}

/* Rewrite the archive with one member changed (tests/tools/snaptamper). */
static void tamper(const char *store_dir, const char *name, const char *id, const char *const *how)
{
    char in[400], out[420], tool[400];
    const char *argv[10];
    int n = 0, status;
    pid_t pid;
    snprintf(in, sizeof(in), "%s/%s/%s.tar.zst", store_dir, name, id);
    snprintf(out, sizeof(out), "%s.new", in);
    snprintf(tool, sizeof(tool), "%s/tools/snaptamper", getenv("STAGEFORK_BUILD") ? getenv("STAGEFORK_BUILD") : "build");
    argv[n++] = tool;
    argv[n++] = in;
    argv[n++] = out;
    while (*how)
        argv[n++] = *how++;
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "snaptamper failed (%s)", tool);
    cr_assert_eq(rename(out, in), 0);
}

Test(snapshot, tampered_members_and_manifests_are_refused)
{
    sf_snap_store *st = dir_store();
    const char *src, *dst = new_db("tamper");
    sf_mask_key *key = test_key(), *other = NULL;
    sf_error err = {0};
    json_t *m = create_odd(st, "tam", &src, 1), *v = NULL;
    const char *id = json_string_value(json_object_get(m, "id"));
    char store_dir[300], *a;
    const char *flip[] = {"data/00001.copy", "flip", "3", NULL};
    const char *unflip[] = {"data/00001.copy", "flip", "3", NULL};
    const char *rows[] = {"manifest.json", "replace", "\"rows\": 3,", "\"rows\": 4,", NULL};
    const char *drop[] = {"schema/post-data.sql", "drop", NULL};
    snprintf(store_dir, sizeof(store_dir), "%s/store", tp_tmpdir());

    /* one byte of a table member */
    tamper(store_dir, "tam", id, flip);
    cr_assert_eq(sf_snapshot_verify(&v, st, "tam", key, &err), SF_EFORMAT, "%s", err.msg);
    cr_assert(strstr(err.msg, "data/00001.copy"), "%s", err.msg);
    cr_assert_neq(restore_into(st, "tam", dst, 2, &err), 0);
    cr_assert(strstr(err.msg, "checksum"), "%s", err.msg);
    a = query_in(dst, "SELECT (SELECT count(*) FROM \"Odd Schema\".\"My \"\"Table\"\"\") + "
                      "(SELECT count(*) FROM public.plain) + (SELECT count(*) FROM public.nocols)");
    cr_assert_str_eq(a, "0", "no rows were committed");
    free(a);
    tamper(store_dir, "tam", id, unflip);
    cr_assert_eq(sf_snapshot_verify(&v, st, "tam", key, &err), 0, "flipped back: %s", err.msg);
    json_decref(v);

    /* a value in the manifest: refused before anything touches the target */
    tamper(store_dir, "tam", id, rows);
    cr_assert_eq(sf_snapshot_verify(&v, st, "tam", key, &err), SF_ECRYPTO, "%s", err.msg);
    {
        const char *fresh = new_db("tamper2");
        cr_assert_eq(restore_into(st, "tam", fresh, 1, &err), SF_ECRYPTO, "%s", err.msg);
        a = query_in(fresh, "SELECT count(*) FROM pg_namespace WHERE nspname = 'Odd Schema'");
        cr_assert_str_eq(a, "0", "not even the schema was created");
        free(a);
    }
    json_decref(m);
    sf_mask_key_free(key);

    /* a missing member, and a wrong key */
    m = create_odd(st, "tam2", &src, 1);
    id = json_string_value(json_object_get(m, "id"));
    cr_assert_eq(sf_mask_key_from_bytes(&other, "another-key-of-at-least-32-bytes-....", 37, &err), 0);
    cr_assert_eq(sf_snapshot_verify(&v, st, "tam2", other, &err), SF_ECRYPTO);
    cr_assert(strstr(err.msg, "another key"), "%s", err.msg);
    tamper(store_dir, "tam2", id, drop);
    key = test_key();
    cr_assert_eq(sf_snapshot_verify(&v, st, "tam2", key, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "missing"), "%s", err.msg);
    sf_mask_key_free(other);
    sf_mask_key_free(key);
    json_decref(m);
    sf_snap_store_free(st);
}

Test(snapshot, list_resolve_prune)
{
    sf_snap_store *st = dir_store();
    sf_store_writer *w;
    sf_error err = {0};
    json_t *l = NULL, *removed = NULL;
    char *name = NULL, *id = NULL;
    const char *ids[] = {"20260101T000000Z", "20260102T000000Z", "20260103T000000Z"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sf_store_writer_open(&w, st, "p", ids[i], &err), 0);
        cr_assert_eq(sf_store_writer_commit(w, &err), 0);
    }
    cr_assert_eq(sf_snapshot_resolve(&name, &id, st, "p", &err), 0);
    cr_assert_str_eq(id, ids[2], "newest by default");
    free(name);
    free(id);
    cr_assert_eq(sf_snapshot_resolve(&name, &id, st, "p@20260102T000000Z", &err), 0);
    cr_assert_str_eq(id, ids[1]);
    free(name);
    free(id);
    cr_assert_eq(sf_snapshot_resolve(&name, &id, st, "p@20250102T000000Z", &err), SF_ENOTFOUND);
    cr_assert_eq(sf_snapshot_resolve(&name, &id, st, "p@bad", &err), SF_EUSAGE);
    cr_assert_eq(sf_snapshot_resolve(&name, &id, st, "nope", &err), SF_ENOTFOUND);
    /* an empty file is listed as unreadable, not hidden */
    cr_assert_eq(sf_snapshot_list(&l, st, "p", NULL, &err), 0);
    cr_assert_eq(json_array_size(l), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "signature")), "unreadable");
    json_decref(l);
    cr_assert_eq(sf_snapshot_prune(&removed, st, "p", 1, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(removed), 2);
    cr_assert_str_eq(json_string_value(json_array_get(removed, 0)), ids[0]);
    json_decref(removed);
    cr_assert_eq(sf_store_list(&l, st, "p", &err), 0);
    cr_assert_eq(json_array_size(l), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "id")), ids[2]);
    json_decref(l);
    cr_assert_eq(sf_snapshot_prune(&removed, st, "p", -1, &err), SF_EUSAGE);
    sf_snap_store_free(st);
}

Test(snapshot, s3_snapshot_round_trip)
{
    char bucket[64];
    sf_snap_store *st;
    const char *src, *dst = new_db("s3dst");
    sf_mask_key *key = test_key();
    sf_error err = {0};
    json_t *m, *v = NULL;
    char *a, *b;
    snprintf(bucket, sizeof(bucket), "sf-t-snaps3-%ld", (long)getpid());
    st = s3_store(bucket, "snaps");
    m = create_odd(st, "s3odd", &src, 2);
    cr_assert_eq(sf_snapshot_verify(&v, st, "s3odd", key, &err), 0, "%s", err.msg);
    json_decref(v);
    cr_assert_eq(restore_into(st, "s3odd", dst, 2, &err), 0, "%s", err.msg);
    a = query_in(src, "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM \"Odd Schema\".\"My \"\"Table\"\"\"");
    b = query_in(dst, "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM \"Odd Schema\".\"My \"\"Table\"\"\"");
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    json_decref(m);
    sf_mask_key_free(key);
    sf_snap_store_free(st);
}

/* ------------------------------------------------------ golden templates --- */

static int builds;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void count_builds(sf_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    pthread_mutex_lock(&log_mu);
    if (strstr(msg, "building from snapshot"))
        builds++;
    pthread_mutex_unlock(&log_mu);
}

static void *create_thread(void *ud)
{
    tprov *t = ud;
    return (void *)(intptr_t)tp_create(t);
}

Test(snapshot, parallel_creators_build_one_golden_template)
{
    sf_snap_store *st = dir_store();
    const char *src;
    json_t *m = create_odd(st, "gold", &src, 1), *unneeded = NULL;
    tprov t[4];
    pthread_t th[4];
    char cfg[600], spec[600], tpl[64] = "", *a;
    sf_error err = {0};
    setenv("SF_TEST_SNAPKEY", key_bytes, 1);
    snprintf(cfg, sizeof(cfg), "snapshots: {store: %s/store}\nmasking: {key_env: SF_TEST_SNAPKEY}\n", tp_tmpdir());
    snprintf(spec, sizeof(spec), "{\"server\": \"%s\", \"from\": {\"snapshot\": \"gold\"}}", tp_env("STAGEFORK_TEST_PG"));
    sf_log_set(count_builds, NULL, SF_LOG_INFO);
    for (int i = 0; i < 4; i++) {
        tp_init(&t[i], "postgres.database", "gold", "db", spec);
        tp_config(&t[i], cfg);
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, create_thread, &t[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        cr_assert_eq((int)(intptr_t)rc, 0, "create %d: %s", i, t[i].ctx.err.msg);
    }
    sf_log_set(NULL, NULL, SF_LOG_ERROR);
    cr_assert_eq(builds, 1, "exactly one build, not %d", builds);
    /* every clone has the data and is owned by its own role */
    for (int i = 0; i < 4; i++) {
        a = query_in(tp_out(&t[i], "name"),
                     "SELECT count(*)::text || ' ' || (SELECT tableowner FROM pg_tables WHERE tablename = 'plain') "
                     "FROM \"Odd Schema\".\"My \"\"Table\"\"\"");
        cr_assert(strncmp(a, "3 ", 2) == 0 && strcmp(a + 2, tp_out(&t[i], "name")) == 0, "%s", a);
        free(a);
    }
    {
        PGconn *c = conn_to(NULL);
        const char *n = tp_out(&t[0], "name");
        PGresult *r = PQexecParams(c, "SELECT substring(shobj_description(oid, 'pg_database') from ' template=(.*)$') "
                                      "FROM pg_database WHERE datname = $1",
                                   1, NULL, &n, NULL, NULL, 0);
        cr_assert_eq(PQntuples(r), 1);
        snprintf(tpl, sizeof(tpl), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
    }
    cr_assert(strncmp(tpl, "sf_tpl_", 7) == 0, "clone records its template: '%s'", tpl);

    /* gc: needed while clones exist; unneeded once they are gone and a newer snapshot exists */
    {
        sf_config *cfgp = t[0].cfg;
        json_t *e;
        size_t i;
        int listed = 0;
        cr_assert_eq(sf_golden_unneeded(&unneeded, tp_env("STAGEFORK_TEST_PG"), cfgp, &err), 0, "%s", err.msg);
        json_array_foreach(unneeded, i, e) listed |= !strcmp(json_string_value(json_object_get(e, "name")), tpl);
        cr_assert(!listed, "a cloned template is needed");
        json_decref(unneeded);
        cr_assert_eq(sf_golden_drop(tp_env("STAGEFORK_TEST_PG"), cfgp, tpl, &err), SF_EEXIST, "%s", err.msg);
        for (int k = 0; k < 4; k++)
            cr_assert_eq(tp_destroy(&t[k]), 0, "%s", t[k].ctx.err.msg);
        /* still the newest snapshot: kept */
        cr_assert_eq(sf_golden_unneeded(&unneeded, tp_env("STAGEFORK_TEST_PG"), cfgp, &err), 0, "%s", err.msg);
        listed = 0;
        json_array_foreach(unneeded, i, e) listed |= !strcmp(json_string_value(json_object_get(e, "name")), tpl);
        cr_assert(!listed, "the newest snapshot's template is kept");
        json_decref(unneeded);
        sleep(1); /* a newer snapshot id */
        json_decref(create_odd(st, "gold", &src, 1));
        cr_assert_eq(sf_golden_unneeded(&unneeded, tp_env("STAGEFORK_TEST_PG"), cfgp, &err), 0, "%s", err.msg);
        listed = 0;
        json_array_foreach(unneeded, i, e) listed |= !strcmp(json_string_value(json_object_get(e, "name")), tpl);
        cr_assert(listed, "no clone, older snapshot: unneeded");
        json_decref(unneeded);
        cr_assert_eq(sf_golden_drop(tp_env("STAGEFORK_TEST_PG"), cfgp, tpl, &err), 0, "%s", err.msg);
    }
    {
        PGconn *c = conn_to(NULL);
        const char *p = tpl;
        PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, &p, NULL, NULL, 0);
        cr_assert_eq(PQntuples(r), 0, "dropped");
        PQclear(r);
        PQfinish(c);
    }
    for (int i = 0; i < 4; i++)
        tp_free(&t[i]);
    json_decref(m);
    sf_snap_store_free(st);
}
