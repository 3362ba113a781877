/* libyaml event stream -> sf_node tree with positions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "file.h"
#include "stagefork/buf.h"
#include "stagefork/yaml.h"

#define MAX_DEPTH 256
#define MAX_NODES 2000000

struct anchor {
    char *name;
    sf_node *node;
};

struct sf_yaml_doc {
    char *file;
    sf_node *root;
    sf_node **all;      /* every allocated node, for freeing (aliases share nodes) */
    size_t nall, capall;
    struct anchor *anchors;
    size_t nanchors;
};

static sf_node empty_map = {SF_NODE_MAP, 1, 1, "", NULL, 0, 0, 0, NULL, NULL};

static sf_node *new_node(sf_yaml_doc *doc, sf_node_kind kind, const yaml_mark_t *mark)
{
    sf_node *n;
    if (doc->nall >= MAX_NODES)
        return NULL;
    if (doc->nall == doc->capall) {
        size_t nc = doc->capall ? doc->capall * 2 : 64;
        sf_node **p = realloc(doc->all, nc * sizeof(*p));
        if (!p)
            return NULL;
        doc->all = p;
        doc->capall = nc;
    }
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (unsigned)mark->line + 1;
    n->col = (unsigned)mark->column + 1;
    n->file = doc->file;
    doc->all[doc->nall++] = n;
    return n;
}

static int push_child(sf_node *parent, sf_node *key, sf_node *val)
{
    size_t nn = parent->n + 1;
    sf_node **v = realloc(parent->vals, nn * sizeof(*v));
    if (!v)
        return -1;
    parent->vals = v;
    if (parent->kind == SF_NODE_MAP) {
        sf_node **k = realloc(parent->keys, nn * sizeof(*k));
        if (!k)
            return -1;
        parent->keys = k;
        k[parent->n] = key;
    }
    v[parent->n] = val;
    parent->n = nn;
    return 0;
}

static int add_anchor(sf_yaml_doc *doc, const yaml_char_t *name, sf_node *n)
{
    struct anchor *a;
    if (!name)
        return 0;
    a = realloc(doc->anchors, (doc->nanchors + 1) * sizeof(*a));
    if (!a)
        return -1;
    doc->anchors = a;
    a[doc->nanchors].name = strdup((const char *)name);
    if (!a[doc->nanchors].name)
        return -1;
    a[doc->nanchors++].node = n;
    return 0;
}

static sf_node *find_anchor(sf_yaml_doc *doc, const yaml_char_t *name)
{
    for (size_t i = doc->nanchors; i-- > 0;)
        if (strcmp(doc->anchors[i].name, (const char *)name) == 0)
            return doc->anchors[i].node;
    return NULL;
}

/* Frame of the container being built; for maps, `key` holds a pending key. */
struct frame {
    sf_node *node;
    sf_node *key;
};

