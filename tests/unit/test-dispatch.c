/* The central checks of the dispatch table (generated from the IDL by gen-methods.py, whose
 * own checks run in the test gen-methods): pd_dispatch_check refuses what a handler must
 * never see. */
#include "daemon/api/methods.h"

#include <gio/gio.h>
#include <string.h>

static JsonObject *parse_object(const char *json)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, json, -1, NULL));
    return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* Runs the check; returns the error name or NULL, and the offending parameter. */
static char *check(const char *method, const char *params_json, bool read_only, bool more,
                   unsigned n_fds, char **ret_param)
{
    const PdMethod *m = pd_method_lookup(method);
    g_assert_nonnull(m);
    g_autoptr(JsonObject) params = params_json ? parse_object(params_json) : NULL;
    char *error = NULL;
    JsonObject *eparams = NULL;
    if (pd_dispatch_check(m, params, read_only, more, n_fds, &error, &eparams))
        return NULL;
    if (ret_param)
        *ret_param = json_object_has_member(eparams, "parameter")
                         ? g_strdup(json_object_get_string_member(eparams, "parameter"))
                         : NULL;
    json_object_unref(eparams);
    return error;
}

static void test_read_only(void)
{
    g_autofree char *e =
        check("io.poold.Pool.Define", "{\"xml\":\"<pool/>\"}", true, false, 0, NULL);
    g_assert_cmpstr(e, ==, "org.varlink.service.PermissionDenied");
    g_assert_null(check("io.poold.Pool.List", NULL, true, false, 0, NULL));
    /* the attacks of the 2026-12-08 review: none of these on the read-only socket */
    const char *not_read[] = {"io.poold.Domain.BlkList", "io.poold.Volume.Download",
                              "io.poold.Volume.Upload", "io.poold.Secret.List",
                              "io.poold.Pool.FindSources"};
    for (unsigned i = 0; i < G_N_ELEMENTS(not_read); i++)
        g_assert_cmpint(pd_method_lookup(not_read[i])->cls, !=, PD_CLASS_READ);
    /* the read-only socket admits exactly the read class; the read-write one every class;
     * no method is unclassed */
    unsigned n_read = 0;
    for (const PdMethod *m = pd_method_table(); m->name; m++) {
        g_assert_nonnull(pd_method_class_name(m->cls));
        g_autofree char *err = NULL;
        JsonObject *eparams = NULL;
        bool ok = pd_dispatch_check(m, NULL, true, false, 0, &err, &eparams);
        if (m->cls == PD_CLASS_READ) {
            n_read++;
            /* refused, if at all, for its parameters, never for the socket */
            g_assert_cmpstr(err, !=, "org.varlink.service.PermissionDenied");
        } else {
            g_assert_false(ok);
            g_assert_cmpstr(err, ==, "org.varlink.service.PermissionDenied");
        }
        g_clear_pointer(&eparams, json_object_unref);
        g_clear_pointer(&err, g_free);
        ok = pd_dispatch_check(m, NULL, false, false, 0, &err, &eparams);
        g_assert_cmpstr(err, !=, "org.varlink.service.PermissionDenied");
        g_clear_pointer(&eparams, json_object_unref);
        (void)ok;
    }
    g_assert_cmpuint(n_read, ==, 17);
    g_assert_false(pd_method_class_allowed(PD_CLASS_NONE, false));
    g_assert_false(pd_method_class_allowed(PD_CLASS_NONE, true));
}

static void test_types(void)
{
    struct {
        const char *method, *params, *error_param;
    } cases[] = {
        {"io.poold.Pool.Info", "{\"pool\":\"p\"}", NULL},
        {"io.poold.Pool.Info", "{\"pool\":1}", "pool"},
        {"io.poold.Pool.Info", "{\"pool\":null}", "pool"},
        {"io.poold.Pool.Info", "{}", "pool"},
        {"io.poold.Pool.Info", "{\"pool\":\"p\",\"x\":1}", "x"},
        {"io.poold.Pool.Info", "{\"pool\":[\"p\"]}", "pool"},
        {"io.poold.Volume.Resize", "{\"volume\":\"v\",\"capacity\":5}", NULL},
        {"io.poold.Volume.Resize", "{\"volume\":\"v\",\"capacity\":-5}", "capacity"},
        {"io.poold.Volume.Resize", "{\"volume\":\"v\",\"capacity\":1.5}", "capacity"},
        {"io.poold.Volume.Resize", "{\"volume\":\"v\",\"capacity\":\"5G\"}", "capacity"},
        {"io.poold.Volume.Resize", "{\"volume\":\"v\",\"capacity\":5,\"shrink\":1}", "shrink"},
        {"io.poold.Volume.Resize", "{\"volume\":\"v\",\"capacity\":5,\"pool\":null}", NULL},
        {"io.poold.Pool.SetAutostart", "{\"pool\":\"p\",\"autostart\":true}", NULL},
        {"io.poold.Pool.SetAutostart", "{\"pool\":\"p\"}", "autostart"},
        {"io.poold.Volume.Create", "{\"pool\":\"p\",\"xml\":\"x\",\"async\":true}", NULL},
        {"io.poold.Pool.List", "{\"async\":true}", "async"},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *param = NULL;
        g_autofree char *e = check(cases[i].method, cases[i].params, false, false, 0, &param);
        if (!cases[i].error_param) {
            g_assert_null(e);
            continue;
        }
        g_assert_cmpstr(e, ==, "org.varlink.service.InvalidParameter");
        g_assert_cmpstr(param, ==, cases[i].error_param);
    }
}

static void test_more_and_fds(void)
{
    g_autofree char *e1 = check("io.poold.Event.Subscribe", NULL, false, false, 0, NULL);
    g_assert_cmpstr(e1, ==, "org.varlink.service.ExpectedMore");
    g_assert_null(check("io.poold.Event.Subscribe", NULL, false, true, 0, NULL));
    g_autofree char *param = NULL;
    g_autofree char *e2 =
        check("io.poold.Volume.Upload", "{\"volume\":\"v\"}", false, false, 0, &param);
    g_assert_cmpstr(e2, ==, "org.varlink.service.InvalidParameter");
    g_assert_cmpstr(param, ==, "fd");
    g_assert_null(check("io.poold.Volume.Upload", "{\"volume\":\"v\"}", false, false, 1, NULL));
    g_autofree char *e3 =
        check("io.poold.Volume.Upload", "{\"volume\":\"v\"}", false, false, 2, NULL);
    g_assert_cmpstr(e3, ==, "org.varlink.service.InvalidParameter");
}

static void test_string_limit(void)
{
    g_autofree char *big = g_strnfill(PD_PARAM_STRING_MAX + 1, 'x');
    g_autofree char *json = g_strdup_printf("{\"xml\":\"%s\"}", big);
    g_autofree char *param = NULL;
    g_autofree char *e = check("io.poold.Pool.Define", json, false, false, 0, &param);
    g_assert_cmpstr(e, ==, "org.varlink.service.InvalidParameter");
    g_assert_cmpstr(param, ==, "xml");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dispatch/read-only", test_read_only);
    g_test_add_func("/dispatch/types", test_types);
    g_test_add_func("/dispatch/more-and-fds", test_more_and_fds);
    g_test_add_func("/dispatch/string-limit", test_string_limit);
    return g_test_run();
}
