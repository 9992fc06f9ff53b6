/* qcow2: on-disk layout, geometry helpers, driver state, and the internal API shared by
 * qcow2.c (header, open/create), qcow2-cache.c, qcow2-refcount.c, qcow2-cluster.c,
 * qcow2-compress.c, qcow2-snapshot.c and qcow2-check.c.
 *
 * Reference: QEMU's docs/interop/qcow2.txt. All on-disk integers are big-endian; they are
 * converted in exactly one place per structure (the *_from_disk / *_to_disk helpers).
 *
 * METADATA WRITE ORDER (an invariant; tests/unit/test-crash.c cuts power at every write):
 *
 *   allocate a cluster:  raise its refcount -> flush -> write the data -> write the L2 entry
 *                        -> flush -> (new L2 table only) write the L1 entry, flush.
 *                        (The refcount flush is the L2 cache's dependency: it happens, once
 *                        for many clusters, before the first L2 table naming them is written;
 *                        the data may be written before it, as nothing references it yet.)
 *   allocate an L2 table: refcount +1 -> flush -> write the zeroed/copied table -> flush
 *                        -> write the L1 entry -> flush.
 *   free a cluster:      clear the L2/L1 reference first -> flush -> drop the refcount.
 *   grow refcount table: write new refcount blocks (self-describing) -> flush -> write the
 *                        new table -> flush -> header points to it -> flush -> free the old.
 *   snapshot create:     copy L1, raise refcounts of everything it reaches -> flush -> write
 *                        the new snapshot table -> flush -> header (nb_snapshots, offset).
 *   snapshot delete:     header/table without it first -> flush -> drop its refcounts.
 *
 * So a crash may leak clusters (refcount higher than the references); it never leaves a
 * cluster referenced with refcount 0, and never gives one cluster two owners. With
 * lazy_refcounts the refcount writes may be deferred: the dirty bit is set first and a
 * read-write open of a dirty image rebuilds the refcounts (qcow2_check with FIX_ERRORS).
 */
#pragma once

#include "formats/image/image-driver.h"

#include <stdint.h>
#include <string.h>

/* ---- on-disk header --------------------------------------------------------------- */

#define QCOW2_MAGIC          0x514649fbU /* "QFI\xfb" */
#define QCOW2_V2_HEADER_SIZE 72
#define QCOW2_V3_HEADER_SIZE 104 /* with compression_type + padding: 112 */

#define QCOW2_MIN_CLUSTER_BITS   9
#define QCOW2_MAX_CLUSTER_BITS   21
#define QCOW2_MAX_REFCOUNT_ORDER 6
#define QCOW2_MAX_BACKING_NAME   1023
#define QCOW2_MAX_L1_SIZE        (32 * 1024 * 1024) /* bytes, as qemu */
#define QCOW2_MAX_REFTABLE_SIZE  (8 * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOTS      65536
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024

/* incompatible_features */
#define QCOW2_INCOMPAT_DIRTY       (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT     (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ULL << 2) /* external data file: refused */
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3) /* compression_type field is valid */
#define QCOW2_INCOMPAT_EXTL2       (1ULL << 4) /* extended L2 entries (subclusters) */
#define QCOW2_INCOMPAT_KNOWN                                                                       \
    (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_COMPRESSION |                  \
     QCOW2_INCOMPAT_EXTL2)
/* compatible_features */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)
/* autoclear_features */
#define QCOW2_AUTOCLEAR_BITMAPS       (1ULL << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ULL << 1)

/* header extension types */
#define QCOW2_EXT_END            0x00000000U
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acaU
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857U
#define QCOW2_EXT_CRYPTO         0x0537be77U
#define QCOW2_EXT_BITMAPS        0x23852875U
#define QCOW2_EXT_DATA_FILE      0x44415441U

/* L1/L2 entry bits */
#define QCOW2_OFLAG_COPIED     (1ULL << 63) /* refcount is exactly 1: write in place */
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62) /* L2 only */
#define QCOW2_OFLAG_ZERO       (1ULL << 0)  /* L2 only, v3: reads as zeroes */
#define QCOW2_L1E_OFFSET_MASK  0x00fffffffffffe00ULL
#define QCOW2_L2E_OFFSET_MASK  0x00fffffffffffe00ULL
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ULL

