/*
 * stagefork: per-branch staging environments and a deterministic pg_dump
 * masker. Global options may stand before or after the verb; each verb has
 * its own option table and lives in cmd_<verb>.c.
 */
#include <archive.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>
#include "cli.h"

enum { VERB_NO_CONFIG = 1 }; /* verbs that never read stagefork.yaml */

/* Sorted by name: looked up with bsearch. */
static const struct cli_verb verbs[] = {
    {"down", cmd_down, 0, cmd_down_opts, cmd_down_usage, "tear down a branch environment"},
    {"extend", cmd_extend, 0, cmd_extend_opts, cmd_extend_usage, "move an environment's expiry"},
    {"gc", cmd_gc, 0, cmd_gc_opts, cmd_gc_usage, "remove prefixed resources no environment owns"},
    {"list", cmd_list, 0, cmd_list_opts, cmd_list_usage, "list environments"},
    {"mask", cmd_mask, 0, cmd_mask_opts, cmd_mask_usage, "stream a pg_dump through the masker"},
    {"outputs", cmd_outputs, 0, cmd_outputs_opts, cmd_outputs_usage, "print an environment's outputs"},
    {"plan", cmd_plan, 0, cmd_plan_opts, cmd_plan_usage, "render and validate a template, touch nothing"},
    {"reap", cmd_reap, 0, cmd_reap_opts, cmd_reap_usage, "tear down expired environments"},
    {"refresh", cmd_refresh, 0, cmd_refresh_opts, cmd_refresh_usage, "rebuild a persistent env's databases"},
    {"seed", cmd_seed, 0, cmd_seed_opts, cmd_seed_usage, "generate representative tenant data"},
    {"snapshot", cmd_snapshot, 0, cmd_snapshot_opts, cmd_snapshot_usage, "create, list, restore, verify, prune snapshots"},
    {"status", cmd_status, 0, cmd_status_opts, cmd_status_usage, "show one environment in detail"},
    {"up", cmd_up, 0, cmd_up_opts, cmd_up_usage, "create or reconcile a branch environment"},
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct cli_opt global_opts[] = {
    {"config", 'C', 1, OPT_CONFIG},
    {"state", 0, 1, OPT_STATE},
    {"json", 0, 0, OPT_JSON},
    {"quiet", 'q', 0, OPT_QUIET},
    {"verbose", 'v', 0, OPT_VERBOSE},
    {"no-progress", 0, 0, OPT_NO_PROGRESS},
    {"help", 'h', 0, OPT_HELP},
    {"version", 'V', 0, OPT_VERSION},
    {"lock-timeout", 0, 1, OPT_LOCK_TIMEOUT},
    {NULL, 0, 0, 0}};

static const char main_usage_head[] =
    "usage: stagefork [-C FILE] [--state URL] [--json] [-q] [-v] [--no-progress] VERB [ARGS]\n"
    "       stagefork help VERB | stagefork VERB --help | stagefork --version\n"
    "\n"
    "Per-branch staging environments from IaC templates, restored from masked\n"
    "database snapshots, seeded with tenant profiles, reaped when their TTL expires.\n"
    "\n"
    "verbs:\n";

static const char main_usage_tail[] =
    "\n"
    "global options (before or after the verb):\n"
    "  -C, --config FILE     configuration (default ./stagefork.yaml, else $STAGEFORK_CONFIG)\n"
    "      --state URL       state directory or postgres:// URL (else $STAGEFORK_STATE, config)\n"
    "      --json            print exactly one JSON document on stdout\n"
    "  -q, --quiet           only errors on stderr\n"
    "  -v, --verbose         more detail on stderr\n"
    "      --no-progress     no progress bars (they are only drawn on a TTY anyway)\n"
    "      --lock-timeout D  how long to wait for an environment's lock (default 120s)\n"
    "  -h, --help            this help, or a verb's\n"
    "  -V, --version         version of stagefork and its libraries\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage/config, 3 masking policy violation,\n"
    "            4 lock busy, 5 teardown incomplete, 6 refused by a guardrail\n";

static int verb_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct cli_verb *)elem)->name);
}

static const struct cli_verb *find_verb(const char *name)
{
    return bsearch(name, verbs, NVERBS, sizeof(verbs[0]), verb_cmp);
}

const char *cli_verb_usage(const char *verb)
{
    const struct cli_verb *v = verb ? find_verb(verb) : NULL;
    return v ? v->usage : main_usage_head;
}

