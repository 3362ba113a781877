/* sf_mask_archive: the masker plugged into the archive drivers as their table hooks. */
#include <string.h>
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
    pga_ops ops = {m, 0, m_ddl, m_begin, m_line, m_rows, m_end, m_abort};
    pga_stats st = {0, 0};
    int rc = pga_rewrite(&ops, fmt, in, out, jobs, &st, err);
    if (rc == 0) { /* sf_mask_run warns about absent policy tables afterwards */
        m->bytes_in += st.bytes_in;
        m->bytes_out += st.bytes_out;
    }
    return rc;
}
