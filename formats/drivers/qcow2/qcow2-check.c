/* qcow2 check and repair: rebuild every refcount from the metadata and compare.
 *
 * 1. Count references into a flat array with one counter per cluster of the file (sized
 *    from the file's real size, never from header values): the header cluster, the active
 *    L1 table and every snapshot's, each L2 table once per L1 entry naming it and, through
 *    it, every data cluster and every host cluster a compressed cluster touches, the
 *    snapshot table, the refcount table and blocks, the bitmap directory, bitmap tables and
 *    bitmap data clusters.
 * 2. Compare with the refcount blocks on disk: fewer on disk than referenced is a
 *    corruption ("ERROR cluster N refcount=1 reference=2"), more is a leak ("Leaked cluster
 *    N refcount=2 reference=1"), the same lines qemu-img prints.
 * 3. Repair as asked: in place through qcow2_update_refcount when every cluster to fix lies
 *    in a valid refcount block; otherwise (refcount table entries corrupt, referenced
 *    clusters without a refcount block) write a fresh refcount structure after the end of the
 *    file and point the header at it: the old structure is never touched until the header
 *    switch, so a crash during repair leaves the image as it was.
 * 4. Check (and repair) the COPIED flags of the active L1 and L2 tables against the final
 *    refcounts.
 *
 * Speed: L2 tables and refcount blocks are read with large reads of adjacent clusters,
 * each distinct L2 table once (shared tables are counted with their multiplicity); no
 * per-cluster I/O. */
#include "formats/drivers/qcow2/qcow2.h"
#include "formats/drivers/qcow2/qcow2-snapshot-table.h"
#include "common/pd-error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES               (4 * 1024 * 1024)
#define MAX_CHECK_CLUSTERS        (1ULL << 32)
#define MAX_MESSAGES              100000 /* lines kept; the counts stay exact */
#define MAX_BITMAP_DIRECTORY_SIZE (64 * 1024 * 1024)
#define BITMAP_TABLE_OFFSET_MASK  0x00fffffffffffe00ULL
#define L1E_RESERVED_MASK         0x7f000000000001ffULL
#define L2E_STD_RESERVED_MASK     0x3f000000000001feULL

typedef struct {
    uint64_t offset; /* host offset of the L2 table */
    uint32_t refs;   /* L1 entries (any table) naming it */
    uint32_t active; /* of them, in the active L1 */
} L2Ref;

typedef struct {
    PdImage *img;
    Qcow2State *s;
    PdCheckResult *res;
    PdCheckFix fix;
    uint64_t file_size;
    uint64_t nb_clusters; /* clusters of the file (the last one may be partial) */
    uint32_t *refs;       /* references counted, then the final refcount */
    GArray *l2;           /* L2Ref, one per L1 entry naming a table, then deduplicated */
    uint8_t *buf;         /* BATCH_BYTES (or one cluster if larger) */
    uint64_t buf_size;
    /* refcount structure as found on disk */
    uint64_t reftable_entries;
    uint64_t *refblocks;      /* per reftable entry: offset of a usable block, 0 otherwise */
    bool *refblock_uncounted; /* per reftable entry: usable but not a counted reference */
    uint64_t rb_entries;      /* refcounts per block */
    bool refstruct_broken;
    bool reftable_counted;          /* the refcount table's own clusters are in refs */
    uint64_t refstruct_corruptions; /* of them, fixed by a rebuild */
    /* state of the pass under way (callbacks of read_clusters) */
    struct CompareState *cmp;
    struct FixRun *run;
    GError *write_err;
    uint64_t messages_dropped;
    GPtrArray *unfixed; /* with repairs: the comparison's lines as a check without -r says
                         * them, printed before the "Repairing" lines (as qemu-img does) */
    uint32_t incomplete_snapshots; /* v3 entries without disk_size in their extra data */
} Check;

