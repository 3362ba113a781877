/* sf_mask_archive: the masker plugged into the archive drivers as their table hooks. */
#include <string.h>
#include <stdlib.h>
#include "copy.h"
#include "maskerint.h"
#include "pgarchive.h"
#include "pgarchive_int.h"

static int m_ddl(void *ud, const char *sql, size_t len, int scs, sf_error *err)
{
    sf_masker *m = ud;
    int rc = sf_masker_ddl_scs(m, sql, len, scs);
    return rc < 0 ? sf_error_copy(err, sf_masker_error(m)) : 0;
}

static int m_begin(void *ud, const char *copy_stmt, size_t len, void **table, int *identity, sf_error *err)
{
    sf_masker *m = ud;
    sf_mask_table *t = NULL;
    if (sf_masker_table_begin(m, &t, copy_stmt, len) < 0)
        return sf_error_copy(err, sf_masker_error(m));
    *table = t;
    *identity = sf_mask_table_identity(t);
    return 0;
}

static int m_line(void *table, uint64_t lineno, const char *line, size_t len, sf_buf *out, sf_error *err)
{
    sf_mask_table *t = table;
    sf_mask_table_set_line(t, lineno);
    if (sf_mask_table_line(t, line, len, out) < 0)
        return sf_error_copy(err, sf_mask_table_error(t));
    return 0;
}

static int m_lines(void *table, uint64_t lineno, const sf_mask_line *lines, size_t n, sf_buf *out, sf_error *err)
{
    sf_mask_table *t = table;
    if (sf_mask_table_lines(t, lines, n, lineno, out) < 0)
        return sf_error_copy(err, sf_mask_table_error(t));
    return 0;
}

static void m_rows(void *table, uint64_t n)
{
    sf_mask_table_add_rows(table, n);
}

static int m_end(void *ud, void *table, sf_error *err)
{
    if (sf_mask_table_end(table) < 0)
        return sf_error_copy(err, sf_masker_error(ud));
    return 0;
}

static void m_abort(void *ud, void *table)
{
    (void)ud;
    sf_mask_table_abort(table);
}

int sf_mask_archive(sf_masker *m, sf_mask_format fmt, const char *in, const char *out, int jobs,
                    sf_error *err)
{
    pga_ops ops = {m, 0, m_ddl, m_begin, m_line, m_rows, m_end, m_abort, m_lines};
    pga_stats st = {0, 0};
    int rc = pga_rewrite(&ops, fmt, in, out, jobs, &st, err);
    if (rc == 0) { /* sf_mask_run warns about absent policy tables afterwards */
        m->bytes_in += st.bytes_in;
        m->bytes_out += st.bytes_out;
    }
    return rc;
}

/* --check: note the table a TABLE DATA entry fills, with its columns; mask nothing. */
static int l_begin(void *ud, const char *copy_stmt, size_t len, void **table, int *identity, sf_error *err)
{
    sf_masker *m = ud;
    sf_copyhead h;
    const sf_cattable *ct = NULL;
    const char **cols;
    size_t ncols;
    int rc;
    *table = NULL;
    *identity = 1;
    sf_copyhead_init(&h);
    if (sf_copyhead_parse(&h, copy_stmt, len, sf_catalog_default_schema(&m->cat), 1) != 0) {
        sf_copyhead_free(&h);
        return sf_error_set(err, SF_EFORMAT, "cannot read the COPY statement");
    }
    cols = h.cols;
    ncols = h.ncols;
    if (!h.has_list && (ct = sf_catalog_table(&m->cat, h.schema.ptr, h.table.ptr))) {
        if (!(cols = calloc(ct->ncols ? ct->ncols : 1, sizeof(*cols)))) {
            sf_copyhead_free(&h);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        ncols = 0;
        for (size_t i = 0; i < ct->ncols; i++)
            if (!ct->cols[i].generated)
                cols[ncols++] = ct->cols[i].name;
    }
    rc = sf_masker_note_table(m, h.schema.ptr, h.table.ptr, cols, ncols);
    if (ct)
        free(cols);
    sf_copyhead_free(&h);
    return rc < 0 ? sf_error_set(err, rc, "out of memory") : 0;
}

int sf_mask_archive_learn(sf_masker *m, sf_mask_format fmt, const char *in, sf_error *err)
{
    pga_ops ops = {m, 0, m_ddl, l_begin, m_line, m_rows, m_end, m_abort, m_lines};
    return pga_learn(&ops, fmt, in, err);
}
