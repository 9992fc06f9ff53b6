/* qcow2 clusters: L1/L2 lookup and guest I/O (read, write with copy-on-write, zeroes,
 * discard, block status, preallocation).
 *
 *   guest offset -> L1 index (offset >> (l2_bits + cluster_bits))
 *                -> L2 table (one cluster) -> L2 entry (offset >> cluster_bits & l2 mask)
 *                -> host cluster, compressed descriptor, zero flag, or nothing (backing)
 *
 * A write request is handled per L2 table ("slice"): classify every cluster (rewrite in
 * place when OFLAG_COPIED says we own it alone, else allocate), allocate runs of clusters
 * for the rest (refcounts in the cache), flush the refcounts once, write the data with one
 * pwrite per host-contiguous run (partial clusters completed from the old contents or the
 * backing file), then update the L2 entries in the cache. Old clusters replaced by the
 * request lose their reference only after the L2 tables are on disk. */
#include "formats/drivers/qcow2/qcow2.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <errno.h>
#include <string.h>

#define ZERO_BUF_SIZE (1024 * 1024)

enum { ACT_INPLACE, ACT_INPLACE_ZERO, ACT_ALLOC };

Qcow2ClusterType qcow2_l2_entry_type(const Qcow2State *s, uint64_t l2_entry)
{
    if (l2_entry & QCOW2_OFLAG_COMPRESSED)
        return QCOW2_CLUSTER_COMPRESSED;
    uint64_t off = l2_entry & QCOW2_L2E_OFFSET_MASK;
    if (!s->extended_l2 && (l2_entry & QCOW2_OFLAG_ZERO))
        return off ? QCOW2_CLUSTER_ZERO_ALLOC : QCOW2_CLUSTER_ZERO_PLAIN;
    return off ? QCOW2_CLUSTER_NORMAL : QCOW2_CLUSTER_UNALLOCATED;
}

bool qcow2_check_data_overlap(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    const Qcow2Header *h = &s->header;
    struct {
        const char *what;
        uint64_t start, len;
    } areas[] = {
        {"the header", 0, s->cluster_size},
        {"the L1 table", h->l1_table_offset, (uint64_t)h->l1_size * 8},
        {"the refcount table", h->refcount_table_offset,
         (uint64_t)h->refcount_table_clusters * s->cluster_size},
        {"the snapshot table", h->snapshots_offset, h->nb_snapshots ? s->cluster_size : 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(areas); i++) {
        if (areas[i].len && offset < areas[i].start + areas[i].len &&
            areas[i].start < offset + len) {
            qcow2_signal_corruption(img, error,
                                    "data write at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
                                    " bytes) would overwrite %s",
                                    offset, len, areas[i].what);
            return false;
        }
    }
    return true;
}

/* Whether [offset, offset+len) holds a refcount block or an active L2 table (checked before
 * rewriting clusters in place, whose offsets came from the image: a damaged L2 entry must
 * not make us overwrite metadata). Signals corruption if it does. */
static bool check_table_overlap(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    /* a linear scan: skipped for tables so big that it would cost more than the write */
    if (s->refcount_table_size + s->l1_size > 262144)
        return true;
    for (uint64_t i = 0; i < s->refcount_table_size; i++) {
        uint64_t b = s->refcount_table[i];
        if (b && b < offset + len && offset < b + s->cluster_size) {
            qcow2_signal_corruption(
                img, error,
                "data write at 0x%" G_GINT64_MODIFIER "x would overwrite a refcount block", offset);
            return false;
        }
    }
    for (uint64_t i = 0; i < s->l1_size; i++) {
        uint64_t t = s->l1_table[i] & QCOW2_L1E_OFFSET_MASK;
        if (t && t < offset + len && offset < t + s->cluster_size) {
            qcow2_signal_corruption(
                img, error, "data write at 0x%" G_GINT64_MODIFIER "x would overwrite an L2 table",
                offset);
            return false;
        }
    }
    return true;
}

/* ---- L1 ---------------------------------------------------------------------------- */

bool qcow2_write_l1_entries(PdImage *img, uint64_t first, uint64_t count, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t alloc_entries = MAX((uint64_t)s->l1_size * 8, s->cluster_size);
    alloc_entries = ((alloc_entries + s->cluster_size - 1) & ~(s->cluster_size - 1)) / 8;
    uint64_t start = first & ~63ULL; /* whole 512-byte sectors */
    uint64_t end = MIN((first + count + 63) & ~63ULL, alloc_entries);
    g_autofree uint64_t *buf = g_new(uint64_t, end - start);
    for (uint64_t i = start; i < end; i++)
        buf[i - start] = GUINT64_TO_BE(s->l1_table[i]);
    return pd_io_pwrite_full(img->io, buf, (end - start) * 8, s->header.l1_table_offset + start * 8,
                             error) &&
           pd_io_flush(img->io, error);
}

static uint64_t l1_bytes_alloc(const Qcow2State *s, uint64_t entries)
{
    uint64_t b = MAX(entries * 8, s->cluster_size);
    return (b + s->cluster_size - 1) & ~(s->cluster_size - 1);
}

bool qcow2_grow_l1_table(PdImage *img, uint64_t min_size, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (min_size <= s->l1_size)
        return true;
    if (min_size * 8 > QCOW2_MAX_L1_SIZE) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': the L1 table would need %" G_GUINT64_FORMAT
                    " entries, more than qcow2 allows; use bigger clusters",
                    img->io->name, min_size);
        return false;
    }
    uint64_t bytes = l1_bytes_alloc(s, min_size), off;
    if (!qcow2_alloc_clusters(img, bytes / s->cluster_size, &off, error) ||
        !qcow2_cache_flush(s->refcount_cache, error))
        return false;
    uint64_t *table = g_malloc0(bytes);
    memcpy(table, s->l1_table, (uint64_t)s->l1_size * 8);
    g_autofree uint64_t *disk = g_new(uint64_t, bytes / 8);
    for (uint64_t i = 0; i < bytes / 8; i++)
        disk[i] = GUINT64_TO_BE(table[i]);
    if (!pd_io_pwrite_full(img->io, disk, bytes, off, error) || !pd_io_flush(img->io, error)) {
        g_free(table);
        return false;
    }
    uint64_t old_off = s->header.l1_table_offset, old_size = s->l1_size;
    s->header.l1_table_offset = off;
    s->header.l1_size = (uint32_t)min_size;
    if (!qcow2_update_header(img, error)) {
        s->header.l1_table_offset = old_off;
        s->header.l1_size = (uint32_t)old_size;
        g_free(table);
        return false;
    }
    g_free(s->l1_table);
    s->l1_table = table;
    s->l1_size = (uint32_t)min_size;
    if (old_size && old_off)
        return qcow2_free_clusters(img, old_off, old_size * 8, error);
    return true;
}

