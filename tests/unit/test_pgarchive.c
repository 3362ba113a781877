/* pg_dump archive layer: TOC codec, detection, zlib codecs, COPY pump, ordered runner. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pgarchive.h"
#include "pgarchive_int.h"
#include "pgarchive_run.h"

static pga_str S(const char *s)
{
    pga_str r = {NULL, 0};
    if (s) {
        r.s = strdup(s);
        r.len = strlen(s);
    }
    return r;
}

/* A small archive TOC of the given version/format, built field by field. */
static void make_toc(pga_toc *t, int vmin, int format)
{
    memset(t, 0, sizeof(*t));
    t->vmaj = 1;
    t->vmin = vmin;
    t->version = PGA_VERSION(1, vmin, 0);
    t->int_size = 4;
    t->off_size = 8;
    t->format = format;
    t->compression = -1;
    for (int i = 0; i < 7; i++)
        t->tm[i] = i * 3 - 2;
    t->dbname = S("db ü");
    t->server_version = S("15.18");
    t->dump_version = S(NULL);
    t->n = t->cap = 3;
    t->e = calloc(3, sizeof(pga_entry));
    for (int i = 0; i < 3; i++) {
        pga_entry *e = &t->e[i];
        e->dump_id = 100 + i * 7;
        e->had_dumper = i == 2;
        e->tableoid = S("1259");
        e->oid = S(i ? "16400" : "0");
        e->tag = S(i == 1 ? "Odd \"Tbl\"" : "t");
        e->desc = S(i == 2 ? "TABLE DATA" : "TABLE");
        e->section = i + 1;
        e->defn = S(i == 2 ? "" : "CREATE TABLE public.t (a int);\n");
        e->drop_stmt = S(NULL);
        e->copy_stmt = S(i == 2 ? "COPY public.t (a) FROM stdin;\n" : NULL);
        e->nspace = S("public");
        e->tablespace = S("");
        e->tableam = S(vmin >= 14 ? "heap" : NULL);
        e->owner = S("postgres");
        e->with_oids = S("false");
        if (i) {
            e->ndeps = (size_t)i;
            e->deps = calloc((size_t)i, sizeof(pga_str));
            for (int d = 0; d < i; d++)
                e->deps[d] = S(d ? "101" : "100");
        }
        if (format == PGA_FMT_CUSTOM) {
            e->data_state = i == 2 ? PGA_OFF_SET : PGA_OFF_NO_DATA;
            e->data_pos = i == 2 ? 0x123456789aULL : 0;
        } else {
            e->filename = S(i == 2 ? "107.dat" : "");
        }
    }
}

static void serialize(const pga_toc *t, sf_buf *b)
{
    sf_error err = {0};
    cr_assert_eq(pga_toc_write_head(t, b, &err), 0, "%s", err.msg);
    cr_assert_eq(pga_toc_write_entries(t, b, &err), 0, "%s", err.msg);
}

static int parse(pga_toc *t, const sf_buf *b, int format, sf_error *err)
{
    pga_in in;
    pga_in_init_mem(&in, b->ptr, b->len, "toc.dat");
    return pga_toc_read(t, &in, format, err);
}

static void check_same_str(const pga_str *a, const pga_str *b, const char *what)
{
    cr_assert_eq(a->s == NULL, b->s == NULL, "%s: NULL-ness differs", what);
    if (a->s) {
        cr_assert_eq(a->len, b->len, "%s", what);
        cr_assert(memcmp(a->s, b->s, a->len) == 0, "%s", what);
    }
}

