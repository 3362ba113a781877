/* The masker: table handles, row masking through table plans, counters, whole-dump runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SF_HAVE_AVX2 1
#include <immintrin.h>
#else
#define SF_HAVE_AVX2 0
#endif
#include "copyscan.h"
#include "maskerint.h"
#include "pgarchive.h"
#include "sqlident.h"
#include "stagefork/util.h"

static int simd_level(void);

int sf_mask_format_parse(const char *name)
{
    static const char *const names[] = {"auto", "plain", "tar", "custom", "directory"};
    for (int i = 0; i < 5; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *sf_mask_format_name(sf_mask_format fmt)
{
    switch (fmt) {
    case SF_MASK_FORMAT_AUTO: return "auto";
    case SF_MASK_FORMAT_PLAIN: return "plain";
    case SF_MASK_FORMAT_TAR: return "tar";
    case SF_MASK_FORMAT_CUSTOM: return "custom";
    case SF_MASK_FORMAT_DIRECTORY: return "directory";
    }
    return "unknown";
}

int sf_masker_new(sf_masker **out, const sf_mask_policy *pol, const sf_mask_key *key, int strict, sf_error *err)
{
    sf_masker *m;
    *out = NULL;
    if (!pol)
        return sf_error_set(err, SF_EUSAGE, "a masker needs a policy");
    if (!(m = calloc(1, sizeof(*m))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    m->pol = pol;
    m->key = key;
    m->strict = strict < 0 ? sf_mask_policy_strict(pol) : !!strict;
    sf_catalog_init(&m->cat);
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sf_masker_free(sf_masker *m)
{
    if (!m)
        return;
    sf_catalog_free(&m->cat);
    for (size_t i = 0; i < m->nseen; i++) {
        free(m->seen[i].schema);
        free(m->seen[i].name);
        free_strv(m->seen[i].cols, m->seen[i].ncols);
    }
    free(m->seen);
    for (size_t i = 0; i < m->nrep; i++) {
        for (size_t c = 0; c < m->rep[i].ncols; c++) {
            free(m->rep[i].cols[c].name);
            free(m->rep[i].cols[c].rule);
        }
        free(m->rep[i].cols);
        free(m->rep[i].schema);
        free(m->rep[i].name);
    }
    free(m->rep);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

const sf_error *sf_masker_error(const sf_masker *m)
{
    return &m->err;
}

int sf_masker_fail(sf_masker *m, const sf_error *err)
{
    pthread_mutex_lock(&m->mu);
    sf_error_copy(&m->err, err);
    pthread_mutex_unlock(&m->mu);
    return err->code;
}

int sf_masker_ddl_scs(sf_masker *m, const char *sql, size_t len, int scs)
{
    int rc = sf_catalog_ddl(&m->cat, sql, len, scs);
    if (rc < 0)
        return sf_error_set(&m->err, rc, "out of memory reading DDL");
    return 0;
}

int sf_masker_ddl(sf_masker *m, const char *sql, size_t len)
{
    return sf_masker_ddl_scs(m, sql, len, 1);
}

static char **dup_strv(const char *const *v, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof(*out));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] = strdup(v[i]))) {
            free_strv(out, i);
            return NULL;
        }
    }
    return out;
}

int sf_masker_note_table(sf_masker *m, const char *schema, const char *name, const char *const *cols,
                         size_t ncols)
{
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nseen; i++)
        if (strcmp(m->seen[i].schema, schema) == 0 && strcmp(m->seen[i].name, name) == 0)
            goto out;
    if (m->nseen == m->seen_cap) {
        size_t cap = m->seen_cap ? m->seen_cap * 2 : 32;
        sf_seen_table *n = realloc(m->seen, cap * sizeof(*n));
        if (!n) {
            rc = SF_ENOMEM;
            goto out;
        }
        m->seen = n;
        m->seen_cap = cap;
    }
    {
        sf_seen_table *s = &m->seen[m->nseen];
        s->schema = strdup(schema);
        s->name = strdup(name);
        s->cols = dup_strv(cols, ncols);
        s->ncols = ncols;
        if (!s->schema || !s->name || !s->cols) {
            free(s->schema);
            free(s->name);
            free_strv(s->cols, ncols);
            rc = SF_ENOMEM;
            goto out;
        }
        m->nseen++;
    }
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void sf_masker_warn_absent(sf_masker *m)
{
    size_t n = sf_mask_policy_ntables(m->pol);
    for (size_t i = 0; i < n; i++) {
        const char *schema = sf_mask_policy_table_schema(m->pol, i);
        const char *name = sf_mask_policy_table_name(m->pol, i);
        int found = sf_catalog_table(&m->cat, schema, name) != NULL;
        pthread_mutex_lock(&m->mu);
        for (size_t k = 0; !found && k < m->nseen; k++)
            found = strcmp(m->seen[k].schema, schema) == 0 && strcmp(m->seen[k].name, name) == 0;
        pthread_mutex_unlock(&m->mu);
        if (!found) {
            sf_buf q = SF_BUF_INIT;
            sf_ident_quote(&q, schema, strlen(schema));
            sf_buf_addc(&q, '.');
            sf_ident_quote(&q, name, strlen(name));
            sf_log(SF_LOG_WARN, "policy table %s is not in the dump", q.ptr);
            sf_buf_free(&q);
        }
    }
}

/* "schema.table" quoted like SQL, for messages. */
static void qualified(char *buf, size_t size, const char *schema, const char *name)
{
    sf_buf q = SF_BUF_INIT;
    sf_ident_quote(&q, schema, strlen(schema));
    sf_buf_addc(&q, '.');
    sf_ident_quote(&q, name, strlen(name));
    snprintf(buf, size, "%s", q.ptr);
    sf_buf_free(&q);
}

void sf_mask_table_where(const sf_mask_table *t, long col, char *buf, size_t size)
{
    char tn[512];
    sf_buf c = SF_BUF_INIT;
    qualified(tn, sizeof(tn), t->schema, t->name);
    if (col >= 0 && (size_t)col < t->ncols) {
        sf_buf_adds(&c, ", column ");
        sf_ident_quote(&c, t->cols[col], strlen(t->cols[col]));
    }
    if (t->line)
        snprintf(buf, size, "line %llu: table %s%s", (unsigned long long)t->line, tn, c.ptr);
    else
        snprintf(buf, size, "row %llu: table %s%s", (unsigned long long)t->rows + 1, tn, c.ptr);
    sf_buf_free(&c);
}

