/* extend, get, list, events: the small verbs over env records. */
#include <stdlib.h>
#include <string.h>
#include "env_impl.h"
#include "stagefork/util.h"

int sf_env_get(json_t **out, sf_engine *e, const char *branch)
{
    struct sf_env_names names;
    int rc;
    *out = NULL;
    sf_error_clear(&e->err);
    if ((rc = sf_env_names_init(&names, branch, &e->err)) < 0)
        return rc;
    rc = sf_rec_load(out, e, branch, names.slug.ptr, 1, &e->err);
    if (rc == SF_ENOTFOUND)
        sf_error_set(&e->err, SF_ENOTFOUND, "no environment for branch '%s'", branch);
    sf_env_names_free(&names);
    return rc;
}

int sf_env_events(json_t **out, sf_engine *e, const char *branch, size_t max)
{
    struct sf_env_names names;
    int rc;
    *out = NULL;
    sf_error_clear(&e->err);
    if ((rc = sf_env_names_init(&names, branch, &e->err)) < 0)
        return rc;
    rc = sf_state_events(out, e->st, names.slug.ptr, max, &e->err);
    sf_env_names_free(&names);
    return rc;
}

int sf_env_list(json_t **out, sf_engine *e, unsigned flags)
{
    json_t *all, *keep, *r;
    size_t i;
    int64_t now = sf_now();
    int rc;
    *out = NULL;
    sf_error_clear(&e->err);
    if ((rc = sf_state_list(&all, e->st, &e->err)) < 0)
        return rc;
    if (!(keep = json_array())) {
        json_decref(all);
        return sf_error_set(&e->err, SF_ENOMEM, "out of memory");
    }
    json_array_foreach(all, i, r)
    {
        const char *st = sf_rec_str(r, "status"), *exp = sf_rec_str(r, "expires_at");
        int deleted = st && !strcmp(st, "deleted");
        int64_t t;
        if (deleted && !(flags & SF_LIST_ALL))
            continue;
        if (flags & SF_LIST_EXPIRED) {
            if (deleted || !exp || sf_time_parse(&t, exp, NULL) < 0 || t > now)
                continue;
        }
        json_array_append(keep, r);
    }
    json_decref(all);
    *out = keep;
    return 0;
}

int sf_env_extend(json_t **out, sf_engine *e, const char *branch, int64_t ttl)
{
    struct sf_env_names names;
    sf_lock *lock = NULL;
    json_t *rec = NULL;
    int64_t expires;
    char dur[32];
    int rc;
    *out = NULL;
    sf_error_clear(&e->err);
    if ((rc = sf_env_names_init(&names, branch, &e->err)) < 0)
        return rc;
    if ((rc = sf_env_ttl(&expires, e->cfg, ttl, 0, sf_now(), &e->err)) < 0)
        goto out;
    if ((rc = sf_state_lock(&lock, e->st, names.slug.ptr, e->lock_timeout, &e->err)) < 0)
        goto out;
    rc = sf_rec_load(&rec, e, branch, names.slug.ptr, 1, &e->err);
    if (rc == 0 && !strcmp(sf_rec_str(rec, "status"), "deleted"))
        rc = SF_ENOTFOUND;
    if (rc == SF_ENOTFOUND) {
        sf_error_set(&e->err, SF_ENOTFOUND, "no environment for branch '%s'", branch);
        goto out;
    }
    if (rc < 0)
        goto out;
    sf_rec_set_time(rec, "expires_at", expires);
    sf_duration_format(dur, ttl);
    if ((rc = sf_rec_save(e, rec, "extend", NULL, "extended", dur, &e->err)) < 0)
        goto out;
    *out = json_incref(rec);
out:
    json_decref(rec);
    sf_lock_free(lock);
    sf_env_names_free(&names);
    return rc;
}
