/* The masking policy file (SPEC §5): loading, validation, queries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "stagefork/util.h"
#include "expr.h"
#include "policy.h"
#include "rowmask.h"
#include "sqlident.h"

#define POLICY_MAX_BYTES (16u << 20)

struct sf_mask_policy {
    sf_yaml_doc *doc;
    char sha256[65];
    int strict;
    char *key_env, *key_file;
    char **sensitive; /* lower case */
    size_t nsensitive;
    sf_policy_table *tables;
    size_t ntables;
};

static const char *const default_sensitive[] = {
    "email", "phone", "fax",     "name", "contact", "address", "street", "city",  "postal",
    "zip",   "tax",   "iban",    "account", "price", "cost",   "salary", "birth", "credit"};

static const char *const rule_names[SF_RULE__COUNT] = {
    [SF_RULE_KEEP] = "keep",           [SF_RULE_NULL] = "null",
    [SF_RULE_FIXED] = "fixed",         [SF_RULE_TOKEN] = "token",
    [SF_RULE_EMAIL] = "email",         [SF_RULE_NAME] = "name",
    [SF_RULE_FIRST_NAME] = "first_name", [SF_RULE_LAST_NAME] = "last_name",
    [SF_RULE_COMPANY] = "company",     [SF_RULE_STREET] = "street",
    [SF_RULE_CITY] = "city",           [SF_RULE_DIGITS] = "digits",
    [SF_RULE_ALNUM] = "alnum",         [SF_RULE_NOISE] = "noise",
    [SF_RULE_DATE_SHIFT] = "date_shift", [SF_RULE_EXPR] = "expr"};

#define RULE_LIST                                                                                  \
    "keep, null, fixed, token, email, name, first_name, last_name, company, street, city, digits, " \
    "phone, alnum, noise, date_shift, expr"

const char *sf_rule_kind_name(sf_rule_kind kind)
{
    return kind < SF_RULE__COUNT ? rule_names[kind] : "?";
}