Test(pgarchive_toc, round_trips_every_field_for_each_version_and_format)
{
    int fmts[] = {PGA_FMT_CUSTOM, PGA_FMT_TAR};
    for (int vmin = 12; vmin <= 14; vmin++) {
        for (int f = 0; f < 2; f++) {
            pga_toc a, b;
            sf_buf x = SF_BUF_INIT, y = SF_BUF_INIT;
            sf_error err = {0};
            make_toc(&a, vmin, fmts[f]);
            serialize(&a, &x);
            cr_assert_eq(parse(&b, &x, fmts[f], &err), 0, "1.%d: %s", vmin, err.msg);
            cr_assert_eq(b.n, 3);
            cr_assert_eq(b.compression, -1);
            cr_assert_eq(b.tm[0], -2);
            check_same_str(&a.dbname, &b.dbname, "dbname");
            check_same_str(&a.dump_version, &b.dump_version, "dump version");
            for (size_t i = 0; i < 3; i++) {
                cr_assert_eq(a.e[i].dump_id, b.e[i].dump_id);
                cr_assert_eq(a.e[i].had_dumper, b.e[i].had_dumper);
                cr_assert_eq(a.e[i].section, b.e[i].section);
                check_same_str(&a.e[i].tag, &b.e[i].tag, "tag");
                check_same_str(&a.e[i].drop_stmt, &b.e[i].drop_stmt, "drop");
                check_same_str(&a.e[i].copy_stmt, &b.e[i].copy_stmt, "copy");
                check_same_str(&a.e[i].tableam, &b.e[i].tableam, "tableam");
                check_same_str(&a.e[i].filename, &b.e[i].filename, "filename");
                cr_assert_eq(a.e[i].ndeps, b.e[i].ndeps);
                cr_assert_eq(a.e[i].data_state, b.e[i].data_state);
                cr_assert_eq(a.e[i].data_pos, b.e[i].data_pos);
            }
            cr_assert_eq(b.toc_end, x.len);
            cr_assert_eq(pga_toc_find(&b, 107), 1);
            cr_assert_eq(pga_toc_find(&b, 108), -1);
            serialize(&b, &y);
            cr_assert_eq(x.len, y.len);
            cr_assert(memcmp(x.ptr, y.ptr, x.len) == 0, "re-serialised bytes differ");
            pga_toc_free(&a);
            pga_toc_free(&b);
            sf_buf_free(&x);
            sf_buf_free(&y);
        }
    }
}

Test(pgarchive_toc, every_truncation_is_an_error_naming_an_offset)
{
    pga_toc a, b;
    sf_buf x = SF_BUF_INIT;
    make_toc(&a, 14, PGA_FMT_CUSTOM);
    serialize(&a, &x);
    for (size_t cut = 0; cut < x.len; cut++) {
        sf_buf p = SF_BUF_INIT;
        sf_error err = {0};
        sf_buf_add(&p, x.ptr, cut);
        cr_assert_eq(parse(&b, &p, 0, &err), SF_EFORMAT, "cut at %zu parsed", cut);
        cr_assert(strncmp(err.msg, "toc.dat: offset ", 16) == 0, "cut %zu: %s", cut, err.msg);
        cr_assert(strstr(err.msg, cut < 5 ? "unexpected end of file" : "") != NULL, "%s", err.msg);
        cr_assert_eq(b.n, 0);
        sf_buf_free(&p);
    }
    pga_toc_free(&a);
    sf_buf_free(&x);
}

Test(pgarchive_toc, refuses_other_versions_naming_them)
{
    static const struct { unsigned char maj, min; const char *want; } bad[] = {
        {1, 11, "unsupported archive version 1.11.0"}, {1, 15, "unsupported archive version 1.15.0"},
        {1, 16, "written by a newer pg_dump"}, {2, 0, "unsupported archive version 2.0.0"}, {0, 14, "0.14.0"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pga_toc a, b;
        sf_buf x = SF_BUF_INIT;
        sf_error err = {0};
        make_toc(&a, 14, PGA_FMT_CUSTOM);
        serialize(&a, &x);
        x.ptr[5] = (char)bad[i].maj;
        x.ptr[6] = (char)bad[i].min;
        cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
        cr_assert(strstr(err.msg, "offset 5: ") && strstr(err.msg, bad[i].want), "%s", err.msg);
        pga_toc_free(&a);
        sf_buf_free(&x);
    }
}

Test(pgarchive_toc, rejects_corrupt_fields)
{
    pga_toc a, b;
    sf_buf x = SF_BUF_INIT;
    sf_error err = {0};
    size_t count_at;
    make_toc(&a, 14, PGA_FMT_CUSTOM);
    serialize(&a, &x);
    /* magic+version+sizes 11, compression 5, date 7*5, dbname 5+5, server version 5+5, NULL 5 */
    count_at = 11 + 5 + 35 + 10 + 10 + 5;

    x.ptr[0] = 'X';
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert_str_eq(err.msg, "toc.dat: offset 0: not a pg_dump archive (no PGDMP magic)");
    x.ptr[0] = 'P';

    x.ptr[10] = 5; /* format 5 never appears in a file */
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "offset 10: unknown archive format code 5"), "%s", err.msg);
    x.ptr[10] = PGA_FMT_CUSTOM;
    cr_assert_eq(parse(&b, &x, PGA_FMT_TAR, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "header says custom format, expected tar"), "%s", err.msg);

    x.ptr[8] = 0; /* int size */
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "offset 8: unsupported integer size 0"), "%s", err.msg);
    x.ptr[8] = 4;

    x.ptr[11] = 0;
    x.ptr[12] = 10; /* compression 10 */
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "offset 11: invalid compression level 10"), "%s", err.msg);
    x.ptr[11] = 1;
    x.ptr[12] = 1;

    cr_assert_eq((unsigned char)x.ptr[count_at], 0, "count sign at %zu", count_at);
    cr_assert_eq(x.ptr[count_at + 1], 3);
    x.ptr[count_at] = 1; /* negative entry count */
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "negative TOC entry count -3"), "%s", err.msg);
    x.ptr[count_at] = 2;
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "bad sign byte 2 (reading the TOC entry count)"), "%s", err.msg);
    x.ptr[count_at] = 0;
    x.ptr[count_at + 4] = 0x7f; /* 2^31 - ... entries: runs out of input */
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "unexpected end of file (reading the dump id of TOC entry 4 of"), "%s", err.msg);
    x.ptr[count_at + 4] = 0;

    /* The last byte group is entry 3's offset: flag 2 -> 9 */
    x.ptr[x.len - 9] = 9;
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "unexpected data offset flag 9"), "%s", err.msg);
    x.ptr[x.len - 9] = PGA_OFF_SET;
    cr_assert_eq(parse(&b, &x, 0, &err), 0, "%s", err.msg);
    pga_toc_free(&b);

    /* Two entries with one dump id. */
    a.e[1].dump_id = a.e[0].dump_id;
    sf_buf_clear(&x);
    serialize(&a, &x);
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "TOC lists entry 100 twice"), "%s", err.msg);
    a.e[1].dump_id = -4;
    sf_buf_clear(&x);
    serialize(&a, &x);
    cr_assert_eq(parse(&b, &x, 0, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "dump id -4 out of range"), "%s", err.msg);
    pga_toc_free(&a);
    sf_buf_free(&x);
}

