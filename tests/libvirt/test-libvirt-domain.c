/* poold's libvirt module against libvirt's embedded QEMU driver: attach and detach qcow2 and
 * raw volumes of a dir pool on bus scsi (virtio-scsi, a guest without an OS), live and config,
 * checking the live and inactive domain XML after every step and the device-removed event;
 * and the errors: target in use, --live on a stopped domain, unknown domain, unreachable URI.
 * Without qemu-system-x86_64 the test exits 77. */
#include "common/pd-error.h"
#include "daemon/libvirt/disk.h"
#include "daemon/libvirt/domain.h"
#include "tests/libvirt/lv-fixture.h"

#include <libvirt/virterror.h>

static LvFixture fx;
static gint removed_events;

static void on_removed(virConnectPtr c, virDomainPtr d, const char *alias, void *opaque)
{
    g_atomic_int_inc(&removed_events);
}

/* The <disk> XML of @vol at @target on bus scsi. */
static char *disk_xml(const PdVol *vol, const char *target)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdDiskSource) src = NULL;
    g_assert_true(pd_pool_backend_vol_disk_source(fx.be, fx.pool, vol, &src, &error));
    g_assert_no_error(error);
    g_assert_cmpint(src->type, ==, PD_DISK_SOURCE_FILE);
    PdDiskSpec spec = {.source = src, .target = target, .format = vol->format, .bus = "scsi"};
    char *xml = pd_libvirt_disk_xml(&spec, &error);
    g_assert_no_error(error);
    return xml;
}

