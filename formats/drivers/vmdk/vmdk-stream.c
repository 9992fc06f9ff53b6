/* The streamOptimized writer (see vmdk-stream.h). Grains of zeroes are left out (they read
 * as zeroes); the others are deflated (zlib) on every core, a batch at a time, and written in
 * guest order. */
#include "formats/drivers/vmdk/vmdk-stream.h"
#include "formats/drivers/vmdk/vmdk.h"
#include "common/pd-error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define GRAIN_SECTORS 128
#define GRAIN         (GRAIN_SECTORS * VMDK_SECTOR)
#define GTES          512
#define BATCH         32 /* grains read and compressed together (2 MiB) */
#define DESC_SECTORS  20
#define FIRST_GRAIN   (1 + DESC_SECTORS) /* sectors */
#define MARKER_LEN    12

typedef struct {
    PdIO *io;
    uint64_t pos; /* next byte to write (sector-aligned) */
    uint32_t *gd;
    uint32_t gd_len;
    uint32_t gt[GTES];
    bool gt_used;
} Stream;

typedef struct {
    const uint8_t *in; /* BATCH grains */
    uint8_t *out;      /* BATCH slots of bound bytes */
    size_t bound;
    uLongf len[BATCH];
    bool skip[BATCH];
    int rc[BATCH];
} Batch;

static void compress_one(size_t i, void *data)
{
    Batch *b = data;
    if (b->skip[i])
        return;
    b->len[i] = (uLongf)(b->bound - MARKER_LEN);
    b->rc[i] = compress2(b->out + i * b->bound + MARKER_LEN, &b->len[i], b->in + i * GRAIN, GRAIN,
                         Z_DEFAULT_COMPRESSION);
}

static bool put(Stream *s, const void *buf, size_t len, GError **error)
{
    size_t padded = (len + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    if (s->pos / VMDK_SECTOR + padded / VMDK_SECTOR > UINT32_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                    "Image '%s': a streamOptimized vmdk cannot be larger than 2 TiB", s->io->name);
        return false;
    }
    if (!pd_io_pwrite_full(s->io, buf, len, s->pos, error))
        return false;
    if (padded > len) {
        static const uint8_t zero[VMDK_SECTOR];
        if (!pd_io_pwrite_full(s->io, zero, padded - len, s->pos + len, error))
            return false;
    }
    s->pos += padded;
    return true;
}

static bool put_marker(Stream *s, uint64_t val, uint32_t type, GError **error)
{
    uint8_t m[VMDK_SECTOR] = {0};
    vmdk_put_le64(m, val);
    vmdk_put_le32(m + 12, type);
    return put(s, m, sizeof m, error);
}

/* The grain table of group @g, if any grain of it was written. */
static bool flush_gt(Stream *s, uint64_t g, GError **error)
{
    if (!s->gt_used)
        return true;
    if (!put_marker(s, GTES * 4 / VMDK_SECTOR, VMDK_MARKER_GT, error))
        return false;
    s->gd[g] = (uint32_t)(s->pos / VMDK_SECTOR);
    uint8_t gt[GTES * 4];
    for (int i = 0; i < GTES; i++)
        vmdk_put_le32(gt + 4 * i, s->gt[i]);
    memset(s->gt, 0, sizeof s->gt);
    s->gt_used = false;
    return put(s, gt, sizeof gt, error);
}

static void header(uint8_t h[VMDK_SECTOR], uint64_t capacity, uint64_t gd_offset)
{
    memset(h, 0, VMDK_SECTOR);
    memcpy(h, VMDK4_MAGIC, 4);
    vmdk_put_le32(h + 4, 3);
    vmdk_put_le32(h + 8, 1 | VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER); /* newline check */
    vmdk_put_le64(h + 12, capacity);
    vmdk_put_le64(h + 20, GRAIN_SECTORS);
    vmdk_put_le64(h + 28, 1);
    vmdk_put_le64(h + 36, DESC_SECTORS);
    vmdk_put_le32(h + 44, GTES);
    vmdk_put_le64(h + 56, gd_offset);
    vmdk_put_le64(h + 64, FIRST_GRAIN);
    memcpy(h + 73, "\n \r\n", 4);
    h[77] = VMDK_COMPRESS_DEFLATE;
}

static bool write_head(Stream *s, const char *name, uint64_t capacity, const PdVmdkStreamOptions *o,
                       GError **error)
{
    uint8_t h[VMDK_SECTOR];
    header(h, capacity, VMDK_GD_AT_END);
    uint64_t cyl = MIN(capacity / (16 * 63), 16383);
    g_autofree char *base = g_path_get_basename(name);
    g_autofree char *desc = g_strdup_printf(
        "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=ffffffff\n"
        "createType=\"streamOptimized\"\n\n# Extent description\nRW %" G_GUINT64_FORMAT
        " SPARSE \"%s\"\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"%s\"\n"
        "ddb.geometry.cylinders = \"%" G_GUINT64_FORMAT "\"\nddb.geometry.heads = \"16\"\n"
        "ddb.geometry.sectors = \"63\"\nddb.adapterType = \"%s\"\nddb.toolsVersion = \"%s\"\n",
        g_random_int(), capacity, base, o->hw_version ? o->hw_version : "4", cyl,
        o->adapter_type ? o->adapter_type : "ide",
        o->tools_version ? o->tools_version : "2147483647");
    if (strlen(desc) > DESC_SECTORS * VMDK_SECTOR) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': the descriptor is too long (a file name or option too long)",
                    name);
        return false;
    }
    g_autofree uint8_t *area = g_malloc0(DESC_SECTORS * VMDK_SECTOR);
    memcpy(area, desc, strlen(desc));
    return put(s, h, sizeof h, error) && put(s, area, DESC_SECTORS * VMDK_SECTOR, error);
}

