/* Secret XML (xml/secret-xml.c): libvirt's own secret-dumpxml text round-trips byte for byte,
 * a generated UUID, every usage type, and malformed inputs refused with a message naming the
 * element; plus the <sources> list of find-storage-pool-sources-as. */
#include "common/pd-error.h"
#include "xml/pool-xml.h"
#include "xml/secret-xml.h"

#include <string.h>

/* virsh secret-dumpxml of libvirt 9.0 for a secret defined with this XML. */
static const char libvirt_iscsi[] = "<secret ephemeral='no' private='yes'>\n"
                                    "  <uuid>c4b5bd5a-9a3f-4e2b-8d8e-0d7a2f1c3b4e</uuid>\n"
                                    "  <description>CHAP password &amp; more</description>\n"
                                    "  <usage type='iscsi'>\n"
                                    "    <target>libvirtiscsi</target>\n"
                                    "  </usage>\n"
                                    "</secret>\n";

static void test_roundtrip(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdSecretDef) def = pd_secret_def_parse(libvirt_iscsi, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(def->usage_type, ==, "iscsi");
    g_assert_cmpstr(def->usage_id, ==, "libvirtiscsi");
    g_assert_cmpstr(def->description, ==, "CHAP password & more");
    g_assert_true(def->private_);
    g_assert_false(def->ephemeral);
    g_autofree char *out = pd_secret_def_format(def);
    g_assert_cmpstr(out, ==, libvirt_iscsi);
}

static void test_usages_and_defaults(void)
{
    const char *const cases[][3] = {
        {"volume", "volume", "/var/lib/libvirt/images/luks.img"},
        {"ceph", "name", "client.admin secret"},
        {"tls", "name", "tls-server"},
        {"vtpm", "name", "vtpm-1"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml =
            g_strdup_printf("<secret><usage type='%s'><%s>%s</%s></usage></secret>", cases[i][0],
                            cases[i][1], cases[i][2], cases[i][1]);
        g_autoptr(GError) error = NULL;
        g_autoptr(PdSecretDef) def = pd_secret_def_parse(xml, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(def->usage_id, ==, cases[i][2]);
        g_assert_false(def->private_);
        g_assert_cmpuint(strlen(def->uuid), ==, 36); /* generated */
        g_autofree char *out = pd_secret_def_format(def);
        g_autofree char *want =
            g_strdup_printf("<secret ephemeral='no' private='no'>\n"
                            "  <uuid>%s</uuid>\n"
                            "  <usage type='%s'>\n"
                            "    <%s>%s</%s>\n"
                            "  </usage>\n"
                            "</secret>\n",
                            def->uuid, cases[i][0], cases[i][1], cases[i][2], cases[i][1]);
        g_assert_cmpstr(out, ==, want);
    }
    /* a UUID in libvirt's forgiving form comes back canonical */
    g_autoptr(PdSecretDef) def = pd_secret_def_parse(
        "<secret><uuid>C4B5BD5A9A3F4E2B8D8E0D7A2F1C3B4E</uuid><usage type='iscsi'><target>t"
        "</target></usage></secret>",
        NULL);
    g_assert_cmpstr(def->uuid, ==, "c4b5bd5a-9a3f-4e2b-8d8e-0d7a2f1c3b4e");
}

static void test_refused(void)
{
    const char *const cases[][2] = {
        {"<secret/>", "element <usage> is required"},
        {"<secret><usage><target>x</target></usage></secret>", "attribute 'type' of <usage>"},
        {"<secret><usage type='rbd'><name>x</name></usage></secret>", "usage type 'rbd'"},
        {"<secret><usage type='iscsi'><name>x</name></usage></secret>", "<target> of <usage>"},
        {"<secret><usage type='iscsi'><target> </target></usage></secret>", "must not be empty"},
        {"<secret private='maybe'><usage type='iscsi'><target>x</target></usage></secret>",
         "'private' must be 'yes' or 'no'"},
        {"<secret><uuid>nope</uuid><usage type='iscsi'><target>x</target></usage></secret>",
         "malformed uuid 'nope'"},
        {"<secret><usage type='iscsi'><target>x</target></usage><usage type='iscsi'><target>y"
         "</target></usage></secret>",
         "<usage> appears more than once"},
        {"<pool/>", "secret"},
        {"<secret><usage type='iscsi'><target>x</target>", "secret XML"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PdSecretDef) def = pd_secret_def_parse(cases[i][0], &error);
        g_assert_null(def);
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        if (!strstr(error->message, cases[i][1]))
            g_error("%s: '%s' not in '%s'", cases[i][0], cases[i][1], error->message);
    }
}

static void test_sources(void)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    g_autofree char *empty = pd_pool_sources_format(list);
    g_assert_cmpstr(empty, ==, "<sources>\n</sources>\n");
    PdPoolDef *def = pd_pool_def_new(PD_POOL_ISCSI_DIRECT);
    def->source.host_name = g_strdup("192.0.2.1");
    def->source.host_port = 3260;
    g_ptr_array_add(def->source.devices, g_strdup("iqn.2026-11.test:t1"));
    g_ptr_array_add(list, def);
    g_autofree char *out = pd_pool_sources_format(list);
    g_assert_cmpstr(out, ==,
                    "<sources>\n"
                    "  <source>\n"
                    "    <host name='192.0.2.1' port='3260'/>\n"
                    "    <device path='iqn.2026-11.test:t1'/>\n"
                    "  </source>\n"
                    "</sources>\n");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xml/secret/roundtrip", test_roundtrip);
    g_test_add_func("/xml/secret/usages", test_usages_and_defaults);
    g_test_add_func("/xml/secret/refused", test_refused);
    g_test_add_func("/xml/sources", test_sources);
    return g_test_run();
}