static void report(Check *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void report(Check *c, const char *fmt, ...)
{
    GPtrArray *messages = c->res->messages;
    if (!messages)
        return;
    if (messages->len >= MAX_MESSAGES) {
        c->messages_dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(messages, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* One read error: counted, reported, and the check goes on without that data. */
static void check_error(Check *c, GError *err)
{
    report(c, "ERROR: %s", err->message);
    c->res->check_errors++;
    g_error_free(err);
}

/* Counts @n references to each cluster of [offset, offset+len). A region that ends one
 * cluster or more past the end of the file is a corruption and is not counted (qemu's rule:
 * a region ending in the cluster after the file's end, a table cut by a truncation, is
 * counted as far as the file goes). */
static void count_range(Check *c, uint64_t offset, uint64_t len, uint32_t n)
{
    if (len == 0 || n == 0)
        return;
    uint32_t bits = c->s->cluster_bits;
    uint64_t first = offset >> bits;
    uint64_t last = (offset + len - 1) >> bits;
    if (offset + len < offset ||
        (offset + len > c->file_size && offset + len - c->file_size >= c->s->cluster_size)) {
        report(c,
               "ERROR: counting reference for region exceeding the end of the file by one "
               "cluster or more: offset 0x%" G_GINT64_MODIFIER "x size 0x%" G_GINT64_MODIFIER "x",
               offset, len);
        c->res->corruptions += n;
        return;
    }
    for (uint64_t i = first; i <= last && i < c->nb_clusters; i++)
        c->refs[i] = c->refs[i] > UINT32_MAX - n ? UINT32_MAX : c->refs[i] + n;
}

static bool in_file(Check *c, uint64_t offset, uint64_t len)
{
    return offset < c->file_size && len <= c->file_size - offset;
}

/* Host byte range of a compressed cluster descriptor. */
static void compressed_range(const Qcow2State *s, uint64_t entry, uint64_t *ret_offset,
                             uint64_t *ret_len)
{
    uint32_t shift = 62 - (s->cluster_bits - 8);
    uint64_t offset = entry & ((1ULL << shift) - 1);
    uint64_t sectors = ((entry >> shift) & ((1ULL << (s->cluster_bits - 8)) - 1)) + 1;
    *ret_offset = offset;
    *ret_len = sectors * 512 - (offset & 511);
}

/* ---- batched reads of whole clusters ---------------------------------------------- */

typedef struct {
    uint64_t offset;
    uint64_t tag;
} Item;

typedef void (*ItemFn)(Check *c, const Item *item, uint8_t *cluster);

static int item_cmp(const void *a, const void *b)
{
    const Item *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Reads the cluster at each item's offset (sorted here; offsets distinct, inside the file)
 * with reads of up to BATCH_BYTES of adjacent clusters, and calls @fn on each. */
static void read_clusters(Check *c, Item *items, size_t n, ItemFn fn)
{
    uint64_t cs = c->s->cluster_size;
    qsort(items, n, sizeof *items, item_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && items[j].offset == items[j - 1].offset + cs &&
               (j - i + 1) * cs <= c->buf_size)
            j++;
        GError *err = NULL;
        if (!pd_io_pread_full(c->img->io, c->buf, (j - i) * cs, items[i].offset, &err)) {
            check_error(c, err);
        } else {
            for (size_t k = i; k < j; k++)
                fn(c, &items[k], c->buf + (k - i) * cs);
        }
        i = j;
    }
}

/* ---- references from the L1/L2 tables -------------------------------------------- */

/* Collects the L2 tables named by an L1 table (@l1, host-endian) and counts the L1 table
 * and the L2 tables themselves. */
static void scan_l1(Check *c, const uint64_t *l1, uint32_t l1_size, uint64_t l1_offset, bool active)
{
    Qcow2State *s = c->s;
    count_range(c, l1_offset, (uint64_t)l1_size * 8, 1);
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2 = l1[i] & QCOW2_L1E_OFFSET_MASK;
        if (l1[i] & L1E_RESERVED_MASK) {
            report(c, "ERROR found L1 entry with reserved bits set: %" G_GINT64_MODIFIER "x",
                   l1[i]);
            c->res->corruptions++;
        }
        if (!l2)
            continue;
        /* A misaligned table is still counted and scanned where it points, as qemu does:
         * its entries are what a reader of that L1 entry would follow. */
        if (!qcow2_is_aligned(s, l2)) {
            report(c,
                   "ERROR l2_offset=%" G_GINT64_MODIFIER "x: Table is not cluster aligned; L1 "
                   "entry corrupted",
                   l2);
            c->res->corruptions++;
        }
        /* A table cut by the end of the file (or wholly past it) is still scanned: what
         * lies past the end reads as zeroes, as qemu reads it. */
        count_range(c, l2, s->cluster_size, 1);
        L2Ref ref = {.offset = l2, .refs = 1, .active = active};
        g_array_append_val(c->l2, ref);
    }
}

static int l2ref_cmp(const void *a, const void *b)
{
    const L2Ref *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Merges the L2 references by table: one entry per table with its multiplicities. */
static void dedup_l2(Check *c)
{
    GArray *a = c->l2;
    if (a->len == 0)
        return;
    qsort(a->data, a->len, sizeof(L2Ref), l2ref_cmp);
    L2Ref *r = (L2Ref *)a->data;
    guint out = 0;
    for (guint i = 1; i < a->len; i++) {
        if (r[i].offset == r[out].offset) {
            r[out].refs += r[i].refs;
            r[out].active += r[i].active;
        } else {
            r[++out] = r[i];
        }
    }
    g_array_set_size(a, out + 1);
}

/* A zero-flagged entry with a misaligned offset (a preallocated cluster) becomes a plain
 * zero cluster (v3: the zero flag alone; extended L2: no cluster, the bitmap unchanged),
 * written at once. False if it could not be written. */
static bool repair_prealloc_entry(Check *c, const Item *item, uint8_t *table, uint64_t j)
{
    Qcow2State *s = c->s;
    uint8_t *p = table + j * (uint64_t)s->l2_entry_size;
    qcow2_put_be64(p, s->extended_l2 ? 0 : QCOW2_OFLAG_ZERO);
    GError *err = NULL;
    if (!pd_io_pwrite_full(c->img->io, p, 8, item->offset + j * s->l2_entry_size, &err) ||
        !pd_io_flush(c->img->io, &err)) {
        check_error(c, err);
        return false;
    }
    return true;
}

/* Counts what one L2 table references, @refs times; fragmentation statistics for each
 * reference from the active L1. */
static void count_l2_table(Check *c, const Item *item, uint8_t *table)
{
    Qcow2State *s = c->s;
    const L2Ref *ref = &g_array_index(c->l2, L2Ref, item->tag);
    PdCheckResult *res = c->res;
    uint64_t next_contiguous = 0;
    for (uint64_t j = 0; j < s->l2_size; j++) {
        uint64_t e = qcow2_get_be64(table + j * (uint64_t)s->l2_entry_size);
        if (e & QCOW2_OFLAG_COMPRESSED) {
            if (e & QCOW2_OFLAG_COPIED) {
                report(c,
                       "ERROR: coffset=0x%" G_GINT64_MODIFIER "x: copied flag must never be "
                       "set for compressed clusters",
                       (uint64_t)(e & ((1ULL << (62 - (s->cluster_bits - 8))) - 1)));
                res->corruptions += ref->refs;
            }
            uint64_t coff, clen;
            compressed_range(s, e, &coff, &clen);
            count_range(c, coff, clen, ref->refs);
            res->allocated_clusters += ref->active;
            res->compressed_clusters += ref->active;
            res->fragmented_clusters += ref->active;
            continue;
        }
        if (e & (s->extended_l2 ? L2E_STD_RESERVED_MASK | 1 : L2E_STD_RESERVED_MASK)) {
            report(c, "ERROR found l2 entry with reserved bits set: %" G_GINT64_MODIFIER "x", e);
            res->corruptions += ref->refs;
        }
        uint64_t offset = e & QCOW2_L2E_OFFSET_MASK;
        if (offset == 0)
            continue;
        if (!qcow2_is_aligned(s, offset)) {
            /* Still a reference (to the clusters the range touches, as qemu counts it): a
             * repair must never free what the entry points into. */
            bool data = s->extended_l2 ? (qcow2_get_be64(table + j * 16 + 8) & 0xffffffffULL)
                                       : !(e & QCOW2_OFLAG_ZERO);
            bool repair = !data && (c->fix & PD_CHECK_FIX_ERRORS);
            report(c,
                   "%s offset=%" G_GINT64_MODIFIER "x: %s cluster is not properly aligned; "
                   "L2 entry corrupted.",
                   repair ? "Repairing" : "ERROR", offset, data ? "Data" : "Preallocated");
            if (repair && repair_prealloc_entry(c, item, table, j)) {
                res->corruptions_fixed += ref->refs;
                continue; /* it references nothing now */
            }
            res->corruptions += ref->refs;
        }
        count_range(c, offset, s->cluster_size, ref->refs);
        res->allocated_clusters += ref->active;
        if (next_contiguous && offset != next_contiguous)
            res->fragmented_clusters += ref->active;
        next_contiguous = offset + s->cluster_size;
    }
}

static void count_l2_tables(Check *c)
{
    GArray *a = c->l2;
    g_autofree Item *items = g_new(Item, MAX(a->len, 1u));
    for (guint i = 0; i < a->len; i++)
        items[i] = (Item){.offset = g_array_index(a, L2Ref, i).offset, .tag = i};
    read_clusters(c, items, a->len, count_l2_table);
}

/* Reads and scans every snapshot's L1 table. */
static void scan_snapshots(Check *c)
{
    Qcow2State *s = c->s;
    uint64_t table_bytes = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        uint64_t len = 40 + (uint64_t)sn->extra_data_size + strlen(sn->id_str) + strlen(sn->name);
        table_bytes += (len + 7) & ~7ULL;
        if (s->header.version >= 3 && sn->extra_data_size < 16) {
            report(c, "ERROR snapshot table entry %u is incomplete", i);
            c->res->corruptions++;
            c->incomplete_snapshots++;
        }
        uint64_t l1_bytes = (uint64_t)sn->l1_size * 8;
        if (sn->l1_size > QCOW2_MAX_L1_SIZE / 8 || !qcow2_is_aligned(s, sn->l1_table_offset) ||
            (l1_bytes && !in_file(c, sn->l1_table_offset, l1_bytes))) {
            report(c,
                   "ERROR snapshot %s (%s) l1_offset=%#" G_GINT64_MODIFIER "x l1_size=%#x: L1 "
                   "table is misaligned, too large or outside the image; snapshot table entry "
                   "corrupted",
                   sn->id_str, sn->name, sn->l1_table_offset, sn->l1_size);
            c->res->corruptions++;
            continue;
        }
        g_autofree uint64_t *l1 = g_new(uint64_t, MAX(sn->l1_size, 1u));
        GError *err = NULL;
        if (l1_bytes && !pd_io_pread_full(c->img->io, l1, l1_bytes, sn->l1_table_offset, &err)) {
            check_error(c, err);
            continue;
        }
        for (uint32_t j = 0; j < sn->l1_size; j++)
            l1[j] = GUINT64_FROM_BE(l1[j]);
        scan_l1(c, l1, sn->l1_size, sn->l1_table_offset, false);
    }
    if (s->nb_snapshots)
        count_range(c, s->header.snapshots_offset, table_bytes, 1);
}

/* ---- bitmaps ---------------------------------------------------------------------- */

static const Qcow2Extension *find_extension(const Qcow2State *s, uint32_t type)
{
    if (!s->extensions)
        return NULL;
    for (guint i = 0; i < s->extensions->len; i++) {
        const Qcow2Extension *ext = g_ptr_array_index(s->extensions, i);
        if (ext->type == type)
            return ext;
    }
    return NULL;
}

/* Counts one bitmap's table and data clusters. */
static void count_bitmap_table(Check *c, uint64_t offset, uint32_t entries, const char *name)
{
    Qcow2State *s = c->s;
    uint64_t bytes = (uint64_t)entries * 8;
    if (!qcow2_is_aligned(s, offset) || !in_file(c, offset, bytes)) {
        report(c,
               "ERROR bitmap '%s': bitmap table at %#" G_GINT64_MODIFIER "x (%u entries) is "
               "misaligned or outside the image",
               name, offset, entries);
        c->res->corruptions++;
        return;
    }
    count_range(c, offset, bytes, 1);
    c->reftable_counted = true;
    g_autofree uint8_t *table = g_malloc(MAX(bytes, 1u));
    GError *err = NULL;
    if (!pd_io_pread_full(c->img->io, table, bytes, offset, &err)) {
        check_error(c, err);
        return;
    }
    for (uint32_t i = 0; i < entries; i++) {
        uint64_t data = qcow2_get_be64(table + (uint64_t)i * 8) & BITMAP_TABLE_OFFSET_MASK;
        if (!data)
            continue;
        if (!qcow2_is_aligned(s, data)) {
            report(c,
                   "ERROR bitmap '%s': data cluster %#" G_GINT64_MODIFIER "x is not cluster "
                   "aligned",
                   name, data);
            c->res->corruptions++;
            continue;
        }
        count_range(c, data, s->cluster_size, 1);
    }
}

/* The bitmaps extension (when the autoclear bit says it is valid): directory, tables, data. */
static void count_bitmaps(Check *c)
{
    Qcow2State *s = c->s;
    const Qcow2Extension *ext = find_extension(s, QCOW2_EXT_BITMAPS);
    if (!ext || ext->len < 24 || !(s->header.autoclear_features & QCOW2_AUTOCLEAR_BITMAPS))
        return;
    uint32_t nb = qcow2_get_be32(ext->data);
    uint64_t dir_size = qcow2_get_be64(ext->data + 8);
    uint64_t dir_offset = qcow2_get_be64(ext->data + 16);
    if (dir_size > MAX_BITMAP_DIRECTORY_SIZE || !qcow2_is_aligned(s, dir_offset) ||
        !in_file(c, dir_offset, dir_size)) {
        report(c,
               "ERROR bitmap directory at %#" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
               " bytes) is misaligned, too large or outside the image",
               dir_offset, dir_size);
        c->res->corruptions++;
        return;
    }
    count_range(c, dir_offset, dir_size, 1);
    g_autofree uint8_t *dir = g_malloc(MAX(dir_size, 1u));
    GError *err = NULL;
    if (!pd_io_pread_full(c->img->io, dir, dir_size, dir_offset, &err)) {
        check_error(c, err);
        return;
    }
    uint64_t pos = 0;
    for (uint32_t i = 0; i < nb; i++) {
        if (pos + 24 > dir_size)
            goto bad;
        const uint8_t *e = dir + pos;
        uint16_t name_size = qcow2_get_be16(e + 18);
        uint32_t extra = qcow2_get_be32(e + 20);
        uint64_t len = 24 + (uint64_t)extra + name_size;
        if (len > dir_size - pos)
            goto bad;
        g_autofree char *name = g_strndup((const char *)e + 24 + extra, name_size);
        count_bitmap_table(c, qcow2_get_be64(e), qcow2_get_be32(e + 8), name);
        pos += (len + 7) & ~7ULL;
    }
    return;
bad:
    report(c, "ERROR bitmap directory at %#" G_GINT64_MODIFIER "x: entries run past its end",
           dir_offset);
    c->res->corruptions++;
}

/* ---- the refcount structure ------------------------------------------------------- */

static uint64_t refcount_get(const uint8_t *block, uint64_t index, uint32_t order)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        uint32_t bits = 1u << order;
        uint32_t per_byte = 8 / bits;
        uint8_t byte = block[index / per_byte];
        return (byte >> ((index % per_byte) * bits)) & ((1u << bits) - 1);
    }
    case 3:
        return block[index];
    case 4:
        return qcow2_get_be16(block + index * 2);
    case 5:
        return qcow2_get_be32(block + index * 4);
    default:
        return qcow2_get_be64(block + index * 8);
    }
}

