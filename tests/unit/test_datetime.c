/*
 * Date shifting (masking/datetime.c): the fixed-position fast path gives
 * exactly the general path's text and result code for any input and shift.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "datetime.h"
#include "decimal.h"

static uint64_t st = 0xD1B54A32D192ED03ull;

static unsigned rn(unsigned n)
{
    st ^= st >> 12;
    st ^= st << 25;
    st ^= st >> 27;
    return (unsigned)((st * 2685821657736338717ull >> 11) % n);
}

static void rnd_date(char *out, size_t cap)
{
    static const char *const odd[] = {"infinity", "-infinity", "+Infinity", "2024-02-30", "2023-02-29", "2024-13-01",
                                      "2024-00-10", "0000-01-01", "2024-1-01", "2024/01/01", "20240101", "2024-01-0",
                                      "12345-06-07", "294276-12-31", "4713-01-01 BC", "4714-01-01 BC", "0001-01-01 BC",
                                      "2024-01-31 BC", "1999-12-31x", "2000-02-29T23:59:60Z", "", "2024-01-01 B",
                                      "9999-12-31", "0001-01-01", "2024-01-31 12:00:00 BC"};
    static const char *const rest[] = {"", "", "", " 00:00:00", " 12:34:56+01", " 23:59:59.123456", "T08:15:00Z",
                                       " 08:15:00-05:30", " BC", "7"};
    unsigned y, m, d;
    if (rn(6) == 0) {
        snprintf(out, cap, "%s", odd[rn(sizeof(odd) / sizeof(odd[0]))]);
        return;
    }
    y = rn(4) ? 1900 + rn(200) : rn(10000);
    m = rn(20) ? 1 + rn(12) : rn(14);
    d = rn(20) ? 1 + rn(28) : rn(33);
    snprintf(out, cap, "%04u-%02u-%02u%s", y, m, d, rest[rn(sizeof(rest) / sizeof(rest[0]))]);
}

Test(datetime, fast_path_equals_the_general_path)
{
    sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
    size_t fast = 0;
    for (int iter = 0; iter < 500000; iter++) {
        char s[64];
        int days, ra, rb;
        rnd_date(s, sizeof(s));
        switch (rn(4)) {
        case 0:
            days = (int)rn(361) - 180;
            break;
        case 1:
            days = (int)rn(7301) - 3650;
            break;
        case 2: /* far enough to leave years 1..9999 or PostgreSQL's range */
            days = (int)rn(220000000) - 110000000;
            break;
        default:
            days = (int)rn(4000001) - 2000000;
            break;
        }
        sf_buf_clear(&a);
        sf_buf_clear(&b);
        sf_buf_adds(&a, "<");
        sf_buf_adds(&b, "<");
        sf_dec_fast_paths = 1;
        ra = sf_date_shift(s, strlen(s), days, &a);
        sf_dec_fast_paths = 0;
        rb = sf_date_shift(s, strlen(s), days, &b);
        sf_dec_fast_paths = 1;
        cr_assert_eq(ra, rb, "'%s' %+d: %d, general %d", s, days, ra, rb);
        cr_assert_str_eq(a.ptr, b.ptr, "'%s' %+d", s, days);
        cr_assert_eq(a.len, b.len);
        fast += ra == SF_DT_OK && s[4] == '-' && !strstr(s, "BC");
    }
    cr_assert_gt(fast, 200000);
    sf_buf_free(&a);
    sf_buf_free(&b);
}
