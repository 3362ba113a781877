/* Template loading: structure, unknown keys with positions, lookup by name or path. */
#include "envtest.h"
#include "stagefork/config.h"
#include "stagefork/template.h"
#include "stagefork/util.h"

static int load(sf_template **t, const char *text, sf_error *err)
{
    return sf_template_load_mem(t, "mem.yaml", text, strlen(text), err);
}

static void expect(const char *text, const char *prefix, const char *needle)
{
    sf_template *t = NULL;
    sf_error err = {0};
    cr_assert_eq(load(&t, text, &err), SF_ECONFIG, "expected an error for:\n%s", text);
    cr_assert_null(t);
    cr_assert_eq(strncmp(err.msg, prefix, strlen(prefix)), 0, "'%s' does not start with '%s'", err.msg, prefix);
    cr_assert_not_null(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
}

Test(template, full_example_loads)
{
    sf_template *t;
    sf_error err = {0};
    cr_assert_eq(load(&t,
                      "name: distribution\ndescription: Orders\nttl: 8h\n"
                      "params:\n  replicas: {default: \"1\"}\n  short: two\n  req:\n"
                      "resources:\n"
                      "  erp:\n    type: postgres.database\n    with:\n      server: ${config.postgres.admin_url}\n"
                      "  api:\n    type: process.service\n    depends_on: erp\n"
                      "  hook-1:\n    type: http.resource\n    depends_on: [erp, api]\n"
                      "outputs:\n  DATABASE_URL: ${erp.url}\n",
                      &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(sf_template_name(t), "distribution");
    cr_assert_str_eq(sf_template_description(t), "Orders");
    cr_assert_eq(sf_template_ttl(t), 8 * 3600);
    cr_assert_eq(sf_template_nresources(t), 3);
    cr_assert_str_eq(sf_template_resource_name(t, 2), "hook-1");
    cr_assert_str_eq(sf_template_resource_type(t, 0), "postgres.database");
    cr_assert_null(sf_template_resource_name(t, 3));
    sf_template_free(t);
    sf_template_free(NULL);
}

Test(template, structural_errors_have_positions)
{
    expect("nme: x\nresources: {a: {type: t}}\n", "mem.yaml:1:1: ", "unknown key 'nme' in the template");
    expect("resources:\n  a:\n    type: t\n    wiht: {}\n", "mem.yaml:4:5: ", "unknown key 'wiht' in a resource");
    expect("resources:\n  a:\n    with: {}\n", "mem.yaml:3:5: ", "resource 'a' has no type");
    expect("resources:\n  a: {type: [x]}\n", "mem.yaml:2:13: ", "type must be a scalar");
    expect("resources:\n  a: {type: t, with: [1]}\n", "mem.yaml:2:22: ", "with must be a mapping");
    expect("resources:\n  a: {type: t, depends_on: {x: 1}}\n", "mem.yaml:2:28: ", "depends_on must be a sequence");
    expect("resources:\n  env: {type: t}\n", "mem.yaml:2:3: ", "invalid resource name 'env'");
    expect("resources:\n  'a.b': {type: t}\n", "mem.yaml:2:3: ", "invalid resource name 'a.b'");
    expect("resources:\n  9a: {type: t}\n", "mem.yaml:2:3: ", "invalid resource name");
    expect("resources: {a: {type: t}}\noutputs:\n  bad-name: x\n", "mem.yaml:3:3: ", "invalid output name 'bad-name'");
    expect("resources: {a: {type: t}}\noutputs:\n  X: [1]\n", "mem.yaml:3:6: ", "an output must be a scalar");
    expect("resources: {a: {type: t}}\nttl: forever\n", "mem.yaml:2:6: ", "ttl: invalid duration 'forever'");
    expect("resources: {a: {type: t}}\nparams:\n  p: {default: x, descr: y}\n", "mem.yaml:3:19: ",
           "unknown key 'descr' in a parameter");
    expect("resources: {a: {type: t}}\nparams:\n  p: {default: [x]}\n", "mem.yaml:3:16: ", "default must be a scalar");
    expect("resources: {a: {type: t, with: {x: 'a ${b'}}}\n", "mem.yaml:1:", "unterminated");
    expect("resources: {}\n", "mem.yaml:1:12: ", "declares no resources");
    expect("- a\n- b\n", "mem.yaml:1:1: ", "a template must be a mapping");
    expect("resources: {a: {type: t}, a: {type: u}}\n", "mem.yaml:1:", "duplicate key 'a'");
}

Test(template, lookup_by_name_in_config_dirs_then_templates_then_path)
{
    char dir[128], cwd[512];
    sf_buf p = SF_BUF_INIT, out = SF_BUF_INIT;
    sf_config *cfg;
    sf_error err = {0};
    sf_template *t;
    et_tmpdir(dir);
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(dir), 0);
    cr_assert_eq(mkdir("mine", 0700), 0);
    cr_assert_eq(mkdir("templates", 0700), 0);
    cr_assert_eq(mkdir("templates/stack", 0700), 0);
    et_write("mine/erp.yml", "resources: {a: {type: t}}\n");
    et_write("templates/erp.yaml", "name: shadowed\nresources: {a: {type: t}}\n");
    et_write("templates/stack/stack.yaml", "resources: {a: {type: t}}\n");
    et_write("loose.yaml", "resources: {a: {type: t}}\n");
    et_file(&p, dir, "cfg.yaml", "templates: [mine]\n");
    cr_assert_eq(sf_config_load(&cfg, p.ptr, &err), 0, "%s", err.msg);

    cr_assert_eq(sf_template_find(&out, "erp", cfg, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out.ptr, "mine/erp.yml", "config templates: dirs come before ./templates");
    cr_assert_eq(sf_template_load(&t, "erp", cfg, &err), 0, "%s", err.msg);
    cr_assert_str_eq(sf_template_name(t), "erp", "no name: the file stem");
    sf_template_free(t);
    cr_assert_eq(sf_template_load(&t, "stack", cfg, &err), 0, "%s", err.msg);
    cr_assert_str_eq(sf_template_name(t), "stack", "a directory template is named after the directory");
    cr_assert_str_eq(sf_template_path(t), "templates/stack/stack.yaml");
    sf_template_free(t);
    cr_assert_eq(sf_template_find(&out, "templates/stack", cfg, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out.ptr, "templates/stack/stack.yaml", "a directory path means its stack.yaml");
    cr_assert_eq(sf_template_find(&out, "loose.yaml", cfg, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out.ptr, "loose.yaml");
    cr_assert_eq(sf_template_find(&out, "nothere", cfg, &err), SF_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "template 'nothere' not found"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "mine, templates"), "%s", err.msg);
    cr_assert_eq(sf_template_load(&t, "nothere", cfg, &err), SF_ECONFIG, "a missing template is a usage error");
    cr_assert_eq(sf_template_load(&t, "./missing.yaml", cfg, &err), SF_ECONFIG);
    cr_assert_not_null(strstr(err.msg, "missing.yaml"), "%s", err.msg);

    cr_assert_eq(chdir(cwd), 0);
    sf_config_free(cfg);
    sf_buf_free(&p);
    sf_buf_free(&out);
    et_rmrf(dir);
}
