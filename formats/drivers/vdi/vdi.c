/* vdi (VirtualBox), read-only, static and dynamic, as qemu-img 7.2 reads it.
 *
 * Header (little-endian, 512 bytes): a text line, the signature 0xbeda107f at 0x40, version
 * 1.1 at 0x44, the block map offset at 0x154, the data offset at 0x158, the sector size at
 * 0x168, the disk size at 0x170, the block size at 0x178 (qemu: 1 MiB only), blocks in the
 * image at 0x180, the link and parent UUIDs at 0x1a8 and 0x1b8 (both must be null). The block
 * map holds one u32 per block: the block's index in the data area, or 0xffffffff
 * (unallocated) / 0xfffffffe (discarded), which read as zeroes. */
#include "formats/image/image-driver.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <string.h>

#define VDI_SECTOR          512
#define VDI_SIGNATURE       0xbeda107fu
#define VDI_VERSION_1_1     0x00010001u
#define VDI_BLOCK_SIZE      (1024 * 1024)
#define VDI_BLOCKS_MAX      0x3fffffffu
#define VDI_DISCARDED       0xfffffffeu
#define VDI_IS_ALLOCATED(e) ((e) < VDI_DISCARDED)

typedef struct {
    uint64_t offset_data;
    uint32_t *bmap;
    uint32_t blocks;
    uint64_t file_size;
} VdiState;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int vdi_probe(const uint8_t *buf, size_t len, const char *filename)
{
    return len >= 512 && le32(buf + 0x40) == VDI_SIGNATURE ? 100 : 0;
}

static bool unsupported(GError **error, PdImage *img, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static bool unsupported(GError **error, PdImage *img, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PD_ERROR, code, "Image '%s': %s", img->io->name, msg);
    return false;
}

