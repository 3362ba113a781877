/*
 * `snapshot restore`: the manifest's signature is checked before anything
 * touches the target; the pre-data schema is read into memory, checked
 * against its checksum, then run; table members stream from the archive
 * straight into `COPY ... FROM STDIN` (no temp files) on N connections,
 * each member hashed as it streams. Every worker reads the archive on its
 * own (decompressing is much cheaper than loading), loads the tables
 * assigned to it (largest first, balanced by bytes) inside one
 * transaction, and skips the rest. The workers commit together only when
 * every member has verified; then sequences and the post-data schema
 * (indexes, constraints, triggers) run last.
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot_impl.h"
#include "stagefork/guard.h"
#include "stagefork/util.h"

#define CHUNK ((size_t)1 << 20)

typedef struct rtable {
    const char *schema, *name, *member, *sha;
    json_t *cols;
    long long bytes, rows;
    int worker;
} rtable;

typedef struct rrun {
    const sf_snap_restore_opts *o;
    sf_snap_store *st;
    const char *name, *id;
    json_t *m;
    rtable *t;
    size_t nt;
    int nworkers;
    PGconn *lead;
    sf_arc *lead_arc;
    sf_buf seq, post;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed, done, decided, commit;
    sf_error err;
} rrun;

typedef struct rworker {
    rrun *r;
    int k;
    pthread_t th;
} rworker;

static void fail(rrun *r, const sf_error *e)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = 1;
        sf_error_copy(&r->err, e);
    }
    pthread_mutex_unlock(&r->mu);
}

static int stopped(rrun *r)
{
    int f;
    pthread_mutex_lock(&r->mu);
    f = r->failed || (r->o->cancel && *r->o->cancel);
    pthread_mutex_unlock(&r->mu);
    return f;
}

static int table_of(const rrun *r, const char *member)
{
    for (size_t i = 0; i < r->nt; i++)
        if (strcmp(r->t[i].member, member) == 0)
            return (int)i;
    return -1;
}

static int copy_sql(sf_buf *out, PGconn *c, const rtable *t, sf_error *err)
{
    char *q;
    size_t i;
    json_t *col;
    sf_buf_clear(out);
    sf_buf_adds(out, "COPY ");
    if (!(q = PQescapeIdentifier(c, t->schema, strlen(t->schema))))
        return sf_pq_error(err, c, NULL, "cannot quote an identifier");
    sf_buf_addf(out, "%s.", q);
    PQfreemem(q);
    if (!(q = PQescapeIdentifier(c, t->name, strlen(t->name))))
        return sf_pq_error(err, c, NULL, "cannot quote an identifier");
    sf_buf_adds(out, q);
    PQfreemem(q);
    json_array_foreach(t->cols, i, col)
    {
        const char *cn = json_string_value(col);
        if (!cn || !(q = PQescapeIdentifier(c, cn, strlen(cn))))
            return sf_pq_error(err, c, NULL, "cannot quote an identifier");
        sf_buf_addf(out, "%s%s", i == 0 ? " (" : ", ", q);
        PQfreemem(q);
    }
    if (json_array_size(t->cols))
        sf_buf_addc(out, ')');
    return sf_buf_adds(out, " FROM STDIN") < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

/* Stream the current member into COPY, hashing it; a mismatch cancels the COPY. */
static int load_table(rrun *r, PGconn *c, sf_arc *a, const rtable *t, char *buf, sf_error *err)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int mdlen = 0;
    char hex[65];
    sf_buf sql = SF_BUF_INIT;
    PGresult *res;
    long long total = 0;
    long n = 0;
    int rc = 0, bad = 0;
    int64_t copied = -1;

    if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return sf_error_set(err, SF_ECRYPTO, "cannot start SHA-256");
    }
    if ((rc = copy_sql(&sql, c, t, err)) < 0)
        goto out;
    res = PQexec(c, sql.ptr);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        rc = sf_pq_error(err, c, res, "cannot load table %s.%s", t->schema, t->name);
        PQclear(res);
        goto out;
    }
    PQclear(res);
    while ((n = sf_arc_read(a, buf, CHUNK, err)) > 0) {
        EVP_DigestUpdate(h, buf, (size_t)n);
        total += n;
        if (PQputCopyData(c, buf, (int)n) != 1) {
            rc = sf_pq_error(err, c, NULL, "cannot load table %s.%s", t->schema, t->name);
            break;
        }
        if (stopped(r)) {
            bad = 1;
            break;
        }
    }
    if (n < 0)
        rc = (int)n;
    if (rc == 0 && !bad) {
        EVP_DigestFinal_ex(h, md, &mdlen);
        sf_hex32(hex, md);
        if (total != t->bytes || strcmp(hex, t->sha) != 0) {
            rc = sf_error_set(err, SF_EFORMAT,
                              "snapshot %s@%s: member '%s' (table %s.%s) does not match its checksum; restore "
                              "aborted, no rows were committed",
                              r->name, r->id, t->member, t->schema, t->name);
            bad = 1;
        }
    }
    if (rc < 0 || bad) {
        /* the server throws this COPY's rows away */
        PQputCopyEnd(c, "stagefork: restore aborted");
        while ((res = PQgetResult(c)))
            PQclear(res);
        if (rc == 0)
            rc = SF_EIO; /* stopped because another worker failed */
        goto out;
    }
    if (PQputCopyEnd(c, NULL) != 1) {
        rc = sf_pq_error(err, c, NULL, "cannot load table %s.%s", t->schema, t->name);
        goto out;
    }
    res = PQgetResult(c);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = sf_pq_error(err, c, res, "cannot load table %s.%s", t->schema, t->name);
    else if (sf_parse_i64(&copied, PQcmdTuples(res), 0, INT64_MAX) < 0 || copied != t->rows)
        rc = sf_error_set(err, SF_EFORMAT, "table %s.%s: loaded %lld rows, the manifest says %lld", t->schema,
                          t->name, (long long)copied, t->rows);
    PQclear(res);
    while ((res = PQgetResult(c)))
        PQclear(res);
