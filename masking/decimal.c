/* Exact decimals with a 256-bit magnitude (see decimal.h). */
#include <string.h>
#include "decimal.h"

typedef unsigned __int128 u128;

static const uint64_t p10[20] = {1ull,
                                 10ull,
                                 100ull,
                                 1000ull,
                                 10000ull,
                                 100000ull,
                                 1000000ull,
                                 10000000ull,
                                 100000000ull,
                                 1000000000ull,
                                 10000000000ull,
                                 100000000000ull,
                                 1000000000000ull,
                                 10000000000000ull,
                                 100000000000000ull,
                                 1000000000000000ull,
                                 10000000000000000ull,
                                 100000000000000000ull,
                                 1000000000000000000ull,
                                 10000000000000000000ull};

/* ---- 256-bit unsigned ---------------------------------------------------- */

static int u_is_zero(const sf_u256 *a)
{
    return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

static int u_cmp(const sf_u256 *a, const sf_u256 *b)
{
    for (int i = 3; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static int u_add(sf_u256 *out, const sf_u256 *a, const sf_u256 *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        u128 s = (u128)a->w[i] + b->w[i] + carry;
        out->w[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    return carry ? -1 : 0;
}

/* out = a - b mod 2^256 */
static void u_sub(sf_u256 *out, const sf_u256 *a, const sf_u256 *b)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = a->w[i], y = b->w[i];
        uint64_t d = x - y - borrow;
        borrow = (x < y) || (x == y && borrow) ? 1 : 0;
        out->w[i] = d;
    }
}

static int u_mul_small(sf_u256 *a, uint64_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        u128 p = (u128)a->w[i] * m + carry;
        a->w[i] = (uint64_t)p;
        carry = (uint64_t)(p >> 64);
    }
    return carry ? -1 : 0;
}

static void u_add_small(sf_u256 *a, uint64_t v)
{
    for (int i = 0; i < 4 && v; i++) {
        u128 s = (u128)a->w[i] + v;
        a->w[i] = (uint64_t)s;
        v = (uint64_t)(s >> 64);
    }
}

/* (hi:lo) / d with hi < d: one hardware division where available. */
static inline uint64_t div128_64(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__)
    uint64_t q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
    *rem = r;
    return q;
#else
    u128 cur = ((u128)hi << 64) | lo;
    *rem = (uint64_t)(cur % d);
    return (uint64_t)(cur / d);
#endif
}

static uint64_t u_divmod_small(sf_u256 *a, uint64_t d)
{
    uint64_t r = 0;
    if (!(a->w[1] | a->w[2] | a->w[3])) {
        r = a->w[0] % d;
        a->w[0] /= d;
        return r;
    }
    for (int i = (a->w[2] | a->w[3]) ? 3 : 1; i >= 0; i--)
        a->w[i] = div128_64(r, a->w[i], d, &r);
    return r;
}

static int u_mul(sf_u256 *out, const sf_u256 *a, const sf_u256 *b)
{
    uint64_t r[8] = {0};
    if (!(a->w[1] | a->w[2] | a->w[3] | b->w[1] | b->w[2] | b->w[3])) {
        u128 p = (u128)a->w[0] * b->w[0];
        out->w[0] = (uint64_t)p;
        out->w[1] = (uint64_t)(p >> 64);
        out->w[2] = out->w[3] = 0;
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        uint64_t carry = 0;
        if (!a->w[i])
            continue;
        for (int j = 0; j < 4; j++) {
            u128 p = (u128)a->w[i] * b->w[j] + r[i + j] + carry;
            r[i + j] = (uint64_t)p;
            carry = (uint64_t)(p >> 64);
        }
        r[i + 4] += carry;
    }
    if (r[4] | r[5] | r[6] | r[7])
        return -1;
    memcpy(out->w, r, sizeof(out->w));
    return 0;
}