/* The L2 table offset of L1 entry @l1i, 0 if none; false on a corrupt entry. */
static bool l2_offset(PdImage *img, uint64_t l1i, uint64_t *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t off = l1i < s->l1_size ? s->l1_table[l1i] & QCOW2_L1E_OFFSET_MASK : 0;
    if (off && (!qcow2_is_aligned(s, off) || off < s->cluster_size)) {
        qcow2_signal_corruption(img, error,
                                "L2 table offset 0x%" G_GINT64_MODIFIER
                                "x invalid (L1 index %" G_GUINT64_FORMAT ")",
                                off, l1i);
        return false;
    }
    *ret = off;
    return true;
}

/* Returns the L2 table of L1 entry @l1i pinned in *ret_table, allocating it or copying it
 * (shared with a snapshot) as needed. Order: refcount -> flush -> table -> flush -> L1. */
static bool l2_for_write(PdImage *img, uint64_t l1i, void **ret_table, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t old;
    if (l1i >= s->l1_size) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': write past the L1 table", img->io->name);
        return false;
    }
    if (!l2_offset(img, l1i, &old, error))
        return false;
    if (old && (s->l1_table[l1i] & QCOW2_OFLAG_COPIED))
        return qcow2_cache_get(s->l2_cache, old, ret_table, error);
    uint64_t fresh;
    void *table, *src;
    if (!qcow2_alloc_clusters(img, 1, &fresh, error) ||
        !qcow2_cache_get_empty(s->l2_cache, fresh, &table, error))
        return false;
    if (old) {
        if (!qcow2_cache_get(s->l2_cache, old, &src, error)) {
            qcow2_cache_put(s->l2_cache, &table);
            return false;
        }
        memcpy(table, src, s->cluster_size);
        qcow2_cache_put(s->l2_cache, &src);
        /* OFLAG_COPIED must say exactly whether the refcount is 1 */
        for (uint64_t i = 0; i < s->l2_size; i++) {
            uint64_t e = qcow2_l2_get(s, table, i), rc;
            Qcow2ClusterType t = qcow2_l2_entry_type(s, e);
            if (t != QCOW2_CLUSTER_NORMAL && t != QCOW2_CLUSTER_ZERO_ALLOC)
                continue;
            if (!qcow2_get_refcount(img, qcow2_l2_entry_offset(s, e) >> s->cluster_bits, &rc,
                                    error)) {
                qcow2_cache_put(s->l2_cache, &table);
                return false;
            }
            e = rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
            qcow2_l2_set(s, table, i, e);
        }
    }
    qcow2_cache_mark_dirty(s->l2_cache, table);
    if (!qcow2_cache_flush(s->l2_cache, error)) {
        qcow2_cache_put(s->l2_cache, &table);
        return false;
    }
    s->l1_table[l1i] = fresh | QCOW2_OFLAG_COPIED;
    if (!qcow2_write_l1_entries(img, l1i, 1, error) ||
        (old && !qcow2_free_clusters(img, old, s->cluster_size, error))) {
        qcow2_cache_put(s->l2_cache, &table);
        return false;
    }
    *ret_table = table;
    return true;
}

/* ---- mapping ----------------------------------------------------------------------- */

typedef struct {
    Qcow2ClusterType kind; /* per subcluster with extended L2 */
    uint64_t host;         /* host offset of the first byte (NORMAL, ZERO_ALLOC) */
    uint64_t bytes;        /* run length */
    uint64_t l2_entry;     /* COMPRESSED: the descriptor */
} Mapping;

/* State of the (sub)cluster @sc of entry @i. */
static bool entry_state(PdImage *img, const void *table, uint64_t i, uint64_t sc,
                        Qcow2ClusterType *ret_kind, uint64_t *ret_host, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t e = qcow2_l2_get(s, table, i);
    Qcow2ClusterType kind = qcow2_l2_entry_type(s, e);
    uint64_t off = qcow2_l2_entry_offset(s, e);
    if ((kind == QCOW2_CLUSTER_ZERO_PLAIN || kind == QCOW2_CLUSTER_ZERO_ALLOC) &&
        s->header.version < 3) {
        qcow2_signal_corruption(
            img, error,
            "zero cluster entry in a compat=0.10 image (L2 index %" G_GUINT64_FORMAT ")", i);
        return false;
    }
    if (kind != QCOW2_CLUSTER_COMPRESSED && off && !qcow2_is_aligned(s, off)) {
        qcow2_signal_corruption(img, error, "cluster offset 0x%" G_GINT64_MODIFIER "x unaligned",
                                off);
        return false;
    }
    if (s->extended_l2 && kind != QCOW2_CLUSTER_COMPRESSED) {
        uint64_t bm = qcow2_l2_bitmap(s, table, i);
        if (bm & (1ULL << (32 + sc))) {
            kind = QCOW2_CLUSTER_ZERO_PLAIN;
        } else if (bm & (1ULL << sc)) {
            if (!off) {
                qcow2_signal_corruption(img, error, "subcluster allocated without a host cluster");
                return false;
            }
            kind = QCOW2_CLUSTER_NORMAL;
            off += sc << s->subcluster_bits;
        } else {
            kind = QCOW2_CLUSTER_UNALLOCATED;
        }
    }
    *ret_kind = kind;
    *ret_host = off;
    return true;
}

