#ifndef STAGEFORK_HTTP_H
#define STAGEFORK_HTTP_H
/*
 * The one HTTP client of the library (libcurl): connection reuse, connect
 * and total timeouts, retries with exponential backoff and full jitter on
 * transient failures (connect errors, timeouts, 429, 5xx) bounded by
 * attempts and elapsed time, Retry-After (seconds or HTTP-date) honoured,
 * guard.allow_hosts / guard.protected checked before every request, AWS
 * SigV4 through CURLOPT_AWS_SIGV4, and secrets (URL passwords, signature
 * query parameters, Authorization / token headers) redacted from logs and
 * error messages. No redirects are followed.
 */

#include <stddef.h>
#include "stagefork/buf.h"
#include "stagefork/config.h"
#include "stagefork/error.h"

typedef struct sf_http sf_http;

typedef struct sf_http_opts {
    double connect_timeout;         /* seconds; 0 = 10 */
    double timeout;                 /* whole attempt, seconds; 0 = 60 */
    int max_attempts;               /* 0 = 6; 1 = never retry */
    double max_elapsed;             /* no new attempt after this many seconds; 0 = 120 */
    double backoff_base;            /* cap of the first backoff; 0 = 0.25 s */
    double backoff_max;             /* cap of any backoff; 0 = 15 s */
    double deadline;                /* absolute sf_monotonic() limit; 0 = none */
    volatile int *cancel;           /* non-zero stops waiting between attempts */
    const sf_config *cfg;           /* guard checks; NULL allows every host */
    const char *const *connect_to;  /* NULL-terminated CURLOPT_CONNECT_TO entries (tests) */
} sf_http_opts;

/* Request flags. */
enum {
    /*
     * The request is not idempotent (a POST that creates): it is retried
     * only when the server certainly did not act on it — nothing was sent
     * (connect failure) or the answer was 429. Other transient failures
     * return at once with sf_http_response.maybe_sent set, so the caller
     * can look the object up before trying again.
     */
    SF_HTTP_ONCE = 1,
    SF_HTTP_NO_RETRY = 2 /* a single attempt whatever happens */
};

typedef struct sf_http_request {
    const char *method;             /* "GET", "PUT", ...; NULL = GET */
    const char *url;
    const char *const *headers;     /* NULL-terminated "Name: value" lines, may be NULL */
    const void *body;               /* may be NULL */
    size_t body_len;
    int flags;                      /* SF_HTTP_ONCE, SF_HTTP_NO_RETRY */
} sf_http_request;

typedef struct sf_http_response {
    long status;                    /* 0 if no response was received */
    sf_buf body;
    sf_buf headers;                 /* raw header block of the last response */
    int attempts;
    int maybe_sent;                 /* failed after the request may have reached the server */
} sf_http_response;

/* Defaults for a zeroed opts; see sf_http_opts. */
int sf_http_new(sf_http **out, const sf_http_opts *opts, sf_error *err);
void sf_http_free(sf_http *h);

/*
 * Sign every following request with AWS SigV4 (CURLOPT_AWS_SIGV4
 * "aws:amz:REGION:SERVICE"). Each request also carries
 * x-amz-content-sha256 = SHA-256 of its body (S3 requires it) and, with a
 * session token, X-Amz-Security-Token. The strings are copied.
 */
int sf_http_aws_sigv4(sf_http *h, const char *region, const char *service, const char *access_key,
                      const char *secret_key, const char *session_token);

/*
 * Perform req, retrying transient failures per the opts and req->flags.
 * Returns 0 once a response with a non-transient status arrived (any 1xx-4xx
 * except 429, or any status with SF_HTTP_NO_RETRY): the caller judges the
 * status. Otherwise SF_EGUARD (host refused), SF_ETIMEOUT (the last attempt
 * timed out or the deadline passed), SF_EHTTP (transport error or a
 * transient status after the last attempt), with a redacted message in
 * err. resp is reset first (init it with sf_http_response_init) and holds
 * the last response either way.
 */
int sf_http_do(sf_http *h, sf_http_response *resp, const sf_http_request *req, sf_error *err);

void sf_http_response_init(sf_http_response *r);
void sf_http_response_free(sf_http_response *r);
/* Value of the last header `name` (case-insensitive) in r, trimmed; SF_ENOTFOUND if absent. */
int sf_http_response_header(sf_buf *out, const sf_http_response *r, const char *name);

/*
 * Compose the usual message for an unexpected status:
 * "PUT http://host/b: HTTP 403: <first 200 bytes of the body>" (URL
 * redacted). Returns SF_EHTTP.
 */
int sf_http_status_error(sf_error *err, const sf_http_request *req, const sf_http_response *resp);

/* url with userinfo passwords and secret-looking query values replaced by "***". */
int sf_http_redact_url(sf_buf *out, const char *url);
/* A "Name: value" header line with the value replaced by "***" when the name carries a secret. */
int sf_http_redact_header(sf_buf *out, const char *line);

/*
 * Seconds to wait from a Retry-After value (delta-seconds or HTTP-date,
 * relative to now_unix); -1 if it cannot be parsed.
 */
double sf_http_retry_after(const char *value, long long now_unix);

#endif
