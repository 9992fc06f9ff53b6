/* Helpers shared by the backends: errors, jobs, partial files, permissions, statvfs, volume
 * state from stat and from an image, volume XML, and fd transfers (upload/download). */
#include "pools/pool-util.h"

#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TRANSFER_BUFFER (1024 * 1024)
#define SPARSE_BLOCK    4096 /* granularity of holes in sparse uploads */

/* ---- errors ------------------------------------------------------------------------------ */

static char *context(const PdPool *pool, const char *vol_name)
{
    if (vol_name)
        return g_strdup_printf("pool '%s': volume '%s': ", pool->def->name, vol_name);
    return g_strdup_printf("pool '%s': ", pool->def->name);
}

/* "CONTEXT" + the message of @fmt + @suffix (may be ""). */
static void set_error(GError **error, const PdPool *pool, const char *vol_name, int code,
                      const char *suffix, const char *fmt, va_list ap) G_GNUC_PRINTF(6, 0);
static void set_error(GError **error, const PdPool *pool, const char *vol_name, int code,
                      const char *suffix, const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    g_autofree char *ctx = context(pool, vol_name);
    g_set_error(error, PD_ERROR, code, "%s%s%s", ctx, msg, suffix);
}

void pd_pool_util_error(GError **error, const PdPool *pool, const char *vol_name, int code,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(error, pool, vol_name, code, "", fmt, ap);
    va_end(ap);
}

void pd_pool_util_error_errno(GError **error, const PdPool *pool, const char *vol_name, int errnum,
                              const char *fmt, ...)
{
    g_autofree char *suffix = g_strdup_printf(": %s", g_strerror(errnum));
    va_list ap;
    va_start(ap, fmt);
    set_error(error, pool, vol_name, pd_error_code_from_errno(errnum), suffix, fmt, ap);
    va_end(ap);
}

void pd_pool_util_prefix_error(GError **error, const PdPool *pool, const char *vol_name)
{
    if (!error || !*error)
        return;
    g_autofree char *ctx = context(pool, vol_name);
    if (!g_str_has_prefix((*error)->message, ctx))
        g_prefix_error(error, "%s", ctx);
}

/* ---- jobs -------------------------------------------------------------------------------- */

void pd_pool_util_progress(const PdBackendJob *job, uint64_t done, uint64_t total)
{
    if (job && job->progress)
        job->progress(done, total, job->progress_data);
}

bool pd_pool_util_check_cancel(const PdBackendJob *job, const PdPool *pool, const char *vol_name,
                               GError **error)
{
    if (job && job->cancellable && g_cancellable_is_cancelled(job->cancellable)) {
        pd_pool_util_error(error, pool, vol_name, PD_ERROR_CANCELLED, "cancelled");
        return false;
    }
    return true;
}

static void cancel_bridge_fire(GCancellable *cancellable, gpointer data)
{
    g_atomic_int_set((gint *)data, 1);
}

void pd_cancel_bridge_init(PdCancelBridge *bridge, const PdBackendJob *job)
{
    bridge->flag = 0;
    bridge->handler = 0;
    bridge->cancellable = job ? job->cancellable : NULL;
    if (bridge->cancellable)
        bridge->handler = g_cancellable_connect(bridge->cancellable, G_CALLBACK(cancel_bridge_fire),
                                                &bridge->flag, NULL);
}

void pd_cancel_bridge_clear(PdCancelBridge *bridge)
{
    if (bridge->cancellable && bridge->handler)
        g_cancellable_disconnect(bridge->cancellable, bridge->handler);
    bridge->handler = 0;
    bridge->cancellable = NULL;
}

/* ---- partial files ----------------------------------------------------------------------- */

bool pd_pool_util_is_partial_name(const char *name)
{
    return pd_vol_name_is_partial(name);
}

bool pd_pool_util_is_volume_file_name(const char *name)
{
    return !pd_vol_name_is_partial(name) && g_utf8_validate(name, -1, NULL);
}

bool pd_pool_util_check_vol_name(const PdPool *pool, const char *name, GError **error)
{
    if (pd_vol_name_check(name, error))
        return true;
    pd_pool_util_prefix_error(error, pool, NULL);
    return false;
}

void pd_pool_util_set_nocow(int fd)
{
    int attr = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &attr) < 0)
        return;
    attr |= FS_NOCOW_FL;
    (void)ioctl(fd, FS_IOC_SETFLAGS, &attr);
}