static void table_free(sf_mask_table *t)
{
    if (!t)
        return;
    sf_tableplan_free(t->plan);
    sf_rowctx_free(t->ctx);
    free(t->schema);
    free(t->name);
    free_strv(t->cols, t->ncols);
    free(t->types);
    free(t->masks);
    free(t->opaque_ok);
    free(t->reads);
    free(t->mcols);
    free(t->rcols);
    free(t->raw);
    free(t->in);
    free(t->out);
    free(t->bsl);
    free(t->ends);
    free(t->ncols_used);
    free(t->dec);
    free(t->pnull);
    free(t->masked);
    free(t->nulls);
    sf_buf_free(&t->scratch);
    free(t);
}

int sf_masker_open_table(sf_masker *m, sf_mask_table **out, const char *schema, const char *name,
                         const char *const *cols, size_t ncols)
{
    sf_mask_table *t = calloc(1, sizeof(*t));
    const sf_cattable *ct = sf_catalog_table(&m->cat, schema, name);
    sf_error err = {0};
    size_t n1 = ncols ? ncols : 1;
    int rc;
    *out = NULL;
    if (!t)
        return sf_masker_fail(m, &(sf_error){SF_ENOMEM, "out of memory"});
    t->m = m;
    t->ncols = ncols;
    sf_buf_init(&t->scratch, 0);
    t->schema = strdup(schema);
    t->name = strdup(name);
    t->cols = dup_strv(cols, ncols);
    t->types = calloc(n1, sizeof(*t->types));
    t->masks = calloc(n1, 1);
    t->opaque_ok = calloc(n1, 1);
    t->reads = calloc(n1, 1);
    t->mcols = calloc(n1, sizeof(*t->mcols));
    t->rcols = calloc(n1, sizeof(*t->rcols));
    t->raw = calloc(n1 * SF_MASK_BATCH, sizeof(*t->raw));
    t->in = calloc(n1 * SF_MASK_BATCH, sizeof(*t->in));
    t->out = calloc(n1 * SF_MASK_BATCH, sizeof(*t->out));
    t->bsl = calloc(n1, sizeof(*t->bsl));
    t->ends = calloc(n1 + 72, sizeof(*t->ends)); /* the splitters store up to 71 past the last field they keep */
    t->ncols_used = calloc(n1, sizeof(*t->ncols_used));
    t->dec = calloc(n1 * SF_MASK_BATCH, sizeof(*t->dec));
    t->pnull = calloc(n1 * SF_MASK_BATCH, sizeof(*t->pnull));
    t->masked = calloc(n1, sizeof(*t->masked));
    t->nulls = calloc(n1, sizeof(*t->nulls));
    if (!t->schema || !t->name || !t->cols || !t->types || !t->masks || !t->opaque_ok || !t->reads || !t->mcols || !t->rcols || !t->raw || !t->in ||
        !t->out || !t->bsl || !t->ends || !t->ncols_used || !t->dec || !t->pnull || !t->masked || !t->nulls) {
        table_free(t);
        return sf_masker_fail(m, &(sf_error){SF_ENOMEM, "out of memory"});
    }
    for (size_t i = 0; i < ncols; i++) {
        const sf_catcol *cc = ct ? sf_cattable_col(ct, cols[i]) : NULL;
        if (cc) {
            int arr = 0;
            const char *base = sf_catalog_resolve_type(&m->cat, cc->type, &arr);
            sf_coltype_parse(&t->types[i], base, strlen(base));
            if (arr)
                t->types[i].is_array = 1;
        } else {
            sf_coltype_parse(&t->types[i], "", 0); /* unknown: opaque */
        }
    }
    sf_masker_note_table(m, schema, name, cols, ncols);
    rc = sf_tableplan_new(&t->plan, m->pol, schema, name, (const char *const *)t->cols, t->types, ncols, m->strict,
                          &err);
    if (rc < 0) {
        table_free(t);
        return sf_masker_fail(m, &err);
    }
    t->identity = sf_tableplan_identity(t->plan);
    t->simd = simd_level();
    for (size_t i = 0; i < ncols; i++) {
        const char *rule = sf_tableplan_rule(t->plan, i);
        t->masks[i] = (unsigned char)(sf_tableplan_masks(t->plan, i) != 0);
        t->reads[i] = (unsigned char)(sf_tableplan_reads(t->plan, i) != 0);
        if (t->masks[i])
            t->mcols[t->nmcols++] = i;
        if (t->reads[i])
            t->rcols[t->nrcols++] = i;
        if (t->masks[i] || t->reads[i])
            t->ncols_used[t->nncols++] = i;
        t->opaque_ok[i] = (unsigned char)(!t->masks[i] || (rule && (strcmp(rule, "null") == 0 ||
                                                                    strcmp(rule, "fixed") == 0)));
    }
    if (!t->identity) {
        if (!m->key) {
            char tn[512];
            qualified(tn, sizeof(tn), schema, name);
            sf_error_set(&err, SF_EUSAGE, "table %s has masking rules but no masking key was given", tn);
            table_free(t);
            return sf_masker_fail(m, &err);
        }
        if ((rc = sf_rowctx_new(&t->ctx, m->key, &err)) < 0) {
            table_free(t);
            return sf_masker_fail(m, &err);
        }
    }
    *out = t;
    return 0;
}

