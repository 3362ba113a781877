/*
 * The snapshot manifest's signature: HMAC-SHA256 under a subkey of the
 * masking key (HKDF, purpose "snapshot-manifest-hmac") over the manifest's
 * canonical JSON — every member except "signature", keys sorted, compact,
 * ASCII-only — so whitespace or key order in the stored file never
 * matters, while any change of a value does.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot_impl.h"

/* Lowercase hex of a SHA-256 or HMAC-SHA256 result. */
void sf_hex32(char out[65], const unsigned char d[32])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[64] = '\0';
}

/* The canonical text of m without its signature; a new string (free()). */
static char *canonical(const json_t *m)
{
    json_t *c = json_copy((json_t *)m);
    char *s;
    if (!c)
        return NULL;
    json_object_del(c, "signature");
    s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(c);
    return s;
}

static int hmac_hex(char out[65], const json_t *m, const sf_mask_key *key, sf_error *err)
{
    unsigned char sub[32], mac[32];
    size_t maclen = 0;
    char *text = canonical(m);
    EVP_MAC *alg = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    int rc = 0;
    if (!text)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (sf_mask_key_derive(key, SF_SNAP_HMAC_PURPOSE, sub) < 0) {
        free(text);
        return sf_error_set(err, SF_ECRYPTO, "cannot derive the manifest signing key");
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!(alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(ctx = EVP_MAC_CTX_new(alg)) ||
        EVP_MAC_init(ctx, sub, sizeof(sub), params) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)text, strlen(text)) != 1 ||
        EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1 || maclen != sizeof(mac))
        rc = sf_error_set(err, SF_ECRYPTO, "cannot compute the manifest signature");
    else
        sf_hex32(out, mac);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
    OPENSSL_cleanse(sub, sizeof(sub));
    free(text);
    return rc;
}

/* Replaces any previous signature. */
int sf_manifest_sign(json_t *m, const sf_mask_key *key, sf_error *err)
{
    char hex[65];
    int rc;
    json_object_del(m, "signature");
    if ((rc = hmac_hex(hex, m, key, err)) < 0)
        return rc;
    if (json_object_set_new(m, "signature",
                            json_pack("{s:s, s:s, s:s}", "algorithm", "HMAC-SHA256", "key", SF_SNAP_HMAC_PURPOSE,
                                      "value", hex)) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/*
 * The signature is checked before any other field is believed; a wrong key is told apart from tampering by
 * the fingerprint.
 */
int sf_manifest_check(const json_t *m, const sf_mask_key *key, const char *name, const char *id, sf_error *err)
{
    const json_t *sig = json_object_get(m, "signature");
    const char *given = str(sig, "value");
    const char *fp = str(m, "key_fingerprint");
    char want[65];
    int rc;
    if (!json_is_object(m) || !str(m, "format") || strcmp(str(m, "format"), SF_SNAP_FORMAT) != 0)
        return sf_error_set(err, SF_EFORMAT, "manifest.json is not a stagefork snapshot manifest");
    if (!given || strlen(given) != 64)
        return sf_error_set(err, SF_ECRYPTO, "the manifest carries no signature");
    if ((rc = hmac_hex(want, m, key, err)) < 0)
        return rc;
    if (CRYPTO_memcmp(want, given, 64) != 0) {
        if (fp && strcmp(fp, sf_mask_key_fingerprint(key)) != 0)
            return sf_error_set(err, SF_ECRYPTO,
                                "the manifest was signed with another key (fingerprint %s, this key is %s)", fp,
                                sf_mask_key_fingerprint(key));
        return sf_error_set(err, SF_ECRYPTO, "the manifest's signature does not verify: it was changed after "
                                             "signing");
    }
    /* from here on every value is the signer's */
    if (json_integer_value(json_object_get(m, "version")) != SF_SNAP_VERSION)
        return sf_error_set(err, SF_EFORMAT, "snapshot format version %lld is not supported (this is %d)",
                            (long long)json_integer_value(json_object_get(m, "version")), SF_SNAP_VERSION);
    if (!json_is_true(json_object_get(m, "masked")))
        return sf_error_set(err, SF_EPOLICY, "the snapshot is not marked masked");
    if ((name && (!str(m, "name") || strcmp(str(m, "name"), name) != 0)) ||
        (id && (!str(m, "id") || strcmp(str(m, "id"), id) != 0)))
        return sf_error_set(err, SF_ECRYPTO, "the archive stored as %s@%s is signed as %s@%s", name ? name : "?",
                            id ? id : "?", str(m, "name") ? str(m, "name") : "?", str(m, "id") ? str(m, "id") : "?");
    if (!json_is_array(json_object_get(m, "members")) || !json_is_array(json_object_get(m, "tables")))
        return sf_error_set(err, SF_EFORMAT, "the manifest lists no members or tables");
    return 0;
}

/* Borrowed from m. */
json_t *sf_manifest_member(const json_t *m, const char *member)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        const char *n = str(e, "name");
        if (n && strcmp(n, member) == 0)
            return e;
    }
    return NULL;
}
