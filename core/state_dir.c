/* Directory state backend: atomic JSON files, flock locks, events.jsonl. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "state_impl.h"
#include "stagefork/util.h"

struct dir_state {
    char *root;
};

struct dir_lock {
    int fd;
};

static const char *root_of(sf_state *st) { return ((struct dir_state *)st->impl)->root; }

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static void sleep_secs(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int dir_lock(sf_state *st, const char *slug, double timeout, void **handle, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    double start = sf_monotonic();
    struct dir_lock *lk;
    int fd;
    if (sf_buf_addf(&path, "%s/locks/%s.lock", root_of(st), slug) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    /* O_CLOEXEC: a service process spawned by a provider must never inherit the lock */
    fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int rc = sf_error_set(err, SF_EIO, "cannot open lock file '%s': %s", path.ptr, strerror(errno));
        sf_buf_free(&path);
        return rc;
    }
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int rc = sf_error_set(err, SF_EIO, "cannot lock '%s': %s", path.ptr, strerror(errno));
            close(fd);
            sf_buf_free(&path);
            return rc;
        }
        if (timeout >= 0 && sf_monotonic() - start >= timeout) {
            char holder[32] = "";
            ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            close(fd);
            sf_buf_free(&path);
            return sf_error_set(err, SF_ELOCK,
                                "environment '%s' is locked by another stagefork process%s%s%s (gave up after "
                                "%.0fs; see --lock-timeout)",
                                slug, *holder ? " (pid " : "", holder, *holder ? ")" : "", timeout);
        }
        sleep_secs(0.05);
    }
    sf_buf_free(&path);
    {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) == 0)
            (void)!pwrite(fd, pid, (size_t)n, 0);
    }
    if (!(lk = malloc(sizeof(*lk)))) {
        close(fd);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    lk->fd = fd;
    *handle = lk;
    return 0;
}

static void dir_unlock(void *handle)
{
    struct dir_lock *lk = handle;
    if (!lk)
        return;
    if (ftruncate(lk->fd, 0) != 0) {
        /* the pid is informational only */
    }
    close(lk->fd); /* releases the flock */
    free(lk);
}

