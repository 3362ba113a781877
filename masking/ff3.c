/* NIST SP 800-38G Rev. 1 FF3-1 (and FF3 for the sample vectors) over AES through EVP. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "ff3.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SF_FF3_AVX512 1
#include <immintrin.h>
#else
#define SF_FF3_AVX512 0
#endif

typedef unsigned __int128 u128;

int sf_ff3_init(sf_ff3 *f, const unsigned char *key, size_t keylen, sf_error *err)
{
    unsigned char rk[32];
    const char *name = keylen == 16 ? "AES-128-ECB" : keylen == 24 ? "AES-192-ECB" : keylen == 32 ? "AES-256-ECB" : NULL;
    EVP_CIPHER *c;
    EVP_CIPHER_CTX *ctx;
    f->aes = NULL;
    f->moduli = NULL;
    if (!name)
        return sf_error_set(err, SF_EUSAGE, "FF3-1 needs a 16, 24 or 32 byte key, not %zu", keylen);
    for (size_t i = 0; i < keylen; i++) /* the cipher is keyed with REVB(K) */
        rk[i] = key[keylen - 1 - i];
    c = EVP_CIPHER_fetch(NULL, name, NULL);
    ctx = c ? EVP_CIPHER_CTX_new() : NULL;
    if (!ctx || !EVP_EncryptInit_ex2(ctx, c, rk, NULL, NULL) || !EVP_CIPHER_CTX_set_padding(ctx, 0)) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        ERR_clear_error();
        EVP_CIPHER_CTX_free(ctx);
        EVP_CIPHER_free(c);
        OPENSSL_cleanse(rk, sizeof(rk));
        return sf_error_set(err, SF_ECRYPTO, "cannot set up %s: %s", name, buf);
    }
    EVP_CIPHER_free(c);
    OPENSSL_cleanse(rk, sizeof(rk));
    f->aes = ctx;
    return 0;
}

void sf_ff3_cleanup(sf_ff3 *f)
{
    EVP_CIPHER_CTX_free(f->aes);
    f->aes = NULL;
    free(f->moduli);
    f->moduli = NULL;
}

/* The generic definitions; sf_ff3_minlen / _maxlen answer the radixes the rules use from constants. */
static size_t minlen_of(unsigned radix)
{
    u128 v = 1;
    size_t n = 0;
    while (v < 1000000) {
        v *= radix;
        n++;
    }
    return n < 2 ? 2 : n;
}

static size_t maxlen_of(unsigned radix)
{
    const u128 lim = (u128)1 << 96;
    u128 v = radix;
    size_t m = 0;
    while (v <= lim) {
        v *= radix;
        m++;
    }
    return 2 * m;
}

size_t sf_ff3_minlen(unsigned radix)
{
    switch (radix) {
    case 10: return 6;
    case 26: return 5;
    case 36: return 4;
    default: return minlen_of(radix);
    }
}

size_t sf_ff3_maxlen(unsigned radix)
{
    switch (radix) {
    case 10: return 56;
    case 26: return 40;
    case 36: return 36;
    default: return maxlen_of(radix);
    }
}

/*
 * The rounds work on NUM_radix(REV(A)) and NUM_radix(REV(B)) as integers:
 * a round's C = REV(STR^m_radix(c)) only ever feeds the next rounds through
 * NUM_radix(REV(C)) = c, so the numeral strings are converted once on the
 * way in and once on the way out. radix^u <= 2^96 for every allowed length,
 * so 128-bit integers always suffice; when radix^u < 2^63 everything fits
 * 64 bits (radix 10 up to 36 numerals, radix 26 up to 26).
 */

/* NUM_radix(REV(X)): x[0] is the least significant numeral. */
static u128 num_rev(const uint8_t *x, size_t n, unsigned radix)
{
    u128 v = 0;
    uint64_t w = 0, lim;
    size_t i = n;
    /* the rules' radixes, short enough for 64 bits: constant multipliers */
    if (radix == 10 && n <= 19) {
        while (i-- > 0)
            w = w * 10 + x[i];
        return w;
    }
    if (radix == 26 && n <= 13) {
        while (i-- > 0)
            w = w * 26 + x[i];
        return w;
    }
    /* the top numerals in 64-bit arithmetic while the next step cannot overflow */
    lim = (UINT64_MAX - (radix - 1)) / radix;
    while (i > 0 && w <= lim) {
        i--;
        w = w * radix + x[i];
    }
    v = w;
    while (i-- > 0)
        v = v * radix + x[i];
    return v;
}

static inline void str_rev64(uint8_t *x, size_t m, unsigned radix, uint64_t c)
{
    /* constant divisors let the compiler multiply instead of divide */
    size_t i = 0;
    switch (radix) {
    case 10:
        /* four digits per step: a quarter of the chain of dependent multiplications */
        for (; i + 4 <= m; i += 4, c /= 10000) {
            unsigned r = (unsigned)(c % 10000), lo = r % 100, hi = r / 100;
            x[i] = (uint8_t)(lo % 10);
            x[i + 1] = (uint8_t)(lo / 10);
            x[i + 2] = (uint8_t)(hi % 10);
            x[i + 3] = (uint8_t)(hi / 10);
        }
        for (; i < m; i++, c /= 10)
            x[i] = (uint8_t)(c % 10);
        break;
    case 26:
        for (; i < m; i++, c /= 26)
            x[i] = (uint8_t)(c % 26);
        break;
    default:
        for (; i < m; i++, c /= radix)
            x[i] = (uint8_t)(c % radix);
        break;
    }
}

/* REV(STR^m_radix(c)) into x. */
static void str_rev(uint8_t *x, size_t m, unsigned radix, u128 c)
{
    size_t i = 0;
    while ((c >> 64) != 0) {
        x[i++] = (uint8_t)(c % radix);
        c /= radix;
    }
    str_rev64(x + i, m - i, radix, (uint64_t)c);
}

/* (hi:lo) mod m with hi < m: one hardware division where available. */
static inline uint64_t mod128_small(uint64_t hi, uint64_t lo, uint64_t m)
{
#if defined(__x86_64__)
    uint64_t q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(m));
    (void)q;
    return r;