/* How [offset, offset+max) starts: kind and run length, within one L2 table. */
static bool get_mapping(PdImage *img, uint64_t offset, uint64_t max, Mapping *m, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t l1i = qcow2_offset_to_l1_index(s, offset);
    uint64_t span = 1ULL << (s->l2_bits + s->cluster_bits);
    uint64_t n_max = MIN(max, span - (offset & (span - 1)));
    uint64_t l2off;
    if (!l2_offset(img, l1i, &l2off, error))
        return false;
    *m = (Mapping){.kind = QCOW2_CLUSTER_UNALLOCATED, .bytes = n_max};
    if (!l2off)
        return true;
    void *table;
    if (!qcow2_cache_get(s->l2_cache, l2off, &table, error))
        return false;
    uint64_t scs = 1ULL << s->subcluster_bits;
    uint64_t i = qcow2_offset_to_l2_index(s, offset);
    uint64_t sc = (offset >> s->subcluster_bits) & ((s->cluster_size / scs) - 1);
    uint64_t host;
    bool ok = entry_state(img, table, i, sc, &m->kind, &host, error);
    if (ok && m->kind == QCOW2_CLUSTER_COMPRESSED) {
        m->l2_entry = qcow2_l2_get(s, table, i);
        m->bytes = MIN(n_max, s->cluster_size - qcow2_offset_into_cluster(s, offset));
    } else if (ok) {
        m->host = host + (offset & (scs - 1));
        uint64_t bytes = MIN(n_max, scs - (offset & (scs - 1)));
        uint64_t pos = (offset | (scs - 1)) + 1;
        while (ok && bytes < n_max) {
            Qcow2ClusterType k;
            uint64_t h;
            ok = entry_state(img, table, qcow2_offset_to_l2_index(s, pos),
                             (pos >> s->subcluster_bits) & ((s->cluster_size / scs) - 1), &k, &h,
                             error);
            if (!ok || k != m->kind)
                break;
            if ((k == QCOW2_CLUSTER_NORMAL || k == QCOW2_CLUSTER_ZERO_ALLOC) &&
                h != m->host + bytes)
                break;
            bytes += MIN(scs, n_max - bytes);
            pos += scs;
        }
        m->bytes = bytes;
        if (m->kind != QCOW2_CLUSTER_NORMAL && m->kind != QCOW2_CLUSTER_ZERO_ALLOC)
            m->host = 0;
    }
    qcow2_cache_put(s->l2_cache, &table);
    return ok;
}

/* ---- read -------------------------------------------------------------------------- */

static bool read_compressed_part(PdImage *img, uint64_t l2_entry, uint64_t in_cluster, uint8_t *buf,
                                 uint64_t n, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t key = l2_entry & s->cluster_offset_mask;
    if (!s->cluster_cache)
        s->cluster_cache = g_malloc(s->cluster_size);
    if (s->cluster_cache_offset != key || key == 0) {
        s->cluster_cache_offset = 0;
        if (!qcow2_read_compressed(img, l2_entry, s->cluster_cache, error))
            return false;
        s->cluster_cache_offset = key;
    }
    memcpy(buf, s->cluster_cache + in_cluster, n);
    return true;
}

/* Reads guest data of this layer (backing where unallocated); no bounds check. */
static bool read_range(PdImage *img, uint64_t offset, uint8_t *buf, uint64_t len, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    while (len > 0) {
        Mapping m;
        if (!get_mapping(img, offset, len, &m, error))
            return false;
        bool ok = true;
        switch (m.kind) {
        case QCOW2_CLUSTER_UNALLOCATED:
            ok = pd_image_read_backing(img, offset, buf, m.bytes, error);
            break;
        case QCOW2_CLUSTER_ZERO_PLAIN:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            memset(buf, 0, m.bytes);
            break;
        case QCOW2_CLUSTER_NORMAL:
            ok = pd_io_pread_full(img->io, buf, m.bytes, m.host, error);
            break;
        case QCOW2_CLUSTER_COMPRESSED:
            ok = read_compressed_part(img, m.l2_entry, qcow2_offset_into_cluster(s, offset), buf,
                                      m.bytes, error);
            break;
        }
        if (!ok)
            return false;
        offset += m.bytes;
        buf += m.bytes;
        len -= m.bytes;
    }
    return true;
}

bool qcow2_co_read(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error)
{
    return read_range(img, offset, buf, len, error);
}

/* ---- write ------------------------------------------------------------------------- */

/* The current contents (this layer's view) of the guest cluster at @guest with L2 entry
 * @e, for completing a partial write. */
static bool cow_source(PdImage *img, uint64_t guest, uint64_t e, uint8_t *out, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    switch (qcow2_l2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
        return pd_image_read_backing(img, guest, out, s->cluster_size, error);
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        memset(out, 0, s->cluster_size);
        return true;
    case QCOW2_CLUSTER_NORMAL:
        return pd_io_pread_full(img->io, out, s->cluster_size, qcow2_l2_entry_offset(s, e), error);
    case QCOW2_CLUSTER_COMPRESSED:
        return qcow2_read_compressed(img, e, out, error);
    }
    return true;
}

/* Frees the clusters replaced by a request, after the L2 tables that dropped them are on
 * disk. Entries whose cluster ends with refcount 0 are punched out of the store. */
static bool free_replaced(PdImage *img, GArray *old, bool punch, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (old->len == 0)
        return true;
    if (!qcow2_cache_flush(s->l2_cache, error))
        return false;
    uint64_t run_start = 0, run_len = 0; /* host range to punch, merged */
    for (guint i = 0; i < old->len; i++) {
        uint64_t e = g_array_index(old, uint64_t, i);
        if (!qcow2_free_l2_entry(img, e, error))
            return false;
        Qcow2ClusterType t = qcow2_l2_entry_type(s, e);
        if (!punch || !img->io->ops->discard ||
            (t != QCOW2_CLUSTER_NORMAL && t != QCOW2_CLUSTER_ZERO_ALLOC))
            continue;
        uint64_t off = qcow2_l2_entry_offset(s, e), rc;
        if (!qcow2_get_refcount(img, off >> s->cluster_bits, &rc, NULL) || rc != 0)
            continue;
        if (run_len && off == run_start + run_len) {
            run_len += s->cluster_size;
            continue;
        }
        if (run_len)
            (void)img->io->ops->discard(img->io, run_start, run_len);
        run_start = off;
        run_len = s->cluster_size;
    }
    if (run_len)
        (void)img->io->ops->discard(img->io, run_start, run_len);
    g_array_set_size(old, 0);
    return true;
}

static bool holds_cluster(const Qcow2State *s, uint64_t e)
{
    Qcow2ClusterType t = qcow2_l2_entry_type(s, e);
    return t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC ||
           t == QCOW2_CLUSTER_COMPRESSED;
}

typedef struct {
    uint64_t offset; /* guest offset of the request part in this slice */
    const uint8_t *buf;
    uint64_t len;
    uint64_t c0;    /* L2 index of the first cluster */
    uint64_t nc;    /* clusters touched */
    uint64_t *host; /* per cluster */
    uint64_t *old;  /* per cluster: the L2 entry before */
    uint8_t *act;   /* per cluster */
} Slice;