out:
    EVP_MD_CTX_free(h);
    sf_buf_free(&sql);
    return rc;
}

/* Worker 0 also keeps the sequences and post-data members, and checks no member is unlisted. */
static int run_worker(rrun *r, int k, PGconn *c, sf_arc *a, sf_error *err)
{
    const char *path;
    long long size;
    size_t mine = 0, done = 0;
    char *buf = malloc(CHUNK);
    int rc = 0;
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->nt; i++)
        mine += r->t[i].worker == k;
    if ((rc = sf_pq_exec(c, "BEGIN", err, "cannot begin")) < 0)
        goto out;
    while (!stopped(r) && (rc = sf_arc_next(a, &path, &size, err)) == 0) {
        int ti = table_of(r, path);
        if (ti >= 0 && r->t[ti].worker == k) {
            sf_log(SF_LOG_DEBUG, "restore: loading %s.%s", r->t[ti].schema, r->t[ti].name);
            if ((rc = load_table(r, c, a, &r->t[ti], buf, err)) < 0)
                break;
            done++;
        } else if (k == 0 && (strcmp(path, SF_SNAP_SEQ) == 0 || strcmp(path, SF_SNAP_POST) == 0)) {
            sf_buf *dst = strcmp(path, SF_SNAP_SEQ) == 0 ? &r->seq : &r->post;
            if ((rc = sf_arc_slurp(a, dst, SF_SNAP_SCHEMA_MAX, sf_manifest_member(r->m, path), path, err)) < 0)
                break;
        } else if (k == 0 && ti < 0 && !sf_manifest_member(r->m, path)) {
            rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: member '%s' is not in the manifest", r->name, r->id,
                              path);
            break;
        } else if ((rc = sf_arc_skip(a, err)) < 0) {
            break;
        }
        if (k != 0 && done == mine)
            break; /* nothing more for this worker in the archive */
    }
    if (rc == SF_ENOTFOUND)
        rc = 0;
    if (rc == 0 && stopped(r))
        rc = SF_EIO;
    if (rc == 0 && done != mine)
        rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: %zu table members are missing", r->name, r->id,
                          mine - done);
    if (rc == 0 && k == 0 && (!sf_manifest_member(r->m, SF_SNAP_POST) || !sf_manifest_member(r->m, SF_SNAP_SEQ)))
        rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: the manifest lists no post-data schema", r->name, r->id);
out:
    free(buf);
    return rc;
}

