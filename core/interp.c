/* ${...} interpolation: scanning, sealing node trees into JSON, final rendering. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "interp.h"

#define REF_MAX 512

int sf_ref_error(sf_error *err, int code, const sf_ref *ref, const char *fmt, ...)
{
    char msg[SF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ref && ref->file)
        return sf_error_set(err, code, "%s:%u:%u: %s", ref->file, ref->line, ref->col, msg);
    return sf_error_set(err, code, "%s", msg);
}

static int seg_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int sf_ref_parse(sf_ref *ref, char *buf, size_t bufsz, const char *text, size_t len)
{
    static const struct { const char *head; sf_ref_kind kind; } kinds[] = {
        {"env", SF_REF_ENV},       {"param", SF_REF_PARAM},   {"config", SF_REF_CONFIG},
        {"secret", SF_REF_SECRET}, {"envvar", SF_REF_ENVVAR}, {"self", SF_REF_SELF}};
    char *dot;
    size_t seglen = 0, nseg = 1;
    if (len == 0 || len + 1 > bufsz / 2)
        return SF_ECONFIG;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.') {
            if (seglen == 0)
                return SF_ECONFIG;
            seglen = 0;
            nseg++;
        } else if (!seg_char(text[i])) {
            return SF_ECONFIG;
        } else {
            seglen++;
        }
    }
    if (seglen == 0 || nseg < 2)
        return SF_ECONFIG;
    /* buf holds "text\0head\0" so text and head/name can both be NUL-terminated */
    memcpy(buf, text, len);
    buf[len] = '\0';
    memcpy(buf + len + 1, text, len);
    buf[2 * len + 1] = '\0';
    ref->text = buf;
    ref->head = buf + len + 1;
    dot = strchr(buf + len + 1, '.');
    *dot = '\0';
    ref->name = dot + 1;
    ref->kind = SF_REF_RES;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(ref->head, kinds[i].head) == 0)
            ref->kind = kinds[i].kind;
    /* only config paths may have more than two segments */
    if (ref->kind != SF_REF_CONFIG && strchr(ref->name, '.'))
        return SF_ECONFIG;
    return 0;
}

/* Position of byte `off` of scalar s in node n (best effort for multi-line scalars). */
static void position(sf_ref *ref, const sf_node *n, const char *s, size_t len, size_t off)
{
    ref->file = n ? n->file : NULL;
    ref->line = n ? n->line : 0;
    ref->col = n ? n->col : 0;
    if (!n || memchr(s, '\n', off) || (!n->plain && memchr(s, '\n', len)))
        return;
    ref->col += n->plain ? 0 : 1;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            ref->col++;
}

/* Split a string into literal chunks and references. */
typedef int (*chunk_fn)(void *ud, const char *lit, size_t n, const sf_ref *ref, sf_error *err);

static int split(const char *s, size_t len, const sf_node *n, chunk_fn fn, void *ud, sf_error *err)
{
    size_t i = 0, start = 0;
    int rc;
    while (i < len) {
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            /* "$${" -> "${": emit through the first '$', continue at the '{' */
            if ((rc = fn(ud, s + start, i - start + 1, NULL, err)) < 0)
                return rc;
            i += 2;
            start = i;
            continue;
        }
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            char buf[2 * REF_MAX + 4];
            const char *end = memchr(s + i + 2, '}', len - i - 2);
            sf_ref ref;
            position(&ref, n, s, len, i);
            if (!end)
                return sf_ref_error(err, SF_ECONFIG, &ref, "unterminated '${' in '%.*s'", (int)(len > 200 ? 200 : len), s);
            if (sf_ref_parse(&ref, buf, sizeof(buf), s + i + 2, (size_t)(end - (s + i + 2))) < 0)
                return sf_ref_error(err, SF_ECONFIG, &ref,
                                    "invalid reference '%.*s' (expected ${KIND.NAME}, e.g. ${env.slug}, "
                                    "${param.replicas}, ${erp.url}; write $${ for a literal ${)",
                                    (int)(end - (s + i) + 1 > 200 ? 200 : end - (s + i) + 1), s + i);
            if (i > start && (rc = fn(ud, s + start, i - start, NULL, err)) < 0)
                return rc;
            if ((rc = fn(ud, NULL, 0, &ref, err)) < 0)
                return rc;
            i = (size_t)(end - s) + 1;
            start = i;
            continue;
        }
        i++;
    }
    if (len > start && (rc = fn(ud, s + start, len - start, NULL, err)) < 0)
        return rc;
    return 0;
}

