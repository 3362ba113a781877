/* ${...} interpolation: every reference kind, $${, typing, sealing, errors with positions. */
#include "envtest.h"
#include "interp.h"
#include "stagefork/config.h"
#include "stagefork/env.h"
#include "stagefork/names.h"
#include "stagefork/yaml.h"

/* Plan a template given as text (config optional); returns the rc, plan in *out. */
static int plan_text(json_t **out, const char *tpl, const char *cfgtext, const char *const *set, size_t nset,
                     sf_error *err, char tplpath[256])
{
    char dir[128];
    sf_buf p = SF_BUF_INIT, c = SF_BUF_INIT;
    sf_config *cfg = NULL;
    int rc;
    et_tmpdir(dir);
    et_file(&p, dir, "t.yaml", tpl);
    if (tplpath)
        snprintf(tplpath, 256, "%s", p.ptr);
    if (cfgtext) {
        et_file(&c, dir, "stagefork.yaml", cfgtext);
        cr_assert_eq(sf_config_load(&cfg, c.ptr, err), 0, "%s", err->msg);
    } else {
        cr_assert_eq(sf_config_load(&cfg, NULL, err), 0);
    }
    rc = sf_env_plan(out, cfg, "feature/Interp", p.ptr, set, nset, err);
    sf_config_free(cfg);
    sf_buf_free(&p);
    sf_buf_free(&c);
    et_rmrf(dir);
    return rc;
}

static json_t *res_spec(json_t *plan, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(plan, "resources"), i, r) if (!strcmp(json_string_value(json_object_get(r, "name")),
                                                                               name)) return json_object_get(r, "spec");
    cr_assert_fail("no resource %s in plan", name);
    return NULL;
}

static const char *data_str(json_t *plan, const char *res, const char *key)
{
    json_t *v = json_object_get(json_object_get(res_spec(plan, res), "data"), key);
    cr_assert(json_is_string(v), "%s.data.%s is not a string", res, key);
    return json_string_value(v);
}

Test(interp, every_reference_kind_renders_or_defers_at_plan)
{
    json_t *plan;
    sf_error err = {0};
    const char *set[] = {"who=from-set"};
    sf_buf slug = SF_BUF_INIT;
    setenv("SF_INTERP_TOKEN", "secret-token-value", 1);
    cr_assert_eq(plan_text(&plan,
                           "params:\n  who: {default: nobody}\n  dflt: {default: d-value}\n"
                           "resources:\n"
                           "  db:\n    type: test.resource\n    with:\n      record: /tmp/x.log\n"
                           "      data:\n"
                           "        branch: ${env.branch}\n        slug: ${env.slug}\n        ident: ${env.ident}\n"
                           "        id: ${env.id}\n        exp: ${env.expires_at}\n"
                           "        who: ${param.who}\n        dflt: ${param.dflt}\n"
                           "        cfg: ${config.vars.hooks_api}/x\n        cfgenv: ${config.postgres.admin_url}\n"
                           "        sec: ${secret.dbpw}\n        ev: Bearer ${envvar.SF_INTERP_TOKEN}\n"
                           "        self: http://127.0.0.1:${self.port}/\n        lit: $${env.slug} costs $$5\n"
                           "        two: ${env.slug}-${param.dflt}\n"
                           "  api:\n    type: test.resource\n    with: {record: /tmp/x.log, data: {db: '${db.url}'}}\n"
                           "outputs:\n  URL: ${api.url}\n",
                           "vars: {hooks_api: 'http://hooks.internal'}\n"
                           "postgres: {admin_url: 'postgres://admin:${envvar.SF_INTERP_TOKEN}@h/db'}\n",
                           set, 1, &err, NULL),
                 0, "%s", err.msg);
    sf_slug(&slug, "feature/Interp");
    cr_assert_str_eq(data_str(plan, "db", "branch"), "feature/Interp");
    cr_assert_str_eq(data_str(plan, "db", "slug"), slug.ptr);
    cr_assert_eq(strchr(data_str(plan, "db", "ident"), '-'), NULL);
    cr_assert_str_eq(data_str(plan, "db", "id"), "${env.id}", "env.id is only known at up");
    cr_assert_str_eq(data_str(plan, "db", "exp"), "${env.expires_at}");
    cr_assert_str_eq(data_str(plan, "db", "who"), "from-set", "--set beats the default");
    cr_assert_str_eq(data_str(plan, "db", "dflt"), "d-value");
    cr_assert_str_eq(data_str(plan, "db", "cfg"), "http://hooks.internal/x");
    cr_assert_str_eq(data_str(plan, "db", "cfgenv"), "postgres://admin:${envvar.SF_INTERP_TOKEN}@h/db",
                     "an envvar inside a config value stays a reference: never rendered into a plan or state");
    cr_assert_str_eq(data_str(plan, "db", "sec"), "${secret.dbpw}");
    cr_assert_str_eq(data_str(plan, "db", "ev"), "Bearer ${envvar.SF_INTERP_TOKEN}");
    cr_assert_str_eq(data_str(plan, "db", "self"), "http://127.0.0.1:${self.port}/");
    cr_assert_str_eq(data_str(plan, "db", "lit"), "${env.slug} costs $$5", "$${ is a literal ${, $$ alone is kept");
    {
        char want[128];
        snprintf(want, sizeof(want), "%s-d-value", slug.ptr);
        cr_assert_str_eq(data_str(plan, "db", "two"), want);
    }
    cr_assert_str_eq(data_str(plan, "api", "db"), "${db.url}");
    {
        json_t *api = json_array_get(json_object_get(plan, "resources"), 1);
        cr_assert_str_eq(json_string_value(json_object_get(api, "name")), "api");
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(api, "depends_on"), 0)), "db",
                         "${db.url} adds the edge api -> db");
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(plan, "outputs"), "URL")), "${api.url}");
    cr_assert_null(strstr(json_dumps(plan, 0), "secret-token-value"), "an envvar value leaked into the plan");
    json_decref(plan);
    sf_buf_free(&slug);
}

