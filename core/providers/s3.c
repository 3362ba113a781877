/*
 * s3.bucket: a bucket through the S3 REST API (path-style, SigV4 via the
 * HTTP layer), optionally filled by server-side copies from
 * `copy_from: s3://bucket/prefix`. Destroy empties it completely — every
 * object page, every unfinished multipart upload — then deletes it.
 * Responses are parsed with libxml2.
 */
#define _GNU_SOURCE
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include "providers/spec.h"
#include "s3_rest.h"
#include "stagefork/guard.h"
#include "stagefork/http.h"

#define DELETE_BATCH 1000

static const char *const s3_outputs[] = {"name", "endpoint", "url", NULL};
static const char *const s3_keys[] = {"endpoint",   "region",        "access_key", "secret_key",
                                      "session_token", "name",       "copy_from",  NULL};

typedef struct s3 {
    sf_resource_ctx *ctx;
    sf_http *http;
    char *endpoint; /* without trailing '/' */
    const char *region;
    sf_http_response resp;
} s3;

/* ------------------------------------------------------------------ utils -- */

static int xml_escape(sf_buf *out, const char *s)
{
    for (; *s; s++) {
        int rc;
        switch (*s) {
        case '&': rc = sf_buf_adds(out, "&amp;"); break;
        case '<': rc = sf_buf_adds(out, "&lt;"); break;
        case '>': rc = sf_buf_adds(out, "&gt;"); break;
        case '"': rc = sf_buf_adds(out, "&quot;"); break;
        case '\'': rc = sf_buf_adds(out, "&apos;"); break;
        case '\r': rc = sf_buf_adds(out, "&#13;"); break;
        default: rc = sf_buf_addc(out, *s);
        }
        if (rc < 0)
            return SF_ENOMEM;
    }
    return 0;
}

static xmlNodePtr next_named(xmlNodePtr n, const char *name)
{
    for (n = n ? n->next : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
    return NULL;
}

/* The <Code> of an S3 error body, or "". */
static void error_code(char out[64], const sf_buf *body)
{
    xmlDocPtr d = sf_s3_xml_parse(body);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    sf_buf code = SF_BUF_INIT;
    out[0] = '\0';
    if (root && strcmp((const char *)root->name, "Error") == 0 && sf_s3_xml_text(&code, root, "Code") == 0)
        snprintf(out, 64, "%s", code.ptr);
    sf_buf_free(&code);
    xmlFreeDoc(d);
}

/* ------------------------------------------------------------------ setup -- */

static int s3_validate(sf_resource_ctx *ctx)
{
    json_t *v;
    const char *s;
    int rc;
    if ((rc = sf_spec_keys(ctx, ctx->spec, "with", s3_keys, &ctx->err)) < 0)
        return rc;
    for (size_t i = 0; s3_keys[i]; i++)
        if ((v = json_object_get(ctx->spec, s3_keys[i])) && !json_is_string(v))
            return sf_error_set(&ctx->err, SF_ECONFIG, "s3.bucket: '%s' must be a string", s3_keys[i]);
    if ((s = sf_resource_str(ctx, "copy_from")) && strncmp(s, "s3://", 5) != 0)
        return sf_error_set(&ctx->err, SF_ECONFIG, "s3.bucket: copy_from must look like s3://bucket/prefix, got '%s'",
                            s);
    if ((s = sf_resource_str(ctx, "endpoint")) && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return sf_error_set(&ctx->err, SF_ECONFIG, "s3.bucket: endpoint must be an http(s) URL, got '%s'", s);
    return 0;
}

static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
    }
    return b[0] != '-' && b[0] != '.' && b[n - 1] != '-' && b[n - 1] != '.' && !strstr(b, "..");
}

/*
 * `<prefix>-<slug>-<resource>` (63 bytes, lowercase); `with.name` must
 * start with "<prefix>-" and be a valid bucket name.
 */
