#ifndef SF_CMD_CLI_H
#define SF_CMD_CLI_H
/* Shared by the CLI's verbs: global options, parsed arguments, output helpers. */

#include <stdint.h>
#include <stdio.h>
#include "stagefork/stagefork.h"

/* Option ids shared by every verb (globals); verbs number theirs from 100. */
enum {
    OPT_CONFIG = 1, OPT_STATE, OPT_JSON, OPT_QUIET, OPT_VERBOSE, OPT_NO_PROGRESS,
    OPT_HELP, OPT_VERSION, OPT_LOCK_TIMEOUT,
    OPT_VERB_BASE = 100
};

struct cli_opt {
    const char *lname; /* "--json" without dashes; NULL ends the table */
    char sname;        /* 'q', or 0 */
    int has_arg;
    int id;
};

#define CLI_MAX_OPTS 256
#define CLI_MAX_POS 64
typedef struct cli_args {
    size_t nopt;
    struct { int id; const char *name; const char *val; } opt[CLI_MAX_OPTS];
    size_t npos;
    const char *pos[CLI_MAX_POS];
} cli_args;

typedef struct sf_cli {
    const char *prog;
    const char *verb;
    const char *config_path;  /* -C; else ./stagefork.yaml, else $STAGEFORK_CONFIG */
    const char *state_url;    /* --state; else $STAGEFORK_STATE, else config */
    int json, quiet, verbose, no_progress, progress;
    int64_t lock_timeout;     /* seconds, default 120 */
    sf_config *cfg;           /* loaded by cli_config() */
} sf_cli;

typedef int (*cli_fn)(sf_cli *cli, const cli_args *args);

struct cli_verb {
    const char *name;
    cli_fn fn;
    unsigned flags;
    const struct cli_opt *opts;
    const char *usage;   /* full usage text, first line is the synopsis */
    const char *summary; /* one line for `stagefork --help` */
};

/* Every verb: int cmd_X(sf_cli *, const cli_args *); cmd_X_opts[]; cmd_X_usage[]. */
#define CLI_DECLARE(x)                                  \
    int cmd_##x(sf_cli *cli, const cli_args *args);     \
    extern const struct cli_opt cmd_##x##_opts[];       \
    extern const char cmd_##x##_usage[]
CLI_DECLARE(down);
CLI_DECLARE(extend);
CLI_DECLARE(gc);
CLI_DECLARE(list);
CLI_DECLARE(mask);
CLI_DECLARE(outputs);
CLI_DECLARE(plan);
CLI_DECLARE(reap);
CLI_DECLARE(refresh);
CLI_DECLARE(seed);
CLI_DECLARE(snapshot);
CLI_DECLARE(status);
CLI_DECLARE(up);

/* Print "error: <msg>" to stderr; returns SF_EXIT_RUNTIME for convenience. */
int cli_error(const char *fmt, ...) SF_PRINTF(1, 2);
void cli_warn(const char *fmt, ...) SF_PRINTF(1, 2);
/* Report a library error and map it to the exit code. */
int cli_fail(const sf_error *err);
/* Print the verb's usage to stderr and return exit code 2. */
int cli_usage_error(const sf_cli *cli, const char *fmt, ...) SF_PRINTF(2, 3);
/* A verb whose issue has not landed: say so plainly and return exit 1. */
int cli_unavailable(const sf_cli *cli, const char *what);
/* Load the config once (missing default file = built-in defaults). */
int cli_config(sf_cli *cli, sf_config **out);
/* Parse a duration option; on error prints and returns exit 2. */
int cli_duration(int64_t *out, const char *opt, const char *val);

/*
 * Set to 1 by the first SIGINT/SIGTERM once cli_catch_signals() ran; a
 * second signal ends the process. Its address is the cancel/stop flag the
 * verbs hand to the library.
 */
extern volatile int cli_interrupted;
void cli_catch_signals(void);

#endif
