/* qcow2 refcounts: the refcount table (in memory), refcount blocks (through the cache),
 * cluster allocation and freeing.
 *
 *   host cluster index ci -> table index ci >> refcount_block_bits
 *                         -> entry ci & (refcount_block_size - 1) of that block
 *
 * Entries are refcount_bits wide (1..64). Below 8 bits they are packed into bytes starting
 * at the least significant bit; from 8 bits on they are big-endian integers.
 *
 * New refcount blocks (and a grown refcount table) are placed together in a fresh area past
 * everything allocated, and they describe themselves: the blocks are written, flushed, then
 * the table entries (or the new table and then the header) that point to them. */
#include "formats/drivers/qcow2/qcow2.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <string.h>

static uint64_t rb_get(const Qcow2State *s, const void *block, uint64_t i)
{
    const uint8_t *b = block;
    switch (s->refcount_order) {
    case 0:
        return (b[i / 8] >> (i % 8)) & 1;
    case 1:
        return (b[i / 4] >> (2 * (i % 4))) & 3;
    case 2:
        return (b[i / 2] >> (4 * (i % 2))) & 15;
    case 3:
        return b[i];
    case 4:
        return GUINT16_FROM_BE(((const uint16_t *)block)[i]);
    case 5:
        return GUINT32_FROM_BE(((const uint32_t *)block)[i]);
    default:
        return GUINT64_FROM_BE(((const uint64_t *)block)[i]);
    }
}

static void rb_set(const Qcow2State *s, void *block, uint64_t i, uint64_t v)
{
    uint8_t *b = block;
    unsigned shift;
    switch (s->refcount_order) {
    case 0:
        shift = i % 8;
        b[i / 8] = (uint8_t)((b[i / 8] & ~(1u << shift)) | (v << shift));
        break;
    case 1:
        shift = 2 * (i % 4);
        b[i / 4] = (uint8_t)((b[i / 4] & ~(3u << shift)) | (v << shift));
        break;
    case 2:
        shift = 4 * (i % 2);
        b[i / 2] = (uint8_t)((b[i / 2] & ~(15u << shift)) | (v << shift));
        break;
    case 3:
        b[i] = (uint8_t)v;
        break;
    case 4:
        ((uint16_t *)block)[i] = GUINT16_TO_BE((uint16_t)v);
        break;
    case 5:
        ((uint32_t *)block)[i] = GUINT32_TO_BE((uint32_t)v);
        break;
    default:
        ((uint64_t *)block)[i] = GUINT64_TO_BE(v);
        break;
    }
}

bool qcow2_refcount_init(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t bytes = (uint64_t)s->header.refcount_table_clusters * s->cluster_size;
    s->refcount_table_size = bytes / 8;
    s->refcount_table = g_malloc(bytes);
    if (!pd_io_pread_full(img->io, s->refcount_table, bytes, s->header.refcount_table_offset,
                          error))
        return false;
    for (uint64_t i = 0; i < s->refcount_table_size; i++)
        s->refcount_table[i] = GUINT64_FROM_BE(s->refcount_table[i]) & QCOW2_REFT_OFFSET_MASK;
    uint64_t file_size;
    if (!pd_io_get_size(img->io, &file_size, error))
        return false;
    s->alloc_end = qcow2_size_to_clusters(s, file_size);
    return true;
}

void qcow2_refcount_close(PdImage *img)
{
    Qcow2State *s = qcow2_state(img);
    g_clear_pointer(&s->refcount_table, g_free);
    s->refcount_table_size = 0;
}

/* The refcount block offset for table index @ti: 0 if none. False (corruption) if the
 * table entry is unusable. */
static bool block_offset(PdImage *img, uint64_t ti, uint64_t *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (ti >= s->refcount_table_size) {
        *ret = 0;
        return true;
    }
    uint64_t off = s->refcount_table[ti];
    if (off && (!qcow2_is_aligned(s, off) || off < s->cluster_size)) {
        qcow2_signal_corruption(img, error,
                                "refcount block offset 0x%" G_GINT64_MODIFIER
                                "x (table index %" G_GUINT64_FORMAT ") invalid",
                                off, ti);
        return false;
    }
    *ret = off;
    return true;
}