#else
    return (uint64_t)((((u128)hi) << 64 | lo) % m);
#endif
}

/*
 * y mod m for a 64-bit modulus, given r64 = 2^64 mod m: y = hi * 2^64 + lo
 * = hi * r64 + lo (mod m), and hi * r64 + lo <= (2^64 - 1) * m < m * 2^64,
 * so a single 128-by-64 division finishes it.
 */
static inline uint64_t mod_y64(u128 y, uint64_t m, uint64_t r64)
{
    u128 t = (u128)(uint64_t)(y >> 64) * r64 + (uint64_t)y;
    return mod128_small((uint64_t)(t >> 64), (uint64_t)t, m);
}

/*
 * y = NUM(REVB(CIPH_REVB(K)(REVB(W xor [i]^4 || [NUM_radix(REV(B))]^12)))).
 * REVB(P) is b's 12 low bytes little-endian followed by W xor i reversed,
 * and NUM(REVB(S)) reads S little-endian.
 */
static int round_value(sf_ff3 *f, const uint8_t w[4], unsigned i, u128 b, u128 *y)
{
    unsigned char rp[16], s[16];
    int outl = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(rp, &b, 12);
#else
    for (int k = 0; k < 12; k++, b >>= 8)
        rp[k] = (unsigned char)(b & 0xff);
#endif
    rp[12] = (unsigned char)(w[3] ^ i);
    rp[13] = w[2];
    rp[14] = w[1];
    rp[15] = w[0];
    if (!EVP_EncryptUpdate(f->aes, s, &outl, rp, 16) || outl != 16) {
        ERR_clear_error();
        return -1;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(y, s, 16);
#else
    *y = 0;
    for (int k = 15; k >= 0; k--)
        *y = (*y << 8) | s[k];
#endif
    return 0;
}

static int check(unsigned radix, const uint8_t *in, size_t n)
{
    if (radix < 2 || radix > 256 || n < sf_ff3_minlen(radix) || n > sf_ff3_maxlen(radix))
        return SF_EUSAGE;
    for (size_t i = 0; i < n; i++)
        if (in[i] >= radix)
            return SF_EUSAGE;
    return 0;
}

/* The eight rounds when radix^u < 2^63: 64-bit values, moduli reduced with one division per round. */
static int rounds64(sf_ff3 *f, const uint8_t tl[4], const uint8_t tr[4], uint64_t *pa, uint64_t *pb, uint64_t pow_u,
                    uint64_t pow_v, int encrypt)
{
    uint64_t a = *pa, b = *pb;
    uint64_t r_u = (UINT64_MAX % pow_u + 1) % pow_u, r_v = (UINT64_MAX % pow_v + 1) % pow_v; /* 2^64 mod pow */
    for (int r = 0; r < 8; r++) {
        unsigned i = encrypt ? (unsigned)r : (unsigned)(7 - r);
        int even = i % 2 == 0;
        uint64_t mod = even ? pow_u : pow_v, c;
        u128 y;
        if (round_value(f, even ? tr : tl, i, encrypt ? b : a, &y) < 0)
            return SF_ECRYPTO;
        y = mod_y64(y, mod, even ? r_u : r_v);
        if (encrypt) {
            /* a < radix^m = mod (A has m numerals), and mod < 2^63: no overflow */
            c = a + (uint64_t)y;
            if (c >= mod)
                c -= mod;
            a = b;
            b = c;
        } else {
            c = b + (mod - (uint64_t)y);
            if (c >= mod)
                c -= mod;
            b = a;
            a = c;
        }
    }
    *pa = a;
    *pb = b;
    return 0;
}

/* The same in 128-bit arithmetic (radix^u <= 2^96). */
static int rounds128(sf_ff3 *f, const uint8_t tl[4], const uint8_t tr[4], u128 *pa, u128 *pb, u128 pow_u, u128 pow_v,
                     int encrypt)
{
    u128 a = *pa, b = *pb;
    for (int r = 0; r < 8; r++) {
        unsigned i = encrypt ? (unsigned)r : (unsigned)(7 - r);
        int even = i % 2 == 0;
        u128 mod = even ? pow_u : pow_v, y, c;
        if (round_value(f, even ? tr : tl, i, encrypt ? b : a, &y) < 0)
            return SF_ECRYPTO;
        y %= mod;
        if (encrypt) {
            c = a + y;
            if (c >= mod)
                c -= mod;
            a = b;
            b = c;
        } else {
            c = b + (mod - y);
            if (c >= mod)
                c -= mod;
            b = a;
            a = c;
        }
    }
    *pa = a;
    *pb = b;
    return 0;
}

static int core(sf_ff3 *f, unsigned radix, const uint8_t tl[4], const uint8_t tr[4], const uint8_t *in,
                uint8_t *out, size_t n, int encrypt)
{
    size_t u = (n + 1) / 2, v = n - u;
    u128 pow_u = 1, pow_v = 1, a, b;
    int rc = check(radix, in, n);
    if (rc)
        return rc;
    for (size_t i = 0; i < u; i++)
        pow_u *= radix;
    pow_v = v == u ? pow_u : pow_u / radix;
    a = num_rev(in, u, radix);
    b = num_rev(in + u, v, radix);
    if (pow_u < ((u128)1 << 63)) {
        uint64_t a64 = (uint64_t)a, b64 = (uint64_t)b;
        if ((rc = rounds64(f, tl, tr, &a64, &b64, (uint64_t)pow_u, (uint64_t)pow_v, encrypt)))
            return rc;
        str_rev64(out, u, radix, a64);
        str_rev64(out + u, v, radix, b64);
    } else {
        if ((rc = rounds128(f, tl, tr, &a, &b, pow_u, pow_v, encrypt)))
            return rc;
        str_rev(out, u, radix, a);
        str_rev(out + u, v, radix, b);
    }
    return 0;
}

static void split56(const uint8_t t[7], uint8_t tl[4], uint8_t tr[4])
{
    tl[0] = t[0], tl[1] = t[1], tl[2] = t[2], tl[3] = (uint8_t)(t[3] & 0xF0);
    tr[0] = t[4], tr[1] = t[5], tr[2] = t[6], tr[3] = (uint8_t)((t[3] & 0x0F) << 4);
}

int sf_ff3_encrypt(sf_ff3 *f, unsigned radix, const uint8_t tweak[7], const uint8_t *in, uint8_t *out, size_t n)
{
    uint8_t tl[4], tr[4];
    split56(tweak, tl, tr);
    return core(f, radix, tl, tr, in, out, n, 1);
}

int sf_ff3_decrypt(sf_ff3 *f, unsigned radix, const uint8_t tweak[7], const uint8_t *in, uint8_t *out, size_t n)
{
    uint8_t tl[4], tr[4];
    split56(tweak, tl, tr);
    return core(f, radix, tl, tr, in, out, n, 0);
}

int sf_ff3_encrypt_64(sf_ff3 *f, unsigned radix, const uint8_t tweak[8], const uint8_t *in, uint8_t *out, size_t n)
{
    return core(f, radix, tweak, tweak + 4, in, out, n, 1);
}

int sf_ff3_decrypt_64(sf_ff3 *f, unsigned radix, const uint8_t tweak[8], const uint8_t *in, uint8_t *out, size_t n)
{
    return core(f, radix, tweak, tweak + 4, in, out, n, 0);
}

/*
 * Reduction modulo a fixed 64-bit m without a division per round
 * (Moeller and Granlund, "Improved division by invariant integers", 2011):
 * m normalised to d = m << sh (top bit set) and its reciprocal
 * v = floor((2^128 - 1) / d) - 2^64, computed once per modulus. The
 * corrections are branch-free: the remainders are random, so branches
 * would be mispredicted half the time.
 */
typedef struct modinv {
    uint64_t m, d, v, r64; /* r64 = 2^64 mod m */
    int sh;
} modinv;

static void modinv_init(modinv *mi, uint64_t m)
{
    mi->m = m;
    mi->sh = __builtin_clzll(m);
    mi->d = m << mi->sh;
    mi->v = (uint64_t)((((u128)~mi->d) << 64 | UINT64_MAX) / mi->d);
    mi->r64 = (UINT64_MAX % m + 1) % m;
}

/* y mod m for any 128-bit y. */
static inline uint64_t modinv_reduce(const modinv *mi, u128 y)
{
    /* y = hi * 2^64 + lo = hi * r64 + lo (mod m), and hi * r64 + lo < m * 2^64 */
    u128 t = (u128)(uint64_t)(y >> 64) * mi->r64 + (uint64_t)y;
    uint64_t nh = (uint64_t)(t >> 64), nl = (uint64_t)t, q1, q0, r;
    u128 q;
    /* sh >= 1 (m < 2^63): no shift by 64 */
    nh = (nh << mi->sh) | (nl >> (64 - mi->sh));
    nl <<= mi->sh;
    /* the 2/1 division of (nh, nl) by d with nh < d: only the remainder is kept */
    q = (u128)mi->v * nh + (((u128)(nh + 1) << 64) | nl);
    q1 = (uint64_t)(q >> 64);
    q0 = (uint64_t)q;
    r = nl - q1 * mi->d;
    r += mi->d & (0 - (uint64_t)(r > q0));
    r -= mi->d & (0 - (uint64_t)(r >= mi->d));
    return r >> mi->sh;
}

/*
 * A modulus m < 2^50 for the vector rounds, in doubles (all exact):
 * m, its rounded reciprocal, and 2^32, 2^64, 2^96 mod m.
 */
typedef struct vmod {
    double m, inv, r[3];
} vmod;

/* Largest half (numerals) whose radix^u stays below 2^50: the vector rounds. */
static size_t vec_half(unsigned radix)
{
    size_t k = 0;
    u128 v = 1;
    switch (radix) {
    case 10: return 15;
    case 26: return 10;
    case 36: return 9;
    default:
        while (v * radix < ((u128)1 << 50)) {
            v *= radix;
            k++;
        }
        return k;
    }
}

static void vmod_init(vmod *v, uint64_t m)
{
    v->m = (double)m;
    v->inv = 1.0 / v->m;
    v->r[0] = (double)(((u128)1 << 32) % m);
    v->r[1] = (double)(uint64_t)(((u128)1 << 64) % m);
    v->r[2] = (double)(uint64_t)(((u128)1 << 96) % m);
}

/* The moduli radix^k (1 <= k <= 19) of the rules' radixes 10, 26, 36, with their reciprocals: computed at init. */
#define NMOD 20
struct sf_ff3_moduli {
    modinv mi[3][NMOD];
    vmod vm[3][NMOD]; /* k <= vec_half(radix) */
};

static int radix_slot(unsigned radix)
{
    return radix == 10 ? 0 : radix == 26 ? 1 : radix == 36 ? 2 : -1;
}

/* Longest half (numerals) whose radix^u stays below 2^63: 64-bit rounds. */
static size_t small_half(unsigned radix)
{
    size_t k = 0;
    u128 v = 1;
    switch (radix) {
    case 10: return 18;
    case 26: return 13;
    case 36: return 12;
    default:
        while (v * radix < ((u128)1 << 63)) {
            v *= radix;
            k++;
        }
        return k;
    }
}

static struct sf_ff3_moduli *moduli_new(void)
{
    static const unsigned radixes[3] = {10, 26, 36};
    struct sf_ff3_moduli *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    for (int r = 0; r < 3; r++) {
        uint64_t pow = 1;
        for (size_t k = 1; k <= small_half(radixes[r]); k++) {
            pow *= radixes[r];
            modinv_init(&c->mi[r][k], pow);
            if (k <= vec_half(radixes[r]))
                vmod_init(&c->vm[r][k], pow);
        }
    }
    return c;
}

/* radix^k (below 2^63) and its reciprocal: the context's table, or computed into tmp. */
static const modinv *modulus(sf_ff3 *f, unsigned radix, size_t k, modinv *tmp)
{
    int r = radix_slot(radix);
    uint64_t pow = 1;
    if (!f->moduli && r >= 0)
        f->moduli = moduli_new(); /* an optimisation: without it they are computed each time */
    if (r >= 0 && f->moduli && k >= 1 && k <= small_half(radix))
        return &f->moduli->mi[r][k];
    for (size_t i = 0; i < k; i++)
        pow *= radix;
    modinv_init(tmp, pow);
    return tmp;
}

/* radix^k below 2^50 for the vector rounds: the context's table, or computed into tmp. */
static const vmod *vmodulus(sf_ff3 *f, unsigned radix, size_t k, vmod *tmp)
{
    int r = radix_slot(radix);
    uint64_t pow = 1;
    if (!f->moduli && r >= 0)
        f->moduli = moduli_new();
    if (r >= 0 && f->moduli && k >= 1)
        return &f->moduli->vm[r][k];
    for (size_t i = 0; i < k; i++)
        pow *= radix;
    vmod_init(tmp, pow);
    return tmp;
}

/* modulus() for a batch: the table (all k of radix r present) when the context has it. */
static inline const modinv *modulus_of(sf_ff3 *f, const modinv *tab, unsigned radix, size_t k, modinv *tmp)
{
    return tab ? &tab[k] : modulus(f, radix, k, tmp);
}

/* NUM_radix(REV(X)) of at most small_half(radix) numerals: 64 bits, constant multipliers for the rules' radixes. */
static inline uint64_t num_rev64(const uint8_t *x, size_t n, unsigned radix)
{
    uint64_t w = 0;
    switch (radix) {
    case 10:
        while (n-- > 0)
            w = w * 10 + x[n];
        return w;
    case 26:
        while (n-- > 0)
            w = w * 26 + x[n];
        return w;
    default:
        while (n-- > 0)
            w = w * radix + x[n];
        return w;
    }
}

/*
 * Radix 10 in the batch: eight numerals at a time in one 64-bit word
 * (byte i = numeral i, least significant first, as REV puts them), with
 * multiply-and-mask steps instead of a chain of one multiplication or
 * division per digit. The one-value path (core) keeps the plain loops and
 * so checks these in the tests.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR10 1

/* x[0..k) (k <= 8) as a word's low bytes, the others 0; nothing past x[k - 1] is read. */
static inline uint64_t load_k(const uint8_t *x, size_t k)
{
    uint64_t w = 0;
    size_t o = 0;
    if (k == 8) {
        memcpy(&w, x, 8);
        return w;
    }
    if (k & 4) {
        uint32_t t;
        memcpy(&t, x, 4);
        w = t;
        o = 4;
    }
    if (k & 2) {
        uint16_t t;
        memcpy(&t, x + o, 2);
        w |= (uint64_t)t << (8 * o);
        o += 2;
    }
    if (k & 1)
        w |= (uint64_t)x[o] << (8 * o);
    return w;
}

/* The word's low k bytes into x[0..k); nothing past x[k - 1] is written. */
static inline void store_k(uint8_t *x, size_t k, uint64_t w)
{
    size_t o = 0;
    if (k == 8) {
        memcpy(x, &w, 8);
        return;
    }
    if (k & 4) {
        uint32_t t = (uint32_t)w;
        memcpy(x, &t, 4);
        o = 4;
    }
    if (k & 2) {
        uint16_t t = (uint16_t)(w >> (8 * o));
        memcpy(x + o, &t, 2);
        o += 2;
    }
    if (k & 1)
        x[o] = (uint8_t)(w >> (8 * o));
}

/* sum of byte i * 10^i over a word of eight numerals 0..9: pairs, then quads, then the two halves */
static inline uint64_t swar_num8(uint64_t w)
{
    w = (w & 0x00FF00FF00FF00FFull) + ((w >> 8) & 0x00FF00FF00FF00FFull) * 10;
    w = (w & 0x0000FFFF0000FFFFull) + ((w >> 16) & 0x0000FFFF0000FFFFull) * 100;
    return (w & 0xFFFFFFFFull) + (w >> 32) * 10000;
}

/*
 * The eight decimal numerals of c < 10^8, byte i = digit i: two 32-bit
 * lanes of 4 digits, split into 16-bit lanes of 2 (y / 100 = y * 5243 >> 19
 * for y < 10^4), then into bytes (y / 10 = y * 103 >> 10 for y < 100); no
 * lane's product reaches the next lane.
 */
static inline uint64_t swar_str8(uint64_t c)
{
    uint64_t t = (c % 10000) | (c / 10000) << 32, hi;
    hi = ((t * 5243) >> 19) & 0x0000007F0000007Full;
    t = (t - hi * 100) | hi << 16;
    hi = ((t * 103) >> 10) & 0x000F000F000F000Full;
    return (t - hi * 10) | hi << 8;
}

/* NUM_10(REV(X)) of n <= 19 numerals. */
static inline uint64_t num10(const uint8_t *x, size_t n)
{
    uint64_t w = 0, p = 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8, p *= 100000000ull)
        w += swar_num8(load_k(x + i, 8)) * p;
    if (i < n)
        w += swar_num8(load_k(x + i, n - i)) * p;
    return w;
}

