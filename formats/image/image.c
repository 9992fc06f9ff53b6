/* PdImage: what every format shares. Checks happen here once; drivers trust them. */
#include "formats/image/image-driver.h"
#include "formats/image/target.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define driver_for pd_image_driver_for

static const char *const prealloc_names[] = {
    [PD_PREALLOC_OFF] = "off",
    [PD_PREALLOC_METADATA] = "metadata",
    [PD_PREALLOC_FALLOC] = "falloc",
    [PD_PREALLOC_FULL] = "full",
};

bool pd_prealloc_from_name(const char *name, PdPrealloc *ret, GError **error)
{
    for (size_t i = 0; i < G_N_ELEMENTS(prealloc_names); i++) {
        if (name && strcmp(name, prealloc_names[i]) == 0) {
            *ret = (PdPrealloc)i;
            return true;
        }
    }
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "Invalid preallocation mode '%s': use off, metadata, falloc or full",
                name ? name : "");
    return false;
}

const char *pd_prealloc_name(PdPrealloc prealloc)
{
    return (unsigned)prealloc < G_N_ELEMENTS(prealloc_names) ? prealloc_names[prealloc] : "?";
}

static bool unsupported(PdImage *img, const char *what, GError **error)
{
    g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED, "Image '%s': format %s does not support %s",
                img->io->name, img->driver->name, what);
    return false;
}

/* ---- probing and opening ---------------------------------------------------------- */

/* The best-scoring driver for the head of @io (raw when nothing matches, and for an empty
 * store, as qemu). */
static const PdImageDriver *probe_io(PdIO *io, GError **error)
{
    uint64_t size;
    if (!pd_io_get_size(io, &size, error))
        return NULL;
    if (size == 0)
        return driver_for(PD_FORMAT_RAW);
    uint8_t head[PD_PROBE_HEAD_SIZE];
    g_autoptr(GError) local = NULL;
    if (!pd_io_pread_full(io, head, sizeof head, 0, &local)) {
        g_set_error(error, PD_ERROR, local->code,
                    "Could not read image '%s' for determining its format: %s", io->name,
                    local->message);
        return NULL;
    }
    int score;
    return pd_image_probe_head(head, sizeof head, io->name, &score, error);
}

PdFormat pd_image_probe(PdIO *io, GError **error)
{
    const PdImageDriver *drv = probe_io(io, error);
    return drv ? drv->format : PD_FORMAT_UNKNOWN;
}

static const PdBackingOpener default_opener = {pd_backing_open_default, NULL};
static const PdBackingOpener *process_opener = &default_opener;

void pd_image_set_default_backing_opener(const PdBackingOpener *opener)
{
    g_atomic_pointer_set(&process_opener, opener ? opener : &default_opener);
}

static const PdBackingOpener *opener_or_default(const PdBackingOpener *opener)
{
    return opener ? opener : g_atomic_pointer_get(&process_opener);
}

PdIO *pd_backing_open_default(PdIO *overlay, const char *name, PdFormat format, PdIO *top,
                              void *data, GError **error)
{
    (void)format;
    (void)top;
    (void)data;
    if (!overlay->ops->open_relative) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "its store cannot open the backing file '%s'", name);
        return NULL;
    }
    return overlay->ops->open_relative(overlay, name, PD_IO_RDONLY | PD_IO_DATA_ONLY, error);
}

/* The image of @img's chain (@img or an overlay above it) stored in the same file as @io. */
static PdImage *chain_find_file(PdImage *img, PdIO *io)
{
    if (!io->has_file_id)
        return NULL;
    for (PdImage *i = img; i; i = i->overlay)
        if (i->io->has_file_id && i->io->file_dev == io->file_dev &&
            i->io->file_ino == io->file_ino)
            return i;
    return NULL;
}