bool qcow2_get_refcount(PdImage *img, uint64_t cluster_index, uint64_t *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t off;
    if (!block_offset(img, cluster_index >> s->refcount_block_bits, &off, error))
        return false;
    if (!off) {
        *ret = 0;
        return true;
    }
    void *block;
    if (!qcow2_cache_get(s->refcount_cache, off, &block, error))
        return false;
    *ret = rb_get(s, block, cluster_index & (s->refcount_block_size - 1));
    qcow2_cache_put(s->refcount_cache, &block);
    return true;
}

/* Forgets cached copies of a cluster whose refcount dropped to 0. */
static void cluster_freed(Qcow2State *s, uint64_t ci)
{
    uint64_t off = ci << s->cluster_bits;
    qcow2_cache_discard(s->l2_cache, off);
    if (s->cluster_cache_offset && qcow2_start_of_cluster(s, s->cluster_cache_offset) == off)
        s->cluster_cache_offset = 0;
    if (s->free_byte_offset && qcow2_start_of_cluster(s, s->free_byte_offset) == off)
        s->free_byte_offset = 0;
    if (ci < s->free_cluster_index)
        s->free_cluster_index = ci;
}

/* Adds @delta to the refcounts of clusters [first, first+count) whose blocks exist. */
static bool update_range(PdImage *img, uint64_t first, uint64_t count, int64_t delta,
                         GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (s->lazy_refcounts && !s->dirty_marked && !qcow2_mark_dirty(img, error))
        return false;
    uint64_t ci = first, end = first + count;
    while (ci < end) {
        uint64_t ti = ci >> s->refcount_block_bits;
        uint64_t idx = ci & (s->refcount_block_size - 1);
        uint64_t n = MIN(end - ci, s->refcount_block_size - idx);
        uint64_t off;
        if (!block_offset(img, ti, &off, error))
            return false;
        if (!off) {
            qcow2_signal_corruption(img, error,
                                    "no refcount block for cluster 0x%" G_GINT64_MODIFIER
                                    "x whose refcount changes",
                                    ci << s->cluster_bits);
            return false;
        }
        void *block;
        if (!qcow2_cache_get(s->refcount_cache, off, &block, error))
            return false;
        for (uint64_t i = idx; i < idx + n; i++) {
            uint64_t old = rb_get(s, block, i), v;
            if (delta < 0 ? old < (uint64_t)-delta : s->refcount_max - old < (uint64_t)delta) {
                qcow2_cache_put(s->refcount_cache, &block);
                if (delta > 0) {
                    g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                                "Image '%s': refcount of cluster 0x%" G_GINT64_MODIFIER
                                "x would exceed %" G_GUINT64_FORMAT
                                " (refcount_bits %u); use wider refcounts",
                                img->io->name, (ci + i - idx) << s->cluster_bits, s->refcount_max,
                                s->refcount_bits);
                    return false;
                }
                qcow2_signal_corruption(
                    img, error, "refcount of cluster 0x%" G_GINT64_MODIFIER "x would drop below 0",
                    (ci + i - idx) << s->cluster_bits);
                return false;
            }
            v = old + (uint64_t)delta;
            rb_set(s, block, i, v);
            if (v == 0)
                cluster_freed(s, ci + i - idx);
        }
        qcow2_cache_mark_dirty(s->refcount_cache, block);
        qcow2_cache_put(s->refcount_cache, &block);
        ci += n;
    }
    return true;
}

/* Whether the refcount block of table index @ti is missing. */
static bool missing(Qcow2State *s, uint64_t ti)
{
    return ti >= s->refcount_table_size || s->refcount_table[ti] == 0;
}

/* Table indexes without a block among [a, b] and [c, d] (ascending, no duplicates). */
static GArray *collect_missing(Qcow2State *s, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    GArray *list = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (uint64_t ti = a; ti <= b; ti++)
        if (missing(s, ti))
            g_array_append_val(list, ti);
    for (uint64_t ti = MAX(c, b + 1); c <= d && ti <= d; ti++)
        if (missing(s, ti))
            g_array_append_val(list, ti);
    return list;
}

