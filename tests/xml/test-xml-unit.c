/* Unit tests of the XML helpers: units, UUIDs, names, generated UUIDs, argument parsing. */
#include "test-xml.h"

#include "common/pd-error.h"
#include "xml/define-as.h"
#include "xml/pool-xml.h"
#include "xml/units.h"
#include "xml/vol-xml.h"

#include <string.h>

/* Every unit suffix libvirt documents, decimal vs binary as virScaleInteger has them. */
static void test_units(void)
{
    static const struct {
        const char *unit;
        uint64_t scale;
    } cases[] = {
        {NULL, 1},
        {"", 1},
        {"b", 1},
        {"B", 1},
        {"byte", 1},
        {"bytes", 1},
        {"KB", 1000},
        {"kb", 1000},
        {"K", 1024},
        {"k", 1024},
        {"KiB", 1024},
        {"kib", 1024},
        {"MB", 1000000},
        {"M", 1ULL << 20},
        {"MiB", 1ULL << 20},
        {"GB", 1000000000},
        {"G", 1ULL << 30},
        {"GiB", 1ULL << 30},
        {"TB", 1000000000000ULL},
        {"T", 1ULL << 40},
        {"TiB", 1ULL << 40},
        {"PB", 1000000000000000ULL},
        {"P", 1ULL << 50},
        {"PiB", 1ULL << 50},
        {"EB", 1000000000000000000ULL},
        {"E", 1ULL << 60},
        {"EiB", 1ULL << 60},
    };
    static const char *const bad[] = {"X", "Ki", "KiBB", "KBB", "bit", "Q", "iB", "1"};

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        uint64_t v = 3;

        g_assert_true(pd_xml_scale(&v, cases[i].unit, UINT64_MAX, "t", &error));
        g_assert_no_error(error);
        g_assert_cmpuint(v, ==, 3 * cases[i].scale);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        uint64_t v = 3;

        g_assert_false(pd_xml_scale(&v, bad[i], UINT64_MAX, "t", &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, "unknown unit"));
        g_assert_cmpuint(v, ==, 3);
    }
}

static void test_unit_limits(void)
{
    g_autoptr(GError) error = NULL;
    uint64_t v = 7;

    g_assert_true(pd_xml_scale(&v, "EiB", PD_XML_SIZE_MAX, "t", NULL));
    g_assert_cmpuint(v, ==, 7ULL << 60);
    v = 8;
    g_assert_false(pd_xml_scale(&v, "EiB", PD_XML_SIZE_MAX, "t", &error));
    g_assert_nonnull(strstr(error->message, "too large"));
    g_assert_cmpuint(v, ==, 8);
}

static void test_size_text(void)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {
        {"20G", 20ULL << 30}, {"1GB", 1000000000}, {"512MiB", 512ULL << 20},
        {"4096", 4096},       {"5M", 5ULL << 20},  {"0", 0},
    };
    static const char *const bad[] = {"", "G", "1.5G", "-1G", "20 G", "20Q", "0x10"};

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        uint64_t v = 0;

        g_assert_true(pd_xml_parse_size_text(ok[i].text, "t", PD_XML_SIZE_MAX, &v, NULL));
        g_assert_cmpuint(v, ==, ok[i].bytes);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        uint64_t v = 0;

        g_assert_false(pd_xml_parse_size_text(bad[i], "t", PD_XML_SIZE_MAX, &v, &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    }
}

