/* pd_json_scan (daemon/json-limits.c): the nesting and value limits checked over a message's
 * bytes before json-glib parses it (docs/security.md, attacks 2.1 and 2.2), and
 * pd_dispatch_parse refusing such messages. */
#include "daemon/api/methods.h"
#include "daemon/rpc/dispatch.h"
#include "daemon/rpc/json-limits.h"

#include <string.h>

static const PdJsonLimits limits = {64, 1000};

static bool scan(const char *text, const char **why)
{
    *why = NULL;
    return pd_json_scan(text, strlen(text), &limits, why);
}

/* "[" x @depth "]" x @depth inside a call's parameters */
static char *nested(unsigned depth, char open, char close)
{
    GString *s = g_string_new("{\"method\":\"io.poold.Pool.List\",\"parameters\":{\"x\":");
    for (unsigned i = 0; i < depth; i++) {
        g_string_append_c(s, open);
        if (open == '{')
            g_string_append(s, "\"a\":");
    }
    if (open == '{')
        g_string_append(s, "1");
    for (unsigned i = 0; i < depth; i++)
        g_string_append_c(s, close);
    g_string_append(s, "}}");
    return g_string_free(s, false);
}

static void test_depth(void)
{
    const char *why;
    /* the envelope and parameters are 2 levels: 62 more are fine, 63 are not */
    g_autofree char *ok62 = nested(62, '[', ']');
    g_autofree char *bad63 = nested(63, '[', ']');
    g_autofree char *obj63 = nested(63, '{', '}');
    g_assert_true(scan(ok62, &why));
    g_assert_false(scan(bad63, &why));
    g_assert_nonnull(strstr(why, "max_json_depth"));
    g_assert_false(scan(obj63, &why));
    /* brackets inside strings, escaped quotes and backslashes do not count */
    g_autoptr(GString) s = g_string_new("{\"x\":\"");
    for (int i = 0; i < 500; i++)
        g_string_append(s, "[{\\\"\\\\");
    g_string_append(s, "\"}");
    g_assert_true(scan(s->str, &why));
    g_assert_true(scan("[\"\\\\\"]", &why));     /* ["\\"] */
    g_assert_true(scan("[\"\\\"[[[[\"]", &why)); /* ["\"[[[["] */
    /* an unterminated string hides the rest: the parser refuses such text */
    g_assert_true(scan("[\"[[[[[[", &why));
    /* closing more than was opened does not underflow */
    g_assert_true(scan("]]]]]]]}}}}}}[[", &why));
}

static void test_elements(void)
{
    const char *why;
    g_autoptr(GString) s = g_string_new("{\"x\":[");
    for (int i = 0; i < 998; i++)
        g_string_append(s, "0,");
    g_string_append(s, "0]}");
    g_assert_true(scan(s->str, &why)); /* 2 containers + 998 commas = 1000 */
    g_string_insert(s, 6, "0,");
    g_assert_false(scan(s->str, &why));
    g_assert_nonnull(strstr(why, "max_json_elements"));
    /* commas inside strings are no values */
    g_autoptr(GString) str = g_string_new("{\"x\":\"");
    for (int i = 0; i < 5000; i++)
        g_string_append_c(str, ',');
    g_string_append(str, "\"}");
    g_assert_true(scan(str->str, &why));
}

/* Through pd_dispatch_parse with the daemon's defaults: the messages of the review. */
static void test_dispatch(void)
{
    PdJsonLimits dflt = {PD_JSON_MAX_DEPTH_DEFAULT, PD_JSON_MAX_ELEMENTS_DEFAULT};
    pd_dispatch_set_json_limits(&dflt);
    struct {
        unsigned depth;
        char open, close;
        bool ok;
    } cases[] = {{10, '[', ']', true},
                 {62, '[', ']', true},
                 {63, '[', ']', false},
                 {75000, '[', ']', false},
                 {1000000, '{', '}', false}};
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = nested(cases[i].depth, cases[i].open, cases[i].close);
        PdParsedCall pc;
        bool ok = pd_dispatch_parse(pd_method_table(), text, strlen(text) + 1, true, 0, &pc);
        g_assert_cmpint(ok, ==, cases[i].ok);
        g_assert_true(ok || pc.refused);
        pd_parsed_call_clear(&pc);
    }
    /* the bomb: 8 M values, refused before any node is made */
    GString *bomb = g_string_new("{\"method\":\"io.poold.Pool.List\",\"parameters\":{\"x\":[");
    for (int i = 0; i < 8 * 1000 * 1000; i++)
        g_string_append(bomb, "0,");
    g_string_append(bomb, "0]}}");
    int64_t t0 = g_get_monotonic_time();
    PdParsedCall pc;
    g_assert_false(pd_dispatch_parse(pd_method_table(), bomb->str, bomb->len + 1, true, 0, &pc));
    g_assert_nonnull(strstr(pc.refused, "max_json_elements"));
    g_test_message("bomb of %zu bytes refused in %.1f ms", bomb->len,
                   (double)(g_get_monotonic_time() - t0) / 1000.0);
    g_string_free(bomb, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json-limits/depth", test_depth);
    g_test_add_func("/json-limits/elements", test_elements);
    g_test_add_func("/json-limits/dispatch", test_dispatch);
    return g_test_run();
}
