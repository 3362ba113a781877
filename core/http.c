/* The shared HTTP client: libcurl with retries, guardrails, SigV4 and redaction. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "stagefork/guard.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

#define EXCERPT_MAX 200
#define BODY_MAX ((size_t)256 << 20) /* responses larger than this are refused */

struct sf_http {
    CURL *curl;
    sf_http_opts o;
    struct curl_slist *connect_to;
    char *sigv4;       /* "aws:amz:region:service" */
    char *userpwd;     /* "access:secret" */
    char *token_hdr;   /* "X-Amz-Security-Token: ..." */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sf_http_new(sf_http **out, const sf_http_opts *opts, sf_error *err)
{
    sf_http *h;
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return sf_error_set(err, SF_EHTTP, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
    if (!(h = calloc(1, sizeof(*h))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (opts)
        h->o = *opts;
    if (h->o.connect_timeout <= 0)
        h->o.connect_timeout = 10;
    if (h->o.timeout <= 0)
        h->o.timeout = 60;
    if (h->o.max_attempts <= 0)
        h->o.max_attempts = 6;
    if (h->o.max_elapsed <= 0)
        h->o.max_elapsed = 120;
    if (h->o.backoff_base <= 0)
        h->o.backoff_base = 0.25;
    if (h->o.backoff_max <= 0)
        h->o.backoff_max = 15;
    for (size_t i = 0; opts && opts->connect_to && opts->connect_to[i]; i++) {
        struct curl_slist *n = curl_slist_append(h->connect_to, opts->connect_to[i]);
        if (!n) {
            sf_http_free(h);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        h->connect_to = n;
    }
    h->o.connect_to = NULL;
    if (!(h->curl = curl_easy_init())) {
        sf_http_free(h);
        return sf_error_set(err, SF_EHTTP, "cannot create a libcurl handle");
    }
    *out = h;
    return 0;
}

void sf_http_free(sf_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->connect_to);
    free(h->sigv4);
    if (h->userpwd) {
        OPENSSL_cleanse(h->userpwd, strlen(h->userpwd));
        free(h->userpwd);
    }
    if (h->token_hdr) {
        OPENSSL_cleanse(h->token_hdr, strlen(h->token_hdr));
        free(h->token_hdr);
    }
    free(h);
}

int sf_http_aws_sigv4(sf_http *h, const char *region, const char *service, const char *access_key,
                      const char *secret_key, const char *session_token)
{
    sf_buf b = SF_BUF_INIT;
    free(h->sigv4);
    free(h->userpwd);
    free(h->token_hdr);
    h->sigv4 = h->userpwd = h->token_hdr = NULL;
    if (sf_buf_addf(&b, "aws:amz:%s:%s", region, service) < 0)
        return SF_ENOMEM;
    h->sigv4 = sf_buf_detach(&b, NULL);
    if (sf_buf_addf(&b, "%s:%s", access_key, secret_key) < 0)
        return SF_ENOMEM;
    h->userpwd = sf_buf_detach(&b, NULL);
    if (session_token && *session_token) {
        if (sf_buf_addf(&b, "X-Amz-Security-Token: %s", session_token) < 0)
            return SF_ENOMEM;
        h->token_hdr = sf_buf_detach(&b, NULL);
    }
    return 0;
}

void sf_http_response_init(sf_http_response *r)
{
    memset(r, 0, sizeof(*r));
    sf_buf_init(&r->body, BODY_MAX);
    sf_buf_init(&r->headers, 1 << 20);
}

void sf_http_response_free(sf_http_response *r)
{
    if (!r)
        return;
    sf_buf_free(&r->body);
    sf_buf_free(&r->headers);
}

int sf_http_response_header(sf_buf *out, const sf_http_response *r, const char *name)
{
    size_t nl = strlen(name);
    const char *p = r->headers.ptr, *found = NULL, *fend = NULL;
    while (*p) {
        const char *eol = p + strcspn(p, "\r\n");
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            found = p + nl + 1;
            fend = eol;
        }
        p = eol;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    if (!found)
        return SF_ENOTFOUND;
    while (found < fend && (*found == ' ' || *found == '\t'))
        found++;
    while (fend > found && (fend[-1] == ' ' || fend[-1] == '\t'))
        fend--;
    return sf_buf_set(out, found, (size_t)(fend - found));
}

/* Query/userinfo names whose values are secret. */
static int secret_name(const char *name, size_t n)
{
    static const char *const words[] = {"sig", "token", "secret", "password", "passwd", "pwd",
                                        "key", "credential", "auth", "session", NULL};
    for (size_t w = 0; words[w]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(name + i, words[w], wl) == 0)
                return 1;
    }
    return 0;
}

int sf_http_redact_url(sf_buf *out, const char *url)
{
    const char *p = url, *scheme = strstr(url, "://"), *q;
    sf_buf_clear(out);
    if (scheme) {
        const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?#"), *at = NULL;
        for (const char *s = auth; s < end; s++)
            if (*s == '@')
                at = s;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                if (sf_buf_add(out, url, (size_t)(colon - url)) < 0 || sf_buf_adds(out, ":***") < 0)
                    return SF_ENOMEM;
                p = at;
            }
        }
    }
    q = strchr(p, '?');
    if (!q)
        return sf_buf_adds(out, p) < 0 ? SF_ENOMEM : 0;
    if (sf_buf_add(out, p, (size_t)(q - p) + 1) < 0)
        return SF_ENOMEM;
    p = q + 1;
    while (*p && *p != '#') {
        size_t seg = strcspn(p, "&#");
        const char *eq = memchr(p, '=', seg);
        if (eq && secret_name(p, (size_t)(eq - p))) {
            if (sf_buf_add(out, p, (size_t)(eq - p) + 1) < 0 || sf_buf_adds(out, "***") < 0)
                return SF_ENOMEM;
        } else if (sf_buf_add(out, p, seg) < 0) {
            return SF_ENOMEM;
        }
        p += seg;
        if (*p == '&') {
            if (sf_buf_addc(out, '&') < 0)
                return SF_ENOMEM;
            p++;
        }
    }
    return sf_buf_adds(out, p) < 0 ? SF_ENOMEM : 0;
}

int sf_http_redact_header(sf_buf *out, const char *line)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "x-amz-security-token",
                                        "cookie", "set-cookie", "x-api-key", "api-key",
                                        "x-auth-token", NULL};
    size_t nl = strcspn(line, ":");
    int secret = 0;
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == nl && strncasecmp(line, names[i], nl) == 0)
            secret = 1;
    if (!secret && line[nl] == ':' && secret_name(line, nl) && strncasecmp(line, "x-amz-content-sha256", nl))
        secret = 1;
    if (!secret || line[nl] != ':')
        return sf_buf_sets(out, line) < 0 ? SF_ENOMEM : 0;
    if (sf_buf_set(out, line, nl + 1) < 0 || sf_buf_adds(out, " ***") < 0)
        return SF_ENOMEM;
    return 0;
}

