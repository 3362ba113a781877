/*
 * http.resource: an object in any REST API, made by templated
 * create/read/delete requests. Crash- and fault-safe: a create whose
 * response was lost (timeout or reset after sending, 5xx) is never blindly
 * repeated — the object is looked up through `read` first, so a retry
 * cannot make a duplicate. `${self.id}` / `${self.NAME}` in read/delete
 * requests are filled by this provider from the create response or
 * ctx->prior_outputs.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "providers/spec.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

static const char *const rest_outputs[] = {"id", NULL};
static const char *const rest_keys[] = {"create", "read", "delete", "id", "outputs", "timeout", NULL};
static const char *const req_keys[] = {"method", "url", "headers", "body", "expect", NULL};

typedef struct rest {
    sf_resource_ctx *ctx;
    sf_http *http;
    sf_http_response resp;
    json_t *found; /* the object the last read returned (owned) */
} rest;

/* ------------------------------------------------------------------ spec --- */

static int check_request(sf_resource_ctx *ctx, const char *which, int required)
{
    json_t *r = json_object_get(ctx->spec, which), *v;
    int rc;
    if (!r) {
        if (required)
            return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: '%s' request is required", which);
        return 0;
    }
    if ((rc = sf_spec_keys(ctx, r, which, req_keys, &ctx->err)) < 0)
        return rc;
    if (!json_is_string(json_object_get(r, "url")))
        return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: %s.url is required", which);
    if ((v = json_object_get(r, "method")) && !json_is_string(v))
        return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: %s.method must be a string", which);
    if ((v = json_object_get(r, "headers"))) {
        const char *k;
        json_t *hv;
        if (!json_is_object(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: %s.headers must be a mapping", which);
        json_object_foreach(v, k, hv) if (!json_is_string(hv) || strpbrk(k, ":\r\n") ||
                                          strpbrk(json_string_value(hv), "\r\n")) return sf_error_set(
            &ctx->err, SF_ECONFIG, "http.resource: %s.headers.%s must be a one-line string", which, k);
    }
    if ((v = json_object_get(r, "expect"))) {
        size_t i;
        json_t *e;
        if (!json_is_array(v) || !json_array_size(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: %s.expect must be a list of statuses", which);
        json_array_foreach(v, i, e)
        {
            int64_t st;
            if (!(json_is_integer(e) || (json_is_string(e) && sf_parse_i64(&st, json_string_value(e), 100, 599) == 0)))
                return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: %s.expect must be a list of statuses",
                                    which);
        }
    }
    if (strcmp(which, "create") == 0 && sf_spec_has_self(json_string_value(json_object_get(r, "url"))))
        return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: create.url cannot use ${self.…}");
    return 0;
}

static int rest_validate(sf_resource_ctx *ctx)
{
    json_t *v;
    double t;
    int rc;
    if ((rc = sf_spec_keys(ctx, ctx->spec, "with", rest_keys, &ctx->err)) < 0)
        return rc;
    if ((rc = check_request(ctx, "create", 1)) < 0 || (rc = check_request(ctx, "read", 0)) < 0 ||
        (rc = check_request(ctx, "delete", 1)) < 0)
        return rc;
    if ((v = json_object_get(ctx->spec, "id")) && (!json_is_string(v) || (*json_string_value(v) &&
                                                                         json_string_value(v)[0] != '/')))
        return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: 'id' must be a JSON pointer such as /id");
    if ((v = json_object_get(ctx->spec, "outputs"))) {
        const char *k;
        json_t *p;
        if (!json_is_object(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "http.resource: 'outputs' must map names to JSON pointers");
        json_object_foreach(v, k, p) if (!json_is_string(p) ||
                                         (*json_string_value(p) && json_string_value(p)[0] != '/')) return sf_error_set(
            &ctx->err, SF_ECONFIG, "http.resource: outputs.%s must be a JSON pointer such as /data/url", k);
    }
    return sf_spec_duration(&t, ctx->spec, "timeout", 30, &ctx->err) < 0 ? SF_ECONFIG : 0;
}

/* http.resource has no physical name of its own; the env-derived name is for the record. */
static int rest_name(sf_buf *out, const sf_resource_ctx *ctx)
{
    return sf_spec_name(out, ctx, '-', 63);
}

/* ---------------------------------------------------------------- pointer --- */

/* RFC 6901 JSON pointer; NULL if it does not resolve. */
static json_t *pointer(json_t *doc, const char *ptr)
{
    sf_buf tok = SF_BUF_INIT;
    json_t *cur = doc;
    if (!*ptr)
        return doc;
    while (cur && *ptr == '/') {
        const char *end;
        ptr++;
        end = ptr + strcspn(ptr, "/");
        sf_buf_clear(&tok);
        for (const char *p = ptr; p < end; p++) {
            if (*p == '~' && p + 1 < end && (p[1] == '0' || p[1] == '1')) {
                sf_buf_addc(&tok, p[1] == '0' ? '~' : '/');
                p++;
            } else {
                sf_buf_addc(&tok, *p);
            }
        }
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok.ptr);
        } else if (json_is_array(cur)) {
            int64_t i;
            cur = sf_parse_i64(&i, tok.ptr, 0, INT64_MAX) == 0 ? json_array_get(cur, (size_t)i) : NULL;
        } else {
            cur = NULL;
        }
        ptr = end;
    }
    sf_buf_free(&tok);
    return cur;
}

/* A JSON value as an output string: strings as they are, anything else as compact JSON. */
static int value_text(sf_buf *out, json_t *v)
{
    char *s;
    if (json_is_string(v))
        return sf_buf_sets(out, json_string_value(v)) < 0 ? SF_ENOMEM : 0;
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return SF_ENOMEM;
    sf_buf_sets(out, s);
    free(s);
    return 0;
}

/* ---------------------------------------------------------------- request --- */

/* Copy of v with ${self.X} replaced in every string (keys untouched). */
static json_t *subst_json(json_t *v, const json_t *vars, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    json_t *out = NULL;
    if (json_is_string(v)) {
        if (sf_spec_self(&b, json_string_value(v), vars, err) == 0)
            out = json_stringn(b.ptr, b.len);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        out = json_object();
        json_object_foreach(v, k, x)
        {
            json_t *c = subst_json(x, vars, err);
            if (!c) {
                json_decref(out);
                out = NULL;
                break;
            }
            json_object_set_new(out, k, c);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        out = json_array();
        json_array_foreach(v, i, x)
        {
            json_t *c = subst_json(x, vars, err);
            if (!c) {
                json_decref(out);
                out = NULL;
                break;
            }
            json_array_append_new(out, c);
        }
    } else {
        out = json_incref(v);
    }
    sf_buf_free(&b);
    return out;
}

static int status_expected(json_t *r, long status, const char *which)
{
    json_t *ex = json_object_get(r, "expect"), *e;
    size_t i;
    if (!ex)
        return strcmp(which, "read") == 0 ? status == 200 : status / 100 == 2;
    json_array_foreach(ex, i, e)
    {
        int64_t st = 0;
        if (json_is_integer(e))
            st = json_integer_value(e);
        else
            sf_parse_i64(&st, json_string_value(e), 100, 599);
        if (st == status)
            return 1;
    }
    return 0;
}

/*
 * Send spec[which] with ${self.*} from vars. flags: SF_HTTP_ONCE for
 * create. The response is in r->resp; url_out (may be NULL) gets the
 * rendered URL for messages.
 */
static int send_request(rest *r, const char *which, const json_t *vars, int flags, sf_buf *url_out)
{
    json_t *spec = json_object_get(r->ctx->spec, which), *hdrs = json_object_get(spec, "headers"), *body;
    sf_buf url = SF_BUF_INIT, line = SF_BUF_INIT, val = SF_BUF_INIT;
    char **lines = NULL, *payload = NULL;
    size_t nlines = 0;
    int has_ct = 0, rc;
    const char *k, *method = json_string_value(json_object_get(spec, "method"));
    json_t *hv;
    sf_http_request req = {0};

    if ((rc = sf_spec_self(&url, json_string_value(json_object_get(spec, "url")), vars, &r->ctx->err)) < 0) {
        sf_error_prefix(&r->ctx->err, "http.resource %s.url", which);
        goto out;
    }
    lines = calloc(json_object_size(hdrs) + 2, sizeof(*lines));
    if (!lines) {
        rc = SF_ENOMEM;
        goto out;
    }
    json_object_foreach(hdrs, k, hv)
    {
        if ((rc = sf_spec_self(&val, json_string_value(hv), vars, &r->ctx->err)) < 0)
            goto out;
        sf_buf_clear(&line);
        sf_buf_addf(&line, "%s: %s", k, val.ptr);
        lines[nlines++] = sf_buf_detach(&line, NULL);
        if (strcasecmp(k, "Content-Type") == 0)
            has_ct = 1;
    }
    if ((body = json_object_get(spec, "body"))) {
        json_t *b = subst_json(body, vars, &r->ctx->err);
        if (!b) {
            rc = r->ctx->err.code ? r->ctx->err.code : SF_ENOMEM;
            goto out;
        }
        payload = json_is_string(b) ? strdup(json_string_value(b)) : json_dumps(b, JSON_COMPACT);
        json_decref(b);
        if (!payload) {
            rc = SF_ENOMEM;
            goto out;
        }
        if (!has_ct && !json_is_string(body))
            lines[nlines++] = strdup("Content-Type: application/json");
    }
    req.method = method ? method : (strcmp(which, "create") == 0 ? "POST" : strcmp(which, "delete") == 0 ? "DELETE"
                                                                                                           : "GET");
    req.url = url.ptr;
    req.headers = (const char *const *)lines;
    req.body = payload;
    req.body_len = payload ? strlen(payload) : 0;
    req.flags = flags;
    rc = sf_http_do(r->http, &r->resp, &req, &r->ctx->err);
    if (url_out)
        sf_http_redact_url(url_out, url.ptr);
out:
    for (size_t i = 0; lines && i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(payload);
    sf_buf_free(&url);
    sf_buf_free(&line);
    sf_buf_free(&val);
    return rc;
}

/* ----------------------------------------------------------------- lookup --- */

enum { FOUND = 1, ABSENT = 0, UNKNOWN = 2 };

/*
 * Run `read` with vars: FOUND (r->found set), ABSENT (404/410 or an empty
 * list), UNKNOWN (the read request needs a ${self.…} value we do not have),
 * or < 0. A list answer must hold at most one object: more means the API
 * already has duplicates, which is reported rather than guessed at.
 */
static int lookup(rest *r, const json_t *vars)
{
    json_t *spec = json_object_get(r->ctx->spec, "read"), *doc;
    sf_buf url = SF_BUF_INIT;
    json_error_t je;
    int rc;
    json_decref(r->found);
    r->found = NULL;
    if (!spec)
        return UNKNOWN;
    rc = send_request(r, "read", vars, 0, &url);
    if (rc == SF_ENOTFOUND) {
        sf_error_clear(&r->ctx->err);
        rc = UNKNOWN;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (r->resp.status == 404 || r->resp.status == 410) {
        rc = ABSENT;
        goto out;
    }
    if (!status_expected(spec, r->resp.status, "read")) {
        sf_http_request q = {.method = "GET", .url = url.ptr};
        rc = sf_http_status_error(&r->ctx->err, &q, &r->resp);
        goto out;
    }
    doc = json_loadb(r->resp.body.ptr, r->resp.body.len, JSON_DECODE_ANY, &je);
    if (!doc) {
        rc = sf_error_set(&r->ctx->err, SF_EFORMAT, "http.resource: read %s: response is not JSON: %s", url.ptr,
                          je.text);
        goto out;
    }
    if (json_is_array(doc)) {
        size_t n = json_array_size(doc);
        if (n > 1) {
            rc = sf_error_set(&r->ctx->err, SF_ECONFLICT,
                              "http.resource: read %s matched %zu objects; it must find at most one", url.ptr, n);
            json_decref(doc);
            goto out;
        }
        r->found = n ? json_incref(json_array_get(doc, 0)) : NULL;
        json_decref(doc);
        rc = n ? FOUND : ABSENT;
        goto out;
    }
    r->found = doc;
    rc = FOUND;
out:
    sf_buf_free(&url);
    return rc;
}

/* Outputs (id + declared) from a response object; prior fills a missing id. */
static int outputs_from(rest *r, json_t *obj, const json_t *prior)
{
    const char *idp = sf_resource_str(r->ctx, "id"), *k;
    json_t *outs = json_object_get(r->ctx->spec, "outputs"), *p, *v;
    sf_buf text = SF_BUF_INIT;
    int rc = 0;
    if (!idp)
        idp = "/id";
    v = pointer(obj, idp);
    if (!v && prior && json_is_string(json_object_get(prior, "id")))
        v = json_object_get(prior, "id");
    if (!v || json_is_null(v))
        return sf_error_set(&r->ctx->err, SF_EFORMAT, "http.resource: the response has no value at id pointer '%s'",
                            idp);
    if ((rc = value_text(&text, v)) < 0 || (rc = sf_resource_output(r->ctx, "id", text.ptr, 0)) < 0)
        goto out;
    json_object_foreach(outs, k, p)
    {
        v = pointer(obj, json_string_value(p));
        if (!v) {
            rc = sf_error_set(&r->ctx->err, SF_EFORMAT,
                              "http.resource: outputs.%s: the response has no value at '%s'", k, json_string_value(p));
            goto out;
        }
        if ((rc = value_text(&text, v)) < 0 || (rc = sf_resource_output(r->ctx, k, text.ptr, 0)) < 0)
            goto out;
    }
out:
    sf_buf_free(&text);
    return rc;
}

static void rest_close(rest *r)
{
    sf_http_free(r->http);
    sf_http_response_free(&r->resp);
    json_decref(r->found);
}

static int rest_open(rest *r, sf_resource_ctx *ctx)
{
    sf_http_opts o;
    int rc;
    memset(r, 0, sizeof(*r));
    r->ctx = ctx;
    sf_http_response_init(&r->resp);
    if ((rc = rest_validate(ctx)) < 0)
        return rc;
    sf_spec_http_opts(&o, ctx);
    sf_spec_duration(&o.timeout, ctx->spec, "timeout", 30, NULL);
    return sf_http_new(&r->http, &o, &ctx->err);
}

static void pause_secs(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ operations --- */

#define CREATE_ATTEMPTS 6

static int rest_create(sf_resource_ctx *ctx)
{
    rest r;
    const json_t *prior = ctx->prior_outputs;
    int have_read = json_object_get(ctx->spec, "read") != NULL, rc;
    double start = sf_monotonic();

    if ((rc = rest_open(&r, ctx)) < 0)
        goto out;
    /* 1. an earlier run's object: still there? */
    if (prior && json_is_string(json_object_get(prior, "id"))) {
        rc = have_read ? lookup(&r, prior) : UNKNOWN;
        if (rc < 0)
            goto out;
        if (rc == FOUND) {
            sf_log(SF_LOG_INFO, "http.resource %s: adopting the object found by read", ctx->resource);
            rc = outputs_from(&r, r.found, prior);
            goto out;
        }
        if (rc == UNKNOWN) {
            /* nothing to ask: trust the record */
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)prior, k, v) if (json_is_string(v) &&
                                                           (rc = sf_resource_output(ctx, k, json_string_value(v), 0)) < 0) goto out;
            rc = 0;
            goto out;
        }
    } else if (have_read) {
        /* 2. a create whose response never reached us (crash, lost reply) */
        rc = lookup(&r, prior);
        if (rc < 0)
            goto out;
        if (rc == FOUND) {
            sf_log(SF_LOG_INFO, "http.resource %s: found the object an earlier create made; adopting it",
                   ctx->resource);
            rc = outputs_from(&r, r.found, prior);
            goto out;
        }
    }
    /* 3. create; an ambiguous failure goes through read before any new attempt */
    for (int attempt = 1;; attempt++) {
        json_t *doc;
        json_error_t je;
        sf_buf url = SF_BUF_INIT;
        rc = send_request(&r, "create", NULL, SF_HTTP_ONCE, &url);
        if (rc == 0 && status_expected(json_object_get(ctx->spec, "create"), r.resp.status, "create")) {
            doc = json_loadb(r.resp.body.ptr, r.resp.body.len, JSON_DECODE_ANY, &je);
            if (!doc && have_read && lookup(&r, NULL) == FOUND) {
                rc = outputs_from(&r, r.found, prior);
            } else if (!doc) {
                rc = sf_error_set(&ctx->err, SF_EFORMAT, "http.resource: create %s: response is not JSON: %s",
                                  url.ptr, je.text);
            } else {
                rc = outputs_from(&r, doc, prior);
                json_decref(doc);
            }
            sf_buf_free(&url);
            goto out;
        }
        if (rc == 0) {
            sf_http_request q = {.method = "POST", .url = url.ptr};
            rc = sf_http_status_error(&ctx->err, &q, &r.resp);
            sf_buf_free(&url);
            goto out;
        }
        sf_buf_free(&url);
        if (!r.resp.maybe_sent)
            goto out; /* the request never reached the server; the HTTP layer already retried */
        if (!have_read) {
            sf_error_prefix(&ctx->err, "http.resource %s: the create request may have reached the server and there "
                                       "is no `read` request to check; not retrying (a retry could duplicate it)",
                            ctx->resource);
            goto out;
        }
        sf_log(SF_LOG_INFO, "http.resource %s: create outcome unknown (%s); looking it up", ctx->resource,
               ctx->err.msg);
        /* the server may still be acting on it: look a few times before trying again */
        for (int look = 0; look < 3; look++) {
            sf_error saved = ctx->err;
            int lk = lookup(&r, NULL);
            if (lk == FOUND) {
                rc = outputs_from(&r, r.found, prior);
                goto out;
            }
            if (lk == UNKNOWN) {
                ctx->err = saved;
                sf_error_prefix(&ctx->err, "http.resource %s: create outcome unknown and `read` needs ${self.…} values",
                                ctx->resource);
                goto out;
            }
            if (lk < 0)
                goto out;
            ctx->err = saved;
            pause_secs(0.3 * (look + 1));
        }
        if (attempt >= CREATE_ATTEMPTS || (ctx->deadline > 0 && sf_monotonic() >= ctx->deadline) ||
            (ctx->cancel && *ctx->cancel)) {
            sf_error_prefix(&ctx->err, "http.resource %s: giving up after %d create attempts in %.1fs", ctx->resource,
                            attempt, sf_monotonic() - start);
            goto out;
        }
        pause_secs(0.2 * attempt);
    }
out:
    rest_close(&r);
    return rc;
}

static int rest_destroy(sf_resource_ctx *ctx)
{
    rest r;
    json_t *vars = NULL;
    sf_buf url = SF_BUF_INIT;
    int rc;
    if ((rc = rest_open(&r, ctx)) < 0)
        goto out;
    rc = send_request(&r, "delete", ctx->prior_outputs, 0, &url);
    if (rc == SF_ENOTFOUND) {
        /* the delete needs values we never recorded: find the object through read */
        int lk;
        sf_error_clear(&ctx->err);
        lk = lookup(&r, ctx->prior_outputs);
        if (lk < 0) {
            rc = lk;
            goto out;
        }
        if (lk == ABSENT) {
            rc = 0;
            goto out;
        }
        if (lk == UNKNOWN) {
            sf_log(SF_LOG_WARN, "http.resource %s: nothing recorded and no usable `read`; assuming it was never "
                                "created",
                   ctx->resource);
            rc = 0;
            goto out;
        }
        if ((rc = outputs_from(&r, r.found, NULL)) < 0)
            goto out;
        vars = json_deep_copy(ctx->outputs);
        json_decref(ctx->outputs);
        ctx->outputs = NULL;
        rc = send_request(&r, "delete", vars, 0, &url);
    }
    if (rc < 0)
        goto out;
    if (r.resp.status == 404 || r.resp.status == 410 ||
        status_expected(json_object_get(ctx->spec, "delete"), r.resp.status, "delete")) {
        rc = 0;
        goto out;
    }
    {
        sf_http_request q = {.method = "DELETE", .url = url.ptr};
        rc = sf_http_status_error(&ctx->err, &q, &r.resp);
    }
out:
    json_decref(vars);
    sf_buf_free(&url);
    rest_close(&r);
    return rc;
}

static int rest_check(sf_resource_ctx *ctx)
{
    rest r;
    int rc;
    if ((rc = rest_open(&r, ctx)) == 0) {
        rc = lookup(&r, ctx->prior_outputs);
        if (rc == UNKNOWN)
            rc = sf_spec_prior(ctx, "id") ? FOUND : ABSENT;
        if (rc == FOUND)
            rc = 0;
        else if (rc == ABSENT)
            rc = sf_error_set(&ctx->err, SF_ENOTFOUND, "http.resource %s: not found", ctx->resource);
    }
    rest_close(&r);
    return rc;
}

const sf_provider sf_provider_http_resource = {
    .type = "http.resource",
    .name = rest_name,
    .validate = rest_validate,
    .create = rest_create,
    .destroy = rest_destroy,
    .check = rest_check,
    .outputs = rest_outputs,
};
