/*
 * Table plans (policy rules compiled against one table's columns and
 * types) and the row masking of the rule side (rowmask.h): one row, or a
 * batch of rows column by column so that each column's keyed work (CMACs,
 * FF3-1 rounds) runs as one batch of AES calls.
 *
 * A plan is immutable and may be shared by threads. Everything mutable
 * lives in an sf_rowctx: per rule signature the HKDF subkeys and the
 * OpenSSL contexts built from them (created on first use, then reused for
 * every value), per (rule, type fit) a memo of recent digits/alnum
 * input -> output pairs (memo.h), and the batch's scratch.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SF_SCAN_AVX512 1
#include <immintrin.h>
#else
#define SF_SCAN_AVX512 0
#endif
#include "stagefork/dict.h"
#include "stagefork/util.h"
#include "datetime.h"
#include "decimal.h"
#include "expr.h"
#include "fpe.h"
#include "memo.h"
#include "policy.h"
#include "prf.h"
#include "rowmask.h"
#include "sqlident.h"

#define SUBKEY_INFO "stagefork/mask/v1/"
#define NOISE_K 1000000    /* u = P * k / NOISE_K, k in [-NOISE_K, NOISE_K] */
#define EXPR_DIV_SCALE 20  /* decimals kept by `/` inside expr before the final rounding */

/* FPE domains: independent permutations of the same subkey. */
enum { DOM_TEXT_DIGITS = 1, DOM_INT_PART, DOM_FRAC_PART, DOM_ALNUM_LETTERS, DOM_ALNUM_DIGITS };

typedef enum { FIT_TEXT, FIT_INT, FIT_NUMERIC, FIT_FLOAT, FIT_UUID } fit_class;

/* A dictionary's entries with their lengths (no strlen per masked value). */
typedef struct dictword {
    const char *w;
    size_t len;
} dictword;

typedef struct colplan {
    const sf_rule *rule; /* NULL: no rule */
    sf_coltype type;
    int sensitive;
    int maxchars;        /* varchar/char limit for text output, -1 = none */
    fit_class fit;
    int by;              /* column index of by:, -1 */
    /* token / email after fitting */
    int toklen;
    const char *domain;
    size_t domain_len;
    /* dictionary rules: the list (name: first names, then last names in [1]) */
    dictword *words[2];
    size_t nwords[2];
    int dict_fits;       /* every output fits maxchars as it is (nothing to cut or trim) */
    size_t longest;      /* bytes of the longest output of a one-word dictionary */
    /* digits on integers: the largest magnitude allowed, as digits, for + and - */
    const char *bound_pos, *bound_neg;
    int64_t imin, imax;  /* integer range */
    sf_expr *expr;
    size_t *expr_cols;   /* column index per reference */
    char *slot_sig;      /* rule sig '#' fit: identifies the rowctx slot */
    int read_by_other;   /* a by: or expr input of another column */
    int in_scratch;      /* the rule writes its value into the row context's scratch */
    uint64_t slot_hash;
} colplan;

struct sf_tableplan {
    uint64_t id;
    char *qname;         /* schema.table quoted like SQL, for messages */
    size_t ncols;
    char **names;
    colplan *cols;
    size_t *active;      /* columns with a transforming rule other than expr, in order */
    size_t nactive;
    size_t *exprs;       /* expr columns */
    size_t nexprs;
    size_t *opnds;       /* expr operands no rule transforms: copied into a batch's out (expr reads out) */
    size_t nopnds;
    int identity;
    int has_expr;
};

static atomic_uint_fast64_t next_plan_id = 1;

/* ---- small helpers ---------------------------------------------------------- */

/* Number of UTF-8 characters (continuation bytes are not counted). */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* Byte length of the first `chars` characters of s (never splits a sequence). */
static size_t utf8_prefix(const char *s, size_t len, size_t chars)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == chars)
                return i;
            n++;
        }
    }
    return len;
}

static int is_text_kind(sf_type_kind k)
{
    return k == SF_T_TEXT || k == SF_T_VARCHAR || k == SF_T_CHAR || k == SF_T_CITEXT || k == SF_T_OPAQUE;
}

static int is_int_kind(sf_type_kind k)
{
    return k == SF_T_INT2 || k == SF_T_INT4 || k == SF_T_INT8;
}

static void type_name(const sf_coltype *t, char *out, size_t cap)
{
    static const char *const names[] = {
        [SF_T_OPAQUE] = "a user-defined type", [SF_T_TEXT] = "text", [SF_T_VARCHAR] = "character varying",
        [SF_T_CHAR] = "character",             [SF_T_INT2] = "smallint", [SF_T_INT4] = "integer",
        [SF_T_INT8] = "bigint",                [SF_T_NUMERIC] = "numeric", [SF_T_FLOAT4] = "real",
        [SF_T_FLOAT8] = "double precision",    [SF_T_MONEY] = "money",   [SF_T_DATE] = "date",
        [SF_T_TIMESTAMP] = "timestamp",        [SF_T_TIMESTAMPTZ] = "timestamp with time zone",
        [SF_T_BOOL] = "boolean",               [SF_T_UUID] = "uuid",     [SF_T_JSON] = "json",
        [SF_T_JSONB] = "jsonb",                [SF_T_BYTEA] = "bytea",   [SF_T_CITEXT] = "citext"};
    const char *n = (unsigned)t->kind < sizeof(names) / sizeof(names[0]) ? names[t->kind] : "?";
    if ((t->kind == SF_T_VARCHAR || t->kind == SF_T_CHAR) && t->len >= 0)
        snprintf(out, cap, "%s(%d)%s", n, (int)t->len, t->is_array ? "[]" : "");
    else if (t->kind == SF_T_NUMERIC && t->precision >= 0)
        snprintf(out, cap, "numeric(%d,%d)%s", (int)t->precision, (int)t->scale, t->is_array ? "[]" : "");
    else
        snprintf(out, cap, "%s%s", n, t->is_array ? "[]" : "");
}

/* ---- plan construction ---------------------------------------------------------- */

static int col_index(const sf_tableplan *p, const char *name)
{
    for (size_t i = 0; i < p->ncols; i++)
        if (strcmp(p->names[i], name) == 0)
            return (int)i;
    return -1;
}

static void int_range(sf_type_kind k, int64_t *min, int64_t *max, const char **bpos, const char **bneg)
{
    switch (k) {
    case SF_T_INT2:
        *min = INT16_MIN, *max = INT16_MAX, *bpos = "32767", *bneg = "32768";
        break;
    case SF_T_INT4:
        *min = INT32_MIN, *max = INT32_MAX, *bpos = "2147483647", *bneg = "2147483648";
        break;
    default:
        *min = INT64_MIN, *max = INT64_MAX, *bpos = "9223372036854775807", *bneg = "9223372036854775808";
        break;
    }
}

static int ci_eq(const char *s, size_t len, const char *w)
{
    size_t wl = strlen(w);
    if (len != wl)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != w[i])
            return 0;
    }
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Does the fixed value v fit type t? (NULL message = fits) */
static const char *fixed_misfit(const sf_coltype *t, const char *v, size_t len)
{
    static const char *const bools[] = {"t", "f", "true", "false", "yes", "no", "on", "off", "1", "0", "y", "n"};
    if (t->is_array)
        return len > 0 && v[0] == '{' ? NULL : "an array column needs an array literal such as '{}'";
    switch (t->kind) {
    case SF_T_VARCHAR:
    case SF_T_CHAR:
        return t->len >= 0 && utf8_chars(v, len) > (size_t)t->len ? "it is longer than the column allows" : NULL;
    case SF_T_INT2:
    case SF_T_INT4:
    case SF_T_INT8: {
        int64_t min, max, x;
        const char *bp, *bn;
        int_range(t->kind, &min, &max, &bp, &bn);
        return sf_parse_i64(&x, v, min, max) == 0 ? NULL : "it is not an integer in the column's range";
    }
    case SF_T_NUMERIC: {
        sf_dec d;
        int rc = sf_dec_parse(&d, v, len);
        if (rc == SF_DEC_SPECIAL)
            return ci_eq(v[0] == '-' || v[0] == '+' ? v + 1 : v, len - (v[0] == '-' || v[0] == '+'), "nan") ||
                           t->precision < 0
                       ? NULL
                       : "numeric(p,s) cannot hold infinity";
        if (rc != SF_DEC_OK)
            return "it is not a number";
        if (t->precision >= 0 && (sf_dec_rescale(&d, t->scale) != 0 || sf_dec_int_digits(&d) > t->precision - t->scale))
            return "it does not fit the column's precision";
        return NULL;
    }
    case SF_T_FLOAT4:
    case SF_T_FLOAT8: {
        sf_dec d;
        int rc = sf_dec_parse(&d, v, len);
        return rc == SF_DEC_OK || rc == SF_DEC_SPECIAL || rc == SF_DEC_RANGE ? NULL : "it is not a number";
    }
    case SF_T_DATE:
    case SF_T_TIMESTAMP:
    case SF_T_TIMESTAMPTZ:
        return sf_date_valid(v, len) ? NULL : "it is not a date/timestamp (ISO: 2024-01-31 or 2024-01-31 12:00:00)";
    case SF_T_BOOL:
        for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
            if (ci_eq(v, len, bools[i]))
                return NULL;
        return "it is not a boolean";
    case SF_T_UUID: {
        size_t h = 0;
        if (len != 36)
            return "it is not a uuid (8-4-4-4-12 hex digits)";
        for (size_t i = 0; i < len; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (v[i] != '-')
                    return "it is not a uuid (8-4-4-4-12 hex digits)";
            } else if (hexval(v[i]) < 0) {
                return "it is not a uuid (8-4-4-4-12 hex digits)";
            } else {
                h++;
            }
        }
        return h == 32 ? NULL : "it is not a uuid";
    }
    case SF_T_JSON:
    case SF_T_JSONB: {
        json_error_t je;
        json_t *j = json_loadb(v, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!j)
            return "it is not valid JSON";
        json_decref(j);
        return NULL;
    }
    case SF_T_BYTEA:
        if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
            if ((len - 2) % 2)
                return "a bytea hex value needs an even number of hex digits";
            for (size_t i = 2; i < len; i++)
                if (hexval(v[i]) < 0)
                    return "a bytea hex value may only contain hex digits";
        }
        return NULL;
    default:
        return NULL;
    }
}

static int plan_error(sf_error *err, int code, const sf_tableplan *p, size_t col, const sf_node *at,
                      const char *fmt, ...) SF_PRINTF(6, 7);

static int plan_error(sf_error *err, int code, const sf_tableplan *p, size_t col, const sf_node *at,
                      const char *fmt, ...)
{
    char msg[768];
    sf_buf cn = SF_BUF_INIT;
    va_list ap;
    int rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    (void)sf_ident_quote(&cn, p->names[col], strlen(p->names[col]));
    rc = sf_node_error(err, code, at, "%s.%s: %s", p->qname, cn.ptr, msg);
    sf_buf_free(&cn);
    return rc;
}

/* The dictionary (or for name: the two) of a dictionary rule, with lengths, into c->words. */
static int load_words(colplan *c)
{
    sf_dict_kind kinds[2];
    int n = 1;
    switch (c->rule->kind) {
    case SF_RULE_NAME:
        kinds[0] = SF_DICT_FIRST_NAME, kinds[1] = SF_DICT_LAST_NAME, n = 2;
        break;
    case SF_RULE_FIRST_NAME: kinds[0] = SF_DICT_FIRST_NAME; break;
    case SF_RULE_LAST_NAME: kinds[0] = SF_DICT_LAST_NAME; break;
    case SF_RULE_COMPANY: kinds[0] = SF_DICT_COMPANY; break;
    case SF_RULE_STREET: kinds[0] = SF_DICT_STREET; break;
    default: kinds[0] = SF_DICT_CITY; break;
    }
    size_t longest[2] = {0, 0};
    int trailing_space = 0;
    for (int j = 0; j < n; j++) {
        size_t cnt = sf_dict_size(kinds[j]);
        if (!(c->words[j] = malloc(cnt * sizeof(dictword))))
            return -1;
        for (size_t e = 0; e < cnt; e++) {
            const char *w = sf_dict_get(kinds[j], e);
            size_t len = strlen(w);
            c->words[j][e].w = w;
            c->words[j][e].len = len;
            if (len > longest[j])
                longest[j] = len;
            if (j == n - 1 && (len == 0 || w[len - 1] == ' '))
                trailing_space = 1; /* an output could end in a space, which fmt_prf trims */
        }
        c->nwords[j] = cnt;
    }
    c->longest = longest[0];
    /* bytes never exceed characters: an output of at most maxchars bytes is not cut */
    c->dict_fits = c->maxchars < 0 ||
                   (!trailing_space && c->rule->kind != SF_RULE_STREET &&
                    longest[0] + (n == 2 ? 1 + longest[1] : 0) <= (size_t)c->maxchars);
    return 0;
}

