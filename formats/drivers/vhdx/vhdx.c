/* vhdx, read-only (dynamic and fixed), as qemu-img 7.2 reads it.
 *
 * Layout (all little-endian): the file identifier "vhdxfile" at 0; two headers at 64 KiB and
 * 128 KiB ("head", CRC-32C over 4 KiB; the valid one with the higher sequence number is
 * current); two region tables at 192 KiB and 256 KiB ("regi", CRC-32C over 64 KiB) naming the
 * BAT and the metadata region; the metadata table ("metadata") with the file parameters
 * (block size, has-parent), the virtual disk size and the logical sector size; the BAT, one
 * 64-bit entry per payload block (state in bits 0-2, file offset in MiB in bits 20-63), with
 * a sector-bitmap entry after every chunk-ratio payload entries.
 *
 * A header naming a log (non-zero log GUID) whose log holds a valid entry needs a replay:
 * qemu-img refuses to read such an image read-only, and so does this driver (never read
 * stale). Differencing images (has-parent) are refused, as qemu-img does. qemu reports every
 * byte of a vhdx as data (it has no block-status callback for vhdx); so does this driver,
 * reading unallocated blocks as zeroes. */
#include "formats/image/image-driver.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <string.h>

#define KiB                   1024ULL
#define MiB                   (1024ULL * 1024)
#define HEADER_SIZE           (4 * KiB)
#define REGION_SIZE           (64 * KiB)
#define MAX_REGION_ENTRIES    2047
#define MAX_METADATA_ENTRIES  2047
#define MAX_VIRTUAL_SIZE      (64ULL * 1024 * 1024 * MiB) /* 64 TiB */
#define MAX_BAT_BYTES         (256 * MiB)
#define BAT_STATE_MASK        7
#define BAT_NOT_PRESENT       0
#define BAT_UNDEFINED         1
#define BAT_ZERO              2
#define BAT_UNMAPPED          3
#define BAT_FULLY_PRESENT     6
#define BAT_PARTIALLY_PRESENT 7
#define BAT_OFFSET_MASK       0xFFFFFFFFFFF00000ULL
#define PARAMS_HAS_PARENT     2
#define MAX_LOG_ENTRY         (32 * MiB)