static void print_main_usage(FILE *f)
{
    fputs(main_usage_head, f);
    for (size_t i = 0; i < NVERBS; i++)
        fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fputs("  help       show a verb's usage\n", f);
    fputs(main_usage_tail, f);
}

static void print_version(void)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    int pq = PQlibVersion();
    printf("stagefork %s\n", sf_version());
    printf("libcurl %s\n", cv->version);
    if (pq >= 100000)
        printf("libpq %d.%d\n", pq / 10000, pq % 10000);
    else
        printf("libpq %d.%d.%d\n", pq / 10000, (pq / 100) % 100, pq % 100);
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("%s\n", archive_version_string());
    printf("libyaml %s\n", yaml_get_version_string());
    printf("jansson %s\n", jansson_version_str());
}

static const struct cli_opt *find_long(const struct cli_opt *tab, const char *name, size_t len)
{
    for (; tab && tab->lname; tab++)
        if (strlen(tab->lname) == len && strncmp(tab->lname, name, len) == 0)
            return tab;
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *tab, char c)
{
    for (; tab && tab->lname; tab++)
        if (tab->sname && tab->sname == c)
            return tab;
    return NULL;
}

/* Does global option argv[i] consume the next argument? */
static int global_takes_next(const char *a)
{
    const struct cli_opt *o;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        o = find_long(global_opts, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        return o && o->has_arg && !eq;
    }
    o = find_short(global_opts, a[1]);
    return o && o->has_arg && !a[2];
}

static int is_global(const char *a)
{
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        return find_long(global_opts, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2)) != NULL;
    }
    return find_short(global_opts, a[1]) != NULL;
}

static int push_opt(cli_args *out, const struct cli_opt *o, const char *val)
{
    if (out->nopt == CLI_MAX_OPTS) {
        cli_error("too many options");
        return SF_EXIT_USAGE;
    }
    out->opt[out->nopt].id = o->id;
    out->opt[out->nopt].name = o->lname;
    out->opt[out->nopt++].val = val;
    return 0;
}

/*
 * Parse argv[1..] against the global and verb tables. Options may be
 * "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE" or bundled flags
 * "-qv"; "--" ends options. The first positional is the verb. Returns 0 or
 * prints an error and returns 2.
 */
static int parse_args(sf_cli *cli, cli_args *out, int argc, char **argv, const struct cli_opt *vopts)
{
    int only_pos = 0;
    const char *on = cli->verb ? " for " : "", *vn = cli->verb ? cli->verb : "";
    memset(out, 0, sizeof(*out));
    cli->verb = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (!cli->verb) {
                cli->verb = a;
                continue;
            }
            if (out->npos == CLI_MAX_POS) {
                cli_error("too many arguments");
                return SF_EXIT_USAGE;
            }
            out->pos[out->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct cli_opt *o = find_long(global_opts, name, len);
            const char *val = NULL;
            if (!o)
                o = find_long(vopts, name, len);
            if (!o) {
                cli_error("unknown option '--%.*s'%s%s", (int)len, name, on, vn);
                return SF_EXIT_USAGE;
            }
            if (eq && !o->has_arg) {
                cli_error("option '--%s' takes no value", o->lname);
                return SF_EXIT_USAGE;
            }
            if (o->has_arg) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else {
                    cli_error("option '--%s' needs a value", o->lname);
                    return SF_EXIT_USAGE;
                }
            }
            if (push_opt(out, o, val))
                return SF_EXIT_USAGE;
            continue;
        }
        for (size_t j = 1; a[j]; j++) {
            const struct cli_opt *o = find_short(global_opts, a[j]);
            if (!o)
                o = find_short(vopts, a[j]);
            if (!o) {
                cli_error("unknown option '-%c'%s%s", a[j], on, vn);
                return SF_EXIT_USAGE;
            }
            if (o->has_arg) {
                const char *val = a[j + 1] ? a + j + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!val) {
                    cli_error("option '-%c' needs a value", a[j]);
                    return SF_EXIT_USAGE;
                }
                if (push_opt(out, o, val))
                    return SF_EXIT_USAGE;
                break;
            }
            if (push_opt(out, o, NULL))
                return SF_EXIT_USAGE;
        }
    }
    return 0;
}

