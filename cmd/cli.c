/* Output helpers and config loading shared by the verbs. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

/* "<prefix>: <message>\n" on stderr. */
static void vsay(const char *prefix, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("error", fmt, ap);
    va_end(ap);
    return SF_EXIT_RUNTIME;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("warning", fmt, ap);
    va_end(ap);
}

int cli_fail(const sf_error *err)
{
    fprintf(stderr, "error: %s\n", err->msg[0] ? err->msg : sf_strerror(err->code));
    return sf_exit_code(err->code);
}

int cli_usage_error(const sf_cli *cli, const char *fmt, ...)
{
    extern const char *cli_verb_usage(const char *verb);
    va_list ap;
    va_start(ap, fmt);
    vsay("error", fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", cli_verb_usage(cli->verb));
    return SF_EXIT_USAGE;
}

int cli_unavailable(const sf_cli *cli, const char *what)
{
    fprintf(stderr,
            "error: 'stagefork %s' is not available in this build yet: %s.\n"
            "       Nothing was done.\n",
            cli->verb, what);
    return SF_EXIT_RUNTIME;
}

int cli_config(sf_cli *cli, sf_config **out)
{
    sf_error err = {0};
    const char *path = cli->config_path;
    int explicit_path = path != NULL;
    if (cli->cfg) {
        *out = cli->cfg;
        return 0;
    }
    if (!path && access("stagefork.yaml", F_OK) == 0)
        path = "stagefork.yaml";
    if (!path && getenv("STAGEFORK_CONFIG") && *getenv("STAGEFORK_CONFIG")) {
        path = getenv("STAGEFORK_CONFIG");
        explicit_path = 1;
    }
    if (sf_config_load(&cli->cfg, path, &err) < 0) {
        if (err.code == SF_ENOTFOUND && !explicit_path)
            return cli_fail(&err);
        fprintf(stderr, "error: %s\n", err.msg);
        return err.code == SF_ECONFIG || err.code == SF_ENOTFOUND ? SF_EXIT_USAGE : SF_EXIT_RUNTIME;
    }
    *out = cli->cfg;
    return 0;
}

int cli_duration(int64_t *out, const char *opt, const char *val)
{
    sf_error err = {0};
    if (sf_duration_parse(out, val, &err) < 0) {
        fprintf(stderr, "error: %s: %s\n", opt, err.msg);
        return SF_EXIT_USAGE;
    }
    return 0;
}
