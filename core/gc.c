/* gc: decide which prefixed resources belong to no live env, and remove them through their providers. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "env_impl.h"
#include "gc_impl.h"
#include "state_impl.h"
#include "stagefork/gc.h"
#include "stagefork/guard.h"
#include "stagefork/http.h"
#include "stagefork/names.h"
#include "stagefork/snapshot.h"
#include "stagefork/util.h"

struct gc {
    const sf_config *cfg;
    const sf_gc_opts *o;
    sf_engine *e;
    const char *prefix;
    json_t *targets;  /* report */
    json_t *found;    /* everything listed, hidden fields included */
    json_t *items;    /* report */
    json_t *live_ids; /* env id -> slug, live envs */
    json_t *id_slug;  /* env id -> slug, every record */
    json_t *live_phys;/* "type\x1fphysical" -> slug, resources of live envs not deleted */
    json_t *buckets;  /* bucket name -> {slug, id}, every record */
    int config_target_failed;
    sf_buf config_errors;
};

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int is_live(const json_t *rec)
{
    const char *st = jstr(rec, "status");
    return st && strcmp(st, "deleted") != 0;
}

/* The target as reported: URLs without passwords, a key=value DSN as its host only. */
static void shown_target(sf_buf *out, const char *kind, const char *url)
{
    sf_buf_clear(out);
    if (strstr(url, "://")) {
        if (sf_http_redact_url(out, url) == 0)
            return;
        sf_buf_clear(out);
    }
    {
        sf_buf host = SF_BUF_INIT;
        if (sf_guard_host_of(&host, url) == 0)
            sf_buf_addf(out, "%s host=%s", kind, host.ptr);
        else
            sf_buf_addf(out, "%s (unparsable address)", kind);
        sf_buf_free(&host);
    }
}

/* ---------------------------------------------------------------- targets -- */

static json_t *target_find(struct gc *g, const char *kind, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(g->targets, i, t)
    {
        const char *k = jstr(t, "kind"), *kk = jstr(t, "_key");
        if (k && kk && !strcmp(k, kind) && !strcmp(kk, key))
            return t;
    }
    return NULL;
}

/* Add a PostgreSQL server (dsn) or S3 endpoint (spec) once; key dedups. */
static void target_add(struct gc *g, const char *kind, const char *key, const char *dsn, json_t *spec,
                       const char *from)
{
    sf_buf shown = SF_BUF_INIT;
    json_t *t;
    if (target_find(g, kind, key)) {
        json_decref(spec);
        return;
    }
    shown_target(&shown, kind, dsn ? dsn : jstr(spec, "endpoint"));
    t = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "target", shown.ptr, "from", from, "_key", key);
    if (t && dsn)
        json_object_set_new(t, "_dsn", json_string(dsn));
    if (t && spec)
        json_object_set_new(t, "_spec", spec);
    else
        json_decref(spec);
    if (t)
        json_array_append_new(g->targets, t);
    sf_buf_free(&shown);
}

static void target_error(struct gc *g, const char *kind, const char *shown, const char *from, const char *msg)
{
    json_t *t = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "target", shown, "from", from, "error", msg);
    if (t)
        json_array_append_new(g->targets, t);
    if (!strcmp(from, "config")) {
        g->config_target_failed = 1;
        sf_buf_addf(&g->config_errors, "%s%s", g->config_errors.len ? "; " : "", msg);
    }
}

static void s3_add(struct gc *g, json_t *spec, const char *from)
{
    const char *ep = jstr(spec, "endpoint"), *region = jstr(spec, "region"), *ak = jstr(spec, "access_key");
    sf_buf key = SF_BUF_INIT;
    if (!ep) { /* the provider's default */
        sf_buf d = SF_BUF_INIT;
        if (!region || !strcmp(region, "us-east-1"))
            sf_buf_sets(&d, "https://s3.amazonaws.com");
        else
            sf_buf_addf(&d, "https://s3.%s.amazonaws.com", region);
        json_object_set_new(spec, "endpoint", json_string(d.ptr));
        ep = jstr(spec, "endpoint");
        sf_buf_free(&d);
    }
    sf_buf_addf(&key, "%s\x1f%s", ep, ak ? ak : "");
    target_add(g, "s3", key.ptr, NULL, spec, from);
    sf_buf_free(&key);
}