int sf_masker_table_begin(sf_masker *m, sf_mask_table **out, const char *copy_stmt, size_t len)
{
    sf_copyhead h;
    int rc;
    *out = NULL;
    sf_copyhead_init(&h);
    rc = sf_copyhead_parse(&h, copy_stmt, len, sf_catalog_default_schema(&m->cat), 1);
    if (rc != 0) {
        sf_copyhead_free(&h);
        return sf_masker_fail(m, &(sf_error){SF_EFORMAT, "cannot read the COPY ... FROM stdin statement"});
    }
    if (!h.has_list) {
        /* no column list: the table's columns as CREATE TABLE declared them */
        const sf_cattable *ct = sf_catalog_table(&m->cat, h.schema.ptr, h.table.ptr);
        const char **cols = NULL;
        size_t n = 0;
        if (!ct) {
            sf_error e;
            char tn[512];
            qualified(tn, sizeof(tn), h.schema.ptr, h.table.ptr);
            sf_error_set(&e, SF_EFORMAT, "COPY %s has no column list and the dump has no CREATE TABLE for it", tn);
            sf_copyhead_free(&h);
            return sf_masker_fail(m, &e);
        }
        cols = calloc(ct->ncols ? ct->ncols : 1, sizeof(*cols));
        if (!cols) {
            sf_copyhead_free(&h);
            return sf_masker_fail(m, &(sf_error){SF_ENOMEM, "out of memory"});
        }
        for (size_t i = 0; i < ct->ncols; i++)
            if (!ct->cols[i].generated)
                cols[n++] = ct->cols[i].name;
        rc = sf_masker_open_table(m, out, h.schema.ptr, h.table.ptr, cols, n);
        free(cols);
    } else {
        rc = sf_masker_open_table(m, out, h.schema.ptr, h.table.ptr, h.cols, h.ncols);
    }
    if (rc == 0 && h.options && !(*out)->identity) {
        char tn[512];
        sf_error e;
        qualified(tn, sizeof(tn), h.schema.ptr, h.table.ptr);
        sf_error_set(&e, SF_EFORMAT, "COPY %s uses options (CSV, DELIMITER, ...): only the default text format "
                     "can be masked", tn);
        sf_mask_table_abort(*out);
        *out = NULL;
        rc = sf_masker_fail(m, &e);
    }
    sf_copyhead_free(&h);
    return rc;
}

int sf_mask_table_identity(const sf_mask_table *t)
{
    return t->identity;
}

const sf_error *sf_mask_table_error(const sf_mask_table *t)
{
    return &t->err;
}

void sf_mask_table_add_rows(sf_mask_table *t, uint64_t n)
{
    t->rows += n;
}

/* The plan's output for a row; errors name the row. */
static int mask_row(sf_mask_table *t, const sf_field *in)
{
    sf_error err; /* set by the plan on failure only: no per-row clearing of its message */
    int rc;
    err.code = 0;
    err.msg[0] = '\0';
    rc = sf_tableplan_mask(t->plan, t->ctx, in, t->out, &err);
    if (rc < 0) {
        char where[768];
        sf_mask_table_where(t, -1, where, sizeof(where));
        return sf_error_set(&t->err, rc, "%s: %s", where, err.msg);
    }
    t->rows++;
    return 0;
}

/*
 * a[0..n) differs from b[0..n): the masked values are short, so up to 16
 * bytes are compared as two overlapping words without a call (memcmp's
 * call and length dispatch cost more than the compare).
 */
static inline int bytes_differ(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) != 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) != 0;
    }
    if (n < 4) {
        unsigned d = 0;
        for (size_t i = 0; i < n; i++)
            d |= (unsigned char)a[i] ^ (unsigned char)b[i];
        return d != 0;
    }
    return memcmp(a, b, n) != 0;
}

/* Count NULLs written and values changed in the transformed columns. */
static void count_masked(sf_mask_table *t, const sf_field *in, const sf_field *o)
{
    for (size_t k = 0; k < t->nmcols; k++) {
        size_t i = t->mcols[k];
        if (o[i].null)
            t->nulls[i]++;
        if (!in[i].null &&
            (o[i].null || o[i].len != in[i].len || (o[i].ptr != in[i].ptr && bytes_differ(o[i].ptr, in[i].ptr, in[i].len))))
            t->masked[i]++;
    }
}

int sf_mask_table_row(sf_mask_table *t, const sf_field *in, const sf_field **out)
{
    if (mask_row(t, in) < 0)
        return t->err.code;
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->masks[i] && in[i].null)
            t->nulls[i]++;
    count_masked(t, in, t->out);
    *out = t->out;
    return 0;
}

/* The field of line offset `at` (for a broken escape found while splitting). */
static long field_at(const char *line, size_t at)
{
    long f = 0;
    for (size_t i = 0; i < at; i++) {
        if (line[i] == '\\')
            i++;
        else if (line[i] == '\t')
            f++;
    }
    return f;
}

/* Where split_line puts a line's fields: where each ends, and the ones holding a backslash. */
typedef struct splitout {
    const char **ends; /* ends[i]: the tab (or line end) after field i; room for max + 72 (a 64-byte step past max, 8 per store) */
    size_t *bsl;       /* fields (< max) holding a backslash, ascending; room for max */
    size_t nbsl;
    size_t max;
} splitout;

/* Note that field f holds a backslash. */
static inline void note_bs(splitout *s, size_t f)
{
    if (f < s->max && (s->nbsl == 0 || s->bsl[s->nbsl - 1] != f))
        s->bsl[s->nbsl++] = f;
}

/* The escape-aware split from field n's start p on (after a backslash followed by a tab or a backslash). */
static size_t split_slow(splitout *s, size_t n, const char *line, const char *p, const char *end, size_t *bad)
{
    for (;;) {
        const char *q = p;
        while (q < end && *q != '\t') {
            if (*q == '\\') {
                if (q + 1 >= end) {
                    *bad = (size_t)(q - line);
                    return 0;
                }
                note_bs(s, n);
                q += 2;
            } else {
                q++;
            }
        }
        if (n <= s->max)
            s->ends[n] = q;
        n++;
        if (q >= end)
            return n;
        p = q + 1;
    }
}

