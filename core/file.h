#ifndef SF_CORE_FILE_H
#define SF_CORE_FILE_H
/*
 * Whole-file reads for the library's inputs (internal). One reader, two
 * wordings of its errors, both stable because users and tests see them.
 */

#include <stddef.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"

/*
 * Read the file at `path` into `out` (cleared first; sf_buf keeps it
 * NUL-terminated). For files the user names directly (YAML, seed specs):
 * a missing file is SF_ENOTFOUND and any other open failure SF_EIO, both
 * "cannot open 'x': <reason>"; more than `max` bytes is SF_ENOMEM
 * "'x': file too large (limit N MiB)"; a read failure is SF_EIO
 * "cannot read 'x': <reason>". On failure `out` may hold a partial file.
 */
int sf_file_read(sf_buf *out, const char *path, size_t max, sf_error *err);

/*
 * sf_file_read for files a template refers to (SQL scripts, a golden
 * template's seed spec): every open failure is SF_EIO, and more than `max`
 * bytes is SF_ENOMEM "'x' is larger than N MB".
 */
int sf_file_read_ref(sf_buf *out, const char *path, size_t max, sf_error *err);

#endif
