#ifndef SF_CORE_INTERP_H
#define SF_CORE_INTERP_H
/*
 * ${...} interpolation (internal to the engine; docs/environments.md has
 * the user-facing rules).
 *
 * Two stages:
 *  1. seal: a YAML node tree becomes JSON. Every ${ref} is handed to a
 *     resolver, which either gives its value (inlined as text), defers it
 *     (kept as a reference), or splices a list of parts (a config value that
 *     itself uses ${envvar.X}). A string with deferred references is stored
 *     as {"${}": ["literal", {"ref": "envvar.TOKEN"}, ...]}; everything else
 *     is plain JSON. Sealed JSON is what the state stores: it never holds an
 *     envvar value or a secret.
 *  2. final: the deferred references of sealed JSON are resolved (at the
 *     moment a provider is called) into plain JSON.
 * Typing: plain YAML scalars true/false, integers and floats become JSON
 * booleans and numbers, plain null/~/empty becomes null; quoted scalars and
 * anything containing ${ or $${ are strings.
 */

#include <jansson.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"
#include "stagefork/yaml.h"

#define SF_SEALED_KEY "${}"

typedef enum {
    SF_REF_ENV,    /* env.branch|slug|ident|id|expires_at */
    SF_REF_PARAM,  /* param.NAME */
    SF_REF_CONFIG, /* config.DOTTED.PATH */
    SF_REF_SECRET, /* secret.NAME */
    SF_REF_ENVVAR, /* envvar.NAME */
    SF_REF_SELF,   /* self.OUTPUT */
    SF_REF_RES     /* RESOURCE.OUTPUT */
} sf_ref_kind;

typedef struct sf_ref {
    sf_ref_kind kind;
    const char *text; /* everything between ${ and } */
    const char *head; /* text before the first '.' */
    const char *name; /* text after the first '.' */
    const char *file; /* position of the "${" (file NULL when unknown) */
    unsigned line, col;
} sf_ref;

/* What a seal resolver did with a reference. */
enum { SF_RESOLVED = 0, SF_DEFER = 1, SF_SPLICE = 2 };

/*
 * Seal resolver: return SF_RESOLVED with the value in `value`, SF_DEFER to
 * keep the reference, SF_SPLICE with a new JSON array of parts (strings and
 * {"ref": …} objects) in *parts, or a negative error (message in err,
 * ideally through sf_ref_error).
 */
typedef int (*sf_seal_fn)(void *ud, const sf_ref *ref, sf_buf *value, json_t **parts, sf_error *err);
/*
 * Final resolver: return SF_RESOLVED with the value in `value`, SF_DEFER to
 * leave the literal text "${ref}" in the string (only sensible for
 * ${self.X} not known yet), or a negative error.
 */
typedef int (*sf_final_fn)(void *ud, const sf_ref *ref, sf_buf *value, sf_error *err);

/* err = "FILE:LINE:COL: message" at the reference's position; returns code. */
int sf_ref_error(sf_error *err, int code, const sf_ref *ref, const char *fmt, ...) SF_PRINTF(4, 5);

/*
 * Walk the string `s` (len bytes) of node `n` (n may be NULL) and call
 * fn(ud, ref) for every reference, in order. Syntax errors (unterminated
 * "${", empty or malformed reference) are SF_ECONFIG at the position.
 */
int sf_interp_scan(const char *s, size_t len, const sf_node *n,
                   int (*fn)(void *ud, const sf_ref *ref, sf_error *err), void *ud, sf_error *err);

/* Node tree -> sealed JSON (new reference in *out). Mapping keys are literal. */
int sf_interp_seal(json_t **out, const sf_node *n, sf_seal_fn fn, void *ud, sf_error *err);
/* One string (e.g. a --set value or a config value) -> JSON array of parts. */
int sf_interp_seal_text(json_t **out_parts, const char *s, size_t len, const sf_node *n, sf_seal_fn fn,
                        void *ud, sf_error *err);

/* Sealed JSON -> plain JSON with every deferred reference resolved by fn. */
int sf_interp_final(json_t **out, const json_t *sealed, sf_final_fn fn, void *ud, sf_error *err);
/* Sealed JSON -> plain JSON where deferred references read "${ref}" (plan, status). */
json_t *sf_interp_display(const json_t *sealed);
/*
 * Call fn for every deferred reference in sealed JSON (in document order).
 * Returns the first non-zero value fn returns.
 */
int sf_interp_each_ref(const json_t *sealed, int (*fn)(void *ud, const sf_ref *ref), void *ud);

/* Parse "a.b" (the text inside ${}) into ref (strings point into buf). */
int sf_ref_parse(sf_ref *ref, char *buf, size_t bufsz, const char *text, size_t len);

#endif
