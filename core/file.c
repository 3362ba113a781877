/* Whole-file reads into an sf_buf, with the file named in every error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "file.h"

static int read_all(sf_buf *out, const char *path, size_t max, int referenced, sf_error *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    sf_buf_clear(out);
    if (!f)
        return sf_error_set(err, errno == ENOENT && !referenced ? SF_ENOTFOUND : SF_EIO, "cannot open '%s': %s",
                            path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (out->len + n > max || sf_buf_add(out, chunk, n) < 0) {
            fclose(f);
            if (referenced)
                return sf_error_set(err, SF_ENOMEM, "'%s' is larger than %zu MB", path, max >> 20);
            return sf_error_set(err, SF_ENOMEM, "'%s': file too large (limit %zu MiB)", path, max >> 20);
        }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        return sf_error_set(err, SF_EIO, "cannot read '%s': %s", path, strerror(e));
    }
    fclose(f);
    return 0;
}

/* Read a file the user names; the contract is in file.h. */
int sf_file_read(sf_buf *out, const char *path, size_t max, sf_error *err)
{
    return read_all(out, path, max, 0, err);
}

/* Read a file a template refers to; the contract is in file.h. */
int sf_file_read_ref(sf_buf *out, const char *path, size_t max, sf_error *err)
{
    return read_all(out, path, max, 1, err);
}
