/* Backend-independent PdIO helpers. */
#include "formats/io/io.h"
#include "common/pd-error.h"

#include <errno.h>
#include <string.h>

bool pd_io_pread_full(PdIO *io, void *buf, size_t len, uint64_t offset, GError **error)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = io->ops->pread(io, p, len, offset);
        if (n < 0) {
            pd_error_set_errno(error, (int)-n,
                               "Cannot read %zu bytes at offset %" G_GUINT64_FORMAT " of '%s'", len,
                               offset, io->name);
            return false;
        }
        if (n == 0) {
            memset(p, 0, len); /* past the end of the store reads as zeroes */
            return true;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return true;
}

bool pd_io_pwrite_full(PdIO *io, const void *buf, size_t len, uint64_t offset, GError **error)
{
    const uint8_t *p = buf;
    if (io->read_only) {
        g_set_error(error, PD_ERROR, PD_ERROR_READ_ONLY, "Cannot write to '%s': opened read-only",
                    io->name);
        return false;
    }
    while (len > 0) {
        ssize_t n = io->ops->pwrite(io, p, len, offset);
        if (n <= 0) {
            pd_error_set_errno(error, n < 0 ? (int)-n : EIO,
                               "Cannot write %zu bytes at offset %" G_GUINT64_FORMAT " of '%s'",
                               len, offset, io->name);
            return false;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return true;
}

bool pd_io_flush(PdIO *io, GError **error)
{
    int r = io->ops->flush(io);
    if (r < 0) {
        pd_error_set_errno(error, -r, "Cannot flush '%s'", io->name);
        return false;
    }
    return true;
}

bool pd_io_truncate(PdIO *io, uint64_t size, GError **error)
{
    int r = io->ops->truncate(io, size);
    if (r < 0) {
        pd_error_set_errno(error, -r, "Cannot resize '%s' to %" G_GUINT64_FORMAT " bytes", io->name,
                           size);
        return false;
    }
    return true;
}

bool pd_io_get_size(PdIO *io, uint64_t *ret_size, GError **error)
{
    int64_t r = io->ops->size(io);
    if (r < 0) {
        pd_error_set_errno(error, (int)-r, "Cannot get the size of '%s'", io->name);
        return false;
    }
    *ret_size = (uint64_t)r;
    return true;
}

void pd_io_close(PdIO *io)
{
    if (io)
        io->ops->close(io);
}
