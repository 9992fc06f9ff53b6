/* qcow2 driver: open/create/close, info, resize, amend, backing file, measure, and the
 * driver table. The on-disk work lives in qcow2-header.c (cluster 0), qcow2-cluster.c
 * (L1/L2 and guest I/O), qcow2-refcount.c, qcow2-cache.c, qcow2-compress.c,
 * qcow2-snapshot.c and qcow2-check.c. */
#include "formats/drivers/qcow2/qcow2.h"
#include "formats/drivers/qcow2/qcow2-snapshot-table.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <stdarg.h>
#include <string.h>

#define L2_CACHE_BYTES       (32ULL << 20)
#define REFCOUNT_CACHE_BYTES (4ULL << 20)

bool qcow2_flush_caches(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!s->l2_cache)
        return true;
    return qcow2_cache_write(s->l2_cache, error) && qcow2_cache_write(s->refcount_cache, error) &&
           pd_io_flush(img->io, error);
}

static void set_dependency(Qcow2State *s)
{
    /* With lazy refcounts, L2 tables may reach the disk before the refcounts (the dirty bit
     * says the refcounts must be rebuilt). */
    qcow2_cache_set_dependency(s->l2_cache, s->lazy_refcounts ? NULL : s->refcount_cache);
    qcow2_cache_set_flush_store_first(s->l2_cache, s->lazy_refcounts);
}

static void free_state(PdImage *img)
{
    Qcow2State *s = qcow2_state(img);
    if (!s)
        return;
    qcow2_cache_free(s->l2_cache);
    qcow2_cache_free(s->refcount_cache);
    qcow2_refcount_close(img);
    qcow2_free_snapshots(s);
    qcow2_header_state_free(s);
    g_free(s->l1_table);
    g_free(s->cluster_cache);
    g_free(s->cluster_data);
    g_free(s);
    img->priv = NULL;
}

static bool writable(PdImage *img)
{
    return (img->flags & PD_OPEN_RDWR) && !img->io->read_only;
}

static void qcow2_close(PdImage *img)
{
    Qcow2State *s = qcow2_state(img);
    if (!s)
        return;
    if (writable(img) && !s->corrupt) {
        if (qcow2_flush_caches(img, NULL) && s->dirty_marked)
            (void)qcow2_mark_clean(img, NULL);
    }
    free_state(img);
}

static bool load_l1(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    s->l1_size = s->header.l1_size;
    uint64_t bytes = MAX((uint64_t)s->l1_size * 8, s->cluster_size);
    bytes = (bytes + s->cluster_size - 1) & ~(s->cluster_size - 1);
    s->l1_table = g_malloc0(bytes);
    if (s->l1_size && !pd_io_pread_full(img->io, s->l1_table, (uint64_t)s->l1_size * 8,
                                        s->header.l1_table_offset, error))
        return false;
    for (uint64_t i = 0; i < s->l1_size; i++)
        s->l1_table[i] = GUINT64_FROM_BE(s->l1_table[i]);
    return true;
}

/* Repairs the refcounts of an image left dirty with lazy refcounts, then clears the bit. */
static bool repair_dirty(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    PdCheckResult res = {0};
    res.messages = g_ptr_array_new_with_free_func(g_free);
    bool ok = qcow2_check(img, PD_CHECK_FIX_ERRORS | PD_CHECK_FIX_LEAKS, &res, error);
    pd_check_result_clear(&res);
    if (!ok) {
        g_prefix_error(
            error, "Image '%s' was not closed cleanly and could not be repaired: ", img->io->name);
        return false;
    }
    s->dirty_marked = true; /* so mark_clean writes the header */
    return qcow2_mark_clean(img, error);
}

