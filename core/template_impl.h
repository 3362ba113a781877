#ifndef SF_CORE_TEMPLATE_IMPL_H
#define SF_CORE_TEMPLATE_IMPL_H
/* The loaded template's parts, for the engine (internal). Nodes borrow from doc. */

#include "stagefork/template.h"

struct sf_tpl_param {
    const char *name;
    const sf_node *key;
    const sf_node *def;   /* scalar default, or NULL when the parameter is required */
    const char *description;
};

struct sf_tpl_res {
    const char *name, *type;
    const sf_node *key, *type_node;
    const sf_node *with;  /* a mapping (possibly the shared empty one) */
    size_t ndeps;
    const sf_node **deps; /* scalars of depends_on */
};

struct sf_tpl_out {
    const char *name;
    const sf_node *key, *value;
};

struct sf_template {
    sf_yaml_doc *doc;
    char *path;
    char *stem;
    const char *name, *description;
    int64_t ttl;
    const sf_node *ttl_node;
    size_t nparams, nres, nouts;
    struct sf_tpl_param *params;
    struct sf_tpl_res *res;
    struct sf_tpl_out *outs;
};

/* Identifier rules shared with the engine. */
int sf_tpl_valid_resource_name(const char *s);
int sf_tpl_valid_output_name(const char *s);

#endif
