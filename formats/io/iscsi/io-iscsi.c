/* PdIO over one iSCSI LUN: byte-addressed I/O on top of block commands. */
#include "formats/io/iscsi/io-iscsi.h"

#include "common/pd-error.h"

#include <errno.h>
#include <string.h>

/* Largest transfer of one READ/WRITE command. */
#define MAX_TRANSFER (1u << 20)

typedef struct {
    PdIO base;
    PdIscsi *session;
    int lun;
    uint32_t block_size;
    uint64_t size; /* bytes */
    bool thin;
    GMutex lock;    /* one operation at a time (the bounce buffer, read-modify-write) */
    uint8_t *block; /* bounce buffer of one block */
    /* for reopen: how this store was reached (the password wiped on close) */
    char *host, *target_iqn, *initiator_iqn, *username, *password;
    unsigned port, timeout;
} IscsiIO;

/* Reads or writes whole blocks from @lba, in commands of at most MAX_TRANSFER bytes. */
static int blocks_io(IscsiIO *f, bool write, uint64_t lba, uint64_t blocks, uint8_t *buf)
{
    uint32_t per_command = MAX(MAX_TRANSFER / f->block_size, 1);
    while (blocks > 0) {
        uint32_t n = (uint32_t)MIN(blocks, per_command);
        int r = write ? pd_iscsi_write(f->session, f->lun, lba, n, f->block_size, buf)
                      : pd_iscsi_read(f->session, f->lun, lba, n, f->block_size, buf);
        if (r < 0)
            return r;
        lba += n;
        blocks -= n;
        buf += (size_t)n * f->block_size;
    }
    return 0;
}

static ssize_t iscsi_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    IscsiIO *f = (IscsiIO *)io;
    if (offset >= f->size)
        return 0;
    len = (size_t)MIN((uint64_t)len, f->size - offset);
    uint8_t *out = buf;
    size_t done = 0;
    int r = 0;
    g_mutex_lock(&f->lock);
    while (r == 0 && done < len) {
        uint64_t pos = offset + done;
        uint64_t lba = pos / f->block_size;
        uint32_t skip = (uint32_t)(pos % f->block_size);
        size_t want = len - done;
        if (skip == 0 && want >= f->block_size) { /* whole blocks straight into @buf */
            uint64_t blocks = want / f->block_size;
            r = blocks_io(f, false, lba, blocks, out + done);
            done += (size_t)(blocks * f->block_size);
            continue;
        }
        size_t n = MIN(want, (size_t)(f->block_size - skip));
        r = blocks_io(f, false, lba, 1, f->block);
        if (r == 0)
            memcpy(out + done, f->block + skip, n);
        done += n;
    }
    g_mutex_unlock(&f->lock);
    return r < 0 ? r : (ssize_t)len;
}

/* Writes @n bytes at @skip inside block @lba, keeping the rest of the block. */
static int write_partial(IscsiIO *f, uint64_t lba, uint32_t skip, const uint8_t *data, size_t n)
{
    int r = blocks_io(f, false, lba, 1, f->block);
    if (r < 0)
        return r;
    if (data)
        memcpy(f->block + skip, data, n);
    else
        memset(f->block + skip, 0, n);
    return blocks_io(f, true, lba, 1, f->block);
}

static ssize_t iscsi_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    IscsiIO *f = (IscsiIO *)io;
    if (offset > f->size || len > f->size - offset)
        return -ENOSPC; /* a LUN does not grow */
    const uint8_t *in = buf;
    size_t done = 0;
    int r = 0;
    g_mutex_lock(&f->lock);
    while (r == 0 && done < len) {
        uint64_t pos = offset + done;
        uint64_t lba = pos / f->block_size;
        uint32_t skip = (uint32_t)(pos % f->block_size);
        size_t want = len - done;
        if (skip == 0 && want >= f->block_size) {
            uint64_t blocks = want / f->block_size;
            r = blocks_io(f, true, lba, blocks, (uint8_t *)in + done);
            done += (size_t)(blocks * f->block_size);
            continue;
        }
        size_t n = MIN(want, (size_t)(f->block_size - skip));
        r = write_partial(f, lba, skip, in + done, n);
        done += n;
    }
    g_mutex_unlock(&f->lock);
    return r < 0 ? r : (ssize_t)len;
}

static int iscsi_flush(PdIO *io)
{
    IscsiIO *f = (IscsiIO *)io;
    g_mutex_lock(&f->lock);
    int r = pd_iscsi_sync_cache(f->session, f->lun);
    g_mutex_unlock(&f->lock);
    return r;
}

static int iscsi_truncate(PdIO *io, uint64_t size)
{
    IscsiIO *f = (IscsiIO *)io;
    return size <= f->size ? 0 : -ENOSPC;
}

static int64_t iscsi_size(PdIO *io)
{
    return (int64_t)((IscsiIO *)io)->size;
}

/* UNMAP of the whole blocks inside the range; the partial blocks at its edges are zeroed so
 * the range reads back as zeroes (tgt and LBPRZ targets read unmapped blocks as zeroes). */
