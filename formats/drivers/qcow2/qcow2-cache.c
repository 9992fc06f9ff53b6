/* qcow2 metadata cache: cluster-sized tables (L2 tables, refcount blocks) kept in memory,
 * written back when dirty.
 *
 * Each entry is a slot: the host offset of its table (0 = free), the table, a pin count and
 * a dirty flag. Lookup goes through a hash table offset -> slot. Eviction picks the least
 * recently used unpinned slot. Before a dirty table of a cache is written, its dependency
 * (the refcount cache for the L2 cache) is written and the store flushed, so an L2 entry
 * never reaches the disk before the refcount of the cluster it points to. */
#include "formats/drivers/qcow2/qcow2.h"
#include "common/pd-error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t offset; /* 0: free slot */
    void *table;     /* cluster_size bytes inside the arena */
    int pins;
    bool dirty;
    uint64_t lru; /* nonzero: used since the clock hand last passed */
} CacheSlot;

struct Qcow2Cache {
    PdImage *img;
    Qcow2Cache *dependency;
    bool flush_store_first; /* flush the store before writing any dirty table */
    size_t table_size;
    int n_slots;
    CacheSlot *slots;
    GHashTable *index; /* uint64_t offset -> slot number + 1 */
    uint8_t *arena;    /* n_slots tables; pages are touched only when used */
    int hand;          /* clock hand for eviction */
    int n_dirty;
};

Qcow2Cache *qcow2_cache_new(PdImage *img, int n_tables)
{
    Qcow2Cache *c = g_new0(Qcow2Cache, 1);
    c->img = img;
    c->table_size = qcow2_state(img)->cluster_size;
    c->n_slots = MAX(n_tables, 4);
    c->slots = g_new0(CacheSlot, c->n_slots);
    c->index = g_hash_table_new(g_int64_hash, g_int64_equal);
    c->arena = g_malloc((size_t)c->n_slots * c->table_size);
    for (int i = 0; i < c->n_slots; i++)
        c->slots[i].table = c->arena + (size_t)i * c->table_size;
    return c;
}

void qcow2_cache_free(Qcow2Cache *cache)
{
    if (!cache)
        return;
    g_free(cache->arena);
    g_hash_table_destroy(cache->index);
    g_free(cache->slots);
    g_free(cache);
}

void qcow2_cache_set_dependency(Qcow2Cache *cache, Qcow2Cache *dependency)
{
    cache->dependency = dependency;
}

void qcow2_cache_set_flush_store_first(Qcow2Cache *cache, bool flush_first)
{
    cache->flush_store_first = flush_first;
}

/* What must be on disk before a dirty table of @c is written: its dependency cache, or
 * with flush_store_first everything written to the store so far. */
static bool write_prerequisites(Qcow2Cache *c, GError **error)
{
    if (c->dependency && c->dependency->n_dirty > 0 && !qcow2_cache_flush(c->dependency, error))
        return false;
    return !c->flush_store_first || pd_io_flush(c->img->io, error);
}

static int slot_of_table(Qcow2Cache *c, const void *table)
{
    size_t at = (size_t)((const uint8_t *)table - c->arena);
    g_assert(at < (size_t)c->n_slots * c->table_size && at % c->table_size == 0);
    return (int)(at / c->table_size);
}

/* Writes one dirty slot (its prerequisites first, unless the caller did that). */
static bool write_slot(Qcow2Cache *c, CacheSlot *slot, bool prerequisites_done, GError **error)
{
    if (!slot->dirty)
        return true;
    if (!prerequisites_done && !write_prerequisites(c, error))
        return false;
    if (!pd_io_pwrite_full(c->img->io, slot->table, c->table_size, slot->offset, error))
        return false;
    slot->dirty = false;
    c->n_dirty--;
    return true;
}

