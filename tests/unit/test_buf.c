#include <criterion/criterion.h>
#include <string.h>
#include "stagefork/buf.h"

Test(buf, starts_empty_and_never_null)
{
    sf_buf b = SF_BUF_INIT;
    cr_assert_not_null(b.ptr);
    cr_assert_str_eq(b.ptr, "");
    sf_buf_free(&b);
    cr_assert_not_null(b.ptr);
}

Test(buf, append_grows_and_terminates)
{
    sf_buf b = SF_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(sf_buf_addc(&b, (char)('a' + i % 26)), 0);
    cr_assert_eq(b.len, 10000);
    cr_assert_eq(b.ptr[10000], '\0');
    cr_assert_eq(b.ptr[27], 'b');
    sf_buf_free(&b);
}

Test(buf, addf_formats_long_strings)
{
    sf_buf b = SF_BUF_INIT;
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(sf_buf_addf(&b, "%d-%s", 42, "ab"), 0);
    cr_assert_eq(sf_buf_addf(&b, "[%s]", big), 0);
    cr_assert_eq(b.len, 5 + 1 + 4999 + 1);
    cr_assert_eq(strncmp(b.ptr, "42-ab[xxx", 9), 0);
    cr_assert_eq(b.ptr[b.len - 1], ']');
    sf_buf_free(&b);
}

Test(buf, binary_data_and_embedded_nul)
{
    sf_buf b = SF_BUF_INIT;
    const char data[] = {'a', 0, 'b', (char)0xff};
    cr_assert_eq(sf_buf_add(&b, data, 4), 0);
    cr_assert_eq(b.len, 4);
    cr_assert_eq(memcmp(b.ptr, data, 4), 0);
    sf_buf_free(&b);
}

Test(buf, cap_is_enforced)
{
    sf_buf b;
    sf_buf_init(&b, 8);
    cr_assert_eq(sf_buf_adds(&b, "12345678"), 0);
    cr_assert_eq(sf_buf_addc(&b, '9'), SF_ENOMEM);
    cr_assert_eq(sf_buf_addf(&b, "%s", "x"), SF_ENOMEM);
    cr_assert_str_eq(b.ptr, "12345678");
    sf_buf_free(&b);
}

Test(buf, detach_and_truncate)
{
    sf_buf b = SF_BUF_INIT;
    size_t len;
    char *s;
    sf_buf_sets(&b, "hello world");
    sf_buf_truncate(&b, 5);
    cr_assert_str_eq(b.ptr, "hello");
    s = sf_buf_detach(&b, &len);
    cr_assert_str_eq(s, "hello");
    cr_assert_eq(len, 5);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.ptr, "");
    free(s);
    s = sf_buf_detach(&b, NULL);
    cr_assert_str_eq(s, "");
    free(s);
}
