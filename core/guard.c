/* guard.protected / guard.allow_hosts checks shared by all providers. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <string.h>
#include <strings.h>
#include "stagefork/buf.h"
#include "stagefork/guard.h"

static const char *match_any(const char **pats, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], s, FNM_CASEFOLD) == 0)
            return pats[i];
    return NULL;
}

int sf_guard_check(const sf_config *cfg, const char *host, const char *name, sf_error *err)
{
    const char **prot, **allow, *hit;
    size_t nprot, nallow;
    if (!cfg)
        return 0;
    nprot = sf_config_protected(cfg, &prot);
    nallow = sf_config_allow_hosts(cfg, &allow);
    if (host && *host) {
        if ((hit = match_any(prot, nprot, host)))
            return sf_error_set(err, SF_EGUARD, "refusing to touch host '%s': it matches guard.protected '%s'",
                                host, hit);
        if (nallow && !match_any(allow, nallow, host))
            return sf_error_set(err, SF_EGUARD, "refusing to call host '%s': it is not in guard.allow_hosts",
                                host);
    }
    if (name && *name && (hit = match_any(prot, nprot, name)))
        return sf_error_set(err, SF_EGUARD, "refusing to touch '%s': it matches guard.protected '%s'", name,
                            hit);
    return 0;
}

int sf_guard_host_of(sf_buf *out, const char *url)
{
    const char *p, *end;
    sf_buf_clear(out);
    p = strstr(url, "://");
    if (p) {
        const char *at, *slash;
        p += 3;
        slash = p + strcspn(p, "/?#");
        at = memchr(p, '@', (size_t)(slash - p));
        /* the last '@' before the path ends the userinfo */
        while (at) {
            const char *next = memchr(at + 1, '@', (size_t)(slash - at - 1));
            if (!next)
                break;
            at = next;
        }
        if (at)
            p = at + 1;
        if (*p == '[') {
            end = strchr(p, ']');
            if (!end)
                return SF_EUSAGE;
            p++;
        } else {
            end = p + strcspn(p, ":/?#,");
        }
    } else {
        /* libpq key=value DSN */
        p = strstr(url, "host=");
        while (p && p != url && p[-1] != ' ')
            p = strstr(p + 1, "host=");
        if (!p)
            return sf_buf_sets(out, "localhost");
        p += 5;
        if (*p == '\'')
            p++;
        end = p + strcspn(p, " ',");
    }
    if (sf_buf_add(out, p, (size_t)(end - p)) < 0)
        return SF_ENOMEM;
    for (size_t i = 0; i < out->len; i++)
        if (out->ptr[i] >= 'A' && out->ptr[i] <= 'Z')
            out->ptr[i] = (char)(out->ptr[i] - 'A' + 'a');
    if (out->len == 0)
        return sf_buf_sets(out, "localhost");
    return 0;
}