static bool needs_bounce(const Qcow2State *s, const Slice *sl, uint64_t c)
{
    uint64_t cg = qcow2_start_of_cluster(s, sl->offset) + c * s->cluster_size;
    bool full = sl->offset <= cg && sl->offset + sl->len >= cg + s->cluster_size;
    return sl->act[c] != ACT_INPLACE && !full;
}

/* Completes cluster @c of @sl from its old contents (copy-on-write) and writes it whole. */
static bool write_bounced(PdImage *img, const Slice *sl, uint64_t c, uint8_t **bounce,
                          GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    uint64_t cg = qcow2_start_of_cluster(s, sl->offset) + c * cs;
    if (!*bounce)
        *bounce = g_malloc(cs);
    if (sl->act[c] == ACT_INPLACE_ZERO)
        memset(*bounce, 0, cs);
    else if (!cow_source(img, cg, sl->old[c], *bounce, error))
        return false;
    uint64_t a = MAX(sl->offset, cg), b = MIN(sl->offset + sl->len, cg + cs);
    memcpy(*bounce + (a - cg), sl->buf + (a - sl->offset), b - a);
    return pd_io_pwrite_full(img->io, *bounce, cs, sl->host[c], error);
}

/* Writes clusters [k, k+j) of @sl, host-contiguous: partial clusters that are not written
 * in place go through write_bounced, the rest is one write straight from the caller. */
static bool write_group(PdImage *img, const Slice *sl, uint64_t k, uint64_t j, uint8_t **bounce,
                        GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    uint64_t lo = k, hi = k + j;
    if (needs_bounce(s, sl, lo)) {
        if (!write_bounced(img, sl, lo, bounce, error))
            return false;
        lo++;
    }
    if (hi > lo && needs_bounce(s, sl, hi - 1)) {
        if (!write_bounced(img, sl, hi - 1, bounce, error))
            return false;
        hi--;
    }
    if (lo >= hi)
        return true;
    uint64_t g0 = qcow2_start_of_cluster(s, sl->offset);
    uint64_t ws = MAX(sl->offset, g0 + lo * cs), we = MIN(sl->offset + sl->len, g0 + hi * cs);
    uint64_t h = sl->host[lo] + (ws - (g0 + lo * cs));
    return pd_io_pwrite_full(img->io, sl->buf + (ws - sl->offset), we - ws, h, error);
}

/* One L2 table's worth of a write. Replaced entries are appended to @replaced. */
static bool write_slice(PdImage *img, uint64_t offset, const uint8_t *buf, uint64_t len,
                        GArray *replaced, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    void *table;
    if (!l2_for_write(img, qcow2_offset_to_l1_index(s, offset), &table, error))
        return false;
    Slice sl = {.offset = offset, .buf = buf, .len = len};
    sl.c0 = qcow2_offset_to_l2_index(s, offset);
    sl.nc = ((offset + len - 1) >> s->cluster_bits) - (offset >> s->cluster_bits) + 1;
    g_autofree uint64_t *host = sl.host = g_new(uint64_t, sl.nc);
    g_autofree uint64_t *old = sl.old = g_new(uint64_t, sl.nc);
    g_autofree uint8_t *act = sl.act = g_new(uint8_t, sl.nc);
    g_autofree uint8_t *bounce = NULL;
    bool ok = true, allocated = false;
    for (uint64_t k = 0; k < sl.nc; k++)
        old[k] = qcow2_l2_get(s, table, sl.c0 + k);
    /* pass 1: classify and allocate */
    for (uint64_t k = 0; ok && k < sl.nc;) {
        Qcow2ClusterType t = qcow2_l2_entry_type(s, old[k]);
        bool copied = (old[k] & QCOW2_OFLAG_COPIED) != 0;
        if (copied && (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC)) {
            host[k] = qcow2_l2_entry_offset(s, old[k]);
            act[k] = t == QCOW2_CLUSTER_NORMAL ? ACT_INPLACE : ACT_INPLACE_ZERO;
            if (!qcow2_is_aligned(s, host[k])) {
                qcow2_signal_corruption(
                    img, error, "cluster offset 0x%" G_GINT64_MODIFIER "x unaligned", host[k]);
                ok = false;
            } else {
                ok = qcow2_check_data_overlap(img, host[k], cs, error);
            }
            k++;
            continue;
        }
        uint64_t j = 1;
        while (k + j < sl.nc) {
            Qcow2ClusterType tj = qcow2_l2_entry_type(s, old[k + j]);
            if ((old[k + j] & QCOW2_OFLAG_COPIED) &&
                (tj == QCOW2_CLUSTER_NORMAL || tj == QCOW2_CLUSTER_ZERO_ALLOC))
                break;
            j++;
        }
        uint64_t h;
        ok = qcow2_alloc_clusters(img, j, &h, error);
        for (uint64_t i = 0; ok && i < j; i++) {
            host[k + i] = h + i * cs;
            act[k + i] = ACT_ALLOC;
        }
        allocated = true;
        k += j;
    }
    /* The new refcounts reach the disk (written and flushed) before any L2 table that
     * points to the clusters: the L2 cache depends on the refcount cache. Writing the data
     * first is safe: nothing on disk references these clusters yet. */
    (void)allocated;
    /* pass 2: data, one write per host-contiguous group */
    for (uint64_t k = 0; ok && k < sl.nc;) {
        uint64_t j = 1;
        while (k + j < sl.nc && host[k + j] == host[k] + j * cs)
            j++;
        bool in_place = false;
        for (uint64_t i = k; i < k + j; i++)
            in_place |= act[i] != ACT_ALLOC;
        ok = (!in_place || check_table_overlap(img, host[k], j * cs, error)) &&
             write_group(img, &sl, k, j, &bounce, error);
        k += j;
    }
    /* pass 3: L2 entries (in the cache; on disk after the refcounts) */
    bool dirty = false;
    for (uint64_t k = 0; ok && k < sl.nc; k++) {
        if (act[k] == ACT_INPLACE)
            continue;
        qcow2_l2_set(s, table, sl.c0 + k, host[k] | QCOW2_OFLAG_COPIED);
        dirty = true;
        if (act[k] == ACT_ALLOC && holds_cluster(s, old[k]))
            g_array_append_val(replaced, old[k]);
    }
    if (dirty)
        qcow2_cache_mark_dirty(s->l2_cache, table);
    qcow2_cache_put(s->l2_cache, &table);
    return ok;
}

static uint64_t slice_len(const Qcow2State *s, uint64_t offset, uint64_t len)
{
    uint64_t span = 1ULL << (s->l2_bits + s->cluster_bits);
    return MIN(len, span - (offset & (span - 1)));
}