/* Check that the rule can produce values of the column's type; work out the fit. */
static int fit_rule(sf_tableplan *p, size_t i, sf_error *err)
{
    colplan *c = &p->cols[i];
    const sf_rule *r = c->rule;
    const sf_coltype *t = &c->type;
    char tn[96], fit[64] = "";
    sf_type_kind k = t->kind;
    const char *rn = sf_rule_kind_name(r->kind);
    sf_buf sig = SF_BUF_INIT;

    type_name(t, tn, sizeof(tn));
    c->maxchars = (k == SF_T_VARCHAR || k == SF_T_CHAR) && t->len >= 0 ? t->len : -1;
    c->fit = FIT_TEXT;
    if (t->is_array && r->kind != SF_RULE_KEEP && r->kind != SF_RULE_NULL && r->kind != SF_RULE_FIXED)
        return plan_error(err, SF_ECONFIG, p, i, r->node, "rule %s cannot mask the array column (%s); use keep, null or fixed", rn, tn);

    switch (r->kind) {
    case SF_RULE_KEEP:
    case SF_RULE_NULL:
        break;
    case SF_RULE_FIXED: {
        const char *why = fixed_misfit(t, r->fixed, r->fixed_len);
        if (why)
            return plan_error(err, SF_ECONFIG, p, i, r->node, "fixed value '%s' does not fit %s: %s", r->fixed, tn, why);
        break;
    }
    case SF_RULE_TOKEN: {
        size_t plen = r->prefix ? utf8_chars(r->prefix, strlen(r->prefix)) : 0;
        if (!is_text_kind(k))
            goto wrong_type;
        c->toklen = r->length;
        if (c->maxchars >= 0) {
            if ((size_t)c->maxchars < plen + SF_TOKEN_MIN_LEN)
                return plan_error(err, SF_ECONFIG, p, i, r->node,
                                  "token needs at least %zu characters (prefix + %d), but the column is %s", plen + SF_TOKEN_MIN_LEN,
                                  SF_TOKEN_MIN_LEN, tn);
            if ((size_t)c->maxchars < plen + (size_t)c->toklen)
                c->toklen = (int)((size_t)c->maxchars - plen);
        }
        snprintf(fit, sizeof(fit), "len=%d", c->toklen);
        break;
    }
    case SF_RULE_EMAIL: {
        size_t need = SF_EMAIL_TOKEN_LEN + 1 + strlen(r->domain);
        size_t need_short = SF_EMAIL_TOKEN_LEN + 1 + strlen(SF_EMAIL_SHORT_DOMAIN);
        if (!is_text_kind(k))
            goto wrong_type;
        c->domain = r->domain;
        if (c->maxchars >= 0 && (size_t)c->maxchars < need) {
            if ((size_t)c->maxchars < need_short)
                return plan_error(err, SF_ECONFIG, p, i, r->node,
                                  "email needs at least %zu characters (%d-character token @ %s), but the column is %s",
                                  need_short, SF_EMAIL_TOKEN_LEN, SF_EMAIL_SHORT_DOMAIN, tn);
            c->domain = SF_EMAIL_SHORT_DOMAIN;
        }
        c->domain_len = strlen(c->domain);
        snprintf(fit, sizeof(fit), "dom=%s", c->domain);
        break;
    }
    case SF_RULE_NAME:
    case SF_RULE_FIRST_NAME:
    case SF_RULE_LAST_NAME:
    case SF_RULE_COMPANY:
    case SF_RULE_STREET:
    case SF_RULE_CITY:
        if (!is_text_kind(k))
            goto wrong_type;
        if (load_words(c) < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        snprintf(fit, sizeof(fit), "max=%d", c->maxchars);
        break;
    case SF_RULE_DIGITS:
        if (is_int_kind(k)) {
            c->fit = FIT_INT;
            int_range(k, &c->imin, &c->imax, &c->bound_pos, &c->bound_neg);
        } else if (k == SF_T_NUMERIC) {
            c->fit = FIT_NUMERIC;
        } else if (k == SF_T_UUID) {
            c->fit = FIT_UUID;
        } else if (!is_text_kind(k)) {
            goto wrong_type;
        }
        /* the output depends on the integer range / numeric precision: separate memos */
        snprintf(fit, sizeof(fit), "t=%d,p=%d,s=%d", (int)k, (int)t->precision, (int)t->scale);
        break;
    case SF_RULE_ALNUM:
        if (!is_text_kind(k))
            goto wrong_type;
        break;
    case SF_RULE_NOISE:
        if (is_int_kind(k)) {
            c->fit = FIT_INT;
            int_range(k, &c->imin, &c->imax, &c->bound_pos, &c->bound_neg);
        } else if (k == SF_T_NUMERIC) {
            c->fit = FIT_NUMERIC;
        } else if (k == SF_T_FLOAT4 || k == SF_T_FLOAT8) {
            c->fit = FIT_FLOAT;
        } else if (k != SF_T_OPAQUE) {
            goto wrong_type;
        }
        break;
    case SF_RULE_DATE_SHIFT:
        if (k != SF_T_DATE && k != SF_T_TIMESTAMP && k != SF_T_TIMESTAMPTZ && k != SF_T_OPAQUE)
            goto wrong_type;
        break;
    case SF_RULE_EXPR:
        if (is_int_kind(k)) {
            c->fit = FIT_INT;
            int_range(k, &c->imin, &c->imax, &c->bound_pos, &c->bound_neg);
        } else if (k == SF_T_NUMERIC) {
            c->fit = FIT_NUMERIC;
        } else if (k == SF_T_FLOAT4 || k == SF_T_FLOAT8) {
            c->fit = FIT_FLOAT;
        } else if (k != SF_T_OPAQUE && k != SF_T_TEXT) {
            goto wrong_type;
        }
        break;
    default:
        break;
    }
    if (sf_buf_addf(&sig, "%s#%s", r->sig, fit) < 0) {
        sf_buf_free(&sig);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    c->slot_hash = sf_memo_hash(sig.ptr, sig.len, 0);
    c->slot_sig = sf_buf_detach(&sig, NULL);
    return 0;
wrong_type:
    return plan_error(err, SF_ECONFIG, p, i, r->node, "rule %s cannot produce values of the column's type %s", rn, tn);
}

/* by: and expr references. */
static int bind_refs(sf_tableplan *p, size_t i, sf_error *err)
{
    colplan *c = &p->cols[i];
    const sf_rule *r = c->rule;
    c->by = -1;
    if (r->by) {
        if ((c->by = col_index(p, r->by)) < 0)
            return plan_error(err, SF_ECONFIG, p, i, r->by_node, "by: names column '%s', which the table does not have", r->by);
        p->cols[c->by].read_by_other = 1;
    }
    if (r->kind == SF_RULE_EXPR) {
        char msg[128];
        size_t at;
        if (sf_expr_parse(&c->expr, r->expr, strlen(r->expr), &at, msg, sizeof(msg)) < 0)
            return plan_error(err, SF_ECONFIG, p, i, r->node, "expr: %s at offset %zu", msg, at);
        if (!(c->expr_cols = calloc(sf_expr_nrefs(c->expr) + 1, sizeof(size_t))))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        for (size_t j = 0; j < sf_expr_nrefs(c->expr); j++) {
            const char *ref = sf_expr_ref(c->expr, j);
            int ci = col_index(p, ref);
            if (ci < 0)
                return plan_error(err, SF_ECONFIG, p, i, r->node, "expr references column '%s', which the table does not have", ref);
            if ((size_t)ci == i)
                return plan_error(err, SF_ECONFIG, p, i, r->node, "expr references its own column");
            if (p->cols[ci].rule && p->cols[ci].rule->kind == SF_RULE_EXPR)
                return plan_error(err, SF_ECONFIG, p, i, r->node, "expr references '%s', which is itself an expr column", ref);
            c->expr_cols[j] = (size_t)ci;
            p->cols[ci].read_by_other = 1;
        }
        p->has_expr = 1;
    }
    return 0;
}

int sf_tableplan_new(sf_tableplan **out, const sf_mask_policy *pol, const char *schema, const char *table,
                     const char *const *cols, const sf_coltype *types, size_t ncols, int strict, sf_error *err)
{
    const sf_policy_table *pt = sf_policy_find(pol, schema, table);
    sf_tableplan *p;
    sf_buf qn = SF_BUF_INIT;
    int rc = 0;

    *out = NULL;
    if (!(p = calloc(1, sizeof(*p))) || !(p->cols = calloc(ncols ? ncols : 1, sizeof(*p->cols))) ||
        !(p->names = calloc(ncols ? ncols : 1, sizeof(char *)))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto fail;
    }
    p->id = atomic_fetch_add(&next_plan_id, 1);
    p->ncols = ncols;
    if (sf_ident_quote(&qn, schema, strlen(schema)) < 0 || sf_buf_addc(&qn, '.') < 0 ||
        sf_ident_quote(&qn, table, strlen(table)) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto fail;
    }
    p->qname = sf_buf_detach(&qn, NULL);
    for (size_t i = 0; i < ncols; i++) {
        if (!(p->names[i] = strdup(cols[i]))) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto fail;
        }
        p->cols[i].type = types[i];
        p->cols[i].sensitive = sf_policy_is_sensitive(pol, cols[i]);
        p->cols[i].by = -1;
    }
    if (pt) {
        for (size_t j = 0; j < pt->nrules; j++) {
            const sf_rule *r = &pt->rules[j];
            int ci = col_index(p, r->column);
            if (ci < 0) {
                sf_buf cn = SF_BUF_INIT;
                (void)sf_ident_quote(&cn, r->column, strlen(r->column));
                rc = sf_node_error(err, SF_ECONFIG, r->key, "%s has no column %s", p->qname, cn.ptr);
                sf_buf_free(&cn);
                goto fail;
            }
            p->cols[ci].rule = r;
        }
        for (size_t i = 0; i < ncols; i++)
            if (p->cols[i].rule && ((rc = fit_rule(p, i, err)) || (rc = bind_refs(p, i, err))))
                goto fail;
    }
    if (strict)
        for (size_t i = 0; i < ncols; i++)
            if (p->cols[i].sensitive && !p->cols[i].rule) {
                sf_buf cn = SF_BUF_INIT;
                (void)sf_ident_quote(&cn, cols[i], strlen(cols[i]));
                rc = sf_error_set(err, SF_EPOLICY, "strict mode: no masking rule for sensitive column %s.%s", p->qname,
                                  cn.ptr);
                sf_buf_free(&cn);
                goto fail;
            }
    p->identity = 1;
    if (!(p->active = calloc(ncols ? ncols : 1, sizeof(size_t))) || !(p->exprs = calloc(ncols ? ncols : 1, sizeof(size_t))) ||
        !(p->opnds = calloc(ncols ? ncols : 1, sizeof(size_t)))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ncols; i++) {
        colplan *c = &p->cols[i];
        if (!sf_tableplan_masks(p, i))
            continue;
        p->identity = 0;
        if (c->rule->kind == SF_RULE_EXPR) {
            p->exprs[p->nexprs++] = i;
        } else {
            p->active[p->nactive++] = i;
            c->in_scratch = c->rule->kind != SF_RULE_NULL && c->rule->kind != SF_RULE_FIXED;
        }
    }
    /* expr reads its operands from out (their masked values), so untransformed operands are copied there */
    for (size_t i = 0; i < ncols; i++)
        if (!sf_tableplan_masks(p, i) && p->has_expr && p->cols[i].read_by_other)
            p->opnds[p->nopnds++] = i;
    *out = p;
    return 0;
fail:
    sf_buf_free(&qn);
    sf_tableplan_free(p);
    return rc;
}

void sf_tableplan_free(sf_tableplan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ncols; i++) {
        if (p->names)
            free(p->names[i]);
        if (p->cols) {
            sf_expr_free(p->cols[i].expr);
            free(p->cols[i].expr_cols);
            free(p->cols[i].words[0]);
            free(p->cols[i].words[1]);
            free(p->cols[i].slot_sig);
        }
    }
    free(p->names);
    free(p->cols);
    free(p->active);
    free(p->exprs);
    free(p->opnds);
    free(p->qname);
    free(p);
}

