/* The fs backend (libvirt's fs pool): a local block device holding a filesystem, made by build
 * (mkfs, with virsh's --overwrite / --no-overwrite), mounted at the target path by start and
 * unmounted by stop. Between start and stop the pool is a directory and every volume
 * operation is the dir pool's own code (pool-dir.h).
 *
 * pool-build without flags makes the target directory and a filesystem of the pool's source
 * format on a blank device, keeps a filesystem of that format already there, and refuses a
 * device holding anything else (a stricter libvirt: libvirt's plain build never runs mkfs).
 * --no-overwrite refuses any signature on the device; --overwrite wipes it (wipefs -a) and
 * makes the filesystem anyway. */
#include "pools/pool-fs.h"

#include "common/pd-error.h"
#include "pools/cmd-util.h"
#include "pools/mount-util.h"
#include "pools/pool-dir.h"
#include "pools/pool-path.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS (30 * 1000)
#define MKFS_TIMEOUT_MS  (10 * 60 * 1000) /* mkfs of a large device writes its tables */

/* ---- argv and output --------------------------------------------------------------------- */

static char **argv_of(const char *const *words)
{
    return g_strdupv((char **)words);
}

char **pd_fs_blkid_argv(const char *device)
{
    return argv_of((const char *const[]){"blkid", "-p", "-o", "export", device, NULL});
}

char **pd_fs_wipefs_argv(const char *device)
{
    return argv_of((const char *const[]){"wipefs", "-a", "-q", device, NULL});
}

char *pd_fs_parse_blkid(const char *output)
{
    g_auto(GStrv) lines = g_strsplit(output ? output : "", "\n", -1);
    char *pt = NULL;
    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, "TYPE=") && (*l)[5]) {
            g_free(pt);
            return g_strdup(*l + 5);
        }
        if (g_str_has_prefix(*l, "PTTYPE=") && (*l)[7] && !pt)
            pt = g_strdup_printf("%s partition table", *l + 7);
    }
    return pt;
}

char **pd_fs_mkfs_argv(const char *format, const char *device, bool force)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, g_strdup_printf("mkfs.%s", format));
    bool ext = g_str_has_prefix(format, "ext");
    if (ext || strcmp(format, "xfs") == 0)
        g_ptr_array_add(argv, g_strdup("-q"));
    if (force && ext)
        g_ptr_array_add(argv, g_strdup("-F"));
    else if (force && (strcmp(format, "xfs") == 0 || strcmp(format, "btrfs") == 0))
        g_ptr_array_add(argv, g_strdup("-f"));
    g_ptr_array_add(argv, g_strdup(device));
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}

/* ---- the device -------------------------------------------------------------------------- */

static const char *source_device(const PdPool *pool)
{
    const GPtrArray *devices = pool->def->source.devices;
    return devices->len ? devices->pdata[0] : NULL;
}

static const char *source_format(const PdPool *pool)
{
    return pool->def->source.format ? pool->def->source.format : "auto";
}

/* Checks that the pool's source device exists and is a block device; *ret_st: its stat. */
static bool check_device(const PdPool *pool, struct stat *ret_st, GError **error)
{
    const char *dev = source_device(pool);
    if (!dev) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "no source device (<source><device path='...'/>)");
        return false;
    }
    if (stat(dev, ret_st) < 0) {
        pd_pool_util_error_errno(error, pool, NULL, errno, "source device '%s'", dev);
        return false;
    }
    if (!S_ISBLK(ret_st->st_mode)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "source device '%s' is not a block device", dev);
        return false;
    }
    return true;
}

/* Runs a tool on the device; false with an error naming the pool, @what and the tool's
 * complaint when it fails. */
static bool run_tool(const PdPool *pool, char **argv, unsigned timeout_ms, const char *what,
                     GError **error)
{
    PdCmdCheck check = {.what = what, .timeout_ms = timeout_ms};
    if (pd_cmd_run_checked((const char *const *)argv, &check, NULL, error))
        return true;
    pd_pool_util_prefix_error(error, pool, NULL);
    return false;
}

/* The signature on @dev: *ret_signature = "ext4", "dos partition table", "several
 * signatures", or NULL for a blank device. */