static void refcount_set(uint8_t *block, uint64_t index, uint32_t order, uint64_t value)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        uint32_t bits = 1u << order;
        uint32_t per_byte = 8 / bits;
        uint32_t shift = (index % per_byte) * bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);
        uint8_t *p = &block[index / per_byte];
        *p = (uint8_t)((*p & ~mask) | ((value << shift) & mask));
        break;
    }
    case 3:
        block[index] = (uint8_t)value;
        break;
    case 4: {
        uint16_t v = GUINT16_TO_BE((uint16_t)value);
        memcpy(block + index * 2, &v, 2);
        break;
    }
    case 5: {
        uint32_t v = GUINT32_TO_BE((uint32_t)value);
        memcpy(block + index * 4, &v, 4);
        break;
    }
    default:
        qcow2_put_be64(block + index * 8, value);
    }
}

/* A broken refcount table entry or table: a corruption only a rebuild fixes. */
static void refstruct_error(Check *c)
{
    c->res->corruptions++;
    c->refstruct_corruptions++;
    c->refstruct_broken = true;
}

/* Reads the refcount table named by the header, counts it and its blocks, and notes which
 * blocks can be used. False only when it cannot be read at all (counted as an error). */
static void scan_refcount_table(Check *c)
{
    Qcow2State *s = c->s;
    uint64_t offset = s->header.refcount_table_offset;
    uint64_t bytes = (uint64_t)s->header.refcount_table_clusters * s->cluster_size;
    if (bytes > QCOW2_MAX_REFTABLE_SIZE || !qcow2_is_aligned(s, offset) ||
        !in_file(c, offset, bytes)) {
        report(c,
               "ERROR refcount table at %#" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
               " bytes) is misaligned, too large or outside the image",
               offset, bytes);
        refstruct_error(c);
        return;
    }
    count_range(c, offset, bytes, 1);
    c->reftable_counted = true;
    g_autofree uint8_t *table = g_malloc(MAX(bytes, 1u));
    GError *err = NULL;
    if (!pd_io_pread_full(c->img->io, table, bytes, offset, &err)) {
        check_error(c, err);
        c->refstruct_broken = true;
        return;
    }
    c->reftable_entries = bytes / 8;
    c->refblocks = g_new0(uint64_t, MAX(c->reftable_entries, 1u));
    c->refblock_uncounted = g_new0(bool, MAX(c->reftable_entries, 1u));
    for (uint64_t i = 0; i < c->reftable_entries; i++) {
        uint64_t entry = qcow2_get_be64(table + i * 8), block = entry & QCOW2_REFT_OFFSET_MASK;
        if (entry & ~QCOW2_REFT_OFFSET_MASK) {
            /* as qemu-img: not counted as a reference, but its refcounts are read */
            report(c, "ERROR refcount table entry %" G_GUINT64_FORMAT " has reserved bits set", i);
            refstruct_error(c);
            if (block && qcow2_is_aligned(s, block) && in_file(c, block, s->cluster_size)) {
                c->refblocks[i] = block;
                c->refblock_uncounted[i] = true;
            }
            continue;
        }
        if (!block)
            continue;
        if (!qcow2_is_aligned(s, block)) {
            report(c,
                   "ERROR refcount block %" G_GUINT64_FORMAT " is not cluster aligned; "
                   "refcount table entry corrupted",
                   i);
            refstruct_error(c);
            continue;
        }
        if (!in_file(c, block, s->cluster_size)) {
            report(c, "ERROR refcount block %" G_GUINT64_FORMAT " is outside image", i);
            refstruct_error(c);
            continue;
        }
        count_range(c, block, s->cluster_size, 1);
        c->refblocks[i] = block;
        uint32_t n = c->refs[block >> s->cluster_bits];
        if (n != 1) {
            report(c, "ERROR refcount block %" G_GUINT64_FORMAT " refcount=%u", i, n);
            refstruct_error(c);
        }
    }
}