Test(pgarchive_toc, offsets_that_do_not_fit_are_refused_on_write)
{
    pga_toc a;
    sf_buf x = SF_BUF_INIT;
    sf_error err = {0};
    make_toc(&a, 14, PGA_FMT_CUSTOM);
    a.off_size = 4;
    cr_assert_eq(pga_toc_write_entries(&a, &x, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "does not fit the archive's 4-byte offsets"), "%s", err.msg);
    pga_toc_free(&a);
    sf_buf_free(&x);
}

Test(pgarchive_detect, by_magic_bytes)
{
    unsigned char h[1024];
    unsigned long sum = 0;
    memset(h, 0, sizeof(h));
    cr_assert_eq(sf_mask_detect_bytes((const unsigned char *)"PGDMP\1\16", 7), SF_MASK_FORMAT_CUSTOM);
    cr_assert_eq(sf_mask_detect_bytes((const unsigned char *)"PGDM", 4), SF_MASK_FORMAT_PLAIN);
    cr_assert_eq(sf_mask_detect_bytes((const unsigned char *)"--\n-- PostgreSQL", 16), SF_MASK_FORMAT_PLAIN);
    memcpy(h, "toc.dat", 7);
    memcpy(h + 100, "0000600", 7);
    memcpy(h + 124, "00000004000", 11);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06lo", sum);
    cr_assert_eq(sf_mask_detect_bytes(h, 512), SF_MASK_FORMAT_TAR);
    cr_assert_eq(sf_mask_detect_bytes(h, 511), SF_MASK_FORMAT_PLAIN, "short header");
    h[0] = 'T'; /* checksum no longer matches */
    cr_assert_eq(sf_mask_detect_bytes(h, 512), SF_MASK_FORMAT_PLAIN);
}

Test(pgarchive_detect, paths)
{
    char dir[] = "/tmp/sf-detect-XXXXXX", p[256];
    sf_mask_format f = SF_MASK_FORMAT_AUTO;
    sf_error err = {0};
    FILE *fp;
    cr_assert(mkdtemp(dir));
    cr_assert_eq(sf_mask_detect_path(&f, dir, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "is a directory without toc.dat"), "%s", err.msg);
    snprintf(p, sizeof(p), "%s/toc.dat", dir);
    fp = fopen(p, "w");
    fputs("PGDMP", fp);
    fclose(fp);
    cr_assert_eq(sf_mask_detect_path(&f, dir, &err), 0);
    cr_assert_eq(f, SF_MASK_FORMAT_DIRECTORY);
    cr_assert_eq(sf_mask_detect_path(&f, p, &err), 0);
    cr_assert_eq(f, SF_MASK_FORMAT_CUSTOM);
    unlink(p);
    rmdir(dir);
    cr_assert_eq(sf_mask_detect_path(&f, p, &err), SF_EIO);
    cr_assert(strstr(err.msg, "cannot open '") && strstr(err.msg, "No such file or directory"), "%s", err.msg);
}

