/* PdIO over a local file (or block device) through a file descriptor. */
#include "formats/io/io.h"
#include "formats/io/file/lock.h"
#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PdIO base;
    int fd;
    bool is_block;
    char *dir; /* directory the name is relative to, for backing files */
} FileIO;

static ssize_t file_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    FileIO *f = (FileIO *)io;
    ssize_t n;
    do {
        n = pread(f->fd, buf, len, (off_t)offset);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t file_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    FileIO *f = (FileIO *)io;
    ssize_t n;
    do {
        n = pwrite(f->fd, buf, len, (off_t)offset);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static int file_flush(PdIO *io)
{
    FileIO *f = (FileIO *)io;
    return fdatasync(f->fd) < 0 ? -errno : 0;
}

static int file_truncate(PdIO *io, uint64_t size)
{
    FileIO *f = (FileIO *)io;
    if (f->is_block) {
        /* A device keeps its size: shrinking it is a no-op, growing it fails (as qemu's
         * host_device driver does). */
        uint64_t bytes;
        if (ioctl(f->fd, BLKGETSIZE64, &bytes) < 0)
            return -errno;
        return size <= bytes ? 0 : -EFBIG;
    }
    return ftruncate(f->fd, (off_t)size) < 0 ? -errno : 0;
}

static int64_t file_size(PdIO *io)
{
    FileIO *f = (FileIO *)io;
    if (f->is_block) {
        uint64_t bytes;
        return ioctl(f->fd, BLKGETSIZE64, &bytes) < 0 ? -errno : (int64_t)bytes;
    }
    struct stat st;
    return fstat(f->fd, &st) < 0 ? -errno : (int64_t)st.st_size;
}

static int64_t file_allocated(PdIO *io)
{
    FileIO *f = (FileIO *)io;
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return -errno;
    return f->is_block ? file_size(io) : (int64_t)st.st_blocks * 512;
}

static int file_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    FileIO *f = (FileIO *)io;
    /* On a block device too, a punched hole reads back as zeroes (the kernel zeroes the
     * range, unmapping it where the device can); BLKDISCARD would not promise that. */
    int r = fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len);
    return r < 0 ? (errno == EOPNOTSUPP ? -ENOTSUP : -errno) : 0;
}

/* A block device is trimmed with BLKDISCARD, which devices without write-zeroes (dm-thin on
 * this kernel) accept where a punched hole is refused; a file gets its hole punched. */
static int file_trim(PdIO *io, uint64_t offset, uint64_t len)
{
    FileIO *f = (FileIO *)io;
    if (!f->is_block)
        return file_discard(io, offset, len);
    uint64_t range[2] = {offset, len};
    int r = ioctl(f->fd, BLKDISCARD, range);
    return r < 0 ? (errno == EOPNOTSUPP ? -ENOTSUP : -errno) : 0;
}

static int file_allocate(PdIO *io, uint64_t offset, uint64_t len)
{
    FileIO *f = (FileIO *)io;
    int r = fallocate(f->fd, 0, (off_t)offset, (off_t)len);
    return r < 0 ? (errno == EOPNOTSUPP ? -ENOTSUP : -errno) : 0;
}

/* SEEK_DATA/SEEK_HOLE: 1 = data, 0 = hole, with the run length in *ret_len. */
static int file_data_status(PdIO *io, uint64_t offset, uint64_t len, uint64_t *ret_len)
{
    FileIO *f = (FileIO *)io;
    if (f->is_block)
        return -ENOTSUP;
    off_t data = lseek(f->fd, (off_t)offset, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) { /* no data after offset: all hole */
            *ret_len = len;
            return 0;
        }
        return errno == EINVAL ? -ENOTSUP : -errno;
    }
    if ((uint64_t)data > offset) {
        *ret_len = MIN(len, (uint64_t)data - offset);
        return 0;
    }
    off_t hole = lseek(f->fd, (off_t)offset, SEEK_HOLE);
    if (hole < 0)
        return -errno;
    *ret_len = MIN(len, (uint64_t)hole - offset);
    if (*ret_len == 0)
        *ret_len = len; /* racing truncate; call it data */
    return 1;
}

