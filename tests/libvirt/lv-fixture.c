/* The embedded-driver fixture of the libvirt suite. */
#include "tests/libvirt/lv-fixture.h"

#include "common/pd-error.h"
#include "daemon/libvirt/domxml.h"

#include <libvirt/virterror.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* namespaces = []: QEMU runs in the test's own mount namespace; a private one needs a root
 * that is a mount point, which a chroot (a newcomer's fresh-machine check) does not have. */
static const char qemu_conf[] = "stdio_handler = \"file\"\n"
                                "user = \"root\"\n"
                                "group = \"root\"\n"
                                "remember_owner = 0\n"
                                "namespaces = [ ]\n";

/* The QEMU processes of the domains this process started: a failed assertion aborts before
 * lv_fixture_clear, and their guests must not outlive the test. */
#define MAX_GUESTS 16
static volatile pid_t guest_pids[MAX_GUESTS];

static void kill_guests(int sig)
{
    for (unsigned i = 0; i < MAX_GUESTS; i++)
        if (guest_pids[i] > 0)
            (void)kill(guest_pids[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Remembers the QEMU process of running domain @name (libvirt's pid file under the root). */
static void remember_guest(LvFixture *f, const char *name)
{
    g_autofree char *pidfile = g_strdup_printf("%s/root/run/qemu/%s.pid", f->tmp, name);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(pidfile, &text, NULL, NULL))
        return;
    for (unsigned i = 0; i < MAX_GUESTS; i++)
        if (guest_pids[i] == 0) {
            guest_pids[i] = (pid_t)atoi(text);
            break;
        }
    signal(SIGABRT, kill_guests);
    signal(SIGSEGV, kill_guests);
}

void lv_require_qemu(void)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu) {
        printf("SKIP: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)\n");
        exit(77);
    }
    if (getuid() != 0) {
        printf("SKIP: the embedded QEMU driver runs guests as root here (user = root in "
               "qemu.conf): run as root\n");
        exit(77);
    }
}

static void write_file(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    g_assert_no_error(error);
}

void lv_fixture_init(LvFixture *f)
{
    g_autoptr(GError) error = NULL;
    f->tmp = g_dir_make_tmp("poold-libvirt-XXXXXX", &error);
    g_assert_no_error(error);
    g_assert_cmpint(g_chmod(f->tmp, 0755), ==, 0);
    g_autofree char *etc = g_build_filename(f->tmp, "root", "etc", NULL);
    g_assert_cmpint(g_mkdir_with_parents(etc, 0755), ==, 0);
    g_autofree char *conf = g_build_filename(etc, "qemu.conf", NULL);
    write_file(conf, qemu_conf);
    f->uri = g_strdup_printf("qemu:///embed?root=%s/root", f->tmp);
    g_assert_true(pd_libvirt_init(true, &error));
    f->conn = pd_libvirt_conn_open(f->uri, &error);
    g_assert_no_error(error);

    PdPoolDef *def = pd_pool_def_new(PD_POOL_DIR);
    def->name = g_strdup("lvpool");
    def->target_path = g_build_filename(f->tmp, "pool", NULL);
    f->pool = pd_pool_new(def);
    f->be = pd_pool_backend_for_type(PD_POOL_DIR, &error);
    g_assert_no_error(error);
    g_assert_true(pd_pool_backend_build(f->be, f->pool, 0, &error));
    g_assert_true(pd_pool_backend_start(f->be, f->pool, &error));
    g_assert_no_error(error);
}

static void rmtree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            rmtree(child);
        else
            (void)g_unlink(child);
    }
    (void)g_rmdir(path);
}

void lv_fixture_clear(LvFixture *f)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(pd_libvirt_conn_ptr(f->conn), &doms, 0);
    for (int i = 0; i < n; i++) {
        if (virDomainIsActive(doms[i]) == 1)
            (void)virDomainDestroy(doms[i]);
        (void)virDomainUndefine(doms[i]);
        virDomainFree(doms[i]);
    }
    g_free(doms);
    pd_libvirt_conn_unref(f->conn);
    pd_pool_free(f->pool);
    rmtree(f->tmp);
    g_free(f->tmp);
    g_free(f->uri);
}

void lv_domain_new(LvFixture *f, const char *name, bool start)
{
    g_autofree char *xml =
        g_strdup_printf("<domain type='qemu'>"
                        "<name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
                        "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
                        "<features><acpi/></features>"
                        "<devices>"
                        "<controller type='scsi' index='0' model='virtio-scsi'/>"
                        "<memballoon model='none'/>"
                        "</devices></domain>",
                        name);
    virDomainPtr dom = virDomainDefineXML(pd_libvirt_conn_ptr(f->conn), xml);
    if (!dom)
        g_error("defining domain %s: %s", name, virGetLastErrorMessage());
    if (start && virDomainCreate(dom) < 0)
        g_error("starting domain %s: %s", name, virGetLastErrorMessage());
    if (start)
        remember_guest(f, name);
    virDomainFree(dom);
}

void lv_domain_remove(LvFixture *f, const char *name)
{
    virDomainPtr dom = virDomainLookupByName(pd_libvirt_conn_ptr(f->conn), name);
    g_assert_nonnull(dom);
    if (virDomainIsActive(dom) == 1)
        g_assert_cmpint(virDomainDestroy(dom), ==, 0);
    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    virDomainFree(dom);
}

static gint vol_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(PdVol *const *)a)->name, (*(PdVol *const *)b)->name);
}

PdVol *lv_volume_new(LvFixture *f, const char *name, const char *format)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = pd_vol_def_new(PD_POOL_DIR);
    def->name = g_strdup(name);
    def->target_format = g_strdup(format);
    def->capacity = 16 * 1024 * 1024;
    def->has_capacity = true;
    PdVol *vol = NULL;
    g_assert_true(pd_pool_backend_vol_create(f->be, f->pool, def, 0, NULL, &vol, &error));
    g_assert_no_error(error);
    g_ptr_array_add(f->pool->volumes, vol);
    g_ptr_array_sort(f->pool->volumes, vol_cmp); /* the catalog is sorted by name */
    return vol;
}

bool lv_domain_has_target(LvFixture *f, const char *domain, const char *target, bool inactive)
{
    virDomainPtr dom = virDomainLookupByName(pd_libvirt_conn_ptr(f->conn), domain);
    g_assert_nonnull(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
    virDomainFree(dom);
    g_assert_nonnull(xml);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_domain_disks_parse(xml, domain, &error);
    g_assert_no_error(error);
    return pd_domain_disks_find(disks, target) != NULL;
}
