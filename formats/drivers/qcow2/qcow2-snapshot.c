/* qcow2 internal snapshots: the snapshot table, and create / apply / delete / list.
 *
 * A snapshot is a copy of the active L1 table plus one more reference on every cluster that
 * copy reaches (L2 tables, data clusters, each host cluster a compressed cluster touches).
 * Writes then copy-on-write anything whose refcount is above 1: the COPIED flag (bit 63 of
 * L1/L2 entries) says "refcount is exactly 1, write in place" and is kept exact for the
 * active tables only (inactive L1 tables may carry stale flags, see qcow2.txt).
 *
 * On-disk snapshot table entry (big-endian, padded to 8 bytes):
 *
 *   0  l1_table_offset    8   8  l1_size           4   12 id_str length      2
 *   14 name length        2   16 date_sec          4   20 date_nsec          4
 *   24 vm_clock_nsec      8   32 vm_state_size     4   36 extra_data_size    4
 *   40 extra data: [0] vm_state_size_large 8, [8] disk_size 8, [16] icount 8, unknown...
 *      id_str, name (not NUL-terminated), padding to a multiple of 8.
 *
 * L2 tables are read and written here directly (not through the L2 cache): the cache is
 * emptied first, so no stale copy survives. Refcounts go through qcow2_update_refcount and
 * the refcount cache. The write order is the one in qcow2.h: everything a snapshot needs is
 * durable before the table names it; a deleted snapshot leaves the table before its
 * references are dropped. A failure half-way leaks clusters, never shares one. */
#include "formats/drivers/qcow2/qcow2.h"
#include "formats/drivers/qcow2/qcow2-snapshot-table.h"
#include "common/pd-error.h"

#include <string.h>
#include <time.h>

#define SN_HEADER_SIZE           40
#define SN_EXTRA_KNOWN           24 /* vm_state_size_large, disk_size, icount */
#define SN_EXTRA_DISK_SIZE_END   16
#define QCOW2_MAX_SNAPSHOTS_SIZE ((uint64_t)1024 * QCOW2_MAX_SNAPSHOTS)

/* ---- small helpers ---------------------------------------------------------------- */

static bool corrupt(PdImage *img, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool corrupt(PdImage *img, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "Image '%s' is corrupt: %s", img->io->name, msg);
    return false;
}

/* Corruption found while changing the image: marks it corrupt (read-only until repaired),
 * as the core does for what it finds. Returns false. */
static bool signal_corrupt(PdImage *img, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool signal_corrupt(PdImage *img, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qcow2_signal_corruption(img, error, "%s", msg);
    return false;
}

/* Host byte range of a compressed cluster descriptor: [*ret_offset, +*ret_len). */
static void compressed_range(const Qcow2State *s, uint64_t entry, uint64_t *ret_offset,
                             uint64_t *ret_len)
{
    uint32_t shift = 62 - (s->cluster_bits - 8);
    uint64_t offset = entry & ((1ULL << shift) - 1);
    uint64_t sectors = ((entry >> shift) & ((1ULL << (s->cluster_bits - 8)) - 1)) + 1;
    *ret_offset = offset;
    *ret_len = sectors * 512 - (offset & 511);
}

/* Size of one table entry on disk, as it is described in memory. */
static uint64_t entry_size(const Qcow2Snapshot *sn)
{
    uint64_t len =
        SN_HEADER_SIZE + (uint64_t)sn->extra_data_size + strlen(sn->id_str) + strlen(sn->name);
    return (len + 7) & ~7ULL;
}

static uint64_t table_size(const Qcow2State *s)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        total += entry_size(&s->snapshots[i]);
    return total;
}

static void snapshot_clear(Qcow2Snapshot *sn)
{
    g_free(sn->id_str);
    g_free(sn->name);
    g_free(sn->unknown_extra);
    memset(sn, 0, sizeof *sn);
}

void qcow2_free_snapshots(Qcow2State *s)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        snapshot_clear(&s->snapshots[i]);
    g_free(s->snapshots);
    s->snapshots = NULL;
    s->nb_snapshots = 0;
}

/* ---- reading the table ------------------------------------------------------------ */

