/*
 * gc's listing against the real services: the ownership marker parser,
 * PostgreSQL databases/roles (marked, unmarked, marked through the owning
 * role, odd names, prefix taken literally), S3 buckets (prefix, bad
 * credentials) and local pid files.
 */
#include "envtest.h"
#include "gc_impl.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

#define HEX32 "0123456789abcdef0123456789abcdef"

Test(gc, marker_parsing)
{
    char *id, *res;
    cr_assert_eq(sf_gc_parse_marker("stagefork:" HEX32 "/erp ready", &id, &res), 1);
    cr_assert_str_eq(id, HEX32);
    cr_assert_str_eq(res, "erp");
    free(id);
    free(res);
    cr_assert_eq(sf_gc_parse_marker("stagefork:" HEX32 "/my_db-2", &id, &res), 1, "the state word is optional");
    cr_assert_str_eq(res, "my_db-2");
    free(id);
    free(res);
    cr_assert_eq(sf_gc_parse_marker(NULL, &id, &res), 0);
    cr_assert_null(id);
    cr_assert_eq(sf_gc_parse_marker("", &id, &res), 0);
    cr_assert_eq(sf_gc_parse_marker("owned by stagefork:" HEX32 "/erp ready", &id, &res), 0, "must start with it");
    cr_assert_eq(sf_gc_parse_marker("stagefork:0123456789abcdef0123456789abcde/erp", &id, &res), 0, "31 hex digits");
    cr_assert_eq(sf_gc_parse_marker("stagefork:0123456789ABCDEF0123456789abcdef/erp", &id, &res), 0, "upper case");
    cr_assert_eq(sf_gc_parse_marker("stagefork:" HEX32 "0/erp", &id, &res), 0, "33 hex digits");
    cr_assert_eq(sf_gc_parse_marker("stagefork:" HEX32 "/ ready", &id, &res), 0, "no resource");
    cr_assert_eq(sf_gc_parse_marker("stagefork:tpl/golden ready", &id, &res), 0, "not an env id");
    cr_assert_eq(sf_gc_parse_marker("stagefork:" HEX32, &id, &res), 0, "no slash");
}

static json_t *find(const json_t *found, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(found, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), name)) return o;
    return NULL;
}

