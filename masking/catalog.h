#ifndef SF_MASKING_CATALOG_H
#define SF_MASKING_CATALOG_H
/*
 * What the dump's DDL says about tables: column names (real names, in
 * order), their declared type text, generated columns; CREATE DOMAIN base
 * types; the schema unqualified names resolve to (SET search_path /
 * set_config('search_path', ...)). Filled by sf_masker_ddl() and the plain
 * reader before table data starts, then read-only (so worker threads may
 * read it concurrently).
 */

#include <stddef.h>
#include "stagefork/buf.h"

typedef struct sf_catcol {
    char *name;
    char *type;    /* declared type text as written ("character varying(40)") */
    int generated; /* GENERATED ALWAYS AS (...) STORED: not in COPY column lists */
} sf_catcol;

typedef struct sf_cattable {
    char *schema, *name;
    sf_catcol *cols;
    size_t ncols;
} sf_cattable;

typedef struct sf_catdomain {
    char *schema, *name, *base;
} sf_catdomain;

typedef struct sf_catalog {
    sf_cattable **tables; /* in order of appearance */
    size_t ntables, tcap;
    size_t *slots;        /* hash: index+1 into tables, 0 = empty */
    size_t nslots;
    sf_catdomain *domains;
    size_t ndomains, dcap;
    sf_buf default_schema; /* first usable schema of search_path ("public") */
} sf_catalog;

void sf_catalog_init(sf_catalog *c);
void sf_catalog_free(sf_catalog *c);

/*
 * Learn from one statement: CREATE [UNLOGGED|FOREIGN] TABLE (with INHERITS
 * and PARTITION OF), CREATE DOMAIN; anything else is ignored. Returns 0 or
 * SF_ENOMEM; DDL it cannot read is skipped (its columns become opaque).
 */
int sf_catalog_ddl(sf_catalog *c, const char *sql, size_t len, int scs);

/*
 * Follow SET search_path ... / SELECT pg_catalog.set_config('search_path',
 * ...). Returns 1 if sql was such a statement, 0 if not, SF_ENOMEM.
 */
int sf_catalog_search_path(sf_catalog *c, const char *sql, size_t len, int scs);

const char *sf_catalog_default_schema(const sf_catalog *c);
const sf_cattable *sf_catalog_table(const sf_catalog *c, const char *schema, const char *name);
/* Column `name` of t, or NULL. */
const sf_catcol *sf_cattable_col(const sf_cattable *t, const char *name);

/*
 * Resolve a declared type through CREATE DOMAIN base types. Returns the
 * base type text (borrowed; `type` itself when it names no domain) and
 * sets *is_array when a domain array ("public.d[]") was unwrapped.
 */
const char *sf_catalog_resolve_type(const sf_catalog *c, const char *type, int *is_array);

#endif