/* A bounded, growing read window over the snapshot table. */
typedef struct {
    PdImage *img;
    uint64_t offset; /* of the table in the file */
    uint64_t limit;  /* bytes that may be read: min(file end, table size limit) */
    uint8_t *buf;
    uint64_t have;
} TableReader;

/* Makes [pos, pos+len) of the table readable. False with a corruption error when it would
 * lie past the end of the file or the size limit. */
static bool reader_need(TableReader *r, uint64_t pos, uint64_t len, GError **error)
{
    if (pos + len <= r->have)
        return true;
    if (len > r->limit || pos > r->limit - len)
        return corrupt(r->img, error,
                       "the snapshot table at offset %#" G_GINT64_MODIFIER "x runs past the end "
                       "of the file or past %" G_GUINT64_FORMAT " bytes",
                       r->offset, QCOW2_MAX_SNAPSHOTS_SIZE);
    uint64_t want = MIN(MAX(pos + len, MAX(r->have * 2, (uint64_t)65536)), r->limit);
    r->buf = g_realloc(r->buf, want);
    if (!pd_io_pread_full(r->img->io, r->buf + r->have, want - r->have, r->offset + r->have, error))
        return false;
    r->have = want;
    return true;
}

/* Whether a snapshot's L1 table is aligned and inside the file (else a corruption error). */
static bool snapshot_l1_ok(PdImage *img, const Qcow2Snapshot *sn, uint64_t file_size,
                           GError **error)
{
    if (sn->l1_size > QCOW2_MAX_L1_SIZE / 8)
        return corrupt(img, error,
                       "snapshot '%s' (id %s) has an L1 table of %u entries (at "
                       "most %d are allowed)",
                       sn->name, sn->id_str, sn->l1_size, QCOW2_MAX_L1_SIZE / 8);
    const Qcow2State *s = qcow2_state(img);
    uint64_t l1_bytes = (uint64_t)sn->l1_size * 8;
    if (!qcow2_is_aligned(s, sn->l1_table_offset) ||
        (sn->l1_size > 0 &&
         (sn->l1_table_offset < s->cluster_size || sn->l1_table_offset > file_size ||
          l1_bytes > file_size - sn->l1_table_offset)))
        return corrupt(img, error,
                       "the L1 table of snapshot '%s' (id %s) at offset %#" G_GINT64_MODIFIER
                       "x (%u entries) is misaligned or lies outside the file",
                       sn->name, sn->id_str, sn->l1_table_offset, sn->l1_size);
    return true;
}

/* Parses one entry at @pos into @sn; *ret_next is the position of the next one. */
static bool read_one_snapshot(TableReader *r, uint64_t pos, uint64_t file_size, Qcow2Snapshot *sn,
                              uint64_t *ret_next, GError **error)
{
    PdImage *img = r->img;
    if (!reader_need(r, pos, SN_HEADER_SIZE, error))
        return false;
    const uint8_t *h = r->buf + pos;
    sn->l1_table_offset = qcow2_get_be64(h);
    sn->l1_size = qcow2_get_be32(h + 8);
    uint16_t id_len = qcow2_get_be16(h + 12);
    uint16_t name_len = qcow2_get_be16(h + 14);
    sn->date_sec = qcow2_get_be32(h + 16);
    sn->date_nsec = qcow2_get_be32(h + 20);
    sn->vm_clock_nsec = qcow2_get_be64(h + 24);
    sn->vm_state_size = qcow2_get_be32(h + 32);
    sn->extra_data_size = qcow2_get_be32(h + 36);
    if (sn->extra_data_size > QCOW2_MAX_SNAPSHOT_EXTRA)
        return corrupt(img, error,
                       "snapshot entry at table offset %" G_GUINT64_FORMAT
                       " has %u bytes of extra data (at most %d are allowed)",
                       pos, sn->extra_data_size, QCOW2_MAX_SNAPSHOT_EXTRA);
    uint64_t var_len = (uint64_t)sn->extra_data_size + id_len + name_len;
    if (!reader_need(r, pos + SN_HEADER_SIZE, var_len, error))
        return false;
    const uint8_t *extra = r->buf + pos + SN_HEADER_SIZE;
    uint32_t esize = sn->extra_data_size;
    sn->vm_state_size_large = esize >= 8 ? qcow2_get_be64(extra) : sn->vm_state_size;
    sn->disk_size = esize >= SN_EXTRA_DISK_SIZE_END ? qcow2_get_be64(extra + 8) : UINT64_MAX;
    sn->icount = esize >= SN_EXTRA_KNOWN ? qcow2_get_be64(extra + 16) : UINT64_MAX;
    if (esize > SN_EXTRA_KNOWN)
        sn->unknown_extra = g_memdup2(extra + SN_EXTRA_KNOWN, esize - SN_EXTRA_KNOWN);
    sn->id_str = g_strndup((const char *)extra + esize, id_len);
    sn->name = g_strndup((const char *)extra + esize + id_len, name_len);
    /* strndup stops at a NUL byte: keep the sizes consistent with what we will write */
    if (strlen(sn->id_str) != id_len || strlen(sn->name) != name_len)
        return corrupt(img, error,
                       "snapshot entry at table offset %" G_GUINT64_FORMAT
                       " has a NUL byte in its id or name",
                       pos);

    /* a check-only open keeps the entry: check reports it, apply/delete refuse it */
    if (!(img->flags & PD_OPEN_CHECK_ONLY) && !snapshot_l1_ok(img, sn, file_size, error))
        return false;
    /* Without a recorded disk size, the snapshot has the image's current size (qemu). */
    if (sn->disk_size == UINT64_MAX)
        sn->disk_size = img->size;
    *ret_next = pos + ((SN_HEADER_SIZE + var_len + 7) & ~7ULL);
    return true;
}

