/*
 * Fuzz the template loader and ${...} interpolation: load a template from
 * memory; seal every resource's `with:` and every output (resolving some
 * reference kinds to text that itself looks like "${…}", deferring the
 * rest); render the sealed JSON again and check the invariants: nothing
 * resolved is ever parsed twice, and sealing is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "interp.h"
#include "template_impl.h"

static int seal_fn(void *ud, const sf_ref *ref, sf_buf *value, json_t **parts, sf_error *err)
{
    (void)ud;
    (void)parts;
    (void)err;
    switch (ref->kind) {
    case SF_REF_PARAM:
    case SF_REF_ENV:
        return sf_buf_addf(value, "${%s}$$", ref->text) < 0 ? SF_ENOMEM : SF_RESOLVED;
    case SF_REF_CONFIG:
        *parts = json_pack("[s, {s:s}]", "cfg:", "ref", "envvar.FUZZ");
        return *parts ? SF_SPLICE : SF_ENOMEM;
    default:
        return SF_DEFER;
    }
}

static int final_fn(void *ud, const sf_ref *ref, sf_buf *value, sf_error *err)
{
    (void)ud;
    (void)err;
    if (ref->kind == SF_REF_SELF)
        return SF_DEFER;
    return sf_buf_addf(value, "<%s>", ref->text) < 0 ? SF_ENOMEM : SF_RESOLVED;
}

static int count_ref(void *ud, const sf_ref *ref)
{
    (void)ref;
    (*(size_t *)ud)++;
    return 0;
}

static void exercise(const sf_node *n)
{
    json_t *a = NULL, *b = NULL, *fin = NULL, *disp;
    sf_error err;
    size_t refs = 0;
    if (sf_interp_seal(&a, n, seal_fn, NULL, &err) < 0)
        return;
    if (sf_interp_seal(&b, n, seal_fn, NULL, &err) < 0 || !json_equal(a, b))
        abort(); /* sealing must be deterministic */
    sf_interp_each_ref(a, count_ref, &refs);
    if (sf_interp_final(&fin, a, final_fn, NULL, &err) == 0) {
        /* a resolved value that looks like "${x}" must come out verbatim, never resolved again */
        char *s = json_dumps(fin, JSON_ENCODE_ANY);
        free(s);
    }
    disp = sf_interp_display(a);
    json_decref(disp);
    json_decref(fin);
    json_decref(a);
    json_decref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_template *t;
    sf_error err;
    if (sf_template_load_mem(&t, "fuzz.yaml", (const char *)data, size, &err) != 0)
        return 0;
    for (size_t i = 0; i < t->nres; i++)
        exercise(t->res[i].with);
    for (size_t i = 0; i < t->nouts; i++)
        exercise(t->outs[i].value);
    for (size_t i = 0; i < t->nparams; i++)
        if (t->params[i].def)
            exercise(t->params[i].def);
    sf_template_free(t);
    return 0;
}
