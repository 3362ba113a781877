#ifndef STAGEFORK_YAML_H
#define STAGEFORK_YAML_H
/*
 * A YAML document loaded (with libyaml) into a read-only tree whose nodes
 * remember file:line:column, so every loader (config, templates, masking
 * policy, seed specs) can report errors at the exact position.
 */

#include <stddef.h>
#include "stagefork/error.h"

typedef enum { SF_NODE_SCALAR, SF_NODE_MAP, SF_NODE_SEQ } sf_node_kind;

typedef struct sf_node sf_node;
struct sf_node {
    sf_node_kind kind;
    unsigned line, col;       /* 1-based position of the node's start */
    const char *file;         /* borrowed from the document */
    /* SCALAR */
    char *str;                /* NUL-terminated; may contain NULs (len is exact) */
    size_t len;
    int plain;                /* unquoted scalar (so `null`, `~`, `` mean null) */
    /* MAP: keys[i] -> vals[i];  SEQ: vals[i] */
    size_t n;
    sf_node **keys;
    sf_node **vals;
};

typedef struct sf_yaml_doc sf_yaml_doc;

/* Load a file; the first document only. Errors name file:line:column. */
int sf_yaml_load_file(sf_yaml_doc **out, const char *path, sf_error *err);
/* Load from memory; `name` is used in messages and as sf_node.file. */
int sf_yaml_load_mem(sf_yaml_doc **out, const char *name, const char *data, size_t len, sf_error *err);
/* The root node (an empty document gives an empty MAP). Borrowed. */
const sf_node *sf_yaml_root(const sf_yaml_doc *doc);
const char *sf_yaml_file(const sf_yaml_doc *doc);
void sf_yaml_free(sf_yaml_doc *doc);

/* Map lookup by exact key; NULL if absent or `map` is not a MAP. Borrowed. */
const sf_node *sf_node_get(const sf_node *map, const char *key);
/* Dotted path lookup ("postgres.admin_url"); NULL if any step is missing. */
const sf_node *sf_node_path(const sf_node *root, const char *dotted);
/* True for a plain null scalar (null, Null, NULL, ~ or empty). */
int sf_node_is_null(const sf_node *n);
/* Scalar accessors: SF_ECONFIG with the node's position on type mismatch. */
int sf_node_bool(int *out, const sf_node *n, sf_error *err);
int sf_node_i64(long long *out, const sf_node *n, long long min, long long max, sf_error *err);
int sf_node_double(double *out, const sf_node *n, sf_error *err);
/* "scalar", "mapping", "sequence" */
const char *sf_node_kind_name(const sf_node *n);

/*
 * Set err to "FILE:LINE:COL: message" for node n (n may be NULL, then just
 * the message) and return code.
 */
int sf_node_error(sf_error *err, int code, const sf_node *n, const char *fmt, ...) SF_PRINTF(4, 5);

#endif