#if defined(__SSE2__)
/* Bits set in a 32-bit mask (no POPCNT in baseline x86-64). */
static inline unsigned popcount32(unsigned x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/*
 * One vector step of the splitters (SSE2 16 bytes, AVX2 32): bit i of the
 * masks is byte q[i] — mt its tabs, mb its backslashes, hard the backslashes
 * followed by a tab or a backslash. Stores the field ends up to the first hard
 * backslash (whose field the caller hands to split_slow) and notes the fields
 * holding backslashes; past max fields only counts them, tracking in *fs where
 * the current one starts. Returns the field count so far.
 */
static inline size_t step_fields(splitout *s, const char *q, unsigned mt, unsigned mb, unsigned hard, size_t n,
                                 int *over, const char **fs)
{
    const char **ends = s->ends;
    if (hard) {
        unsigned before = (hard & (0u - hard)) - 1;
        mt &= before; /* the tabs before that backslash */
        mb &= before;
    }
    while (mb) {
        unsigned b = (unsigned)__builtin_ctz(mb);
        note_bs(s, n + popcount32(mt & ((1u << b) - 1)));
        mb &= mb - 1;
    }
    if (n <= s->max) {
        while (mt) {
            ends[n++] = q + __builtin_ctz(mt);
            mt &= mt - 1;
        }
        return n;
    }
    /* too many fields (an error): only counted */
    if (!*over) {
        *over = 1;
        *fs = ends[n - 1] + 1;
    }
    if (mt)
        *fs = q + 32 - __builtin_clz(mt);
    return n + popcount32(mt);
}
#endif

/*
 * Split line[0..len) at unescaped tabs: where each of the first max + 1
 * fields ends (s->ends), and in s->bsl the fields holding a backslash (the
 * only ones that can be NULL or need decoding). Returns the number of
 * fields (may exceed max), or 0 for a line ending in an unpaired backslash
 * (*bad = its offset).
 *
 * One pass, 16 bytes at a time where SSE2 is there (always on x86-64): a
 * backslash followed by anything but a tab or a backslash ("\N", "\n",
 * "\x41") cannot move a field's end, so every raw tab is a delimiter; at
 * the first backslash followed by a tab or a backslash, the escape-aware
 * loop takes over from the start of the field it is in. The per-field work
 * is one store; backslashes (rare) are mapped to their fields by counting
 * the tabs before them.
 */
static size_t split_line(splitout *s, const char *line, size_t len, size_t *bad, int simd)
{
    const char *p = line, *end = line + len, *fs = line; /* fs: where the current field starts */
    const char **ends = s->ends;
    size_t n = 0, max = s->max;
    s->nbsl = 0;
#if defined(__SSE2__)
    if (len >= 16 && simd) {
        int over = 0; /* more than max fields: ends no longer stored */
        for (;;) {
            sf_copy_step st;
            const char *q;
            unsigned mt, mb, hard;
            int tail;
            if (p >= end)
                break;
            sf_copy_step16(&st, p, end);
            q = st.q, mt = st.mt, mb = st.mb, hard = st.hard, tail = st.tail;
            n = step_fields(s, q, mt, mb, hard, n, &over, &fs);
            if (hard)
                return split_slow(s, n, line, over ? fs : n ? ends[n - 1] + 1 : line, end, bad);
            if (tail)
                break;
            /*
             * A harmless backslash in the last byte escapes the next chunk's
             * first, which is then neither a tab nor a backslash: it can be
             * scanned again as an ordinary byte. (Stepping over it would make
             * each load wait for the previous chunk's masks.)
             */
            p += 16;
        }
        if (n <= max)
            ends[n] = end;
        return n + 1;
    }
#endif
    for (; p < end; p++) {
        if (*p == '\t') {
            if (n <= max)
                ends[n] = p;
            n++;
            fs = p + 1;
        } else if (*p == '\\') {
            if (p + 1 >= end || p[1] == '\t' || p[1] == '\\')
                return split_slow(s, n, line, fs, end, bad);
            note_bs(s, n);
            p++;
        }
    }
    if (n <= max)
        ends[n] = end;
    return n + 1;
}

#if SF_HAVE_AVX2

/* split_line 32 bytes at a time (AVX2, chosen at run time); lines under 33 bytes go to split_line. */
__attribute__((target("avx2"))) static size_t split_line_avx2(splitout *s, const char *line, size_t len, size_t *bad)
{
    const char *p = line, *end = line + len, *fs = line;
    const char **ends = s->ends;
    size_t n = 0, max = s->max;
    int over = 0;
    const __m256i vt = _mm256_set1_epi8('\t'), vb = _mm256_set1_epi8('\\');
    if (len < 33)
        return split_line(s, line, len, bad, 1);
    s->nbsl = 0;
    for (;;) {
        const char *q = p;
        unsigned mt, mb, mn, hard, skip = 0;
        int tail = 0;
        __m256i v;
        if (end - p < 33) {
            if (p >= end)
                break;
            q = end - 32;
            skip = (unsigned)(p - q);
            tail = 1;
        }
        v = _mm256_loadu_si256((const __m256i *)(const void *)q);
        mt = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vt));
        mb = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vb));
        if (tail) {
            mt &= 0xFFFFFFFFu << skip;
            mb &= 0xFFFFFFFFu << skip;
            mn = ((mt | mb) >> 1) | 0x80000000u;
        } else if (mb) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
            mn = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(w, vt), _mm256_cmpeq_epi8(w, vb)));
        } else {
            mn = 0;
        }
        hard = mb & mn;
        n = step_fields(s, q, mt, mb, hard, n, &over, &fs);
        if (hard)
            return split_slow(s, n, line, over ? fs : n ? ends[n - 1] + 1 : line, end, bad);
        if (tail)
            break;
        p += 32;
    }
    if (n <= max)
        ends[n] = end;
    return n + 1;
}
#endif

