/* The masking policy file: accepted forms, and errors with exact file:line:column. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "policy.h"
#include "rowmask.h"
#include "stagefork/mask.h"
#include "stagefork/util.h"

static int load(sf_mask_policy **pol, const char *text, sf_error *err)
{
    memset(err, 0, sizeof(*err));
    return sf_mask_policy_load_mem(pol, "p.yaml", text, strlen(text), err);
}

/* The policy must fail with exactly this message. */
static void fails(const char *text, const char *msg)
{
    sf_mask_policy *pol = (sf_mask_policy *)1;
    sf_error e;
    cr_assert_eq(load(&pol, text, &e), SF_ECONFIG, "accepted: %s", text);
    cr_assert_null(pol);
    cr_assert_str_eq(e.msg, msg, "for: %s", text);
}

/* The policy must fail with a message starting with this. */
static void fails_prefix(const char *text, const char *prefix)
{
    sf_mask_policy *pol;
    sf_error e;
    cr_assert_eq(load(&pol, text, &e), SF_ECONFIG, "accepted: %s", text);
    cr_assert_eq(strncmp(e.msg, prefix, strlen(prefix)), 0, "got '%s', expected a message starting '%s'", e.msg, prefix);
}

static const sf_rule *rule(const sf_mask_policy *pol, const char *schema, const char *table, const char *col)
{
    const sf_policy_table *t = sf_policy_find(pol, schema, table);
    cr_assert_not_null(t, "no table %s.%s", schema, table);
    for (size_t i = 0; i < t->nrules; i++)
        if (strcmp(t->rules[i].column, col) == 0)
            return &t->rules[i];
    cr_assert_fail("no rule for %s.%s.%s", schema, table, col);
    return NULL;
}

Test(policy, spec_example_loads)
{
    const char *text = "version: 1\n"
                       "strict: true\n"
                       "key: {env: STAGEFORK_MASK_KEY}\n"
                       "sensitive: [email, phone, fax, name]\n"
                       "tables:\n"
                       "  public.customers:\n"
                       "    email: email\n"
                       "    contact_name: name\n"
                       "    phone: phone\n"
                       "    tax_id: digits\n"
                       "    credit_limit: {noise: 0.10}\n"
                       "    notes: null\n"
                       "    country: keep\n"
                       "  public.order_lines:\n"
                       "    unit_price: {noise: 0.05, by: sku}\n"
                       "    line_total: {expr: \"qty * unit_price\"}\n";
    sf_mask_policy *pol;
    sf_error e;
    char sha[65];
    const sf_rule *r;
    cr_assert_eq(load(&pol, text, &e), 0, "%s", e.msg);
    sf_sha256_hex(sha, text, strlen(text));
    cr_assert_str_eq(sf_mask_policy_sha256(pol), sha);
    cr_assert_eq(sf_mask_policy_strict(pol), 1);
    cr_assert_str_eq(sf_mask_policy_key_env(pol), "STAGEFORK_MASK_KEY");
    cr_assert_null(sf_mask_policy_key_file(pol));
    cr_assert_eq(sf_mask_policy_ntables(pol), 2);
    cr_assert_str_eq(sf_mask_policy_table_schema(pol, 1), "public");
    cr_assert_str_eq(sf_mask_policy_table_name(pol, 1), "order_lines");
    cr_assert_null(sf_mask_policy_table_name(pol, 2));
    r = rule(pol, "public", "customers", "phone");
    cr_assert_eq(r->kind, SF_RULE_DIGITS);
    cr_assert_str_eq(r->sig, "digits|keep_leading=0");
    cr_assert_eq(rule(pol, "public", "customers", "notes")->kind, SF_RULE_NULL);
    r = rule(pol, "public", "customers", "credit_limit");
    cr_assert_eq(r->noise_p, 100000000u);
    cr_assert_null(r->by);
    r = rule(pol, "public", "order_lines", "unit_price");
    cr_assert_eq(r->noise_p, 50000000u);
    cr_assert_str_eq(r->by, "sku");
    cr_assert_str_eq(r->sig, "noise|p=50000000"); /* by: is not part of the subkey */
    cr_assert_str_eq(rule(pol, "public", "order_lines", "line_total")->expr, "qty * unit_price");
    cr_assert(sf_policy_is_sensitive(pol, "Contact_EMail"));
    cr_assert(sf_policy_is_sensitive(pol, "FAX_no"));
    cr_assert(!sf_policy_is_sensitive(pol, "street")); /* the list replaces the default */
    sf_mask_policy_free(pol);
    sf_mask_policy_free(NULL);
}

