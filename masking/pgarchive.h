#ifndef SF_MASKING_PGARCHIVE_H
#define SF_MASKING_PGARCHIVE_H
/*
 * pg_dump archive formats (tar, custom, directory): detection and masking.
 * The plain format lives in plain.c; sf_mask_run() dispatches here for the
 * others.
 */

#include "stagefork/error.h"
#include "stagefork/mask.h"

/*
 * Detect the format of `path` ("-" = stdin cannot be sniffed for a
 * directory, and is read as plain/custom/tar by its first bytes, which the
 * caller must then re-read: use sf_mask_detect_bytes for streams).
 * Custom: "PGDMP" magic; directory: a directory holding toc.dat; tar: a
 * ustar header with a toc.dat member; anything else: plain.
 */
int sf_mask_detect_path(sf_mask_format *out, const char *path, sf_error *err);
/* Detect from the first bytes of a stream (at least 512 if available). */
sf_mask_format sf_mask_detect_bytes(const unsigned char *head, size_t len);

/*
 * Mask a tar/custom/directory archive from `in` to `out`, keeping the format,
 * using up to `jobs` worker threads. The masker's DDL catalog is fed from
 * the archive's TOC. On error the partial output is removed and err (the
 * caller passes the masker's own error) names the member/offset.
 */
int sf_mask_archive(sf_masker *m, sf_mask_format fmt, const char *in, const char *out, int jobs,
                    sf_error *err);

/*
 * For --check: read an archive's TOC only, feed its definitions to the
 * masker's catalog and note every table whose data it holds (with the
 * columns its COPY statement names), masking and writing nothing.
 */
int sf_mask_archive_learn(sf_masker *m, sf_mask_format fmt, const char *in, sf_error *err);

#endif