/* GUIDs as stored (the first three fields little-endian). */
static const uint8_t guid_bat[16] = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                     0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
static const uint8_t guid_metadata[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                          0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
static const uint8_t guid_file_params[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                             0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};
static const uint8_t guid_disk_size[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                           0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
static const uint8_t guid_logical_sector[16] = {0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
                                                0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f};

typedef struct {
    uint64_t block_size;
    uint32_t logical_sector;
    uint64_t chunk_ratio;
    uint64_t *bat;
    uint64_t bat_entries;
    uint64_t file_size;
} VhdxState;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* CRC-32C (Castagnoli), as VHDX checksums use it: init ~0, final xor ~0. */
static uint32_t crc32c(const uint8_t *buf, size_t len, size_t skip_at)
{
    static uint32_t table[256];
    static gsize once;
    if (g_once_init_enter(&once)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        g_once_init_leave(&once, 1);
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (i >= skip_at && i < skip_at + 4) ? 0 : buf[i]; /* the checksum field */
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

static bool bad(GError **error, PdImage *img, const char *what)
{
    g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "Image '%s': %s", img->io->name, what);
    return false;
}

static int vhdx_probe(const uint8_t *buf, size_t len, const char *filename)
{
    return len >= 8 && memcmp(buf, "vhdxfile", 8) == 0 ? 100 : 0;
}

/* Reads @len bytes at @offset, which must lie inside the file. */
static bool read_in_file(PdImage *img, void *buf, size_t len, uint64_t offset, const char *what,
                         GError **error)
{
    VhdxState *s = img->priv;
    uint64_t end;
    if (!pd_add_u64(offset, len, &end) || end > s->file_size) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': the %s (at %" G_GUINT64_FORMAT ", %zu bytes) lies past the end "
                    "of the file: truncated?",
                    img->io->name, what, offset, len);
        return false;
    }
    return pd_io_pread_full(img->io, buf, len, offset, error);
}

/* The current header: the valid one of the two with the higher sequence number. */
static bool read_header(PdImage *img, uint8_t ret[HEADER_SIZE], GError **error)
{
    uint8_t h[2][HEADER_SIZE];
    bool valid[2];
    for (int i = 0; i < 2; i++) {
        if (!read_in_file(img, h[i], HEADER_SIZE, (uint64_t)(i + 1) * 64 * KiB, "header", error))
            return false;
        valid[i] = memcmp(h[i], "head", 4) == 0 && crc32c(h[i], HEADER_SIZE, 4) == le32(h[i] + 4) &&
                   (le32(h[i] + 64) >> 16) == 1; /* version */
    }
    if (!valid[0] && !valid[1])
        return bad(error, img, "No valid VHDX header found");
    int cur = !valid[0] ? 1 : !valid[1] ? 0 : le64(h[1] + 8) > le64(h[0] + 8) ? 1 : 0;
    memcpy(ret, h[cur], HEADER_SIZE);
    return true;
}

/* Refuses an image whose log holds an entry to replay (qemu-img's rule for read-only opens). */
static bool check_log(PdImage *img, const uint8_t *hdr, GError **error)
{
    static const uint8_t zero_guid[16];
    const uint8_t *log_guid = hdr + 48;
    if (memcmp(log_guid, zero_guid, 16) == 0)
        return true;
    uint64_t log_len = le32(hdr + 68), log_off = le64(hdr + 72);
    uint64_t end;
    if (log_len % MiB || log_off % MiB || !pd_add_u64(log_off, log_len, &end) ||
        end > ((VhdxState *)img->priv)->file_size)
        return bad(error, img, "the log region is out of range");
    g_autofree uint8_t *entry = g_malloc(HEADER_SIZE);
    for (uint64_t at = 0; at < log_len; at += HEADER_SIZE) {
        if (!pd_io_pread_full(img->io, entry, HEADER_SIZE, log_off + at, error))
            return false;
        uint32_t elen = le32(entry + 8);
        if (memcmp(entry, "loge", 4) != 0 || memcmp(entry + 32, log_guid, 16) != 0 ||
            elen < HEADER_SIZE || elen % HEADER_SIZE || elen > log_len - at || elen > MAX_LOG_ENTRY)
            continue;
        g_autofree uint8_t *whole = g_malloc(elen);
        if (!pd_io_pread_full(img->io, whole, elen, log_off + at, error))
            return false;
        if (crc32c(whole, elen, 4) != le32(whole + 4))
            continue;
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "VHDX image file '%s' opened read-only, but contains a log that needs to be "
                    "replayed; replay it first (qemu-img check -r all '%s'), then convert it",
                    img->io->name, img->io->name);
        return false;
    }
    return true;
}

/* The BAT and metadata regions from the (first valid) region table. */
static bool read_regions(PdImage *img, uint64_t *bat_off, uint64_t *bat_len, uint64_t *md_off,
                         uint64_t *md_len, GError **error)
{
    g_autofree uint8_t *r = g_malloc(REGION_SIZE);
    bool ok = false;
    for (int i = 0; i < 2 && !ok; i++) {
        if (!read_in_file(img, r, REGION_SIZE, (uint64_t)(192 + 64 * i) * KiB, "region table",
                          error))
            return false;
        ok = memcmp(r, "regi", 4) == 0 && crc32c(r, REGION_SIZE, 4) == le32(r + 4);
    }
    if (!ok)
        return bad(error, img, "no valid region table");
    uint32_t n = le32(r + 8);
    if (n > MAX_REGION_ENTRIES)
        return bad(error, img, "too many region table entries");
    *bat_len = *md_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = r + 16 + 32 * (size_t)i;
        uint64_t off = le64(e + 16), len = le32(e + 24);
        bool required = le32(e + 28) & 1;
        if (memcmp(e, guid_bat, 16) == 0 && !*bat_len) {
            *bat_off = off;
            *bat_len = len;
        } else if (memcmp(e, guid_metadata, 16) == 0 && !*md_len) {
            *md_off = off;
            *md_len = len;
        } else if (required) {
            return bad(error, img, "Unsupported required region (or one named twice)");
        }
        if (off % MiB || len % MiB || off < MiB)
            return bad(error, img, "a region is not aligned to 1 MiB (or overlaps the headers)");
    }
    if (!*bat_len || !*md_len)
        return bad(error, img, "the region table lacks the BAT or the metadata region");
    uint64_t bat_end = *bat_off + *bat_len, md_end = *md_off + *md_len;
    if (*bat_off < md_end && *md_off < bat_end)
        return bad(error, img, "the BAT and the metadata region overlap");
    return true;
}