Test(policy, defaults)
{
    sf_mask_policy *pol;
    sf_error e;
    static const char *const def[] = {"email", "phone", "fax", "name", "contact", "address", "street", "city", "postal",
                                      "zip", "tax", "iban", "account", "price", "cost", "salary", "birth", "credit"};
    cr_assert_eq(load(&pol, "version: 1\n", &e), 0, "%s", e.msg);
    cr_assert_eq(sf_mask_policy_strict(pol), 1);
    cr_assert_null(sf_mask_policy_key_env(pol));
    cr_assert_null(sf_mask_policy_key_file(pol));
    cr_assert_eq(sf_mask_policy_ntables(pol), 0);
    for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++) {
        char col[64];
        snprintf(col, sizeof(col), "X_%s_Y", def[i]);
        for (char *c = col; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        cr_assert(sf_policy_is_sensitive(pol, col), "%s", col);
    }
    cr_assert(!sf_policy_is_sensitive(pol, "id"));
    cr_assert(!sf_policy_is_sensitive(pol, "qty"));
    sf_mask_policy_free(pol);
    cr_assert_eq(load(&pol, "version: 1\nstrict: no\nsensitive: []\nkey: {file: /etc/k}\n", &e), 0, "%s", e.msg);
    cr_assert_eq(sf_mask_policy_strict(pol), 0);
    cr_assert(!sf_policy_is_sensitive(pol, "email"));
    cr_assert_str_eq(sf_mask_policy_key_file(pol), "/etc/k");
    sf_mask_policy_free(pol);
}

Test(policy, sql_identifier_rules_for_tables_and_columns)
{
    const char *text = "version: 1\n"
                       "tables:\n"
                       "  erp.\"Supplier Contacts\":\n"
                       "    \"E-Mail\": email\n"
                       "    '\"Full Name\"': name\n"
                       "    Phone: phone\n"
                       "    \"Mixed\": keep\n"
                       "  Customers:\n"
                       "    EMAIL: email\n"
                       "  '\"Odd\"\"Schema\".\"t 1\"':\n";
    sf_mask_policy *pol;
    sf_error e;
    cr_assert_eq(load(&pol, text, &e), 0, "%s", e.msg);
    cr_assert_not_null(sf_policy_find(pol, "erp", "Supplier Contacts"));
    cr_assert_null(sf_policy_find(pol, "erp", "supplier contacts"));
    cr_assert_eq(rule(pol, "erp", "Supplier Contacts", "E-Mail")->kind, SF_RULE_EMAIL);
    cr_assert_eq(rule(pol, "erp", "Supplier Contacts", "Full Name")->kind, SF_RULE_NAME);
    cr_assert_eq(rule(pol, "erp", "Supplier Contacts", "phone")->kind, SF_RULE_DIGITS);
    cr_assert_eq(rule(pol, "erp", "Supplier Contacts", "Mixed")->kind, SF_RULE_KEEP);
    cr_assert_eq(rule(pol, "public", "customers", "email")->kind, SF_RULE_EMAIL);
    cr_assert_not_null(sf_policy_find(pol, "Odd\"Schema", "t 1"));
    cr_assert_eq(sf_policy_find(pol, "Odd\"Schema", "t 1")->nrules, 0);
    sf_mask_policy_free(pol);
}

