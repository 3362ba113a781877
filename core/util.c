/* Durations, RFC 3339 times, strict integers, SHA-256 hex. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "stagefork/util.h"

static int64_t unit_secs(char u)
{
    switch (u) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 7 * 86400;
    default: return 0;
    }
}

int sf_duration_parse(int64_t *out_secs, const char *text, sf_error *err)
{
    const char *p = text;
    int64_t total = 0;
    int last_unit = 1000000; /* units must strictly decrease: "1h30m", not "30m1h" */

    if (!text || !*text)
        return sf_error_set(err, SF_EUSAGE, "invalid duration '': expected e.g. 90s, 15m, 8h, 3d or none");
    if (strcmp(text, "none") == 0) {
        *out_secs = SF_DURATION_NONE;
        return 0;
    }
    while (*p) {
        int64_t n = 0, mul;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            int d = *p - '0';
            if (n > (INT64_MAX - d) / 10)
                return sf_error_set(err, SF_EUSAGE, "invalid duration '%s': too large", text);
            n = n * 10 + d;
            p++;
            digits++;
        }
        if (!digits)
            return sf_error_set(err, SF_EUSAGE,
                                "invalid duration '%s': expected e.g. 90s, 15m, 8h, 3d or none", text);
        mul = unit_secs(*p);
        if (!mul)
            return sf_error_set(err, SF_EUSAGE,
                                *p ? "invalid duration '%s': unknown unit (use s, m, h, d or w)"
                                   : "invalid duration '%s': missing unit (use s, m, h, d or w)",
                                text);
        if (mul >= last_unit)
            return sf_error_set(err, SF_EUSAGE, "invalid duration '%s': units out of order", text);
        last_unit = (int)mul;
        p++;
        if (n > INT64_MAX / mul || total > INT64_MAX - n * mul || n * mul > INT64_C(100) * 365 * 86400)
            return sf_error_set(err, SF_EUSAGE, "invalid duration '%s': too large (max 100 years)", text);
        total += n * mul;
    }
    if (total <= 0)
        return sf_error_set(err, SF_EUSAGE, "invalid duration '%s': must be positive", text);
    if (total > INT64_C(100) * 365 * 86400)
        return sf_error_set(err, SF_EUSAGE, "invalid duration '%s': too large (max 100 years)", text);
    *out_secs = total;
    return 0;
}

void sf_duration_format(char out[32], int64_t secs)
{
    static const struct { char u; int64_t s; } units[] = {
        {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t off = 0;
    if (secs == SF_DURATION_NONE) {
        snprintf(out, 32, "none");
        return;
    }
    if (secs <= 0) {
        snprintf(out, 32, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (secs >= units[i].s) {
            int n = snprintf(out + off, 32 - off, "%lld%c", (long long)(secs / units[i].s), units[i].u);
            if (n < 0 || (size_t)n >= 32 - off)
                break;
            off += (size_t)n;
            secs %= units[i].s;
        }
    }
}

void sf_time_format(char out[SF_TIME_LEN], int64_t unix_secs)
{
    struct tm tm;
    time_t t = (time_t)unix_secs;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, SF_TIME_LEN, "0000-00-00T00:00:00Z");
        return;
    }
    strftime(out, SF_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int take_int(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int sf_time_parse(int64_t *out, const char *text, sf_error *err)
{
    const char *p = text;
    int y, mo, d, h, mi, s, off = 0;
    if (take_int(&p, 4, &y) || *p++ != '-' || take_int(&p, 2, &mo) || *p++ != '-' ||
        take_int(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
        take_int(&p, 2, &h) || *p++ != ':' || take_int(&p, 2, &mi) || *p++ != ':' ||
        take_int(&p, 2, &s))
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        goto bad;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (take_int(&p, 2, &oh) || *p++ != ':' || take_int(&p, 2, &om) || oh > 23 || om > 59)
            goto bad;
        off = sign * (oh * 3600 + om * 60);
    } else {
        goto bad;
    }
    if (*p)
        goto bad;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (s > 59 ? 59 : s) - off;
    return 0;
bad:
    return sf_error_set(err, SF_EFORMAT, "invalid RFC 3339 time '%s'", text);
}

int64_t sf_now(void)
{
    const char *fake = getenv("STAGEFORK_NOW");
    int64_t v;
    if (fake && *fake && sf_parse_i64(&v, fake, 0, INT64_MAX) == 0)
        return v;
    return (int64_t)time(NULL);
}

double sf_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sf_parse_i64(int64_t *out, const char *text, int64_t min, int64_t max)
{
    char *end;
    long long v;
    if (!text || !*text || isspace((unsigned char)*text))
        return SF_EUSAGE;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return SF_EUSAGE;
    *out = v;
    return 0;
}

void sf_sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char hx[] = "0123456789abcdef";
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = '\0';
}
