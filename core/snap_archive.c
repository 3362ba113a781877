/*
 * Streaming reads of a snapshot archive: libarchive (tar + zstd) pulling
 * bytes from a store reader through a fixed buffer, so a multi-gigabyte
 * archive on disk or S3 is decompressed as it arrives.
 */
#include <archive.h>
#include <errno.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot_impl.h"

#define READ_BUF ((size_t)1 << 20)

struct sf_arc {
    sf_store_reader *r;
    struct archive *a;
    char *buf;
    char *name, *id;
    sf_error rerr; /* the store reader's error, when libarchive reports a read failure */
    int rfail;
};

static la_ssize_t on_read(struct archive *a, void *ud, const void **out)
{
    sf_arc *x = ud;
    ssize_t n = sf_store_read(x->r, x->buf, READ_BUF);
    (void)a;
    *out = x->buf;
    if (n < 0) {
        sf_error_copy(&x->rerr, sf_store_reader_error(x->r));
        x->rfail = 1;
        archive_set_error(a, EIO, "%s", x->rerr.msg);
        return -1;
    }
    return (la_ssize_t)n;
}

/* The archive's error as ours: a store failure keeps its own message and code. */
static int arc_error(sf_arc *x, sf_error *err, const char *what)
{
    if (x->rfail)
        return sf_error_copy(err, &x->rerr);
    return sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: %s: %s", x->name, x->id, what,
                        archive_error_string(x->a) ? archive_error_string(x->a) : "damaged archive");
}

/* libarchive over a store reader: tar + zstd only, streamed through a 1 MiB buffer. */
int sf_arc_open(sf_arc **out, sf_snap_store *st, const char *name, const char *id, sf_error *err)
{
    sf_arc *x = calloc(1, sizeof(*x));
    int rc;
    *out = NULL;
    if (!x || !(x->buf = malloc(READ_BUF)) || !(x->name = strdup(name)) || !(x->id = strdup(id))) {
        sf_arc_close(x);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if ((rc = sf_store_reader_open(&x->r, st, name, id, err)) < 0) {
        sf_arc_close(x);
        return rc;
    }
    if (!(x->a = archive_read_new()) || archive_read_support_filter_zstd(x->a) != ARCHIVE_OK ||
        archive_read_support_format_tar(x->a) != ARCHIVE_OK) {
        rc = x->a ? arc_error(x, err, "cannot set up the reader") : sf_error_set(err, SF_ENOMEM, "out of memory");
        sf_arc_close(x);
        return rc;
    }
    if (archive_read_open(x->a, x, NULL, on_read, NULL) != ARCHIVE_OK) {
        rc = arc_error(x, err, "cannot open the archive");
        sf_arc_close(x);
        return rc;
    }
    *out = x;
    return 0;
}

/* NULL is a no-op. */
void sf_arc_close(sf_arc *x)
{
    if (!x)
        return;
    if (x->a)
        archive_read_free(x->a);
    sf_store_reader_close(x->r);
    free(x->buf);
    free(x->name);
    free(x->id);
    free(x);
}

/* Only regular files with a known size are members; anything else is a damaged archive. */
int sf_arc_next(sf_arc *x, const char **path, long long *size, sf_error *err)
{
    struct archive_entry *e;
    int r = archive_read_next_header(x->a, &e);
    if (r == ARCHIVE_EOF)
        return SF_ENOTFOUND;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return arc_error(x, err, "cannot read the next member");
    if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e))
        return sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: member '%s' is not a regular file", x->name, x->id,
                            archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
    *path = archive_entry_pathname(e);
    *size = (long long)archive_entry_size(e);
    if (!*path)
        return sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: a member has no name", x->name, x->id);
    return 0;
}

/* Store failures keep their own message (sf_arc remembers the reader error). */
long sf_arc_read(sf_arc *x, void *buf, size_t len, sf_error *err)
{
    la_ssize_t n = archive_read_data(x->a, buf, len);
    if (n < 0)
        return arc_error(x, err, "cannot read member data");
    return (long)n;
}

/* Skipping still decompresses: cheap next to loading rows. */
int sf_arc_skip(sf_arc *x, sf_error *err)
{
    if (archive_read_data_skip(x->a) != ARCHIVE_OK)
        return arc_error(x, err, "cannot skip a member");
    return 0;
}

/*
 * For the small members (manifest, schema): bounded by max, checked against the manifest entry when one is
 * given, before the caller uses a byte of it.
 */
int sf_arc_slurp(sf_arc *x, sf_buf *out, size_t max, const json_t *entry, const char *path, sf_error *err)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char hex[65];
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    char chunk[65536];
    long n;
    int rc = 0;
    sf_buf_clear(out);
    if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return sf_error_set(err, SF_ECRYPTO, "cannot start SHA-256");
    }
    while ((n = sf_arc_read(x, chunk, sizeof(chunk), err)) > 0) {
        if (out->len + (size_t)n > max) {
            rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: member '%s' is larger than %zu MB", x->name, x->id,
                              path, max >> 20);
            break;
        }
        if (sf_buf_add(out, chunk, (size_t)n) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        EVP_DigestUpdate(h, chunk, (size_t)n);
    }
    if (n < 0)
        rc = (int)n;
    if (rc == 0 && EVP_DigestFinal_ex(h, md, &mdlen) != 1)
        rc = sf_error_set(err, SF_ECRYPTO, "cannot finish SHA-256");
    EVP_MD_CTX_free(h);
    if (rc == 0 && entry) {
        const char *want = json_string_value(json_object_get(entry, "sha256"));
        sf_hex32(hex, md);
        if ((long long)out->len != (long long)json_integer_value(json_object_get(entry, "size")) || !want ||
            strcmp(want, hex) != 0)
            rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: member '%s' does not match its checksum", x->name,
                              x->id, path);
    }
    return rc;
}

/* The manifest is the first member by construction, so list and restore read it without touching the data. */
int sf_arc_open_manifest(sf_arc **out, json_t **manifest, sf_snap_store *st, const char *name, const char *id,
                         sf_error *err)
{
    sf_arc *x;
    sf_buf text = SF_BUF_INIT;
    const char *path;
    long long size;
    json_error_t je;
    int rc;
    *out = NULL;
    *manifest = NULL;
    if ((rc = sf_arc_open(&x, st, name, id, err)) < 0)
        return rc;
    rc = sf_arc_next(x, &path, &size, err);
    if (rc == SF_ENOTFOUND || (rc == 0 && strcmp(path, SF_SNAP_MANIFEST) != 0))
        rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: the archive does not start with %s", name, id,
                          SF_SNAP_MANIFEST);
    if (rc == 0)
        rc = sf_arc_slurp(x, &text, SF_SNAP_MANIFEST_MAX, NULL, SF_SNAP_MANIFEST, err);
    if (rc == 0 && !(*manifest = json_loadb(text.ptr, text.len, JSON_REJECT_DUPLICATES, &je)))
        rc = sf_error_set(err, SF_EFORMAT, "snapshot %s@%s: %s:%d:%d: %s", name, id, SF_SNAP_MANIFEST, je.line,
                          je.column, je.text);
    sf_buf_free(&text);
    if (rc < 0) {
        sf_arc_close(x);
        return rc;
    }
    *out = x;
    return 0;
}
