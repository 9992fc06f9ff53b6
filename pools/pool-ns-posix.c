/* The POSIX namespace of a pool of files (file-ns.h): a local directory, the target path of a
 * dir pool, and of an fs or netfs pool in mount mode once mounted. A session is a descriptor
 * of the directory; every name goes through the path rule (pool-path.h). */
#include "pools/pool-dir.h"

#include "common/pd-error.h"
#include "pools/pool-path.h"
#include "pools/pool-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DEFAULT_VOL_MODE 0600 /* libvirt's VIR_STORAGE_DEFAULT_VOL_PERM_MODE */

struct PdFileNs {
    const PdPool *pool;
    int dfd;
};

static char *vol_path(const PdPool *pool, const char *name)
{
    return g_build_filename(pool->def->target_path, name, NULL);
}

static PdFileNs *posix_open(const PdPool *pool, const char *vol_name, GError **error)
{
    int dfd = pd_pool_path_open_dir(pool, error);
    if (dfd < 0) {
        pd_pool_util_prefix_error(error, pool, vol_name);
        return NULL;
    }
    PdFileNs *ns = g_new0(PdFileNs, 1);
    ns->pool = pool;
    ns->dfd = dfd;
    return ns;
}

static void posix_close(PdFileNs *ns)
{
    pd_pool_path_close_fd(&ns->dfd);
    g_free(ns);
}

static bool posix_statvfs(PdFileNs *ns, uint64_t *ret_capacity, uint64_t *ret_allocation,
                          uint64_t *ret_available, GError **error)
{
    if (pd_pool_util_statvfs(ns->pool->def->target_path, ret_capacity, ret_allocation,
                             ret_available, error))
        return true;
    pd_pool_util_prefix_error(error, ns->pool, NULL);
    return false;
}

/* Every entry with what the path rule says it is: for a volume the file it leads to, else
 * what it is itself (a link out of the pool stays a link). Entries gone meanwhile are left
 * out. */
static bool posix_list(PdFileNs *ns, PdFileListFunc fn, void *data, GError **error)
{
    const char *path = ns->pool->def->target_path;
    int fd = fcntl(ns->dfd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        pd_pool_util_error_errno(error, ns->pool, NULL, errno, "cannot read target directory '%s'",
                                 path);
        pd_pool_path_close_fd(&fd);
        return false;
    }
    bool ok = true;
    struct dirent *ent;
    errno = 0;
    while (ok && (ent = readdir(dir))) {
        const char *name = ent->d_name;
        struct stat st;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
            (pd_pool_path_stat_volume(ns->dfd, name, &st) ||
             fstatat(ns->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0))
            ok = fn(name, &st, data, error);
        errno = 0;
    }
    int e = errno;
    (void)closedir(dir);
    if (ok && e) {
        pd_pool_util_error_errno(error, ns->pool, NULL, e, "cannot read target directory '%s'",
                                 path);
        return false;
    }
    return ok;
}

static bool posix_stat(PdFileNs *ns, const char *name, struct stat *ret_st, GError **error)
{
    return pd_pool_path_stat(ns->pool, ns->dfd, name, ret_st, error);
}