struct scan_ctx {
    int (*fn)(void *ud, const sf_ref *ref, sf_error *err);
    void *ud;
};

static int scan_chunk(void *ud, const char *lit, size_t n, const sf_ref *ref, sf_error *err)
{
    struct scan_ctx *c = ud;
    (void)lit;
    (void)n;
    return ref ? c->fn(c->ud, ref, err) : 0;
}

int sf_interp_scan(const char *s, size_t len, const sf_node *n,
                   int (*fn)(void *ud, const sf_ref *ref, sf_error *err), void *ud, sf_error *err)
{
    struct scan_ctx c = {fn, ud};
    return split(s, len, n, scan_chunk, &c, err);
}

/* Append a literal to a parts array, merging with a trailing literal. */
static int parts_add_lit(json_t *parts, const char *s, size_t n)
{
    size_t k = json_array_size(parts);
    json_t *last = k ? json_array_get(parts, k - 1) : NULL;
    if (n == 0)
        return 0;
    if (json_is_string(last)) {
        sf_buf b = SF_BUF_INIT;
        int rc = 0;
        if (sf_buf_add(&b, json_string_value(last), json_string_length(last)) < 0 || sf_buf_add(&b, s, n) < 0 ||
            json_string_setn(last, b.ptr, b.len) < 0)
            rc = SF_ENOMEM;
        sf_buf_free(&b);
        return rc;
    }
    {
        json_t *v = json_stringn(s, n);
        if (!v)
            return SF_EFORMAT;
        return json_array_append_new(parts, v) < 0 ? SF_ENOMEM : 0;
    }
}

static int parts_add_ref(json_t *parts, const char *text)
{
    json_t *o = json_pack("{s:s}", "ref", text);
    return !o || json_array_append_new(parts, o) < 0 ? SF_ENOMEM : 0;
}

struct seal_ctx {
    sf_seal_fn fn;
    void *ud;
    json_t *parts;
    sf_buf val;
};

static int seal_chunk(void *ud, const char *lit, size_t n, const sf_ref *ref, sf_error *err)
{
    struct seal_ctx *c = ud;
    json_t *spliced = NULL;
    int rc;
    if (!ref) {
        if ((rc = parts_add_lit(c->parts, lit, n)) < 0)
            return sf_error_set(err, rc, rc == SF_EFORMAT ? "text is not valid UTF-8" : "out of memory");
        return 0;
    }
    sf_buf_clear(&c->val);
    rc = c->fn(c->ud, ref, &c->val, &spliced, err);
    if (rc < 0)
        return rc;
    if (rc == SF_RESOLVED) {
        if ((rc = parts_add_lit(c->parts, c->val.ptr, c->val.len)) < 0)
            return sf_ref_error(err, rc, ref, rc == SF_EFORMAT ? "the value of ${%s} is not valid UTF-8" : "out of memory",
                                ref->text);
        return 0;
    }
    if (rc == SF_DEFER)
        return parts_add_ref(c->parts, ref->text) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
    {
        size_t i;
        json_t *p;
        json_array_foreach(spliced, i, p)
        {
            if (json_is_string(p))
                rc = parts_add_lit(c->parts, json_string_value(p), json_string_length(p));
            else
                rc = json_array_append(c->parts, p) < 0 ? SF_ENOMEM : 0;
            if (rc < 0) {
                json_decref(spliced);
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            }
        }
        json_decref(spliced);
    }
    return 0;
}

int sf_interp_seal_text(json_t **out_parts, const char *s, size_t len, const sf_node *n, sf_seal_fn fn,
                        void *ud, sf_error *err)
{
    struct seal_ctx c = {fn, ud, json_array(), SF_BUF_INIT};
    int rc;
    *out_parts = NULL;
    if (!c.parts)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    rc = split(s, len, n, seal_chunk, &c, err);
    sf_buf_free(&c.val);
    if (rc < 0) {
        json_decref(c.parts);
        return rc;
    }
    *out_parts = c.parts;
    return 0;
}

