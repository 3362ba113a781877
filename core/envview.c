/* What the CLI shows of a record: the up --json view, outputs (redacted or revealed), dotenv lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "env_impl.h"

static int is_secret_name(const json_t *rec, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rec, "secret_outputs"), i, v) if (json_is_string(v) &&
                                                                       !strcmp(json_string_value(v), name)) return 1;
    return 0;
}

/* Outputs are strings: a plain YAML number or boolean becomes its text. */
static json_t *as_text(json_t *v)
{
    char *s;
    json_t *t;
    if (json_is_string(v))
        return json_incref(v);
    if (json_is_null(v))
        return json_string("");
    if (!(s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
        return NULL;
    t = json_string(s);
    free(s);
    return t;
}

int sf_env_outputs(json_t **out, const json_t *rec, int reveal, int strict, sf_error *err)
{
    json_t *res = json_object(), *v;
    const char *k;
    *out = NULL;
    if (!res)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    json_object_foreach(json_object_get(rec, "outputs"), k, v)
    {
        json_t *r = NULL, *t;
        if (is_secret_name(rec, k) && !reveal) {
            json_object_set_new(res, k, json_string("***"));
            continue;
        }
        {
            struct sf_final f = {rec, NULL, !strict};
            int rc = sf_interp_final(&r, v, sf_final_resolve, &f, err);
            if (rc < 0) {
                sf_error_prefix(err, "output %s", k);
                json_decref(res);
                return rc;
            }
        }
        t = as_text(r);
        json_decref(r);
        if (!t || json_object_set_new(res, k, t) < 0) {
            json_decref(res);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    *out = res;
    return 0;
}

int sf_env_view(json_t **out, const json_t *rec, sf_error *err)
{
    json_t *v, *outs, *arr, *r;
    size_t i;
    int rc;
    *out = NULL;
    if ((rc = sf_env_outputs(&outs, rec, 0, 0, err)) < 0)
        return rc;
    v = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:o, s:[]}", "branch", json_object_get(rec, "branch"), "slug",
                  json_object_get(rec, "slug"), "template", json_object_get(rec, "template"), "status",
                  json_object_get(rec, "status"), "created_at", json_object_get(rec, "created_at"), "expires_at",
                  json_object_get(rec, "expires_at"), "outputs", outs, "resources");
    if (!v)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    arr = json_object_get(v, "resources");
    json_array_foreach(json_object_get(rec, "resources"), i, r)
    {
        json_t *o = json_pack("{s:O?, s:O?, s:O?, s:O?}", "name", json_object_get(r, "name"), "type",
                              json_object_get(r, "type"), "status", json_object_get(r, "status"), "id",
                              json_object_get(r, "physical"));
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(v);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
    }
    if (json_is_string(json_object_get(rec, "error")))
        json_object_set(v, "error", json_object_get(rec, "error"));
    *out = v;
    return 0;
}

static int valid_key(const char *k)
{
    if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
        return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

int sf_env_dotenv_add(sf_buf *out, const char *key, const char *value, sf_error *err)
{
    if (!valid_key(key))
        return sf_error_set(err, SF_EUSAGE, "'%s' cannot be an environment variable name", key);
    if (!strchr(value, '\n') && !strchr(value, '\r'))
        return sf_buf_addf(out, "%s=%s\n", key, value) < 0 ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
    /* a multi-line value: GitHub's heredoc form, with a delimiter the value cannot contain */
    for (;;) {
        unsigned char raw[8];
        char delim[40];
        int n = snprintf(delim, sizeof(delim), "SF_EOF_");
        if (RAND_bytes(raw, sizeof(raw)) != 1)
            return sf_error_set(err, SF_ECRYPTO, "RAND_bytes failed");
        for (size_t i = 0; i < sizeof(raw); i++)
            n += snprintf(delim + n, sizeof(delim) - (size_t)n, "%02x", raw[i]);
        if (strstr(value, delim))
            continue;
        return sf_buf_addf(out, "%s<<%s\n%s\n%s\n", key, delim, value, delim) < 0
                   ? sf_error_set(err, SF_ENOMEM, "out of memory")
                   : 0;
    }
}

int sf_env_dotenv_write(const char *path, const json_t *outputs, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    const char *k;
    json_t *v;
    int fd, rc = 0;
    json_object_foreach((json_t *)outputs, k, v)
    {
        if ((rc = sf_env_dotenv_add(&b, k, json_is_string(v) ? json_string_value(v) : "", err)) < 0) {
            sf_buf_free(&b);
            return rc;
        }
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sf_error_set(err, SF_EIO, "cannot open '%s': %s", path, strerror(errno));
        sf_buf_free(&b);
        return rc;
    }
    /* the file now holds secrets: nobody else may read it */
    if (fchmod(fd, 0600) != 0)
        sf_log(SF_LOG_WARN, "cannot set mode 0600 on '%s': %s", path, strerror(errno));
    for (size_t off = 0; off < b.len;) {
        ssize_t w = write(fd, b.ptr + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 && rc == 0)
        rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", path, strerror(errno));
    sf_buf_free(&b);
    return rc;
}