bool pd_pool_util_sync_dir(const char *dir, GError **error)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        pd_error_set_errno(error, errno, "Could not flush directory '%s'", dir);
        if (fd >= 0)
            (void)close(fd);
        return false;
    }
    (void)close(fd);
    return true;
}

/* ---- permissions and sizes --------------------------------------------------------------- */

/* apply_perms on descriptor @fd when it is >= 0, else on @path (which errors name either way). */
static bool apply_perms(int fd, const char *path, const PdPerms *perms, mode_t default_mode,
                        GError **error)
{
    mode_t mode = perms && perms->mode != PD_PERM_UNSET ? (mode_t)perms->mode : default_mode;
    if (mode != (mode_t)-1 && (fd >= 0 ? fchmod(fd, mode) : chmod(path, mode)) < 0) {
        pd_error_set_errno(error, errno, "Could not set mode %04o on '%s'", (unsigned)mode, path);
        return false;
    }
    if (!perms || (perms->owner == PD_PERM_UNSET && perms->group == PD_PERM_UNSET))
        return true;
    uid_t uid = perms->owner == PD_PERM_UNSET ? (uid_t)-1 : (uid_t)perms->owner;
    gid_t gid = perms->group == PD_PERM_UNSET ? (gid_t)-1 : (gid_t)perms->group;
    if ((fd >= 0 ? fchown(fd, uid, gid) : chown(path, uid, gid)) == 0)
        return true;
    int e = errno;
    struct stat st;
    if (e == EPERM && (fd >= 0 ? fstat(fd, &st) : stat(path, &st)) == 0 &&
        (uid == (uid_t)-1 || st.st_uid == uid) && (gid == (gid_t)-1 || st.st_gid == gid))
        return true;
    pd_error_set_errno(error, e, "Could not set owner %ld:%ld on '%s'", (long)perms->owner,
                       (long)perms->group, path);
    return false;
}

bool pd_pool_util_apply_perms(const char *path, const PdPerms *perms, mode_t default_mode,
                              GError **error)
{
    return apply_perms(-1, path, perms, default_mode, error);
}

bool pd_pool_util_apply_perms_fd(int fd, const char *name, const PdPerms *perms,
                                 mode_t default_mode, GError **error)
{
    return apply_perms(fd, name, perms, default_mode, error);
}

bool pd_pool_util_statvfs(const char *path, uint64_t *ret_capacity, uint64_t *ret_allocation,
                          uint64_t *ret_available, GError **error)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0) {
        pd_error_set_errno(error, errno, "Could not read filesystem sizes of '%s'", path);
        return false;
    }
    *ret_capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
    *ret_allocation = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    *ret_available = (uint64_t)sv.f_bfree * sv.f_frsize; /* libvirt's: free, not avail */
    return true;
}

/* <timestamps> from stat, as libvirt fills them. */
static void set_timestamps(PdVolTimestamps *ts, const struct stat *st)
{
    ts->present = true;
    ts->atime = (PdTimestamp){st->st_atim.tv_sec, st->st_atim.tv_nsec};
    ts->mtime = (PdTimestamp){st->st_mtim.tv_sec, st->st_mtim.tv_nsec};
    ts->ctime = (PdTimestamp){st->st_ctim.tv_sec, st->st_ctim.tv_nsec};
    ts->btime = (PdTimestamp){0, 0}; /* libvirt writes <btime>0</btime> when unknown */
}

void pd_pool_util_vol_set_stat(PdVol *vol, const struct stat *st)
{
    vol->type = S_ISBLK(st->st_mode) ? PD_VOL_BLOCK : PD_VOL_FILE;
    vol->allocation = (uint64_t)st->st_blocks * 512;
    if (S_ISREG(st->st_mode)) {
        vol->physical = (uint64_t)st->st_size;
        vol->capacity = (uint64_t)st->st_size;
    }
    vol->mode = st->st_mode & 07777;
    vol->uid = st->st_uid;
    vol->gid = st->st_gid;
    set_timestamps(&vol->timestamps, st);
    vol->stat_size = (uint64_t)st->st_size;
    vol->stat_mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    vol->stat_inode = (uint64_t)st->st_ino;
}