/* The configured server and endpoint (postgres.admin_url, s3.*). */
static void config_targets(struct gc *g)
{
    static const char *const s3keys[] = {"endpoint", "region", "access_key", "secret_key", "session_token"};
    sf_buf v = SF_BUF_INIT;
    sf_error err = {0};
    int rc = sf_config_get(&v, g->cfg, "postgres.admin_url", &err);
    if (rc == 0 && v.len)
        target_add(g, "postgres", v.ptr, v.ptr, NULL, "config");
    else if (rc < 0 && rc != SF_ENOTFOUND)
        target_error(g, "postgres", "postgres.admin_url", "config", err.msg);
    rc = sf_config_get(&v, g->cfg, "s3.endpoint", &err);
    if (rc == 0 && v.len) {
        json_t *spec = json_object();
        for (size_t i = 0; i < sizeof(s3keys) / sizeof(s3keys[0]); i++) {
            char path[64];
            snprintf(path, sizeof(path), "s3.%s", s3keys[i]);
            rc = sf_config_get(&v, g->cfg, path, &err);
            if (rc == 0)
                json_object_set_new(spec, s3keys[i], json_string(v.ptr));
            else if (rc != SF_ENOTFOUND)
                target_error(g, "s3", path, "config", err.msg);
        }
        s3_add(g, spec, "config");
    } else if (rc < 0 && rc != SF_ENOTFOUND) {
        target_error(g, "s3", "s3.endpoint", "config", err.msg);
    }
    sf_buf_free(&v);
}

/* The recorded spec's `keys`, rendered (envvars read now); NULL when it cannot be rendered here. */
static json_t *render_keys(const json_t *rec, const json_t *res, const char *const *keys, size_t nkeys)
{
    json_t *sealed = json_object_get(res, "spec"), *sub = json_object(), *out = NULL;
    struct sf_final f = {rec, json_object_get(res, "outputs"), 0};
    sf_error err = {0};
    if (!sub)
        return NULL;
    for (size_t i = 0; i < nkeys; i++)
        if (json_object_get(sealed, keys[i]))
            json_object_set(sub, keys[i], json_object_get(sealed, keys[i]));
    if (sf_interp_final(&out, sub, sf_final_resolve, &f, &err) < 0) {
        sf_log(SF_LOG_WARN, "gc: the %s of '%s' in env '%s' cannot be rendered here: %s", keys[0],
               jstr(res, "name") ? jstr(res, "name") : "?", jstr(rec, "slug") ? jstr(rec, "slug") : "?", err.msg);
        out = NULL;
    }
    json_decref(sub);
    return out;
}

/* Every server and endpoint the state's resources were created on (live and deleted envs). */
static void state_targets(struct gc *g, const json_t *records)
{
    static const char *const pgkeys[] = {"server"};
    static const char *const s3keys[] = {"endpoint", "region", "access_key", "secret_key", "session_token"};
    size_t i, j;
    json_t *rec, *res;
    json_array_foreach(records, i, rec) json_array_foreach(json_object_get(rec, "resources"), j, res)
    {
        const char *type = jstr(res, "type");
        json_t *spec;
        if (!type)
            continue;
        if (!strcmp(type, "postgres.database") && (spec = render_keys(rec, res, pgkeys, 1))) {
            if (jstr(spec, "server"))
                target_add(g, "postgres", jstr(spec, "server"), jstr(spec, "server"), NULL, "state");
            json_decref(spec);
        } else if (!strcmp(type, "s3.bucket") && (spec = render_keys(rec, res, s3keys, 5))) {
            s3_add(g, spec, "state");
        }
    }
}

/* guard.allow_hosts / protected hosts apply to gc's own connections too; a refused target gets an error. */
static int target_allowed(struct gc *g, json_t *t)
{
    sf_buf host = SF_BUF_INIT;
    sf_error err = {0};
    int ok = 1;
    if (sf_guard_host_of(&host, jstr(t, "_dsn") ? jstr(t, "_dsn") : jstr(json_object_get(t, "_spec"), "endpoint")) == 0 &&
        sf_guard_check(g->cfg, host.ptr, NULL, &err) < 0) {
        json_object_set_new(t, "error", json_string(err.msg));
        ok = 0;
    }
    sf_buf_free(&host);
    return ok;
}