static bool probe_device(const PdPool *pool, const char *dev, char **ret_signature, GError **error)
{
    g_auto(GStrv) argv = pd_fs_blkid_argv(dev);
    PdCmdResult res = {0};
    g_autofree char *what = g_strdup_printf("cannot probe source device '%s'", dev);
    if (!pd_cmd_run((const char *const *)argv, PROBE_TIMEOUT_MS, &res, error)) {
        g_prefix_error(error, "%s: ", what);
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    bool ok = true;
    if (res.exit_status == 0) { /* something found */
        *ret_signature = pd_fs_parse_blkid(res.out);
        if (!*ret_signature)
            *ret_signature = g_strdup("unknown signature");
    } else if (res.exit_status == 2) { /* nothing found */
        *ret_signature = NULL;
    } else if (res.exit_status == 8) { /* ambivalent: several signatures */
        *ret_signature = g_strdup("several signatures");
    } else {
        g_autofree char *why = pd_cmd_last_line(res.err);
        pd_pool_util_error(error, pool, NULL, PD_ERROR_IO, "%s: %s", what,
                           *why ? why : "blkid failed");
        ok = false;
    }
    pd_cmd_result_clear(&res);
    return ok;
}

/* False with PD_ERROR_BUSY when device @st is mounted somewhere. */
static bool check_not_mounted(const PdPool *pool, const struct stat *st, GError **error)
{
    g_autofree char *table = NULL;
    if (!g_file_get_contents("/proc/self/mountinfo", &table, NULL, NULL))
        return true; /* no mount table: nothing to protect from */
    g_autofree char *where = pd_mount_lookup_device(table, st->st_rdev);
    if (where) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_BUSY,
                           "source device '%s' is mounted at '%s' (unmount it first)",
                           source_device(pool), where);
        return false;
    }
    return true;
}

/* ---- build -------------------------------------------------------------------------------- */

/* Decides whether build runs mkfs over what the device holds (@signature, NULL: blank). */
static bool plan_mkfs(const PdPool *pool, const char *signature, unsigned flags, bool *ret_mkfs,
                      GError **error)
{
    const char *dev = source_device(pool);
    const char *format = source_format(pool);
    if (signature && (flags & PD_POOL_BUILD_NO_OVERWRITE)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                           "source device '%s' already holds a %s (--no-overwrite)", dev,
                           signature);
        return false;
    }
    bool keep = signature && !(flags & PD_POOL_BUILD_OVERWRITE) &&
                (strcmp(format, "auto") == 0 || strcmp(format, signature) == 0);
    if (signature && !keep && !(flags & PD_POOL_BUILD_OVERWRITE)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                           "source device '%s' holds a %s, not a %s filesystem; pool-build "
                           "--overwrite destroys it and makes a new one",
                           dev, signature, format);
        return false;
    }
    if (!keep && strcmp(format, "auto") == 0) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "cannot make a filesystem of source format 'auto' on '%s': give the "
                           "pool a source format (<format type='ext4'/>, --source-format xfs)",
                           dev);
        return false;
    }
    *ret_mkfs = !keep;
    return true;
}

/* wipefs (when overwriting) and mkfs; after a failure on a device that was blank, the partial
 * filesystem's signatures are wiped again. */
static bool make_filesystem(const PdPool *pool, bool had_signature, GError **error)
{
    const char *dev = source_device(pool);
    const char *format = source_format(pool);
    g_autofree char *mkfs = g_strdup_printf("mkfs.%s", format);
    g_autofree char *mkfs_path = pd_cmd_find_program(mkfs);
    if (!mkfs_path) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                           "cannot make a '%s' filesystem: %s is not installed", format, mkfs);
        return false;
    }
    g_autofree char *what = g_strdup_printf("cannot make a %s filesystem on '%s'", format, dev);
    if (had_signature) {
        g_auto(GStrv) wipe = pd_fs_wipefs_argv(dev);
        if (!run_tool(pool, wipe, PROBE_TIMEOUT_MS, what, error))
            return false;
    }
    g_auto(GStrv) argv = pd_fs_mkfs_argv(format, dev, had_signature);
    if (run_tool(pool, argv, MKFS_TIMEOUT_MS, what, error))
        return true;
    if (!had_signature) {
        g_auto(GStrv) wipe = pd_fs_wipefs_argv(dev);
        (void)run_tool(pool, wipe, PROBE_TIMEOUT_MS, what, NULL);
    }
    return false;
}

