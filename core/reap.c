/* The reaper: one sweep over the state, expired envs torn down, interrupted ones resumed, a heartbeat stored. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "env_impl.h"
#include "stagefork/reap.h"
#include "stagefork/util.h"

#define HEARTBEAT_KEY "reaper"

enum { ACT_NONE, ACT_EXPIRED, ACT_FINISH_DOWN, ACT_RESUME_UP };

struct cand {
    char *branch, *slug, *since;
    int act;
    int64_t when; /* expiry, or last update of an interrupted env: ordering key */
};

struct sweep {
    const sf_reap_opts *o;
    int64_t grace;
    struct cand *c;
    size_t n, limit, next; /* candidates; how many this sweep acts on; the next to hand out */
    sf_engine **eng;
    size_t neng;
    json_t **items;        /* per candidate, NULL while not handled */
    pthread_mutex_t mu;
    char who[300];         /* "host pid N", for audit events */
};

/* ACT_* for rec at `now`; *since = the time the decision rests on (borrowed from rec). */
static int classify(const json_t *rec, int64_t now, int64_t grace, const char **since, int64_t *when)
{
    const char *st = rec ? sf_rec_str(rec, "status") : NULL;
    const char *exp = rec ? sf_rec_str(rec, "expires_at") : NULL;
    const char *upd = rec ? sf_rec_str(rec, "updated_at") : NULL;
    int64_t t;
    if (!st || !strcmp(st, "deleted"))
        return ACT_NONE;
    if (exp && sf_time_parse(&t, exp, NULL) == 0 && t <= now) {
        *since = exp;
        *when = t;
        return ACT_EXPIRED;
    }
    if ((!strcmp(st, "creating") || !strcmp(st, "deleting")) && upd && sf_time_parse(&t, upd, NULL) == 0 &&
        t + grace <= now) {
        *since = upd;
        *when = t;
        return !strcmp(st, "deleting") ? ACT_FINISH_DOWN : ACT_RESUME_UP;
    }
    return ACT_NONE;
}

static const char *act_action(int act) { return act == ACT_RESUME_UP ? "resume" : "delete"; }
static const char *act_reason(int act) { return act == ACT_EXPIRED ? "expired" : "interrupted"; }

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    /* expired envs first (most overdue first), then interrupted ones (oldest first) */
    int ex = x->act == ACT_EXPIRED, ey = y->act == ACT_EXPIRED;
    if (ex != ey)
        return ey - ex;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return strcmp(x->slug, y->slug);
}

static void cands_free(struct cand *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].branch);
        free(c[i].slug);
        free(c[i].since);
    }
    free(c);
}

/* The candidates of a listing, ordered; *n of them. */
static int collect(struct cand **out, size_t *n, const json_t *list, int64_t now, int64_t grace, sf_error *err)
{
    struct cand *c = calloc(json_array_size(list) + 1, sizeof(*c));
    size_t i, k = 0;
    json_t *r;
    *out = NULL;
    *n = 0;
    if (!c)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    json_array_foreach(list, i, r)
    {
        const char *since = NULL;
        int64_t when = 0;
        int act = classify(r, now, grace, &since, &when);
        if (act == ACT_NONE || !sf_rec_str(r, "branch") || !sf_rec_str(r, "slug"))
            continue;
        c[k].branch = strdup(sf_rec_str(r, "branch"));
        c[k].slug = strdup(sf_rec_str(r, "slug"));
        c[k].since = strdup(since);
        c[k].act = act;
        c[k].when = when;
        if (!c[k].branch || !c[k].slug || !c[k].since) {
            cands_free(c, k + 1);
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        }
        k++;
    }
    if (k > 1)
        qsort(c, k, sizeof(*c), cand_cmp);
    *out = c;
    *n = k;
    return 0;
}

/* [{name, type, id}] of resources; `want_deleted` picks deleted ones, else the others (with their error). */
static json_t *resource_list(const json_t *rec, const json_t *before, int want_deleted)
{
    json_t *arr = json_array(), *r;
    size_t i;
    json_array_foreach(json_object_get(rec, "resources"), i, r)
    {
        const char *st = sf_rec_str(r, "status"), *name = sf_rec_str(r, "name");
        int deleted = st && !strcmp(st, "deleted");
        json_t *o;
        if (deleted != want_deleted || !name)
            continue;
        if (want_deleted && before) { /* removed by this sweep, not long ago */
            json_t *b = sf_rec_resource(before, name);
            const char *bst = b ? sf_rec_str(b, "status") : NULL;
            if (!b || (bst && !strcmp(bst, "deleted")))
                continue;
        }
        o = json_pack("{s:s, s:s, s:s}", "name", name, "type", sf_rec_str(r, "type") ? sf_rec_str(r, "type") : "",
                      "id", sf_rec_str(r, "physical") ? sf_rec_str(r, "physical") : "");
        if (o && !want_deleted && sf_rec_str(r, "error"))
            json_object_set_new(o, "error", sf_json_text(sf_rec_str(r, "error")));
        if (o)
            json_array_append_new(arr, o);
    }
    return arr;
}

