/* The kernel-backed backends (fs, netfs in mount mode, iscsi) on the host, where the kernel has
 * no NFS client nor iSCSI initiator: the commands they run (argv printed and compared), the
 * parsers of the tools' output (real samples), the command runner with its deadline (real
 * processes), the backend lookup, and the bad input they refuse before running any tool. The
 * real mounts and logins are tested in the VM (tests/vm/). */
#include "common/pd-error.h"
#include "pools/backend.h"
#include "pools/cmd-util.h"
#include "pools/mount-util.h"
#include "pools/pool-fs.h"
#include "pools/pool-iscsi.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Compares argv @argv (freed) with the space-joined @expected. */
static void assert_argv(char **argv, const char *expected)
{
    g_autofree char *line = pd_cmd_argv_string((const char *const *)argv);
    g_assert_cmpstr(line, ==, expected);
    g_strfreev(argv);
}

static PdPoolDef *netfs_def(void)
{
    PdPoolDef *def = pd_pool_def_new(PD_POOL_NETFS);
    def->name = g_strdup("n1");
    def->source.host_name = g_strdup("127.0.0.1");
    def->source.dir = g_strdup("/srv/export");
    def->target_path = g_strdup("/mnt/n1");
    def->netfs_mode = PD_NETFS_MODE_MOUNT;
    return def;
}

/* ---- mount ------------------------------------------------------------------------------- */

static void test_mount_argv(void)
{
    assert_argv(pd_mount_argv("ext4", "/dev/vdb", "/mnt/p", NULL), "mount -t ext4 /dev/vdb /mnt/p");
    assert_argv(pd_mount_argv("auto", "/dev/vdb", "/mnt/p", "noatime,ro"),
                "mount -o noatime,ro /dev/vdb /mnt/p");
    assert_argv(pd_mount_argv(NULL, "/dev/vdb", "/mnt/p", ""), "mount /dev/vdb /mnt/p");
    assert_argv(pd_umount_argv("/mnt/p"), "umount /mnt/p");

    g_autofree char *v4 = pd_mount_nfs_source("127.0.0.1", "/srv/export");
    g_assert_cmpstr(v4, ==, "127.0.0.1:/srv/export");
    g_autofree char *v6 = pd_mount_nfs_source("::1", "/srv/export");
    g_assert_cmpstr(v6, ==, "[::1]:/srv/export");
    g_autofree char *host = pd_mount_nfs_source("nfs.example.com", "/e");
    g_assert_cmpstr(host, ==, "nfs.example.com:/e");
}

static void test_nfs_options(void)
{
    g_autoptr(PdPoolDef) def = netfs_def();
    g_autofree char *plain = pd_mount_nfs_options(def, 30);
    g_assert_cmpstr(plain, ==, "nodev,nosuid,noexec,soft,timeo=50,retrans=2,retry=0");
    def->source.protocol_ver = 3;
    def->source.host_port = 2049;
    g_ptr_array_add(def->mount_opts, g_strdup("hard"));
    g_ptr_array_add(def->mount_opts, g_strdup("nolock"));
    g_autofree char *full = pd_mount_nfs_options(def, 6);
    /* the pool's own options come last: mount lets the last one win */
    g_assert_cmpstr(full, ==,
                    "nodev,nosuid,noexec,soft,timeo=10,retrans=2,retry=0,vers=3,port=2049,"
                    "hard,nolock");
    g_autofree char *joined = pd_mount_join_options(def->mount_opts);
    g_assert_cmpstr(joined, ==, "hard,nolock");
    g_assert_null(pd_mount_join_options(NULL));
}

/* A real /proc/self/mountinfo from the VM harness, with a stacked mount, an NFS mount and a
 * mount point holding a space. */
static const char mountinfo[] =
    "22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/ro,upperdir=/rw/upper\n"
    "25 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw,size=497564k\n"
    "40 22 7:0 / /mnt/fs\\040pool rw,relatime shared:1 - ext4 /dev/loop0 rw\n"
    "41 22 0:45 / /mnt/nfs rw,relatime - nfs 127.0.0.1:/srv/export rw,vers=3,soft\n"
    "42 22 7:1 / /mnt/p rw,relatime - ext4 /dev/loop1 rw\n"
    "43 42 7:2 / /mnt/p rw,relatime - xfs /dev/loop2 rw\n"
    "garbage line\n";