Test(interp, plain_scalars_are_typed_references_are_strings)
{
    json_t *plan, *d;
    sf_error err = {0};
    cr_assert_eq(plan_text(&plan,
                           "params: {n: {default: '7'}}\n"
                           "resources:\n  r:\n    type: test.resource\n    with:\n      record: /tmp/x.log\n"
                           "      data: {i: 5, q: '5', b: true, nul: ~, f: 1.5, e: 2e3, ref: '${param.n}', "
                           "big: 123456789012345678901234567890, s: 08x, neg: -3, yes: yes}\n",
                           NULL, NULL, 0, &err, NULL),
                 0, "%s", err.msg);
    d = json_object_get(res_spec(plan, "r"), "data");
    cr_assert(json_is_integer(json_object_get(d, "i")));
    cr_assert_eq(json_integer_value(json_object_get(d, "i")), 5);
    cr_assert(json_is_string(json_object_get(d, "q")), "a quoted scalar stays a string");
    cr_assert(json_is_true(json_object_get(d, "b")));
    cr_assert(json_is_null(json_object_get(d, "nul")));
    cr_assert(json_is_real(json_object_get(d, "f")));
    cr_assert(json_is_real(json_object_get(d, "e")));
    cr_assert_str_eq(json_string_value(json_object_get(d, "ref")), "7", "a reference always yields a string");
    cr_assert(json_is_string(json_object_get(d, "big")), "out of int64 range: kept as text");
    cr_assert(json_is_string(json_object_get(d, "s")));
    cr_assert_eq(json_integer_value(json_object_get(d, "neg")), -3);
    cr_assert_str_eq(json_string_value(json_object_get(d, "yes")), "yes", "YAML 1.2: yes is a string");
    json_decref(plan);
}

/* Expect a plan error whose message starts with the template path + suffix. */
static void expect_error(const char *tpl, const char *cfg, const char *where, const char *needle)
{
    json_t *plan = NULL;
    sf_error err = {0};
    char path[256], want[512];
    int rc = plan_text(&plan, tpl, cfg, NULL, 0, &err, path);
    cr_assert_eq(rc, SF_ECONFIG, "expected SF_ECONFIG, got %d (%s)", rc, err.msg);
    cr_assert_null(plan);
    if (where) {
        snprintf(want, sizeof(want), "%s:%s: ", path, where);
        cr_assert_eq(strncmp(err.msg, want, strlen(want)), 0, "'%s' does not start with '%s'", err.msg, want);
    }
    cr_assert_not_null(strstr(err.msg, needle), "'%s' does not mention '%s'", err.msg, needle);
}

#define R1 "resources:\n  r:\n    type: test.resource\n    with:\n      record: /tmp/x.log\n"

Test(interp, errors_name_file_line_column)
{
    /* line 6: the value starts at column 13, its ${ four characters later */
    expect_error(R1 "      data: abc ${nope.x}\n", NULL, "6:17", "no resource 'nope'");
    expect_error(R1 "      data: ${env.color}\n", NULL, "6:13", "env has branch, slug, ident, id and expires_at");
    expect_error(R1 "      data: ${param.missing}\n", NULL, "6:13", "unknown parameter 'missing'");
    expect_error(R1 "      data: ${config.vars.none}\n", NULL, "6:13", "no key 'vars.none'");
    expect_error(R1 "      data: ${config.vars}\n", "vars: {a: b}\n", "6:13", "is a mapping");
    expect_error(R1 "      data: ${r.url}\n", NULL, "6:13", "use ${self.url}");
    expect_error(R1 "      data: ${self.bogus}\n", NULL, "6:13", "has no output 'bogus'");
    expect_error(R1 "      data: 'x ${oops'\n", NULL, "6:16", "unterminated '${'");
    expect_error(R1 "      data: ${single}\n", NULL, "6:13", "invalid reference '${single}'");
    expect_error(R1 "      data: ${a..b}\n", NULL, "6:13", "invalid reference");
    expect_error(R1 "      data: ${r.a.b}\n", NULL, "6:13", "invalid reference");
    expect_error(R1 "      data: ${env.slug\n", NULL, "6:13", "unterminated");
    expect_error(R1 "outputs:\n  X: ${self.port}\n", NULL, "7:6", "self refers to a resource's own outputs");
    expect_error(R1 "outputs:\n  X: ${ghost.url}\n", NULL, "7:6", "no resource 'ghost'");
    expect_error(R1 "      data: ${config.vars.x}\n", "vars: {x: 'u${param.p}'}\n", NULL,
                 "only ${envvar.NAME} may be used in the configuration");
    expect_error("resources:\n  r:\n    type: nope.thing\n", NULL, "3:11", "unknown resource type 'nope.thing'");
    expect_error(R1 "  s:\n    type: test.resource\n    with: {record: /x, data: '${r.nothing}'}\n", NULL, "8:31",
                 "resource 'r' (test.resource) has no output 'nothing'");
    expect_error("params:\n  req: {description: needed}\n" R1, NULL, "2:3", "parameter 'req' has no default");
    expect_error(R1 "      bogus: 1\n", NULL, "2:3", "test.resource: unknown key 'bogus'");
}

