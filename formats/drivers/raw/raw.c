/* raw: the guest's bytes, as they are, in the store. */
#include "formats/image/image-driver.h"
#include "common/pd-error.h"

#include <errno.h>
#include <string.h>

#define ZERO_CHUNK (1024 * 1024)

/* Anything could be raw: the lowest score, for when no other format claims the head. */
static int raw_probe(const uint8_t *head, size_t len, const char *filename)
{
    return 1;
}

static bool raw_open(PdImage *img, GError **error)
{
    return pd_io_get_size(img->io, &img->size, error);
}

static void raw_close(PdImage *img)
{
}

/* Writes zeroes into the store the slow way, for stores that cannot punch holes. */
static bool write_zero_bytes(PdIO *io, uint64_t offset, uint64_t len, GError **error)
{
    g_autofree uint8_t *zeroes = g_malloc0(MIN(len, (uint64_t)ZERO_CHUNK));
    while (len > 0) {
        size_t n = (size_t)MIN(len, (uint64_t)ZERO_CHUNK);
        if (!pd_io_pwrite_full(io, zeroes, n, offset, error))
            return false;
        offset += n;
        len -= n;
    }
    return true;
}

/* Grows the store from @old to @new_size with the given preallocation. */
static bool raw_grow(PdIO *io, uint64_t old, uint64_t new_size, PdPrealloc prealloc, GError **error)
{
    switch (prealloc) {
    case PD_PREALLOC_OFF:
        return pd_io_truncate(io, new_size, error);
    case PD_PREALLOC_FALLOC: {
        int r = io->ops->allocate ? io->ops->allocate(io, old, new_size - old) : -ENOTSUP;
        if (r == 0)
            return pd_io_truncate(io, new_size, error);
        if (r != -ENOTSUP) {
            pd_error_set_errno(error, -r, "Could not preallocate '%s'", io->name);
            return false;
        }
        return write_zero_bytes(io, old, new_size - old, error);
    }
    case PD_PREALLOC_FULL:
        return write_zero_bytes(io, old, new_size - old, error) &&
               pd_io_truncate(io, new_size, error);
    case PD_PREALLOC_METADATA:
    default:
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': preallocation mode '%s' is not supported by format raw "
                    "(use off, falloc or full)",
                    io->name, pd_prealloc_name(prealloc));
        return false;
    }
}

static bool raw_create(PdIO *io, const PdCreateOptions *opts, GError **error)
{
    if (opts->backing_file) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Cannot create '%s': format raw does not support backing files", io->name);
        return false;
    }
    return pd_io_truncate(io, 0, error) && raw_grow(io, 0, opts->size, opts->prealloc, error);
}

static bool raw_read(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error)
{
    return pd_io_pread_full(img->io, buf, len, offset, error);
}

static bool raw_write(PdImage *img, uint64_t offset, const void *buf, size_t len, GError **error)
{
    return pd_io_pwrite_full(img->io, buf, len, offset, error);
}

static bool raw_write_zeroes(PdImage *img, uint64_t offset, uint64_t len, PdZeroFlags flags,
                             GError **error)
{
    /* A punched hole reads back as zeroes; fall back to writing them. */
    if ((flags & PD_ZERO_MAY_UNMAP) && img->io->ops->discard &&
        img->io->ops->discard(img->io, offset, len) == 0)
        return true;
    return write_zero_bytes(img->io, offset, len, error);
}

static bool raw_discard(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    /* Raw has no backing file, so discarded data must read back as zeroes: only punch. */
    int r = img->io->ops->discard ? img->io->ops->discard(img->io, offset, len) : -ENOTSUP;
    if (r < 0 && r != -ENOTSUP) {
        pd_error_set_errno(error, -r, "Could not discard in '%s'", img->io->name);
        return false;
    }
    return true;
}

static bool raw_flush(PdImage *img, GError **error)
{
    return pd_io_flush(img->io, error);
}

static bool raw_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                             GError **error)
{
    uint64_t run = len;
    int r = img->io->ops->data_status ? img->io->ops->data_status(img->io, offset, len, &run)
                                      : -ENOTSUP;
    if (r == -ENOTSUP) {
        r = 1;
        run = len;
    } else if (r < 0) {
        pd_error_set_errno(error, -r, "Could not get block status of '%s'", img->io->name);
        return false;
    }
    ret->length = run;
    ret->flags = PD_BLOCK_ALLOCATED | PD_BLOCK_OFFSET_VALID | (r ? PD_BLOCK_DATA : PD_BLOCK_ZERO);
    ret->host_offset = offset;
    return true;
}

static bool raw_resize(PdImage *img, uint64_t new_size, PdPrealloc prealloc, GError **error)
{
    uint64_t store_size;
    if (!pd_io_get_size(img->io, &store_size, error))
        return false;
    bool ok = new_size <= store_size ? pd_io_truncate(img->io, new_size, error)
                                     : raw_grow(img->io, store_size, new_size, prealloc, error);
    if (ok)
        img->size = new_size;
    return ok;
}

static bool raw_measure(const PdCreateOptions *opts, PdImage *source, PdMeasure *ret,
                        GError **error)
{
    uint64_t size = source ? pd_image_size(source) : opts->size;
    uint64_t required = size;
    if (source && opts->prealloc == PD_PREALLOC_OFF) {
        /* Only what the source really holds needs space. */
        required = 0;
        for (uint64_t off = 0; off < size;) {
            PdBlockStatus st;
            if (!pd_image_block_status(source, off, size - off, &st, error))
                return false;
            if (!(st.flags & PD_BLOCK_ZERO))
                required += st.length;
            off += st.length;
        }
    }
    *ret = (PdMeasure){.required = required, .fully_allocated = size};
    return true;
}

const PdImageDriver pd_raw_driver = {
    .name = "raw",
    .format = PD_FORMAT_RAW,
    .probe = raw_probe,
    .create = raw_create,
    .open = raw_open,
    .close = raw_close,
    .read = raw_read,
    .write = raw_write,
    .write_zeroes = raw_write_zeroes,
    .discard = raw_discard,
    .flush = raw_flush,
    .block_status = raw_block_status,
    .resize = raw_resize,
    .measure = raw_measure,
};
