/* FF3-1 against NIST/ACVP vectors, and the small-domain / chunked FPE around it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "ff3.h"
#include "fpe.h"

static size_t unhex(unsigned char *out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void to_numerals(uint8_t *x, const char *s, const char *alphabet)
{
    for (size_t i = 0; s[i]; i++)
        x[i] = (uint8_t)(strchr(alphabet, s[i]) - alphabet);
}

static void from_numerals(char *s, const uint8_t *x, size_t n, const char *alphabet)
{
    for (size_t i = 0; i < n; i++)
        s[i] = alphabet[x[i]];
    s[n] = 0;
}

typedef struct {
    unsigned radix;
    const char *alphabet, *key, *tweak, *pt, *ct;
} vector;

#define DIGITS "0123456789"
#define B26 "0123456789abcdefghijklmnop" /* NIST FF3 samples write radix 26 this way */
#define AZ "abcdefghijklmnopqrstuvwxyz"
#define B64 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/"

/* NIST FF3 samples (SP 800-38G examples, 64-bit tweaks). */
static const vector ff3_samples[] = {
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A94", "D8E7920AFA330A73", "890121234567890000", "750918814058654607"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A94", "9A768A92F60E12D8", "890121234567890000", "018989839189395384"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A94", "D8E7920AFA330A73", "89012123456789000000789000000", "48598367162252569629397416226"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A94", "0000000000000000", "89012123456789000000789000000", "34695224821734535122613701434"},
    {26, B26, "EF4359D8D580AA4F7F036D6F04FC6A94", "9A768A92F60E12D8", "0123456789abcdefghi", "g2pk40i992fn20cjakb"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6", "D8E7920AFA330A73", "890121234567890000", "646965393875028755"},
    {26, B26, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6", "9A768A92F60E12D8", "0123456789abcdefghi", "i0ihe2jfj7a9opf9p88"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6ABF7158809CF4F3C", "D8E7920AFA330A73", "890121234567890000", "922011205562777495"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6ABF7158809CF4F3C", "9A768A92F60E12D8", "890121234567890000", "504149865578056140"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6ABF7158809CF4F3C", "D8E7920AFA330A73", "89012123456789000000789000000", "04344343235792599165734622699"},
    {10, DIGITS, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6ABF7158809CF4F3C", "0000000000000000", "89012123456789000000789000000", "30859239999374053872365555822"},
    {26, B26, "EF4359D8D580AA4F7F036D6F04FC6A942B7E151628AED2A6ABF7158809CF4F3C", "9A768A92F60E12D8", "0123456789abcdefghi", "p0b2godfja9bhb7bk38"},
};

/* ACVP FF3-1 vectors (56-bit tweaks). */
static const vector ff3_1_vectors[] = {
    {10, DIGITS, "2DE79D232DF5585D68CE47882AE256D6", "CBD09280979564", "3992520240", "8901801106"},
    {10, DIGITS, "01C63017111438F7FC8E24EB16C71AB5", "C4E822DCD09F27", "60761757463116869318437658042297305934914824457484538562",
     "35637144092473838892796702739628394376915177448290847293"},
    {26, AZ, "718385E6542534604419E83CE387A437", "B6F35084FA90E1", "wfmwlrorcd", "ywowehycyd"},
    {26, AZ, "DB602DFF22ED7E84C8D8C865A941A238", "EBEFD63BCC2083", "kkuomenbzqvggfbteqdyanwpmhzdmoicekiihkrm",
     "belcfahcwwytwrckieymthabgjjfkxtxauipmjja"},
    {64, B64, "AEE87D0D485B3AFD12BD1E0B9D03D50D", "5F9140601D224B", "ixvuuIHr0e", "GR90R1q838"},
    {64, B64, "7B6C88324732F7F4AD435DA9AD77F917", "3F42102C0BAB39", "21q1kbbIVSrAFtdFWzdMeIDpRqpo", "cvQ/4aGUV4wRnyO3CHmgEKW5hk8H"},
    {10, DIGITS, "F62EDB777A671075D47563F3A1E9AC797AA706A2D8E02FC8", "493B8451BF6716", "4406616808", "1807744762"},
    {10, DIGITS, "0951B475D1A327C52756F2624AF224C80E9BE85F09B2D44F", "D679E2EA3054E1",
     "99980459818278359406199791971849884432821321826358606310", "84359031857952748660483617398396641079558152339419110919"},
    {26, AZ, "49CCB8F62D941E5684599ECA0300937B5C766D053E109777", "0BFCF75CDC2FC1", "jaxlrchjjx", "kjdbfqyahd"},
    {26, AZ, "03D253674A9309FF07ED0E71B24CBFE769025E09FCE544D7", "B33176B1DA0F6C", "tafzrybuvhiqvcyztuxfnwfprmqlwpayphxbawpl",
     "loaemzbgqkywkdhmncrijzildzleoqibtthdiliv"},
    {64, B64, "1C24B74B7C1B9969314CB53E92F98EFD620D5520017FB076", "0380341C425A6F", "6np8r2t8zo", "HgpCXoA1Rt"},
    {10, DIGITS, "1FAA03EFF55A06F8FAB3F1DC57127D493E2F8F5C365540467A3A055BDBE6481D", "4D67130C030445", "3679409436", "1735794859"},
    {10, DIGITS, "9CE16E125BD422A011408EB083355E7089E70A4CD2F59E141D0B94A74BCC5967", "4684635BD2C821",
     "85783290820098255530464619643265070052870796363685134012", "75104723514036464144839960480545848044718729603261409917"},
    {26, AZ, "6187F8BDE99F7DAF9E3EE8A8654308E7E51D31FA88AFFAEB5592041C033B736B", "5820812B3D5DD1", "mkblaoiyfd", "ifpyiihvvq"},
    {26, AZ, "F6807FB9688937E4D4956006C8F0CB2394148A5F4B14666CF353F4941428FFD7", "30C87B99890096",
     "wrammvhudopmaazlsxevzwzwpezzmghwfnmkitnk", "nzftnfkliuctlmtdfrxfhwgevrbcbgljurnytxkj"},
    {64, B64, "9C2B69F7DDF181C54398E345BE04C2F6B00B9DD1679200E1E04C4FF961AE0F09", "103C238B4B1E44", "H2/c6FblSA", "EOg4H1bE+8"},
    {64, B64, "C58BCBD08B90006CEC7E82B2D987D79F6A21111DEF0CEBB273CBAEB2D6CD4044", "7036604882667B",
     "bz5TcS1krnD8IOLdrQeKzXkLAa6h", "Z6x3/9LPW8SZunRezRM8J68Q4J03"},
};

static void run_vector(const vector *v, int ff3_1)
{
    unsigned char key[32], tweak[8];
    uint8_t x[64], y[64];
    char s[65];
    size_t klen = unhex(key, v->key), n = strlen(v->pt);
    sf_ff3 f;
    sf_error err = {0};
    unhex(tweak, v->tweak);
    cr_assert_eq(sf_ff3_init(&f, key, klen, &err), 0, "%s", err.msg);
    to_numerals(x, v->pt, v->alphabet);
    cr_assert_eq(ff3_1 ? sf_ff3_encrypt(&f, v->radix, tweak, x, y, n) : sf_ff3_encrypt_64(&f, v->radix, tweak, x, y, n), 0);
    from_numerals(s, y, n, v->alphabet);
    cr_expect_str_eq(s, v->ct, "key %s tweak %s", v->key, v->tweak);
    cr_assert_eq(ff3_1 ? sf_ff3_decrypt(&f, v->radix, tweak, y, x, n) : sf_ff3_decrypt_64(&f, v->radix, tweak, y, x, n), 0);
    from_numerals(s, x, n, v->alphabet);
    cr_expect_str_eq(s, v->pt);
    sf_ff3_cleanup(&f);
}

Test(ff3, nist_ff3_sample_vectors_aes128_192_256)
{
    for (size_t i = 0; i < sizeof(ff3_samples) / sizeof(ff3_samples[0]); i++)
        run_vector(&ff3_samples[i], 0);
}

Test(ff3, acvp_ff3_1_vectors_radix_10_26_64)
{
    for (size_t i = 0; i < sizeof(ff3_1_vectors) / sizeof(ff3_1_vectors[0]); i++)
        run_vector(&ff3_1_vectors[i], 1);
}

Test(ff3, length_limits)
{
    cr_assert_eq(sf_ff3_minlen(10), 6);
    cr_assert_eq(sf_ff3_minlen(26), 5);
    cr_assert_eq(sf_ff3_minlen(36), 4);
    cr_assert_eq(sf_ff3_maxlen(10), 56);
    cr_assert_eq(sf_ff3_maxlen(26), 40);
    cr_assert_eq(sf_ff3_maxlen(36), 36);
    {
        unsigned char key[32] = {1};
        uint8_t t[7] = {0}, x[64] = {0};
        sf_ff3 f;
        cr_assert_eq(sf_ff3_init(&f, key, 32, NULL), 0);
        cr_assert_eq(sf_ff3_encrypt(&f, 10, t, x, x, 5), SF_EUSAGE);
        cr_assert_eq(sf_ff3_encrypt(&f, 10, t, x, x, 57), SF_EUSAGE);
        x[3] = 10; /* not a radix-10 numeral */
        cr_assert_eq(sf_ff3_encrypt(&f, 10, t, x, x, 6), SF_EUSAGE);
        sf_ff3_cleanup(&f);
        cr_assert_eq(sf_ff3_init(&f, key, 20, NULL), SF_EUSAGE);
    }
}

/*
 * FF3-1 encryption written straight from SP 800-38G Rev. 1 (numeral strings,
 * REV, REVB, NUM, STR each round), to compare the library's integer rounds
 * with at every length and at the 64/128-bit boundary.
 */
static void spec_ff3_1(const unsigned char *key, size_t klen, unsigned radix, const uint8_t tweak[7], const uint8_t *x,
                       uint8_t *y, size_t n)
{
    typedef unsigned __int128 u128;
    size_t u = (n + 1) / 2, v = n - u;
    uint8_t A[64], B[64], C[64], tl[4], tr[4];
    unsigned char rk[32];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl;
    for (size_t i = 0; i < klen; i++)
        rk[i] = key[klen - 1 - i];
    cr_assert_eq(EVP_EncryptInit_ex(ctx, klen == 16 ? EVP_aes_128_ecb() : klen == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb(),
                                    NULL, rk, NULL), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    tl[0] = tweak[0], tl[1] = tweak[1], tl[2] = tweak[2], tl[3] = (uint8_t)(tweak[3] & 0xF0);
    tr[0] = tweak[4], tr[1] = tweak[5], tr[2] = tweak[6], tr[3] = (uint8_t)((tweak[3] & 0x0F) << 4);
    memcpy(A, x, u);
    memcpy(B, x + u, v);
    for (unsigned i = 0; i < 8; i++) {
        size_t m = i % 2 == 0 ? u : v, lb = i % 2 == 0 ? v : u;
        const uint8_t *W = i % 2 == 0 ? tr : tl;
        unsigned char P[16], S[16], RP[16];
        u128 nb = 0, na = 0, yv = 0, mod = 1, c;
        for (size_t k = lb; k-- > 0;) /* NUM_radix(REV(B)) */
            nb = nb * radix + B[k];
        for (int k = 0; k < 4; k++)
            P[k] = W[k];
        P[3] ^= (unsigned char)i;
        for (int k = 15; k >= 4; k--, nb >>= 8) /* [NUM_radix(REV(B))]^12, big-endian */
            P[k] = (unsigned char)(nb & 0xFF);
        for (int k = 0; k < 16; k++) /* REVB(P) */
            RP[k] = P[15 - k];
        cr_assert_eq(EVP_EncryptUpdate(ctx, S, &outl, RP, 16), 1);
        for (int k = 15; k >= 0; k--) /* y = NUM(REVB(S)) */
            yv = (yv << 8) | S[k];
        for (size_t k = 0; k < m; k++)
            mod *= radix;
        for (size_t k = m; k-- > 0;) /* NUM_radix(REV(A)) */
            na = na * radix + A[k];
        c = (na + yv % mod) % mod;
        for (size_t k = 0; k < m; k++, c /= radix) /* C = REV(STR^m_radix(c)) */
            C[k] = (uint8_t)(c % radix);
        memcpy(A, B, lb);
        memcpy(B, C, m);
    }
    memcpy(y, A, u);
    memcpy(y + u, B, v);
    EVP_CIPHER_CTX_free(ctx);
}

Test(ff3, integer_rounds_agree_with_the_spec_at_every_length)
{
    static const unsigned radixes[] = {10, 26, 36};
    unsigned char key[32];
    uint8_t t[7], x[64], y[64], z[64], back[64];
    uint32_t seed = 12345;
    sf_ff3 f;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 11 + 3);
    cr_assert_eq(sf_ff3_init(&f, key, 32, NULL), 0);
    for (size_t r = 0; r < 3; r++) {
        unsigned radix = radixes[r];
        for (size_t n = sf_ff3_minlen(radix); n <= sf_ff3_maxlen(radix); n++)
            for (int rep = 0; rep < 20; rep++) {
                for (size_t i = 0; i < n; i++) {
                    seed = seed * 1103515245u + 12345u;
                    /* all-maximal numerals too: the largest values each half can hold */
                    x[i] = (uint8_t)(rep == 0 ? radix - 1 : rep == 1 ? 0 : (seed >> 16) % radix);
                }
                for (int i = 0; i < 7; i++)
                    t[i] = (uint8_t)(rep * 31 + i * 7 + n);
                cr_assert_eq(sf_ff3_encrypt(&f, radix, t, x, y, n), 0);
                spec_ff3_1(key, 32, radix, t, x, z, n);
                cr_assert_eq(memcmp(y, z, n), 0, "radix %u length %zu", radix, n);
                cr_assert_eq(sf_ff3_decrypt(&f, radix, t, y, back, n), 0);
                cr_assert_eq(memcmp(back, x, n), 0, "radix %u length %zu: decrypt", radix, n);
            }
    }
    sf_ff3_cleanup(&f);
}

Test(ff3, a_batch_gives_what_one_call_each_gives)
{
    static const unsigned radixes[] = {10, 26, 36, 64};
    unsigned char key[32];
    uint32_t seed = 777;
    sf_ff3 f;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(255 - i * 3);
    cr_assert_eq(sf_ff3_init(&f, key, 32, NULL), 0);
    for (size_t count = 0; count <= 100; count += 11) {
        sf_ff3_req req[100];
        uint8_t x[100][64], want[100][64];
        for (size_t k = 0; k < count; k++) {
            unsigned radix = radixes[k % 4];
            size_t lo = sf_ff3_minlen(radix), hi = sf_ff3_maxlen(radix);
            seed = seed * 1103515245u + 12345u;
            req[k].radix = radix;
            req[k].n = lo + (seed >> 8) % (hi - lo + 1);
            req[k].x = x[k];
            for (int t = 0; t < 7; t++)
                req[k].tweak[t] = (uint8_t)(seed >> (t + 3));
            for (size_t i = 0; i < req[k].n; i++) {
                seed = seed * 1103515245u + 12345u;
                x[k][i] = (uint8_t)((seed >> 16) % radix);
            }
            cr_assert_eq(sf_ff3_encrypt(&f, radix, req[k].tweak, x[k], want[k], req[k].n), 0);
        }
        cr_assert_eq(sf_ff3_encrypt_many(&f, req, count), 0);
        for (size_t k = 0; k < count; k++)
            cr_assert_eq(memcmp(x[k], want[k], req[k].n), 0, "batch of %zu, request %zu (radix %u, %zu numerals)", count,
                         k, req[k].radix, req[k].n);
    }
    {
        /* an invalid request fails the batch before anything changes */
        sf_ff3_req req[2];
        uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[3] = {1, 2, 3};
        req[0] = (sf_ff3_req){10, {0}, a, 8};
        req[1] = (sf_ff3_req){10, {0}, b, 3};
        cr_assert_eq(sf_ff3_encrypt_many(&f, req, 2), SF_EUSAGE);
        cr_assert_eq(a[0], 1);
        cr_assert_eq(a[7], 8);
    }
    sf_ff3_cleanup(&f);
}

Test(ff3, ff3_1_is_a_permutation_of_all_six_digit_strings, .timeout = 60)
{
    unsigned char key[32];
    uint8_t t[7] = {1, 2, 3, 4, 5, 6, 7};
    unsigned char *seen = calloc(1000000, 1);
    sf_ff3 f;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 7 + 1);
    cr_assert_eq(sf_ff3_init(&f, key, 32, NULL), 0);
    for (uint32_t v = 0; v < 1000000; v++) {
        uint8_t x[6], y[6];
        uint32_t w = v, r = 0;
        for (int i = 5; i >= 0; i--) {
            x[i] = (uint8_t)(w % 10);
            w /= 10;
        }
        cr_assert_eq(sf_ff3_encrypt(&f, 10, t, x, y, 6), 0);
        for (int i = 0; i < 6; i++)
            r = r * 10 + y[i];
        cr_assert(!seen[r], "collision at %u", v);
        seen[r] = 1;
    }
    sf_ff3_cleanup(&f);
    free(seen);
}