static bool qcow2_open(PdImage *img, GError **error)
{
    Qcow2State *s = g_new0(Qcow2State, 1);
    img->priv = s;
    qcow2_header_state_init(s);
    bool ok = qcow2_read_header(img, error);
    if (ok) {
        img->size = s->header.size;
        img->backing_format = PD_FORMAT_UNKNOWN;
        if (img->backing_name && s->backing_format_name) {
            img->backing_format = pd_format_from_name(s->backing_format_name);
            if (img->backing_format == PD_FORMAT_UNKNOWN && !(img->flags & PD_OPEN_NO_BACKING)) {
                g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                            "Image '%s': backing file format '%s' is not supported", img->io->name,
                            s->backing_format_name);
                ok = false;
            }
        }
    }
    if (ok && s->corrupt && (img->flags & PD_OPEN_RDWR) && !(img->flags & PD_OPEN_CHECK_ONLY)) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s' is marked corrupt; it can be opened read-only, or repaired "
                    "with check -r all",
                    img->io->name);
        ok = false;
    }
    if (ok && !img->header_only) {
        uint64_t l2_tables =
            MAX(16, MIN((uint64_t)s->header.l1_size + 4, L2_CACHE_BYTES / s->cluster_size));
        uint64_t rc_tables = MAX(16, MIN(4096, REFCOUNT_CACHE_BYTES / s->cluster_size));
        s->l2_cache = qcow2_cache_new(img, (int)l2_tables);
        s->refcount_cache = qcow2_cache_new(img, (int)rc_tables);
        set_dependency(s);
        ok = load_l1(img, error) && qcow2_refcount_init(img, error) &&
             qcow2_read_snapshots(img, error);
    }
    if (ok && writable(img)) {
        Qcow2Header *h = &s->header;
        uint64_t clear = h->autoclear_features & ~QCOW2_AUTOCLEAR_BITMAPS;
        if (!s->bitmap_count)
            clear |= h->autoclear_features & QCOW2_AUTOCLEAR_BITMAPS;
        if (clear) { /* autoclear bits we do not maintain */
            h->autoclear_features &= ~clear;
            ok = qcow2_update_header(img, error);
        }
        /* check/repair opens see the image as it is (qemu-img check does the same) */
        if (ok && (h->incompatible_features & QCOW2_INCOMPAT_DIRTY) && !s->corrupt &&
            !(img->flags & PD_OPEN_CHECK_ONLY))
            ok = repair_dirty(img, error);
    }
    if (!ok) {
        free_state(img);
        return false;
    }
    return true;
}

/* ---- create ------------------------------------------------------------------------ */

static bool invalid(GError **error, const char *name, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool invalid(GError **error, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "Cannot create '%s': %s", name, msg);
    return false;
}

/* Checks the options and fills in defaults. */
static bool check_options(const char *name, PdCreateOptions *o, GError **error)
{
    if (o->compat == 0)
        o->compat = 3;
    if (o->cluster_size == 0)
        o->cluster_size = 65536;
    if (o->refcount_bits == 0)
        o->refcount_bits = 16;
    if (o->compat != 2 && o->compat != 3)
        return invalid(error, name, "compat must be 0.10 or 1.1");
    if (o->cluster_size < 512 || o->cluster_size > (2U << 20) ||
        (o->cluster_size & (o->cluster_size - 1)))
        return invalid(error, name, "cluster size must be a power of two between 512 and 2M");
    if (o->refcount_bits < 1 || o->refcount_bits > 64 ||
        (o->refcount_bits & (o->refcount_bits - 1)))
        return invalid(error, name, "refcount_bits must be a power of two up to 64");
    if (o->compat == 2 && o->refcount_bits != 16)
        return invalid(error, name, "refcount_bits other than 16 need compat=1.1");
    if (o->compat == 2 && o->lazy_refcounts)
        return invalid(error, name, "lazy refcounts need compat=1.1");
    if (o->compat == 2 && o->extended_l2)
        return invalid(error, name, "extended L2 entries need compat=1.1");
    if (o->compat == 2 && o->compression_type != PD_COMPRESSION_ZLIB)
        return invalid(error, name, "compression type zstd needs compat=1.1");
    if (o->extended_l2 && o->cluster_size < 16384)
        return invalid(error, name, "extended L2 entries need a cluster size of at least 16k");
    if (o->size % 512)
        return invalid(error, name, "the size must be a multiple of 512 bytes");
    if (o->backing_format != PD_FORMAT_UNKNOWN && !o->backing_file)
        return invalid(error, name, "a backing format needs a backing file");
    if (o->backing_file && strlen(o->backing_file) > QCOW2_MAX_BACKING_NAME)
        return invalid(error, name, "backing file name too long");
    int cluster_bits = g_bit_nth_lsf(o->cluster_size, -1);
    int l2_bits = cluster_bits - (o->extended_l2 ? 4 : 3);
    uint64_t span = 1ULL << (cluster_bits + l2_bits);
    if (o->size / span + 1 > QCOW2_MAX_L1_SIZE / 8)
        return invalid(error, name, "the size is too large for cluster size %u", o->cluster_size);
    return true;
}

