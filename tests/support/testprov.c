/*
 * The `test.resource` provider, linked only into test binaries
 * (build/test-unit, build/stagefork-test). It makes a real artifact — a
 * file <dir>/<physical name> holding the rendered spec — and appends one
 * line per call to the file named by `record`, so tests can prove that
 * everything created was destroyed:
 *   call-<step> <name>          every call (step: prepare, create, destroy, check)
 *   created <name> <spec json>  artifact written (create succeeded)
 *   destroyed <name>            artifact removed (or was already gone)
 *   fail-<step> <name>          an injected failure
 *   hang-<step> <name>          an injected hang began
 * with: keys
 *   record: PATH (required)     dir: DIR (default: the record's directory)
 *   name: NAME                  physical name (default prefix-slug-resource)
 *   fail: STEP                  fail that step ...
 *   fail_first: N               ... only for its first N calls (default: always)
 *   hang: create|destroy        block (create: after the artifact exists) until
 *                               cancelled or --wait-timeout passes
 *   sleep: SECONDS              sleep inside create (parallelism tests)
 *   outputs: {NAME: VALUE}      extra outputs
 *   data: any                   free-form (rendered and recorded, nothing else)
 * Outputs: id (= name), url (test://name), token (secret; kept on adoption),
 * port (when the spec uses ${self.port}; allocated by prepare).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "stagefork/guard.h"
#include "stagefork/names.h"
#include "stagefork/provider.h"
#include "stagefork/util.h"

static const char *const tp_outputs[] = {"id", "url", "token", "port", NULL};

static void append_line(const char *record, const char *fmt, ...) SF_PRINTF(2, 3);
static void append_line(const char *record, const char *fmt, ...)
{
    sf_buf b = SF_BUF_INIT;
    va_list ap;
    int fd;
    va_start(ap, fmt);
    sf_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    sf_buf_addc(&b, '\n');
    fd = open(record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)!write(fd, b.ptr, b.len); /* one write per line */
        close(fd);
    }
    sf_buf_free(&b);
}

/* How many lines of `record` equal "<tag> <name>" (or start with it followed by a space). */
static long count_lines(const char *record, const char *tag, const char *name)
{
    FILE *f = fopen(record, "re");
    char *line = NULL;
    size_t cap = 0, tl = strlen(tag), nl = strlen(name);
    long n = 0;
    if (!f)
        return 0;
    while (getline(&line, &cap, f) > 0)
        if (!strncmp(line, tag, tl) && line[tl] == ' ' && !strncmp(line + tl + 1, name, nl) &&
            (line[tl + 1 + nl] == '\n' || line[tl + 1 + nl] == ' '))
            n++;
    free(line);
    fclose(f);
    return n;
}

static const char *record_of(const sf_resource_ctx *ctx) { return sf_resource_str(ctx, "record"); }

static void artifact_path(sf_buf *out, const sf_resource_ctx *ctx)
{
    const char *dir = sf_resource_str(ctx, "dir"), *rec = record_of(ctx);
    sf_buf_clear(out);
    if (dir)
        sf_buf_addf(out, "%s/%s", dir, ctx->name);
    else {
        const char *slash = strrchr(rec, '/');
        if (slash)
            sf_buf_addf(out, "%.*s/%s", (int)(slash - rec), rec, ctx->name);
        else
            sf_buf_addf(out, "%s", ctx->name);
    }
}

static double num_of(const json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v))
        return strtod(json_string_value(v), NULL);
    return 0;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Injected failure for this step? Counts calls per physical name. */
static int injected_failure(sf_resource_ctx *ctx, const char *step)
{
    const char *fail = sf_resource_str(ctx, "fail");
    char tag[32];
    json_t *first = json_object_get(ctx->spec, "fail_first");
    if (!fail || strcmp(fail, step) != 0)
        return 0;
    snprintf(tag, sizeof(tag), "fail-%s", step);
    if (first && count_lines(record_of(ctx), tag, ctx->name) >= (long)num_of(first))
        return 0;
    append_line(record_of(ctx), "%s %s", tag, ctx->name);
    return sf_error_set(&ctx->err, SF_EIO, "injected %s failure for '%s'", step, ctx->name);
}

static int hang_here(sf_resource_ctx *ctx, const char *step)
{
    const char *hang = sf_resource_str(ctx, "hang");
    if (!hang || strcmp(hang, step) != 0)
        return 0;
    append_line(record_of(ctx), "hang-%s %s", step, ctx->name);
    for (;;) {
        if (ctx->cancel && *ctx->cancel)
            return sf_error_set(&ctx->err, SF_EIO, "cancelled while '%s' was hanging", ctx->name);
        if (ctx->deadline > 0 && sf_monotonic() > ctx->deadline)
            return sf_error_set(&ctx->err, SF_ETIMEOUT, "'%s' did not become ready before --wait-timeout", ctx->name);
        nap(0.05);
    }
}

static int tp_name(sf_buf *out, const sf_resource_ctx *ctx)
{
    const char *n = sf_resource_str(ctx, "name");
    if (n)
        return sf_buf_sets(out, n);
    {
        const char *parts[] = {ctx->env->prefix, ctx->env->slug, ctx->resource};
        return sf_name_make(out, '-', 63, parts, 3);
    }
}