/* REV(STR^m_10(c)) for c < 10^m. */
static inline void str10(uint8_t *x, size_t m, uint64_t c)
{
    size_t i = 0;
    for (; i + 8 <= m; i += 8, c /= 100000000ull)
        store_k(x + i, 8, swar_str8(c % 100000000ull));
    if (i < m)
        store_k(x + i, m - i, swar_str8(c));
}
#endif

/*
 * T_L and T_R of a 56-bit tweak as the last word of the rounds' AES blocks
 * (REVB puts W's bytes reversed there, the round number XORed into the
 * first): computed once per tweak by fpe.c, not once per value and round.
 */
void sf_ff3_tweak_words(const uint8_t tweak[7], uint32_t *wl, uint32_t *wr)
{
    uint8_t tl[4], tr[4];
    split56(tweak, tl, tr);
    /* REVB(W xor [i]^4 || ...) ends with W's bytes reversed, the round number in the first of them */
    *wr = (uint32_t)tr[3] | (uint32_t)tr[2] << 8 | (uint32_t)tr[1] << 16 | (uint32_t)tr[0] << 24;
    *wl = (uint32_t)tl[3] | (uint32_t)tl[2] << 8 | (uint32_t)tl[1] << 16 | (uint32_t)tl[0] << 24;
}