static int rule_by_name(sf_rule_kind *out, const char *name)
{
    if (strcmp(name, "phone") == 0) {
        *out = SF_RULE_DIGITS;
        return 0;
    }
    if (strcmp(name, "~") == 0 || strcmp(name, "Null") == 0 || strcmp(name, "NULL") == 0) {
        *out = SF_RULE_NULL;
        return 0;
    }
    for (int k = 0; k < SF_RULE__COUNT; k++)
        if (strcmp(name, rule_names[k]) == 0) {
            *out = (sf_rule_kind)k;
            return 0;
        }
    return -1;
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static int nomem(sf_error *err)
{
    return sf_error_set(err, SF_ENOMEM, "out of memory");
}

static int want_scalar(const sf_node *n, const char *what, sf_error *err)
{
    if (n->kind != SF_NODE_SCALAR)
        return sf_node_error(err, SF_ECONFIG, n, "%s must be a scalar, not a %s", what, sf_node_kind_name(n));
    if (memchr(n->str, 0, n->len))
        return sf_node_error(err, SF_ECONFIG, n, "%s must not contain NUL characters", what);
    return 0;
}

static int want_map(const sf_node *n, const char *what, sf_error *err)
{
    if (n->kind != SF_NODE_MAP)
        return sf_node_error(err, SF_ECONFIG, n, "%s must be a mapping, not a %s", what, sf_node_kind_name(n));
    return 0;
}

/* Every key of map is one of allowed[] (NULL-terminated). */
static int check_keys(const sf_node *map, const char *where, const char *const *allowed, sf_error *err)
{
    for (size_t i = 0; i < map->n; i++) {
        const sf_node *k = map->keys[i];
        size_t j;
        int found = 0;
        for (j = 0; allowed[j]; j++)
            if (strcmp(k->str, allowed[j]) == 0)
                found = 1;
        if (!found) {
            char list[256] = "";
            size_t off = 0;
            for (j = 0; allowed[j] && off < sizeof(list); j++) {
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", allowed[j]);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return sf_node_error(err, SF_ECONFIG, k, "unknown key '%s' in %s (expected %s)", k->str, where, list);
        }
        for (j = 0; j < i; j++)
            if (strcmp(map->keys[j]->str, k->str) == 0)
                return sf_node_error(err, SF_ECONFIG, k, "duplicate key '%s' in %s", k->str, where);
    }
    return 0;
}

/* ---- parameters -------------------------------------------------------- */

/* P as written ("0.10", "1", ".5"): 1..9 decimals, 0 < P <= 1, kept in units of 1e-9. */
static int parse_noise_p(uint32_t *out, const sf_node *n, sf_error *err)
{
    const char *s = n->str;
    uint64_t ip = 0, fp = 0;
    int nint = 0, nfrac = 0;
    if (n->kind != SF_NODE_SCALAR)
        return sf_node_error(err, SF_ECONFIG, n, "noise must be a number in (0, 1], not a %s", sf_node_kind_name(n));
    for (; *s >= '0' && *s <= '9'; s++, nint++) {
        if (nint >= 3)
            goto bad;
        ip = ip * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.') {
        s++;
        for (; *s >= '0' && *s <= '9'; s++, nfrac++) {
            if (nfrac >= 9)
                return sf_node_error(err, SF_ECONFIG, n, "noise '%s' has more than 9 decimals", n->str);
            fp = fp * 10 + (uint64_t)(*s - '0');
        }
    }
    if (*s || (nint == 0 && nfrac == 0))
        goto bad;
    for (int i = nfrac; i < 9; i++)
        fp *= 10;
    if (ip > 1 || (ip == 1 && fp > 0) || (ip == 0 && fp == 0))
        return sf_node_error(err, SF_ECONFIG, n, "noise must be in (0, 1], got %s", n->str);
    *out = (uint32_t)(ip * SF_NOISE_SCALE + fp);
    return 0;
bad:
    return sf_node_error(err, SF_ECONFIG, n, "noise must be a number in (0, 1], got '%s'", n->str);
}

static int valid_domain(const char *d, size_t len)
{
    size_t label = 0;
    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && d[len - 1] != '-';
}

/* A column reference (`by:`): one SQL identifier. */
static int column_name(sf_buf *out, const sf_node *n, const char *what, sf_error *err);

static int set_by(sf_rule *r, const sf_node *n, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc = column_name(&b, n, "by", err);
    if (rc == 0) {
        r->by = sf_buf_detach(&b, NULL);
        r->by_node = n;
    }
    sf_buf_free(&b);
    return rc;
}

static int parse_token_params(sf_rule *r, const sf_node *p, sf_error *err)
{
    static const char *const keys[] = {"prefix", "length", NULL};
    const sf_node *n;
    long long v;
    int rc;
    if ((rc = want_map(p, "token parameters", err)) || (rc = check_keys(p, "token", keys, err)))
        return rc;
    if ((n = sf_node_get(p, "prefix"))) {
        if ((rc = want_scalar(n, "token prefix", err)))
            return rc;
        if (n->len > 32)
            return sf_node_error(err, SF_ECONFIG, n, "token prefix is longer than 32 bytes");
        for (size_t i = 0; i < n->len; i++)
            if ((unsigned char)n->str[i] < 0x20 || n->str[i] == 0x7f)
                return sf_node_error(err, SF_ECONFIG, n, "token prefix contains a control character");
        free(r->prefix);
        if (!(r->prefix = dupn(n->str, n->len)))
            return nomem(err);
    }
    if ((n = sf_node_get(p, "length"))) {
        if (sf_node_i64(&v, n, SF_TOKEN_MIN_LEN, SF_TOKEN_MAX_LEN, err) < 0)
            return sf_node_error(err, SF_ECONFIG, n, "token length must be an integer from %d to %d",
                                 SF_TOKEN_MIN_LEN, SF_TOKEN_MAX_LEN);
        r->length = (int)v;
    }
    return 0;
}

static int parse_email_params(sf_rule *r, const sf_node *p, sf_error *err)
{
    static const char *const keys[] = {"domain", NULL};
    const sf_node *n;
    int rc;
    if ((rc = want_map(p, "email parameters", err)) || (rc = check_keys(p, "email", keys, err)))
        return rc;
    if ((n = sf_node_get(p, "domain"))) {
        char *d;
        if ((rc = want_scalar(n, "email domain", err)))
            return rc;
        if (!(d = dupn(n->str, n->len)))
            return nomem(err);
        for (size_t i = 0; i < n->len; i++)
            if (d[i] >= 'A' && d[i] <= 'Z')
                d[i] = (char)(d[i] - 'A' + 'a');
        if (!valid_domain(d, n->len)) {
            free(d);
            return sf_node_error(err, SF_ECONFIG, n, "'%s' is not a valid email domain", n->str);
        }
        free(r->domain);
        r->domain = d;
    }
    return 0;
}

static int parse_fpe_params(sf_rule *r, const char *name, const sf_node *p, sf_error *err)
{
    static const char *const keys[] = {"keep_leading", NULL};
    const sf_node *n;
    long long v;
    int rc;
    if ((rc = want_map(p, name, err)) || (rc = check_keys(p, name, keys, err)))
        return rc;
    if ((n = sf_node_get(p, "keep_leading"))) {
        if (sf_node_i64(&v, n, 0, 1000, err) < 0)
            return sf_node_error(err, SF_ECONFIG, n, "keep_leading must be an integer from 0 to 1000");
        r->keep_leading = (int)v;
    }
    return 0;
}

static int parse_days(sf_rule *r, const sf_node *n, sf_error *err)
{
    long long v;
    if (sf_node_i64(&v, n, 1, SF_DATE_SHIFT_MAX_DAYS, err) < 0)
        return sf_node_error(err, SF_ECONFIG, n, "date_shift days must be an integer from 1 to %d",
                             SF_DATE_SHIFT_MAX_DAYS);
    r->days = (int)v;
    return 0;
}

static int parse_date_shift_params(sf_rule *r, const sf_node *p, sf_error *err)
{
    static const char *const keys[] = {"days", "by", NULL};
    const sf_node *n;
    int rc;
    if (p->kind == SF_NODE_SCALAR)
        return parse_days(r, p, err);
    if ((rc = want_map(p, "date_shift parameters", err)) || (rc = check_keys(p, "date_shift", keys, err)))
        return rc;
    if (!(n = sf_node_get(p, "days")))
        return sf_node_error(err, SF_ECONFIG, p, "date_shift needs days: N");
    if ((rc = parse_days(r, n, err)))
        return rc;
    if ((n = sf_node_get(p, "by")) && (rc = set_by(r, n, err)))
        return rc;
    return 0;
}

static int parse_params(sf_rule *r, const sf_node *p, sf_error *err)
{
    const char *name = rule_names[r->kind];
    int rc;
    if (sf_node_is_null(p)) {
        switch (r->kind) {
        case SF_RULE_FIXED:
            return sf_node_error(err, SF_ECONFIG, p, "fixed needs a value (use the rule null for NULL)");
        case SF_RULE_NOISE:
        case SF_RULE_DATE_SHIFT:
        case SF_RULE_EXPR:
            return sf_node_error(err, SF_ECONFIG, p, "%s needs parameters", name);
        default:
            return 0;
        }
    }
    switch (r->kind) {
    case SF_RULE_FIXED:
        if ((rc = want_scalar(p, "fixed value", err)))
            return rc;
        if (!(r->fixed = dupn(p->str, p->len)))
            return nomem(err);
        r->fixed_len = p->len;
        return 0;
    case SF_RULE_TOKEN:
        return parse_token_params(r, p, err);
    case SF_RULE_EMAIL:
        return parse_email_params(r, p, err);
    case SF_RULE_DIGITS:
    case SF_RULE_ALNUM:
        return parse_fpe_params(r, name, p, err);
    case SF_RULE_NOISE:
        return parse_noise_p(&r->noise_p, p, err);
    case SF_RULE_DATE_SHIFT:
        return parse_date_shift_params(r, p, err);
    case SF_RULE_EXPR: {
        char msg[256];
        size_t at = 0;
        if ((rc = want_scalar(p, "expr", err)))
            return rc;
        if (sf_expr_check_syntax(p->str, p->len, &at, msg, sizeof(msg)) < 0)
            return sf_node_error(err, SF_ECONFIG, p, "expr: %s at offset %zu", msg, at);
        if (!(r->expr = dupn(p->str, p->len)))
            return nomem(err);
        return 0;
    }
    default:
        if (p->kind == SF_NODE_MAP && p->n == 0)
            return 0;
        return sf_node_error(err, SF_ECONFIG, p, "rule %s takes no parameters", name);
    }
}

static int make_sig(sf_rule *r, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc = sf_buf_adds(&b, rule_names[r->kind]);
    switch (r->kind) {
    case SF_RULE_TOKEN:
        rc = rc ? rc : sf_buf_addf(&b, "|prefix=%s|length=%d", r->prefix ? r->prefix : "", r->length);
        break;
    case SF_RULE_EMAIL:
        rc = rc ? rc : sf_buf_addf(&b, "|domain=%s", r->domain);
        break;
    case SF_RULE_DIGITS:
    case SF_RULE_ALNUM:
        rc = rc ? rc : sf_buf_addf(&b, "|keep_leading=%d", r->keep_leading);
        break;
    case SF_RULE_NOISE:
        rc = rc ? rc : sf_buf_addf(&b, "|p=%u", (unsigned)r->noise_p);
        break;
    case SF_RULE_DATE_SHIFT:
        rc = rc ? rc : sf_buf_addf(&b, "|days=%d", r->days);
        break;
    default:
        break;
    }
    if (rc < 0) {
        sf_buf_free(&b);
        return nomem(err);
    }
    r->sig = sf_buf_detach(&b, NULL);
    return 0;
}

/*
 * One rule: a scalar name (`email`, `null`), or a mapping with one rule
 * name as key and its parameters as value (`{token: {length: 24}}`); noise
 * and date_shift also take `by:` next to the rule name.
 */
static int parse_rule(sf_rule *r, const sf_node *n, sf_error *err)
{
    const sf_node *params = NULL;
    int rc;
    r->node = n;
    r->length = SF_TOKEN_DEFAULT_LEN;
    if (n->kind == SF_NODE_SEQ)
        return sf_node_error(err, SF_ECONFIG, n, "a rule must be a name or a mapping, not a sequence");
    if (n->kind == SF_NODE_SCALAR) {
        if (n->plain && sf_node_is_null(n)) {
            if (n->len == 0)
                return sf_node_error(err, SF_ECONFIG, n, "missing rule (expected one of: " RULE_LIST ")");
            r->kind = SF_RULE_NULL;
        } else if (rule_by_name(&r->kind, n->str) < 0) {
            return sf_node_error(err, SF_ECONFIG, n, "unknown rule '%s' (expected one of: " RULE_LIST ")", n->str);
        }
        if (r->kind == SF_RULE_FIXED || r->kind == SF_RULE_NOISE || r->kind == SF_RULE_DATE_SHIFT ||
            r->kind == SF_RULE_EXPR)
            return sf_node_error(err, SF_ECONFIG, n, "rule %s needs parameters, e.g. {%s: ...}", n->str, n->str);
    } else {
        const sf_node *rule_key = NULL, *by = NULL;
        for (size_t i = 0; i < n->n; i++) {
            const sf_node *k = n->keys[i];
            sf_rule_kind kind;
            if (strcmp(k->str, "by") == 0 && !by) {
                by = n->vals[i];
                continue;
            }
            if (rule_by_name(&kind, k->str) < 0 || strcmp(k->str, "null") == 0 || strcmp(k->str, "~") == 0)
                return sf_node_error(err, SF_ECONFIG, k, "unknown rule '%s' (expected one of: " RULE_LIST ")", k->str);
            if (rule_key)
                return sf_node_error(err, SF_ECONFIG, k, "a rule mapping names one rule; '%s' follows '%s'", k->str,
                                     rule_key->str);
            rule_key = k;
            r->kind = kind;
            params = n->vals[i];
        }
        if (!rule_key)
            return sf_node_error(err, SF_ECONFIG, n, "missing rule (expected one of: " RULE_LIST ")");
        if (by) {
            if (r->kind != SF_RULE_NOISE && r->kind != SF_RULE_DATE_SHIFT)
                return sf_node_error(err, SF_ECONFIG, by, "by: applies only to noise and date_shift");
            if ((rc = set_by(r, by, err)))
                return rc;
        }
        if ((rc = parse_params(r, params, err)))
            return rc;
        if (by && r->kind == SF_RULE_DATE_SHIFT && params->kind == SF_NODE_MAP && sf_node_get(params, "by"))
            return sf_node_error(err, SF_ECONFIG, by, "date_shift has by: twice");
    }
    if (r->kind == SF_RULE_EMAIL && !r->domain && !(r->domain = dupn(SF_EMAIL_DEFAULT_DOMAIN, strlen(SF_EMAIL_DEFAULT_DOMAIN))))
        return nomem(err);
    return make_sig(r, err);
}

/* ---- names --------------------------------------------------------------- */

/*
 * A column key. SQL rules apply to the text: `Email` folds to `email`,
 * `"E-Mail"` keeps its case. A key quoted in YAML ("E-Mail": ..., 'Qty': ...)
 * whose text does not itself start with a double quote is taken verbatim,
 * so YAML quoting keeps case too.
 */
static int column_name(sf_buf *out, const sf_node *n, const char *what, sf_error *err)
{
    size_t pos = 0;
    int rc;
    if ((rc = want_scalar(n, what, err)))
        return rc;
    sf_buf_clear(out);
    if (!n->plain && n->len > 0 && n->str[0] != '"') {
        if (sf_buf_set(out, n->str, n->len) < 0)
            return nomem(err);
        return 0;
    }
    if (sf_ident_next(out, n->str, n->len, &pos) == 0) {
        while (pos < n->len && (n->str[pos] == ' ' || n->str[pos] == '\t'))
            pos++;
        if (pos == n->len)
            return 0;
    }
    return sf_node_error(err, SF_ECONFIG, n, "%s '%s' is not a valid column name (quote it like SQL: '\"%s\"')", what,
                         n->str, n->str);
}

static void rule_free(sf_rule *r)
{
    free(r->column);
    free(r->fixed);
    free(r->prefix);
    free(r->domain);
    free(r->by);
    free(r->expr);
    free(r->sig);
}

static int parse_table(sf_policy_table *t, const sf_node *key, const sf_node *cols, sf_error *err)
{
    sf_buf schema = SF_BUF_INIT, name = SF_BUF_INIT, col = SF_BUF_INIT;
    int rc = 0;
    t->key = key;
    if (want_scalar(key, "table name", err) ||
        sf_ident_qualified(&schema, &name, key->str, key->len, "public") < 0) {
        rc = sf_node_error(err, SF_ECONFIG, key,
                           "'%s' is not a valid table name (schema.table, quoted like SQL: erp.\"Supplier Contacts\")",
                           key->str);
        goto out;
    }
    t->schema = sf_buf_detach(&schema, NULL);
    t->name = sf_buf_detach(&name, NULL);
    if (sf_node_is_null(cols))
        goto out;
    if ((rc = want_map(cols, "a table's rules", err)))
        goto out;
    if (!(t->rules = calloc(cols->n ? cols->n : 1, sizeof(*t->rules)))) {
        rc = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < cols->n; i++) {
        sf_rule *r = &t->rules[i];
        t->nrules = i + 1;
        r->key = cols->keys[i];
        if ((rc = column_name(&col, cols->keys[i], "column", err)))
            goto out;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->rules[j].column, col.ptr) == 0) {
                rc = sf_node_error(err, SF_ECONFIG, cols->keys[i], "column %s has two rules (the other at line %u)",
                                   col.ptr, t->rules[j].key->line);
                goto out;
            }
        if (!(r->column = sf_buf_detach(&col, NULL))) {
            rc = nomem(err);
            goto out;
        }
        if ((rc = parse_rule(r, cols->vals[i], err)))
            goto out;
        if (r->by && strcmp(r->by, r->column) == 0) {
            rc = sf_node_error(err, SF_ECONFIG, r->by_node, "by: names the column itself; leave it out");
            goto out;
        }
    }
out:
    sf_buf_free(&schema);
    sf_buf_free(&name);
    sf_buf_free(&col);
    return rc;
}

