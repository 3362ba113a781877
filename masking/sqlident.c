/* SQL identifier parsing and quoting, PostgreSQL's rules. */
#include <string.h>
#include "sqlident.h"

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int is_ident_cont(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

int sf_ident_next(sf_buf *out, const char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    sf_buf_clear(out);
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i >= len)
        return -1;
    if (s[i] == '"') {
        i++;
        for (;;) {
            const char *q;
            if (i >= len)
                return -1;
            q = memchr(s + i, '"', len - i);
            if (!q)
                return -1;
            if (sf_buf_add(out, s + i, (size_t)(q - (s + i))) < 0)
                return -1;
            i = (size_t)(q - s) + 1;
            if (i < len && s[i] == '"') {
                if (sf_buf_addc(out, '"') < 0)
                    return -1;
                i++;
                continue;
            }
            break;
        }
        if (out->len == 0)
            return -1; /* "" is not a valid identifier */
    } else if (is_ident_start((unsigned char)s[i])) {
        while (i < len && is_ident_cont((unsigned char)s[i])) {
            char c = s[i++];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (sf_buf_addc(out, c) < 0)
                return -1;
        }
    } else {
        return -1;
    }
    *pos = i;
    return 0;
}

int sf_ident_qualified(sf_buf *schema, sf_buf *name, const char *s, size_t len, const char *default_schema)
{
    size_t pos = 0;
    if (sf_ident_next(name, s, len, &pos) < 0)
        return -1;
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t'))
        pos++;
    if (pos < len && s[pos] == '.') {
        pos++;
        if (sf_buf_set(schema, name->ptr, name->len) < 0)
            return -1;
        if (sf_ident_next(name, s, len, &pos) < 0)
            return -1;
    } else if (sf_buf_sets(schema, default_schema) < 0) {
        return -1;
    }
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    return pos == len ? 0 : -1;
}

int sf_ident_quote(sf_buf *out, const char *name, size_t len)
{
    int need = len == 0 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
    for (size_t i = 0; i < len && !need; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            need = 1;
    }
    if (!need)
        return sf_buf_add(out, name, len);
    if (sf_buf_addc(out, '"') < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '"' && sf_buf_addc(out, '"') < 0)
            return -1;
        if (sf_buf_addc(out, name[i]) < 0)
            return -1;
    }
    return sf_buf_addc(out, '"');
}