/* True when a repair cannot be done in place: some referenced cluster has no usable refcount
 * block, or a block is shared (named twice, or also used as something else). */
static bool needs_new_blocks(Check *c)
{
    for (uint64_t b = 0; b < c->reftable_entries; b++)
        if (c->refblocks[b] && c->refs[c->refblocks[b] >> c->s->cluster_bits] != 1)
            return true;
    for (uint64_t b = 0; b * c->rb_entries < c->nb_clusters; b++) {
        if (b < c->reftable_entries && c->refblocks[b])
            continue;
        uint64_t end = MIN((b + 1) * c->rb_entries, c->nb_clusters);
        for (uint64_t k = b * c->rb_entries; k < end; k++)
            if (c->refs[k])
                return true;
    }
    return false;
}

typedef struct CompareState {
    uint64_t highest; /* highest cluster in use + 1 */
    uint64_t corruptions_to_fix;
    uint64_t leaks_to_fix;
    bool rebuild;
    bool zero_referenced; /* a referenced cluster has refcount 0 on disk */
} CompareState;

/* Compares one cluster's refcount on disk with the references counted; the final refcount
 * (what will be on disk after the repairs asked for) replaces the count. */
static void compare_one(Check *c, CompareState *cs, uint64_t k, uint64_t on_disk)
{
    uint64_t counted = c->refs[k];
    if (on_disk || counted)
        cs->highest = k + 1;
    if (on_disk == counted)
        return;
    if (on_disk == 0)
        cs->zero_referenced = true;
    bool leak = on_disk > counted;
    bool fixable =
        cs->rebuild || (leak ? (c->fix & PD_CHECK_FIX_LEAKS) : (c->fix & PD_CHECK_FIX_ERRORS) != 0);
    if (counted > c->s->refcount_max)
        fixable = false;
    report(c,
           "%s cluster %" G_GUINT64_FORMAT " refcount=%" G_GUINT64_FORMAT
           " reference=%" G_GUINT64_FORMAT,
           fixable ? "Repairing"
           : leak  ? "Leaked"
                   : "ERROR",
           k, on_disk, counted);
    if (c->fix && c->unfixed && c->unfixed->len < MAX_MESSAGES)
        g_ptr_array_add(c->unfixed,
                        g_strdup_printf("%s cluster %" G_GUINT64_FORMAT
                                        " refcount=%" G_GUINT64_FORMAT
                                        " reference=%" G_GUINT64_FORMAT,
                                        leak ? "Leaked" : "ERROR", k, on_disk, counted));
    if (fixable) {
        if (leak)
            cs->leaks_to_fix++;
        else
            cs->corruptions_to_fix++;
        return;
    }
    if (leak)
        c->res->leaks++;
    else
        c->res->corruptions++;
    c->refs[k] = (uint32_t)MIN(on_disk, (uint64_t)UINT32_MAX);
}