/* Writes the in-memory table entries [first, last] to disk (no flush). */
static bool write_table_entries(PdImage *img, uint64_t first, uint64_t last, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t n = last - first + 1;
    g_autofree uint64_t *buf = g_new(uint64_t, n);
    for (uint64_t i = 0; i < n; i++)
        buf[i] = GUINT64_TO_BE(s->refcount_table[first + i]);
    return pd_io_pwrite_full(img->io, buf, n * 8, s->header.refcount_table_offset + first * 8,
                             error);
}

/* Installs blocks (and maybe a bigger table) at cluster @area for the table indexes in
 * @list; the area holds the blocks, then @tc table clusters. See the file comment. */
static bool install_area(PdImage *img, uint64_t area, GArray *list, uint64_t tc,
                         uint64_t new_entries, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, nb = list->len, area_end = area + nb + tc;
    g_autofree uint8_t *blocks = g_malloc0(nb * cs);
    GHashTable *pos = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (uint64_t k = 0; k < nb; k++)
        g_hash_table_insert(pos, &g_array_index(list, uint64_t, k), GSIZE_TO_POINTER(k + 1));
    bool ok = true;
    for (uint64_t c = area; ok && c < area_end; c++) {
        uint64_t ti = c >> s->refcount_block_bits;
        gpointer k = g_hash_table_lookup(pos, &ti);
        if (k)
            rb_set(s, blocks + (GPOINTER_TO_SIZE(k) - 1) * cs, c & (s->refcount_block_size - 1), 1);
        else
            ok = update_range(img, c, 1, 1, error);
    }
    g_hash_table_destroy(pos);
    if (!ok || !pd_io_pwrite_full(img->io, blocks, nb * cs, area * cs, error) ||
        !qcow2_cache_write(s->refcount_cache, error) || !pd_io_flush(img->io, error))
        return false;
    s->alloc_end = MAX(s->alloc_end, area_end);
    if (tc == 0) {
        for (uint64_t k = 0; k < nb; k++)
            s->refcount_table[g_array_index(list, uint64_t, k)] = (area + k) * cs;
        return write_table_entries(img, g_array_index(list, uint64_t, 0),
                                   g_array_index(list, uint64_t, nb - 1), error) &&
               pd_io_flush(img->io, error);
    }
    /* A new, bigger table: written, flushed, then the header points to it. */
    uint64_t *table = g_malloc0(tc * cs);
    memcpy(table, s->refcount_table, s->refcount_table_size * 8);
    for (uint64_t k = 0; k < nb; k++)
        table[g_array_index(list, uint64_t, k)] = (area + k) * cs;
    g_autofree uint64_t *disk = g_malloc(tc * cs);
    for (uint64_t i = 0; i < tc * cs / 8; i++)
        disk[i] = GUINT64_TO_BE(table[i]);
    if (!pd_io_pwrite_full(img->io, disk, tc * cs, (area + nb) * cs, error) ||
        !pd_io_flush(img->io, error)) {
        g_free(table);
        return false;
    }
    uint64_t old_off = s->header.refcount_table_offset;
    uint32_t old_clusters = s->header.refcount_table_clusters;
    s->header.refcount_table_offset = (area + nb) * cs;
    s->header.refcount_table_clusters = (uint32_t)tc;
    if (!qcow2_update_header(img, error)) {
        s->header.refcount_table_offset = old_off;
        s->header.refcount_table_clusters = old_clusters;
        g_free(table);
        return false;
    }
    g_free(s->refcount_table);
    s->refcount_table = table;
    s->refcount_table_size = new_entries;
    return qcow2_free_clusters(img, old_off, (uint64_t)old_clusters * cs, error);
}