static bool fs_build(PdPool *pool, unsigned flags, GError **error)
{
    struct stat st;
    if (!check_device(pool, &st, error) || !check_not_mounted(pool, &st, error))
        return false;
    g_autofree char *signature = NULL;
    bool mkfs = false;
    if (!probe_device(pool, source_device(pool), &signature, error) ||
        !plan_mkfs(pool, signature, flags, &mkfs, error))
        return false;
    const char *target = pool->def->target_path;
    bool had_target = g_file_test(target, G_FILE_TEST_EXISTS);
    /* the target directory is no filesystem: --no-overwrite is about the device */
    if (!pd_pool_dir_build(pool, 0, error))
        return false;
    if (mkfs && !make_filesystem(pool, signature != NULL, error)) {
        if (!had_target)
            (void)rmdir(target);
        return false;
    }
    return true;
}

/* ---- start, stop, refresh --------------------------------------------------------------------- */

/* Whether the pool's device is mounted at its target: 1 yes, 0 nothing mounted there, -1 error
 * (also when something else is mounted there). */
static int mounted_state(const PdPool *pool, const struct stat *dev_st, GError **error)
{
    PdMountEntry e = {0};
    int r = pd_mount_find(pool, pool->def->target_path, &e, error);
    if (r <= 0)
        return r;
    g_autofree char *real_dev = realpath(source_device(pool), NULL);
    bool ours = (e.major == major(dev_st->st_rdev) && e.minor == minor(dev_st->st_rdev)) ||
                (real_dev && strcmp(real_dev, e.source) == 0);
    if (!ours)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                           "target '%s' has %s (%s) mounted on it, not source device '%s'",
                           pool->def->target_path, e.source, e.fstype, source_device(pool));
    pd_mount_entry_clear(&e);
    return ours ? 1 : -1;
}

static bool fs_start(PdPool *pool, GError **error)
{
    struct stat st;
    if (!check_device(pool, &st, error) || !pd_pool_dir_start(pool, error))
        return false;
    int state = mounted_state(pool, &st, error);
    if (state != 0)
        return state > 0; /* mounted already: a restarted poold finds its mount */
    const char *dev = source_device(pool), *target = pool->def->target_path;
    g_autofree char *options = pd_mount_join_options(pool->def->mount_opts);
    g_auto(GStrv) argv = pd_mount_argv(source_format(pool), dev, target, options);
    g_autofree char *what = g_strdup_printf("cannot mount '%s' at '%s'", dev, target);
    if (!pd_mount_run(pool, argv, what, 0, error))
        return false;
    if (mounted_state(pool, &st, error) > 0)
        return pd_pool_path_bind_dir(pool, error); /* the mount's root */
    if (error && !*error)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_IO,
                           "%s: mount succeeded but nothing is mounted there", what);
    g_auto(GStrv) undo = pd_umount_argv(target);
    (void)pd_mount_run(pool, undo, "undo", 0, NULL);
    return false;
}

/* The dir pool's refresh, once the device is known to be mounted: an unmounted target would
 * list (and later fill) the directory underneath. */
static bool fs_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                       GError **error)
{
    struct stat st;
    if (!check_device(pool, &st, error))
        return false;
    g_autofree char *source = g_strdup_printf("source device '%s'", source_device(pool));
    return pd_mount_refresh(pool, mounted_state(pool, &st, error), source, previous, ret, error);
}

PD_POSIX_POOL_DEFINE

const PdPoolBackend pd_pool_backend_fs = {
    .type = PD_POOL_FS,
    .find_sources = NULL, /* libvirt has none for fs either */
    .build = fs_build,
    .start = fs_start,
    .stop = pd_mount_unmount_target,
    .delete = pd_pool_dir_delete,
    .refresh = fs_refresh,
    PD_POSIX_POOL_CALLBACKS,
    .vol_disk_source = NULL, /* a FILE source at the volume's path */
};
