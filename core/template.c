/* Template lookup, loading and structural validation (SPEC §4). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "interp.h"
#include "template_impl.h"
#include "stagefork/util.h"

static const sf_node empty_map = {SF_NODE_MAP, 0, 0, NULL, NULL, 0, 0, 0, NULL, NULL};

static const char *const reserved[] = {"env", "param", "config", "secret", "envvar", "self"};

int sf_tpl_valid_resource_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(s, reserved[i]) == 0)
            return 0;
    return 1;
}

int sf_tpl_valid_output_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return 0;
    return 1;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A path given explicitly: a file, or a directory holding stack.yaml. */
static int use_path(sf_buf *out, const char *p, sf_error *err)
{
    if (is_dir(p)) {
        if (sf_buf_sets(out, p) < 0 || sf_buf_adds(out, "/stack.yaml") < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        if (!is_file(out->ptr))
            return sf_error_set(err, SF_ENOTFOUND, "cannot open '%s': No such file or directory", out->ptr);
        return 0;
    }
    if (!is_file(p))
        return sf_error_set(err, SF_ENOTFOUND, "cannot open template '%s': %s", p,
                            errno ? strerror(errno) : "not a regular file");
    return sf_buf_sets(out, p) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

/* Try NAME.yaml, NAME.yml, NAME/stack.yaml in dir. */
static int try_dir(sf_buf *out, const char *dir, const char *name)
{
    static const char *const forms[] = {"%s/%s.yaml", "%s/%s.yml", "%s/%s/stack.yaml"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        sf_buf_clear(out);
        if (sf_buf_addf(out, forms[i], dir, name) < 0)
            return SF_ENOMEM;
        if (is_file(out->ptr))
            return 1;
    }
    return 0;
}

int sf_template_find(sf_buf *out, const char *ref, const sf_config *cfg, sf_error *err)
{
    const char **dirs = NULL;
    size_t ndirs = cfg ? sf_config_template_dirs(cfg, &dirs) : 0;
    const char *cfgpath = cfg ? sf_config_path(cfg) : NULL;
    sf_buf looked = SF_BUF_INIT, alt = SF_BUF_INIT;
    size_t rlen = strlen(ref);
    int rc;

    if (!*ref)
        return sf_error_set(err, SF_EUSAGE, "empty template name");
    if (strchr(ref, '/') || (rlen > 5 && strcmp(ref + rlen - 5, ".yaml") == 0) ||
        (rlen > 4 && strcmp(ref + rlen - 4, ".yml") == 0)) {
        errno = 0;
        return use_path(out, ref, err);
    }
    for (size_t i = 0; i <= ndirs; i++) {
        const char *d = i < ndirs ? dirs[i] : "templates";
        if ((rc = try_dir(out, d, ref)) != 0)
            goto found;
        /* a relative config directory is also tried next to the config file */
        if (i < ndirs && d[0] != '/' && cfgpath && strchr(cfgpath, '/')) {
            const char *slash = strrchr(cfgpath, '/');
            sf_buf_clear(&alt);
            if (sf_buf_add(&alt, cfgpath, (size_t)(slash - cfgpath)) < 0 || sf_buf_addf(&alt, "/%s", d) < 0) {
                rc = SF_ENOMEM;
                goto found;
            }
            if ((rc = try_dir(out, alt.ptr, ref)) != 0)
                goto found;
        }
        if (sf_buf_addf(&looked, "%s%s", looked.len ? ", " : "", d) < 0) {
            rc = SF_ENOMEM;
            goto found;
        }
    }
    if (is_file(ref) || is_dir(ref)) {
        errno = 0;
        rc = use_path(out, ref, err);
        sf_buf_free(&looked);
        sf_buf_free(&alt);
        return rc;
    }
    sf_error_set(err, SF_ENOTFOUND, "template '%s' not found (looked for %s.yaml, %s.yml and %s/stack.yaml in: %s)",
                 ref, ref, ref, ref, looked.ptr);
    sf_buf_free(&looked);
    sf_buf_free(&alt);
    return SF_ENOTFOUND;
found:
    sf_buf_free(&looked);
    sf_buf_free(&alt);
    if (rc < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

static int check_keys(const sf_node *map, const char *where, const char *const *allowed, size_t n, sf_error *err)
{
    for (size_t i = 0; i < map->n; i++) {
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(map->keys[i]->str, allowed[j]) == 0)
                break;
        if (j == n) {
            sf_buf list = SF_BUF_INIT;
            int rc;
            for (j = 0; j < n; j++)
                sf_buf_addf(&list, "%s%s", j ? ", " : "", allowed[j]);
            rc = sf_node_error(err, SF_ECONFIG, map->keys[i], "unknown key '%s' in %s (expected one of: %s)",
                               map->keys[i]->str, where, list.ptr);
            sf_buf_free(&list);
            return rc;
        }
    }
    return 0;
}

static int want(const sf_node *n, sf_node_kind k, const char *what, sf_error *err)
{
    static const char *const names[] = {"a scalar", "a mapping", "a sequence"};
    if (n->kind != k)
        return sf_node_error(err, SF_ECONFIG, n, "%s must be %s, not a %s", what, names[k], sf_node_kind_name(n));
    return 0;
}

/* Only syntax here: every ${...} must parse. */
static int syntax_ref(void *ud, const sf_ref *ref, sf_error *err)
{
    (void)ud;
    (void)ref;
    (void)err;
    return 0;
}

static int check_syntax(const sf_node *n, sf_error *err)
{
    int rc;
    if (n->kind == SF_NODE_SCALAR)
        return sf_interp_scan(n->str, n->len, n, syntax_ref, NULL, err);
    for (size_t i = 0; i < n->n; i++)
        if ((rc = check_syntax(n->vals[i], err)) < 0)
            return rc;
    return 0;
}

static int load_params(sf_template *t, const sf_node *map, sf_error *err)
{
    static const char *const keys[] = {"default", "description"};
    int rc;
    if (!map || sf_node_is_null(map))
        return 0;
    if ((rc = want(map, SF_NODE_MAP, "params", err)))
        return rc;
    if (!(t->params = calloc(map->n ? map->n : 1, sizeof(*t->params))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < map->n; i++) {
        struct sf_tpl_param *p = &t->params[t->nparams++];
        const sf_node *v = map->vals[i], *d;
        p->name = map->keys[i]->str;
        p->key = map->keys[i];
        p->description = "";
        if (!sf_tpl_valid_output_name(p->name))
            return sf_node_error(err, SF_ECONFIG, p->key,
                                 "invalid parameter name '%s' (letters, digits and '_', not starting with a digit)",
                                 p->name);
        if (sf_node_is_null(v))
            continue;
        if (v->kind == SF_NODE_SCALAR) { /* shorthand: NAME: default */
            p->def = v;
            continue;
        }
        if ((rc = want(v, SF_NODE_MAP, "a parameter", err)) || (rc = check_keys(v, "a parameter", keys, 2, err)))
            return rc;
        if ((d = sf_node_get(v, "default")) && !sf_node_is_null(d)) {
            if ((rc = want(d, SF_NODE_SCALAR, "a parameter's default", err)))
                return rc;
            p->def = d;
        }
        if ((d = sf_node_get(v, "description")) && !sf_node_is_null(d)) {
            if ((rc = want(d, SF_NODE_SCALAR, "a parameter's description", err)))
                return rc;
            p->description = d->str;
        }
    }
    return 0;
}

static int load_resources(sf_template *t, const sf_node *map, sf_error *err)
{
    static const char *const keys[] = {"type", "with", "depends_on"};
    int rc;
    if (!map || sf_node_is_null(map))
        return 0;
    if ((rc = want(map, SF_NODE_MAP, "resources", err)))
        return rc;
    if (!(t->res = calloc(map->n ? map->n : 1, sizeof(*t->res))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < map->n; i++) {
        struct sf_tpl_res *r = &t->res[t->nres++];
        const sf_node *v = map->vals[i], *d;
        r->name = map->keys[i]->str;
        r->key = map->keys[i];
        r->with = &empty_map;
        if (!sf_tpl_valid_resource_name(r->name))
            return sf_node_error(err, SF_ECONFIG, r->key,
                                 "invalid resource name '%s' (letters, digits, '_' and '-', at most 63, not "
                                 "starting with a digit, and not one of env, param, config, secret, envvar, self)",
                                 r->name);
        if ((rc = want(v, SF_NODE_MAP, "a resource", err)) || (rc = check_keys(v, "a resource", keys, 3, err)))
            return rc;
        r->type_node = sf_node_get(v, "type");
        if (!r->type_node || sf_node_is_null(r->type_node))
            return sf_node_error(err, SF_ECONFIG, v, "resource '%s' has no type", r->name);
        if ((rc = want(r->type_node, SF_NODE_SCALAR, "type", err)))
            return rc;
        r->type = r->type_node->str;
        if ((d = sf_node_get(v, "with")) && !sf_node_is_null(d)) {
            if ((rc = want(d, SF_NODE_MAP, "with", err)) || (rc = check_syntax(d, err)))
                return rc;
            r->with = d;
        }
        if ((d = sf_node_get(v, "depends_on")) && !sf_node_is_null(d)) {
            if (d->kind == SF_NODE_SCALAR) {
                r->deps = malloc(sizeof(*r->deps));
                if (!r->deps)
                    return sf_error_set(err, SF_ENOMEM, "out of memory");
                r->deps[0] = d;
                r->ndeps = 1;
            } else {
                if ((rc = want(d, SF_NODE_SEQ, "depends_on", err)))
                    return rc;
                r->deps = calloc(d->n ? d->n : 1, sizeof(*r->deps));
                if (!r->deps)
                    return sf_error_set(err, SF_ENOMEM, "out of memory");
                for (size_t j = 0; j < d->n; j++) {
                    if ((rc = want(d->vals[j], SF_NODE_SCALAR, "an entry of depends_on", err)))
                        return rc;
                    r->deps[r->ndeps++] = d->vals[j];
                }
            }
        }
    }
    return 0;
}

static int load_outputs(sf_template *t, const sf_node *map, sf_error *err)
{
    int rc;
    if (!map || sf_node_is_null(map))
        return 0;
    if ((rc = want(map, SF_NODE_MAP, "outputs", err)))
        return rc;
    if (!(t->outs = calloc(map->n ? map->n : 1, sizeof(*t->outs))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < map->n; i++) {
        struct sf_tpl_out *o = &t->outs[t->nouts++];
        o->name = map->keys[i]->str;
        o->key = map->keys[i];
        o->value = map->vals[i];
        if (!sf_tpl_valid_output_name(o->name))
            return sf_node_error(err, SF_ECONFIG, o->key,
                                 "invalid output name '%s' (letters, digits and '_', not starting with a digit: "
                                 "outputs become environment variables)",
                                 o->name);
        if ((rc = want(o->value, SF_NODE_SCALAR, "an output", err)) || (rc = check_syntax(o->value, err)))
            return rc;
    }
    return 0;
}

static int validate(sf_template *t, sf_error *err)
{
    static const char *const keys[] = {"name", "description", "ttl", "params", "resources", "outputs"};
    const sf_node *root = sf_yaml_root(t->doc), *n;
    int rc;
    if (root->kind != SF_NODE_MAP)
        return sf_node_error(err, SF_ECONFIG, root, "a template must be a mapping");
    if ((rc = check_keys(root, "the template", keys, sizeof(keys) / sizeof(keys[0]), err)))
        return rc;
    t->name = t->stem;
    t->description = "";
    if ((n = sf_node_get(root, "name")) && !sf_node_is_null(n)) {
        if ((rc = want(n, SF_NODE_SCALAR, "name", err)))
            return rc;
        t->name = n->str;
    }
    if ((n = sf_node_get(root, "description")) && !sf_node_is_null(n)) {
        if ((rc = want(n, SF_NODE_SCALAR, "description", err)))
            return rc;
        t->description = n->str;
    }
    if ((n = sf_node_get(root, "ttl")) && !sf_node_is_null(n)) {
        sf_error e;
        if ((rc = want(n, SF_NODE_SCALAR, "ttl", err)))
            return rc;
        if (sf_duration_parse(&t->ttl, n->str, &e) < 0)
            return sf_node_error(err, SF_ECONFIG, n, "ttl: %s", e.msg);
        t->ttl_node = n;
    }
    if ((rc = load_params(t, sf_node_get(root, "params"), err)) ||
        (rc = load_resources(t, sf_node_get(root, "resources"), err)) ||
        (rc = load_outputs(t, sf_node_get(root, "outputs"), err)))
        return rc;
    if (t->nres == 0)
        return sf_node_error(err, SF_ECONFIG, sf_node_get(root, "resources") ? sf_node_get(root, "resources") : root,
                             "the template declares no resources");
    return 0;
}

/* "dir/distribution/stack.yaml" -> "distribution"; "x/erp.yaml" -> "erp". */
static char *stem_of(const char *path)
{
    const char *base = strrchr(path, '/'), *end;
    size_t len = strlen(path);
    if (len > 11 && strcmp(path + len - 11, "/stack.yaml") == 0) {
        const char *p = path + len - 11;
        const char *s = p;
        while (s > path && s[-1] != '/')
            s--;
        return p > s ? strndup(s, (size_t)(p - s)) : strdup("stack");
    }
    base = base ? base + 1 : path;
    end = strrchr(base, '.');
    if (!end || end == base)
        end = base + strlen(base);
    return strndup(base, (size_t)(end - base));
}

static int finish(sf_template **out, sf_template *t, const char *path, sf_error *err)
{
    int rc;
    if (!(t->path = strdup(path)) || !(t->stem = stem_of(path))) {
        sf_template_free(t);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if ((rc = validate(t, err)) < 0) {
        sf_template_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int sf_template_load_mem(sf_template **out, const char *name, const char *data, size_t len, sf_error *err)
{
    sf_template *t = calloc(1, sizeof(*t));
    int rc;
    *out = NULL;
    if (!t)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if ((rc = sf_yaml_load_mem(&t->doc, name, data, len, err)) < 0) {
        sf_template_free(t);
        return rc;
    }
    return finish(out, t, name, err);
}

/* A template that cannot be found is a usage problem (exit 2), not a runtime one. */
static int not_found_is_config(int rc, sf_error *err)
{
    if (rc != SF_ENOTFOUND)
        return rc;
    if (err)
        err->code = SF_ECONFIG;
    return SF_ECONFIG;
}

int sf_template_load(sf_template **out, const char *ref, const sf_config *cfg, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    sf_template *t;
    int rc;
    *out = NULL;
    if ((rc = sf_template_find(&path, ref, cfg, err)) < 0) {
        sf_buf_free(&path);
        return not_found_is_config(rc, err);
    }
    if (!(t = calloc(1, sizeof(*t)))) {
        sf_buf_free(&path);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if ((rc = sf_yaml_load_file(&t->doc, path.ptr, err)) < 0) {
        sf_template_free(t);
        sf_buf_free(&path);
        return not_found_is_config(rc, err);
    }
    rc = finish(out, t, path.ptr, err);
    sf_buf_free(&path);
    return rc;
}

void sf_template_free(sf_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nres; i++)
        free(t->res[i].deps);
    free(t->res);
    free(t->params);
    free(t->outs);
    sf_yaml_free(t->doc);
    free(t->path);
    free(t->stem);
    free(t);
}

const char *sf_template_name(const sf_template *t) { return t->name; }
const char *sf_template_description(const sf_template *t) { return t->description; }
const char *sf_template_path(const sf_template *t) { return t->path; }
int64_t sf_template_ttl(const sf_template *t) { return t->ttl; }
size_t sf_template_nresources(const sf_template *t) { return t->nres; }
const char *sf_template_resource_name(const sf_template *t, size_t i) { return i < t->nres ? t->res[i].name : NULL; }
const char *sf_template_resource_type(const sf_template *t, size_t i) { return i < t->nres ? t->res[i].type : NULL; }
