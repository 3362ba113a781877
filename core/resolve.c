/* What each ${ref} means for one env: sealing at plan/up time, final rendering at provider calls. */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "env_impl.h"
#include "stagefork/util.h"

static int list_names(sf_buf *b, const struct sf_analysis *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (sf_buf_addf(b, "%s%s", i ? ", " : "", a->res[i].r->name) < 0)
            return SF_ENOMEM;
    return 0;
}

/* May `name` be an output of resource ar? Unknown when the provider lists none. */
static int known_output(const struct sf_ares *ar, const char *name)
{
    const sf_node *decl = sf_node_get(ar->r->with, "outputs");
    if (!ar->p || !ar->p->outputs)
        return 1;
    for (size_t i = 0; ar->p->outputs[i]; i++)
        if (strcmp(ar->p->outputs[i], name) == 0)
            return 1;
    if (decl && decl->kind == SF_NODE_MAP && sf_node_get(decl, name))
        return 1;
    return 0;
}

static int output_error(sf_error *err, const sf_ref *ref, const struct sf_ares *ar, const char *name)
{
    sf_buf b = SF_BUF_INIT;
    const sf_node *decl = sf_node_get(ar->r->with, "outputs");
    int rc;
    for (size_t i = 0; ar->p->outputs[i]; i++)
        sf_buf_addf(&b, "%s%s", i ? ", " : "", ar->p->outputs[i]);
    for (size_t i = 0; decl && decl->kind == SF_NODE_MAP && i < decl->n; i++)
        sf_buf_addf(&b, ", %s", decl->keys[i]->str);
    rc = sf_ref_error(err, SF_ECONFIG, ref, "resource '%s' (%s) has no output '%s' (it has: %s)", ar->r->name,
                      ar->r->type, name, b.ptr);
    sf_buf_free(&b);
    return rc;
}

/* A config value may itself use ${envvar.X} (kept deferred) and $${; nothing else. */
static int config_inner(void *ud, const sf_ref *ref, sf_buf *value, json_t **parts, sf_error *err)
{
    (void)ud;
    (void)value;
    (void)parts;
    if (ref->kind == SF_REF_ENVVAR)
        return SF_DEFER;
    return sf_ref_error(err, SF_ECONFIG, ref, "'${%s}': only ${envvar.NAME} may be used in the configuration",
                        ref->text);
}

static int json_to_text(sf_buf *out, const json_t *v)
{
    if (json_is_string(v))
        return sf_buf_add(out, json_string_value(v), json_string_length(v));
    if (json_is_null(v))
        return 0;
    {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        int rc;
        if (!s)
            return SF_ENOMEM;
        rc = sf_buf_adds(out, s);
        free(s);
        return rc;
    }
}

