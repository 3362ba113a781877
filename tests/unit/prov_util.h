#ifndef SF_TEST_PROV_UTIL_H
#define SF_TEST_PROV_UTIL_H
/* Test helpers for driving providers directly through a hand-built sf_resource_ctx. */

#include <jansson.h>
#include "stagefork/config.h"
#include "stagefork/provider.h"

typedef struct tprov {
    sf_env_info env;
    sf_resource_ctx ctx;
    const sf_provider *p;
    char slug[64], ident[64], id[64], state_dir[256];
    sf_buf name;
    sf_config *cfg;
} tprov;

/* A STAGEFORK_TEST_* variable; fails the test (never skips) when it is missing. */
const char *tp_env(const char *var);
/*
 * Set up a provider context for `type`, a unique env (slug derived from tag,
 * pid and a counter), resource `resource`, spec parsed from spec_json.
 */
void tp_init(tprov *t, const char *type, const char *tag, const char *resource, const char *spec_json);
/* Replace the spec (JSON text). */
void tp_spec(tprov *t, const char *spec_json);
/* Load a config from YAML text for guard tests. */
void tp_config(tprov *t, const char *yaml);
/* Run create/destroy/check; the name is computed first like the engine does. */
int tp_create(tprov *t);
int tp_destroy(tprov *t);
int tp_check(tprov *t);
/* Move the last outputs into prior_outputs (as the engine does on the next run). */
void tp_keep_outputs(tprov *t);
/* An output string (asserts present). */
const char *tp_out(tprov *t, const char *name);
void tp_free(tprov *t);
/* A scratch directory unique to this process; created. */
const char *tp_tmpdir(void);



/* A running tests/tools/faultproxy in front of upstream_url's host:port. */
typedef struct tproxy {
    int pid;
    int port;
    char url[128];   /* http://127.0.0.1:PORT */
    char log[256];   /* its request log */
} tproxy;
/* args: NULL-terminated extra arguments ("--fault", "POST/1=status:500", ...). */
void tp_proxy_start(tproxy *p, const char *upstream_url, const char *const *args);
void tp_proxy_stop(tproxy *p);
/* Lines of the proxy log containing `what`. */
int tp_proxy_count(const tproxy *p, const char *what);
#endif