static int cmp_slot_offset(const void *a, const void *b)
{
    const CacheSlot *x = *(CacheSlot *const *)a, *y = *(CacheSlot *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

bool qcow2_cache_write(Qcow2Cache *cache, GError **error)
{
    if (cache->n_dirty == 0)
        return true;
    if (!write_prerequisites(cache, error))
        return false;
    /* In offset order: sequential writes for the store. */
    g_autofree CacheSlot **dirty = g_new(CacheSlot *, cache->n_slots);
    int n = 0;
    for (int i = 0; i < cache->n_slots; i++)
        if (cache->slots[i].dirty)
            dirty[n++] = &cache->slots[i];
    qsort(dirty, (size_t)n, sizeof *dirty, cmp_slot_offset);
    for (int i = 0; i < n; i++)
        if (!write_slot(cache, dirty[i], true, error))
            return false;
    return true;
}

bool qcow2_cache_flush(Qcow2Cache *cache, GError **error)
{
    bool had_dirty = cache->n_dirty > 0;
    if (!qcow2_cache_write(cache, error))
        return false;
    return !had_dirty || pd_io_flush(cache->img->io, error);
}

bool qcow2_cache_empty(Qcow2Cache *cache, GError **error)
{
    if (!qcow2_cache_write(cache, error))
        return false;
    for (int i = 0; i < cache->n_slots; i++) {
        CacheSlot *slot = &cache->slots[i];
        g_assert(slot->pins == 0);
        if (slot->offset)
            g_hash_table_remove(cache->index, &slot->offset);
        slot->offset = 0;
    }
    return true;
}

void qcow2_cache_discard(Qcow2Cache *cache, uint64_t offset)
{
    gpointer v = g_hash_table_lookup(cache->index, &offset);
    if (!v)
        return;
    CacheSlot *slot = &cache->slots[GPOINTER_TO_INT(v) - 1];
    g_hash_table_remove(cache->index, &slot->offset);
    if (slot->dirty)
        cache->n_dirty--;
    slot->dirty = false;
    slot->offset = 0;
}

/* Finds a slot for a new table: a free one, else an unpinned one not used recently (the
 * clock algorithm: the hand clears "recently used" marks until it finds a slot without
 * one), written back first if dirty. Returns -1 with @error when every slot is pinned. */
static int evict(Qcow2Cache *c, GError **error)
{
    int best = -1;
    for (int step = 0; step < 2 * c->n_slots + 1; step++) {
        int i = c->hand;
        c->hand = (c->hand + 1) % c->n_slots;
        CacheSlot *slot = &c->slots[i];
        if (slot->offset == 0)
            return i;
        if (slot->pins)
            continue;
        if (slot->lru) { /* used since the hand last passed: second chance */
            slot->lru = 0;
            continue;
        }
        best = i;
        break;
    }
    if (best < 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED,
                    "Image '%s': metadata cache exhausted (all tables in use)", c->img->io->name);
        return -1;
    }
    CacheSlot *slot = &c->slots[best];
    if (!write_slot(c, slot, false, error))
        return -1;
    g_hash_table_remove(c->index, &slot->offset);
    slot->offset = 0;
    return best;
}

static bool get_table(Qcow2Cache *c, uint64_t offset, bool read, void **ret_table, GError **error)
{
    g_assert(offset != 0);
    gpointer v = g_hash_table_lookup(c->index, &offset);
    int i;
    if (v) {
        i = GPOINTER_TO_INT(v) - 1;
        if (!read)
            memset(c->slots[i].table, 0, c->table_size);
    } else {
        i = evict(c, error);
        if (i < 0)
            return false;
        CacheSlot *slot = &c->slots[i];
        if (read) {
            if (!pd_io_pread_full(c->img->io, slot->table, c->table_size, offset, error))
                return false;
        } else {
            memset(slot->table, 0, c->table_size);
        }
        slot->offset = offset;
        slot->dirty = false;
        g_hash_table_insert(c->index, &slot->offset, GINT_TO_POINTER(i + 1));
    }
    CacheSlot *slot = &c->slots[i];
    slot->pins++;
    slot->lru = 1;
    *ret_table = slot->table;
    return true;
}

bool qcow2_cache_get(Qcow2Cache *cache, uint64_t offset, void **ret_table, GError **error)
{
    return get_table(cache, offset, true, ret_table, error);
}

bool qcow2_cache_get_empty(Qcow2Cache *cache, uint64_t offset, void **ret_table, GError **error)
{
    return get_table(cache, offset, false, ret_table, error);
}

void qcow2_cache_put(Qcow2Cache *cache, void **table)
{
    if (!*table)
        return;
    int i = slot_of_table(cache, *table);
    g_assert(cache->slots[i].pins > 0);
    cache->slots[i].pins--;
    *table = NULL;
}

void qcow2_cache_mark_dirty(Qcow2Cache *cache, void *table)
{
    CacheSlot *slot = &cache->slots[slot_of_table(cache, table)];
    if (!slot->dirty) {
        slot->dirty = true;
        cache->n_dirty++;
    }
}
