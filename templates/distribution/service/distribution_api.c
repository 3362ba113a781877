/*
 * distribution-api: the distribution stack's small service (stack.yaml's
 * `api`, a process.service). It stands in for the order/pricing API a
 * branch environment runs, and proves the environment is wired up: it only
 * reports healthy once it has reached its database.
 *
 *   DATABASE_URL=postgresql://... distribution-api --port N [--host ADDR]
 *
 *   GET /health           200 {"status":"ok","database":"<name>"} after
 *                         connecting to DATABASE_URL with libpq and running
 *                         a query; 503 {"status":"unavailable","error":...}
 *                         while it cannot
 *   GET /customers/count  200 {"customers":N} from public.customers
 *   anything else         404 (405 for methods other than GET/HEAD)
 *
 * DOCUMENTS_BUCKET, when set, is echoed in /health ("documents"). The
 * database URL carries a password: it is never printed. One connection,
 * opened on first use and reset when it breaks; one request at a time
 * (the service is a health probe target, not a server under load).
 * SIGTERM/SIGINT end it cleanly (exit 0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REQ_MAX 4096

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: DATABASE_URL=... distribution-api --port N [--host ADDR]\n");
}

/* checked strtol: a whole number in [lo, hi] */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* JSON string body for an error text: drops quotes, backslashes and
 * control characters (libpq messages end in a newline) */
static void json_clean(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 1 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\')
            dst[n++] = '\'';
        else if (c < 0x20)
            dst[n++] = ' ';
        else
            dst[n++] = (char)c;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

/* The database connection: opened lazily, reset when it broke. 0 with a
 * usable *conn, -1 with the libpq message in err. */
static int db_ready(PGconn **conn, const char *url, char *err, size_t errcap)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "5", "distribution-api", NULL};
    if (*conn && PQstatus(*conn) != CONNECTION_OK)
        PQreset(*conn);
    if (!*conn)
        *conn = PQconnectdbParams(keys, vals, 1);
    if (!*conn) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (PQstatus(*conn) != CONNECTION_OK) {
        json_clean(err, errcap, PQerrorMessage(*conn));
        PQfinish(*conn);
        *conn = NULL;
        return -1;
    }
    return 0;
}

/* Runs a one-value query; the value is copied into out. */
static int db_value(PGconn **conn, const char *url, const char *sql, char *out, size_t cap,
                    char *err, size_t errcap)
{
    PGresult *r;
    int rc = -1;
    if (db_ready(conn, url, err, errcap) < 0)
        return -1;
    r = PQexec(*conn, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1) {
        json_clean(out, cap, PQgetvalue(r, 0, 0));
        rc = 0;
    } else {
        json_clean(err, errcap, PQerrorMessage(*conn));
    }
    PQclear(r);
    return rc;
}

static void reply(int fd, int head_only, int code, const char *status, const char *body)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, status, strlen(body));
    if (n > 0 && send(fd, hdr, (size_t)n, MSG_NOSIGNAL) == n && !head_only)
        (void)send(fd, body, strlen(body), MSG_NOSIGNAL);
}

/* Reads the request head (up to the blank line, REQ_MAX bytes, 5 s). */
static int read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return 0;
    }
    return -1;
}

static void serve(int fd, PGconn **conn, const char *url, const char *bucket)
{
    char req[REQ_MAX], method[8], path[256], body[1024], val[256], err[512];
    struct timeval tv = {5, 0};
    int head_only;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (read_head(fd, req, sizeof(req)) < 0 ||
        sscanf(req, "%7s %255s HTTP/", method, path) != 2) {
        reply(fd, 0, 400, "Bad Request", "{\"error\":\"bad request\"}");
        return;
    }
    head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0) {
        reply(fd, 0, 405, "Method Not Allowed", "{\"error\":\"only GET\"}");
        return;
    }
    err[0] = '\0';
    if (strcmp(path, "/health") == 0) {
        if (db_value(conn, url, "SELECT current_database()", val, sizeof(val), err, sizeof(err)) == 0) {
            if (bucket) {
                char b[128];
                json_clean(b, sizeof(b), bucket);
                snprintf(body, sizeof(body), "{\"status\":\"ok\",\"database\":\"%s\",\"documents\":\"%s\"}",
                         val, b);
            }
            else
                snprintf(body, sizeof(body), "{\"status\":\"ok\",\"database\":\"%s\"}", val);
            reply(fd, head_only, 200, "OK", body);
        } else {
            snprintf(body, sizeof(body), "{\"status\":\"unavailable\",\"error\":\"%s\"}", err);
            reply(fd, head_only, 503, "Service Unavailable", body);
        }
    } else if (strcmp(path, "/customers/count") == 0) {
        if (db_value(conn, url, "SELECT count(*) FROM public.customers", val, sizeof(val), err,
                     sizeof(err)) == 0) {
            snprintf(body, sizeof(body), "{\"customers\":%s}", val);
            reply(fd, head_only, 200, "OK", body);
        } else {
            snprintf(body, sizeof(body), "{\"error\":\"%s\"}", err);
            reply(fd, head_only, 503, "Service Unavailable", body);
        }
    } else {
        reply(fd, head_only, 404, "Not Found", "{\"error\":\"not found\"}");
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *url = getenv("DATABASE_URL"), *bucket = getenv("DOCUMENTS_BUCKET");
    long port = -1;
    int lfd, one = 1;
    struct sockaddr_in a;
    struct sigaction sa;
    PGconn *conn = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (parse_int(argv[++i], 1, 65535, &port) < 0) {
                fprintf(stderr, "distribution-api: --port needs a number from 1 to 65535, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else {
            usage();
            return 2;
        }
    }
    if (port < 0) {
        usage();
        return 2;
    }
    if (!url || !*url) {
        fprintf(stderr, "distribution-api: DATABASE_URL is not set\n");
        return 2;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "distribution-api: --host needs an IPv4 address, not '%s'\n", host);
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: accept() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
        fprintf(stderr, "distribution-api: cannot listen on %s:%ld: %s\n", host, port, strerror(errno));
        return 1;
    }
    printf("distribution-api: listening on %s:%ld (pid %ld)\n", host, port, (long)getpid());
    fflush(stdout);

    while (!stopping) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue; /* EINTR (then stopping is set) or a client that went away */
        serve(c, &conn, url, bucket);
        close(c);
    }
    PQfinish(conn);
    close(lfd);
    printf("distribution-api: stopped\n");
    return 0;
}