/* List every target; errors are reported per target. */
static void scan_targets(struct gc *g)
{
    size_t i;
    json_t *t;
    json_array_foreach(g->targets, i, t)
    {
        const char *kind = jstr(t, "kind"), *shown = jstr(t, "target");
        size_t before = json_array_size(g->found);
        sf_error err = {0};
        int rc;
        if (json_object_get(t, "error") || !kind || !target_allowed(g, t))
            continue;
        if (!strcmp(kind, "postgres"))
            rc = sf_gc_scan_pg(g->found, jstr(t, "_dsn"), shown, g->prefix, &err);
        else
            rc = sf_gc_scan_s3(g->found, json_object_get(t, "_spec"), shown, g->prefix, g->cfg, &err);
        if (rc < 0) {
            const char *from = jstr(t, "from");
            json_object_set_new(t, "error", sf_json_text(err.msg));
            if (from && !strcmp(from, "config")) {
                g->config_target_failed = 1;
                sf_buf_addf(&g->config_errors, "%s%s", g->config_errors.len ? "; " : "", err.msg);
            } else {
                sf_log(SF_LOG_WARN, "gc: %s (a target known only from the state; skipped)", err.msg);
            }
        }
        json_object_set_new(t, "found", json_integer((json_int_t)(json_array_size(g->found) - before)));
    }
    {
        sf_buf files = SF_BUF_INIT;
        sf_error err = {0};
        size_t before = json_array_size(g->found);
        json_t *lt;
        sf_buf_addf(&files, "%s/files", g->e->st->local);
        lt = json_pack("{s:s, s:s, s:s}", "kind", "local", "target", files.ptr, "from", "local");
        if (sf_gc_scan_local(g->found, files.ptr, &err) < 0 && lt)
            json_object_set_new(lt, "error", sf_json_text(err.msg));
        if (lt) {
            json_object_set_new(lt, "found", json_integer((json_int_t)(json_array_size(g->found) - before)));
            json_array_append_new(g->targets, lt);
        }
        sf_buf_free(&files);
    }
}

/* -------------------------------------------------------------- ownership -- */

static void phys_key(sf_buf *out, const char *type, const char *physical)
{
    sf_buf_clear(out);
    sf_buf_addf(out, "%s\x1f%s", type, physical);
}

/* Index the records: live ids, every id's slug, live resources, every recorded bucket. */
static void index_records(struct gc *g, const json_t *records)
{
    size_t i, j;
    json_t *rec, *res;
    sf_buf k = SF_BUF_INIT;
    json_array_foreach(records, i, rec)
    {
        const char *id = jstr(rec, "id"), *slug = jstr(rec, "slug");
        int live = is_live(rec);
        if (!slug)
            continue;
        if (id) {
            json_object_set_new(g->id_slug, id, json_string(slug));
            if (live)
                json_object_set_new(g->live_ids, id, json_string(slug));
        }
        json_array_foreach(json_object_get(rec, "resources"), j, res)
        {
            const char *type = jstr(res, "type"), *phys = jstr(res, "physical"), *st = jstr(res, "status");
            if (!type || !phys)
                continue;
            if (live && (!st || strcmp(st, "deleted") != 0)) {
                phys_key(&k, type, phys);
                json_object_set_new(g->live_phys, k.ptr, json_string(slug));
            }
            if (!strcmp(type, "s3.bucket"))
                json_object_set_new(g->buckets, phys, json_pack("{s:s, s:s?}", "slug", slug, "id", id));
        }
    }
    sf_buf_free(&k);
}