/* Makes sure refcount blocks exist for every cluster in [first, last]. */
static bool ensure_blocks(PdImage *img, uint64_t first, uint64_t last, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t a = first >> s->refcount_block_bits, b = last >> s->refcount_block_bits;
    bool all = true;
    for (uint64_t ti = a; all && ti <= b; ti++)
        all = !missing(s, ti);
    if (all)
        return true;
    uint64_t cs = s->cluster_size;
    /* New blocks go past everything allocated; on a store that cannot grow (a LUN, whose
     * size alloc_end starts from) right after the clusters asked for, the busy check below
     * moving the area on where it is taken. */
    uint64_t area = img->io->fixed_size ? last + 1 : MAX(s->alloc_end, last + 1);
    for (int tries = 0;; tries++) {
        uint64_t nb = 0, tc = 0, entries = s->refcount_table_size;
        g_autoptr(GArray) list = NULL;
        for (int iter = 0; iter < 64; iter++) {
            uint64_t area_end = area + MAX(nb + tc, 1);
            g_clear_pointer(&list, g_array_unref);
            list = collect_missing(s, a, b, area >> s->refcount_block_bits,
                                   (area_end - 1) >> s->refcount_block_bits);
            uint64_t max_ti = MAX(b, (area_end - 1) >> s->refcount_block_bits);
            uint64_t new_tc = 0;
            entries = s->refcount_table_size;
            if (max_ti >= s->refcount_table_size) {
                entries = MAX(max_ti + 1, s->refcount_table_size + s->refcount_table_size / 2);
                new_tc = (entries * 8 + cs - 1) / cs;
                entries = new_tc * cs / 8;
            }
            if (list->len == nb && new_tc == tc)
                break;
            nb = list->len;
            tc = new_tc;
        }
        if (tc * cs > QCOW2_MAX_REFTABLE_SIZE) {
            g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                        "Image '%s': the refcount table would exceed %d bytes", img->io->name,
                        QCOW2_MAX_REFTABLE_SIZE);
            return false;
        }
        /* The area must really be free (a damaged image may count clusters past its end). */
        uint64_t busy = 0;
        for (uint64_t c = area; c < area + nb + tc && !busy; c++) {
            uint64_t rc;
            if (!qcow2_get_refcount(img, c, &rc, error))
                return false;
            if (rc)
                busy = c + 1;
        }
        if (busy && tries < 1000) {
            area = busy;
            continue;
        }
        if (busy) {
            qcow2_signal_corruption(img, error, "no free area for refcount blocks");
            return false;
        }
        return install_area(img, area, list, tc, entries, error);
    }
}

/* Finds @n contiguous clusters with refcount 0. */
static bool find_free(PdImage *img, uint64_t n, uint64_t *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t limit = (1ULL << 56) >> s->cluster_bits;
    uint64_t ci = MAX(s->free_cluster_index, 1), start = ci, run = 0;
    bool first_free_seen = false;
    while (run < n) {
        if (ci >= limit) {
            g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                        "Image '%s': no room for %" G_GUINT64_FORMAT " more clusters",
                        img->io->name, n);
            return false;
        }
        uint64_t ti = ci >> s->refcount_block_bits;
        uint64_t idx = ci & (s->refcount_block_size - 1);
        uint64_t off;
        if (!block_offset(img, ti, &off, error))
            return false;
        if (!off) { /* no block: all free */
            if (!first_free_seen) {
                s->free_cluster_index = ci;
                first_free_seen = true;
            }
            uint64_t k = s->refcount_block_size - idx;
            run += k;
            ci += k;
            continue;
        }
        void *block;
        if (!qcow2_cache_get(s->refcount_cache, off, &block, error))
            return false;
        for (uint64_t i = idx; i < s->refcount_block_size && run < n; i++, ci++) {
            if (rb_get(s, block, i) == 0) {
                if (!first_free_seen) {
                    s->free_cluster_index = ci;
                    first_free_seen = true;
                }
                run++;
            } else {
                run = 0;
                start = ci + 1;
                if (ci > s->alloc_end + (1ULL << 20)) {
                    qcow2_cache_put(s->refcount_cache, &block);
                    qcow2_signal_corruption(img, error,
                                            "refcounts claim clusters far past the end of the "
                                            "image (cluster 0x%" G_GINT64_MODIFIER "x)",
                                            ci);
                    return false;
                }
            }
        }
        qcow2_cache_put(s->refcount_cache, &block);
    }
    *ret = start;
    return true;
}