static void compare_block(Check *c, const Item *item, uint8_t *block)
{
    uint64_t base = item->tag * c->rb_entries;
    uint64_t end = MIN(base + c->rb_entries, c->nb_clusters);
    for (uint64_t k = base; k < end; k++)
        compare_one(c, c->cmp, k, refcount_get(block, k - base, c->s->refcount_order));
}

/* With repairs, qemu-img compares twice: first as a plain check (the "ERROR" and "Leaked"
 * lines), then repairing ("Repairing" lines, and "ERROR" for what it may not fix). The
 * first pass's lines go before the comparison's, at @start of the messages. */
static void insert_unfixed(Check *c, guint start)
{
    GPtrArray *m = c->res->messages;
    if (!m || !c->unfixed || c->unfixed->len == 0)
        return;
    gsize n_old = 0, n_unfixed = 0;
    g_autofree gpointer *old = g_ptr_array_steal(m, &n_old);
    g_autofree gpointer *unfixed = g_ptr_array_steal(c->unfixed, &n_unfixed);
    for (gsize i = 0; i < MIN((gsize)start, n_old); i++)
        g_ptr_array_add(m, old[i]);
    for (gsize j = 0; j < n_unfixed; j++)
        g_ptr_array_add(m, unfixed[j]);
    for (gsize i = MIN((gsize)start, n_old); i < n_old; i++)
        g_ptr_array_add(m, old[i]);
}

/* Compares every cluster of the file; clusters without a usable block have refcount 0. */
static void compare_all(Check *c, CompareState *cs, guint *ret_start)
{
    guint start = c->res->messages ? c->res->messages->len : 0;
    *ret_start = start;
    if (c->fix)
        c->unfixed = g_ptr_array_new_with_free_func(g_free);
    g_autofree Item *items = g_new(Item, MAX(c->reftable_entries, 1u));
    size_t n = 0;
    for (uint64_t b = 0; b * c->rb_entries < c->nb_clusters; b++) {
        if (b < c->reftable_entries && c->refblocks[b]) {
            items[n++] = (Item){.offset = c->refblocks[b], .tag = b};
            continue;
        }
        uint64_t end = MIN((b + 1) * c->rb_entries, c->nb_clusters);
        for (uint64_t k = b * c->rb_entries; k < end; k++)
            compare_one(c, cs, k, 0);
    }
    /* a block named by two reftable entries (corrupt) is read once per entry */
    c->cmp = cs;
    read_clusters(c, items, n, compare_block);
    c->cmp = NULL;
}

