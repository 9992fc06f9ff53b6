/* qcow2 header: parsing and validation of cluster 0 (header, extensions, backing file name)
 * and rewriting it.
 *
 *   0      72/104..112      header_length                       backing_file_offset
 *   | header | (v3 fields) | ext: type len data pad | ... | end | backing file name |
 *
 * Everything of cluster 0 we do not interpret (bitmaps, unknown extensions, header fields
 * past those we know) is kept and written back unchanged. */
#include "formats/drivers/qcow2/qcow2.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <stdarg.h>
#include <string.h>

void qcow2_header_from_disk(Qcow2Header *h, const uint8_t *buf, size_t len)
{
    uint8_t b[112] = {0};
    memcpy(b, buf, MIN(len, sizeof b));
    h->magic = qcow2_get_be32(b + 0);
    h->version = qcow2_get_be32(b + 4);
    h->backing_file_offset = qcow2_get_be64(b + 8);
    h->backing_file_size = qcow2_get_be32(b + 16);
    h->cluster_bits = qcow2_get_be32(b + 20);
    h->size = qcow2_get_be64(b + 24);
    h->crypt_method = qcow2_get_be32(b + 32);
    h->l1_size = qcow2_get_be32(b + 36);
    h->l1_table_offset = qcow2_get_be64(b + 40);
    h->refcount_table_offset = qcow2_get_be64(b + 48);
    h->refcount_table_clusters = qcow2_get_be32(b + 56);
    h->nb_snapshots = qcow2_get_be32(b + 60);
    h->snapshots_offset = qcow2_get_be64(b + 64);
    if (h->version < 3) {
        h->incompatible_features = h->compatible_features = h->autoclear_features = 0;
        h->refcount_order = 4;
        h->header_length = QCOW2_V2_HEADER_SIZE;
        h->compression_type = 0;
        return;
    }
    h->incompatible_features = qcow2_get_be64(b + 72);
    h->compatible_features = qcow2_get_be64(b + 80);
    h->autoclear_features = qcow2_get_be64(b + 88);
    h->refcount_order = qcow2_get_be32(b + 96);
    h->header_length = qcow2_get_be32(b + 100);
    h->compression_type = h->header_length > QCOW2_V3_HEADER_SIZE ? b[104] : 0;
}

void qcow2_header_to_disk(const Qcow2Header *h, uint8_t *buf)
{
    memset(buf, 0, h->version >= 3 ? MIN(h->header_length, 112U) : QCOW2_V2_HEADER_SIZE);
    qcow2_put_be32(buf + 0, h->magic);
    qcow2_put_be32(buf + 4, h->version);
    qcow2_put_be64(buf + 8, h->backing_file_offset);
    qcow2_put_be32(buf + 16, h->backing_file_size);
    qcow2_put_be32(buf + 20, h->cluster_bits);
    qcow2_put_be64(buf + 24, h->size);
    qcow2_put_be32(buf + 32, h->crypt_method);
    qcow2_put_be32(buf + 36, h->l1_size);
    qcow2_put_be64(buf + 40, h->l1_table_offset);
    qcow2_put_be64(buf + 48, h->refcount_table_offset);
    qcow2_put_be32(buf + 56, h->refcount_table_clusters);
    qcow2_put_be32(buf + 60, h->nb_snapshots);
    qcow2_put_be64(buf + 64, h->snapshots_offset);
    if (h->version < 3)
        return;
    qcow2_put_be64(buf + 72, h->incompatible_features);
    qcow2_put_be64(buf + 80, h->compatible_features);
    qcow2_put_be64(buf + 88, h->autoclear_features);
    qcow2_put_be32(buf + 96, h->refcount_order);
    qcow2_put_be32(buf + 100, h->header_length);
    if (h->header_length > QCOW2_V3_HEADER_SIZE)
        buf[104] = h->compression_type;
}

static void extension_free(gpointer p)
{
    Qcow2Extension *ext = p;
    g_free(ext->data);
    g_free(ext);
}

/* The name the image's feature table gives a feature bit, or NULL. */
static const char *feature_name(Qcow2State *s, uint8_t type, uint8_t bit)
{
    for (guint i = 0; s->feature_names && i < s->feature_names->len; i++) {
        Qcow2FeatureName *f = g_ptr_array_index(s->feature_names, i);
        if (f->type == type && f->bit == bit)
            return f->name;
    }
    return NULL;
}

static bool corrupt(PdImage *img, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool corrupt(PdImage *img, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "Image '%s' is not a valid qcow2 image: %s",
                img->io->name, msg);
    return false;
}

