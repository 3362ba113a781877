/*
 * Golden template databases: built once per content key from a snapshot
 * (restore, then seed, extensions and sql files), under an advisory lock,
 * then cloned by every env with CREATE DATABASE ... TEMPLATE. Also the
 * gc side: which templates nothing needs, and dropping one safely.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "file.h"
#include "golden.h"
#include "snapshot_impl.h"
#include "stagefork/guard.h"
#include "stagefork/seed.h"
#include "stagefork/snapshot.h"
#include "stagefork/util.h"

#define FILE_MAX ((size_t)64 << 20)
#define RESTORE_JOBS 2

struct sf_golden {
    PGconn *conn;     /* holds the shared lock */
    char name[64];
    char snapshot[160];
    int built;
};

/* Borrowed from g. */
const char *sf_golden_name(const sf_golden *g)
{
    return g->name;
}

/* Borrowed from g. */
const char *sf_golden_snapshot(const sf_golden *g)
{
    return g->snapshot;
}

/* For reports: whether this acquire paid for the build. */
int sf_golden_built(const sf_golden *g)
{
    return g->built;
}

/* Ends the session, which releases the shared lock; NULL is a no-op. */
void sf_golden_release(sf_golden *g)
{
    if (!g)
        return;
    PQfinish(g->conn); /* ends the session: its advisory locks go with it */
    free(g);
}

/* Relative spec paths are relative to the template directory; *out is a new string. */
int sf_golden_path(char **out, const char *base_dir, const char *path)
{
    sf_buf b = SF_BUF_INIT;
    if (path[0] != '/' && base_dir && *base_dir)
        sf_buf_addf(&b, "%s/%s", base_dir, path);
    else
        sf_buf_sets(&b, path);
    *out = sf_buf_detach(&b, NULL);
    return *out ? 0 : SF_ENOMEM;
}

/* sql: a string or an array of strings → array (new reference). */
static json_t *sql_list(const json_t *sql)
{
    json_t *a = json_array();
    if (json_is_string(sql))
        json_array_append(a, (json_t *)sql);
    else if (json_is_array(sql))
        json_array_extend(a, (json_t *)sql);
    return a;
}

/* "a,b" from the profiles array (empty string if none). */
static void profiles_text(sf_buf *out, const json_t *profiles)
{
    size_t i;
    json_t *v;
    sf_buf_clear(out);
    if (json_is_string(profiles)) {
        sf_buf_adds(out, json_string_value(profiles));
        return;
    }
    json_array_foreach(profiles, i, v)
    {
        if (out->len)
            sf_buf_addc(out, ',');
        sf_buf_adds(out, json_string_value(v) ? json_string_value(v) : "");
    }
}

/* Seeding happens unless profiles are given and name none ("" or []). */
int sf_golden_seeds(const char *seed_spec, const json_t *profiles)
{
    if (!seed_spec)
        return 0;
    if (!profiles)
        return 1;
    if (json_is_string(profiles))
        return *json_string_value(profiles) != '\0';
    return !json_is_array(profiles) || json_array_size(profiles) > 0;
}

