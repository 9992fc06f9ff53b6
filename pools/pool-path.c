/* The path rule of the pools made of local files (pool-path.h): resolution beneath the pool
 * directory, the file-type check before any I/O open, and creation and renames under the
 * directory's descriptor. */
#include "pools/pool-path.h"

#include "common/pd-error.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 0 until openat2 was found missing (ENOSYS) or a test turned it off. */
static gint no_openat2;

void pd_pool_path_set_openat2(bool use)
{
    g_atomic_int_set(&no_openat2, !use);
}

void pd_pool_path_close_fd(int *fd)
{
    if (*fd >= 0)
        (void)close(*fd);
}

/* The refusal of a target that is a symbolic link or another directory than the bound one. */
static void refuse_swapped(GError **error, const PdPool *pool, const char *what)
{
    pd_pool_util_error(error, pool, NULL, PD_ERROR_PERMISSION_DENIED,
                       "target directory '%s' %s: poold uses a pool's directory only as it was "
                       "when the pool started and never follows a symbolic link there (whoever "
                       "can write its parent could swap it); restore the directory, or check it "
                       "and restart the pool",
                       pool->def->target_path, what);
}

bool pd_pool_path_bind_dir(PdPool *pool, GError **error)
{
    const char *path = pool->def->target_path;
    int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        pd_pool_path_close_fd(&fd);
        if ((e == ENOTDIR || e == ELOOP) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                               "target '%s' is a symbolic link: poold binds a pool to its "
                               "directory and follows no link as its last component (define the "
                               "pool with the directory's real path)",
                               path);
        else
            pd_pool_util_error_errno(error, pool, NULL, e, "cannot open target directory '%s'",
                                     path);
        return false;
    }
    (void)close(fd);
    pool->dir_dev = (uint64_t)st.st_dev;
    pool->dir_ino = (uint64_t)st.st_ino;
    pool->dir_bound = true;
    return true;
}

int pd_pool_path_open_dir(const PdPool *pool, GError **error)
{
    const char *path = pool->def->target_path;
    int nofollow = pool->dir_bound ? O_NOFOLLOW : 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC);
    if (fd < 0) {
        struct stat lst;
        if (pool->dir_bound && (errno == ENOTDIR || errno == ELOOP) && lstat(path, &lst) == 0 &&
            S_ISLNK(lst.st_mode))
            refuse_swapped(error, pool, "has become a symbolic link");
        else
            pd_pool_util_error_errno(error, pool, NULL, errno, "cannot open target directory '%s'",
                                     path);
        return -1;
    }
    struct stat st;
    if (pool->dir_bound && (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != pool->dir_dev ||
                            (uint64_t)st.st_ino != pool->dir_ino)) {
        (void)close(fd);
        refuse_swapped(error, pool, "is not the directory the pool was started on");
        return -1;
    }
    return fd;
}

/* One plain name in a directory: no '/', not "." or "..", not empty. */
static bool plain_name(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* An O_PATH descriptor of what @name resolves to beneath @dfd, or -errno: EXDEV for a link out
 * of the directory, ELOOP for a loop or a magic link, and (without openat2) a descriptor of
 * the link itself, which the type check then refuses. O_PATH opens nothing: no FIFO blocks
 * and no device driver runs. */
static int resolve(int dfd, const char *name)
{
    if (!plain_name(name))
        return -EINVAL;
    if (!g_atomic_int_get(&no_openat2)) {
        struct open_how how = {
            .flags = O_PATH | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dfd, name, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS)
            return -errno;
        g_atomic_int_set(&no_openat2, 1);
    }
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

static bool is_volume_type(mode_t mode)
{
    return S_ISREG(mode) || S_ISBLK(mode);
}

/* The file type of @mode as errors name it. */
static const char *type_text(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISLNK(mode))
        return "a symbolic link (not followed: this kernel has no openat2)";
    return "a special file";
}

bool pd_pool_path_stat_volume(int dfd, const char *name, struct stat *ret_st)
{
    struct stat st;
    if (!plain_name(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    if (S_ISLNK(st.st_mode)) {
        int fd = resolve(dfd, name);
        if (fd < 0)
            return false;
        int r = fstat(fd, &st);
        (void)close(fd);
        if (r < 0)
            return false;
    }
    if (!is_volume_type(st.st_mode))
        return false;
    *ret_st = st;
    return true;
}

/* The error for a name that did not resolve (-@neg_errno) or resolved to @st of a refused
 * type (@neg_errno 0). */
static void refuse(GError **error, const PdPool *pool, const char *name, int neg_errno,
                   const struct stat *st)
{
    g_autofree char *path = g_build_filename(pool->def->target_path, name, NULL);
    int e = -neg_errno;
    if (e == ENOENT)
        pd_pool_util_error(error, pool, name, PD_ERROR_NO_SUCH_VOLUME,
                           "'%s' does not exist anymore (refresh the pool)", path);
    else if (e == EXDEV)
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "'%s' is a symbolic link leading out of the pool directory: poold "
                           "uses only files inside the pool (move the file into the pool, or "
                           "define a pool for its directory)",
                           path);
    else if (e == ELOOP)
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "'%s' is a symbolic link poold does not follow (a loop or a /proc "
                           "link)",
                           path);
    else if (e == EINVAL)
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "not a file name in the pool directory");
    else if (e)
        pd_pool_util_error_errno(error, pool, name, e, "cannot open '%s'", path);
    else
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "'%s' is %s, not a regular file or block device: poold does not use "
                           "it as a volume (remove it from the pool directory)",
                           path, type_text(st->st_mode));
}

