/* Sizes as users write them. */
#include "common/size.h"
#include "common/pd-error.h"

static void test_parse_ok(void)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"0", 0},
        {"512", 512},
        {"1k", 1024},
        {"64K", 65536},
        {"20G", 20ULL << 30},
        {"1.5G", 3ULL << 29},
        {"2T", 2ULL << 40},
        {"1E", 1ULL << 60},
        {"15E", 15ULL << 60},
        {"10MiB", 10ULL << 20},
        {"100GB", 100ULL << 30},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        uint64_t v = 1234;
        g_assert_true(pd_parse_size(cases[i].text, &v, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(v, ==, cases[i].bytes);
    }
}

static void test_parse_bad(void)
{
    static const char *const bad[] = {
        "",
        "G",
        "12Q",
        "-5G",
        "+5G",
        "1.5",
        "5GG",
        "1.G",
        " 5G",
        "16E",
        "18446744073709551616",
        "99999999999999999999999",
        "0x10",
        "5 G",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        uint64_t v = 1234;
        g_assert_false(pd_parse_size(bad[i], &v, &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, bad[i]));
        g_assert_cmpuint(v, ==, 1234);
    }
}

static void test_parse_delta(void)
{
    g_autoptr(GError) error = NULL;
    int sign;
    uint64_t v;
    g_assert_true(pd_parse_size_delta("+5G", &sign, &v, &error));
    g_assert_cmpint(sign, ==, 1);
    g_assert_cmpuint(v, ==, 5ULL << 30);
    g_assert_true(pd_parse_size_delta("-1M", &sign, &v, &error));
    g_assert_cmpint(sign, ==, -1);
    g_assert_cmpuint(v, ==, 1ULL << 20);
    g_assert_true(pd_parse_size_delta("7", &sign, &v, &error));
    g_assert_cmpint(sign, ==, 0);
    g_assert_false(pd_parse_size_delta("+-5G", &sign, &v, &error));
}

static void test_format(void)
{
    static const struct {
        uint64_t bytes;
        const char *text;
    } cases[] = {
        {0, "0 B"},          {512, "512 B"},          {1000, "0.977 KiB"},
        {65536, "64 KiB"},   {20ULL << 30, "20 GiB"}, {3ULL << 29, "1.5 GiB"},
        {196616, "192 KiB"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = pd_format_size(cases[i].bytes);
        g_assert_cmpstr(s, ==, cases[i].text);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/size/parse-ok", test_parse_ok);
    g_test_add_func("/size/parse-bad", test_parse_bad);
    g_test_add_func("/size/parse-delta", test_parse_delta);
    g_test_add_func("/size/format", test_format);
    return g_test_run();
}
