/* libpq helpers for the snapshot code: connections, errors, whole scripts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot_impl.h"
#include "stagefork/util.h"

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/*
 * One message from libpq (the result's, else the connection's), trimmed, "ERROR: " dropped, prefixed with
 * what failed. Returns SF_EDB.
 */
int sf_pq_error(sf_error *err, PGconn *c, PGresult *r, const char *fmt, ...)
{
    char what[512], msg[SF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (r && PQresultErrorMessage(r)[0])
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
    else
        snprintf(msg, sizeof(msg), "%s", c ? PQerrorMessage(c) : "out of memory");
    trim(msg);
    if (strncmp(msg, "ERROR:  ", 8) == 0)
        memmove(msg, msg + 8, strlen(msg + 8) + 1);
    return sf_error_set(err, SF_EDB, "%s: %s", what, msg);
}

/* For commands whose result rows do not matter. */
int sf_pq_exec(PGconn *c, const char *sql, sf_error *err, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = sf_pq_error(err, c, r, "%s", what);
    PQclear(r);
    return rc;
}

/* The library never prints: server notices go to the log. */
static void on_notice(void *ud, const PGresult *r)
{
    char msg[SF_ERROR_MSG_MAX];
    (void)ud;
    snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
    trim(msg);
    sf_log(SF_LOG_DEBUG, "postgres: %s", msg);
}

/* client_encoding is always UTF8: COPY members are UTF-8 whatever the database encoding. */
int sf_pq_connect(PGconn **out, const char *dsn, const char *dbname, const char *appname, sf_error *err)
{
    const char *keys[] = {"dbname", "client_encoding", "application_name", "connect_timeout",
                          dbname ? "dbname" : NULL, NULL};
    const char *vals[] = {dsn, "UTF8", appname ? appname : "stagefork", "30", dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    *out = NULL;
    if (!c || PQstatus(c) != CONNECTION_OK) {
        int rc = sf_pq_error(err, c, NULL, "cannot connect to %s", dbname ? dbname : "the database");
        PQfinish(c);
        return rc;
    }
    PQsetNoticeReceiver(c, on_notice, NULL);
    *out = c;
    return 0;
}

/* Only whole lines that start a line; pg_dump writes them first and last. */
void sf_strip_restrict(sf_buf *s)
{
    size_t r = 0, w = 0;
    int at_line_start = 1;
    while (r < s->len) {
        const char *line = s->ptr + r;
        const char *nl = memchr(line, '\n', s->len - r);
        size_t n = nl ? (size_t)(nl - line) + 1 : s->len - r;
        if (at_line_start && ((n >= 10 && memcmp(line, "\\restrict ", 10) == 0) ||
                              (n >= 12 && memcmp(line, "\\unrestrict ", 12) == 0))) {
            r += n;
            continue;
        }
        memmove(s->ptr + w, line, n);
        w += n;
        r += n;
        at_line_start = nl != NULL;
    }
    sf_buf_truncate(s, w);
}

/* 1-based line and column (in characters) of the 1-based character position pos. */
static void position_of(const char *text, size_t len, long pos, long *line, long *col)
{
    long chars = 0;
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < len && chars < pos - 1; i++) {
        unsigned char ch = (unsigned char)text[i];
        if ((ch & 0xC0) == 0x80)
            continue;
        chars++;
        if (ch == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* One PQexec for the whole script (one implicit transaction); the error position becomes what:line:column. */
int sf_pq_script(PGconn *c, const sf_buf *script, const char *what, sf_error *err)
{
    PGresult *r;
    int rc = 0;
    if (memchr(script->ptr, '\0', script->len))
        return sf_error_set(err, SF_EFORMAT, "%s contains a NUL byte", what);
    r = PQexec(c, script->ptr);
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
               PQresultStatus(r) != PGRES_EMPTY_QUERY)) {
        const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
        int64_t ipos;
        if (pos && sf_parse_i64(&ipos, pos, 1, INT64_MAX) == 0) {
            long line, col;
            position_of(script->ptr, script->len, (long)ipos, &line, &col);
            rc = sf_pq_error(err, c, r, "%s:%ld:%ld", what, line, col);
        } else {
            rc = sf_pq_error(err, c, r, "%s", what);
        }
    }
    PQclear(r);
    return rc;
}