Test(gc, postgres_listing_sees_markers_owners_and_odd_names)
{
    const char *url = et_pg();
    char p[32], sql[512];
    PGconn *c = PQconnectdb(url);
    json_t *found = json_array(), *o;
    sf_error err = {0};
    snprintf(p, sizeof(p), "gcu%ld", (long)getpid());
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    /* the fixtures, one statement at a time (CREATE DATABASE runs alone); names carry the pid */
    {
        const char *const stmts[] = {
            "CREATE ROLE %1$s_marked", "CREATE DATABASE %1$s_marked OWNER %1$s_marked",
            "COMMENT ON DATABASE %1$s_marked IS 'stagefork:" HEX32 "/erp ready'",
            "CREATE ROLE %1$s_bare", "COMMENT ON ROLE %1$s_bare IS 'stagefork:" HEX32 "/bare ready'",
            "CREATE DATABASE %1$s_bare OWNER %1$s_bare",
            "CREATE ROLE %1$s_lonely", "COMMENT ON ROLE %1$s_lonely IS 'stagefork:" HEX32 "/lonely ready'",
            "CREATE DATABASE %1$s_other", "COMMENT ON DATABASE %1$s_other IS 'made by hand'",
            "CREATE DATABASE \"%1$s_Odd \"\"Name\"\" ü\"", "CREATE DATABASE %1$sx_near",
            "COMMENT ON DATABASE %1$sx_near IS 'stagefork:" HEX32 "/near ready'"};
        for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
            PGresult *r;
            snprintf(sql, sizeof(sql), stmts[i], p);
            r = PQexec(c, sql);
            cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
            PQclear(r);
        }
    }
    cr_assert_eq(sf_gc_scan_pg(found, url, "test-pg", p, &err), 0, "%s", err.msg);
    snprintf(sql, sizeof(sql), "%s_marked", p);
    cr_assert_not_null(o = find(found, sql));
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "database");
    cr_assert(json_is_true(json_object_get(o, "_marked")) && json_is_true(json_object_get(o, "_has_db")) &&
              json_is_true(json_object_get(o, "_has_role")));
    cr_assert_str_eq(json_string_value(json_object_get(o, "env_id")), HEX32);
    cr_assert_str_eq(json_string_value(json_object_get(o, "resource")), "erp");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "_spec"), "name")), sql);
    snprintf(sql, sizeof(sql), "%s_bare", p);
    cr_assert_not_null(o = find(found, sql));
    cr_assert(json_is_true(json_object_get(o, "_marked")), "an unmarked database owned by its marked role counts");
    cr_assert_str_eq(json_string_value(json_object_get(o, "resource")), "bare");
    snprintf(sql, sizeof(sql), "%s_lonely", p);
    cr_assert_not_null(o = find(found, sql));
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "role", "a role without its database");
    cr_assert(json_is_true(json_object_get(o, "_marked")));
    snprintf(sql, sizeof(sql), "%s_other", p);
    cr_assert_not_null(o = find(found, sql));
    cr_assert(!json_is_true(json_object_get(o, "_marked")), "a foreign comment is no marker");
    snprintf(sql, sizeof(sql), "%s_Odd \"Name\" ü", p);
    cr_assert_not_null(o = find(found, sql), "quoted, multibyte names are listed as they are");
    cr_assert(!json_is_true(json_object_get(o, "_marked")));
    snprintf(sql, sizeof(sql), "%sx_near", p);
    cr_assert_null(find(found, sql), "the prefix is <prefix>_ taken literally ('_' is no wildcard)");
    {
        const char *const drops[] = {"DROP DATABASE %1$s_marked", "DROP DATABASE %1$s_bare",
                                     "DROP DATABASE %1$s_other", "DROP DATABASE \"%1$s_Odd \"\"Name\"\" ü\"",
                                     "DROP DATABASE %1$sx_near", "DROP ROLE %1$s_marked", "DROP ROLE %1$s_bare",
                                     "DROP ROLE %1$s_lonely"};
        for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
            snprintf(sql, sizeof(sql), drops[i], p);
            PQclear(PQexec(c, sql));
        }
    }
    PQfinish(c);
    json_decref(found);
}

Test(gc, postgres_unreachable_server_is_an_error)
{
    json_t *found = json_array();
    sf_error err = {0};
    cr_assert_eq(sf_gc_scan_pg(found, "postgres://nobody:secret@127.0.0.1:1/x", "pg-shown", "sf", &err), SF_EDB);
    cr_assert_not_null(strstr(err.msg, "postgres pg-shown: cannot connect"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "secret"), "no password in messages");
    cr_assert_eq(json_array_size(found), 0);
    json_decref(found);
}

static long s3_put(const char *endpoint, const char *bucket, const char *method)
{
    sf_http *h = NULL;
    sf_http_opts o;
    sf_http_response r;
    sf_http_request q = {0};
    sf_error err = {0};
    char url[512];
    long st;
    memset(&o, 0, sizeof(o));
    cr_assert_eq(sf_http_new(&h, &o, &err), 0, "%s", err.msg);
    sf_http_aws_sigv4(h, "us-east-1", "s3", getenv("STAGEFORK_TEST_S3_ACCESS_KEY"),
                      getenv("STAGEFORK_TEST_S3_SECRET_KEY"), NULL);
    snprintf(url, sizeof(url), "%s/%s", endpoint, bucket);
    q.method = method;
    q.url = url;
    sf_http_response_init(&r);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    st = r.status;
    sf_http_response_free(&r);
    sf_http_free(h);
    return st;
}