/* ---- repairs ---------------------------------------------------------------------- */

typedef struct FixRun {
    PdImage *img;
    int64_t delta;
    uint64_t start;
    uint64_t len;
    GError *err;
} FixRun;

static void fixrun_flush(FixRun *r)
{
    if (r->len && !r->err)
        (void)qcow2_update_refcount(r->img, r->start, r->len, r->delta, &r->err);
    r->len = 0;
}

static void fixrun_add(FixRun *r, uint64_t offset, uint64_t len, int64_t delta)
{
    if (r->len && r->delta == delta && r->start + r->len == offset) {
        r->len += len;
        return;
    }
    fixrun_flush(r);
    r->start = offset;
    r->len = len;
    r->delta = delta;
}

static void fix_block(Check *c, const Item *item, uint8_t *block)
{
    uint64_t base = item->tag * c->rb_entries;
    uint64_t end = MIN(base + c->rb_entries, c->nb_clusters);
    for (uint64_t k = base; k < end; k++) {
        uint64_t on_disk = refcount_get(block, k - base, c->s->refcount_order);
        if (on_disk > UINT32_MAX || on_disk == c->refs[k])
            continue;
        fixrun_add(c->run, k << c->s->cluster_bits, c->s->cluster_size,
                   (int64_t)c->refs[k] - (int64_t)on_disk);
    }
}

/* Sets the refcounts on disk to the final values, through the refcount cache. Only called
 * when every cluster to change has a usable refcount block (nothing is allocated). */
static bool fix_in_place(Check *c, GError **error)
{
    g_autofree Item *items = g_new(Item, MAX(c->reftable_entries, 1u));
    size_t n = 0;
    for (uint64_t b = 0; b < c->reftable_entries && b * c->rb_entries < c->nb_clusters; b++)
        if (c->refblocks[b])
            items[n++] = (Item){.offset = c->refblocks[b], .tag = b};
    FixRun run = {.img = c->img};
    c->run = &run;
    /* blocks named twice or shared are corrupt and force a rebuild: offsets are distinct */
    read_clusters(c, items, n, fix_block);
    fixrun_flush(&run);
    c->run = NULL;
    if (run.err) {
        g_propagate_error(error, run.err);
        return false;
    }
    return qcow2_cache_flush(c->s->refcount_cache, error);
}

/* Writes a fresh refcount structure (blocks, then table) after the end of the file from the
 * final counts, then points the header at it. The old structure becomes free space. */
static bool rebuild_refcounts(Check *c, uint64_t *ret_end, GError **error)
{
    Qcow2State *s = c->s;
    uint64_t cs = s->cluster_size;
    /* the old structure is not referenced by the new one */
    if (c->reftable_counted) {
        uint64_t first = s->header.refcount_table_offset >> s->cluster_bits;
        for (uint64_t k = first;
             k < first + s->header.refcount_table_clusters && k < c->nb_clusters; k++)
            if (c->refs[k])
                c->refs[k]--;
    }
    for (uint64_t b = 0; b < c->reftable_entries; b++)
        if (c->refblocks[b] && !c->refblock_uncounted[b] &&
            c->refs[c->refblocks[b] >> s->cluster_bits])
            c->refs[c->refblocks[b] >> s->cluster_bits]--;

    uint64_t start = c->nb_clusters, nrb = 0, nrt = 0;
    for (;;) {
        uint64_t total = start + nrb + nrt;
        uint64_t want_rb = (total + c->rb_entries - 1) / c->rb_entries;
        uint64_t want_rt = (want_rb * 8 + cs - 1) / cs;
        if (want_rb == nrb && want_rt == nrt)
            break;
        nrb = want_rb;
        nrt = want_rt;
    }
    if (nrt * cs > QCOW2_MAX_REFTABLE_SIZE) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': the rebuilt refcount table would exceed %d bytes",
                    c->img->io->name, QCOW2_MAX_REFTABLE_SIZE);
        return false;
    }
    uint64_t total = start + nrb + nrt;
    uint64_t rb_offset = start * cs, rt_offset = (start + nrb) * cs;

    /* blocks, a batch at a time, in one sequential run */
    uint64_t per_batch = MAX(c->buf_size / cs, 1u);
    for (uint64_t b = 0; b < nrb; b += per_batch) {
        uint64_t n = MIN(per_batch, nrb - b);
        memset(c->buf, 0, n * cs);
        for (uint64_t i = 0; i < n; i++) {
            uint8_t *block = c->buf + i * cs;
            uint64_t base = (b + i) * c->rb_entries;
            for (uint64_t k = base; k < MIN(base + c->rb_entries, total); k++) {
                uint64_t v = k < c->nb_clusters ? c->refs[k] : (k >= start ? 1 : 0);
                refcount_set(block, k - base, s->refcount_order, MIN(v, s->refcount_max));
            }
        }
        if (!pd_io_pwrite_full(c->img->io, c->buf, n * cs, rb_offset + b * cs, error))
            return false;
    }
    g_autofree uint8_t *table = g_malloc0(nrt * cs);
    for (uint64_t b = 0; b < nrb; b++)
        qcow2_put_be64(table + b * 8, rb_offset + b * cs);
    if (!pd_io_pwrite_full(c->img->io, table, nrt * cs, rt_offset, error) ||
        !pd_io_flush(c->img->io, error))
        return false;

    uint64_t saved_offset = s->header.refcount_table_offset;
    uint32_t saved_clusters = s->header.refcount_table_clusters;
    s->header.refcount_table_offset = rt_offset;
    s->header.refcount_table_clusters = (uint32_t)nrt;
    if (!qcow2_update_header(c->img, error)) {
        s->header.refcount_table_offset = saved_offset;
        s->header.refcount_table_clusters = saved_clusters;
        return false;
    }
    *ret_end = total * cs;
    return true;
}

