/* The masker's table API (as archive readers drive it), threads, the report, --check. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/mask.h"

static const char KEY[] = "masker-test-key-0123456789abcdef-0123456789";
static const char POLICY[] = "version: 1\n"
                             "tables:\n"
                             "  public.customers:\n"
                             "    email: email\n"
                             "    phone: phone\n"
                             "    name: keep\n"
                             "  public.orders:\n"
                             "    customer_email: email\n"
                             "  public.missing:\n"
                             "    email: email\n";
static const char DDL_CUSTOMERS[] = "CREATE TABLE public.customers (\n    id integer,\n    name text,\n"
                                    "    email character varying(80),\n    phone text\n);";
static const char DDL_ORDERS[] = "CREATE TABLE public.orders (id integer, customer_email character varying(80), total numeric(10,2));";

static sf_mask_policy *pol;
static sf_mask_key *key;
static sf_masker *m;

static void setup(void)
{
    sf_error err = {0};
    cr_assert_eq(sf_mask_policy_load_mem(&pol, "t.yaml", POLICY, strlen(POLICY), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_mask_key_from_bytes(&key, KEY, strlen(KEY), &err), 0, "%s", err.msg);
    cr_assert_eq(sf_masker_new(&m, pol, key, -1, &err), 0);
    cr_assert_eq(sf_masker_ddl(m, DDL_CUSTOMERS, strlen(DDL_CUSTOMERS)), 0);
    cr_assert_eq(sf_masker_ddl(m, DDL_ORDERS, strlen(DDL_ORDERS)), 0);
}

static void teardown(void)
{
    sf_masker_free(m);
    sf_mask_key_free(key);
    sf_mask_policy_free(pol);
}

TestSuite(masker, .init = setup, .fini = teardown);

static const char COPY_CUSTOMERS[] = "COPY public.customers (id, name, email, phone) FROM stdin;";
static const char COPY_ORDERS[] = "COPY public.orders (id, customer_email, total) FROM stdin;";

Test(masker, table_api_masks_lines)
{
    sf_mask_table *t;
    sf_buf out = SF_BUF_INIT;
    const char *line = "7\tAnn\tann@x.org\t+1 (555) 010-9999";
    cr_assert_eq(sf_masker_table_begin(m, &t, COPY_CUSTOMERS, strlen(COPY_CUSTOMERS)), 0, "%s",
                 sf_masker_error(m)->msg);
    cr_assert(!sf_mask_table_identity(t));
    cr_assert_eq(sf_mask_table_line(t, line, strlen(line), &out), 0, "%s", sf_mask_table_error(t)->msg);
    cr_assert_eq(strncmp(out.ptr, "7\tAnn\t", 6), 0, "%s", out.ptr);
    cr_assert(strstr(out.ptr, "@example.com\t+"), "%s", out.ptr);
    cr_assert_null(strstr(out.ptr, "ann@x.org"));
    cr_assert_eq(strlen(strrchr(out.ptr, '\t')), strlen("\t+1 (555) 010-9999"), "phone keeps its layout");
    /* errors on a handle without a known line say "row N" */
    sf_buf_clear(&out);
    cr_assert_eq(sf_mask_table_line(t, "8\tBob", 5, &out), SF_EFORMAT);
    cr_assert_str_eq(sf_mask_table_error(t)->msg, "row 2: table public.customers: row has 2 fields, expected 4");
    cr_assert_eq(sf_mask_table_end(t), 0);
    sf_buf_free(&out);
}

Test(masker, identity_table_and_unknown_table)
{
    sf_mask_table *t;
    const char *c = "COPY public.lookup (code, label) FROM stdin;";
    sf_buf out = SF_BUF_INIT;
    cr_assert_eq(sf_masker_table_begin(m, &t, c, strlen(c)), 0, "%s", sf_masker_error(m)->msg);
    cr_assert(sf_mask_table_identity(t));
    cr_assert_eq(sf_mask_table_line(t, "a\\x\tb", 5, &out), 0);
    cr_assert_str_eq(out.ptr, "a\\x\tb");
    sf_mask_table_abort(t);
    sf_buf_free(&out);
}

