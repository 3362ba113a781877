/*
 * Fuzz the masking policy loader; every policy that loads is compiled
 * against a table made of the columns it names (text and numeric types in
 * turn) and one row is masked, so rule parameters reach the transformers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"
#include "rowmask.h"
#include "stagefork/mask.h"

static const char *const decls[] = {"text", "numeric(12,2)", "character varying(24)", "integer", "date", "public.d"};
static const char *const values[] = {"Jane.Doe@example.org", "1234.50", "+49 30 1234567", "42", "2024-01-31", "x"};

static void mask_table(const sf_mask_policy *pol, const sf_policy_table *t, sf_rowctx *ctx)
{
    const char *cols[64];
    sf_coltype types[64];
    sf_field in[64], out[64];
    size_t n = 0;
    sf_tableplan *plan;
    sf_error err;
    for (size_t i = 0; i < t->nrules && n < 60; i++) {
        cols[n++] = t->rules[i].column;
        if (t->rules[i].by)
            cols[n++] = t->rules[i].by;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = (i + strlen(cols[i])) % 6;
        sf_coltype_parse(&types[i], decls[k], strlen(decls[k]));
        in[i].ptr = values[k];
        in[i].len = strlen(values[k]);
        in[i].null = i % 7 == 6;
    }
    if (sf_tableplan_new(&plan, pol, t->schema, t->name, cols, types, n, 1, &err) != 0)
        return;
    (void)sf_tableplan_mask(plan, ctx, in, out, &err);
    sf_tableplan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sf_mask_key *key;
    sf_mask_policy *pol;
    sf_rowctx *ctx;
    sf_error err;
    if (!key && sf_mask_key_from_bytes(&key, "fuzzing-key-0123456789abcdefghijkl", 34, &err) != 0)
        abort();
    if (sf_mask_policy_load_mem(&pol, "fuzz.yaml", (const char *)data, size, &err) != 0)
        return 0;
    (void)sf_mask_policy_sha256(pol);
    if (sf_rowctx_new(&ctx, key, &err) == 0) {
        for (size_t i = 0; i < sf_mask_policy_ntables(pol); i++)
            mask_table(pol, sf_policy_find(pol, sf_mask_policy_table_schema(pol, i), sf_mask_policy_table_name(pol, i)), ctx);
        sf_rowctx_free(ctx);
    }
    sf_mask_policy_free(pol);
    return 0;
}
