/* daemon/json-text.c: what it writes parses back (json-glib) to exactly what went in. */
#include "common/json-text.h"

#include <json-glib/json-glib.h>
#include <stdint.h>

/* Parses {"s":<written>} and returns the string member (owned), or NULL for null. */
static char *roundtrip_string(const char *s)
{
    g_autoptr(GString) out = g_string_new("{");
    pd_json_text_member_string(out, "s", s);
    g_string_append_c(out, '}');
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_assert_true(json_parser_load_from_data(parser, out->str, (gssize)out->len, &error));
    g_assert_no_error(error);
    JsonObject *o = json_node_get_object(json_parser_get_root(parser));
    JsonNode *n = json_object_get_member(o, "s");
    g_assert_nonnull(n);
    return JSON_NODE_HOLDS_NULL(n) ? NULL : g_strdup(json_node_get_string(n));
}

static void test_strings(void)
{
    const char *cases[] = {
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "new\nline\ttab\rreturn\bback\fform",
        "\x01\x02\x1f control",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe", /* UTF-8 passes through */
        "trailing \\",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *back = roundtrip_string(cases[i]);
        g_assert_cmpstr(back, ==, cases[i]);
    }
    g_assert_null(roundtrip_string(NULL));
}

static void test_ints(void)
{
    const int64_t cases[] = {0, 1, 9, 10, 1234567890123, INT64_MAX, -1, -42, INT64_MIN};
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GString) out = g_string_new("{");
        pd_json_text_member_int(out, "n", cases[i]);
        g_string_append_c(out, '}');
        g_autoptr(JsonParser) parser = json_parser_new();
        g_assert_true(json_parser_load_from_data(parser, out->str, (gssize)out->len, NULL));
        JsonObject *o = json_node_get_object(json_parser_get_root(parser));
        g_assert_cmpint(json_object_get_int_member(o, "n"), ==, cases[i]);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json-text/strings", test_strings);
    g_test_add_func("/json-text/ints", test_ints);
    return g_test_run();
}
