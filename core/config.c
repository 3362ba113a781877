/* stagefork.yaml: validation of known keys, typed views, ${envvar.NAME}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/config.h"
#include "stagefork/util.h"

struct sf_config {
    sf_yaml_doc *doc;
    char *path;
    const char *prefix, *state, *store, *policy, *key_env, *key_file;
    const char **tpl_dirs, **protected_, **allow_hosts;
    size_t ntpl, nprot, nallow;
    long long max_envs;
    int64_t default_ttl, max_ttl;
};

static const char *const top_keys[] = {"state", "templates", "prefix", "snapshots", "masking",
                                       "limits", "guard", "postgres", "s3", "vars"};

static int want_kind(const sf_node *n, sf_node_kind k, const char *what, sf_error *err)
{
    static const char *names[] = {"a scalar", "a mapping", "a sequence"};
    if (n->kind != k)
        return sf_node_error(err, SF_ECONFIG, n, "%s must be %s, not a %s", what, names[k],
                             sf_node_kind_name(n));
    return 0;
}

static int check_keys(const sf_node *map, const char *section, const char *const *allowed,
                      size_t nallowed, sf_error *err)
{
    for (size_t i = 0; i < map->n; i++) {
        size_t j;
        for (j = 0; j < nallowed; j++)
            if (strcmp(map->keys[i]->str, allowed[j]) == 0)
                break;
        if (j == nallowed) {
            char list[512] = "";
            size_t off = 0;
            for (j = 0; j < nallowed && off < sizeof(list); j++) {
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", allowed[j]);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return sf_node_error(err, SF_ECONFIG, map->keys[i], "unknown key '%s'%s%s (expected one of: %s)",
                                 map->keys[i]->str, section ? " in " : "", section ? section : "", list);
        }
    }
    return 0;
}

/* A scalar string (null allowed = absent). */
static int opt_str(const char **out, const sf_node *map, const char *key, const char *what, sf_error *err)
{
    const sf_node *n = sf_node_get(map, key);
    if (!n || sf_node_is_null(n))
        return 0;
    if (want_kind(n, SF_NODE_SCALAR, what, err))
        return SF_ECONFIG;
    *out = n->str;
    return 0;
}

/* A sequence of scalars, or a single scalar. */
static int str_list(const char ***out, size_t *count, const sf_node *n, const char *what, sf_error *err)
{
    if (!n || sf_node_is_null(n))
        return 0;
    if (n->kind == SF_NODE_SCALAR) {
        *out = malloc(sizeof(char *));
        if (!*out)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        (*out)[0] = n->str;
        *count = 1;
        return 0;
    }
    if (want_kind(n, SF_NODE_SEQ, what, err))
        return SF_ECONFIG;
    *out = calloc(n->n ? n->n : 1, sizeof(char *));
    if (!*out)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        if (want_kind(n->vals[i], SF_NODE_SCALAR, what, err))
            return SF_ECONFIG;
        (*out)[i] = n->vals[i]->str;
    }
    *count = n->n;
    return 0;
}

static int opt_duration(int64_t *out, const sf_node *map, const char *key, sf_error *err)
{
    const sf_node *n = sf_node_get(map, key);
    sf_error e;
    if (!n || sf_node_is_null(n))
        return 0;
    if (want_kind(n, SF_NODE_SCALAR, key, err))
        return SF_ECONFIG;
    if (sf_duration_parse(out, n->str, &e) < 0)
        return sf_node_error(err, SF_ECONFIG, n, "limits.%s: %s", key, e.msg);
    return 0;
}

