#ifndef SF_CMD_ENVCLI_H
#define SF_CMD_ENVCLI_H
/* Shared by the environment verbs (up down list status outputs extend plan). */

#include "cli.h"
#include "stagefork/env.h"
#include "stagefork/state.h"
#include "stagefork/template.h"

/* Open the engine over the configured state; on failure prints and returns the exit code. */
int envcli_open(sf_cli *cli, sf_engine **out);
/* SIGINT/SIGTERM set the engine's cancel flag once; a second one ends the process. */
void envcli_catch_signals(sf_engine *e);
/* Collect the values of option `id` (e.g. every --set) into a malloc'd array. */
const char **envcli_collect(const cli_args *args, int id, size_t *n);
/* Print one JSON document on stdout. */
void envcli_print_json(const json_t *v);
/* Human view of a record: identity, resources table, outputs (secrets redacted). */
void envcli_print_env(const json_t *rec, int show_outputs);
/* The record as the up --json view, printed; returns 0 or an exit code. */
int envcli_print_view(const json_t *rec);
/* One "reaper  last sweep …" line from the reaper's heartbeat (STALE when a --watch reaper is late). */
void envcli_print_reaper(sf_engine *e);
/* Exactly one positional BRANCH; otherwise a usage error (returns 2). */
int envcli_branch(const sf_cli *cli, const cli_args *args, const char **branch);

#endif
