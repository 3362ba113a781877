/* stagefork snapshot create|list|restore|verify|prune */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

enum {
    OPT_FROM = OPT_VERB_BASE,
    OPT_TO,
    OPT_POLICY,
    OPT_KEY_FILE,
    OPT_KEY_ENV,
    OPT_STORE,
    OPT_JOBS,
    OPT_KEEP
};

const struct cli_opt cmd_snapshot_opts[] = {
    {"from", 0, 1, OPT_FROM},
    {"to", 0, 1, OPT_TO},
    {"policy", 0, 1, OPT_POLICY},
    {"key-file", 0, 1, OPT_KEY_FILE},
    {"key-env", 0, 1, OPT_KEY_ENV},
    {"store", 0, 1, OPT_STORE},
    {"jobs", 'j', 1, OPT_JOBS},
    {"keep", 0, 1, OPT_KEEP},
    {NULL, 0, 0, 0}};

const char cmd_snapshot_usage[] =
    "usage: stagefork snapshot create NAME --from DSN [--policy FILE] [-j N] [--store URL]\n"
    "       stagefork snapshot list [NAME] [--store URL]\n"
    "       stagefork snapshot restore NAME[@ID] --to DSN [-j N] [--store URL]\n"
    "       stagefork snapshot verify NAME[@ID] [--store URL]\n"
    "       stagefork snapshot prune NAME --keep N [--store URL]\n"
    "\n"
    "Masked, signed snapshots of a live database. Every verb takes the key options\n"
    "of `mask` (default: config masking), since signatures are keyed.\n"
    "\n"
    "      --from DSN         source database (create)\n"
    "      --to DSN           target database (restore)\n"
    "      --policy FILE      masking policy (default: config masking.policy)\n"
    "      --key-file F       masking key file\n"
    "      --key-env VAR      environment variable holding the masking key\n"
    "      --store URL        directory or s3://bucket/prefix (default: config snapshots.store)\n"
    "  -j, --jobs N           parallel connections\n"
    "      --keep N           snapshots to keep (prune)\n"
    "\n"
    "exit codes: 1 runtime failure or an archive that does not verify, 2 usage/config/policy,\n"
    "            3 masking policy violation (nothing is stored)\n";

typedef struct snap_opts {
    const char *from, *to, *policy, *key_file, *key_env, *store;
    int64_t jobs, keep;
    int has_keep;
} snap_opts;

static void print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
    fflush(stdout);
}

/* print_json of a new value, released after. */
static void emit_json(json_t *v)
{
    print_json(v);
    json_decref(v);
}

static void human_size(char out[32], long long b)
{
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    if (i == 0)
        snprintf(out, 32, "%lld B", b);
    else
        snprintf(out, 32, "%.1f %s", v, u[i]);
}

static int parse(sf_cli *cli, const cli_args *args, snap_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->jobs = 1;
    for (size_t i = 0; i < args->nopt; i++) {
        const char *v = args->opt[i].val;
        switch (args->opt[i].id) {
        case OPT_FROM: o->from = v; break;
        case OPT_TO: o->to = v; break;
        case OPT_POLICY: o->policy = v; break;
        case OPT_KEY_FILE: o->key_file = v; break;
        case OPT_KEY_ENV: o->key_env = v; break;
        case OPT_STORE: o->store = v; break;
        case OPT_JOBS:
            if (sf_parse_i64(&o->jobs, v, 1, 64) < 0)
                return cli_usage_error(cli, "-j/--jobs needs a number from 1 to 64, not '%s'", v);
            break;
        case OPT_KEEP:
            if (sf_parse_i64(&o->keep, v, 0, 100000) < 0)
                return cli_usage_error(cli, "--keep needs a number of snapshots (0 or more), not '%s'", v);
            o->has_keep = 1;
            break;
        default: break;
        }
    }
    if (o->key_file && o->key_env)
        return cli_usage_error(cli, "--key-file and --key-env are mutually exclusive");
    return 0;
}

