/* The --report JSON document: what was masked, counted per table and column. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "maskerint.h"
#include "sqlident.h"

static json_t *table_json(const sf_rep_table *r)
{
    json_t *t = json_object(), *cols = json_array();
    sf_buf q = SF_BUF_INIT;
    sf_ident_quote(&q, r->schema, strlen(r->schema));
    sf_buf_addc(&q, '.');
    sf_ident_quote(&q, r->name, strlen(r->name));
    json_object_set_new(t, "table", json_string(q.ptr));
    json_object_set_new(t, "schema", json_string(r->schema));
    json_object_set_new(t, "name", json_string(r->name));
    json_object_set_new(t, "rows", json_integer((json_int_t)r->rows));
    json_object_set_new(t, "masked", json_boolean(!r->identity));
    for (size_t i = 0; i < r->ncols; i++) {
        const sf_rep_col *c = &r->cols[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "rule", c->rule ? json_string(c->rule) : json_null());
        json_object_set_new(o, "masked", json_integer((json_int_t)c->masked));
        json_object_set_new(o, "nulls", json_integer((json_int_t)c->nulls));
        json_array_append_new(cols, o);
    }
    json_object_set_new(t, "columns", cols);
    sf_buf_free(&q);
    return t;
}

int sf_masker_report_json(const sf_masker *m, sf_buf *out)
{
    json_t *doc = json_object(), *tables = json_array();
    sf_masker *mm = (sf_masker *)m; /* the mutex only */
    uint64_t rows = 0;
    char *text;
    int rc = 0;
    if (!doc || !tables) {
        json_decref(doc);
        json_decref(tables);
        return SF_ENOMEM;
    }
    json_object_set_new(doc, "version", json_integer(1));
    json_object_set_new(doc, "format", json_string(sf_mask_format_name(m->format ? m->format : SF_MASK_FORMAT_PLAIN)));
    json_object_set_new(doc, "strict", json_boolean(m->strict));
    json_object_set_new(doc, "policy_sha256", json_string(sf_mask_policy_sha256(m->pol)));
    json_object_set_new(doc, "key_fingerprint", m->key ? json_string(sf_mask_key_fingerprint(m->key)) : json_null());
    pthread_mutex_lock(&mm->mu);
    json_object_set_new(doc, "bytes_in", json_integer((json_int_t)m->bytes_in));
    json_object_set_new(doc, "bytes_out", json_integer((json_int_t)m->bytes_out));
    json_object_set_new(doc, "seconds", json_real(m->seconds));
    for (size_t i = 0; i < m->nrep; i++) {
        rows += m->rep[i].rows;
        json_array_append_new(tables, table_json(&m->rep[i]));
    }
    pthread_mutex_unlock(&mm->mu);
    json_object_set_new(doc, "rows", json_integer((json_int_t)rows));
    json_object_set_new(doc, "tables", tables);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return SF_ENOMEM;
    if (sf_buf_adds(out, text) < 0 || sf_buf_addc(out, '\n') < 0)
        rc = SF_ENOMEM;
    free(text);
    return rc;
}