static int parse_doc(sf_yaml_doc *doc, yaml_parser_t *parser, sf_error *err)
{
    struct frame stack[MAX_DEPTH];
    int depth = 0, done = 0, rc = 0;
    yaml_event_t ev;

    while (!done) {
        sf_node *n = NULL;
        if (!yaml_parser_parse(parser, &ev)) {
            const char *ctx = parser->context ? parser->context : "";
            return sf_error_set(err, SF_ECONFIG, "%s:%zu:%zu: %s%s%s", doc->file,
                                parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                                parser->problem ? parser->problem : "invalid YAML",
                                *ctx ? " " : "", ctx);
        }
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_ALIAS_EVENT:
            n = find_anchor(doc, ev.data.alias.anchor);
            if (!n) {
                rc = sf_error_set(err, SF_ECONFIG, "%s:%zu:%zu: unknown alias '*%s'", doc->file,
                                  ev.start_mark.line + 1, ev.start_mark.column + 1,
                                  (const char *)ev.data.alias.anchor);
                goto out;
            }
            break;
        case YAML_SCALAR_EVENT:
            n = new_node(doc, SF_NODE_SCALAR, &ev.start_mark);
            if (!n || !(n->str = malloc(ev.data.scalar.length + 1)))
                goto oom;
            memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
            n->str[ev.data.scalar.length] = '\0';
            n->len = ev.data.scalar.length;
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (add_anchor(doc, ev.data.scalar.anchor, n))
                goto oom;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            int is_map = ev.type == YAML_MAPPING_START_EVENT;
            sf_node *c = new_node(doc, is_map ? SF_NODE_MAP : SF_NODE_SEQ, &ev.start_mark);
            if (!c)
                goto oom;
            if (add_anchor(doc, is_map ? ev.data.mapping_start.anchor : ev.data.sequence_start.anchor, c))
                goto oom;
            if (depth == MAX_DEPTH) {
                rc = sf_error_set(err, SF_ECONFIG, "%s:%zu:%zu: nesting too deep", doc->file,
                                  ev.start_mark.line + 1, ev.start_mark.column + 1);
                goto out;
            }
            /* attach to parent now, descend */
            if (depth > 0) {
                struct frame *f = &stack[depth - 1];
                if (f->node->kind == SF_NODE_MAP && !f->key) {
                    rc = sf_error_set(err, SF_ECONFIG, "%s:%zu:%zu: mapping keys must be scalars",
                                      doc->file, ev.start_mark.line + 1, ev.start_mark.column + 1);
                    goto out;
                }
                if (push_child(f->node, f->key, c))
                    goto oom;
                f->key = NULL;
            } else {
                doc->root = c;
            }
            stack[depth].node = c;
            stack[depth].key = NULL;
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        if (n) {
            if (depth == 0) {
                doc->root = n;
            } else {
                struct frame *f = &stack[depth - 1];
                if (f->node->kind == SF_NODE_MAP && !f->key) {
                    if (n->kind != SF_NODE_SCALAR) {
                        rc = sf_error_set(err, SF_ECONFIG, "%s:%u:%u: mapping keys must be scalars",
                                          doc->file, n->line, n->col);
                        goto out;
                    }
                    for (size_t i = 0; i < f->node->n; i++)
                        if (strcmp(f->node->keys[i]->str, n->str) == 0) {
                            rc = sf_error_set(err, SF_ECONFIG,
                                              "%s:%u:%u: duplicate key '%s' (first at line %u)",
                                              doc->file, n->line, n->col, n->str,
                                              f->node->keys[i]->line);
                            goto out;
                        }
                    f->key = n;
                } else {
                    if (push_child(f->node, f->key, n))
                        goto oom;
                    f->key = NULL;
                }
            }
        }
        yaml_event_delete(&ev);
        continue;
    oom:
        rc = sf_error_set(err, SF_ENOMEM, "%s: out of memory while loading YAML", doc->file);
    out:
        yaml_event_delete(&ev);
        return rc;
    }
    return 0;
}