/* Makes the core forget what it knew of the refcounts and L2 tables (we rewrote them). */
static bool reload_core(Check *c, GError **error)
{
    Qcow2State *s = c->s;
    if (!qcow2_cache_empty(s->l2_cache, error) || !qcow2_cache_empty(s->refcount_cache, error))
        return false;
    qcow2_refcount_close(c->img);
    s->free_cluster_index = 0;
    s->free_byte_offset = 0;     /* compressed packing starts a fresh cluster */
    s->cluster_cache_offset = 0; /* no decompressed cluster is trusted */
    return qcow2_refcount_init(c->img, error);
}

/* ---- COPIED flags ----------------------------------------------------------------- */

/* The refcount a cluster has after the repairs: the final count inside the file; past its
 * end (an image cut short) what its refcount block says, as qemu reads it. */
static uint64_t final_refcount(Check *c, uint64_t offset)
{
    uint64_t k = offset >> c->s->cluster_bits, on_disk = 0;
    if (k < c->nb_clusters)
        return c->refs[k];
    uint64_t b = k / c->rb_entries;
    if (b >= c->reftable_entries || !c->refblocks[b])
        return 0;
    g_autoptr(GError) err = NULL;
    (void)qcow2_get_refcount(c->img, k, &on_disk, &err);
    return err ? 0 : on_disk;
}

static bool want_copied(Check *c, uint64_t offset)
{
    return final_refcount(c, offset) == 1;
}

static void check_l2_copied(Check *c, const Item *item, uint8_t *table)
{
    Qcow2State *s = c->s;
    bool repair = c->fix & PD_CHECK_FIX_ERRORS;
    bool dirty = false;
    for (uint64_t j = 0; j < s->l2_size; j++) {
        uint8_t *p = table + j * (uint64_t)s->l2_entry_size;
        uint64_t e = qcow2_get_be64(p);
        uint64_t offset = e & QCOW2_L2E_OFFSET_MASK;
        if ((e & QCOW2_OFLAG_COMPRESSED) || offset == 0 || !qcow2_is_aligned(s, offset))
            continue;
        bool want = want_copied(c, offset);
        if (want == ((e & QCOW2_OFLAG_COPIED) != 0))
            continue;
        report(c,
               "%s OFLAG_COPIED data cluster: l2_entry=%" G_GINT64_MODIFIER
               "x refcount=%" G_GUINT64_FORMAT,
               repair ? "Repairing" : "ERROR", e, final_refcount(c, offset));
        if (repair) {
            qcow2_put_be64(p, want ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED);
            dirty = true;
            c->res->corruptions_fixed++;
        } else {
            c->res->corruptions++;
        }
    }
    if (dirty && !c->write_err)
        (void)pd_io_pwrite_full(c->img->io, table, s->cluster_size, item->offset, &c->write_err);
}

/* Checks the COPIED flags of the active L1 table and of its L2 tables. */
static bool check_copied(Check *c, GError **error)
{
    Qcow2State *s = c->s;
    bool repair = c->fix & PD_CHECK_FIX_ERRORS;
    bool l1_dirty = false;
    for (uint32_t i = 0; s->l1_table && i < s->l1_size; i++) {
        uint64_t e = s->l1_table[i], l2 = e & QCOW2_L1E_OFFSET_MASK;
        if (!l2 || !qcow2_is_aligned(s, l2))
            continue;
        bool want = want_copied(c, l2);
        if (want == ((e & QCOW2_OFLAG_COPIED) != 0))
            continue;
        report(c,
               "%s OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" G_GINT64_MODIFIER
               "x refcount=%" G_GUINT64_FORMAT,
               repair ? "Repairing" : "ERROR", i, e, final_refcount(c, l2));
        if (repair) {
            s->l1_table[i] = want ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
            l1_dirty = true;
            c->res->corruptions_fixed++;
        } else {
            c->res->corruptions++;
        }
    }
    if (l1_dirty && !qcow2_write_l1_entries(c->img, 0, s->l1_size, error))
        return false;

    GArray *a = c->l2;
    g_autofree Item *items = g_new(Item, MAX(a->len, 1u));
    size_t n = 0;
    for (guint i = 0; i < a->len; i++) {
        const L2Ref *r = &g_array_index(a, L2Ref, i);
        if (r->active)
            items[n++] = (Item){.offset = r->offset, .tag = i};
    }
    read_clusters(c, items, n, check_l2_copied);
    if (c->write_err) {
        g_propagate_error(error, c->write_err);
        c->write_err = NULL;
        return false;
    }
    return true;
}

/* ---- the check -------------------------------------------------------------------- */

static bool check_init(Check *c, PdImage *img, PdCheckFix fix, PdCheckResult *res, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    c->img = img;
    c->s = s;
    c->fix = fix;
    c->res = res;
    if (!pd_io_get_size(img->io, &c->file_size, error))
        return false;
    c->nb_clusters = (c->file_size + s->cluster_size - 1) >> s->cluster_bits;
    if (c->nb_clusters > MAX_CHECK_CLUSTERS) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': %" G_GUINT64_FORMAT " clusters are too many to check",
                    img->io->name, c->nb_clusters);
        return false;
    }
    c->refs = g_try_new0(uint32_t, MAX(c->nb_clusters, 1u));
    if (!c->refs) {
        g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                    "Image '%s': not enough memory to check %" G_GUINT64_FORMAT " clusters",
                    img->io->name, c->nb_clusters);
        return false;
    }
    c->buf_size = MAX((uint64_t)BATCH_BYTES, s->cluster_size);
    c->buf = g_malloc(c->buf_size);
    c->l2 = g_array_new(FALSE, FALSE, sizeof(L2Ref));
    c->rb_entries = (s->cluster_size * 8) >> s->refcount_order;
    return true;
}