static int validate(sf_config *c, sf_error *err)
{
    const sf_node *root = sf_yaml_root(c->doc), *n;
    static const char *const snap_keys[] = {"store"};
    static const char *const mask_keys[] = {"policy", "key_env", "key_file"};
    static const char *const limit_keys[] = {"max_envs", "default_ttl", "max_ttl"};
    static const char *const guard_keys[] = {"protected", "allow_hosts"};
    int rc;

    if (root->kind != SF_NODE_MAP)
        return sf_node_error(err, SF_ECONFIG, root, "the configuration must be a mapping");
    if ((rc = check_keys(root, NULL, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), err)))
        return rc;
    if ((rc = opt_str(&c->state, root, "state", "state", err)) ||
        (rc = opt_str(&c->prefix, root, "prefix", "prefix", err)) ||
        (rc = str_list(&c->tpl_dirs, &c->ntpl, sf_node_get(root, "templates"), "templates", err)))
        return rc;
    if (c->prefix) {
        size_t len = strlen(c->prefix);
        if (len == 0 || len > 16 || strspn(c->prefix, "abcdefghijklmnopqrstuvwxyz0123456789") != len ||
            !(c->prefix[0] >= 'a' && c->prefix[0] <= 'z'))
            return sf_node_error(err, SF_ECONFIG, sf_node_get(root, "prefix"),
                                 "prefix must be 1-16 lowercase letters or digits starting with a letter");
    }
    if ((n = sf_node_get(root, "snapshots")) && !sf_node_is_null(n)) {
        if ((rc = want_kind(n, SF_NODE_MAP, "snapshots", err)) ||
            (rc = check_keys(n, "snapshots", snap_keys, 1, err)) ||
            (rc = opt_str(&c->store, n, "store", "snapshots.store", err)))
            return rc;
    }
    if ((n = sf_node_get(root, "masking")) && !sf_node_is_null(n)) {
        if ((rc = want_kind(n, SF_NODE_MAP, "masking", err)) ||
            (rc = check_keys(n, "masking", mask_keys, 3, err)) ||
            (rc = opt_str(&c->policy, n, "policy", "masking.policy", err)) ||
            (rc = opt_str(&c->key_env, n, "key_env", "masking.key_env", err)) ||
            (rc = opt_str(&c->key_file, n, "key_file", "masking.key_file", err)))
            return rc;
        if (c->key_env && c->key_file)
            return sf_node_error(err, SF_ECONFIG, n, "masking: give key_env or key_file, not both");
    }
    if ((n = sf_node_get(root, "limits")) && !sf_node_is_null(n)) {
        const sf_node *m;
        if ((rc = want_kind(n, SF_NODE_MAP, "limits", err)) ||
            (rc = check_keys(n, "limits", limit_keys, 3, err)))
            return rc;
        if ((m = sf_node_get(n, "max_envs")) && !sf_node_is_null(m) &&
            (rc = sf_node_i64(&c->max_envs, m, 0, 1000000, err)))
            return rc;
        if ((rc = opt_duration(&c->default_ttl, n, "default_ttl", err)) ||
            (rc = opt_duration(&c->max_ttl, n, "max_ttl", err)))
            return rc;
        if (c->max_ttl != SF_DURATION_NONE &&
            (c->default_ttl == SF_DURATION_NONE || c->default_ttl > c->max_ttl))
            return sf_node_error(err, SF_ECONFIG, sf_node_get(n, "default_ttl") ? sf_node_get(n, "default_ttl") : n,
                                 "limits.default_ttl exceeds limits.max_ttl");
    }
    if ((n = sf_node_get(root, "guard")) && !sf_node_is_null(n)) {
        if ((rc = want_kind(n, SF_NODE_MAP, "guard", err)) ||
            (rc = check_keys(n, "guard", guard_keys, 2, err)) ||
            (rc = str_list(&c->protected_, &c->nprot, sf_node_get(n, "protected"), "guard.protected", err)) ||
            (rc = str_list(&c->allow_hosts, &c->nallow, sf_node_get(n, "allow_hosts"), "guard.allow_hosts", err)))
            return rc;
    }
    for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
        /* free-form sections must at least be mappings */
        if ((strcmp(top_keys[i], "postgres") == 0 || strcmp(top_keys[i], "s3") == 0 ||
             strcmp(top_keys[i], "vars") == 0) &&
            (n = sf_node_get(root, top_keys[i])) && !sf_node_is_null(n) &&
            (rc = want_kind(n, SF_NODE_MAP, top_keys[i], err)))
            return rc;
    }
    return 0;
}