static sf_fpe *make_fpe(unsigned char seed)
{
    unsigned char k1[32], k2[32], tw[7];
    sf_fpe *f;
    sf_error err = {0};
    for (int i = 0; i < 32; i++) {
        k1[i] = (unsigned char)(seed + i);
        k2[i] = (unsigned char)(seed * 3 + i);
    }
    for (int i = 0; i < 7; i++)
        tw[i] = (unsigned char)(seed ^ i);
    cr_assert_eq(sf_fpe_new(&f, k1, k2, tw, &err), 0, "%s", err.msg);
    return f;
}

static void check_bijective(sf_fpe *f, unsigned radix, unsigned domain, size_t n)
{
    uint32_t size = 1;
    unsigned char *seen;
    size_t fixed = 0;
    for (size_t i = 0; i < n; i++)
        size *= radix;
    seen = calloc(size, 1);
    for (uint32_t v = 0; v < size; v++) {
        uint8_t x[8];
        uint32_t w = v, r = 0;
        for (size_t i = n; i-- > 0;) {
            x[i] = (uint8_t)(w % radix);
            w /= radix;
        }
        cr_assert_eq(sf_fpe_encrypt(f, radix, domain, x, n), 0);
        for (size_t i = 0; i < n; i++) {
            cr_assert_lt(x[i], radix);
            r = r * radix + x[i];
        }
        cr_assert(!seen[r], "radix %u n %zu: two inputs map to %u", radix, n, r);
        seen[r] = 1;
        fixed += r == v;
    }
    /* a keyed permutation is not the identity */
    cr_assert_lt(fixed, size / 2 + 1, "radix %u n %zu: %zu fixed points of %u", radix, n, fixed, size);
    free(seen);
}

