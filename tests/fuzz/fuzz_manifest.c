/*
 * Fuzz what a restore trusts least: the manifest of an archive from a store.
 * The input is parsed like sf_arc_open_manifest does and checked with
 * sf_manifest_check (signature, format, names); psql's \restrict stripping
 * runs on the same bytes as a schema member.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include "snapshot_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char key_bytes[] = "fuzz-manifest-key-0123456789abcdef0123";
    sf_mask_key *key = NULL;
    sf_error err;
    json_error_t je;
    json_t *m;
    sf_buf b = SF_BUF_INIT;
    if (sf_mask_key_from_bytes(&key, key_bytes, strlen(key_bytes), &err) < 0)
        return 0;
    if ((m = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je))) {
        sf_manifest_check(m, key, "erp", "20261121T221500Z", &err);
        sf_manifest_check(m, key, NULL, NULL, &err);
        (void)sf_manifest_member(m, "schema/pre-data.sql");
        /* a signed copy must verify */
        if (json_is_object(m) && sf_manifest_sign(m, key, &err) == 0)
            sf_manifest_check(m, key, NULL, NULL, &err);
        json_decref(m);
    }
    sf_buf_add(&b, data, size);
    sf_strip_restrict(&b);
    sf_buf_free(&b);
    sf_mask_key_free(key);
    return 0;
}
