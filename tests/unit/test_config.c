#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "stagefork/config.h"
#include "stagefork/util.h"

static char *write_tmp(const char *text)
{
    static char path[64];
    int fd;
    snprintf(path, sizeof(path), "/tmp/sf-cfg-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static int load_text(sf_config **cfg, const char *text, sf_error *err, char *pathout)
{
    char *p = write_tmp(text);
    int rc = sf_config_load(cfg, p, err);
    if (pathout)
        strcpy(pathout, p);
    unlink(p);
    return rc;
}

Test(config, full_example_loads_with_typed_views)
{
    sf_config *c;
    sf_error e = {0};
    sf_buf b = SF_BUF_INIT;
    const char **list;
    setenv("SF_TEST_PGURL", "postgres://admin@db:5432/postgres", 1);
    cr_assert_eq(load_text(&c,
                           "state: postgres://state/db\n"
                           "templates: [./tpl, /etc/stagefork]\n"
                           "prefix: stg\n"
                           "snapshots: {store: s3://bucket/snaps}\n"
                           "masking: {policy: masking.yaml, key_env: MASK_KEY}\n"
                           "limits: {max_envs: 20, default_ttl: 4h, max_ttl: 3d}\n"
                           "guard:\n  protected: ['prod-*', erp_live]\n  allow_hosts: [127.0.0.1]\n"
                           "postgres:\n  admin_url: ${envvar.SF_TEST_PGURL}\n"
                           "s3: {endpoint: 'http://127.0.0.1:9000', region: eu-west-1}\n"
                           "vars:\n  hooks_api: http://hooks\n  nested: {deep: {key: 'x$${y}'}}\n",
                           &e, NULL),
                 0, "%s", e.msg);
    cr_assert_str_eq(sf_config_state(c), "postgres://state/db");
    cr_assert_str_eq(sf_config_prefix(c), "stg");
    cr_assert_eq(sf_config_template_dirs(c, &list), 2);
    cr_assert_str_eq(list[1], "/etc/stagefork");
    cr_assert_str_eq(sf_config_snapshot_store(c), "s3://bucket/snaps");
    cr_assert_str_eq(sf_config_mask_key_env(c), "MASK_KEY");
    cr_assert_eq(sf_config_max_envs(c), 20);
    cr_assert_eq(sf_config_default_ttl(c), 4 * 3600);
    cr_assert_eq(sf_config_max_ttl(c), 3 * 86400);
    cr_assert_eq(sf_config_protected(c, &list), 2);
    cr_assert_str_eq(list[0], "prod-*");
    cr_assert_eq(sf_config_get(&b, c, "postgres.admin_url", &e), 0, "%s", e.msg);
    cr_assert_str_eq(b.ptr, "postgres://admin@db:5432/postgres");
    cr_assert_eq(sf_config_get(&b, c, "vars.nested.deep.key", &e), 0);
    cr_assert_str_eq(b.ptr, "x${y}");
    cr_assert_eq(sf_config_get(&b, c, "vars.missing", &e), SF_ENOTFOUND);
    cr_assert_eq(sf_config_get(&b, c, "vars.nested", &e), SF_ECONFIG);
    sf_buf_free(&b);
    sf_config_free(c);
}

Test(config, defaults_without_a_file)
{
    sf_config *c;
    cr_assert_eq(sf_config_load(&c, NULL, NULL), 0);
    cr_assert_str_eq(sf_config_prefix(c), "sf");
    cr_assert_eq(sf_config_default_ttl(c), 8 * 3600);
    cr_assert_eq(sf_config_max_ttl(c), 7 * 86400);
    cr_assert_null(sf_config_state(c));
    sf_config_free(c);
    sf_config_free(NULL);
}

struct bad { const char *text; const char *where; const char *what; };

Test(config, errors_name_file_line_column)
{
    static const struct bad cases[] = {
        {"state: /x\nstat: /y\n", ":2:1:", "unknown key 'stat'"},
        {"limits:\n  max_ttl: 3d\n  default_ttl: 5x\n", ":3:16:", "invalid duration '5x'"},
        {"limits:\n  max_env: 3\n", ":2:3:", "unknown key 'max_env' in limits"},
        {"limits: {max_envs: many}\n", ":1:20:", "expected an integer"},
        {"prefix: SF\n", ":1:9:", "prefix must be"},
        {"vars: [1, 2]\n", ":1:7:", "vars must be a mapping"},
        {"state: /x\nstate: /y\n", ":2:1:", "duplicate key 'state'"},
        {"state: [unclosed\n", ":2:1:", "did not find expected"},
        {"limits: {default_ttl: 10d, max_ttl: 3d}\n", ":1:23:", "exceeds limits.max_ttl"},
        {"masking: {key_env: A, key_file: b}\n", ":1:10:", "not both"},
        {"- a\n- b\n", ":1:1:", "must be a mapping"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sf_config *c = (sf_config *)1;
        sf_error e = {0};
        char path[64];
        cr_assert_eq(load_text(&c, cases[i].text, &e, path), SF_ECONFIG, "case %zu: %s", i, e.msg);
        cr_assert_null(c);
        cr_assert(strncmp(e.msg, path, strlen(path)) == 0, "case %zu: %s", i, e.msg);
        cr_assert(strstr(e.msg, cases[i].where) != NULL, "case %zu: want %s in %s", i, cases[i].where, e.msg);
        cr_assert(strstr(e.msg, cases[i].what) != NULL, "case %zu: want %s in %s", i, cases[i].what, e.msg);
    }
}

Test(config, missing_file_is_not_found)
{
    sf_config *c;
    sf_error e = {0};
    cr_assert_eq(sf_config_load(&c, "/nonexistent/stagefork.yaml", &e), SF_ENOTFOUND);
    cr_assert_str_eq(e.msg, "cannot open '/nonexistent/stagefork.yaml': No such file or directory");
}

Test(config, envvar_expansion_errors)
{
    sf_config *c;
    sf_error e = {0};
    sf_buf b = SF_BUF_INIT;
    unsetenv("SF_TEST_UNSET_VAR");
    cr_assert_eq(load_text(&c, "vars:\n  a: ${envvar.SF_TEST_UNSET_VAR}\n  b: ${config.x}\n  c: ${envvar.X\n",
                           &e, NULL), 0);
    cr_assert_eq(sf_config_get(&b, c, "vars.a", &e), SF_ECONFIG);
    cr_assert(strstr(e.msg, ":2:6: environment variable SF_TEST_UNSET_VAR is not set"), "%s", e.msg);
    cr_assert_eq(sf_config_get(&b, c, "vars.b", &e), SF_ECONFIG);
    cr_assert(strstr(e.msg, "only ${envvar.NAME}"), "%s", e.msg);
    cr_assert_eq(sf_config_get(&b, c, "vars.c", &e), SF_ECONFIG);
    cr_assert(strstr(e.msg, "unterminated"), "%s", e.msg);
    sf_buf_free(&b);
    sf_config_free(c);
}

Test(yaml, anchors_aliases_and_paths)
{
    sf_yaml_doc *d;
    sf_error e = {0};
    const char *src = "base: &b {host: h, port: 5}\nuse: *b\nlist: [a, b, c]\nq: 'null'\nn: ~\n";
    cr_assert_eq(sf_yaml_load_mem(&d, "mem.yaml", src, strlen(src), &e), 0, "%s", e.msg);
    const sf_node *r = sf_yaml_root(d);
    cr_assert_str_eq(sf_node_path(r, "use.host")->str, "h");
    cr_assert_str_eq(sf_node_path(r, "list.2")->str, "c");
    cr_assert_null(sf_node_path(r, "list.3"));
    cr_assert(!sf_node_is_null(sf_node_get(r, "q")));
    cr_assert(sf_node_is_null(sf_node_get(r, "n")));
    cr_assert_eq(sf_node_get(r, "list")->line, 3);
    cr_assert_eq(sf_node_get(r, "list")->col, 7);
    sf_yaml_free(d);
    sf_yaml_free(NULL);
}

Test(yaml, deep_nesting_is_bounded)
{
    sf_yaml_doc *d;
    sf_error e = {0};
    char src[2000];
    memset(src, '[', 600);
    src[600] = '\0';
    cr_assert_eq(sf_yaml_load_mem(&d, "deep.yaml", src, strlen(src), &e), SF_ECONFIG);
    cr_assert(strstr(e.msg, "deep.yaml:1:"), "%s", e.msg);
}