/* Does the live record rec own found object o? */
static int rec_owns(const json_t *rec, const json_t *o)
{
    const char *kind = jstr(o, "kind"), *type = jstr(o, "_type"), *id = jstr(o, "env_id");
    size_t j;
    json_t *res;
    if (!rec || !is_live(rec))
        return 0;
    if (!strcmp(kind, "files"))
        return 1;
    if (id && jstr(rec, "id") && !strcmp(id, jstr(rec, "id")))
        return 1;
    json_array_foreach(json_object_get(rec, "resources"), j, res)
    {
        const char *t = jstr(res, "type"), *p = jstr(res, "physical"), *st = jstr(res, "status");
        if (t && p && type && !strcmp(t, type) && !strcmp(p, jstr(o, "name")) && (!st || strcmp(st, "deleted") != 0))
            return 1;
    }
    return 0;
}

static void item_add(struct gc *g, json_t *o, const char *result, const char *detail, const char *error)
{
    json_t *it = json_object();
    const char *k;
    json_t *v;
    if (!it)
        return;
    json_object_foreach(o, k, v) if (k[0] != '_') json_object_set(it, k, v);
    json_object_set_new(it, "result", json_string(result));
    if (detail)
        json_object_set_new(it, "detail", sf_json_text(detail));
    if (error)
        json_object_set_new(it, "error", sf_json_text(error));
    json_array_append_new(g->items, it);
}

/* 1 if o is an orphan to remove (slug set when an env's lock guards it), 0 if not ours or owned; kept ones are reported. */
static int decide(struct gc *g, json_t *o)
{
    const char *kind = jstr(o, "kind"), *name = jstr(o, "name"), *env = jstr(o, "env");
    sf_buf k = SF_BUF_INIT, host = SF_BUF_INIT;
    sf_error err = {0};
    int rc = 1;
    if (!strcmp(kind, "database") || !strcmp(kind, "role")) {
        const char *id = jstr(o, "env_id");
        if (!json_is_true(json_object_get(o, "_marked")))
            rc = 0; /* no ownership marker: not ours */
        else {
            phys_key(&k, "postgres.database", name);
            if (json_object_get(g->live_phys, k.ptr) || json_object_get(g->live_ids, id))
                rc = 0;
            else if (jstr(g->id_slug, id))
                json_object_set_new(o, "env", json_string(jstr(g->id_slug, id)));
        }
        if (rc)
            sf_guard_host_of(&host, jstr(json_object_get(o, "_spec"), "server"));
    } else if (!strcmp(kind, "bucket")) {
        json_t *h = json_object_get(g->buckets, name);
        phys_key(&k, "s3.bucket", name);
        if (json_object_get(g->live_phys, k.ptr)) {
            rc = 0;
        } else if (!h) {
            item_add(g, o, "kept", "the state has no record of this bucket (S3 buckets carry no ownership marker); "
                                   "not removed", NULL);
            rc = 0;
        } else {
            json_object_set_new(o, "env", json_string(jstr(h, "slug")));
            if (jstr(h, "id"))
                json_object_set_new(o, "env_id", json_string(jstr(h, "id")));
            sf_guard_host_of(&host, jstr(json_object_get(o, "_spec"), "endpoint"));
        }
    } else if (!strcmp(kind, "process") || !strcmp(kind, "files")) {
        json_t *rec = NULL;
        if (sf_state_get(&rec, g->e->st, env, &err) == 0 && rec_owns(rec, o))
            rc = 0;
        json_decref(rec);
    }
    if (rc && sf_guard_check(g->cfg, host.len ? host.ptr : NULL, name, &err) < 0) {
        item_add(g, o, "kept", err.msg, NULL);
        rc = 0;
    }
    sf_buf_free(&k);
    sf_buf_free(&host);
    return rc;
}