static bool write_extended(PdImage *img, uint64_t offset, const uint8_t *buf, uint64_t len,
                           GArray *replaced, GError **error);

/* Allocates the missing L2 tables of [offset, offset+len) together: one run of clusters,
 * refcounts flushed, zeroed tables written with one write and flushed, then the L1
 * entries (one write) and a flush — instead of three flushes per table. */
static bool alloc_l2_tables(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t first = qcow2_offset_to_l1_index(s, offset);
    uint64_t last = qcow2_offset_to_l1_index(s, offset + len - 1);
    uint64_t a = UINT64_MAX, b = 0, n = 0;
    for (uint64_t i = first; i <= last && i < s->l1_size; i++) {
        if (s->l1_table[i] & QCOW2_L1E_OFFSET_MASK)
            continue;
        a = MIN(a, i);
        b = i;
        n++;
    }
    if (n < 2)
        return true; /* none, or one: l2_for_write does it */
    uint64_t cs = s->cluster_size, base;
    if (!qcow2_alloc_clusters(img, n, &base, error) || !qcow2_cache_flush(s->refcount_cache, error))
        return false;
    g_autofree uint8_t *zero = g_malloc0(n * cs);
    if (!pd_io_pwrite_full(img->io, zero, n * cs, base, error) || !pd_io_flush(img->io, error))
        return false;
    uint64_t k = 0;
    for (uint64_t i = a; i <= b; i++) {
        if (s->l1_table[i] & QCOW2_L1E_OFFSET_MASK)
            continue;
        qcow2_cache_discard(s->l2_cache, base + k * cs);
        s->l1_table[i] = (base + k * cs) | QCOW2_OFLAG_COPIED;
        k++;
    }
    return qcow2_write_l1_entries(img, a, b - a + 1, error);
}

bool qcow2_co_write(PdImage *img, uint64_t offset, const void *buf, size_t len, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!qcow2_mark_bitmaps_in_use(img, error))
        return false;
    if (!alloc_l2_tables(img, offset, len, error))
        return false;
    g_autoptr(GArray) replaced = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    const uint8_t *p = buf;
    bool ok = true;
    while (ok && len > 0) {
        uint64_t n = slice_len(s, offset, len);
        ok = s->extended_l2 ? write_extended(img, offset, p, n, replaced, error)
                            : write_slice(img, offset, p, n, replaced, error);
        offset += n;
        p += n;
        len -= n;
    }
    return free_replaced(img, replaced, false, ok ? error : NULL) && ok;
}

/* Extended L2 writes: whole clusters, read-modify-write (subclusters are only read). */
static bool write_extended(PdImage *img, uint64_t offset, const uint8_t *buf, uint64_t len,
                           GArray *replaced, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    g_autofree uint8_t *data = g_malloc(cs);
    while (len > 0) {
        uint64_t g = qcow2_start_of_cluster(s, offset);
        uint64_t n = MIN(len, g + cs - offset);
        if (!read_range(img, g, data, cs, error))
            return false;
        memcpy(data + (offset - g), buf, n);
        void *table;
        if (!l2_for_write(img, qcow2_offset_to_l1_index(s, g), &table, error))
            return false;
        uint64_t i = qcow2_offset_to_l2_index(s, g);
        uint64_t e = qcow2_l2_get(s, table, i), host;
        bool ok = true;
        if (qcow2_l2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL && (e & QCOW2_OFLAG_COPIED) &&
            qcow2_is_aligned(s, qcow2_l2_entry_offset(s, e))) {
            host = qcow2_l2_entry_offset(s, e);
            ok = qcow2_check_data_overlap(img, host, cs, error) &&
                 check_table_overlap(img, host, cs, error);
        } else {
            ok = qcow2_alloc_clusters(img, 1, &host, error);
            if (ok && holds_cluster(s, e))
                g_array_append_val(replaced, e);
        }
        ok = ok && pd_io_pwrite_full(img->io, data, cs, host, error);
        if (ok) {
            qcow2_l2_set(s, table, i, host | QCOW2_OFLAG_COPIED);
            qcow2_l2_set_bitmap(s, table, i, 0xffffffffULL);
            qcow2_cache_mark_dirty(s->l2_cache, table);
        }
        qcow2_cache_put(s->l2_cache, &table);
        if (!ok)
            return false;
        offset += n;
        buf += n;
        len -= n;
    }
    return true;
}

/* ---- zeroes and discard ------------------------------------------------------------ */

static bool write_zero_bytes(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    g_autofree uint8_t *zero = g_malloc0(MIN(len, (uint64_t)ZERO_BUF_SIZE));
    while (len > 0) {
        uint64_t n = MIN(len, (uint64_t)ZERO_BUF_SIZE);
        if (!qcow2_co_write(img, offset, zero, n, error))
            return false;
        offset += n;
        len -= n;
    }
    return true;
}

/* Zeroes a part of one cluster: nothing to do when it reads as zeroes already. */
static bool zero_partial(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    Mapping m;
    if (!get_mapping(img, offset, len, &m, error))
        return false;
    if (m.bytes >= len &&
        (m.kind == QCOW2_CLUSTER_ZERO_PLAIN || m.kind == QCOW2_CLUSTER_ZERO_ALLOC ||
         (m.kind == QCOW2_CLUSTER_UNALLOCATED && !img->backing_name)))
        return true;
    return write_zero_bytes(img, offset, len, error);
}

typedef enum { OP_ZERO, OP_ZERO_UNMAP, OP_DISCARD } ClearOp;

