/* The rule side's memo: exact answers or misses, adaptation to distinct and repeating streams. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "memo.h"

static const unsigned char *get(sf_memo *m, const char *k, size_t *vlen)
{
    return sf_memo_get(m, sf_memo_hash(k, strlen(k), 7), k, strlen(k), vlen);
}

static void put(sf_memo *m, const char *k, const char *v)
{
    sf_memo_put(m, sf_memo_hash(k, strlen(k), 7), k, strlen(k), v, strlen(v));
}

Test(memo, remembers_exact_pairs_and_misses_otherwise)
{
    sf_memo m;
    size_t vl = 0;
    const unsigned char *v;
    sf_memo_init(&m);
    cr_assert_null(get(&m, "SKU-000001", &vl), "an empty memo misses");
    put(&m, "SKU-000001", "WQZ-381942");
    put(&m, "", "empty key");
    v = get(&m, "SKU-000001", &vl);
    cr_assert_not_null(v);
    cr_assert_eq(vl, 10);
    cr_assert_eq(memcmp(v, "WQZ-381942", 10), 0);
    v = get(&m, "", &vl);
    cr_assert(v && vl == 9 && memcmp(v, "empty key", 9) == 0);
    cr_assert_null(get(&m, "SKU-000002", &vl));
    cr_assert_null(get(&m, "SKU-00000", &vl), "a prefix is another key");
    sf_memo_free(&m);
}

Test(memo, same_hash_different_keys_never_answer_for_each_other)
{
    sf_memo m;
    size_t vl;
    const unsigned char *v;
    sf_memo_init(&m);
    /* every key under one hash: same set, same tag; only the stored key tells them apart */
    for (int i = 0; i < 20; i++) {
        char k[16], val[16];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        sf_memo_put(&m, 42, k, strlen(k), val, strlen(val));
    }
    for (int i = 0; i < 20; i++) {
        char k[16], val[16];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        v = sf_memo_get(&m, 42, k, strlen(k), &vl);
        if (v) /* at most 8 fit one set; whatever is found is right */
            cr_assert(vl == strlen(val) && memcmp(v, val, vl) == 0, "key %s", k);
    }
    sf_memo_free(&m);
}

Test(memo, pairs_longer_than_an_entry_are_not_kept)
{
    sf_memo m;
    size_t vl;
    char k[100], v[100];
    memset(k, 'k', sizeof(k));
    memset(v, 'v', sizeof(v));
    sf_memo_init(&m);
    sf_memo_put(&m, 1, k, 30, v, 33); /* 63 bytes */
    cr_assert_null(sf_memo_get(&m, 1, k, 30, &vl));
    sf_memo_put(&m, 1, k, 30, v, 32); /* 62 bytes: fits */
    cr_assert_not_null(sf_memo_get(&m, 1, k, 30, &vl));
    cr_assert_eq(vl, 32);
    sf_memo_free(&m);
}

/* What the rules do with a value: skip the memo, or look it up and remember it on a miss. */
static void use_value(sf_memo *m, const char *k, const char *v)
{
    size_t vl;
    if (sf_memo_skip(m))
        return;
    if (!get(m, k, &vl))
        put(m, k, v);
}

Test(memo, distinct_values_go_cold_and_a_large_working_set_grows_it)
{
    sf_memo m;
    size_t vl;
    char k[32];
    sf_memo_init(&m);
    /* 100 000 distinct keys: the memo goes cold, and is then left out for 15 values in 16 */
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof(k), "unique-%d", i);
        use_value(&m, k, "x");
    }
    cr_assert_eq(m.total_hits, 0);
    cr_assert_gt(m.sample, 1, "a stream of distinct values turns the memo cold");
    cr_assert_lt(m.total_lookups, 100000 / 4, "a cold memo is hardly looked at");
    /* then 5000 keys over and over: it warms up again and grows past 5000 entries */
    for (int round = 0; round < 60; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(k, sizeof(k), "sku-%d", i);
            use_value(&m, k, "masked");
        }
    cr_assert_eq(m.sample, 1);
    cr_assert_geq(m.nsets * 8, 8192);
    {
        uint64_t before = m.total_hits, lookups = m.total_lookups;
        for (int i = 0; i < 5000; i++) {
            snprintf(k, sizeof(k), "sku-%d", i);
            const unsigned char *v = get(&m, k, &vl);
            cr_assert(!v || (vl == 6 && memcmp(v, "masked", 6) == 0));
        }
        cr_assert_gt((m.total_hits - before) * 10, (m.total_lookups - lookups) * 9, "over 90%% hits once warm");
    }
    sf_memo_free(&m);
}