static int s3_name(sf_buf *out, const sf_resource_ctx *ctx)
{
    const char *given = sf_resource_str(ctx, "name");
    const char *prefix = ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf";
    int rc;
    if (given) {
        size_t pl = strlen(prefix);
        if (strncmp(given, prefix, pl) != 0 || given[pl] != '-' || !valid_bucket(given))
            return SF_ECONFIG;
        return sf_buf_sets(out, given) < 0 ? SF_ENOMEM : 0;
    }
    if ((rc = sf_spec_name(out, ctx, '-', 63)) < 0)
        return rc;
    for (size_t i = 0; i < out->len; i++)
        if (out->ptr[i] >= 'A' && out->ptr[i] <= 'Z')
            out->ptr[i] = (char)(out->ptr[i] - 'A' + 'a');
    return valid_bucket(out->ptr) ? 0 : SF_ECONFIG;
}

static void s3_close(s3 *s)
{
    sf_http_free(s->http);
    free(s->endpoint);
    sf_http_response_free(&s->resp);
}

static int s3_open(s3 *s, sf_resource_ctx *ctx, sf_buf *name)
{
    sf_http_opts o;
    sf_buf ep = SF_BUF_INIT, host = SF_BUF_INIT;
    const char *ak, *sk, *tok, *endpoint;
    int rc;
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    sf_http_response_init(&s->resp);
    if ((rc = s3_validate(ctx)) < 0)
        return rc;
    if ((rc = s3_name(name, ctx)) < 0)
        return sf_error_set(&ctx->err, rc == SF_ECONFIG ? SF_ECONFIG : rc,
                            "s3.bucket: '%s' is not a valid bucket name starting with '%s-'",
                            sf_resource_str(ctx, "name") ? sf_resource_str(ctx, "name") : name->ptr,
                            ctx->env && ctx->env->prefix ? ctx->env->prefix : "sf");
    s->region = sf_resource_str(ctx, "region");
    if (!s->region || !*s->region)
        s->region = "us-east-1";
    endpoint = sf_resource_str(ctx, "endpoint");
    if (endpoint)
        rc = sf_buf_sets(&ep, endpoint);
    else if (strcmp(s->region, "us-east-1") == 0)
        rc = sf_buf_sets(&ep, "https://s3.amazonaws.com");
    else
        rc = sf_buf_addf(&ep, "https://s3.%s.amazonaws.com", s->region);
    if (rc < 0)
        return SF_ENOMEM;
    while (ep.len > 0 && ep.ptr[ep.len - 1] == '/')
        sf_buf_truncate(&ep, ep.len - 1);
    s->endpoint = sf_buf_detach(&ep, NULL);
    if (sf_guard_host_of(&host, s->endpoint) < 0)
        return sf_error_set(&ctx->err, SF_ECONFIG, "s3.bucket: cannot find the host in endpoint");
    rc = sf_guard_check(ctx->cfg, host.ptr, name->ptr, &ctx->err);
    sf_buf_free(&host);
    if (rc < 0)
        return rc;
    ak = sf_resource_str(ctx, "access_key");
    sk = sf_resource_str(ctx, "secret_key");
    tok = sf_resource_str(ctx, "session_token");
    if (!ak && !sk) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
        tok = getenv("AWS_SESSION_TOKEN");
    }
    if (!ak || !*ak || !sk || !*sk)
        return sf_error_set(&ctx->err, SF_ECONFIG,
                            "s3.bucket: no credentials: set with.access_key and with.secret_key, or "
                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    sf_spec_http_opts(&o, ctx);
    if ((rc = sf_http_new(&s->http, &o, &ctx->err)) < 0)
        return rc;
    if (sf_http_aws_sigv4(s->http, s->region, "s3", ak, sk, tok) < 0)
        return sf_error_set(&ctx->err, SF_ENOMEM, "out of memory");
    return 0;
}

/*
 * One request to endpoint + path (already encoded). Returns 0 with the
 * response in s->resp, or an error with ctx->err set. Unexpected statuses
 * are for the caller to judge.
 */
