/* The process-wide log callback. The library never writes to stdout/stderr. */
#include <stdio.h>
#include "stagefork/error.h"

static sf_log_fn log_fn;
static void *log_ud;
static sf_log_level log_max = SF_LOG_WARN;

void sf_log_set(sf_log_fn fn, void *userdata, sf_log_level max_level)
{
    log_fn = fn;
    log_ud = userdata;
    log_max = max_level;
}

int sf_log_enabled(sf_log_level level)
{
    return log_fn && level <= log_max;
}

void sf_log(sf_log_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    if (!sf_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_ud);
}

const char *sf_version(void)
{
    return SF_VERSION;
}
