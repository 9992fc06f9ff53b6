/* Data-driven XML tests (suite 'xml').
 *
 *   cases.txt  "pool NAME" or "vol POOLTYPE NAME [opt-capacity]": in/NAME.xml → parse → format
 *              must equal out/NAME.xml, and format(parse(out/NAME.xml)) == out/NAME.xml.
 *   args.txt   "pool NAME: ARGS" (pool-define-as) or "vol POOLTYPE NAME: ARGS" (vol-create-as):
 *              the definition built from ARGS, formatted, must equal out/NAME.xml.
 *   fail.txt   "pool NAME | MESSAGE", "vol POOLTYPE NAME | MESSAGE" (input fail/NAME.xml),
 *              "pool-args ARGS | MESSAGE" or "vol-args POOLTYPE ARGS | MESSAGE": must fail, with
 *              MESSAGE in the error.
 *   out/pool-capabilities.xml: pool-capabilities with every type supported but iscsi-direct.
 *
 * A pool input without <uuid> gets a generated one; the test checks it and writes the fixed
 * UUID 00000000-0000-0000-0000-000000000000 in its place so the output is stable.
 * POOLD_XML_REGENERATE=1 rewrites the expected files from the current output, for review
 * with `git diff`. */
#include "common/pd-error.h"
#include "xml/define-as.h"
#include "xml/pool-xml.h"
#include "xml/units.h"
#include "xml/vol-xml.h"

#include "test-xml.h"

#include <string.h>

#define FIXED_UUID "00000000-0000-0000-0000-000000000000"

static bool regenerate(void)
{
    const char *v = g_getenv("POOLD_XML_REGENERATE");
    return v && strcmp(v, "1") == 0;
}

static char *data_path(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    return g_test_build_filename(G_TEST_DIST, dir, file, NULL);
}

static char *read_data(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, &error))
        g_error("cannot read test data: %s", error->message);
    return text;
}

/* Compares @actual with the file @path, or rewrites the file when regenerating. */
static void compare_with_file(const char *path, const char *actual)
{
    g_autofree char *expected = NULL;

    if (regenerate()) {
        g_autoptr(GError) error = NULL;
        if (!g_file_set_contents(path, actual, -1, &error))
            g_error("cannot write %s: %s", path, error->message);
        return;
    }
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        g_error("missing expected file %s (run with POOLD_XML_REGENERATE=1 and review)", path);
    expected = read_data(path);
    if (strcmp(expected, actual) != 0)
        g_error("%s differs from the output:\n--- expected\n%s--- actual\n%s", path, expected,
                actual);
}

bool pool_type_by_name(const char *name, PdPoolType *ret)
{
    const PdPoolTypeInfo *info = pd_pool_type_info_by_name(name);

    if (!info)
        return false;
    *ret = info->type;
    return true;
}

/* Parses @xml as @c says and formats it; NULL with @error on failure. */
static char *parse_format(const Case *c, const char *xml, GError **error)
{
    PdPoolType type = PD_POOL_DIR;

    if (strcmp(c->kind, "pool") == 0) {
        g_autoptr(PdPoolDef) def = pd_pool_def_parse(xml, error);

        if (!def)
            return NULL;
        if (!strstr(xml, "<uuid>")) {
            g_autofree char *canonical = pd_xml_uuid_canonical(def->uuid);
            g_assert_cmpstr(canonical, ==, def->uuid);
            g_free(def->uuid);
            def->uuid = g_strdup(FIXED_UUID);
        }
        return pd_pool_def_format(def);
    }
    g_assert_true(pool_type_by_name(c->pool_type, &type));
    g_autoptr(PdVolDef) vol = pd_vol_def_parse(xml, type, c->flags, error);
    return vol ? pd_vol_def_format(vol) : NULL;
}

static void test_roundtrip(gconstpointer data)
{
    const Case *c = data;
    g_autofree char *in_path = data_path("in", c->name);
    g_autofree char *out_path = data_path("out", c->name);
    g_autofree char *in = read_data(in_path);
    g_autoptr(GError) error = NULL;
    g_autofree char *actual = parse_format(c, in, &error);
    g_autofree char *expected = NULL;
    g_autofree char *again = NULL;

    if (!actual)
        g_error("%s: %s", in_path, error->message);
    compare_with_file(out_path, actual);

    /* The round-trip property: the canonical form is a fixed point. */
    expected = read_data(out_path);
    again = parse_format(c, expected, &error);
    if (!again)
        g_error("%s: %s", out_path, error->message);
    g_assert_cmpstr(again, ==, expected);
}