/* Parses the header extensions in cluster 0 [start, end). */
static bool read_extensions(PdImage *img, const uint8_t *c0, uint64_t start, uint64_t end,
                            GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t pos = start;
    while (pos + 8 <= end) {
        uint32_t type = qcow2_get_be32(c0 + pos);
        uint32_t len = qcow2_get_be32(c0 + pos + 4);
        pos += 8;
        if (type == QCOW2_EXT_END)
            return true;
        if (len > end - pos)
            return corrupt(img, error,
                           "header extension 0x%08x (%u bytes) runs past the header area", type,
                           len);
        const uint8_t *data = c0 + pos;
        switch (type) {
        case QCOW2_EXT_BACKING_FORMAT:
            g_free(s->backing_format_name);
            s->backing_format_name = g_strndup((const char *)data, len);
            break;
        case QCOW2_EXT_FEATURE_TABLE:
            for (uint32_t i = 0; i + 48 <= len; i += 48) {
                Qcow2FeatureName *f = g_new0(Qcow2FeatureName, 1);
                f->type = data[i];
                f->bit = data[i + 1];
                memcpy(f->name, data + i + 2, 46);
                g_ptr_array_add(s->feature_names, f);
            }
            break;
        case QCOW2_EXT_CRYPTO:
            g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                        "Image '%s' is encrypted (crypto header extension); encrypted qcow2 "
                        "images are not supported",
                        img->io->name);
            return false;
        default: {
            if (type == QCOW2_EXT_BITMAPS) {
                if (len < 24)
                    return corrupt(img, error, "bitmaps extension too short (%u bytes)", len);
                s->bitmap_count = qcow2_get_be32(data);
                s->bitmap_dir_size = qcow2_get_be64(data + 8);
                s->bitmap_dir_offset = qcow2_get_be64(data + 16);
            }
            Qcow2Extension *ext = g_new0(Qcow2Extension, 1);
            ext->type = type;
            ext->len = len;
            ext->data = g_memdup2(data, len);
            g_ptr_array_add(s->extensions, ext);
            break;
        }
        }
        pos += (len + 7ULL) & ~7ULL;
    }
    return true;
}

/* Every table the header names must lie after cluster 0, be aligned and fit the file. */
static bool check_table(PdImage *img, const char *what, uint64_t offset, uint64_t entries,
                        uint64_t entry_size, uint64_t file_size, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t bytes, end;
    if (entries == 0)
        return true;
    if (!pd_mul_u64(entries, entry_size, &bytes) || !pd_add_u64(offset, bytes, &end))
        return corrupt(img, error, "%s size overflows", what);
    if (!qcow2_is_aligned(s, offset))
        return corrupt(img, error, "%s offset 0x%" G_GINT64_MODIFIER "x is not cluster aligned",
                       what, offset);
    if (offset < s->cluster_size)
        return corrupt(img, error, "%s overlaps the header", what);
    if (end > file_size)
        return corrupt(img, error,
                       "%s at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
                       " bytes) lies past the end of the file (%" G_GUINT64_FORMAT " bytes)",
                       what, offset, bytes, file_size);
    return true;
}

static bool check_features(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    if (h->crypt_method != 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' is encrypted (crypt_method %u); encrypted qcow2 images are not "
                    "supported",
                    img->io->name, h->crypt_method);
        return false;
    }
    if (h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' uses an external data file (incompatible feature bit 2); that is "
                    "not supported",
                    img->io->name);
        return false;
    }
    uint64_t unknown = h->incompatible_features & ~QCOW2_INCOMPAT_KNOWN;
    if (unknown) {
        g_autoptr(GString) bits = g_string_new(NULL);
        for (int b = 0; b < 64; b++) {
            if (!(unknown & (1ULL << b)))
                continue;
            const char *name = feature_name(s, 0, (uint8_t)b);
            g_string_append_printf(bits, "%sbit %d%s%s%s", bits->len ? ", " : "", b,
                                   name ? " (" : "", name ? name : "", name ? ")" : "");
        }
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' uses unsupported incompatible qcow2 features: %s", img->io->name,
                    bits->str);
        return false;
    }
    if (h->compression_type > 1)
        return corrupt(img, error, "unknown compression type %u", h->compression_type);
    bool flag = (h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) != 0;
    if (flag != (h->compression_type != 0))
        return corrupt(img, error, "compression type %u does not match the compression feature bit",
                       h->compression_type);
    return true;
}

