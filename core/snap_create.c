/*
 * `snapshot create`: one exported snapshot (pg_export_snapshot) shared by
 * pg_dump for the schema sections and by N worker connections that stream
 * every table with `COPY ... TO STDOUT` through the masker in this
 * process. Masked rows are spilled to unlinked temp files (a tar member
 * needs its size up front, and the signed manifest — the archive's first
 * member — needs every member's checksum); unmasked rows exist only in
 * libpq's buffers. Then the archive is written in one pass to the store.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "snap_dump.h"
#include "snapshot_impl.h"
#include "stagefork/util.h"

#define SPILL_FLUSH ((size_t)1 << 20)
#define COPY_CHUNK ((size_t)1 << 20)
#define MASK_BATCH 64 /* rows per sf_mask_table_lines call */

typedef struct ctable {
    char *schema, *name;
    json_t *cols;          /* array of column names */
    long long size_est;    /* relation bytes, for scheduling */
    sf_buf copy_to;        /* COPY "s"."t" ("a", ...) TO STDOUT */
    sf_buf copy_from;      /* COPY "s"."t" ("a", ...) FROM stdin; (what the masker reads) */
    sf_mask_table *mt;
    int identity;
    int fd;
    char member[32];
    unsigned long long rows, bytes;
    char sha[65];
} ctable;

typedef struct crun {
    const sf_snap_create_opts *o;
    sf_masker *m;
    const char *snapshot;   /* exported snapshot id */
    const char *tmpdir;
    ctable *t;
    size_t nt;
    size_t *order;          /* work order: largest first */
    size_t next;
    int failed;
    sf_error err;
    pthread_mutex_t mu;
} crun;

static void fail(crun *r, const sf_error *e)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = 1;
        sf_error_copy(&r->err, e);
    }
    pthread_mutex_unlock(&r->mu);
}

static int stopped(crun *r)
{
    int f;
    pthread_mutex_lock(&r->mu);
    f = r->failed || (r->o->cancel && *r->o->cancel);
    pthread_mutex_unlock(&r->mu);
    return f;
}

/* ---------------------------------------------------------- connections --- */

/* Session settings every connection of the dump uses (as pg_dump does). */
static int session_setup(PGconn *c, sf_error *err)
{
    return sf_pq_exec(c,
                      "SET statement_timeout = 0; SET lock_timeout = 0; "
                      "SET idle_in_transaction_session_timeout = 0; SET extra_float_digits = 3; "
                      "SET DateStyle = ISO; SET IntervalStyle = postgres; SET row_security = off; "
                      "SET search_path = pg_catalog",
                      err, "cannot set up the session");
}

static int quote_ident(sf_buf *out, PGconn *c, const char *s, sf_error *err)
{
    char *q = PQescapeIdentifier(c, s, strlen(s));
    if (!q)
        return sf_pq_error(err, c, NULL, "cannot quote an identifier");
    sf_buf_adds(out, q);
    PQfreemem(q);
    return 0;
}

/* ---------------------------------------------------------------- tables --- */

static void tables_free(ctable *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].schema);
        free(t[i].name);
        json_decref(t[i].cols);
        sf_buf_free(&t[i].copy_to);
        sf_buf_free(&t[i].copy_from);
        sf_mask_table_abort(t[i].mt);
        if (t[i].fd >= 0)
            close(t[i].fd);
    }
    free(t);
}

/*
 * Every ordinary table's data pg_dump would dump (not extension members,
 * not temp, not foreign), sorted by schema and name, with its columns
 * (not dropped, not generated) in attnum order, and lock them all.
 */