Test(interp, multibyte_text_before_a_reference_counts_characters)
{
    expect_error(R1 "      data: \"é日${nope.x}\"\n", NULL, "6:16", "no resource 'nope'");
}

Test(interp, declared_outputs_of_a_resource_can_be_referenced)
{
    json_t *plan;
    sf_error err = {0};
    cr_assert_eq(plan_text(&plan,
                           R1 "      outputs: {extra: v}\n"
                              "  s:\n    type: test.resource\n    with: {record: /x, data: '${r.extra}'}\n",
                           NULL, NULL, 0, &err, NULL),
                 0, "%s", err.msg);
    json_decref(plan);
}

Test(interp, set_of_an_unknown_parameter_is_refused)
{
    json_t *plan = NULL;
    sf_error err = {0};
    const char *set[] = {"colour=red"};
    cr_assert_eq(plan_text(&plan, "params: {color: {default: x}}\n" R1, NULL, set, 1, &err, NULL), SF_EUSAGE);
    cr_assert_not_null(strstr(err.msg, "no parameter 'colour'"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "color"), "%s", err.msg);
}

/* Direct use of the sealing machinery: defer everything, splice, final rendering. */
static int defer_all(void *ud, const sf_ref *ref, sf_buf *value, json_t **parts, sf_error *err)
{
    (void)ud;
    (void)err;
    (void)parts;
    if (ref->kind == SF_REF_PARAM)
        return sf_buf_adds(value, "${not-a-ref}") < 0 ? SF_ENOMEM : SF_RESOLVED;
    return SF_DEFER;
}

static int final_env(void *ud, const sf_ref *ref, sf_buf *value, sf_error *err)
{
    (void)ud;
    if (ref->kind == SF_REF_SELF)
        return SF_DEFER;
    if (ref->kind != SF_REF_ENVVAR || !getenv(ref->name))
        return sf_error_set(err, SF_ECONFIG, "unset %s", ref->text);
    return sf_buf_adds(value, getenv(ref->name)) < 0 ? SF_ENOMEM : SF_RESOLVED;
}

Test(interp, sealed_values_keep_references_and_render_at_use)
{
    sf_yaml_doc *doc;
    sf_error err = {0};
    json_t *sealed, *final = NULL, *disp;
    const char *y = "a: 'Bearer ${envvar.SF_SEAL_T}'\nb: '${param.p}-$${x.y}'\nc: [1, '${self.id}']\n";
    cr_assert_eq(sf_yaml_load_mem(&doc, "m.yaml", y, strlen(y), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_interp_seal(&sealed, sf_yaml_root(doc), defer_all, NULL, &err), 0, "%s", err.msg);
    /* a value that looks like a reference stays literal text: it is never parsed again */
    cr_assert_str_eq(json_string_value(json_object_get(sealed, "b")), "${not-a-ref}-${x.y}");
    cr_assert(json_is_object(json_object_get(sealed, "a")), "a deferred reference is sealed");
    unsetenv("SF_SEAL_T");
    cr_assert_lt(sf_interp_final(&final, sealed, final_env, NULL, &err), 0, "an unset envvar fails at use");
    setenv("SF_SEAL_T", "t0k", 1);
    cr_assert_eq(sf_interp_final(&final, sealed, final_env, NULL, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(final, "a")), "Bearer t0k");
    cr_assert_str_eq(json_string_value(json_object_get(final, "b")), "${not-a-ref}-${x.y}");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(final, "c"), 1)), "${self.id}",
                     "an unknown self output stays as text");
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(final, "c"), 0)), 1);
    disp = sf_interp_display(sealed);
    cr_assert_str_eq(json_string_value(json_object_get(disp, "a")), "Bearer ${envvar.SF_SEAL_T}");
    json_decref(disp);
    json_decref(final);
    json_decref(sealed);
    sf_yaml_free(doc);
}

Test(interp, reserved_sealed_key_is_refused)
{
    expect_error(R1 "      data: {'${}': 1}\n", NULL, "6:14", "cannot be used as a key");
}
