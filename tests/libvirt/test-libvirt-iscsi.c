/* A LUN of a userspace iSCSI pool (iscsi-direct, libiscsi) attached as a network disk: a real
 * tgtd on loopback (tests/backends/tgt-fixture.sh) and libvirt's embedded QEMU driver. The
 * backend gives the NETWORK source, poold builds <source protocol='iscsi' name='IQN/LUN'> with
 * host and port, QEMU logs in and opens the LUN when it is hot-plugged on bus scsi of a guest
 * without an OS (a LUN the target does not have fails the attach), and the live and inactive
 * XML are checked after the attach and the detach. Exits 77 without QEMU, QEMU's iSCSI block
 * driver or tgtd. */
#include "common/pd-error.h"
#include "daemon/libvirt/disk.h"
#include "daemon/libvirt/domain.h"
#include "tests/backends/iscsi-fixture.h"
#include "tests/libvirt/lv-fixture.h"

#include <stdio.h>
#include <stdlib.h>

static LvFixture fx;
static TgtFixture *tgt;

static PdPool *iscsi_pool(void)
{
    g_autofree char *xml = g_strdup_printf(
        "<pool type='iscsi-direct'><name>lun-pool</name><source><host name='127.0.0.1' "
        "port='%u'/><device path='%s'/><initiator><iqn name='%s'/></initiator></source></pool>",
        tgt->port, TGT_IQN_PLAIN, TGT_INITIATOR);
    g_autoptr(GError) error = NULL;
    PdPoolDef *def = pd_pool_def_parse(xml, &error);
    g_assert_no_error(error);
    return pd_pool_new(def);
}

/* Attaches @xml at sdb of vmlun, live and config. */
static bool attach(const char *xml, GError **error)
{
    PdAffectFlags both = {.live = true, .config = true};
    unsigned affected = 0;
    return pd_libvirt_attach_disk(fx.conn, "vmlun", xml, "sdb", &both, &affected, error);
}

static void test_iscsi_network_disk(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdPool) pool = iscsi_pool();
    const PdPoolBackend *be = pd_pool_backend_for_def(pool->def, &error);
    g_assert_no_error(error);
    g_assert_true(pd_pool_backend_start(be, pool, &error));
    g_assert_no_error(error);
    PdPoolRefresh r = {0};
    g_assert_true(pd_pool_backend_refresh(be, pool, pool->volumes, &r, &error));
    pd_pool_refresh_apply(pool, &r);
    PdVol *vol = pd_pool_find_vol(pool, "unit:0:0:1");
    g_assert_nonnull(vol);

    g_autoptr(PdDiskSource) src = NULL;
    g_assert_true(pd_pool_backend_vol_disk_source(be, pool, vol, &src, &error));
    g_assert_no_error(error);
    g_assert_cmpint(src->type, ==, PD_DISK_SOURCE_NETWORK);
    g_assert_cmpstr(src->protocol, ==, "iscsi");
    g_autofree char *want_name = g_strdup_printf("%s/1", TGT_IQN_PLAIN);
    g_assert_cmpstr(src->name, ==, want_name);
    g_assert_cmpuint(src->host_port, ==, tgt->port);

    /* the control: LUN 9 does not exist on the target, QEMU's login and open fail */
    PdDiskSource missing = *src;
    missing.name = g_strdup_printf("%s/9", TGT_IQN_PLAIN);
    PdDiskSpec bad = {.source = &missing, .target = "sdb", .format = "raw", .bus = "scsi"};
    g_autofree char *bad_xml = pd_libvirt_disk_xml(&bad, &error);
    g_free(missing.name);
    g_assert_false(attach(bad_xml, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_IO);
    g_test_message("missing LUN refused: %s", error->message);
    g_clear_error(&error);
    g_assert_false(lv_domain_has_target(&fx, "vmlun", "sdb", false));
    g_assert_false(lv_domain_has_target(&fx, "vmlun", "sdb", true));

    PdDiskSpec spec = {.source = src, .target = "sdb", .format = vol->format, .bus = "scsi"};
    g_autofree char *xml = pd_libvirt_disk_xml(&spec, &error);
    g_assert_no_error(error);
    g_test_message("%s", xml);
    g_assert_true(attach(xml, &error));
    g_assert_no_error(error);
    for (int inactive = 0; inactive <= 1; inactive++) {
        g_autoptr(GPtrArray) disks = pd_libvirt_domain_disks(fx.conn, "vmlun", inactive, &error);
        g_assert_no_error(error);
        PdDomainDisk *d = pd_domain_disks_find(disks, "sdb");
        g_assert_nonnull(d);
        g_assert_cmpstr(d->type, ==, "network");
        g_assert_cmpstr(d->protocol, ==, "iscsi");
        g_assert_cmpstr(d->name, ==, want_name);
        g_assert_cmpstr(d->host_name, ==, "127.0.0.1");
        g_assert_cmpuint(d->host_port, ==, tgt->port);
    }
    PdAffectFlags both = {.live = true, .config = true};
    unsigned affected = 0;
    g_assert_true(
        pd_libvirt_detach_disk(fx.conn, "vmlun", "sdb", &both, 10000, &affected, NULL, &error));
    g_assert_no_error(error);
    g_assert_false(lv_domain_has_target(&fx, "vmlun", "sdb", false));
    g_assert_false(lv_domain_has_target(&fx, "vmlun", "sdb", true));
    g_assert_true(pd_pool_backend_stop(be, pool, &error));
}

int main(int argc, char **argv)
{
    lv_require_qemu();
    if (!g_file_test("/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so", G_FILE_TEST_EXISTS)) {
        printf("SKIP: QEMU's iSCSI block driver is missing (apt-get install qemu-block-extra)\n");
        return 77;
    }
    g_test_init(&argc, &argv, NULL);
    tgt = tgt_fixture_start();
    lv_fixture_init(&fx);
    lv_domain_new(&fx, "vmlun", true);
    g_test_add_func("/libvirt/network/iscsi", test_iscsi_network_disk);
    int rc = g_test_run();
    lv_fixture_clear(&fx);
    return rc;
}