int sf_config_load(sf_config **out, const char *path, sf_error *err)
{
    sf_config *c = calloc(1, sizeof(*c));
    int rc;
    *out = NULL;
    if (!c)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    c->default_ttl = 8 * 3600;
    c->max_ttl = 7 * 86400;
    if (path) {
        if ((rc = sf_yaml_load_file(&c->doc, path, err)) < 0) {
            sf_config_free(c);
            return rc == SF_ENOTFOUND ? rc : (rc == SF_EIO ? rc : SF_ECONFIG);
        }
        if (!(c->path = strdup(path))) {
            sf_config_free(c);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        if ((rc = validate(c, err)) < 0) {
            sf_config_free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

void sf_config_free(sf_config *c)
{
    if (!c)
        return;
    sf_yaml_free(c->doc);
    free(c->tpl_dirs);
    free(c->protected_);
    free(c->allow_hosts);
    free(c->path);
    free(c);
}

const char *sf_config_path(const sf_config *c) { return c->path; }
const sf_node *sf_config_root(const sf_config *c) { return sf_yaml_root(c->doc); }
const char *sf_config_prefix(const sf_config *c) { return c->prefix ? c->prefix : "sf"; }
const char *sf_config_state(const sf_config *c) { return c->state; }
const char *sf_config_snapshot_store(const sf_config *c) { return c->store; }
const char *sf_config_mask_policy(const sf_config *c) { return c->policy; }
const char *sf_config_mask_key_env(const sf_config *c) { return c->key_env; }
const char *sf_config_mask_key_file(const sf_config *c) { return c->key_file; }
long long sf_config_max_envs(const sf_config *c) { return c->max_envs; }
int64_t sf_config_default_ttl(const sf_config *c) { return c->default_ttl; }
int64_t sf_config_max_ttl(const sf_config *c) { return c->max_ttl; }

size_t sf_config_template_dirs(const sf_config *c, const char ***out)
{
    *out = c->tpl_dirs;
    return c->ntpl;
}

size_t sf_config_protected(const sf_config *c, const char ***out)
{
    *out = c->protected_;
    return c->nprot;
}

size_t sf_config_allow_hosts(const sf_config *c, const char ***out)
{
    *out = c->allow_hosts;
    return c->nallow;
}

int sf_config_expand(sf_buf *out, const char *text, const sf_node *n, sf_error *err)
{
    const char *p = text;
    sf_buf_clear(out);
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            if (sf_buf_adds(out, "${") < 0)
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            char name[256];
            size_t len;
            const char *val;
            if (!end)
                return sf_node_error(err, SF_ECONFIG, n, "unterminated '${' in '%s'", text);
            len = (size_t)(end - (p + 2));
            if (len < 8 || strncmp(p + 2, "envvar.", 7) != 0 || len - 7 >= sizeof(name))
                return sf_node_error(err, SF_ECONFIG, n,
                                     "'%.*s': only ${envvar.NAME} may be used in the configuration",
                                     (int)(end - p + 1), p);
            memcpy(name, p + 9, len - 7);
            name[len - 7] = '\0';
            val = getenv(name);
            if (!val)
                return sf_node_error(err, SF_ECONFIG, n, "environment variable %s is not set", name);
            if (sf_buf_adds(out, val) < 0)
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            p = end + 1;
        } else {
            if (sf_buf_addc(out, *p++) < 0)
                return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    return 0;
}

int sf_config_get(sf_buf *out, const sf_config *c, const char *dotted, sf_error *err)
{
    const sf_node *n = sf_node_path(sf_config_root(c), dotted);
    if (!n || sf_node_is_null(n))
        return sf_error_set(err, SF_ENOTFOUND, "%s: no key '%s' in the configuration",
                            c->path ? c->path : "(default config)", dotted);
    if (n->kind != SF_NODE_SCALAR)
        return sf_node_error(err, SF_ECONFIG, n, "'%s' is a %s, not a value", dotted, sf_node_kind_name(n));
    return sf_config_expand(out, n->str, n, err);
}