/* q = n / d, r = n % d (d != 0), by shift and subtract. */
static void u_divmod(sf_u256 *q, sf_u256 *r, const sf_u256 *n, const sf_u256 *d)
{
    sf_u256 qq = {{0}}, rr = {{0}};
    if (!(d->w[1] | d->w[2] | d->w[3])) {
        qq = *n;
        rr.w[0] = u_divmod_small(&qq, d->w[0]);
        *q = qq;
        *r = rr;
        return;
    }
    for (int bit = 255; bit >= 0; bit--) {
        uint64_t carry = rr.w[3] >> 63;
        for (int i = 3; i > 0; i--)
            rr.w[i] = (rr.w[i] << 1) | (rr.w[i - 1] >> 63);
        rr.w[0] = (rr.w[0] << 1) | ((n->w[bit / 64] >> (bit % 64)) & 1);
        if (carry || u_cmp(&rr, d) >= 0) {
            u_sub(&rr, &rr, d);
            qq.w[bit / 64] |= 1ull << (bit % 64);
        }
    }
    *q = qq;
    *r = rr;
}

static int u_mul_pow10(sf_u256 *a, int k)
{
    while (k > 0) {
        int step = k > 19 ? 19 : k;
        if (u_mul_small(a, p10[step]) < 0)
            return -1;
        k -= step;
    }
    return 0;
}

static void u_pow10(sf_u256 *out, int k)
{
    memset(out, 0, sizeof(*out));
    out->w[0] = 1;
    (void)u_mul_pow10(out, k);
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/* Decimal digits of v, most significant first; returns the count (1..20). */
static size_t u64_digits(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 20;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        tmp[--n] = digit_pairs[2 * r + 1];
        tmp[--n] = digit_pairs[2 * r];
    }
    if (v >= 10) {
        tmp[--n] = digit_pairs[2 * v + 1];
        tmp[--n] = digit_pairs[2 * v];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(out, tmp + n, 20 - n);
    return 20 - n;
}

/* Decimal digits of a, most significant first, no leading zeros ("0" for zero). */
static size_t u_digits(const sf_u256 *a, char *out)
{
    char tmp[80];
    size_t n = 0;
    sf_u256 t = *a;
    if (!(a->w[1] | a->w[2] | a->w[3]))
        return u64_digits(a->w[0], out);
    do {
        uint64_t chunk = u_divmod_small(&t, p10[19]);
        int last = u_is_zero(&t);
        for (int i = 0; i < 19 && (!last || chunk); i++) {
            tmp[n++] = (char)('0' + chunk % 10);
            chunk /= 10;
        }
    } while (!u_is_zero(&t));
    if (n == 0)
        tmp[n++] = '0';
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* ---- decimals ------------------------------------------------------------- */

static int ci_eq(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    if (len != wl)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/*
 * The common case: [+-]digits[.digits] with at most 18 digits in all, no
 * exponent: the magnitude fits 64 bits. 1 = parsed, 0 = take the general path.
 */
static int parse_short(sf_dec *out, const char *s, size_t len)
{
    size_t i = 0, ndig = 0;
    uint64_t v = 0;
    int neg = 0, frac = -1;
    if (len == 0 || len > 20)
        return 0;
    if (s[0] == '-' || s[0] == '+')
        neg = s[i++] == '-';
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            ndig++;
            if (frac >= 0)
                frac++;
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (ndig == 0 || ndig > 18)
        return 0;
    memset(out, 0, sizeof(*out));
    out->mag.w[0] = v;
    out->scale = frac < 0 ? 0 : frac;
    out->neg = neg && v != 0;
    return 1;
}

int sf_dec_parse(sf_dec *out, const char *s, size_t len)
{
    size_t i = 0;
    int neg = 0, sig = 0, frac = 0, any = 0;
    long exp = 0;
    if (parse_short(out, s, len))
        return SF_DEC_OK;
    memset(out, 0, sizeof(*out));
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (ci_eq(s + i, len - i, "nan") || ci_eq(s + i, len - i, "infinity") || ci_eq(s + i, len - i, "inf"))
        return SF_DEC_SPECIAL;
    /* digits are gathered in 64-bit chunks of up to 18 and folded into the magnitude */
    {
        uint64_t chunk = 0;
        int cn = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            any = 1;
            if (sig == 0 && s[i] == '0')
                continue;
            if (++sig > SF_DEC_MAX_DIGITS)
                return SF_DEC_RANGE;
            chunk = chunk * 10 + (uint64_t)(s[i] - '0');
            if (++cn == 18) {
                (void)u_mul_small(&out->mag, p10[18]);
                u_add_small(&out->mag, chunk);
                chunk = 0;
                cn = 0;
            }
        }
        if (i < len && s[i] == '.') {
            for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                any = 1;
                frac++;
                if (sig > 0 || s[i] != '0') {
                    if (++sig > SF_DEC_MAX_DIGITS)
                        return SF_DEC_RANGE;
                }
                chunk = chunk * 10 + (uint64_t)(s[i] - '0');
                if (++cn == 18) {
                    (void)u_mul_small(&out->mag, p10[18]);
                    u_add_small(&out->mag, chunk);
                    chunk = 0;
                    cn = 0;
                }
            }
        }
        if (cn) {
            (void)u_mul_small(&out->mag, p10[cn]);
            u_add_small(&out->mag, chunk);
        }
    }
    if (!any)
        return SF_DEC_SYNTAX;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0, edigits = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, edigits++) {
            if (exp > 100000)
                return SF_DEC_RANGE;
            exp = exp * 10 + (s[i] - '0');
        }
        if (!edigits)
            return SF_DEC_SYNTAX;
        if (eneg)
            exp = -exp;
    }
    if (i != len)
        return SF_DEC_SYNTAX;
    if (frac > SF_DEC_MAX_SCALE)
        return SF_DEC_RANGE;
    {
        long scale = (long)frac - exp;
        if (scale < 0) {
            if (u_is_zero(&out->mag))
                scale = 0;
            else if (sig - scale > SF_DEC_MAX_DIGITS || u_mul_pow10(&out->mag, (int)-scale) < 0)
                return SF_DEC_RANGE;
            else
                scale = 0;
        }
        if (scale > SF_DEC_MAX_SCALE)
            return SF_DEC_RANGE;
        out->scale = (int)scale;
    }
    out->neg = neg && !u_is_zero(&out->mag);
    return SF_DEC_OK;
}

