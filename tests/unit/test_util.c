#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>
#include "stagefork/util.h"
#include "stagefork/error.h"

struct dcase { const char *in; int64_t secs; };

Test(duration, accepts_spec_examples)
{
    static const struct dcase ok[] = {
        {"90s", 90}, {"15m", 900}, {"8h", 28800}, {"3d", 259200}, {"2w", 1209600},
        {"1h30m", 5400}, {"1d2h3m4s", 93784}, {"none", SF_DURATION_NONE}, {"1s", 1},
        {"100000h", 360000000}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = 0;
        sf_error e = {0};
        cr_assert_eq(sf_duration_parse(&v, ok[i].in, &e), 0, "%s: %s", ok[i].in, e.msg);
        cr_assert_eq(v, ok[i].secs, "%s gave %lld", ok[i].in, (long long)v);
    }
}

Test(duration, rejects_bad_input_with_message)
{
    static const char *bad[] = {"", "90", "h", "0s", "0h0m", "-5m", "5 m", "5x", "5mm", "30m1h",
                                "1h1h", "None", "NONE", "99999999999999999999s", "1000000000d",
                                "5m ", " 5m", "1.5h", "nonesuch"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 7;
        sf_error e = {0};
        cr_assert_eq(sf_duration_parse(&v, bad[i], &e), SF_EUSAGE, "'%s' accepted", bad[i]);
        cr_assert_eq(v, 7, "'%s' wrote the output", bad[i]);
        cr_assert(strstr(e.msg, "invalid duration") != NULL, "%s", e.msg);
    }
}

Test(duration, format_round_trips)
{
    static const int64_t vals[] = {1, 59, 60, 90, 3600, 5400, 86400, 93784, 1209600};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char s[32];
        int64_t back;
        sf_duration_format(s, vals[i]);
        cr_assert_eq(sf_duration_parse(&back, s, NULL), 0, "%s", s);
        cr_assert_eq(back, vals[i], "%s", s);
    }
    char s[32];
    sf_duration_format(s, SF_DURATION_NONE);
    cr_assert_str_eq(s, "none");
    sf_duration_format(s, 5400);
    cr_assert_str_eq(s, "1h30m");
}

Test(time, rfc3339_format_and_parse)
{
    char out[SF_TIME_LEN];
    int64_t t;
    sf_time_format(out, 0);
    cr_assert_str_eq(out, "1970-01-01T00:00:00Z");
    sf_time_format(out, 1795296088); /* 2026-11-21T21:21:28Z */
    cr_assert_str_eq(out, "2026-11-21T21:21:28Z");
    cr_assert_eq(sf_time_parse(&t, "2026-11-21T21:21:28Z", NULL), 0);
    cr_assert_eq(t, 1795296088);
    cr_assert_eq(sf_time_parse(&t, "2026-11-21T22:21:28.123+01:00", NULL), 0);
    cr_assert_eq(t, 1795296088);
    cr_assert_eq(sf_time_parse(&t, "2024-02-29T00:00:00Z", NULL), 0);
    cr_assert_eq(sf_time_parse(&t, "2023-02-29T00:00:00Z", NULL), SF_EFORMAT);
    cr_assert_eq(sf_time_parse(&t, "2026-11-21 21:21:28", NULL), SF_EFORMAT);
    cr_assert_eq(sf_time_parse(&t, "2026-13-01T00:00:00Z", NULL), SF_EFORMAT);
    cr_assert_eq(sf_time_parse(&t, "2026-11-21T21:21:28Zjunk", NULL), SF_EFORMAT);
}

Test(time, now_can_be_pinned_for_tests)
{
    setenv("STAGEFORK_NOW", "1000", 1);
    cr_assert_eq(sf_now(), 1000);
    unsetenv("STAGEFORK_NOW");
    cr_assert_gt(sf_now(), 1700000000);
}

Test(util, parse_i64_is_strict)
{
    int64_t v;
    cr_assert_eq(sf_parse_i64(&v, "42", 0, 100), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(sf_parse_i64(&v, "101", 0, 100), SF_EUSAGE);
    cr_assert_eq(sf_parse_i64(&v, "4x", 0, 100), SF_EUSAGE);
    cr_assert_eq(sf_parse_i64(&v, "", 0, 100), SF_EUSAGE);
    cr_assert_eq(sf_parse_i64(&v, " 4", 0, 100), SF_EUSAGE);
    cr_assert_eq(sf_parse_i64(&v, "99999999999999999999", 0, INT64_MAX), SF_EUSAGE);
}

Test(util, sha256_hex_known_vector)
{
    char h[65];
    sf_sha256_hex(h, "abc", 3);
    cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(error, exit_codes_follow_the_spec)
{
    cr_assert_eq(sf_exit_code(SF_OK), 0);
    cr_assert_eq(sf_exit_code(SF_EIO), 1);
    cr_assert_eq(sf_exit_code(SF_EDB), 1);
    cr_assert_eq(sf_exit_code(SF_EFORMAT), 1);
    cr_assert_eq(sf_exit_code(SF_ECONFIG), 2);
    cr_assert_eq(sf_exit_code(SF_EUSAGE), 2);
    cr_assert_eq(sf_exit_code(SF_EPOLICY), 3);
    cr_assert_eq(sf_exit_code(SF_ELOCK), 4);
    cr_assert_eq(sf_exit_code(SF_EINCOMPLETE), 5);
    cr_assert_eq(sf_exit_code(SF_EGUARD), 6);
    cr_assert_str_eq(sf_strerror(SF_ELOCK), "lock busy");
}

Test(error, prefix_keeps_the_original_message)
{
    sf_error e = {0};
    sf_error_set(&e, SF_EIO, "cannot open '%s': %s", "x.yaml", "No such file or directory");
    sf_error_prefix(&e, "loading config");
    cr_assert_str_eq(e.msg, "loading config: cannot open 'x.yaml': No such file or directory");
    cr_assert_eq(e.code, SF_EIO);
}
