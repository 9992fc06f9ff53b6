/* The <disk> XML poold attaches (built from constructed PdDiskSource values: file, block, and
 * the network sources of the NFS and iSCSI pools with host, port and CHAP auth by secret usage
 * or UUID), its refusals, and the reading of a domain's disks (virsh domblklist's view). Pure
 * code: no libvirt call. */
#include "common/pd-error.h"
#include "daemon/libvirt/disk.h"
#include "daemon/libvirt/domxml.h"

#include <string.h>

static char *build(const PdDiskSpec *spec)
{
    g_autoptr(GError) error = NULL;
    char *xml = pd_libvirt_disk_xml(spec, &error);
    g_assert_no_error(error);
    g_assert_nonnull(xml);
    return xml;
}

static void test_file(void)
{
    PdDiskSource src = {.type = PD_DISK_SOURCE_FILE, .path = "/var/lib/p/vm-data.qcow2"};
    PdDiskSpec spec = {.source = &src, .target = "vdb", .format = "qcow2"};
    g_autofree char *xml = build(&spec);
    g_assert_cmpstr(xml, ==,
                    "<disk type='file' device='disk'>\n"
                    "  <driver name='qemu' type='qcow2'/>\n"
                    "  <source file='/var/lib/p/vm-data.qcow2'/>\n"
                    "  <target dev='vdb'/>\n"
                    "</disk>\n");
}

static void test_block_options(void)
{
    PdDiskSource src = {.type = PD_DISK_SOURCE_BLOCK, .path = "/dev/vg0/lv1"};
    PdDiskSpec spec = {.source = &src,
                       .target = "sdc",
                       .format = "raw",
                       .driver = "qemu",
                       .cache = "none",
                       .bus = "scsi",
                       .device = "lun",
                       .mode = "shareable"};
    g_autofree char *xml = build(&spec);
    g_assert_cmpstr(xml, ==,
                    "<disk type='block' device='lun'>\n"
                    "  <driver name='qemu' type='raw' cache='none'/>\n"
                    "  <source dev='/dev/vg0/lv1'/>\n"
                    "  <target dev='sdc' bus='scsi'/>\n"
                    "  <shareable/>\n"
                    "</disk>\n");
}

static void test_iso_cdrom_escaping(void)
{
    PdDiskSource src = {.type = PD_DISK_SOURCE_FILE, .path = "/p/it's <a> & b.iso"};
    PdDiskSpec spec = {
        .source = &src, .target = "hdc", .format = "iso", .device = "cdrom", .mode = "readonly"};
    g_autofree char *xml = build(&spec);
    g_assert_nonnull(strstr(xml, "<driver name='qemu' type='raw'/>")); /* iso is raw to QEMU */
    g_assert_nonnull(strstr(xml, "file='/p/it&apos;s &lt;a&gt; &amp; b.iso'"));
    g_assert_nonnull(strstr(xml, "device='cdrom'"));
    g_assert_nonnull(strstr(xml, "<readonly/>"));
    /* and it reads back as a domain disk with the path unescaped */
    g_autofree char *dom = g_strdup_printf("<domain><devices>%s</devices></domain>", xml);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_domain_disks_parse(dom, "test", &error);
    g_assert_no_error(error);
    PdDomainDisk *d = pd_domain_disks_find(disks, "hdc");
    g_assert_cmpstr(d->path, ==, "/p/it's <a> & b.iso");
    g_assert_true(d->readonly);
    g_assert_cmpstr(pd_domain_disk_mode(d), ==, "readonly");
}