/* Opens @img's backing file through the chain's opener; refuses a file already in the chain. */
static PdIO *open_backing_io(PdImage *img, GError **error)
{
    PdImage *top = img;
    while (top->overlay)
        top = top->overlay;
    g_autoptr(GError) local = NULL;
    PdIO *bio = img->opener->open(img->io, img->backing_name, img->backing_format, top->io,
                                  img->opener->data, &local);
    if (!bio) {
        /* a policy's refusal is a whole sentence of its own */
        if (local->code == PD_ERROR_PERMISSION_DENIED)
            g_propagate_error(error, g_steal_pointer(&local));
        else
            g_set_error(error, PD_ERROR, local->code, "Could not open backing file of '%s': %s",
                        img->io->name, local->message);
        return NULL;
    }
    PdImage *again = chain_find_file(img, bio);
    if (again) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': its backing file '%s' is '%s' again: the backing chain loops",
                    img->io->name, img->backing_name, again->io->name);
        pd_io_close(bio);
        return NULL;
    }
    return bio;
}

static bool open_backing(PdImage *img, GError **error)
{
    if (img->depth + 1 >= PD_MAX_BACKING_DEPTH) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': backing chain deeper than %d (a loop?)", img->io->name,
                    PD_MAX_BACKING_DEPTH);
        return false;
    }
    g_autoptr(GError) local = NULL;
    PdIO *bio = open_backing_io(img, error);
    if (!bio)
        return false;
    PdFormat fmt = img->backing_format;
    if (fmt == PD_FORMAT_UNKNOWN) {
        fmt = pd_image_probe(bio, &local);
        if (fmt == PD_FORMAT_UNKNOWN) {
            pd_io_close(bio);
            g_propagate_error(error, g_steal_pointer(&local));
            return false;
        }
    }
    PdOpenFlags flags = img->flags & ~(PdOpenFlags)PD_OPEN_RDWR;
    PdImage *b = g_new0(PdImage, 1);
    b->io = bio;
    b->depth = img->depth + 1;
    b->overlay = img;
    b->opener = img->opener;
    b->flags = flags;
    b->driver = driver_for(fmt);
    if (!b->driver->open(b, &local)) {
        pd_image_close(b);
        g_set_error(error, PD_ERROR, local->code, "Could not open backing file of '%s': %s",
                    img->io->name, local->message);
        return false;
    }
    /* Deeper failures already name the image whose backing file failed; only the top of
     * the chain adds its own name, so a loop gives one line, not one per level. */
    if (b->backing_name && !open_backing(b, &local)) {
        pd_image_close(b);
        if (img->depth == 0)
            g_set_error(error, PD_ERROR, local->code, "Backing chain of '%s': %s", img->io->name,
                        local->message);
        else
            g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    img->backing = b;
    return true;
}

static PdImage *open_io(PdIO *io, PdFormat format, PdOpenFlags flags, bool header_only,
                        const PdBackingOpener *backing, GError **error);

PdImage *pd_image_open_io(PdIO *io, PdFormat format, PdOpenFlags flags, GError **error)
{
    return open_io(io, format, flags, false, NULL, error);
}

PdImage *pd_image_open_io_with(PdIO *io, PdFormat format, PdOpenFlags flags,
                               const PdBackingOpener *backing, GError **error)
{
    return open_io(io, format, flags, false, backing, error);
}

bool pd_image_read_info(const char *path, PdFormat format, PdImageInfo *ret, GError **error)
{
    PdIO *io = pd_io_file_open(path, PD_IO_RDONLY, 0, error);
    return io && pd_image_read_info_io(io, format, ret, error);
}

bool pd_image_read_info_io(PdIO *io, PdFormat format, PdImageInfo *ret, GError **error)
{
    g_autoptr(PdImage) img =
        open_io(io, format, PD_OPEN_RDONLY | PD_OPEN_NO_BACKING, true, NULL, error);
    return img && pd_image_get_info(img, ret, error);
}