bool pd_pool_util_vol_set_image(PdVol *vol, PdImage *img, GError **error)
{
    PdImageInfo info;
    if (!pd_image_get_info(img, &info, error))
        return false;
    pd_pool_util_vol_set_info(vol, &info);
    pd_image_info_clear(&info);
    return true;
}

void pd_pool_util_vol_set_info(PdVol *vol, const PdImageInfo *info)
{
    g_free(vol->format);
    vol->format = g_strdup(pd_format_name(info->format));
    vol->capacity = info->virtual_size;
    g_free(vol->backing_path);
    vol->backing_path = g_strdup(info->backing_file);
    g_free(vol->backing_format);
    vol->backing_format = info->backing_format != PD_FORMAT_UNKNOWN
                              ? g_strdup(pd_format_name(info->backing_format))
                              : NULL;
    g_clear_pointer(&vol->compat, g_free);
    vol->cluster_size = 0;
    vol->lazy_refcounts = false;
    if (info->format == PD_FORMAT_QCOW2) {
        vol->compat = g_strdup(info->compat == 2 ? "0.10" : "1.1");
        vol->cluster_size = info->cluster_size;
        vol->lazy_refcounts = info->lazy_refcounts;
    }
}

/* ---- volume XML ------------------------------------------------------------------------- */

/* <backingStore> of @vol: the path resolved against the volume's directory, the recorded
 * format, and (for a local file) its permissions and timestamps as libvirt shows them. */
static PdVolBacking *backing_def(const PdVol *vol)
{
    PdVolBacking *b = pd_vol_backing_new();
    if (g_path_is_absolute(vol->backing_path) || !vol->path || strstr(vol->backing_path, "://")) {
        b->path = g_strdup(vol->backing_path);
    } else {
        g_autofree char *dir = g_path_get_dirname(vol->path);
        b->path = g_build_filename(dir, vol->backing_path, NULL);
    }
    b->format = g_strdup(vol->backing_format ? vol->backing_format : "raw");
    b->format_given = vol->backing_format != NULL;
    struct stat st;
    if (g_path_is_absolute(b->path) && stat(b->path, &st) == 0) {
        b->perms.mode = st.st_mode & 07777;
        b->perms.owner = st.st_uid;
        b->perms.group = st.st_gid;
        set_timestamps(&b->timestamps, &st);
    }
    return b;
}

PdVolDef *pd_vol_to_def(const PdPool *pool, const PdVol *vol)
{
    PdVolDef *def = pd_vol_def_new(pool->def->type);
    def->type = vol->type;
    def->name = g_strdup(vol->name);
    def->key = g_strdup(vol->key);
    def->capacity = vol->capacity;
    def->has_capacity = true;
    def->allocation = vol->allocation;
    def->has_allocation = true;
    def->physical = vol->physical;
    def->target_path = g_strdup(vol->path);
    if (pd_pool_type_info(pool->def->type)->volume_formats)
        def->target_format = g_strdup(vol->format ? vol->format : "raw");
    if (vol->path && vol->type != PD_VOL_NETWORK) { /* a LUN has no owner or mode */
        def->target_perms.mode = vol->mode;
        def->target_perms.owner = vol->uid;
        def->target_perms.group = vol->gid;
        def->target_timestamps = vol->timestamps;
    }
    /* compat, clusterSize and features are not written: libvirtd's vol-dumpxml of an
     * existing qcow2 volume has none of them (they are creation options) */
    if (vol->backing_path)
        def->backing = backing_def(vol);
    return def;
}

/* ---- transfers --------------------------------------------------------------------------- */

bool pd_pool_util_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len == 0)
        return true;
    /* the first byte is zero and every byte equals the next one */
    return p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

/* Waits until @fd is ready for @events (a non-blocking descriptor said EAGAIN), checking
 * the job for cancellation every second. */
static bool wait_fd(int fd, short events, const PdBackendJob *job, const PdPool *pool,
                    const PdVol *vol, GError **error)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, 1000);
        if (r > 0 || (r < 0 && errno == EINTR))
            return true;
        if (r < 0) {
            pd_pool_util_error_errno(error, pool, vol->name, errno, "waiting for the stream");
            return false;
        }
        if (!pd_pool_util_check_cancel(job, pool, vol->name, error))
            return false;
    }
}

/* Reads up to @len bytes from @fd (a pipe or file). Returns bytes read (0 at end of file) or
 * -1 with @error. */