double sf_http_retry_after(const char *value, long long now_unix)
{
    int64_t secs;
    time_t t;
    while (*value == ' ')
        value++;
    if (sf_parse_i64(&secs, value, 0, INT64_C(1) << 40) == 0)
        return (double)secs;
    t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    return t > now_unix ? (double)(t - now_unix) : 0;
}

static void excerpt(sf_buf *out, const sf_buf *body)
{
    size_t n = body->len < EXCERPT_MAX ? body->len : EXCERPT_MAX;
    int space = 0;
    sf_buf_clear(out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body->ptr[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = out->len > 0;
            continue;
        }
        if (space)
            sf_buf_addc(out, ' ');
        space = 0;
        sf_buf_addc(out, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
    }
    if (body->len > n)
        sf_buf_adds(out, "...");
}

int sf_http_status_error(sf_error *err, const sf_http_request *req, const sf_http_response *resp)
{
    sf_buf u = SF_BUF_INIT, ex = SF_BUF_INIT;
    sf_http_redact_url(&u, req->url);
    excerpt(&ex, &resp->body);
    sf_error_set(err, SF_EHTTP, "%s %s: HTTP %ld%s%s", req->method ? req->method : "GET", u.ptr, resp->status,
                 ex.len ? ": " : "", ex.ptr);
    sf_buf_free(&u);
    sf_buf_free(&ex);
    return SF_EHTTP;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    sf_http_response *r = ud;
    return sf_buf_add(&r->body, data, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    sf_http_response *r = ud;
    /* a new status line (after 100-continue or on a retry) starts a new block */
    if (size * n >= 5 && strncmp(data, "HTTP/", 5) == 0)
        sf_buf_clear(&r->headers);
    return sf_buf_add(&r->headers, data, size * n) < 0 ? 0 : size * n;
}

static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
    sf_buf line = SF_BUF_INIT, red = SF_BUF_INIT;
    (void)c;
    (void)ud;
    if (type != CURLINFO_HEADER_OUT && type != CURLINFO_TEXT)
        return 0;
    /* header blocks: one log line per header, secrets redacted */
    for (size_t i = 0; i < size;) {
        size_t j = i;
        while (j < size && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j > i) {
            sf_buf_set(&line, data + i, j - i);
            if (type == CURLINFO_HEADER_OUT) {
                sf_http_redact_header(&red, line.ptr);
                sf_log(SF_LOG_DEBUG, "http> %s", red.ptr);
            } else {
                sf_log(SF_LOG_DEBUG, "http* %s", line.ptr);
            }
        }
        i = j + 1;
    }
    sf_buf_free(&line);
    sf_buf_free(&red);
    return 0;
}

static double rand_unit(void)
{
    uint32_t v;
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
        v = (uint32_t)random();
    return (double)v / 4294967296.0;
}

/* Sleep up to secs, in slices so a cancel request is seen; 0 if completed. */
static int pause_for(const sf_http *h, double secs)
{
    double end = sf_monotonic() + secs;
    for (;;) {
        double left = end - sf_monotonic();
        struct timespec ts;
        if (h->o.cancel && *h->o.cancel)
            return -1;
        if (left <= 0)
            return 0;
        if (left > 0.1)
            left = 0.1;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
}

static int setup(sf_http *h, const sf_http_request *req, sf_http_response *resp, struct curl_slist **hdrs,
                 double attempt_timeout)
{
    CURL *c = h->curl;
    const char *method = req->method ? req->method : "GET";
    char sha_hex[65];
    sf_buf line = SF_BUF_INIT;
    int rc = 0;

    curl_easy_reset(c); /* keeps live connections */
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->o.connect_timeout * 1000));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(attempt_timeout * 1000) + 1);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "stagefork/" SF_VERSION);
    if (h->connect_to)
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, h->connect_to);
    if (sf_log_enabled(SF_LOG_DEBUG)) {
        curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
               strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    /*
     * No "Expect: 100-continue" round trip, no default form content type.
     * Not with SigV4: curl 7.88 signs such empty "remove" headers as if they
     * were sent, and the server's signature would then differ.
     */
    if (!h->sigv4) {
        *hdrs = curl_slist_append(*hdrs, "Expect:");
        if (req->body || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0)
            *hdrs = curl_slist_append(*hdrs, "Content-Type:");
    }
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        *hdrs = curl_slist_append(*hdrs, req->headers[i]);
    if (h->sigv4) {
        sf_sha256_hex(sha_hex, req->body ? req->body : "", req->body ? req->body_len : 0);
        if (sf_buf_addf(&line, "x-amz-content-sha256: %s", sha_hex) < 0)
            rc = SF_ENOMEM;
        *hdrs = curl_slist_append(*hdrs, line.ptr);
        if (h->token_hdr)
            *hdrs = curl_slist_append(*hdrs, h->token_hdr);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, h->userpwd);
    }
    if (!*hdrs)
        rc = SF_ENOMEM;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    sf_buf_free(&line);
    return rc;
}