/* SHA-256 over everything that decides the template's contents. */
static int content_key(char out[65], const sf_golden_req *req, const char *name, const char *id, sf_error *err)
{
    sf_buf in = SF_BUF_INIT, file = SF_BUF_INIT, prof = SF_BUF_INIT;
    json_t *sql = sql_list(req->sql), *v;
    char hex[65];
    size_t i;
    int rc = 0;
    sf_buf_addf(&in, "stagefork-golden-v1\nsnapshot %s@%s\n", name, id);
    if (sf_golden_seeds(req->seed_spec, req->profiles)) { /* nothing seeded: the same template as without a spec */
        char *p = NULL;
        if ((rc = sf_golden_path(&p, req->base_dir, req->seed_spec)) == 0 &&
            (rc = sf_file_read_ref(&file, p, FILE_MAX, err)) == 0) {
            sf_sha256_hex(hex, file.ptr, file.len);
            sf_buf_addf(&in, "seed %s\n", hex);
        }
        free(p);
    }
    profiles_text(&prof, req->profiles);
    sf_buf_addf(&in, "profiles %s\n", prof.ptr);
    json_array_foreach(req->extensions, i, v) sf_buf_addf(&in, "extension %s\n", json_string_value(v));
    json_array_foreach(sql, i, v)
    {
        char *p = NULL;
        if (rc < 0)
            break;
        if ((rc = sf_golden_path(&p, req->base_dir, json_string_value(v))) == 0 &&
            (rc = sf_file_read_ref(&file, p, FILE_MAX, err)) == 0) {
            sf_sha256_hex(hex, file.ptr, file.len);
            sf_buf_addf(&in, "sql %s\n", hex);
        }
        free(p);
    }
    if (rc == 0)
        sf_sha256_hex(out, in.ptr, in.len);
    json_decref(sql);
    sf_buf_free(&in);
    sf_buf_free(&file);
    sf_buf_free(&prof);
    return rc;
}

/* The advisory lock number of a key: its first 64 bits. */
static void lock_id(char out[24], const char *key)
{
    char hex[17];
    memcpy(hex, key, 16);
    hex[16] = '\0';
    snprintf(out, 24, "%lld", (long long)strtoull(hex, NULL, 16));
}

static void nap(double secs)
{
    struct timespec ts;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* Poll for the advisory lock (exclusive or shared) until the deadline. */
static int lock_key(PGconn *c, const char *key, int shared, double deadline, volatile int *cancel, sf_error *err)
{
    char id[24];
    const char *param = id;
    const char *sql = shared ? "SELECT pg_try_advisory_lock_shared($1::bigint)" : "SELECT pg_try_advisory_lock($1::bigint)";
    double wait = 0.05;
    int logged = 0;
    lock_id(id, key);
    for (;;) {
        PGresult *r = PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0);
        int got;
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            int rc = sf_pq_error(err, c, r, "cannot take the golden template lock");
            PQclear(r);
            return rc;
        }
        got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (got)
            return 0;
        if ((cancel && *cancel) || sf_monotonic() >= deadline)
            return sf_error_set(err, SF_ELOCK, "golden template %.12s: another process held its lock for too long",
                                key);
        if (!logged++)
            sf_log(SF_LOG_INFO, "golden template %.12s: waiting for another build", key);
        nap(wait);
        if (wait < 1)
            wait *= 1.5;
    }
}

static int unlock_key(PGconn *c, const char *key, int shared, sf_error *err)
{
    char id[24];
    const char *param = id;
    PGresult *r;
    int rc = 0;
    lock_id(id, key);
    r = PQexecParams(c, shared ? "SELECT pg_advisory_unlock_shared($1::bigint)" : "SELECT pg_advisory_unlock($1::bigint)",
                     1, NULL, &param, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = sf_pq_error(err, c, r, "cannot release the golden template lock");
    PQclear(r);
    return rc;
}

/* The COMMENT of database `name`: 1 found (comment may be NULL), 0 absent, < 0 error. */
static int db_comment(PGconn *c, const char *name, char **comment, sf_error *err)
{
    PGresult *r = PQexecParams(c, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
                               1, NULL, &name, NULL, NULL, 0);
    int found;
    *comment = NULL;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = sf_pq_error(err, c, r, "cannot read the catalog");
        PQclear(r);
        return rc;
    }
    found = PQntuples(r) > 0;
    if (found && !PQgetisnull(r, 0, 0))
        *comment = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return found;
}

static int exec_ident(PGconn *c, const char *fmt, const char *name, const char *what, sf_error *err)
{
    char *q = PQescapeIdentifier(c, name, strlen(name));
    sf_buf sql = SF_BUF_INIT;
    int rc;
    if (!q)
        return sf_pq_error(err, c, NULL, "cannot quote an identifier");
    sf_buf_addf(&sql, fmt, q);
    PQfreemem(q);
    rc = sf_pq_exec(c, sql.ptr, err, what);
    sf_buf_free(&sql);
    return rc;
}