/* Sets up state for a new image from the options (geometry and header). */
static void init_new_state(PdImage *img, const PdCreateOptions *o)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    h->magic = QCOW2_MAGIC;
    h->version = (uint32_t)o->compat;
    h->cluster_bits = (uint32_t)g_bit_nth_lsf(o->cluster_size, -1);
    h->size = o->size;
    h->refcount_order = (uint32_t)g_bit_nth_lsf((gulong)o->refcount_bits, -1);
    if (o->extended_l2)
        h->incompatible_features |= QCOW2_INCOMPAT_EXTL2;
    if (o->compression_type == PD_COMPRESSION_ZSTD) {
        h->incompatible_features |= QCOW2_INCOMPAT_COMPRESSION;
        h->compression_type = 1;
    }
    if (o->lazy_refcounts)
        h->compatible_features |= QCOW2_COMPAT_LAZY_REFCOUNTS;
    s->cluster_bits = h->cluster_bits;
    s->cluster_size = o->cluster_size;
    s->extended_l2 = o->extended_l2;
    s->l2_bits = s->cluster_bits - (o->extended_l2 ? 4 : 3);
    s->l2_size = 1ULL << s->l2_bits;
    s->refcount_order = h->refcount_order;
    s->refcount_block_bits = s->cluster_bits + 3 - s->refcount_order;
    s->refcount_block_size = 1ULL << s->refcount_block_bits;
    img->backing_name = g_strdup(o->backing_file);
    if (o->backing_file && o->backing_format != PD_FORMAT_UNKNOWN)
        s->backing_format_name = g_strdup(pd_format_name(o->backing_format));
}

/* Writes header, refcount table, refcount blocks and an empty L1 table:
 *   cluster 0 header | refcount table (T) | refcount blocks (B) | L1 table (L) */
static bool write_skeleton(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    uint64_t cs = s->cluster_size;
    uint64_t l1_entries = qcow2_l1_entries_for(s, h->size);
    uint64_t l = (l1_entries * 8 + cs - 1) / cs, t = 1, b = 1; /* size 0: no L1 at all */
    for (int i = 0; i < 64; i++) {
        uint64_t n = 1 + t + b + l;
        uint64_t nb = (n + s->refcount_block_size - 1) / s->refcount_block_size;
        uint64_t nt = (nb * 8 + cs - 1) / cs;
        if (nb == b && nt == t)
            break;
        b = nb;
        t = nt;
    }
    uint64_t n = 1 + t + b + l;
    h->refcount_table_offset = cs;
    h->refcount_table_clusters = (uint32_t)t;
    h->l1_table_offset = l ? (1 + t + b) * cs : 0;
    h->l1_size = (uint32_t)l1_entries;
    if (!qcow2_write_new_header(img, error))
        return false;
    /* the L1 table is written too: a store that was not empty (a LUN, a block device) may
     * hold old bytes there, and truncate does not zero it */
    g_autofree uint8_t *meta = g_malloc0((t + b + l) * cs);
    uint64_t *table = (uint64_t *)meta;
    for (uint64_t i = 0; i < b; i++)
        table[i] = GUINT64_TO_BE((1 + t + i) * cs);
    uint8_t *blocks = meta + t * cs;
    for (uint64_t c = 0; c < n; c++) {
        uint8_t *blk = blocks + (c >> s->refcount_block_bits) * cs;
        uint64_t i = c & (s->refcount_block_size - 1);
        switch (s->refcount_order) {
        case 0:
            blk[i / 8] |= (uint8_t)(1u << (i % 8));
            break;
        case 1:
            blk[i / 4] |= (uint8_t)(1u << (2 * (i % 4)));
            break;
        case 2:
            blk[i / 2] |= (uint8_t)(1u << (4 * (i % 2)));
            break;
        case 3:
            blk[i] = 1;
            break;
        case 4:
            blk[i * 2 + 1] = 1;
            break;
        case 5:
            blk[i * 4 + 3] = 1;
            break;
        default:
            blk[i * 8 + 7] = 1;
            break;
        }
    }
    return pd_io_pwrite_full(img->io, meta, (t + b + l) * cs, cs, error) &&
           pd_io_truncate(img->io, n * cs, error);
}