bool qcow2_alloc_clusters(PdImage *img, uint64_t n, uint64_t *ret_offset, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t start;
    g_assert(n > 0);
    if (!find_free(img, n, &start, error) || !ensure_blocks(img, start, start + n - 1, error))
        return false;
    /* ensure_blocks placed anything new past start + n: the run is still free */
    if (!update_range(img, start, n, 1, error))
        return false;
    if (s->free_cluster_index >= start && s->free_cluster_index < start + n)
        s->free_cluster_index = start + n;
    s->alloc_end = MAX(s->alloc_end, start + n);
    *ret_offset = start << s->cluster_bits;
    return true;
}

bool qcow2_update_refcount(PdImage *img, uint64_t offset, uint64_t len, int64_t delta,
                           GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (len == 0 || delta == 0)
        return true;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + len - 1) >> s->cluster_bits;
    if (delta > 0 && !ensure_blocks(img, first, last, error))
        return false;
    if (!update_range(img, first, last - first + 1, delta, error))
        return false;
    if (delta > 0)
        s->alloc_end = MAX(s->alloc_end, last + 1);
    return true;
}

bool qcow2_free_clusters(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    return qcow2_update_refcount(img, offset, len, -1, error);
}

void qcow2_compressed_range(const Qcow2State *s, uint64_t l2_entry, uint64_t *ret_offset,
                            uint64_t *ret_len)
{
    uint64_t off = l2_entry & s->cluster_offset_mask;
    uint64_t sectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;
    *ret_offset = off & ~511ULL;
    *ret_len = sectors * 512;
}

bool qcow2_free_l2_entry(PdImage *img, uint64_t l2_entry, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    switch (qcow2_l2_entry_type(s, l2_entry)) {
    case QCOW2_CLUSTER_COMPRESSED: {
        uint64_t off, len;
        qcow2_compressed_range(s, l2_entry, &off, &len);
        return qcow2_free_clusters(img, off, len, error);
    }
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return qcow2_free_clusters(img, qcow2_l2_entry_offset(s, l2_entry), s->cluster_size, error);
    default:
        return true;
    }
}

bool qcow2_alloc_bytes(PdImage *img, uint64_t size, uint64_t *ret_offset, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    g_assert(size > 0 && size <= cs);
    uint64_t off = s->free_byte_offset;
    if (off) {
        /* a cluster whose refcount is at its maximum takes no more users */
        uint64_t rc;
        if (!qcow2_get_refcount(img, off >> s->cluster_bits, &rc, error))
            return false;
        if (rc >= s->refcount_max)
            off = 0;
    }
    uint64_t space = off ? cs - qcow2_offset_into_cluster(s, off) : 0;
    if (off && size <= space) {
        /* one more user of the partly filled cluster */
        if (!qcow2_update_refcount(img, qcow2_start_of_cluster(s, off), cs, 1, error))
            return false;
    } else {
        uint64_t fresh;
        if (!qcow2_alloc_clusters(img, 1, &fresh, error))
            return false;
        if (off && fresh == qcow2_start_of_cluster(s, off) + cs) {
            /* spans the end of the current cluster into the fresh one */
            if (!qcow2_update_refcount(img, qcow2_start_of_cluster(s, off), cs, 1, error))
                return false;
        } else {
            off = fresh;
        }
    }
    *ret_offset = off;
    s->free_byte_offset = qcow2_is_aligned(s, off + size) ? 0 : off + size;
    s->cluster_cache_offset = 0;
    return true;
}

bool qcow2_image_end(PdImage *img, uint64_t *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    for (uint64_t ti = s->refcount_table_size; ti-- > 0;) {
        uint64_t off;
        if (!block_offset(img, ti, &off, error))
            return false;
        if (!off)
            continue;
        void *block;
        if (!qcow2_cache_get(s->refcount_cache, off, &block, error))
            return false;
        for (uint64_t i = s->refcount_block_size; i-- > 0;) {
            if (rb_get(s, block, i)) {
                qcow2_cache_put(s->refcount_cache, &block);
                *ret = ((ti << s->refcount_block_bits) + i + 1) << s->cluster_bits;
                return true;
            }
        }
        qcow2_cache_put(s->refcount_cache, &block);
    }
    *ret = s->cluster_size;
    return true;
}