static int open_store(const snap_opts *o, sf_config *cfg, sf_snap_store **st)
{
    sf_error err = {0};
    const char *url = o->store ? o->store : sf_config_snapshot_store(cfg);
    if (sf_snap_store_open(st, url, cfg, &err) < 0)
        return cli_fail(&err);
    return 0;
}

/* The key (every verb needs it: signatures are keyed). Problems with it are usage errors. */
static int load_key(const snap_opts *o, sf_config *cfg, sf_mask_key **key, int required)
{
    sf_error err = {0};
    int rc = sf_snapshot_key_resolve(key, cfg, o->policy, o->key_file, o->key_env, &err);
    if (rc == SF_EUSAGE && !required && !o->key_file && !o->key_env)
        return 0;
    if (rc < 0) {
        cli_fail(&err);
        return rc == SF_ENOMEM ? SF_EXIT_RUNTIME : SF_EXIT_USAGE;
    }
    return 0;
}

/* The key and then the store, as every verb but prune needs them; on failure prints and returns the exit code. */
static int open_keyed(const snap_opts *o, sf_config *cfg, int key_required, sf_mask_key **key, sf_snap_store **st)
{
    int rc;
    if ((rc = load_key(o, cfg, key, key_required)) != 0)
        return rc;
    return open_store(o, cfg, st);
}

/* What the keyed verbs hold, released (each may be NULL). */
static void release(json_t *m, sf_snap_store *st, sf_mask_key *key)
{
    json_decref(m);
    sf_snap_store_free(st);
    sf_mask_key_free(key);
}

static int want_pos(sf_cli *cli, const cli_args *args, size_t min, size_t max, const char *what)
{
    if (args->npos - 1 < min || args->npos - 1 > max)
        return cli_usage_error(cli, "snapshot %s takes %s", args->pos[0], what);
    return 0;
}

