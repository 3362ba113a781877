/* stagefork seed: a seed spec + profiles -> COPY into a database, or COPY text on stdout. */
#include <jansson.h>
#include <string.h>
#include "cli.h"

enum {
    OPT_SPEC = OPT_VERB_BASE,
    OPT_PROFILE,
    OPT_TO,
    OPT_SEED,
    OPT_SET
};

const struct cli_opt cmd_seed_opts[] = {
    {"spec", 0, 1, OPT_SPEC},
    {"profile", 0, 1, OPT_PROFILE},
    {"to", 0, 1, OPT_TO},
    {"seed", 0, 1, OPT_SEED},
    {"set", 0, 1, OPT_SET},
    {NULL, 0, 0, 0}};

const char cmd_seed_usage[] =
    "usage: stagefork seed --spec FILE --profile NAME[,NAME] --to DSN|- [--seed N] [--set PARAM=VALUE]...\n"
    "\n"
    "Generate representative tenant data from a seed spec into a database (COPY), or\n"
    "as COPY text on standard output with --to -. Deterministic for a given --seed.\n"
    "\n"
    "      --spec FILE        seed spec (YAML)\n"
    "      --profile NAMES    profiles to apply, comma separated (they compose)\n"
    "      --to DSN|-         target database, or - for COPY text on stdout\n"
    "      --seed N           random seed (default 1)\n"
    "      --set PARAM=VALUE  override a profile parameter such as scale (repeatable)\n"
    "\n"
    "Profiles apply left to right, then each --set. Everything is validated before\n"
    "anything is written (exit 2 naming file:line:column); a database is loaded in\n"
    "one transaction, so a failure leaves it unchanged.\n"
;

int cmd_seed(sf_cli *cli, const cli_args *args)
{
    const char *spec = NULL, *profiles = NULL, *to = NULL;
    const char *sets[CLI_MAX_OPTS];
    size_t nsets = 0;
    int64_t seed = 1;
    sf_seed *s = NULL;
    sf_config *cfg = NULL;
    sf_error err = {0};
    double t0;
    int64_t total = 0;
    int rc;

    for (size_t i = 0; i < args->nopt; i++) {
        const char *v = args->opt[i].val;
        switch (args->opt[i].id) {
        case OPT_SPEC: spec = v; break;
        case OPT_PROFILE: profiles = v; break;
        case OPT_TO: to = v; break;
        case OPT_SEED:
            if (sf_parse_i64(&seed, v, 0, INT64_MAX) < 0)
                return cli_usage_error(cli, "--seed expects a non-negative integer, got '%s'", v);
            break;
        case OPT_SET: sets[nsets++] = v; break;
        default: break;
        }
    }
    if (args->npos)
        return cli_usage_error(cli, "unexpected argument '%s'", args->pos[0]);
    if (!spec)
        return cli_usage_error(cli, "--spec FILE is required");
    if (!to || !*to)
        return cli_usage_error(cli, "--to DSN|- is required");
    if (cli->json && !strcmp(to, "-"))
        return cli_usage_error(cli, "--json cannot be combined with --to - (stdout carries the COPY text)");
    if (strcmp(to, "-") != 0 && (rc = cli_config(cli, &cfg)) != 0)
        return rc;

    if (sf_seed_open(&s, spec, &err) < 0) {
        cli_fail(&err);
        return err.code == SF_ENOTFOUND ? SF_EXIT_USAGE : sf_exit_code(err.code);
    }
    rc = 0;
    if (profiles && sf_seed_use_profiles(s, profiles) < 0)
        rc = -1;
    for (size_t i = 0; !rc && i < nsets; i++)
        if (sf_seed_set(s, sets[i]) < 0)
            rc = -1;
    sf_seed_set_random(s, (uint64_t)seed);
    if (!rc && sf_seed_resolve(s) < 0)
        rc = -1;
    t0 = sf_monotonic();
    if (!rc) {
        if (!strcmp(to, "-")) {
            static char obuf[1 << 20];
            setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
            rc = sf_seed_write(s, stdout) < 0 ? -1 : 0;
        } else {
            rc = sf_seed_to_db(s, to, cfg) < 0 ? -1 : 0;
        }
    }
    if (rc) {
        rc = cli_fail(sf_seed_error(s));
        sf_seed_free(s);
        return rc;
    }

    for (size_t i = 0; i < sf_seed_table_count(s); i++) {
        int64_t rows;
        sf_seed_table_info(s, i, NULL, &rows);
        total += rows;
    }
    if (cli->json) {
        json_t *doc = json_object(), *tables = json_array();
        for (size_t i = 0; i < sf_seed_table_count(s); i++) {
            const char *name;
            int64_t rows;
            sf_seed_table_info(s, i, &name, &rows);
            json_array_append_new(tables, json_pack("{s:s, s:I}", "table", name, "rows", (json_int_t)rows));
        }
        json_object_set_new(doc, "spec", json_string(spec));
        json_object_set_new(doc, "spec_sha256", json_string(sf_seed_sha256(s)));
        json_object_set_new(doc, "profiles", json_string(profiles ? profiles : ""));
        json_object_set_new(doc, "seed", json_integer((json_int_t)seed));
        json_object_set_new(doc, "tables", tables);
        json_object_set_new(doc, "rows", json_integer((json_int_t)total));
        json_object_set_new(doc, "seconds", json_real(sf_monotonic() - t0));
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
    } else if (!cli->quiet) {
        fprintf(stderr, "seeded %zu tables, %lld rows in %.2fs (seed %lld%s%s)\n", sf_seed_table_count(s),
                (long long)total, sf_monotonic() - t0, (long long)seed, profiles ? ", profiles " : "",
                profiles ? profiles : "");
    }
    sf_seed_free(s);
    return fflush(stdout) == 0 ? SF_EXIT_OK : cli_error("cannot write to standard output");
}
