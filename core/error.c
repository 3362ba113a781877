/* Error struct helpers, code descriptions and the exit-code mapping. */
#include <stdio.h>
#include <string.h>
#include "stagefork/error.h"

int sf_error_setv(sf_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return code;
}

int sf_error_set(sf_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sf_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int sf_error_prefix(sf_error *err, const char *fmt, ...)
{
    char head[SF_ERROR_MSG_MAX], old[SF_ERROR_MSG_MAX];
    va_list ap;
    if (!err)
        return SF_EINTERNAL;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    {
        size_t hl = strlen(head);
        if (hl > sizeof(err->msg) - 3)
            hl = sizeof(err->msg) - 3;
        memcpy(err->msg, head, hl);
        memcpy(err->msg + hl, ": ", 2);
        size_t ol = strnlen(old, sizeof(old) - 1);
        if (ol > sizeof(err->msg) - hl - 3)
            ol = sizeof(err->msg) - hl - 3;
        memcpy(err->msg + hl + 2, old, ol);
        err->msg[hl + 2 + ol] = '\0';
    }
    return err->code;
}

void sf_error_clear(sf_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int sf_error_copy(sf_error *dst, const sf_error *src)
{
    if (dst && src && dst != src)
        memcpy(dst, src, sizeof(*dst));
    return src ? src->code : SF_EINTERNAL;
}

const char *sf_strerror(int code)
{
    switch (code) {
    case SF_OK: return "success";
    case SF_ENOMEM: return "out of memory or size limit reached";
    case SF_EIO: return "input/output error";
    case SF_EUSAGE: return "invalid usage";
    case SF_ECONFIG: return "invalid configuration";
    case SF_EPOLICY: return "masking policy violation";
    case SF_ELOCK: return "lock busy";
    case SF_EINCOMPLETE: return "teardown incomplete";
    case SF_EGUARD: return "refused by a guardrail";
    case SF_ENOTFOUND: return "not found";
    case SF_EDB: return "database error";
    case SF_EHTTP: return "HTTP error";
    case SF_EFORMAT: return "malformed input";
    case SF_ECRYPTO: return "cryptographic failure";
    case SF_EEXIST: return "already exists";
    case SF_ECONFLICT: return "conflict";
    case SF_ETIMEOUT: return "timed out";
    case SF_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int sf_exit_code(int code)
{
    switch (code) {
    case SF_OK: return SF_EXIT_OK;
    case SF_EUSAGE:
    case SF_ECONFIG:
    case SF_ECONFLICT: return SF_EXIT_USAGE;
    case SF_EPOLICY: return SF_EXIT_POLICY;
    case SF_ELOCK: return SF_EXIT_LOCK;
    case SF_EINCOMPLETE: return SF_EXIT_INCOMPLETE;
    case SF_EGUARD: return SF_EXIT_GUARD;
    default: return SF_EXIT_RUNTIME;
    }
}