static void test_mountinfo(void)
{
    PdMountEntry e = {0};
    g_assert_cmpint(pd_mount_lookup(mountinfo, "/mnt/fs pool", &e), ==, 1);
    g_assert_cmpstr(e.source, ==, "/dev/loop0");
    g_assert_cmpstr(e.fstype, ==, "ext4");
    g_assert_cmpuint(e.major, ==, 7);
    g_assert_cmpuint(e.minor, ==, 0);
    pd_mount_entry_clear(&e);

    g_assert_cmpint(pd_mount_lookup(mountinfo, "/mnt/nfs", &e), ==, 1);
    g_assert_cmpstr(e.source, ==, "127.0.0.1:/srv/export");
    g_assert_cmpstr(e.fstype, ==, "nfs");
    pd_mount_entry_clear(&e);

    /* the topmost of two mounts at one point */
    g_assert_cmpint(pd_mount_lookup(mountinfo, "/mnt/p", &e), ==, 1);
    g_assert_cmpstr(e.source, ==, "/dev/loop2");
    pd_mount_entry_clear(&e);

    g_assert_cmpint(pd_mount_lookup(mountinfo, "/mnt", &e), ==, 0);
    g_assert_cmpint(pd_mount_lookup(mountinfo, "/mnt/fs", &e), ==, 0);

    g_autofree char *where = pd_mount_lookup_device(mountinfo, makedev(7, 1));
    g_assert_cmpstr(where, ==, "/mnt/p");
    g_assert_null(pd_mount_lookup_device(mountinfo, makedev(8, 0)));
}

/* ---- fs and showmount ---------------------------------------------------------------------- */

static void test_fs_argv(void)
{
    assert_argv(pd_fs_blkid_argv("/dev/loop0"), "blkid -p -o export /dev/loop0");
    assert_argv(pd_fs_wipefs_argv("/dev/loop0"), "wipefs -a -q /dev/loop0");
    assert_argv(pd_fs_mkfs_argv("ext4", "/dev/loop0", false), "mkfs.ext4 -q /dev/loop0");
    assert_argv(pd_fs_mkfs_argv("ext4", "/dev/loop0", true), "mkfs.ext4 -q -F /dev/loop0");
    assert_argv(pd_fs_mkfs_argv("xfs", "/dev/loop0", true), "mkfs.xfs -q -f /dev/loop0");
    assert_argv(pd_fs_mkfs_argv("vfat", "/dev/loop0", true), "mkfs.vfat /dev/loop0");
}

static void test_fs_parse_blkid(void)
{
    g_autofree char *ext4 = pd_fs_parse_blkid("DEVNAME=/dev/loop0\nUUID=0b6e2d54\n"
                                              "BLOCK_SIZE=4096\nTYPE=ext4\nUSAGE=filesystem\n");
    g_assert_cmpstr(ext4, ==, "ext4");
    g_autofree char *pt = pd_fs_parse_blkid("DEVNAME=/dev/vda\nPTUUID=1234\nPTTYPE=dos\n");
    g_assert_cmpstr(pt, ==, "dos partition table");
    g_assert_null(pd_fs_parse_blkid("DEVNAME=/dev/vda\n"));
    g_assert_null(pd_fs_parse_blkid(""));
}

static void test_showmount(void)
{
    assert_argv(pd_netfs_showmount_argv("127.0.0.1"), "showmount --no-headers -e 127.0.0.1");
    g_autoptr(GPtrArray) paths =
        pd_netfs_parse_showmount("/srv/export 127.0.0.1\n/srv/other   (everyone)\n"
                                 "clnt_create: RPC: Program not registered\n\n");
    g_assert_cmpuint(paths->len, ==, 2);
    g_assert_cmpstr(paths->pdata[0], ==, "/srv/export");
    g_assert_cmpstr(paths->pdata[1], ==, "/srv/other");
}

/* ---- iscsi --------------------------------------------------------------------------------- */