static void check_clear(Check *c)
{
    g_free(c->refs);
    g_free(c->buf);
    g_free(c->refblocks);
    g_free(c->refblock_uncounted);
    if (c->l2)
        g_array_unref(c->l2);
    if (c->unfixed)
        g_ptr_array_unref(c->unfixed);
}

/* Applies the refcount repairs decided by the comparison. */
static bool repair_refcounts(Check *c, CompareState *cs, GError **error)
{
    PdCheckResult *res = c->res;
    if (!cs->corruptions_to_fix && !cs->leaks_to_fix && !(cs->rebuild && c->refstruct_broken))
        return true;
    if (cs->rebuild) {
        report(c, "Rebuilding refcount structure");
        uint64_t end;
        if (!rebuild_refcounts(c, &end, error))
            return false;
        res->image_end_offset = MAX(res->image_end_offset, end);
        res->corruptions -= MIN(res->corruptions, c->refstruct_corruptions);
        res->corruptions_fixed += c->refstruct_corruptions;
    } else if (!fix_in_place(c, error)) {
        return false;
    }
    res->corruptions_fixed += cs->corruptions_to_fix;
    res->leaks_fixed += cs->leaks_to_fix;
    return true;
}

/* v3 snapshot entries without the disk size: with FIX_ERRORS, once nothing else is wrong,
 * the table is rewritten with full extra data (the size taken is the image's current one,
 * as qemu assumes when reading such an entry). */
static bool fix_snapshot_table(Check *c, GError **error)
{
    PdCheckResult *res = c->res;
    if (!c->incomplete_snapshots || !(c->fix & PD_CHECK_FIX_ERRORS) ||
        res->corruptions != c->incomplete_snapshots || res->check_errors)
        return true;
    report(c, "Repairing snapshot table: %u incomplete entries", c->incomplete_snapshots);
    if (!qcow2_rewrite_snapshot_table(c->img, error))
        return false;
    res->corruptions -= c->incomplete_snapshots;
    res->corruptions_fixed += c->incomplete_snapshots;
    return true;
}

/* After a repair that left nothing wrong: clears the dirty bit (lazy refcounts) and the
 * corrupt bit, as qemu-img check -r does. */
static bool mark_consistent(Check *c, GError **error)
{
    Qcow2State *s = c->s;
    if (c->res->corruptions || c->res->check_errors)
        return true;
    if (!qcow2_mark_clean(c->img, error))
        return false;
    if (s->header.incompatible_features & QCOW2_INCOMPAT_CORRUPT) {
        s->header.incompatible_features &= ~QCOW2_INCOMPAT_CORRUPT;
        if (!qcow2_update_header(c->img, error)) {
            s->header.incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
            return false;
        }
        s->corrupt = false;
    }
    return true;
}

bool qcow2_check(PdImage *img, PdCheckFix fix, PdCheckResult *ret, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    Check c = {0};
    bool ok = false;

    /* the metadata on disk must be current; with repairs, the caches must forget it */
    if (!img->io->read_only) {
        bool synced = fix ? qcow2_cache_empty(s->l2_cache, error) &&
                                qcow2_cache_empty(s->refcount_cache, error)
                          : qcow2_cache_flush(s->l2_cache, error) &&
                                qcow2_cache_flush(s->refcount_cache, error);
        if (!synced)
            return false;
    }
    if (!check_init(&c, img, fix, ret, error))
        goto out;

    count_range(&c, 0, s->cluster_size, 1); /* header, extensions, backing name */
    if (s->l1_table)
        scan_l1(&c, s->l1_table, s->l1_size, s->header.l1_table_offset, true);
    scan_snapshots(&c);
    dedup_l2(&c);
    count_l2_tables(&c);
    count_bitmaps(&c);
    scan_refcount_table(&c);

    CompareState cs = {0};
    if ((fix & PD_CHECK_FIX_ERRORS) && (c.refstruct_broken || needs_new_blocks(&c)))
        cs.rebuild = true;
    guint compare_start;
    compare_all(&c, &cs, &compare_start);
    ret->image_end_offset = cs.highest * s->cluster_size;
    ret->total_clusters = qcow2_size_to_clusters(s, img->size);
    /* Only a rebuild repairs these, and -r leaks does not rebuild: stop before any write,
     * as qemu-img does ("Check failed"). */
    if (fix && !(fix & PD_CHECK_FIX_ERRORS) &&
        (c.refstruct_broken || cs.zero_referenced || needs_new_blocks(&c))) {
        /* qemu-img stops after the plain comparison: only its lines */
        if (ret->messages)
            g_ptr_array_set_size(ret->messages, compare_start);
        insert_unfixed(&c, compare_start);
        report(&c, "ERROR need to rebuild refcount structures");
        ret->needs_rebuild = true;
        ok = true;
        goto out;
    }
    insert_unfixed(&c, compare_start);
    if (!repair_refcounts(&c, &cs, error))
        goto out;
    if (!check_copied(&c, error))
        goto out;
    if (fix &&
        (cs.corruptions_to_fix || cs.leaks_to_fix || ret->corruptions_fixed || cs.rebuild ||
         c.incomplete_snapshots) &&
        !reload_core(&c, error))
        goto out;
    if (!fix_snapshot_table(&c, error))
        goto out;
    if (fix && !mark_consistent(&c, error))
        goto out;
    if (c.messages_dropped)
        g_ptr_array_add(ret->messages,
                        g_strdup_printf("(%" G_GUINT64_FORMAT " more problems not listed)",
                                        c.messages_dropped));
    ok = true;
out:
    check_clear(&c);
    return ok;
}