#define LANES 64

/* The AES call of one round: LANES blocks at most. */
static int aes_blocks(sf_ff3 *f, unsigned char *out, const unsigned char *in, size_t k)
{
    int outl = 0;
    if (!EVP_EncryptUpdate(f->aes, out, &outl, in, (int)(16 * k)) || outl != (int)(16 * k)) {
        ERR_clear_error();
        return SF_ECRYPTO;
    }
    return 0;
}

/*
 * Up to LANES lanes whose halves fit 64 bits (radix^u < 2^63), rounds
 * interleaved: per round, every lane's block [NUM(REV(B))]^12 with the
 * tweak word and round number, one AES call, then every lane's
 * reduction modulo radix^m by reciprocal (no division) and Feistel step.
 */
static int small_group(sf_ff3 *f, sf_ff3_lane *const *ls, size_t k)
{
    uint64_t a[LANES], b[LANES];
    const modinv *mu[LANES], *mv[LANES];
    modinv tmp[2 * LANES];
    uint32_t wl[LANES], wr[LANES];
    unsigned char in[LANES * 16], out[LANES * 16];
    for (size_t j = 0; j < k; j++) {
        const sf_ff3_lane *l = ls[j];
        unsigned radix = l->radix;
        size_t u = (l->n + 1u) / 2u, v = l->n - u;
        const modinv *tab;
        int r = radix_slot(radix);
        if (r >= 0 && !f->moduli)
            f->moduli = moduli_new();
        tab = r >= 0 && f->moduli ? f->moduli->mi[r] : NULL;
        mu[j] = modulus_of(f, tab, radix, u, &tmp[2 * j]);
        mv[j] = v == u ? mu[j] : modulus_of(f, tab, radix, v, &tmp[2 * j + 1]);
#ifdef SWAR10
        if (radix == 10) {
            a[j] = num10(l->x, u);
            b[j] = num10(l->x + u, v);
        } else
#endif
        {
            a[j] = num_rev64(l->x, u, radix);
            b[j] = num_rev64(l->x + u, v, radix);
        }
        wl[j] = l->wl;
        wr[j] = l->wr;
    }
    for (unsigned i = 0; i < 8; i++) {
        int rc;
        const uint32_t *w = i % 2 == 0 ? wr : wl;
        const modinv *const *mm = i % 2 == 0 ? mu : mv;
        for (size_t j = 0; j < k; j++) {
            /* b < 2^63: the block's bytes 8..11 are zero, 12..15 the tweak word with the round number */
            uint64_t lo = b[j], hi = (uint64_t)(w[j] ^ i) << 32;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            memcpy(in + 16 * j, &lo, 8);
            memcpy(in + 16 * j + 8, &hi, 8);
#else
            for (int t = 0; t < 8; t++)
                in[16 * j + t] = (unsigned char)(lo >> (8 * t)), in[16 * j + 8 + t] = (unsigned char)(hi >> (8 * t));
#endif
        }
        if ((rc = aes_blocks(f, out, in, k)))
            return rc;
        for (size_t j = 0; j < k; j++) {
            const modinv *mi = mm[j];
            u128 y;
            uint64_t c;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            memcpy(&y, out + 16 * j, 16);
#else
            y = 0;
            for (int t = 15; t >= 0; t--)
                y = (y << 8) | out[16 * j + t];
#endif
            /* a < m and the reduced y < m < 2^63: the sum does not overflow */
            c = a[j] + modinv_reduce(mi, y);
            c -= mi->m & (0 - (uint64_t)(c >= mi->m));
            a[j] = b[j];
            b[j] = c;
        }
    }
    for (size_t j = 0; j < k; j++) {
        const sf_ff3_lane *l = ls[j];
        size_t u = (l->n + 1u) / 2u;
#ifdef SWAR10
        if (l->radix == 10) {
            str10(l->x, u, a[j]);
            str10(l->x + u, l->n - u, b[j]);
            continue;
        }
#endif
        str_rev64(l->x, u, l->radix, a[j]);
        str_rev64(l->x + u, l->n - u, l->radix, b[j]);
    }
    return 0;
}