/* Parts -> a JSON string when all literal, else the sealed object. Steals parts. */
static json_t *parts_to_json(json_t *parts)
{
    size_t k = json_array_size(parts);
    json_t *v;
    if (k == 0) {
        json_decref(parts);
        return json_string("");
    }
    if (k == 1 && json_is_string(json_array_get(parts, 0))) {
        v = json_incref(json_array_get(parts, 0));
        json_decref(parts);
        return v;
    }
    v = json_object();
    if (!v || json_object_set_new(v, SF_SEALED_KEY, parts) < 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* YAML 1.2 core schema for plain scalars without interpolation. */
static json_t *typed_scalar(const sf_node *n)
{
    const char *s = n->str;
    size_t i = 0;
    int digits = 0, dot = 0, exp = 0;
    if (!n->plain || n->len != strlen(s))
        return json_stringn(n->str, n->len);
    if (sf_node_is_null(n))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    if (s[i] == '-' || s[i] == '+')
        i++;
    for (; s[i]; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.' && !dot && !exp)
            dot = 1;
        else if ((s[i] == 'e' || s[i] == 'E') && digits && !exp) {
            exp = 1;
            if (s[i + 1] == '-' || s[i + 1] == '+')
                i++;
            if (!(s[i + 1] >= '0' && s[i + 1] <= '9'))
                return json_string(s);
        } else
            return json_string(s);
    }
    if (!digits)
        return json_string(s);
    if (!dot && !exp) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
            return json_string(s);
        return json_integer(v);
    }
    {
        char *end;
        double d = strtod(s, &end);
        if (*end)
            return json_string(s);
        return json_real(d);
    }
}

static int has_dollar_brace(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '$' && s[i + 1] == '{')
            return 1;
    return 0;
}

int sf_interp_seal(json_t **out, const sf_node *n, sf_seal_fn fn, void *ud, sf_error *err)
{
    json_t *v = NULL;
    int rc;
    *out = NULL;
    switch (n->kind) {
    case SF_NODE_SCALAR:
        if (has_dollar_brace(n->str, n->len)) {
            json_t *parts;
            if ((rc = sf_interp_seal_text(&parts, n->str, n->len, n, fn, ud, err)) < 0)
                return rc;
            v = parts_to_json(parts);
        } else {
            v = typed_scalar(n);
        }
        if (!v)
            return sf_node_error(err, SF_ECONFIG, n, "value is not valid UTF-8");
        break;
    case SF_NODE_MAP:
        if (!(v = json_object()))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        for (size_t i = 0; i < n->n; i++) {
            json_t *c;
            if (strcmp(n->keys[i]->str, SF_SEALED_KEY) == 0 || strlen(n->keys[i]->str) != n->keys[i]->len) {
                json_decref(v);
                return sf_node_error(err, SF_ECONFIG, n->keys[i], "'%s' cannot be used as a key", n->keys[i]->str);
            }
            if ((rc = sf_interp_seal(&c, n->vals[i], fn, ud, err)) < 0) {
                json_decref(v);
                return rc;
            }
            if (json_object_set_new(v, n->keys[i]->str, c) < 0) {
                json_decref(v);
                return sf_node_error(err, SF_ECONFIG, n->keys[i], "key is not valid UTF-8");
            }
        }
        break;
    case SF_NODE_SEQ:
        if (!(v = json_array()))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        for (size_t i = 0; i < n->n; i++) {
            json_t *c;
            if ((rc = sf_interp_seal(&c, n->vals[i], fn, ud, err)) < 0) {
                json_decref(v);
                return rc;
            }
            if (json_array_append_new(v, c) < 0) {
                json_decref(v);
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            }
        }
        break;
    }
    *out = v;
    return 0;
}

static const json_t *sealed_parts(const json_t *v)
{
    json_t *p;
    if (!json_is_object(v) || json_object_size(v) != 1)
        return NULL;
    p = json_object_get(v, SF_SEALED_KEY);
    return json_is_array(p) ? p : NULL;
}