/* One metadata item of the table at @md (@md_len bytes): its bytes, NULL if absent. */
static const uint8_t *metadata_item(PdImage *img, const uint8_t *md, uint64_t md_len,
                                    const uint8_t guid[16], uint32_t want, GError **error)
{
    uint32_t n = (uint32_t)(md[10] | md[11] << 8);
    for (uint32_t i = 0; i < n && i < MAX_METADATA_ENTRIES; i++) {
        const uint8_t *e = md + 32 + 32 * (size_t)i;
        if (memcmp(e, guid, 16) != 0)
            continue;
        uint64_t off = le32(e + 16), len = le32(e + 20);
        if (len < want || off < 64 * KiB || off + len > md_len) {
            bad(error, img, "a metadata item lies outside the metadata region");
            return NULL;
        }
        return md + off;
    }
    bad(error, img, "a required metadata item is missing");
    return NULL;
}

static bool read_metadata(PdImage *img, uint64_t md_off, uint64_t md_len, GError **error)
{
    VhdxState *s = img->priv;
    if (md_len > 16 * MiB)
        return bad(error, img, "the metadata region is larger than 16 MiB");
    g_autofree uint8_t *md = g_malloc((size_t)md_len);
    if (!read_in_file(img, md, (size_t)md_len, md_off, "metadata region", error))
        return false;
    if (memcmp(md, "metadata", 8) != 0 || (md[10] | md[11] << 8) > MAX_METADATA_ENTRIES)
        return bad(error, img, "invalid metadata table");
    const uint8_t *fp = metadata_item(img, md, md_len, guid_file_params, 8, error);
    const uint8_t *vs = fp ? metadata_item(img, md, md_len, guid_disk_size, 8, error) : NULL;
    const uint8_t *ls = vs ? metadata_item(img, md, md_len, guid_logical_sector, 4, error) : NULL;
    if (!ls)
        return false;
    s->block_size = le32(fp);
    if (le32(fp + 4) & PARAMS_HAS_PARENT) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': differencing VHDX images (with a parent) are not supported",
                    img->io->name);
        return false;
    }
    if (s->block_size < MiB || s->block_size > 256 * MiB || (s->block_size & (s->block_size - 1)))
        return bad(error, img, "invalid block size (1 MiB to 256 MiB, a power of two)");
    s->logical_sector = le32(ls);
    if (s->logical_sector != 512 && s->logical_sector != 4096)
        return bad(error, img, "invalid logical sector size (512 or 4096)");
    img->size = le64(vs);
    if (img->size > MAX_VIRTUAL_SIZE || img->size % s->logical_sector)
        return bad(error, img, "invalid virtual disk size");
    s->chunk_ratio = (8388608ULL * s->logical_sector) / s->block_size;
    return true;
}

