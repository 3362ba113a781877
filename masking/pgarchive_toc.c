/* pg_dump archive header and TOC: reader and writer (pg_backup_archiver.c layout). */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgarchive_toc.h"

/* A string longer than this is corruption, not a real definition. */
#define STR_MAX ((size_t)1 << 30)
/* Strings are read in pieces so a huge bogus length on a short file fails
   before it allocates. */
#define STR_STEP ((size_t)1 << 20)

int pga_read_int(pga_in *in, int int_size, int32_t *out, const char *what, sf_error *err)
{
    unsigned char b[9];
    uint64_t mag = 0;
    uint64_t at = in->pos;
    int rc;
    if ((rc = pga_in_need(in, b, (size_t)int_size + 1, what, err)) < 0)
        return rc;
    for (int i = int_size; i >= 1; i--)
        mag = (mag << 8) | b[i];
    if (b[0] > 1)
        return pga_in_fail(in, at, SF_EFORMAT, err, "bad sign byte %u (reading %s)", b[0], what);
    if (mag > INT32_MAX)
        return pga_in_fail(in, at, SF_EFORMAT, err, "integer out of range (reading %s)", what);
    *out = b[0] ? -(int32_t)mag : (int32_t)mag;
    return 0;
}

int pga_put_int(sf_buf *b, int int_size, int32_t v)
{
    unsigned char tmp[9];
    uint64_t mag = v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v;
    tmp[0] = v < 0 ? 1 : 0;
    for (int i = 1; i <= int_size; i++) {
        tmp[i] = (unsigned char)(mag & 0xff);
        mag >>= 8;
    }
    return sf_buf_add(b, tmp, (size_t)int_size + 1);
}

