#ifndef SF_CORE_STATE_IMPL_H
#define SF_CORE_STATE_IMPL_H
/* The state backends' vtable (internal). state.c serializes calls with st->mu. */

#include <pthread.h>
#include "stagefork/state.h"

struct sf_state_ops {
    const char *kind;
    int (*lock)(sf_state *st, const char *slug, double timeout, void **handle, sf_error *err);
    void (*unlock)(void *handle);
    int (*get)(sf_state *st, const char *slug, json_t **out, sf_error *err);
    int (*put)(sf_state *st, const char *slug, const json_t *rec, const json_t *ev, sf_error *err);
    int (*list)(sf_state *st, json_t **out, sf_error *err);
    int (*event)(sf_state *st, const json_t *ev, sf_error *err);
    int (*events)(sf_state *st, const char *slug, size_t max, json_t **out, sf_error *err);
    void (*close)(sf_state *st);
    int (*meta_get)(sf_state *st, const char *key, json_t **out, sf_error *err);
    int (*meta_put)(sf_state *st, const char *key, const json_t *val, sf_error *err);
};

struct sf_state {
    const struct sf_state_ops *ops;
    char *local;  /* directory for local files (files/<slug>) */
    pthread_mutex_t mu;
    void *impl;
};

struct sf_lock {
    sf_state *st;
    void *handle;
};

int sf_state_dir_open(sf_state *st, const char *path, sf_error *err);
int sf_state_pg_open(sf_state *st, const char *url, sf_error *err);
/* mkdir -p with mode for the directories it creates. */
int sf_state_mkdirs(const char *path, mode_t mode, sf_error *err);
/* The default state directory ($XDG_STATE_HOME/stagefork or ~/.local/state/stagefork). */
int sf_state_default_dir(sf_buf *out, sf_error *err);
/* Slugs are [a-z0-9-], 1..64: safe as file names and lock keys. */
int sf_state_check_slug(const char *slug, sf_error *err);

#endif
