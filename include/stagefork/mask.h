#ifndef STAGEFORK_MASK_H
#define STAGEFORK_MASK_H
/*
 * The deterministic, keyed, streaming pg_dump masker (SPEC §5).
 *
 *   policy  = sf_mask_policy_load("masking.yaml")
 *   key     = sf_mask_key_load(key_file, key_env)      -- >= 32 bytes, never written anywhere
 *   masker  = sf_masker_new(policy, key, strict)
 *   sf_mask_run(masker, format, in, out, jobs)          -- whole dump, any format
 *   sf_masker_report_json(masker, &buf)                 -- --report
 *
 * Archive readers and `snapshot create` drive a masker table by table:
 * sf_masker_ddl() for each CREATE TABLE / CREATE DOMAIN text, then
 * sf_masker_table_begin() per COPY block, sf_mask_table_lines() per batch
 * of rows (or sf_mask_table_line() per row), sf_mask_table_end(). Different sf_mask_table handles of one masker may be
 * used concurrently from different threads; everything else is
 * single-threaded.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"

/* ---- policy ---------------------------------------------------------- */

typedef struct sf_mask_policy sf_mask_policy;

/* Load and validate a policy; errors are SF_ECONFIG naming file:line:column. */
int sf_mask_policy_load(sf_mask_policy **out, const char *path, sf_error *err);
int sf_mask_policy_load_mem(sf_mask_policy **out, const char *name, const char *yaml, size_t len, sf_error *err);
void sf_mask_policy_free(sf_mask_policy *pol);
/* Hex SHA-256 of the policy file's bytes (for reports and manifests). */
const char *sf_mask_policy_sha256(const sf_mask_policy *pol);
/* The policy's `strict:` (default 1). */
int sf_mask_policy_strict(const sf_mask_policy *pol);
/* The policy's `key: {env|file}` (NULL when absent). */
const char *sf_mask_policy_key_env(const sf_mask_policy *pol);
const char *sf_mask_policy_key_file(const sf_mask_policy *pol);

/* ---- key ------------------------------------------------------------- */

typedef struct sf_mask_key sf_mask_key;

/*
 * Read the masking key from a file (whole contents, one trailing newline
 * stripped) or from an environment variable. Exactly one of key_file and
 * key_env must be set. Shorter than 32 bytes is SF_EUSAGE. The key material
 * is kept in memory only, and wiped by sf_mask_key_free().
 */
int sf_mask_key_load(sf_mask_key **out, const char *key_file, const char *key_env, sf_error *err);
int sf_mask_key_from_bytes(sf_mask_key **out, const void *bytes, size_t len, sf_error *err);
void sf_mask_key_free(sf_mask_key *key);
/* A public fingerprint (hex, 16 chars) that identifies the key without revealing it. */
const char *sf_mask_key_fingerprint(const sf_mask_key *key);
/* Derive 32 bytes for another purpose (e.g. "snapshot-manifest-hmac") by HKDF. */
int sf_mask_key_derive(const sf_mask_key *key, const char *purpose, unsigned char out[32]);

/* ---- masker ---------------------------------------------------------- */

typedef enum {
    SF_MASK_FORMAT_AUTO = 0,
    SF_MASK_FORMAT_PLAIN,
    SF_MASK_FORMAT_TAR,
    SF_MASK_FORMAT_CUSTOM,
    SF_MASK_FORMAT_DIRECTORY
} sf_mask_format;

/* "plain" etc. -> enum; -1 if unknown. */
int sf_mask_format_parse(const char *name);
const char *sf_mask_format_name(sf_mask_format fmt);

typedef struct sf_masker sf_masker;

/*
 * A masker for one dump. `strict` < 0 takes the policy's setting. The
 * policy and key are borrowed and must outlive the masker.
 */
int sf_masker_new(sf_masker **out, const sf_mask_policy *pol, const sf_mask_key *key, int strict, sf_error *err);
void sf_masker_free(sf_masker *m);
/* The last error (message names line/offset, schema.table.column or file:line:col). */
const sf_error *sf_masker_error(const sf_masker *m);

/*
 * Learn column types from one DDL statement's text (CREATE TABLE,
 * CREATE DOMAIN, CREATE TYPE; anything else is ignored). Types fit masked
 * values: varchar(n)/char(n) length, numeric(p,s), integer ranges.
 */
int sf_masker_ddl(sf_masker *m, const char *sql, size_t len);

typedef struct sf_mask_table sf_mask_table;

/*
 * Start masking one table's COPY data, given its COPY statement text
 * ("COPY schema.table (a, b) FROM stdin;"). In strict mode an unruled
 * sensitive column is SF_EPOLICY here, before any row is produced.
 */
int sf_masker_table_begin(sf_masker *m, sf_mask_table **out, const char *copy_stmt, size_t len);
/* True when no column of the table is transformed: callers may copy bytes verbatim. */
int sf_mask_table_identity(const sf_mask_table *t);
/*
 * Mask one COPY text line (without its newline); the masked line (without
 * newline) is appended to out. Bad escapes or a wrong field count are
 * SF_EFORMAT; the message names the table and the field.
 */
int sf_mask_table_line(sf_mask_table *t, const char *line, size_t len, sf_buf *out);

/* A COPY text line for sf_mask_table_lines: the line without its end, and the end's length (1 for \n, 2 for \r\n). */
typedef struct sf_mask_line {
    const char *ptr;
    size_t len;
    size_t eol;
} sf_mask_line;

/*
 * sf_mask_table_line for n lines, each followed in out by its own line end
 * (the eol bytes after it): the same bytes, counters and errors as one
 * call per line, but rows are masked in batches (digits/alnum encrypt a
 * batch's values of a column together), which is much faster. line0 is
 * the input line number of the first line (errors say "line N"), or 0 when
 * unknown (errors say "row N"). On an error the lines before the failing
 * one have been appended to out.
 */
int sf_mask_table_lines(sf_mask_table *t, const sf_mask_line *lines, size_t n, uint64_t line0, sf_buf *out);
/* Finish: fold the table's counters into the masker's report; frees t. */
int sf_mask_table_end(sf_mask_table *t);
/* Abandon a table (error path); frees t. */
void sf_mask_table_abort(sf_mask_table *t);
/* The error of a table handle. */
const sf_error *sf_mask_table_error(const sf_mask_table *t);

/*
 * Mask a whole dump. `in`/`out` are paths ("-" = stdin/stdout; a directory
 * for the directory format). The output keeps the input's format. On error
 * a partial output file is removed and the error is on the masker.
 */
int sf_mask_run(sf_masker *m, sf_mask_format fmt, const char *in, const char *out, int jobs);
/* Plain format on stdio streams (used by sf_mask_run and snapshot code). */
int sf_mask_plain(sf_masker *m, FILE *in, FILE *out);

/* The JSON report of everything masked so far (SPEC §5 --report). */
int sf_masker_report_json(const sf_masker *m, sf_buf *out);

/*
 * Coverage check (--check): read the dump's DDL and COPY/INSERT headers and
 * print one line per column: "schema.table.column<TAB>rule", where rule is
 * the rule's name, "sensitive, no rule" or "not sensitive". Returns
 * SF_EPOLICY when some sensitive column has no rule and strict mode is on.
 */
int sf_mask_check(sf_masker *m, sf_mask_format fmt, const char *in, sf_buf *out);

#endif