static int s3_do(s3 *s, const char *method, const char *path, const char *const *headers, const sf_buf *body)
{
    return sf_s3_do(s->http, &s->resp, s->endpoint, method, path, headers, body ? body->ptr : NULL,
                    body ? body->len : 0, &s->ctx->err);
}

static int s3_status_error(s3 *s, const char *method, const char *path)
{
    return sf_s3_status_error(&s->ctx->err, s->endpoint, method, path, &s->resp);
}

/* ------------------------------------------------------------ operations --- */

/*
 * 0 exists (and is ours to use), SF_ENOTFOUND, other < 0. GetBucketLocation
 * rather than HEAD: its error body says why (InvalidAccessKeyId,
 * AccessDenied for someone else's bucket, ...).
 */
static int head_bucket(s3 *s, const char *bucket)
{
    sf_buf path = SF_BUF_INIT;
    int rc;
    sf_buf_addc(&path, '/');
    sf_s3_uri_encode(&path, bucket, 0);
    sf_buf_adds(&path, "?location=");
    rc = s3_do(s, "GET", path.ptr, NULL, NULL);
    if (rc == 0) {
        if (s->resp.status == 404)
            rc = SF_ENOTFOUND;
        else if (s->resp.status / 100 != 2)
            rc = s3_status_error(s, "GET", path.ptr);
    }
    sf_buf_free(&path);
    return rc;
}

static int put_bucket(s3 *s, const char *bucket, int *adopted)
{
    sf_buf path = SF_BUF_INIT, body = SF_BUF_INIT;
    char code[64];
    int rc;
    *adopted = 0;
    sf_buf_addc(&path, '/');
    sf_s3_uri_encode(&path, bucket, 0);
    if (strcmp(s->region, "us-east-1") != 0)
        sf_buf_addf(&body,
                    "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                    s->region);
    rc = s3_do(s, "PUT", path.ptr, NULL, body.len ? &body : NULL);
    if (rc == 0 && s->resp.status / 100 != 2) {
        error_code(code, &s->resp.body);
        if (s->resp.status == 409 && strcmp(code, "BucketAlreadyOwnedByYou") == 0)
            *adopted = 1;
        else if (s->resp.status == 409 && strcmp(code, "BucketAlreadyExists") == 0)
            rc = sf_error_set(&s->ctx->err, SF_EEXIST, "s3 bucket '%s' already exists and belongs to someone else",
                              bucket);
        else
            rc = s3_status_error(s, "PUT", path.ptr);
    }
    sf_buf_free(&path);
    sf_buf_free(&body);
    return rc;
}

/*
 * One ListObjectsV2 page of bucket under prefix (token may be ""): keys
 * appended to *keys (a JSON array), next continuation token in next ("" at
 * the end). SF_ENOTFOUND when the bucket does not exist.
 */
static int list_page(s3 *s, const char *bucket, const char *prefix, const char *token, json_t *keys, sf_buf *next)
{
    sf_buf path = SF_BUF_INIT, k = SF_BUF_INIT;
    xmlDocPtr d = NULL;
    xmlNodePtr root, c;
    char code[64];
    int rc;
    sf_buf_clear(next);
    /* parameters in canonical (sorted, encoded) order so the signature matches any signer */
    sf_buf_addc(&path, '/');
    sf_s3_uri_encode(&path, bucket, 0);
    sf_buf_adds(&path, "?");
    if (*token) {
        sf_buf_adds(&path, "continuation-token=");
        sf_s3_uri_encode(&path, token, 0);
        sf_buf_adds(&path, "&");
    }
    sf_buf_adds(&path, "list-type=2&max-keys=1000");
    if (prefix && *prefix) {
        sf_buf_adds(&path, "&prefix=");
        sf_s3_uri_encode(&path, prefix, 0);
    }
    if ((rc = s3_do(s, "GET", path.ptr, NULL, NULL)) < 0)
        goto out;
    if (s->resp.status == 404) {
        error_code(code, &s->resp.body);
        rc = sf_error_set(&s->ctx->err, SF_ENOTFOUND, "s3 bucket '%s' does not exist%s%s", bucket,
                          code[0] ? ": " : "", code);
        goto out;
    }
    if (s->resp.status / 100 != 2) {
        rc = s3_status_error(s, "GET", path.ptr);
        goto out;
    }
    d = sf_s3_xml_parse(&s->resp.body);
    root = d ? xmlDocGetRootElement(d) : NULL;
    if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
        rc = sf_error_set(&s->ctx->err, SF_EFORMAT, "s3: unexpected ListObjectsV2 response from '%s'", bucket);
        goto out;
    }
    for (c = sf_s3_xml_child(root, "Contents"); c; c = next_named(c, "Contents")) {
        if (sf_s3_xml_text(&k, c, "Key") == 0 && json_array_append_new(keys, json_string(k.ptr)) < 0) {
            rc = SF_ENOMEM;
            goto out;
        }
    }
    if (sf_s3_xml_text(&k, root, "IsTruncated") == 0 && strcmp(k.ptr, "true") == 0 &&
        sf_s3_xml_text(&k, root, "NextContinuationToken") == 0 && k.len > 0)
        sf_buf_sets(next, k.ptr);
out:
    xmlFreeDoc(d);
    sf_buf_free(&path);
    sf_buf_free(&k);
    return rc;
}