static int tp_validate(sf_resource_ctx *ctx)
{
    static const char *const keys[] = {"record", "dir", "name", "fail", "fail_first", "hang", "sleep", "outputs", "data"};
    const char *k;
    json_t *v;
    json_object_foreach(ctx->spec, k, v)
    {
        size_t i;
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (!strcmp(k, keys[i]))
                break;
        if (i == sizeof(keys) / sizeof(keys[0]))
            return sf_error_set(&ctx->err, SF_ECONFIG, "test.resource: unknown key '%s'", k);
    }
    if (!record_of(ctx))
        return sf_error_set(&ctx->err, SF_ECONFIG, "test.resource: `record` (a file path) is required");
    return 0;
}

static int wants_self(const sf_resource_ctx *ctx, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(ctx->self_refs, i, v) if (!strcmp(json_string_value(v), name)) return 1;
    return 0;
}

static int tp_prepare(sf_resource_ctx *ctx)
{
    append_line(record_of(ctx), "call-prepare %s", ctx->name);
    if (injected_failure(ctx, "prepare"))
        return ctx->err.code;
    if (wants_self(ctx, "port")) {
        const char *prior = json_string_value(json_object_get(ctx->prior_outputs, "port"));
        unsigned short r;
        char port[16];
        if (prior)
            snprintf(port, sizeof(port), "%s", prior);
        else {
            RAND_bytes((unsigned char *)&r, sizeof(r));
            snprintf(port, sizeof(port), "%u", 20000u + r % 20000u);
        }
        return sf_resource_output(ctx, "port", port, 0);
    }
    return 0;
}

static int tp_create(sf_resource_ctx *ctx)
{
    sf_buf path = SF_BUF_INIT, url = SF_BUF_INIT;
    char *text;
    const char *token;
    char tok[33];
    int fd, rc;
    json_t *extra;

    append_line(record_of(ctx), "call-create %s", ctx->name);
    if ((rc = sf_guard_check(ctx->cfg, NULL, ctx->name, &ctx->err)) < 0)
        return rc;
    if (injected_failure(ctx, "create"))
        return ctx->err.code;
    if (json_object_get(ctx->spec, "sleep"))
        nap(num_of(json_object_get(ctx->spec, "sleep")));
    artifact_path(&path, ctx);
    fd = open(path.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        if (!ctx->prior_outputs) { /* exists, and the state does not say it is ours */
            rc = sf_error_set(&ctx->err, SF_EEXIST, "'%s' already exists and is not ours", ctx->name);
            sf_buf_free(&path);
            return rc;
        }
        fd = open(path.ptr, O_WRONLY | O_TRUNC | O_CLOEXEC);
    }
    if (fd < 0) {
        rc = sf_error_set(&ctx->err, SF_EIO, "cannot create '%s': %s", path.ptr, strerror(errno));
        sf_buf_free(&path);
        return rc;
    }
    text = json_dumps(ctx->spec, JSON_COMPACT | JSON_SORT_KEYS);
    (void)!write(fd, text, strlen(text));
    close(fd);
    sf_buf_free(&path);
    /* found again after a crash through the checkpointed id */
    sf_resource_output(ctx, "id", ctx->name, 0);
    if ((rc = sf_resource_checkpoint(ctx)) < 0) {
        free(text);
        return rc;
    }
    if ((rc = hang_here(ctx, "create")) < 0) {
        free(text);
        return rc;
    }
    sf_buf_addf(&url, "test://%s", ctx->name);
    sf_resource_output(ctx, "url", url.ptr, 0);
    sf_buf_free(&url);
    token = json_string_value(json_object_get(ctx->prior_outputs, "token"));
    if (!token) {
        unsigned char raw[16];
        RAND_bytes(raw, sizeof(raw));
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(tok + 2 * i, 3, "%02x", raw[i]);
        token = tok;
    }
    sf_resource_output(ctx, "token", token, 1);
    if ((extra = json_object_get(ctx->spec, "outputs")) && json_is_object(extra)) {
        const char *k;
        json_t *v;
        json_object_foreach(extra, k, v) sf_resource_output(ctx, k, json_is_string(v) ? json_string_value(v) : "", 0);
    }
    append_line(record_of(ctx), "created %s %s", ctx->name, text);
    free(text);
    return 0;
}

static int tp_destroy(sf_resource_ctx *ctx)
{
    sf_buf path = SF_BUF_INIT;
    int rc;
    append_line(record_of(ctx), "call-destroy %s", ctx->name);
    if (injected_failure(ctx, "destroy"))
        return ctx->err.code;
    if ((rc = hang_here(ctx, "destroy")) < 0)
        return rc;
    artifact_path(&path, ctx);
    if (unlink(path.ptr) != 0 && errno != ENOENT) {
        rc = sf_error_set(&ctx->err, SF_EIO, "cannot remove '%s': %s", path.ptr, strerror(errno));
        sf_buf_free(&path);
        return rc;
    }
    sf_buf_free(&path);
    append_line(record_of(ctx), "destroyed %s", ctx->name);
    return 0;
}

static int tp_check(sf_resource_ctx *ctx)
{
    sf_buf path = SF_BUF_INIT;
    int rc;
    append_line(record_of(ctx), "call-check %s", ctx->name);
    if (injected_failure(ctx, "check"))
        return ctx->err.code;
    artifact_path(&path, ctx);
    rc = access(path.ptr, F_OK) == 0 ? 0 : SF_ENOTFOUND;
    sf_buf_free(&path);
    return rc;
}

static const sf_provider testprov = {
    .type = "test.resource",
    .name = tp_name,
    .validate = tp_validate,
    .create = tp_create,
    .destroy = tp_destroy,
    .check = tp_check,
    .outputs = tp_outputs,
    .prepare = tp_prepare,
};

__attribute__((constructor)) static void register_testprov(void)
{
    sf_provider_register(&testprov);
}