static ssize_t read_stream(int fd, void *buf, size_t len, const PdBackendJob *job,
                           const PdPool *pool, const PdVol *vol, GError **error)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (got > 0)
                break;
            if (!wait_fd(fd, POLLIN, job, pool, vol, error))
                return -1;
            continue;
        }
        if (n < 0) {
            pd_pool_util_error_errno(error, pool, vol->name, errno, "reading the upload stream");
            return -1;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Writes all @len bytes to @fd. */
static bool write_stream(int fd, const void *buf, size_t len, const PdBackendJob *job,
                         const PdPool *pool, const PdVol *vol, GError **error)
{
    size_t put = 0;
    while (put < len) {
        ssize_t n = write(fd, (const char *)buf + put, len - put);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!wait_fd(fd, POLLOUT, job, pool, vol, error))
                return false;
            continue;
        }
        if (n < 0) {
            pd_pool_util_error_errno(error, pool, vol->name, errno, "writing the download stream");
            return false;
        }
        put += (size_t)n;
    }
    return true;
}

/* Opens a volume's file or device as a PdIO; with its size and whether that size is fixed
 * (a block device). NULL with @error on failure. */
static PdIO *open_volume(const PdPool *pool, const PdVol *vol, const char *path, PdIOFlags flags,
                         bool *ret_fixed, GError **error)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        pd_pool_util_error_errno(error, pool, vol->name, errno, "could not open '%s'", path);
        return NULL;
    }
    PdIO *io = pd_io_file_open(path, flags, 0, error);
    if (!io) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return NULL;
    }
    *ret_fixed = S_ISBLK(st.st_mode);
    return io;
}

/* The size of @io, or false with @error naming the pool and volume. */
static bool io_size(PdIO *io, const PdPool *pool, const PdVol *vol, uint64_t *ret_size,
                    GError **error)
{
    if (pd_io_get_size(io, ret_size, error))
        return true;
    pd_pool_util_prefix_error(error, pool, vol->name);
    return false;
}

/* Total bytes an upload from @fd will bring: @length, else what is left of a regular file,
 * else 0 (unknown). */
static uint64_t upload_total(int fd, uint64_t length)
{
    struct stat st;
    if (length)
        return length;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    return pos >= 0 && st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
}

/* Stores one run of an upload at @pos: written, or with @zero a hole (discarded inside the
 * store, nothing past its end; written where the store cannot make holes). */
static bool upload_run(PdIO *io, const char *buf, size_t n, uint64_t pos, bool zero,
                       uint64_t *store_size, GError **error)
{
    if (zero) {
        /* what lies past the end needs nothing: the store is extended at the end */
        if (pos >= *store_size)
            return true;
        uint64_t inside = MIN((uint64_t)n, *store_size - pos);
        int r = io->ops->discard(io, pos, inside);
        if (r == 0)
            return true;
        if (r != -EOPNOTSUPP && r != -ENOTSUP && r != -EINVAL) {
            pd_error_set_errno(error, -r, "Cannot make a hole in '%s'", io->name);
            return false;
        }
        /* no holes here: write the zeroes */
    }
    if (!pd_io_pwrite_full(io, buf, n, pos, error))
        return false;
    *store_size = MAX(*store_size, pos + n);
    return true;
}

/* Stores one piece of an upload at @pos. With @sparse it is cut at the 4 KiB boundaries of the
 * volume (so that the pieces a pipe happens to deliver do not matter) into runs of all-zero
 * blocks, which become holes, and of data, which is written. */
static bool upload_piece(PdIO *io, const char *buf, size_t n, uint64_t pos, bool sparse,
                         uint64_t *store_size, GError **error)
{
    if (!sparse)
        return upload_run(io, buf, n, pos, false, store_size, error);
    size_t run_start = 0;
    bool run_zero = false;
    for (size_t off = 0; off < n;) {
        size_t blk = (size_t)MIN((uint64_t)(n - off), SPARSE_BLOCK - (pos + off) % SPARSE_BLOCK);
        bool zero = pd_pool_util_is_zero(buf + off, blk);
        if (off > run_start && zero != run_zero) {
            if (!upload_run(io, buf + run_start, off - run_start, pos + run_start, run_zero,
                            store_size, error))
                return false;
            run_start = off;
        }
        run_zero = zero;
        off += blk;
    }
    return upload_run(io, buf + run_start, n - run_start, pos + run_start, run_zero, store_size,
                      error);
}

