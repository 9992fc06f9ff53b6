/* qcow2 compressed clusters.
 *
 * Descriptor (L2 entry with bit 62 set), x = 62 - (cluster_bits - 8):
 *   bits 0..x-1   host offset of the compressed data (any byte)
 *   bits x..61    number of additional 512-byte sectors the data touches
 * Data: raw deflate with a 4 KiB window (compression_type 0) or zstd frames (type 1).
 *
 * qcow2_compress only reads the geometry of the image: it is pure and thread-safe, so the
 * convert engine runs it on every core. */
#include "formats/drivers/qcow2/qcow2.h"
#include "common/pd-error.h"

#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* One deflate and one inflate stream per thread, reset between clusters: setting a stream
 * up costs about a fifth of compressing a cluster. Freed when the thread exits. */
static void free_deflate(gpointer p)
{
    deflateEnd(p);
    g_free(p);
}
static void free_inflate(gpointer p)
{
    inflateEnd(p);
    g_free(p);
}
static void free_cctx(gpointer p)
{
    ZSTD_freeCCtx(p);
}
static void free_dctx(gpointer p)
{
    ZSTD_freeDCtx(p);
}
static GPrivate deflate_key = G_PRIVATE_INIT(free_deflate);
static GPrivate inflate_key = G_PRIVATE_INIT(free_inflate);
static GPrivate cctx_key = G_PRIVATE_INIT(free_cctx);
static GPrivate dctx_key = G_PRIVATE_INIT(free_dctx);

static ZSTD_CCtx *thread_cctx(void)
{
    ZSTD_CCtx *c = g_private_get(&cctx_key);
    if (!c && (c = ZSTD_createCCtx()))
        g_private_set(&cctx_key, c);
    return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
    ZSTD_DCtx *d = g_private_get(&dctx_key);
    if (!d && (d = ZSTD_createDCtx()))
        g_private_set(&dctx_key, d);
    else if (d)
        ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    return d;
}

static z_stream *thread_deflate(void)
{
    z_stream *z = g_private_get(&deflate_key);
    if (z)
        return deflateReset(z) == Z_OK ? z : NULL;
    z = g_new0(z_stream, 1);
    if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        g_free(z);
        return NULL;
    }
    g_private_set(&deflate_key, z);
    return z;
}

static z_stream *thread_inflate(void)
{
    z_stream *z = g_private_get(&inflate_key);
    if (z)
        return inflateReset(z) == Z_OK ? z : NULL;
    z = g_new0(z_stream, 1);
    if (inflateInit2(z, -12) != Z_OK) {
        g_free(z);
        return NULL;
    }
    g_private_set(&inflate_key, z);
    return z;
}

static ssize_t compress_zlib(const void *in, size_t in_len, void *out, size_t out_len)
{
    z_stream *z = thread_deflate();
    if (!z)
        return -1;
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)in_len;
    z->next_out = out;
    z->avail_out = (uInt)out_len;
    int r = deflate(z, Z_FINISH);
    return r == Z_STREAM_END ? (ssize_t)(out_len - z->avail_out) : 0; /* 0: store it plain */
}

static ssize_t compress_zstd(const void *in, size_t in_len, void *out, size_t out_len)
{
    ZSTD_CCtx *c = thread_cctx();
    if (!c)
        return -1;
    size_t r = ZSTD_compressCCtx(c, out, out_len, in, in_len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? 0 : -1;
    return (ssize_t)r;
}

ssize_t qcow2_compress(PdImage *img, const void *cluster, void *out, size_t out_len, GError **error)
{
    const Qcow2State *s = qcow2_state(img);
    size_t cs = s->cluster_size;
    /* only worth it when it saves at least one sector */
    size_t limit = MIN(out_len, cs > 512 ? cs - 512 : cs - 1);
    ssize_t n = s->compression_type == PD_COMPRESSION_ZSTD ? compress_zstd(cluster, cs, out, limit)
                                                           : compress_zlib(cluster, cs, out, limit);
    if (n < 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "Image '%s': compression failed",
                    img->io->name);
        return -1;
    }
    return n;
}