#if SF_HAVE_AVX2
/*
 * split_line 64 bytes at a time (AVX-512 BW and VBMI2, chosen at run
 * time): each step one masked load (nothing past the line is read, so
 * lines of any length take the same path), and the step's field ends
 * stored eight at a time from the tab positions packed by one compress,
 * instead of one store per tab behind a loop branch. Backslashes as in
 * split_line.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi2"))) static size_t split_line_avx512(splitout *s, const char *line,
                                                                                      size_t len, size_t *bad)
{
    const char *p = line, *end = line + len, *fs = line;
    const char **ends = s->ends;
    size_t n = 0, max = s->max;
    int over = 0;
    const __m512i vt = _mm512_set1_epi8('\t'), vb = _mm512_set1_epi8('\\');
    const __m512i iota = _mm512_set_epi8(63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43,
                                         42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
                                         21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    s->nbsl = 0;
    while (p < end) {
        const size_t rem = (size_t)(end - p);
        const int tail = rem <= 64;
        const __m512i v = _mm512_maskz_loadu_epi8(rem >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << rem) - 1, p);
        uint64_t mt = _mm512_cmpeq_epi8_mask(v, vt), mb = _mm512_cmpeq_epi8_mask(v, vb), hard = 0;
        if (mb) {
            /* the byte after each backslash: within the step, the next step's first, or (last step) the end, which counts */
            uint64_t mn = (mt | mb) >> 1;
            if (tail)
                mn |= (uint64_t)1 << (rem - 1);
            else if (p[64] == '\t' || p[64] == '\\')
                mn |= (uint64_t)1 << 63;
            hard = mb & mn;
            if (hard) {
                uint64_t before = (hard & (0 - hard)) - 1;
                mt &= before;
                mb &= before;
            }
            for (uint64_t m = mb; m; m &= m - 1)
                note_bs(s, n + (size_t)__builtin_popcountll(mt & (((uint64_t)1 << __builtin_ctzll(m)) - 1)));
        }
        if (n <= max) {
            /* up to 64 ends from n on, eight per store (room: max + 72) */
            const size_t cnt = (size_t)__builtin_popcountll(mt);
            const __m512i base = _mm512_set1_epi64((long long)(uintptr_t)p);
            /* the offsets stay in the register (a reload of stored bytes would wait for the store) */
            __m512i pos = _mm512_maskz_compress_epi8(mt, iota);
            for (size_t o = 0; o < cnt; o += 8) {
                _mm512_storeu_si512((void *)(ends + n + o),
                                    _mm512_add_epi64(base, _mm512_cvtepu8_epi64(_mm512_castsi512_si128(pos))));
                pos = _mm512_alignr_epi64(_mm512_setzero_si512(), pos, 1);
            }
            n += cnt;
        } else {
            if (!over) {
                over = 1;
                fs = ends[n - 1] + 1;
            }
            if (mt)
                fs = p + 64 - __builtin_clzll(mt);
            n += (size_t)__builtin_popcountll(mt);
        }
        if (hard)
            return split_slow(s, n, line, over ? fs : n ? ends[n - 1] + 1 : line, end, bad);
        /* as in split_line: a harmless backslash in the last byte escapes an ordinary byte, scanned again */
        p += 64;
    }
    if (n <= max)
        ends[n] = end;
    return n + 1;
}
#endif

/* The splitter to use: 3 = AVX-512, 2 = AVX2, 1 = SSE2, 0 = scalar (never more than the CPU has). */
static int simd_level(void)
{
    static int level = -1;
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
#if SF_HAVE_AVX2
        __builtin_cpu_init();
        l = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vbmi2")
                ? 3
            : __builtin_cpu_supports("avx2") ? 2
                                             : 1;
#elif defined(__SSE2__)
        l = 1;
#else
        l = 0;
#endif
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return sf_masker_simd >= 0 && sf_masker_simd < l ? sf_masker_simd : l;
}

int sf_masker_simd = -1;

/*
 * Split one COPY line into the raw fields and the plan's input fields of
 * the columns the plan transforms or reads (raw and in; cell0 = the row's
 * first cell in t->in, for t->dec): raw bytes, NULLs, and values holding
 * escapes decoded into t->scratch (listed in t->dec; pointers fixed by
 * fix_decoded once scratch stops moving). Other columns are only checked
 * for NULL (listed in t->pnull, counted when the row is written). Returns
 * 0, or SF_EFORMAT with the message on t (naming t->line) only when
 * `report` is set.
 */
static int split_row(sf_mask_table *t, const char *line, size_t len, sf_span *raw, sf_field *in, size_t cell0,
                     int report)
{
    char where[768];
    splitout s = {t->ends, t->bsl, 0, t->ncols};
    const char *const *ends = t->ends;
    size_t n, bad = 0;
#if SF_HAVE_AVX2
    if (t->simd == 3)
        n = split_line_avx512(&s, line, len, &bad);
    else if (t->simd == 2)
        n = split_line_avx2(&s, line, len, &bad);
    else
#endif
        n = split_line(&s, line, len, &bad, t->simd);
    if (n == 0) {
        if (!report)
            return SF_EFORMAT;
        sf_mask_table_where(t, field_at(line, bad), where, sizeof(where));
        return sf_error_set(&t->err, SF_EFORMAT, "%s: broken escape: backslash at the end of the line", where);
    }
    if (n != t->ncols) {
        if (!report)
            return SF_EFORMAT;
        sf_mask_table_where(t, -1, where, sizeof(where));
        return sf_error_set(&t->err, SF_EFORMAT, "%s: row has %zu field%s, expected %zu%s", where, n,
                            n == 1 ? "" : "s", t->ncols,
                            n > t->ncols ? " (extra data after the last column)" : "");
    }
    for (size_t k = 0; k < t->nncols; k++) {
        size_t i = t->ncols_used[k];
        const char *fs = i ? ends[i - 1] + 1 : line;
        raw[i].ptr = in[i].ptr = fs;
        raw[i].len = in[i].len = (size_t)(ends[i] - fs);
        in[i].null = 0;
    }
    /*
     * Fields are used raw (no copy) unless they hold a backslash: \N is
     * NULL, and escapes are decoded only in the fields the plan reads.
     * Fields the plan does not read are never decoded, and go out as the
     * original bytes.
     */
    for (size_t k = 0; k < s.nbsl; k++) {
        size_t i = s.bsl[k];
        const char *fs = i ? ends[i - 1] + 1 : line;
        size_t fl = (size_t)(ends[i] - fs);
        if (sf_copy_is_null(fs, fl)) {
            if (!t->masks[i] && !t->reads[i]) {
                t->pnull[t->npnull++] = i;
                continue;
            }
            in[i].null = 1;
            in[i].ptr = NULL;
            in[i].len = 0;
            if (!t->masks[i])
                t->pnull[t->npnull++] = i;
        } else if (t->reads[i]) {
            const char *why;
            size_t at, off = t->scratch.len;
            if (sf_copy_decode(&t->scratch, fs, fl, &why, &at) < 0) {
                if (!report)
                    return SF_EFORMAT;
                sf_mask_table_where(t, (long)i, where, sizeof(where));
                return sf_error_set(&t->err, SF_EFORMAT, "%s: %s", where, why);
            }
            t->dec[t->ndec].cell = cell0 + i;
            t->dec[t->ndec].off = off;
            t->ndec++;
            in[i].len = t->scratch.len - off;
        }
    }
    return 0;
}

