#ifndef SF_CORE_S3_REST_H
#define SF_CORE_S3_REST_H
/*
 * S3 REST plumbing (internal), shared by the s3.bucket provider, the S3
 * snapshot store and gc's bucket listing: path encoding, one request on an
 * endpoint, the status error, and libxml2 parsing of response bodies.
 * Signing (SigV4) is the sf_http handle's business, set up by the caller.
 */

#include <libxml/tree.h>
#include "stagefork/buf.h"
#include "stagefork/error.h"
#include "stagefork/http.h"

/*
 * Append s percent-encoded for an S3 path or query (RFC 3986 unreserved
 * characters kept, and '/' when keep_slash). SF_ENOMEM on growth failure.
 */
int sf_s3_uri_encode(sf_buf *out, const char *s, int keep_slash);

/*
 * One request to endpoint + path (path already encoded, endpoint without a
 * trailing '/'). 0 with the response in *resp whatever its status (judging
 * it is the caller's), or < 0 with err set by the HTTP layer.
 */
int sf_s3_do(sf_http *h, sf_http_response *resp, const char *endpoint, const char *method, const char *path,
             const char *const *headers, const void *body, size_t body_len, sf_error *err);

/* sf_http_status_error for a response to method endpoint + path: sets err, returns its code. */
int sf_s3_status_error(sf_error *err, const char *endpoint, const char *method, const char *path,
                       const sf_http_response *resp);

/*
 * Parse an XML response body without network access or diagnostics
 * (libxml2 is initialised once, thread-safely, on first use). NULL when
 * the body is empty, over 2 GiB or not XML; free with xmlFreeDoc.
 */
xmlDocPtr sf_s3_xml_parse(const sf_buf *body);

/* n's first child element called `name` (borrowed; NULL if none or n is NULL). */
xmlNodePtr sf_s3_xml_child(xmlNodePtr n, const char *name);

/*
 * Text of n's first child element `name` into out (cleared first; "" for
 * an empty element). SF_ENOTFOUND when there is no such child.
 */
int sf_s3_xml_text(sf_buf *out, xmlNodePtr n, const char *name);

#endif