static int load(sf_yaml_doc **out, const char *name, const char *data, size_t len, sf_error *err)
{
    yaml_parser_t parser;
    sf_yaml_doc *doc = calloc(1, sizeof(*doc));
    int rc;
    *out = NULL;
    if (!doc || !(doc->file = strdup(name))) {
        free(doc);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if (!yaml_parser_initialize(&parser)) {
        sf_yaml_free(doc);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    rc = parse_doc(doc, &parser, err);
    yaml_parser_delete(&parser);
    if (rc < 0) {
        sf_yaml_free(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int sf_yaml_load_mem(sf_yaml_doc **out, const char *name, const char *data, size_t len, sf_error *err)
{
    return load(out, name, data, len, err);
}

int sf_yaml_load_file(sf_yaml_doc **out, const char *path, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc;
    *out = NULL;
    if ((rc = sf_file_read(&b, path, 64u << 20, err)) == 0)
        rc = load(out, path, b.ptr, b.len, err);
    sf_buf_free(&b);
    return rc;
}

const sf_node *sf_yaml_root(const sf_yaml_doc *doc)
{
    if (!doc || !doc->root || sf_node_is_null(doc->root))
        return &empty_map;
    return doc->root;
}

const char *sf_yaml_file(const sf_yaml_doc *doc)
{
    return doc ? doc->file : NULL;
}

void sf_yaml_free(sf_yaml_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->nall; i++) {
        free(doc->all[i]->str);
        free(doc->all[i]->keys);
        free(doc->all[i]->vals);
        free(doc->all[i]);
    }
    for (size_t i = 0; i < doc->nanchors; i++)
        free(doc->anchors[i].name);
    free(doc->anchors);
    free(doc->all);
    free(doc->file);
    free(doc);
}

const sf_node *sf_node_get(const sf_node *map, const char *key)
{
    if (!map || map->kind != SF_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) == 0)
            return map->vals[i];
    return NULL;
}

const sf_node *sf_node_path(const sf_node *root, const char *dotted)
{
    const sf_node *n = root;
    const char *p = dotted;
    while (n && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        const sf_node *next = NULL;
        if (n->kind == SF_NODE_MAP) {
            for (size_t i = 0; i < n->n; i++)
                if (n->keys[i]->len == len && memcmp(n->keys[i]->str, p, len) == 0) {
                    next = n->vals[i];
                    break;
                }
        } else if (n->kind == SF_NODE_SEQ && len > 0 && len < 10) {
            size_t idx = 0, j;
            for (j = 0; j < len && p[j] >= '0' && p[j] <= '9'; j++)
                idx = idx * 10 + (size_t)(p[j] - '0');
            if (j == len && idx < n->n)
                next = n->vals[idx];
        }
        n = next;
        p = dot ? dot + 1 : p + len;
    }
    return n;
}

int sf_node_is_null(const sf_node *n)
{
    return n && n->kind == SF_NODE_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
            strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

const char *sf_node_kind_name(const sf_node *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case SF_NODE_SCALAR: return "scalar";
    case SF_NODE_MAP: return "mapping";
    default: return "sequence";
    }
}

int sf_node_error(sf_error *err, int code, const sf_node *n, const char *fmt, ...)
{
    char msg[SF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n && n->file)
        return sf_error_set(err, code, "%s:%u:%u: %s", n->file, n->line, n->col, msg);
    return sf_error_set(err, code, "%s", msg);
}

int sf_node_bool(int *out, const sf_node *n, sf_error *err)
{
    static const char *t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (n && n->kind == SF_NODE_SCALAR && n->plain)
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            if (strcmp(n->str, t[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(n->str, f[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    return sf_node_error(err, SF_ECONFIG, n, "expected true or false, got %s%s%s",
                         n && n->kind == SF_NODE_SCALAR ? "'" : "a ",
                         n && n->kind == SF_NODE_SCALAR ? n->str : sf_node_kind_name(n),
                         n && n->kind == SF_NODE_SCALAR ? "'" : "");
}

int sf_node_i64(long long *out, const sf_node *n, long long min, long long max, sf_error *err)
{
    char *end;
    long long v;
    if (!n || n->kind != SF_NODE_SCALAR || !n->len)
        return sf_node_error(err, SF_ECONFIG, n, "expected an integer, got a %s", sf_node_kind_name(n));
    errno = 0;
    v = strtoll(n->str, &end, 10);
    if (errno || *end || end == n->str)
        return sf_node_error(err, SF_ECONFIG, n, "expected an integer, got '%s'", n->str);
    if (v < min || v > max)
        return sf_node_error(err, SF_ECONFIG, n, "%lld is out of range [%lld, %lld]", v, min, max);
    *out = v;
    return 0;
}

int sf_node_double(double *out, const sf_node *n, sf_error *err)
{
    char *end;
    double v;
    if (!n || n->kind != SF_NODE_SCALAR || !n->len)
        return sf_node_error(err, SF_ECONFIG, n, "expected a number, got a %s", sf_node_kind_name(n));
    errno = 0;
    v = strtod(n->str, &end);
    if (errno || *end || end == n->str || v != v)
        return sf_node_error(err, SF_ECONFIG, n, "expected a number, got '%s'", n->str);
    *out = v;
    return 0;
}