static int apply_globals(sf_cli *cli, const cli_args *args, int *help, int *version)
{
    for (size_t i = 0; i < args->nopt; i++) {
        const char *v = args->opt[i].val;
        switch (args->opt[i].id) {
        case OPT_CONFIG: cli->config_path = v; break;
        case OPT_STATE: cli->state_url = v; break;
        case OPT_JSON: cli->json = 1; break;
        case OPT_QUIET: cli->quiet = 1; break;
        case OPT_VERBOSE: cli->verbose++; break;
        case OPT_NO_PROGRESS: cli->no_progress = 1; break;
        case OPT_HELP: *help = 1; break;
        case OPT_VERSION: *version = 1; break;
        case OPT_LOCK_TIMEOUT:
            if (cli_duration(&cli->lock_timeout, "--lock-timeout", v))
                return SF_EXIT_USAGE;
            if (cli->lock_timeout == SF_DURATION_NONE)
                cli->lock_timeout = INT64_MAX;
            break;
        default: break;
        }
    }
    return 0;
}

static void log_to_stderr(sf_log_level level, const char *msg, void *ud)
{
    (void)ud;
    static const char *const tag[] = {"error: ", "warning: ", "", ""};
    fprintf(stderr, "%s%s\n", tag[level], msg);
}

int main(int argc, char **argv)
{
    sf_cli cli = {0};
    cli_args pre, args;
    const struct cli_verb *v;
    int help = 0, version = 0, rc;

    cli.prog = "stagefork";
    cli.lock_timeout = 120;

    /* First pass: find the verb. Verb options are unknown here, so only
       the globals before it are skipped; then everything is parsed again
       with the verb's table. */
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-' || !argv[i][1]) {
            cli.verb = argv[i];
            break;
        }
        if (strcmp(argv[i], "--") == 0)
            break;
        if (!is_global(argv[i]) && argv[i][1] == '-') {
            cli_error("unknown option '%s'", argv[i]);
            print_main_usage(stderr);
            return SF_EXIT_USAGE;
        }
        if (global_takes_next(argv[i]))
            i++;
    }
    v = cli.verb ? find_verb(cli.verb) : NULL;
    if (cli.verb && strcmp(cli.verb, "help") == 0) {
        if (parse_args(&cli, &pre, argc, argv, NULL) != 0) {
            print_main_usage(stderr);
            return SF_EXIT_USAGE;
        }
        if (pre.npos == 0) {
            print_main_usage(stdout);
            return 0;
        }
        v = find_verb(pre.pos[0]);
        if (!v) {
            cli_error("unknown verb '%s'", pre.pos[0]);
            print_main_usage(stderr);
            return SF_EXIT_USAGE;
        }
        fputs(v->usage, stdout);
        return 0;
    }
    if (cli.verb && !v) {
        cli_error("unknown verb '%s'", cli.verb);
        print_main_usage(stderr);
        return SF_EXIT_USAGE;
    }
    if (parse_args(&cli, &args, argc, argv, v ? v->opts : NULL) != 0) {
        fputc('\n', stderr);
        if (v)
            fputs(v->usage, stderr);
        else
            print_main_usage(stderr);
        return SF_EXIT_USAGE;
    }
    if (apply_globals(&cli, &args, &help, &version))
        return SF_EXIT_USAGE;
    if (version) {
        print_version();
        return 0;
    }
    if (help) {
        if (v)
            fputs(v->usage, stdout);
        else
            print_main_usage(stdout);
        return 0;
    }
    if (!v) {
        print_main_usage(stderr);
        return SF_EXIT_USAGE;
    }
    if (!cli.state_url && getenv("STAGEFORK_STATE") && *getenv("STAGEFORK_STATE"))
        cli.state_url = getenv("STAGEFORK_STATE");
    cli.progress = !cli.no_progress && !cli.quiet && isatty(STDERR_FILENO);
    sf_log_set(log_to_stderr, NULL,
               cli.quiet ? SF_LOG_ERROR : cli.verbose > 1 ? SF_LOG_DEBUG : cli.verbose ? SF_LOG_INFO : SF_LOG_WARN);
    if (!(v->flags & VERB_NO_CONFIG)) {
        sf_config *cfg;
        if ((rc = cli_config(&cli, &cfg)) != 0)
            return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = v->fn(&cli, &args);
    fflush(stdout);
    if (ferror(stdout) && rc == 0) {
        cli_error("cannot write to standard output");
        rc = SF_EXIT_RUNTIME;
    }
    sf_config_free(cli.cfg);
    curl_global_cleanup();
    return rc;
}