/* ---- zlib --------------------------------------------------------------- */

static int buf_sink(void *ud, const void *p, size_t n, sf_error *err)
{
    (void)err;
    return sf_buf_add(ud, p, n);
}

static void make_text(sf_buf *b, size_t n)
{
    uint32_t x = 12345;
    while (b->len < n) {
        x = x * 1103515245u + 12345u;
        sf_buf_addf(b, "%u\tname %u\t%s\n", x % 1000, x >> 20, (x & 8) ? "\\N" : "a\\tb");
    }
}

Test(pgarchive_zlib, round_trips_in_odd_pieces)
{
    int modes[] = {PGA_Z_NONE, PGA_Z_ZLIB, PGA_Z_GZIP};
    sf_buf text = SF_BUF_INIT;
    make_text(&text, 700000);
    for (int m = 0; m < 3; m++) {
        sf_buf packed = SF_BUF_INIT, back = SF_BUF_INIT;
        sf_error err = {0};
        pga_zw w;
        pga_zr r;
        size_t off = 0, step = 1;
        cr_assert_eq(pga_zw_init(&w, modes[m], m == 1 ? 9 : -1, buf_sink, &packed, &err), 0);
        while (off < text.len) {
            size_t k = step < text.len - off ? step : text.len - off;
            cr_assert_eq(pga_zw_write(&w, text.ptr + off, k, &err), 0);
            off += k;
            step = step * 3 + 1;
        }
        cr_assert_eq(pga_zw_finish(&w, &err), 0);
        pga_zw_free(&w);
        if (modes[m] == PGA_Z_NONE) {
            cr_assert_eq(packed.len, text.len);
            cr_assert(memcmp(packed.ptr, text.ptr, text.len) == 0);
        } else {
            cr_assert_lt(packed.len, text.len / 2);
            cr_assert_eq(pga_zr_init(&r, modes[m], &err), 0);
            for (off = 0; off < packed.len; off += 7)
                cr_assert_eq(pga_zr_feed(&r, packed.ptr + off, packed.len - off < 7 ? packed.len - off : 7, buf_sink,
                                         &back, &err), 0, "%s", err.msg);
            cr_assert_eq(pga_zr_finish(&r, &err), 0);
            pga_zr_free(&r);
            cr_assert_eq(back.len, text.len);
            cr_assert(memcmp(back.ptr, text.ptr, text.len) == 0);
            /* truncated */
            sf_buf_clear(&back);
            cr_assert_eq(pga_zr_init(&r, modes[m], &err), 0);
            cr_assert_eq(pga_zr_feed(&r, packed.ptr, packed.len - 3, buf_sink, &back, &err), 0);
            cr_assert_eq(pga_zr_finish(&r, &err), SF_EFORMAT);
            cr_assert(strstr(err.msg, "zlib: ") && strstr(err.msg, "truncated"), "%s", err.msg);
            pga_zr_free(&r);
            /* corrupt */
            packed.ptr[packed.len / 2] ^= 0x55;
            packed.ptr[packed.len / 2 + 1] ^= 0x55;
            cr_assert_eq(pga_zr_init(&r, modes[m], &err), 0);
            int rc = pga_zr_feed(&r, packed.ptr, packed.len, buf_sink, &back, &err);
            if (rc == 0)
                rc = pga_zr_finish(&r, &err);
            cr_assert_eq(rc, SF_EFORMAT);
            cr_assert(strncmp(err.msg, "zlib: ", 6) == 0, "%s", err.msg);
            pga_zr_free(&r);
        }
        sf_buf_free(&packed);
        sf_buf_free(&back);
    }
    sf_buf_free(&text);
}