int sf_interp_final(json_t **out, const json_t *sealed, sf_final_fn fn, void *ud, sf_error *err)
{
    const json_t *parts = sealed_parts(sealed);
    json_t *v;
    int rc;
    *out = NULL;
    if (parts) {
        sf_buf b = SF_BUF_INIT, val = SF_BUF_INIT;
        size_t i;
        json_t *p;
        rc = 0;
        json_array_foreach(parts, i, p)
        {
            if (json_is_string(p)) {
                if (sf_buf_add(&b, json_string_value(p), json_string_length(p)) < 0)
                    rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            } else {
                const char *t = json_string_value(json_object_get(p, "ref"));
                char buf[2 * REF_MAX + 4];
                sf_ref ref;
                memset(&ref, 0, sizeof(ref));
                if (!t || sf_ref_parse(&ref, buf, sizeof(buf), t, strlen(t)) < 0) {
                    rc = sf_error_set(err, SF_EFORMAT, "malformed reference in stored spec");
                    break;
                }
                sf_buf_clear(&val);
                rc = fn(ud, &ref, &val, err);
                if (rc == SF_DEFER)
                    rc = sf_buf_addf(&b, "${%s}", t) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
                else if (rc == SF_RESOLVED)
                    rc = sf_buf_add(&b, val.ptr, val.len) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
            }
            if (rc < 0)
                break;
        }
        sf_buf_free(&val);
        if (rc < 0) {
            sf_buf_free(&b);
            return rc;
        }
        v = json_stringn(b.ptr, b.len);
        sf_buf_free(&b);
        if (!v)
            return sf_error_set(err, SF_EFORMAT, "rendered value is not valid UTF-8");
        *out = v;
        return 0;
    }
    if (json_is_object(sealed)) {
        const char *k;
        json_t *c;
        if (!(v = json_object()))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        json_object_foreach((json_t *)sealed, k, c)
        {
            json_t *r;
            if ((rc = sf_interp_final(&r, c, fn, ud, err)) < 0 || json_object_set_new(v, k, r) < 0) {
                json_decref(v);
                return rc < 0 ? rc : sf_error_set(err, SF_ENOMEM, "out of memory");
            }
        }
        *out = v;
        return 0;
    }
    if (json_is_array(sealed)) {
        size_t i;
        json_t *c;
        if (!(v = json_array()))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        json_array_foreach(sealed, i, c)
        {
            json_t *r;
            if ((rc = sf_interp_final(&r, c, fn, ud, err)) < 0 || json_array_append_new(v, r) < 0) {
                json_decref(v);
                return rc < 0 ? rc : sf_error_set(err, SF_ENOMEM, "out of memory");
            }
        }
        *out = v;
        return 0;
    }
    *out = json_deep_copy(sealed);
    return *out ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
}

static int keep_ref(void *ud, const sf_ref *ref, sf_buf *value, sf_error *err)
{
    (void)ud;
    (void)ref;
    (void)value;
    (void)err;
    return SF_DEFER;
}

json_t *sf_interp_display(const json_t *sealed)
{
    json_t *out = NULL;
    sf_error err;
    if (sf_interp_final(&out, sealed, keep_ref, NULL, &err) < 0)
        return NULL;
    return out;
}

int sf_interp_each_ref(const json_t *sealed, int (*fn)(void *ud, const sf_ref *ref), void *ud)
{
    const json_t *parts = sealed_parts(sealed);
    int rc;
    if (parts) {
        size_t i;
        json_t *p;
        json_array_foreach(parts, i, p)
        {
            const char *t = json_string_value(json_object_get(p, "ref"));
            char buf[2 * REF_MAX + 4];
            sf_ref ref;
            memset(&ref, 0, sizeof(ref));
            if (t && sf_ref_parse(&ref, buf, sizeof(buf), t, strlen(t)) == 0 && (rc = fn(ud, &ref)))
                return rc;
        }
        return 0;
    }
    if (json_is_object(sealed)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)sealed, k, c) if ((rc = sf_interp_each_ref(c, fn, ud))) return rc;
    } else if (json_is_array(sealed)) {
        size_t i;
        json_t *c;
        json_array_foreach(sealed, i, c) if ((rc = sf_interp_each_ref(c, fn, ud))) return rc;
    }
    return 0;
}