/* Reserves the space a fully allocated image would take without mapping anything: with a
 * backing file, mapped clusters would hide its data. */
static bool reserve_space(PdIO *io, const PdCreateOptions *o, GError **error)
{
    PdMeasure m;
    if (o->prealloc == PD_PREALLOC_OFF || o->prealloc == PD_PREALLOC_METADATA)
        return true;
    if (!pd_image_measure(o, NULL, &m, error))
        return false;
    uint64_t size;
    if (!pd_io_get_size(io, &size, error))
        return false;
    if (m.fully_allocated <= size)
        return true;
    if (o->prealloc == PD_PREALLOC_FALLOC && io->ops->allocate &&
        io->ops->allocate(io, size, m.fully_allocated - size) == 0)
        return true;
    g_autofree uint8_t *zero = g_malloc0(1 << 20);
    for (uint64_t off = size; off < m.fully_allocated;) {
        uint64_t n = MIN(m.fully_allocated - off, 1ULL << 20);
        if (!pd_io_pwrite_full(io, zero, n, off, error))
            return false;
        off += n;
    }
    return true;
}

static bool qcow2_create(PdIO *io, const PdCreateOptions *opts, GError **error)
{
    PdCreateOptions o = *opts;
    if (!check_options(io->name, &o, error))
        return false;
    PdImage tmp = {.driver = &pd_qcow2_driver, .io = io, .flags = PD_OPEN_RDWR};
    Qcow2State *s = g_new0(Qcow2State, 1);
    tmp.priv = s;
    qcow2_header_state_init(s);
    init_new_state(&tmp, &o);
    bool ok = pd_io_truncate(io, 0, error) && write_skeleton(&tmp, error);
    free_state(&tmp);
    g_clear_pointer(&tmp.backing_name, g_free);
    if (!ok || o.prealloc == PD_PREALLOC_OFF)
        return ok;
    if (o.backing_file)
        return reserve_space(io, &o, error);
    /* map every cluster through the driver itself */
    PdImage img = {
        .driver = &pd_qcow2_driver, .io = io, .flags = PD_OPEN_RDWR | PD_OPEN_NO_BACKING};
    if (!qcow2_open(&img, error))
        return false;
    ok = qcow2_preallocate(&img, 0, o.size, o.prealloc, error) && qcow2_flush_caches(&img, error);
    qcow2_close(&img);
    g_free(img.backing_name);
    return ok;
}

/* ---- the other callbacks ----------------------------------------------------------- */

static bool qcow2_flush(PdImage *img, GError **error)
{
    if (!writable(img))
        return true;
    return qcow2_flush_caches(img, error);
}