/* Splits ARGS like a shell would. */
static char **split_args(const char *args, int *argc)
{
    g_autoptr(GError) error = NULL;
    char **argv = NULL;

    if (!g_shell_parse_argv(args, argc, &argv, &error))
        g_error("bad test arguments '%s': %s", args, error->message);
    return argv;
}

/* Builds a definition from c->args and formats it; NULL with @error on failure. */
static char *build_from_args(const char *kind, const char *pool_type, const char *args,
                             GError **error)
{
    int argc;
    g_auto(GStrv) argv = split_args(args, &argc);

    if (g_str_has_prefix(kind, "pool")) {
        PdPoolDefineArgs pargs;
        g_autoptr(PdPoolDef) def = NULL;

        if (!pd_pool_define_args_parse(argc, argv, &pargs, error) ||
            !(def = pd_pool_def_from_args(&pargs, error)))
            return NULL;
        g_free(def->uuid);
        def->uuid = g_strdup(FIXED_UUID);
        return pd_pool_def_format(def);
    }

    PdVolCreateArgs vargs;
    PdPoolType type = PD_POOL_DIR;
    g_autoptr(PdVolDef) vol = NULL;

    g_assert_true(pool_type_by_name(pool_type, &type));
    if (!pd_vol_create_args_parse(argc, argv, &vargs, error) ||
        !(vol = pd_vol_def_from_args(type, &vargs, error)))
        return NULL;
    return pd_vol_def_format(vol);
}

static void test_args(gconstpointer data)
{
    const Case *c = data;
    g_autofree char *out_path = data_path("out", c->name);
    g_autoptr(GError) error = NULL;
    g_autofree char *actual = build_from_args(c->kind, c->pool_type, c->args, &error);

    if (!actual)
        g_error("%s: %s", c->args, error->message);
    compare_with_file(out_path, actual);
}

static void test_fail(gconstpointer data)
{
    const Case *c = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;

    if (c->args) {
        out = build_from_args(c->kind, c->pool_type, c->args, &error);
    } else {
        g_autofree char *path = data_path("fail", c->name);
        g_autofree char *in = read_data(path);
        out = parse_format(c, in, &error);
    }
    if (out)
        g_error("%s: expected failure with '%s', got:\n%s", c->name, c->message, out);
    g_assert_error(error, PD_ERROR, error->code);
    if (!strstr(error->message, c->message))
        g_error("%s: error '%s' does not contain '%s'", c->name, error->message, c->message);
    if (g_test_verbose())
        g_test_message("%s: %s", c->name, error->message);
}

static void test_capabilities(void)
{
    unsigned supported = (1u << PD_POOL_TYPE_COUNT) - 1;
    g_autofree char *out_path = data_path("out", "pool-capabilities");
    g_autofree char *caps = pd_pool_capabilities_format(supported & ~(1u << PD_POOL_ISCSI_DIRECT));

    compare_with_file(out_path, caps);
}

/* The <pool> blocks of poold's types in libvirt's own pool-capabilities output (libvirtd 9.0,
 * where iscsi-direct was not built in) must be what poold prints, line for line. */
static void test_capabilities_libvirt(void)
{
    g_autofree char *path =
        g_test_build_filename(G_TEST_DIST, "samples", "libvirt-9.0-pool-capabilities.xml", NULL);
    g_autofree char *sample = read_data(path);
    g_auto(GStrv) lines = g_strsplit(sample, "\n", -1);
    g_autoptr(GString) expected = g_string_new("<storagepoolCapabilities>\n");
    unsigned supported = (1u << PD_POOL_TYPE_COUNT) - 1;
    g_autofree char *caps = pd_pool_capabilities_format(supported & ~(1u << PD_POOL_ISCSI_DIRECT));
    bool inside = false;

    for (int i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "  <pool type='")) {
            g_autofree char *type = g_strndup(lines[i] + 14, strcspn(lines[i] + 14, "'"));
            inside = pd_pool_type_info_by_name(type) != NULL;
        }
        if (inside)
            g_string_append_printf(expected, "%s\n", lines[i]);
        if (strcmp(lines[i], "  </pool>") == 0)
            inside = false;
    }
    g_string_append(expected, "</storagepoolCapabilities>\n");
    g_assert_cmpstr(caps, ==, expected->str);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    load_cases("cases.txt", "/xml/roundtrip/", test_roundtrip);
    load_cases("args.txt", "/xml/args/", test_args);
    load_cases("fail.txt", "/xml/fail/", test_fail);
    g_test_add_func("/xml/capabilities", test_capabilities);
    g_test_add_func("/xml/capabilities-libvirt", test_capabilities_libvirt);
    add_unit_tests();
    return g_test_run();
}