/* DeleteObjects for up to 1000 keys, with the Content-MD5 S3 requires. */
static int delete_batch(s3 *s, const char *bucket, json_t *keys)
{
    sf_buf path = SF_BUF_INIT, body = SF_BUF_INIT, md5h = SF_BUF_INIT, k = SF_BUF_INIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char b64[64];
    const char *headers[] = {NULL, NULL};
    xmlDocPtr d = NULL;
    xmlNodePtr root, e;
    size_t i;
    json_t *v;
    int rc = 0;
    sf_buf_adds(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                       "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    json_array_foreach(keys, i, v)
    {
        sf_buf_adds(&body, "<Object><Key>");
        xml_escape(&body, json_string_value(v));
        sf_buf_adds(&body, "</Key></Object>");
    }
    if (sf_buf_adds(&body, "</Delete>") < 0)
        return SF_ENOMEM;
    if (EVP_Digest(body.ptr, body.len, md, &mdlen, EVP_md5(), NULL) != 1) {
        rc = sf_error_set(&s->ctx->err, SF_ECRYPTO, "cannot compute Content-MD5");
        goto out;
    }
    EVP_EncodeBlock(b64, md, (int)mdlen);
    sf_buf_addf(&md5h, "Content-MD5: %s", (const char *)b64);
    headers[0] = md5h.ptr;
    sf_buf_addc(&path, '/');
    sf_s3_uri_encode(&path, bucket, 0);
    sf_buf_adds(&path, "?delete=");
    if ((rc = s3_do(s, "POST", path.ptr, headers, &body)) < 0)
        goto out;
    if (s->resp.status / 100 != 2) {
        rc = s3_status_error(s, "POST", path.ptr);
        goto out;
    }
    /* quiet mode lists only failures */
    d = sf_s3_xml_parse(&s->resp.body);
    root = d ? xmlDocGetRootElement(d) : NULL;
    if (root && (e = sf_s3_xml_child(root, "Error"))) {
        sf_buf code = SF_BUF_INIT, msg = SF_BUF_INIT;
        sf_s3_xml_text(&k, e, "Key");
        sf_s3_xml_text(&code, e, "Code");
        sf_s3_xml_text(&msg, e, "Message");
        rc = sf_error_set(&s->ctx->err, SF_EHTTP, "s3: cannot delete '%s' from bucket '%s': %s %s", k.ptr, bucket,
                          code.ptr, msg.ptr);
        sf_buf_free(&code);
        sf_buf_free(&msg);
    }
out:
    xmlFreeDoc(d);
    sf_buf_free(&path);
    sf_buf_free(&body);
    sf_buf_free(&md5h);
    sf_buf_free(&k);
    return rc;
}

/* Delete every object; listing restarts after each batch so nothing is skipped. */
static int delete_objects(s3 *s, const char *bucket, size_t *ndeleted)
{
    sf_buf next = SF_BUF_INIT;
    int rc = 0;
    for (;;) {
        json_t *keys = json_array();
        if (!keys)
            return SF_ENOMEM;
        rc = list_page(s, bucket, NULL, "", keys, &next);
        if (rc == 0 && json_array_size(keys) == 0) {
            json_decref(keys);
            break;
        }
        if (rc == 0)
            rc = delete_batch(s, bucket, keys);
        if (rc == 0)
            *ndeleted += json_array_size(keys);
        json_decref(keys);
        if (rc < 0)
            break;
    }
    sf_buf_free(&next);
    return rc;
}

/* Abort every unfinished multipart upload (ListMultipartUploads until empty). */
static int abort_uploads(s3 *s, const char *bucket, size_t *naborted)
{
    sf_buf path = SF_BUF_INIT, key = SF_BUF_INIT, id = SF_BUF_INIT, apath = SF_BUF_INIT;
    int rc = 0;
    for (int round = 0; round < 10000; round++) {
        xmlDocPtr d;
        xmlNodePtr root, u;
        size_t n = 0;
        sf_buf_clear(&path);
        sf_buf_addc(&path, '/');
        sf_s3_uri_encode(&path, bucket, 0);
        sf_buf_adds(&path, "?uploads=");
        if ((rc = s3_do(s, "GET", path.ptr, NULL, NULL)) < 0)
            break;
        if (s->resp.status == 404) {
            rc = SF_ENOTFOUND;
            break;
        }
        if (s->resp.status == 501) {
            /* e.g. s3rver: no multipart listing, so nothing can be aborted by listing */
            sf_log(SF_LOG_INFO, "s3: '%s' does not implement ListMultipartUploads; unfinished uploads are left "
                                "to the server",
                   s->endpoint);
            break;
        }
        if (s->resp.status / 100 != 2) {
            rc = s3_status_error(s, "GET", path.ptr);
            break;
        }
        d = sf_s3_xml_parse(&s->resp.body);
        root = d ? xmlDocGetRootElement(d) : NULL;
        if (!root || strcmp((const char *)root->name, "ListMultipartUploadsResult") != 0) {
            /* servers without multipart listing answer with something else: nothing to abort */
            xmlFreeDoc(d);
            break;
        }
        for (u = sf_s3_xml_child(root, "Upload"); u && rc == 0; u = next_named(u, "Upload")) {
            if (sf_s3_xml_text(&key, u, "Key") < 0 || sf_s3_xml_text(&id, u, "UploadId") < 0)
                continue;
            sf_buf_clear(&apath);
            sf_buf_addc(&apath, '/');
            sf_s3_uri_encode(&apath, bucket, 0);
            sf_buf_addc(&apath, '/');
            sf_s3_uri_encode(&apath, key.ptr, 1);
            sf_buf_adds(&apath, "?uploadId=");
            sf_s3_uri_encode(&apath, id.ptr, 0);
            if ((rc = s3_do(s, "DELETE", apath.ptr, NULL, NULL)) < 0)
                break;
            if (s->resp.status / 100 != 2 && s->resp.status != 404) {
                rc = s3_status_error(s, "DELETE", apath.ptr);
                break;
            }
            n++;
        }
        xmlFreeDoc(d);
        *naborted += n;
        if (rc < 0 || n == 0)
            break;
    }
    sf_buf_free(&path);
    sf_buf_free(&key);
    sf_buf_free(&id);
    sf_buf_free(&apath);
    return rc;
}

static int copy_objects(s3 *s, const char *bucket, const char *from)
{
    sf_buf src = SF_BUF_INIT, prefix = SF_BUF_INIT, next = SF_BUF_INIT, token = SF_BUF_INIT;
    sf_buf path = SF_BUF_INIT, hdr = SF_BUF_INIT;
    const char *rest = from + 5, *slash = strchr(rest, '/');
    size_t copied = 0;
    int rc = 0;
    sf_buf_set(&src, rest, slash ? (size_t)(slash - rest) : strlen(rest));
    sf_buf_sets(&prefix, slash ? slash + 1 : "");
    if (!valid_bucket(src.ptr)) {
        rc = sf_error_set(&s->ctx->err, SF_ECONFIG, "s3.bucket: copy_from names an invalid bucket '%s'", src.ptr);
        goto out;
    }
    if ((rc = sf_guard_check(s->ctx->cfg, NULL, src.ptr, &s->ctx->err)) < 0)
        goto out;
    do {
        json_t *keys = json_array(), *v;
        size_t i;
        if (!keys) {
            rc = SF_ENOMEM;
            break;
        }
        rc = list_page(s, src.ptr, prefix.ptr, token.ptr, keys, &next);
        if (rc < 0) {
            json_decref(keys);
            if (rc == SF_ENOTFOUND)
                sf_error_prefix(&s->ctx->err, "copy_from");
            break;
        }
        json_array_foreach(keys, i, v)
        {
            const char *headers[] = {NULL, NULL};
            sf_buf_clear(&path);
            sf_buf_clear(&hdr);
            sf_buf_addc(&path, '/');
            sf_s3_uri_encode(&path, bucket, 0);
            sf_buf_addc(&path, '/');
            sf_s3_uri_encode(&path, json_string_value(v), 1);
            sf_buf_adds(&hdr, "x-amz-copy-source: /");
            sf_s3_uri_encode(&hdr, src.ptr, 0);
            sf_buf_addc(&hdr, '/');
            if (sf_s3_uri_encode(&hdr, json_string_value(v), 1) < 0) {
                rc = SF_ENOMEM;
                break;
            }
            headers[0] = hdr.ptr;
            if ((rc = s3_do(s, "PUT", path.ptr, headers, NULL)) < 0)
                break;
            /* CopyObject can fail with 200 and an <Error> body */
            if (s->resp.status / 100 != 2 || strstr(s->resp.body.ptr, "<Error>")) {
                rc = s3_status_error(s, "PUT", path.ptr);
                break;
            }
            copied++;
        }
        json_decref(keys);
        sf_buf_sets(&token, next.ptr);
    } while (rc == 0 && token.len > 0);
    if (rc == 0)
        sf_log(SF_LOG_INFO, "s3: copied %zu objects from %s into '%s'", copied, from, bucket);
out:
    sf_buf_free(&src);
    sf_buf_free(&prefix);
    sf_buf_free(&next);
    sf_buf_free(&token);
    sf_buf_free(&path);
    sf_buf_free(&hdr);
    return rc;
}

static int s3_set_outputs(s3 *s, const char *bucket)
{
    sf_buf url = SF_BUF_INIT;
    int rc = 0;
    sf_buf_addf(&url, "%s/%s", s->endpoint, bucket);
    if (sf_resource_output(s->ctx, "name", bucket, 0) < 0 || sf_resource_output(s->ctx, "endpoint", s->endpoint, 0) < 0 ||
        sf_resource_output(s->ctx, "url", url.ptr, 0) < 0 || sf_resource_output(s->ctx, "region", s->region, 0) < 0)
        rc = sf_error_set(&s->ctx->err, SF_ENOMEM, "out of memory");
    sf_buf_free(&url);
    return rc;
}

static int s3_create(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT;
    s3 s;
    const char *from = sf_resource_str(ctx, "copy_from");
    int ours, rc, adopted = 0, exists;
    if ((rc = s3_open(&s, ctx, &name)) < 0)
        goto out;
    ours = sf_spec_ours(ctx, name.ptr);
    rc = head_bucket(&s, name.ptr);
    exists = rc == 0;
    if (rc < 0 && rc != SF_ENOTFOUND)
        goto out;
    if (exists && !ours) {
        rc = sf_error_set(&ctx->err, SF_EEXIST,
                          "s3 bucket '%s' already exists and this environment did not create it", name.ptr);
        goto out;
    }
    if (!exists) {
        if ((rc = put_bucket(&s, name.ptr, &adopted)) < 0)
            goto out;
        if (adopted && !ours) {
            rc = sf_error_set(&ctx->err, SF_EEXIST,
                              "s3 bucket '%s' already exists and this environment did not create it", name.ptr);
            goto out;
        }
    } else {
        sf_log(SF_LOG_INFO, "s3: adopting bucket '%s'", name.ptr);
    }
    /* a completed earlier create recorded its url; only then is the copy known to be done */
    if (from && !(exists && sf_spec_prior(ctx, "url")) && (rc = copy_objects(&s, name.ptr, from)) < 0)
        goto out;
    rc = s3_set_outputs(&s, name.ptr);
out:
    s3_close(&s);
    sf_buf_free(&name);
    return rc;
}

static int s3_destroy(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT, path = SF_BUF_INIT;
    s3 s;
    size_t nobj = 0, nup = 0;
    char code[64];
    int rc;
    if ((rc = s3_open(&s, ctx, &name)) < 0)
        goto out;
    sf_buf_addc(&path, '/');
    sf_s3_uri_encode(&path, name.ptr, 0);
    if (!sf_spec_ours(ctx, name.ptr)) {
        /* never empty a bucket this env has no record of creating */
        rc = head_bucket(&s, name.ptr);
        if (rc == SF_ENOTFOUND)
            rc = 0;
        else if (rc == 0)
            rc = sf_error_set(&ctx->err, SF_EEXIST,
                              "s3 bucket '%s' was not recorded as created by this environment; not emptying it",
                              name.ptr);
        goto out;
    }
    for (int attempt = 1;; attempt++) {
        rc = abort_uploads(&s, name.ptr, &nup);
        if (rc == 0)
            rc = delete_objects(&s, name.ptr, &nobj);
        if (rc == SF_ENOTFOUND) {
            rc = 0;
            break;
        }
        if (rc < 0)
            break;
        if ((rc = s3_do(&s, "DELETE", path.ptr, NULL, NULL)) < 0)
            break;
        if (s.resp.status / 100 == 2)
            break;
        error_code(code, &s.resp.body);
        if (s.resp.status == 404) {
            rc = 0;
            break;
        }
        /* something wrote into the bucket meanwhile: empty it again */
        if (s.resp.status == 409 && strcmp(code, "BucketNotEmpty") == 0 && attempt < 5)
            continue;
        rc = s3_status_error(&s, "DELETE", path.ptr);
        break;
    }
    if (rc == 0)
        sf_log(SF_LOG_INFO, "s3: bucket '%s' removed (%zu objects, %zu unfinished uploads)", name.ptr, nobj, nup);
out:
    s3_close(&s);
    sf_buf_free(&name);
    sf_buf_free(&path);
    return rc;
}

static int s3_check(sf_resource_ctx *ctx)
{
    sf_buf name = SF_BUF_INIT;
    s3 s;
    int rc;
    if ((rc = s3_open(&s, ctx, &name)) == 0 && (rc = head_bucket(&s, name.ptr)) == SF_ENOTFOUND)
        rc = sf_error_set(&ctx->err, SF_ENOTFOUND, "s3 bucket '%s' does not exist", name.ptr);
    s3_close(&s);
    sf_buf_free(&name);
    return rc;
}

const sf_provider sf_provider_s3 = {
    .type = "s3.bucket",
    .name = s3_name,
    .validate = s3_validate,
    .create = s3_create,
    .destroy = s3_destroy,
    .check = s3_check,
    .outputs = s3_outputs,
};