static PdImage *open_io(PdIO *io, PdFormat format, PdOpenFlags flags, bool header_only,
                        const PdBackingOpener *backing, GError **error)
{
    bool probed = format == PD_FORMAT_UNKNOWN;
    if (probed) {
        format = pd_image_probe(io, error);
        if (format == PD_FORMAT_UNKNOWN) {
            pd_io_close(io);
            return NULL;
        }
    }
    g_autoptr(PdImage) img = g_new0(PdImage, 1);
    img->io = io;
    img->flags = flags;
    img->header_only = header_only;
    img->opener = opener_or_default(backing);
    img->probed = probed;
    img->driver = driver_for(format);
    if (!img->driver) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED, "Image '%s': unknown format", io->name);
        return NULL;
    }
    if ((flags & PD_OPEN_RDWR) && (img->driver->flags & PD_DRIVER_READ_ONLY)) {
        g_set_error(error, PD_ERROR, PD_ERROR_READ_ONLY,
                    "Image '%s': format %s is read-only in poolimg; convert it to qcow2 or "
                    "raw (poolimg convert -O qcow2) to change it",
                    io->name, img->driver->name);
        img->driver = NULL;
        return NULL;
    }
    if ((flags & PD_OPEN_RDWR) && io->read_only) {
        g_set_error(error, PD_ERROR, PD_ERROR_READ_ONLY,
                    "Image '%s': cannot open read-write, its store is read-only", io->name);
        return NULL;
    }
    if (!img->driver->open(img, error)) {
        img->driver = NULL; /* nothing to close in the driver */
        return NULL;
    }
    if (img->backing_name && !(flags & PD_OPEN_NO_BACKING) && !open_backing(img, error))
        return NULL;
    return g_steal_pointer(&img);
}

PdImage *pd_image_open(const char *path, PdFormat format, PdOpenFlags flags, GError **error)
{
    PdIOFlags io_flags = (flags & PD_OPEN_RDWR) ? PD_IO_RDWR : PD_IO_RDONLY;
    if (flags & PD_OPEN_LOCK)
        io_flags |= PD_IO_LOCK | ((flags & PD_OPEN_FORCE_SHARE) ? PD_IO_SHARE : 0);
    PdIO *io = pd_io_file_open(path, io_flags, 0, error);
    if (!io)
        return NULL;
    return pd_image_open_io(io, format, flags, error);
}

void pd_image_close(PdImage *img)
{
    if (!img)
        return;
    if (img->driver)
        img->driver->close(img);
    pd_image_close(img->backing);
    pd_io_close(img->io);
    g_free(img->backing_name);
    g_free(img);
}

/* ---- creation --------------------------------------------------------------------- */

/* Fills in the size from the backing file when the caller gave none, and checks that the
 * backing file opens (as qemu-img create does). */
static bool resolve_backing_size(PdIO *io, PdCreateOptions *opts, GError **error)
{
    if (!opts->backing_file)
        return true;
    const PdBackingOpener *opener = opener_or_default(opts->backing_opener);
    if (opener == &default_opener && !io->ops->open_relative)
        return true;
    PdIO *bio = opener->open(io, opts->backing_file, opts->backing_format, io, opener->data, error);
    if (!bio) {
        g_prefix_error(error, "Could not open backing file: ");
        return false;
    }
    g_autoptr(PdImage) backing =
        pd_image_open_io_with(bio, opts->backing_format, PD_OPEN_RDONLY, opener, error);
    if (!backing) {
        g_prefix_error(error, "Could not open backing image: ");
        return false;
    }
    if (opts->size == 0)
        opts->size = pd_image_size(backing);
    return true;
}

bool pd_image_create_io(PdIO *io, const PdCreateOptions *opts_in, GError **error)
{
    PdCreateOptions opts = *opts_in;
    const PdImageDriver *drv = driver_for(opts.format);
    if (!drv) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Cannot create '%s': unknown image format", io->name);
        return false;
    }
    if (!drv->create) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Cannot create '%s': format %s is read-only in poolimg (create raw or "
                    "qcow2)",
                    io->name, drv->name);
        return false;
    }
    if (!resolve_backing_size(io, &opts, error))
        return false;
    return drv->create(io, &opts, error);
}