/* Wait until every worker is done; commit only if none failed. */
static int finish_worker(rrun *r, PGconn *c, int ok, sf_error *err)
{
    int commit, rc = 0;
    pthread_mutex_lock(&r->mu);
    r->done++;
    if (r->done == r->nworkers) {
        r->decided = 1;
        r->commit = !r->failed && !(r->o->cancel && *r->o->cancel);
        pthread_cond_broadcast(&r->cv);
    }
    while (!r->decided)
        pthread_cond_wait(&r->cv, &r->mu);
    commit = r->commit;
    pthread_mutex_unlock(&r->mu);
    if (commit && ok)
        rc = sf_pq_exec(c, "COMMIT", err, "cannot commit the loaded rows");
    else
        PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}

static void *worker_main(void *ud)
{
    rworker *w = ud;
    rrun *r = w->r;
    PGconn *c = NULL;
    sf_arc *a = NULL;
    sf_error err = {0};
    int rc = sf_pq_connect(&c, r->o->to_dsn, r->o->dbname, "stagefork-restore", &err);
    if (rc == 0)
        rc = sf_arc_open(&a, r->st, r->name, r->id, &err);
    if (rc == 0)
        rc = run_worker(r, w->k, c, a, &err);
    if (rc < 0 && rc != SF_EIO)
        fail(r, &err);
    else if (rc == SF_EIO && err.code)
        fail(r, &err);
    if (c)
        finish_worker(r, c, rc == 0, &err);
    else
        finish_worker(r, NULL, 0, &err);
    sf_arc_close(a);
    PQfinish(c);
    return NULL;
}