Test(memo, a_repeating_working_set_past_16384_grows_and_keeps_its_entries)
{
    sf_memo m;
    size_t vl;
    char k[32], v[32];
    sf_memo_init(&m);
    /* 19 000 keys (15 000 seen once a round, 4000 often): 16384 entries thrash, but most lookups hit */
    for (int round = 0; round < 8; round++)
        for (int i = 0; i < 60000; i++) {
            int key = i % 4 == 0 ? i : i % 4000;
            snprintf(k, sizeof(k), "sku-%d", key);
            snprintf(v, sizeof(v), "m-%d", key);
            use_value(&m, k, v);
        }
    cr_assert_gt(m.nsets * 8, 16384, "grown past the free size");
    cr_assert_leq(m.nsets * 8, 262144, "never past 16 MiB");
    {
        uint64_t before = m.total_hits, lookups = m.total_lookups;
        for (int i = 0; i < 60000; i++) {
            const unsigned char *got;
            int key = i % 4 == 0 ? i : i % 4000;
            snprintf(k, sizeof(k), "sku-%d", key);
            snprintf(v, sizeof(v), "m-%d", key);
            got = get(&m, k, &vl);
            cr_assert(!got || (vl == strlen(v) && memcmp(got, v, vl) == 0), "%s", k);
        }
        cr_assert_gt((m.total_hits - before) * 10, (m.total_lookups - lookups) * 9, "over 90%% hits once grown");
    }
    sf_memo_free(&m);
}

Test(memo, distinct_values_never_grow_it_past_the_free_size)
{
    sf_memo m;
    char k[32];
    sf_memo_init(&m);
    for (int i = 0; i < 600000; i++) {
        snprintf(k, sizeof(k), "unique-%d", i);
        use_value(&m, k, "x");
    }
    cr_assert_leq(m.nsets * 8, 16384);
    sf_memo_free(&m);
}

/* Drive m with a working set of `keys` keys (a quarter of them hot) until it stops growing. */
static void grow_big(sf_memo *m, int keys, int tag)
{
    char k[48];
    for (int round = 0; round < 12; round++)
        for (int i = 0; i < keys; i++) {
            int key = i % 4 == 0 ? i : i % 20000;
            snprintf(k, sizeof(k), "m%d-key-%d", tag, key);
            use_value(m, k, "v");
        }
}

Test(memo, all_memos_of_a_process_share_a_64_mib_budget)
{
    /* five memos that would each take 16 MiB: the budget lets the first ones grow, not all five */
    sf_memo m[5];
    size_t big = 0, total = 0;
    for (int i = 0; i < 5; i++) {
        sf_memo_init(&m[i]);
        grow_big(&m[i], 300000, i);
        total += m[i].nsets * 8 * 64;
        big += m[i].nsets * 8 == 262144;
    }
    cr_assert_geq(big, 1, "a memo reaches 16 MiB");
    cr_assert_lt(big, 5, "not every one");
    cr_assert_leq(total, 5 * ((size_t)1 << 20) + ((size_t)64 << 20), "1 MiB each plus the shared 64 MiB");
    /* freeing gives the budget back: a new memo grows again */
    for (int i = 0; i < 5; i++)
        sf_memo_free(&m[i]);
    sf_memo_init(&m[0]);
    grow_big(&m[0], 300000, 9);
    cr_assert_eq(m[0].nsets * 8, 262144);
    sf_memo_free(&m[0]);
}