static bool check_header(PdImage *img, const uint8_t *h, uint64_t *disk_size, GError **error)
{
    static const uint8_t null_uuid[16];
    uint32_t version = le32(h + 0x44), bmap = le32(h + 0x154), data = le32(h + 0x158);
    uint32_t sector = le32(h + 0x168), block = le32(h + 0x178), blocks = le32(h + 0x180);
    uint64_t size = le64(h + 0x170);
    int u = PD_ERROR_UNSUPPORTED;
    if (size > (uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE)
        return unsupported(error, img, u,
                           "Unsupported VDI image size (size is 0x%" G_GINT64_MODIFIER
                           "x, max supported is 0x%" G_GINT64_MODIFIER "x)",
                           size, (uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE);
    size = (size + VDI_SECTOR - 1) / VDI_SECTOR * VDI_SECTOR; /* odd sizes round up, as qemu */
    if (le32(h + 0x40) != VDI_SIGNATURE)
        return unsupported(error, img, PD_ERROR_CORRUPT,
                           "Image not in VDI format (bad signature %08x)", le32(h + 0x40));
    if (version != VDI_VERSION_1_1)
        return unsupported(error, img, u, "unsupported VDI image (version %u.%u)", version >> 16,
                           version & 0xffff);
    if (bmap % VDI_SECTOR)
        return unsupported(error, img, u, "unsupported VDI image (unaligned block map offset 0x%x)",
                           bmap);
    if (data % VDI_SECTOR)
        return unsupported(error, img, u, "unsupported VDI image (unaligned data offset 0x%x)",
                           data);
    if (sector != VDI_SECTOR)
        return unsupported(error, img, u, "unsupported VDI image (sector size %u is not %u)",
                           sector, VDI_SECTOR);
    if (block != VDI_BLOCK_SIZE)
        return unsupported(error, img, u, "unsupported VDI image (block size %u is not %u)", block,
                           VDI_BLOCK_SIZE);
    if (size > (uint64_t)blocks * block)
        return unsupported(error, img, u,
                           "unsupported VDI image (disk size %" G_GUINT64_FORMAT
                           ", image bitmap has room for %" G_GUINT64_FORMAT ")",
                           size, (uint64_t)blocks * block);
    if (memcmp(h + 0x1a8, null_uuid, 16) != 0)
        return unsupported(error, img, u, "unsupported VDI image (non-NULL link UUID)");
    if (memcmp(h + 0x1b8, null_uuid, 16) != 0)
        return unsupported(error, img, u, "unsupported VDI image (non-NULL parent UUID)");
    if (blocks > VDI_BLOCKS_MAX)
        return unsupported(error, img, u, "unsupported VDI image (too many blocks %u, max is %u)",
                           blocks, VDI_BLOCKS_MAX);
    *disk_size = size;
    return true;
}

static bool vdi_open_state(PdImage *img, GError **error)
{
    VdiState *s = g_new0(VdiState, 1);
    img->priv = s;
    uint8_t h[512];
    if (!pd_io_get_size(img->io, &s->file_size, error))
        return false;
    if (s->file_size < sizeof h)
        return unsupported(error, img, PD_ERROR_CORRUPT,
                           "the file is too small for a VDI header: truncated?");
    if (!pd_io_pread_full(img->io, h, sizeof h, 0, error) ||
        !check_header(img, h, &img->size, error))
        return false;
    s->blocks = le32(h + 0x180);
    s->offset_data = le32(h + 0x158);
    uint64_t bmap_off = le32(h + 0x154), bmap_bytes = (uint64_t)s->blocks * 4;
    if (bmap_off + bmap_bytes > s->file_size)
        return unsupported(error, img, PD_ERROR_CORRUPT,
                           "the block map (%u entries at 0x%" G_GINT64_MODIFIER
                           "x) lies past the end of the file: truncated?",
                           s->blocks, bmap_off);
    s->bmap = g_new(uint32_t, MAX(s->blocks, 1));
    if (bmap_bytes && !pd_io_pread_full(img->io, s->bmap, (size_t)bmap_bytes, bmap_off, error))
        return false;
    for (uint32_t i = 0; i < s->blocks; i++)
        s->bmap[i] = GUINT32_FROM_LE(s->bmap[i]);
    return true;
}

static void vdi_close(PdImage *img)
{
    VdiState *s = img->priv;
    if (s)
        g_free(s->bmap);
    g_free(s);
    img->priv = NULL;
}

/* The driver's open: the image layer calls no close after a failed open (image.c), so what a
 * failed open made is freed here. */
static bool vdi_open(PdImage *img, GError **error)
{
    if (vdi_open_state(img, error))
        return true;
    vdi_close(img);
    return false;
}

/* Where guest byte @offset lies in the file (*ret_alloc false: not allocated), false (with
 * @error) if outside it. */
static bool locate(PdImage *img, uint64_t offset, size_t len, bool *ret_alloc, uint64_t *ret,
                   GError **error)
{
    VdiState *s = img->priv;
    uint64_t block = offset / VDI_BLOCK_SIZE;
    uint32_t e = block < s->blocks ? s->bmap[block] : 0xffffffffu;
    *ret_alloc = VDI_IS_ALLOCATED(e);
    *ret = 0;
    if (!*ret_alloc)
        return true;
    uint64_t at = s->offset_data + (uint64_t)e * VDI_BLOCK_SIZE + offset % VDI_BLOCK_SIZE;
    if (at + len > s->file_size)
        return unsupported(error, img, PD_ERROR_CORRUPT,
                           "block %" G_GUINT64_FORMAT " lies past the end of the file: truncated?",
                           block);
    *ret = at;
    return true;
}

static bool vdi_read(PdImage *img, uint64_t offset, void *vbuf, size_t len, GError **error)
{
    uint8_t *buf = vbuf;
    while (len > 0) {
        size_t n = (size_t)MIN((uint64_t)len, VDI_BLOCK_SIZE - offset % VDI_BLOCK_SIZE);
        uint64_t at = 0;
        bool alloc = false;
        if (!locate(img, offset, n, &alloc, &at, error))
            return false;
        if (!alloc)
            memset(buf, 0, n);
        else if (!pd_io_pread_full(img->io, buf, n, at, error))
            return false;
        buf += n;
        offset += n;
        len -= n;
    }
    return true;
}

static bool vdi_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                             GError **error)
{
    uint64_t n = MIN(len, VDI_BLOCK_SIZE - offset % VDI_BLOCK_SIZE);
    uint64_t at = 0;
    bool alloc = false;
    if (!locate(img, offset, (size_t)n, &alloc, &at, error))
        return false;
    /* Like qemu, data lying in a hole of the file reads as zeroes and says so. */
    PdIO *io = img->io;
    uint64_t run = n;
    if (alloc && io->ops->data_status && io->ops->data_status(io, at, n, &run) == 0) {
        ret->length = MAX(MIN(run, n), 1);
        ret->flags = PD_BLOCK_ALLOCATED | PD_BLOCK_DATA | PD_BLOCK_OFFSET_VALID | PD_BLOCK_ZERO;
        ret->host_offset = at;
        return true;
    }
    if (alloc && run < n)
        n = MAX(run, 1);
    ret->length = n;
    ret->flags =
        PD_BLOCK_ALLOCATED | (alloc ? PD_BLOCK_DATA | PD_BLOCK_OFFSET_VALID : PD_BLOCK_ZERO);
    ret->host_offset = at;
    return true;
}

static bool vdi_get_info(PdImage *img, PdImageInfo *ret, GError **error)
{
    ret->cluster_size = VDI_BLOCK_SIZE;
    return true;
}

const PdImageDriver pd_vdi_driver = {
    .name = "vdi",
    .format = PD_FORMAT_VDI,
    .flags = PD_DRIVER_READ_ONLY,
    .probe = vdi_probe,
    .open = vdi_open,
    .close = vdi_close,
    .read = vdi_read,
    .block_status = vdi_block_status,
    .get_info = vdi_get_info,
};