static int posix_exists(PdFileNs *ns, const char *name, GError **error)
{
    struct stat st;
    if (fstatat(ns->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    g_autofree char *path = vol_path(ns->pool, name);
    pd_pool_util_error_errno(error, ns->pool, name, errno, "cannot stat '%s'", path);
    return -1;
}

static PdIO *posix_open_file(PdFileNs *ns, const char *name, PdIOFlags flags, GError **error)
{
    return pd_pool_path_open_io(ns->pool, ns->dfd, name, flags, error);
}

/* The partial file @name: created with O_EXCL | O_NOFOLLOW under the directory, its mode,
 * owner and nocow attribute set through the descriptor (never by name), written through it. */
static PdIO *posix_create(PdFileNs *ns, const char *name, const PdVolDef *def, GError **error)
{
    int fd = pd_pool_path_create(ns->pool, ns->dfd, name, def->name, 0600, error);
    if (fd < 0)
        return NULL;
    if (def->nocow)
        pd_pool_util_set_nocow(fd);
    if (!pd_pool_util_apply_perms_fd(fd, name, &def->target_perms, DEFAULT_VOL_MODE, error)) {
        (void)unlinkat(ns->dfd, name, 0);
        (void)close(fd);
        return NULL;
    }
    g_autofree char *path = vol_path(ns->pool, def->name);
    PdIO *io = pd_io_file_open_fd(fd, path, PD_IO_RDWR, error);
    if (!io)
        (void)unlinkat(ns->dfd, name, 0);
    return io;
}

static bool posix_rename_noreplace(PdFileNs *ns, const char *from, const char *to, GError **error)
{
    return pd_io_rename_noreplace(ns->dfd, from, to, error);
}

/* The name goes, whatever it is: a symbolic link is removed, never what it points at. */
static bool posix_unlink(PdFileNs *ns, const char *name, GError **error)
{
    if (unlinkat(ns->dfd, name, 0) == 0)
        return true;
    g_autofree char *path = vol_path(ns->pool, name);
    if (errno == ENOENT)
        pd_pool_util_error(error, ns->pool, name, PD_ERROR_NO_SUCH_VOLUME,
                           "'%s' does not exist anymore (refresh the pool)", path);
    else
        pd_pool_util_error_errno(error, ns->pool, name, errno, "cannot delete '%s'", path);
    return false;
}

static void posix_discard(PdFileNs *ns, const char *name)
{
    (void)unlinkat(ns->dfd, name, 0);
}

static bool posix_sync(PdFileNs *ns, GError **error)
{
    if (fsync(ns->dfd) == 0)
        return true;
    pd_error_set_errno(error, errno, "Could not flush directory '%s'", ns->pool->def->target_path);
    return false;
}

/* Whether @path is the target directory of @pool followed by "/" and @name. */
static bool path_is(const char *path, const PdPool *pool, const char *name)
{
    const char *dir = pool->def->target_path;
    size_t len = dir ? strlen(dir) : 0;
    if (!path || !dir || strncmp(path, dir, len) != 0)
        return false;
    if (len && dir[len - 1] != '/') {
        if (path[len] != '/')
            return false;
        len++;
    }
    return strcmp(path + len, name) == 0;
}

/* FICLONE from @src_vol, a file of a pool of files (opened through the path rule of its own
 * pool), into the partial file @dst. */
static int posix_reflink(PdFileNs *ns, PdIO *dst, const PdPool *src_pool, const PdVol *src_vol,
                         GError **error)
{
    int dfd = pd_io_file_fd(dst);
    if (dfd < 0 || src_vol->type != PD_VOL_FILE || !path_is(src_vol->path, src_pool, src_vol->name))
        return 0;
    PD_AUTO_FD int sdir = pd_pool_path_open_dir(src_pool, error);
    PD_AUTO_FD int sfd =
        sdir >= 0 ? pd_pool_path_open(src_pool, sdir, src_vol->name, O_RDONLY, NULL, error) : -1;
    if (sfd < 0)
        return -1;
    if (ioctl(dfd, FICLONE, sfd) < 0) {
        int e = errno;
        if (e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS ||
            e == EPERM)
            return 0;
        pd_error_set_errno(error, e, "Could not clone '%s'", src_vol->path);
        return -1;
    }
    if (fsync(dfd) < 0) {
        pd_error_set_errno(error, errno, "Could not flush '%s'", dst->name);
        return -1;
    }
    return 1;
}

static void posix_identify(const PdPool *pool, const char *name, PdVol *vol)
{
    vol->path = vol_path(pool, name);
    vol->key = g_strdup(vol->path);
}

static bool posix_same_place(const PdPool *pool, const PdVol *vol, const char *name)
{
    return path_is(vol->path, pool, name);
}

/* Opens a backing file named by a new volume's definition (relative: to the pool directory)
 * to probe its format. */
static PdImage *posix_probe_backing(const PdPool *pool, const char *path, void *data,
                                    GError **error)
{
    (void)data;
    g_autofree char *full = g_path_is_absolute(path) ? g_strdup(path) : vol_path(pool, path);
    return pd_image_open(full, PD_FORMAT_UNKNOWN, PD_OPEN_NO_BACKING, error);
}

static char *posix_linked_backing(const PdPool *pool, const PdPool *src_pool, const PdVol *src_vol,
                                  GError **error)
{
    (void)src_pool;
    if (src_vol->path)
        return g_strdup(src_vol->path);
    pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                       "source volume '%s' has no path to use as a backing file", src_vol->name);
    return NULL;
}

const PdFileNsOps pd_file_ns_posix = {
    .open = posix_open,
    .close = posix_close,
    .statvfs = posix_statvfs,
    .list = posix_list,
    .stat = posix_stat,
    .exists = posix_exists,
    .open_file = posix_open_file,
    .create = posix_create,
    .rename_noreplace = posix_rename_noreplace,
    .unlink = posix_unlink,
    .discard = posix_discard,
    .sync = posix_sync,
    .reflink = posix_reflink,
    .network = false,
    .identify = posix_identify,
    .same_place = posix_same_place,
    .probe_backing = posix_probe_backing,
    .linked_backing = posix_linked_backing,
};

bool pd_pool_posix_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                           GError **error)
{
    return pd_file_pool_refresh(&pd_file_ns_posix, pool, previous, ret, error);
}

bool pd_pool_posix_sync(const PdPool *pool, GError **error)
{
    const char *target = pool->def->target_path;
    if (pd_pool_util_sync_dir(target, error))
        return true;
    /* The directory is gone: pool-delete removed it (rmdir: only once empty) after the
     * changes this sync was to make durable, before the group commit's barrier ran (a client
     * that deletes its volumes, then stops and deletes the pool). Nothing is left in it to
     * make durable: make its removal durable instead, or the answers of those deletes would
     * say they failed. */
    if (!g_file_test(target, G_FILE_TEST_EXISTS)) {
        g_autofree char *parent = g_path_get_dirname(target);
        g_clear_error(error);
        if (pd_pool_util_sync_dir(parent, error))
            return true;
    }
    g_prefix_error(error, "pool '%s': ", pool->def->name);
    return false;
}
