/* vmdk sparse extents: header and footer, grain directory, grain tables (cached), and grain
 * reads, plain or compressed (inflated on every core). Every field from the file is checked
 * before use; every table read lies inside the file; allocations are bounded. */
#include "formats/drivers/vmdk/vmdk.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <string.h>
#include <zlib.h>

#define ALIGN_SECTOR(x) (((x) + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR)

/* A compressed grain is inflated into memory: bound its size (qemu-img and VMware write
 * 64 KiB grains). */
#define MAX_COMPRESSED_GRAIN (16u << 20)

void vmdk_header_parse(VmdkHeader *h, const uint8_t *b)
{
    h->version = vmdk_le32(b + 4);
    h->flags = vmdk_le32(b + 8);
    h->capacity = vmdk_le64(b + 12);
    h->granularity = vmdk_le64(b + 20);
    h->desc_offset = vmdk_le64(b + 28);
    h->desc_size = vmdk_le64(b + 36);
    h->num_gtes = vmdk_le32(b + 44);
    h->rgd_offset = vmdk_le64(b + 48);
    h->gd_offset = vmdk_le64(b + 56);
    h->grain_offset = vmdk_le64(b + 64);
    h->compress_algorithm = (uint16_t)(b[77] | b[78] << 8);
}

static bool corrupt(GError **error, const VmdkExtent *e, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool corrupt(GError **error, const VmdkExtent *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "vmdk extent '%s': %s", e->filename, msg);
    return false;
}

/* streamOptimized: the header with the real grain directory is in the footer. */
static bool read_footer(VmdkExtent *e, VmdkHeader *h, GError **error)
{
    uint64_t end = ALIGN_SECTOR(e->file_size);
    if (end < 1536)
        return corrupt(error, e, "Invalid footer (the file is too small to hold one)");
    uint8_t f[1536];
    if (!pd_io_pread_full(e->io, f, sizeof f, end - 1536, error))
        return false;
    if (memcmp(f + 512, VMDK4_MAGIC, 4) != 0 || vmdk_le32(f + 8) != 0 ||
        vmdk_le32(f + 12) != VMDK_MARKER_FOOTER || vmdk_le64(f + 1024) != 0 ||
        vmdk_le32(f + 1032) != 0 || vmdk_le32(f + 1036) != VMDK_MARKER_EOS)
        return corrupt(error, e, "Invalid footer");
    vmdk_header_parse(h, f + 512);
    return true;
}

static bool check_header(VmdkExtent *e, const VmdkHeader *h, GError **error)
{
    if (h->version > 3)
        return corrupt(error, e, "Unsupported VMDK version %u", h->version);
    if (h->num_gtes > VMDK_MAX_GTES)
        return corrupt(error, e, "L2 table size too big (%u entries)", h->num_gtes);
    if (h->granularity > VMDK_MAX_GRAIN_SECTORS)
        return corrupt(error, e, "Invalid granularity %" G_GUINT64_FORMAT ", image may be corrupt",
                       h->granularity);
    if (h->num_gtes == 0 || h->granularity == 0)
        return corrupt(error, e, "L1 entry size is invalid");
    if (h->capacity > (uint64_t)INT64_MAX / VMDK_SECTOR)
        return corrupt(error, e, "capacity of %" G_GUINT64_FORMAT " sectors is out of range",
                       h->capacity);
    uint64_t file_sectors = ALIGN_SECTOR(e->file_size) / VMDK_SECTOR;
    if (file_sectors < h->grain_offset) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "vmdk extent '%s': File truncated, expecting at least %" G_GUINT64_FORMAT
                    " bytes",
                    e->filename, h->grain_offset * VMDK_SECTOR);
        return false;
    }
    return true;
}

static bool load_gd(VmdkExtent *e, const VmdkHeader *h, GError **error)
{
    uint64_t per_gd = (uint64_t)h->num_gtes * h->granularity;
    uint64_t l1_size = h->capacity / per_gd + (h->capacity % per_gd != 0);
    if (l1_size > VMDK_MAX_GD_ENTRIES)
        return corrupt(error, e, "L1 size too big (%" G_GUINT64_FORMAT " entries)", l1_size);
    uint64_t gd_off, gd_end;
    uint64_t gd_bytes = l1_size * 4;
    if (h->gd_offset > UINT64_MAX / VMDK_SECTOR ||
        !pd_add_u64(h->gd_offset * VMDK_SECTOR, gd_bytes, &gd_end) || gd_end > e->file_size)
        return corrupt(error, e,
                       "the grain directory (%" G_GUINT64_FORMAT
                       " entries at sector %" G_GUINT64_FORMAT
                       ") lies past the end of the file: truncated?",
                       l1_size, h->gd_offset);
    gd_off = h->gd_offset * VMDK_SECTOR;
    e->gd_len = (uint32_t)l1_size;
    e->gd = g_new(uint32_t, MAX(l1_size, 1));
    if (gd_bytes && !pd_io_pread_full(e->io, e->gd, (size_t)gd_bytes, gd_off, error))
        return false;
    for (uint32_t i = 0; i < e->gd_len; i++)
        e->gd[i] = GUINT32_FROM_LE(e->gd[i]);
    return true;
}