Test(policy, rule_forms_and_parameters)
{
    const char *text = "version: 1\n"
                       "tables:\n"
                       "  t:\n"
                       "    a: {token: {prefix: \"C-\", length: 24}}\n"
                       "    b: token\n"
                       "    c: {email: {domain: Example.ORG}}\n"
                       "    d: {date_shift: {days: 30, by: customer_id}}\n"
                       "    e: {date_shift: 7, by: x}\n"
                       "    f: {fixed: 0}\n"
                       "    g: {fixed: ''}\n"
                       "    h: {digits: {keep_leading: 3}}\n"
                       "    i: {alnum: null}\n"
                       "    j: ~\n"
                       "    k: \"null\"\n"
                       "    l: {noise: 1}\n"
                       "    m: {noise: .000000001}\n"
                       "    n: {city: {}}\n";
    sf_mask_policy *pol;
    sf_error e;
    const sf_rule *r;
    cr_assert_eq(load(&pol, text, &e), 0, "%s", e.msg);
    r = rule(pol, "public", "t", "a");
    cr_assert_str_eq(r->prefix, "C-");
    cr_assert_eq(r->length, 24);
    cr_assert_str_eq(r->sig, "token|prefix=C-|length=24");
    cr_assert_eq(rule(pol, "public", "t", "b")->length, SF_TOKEN_DEFAULT_LEN);
    cr_assert_str_eq(rule(pol, "public", "t", "c")->domain, "example.org");
    r = rule(pol, "public", "t", "d");
    cr_assert_eq(r->days, 30);
    cr_assert_str_eq(r->by, "customer_id");
    cr_assert_str_eq(r->sig, "date_shift|days=30");
    r = rule(pol, "public", "t", "e");
    cr_assert_eq(r->days, 7);
    cr_assert_str_eq(r->by, "x");
    cr_assert_str_eq(rule(pol, "public", "t", "f")->fixed, "0");
    cr_assert_eq(rule(pol, "public", "t", "g")->fixed_len, 0);
    cr_assert_eq(rule(pol, "public", "t", "h")->keep_leading, 3);
    cr_assert_eq(rule(pol, "public", "t", "i")->kind, SF_RULE_ALNUM);
    cr_assert_eq(rule(pol, "public", "t", "j")->kind, SF_RULE_NULL);
    cr_assert_eq(rule(pol, "public", "t", "k")->kind, SF_RULE_NULL);
    cr_assert_eq(rule(pol, "public", "t", "l")->noise_p, SF_NOISE_SCALE);
    cr_assert_eq(rule(pol, "public", "t", "m")->noise_p, 1u);
    cr_assert_eq(rule(pol, "public", "t", "n")->kind, SF_RULE_CITY);
    sf_mask_policy_free(pol);
}

#define RULES "keep, null, fixed, token, email, name, first_name, last_name, company, street, city, digits, phone, alnum, noise, date_shift, expr"

Test(policy, top_level_errors_name_file_line_column)
{
    fails("strict: false\n", "p.yaml:1:1: missing 'version: 1'");
    fails("version: 2\n", "p.yaml:1:10: unsupported policy version '2' (expected 1)");
    fails("version: one\n", "p.yaml:1:10: unsupported policy version 'one' (expected 1)");
    fails("version: 1\nstric: true\n",
          "p.yaml:2:1: unknown key 'stric' in the policy (expected version, strict, key, sensitive, tables)");
    fails("version: 1\nstrict: maybe\n", "p.yaml:2:9: expected true or false, got 'maybe'");
    fails("- a\n- b\n", "p.yaml:1:1: a masking policy must be a mapping, not a sequence");
    fails("version: 1\nkey: {env: A, file: B}\n", "p.yaml:2:6: key needs exactly one of env: VAR or file: PATH");
    fails("version: 1\nkey: {envv: A}\n", "p.yaml:2:7: unknown key 'envv' in key (expected env, file)");
    fails("version: 1\nkey: {env: ''}\n", "p.yaml:2:12: key env must not be empty");
    fails("version: 1\nkey: STAGEFORK_KEY\n", "p.yaml:2:6: key must be a mapping, not a scalar");
    fails("version: 1\nsensitive: email\n",
          "p.yaml:2:12: sensitive must be a sequence of column-name substrings, not a scalar");
    fails("version: 1\nsensitive: [email, '']\n", "p.yaml:2:20: an empty sensitive substring would match every column");
    fails("version: 1\ntables: [a]\n", "p.yaml:2:9: tables must be a mapping, not a sequence");
}