/* ---------------------------------------------------------------- removal -- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        sf_log(SF_LOG_WARN, "gc: cannot remove '%s': %s", path, strerror(errno));
    return 0;
}

/* The provider's own destroy, as if the env that made o were tearing it down. */
static int destroy(struct gc *g, json_t *o, sf_error *err)
{
    const char *type = jstr(o, "_type"), *name = jstr(o, "name"), *env = jstr(o, "env");
    const char *res = jstr(o, "resource");
    const sf_provider *p = sf_provider_find(type);
    sf_env_info info;
    sf_resource_ctx ctx;
    sf_buf ident = SF_BUF_INIT, dir = SF_BUF_INIT, resname = SF_BUF_INIT;
    json_t *prior = json_object_get(o, "_prior") ? json_incref(json_object_get(o, "_prior")) : json_object();
    int rc;
    if (!p || !p->destroy) {
        json_decref(prior);
        return sf_error_set(err, SF_ECONFIG, "no provider for type '%s' in this build", type ? type : "?");
    }
    memset(&info, 0, sizeof(info));
    memset(&ctx, 0, sizeof(ctx));
    info.slug = env ? env : "gc";
    sf_slug_ident(&ident, info.slug);
    info.branch = info.slug;
    info.ident = ident.ptr;
    info.id = jstr(o, "env_id") ? jstr(o, "env_id") : "gc";
    info.prefix = g->prefix;
    info.expires_at = -1;
    if (jstr(o, "_dir"))
        sf_buf_sets(&dir, jstr(o, "_dir"));
    else
        sf_buf_addf(&dir, "%s/files/%s", g->e->st->local, info.slug);
    info.state_dir = dir.ptr;
    if (!res) { /* process: the resource part of <prefix>-<slug>-<resource>, else the whole name */
        sf_buf_addf(&resname, "%s-%s-", g->prefix, info.slug);
        res = strncmp(name, resname.ptr, resname.len) == 0 && name[resname.len] ? name + resname.len : name;
    }
    ctx.type = type;
    ctx.resource = res;
    ctx.env = &info;
    ctx.cfg = g->cfg;
    ctx.spec = json_object_get(o, "_spec");
    ctx.prior_outputs = prior; /* "ours": gc decided so from the marker / the state */
    ctx.name = name;
    rc = p->destroy(&ctx);
    if (rc < 0) {
        if (ctx.err.code)
            sf_error_copy(err, &ctx.err);
        else
            sf_error_set(err, rc, "%s", sf_strerror(rc));
    } else if (jstr(o, "_dir")) {
        sf_buf pid = SF_BUF_INIT;
        sf_buf_addf(&pid, "%s/%s.pid", jstr(o, "_dir"), name);
        unlink(pid.ptr);
        sf_buf_free(&pid);
    }
    json_decref(ctx.outputs);
    json_decref(ctx.secrets);
    json_decref(prior);
    sf_buf_free(&ident);
    sf_buf_free(&dir);
    sf_buf_free(&resname);
    return rc;
}

