/* Image-level volume operations shared by the file-like backends (see pool-image.h). */
#include "pools/pool-image.h"

#include "common/pd-error.h"
#include "formats/convert/convert.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define IO_CHUNK (1024 * 1024)

/* ---- plans --------------------------------------------------------------------------------- */

void pd_create_plan_clear(PdCreatePlan *plan)
{
    g_free(plan->backing_file);
}

PdFormat pd_pool_image_create_format(const PdPool *pool, const char *name, const char *format,
                                     GError **error)
{
    PdFormat f = pd_format_from_name(format ? format : "raw");
    if (f == PD_FORMAT_UNKNOWN)
        pd_pool_util_error(error, pool, name, PD_ERROR_UNSUPPORTED,
                           "cannot create volumes of format '%s' (poold creates raw and qcow2)",
                           format);
    return f;
}

/* The recorded or probed format of the backing file of a new volume. */
static bool backing_format(const PdPool *pool, const PdVolDef *def, PdBackingProbeFunc probe,
                           void *probe_data, PdFormat *ret, GError **error)
{
    const PdVolBacking *b = def->backing;
    if (b->format_given) {
        *ret = pd_format_from_name(b->format);
        if (*ret == PD_FORMAT_UNKNOWN) {
            pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                               "backing store format '%s' is not supported (raw and qcow2 are)",
                               b->format);
            return false;
        }
        return true;
    }
    /* as libvirt: no format given, so the backing file is probed (header only) */
    g_autoptr(PdImage) img = probe(pool, b->path, probe_data, error);
    if (!img) {
        pd_pool_util_prefix_error(error, pool, def->name);
        g_prefix_error(error, "backing store: ");
        return false;
    }
    *ret = pd_image_format(img);
    return true;
}

/* Preallocation as libvirt decides it from allocation and --prealloc-metadata. */
static void plan_prealloc(const PdVolDef *def, unsigned flags, PdCreatePlan *plan)
{
    uint64_t capacity = plan->opts.size;
    if (flags & PD_VOL_CREATE_PREALLOC_FULL) {
        plan->opts.prealloc = PD_PREALLOC_FULL;
    } else if (plan->opts.format == PD_FORMAT_QCOW2) {
        if (def->prealloc_metadata)
            plan->opts.prealloc = def->allocation >= capacity && capacity > 0
                                      ? PD_PREALLOC_FALLOC
                                      : PD_PREALLOC_METADATA;
    } else if (def->allocation >= capacity && capacity > 0) {
        plan->opts.prealloc = PD_PREALLOC_FALLOC;
    } else {
        plan->reserve = def->allocation;
    }
}

bool pd_pool_image_plan_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                               PdBackingProbeFunc probe, void *probe_data, PdCreatePlan *plan,
                               GError **error)
{
    memset(plan, 0, sizeof(*plan));
    plan->opts.format = pd_pool_image_create_format(pool, def->name, def->target_format, error);
    if (plan->opts.format == PD_FORMAT_UNKNOWN)
        return false;
    plan->opts.size = def->has_capacity ? def->capacity : 0;
    if (plan->opts.format == PD_FORMAT_QCOW2) {
        plan->opts.compat = def->compat && strcmp(def->compat, "0.10") == 0 ? 2 : 3;
        if (def->cluster_size > UINT32_MAX) {
            pd_pool_util_error(error, pool, def->name, PD_ERROR_INVALID_ARGUMENT,
                               "cluster size %" G_GUINT64_FORMAT " is too large",
                               def->cluster_size);
            return false;
        }
        plan->opts.cluster_size = (uint32_t)def->cluster_size;
        plan->opts.lazy_refcounts = def->lazy_refcounts;
    }
    if (def->backing) {
        if (!backing_format(pool, def, probe, probe_data, &plan->opts.backing_format, error))
            return false;
        plan->backing_file = g_strdup(def->backing->path);
        plan->opts.backing_file = plan->backing_file;
    }
    plan_prealloc(def, flags, plan);
    return true;
}