Test(policy, table_and_column_errors)
{
    fails("version: 1\ntables:\n  public.customers:\n    email: email\n  Customers:\n    phone: phone\n",
          "p.yaml:5:3: table public.customers is listed twice (also as 'public.customers' at line 3)");
    fails("version: 1\ntables:\n  erp.\"Supplier Contacts\": {}\n  'erp.\"Supplier Contacts\" ': {}\n",
          "p.yaml:4:3: table erp.\"Supplier Contacts\" is listed twice (also as 'erp.\"Supplier Contacts\"' at line 3)");
    fails("version: 1\ntables:\n  a.b.c:\n    x: keep\n",
          "p.yaml:3:3: 'a.b.c' is not a valid table name (schema.table, quoted like SQL: erp.\"Supplier Contacts\")");
    fails("version: 1\ntables:\n  t: [email]\n", "p.yaml:3:6: a table's rules must be a mapping, not a sequence");
    fails("version: 1\ntables:\n  t:\n    E-Mail: email\n",
          "p.yaml:4:5: column 'E-Mail' is not a valid column name (quote it like SQL: '\"E-Mail\"')");
    fails("version: 1\ntables:\n  t:\n    Email: email\n    email: token\n",
          "p.yaml:5:5: column email has two rules (the other at line 4)");
}

Test(policy, rule_errors)
{
    fails("version: 1\ntables:\n  customers:\n    email: emial\n",
          "p.yaml:4:12: unknown rule 'emial' (expected one of: " RULES ")");
    fails("version: 1\ntables:\n  t:\n    notes:\n", "p.yaml:4:11: missing rule (expected one of: " RULES ")");
    fails("version: 1\ntables:\n  t:\n    a: fixed\n", "p.yaml:4:8: rule fixed needs parameters, e.g. {fixed: ...}");
    fails("version: 1\ntables:\n  t:\n    a: noise\n", "p.yaml:4:8: rule noise needs parameters, e.g. {noise: ...}");
    fails("version: 1\ntables:\n  t:\n    a: [email]\n", "p.yaml:4:8: a rule must be a name or a mapping, not a sequence");
    fails("version: 1\ntables:\n  t:\n    a: {email: null, token: null}\n",
          "p.yaml:4:22: a rule mapping names one rule; 'token' follows 'email'");
    fails("version: 1\ntables:\n  t:\n    a: {emial: null}\n",
          "p.yaml:4:9: unknown rule 'emial' (expected one of: " RULES ")");
    fails("version: 1\ntables:\n  t:\n    a: {by: x}\n", "p.yaml:4:8: missing rule (expected one of: " RULES ")");
    fails("version: 1\ntables:\n  t:\n    a: {email: null, by: x}\n", "p.yaml:4:26: by: applies only to noise and date_shift");
    fails("version: 1\ntables:\n  t:\n    a: {noise: 0.1, by: a}\n", "p.yaml:4:25: by: names the column itself; leave it out");
    fails("version: 1\ntables:\n  t:\n    a: {fixed: null}\n",
          "p.yaml:4:16: fixed needs a value (use the rule null for NULL)");
    fails("version: 1\ntables:\n  t:\n    a: {fixed: [1]}\n", "p.yaml:4:16: fixed value must be a scalar, not a sequence");
    fails("version: 1\ntables:\n  t:\n    a: {name: x}\n", "p.yaml:4:15: rule name takes no parameters");
}