bool vmdk_sparse_open(VmdkExtent *e, const VmdkHeader *hin, GError **error)
{
    VmdkHeader h = *hin;
    if (h.gd_offset == VMDK_GD_AT_END && !read_footer(e, &h, error))
        return false;
    if (!check_header(e, &h, error))
        return false;
    e->compressed = h.compress_algorithm == VMDK_COMPRESS_DEFLATE;
    e->has_marker = (h.flags & VMDK_FLAG_MARKER) != 0;
    e->zero_grain = (h.flags & VMDK_FLAG_ZERO_GRAIN) != 0;
    e->grain_bytes = h.granularity * VMDK_SECTOR;
    e->num_gtes = h.num_gtes;
    e->length = h.capacity * VMDK_SECTOR;
    if (e->compressed && e->grain_bytes > MAX_COMPRESSED_GRAIN)
        return corrupt(error, e,
                       "compressed grains of %" G_GUINT64_FORMAT " bytes are too large "
                       "(at most 16 MiB)",
                       e->grain_bytes);
    for (int i = 0; i < VMDK_GT_CACHE; i++)
        e->gt_cache[i].l1 = -1;
    return load_gd(e, &h, error);
}

bool vmdk_sparse_lookup(VmdkExtent *e, uint64_t rel, uint64_t *ret_sector, GError **error)
{
    uint64_t grain = rel / e->grain_bytes;
    uint64_t l1 = grain / e->num_gtes;
    uint32_t l2 = (uint32_t)(grain % e->num_gtes);
    if (l1 >= e->gd_len)
        return corrupt(error, e, "no grain directory entry for offset %" G_GUINT64_FORMAT, rel);
    if (e->gd[l1] == 0) {
        *ret_sector = 0;
        return true;
    }
    VmdkGtSlot *slot = &e->gt_cache[l1 % VMDK_GT_CACHE];
    if (slot->l1 != (int64_t)l1) {
        uint64_t off = (uint64_t)e->gd[l1] * VMDK_SECTOR;
        size_t bytes = (size_t)e->num_gtes * 4;
        if (off + bytes > e->file_size)
            return corrupt(error, e,
                           "grain table %" G_GUINT64_FORMAT " (at offset %" G_GUINT64_FORMAT
                           ") lies past the end of the file: truncated?",
                           l1, off);
        if (!slot->entries)
            slot->entries = g_new(uint32_t, e->num_gtes);
        slot->l1 = -1;
        if (!pd_io_pread_full(e->io, slot->entries, bytes, off, error))
            return false;
        for (uint32_t i = 0; i < e->num_gtes; i++)
            slot->entries[i] = GUINT32_FROM_LE(slot->entries[i]);
        slot->l1 = (int64_t)l1;
    }
    *ret_sector = slot->entries[l2];
    return true;
}

bool vmdk_sparse_read_grain(VmdkExtent *e, uint64_t sector, uint64_t rel, uint8_t *buf, size_t len,
                            GError **error)
{
    uint64_t off = sector * VMDK_SECTOR + rel % e->grain_bytes;
    if (off + len > e->file_size)
        return corrupt(error, e,
                       "grain at sector %" G_GUINT64_FORMAT " lies past the end of "
                       "the file: truncated?",
                       sector);
    return pd_io_pread_full(e->io, buf, len, off, error);
}

/* ---- compressed grains ------------------------------------------------------------- */

typedef struct {
    uint64_t sector;   /* of the marker (or the data, without markers) */
    uint64_t in_grain; /* first byte wanted */
    size_t len;        /* bytes wanted */
    uint8_t *out;
    const uint8_t *src; /* compressed bytes as stored, from the marker on */
    size_t src_len;     /* bytes available at src */
    uint8_t *scratch;   /* a whole grain, when only part of it is wanted */
    char *error;
} Grain;

typedef struct {
    VmdkExtent *e;
    Grain *g;
} InflateJob;