Test(pgarchive_zlib, gzip_members_concatenate)
{
    sf_buf packed = SF_BUF_INIT, back = SF_BUF_INIT;
    sf_error err = {0};
    pga_zw w;
    pga_zr r;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pga_zw_init(&w, PGA_Z_GZIP, 1, buf_sink, &packed, &err), 0);
        cr_assert_eq(pga_zw_write(&w, i ? "two\n" : "one\n", 4, &err), 0);
        cr_assert_eq(pga_zw_finish(&w, &err), 0);
        pga_zw_free(&w);
    }
    cr_assert_eq(pga_zr_init(&r, PGA_Z_GZIP, &err), 0);
    cr_assert_eq(pga_zr_feed(&r, packed.ptr, packed.len, buf_sink, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(pga_zr_finish(&r, &err), 0);
    cr_assert_str_eq(back.ptr, "one\ntwo\n");
    pga_zr_free(&r);
    /* A zlib stream does not continue. */
    sf_buf_clear(&packed);
    cr_assert_eq(pga_zw_init(&w, PGA_Z_ZLIB, -1, buf_sink, &packed, &err), 0);
    cr_assert_eq(pga_zw_write(&w, "x\n", 2, &err), 0);
    cr_assert_eq(pga_zw_finish(&w, &err), 0);
    pga_zw_free(&w);
    sf_buf_add(&packed, "junk", 4);
    cr_assert_eq(pga_zr_init(&r, PGA_Z_ZLIB, &err), 0);
    cr_assert_eq(pga_zr_feed(&r, packed.ptr, packed.len, buf_sink, &back, &err), SF_EFORMAT);
    cr_assert_str_eq(err.msg, "zlib: data after the end of the compressed stream");
    pga_zr_free(&r);
    sf_buf_free(&packed);
    sf_buf_free(&back);
}

/* ---- COPY pump ------------------------------------------------------------ */

static int upper_line(void *table, uint64_t lineno, const char *line, size_t len, sf_buf *out, sf_error *err)
{
    (void)table;
    if (len >= 4 && memcmp(line, "FAIL", 4) == 0)
        return sf_error_set(err, SF_EFORMAT, "line %llu: refused", (unsigned long long)lineno);
    for (size_t i = 0; i < len; i++)
        sf_buf_addc(out, (char)((line[i] >= 'a' && line[i] <= 'z') ? line[i] - 32 : line[i]));
    return 0;
}

static const pga_ops pump_ops = {NULL, 1, NULL, NULL, upper_line, NULL, NULL, NULL, NULL};

Test(pgarchive_copy, splits_lines_across_pieces_and_passes_the_terminator)
{
    const char *in = "ab\tc\nxyz ünï\n\\N\tq\n\\.\n\nafter\n";
    const char *want = "AB\tC\nXYZ üNï\n\\N\tQ\n\\.\n\nafter\n";
    for (size_t step = 1; step <= strlen(in); step++) {
        sf_buf out = SF_BUF_INIT;
        sf_error err = {0};
        pga_copy c;
        pga_copy_init(&c, &pump_ops, NULL, buf_sink, &out);
        for (size_t off = 0; off < strlen(in); off += step)
            cr_assert_eq(pga_copy_feed(&c, in + off, strlen(in) - off < step ? strlen(in) - off : step, &err), 0);
        cr_assert_eq(pga_copy_finish(&c, &err), 0);
        cr_assert_str_eq(out.ptr, want, "step %zu", step);
        pga_copy_free(&c);
        sf_buf_free(&out);
    }
}

/* The batched hook: each line upper-cased, then its own end; records the line numbers it was given. */
static uint64_t lines_seen[256];
static size_t nlines_seen;
static int upper_lines(void *table, uint64_t lineno, const sf_mask_line *lines, size_t n, sf_buf *out, sf_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = upper_line(table, lineno + i, lines[i].ptr, lines[i].len, out, err);
        if (rc < 0)
            return rc;
        if (nlines_seen < 256)
            lines_seen[nlines_seen++] = lineno + i;
        sf_buf_add(out, lines[i].ptr + lines[i].len, lines[i].eol);
    }
    return 0;
}

static const pga_ops batch_ops = {NULL, 1, NULL, NULL, upper_line, NULL, NULL, NULL, upper_lines};