static bool read_bat(PdImage *img, uint64_t bat_off, uint64_t bat_len, GError **error)
{
    VhdxState *s = img->priv;
    uint64_t blocks = img->size / s->block_size + (img->size % s->block_size != 0);
    s->bat_entries = blocks ? blocks + (blocks - 1) / s->chunk_ratio : 0;
    if (s->bat_entries * 8 > bat_len || bat_len > MAX_BAT_BYTES)
        return bad(error, img, "the BAT region is too small for the virtual size (or too large)");
    s->bat = g_new0(uint64_t, MAX(s->bat_entries, 1));
    if (s->bat_entries &&
        !read_in_file(img, s->bat, (size_t)(s->bat_entries * 8), bat_off, "BAT", error))
        return false;
    for (uint64_t i = 0; i < s->bat_entries; i++) {
        uint64_t e = GUINT64_FROM_LE(s->bat[i]);
        s->bat[i] = e;
        bool sector_bitmap = (i + 1) % (s->chunk_ratio + 1) == 0;
        unsigned st = e & BAT_STATE_MASK;
        if (sector_bitmap || (st != BAT_FULLY_PRESENT && st != BAT_PARTIALLY_PRESENT))
            continue;
        uint64_t off = e & BAT_OFFSET_MASK, end;
        if (off < MiB || !pd_add_u64(off, s->block_size, &end) || end > s->file_size)
            return bad(error, img, "a BAT entry points past the end of the file; image is corrupt");
    }
    return true;
}

static bool vhdx_open_state(PdImage *img, GError **error)
{
    VhdxState *s = g_new0(VhdxState, 1);
    img->priv = s;
    uint8_t ident[8];
    if (!pd_io_get_size(img->io, &s->file_size, error) ||
        !read_in_file(img, ident, sizeof ident, 0, "file identifier", error))
        return false;
    if (memcmp(ident, "vhdxfile", 8) != 0)
        return bad(error, img, "Not a VHDX file");
    g_autofree uint8_t *hdr = g_malloc(HEADER_SIZE);
    uint64_t bat_off = 0, bat_len = 0, md_off = 0, md_len = 0;
    return read_header(img, hdr, error) && check_log(img, hdr, error) &&
           read_regions(img, &bat_off, &bat_len, &md_off, &md_len, error) &&
           read_metadata(img, md_off, md_len, error) && read_bat(img, bat_off, bat_len, error);
}

static void vhdx_close(PdImage *img)
{
    VhdxState *s = img->priv;
    if (s)
        g_free(s->bat);
    g_free(s);
    img->priv = NULL;
}

/* The driver's open: the image layer calls no close after a failed open (image.c), so what a
 * failed open made is freed here. */
static bool vhdx_open(PdImage *img, GError **error)
{
    if (vhdx_open_state(img, error))
        return true;
    vhdx_close(img);
    return false;
}

static bool vhdx_read(PdImage *img, uint64_t offset, void *vbuf, size_t len, GError **error)
{
    VhdxState *s = img->priv;
    uint8_t *buf = vbuf;
    while (len > 0) {
        uint64_t block = offset / s->block_size, in = offset % s->block_size;
        size_t n = (size_t)MIN((uint64_t)len, s->block_size - in);
        uint64_t idx = block + block / s->chunk_ratio;
        uint64_t e = idx < s->bat_entries ? s->bat[idx] : 0;
        switch (e & BAT_STATE_MASK) {
        case BAT_FULLY_PRESENT:
            if (!pd_io_pread_full(img->io, buf, n, (e & BAT_OFFSET_MASK) + in, error))
                return false;
            break;
        case BAT_PARTIALLY_PRESENT:
            g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                        "Image '%s': block %" G_GUINT64_FORMAT " is partially present (a "
                        "differencing block), which is not supported",
                        img->io->name, block);
            return false;
        default: /* not present, undefined, zero, unmapped */
            memset(buf, 0, n);
        }
        buf += n;
        offset += n;
        len -= n;
    }
    return true;
}

/* qemu has no block status for vhdx: everything is data, in one piece. */
static bool vhdx_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                              GError **error)
{
    ret->length = len;
    ret->flags = PD_BLOCK_DATA | PD_BLOCK_ALLOCATED;
    return true;
}

static bool vhdx_get_info(PdImage *img, PdImageInfo *ret, GError **error)
{
    ret->cluster_size = ((VhdxState *)img->priv)->block_size;
    return true;
}

const PdImageDriver pd_vhdx_driver = {
    .name = "vhdx",
    .format = PD_FORMAT_VHDX,
    .flags = PD_DRIVER_READ_ONLY,
    .probe = vhdx_probe,
    .open = vhdx_open,
    .close = vhdx_close,
    .read = vhdx_read,
    .block_status = vhdx_block_status,
    .get_info = vhdx_get_info,
};
