#ifndef SF_MASKING_SQLIDENT_H
#define SF_MASKING_SQLIDENT_H
/*
 * SQL identifiers as PostgreSQL reads them: unquoted names fold to lower
 * case (ASCII only, like PostgreSQL's downcase_identifier), quoted names
 * keep their case and "" stands for one ". Used by the policy loader (keys
 * such as erp."Supplier Contacts") and the dump readers (COPY and CREATE
 * TABLE headers), so both sides compare real names byte for byte.
 */

#include <stddef.h>
#include "stagefork/buf.h"

/*
 * Parse one identifier at s[0..len) starting at *pos (leading whitespace
 * skipped). The real name is written to out. *pos moves past it. Returns 0,
 * or -1 if there is no identifier there or a quoted one is unterminated.
 */
int sf_ident_next(sf_buf *out, const char *s, size_t len, size_t *pos);

/*
 * Parse a possibly qualified name "a.b" / "\"A b\".c" / "c" into schema and
 * table; a name without a schema gets `default_schema`. The whole string
 * must be consumed (trailing whitespace allowed). Returns 0 or -1.
 */
int sf_ident_qualified(sf_buf *schema, sf_buf *name, const char *s, size_t len, const char *default_schema);

/* Append name to out quoted only if PostgreSQL would need quotes (for messages and output). */
int sf_ident_quote(sf_buf *out, const char *name, size_t len);

#endif