static void inflate_one(size_t i, void *data)
{
    InflateJob *job = data;
    VmdkExtent *e = job->e;
    Grain *g = &job->g[i];
    const uint8_t *z = g->src;
    size_t zlen = g->src_len;
    if (e->has_marker) {
        if (zlen < 12) {
            g->error = g_strdup("its marker is cut off by the end of the file");
            return;
        }
        size_t size = vmdk_le32(z + 8);
        if (size == 0 || size > zlen - 12) {
            g->error = g_strdup_printf("compressed size %zu is out of range", size);
            return;
        }
        z += 12;
        zlen = size;
    }
    bool whole = g->in_grain == 0 && g->len == e->grain_bytes;
    uint8_t *dst = whole ? g->out : g->scratch;
    uLongf out_len = (uLongf)e->grain_bytes;
    int r = uncompress(dst, &out_len, z, (uLong)zlen);
    if (r != Z_OK) {
        g->error = g_strdup_printf("does not inflate (zlib error %d)", r);
        return;
    }
    if (g->in_grain + g->len > out_len) {
        g->error = g_strdup_printf("inflates to %lu bytes, fewer than the grain holds",
                                   (unsigned long)out_len);
        return;
    }
    if (!whole)
        memcpy(g->out, g->scratch + g->in_grain, g->len);
}

/* Reads the stored bytes of every grain: one read when they lie close together (a stream
 * holds them in order), else one read each. Returns the buffer holding them. */
static uint8_t *read_sources(VmdkExtent *e, Grain *g, size_t n, GError **error)
{
    size_t max_one = (size_t)(2 * e->grain_bytes + 12);
    uint64_t first = g[0].sector * VMDK_SECTOR, last = first;
    bool ordered = true;
    for (size_t i = 1; i < n; i++) {
        uint64_t off = g[i].sector * VMDK_SECTOR;
        ordered = ordered && off > last;
        last = off;
    }
    if (first >= e->file_size || last >= e->file_size) {
        corrupt(error, e, "a compressed grain lies past the end of the file: truncated?");
        return NULL;
    }
    uint64_t span = MIN(last + max_one, e->file_size) - first;
    if (ordered && span <= (uint64_t)n * max_one) {
        uint8_t *buf = g_malloc(span);
        if (!pd_io_pread_full(e->io, buf, (size_t)span, first, error)) {
            g_free(buf);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t at = g[i].sector * VMDK_SECTOR - first;
            g[i].src = buf + at;
            g[i].src_len = (size_t)MIN((uint64_t)max_one, span - at);
        }
        return buf;
    }
    uint8_t *buf = g_malloc(n * max_one);
    for (size_t i = 0; i < n; i++) {
        uint64_t off = g[i].sector * VMDK_SECTOR;
        size_t have = (size_t)MIN((uint64_t)max_one, e->file_size - off);
        if (!pd_io_pread_full(e->io, buf + i * max_one, have, off, error)) {
            g_free(buf);
            return NULL;
        }
        g[i].src = buf + i * max_one;
        g[i].src_len = have;
    }
    return buf;
}

bool vmdk_sparse_read_compressed(VmdkExtent *e, uint64_t rel, uint8_t *buf, size_t len,
                                 GError **error)
{
    size_t n = 0;
    size_t cap = (size_t)(len / e->grain_bytes + 2);
    g_autofree Grain *g = g_new0(Grain, cap);
    for (uint64_t done = 0; done < len; n++) {
        uint64_t in = (rel + done) % e->grain_bytes;
        size_t chunk = (size_t)MIN(len - done, e->grain_bytes - in);
        uint64_t sector;
        if (!vmdk_sparse_lookup(e, rel + done, &sector, error))
            return false;
        if (sector == 0 || (e->zero_grain && sector == VMDK_GTE_ZEROED))
            return corrupt(error, e, "grain at offset %" G_GUINT64_FORMAT " changed under a read",
                           rel + done);
        g_assert(n < cap);
        g[n] = (Grain){.sector = sector, .in_grain = in, .len = chunk, .out = buf + done};
        done += chunk;
    }
    g_autofree uint8_t *src = read_sources(e, g, n, error);
    if (!src)
        return false;
    g_autofree uint8_t *scratch = NULL;
    size_t partial = 0;
    for (size_t i = 0; i < n; i++)
        partial += g[i].len != e->grain_bytes;
    if (partial) {
        scratch = g_malloc(partial * e->grain_bytes);
        for (size_t i = 0, k = 0; i < n; i++)
            if (g[i].len != e->grain_bytes)
                g[i].scratch = scratch + (k++) * e->grain_bytes;
    }
    InflateJob job = {e, g};
    pd_parallel_for(n, inflate_one, &job);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (g[i].error && ok)
            ok = corrupt(error, e, "grain at sector %" G_GUINT64_FORMAT ": %s", g[i].sector,
                         g[i].error);
        g_free(g[i].error);
    }
    return ok;
}

void vmdk_extent_clear(VmdkExtent *e)
{
    for (int i = 0; i < VMDK_GT_CACHE; i++)
        g_free(e->gt_cache[i].entries);
    g_free(e->gd);
    g_free(e->filename);
    g_free(e->type);
    if (e->own_io)
        pd_io_close(e->io);
    memset(e, 0, sizeof *e);
}
