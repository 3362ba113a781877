#ifndef SF_TESTS_SEED_UTIL_H
#define SF_TESTS_SEED_UTIL_H
/*
 * Helpers shared by test_seed.c and test_seed_pg.c: run a seed spec to COPY
 * text in memory, and read one column of one table back (unescaped).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/seed.h"

/* A column's values; NULL entries are SQL NULLs. */
typedef struct {
    size_t n;
    char **v;
} seed_colvals;

static inline void seed_colvals_free(seed_colvals *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
    c->n = 0;
    c->v = NULL;
}

/*
 * Open spec text, apply profiles ("" = none) and --set assignments
 * (NULL-terminated, may be NULL), seed, write. Returns the COPY text (free
 * it) or NULL with *err set (code and message).
 */
static inline char *seed_run(const char *yaml, const char *profiles, const char *const *sets, uint64_t seed,
                             sf_error *err)
{
    sf_seed *s = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int rc;
    memset(err, 0, sizeof(*err));
    if (sf_seed_open_mem(&s, "spec.yaml", yaml, strlen(yaml), err) < 0)
        return NULL;
    rc = profiles && *profiles ? sf_seed_use_profiles(s, profiles) : 0;
    for (size_t i = 0; !rc && sets && sets[i]; i++)
        rc = sf_seed_set(s, sets[i]);
    sf_seed_set_random(s, seed);
    if (!rc) {
        f = open_memstream(&text, &len);
        cr_assert_not_null(f);
        rc = sf_seed_write(s, f);
        fclose(f);
    }
    if (rc) {
        sf_error_copy(err, sf_seed_error(s));
        free(text);
        text = NULL;
    }
    sf_seed_free(s);
    return text;
}

static inline char *seed_unescape(const char *p, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    cr_assert_not_null(out);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len) {
            char e = p[++i];
            *o++ = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
        } else {
            *o++ = p[i];
        }
    }
    *o = '\0';
    return out;
}

/* Values of column `col` of the COPY block for `table` ("public.t"). */
static inline seed_colvals seed_column(const char *out, const char *table, const char *col)
{
    seed_colvals r = {0, NULL};
    char head[512];
    const char *p, *eol, *cols;
    int idx = -1, k = 0;
    snprintf(head, sizeof(head), "COPY %s (", table);
    p = strstr(out, head);
    cr_assert_not_null(p, "no COPY block for %s", table);
    cols = p + strlen(head);
    eol = strchr(p, '\n');
    /* column list "a, b, c) FROM stdin;" */
    for (const char *c = cols; c < eol && idx < 0;) {
        const char *e = c;
        while (e < eol && *e != ',' && *e != ')')
            e++;
        if ((size_t)(e - c) == strlen(col) && memcmp(c, col, (size_t)(e - c)) == 0)
            idx = k;
        k++;
        c = e + 2;
    }
    cr_assert_geq(idx, 0, "no column %s in %s", col, table);
    p = eol + 1;
    while (strncmp(p, "\\.\n", 3) != 0) {
        const char *f = p;
        eol = strchr(p, '\n');
        cr_assert_not_null(eol);
        for (int i = 0; i < idx; i++) {
            f = memchr(f, '\t', (size_t)(eol - f));
            cr_assert_not_null(f);
            f++;
        }
        {
            const char *e = memchr(f, '\t', (size_t)(eol - f));
            size_t len = (size_t)((e ? e : eol) - f);
            r.v = realloc(r.v, (r.n + 1) * sizeof(char *));
            cr_assert_not_null(r.v);
            r.v[r.n++] = len == 2 && f[0] == '\\' && f[1] == 'N' ? NULL : seed_unescape(f, len);
        }
        p = eol + 1;
    }
    return r;
}

#endif
