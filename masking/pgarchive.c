/* Archive format detection, the per-run plan bookkeeping shared by the
   format drivers, output files, and the rewrite dispatcher. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pgarchive.h"
#include "pgarchive_int.h"

/* ---- detection ---------------------------------------------------------- */

int pga_tar_header_ok(const unsigned char *h)
{
    unsigned long sum = 0, stored = 0;
    int digits = 0;
    if (memcmp(h + 257, "ustar", 5) != 0)
        return 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    for (int i = 148; i < 156; i++) {
        if (h[i] >= '0' && h[i] <= '7') {
            stored = stored * 8 + (unsigned long)(h[i] - '0');
            digits++;
        } else if (h[i] != ' ' && h[i] != '\0') {
            return 0;
        } else if (digits) {
            break;
        }
    }
    return digits > 0 && stored == sum;
}

sf_mask_format sf_mask_detect_bytes(const unsigned char *head, size_t len)
{
    if (len >= 5 && memcmp(head, "PGDMP", 5) == 0)
        return SF_MASK_FORMAT_CUSTOM;
    if (len >= 512 && pga_tar_header_ok(head))
        return SF_MASK_FORMAT_TAR;
    return SF_MASK_FORMAT_PLAIN;
}

int sf_mask_detect_path(sf_mask_format *out, const char *path, sf_error *err)
{
    struct stat st;
    unsigned char head[512];
    ssize_t n;
    size_t got = 0;
    int fd;
    if (stat(path, &st) != 0)
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char toc[4096];
        if ((size_t)snprintf(toc, sizeof(toc), "%s/toc.dat", path) >= sizeof(toc))
            return sf_error_set(err, SF_EUSAGE, "path too long: '%s'", path);
        if (stat(toc, &st) != 0 || !S_ISREG(st.st_mode))
            return sf_error_set(err, SF_EFORMAT, "'%s' is a directory without toc.dat: not a pg_dump -Fd archive",
                                path);
        *out = SF_MASK_FORMAT_DIRECTORY;
        return 0;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    while (got < sizeof(head)) {
        n = read(fd, head + got, sizeof(head) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return sf_error_set(err, SF_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *out = sf_mask_detect_bytes(head, got);
    return 0;
}

/* ---- plans -------------------------------------------------------------- */

static int feeds_ddl(const pga_entry *e)
{
    return pga_str_eq(&e->desc, "TABLE") || pga_str_eq(&e->desc, "DOMAIN") || pga_str_eq(&e->desc, "TYPE");
}

/* The archive's standard_conforming_strings, from its STDSTRINGS entry (default on). */
static int archive_scs(const pga_toc *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (pga_str_eq(&t->e[i].desc, "STDSTRINGS") && t->e[i].defn.s)
            return strstr(t->e[i].defn.s, "'off'") == NULL;
    return 1;
}

int pga_job_prepare(pga_job *j, const char *where, sf_error *err)
{
    const pga_ops *ops = j->ops;
    char label[256];
    int rc, scs = archive_scs(&j->toc);
    if (j->toc.n && !(j->plans = calloc(j->toc.n, sizeof(*j->plans))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < j->toc.n; i++) {
        const pga_entry *e = &j->toc.e[i];
        if (!feeds_ddl(e) || !pga_str_nonempty(&e->defn))
            continue;
        if ((rc = ops->ddl(ops->ud, e->defn.s, e->defn.len, scs, err)) < 0) {
            pga_entry_label(e, label, sizeof(label));
            return rc == SF_EFORMAT ? sf_error_prefix(err, "%s: %s", where, label) : rc;
        }
    }
    for (size_t i = 0; i < j->toc.n; i++) {
        const pga_entry *e = &j->toc.e[i];
        pga_plan *p = &j->plans[i];
        int identity = 0;
        if (!pga_str_eq(&e->desc, "TABLE DATA"))
            continue;
        if (!pga_str_nonempty(&e->copy_stmt)) {
            pga_entry_label(e, label, sizeof(label));
            return sf_error_set(err, SF_EFORMAT,
                                "%s: %s: the table data was dumped as INSERT statements (pg_dump --inserts or "
                                "--column-inserts); archive masking needs COPY data: dump without those options "
                                "or use the plain format", where, label);
        }
        p->table = NULL;
        if ((rc = ops->begin(ops->ud, e->copy_stmt.s, e->copy_stmt.len, &p->table, &identity, err)) < 0) {
            pga_entry_label(e, label, sizeof(label));
            return rc == SF_EFORMAT ? sf_error_prefix(err, "%s: %s", where, label) : rc;
        }
        p->open = p->table != NULL;
        p->transform = p->table && (!identity || ops->decode_all);
    }
    return 0;
}

int pga_job_end(pga_job *j, size_t idx, sf_error *err)
{
    pga_plan *p = &j->plans[idx];
    if (!p->open)
        return 0;
    p->open = 0;
    return j->ops->end(j->ops->ud, p->table, err);
}

int pga_job_end_rest(pga_job *j, sf_error *err)
{
    int rc;
    for (size_t i = 0; i < j->toc.n; i++)
        if (j->plans && (rc = pga_job_end(j, i, err)) < 0)
            return rc;
    return 0;
}

void pga_job_free(pga_job *j)
{
    if (j->plans) {
        for (size_t i = 0; i < j->toc.n; i++)
            if (j->plans[i].open)
                j->ops->abort(j->ops->ud, j->plans[i].table);
        free(j->plans);
        j->plans = NULL;
    }
    pga_toc_free(&j->toc);
}

/* ---- files -------------------------------------------------------------- */

int pga_open_input(const char *path, int *fd, int *seekable, uint64_t *size, sf_error *err)
{
    struct stat st;
    int f = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(f, &st) != 0) {
        int e = errno;
        if (f)
            close(f);
        return sf_error_set(err, SF_EIO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        if (f)
            close(f);
        return sf_error_set(err, SF_EUSAGE, "'%s' is a directory", path);
    }
    *seekable = S_ISREG(st.st_mode) && lseek(f, 0, SEEK_CUR) == 0;
    *size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    *fd = f;
    return 0;
}

int pga_outfile_open(pga_outfile *f, const char *out, sf_error *err)
{
    const char *slash;
    size_t dlen;
    mode_t mask;
    struct stat st;
    memset(f, 0, sizeof(*f));
    f->out = out;
    if (strcmp(out, "-") == 0) {
        f->fd = 1;
        return 0;
    }
    /* an existing device or FIFO (/dev/null, a named pipe) is written in place: renaming a temp file
       over it would replace the node itself */
    if (stat(out, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        if ((f->fd = open(out, O_WRONLY | O_CLOEXEC)) < 0)
            return sf_error_set(err, SF_EIO, "cannot open '%s': %s", out, strerror(errno));
        f->own_fd = 1;
        return 0;
    }
    slash = strrchr(out, '/');
    dlen = slash ? (size_t)(slash - out) + 1 : 0;
    if (!(f->tmp = malloc(strlen(out) + 16)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    memcpy(f->tmp, out, dlen);
    snprintf(f->tmp + dlen, strlen(out) + 16 - dlen, ".%s.sf-XXXXXX", out + dlen);
    if ((f->fd = mkstemp(f->tmp)) < 0) {
        int e = errno;
        free(f->tmp);
        f->tmp = NULL;
        return sf_error_set(err, SF_EIO, "cannot create '%s': %s", out, strerror(e));
    }
    mask = umask(0);
    umask(mask);
    if (fchmod(f->fd, 0666 & ~mask) != 0) {
        int e = errno;
        pga_outfile_discard(f);
        return sf_error_set(err, SF_EIO, "cannot set the mode of '%s': %s", out, strerror(e));
    }
    return 0;
}

int pga_outfile_commit(pga_outfile *f, sf_error *err)
{
    if (f->own_fd) {
        int rc = close(f->fd);
        f->fd = -1;
        f->own_fd = 0;
        return rc != 0 ? sf_error_set(err, SF_EIO, "cannot write '%s': %s", f->out, strerror(errno)) : 0;
    }
    if (!f->tmp)
        return 0;
    if (close(f->fd) != 0) {
        f->fd = -1;
        return sf_error_set(err, SF_EIO, "cannot write '%s': %s", f->out, strerror(errno));
    }
    f->fd = -1;
    if (rename(f->tmp, f->out) != 0)
        return sf_error_set(err, SF_EIO, "cannot rename '%s' to '%s': %s", f->tmp, f->out, strerror(errno));
    free(f->tmp);
    f->tmp = NULL;
    return 0;
}

void pga_outfile_discard(pga_outfile *f)
{
    if (f->own_fd) {
        close(f->fd);
        f->fd = -1;
        f->own_fd = 0;
        return;
    }
    if (!f->tmp)
        return;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
}

/* ---- dispatch ----------------------------------------------------------- */

/* A fresh one-worker job reading `in`, its format detected from the file when *fmt is auto. */
static int job_begin(pga_job *j, sf_mask_format *fmt, const pga_ops *ops, const char *in, sf_error *err)
{
    int rc;
    if (*fmt == SF_MASK_FORMAT_AUTO) {
        if (strcmp(in, "-") == 0)
            return sf_error_set(err, SF_EUSAGE, "cannot detect the archive format of standard input; "
                                "name the format with --format");
        if ((rc = sf_mask_detect_path(fmt, in, err)) < 0)
            return rc;
    }
    memset(j, 0, sizeof(*j));
    j->ops = ops;
    j->in = in;
    j->jobs = 1;
    return 0;
}

int pga_rewrite(const pga_ops *ops, sf_mask_format fmt, const char *in, const char *out, int jobs,
                pga_stats *stats, sf_error *err)
{
    pga_job j;
    int rc;
    if ((rc = job_begin(&j, &fmt, ops, in, err)) < 0)
        return rc;
    j.out = out;
    j.jobs = jobs < 1 ? 1 : jobs;
    switch (fmt) {
    case SF_MASK_FORMAT_CUSTOM:
        rc = pga_custom_run(&j, err);
        break;
    case SF_MASK_FORMAT_DIRECTORY:
        rc = pga_dir_run(&j, err);
        break;
    case SF_MASK_FORMAT_TAR:
        rc = pga_tar_run(&j, err);
        break;
    default:
        rc = sf_error_set(err, SF_EUSAGE, "'%s' is not a pg_dump tar, custom or directory archive", in);
        break;
    }
    if (stats)
        *stats = j.stats;
    pga_job_free(&j);
    return rc;
}

int pga_learn(const pga_ops *ops, sf_mask_format fmt, const char *in, sf_error *err)
{
    pga_job j;
    char where[600];
    int rc;
    if ((rc = job_begin(&j, &fmt, ops, in, err)) < 0)
        return rc;
    switch (fmt) {
    case SF_MASK_FORMAT_CUSTOM:
        rc = pga_custom_load_toc(&j, err);
        snprintf(where, sizeof(where), "custom archive '%s'", in);
        break;
    case SF_MASK_FORMAT_DIRECTORY:
        rc = pga_dir_load_toc(&j, err);
        snprintf(where, sizeof(where), "directory archive '%s'", in);
        break;
    case SF_MASK_FORMAT_TAR:
        rc = pga_tar_load_toc(&j, err);
        snprintf(where, sizeof(where), "tar archive '%s'", in);
        break;
    default:
        return sf_error_set(err, SF_EUSAGE, "'%s' is not a pg_dump tar, custom or directory archive", in);
    }
    if (rc == 0)
        rc = pga_job_prepare(&j, where, err);
    pga_job_free(&j);
    return rc;
}
