#ifndef SF_MASKING_DECIMAL_H
#define SF_MASKING_DECIMAL_H
/*
 * Exact decimal arithmetic for the numeric rules (noise, expr, fixed
 * checks): a value is sign * mag / 10^scale with a 256-bit magnitude, so
 * numeric(38,s) values times a 15-decimal noise factor, or the product of
 * two 38-digit values, are computed without rounding. Rounding is always
 * half away from zero, like PostgreSQL's numeric.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct sf_u256 {
    uint64_t w[4]; /* little-endian words */
} sf_u256;

typedef struct sf_dec {
    sf_u256 mag;
    int neg;   /* never set for zero */
    int scale; /* digits after the point, 0..SF_DEC_MAX_SCALE */
} sf_dec;

/* Inputs are accepted up to this many significant digits (integer + fraction). */
#define SF_DEC_MAX_DIGITS 60
#define SF_DEC_MAX_SCALE 76
/* Longest text sf_dec_format writes, without the NUL. */
#define SF_DEC_TEXT_MAX 96

enum { SF_DEC_OK = 0, SF_DEC_SYNTAX = -1, SF_DEC_RANGE = -2, SF_DEC_SPECIAL = -3, SF_DEC_DIV0 = -4 };

/*
 * Parse "[+-]digits[.digits]" (also ".5", "5.", and an exponent "1.5e3" /
 * "2E-4" as float8 output uses). "NaN", "Infinity", "-Infinity", "inf" (any
 * case) give SF_DEC_SPECIAL. More than SF_DEC_MAX_DIGITS significant digits
 * is SF_DEC_RANGE. The input's number of decimals becomes the scale.
 */
int sf_dec_parse(sf_dec *out, const char *s, size_t len);
/* Plain notation ("-12.50", "0.003"); never "-0". Returns the length. */
size_t sf_dec_format(const sf_dec *d, char out[SF_DEC_TEXT_MAX + 1]);

void sf_dec_from_i64(sf_dec *out, int64_t v);
int sf_dec_is_zero(const sf_dec *d);
/* a + b, a - b, a * b exactly; SF_DEC_RANGE on overflow. */
int sf_dec_add(sf_dec *out, const sf_dec *a, const sf_dec *b);
int sf_dec_sub(sf_dec *out, const sf_dec *a, const sf_dec *b);
int sf_dec_mul(sf_dec *out, const sf_dec *a, const sf_dec *b);
/* a / b rounded to `scale` decimals; SF_DEC_DIV0, SF_DEC_RANGE. */
int sf_dec_div(sf_dec *out, const sf_dec *a, const sf_dec *b, int scale);
/* Change the scale: more decimals exactly, fewer rounded half away from zero. */
int sf_dec_rescale(sf_dec *d, int scale);
/*
 * Keep |d| <= 10^digits - 1 units of its scale (numeric(p,s) precision:
 * digits = p); returns 1 if it clamped.
 */
int sf_dec_clamp_digits(sf_dec *d, int digits);
/* d (scale 0) within [min, max]; returns 1 if it clamped. */
int sf_dec_clamp_i64(sf_dec *d, int64_t min, int64_t max);
/* Number of digits before the point (0 for |d| < 1). */
int sf_dec_int_digits(const sf_dec *d);
/* -1, 0, 1 comparing a and b. */
int sf_dec_cmp(const sf_dec *a, const sf_dec *b);

/*
 * Small decimals: the same numbers and the same rules (exact, rounding half
 * away from zero, never -0) with a 128-bit magnitude below 10^38 and a
 * scale up to 38, for the values nearly every column holds. Each function
 * gives exactly what its sf_dec_ namesake gives, or says it cannot (the
 * caller then uses sf_dec_): parse takes [+-]digits[.digits] with at most
 * 18 digits (1 = parsed); the others return -1 when the result does not
 * fit.
 */
typedef struct sf_sdec {
    unsigned __int128 mag;
    int neg;
    int scale;
} sf_sdec;

int sf_sdec_parse(sf_sdec *out, const char *s, size_t len);
int sf_sdec_add(sf_sdec *out, const sf_sdec *a, const sf_sdec *b);
int sf_sdec_sub(sf_sdec *out, const sf_sdec *a, const sf_sdec *b);
int sf_sdec_mul(sf_sdec *out, const sf_sdec *a, const sf_sdec *b);
int sf_sdec_rescale(sf_sdec *d, int scale);
int sf_sdec_clamp_digits(sf_sdec *d, int digits);
int sf_sdec_clamp_i64(sf_sdec *d, int64_t min, int64_t max);
size_t sf_sdec_format(const sf_sdec *d, char out[SF_DEC_TEXT_MAX + 1]);

/*
 * How a rule's numeric result is fitted to its column after rounding to
 * `scale` decimals: integers are clamped into [min, max] (scale 0),
 * numeric(p,s) to |v| <= 10^digits - 1 units of the scale (digits = p),
 * anything else (digits = -1) is kept.
 */
typedef struct sf_dec_fit {
    int scale;
    int digits;
    int int_range;
    int64_t min, max;
} sf_dec_fit;

/*
 * The word-sized fast path of noise and expr: a * b, rounded half away
 * from zero to fit->scale decimals, clamped as fit says and formatted, in
 * 64-bit magnitudes with one 128-bit product and at most one division.
 * Writes exactly the text the general path gives (sf_dec_mul,
 * sf_dec_rescale, sf_dec_clamp_*, sf_dec_format) and returns its length,
 * or returns 0 without an answer when it cannot (an operand or the rounded
 * result beyond 64 bits, a result scale above 20 or above the product's).
 * val (may be NULL) receives the written number as sf_sdec_parse would
 * read the text back, so a caller that uses it again need not parse it;
 * val->scale is -1 when that is not given (results of 10^8 units or more,
 * or more than 7 decimals; and when 0 is returned).
 */
size_t sf_sdec_mul_text(char out[SF_DEC_TEXT_MAX + 1], const sf_sdec *a, const sf_sdec *b, const sf_dec_fit *fit,
                        sf_sdec *val);

/*
 * Test hook: 0 makes the rules skip the word-sized fast paths (noise,
 * expr, date_shift), so tests compare them with the general path. Never
 * cleared outside tests.
 */
extern int sf_dec_fast_paths;

#endif