/* Reads the snapshot table named by the header into s->snapshots. Every size and offset is
 * checked against the file and qemu's limits: a bad table is PD_ERROR_CORRUPT. */
bool qcow2_read_snapshots(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint32_t n = s->header.nb_snapshots;
    uint64_t offset = s->header.snapshots_offset;

    qcow2_free_snapshots(s);
    if (n == 0)
        return true;
    if (n > QCOW2_MAX_SNAPSHOTS)
        return corrupt(img, error, "the header names %u snapshots (at most %d are allowed)", n,
                       QCOW2_MAX_SNAPSHOTS);
    uint64_t file_size;
    if (!pd_io_get_size(img->io, &file_size, error))
        return false;
    if (offset == 0 || !qcow2_is_aligned(s, offset) || offset >= file_size)
        return corrupt(img, error,
                       "the snapshot table offset %#" G_GINT64_MODIFIER "x is not a cluster "
                       "inside the file",
                       offset);

    TableReader r = {.img = img, .offset = offset};
    r.limit = MIN(file_size - offset, QCOW2_MAX_SNAPSHOTS_SIZE);
    Qcow2Snapshot *snaps = g_new0(Qcow2Snapshot, n);
    uint64_t pos = 0;
    uint32_t i;
    bool ok = true;
    for (i = 0; i < n && ok; i++)
        ok = read_one_snapshot(&r, pos, file_size, &snaps[i], &pos, error);
    g_free(r.buf);
    if (!ok) {
        for (uint32_t j = 0; j < n; j++)
            snapshot_clear(&snaps[j]);
        g_free(snaps);
        return false;
    }
    s->snapshots = snaps;
    s->nb_snapshots = n;
    return true;
}

/* ---- writing the table ------------------------------------------------------------ */

/* Serializes s->snapshots into @buf (table_size bytes, zeroed). */
static void serialize_table(const Qcow2State *s, uint8_t *buf)
{
    uint8_t *p = buf;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        size_t id_len = strlen(sn->id_str), name_len = strlen(sn->name);
        qcow2_put_be64(p, sn->l1_table_offset);
        qcow2_put_be32(p + 8, sn->l1_size);
        qcow2_put_be16(p + 12, (uint16_t)id_len);
        qcow2_put_be16(p + 14, (uint16_t)name_len);
        qcow2_put_be32(p + 16, sn->date_sec);
        qcow2_put_be32(p + 20, sn->date_nsec);
        qcow2_put_be64(p + 24, sn->vm_clock_nsec);
        qcow2_put_be32(p + 32, (uint32_t)MIN(sn->vm_state_size_large, (uint64_t)UINT32_MAX));
        qcow2_put_be32(p + 36, sn->extra_data_size);
        uint8_t *extra = p + SN_HEADER_SIZE;
        qcow2_put_be64(extra, sn->vm_state_size_large);
        qcow2_put_be64(extra + 8, sn->disk_size);
        qcow2_put_be64(extra + 16, sn->icount);
        if (sn->extra_data_size > SN_EXTRA_KNOWN)
            memcpy(extra + SN_EXTRA_KNOWN, sn->unknown_extra, sn->extra_data_size - SN_EXTRA_KNOWN);
        memcpy(extra + sn->extra_data_size, sn->id_str, id_len);
        memcpy(extra + sn->extra_data_size + id_len, sn->name, name_len);
        p += entry_size(sn);
    }
}

