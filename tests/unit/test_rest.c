/* http.resource against the real json-server (STAGEFORK_TEST_REST), directly and through faultproxy. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "prov_util.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

/* GET base/path directly (no proxy); returns the parsed JSON (caller decrefs). */
static json_t *get_json(const char *path)
{
    sf_http *h;
    sf_http_response r;
    sf_http_request q = {0};
    sf_error err = {0};
    char url[512];
    json_t *doc;
    snprintf(url, sizeof(url), "%s%s", tp_env("STAGEFORK_TEST_REST"), path);
    cr_assert_eq(sf_http_new(&h, NULL, &err), 0);
    sf_http_response_init(&r);
    q.url = url;
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    doc = json_loadb(r.body.ptr, r.body.len, 0, NULL);
    cr_assert_not_null(doc, "GET %s: %s", url, r.body.ptr);
    sf_http_response_free(&r);
    sf_http_free(h);
    return doc;
}

static int count_named(const char *coll, const char *name)
{
    char path[512];
    json_t *doc;
    int n;
    snprintf(path, sizeof(path), "/%s?name=%s", coll, name);
    doc = get_json(path);
    n = (int)json_array_size(doc);
    json_decref(doc);
    return n;
}

static void post_direct(const char *coll, const char *name)
{
    sf_http *h;
    sf_http_response r;
    sf_http_request q = {0};
    sf_error err = {0};
    char url[512], body[256];
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    snprintf(url, sizeof(url), "%s/%s", tp_env("STAGEFORK_TEST_REST"), coll);
    snprintf(body, sizeof(body),
             "{\"name\": \"%s\", \"target\": \"http://127.0.0.1:1/ünï\", \"n\": 3, \"tags\": [\"a\", null]}",
             name);
    cr_assert_eq(sf_http_new(&h, NULL, &err), 0);
    sf_http_response_init(&r);
    q.method = "POST";
    q.url = url;
    q.headers = hdrs;
    q.body = body;
    q.body_len = strlen(body);
    cr_assert_eq(sf_http_do(h, &r, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 201);
    sf_http_response_free(&r);
    sf_http_free(h);
}

static char spec[4096];

/* A hook resource named after the env slug, against base (json-server or the proxy). */
static const char *hook_spec(const char *base, const char *name, int with_read, const char *extra)
{
    char readreq[512] = "";
    if (with_read)
        snprintf(readreq, sizeof(readreq), "\"read\": {\"url\": \"%s/hooks?name=%s\"},", base, name);
    snprintf(spec, sizeof(spec),
             "{\"create\": {\"method\": \"POST\", \"url\": \"%s/hooks\","
             "  \"headers\": {\"Authorization\": \"Bearer s3cr3t-token\"},"
             "  \"body\": {\"name\": \"%s\", \"target\": \"http://127.0.0.1:1/ünï\", \"n\": 3, \"tags\": [\"a\", null]},"
             "  \"expect\": [201]},"
             " %s"
             " \"delete\": {\"method\": \"DELETE\", \"url\": \"%s/hooks/${self.id}\", \"expect\": [200, 204]},"
             " \"id\": \"/id\", \"outputs\": {\"target\": \"/target\", \"n\": \"/n\", \"first_tag\": \"/tags/0\"},"
             " \"timeout\": \"%s\"%s%s}",
             base, name, readreq, base, "5s", extra ? ", " : "", extra ? extra : "");
    return spec;
}

Test(rest, create_adopt_destroy_with_outputs)
{
    tprov t;
    char id[64], path[128];
    json_t *doc;
    tp_init(&t, "http.resource", "rest-basic", "partner_hook", "{}");
    tp_spec(&t, hook_spec(tp_env("STAGEFORK_TEST_REST"), t.slug, 1, NULL));
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    snprintf(id, sizeof(id), "%s", tp_out(&t, "id"));
    cr_assert_str_eq(tp_out(&t, "target"), "http://127.0.0.1:1/ünï");
    cr_assert_str_eq(tp_out(&t, "n"), "3");
    cr_assert_str_eq(tp_out(&t, "first_tag"), "a");
    snprintf(path, sizeof(path), "/hooks/%s", id);
    doc = get_json(path);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), t.slug);
    json_decref(doc);

    tp_keep_outputs(&t);
    cr_assert_eq(tp_create(&t), 0, "adopt: %s", t.ctx.err.msg);
    cr_assert_str_eq(tp_out(&t, "id"), id);
    cr_assert_eq(count_named("hooks", t.slug), 1, "a rerun must not create a second object");
    cr_assert_eq(tp_check(&t), 0, "%s", t.ctx.err.msg);

    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(count_named("hooks", t.slug), 0);
    cr_assert_eq(tp_destroy(&t), 0, "destroy when gone (404 is success): %s", t.ctx.err.msg);
    cr_assert_eq(tp_check(&t), SF_ENOTFOUND);
    /* the object vanished behind our back: the next create makes a new one */
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(count_named("hooks", t.slug), 1);
    tp_keep_outputs(&t);
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    tp_free(&t);
}

