/* stagefork snapshot */
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
;

int cmd_snapshot(sf_cli *cli, const cli_args *args)
{
    (void)args;
    return cli_unavailable(cli, "snapshots arrive with issue #7");
}
