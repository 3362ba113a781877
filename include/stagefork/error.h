#ifndef STAGEFORK_ERROR_H
#define STAGEFORK_ERROR_H
/* Error codes, the error struct every handle carries, and the log callback. */

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define SF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SF_PRINTF(f, a)
#endif

/* Every library function returns 0 or one of these (negative). */
enum {
    SF_OK = 0,
    SF_ENOMEM = -1,     /* allocation failed or a size cap was hit */
    SF_EIO = -2,        /* file, socket or child-process I/O */
    SF_EUSAGE = -3,     /* bad argument from the caller or the command line */
    SF_ECONFIG = -4,    /* invalid config, template, policy or spec (file:line:col) */
    SF_EPOLICY = -5,    /* masking policy violation or leak detected */
    SF_ELOCK = -6,      /* lock busy past the timeout */
    SF_EINCOMPLETE = -7,/* teardown incomplete; state kept, safe to retry */
    SF_EGUARD = -8,     /* refused by a guardrail (max_envs, max_ttl, protected) */
    SF_ENOTFOUND = -9,  /* named object does not exist */
    SF_EDB = -10,       /* PostgreSQL reported an error */
    SF_EHTTP = -11,     /* HTTP transport or unexpected status */
    SF_EFORMAT = -12,   /* malformed input data (dump, archive, JSON state) */
    SF_ECRYPTO = -13,   /* OpenSSL failure or bad key material */
    SF_EEXIST = -14,    /* object exists and is not ours to adopt */
    SF_ECONFLICT = -15, /* e.g. two branches mapping to one slug */
    SF_ETIMEOUT = -16,  /* operation timed out */
    SF_EINTERNAL = -17  /* a bug: an invariant did not hold */
};

/* Exit codes of the CLI (SPEC §2). */
enum {
    SF_EXIT_OK = 0,
    SF_EXIT_RUNTIME = 1,
    SF_EXIT_USAGE = 2,
    SF_EXIT_POLICY = 3,
    SF_EXIT_LOCK = 4,
    SF_EXIT_INCOMPLETE = 5,
    SF_EXIT_GUARD = 6
};

#define SF_ERROR_MSG_MAX 1024

/*
 * The last error of a handle: its code and a complete, human-readable
 * message ("cannot open 'x.yaml': No such file or directory"). Messages are
 * composed once, where the failure is first seen (usually copied from the
 * dependency's own error text), and passed up unchanged.
 */
typedef struct sf_error {
    int code;
    char msg[SF_ERROR_MSG_MAX];
} sf_error;

/* Set err (may be NULL) and return code, so callers can `return sf_error_set(...)`. */
int sf_error_set(sf_error *err, int code, const char *fmt, ...) SF_PRINTF(3, 4);
int sf_error_setv(sf_error *err, int code, const char *fmt, va_list ap);
/* Prefix an existing message with context: "loading 'x': <old message>". */
int sf_error_prefix(sf_error *err, const char *fmt, ...) SF_PRINTF(2, 3);
void sf_error_clear(sf_error *err);
/* Copy src into dst (both may be the same); returns src->code. */
int sf_error_copy(sf_error *dst, const sf_error *src);

/* A short static description of a code ("invalid configuration"). */
const char *sf_strerror(int code);
/* The CLI exit code for a library error code (SPEC §2). */
int sf_exit_code(int code);

/* Logging: the library never prints; the CLI installs a callback. */
typedef enum { SF_LOG_ERROR = 0, SF_LOG_WARN, SF_LOG_INFO, SF_LOG_DEBUG } sf_log_level;
typedef void (*sf_log_fn)(sf_log_level level, const char *msg, void *userdata);

/*
 * Install the process-wide log callback (NULL discards everything) and the
 * most verbose level passed to it. The callback may be called from worker
 * threads; it must be thread-safe. Messages carry no trailing newline.
 */
void sf_log_set(sf_log_fn fn, void *userdata, sf_log_level max_level);
void sf_log(sf_log_level level, const char *fmt, ...) SF_PRINTF(2, 3);
int sf_log_enabled(sf_log_level level);

/* "0.1.0" */
const char *sf_version(void);

#endif