bool pd_image_create(const char *path, const PdCreateOptions *opts, bool overwrite, GError **error)
{
    if (!overwrite && g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, PD_ERROR, PD_ERROR_EXISTS, "Could not create '%s': file exists", path);
        return false;
    }
    /* A new file is built under a hidden name and renamed into place when complete; an
     * existing file or device is written in place (target.h). */
    g_autoptr(PdTarget) t = pd_target_open(path, NULL, error);
    if (!t)
        return false;
    PdIO *io = pd_target_take_io(t);
    bool ok = pd_image_create_io(io, opts, error) && pd_io_flush(io, error);
    pd_io_close(io);
    return ok && pd_target_finish(t, error);
}

/* ---- accessors -------------------------------------------------------------------- */

PdFormat pd_image_format(PdImage *img)
{
    return img->driver->format;
}
uint64_t pd_image_size(PdImage *img)
{
    return img->size;
}
const char *pd_image_name(PdImage *img)
{
    return img->io->name;
}
PdIO *pd_image_io(PdImage *img)
{
    return img->io;
}
PdImage *pd_image_backing(PdImage *img)
{
    return img->backing;
}
bool pd_image_read_only(PdImage *img)
{
    return !(img->flags & PD_OPEN_RDWR);
}
bool pd_image_probed(PdImage *img)
{
    return img->probed;
}

/* ---- guest I/O -------------------------------------------------------------------- */

static bool check_range(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    uint64_t end;
    if (!pd_add_u64(offset, len, &end) || end > img->size) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': range %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                    " lies past its end (%" G_GUINT64_FORMAT " bytes)",
                    img->io->name, offset, len, img->size);
        return false;
    }
    return true;
}

/* A raw image whose format was guessed must not be written into a head that another
 * format would claim: the next probe would read the guest's bytes as that format (qemu's
 * rule for probed raw images). @buf NULL: zeroes. */
static bool check_probed_head(PdImage *img, uint64_t offset, const void *buf, uint64_t len,
                              GError **error)
{
    if (!img->probed || img->driver->format != PD_FORMAT_RAW || offset >= PD_PROBE_HEAD_SIZE)
        return true;
    uint8_t head[PD_PROBE_HEAD_SIZE];
    if (!pd_io_pread_full(img->io, head, sizeof head, 0, error))
        return false;
    size_t n = (size_t)MIN(len, (uint64_t)(sizeof head - offset));
    if (buf)
        memcpy(head + offset, buf, n);
    else
        memset(head + offset, 0, n);
    int score;
    g_autoptr(GError) local = NULL;
    const PdImageDriver *drv =
        pd_image_probe_head(head, sizeof head, img->io->name, &score, &local);
    if (drv && drv->format == PD_FORMAT_RAW)
        return true;
    g_set_error(error, PD_ERROR, PD_ERROR_READ_ONLY,
                "Image '%s': its format was guessed as raw, and this write to block 0 would "
                "make it look like %s; pass -f raw to write it",
                img->io->name, drv ? drv->name : "another format");
    return false;
}

static bool check_writable(PdImage *img, GError **error)
{
    if (!(img->flags & PD_OPEN_RDWR)) {
        g_set_error(error, PD_ERROR, PD_ERROR_READ_ONLY, "Image '%s' is opened read-only",
                    img->io->name);
        return false;
    }
    return true;
}

bool pd_image_read(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error)
{
    if (len == 0)
        return true;
    return check_range(img, offset, len, error) && img->driver->read(img, offset, buf, len, error);
}

bool pd_image_read_backing(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error)
{
    PdImage *b = img->backing;
    uint64_t have = 0;
    if (b && offset < b->size) {
        have = MIN((uint64_t)len, b->size - offset);
        if (!b->driver->read(b, offset, buf, (size_t)have, error))
            return false;
    }
    if (have < len)
        memset((uint8_t *)buf + have, 0, len - have);
    return true;
}