int sf_tableplan_identity(const sf_tableplan *p)
{
    return p->identity;
}

size_t sf_tableplan_ncols(const sf_tableplan *p)
{
    return p->ncols;
}

int sf_tableplan_masks(const sf_tableplan *p, size_t i)
{
    return i < p->ncols && p->cols[i].rule && p->cols[i].rule->kind != SF_RULE_KEEP;
}

int sf_tableplan_reads(const sf_tableplan *p, size_t i)
{
    /* `null` needs only to know whether the value is NULL, which the raw field says */
    return i < p->ncols && ((sf_tableplan_masks(p, i) && p->cols[i].rule->kind != SF_RULE_NULL) ||
                            p->cols[i].read_by_other);
}

const char *sf_tableplan_rule(const sf_tableplan *p, size_t i)
{
    return i < p->ncols && p->cols[i].rule ? sf_rule_kind_name(p->cols[i].rule->kind) : NULL;
}

int sf_tableplan_sensitive(const sf_tableplan *p, size_t i)
{
    return i < p->ncols && p->cols[i].sensitive;
}

/* ---- row context ------------------------------------------------------------------ */

typedef struct rstate {
    char *sig;
    uint64_t hash;
    sf_prf prf;
    sf_fpe *fpe;          /* digits / alnum */
    unsigned char fpe_keys[72];
    int fpe_ready;
    struct rstate *next;
} rstate;

typedef struct slot {
    char *sig;
    uint64_t hash;
    rstate *rs;
    sf_memo memo;
    struct slot *next;
} slot;

#define SLOT_BUCKETS 64

struct sf_rowctx {
    const sf_mask_key *key;
    rstate *states;
    slot *buckets[SLOT_BUCKETS];
    uint64_t slots_id;    /* plan whose slots are in colslot */
    slot **colslot;       /* per column of that plan: its rule's slot */
    sf_buf scratch;
    sf_buf tmp;
    size_t *off;          /* per row and column: scratch offset of its masked value, or SIZE_MAX (value in out) */
    size_t *len;
    sf_sdec *sv;          /* per row and column of noise: its masked number when the fast path gave it (scale -1: not) */
    size_t cols_cap, cells_cap;
    sf_dec *vals;         /* expr operands */
    sf_sdec *svals;       /* the same as small decimals */
    size_t vals_cap;
    /* digits / alnum of one column over a batch of rows (fpe_column) */
    uint8_t *fnum;        /* the numerals being encrypted (plaintext: wiped when moved or freed) */
    uint16_t *fpos;       /* per numeral: its offset in its value (values up to 65536 bytes) */
    size_t fnum_cap;      /* entries of fnum and fpos */
    struct fpe_work *fw;  /* the batch's values, runs per domain, misses, repeats */
    /* PRF batches of one column: messages, their rows, outputs */
    const void *mptr[SF_TABLEPLAN_MAX_ROWS];
    size_t mlen[SF_TABLEPLAN_MAX_ROWS];
    unsigned char mtag[SF_TABLEPLAN_MAX_ROWS];
    size_t mrow[SF_TABLEPLAN_MAX_ROWS];     /* prf_column: per row, its message (SIZE_MAX: none) */
    size_t moff[SF_TABLEPLAN_MAX_ROWS];     /* prf_column: citext messages' offsets in tmp */
    unsigned char prfblk[SF_TABLEPLAN_MAX_ROWS * SF_PRF_LEN];
    unsigned char prfout[SF_TABLEPLAN_MAX_ROWS * SF_PRF_LEN * ((SF_TOKEN_MAX_LEN * 5 + 127) / 128)];
    uint64_t ku[SF_TABLEPLAN_MAX_ROWS];     /* keyed_column: per row */
    uint64_t hash[SF_TABLEPLAN_MAX_ROWS];   /* fpe_column: per row, the memo hash of its value */
    unsigned char use[SF_TABLEPLAN_MAX_ROWS]; /* fpe_column: per row, the memo is used */
};

int sf_rowctx_new(sf_rowctx **out, const sf_mask_key *key, sf_error *err)
{
    sf_rowctx *c;
    *out = NULL;
    if (!key)
        return sf_error_set(err, SF_EUSAGE, "a masking key is required");
    c = calloc(1, sizeof(*c));
    if (!c)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    c->key = key;
    *out = c;
    return 0;
}

void sf_rowctx_free(sf_rowctx *ctx)
{
    if (!ctx)
        return;
    for (size_t b = 0; b < SLOT_BUCKETS; b++)
        for (slot *s = ctx->buckets[b], *n; s; s = n) {
            n = s->next;
            if (s->memo.total_lookups)
                sf_log(SF_LOG_DEBUG, "memo %s: %llu lookups, %llu hits (%.1f%%), %zu entries", s->sig,
                       (unsigned long long)s->memo.total_lookups, (unsigned long long)s->memo.total_hits,
                       100.0 * (double)s->memo.total_hits / (double)s->memo.total_lookups, s->memo.nsets * 8);
            sf_memo_free(&s->memo);
            free(s->sig);
            free(s);
        }
    for (rstate *r = ctx->states, *n; r; r = n) {
        n = r->next;
        sf_prf_cleanup(&r->prf);
        sf_fpe_free(r->fpe);
        OPENSSL_cleanse(r->fpe_keys, sizeof(r->fpe_keys));
        free(r->sig);
        free(r);
    }
    free(ctx->colslot);
    sf_buf_free(&ctx->scratch);
    sf_buf_free(&ctx->tmp);
    free(ctx->off);
    free(ctx->len);
    free(ctx->sv);
    free(ctx->vals);
    free(ctx->svals);
    if (ctx->fnum)
        OPENSSL_cleanse(ctx->fnum, ctx->fnum_cap);
    free(ctx->fnum);
    free(ctx->fpos);
    free(ctx->fw);
    free(ctx);
}

static int get_rstate(sf_rowctx *ctx, const sf_rule *r, rstate **out, sf_error *err)
{
    uint64_t h = sf_memo_hash(r->sig, strlen(r->sig), 1);
    unsigned char keys[SF_PRF_KEYLEN + sizeof(((rstate *)0)->fpe_keys)];
    sf_buf info = SF_BUF_INIT;
    rstate *s;
    int rc;
    for (s = ctx->states; s; s = s->next)
        if (s->hash == h && strcmp(s->sig, r->sig) == 0) {
            *out = s;
            return 0;
        }
    if (!(s = calloc(1, sizeof(*s))) || !(s->sig = strdup(r->sig))) {
        free(s);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    s->hash = h;
    /* One HKDF expansion per rule: PRF key, FF3-1 key, permutation key, tweak. */
    if (sf_buf_adds(&info, SUBKEY_INFO) < 0 || sf_buf_adds(&info, r->sig) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = sf_mask_key_hkdf(ctx->key, info.ptr, info.len, keys, sizeof(keys), err)) ||
        (rc = sf_prf_init(&s->prf, keys, err)))
        goto fail;
    memcpy(s->fpe_keys, keys + SF_PRF_KEYLEN, sizeof(s->fpe_keys));
    OPENSSL_cleanse(keys, sizeof(keys));
    sf_buf_free(&info);
    s->next = ctx->states;
    ctx->states = s;
    *out = s;
    return 0;
fail:
    OPENSSL_cleanse(keys, sizeof(keys));
    sf_buf_free(&info);
    sf_prf_cleanup(&s->prf);
    free(s->sig);
    free(s);
    return rc;
}

static int get_fpe(rstate *rs, sf_fpe **out, sf_error *err)
{
    if (!rs->fpe) {
        int rc = sf_fpe_new(&rs->fpe, rs->fpe_keys, rs->fpe_keys + 32, rs->fpe_keys + 64, err);
        if (rc)
            return rc;
    }
    *out = rs->fpe;
    return 0;
}