/* Writes the (normalised) table into new clusters and points the header at it. */
static bool write_new_table(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t size = table_size(s);
    uint64_t new_offset = 0;
    if (size > QCOW2_MAX_SNAPSHOTS_SIZE) {
        g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                    "Image '%s': the snapshot table would exceed %" G_GUINT64_FORMAT " bytes",
                    img->io->name, QCOW2_MAX_SNAPSHOTS_SIZE);
        return false;
    }
    if (s->nb_snapshots > 0) {
        uint64_t clusters = qcow2_size_to_clusters(s, size);
        if (!qcow2_alloc_clusters(img, clusters, &new_offset, error) ||
            !qcow2_cache_flush(s->refcount_cache, error))
            return false;
        g_autofree uint8_t *buf = g_malloc0(clusters * s->cluster_size);
        serialize_table(s, buf);
        if (!pd_io_pwrite_full(img->io, buf, clusters * s->cluster_size, new_offset, error) ||
            !pd_io_flush(img->io, error))
            return false;
    }
    uint64_t saved_offset = s->header.snapshots_offset;
    uint32_t saved_nb = s->header.nb_snapshots;
    s->header.snapshots_offset = new_offset;
    s->header.nb_snapshots = s->nb_snapshots;
    if (!qcow2_update_header(img, error)) {
        s->header.snapshots_offset = saved_offset;
        s->header.nb_snapshots = saved_nb;
        return false;
    }
    return true;
}

/* Writes s->snapshots as a new table in new clusters, points the header at it, then frees
 * the old table (@old_offset, @old_size bytes). Entries are normalised first: every entry
 * gets the 24 bytes of extra data new qemu writes (unknown extra bytes are kept). */
static bool write_snapshot_table(PdImage *img, uint64_t old_offset, uint64_t old_size,
                                 GError **error)
{
    Qcow2State *s = qcow2_state(img);
    /* until the header names the new table, the sizes in memory must describe the old one:
     * they say how many clusters it holds when it is freed later */
    g_autofree uint32_t *saved_extra = g_new(uint32_t, MAX(s->nb_snapshots, 1u));
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        saved_extra[i] = sn->extra_data_size;
        sn->extra_data_size = MAX(sn->extra_data_size, (uint32_t)SN_EXTRA_KNOWN);
    }
    if (!write_new_table(img, error)) {
        for (uint32_t i = 0; i < s->nb_snapshots; i++)
            s->snapshots[i].extra_data_size = saved_extra[i];
        return false;
    }
    if (old_offset && old_size &&
        !qcow2_free_clusters(img, old_offset, qcow2_size_to_clusters(s, old_size) * s->cluster_size,
                             error))
        return false;
    return true;
}

bool qcow2_rewrite_snapshot_table(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    return write_snapshot_table(img, s->header.snapshots_offset, table_size(s), error);
}

/* ---- walking an L1 table ---------------------------------------------------------- */

/* Adjacent clusters with the same refcount change, merged into one update. */
typedef struct {
    PdImage *img;
    int64_t delta;
    uint64_t start;
    uint64_t len;
} RefRun;

static bool run_flush(RefRun *r, GError **error)
{
    if (r->len == 0)
        return true;
    uint64_t start = r->start, len = r->len;
    r->len = 0;
    return qcow2_update_refcount(r->img, start, len, r->delta, error);
}

/* Adds the clusters [offset, offset+len) (cluster-aligned) to the run. */
static bool run_add(RefRun *r, uint64_t offset, uint64_t len, GError **error)
{
    if (r->len && r->start + r->len == offset) {
        r->len += len;
        return true;
    }
    if (!run_flush(r, error))
        return false;
    r->start = offset;
    r->len = len;
    return true;
}