static int new_secret(json_t *rec, const char *name, sf_error *err)
{
    json_t *secrets = json_object_get(rec, "secrets");
    unsigned char raw[16];
    char hex[33];
    if (!json_is_object(secrets)) {
        secrets = json_object();
        if (!secrets || json_object_set_new(rec, "secrets", secrets) < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if (json_object_get(secrets, name))
        return 0;
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return sf_error_set(err, SF_ECRYPTO, "cannot generate secret '%s': RAND_bytes failed", name);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return json_object_set_new(secrets, name, json_string(hex)) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory")
                                                                     : 0;
}

static int add_dep(struct sf_resolver *rv, size_t idx)
{
    size_t *p;
    for (size_t i = 0; i < rv->ndeps; i++)
        if (rv->deps[i] == idx)
            return 0;
    if (!(p = realloc(rv->deps, (rv->ndeps + 1) * sizeof(*p))))
        return SF_ENOMEM;
    rv->deps = p;
    rv->deps[rv->ndeps++] = idx;
    return 0;
}

int sf_seal_resolve(void *ud, const sf_ref *ref, sf_buf *value, json_t **parts, sf_error *err)
{
    struct sf_resolver *rv = ud;
    const struct sf_analysis *a = rv->a;
    int idx;
    switch (ref->kind) {
    case SF_REF_ENV:
        if (!strcmp(ref->name, "branch"))
            return sf_buf_adds(value, a->branch) < 0 ? SF_ENOMEM : SF_RESOLVED;
        if (!strcmp(ref->name, "slug"))
            return sf_buf_adds(value, a->slug) < 0 ? SF_ENOMEM : SF_RESOLVED;
        if (!strcmp(ref->name, "ident"))
            return sf_buf_adds(value, a->ident) < 0 ? SF_ENOMEM : SF_RESOLVED;
        if (!strcmp(ref->name, "id")) {
            const char *id = rv->rec ? sf_rec_str(rv->rec, "id") : NULL;
            if (!id)
                return SF_DEFER;
            return sf_buf_adds(value, id) < 0 ? SF_ENOMEM : SF_RESOLVED;
        }
        if (!strcmp(ref->name, "expires_at")) /* renewed on every up: never part of a spec's hash */
            return SF_DEFER;
        return sf_ref_error(err, SF_ECONFIG, ref,
                            "unknown reference '${%s}' (env has branch, slug, ident, id and expires_at)", ref->text);
    case SF_REF_PARAM: {
        json_t *v = json_object_get(a->params, ref->name);
        if (!v) {
            sf_buf b = SF_BUF_INIT;
            const char *k;
            json_t *x;
            int rc;
            json_object_foreach(a->params, k, x) sf_buf_addf(&b, "%s%s", b.len ? ", " : "", k);
            rc = sf_ref_error(err, SF_ECONFIG, ref, "unknown parameter '%s' (the template declares: %s)", ref->name,
                              b.len ? b.ptr : "none");
            sf_buf_free(&b);
            return rc;
        }
        return sf_buf_add(value, json_string_value(v), json_string_length(v)) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
    case SF_REF_CONFIG: {
        const sf_node *n = sf_node_path(sf_config_root(a->cfg), ref->name);
        const char *cp = sf_config_path(a->cfg);
        int rc;
        if (!n || sf_node_is_null(n))
            return sf_ref_error(err, SF_ECONFIG, ref, "unknown reference '${%s}': no key '%s' in %s", ref->text,
                                ref->name, cp ? cp : "the configuration (none loaded)");
        if (n->kind != SF_NODE_SCALAR)
            return sf_ref_error(err, SF_ECONFIG, ref, "'${%s}' is a %s in the configuration, not a value", ref->text,
                                sf_node_kind_name(n));
        if (!memchr(n->str, '$', n->len))
            return sf_buf_add(value, n->str, n->len) < 0 ? SF_ENOMEM : SF_RESOLVED;
        if ((rc = sf_interp_seal_text(parts, n->str, n->len, n, config_inner, NULL, err)) < 0)
            return rc;
        if (rv->collect_envvars) {
            size_t i;
            json_t *p;
            json_array_foreach(*parts, i, p)
            {
                const char *t = json_string_value(json_object_get(p, "ref"));
                if (t && strncmp(t, "envvar.", 7) == 0)
                    json_array_append_new(a->envvars, json_string(t + 7));
            }
        }
        return SF_SPLICE;
    }
    case SF_REF_SECRET:
        if (rv->rec) {
            int rc = new_secret(rv->rec, ref->name, err);
            if (rc < 0)
                return rc;
        }
        return SF_DEFER;
    case SF_REF_ENVVAR:
        if (rv->collect_envvars)
            json_array_append_new(a->envvars, json_string(ref->name));
        return SF_DEFER;
    case SF_REF_SELF:
        if (rv->self_index < 0)
            return sf_ref_error(err, SF_ECONFIG, ref, "'${%s}': self refers to a resource's own outputs and can only "
                                                      "be used inside its `with:`", ref->text);
        if (!known_output(&a->res[rv->self_index], ref->name))
            return output_error(err, ref, &a->res[rv->self_index], ref->name);
        return SF_DEFER;
    case SF_REF_RES:
        break;
    }
    idx = sf_analysis_index(a, ref->head);
    if (idx < 0) {
        sf_buf b = SF_BUF_INIT;
        int rc;
        list_names(&b, a);
        rc = sf_ref_error(err, SF_ECONFIG, ref,
                          "unknown reference '${%s}': no resource '%s' (the template has: %s; other kinds are env, "
                          "param, config, secret, envvar and self)",
                          ref->text, ref->head, b.ptr);
        sf_buf_free(&b);
        return rc;
    }
    if (idx == rv->self_index)
        return sf_ref_error(err, SF_ECONFIG, ref, "resource '%s' refers to its own output as '${%s}'; use ${self.%s}",
                            ref->head, ref->text, ref->name);
    if (!known_output(&a->res[idx], ref->name))
        return output_error(err, ref, &a->res[idx], ref->name);
    if (rv->self_index >= 0 && add_dep(rv, (size_t)idx) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (!rv->rec)
        return SF_DEFER;
    {
        json_t *res = sf_rec_resource(rv->rec, ref->head);
        json_t *outs = json_object_get(res, "outputs"), *v = json_object_get(outs, ref->name);
        if (!res || strcmp(sf_rec_str(res, "status") ? sf_rec_str(res, "status") : "", "ready") != 0)
            return sf_ref_error(err, SF_EINTERNAL, ref, "resource '%s' is not ready", ref->head);
        if (!v) {
            sf_buf b = SF_BUF_INIT;
            const char *k;
            json_t *x;
            int rc;
            json_object_foreach(outs, k, x) sf_buf_addf(&b, "%s%s", b.len ? ", " : "", k);
            rc = sf_ref_error(err, SF_ECONFIG, ref, "resource '%s' has no output '%s' (it has: %s)", ref->head,
                              ref->name, b.len ? b.ptr : "none");
            sf_buf_free(&b);
            return rc;
        }
        if (sf_rec_is_secret_output(res, ref->name))
            return SF_DEFER; /* never copied into a spec; hashed instead (sf_spec_hash) */
        return json_to_text(value, v) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
}

int sf_final_resolve(void *ud, const sf_ref *ref, sf_buf *value, sf_error *err)
{
    struct sf_final *f = ud;
    switch (ref->kind) {
    case SF_REF_ENVVAR: {
        const char *v = getenv(ref->name);
        if (!v) {
            if (f->lenient_envvar)
                return SF_DEFER;
            return sf_error_set(err, SF_ECONFIG, "environment variable %s is not set (needed by ${%s})", ref->name,
                                ref->text);
        }
        return sf_buf_adds(value, v) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
    case SF_REF_SECRET: {
        const char *v = json_string_value(json_object_get(json_object_get(f->rec, "secrets"), ref->name));
        if (!v)
            return sf_error_set(err, SF_EFORMAT, "secret '%s' is missing from the state record", ref->name);
        return sf_buf_adds(value, v) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
    case SF_REF_SELF: {
        json_t *v = json_object_get(f->self_outputs, ref->name);
        if (!v)
            return SF_DEFER;
        return json_to_text(value, v) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
    case SF_REF_RES: {
        json_t *res = sf_rec_resource(f->rec, ref->head);
        json_t *v = json_object_get(json_object_get(res, "outputs"), ref->name);
        if (!v) {
            if (f->lenient_envvar)
                return SF_DEFER;
            return sf_error_set(err, SF_ENOTFOUND, "resource '%s' has no output '%s' recorded", ref->head, ref->name);
        }
        return json_to_text(value, v) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
    case SF_REF_ENV: {
        const char *v = sf_rec_str(f->rec, !strcmp(ref->name, "expires_at") ? "expires_at" : ref->name);
        if (!strcmp(ref->name, "expires_at") && !v)
            v = "none";
        if (!v)
            return sf_error_set(err, SF_EFORMAT, "'${%s}' cannot be rendered from the state record", ref->text);
        return sf_buf_adds(value, v) < 0 ? SF_ENOMEM : SF_RESOLVED;
    }
    default:
        return sf_error_set(err, SF_EFORMAT, "'${%s}' cannot be rendered from the state record", ref->text);
    }
}

struct hash_ctx {
    const json_t *rec;
    sf_buf *b;
};

static int hash_ref(void *ud, const sf_ref *ref)
{
    struct hash_ctx *h = ud;
    json_t *v;
    char hex[65];
    if (ref->kind != SF_REF_RES)
        return 0;
    v = json_object_get(json_object_get(sf_rec_resource(h->rec, ref->head), "outputs"), ref->name);
    if (!json_is_string(v))
        return 0;
    sf_sha256_hex(hex, json_string_value(v), json_string_length(v));
    return sf_buf_addf(h->b, "\n%s=%s", ref->text, hex) < 0 ? SF_ENOMEM : 0;
}

int sf_spec_hash(char out[65], const json_t *sealed, const char *type, const json_t *rec)
{
    sf_buf b = SF_BUF_INIT;
    char *s = json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    struct hash_ctx h = {rec, &b};
    int rc = 0;
    if (!s || sf_buf_addf(&b, "%s\n%s", type, s) < 0 || sf_interp_each_ref(sealed, hash_ref, &h) < 0)
        rc = SF_ENOMEM;
    free(s);
    if (rc == 0)
        sf_sha256_hex(out, b.ptr, b.len);
    sf_buf_free(&b);
    return rc;
}
