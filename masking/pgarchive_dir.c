/*
 * pg_dump directory format (-Fd), as pg_backup_directory.c writes it:
 * toc.dat (header + TOC; each entry's extra field is its data file name,
 * "NNNN.dat" or "blobs.toc"), one NNNN.dat file per table - gzip-compressed
 * as NNNN.dat.gz when the archive is compressed -, blobs.toc and
 * blob_OID.dat(.gz) for large objects.
 *
 * The output is built in a temp directory beside OUT and renamed into place
 * at the end (OUT may be absent or an empty directory, like pg_dump's). A
 * masked table's file is read and gunzipped here and masked by workers in
 * pieces (see pgarchive_int.h), written back here in order; every other file
 * is copied byte for byte by a worker (verbatim tables' rows counted).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pgarchive_int.h"
#include "pgarchive_run.h"

typedef struct dir_unit {
    pga_unit u;
    long idx;          /* TOC entry, -1 for a file the TOC does not name */
    char *file;        /* name inside the directory (with .gz if so) */
    uint64_t rows;     /* verbatim tables: rows counted */
    uint64_t out_size;
} dir_unit;

typedef struct dir_ctx {
    pga_job *j;
    char name[512];
    char *tmpdir;
    int zlevel;
    pga_runner run;
    uint64_t bytes_out;
} dir_ctx;

static char *path_join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Copy a file byte for byte; with rows, also count the table rows in it. */
static int copy_file(const char *from, const char *to, pga_rows *rows, sf_error *err)
{
    unsigned char *buf = malloc(PGA_CHUNK * 2);
    int in = -1, out = -1, rc = 0;
    if (!buf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot open '%s': %s", from, strerror(errno));
        goto done;
    }
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot create '%s': %s", to, strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t n = read(in, buf, PGA_CHUNK * 2), off = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sf_error_set(err, SF_EIO, "cannot read '%s': %s", from, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (rows && (rc = pga_rows_feed(rows, buf, (size_t)n, err)) < 0)
            goto done;
        while (off < n) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", to, strerror(errno));
                goto done;
            }
            off += w;
        }
    }
done:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && rc == 0)
        rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", to, strerror(errno));
    free(buf);
    return rc;
}

/* Per masked table file: where its output goes. */
typedef struct dir_table {
    char *from, *to;
    int fd;
    pga_out out;
} dir_table;

static void dir_table_free(void *p)
{
    dir_table *dt = p;
    if (!dt)
        return;
    if (dt->fd >= 0)
        close(dt->fd);
    pga_out_free(&dt->out);
    free(dt->from);
    free(dt->to);
    free(dt);
}

static void file_where(dir_ctx *c, const char *from, size_t idx, sf_error *err)
{
    char label[256];
    pga_entry_label(&c->j->toc.e[idx], label, sizeof(label));
    sf_error_prefix(err, "'%s': %s", from, label);
}