/* Start splitting a row or a batch: no decoded values, no pending NULLs. */
static void split_start(sf_mask_table *t)
{
    sf_buf_clear(&t->scratch);
    t->ndec = 0;
    t->npnull = 0;
}

/* Point the decoded fields at t->scratch (which no longer moves). */
static void fix_decoded(sf_mask_table *t)
{
    for (size_t k = 0; k < t->ndec; k++)
        t->in[t->dec[k].cell].ptr = t->scratch.ptr + t->dec[k].off;
}

/* Count the NULLs of untransformed columns in the rows split since split_start. */
static void count_pending_nulls(sf_mask_table *t)
{
    for (size_t k = 0; k < t->npnull; k++)
        t->nulls[t->pnull[k]]++;
    t->npnull = 0;
}

/*
 * Copy src[0..c) to w: short runs (most are a few fields) as one 16-byte
 * move when 16 bytes can be read at src and written at w, runs of up to 64
 * bytes as 16-byte moves (no call), else memcpy.
 */
static inline char *copy_run(char *w, const char *wlim, const char *src, size_t c, const char *slim)
{
    if (c <= 16 && wlim - w >= 16 && slim - src >= 16) {
        memcpy(w, src, 16);
    } else if (c >= 16 && c <= 64) {
        /* the common long run (the row's tail): 16-byte moves, the last one ending at c (nothing past c) */
        size_t i = 0;
        for (; i + 16 < c; i += 16)
            memcpy(w + i, src + i, 16);
        memcpy(w + c - 16, src + c - 16, 16);
    } else {
        memcpy(w, src, c);
    }
    return w + c;
}

/*
 * sf_copy_encode_to for a masked value, with 16 bytes of room beyond 2 *
 * len at w. Most values need no escape: those of 16 bytes or more are
 * checked and stored 16 bytes at a time, the last 16 overlapping (nothing
 * outside the value is read); at the first vector holding a byte to
 * escape, the byte loop takes over from there. A shorter value is read as
 * one 16-byte vector, checked in one compare and stored whole: that load
 * may read past the value's end, but never past the 4 KiB page of its
 * first byte (so it cannot fault); the bytes past the end are masked off
 * and never used. Hence no AddressSanitizer here.
 */
#if defined(__SSE2__)
/* Bytes of x that need a look: <= 13 (NUL, \b .. \r and a few that need nothing) or a backslash. */
static inline unsigned escape_mask(__m128i x)
{
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(13)), x), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
}

#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
static inline char *encode_value(char *w, const char *v, size_t len)
{
    if (len >= 16) {
        size_t i = 0;
        __m128i x;
        for (; i + 16 < len; i += 16) {
            x = _mm_loadu_si128((const __m128i *)(const void *)(v + i));
            if (escape_mask(x))
                return sf_copy_encode_to(w + i, v + i, len - i);
            _mm_storeu_si128((__m128i *)(void *)(w + i), x);
        }
        /* the bytes before i are clean: a byte to escape here lies at i or later */
        x = _mm_loadu_si128((const __m128i *)(const void *)(v + len - 16));
        if (escape_mask(x))
            return sf_copy_encode_to(w + i, v + i, len - i);
        _mm_storeu_si128((__m128i *)(void *)(w + len - 16), x);
        return w + len;
    }
    if (len == 0)
        return w; /* v may be NULL or point past its buffer */
    if (((uintptr_t)v & 4095) <= 4096 - 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)v);
        if (!(escape_mask(x) & ((1u << len) - 1))) {
            _mm_storeu_si128((__m128i *)(void *)w, x);
            return w + len;
        }
    }
    return sf_copy_encode_to(w, v, len);
}
#else
static inline char *encode_value(char *w, const char *v, size_t len)
{
    return sf_copy_encode_to(w, v, len);
}
#endif

/*
 * Count a masked row and append it to out with its line end (line[len ..
 * len + eol)): untouched fields, the tabs between them and the line end
 * are copied as runs of the original bytes, and only the transformed
 * columns whose value changed are encoded. Room is checked once for the
 * line and once per changed value (an encoded value takes at most twice
 * its length).
 */
static int emit_row(sf_mask_table *t, const char *line, size_t len, size_t eol, const sf_span *raw,
                    const sf_field *in, const sf_field *o, sf_buf *out)
{
    const char *run = line, *lend = line + len + eol;
    char *w, *lim;
    t->rows++;
    if ((out->max || out->cap - out->len <= len + eol) && sf_buf_grow(out, len + eol) < 0)
        return sf_error_set(&t->err, SF_ENOMEM, "out of memory");
    w = out->ptr + out->len;
    lim = out->ptr + out->cap;
    for (size_t k = 0; k < t->nmcols; k++) {
        size_t i = t->mcols[k], need;
        const sf_field *f = &in[i], *v = &o[i];
        if (v->null) {
            t->nulls[i]++;
            if (f->null)
                continue;
            t->masked[i]++;
        } else if (!f->null) {
            if (v->len != f->len)
                t->masked[i]++;
            else if (v->ptr == f->ptr)
                continue;
            else if (bytes_differ(v->ptr, f->ptr, f->len)) /* an empty value may have no pointer: not read */
                t->masked[i]++;
        }
        need = (size_t)(lend - run) + (v->null ? 2 : 2 * v->len) + 17; /* 16: encode_value's slack */
        if ((size_t)(lim - w) < need || out->max) {
            out->len = (size_t)(w - out->ptr);
            if (sf_buf_grow(out, need) < 0)
                return sf_error_set(&t->err, SF_ENOMEM, "out of memory");
            w = out->ptr + out->len;
            lim = out->ptr + out->cap;
        }
        w = copy_run(w, lim, run, (size_t)(raw[i].ptr - run), lend);
        if (v->null) {
            *w++ = '\\';
            *w++ = 'N';
        } else if (!(w = encode_value(w, v->ptr, v->len))) {
            char where[768];
            out->ptr[out->len] = '\0';
            sf_mask_table_where(t, (long)i, where, sizeof(where));
            return sf_error_set(&t->err, SF_EFORMAT, "%s: the value holds a NUL byte, which PostgreSQL text cannot",
                                where);
        }
        run = raw[i].ptr + raw[i].len;
    }
    w = copy_run(w, lim, run, (size_t)(lend - run), lend);
    *w = '\0';
    out->len = (size_t)(w - out->ptr);
    return 0;
}