/* Rewrites the L2 entries of whole clusters [offset, offset+len) within one L2 table. */
static bool clear_slice(PdImage *img, uint64_t offset, uint64_t len, ClearOp op, GArray *replaced,
                        GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t l1i = qcow2_offset_to_l1_index(s, offset), l2off;
    if (!l2_offset(img, l1i, &l2off, error))
        return false;
    bool v3 = s->header.version >= 3;
    bool backing = img->backing_name != NULL;
    /* Nothing mapped and nothing below: already reads as zeroes (or as the backing file). */
    if (!l2off && (!backing || (op == OP_DISCARD && !v3)))
        return true;
    void *table;
    if (!l2_for_write(img, l1i, &table, error))
        return false;
    uint64_t first = qcow2_offset_to_l2_index(s, offset);
    uint64_t n = len >> s->cluster_bits;
    bool dirty = false;
    for (uint64_t i = first; i < first + n; i++) {
        uint64_t e = qcow2_l2_get(s, table, i), bm = qcow2_l2_bitmap(s, table, i), ne = 0;
        uint64_t nbm = 0;
        Qcow2ClusterType t = qcow2_l2_entry_type(s, e);
        if (s->extended_l2) {
            if (op != OP_DISCARD || backing)
                nbm = 0xffffffff00000000ULL;
        } else if (op == OP_DISCARD) {
            ne = v3 && backing ? QCOW2_OFLAG_ZERO : 0;
        } else if (!v3) {
            ne = 0; /* no backing here (checked by the caller) */
        } else if (op == OP_ZERO && (e & QCOW2_OFLAG_COPIED) &&
                   (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC)) {
            ne = e | QCOW2_OFLAG_ZERO; /* keep the allocation */
        } else if (t == QCOW2_CLUSTER_UNALLOCATED && !backing) {
            continue; /* reads as zeroes already */
        } else {
            ne = QCOW2_OFLAG_ZERO;
        }
        if (ne == e && nbm == bm)
            continue;
        qcow2_l2_set(s, table, i, ne);
        qcow2_l2_set_bitmap(s, table, i, nbm);
        dirty = true;
        if (holds_cluster(s, e) && qcow2_l2_entry_offset(s, ne) == 0)
            g_array_append_val(replaced, e);
    }
    if (dirty)
        qcow2_cache_mark_dirty(s->l2_cache, table);
    qcow2_cache_put(s->l2_cache, &table);
    return true;
}

static bool clear_range(PdImage *img, uint64_t offset, uint64_t len, ClearOp op, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    g_autoptr(GArray) replaced = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    /* zero flags over a backing file need L2 tables everywhere: allocate them together */
    bool ok =
        !(img->backing_name && s->header.version >= 3) || alloc_l2_tables(img, offset, len, error);
    while (ok && len > 0) {
        uint64_t n = slice_len(s, offset, len);
        ok = clear_slice(img, offset, n, op, replaced, error);
        offset += n;
        len -= n;
    }
    return free_replaced(img, replaced, op != OP_ZERO, ok ? error : NULL) && ok;
}

bool qcow2_co_write_zeroes(PdImage *img, uint64_t offset, uint64_t len, PdZeroFlags flags,
                           GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!qcow2_mark_bitmaps_in_use(img, error))
        return false;
    uint64_t end = offset + len;
    uint64_t a = (offset + s->cluster_size - 1) & ~(s->cluster_size - 1);
    uint64_t b = end == img->size ? (end + s->cluster_size - 1) & ~(s->cluster_size - 1)
                                  : end & ~(s->cluster_size - 1);
    if (a >= b)
        return zero_partial(img, offset, len, error);
    if (offset < a && !zero_partial(img, offset, a - offset, error))
        return false;
    if (b < end && !zero_partial(img, b, end - b, error))
        return false;
    if (s->header.version < 3 && img->backing_name)
        return write_zero_bytes(img, a, MIN(b, end) - a, error);
    return clear_range(img, a, b - a, (flags & PD_ZERO_MAY_UNMAP) ? OP_ZERO_UNMAP : OP_ZERO, error);
}

bool qcow2_co_discard(PdImage *img, uint64_t offset, uint64_t len, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t end = offset + len;
    uint64_t a = (offset + s->cluster_size - 1) & ~(s->cluster_size - 1);
    uint64_t b = end == img->size ? (end + s->cluster_size - 1) & ~(s->cluster_size - 1)
                                  : end & ~(s->cluster_size - 1);
    if (a >= b)
        return true;
    if (!qcow2_mark_bitmaps_in_use(img, error))
        return false;
    return clear_range(img, a, b - a, OP_DISCARD, error);
}

/* ---- block status ------------------------------------------------------------------ */

bool qcow2_co_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                           GError **error)
{
    Mapping m;
    if (!get_mapping(img, offset, len, &m, error))
        return false;
    uint64_t total = m.bytes;
    /* extend the run across L2 tables */
    while (total < len && m.kind != QCOW2_CLUSTER_COMPRESSED) {
        Mapping next;
        if (!get_mapping(img, offset + total, len - total, &next, error))
            return false;
        if (next.kind != m.kind)
            break;
        if ((m.kind == QCOW2_CLUSTER_NORMAL || m.kind == QCOW2_CLUSTER_ZERO_ALLOC) &&
            next.host != m.host + total)
            break;
        total += next.bytes;
    }
    PdBlockStatus st = {.length = total};
    switch (m.kind) {
    case QCOW2_CLUSTER_UNALLOCATED:
        st.flags = 0;
        break;
    case QCOW2_CLUSTER_ZERO_PLAIN:
        st.flags = PD_BLOCK_ALLOCATED | PD_BLOCK_ZERO;
        break;
    case QCOW2_CLUSTER_ZERO_ALLOC:
        st.flags = PD_BLOCK_ALLOCATED | PD_BLOCK_ZERO | PD_BLOCK_OFFSET_VALID;
        st.host_offset = m.host;
        break;
    case QCOW2_CLUSTER_NORMAL:
        st.flags = PD_BLOCK_ALLOCATED | PD_BLOCK_DATA | PD_BLOCK_OFFSET_VALID;
        st.host_offset = m.host;
        break;
    case QCOW2_CLUSTER_COMPRESSED:
        st.flags = PD_BLOCK_ALLOCATED | PD_BLOCK_DATA | PD_BLOCK_COMPRESSED;
        break;
    }
    *ret = st;
    return true;
}

/* ---- preallocation ----------------------------------------------------------------- */

/* Makes fresh data clusters [host, host+bytes) what @mode asks: reserved (falloc), zeroes
 * written (full), or just guaranteed to read as zeroes (metadata). */
