#ifndef SF_CORE_SNAP_DUMP_H
#define SF_CORE_SNAP_DUMP_H
/* pg_dump as a child process, for the schema sections of a snapshot (internal). */

#include <stddef.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"

/*
 * Split a libpq DSN (URL or key=value) into a conninfo string without the
 * password (dbname replaced when given) and the password (empty if none).
 */
int sf_dump_conninfo(sf_buf *conninfo, sf_buf *password, const char *dsn, const char *dbname, sf_error *err);

/*
 * Run `<pg_bindir>/pg_dump ARGS...` (pg_bindir NULL: $STAGEFORK_PG_BINDIR,
 * else the first pg_dump on $PATH) with stdin from /dev/null and
 * PGPASSWORD=password in its environment; its stdout (at most max bytes)
 * into out. A non-zero exit is SF_EDB carrying pg_dump's stderr.
 */
int sf_dump_run(sf_buf *out, const char *pg_bindir, const char *const *args, const char *password, size_t max,
                sf_error *err);

#endif