int sf_mask_table_line(sf_mask_table *t, const char *line, size_t len, sf_buf *out)
{
    int rc;
    sf_error err;
    if (t->identity) {
        t->rows++;
        return sf_buf_add(out, line, len) < 0 ? sf_error_set(&t->err, SF_ENOMEM, "out of memory") : 0;
    }
    split_start(t);
    if ((rc = split_row(t, line, len, t->raw, t->in, 0, 1)) < 0)
        return rc;
    fix_decoded(t);
    err.code = 0;
    err.msg[0] = '\0';
    if ((rc = sf_tableplan_mask(t->plan, t->ctx, t->in, t->out, &err)) < 0) {
        char where[768];
        sf_mask_table_where(t, -1, where, sizeof(where));
        return sf_error_set(&t->err, rc, "%s: %s", where, err.msg);
    }
    count_pending_nulls(t);
    return emit_row(t, line, len, 0, t->raw, t->in, t->out, out);
}

/* sf_mask_table_lines for one batch (n <= SF_MASK_BATCH). */
static int mask_batch(sf_mask_table *t, const sf_line *lines, size_t n, uint64_t line0, sf_buf *out)
{
    size_t nc = t->ncols;
    sf_error err;
    /*
     * Split and decode every line, mask all rows in one go, then count and
     * write them. Any error: the rows are masked again one at a time, which
     * writes the rows before the failing one and reports exactly it (the
     * batch has no effect but the memo's, which never changes an output).
     */
    split_start(t);
    for (size_t r = 0; r < n; r++)
        if (split_row(t, lines[r].ptr, lines[r].len, t->raw + r * nc, t->in + r * nc, r * nc, 0))
            goto one_by_one;
    fix_decoded(t);
    err.code = 0;
    err.msg[0] = '\0';
    if (sf_tableplan_mask_rows(t->plan, t->ctx, t->in, t->out, n, &err) < 0)
        goto one_by_one;
    count_pending_nulls(t);
    for (size_t r = 0; r < n; r++) {
        t->line = line0 ? line0 + r : 0;
        if (emit_row(t, lines[r].ptr, lines[r].len, lines[r].eol, t->raw + r * nc, t->in + r * nc, t->out + r * nc,
                     out) < 0)
            return t->err.code;
    }
    return 0;
one_by_one:
    for (size_t r = 0; r < n; r++) {
        t->line = line0 ? line0 + r : 0;
        if (sf_mask_table_line(t, lines[r].ptr, lines[r].len, out) < 0)
            return t->err.code;
        if (sf_buf_add(out, lines[r].ptr + lines[r].len, lines[r].eol) < 0)
            return sf_error_set(&t->err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

int sf_mask_table_lines(sf_mask_table *t, const sf_line *lines, size_t n, uint64_t line0, sf_buf *out)
{
    if (t->identity) {
        for (size_t r = 0; r < n; r++) {
            t->line = line0 ? line0 + r : 0;
            if (sf_mask_table_line(t, lines[r].ptr, lines[r].len, out) < 0 ||
                sf_buf_add(out, lines[r].ptr + lines[r].len, lines[r].eol) < 0)
                return t->err.code ? t->err.code : sf_error_set(&t->err, SF_ENOMEM, "out of memory");
        }
        return 0;
    }
    for (size_t r = 0; r < n; r += SF_MASK_BATCH) {
        size_t k = n - r < SF_MASK_BATCH ? n - r : SF_MASK_BATCH;
        if (mask_batch(t, lines + r, k, line0 ? line0 + r : 0, out) < 0)
            return t->err.code;
    }
    return 0;
}

/* Fold t's counters into the masker's report (caller holds m->mu). */
static int fold_report(sf_masker *m, const sf_mask_table *t)
{
    sf_rep_table *r = NULL;
    for (size_t i = 0; i < m->nrep; i++)
        if (strcmp(m->rep[i].schema, t->schema) == 0 && strcmp(m->rep[i].name, t->name) == 0)
            r = &m->rep[i];
    if (!r) {
        if (m->nrep == m->rep_cap) {
            size_t cap = m->rep_cap ? m->rep_cap * 2 : 32;
            sf_rep_table *n = realloc(m->rep, cap * sizeof(*n));
            if (!n)
                return SF_ENOMEM;
            m->rep = n;
            m->rep_cap = cap;
        }
        r = &m->rep[m->nrep];
        memset(r, 0, sizeof(*r));
        if (!(r->schema = strdup(t->schema)) || !(r->name = strdup(t->name))) {
            free(r->schema);
            free(r->name);
            return SF_ENOMEM;
        }
        r->identity = 1;
        m->nrep++;
    }
    r->rows += t->rows;
    r->identity = r->identity && t->identity;
    for (size_t i = 0; i < t->ncols; i++) {
        sf_rep_col *c = NULL;
        for (size_t k = 0; k < r->ncols; k++)
            if (strcmp(r->cols[k].name, t->cols[i]) == 0)
                c = &r->cols[k];
        if (!c) {
            sf_rep_col *n = realloc(r->cols, (r->ncols + 1) * sizeof(*n));
            const char *rule = sf_tableplan_rule(t->plan, i);
            if (!n)
                return SF_ENOMEM;
            r->cols = n;
            c = &r->cols[r->ncols];
            memset(c, 0, sizeof(*c));
            if (!(c->name = strdup(t->cols[i])) || (rule && !(c->rule = strdup(rule)))) {
                free(c->name);
                return SF_ENOMEM;
            }
            r->ncols++;
        }
        c->masked += t->masked[i];
        c->nulls += t->nulls[i];
    }
    return 0;
}

int sf_mask_table_end(sf_mask_table *t)
{
    sf_masker *m;
    int rc;
    if (!t)
        return 0;
    m = t->m;
    pthread_mutex_lock(&m->mu);
    rc = fold_report(m, t);
    if (rc < 0)
        sf_error_set(&m->err, rc, "out of memory");
    pthread_mutex_unlock(&m->mu);
    table_free(t);
    return rc;
}

void sf_mask_table_abort(sf_mask_table *t)
{
    table_free(t);
}

/* ---- whole-dump runs -------------------------------------------------- */

/* Output file: a temp file beside OUT renamed into place on success, so a failed run leaves nothing. */
typedef struct outfile {
    FILE *f;
    char *tmp;        /* NULL when writing stdout or a non-regular file directly */
    const char *path;
} outfile;

static int out_open(outfile *o, const char *path, sf_error *err)
{
    struct stat st;
    memset(o, 0, sizeof(*o));
    o->path = path;
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (!(o->f = fopen(path, "wb")))
            return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
        return 0;
    }
    {
        size_t n = strlen(path) + 16;
        int fd;
        mode_t um;
        if (!(o->tmp = malloc(n)))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        snprintf(o->tmp, n, "%s.sf-XXXXXX", path);
        if ((fd = mkstemp(o->tmp)) < 0) {
            int e = errno;
            free(o->tmp);
            o->tmp = NULL;
            return sf_error_set(err, SF_EIO, "cannot create '%s': %s", path, strerror(e));
        }
        um = umask(0);
        umask(um);
        fchmod(fd, 0666 & ~um);
        if (!(o->f = fdopen(fd, "wb"))) {
            close(fd);
            unlink(o->tmp);
            free(o->tmp);
            o->tmp = NULL;
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Finish: ok = keep the output. Returns 0 or an I/O error. */
static int out_close(outfile *o, int ok, sf_error *err)
{
    int rc = 0;
    if (!o->f)
        return 0;
    if (o->f == stdout) {
        if (fflush(stdout) != 0 && ok)
            rc = sf_error_set(err, SF_EIO, "cannot write standard output: %s", strerror(errno));
        return rc;
    }
    if (fclose(o->f) != 0 && ok)
        rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", o->path, strerror(errno));
    o->f = NULL;
    if (o->tmp) {
        if (ok && rc == 0 && rename(o->tmp, o->path) != 0)
            rc = sf_error_set(err, SF_EIO, "cannot rename '%s' to '%s': %s", o->tmp, o->path, strerror(errno));
        if (!ok || rc)
            unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    } else if (!ok && o->path && strcmp(o->path, "-") != 0) {
        struct stat st;
        if (stat(o->path, &st) == 0 && S_ISREG(st.st_mode))
            unlink(o->path);
    }
    return rc;
}

static void run_started(sf_masker *m, sf_mask_format fmt)
{
    m->format = fmt;
    if (m->t_start == 0)
        m->t_start = sf_monotonic();
}

static void run_finished(sf_masker *m)
{
    m->seconds = sf_monotonic() - m->t_start;
}

int sf_mask_plain(sf_masker *m, FILE *in, FILE *out)
{
    int rc;
    run_started(m, SF_MASK_FORMAT_PLAIN);
    rc = sf_plain_run(m, in, NULL, 0, out, 0, 1);
    run_finished(m);
    if (rc == 0)
        sf_masker_warn_absent(m);
    return rc;
}

int sf_mask_run(sf_masker *m, sf_mask_format fmt, const char *in, const char *out, int jobs)
{
    unsigned char head[512];
    size_t nhead = 0;
    FILE *fin = NULL;
    outfile of;
    int rc, is_stdin = !in || strcmp(in, "-") == 0;
    sf_error_clear(&m->err);
    if (fmt == SF_MASK_FORMAT_AUTO) {
        if (is_stdin) {
            nhead = fread(head, 1, sizeof(head), stdin);
            if (ferror(stdin))
                return sf_error_set(&m->err, SF_EIO, "cannot read standard input: %s", strerror(errno));
            fmt = sf_mask_detect_bytes(head, nhead);
            if (fmt != SF_MASK_FORMAT_PLAIN) {
                /* give the archive reader the whole stream: rewind if stdin is a file */
                if (fseeko(stdin, 0, SEEK_SET) != 0)
                    return sf_error_set(&m->err, SF_EUSAGE,
                                        "standard input looks like a pg_dump %s archive but cannot be rewound; "
                                        "pass --format %s", sf_mask_format_name(fmt), sf_mask_format_name(fmt));
                nhead = 0;
            }
        } else if ((rc = sf_mask_detect_path(&fmt, in, &m->err)) < 0) {
            return rc;
        }
    }
    if (fmt != SF_MASK_FORMAT_PLAIN) {
        run_started(m, fmt);
        rc = sf_mask_archive(m, fmt, is_stdin ? "-" : in, out ? out : "-", jobs, &m->err);
        run_finished(m);
        if (rc == 0)
            sf_masker_warn_absent(m);
        return rc;
    }
    if (is_stdin)
        fin = stdin;
    else if (!(fin = fopen(in, "rb")))
        return sf_error_set(&m->err, SF_EIO, "cannot open '%s': %s", in, strerror(errno));
    if ((rc = out_open(&of, out, &m->err)) < 0) {
        if (fin != stdin)
            fclose(fin);
        return rc;
    }
    run_started(m, SF_MASK_FORMAT_PLAIN);
    rc = sf_plain_run(m, fin, head, nhead, of.f, 0, jobs);
    run_finished(m);
    if (fin != stdin)
        fclose(fin);
    if (rc == 0)
        rc = out_close(&of, 1, &m->err);
    else
        out_close(&of, 0, NULL);
    if (rc == 0)
        sf_masker_warn_absent(m);
    return rc;
}