static int transient_status(long st)
{
    /* 501 Not Implemented and 505 will not change on a retry */
    return st == 429 || (st >= 500 && st != 501 && st != 505);
}

static int connect_error(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY;
}

int sf_http_do(sf_http *h, sf_http_response *resp, const sf_http_request *req, sf_error *err)
{
    const char *method = req->method ? req->method : "GET";
    double start = sf_monotonic(), stop = start + h->o.max_elapsed;
    int max_attempts = (req->flags & SF_HTTP_NO_RETRY) ? 1 : h->o.max_attempts;
    sf_buf host = SF_BUF_INIT, safe_url = SF_BUF_INIT, ra = SF_BUF_INIT, why = SF_BUF_INIT;
    int rc = 0;

    sf_buf_clear(&resp->body);
    sf_buf_clear(&resp->headers);
    resp->status = 0;
    resp->attempts = 0;
    resp->maybe_sent = 0;
    if (h->o.deadline > 0 && h->o.deadline < stop)
        stop = h->o.deadline;
    if (sf_http_redact_url(&safe_url, req->url) < 0) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if (sf_guard_host_of(&host, req->url) < 0) {
        rc = sf_error_set(err, SF_EUSAGE, "cannot find the host in URL '%s'", safe_url.ptr);
        goto out;
    }
    if ((rc = sf_guard_check(h->o.cfg, host.ptr, NULL, err)) < 0)
        goto out;

    for (;;) {
        struct curl_slist *hdrs = NULL;
        CURLcode cc;
        double now = sf_monotonic(), attempt_timeout = h->o.timeout, wait, cap;
        int retry = 0, timed_out = 0;
        long req_size = 0;

        if (h->o.deadline > 0 && h->o.deadline - now < attempt_timeout)
            attempt_timeout = h->o.deadline - now;
        if (attempt_timeout <= 0) {
            rc = sf_error_set(err, SF_ETIMEOUT, "%s %s: deadline passed%s%s", method, safe_url.ptr,
                              why.len ? " after " : "", why.ptr);
            goto out;
        }
        sf_buf_clear(&resp->body);
        sf_buf_clear(&resp->headers);
        resp->status = 0;
        resp->attempts++;
        h->errbuf[0] = '\0';
        if (setup(h, req, resp, &hdrs, attempt_timeout) < 0) {
            curl_slist_free_all(hdrs);
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            goto out;
        }
        cc = curl_easy_perform(h->curl);
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
        curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &req_size);
        sf_buf_clear(&why);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
            sf_log(SF_LOG_DEBUG, "%s %s -> %ld (attempt %d)", method, safe_url.ptr, resp->status, resp->attempts);
            if (!transient_status(resp->status) || (req->flags & SF_HTTP_NO_RETRY)) {
                rc = 0;
                goto out;
            }
            {
                sf_buf ex = SF_BUF_INIT;
                excerpt(&ex, &resp->body);
                sf_buf_addf(&why, "HTTP %ld%s%s", resp->status, ex.len ? ": " : "", ex.ptr);
                sf_buf_free(&ex);
            }
            /* a 429 means the server refused the request without acting on it */
            if (resp->status == 429) {
                retry = 1;
                resp->maybe_sent = 0;
            } else {
                retry = !(req->flags & SF_HTTP_ONCE);
                resp->maybe_sent = 1;
            }
        } else {
            timed_out = cc == CURLE_OPERATION_TIMEDOUT;
            sf_buf_addf(&why, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
            sf_log(SF_LOG_DEBUG, "%s %s -> %s (attempt %d)", method, safe_url.ptr, why.ptr, resp->attempts);
            if (connect_error(cc) || req_size == 0) {
                retry = 1;
                resp->maybe_sent = 0;
            } else if (cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
                       cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE || cc == CURLE_HTTP2 ||
                       cc == CURLE_HTTP2_STREAM || cc == CURLE_SSL_CONNECT_ERROR) {
                retry = !(req->flags & SF_HTTP_ONCE);
                resp->maybe_sent = 1;
            } else {
                /* not transient: bad URL, TLS verification, too large, ... */
                rc = sf_error_set(err, SF_EHTTP, "%s %s: %s", method, safe_url.ptr, why.ptr);
                goto out;
            }
        }
        if (!retry || resp->attempts >= max_attempts)
            break;
        /* full jitter: uniform in [0, min(cap, base * 2^(attempt-1))] */
        cap = h->o.backoff_base;
        for (int i = 1; i < resp->attempts && cap < h->o.backoff_max; i++)
            cap *= 2;
        if (cap > h->o.backoff_max)
            cap = h->o.backoff_max;
        wait = cap * rand_unit();
        if (resp->status && sf_http_response_header(&ra, resp, "Retry-After") == 0) {
            double r = sf_http_retry_after(ra.ptr, (long long)time(NULL));
            if (r >= 0)
                wait = r;
        }
        if (sf_monotonic() + wait >= stop) {
            if (wait > h->o.backoff_max) {
                rc = sf_error_set(err, timed_out ? SF_ETIMEOUT : SF_EHTTP,
                                  "%s %s: %s (server asks to retry after %.0fs, beyond the retry budget)",
                                  method, safe_url.ptr, why.ptr, wait);
                goto out;
            }
            break;
        }
        sf_log(SF_LOG_INFO, "%s %s: %s; retrying in %.2fs (attempt %d of %d)", method, safe_url.ptr, why.ptr,
               wait, resp->attempts + 1, max_attempts);
        if (pause_for(h, wait) < 0) {
            rc = sf_error_set(err, SF_ETIMEOUT, "%s %s: cancelled after %s", method, safe_url.ptr, why.ptr);
            goto out;
        }
    }
    {
        int timed = strstr(why.ptr, "timed out") != NULL || strstr(why.ptr, "Timeout") != NULL;
        rc = sf_error_set(err, timed ? SF_ETIMEOUT : SF_EHTTP, "%s %s: %s (after %d attempt%s in %.1fs)", method,
                          safe_url.ptr, why.ptr, resp->attempts, resp->attempts == 1 ? "" : "s",
                          sf_monotonic() - start);
    }
out:
    sf_buf_free(&host);
    sf_buf_free(&safe_url);
    sf_buf_free(&ra);
    sf_buf_free(&why);
    return rc;
}