/* Checks that an L1 or L2 entry's host cluster is aligned and lies inside the file. */
static bool cluster_in_file(const Qcow2State *s, uint64_t offset, uint64_t file_size)
{
    return qcow2_is_aligned(s, offset) && offset < file_size &&
           s->cluster_size <= file_size - offset;
}

/* Adds @delta to the refcount of every cluster the L2 table at @l2_offset references and of
 * the table itself. With @clear_copied, clears the COPIED flags in the table (written back
 * when one changed). */
static bool walk_l2(PdImage *img, RefRun *run, uint64_t l2_offset, uint64_t file_size,
                    uint8_t *table, bool clear_copied, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!pd_io_pread_full(img->io, table, s->cluster_size, l2_offset, error))
        return false;
    bool dirty = false;
    for (uint64_t j = 0; j < s->l2_size; j++) {
        uint8_t *p = table + j * (uint64_t)s->l2_entry_size;
        uint64_t e = qcow2_get_be64(p);
        if (e & QCOW2_OFLAG_COMPRESSED) {
            uint64_t coff, clen;
            compressed_range(s, e, &coff, &clen);
            uint64_t first = qcow2_start_of_cluster(s, coff);
            uint64_t end = qcow2_start_of_cluster(s, coff + clen - 1) + s->cluster_size;
            if (end > file_size + s->cluster_size)
                return signal_corrupt(img, error,
                                      "compressed cluster at %#" G_GINT64_MODIFIER "x (L2 table at "
                                      "%#" G_GINT64_MODIFIER "x) lies past the end of the file",
                                      coff, l2_offset);
            if (!run_add(run, first, end - first, error))
                return false;
            continue;
        }
        uint64_t offset = e & QCOW2_L2E_OFFSET_MASK;
        if (offset == 0)
            continue;
        if (!cluster_in_file(s, offset, file_size + s->cluster_size - 1))
            return signal_corrupt(img, error,
                                  "L2 entry %#" G_GINT64_MODIFIER "x (table at %#" G_GINT64_MODIFIER
                                  "x) is misaligned or points past the end of the file",
                                  e, l2_offset);
        if (!run_add(run, offset, s->cluster_size, error))
            return false;
        if (clear_copied && (e & QCOW2_OFLAG_COPIED)) {
            qcow2_put_be64(p, e & ~QCOW2_OFLAG_COPIED);
            dirty = true;
        }
    }
    if (dirty && !pd_io_pwrite_full(img->io, table, s->cluster_size, l2_offset, error))
        return false;
    return run_add(run, l2_offset, s->cluster_size, error);
}

/* Adds @delta to the refcount of every cluster reachable from the L1 table @l1 (host-endian,
 * @l1_size entries), not counting the L1 table itself. The L2 cache must be empty. */
static bool walk_l1(PdImage *img, const uint64_t *l1, uint32_t l1_size, int64_t delta,
                    bool clear_copied, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t file_size;
    if (!pd_io_get_size(img->io, &file_size, error))
        return false;
    /* validate the whole L1 before the first change */
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2 = l1[i] & QCOW2_L1E_OFFSET_MASK;
        if (l2 && !cluster_in_file(s, l2, file_size))
            return signal_corrupt(img, error,
                                  "L1 entry %u points to %#" G_GINT64_MODIFIER
                                  "x, misaligned or past the end of the file",
                                  i, l2);
    }
    g_autofree uint8_t *table = g_malloc(s->cluster_size);
    RefRun run = {.img = img, .delta = delta};
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2 = l1[i] & QCOW2_L1E_OFFSET_MASK;
        if (l2 && !walk_l2(img, &run, l2, file_size, table, clear_copied, error)) {
            GError *ignored = NULL;
            (void)run_flush(&run, &ignored);
            g_clear_error(&ignored);
            return false;
        }
    }
    return run_flush(&run, error);
}

