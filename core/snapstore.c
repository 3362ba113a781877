/*
 * Snapshot stores: a directory (`<dir>/<NAME>/<ID>.tar.zst`, written to a
 * temp file beside it, fsynced, then linked into place) or an S3 prefix
 * (`s3://bucket/prefix` → key `prefix/NAME/ID.tar.zst`, written by a
 * multipart upload of fixed-size parts held in memory, read back by ranged
 * GETs). Nothing ever holds a whole archive in memory or in a temp file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "s3_rest.h"
#include "snapstore.h"
#include "stagefork/buf.h"
#include "stagefork/guard.h"
#include "stagefork/http.h"
#include "stagefork/util.h"

#define S3_PART_DEFAULT ((size_t)16 << 20)
#define S3_PART_MIN ((size_t)64 << 10)
#define S3_READ_CHUNK ((size_t)8 << 20)
#define S3_FIRST_CHUNK ((size_t)256 << 10)

struct sf_snap_store {
    char *url;
    const sf_config *cfg;
    int is_s3;
    char *dir;      /* directory store */
    /* S3 store */
    char *endpoint; /* without trailing '/' */
    char *bucket;
    char *prefix;   /* "" or "a/b/" (with trailing '/') */
    char *region, *access_key, *secret_key, *token;
    size_t part_size;
};

/* ------------------------------------------------------------------ ids --- */

int sf_snap_id_valid(const char *id)
{
    static const char pat[] = "DDDDDDDDTDDDDDDZ";
    if (!id || strlen(id) != SF_SNAP_ID_LEN)
        return 0;
    for (size_t i = 0; i < SF_SNAP_ID_LEN; i++) {
        if (pat[i] == 'D' ? (id[i] < '0' || id[i] > '9') : id[i] != pat[i])
            return 0;
    }
    return 1;
}

