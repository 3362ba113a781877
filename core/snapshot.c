/* Snapshot verbs over a store: key resolution, list, resolve NAME[@ID], verify, prune. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot_impl.h"

/* One resolution order for every verb and the provider, so the key that signed is the key that verifies. */
int sf_snapshot_key_resolve(sf_mask_key **out, const sf_config *cfg, const char *policy_path, const char *key_file,
                            const char *key_env, sf_error *err)
{
    sf_mask_policy *pol = NULL;
    sf_buf path = SF_BUF_INIT;
    const char *kf = key_file, *ke = key_env;
    int rc;
    *out = NULL;
    if (kf && ke)
        return sf_error_set(err, SF_EUSAGE, "--key-file and --key-env are mutually exclusive");
    if (!kf && !ke) {
        const char *pp = policy_path ? policy_path : (cfg ? sf_config_mask_policy(cfg) : NULL);
        if (pp) {
            if ((rc = sf_mask_policy_load(&pol, pp, err)) < 0)
                return rc;
            ke = sf_mask_policy_key_env(pol);
            kf = sf_mask_policy_key_file(pol);
            if (kf && kf[0] != '/' && strchr(pp, '/')) {
                /* a relative key file in the policy is relative to the policy file */
                sf_buf_add(&path, pp, (size_t)(strrchr(pp, '/') - pp) + 1);
                sf_buf_adds(&path, kf);
                kf = path.ptr;
            }
            if (ke)
                kf = NULL;
        }
    }
    if (!kf && !ke && cfg) {
        ke = sf_config_mask_key_env(cfg);
        kf = ke ? NULL : sf_config_mask_key_file(cfg);
    }
    if (!kf && !ke)
        rc = sf_error_set(err, SF_EUSAGE,
                          "no masking key: pass --key-file FILE or --key-env VAR, or set key: in the policy or "
                          "masking.key_env / masking.key_file in the config");
    else
        rc = sf_mask_key_load(out, kf, ke, err);
    sf_mask_policy_free(pol);
    sf_buf_free(&path);
    return rc;
}

