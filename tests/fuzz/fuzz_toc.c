/*
 * Fuzz the pg_dump archive TOC reader and the custom-format data layer.
 * Every input is parsed as a header + TOC from memory; what parses must
 * serialise and re-parse to the same bytes. Inputs that parse as a custom
 * archive are also rewritten end to end (block scan, chunks, zlib, COPY
 * pump, TOC offset rewrite) with identity hooks, through a temp file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pgarchive_int.h"

static int f_ddl(void *ud, const char *sql, size_t len, int scs, sf_error *err)
{
    (void)ud, (void)sql, (void)len, (void)err, (void)scs;
    return 0;
}

static int f_begin(void *ud, const char *copy, size_t len, void **table, int *identity, sf_error *err)
{
    (void)ud, (void)copy, (void)err;
    *table = (void *)1;
    *identity = len % 2; /* exercise both the verbatim and the decoding paths */
    return 0;
}

static int f_line(void *table, uint64_t lineno, const char *line, size_t len, sf_buf *out, sf_error *err)
{
    (void)table, (void)lineno;
    return sf_buf_add(out, line, len) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

static int f_end(void *ud, void *table, sf_error *err)
{
    (void)ud, (void)table, (void)err;
    return 0;
}

static void f_abort(void *ud, void *table)
{
    (void)ud, (void)table;
}

static const pga_ops ops = {NULL, 0, f_ddl, f_begin, f_line, NULL, f_end, f_abort, NULL};

static char dir[64];

static void remove_dir(void)
{
    if (dir[0])
        rmdir(dir);
}

static void rewrite_custom(const uint8_t *data, size_t size)
{
    char in[128], out[128];
    FILE *f;
    sf_error err;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/sf-fuzz-toc-XXXXXX");
        if (!mkdtemp(dir)) {
            dir[0] = '\0';
            return;
        }
        atexit(remove_dir);
    }
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    if (!(f = fopen(in, "wb")))
        return;
    fwrite(data, 1, size, f);
    fclose(f);
    if (pga_rewrite(&ops, SF_MASK_FORMAT_CUSTOM, in, out, 2, NULL, &err) < 0 && !strstr(err.msg, "offset") &&
        !strstr(err.msg, "zlib") && !strstr(err.msg, "table data") && !strstr(err.msg, "INSERT"))
        abort(); /* every format error names where it happened */
    unlink(out);
    unlink(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pga_toc a, b;
    pga_in in;
    sf_error err;
    sf_buf x = SF_BUF_INIT, y = SF_BUF_INIT;
    pga_in_init_mem(&in, data, size, "fuzz");
    if (pga_toc_read(&a, &in, 0, &err) < 0) {
        if (strncmp(err.msg, "fuzz: offset ", 13) != 0 && err.code != SF_ENOMEM)
            abort();
        return 0;
    }
    if (pga_toc_write_head(&a, &x, &err) == 0 && pga_toc_write_entries(&a, &x, &err) == 0) {
        pga_in_init_mem(&in, x.ptr, x.len, "fuzz");
        if (pga_toc_read(&b, &in, 0, &err) < 0)
            abort();
        if (pga_toc_write_head(&b, &y, &err) < 0 || pga_toc_write_entries(&b, &y, &err) < 0)
            abort();
        if (x.len != y.len || memcmp(x.ptr, y.ptr, x.len) != 0)
            abort();
        pga_toc_free(&b);
    }
    if (a.format == PGA_FMT_CUSTOM)
        rewrite_custom(data, size);
    pga_toc_free(&a);
    sf_buf_free(&x);
    sf_buf_free(&y);
    return 0;
}
