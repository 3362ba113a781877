/* gc: listing what exists with the prefix — PostgreSQL databases and roles, S3 buckets, local pid files. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "gc_impl.h"
#include "s3_rest.h"
#include "stagefork/guard.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

/* Strict on purpose (gc_impl.h): anything but the provider's exact marker shape is not ours. */
int sf_gc_parse_marker(const char *comment, char **env_id, char **resource)
{
    static const char tag[] = "stagefork:";
    const char *id, *slash, *end;
    *env_id = *resource = NULL;
    if (!comment || strncmp(comment, tag, sizeof(tag) - 1) != 0)
        return 0;
    id = comment + sizeof(tag) - 1;
    slash = strchr(id, '/');
    if (!slash || slash - id != 32 || strspn(id, "0123456789abcdef") < 32)
        return 0;
    end = slash + 1 + strcspn(slash + 1, " ");
    if (end == slash + 1)
        return 0;
    *env_id = strndup(id, 32);
    *resource = strndup(slash + 1, (size_t)(end - slash - 1));
    if (!*env_id || !*resource) {
        free(*env_id);
        free(*resource);
        *env_id = *resource = NULL;
        return 0;
    }
    return 1;
}

static void trim_nl(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* The entry of found for (kind-independent) name on this target, created on first sight. */
static json_t *pg_entry(json_t *found, const char *shown, const char *dsn, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(found, i, o)
    {
        const char *n = json_string_value(json_object_get(o, "name"));
        const char *t = json_string_value(json_object_get(o, "target"));
        const char *ty = json_string_value(json_object_get(o, "_type"));
        if (n && t && ty && !strcmp(ty, "postgres.database") && !strcmp(n, name) && !strcmp(t, shown))
            return o;
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "kind", "role", "target", shown, "name", name, "_type",
                  "postgres.database", "_spec", "server", dsn, "name", name);
    if (o && json_array_append_new(found, o) < 0)
        return NULL;
    return o;
}

/* Record a comment's marker on entry o (the first marker seen wins). */
static void pg_mark(json_t *o, const char *comment)
{
    char *id, *res;
    if (json_is_true(json_object_get(o, "_marked")) || !sf_gc_parse_marker(comment, &id, &res))
        return;
    json_object_set_new(o, "_marked", json_true());
    json_object_set_new(o, "env_id", json_string(id));
    json_object_set_new(o, "resource", json_string(res));
    free(id);
    free(res);
}

/*
 * One admin connection, two catalog queries; prefix compared with left()
 * so '_' is literal. Entries are appended to found (one per name, database
 * and role merged); the caller owns found. Errors name the shown target only.
 */
int sf_gc_scan_pg(json_t *found, const char *dsn, const char *shown, const char *prefix, sf_error *err)
{
    const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
    const char *const vals[] = {"10", dsn, "stagefork-gc", NULL};
    sf_buf pfx = SF_BUF_INIT;
    const char *params[1];
    PGconn *c = NULL;
    PGresult *r = NULL;
    int rc = 0;
    if (sf_buf_addf(&pfx, "%s_", prefix) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    params[0] = pfx.ptr;
    c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[SF_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", c ? PQerrorMessage(c) : "out of memory");
        trim_nl(msg);
        rc = sf_error_set(err, SF_EDB, "postgres %s: cannot connect: %s", shown, msg);
        goto out;
    }
    /* databases with their comment, their owner and the owner's comment */
    r = PQexecParams(c,
                     "SELECT d.datname, shobj_description(d.oid, 'pg_database'), o.rolname,"
                     " shobj_description(o.oid, 'pg_authid')"
                     " FROM pg_database d LEFT JOIN pg_roles o ON o.oid = d.datdba"
                     " WHERE left(d.datname, length($1)) = $1 ORDER BY 1",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto query_failed;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        json_t *o = pg_entry(found, shown, dsn, name);
        if (!o) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
        json_object_set_new(o, "kind", json_string("database"));
        json_object_set_new(o, "_has_db", json_true());
        if (!PQgetisnull(r, i, 1))
            pg_mark(o, PQgetvalue(r, i, 1));
        /* CREATE DATABASE and its COMMENT are two statements: a crash between them leaves the
           database unmarked, but owned by the same-named role, which was marked in its own transaction */
        if (!PQgetisnull(r, i, 2) && !strcmp(PQgetvalue(r, i, 2), name) && !PQgetisnull(r, i, 3))
            pg_mark(o, PQgetvalue(r, i, 3));
    }
    PQclear(r);
    r = PQexecParams(c,
                     "SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles"
                     " WHERE left(rolname, length($1)) = $1 ORDER BY 1",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto query_failed;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = pg_entry(found, shown, dsn, PQgetvalue(r, i, 0));
        if (!o) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
        json_object_set_new(o, "_has_role", json_true());
        if (!PQgetisnull(r, i, 1))
            pg_mark(o, PQgetvalue(r, i, 1));
    }
    goto out;
query_failed: {
    char msg[SF_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    trim_nl(msg);
    rc = sf_error_set(err, SF_EDB, "postgres %s: cannot list databases and roles: %s", shown, msg);
}
out:
    PQclear(r);
    PQfinish(c);
    sf_buf_free(&pfx);
    return rc;
}

static const char *spec_str(const json_t *spec, const char *key)
{
    const char *v = json_string_value(json_object_get(spec, key));
    return v && *v ? v : NULL;
}

/* The <Name> of every <Bucket> in a ListAllMyBucketsResult, appended to names. */
static int parse_buckets(json_t *names, const sf_buf *body)
{
    xmlDocPtr d = sf_s3_xml_parse(body);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL, n;
    if (!root || strcmp((const char *)root->name, "ListAllMyBucketsResult") != 0) {
        xmlFreeDoc(d);
        return SF_EFORMAT;
    }
    for (n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "Buckets") != 0)
            continue;
        for (xmlNodePtr b = n->children; b; b = b->next) {
            if (b->type != XML_ELEMENT_NODE || strcmp((const char *)b->name, "Bucket") != 0)
                continue;
            for (xmlNodePtr f = b->children; f; f = f->next) {
                if (f->type == XML_ELEMENT_NODE && strcmp((const char *)f->name, "Name") == 0) {
                    xmlChar *t = xmlNodeGetContent(f);
                    if (t)
                        json_array_append_new(names, json_string((const char *)t));
                    xmlFree(t);
                }
            }
        }
    }
    xmlFreeDoc(d);
    return 0;
}

/*
 * ListBuckets with SigV4 (credentials from spec, else AWS_* like the
 * provider), a short retry budget since a dead endpoint is common here;
 * each prefixed bucket is appended with a copy of spec naming it.
 */
int sf_gc_scan_s3(json_t *found, const json_t *spec, const char *shown, const char *prefix, const sf_config *cfg,
                  sf_error *err)
{
    const char *endpoint = spec_str(spec, "endpoint"), *region = spec_str(spec, "region");
    const char *ak = spec_str(spec, "access_key"), *sk = spec_str(spec, "secret_key"),
               *tok = spec_str(spec, "session_token");
    sf_http_opts ho;
    sf_http *h = NULL;
    sf_http_response resp;
    sf_http_request req = {0};
    sf_buf url = SF_BUF_INIT;
    json_t *names = json_array(), *v;
    size_t i, pl = strlen(prefix);
    int rc;
    sf_http_response_init(&resp);
    if (!names)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (!ak && !sk) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
        tok = getenv("AWS_SESSION_TOKEN");
    }
    if (!endpoint || !ak || !*ak || !sk || !*sk) {
        rc = sf_error_set(err, SF_ECONFIG, "s3 %s: no %s", shown, endpoint ? "credentials (s3.access_key and "
                                                                              "s3.secret_key, or AWS_ACCESS_KEY_ID "
                                                                              "and AWS_SECRET_ACCESS_KEY)"
                                                                            : "endpoint");
        goto out;
    }
    memset(&ho, 0, sizeof(ho));
    ho.cfg = cfg;
    ho.max_elapsed = 20;
    ho.max_attempts = 4;
    if ((rc = sf_http_new(&h, &ho, err)) < 0)
        goto out;
    if (sf_http_aws_sigv4(h, region ? region : "us-east-1", "s3", ak, sk, tok) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    sf_buf_adds(&url, endpoint);
    while (url.len > 0 && url.ptr[url.len - 1] == '/')
        sf_buf_truncate(&url, url.len - 1);
    sf_buf_addc(&url, '/');
    req.method = "GET";
    req.url = url.ptr;
    if ((rc = sf_http_do(h, &resp, &req, err)) < 0) {
        sf_error_prefix(err, "s3 %s: cannot list buckets", shown);
        goto out;
    }
    if (resp.status != 200) {
        rc = sf_http_status_error(err, &req, &resp);
        sf_error_prefix(err, "s3 %s: cannot list buckets", shown);
        goto out;
    }
    if ((rc = parse_buckets(names, &resp.body)) < 0) {
        rc = sf_error_set(err, SF_EFORMAT, "s3 %s: the bucket listing is not a ListAllMyBucketsResult", shown);
        goto out;
    }
    json_array_foreach(names, i, v)
    {
        const char *b = json_string_value(v);
        json_t *o, *s;
        if (!b || strncmp(b, prefix, pl) != 0 || b[pl] != '-')
            continue;
        s = json_deep_copy(spec);
        json_object_set_new(s, "name", json_string(b));
        o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", "bucket", "target", shown, "name", b, "_type",
                      "s3.bucket", "_spec", s);
        if (!o || json_array_append_new(found, o) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    json_decref(names);
    sf_http_response_free(&resp);
    sf_http_free(h);
    sf_buf_free(&url);
    return rc;
}

/* "PID START_TIME PORT" as the process.service provider writes its pid files. */
static json_t *read_pidfile(const char *path)
{
    FILE *f = fopen(path, "re");
    long pid = 0;
    unsigned long long st = 0;
    int port = 0;
    char a[32], b[32], c[32];
    json_t *o;
    if (!f)
        return NULL;
    if (fscanf(f, "%ld %llu %d", &pid, &st, &port) != 3 || pid <= 1 || st == 0) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    snprintf(a, sizeof(a), "%ld", pid);
    snprintf(b, sizeof(b), "%llu", st);
    snprintf(c, sizeof(c), "%d", port);
    o = json_pack("{s:s, s:s}", "pid", a, "start_time", b);
    if (o && port > 0)
        json_object_set_new(o, "port", json_string(c));
    return o;
}

static int valid_slug(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/*
 * Reads pid files in the process.service provider's format only; a
 * missing files directory is nothing to collect. Directories whose name is
 * not a slug are not ours and are skipped.
 */
int sf_gc_scan_local(json_t *found, const char *files_dir, sf_error *err)
{
    DIR *top = opendir(files_dir), *d;
    struct dirent *e, *f;
    sf_buf dir = SF_BUF_INIT, path = SF_BUF_INIT;
    int rc = 0;
    if (!top) {
        if (errno == ENOENT)
            return 0;
        return sf_error_set(err, SF_EIO, "cannot open directory '%s': %s", files_dir, strerror(errno));
    }
    while ((e = readdir(top))) {
        json_t *o;
        if (!valid_slug(e->d_name))
            continue;
        sf_buf_clear(&dir);
        sf_buf_addf(&dir, "%s/%s", files_dir, e->d_name);
        if (!(d = opendir(dir.ptr)))
            continue;
        while ((f = readdir(d))) {
            size_t n = strlen(f->d_name);
            json_t *prior;
            if (f->d_name[0] == '.' || n < 5 || strcmp(f->d_name + n - 4, ".pid") != 0)
                continue;
            sf_buf_clear(&path);
            sf_buf_addf(&path, "%s/%s", dir.ptr, f->d_name);
            if (!(prior = read_pidfile(path.ptr)))
                continue;
            o = json_pack("{s:s, s:s, s:s%, s:s, s:s, s:o, s:s, s:{s:[s], s:s}}", "kind", "process", "target",
                          "local", "name", f->d_name, n - 4, "env", e->d_name, "_type", "process.service", "_prior",
                          prior, "_dir", dir.ptr, "_spec", "command", "stagefork-gc", "grace", "10s");
            if (!o || json_array_append_new(found, o) < 0) {
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
                break;
            }
        }
        closedir(d);
        if (rc < 0)
            break;
        o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "files", "target", "local", "name", e->d_name, "env",
                      e->d_name, "_dir", dir.ptr);
        if (!o || json_array_append_new(found, o) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
    }
    closedir(top);
    sf_buf_free(&dir);
    sf_buf_free(&path);
    return rc;
}