static int load_file(json_t **out, const char *path, sf_error *err)
{
    json_error_t je;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FILE *f;
    if (fd < 0) {
        if (errno == ENOENT)
            return SF_ENOTFOUND;
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    if (!(f = fdopen(fd, "r"))) {
        close(fd);
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    *out = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!*out)
        return sf_error_set(err, SF_EFORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return sf_error_set(err, SF_EFORMAT, "%s: a state record must be a JSON object", path);
    }
    return 0;
}

static int dir_get(sf_state *st, const char *slug, json_t **out, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    int rc;
    if (sf_buf_addf(&path, "%s/envs/%s.json", root_of(st), slug) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rc = load_file(out, path.ptr, err);
    if (rc == SF_ENOTFOUND)
        sf_error_set(err, SF_ENOTFOUND, "no environment '%s'", slug);
    sf_buf_free(&path);
    return rc;
}

static int dir_event(sf_state *st, const json_t *ev, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    char *line;
    int fd, rc = 0;
    if (!ev)
        return 0;
    if (!(line = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (sf_buf_addf(&path, "%s/events.jsonl", root_of(st)) < 0) {
        free(line);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    fd = open(path.ptr, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot open '%s': %s", path.ptr, strerror(errno));
    } else {
        sf_buf b = SF_BUF_INIT;
        /* one write() per line: concurrent appenders never interleave within a line */
        if (sf_buf_adds(&b, line) < 0 || sf_buf_addc(&b, '\n') < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        else if (write_all(fd, b.ptr, b.len) < 0)
            rc = sf_error_set(err, SF_EIO, "cannot append to '%s': %s", path.ptr, strerror(errno));
        sf_buf_free(&b);
        close(fd);
    }
    free(line);
    sf_buf_free(&path);
    return rc;
}

/* Write text to <dir>/<name>.json atomically: temp file, fsync, rename, fsync of dir. */
static int write_atomic(const char *dir, const char *name, const char *text, sf_error *err)
{
    sf_buf tmp = SF_BUF_INIT, path = SF_BUF_INIT;
    int fd = -1, rc = 0;
    static unsigned long seq;
    if (sf_buf_addf(&path, "%s/%s.json", dir, name) < 0 ||
        sf_buf_addf(&tmp, "%s/.%s.json.%ld.%lu.tmp", dir, name, (long)getpid(), ++seq) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot create '%s': %s", tmp.ptr, strerror(errno));
        goto out;
    }
    if (write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", tmp.ptr, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", tmp.ptr, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.ptr, path.ptr) < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot rename '%s' to '%s': %s", tmp.ptr, path.ptr, strerror(errno));
        goto out;
    }
    if (fsync_dir(dir) < 0)
        rc = sf_error_set(err, SF_EIO, "cannot sync directory '%s': %s", dir, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp.len)
        unlink(tmp.ptr);
    sf_buf_free(&tmp);
    sf_buf_free(&path);
    return rc;
}

static int dir_put(sf_state *st, const char *slug, const json_t *rec, const json_t *ev, sf_error *err)
{
    sf_buf dir = SF_BUF_INIT;
    char *text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc;
    if (!text)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (sf_buf_addf(&dir, "%s/envs", root_of(st)) < 0)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    else if ((rc = write_atomic(dir.ptr, slug, text, err)) == 0)
        rc = dir_event(st, ev, err);
    free(text);
    sf_buf_free(&dir);
    return rc;
}

static int dir_meta_put(sf_state *st, const char *key, const json_t *val, sf_error *err)
{
    sf_buf dir = SF_BUF_INIT;
    char *text = json_dumps(val, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc;
    if (!text)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (sf_buf_addf(&dir, "%s/meta", root_of(st)) < 0)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    else if (mkdir(dir.ptr, 0700) != 0 && errno != EEXIST)
        rc = sf_error_set(err, SF_EIO, "cannot create directory '%s': %s", dir.ptr, strerror(errno));
    else
        rc = write_atomic(dir.ptr, key, text, err);
    free(text);
    sf_buf_free(&dir);
    return rc;
}

static int dir_meta_get(sf_state *st, const char *key, json_t **out, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    int rc;
    if (sf_buf_addf(&path, "%s/meta/%s.json", root_of(st), key) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rc = load_file(out, path.ptr, err);
    if (rc == SF_ENOTFOUND)
        sf_error_set(err, SF_ENOTFOUND, "no '%s' in the state", key);
    sf_buf_free(&path);
    return rc;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int dir_list(sf_state *st, json_t **out, sf_error *err)
{
    sf_buf dir = SF_BUF_INIT, path = SF_BUF_INIT;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    json_t *arr = json_array();
    if (!arr || sf_buf_addf(&dir, "%s/envs", root_of(st)) < 0) {
        json_decref(arr);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if (!(d = opendir(dir.ptr))) {
        rc = sf_error_set(err, SF_EIO, "cannot open directory '%s': %s", dir.ptr, strerror(errno));
        goto out;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*p));
            if (!p) {
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
                break;
            }
            names = p;
        }
        if (!(names[n] = strndup(e->d_name, len - 5))) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc < 0)
        goto out;
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        json_t *rec;
        sf_buf_clear(&path);
        if (sf_buf_addf(&path, "%s/%s.json", dir.ptr, names[i]) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
        rc = load_file(&rec, path.ptr, err);
        if (rc == SF_ENOTFOUND) { /* removed meanwhile */
            rc = 0;
            continue;
        }
        if (rc < 0)
            goto out;
        if (json_array_append_new(arr, rec) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sf_buf_free(&dir);
    sf_buf_free(&path);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int dir_events(sf_state *st, const char *slug, size_t max, json_t **out, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *f;
    if (!arr || sf_buf_addf(&path, "%s/events.jsonl", root_of(st)) < 0) {
        json_decref(arr);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    f = fopen(path.ptr, "re");
    if (!f) {
        int e = errno;
        sf_buf_free(&path);
        if (e == ENOENT) {
            *out = arr;
            return 0;
        }
        json_decref(arr);
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path.ptr, strerror(e));
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *ev = json_loadb(line, (size_t)n, 0, NULL);
        const char *env = json_string_value(json_object_get(ev, "env"));
        if (env && strcmp(env, slug) == 0) {
            json_array_append_new(arr, ev);
            if (max && json_array_size(arr) > max)
                json_array_remove(arr, 0);
        } else {
            json_decref(ev);
        }
    }
    free(line);
    fclose(f);
    sf_buf_free(&path);
    *out = arr;
    return 0;
}

static void dir_close(sf_state *st)
{
    struct dir_state *d = st->impl;
    free(d->root);
    free(d);
    st->impl = NULL;
}

static const struct sf_state_ops dir_ops = {"directory", dir_lock,  dir_unlock, dir_get,      dir_put,
                                            dir_list,    dir_event, dir_events, dir_close,    dir_meta_get,
                                            dir_meta_put};

int sf_state_dir_open(sf_state *st, const char *path, sf_error *err)
{
    static const char *const subs[] = {"envs", "locks", "files"};
    struct dir_state *d;
    sf_buf b = SF_BUF_INIT;
    struct stat sb;
    int rc;
    if (!*path)
        return sf_error_set(err, SF_EUSAGE, "empty state directory");
    if ((rc = sf_state_mkdirs(path, 0700, err)) < 0)
        return rc;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sf_error_set(err, SF_EIO, "state '%s' is not a directory", path);
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        sf_buf_clear(&b);
        if (sf_buf_addf(&b, "%s/%s", path, subs[i]) < 0) {
            sf_buf_free(&b);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        if (mkdir(b.ptr, 0700) != 0 && errno != EEXIST) {
            rc = sf_error_set(err, SF_EIO, "cannot create directory '%s': %s", b.ptr, strerror(errno));
            sf_buf_free(&b);
            return rc;
        }
    }
    sf_buf_free(&b);
    if (!(d = calloc(1, sizeof(*d))) || !(d->root = strdup(path)) || !(st->local = strdup(path))) {
        if (d)
            free(d->root);
        free(d);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    st->impl = d;
    st->ops = &dir_ops;
    return 0;
}