/* Remove one orphan under its env's lock (when it has one), after reading that env again. */
static void collect_one(struct gc *g, json_t *o, int *failed)
{
    const char *env = jstr(o, "env"), *kind = jstr(o, "kind");
    sf_lock *lk = NULL;
    sf_error err = {0};
    json_t *rec = NULL;
    int rc;
    if (g->o->dry_run) {
        item_add(g, o, "would-remove", NULL, NULL);
        return;
    }
    if (env) {
        rc = sf_state_lock(&lk, g->e->st, env, 0, &err);
        if (rc == SF_ELOCK) {
            item_add(g, o, "skipped", "its environment is in use by another process (lock held)", NULL);
            return;
        }
        if (rc < 0) {
            item_add(g, o, "failed", NULL, err.msg);
            (*failed)++;
            return;
        }
        if (sf_state_get(&rec, g->e->st, env, &err) == 0 && rec_owns(rec, o)) {
            item_add(g, o, "skipped", "an environment owns it now", NULL);
            json_decref(rec);
            sf_lock_free(lk);
            return;
        }
        json_decref(rec);
    }
    if (!strcmp(kind, "files")) {
        nftw(jstr(o, "_dir"), rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        rc = access(jstr(o, "_dir"), F_OK) == 0 ? sf_error_set(&err, SF_EIO, "'%s' could not be removed entirely",
                                                               jstr(o, "_dir"))
                                                : 0;
    } else {
        rc = destroy(g, o, &err);
    }
    if (rc == 0) {
        item_add(g, o, "removed", NULL, NULL);
        if (env) {
            json_t *ev = sf_state_event_new("gc", env, jstr(o, "resource"), "removed", jstr(o, "name"));
            sf_error eerr = {0};
            if (ev && sf_state_event(g->e->st, ev, &eerr) < 0)
                sf_log(SF_LOG_WARN, "gc: cannot record the audit event: %s", eerr.msg);
            json_decref(ev);
        }
    } else {
        item_add(g, o, "failed", NULL, err.msg);
        (*failed)++;
    }
    sf_lock_free(lk);
}

/*
 * Golden templates nothing needs (snapshot.h: no database on the server was
 * cloned from it and it is not built from the newest snapshot of its name),
 * on every PostgreSQL target; each dropped by sf_golden_drop, which takes
 * the template's build lock and checks again, so a clone in progress is
 * never broken. Without snapshots.store nothing can be judged, and gc never
 * drops a template on a guess.
 */
static json_t *gc_templates(struct gc *g, int *failed)
{
    json_t *rep = json_object(), *t;
    size_t i, checked = 0;
    if (!rep)
        return NULL;
    json_object_set_new(rep, "supported", json_true());
    if (!sf_config_snapshot_store(g->cfg)) {
        json_object_set_new(rep, "checked", json_integer(0));
        json_object_set_new(rep, "detail", json_string("no snapshots.store in the config: golden templates were not "
                                                       "checked (gc never drops one on a guess)"));
        return rep;
    }
    json_array_foreach(g->targets, i, t)
    {
        const char *kind = jstr(t, "kind"), *dsn = jstr(t, "_dsn"), *shown = jstr(t, "target");
        json_t *list = NULL, *it;
        sf_error err = {0};
        size_t k;
        if (!kind || strcmp(kind, "postgres") != 0 || !dsn || json_object_get(t, "error") || !target_allowed(g, t))
            continue;
        checked++;
        if (sf_golden_unneeded(&list, dsn, g->cfg, &err) < 0) {
            const char *from = jstr(t, "from");
            json_object_set_new(t, "templates_error", sf_json_text(err.msg));
            if (from && !strcmp(from, "config")) {
                g->config_target_failed = 1;
                sf_buf_addf(&g->config_errors, "%s%s", g->config_errors.len ? "; " : "", err.msg);
            } else {
                sf_log(SF_LOG_WARN, "gc: golden templates on %s: %s", shown, err.msg);
            }
            continue;
        }
        json_array_foreach(list, k, it)
        {
            const char *name = jstr(it, "name");
            sf_buf host = SF_BUF_INIT;
            json_t *o;
            size_t pl = strlen(g->prefix);
            if (!name || strncmp(name, g->prefix, pl) != 0 || strncmp(name + pl, "_tpl_", 5) != 0)
                continue; /* another prefix's template: never ours to judge */
            o = json_pack("{s:s, s:s, s:s, s:s?}", "kind", "template", "target", shown, "name", name,
                                  "snapshot", jstr(it, "snapshot"));
            if (!o)
                continue;
            sf_guard_host_of(&host, dsn);
            if (sf_guard_check(g->cfg, host.len ? host.ptr : NULL, name, &err) < 0) {
                item_add(g, o, "kept", err.msg, NULL);
            } else if (g->o->dry_run) {
                item_add(g, o, "would-remove", jstr(it, "reason"), NULL);
            } else {
                int rc = sf_golden_drop(dsn, g->cfg, name, &err);
                if (rc == 0)
                    item_add(g, o, "removed", jstr(it, "reason"), NULL);
                else if (rc == SF_EEXIST)
                    item_add(g, o, "skipped", err.msg, NULL);
                else {
                    item_add(g, o, "failed", NULL, err.msg);
                    (*failed)++;
                }
            }
            sf_buf_free(&host);
            json_decref(o);
        }
        json_decref(list);
    }
    json_object_set_new(rep, "checked", json_integer((json_int_t)checked));
    return rep;
}

static void count(json_t *counts, const json_t *items)
{
    static const char *const keys[] = {"removed", "failed", "skipped", "kept", "would-remove"};
    size_t n[5] = {0}, i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *r = jstr(it, "result");
        for (size_t k = 0; r && k < 5; k++)
            if (!strcmp(r, keys[k]))
                n[k]++;
    }
    json_object_set_new(counts, "orphans", json_integer((json_int_t)(json_array_size(items) - n[3])));
    for (size_t k = 0; k < 5; k++)
        json_object_set_new(counts, keys[k], json_integer((json_int_t)n[k]));
}

