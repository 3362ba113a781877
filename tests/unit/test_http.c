/* The shared HTTP layer: SigV4 against AWS's published example, retries/backoff/Retry-After
   through faultproxy in front of json-server, guardrails, redaction. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "prov_util.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

/* ---- a one-shot capture server: records the raw request, answers 200 ---- */
typedef struct capture {
    int fd, port;
    char req[8192];
} capture;

static void *capture_run(void *arg)
{
    capture *c = arg;
    int s = accept(c->fd, NULL, NULL);
    size_t len = 0;
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    while (s >= 0 && len < sizeof(c->req) - 1) {
        ssize_t n = recv(s, c->req + len, sizeof(c->req) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        c->req[len] = '\0';
        if (strstr(c->req, "\r\n\r\n"))
            break;
    }
    if (s >= 0) {
        if (send(s, ok, strlen(ok), 0) < 0)
            perror("send");
        close(s);
    }
    return NULL;
}

static void capture_start(capture *c, pthread_t *th)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(c->fd, 1), 0);
    getsockname(c->fd, (struct sockaddr *)&a, &l);
    c->port = ntohs(a.sin_port);
    pthread_create(th, NULL, capture_run, c);
}

Test(http, sigv4_matches_aws_published_s3_example)
{
    /* AWS S3 docs, "Signature Calculations for the Authorization Header", GET Object example */
    capture c;
    pthread_t th;
    char connect_to[128];
    const char *ct[] = {connect_to, NULL};
    const char *hdrs[] = {"Range: bytes=0-9", "X-Amz-Date: 20130524T000000Z", NULL};
    sf_http_opts o = {0};
    sf_http *h;
    sf_http_response r;
    sf_http_request q = {.url = "http://examplebucket.s3.amazonaws.com/test.txt", .headers = hdrs};
    sf_error err = {0};
    capture_start(&c, &th);
    snprintf(connect_to, sizeof(connect_to), "examplebucket.s3.amazonaws.com:80:127.0.0.1:%d", c.port);
    o.connect_to = ct;
    o.max_attempts = 1;
    cr_assert_eq(sf_http_new(&h, &o, &err), 0);
    cr_assert_eq(sf_http_aws_sigv4(h, "us-east-1", "s3", "AKIAIOSFODNN7EXAMPLE",
                                   "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL),
                 0);
    sf_http_response_init(&r);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    pthread_join(th, NULL);
    close(c.fd);
    cr_assert(strstr(c.req, "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                            "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\r\n"),
              "%s", c.req);
    cr_assert(strstr(c.req, "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
              "%s", c.req);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, sigv4_signs_body_hash_and_session_token)
{
    capture c;
    pthread_t th;
    char connect_to[128];
    const char *ct[] = {connect_to, NULL};
    sf_http_opts o = {0};
    sf_http *h;
    sf_http_response r;
    sf_http_request q = {.method = "PUT", .url = "http://s3.test/b/k", .body = "abc", .body_len = 3};
    sf_error err = {0};
    capture_start(&c, &th);
    snprintf(connect_to, sizeof(connect_to), "s3.test:80:127.0.0.1:%d", c.port);
    o.connect_to = ct;
    o.max_attempts = 1;
    cr_assert_eq(sf_http_new(&h, &o, &err), 0);
    cr_assert_eq(sf_http_aws_sigv4(h, "eu-west-1", "s3", "AK", "SK", "TOKEN123"), 0);
    sf_http_response_init(&r);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    pthread_join(th, NULL);
    close(c.fd);
    cr_assert(strstr(c.req, "x-amz-content-sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
              "the SHA-256 of the body: %s", c.req);
    cr_assert(strstr(c.req, "X-Amz-Security-Token: TOKEN123"), "%s", c.req);
    cr_assert(strstr(c.req, "Credential=AK/"), "%s", c.req);
    cr_assert(strstr(c.req, "/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                            "x-amz-security-token, Signature="),
              "%s", c.req);
    sf_http_response_free(&r);
    sf_http_free(h);
}

/* ---- retries through faultproxy ---- */

static sf_http *client(double timeout, int attempts)
{
    sf_http_opts o = {0};
    sf_http *h;
    sf_error err = {0};
    o.timeout = timeout;
    o.max_attempts = attempts;
    o.backoff_base = 0.05;
    cr_assert_eq(sf_http_new(&h, &o, &err), 0);
    return h;
}

static int get(sf_http *h, const char *base, const char *path, int flags, sf_http_response *r, sf_error *err)
{
    char url[512];
    sf_http_request q = {.url = url, .flags = flags};
    snprintf(url, sizeof(url), "%s%s", base, path);
    return sf_http_do(h, r, &q, err);
}

Test(http, transient_statuses_and_resets_are_retried, .timeout = 60)
{
    const char *const faults[] = {"--fault", "1=status:500", "--fault", "2=status:503", "--fault", "3=reset",
                                  "--fault", "4=status:502", NULL};
    tproxy px;
    sf_http *h = client(5, 6);
    sf_http_response r;
    sf_error err = {0};
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    sf_http_response_init(&r);
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.attempts, 5);
    cr_assert_eq(r.body.ptr[0], '[');
    tp_proxy_stop(&px);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, retry_after_seconds_and_date_are_honoured, .timeout = 60)
{
    const char *const faults[] = {"--fault", "1=status:429:2", "--fault", "3=status:503:date", NULL};
    tproxy px;
    sf_http *h = client(5, 3);
    sf_http_response r;
    sf_error err = {0};
    double t0;
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    sf_http_response_init(&r);
    t0 = sf_monotonic();
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(sf_monotonic() - t0, 1.9, "waited Retry-After: 2");
    cr_assert_eq(r.attempts, 2);
    t0 = sf_monotonic();
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(sf_monotonic() - t0, 0.9, "waited for the HTTP-date");
    cr_assert_eq(r.status, 200);
    tp_proxy_stop(&px);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, retries_are_bounded_and_budget_respected, .timeout = 60)
{
    const char *const faults[] = {"--fault", "GET/p1=status:500", "--fault", "PUT/p1=status:429:3600", NULL};
    tproxy px;
    sf_http *h = client(5, 3);
    sf_http_response r;
    sf_http_request q = {.method = "PUT", .body = "{}", .body_len = 2};
    sf_error err = {0};
    char url[256];
    double t0;
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    sf_http_response_init(&r);
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), SF_EHTTP);
    cr_assert_eq(r.attempts, 3);
    cr_assert_eq(r.status, 500);
    cr_assert(strstr(err.msg, "HTTP 500") && strstr(err.msg, "after 3 attempts"), "%s", err.msg);
    cr_assert(strstr(err.msg, "injected by faultproxy"), "a short body excerpt: %s", err.msg);
    snprintf(url, sizeof(url), "%s/hooks/1", px.url);
    q.url = url;
    t0 = sf_monotonic();
    cr_assert_eq(sf_http_do(h, &r, &q, &err), SF_EHTTP);
    cr_assert(strstr(err.msg, "retry after 3600s, beyond the retry budget"), "%s", err.msg);
    cr_assert_lt(sf_monotonic() - t0, 2);
    tp_proxy_stop(&px);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, once_requests_are_not_repeated_when_they_may_have_landed, .timeout = 60)
{
    const char *const faults[] = {"--fault", "POST/1=status:500", "--fault", "POST/2=stall:3",
                                  "--fault", "POST/3=status:429:0", "--fault", "GET/1=stall:3", NULL};
    tproxy px;
    sf_http *h = client(1, 4);
    sf_http_response r;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    char url[256];
    sf_http_request q = {.method = "POST", .url = url, .headers = hdrs, .body = "{\"name\": \"once\"}",
                         .body_len = 16, .flags = SF_HTTP_ONCE};
    sf_error err = {0};
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    snprintf(url, sizeof(url), "%s/records", px.url);
    sf_http_response_init(&r);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), SF_EHTTP);
    cr_assert_eq(r.attempts, 1);
    cr_assert(r.maybe_sent);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), SF_ETIMEOUT, "%s", err.msg);
    cr_assert_eq(r.attempts, 1, "a timed-out POST is not retried");
    cr_assert(r.maybe_sent);
    /* 429 is a refusal: safe to retry even once-only requests */
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.attempts, 2);
    /* an idempotent GET that times out is retried */
    cr_assert_eq(get(h, px.url, "/records", 0, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.attempts, 2);
    tp_proxy_stop(&px);
    sf_http_response_free(&r);
    sf_http_free(h);
    /* connect refused: nothing was sent, so even ONCE requests retry (bounded) */
    h = client(1, 3);
    snprintf(url, sizeof(url), "http://127.0.0.1:1/records");
    sf_http_response_init(&r);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), SF_EHTTP);
    cr_assert_eq(r.attempts, 3);
    cr_assert(!r.maybe_sent);
    cr_assert(strstr(err.msg, "POST http://127.0.0.1:1/records: ") && strstr(err.msg, "after 3 attempts"), "%s",
              err.msg);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, not_implemented_is_not_retried)
{
    const char *const faults[] = {"--fault", "p1=status:501", NULL};
    tproxy px;
    sf_http *h = client(5, 5);
    sf_http_response r;
    sf_error err = {0};
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    sf_http_response_init(&r);
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), 0);
    cr_assert_eq(r.status, 501);
    cr_assert_eq(r.attempts, 1);
    tp_proxy_stop(&px);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, guardrails_refuse_before_any_request)
{
    tproxy px;
    tprov t; /* only for its config loader */
    sf_http_opts o = {0};
    sf_http *h;
    sf_http_response r;
    sf_error err = {0};
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), NULL);
    tp_init(&t, "http.resource", "http-guard", "x", "{}");
    tp_config(&t, "guard:\n  allow_hosts: [\"*.example.com\"]\n");
    o.cfg = t.cfg;
    cr_assert_eq(sf_http_new(&h, &o, &err), 0);
    sf_http_response_init(&r);
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), SF_EGUARD);
    cr_assert_str_eq(err.msg, "refusing to call host '127.0.0.1': it is not in guard.allow_hosts");
    sf_http_free(h);
    tp_config(&t, "guard:\n  protected: [\"127.0.0.1\"]\n");
    o.cfg = t.cfg;
    cr_assert_eq(sf_http_new(&h, &o, &err), 0);
    cr_assert_eq(get(h, px.url, "/hooks", 0, &r, &err), SF_EGUARD);
    tp_proxy_stop(&px);
    cr_assert_eq(tp_proxy_count(&px, "GET"), 0, "no request reached the server");
    sf_http_response_free(&r);
    sf_http_free(h);
    tp_free(&t);
}

