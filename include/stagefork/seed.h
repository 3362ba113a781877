#ifndef STAGEFORK_SEED_H
#define STAGEFORK_SEED_H
/*
 * Tenant-profile seeding (SPEC §7): a seed spec (YAML) names tables in
 * dependency order with per-column generators and row counts written as
 * expressions over parameters; profiles set those parameters.
 *
 *   sf_seed_open(&s, "seed.yaml", &err)        -- parse + static validation
 *   sf_seed_use_profiles(s, "standard,regulated")
 *   sf_seed_set(s, "scale=0.01")               -- --set PARAM=VALUE
 *   sf_seed_set_random(s, 42)                  -- --seed (default 1)
 *   sf_seed_resolve(s)                         -- row counts, ranges (optional:
 *                                                 write/load call it)
 *   sf_seed_write(s, stdout)                   -- COPY text blocks, or
 *   sf_seed_to_db(s, dsn, cfg)                 -- check the catalog, COPY in one transaction
 *
 * Output is a pure function of (spec, parameters, seed): the same inputs
 * give byte-identical COPY text on every run and machine.
 *
 * Errors: spec and parameter problems are SF_ECONFIG naming
 * file:line:column; a target whose tables or column types do not fit the
 * spec is SF_ECONFIG too, found before anything is written; unknown
 * profiles and parameters given by the caller are SF_EUSAGE.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "stagefork/config.h"
#include "stagefork/error.h"

typedef struct sf_seed sf_seed;
struct pg_conn; /* libpq's PGconn */

/* Load a spec file (or memory; `name` is used in messages). */
int sf_seed_open(sf_seed **out, const char *path, sf_error *err);
int sf_seed_open_mem(sf_seed **out, const char *name, const char *yaml, size_t len, sf_error *err);
void sf_seed_free(sf_seed *s);
/* The handle's last error. */
const sf_error *sf_seed_error(const sf_seed *s);
/* Hex SHA-256 of the spec's bytes (golden-template content keys). */
const char *sf_seed_sha256(const sf_seed *s);

/* Profiles the spec defines, in file order. Borrowed. */
size_t sf_seed_profile_count(const sf_seed *s);
const char *sf_seed_profile_name(const sf_seed *s, size_t i);

/*
 * Apply profiles given as "a,b,c", left to right (later ones override
 * earlier parameters). Unknown names are SF_EUSAGE and change nothing.
 */
int sf_seed_use_profiles(sf_seed *s, const char *names);
/* Override one parameter: "scale=0.01". Unknown parameter or a non-number is SF_EUSAGE. */
int sf_seed_set(sf_seed *s, const char *assignment);
/* The random seed (default 1). */
void sf_seed_set_random(sf_seed *s, uint64_t seed);

/*
 * Evaluate parameters, row counts and generator arguments, and check what
 * depends on them (ranges, unique domains large enough, refs to non-empty
 * tables). Called by sf_seed_write / sf_seed_to_*; calling it first lets a
 * caller show row counts. Changing profiles/parameters/seed afterwards
 * requires calling it again (write/load do).
 */
int sf_seed_resolve(sf_seed *s);

/* Tables in spec (= load) order after sf_seed_resolve. `name` is "schema.table" as displayed. */
size_t sf_seed_table_count(const sf_seed *s);
int sf_seed_table_info(const sf_seed *s, size_t i, const char **name, int64_t *rows);

/*
 * Write every table as a COPY text block ("COPY schema.t (a, b) FROM stdin;",
 * rows, "\\.") to out, loadable by psql. Only the spec's internal
 * consistency is checked (there is no catalog to compare with).
 */
int sf_seed_write(sf_seed *s, FILE *out);

/*
 * Seed a database: connect to dsn, refuse a host/database protected by the
 * config's guard (cfg may be NULL), compare every table and column with the
 * target's catalog (existence, types, lengths, NOT NULL columns left out),
 * then COPY all tables in spec order inside ONE transaction and move
 * serial/identity sequences past the generated keys. Nothing is written
 * unless every check passes, and a failure part-way leaves nothing behind.
 */
int sf_seed_to_db(sf_seed *s, const char *dsn, const sf_config *cfg);
/*
 * The same on a connection the caller owns (idle, not in a transaction; its
 * client_encoding is set to UTF8 and stays so).
 */
int sf_seed_to_conn(sf_seed *s, struct pg_conn *conn);
/* Only the catalog checks of sf_seed_to_conn, writing nothing. */
int sf_seed_check_conn(sf_seed *s, struct pg_conn *conn);

#endif