/* Reads a snapshot's L1 table (host-endian), after checking its bounds again. */
static uint64_t *read_snapshot_l1(PdImage *img, const Qcow2Snapshot *sn, GError **error)
{
    uint64_t file_size;
    if (!pd_io_get_size(img->io, &file_size, error) || !snapshot_l1_ok(img, sn, file_size, error))
        return NULL;
    g_autofree uint64_t *l1 = g_new0(uint64_t, MAX(sn->l1_size, 1u));
    if (sn->l1_size &&
        !pd_io_pread_full(img->io, l1, (size_t)sn->l1_size * 8, sn->l1_table_offset, error))
        return NULL;
    for (uint32_t i = 0; i < sn->l1_size; i++)
        l1[i] = GUINT64_FROM_BE(l1[i]);
    return g_steal_pointer(&l1);
}

/* Makes the COPIED flags of the active L1 table and its L2 tables say exactly "refcount is
 * 1" (after a snapshot was applied or deleted). The L2 cache must be empty. */
static bool fix_copied_flags(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    g_autofree uint8_t *table = g_malloc(s->cluster_size);
    bool l1_dirty = false;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l2 = s->l1_table[i] & QCOW2_L1E_OFFSET_MASK;
        if (!l2)
            continue;
        uint64_t rc;
        if (!qcow2_get_refcount(img, l2 >> s->cluster_bits, &rc, error))
            return false;
        uint64_t want = rc == 1 ? (s->l1_table[i] | QCOW2_OFLAG_COPIED)
                                : (s->l1_table[i] & ~QCOW2_OFLAG_COPIED);
        if (want != s->l1_table[i]) {
            s->l1_table[i] = want;
            l1_dirty = true;
        }
        if (!pd_io_pread_full(img->io, table, s->cluster_size, l2, error))
            return false;
        bool dirty = false;
        for (uint64_t j = 0; j < s->l2_size; j++) {
            uint8_t *p = table + j * (uint64_t)s->l2_entry_size;
            uint64_t e = qcow2_get_be64(p);
            uint64_t offset = e & QCOW2_L2E_OFFSET_MASK;
            if ((e & QCOW2_OFLAG_COMPRESSED) || offset == 0)
                continue;
            if (!qcow2_get_refcount(img, offset >> s->cluster_bits, &rc, error))
                return false;
            uint64_t e2 = rc == 1 ? (e | QCOW2_OFLAG_COPIED) : (e & ~QCOW2_OFLAG_COPIED);
            if (e2 != e) {
                qcow2_put_be64(p, e2);
                dirty = true;
            }
        }
        if (dirty && !pd_io_pwrite_full(img->io, table, s->cluster_size, l2, error))
            return false;
    }
    if (l1_dirty && !qcow2_write_l1_entries(img, 0, s->l1_size, error))
        return false;
    return true;
}

/* ---- the operations --------------------------------------------------------------- */

/* Index of the snapshot with id @id_or_name, else with that name; -1 if none. */
static int find_snapshot(const Qcow2State *s, const char *id_or_name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        if (strcmp(s->snapshots[i].id_str, id_or_name) == 0)
            return (int)i;
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        if (strcmp(s->snapshots[i].name, id_or_name) == 0)
            return (int)i;
    return -1;
}

static int find_snapshot_or_error(PdImage *img, const char *id_or_name, GError **error)
{
    int idx = find_snapshot(qcow2_state(img), id_or_name);
    if (idx < 0)
        g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND,
                    "Image '%s' has no snapshot with id or name '%s' (list them with "
                    "snapshot -l)",
                    img->io->name, id_or_name);
    return idx;
}

/* Writes dirty L2 tables and forgets them (we read and write L2 tables directly here), and
 * makes the refcounts on disk current. */
static bool sync_caches(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    return qcow2_cache_empty(s->l2_cache, error) && qcow2_cache_flush(s->refcount_cache, error);
}

GArray *qcow2_snapshot_list(PdImage *img, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    GArray *list = g_array_sized_new(FALSE, TRUE, sizeof(PdSnapshotInfo), s->nb_snapshots);
    g_array_set_clear_func(list, (GDestroyNotify)pd_snapshot_info_clear);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        PdSnapshotInfo info = {
            .id = g_strdup(sn->id_str),
            .name = g_strdup(sn->name),
            .vm_state_size = sn->extra_data_size >= 8 ? sn->vm_state_size_large : sn->vm_state_size,
            .date_sec = sn->date_sec,
            .date_nsec = sn->date_nsec,
            .vm_clock_nsec = sn->vm_clock_nsec,
            .disk_size = sn->disk_size,
            .icount = sn->icount,
        };
        g_array_append_val(list, info);
    }
    return list;
}