static int load_tables(crun *r, PGconn *c, sf_error *err)
{
    PGresult *res = PQexec(
        c, "SELECT c.oid, n.nspname, c.relname, pg_relation_size(c.oid) + "
           "COALESCE(pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0) "
           "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relkind = 'r' AND c.relpersistence <> 't' "
           "AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
           "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
           "AND d.objid = c.oid AND d.deptype = 'e') "
           "ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"");
    PGresult *cols = NULL;
    sf_buf lock = SF_BUF_INIT;
    int rc = 0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = sf_pq_error(err, c, res, "cannot list the tables");
        PQclear(res);
        return rc;
    }
    r->nt = (size_t)PQntuples(res);
    if (!(r->t = calloc(r->nt ? r->nt : 1, sizeof(*r->t))) || !(r->order = calloc(r->nt ? r->nt : 1, sizeof(size_t)))) {
        PQclear(res);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->nt; i++)
        r->t[i].fd = -1;
    cols = PQexec(c, "SELECT a.attrelid, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                     "WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
                     "ORDER BY a.attrelid, a.attnum");
    if (!cols || PQresultStatus(cols) != PGRES_TUPLES_OK) {
        rc = sf_pq_error(err, c, cols, "cannot list the columns");
        goto out;
    }
    for (size_t i = 0; i < r->nt && rc == 0; i++) {
        ctable *t = &r->t[i];
        const char *oid = PQgetvalue(res, (int)i, 0);
        int64_t sz = 0;
        sf_buf q = SF_BUF_INIT, collist = SF_BUF_INIT;
        t->schema = strdup(PQgetvalue(res, (int)i, 1));
        t->name = strdup(PQgetvalue(res, (int)i, 2));
        t->cols = json_array();
        sf_parse_i64(&sz, PQgetvalue(res, (int)i, 3), 0, INT64_MAX);
        t->size_est = (long long)sz;
        snprintf(t->member, sizeof(t->member), "data/%05zu.copy", i + 1);
        if (!t->schema || !t->name || !t->cols) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        for (int k = 0; k < PQntuples(cols); k++) {
            if (strcmp(PQgetvalue(cols, k, 0), oid) != 0)
                continue;
            json_array_append_new(t->cols, json_string(PQgetvalue(cols, k, 1)));
            if (collist.len)
                sf_buf_adds(&collist, ", ");
            if ((rc = quote_ident(&collist, c, PQgetvalue(cols, k, 1), err)) < 0)
                break;
        }
        if (rc == 0 && ((rc = quote_ident(&q, c, t->schema, err)) == 0)) {
            sf_buf_addc(&q, '.');
            rc = quote_ident(&q, c, t->name, err);
        }
        if (rc == 0) {
            /* a table without columns is copied without a column list, as pg_dump does */
            sf_buf_addf(&t->copy_to, collist.len ? "COPY %s (%s) TO STDOUT" : "COPY %s%s TO STDOUT", q.ptr,
                        collist.ptr);
            sf_buf_addf(&t->copy_from, collist.len ? "COPY %s (%s) FROM stdin;" : "COPY %s%s FROM stdin;", q.ptr,
                        collist.ptr);
            sf_buf_addf(&lock, "%s%s", lock.len ? ", " : "LOCK TABLE ONLY ", q.ptr);
        }
        sf_buf_free(&q);
        sf_buf_free(&collist);
    }
    /* nobody may drop or rewrite a table while its rows are being read */
    if (rc == 0 && lock.len) {
        sf_buf_adds(&lock, " IN ACCESS SHARE MODE");
        rc = sf_pq_exec(c, lock.ptr, err, "cannot lock the tables");
    }
out:
    PQclear(res);
    PQclear(cols);
    sf_buf_free(&lock);
    return rc;
}