static bool decompress_zlib(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    z_stream *z = thread_inflate();
    if (!z)
        return false;
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)in_len;
    z->next_out = out;
    z->avail_out = (uInt)out_len;
    int r = inflate(z, Z_FINISH);
    return (r == Z_STREAM_END || r == Z_BUF_ERROR || r == Z_OK) && z->avail_out == 0;
}

static bool decompress_zstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    ZSTD_DCtx *dctx = thread_dctx();
    if (!dctx)
        return false;
    ZSTD_inBuffer ib = {in, in_len, 0};
    ZSTD_outBuffer ob = {out, out_len, 0};
    bool ok = true;
    /* the data may hold several frames and is followed by sector padding */
    while (ob.pos < ob.size && ib.pos < ib.size) {
        size_t r = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(r)) {
            ok = false;
            break;
        }
        if (r != 0 && ib.pos == ib.size)
            break;
    }
    return ok && ob.pos == ob.size;
}

bool qcow2_read_compressed(PdImage *img, uint64_t l2_entry, uint8_t *out, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t off = l2_entry & s->cluster_offset_mask;
    uint64_t sectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;
    uint64_t csize = sectors * 512 - (off & 511);
    uint64_t file_size;
    if (!pd_io_get_size(img->io, &file_size, error))
        return false;
    if (off < s->cluster_size || off >= file_size) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s' is corrupt: compressed cluster at 0x%" G_GINT64_MODIFIER
                    "x lies outside the file",
                    img->io->name, off);
        return false;
    }
    if (!s->cluster_data)
        s->cluster_data = g_malloc(2 * s->cluster_size);
    if (!pd_io_pread_full(img->io, s->cluster_data, csize, off, error))
        return false;
    bool ok = s->compression_type == PD_COMPRESSION_ZSTD
                  ? decompress_zstd(s->cluster_data, csize, out, s->cluster_size)
                  : decompress_zlib(s->cluster_data, csize, out, s->cluster_size);
    if (!ok) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s' is corrupt: compressed cluster at 0x%" G_GINT64_MODIFIER
                    "x does not decompress",
                    img->io->name, off);
        return false;
    }
    return true;
}

bool qcow2_write_compressed(PdImage *img, uint64_t offset, const void *data, size_t len,
                            GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!qcow2_is_aligned(s, offset) || len == 0 || len > s->cluster_size) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': compressed write of %zu bytes at %" G_GUINT64_FORMAT
                    " is not one cluster",
                    img->io->name, len, offset);
        return false;
    }
    if (offset >= img->size) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': compressed write past the end", img->io->name);
        return false;
    }
    if (len == s->cluster_size) /* not compressed: a plain cluster */
        return qcow2_co_write(img, offset, data, MIN(len, img->size - offset), error);
    if (!qcow2_mark_bitmaps_in_use(img, error))
        return false;
    PdBlockStatus st;
    if (!qcow2_co_block_status(img, offset, MIN(s->cluster_size, img->size - offset), &st, error))
        return false;
    if ((st.flags & PD_BLOCK_ALLOCATED) && !(st.flags & PD_BLOCK_ZERO)) {
        g_set_error(
            error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
            "Image '%s': compressed writes need an unallocated cluster (offset %" G_GUINT64_FORMAT
            ")",
            img->io->name, offset);
        return false;
    }
    /* Make sure the L2 table exists first (through a zero write of nothing: the table is
     * allocated by the cluster code); then pack the data. */
    uint64_t host;
    if (!qcow2_alloc_bytes(img, len, &host, error))
        return false;
    if (!qcow2_check_data_overlap(img, host, len, error) ||
        !pd_io_pwrite_full(img->io, data, len, host, error))
        return false;
    uint64_t sectors = ((host + len - 1) >> 9) - (host >> 9);
    uint64_t entry = QCOW2_OFLAG_COMPRESSED | (sectors << s->csize_shift) | host;
    return qcow2_set_l2_entry(img, offset, entry, error);
}