/* With a lines hook, rows go in batches (at most PGA_COPY_BATCH, never past a piece) with the same bytes and line numbers. */
Test(pgarchive_copy, batched_rows_equal_line_at_a_time)
{
    sf_buf in = SF_BUF_INIT;
    for (int i = 1; i <= 150; i++)
        sf_buf_addf(&in, "row %d\tx%s\n", i, i % 17 ? "" : "\r");
    sf_buf_adds(&in, "\\.\nafter\n");
    for (size_t step = 1; step <= in.len; step += step < 40 ? 1 : 97) {
        sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
        sf_error err = {0};
        pga_copy c;
        pga_copy_init(&c, &pump_ops, NULL, buf_sink, &a);
        for (size_t off = 0; off < in.len; off += step)
            cr_assert_eq(pga_copy_feed(&c, in.ptr + off, in.len - off < step ? in.len - off : step, &err), 0);
        cr_assert_eq(pga_copy_finish(&c, &err), 0);
        pga_copy_free(&c);
        nlines_seen = 0;
        pga_copy_init(&c, &batch_ops, NULL, buf_sink, &b);
        for (size_t off = 0; off < in.len; off += step)
            cr_assert_eq(pga_copy_feed(&c, in.ptr + off, in.len - off < step ? in.len - off : step, &err), 0);
        cr_assert_eq(pga_copy_finish(&c, &err), 0);
        pga_copy_free(&c);
        cr_assert_str_eq(b.ptr, a.ptr, "step %zu", step);
        for (size_t i = 0; i < nlines_seen; i++)
            cr_assert(lines_seen[i] >= 1 && lines_seen[i] <= 150 && (i == 0 || lines_seen[i] > lines_seen[i - 1]),
                      "step %zu: line numbers out of order", step);
        if (step >= in.len)
            cr_assert_eq(nlines_seen, 150, "one piece: every row through the batched hook");
        sf_buf_free(&a);
        sf_buf_free(&b);
    }
    /* an error in a batch names its line */
    {
        sf_buf out = SF_BUF_INIT;
        sf_error err = {0};
        pga_copy c;
        pga_copy_init(&c, &batch_ops, NULL, buf_sink, &out);
        cr_assert_eq(pga_copy_feed(&c, "a\nb\nc\nFAIL\n", 11, &err), SF_EFORMAT);
        cr_assert_str_eq(err.msg, "line 4: refused");
        pga_copy_free(&c);
        sf_buf_free(&out);
    }
    sf_buf_free(&in);
}

Test(pgarchive_copy, errors_name_the_line)
{
    sf_buf out = SF_BUF_INIT;
    sf_error err = {0};
    pga_copy c;
    pga_copy_init(&c, &pump_ops, NULL, buf_sink, &out);
    cr_assert_eq(pga_copy_feed(&c, "a\nb\nFAIL\n", 9, &err), SF_EFORMAT);
    cr_assert_str_eq(err.msg, "line 3: refused");
    pga_copy_free(&c);
    pga_copy_init(&c, &pump_ops, NULL, buf_sink, &out);
    cr_assert_eq(pga_copy_feed(&c, "a\nb", 3, &err), 0);
    cr_assert_eq(pga_copy_finish(&c, &err), SF_EFORMAT);
    cr_assert(strstr(err.msg, "table data ends inside line 2"), "%s", err.msg);
    pga_copy_free(&c);
    sf_buf_free(&out);
}

/* ---- runner ----------------------------------------------------------------- */

typedef struct rctx {
    sf_buf out;
    int fail_at;
    int dropped;
} rctx;

typedef struct runit {
    pga_unit u;
    int n;
    char res[32];
} runit;

static int r_work(void *ctx, pga_unit *u, sf_error *err)
{
    rctx *c = ctx;
    runit *ru = (runit *)u;
    usleep((useconds_t)((ru->n * 7919) % 5) * 300);
    if (ru->n == c->fail_at)
        return sf_error_set(err, SF_EFORMAT, "unit %d failed", ru->n);
    snprintf(ru->res, sizeof(ru->res), "%d,", ru->n * ru->n);
    return 0;
}

static int r_emit(void *ctx, pga_unit *u, sf_error *err)
{
    rctx *c = ctx;
    runit *ru = (runit *)u;
    (void)err;
    return sf_buf_adds(&c->out, ru->u.work ? ru->res : "raw,");
}

static void r_drop(void *ctx, pga_unit *u)
{
    ((rctx *)ctx)->dropped++;
    free(u);
}

static int run_units(int jobs, int n, int fail_at, sf_buf *res, sf_error *err, int *dropped)
{
    rctx c = {SF_BUF_INIT, fail_at, 0};
    pga_runner r;
    int rc = pga_runner_init(&r, jobs, r_work, r_emit, r_drop, &c, err);
    for (int i = 0; i < n && rc == 0; i++) {
        runit *u = calloc(1, sizeof(*u));
        u->n = i;
        u->u.work = i % 5 != 4;
        rc = pga_runner_add(&r, &u->u, err);
    }
    if (rc == 0)
        rc = pga_runner_finish(&r, err);
    pga_runner_free(&r);
    sf_buf_set(res, c.out.ptr, c.out.len);
    sf_buf_free(&c.out);
    *dropped = c.dropped;
    return rc;
}