static bool qcow2_get_info(PdImage *img, PdImageInfo *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    ret->cluster_size = s->cluster_size;
    ret->compat = s->header.version >= 3 ? 3 : 2;
    ret->lazy_refcounts = s->lazy_refcounts;
    ret->refcount_bits = (int)s->refcount_bits;
    ret->corrupt = s->corrupt;
    ret->dirty = (s->header.incompatible_features & QCOW2_INCOMPAT_DIRTY) != 0;
    ret->extended_l2 = s->extended_l2;
    ret->compression_type = s->compression_type;
    ret->bitmap_count = s->bitmap_count;
    ret->snapshot_count = img->header_only ? s->header.nb_snapshots : s->nb_snapshots;
    return true;
}

static bool set_size(PdImage *img, uint64_t size, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t old = s->header.size;
    s->header.size = size;
    if (!qcow2_update_header(img, error)) {
        s->header.size = old;
        return false;
    }
    img->size = size;
    return true;
}

/* Cuts the file after the image's last used cluster (a shrink or an emptied image). */
static bool trim_file(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t end, file_size;
    if (!qcow2_image_end(img, &end, error) || !pd_io_get_size(img->io, &file_size, error))
        return false;
    if (end < file_size && !img->io->fixed_size && !pd_io_truncate(img->io, end, error))
        return false;
    s->alloc_end = qcow2_size_to_clusters(s, MAX(end, s->cluster_size));
    return true;
}

static bool shrink(PdImage *img, uint64_t new_size, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (s->nb_snapshots) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' has internal snapshots; it cannot be shrunk", img->io->name);
        return false;
    }
    return qcow2_truncate_mappings(img, new_size, error) && set_size(img, new_size, error) &&
           qcow2_flush_caches(img, error) && trim_file(img, error);
}

/* commit's "empty the overlay": every cluster of the active layer unallocated (reads come
 * from the backing file again), its clusters and L2 tables freed, snapshots kept. The
 * references go first, then the refcounts: a crash may leak clusters, nothing more. */
static bool qcow2_make_empty(PdImage *img, GError **error)
{
    return qcow2_truncate_mappings(img, 0, error) && qcow2_flush_caches(img, error) &&
           trim_file(img, error);
}

static bool qcow2_resize(PdImage *img, uint64_t new_size, PdPrealloc prealloc, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t old = img->size, cs = s->cluster_size;
    if (new_size % 512) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': the new size must be a multiple of 512 bytes", img->io->name);
        return false;
    }
    if (new_size == old)
        return true;
    /* A compat=0.10 snapshot entry records no disk size, so a snapshot taken before a resize
     * would come back with the wrong size: qemu refuses this too. */
    if (s->nb_snapshots && s->header.version < 3) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' is compat=0.10 and has internal snapshots, so it cannot be "
                    "resized; amend it to compat=1.1 first",
                    img->io->name);
        return false;
    }
    if (new_size < old)
        return shrink(img, new_size, error);
    uint64_t span_bits = s->cluster_bits + s->l2_bits;
    uint64_t need = (new_size >> span_bits) + ((new_size & ((1ULL << span_bits) - 1)) != 0);
    if (!qcow2_grow_l1_table(img, need, error) || !set_size(img, new_size, error))
        return false;
    /* what lay past the old end must read as zeroes: the tail of the old last cluster and
     * whatever a longer backing file has there */
    uint64_t tail_end = MIN(new_size, (old + cs - 1) & ~(cs - 1));
    if (tail_end > old && !qcow2_co_write_zeroes(img, old, tail_end - old, 0, error))
        return false;
    if (img->backing && img->backing->size > tail_end) {
        uint64_t e = MIN(new_size, img->backing->size);
        if (!qcow2_co_write_zeroes(img, tail_end, e - tail_end, PD_ZERO_MAY_UNMAP, error))
            return false;
    }
    return qcow2_preallocate(img, old, new_size - old, prealloc, error) &&
           qcow2_flush_caches(img, error);
}