Test(fpe, small_domains_are_keyed_permutations, .timeout = 60)
{
    sf_fpe *f = make_fpe(3);
    for (size_t n = 1; n <= 5; n++)
        check_bijective(f, 10, 1, n);
    for (size_t n = 1; n <= 4; n++)
        check_bijective(f, 26, 4, n);
    for (size_t n = 1; n <= 3; n++)
        check_bijective(f, 36, 2, n);
    sf_fpe_free(f);
}

Test(fpe, deterministic_and_key_dependent)
{
    sf_fpe *a = make_fpe(9), *b = make_fpe(9), *c = make_fpe(10);
    for (size_t n = 1; n <= 120; n += 7) {
        uint8_t x[128], y[128], z[128];
        for (size_t i = 0; i < n; i++)
            x[i] = y[i] = z[i] = (uint8_t)((i * 7 + 3) % 10);
        cr_assert_eq(sf_fpe_encrypt(a, 10, 1, x, n), 0);
        cr_assert_eq(sf_fpe_encrypt(b, 10, 1, y, n), 0);
        cr_assert_eq(sf_fpe_encrypt(c, 10, 1, z, n), 0);
        cr_assert_eq(memcmp(x, y, n), 0, "n=%zu not deterministic", n);
        if (n >= 4)
            cr_assert_neq(memcmp(x, z, n), 0, "n=%zu: another key gave the same output", n);
    }
    sf_fpe_free(a);
    sf_fpe_free(b);
    sf_fpe_free(c);
}