struct job {
    struct sweep *s;
    sf_engine *e;
    const struct cand *c;
    json_t *before;   /* the record as found under the lock */
    const char *why;  /* set when the decision no longer holds */
};

/* Under the env's lock: does the decision taken from the listing still hold? */
static int still_due(const json_t *rec, void *ud)
{
    struct job *j = ud;
    const char *since = NULL;
    int64_t when;
    sf_error err = {0};
    json_t *ev;
    sf_buf detail = SF_BUF_INIT;
    if (!rec || strcmp(sf_rec_str(rec, "branch") ? sf_rec_str(rec, "branch") : "", j->c->branch) != 0) {
        j->why = "already gone";
        return 0;
    }
    if (classify(rec, sf_now(), j->s->grace, &since, &when) != j->c->act) {
        const char *st = sf_rec_str(rec, "status");
        j->why = st && !strcmp(st, "deleted") ? "already deleted by another process"
                                               : "changed since the sweep began (extended, finished or resumed)";
        return 0;
    }
    j->before = json_deep_copy(rec);
    sf_buf_addf(&detail, "%s %s since %s (reaper %s)", act_action(j->c->act), act_reason(j->c->act), since, j->s->who);
    ev = sf_state_event_new("reap", j->c->slug, NULL, j->c->act == ACT_RESUME_UP ? "resuming" : "reaping", detail.ptr);
    if (!ev || sf_state_event(j->e->st, ev, &err) < 0)
        sf_log(SF_LOG_WARN, "reap: cannot record the audit event for '%s': %s", j->c->slug,
               err.msg[0] ? err.msg : "out of memory");
    json_decref(ev);
    sf_buf_free(&detail);
    return 1;
}

static json_t *item_new(const struct cand *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "branch", c->branch, "slug", c->slug, "action", act_action(c->act),
                     "reason", act_reason(c->act), "since", c->since);
}

/* Handle one candidate with engine e; returns its report item. */
static json_t *handle(struct sweep *s, sf_engine *e, const struct cand *c)
{
    struct job j = {s, e, c, NULL, NULL};
    struct sf_env_cond cond = {still_due, &j, 0};
    json_t *item = item_new(c), *rec = NULL;
    int rc;
    if (!item)
        return NULL;
    if (c->act == ACT_RESUME_UP) {
        sf_up_opts uo;
        memset(&uo, 0, sizeof(uo));
        uo.keep_ttl = 1;
        rc = sf_env_up_if(&rec, e, c->branch, &uo, &cond);
    } else {
        rc = sf_env_down_if(&rec, e, c->branch, 0, &cond);
    }
    if (rc == SF_ELOCK) {
        json_object_set_new(item, "result", json_string("skipped"));
        json_object_set_new(item, "detail", json_string("in use by another process (lock held); left for it"));
    } else if (rc == 0 && cond.skipped) {
        json_object_set_new(item, "result", json_string("skipped"));
        json_object_set_new(item, "detail", json_string(j.why ? j.why : "no longer due"));
    } else if (rc == 0 && !rec) {
        json_object_set_new(item, "result", json_string("skipped"));
        json_object_set_new(item, "detail", json_string("already gone"));
    } else if (c->act == ACT_RESUME_UP) {
        json_object_set_new(item, "result", json_string(rc == 0 ? "resumed" : "failed"));
        if (rec)
            json_object_set_new(item, "remaining", resource_list(rec, NULL, 0));
    } else {
        json_object_set_new(item, "result", json_string(rc == 0 ? "deleted" : rc == SF_EINCOMPLETE ? "incomplete"
                                                                                                    : "failed"));
        if (rec) {
            json_object_set_new(item, "removed", resource_list(rec, j.before, 1));
            if (rc < 0)
                json_object_set_new(item, "remaining", resource_list(rec, NULL, 0));
        }
    }
    if (rc < 0 && rc != SF_ELOCK)
        json_object_set_new(item, "error", sf_json_text(sf_engine_error(e)->msg));
    json_decref(rec);
    json_decref(j.before);
    return item;
}