static int parse_sensitive(sf_mask_policy *pol, const sf_node *n, sf_error *err)
{
    size_t count;
    int rc;
    if (!n) {
        count = sizeof(default_sensitive) / sizeof(default_sensitive[0]);
        if (!(pol->sensitive = calloc(count, sizeof(char *))))
            return nomem(err);
        for (size_t i = 0; i < count; i++) {
            if (!(pol->sensitive[i] = dupn(default_sensitive[i], strlen(default_sensitive[i]))))
                return nomem(err);
            pol->nsensitive = i + 1;
        }
        return 0;
    }
    if (sf_node_is_null(n))
        return 0;
    if (n->kind != SF_NODE_SEQ)
        return sf_node_error(err, SF_ECONFIG, n, "sensitive must be a sequence of column-name substrings, not a %s",
                             sf_node_kind_name(n));
    if (!(pol->sensitive = calloc(n->n ? n->n : 1, sizeof(char *))))
        return nomem(err);
    for (size_t i = 0; i < n->n; i++) {
        const sf_node *s = n->vals[i];
        char *p;
        if ((rc = want_scalar(s, "a sensitive substring", err)))
            return rc;
        if (s->len == 0 || strspn(s->str, " _-.") == s->len)
            return sf_node_error(err, SF_ECONFIG, s, "an empty sensitive substring would match every column");
        if (!(p = dupn(s->str, s->len)))
            return nomem(err);
        for (size_t j = 0; j < s->len; j++)
            if (p[j] >= 'A' && p[j] <= 'Z')
                p[j] = (char)(p[j] - 'A' + 'a');
        pol->sensitive[i] = p;
        pol->nsensitive = i + 1;
    }
    return 0;
}