Test(fpe, long_strings_are_chunked_and_injective)
{
    sf_fpe *f = make_fpe(5);
    enum { N = 200, COUNT = 2000 };
    static uint8_t out[COUNT][N];
    for (int k = 0; k < COUNT; k++) {
        for (int i = 0; i < N; i++)
            out[k][i] = (uint8_t)((i * 31 + 7) % 10);
        /* inputs differ in one digit, in every chunk position */
        out[k][(k * 13) % N] = (uint8_t)((out[k][(k * 13) % N] + 1 + (k / N) % 9) % 10);
        cr_assert_eq(sf_fpe_encrypt(f, 10, 1, out[k], N), 0);
    }
    for (int k = 0; k < COUNT; k++)
        for (int j = k + 1; j < COUNT; j++) {
            int same_input = (k * 13) % N == (j * 13) % N && (k / N) % 9 == (j / N) % 9;
            if (!same_input)
                cr_assert_neq(memcmp(out[k], out[j], N), 0, "inputs %d and %d collide", k, j);
        }
    sf_fpe_free(f);
}

Test(fpe, a_batch_gives_what_one_call_each_gives)
{
    sf_fpe *f = make_fpe(7), *g = make_fpe(7);
    enum { COUNT = 90 };
    static uint8_t a[COUNT][130], b[COUNT][130];
    uint8_t *ptr[COUNT];
    size_t n[COUNT];
    for (unsigned radix = 10; radix <= 36; radix += radix == 10 ? 16 : 10) {
        for (size_t k = 0; k < COUNT; k++) {
            /* empty, small-domain, one FF3-1 block, chunked */
            n[k] = k % 5 == 0 ? 0 : k % 5 == 1 ? 1 + k % 3 : k % 5 == 2 ? 12 : k % 5 == 3 ? 40 : 125;
            for (size_t i = 0; i < n[k]; i++)
                a[k][i] = b[k][i] = (uint8_t)((k * 7 + i * 13) % radix);
            ptr[k] = a[k];
            cr_assert_eq(sf_fpe_encrypt(g, radix, 3, b[k], n[k]), 0);
        }
        cr_assert_eq(sf_fpe_encrypt_many(f, radix, 3, ptr, n, COUNT), 0);
        for (size_t k = 0; k < COUNT; k++)
            cr_assert_eq(memcmp(a[k], b[k], n[k]), 0, "radix %u, value %zu (%zu numerals)", radix, k, n[k]);
    }
    sf_fpe_free(f);
    sf_fpe_free(g);
}