/* Reads and validates cluster 0. Fills s->header and the geometry in @s. */
bool qcow2_read_header(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    uint64_t file_size;
    if (!pd_io_get_size(img->io, &file_size, error))
        return false;
    uint8_t first[112];
    if (file_size < QCOW2_V2_HEADER_SIZE)
        return corrupt(img, error, "file too short for a header (%" G_GUINT64_FORMAT " bytes)",
                       file_size);
    if (!pd_io_pread_full(img->io, first, sizeof first, 0, error))
        return false;
    qcow2_header_from_disk(h, first, sizeof first);
    if (h->magic != QCOW2_MAGIC)
        return corrupt(img, error, "bad magic");
    if (h->version != 2 && h->version != 3) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': unsupported qcow2 version %u", img->io->name, h->version);
        return false;
    }
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return corrupt(img, error, "cluster_bits %u out of range (9..21)", h->cluster_bits);
    s->cluster_bits = h->cluster_bits;
    s->cluster_size = 1ULL << h->cluster_bits;
    if (h->version >= 3) {
        if (h->header_length < QCOW2_V3_HEADER_SIZE || h->header_length > s->cluster_size ||
            h->header_length % 8)
            return corrupt(img, error, "header_length %u invalid", h->header_length);
        if (h->refcount_order > QCOW2_MAX_REFCOUNT_ORDER)
            return corrupt(img, error, "refcount_order %u out of range (0..6)", h->refcount_order);
    }
    if (file_size < s->cluster_size && h->header_length > file_size)
        return corrupt(img, error, "file shorter than its header");

    g_autofree uint8_t *c0 = g_malloc(s->cluster_size);
    if (!pd_io_pread_full(img->io, c0, s->cluster_size, 0, error))
        return false;
    if (h->header_length > 112) {
        s->unknown_header_len = h->header_length - 112;
        s->unknown_header = g_memdup2(c0 + 112, s->unknown_header_len);
    }
    /* backing file name */
    uint64_t ext_end = s->cluster_size;
    if (h->backing_file_offset && h->backing_file_size) {
        uint64_t end;
        if (h->backing_file_size > QCOW2_MAX_BACKING_NAME ||
            !pd_add_u64(h->backing_file_offset, h->backing_file_size, &end) ||
            end > s->cluster_size || h->backing_file_offset < h->header_length)
            return corrupt(img, error,
                           "backing file name (offset %" G_GUINT64_FORMAT
                           ", %u bytes) invalid or outside the header cluster",
                           h->backing_file_offset, h->backing_file_size);
        img->backing_name =
            g_strndup((const char *)c0 + h->backing_file_offset, h->backing_file_size);
        ext_end = h->backing_file_offset;
    }
    if (!read_extensions(img, c0, h->header_length, ext_end, error))
        return false;
    if (!check_features(img, error))
        return false;

    /* geometry */
    s->extended_l2 = (h->incompatible_features & QCOW2_INCOMPAT_EXTL2) != 0;
    if (s->extended_l2 && s->cluster_bits < 14)
        return corrupt(img, error, "extended L2 entries need clusters of 16 KiB or more");
    s->l2_entry_size = s->extended_l2 ? 16 : 8;
    s->l2_bits = s->cluster_bits - (s->extended_l2 ? 4 : 3);
    s->l2_size = 1ULL << s->l2_bits;
    s->subcluster_bits = s->extended_l2 ? s->cluster_bits - 5 : s->cluster_bits;
    s->refcount_order = h->refcount_order;
    s->refcount_bits = 1U << h->refcount_order;
    s->refcount_max = s->refcount_bits == 64 ? UINT64_MAX : (1ULL << s->refcount_bits) - 1;
    s->refcount_block_bits = s->cluster_bits + 3 - s->refcount_order;
    s->refcount_block_size = 1ULL << s->refcount_block_bits;
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1ULL << (s->cluster_bits - 8)) - 1;
    s->cluster_offset_mask = (1ULL << s->csize_shift) - 1;
    s->compression_type = h->compression_type ? PD_COMPRESSION_ZSTD : PD_COMPRESSION_ZLIB;
    s->lazy_refcounts = (h->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
    s->corrupt = (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT) != 0;

    /* size and tables */
    uint64_t l2_span_bits = s->cluster_bits + s->l2_bits;
    if (h->size > (1ULL << 63) - s->cluster_size)
        return corrupt(img, error, "virtual size %" G_GUINT64_FORMAT " too large", h->size);
    uint64_t need_l1 = (h->size >> l2_span_bits) + ((h->size & ((1ULL << l2_span_bits) - 1)) != 0);
    if ((uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_SIZE)
        return corrupt(img, error, "L1 table too large (%u entries)", h->l1_size);
    if (h->l1_size < need_l1)
        return corrupt(img, error,
                       "L1 table too small (%u entries for %" G_GUINT64_FORMAT " bytes)",
                       h->l1_size, h->size);
    if (!check_table(img, "L1 table", h->l1_table_offset, h->l1_size, 8, file_size, error))
        return false;
    if (h->refcount_table_clusters == 0)
        return corrupt(img, error, "no refcount table");
    if ((uint64_t)h->refcount_table_clusters * s->cluster_size > QCOW2_MAX_REFTABLE_SIZE)
        return corrupt(img, error, "refcount table too large (%u clusters)",
                       h->refcount_table_clusters);
    if (!check_table(img, "refcount table", h->refcount_table_offset, h->refcount_table_clusters,
                     s->cluster_size, file_size, error))
        return false;
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
        return corrupt(img, error, "too many snapshots (%u)", h->nb_snapshots);
    /* a snapshot table entry is at least 40 bytes */
    if (!check_table(img, "snapshot table", h->snapshots_offset, h->nb_snapshots, 40, file_size,
                     error))
        return false;
    return true;
}

/* ---- writing cluster 0 ------------------------------------------------------------- */

static const struct {
    uint8_t type, bit;
    const char *name;
} our_features[] = {
    {0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
    {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},          {2, 1, "raw external data"},
};

static bool add_ext(uint8_t *buf, size_t *pos, size_t limit, uint32_t type, const void *data,
                    uint32_t len)
{
    size_t padded = ((size_t)len + 7) & ~(size_t)7;
    if (*pos + 8 + padded > limit)
        return false;
    qcow2_put_be32(buf + *pos, type);
    qcow2_put_be32(buf + *pos + 4, len);
    if (len)
        memcpy(buf + *pos + 8, data, len);
    memset(buf + *pos + 8 + len, 0, padded - len);
    *pos += 8 + padded;
    return true;
}

/* Builds cluster 0 from the state. Returns false with @error if it does not fit. */
static bool build_cluster0(PdImage *img, uint8_t *buf, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    size_t limit = s->cluster_size;
    memset(buf, 0, limit);
    if (h->version >= 3) {
        h->header_length = 112 + s->unknown_header_len;
        if (s->unknown_header_len)
            memcpy(buf + 112, s->unknown_header, s->unknown_header_len);
    } else {
        h->header_length = QCOW2_V2_HEADER_SIZE;
    }
    size_t pos = h->header_length;
    size_t name_len = img->backing_name ? strlen(img->backing_name) : 0;
    size_t room = limit - MIN(limit, name_len + 8); /* keep space for the end marker */
    bool ok = true;
    if (img->backing_name && s->backing_format_name)
        ok = add_ext(buf, &pos, room, QCOW2_EXT_BACKING_FORMAT, s->backing_format_name,
                     (uint32_t)strlen(s->backing_format_name));
    for (guint i = 0; ok && i < s->extensions->len; i++) {
        Qcow2Extension *ext = g_ptr_array_index(s->extensions, i);
        ok = add_ext(buf, &pos, room, ext->type, ext->data, ext->len);
    }
    if (ok && h->version >= 3) {
        /* The feature table only helps humans: left out when it does not fit. */
        uint8_t table[G_N_ELEMENTS(our_features) * 48] = {0};
        for (size_t i = 0; i < G_N_ELEMENTS(our_features); i++) {
            table[i * 48] = our_features[i].type;
            table[i * 48 + 1] = our_features[i].bit;
            memcpy(table + i * 48 + 2, our_features[i].name, strlen(our_features[i].name));
        }
        (void)add_ext(buf, &pos, room, QCOW2_EXT_FEATURE_TABLE, table, sizeof table);
    }
    if (!ok || pos + 8 + name_len > limit) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': header, extensions and backing file name do not fit in one "
                    "cluster (%" G_GUINT64_FORMAT " bytes)",
                    img->io->name, s->cluster_size);
        return false;
    }
    pos += 8; /* end marker (zeroes) */
    if (img->backing_name) {
        h->backing_file_offset = pos;
        h->backing_file_size = (uint32_t)name_len;
        memcpy(buf + pos, img->backing_name, name_len);
    } else {
        h->backing_file_offset = 0;
        h->backing_file_size = 0;
    }
    qcow2_header_to_disk(h, buf);
    return true;
}

