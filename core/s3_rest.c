/* S3 REST plumbing shared by the s3.bucket provider, the snapshot store and gc. */
#include <libxml/parser.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "s3_rest.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants one initialisation before threads use it (providers and store workers run in parallel). */
static void xml_init(void)
{
    xmlInitParser();
}

/* Percent-encode for S3 paths and queries; the contract is in s3_rest.h. */
int sf_s3_uri_encode(sf_buf *out, const char *s, int keep_slash)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if ((plain ? sf_buf_addc(out, (char)c) : sf_buf_addf(out, "%%%02X", c)) < 0)
            return SF_ENOMEM;
    }
    return 0;
}

/* One request to endpoint + path; the contract is in s3_rest.h. */
int sf_s3_do(sf_http *h, sf_http_response *resp, const char *endpoint, const char *method, const char *path,
             const char *const *headers, const void *body, size_t body_len, sf_error *err)
{
    sf_buf url = SF_BUF_INIT;
    sf_http_request req;
    int rc;
    memset(&req, 0, sizeof(req));
    if (sf_buf_addf(&url, "%s%s", endpoint, path) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    req.method = method;
    req.url = url.ptr;
    req.headers = headers;
    req.body = body;
    req.body_len = body_len;
    rc = sf_http_do(h, resp, &req, err);
    sf_buf_free(&url);
    return rc;
}

/* The status error of a request to endpoint + path; the contract is in s3_rest.h. */
int sf_s3_status_error(sf_error *err, const char *endpoint, const char *method, const char *path,
                       const sf_http_response *resp)
{
    sf_buf url = SF_BUF_INIT;
    sf_http_request req;
    int rc;
    memset(&req, 0, sizeof(req));
    sf_buf_addf(&url, "%s%s", endpoint, path);
    req.method = method;
    req.url = url.ptr;
    rc = sf_http_status_error(err, &req, resp);
    sf_buf_free(&url);
    return rc;
}

/* Parse a response body; the contract is in s3_rest.h. */
xmlDocPtr sf_s3_xml_parse(const sf_buf *body)
{
    pthread_once(&xml_once, xml_init);
    if (body->len == 0 || body->len > INT32_MAX)
        return NULL;
    return xmlReadMemory(body->ptr, (int)body->len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* First child element by name; the contract is in s3_rest.h. */
xmlNodePtr sf_s3_xml_child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

/* Text of a child element; the contract is in s3_rest.h. */
int sf_s3_xml_text(sf_buf *out, xmlNodePtr n, const char *name)
{
    xmlNodePtr c = sf_s3_xml_child(n, name);
    xmlChar *t;
    int rc;
    sf_buf_clear(out);
    if (!c)
        return SF_ENOTFOUND;
    t = xmlNodeGetContent(c);
    rc = sf_buf_sets(out, t ? (const char *)t : "") < 0 ? SF_ENOMEM : 0;
    xmlFree(t);
    return rc;
}