Test(ff3, lanes_of_every_length_agree_with_one_call_each)
{
    /* every length of the rules' radixes in one batch (64-bit and 128-bit lanes mixed, more than 64 lanes),
       three rounds of tweaks, against the one-value path checked by NIST's vectors */
    static const unsigned radixes[] = {10, 26, 36};
    unsigned char key[32];
    uint32_t seed = 4242;
    sf_ff3 f;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 7 + 1);
    cr_assert_eq(sf_ff3_init(&f, key, 32, NULL), 0);
    for (int round = 0; round < 3; round++) {
        sf_ff3_lane lanes[200];
        uint8_t x[200][64], want[200][64];
        size_t count = 0;
        for (size_t ri = 0; ri < 3; ri++) {
            unsigned radix = radixes[ri];
            for (size_t n = sf_ff3_minlen(radix); n <= sf_ff3_maxlen(radix); n++, count++) {
                uint8_t tweak[7];
                for (int t = 0; t < 7; t++) {
                    seed = seed * 1103515245u + 12345u;
                    tweak[t] = (uint8_t)(seed >> 16);
                }
                for (size_t i = 0; i < n; i++) {
                    seed = seed * 1103515245u + 12345u;
                    x[count][i] = (uint8_t)(round == 1 ? radix - 1 : round == 2 ? 0 : (seed >> 16) % radix);
                }
                cr_assert_eq(sf_ff3_encrypt(&f, radix, tweak, x[count], want[count], n), 0);
                lanes[count].x = x[count];
                lanes[count].n = (uint16_t)n;
                lanes[count].radix = (uint16_t)radix;
                sf_ff3_tweak_words(tweak, &lanes[count].wl, &lanes[count].wr);
            }
        }
        cr_assert_gt(count, 64);
        cr_assert_eq(sf_ff3_encrypt_lanes(&f, lanes, count), 0);
        for (size_t k = 0; k < count; k++)
            cr_assert_eq(memcmp(x[k], want[k], lanes[k].n), 0, "lane %zu (radix %u, %u numerals)", k, lanes[k].radix,
                         lanes[k].n);
    }
    sf_ff3_cleanup(&f);
}