/* Copies the stream into @io; *ret_done: bytes stored. */
static bool upload_loop(const PdPool *pool, const PdVol *vol, PdIO *io, int fd, uint64_t offset,
                        uint64_t length, bool fixed_size, bool sparse, uint64_t *size,
                        const PdBackendJob *job, uint64_t *ret_done, GError **error)
{
    g_autofree char *buf = g_malloc(TRANSFER_BUFFER);
    uint64_t total = upload_total(fd, length), done = 0;
    while (!length || done < length) {
        if (!pd_pool_util_check_cancel(job, pool, vol->name, error))
            return false;
        size_t want =
            length ? (size_t)MIN((uint64_t)TRANSFER_BUFFER, length - done) : TRANSFER_BUFFER;
        ssize_t n = read_stream(fd, buf, want, job, pool, vol, error);
        if (n < 0)
            return false;
        if (n == 0)
            break;
        if (fixed_size && (uint64_t)n > *size - offset - done) {
            pd_pool_util_error(error, pool, vol->name, PD_ERROR_NO_SPACE,
                               "upload is larger than the device (%" G_GUINT64_FORMAT " bytes)",
                               *size);
            return false;
        }
        if (!upload_piece(io, buf, (size_t)n, offset + done, sparse, size, error)) {
            pd_pool_util_prefix_error(error, pool, vol->name);
            return false;
        }
        done += (uint64_t)n;
        pd_pool_util_progress(job, done, MAX(total, done));
    }
    *ret_done = done;
    return true;
}

bool pd_pool_util_upload_io(const PdPool *pool, const PdVol *vol, PdIO *io, bool fixed_size, int fd,
                            uint64_t offset, uint64_t length, unsigned flags,
                            const PdBackendJob *job, GError **error)
{
    uint64_t size, done = 0;
    if (!io_size(io, pool, vol, &size, error))
        return false;
    if (fixed_size && (offset > size || (length && length > size - offset))) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_INVALID_ARGUMENT,
                           "upload of %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
                           " does not fit in the device (%" G_GUINT64_FORMAT " bytes)",
                           length, offset, size);
        return false;
    }
    bool sparse = (flags & PD_VOL_XFER_SPARSE) && !fixed_size;
    if (!upload_loop(pool, vol, io, fd, offset, length, fixed_size, sparse, &size, job, &done,
                     error))
        return false;
    if (length && done < length) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_IO,
                           "upload stream ended after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                           " bytes",
                           done, length);
        return false;
    }
    if ((!fixed_size && offset + done > size && !pd_io_truncate(io, offset + done, error)) ||
        !pd_io_flush(io, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return true;
}

bool pd_pool_util_upload_path(const PdPool *pool, const PdVol *vol, const char *path, int fd,
                              uint64_t offset, uint64_t length, unsigned flags,
                              const PdBackendJob *job, GError **error)
{
    bool fixed;
    g_autoptr(PdIO) io = open_volume(pool, vol, path, PD_IO_RDWR, &fixed, error);
    return io &&
           pd_pool_util_upload_io(pool, vol, io, fixed, fd, offset, length, flags, job, error);
}

/* Whether @pos starts data (true) or a hole, and where that run ends (below @end). A store
 * that cannot tell, or !@sparse: data up to @end. */
static bool io_run(PdIO *io, uint64_t pos, uint64_t end, bool sparse, uint64_t *ret_run_end)
{
    uint64_t len = 0;
    int r = sparse && io->ops->data_status ? io->ops->data_status(io, pos, end - pos, &len) : -1;
    if (r < 0 || len == 0) {
        *ret_run_end = end;
        return true;
    }
    *ret_run_end = MIN(end, pos + len);
    return r == 1;
}

/* Emits @len bytes of hole: skipped with lseek on a seekable output, else written as zeroes. */
static bool download_hole(int fd, uint64_t len, bool seekable, const PdBackendJob *job,
                          const PdPool *pool, const PdVol *vol, GError **error)
{
    static const char zeroes[64 * 1024];
    if (seekable) {
        if (lseek(fd, (off_t)len, SEEK_CUR) >= 0)
            return true;
        pd_pool_util_error_errno(error, pool, vol->name, errno, "seeking the download file");
        return false;
    }
    while (len > 0) {
        size_t n = (size_t)MIN(len, sizeof(zeroes));
        if (!write_stream(fd, zeroes, n, job, pool, vol, error))
            return false;
        len -= n;
    }
    return true;
}

/* Writes one piece of a download (volume offset @pos) to @fd. On a @seekable output it is cut
 * at the volume's 4 KiB boundaries into runs of all-zero blocks, skipped with lseek, and runs
 * of data, written. */
static bool download_piece(int fd, const char *buf, size_t n, uint64_t pos, bool seekable,
                           const PdBackendJob *job, const PdPool *pool, const PdVol *vol,
                           GError **error)
{
    if (!seekable)
        return write_stream(fd, buf, n, job, pool, vol, error);
    size_t run_start = 0;
    bool run_zero = false;
    for (size_t off = 0; off <= n;) {
        size_t blk =
            off < n ? (size_t)MIN((uint64_t)(n - off), SPARSE_BLOCK - (pos + off) % SPARSE_BLOCK)
                    : 0;
        bool zero = off < n && pd_pool_util_is_zero(buf + off, blk);
        if (off > run_start && (off == n || zero != run_zero)) {
            size_t len = off - run_start;
            bool ok = run_zero ? download_hole(fd, len, true, job, pool, vol, error)
                               : write_stream(fd, buf + run_start, len, job, pool, vol, error);
            if (!ok)
                return false;
            run_start = off;
        }
        run_zero = zero;
        if (off == n)
            break;
        off += blk;
    }
    return true;
}

/* The output of a sparse download was skipped past its end: extend it to the current
 * position. */
static bool download_finish(int fd, bool seekable, const PdPool *pool, const PdVol *vol,
                            GError **error)
{
    struct stat st;
    if (!seekable)
        return true;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos < 0 || fstat(fd, &st) < 0 || (st.st_size < pos && ftruncate(fd, pos) < 0)) {
        pd_pool_util_error_errno(error, pool, vol->name, errno, "extending the download file");
        return false;
    }
    return true;
}