/* The ID for unix time t (UTC, second precision). */
void sf_snap_id_format(char out[SF_SNAP_ID_LEN + 1], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, SF_SNAP_ID_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

/* Names become path segments and object keys: a safe, portable character set only. */
int sf_snapshot_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 100 || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* "<ID>.tar.zst" → ID (into id, 17 bytes); 0 if the file name is not an archive. */
static int archive_file_id(const char *file, char id[SF_SNAP_ID_LEN + 1])
{
    if (strlen(file) != SF_SNAP_ID_LEN + 8 || strcmp(file + SF_SNAP_ID_LEN, ".tar.zst") != 0)
        return 0;
    memcpy(id, file, SF_SNAP_ID_LEN);
    id[SF_SNAP_ID_LEN] = '\0';
    return sf_snap_id_valid(id);
}

static int entry_cmp(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
    return c ? c : strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

static int sort_entries(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return SF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), entry_cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
    return 0;
}

static int add_entry(json_t *arr, const char *name, const char *id, long long size)
{
    json_t *e = json_pack("{s:s, s:s, s:I}", "name", name, "id", id, "size", (json_int_t)size);
    return e && json_array_append_new(arr, e) == 0 ? 0 : SF_ENOMEM;
}

/* ------------------------------------------------------------------ open --- */

static char *cfg_str(const sf_config *cfg, const char *path, const char *env1, const char *env2)
{
    sf_buf b = SF_BUF_INIT;
    const char *e;
    if (cfg && sf_config_get(&b, cfg, path, NULL) == 0 && b.len > 0)
        return sf_buf_detach(&b, NULL);
    sf_buf_free(&b);
    if (env1 && (e = getenv(env1)) && *e)
        return strdup(e);
    if (env2 && (e = getenv(env2)) && *e)
        return strdup(e);
    return NULL;
}

static int open_s3(sf_snap_store *s, const char *rest, sf_error *err)
{
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
    sf_buf pre = SF_BUF_INIT, host = SF_BUF_INIT;
    const char *ps;
    int rc;
    if (blen < 3 || blen > 63)
        return sf_error_set(err, SF_EUSAGE, "snapshot store '%s': expected s3://bucket/prefix", s->url);
    if (!(s->bucket = strndup(rest, blen)))
        return SF_ENOMEM;
    for (ps = slash ? slash + 1 : ""; *ps; ps++) {
        if (*ps == '/' && (pre.len == 0 || pre.ptr[pre.len - 1] == '/'))
            continue; /* no empty path segments */
        sf_buf_addc(&pre, *ps);
    }
    if (pre.len > 0 && pre.ptr[pre.len - 1] != '/')
        sf_buf_addc(&pre, '/');
    s->prefix = sf_buf_detach(&pre, NULL);
    s->endpoint = cfg_str(s->cfg, "s3.endpoint", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    s->region = cfg_str(s->cfg, "s3.region", "AWS_REGION", "AWS_DEFAULT_REGION");
    if (!s->region && !(s->region = strdup("us-east-1")))
        return SF_ENOMEM;
    if (!s->endpoint) {
        sf_buf ep = SF_BUF_INIT;
        if (strcmp(s->region, "us-east-1") == 0)
            sf_buf_adds(&ep, "https://s3.amazonaws.com");
        else
            sf_buf_addf(&ep, "https://s3.%s.amazonaws.com", s->region);
        s->endpoint = sf_buf_detach(&ep, NULL);
    }
    for (size_t n = strlen(s->endpoint); n > 0 && s->endpoint[n - 1] == '/'; n--)
        s->endpoint[n - 1] = '\0';
    if (strncmp(s->endpoint, "http://", 7) != 0 && strncmp(s->endpoint, "https://", 8) != 0)
        return sf_error_set(err, SF_ECONFIG, "s3.endpoint must be an http(s) URL, got '%s'", s->endpoint);
    /* credentials: the config section names secrets by ${envvar...}; else the AWS variables */
    s->access_key = cfg_str(s->cfg, "s3.access_key", "AWS_ACCESS_KEY_ID", NULL);
    s->secret_key = cfg_str(s->cfg, "s3.secret_key", "AWS_SECRET_ACCESS_KEY", NULL);
    s->token = cfg_str(s->cfg, "s3.session_token", "AWS_SESSION_TOKEN", NULL);
    if (!s->access_key || !s->secret_key)
        return sf_error_set(err, SF_ECONFIG,
                            "snapshot store '%s': no S3 credentials: set s3.access_key and s3.secret_key in the "
                            "config, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                            s->url);
    s->part_size = S3_PART_DEFAULT;
    {
        const char *e = getenv("STAGEFORK_S3_PART_SIZE");
        int64_t v;
        if (e && *e) {
            if (sf_parse_i64(&v, e, (int64_t)S3_PART_MIN, (int64_t)5 << 30) < 0)
                return sf_error_set(err, SF_EUSAGE, "STAGEFORK_S3_PART_SIZE must be a byte count from %zu to 5 GiB",
                                    S3_PART_MIN);
            s->part_size = (size_t)v;
        }
    }
    if (sf_guard_host_of(&host, s->endpoint) < 0) {
        sf_buf_free(&host);
        return sf_error_set(err, SF_ECONFIG, "cannot find the host in '%s'", s->endpoint);
    }
    rc = sf_guard_check(s->cfg, host.ptr, NULL, err);
    sf_buf_free(&host);
    return rc;
}

/*
 * Parse the store URL and, for S3, read endpoint/region/credentials once (config first, then the AWS_*
 * variables). The store owns copies of every string; cfg stays borrowed.
 */
int sf_snap_store_open(sf_snap_store **out, const char *url, const sf_config *cfg, sf_error *err)
{
    sf_snap_store *s;
    int rc = 0;
    *out = NULL;
    if (!url || !*url)
        return sf_error_set(err, SF_EUSAGE,
                            "no snapshot store: pass --store URL or set snapshots.store in the config");
    if (!(s = calloc(1, sizeof(*s))) || !(s->url = strdup(url))) {
        free(s);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    if (strncmp(url, "s3://", 5) == 0) {
        s->is_s3 = 1;
        rc = open_s3(s, url + 5, err);
    } else if (strstr(url, "://") && strncmp(url, "file://", 7) != 0) {
        rc = sf_error_set(err, SF_EUSAGE, "snapshot store '%s': expected a directory or s3://bucket/prefix", url);
    } else {
        const char *d = strncmp(url, "file://", 7) == 0 ? url + 7 : url;
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
            n--;
        if (!(s->dir = strndup(d, n)))
            rc = SF_ENOMEM;
    }
    if (rc == SF_ENOMEM)
        sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc < 0) {
        sf_snap_store_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* NULL is a no-op; the secret key is wiped before it is freed. */
void sf_snap_store_free(sf_snap_store *s)
{
    if (!s)
        return;
    free(s->url);
    free(s->dir);
    free(s->endpoint);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    if (s->secret_key)
        memset(s->secret_key, 0, strlen(s->secret_key));
    free(s->access_key);
    free(s->secret_key);
    free(s->token);
    free(s);
}

/* Borrowed; the URL as given (for messages). */
const char *sf_snap_store_url(const sf_snap_store *s)
{
    return s->url;
}

/* Borrowed; may be NULL. */
const sf_config *sf_store_config(const sf_snap_store *s)
{
    return s->cfg;
}

/* ------------------------------------------------------------ directory --- */

static int dir_path(sf_buf *out, const sf_snap_store *s, const char *name, const char *id)
{
    sf_buf_clear(out);
    if (id)
        return sf_buf_addf(out, "%s/%s/%s.tar.zst", s->dir, name, id) < 0 ? SF_ENOMEM : 0;
    return sf_buf_addf(out, "%s/%s", s->dir, name) < 0 ? SF_ENOMEM : 0;
}

static int dir_list_name(json_t *arr, const sf_snap_store *s, const char *name, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    DIR *d;
    struct dirent *de;
    int rc = 0;
    if (dir_path(&path, s, name, NULL) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (!(d = opendir(path.ptr))) {
        rc = errno == ENOENT ? 0 : sf_error_set(err, SF_EIO, "cannot open '%s': %s", path.ptr, strerror(errno));
        sf_buf_free(&path);
        return rc;
    }
    while ((de = readdir(d))) {
        char id[SF_SNAP_ID_LEN + 1];
        struct stat stt;
        sf_buf f = SF_BUF_INIT;
        if (!archive_file_id(de->d_name, id))
            continue;
        sf_buf_addf(&f, "%s/%s", path.ptr, de->d_name);
        if (stat(f.ptr, &stt) == 0 && S_ISREG(stt.st_mode))
            rc = add_entry(arr, name, id, (long long)stt.st_size);
        sf_buf_free(&f);
        if (rc < 0) {
            sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    sf_buf_free(&path);
    return rc;
}

static int dir_list(json_t *arr, const sf_snap_store *s, const char *name, sf_error *err)
{
    DIR *d;
    struct dirent *de;
    int rc = 0;
    if (name)
        return dir_list_name(arr, s, name, err);
    if (!(d = opendir(s->dir)))
        return errno == ENOENT ? 0 : sf_error_set(err, SF_EIO, "cannot open '%s': %s", s->dir, strerror(errno));
    while ((de = readdir(d)) && rc == 0)
        if (sf_snapshot_name_valid(de->d_name))
            rc = dir_list_name(arr, s, de->d_name, err);
    closedir(d);
    return rc;
}

static int mkdir_p(const char *path, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc = 0;
    if (sf_buf_sets(&b, path) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 1; i <= b.len && rc == 0; i++) {
        if (b.ptr[i] != '/' && b.ptr[i] != '\0')
            continue;
        char c = b.ptr[i];
        b.ptr[i] = '\0';
        if (mkdir(b.ptr, 0700) != 0 && errno != EEXIST)
            rc = sf_error_set(err, SF_EIO, "cannot create directory '%s': %s", b.ptr, strerror(errno));
        b.ptr[i] = c;
    }
    sf_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------- S3 --- */

/* A connection to the S3 endpoint, signing with the store's credentials. */
static int s3_http(sf_http **out, const sf_snap_store *s, sf_error *err)
{
    sf_http_opts o;
    int rc;
    memset(&o, 0, sizeof(o));
    o.cfg = s->cfg;
    o.timeout = 300;
    o.max_elapsed = 600;
    if ((rc = sf_http_new(out, &o, err)) < 0)
        return rc;
    if (sf_http_aws_sigv4(*out, s->region, "s3", s->access_key, s->secret_key, s->token) < 0) {
        sf_http_free(*out);
        *out = NULL;
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

/* "/bucket/prefix/NAME/ID.tar.zst" (encoded) into path. */
static int s3_key_path(sf_buf *path, const sf_snap_store *s, const char *name, const char *id)
{
    sf_buf key = SF_BUF_INIT;
    int rc;
    sf_buf_clear(path);
    sf_buf_addf(&key, "%s%s/%s.tar.zst", s->prefix, name, id);
    sf_buf_addc(path, '/');
    sf_s3_uri_encode(path, s->bucket, 0);
    sf_buf_addc(path, '/');
    rc = sf_s3_uri_encode(path, key.ptr, 1);
    sf_buf_free(&key);
    return rc;
}

/* Parse "prefix/NAME/ID.tar.zst" keys of one ListObjectsV2 page into arr. */
static int s3_list(json_t *arr, const sf_snap_store *s, const char *name, sf_error *err)
{
    sf_http *h = NULL;
    sf_http_response resp;
    sf_buf path = SF_BUF_INIT, token = SF_BUF_INIT, lp = SF_BUF_INIT, k = SF_BUF_INIT, sz = SF_BUF_INIT;
    int rc;
    sf_http_response_init(&resp);
    if ((rc = s3_http(&h, s, err)) < 0)
        return rc;
    if (name)
        sf_buf_addf(&lp, "%s%s/", s->prefix, name);
    else
        sf_buf_adds(&lp, s->prefix);
    for (;;) {
        xmlDocPtr d;
        xmlNodePtr root, c;
        sf_buf_clear(&path);
        sf_buf_addc(&path, '/');
        sf_s3_uri_encode(&path, s->bucket, 0);
        sf_buf_adds(&path, "?");
        if (token.len) {
            sf_buf_adds(&path, "continuation-token=");
            sf_s3_uri_encode(&path, token.ptr, 0);
            sf_buf_adds(&path, "&");
        }
        sf_buf_adds(&path, "list-type=2&max-keys=1000");
        if (lp.len) {
            sf_buf_adds(&path, "&prefix=");
            sf_s3_uri_encode(&path, lp.ptr, 0);
        }
        if ((rc = sf_s3_do(h, &resp, s->endpoint, "GET", path.ptr, NULL, NULL, 0, err)) < 0)
            break;
        if (resp.status == 404) {
            rc = sf_error_set(err, SF_ENOTFOUND, "snapshot store '%s': bucket '%s' does not exist", s->url,
                              s->bucket);
            break;
        }
        if (resp.status / 100 != 2) {
            rc = sf_s3_status_error(err, s->endpoint, "GET", path.ptr, &resp);
            break;
        }
        d = sf_s3_xml_parse(&resp.body);
        root = d ? xmlDocGetRootElement(d) : NULL;
        if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
            xmlFreeDoc(d);
            rc = sf_error_set(err, SF_EFORMAT, "snapshot store '%s': unexpected ListObjectsV2 response", s->url);
            break;
        }
        for (c = sf_s3_xml_child(root, "Contents"); c && rc == 0; c = c->next) {
            const char *rel, *sl;
            char nm[128], id[SF_SNAP_ID_LEN + 1];
            int64_t size = 0;
            if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Contents") != 0)
                continue;
            if (sf_s3_xml_text(&k, c, "Key") < 0 || strncmp(k.ptr, s->prefix, strlen(s->prefix)) != 0)
                continue;
            rel = k.ptr + strlen(s->prefix);
            if (!(sl = strchr(rel, '/')) || (size_t)(sl - rel) >= sizeof(nm))
                continue;
            memcpy(nm, rel, (size_t)(sl - rel));
            nm[sl - rel] = '\0';
            if (!sf_snapshot_name_valid(nm) || !archive_file_id(sl + 1, id) || (name && strcmp(nm, name) != 0))
                continue;
            if (sf_s3_xml_text(&sz, c, "Size") == 0)
                sf_parse_i64(&size, sz.ptr, 0, INT64_MAX);
            if (add_entry(arr, nm, id, (long long)size) < 0)
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        sf_buf_clear(&token);
        if (rc == 0 && sf_s3_xml_text(&k, root, "IsTruncated") == 0 && strcmp(k.ptr, "true") == 0 &&
            sf_s3_xml_text(&k, root, "NextContinuationToken") == 0 && k.len > 0)
            sf_buf_sets(&token, k.ptr);
        xmlFreeDoc(d);
        if (rc < 0 || token.len == 0)
            break;
    }
    sf_http_response_free(&resp);
    sf_http_free(h);
    sf_buf_free(&path);
    sf_buf_free(&token);
    sf_buf_free(&lp);
    sf_buf_free(&k);
    sf_buf_free(&sz);
    return rc;
}

/* --------------------------------------------------------------- public --- */

int sf_store_list(json_t **out, sf_snap_store *s, const char *name, sf_error *err)
{
    json_t *arr = json_array();
    int rc;
    *out = NULL;
    if (!arr)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (name && !sf_snapshot_name_valid(name)) {
        json_decref(arr);
        return sf_error_set(err, SF_EUSAGE, "'%s' is not a valid snapshot name ([A-Za-z0-9._-], up to 100 bytes)",
                            name);
    }
    rc = s->is_s3 ? s3_list(arr, s, name, err) : dir_list(arr, s, name, err);
    if (rc == 0 && sort_entries(arr) < 0)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* Existence by listing, so it works the same on both kinds of store. */
int sf_store_exists(sf_snap_store *s, const char *name, const char *id, sf_error *err)
{
    json_t *arr, *e;
    size_t i;
    int rc = sf_store_list(&arr, s, name, err);
    if (rc < 0)
        return rc;
    rc = SF_ENOTFOUND;
    json_array_foreach(arr, i, e) if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) rc = 0;
    json_decref(arr);
    return rc;
}

/* Deleting what is already gone is success (prune may race another prune). */
int sf_store_delete(sf_snap_store *s, const char *name, const char *id, sf_error *err)
{
    sf_buf path = SF_BUF_INIT;
    int rc = 0;
    if (!s->is_s3) {
        if (dir_path(&path, s, name, id) < 0)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        if (unlink(path.ptr) != 0 && errno != ENOENT)
            rc = sf_error_set(err, SF_EIO, "cannot remove '%s': %s", path.ptr, strerror(errno));
    } else {
        sf_http *h = NULL;
        sf_http_response resp;
        sf_http_response_init(&resp);
        if ((rc = s3_http(&h, s, err)) == 0 && (rc = s3_key_path(&path, s, name, id)) == 0 &&
            (rc = sf_s3_do(h, &resp, s->endpoint, "DELETE", path.ptr, NULL, NULL, 0, err)) == 0 &&
            resp.status / 100 != 2 && resp.status != 404)
            rc = sf_s3_status_error(err, s->endpoint, "DELETE", path.ptr, &resp);
        sf_http_response_free(&resp);
        sf_http_free(h);
    }
    sf_buf_free(&path);
    return rc;
}

/* --------------------------------------------------------------- writer --- */

struct sf_store_writer {
    sf_snap_store *s;
    sf_error err;
    char *name, *id;
    /* directory */
    int fd;
    char *tmp, *final;
    /* S3 */
    sf_http *http;
    sf_http_response resp;
    sf_buf part;      /* bytes of the part being filled */
    sf_buf etags;     /* CompleteMultipartUpload body parts */
    char *upload_id;  /* NULL until the first full part is sent */
    int nparts;
    sf_buf path;      /* encoded object path */
};

static void writer_free(sf_store_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->tmp);
    free(w->final);
    free(w->name);
    free(w->id);
    sf_http_free(w->http);
    sf_http_response_free(&w->resp);
    sf_buf_free(&w->part);
    sf_buf_free(&w->etags);
    free(w->upload_id);
    sf_buf_free(&w->path);
    free(w);
}

/* Refuses an existing NAME/ID (SF_EEXIST): archives are immutable once written. */
int sf_store_writer_open(sf_store_writer **out, sf_snap_store *s, const char *name, const char *id, sf_error *err)
{
    sf_store_writer *w = calloc(1, sizeof(*w));
    int rc;
    *out = NULL;
    if (!w)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    w->fd = -1;
    w->s = s;
    sf_http_response_init(&w->resp);
    if (!(w->name = strdup(name)) || !(w->id = strdup(id))) {
        writer_free(w);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    if ((rc = sf_store_exists(s, name, id, err)) != SF_ENOTFOUND) {
        writer_free(w);
        return rc < 0 ? rc : sf_error_set(err, SF_EEXIST, "snapshot %s@%s already exists in '%s'", name, id, s->url);
    }
    if (!s->is_s3) {
        sf_buf dir = SF_BUF_INIT, tmp = SF_BUF_INIT, fin = SF_BUF_INIT;
        if (dir_path(&dir, s, name, NULL) < 0 || dir_path(&fin, s, name, id) < 0 ||
            sf_buf_addf(&tmp, "%s/.%s.tar.zst.XXXXXX", dir.ptr, id) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        } else if ((rc = mkdir_p(dir.ptr, err)) == 0) {
            int fd = mkostemp(tmp.ptr, O_CLOEXEC);
            if (fd < 0)
                rc = sf_error_set(err, SF_EIO, "cannot create '%s': %s", tmp.ptr, strerror(errno));
            w->fd = fd;
        }
        sf_buf_free(&dir);
        w->tmp = sf_buf_detach(&tmp, NULL);
        w->final = sf_buf_detach(&fin, NULL);
        if (rc < 0) {
            if (w->fd >= 0)
                unlink(w->tmp);
            writer_free(w);
            return rc;
        }
    } else {
        sf_buf_init(&w->part, 0);
        if ((rc = s3_http(&w->http, s, err)) < 0 || (rc = s3_key_path(&w->path, s, name, id)) < 0 ||
            sf_buf_grow(&w->part, s->part_size) < 0) {
            if (rc == 0 || rc == SF_ENOMEM)
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            writer_free(w);
            return rc;
        }
    }
    *out = w;
    return 0;
}

static int s3_begin_upload(sf_store_writer *w)
{
    sf_buf path = SF_BUF_INIT, id = SF_BUF_INIT;
    xmlDocPtr d = NULL;
    xmlNodePtr root;
    int rc;
    sf_buf_addf(&path, "%s?uploads=", w->path.ptr);
    if ((rc = sf_s3_do(w->http, &w->resp, w->s->endpoint, "POST", path.ptr, NULL, NULL, 0, &w->err)) < 0)
        goto out;
    if (w->resp.status / 100 != 2) {
        rc = sf_s3_status_error(&w->err, w->s->endpoint, "POST", path.ptr, &w->resp);
        goto out;
    }
    d = sf_s3_xml_parse(&w->resp.body);
    root = d ? xmlDocGetRootElement(d) : NULL;
    if (!root || sf_s3_xml_text(&id, root, "UploadId") < 0 || id.len == 0) {
        rc = sf_error_set(&w->err, SF_EFORMAT, "snapshot store '%s': no UploadId in the CreateMultipartUpload answer",
                          w->s->url);
        goto out;
    }
    w->upload_id = sf_buf_detach(&id, NULL);
    sf_buf_adds(&w->etags, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
out:
    xmlFreeDoc(d);
    sf_buf_free(&path);
    sf_buf_free(&id);
    return rc;
}

static int s3_send_part(sf_store_writer *w)
{
    sf_buf path = SF_BUF_INIT, etag = SF_BUF_INIT, qid = SF_BUF_INIT;
    int rc;
    if (!w->upload_id && (rc = s3_begin_upload(w)) < 0)
        return rc;
    w->nparts++;
    sf_s3_uri_encode(&qid, w->upload_id, 0);
    sf_buf_addf(&path, "%s?partNumber=%d&uploadId=%s", w->path.ptr, w->nparts, qid.ptr);
    rc = sf_s3_do(w->http, &w->resp, w->s->endpoint, "PUT", path.ptr, NULL, w->part.ptr, w->part.len, &w->err);
    if (rc == 0 && w->resp.status / 100 != 2)
        rc = sf_s3_status_error(&w->err, w->s->endpoint, "PUT", path.ptr, &w->resp);
    if (rc == 0 && (sf_http_response_header(&etag, &w->resp, "ETag") < 0 || etag.len == 0))
        rc = sf_error_set(&w->err, SF_EFORMAT, "snapshot store '%s': UploadPart answered without an ETag",
                          w->s->url);
    if (rc == 0) {
        sf_buf_addf(&w->etags, "<Part><PartNumber>%d</PartNumber><ETag>", w->nparts);
        for (size_t i = 0; i < etag.len; i++) {
            if (etag.ptr[i] == '"')
                sf_buf_adds(&w->etags, "&quot;");
            else if (etag.ptr[i] == '&')
                sf_buf_adds(&w->etags, "&amp;");
            else if (etag.ptr[i] == '<')
                sf_buf_adds(&w->etags, "&lt;");
            else
                sf_buf_addc(&w->etags, etag.ptr[i]);
        }
        if (sf_buf_adds(&w->etags, "</ETag></Part>") < 0)
            rc = sf_error_set(&w->err, SF_ENOMEM, "out of memory");
        sf_buf_clear(&w->part);
    }
    sf_buf_free(&path);
    sf_buf_free(&etag);
    sf_buf_free(&qid);
    return rc;
}

/*
 * Directory: straight to the temp file. S3: fills the current part and uploads it when full, so memory stays
 * at one part.
 */
int sf_store_write(sf_store_writer *w, const void *data, size_t len)
{
    const char *p = data;
    if (!w->s->is_s3) {
        while (len > 0) {
            ssize_t n = write(w->fd, p, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return sf_error_set(&w->err, SF_EIO, "cannot write '%s': %s", w->tmp, strerror(errno));
            p += n;
            len -= (size_t)n;
        }
        return 0;
    }
    while (len > 0) {
        size_t room = w->s->part_size - w->part.len, n = len < room ? len : room;
        int rc;
        if (sf_buf_add(&w->part, p, n) < 0)
            return sf_error_set(&w->err, SF_ENOMEM, "out of memory");
        p += n;
        len -= n;
        if (w->part.len == w->s->part_size && (rc = s3_send_part(w)) < 0)
            return rc;
    }
    return 0;
}

/* Borrowed; set by a failed sf_store_write. */
const sf_error *sf_store_writer_error(const sf_store_writer *w)
{
    return &w->err;
}

static int fsync_dir_of(const char *path)
{
    const char *sl = strrchr(path, '/');
    char *dir = sl ? strndup(path, (size_t)(sl - path)) : strdup(".");
    int fd, rc = 0;
    if (!dir)
        return -1;
    if ((fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    free(dir);
    return rc;
}

/*
 * The only point where an archive becomes visible: link() of the fsynced temp file (never replacing one), or
 * CompleteMultipartUpload (a single PUT when the archive fits one part). Frees w either way.
 */
int sf_store_writer_commit(sf_store_writer *w, sf_error *err)
{
    int rc = 0;
    if (!w->s->is_s3) {
        if (fsync(w->fd) != 0 || close(w->fd) != 0) {
            rc = sf_error_set(err, SF_EIO, "cannot write '%s': %s", w->tmp, strerror(errno));
            w->fd = -1;
        } else {
            w->fd = -1;
            /* link() never replaces an existing archive, unlike rename() */
            if (link(w->tmp, w->final) != 0)
                rc = sf_error_set(err, errno == EEXIST ? SF_EEXIST : SF_EIO, "cannot create '%s': %s", w->final,
                                  strerror(errno));
            else
                fsync_dir_of(w->final);
        }
        unlink(w->tmp);
        writer_free(w);
        return rc;
    }
    if (!w->upload_id) {
        /* small archive: one PUT */
        rc = sf_s3_do(w->http, &w->resp, w->s->endpoint, "PUT", w->path.ptr, NULL, w->part.ptr, w->part.len, &w->err);
        if (rc == 0 && w->resp.status / 100 != 2)
            rc = sf_s3_status_error(&w->err, w->s->endpoint, "PUT", w->path.ptr, &w->resp);
    } else {
        sf_buf path = SF_BUF_INIT, qid = SF_BUF_INIT;
        if (w->part.len > 0)
            rc = s3_send_part(w);
        if (rc == 0) {
            sf_buf_adds(&w->etags, "</CompleteMultipartUpload>");
            sf_s3_uri_encode(&qid, w->upload_id, 0);
            sf_buf_addf(&path, "%s?uploadId=%s", w->path.ptr, qid.ptr);
            rc = sf_s3_do(w->http, &w->resp, w->s->endpoint, "POST", path.ptr, NULL, w->etags.ptr, w->etags.len,
                          &w->err);
            /* S3 may answer 200 with an <Error> body */
            if (rc == 0 && (w->resp.status / 100 != 2 || (w->resp.body.len && strstr(w->resp.body.ptr, "<Error>"))))
                rc = sf_s3_status_error(&w->err, w->s->endpoint, "POST", path.ptr, &w->resp);
        }
        sf_buf_free(&path);
        sf_buf_free(&qid);
        if (rc < 0) {
            sf_error saved = w->err;
            sf_store_writer_abort(w);
            sf_error_copy(err, &saved);
            return rc;
        }
    }
    if (rc < 0)
        sf_error_copy(err, &w->err);
    writer_free(w);
    return rc;
}

/* Removes the temp file or aborts the multipart upload; NULL is a no-op. */
void sf_store_writer_abort(sf_store_writer *w)
{
    if (!w)
        return;
    if (!w->s->is_s3) {
        if (w->fd >= 0) {
            close(w->fd);
            w->fd = -1;
        }
        if (w->tmp)
            unlink(w->tmp);
    } else if (w->upload_id) {
        sf_buf path = SF_BUF_INIT, qid = SF_BUF_INIT;
        sf_error e;
        sf_s3_uri_encode(&qid, w->upload_id, 0);
        sf_buf_addf(&path, "%s?uploadId=%s", w->path.ptr, qid.ptr);
        if (sf_s3_do(w->http, &w->resp, w->s->endpoint, "DELETE", path.ptr, NULL, NULL, 0, &e) < 0 ||
            w->resp.status / 100 != 2)
            sf_log(SF_LOG_WARN, "snapshot store '%s': could not abort the multipart upload of %s@%s", w->s->url,
                   w->name, w->id);
        sf_buf_free(&path);
        sf_buf_free(&qid);
    }
    writer_free(w);
}

/* --------------------------------------------------------------- reader --- */

struct sf_store_reader {
    sf_snap_store *s;
    sf_error err;
    int fd;
    sf_buf path;
    long long size, off;
    sf_http *http;
    sf_http_response resp;
    size_t pos;   /* consumed bytes of resp.body */
    int have;     /* resp.body holds a chunk */
};

/*
 * A reader with its own file descriptor or HTTP connection (readers run on several threads at once); the size
 * is known from fstat or HEAD.
 */
int sf_store_reader_open(sf_store_reader **out, sf_snap_store *s, const char *name, const char *id, sf_error *err)
{
    sf_store_reader *r = calloc(1, sizeof(*r));
    int rc = 0;
    *out = NULL;
    if (!r)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    r->s = s;
    r->fd = -1;
    sf_http_response_init(&r->resp);
    if (!s->is_s3) {
        struct stat stt;
        if (dir_path(&r->path, s, name, id) < 0) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        } else if ((r->fd = open(r->path.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
            rc = sf_error_set(err, errno == ENOENT ? SF_ENOTFOUND : SF_EIO, "cannot open '%s': %s", r->path.ptr,
                              strerror(errno));
        } else if (fstat(r->fd, &stt) != 0) {
            rc = sf_error_set(err, SF_EIO, "cannot stat '%s': %s", r->path.ptr, strerror(errno));
        } else {
            r->size = (long long)stt.st_size;
        }
    } else if ((rc = s3_http(&r->http, s, err)) == 0 && (rc = s3_key_path(&r->path, s, name, id)) == 0) {
        sf_http_response head;
        sf_buf len = SF_BUF_INIT;
        int64_t v = 0;
        sf_http_response_init(&head);
        rc = sf_s3_do(r->http, &head, s->endpoint, "HEAD", r->path.ptr, NULL, NULL, 0, err);
        if (rc == 0 && head.status == 404)
            rc = sf_error_set(err, SF_ENOTFOUND, "snapshot %s@%s is not in '%s'", name, id, s->url);
        else if (rc == 0 && head.status / 100 != 2)
            rc = sf_s3_status_error(err, s->endpoint, "HEAD", r->path.ptr, &head);
        else if (rc == 0 && (sf_http_response_header(&len, &head, "Content-Length") < 0 ||
                             sf_parse_i64(&v, len.ptr, 0, INT64_MAX) < 0))
            rc = sf_error_set(err, SF_EFORMAT, "snapshot store '%s': HEAD without a Content-Length", s->url);
        r->size = (long long)v;
        sf_buf_free(&len);
        sf_http_response_free(&head);
    }
    if (rc < 0) {
        sf_store_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int s3_fetch(sf_store_reader *r)
{
    char range[96];
    const char *hdrs[] = {range, NULL};
    /* a small first read: `list` only needs the manifest at the start */
    long long end = r->off + (long long)(r->off == 0 ? S3_FIRST_CHUNK : S3_READ_CHUNK) - 1;
    int rc;
    if (end >= r->size)
        end = r->size - 1;
    snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", r->off, end);
    rc = sf_s3_do(r->http, &r->resp, r->s->endpoint, "GET", r->path.ptr, hdrs, NULL, 0, &r->err);
    if (rc < 0)
        return rc;
    if (r->resp.status != 206 && !(r->resp.status == 200 && r->off == 0 && (long long)r->resp.body.len == r->size))
        return sf_s3_status_error(&r->err, r->s->endpoint, "GET", r->path.ptr, &r->resp);
    if ((long long)r->resp.body.len != end - r->off + 1)
        return sf_error_set(&r->err, SF_EHTTP, "snapshot store '%s': short ranged read (%zu of %lld bytes)",
                            r->s->url, r->resp.body.len, end - r->off + 1);
    r->pos = 0;
    r->have = 1;
    return 0;
}

/* S3: sequential ranged GETs, one chunk in memory at a time. */
ssize_t sf_store_read(sf_store_reader *r, void *buf, size_t len)
{
    if (!r->s->is_s3) {
        for (;;) {
            ssize_t n = read(r->fd, buf, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return sf_error_set(&r->err, SF_EIO, "cannot read '%s': %s", r->path.ptr, strerror(errno));
            return n;
        }
    }
    if (!r->have || r->pos == r->resp.body.len) {
        int rc;
        if (r->off >= r->size)
            return 0;
        if ((rc = s3_fetch(r)) < 0)
            return rc;
    }
    {
        size_t n = r->resp.body.len - r->pos;
        if (n > len)
            n = len;
        memcpy(buf, r->resp.body.ptr + r->pos, n);
        r->pos += n;
        r->off += (long long)n;
        return (ssize_t)n;
    }
}

/* Borrowed; set by a failed sf_store_read. */
const sf_error *sf_store_reader_error(const sf_store_reader *r)
{
    return &r->err;
}

/* The archive size in bytes, as seen when the reader was opened. */
long long sf_store_reader_size(const sf_store_reader *r)
{
    return r->size;
}

/* NULL is a no-op. */
void sf_store_reader_close(sf_store_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    sf_buf_free(&r->path);
    sf_http_free(r->http);
    sf_http_response_free(&r->resp);
    free(r);
}