static int set_comment(PGconn *c, const char *name, const char *text, sf_error *err)
{
    char *q = PQescapeIdentifier(c, name, strlen(name)), *l = PQescapeLiteral(c, text, strlen(text));
    sf_buf sql = SF_BUF_INIT;
    int rc;
    if (!q || !l) {
        PQfreemem(q);
        PQfreemem(l);
        return sf_pq_error(err, c, NULL, "cannot quote");
    }
    sf_buf_addf(&sql, "COMMENT ON DATABASE %s IS %s", q, l);
    rc = sf_pq_exec(c, sql.ptr, err, "cannot mark the golden template");
    PQfreemem(q);
    PQfreemem(l);
    sf_buf_free(&sql);
    return rc;
}

static int drop_db(PGconn *c, const char *name, sf_error *err)
{
    const char *p = name;
    PQclear(PQexecParams(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                            "pg_backend_pid()",
                         1, NULL, &p, NULL, NULL, 0));
    return exec_ident(c, PQserverVersion(c) >= 130000 ? "DROP DATABASE IF EXISTS %s WITH (FORCE)"
                                                      : "DROP DATABASE IF EXISTS %s",
                      name, "cannot drop the golden template", err);
}

/* Seed, extensions and sql files inside the freshly restored template. */
static int populate(const sf_golden_req *req, const char *tpl, sf_error *err)
{
    PGconn *c = NULL;
    json_t *sql = sql_list(req->sql), *v;
    sf_buf text = SF_BUF_INIT, prof = SF_BUF_INIT;
    size_t i;
    int rc;
    if ((rc = sf_pq_connect(&c, req->server, tpl, "stagefork-golden", err)) < 0)
        goto out;
    json_array_foreach(req->extensions, i, v)
    {
        if ((rc = exec_ident(c, "CREATE EXTENSION IF NOT EXISTS %s", json_string_value(v), "cannot create the extension",
                             err)) < 0)
            goto out;
    }
    if (sf_golden_seeds(req->seed_spec, req->profiles)) {
        sf_seed *s = NULL;
        char *p = NULL;
        if ((rc = sf_golden_path(&p, req->base_dir, req->seed_spec)) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
        rc = sf_seed_open(&s, p, err);
        free(p);
        profiles_text(&prof, req->profiles);
        if (rc == 0 && prof.len && (rc = sf_seed_use_profiles(s, prof.ptr)) < 0)
            sf_error_copy(err, sf_seed_error(s));
        if (rc == 0 && (rc = sf_seed_to_conn(s, (struct pg_conn *)c)) < 0)
            sf_error_copy(err, sf_seed_error(s));
        sf_seed_free(s);
        if (rc < 0)
            goto out;
        sf_log(SF_LOG_INFO, "golden template '%s': seeded (%s)", tpl, prof.len ? prof.ptr : "no profiles");
    }
    json_array_foreach(sql, i, v)
    {
        char *p = NULL;
        if ((rc = sf_golden_path(&p, req->base_dir, json_string_value(v))) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = sf_file_read_ref(&text, p, FILE_MAX, err)) == 0)
            rc = sf_pq_script(c, &text, p, err);
        free(p);
        if (rc < 0)
            goto out;
    }
out:
    PQfinish(c);
    json_decref(sql);
    sf_buf_free(&text);
    sf_buf_free(&prof);
    return rc;
}

