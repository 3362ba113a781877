#ifndef STAGEFORK_UTIL_H
#define STAGEFORK_UTIL_H
/* Durations, times and small helpers shared by the library and the CLI. */

#include <stdint.h>
#include <stddef.h>
#include "stagefork/error.h"

/* A duration of `none` (persistent). */
#define SF_DURATION_NONE INT64_C(-1)

/*
 * Parse "90s", "15m", "8h", "3d", "2w", compounds like "1h30m", or "none"
 * into seconds (`none` gives SF_DURATION_NONE). A bare number, a zero or
 * negative duration, an unknown unit or an overflow is SF_EUSAGE with a
 * message naming the text.
 */
int sf_duration_parse(int64_t *out_secs, const char *text, sf_error *err);
/* Format seconds back to the shortest compound form ("1h30m", "none"). */
void sf_duration_format(char out[32], int64_t secs);

/* RFC 3339 UTC with second precision: "2026-11-21T22:21:28Z". */
#define SF_TIME_LEN 21
void sf_time_format(char out[SF_TIME_LEN], int64_t unix_secs);
/* Parse an RFC 3339 time (Z or ±hh:mm offset, optional fraction). */
int sf_time_parse(int64_t *out_unix_secs, const char *text, sf_error *err);
/* Wall clock in seconds; STAGEFORK_NOW (unix seconds) overrides it for tests. */
int64_t sf_now(void);
/* Monotonic clock in seconds, for measuring. */
double sf_monotonic(void);

/* Strict integer parsing: whole string, base 10, range-checked. */
int sf_parse_i64(int64_t *out, const char *text, int64_t min, int64_t max);

/* Hex of SHA-256(data) into out (65 bytes incl. NUL). */
void sf_sha256_hex(char out[65], const void *data, size_t len);

#endif
