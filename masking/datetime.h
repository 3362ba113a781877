#ifndef SF_MASKING_DATETIME_H
#define SF_MASKING_DATETIME_H
/*
 * Dates and timestamps as pg_dump writes them (DateStyle ISO):
 * "2024-01-31", "2024-01-31 12:34:56", "2024-01-31 12:34:56.123456+01",
 * "0044-03-15 BC", "infinity", "-infinity". Only the date part is
 * rewritten; the time and offset text are kept byte for byte.
 */

#include <stddef.h>
#include "stagefork/buf.h"

enum { SF_DT_OK = 0, SF_DT_SPECIAL = 1, SF_DT_SYNTAX = -1, SF_DT_RANGE = -2 };

/*
 * Append s shifted by `days` to out. SF_DT_SPECIAL: infinity/-infinity,
 * nothing appended (the caller keeps the value). SF_DT_SYNTAX: not a date.
 * A shift that would leave PostgreSQL's range (4713 BC .. 294276 AD) is
 * applied in the other direction instead.
 */
int sf_date_shift(const char *s, size_t len, int days, sf_buf *out);
/* s is a valid date / timestamp text (for fixed values). */
int sf_date_valid(const char *s, size_t len);

#endif