static int by_bytes_desc(const void *a, const void *b, void *ud)
{
    const rtable *t = ud;
    long long x = t[*(const size_t *)a].bytes, y = t[*(const size_t *)b].bytes;
    if (x != y)
        return x > y ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Tables from the (verified) manifest, assigned largest first to the least loaded worker. */
static int plan_tables(rrun *r, sf_error *err)
{
    json_t *tables = json_object_get(r->m, "tables"), *e;
    long long *load = calloc((size_t)r->nworkers, sizeof(long long));
    size_t *order, i;
    r->nt = json_array_size(tables);
    r->t = calloc(r->nt ? r->nt : 1, sizeof(*r->t));
    order = calloc(r->nt ? r->nt : 1, sizeof(*order));
    if (!load || !r->t || !order) {
        free(load);
        free(order);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    json_array_foreach(tables, i, e)
    {
        rtable *t = &r->t[i];
        json_t *me;
        t->schema = json_string_value(json_object_get(e, "schema"));
        t->name = json_string_value(json_object_get(e, "name"));
        t->member = json_string_value(json_object_get(e, "member"));
        t->cols = json_object_get(e, "columns");
        t->rows = (long long)json_integer_value(json_object_get(e, "rows"));
        me = t->member ? sf_manifest_member(r->m, t->member) : NULL;
        t->sha = me ? json_string_value(json_object_get(me, "sha256")) : NULL;
        t->bytes = me ? (long long)json_integer_value(json_object_get(me, "size")) : 0;
        if (!t->schema || !t->name || !t->member || !json_is_array(t->cols) || !t->sha) {
            free(load);
            free(order);
            return sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: table %zu of the manifest is incomplete", r->name,
                                r->id, i + 1);
        }
        order[i] = i;
    }
    qsort_r(order, r->nt, sizeof(*order), by_bytes_desc, r->t);
    for (i = 0; i < r->nt; i++) {
        int best = 0;
        for (int k = 1; k < r->nworkers; k++)
            if (load[k] < load[best])
                best = k;
        r->t[order[i]].worker = best;
        load[best] += r->t[order[i]].bytes + 1;
    }
    free(load);
    free(order);
    return 0;
}

/*
 * See snapshot.h and docs/snapshots.md: signature, then schema, then rows committed only when every member
 * verified, post-data last.
 */
int sf_snapshot_restore(json_t **out, sf_snap_store *st, const sf_snap_restore_opts *o, sf_error *err)
{
    rrun r;
    char *name = NULL, *id = NULL;
    sf_buf pre = SF_BUF_INIT, host = SF_BUF_INIT;
    rworker *ws = NULL;
    const char *path;
    long long size;
    int rc, started = 0;
    double t0 = sf_monotonic();

    if (out)
        *out = NULL;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.o = o;
    r.st = st;
    r.nworkers = o->jobs > 0 ? o->jobs : 1;
    if (!o->key || !o->to_dsn) {
        rc = sf_error_set(err, SF_EUSAGE, "restore needs a target database and the masking key");
        goto out;
    }
    if ((rc = sf_snapshot_resolve(&name, &id, st, o->ref, err)) < 0)
        goto out;
    r.name = name;
    r.id = id;
    /* 1. the signature, before anything touches the target */
    if ((rc = sf_arc_open_manifest(&r.lead_arc, &r.m, st, name, id, err)) < 0 ||
        (rc = sf_manifest_check(r.m, o->key, name, id, err)) < 0)
        goto out;
    if ((rc = plan_tables(&r, err)) < 0)
        goto out;
    if ((size_t)r.nworkers > r.nt)
        r.nworkers = r.nt ? (int)r.nt : 1;
    /* 2. the pre-data schema, checked in memory before it runs */
    rc = sf_arc_next(r.lead_arc, &path, &size, err);
    if (rc == SF_ENOTFOUND || (rc == 0 && strcmp(path, SF_SNAP_PRE) != 0))
        rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: the pre-data schema does not follow the manifest", name,
                          id);
    if (rc < 0 ||
        (rc = sf_arc_slurp(r.lead_arc, &pre, SF_SNAP_SCHEMA_MAX, sf_manifest_member(r.m, SF_SNAP_PRE), SF_SNAP_PRE,
                           err)) < 0)
        goto out;
    if ((rc = sf_pq_connect(&r.lead, o->to_dsn, o->dbname, "stagefork-restore", err)) < 0)
        goto out;
    if (sf_guard_host_of(&host, o->to_dsn) < 0)
        sf_buf_clear(&host);
    if ((rc = sf_guard_check(o->cfg, host.len ? host.ptr : NULL, PQdb(r.lead), err)) < 0)
        goto out;
    if ((rc = sf_pq_script(r.lead, &pre, SF_SNAP_PRE, err)) < 0)
        goto out;
    /* pg_dump's script sets the source's client_encoding; the COPY members are UTF-8 */
    if ((rc = sf_pq_exec(r.lead, "SET client_encoding = 'UTF8'", err, "cannot set the encoding")) < 0)
        goto out;
    sf_log(SF_LOG_INFO, "restore: schema of %s@%s created; loading %zu tables on %d connection%s", name, id, r.nt,
           r.nworkers, r.nworkers == 1 ? "" : "s");

    /* 3. rows: worker 0 is this thread on the leader's connection and archive */
    if (!(ws = calloc((size_t)r.nworkers, sizeof(*ws)))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (int k = 1; k < r.nworkers; k++) {
        ws[k].r = &r;
        ws[k].k = k;
        if (pthread_create(&ws[k].th, NULL, worker_main, &ws[k]) != 0) {
            fail(&r, &(sf_error){SF_EINTERNAL, "cannot start a worker thread"});
            /* the remaining workers will never report: count them as done */
            pthread_mutex_lock(&r.mu);
            r.done += r.nworkers - k;
            pthread_mutex_unlock(&r.mu);
            break;
        }
        started++;
    }
    {
        sf_error e0 = {0};
        int rc0 = run_worker(&r, 0, r.lead, r.lead_arc, &e0);
        if (rc0 < 0 && (rc0 != SF_EIO || e0.code))
            fail(&r, &e0);
        rc0 = finish_worker(&r, r.lead, rc0 == 0, &e0);
        if (rc0 < 0)
            fail(&r, &e0);
    }
    for (int k = 1; k <= started; k++)
        pthread_join(ws[k].th, NULL);
    if (r.failed || (o->cancel && *o->cancel)) {
        rc = r.failed ? sf_error_copy(err, &r.err) : sf_error_set(err, SF_EIO, "cancelled");
        goto out;
    }
    sf_log(SF_LOG_INFO, "restore: rows of %s@%s loaded in %.1fs", name, id, sf_monotonic() - t0);
    /* 4. sequences, then indexes and constraints */
    if ((rc = sf_pq_script(r.lead, &r.seq, SF_SNAP_SEQ, err)) < 0 || (rc = sf_pq_script(r.lead, &r.post, SF_SNAP_POST, err)) < 0)
        goto out;
    sf_log(SF_LOG_INFO, "restore: %s@%s restored in %.1fs", name, id, sf_monotonic() - t0);
    if (out) {
        *out = r.m;
        r.m = NULL;
    }
out:
    PQfinish(r.lead);
    sf_arc_close(r.lead_arc);
    json_decref(r.m);
    free(r.t);
    free(ws);
    free(name);
    free(id);
    sf_buf_free(&pre);
    sf_buf_free(&host);
    sf_buf_free(&r.seq);
    sf_buf_free(&r.post);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
