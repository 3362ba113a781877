/*
 * faultproxy: an HTTP/1.1 proxy for tests that sits on a loopback port in
 * front of a real server (json-server, s3rver) and injects faults.
 *
 *   faultproxy --upstream HOST:PORT [--seed N] [--log FILE] [--max-seconds S]
 *              [--fault WHEN=ACTION]...
 *
 * It prints its listening port on stdout (one line) and serves until
 * SIGTERM/SIGINT or --max-seconds (default 600) pass, so a forgotten proxy
 * never lingers. Each client connection carries one request (the proxy
 * answers with Connection: close).
 *
 * WHEN selects requests, counted from 1 in arrival order:
 *   N          the Nth request          METHOD/N   the Nth request with METHOD
 *   pX         each request with probability X (0..1), from a PRNG seeded by --seed
 *   METHOD/pX  the same, only for METHOD
 * The first matching --fault wins; the probabilities of matching pX rules add
 * up (one draw per request), so keep their sum <= 1. ACTION:
 *   status:CODE[:RETRY_AFTER]  answer CODE without forwarding (Retry-After seconds
 *                              or the literal "date" for an HTTP-date 2s ahead)
 *   reset                      close the connection with a RST without forwarding
 *   drop                       forward, let the server act, then RST (lost response)
 *   delay:SECS                 wait SECS before forwarding
 *   stall:SECS                 forward, then hold the response SECS before relaying
 * --log FILE appends "N METHOD PATH ACTION" per request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAULTS 32
#define MAX_REQ (8u << 20)

typedef struct fault {
    char method[16];  /* "" = any */
    long nth;         /* 0 = probabilistic */
    double prob;
    char action[16];
    long code;
    char retry_after[32];
    double secs;
} fault;

static fault faults[MAX_FAULTS];
static int nfaults;
static struct sockaddr_in upstream;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long total;
static struct { char method[16]; long n; } counts[16];
static uint64_t rng = 88172645463325252ull;
static FILE *logf;

static void die(const char *msg)
{
    fprintf(stderr, "faultproxy: %s\n", msg);
    exit(2);
}

static double next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static long parse_long(const char *s)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        die("bad number in arguments");
    return v;
}

static double parse_double(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end)
        die("bad number in arguments");
    return v;
}

static void parse_fault(const char *spec)
{
    fault *f;
    char when[64], act[96], *eq, *slash, *colon;
    if (nfaults == MAX_FAULTS)
        die("too many --fault");
    f = &faults[nfaults++];
    memset(f, 0, sizeof(*f));
    eq = strchr(spec, '=');
    if (!eq || (size_t)(eq - spec) >= sizeof(when) || strlen(eq + 1) >= sizeof(act))
        die("--fault wants WHEN=ACTION");
    memcpy(when, spec, (size_t)(eq - spec));
    when[eq - spec] = '\0';
    snprintf(act, sizeof(act), "%s", eq + 1);
    slash = strchr(when, '/');
    if (slash) {
        *slash = '\0';
        snprintf(f->method, sizeof(f->method), "%.15s", when);
        memmove(when, slash + 1, strlen(slash + 1) + 1);
    }
    if (when[0] == 'p')
        f->prob = parse_double(when + 1);
    else
        f->nth = parse_long(when);
    colon = strchr(act, ':');
    if (colon)
        *colon++ = '\0';
    snprintf(f->action, sizeof(f->action), "%.15s", act);
    if (strcmp(act, "status") == 0) {
        char *ra;
        if (!colon)
            die("status needs a code");
        ra = strchr(colon, ':');
        if (ra) {
            *ra++ = '\0';
            snprintf(f->retry_after, sizeof(f->retry_after), "%.31s", ra);
        }
        f->code = parse_long(colon);
    } else if (strcmp(act, "delay") == 0 || strcmp(act, "stall") == 0) {
        if (!colon)
            die("delay/stall need seconds");
        f->secs = parse_double(colon);
    } else if (strcmp(act, "reset") != 0 && strcmp(act, "drop") != 0) {
        die("unknown action");
    }
}