static bool prepare_data(PdImage *img, uint64_t host, uint64_t bytes, PdPrealloc mode,
                         GError **error)
{
    PdIO *io = img->io;
    uint64_t size;
    if (!pd_io_get_size(io, &size, error))
        return false;
    if (mode == PD_PREALLOC_FALLOC) {
        int r = io->ops->allocate ? io->ops->allocate(io, host, bytes) : -ENOTSUP;
        if (r == 0)
            return true;
        if (r != -ENOTSUP) {
            pd_error_set_errno(error, -r, "Could not preallocate '%s'", io->name);
            return false;
        }
        mode = PD_PREALLOC_FULL;
    }
    if (mode == PD_PREALLOC_FULL) {
        g_autofree uint8_t *zero = g_malloc0(ZERO_BUF_SIZE);
        for (uint64_t done = 0; done < bytes;) {
            uint64_t n = MIN(bytes - done, (uint64_t)ZERO_BUF_SIZE);
            if (!pd_io_pwrite_full(io, zero, n, host + done, error))
                return false;
            done += n;
        }
        return true;
    }
    /* metadata: past the end of the store reads as zeroes; below it, clear reused space */
    if (host < size) {
        uint64_t n = MIN(bytes, size - host);
        int r = io->ops->discard ? io->ops->discard(io, host, n) : -ENOTSUP;
        if (r < 0) {
            g_autofree uint8_t *zero = g_malloc0(ZERO_BUF_SIZE);
            for (uint64_t done = 0; done < n;) {
                uint64_t k = MIN(n - done, (uint64_t)ZERO_BUF_SIZE);
                if (!pd_io_pwrite_full(io, zero, k, host + done, error))
                    return false;
                done += k;
            }
        }
    }
    if (host + bytes > size)
        return pd_io_truncate(io, host + bytes, error);
    return true;
}

/* Maps the unallocated clusters of an existing L2 table in [offset, offset+len). */
static bool prealloc_existing(PdImage *img, uint64_t offset, uint64_t len, PdPrealloc mode,
                              GError **error)
{
    Qcow2State *s = qcow2_state(img);
    void *table;
    if (!l2_for_write(img, qcow2_offset_to_l1_index(s, offset), &table, error))
        return false;
    uint64_t first = qcow2_offset_to_l2_index(s, offset);
    uint64_t n = ((offset + len - 1) >> s->cluster_bits) - (offset >> s->cluster_bits) + 1;
    uint64_t need = 0;
    for (uint64_t i = first; i < first + n; i++)
        if (qcow2_l2_entry_type(s, qcow2_l2_get(s, table, i)) == QCOW2_CLUSTER_UNALLOCATED)
            need++;
    bool ok = true;
    uint64_t host = 0;
    if (need) {
        ok = qcow2_alloc_clusters(img, need, &host, error) &&
             (s->lazy_refcounts || qcow2_cache_flush(s->refcount_cache, error)) &&
             prepare_data(img, host, need * s->cluster_size, mode, error);
        for (uint64_t i = first; ok && i < first + n; i++) {
            if (qcow2_l2_entry_type(s, qcow2_l2_get(s, table, i)) != QCOW2_CLUSTER_UNALLOCATED)
                continue;
            qcow2_l2_set(s, table, i, host | QCOW2_OFLAG_COPIED);
            qcow2_l2_set_bitmap(s, table, i, 0xffffffffULL);
            host += s->cluster_size;
        }
        if (ok)
            qcow2_cache_mark_dirty(s->l2_cache, table);
    }
    qcow2_cache_put(s->l2_cache, &table);
    return ok;
}

/* New L2 tables for L1 entries [l1a, l1b) (all empty), built in memory and written with
 * one write, with their data clusters right after them. */
static bool prealloc_new_tables(PdImage *img, uint64_t l1a, uint64_t l1b, uint64_t offset,
                                uint64_t end, PdPrealloc mode, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, k = l1b - l1a;
    uint64_t span_bits = s->l2_bits + s->cluster_bits;
    uint64_t d_first = offset >> s->cluster_bits;
    uint64_t d_end = (end + cs - 1) >> s->cluster_bits;
    uint64_t d = d_end - d_first, base;
    if (!qcow2_alloc_clusters(img, k + d, &base, error) ||
        (!s->lazy_refcounts && !qcow2_cache_flush(s->refcount_cache, error)) ||
        !prepare_data(img, base + k * cs, d * cs, mode, error))
        return false;
    g_autofree uint8_t *tables = g_malloc0(k * cs);
    uint64_t data = base + k * cs;
    for (uint64_t c = d_first; c < d_end; c++) {
        uint64_t t = (c >> s->l2_bits) - l1a;
        uint64_t i = c & (s->l2_size - 1);
        qcow2_l2_set(s, tables + t * cs, i, data | QCOW2_OFLAG_COPIED);
        qcow2_l2_set_bitmap(s, tables + t * cs, i, 0xffffffffULL);
        data += cs;
    }
    (void)span_bits;
    if (!pd_io_pwrite_full(img->io, tables, k * cs, base, error) || !pd_io_flush(img->io, error))
        return false;
    for (uint64_t t = 0; t < k; t++)
        s->l1_table[l1a + t] = (base + t * cs) | QCOW2_OFLAG_COPIED;
    return qcow2_write_l1_entries(img, l1a, k, error);
}

bool qcow2_preallocate(PdImage *img, uint64_t offset, uint64_t len, PdPrealloc mode, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (mode == PD_PREALLOC_OFF || len == 0)
        return true;
    uint64_t span = 1ULL << (s->l2_bits + s->cluster_bits);
    uint64_t max_tables = MAX(1, (64ULL << 20) / s->cluster_size);
    uint64_t end = offset + len;
    offset = qcow2_start_of_cluster(s, offset);
    while (offset < end) {
        uint64_t l1i = qcow2_offset_to_l1_index(s, offset), l2off;
        if (!l2_offset(img, l1i, &l2off, error))
            return false;
        if (l2off) {
            uint64_t n = slice_len(s, offset, end - offset);
            if (!prealloc_existing(img, offset, n, mode, error))
                return false;
            offset += n;
            continue;
        }
        /* a run of L1 entries without tables */
        uint64_t l1b = l1i + 1;
        while (l1b < s->l1_size && l1b - l1i < max_tables &&
               (l1b << (s->l2_bits + s->cluster_bits)) < end &&
               (s->l1_table[l1b] & QCOW2_L1E_OFFSET_MASK) == 0)
            l1b++;
        uint64_t run_end = MIN(end, l1b * span);
        if (!prealloc_new_tables(img, l1i, l1b, offset, run_end, mode, error))
            return false;
        offset = run_end;
    }
    return qcow2_flush_caches(img, error);
}

/* ---- single entries, zero expansion, shrinking ------------------------------------- */

