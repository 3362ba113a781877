/* stagefork mask: stream a pg_dump through the masker, or --check its coverage. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

enum {
    OPT_POLICY = OPT_VERB_BASE,
    OPT_KEY_FILE,
    OPT_KEY_ENV,
    OPT_FORMAT,
    OPT_STRICT,
    OPT_NO_STRICT,
    OPT_REPORT,
    OPT_JOBS,
    OPT_CHECK
};

const struct cli_opt cmd_mask_opts[] = {
    {"policy", 0, 1, OPT_POLICY},
    {"key-file", 0, 1, OPT_KEY_FILE},
    {"key-env", 0, 1, OPT_KEY_ENV},
    {"format", 0, 1, OPT_FORMAT},
    {"strict", 0, 0, OPT_STRICT},
    {"no-strict", 0, 0, OPT_NO_STRICT},
    {"report", 0, 1, OPT_REPORT},
    {"jobs", 'j', 1, OPT_JOBS},
    {"check", 0, 0, OPT_CHECK},
    {NULL, 0, 0, 0}};

const char cmd_mask_usage[] =
    "usage: stagefork mask --policy FILE [--key-file F|--key-env VAR] [--format auto|plain|tar|custom|directory]\n"
    "                      [--strict|--no-strict] [--report FILE] [-j N] [IN [OUT]]\n"
    "       stagefork mask --check --policy FILE IN\n"
    "\n"
    "Stream a pg_dump through the deterministic, keyed masker. IN and OUT default to\n"
    "standard input and output (\"-\"); the output keeps the input's format.\n"
    "\n"
    "      --policy FILE      masking policy (YAML); default: config masking.policy\n"
    "      --key-file F       file holding the masking key (>= 32 bytes)\n"
    "      --key-env VAR      environment variable holding the masking key\n"
    "      --format FMT       auto (default), plain, tar, custom or directory\n"
    "      --strict           every sensitive-looking column needs a rule (default)\n"
    "      --no-strict        warn instead of failing on unruled sensitive columns\n"
    "      --report FILE      write a JSON report (rows, per-column counts, bytes, key fingerprint)\n"
    "  -j, --jobs N           mask N tables in parallel (tar, custom, directory);\n"
    "                         plain: a table's rows on N threads (same output)\n"
    "      --check            print every column of IN with its rule; mask nothing\n"
    "\n"
    "exit codes: 1 bad input (line/offset named), 2 bad policy (file:line:column),\n"
    "            3 policy violation (schema.table.column named)\n"
;

typedef struct mask_opts {
    const char *policy, *key_file, *key_env, *report, *format, *in, *out;
    int strict, check;
    int64_t jobs;
} mask_opts;

/* The key: --key-file/--key-env, else the policy's key:, else config masking.key_env/key_file. */
static int load_key(sf_cli *cli, const mask_opts *o, const sf_mask_policy *pol, sf_mask_key **key)
{
    sf_error err = {0};
    sf_buf path = SF_BUF_INIT;
    const char *kf = o->key_file, *ke = o->key_env;
    int rc;
    if (kf && ke)
        return cli_usage_error(cli, "--key-file and --key-env are mutually exclusive");
    if (!kf && !ke) {
        ke = sf_mask_policy_key_env(pol);
        kf = sf_mask_policy_key_file(pol);
        if (kf && kf[0] != '/' && strchr(o->policy, '/')) {
            /* a relative key file in the policy is relative to the policy file */
            const char *slash = strrchr(o->policy, '/');
            sf_buf_add(&path, o->policy, (size_t)(slash - o->policy) + 1);
            sf_buf_adds(&path, kf);
            kf = path.ptr;
        }
    }
    if (!kf && !ke) {
        sf_config *cfg;
        if ((rc = cli_config(cli, &cfg)) != 0)
            return rc;
        ke = sf_config_mask_key_env(cfg);
        kf = ke ? NULL : sf_config_mask_key_file(cfg);
    }
    if (!kf && !ke) {
        sf_buf_free(&path);
        cli_error("no masking key: pass --key-file FILE or --key-env VAR, or set key: in the policy or "
                  "masking.key_env / masking.key_file in the config");
        return SF_EXIT_USAGE;
    }
    rc = sf_mask_key_load(key, ke ? NULL : kf, ke, &err);
    sf_buf_free(&path);
    if (rc < 0) {
        cli_fail(&err);
        /* any problem with the key is a usage problem, whatever the library's code */
        return rc == SF_ENOMEM ? SF_EXIT_RUNTIME : SF_EXIT_USAGE;
    }
    return 0;
}