static void test_network_iscsi_auth(void)
{
    PdDiskSource src = {.type = PD_DISK_SOURCE_NETWORK,
                        .protocol = "iscsi",
                        .name = "iqn.2024-01.lab:t1/1",
                        .host_name = "127.0.0.1",
                        .host_port = 3260,
                        .auth_username = "chapuser",
                        .auth_secret_usage = "libvirtiscsi"};
    PdDiskSpec spec = {.source = &src, .target = "vdd", .format = "raw", .bus = "virtio"};
    g_autofree char *xml = build(&spec);
    g_assert_cmpstr(xml, ==,
                    "<disk type='network' device='disk'>\n"
                    "  <driver name='qemu' type='raw'/>\n"
                    "  <source protocol='iscsi' name='iqn.2024-01.lab:t1/1'>\n"
                    "    <host name='127.0.0.1' port='3260'/>\n"
                    "    <auth username='chapuser'>\n"
                    "      <secret type='iscsi' usage='libvirtiscsi'/>\n"
                    "    </auth>\n"
                    "  </source>\n"
                    "  <target dev='vdd' bus='virtio'/>\n"
                    "</disk>\n");
    /* by UUID instead of usage */
    src.auth_secret_usage = NULL;
    src.auth_secret_uuid = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
    g_autofree char *xml2 = build(&spec);
    g_assert_nonnull(
        strstr(xml2, "<secret type='iscsi' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>"));
    g_assert_null(strstr(xml2, "usage="));
}

static void test_network_nfs(void)
{
    PdDiskSource src = {.type = PD_DISK_SOURCE_NETWORK,
                        .protocol = "nfs",
                        .name = "/export/pool/vm.qcow2",
                        .host_name = "nfs.example"};
    PdDiskSpec spec = {.source = &src, .target = "vde", .format = "qcow2"};
    g_autofree char *xml = build(&spec);
    g_assert_nonnull(strstr(xml, "<source protocol='nfs' name='/export/pool/vm.qcow2'>\n"
                                 "    <host name='nfs.example'/>\n"
                                 "  </source>\n"));
    g_assert_null(strstr(xml, "port=")); /* 0: the protocol's default */
    g_assert_null(strstr(xml, "<auth"));
    /* a domain disk with that source reads back with protocol, name, host */
    g_autofree char *dom = g_strdup_printf("<domain><devices>%s</devices></domain>", xml);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_domain_disks_parse(dom, "test", &error);
    PdDomainDisk *d = pd_domain_disks_find(disks, "vde");
    g_assert_cmpstr(d->type, ==, "network");
    g_assert_cmpstr(d->protocol, ==, "nfs");
    g_assert_cmpstr(d->name, ==, "/export/pool/vm.qcow2");
    g_assert_cmpstr(d->host_name, ==, "nfs.example");
    g_autofree char *text = pd_domain_disk_source_text(d);
    g_assert_cmpstr(text, ==, "/export/pool/vm.qcow2");
}

/* Each bad spec is refused with INVALID_ARGUMENT naming what is wrong. */
static void test_refusals(void)
{
    PdDiskSource file = {.type = PD_DISK_SOURCE_FILE, .path = "/p/v"};
    PdDiskSource relative = {.type = PD_DISK_SOURCE_FILE, .path = "p/v"};
    PdDiskSource net = {.type = PD_DISK_SOURCE_NETWORK, .protocol = "nfs", .name = "/e/v"};
    struct {
        PdDiskSpec spec;
        const char *needle;
    } cases[] = {
        {{.source = &file, .target = "vdb", .format = NULL}, "(not recorded)"},
        {{.source = &file, .target = "vdb", .format = "dir"}, "format 'dir'"},
        {{.source = &file, .target = "vdb1", .format = "raw"}, "invalid disk target 'vdb1'"},
        {{.source = &file, .target = "vd", .format = "raw"}, "invalid disk target"},
        {{.source = &file, .target = "xyz", .format = "raw"}, "invalid disk target"},
        {{.source = &file, .target = "vdb", .format = "raw", .bus = "pci"}, "bus 'pci'"},
        {{.source = &file, .target = "vdb", .format = "raw", .cache = "fast"}, "cache mode"},
        {{.source = &file, .target = "vdb", .format = "raw", .device = "tape"}, "disk type"},
        {{.source = &file, .target = "vdb", .format = "raw", .mode = "rw"}, "mode 'rw'"},
        {{.source = &file, .target = "vdb", .format = "raw", .driver = "q'emu"}, "driver"},
        {{.source = &relative, .target = "vdb", .format = "raw"}, "absolute path"},
        {{.source = &net, .target = "vdb", .format = "raw"}, "host"},
        {{.source = NULL, .target = "vdb", .format = "raw"}, "without a source"},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = pd_libvirt_disk_xml(&cases[i].spec, &error);
        g_assert_null(xml);
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        if (!strstr(error->message, cases[i].needle))
            g_error("case %u: '%s' lacks '%s'", i, error->message, cases[i].needle);
    }
}