Test(pgarchive_run, output_order_is_the_same_for_any_job_count)
{
    sf_buf base = SF_BUF_INIT;
    sf_error err = {0};
    int dropped;
    cr_assert_eq(run_units(1, 200, -1, &base, &err, &dropped), 0);
    cr_assert_eq(dropped, 200);
    for (int jobs = 2; jobs <= 5; jobs++) {
        sf_buf got = SF_BUF_INIT;
        cr_assert_eq(run_units(jobs, 200, -1, &got, &err, &dropped), 0, "%s", err.msg);
        cr_assert_str_eq(got.ptr, base.ptr, "jobs %d", jobs);
        cr_assert_eq(dropped, 200);
        sf_buf_free(&got);
    }
    sf_buf_free(&base);
}

Test(pgarchive_run, the_first_failing_unit_in_order_stops_the_run)
{
    for (int jobs = 1; jobs <= 4; jobs++) {
        sf_buf got = SF_BUF_INIT;
        sf_error err = {0};
        int dropped;
        cr_assert_eq(run_units(jobs, 100, 37, &got, &err, &dropped), SF_EFORMAT);
        cr_assert_str_eq(err.msg, "unit 37 failed");
        cr_assert(strstr(got.ptr, "1296,") && !strstr(got.ptr, "1369,"), "jobs %d emitted past the failure", jobs);
        cr_assert_eq(dropped, jobs == 1 ? 38 : dropped, "inline mode stops adding");
        sf_buf_free(&got);
    }
}

/* ---- pieces --------------------------------------------------------------- */

/* Compress text as pieces of `piece` bytes the way workers do and assemble the container. */
static void assemble(int zmode, int level, const sf_buf *text, size_t piece, sf_buf *out)
{
    unsigned char z[10];
    uint32_t check = pga_z_check_init(zmode);
    size_t n = pga_z_header(zmode, level, z);
    sf_error err = {0};
    sf_buf_add(out, z, n);
    for (size_t off = 0; off < text->len || off == 0; off += piece) {
        size_t k = text->len - off < piece ? text->len - off : piece;
        int last = off + k >= text->len;
        pga_zw w;
        cr_assert_eq(pga_zw_init(&w, PGA_Z_RAW, level, buf_sink, out, &err), 0);
        cr_assert_eq(pga_zw_write(&w, text->ptr + off, k, &err), 0);
        cr_assert_eq(last ? pga_zw_finish(&w, &err) : pga_zw_finish_open(&w, &err), 0);
        pga_zw_free(&w);
        check = pga_z_check_combine(zmode, check, pga_z_check(zmode, pga_z_check_init(zmode), text->ptr + off, k), k);
        if (last)
            break;
    }
    n = pga_z_trailer(zmode, check, text->len, z);
    sf_buf_add(out, z, n);
}

Test(pgarchive_piece, one_piece_is_exactly_what_deflate_writes)
{
    sf_buf text = SF_BUF_INIT;
    make_text(&text, 300000);
    for (int m = PGA_Z_ZLIB; m <= PGA_Z_GZIP; m++) {
        for (int level = -1; level <= 9; level++) {
            sf_buf whole = SF_BUF_INIT, pieced = SF_BUF_INIT;
            sf_error err = {0};
            pga_zw w;
            if (level == 0)
                continue;
            cr_assert_eq(pga_zw_init(&w, m, level, buf_sink, &whole, &err), 0);
            cr_assert_eq(pga_zw_write(&w, text.ptr, text.len, &err), 0);
            cr_assert_eq(pga_zw_finish(&w, &err), 0);
            pga_zw_free(&w);
            assemble(m, level, &text, text.len + 1, &pieced);
            cr_assert_eq(whole.len, pieced.len, "mode %d level %d", m, level);
            cr_assert(memcmp(whole.ptr, pieced.ptr, whole.len) == 0, "mode %d level %d", m, level);
            sf_buf_free(&whole);
            sf_buf_free(&pieced);
        }
    }
    sf_buf_free(&text);
}

Test(pgarchive_piece, many_pieces_inflate_to_the_text)
{
    sf_buf text = SF_BUF_INIT;
    make_text(&text, 200000);
    for (int m = PGA_Z_ZLIB; m <= PGA_Z_GZIP; m++) {
        size_t sizes[] = {1, 777, 65536, 100000};
        for (size_t i = 0; i < 4; i++) {
            sf_buf packed = SF_BUF_INIT, back = SF_BUF_INIT;
            sf_error err = {0};
            pga_zr r;
            assemble(m, 6, &text, sizes[i] < 777 ? 4999 : sizes[i], &packed);
            cr_assert_eq(pga_zr_init(&r, m, &err), 0);
            cr_assert_eq(pga_zr_feed(&r, packed.ptr, packed.len, buf_sink, &back, &err), 0, "%s", err.msg);
            cr_assert_eq(pga_zr_finish(&r, &err), 0, "mode %d piece %zu: %s", m, sizes[i], err.msg);
            pga_zr_free(&r);
            cr_assert_eq(back.len, text.len);
            cr_assert(memcmp(back.ptr, text.ptr, text.len) == 0);
            sf_buf_free(&packed);
            sf_buf_free(&back);
        }
    }
    sf_buf_free(&text);
}