static void attach_ok(const char *domain, const PdVol *vol, const char *target, PdAffectFlags flags,
                      unsigned want)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = disk_xml(vol, target);
    unsigned affected = 0;
    g_assert_true(pd_libvirt_attach_disk(fx.conn, domain, xml, target, &flags, &affected, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(affected, ==, want);
    g_assert_cmpint(lv_domain_has_target(&fx, domain, target, false), ==,
                    (want & PD_AFFECT_LIVE) != 0);
    g_assert_cmpint(lv_domain_has_target(&fx, domain, target, true), ==,
                    (want & PD_AFFECT_CONFIG) != 0);
}

static void detach_ok(const char *domain, const char *target, PdAffectFlags flags, unsigned want)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdDomainDisk) disk = NULL;
    unsigned affected = 0;
    gint events = g_atomic_int_get(&removed_events);
    g_assert_true(
        pd_libvirt_detach_disk(fx.conn, domain, target, &flags, 10000, &affected, &disk, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(affected, ==, want);
    g_assert_cmpstr(disk->target, ==, target);
    g_assert_false(lv_domain_has_target(&fx, domain, target, false));
    g_assert_false(lv_domain_has_target(&fx, domain, target, true));
    if (want & PD_AFFECT_LIVE) { /* the event reached the test's callback too */
        for (int i = 0; i < 100 && g_atomic_int_get(&removed_events) == events; i++)
            g_usleep(20000);
        g_assert_cmpint(g_atomic_int_get(&removed_events), ==, events + 1);
    }
}

static void test_qcow2_live_config(void)
{
    PdVol *vol = lv_volume_new(&fx, "d1.qcow2", "qcow2");
    PdAffectFlags both = {.live = true, .config = true};
    attach_ok("vm1", vol, "sdb", both, PD_AFFECT_LIVE | PD_AFFECT_CONFIG);
    /* domblklist: the live disk with its source path, driver type and bus */
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_libvirt_domain_disks(fx.conn, "vm1", false, &error);
    g_assert_no_error(error);
    PdDomainDisk *d = pd_domain_disks_find(disks, "sdb");
    g_assert_nonnull(d);
    g_assert_cmpstr(d->path, ==, vol->path);
    g_assert_cmpstr(d->driver_type, ==, "qcow2");
    g_assert_cmpstr(d->bus, ==, "scsi");
    g_assert_nonnull(d->alias);
    detach_ok("vm1", "sdb", both, PD_AFFECT_LIVE | PD_AFFECT_CONFIG);
}

static void test_raw_live_then_config(void)
{
    PdVol *vol = lv_volume_new(&fx, "d2.raw", "raw");
    attach_ok("vm1", vol, "sdc", (PdAffectFlags){.live = true}, PD_AFFECT_LIVE);
    detach_ok("vm1", "sdc", (PdAffectFlags){.live = true}, PD_AFFECT_LIVE);
    attach_ok("vm1", vol, "sdc", (PdAffectFlags){.config = true}, PD_AFFECT_CONFIG);
    detach_ok("vm1", "sdc", (PdAffectFlags){.config = true}, PD_AFFECT_CONFIG);
    /* --current (nothing) on a running domain is live; --persistent is both */
    attach_ok("vm1", vol, "sdd", (PdAffectFlags){0}, PD_AFFECT_LIVE);
    detach_ok("vm1", "sdd", (PdAffectFlags){.current = true}, PD_AFFECT_LIVE);
    attach_ok("vm1", vol, "sdd", (PdAffectFlags){.persistent = true},
              PD_AFFECT_LIVE | PD_AFFECT_CONFIG);
    detach_ok("vm1", "sdd", (PdAffectFlags){.persistent = true}, PD_AFFECT_LIVE | PD_AFFECT_CONFIG);
}

/* An attach that must fail with @code and change nothing. */
static void attach_fails(const char *uri_or_null, const char *domain, const PdVol *vol,
                         const char *target, PdAffectFlags flags, int code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = disk_xml(vol, target);
    g_autoptr(PdLibvirtConn) other = NULL;
    PdLibvirtConn *conn = fx.conn;
    if (uri_or_null) {
        other = pd_libvirt_conn_open(uri_or_null, &error);
        if (!other) {
            g_assert_error(error, PD_ERROR, code);
            g_assert_nonnull(strstr(error->message, needle));
            return;
        }
        conn = other;
    }
    unsigned affected = 0;
    g_assert_false(pd_libvirt_attach_disk(conn, domain, xml, target, &flags, &affected, &error));
    g_assert_error(error, PD_ERROR, code);
    g_test_message("error: %s", error->message);
    g_assert_nonnull(strstr(error->message, needle));
    g_assert_cmpuint(affected, ==, 0);
}

static void test_errors(void)
{
    PdVol *a = lv_volume_new(&fx, "e1.qcow2", "qcow2");
    PdVol *b = lv_volume_new(&fx, "e2.raw", "raw");
    PdAffectFlags both = {.live = true, .config = true};
    attach_ok("vm1", a, "sde", both, PD_AFFECT_LIVE | PD_AFFECT_CONFIG);
    /* target in use: refused, and the disk there is still a's */
    attach_fails(NULL, "vm1", b, "sde", both, PD_ERROR_EXISTS, "target 'sde' is already used");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_libvirt_domain_disks(fx.conn, "vm1", true, &error);
    g_assert_cmpstr(pd_domain_disks_find(disks, "sde")->path, ==, a->path);
    detach_ok("vm1", "sde", both, PD_AFFECT_LIVE | PD_AFFECT_CONFIG);

    /* --live on a domain that does not run; nothing added to its definition */
    attach_fails(NULL, "vm-off", b, "sdf", (PdAffectFlags){.live = true}, PD_ERROR_INVALID_STATE,
                 "domain 'vm-off' is not running");
    g_assert_false(lv_domain_has_target(&fx, "vm-off", "sdf", true));
    /* --current with --live contradicts */
    attach_fails(NULL, "vm1", b, "sdf", (PdAffectFlags){.live = true, .current = true},
                 PD_ERROR_INVALID_ARGUMENT, "mutually exclusive");
    g_assert_false(lv_domain_has_target(&fx, "vm1", "sdf", false));
    /* unknown domain, unreachable URI */
    attach_fails(NULL, "no-such-vm", b, "sdf", both, PD_ERROR_NO_SUCH_DOMAIN, "no-such-vm");
    attach_fails("qemu+unix:///system?socket=/nonexistent/poold-test.sock", "vm1", b, "sdf", both,
                 PD_ERROR_IO, "cannot connect to libvirt at qemu+unix:///system");
    /* detach of a target that is not there */
    unsigned affected = 0;
    g_clear_pointer(&error, g_error_free);
    g_assert_false(
        pd_libvirt_detach_disk(fx.conn, "vm1", "sdz", &both, 1000, &affected, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
}

int main(int argc, char **argv)
{
    lv_require_qemu();
    g_test_init(&argc, &argv, NULL);
    lv_fixture_init(&fx);
    lv_domain_new(&fx, "vm1", true);
    lv_domain_new(&fx, "vm-off", false);
    int cb = virConnectDomainEventRegisterAny(pd_libvirt_conn_ptr(fx.conn), NULL,
                                              VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_removed), NULL, NULL);
    g_assert_cmpint(cb, >=, 0);
    g_test_add_func("/libvirt/domain/qcow2-live-config", test_qcow2_live_config);
    g_test_add_func("/libvirt/domain/raw-live-then-config", test_raw_live_then_config);
    g_test_add_func("/libvirt/domain/errors", test_errors);
    int rc = g_test_run();
    (void)virConnectDomainEventDeregisterAny(pd_libvirt_conn_ptr(fx.conn), cb);
    lv_fixture_clear(&fx);
    return rc;
}
