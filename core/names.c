/* Slugs and deterministic, length-bounded resource names. */
#include <string.h>
#include "stagefork/names.h"
#include "stagefork/util.h"

int sf_slug(sf_buf *out, const char *branch)
{
    size_t n = strlen(branch);
    int changed, pending_dash = 0;
    sf_buf_clear(out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)branch[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (pending_dash && out->len > 0 && sf_buf_addc(out, '-') < 0)
                return SF_ENOMEM;
            pending_dash = 0;
            if (sf_buf_addc(out, (char)c) < 0)
                return SF_ENOMEM;
        } else {
            pending_dash = 1;
        }
    }
    if (out->len == 0 && sf_buf_sets(out, "env") < 0)
        return SF_ENOMEM;
    /* changed beyond ASCII case folding? */
    changed = out->len != n;
    for (size_t i = 0; i < n && !changed; i++) {
        unsigned char c = (unsigned char)branch[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        changed = (unsigned char)out->ptr[i] != c;
    }
    if (changed || out->len > 40) {
        char hex[65];
        sf_buf_truncate(out, 40);
        sf_sha256_hex(hex, branch, n);
        if (sf_buf_addf(out, "-%.6s", hex) < 0)
            return SF_ENOMEM;
    }
    return 0;
}

int sf_slug_ident(sf_buf *out, const char *slug)
{
    if (sf_buf_sets(out, slug) < 0)
        return SF_ENOMEM;
    for (size_t i = 0; i < out->len; i++)
        if (out->ptr[i] == '-')
            out->ptr[i] = '_';
    return 0;
}

int sf_name_make(sf_buf *out, char sep, size_t max, const char *const *parts, size_t nparts)
{
    char hex[65];
    size_t keep;
    sf_buf_clear(out);
    for (size_t i = 0; i < nparts; i++) {
        if (i && sf_buf_addc(out, sep) < 0)
            return SF_ENOMEM;
        if (sf_buf_adds(out, parts[i]) < 0)
            return SF_ENOMEM;
    }
    if (out->len <= max)
        return 0;
    if (max < 10 + (nparts ? strlen(parts[0]) : 0))
        return SF_EUSAGE;
    sf_sha256_hex(hex, out->ptr, out->len);
    keep = max - 9;
    sf_buf_truncate(out, keep);
    while (out->len > 0 && out->ptr[out->len - 1] == sep)
        sf_buf_truncate(out, out->len - 1);
    return sf_buf_addf(out, "%c%.8s", sep, hex) < 0 ? SF_ENOMEM : 0;
}