static void test_uuid(void)
{
    static const char *const canonical = "3e3fce45-4f53-4fa7-bb32-11f34168b82b";
    static const char *const ok[] = {
        "3e3fce45-4f53-4fa7-bb32-11f34168b82b",    "3E3FCE45-4F53-4FA7-BB32-11F34168B82B",
        "3e3fce454f534fa7bb3211f34168b82b",        "  3e3fce45-4f53-4fa7-bb32-11f34168b82b ",
        "3e3f-ce45-4f53-4fa7-bb32-11f3-4168-b82b",
    };
    static const char *const bad[] = {
        "",
        "3e3fce45",
        "3e3fce45-4f53-4fa7-bb32-11f34168b82",
        "3e3fce45-4f53-4fa7-bb32-11f34168b82b0",
        "3e3fce45-4f53-4fa7-bb32-11f34168b82g",
        "3e3fce45 4f53-4fa7-bb32-11f34168b82b",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        g_autofree char *u = pd_xml_uuid_canonical(ok[i]);
        g_assert_cmpstr(u, ==, canonical);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_null(pd_xml_uuid_canonical(bad[i]));
}

/* A pool without <uuid> gets a fresh valid one each time. */
static void test_generated_uuid(void)
{
    const char *xml = "<pool type='dir'><name>p</name><target><path>/p</path></target></pool>";
    g_autoptr(PdPoolDef) a = pd_pool_def_parse(xml, NULL);
    g_autoptr(PdPoolDef) b = pd_pool_def_parse(xml, NULL);
    g_autofree char *canonical = NULL;

    g_assert_nonnull(a);
    g_assert_nonnull(b);
    canonical = pd_xml_uuid_canonical(a->uuid);
    g_assert_cmpstr(canonical, ==, a->uuid);
    g_assert_cmpstr(a->uuid, !=, b->uuid);
}

static void test_names(void)
{
    g_autofree char *long_name = g_strnfill(256, 'a');

    g_assert_true(pd_xml_name_valid("vm1-disk.qcow2"));
    g_assert_true(pd_xml_name_valid("..."));
    g_assert_false(pd_xml_name_valid(""));
    g_assert_false(pd_xml_name_valid("."));
    g_assert_false(pd_xml_name_valid(".."));
    g_assert_false(pd_xml_name_valid("a/b"));
    g_assert_false(pd_xml_name_valid(long_name));
    long_name[255] = '\0';
    g_assert_true(pd_xml_name_valid(long_name));
}

/* Positional arguments, "--opt=value", "--" and the argument errors. */
static void test_define_args(void)
{
    char *ok[] = {"p1",
                  "netfs",
                  "--source-format=nfs",
                  "nfs.example.com",
                  "/export",
                  "--target",
                  "/mnt/p1",
                  "--print-xml",
                  "--",
                  "-",
                  "-"};
    char *dup[] = {"p1", "dir", "--target", "/a", "--target", "/b"};
    char *extra[] = {"p1", "dir", "-", "-", "-", "-", "/t", "more"};
    char *novalue[] = {"p1", "dir", "--target"};
    char *adapter[] = {"p1", "dir", "--adapter-name", "host0"};
    PdPoolDefineArgs args;
    g_autoptr(GError) error = NULL;

    g_assert_true(pd_pool_define_args_parse(G_N_ELEMENTS(ok), ok, &args, NULL));
    g_assert_cmpstr(args.name, ==, "p1");
    g_assert_cmpstr(args.source_host, ==, "nfs.example.com");
    g_assert_cmpstr(args.source_path, ==, "/export");
    g_assert_cmpstr(args.source_dev, ==, "-");
    g_assert_cmpstr(args.source_name, ==, "-");
    g_assert_cmpstr(args.target, ==, "/mnt/p1");
    g_assert_cmpstr(args.source_format, ==, "nfs");
    g_assert_true(args.print_xml);

    g_assert_false(pd_pool_define_args_parse(G_N_ELEMENTS(dup), dup, &args, &error));
    g_assert_nonnull(strstr(error->message, "--target given more than once"));
    g_clear_error(&error);
    g_assert_false(pd_pool_define_args_parse(G_N_ELEMENTS(extra), extra, &args, &error));
    g_assert_nonnull(strstr(error->message, "unexpected argument 'more'"));
    g_clear_error(&error);
    g_assert_false(pd_pool_define_args_parse(G_N_ELEMENTS(novalue), novalue, &args, &error));
    g_assert_nonnull(strstr(error->message, "--target needs a value"));
    g_clear_error(&error);
    g_assert_false(pd_pool_define_args_parse(G_N_ELEMENTS(adapter), adapter, &args, &error));
    g_assert_nonnull(strstr(error->message, "scsi pools"));
}

/* vol-create-as keeps --prealloc-metadata outside the XML, on the definition. */
static void test_vol_args_prealloc(void)
{
    char *argv[] = {"p1", "v1", "1G", "--format", "qcow2", "--prealloc-metadata"};
    PdVolCreateArgs args;
    g_autoptr(PdVolDef) def = NULL;

    g_assert_true(pd_vol_create_args_parse(G_N_ELEMENTS(argv), argv, &args, NULL));
    g_assert_cmpstr(args.pool, ==, "p1");
    def = pd_vol_def_from_args(PD_POOL_DIR, &args, NULL);
    g_assert_nonnull(def);
    g_assert_true(def->prealloc_metadata);
    g_assert_cmpuint(def->capacity, ==, 1ULL << 30);
    g_assert_cmpuint(def->allocation, ==, 1ULL << 30);
    g_assert_false(def->has_allocation);
}

/* Backing format: libvirt's default is filled in, and the caller can tell it was not given. */
static void test_backing_format_given(void)
{
    const char *xml = "<volume><name>v</name><capacity>1</capacity><target><format "
                      "type='qcow2'/></target><backingStore><path>/b</path></backingStore>"
                      "</volume>";
    g_autoptr(PdVolDef) def = pd_vol_def_parse(xml, PD_POOL_DIR, 0, NULL);

    g_assert_nonnull(def);
    g_assert_cmpstr(def->backing->format, ==, "raw");
    g_assert_false(def->backing->format_given);
}

/* libvirt keeps a type= on the auth <secret> (domain XML style); so does poold. */
static void test_secret_type_kept(void)
{
    const char *xml = "<pool type='iscsi'><name>i</name><source><host name='h'/>"
                      "<device path='iqn.2000-01.x:y'/><auth type='chap' username='u'>"
                      "<secret type='iscsi' usage='s'/></auth></source>"
                      "<target><path>/t</path></target></pool>";
    g_autoptr(PdPoolDef) def = pd_pool_def_parse(xml, NULL);
    g_autofree char *out = NULL;

    g_assert_nonnull(def);
    g_assert_cmpstr(def->source.auth->secret_type, ==, "iscsi");
    out = pd_pool_def_format(def);
    g_assert_nonnull(strstr(out, "      <secret type='iscsi' usage='s'/>\n"));
}

static void test_copy(void)
{
    char *argv[] = {"p", "v", "1G", "--format", "qcow2", "--backing-vol", "/b"};
    PdVolCreateArgs args;
    g_autoptr(PdVolDef) vol = NULL;
    g_autoptr(PdVolDef) vol_copy = NULL;
    g_autofree char *vol_a = NULL, *vol_b = NULL;
    const char *xml = "<pool type='netfs'><name>n</name><source><host name='h' port='2049'/>"
                      "<dir path='/e'/></source><target><path>/m</path></target></pool>";
    g_autoptr(PdPoolDef) pool = pd_pool_def_parse(xml, NULL);
    g_autoptr(PdPoolDef) pool_copy = pd_pool_def_copy(pool);
    g_autofree char *pool_a = pd_pool_def_format(pool);
    g_autofree char *pool_b = pd_pool_def_format(pool_copy);

    g_assert_cmpstr(pool_a, ==, pool_b);
    g_assert_true(pd_vol_create_args_parse(G_N_ELEMENTS(argv), argv, &args, NULL));
    vol = pd_vol_def_from_args(PD_POOL_DIR, &args, NULL);
    g_assert_nonnull(vol);
    vol_copy = pd_vol_def_copy(vol);
    vol_a = pd_vol_def_format(vol);
    vol_b = pd_vol_def_format(vol_copy);
    g_assert_cmpstr(vol_a, ==, vol_b);
    g_assert_false(vol_copy->backing->format_given);
    g_assert_false(vol_copy->has_allocation);
}

static void test_free_null(void)
{
    pd_pool_def_free(NULL);
    pd_vol_def_free(NULL);
    pd_pool_auth_free(NULL);
    pd_vol_backing_free(NULL);
}

/* Parses @text as a pool and as a volume: each must either succeed or fail with a PD_ERROR. */
static void parse_any(const char *text)
{
    g_autoptr(GError) pool_error = NULL;
    g_autoptr(GError) vol_error = NULL;
    g_autoptr(PdPoolDef) pool = pd_pool_def_parse(text, &pool_error);
    g_autoptr(PdVolDef) vol = pd_vol_def_parse(text, PD_POOL_DIR, 0, &vol_error);

    g_assert_true(pool || (pool_error && pool_error->domain == PD_ERROR));
    g_assert_true(vol || (vol_error && vol_error->domain == PD_ERROR));
    /* Whatever is accepted formats to a fixed point. */
    if (pool) {
        g_autofree char *once = pd_pool_def_format(pool);
        g_autoptr(PdPoolDef) again = pd_pool_def_parse(once, NULL);
        g_autofree char *twice = NULL;

        g_assert_nonnull(again);
        twice = pd_pool_def_format(again);
        g_assert_cmpstr(once, ==, twice);
    }
    if (vol) {
        g_autofree char *once = pd_vol_def_format(vol);
        g_autoptr(PdVolDef) again = pd_vol_def_parse(once, PD_POOL_DIR, 0, NULL);
        g_autofree char *twice = NULL;

        g_assert_nonnull(again);
        twice = pd_vol_def_format(again);
        g_assert_cmpstr(once, ==, twice);
    }
}

/* Every input cut at every byte, and with bytes overwritten: no crash, no leak (under ASan),
 * only PD_ERROR failures, and what is accepted formats to a fixed point. */
static void test_mutations(void)
{
    g_autofree char *dir_path = g_test_build_filename(G_TEST_DIST, "in", NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    static const char junk[] = {'<', '>', '\'', '"', '&', '/', '-', '9', 'x', '\0'};
    const char *file;

    g_assert_nonnull(dir);
    while ((file = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(dir_path, file, NULL);
        g_autofree char *text = NULL;
        size_t len;

        g_assert_true(g_file_get_contents(path, &text, &len, NULL));
        for (size_t cut = 0; cut < len; cut++) {
            g_autofree char *prefix = g_strndup(text, cut);
            parse_any(prefix);
        }
        for (int i = 0; i < 200; i++) {
            g_autofree char *mutated = g_strdup(text);
            size_t at = g_test_rand_int_range(0, (gint32)len);

            mutated[at] = junk[g_test_rand_int_range(0, G_N_ELEMENTS(junk))];
            parse_any(mutated);
        }
    }
}

/* find-storage-pool-sources output as libvirt writes it (virStoragePoolSourceListFormat). */
static void test_sources_format(void)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    g_autofree char *empty = pd_pool_sources_format(list);
    g_assert_cmpstr(empty, ==, "<sources>\n</sources>\n");
    const char *const exports[] = {"/srv/a", "/srv/b&c"};
    for (size_t i = 0; i < G_N_ELEMENTS(exports); i++) {
        PdPoolDef *def = pd_pool_def_new(PD_POOL_NETFS);
        def->source.host_name = g_strdup("nfs.example.com");
        def->source.dir = g_strdup(exports[i]);
        def->source.format = g_strdup("nfs");
        g_ptr_array_add(list, def);
    }
    g_autofree char *xml = pd_pool_sources_format(list);
    g_assert_cmpstr(xml, ==,
                    "<sources>\n"
                    "  <source>\n"
                    "    <host name='nfs.example.com'/>\n"
                    "    <dir path='/srv/a'/>\n"
                    "    <format type='nfs'/>\n"
                    "  </source>\n"
                    "  <source>\n"
                    "    <host name='nfs.example.com'/>\n"
                    "    <dir path='/srv/b&amp;c'/>\n"
                    "    <format type='nfs'/>\n"
                    "  </source>\n"
                    "</sources>\n");
}

void add_unit_tests(void)
{
    g_test_add_func("/xml/unit/sources-format", test_sources_format);
    g_test_add_func("/xml/unit/units", test_units);
    g_test_add_func("/xml/unit/unit-limits", test_unit_limits);
    g_test_add_func("/xml/unit/size-text", test_size_text);
    g_test_add_func("/xml/unit/uuid", test_uuid);
    g_test_add_func("/xml/unit/generated-uuid", test_generated_uuid);
    g_test_add_func("/xml/unit/names", test_names);
    g_test_add_func("/xml/unit/define-args", test_define_args);
    g_test_add_func("/xml/unit/vol-args-prealloc", test_vol_args_prealloc);
    g_test_add_func("/xml/unit/backing-format-given", test_backing_format_given);
    g_test_add_func("/xml/unit/free-null", test_free_null);
    g_test_add_func("/xml/unit/copy", test_copy);
    g_test_add_func("/xml/unit/secret-type-kept", test_secret_type_kept);
    g_test_add_func("/xml/unit/mutations", test_mutations);
}
