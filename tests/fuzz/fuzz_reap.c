/*
 * Fuzz the reaper's reading of the state: the input is stored as an env
 * record and as the reaper's heartbeat of a directory state, then a dry-run
 * sweep decides what is due (times, statuses, resources of any shape) and
 * the heartbeat is read back (age, staleness from any interval). A dry run
 * takes no lock and changes nothing, so every input is judged the same way.
 * Invariant: a dry run never reports anything but would-delete/would-resume.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "stagefork/config.h"
#include "stagefork/env.h"
#include "stagefork/reap.h"

static char root[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The scratch state goes when the fuzzer (or the corpus replay) exits. */
static void cleanup(void)
{
    if (root[0])
        nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *sub, const uint8_t *data, size_t size)
{
    char path[128];
    int fd;
    snprintf(path, sizeof(path), "%s/%s", root, sub);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_config *cfg = NULL;
    sf_engine *e = NULL;
    sf_error err = {0};
    sf_reap_opts o;
    json_t *report = NULL, *hb = NULL, *it;
    size_t i;
    if (!root[0]) {
        char path[128];
        snprintf(root, sizeof(root), "/tmp/sf-fuzz-reap-XXXXXX");
        if (!mkdtemp(root))
            abort();
        snprintf(path, sizeof(path), "%s/envs", root);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/meta", root);
        mkdir(path, 0700);
        setenv("XDG_STATE_HOME", root, 1);
        atexit(cleanup);
    }
    put("envs/fuzzed-env.json", data, size);
    put("meta/reaper.json", data, size);
    if (sf_config_load(&cfg, NULL, &err) < 0)
        abort();
    memset(&o, 0, sizeof(o));
    o.dry_run = 1;
    if (sf_reap_sweep(&report, cfg, root, &o, &err) == 0) {
        json_array_foreach(json_object_get(report, "envs"), i, it)
        {
            const char *r = json_string_value(json_object_get(it, "result"));
            if (!r || (strcmp(r, "would-delete") != 0 && strcmp(r, "would-resume") != 0))
                abort();
        }
    }
    json_decref(report);
    if (sf_engine_new(&e, cfg, root, &err) == 0 && sf_reap_heartbeat(&hb, e) == 0 && hb) {
        json_t *stale = json_object_get(hb, "stale");
        if (stale && !json_is_boolean(stale) && !json_is_null(stale))
            abort();
    }
    json_decref(hb);
    sf_engine_free(e);
    sf_config_free(cfg);
    return 0;
}