static int get_slot(sf_rowctx *ctx, const colplan *c, slot **out, sf_error *err)
{
    size_t b = c->slot_hash % SLOT_BUCKETS;
    slot *s;
    int rc;
    for (s = ctx->buckets[b]; s; s = s->next)
        if (s->hash == c->slot_hash && strcmp(s->sig, c->slot_sig) == 0) {
            *out = s;
            return 0;
        }
    if (!(s = calloc(1, sizeof(*s))) || !(s->sig = strdup(c->slot_sig))) {
        free(s);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if ((rc = get_rstate(ctx, c->rule, &s->rs, err))) {
        free(s->sig);
        free(s);
        return rc;
    }
    s->hash = c->slot_hash;
    sf_memo_init(&s->memo);
    s->next = ctx->buckets[b];
    ctx->buckets[b] = s;
    *out = s;
    return 0;
}

static int prepare(sf_rowctx *ctx, const sf_tableplan *p, size_t nrows, sf_error *err)
{
    int rc;
    if (p->ncols > ctx->cols_cap) {
        slot **cs = realloc(ctx->colslot, p->ncols * sizeof(slot *));
        if (!cs)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        ctx->colslot = cs;
        ctx->cols_cap = p->ncols;
        ctx->slots_id = 0;
    }
    if (p->ncols * nrows > ctx->cells_cap) {
        size_t n = p->ncols * nrows;
        size_t *off = realloc(ctx->off, n * sizeof(size_t));
        size_t *len = off ? realloc(ctx->len, n * sizeof(size_t)) : NULL;
        sf_sdec *sv = len ? realloc(ctx->sv, n * sizeof(sf_sdec)) : NULL;
        if (off)
            ctx->off = off;
        if (len)
            ctx->len = len;
        if (sv)
            ctx->sv = sv;
        if (!off || !len || !sv)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        ctx->cells_cap = n;
    }
    if (ctx->slots_id == p->id)
        return 0;
    for (size_t i = 0; i < p->ncols; i++) {
        const colplan *c = &p->cols[i];
        ctx->colslot[i] = NULL;
        if (c->rule && c->rule->kind != SF_RULE_KEEP && c->rule->kind != SF_RULE_NULL &&
            c->rule->kind != SF_RULE_FIXED && c->rule->kind != SF_RULE_EXPR &&
            (rc = get_slot(ctx, c, &ctx->colslot[i], err)))
            return rc;
    }
    ctx->slots_id = p->id;
    return 0;
}

/* ---- the transformers --------------------------------------------------------------- */

typedef struct {
    const sf_tableplan *p;
    size_t col;
    sf_error *err;
} mctx;

static int value_error(const mctx *m, const char *what)
{
    sf_buf cn = SF_BUF_INIT;
    int rc;
    (void)sf_ident_quote(&cn, m->p->names[m->col], strlen(m->p->names[m->col]));
    rc = sf_error_set(m->err, SF_EFORMAT, "cannot mask %s.%s (%s): %s", m->p->qname, cn.ptr,
                      sf_rule_kind_name(m->p->cols[m->col].rule->kind), what);
    sf_buf_free(&cn);
    return rc;
}

static int crypto_failed(const mctx *m)
{
    return sf_error_set(m->err, SF_ECRYPTO, "masking %s: the PRF failed", m->p->qname);
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/*
 * The eight base32 characters of a 40-bit group v (character 0 = its top
 * five bits) as eight bytes, character 0 in the low byte: the group split
 * into two 20-bit lanes, then 10-bit, then 5-bit ones in the word's bytes
 * (no lane's bits reach the next), and 0..25 -> 'a'..'z', 26..31 -> '2'..'7'
 * on all bytes at once (b + 102 has its top bit set exactly when b >= 26).
 */
static inline uint64_t base32_group(uint64_t v)
{
    uint64_t w = v >> 20 | (v & 0xFFFFF) << 32, ge;
    w = (w >> 10 & 0x000003FF000003FFull) | (w & 0x000003FF000003FFull) << 16;
    w = (w >> 5 & 0x001F001F001F001Full) | (w & 0x001F001F001F001Full) << 8;
    ge = ((w + 0x6666666666666666ull) & 0x8080808080808080ull) >> 7;
    return w + 0x6161616161616161ull - ge * 73;
}

/*
 * n base32 characters of the PRF blocks blk (5 bits each, 25 per block):
 * character i is bits [5i, 5i + 5) of the blocks' bytes, most significant
 * first, so every 5 bytes give 8 characters.
 */
static inline void base32(const unsigned char *blk, int n, char *out)
{
    int i = 0;
    for (; i + 8 <= n; i += 8, blk += 5) {
        uint64_t v = (uint64_t)blk[0] << 32 | (uint64_t)blk[1] << 24 | (uint64_t)blk[2] << 16 | (uint64_t)blk[3] << 8 | blk[4];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t c = base32_group(v);
        memcpy(out + i, &c, 8);
#else
        char *o = out + i;
        o[0] = b32[v >> 35 & 31];
        o[1] = b32[v >> 30 & 31];
        o[2] = b32[v >> 25 & 31];
        o[3] = b32[v >> 20 & 31];
        o[4] = b32[v >> 15 & 31];
        o[5] = b32[v >> 10 & 31];
        o[6] = b32[v >> 5 & 31];
        o[7] = b32[v & 31];
#endif
    }
    if (i < n) {
        /* the last characters read only the bytes they need */
        size_t need = (size_t)(5 * (n - i) + 7) / 8;
        uint64_t v = 0;
        for (size_t j = 0; j < 5; j++)
            v = v << 8 | (j < need ? blk[j] : 0);
        for (int j = 0; i + j < n; j++)
            out[i + j] = b32[(v >> (35 - 5 * j)) & 31];
    }
}

/* PRF blocks a token of n characters takes. */
static int token_blocks(int n)
{
    return (n * 5 + 8 * SF_PRF_LEN - 1) / (8 * SF_PRF_LEN);
}

/*
 * A token, e-mail or dictionary value from the value's PRF blocks: block 1
 * is PRF('T' or 'D', value), each further block the PRF of the previous one
 * under the next tag ('U', 'V', ...).
 */
static int fmt_prf(const mctx *m, const unsigned char *blk, sf_buf *dst)
{
    const colplan *c = &m->p->cols[m->col];
    size_t start = dst->len, idx = (size_t)sf_prf_u64(blk);
    char tok[SF_TOKEN_MAX_LEN];
    int rc = 0;
    switch (c->rule->kind) {
    case SF_RULE_TOKEN:
        base32(blk, c->toklen, tok);
        rc = c->rule->prefix ? sf_buf_adds(dst, c->rule->prefix) : 0;
        rc = rc ? rc : sf_buf_add(dst, tok, (size_t)c->toklen);
        break;
    case SF_RULE_EMAIL: {
        /* token '@' domain, written in place */
        size_t dl = c->domain_len;
        char *o;
        if ((rc = sf_buf_grow(dst, SF_EMAIL_TOKEN_LEN + 1 + dl)) < 0)
            break;
        o = dst->ptr + dst->len;
        base32(blk, SF_EMAIL_TOKEN_LEN, o);
        o[SF_EMAIL_TOKEN_LEN] = '@';
        memcpy(o + SF_EMAIL_TOKEN_LEN + 1, c->domain, dl + 1);
        dst->len += SF_EMAIL_TOKEN_LEN + 1 + dl;
        break;
    }
    case SF_RULE_NAME: {
        /* "First Last", written in place */
        const dictword *f = &c->words[0][idx % c->nwords[0]],
                       *l = &c->words[1][(size_t)sf_prf_u64(blk + 8) % c->nwords[1]];
        char *o;
        if ((rc = sf_buf_grow(dst, f->len + 1 + l->len)) < 0)
            break;
        o = dst->ptr + dst->len;
        memcpy(o, f->w, f->len);
        o[f->len] = ' ';
        memcpy(o + f->len + 1, l->w, l->len + 1);
        dst->len += f->len + 1 + l->len;
        break;
    }
    case SF_RULE_STREET: {
        const dictword *w = &c->words[0][idx % c->nwords[0]];
        rc = sf_buf_add(dst, w->w, w->len);
        rc = rc ? rc : sf_buf_addf(dst, " %u", (unsigned)(sf_prf_u64(blk + 8) % 199) + 1);
        break;
    }
    default: {
        const dictword *w = &c->words[0][idx % c->nwords[0]];
        rc = sf_buf_add(dst, w->w, w->len);
        break;
    }
    }
    if (rc < 0)
        return sf_error_set(m->err, SF_ENOMEM, "out of memory");
    if (c->maxchars >= 0 && !c->dict_fits && c->rule->kind != SF_RULE_TOKEN && c->rule->kind != SF_RULE_EMAIL) {
        /* no more bytes than characters allowed: it fits as it is */
        size_t keep = dst->len - start <= (size_t)c->maxchars
                          ? dst->len - start
                          : utf8_prefix(dst->ptr + start, dst->len - start, (size_t)c->maxchars);
        /* do not leave a trailing space after cutting "First Last" */
        while (keep > 0 && dst->ptr[start + keep - 1] == ' ')
            keep--;
        sf_buf_truncate(dst, start + keep);
    }
    return 0;
}

/* Digits d[0..n) (an integer part, most significant first) meet the integer constraints? */
static int int_ok(const char *d, size_t n, const char *bound)
{
    if (n >= 2 && d[0] == '0')
        return 0;
    if (bound) {
        size_t bl = strlen(bound);
        if (n > bl)
            return 0;
        if (n == bl)
            for (size_t i = 0; i < n; i++) {
                if (d[i] != bound[i])
                    return d[i] < bound[i];
            }
    }
    return 1;
}

/*
 * digits and alnum work column by column over a batch of rows: each value
 * that misses the memo is copied into scratch and scanned once, its
 * numerals going straight into ctx->fnum (and their offsets into
 * ctx->fpos) as at most two runs (letters and digits, integer and fraction
 * part, or the text's digits), each listed under its domain. Each domain's
 * runs are encrypted together (sf_fpe_encrypt_many: FF3-1 rounds
 * interleaved), then the numerals go back to their offsets; values longer
 * than 65536 bytes (offsets do not fit) are scanned again instead, by the
 * same rule that took the numerals out.
 */
typedef struct fpe_val {
    size_t at, len;      /* scratch offset and length of the value's copy */
    size_t num[2], n[2]; /* its runs: ctx->fnum offsets and numerals encrypted (after those kept) */
    size_t nint, ikeep;  /* integers and numerics: digits before the point, and of them kept */
    unsigned char neg;   /* integers and numerics: 1 after a leading '-' */
    unsigned char scan;  /* longer than 65536 bytes: put back by scanning, not by offsets */
    unsigned char vec;   /* scanned by the vector path: put back through mask, not offsets */
    uint64_t mask[2];    /* vec: the byte positions of run 0's and run 1's numerals */
    const char *src;     /* vec: the original value (what the copy holds until put back) */
} fpe_val;

typedef struct fpe_work {
    fpe_val v[SF_TABLEPLAN_MAX_ROWS];          /* the values to encrypt, in row order */
    uint8_t *x[2][SF_TABLEPLAN_MAX_ROWS];      /* per domain: its runs' numerals */
    size_t xn[2][SF_TABLEPLAN_MAX_ROWS];
    size_t xv[SF_TABLEPLAN_MAX_ROWS];          /* cycle walking: the values whose integer part walks on */
    size_t miss[SF_TABLEPLAN_MAX_ROWS];        /* rows encrypted, their hashes */
    uint64_t miss_h[SF_TABLEPLAN_MAX_ROWS];
    size_t dup[SF_TABLEPLAN_MAX_ROWS][2];      /* (row, earlier row with the same value) */
    size_t pend[SF_TABLEPLAN_MAX_ROWS];        /* rows to remember (misses that used the memo) */
} fpe_work;

#define PREFETCH_AHEAD 12 /* rows between fetching a memo set's tags and its entry */

/* memcpy for the short values of these columns without a call: two overlapping moves up to 16 bytes. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n > 0) {
        memcpy(dst, src, n);
    }
}

/*
 * The value of cell just written to scratch at start: its offset and length,
 * and out[cell] pointing at it (valid unless scratch moves before the batch
 * ends, in which case sf_tableplan_mask_rows points out again from the
 * offsets).
 */
static inline void put_out(sf_rowctx *ctx, sf_field *out, size_t cell, size_t start)
{
    ctx->off[cell] = start;
    ctx->len[cell] = ctx->scratch.len - start;
    out[cell].ptr = ctx->scratch.ptr + start;
    out[cell].len = ctx->scratch.len - start;
    out[cell].null = 0;
}

/* The kinds of digits/alnum columns: their two domains and radixes. */
enum { FK_TEXT, FK_ALNUM, FK_NUMBER };
static const unsigned fk_dom[3][2] = {{DOM_TEXT_DIGITS, 0}, {DOM_ALNUM_LETTERS, DOM_ALNUM_DIGITS},
                                      {DOM_INT_PART, DOM_FRAC_PART}};
static const unsigned fk_radix[3][2] = {{10, 10}, {26, 10}, {10, 10}};

/* Room in ctx->fnum and ctx->fpos for `need` numerals (the batch's, reserved once: pointers into them stay valid). */
static int grow(sf_rowctx *ctx, size_t need)
{
    size_t cap = ctx->fnum_cap;
    uint8_t *num;
    uint16_t *pos;
    if (need <= cap)
        return 0;
    while (cap < need)
        cap = cap ? cap * 2 : 1024;
    num = malloc(cap);
    pos = num ? malloc(cap * sizeof(uint16_t)) : NULL;
    if (!pos) {
        free(num);
        return -1;
    }
    /* numerals are plaintext: wiped when they move */
    if (ctx->fnum) {
        OPENSSL_cleanse(ctx->fnum, ctx->fnum_cap);
        free(ctx->fnum);
    }
    free(ctx->fpos);
    ctx->fnum = num;
    ctx->fpos = pos;
    ctx->fnum_cap = cap;
    return 0;
}

/* The work area of fpe_column, allocated on first use. */
static int task_room(sf_rowctx *ctx)
{
    if (!ctx->fw && !(ctx->fw = malloc(sizeof(*ctx->fw))))
        return -1;
    return 0;
}

/* A value's run d (numerals at ctx->fnum + num, n of them) joins its domain's list. */
static void add_task(sf_rowctx *ctx, size_t *cnt, unsigned d, fpe_val *fv, size_t num, size_t n)
{
    fv->num[d] = num;
    fv->n[d] = n;
    if (n) {
        ctx->fw->x[d][cnt[d]] = ctx->fnum + num;
        ctx->fw->xn[d][cnt[d]++] = n;
    }
}

/* The runs of a digits value: the text's digits after `keep`, or an integer's / numeric's two parts. */
static int prep_digits(const mctx *m, sf_rowctx *ctx, const sf_field *in, fpe_val *fv, size_t *nnum, size_t *cnt)
{
    const colplan *c = &m->p->cols[m->col];
    size_t n = 0, keep = (size_t)c->rule->keep_leading, base = *nnum;
    const char *v = in->ptr;
    uint8_t *x = ctx->fnum + base;
    fv->neg = 0;
    fv->nint = fv->ikeep = 0;
    if (c->fit == FIT_INT || c->fit == FIT_NUMERIC) {
        /* [-]digits[.digits] exactly */
        int neg = in->len > 0 && v[0] == '-';
        size_t i = neg ? 1 : 0, nint = 0, nfrac, int_keep, frac_keep;
        int dot = 0;
        for (; i < in->len; i++) {
            if (v[i] >= '0' && v[i] <= '9')
                n++;
            else if (v[i] == '.' && c->fit == FIT_NUMERIC && !dot)
                dot = 1, nint = n;
            else
                break;
        }
        if (!dot)
            nint = n;
        if (i != in->len || nint == 0) {
            if (c->fit == FIT_NUMERIC && (ci_eq(v, in->len, "nan") || ci_eq(v + neg, in->len - neg, "infinity"))) {
                add_task(ctx, cnt, 0, fv, base, 0);
                add_task(ctx, cnt, 1, fv, base, 0);
                return 0;
            }
            return value_error(m, c->fit == FIT_INT ? "value is not an integer" : "value is not a number");
        }
        {
            const char *bound = c->fit == FIT_INT ? (neg ? c->bound_neg : c->bound_pos) : NULL;
            /* numeric(p,s) with p == s holds only "0" before the point: nothing to permute there */
            int_keep = c->fit == FIT_NUMERIC && c->type.precision >= 0 &&
                               (size_t)(c->type.precision - c->type.scale) < nint
                           ? nint
                           : (keep < nint ? keep : nint);
            if (!int_ok(v + neg, nint, bound))
                return value_error(m, "value is not a canonical integer");
        }
        nfrac = n - nint;
        frac_keep = keep > nint ? keep - nint : 0;
        if (frac_keep > nfrac)
            frac_keep = nfrac;
        fv->neg = (unsigned char)neg;
        fv->nint = nint;
        fv->ikeep = int_keep;
        for (size_t k = int_keep; k < nint; k++)
            x[k - int_keep] = (uint8_t)(v[neg + k] - '0');
        add_task(ctx, cnt, 0, fv, base, nint - int_keep);
        base += nint - int_keep;
        x = ctx->fnum + base;
        for (size_t k = frac_keep; k < nfrac; k++)
            x[k - frac_keep] = (uint8_t)(v[neg + nint + 1 + k] - '0');
        add_task(ctx, cnt, 1, fv, base, nfrac - frac_keep);
        *nnum = base + nfrac - frac_keep;
        return 0;
    }
    {
        const size_t len = in->len;
        size_t i = 0;
        uint16_t *q = ctx->fpos + base;
        for (size_t seen = 0; seen < keep && i < len; i++)
            seen += (unsigned)(unsigned char)v[i] - '0' < 10;
        for (; i < len; i++) {
            unsigned d = (unsigned)(unsigned char)v[i] - '0';
            /* n <= i: inside the value's share of ctx->fnum / fpos */
            x[n] = (uint8_t)d;
            q[n] = (uint16_t)i;
            n += d < 10;
        }
    }
    add_task(ctx, cnt, 0, fv, base, n);
    *nnum = base + n;
    return 0;
}

/* Per byte: 0x40 | numeral for ASCII letters (either case), 0x80 | numeral for digits, 0 otherwise. */
#define AN_LETTER 0x40
#define AN_DIGIT 0x80
static const unsigned char alnum_info[256] = {
    ['0'] = 0x80 | 0, ['1'] = 0x80 | 1, ['2'] = 0x80 | 2, ['3'] = 0x80 | 3, ['4'] = 0x80 | 4, ['5'] = 0x80 | 5,
    ['6'] = 0x80 | 6, ['7'] = 0x80 | 7, ['8'] = 0x80 | 8, ['9'] = 0x80 | 9, ['A'] = 0x40 | 0, ['B'] = 0x40 | 1,
    ['C'] = 0x40 | 2, ['D'] = 0x40 | 3, ['E'] = 0x40 | 4, ['F'] = 0x40 | 5, ['G'] = 0x40 | 6, ['H'] = 0x40 | 7,
    ['I'] = 0x40 | 8, ['J'] = 0x40 | 9, ['K'] = 0x40 | 10, ['L'] = 0x40 | 11, ['M'] = 0x40 | 12, ['N'] = 0x40 | 13,
    ['O'] = 0x40 | 14, ['P'] = 0x40 | 15, ['Q'] = 0x40 | 16, ['R'] = 0x40 | 17, ['S'] = 0x40 | 18, ['T'] = 0x40 | 19,
    ['U'] = 0x40 | 20, ['V'] = 0x40 | 21, ['W'] = 0x40 | 22, ['X'] = 0x40 | 23, ['Y'] = 0x40 | 24, ['Z'] = 0x40 | 25,
    ['a'] = 0x40 | 0, ['b'] = 0x40 | 1, ['c'] = 0x40 | 2, ['d'] = 0x40 | 3, ['e'] = 0x40 | 4, ['f'] = 0x40 | 5,
    ['g'] = 0x40 | 6, ['h'] = 0x40 | 7, ['i'] = 0x40 | 8, ['j'] = 0x40 | 9, ['k'] = 0x40 | 10, ['l'] = 0x40 | 11,
    ['m'] = 0x40 | 12, ['n'] = 0x40 | 13, ['o'] = 0x40 | 14, ['p'] = 0x40 | 15, ['q'] = 0x40 | 16, ['r'] = 0x40 | 17,
    ['s'] = 0x40 | 18, ['t'] = 0x40 | 19, ['u'] = 0x40 | 20, ['v'] = 0x40 | 21, ['w'] = 0x40 | 22, ['x'] = 0x40 | 23,
    ['y'] = 0x40 | 24, ['z'] = 0x40 | 25};

/*
 * The letters run and the digits run of an alnum value (after the first
 * `keep` letters and digits). The kept prefix is skipped first; then the
 * loop is branch-free (letters, digits and the rest come in no predictable
 * order): every character stores its numeral and offset at both runs' ends
 * and only the matching run advances.
 */
static void prep_alnum(const mctx *m, sf_rowctx *ctx, const sf_field *in, fpe_val *fv, size_t *nnum, size_t *cnt)
{
    /* locals: the numeral stores (uint8_t) may alias anything, so nothing is re-read through a pointer */
    const size_t keep = (size_t)m->p->cols[m->col].rule->keep_leading, base = *nnum, len = in->len;
    size_t nl = 0, nd = 0, i = 0;
    const unsigned char *v = (const unsigned char *)in->ptr;
    /* letters from base up, digits from base + the value's length up (2 * length at most) */
    uint8_t *lp = ctx->fnum + base, *dp = lp + len;
    uint16_t *lq = ctx->fpos + base, *dq = lq + len;
    for (size_t seen = 0; seen < keep && i < len; i++)
        seen += alnum_info[v[i]] != 0;
    for (; i < len; i++) {
        unsigned info = alnum_info[v[i]];
        lp[nl] = (uint8_t)(info & 0x3f);
        lq[nl] = (uint16_t)i;
        dp[nd] = (uint8_t)(info & 0x3f);
        dq[nd] = (uint16_t)i;
        nl += (info >> 6) & 1;
        nd += info >> 7;
    }
    add_task(ctx, cnt, 0, fv, base, nl);
    add_task(ctx, cnt, 1, fv, base + len, nd);
    *nnum = base + len + nd;
}

#if SF_SCAN_AVX512
#define SCAN_TARGET "avx512f,avx512bw,avx512vbmi2"

/* The mask of bytes [0, n), n <= 64. */
static inline uint64_t low_bytes(size_t n)
{
    return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

/* The bits of m above its lowest k set ones (the numerals after the kept prefix). */
static inline uint64_t drop_low_bits(uint64_t m, size_t k)
{
    for (; k > 0 && m; k--)
        m &= m - 1;
    return m;
}

/*
 * prep_alnum (kind FK_ALNUM) or prep_digits on text (FK_TEXT) for a value
 * of at most 64 bytes, with AVX-512 VBMI2 (chosen at run time): the value
 * in one masked load, letters and digits classified in two compares, each
 * run's numerals packed by one compress and stored; the positions are kept
 * as bit masks (fv->mask) instead of 16-bit offsets, for put_back_vec. The
 * same runs in ctx->fnum as the byte loops.
 */
__attribute__((target(SCAN_TARGET))) static void prep_vec(int kind, size_t keep, sf_rowctx *ctx, const sf_field *in,
                                                         fpe_val *fv, size_t *nnum, size_t *cnt)
{
    const size_t base = *nnum, len = in->len;
    const __mmask64 lm = low_bytes(len);
    const __m512i c = _mm512_maskz_loadu_epi8(lm, in->ptr);
    const __m512i d = _mm512_sub_epi8(c, _mm512_set1_epi8('0'));
    uint64_t dm = _mm512_mask_cmplt_epu8_mask(lm, d, _mm512_set1_epi8(10)), lmk = 0, keepm;
    __m512i num = d;
    size_t nl = 0, nd;
    if (kind == FK_ALNUM) {
        const __m512i l = _mm512_sub_epi8(_mm512_or_si512(c, _mm512_set1_epi8(0x20)), _mm512_set1_epi8('a'));
        lmk = _mm512_mask_cmplt_epu8_mask(lm, l, _mm512_set1_epi8(26));
        keepm = drop_low_bits(dm | lmk, keep);
        lmk &= keepm;
        dm &= keepm;
        num = _mm512_mask_blend_epi8(lmk, d, l);
        nl = (size_t)__builtin_popcountll(lmk);
        _mm512_mask_storeu_epi8(ctx->fnum + base, low_bytes(nl), _mm512_maskz_compress_epi8(lmk, num));
    } else {
        dm = drop_low_bits(dm, keep);
    }
    nd = (size_t)__builtin_popcountll(dm);
    /* alnum: digits after the letters' room, as prep_alnum puts them */
    _mm512_mask_storeu_epi8(ctx->fnum + base + (kind == FK_ALNUM ? len : 0), low_bytes(nd),
                            _mm512_maskz_compress_epi8(dm, num));
    fv->vec = 1;
    fv->src = in->ptr;
    if (kind == FK_ALNUM) {
        fv->mask[0] = lmk;
        fv->mask[1] = dm;
        add_task(ctx, cnt, 0, fv, base, nl);
        add_task(ctx, cnt, 1, fv, base + len, nd);
        *nnum = base + len + nd;
    } else {
        fv->mask[0] = dm;
        add_task(ctx, cnt, 0, fv, base, nd);
        *nnum = base + nd;
    }
}

/*
 * put_back for a value prep_vec scanned: each run's numerals expanded to
 * its positions and turned into characters. The value is read from its
 * original (equal to the copy), not from the copy: the copy's 64 bytes
 * overlap the previous value's masked store, which a load would have to
 * wait for.
 */
__attribute__((target(SCAN_TARGET))) static void put_back_vec(int kind, sf_rowctx *ctx, const fpe_val *fv)
{
    char *v = ctx->scratch.ptr + fv->at;
    const __mmask64 m0 = fv->mask[0], m1 = kind == FK_ALNUM ? fv->mask[1] : 0;
    __m512i c = _mm512_maskz_loadu_epi8(low_bytes(fv->len), fv->src);
    __m512i a = _mm512_maskz_expand_epi8(m0, _mm512_maskz_loadu_epi8(low_bytes(fv->n[0]), ctx->fnum + fv->num[0]));
    if (kind == FK_ALNUM) {
        __m512i b = _mm512_maskz_expand_epi8(m1, _mm512_maskz_loadu_epi8(low_bytes(fv->n[1]), ctx->fnum + fv->num[1]));
        /* a letter keeps its case: 'A' or 'a' plus its numeral */
        __m512i base = _mm512_or_si512(_mm512_set1_epi8('A'), _mm512_and_si512(c, _mm512_set1_epi8(0x20)));
        c = _mm512_mask_blend_epi8(m0, c, _mm512_add_epi8(base, a));
        c = _mm512_mask_blend_epi8(m1, c, _mm512_add_epi8(_mm512_set1_epi8('0'), b));
    } else {
        c = _mm512_mask_blend_epi8(m0, c, _mm512_add_epi8(_mm512_set1_epi8('0'), a));
    }
    _mm512_mask_storeu_epi8(v, m0 | m1, c);
}
#endif

int sf_tableplan_simd = -1;

/* The vector scan is there (AVX-512 F, BW, VBMI2) and not turned off by sf_tableplan_simd. */
static int use_scan_vec(void)
{
#if SF_SCAN_AVX512
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vbmi2");
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h && sf_tableplan_simd != 0;
#else
    return 0;
#endif
}

/* The encrypted numerals of value fv back into its copy (the scans of prep_alnum / prep_digits, reversed). */
static void put_back(const colplan *c, int kind, sf_rowctx *ctx, const fpe_val *fv)
{
    char *v = ctx->scratch.ptr + fv->at;
    size_t keep = (size_t)c->rule->keep_leading;
    const uint8_t *a = ctx->fnum + fv->num[0], *b = ctx->fnum + fv->num[1];
    if (kind == FK_NUMBER) {
        const size_t nfrac_enc = fv->n[1], nint_enc = fv->n[0];
        char *d = v + fv->neg + fv->ikeep;
        for (size_t k = 0; k < nint_enc; k++)
            d[k] = (char)('0' + a[k]);
        /* the fraction's encrypted digits are its last ones */
        d = v + fv->len - nfrac_enc;
        for (size_t k = 0; k < nfrac_enc; k++)
            d[k] = (char)('0' + b[k]);
        return;
    }
#if SF_SCAN_AVX512
    if (fv->vec) {
        put_back_vec(kind, ctx, fv);
        return;
    }
#endif
    if (!fv->scan) {
        /* locals: the char stores may alias anything */
        const uint16_t *pa = ctx->fpos + fv->num[0], *pb = ctx->fpos + fv->num[1];
        const size_t n0 = fv->n[0], n1 = fv->n[1];
        if (kind == FK_TEXT) {
            for (size_t k = 0; k < n0; k++)
                v[pa[k]] = (char)('0' + a[k]);
            return;
        }
        for (size_t k = 0; k < n0; k++) {
            char *ch = v + pa[k];
            *ch = (char)((*ch >= 'a' ? 'a' : 'A') + a[k]);
        }
        for (size_t k = 0; k < n1; k++)
            v[pb[k]] = (char)('0' + b[k]);
        return;
    }
    if (kind == FK_TEXT) {
        if (fv->n[0] == 0)
            return;
        for (size_t i = 0, seen = 0, k = 0; i < fv->len; i++) {
            unsigned d = (unsigned)(unsigned char)v[i] - '0', on = d < 10 && seen >= keep;
            seen += d < 10;
            /* a[k] for k == n[0] is the byte after the run: inside ctx->fnum, never used */
            v[i] = on ? (char)('0' + a[k]) : v[i];
            k += on;
        }
        return;
    }
    if (fv->n[0] + fv->n[1] == 0)
        return;
    /* branch-free like prep_alnum; a[ia], b[ib] past their runs stay inside ctx->fnum and are not used */
    for (size_t i = 0, seen = 0, ia = 0, ib = 0; i < fv->len; i++) {
        unsigned c = (unsigned char)v[i], cl = alnum_info[c] >> 6, on = seen >= keep;
        unsigned isl = on & (cl == 1), isd = on & (cl == 2);
        char lc = (char)((c >= 'a' ? 'a' : 'A') + a[ia]), dc = (char)('0' + b[ib]);
        seen += cl != 0;
        v[i] = isl ? lc : isd ? dc : (char)c;
        ia += isl;
        ib += isd;
    }
}

/*
 * Encrypt the batch's runs, one sf_fpe_encrypt_many per domain, and write
 * the numerals back into the values. Integer parts that come out with a
 * leading zero or beyond the bound are encrypted again (cycle walking):
 * the input was valid, so the walk ends at the latest when the cycle
 * returns to it.
 */
static int run_tasks(const mctx *m, sf_rowctx *ctx, sf_fpe *f, int kind, size_t nv, const size_t *cnt)
{
    const colplan *c = &m->p->cols[m->col];
    fpe_work *w = ctx->fw;
    size_t nwalk = 0;
    for (unsigned d = 0; d < 2; d++)
        if (cnt[d] && sf_fpe_encrypt_many(f, fk_radix[kind][d], fk_dom[kind][d], w->x[d], w->xn[d], cnt[d]) < 0)
            return crypto_failed(m);
    for (size_t k = 0; k < nv; k++) {
        const fpe_val *fv = &w->v[k];
        put_back(c, kind, ctx, fv);
        if (kind == FK_NUMBER && fv->n[0]) {
            const char *bound = c->fit == FIT_INT ? (fv->neg ? c->bound_neg : c->bound_pos) : NULL;
            if (!int_ok(ctx->scratch.ptr + fv->at + fv->neg, fv->nint, bound))
                w->xv[nwalk++] = k;
        }
    }
    for (long iter = 0; nwalk > 0; iter++) {
        size_t left = 0;
        if (iter > 10000000)
            return sf_error_set(m->err, SF_EINTERNAL, "masking %s: digit permutation did not converge", m->p->qname);
        for (size_t j = 0; j < nwalk; j++) {
            const fpe_val *fv = &w->v[w->xv[j]];
            w->x[0][j] = ctx->fnum + fv->num[0];
            w->xn[0][j] = fv->n[0];
        }
        if (sf_fpe_encrypt_many(f, 10, DOM_INT_PART, w->x[0], w->xn[0], nwalk) < 0)
            return crypto_failed(m);
        for (size_t j = 0; j < nwalk; j++) {
            const fpe_val *fv = &w->v[w->xv[j]];
            const char *bound = c->fit == FIT_INT ? (fv->neg ? c->bound_neg : c->bound_pos) : NULL;
            char *d = ctx->scratch.ptr + fv->at + fv->neg;
            for (size_t k = 0; k < fv->n[0]; k++)
                d[fv->ikeep + k] = (char)('0' + ctx->fnum[fv->num[0] + k]);
            if (!int_ok(d, fv->nint, bound))
                w->xv[left++] = w->xv[j];
        }
        nwalk = left;
    }
    return 0;
}

/*
 * digits / alnum for column m->col of rows [0, nrows): memo hits are
 * copied, misses are encrypted in batches and remembered. A cold memo
 * (sf_memo_skip) costs the skipped values nothing: no hash, no lookup,
 * and they are not deduplicated within the batch either (distinct values
 * are what made it cold).
 */
static int fpe_column(const mctx *m, sf_rowctx *ctx, slot *s, const sf_field *in, sf_field *out, size_t nrows)
{
    const colplan *c = &m->p->cols[m->col];
    int kind = c->rule->kind == SF_RULE_ALNUM                      ? FK_ALNUM
               : c->fit == FIT_INT || c->fit == FIT_NUMERIC ? FK_NUMBER
                                                                   : FK_TEXT;
    size_t nc = m->p->ncols, npend = 0, nmiss = 0, ndup = 0, nv = 0, nnum = 0, total = 0, cnt[2] = {0, 0};
    uint8_t seen[2 * SF_TABLEPLAN_MAX_ROWS]; /* 1 + index of a miss, by hash */
    int any_use = 0;
#if SF_SCAN_AVX512
    const int vec = kind != FK_NUMBER && use_scan_vec();
    const size_t keep = (size_t)c->rule->keep_leading;
#endif
    fpe_work *w;
    sf_fpe *f;
    int rc;
    if ((rc = get_fpe(s->rs, &f, m->err)))
        return rc;
    if (task_room(ctx) < 0)
        return sf_error_set(m->err, SF_ENOMEM, "out of memory");
    w = ctx->fw;
    /*
     * Hashes first, and the memo's lines fetched for all rows before any
     * lookup waits on one: a row's tags are fetched as it is hashed, its
     * entry PREFETCH_AHEAD rows later (by then the tags have arrived).
     */
    for (size_t r = 0; r < nrows; r++) {
        const sf_field *v = &in[r * nc + m->col];
        ctx->use[r] = 0;
        if (r >= PREFETCH_AHEAD && ctx->use[r - PREFETCH_AHEAD])
            sf_memo_prefetch_entry(&s->memo, ctx->hash[r - PREFETCH_AHEAD]);
        if (v->null)
            continue;
        total += v->len;
        if (sf_memo_skip(&s->memo))
            continue;
        ctx->use[r] = 1;
        any_use = 1;
        ctx->hash[r] = sf_memo_hash(v->ptr, v->len, 7);
        sf_memo_prefetch_tags(&s->memo, ctx->hash[r]);
    }
    /* every value's copy, and twice its length of numerals (alnum puts its digits after the letters' room) */
    if (sf_buf_grow(&ctx->scratch, total) < 0 || grow(ctx, 2 * total + 1) < 0)
        return sf_error_set(m->err, SF_ENOMEM, "out of memory");
    if (any_use) {
        memset(seen, 0, sizeof(seen));
        for (size_t r = nrows > PREFETCH_AHEAD ? nrows - PREFETCH_AHEAD : 0; r < nrows; r++)
            if (ctx->use[r])
                sf_memo_prefetch_entry(&s->memo, ctx->hash[r]);
    }
    for (size_t r = 0; r < nrows; r++) {
        const sf_field *v = &in[r * nc + m->col];
        size_t cell = r * nc + m->col, at = ctx->scratch.len, vlen, first = SIZE_MAX;
        const unsigned char *e;
        uint64_t h = ctx->hash[r];
        int use = ctx->use[r];
        ctx->off[cell] = SIZE_MAX;
        if (v->null) {
            out[cell] = *v;
            continue;
        }
        if (use && (e = sf_memo_get(&s->memo, h, v->ptr, v->len, &vlen))) {
            if (ctx->scratch.len + vlen >= ctx->scratch.cap && sf_buf_grow(&ctx->scratch, vlen) < 0)
                return sf_error_set(m->err, SF_ENOMEM, "out of memory");
            copy_short(ctx->scratch.ptr + at, (const char *)e, vlen);
            ctx->scratch.len += vlen;
            ctx->scratch.ptr[ctx->scratch.len] = '\0';
        } else {
            if (use) {
                /* the batch's misses by hash, open addressing (at most half the slots are used) */
                for (size_t sl = h % sizeof(seen); seen[sl]; sl = (sl + 1) % sizeof(seen)) {
                    size_t k = seen[sl] - 1;
                    const sf_field *o = &in[w->miss[k] * nc + m->col];
                    if (w->miss_h[k] == h && o->len == v->len && memcmp(o->ptr, v->ptr, v->len) == 0) {
                        first = w->miss[k];
                        break;
                    }
                }
            }
            /* room was reserved above (unless a remembered value was longer than its key) */
            if (ctx->scratch.len + v->len >= ctx->scratch.cap && sf_buf_grow(&ctx->scratch, v->len) < 0)
                return sf_error_set(m->err, SF_ENOMEM, "out of memory");
            copy_short(ctx->scratch.ptr + at, v->ptr, v->len);
            ctx->scratch.len += v->len;
            ctx->scratch.ptr[ctx->scratch.len] = '\0';
            if (first != SIZE_MAX) {
                w->dup[ndup][0] = r;
                w->dup[ndup++][1] = first;
            } else {
                fpe_val *fv = &w->v[nv++];
                fv->at = at;
                fv->len = v->len;
                fv->num[0] = fv->num[1] = fv->n[0] = fv->n[1] = 0; /* a text digits value has one run */
                fv->scan = v->len > UINT16_MAX + (size_t)1;
                fv->vec = 0;
#if SF_SCAN_AVX512
                if (vec && v->len <= 64)
                    prep_vec(kind, keep, ctx, v, fv, &nnum, cnt);
                else
#endif
                if (kind == FK_ALNUM)
                    prep_alnum(m, ctx, v, fv, &nnum, cnt);
                else if ((rc = prep_digits(m, ctx, v, fv, &nnum, cnt)))
                    return rc;
                if (use) {
                    size_t sl = h % sizeof(seen);
                    while (seen[sl])
                        sl = (sl + 1) % sizeof(seen);
                    seen[sl] = (uint8_t)(nmiss + 1);
                    w->miss[nmiss] = r;
                    w->miss_h[nmiss++] = h;
                    w->pend[npend++] = r;
                }
            }
        }
        put_out(ctx, out, cell, at);
    }
    if (nv && (rc = run_tasks(m, ctx, f, kind, nv, cnt)))
        return rc;
    for (size_t k = 0; k < ndup; k++) {
        /* digits and alnum keep the length: the copy's room is the original's size */
        size_t to = w->dup[k][0] * nc + m->col, from = w->dup[k][1] * nc + m->col;
        memcpy(ctx->scratch.ptr + ctx->off[to], ctx->scratch.ptr + ctx->off[from], ctx->len[from]);
    }
    for (size_t k = 0; k < npend; k++) {
        size_t cell = w->pend[k] * nc + m->col;
        const sf_field *v = &in[cell];
        sf_memo_put(&s->memo, ctx->hash[w->pend[k]], v->ptr, v->len, ctx->scratch.ptr + ctx->off[cell],
                    ctx->len[cell]);
    }
    return 0;
}

/*
 * For rows [0, nrows) of column m->col: the PRF of the `by` column's
 * original value (or the value itself) as a 64-bit integer, into ctx->ku,
 * one batch of PRF calls for the column. Not memoised: one or two AES
 * blocks cost less than a lookup in a table large enough to hold a
 * column's distinct keys.
 */
static int keyed_column(const mctx *m, sf_rowctx *ctx, slot *s, const sf_field *in, size_t nrows)
{
    const colplan *c = &m->p->cols[m->col];
    size_t nc = m->p->ncols, n = 0;
    for (size_t r = 0; r < nrows; r++) {
        const sf_field *src = c->by >= 0 ? &in[r * nc + (size_t)c->by] : &in[r * nc + m->col];
        if (in[r * nc + m->col].null)
            continue;
        ctx->mtag[n] = src->null ? 'n' : 'v';
        ctx->mptr[n] = src->null ? "" : src->ptr;
        ctx->mlen[n] = src->null ? 0 : src->len;
        ctx->mrow[n++] = r;
    }
    if (sf_prf_eval_many(&s->rs->prf, ctx->mtag, ctx->mptr, ctx->mlen, n, ctx->prfout) < 0)
        return crypto_failed(m);
    for (size_t k = 0; k < n; k++)
        ctx->ku[ctx->mrow[k]] = sf_prf_u64(ctx->prfout + k * SF_PRF_LEN);
    return 0;
}

/*
 * token, email and the dictionary rules for rows [0, nrows) of column
 * m->col: every value's PRF blocks in batches, then the outputs in row
 * order. Inputs are compared as the database compares them: character(n)
 * ignores trailing spaces (pg_dump writes them padded) and citext ignores
 * case (ASCII folded here), so the same value in a text column gives the
 * same output. An empty string stays empty.
 */
static int prf_column(const mctx *m, sf_rowctx *ctx, slot *s, const sf_field *in, sf_field *out, size_t nrows)
{
    const colplan *c = &m->p->cols[m->col];
    size_t nc = m->p->ncols, n = 0;
    int nblk = c->rule->kind == SF_RULE_TOKEN ? token_blocks(c->toklen) : 1;
    unsigned char tag = c->rule->kind == SF_RULE_TOKEN || c->rule->kind == SF_RULE_EMAIL ? 'T' : 'D';
    sf_buf_clear(&ctx->tmp);
    for (size_t r = 0; r < nrows; r++) {
        const sf_field *v = &in[r * nc + m->col];
        size_t len = v->len;
        if (v->null)
            continue;
        if (c->type.kind == SF_T_CHAR)
            while (len > 0 && v->ptr[len - 1] == ' ')
                len--;
        ctx->mrow[r] = SIZE_MAX;
        if (len == 0)
            continue;
        ctx->mptr[n] = v->ptr;
        if (c->type.kind == SF_T_CITEXT) {
            size_t at = ctx->tmp.len;
            if (sf_buf_add(&ctx->tmp, v->ptr, len) < 0)
                return sf_error_set(m->err, SF_ENOMEM, "out of memory");
            for (size_t i = at; i < ctx->tmp.len; i++)
                if (ctx->tmp.ptr[i] >= 'A' && ctx->tmp.ptr[i] <= 'Z')
                    ctx->tmp.ptr[i] = (char)(ctx->tmp.ptr[i] - 'A' + 'a');
            ctx->moff[n] = at; /* tmp may still move */
        }
        ctx->mtag[n] = tag;
        ctx->mlen[n] = len;
        ctx->mrow[r] = n++;
    }
    if (c->type.kind == SF_T_CITEXT)
        for (size_t k = 0; k < n; k++)
            ctx->mptr[k] = ctx->tmp.ptr + ctx->moff[k];
    /* block b of every value at prfout[(k * nblk + b) * 16] */
    if (sf_prf_eval_many(&s->rs->prf, ctx->mtag, ctx->mptr, ctx->mlen, n, ctx->prfblk) < 0)
        return crypto_failed(m);
    for (size_t k = 0; k < n; k++)
        memcpy(ctx->prfout + (size_t)nblk * k * SF_PRF_LEN, ctx->prfblk + k * SF_PRF_LEN, SF_PRF_LEN);
    for (int b = 1; b < nblk; b++) {
        for (size_t k = 0; k < n; k++) {
            ctx->mtag[k] = (unsigned char)('U' + b - 1);
            ctx->mptr[k] = ctx->prfout + ((size_t)nblk * k + (size_t)b - 1) * SF_PRF_LEN;
            ctx->mlen[k] = SF_PRF_LEN;
        }
        if (sf_prf_eval_many(&s->rs->prf, ctx->mtag, ctx->mptr, ctx->mlen, n, ctx->prfblk) < 0)
            return crypto_failed(m);
        for (size_t k = 0; k < n; k++)
            memcpy(ctx->prfout + ((size_t)nblk * k + (size_t)b) * SF_PRF_LEN, ctx->prfblk + k * SF_PRF_LEN, SF_PRF_LEN);
    }
    /*
     * The outputs in row order. e-mails and the one-word dictionaries whose
     * words all fit take a loop of their own (fmt_prf's work without the
     * call and the rule dispatch per value); room for the batch is made once.
     */
    if (c->rule->kind == SF_RULE_EMAIL || (c->dict_fits && c->rule->kind != SF_RULE_NAME &&
                                           c->rule->kind != SF_RULE_STREET && c->rule->kind != SF_RULE_TOKEN)) {
        const int email = c->rule->kind == SF_RULE_EMAIL;
        const size_t dl = c->domain_len, each = email ? SF_EMAIL_TOKEN_LEN + 1 + dl : c->longest;
        if (sf_buf_grow(&ctx->scratch, n * each) < 0)
            return sf_error_set(m->err, SF_ENOMEM, "out of memory");
        for (size_t r = 0; r < nrows; r++) {
            size_t cell = r * nc + m->col, at = ctx->scratch.len;
            ctx->off[cell] = SIZE_MAX;
            if (in[cell].null) {
                out[cell] = in[cell];
                continue;
            }
            if (ctx->mrow[r] != SIZE_MAX) {
                const unsigned char *blk = ctx->prfout + ctx->mrow[r] * SF_PRF_LEN;
                char *o = ctx->scratch.ptr + at;
                if (email) {
                    base32(blk, SF_EMAIL_TOKEN_LEN, o);
                    o[SF_EMAIL_TOKEN_LEN] = '@';
                    memcpy(o + SF_EMAIL_TOKEN_LEN + 1, c->domain, dl + 1);
                    ctx->scratch.len += each;
                } else {
                    const dictword *w = &c->words[0][(size_t)sf_prf_u64(blk) % c->nwords[0]];
                    memcpy(o, w->w, w->len + 1);
                    ctx->scratch.len += w->len;
                }
            }
            put_out(ctx, out, cell, at);
        }
        return 0;
    }
    for (size_t r = 0; r < nrows; r++) {
        size_t cell = r * nc + m->col, at = ctx->scratch.len;
        int rc;
        ctx->off[cell] = SIZE_MAX;
        if (in[cell].null) {
            out[cell] = in[cell];
            continue;
        }
        if (ctx->mrow[r] != SIZE_MAX &&
            (rc = fmt_prf(m, ctx->prfout + (size_t)nblk * ctx->mrow[r] * SF_PRF_LEN, &ctx->scratch)))
            return rc;
        put_out(ctx, out, cell, at);
    }
    return 0;
}

/*
 * The column's fit for the word-sized fast paths (sf_sdec_mul_text), or
 * NULL when they are off; scale -1: the operands' own scale.
 */
static const sf_dec_fit *column_fit(const colplan *c, sf_dec_fit *fit)
{
    if (!sf_dec_fast_paths || c->fit == FIT_FLOAT || c->fit == FIT_UUID)
        return NULL;
    fit->scale = c->fit == FIT_INT ? 0 : (c->fit == FIT_NUMERIC && c->type.scale >= 0) ? c->type.scale : -1;
    fit->digits = c->fit == FIT_NUMERIC ? c->type.precision : -1;
    fit->int_range = c->fit == FIT_INT;
    fit->min = c->imin;
    fit->max = c->imax;
    return fit;
}

/* Room for one formatted decimal at the end of dst. */
static int dec_room(sf_buf *dst)
{
    return dst->cap - dst->len > SF_DEC_TEXT_MAX + 1 ? 0 : sf_buf_grow(dst, SF_DEC_TEXT_MAX + 1);
}

/*
 * noise of one value, given its keyed integer r; cfit: the column's fit for
 * the fast path, or NULL; *val: the number written, as sf_sdec_mul_text
 * gives it (scale -1 when not given).
 */
static int do_noise(const mctx *m, uint64_t r, const sf_field *in, sf_buf *dst, const sf_dec_fit *cfit, sf_sdec *val)
{
    const colplan *c = &m->p->cols[m->col];
    int64_t k;
    int64_t pk;
    sf_dec d, f, res;
    char txt[SF_DEC_TEXT_MAX + 1];
    int rc, scale;
    val->scale = -1;
    k = (int64_t)(r % (2 * NOISE_K + 1)) - NOISE_K;
    pk = (int64_t)c->rule->noise_p * k; /* units of 1e-15 */
    if (c->fit == FIT_FLOAT) {
        char tmp[64], *end;
        double v;
        size_t n = in->len < sizeof(tmp) - 1 ? in->len : sizeof(tmp) - 1;
        memcpy(tmp, in->ptr, n);
        tmp[n] = 0;
        v = strtod(tmp, &end);
        if (end == tmp || *end)
            return value_error(m, "value is not a number");
        if (v != v || v - v != 0) /* NaN, infinities */
            return sf_buf_add(dst, in->ptr, in->len) < 0 ? sf_error_set(m->err, SF_ENOMEM, "out of memory") : 0;
        v = v * (1.0 + (double)pk / 1e15);
        return sf_buf_addf(dst, "%.*g", m->p->cols[m->col].type.kind == SF_T_FLOAT4 ? 9 : 17, v) < 0
                   ? sf_error_set(m->err, SF_ENOMEM, "out of memory")
                   : 0;
    }
    {
        /* the common case in small decimals: the same result, without 256-bit arithmetic */
        sf_sdec sd, sf = {(unsigned __int128)(1000000000000000ll + pk), 0, 15}, sr;
        if (sf_sdec_parse(&sd, in->ptr, in->len)) {
            scale = c->fit == FIT_INT ? 0 : (c->fit == FIT_NUMERIC && c->type.scale >= 0) ? c->type.scale : sd.scale;
            if (cfit) {
                /* one 64x64-bit product, rounded, fitted and formatted straight into dst */
                sf_dec_fit fit = *cfit;
                size_t n;
                fit.scale = scale;
                if (dec_room(dst) < 0)
                    return sf_error_set(m->err, SF_ENOMEM, "out of memory");
                if ((n = sf_sdec_mul_text(dst->ptr + dst->len, &sd, &sf, &fit, val))) {
                    dst->len += n;
                    return 0;
                }
            }
            if (sf_sdec_mul(&sr, &sd, &sf) == 0 && sf_sdec_rescale(&sr, scale) == 0) {
                if (c->fit == FIT_INT)
                    sf_sdec_clamp_i64(&sr, c->imin, c->imax);
                else if (c->fit == FIT_NUMERIC && c->type.precision >= 0)
                    sf_sdec_clamp_digits(&sr, c->type.precision);
                return sf_buf_add(dst, txt, sf_sdec_format(&sr, txt)) < 0
                           ? sf_error_set(m->err, SF_ENOMEM, "out of memory")
                           : 0;
            }
        }
    }
    rc = sf_dec_parse(&d, in->ptr, in->len);
    if (rc == SF_DEC_SPECIAL || (rc != SF_DEC_OK && c->type.kind == SF_T_OPAQUE))
        return sf_buf_add(dst, in->ptr, in->len) < 0 ? sf_error_set(m->err, SF_ENOMEM, "out of memory") : 0;
    if (rc == SF_DEC_RANGE)
        return value_error(m, "value has more than 60 significant digits");
    if (rc != SF_DEC_OK)
        return value_error(m, "value is not a number");
    memset(&f, 0, sizeof(f));
    f.mag.w[0] = (uint64_t)(1000000000000000ll + pk);
    f.scale = 15;
    if (sf_dec_mul(&res, &d, &f) != 0)
        return value_error(m, "value out of range");
    scale = c->fit == FIT_INT ? 0 : (c->fit == FIT_NUMERIC && c->type.scale >= 0) ? c->type.scale : d.scale;
    if (sf_dec_rescale(&res, scale) != 0)
        return value_error(m, "value out of range");
    if (c->fit == FIT_INT)
        sf_dec_clamp_i64(&res, c->imin, c->imax);
    else if (c->fit == FIT_NUMERIC && c->type.precision >= 0)
        sf_dec_clamp_digits(&res, c->type.precision);
    return sf_buf_add(dst, txt, sf_dec_format(&res, txt)) < 0 ? sf_error_set(m->err, SF_ENOMEM, "out of memory") : 0;
}

/* date_shift of one value, given its keyed integer r. */
static int do_date_shift(const mctx *m, uint64_t r, const sf_field *in, sf_buf *dst)
{
    const colplan *c = &m->p->cols[m->col];
    int days, rc;
    size_t start = dst->len;
    days = (int)(int64_t)(r % (uint64_t)(2 * c->rule->days + 1)) - c->rule->days;
    rc = sf_date_shift(in->ptr, in->len, days, dst);
    if (rc == SF_DT_OK)
        return 0;
    sf_buf_truncate(dst, start);
    if (rc == SF_DT_SPECIAL || c->type.kind == SF_T_OPAQUE)
        return sf_buf_add(dst, in->ptr, in->len) < 0 ? sf_error_set(m->err, SF_ENOMEM, "out of memory") : 0;
    return value_error(m, "value is not an ISO date or timestamp");
}

/*
 * The fast path of an expr column of the product shape x * y: per operand
 * its column (or constant) and whether the masked value is in scratch.
 */
typedef struct {
    int on;
    sf_dec_fit fit;
    sf_expr_operand op[2];
    size_t col[2];
    int scr[2];
    int noise[2]; /* the operand is a noise column: its number may be in ctx->sv */
} xfast;

static void expr_fast_prepare(const sf_tableplan *p, size_t i, xfast *x)
{
    const colplan *c = &p->cols[i];
    memset(x, 0, sizeof(*x));
    x->on = column_fit(c, &x->fit) && sf_expr_product(c->expr, &x->op[0], &x->op[1]);
    if (c->fit == FIT_FLOAT && sf_dec_fast_paths && sf_expr_product(c->expr, &x->op[0], &x->op[1])) {
        /* floats take the product's scale, at most 17 decimals, and no clamp */
        x->on = 1;
        x->fit.scale = -1;
        x->fit.digits = -1;
        x->fit.int_range = 0;
    }
    for (int j = 0; x->on && j < 2; j++)
        if (!x->op[j].cval) {
            x->col[j] = c->expr_cols[x->op[j].ref];
            x->scr[j] = p->cols[x->col[j]].in_scratch;
            x->noise[j] = p->cols[x->col[j]].rule && p->cols[x->col[j]].rule->kind == SF_RULE_NOISE;
        }
}

/* expr of row r through the fast path: 1 done, 0 not taken (use do_expr), < 0 error. */
static int expr_fast(const mctx *m, sf_rowctx *ctx, const xfast *x, size_t r, const sf_field *out, sf_buf *dst)
{
    sf_sdec v[2];
    sf_dec_fit fit = x->fit;
    size_t n;
    for (int j = 0; j < 2; j++) {
        size_t ci = x->col[j], cell = r * m->p->ncols + ci;
        if (x->op[j].cval) {
            v[j] = *x->op[j].cval;
        } else if (out[ci].null) {
            return 0;
        } else if (x->noise[j] && ctx->off[cell] != SIZE_MAX && ctx->sv[cell].scale >= 0) {
            v[j] = ctx->sv[cell]; /* the number noise wrote, not parsed back from its text */
        } else if (x->scr[j] && ctx->off[cell] != SIZE_MAX) {
            if (!sf_sdec_parse(&v[j], ctx->scratch.ptr + ctx->off[cell], ctx->len[cell]))
                return 0;
        } else if (!sf_sdec_parse(&v[j], out[ci].ptr, out[ci].len)) {
            return 0;
        }
    }
    if (fit.scale < 0) {
        fit.scale = v[0].scale + v[1].scale;
        if (m->p->cols[m->col].fit == FIT_FLOAT && fit.scale > 17)
            fit.scale = 17;
    }
    if (dec_room(dst) < 0)
        return sf_error_set(m->err, SF_ENOMEM, "out of memory");
    if (!(n = sf_sdec_mul_text(dst->ptr + dst->len, &v[0], &v[1], &fit, NULL)))
        return 0;
    dst->len += n;
    return 1;
}

/* expr of row r: its operands are the row's masked values (out, or scratch cells of row r). */
static int do_expr(const mctx *m, sf_rowctx *ctx, size_t r, const sf_field *out, sf_buf *dst, int *isnull)
{
    const colplan *c = &m->p->cols[m->col];
    size_t nrefs = sf_expr_nrefs(c->expr);
    sf_dec res;
    char txt[SF_DEC_TEXT_MAX + 1];
    int rc, scale;
    if (nrefs > ctx->vals_cap) {
        sf_dec *v = realloc(ctx->vals, nrefs * sizeof(*v));
        sf_sdec *sv = v ? realloc(ctx->svals, nrefs * sizeof(*sv)) : NULL;
        if (v)
            ctx->vals = v;
        if (!sv)
            return sf_error_set(m->err, SF_ENOMEM, "out of memory");
        ctx->svals = sv;
        ctx->vals_cap = nrefs;
    }
    {
        /* the common case in small decimals (no division, operands of up to 18 digits): the same result */
        size_t j;
        sf_sdec sr;
        for (j = 0; j < nrefs; j++) {
            size_t ci = c->expr_cols[j], cell = r * m->p->ncols + ci;
            int scr = m->p->cols[ci].in_scratch && ctx->off[cell] != SIZE_MAX;
            if (out[ci].null || !sf_sdec_parse(&ctx->svals[j], scr ? ctx->scratch.ptr + ctx->off[cell] : out[ci].ptr,
                                               scr ? ctx->len[cell] : out[ci].len))
                break;
        }
        if (j == nrefs && sf_expr_eval_small(c->expr, ctx->svals, &sr) == 0) {
            scale = c->fit == FIT_INT ? 0 : (c->fit == FIT_NUMERIC && c->type.scale >= 0) ? c->type.scale : sr.scale;
            if (c->fit == FIT_FLOAT && scale > 17)
                scale = 17;
            if (sf_sdec_rescale(&sr, scale) == 0) {
                if (c->fit == FIT_INT)
                    sf_sdec_clamp_i64(&sr, c->imin, c->imax);
                else if (c->fit == FIT_NUMERIC && c->type.precision >= 0)
                    sf_sdec_clamp_digits(&sr, c->type.precision);
                return sf_buf_add(dst, txt, sf_sdec_format(&sr, txt)) < 0
                           ? sf_error_set(m->err, SF_ENOMEM, "out of memory")
                           : 0;
            }
        }
    }
    for (size_t j = 0; j < nrefs; j++) {
        size_t ci = c->expr_cols[j];
        /* an operand is the column's masked value: in scratch, or already in out (untouched, fixed, null) */
        size_t cell = r * m->p->ncols + ci;
        int scr = m->p->cols[ci].in_scratch && ctx->off[cell] != SIZE_MAX;
        const char *ptr = scr ? ctx->scratch.ptr + ctx->off[cell] : out[ci].ptr;
        size_t len = scr ? ctx->len[cell] : out[ci].len;
        if (out[ci].null) {
            *isnull = 1;
            return 0;
        }
        rc = sf_dec_parse(&ctx->vals[j], ptr, len);
        if (rc == SF_DEC_SPECIAL && (c->fit == FIT_NUMERIC || c->fit == FIT_FLOAT || c->type.kind == SF_T_OPAQUE))
            return sf_buf_adds(dst, "NaN") < 0 ? sf_error_set(m->err, SF_ENOMEM, "out of memory") : 0;
        if (rc != SF_DEC_OK) {
            char what[160];
            snprintf(what, sizeof(what), "operand '%s' is not a finite number", sf_expr_ref(c->expr, j));
            return value_error(m, what);
        }
    }
    rc = sf_expr_eval(c->expr, ctx->vals, EXPR_DIV_SCALE, &res);
    if (rc == SF_DEC_DIV0)
        return value_error(m, "division by zero");
    if (rc != SF_DEC_OK)
        return value_error(m, "result out of range");
    scale = c->fit == FIT_INT ? 0 : (c->fit == FIT_NUMERIC && c->type.scale >= 0) ? c->type.scale : res.scale;
    if (c->fit == FIT_FLOAT && scale > 17)
        scale = 17;
    if (sf_dec_rescale(&res, scale) != 0)
        return value_error(m, "result out of range");
    if (c->fit == FIT_INT)
        sf_dec_clamp_i64(&res, c->imin, c->imax);
    else if (c->fit == FIT_NUMERIC && c->type.precision >= 0)
        sf_dec_clamp_digits(&res, c->type.precision);
    return sf_buf_add(dst, txt, sf_dec_format(&res, txt)) < 0 ? sf_error_set(m->err, SF_ENOMEM, "out of memory") : 0;
}

int sf_tableplan_mask_rows(const sf_tableplan *p, sf_rowctx *ctx, const sf_field *in, sf_field *out, size_t nrows,
                           sf_error *err)
{
    mctx m = {p, 0, err};
    size_t nc = p->ncols, cap0;
    int rc;
    if (nrows > SF_TABLEPLAN_MAX_ROWS)
        return sf_error_set(err, SF_EUSAGE, "a batch of %zu rows (%d at most)", nrows, SF_TABLEPLAN_MAX_ROWS);
    if (p->identity || nrows == 0)
        return 0;
    /* untransformed expr operands: out holds them too (the other untransformed columns are read from in) */
    for (size_t r = 0; r < nrows; r++)
        for (size_t k = 0; k < p->nopnds; k++)
            out[r * nc + p->opnds[k]] = in[r * nc + p->opnds[k]];
    if ((rc = prepare(ctx, p, nrows, err)))
        return rc;
    sf_buf_clear(&ctx->scratch);
    cap0 = ctx->scratch.cap;
    /*
     * Column by column over the rows (so digits/alnum can batch their
     * FF3-1 work). Every cell of a transformed column is written to out
     * as it is produced: NULLs as they came, null and fixed directly,
     * values in scratch by put_out (pointed at again at the end if
     * scratch moved while it grew).
     */
    for (size_t k = 0; k < p->nactive; k++) {
        size_t i = p->active[k];
        const colplan *c = &p->cols[i];
        slot *sl = ctx->colslot[i];
        sf_dec_fit fitbuf;
        const sf_dec_fit *cfit = c->rule->kind == SF_RULE_NOISE ? column_fit(c, &fitbuf) : NULL;
        m.col = i;
        switch (c->rule->kind) {
        case SF_RULE_DIGITS:
        case SF_RULE_ALNUM:
            if ((rc = fpe_column(&m, ctx, sl, in, out, nrows)))
                return rc;
            continue;
        case SF_RULE_NOISE:
        case SF_RULE_DATE_SHIFT:
            if ((rc = keyed_column(&m, ctx, sl, in, nrows)))
                return rc;
            break;
        case SF_RULE_NULL:
        case SF_RULE_FIXED:
            break;
        default:
            if ((rc = prf_column(&m, ctx, sl, in, out, nrows)))
                return rc;
            continue;
        }
        for (size_t r = 0; r < nrows; r++) {
            size_t cell = r * nc + i, start = ctx->scratch.len;
            ctx->off[cell] = SIZE_MAX;
            ctx->sv[cell].scale = -1;
            if (in[cell].null) {
                out[cell] = in[cell];
                continue;
            }
            switch (c->rule->kind) {
            case SF_RULE_NULL:
                out[cell].ptr = NULL;
                out[cell].len = 0;
                out[cell].null = 1;
                continue;
            case SF_RULE_FIXED:
                out[cell].ptr = c->rule->fixed;
                out[cell].len = c->rule->fixed_len;
                out[cell].null = 0;
                continue;
            case SF_RULE_NOISE:
                rc = do_noise(&m, ctx->ku[r], &in[cell], &ctx->scratch, cfit, &ctx->sv[cell]);
                break;
            default:
                rc = do_date_shift(&m, ctx->ku[r], &in[cell], &ctx->scratch);
                break;
            }
            if (rc)
                return rc;
            put_out(ctx, out, cell, start);
        }
    }
    for (size_t k = 0; k < p->nexprs; k++) {
        size_t i = p->exprs[k];
        xfast xf;
        m.col = i;
        expr_fast_prepare(p, i, &xf);
        for (size_t r = 0; r < nrows; r++) {
            size_t cell = r * nc + i, start = ctx->scratch.len;
            int isnull = 0;
            ctx->off[cell] = SIZE_MAX;
            if (in[cell].null) {
                out[cell] = in[cell];
                continue;
            }
            if (xf.on && (rc = expr_fast(&m, ctx, &xf, r, out + r * nc, &ctx->scratch)) != 0) {
                if (rc < 0)
                    return rc;
                put_out(ctx, out, cell, start);
                continue;
            }
            if ((rc = do_expr(&m, ctx, r, out + r * nc, &ctx->scratch, &isnull)))
                return rc;
            if (isnull) {
                out[cell].ptr = NULL;
                out[cell].len = 0;
                out[cell].null = 1;
                continue;
            }
            put_out(ctx, out, cell, start);
        }
    }
    if (ctx->scratch.cap == cap0)
        return 0; /* scratch did not move: out points into it already */
    for (size_t r = 0; r < nrows; r++)
        for (size_t k = 0; k < p->nactive + p->nexprs; k++) {
            size_t i = k < p->nactive ? p->active[k] : p->exprs[k - p->nactive], cell = r * nc + i;
            if (ctx->off[cell] != SIZE_MAX) {
                out[cell].ptr = ctx->scratch.ptr + ctx->off[cell];
                out[cell].len = ctx->len[cell];
                out[cell].null = 0;
            }
        }
    return 0;
}

int sf_tableplan_mask(const sf_tableplan *p, sf_rowctx *ctx, const sf_field *in, sf_field *out, sf_error *err)
{
    /* one row: every column of out, as the INSERT writer reads them */
    memcpy(out, in, p->ncols * sizeof(*out));
    return sf_tableplan_mask_rows(p, ctx, in, out, 1, err);
}