/* *name and *id are new strings on success. */
int sf_snapshot_resolve(char **name, char **id, sf_snap_store *st, const char *ref, sf_error *err)
{
    const char *at = ref ? strchr(ref, '@') : NULL;
    char *n = ref ? (at ? strndup(ref, (size_t)(at - ref)) : strdup(ref)) : NULL;
    json_t *all = NULL;
    int rc;
    *name = NULL;
    *id = NULL;
    if (!n)
        return sf_error_set(err, ref ? SF_ENOMEM : SF_EUSAGE, ref ? "out of memory" : "no snapshot named");
    if (!sf_snapshot_name_valid(n) || (at && !sf_snap_id_valid(at + 1))) {
        rc = sf_error_set(err, SF_EUSAGE, "'%s' is not NAME or NAME@ID (ID like 20261121T221500Z)", ref);
        free(n);
        return rc;
    }
    if ((rc = sf_store_list(&all, st, n, err)) == 0) {
        size_t cnt = json_array_size(all);
        if (at) {
            rc = SF_ENOTFOUND;
            for (size_t i = 0; i < cnt; i++)
                if (strcmp(json_string_value(json_object_get(json_array_get(all, i), "id")), at + 1) == 0)
                    rc = 0;
            if (rc == 0)
                *id = strdup(at + 1);
            else
                sf_error_set(err, SF_ENOTFOUND, "snapshot %s is not in '%s'", ref, sf_snap_store_url(st));
        } else if (cnt == 0) {
            rc = sf_error_set(err, SF_ENOTFOUND, "no snapshot named '%s' in '%s'", n, sf_snap_store_url(st));
        } else {
            *id = strdup(json_string_value(json_object_get(json_array_get(all, cnt - 1), "id")));
        }
        if (rc == 0 && !*id)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    json_decref(all);
    if (rc < 0) {
        free(n);
        return rc;
    }
    *name = n;
    return 0;
}

/* Reads each manifest only; a damaged archive is listed as unreadable rather than hidden. */
int sf_snapshot_list(json_t **out, sf_snap_store *st, const char *name, const sf_mask_key *key, sf_error *err)
{
    json_t *all, *e;
    size_t i;
    int rc;
    *out = NULL;
    if ((rc = sf_store_list(&all, st, name, err)) < 0)
        return rc;
    json_array_foreach(all, i, e)
    {
        sf_arc *a = NULL;
        json_t *m = NULL;
        sf_error e2 = {0};
        const char *sig = "unchecked";
        rc = sf_arc_open_manifest(&a, &m, st, json_string_value(json_object_get(e, "name")),
                                  json_string_value(json_object_get(e, "id")), &e2);
        sf_arc_close(a);
        if (rc < 0) {
            /* a damaged archive is listed as such, not hidden */
            json_object_set_new(e, "signature", json_string("unreadable"));
            json_object_set_new(e, "error", json_string(e2.msg));
            continue;
        }
        if (key)
            sig = sf_manifest_check(m, key, json_string_value(json_object_get(e, "name")),
                                    json_string_value(json_object_get(e, "id")), &e2) == 0
                      ? "ok"
                      : "bad";
        json_object_set(e, "created_at", json_object_get(m, "created_at"));
        json_object_set_new(e, "tables", json_integer((json_int_t)json_array_size(json_object_get(m, "tables"))));
        json_object_set(e, "rows", json_object_get(m, "rows"));
        json_object_set(e, "key_fingerprint", json_object_get(m, "key_fingerprint"));
        json_object_set_new(e, "signature", json_string(sig));
        json_decref(m);
    }
    *out = all;
    return 0;
}

/* SHA-256 and size of the rest of the current member, compared with its manifest entry. */
static int check_member(sf_arc *a, const json_t *entry, const char *path, const char *ref, sf_error *err)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int mdlen = 0;
    char hex[65], *buf = malloc(1 << 20);
    long long total = 0;
    long n;
    int rc = 0;
    if (!h || !buf || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        free(buf);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    while ((n = sf_arc_read(a, buf, 1 << 20, err)) > 0) {
        EVP_DigestUpdate(h, buf, (size_t)n);
        total += n;
    }
    if (n < 0)
        rc = (int)n;
    if (rc == 0 && EVP_DigestFinal_ex(h, md, &mdlen) == 1) {
        sf_hex32(hex, md);
        if (total != (long long)json_integer_value(json_object_get(entry, "size")) ||
            strcmp(hex, json_string_value(json_object_get(entry, "sha256")) ? json_string_value(
                                                                                 json_object_get(entry, "sha256"))
                                                                           : "") != 0)
            rc = sf_error_set(err, SF_EFORMAT, "snapshot %s: member '%s' does not match its checksum", ref, path);
    }
    EVP_MD_CTX_free(h);
    free(buf);
    return rc;
}

/* A full read of the archive, hashing every member; nothing is written anywhere. */
int sf_snapshot_verify(json_t **out, sf_snap_store *st, const char *ref, const sf_mask_key *key, sf_error *err)
{
    char *name = NULL, *id = NULL;
    sf_buf full = SF_BUF_INIT;
    sf_arc *a = NULL;
    json_t *m = NULL, *seen = NULL;
    const char *path;
    long long size;
    size_t nmembers;
    int rc;
    *out = NULL;
    if ((rc = sf_snapshot_resolve(&name, &id, st, ref, err)) < 0)
        return rc;
    sf_buf_addf(&full, "%s@%s", name, id);
    if ((rc = sf_arc_open_manifest(&a, &m, st, name, id, err)) < 0 || (rc = sf_manifest_check(m, key, name, id, err)) < 0)
        goto out;
    nmembers = json_array_size(json_object_get(m, "members"));
    if (!(seen = json_object())) {
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        goto out;
    }
    while ((rc = sf_arc_next(a, &path, &size, err)) == 0) {
        json_t *entry = sf_manifest_member(m, path);
        if (!entry) {
            rc = sf_error_set(err, SF_EFORMAT, "snapshot %s: member '%s' is not in the manifest", full.ptr, path);
            goto out;
        }
        if (json_object_get(seen, path)) {
            rc = sf_error_set(err, SF_EFORMAT, "snapshot %s: member '%s' appears twice", full.ptr, path);
            goto out;
        }
        json_object_set_new(seen, path, json_true());
        if ((rc = check_member(a, entry, path, full.ptr, err)) < 0)
            goto out;
    }
    if (rc != SF_ENOTFOUND)
        goto out;
    rc = 0;
    if (json_object_size(seen) != nmembers) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(m, "members"), i, e)
        {
            const char *n = json_string_value(json_object_get(e, "name"));
            if (!n || !json_object_get(seen, n)) {
                rc = sf_error_set(err, SF_EFORMAT, "snapshot %s: member '%s' is missing", full.ptr, n ? n : "?");
                break;
            }
        }
    }
    if (rc == 0) {
        *out = m;
        m = NULL;
    }
out:
    sf_arc_close(a);
    json_decref(m);
    json_decref(seen);
    free(name);
    free(id);
    sf_buf_free(&full);
    return rc;
}

/* Oldest first; stops at the first delete that fails. */
int sf_snapshot_prune(json_t **out, sf_snap_store *st, const char *name, int keep, sf_error *err)
{
    json_t *all, *removed;
    size_t n;
    int rc;
    *out = NULL;
    if (keep < 0)
        return sf_error_set(err, SF_EUSAGE, "--keep must be 0 or more");
    if (!sf_snapshot_name_valid(name))
        return sf_error_set(err, SF_EUSAGE, "'%s' is not a valid snapshot name", name ? name : "");
    if ((rc = sf_store_list(&all, st, name, err)) < 0)
        return rc;
    if (!(removed = json_array())) {
        json_decref(all);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    n = json_array_size(all);
    for (size_t i = 0; rc == 0 && n > (size_t)keep && i < n - (size_t)keep; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(all, i), "id"));
        if ((rc = sf_store_delete(st, name, id, err)) == 0)
            json_array_append_new(removed, json_string(id));
    }
    json_decref(all);
    if (rc < 0) {
        json_decref(removed);
        return rc;
    }
    *out = removed;
    return 0;
}