static int write_report(const char *path, const sf_masker *m)
{
    sf_buf doc = SF_BUF_INIT;
    int fd, rc = 0;
    if (sf_masker_report_json(m, &doc) < 0) {
        sf_buf_free(&doc);
        return cli_error("cannot build the report: out of memory");
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cli_error("cannot open '%s': %s", path, strerror(errno));
    } else {
        if (fchmod(fd, 0600) != 0 || write(fd, doc.ptr, doc.len) != (ssize_t)doc.len)
            rc = cli_error("cannot write '%s': %s", path, strerror(errno));
        if (close(fd) != 0 && rc == 0)
            rc = cli_error("cannot write '%s': %s", path, strerror(errno));
    }
    sf_buf_free(&doc);
    return rc;
}

/* Print --check lines ("column\ttype\trule") as an aligned table or one JSON document. */
static void print_coverage(const sf_cli *cli, const sf_buf *tsv, int strict, int exit_code)
{
    size_t w0 = strlen("COLUMN"), w1 = strlen("TYPE"), unruled = 0;
    json_t *doc = NULL, *cols = NULL;
    if (cli->json) {
        doc = json_object();
        cols = json_array();
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *p = tsv->ptr, *end = tsv->ptr + tsv->len;
        if (pass == 1 && !cli->json)
            printf("%-*s  %-*s  %s\n", (int)w0, "COLUMN", (int)w1, "TYPE", "RULE");
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *t1, *t2;
            size_t l0, l1, l2;
            if (!nl)
                nl = end;
            t1 = memchr(p, '\t', (size_t)(nl - p));
            t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1)) : NULL;
            if (!t1 || !t2) {
                p = nl + 1;
                continue;
            }
            l0 = (size_t)(t1 - p);
            l1 = (size_t)(t2 - t1 - 1);
            l2 = (size_t)(nl - t2 - 1);
            if (pass == 0) {
                if (l0 > w0)
                    w0 = l0;
                if (l1 > w1)
                    w1 = l1;
            } else if (cli->json) {
                json_t *c = json_object();
                const char *status = "rule";
                int has_rule = 1;
                if (l2 == 18 && memcmp(t2 + 1, "sensitive, no rule", 18) == 0) {
                    status = "sensitive, no rule";
                    has_rule = 0;
                    unruled++;
                } else if (l2 == 13 && memcmp(t2 + 1, "not sensitive", 13) == 0) {
                    status = "not sensitive";
                    has_rule = 0;
                } else if (l2 > 9 && memcmp(t2 + 1, "generated", 9) == 0) {
                    status = "generated";
                    has_rule = 0;
                }
                json_object_set_new(c, "column", json_stringn(p, l0));
                json_object_set_new(c, "type", json_stringn(t1 + 1, l1));
                json_object_set_new(c, "rule", has_rule ? json_stringn(t2 + 1, l2) : json_null());
                json_object_set_new(c, "status", json_string(status));
                json_array_append_new(cols, c);
            } else {
                printf("%-*.*s  %-*.*s  %.*s\n", (int)w0, (int)l0, p, (int)w1, (int)l1, t1 + 1, (int)l2, t2 + 1);
            }
            p = nl + 1;
        }
    }
    if (cli->json) {
        char *text;
        json_object_set_new(doc, "columns", cols);
        json_object_set_new(doc, "unruled_sensitive", json_integer((json_int_t)unruled));
        json_object_set_new(doc, "strict", json_boolean(strict));
        json_object_set_new(doc, "ok", json_boolean(exit_code == 0));
        text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(doc);
    }
    fflush(stdout);
}