static bool output_seekable(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) >= 0;
}

bool pd_pool_util_download_io(const PdPool *pool, const PdVol *vol, PdIO *io, int fd,
                              uint64_t offset, uint64_t length, unsigned flags,
                              const PdBackendJob *job, GError **error)
{
    uint64_t size;
    if (!io_size(io, pool, vol, &size, error))
        return false;
    if (offset > size || (length && length > size - offset)) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_INVALID_ARGUMENT,
                           "download of %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
                           " goes past the end of the volume (%" G_GUINT64_FORMAT " bytes)",
                           length, offset, size);
        return false;
    }
    g_autofree char *buf = g_malloc(TRANSFER_BUFFER);
    bool sparse = flags & PD_VOL_XFER_SPARSE;
    bool seekable = sparse && output_seekable(fd);
    uint64_t end = length ? offset + length : size, pos = offset;
    while (pos < end) {
        if (!pd_pool_util_check_cancel(job, pool, vol->name, error))
            return false;
        uint64_t run_end;
        if (!io_run(io, pos, end, sparse, &run_end)) {
            if (!download_hole(fd, run_end - pos, seekable, job, pool, vol, error))
                return false;
            pos = run_end;
            continue;
        }
        size_t n = (size_t)MIN((uint64_t)TRANSFER_BUFFER, run_end - pos);
        if (!pd_io_pread_full(io, buf, n, pos, error)) {
            pd_pool_util_prefix_error(error, pool, vol->name);
            return false;
        }
        if (!download_piece(fd, buf, n, pos, seekable, job, pool, vol, error))
            return false;
        pos += n;
        pd_pool_util_progress(job, pos - offset, end - offset);
    }
    return download_finish(fd, seekable, pool, vol, error);
}

bool pd_pool_util_download_path(const PdPool *pool, const PdVol *vol, const char *path, int fd,
                                uint64_t offset, uint64_t length, unsigned flags,
                                const PdBackendJob *job, GError **error)
{
    bool fixed;
    g_autoptr(PdIO) io = open_volume(pool, vol, path, PD_IO_RDONLY, &fixed, error);
    return io && pd_pool_util_download_io(pool, vol, io, fd, offset, length, flags, job, error);
}
