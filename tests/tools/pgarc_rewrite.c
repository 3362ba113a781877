/*
 * Test tool: rewrite a pg_dump archive through the archive format layer
 * with identity table hooks, so tests can prove with pg_restore that the
 * readers and writers are exact without needing a masking key or policy.
 *
 *   pgarc_rewrite [--raw] [--fail-table TAG] FORMAT IN OUT [JOBS]
 *   pgarc_rewrite --list FILE       (custom archive or toc.dat)
 *
 * FORMAT is auto|custom|directory|tar. By default every table's data is
 * decoded and re-encoded line by line (block/chunk/zlib layers included);
 * --raw lets identity tables be copied verbatim instead. --fail-table TAG
 * makes the hooks fail on the first row of table TAG (error-path tests).
 * --list prints one line per TOC entry: dump id, desc, schema, tag, data
 * offset flag, data offset, file name (tab-separated), so tests can find
 * the byte offsets of blocks to corrupt.
 * Exit 0 on success; 1 with "error: ..." on stderr otherwise.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/util.h"
#include "pgarchive_int.h"

typedef struct hooks {
    const char *fail_table;
    long tables, rows;
} hooks;

typedef struct tbl {
    int fail;
    long rows;
} tbl;

static int h_ddl(void *ud, const char *sql, size_t len, int scs, sf_error *err)
{
    (void)ud, (void)err, (void)scs;
    return sql && len ? 0 : SF_EINTERNAL;
}

static int h_begin(void *ud, const char *copy, size_t len, void **table, int *identity, sf_error *err)
{
    hooks *h = ud;
    tbl *t = calloc(1, sizeof(*t));
    if (!t)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (h->fail_table) {
        char pat[256];
        snprintf(pat, sizeof(pat), ".%s ", h->fail_table);
        t->fail = memmem(copy, len, pat, strlen(pat)) != NULL;
    }
    h->tables++;
    *table = t;
    *identity = !t->fail;
    return 0;
}

static int h_line(void *table, uint64_t lineno, const char *line, size_t len, sf_buf *out, sf_error *err)
{
    tbl *t = table;
    if (t->fail)
        return sf_error_set(err, SF_EFORMAT, "line %llu: test hook refuses this table", (unsigned long long)lineno);
    t->rows++;
    return sf_buf_add(out, line, len) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

static void h_rows(void *table, uint64_t n)
{
    ((tbl *)table)->rows += (long)n;
}

static int h_end(void *ud, void *table, sf_error *err)
{
    hooks *h = ud;
    (void)err;
    h->rows += ((tbl *)table)->rows;
    free(table);
    return 0;
}

static void h_abort(void *ud, void *table)
{
    (void)ud;
    free(table);
}

static int list(const char *path)
{
    FILE *f = fopen(path, "rb");
    sf_buf b = SF_BUF_INIT;
    char chunk[65536];
    size_t n;
    pga_in in;
    pga_toc toc;
    sf_error err = {0};
    if (!f) {
        perror(path);
        return 1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sf_buf_add(&b, chunk, n);
    fclose(f);
    pga_in_init_mem(&in, b.ptr, b.len, path);
    if (pga_toc_read(&toc, &in, 0, &err) < 0) {
        fprintf(stderr, "error: %s\n", err.msg);
        sf_buf_free(&b);
        return 1;
    }
    for (size_t i = 0; i < toc.n; i++) {
        const pga_entry *e = &toc.e[i];
        printf("%d\t%s\t%s\t%s\t%d\t%llu\t%s\n", e->dump_id, e->desc.s, e->nspace.s ? e->nspace.s : "",
               e->tag.s ? e->tag.s : "", e->data_state, (unsigned long long)e->data_pos,
               e->filename.s ? e->filename.s : "");
    }
    pga_toc_free(&toc);
    sf_buf_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    hooks h = {0};
    pga_ops ops = {&h, 1, h_ddl, h_begin, h_line, h_rows, h_end, h_abort, NULL};
    sf_error err = {0};
    int i = 1, fmt, jobs = 1;
    if (argc == 3 && strcmp(argv[1], "--list") == 0)
        return list(argv[2]);
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--raw") == 0)
            ops.decode_all = 0;
        else if (strcmp(argv[i], "--fail-table") == 0 && i + 1 < argc)
            h.fail_table = argv[++i];
        else
            break;
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: pgarc_rewrite [--raw] [--fail-table TAG] FORMAT IN OUT [JOBS]\n");
        return 2;
    }
    if (strcmp(argv[i], "auto") == 0)
        fmt = SF_MASK_FORMAT_AUTO;
    else if (strcmp(argv[i], "custom") == 0)
        fmt = SF_MASK_FORMAT_CUSTOM;
    else if (strcmp(argv[i], "directory") == 0)
        fmt = SF_MASK_FORMAT_DIRECTORY;
    else if (strcmp(argv[i], "tar") == 0)
        fmt = SF_MASK_FORMAT_TAR;
    else {
        fprintf(stderr, "error: unknown format '%s'\n", argv[i]);
        return 2;
    }
    if (argc - i > 3) {
        int64_t v;
        if (sf_parse_i64(&v, argv[i + 3], 1, 64) < 0) {
            fprintf(stderr, "error: bad job count '%s'\n", argv[i + 3]);
            return 2;
        }
        jobs = (int)v;
    }
    if (pga_rewrite(&ops, (sf_mask_format)fmt, argv[i + 1], argv[i + 2], jobs, NULL, &err) < 0) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "pgarc_rewrite: %ld tables, %ld rows\n", h.tables, h.rows);
    return 0;
}