Test(masker, strict_refuses_before_any_row)
{
    sf_mask_table *t = (sf_mask_table *)1;
    const char *c = "COPY public.customers (id, name, email, phone, fax) FROM stdin;";
    cr_assert_eq(sf_masker_table_begin(m, &t, c, strlen(c)), SF_EPOLICY);
    cr_assert_null(t);
    cr_assert(strstr(sf_masker_error(m)->msg, "public.customers.fax"), "%s", sf_masker_error(m)->msg);
}

Test(masker, copy_with_options_cannot_be_masked)
{
    sf_mask_table *t;
    const char *c = "COPY public.customers (id, name, email, phone) FROM stdin WITH (FORMAT csv);";
    cr_assert_eq(sf_masker_table_begin(m, &t, c, strlen(c)), SF_EFORMAT);
    cr_assert(strstr(sf_masker_error(m)->msg, "only the default text format"), "%s", sf_masker_error(m)->msg);
}

typedef struct worker {
    int id;
    char *out;
    int rc;
} worker;

#define ROWS 3000

/* One worker masks one table's rows, like an archive reader's thread. */
static void *work(void *arg)
{
    worker *w = arg;
    sf_mask_table *t;
    sf_buf out = SF_BUF_INIT, line = SF_BUF_INIT;
    const char *head = w->id % 2 ? COPY_ORDERS : COPY_CUSTOMERS;
    w->rc = sf_masker_table_begin(m, &t, head, strlen(head));
    if (w->rc)
        return NULL;
    for (int i = 0; i < ROWS && w->rc == 0; i++) {
        sf_buf_clear(&line);
        if (w->id % 2)
            sf_buf_addf(&line, "%d\tc%d@shop.example\t%d.50", i, i, i);
        else
            sf_buf_addf(&line, "%d\tName %d\tc%d@shop.example\t+49 30 %07d", i, i, i, i);
        w->rc = sf_mask_table_line(t, line.ptr, line.len, &out);
        sf_buf_addc(&out, '\n');
    }
    if (w->rc == 0)
        w->rc = sf_mask_table_end(t);
    else
        sf_mask_table_abort(t);
    w->out = sf_buf_detach(&out, NULL);
    sf_buf_free(&line);
    return NULL;
}

Test(masker, tables_in_parallel_threads)
{
    pthread_t th[8];
    worker w[8];
    sf_buf rep = SF_BUF_INIT;
    for (int i = 0; i < 8; i++) {
        w[i].id = i;
        w[i].out = NULL;
        cr_assert_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].rc, 0, "worker %d: %s", i, sf_masker_error(m)->msg);
    }
    /* same table, same rows, same key: identical output in every thread */
    for (int i = 2; i < 8; i++)
        cr_assert_str_eq(w[i].out, w[i % 2].out, "worker %d", i);
    /* the masked email of customer row i equals the masked customer_email of order row i */
    {
        char *c = w[0].out, *o = w[1].out;
        for (int i = 0; i < ROWS; i++) {
            char *ce = strchr(strchr(c, '\t') + 1, '\t') + 1, *oe = strchr(o, '\t') + 1;
            cr_assert_eq(strncmp(ce, oe, (size_t)(strchr(oe, '\t') - oe)), 0, "row %d joins", i);
            c = strchr(c, '\n') + 1;
            o = strchr(o, '\n') + 1;
        }
    }
    cr_assert_eq(sf_masker_report_json(m, &rep), 0);
    cr_assert(strstr(rep.ptr, "\"rows\": 24000"), "%s", rep.ptr);
    cr_assert(strstr(rep.ptr, "\"rows\": 12000"), "%s", rep.ptr);
    for (int i = 0; i < 8; i++)
        free(w[i].out);
    sf_buf_free(&rep);
}