static int parse_key(sf_mask_policy *pol, const sf_node *n, sf_error *err)
{
    static const char *const keys[] = {"env", "file", NULL};
    const sf_node *v;
    int rc;
    if (!n || sf_node_is_null(n))
        return 0;
    if ((rc = want_map(n, "key", err)) || (rc = check_keys(n, "key", keys, err)))
        return rc;
    if (n->n != 1)
        return sf_node_error(err, SF_ECONFIG, n, "key needs exactly one of env: VAR or file: PATH");
    v = n->vals[0];
    if ((rc = want_scalar(v, n->keys[0]->str, err)))
        return rc;
    if (v->len == 0 || sf_node_is_null(v))
        return sf_node_error(err, SF_ECONFIG, v, "key %s must not be empty", n->keys[0]->str);
    if (strcmp(n->keys[0]->str, "env") == 0)
        pol->key_env = dupn(v->str, v->len);
    else
        pol->key_file = dupn(v->str, v->len);
    return pol->key_env || pol->key_file ? 0 : nomem(err);
}

static int validate(sf_mask_policy *pol, sf_error *err)
{
    static const char *const top[] = {"version", "strict", "key", "sensitive", "tables", NULL};
    const sf_node *root = sf_yaml_root(pol->doc), *n;
    long long version;
    int rc;
    if (root->kind != SF_NODE_MAP)
        return sf_node_error(err, SF_ECONFIG, root, "a masking policy must be a mapping, not a %s",
                             sf_node_kind_name(root));
    if ((rc = check_keys(root, "the policy", top, err)))
        return rc;
    if (!(n = sf_node_get(root, "version")))
        return sf_node_error(err, SF_ECONFIG, root, "missing 'version: 1'");
    if (sf_node_i64(&version, n, 0, 1000000, err) < 0 || version != 1)
        return sf_node_error(err, SF_ECONFIG, n, "unsupported policy version '%s' (expected 1)",
                             n->kind == SF_NODE_SCALAR ? n->str : sf_node_kind_name(n));
    pol->strict = 1;
    if ((n = sf_node_get(root, "strict")) && (rc = sf_node_bool(&pol->strict, n, err)))
        return rc;
    if ((rc = parse_key(pol, sf_node_get(root, "key"), err)) ||
        (rc = parse_sensitive(pol, sf_node_get(root, "sensitive"), err)))
        return rc;
    n = sf_node_get(root, "tables");
    if (!n || sf_node_is_null(n))
        return 0;
    if ((rc = want_map(n, "tables", err)))
        return rc;
    if (!(pol->tables = calloc(n->n ? n->n : 1, sizeof(*pol->tables))))
        return nomem(err);
    for (size_t i = 0; i < n->n; i++) {
        sf_policy_table *t = &pol->tables[i];
        pol->ntables = i + 1;
        if ((rc = parse_table(t, n->keys[i], n->vals[i], err)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(pol->tables[j].schema, t->schema) == 0 && strcmp(pol->tables[j].name, t->name) == 0) {
                sf_buf q = SF_BUF_INIT;
                (void)sf_ident_quote(&q, t->schema, strlen(t->schema));
                (void)sf_buf_addc(&q, '.');
                (void)sf_ident_quote(&q, t->name, strlen(t->name));
                rc = sf_node_error(err, SF_ECONFIG, t->key, "table %s is listed twice (also as '%s' at line %u)", q.ptr,
                                   pol->tables[j].key->str, pol->tables[j].key->line);
                sf_buf_free(&q);
                return rc;
            }
    }
    return 0;
}

int sf_mask_policy_load_mem(sf_mask_policy **out, const char *name, const char *yaml, size_t len, sf_error *err)
{
    sf_mask_policy *pol;
    int rc;
    *out = NULL;
    if (!(pol = calloc(1, sizeof(*pol))))
        return nomem(err);
    sf_sha256_hex(pol->sha256, yaml, len);
    if ((rc = sf_yaml_load_mem(&pol->doc, name, yaml, len, err)) || (rc = validate(pol, err))) {
        sf_mask_policy_free(pol);
        return rc;
    }
    *out = pol;
    return 0;
}

int sf_mask_policy_load(sf_mask_policy **out, const char *path, sf_error *err)
{
    FILE *f;
    struct stat st;
    char *data;
    size_t n;
    int rc;
    *out = NULL;
    if (!(f = fopen(path, "rb")))
        return sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sf_error_set(err, SF_EIO, "cannot read '%s': not a regular file", path);
    }
    if ((uint64_t)st.st_size > POLICY_MAX_BYTES) {
        fclose(f);
        return sf_error_set(err, SF_ECONFIG, "'%s' is larger than %u bytes", path, POLICY_MAX_BYTES);
    }
    if (!(data = malloc((size_t)st.st_size + 1))) {
        fclose(f);
        return nomem(err);
    }
    n = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        rc = sf_error_set(err, SF_EIO, "cannot read '%s': %s", path, strerror(errno));
        fclose(f);
        free(data);
        return rc;
    }
    fclose(f);
    rc = sf_mask_policy_load_mem(out, path, data, n, err);
    free(data);
    return rc;
}

