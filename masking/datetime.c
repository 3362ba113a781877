/* ISO dates/timestamps: parse the date part, shift it by whole days, keep the rest. */
#include <stdint.h>
#include <string.h>
#include "datetime.h"
#include "decimal.h" /* sf_dec_fast_paths */

/* PostgreSQL's range, as astronomical years (1 BC = 0). */
#define YEAR_MIN (-4712)
#define YEAR_MAX 294276

typedef struct {
    int64_t year; /* astronomical */
    int month, day;
    size_t rest, rest_len; /* time/offset text after the date, without " BC" */
} pdate;

static int ci_eq(const char *s, size_t len, const char *w)
{
    size_t wl = strlen(w);
    if (len != wl)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != w[i])
            return 0;
    }
    return 1;
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int64_t y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (astronomical year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t len, size_t *i, size_t min, size_t max, int64_t *out)
{
    size_t n = 0;
    *out = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && n < max) {
        *out = *out * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    return n >= min ? 0 : -1;
}

/* The time/offset part: " HH:MM[:SS[.f]]" then an optional "+HH[:MM[:SS]]", "-…" or "Z". */
static int valid_rest(const char *s, size_t len)
{
    size_t i = 0;
    int64_t v;
    if (len == 0)
        return 1;
    if (s[i] != ' ' && s[i] != 'T')
        return 0;
    i++;
    if (digits(s, len, &i, 2, 2, &v) || v > 24 || i >= len || s[i++] != ':' || digits(s, len, &i, 2, 2, &v) || v > 59)
        return 0;
    if (i < len && s[i] == ':') {
        i++;
        if (digits(s, len, &i, 2, 2, &v) || v > 60)
            return 0;
        if (i < len && s[i] == '.') {
            i++;
            if (digits(s, len, &i, 1, 9, &v))
                return 0;
        }
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        i++;
        if (digits(s, len, &i, 2, 2, &v) || v > 15)
            return 0;
        for (int k = 0; k < 2 && i < len && s[i] == ':'; k++) {
            i++;
            if (digits(s, len, &i, 2, 2, &v) || v > 59)
                return 0;
        }
    }
    return i == len;
}

static int parse(const char *s, size_t len, pdate *d)
{
    size_t i = 0;
    int64_t y, m, day;
    int bc = 0;
    if (ci_eq(s, len, "infinity") || ci_eq(s, len, "-infinity") || ci_eq(s, len, "+infinity"))
        return SF_DT_SPECIAL;
    if (digits(s, len, &i, 4, 7, &y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, 2, &m) || i >= len ||
        s[i++] != '-' || digits(s, len, &i, 2, 2, &day))
        return SF_DT_SYNTAX;
    if (len - i >= 3 && memcmp(s + len - 3, " BC", 3) == 0) {
        bc = 1;
        len -= 3;
    }
    if (m < 1 || m > 12 || y == 0)
        return SF_DT_SYNTAX;
    d->year = bc ? 1 - y : y;
    d->month = (int)m;
    if (day < 1 || day > mdays(d->year, d->month))
        return SF_DT_SYNTAX;
    d->day = (int)day;
    d->rest = i;
    d->rest_len = len - i;
    return SF_DT_OK;
}

int sf_date_valid(const char *s, size_t len)
{
    pdate d;
    int rc = parse(s, len, &d);
    return rc == SF_DT_SPECIAL || (rc == SF_DT_OK && valid_rest(s + d.rest, d.rest_len));
}

static int emit(sf_buf *out, int64_t z, const char *rest, size_t rest_len)
{
    int64_t y, yy;
    int m, d;
    char buf[32], *p = buf + sizeof(buf);
    civil_from_days(z, &y, &m, &d);
    /* "YYYY-MM-DD" with at least four year digits, written backwards */
    *--p = (char)('0' + d % 10);
    *--p = (char)('0' + d / 10);
    *--p = '-';
    *--p = (char)('0' + m % 10);
    *--p = (char)('0' + m / 10);
    *--p = '-';
    yy = y <= 0 ? 1 - y : y;
    for (int i = 0; i < 4 || yy > 0; i++, yy /= 10)
        *--p = (char)('0' + yy % 10);
    if (sf_buf_add(out, p, (size_t)(buf + sizeof(buf) - p)) < 0 || sf_buf_add(out, rest, rest_len) < 0 ||
        (y <= 0 && sf_buf_adds(out, " BC") < 0))
        return -1;
    return 0;
}

static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                               "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                               "8081828384858687888990919293949596979899";

/*
 * The common case: "YYYY-MM-DD" (four-digit year, AD) and whatever follows,
 * shifted to a date of years 1..9999: parsed at fixed positions, one
 * conversion each way, written in place. 1 = done, 0 = take the general
 * path (which gives the same text for everything this takes).
 */
static int shift_fast(const char *s, size_t len, int days, sf_buf *out)
{
    static const unsigned char at[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    unsigned v[8];
    int64_t y, z;
    int m, d;
    char *o;
    if (len < 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 8; i++)
        if ((v[i] = (unsigned)(unsigned char)s[at[i]] - '0') > 9)
            return 0;
    if (len >= 13 && memcmp(s + len - 3, " BC", 3) == 0)
        return 0;
    y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    m = (int)(v[4] * 10 + v[5]);
    d = (int)(v[6] * 10 + v[7]);
    if (y == 0 || m < 1 || m > 12 || d < 1 || d > mdays(y, m))
        return 0;
    z = days_from_civil(y, m, d) + days;
    civil_from_days(z, &y, &m, &d);
    if (y < 1 || y > 9999)
        return 0;
    if (sf_buf_grow(out, len) < 0)
        return -1;
    o = out->ptr + out->len;
    memcpy(o, pairs + 2 * (y / 100), 2);
    memcpy(o + 2, pairs + 2 * (y % 100), 2);
    o[4] = '-';
    memcpy(o + 5, pairs + 2 * m, 2);
    o[7] = '-';
    memcpy(o + 8, pairs + 2 * d, 2);
    memcpy(o + 10, s + 10, len - 10);
    out->len += len;
    out->ptr[out->len] = 0;
    return 1;
}

int sf_date_shift(const char *s, size_t len, int days, sf_buf *out)
{
    pdate d;
    int64_t z, zs, y;
    int m, dd, rc;
    if (sf_dec_fast_paths && (rc = shift_fast(s, len, days, out)) != 0)
        return rc > 0 ? SF_DT_OK : SF_DT_RANGE;
    rc = parse(s, len, &d);
    if (rc != SF_DT_OK)
        return rc;
    z = days_from_civil(d.year, d.month, d.day);
    zs = z + days;
    civil_from_days(zs, &y, &m, &dd);
    if (y < YEAR_MIN || y > YEAR_MAX)
        zs = z - days;
    return emit(out, zs, s + d.rest, d.rest_len) < 0 ? SF_DT_RANGE : SF_DT_OK;
}