/* The header as host-endian values. Fields past header_length of a v2 image take their
 * v2 defaults (refcount_order 4, header_length 72). */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size; /* entries */
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    /* v3 */
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;
} Qcow2Header;

/* A header extension we keep but do not interpret (bitmaps, unknown ones), rewritten
 * unchanged whenever the header is rewritten. */
typedef struct {
    uint32_t type;
    uint32_t len;
    uint8_t *data;
} Qcow2Extension;

/* ---- snapshots (on-disk table, see qcow2-snapshot.c) ------------------------------ */

typedef struct {
    uint64_t l1_table_offset;
    uint32_t l1_size;
    char *id_str;
    char *name;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint32_t vm_state_size;       /* 32-bit field; the extra data may hold 64 bits */
    uint64_t vm_state_size_large; /* from extra data when present */
    uint64_t disk_size;           /* from extra data (v3 requires it) */
    uint64_t icount;              /* from extra data; UINT64_MAX when absent */
    uint32_t extra_data_size;
    uint8_t *unknown_extra; /* extra bytes beyond what we understand, kept */
} Qcow2Snapshot;

/* ---- metadata cache (qcow2-cache.c) ----------------------------------------------- */

typedef struct Qcow2Cache Qcow2Cache;

/* A cache of cluster-sized tables (L2 tables or refcount blocks) with dirty tracking.
 * Entries are pinned between get and put. A cache may depend on another: before any of its
 * dirty tables is written, the dependency is flushed (L2 cache depends on the refcount
 * cache: refcounts go to disk before the L2 entries that need them). */
Qcow2Cache *qcow2_cache_new(PdImage *img, int n_tables);
void qcow2_cache_free(Qcow2Cache *cache);
void qcow2_cache_set_dependency(Qcow2Cache *cache, Qcow2Cache *dependency);
/* With lazy refcounts the L2 cache has no dependency, yet the data clusters its tables name
 * must be on disk before the tables are (else a crash leaves L2 entries pointing past the
 * end of the file, which no refcount rebuild repairs): the store is flushed first. */
void qcow2_cache_set_flush_store_first(Qcow2Cache *cache, bool flush_first);
/* Loads (or finds) the table at @offset; *ret_table stays valid until put. */
bool qcow2_cache_get(Qcow2Cache *cache, uint64_t offset, void **ret_table, GError **error);
/* Same for a newly allocated table: no read, contents zeroed. */
bool qcow2_cache_get_empty(Qcow2Cache *cache, uint64_t offset, void **ret_table, GError **error);
void qcow2_cache_put(Qcow2Cache *cache, void **table);
void qcow2_cache_mark_dirty(Qcow2Cache *cache, void *table);
/* Writes every dirty table (dependency first) and flushes the store. */
bool qcow2_cache_flush(Qcow2Cache *cache, GError **error);
/* Writes dirty tables without the final store flush. */
bool qcow2_cache_write(Qcow2Cache *cache, GError **error);
/* Forgets every table (after check/repair or snapshot apply rewrote metadata on disk).
 * Dirty tables are written first. */
bool qcow2_cache_empty(Qcow2Cache *cache, GError **error);
/* Drops the table at @offset from the cache without writing it (its cluster was freed). */
void qcow2_cache_discard(Qcow2Cache *cache, uint64_t offset);

/* ---- driver state ----------------------------------------------------------------- */

