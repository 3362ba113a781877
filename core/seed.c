/* The public seeding API (stagefork/seed.h): spec handle, profiles, parameters, seed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "file.h"
#include "seed_internal.h"
#include "stagefork/util.h"

#define SPEC_MAX (64u << 20)

static int open_text(sf_seed **out, const char *name, const char *data, size_t len, sf_error *err)
{
    sf_seed *s = calloc(1, sizeof(*s));
    int rc;
    *out = NULL;
    if (!s || !(s->file = strdup(name))) {
        free(s);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    s->seed = 1;
    sf_sha256_hex(s->sha256, data, len);
    if ((rc = sf_yaml_load_mem(&s->doc, name, data, len, err)) < 0) {
        sf_seed_free(s);
        return rc;
    }
    if ((rc = seed_spec_parse(s, sf_yaml_root(s->doc))) < 0) {
        sf_error_copy(err, &s->err);
        sf_seed_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/*
 * Parse and statically validate a spec file. The file's bytes are hashed
 * for content keys; the YAML tree stays alive for file:line:column in
 * errors found later (parameters, target catalog).
 */
int sf_seed_open(sf_seed **out, const char *path, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    int rc;
    *out = NULL;
    if ((rc = sf_file_read(&b, path, SPEC_MAX, err)) == 0)
        rc = open_text(out, path, b.ptr, b.len, err);
    sf_buf_free(&b);
    return rc;
}

/* sf_seed_open on text in memory; `name` stands for the file in messages. */
int sf_seed_open_mem(sf_seed **out, const char *name, const char *yaml, size_t len, sf_error *err)
{
    return open_text(out, name, yaml, len, err);
}

/* Free a spec handle (NULL is a no-op). */
void sf_seed_free(sf_seed *s)
{
    if (!s)
        return;
    seed_spec_free_model(s);
    sf_yaml_free(s->doc);
    free(s->file);
    free(s);
}

/* The handle's last error (borrowed; valid until the next call). */
const sf_error *sf_seed_error(const sf_seed *s)
{
    return &s->err;
}

/* Hex SHA-256 of the spec bytes (borrowed). */
const char *sf_seed_sha256(const sf_seed *s)
{
    return s->sha256;
}

/* Profiles in file order. */
size_t sf_seed_profile_count(const sf_seed *s)
{
    return s->nprofiles;
}

/* Profile i's name (borrowed), NULL past the end. */
const char *sf_seed_profile_name(const sf_seed *s, size_t i)
{
    return i < s->nprofiles ? s->profiles[i].name : NULL;
}

static void profile_list(const sf_seed *s, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->nprofiles && off < cap; i++) {
        int w = snprintf(out + off, cap - off, "%s%s", i ? ", " : "", s->profiles[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (!s->nprofiles)
        snprintf(out, cap, "none");
}

/* Apply "a,b": all names are checked before any parameter changes. */
int sf_seed_use_profiles(sf_seed *s, const char *names)
{
    size_t idx[64], n = 0;
    const char *p = names;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p), i;
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (!len)
            return sf_error_set(&s->err, SF_EUSAGE, "empty profile name in '%s'", names);
        for (i = 0; i < s->nprofiles; i++)
            if (strlen(s->profiles[i].name) == len && memcmp(s->profiles[i].name, p, len) == 0)
                break;
        if (i == s->nprofiles) {
            char list[512];
            profile_list(s, list, sizeof(list));
            return sf_error_set(&s->err, SF_EUSAGE, "unknown profile '%.*s' (profiles in '%s': %s)", (int)len, p,
                                s->file, list);
        }
        if (n == sizeof(idx) / sizeof(idx[0]))
            return sf_error_set(&s->err, SF_EUSAGE, "too many profiles in '%s'", names);
        idx[n++] = i;
        p += len;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return sf_error_set(&s->err, SF_EUSAGE, "bad profile list '%s'", names);
        if (*p == '\0' && p[-1] == ',')
            return sf_error_set(&s->err, SF_EUSAGE, "empty profile name in '%s'", names);
    }
    for (size_t k = 0; k < n; k++) {
        const seed_profile *pr = &s->profiles[idx[k]];
        for (size_t j = 0; j < pr->nset; j++) {
            s->params[pr->param[j]].val = pr->vals[j].val;
            s->params[pr->param[j]].has_val = 1;
        }
    }
    s->resolved = 0;
    return 0;
}

/* --set PARAM=VALUE: a declared parameter and a finite number, else SF_EUSAGE (nothing changes). */
int sf_seed_set(sf_seed *s, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    char *end;
    double v;
    int i;
    if (!eq || eq == assignment)
        return sf_error_set(&s->err, SF_EUSAGE, "--set expects PARAM=VALUE, got '%s'", assignment);
    i = seed_param_find(s, assignment, (size_t)(eq - assignment));
    if (i < 0) {
        sf_buf list = SF_BUF_INIT;
        for (size_t k = 0; k < s->nparams; k++)
            sf_buf_addf(&list, "%s%s", k ? ", " : "", s->params[k].name);
        sf_error_set(&s->err, SF_EUSAGE, "unknown parameter '%.*s' (parameters in '%s': %s)",
                     (int)(eq - assignment), assignment, s->file, list.len ? list.ptr : "none");
        sf_buf_free(&list);
        return SF_EUSAGE;
    }
    errno = 0;
    v = strtod(eq + 1, &end);
    if (errno || end == eq + 1 || *end || !isfinite(v))
        return sf_error_set(&s->err, SF_EUSAGE, "--set %s: '%s' is not a number", s->params[i].name, eq + 1);
    s->params[i].val = v;
    s->params[i].has_val = 1;
    s->resolved = 0;
    return 0;
}

/* The random seed; changes every generated value. */
void sf_seed_set_random(sf_seed *s, uint64_t seed)
{
    s->seed = seed;
    s->resolved = 0;
}

/* Evaluate the run (seed_plan.c); errors name the spec position. */
int sf_seed_resolve(sf_seed *s)
{
    sf_error_clear(&s->err);
    return seed_plan_resolve(s);
}

/* Tables in spec order. */
size_t sf_seed_table_count(const sf_seed *s)
{
    return s->ntables;
}

/* A table's display name and resolved row count (-1 before sf_seed_resolve). */
int sf_seed_table_info(const sf_seed *s, size_t i, const char **name, int64_t *rows)
{
    if (i >= s->ntables)
        return SF_EUSAGE;
    if (name)
        *name = s->tables[i].display;
    if (rows)
        *rows = s->resolved ? s->tables[i].nrows : -1;
    return 0;
}