static void test_iscsi_argv(void)
{
    const char *iqn = "iqn.2024-01.lab.vm:target1";
    g_autofree char *portal = pd_iscsi_portal("127.0.0.1", 0);
    g_assert_cmpstr(portal, ==, "127.0.0.1:3260");
    g_autofree char *portal6 = pd_iscsi_portal("::1", 3261);
    g_assert_cmpstr(portal6, ==, "[::1]:3261");
    g_autofree char *iface = pd_iscsi_iface_name("iqn.2024-01.lab.vm:initiator");
    g_assert_true(g_str_has_prefix(iface, "poold-"));
    g_assert_cmpuint(strlen(iface), ==, 18);
    g_autofree char *iface2 = pd_iscsi_iface_name("iqn.2024-01.lab.vm:other");
    g_assert_cmpstr(iface, !=, iface2);

    assert_argv(pd_iscsi_discovery_argv(portal, NULL),
                "iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3260 -o nonpersistent");
    assert_argv(pd_iscsi_discovery_argv(portal, "poold-x"),
                "iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3260 -I poold-x -o "
                "nonpersistent");
    assert_argv(pd_iscsi_iface_new_argv("poold-x"), "iscsiadm -m iface -I poold-x -o new");
    assert_argv(pd_iscsi_iface_set_iqn_argv("poold-x", "iqn.i"),
                "iscsiadm -m iface -I poold-x -o update -n iface.initiatorname -v iqn.i");
    const char *const login[] = {"--login", NULL};
    assert_argv(pd_iscsi_node_argv(iqn, portal, NULL, login),
                "iscsiadm -m node -T iqn.2024-01.lab.vm:target1 -p 127.0.0.1:3260 --login");
    assert_argv(
        pd_iscsi_node_update_argv(iqn, portal, "poold-x", "node.session.auth.username", "u1"),
        "iscsiadm -m node -T iqn.2024-01.lab.vm:target1 -p 127.0.0.1:3260 -I poold-x -o "
        "update -n node.session.auth.username -v u1");
    assert_argv(pd_iscsi_logout_argv(3), "iscsiadm -m session -r 3 -u");
}

static void test_iscsi_parse(void)
{
    g_autoptr(GPtrArray) targets =
        pd_iscsi_parse_discovery("127.0.0.1:3260,1 iqn.2024-01.lab.vm:target1\n"
                                 "[::1]:3260,1 iqn.2024-01.lab.vm:target2\n"
                                 "127.0.0.2:3260,1 iqn.2024-01.lab.vm:target1\n"
                                 "iscsiadm: No portals found\n\n");
    g_assert_cmpuint(targets->len, ==, 2);
    g_assert_cmpstr(targets->pdata[0], ==, "iqn.2024-01.lab.vm:target1");
    g_assert_cmpstr(targets->pdata[1], ==, "iqn.2024-01.lab.vm:target2");

    g_autofree char *naa = pd_iscsi_key_from_wwid("naa.60000000000000000e00000000010001\n");
    g_assert_cmpstr(naa, ==, "360000000000000000e00000000010001");
    g_autofree char *t10 = pd_iscsi_key_from_wwid("t10.IET     VIRTUAL-DISK    beaf11");
    g_assert_cmpstr(t10, ==, "t10.IET     VIRTUAL-DISK    beaf11");
}

/* ---- the runner ---------------------------------------------------------------------------- */

static void test_cmd_run(void)
{
    g_autoptr(GError) error = NULL;
    PdCmdResult res = {0};
    const char *const ok[] = {"sh", "-c", "echo out; echo '  err  ' >&2; exit 3", NULL};
    g_assert_true(pd_cmd_run(ok, 5000, &res, &error));
    g_assert_no_error(error);
    g_assert_cmpint(res.exit_status, ==, 3);
    g_assert_false(res.timed_out);
    g_assert_cmpstr(res.out, ==, "out\n");
    g_assert_cmpstr(res.err, ==, "err");
    pd_cmd_result_clear(&res);

    /* the deadline kills the whole process group, grandchildren holding the pipes included */
    const char *const slow[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    int64_t t0 = g_get_monotonic_time();
    g_assert_true(pd_cmd_run(slow, 300, &res, &error));
    int64_t took_ms = (g_get_monotonic_time() - t0) / 1000;
    g_assert_true(res.timed_out);
    g_assert_cmpint(res.exit_status, ==, -1);
    g_assert_cmpint(took_ms, <, 3000);
    pd_cmd_result_clear(&res);

    const char *const missing[] = {"poold-no-such-tool", NULL};
    g_assert_false(pd_cmd_run(missing, 1000, &res, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "poold-no-such-tool is not installed"));

    g_autofree char *last = pd_cmd_last_line("first\nmount: /mnt: wrong fs type.\n\n");
    g_assert_cmpstr(last, ==, "mount: /mnt: wrong fs type.");
}

/* ---- backends -------------------------------------------------------------------------------- */

static void test_lookup(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_for_type(PD_POOL_FS, &error) == &pd_pool_backend_fs);
    g_assert_true(pd_pool_backend_for_type(PD_POOL_ISCSI, &error) == &pd_pool_backend_iscsi);
    g_autoptr(PdPoolDef) def = netfs_def();
    g_assert_true(pd_pool_backend_for_def(def, &error) == &pd_pool_backend_netfs_mount);
    g_assert_no_error(error);
}