typedef struct {
    Qcow2Header header;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t l2_bits;  /* log2(entries per L2 table) */
    uint64_t l2_size;  /* entries per L2 table */
    int l2_entry_size; /* 8, or 16 with extended L2 */
    bool extended_l2;
    uint32_t subcluster_bits;
    uint32_t refcount_order;
    uint32_t refcount_bits;
    uint64_t refcount_max;
    uint32_t refcount_block_bits; /* log2(entries per refcount block) */
    uint64_t refcount_block_size; /* entries */
    uint32_t csize_shift;         /* compressed cluster descriptor geometry */
    uint64_t csize_mask;
    uint64_t cluster_offset_mask;

    uint64_t *l1_table; /* host-endian, l1_size entries (rounded up to a cluster) */
    uint32_t l1_size;
    uint64_t *refcount_table;     /* host-endian */
    uint64_t refcount_table_size; /* entries */

    Qcow2Cache *l2_cache;
    Qcow2Cache *refcount_cache;

    uint64_t free_cluster_index; /* first cluster that may be free (allocation hint) */

    Qcow2Snapshot *snapshots;
    uint32_t nb_snapshots;

    GPtrArray *extensions;     /* Qcow2Extension *: unknown and bitmap extensions, kept */
    char *backing_format_name; /* as recorded (may be a format we do not know) */
    bool dirty_marked;         /* we set the dirty bit on disk (lazy refcounts) */
    bool corrupt;              /* the corrupt bit is set: read-only */
    PdCompression compression_type;

    /* scratch buffer for compressed clusters (decompress) */
    uint8_t *cluster_cache;
    uint64_t cluster_cache_offset; /* host offset of the cached decompressed cluster; 0 none */
    uint8_t *cluster_data;

    /* appended by the driver core (qcow2.c and friends) */
    uint64_t alloc_end;        /* first cluster index past everything allocated so far */
    uint64_t free_byte_offset; /* compressed packing: next free byte, 0 = start a cluster */
    bool lazy_refcounts;       /* compatible bit 0: refcount writes deferred (dirty bit) */
    bool bitmaps_marked;       /* persistent bitmaps flagged in-use before our first write */
    uint8_t *unknown_header;   /* header bytes past those we know (header_length > 112) */
    uint32_t unknown_header_len;
    GPtrArray *feature_names; /* Qcow2FeatureName *: the image's feature name table */
    uint32_t bitmap_count;    /* nb_bitmaps of the bitmaps extension (0 if none) */
    uint64_t bitmap_dir_offset;
    uint64_t bitmap_dir_size;
} Qcow2State;

static inline Qcow2State *qcow2_state(PdImage *img)
{
    return img->priv;
}

/* ---- geometry helpers ------------------------------------------------------------- */

static inline uint64_t qcow2_offset_into_cluster(const Qcow2State *s, uint64_t offset)
{
    return offset & (s->cluster_size - 1);
}
static inline uint64_t qcow2_start_of_cluster(const Qcow2State *s, uint64_t offset)
{
    return offset & ~(s->cluster_size - 1);
}
static inline uint64_t qcow2_size_to_clusters(const Qcow2State *s, uint64_t size)
{
    return (size + s->cluster_size - 1) >> s->cluster_bits;
}
static inline uint64_t qcow2_offset_to_l1_index(const Qcow2State *s, uint64_t offset)
{
    return offset >> (s->l2_bits + s->cluster_bits);
}
static inline uint64_t qcow2_offset_to_l2_index(const Qcow2State *s, uint64_t offset)
{
    return (offset >> s->cluster_bits) & (s->l2_size - 1);
}
/* L1 entries needed for a virtual size. */
static inline uint64_t qcow2_l1_entries_for(const Qcow2State *s, uint64_t size)
{
    uint64_t shift = s->cluster_bits + s->l2_bits;
    return (size + (1ULL << shift) - 1) >> shift;
}
static inline bool qcow2_is_aligned(const Qcow2State *s, uint64_t offset)
{
    return qcow2_offset_into_cluster(s, offset) == 0;
}

/* ---- big-endian conversion, in one place -------------------------------------------- */

void qcow2_header_from_disk(Qcow2Header *h, const uint8_t *buf, size_t len);
void qcow2_header_to_disk(const Qcow2Header *h, uint8_t *buf); /* header_length bytes */
/* Big-endian fields at any (possibly unaligned) address of an on-disk buffer. */
static inline uint16_t qcow2_get_be16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return GUINT16_FROM_BE(v);
}
static inline uint32_t qcow2_get_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return GUINT32_FROM_BE(v);
}
static inline uint64_t qcow2_get_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return GUINT64_FROM_BE(v);
}
static inline void qcow2_put_be16(uint8_t *p, uint16_t v)
{
    v = GUINT16_TO_BE(v);
    memcpy(p, &v, sizeof v);
}
static inline void qcow2_put_be32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, sizeof v);
}
static inline void qcow2_put_be64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, sizeof v);
}

/* ---- qcow2.c: header -------------------------------------------------------------- */