size_t sf_dec_format(const sf_dec *d, char out[SF_DEC_TEXT_MAX + 1])
{
    char dig[80];
    size_t n = u_digits(&d->mag, dig), o = 0;
    size_t scale = (size_t)d->scale;
    if (d->neg && !u_is_zero(&d->mag))
        out[o++] = '-';
    if (n <= scale) {
        out[o++] = '0';
        out[o++] = '.';
        for (size_t i = n; i < scale; i++)
            out[o++] = '0';
        memcpy(out + o, dig, n);
        o += n;
    } else {
        memcpy(out + o, dig, n - scale);
        o += n - scale;
        if (scale) {
            out[o++] = '.';
            memcpy(out + o, dig + n - scale, scale);
            o += scale;
        }
    }
    out[o] = 0;
    return o;
}

void sf_dec_from_i64(sf_dec *out, int64_t v)
{
    memset(out, 0, sizeof(*out));
    out->neg = v < 0;
    out->mag.w[0] = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

int sf_dec_is_zero(const sf_dec *d)
{
    return u_is_zero(&d->mag);
}

int sf_dec_rescale(sf_dec *d, int scale)
{
    if (scale < 0 || scale > SF_DEC_MAX_SCALE)
        return SF_DEC_RANGE;
    if (scale > d->scale) {
        if (u_mul_pow10(&d->mag, scale - d->scale) < 0)
            return SF_DEC_RANGE;
    } else if (scale < d->scale) {
        int k = d->scale - scale;
        uint64_t digit;
        while (k > 1) {
            int step = k - 1 > 19 ? 19 : k - 1;
            (void)u_divmod_small(&d->mag, p10[step]);
            k -= step;
        }
        digit = u_divmod_small(&d->mag, 10);
        if (digit >= 5)
            u_add_small(&d->mag, 1);
    }
    d->scale = scale;
    if (u_is_zero(&d->mag))
        d->neg = 0;
    return SF_DEC_OK;
}

/* Bring a and b to the same scale (the larger one). */
static int align(sf_dec *a, sf_dec *b)
{
    if (a->scale < b->scale)
        return sf_dec_rescale(a, b->scale);
    if (b->scale < a->scale)
        return sf_dec_rescale(b, a->scale);
    return 0;
}

static int add_signed(sf_dec *out, sf_dec a, sf_dec b)
{
    int rc = align(&a, &b);
    if (rc)
        return rc;
    out->scale = a.scale;
    if (a.neg == b.neg) {
        if (u_add(&out->mag, &a.mag, &b.mag) < 0)
            return SF_DEC_RANGE;
        out->neg = a.neg;
    } else if (u_cmp(&a.mag, &b.mag) >= 0) {
        u_sub(&out->mag, &a.mag, &b.mag);
        out->neg = a.neg;
    } else {
        u_sub(&out->mag, &b.mag, &a.mag);
        out->neg = b.neg;
    }
    if (u_is_zero(&out->mag))
        out->neg = 0;
    return 0;
}

int sf_dec_add(sf_dec *out, const sf_dec *a, const sf_dec *b)
{
    return add_signed(out, *a, *b);
}

int sf_dec_sub(sf_dec *out, const sf_dec *a, const sf_dec *b)
{
    sf_dec nb = *b;
    nb.neg = !nb.neg && !u_is_zero(&nb.mag);
    return add_signed(out, *a, nb);
}

int sf_dec_mul(sf_dec *out, const sf_dec *a, const sf_dec *b)
{
    sf_dec r;
    if (u_mul(&r.mag, &a->mag, &b->mag) < 0)
        return SF_DEC_RANGE;
    r.scale = a->scale + b->scale;
    r.neg = (a->neg != b->neg) && !u_is_zero(&r.mag);
    if (r.scale > SF_DEC_MAX_SCALE && sf_dec_rescale(&r, SF_DEC_MAX_SCALE))
        return SF_DEC_RANGE;
    *out = r;
    return 0;
}

int sf_dec_div(sf_dec *out, const sf_dec *a, const sf_dec *b, int scale)
{
    sf_u256 num = a->mag, den = b->mag, q, r, half;
    int e = scale + b->scale - a->scale;
    if (u_is_zero(&b->mag))
        return SF_DEC_DIV0;
    if (scale < 0 || scale > SF_DEC_MAX_SCALE)
        return SF_DEC_RANGE;
    if (e >= 0) {
        if (u_mul_pow10(&num, e) < 0)
            return SF_DEC_RANGE;
    } else if (u_mul_pow10(&den, -e) < 0) {
        memset(out, 0, sizeof(*out)); /* |a/b| < 10^-scale / 2: rounds to zero */
        out->scale = scale;
        return 0;
    }
    u_divmod(&q, &r, &num, &den);
    u_sub(&half, &den, &r); /* round half away from zero: r >= den - r */
    if (u_cmp(&r, &half) >= 0)
        u_add_small(&q, 1);
    out->mag = q;
    out->scale = scale;
    out->neg = (a->neg != b->neg) && !u_is_zero(&q);
    return 0;
}

int sf_dec_clamp_digits(sf_dec *d, int digits)
{
    sf_u256 max;
    if (digits > 77)
        return 0;
    if (digits <= 19 && !(d->mag.w[1] | d->mag.w[2] | d->mag.w[3])) {
        if (d->mag.w[0] <= p10[digits] - 1)
            return 0;
        d->mag.w[0] = p10[digits] - 1;
        if (!d->mag.w[0])
            d->neg = 0;
        return 1;
    }
    u_pow10(&max, digits);
    u_sub(&max, &max, &(sf_u256){{1, 0, 0, 0}});
    if (u_cmp(&d->mag, &max) > 0) {
        d->mag = max;
        if (u_is_zero(&max))
            d->neg = 0;
        return 1;
    }
    return 0;
}

int sf_dec_clamp_i64(sf_dec *d, int64_t min, int64_t max)
{
    uint64_t lim = d->neg ? (uint64_t)0 - (uint64_t)min : (uint64_t)max;
    if (d->neg && min >= 0)
        lim = 0;
    if (!d->neg && max < 0)
        lim = 0;
    if (d->mag.w[1] | d->mag.w[2] | d->mag.w[3] || d->mag.w[0] > lim) {
        memset(&d->mag, 0, sizeof(d->mag));
        d->mag.w[0] = lim;
        if (!lim)
            d->neg = 0;
        return 1;
    }
    return 0;
}

int sf_dec_int_digits(const sf_dec *d)
{
    char dig[80];
    int n = (int)u_digits(&d->mag, dig);
    if (u_is_zero(&d->mag))
        return 0;
    return n > d->scale ? n - d->scale : 0;
}

int sf_dec_cmp(const sf_dec *a, const sf_dec *b)
{
    sf_dec d;
    if (sf_dec_sub(&d, a, b) != 0) {
        /* Scales too far apart to align: compare signs, then integer digits. */
        if (a->neg != b->neg)
            return a->neg ? -1 : 1;
        int c = sf_dec_int_digits(a) - sf_dec_int_digits(b);
        return (c > 0) == !a->neg ? 1 : -1;
    }
    if (u_is_zero(&d.mag))
        return 0;
    return d.neg ? -1 : 1;
}

/* ---- small decimals (128-bit magnitudes below 10^38) ----------------------- */

#define SDEC_MAX_SCALE 38

static inline u128 p10_128(int k)
{
    return k <= 19 ? (u128)p10[k] : (u128)p10[19] * p10[k - 19];
}

int sf_sdec_parse(sf_sdec *out, const char *s, size_t len)
{
    /* what parse_short takes, without the 256-bit result: integer digits, then at most one '.' and fraction digits */
    const char *p = s, *end = s + len, *d0, *f0;
    uint64_t v = 0;
    size_t nint, nfrac = 0;
    int neg = 0;
    if (len == 0 || len > 20)
        return 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    for (d0 = p; p < end && (unsigned)(*p - '0') <= 9; p++)
        v = v * 10 + (unsigned)(*p - '0');
    nint = (size_t)(p - d0);
    if (p < end) {
        if (*p != '.')
            return 0;
        for (f0 = ++p; p < end && (unsigned)(*p - '0') <= 9; p++)
            v = v * 10 + (unsigned)(*p - '0');
        if (p != end)
            return 0;
        nfrac = (size_t)(p - f0);
    }
    /* at most 20 bytes: a value of more than 18 digits may have wrapped, and is refused here */
    if (nint + nfrac == 0 || nint + nfrac > 18)
        return 0;
    out->mag = v;
    out->scale = (int)nfrac;
    out->neg = neg && v != 0;
    return 1;
}

/* mag * 10^k below 10^38; -1 if not. */
static int sdec_up(u128 *mag, int k)
{
    u128 r;
    if (k > SDEC_MAX_SCALE || __builtin_mul_overflow(*mag, p10_128(k), &r) || r >= p10_128(SDEC_MAX_SCALE))
        return -1;
    *mag = r;
    return 0;
}

static int sdec_addsub(sf_sdec *out, sf_sdec a, sf_sdec b, int negate_b)
{
    if (negate_b)
        b.neg = !b.neg && b.mag != 0;
    if (a.scale < b.scale ? sdec_up(&a.mag, b.scale - a.scale) : sdec_up(&b.mag, a.scale - b.scale))
        return -1;
    out->scale = a.scale > b.scale ? a.scale : b.scale;
    if (a.neg == b.neg) {
        out->mag = a.mag + b.mag; /* both below 10^38: no overflow */
        if (out->mag >= p10_128(SDEC_MAX_SCALE))
            return -1;
        out->neg = a.neg;
    } else if (a.mag >= b.mag) {
        out->mag = a.mag - b.mag;
        out->neg = a.neg;
    } else {
        out->mag = b.mag - a.mag;
        out->neg = b.neg;
    }
    if (out->mag == 0)
        out->neg = 0;
    return 0;
}

int sf_sdec_add(sf_sdec *out, const sf_sdec *a, const sf_sdec *b)
{
    return sdec_addsub(out, *a, *b, 0);
}

int sf_sdec_sub(sf_sdec *out, const sf_sdec *a, const sf_sdec *b)
{
    return sdec_addsub(out, *a, *b, 1);
}

int sf_sdec_mul(sf_sdec *out, const sf_sdec *a, const sf_sdec *b)
{
    u128 r;
    if (a->scale + b->scale > SDEC_MAX_SCALE || __builtin_mul_overflow(a->mag, b->mag, &r) ||
        r >= p10_128(SDEC_MAX_SCALE))
        return -1;
    out->mag = r;
    out->scale = a->scale + b->scale;
    out->neg = a->neg != b->neg && r != 0;
    return 0;
}

int sf_sdec_rescale(sf_sdec *d, int scale)
{
    if (scale < 0 || scale > SDEC_MAX_SCALE)
        return -1;
    if (scale > d->scale) {
        if (sdec_up(&d->mag, scale - d->scale) < 0)
            return -1;
    } else if (scale < d->scale) {
        /* truncate all but the last dropped digit, then round on it */
        int k = d->scale - scale;
        if ((d->mag >> 64) == 0 && k <= 20) {
            uint64_t q = (uint64_t)d->mag / p10[k - 1];
            d->mag = q / 10 + (q % 10 >= 5);
        } else {
            u128 q = d->mag / p10_128(k - 1);
            unsigned digit = (unsigned)(q % 10);
            d->mag = q / 10 + (digit >= 5);
        }
    }
    d->scale = scale;
    if (d->mag == 0)
        d->neg = 0;
    return 0;
}

int sf_sdec_clamp_digits(sf_sdec *d, int digits)
{
    if (digits > SDEC_MAX_SCALE || d->mag <= p10_128(digits) - 1) /* every magnitude is below 10^38 */
        return 0;
    d->mag = p10_128(digits) - 1;
    if (d->mag == 0)
        d->neg = 0;
    return 1;
}

int sf_sdec_clamp_i64(sf_sdec *d, int64_t min, int64_t max)
{
    uint64_t lim = d->neg ? (uint64_t)0 - (uint64_t)min : (uint64_t)max;
    if (d->neg && min >= 0)
        lim = 0;
    if (!d->neg && max < 0)
        lim = 0;
    if (d->mag > lim) {
        d->mag = lim;
        if (!lim)
            d->neg = 0;
        return 1;
    }
    return 0;
}

size_t sf_sdec_format(const sf_sdec *d, char out[SF_DEC_TEXT_MAX + 1])
{
    char dig[48];
    size_t n, o = 0, scale = (size_t)d->scale;
    if ((d->mag >> 64) == 0) {
        n = u64_digits((uint64_t)d->mag, dig);
    } else {
        /* below 10^38: the top 19 digits and the low 19, zero-padded */
        uint64_t hi = (uint64_t)(d->mag / p10[19]), lo = (uint64_t)(d->mag % p10[19]);
        char low[20];
        size_t ln = u64_digits(lo, low);
        n = u64_digits(hi, dig);
        memset(dig + n, '0', 19 - ln);
        memcpy(dig + n + 19 - ln, low, ln);
        n += 19;
    }
    if (d->neg && d->mag != 0)
        out[o++] = '-';
    if (n <= scale) {
        out[o++] = '0';
        out[o++] = '.';
        for (size_t i = n; i < scale; i++)
            out[o++] = '0';
        memcpy(out + o, dig, n);
        o += n;
    } else {
        memcpy(out + o, dig, n - scale);
        o += n - scale;
        if (scale) {
            out[o++] = '.';
            memcpy(out + o, dig + n - scale, scale);
            o += scale;
        }
    }
    out[o] = 0;
    return o;
}

/* ---- word-sized fast path: one product, rounded, fitted and formatted ------- */

int sf_dec_fast_paths = 1;

/*
 * Division by 10^k (1 <= k <= 19) without a division instruction
 * (N. Möller, T. Granlund, "Improved division by invariant integers",
 * 2011): 10^k shifted up to its top bit, floor((2^128 - 1) / that) - 2^64,
 * and the shift.
 */
static const struct {
    uint64_t d, v;
    unsigned s;
} p10inv[20] = {
    {0, 0, 0},
    {0xa000000000000000ull, 0x9999999999999999ull, 60}, /* 10^1 */
    {0xc800000000000000ull, 0x47ae147ae147ae14ull, 57}, /* 10^2 */
    {0xfa00000000000000ull, 0x0624dd2f1a9fbe76ull, 54}, /* 10^3 */
    {0x9c40000000000000ull, 0xa36e2eb1c432ca57ull, 50}, /* 10^4 */
    {0xc350000000000000ull, 0x4f8b588e368f0846ull, 47}, /* 10^5 */
    {0xf424000000000000ull, 0x0c6f7a0b5ed8d36bull, 44}, /* 10^6 */
    {0x9896800000000000ull, 0xad7f29abcaf48578ull, 40}, /* 10^7 */
    {0xbebc200000000000ull, 0x5798ee2308c39df9ull, 37}, /* 10^8 */
    {0xee6b280000000000ull, 0x12e0be826d694b2eull, 34}, /* 10^9 */
    {0x9502f90000000000ull, 0xb7cdfd9d7bdbab7dull, 30}, /* 10^10 */
    {0xba43b74000000000ull, 0x5fd7fe17964955fdull, 27}, /* 10^11 */
    {0xe8d4a51000000000ull, 0x19799812dea11197ull, 24}, /* 10^12 */
    {0x9184e72a00000000ull, 0xc25c268497681c26ull, 20}, /* 10^13 */
    {0xb5e620f480000000ull, 0x6849b86a12b9b01eull, 17}, /* 10^14 */
    {0xe35fa931a0000000ull, 0x203af9ee756159b2ull, 14}, /* 10^15 */
    {0x8e1bc9bf04000000ull, 0xcd2b297d889bc2b6ull, 10}, /* 10^16 */
    {0xb1a2bc2ec5000000ull, 0x70ef54646d496892ull, 7}, /* 10^17 */
    {0xde0b6b3a76400000ull, 0x2725dd1d243aba0eull, 4}, /* 10^18 */
    {0x8ac7230489e80000ull, 0xd83c94fb6d2ac34aull, 0}, /* 10^19 */
};

/* (hi:lo) / 10^k with hi < 10^k: the quotient, *rem the remainder. */
static inline uint64_t div_p10(uint64_t hi, uint64_t lo, int k, uint64_t *rem)
{
    uint64_t d = p10inv[k].d, v = p10inv[k].v, q1, q0, r;
    unsigned s = p10inv[k].s;
    uint64_t u1 = s ? hi << s | lo >> (64 - s) : hi, u0 = lo << s;
    u128 q = (u128)v * u1 + ((u128)(u1 + 1) << 64 | u0);
    q1 = (uint64_t)(q >> 64);
    q0 = (uint64_t)q;
    r = u0 - q1 * d;
    if (r > q0) {
        q1--;
        r += d;
    }
    if (r >= d) {
        q1++;
        r -= d;
    }
    *rem = r >> s;
    return q1;
}

/* Number of decimal digits of v (1..20; 0 for v = 0, which callers print as one "0"). */
static inline size_t u64_ndigits(uint64_t v)
{
    /* log10 from the bit length, corrected by one comparison */
    size_t t = (size_t)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    return t + (t < 20 && v >= p10[t]);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * The eight decimal digits of v < 10^8 as ASCII, most significant first in
 * memory (the word's low byte): the two halves of four digits in 32-bit
 * lanes, split into pairs (y / 100 = y * 5243 >> 19 for y < 10^4) and
 * bytes (y / 10 = y * 103 >> 10 for y < 100); no lane reaches the next.
 */
static inline uint64_t ascii8(uint64_t v)
{
    uint64_t t = v / 10000 | (v % 10000) << 32, h;
    h = (t * 5243) >> 19 & 0x0000007F0000007Full;
    t = h | (t - h * 100) << 16;
    h = (t * 103) >> 10 & 0x000F000F000F000Full;
    t = h | (t - h * 10) << 8;
    return t + 0x3030303030303030ull;
}

/*
 * fmt_u64_scaled for v < 10^8 and scale <= 7: all digits at once, then the
 * integer digits (and the fraction's after them) and the fraction's again
 * past the point, as two 8-byte stores (out has room: SF_DEC_TEXT_MAX).
 */
static inline size_t fmt_small(char *out, uint64_t v, int neg, size_t scale)
{
    const uint64_t d = ascii8(v), z = d ^ 0x3030303030303030ull;
    size_t nd = z ? 8 - (size_t)__builtin_ctzll(z) / 8 : 1, ni = nd > scale ? nd - scale : 1;
    /* the shown digits are the last ni + scale of the eight (ni + scale <= 8) */
    uint64_t a = d >> (8 * (8 - ni - scale));
    char *o = out + (neg ? 1 : 0);
    out[0] = '-';
    memcpy(o, &a, 8);
    if (scale) {
        uint64_t f = d >> (8 * (8 - scale));
        o[ni] = '.';
        memcpy(o + ni + 1, &f, 8);
        o += scale + 1;
    }
    o[ni] = 0;
    return (size_t)(o + ni - out);
}
#endif

/*
 * v with `scale` (<= 20) decimals as text ("-12.50", "0.003", never "-0"),
 * the same text sf_dec_format gives; returns the length. Below 10^8 with at
 * most 7 decimals by fmt_small; otherwise written backwards straight into
 * out, two digits per step (no staging buffer: reloading freshly stored
 * bytes stalls store forwarding).
 */
static size_t fmt_u64_scaled(char *out, uint64_t v, int neg, size_t scale)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (v < 100000000 && scale <= 7)
        return fmt_small(out, v, neg, scale);
#endif
    size_t nd = u64_ndigits(v), ni = nd > scale ? nd - scale : 1, len = (neg ? 1 : 0) + ni + (scale ? scale + 1 : 0);
    char *p = out + len;
    size_t k = scale;
    *p = 0;
    out[0] = '-';
    for (; k >= 2; k -= 2) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (k) {
        *--p = (char)('0' + v % 10);
        v /= 10;
    }
    if (scale)
        *--p = '.';
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return len;
}

size_t sf_sdec_mul_text(char out[SF_DEC_TEXT_MAX + 1], const sf_sdec *a, const sf_sdec *b, const sf_dec_fit *fit,
                        sf_sdec *val)
{
    int k = a->scale + b->scale - fit->scale, neg;
    uint64_t q, r;
    u128 p;
    if (val)
        val->scale = -1;
    /* results of up to 20 digits and 20 decimals: the zero padding of fmt_u64_scaled suffices */
    if (((a->mag | b->mag) >> 64) || k < 0 || k > 38 || fit->scale > 20)
        return 0;
    p = (u128)(uint64_t)a->mag * (uint64_t)b->mag;
    if (k == 0) {
        if (p >> 64)
            return 0;
        q = (uint64_t)p;
    } else if (k <= 19) {
        /* round half away from zero on the magnitude: the remainder against half of 10^k */
        uint64_t d = p10[k];
        if ((uint64_t)(p >> 64) >= d)
            return 0; /* the quotient needs more than 64 bits */
        q = div_p10((uint64_t)(p >> 64), (uint64_t)p, k, &r);
        if (r >= d / 2) {
            if (q == UINT64_MAX)
                return 0;
            q++;
        }
    } else {
        u128 d = p10_128(k), qq = p / d;
        if (p % d >= d / 2)
            qq++;
        if (qq >> 64)
            return 0;
        q = (uint64_t)qq;
    }
    neg = a->neg != b->neg && q != 0;
    if (fit->int_range) {
        uint64_t lim = neg ? (fit->min >= 0 ? 0 : (uint64_t)0 - (uint64_t)fit->min) : (fit->max < 0 ? 0 : (uint64_t)fit->max);
        if (q > lim)
            q = lim;
    } else if (fit->digits >= 0 && fit->digits < 20 && q > p10[fit->digits] - 1) {
        q = p10[fit->digits] - 1;
    }
    if (val && q < 100000000 && fit->scale <= 7) {
        /* at most 8 digits in the text: sf_sdec_parse takes it, and reads exactly this */
        val->mag = q;
        val->scale = fit->scale;
        val->neg = neg && q != 0;
    }
    return fmt_u64_scaled(out, q, neg && q != 0, (size_t)fit->scale);
}