bool qcow2_update_header(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    g_autofree uint8_t *buf = g_malloc(s->cluster_size);
    Qcow2Header saved = s->header;
    if (!build_cluster0(img, buf, error)) {
        s->header = saved;
        return false;
    }
    return pd_io_pwrite_full(img->io, buf, s->cluster_size, 0, error) &&
           pd_io_flush(img->io, error);
}

/* Writes cluster 0 of a new image (no flush). */
bool qcow2_write_new_header(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    g_autofree uint8_t *buf = g_malloc(s->cluster_size);
    return build_cluster0(img, buf, error) &&
           pd_io_pwrite_full(img->io, buf, s->cluster_size, 0, error);
}

bool qcow2_mark_dirty(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (s->dirty_marked)
        return true;
    if (s->header.version < 3)
        return true;
    s->header.incompatible_features |= QCOW2_INCOMPAT_DIRTY;
    if (!qcow2_update_header(img, error)) {
        s->header.incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
        return false;
    }
    s->dirty_marked = true;
    return true;
}

bool qcow2_mark_clean(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!(s->header.incompatible_features & QCOW2_INCOMPAT_DIRTY))
        return true;
    if (!qcow2_flush_caches(img, error))
        return false;
    s->header.incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
    if (!qcow2_update_header(img, error))
        return false;
    s->dirty_marked = false;
    return true;
}