/* The next free numeric id: one more than the largest, as qemu does. */
static char *new_snapshot_id(const Qcow2State *s)
{
    uint64_t max = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        char *end;
        uint64_t id = g_ascii_strtoull(s->snapshots[i].id_str, &end, 10);
        if (*end == '\0' && id > max && id < UINT32_MAX)
            max = id;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, max + 1);
}

/* Copies the active L1 table into new clusters; *ret_offset is where (0 for an empty L1). */
static bool copy_active_l1(PdImage *img, uint64_t *ret_offset, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    uint64_t bytes = (uint64_t)s->l1_size * 8, offset = 0;
    if (bytes > 0) {
        uint64_t clusters = qcow2_size_to_clusters(s, bytes);
        if (!qcow2_alloc_clusters(img, clusters, &offset, error) ||
            !qcow2_cache_flush(s->refcount_cache, error))
            return false;
        g_autofree uint64_t *copy = g_malloc0(clusters * s->cluster_size);
        for (uint32_t i = 0; i < s->l1_size; i++)
            copy[i] = GUINT64_TO_BE(s->l1_table[i] & ~QCOW2_OFLAG_COPIED);
        if (!pd_io_pwrite_full(img->io, copy, clusters * s->cluster_size, offset, error) ||
            !pd_io_flush(img->io, error))
            return false;
    }
    *ret_offset = offset;
    return true;
}

bool qcow2_snapshot_create(PdImage *img, const char *name, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    if (!name || !*name || strlen(name) > UINT16_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Image '%s': a snapshot name must have 1 to 65535 bytes", img->io->name);
        return false;
    }
    if (find_snapshot(s, name) >= 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                    "Image '%s' already has a snapshot with id or name '%s'", img->io->name, name);
        return false;
    }
    if (s->nb_snapshots >= QCOW2_MAX_SNAPSHOTS) {
        g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                    "Image '%s' already has %d snapshots, the most qcow2 allows", img->io->name,
                    QCOW2_MAX_SNAPSHOTS);
        return false;
    }
    if (s->refcount_max < 2) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': refcount_bits=1 cannot hold internal snapshots", img->io->name);
        return false;
    }
    uint64_t old_offset = s->header.snapshots_offset, old_size = table_size(s);

    /* 1. every cluster the active L1 reaches gets one more reference; COPIED flags go */
    if (!sync_caches(img, error) || !walk_l1(img, s->l1_table, s->l1_size, 1, true, error) ||
        !qcow2_cache_flush(s->refcount_cache, error))
        return false;
    bool l1_changed = false;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        if (s->l1_table[i] & QCOW2_OFLAG_COPIED) {
            s->l1_table[i] &= ~QCOW2_OFLAG_COPIED;
            l1_changed = true;
        }
    }
    if ((l1_changed && !qcow2_write_l1_entries(img, 0, s->l1_size, error)) ||
        !pd_io_flush(img->io, error))
        return false;

    /* 2. the snapshot's own L1 copy */
    uint64_t l1_offset;
    if (!copy_active_l1(img, &l1_offset, error))
        return false;

    /* 3. the table, then the header */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    Qcow2Snapshot sn = {
        .l1_table_offset = l1_offset,
        .l1_size = s->l1_size,
        .id_str = new_snapshot_id(s),
        .name = g_strdup(name),
        .date_sec = (uint32_t)now.tv_sec,
        .date_nsec = (uint32_t)now.tv_nsec,
        .disk_size = img->size,
        .icount = 0, /* what qemu-img writes outside record/replay */
        .extra_data_size = SN_EXTRA_KNOWN,
    };
    s->snapshots = g_renew(Qcow2Snapshot, s->snapshots, s->nb_snapshots + 1);
    s->snapshots[s->nb_snapshots++] = sn;
    if (!write_snapshot_table(img, old_offset, old_size, error)) {
        snapshot_clear(&s->snapshots[--s->nb_snapshots]);
        return false;
    }
    return true;
}