#if SF_FF3_AVX512
/*
 * The rounds of small_group for lanes with radix^u < 2^50, eight lanes per
 * instruction in AVX-512 doubles (picked at run time; small_group is the
 * path elsewhere, and under sf_ff3_simd = 0). Every step is exact integer
 * arithmetic, so the results are small_group's:
 *
 * y = w0 + w1 2^32 + w2 2^64 + w3 2^96 (the AES output's 32-bit words)
 * = w0 + w1 R1 + w2 R2 + w3 R3 (mod m), R_k = 2^(32k) mod m < m < 2^50.
 * Each w R (< 2^82) is reduced by vmodmul: h = fl(w R), l = w R - h
 * exactly (FMA, |l| <= 2^29), q = floor(h / m) from the rounded
 * reciprocal is within 1 of floor(w R / m) (w R / m < 2^32, relative error
 * under 2^-51), so h - q m is an integer of magnitude below 2m + 2^29 <
 * 2^53, which one FMA gives exactly, and r = (h - q m) + l = w R - q m
 * lies in [-m, 2m). The sum t of w0 and the three r is an integer below
 * 2^53 in magnitude, exact; t - floor(t / m) m, again by one FMA, lies in
 * [-m, 2m) and one conditional add and one conditional subtract bring it
 * into [0, m). a, b and the Feistel sum (< 2m) stay below 2^51.
 */
#define VEC_TARGET "avx512f,avx512dq,avx512bw,avx512vl"