void qcow2_signal_corruption(PdImage *img, GError **error, const char *fmt, ...)
{
    Qcow2State *s = qcow2_state(img);
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    bool was_rw = (img->flags & PD_OPEN_RDWR) && !img->io->read_only;
    if (was_rw && !s->corrupt && s->header.version >= 3) {
        s->header.incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
        (void)qcow2_update_header(img, NULL);
    }
    s->corrupt = true;
    img->flags &= ~(PdOpenFlags)PD_OPEN_RDWR;
    g_set_error(
        error, PD_ERROR, PD_ERROR_CORRUPT, "Image '%s' is corrupt: %s%s", img->io->name, msg,
        was_rw ? "; it is now marked corrupt and read-only (repair with check -r all)" : "");
}

void qcow2_header_state_free(Qcow2State *s)
{
    if (s->extensions)
        g_ptr_array_unref(s->extensions);
    if (s->feature_names)
        g_ptr_array_unref(s->feature_names);
    g_free(s->backing_format_name);
    g_free(s->unknown_header);
}

void qcow2_header_state_init(Qcow2State *s)
{
    s->extensions = g_ptr_array_new_with_free_func(extension_free);
    s->feature_names = g_ptr_array_new_with_free_func(g_free);
}

/* Flags every persistent bitmap "in use" (inconsistent) before the first guest write: we
 * do not track dirty bits, so after our writes the bitmaps no longer describe the data. */
bool qcow2_mark_bitmaps_in_use(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (s->bitmaps_marked || s->bitmap_count == 0)
        return true;
    s->bitmaps_marked = true;
    if (!(s->header.autoclear_features & QCOW2_AUTOCLEAR_BITMAPS))
        return true;
    if (s->bitmap_dir_size == 0 || s->bitmap_dir_size > 64 * 1024 * 1024 ||
        !qcow2_is_aligned(s, s->bitmap_dir_offset) || s->bitmap_dir_offset == 0) {
        qcow2_signal_corruption(img, error, "bitmap directory out of bounds");
        return false;
    }
    g_autofree uint8_t *dir = g_malloc(s->bitmap_dir_size);
    if (!pd_io_pread_full(img->io, dir, s->bitmap_dir_size, s->bitmap_dir_offset, error))
        return false;
    uint64_t pos = 0;
    for (uint32_t i = 0; i < s->bitmap_count && pos + 24 <= s->bitmap_dir_size; i++) {
        uint32_t flags = qcow2_get_be32(dir + pos + 12);
        qcow2_put_be32(dir + pos + 12, flags | 1); /* in_use */
        uint64_t name_size = GUINT16_FROM_BE(*(uint16_t *)(dir + pos + 18));
        uint64_t extra = qcow2_get_be32(dir + pos + 20);
        pos += (24 + extra + name_size + 7) & ~7ULL;
    }
    return pd_io_pwrite_full(img->io, dir, s->bitmap_dir_size, s->bitmap_dir_offset, error) &&
           pd_io_flush(img->io, error);
}