/* Opens the inode behind O_PATH descriptor @pfd for I/O, through /proc/self/fd (the same inode,
 * whatever the name points at by now). -errno when that fails. */
static int reopen(int pfd, int oflags)
{
    char proc[64];
    (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
    int fd = open(proc, oflags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* The O_PATH descriptor of volume @name, checked: a regular file or block device (*ret_st). */
static int resolve_volume(const PdPool *pool, int dfd, const char *name, struct stat *ret_st,
                          GError **error)
{
    int pfd = resolve(dfd, name);
    if (pfd < 0) {
        refuse(error, pool, name, pfd, NULL);
        return -1;
    }
    int r = fstat(pfd, ret_st) < 0 ? -errno : 0;
    if (r < 0 || !is_volume_type(ret_st->st_mode)) {
        (void)close(pfd);
        refuse(error, pool, name, r, ret_st);
        return -1;
    }
    return pfd;
}

bool pd_pool_path_stat(const PdPool *pool, int dfd, const char *name, struct stat *ret_st,
                       GError **error)
{
    struct stat st;
    int pfd = resolve_volume(pool, dfd, name, &st, error);
    if (pfd < 0)
        return false;
    (void)close(pfd);
    *ret_st = st;
    return true;
}

int pd_pool_path_open(const PdPool *pool, int dfd, const char *name, int oflags,
                      struct stat *ret_st, GError **error)
{
    struct stat pst, st;
    int pfd = resolve_volume(pool, dfd, name, &pst, error);
    if (pfd < 0)
        return -1;
    int fd = reopen(pfd, oflags & O_ACCMODE);
    (void)close(pfd);
    if (fd < 0) {
        refuse(error, pool, name, fd, NULL);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) < 0 || st.st_dev != pst.st_dev || st.st_ino != pst.st_ino ||
        !is_volume_type(st.st_mode) || fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        (void)close(fd);
        pd_pool_util_error(error, pool, name, PD_ERROR_IO,
                           "the file changed while poold opened it (try again)");
        return -1;
    }
    if (ret_st)
        *ret_st = st;
    return fd;
}

PdIO *pd_pool_path_open_io(const PdPool *pool, int dfd, const char *name, PdIOFlags flags,
                           GError **error)
{
    int fd =
        pd_pool_path_open(pool, dfd, name, (flags & PD_IO_RDWR) ? O_RDWR : O_RDONLY, NULL, error);
    if (fd < 0)
        return NULL;
    g_autofree char *path = g_build_filename(pool->def->target_path, name, NULL);
    PdIO *io = pd_io_file_open_fd(fd, path, flags, error);
    if (!io)
        pd_pool_util_prefix_error(error, pool, name);
    return io;
}

int pd_pool_path_create(const PdPool *pool, int dfd, const char *name, const char *what,
                        mode_t mode, GError **error)
{
    int fd =
        plain_name(name)
            ? openat(dfd, name,
                     O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                     mode)
            : (errno = EINVAL, -1);
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        return fd;
    }
    g_autofree char *path = g_build_filename(pool->def->target_path, name, NULL);
    if (errno == EEXIST)
        pd_pool_util_error(error, pool, what, PD_ERROR_EXISTS, "'%s' already exists", path);
    else
        pd_pool_util_error_errno(error, pool, what, errno, "could not create '%s'", path);
    return -1;
}
