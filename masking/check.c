/* --check: every column of a dump with the rule that applies to it, masking nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "maskerint.h"
#include "pgarchive.h"
#include "sqlident.h"

typedef struct coverage {
    sf_buf *out;
    size_t unruled;
    sf_buf first; /* the first sensitive column without a rule */
} coverage;

static void column_name(sf_buf *b, const char *schema, const char *table, const char *col)
{
    sf_buf_clear(b);
    sf_ident_quote(b, schema, strlen(schema));
    sf_buf_addc(b, '.');
    sf_ident_quote(b, table, strlen(table));
    sf_buf_addc(b, '.');
    sf_ident_quote(b, col, strlen(col));
}

/*
 * One table: cols/types are the columns its data carries; `generated` (may
 * be NULL) lists columns only the DDL has.
 */
static int check_table(sf_masker *m, coverage *cv, const char *schema, const char *table, const char *const *cols,
                       const char *const *typetext, size_t ncols, const char *const *generated,
                       const char *const *gentypes, size_t ngenerated)
{
    sf_coltype *types = calloc(ncols ? ncols : 1, sizeof(*types));
    sf_tableplan *plan = NULL;
    sf_buf name = SF_BUF_INIT;
    sf_error err = {0};
    int rc;
    if (!types)
        return sf_error_set(&m->err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < ncols; i++) {
        int arr = 0;
        const char *base = typetext[i] ? sf_catalog_resolve_type(&m->cat, typetext[i], &arr) : "";
        sf_coltype_parse(&types[i], base, strlen(base));
        if (arr)
            types[i].is_array = 1;
    }
    rc = sf_tableplan_new(&plan, m->pol, schema, table, cols, types, ncols, 0, &err);
    free(types);
    if (rc < 0)
        return sf_error_copy(&m->err, &err);
    for (size_t i = 0; i < ncols; i++) {
        const char *rule = sf_tableplan_rule(plan, i);
        column_name(&name, schema, table, cols[i]);
        sf_buf_addf(cv->out, "%s\t%s\t", name.ptr, typetext[i] ? typetext[i] : "unknown");
        if (rule) {
            sf_buf_adds(cv->out, rule);
        } else if (sf_tableplan_sensitive(plan, i)) {
            sf_buf_adds(cv->out, "sensitive, no rule");
            if (cv->unruled++ == 0)
                sf_buf_set(&cv->first, name.ptr, name.len);
        } else {
            sf_buf_adds(cv->out, "not sensitive");
        }
        sf_buf_addc(cv->out, '\n');
    }
    for (size_t i = 0; i < ngenerated; i++) {
        column_name(&name, schema, table, generated[i]);
        sf_buf_addf(cv->out, "%s\t%s\tgenerated (computed on restore)\n", name.ptr, gentypes[i]);
    }
    sf_tableplan_free(plan);
    sf_buf_free(&name);
    return 0;
}

static int check_catalog(sf_masker *m, coverage *cv)
{
    for (size_t k = 0; k < m->cat.ntables; k++) {
        const sf_cattable *t = m->cat.tables[k];
        size_t n = t->ncols ? t->ncols : 1, nc = 0, ng = 0;
        const char **cols = calloc(n, sizeof(*cols)), **types = calloc(n, sizeof(*types));
        const char **gen = calloc(n, sizeof(*gen)), **gtypes = calloc(n, sizeof(*gtypes));
        int rc;
        if (!cols || !types || !gen || !gtypes) {
            free(cols);
            free(types);
            free(gen);
            free(gtypes);
            return sf_error_set(&m->err, SF_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < t->ncols; i++) {
            if (t->cols[i].generated) {
                gen[ng] = t->cols[i].name;
                gtypes[ng++] = t->cols[i].type;
            } else {
                cols[nc] = t->cols[i].name;
                types[nc++] = t->cols[i].type;
            }
        }
        rc = check_table(m, cv, t->schema, t->name, cols, types, nc, gen, gtypes, ng);
        free(cols);
        free(types);
        free(gen);
        free(gtypes);
        if (rc < 0)
            return rc;
    }
    /* tables whose data the dump has but whose CREATE TABLE it lacks (data-only dumps) */
    for (size_t k = 0; k < m->nseen; k++) {
        const sf_seen_table *s = &m->seen[k];
        const char **types;
        int rc;
        if (sf_catalog_table(&m->cat, s->schema, s->name))
            continue;
        if (!(types = calloc(s->ncols ? s->ncols : 1, sizeof(*types))))
            return sf_error_set(&m->err, SF_ENOMEM, "out of memory");
        rc = check_table(m, cv, s->schema, s->name, (const char *const *)s->cols, types, s->ncols, NULL, NULL, 0);
        free(types);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sf_mask_check(sf_masker *m, sf_mask_format fmt, const char *in, sf_buf *out)
{
    unsigned char head[512];
    size_t nhead = 0;
    int is_stdin = !in || strcmp(in, "-") == 0, rc;
    FILE *fin;
    coverage cv = {out, 0, SF_BUF_INIT};
    sf_error_clear(&m->err);
    if (is_stdin) {
        fin = stdin;
        if (fmt == SF_MASK_FORMAT_AUTO) {
            nhead = fread(head, 1, sizeof(head), stdin);
            fmt = sf_mask_detect_bytes(head, nhead);
        }
    } else {
        if (fmt == SF_MASK_FORMAT_AUTO && (rc = sf_mask_detect_path(&fmt, in, &m->err)) < 0)
            return rc;
        fin = NULL;
    }
    if (fmt != SF_MASK_FORMAT_PLAIN) {
        /* an archive: its TOC has the DDL and the COPY heads (issue #4) */
        if (nhead && fseeko(stdin, 0, SEEK_SET) != 0)
            return sf_error_set(&m->err, SF_EUSAGE, "standard input looks like a pg_dump %s archive but cannot "
                                "be rewound; pass --format %s", sf_mask_format_name(fmt), sf_mask_format_name(fmt));
        rc = sf_mask_archive_learn(m, fmt, is_stdin ? "-" : in, &m->err);
    } else {
        if (!fin && !(fin = fopen(in, "rb")))
            return sf_error_set(&m->err, SF_EIO, "cannot open '%s': %s", in, strerror(errno));
        rc = sf_plain_run(m, fin, head, nhead, NULL, 1, 1);
        if (fin != stdin)
            fclose(fin);
    }
    if (rc < 0)
        return rc;
    if ((rc = check_catalog(m, &cv)) < 0) {
        sf_buf_free(&cv.first);
        return rc;
    }
    sf_masker_warn_absent(m);
    if (cv.unruled && m->strict) {
        rc = sf_error_set(&m->err, SF_EPOLICY,
                          "strict mode: %zu sensitive column%s without a masking rule (first: %s)", cv.unruled,
                          cv.unruled == 1 ? "" : "s", cv.first.ptr);
    }
    sf_buf_free(&cv.first);
    return rc;
}