bool qcow2_snapshot_apply(PdImage *img, const char *id_or_name, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    int idx = find_snapshot_or_error(img, id_or_name, error);
    if (idx < 0)
        return false;
    const Qcow2Snapshot *sn = &s->snapshots[idx];
    g_autofree uint64_t *sn_l1 = read_snapshot_l1(img, sn, error);
    /* the guest data changes under persistent bitmaps: they become inconsistent, as with a
     * write (qemu refuses instead while a bitmap is active) */
    if (!sn_l1 || !qcow2_mark_bitmaps_in_use(img, error) || !sync_caches(img, error))
        return false;
    if (sn->l1_size > s->l1_size && !qcow2_grow_l1_table(img, sn->l1_size, error))
        return false;

    /* 1. the snapshot's clusters get the references of the new active table */
    if (!walk_l1(img, sn_l1, sn->l1_size, 1, false, error) ||
        !qcow2_cache_flush(s->refcount_cache, error))
        return false;

    /* 2. the active L1 becomes the snapshot's */
    g_autofree uint64_t *old_l1 = g_memdup2(s->l1_table, (size_t)MAX(s->l1_size, 1u) * 8);
    uint32_t old_size = s->l1_size;
    for (uint32_t i = 0; i < s->l1_size; i++)
        s->l1_table[i] = i < sn->l1_size ? (sn_l1[i] & ~QCOW2_OFLAG_COPIED) : 0;
    if (!qcow2_write_l1_entries(img, 0, s->l1_size, error)) {
        memcpy(s->l1_table, old_l1, (size_t)old_size * 8);
        return false;
    }

    /* 3. the old active tree loses its references; flags follow the new refcounts */
    if (!walk_l1(img, old_l1, old_size, -1, false, error) ||
        !qcow2_cache_flush(s->refcount_cache, error) || !fix_copied_flags(img, error))
        return false;

    /* 4. the virtual size of the snapshot */
    if (sn->disk_size != img->size) {
        uint64_t saved = s->header.size;
        s->header.size = sn->disk_size;
        if (!qcow2_update_header(img, error)) {
            s->header.size = saved;
            return false;
        }
        img->size = sn->disk_size;
    }
    return qcow2_cache_flush(s->refcount_cache, error) && pd_io_flush(img->io, error);
}

bool qcow2_snapshot_delete(PdImage *img, const char *id_or_name, GError **error)
{
    Qcow2State *s = qcow2_state(img);
    int idx = find_snapshot_or_error(img, id_or_name, error);
    if (idx < 0)
        return false;
    g_autofree uint64_t *sn_l1 = read_snapshot_l1(img, &s->snapshots[idx], error);
    if (!sn_l1 || !sync_caches(img, error))
        return false;

    /* 1. the table without it */
    uint64_t old_offset = s->header.snapshots_offset, old_size = table_size(s);
    Qcow2Snapshot removed = s->snapshots[idx];
    memmove(&s->snapshots[idx], &s->snapshots[idx + 1],
            (s->nb_snapshots - (uint32_t)idx - 1) * sizeof(Qcow2Snapshot));
    s->nb_snapshots--;
    if (!write_snapshot_table(img, old_offset, old_size, error)) {
        s->snapshots = g_renew(Qcow2Snapshot, s->snapshots, s->nb_snapshots + 1);
        memmove(&s->snapshots[idx + 1], &s->snapshots[idx],
                (s->nb_snapshots - (uint32_t)idx) * sizeof(Qcow2Snapshot));
        s->snapshots[idx] = removed;
        s->nb_snapshots++;
        return false;
    }

    /* 2. then its references: the tree, its L1 table */
    bool ok = walk_l1(img, sn_l1, removed.l1_size, -1, false, error);
    if (ok && removed.l1_size)
        ok = qcow2_free_clusters(
            img, removed.l1_table_offset,
            qcow2_size_to_clusters(s, (uint64_t)removed.l1_size * 8) * s->cluster_size, error);
    snapshot_clear(&removed);
    /* 3. clusters now owned by the active image alone may be written in place again */
    return ok && qcow2_cache_flush(s->refcount_cache, error) && fix_copied_flags(img, error) &&
           qcow2_cache_flush(s->refcount_cache, error) && pd_io_flush(img->io, error);
}