static int iscsi_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    IscsiIO *f = (IscsiIO *)io;
    if (!f->thin)
        return -ENOTSUP;
    if (offset >= f->size)
        return 0;
    len = MIN(len, f->size - offset);
    uint64_t bs = f->block_size;
    uint64_t first = (offset + bs - 1) / bs, end = (offset + len) / bs;
    int r = 0;
    g_mutex_lock(&f->lock);
    if (first >= end) { /* inside one block or two partial ones */
        for (uint64_t pos = offset; r == 0 && pos < offset + len;) {
            uint32_t skip = (uint32_t)(pos % bs);
            size_t n = (size_t)MIN(offset + len - pos, bs - skip);
            r = write_partial(f, pos / bs, skip, NULL, n);
            pos += n;
        }
        g_mutex_unlock(&f->lock);
        return r;
    }
    if (offset % bs)
        r = write_partial(f, offset / bs, (uint32_t)(offset % bs), NULL, bs - offset % bs);
    for (uint64_t lba = first; r == 0 && lba < end;) {
        uint32_t n = (uint32_t)MIN(end - lba, 1u << 22);
        r = pd_iscsi_unmap(f->session, f->lun, lba, n);
        lba += n;
    }
    if (r == 0 && (offset + len) % bs)
        r = write_partial(f, end, 0, NULL, (offset + len) % bs);
    g_mutex_unlock(&f->lock);
    return r;
}

static PdIO *iscsi_reopen(PdIO *io, GError **error)
{
    IscsiIO *f = (IscsiIO *)io;
    PdIscsiTarget t = {
        .host = f->host,
        .port = f->port,
        .target_iqn = f->target_iqn,
        .initiator_iqn = f->initiator_iqn,
        .username = f->username,
        .password = f->password,
        .timeout = f->timeout,
    };
    return pd_io_iscsi_open(&t, f->lun, PD_IO_RDONLY, error);
}

static void iscsi_close(PdIO *io)
{
    IscsiIO *f = (IscsiIO *)io;
    pd_iscsi_close(f->session);
    g_mutex_clear(&f->lock);
    g_free(f->block);
    if (f->password) {
        explicit_bzero(f->password, strlen(f->password));
        g_free(f->password);
    }
    g_free(f->host);
    g_free(f->target_iqn);
    g_free(f->initiator_iqn);
    g_free(f->username);
    g_free(f->base.name);
    g_free(f);
}

static const PdIOOps iscsi_ops = {
    .pread = iscsi_pread,
    .pwrite = iscsi_pwrite,
    .flush = iscsi_flush,
    .truncate = iscsi_truncate,
    .size = iscsi_size,
    .allocated = iscsi_size,
    .discard = iscsi_discard,
    .reopen = iscsi_reopen,
    .close = iscsi_close,
};

/* Checks that LUN @lun of @session is a disk we may open with @flags; fills @info. */
static bool check_lun(PdIscsi *session, const char *name, int lun, PdIOFlags flags,
                      PdIscsiLun *info, GError **error)
{
    if (!pd_iscsi_lun_info(session, lun, info, error))
        return false;
    if (info->device_type != 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "iSCSI LUN %s is not a disk (SCSI device type 0x%02x)", name,
                    (unsigned)info->device_type);
        return false;
    }
    if ((flags & PD_IO_RDWR) && info->read_only) {
        g_set_error(error, PD_ERROR, PD_ERROR_READ_ONLY,
                    "iSCSI LUN %s is read-only (write-protected by the target)", name);
        return false;
    }
    return true;
}

PdIO *pd_io_iscsi_open(const PdIscsiTarget *target, int lun, PdIOFlags flags, GError **error)
{
    g_autoptr(PdIscsi) session = pd_iscsi_connect(target, error);
    if (!session)
        return NULL;
    g_autofree char *name = g_strdup_printf("%s/%d", pd_iscsi_name(session), lun);
    PdIscsiLun info = {0};
    if (!check_lun(session, name, lun, flags, &info, error)) {
        pd_iscsi_lun_clear(&info);
        return NULL;
    }
    IscsiIO *f = g_new0(IscsiIO, 1);
    f->base.ops = &iscsi_ops;
    f->base.name = g_steal_pointer(&name);
    f->base.read_only = !(flags & PD_IO_RDWR);
    f->base.fixed_size = true;
    f->session = g_steal_pointer(&session);
    f->lun = lun;
    f->block_size = info.block_size;
    f->size = info.blocks * info.block_size;
    f->thin = info.thin;
    g_mutex_init(&f->lock);
    f->block = g_malloc(info.block_size);
    f->host = g_strdup(target->host);
    f->port = target->port;
    f->target_iqn = g_strdup(target->target_iqn);
    f->initiator_iqn = g_strdup(target->initiator_iqn);
    f->username = g_strdup(target->username);
    f->password = g_strdup(target->password);
    f->timeout = target->timeout;
    pd_iscsi_lun_clear(&info);
    return &f->base;
}

uint32_t pd_io_iscsi_block_size(PdIO *io)
{
    g_return_val_if_fail(io->ops == &iscsi_ops, 0);
    return ((IscsiIO *)io)->block_size;
}