static PdPool *fs_pool(const char *device, const char *target)
{
    PdPoolDef *def = pd_pool_def_new(PD_POOL_FS);
    def->name = g_strdup("f1");
    g_ptr_array_add(def->source.devices, g_strdup(device));
    def->source.format = g_strdup("ext4");
    def->target_path = g_strdup(target);
    return pd_pool_new(def);
}

/* Devices that are missing or no block device are refused, naming the pool and the device,
 * before any tool runs and before the target directory is made. */
static void test_fs_bad_device(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = g_dir_make_tmp("pool-kernel-XXXXXX", NULL);
    g_autofree char *target = g_build_filename(tmp, "mnt", NULL);
    g_autofree char *file = g_build_filename(tmp, "disk.img", NULL);
    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    const PdPoolBackend *be = &pd_pool_backend_fs;

    g_autoptr(PdPool) missing = fs_pool("/dev/poold-no-such-disk", target);
    g_assert_false(pd_pool_backend_build(be, missing, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "pool 'f1': source device '/dev/poold-no-such-disk'"));
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_start(be, missing, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_clear_error(&error);

    g_autoptr(PdPool) regular = fs_pool(file, target);
    g_assert_false(pd_pool_backend_build(be, regular, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "is not a block device"));
    g_clear_error(&error);
    g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS)); /* nothing made */

    /* a stopped pool whose target is no mount point stops without error */
    g_assert_true(mkdir(target, 0755) == 0);
    g_assert_true(pd_pool_backend_stop(be, regular, &error));
    g_assert_no_error(error);

    unlink(file);
    rmdir(target);
    rmdir(tmp);
}

static void test_iscsi_unsupported(void)
{
    g_autoptr(GError) error = NULL;
    PdPoolDef *def = pd_pool_def_new(PD_POOL_ISCSI);
    def->name = g_strdup("i1");
    g_autoptr(PdPool) pool = pd_pool_new(def);
    PdVolDef *vdef = pd_vol_def_new(PD_POOL_ISCSI);
    PdVol *vol = NULL;
    g_assert_false(
        pd_pool_backend_vol_create(&pd_pool_backend_iscsi, pool, vdef, 0, NULL, &vol, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==,
                    "pool 'i1': pool type 'iscsi' does not support volume creation");
    pd_vol_def_free(vdef);
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_build(&pd_pool_backend_iscsi, pool,
                                         PD_POOL_BUILD_OVERWRITE | PD_POOL_BUILD_NO_OVERWRITE,
                                         &error));
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_delete(&pd_pool_backend_iscsi, pool, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pools/kernel/mount-argv", test_mount_argv);
    g_test_add_func("/pools/kernel/nfs-options", test_nfs_options);
    g_test_add_func("/pools/kernel/mountinfo", test_mountinfo);
    g_test_add_func("/pools/kernel/fs-argv", test_fs_argv);
    g_test_add_func("/pools/kernel/fs-parse-blkid", test_fs_parse_blkid);
    g_test_add_func("/pools/kernel/showmount", test_showmount);
    g_test_add_func("/pools/kernel/iscsi-argv", test_iscsi_argv);
    g_test_add_func("/pools/kernel/iscsi-parse", test_iscsi_parse);
    g_test_add_func("/pools/kernel/cmd-run", test_cmd_run);
    g_test_add_func("/pools/kernel/lookup", test_lookup);
    g_test_add_func("/pools/kernel/fs-bad-device", test_fs_bad_device);
    g_test_add_func("/pools/kernel/iscsi-unsupported", test_iscsi_unsupported);
    return g_test_run();
}