static int build(PGconn *c, const sf_golden_req *req, const char *tpl, const char *mark_building,
                 const char *mark_ready, const char *ref, const sf_mask_key *key, sf_snap_store *st, sf_error *err)
{
    sf_snap_restore_opts ro;
    double t0 = sf_monotonic();
    int rc;
    sf_log(SF_LOG_INFO, "golden template '%s': building from snapshot %s", tpl, ref);
    if ((rc = exec_ident(c, "CREATE DATABASE %s TEMPLATE template0", tpl, "cannot create the golden template", err)) < 0 ||
        (rc = set_comment(c, tpl, mark_building, err)) < 0)
        return rc;
    memset(&ro, 0, sizeof(ro));
    ro.ref = ref;
    ro.to_dsn = req->server;
    ro.dbname = tpl;
    ro.jobs = RESTORE_JOBS;
    ro.key = key;
    ro.cfg = req->cfg;
    ro.cancel = req->cancel;
    if ((rc = sf_snapshot_restore(NULL, st, &ro, err)) < 0 || (rc = populate(req, tpl, err)) < 0) {
        sf_error saved = *err;
        drop_db(c, tpl, err);
        *err = saved;
        return rc;
    }
    /* nobody connects to a template: a session would block every clone */
    if ((rc = exec_ident(c, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", tpl, "cannot close the golden template",
                         err)) < 0 ||
        (rc = set_comment(c, tpl, mark_ready, err)) < 0)
        return rc;
    sf_log(SF_LOG_INFO, "golden template '%s': built in %.1fs", tpl, sf_monotonic() - t0);
    return 0;
}

static int open_store_key(sf_snap_store **st, sf_mask_key **key, const sf_config *cfg, int need_key, sf_error *err)
{
    const char *url = cfg ? sf_config_snapshot_store(cfg) : NULL;
    int rc;
    *st = NULL;
    *key = NULL;
    if (!url)
        return sf_error_set(err, SF_ECONFIG, "from.snapshot needs snapshots.store in the config");
    if ((rc = sf_snap_store_open(st, url, cfg, err)) < 0)
        return rc;
    if (need_key && (rc = sf_snapshot_key_resolve(key, cfg, NULL, NULL, NULL, err)) < 0) {
        sf_snap_store_free(*st);
        *st = NULL;
        return rc;
    }
    return 0;
}

/*
 * Exclusive lock of the content key while checking/building, then the shared lock (taken before the exclusive
 * one is released) held until sf_golden_release.
 */