static int parse_opts(sf_cli *cli, const cli_args *args, mask_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->strict = -1;
    o->jobs = 1;
    o->format = "auto";
    for (size_t i = 0; i < args->nopt; i++) {
        const char *v = args->opt[i].val;
        switch (args->opt[i].id) {
        case OPT_POLICY: o->policy = v; break;
        case OPT_KEY_FILE: o->key_file = v; break;
        case OPT_KEY_ENV: o->key_env = v; break;
        case OPT_FORMAT: o->format = v; break;
        case OPT_STRICT: o->strict = 1; break;
        case OPT_NO_STRICT: o->strict = 0; break;
        case OPT_REPORT: o->report = v; break;
        case OPT_CHECK: o->check = 1; break;
        case OPT_JOBS:
            if (sf_parse_i64(&o->jobs, v, 1, 1024) < 0)
                return cli_usage_error(cli, "-j/--jobs needs a number from 1 to 1024, not '%s'", v);
            break;
        default: break;
        }
    }
    if (sf_mask_format_parse(o->format) < 0)
        return cli_usage_error(cli, "unknown --format '%s' (auto, plain, tar, custom or directory)", o->format);
    if (args->npos > (o->check ? 1u : 2u))
        return cli_usage_error(cli, o->check ? "--check takes one input" : "too many arguments");
    o->in = args->npos > 0 ? args->pos[0] : "-";
    o->out = args->npos > 1 ? args->pos[1] : "-";
    if (o->check && o->report)
        return cli_usage_error(cli, "--report does not apply to --check");
    if (!o->check && cli->json && strcmp(o->out, "-") == 0)
        return cli_usage_error(cli, "--json prints the report on standard output, so it needs an OUT file");
    if (!o->policy) {
        sf_config *cfg;
        int rc = cli_config(cli, &cfg);
        if (rc != 0)
            return rc;
        o->policy = sf_config_mask_policy(cfg);
        if (!o->policy)
            return cli_usage_error(cli, "no masking policy: pass --policy FILE or set masking.policy in the config");
    }
    return 0;
}

int cmd_mask(sf_cli *cli, const cli_args *args)
{
    mask_opts o;
    sf_mask_policy *pol = NULL;
    sf_mask_key *key = NULL;
    sf_masker *m = NULL;
    sf_error err = {0};
    int rc, fmt;
    if ((rc = parse_opts(cli, args, &o)) != 0)
        return rc;
    fmt = sf_mask_format_parse(o.format);
    if ((rc = sf_mask_policy_load(&pol, o.policy, &err)) < 0) {
        /* an unreadable policy is as much a usage error as an invalid one */
        cli_fail(&err);
        return rc == SF_ENOMEM ? SF_EXIT_RUNTIME : SF_EXIT_USAGE;
    }
    if (!o.check && (rc = load_key(cli, &o, pol, &key)) != 0)
        goto out;
    if (sf_masker_new(&m, pol, key, o.strict, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (o.check) {
        sf_buf tsv = SF_BUF_INIT;
        int crc = sf_mask_check(m, (sf_mask_format)fmt, o.in, &tsv);
        if (crc == 0 || crc == SF_EPOLICY) {
            rc = crc == 0 ? 0 : SF_EXIT_POLICY;
            print_coverage(cli, &tsv, o.strict < 0 ? sf_mask_policy_strict(pol) : o.strict, rc);
        }
        if (crc < 0)
            rc = cli_fail(sf_masker_error(m));
        sf_buf_free(&tsv);
        goto out;
    }
    if (sf_mask_run(m, (sf_mask_format)fmt, o.in, o.out, (int)o.jobs) < 0) {
        rc = cli_fail(sf_masker_error(m));
        goto out;
    }
    if (o.report && (rc = write_report(o.report, m)) != 0)
        goto out;
    if (cli->verbose) {
        sf_buf doc = SF_BUF_INIT;
        json_t *r;
        if (sf_masker_report_json(m, &doc) == 0 && (r = json_loads(doc.ptr, 0, NULL))) {
            fprintf(stderr, "masked %lld rows in %zu tables: %.1f MB in, %.1f MB out, %.2fs\n",
                    (long long)json_integer_value(json_object_get(r, "rows")),
                    json_array_size(json_object_get(r, "tables")),
                    (double)json_integer_value(json_object_get(r, "bytes_in")) / 1048576.0,
                    (double)json_integer_value(json_object_get(r, "bytes_out")) / 1048576.0,
                    json_real_value(json_object_get(r, "seconds")));
            json_decref(r);
        }
        sf_buf_free(&doc);
    }
    if (cli->json) {
        sf_buf doc = SF_BUF_INIT;
        if (sf_masker_report_json(m, &doc) == 0)
            fputs(doc.ptr, stdout);
        sf_buf_free(&doc);
    }
    rc = 0;
out:
    sf_masker_free(m);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
    return rc;
}