static int do_create(sf_cli *cli, const cli_args *args, const snap_opts *o, sf_config *cfg)
{
    sf_snap_create_opts co;
    sf_error err = {0};
    sf_snap_store *st = NULL;
    sf_mask_policy *pol = NULL;
    sf_mask_key *key = NULL;
    json_t *m = NULL;
    const char *policy = o->policy ? o->policy : sf_config_mask_policy(cfg);
    double t0 = sf_monotonic();
    int rc;
    if ((rc = want_pos(cli, args, 1, 1, "one NAME")) != 0)
        return rc;
    if (!o->from)
        return cli_usage_error(cli, "snapshot create needs --from DSN");
    if (!policy)
        return cli_usage_error(cli, "a masking policy is mandatory: pass --policy FILE or set masking.policy in the "
                                    "config");
    if (!sf_snapshot_name_valid(args->pos[1]))
        return cli_usage_error(cli, "'%s' is not a valid snapshot name ([A-Za-z0-9._-], up to 100 bytes)",
                               args->pos[1]);
    if (sf_mask_policy_load(&pol, policy, &err) < 0)
        return cli_fail(&err);
    if ((rc = open_keyed(o, cfg, 1, &key, &st)) != 0)
        goto out;
    memset(&co, 0, sizeof(co));
    co.name = args->pos[1];
    co.from_dsn = o->from;
    co.policy = pol;
    co.key = key;
    co.strict = -1;
    co.jobs = (int)o->jobs;
    co.cfg = cfg;
    co.cancel = &cli_interrupted;
    cli_catch_signals();
    if (sf_snapshot_create(&m, st, &co, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (cli->json) {
        emit_json(json_pack(
            "{s:O, s:O, s:s, s:O, s:I, s:O, s:O, s:O, s:O, s:f}", "name", json_object_get(m, "name"), "id",
            json_object_get(m, "id"), "store", sf_snap_store_url(st), "created_at", json_object_get(m, "created_at"),
            "tables", (json_int_t)json_array_size(json_object_get(m, "tables")), "rows", json_object_get(m, "rows"),
            "bytes", json_object_get(m, "bytes"), "policy_sha256", json_object_get(m, "policy_sha256"),
            "key_fingerprint", json_object_get(m, "key_fingerprint"), "seconds", sf_monotonic() - t0));
    } else if (!cli->quiet) {
        char sz[32];
        human_size(sz, (long long)json_integer_value(json_object_get(m, "bytes")));
        printf("%s@%s: %zu tables, %lld rows, %s masked data, in %s (%.1fs)\n",
               json_string_value(json_object_get(m, "name")), json_string_value(json_object_get(m, "id")),
               json_array_size(json_object_get(m, "tables")), (long long)json_integer_value(json_object_get(m, "rows")),
               sz, sf_snap_store_url(st), sf_monotonic() - t0);
    }
    rc = 0;
out:
    release(m, st, key);
    sf_mask_policy_free(pol);
    return rc;
}

static int do_list(sf_cli *cli, const cli_args *args, const snap_opts *o, sf_config *cfg)
{
    sf_error err = {0};
    sf_snap_store *st = NULL;
    sf_mask_key *key = NULL;
    json_t *all = NULL, *e;
    size_t i;
    int rc;
    if ((rc = want_pos(cli, args, 0, 1, "at most one NAME")) != 0)
        return rc;
    if ((rc = open_keyed(o, cfg, 0, &key, &st)) != 0)
        goto out;
    if (sf_snapshot_list(&all, st, args->npos > 1 ? args->pos[1] : NULL, key, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (cli->json) {
        print_json(all);
    } else {
        size_t wn = 4;
        json_array_foreach(all, i, e) if (strlen(json_string_value(json_object_get(e, "name"))) > wn) wn =
            strlen(json_string_value(json_object_get(e, "name")));
        printf("%-*s  %-16s  %10s  %6s  %12s  %-20s  %s\n", (int)wn, "NAME", "ID", "SIZE", "TABLES", "ROWS",
               "CREATED", "SIGNATURE");
        json_array_foreach(all, i, e)
        {
            char sz[32];
            const char *created = json_string_value(json_object_get(e, "created_at"));
            human_size(sz, (long long)json_integer_value(json_object_get(e, "size")));
            printf("%-*s  %-16s  %10s  %6lld  %12lld  %-20s  %s\n", (int)wn,
                   json_string_value(json_object_get(e, "name")), json_string_value(json_object_get(e, "id")), sz,
                   (long long)json_integer_value(json_object_get(e, "tables")),
                   (long long)json_integer_value(json_object_get(e, "rows")), created ? created : "-",
                   json_string_value(json_object_get(e, "signature")));
        }
    }
    rc = 0;
out:
    release(all, st, key);
    return rc;
}

static int do_verify(sf_cli *cli, const cli_args *args, const snap_opts *o, sf_config *cfg)
{
    sf_error err = {0};
    sf_snap_store *st = NULL;
    sf_mask_key *key = NULL;
    json_t *m = NULL;
    int rc;
    if ((rc = want_pos(cli, args, 1, 1, "one NAME[@ID]")) != 0)
        return rc;
    if ((rc = open_keyed(o, cfg, 1, &key, &st)) != 0)
        goto out;
    if (sf_snapshot_verify(&m, st, args->pos[1], key, &err) < 0) {
        if (cli->json) {
            emit_json(json_pack("{s:s, s:b, s:s}", "snapshot", args->pos[1], "ok", 0, "error", err.msg));
        }
        rc = cli_fail(&err);
        goto out;
    }
    if (cli->json) {
        emit_json(json_pack("{s:O, s:O, s:b, s:I, s:O}", "name", json_object_get(m, "name"), "id",
                            json_object_get(m, "id"), "ok", 1, "members",
                            (json_int_t)json_array_size(json_object_get(m, "members")) + 1, "key_fingerprint",
                            json_object_get(m, "key_fingerprint")));
    } else if (!cli->quiet) {
        printf("%s@%s: signature and %zu member checksums verified\n", json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "id")), json_array_size(json_object_get(m, "members")));
    }
    rc = 0;
out:
    release(m, st, key);
    return rc;
}

static int do_restore(sf_cli *cli, const cli_args *args, const snap_opts *o, sf_config *cfg)
{
    sf_snap_restore_opts ro;
    sf_error err = {0};
    sf_snap_store *st = NULL;
    sf_mask_key *key = NULL;
    json_t *m = NULL;
    double t0 = sf_monotonic();
    int rc;
    if ((rc = want_pos(cli, args, 1, 1, "one NAME[@ID]")) != 0)
        return rc;
    if (!o->to)
        return cli_usage_error(cli, "snapshot restore needs --to DSN");
    if ((rc = open_keyed(o, cfg, 1, &key, &st)) != 0)
        goto out;
    memset(&ro, 0, sizeof(ro));
    ro.ref = args->pos[1];
    ro.to_dsn = o->to;
    ro.jobs = (int)o->jobs;
    ro.key = key;
    ro.cfg = cfg;
    ro.cancel = &cli_interrupted;
    cli_catch_signals();
    if (sf_snapshot_restore(&m, st, &ro, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (cli->json) {
        emit_json(json_pack("{s:O, s:O, s:I, s:O, s:f}", "name", json_object_get(m, "name"), "id",
                            json_object_get(m, "id"), "tables",
                            (json_int_t)json_array_size(json_object_get(m, "tables")), "rows",
                            json_object_get(m, "rows"), "seconds", sf_monotonic() - t0));
    } else if (!cli->quiet) {
        printf("%s@%s restored: %zu tables, %lld rows (%.1fs)\n", json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "id")), json_array_size(json_object_get(m, "tables")),
               (long long)json_integer_value(json_object_get(m, "rows")), sf_monotonic() - t0);
    }
    rc = 0;
out:
    release(m, st, key);
    return rc;
}

static int do_prune(sf_cli *cli, const cli_args *args, const snap_opts *o, sf_config *cfg)
{
    sf_error err = {0};
    sf_snap_store *st = NULL;
    json_t *removed = NULL, *e;
    size_t i;
    int rc;
    if ((rc = want_pos(cli, args, 1, 1, "one NAME")) != 0)
        return rc;
    if (!o->has_keep)
        return cli_usage_error(cli, "snapshot prune needs --keep N");
    if ((rc = open_store(o, cfg, &st)) != 0)
        goto out;
    if (sf_snapshot_prune(&removed, st, args->pos[1], (int)o->keep, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (cli->json) {
        emit_json(json_pack("{s:s, s:O}", "name", args->pos[1], "removed", removed));
    } else if (!cli->quiet) {
        json_array_foreach(removed, i, e) printf("removed %s@%s\n", args->pos[1], json_string_value(e));
        if (json_array_size(removed) == 0)
            printf("nothing to remove\n");
    }
    rc = 0;
out:
    json_decref(removed);
    sf_snap_store_free(st);
    return rc;
}

int cmd_snapshot(sf_cli *cli, const cli_args *args)
{
    snap_opts o;
    sf_config *cfg;
    const char *sub;
    int rc;
    if (args->npos == 0)
        return cli_usage_error(cli, "snapshot needs a subcommand: create, list, restore, verify or prune");
    if ((rc = parse(cli, args, &o)) != 0)
        return rc;
    sub = args->pos[0];
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "restore") && strcmp(sub, "verify") &&
        strcmp(sub, "prune"))
        return cli_usage_error(cli, "unknown snapshot subcommand '%s'", sub);
    if ((rc = cli_config(cli, &cfg)) != 0)
        return rc;
    if (!strcmp(sub, "create"))
        return do_create(cli, args, &o, cfg);
    if (!strcmp(sub, "list"))
        return do_list(cli, args, &o, cfg);
    if (!strcmp(sub, "restore"))
        return do_restore(cli, args, &o, cfg);
    if (!strcmp(sub, "verify"))
        return do_verify(cli, args, &o, cfg);
    return do_prune(cli, args, &o, cfg);
}