static int open_flags(PdIOFlags flags)
{
    int oflags = O_CLOEXEC | ((flags & PD_IO_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & PD_IO_CREATE)
        oflags |= O_CREAT;
    if (flags & PD_IO_EXCL)
        oflags |= O_EXCL;
    if (flags & PD_IO_TRUNC)
        oflags |= O_TRUNC;
    if (flags & PD_IO_DIRECT)
        oflags |= O_DIRECT;
    return oflags;
}

/* @name beneath f->dir, by the kernel's own resolution (openat2 RESOLVE_BENEATH): "..", an
 * absolute symbolic link or /proc magic links cannot lead out. */
static PdIO *open_beneath(FileIO *f, const char *name, PdIOFlags flags, GError **error)
{
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    if (g_path_is_absolute(name)) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "'%s' is an absolute name; only names relative to '%s' are allowed", name,
                    f->dir);
        return NULL;
    }
    int dfd = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        pd_error_set_errno(error, errno, "Could not open directory '%s'", f->dir);
        return NULL;
    }
    struct open_how how = {
        .flags = (uint64_t)open_flags(flags & ~(PdIOFlags)(PD_IO_CREATE | PD_IO_TRUNC)) |
                 O_NONBLOCK, /* a FIFO must not stall the open */
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof how);
    int e = errno;
    (void)close(dfd);
    if (fd < 0 && e == EXDEV) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "'%s' leads out of '%s'; only names beneath it are allowed", name, f->dir);
        return NULL;
    }
    if (fd < 0) {
        pd_error_set_errno(error, e, "Could not open '%s'", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        (void)close(fd);
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "'%s' is not a regular file or block device", path);
        return NULL;
    }
    return pd_io_file_open_fd(fd, path, flags, error);
}

static PdIO *file_open_relative(PdIO *io, const char *name, PdIOFlags flags, GError **error)
{
    FileIO *f = (FileIO *)io;
    if (flags & PD_IO_BENEATH)
        return open_beneath(f, name, flags, error);
    if (g_path_is_absolute(name))
        return pd_io_file_open(name, flags, 0644, error);
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    return pd_io_file_open(path, flags, 0644, error);
}

/* The same open file (not the same name: a rename in between changes nothing). */
static PdIO *file_reopen(PdIO *io, GError **error)
{
    FileIO *f = (FileIO *)io;
    g_autofree char *proc = g_strdup_printf("/proc/self/fd/%d", f->fd);
    PdIO *r = pd_io_file_open(proc, PD_IO_RDONLY, 0, error);
    if (!r)
        return NULL;
    FileIO *rf = (FileIO *)r;
    g_free(rf->base.name);
    rf->base.name = g_strdup(io->name);
    g_free(rf->dir);
    rf->dir = g_strdup(f->dir);
    return r;
}

static void file_close(PdIO *io)
{
    FileIO *f = (FileIO *)io;
    if (f->fd >= 0)
        (void)close(f->fd);
    g_free(f->dir);
    g_free(f->base.name);
    g_free(f);
}

static const PdIOOps file_ops = {
    .pread = file_pread,
    .pwrite = file_pwrite,
    .flush = file_flush,
    .truncate = file_truncate,
    .size = file_size,
    .allocated = file_allocated,
    .discard = file_discard,
    .trim = file_trim,
    .allocate = file_allocate,
    .data_status = file_data_status,
    .open_relative = file_open_relative,
    .reopen = file_reopen,
    .close = file_close,
};

const char *pd_io_file_type_name(mode_t mode)
{
    if (S_ISREG(mode))
        return "regular file";
    if (S_ISBLK(mode))
        return "block device";
    if (S_ISDIR(mode))
        return "directory";
    if (S_ISFIFO(mode))
        return "FIFO";
    if (S_ISSOCK(mode))
        return "socket";
    if (S_ISCHR(mode))
        return "character device";
    if (S_ISLNK(mode))
        return "symbolic link";
    return "special file";
}

/* A directory is never a store; with PD_IO_DATA_ONLY only regular files and block devices
 * are. */