bool pd_image_write(PdImage *img, uint64_t offset, const void *buf, size_t len, GError **error)
{
    if (len == 0)
        return true;
    if (!check_writable(img, error) || !check_range(img, offset, len, error) ||
        !check_probed_head(img, offset, buf, len, error))
        return false;
    if (!img->driver->write)
        return unsupported(img, "writing", error);
    return img->driver->write(img, offset, buf, len, error);
}

bool pd_image_write_zeroes(PdImage *img, uint64_t offset, uint64_t len, PdZeroFlags flags,
                           GError **error)
{
    if (len == 0)
        return true;
    if (!check_writable(img, error) || !check_range(img, offset, len, error) ||
        !check_probed_head(img, offset, NULL, len, error))
        return false;
    if (!img->driver->write_zeroes)
        return unsupported(img, "writing", error);
    return img->driver->write_zeroes(img, offset, len, flags, error);
}

bool pd_image_discard(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    if (len == 0)
        return true;
    if (!check_writable(img, error) || !check_range(img, offset, len, error) ||
        !check_probed_head(img, offset, NULL, len, error))
        return false;
    if (!img->driver->discard)
        return true; /* a hint */
    return img->driver->discard(img, offset, len, error);
}

bool pd_image_flush(PdImage *img, GError **error)
{
    if (!(img->flags & PD_OPEN_RDWR) || !img->driver->flush)
        return true;
    return img->driver->flush(img, error);
}

bool pd_image_block_status_layer(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                                 GError **error)
{
    if (len == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': empty block status query", img->io->name);
        return false;
    }
    if (!check_range(img, offset, len, error))
        return false;
    PdBlockStatus st = {0};
    if (!img->driver->block_status(img, offset, len, &st, error))
        return false;
    g_assert(st.length > 0 && st.length <= len);
    st.depth = img->depth;
    st.layer = img;
    *ret = st;
    return true;
}

bool pd_image_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                           GError **error)
{
    PdBlockStatus st;
    if (!pd_image_block_status_layer(img, offset, len, &st, error))
        return false;
    if (st.flags & PD_BLOCK_ALLOCATED) {
        *ret = st;
        return true;
    }
    /* Not here: the backing file decides, zeroes past its end or without one. */
    PdImage *b = img->backing;
    if (!b || offset >= b->size) {
        *ret = (PdBlockStatus){
            .length = st.length, .flags = PD_BLOCK_ZERO, .depth = img->depth, .layer = img};
        return true;
    }
    PdBlockStatus bst;
    if (!pd_image_block_status(b, offset, MIN(st.length, b->size - offset), &bst, error))
        return false;
    *ret = bst;
    return true;
}

bool pd_image_resize(PdImage *img, uint64_t new_size, PdPrealloc prealloc, bool allow_shrink,
                     GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (new_size < img->size && !allow_shrink) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': shrinking from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                    " bytes loses data; pass --shrink if that is what you want",
                    img->io->name, img->size, new_size);
        return false;
    }
    if (!img->driver->resize)
        return unsupported(img, "resizing", error);
    return img->driver->resize(img, new_size, prealloc, error);
}

/* ---- info, snapshots, check, amend ------------------------------------------------ */

bool pd_image_get_info(PdImage *img, PdImageInfo *ret, GError **error)
{
    PdImageInfo info = {0};
    info.filename = g_strdup(img->io->name);
    info.format = img->driver->format;
    info.virtual_size = img->size;
    int64_t alloc = img->io->ops->allocated(img->io);
    info.actual_size = alloc < 0 ? 0 : (uint64_t)alloc;
    info.backing_file = g_strdup(img->backing_name);
    info.backing_format = img->backing_format;
    if (img->backing_name) {
        if (g_path_is_absolute(img->backing_name) || strstr(img->backing_name, "://")) {
            info.full_backing_filename = g_strdup(img->backing_name);
        } else {
            g_autofree char *dir = g_path_get_dirname(img->io->name);
            info.full_backing_filename = g_build_filename(dir, img->backing_name, NULL);
        }
    }
    if (img->driver->get_info && !img->driver->get_info(img, &info, error)) {
        pd_image_info_clear(&info);
        return false;
    }
    *ret = info;
    return true;
}