/* Splitter: pieces end at line ends, never after "\.", line numbers run on. */
typedef struct capture {
    sf_buf all;
    uint64_t next_line;
    int pieces, lasts;
} capture;

static int cap_line(void *table, uint64_t lineno, const char *line, size_t len, sf_buf *out, sf_error *err)
{
    capture *cp = table;
    (void)err;
    cr_assert_eq(lineno, cp->next_line, "line numbers run on across pieces");
    cp->next_line++;
    return sf_buf_add(out, line, len);
}

static int cap_begin(void *ud, const char *s, size_t n, void **table, int *identity, sf_error *err)
{
    (void)s, (void)n, (void)err;
    *table = ud;
    *identity = 0;
    return 0;
}

static int cap_end(void *ud, void *table, sf_error *err)
{
    (void)ud, (void)table, (void)err;
    return 0;
}

static void cap_abort(void *ud, void *table)
{
    (void)ud, (void)table;
}

static int cap_work(void *ctx, pga_unit *u, sf_error *err)
{
    pga_piece *p = (pga_piece *)u;
    capture *cp = ((pga_job *)ctx)->ops->ud;
    cr_assert(p->text.len == 0 || p->text.ptr[p->text.len - 1] == '\n' || p->last, "piece ends at a line end");
    cp->pieces++;
    cp->lasts += p->last;
    return pga_piece_work(ctx, p, NULL, err);
}

static int cap_emit(void *ctx, pga_unit *u, sf_error *err)
{
    pga_piece *p = (pga_piece *)u;
    capture *cp = ((pga_job *)ctx)->ops->ud;
    (void)err;
    pga_spool_drain(&p->spool, buf_sink, &cp->all, err);
    if (p->k > 0)
        p->table = NULL; /* the hooks' table is the capture, not owned */
    return 0;
}

static void cap_drop(void *ctx, pga_unit *u)
{
    pga_piece_free(ctx, (pga_piece *)u);
}

Test(pgarchive_piece, splitter_cuts_at_lines_and_keeps_the_terminator_whole)
{
    capture cp = {SF_BUF_INIT, 1, 0, 0};
    pga_ops ops = {&cp, 1, NULL, cap_begin, cap_line, NULL, cap_end, cap_abort, NULL};
    pga_job j;
    pga_plan plan = {&cp, 0, 1, 0};
    pga_entry e;
    pga_runner r;
    pga_split s;
    sf_buf text = SF_BUF_INIT;
    sf_error err = {0};
    memset(&j, 0, sizeof(j));
    memset(&e, 0, sizeof(e));
    e.copy_stmt.s = (char *)"COPY t (a) FROM stdin;\n";
    e.copy_stmt.len = strlen(e.copy_stmt.s);
    j.ops = &ops;
    j.toc.e = &e;
    j.toc.n = 1;
    j.plans = &plan;
    make_text(&text, 50000);
    sf_buf_adds(&text, "\\.\nafter-one\nafter-two\n");
    setenv("STAGEFORK_ARCHIVE_PIECE_BYTES", "300", 1);
    /* one job: the hooks check line order, which only holds run in sequence */
    cr_assert_eq(pga_runner_init(&r, 1, cap_work, cap_emit, cap_drop, &j, &err), 0);
    pga_split_init(&s, &j, &r, pga_tstate_new(0, PGA_Z_NONE, 0));
    for (size_t off = 0; off < text.len; off += 97)
        cr_assert_eq(pga_split_feed(&s, text.ptr + off, text.len - off < 97 ? text.len - off : 97, &err), 0);
    cr_assert_eq(pga_split_finish(&s, &err), 0, "%s", err.msg);
    cr_assert_eq(pga_runner_finish(&r, &err), 0, "%s", err.msg);
    pga_runner_free(&r);
    pga_split_free(&s);
    unsetenv("STAGEFORK_ARCHIVE_PIECE_BYTES");
    cr_assert_gt(cp.pieces, 100);
    cr_assert_eq(cp.lasts, 1);
    cr_assert_eq(cp.all.len, text.len);
    cr_assert(memcmp(cp.all.ptr, text.ptr, text.len) == 0, "pieces re-assemble to the text");
    sf_buf_free(&cp.all);
    sf_buf_free(&text);
}