bool pd_pool_image_plan_clone(const PdPool *pool, const PdVolDef *def, PdImage *src,
                              PdCreatePlan *plan, GError **error)
{
    memset(plan, 0, sizeof(*plan));
    const char *format =
        def->target_format ? def->target_format : pd_format_name(pd_image_format(src));
    plan->opts.format = pd_pool_image_create_format(pool, def->name, format, error);
    if (plan->opts.format == PD_FORMAT_UNKNOWN)
        return false;
    uint64_t src_size = pd_image_size(src);
    plan->opts.size = def->has_capacity && def->capacity ? def->capacity : src_size;
    if (plan->opts.size < src_size) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_INVALID_ARGUMENT,
                           "capacity %" G_GUINT64_FORMAT
                           " is smaller than the source's (%" G_GUINT64_FORMAT " bytes)",
                           plan->opts.size, src_size);
        return false;
    }
    if (plan->opts.format == PD_FORMAT_QCOW2) {
        plan->opts.compat = def->compat && strcmp(def->compat, "0.10") == 0 ? 2 : 3;
        plan->opts.cluster_size = (uint32_t)MIN(def->cluster_size, UINT32_MAX);
        plan->opts.lazy_refcounts = def->lazy_refcounts;
    }
    return true;
}

bool pd_pool_image_plan_linked(const PdPool *pool, const PdVolDef *def, const char *backing_file,
                               const char *backing_format, PdCreatePlan *plan, GError **error)
{
    memset(plan, 0, sizeof(*plan));
    if (def->target_format && strcmp(def->target_format, "qcow2") != 0) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_INVALID_ARGUMENT,
                           "a linked clone is a qcow2 overlay, not format '%s'",
                           def->target_format);
        return false;
    }
    plan->opts.format = PD_FORMAT_QCOW2;
    plan->opts.compat = def->compat && strcmp(def->compat, "0.10") == 0 ? 2 : 3;
    plan->opts.size = def->has_capacity ? def->capacity : 0;
    plan->opts.lazy_refcounts = def->lazy_refcounts;
    plan->opts.cluster_size = (uint32_t)MIN(def->cluster_size, UINT32_MAX);
    plan->backing_file = g_strdup(backing_file);
    plan->opts.backing_file = plan->backing_file;
    plan->opts.backing_format =
        backing_format ? pd_format_from_name(backing_format) : PD_FORMAT_UNKNOWN;
    return true;
}

/* ---- writing ------------------------------------------------------------------------------- */

bool pd_pool_image_write_new(PdIO *io, const PdCreatePlan *plan, GError **error)
{
    bool ok = pd_image_create_io(io, &plan->opts, error);
    if (ok && plan->reserve && io->ops->allocate) {
        uint64_t len = MIN(plan->reserve, plan->opts.size);
        int r = len ? io->ops->allocate(io, 0, len) : 0;
        if (r < 0 && r != -ENOTSUP && r != -EOPNOTSUPP) {
            pd_error_set_errno(error, -r, "Could not preallocate '%s'", io->name);
            ok = false;
        }
    }
    return ok && pd_io_flush(io, error);
}

bool pd_pool_image_copy_into(PdImage *src, PdIO *io, const PdCreatePlan *plan,
                             const PdBackendJob *job, GError **error)
{
    if (!pd_image_create_io(io, &plan->opts, error)) {
        pd_io_close(io);
        return false;
    }
    g_autoptr(PdImage) dst = pd_image_open_io(io, plan->opts.format, PD_OPEN_RDWR, error);
    if (!dst)
        return false;
    PdCancelBridge bridge;
    pd_cancel_bridge_init(&bridge, job);
    PdConvertOptions copts = {
        .target_is_zero = true,
        .sparse_size = PD_CONVERT_DEFAULT_SPARSE_SIZE,
        .progress = job ? job->progress : NULL,
        .progress_data = job ? job->progress_data : NULL,
        .cancel = &bridge.flag,
    };
    bool ok = pd_convert_copy(src, dst, &copts, error);
    pd_cancel_bridge_clear(&bridge);
    return ok && pd_image_flush(dst, error);
}

/* ---- resize -------------------------------------------------------------------------------- */

/* The first offset in [offset, offset+len) of @buf (which holds that range) that is not zero,
 * or UINT64_MAX. */
static uint64_t first_nonzero(const unsigned char *buf, size_t len, uint64_t offset)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i])
            return offset + i;
    }
    return UINT64_MAX;
}

/* Whether everything readable in [from, to) of @img reads as zeroes. Sets *ret_offset to the
 * first non-zero byte (UINT64_MAX when none). */