Test(gc, s3_listing_by_prefix_and_bad_credentials)
{
    const char *ep = getenv("STAGEFORK_TEST_S3");
    char p[32], b1[64], b2[64];
    json_t *found = json_array(), *spec, *o;
    sf_error err = {0};
    cr_assert(ep && *ep, "STAGEFORK_TEST_S3 is not set: run through `make test`");
    cr_assert(getenv("STAGEFORK_TEST_S3_ACCESS_KEY"), "STAGEFORK_TEST_S3_ACCESS_KEY is not set");
    snprintf(p, sizeof(p), "gcs%ld", (long)getpid());
    snprintf(b1, sizeof(b1), "%s-one", p);
    snprintf(b2, sizeof(b2), "x%s-two", p);
    cr_assert_eq(s3_put(ep, b1, "PUT"), 200);
    cr_assert_eq(s3_put(ep, b2, "PUT"), 200);
    spec = json_pack("{s:s, s:s, s:s}", "endpoint", ep, "access_key", getenv("STAGEFORK_TEST_S3_ACCESS_KEY"),
                     "secret_key", getenv("STAGEFORK_TEST_S3_SECRET_KEY"));
    cr_assert_eq(sf_gc_scan_s3(found, spec, "test-s3", p, NULL, &err), 0, "%s", err.msg);
    cr_assert_not_null(o = find(found, b1));
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "bucket");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "_spec"), "name")), b1,
                     "the spec for destroy names the bucket");
    cr_assert_null(find(found, b2), "a bucket without the prefix is never listed");
    json_object_set_new(spec, "access_key", json_string("NOBODY"));
    json_object_set_new(spec, "secret_key", json_string("wrong-secret"));
    json_array_clear(found);
    cr_assert_lt(sf_gc_scan_s3(found, spec, "test-s3", p, NULL, &err), 0);
    cr_assert_not_null(strstr(err.msg, "s3 test-s3: cannot list buckets"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "InvalidAccessKeyId"), "the server's reason is kept: %s", err.msg);
    cr_assert_null(strstr(err.msg, "wrong-secret"), "no secret in messages: %s", err.msg);
    json_object_del(spec, "access_key");
    json_object_del(spec, "secret_key");
    unsetenv("AWS_ACCESS_KEY_ID");
    cr_assert_eq(sf_gc_scan_s3(found, spec, "test-s3", p, NULL, &err), SF_ECONFIG, "no credentials at all");
    s3_put(ep, b1, "DELETE");
    s3_put(ep, b2, "DELETE");
    json_decref(spec);
    json_decref(found);
}

Test(gc, local_pid_files_and_env_directories)
{
    char dir[128];
    sf_buf p = SF_BUF_INIT;
    json_t *found = json_array(), *o;
    sf_error err = {0};
    et_tmpdir(dir);
    sf_buf_addf(&p, "%s/feature-x", dir);
    mkdir(p.ptr, 0700);
    et_file(&p, dir, "feature-x/sf-feature-x-api.pid", "4242 123456 8080\n");
    et_file(&p, dir, "feature-x/sf-feature-x-api.log", "log\n");
    et_file(&p, dir, "feature-x/garbage.pid", "not a pid\n");
    sf_buf_clear(&p);
    sf_buf_addf(&p, "%s/Not_A_Slug", dir);
    mkdir(p.ptr, 0700);
    et_file(&p, dir, "Not_A_Slug/x.pid", "4242 1 0\n");
    cr_assert_eq(sf_gc_scan_local(found, dir, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(found), 2, "one process and its directory");
    cr_assert_not_null(o = find(found, "sf-feature-x-api"));
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "process");
    cr_assert_str_eq(json_string_value(json_object_get(o, "env")), "feature-x");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "_prior"), "pid")), "4242");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "_prior"), "start_time")), "123456");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "_prior"), "port")), "8080");
    cr_assert_not_null(o = find(found, "feature-x"));
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "files");
    json_array_clear(found);
    sf_buf_clear(&p);
    sf_buf_addf(&p, "%s/none", dir);
    cr_assert_eq(sf_gc_scan_local(found, p.ptr, &err), 0, "a missing files directory is nothing to collect");
    cr_assert_eq(json_array_size(found), 0);
    sf_buf_free(&p);
    json_decref(found);
    et_rmrf(dir);
}