/* A live domain XML as libvirt prints it (trimmed): every source form domblklist shows. */
static const char domain_xml[] =
    "<domain type='qemu' id='3'>\n"
    "  <name>vm1</name>\n"
    "  <devices>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source file='/var/lib/p/a.qcow2' index='2'/>\n"
    "      <target dev='sda' bus='scsi'/>\n"
    "      <alias name='scsi0-0-0-0'/>\n"
    "    </disk>\n"
    "    <disk type='block' device='disk'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source dev='/dev/vg/lv'/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "      <shareable/>\n"
    "    </disk>\n"
    "    <disk type='volume' device='disk'>\n"
    "      <source pool='p' volume='v1'/>\n"
    "      <target dev='vdc'/>\n"
    "    </disk>\n"
    "    <disk type='network' device='disk'>\n"
    "      <source protocol='iscsi' name='iqn.x:t/1'><host name='h' port='3261'/></source>\n"
    "      <target dev='vdd'/>\n"
    "    </disk>\n"
    "    <disk type='file' device='cdrom'>\n"
    "      <target dev='hdc' bus='ide'/>\n"
    "      <readonly/>\n"
    "    </disk>\n"
    "    <interface type='network'><target dev='vnet0'/></interface>\n"
    "  </devices>\n"
    "</domain>\n";

static void test_domain_disks(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_domain_disks_parse(domain_xml, "domain 'vm1'", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(disks->len, ==, 5); /* the interface's <target> is no disk */
    const char *expect[][4] = {
        {"sda", "file", "disk", "/var/lib/p/a.qcow2"},
        {"vdb", "block", "disk", "/dev/vg/lv"},
        {"vdc", "volume", "disk", "p/v1"},
        {"vdd", "network", "disk", "iqn.x:t/1"},
        {"hdc", "file", "cdrom", "-"},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(expect); i++) {
        PdDomainDisk *d = disks->pdata[i];
        g_autofree char *source = pd_domain_disk_source_text(d);
        g_assert_cmpstr(d->target, ==, expect[i][0]);
        g_assert_cmpstr(d->type, ==, expect[i][1]);
        g_assert_cmpstr(d->device, ==, expect[i][2]);
        g_assert_cmpstr(source, ==, expect[i][3]);
    }
    PdDomainDisk *sda = pd_domain_disks_find(disks, "sda");
    g_assert_cmpstr(sda->alias, ==, "scsi0-0-0-0");
    g_assert_cmpstr(sda->driver_type, ==, "qcow2");
    g_assert_cmpstr(sda->bus, ==, "scsi");
    g_assert_nonnull(strstr(sda->xml, "<alias name=\"scsi0-0-0-0\"/>"));
    g_assert_cmpstr(pd_domain_disk_mode(pd_domain_disks_find(disks, "vdb")), ==, "shareable");
    g_assert_cmpuint(pd_domain_disks_find(disks, "vdd")->host_port, ==, 3261);
    g_assert_null(pd_domain_disks_find(disks, "vnet0"));
}

static void test_domain_refusals(void)
{
    const char *bad[] = {
        "<domain><devices><disk type='file'><source file='/x'/></disk></devices></domain>",
        "<pool type='dir'/>",
        "<domain><devices><disk>",
        "",
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) disks = pd_domain_disks_parse(bad[i], "domain 'x'", &error);
        g_assert_null(disks);
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, "domain 'x'"));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/libvirt-xml/disk/file", test_file);
    g_test_add_func("/libvirt-xml/disk/block-options", test_block_options);
    g_test_add_func("/libvirt-xml/disk/iso-cdrom-escaping", test_iso_cdrom_escaping);
    g_test_add_func("/libvirt-xml/disk/network-iscsi-auth", test_network_iscsi_auth);
    g_test_add_func("/libvirt-xml/disk/network-nfs", test_network_nfs);
    g_test_add_func("/libvirt-xml/disk/refusals", test_refusals);
    g_test_add_func("/libvirt-xml/domain/disks", test_domain_disks);
    g_test_add_func("/libvirt-xml/domain/refusals", test_domain_refusals);
    return g_test_run();
}