static int by_size_desc(const void *a, const void *b, void *ud)
{
    const ctable *t = ud;
    long long x = t[*(const size_t *)a].size_est, y = t[*(const size_t *)b].size_est;
    if (x != y)
        return x > y ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* --------------------------------------------------------------- workers --- */

static int spill_open(const char *tmpdir, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    int fd;
    sf_buf_addf(&path, "%s/stagefork-snap-XXXXXX", tmpdir);
    fd = mkostemp(path.ptr, O_CLOEXEC);
    if (fd < 0) {
        sf_error_set(err, SF_EIO, "cannot create a temp file in '%s': %s", tmpdir, strerror(errno));
    } else {
        unlink(path.ptr); /* gone from the directory while we still write and read it */
        fchmod(fd, 0600);
    }
    sf_buf_free(&path);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Stream one table through the masker into its spill file. */
static int dump_table(crun *r, PGconn *c, ctable *t, sf_error *err)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int mdlen;
    sf_buf out = SF_BUF_INIT;
    PGresult *res;
    char *row = NULL, *rows[MASK_BATCH];
    sf_mask_line lines[MASK_BATCH];
    int n = 0, rc = 0;
    if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return sf_error_set(err, SF_ECRYPTO, "cannot start SHA-256");
    }
    if ((t->fd = spill_open(r->tmpdir, err)) < 0) {
        EVP_MD_CTX_free(h);
        return SF_EIO;
    }
    res = PQexec(c, t->copy_to.ptr);
    if (!res || PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = sf_pq_error(err, c, res, "cannot read table %s.%s", t->schema, t->name);
        PQclear(res);
        EVP_MD_CTX_free(h);
        return rc;
    }
    PQclear(res);
    if (sf_buf_grow(&out, SPILL_FLUSH + 65536) < 0)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    /* rows are masked in batches (held as libpq gave them until the batch is masked) */
    for (;;) {
        size_t nb = 0;
        int unended = 0; /* the last row came without its newline: one is added */
        while (nb < MASK_BATCH && (n = PQgetCopyData(c, &row, 0)) > 0) {
            size_t len = (size_t)n;
            unended = row[len - 1] != '\n';
            rows[nb] = row;
            lines[nb].ptr = row;
            lines[nb].len = len - !unended;
            lines[nb].eol = !unended; /* the row's own newline */
            nb++;
            row = NULL;
            if (unended)
                break;
        }
        if (nb && sf_mask_table_lines(t->mt, lines, nb, 0, &out) < 0)
            rc = sf_error_copy(err, sf_mask_table_error(t->mt));
        else if (unended && sf_buf_addc(&out, '\n') < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        for (size_t i = 0; i < nb; i++)
            PQfreemem(rows[i]);
        if (rc < 0)
            break;
        t->rows += nb;
        if (out.len >= SPILL_FLUSH) {
            if (write_all(t->fd, out.ptr, out.len) < 0)
                rc = sf_error_set(err, SF_EIO, "cannot write a temp file in '%s': %s", r->tmpdir, strerror(errno));
            EVP_DigestUpdate(h, out.ptr, out.len);
            t->bytes += out.len;
            sf_buf_clear(&out);
            if (rc == 0 && stopped(r))
                rc = SF_ETIMEOUT; /* another worker failed, or cancelled: stop quietly */
        }
        if (rc < 0 || (nb < MASK_BATCH && !unended))
            break;
    }
    if (rc == 0 && n == -2)
        rc = sf_pq_error(err, c, NULL, "cannot read table %s.%s", t->schema, t->name);
    if (rc == 0) {
        res = PQgetResult(c);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = sf_pq_error(err, c, res, "cannot read table %s.%s", t->schema, t->name);
        PQclear(res);
        while ((res = PQgetResult(c)))
            PQclear(res);
    }
    if (rc == 0 && out.len) {
        if (write_all(t->fd, out.ptr, out.len) < 0)
            rc = sf_error_set(err, SF_EIO, "cannot write a temp file in '%s': %s", r->tmpdir, strerror(errno));
        EVP_DigestUpdate(h, out.ptr, out.len);
        t->bytes += out.len;
    }
    if (rc == 0 && EVP_DigestFinal_ex(h, md, &mdlen) == 1)
        sf_hex32(t->sha, md);
    if (rc == 0) {
        rc = sf_mask_table_end(t->mt);
        t->mt = NULL;
        if (rc < 0)
            sf_error_set(err, rc, "out of memory");
    }
    EVP_MD_CTX_free(h);
    sf_buf_free(&out);
    return rc;
}

static int worker_connect(PGconn **c, crun *r, sf_error *err)
{
    sf_buf set = SF_BUF_INIT;
    char *lit;
    int rc;
    if ((rc = sf_pq_connect(c, r->o->from_dsn, NULL, "stagefork-snapshot", err)) < 0)
        return rc;
    if ((rc = session_setup(*c, err)) < 0 ||
        (rc = sf_pq_exec(*c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err, "cannot begin")) < 0)
        return rc;
    if (!(lit = PQescapeLiteral(*c, r->snapshot, strlen(r->snapshot))))
        return sf_pq_error(err, *c, NULL, "cannot quote the snapshot id");
    sf_buf_addf(&set, "SET TRANSACTION SNAPSHOT %s", lit);
    PQfreemem(lit);
    rc = sf_pq_exec(*c, set.ptr, err, "cannot import the exported snapshot");
    sf_buf_free(&set);
    return rc;
}

static void *worker(void *ud)
{
    crun *r = ud;
    PGconn *c = NULL;
    sf_error err = {0};
    int rc = worker_connect(&c, r, &err);
    if (rc < 0)
        fail(r, &err);
    while (rc == 0 && !stopped(r)) {
        size_t i;
        pthread_mutex_lock(&r->mu);
        i = r->next < r->nt ? r->order[r->next++] : (size_t)-1;
        pthread_mutex_unlock(&r->mu);
        if (i == (size_t)-1)
            break;
        sf_log(SF_LOG_DEBUG, "snapshot: dumping %s.%s", r->t[i].schema, r->t[i].name);
        if ((rc = dump_table(r, c, &r->t[i], &err)) < 0 && rc != SF_ETIMEOUT)
            fail(r, &err);
    }
    PQfinish(c);
    return NULL;
}

/* -------------------------------------------------------------- archive --- */

static la_ssize_t on_write(struct archive *a, void *ud, const void *buf, size_t len)
{
    sf_store_writer *w = ud;
    if (sf_store_write(w, buf, len) < 0) {
        archive_set_error(a, EIO, "%s", sf_store_writer_error(w)->msg);
        return -1;
    }
    return (la_ssize_t)len;
}

static int arc_fail(struct archive *a, sf_store_writer *w, sf_error *err)
{
    const sf_error *we = sf_store_writer_error(w);
    if (we->code)
        return sf_error_copy(err, we);
    return sf_error_set(err, SF_EIO, "cannot write the archive: %s",
                        archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

static int add_header(struct archive *a, const char *path, long long size, time_t mtime)
{
    struct archive_entry *e = archive_entry_new();
    int r;
    if (!e)
        return ARCHIVE_FATAL;
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, mtime, 0);
    r = archive_write_header(a, e);
    archive_entry_free(e);
    return r;
}

static int add_mem(struct archive *a, const char *path, const void *data, size_t len, time_t mtime)
{
    const char *p = data;
    if (add_header(a, path, (long long)len, mtime) != ARCHIVE_OK)
        return -1;
    while (len > 0) {
        la_ssize_t n = archive_write_data(a, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int add_spill(struct archive *a, const ctable *t, time_t mtime, char *buf)
{
    off_t off = 0;
    if (add_header(a, t->member, (long long)t->bytes, mtime) != ARCHIVE_OK)
        return -1;
    while ((unsigned long long)off < t->bytes) {
        ssize_t n = pread(t->fd, buf, COPY_CHUNK, off);
        const char *p = buf;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += n;
        while (n > 0) {
            la_ssize_t w = archive_write_data(a, p, (size_t)n);
            if (w <= 0)
                return -1;
            p += w;
            n -= w;
        }
    }
    return 0;
}

static int write_archive(sf_snap_store *st, const crun *r, const char *id, time_t mtime, const sf_buf *manifest,
                         const sf_buf *pre, const sf_buf *seq, const sf_buf *post, sf_error *err)
{
    sf_store_writer *w = NULL;
    struct archive *a = NULL;
    char level[16], threads[16];
    char *buf = malloc(COPY_CHUNK);
    int rc;
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((rc = sf_store_writer_open(&w, st, r->o->name, id, err)) < 0) {
        free(buf);
        return rc;
    }
    snprintf(level, sizeof(level), "%d", r->o->zstd_level > 0 ? r->o->zstd_level : 3);
    snprintf(threads, sizeof(threads), "%d", r->o->jobs > 1 ? r->o->jobs : 0);
    if (!(a = archive_write_new()) || archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_set_filter_option(a, "zstd", "compression-level", level) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
        rc = a ? arc_fail(a, w, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if (r->o->jobs > 1 && archive_write_set_filter_option(a, "zstd", "threads", threads) != ARCHIVE_OK)
        sf_log(SF_LOG_DEBUG, "snapshot: zstd threads not supported by this libarchive");
    if (archive_write_open(a, w, NULL, on_write, NULL) != ARCHIVE_OK ||
        add_mem(a, SF_SNAP_MANIFEST, manifest->ptr, manifest->len, mtime) < 0 ||
        add_mem(a, SF_SNAP_PRE, pre->ptr, pre->len, mtime) < 0) {
        rc = arc_fail(a, w, err);
        goto out;
    }
    for (size_t i = 0; i < r->nt; i++) {
        if ((r->o->cancel && *r->o->cancel) || add_spill(a, &r->t[i], mtime, buf) < 0) {
            rc = r->o->cancel && *r->o->cancel ? sf_error_set(err, SF_EIO, "cancelled") : arc_fail(a, w, err);
            goto out;
        }
    }
    if (add_mem(a, SF_SNAP_SEQ, seq->ptr, seq->len, mtime) < 0 ||
        add_mem(a, SF_SNAP_POST, post->ptr, post->len, mtime) < 0 || archive_write_close(a) != ARCHIVE_OK) {
        rc = arc_fail(a, w, err);
        goto out;
    }
    archive_write_free(a);
    a = NULL;
    rc = sf_store_writer_commit(w, err);
    w = NULL;
out:
    if (a)
        archive_write_free(a);
    sf_store_writer_abort(w);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------- manifest --- */

static json_t *member_entry(const char *name, const void *data, size_t len)
{
    char hex[65];
    sf_sha256_hex(hex, data, len);
    return json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)len, "sha256", hex);
}

/* setval() for every sequence, as of now (sequences are not transactional; pg_dump reads them the same way). */
static int sequences_sql(sf_buf *out, PGconn *c, sf_error *err)
{
    PGresult *res = PQexec(c, "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences s "
                              "WHERE last_value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                              "WHERE d.classid = 'pg_class'::regclass AND d.objid = format('%I.%I', schemaname, "
                              "sequencename)::regclass AND d.deptype = 'e') ORDER BY schemaname COLLATE \"C\", sequencename COLLATE \"C\"");
    int rc = 0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = sf_pq_error(err, c, res, "cannot read the sequences");
        PQclear(res);
        return rc;
    }
    sf_buf_adds(out, "SET search_path = pg_catalog;\n");
    for (int i = 0; i < PQntuples(res); i++) {
        const char *q = PQgetvalue(res, i, 0);
        char *lit = PQescapeLiteral(c, q, strlen(q));
        int64_t v;
        if (!lit || sf_parse_i64(&v, PQgetvalue(res, i, 1), INT64_MIN, INT64_MAX) < 0) {
            PQfreemem(lit);
            PQclear(res);
            return sf_error_set(err, SF_EFORMAT, "cannot read the value of sequence %s", q);
        }
        sf_buf_addf(out, "SELECT pg_catalog.setval(%s, %lld, true);\n", lit, (long long)v);
        PQfreemem(lit);
    }
    PQclear(res);
    return 0;
}

static json_t *build_manifest(const crun *r, PGconn *c, const char *id, int64_t now, const sf_buf *pre,
                              const sf_buf *seq, const sf_buf *post)
{
    char created[SF_TIME_LEN];
    json_t *m, *tables = json_array(), *members = json_array();
    unsigned long long rows = 0, bytes = 0;
    sf_time_format(created, now);
    json_array_append_new(members, member_entry(SF_SNAP_PRE, pre->ptr, pre->len));
    for (size_t i = 0; i < r->nt; i++) {
        const ctable *t = &r->t[i];
        json_array_append_new(members, json_pack("{s:s, s:I, s:s}", "name", t->member, "size", (json_int_t)t->bytes,
                                                 "sha256", t->sha));
        json_array_append_new(tables, json_pack("{s:s, s:s, s:s, s:O, s:I, s:I, s:s, s:b}", "schema", t->schema,
                                                "name", t->name, "member", t->member, "columns", t->cols, "rows",
                                                (json_int_t)t->rows, "bytes", (json_int_t)t->bytes, "sha256", t->sha,
                                                "masked", !t->identity));
        rows += t->rows;
        bytes += t->bytes;
    }
    json_array_append_new(members, member_entry(SF_SNAP_SEQ, seq->ptr, seq->len));
    json_array_append_new(members, member_entry(SF_SNAP_POST, post->ptr, post->len));
    m = json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:s, s:s}, s:b, s:s, s:s, s:b, s:s, s:i, s:I, s:I, s:o, s:o}",
                  "format", SF_SNAP_FORMAT, "version", SF_SNAP_VERSION, "name", r->o->name, "id", id, "created_at",
                  created, "source", "server_version",
                  PQparameterStatus(c, "server_version") ? PQparameterStatus(c, "server_version") : "",
                  "database", PQdb(c) ? PQdb(c) : "", "masked", 1, "policy_sha256",
                  sf_mask_policy_sha256(r->o->policy), "key_fingerprint", sf_mask_key_fingerprint(r->o->key),
                  "strict", r->o->strict < 0 ? sf_mask_policy_strict(r->o->policy) : r->o->strict, "encoding",
                  "UTF8", "jobs", r->o->jobs > 0 ? r->o->jobs : 1, "rows", (json_int_t)rows, "bytes",
                  (json_int_t)bytes, "tables", tables, "members", members);
    return m;
}

/* ----------------------------------------------------------------- main --- */

/* A free ID at or after now (two snapshots of one name made in the same second get consecutive IDs). */
static int pick_id(char id[SF_SNAP_ID_LEN + 1], int64_t *when, sf_snap_store *st, const char *name, sf_error *err)
{
    json_t *have;
    int rc = sf_store_list(&have, st, name, err);
    if (rc < 0)
        return rc;
    for (int64_t t = sf_now();; t++) {
        size_t i;
        json_t *e;
        int taken = 0;
        sf_snap_id_format(id, t);
        json_array_foreach(have, i, e) taken |= strcmp(json_string_value(json_object_get(e, "id")), id) == 0;
        if (!taken) {
            *when = t;
            break;
        }
    }
    json_decref(have);
    return 0;
}

static int schema_dump(sf_buf *out, const crun *r, const char *section, const sf_buf *conninfo,
                       const sf_buf *password, sf_error *err)
{
    sf_buf sec = SF_BUF_INIT, snap = SF_BUF_INIT, db = SF_BUF_INIT;
    const char *args[16];
    size_t n = 0;
    int rc;
    sf_buf_addf(&sec, "--section=%s", section);
    sf_buf_addf(&snap, "--snapshot=%s", r->snapshot);
    sf_buf_addf(&db, "--dbname=%s", conninfo->ptr);
    args[n++] = sec.ptr;
    args[n++] = snap.ptr;
    args[n++] = "--format=plain";
    args[n++] = "--no-owner";
    args[n++] = "--no-privileges";
    args[n++] = "--no-tablespaces";
    args[n++] = "--no-publications";
    args[n++] = "--no-subscriptions";
    args[n++] = "--no-security-labels";
    args[n++] = db.ptr;
    args[n] = NULL;
    rc = sf_dump_run(out, r->o->pg_bindir, args, password->ptr, SF_SNAP_SCHEMA_MAX, err);
    if (rc == 0)
        sf_strip_restrict(out);
    else
        sf_error_prefix(err, "schema (%s)", section);
    sf_buf_free(&sec);
    sf_buf_free(&snap);
    sf_buf_free(&db);
    return rc;
}

/* Teach the masker the column types: the pre-data script through the plain reader (DDL only, no rows). */
static int learn_ddl(sf_masker *m, const sf_buf *pre, sf_error *err)
{
    FILE *in, *sink;
    int rc;
    if (pre->len == 0)
        return 0;
    if (!(in = fmemopen(pre->ptr, pre->len, "r")) || !(sink = fopen("/dev/null", "w"))) {
        if (in)
            fclose(in);
        return sf_error_set(err, SF_EIO, "cannot read the schema: %s", strerror(errno));
    }
    rc = sf_mask_plain(m, in, sink);
    fclose(in);
    fclose(sink);
    if (rc < 0)
        sf_error_copy(err, sf_masker_error(m));
    return rc;
}

/*
 * See snapshot.h and docs/snapshots.md. Order matters: table list and locks, schema from the same snapshot,
 * DDL into the masker, strict checks for every table, then rows; any failure before the store commit leaves
 * nothing.
 */
int sf_snapshot_create(json_t **out, sf_snap_store *st, const sf_snap_create_opts *o, sf_error *err)
{
    crun r;
    PGconn *lead = NULL;
    PGresult *res;
    sf_buf pre = SF_BUF_INIT, post = SF_BUF_INIT, seq = SF_BUF_INIT, mtext = SF_BUF_INIT;
    sf_buf conninfo = SF_BUF_INIT, password = SF_BUF_INIT;
    char id[SF_SNAP_ID_LEN + 1], *snapid = NULL, *text;
    json_t *manifest = NULL;
    pthread_t *th = NULL;
    size_t nth = 0;
    int64_t when = 0;
    int jobs = o->jobs > 0 ? o->jobs : 1, rc;
    double t0 = sf_monotonic();

    *out = NULL;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    r.o = o;
    if (!sf_snapshot_name_valid(o->name)) {
        rc = sf_error_set(err, SF_EUSAGE, "'%s' is not a valid snapshot name ([A-Za-z0-9._-], up to 100 bytes)",
                          o->name ? o->name : "");
        goto out;
    }
    if (!o->policy || !o->key || !o->from_dsn) {
        rc = sf_error_set(err, SF_EUSAGE, "snapshot create needs a source, a masking policy and a key");
        goto out;
    }
    r.tmpdir = o->tmpdir && *o->tmpdir ? o->tmpdir : (getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if ((rc = sf_masker_new(&r.m, o->policy, o->key, o->strict, err)) < 0)
        goto out;
    if ((rc = pick_id(id, &when, st, o->name, err)) < 0)
        goto out;
    if ((rc = sf_dump_conninfo(&conninfo, &password, o->from_dsn, NULL, err)) < 0)
        goto out;

    /* the leader: one transaction whose snapshot everyone imports */
    if ((rc = sf_pq_connect(&lead, o->from_dsn, NULL, "stagefork-snapshot", err)) < 0 ||
        (rc = session_setup(lead, err)) < 0 ||
        (rc = sf_pq_exec(lead, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err, "cannot begin")) < 0)
        goto out;
    res = PQexec(lead, "SELECT pg_catalog.pg_export_snapshot()");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = sf_pq_error(err, lead, res, "cannot export a snapshot");
        PQclear(res);
        goto out;
    }
    snapid = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!snapid) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    r.snapshot = snapid;
    if ((rc = load_tables(&r, lead, err)) < 0)
        goto out;
    res = PQexec(lead, "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata");
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        sf_log(SF_LOG_WARN, "snapshot: the %s large objects of the source are not included (a snapshot carries the "
                            "schema, the tables' rows and the sequences)",
               PQgetvalue(res, 0, 0));
    PQclear(res);
    if ((rc = schema_dump(&pre, &r, "pre-data", &conninfo, &password, err)) < 0 ||
        (rc = schema_dump(&post, &r, "post-data", &conninfo, &password, err)) < 0)
        goto out;
    if ((rc = learn_ddl(r.m, &pre, err)) < 0)
        goto out;

    /* strict mode is judged for every table before a single row is read */
    for (size_t i = 0; i < r.nt; i++) {
        if ((rc = sf_masker_table_begin(r.m, &r.t[i].mt, r.t[i].copy_from.ptr, r.t[i].copy_from.len)) < 0) {
            sf_error_copy(err, sf_masker_error(r.m));
            goto out;
        }
        r.t[i].identity = sf_mask_table_identity(r.t[i].mt);
        r.order[i] = i;
    }
    qsort_r(r.order, r.nt, sizeof(size_t), by_size_desc, r.t);

    if ((size_t)jobs > r.nt)
        jobs = r.nt ? (int)r.nt : 1;
    if (!(th = calloc((size_t)jobs, sizeof(*th)))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (nth = 0; nth < (size_t)jobs; nth++)
        if (pthread_create(&th[nth], NULL, worker, &r) != 0) {
            fail(&r, &(sf_error){SF_EINTERNAL, "cannot start a worker thread"});
            break;
        }
    for (size_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    if (r.failed || (o->cancel && *o->cancel)) {
        rc = r.failed ? sf_error_copy(err, &r.err) : sf_error_set(err, SF_EIO, "cancelled");
        goto out;
    }
    if ((rc = sequences_sql(&seq, lead, err)) < 0)
        goto out;
    sf_pq_exec(lead, "COMMIT", err, "cannot end the snapshot transaction");
    sf_log(SF_LOG_INFO, "snapshot: %zu tables dumped and masked in %.1fs", r.nt, sf_monotonic() - t0);

    if (!(manifest = build_manifest(&r, lead, id, when, &pre, &seq, &post))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = sf_manifest_sign(manifest, o->key, err)) < 0)
        goto out;
    if (!(text = json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    sf_buf_sets(&mtext, text);
    sf_buf_addc(&mtext, '\n');
    free(text);
    if ((rc = write_archive(st, &r, id, (time_t)when, &mtext, &pre, &seq, &post, err)) < 0)
        goto out;
    sf_log(SF_LOG_INFO, "snapshot: %s@%s stored in '%s' (%.1fs)", o->name, id, sf_snap_store_url(st),
           sf_monotonic() - t0);
    *out = manifest;
    manifest = NULL;
out:
    PQfinish(lead);
    tables_free(r.t, r.nt);
    free(r.order);
    free(th);
    sf_masker_free(r.m);
    json_decref(manifest);
    free(snapid);
    sf_buf_free(&pre);
    sf_buf_free(&post);
    sf_buf_free(&seq);
    sf_buf_free(&mtext);
    sf_buf_free(&conninfo);
    if (password.len)
        memset(password.ptr, 0, password.len);
    sf_buf_free(&password);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