static bool check_type(const struct stat *st, const char *name, PdIOFlags flags, GError **error)
{
    if (S_ISDIR(st->st_mode)) {
        pd_error_set_errno(error, EISDIR, "Could not open '%s'", name);
        return false;
    }
    if ((flags & PD_IO_DATA_ONLY) && !S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Could not open '%s': it is a %s; only a regular file or a block device can "
                    "hold an image",
                    name, pd_io_file_type_name(st->st_mode));
        return false;
    }
    return true;
}

/* PD_IO_DATA_ONLY: the type is checked on an O_PATH handle, which opens nothing (a FIFO's
 * open would wait for a writer, a device's open may act), then that same file is opened
 * through it, non-blocking. */
static int open_data_only(const char *path, int oflags, GError **error)
{
    int pfd = open(path, O_PATH | O_CLOEXEC);
    struct stat st;
    if (pfd < 0 || fstat(pfd, &st) < 0) {
        pd_error_set_errno(error, errno, "Could not open '%s'", path);
        if (pfd >= 0)
            (void)close(pfd);
        return -1;
    }
    if (!check_type(&st, path, PD_IO_DATA_ONLY, error)) {
        (void)close(pfd);
        return -1;
    }
    char proc[64];
    (void)snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    int fd = open(proc, oflags | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) /* no /proc: by name; the fstat after it checks again */
        fd = open(path, oflags | O_NONBLOCK);
    int e = errno;
    (void)close(pfd);
    if (fd < 0)
        pd_error_set_errno(error, e, "Could not open '%s'", path);
    return fd;
}

PdIO *pd_io_file_open_fd(int fd, const char *name, PdIOFlags flags, GError **error)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        pd_error_set_errno(error, errno, "Could not open '%s'", name);
        (void)close(fd);
        return NULL;
    }
    if (!check_type(&st, name, flags, error)) {
        (void)close(fd);
        return NULL;
    }
    FileIO *f = g_new0(FileIO, 1);
    f->base.ops = &file_ops;
    f->base.name = g_strdup(name);
    f->base.read_only = !(flags & PD_IO_RDWR);
    f->base.has_file_id = true;
    f->base.file_dev = (uint64_t)st.st_dev;
    f->base.file_ino = (uint64_t)st.st_ino;
    f->fd = fd;
    f->is_block = S_ISBLK(st.st_mode);
    f->base.fixed_size = f->is_block;
    f->dir = g_path_get_dirname(name);
    return &f->base;
}

bool pd_io_file_identity(PdIO *io, dev_t *ret_dev, ino_t *ret_ino)
{
    struct stat st;
    if (!io || io->ops != &file_ops || fstat(((FileIO *)io)->fd, &st) < 0)
        return false;
    *ret_dev = st.st_dev;
    *ret_ino = st.st_ino;
    return true;
}

/* QEMU's locks for an image opened with @flags (PD_IO_LOCK). */
static bool lock_image(int fd, const char *path, PdIOFlags flags, GError **error)
{
    unsigned perm = PD_PERM_CONSISTENT_READ,
             shared = PD_PERM_ALL & ~(PD_PERM_WRITE | PD_PERM_RESIZE);
    if (flags & PD_IO_RDWR)
        perm |= PD_PERM_WRITE | PD_PERM_RESIZE;
    else if (flags & PD_IO_SHARE)
        shared = PD_PERM_ALL;
    return pd_file_lock(fd, perm, shared, path, error);
}

PdIO *pd_io_file_open(const char *path, PdIOFlags flags, mode_t mode, GError **error)
{
    int oflags = open_flags(flags);
    int fd;
    if ((flags & PD_IO_DATA_ONLY) && !(flags & PD_IO_CREATE)) {
        fd = open_data_only(path, oflags, error);
        if (fd < 0)
            return NULL;
    } else {
        fd = open(path, oflags | ((flags & PD_IO_DATA_ONLY) ? O_NONBLOCK : 0), mode);
        if (fd < 0) {
            pd_error_set_errno(error, errno, "Could not open '%s'", path);
            return NULL;
        }
    }
    if ((flags & PD_IO_LOCK) && !lock_image(fd, path, flags, error)) {
        (void)close(fd);
        return NULL;
    }
    return pd_io_file_open_fd(fd, path, flags, error);
}

int pd_io_file_fd(PdIO *io)
{
    return io && io->ops == &file_ops ? ((FileIO *)io)->fd : -1;
}