static int read_str(pga_in *in, int int_size, pga_str *out, const char *what, sf_error *err)
{
    int32_t len;
    uint64_t at = in->pos;
    size_t have = 0;
    char *s = NULL;
    int rc;
    out->s = NULL;
    out->len = 0;
    if ((rc = pga_read_int(in, int_size, &len, what, err)) < 0)
        return rc;
    if (len < 0)
        return 0;
    if ((size_t)len > STR_MAX)
        return pga_in_fail(in, at, SF_EFORMAT, err, "string length %d too large (reading %s)", len, what);
    while (have < (size_t)len || !s) {
        size_t step = (size_t)len - have > STR_STEP ? STR_STEP : (size_t)len - have;
        char *ns = realloc(s, have + step + 1);
        if (!ns) {
            free(s);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        s = ns;
        if (step && (rc = pga_in_need(in, s + have, step, what, err)) < 0) {
            free(s);
            return rc;
        }
        have += step;
    }
    s[have] = '\0';
    out->s = s;
    out->len = have;
    return 0;
}

static int put_str(sf_buf *b, int int_size, const pga_str *s)
{
    int rc;
    if (!s->s)
        return pga_put_int(b, int_size, -1);
    if (s->len > INT32_MAX)
        return SF_ENOMEM;
    if ((rc = pga_put_int(b, int_size, (int32_t)s->len)) < 0)
        return rc;
    return sf_buf_add(b, s->s, s->len);
}

static void str_free(pga_str *s)
{
    free(s->s);
    s->s = NULL;
    s->len = 0;
}

int pga_str_eq(const pga_str *s, const char *lit)
{
    return s->s && s->len == strlen(lit) && memcmp(s->s, lit, s->len) == 0;
}

int pga_str_nonempty(const pga_str *s)
{
    return s->s && s->len > 0;
}

void pga_entry_label(const pga_entry *e, char *buf, size_t size)
{
    snprintf(buf, size, "TOC entry %d (%s%s%s%s%s)", e->dump_id, e->desc.s ? e->desc.s : "?",
             pga_str_nonempty(&e->nspace) ? " " : "", pga_str_nonempty(&e->nspace) ? e->nspace.s : "",
             e->tag.s ? " " : "", e->tag.s ? e->tag.s : "");
}

static void entry_free(pga_entry *e)
{
    pga_str *fields[] = {&e->tableoid, &e->oid, &e->tag, &e->desc, &e->defn, &e->drop_stmt,
                         &e->copy_stmt, &e->nspace, &e->tablespace, &e->tableam, &e->owner,
                         &e->with_oids, &e->filename};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        str_free(fields[i]);
    for (size_t i = 0; i < e->ndeps; i++)
        str_free(&e->deps[i]);
    free(e->deps);
    e->deps = NULL;
    e->ndeps = 0;
}

void pga_toc_free(pga_toc *toc)
{
    if (!toc)
        return;
    for (size_t i = 0; i < toc->n; i++)
        entry_free(&toc->e[i]);
    free(toc->e);
    free(toc->index);
    str_free(&toc->dbname);
    str_free(&toc->server_version);
    str_free(&toc->dump_version);
    memset(toc, 0, sizeof(*toc));
}

static const char *format_name(int f)
{
    switch (f) {
    case PGA_FMT_CUSTOM: return "custom";
    case PGA_FMT_TAR: return "tar";
    default: return "unknown";
    }
}

static int read_head(pga_toc *t, pga_in *in, int format, sf_error *err)
{
    unsigned char b[8];
    uint64_t at = in->pos;
    int rc;
    if ((rc = pga_in_need(in, b, 5, "the archive header", err)) < 0)
        return rc;
    if (memcmp(b, "PGDMP", 5) != 0)
        return pga_in_fail(in, at, SF_EFORMAT, err, "not a pg_dump archive (no PGDMP magic)");
    at = in->pos;
    if ((rc = pga_in_need(in, b, 3, "the archive version", err)) < 0)
        return rc;
    t->vmaj = b[0];
    t->vmin = b[1];
    t->vrev = b[2];
    t->version = PGA_VERSION(t->vmaj, t->vmin, t->vrev);
    if (t->version < PGA_VERSION_MIN || t->version > PGA_VERSION_MAX)
        return pga_in_fail(in, at, SF_EFORMAT, err,
                           "unsupported archive version %d.%d.%d (supported: 1.12 to 1.14, as written by "
                           "pg_dump 9.0 to 15%s)", t->vmaj, t->vmin, t->vrev,
                           t->version > PGA_VERSION_MAX && t->vmaj == 1 ? "; this one was written by a newer pg_dump" : "");
    at = in->pos;
    if ((rc = pga_in_need(in, b, 3, "the archive header", err)) < 0)
        return rc;
    t->int_size = b[0];
    t->off_size = b[1];
    t->format = b[2];
    if (t->int_size < 1 || t->int_size > 8)
        return pga_in_fail(in, at, SF_EFORMAT, err, "unsupported integer size %d", t->int_size);
    if (t->off_size < 1 || t->off_size > 16)
        return pga_in_fail(in, at + 1, SF_EFORMAT, err, "unsupported offset size %d", t->off_size);
    if (t->format != PGA_FMT_CUSTOM && t->format != PGA_FMT_TAR)
        return pga_in_fail(in, at + 2, SF_EFORMAT, err, "unknown archive format code %d", t->format);
    if (format && t->format != format)
        return pga_in_fail(in, at + 2, SF_EFORMAT, err, "header says %s format, expected %s",
                           format_name(t->format), format_name(format));
    at = in->pos;
    if ((rc = pga_read_int(in, t->int_size, &t->compression, "the compression level", err)) < 0)
        return rc;
    if (t->compression < -1 || t->compression > 9)
        return pga_in_fail(in, at, SF_EFORMAT, err, "invalid compression level %d", t->compression);
    for (int i = 0; i < 7; i++)
        if ((rc = pga_read_int(in, t->int_size, &t->tm[i], "the creation date", err)) < 0)
            return rc;
    if ((rc = read_str(in, t->int_size, &t->dbname, "the database name", err)) < 0 ||
        (rc = read_str(in, t->int_size, &t->server_version, "the server version", err)) < 0 ||
        (rc = read_str(in, t->int_size, &t->dump_version, "the pg_dump version", err)) < 0)
        return rc;
    return 0;
}

static int read_offset(pga_toc *t, pga_in *in, pga_entry *e, const char *what, sf_error *err)
{
    unsigned char b[17];
    uint64_t at = in->pos, v = 0;
    int rc;
    if ((rc = pga_in_need(in, b, (size_t)t->off_size + 1, what, err)) < 0)
        return rc;
    if (b[0] != PGA_OFF_NOT_SET && b[0] != PGA_OFF_SET && b[0] != PGA_OFF_NO_DATA)
        return pga_in_fail(in, at, SF_EFORMAT, err, "unexpected data offset flag %u (reading %s)", b[0], what);
    for (int i = t->off_size; i >= 1; i--) {
        if (i > 8 && b[i] != 0)
            return pga_in_fail(in, at, SF_EFORMAT, err, "data offset too large (reading %s)", what);
        if (i <= 8)
            v = (v << 8) | b[i];
    }
    e->data_state = b[0];
    e->data_pos = v;
    return 0;
}

static int cmp_index(const void *a, const void *b, void *toc)
{
    const pga_toc *t = toc;
    int32_t x = t->e[*(const int32_t *)a].dump_id, y = t->e[*(const int32_t *)b].dump_id;
    return x < y ? -1 : x > y;
}

static int build_index(pga_toc *t, pga_in *in, sf_error *err)
{
    if (t->n == 0)
        return 0;
    if (!(t->index = malloc(t->n * sizeof(*t->index))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        t->index[i] = (int32_t)i;
    qsort_r(t->index, t->n, sizeof(*t->index), cmp_index, t);
    for (size_t i = 1; i < t->n; i++)
        if (t->e[t->index[i]].dump_id == t->e[t->index[i - 1]].dump_id)
            return pga_in_fail(in, t->toc_start, SF_EFORMAT, err, "TOC lists entry %d twice",
                               t->e[t->index[i]].dump_id);
    return 0;
}

long pga_toc_find(const pga_toc *t, int32_t dump_id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int32_t id = t->e[t->index[mid]].dump_id;
        if (id == dump_id)
            return t->index[mid];
        if (id < dump_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int read_entry(pga_toc *t, pga_in *in, pga_entry *e, int32_t k, int32_t count, sf_error *err)
{
    char what[160];
    uint64_t at = in->pos;
    int rc;
#define WHAT(f) (snprintf(what, sizeof(what), "%s of TOC entry %d of %d", f, k + 1, count), what)
#define STR(field, name) \
    if ((rc = read_str(in, t->int_size, &e->field, WHAT(name), err)) < 0) \
        return rc
    if ((rc = pga_read_int(in, t->int_size, &e->dump_id, WHAT("the dump id"), err)) < 0)
        return rc;
    if (e->dump_id <= 0)
        return pga_in_fail(in, at, SF_EFORMAT, err, "TOC entry %d of %d: dump id %d out of range",
                           k + 1, count, e->dump_id);
    if ((rc = pga_read_int(in, t->int_size, &e->had_dumper, WHAT("the data flag"), err)) < 0)
        return rc;
    STR(tableoid, "the table oid");
    STR(oid, "the oid");
    STR(tag, "the tag");
    STR(desc, "the description");
    if ((rc = pga_read_int(in, t->int_size, &e->section, WHAT("the section"), err)) < 0)
        return rc;
    STR(defn, "the definition");
    STR(drop_stmt, "the drop statement");
    STR(copy_stmt, "the COPY statement");
    STR(nspace, "the schema");
    STR(tablespace, "the tablespace");
    if (t->version >= PGA_VERSION(1, 14, 0)) {
        STR(tableam, "the table access method");
    }
    STR(owner, "the owner");
    STR(with_oids, "the WITH OIDS flag");
    for (;;) {
        pga_str dep;
        pga_str *nd;
        if ((rc = read_str(in, t->int_size, &dep, WHAT("a dependency"), err)) < 0)
            return rc;
        if (!dep.s)
            break;
        if (!(nd = realloc(e->deps, (e->ndeps + 1) * sizeof(*nd)))) {
            str_free(&dep);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        e->deps = nd;
        e->deps[e->ndeps++] = dep;
    }
    if (t->format == PGA_FMT_CUSTOM) {
        if ((rc = read_offset(t, in, e, WHAT("the data offset"), err)) < 0)
            return rc;
    } else {
        STR(filename, "the data file name");
    }
    if (!e->desc.s)
        return pga_in_fail(in, at, SF_EFORMAT, err, "TOC entry %d has no description", e->dump_id);
#undef STR
#undef WHAT
    return 0;
}

int pga_toc_read(pga_toc *toc, pga_in *in, int format, sf_error *err)
{
    int32_t count;
    uint64_t at;
    int rc;
    memset(toc, 0, sizeof(*toc));
    if ((rc = read_head(toc, in, format, err)) < 0)
        goto fail;
    toc->toc_start = at = in->pos;
    if ((rc = pga_read_int(in, toc->int_size, &count, "the TOC entry count", err)) < 0)
        goto fail;
    if (count < 0) {
        rc = pga_in_fail(in, at, SF_EFORMAT, err, "negative TOC entry count %d", count);
        goto fail;
    }
    for (int32_t k = 0; k < count; k++) {
        if (toc->n == toc->cap) {
            size_t nc = toc->cap ? toc->cap * 2 : 64;
            pga_entry *ne = realloc(toc->e, nc * sizeof(*ne));
            if (!ne) {
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
                goto fail;
            }
            toc->e = ne;
            toc->cap = nc;
        }
        memset(&toc->e[toc->n], 0, sizeof(toc->e[0]));
        toc->n++;
        if ((rc = read_entry(toc, in, &toc->e[toc->n - 1], k, count, err)) < 0)
            goto fail;
    }
    toc->toc_end = in->pos;
    if ((rc = build_index(toc, in, err)) < 0)
        goto fail;
    return 0;
fail:
    pga_toc_free(toc);
    return rc;
}

int pga_toc_write_head(const pga_toc *t, sf_buf *b, sf_error *err)
{
    unsigned char h[8] = {'P', 'G', 'D', 'M', 'P', (unsigned char)t->vmaj, (unsigned char)t->vmin,
                          (unsigned char)t->vrev};
    unsigned char h2[3] = {(unsigned char)t->int_size, (unsigned char)t->off_size, (unsigned char)t->format};
    int rc = 0;
    rc = rc ? rc : sf_buf_add(b, h, sizeof(h));
    rc = rc ? rc : sf_buf_add(b, h2, sizeof(h2));
    rc = rc ? rc : pga_put_int(b, t->int_size, t->compression);
    for (int i = 0; i < 7; i++)
        rc = rc ? rc : pga_put_int(b, t->int_size, t->tm[i]);
    rc = rc ? rc : put_str(b, t->int_size, &t->dbname);
    rc = rc ? rc : put_str(b, t->int_size, &t->server_version);
    rc = rc ? rc : put_str(b, t->int_size, &t->dump_version);
    return rc < 0 ? sf_error_set(err, rc, "out of memory writing the archive header") : 0;
}

static int put_offset(const pga_toc *t, sf_buf *b, const pga_entry *e)
{
    unsigned char o[17];
    uint64_t v = e->data_pos;
    o[0] = (unsigned char)e->data_state;
    for (int i = 1; i <= t->off_size; i++) {
        o[i] = (unsigned char)(v & 0xff);
        v = i < 8 ? v >> 8 : 0;
    }
    if (v != 0)
        return SF_EFORMAT;
    return sf_buf_add(b, o, (size_t)t->off_size + 1);
}

int pga_toc_write_entries(const pga_toc *t, sf_buf *b, sf_error *err)
{
    int isz = t->int_size;
    int rc;
    if (t->n > INT32_MAX)
        return sf_error_set(err, SF_ENOMEM, "too many TOC entries");
    rc = pga_put_int(b, isz, (int32_t)t->n);
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        const pga_entry *e = &t->e[i];
        rc = rc ? rc : pga_put_int(b, isz, e->dump_id);
        rc = rc ? rc : pga_put_int(b, isz, e->had_dumper);
        rc = rc ? rc : put_str(b, isz, &e->tableoid);
        rc = rc ? rc : put_str(b, isz, &e->oid);
        rc = rc ? rc : put_str(b, isz, &e->tag);
        rc = rc ? rc : put_str(b, isz, &e->desc);
        rc = rc ? rc : pga_put_int(b, isz, e->section);
        rc = rc ? rc : put_str(b, isz, &e->defn);
        rc = rc ? rc : put_str(b, isz, &e->drop_stmt);
        rc = rc ? rc : put_str(b, isz, &e->copy_stmt);
        rc = rc ? rc : put_str(b, isz, &e->nspace);
        rc = rc ? rc : put_str(b, isz, &e->tablespace);
        if (t->version >= PGA_VERSION(1, 14, 0))
            rc = rc ? rc : put_str(b, isz, &e->tableam);
        rc = rc ? rc : put_str(b, isz, &e->owner);
        rc = rc ? rc : put_str(b, isz, &e->with_oids);
        for (size_t d = 0; d < e->ndeps; d++)
            rc = rc ? rc : put_str(b, isz, &e->deps[d]);
        rc = rc ? rc : pga_put_int(b, isz, -1);
        if (t->format == PGA_FMT_CUSTOM) {
            if (rc == 0 && put_offset(t, b, e) == SF_EFORMAT)
                return sf_error_set(err, SF_EFORMAT, "data offset %llu of TOC entry %d does not fit the "
                                    "archive's %d-byte offsets", (unsigned long long)e->data_pos,
                                    e->dump_id, t->off_size);
        } else {
            rc = rc ? rc : put_str(b, isz, &e->filename);
        }
    }
    return rc < 0 ? sf_error_set(err, rc, "out of memory writing the archive TOC") : 0;
}