static bool find_data(PdImage *img, uint64_t from, uint64_t to, const PdBackendJob *job,
                      const PdPool *pool, const PdVol *vol, uint64_t *ret_offset, GError **error)
{
    g_autofree unsigned char *buf = g_malloc(IO_CHUNK);
    uint64_t off = from;
    *ret_offset = UINT64_MAX;
    while (off < to) {
        PdBlockStatus bs;
        if (!pd_pool_util_check_cancel(job, pool, vol->name, error) ||
            !pd_image_block_status(img, off, to - off, &bs, error))
            return false;
        uint64_t end = off + MIN(bs.length, to - off);
        bool maybe_data = (bs.flags & PD_BLOCK_DATA) && !(bs.flags & PD_BLOCK_ZERO);
        for (uint64_t pos = off; maybe_data && pos < end;) {
            size_t n = (size_t)MIN((uint64_t)IO_CHUNK, end - pos);
            if (!pd_image_read(img, pos, buf, n, error))
                return false;
            *ret_offset = first_nonzero(buf, n, pos);
            if (*ret_offset != UINT64_MAX)
                return true;
            pos += n;
        }
        off = end;
    }
    return true;
}

bool pd_pool_image_check_shrink(const PdPool *pool, const PdVol *vol, PdImage *img,
                                uint64_t capacity, unsigned flags, const PdBackendJob *job,
                                GError **error)
{
    uint64_t cur = pd_image_size(img), data;
    if (!(flags & PD_VOL_RESIZE_SHRINK)) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_INVALID_ARGUMENT,
                           "new capacity %" G_GUINT64_FORMAT
                           " is smaller than the current %" G_GUINT64_FORMAT
                           " bytes; use --shrink to shrink the volume",
                           capacity, cur);
        return false;
    }
    if (!find_data(img, capacity, cur, job, pool, vol, &data, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    if (data != UINT64_MAX) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_INVALID_ARGUMENT,
                           "cannot shrink to %" G_GUINT64_FORMAT " bytes: the volume holds data "
                           "at offset %" G_GUINT64_FORMAT " that would be lost",
                           capacity, data);
        return false;
    }
    return true;
}

bool pd_pool_image_resize(const PdPool *pool, const PdVol *vol, PdImage *img, uint64_t capacity,
                          unsigned flags, const PdBackendJob *job, GError **error)
{
    uint64_t cur = pd_image_size(img);
    if (capacity < cur && !pd_pool_image_check_shrink(pool, vol, img, capacity, flags, job, error))
        return false;
    if (capacity == cur)
        return true;
    PdPrealloc prealloc = flags & PD_VOL_RESIZE_ALLOCATE ? PD_PREALLOC_FALLOC : PD_PREALLOC_OFF;
    if (!pd_image_resize(img, capacity, prealloc, capacity < cur, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return true;
}

/* ---- wipe ---------------------------------------------------------------------------------- */

/* Overwrites [off, off+len) of @img with zeroes, or with random bytes when @random, telling
 * the job its progress (the offset reached, of the image's size) chunk by chunk. */
static bool overwrite(PdImage *img, uint64_t off, uint64_t len, bool random, unsigned char *buf,
                      const PdBackendJob *job, const PdPool *pool, const PdVol *vol, GError **error)
{
    uint64_t size = pd_image_size(img);
    while (len > 0) {
        size_t n = (size_t)MIN(len, (uint64_t)IO_CHUNK);
        if (!pd_pool_util_check_cancel(job, pool, vol->name, error))
            return false;
        if (random && getrandom(buf, n, 0) != (ssize_t)n) {
            pd_pool_util_error_errno(error, pool, vol->name, errno, "no random bytes");
            return false;
        }
        if (!pd_image_write(img, off, buf, n, error))
            return false;
        off += n;
        len -= n;
        pd_pool_util_progress(job, off, size);
    }
    return true;
}

/* Zero wipe: every range this layer stores is overwritten with zeroes in place (so the old
 * bytes are gone from the storage, not just unmapped); ranges an overlay takes from its
 * backing file are masked with zero clusters; the rest reads as zeroes already. */
static bool wipe_zero(PdImage *img, bool has_backing, const PdBackendJob *job, const PdPool *pool,
                      const PdVol *vol, GError **error)
{
    g_autofree unsigned char *buf = g_malloc0(IO_CHUNK);
    uint64_t size = pd_image_size(img), off = 0;
    while (off < size) {
        PdBlockStatus bs;
        if (!pd_image_block_status_layer(img, off, size - off, &bs, error))
            return false;
        uint64_t len = MIN(bs.length, size - off);
        /* raw holes and qcow2 zero clusters without a host cluster hold no old bytes */
        unsigned stored_bits = pd_image_format(img) == PD_FORMAT_QCOW2
                                   ? PD_BLOCK_DATA | PD_BLOCK_OFFSET_VALID
                                   : PD_BLOCK_DATA;
        bool stored = (bs.flags & PD_BLOCK_ALLOCATED) && (bs.flags & stored_bits);
        if (stored && !overwrite(img, off, len, false, buf, job, pool, vol, error))
            return false;
        if (!(bs.flags & PD_BLOCK_ALLOCATED) && has_backing &&
            !pd_image_write_zeroes(img, off, len, 0, error))
            return false;
        off += len;
        pd_pool_util_progress(job, off, size);
    }
    return true;
}

/* Trim: raw files get their blocks punched out and block devices discarded (failing where
 * the storage cannot); qcow2 clusters are unmapped and read as zeroes. */
static bool wipe_trim(PdImage *img, const PdPool *pool, const PdVol *vol, GError **error)
{
    uint64_t size = pd_image_size(img);
    if (pd_image_format(img) == PD_FORMAT_QCOW2)
        return pd_image_write_zeroes(img, 0, size, PD_ZERO_MAY_UNMAP, error);
    PdIO *io = pd_image_io(img);
    int r = io->ops->trim      ? io->ops->trim(io, 0, size)
            : io->ops->discard ? io->ops->discard(io, 0, size)
                               : -ENOTSUP;
    if (r == -ENOTSUP || r == -EOPNOTSUPP) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "the storage cannot discard (trim); use the zero algorithm");
        return false;
    }
    if (r < 0) {
        pd_pool_util_error_errno(error, pool, vol->name, -r, "discard failed");
        return false;
    }
    return true;
}