static bool downgrade(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    const char *why = NULL;
    if (s->refcount_bits != 16)
        why = "refcount_bits is not 16";
    else if (s->extended_l2)
        why = "it uses extended L2 entries";
    else if (s->compression_type != PD_COMPRESSION_ZLIB)
        why = "it uses zstd compression";
    else if (s->bitmap_count)
        why = "it has persistent bitmaps";
    else if (s->lazy_refcounts)
        why = "lazy refcounts are on (turn them off too)";
    if (why) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' cannot be downgraded to compat=0.10: %s", img->io->name, why);
        return false;
    }
    if (!qcow2_mark_clean(img, error) || !qcow2_expand_zero_clusters(img, error))
        return false;
    Qcow2Header saved = *h;
    h->version = 2;
    h->incompatible_features = h->compatible_features = h->autoclear_features = 0;
    h->refcount_order = 4;
    h->compression_type = 0;
    if (!qcow2_update_header(img, error)) {
        *h = saved;
        return false;
    }
    return true;
}

static bool qcow2_amend(PdImage *img, const PdCreateOptions *opts, PdAmendFields set,
                        GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Qcow2Header *h = &s->header;
    int compat = opts->compat ? opts->compat : 3;
    bool lazy = (set & PD_AMEND_LAZY_REFCOUNTS) ? opts->lazy_refcounts : s->lazy_refcounts;
    if (!qcow2_flush_caches(img, error))
        return false;
    if ((set & PD_AMEND_COMPAT) && compat != 2 && compat != 3) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': compat must be 0.10 or 1.1", img->io->name);
        return false;
    }
    int target = (set & PD_AMEND_COMPAT) ? compat : (int)h->version;
    if (lazy && target < 3) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': lazy refcounts need compat=1.1", img->io->name);
        return false;
    }
    if (!lazy && s->lazy_refcounts) {
        if (!qcow2_mark_clean(img, error))
            return false;
        s->lazy_refcounts = false;
        h->compatible_features &= ~QCOW2_COMPAT_LAZY_REFCOUNTS;
        set_dependency(s);
        if (!qcow2_update_header(img, error))
            return false;
    }
    if (target == 2 && h->version >= 3 && !downgrade(img, error))
        return false;
    if (target == 3 && h->version < 3) {
        h->version = 3;
        h->refcount_order = 4;
        h->header_length = 112;
        if (!qcow2_update_header(img, error)) {
            h->version = 2;
            return false;
        }
        /* compat 1.1 wants at least 16 bytes of extra data per snapshot (disk size) */
        bool short_extra = false;
        for (uint32_t i = 0; i < s->nb_snapshots; i++)
            short_extra |= s->snapshots[i].extra_data_size < 16;
        if (short_extra && !qcow2_rewrite_snapshot_table(img, error))
            return false;
    }
    if (lazy && !s->lazy_refcounts) {
        h->compatible_features |= QCOW2_COMPAT_LAZY_REFCOUNTS;
        if (!qcow2_update_header(img, error))
            return false;
        s->lazy_refcounts = true;
        set_dependency(s);
    }
    return true;
}

static bool qcow2_set_backing(PdImage *img, const char *backing_file, PdFormat backing_format,
                              GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (backing_file && strlen(backing_file) > QCOW2_MAX_BACKING_NAME) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': backing file name too long", img->io->name);
        return false;
    }
    char *old_name = img->backing_name, *old_fmt = s->backing_format_name;
    PdFormat old_format = img->backing_format;
    img->backing_name = g_strdup(backing_file);
    s->backing_format_name = backing_file && backing_format != PD_FORMAT_UNKNOWN
                                 ? g_strdup(pd_format_name(backing_format))
                                 : NULL;
    img->backing_format = backing_file ? backing_format : PD_FORMAT_UNKNOWN;
    if (!qcow2_flush_caches(img, error) || !qcow2_update_header(img, error)) {
        g_free(img->backing_name);
        g_free(s->backing_format_name);
        img->backing_name = old_name;
        s->backing_format_name = old_fmt;
        img->backing_format = old_format;
        return false;
    }
    g_free(old_name);
    g_free(old_fmt);
    return true;
}