/*
 * One collection (gc.h): targets from the config and the state, listings,
 * decisions against a second read of the state, removals under the owning
 * env's try-lock, then golden templates. The report is a new object; hidden
 * fields (credentials, DSNs) never reach it.
 */
int sf_gc(json_t **out, const sf_config *cfg, const char *state_url, const sf_gc_opts *o, sf_error *err)
{
    struct gc g;
    json_t *records = NULL, *report = NULL, *t, *counts, *tpl = NULL;
    size_t i;
    int rc, failed = 0;

    *out = NULL;
    memset(&g, 0, sizeof(g));
    sf_buf_init(&g.config_errors, 0);
    g.cfg = cfg;
    g.o = o;
    g.prefix = sf_config_prefix(cfg);
    g.targets = json_array();
    g.found = json_array();
    g.items = json_array();
    g.live_ids = json_object();
    g.id_slug = json_object();
    g.live_phys = json_object();
    g.buckets = json_object();
    if (!g.targets || !g.found || !g.items || !g.live_ids || !g.id_slug || !g.live_phys || !g.buckets) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = sf_engine_new(&g.e, cfg, state_url, err)) < 0)
        goto out;
    /* where to look: the config and every server/endpoint the state has used */
    if ((rc = sf_state_list(&records, g.e->st, err)) < 0)
        goto out;
    config_targets(&g);
    state_targets(&g, records);
    json_decref(records);
    records = NULL;
    if (o->orphans) {
        /* list what exists first, then read the state again to decide: intent first means any
           object listed was recorded before it was created, so a concurrent `up` is never mistaken
           for an orphan */
        scan_targets(&g);
        if ((rc = sf_state_list(&records, g.e->st, err)) < 0)
            goto out;
        index_records(&g, records);
        json_array_foreach(g.found, i, t)
        {
            if (strcmp(jstr(t, "kind"), "files") != 0 && decide(&g, t))
                collect_one(&g, t, &failed);
        }
        /* a files directory goes last, and only once nothing of it was left running */
        json_array_foreach(g.found, i, t)
        {
            size_t j;
            json_t *it;
            int busy = 0;
            if (strcmp(jstr(t, "kind"), "files") != 0 || !decide(&g, t))
                continue;
            json_array_foreach(g.items, j, it)
            {
                const char *r = jstr(it, "result");
                if (!strcmp(jstr(it, "kind"), "process") && jstr(it, "env") && !strcmp(jstr(it, "env"), jstr(t, "env")) &&
                    r && strcmp(r, "removed") != 0 && strcmp(r, "would-remove") != 0)
                    busy = 1;
            }
            if (!busy)
                collect_one(&g, t, &failed);
        }
    }
    if (o->templates && !(tpl = gc_templates(&g, &failed))) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    if (!(report = json_object()) || !(counts = json_object())) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(g.targets, i, t)
    {
        json_object_del(t, "_key");
        json_object_del(t, "_dsn");
        json_object_del(t, "_spec");
    }
    count(counts, g.items);
    json_object_set_new(report, "dry_run", json_boolean(o->dry_run));
    json_object_set(report, "targets", g.targets);
    json_object_set(report, "orphans", g.items);
    json_object_set_new(report, "templates", tpl ? tpl : json_null());
    tpl = NULL;
    json_object_set_new(report, "counts", counts);
    rc = 0;
    if (failed)
        rc = sf_error_set(err, SF_EINCOMPLETE, "%d orphan%s could not be removed (run gc again)", failed,
                          failed == 1 ? "" : "s");
    else if (g.config_target_failed)
        rc = sf_error_set(err, SF_EIO, "%s", g.config_errors.ptr);
    *out = report;
    report = NULL;
out:
    json_decref(tpl);
    json_decref(report);
    json_decref(records);
    json_decref(g.targets);
    json_decref(g.found);
    json_decref(g.items);
    json_decref(g.live_ids);
    json_decref(g.id_slug);
    json_decref(g.live_phys);
    json_decref(g.buckets);
    sf_buf_free(&g.config_errors);
    sf_engine_free(g.e);
    return rc;
}