__attribute__((target(VEC_TARGET))) static inline __m512d vmodmul(__m512d w, __m512d r, __m512d m, __m512d inv)
{
    __m512d h = _mm512_mul_pd(w, r), l = _mm512_fmsub_pd(w, r, h);
    __m512d q = _mm512_roundscale_pd(_mm512_mul_pd(h, inv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return _mm512_add_pd(_mm512_fnmadd_pd(q, m, h), l);
}

/*
 * NUM_10(REV(X)) of eight radix-10 halves x[j][0..n[j]) (n <= 16), as
 * doubles: each half in a 128-bit lane (masked loads: nothing past the
 * half is read), digit pairs, quads, eights and the two eights combined by
 * multiply-adds (num10 per lane, 16 lanes' digits per instruction).
 */
__attribute__((target(VEC_TARGET))) static inline __m512d vnum10(uint8_t *const *x, const uint16_t *n)
{
    const __m512i w10 = _mm512_set1_epi16(10 << 8 | 1), w100 = _mm512_set1_epi32(100 << 16 | 1);
    const __m512i e4 = _mm512_set1_epi64(10000), e8 = _mm512_set1_epi64(100000000), lo32 = _mm512_set1_epi64(0xFFFFFFFF);
    __m512i z[2];
    for (int h = 0; h < 2; h++) {
        const int o = 4 * h;
        __m512i t = _mm512_castsi128_si512(_mm_maskz_loadu_epi8((__mmask16)((1u << n[o]) - 1), x[o]));
        t = _mm512_inserti32x4(t, _mm_maskz_loadu_epi8((__mmask16)((1u << n[o + 1]) - 1), x[o + 1]), 1);
        t = _mm512_inserti32x4(t, _mm_maskz_loadu_epi8((__mmask16)((1u << n[o + 2]) - 1), x[o + 2]), 2);
        t = _mm512_inserti32x4(t, _mm_maskz_loadu_epi8((__mmask16)((1u << n[o + 3]) - 1), x[o + 3]), 3);
        t = _mm512_madd_epi16(_mm512_maddubs_epi16(t, w10), w100);
        t = _mm512_add_epi64(_mm512_and_si512(t, lo32), _mm512_mul_epu32(_mm512_srli_epi64(t, 32), e4));
        z[h] = _mm512_add_epi64(t, _mm512_mul_epu32(_mm512_unpackhi_epi64(t, t), e8));
    }
    return _mm512_cvtepu64_pd(_mm512_permutex2var_epi64(z[0], _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), z[1]));
}

/* swar_str8 on eight 64-bit lanes (each < 10^8): y / 10^4 = y * 109951163 >> 40 for y < 10^8. */
__attribute__((target(VEC_TARGET))) static inline __m512i vswar_str8(__m512i v)
{
    __m512i q = _mm512_srli_epi64(_mm512_mul_epu32(v, _mm512_set1_epi64(109951163)), 40), hi;
    __m512i t = _mm512_or_si512(_mm512_sub_epi64(v, _mm512_mul_epu32(q, _mm512_set1_epi64(10000))), _mm512_slli_epi64(q, 32));
    hi = _mm512_and_si512(_mm512_srli_epi32(_mm512_mullo_epi32(t, _mm512_set1_epi32(5243)), 19), _mm512_set1_epi32(0x7F));
    t = _mm512_or_si512(_mm512_sub_epi32(t, _mm512_mullo_epi32(hi, _mm512_set1_epi32(100))), _mm512_slli_epi32(hi, 16));
    hi = _mm512_and_si512(_mm512_srli_epi16(_mm512_mullo_epi16(t, _mm512_set1_epi16(103)), 10), _mm512_set1_epi16(0xF));
    return _mm512_or_si512(_mm512_sub_epi16(t, _mm512_mullo_epi16(hi, _mm512_set1_epi16(10))), _mm512_slli_epi16(hi, 8));
}

/*
 * REV(STR^n_10(c)) of eight values c < 10^16 (exact integers in doubles)
 * into x[j][0..n[j]) (masked stores: nothing past the half is written):
 * c = hi 10^8 + lo (floor by reciprocal, corrected exactly), each part's
 * eight digits by vswar_str8, then digits 0-7 and 8-15 of a lane together.
 */
__attribute__((target(VEC_TARGET))) static inline void vstr10(uint8_t *const *x, const uint16_t *n, __m512d c)
{
    const __m512d e8 = _mm512_set1_pd(1e8), one = _mm512_set1_pd(1.0);
    __m512d q = _mm512_roundscale_pd(_mm512_mul_pd(c, _mm512_set1_pd(1e-8)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(q, e8, c);
    __mmask8 lt = _mm512_cmp_pd_mask(r, _mm512_setzero_pd(), _CMP_LT_OQ), ge = _mm512_cmp_pd_mask(r, e8, _CMP_GE_OQ);
    __m512i lo, hi, u, v;
    q = _mm512_mask_sub_pd(q, lt, q, one);
    r = _mm512_mask_add_pd(r, lt, r, e8);
    q = _mm512_mask_add_pd(q, ge, q, one);
    r = _mm512_mask_sub_pd(r, ge, r, e8);
    lo = vswar_str8(_mm512_cvttpd_epu64(r));
    hi = vswar_str8(_mm512_cvttpd_epu64(q));
    /* u: lanes 0, 2, 4, 6 as [digits 0-7, digits 8-15]; v: lanes 1, 3, 5, 7 */
    u = _mm512_unpacklo_epi64(lo, hi);
    v = _mm512_unpackhi_epi64(lo, hi);
#define STORE_LANE(j, src, k) _mm_mask_storeu_epi8(x[j], (__mmask16)((1u << n[j]) - 1), _mm512_extracti32x4_epi32(src, k))
    STORE_LANE(0, u, 0);
    STORE_LANE(1, v, 0);
    STORE_LANE(2, u, 1);
    STORE_LANE(3, v, 1);
    STORE_LANE(4, u, 2);
    STORE_LANE(5, v, 2);
    STORE_LANE(6, u, 3);
    STORE_LANE(7, v, 3);
#undef STORE_LANE
}

/* One lane's half as an integer (the scalar conversions of small_group). */
static inline uint64_t num_half(const uint8_t *x, size_t n, unsigned radix)
{
#ifdef SWAR10
    if (radix == 10)
        return num10(x, n);
#endif
    return num_rev64(x, n, radix);
}

static inline void str_half(uint8_t *x, size_t n, unsigned radix, uint64_t c)
{
#ifdef SWAR10
    if (radix == 10) {
        str10(x, n, c);
        return;
    }
#endif
    str_rev64(x, n, radix, c);
}

__attribute__((target(VEC_TARGET))) static int vec_group(sf_ff3 *f, sf_ff3_lane *const *ls, size_t k)
{
    /* per lane, padded to a multiple of 8 lanes; [0]: even rounds (radix^u, T_R, half A), [1]: odd (radix^v, T_L, half B) */
    double A[LANES], B[LANES], M[2][LANES], INV[2][LANES], R[2][3][LANES];
    uint64_t W[2][LANES];
    uint8_t *px[2][LANES], pad[16] = {0};
    uint16_t pn[2][LANES];
    unsigned char in[LANES * 16], out[LANES * 16], dec[LANES / 8]; /* dec: the block of 8 lanes is all radix 10 */
    uint32_t widx[4][16];
    const size_t kp = (k + 7) & ~(size_t)7;
    /* a block is [b, (tweak word ^ i) << 32] as two little-endian words: lanes 0-3, then 4-7 */
    const __m512i blk_lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), blk_hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512d zero = _mm512_setzero_pd();
    vmod tmp[2];
    const vmod *mm[2] = {NULL, NULL};
    unsigned last_radix = 0, last_n = 0;
    memset(dec, 1, sizeof(dec));
    for (size_t j = 0; j < k; j++) {
        const sf_ff3_lane *l = ls[j];
        size_t u = (l->n + 1u) / 2u, v = l->n - u;
        if (l->radix != last_radix || l->n != last_n) {
            /* the lanes of a batch mostly share their radix and length: the moduli of the previous lane */
            mm[0] = vmodulus(f, l->radix, u, &tmp[0]);
            mm[1] = v == u ? mm[0] : vmodulus(f, l->radix, v, &tmp[1]);
            last_radix = l->radix;
            last_n = l->n;
        }
        px[0][j] = l->x;
        px[1][j] = l->x + u;
        pn[0][j] = (uint16_t)u;
        pn[1][j] = (uint16_t)v;
        if (l->radix != 10 || u > 16)
            dec[j / 8] = 0;
        for (int p = 0; p < 2; p++) {
            M[p][j] = mm[p]->m;
            INV[p][j] = mm[p]->inv;
            for (int t = 0; t < 3; t++)
                R[p][t][j] = mm[p]->r[t];
        }
        W[0][j] = (uint64_t)l->wr << 32;
        W[1][j] = (uint64_t)l->wl << 32;
    }
    for (size_t j = k; j < kp; j++) {
        /* padding lanes: no numerals, a valid modulus; their results are dropped */
        for (int p = 0; p < 2; p++) {
            px[p][j] = pad;
            pn[p][j] = 0;
            M[p][j] = M[p][0];
            INV[p][j] = INV[p][0];
            for (int t = 0; t < 3; t++)
                R[p][t][j] = 0;
            W[p][j] = 0;
        }
    }
    for (size_t j = 0; j < kp; j += 8) {
        if (dec[j / 8]) {
            _mm512_storeu_pd(A + j, vnum10(px[0] + j, pn[0] + j));
            _mm512_storeu_pd(B + j, vnum10(px[1] + j, pn[1] + j));
            continue;
        }
        for (size_t i = j; i < j + 8; i++) {
            A[i] = i < k ? (double)num_half(px[0][i], pn[0][i], ls[i]->radix) : 0;
            B[i] = i < k ? (double)num_half(px[1][i], pn[1][i], ls[i]->radix) : 0;
        }
    }
    /* word t of the 8 lanes' blocks (two vectors of four blocks) into the low 8 dwords */
    for (int t = 0; t < 4; t++)
        for (int e = 0; e < 16; e++)
            widx[t][e] = (uint32_t)(4 * (e & 7) + t);
    for (unsigned i = 0; i < 8; i++) {
        const unsigned p = i & 1;
        const __m512i round = _mm512_set1_epi64((long long)((uint64_t)i << 32));
        int rc;
        for (size_t j = 0; j < kp; j += 8) {
            __m512i b = _mm512_cvttpd_epu64(_mm512_loadu_pd(B + j));
            __m512i w = _mm512_xor_si512(_mm512_loadu_si512(W[p] + j), round);
            _mm512_storeu_si512(in + 16 * j, _mm512_permutex2var_epi64(b, blk_lo, w));
            _mm512_storeu_si512(in + 16 * j + 64, _mm512_permutex2var_epi64(b, blk_hi, w));
        }
        if ((rc = aes_blocks(f, out, in, kp)))
            return rc;
        for (size_t j = 0; j < kp; j += 8) {
            const __m512i y0 = _mm512_loadu_si512(out + 16 * j), y1 = _mm512_loadu_si512(out + 16 * j + 64);
            const __m512d m = _mm512_loadu_pd(M[p] + j), inv = _mm512_loadu_pd(INV[p] + j);
            __m512d t, q, r, c;
            t = _mm512_cvtepu32_pd(_mm512_castsi512_si256(_mm512_permutex2var_epi32(y0, _mm512_loadu_si512(widx[0]), y1)));
            for (int wd = 1; wd < 4; wd++) {
                __m512d d = _mm512_cvtepu32_pd(
                    _mm512_castsi512_si256(_mm512_permutex2var_epi32(y0, _mm512_loadu_si512(widx[wd]), y1)));
                t = _mm512_add_pd(t, vmodmul(d, _mm512_loadu_pd(R[p][wd - 1] + j), m, inv));
            }
            q = _mm512_roundscale_pd(_mm512_mul_pd(t, inv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            r = _mm512_fnmadd_pd(q, m, t);
            r = _mm512_mask_add_pd(r, _mm512_cmp_pd_mask(r, zero, _CMP_LT_OQ), r, m);
            r = _mm512_mask_sub_pd(r, _mm512_cmp_pd_mask(r, m, _CMP_GE_OQ), r, m);
            c = _mm512_add_pd(_mm512_loadu_pd(A + j), r);
            c = _mm512_mask_sub_pd(c, _mm512_cmp_pd_mask(c, m, _CMP_GE_OQ), c, m);
            _mm512_storeu_pd(A + j, _mm512_loadu_pd(B + j));
            _mm512_storeu_pd(B + j, c);
        }
    }
    for (size_t j = 0; j < kp; j += 8) {
        if (dec[j / 8]) {
            vstr10(px[0] + j, pn[0] + j, _mm512_loadu_pd(A + j));
            vstr10(px[1] + j, pn[1] + j, _mm512_loadu_pd(B + j));
            continue;
        }
        for (size_t i = j; i < j + 8 && i < k; i++) {
            str_half(px[0][i], pn[0][i], ls[i]->radix, (uint64_t)A[i]);
            str_half(px[1][i], pn[1][i], ls[i]->radix, (uint64_t)B[i]);
        }
    }
    return 0;
}
#endif

int sf_ff3_simd = -1;

/* The vector rounds are there (the CPU has AVX-512 F, DQ, BW and VL) and not turned off by sf_ff3_simd. */
static int use_vec(void)
{
#if SF_FF3_AVX512
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h && sf_ff3_simd != 0;
#else
    return 0;
#endif
}

/* The same for lanes whose halves need 128 bits (radix^u <= 2^96), with divisions. */
static int big_group(sf_ff3 *f, sf_ff3_lane *const *ls, size_t k)
{
    u128 a[LANES], b[LANES], pu[LANES], pv[LANES];
    unsigned char in[LANES * 16], out[LANES * 16];
    for (size_t j = 0; j < k; j++) {
        const sf_ff3_lane *l = ls[j];
        size_t u = (l->n + 1u) / 2u, v = l->n - u;
        pu[j] = 1;
        for (size_t i = 0; i < u; i++)
            pu[j] *= l->radix;
        pv[j] = v == u ? pu[j] : pu[j] / l->radix;
        a[j] = num_rev(l->x, u, l->radix);
        b[j] = num_rev(l->x + u, v, l->radix);
    }
    for (unsigned i = 0; i < 8; i++) {
        int rc, even = i % 2 == 0;
        for (size_t j = 0; j < k; j++) {
            u128 bb = b[j];
            uint32_t w = (even ? ls[j]->wr : ls[j]->wl) ^ i;
            for (int t = 0; t < 12; t++, bb >>= 8)
                in[16 * j + t] = (unsigned char)(bb & 0xff);
            for (int t = 0; t < 4; t++)
                in[16 * j + 12 + t] = (unsigned char)(w >> (8 * t));
        }
        if ((rc = aes_blocks(f, out, in, k)))
            return rc;
        for (size_t j = 0; j < k; j++) {
            u128 y = 0, mod = even ? pu[j] : pv[j], c;
            for (int t = 15; t >= 0; t--)
                y = (y << 8) | out[16 * j + t];
            c = a[j] + y % mod;
            if (c >= mod)
                c -= mod;
            a[j] = b[j];
            b[j] = c;
        }
    }
    for (size_t j = 0; j < k; j++) {
        const sf_ff3_lane *l = ls[j];
        size_t u = (l->n + 1u) / 2u;
        str_rev(l->x, u, l->radix, a[j]);
        str_rev(l->x + u, l->n - u, l->radix, b[j]);
    }
    return 0;
}

/*
 * The lanes in groups of 64 of one kind (halves within 64 bits, or not),
 * in their order within each kind; every lane is independent, so the
 * grouping does not change any result. Lanes are trusted (fpe.c's).
 */
int sf_ff3_encrypt_lanes(sf_ff3 *f, sf_ff3_lane *lanes, size_t count)
{
    sf_ff3_lane *sm[LANES], *bg[LANES];
    size_t ns = 0, nb = 0;
    int rc;
#if SF_FF3_AVX512
    sf_ff3_lane *vc[LANES];
    size_t nv = 0;
    const int vec = use_vec();
#endif
    for (size_t i = 0; i < count; i++) {
        sf_ff3_lane *l = &lanes[i];
#if SF_FF3_AVX512
        if (vec && (l->n + 1u) / 2u <= vec_half(l->radix)) {
            vc[nv++] = l;
            if (nv == LANES) {
                if ((rc = vec_group(f, vc, nv)))
                    return rc;
                nv = 0;
            }
            continue;
        }
#endif
        if ((l->n + 1u) / 2u <= small_half(l->radix)) {
            sm[ns++] = l;
            if (ns == LANES) {
                if ((rc = small_group(f, sm, ns)))
                    return rc;
                ns = 0;
            }
        } else {
            bg[nb++] = l;
            if (nb == LANES) {
                if ((rc = big_group(f, bg, nb)))
                    return rc;
                nb = 0;
            }
        }
    }
#if SF_FF3_AVX512
    if (nv && (rc = vec_group(f, vc, nv)))
        return rc;
#endif
    if (ns && (rc = small_group(f, sm, ns)))
        return rc;
    if (nb && (rc = big_group(f, bg, nb)))
        return rc;
    return 0;
}

/* Every request checked first (nothing changes on SF_EUSAGE), then run as lanes. */
int sf_ff3_encrypt_many(sf_ff3 *f, sf_ff3_req *reqs, size_t count)
{
    sf_ff3_lane lanes[LANES];
    for (size_t i = 0; i < count; i++) {
        int rc = check(reqs[i].radix, reqs[i].x, reqs[i].n);
        if (rc)
            return rc;
    }
    for (size_t g = 0; g < count; g += LANES) {
        size_t k = count - g < LANES ? count - g : LANES;
        int rc;
        for (size_t j = 0; j < k; j++) {
            const sf_ff3_req *q = &reqs[g + j];
            lanes[j].x = q->x;
            lanes[j].n = (uint16_t)q->n;
            lanes[j].radix = (uint16_t)q->radix;
            sf_ff3_tweak_words(q->tweak, &lanes[j].wl, &lanes[j].wr);
        }
        if ((rc = sf_ff3_encrypt_lanes(f, lanes, k)))
            return rc;
    }
    return 0;
}