/* Clusters of refcount table + blocks needed to describe @clusters clusters, themselves
 * included. */
static uint64_t refcount_metadata_clusters(uint64_t clusters, uint64_t cs, int refcount_bits)
{
    uint64_t per_block = cs * 8 / (uint64_t)refcount_bits, per_table = cs / 8;
    uint64_t blocks = 0, table = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t nb = (clusters + blocks + table + per_block - 1) / per_block;
        uint64_t nt = (nb + per_table - 1) / per_table;
        if (nb == blocks && nt == table)
            break;
        blocks = nb;
        table = nt;
    }
    return blocks + table;
}

static bool qcow2_measure(const PdCreateOptions *opts, PdImage *source, PdMeasure *ret,
                          GError **error)
{
    PdCreateOptions o = *opts;
    if (source)
        o.size = (pd_image_size(source) + 511) & ~511ULL;
    if (!check_options("(measure)", &o, error))
        return false;
    uint64_t cs = o.cluster_size, size = (o.size + cs - 1) & ~(cs - 1);
    uint64_t entry = o.extended_l2 ? 16 : 8;
    uint64_t l2_entries = size / cs;
    l2_entries = (l2_entries + cs / entry - 1) / (cs / entry) * (cs / entry);
    uint64_t l1_entries = l2_entries * entry / cs;
    l1_entries = (l1_entries + cs / 8 - 1) / (cs / 8) * (cs / 8);
    uint64_t meta = cs + l2_entries * entry + l1_entries * 8;
    meta += refcount_metadata_clusters((meta + size) / cs, cs, o.refcount_bits) * cs;
    uint64_t data = 0; /* without a source nothing is written yet */
    if (source) {
        data = 0;
        for (uint64_t off = 0; off < pd_image_size(source);) {
            PdBlockStatus st;
            if (!pd_image_block_status(source, off, pd_image_size(source) - off, &st, error))
                return false;
            if (!(st.flags & PD_BLOCK_ZERO)) {
                uint64_t e = ((off + st.length + cs - 1) & ~(cs - 1));
                data += e - off;
                st.length = e - off;
            }
            off += st.length;
        }
        data = MIN(data, size);
    }
    *ret = (PdMeasure){.required = meta + data, .fully_allocated = meta + size};
    if (o.prealloc != PD_PREALLOC_OFF && o.prealloc != PD_PREALLOC_METADATA)
        ret->required = ret->fully_allocated;
    return true;
}

static size_t qcow2_cluster_size_cb(PdImage *img)
{
    return qcow2_state(img)->cluster_size;
}

/* qcow2 is the qcow magic with version 2 or more (version 1 is the qcow driver's). */
static int qcow2_probe(const uint8_t *head, size_t len, const char *filename)
{
    if (len < 8 || qcow2_get_be32(head) != QCOW2_MAGIC || qcow2_get_be32(head + 4) < 2)
        return 0;
    return 100;
}

const PdImageDriver pd_qcow2_driver = {
    .name = "qcow2",
    .format = PD_FORMAT_QCOW2,
    .probe = qcow2_probe,
    .create = qcow2_create,
    .open = qcow2_open,
    .close = qcow2_close,
    .read = qcow2_co_read,
    .write = qcow2_co_write,
    .write_zeroes = qcow2_co_write_zeroes,
    .discard = qcow2_co_discard,
    .flush = qcow2_flush,
    .block_status = qcow2_co_block_status,
    .resize = qcow2_resize,
    .get_info = qcow2_get_info,
    .snapshot_list = qcow2_snapshot_list,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_apply = qcow2_snapshot_apply,
    .snapshot_delete = qcow2_snapshot_delete,
    .check = qcow2_check,
    .amend = qcow2_amend,
    .set_backing = qcow2_set_backing,
    .make_empty = qcow2_make_empty,
    .cluster_size = qcow2_cluster_size_cb,
    .compress = qcow2_compress,
    .write_compressed = qcow2_write_compressed,
    .measure = qcow2_measure,
};