void pd_image_info_clear(PdImageInfo *info)
{
    if (info->extents) {
        for (guint i = 0; i < info->extents->len; i++) {
            PdExtentInfo *e = &g_array_index(info->extents, PdExtentInfo, i);
            g_free(e->filename);
            g_free(e->format);
        }
        g_array_unref(info->extents);
    }
    g_free(info->create_type);
    g_free(info->filename);
    g_free(info->backing_file);
    g_free(info->full_backing_filename);
    memset(info, 0, sizeof *info);
}

void pd_snapshot_info_clear(PdSnapshotInfo *snap)
{
    g_free(snap->id);
    g_free(snap->name);
    snap->id = snap->name = NULL;
}

GArray *pd_image_snapshot_list(PdImage *img, GError **error)
{
    if (!img->driver->snapshot_list)
        return (unsupported(img, "internal snapshots", error), NULL);
    return img->driver->snapshot_list(img, error);
}

bool pd_image_snapshot_create(PdImage *img, const char *name, GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->snapshot_create)
        return unsupported(img, "internal snapshots", error);
    return img->driver->snapshot_create(img, name, error);
}

bool pd_image_snapshot_apply(PdImage *img, const char *id_or_name, GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->snapshot_apply)
        return unsupported(img, "internal snapshots", error);
    return img->driver->snapshot_apply(img, id_or_name, error);
}

bool pd_image_snapshot_delete(PdImage *img, const char *id_or_name, GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->snapshot_delete)
        return unsupported(img, "internal snapshots", error);
    return img->driver->snapshot_delete(img, id_or_name, error);
}

void pd_check_result_clear(PdCheckResult *res)
{
    if (res->messages)
        g_ptr_array_unref(res->messages);
    memset(res, 0, sizeof *res);
}

bool pd_image_check(PdImage *img, PdCheckFix fix, PdCheckResult *ret, GError **error)
{
    if (fix && !check_writable(img, error))
        return false;
    if (!img->driver->check)
        return unsupported(img, "checks", error);
    PdCheckResult res = {0};
    res.messages = g_ptr_array_new_with_free_func(g_free);
    if (!img->driver->check(img, fix, &res, error)) {
        pd_check_result_clear(&res);
        return false;
    }
    *ret = res;
    return true;
}

bool pd_image_amend(PdImage *img, const PdCreateOptions *opts, PdAmendFields set, GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->amend)
        return unsupported(img, "amend", error);
    return img->driver->amend(img, opts, set, error);
}

bool pd_image_make_empty(PdImage *img, GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->make_empty)
        return unsupported(img, "emptying an overlay", error);
    return img->driver->make_empty(img, error);
}

bool pd_image_set_backing(PdImage *img, const char *backing_file, PdFormat backing_format,
                          GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->set_backing)
        return unsupported(img, "backing files", error);
    return img->driver->set_backing(img, backing_file, backing_format, error);
}

size_t pd_image_cluster_size(PdImage *img)
{
    return img->driver->cluster_size ? img->driver->cluster_size(img) : 0;
}

ssize_t pd_image_compress(PdImage *img, const void *cluster, void *out, size_t out_len,
                          GError **error)
{
    if (!img->driver->compress)
        return (unsupported(img, "compression", error), -1);
    return img->driver->compress(img, cluster, out, out_len, error);
}

bool pd_image_write_compressed(PdImage *img, uint64_t offset, const void *data, size_t len,
                               GError **error)
{
    if (!check_writable(img, error))
        return false;
    if (!img->driver->write_compressed)
        return unsupported(img, "compression", error);
    return img->driver->write_compressed(img, offset, data, len, error);
}

bool pd_image_measure(const PdCreateOptions *opts, PdImage *source, PdMeasure *ret, GError **error)
{
    const PdImageDriver *drv = driver_for(opts->format);
    if (!drv || !drv->measure) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED, "Format %s cannot be measured",
                    pd_format_name(opts->format));
        return false;
    }
    return drv->measure(opts, source, ret, error);
}
