/* A volume of a userspace NFS pool (netfs, libnfs) attached as a network disk: run inside
 * tests/backends/nfs-server.sh (a real nfs-ganesha in private namespaces), with libvirt's
 * embedded QEMU driver in the same namespaces. The backend gives the NETWORK source, poold
 * builds <source protocol='nfs' name=...><host/>, QEMU opens the image over NFS when it is
 * hot-plugged on bus scsi of a guest without an OS (a failed open fails the attach), and the
 * live and inactive XML are checked after the attach and the detach. Exits 77 without QEMU,
 * QEMU's NFS block driver, or the fixture's environment. */
#include "common/pd-error.h"
#include "daemon/libvirt/disk.h"
#include "daemon/libvirt/domain.h"
#include "tests/libvirt/lv-fixture.h"

#include <stdio.h>
#include <stdlib.h>

static LvFixture fx;

static void require_nfs(void)
{
    if (!g_getenv("NFS_SERVER") || !g_getenv("NFS_EXPORT")) {
        printf("SKIP: run inside tests/backends/nfs-server.sh (NFS_SERVER, NFS_EXPORT unset)\n");
        exit(77);
    }
    if (!g_file_test("/usr/lib/x86_64-linux-gnu/qemu/block-nfs.so", G_FILE_TEST_EXISTS)) {
        printf("SKIP: QEMU's NFS block driver is missing (apt-get install qemu-block-extra)\n");
        exit(77);
    }
}

static void test_nfs_network_disk(void)
{
    g_autoptr(GError) error = NULL;
    PdPoolDef *def = pd_pool_def_new(PD_POOL_NETFS);
    def->name = g_strdup("nfspool");
    def->source.host_name = g_strdup(g_getenv("NFS_SERVER"));
    def->source.dir = g_strdup(g_getenv("NFS_EXPORT"));
    def->target_path = g_strdup("/mnt/unused");
    def->netfs_mode = PD_NETFS_MODE_USERSPACE;
    g_assert_true(pd_pool_def_validate(def, &error));
    g_autoptr(PdPool) pool = pd_pool_new(def);
    const PdPoolBackend *be = pd_pool_backend_for_def(pool->def, &error);
    g_assert_no_error(error);
    g_assert_true(pd_pool_backend_start(be, pool, &error));
    g_assert_no_error(error);

    g_autoptr(PdVolDef) vdef = pd_vol_def_new(PD_POOL_NETFS);
    vdef->name = g_strdup("net.qcow2");
    vdef->target_format = g_strdup("qcow2");
    vdef->capacity = 16 * 1024 * 1024;
    vdef->has_capacity = true;
    g_autoptr(PdVol) vol = NULL;
    g_assert_true(pd_pool_backend_vol_create(be, pool, vdef, 0, NULL, &vol, &error));
    g_assert_no_error(error);

    g_autoptr(PdDiskSource) src = NULL;
    g_assert_true(pd_pool_backend_vol_disk_source(be, pool, vol, &src, &error));
    g_assert_cmpint(src->type, ==, PD_DISK_SOURCE_NETWORK);
    g_assert_cmpstr(src->protocol, ==, "nfs");
    PdDiskSpec spec = {.source = src, .target = "sdb", .format = vol->format, .bus = "scsi"};
    g_autofree char *xml = pd_libvirt_disk_xml(&spec, &error);
    g_assert_no_error(error);
    g_test_message("%s", xml);

    PdAffectFlags both = {.live = true, .config = true};
    unsigned affected = 0;
    /* The control: QEMU really opens the source: a name that is not on the server fails the
     * hot-plug, and nothing is left in either definition. */
    PdDiskSource missing = *src;
    missing.name = g_strdup_printf("%s.missing", src->name);
    PdDiskSpec bad = spec;
    bad.source = &missing;
    g_autofree char *bad_xml = pd_libvirt_disk_xml(&bad, &error);
    g_free(missing.name);
    g_assert_false(
        pd_libvirt_attach_disk(fx.conn, "vmnet", bad_xml, "sdb", &both, &affected, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_IO);
    g_test_message("missing source refused: %s", error->message);
    g_clear_error(&error);
    g_assert_false(lv_domain_has_target(&fx, "vmnet", "sdb", false));
    g_assert_false(lv_domain_has_target(&fx, "vmnet", "sdb", true));

    g_assert_true(pd_libvirt_attach_disk(fx.conn, "vmnet", xml, "sdb", &both, &affected, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(affected, ==, PD_AFFECT_LIVE | PD_AFFECT_CONFIG);
    for (int inactive = 0; inactive <= 1; inactive++) {
        g_autoptr(GPtrArray) disks = pd_libvirt_domain_disks(fx.conn, "vmnet", inactive, &error);
        g_assert_no_error(error);
        PdDomainDisk *d = pd_domain_disks_find(disks, "sdb");
        g_assert_nonnull(d);
        g_assert_cmpstr(d->type, ==, "network");
        g_assert_cmpstr(d->protocol, ==, "nfs");
        g_assert_cmpstr(d->name, ==, src->name);
        g_assert_cmpstr(d->host_name, ==, src->host_name);
        g_assert_cmpstr(d->driver_type, ==, "qcow2");
    }
    g_autoptr(PdDomainDisk) gone = NULL;
    g_assert_true(
        pd_libvirt_detach_disk(fx.conn, "vmnet", "sdb", &both, 10000, &affected, &gone, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(gone->protocol, ==, "nfs");
    g_assert_false(lv_domain_has_target(&fx, "vmnet", "sdb", false));
    g_assert_false(lv_domain_has_target(&fx, "vmnet", "sdb", true));

    g_assert_true(pd_pool_backend_vol_delete(be, pool, vol, 0, &error));
    g_assert_true(pd_pool_backend_stop(be, pool, &error));
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    lv_require_qemu();
    require_nfs();
    g_test_init(&argc, &argv, NULL);
    lv_fixture_init(&fx);
    lv_domain_new(&fx, "vmnet", true);
    g_test_add_func("/libvirt/network/nfs", test_nfs_network_disk);
    int rc = g_test_run();
    lv_fixture_clear(&fx);
    return rc;
}