Test(masker, report_fields)
{
    sf_mask_table *t;
    sf_buf out = SF_BUF_INIT, rep = SF_BUF_INIT;
    char fp[64];
    cr_assert_eq(sf_masker_table_begin(m, &t, COPY_CUSTOMERS, strlen(COPY_CUSTOMERS)), 0);
    cr_assert_eq(sf_mask_table_line(t, "1\tA\ta@b.c\t\\N", strlen("1\tA\ta@b.c\t\\N"), &out), 0);
    cr_assert_eq(sf_mask_table_line(t, "2\tB\t\\N\t\\N", strlen("2\tB\t\\N\t\\N"), &out), 0);
    cr_assert_eq(sf_mask_table_end(t), 0);
    cr_assert_eq(sf_masker_report_json(m, &rep), 0);
    snprintf(fp, sizeof(fp), "\"key_fingerprint\": \"%s\"", sf_mask_key_fingerprint(key));
    cr_assert(strstr(rep.ptr, fp), "%s", rep.ptr);
    cr_assert(strstr(rep.ptr, sf_mask_policy_sha256(pol)));
    cr_assert(strstr(rep.ptr, "\"name\": \"email\",\n          \"rule\": \"email\",\n          \"masked\": 1,\n"
                              "          \"nulls\": 1"),
              "%s", rep.ptr);
    cr_assert(strstr(rep.ptr, "\"name\": \"phone\",\n          \"rule\": \"digits\",\n          \"masked\": 0,\n"
                              "          \"nulls\": 2"),
              "%s", rep.ptr);
    cr_assert_null(strstr(rep.ptr, KEY));
    sf_buf_free(&out);
    sf_buf_free(&rep);
}

Test(masker, check_lists_every_column)
{
    const char *dump = "CREATE TABLE public.customers (id integer, name text, email character varying(80), phone text,"
                       " fax text, total numeric GENERATED ALWAYS AS (id * 2) STORED);\n"
                       "COPY public.customers (id, name, email, phone, fax) FROM stdin;\n1\ta\tb\tc\td\n\\.\n"
                       "COPY public.nocreate (x, contact) FROM stdin;\n\\.\n";
    FILE *f = tmpfile();
    char path[64];
    sf_buf out = SF_BUF_INIT;
    sf_masker *c;
    sf_error err = {0};
    int rc;
    fputs(dump, f);
    fflush(f);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(f));
    cr_assert_eq(sf_masker_new(&c, pol, NULL, 1, &err), 0);
    rc = sf_mask_check(c, SF_MASK_FORMAT_PLAIN, path, &out);
    cr_assert_eq(rc, SF_EPOLICY, "%s", sf_masker_error(c)->msg);
    cr_assert(strstr(sf_masker_error(c)->msg, "2 sensitive columns"), "%s", sf_masker_error(c)->msg);
    cr_assert_str_eq(out.ptr, "public.customers.id\tinteger\tnot sensitive\n"
                              "public.customers.name\ttext\tkeep\n"
                              "public.customers.email\tcharacter varying(80)\temail\n"
                              "public.customers.phone\ttext\tdigits\n"
                              "public.customers.fax\ttext\tsensitive, no rule\n"
                              "public.customers.total\tnumeric\tgenerated (computed on restore)\n"
                              "public.nocreate.x\tunknown\tnot sensitive\n"
                              "public.nocreate.contact\tunknown\tsensitive, no rule\n");
    sf_masker_free(c);
    sf_buf_free(&out);
    fclose(f);
}

Test(masker, format_names)
{
    cr_assert_eq(sf_mask_format_parse("custom"), SF_MASK_FORMAT_CUSTOM);
    cr_assert_eq(sf_mask_format_parse("auto"), SF_MASK_FORMAT_AUTO);
    cr_assert_eq(sf_mask_format_parse("zip"), -1);
    cr_assert_eq(sf_mask_format_parse(NULL), -1);
    cr_assert_str_eq(sf_mask_format_name(SF_MASK_FORMAT_DIRECTORY), "directory");
    sf_masker_free(NULL);
}