Test(ff3, vector_rounds_equal_the_scalar_rounds, .timeout = 60)
{
    /*
     * Lanes of every length up to 64 numerals for the rules' radixes and two others (their moduli are not in
     * the context's table), random, all-zero and all-maximal values, in batches of every size up to 100
     * (mixed radixes, or all radix 10):
     * the CPU's best rounds (AVX-512 where it has them) against the scalar rounds (sf_ff3_simd = 0) and against
     * the one-value path. On a CPU without AVX-512 both batches take the scalar rounds.
     */
    static const unsigned radixes[] = {10, 26, 36, 64, 2};
    enum { MAXN = 64, COUNT = 100 };
    unsigned char key[32];
    uint32_t seed = 99;
    sf_ff3 f;
    size_t total = 0;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 29 + 5);
    cr_assert_eq(sf_ff3_init(&f, key, 32, NULL), 0);
    for (int rep = 0; rep < 60; rep++) {
        static uint8_t x[COUNT][MAXN], y[COUNT][MAXN], want[COUNT][MAXN];
        sf_ff3_lane lv[COUNT], ls[COUNT];
        uint8_t tweak[COUNT][7];
        size_t count = 1 + (size_t)(rep * 37) % COUNT;
        for (size_t k = 0; k < count; k++) {
            /* every third batch all radix 10 (the vector conversions of eight lanes' digits at once) */
            unsigned radix = rep % 3 == 0 ? 10 : radixes[(k + (size_t)rep) % 5];
            size_t lo = sf_ff3_minlen(radix), hi = sf_ff3_maxlen(radix) < MAXN ? sf_ff3_maxlen(radix) : MAXN, n;
            seed = seed * 1103515245u + 12345u;
            n = lo + (seed >> 8) % (hi - lo + 1);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                x[k][i] = (uint8_t)(rep % 7 == 1 ? radix - 1 : rep % 7 == 2 ? 0 : (seed >> 16) % radix);
            }
            for (int t = 0; t < 7; t++) {
                seed = seed * 1103515245u + 12345u;
                tweak[k][t] = (uint8_t)(seed >> 16);
            }
            memcpy(y[k], x[k], n);
            lv[k] = (sf_ff3_lane){x[k], (uint16_t)n, (uint16_t)radix, 0, 0};
            sf_ff3_tweak_words(tweak[k], &lv[k].wl, &lv[k].wr);
            ls[k] = lv[k];
            ls[k].x = y[k];
            cr_assert_eq(sf_ff3_encrypt(&f, radix, tweak[k], x[k], want[k], n), 0);
        }
        cr_assert_eq(sf_ff3_encrypt_lanes(&f, lv, count), 0);
        sf_ff3_simd = 0;
        cr_assert_eq(sf_ff3_encrypt_lanes(&f, ls, count), 0);
        sf_ff3_simd = -1;
        for (size_t k = 0; k < count; k++) {
            cr_assert_eq(memcmp(x[k], y[k], lv[k].n), 0, "lane %zu of %zu (radix %u, %u numerals): vector != scalar", k,
                         count, lv[k].radix, lv[k].n);
            cr_assert_eq(memcmp(x[k], want[k], lv[k].n), 0, "lane %zu (radix %u, %u numerals): batch != one call", k,
                         lv[k].radix, lv[k].n);
        }
        total += count;
    }
    cr_assert_gt(total, 2500);
    {
        /*
         * Chosen outputs: halves that are 0, 10^4 multiples, 10^8 +- 1, all nines (the edges of the digit
         * conversions) at every radix-10 length the vector rounds take, decrypted by the one-value path to
         * their inputs, then encrypted as one all-radix-10 batch: the batch must give back the chosen digits.
         */
        static uint8_t x[64][30], want[64][30];
        sf_ff3_lane l[64];
        static const char *const pats[] = {"0", "10000", "99990000", "100000000", "99999999", "100000001",
                                           "999999999999999", "200000000000000", "123450000"};
        uint8_t tweak[7] = {9, 8, 7, 6, 5, 4, 3};
        size_t count = 0;
        for (size_t n = 6; n <= 30; n++)
            for (size_t pi = 0; pi < sizeof(pats) / sizeof(pats[0]); pi++) {
                size_t u = (n + 1) / 2, pl = strlen(pats[pi]);
                /* the pattern as the value of both halves (REV: least significant numeral first), cut to length */
                for (size_t i = 0; i < n; i++) {
                    size_t h = i < u ? i : i - u;
                    want[count][i] = (uint8_t)(h < pl ? pats[pi][pl - 1 - h] - '0' : 0);
                }
                cr_assert_eq(sf_ff3_decrypt(&f, 10, tweak, want[count], x[count], n), 0);
                l[count] = (sf_ff3_lane){x[count], (uint16_t)n, 10, 0, 0};
                sf_ff3_tweak_words(tweak, &l[count].wl, &l[count].wr);
                if (++count == 64 || (n == 30 && pi + 1 == sizeof(pats) / sizeof(pats[0]))) {
                    cr_assert_eq(sf_ff3_encrypt_lanes(&f, l, count), 0);
                    for (size_t k = 0; k < count; k++)
                        cr_assert_eq(memcmp(x[k], want[k], l[k].n), 0, "chosen output %zu (%u numerals)", k, l[k].n);
                    count = 0;
                }
            }
    }
    sf_ff3_cleanup(&f);
}