static sf_buf logged = SF_BUF_INIT;
static void capture_log(sf_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    sf_buf_adds(&logged, msg);
    sf_buf_addc(&logged, '\n');
}

Test(http, secrets_are_redacted_in_messages_and_debug_logs)
{
    sf_buf b = SF_BUF_INIT;
    sf_http *h = client(2, 1);
    sf_http_response r;
    sf_error err = {0};
    const char *hdrs[] = {"Authorization: Bearer sekrit-bearer", "X-Amz-Security-Token: sekrit-token",
                          "X-Trace: visible", NULL};
    char url[512];
    sf_http_request q = {.url = url, .headers = hdrs};

    cr_assert_eq(sf_http_redact_url(&b, "https://user:p%40ss@h.example:9000/b/k?X-Amz-Signature=abc&x=1&token=t#f"), 0);
    cr_assert_str_eq(b.ptr, "https://user:***@h.example:9000/b/k?X-Amz-Signature=***&x=1&token=***#f");
    sf_http_redact_url(&b, "postgres://u@h/db?password=pw&sslmode=require");
    cr_assert_str_eq(b.ptr, "postgres://u@h/db?password=***&sslmode=require");
    sf_http_redact_url(&b, "http://h/path?plain");
    cr_assert_str_eq(b.ptr, "http://h/path?plain");
    sf_http_redact_header(&b, "authorization: AWS4-HMAC-SHA256 Credential=x");
    cr_assert_str_eq(b.ptr, "authorization: ***");
    sf_http_redact_header(&b, "X-Api-Key: k");
    cr_assert_str_eq(b.ptr, "X-Api-Key: ***");
    sf_http_redact_header(&b, "x-amz-content-sha256: e3b0");
    cr_assert_str_eq(b.ptr, "x-amz-content-sha256: e3b0");
    sf_http_redact_header(&b, "Accept: */*");
    cr_assert_str_eq(b.ptr, "Accept: */*");

    /* error messages: unreachable URL with credentials */
    snprintf(url, sizeof(url), "http://admin:hunter2@127.0.0.1:1/x?sig=abc");
    sf_http_response_init(&r);
    cr_assert(sf_http_do(h, &r, &q, &err) < 0);
    cr_assert(strstr(err.msg, "admin:***@127.0.0.1:1/x?sig=***"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "hunter2"));

    /* debug log of a real exchange (json-server): headers redacted, connection reused */
    sf_log_set(capture_log, NULL, SF_LOG_DEBUG);
    snprintf(url, sizeof(url), "%s/hooks", tp_env("STAGEFORK_TEST_REST"));
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    sf_log_set(NULL, NULL, SF_LOG_WARN);
    cr_assert(strstr(logged.ptr, "http> Authorization: ***"), "%s", logged.ptr);
    cr_assert(strstr(logged.ptr, "http> X-Amz-Security-Token: ***"), "%s", logged.ptr);
    cr_assert(strstr(logged.ptr, "http> X-Trace: visible"), "%s", logged.ptr);
    cr_assert_null(strstr(logged.ptr, "sekrit"), "%s", logged.ptr);
    cr_assert(strstr(logged.ptr, "Re-using existing connection"), "connections are reused: %s", logged.ptr);
    sf_buf_free(&b);
    sf_http_response_free(&r);
    sf_http_free(h);
}

Test(http, retry_after_parsing)
{
    cr_assert_float_eq(sf_http_retry_after("5", 0), 5.0, 1e-9);
    cr_assert_float_eq(sf_http_retry_after(" 0", 0), 0.0, 1e-9);
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    cr_assert_float_eq(sf_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7.0, 1e-9);
    cr_assert_float_eq(sf_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111790), 0.0, 1e-9);
    cr_assert_lt(sf_http_retry_after("soon", 0), 0);
    cr_assert_lt(sf_http_retry_after("-3", 0), 0);
}