void sf_mask_policy_free(sf_mask_policy *pol)
{
    if (!pol)
        return;
    for (size_t i = 0; i < pol->ntables; i++) {
        for (size_t j = 0; j < pol->tables[i].nrules; j++)
            rule_free(&pol->tables[i].rules[j]);
        free(pol->tables[i].rules);
        free(pol->tables[i].schema);
        free(pol->tables[i].name);
    }
    free(pol->tables);
    for (size_t i = 0; i < pol->nsensitive; i++)
        free(pol->sensitive[i]);
    free(pol->sensitive);
    free(pol->key_env);
    free(pol->key_file);
    sf_yaml_free(pol->doc);
    free(pol);
}

const char *sf_mask_policy_sha256(const sf_mask_policy *pol)
{
    return pol->sha256;
}

int sf_mask_policy_strict(const sf_mask_policy *pol)
{
    return pol->strict;
}

const char *sf_mask_policy_key_env(const sf_mask_policy *pol)
{
    return pol->key_env;
}

const char *sf_mask_policy_key_file(const sf_mask_policy *pol)
{
    return pol->key_file;
}

size_t sf_mask_policy_ntables(const sf_mask_policy *pol)
{
    return pol->ntables;
}

const char *sf_mask_policy_table_schema(const sf_mask_policy *pol, size_t i)
{
    return i < pol->ntables ? pol->tables[i].schema : NULL;
}

const char *sf_mask_policy_table_name(const sf_mask_policy *pol, size_t i)
{
    return i < pol->ntables ? pol->tables[i].name : NULL;
}

const sf_policy_table *sf_policy_find(const sf_mask_policy *pol, const char *schema, const char *table)
{
    for (size_t i = 0; i < pol->ntables; i++)
        if (strcmp(pol->tables[i].schema, schema) == 0 && strcmp(pol->tables[i].name, table) == 0)
            return &pol->tables[i];
    return NULL;
}

/*
 * Lower-case ASCII letters and digits of s (everything else dropped), so
 * "E-Mail", "e_mail" and "EMail" all read "email".
 */
static size_t squash(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (unsigned char)c >= 0x80)
            out[n++] = c;
    }
    out[n] = 0;
    return n;
}

int sf_policy_is_sensitive(const sf_mask_policy *pol, const char *column)
{
    char col[256], sub[256];
    squash(col, sizeof(col), column);
    for (size_t i = 0; i < pol->nsensitive; i++)
        if (squash(sub, sizeof(sub), pol->sensitive[i]) > 0 && strstr(col, sub))
            return 1;
    return 0;
}