/* Write one masked piece to its table's file; open it first, close it after the last. */
static int emit_piece(dir_ctx *c, pga_piece *p, sf_error *err)
{
    pga_tstate *ts = p->ts;
    dir_table *dt = ts->fmt;
    unsigned char z[10];
    size_t zn;
    int rc;
    if (p->k == 0) {
        if ((dt->fd = open(dt->to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0)
            return sf_error_set(err, SF_EIO, "cannot create '%s': %s", dt->to, strerror(errno));
        if ((rc = pga_out_init(&dt->out, dt->fd, dt->to, err)) < 0)
            return rc;
        if ((zn = pga_z_header(ts->zmode, ts->level, z)) && (rc = pga_out_write(&dt->out, z, zn, err)) < 0)
            return rc;
    }
    if ((rc = pga_spool_drain(&p->spool, pga_out_sink, &dt->out, err)) < 0 || (rc = pga_piece_done(c->j, p, err)) < 0)
        return rc;
    if (p->last) {
        if ((zn = pga_z_trailer(ts->zmode, ts->check, ts->tlen, z)) && (rc = pga_out_write(&dt->out, z, zn, err)) < 0)
            return rc;
        if ((rc = pga_out_flush(&dt->out, err)) < 0)
            return rc;
        c->bytes_out += dt->out.pos;
        rc = close(dt->fd);
        dt->fd = -1;
        if (rc != 0)
            return sf_error_set(err, SF_EIO, "cannot write '%s': %s", dt->to, strerror(errno));
    }
    return 0;
}

/* Coordinator: read (gunzip) a masked table's file and hand it to workers in pieces. */
static int read_masked_file(dir_ctx *c, size_t idx, const char *file, sf_error *err)
{
    int gz = ends_with(file, ".gz");
    pga_tstate *ts = pga_tstate_new(idx, gz ? PGA_Z_GZIP : PGA_Z_NONE, c->zlevel);
    dir_table *dt = calloc(1, sizeof(*dt));
    unsigned char *buf = malloc(PGA_CHUNK);
    pga_split split;
    pga_zr zr;
    pga_zr_to into = {&zr, pga_split_feed, &split};
    char name[1024];
    pga_in in;
    int ifd = -1, rc = 0, have_zr = 0, have_in = 0;
    if (dt)
        dt->fd = -1;
    if (!ts || !dt || !buf || !(dt->from = path_join(c->j->in, file)) || !(dt->to = path_join(c->tmpdir, file))) {
        dir_table_free(dt);
        pga_tstate_unref(ts);
        free(buf);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    ts->fmt = dt;
    ts->fmt_free = dir_table_free;
    pga_split_init(&split, c->j, &c->run, ts);
    snprintf(name, sizeof(name), "'%s'", dt->from);
    if ((ifd = open(dt->from, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot open '%s': %s", dt->from, strerror(errno));
        goto out;
    }
    if ((rc = pga_in_init_fd(&in, ifd, name, 0, err)) < 0)
        goto out;
    have_in = 1;
    if (gz) {
        if ((rc = pga_zr_init(&zr, PGA_Z_GZIP, err)) < 0)
            goto out;
        have_zr = 1;
    }
    for (;;) {
        size_t got;
        if ((rc = pga_in_read(&in, buf, PGA_CHUNK, &got, err)) < 0 || got == 0)
            break;
        rc = have_zr ? pga_zr_sink(&into, buf, got, err) : pga_split_feed(&split, buf, got, err);
        if (rc < 0)
            break;
    }
    /* an empty .gz file reads as empty, as with gzread */
    if (rc == 0 && have_zr && in.pos > 0)
        rc = pga_zr_finish(&zr, err);
    if (rc == 0)
        rc = pga_split_finish(&split, err);
out:
    if (rc < 0 && strncmp(err->msg, name, strlen(name)) != 0 && strncmp(err->msg, "cannot ", 7) != 0)
        file_where(c, dt->from, idx, err);
    if (have_zr)
        pga_zr_free(&zr);
    if (have_in)
        pga_in_free(&in);
    if (ifd >= 0)
        close(ifd);
    pga_split_free(&split);
    free(buf);
    return rc;
}

static int count_copy_file(dir_ctx *c, dir_unit *du, const char *from, const char *to, sf_error *err)
{
    pga_rows rows;
    int rc = pga_rows_init(&rows, ends_with(du->file, ".gz") ? PGA_Z_GZIP : PGA_Z_NONE, err);
    if (rc < 0)
        return rc;
    rc = copy_file(from, to, &rows, err);
    if (rc == 0)
        rc = pga_rows_finish(&rows, err);
    du->rows = rows.rows;
    pga_rows_free(&rows);
    if (rc < 0 && err->msg[0] != '\'' && strncmp(err->msg, "cannot ", 7) != 0) {
        char label[256];
        pga_entry_label(&c->j->toc.e[du->idx], label, sizeof(label));
        sf_error_prefix(err, "'%s': %s", from, label);
    }
    return rc;
}

static int unit_work(void *ctx, pga_unit *u, sf_error *err)
{
    dir_ctx *c = ctx;
    dir_unit *du = (dir_unit *)u;
    char *from, *to;
    pga_plan *plan;
    struct stat st;
    int rc;
    if (u->kind == PGA_UNIT_PIECE) {
        pga_piece *p = (pga_piece *)u;
        if ((rc = pga_piece_work(c->j, p, &c->run, err)) < 0)
            file_where(c, ((dir_table *)p->ts->fmt)->from, p->ts->idx, err);
        return rc;
    }
    from = path_join(c->j->in, du->file);
    to = path_join(c->tmpdir, du->file);
    plan = du->idx >= 0 ? &c->j->plans[du->idx] : NULL;
    if (!from || !to)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    else if (plan && plan->open)
        rc = count_copy_file(c, du, from, to, err);
    else
        rc = copy_file(from, to, NULL, err);
    if (rc == 0 && stat(to, &st) == 0)
        du->out_size = (uint64_t)st.st_size;
    free(from);
    free(to);
    return rc;
}

static int unit_emit(void *ctx, pga_unit *u, sf_error *err)
{
    dir_ctx *c = ctx;
    dir_unit *du = (dir_unit *)u;
    pga_plan *plan;
    if (u->kind == PGA_UNIT_PIECE)
        return emit_piece(c, (pga_piece *)u, err);
    plan = du->idx >= 0 ? &c->j->plans[du->idx] : NULL;
    c->bytes_out += du->out_size;
    if (!plan)
        return 0;
    if (plan->open && c->j->ops->rows)
        c->j->ops->rows(plan->table, du->rows);
    return pga_job_end(c->j, (size_t)du->idx, err);
}

static void unit_drop(void *ctx, pga_unit *u)
{
    dir_ctx *c = ctx;
    dir_unit *du = (dir_unit *)u;
    if (u->kind == PGA_UNIT_PIECE) {
        pga_piece_free(c->j, (pga_piece *)u);
        return;
    }
    free(du->file);
    free(du);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

static int safe_name(const pga_str *s)
{
    return s->s && s->len > 0 && s->len < 256 && strlen(s->s) == s->len && !strchr(s->s, '/') &&
           strcmp(s->s, ".") != 0 && strcmp(s->s, "..") != 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of the input directory, sorted; *bytes = their total size. */
static int list_files(const char *dir, char ***out, size_t *n, uint64_t *bytes, sf_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t cnt = 0;
    if (!d)
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", dir, strerror(errno));
    while ((de = readdir(d))) {
        struct stat st;
        char **nv;
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        *bytes += (uint64_t)st.st_size;
        if (!(nv = realloc(v, (cnt + 1) * sizeof(*v))) || !(nv[cnt] = strdup(de->d_name))) {
            free(nv ? nv : v);
            closedir(d);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        v = nv;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_str);
    *out = v;
    *n = cnt;
    return 0;
}

static long find_file(char **files, size_t n, const char *name)
{
    char **hit = n ? bsearch(&name, files, n, sizeof(*files), cmp_str) : NULL;
    return hit ? (long)(hit - files) : -1;
}

static int add_unit(dir_ctx *c, long idx, const char *file, int work, sf_error *err)
{
    dir_unit *du = calloc(1, sizeof(*du));
    if (!du || !(du->file = strdup(file))) {
        free(du);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    du->idx = idx;
    du->u.work = work;
    du->u.data = du;
    return pga_runner_add(&c->run, &du->u, err);
}

/* Create the temp output directory beside out; out must be absent or empty. */
static int make_tmpdir(dir_ctx *c, const char *out, sf_error *err)
{
    struct stat st;
    const char *slash = strrchr(out, '/');
    size_t dlen = slash ? (size_t)(slash - out) + 1 : 0, n = strlen(out) + 16;
    if (stat(out, &st) == 0) {
        DIR *d;
        struct dirent *de;
        if (!S_ISDIR(st.st_mode))
            return sf_error_set(err, SF_EEXIST, "cannot write the directory archive to '%s': it exists and is "
                                "not a directory", out);
        if (!(d = opendir(out)))
            return sf_error_set(err, SF_EIO, "cannot open '%s': %s", out, strerror(errno));
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                closedir(d);
                return sf_error_set(err, SF_EEXIST, "cannot write the directory archive to '%s': the "
                                    "directory is not empty", out);
            }
        closedir(d);
    }
    if (!(c->tmpdir = malloc(n)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    memcpy(c->tmpdir, out, dlen);
    snprintf(c->tmpdir + dlen, n - dlen, ".%s.sf-XXXXXX", out + dlen);
    if (!mkdtemp(c->tmpdir)) {
        int e = errno;
        free(c->tmpdir);
        c->tmpdir = NULL;
        return sf_error_set(err, SF_EIO, "cannot create a directory beside '%s': %s", out, strerror(e));
    }
    return 0; /* mkdtemp's 0700 is also what pg_dump gives its output directory */
}

static int read_toc(dir_ctx *c, sf_error *err)
{
    char *path = path_join(c->j->in, "toc.dat");
    char name[1024];
    pga_in in;
    int fd, rc;
    struct stat st;
    if (!path)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (stat(c->j->in, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(path);
        return sf_error_set(err, SF_EUSAGE, "'%s' is not a directory: not a pg_dump -Fd archive", c->j->in);
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = sf_error_set(err, errno == ENOENT ? SF_EFORMAT : SF_EIO, "cannot open '%s': %s%s", path,
                          strerror(errno), errno == ENOENT ? " (not a pg_dump -Fd archive)" : "");
        free(path);
        return rc;
    }
    snprintf(name, sizeof(name), "'%s'", path);
    free(path);
    if ((rc = pga_in_init_fd(&in, fd, name, 0, err)) == 0) {
        rc = pga_toc_read(&c->j->toc, &in, PGA_FMT_TAR, err); /* sic: see pgarchive_toc.h */
        pga_in_free(&in);
    }
    close(fd);
    return rc;
}

int pga_dir_load_toc(pga_job *j, sf_error *err)
{
    dir_ctx c;
    memset(&c, 0, sizeof(c));
    c.j = j;
    return read_toc(&c, err);
}

int pga_dir_run(pga_job *j, sf_error *err)
{
    dir_ctx c;
    char **files = NULL;
    unsigned char *used = NULL;
    size_t nfiles = 0;
    int rc, run_started = 0;
    memset(&c, 0, sizeof(c));
    c.j = j;
    snprintf(c.name, sizeof(c.name), "directory archive '%s'", j->in);
    if (strcmp(j->out, "-") == 0)
        return sf_error_set(err, SF_EUSAGE, "a directory archive cannot be written to standard output; "
                            "name an output directory");
    if (strcmp(j->in, "-") == 0)
        return sf_error_set(err, SF_EUSAGE, "a directory archive cannot be read from standard input");
    if ((rc = read_toc(&c, err)) < 0)
        return rc;
    if ((rc = pga_job_prepare(j, c.name, err)) < 0)
        return rc;
    c.zlevel = j->toc.compression == 0 ? -1 : j->toc.compression;
    if ((rc = list_files(j->in, &files, &nfiles, &j->stats.bytes_in, err)) < 0)
        goto done;
    if (nfiles && !(used = calloc(nfiles, 1))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = make_tmpdir(&c, j->out, err)) < 0)
        goto done;
    if ((rc = pga_runner_init(&c.run, j->jobs, unit_work, unit_emit, unit_drop, &c, err)) < 0)
        goto done;
    run_started = 1;
    for (size_t i = 0; i < j->toc.n; i++) {
        pga_entry *e = &j->toc.e[i];
        char gzname[300];
        long f;
        if (!e->filename.s || e->filename.len == 0)
            continue;
        if (!safe_name(&e->filename)) {
            rc = sf_error_set(err, SF_EFORMAT, "%s: TOC entry %d names an invalid data file '%s'", c.name,
                              e->dump_id, e->filename.s);
            goto done;
        }
        snprintf(gzname, sizeof(gzname), "%s.gz", e->filename.s);
        if ((f = find_file(files, nfiles, e->filename.s)) < 0)
            f = find_file(files, nfiles, gzname);
        if (f < 0) {
            char label[256];
            pga_entry_label(e, label, sizeof(label));
            rc = sf_error_set(err, SF_EFORMAT, "%s: %s: data file '%s' is missing", c.name, label, e->filename.s);
            goto done;
        }
        if (used[f])
            continue;
        used[f] = 1;
        j->plans[i].seen = 1;
        rc = j->plans[i].transform ? read_masked_file(&c, i, files[f], err) : add_unit(&c, (long)i, files[f], 1, err);
        if (rc < 0)
            goto done;
    }
    for (size_t f = 0; f < nfiles; f++) {
        if (used[f])
            continue;
        if ((rc = add_unit(&c, -1, files[f], 1, err)) < 0)
            goto done;
    }
    if ((rc = pga_runner_finish(&c.run, err)) < 0)
        goto done;
    pga_runner_free(&c.run);
    run_started = 0;
    if ((rc = pga_job_end_rest(j, err)) < 0)
        goto done;
    j->stats.bytes_out = c.bytes_out;
    if (rename(c.tmpdir, j->out) != 0) {
        rc = sf_error_set(err, SF_EIO, "cannot rename '%s' to '%s': %s", c.tmpdir, j->out, strerror(errno));
        goto done;
    }
    free(c.tmpdir);
    c.tmpdir = NULL;
done:
    if (run_started)
        pga_runner_free(&c.run);
    if (c.tmpdir) {
        remove_tree(c.tmpdir);
        free(c.tmpdir);
    }
    for (size_t f = 0; f < nfiles; f++)
        free(files[f]);
    free(files);
    free(used);
    return rc;
}