bool qcow2_set_l2_entry(PdImage *img, uint64_t offset, uint64_t entry, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    void *table;
    if (!l2_for_write(img, qcow2_offset_to_l1_index(s, offset), &table, error))
        return false;
    uint64_t i = qcow2_offset_to_l2_index(s, offset);
    uint64_t old = qcow2_l2_get(s, table, i);
    qcow2_l2_set(s, table, i, entry);
    qcow2_l2_set_bitmap(s, table, i, 0);
    qcow2_cache_mark_dirty(s->l2_cache, table);
    qcow2_cache_put(s->l2_cache, &table);
    if (!holds_cluster(s, old))
        return true;
    g_autoptr(GArray) replaced = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    g_array_append_val(replaced, old);
    return free_replaced(img, replaced, false, error);
}

/* Expands the zero clusters of the L2 table at @l2off (shared by @users L1 tables). */
static bool expand_table(PdImage *img, uint64_t l2off, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t users;
    if (!qcow2_get_refcount(img, l2off >> s->cluster_bits, &users, error))
        return false;
    void *table;
    if (!qcow2_cache_get(s->l2_cache, l2off, &table, error))
        return false;
    g_autofree uint8_t *zero = g_malloc0(s->cluster_size);
    bool ok = true;
    for (uint64_t i = 0; ok && i < s->l2_size; i++) {
        uint64_t e = qcow2_l2_get(s, table, i), ne;
        Qcow2ClusterType t = qcow2_l2_entry_type(s, e);
        if (t == QCOW2_CLUSTER_ZERO_ALLOC) {
            uint64_t host = qcow2_l2_entry_offset(s, e);
            ok = qcow2_check_data_overlap(img, host, s->cluster_size, error) &&
                 pd_io_pwrite_full(img->io, zero, s->cluster_size, host, error);
            ne = e & ~QCOW2_OFLAG_ZERO;
        } else if (t == QCOW2_CLUSTER_ZERO_PLAIN) {
            if (!img->backing_name) {
                ne = 0;
            } else {
                uint64_t host;
                ok = qcow2_alloc_clusters(img, 1, &host, error) &&
                     (users <= 1 || qcow2_update_refcount(img, host, s->cluster_size,
                                                          (int64_t)users - 1, error)) &&
                     qcow2_cache_flush(s->refcount_cache, error) &&
                     pd_io_pwrite_full(img->io, zero, s->cluster_size, host, error);
                ne = host | (users == 1 ? QCOW2_OFLAG_COPIED : 0);
            }
        } else {
            continue;
        }
        if (ok) {
            qcow2_l2_set(s, table, i, ne);
            qcow2_cache_mark_dirty(s->l2_cache, table);
        }
    }
    qcow2_cache_put(s->l2_cache, &table);
    return ok;
}

static bool expand_l1(PdImage *img, const uint64_t *l1, uint64_t n, GHashTable *seen,
                      GError **error)
{
    Qcow2State *s = qcow2_state(img);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = l1[i] & QCOW2_L1E_OFFSET_MASK;
        if (!off || g_hash_table_contains(seen, &l1[i]))
            continue;
        if (!qcow2_is_aligned(s, off) || off < s->cluster_size) {
            qcow2_signal_corruption(img, error, "L2 table offset 0x%" G_GINT64_MODIFIER "x invalid",
                                    off);
            return false;
        }
        uint64_t *key = g_new(uint64_t, 1);
        *key = l1[i];
        g_hash_table_add(seen, key);
        if (!expand_table(img, off, error))
            return false;
    }
    return true;
}

bool qcow2_expand_zero_clusters(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (s->extended_l2)
        return true;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    if (!expand_l1(img, s->l1_table, s->l1_size, seen, error))
        return false;
    for (uint32_t k = 0; k < s->nb_snapshots; k++) {
        Qcow2Snapshot *sn = &s->snapshots[k];
        if ((uint64_t)sn->l1_size * 8 > QCOW2_MAX_L1_SIZE ||
            !qcow2_is_aligned(s, sn->l1_table_offset)) {
            qcow2_signal_corruption(img, error, "snapshot L1 table invalid");
            return false;
        }
        g_autofree uint64_t *l1 = g_new(uint64_t, MAX(sn->l1_size, 1));
        if (!pd_io_pread_full(img->io, l1, (uint64_t)sn->l1_size * 8, sn->l1_table_offset, error))
            return false;
        for (uint32_t i = 0; i < sn->l1_size; i++)
            l1[i] = GUINT64_FROM_BE(l1[i]);
        if (!expand_l1(img, l1, sn->l1_size, seen, error))
            return false;
    }
    return qcow2_flush_caches(img, error);
}

bool qcow2_truncate_mappings(PdImage *img, uint64_t new_size, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    uint64_t start = (new_size + cs - 1) & ~(cs - 1);
    uint64_t span = 1ULL << (s->l2_bits + s->cluster_bits);
    uint64_t end = (uint64_t)s->l1_size * span;
    g_autoptr(GArray) replaced = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    g_autoptr(GArray) tables = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    uint64_t first_l1 = (start + span - 1) / span;
    bool ok = true;
    for (uint64_t off = start; ok && off < end;) {
        uint64_t n = slice_len(s, off, end - off);
        uint64_t l1i = qcow2_offset_to_l1_index(s, off), l2off;
        ok = l2_offset(img, l1i, &l2off, error);
        if (ok && l2off) {
            void *table;
            ok = l2_for_write(img, l1i, &table, error);
            for (uint64_t i = qcow2_offset_to_l2_index(s, off); ok && i < s->l2_size; i++) {
                uint64_t e = qcow2_l2_get(s, table, i);
                if (!e && !qcow2_l2_bitmap(s, table, i))
                    continue;
                if (holds_cluster(s, e))
                    g_array_append_val(replaced, e);
                qcow2_l2_set(s, table, i, 0);
                qcow2_l2_set_bitmap(s, table, i, 0);
                qcow2_cache_mark_dirty(s->l2_cache, table);
            }
            if (ok)
                qcow2_cache_put(s->l2_cache, &table);
        }
        off += n;
    }
    if (!ok || !free_replaced(img, replaced, true, error))
        return false;
    /* L2 tables wholly past the end: L1 entry first, then the table's refcount */
    for (uint64_t i = first_l1; i < s->l1_size; i++) {
        uint64_t off = s->l1_table[i] & QCOW2_L1E_OFFSET_MASK;
        if (!off)
            continue;
        g_array_append_val(tables, off);
        s->l1_table[i] = 0;
    }
    if (tables->len == 0)
        return true;
    if (!qcow2_write_l1_entries(img, first_l1, s->l1_size - first_l1, error))
        return false;
    for (guint i = 0; i < tables->len; i++)
        if (!qcow2_free_clusters(img, g_array_index(tables, uint64_t, i), cs, error))
            return false;
    return true;
}