Test(policy, parameter_range_errors)
{
    fails("version: 1\ntables:\n  t:\n    a: {noise: 1.5}\n", "p.yaml:4:16: noise must be in (0, 1], got 1.5");
    fails("version: 1\ntables:\n  t:\n    a: {noise: 0}\n", "p.yaml:4:16: noise must be in (0, 1], got 0");
    fails("version: 1\ntables:\n  t:\n    a: {noise: -0.1}\n", "p.yaml:4:16: noise must be a number in (0, 1], got '-0.1'");
    fails("version: 1\ntables:\n  t:\n    a: {noise: 10%}\n", "p.yaml:4:16: noise must be a number in (0, 1], got '10%'");
    fails("version: 1\ntables:\n  t:\n    a: {noise: 0.0000000001}\n",
          "p.yaml:4:16: noise '0.0000000001' has more than 9 decimals");
    fails("version: 1\ntables:\n  t:\n    a: {noise: {p: 1}}\n",
          "p.yaml:4:16: noise must be a number in (0, 1], not a mapping");
    fails("version: 1\ntables:\n  t:\n    a: {date_shift: {days: 0}}\n", "p.yaml:4:28: date_shift days must be an integer from 1 to 36500");
    fails("version: 1\ntables:\n  t:\n    a: {date_shift: 40000}\n",
          "p.yaml:4:21: date_shift days must be an integer from 1 to 36500");
    fails("version: 1\ntables:\n  t:\n    a: {date_shift: {by: x}}\n", "p.yaml:4:21: date_shift needs days: N");
    fails("version: 1\ntables:\n  t:\n    a: {date_shift: {days: 3, offset: 2}}\n",
          "p.yaml:4:31: unknown key 'offset' in date_shift (expected days, by)");
    fails("version: 1\ntables:\n  t:\n    a: {token: {length: 10}}\n",
          "p.yaml:4:25: token length must be an integer from 16 to 64");
    fails("version: 1\ntables:\n  t:\n    a: {token: {length: 65}}\n",
          "p.yaml:4:25: token length must be an integer from 16 to 64");
    fails("version: 1\ntables:\n  t:\n    a: {token: {prefix: a, size: 3}}\n",
          "p.yaml:4:28: unknown key 'size' in token (expected prefix, length)");
    fails("version: 1\ntables:\n  t:\n    a: {email: {domain: \"bad domain\"}}\n",
          "p.yaml:4:25: 'bad domain' is not a valid email domain");
    fails("version: 1\ntables:\n  t:\n    a: {email: {domain: -x.com}}\n", "p.yaml:4:25: '-x.com' is not a valid email domain");
    fails("version: 1\ntables:\n  t:\n    a: {digits: {keep_leading: -1}}\n", "p.yaml:4:32: keep_leading must be an integer from 0 to 1000");
    fails("version: 1\ntables:\n  t:\n    a: {expr: \"qty * \"}\n",
          "p.yaml:4:15: expr: expected a number, a column or '(' at offset 6");
    fails("version: 1\ntables:\n  t:\n    a: {expr: \"(qty * price\"}\n", "p.yaml:4:15: expr: expected ')' at offset 12");
    fails("version: 1\ntables:\n  t:\n    a: {expr: \"qty price\"}\n",
          "p.yaml:4:15: expr: expected an operator (+ - * /) or the end at offset 4");
    fails_prefix("version: 1\ntables:\n  t:\n    a: {expr: \"1..2\"}\n", "p.yaml:4:15: expr: malformed number");
}

Test(policy, load_from_file_positions_use_the_path)
{
    char path[] = "/tmp/sf-policy-XXXXXX";
    const char *text = "version: 1\ntables:\n  t:\n    a: {noise: 2}\n";
    sf_mask_policy *pol;
    sf_error e = {0};
    char want[128];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(sf_mask_policy_load(&pol, path, &e), SF_ECONFIG);
    snprintf(want, sizeof(want), "%s:4:16: noise must be in (0, 1], got 2", path);
    cr_assert_str_eq(e.msg, want);
    unlink(path);
    cr_assert_eq(sf_mask_policy_load(&pol, path, &e), SF_EIO);
    snprintf(want, sizeof(want), "cannot open '%s': No such file or directory", path);
    cr_assert_str_eq(e.msg, want);
}

Test(policy, fixture_policy_loads)
{
    const char *src = getenv("STAGEFORK_SRC");
    char path[4096];
    sf_mask_policy *pol;
    sf_error e = {0};
    snprintf(path, sizeof(path), "%s/tests/fixtures/masking/policy.yaml", src ? src : ".");
    cr_assert_eq(sf_mask_policy_load(&pol, path, &e), 0, "%s", e.msg);
    cr_assert_not_null(sf_policy_find(pol, "erp", "Supplier Contacts"));
    cr_assert_eq(rule(pol, "public", "order_lines", "line_total")->kind, SF_RULE_EXPR);
    sf_mask_policy_free(pol);
}