struct worker {
    struct sweep *s;
    sf_engine *e;
    pthread_t th;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct sweep *s = w->s;
    for (;;) {
        size_t i;
        json_t *item;
        pthread_mutex_lock(&s->mu);
        if (s->next >= s->limit || (s->o->stop && *s->o->stop)) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        i = s->next++;
        pthread_mutex_unlock(&s->mu);
        item = handle(s, w->e, &s->c[i]);
        pthread_mutex_lock(&s->mu);
        s->items[i] = item;
        if (item && s->o->on_env)
            s->o->on_env(item, s->o->ud);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Run the candidates on up to s->neng threads, one engine each; the calling thread is one of them. */
static void run_workers(struct sweep *s)
{
    struct worker *w = calloc(s->neng, sizeof(*w));
    size_t started = 0;
    if (!w) {
        struct worker one = {s, s->eng[0], 0};
        work(&one);
        return;
    }
    for (size_t k = 0; k < s->neng; k++) {
        w[k].s = s;
        w[k].e = s->eng[k];
    }
    while (started + 1 < s->neng && pthread_create(&w[started + 1].th, NULL, work, &w[started + 1]) == 0)
        started++;
    work(&w[0]);
    for (size_t k = 1; k <= started; k++)
        pthread_join(w[k].th, NULL);
    free(w);
}

static void set_count(json_t *counts, const char *key, size_t v)
{
    json_object_set_new(counts, key, json_integer((json_int_t)v));
}

/* Store the heartbeat; a failure is logged, never fatal to the sweep. */
static void store_heartbeat(sf_engine *e, const json_t *report, const sf_reap_opts *o)
{
    char host[256] = "";
    sf_error err = {0};
    json_t *hb;
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    hb = json_pack("{s:O, s:O, s:O, s:s, s:I, s:O, s:s}", "last_sweep", json_object_get(report, "finished_at"),
                   "started_at", json_object_get(report, "started_at"), "seconds",
                   json_object_get(report, "seconds"), "host", host, "pid", (json_int_t)getpid(), "counts",
                   json_object_get(report, "counts"), "version", sf_version());
    if (!hb)
        return;
    json_object_set_new(hb, "interval", o->interval > 0 ? json_real(o->interval) : json_null());
    if (sf_state_meta_put(e->st, HEARTBEAT_KEY, hb, &err) < 0)
        sf_log(SF_LOG_ERROR, "reap: cannot store the heartbeat: %s", err.msg);
    json_decref(hb);
}

/* The report's counts and the sweep's return code from the items. */
static int summarize(json_t *counts, const struct sweep *s, sf_error *err)
{
    static const char *const keys[] = {"deleted", "resumed", "incomplete", "failed", "skipped"};
    size_t n[5] = {0}, handled = 0, bad_down = 0, bad_up = 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *res = s->items[i] ? json_string_value(json_object_get(s->items[i], "result")) : NULL;
        if (!res)
            continue;
        handled++;
        for (size_t k = 0; k < 5; k++)
            if (!strcmp(res, keys[k]))
                n[k]++;
        if (!strcmp(res, "incomplete") || !strcmp(res, "failed"))
            *(s->c[i].act == ACT_RESUME_UP ? &bad_up : &bad_down) += 1;
    }
    set_count(counts, "candidates", s->n);
    for (size_t k = 0; k < 5; k++)
        set_count(counts, keys[k], n[k]);
    set_count(counts, "deferred", s->n - handled);
    if (bad_down)
        return sf_error_set(err, SF_EINCOMPLETE,
                            "%zu environment%s could not be fully removed (kept in the state; the next sweep retries)",
                            bad_down, bad_down == 1 ? "" : "s");
    if (bad_up)
        return sf_error_set(err, SF_EIO, "%zu interrupted environment%s could not be resumed", bad_up,
                            bad_up == 1 ? "" : "s");
    return 0;
}

/* One engine per worker, each with a try-lock; fewer when the state refuses more connections. */
static int open_engines(struct sweep *s, const sf_config *cfg, const char *state_url, size_t par, sf_error *err)
{
    if (!(s->eng = calloc(par, sizeof(*s->eng))))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (; s->neng < par; s->neng++) {
        sf_error eerr = {0};
        if (sf_engine_new(&s->eng[s->neng], cfg, state_url, &eerr) < 0) {
            if (s->neng == 0)
                return sf_error_copy(err, &eerr);
            sf_log(SF_LOG_WARN, "reap: working on %zu environments at once, not %zu: %s", s->neng, par, eerr.msg);
            break;
        }
        sf_engine_set_lock_timeout(s->eng[s->neng], 0); /* an env in use is left to its holder */
    }
    return 0;
}

/*
 * One sweep (reap.h): list, pick what is due, hand it to per-worker engines
 * (each with a try-lock), summarize, store the heartbeat. The report and
 * its items are new objects owned by the caller; candidates that were not
 * handled (stop, --max) are counted as deferred, not listed.
 */
int sf_reap_sweep(json_t **out, const sf_config *cfg, const char *state_url, const sf_reap_opts *o, sf_error *err)
{
    struct sweep s;
    sf_engine *main_e = NULL;
    json_t *list = NULL, *report = NULL, *envs = NULL, *counts = NULL;
    double t0 = sf_monotonic();
    char started[SF_TIME_LEN], finished[SF_TIME_LEN], host[256] = "";
    int rc;

    *out = NULL;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    s.o = o;
    s.grace = o->grace > 0 ? o->grace : SF_REAP_DEFAULT_GRACE;
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    snprintf(s.who, sizeof(s.who), "%s pid %ld", host, (long)getpid());
    sf_time_format(started, sf_now());

    if ((rc = sf_engine_new(&main_e, cfg, state_url, err)) < 0)
        goto out;
    if ((rc = sf_state_list(&list, main_e->st, err)) < 0)
        goto out;
    if ((rc = collect(&s.c, &s.n, list, sf_now(), s.grace, err)) < 0)
        goto out;
    s.limit = o->max && o->max < s.n ? o->max : s.n;
    if (!(s.items = calloc(s.n + 1, sizeof(*s.items)))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if (o->dry_run) {
        for (size_t i = 0; i < s.limit; i++) {
            if (!(s.items[i] = item_new(&s.c[i])))
                continue;
            json_object_set_new(s.items[i], "result",
                                json_string(s.c[i].act == ACT_RESUME_UP ? "would-resume" : "would-delete"));
            if (o->on_env)
                o->on_env(s.items[i], o->ud);
        }
    } else if (s.limit > 0) {
        size_t par = o->parallel ? o->parallel : SF_REAP_DEFAULT_PARALLEL;
        if ((rc = open_engines(&s, cfg, state_url, par < s.limit ? par : s.limit, err)) < 0)
            goto out;
        run_workers(&s);
    }

    if (!(report = json_object()) || !(envs = json_array()) || !(counts = json_object())) {
        json_decref(envs);
        json_decref(counts);
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s.n; i++)
        if (s.items[i])
            json_array_append(envs, s.items[i]);
    rc = summarize(counts, &s, err);
    sf_time_format(finished, sf_now());
    json_object_set_new(report, "dry_run", json_boolean(o->dry_run));
    json_object_set_new(report, "started_at", json_string(started));
    json_object_set_new(report, "finished_at", json_string(finished));
    json_object_set_new(report, "seconds", json_real((double)(long long)((sf_monotonic() - t0) * 1000) / 1000.0));
    json_object_set_new(report, "counts", counts);
    json_object_set_new(report, "envs", envs);
    if (!o->dry_run)
        store_heartbeat(main_e, report, o);
    *out = report;
    report = NULL;
out:
    for (size_t i = 0; s.items && i < s.n; i++)
        json_decref(s.items[i]);
    free(s.items);
    for (size_t k = 0; k < s.neng; k++)
        sf_engine_free(s.eng[k]);
    free(s.eng);
    cands_free(s.c, s.n);
    json_decref(list);
    json_decref(report);
    sf_engine_free(main_e);
    pthread_mutex_destroy(&s.mu);
    return rc;
}

/*
 * The stored heartbeat plus age and staleness computed now (reap.h); a
 * missing one is success with *out = NULL, since a state no reaper has
 * swept yet is a fact to show, not an error.
 */
int sf_reap_heartbeat(json_t **out, sf_engine *e)
{
    json_t *hb;
    int64_t t;
    int rc;
    *out = NULL;
    sf_error_clear(&e->err);
    rc = sf_state_meta_get(&hb, e->st, HEARTBEAT_KEY, &e->err);
    if (rc == SF_ENOTFOUND) {
        sf_error_clear(&e->err);
        return 0;
    }
    if (rc < 0)
        return rc;
    if (sf_rec_str(hb, "last_sweep") && sf_time_parse(&t, sf_rec_str(hb, "last_sweep"), NULL) == 0) {
        int64_t age = sf_now() - t;
        double iv = json_number_value(json_object_get(hb, "interval"));
        json_object_set_new(hb, "age", json_integer(age));
        json_object_set_new(hb, "stale", iv > 0 ? json_boolean((double)age > 3 * iv + 60) : json_null());
    }
    *out = hb;
    return 0;
}