int sf_golden_acquire(sf_golden **out, const sf_golden_req *req, sf_error *err)
{
    sf_golden *g = calloc(1, sizeof(*g));
    sf_snap_store *st = NULL;
    sf_mask_key *key = NULL;
    char *name = NULL, *id = NULL, *comment = NULL;
    char ckey[65];
    sf_buf building = SF_BUF_INIT, ready = SF_BUF_INIT, host = SF_BUF_INIT, ref = SF_BUF_INIT;
    const char *prefix = req->prefix && *req->prefix ? req->prefix : "sf";
    double deadline = req->deadline > 0 ? req->deadline : sf_monotonic() + 3600;
    int rc, found, locked = 0;

    *out = NULL;
    if (!g)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((rc = open_store_key(&st, &key, req->cfg, 1, err)) < 0 ||
        (rc = sf_snapshot_resolve(&name, &id, st, req->snapshot, err)) < 0 ||
        (rc = content_key(ckey, req, name, id, err)) < 0)
        goto out;
    snprintf(g->name, sizeof(g->name), "%s_tpl_%.12s", prefix, ckey);
    snprintf(g->snapshot, sizeof(g->snapshot), "%s@%s", name, id);
    sf_buf_addf(&ref, "%s@%s", name, id);
    sf_buf_addf(&building, SF_GOLDEN_MARK "key=%s snapshot=%s building", ckey, ref.ptr);
    sf_buf_addf(&ready, SF_GOLDEN_MARK "key=%s snapshot=%s ready", ckey, ref.ptr);
    if (sf_guard_host_of(&host, req->server) < 0)
        sf_buf_clear(&host);
    if ((rc = sf_guard_check(req->cfg, host.len ? host.ptr : NULL, g->name, err)) < 0)
        goto out;
    if ((rc = sf_pq_connect(&g->conn, req->server, NULL, "stagefork-golden", err)) < 0)
        goto out;
    if ((rc = lock_key(g->conn, ckey, 0, deadline, req->cancel, err)) < 0)
        goto out;
    locked = 1;
    if ((found = rc = db_comment(g->conn, g->name, &comment, err)) < 0)
        goto out;
    if (found && comment && strcmp(comment, ready.ptr) == 0) {
        sf_log(SF_LOG_INFO, "golden template '%s' (%s) is ready", g->name, ref.ptr);
    } else if (found && !(comment && strncmp(comment, SF_GOLDEN_MARK, strlen(SF_GOLDEN_MARK)) == 0)) {
        rc = sf_error_set(err, SF_EEXIST, "database '%s' exists and is not a stagefork golden template", g->name);
        goto out;
    } else {
        if (found) {
            sf_log(SF_LOG_INFO, "golden template '%s' was left half-built; building it again", g->name);
            if ((rc = drop_db(g->conn, g->name, err)) < 0)
                goto out;
        }
        if ((rc = build(g->conn, req, g->name, building.ptr, ready.ptr, ref.ptr, key, st, err)) < 0)
            goto out;
        g->built = 1;
    }
    /* from exclusive to shared without a gap: gc cannot drop it while we clone */
    if ((rc = lock_key(g->conn, ckey, 1, deadline, req->cancel, err)) < 0 || (rc = unlock_key(g->conn, ckey, 0, err)) < 0)
        goto out;
    locked = 0;
out:
    if (rc < 0) {
        if (locked && g->conn)
            unlock_key(g->conn, ckey, 0, &(sf_error){0});
        sf_golden_release(g);
    } else {
        *out = g;
    }
    sf_snap_store_free(st);
    sf_mask_key_free(key);
    free(name);
    free(id);
    free(comment);
    sf_buf_free(&building);
    sf_buf_free(&ready);
    sf_buf_free(&host);
    sf_buf_free(&ref);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------- gc --- */

/* key=, snapshot= and state of a golden comment; 0 if it is not one. */
static int parse_mark(const char *c, char key[65], char snap[160], int *ready)
{
    const char *k, *s, *sp;
    if (!c || strncmp(c, SF_GOLDEN_MARK, strlen(SF_GOLDEN_MARK)) != 0)
        return 0;
    if (!(k = strstr(c, "key=")) || !(s = strstr(c, " snapshot=")))
        return 0;
    snprintf(key, 65, "%.64s", k + 4);
    s += 10;
    sp = strchr(s, ' ');
    snprintf(snap, 160, "%.*s", sp ? (int)(sp - s) : (int)strlen(s), s);
    *ready = sp && strcmp(sp + 1, "ready") == 0;
    return strlen(key) == 64;
}

/* Golden templates on the server that nothing needs (see snapshot.h); one when only is set. */
static int unneeded(json_t **out, PGconn *c, sf_snap_store *st, const char *only, sf_error *err)
{
    PGresult *tpl = PQexec(c, "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                              "WHERE shobj_description(oid, 'pg_database') LIKE 'stagefork:golden %' ORDER BY 1");
    PGresult *use = PQexec(c, "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                              "WHERE shobj_description(oid, 'pg_database') LIKE 'stagefork:% template=%'");
    json_t *arr = json_array();
    int rc = 0;
    *out = NULL;
    if (!tpl || PQresultStatus(tpl) != PGRES_TUPLES_OK || !use || PQresultStatus(use) != PGRES_TUPLES_OK) {
        rc = sf_pq_error(err, c, !tpl || PQresultStatus(tpl) != PGRES_TUPLES_OK ? tpl : use,
                         "cannot list the golden templates");
        goto out;
    }
    for (int i = 0; i < PQntuples(tpl) && rc == 0; i++) {
        const char *dn = PQgetvalue(tpl, i, 0);
        char key[65], snap[160];
        int ready = 0, cloned = 0, newest = 0;
        char *name = NULL, *newest_id = NULL;
        if (only && strcmp(dn, only) != 0)
            continue;
        if (!parse_mark(PQgetvalue(tpl, i, 1), key, snap, &ready))
            continue;
        for (int k = 0; k < PQntuples(use) && !cloned; k++) {
            const char *t = strstr(PQgetvalue(use, k, 0), " template=");
            cloned = t && strcmp(t + 10, dn) == 0;
        }
        if (cloned)
            continue;
        if (strchr(snap, '@')) {
            char *at = strchr(snap, '@');
            *at = '\0';
            rc = sf_snapshot_resolve(&name, &newest_id, st, snap, err);
            if (rc == SF_ENOTFOUND) {
                rc = 0; /* every snapshot of that name is gone: nothing newer needs this one either */
            } else if (rc == 0) {
                newest = strcmp(newest_id, at + 1) == 0;
            }
            *at = '@';
        }
        free(name);
        free(newest_id);
        if (rc < 0 || (newest && ready))
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "name", dn, "snapshot", snap, "key", key,
                                             "reason", ready ? "no database was cloned from it and a newer snapshot "
                                                               "exists"
                                                             : "left half-built and no database was cloned from it"));
    }
out:
    PQclear(tpl);
    PQclear(use);
    if (rc < 0)
        json_decref(arr);
    else
        *out = arr;
    return rc;
}

/* Read-only; see snapshot.h for what "needed" means. */
int sf_golden_unneeded(json_t **out, const char *server_dsn, const sf_config *cfg, sf_error *err)
{
    sf_snap_store *st = NULL;
    sf_mask_key *key = NULL;
    PGconn *c = NULL;
    int rc;
    *out = NULL;
    if ((rc = open_store_key(&st, &key, cfg, 0, err)) < 0)
        return rc;
    if ((rc = sf_pq_connect(&c, server_dsn, NULL, "stagefork-gc", err)) == 0)
        rc = unneeded(out, c, st, NULL, err);
    PQfinish(c);
    sf_snap_store_free(st);
    return rc;
}

/*
 * Under the exclusive lock and re-checked, so a clone in progress (shared lock) or a new clone is never
 * broken.
 */
int sf_golden_drop(const char *server_dsn, const sf_config *cfg, const char *name, sf_error *err)
{
    sf_snap_store *st = NULL;
    sf_mask_key *key = NULL;
    PGconn *c = NULL;
    json_t *still = NULL;
    char *comment = NULL, ckey[65], snap[160];
    sf_buf host = SF_BUF_INIT;
    int rc, found, ready;
    if ((rc = open_store_key(&st, &key, cfg, 0, err)) < 0)
        return rc;
    if ((rc = sf_pq_connect(&c, server_dsn, NULL, "stagefork-gc", err)) < 0)
        goto out;
    if ((found = rc = db_comment(c, name, &comment, err)) <= 0)
        goto out; /* gone already: success */
    if (!parse_mark(comment, ckey, snap, &ready)) {
        rc = sf_error_set(err, SF_EEXIST, "database '%s' is not a stagefork golden template", name);
        goto out;
    }
    if (sf_guard_host_of(&host, server_dsn) < 0)
        sf_buf_clear(&host);
    if ((rc = sf_guard_check(cfg, host.len ? host.ptr : NULL, name, err)) < 0)
        goto out;
    if ((rc = lock_key(c, ckey, 0, sf_monotonic() + 30, NULL, err)) < 0)
        goto out;
    if ((rc = unneeded(&still, c, st, name, err)) == 0) {
        if (json_array_size(still) == 0)
            rc = sf_error_set(err, SF_EEXIST, "golden template '%s' is needed again; not dropping it", name);
        else
            rc = drop_db(c, name, err);
    }
    unlock_key(c, ckey, 0, &(sf_error){0});
out:
    json_decref(still);
    PQfinish(c);
    free(comment);
    sf_buf_free(&host);
    sf_snap_store_free(st);
    return rc < 0 ? rc : 0;
}