static bool write_tail(Stream *s, uint64_t capacity, GError **error)
{
    size_t gd_bytes = (size_t)s->gd_len * 4;
    uint32_t gd_sectors = (uint32_t)((gd_bytes + VMDK_SECTOR - 1) / VMDK_SECTOR);
    if (!put_marker(s, gd_sectors, VMDK_MARKER_GD, error))
        return false;
    uint64_t gd_at = s->pos / VMDK_SECTOR;
    g_autofree uint8_t *gd = g_malloc0(MAX(gd_bytes, 1));
    for (uint32_t i = 0; i < s->gd_len; i++)
        vmdk_put_le32(gd + 4 * i, s->gd[i]);
    uint8_t h[VMDK_SECTOR];
    header(h, capacity, gd_at);
    uint8_t eos[VMDK_SECTOR] = {0};
    return (!gd_bytes || put(s, gd, gd_bytes, error)) &&
           put_marker(s, 1, VMDK_MARKER_FOOTER, error) && put(s, h, sizeof h, error) &&
           put(s, eos, sizeof eos, error);
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* Grains [first, first + n) of the guest: read, compress, write. */
static bool write_batch(Stream *s, PdImage *src, uint64_t first, size_t n, uint8_t *in, Batch *b,
                        GError **error)
{
    uint64_t size = pd_image_size(src), off = first * GRAIN;
    uint64_t len = MIN((uint64_t)n * GRAIN, size - off);
    PdBlockStatus st;
    if (!pd_image_block_status(src, off, len, &st, error))
        return false;
    if (!(st.flags & PD_BLOCK_DATA) && st.length >= len)
        return true; /* all zeroes */
    memset(in, 0, (size_t)n * GRAIN);
    if (!pd_image_read(src, off, in, (size_t)len, error))
        return false;
    for (size_t i = 0; i < n; i++)
        b->skip[i] = all_zero(in + i * GRAIN, GRAIN);
    b->in = in;
    pd_parallel_for(n, compress_one, b);
    for (size_t i = 0; i < n; i++) {
        if (b->skip[i])
            continue;
        if (b->rc[i] != Z_OK) {
            g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "Image '%s': zlib error %d compressing",
                        s->io->name, b->rc[i]);
            return false;
        }
        uint64_t g = first + i;
        uint8_t *m = b->out + i * b->bound;
        vmdk_put_le64(m, g * GRAIN_SECTORS);
        vmdk_put_le32(m + 8, (uint32_t)b->len[i]);
        s->gt[g % GTES] = (uint32_t)(s->pos / VMDK_SECTOR);
        s->gt_used = true;
        if (!put(s, m, MARKER_LEN + b->len[i], error))
            return false;
    }
    return true;
}

static bool stream_all(Stream *s, PdImage *src, const char *name, const PdVmdkStreamOptions *o,
                       GError **error)
{
    uint64_t size = pd_image_size(src);
    uint64_t capacity = (size + VMDK_SECTOR - 1) / VMDK_SECTOR;
    uint64_t grains = (capacity + GRAIN_SECTORS - 1) / GRAIN_SECTORS;
    uint64_t groups = (grains + GTES - 1) / GTES;
    if (groups > VMDK_MAX_GD_ENTRIES) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "Image '%s': too large for a vmdk",
                    name);
        return false;
    }
    s->gd_len = (uint32_t)groups;
    s->gd = g_new0(uint32_t, MAX(groups, 1));
    if (!write_head(s, name, capacity, o, error))
        return false;
    g_autofree uint8_t *in = g_malloc((size_t)BATCH * GRAIN);
    Batch b = {.bound = MARKER_LEN + compressBound(GRAIN)};
    g_autofree uint8_t *out = g_malloc(BATCH * b.bound);
    b.out = out;
    for (uint64_t g = 0; g < grains;) {
        if (o->cancel && g_atomic_int_get(o->cancel)) {
            g_set_error(error, PD_ERROR, PD_ERROR_CANCELLED, "Conversion to '%s' cancelled", name);
            return false;
        }
        /* A batch stays inside one grain table's group. */
        size_t n = (size_t)MIN(MIN((uint64_t)BATCH, grains - g), GTES - g % GTES);
        if (!write_batch(s, src, g, n, in, &b, error))
            return false;
        g += n;
        if ((g % GTES == 0 || g == grains) && !flush_gt(s, (g - 1) / GTES, error))
            return false;
        if (o->progress)
            o->progress(MIN(g * GRAIN, size), size, o->progress_data);
    }
    return write_tail(s, capacity, error);
}

bool pd_vmdk_stream_write(PdImage *src, const char *path, const PdVmdkStreamOptions *opts,
                          GError **error)
{
    static const PdVmdkStreamOptions none = {0};
    const PdVmdkStreamOptions *o = opts ? opts : &none;
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *tmp = g_strdup_printf("%s/.%s.partial-%d", dir, base, (int)getpid());
    Stream s = {0};
    s.io = pd_io_file_open(tmp, PD_IO_RDWR | PD_IO_CREATE | PD_IO_TRUNC, 0644, error);
    if (!s.io) {
        g_prefix_error(error, "Could not create '%s': ", path);
        return false;
    }
    bool ok = stream_all(&s, src, path, o, error) && pd_io_flush(s.io, error);
    pd_io_close(s.io);
    g_free(s.gd);
    if (ok && rename(tmp, path) < 0) {
        pd_error_set_errno(error, errno, "Could not create '%s'", path);
        ok = false;
    }
    if (!ok)
        (void)unlink(tmp);
    return ok;
}