Test(rest, lost_create_response_is_found_by_read_not_duplicated)
{
    tprov t;
    tp_init(&t, "http.resource", "rest-lost", "hook", "{}");
    tp_spec(&t, hook_spec(tp_env("STAGEFORK_TEST_REST"), t.slug, 1, NULL));
    /* an earlier create reached the server but its answer (and our record) was lost */
    post_direct("hooks", t.slug);
    cr_assert_eq(tp_create(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(count_named("hooks", t.slug), 1);
    /* destroy with no recorded outputs finds it through read too */
    json_decref(t.ctx.prior_outputs);
    t.ctx.prior_outputs = NULL;
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(count_named("hooks", t.slug), 0);
    /* duplicates that exist already are reported, never guessed at */
    post_direct("hooks", t.slug);
    post_direct("hooks", t.slug);
    cr_assert_eq(tp_create(&t), SF_ECONFLICT);
    cr_assert(strstr(t.ctx.err.msg, "matched 2 objects"), "%s", t.ctx.err.msg);
    {
        json_t *doc = get_json("/hooks"), *v;
        size_t i;
        json_array_foreach(doc, i, v) if (strcmp(json_string_value(json_object_get(v, "name")), t.slug) == 0)
        {
            char s[128];
            snprintf(s, sizeof(s), "{\"id\": \"%lld\"}", (long long)json_integer_value(json_object_get(v, "id")));
            json_decref(t.ctx.prior_outputs);
            t.ctx.prior_outputs = json_loads(s, 0, NULL);
            tp_spec(&t, hook_spec(tp_env("STAGEFORK_TEST_REST"), t.slug, 0, NULL));
            cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
        }
        json_decref(doc);
    }
    cr_assert_eq(count_named("hooks", t.slug), 0);
    tp_free(&t);
}

/* Create and destroy n resources through a faulty proxy; each must end with exactly one, then zero, records. */
static void converge(const char *tag, const char *const *faults, int n, double timeout, const char *const *seen)
{
    tproxy px;
    tprov t[8];
    char extra[64];
    cr_assert_leq(n, 8);
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    snprintf(extra, sizeof(extra), "\"timeout\": %g", timeout);
    for (int i = 0; i < n; i++) {
        tp_init(&t[i], "http.resource", tag, "hook", "{}");
        tp_spec(&t[i], hook_spec(px.url, t[i].slug, 1, NULL));
        json_object_set_new(t[i].ctx.spec, "timeout", json_real(timeout));
        (void)extra;
        cr_assert_eq(tp_create(&t[i]), 0, "create %d: %s", i, t[i].ctx.err.msg);
        cr_assert_eq(count_named("hooks", t[i].slug), 1, "resource %d: exactly one record", i);
        tp_keep_outputs(&t[i]);
        /* a rerun through the same faults adopts */
        cr_assert_eq(tp_create(&t[i]), 0, "rerun %d: %s", i, t[i].ctx.err.msg);
        cr_assert_eq(count_named("hooks", t[i].slug), 1, "resource %d: still one record", i);
    }
    for (int i = 0; i < n; i++) {
        cr_assert_eq(tp_destroy(&t[i]), 0, "destroy %d: %s", i, t[i].ctx.err.msg);
        cr_assert_eq(count_named("hooks", t[i].slug), 0, "resource %d: gone", i);
        tp_free(&t[i]);
    }
    tp_proxy_stop(&px);
    for (size_t i = 0; seen && seen[i]; i++)
        cr_assert_gt(tp_proxy_count(&px, seen[i]), 0, "fault '%s' was never injected", seen[i]);
}

Test(rest, converges_through_scripted_faults, .timeout = 120)
{
    /* request numbers per method: every fault kind hits both create and delete paths */
    const char *const faults[] = {"--fault", "POST/1=status:500",       /* refused: retried after read */
                                  "--fault", "POST/2=drop",             /* acted on, answer lost */
                                  "--fault", "POST/3=status:429:1",     /* Retry-After seconds */
                                  "--fault", "POST/4=reset",            /* RST before forwarding */
                                  "--fault", "POST/5=stall:2",          /* acted on, answer after our timeout */
                                  "--fault", "GET/2=status:503:date",   /* Retry-After HTTP-date */
                                  "--fault", "GET/4=reset",
                                  "--fault", "DELETE/1=status:502",
                                  "--fault", "DELETE/2=drop",           /* deleted, answer lost: retry gets 404 */
                                  "--fault", "DELETE/3=delay:0.5",
                                  NULL};
    const char *const seen[] = {"POST /hooks status", "POST /hooks drop", "POST /hooks reset", "POST /hooks stall",
                                "GET /hooks?name", "DELETE /hooks/", " delay", NULL};
    converge("rest-faults", faults, 4, 1.0, seen);
}

Test(rest, converges_under_random_faults_with_fixed_seed, .timeout = 180)
{
    const char *const faults[] = {"--seed", "42",
                                  "--fault", "p0.08=status:500",
                                  "--fault", "p0.08=drop",
                                  "--fault", "p0.08=reset",
                                  "--fault", "p0.08=status:429:0",
                                  NULL};
    const char *const seen[] = {" status", " drop", " reset", NULL};
    converge("rest-rand", faults, 6, 2.0, seen);
}

Test(rest, without_read_an_ambiguous_create_is_not_retried)
{
    tproxy px;
    tprov t;
    const char *const faults[] = {"--fault", "POST/1=drop", NULL};
    tp_proxy_start(&px, tp_env("STAGEFORK_TEST_REST"), faults);
    tp_init(&t, "http.resource", "rest-noread", "hook", "{}");
    tp_spec(&t, hook_spec(px.url, t.slug, 0, NULL));
    cr_assert_eq(tp_create(&t), SF_EHTTP, "%s", t.ctx.err.msg);
    cr_assert(strstr(t.ctx.err.msg, "may have reached the server"), "%s", t.ctx.err.msg);
    cr_assert_eq(tp_proxy_count(&px, "POST"), 1, "exactly one POST was sent");
    cr_assert_eq(count_named("hooks", t.slug), 1);
    tp_proxy_stop(&px);
    /* clean up the orphan with a read-capable spec */
    tp_spec(&t, hook_spec(tp_env("STAGEFORK_TEST_REST"), t.slug, 1, NULL));
    cr_assert_eq(tp_destroy(&t), 0, "%s", t.ctx.err.msg);
    cr_assert_eq(count_named("hooks", t.slug), 0);
    tp_free(&t);
}

Test(rest, secrets_stay_out_of_errors_and_failures_are_reported)
{
    tprov t;
    double t0;
    tp_init(&t, "http.resource", "rest-err", "hook", "{}");
    /* unexpected status: 404 on create (no such collection) names the request, not the token */
    tp_spec(&t, "{\"create\": {\"url\": \"STAGEFORK/nope?api_key=k3y\", \"headers\": {\"Authorization\": \"Bearer s3cr3t\"},"
                " \"body\": {}}, \"delete\": {\"url\": \"STAGEFORK/nope/${self.id}\"}}");
    {
        char *s = json_dumps(t.ctx.spec, 0), buf[1024];
        const char *base = tp_env("STAGEFORK_TEST_REST");
        sf_buf b = SF_BUF_INIT;
        for (char *p = s; *p; p++) {
            if (strncmp(p, "STAGEFORK", 9) == 0) {
                sf_buf_adds(&b, base);
                p += 8;
            } else {
                sf_buf_addc(&b, *p);
            }
        }
        snprintf(buf, sizeof(buf), "%s", b.ptr);
        tp_spec(&t, buf);
        free(s);
        sf_buf_free(&b);
    }
    cr_assert_eq(tp_create(&t), SF_EHTTP);
    cr_assert(strstr(t.ctx.err.msg, "HTTP 404"), "%s", t.ctx.err.msg);
    cr_assert(strstr(t.ctx.err.msg, "api_key=***"), "%s", t.ctx.err.msg);
    cr_assert_null(strstr(t.ctx.err.msg, "k3y"), "%s", t.ctx.err.msg);
    cr_assert_null(strstr(t.ctx.err.msg, "s3cr3t"), "%s", t.ctx.err.msg);
    /* unreachable host: connect errors retried, bounded by the deadline */
    tp_spec(&t, hook_spec("http://127.0.0.1:1", t.slug, 1, NULL));
    t.ctx.deadline = sf_monotonic() + 2;
    t0 = sf_monotonic();
    cr_assert(tp_create(&t) < 0);
    cr_assert(strstr(t.ctx.err.msg, "127.0.0.1:1"), "%s", t.ctx.err.msg);
    cr_assert(sf_monotonic() - t0 < 4);
    tp_free(&t);
}

Test(rest, guardrails_allow_hosts)
{
    tprov t;
    tp_init(&t, "http.resource", "rest-guard", "hook", "{}");
    tp_spec(&t, hook_spec(tp_env("STAGEFORK_TEST_REST"), t.slug, 1, NULL));
    tp_config(&t, "guard:\n  allow_hosts: [\"api.example.com\"]\n");
    cr_assert_eq(tp_create(&t), SF_EGUARD);
    cr_assert(strstr(t.ctx.err.msg, "refusing to call host '127.0.0.1'"), "%s", t.ctx.err.msg);
    cr_assert_eq(tp_destroy(&t), SF_EGUARD);
    cr_assert_eq(count_named("hooks", t.slug), 0);
    tp_config(&t, "guard:\n  protected: [\"127.0.0.1\"]\n");
    cr_assert_eq(tp_create(&t), SF_EGUARD);
    tp_free(&t);
}

Test(rest, validate_spec)
{
    tprov t;
    tp_init(&t, "http.resource", "rest-val", "hook", "{\"create\": {\"url\": \"http://x/\"}}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    cr_assert_str_eq(t.ctx.err.msg, "http.resource: 'delete' request is required");
    tp_spec(&t, "{\"create\": {\"url\": \"http://x/${self.id}\"}, \"delete\": {\"url\": \"http://x/\"}}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"create\": {\"url\": \"http://x/\", \"expect\": [\"abc\"]}, \"delete\": {\"url\": \"http://x/\"}}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"create\": {\"url\": \"http://x/\", \"headers\": {\"X\": \"a\\r\\nInjected: 1\"}}, "
                "\"delete\": {\"url\": \"http://x/\"}}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"create\": {\"url\": \"http://x/\"}, \"delete\": {\"url\": \"http://x/\"}, \"id\": \"id\"}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_spec(&t, "{\"create\": {\"url\": \"http://x/\"}, \"delete\": {\"url\": \"http://x/\"}, \"colour\": 1}");
    cr_assert_eq(t.p->validate(&t.ctx), SF_ECONFIG);
    tp_free(&t);
}