bool pd_pool_image_wipe(const PdPool *pool, const PdVol *vol, PdImage *img,
                        PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error)
{
    PdImageInfo info;
    if (!pd_image_get_info(img, &info, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    bool has_backing = info.backing_file != NULL;
    pd_image_info_clear(&info);
    bool ok = false;
    switch (algorithm) {
    case PD_WIPE_ZERO:
        ok = wipe_zero(img, has_backing, job, pool, vol, error);
        break;
    case PD_WIPE_RANDOM: {
        g_autofree unsigned char *buf = g_malloc(IO_CHUNK);
        ok = overwrite(img, 0, pd_image_size(img), true, buf, job, pool, vol, error);
        break;
    }
    case PD_WIPE_TRIM:
        ok = wipe_trim(img, pool, vol, error);
        break;
    default:
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_INVALID_ARGUMENT,
                           "unknown wipe algorithm");
        return false;
    }
    if (!ok) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    pd_pool_util_progress(job, pd_image_size(img), pd_image_size(img));
    return true;
}

bool pd_pool_image_check_snapshots(const PdPool *pool, const PdVol *vol, GError **error)
{
    if (vol->format && strcmp(vol->format, "qcow2") == 0)
        return true;
    pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                       "format '%s' has no internal snapshots (qcow2 volumes have)",
                       vol->format ? vol->format : "unknown");
    return false;
}

bool pd_pool_image_close(PdImage *img, const PdPool *pool, const PdVol *vol, GError **error)
{
    bool ok = pd_image_flush(img, error);
    pd_image_close(img);
    if (!ok)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return ok;
}

bool pd_pool_image_vol_format(const PdPool *pool, const PdVol *vol, PdFormat *ret_format,
                              GError **error)
{
    PdFormat f = vol->format ? pd_format_from_name(vol->format) : PD_FORMAT_UNKNOWN;
    if (vol->format && f == PD_FORMAT_UNKNOWN) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "format '%s' is not supported for this operation (raw and qcow2 are)",
                           vol->format);
        return false;
    }
    *ret_format = f;
    return true;
}

bool pd_pool_image_wipe_at(const PdPool *pool, const PdVol *vol, const char *path,
                           PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error)
{
    PdFormat format;
    if (!pd_pool_image_vol_format(pool, vol, &format, error))
        return false;
    g_autoptr(PdImage) img = pd_image_open(path, format, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    if (!img) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return pd_pool_image_wipe(pool, vol, img, algorithm, job, error) &&
           pd_pool_image_close(g_steal_pointer(&img), pool, vol, error);
}