/* Rewrites header + extensions + backing name in cluster 0 (must fit there), then flushes. */
bool qcow2_update_header(PdImage *img, GError **error);
/* Sets/clears the dirty bit on disk (lazy refcounts). */
bool qcow2_mark_dirty(PdImage *img, GError **error);
bool qcow2_mark_clean(PdImage *img, GError **error);
/* Sets the corrupt bit and makes the image read-only; the message names what was found. */
void qcow2_signal_corruption(PdImage *img, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* ---- qcow2-refcount.c ------------------------------------------------------------- */

/* Loads the refcount table. */
bool qcow2_refcount_init(PdImage *img, GError **error);
void qcow2_refcount_close(PdImage *img);
/* Refcount of the cluster at host offset @offset (aligned). */
bool qcow2_get_refcount(PdImage *img, uint64_t cluster_index, uint64_t *ret, GError **error);
/* Adds @delta (may be negative) to the refcount of each cluster in [offset, offset+len).
 * Refuses to go below 0 or above refcount_max (PD_ERROR_CORRUPT). Refcount blocks are
 * allocated as needed, growing the refcount table. */
bool qcow2_update_refcount(PdImage *img, uint64_t offset, uint64_t len, int64_t delta,
                           GError **error);
/* Finds @n contiguous free clusters, sets their refcount to 1 and returns the host offset.
 * The refcount update is in the cache, not yet on disk: callers flush the refcount cache
 * before writing anything that references the clusters (the write order above). */
bool qcow2_alloc_clusters(PdImage *img, uint64_t n, uint64_t *ret_offset, GError **error);
/* Allocates @size bytes (< cluster) for compressed data, packing several into one
 * cluster; each cluster touched gets one reference per compressed cluster in it. */
bool qcow2_alloc_bytes(PdImage *img, uint64_t size, uint64_t *ret_offset, GError **error);
/* Drops one reference of each cluster in the range. */
bool qcow2_free_clusters(PdImage *img, uint64_t offset, uint64_t len, GError **error);
/* Drops the reference an L2 entry holds (normal or compressed). */
bool qcow2_free_l2_entry(PdImage *img, uint64_t l2_entry, GError **error);
/* Host offset past the last cluster with a nonzero refcount. */
bool qcow2_image_end(PdImage *img, uint64_t *ret, GError **error);

/* ---- qcow2-cluster.c -------------------------------------------------------------- */

typedef enum {
    QCOW2_CLUSTER_UNALLOCATED, /* comes from the backing file (or zeroes) */
    QCOW2_CLUSTER_ZERO_PLAIN,  /* zero flag, no host cluster */
    QCOW2_CLUSTER_ZERO_ALLOC,  /* zero flag with a preallocated host cluster */
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

/* Type of an L2 entry (for extended L2, of the whole cluster's primary entry). */
Qcow2ClusterType qcow2_l2_entry_type(const Qcow2State *s, uint64_t l2_entry);

/* Grows the active L1 table to at least @min_size entries (copy-on-write into new clusters,
 * header updated, old table freed). */
bool qcow2_grow_l1_table(PdImage *img, uint64_t min_size, GError **error);
/* Writes the active L1 table to disk (entries [first, first+count)) and flushes. */
bool qcow2_write_l1_entries(PdImage *img, uint64_t first, uint64_t count, GError **error);

/* Guest I/O (the driver callbacks). */
bool qcow2_co_read(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error);
bool qcow2_co_write(PdImage *img, uint64_t offset, const void *buf, size_t len, GError **error);
bool qcow2_co_write_zeroes(PdImage *img, uint64_t offset, uint64_t len, PdZeroFlags flags,
                           GError **error);
bool qcow2_co_discard(PdImage *img, uint64_t offset, uint64_t len, GError **error);
bool qcow2_co_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                           GError **error);
/* Maps every cluster of [0, size) (preallocation=metadata/falloc/full). */
bool qcow2_preallocate(PdImage *img, uint64_t offset, uint64_t len, PdPrealloc mode,
                       GError **error);

/* ---- qcow2-compress.c ------------------------------------------------------------- */

/* Compresses one cluster: the compressed length, 0 if it does not shrink, -1 on error. */
ssize_t qcow2_compress(PdImage *img, const void *cluster, void *out, size_t out_len,
                       GError **error);
/* Reads and decompresses the compressed cluster of L2 entry @l2_entry into @out. */
bool qcow2_read_compressed(PdImage *img, uint64_t l2_entry, uint8_t *out, GError **error);
bool qcow2_write_compressed(PdImage *img, uint64_t offset, const void *data, size_t len,
                            GError **error);

/* ---- qcow2-snapshot.c ------------------------------------------------------------- */

bool qcow2_read_snapshots(PdImage *img, GError **error);
void qcow2_free_snapshots(Qcow2State *s);
GArray *qcow2_snapshot_list(PdImage *img, GError **error);
bool qcow2_snapshot_create(PdImage *img, const char *name, GError **error);
bool qcow2_snapshot_apply(PdImage *img, const char *id_or_name, GError **error);
bool qcow2_snapshot_delete(PdImage *img, const char *id_or_name, GError **error);

/* ---- qcow2-check.c ---------------------------------------------------------------- */

/* Rebuilds refcounts from every reference (header, L1s of the image and its snapshots, L2
 * tables, data and compressed clusters, refcount structures, snapshot table, bitmaps'
 * clusters) and compares; counts corruptions and leaks, repairs as @fix says. */
bool qcow2_check(PdImage *img, PdCheckFix fix, PdCheckResult *ret, GError **error);

/* ---- additions by the driver core ------------------------------------------------- */

/* One entry of the feature name table extension. */
typedef struct {
    uint8_t type; /* 0 incompatible, 1 compatible, 2 autoclear */
    uint8_t bit;
    char name[47];
} Qcow2FeatureName;

/* Writes every dirty L2 table and refcount block (refcounts first) and flushes the store. */
bool qcow2_flush_caches(PdImage *img, GError **error);
/* The host cluster offset of a standard (non-compressed) L2 entry. */
static inline uint64_t qcow2_l2_entry_offset(const Qcow2State *s, uint64_t l2_entry)
{
    return l2_entry & QCOW2_L2E_OFFSET_MASK;
}
/* Reads entry @index of an L2 table (standard or extended: the first 64 bits). */
static inline uint64_t qcow2_l2_get(const Qcow2State *s, const void *table, uint64_t index)
{
    return GUINT64_FROM_BE(((const uint64_t *)table)[index * (uint64_t)(s->l2_entry_size / 8)]);
}
static inline void qcow2_l2_set(const Qcow2State *s, void *table, uint64_t index, uint64_t v)
{
    ((uint64_t *)table)[index * (uint64_t)(s->l2_entry_size / 8)] = GUINT64_TO_BE(v);
}
/* The subcluster bitmap of an extended L2 entry (0 for standard entries). */
static inline uint64_t qcow2_l2_bitmap(const Qcow2State *s, const void *table, uint64_t index)
{
    if (!s->extended_l2)
        return 0;
    return GUINT64_FROM_BE(((const uint64_t *)table)[index * 2 + 1]);
}
static inline void qcow2_l2_set_bitmap(const Qcow2State *s, void *table, uint64_t index, uint64_t v)
{
    if (s->extended_l2)
        ((uint64_t *)table)[index * 2 + 1] = GUINT64_TO_BE(v);
}
/* Host clusters touched by a compressed L2 entry: [*ret_offset, *ret_offset + *ret_len). */
void qcow2_compressed_range(const Qcow2State *s, uint64_t l2_entry, uint64_t *ret_offset,
                            uint64_t *ret_len);
/* Checks that a metadata-free host range [offset, offset+len) does not overlap the header,
 * the L1 table, the refcount table or the snapshot table; signals corruption if it does. */
bool qcow2_check_data_overlap(PdImage *img, uint64_t offset, uint64_t len, GError **error);
/* Sets the L2 entry (extended: with an empty bitmap) of the guest cluster at @offset,
 * allocating or copying its L2 table as needed; the old entry's clusters are freed once
 * the table is on disk. */
bool qcow2_set_l2_entry(PdImage *img, uint64_t offset, uint64_t entry, GError **error);
/* Replaces every zero cluster (active and snapshot tables) by something compat 0.10 reads
 * the same: nothing (no backing file) or a cluster of zeroes. */
bool qcow2_expand_zero_clusters(PdImage *img, GError **error);
/* Drops every cluster mapping at or past @new_size (shrink). */
bool qcow2_truncate_mappings(PdImage *img, uint64_t new_size, GError **error);

/* qcow2-header.c */
bool qcow2_read_header(PdImage *img, GError **error);
bool qcow2_write_new_header(PdImage *img, GError **error);
bool qcow2_mark_bitmaps_in_use(PdImage *img, GError **error);
void qcow2_header_state_init(Qcow2State *s);
void qcow2_header_state_free(Qcow2State *s);
