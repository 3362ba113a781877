/*
 * snaptamper: rewrite a snapshot archive (tar + zstd) with one member
 * changed, the way an attacker or a bad disk would, for tests:
 *
 *   snaptamper IN OUT MEMBER flip OFFSET       XOR byte OFFSET of MEMBER with 0x01
 *   snaptamper IN OUT MEMBER replace OLD NEW   replace the first OLD in MEMBER by NEW
 *   snaptamper IN OUT MEMBER drop              leave MEMBER out
 *
 * Everything else is copied unchanged (members are held in memory: test
 * archives only). Exit 0 when MEMBER was found and changed, 1 otherwise.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what, struct archive *a)
{
    fprintf(stderr, "snaptamper: %s: %s\n", what, a ? archive_error_string(a) : "");
    return 1;
}

int main(int argc, char **argv)
{
    struct archive *in, *out;
    struct archive_entry *e;
    int changed = 0;
    if (argc < 5) {
        fprintf(stderr, "usage: snaptamper IN OUT MEMBER flip OFFSET | replace OLD NEW | drop\n");
        return 2;
    }
    in = archive_read_new();
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    if (archive_read_open_filename(in, argv[1], 1 << 16) != ARCHIVE_OK)
        return die("open", in);
    out = archive_write_new();
    archive_write_add_filter_zstd(out);
    archive_write_set_format_pax_restricted(out);
    if (archive_write_open_filename(out, argv[2]) != ARCHIVE_OK)
        return die("create", out);
    while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
        size_t len = (size_t)archive_entry_size(e), cap = len + 1;
        char *buf = malloc(cap), *p;
        la_ssize_t n;
        size_t got = 0;
        if (!buf)
            return die("out of memory", NULL);
        while (got < len && (n = archive_read_data(in, buf + got, len - got)) > 0)
            got += (size_t)n;
        if (got != len)
            return die("read", in);
        if (strcmp(archive_entry_pathname(e), argv[3]) == 0) {
            if (strcmp(argv[4], "drop") == 0) {
                free(buf);
                changed = 1;
                continue;
            } else if (strcmp(argv[4], "flip") == 0 && argc == 6) {
                size_t off = strtoul(argv[5], NULL, 10);
                if (off < len) {
                    buf[off] ^= 0x01;
                    changed = 1;
                }
            } else if (strcmp(argv[4], "replace") == 0 && argc == 7) {
                size_t lo = strlen(argv[5]), ln = strlen(argv[6]);
                buf[len] = '\0';
                if ((p = strstr(buf, argv[5]))) {
                    size_t at = (size_t)(p - buf);
                    char *nb = malloc(len - lo + ln + 1);
                    memcpy(nb, buf, at);
                    memcpy(nb + at, argv[6], ln);
                    memcpy(nb + at + ln, buf + at + lo, len - at - lo);
                    free(buf);
                    buf = nb;
                    len = len - lo + ln;
                    changed = 1;
                }
            }
            archive_entry_set_size(e, (la_int64_t)len);
        }
        if (archive_write_header(out, e) != ARCHIVE_OK)
            return die("write header", out);
        if (len && archive_write_data(out, buf, len) != (la_ssize_t)len)
            return die("write", out);
        free(buf);
    }
    archive_read_free(in);
    if (archive_write_close(out) != ARCHIVE_OK)
        return die("close", out);
    archive_write_free(out);
    if (!changed)
        fprintf(stderr, "snaptamper: nothing changed in '%s'\n", argv[3]);
    return changed ? 0 : 1;
}