/* Pick the fault for this request (or NULL) and its ordinal. */
static const fault *choose(const char *method, long *ordinal)
{
    const fault *hit = NULL;
    long nm = 0;
    double r, acc = 0;
    pthread_mutex_lock(&mu);
    *ordinal = ++total;
    for (int i = 0; i < 16; i++) {
        if (counts[i].method[0] == '\0')
            snprintf(counts[i].method, sizeof(counts[i].method), "%s", method);
        if (strcmp(counts[i].method, method) == 0) {
            nm = ++counts[i].n;
            break;
        }
    }
    r = next_rand();
    for (int i = 0; i < nfaults && !hit; i++) {
        const fault *f = &faults[i];
        int mine = f->method[0] == '\0' || strcasecmp(f->method, method) == 0;
        if (!mine)
            continue;
        if (f->nth ? f->nth == (f->method[0] ? nm : *ordinal) : r < (acc += f->prob))
            hit = f;
    }
    pthread_mutex_unlock(&mu);
    return hit;
}

static void sleep_secs(double s)
{
    struct timespec ts;
    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void rst_close(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

/* Read one request: headers and Content-Length body. Returns its length or -1. */
static ssize_t read_request(int fd, char **out, size_t *hdr_end)
{
    size_t cap = 65536, len = 0, need = 0;
    char *buf = malloc(cap);
    *hdr_end = 0;
    if (!buf)
        return -1;
    for (;;) {
        ssize_t r;
        if (*hdr_end && len >= need)
            break;
        if (len == cap) {
            char *nb;
            if (cap >= MAX_REQ || !(nb = realloc(buf, cap * 2)))
                goto fail;
            buf = nb;
            cap *= 2;
        }
        r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto fail;
        len += (size_t)r;
        if (!*hdr_end) {
            char *e = memmem(buf, len, "\r\n\r\n", 4);
            if (e) {
                long cl = 0;
                *hdr_end = (size_t)(e - buf) + 4;
                for (char *p = buf; p < e; p++) {
                    if ((p == buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) {
                        cl = strtol(p + 15, NULL, 10);
                        break;
                    }
                }
                if (cl < 0 || (size_t)cl > MAX_REQ)
                    goto fail;
                need = *hdr_end + (size_t)cl;
                while (need > cap) {
                    char *nb = realloc(buf, cap * 2);
                    if (!nb)
                        goto fail;
                    buf = nb;
                    cap *= 2;
                }
            }
        }
    }
    *out = buf;
    return (ssize_t)len;
fail:
    free(buf);
    return -1;
}

/* Send the request upstream with "Connection: close"; return the upstream socket. */
static int forward(const char *req, size_t len, size_t hdr_end)
{
    int up = socket(AF_INET, SOCK_STREAM, 0);
    const char *line = req, *end = req + hdr_end - 2;
    if (up < 0)
        return -1;
    if (connect(up, (struct sockaddr *)&upstream, sizeof(upstream)) < 0) {
        close(up);
        return -1;
    }
    while (line < end) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        size_t n;
        if (!eol)
            break;
        n = (size_t)(eol - line) + 2;
        if (!(n > 11 && strncasecmp(line, "Connection:", 11) == 0) &&
            !(n > 11 && strncasecmp(line, "Keep-Alive:", 11) == 0) && write_all(up, line, n) < 0)
            goto fail;
        line = eol + 2;
    }
    if (write_all(up, "Connection: close\r\n\r\n", 21) < 0 || write_all(up, req + hdr_end, len - hdr_end) < 0)
        goto fail;
    return up;
fail:
    close(up);
    return -1;
}

static int read_all(int fd, char **out, size_t *outlen)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    for (;;) {
        ssize_t r;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg, up;
    char *req = NULL, *resp = NULL, method[16] = "", path[256] = "";
    size_t hdr_end, resplen = 0;
    ssize_t len = read_request(fd, &req, &hdr_end);
    const fault *f;
    long n;
    if (len < 0) {
        close(fd);
        return NULL;
    }
    sscanf(req, "%15s %255s", method, path);
    f = choose(method, &n);
    if (logf) {
        pthread_mutex_lock(&mu);
        fprintf(logf, "%ld %s %s %s\n", n, method, path, f ? f->action : "forward");
        fflush(logf);
        pthread_mutex_unlock(&mu);
    }
    if (f && strcmp(f->action, "status") == 0) {
        char hdr[512], ra[96] = "";
        const char *body = "{\"error\":\"injected by faultproxy\"}";
        if (strcmp(f->retry_after, "date") == 0) {
            time_t t = time(NULL) + 2;
            struct tm tm;
            char d[64];
            gmtime_r(&t, &tm);
            strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm);
            snprintf(ra, sizeof(ra), "Retry-After: %s\r\n", d);
        } else if (f->retry_after[0]) {
            snprintf(ra, sizeof(ra), "Retry-After: %s\r\n", f->retry_after);
        }
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 %ld Injected\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s"
                 "Connection: close\r\n\r\n",
                 f->code, strlen(body), ra);
        if (write_all(fd, hdr, strlen(hdr)) == 0)
            write_all(fd, body, strlen(body));
        close(fd);
        goto out;
    }
    if (f && strcmp(f->action, "reset") == 0) {
        rst_close(fd);
        goto out;
    }
    if (f && strcmp(f->action, "delay") == 0)
        sleep_secs(f->secs);
    up = forward(req, (size_t)len, hdr_end);
    if (up < 0) {
        rst_close(fd);
        goto out;
    }
    if (read_all(up, &resp, &resplen) < 0) {
        close(up);
        rst_close(fd);
        goto out;
    }
    close(up);
    if (f && strcmp(f->action, "drop") == 0) {
        rst_close(fd);
        goto out;
    }
    if (f && strcmp(f->action, "stall") == 0)
        sleep_secs(f->secs);
    write_all(fd, resp, resplen);
    shutdown(fd, SHUT_WR);
    close(fd);
out:
    free(req);
    free(resp);
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    _exit(0);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    long max_seconds = 600;
    int lfd, one = 1;
    pthread_attr_t attr;

    memset(&upstream, 0, sizeof(upstream));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--upstream") == 0 && i + 1 < argc) {
            char host[64];
            const char *colon = strrchr(argv[++i], ':');
            if (!colon || (size_t)(colon - argv[i]) >= sizeof(host))
                die("--upstream wants HOST:PORT");
            memcpy(host, argv[i], (size_t)(colon - argv[i]));
            host[colon - argv[i]] = '\0';
            upstream.sin_family = AF_INET;
            upstream.sin_port = htons((uint16_t)parse_long(colon + 1));
            if (inet_pton(AF_INET, host, &upstream.sin_addr) != 1)
                die("--upstream wants a numeric IPv4 host");
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            rng = (uint64_t)parse_long(argv[++i]) * 2654435761u + 1;
        } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            if (!(logf = fopen(argv[++i], "a")))
                die("cannot open --log file");
        } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
            max_seconds = parse_long(argv[++i]);
        } else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc) {
            parse_fault(argv[++i]);
        } else {
            die("usage: faultproxy --upstream HOST:PORT [--seed N] [--log FILE] [--max-seconds S] "
                "[--fault WHEN=ACTION]...");
        }
    }
    if (!upstream.sin_family)
        die("--upstream is required");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)max_seconds);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("socket failed");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
        die("cannot listen on 127.0.0.1");
    printf("%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        pthread_t t;
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            die("accept failed");
        }
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)c) != 0)
            close(c);
    }
}
