/* The one implementation of a pool made of files (file-ns.h), over a namespace: a local
 * directory (pool-ns-posix.c) or an NFS export (pool-netfs-nfs.c).
 *
 * Volumes are built under a hidden ".NAME.partial-PID-N" name, with their permissions set
 * before any data goes in, and renamed into place (never over an existing file) only when
 * complete; refresh skips those names and cleanup_partial removes those of other processes.
 * The image-level work (plans, copies, resize, wipe, snapshots) is pool-image.c's, the
 * transfers pool-util.c's. */
#include "pools/file-ns.h"

#include "common/pd-error.h"
#include "pools/pool-image.h"
#include "pools/pool-util.h"

#include <string.h>

/* A session, closed at the end of the scope it is declared in. */
typedef struct {
    const PdFileNsOps *ops;
    PdFileNs *ns;
} Session;

static void session_clear(Session *s)
{
    if (s->ns)
        s->ops->close(s->ns);
    s->ns = NULL;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Session, session_clear)

static bool session_open(Session *s, const PdFileNsOps *ops, const PdPool *pool,
                         const char *vol_name, GError **error)
{
    s->ops = ops;
    s->ns = ops->open(pool, vol_name, error);
    return s->ns != NULL;
}

/* ---- reading volumes -------------------------------------------------------------------- */

/* The engine's format for a recorded format name: UNKNOWN for NULL (probe) and for formats the
 * engine does not read (*ret_readable false: listed from stat only). */
static PdFormat engine_format(const char *format, bool *ret_readable)
{
    PdFormat f = format ? pd_format_from_name(format) : PD_FORMAT_UNKNOWN;
    *ret_readable = !format || f != PD_FORMAT_UNKNOWN;
    return f;
}

static bool same_identity(const PdVol *prev, const struct stat *st)
{
    return prev->stat_size == (uint64_t)st->st_size && prev->stat_inode == (uint64_t)st->st_ino &&
           prev->stat_mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The stat-derived fields of @vol, with its type as the namespace says it. */
static void set_stat(const PdFileNsOps *ops, PdVol *vol, const struct stat *st)
{
    pd_pool_util_vol_set_stat(vol, st);
    if (ops->network)
        vol->type = PD_VOL_NETWORK;
}

/* Counters of one scan (PdPoolRefresh fields). */
typedef struct {
    unsigned reopened;
    unsigned probed;
} ScanStats;

/* Whether @prev can be shared as it is for file @name with @st: same place, same stat identity,
 * a recorded format, and every field stat sets equal. */
static bool unchanged(const PdFileNsOps *ops, const PdPool *pool, const char *name,
                      const struct stat *st, const PdVol *prev)
{
    if (!ops->same_place(pool, prev, name))
        return false;
    PdVol probe;
    memcpy(&probe, prev, sizeof(probe));
    set_stat(ops, &probe, st);
    probe.capacity = prev->capacity;
    return memcmp(&probe, prev, sizeof(probe)) == 0;
}

/* Reads what the image of file @name says into @vol (header only) and, for a block device, its
 * size. False with @error only when the namespace did not answer (a timeout must not turn into
 * a list of unreadable volumes); a file the engine cannot open is listed with what stat says
 * (as libvirt lists what it cannot read). */
static bool read_image(const PdFileNsOps *ops, PdFileNs *ns, const PdPool *pool, const char *name,
                       const struct stat *st, PdVol *vol, ScanStats *stats, GError **error)
{
    bool readable;
    PdFormat format = engine_format(vol->format, &readable);
    stats->reopened++;
    stats->probed += vol->format == NULL;
    if (!readable && !S_ISBLK(st->st_mode))
        return true;
    g_autoptr(GError) local = NULL;
    g_autoptr(PdIO) io = ops->open_file(ns, name, PD_IO_RDONLY, &local);
    uint64_t size;
    if (io && S_ISBLK(st->st_mode))
        vol->capacity = vol->physical = pd_io_get_size(io, &size, NULL) ? size : 0;
    PdImageInfo info;
    if (io && readable && pd_image_read_info_io(g_steal_pointer(&io), format, &info, &local)) {
        pd_pool_util_vol_set_info(vol, &info);
        pd_image_info_clear(&info);
    }
    if (local && strstr(local->message, "timed out")) {
        g_propagate_error(error, g_steal_pointer(&local));
        pd_pool_util_prefix_error(error, pool, name);
        return false;
    }
    return true;
}

/* The volume for file @name with @st. Reuses @prev (may be NULL) without opening the file when
 * its identity and recorded format say nothing changed and !@force (shared as it is when
 * nothing at all changed: the common case in a large pool); else reads the image with the
 * recorded format (probing only without one; a file replaced under the same name keeps the
 * recorded format too). Block devices are always re-read: their size changes without their
 * inode or mtime changing. NULL with @error only as read_image says. */
static PdVol *scan_volume(const PdFileNsOps *ops, PdFileNs *ns, const PdPool *pool,
                          const char *name, const struct stat *st, const PdVol *prev, bool force,
                          ScanStats *stats, GError **error)
{
    bool same = prev && prev->format && !force && S_ISREG(st->st_mode) && same_identity(prev, st);
    if (same && unchanged(ops, pool, name, st, prev))
        return pd_vol_ref(prev);
    g_autoptr(PdVol) vol = prev ? pd_vol_copy(prev) : pd_vol_new();
    uint64_t kept_capacity = vol->capacity;
    g_free(vol->name);
    vol->name = g_strdup(name);
    g_clear_pointer(&vol->key, g_free);
    g_clear_pointer(&vol->path, g_free);
    ops->identify(pool, name, vol);
    set_stat(ops, vol, st);
    if (same) {
        vol->capacity = kept_capacity;
        return g_steal_pointer(&vol);
    }
    /* what the image said last time is stale now */
    g_clear_pointer(&vol->backing_path, g_free);
    g_clear_pointer(&vol->backing_format, g_free);
    g_clear_pointer(&vol->compat, g_free);
    vol->cluster_size = 0;
    vol->lazy_refcounts = false;
    if (!read_image(ops, ns, pool, name, st, vol, stats, error))
        return NULL;
    return g_steal_pointer(&vol);
}

/* What one refresh scan carries through the listing. */
typedef struct {
    const PdFileNsOps *ops;
    PdFileNs *ns;
    const PdPool *pool;
    GHashTable *index; /* name -> PdVol of the previous catalog */
    GPtrArray *volumes;
    ScanStats stats;
} Scan;

static bool scan_entry(const char *name, const struct stat *st, void *data, GError **error)
{
    Scan *s = data;
    if (!pd_pool_util_is_volume_file_name(name) || !(S_ISREG(st->st_mode) || S_ISBLK(st->st_mode)))
        return true;
    PdVol *vol = scan_volume(s->ops, s->ns, s->pool, name, st, g_hash_table_lookup(s->index, name),
                             false, &s->stats, error);
    if (vol)
        g_ptr_array_add(s->volumes, vol);
    return vol != NULL;
}

bool pd_file_pool_refresh(const PdFileNsOps *ops, const PdPool *pool, const GPtrArray *previous,
                          PdPoolRefresh *ret, GError **error)
{
    g_auto(Session) s = {0};
    if (!session_open(&s, ops, pool, NULL, error))
        return false;
    if (ops->tidy)
        ops->tidy(s.ns);
    PdPoolRefresh r = {0};
    if (!ops->statvfs(s.ns, &r.capacity, &r.allocation, &r.available, error))
        return false;
    g_autoptr(GHashTable) index = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; previous && i < previous->len; i++) {
        PdVol *v = g_ptr_array_index((GPtrArray *)previous, i);
        g_hash_table_insert(index, v->name, v);
    }
    Scan scan = {.ops = ops, .ns = s.ns, .pool = pool, .index = index};
    scan.volumes = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    if (!ops->list(s.ns, scan_entry, &scan, error)) {
        g_ptr_array_unref(scan.volumes);
        return false;
    }
    g_ptr_array_sort(scan.volumes, pd_vol_compare_name);
    r.volumes = scan.volumes;
    r.n_volumes = r.volumes->len;
    r.n_reopened = scan.stats.reopened;
    r.n_probed = scan.stats.probed;
    *ret = r;
    return true;
}

/* What cleanup_partial carries through the listing. */
typedef struct {
    const PdFileNsOps *ops;
    PdFileNs *ns;
    unsigned removed;
    GError *failed; /* the first failure; the others are tried still */
} Cleanup;

static bool cleanup_entry(const char *name, const struct stat *st, void *data, GError **error)
{
    Cleanup *c = data;
    (void)st;
    if (!pd_pool_util_is_partial_name(name) || pd_io_partial_is_ours(name))
        return true;
    GError *local = NULL;
    if (c->ops->unlink(c->ns, name, &local))
        c->removed++;
    else if (!g_error_matches(local, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME) && !c->failed)
        c->failed = g_steal_pointer(&local);
    g_clear_error(&local);
    return true;
}

bool pd_file_pool_cleanup_partial(const PdFileNsOps *ops, const PdPool *pool, unsigned *ret_removed,
                                  GError **error)
{
    g_auto(Session) s = {0};
    if (!session_open(&s, ops, pool, NULL, error))
        return false;
    if (ops->tidy)
        ops->tidy(s.ns);
    Cleanup c = {.ops = ops, .ns = s.ns};
    if (!ops->list(s.ns, cleanup_entry, &c, error)) {
        g_clear_error(&c.failed);
        return false;
    }
    if (c.failed) {
        g_propagate_error(error, c.failed);
        g_prefix_error(error, "cannot remove a leftover partial file: ");
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    if (ret_removed)
        *ret_removed = c.removed;
    return true;
}

/* Stats volume @name and reads its image (always reopened); @prev supplies the recorded format
 * (NULL: probe). */
static PdVol *read_volume(const PdFileNsOps *ops, PdFileNs *ns, const PdPool *pool,
                          const char *name, const PdVol *prev, GError **error)
{
    struct stat st;
    if (!ops->stat(ns, name, &st, error))
        return NULL;
    ScanStats stats = {0};
    return scan_volume(ops, ns, pool, name, &st, prev, true, &stats, error);
}

bool pd_file_pool_vol_refresh(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                              PdVol **ret_vol, GError **error)
{
    g_auto(Session) s = {0};
    PdVol *v = session_open(&s, ops, pool, vol->name, error)
                   ? read_volume(ops, s.ns, pool, vol->name, vol, error)
                   : NULL;
    if (!v)
        return false;
    *ret_vol = v;
    return true;
}

PdImage *pd_file_pool_vol_open(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                               unsigned flags, GError **error)
{
    PdFormat format;
    g_auto(Session) s = {0};
    if (!pd_pool_image_vol_format(pool, vol, &format, error) ||
        !session_open(&s, ops, pool, vol->name, error))
        return NULL;
    /* the image holds what it needs of the session (a descriptor, a connection reference) */
    PdIO *io =
        ops->open_file(s.ns, vol->name, (flags & PD_OPEN_RDWR) ? PD_IO_RDWR : PD_IO_RDONLY, error);
    PdImage *img = io ? pd_image_open_io(io, format, flags, error) : NULL;
    if (!img)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return img;
}

/* ---- creating ------------------------------------------------------------------------------ */

/* A volume being built: the session, and the hidden partial name until it is committed (the
 * clear discards the partial file then). */
typedef struct {
    const PdFileNsOps *ops;
    PdFileNs *ns;
    const PdPool *pool;
    const char *name; /* the volume's, not owned */
    char *tmp;
} NewFile;

static void new_file_clear(NewFile *nf)
{
    if (nf->tmp)
        nf->ops->discard(nf->ns, nf->tmp);
    g_clear_pointer(&nf->tmp, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NewFile, new_file_clear)

/* Refuses an invalid name (pd_pool_util_check_vol_name) and a name taken by anything. */
static bool check_name_free(const NewFile *nf, GError **error)
{
    if (!pd_pool_util_check_vol_name(nf->pool, nf->name, error))
        return false;
    int r = nf->ops->exists(nf->ns, nf->name, error);
    if (r > 0) {
        g_autoptr(PdVol) v = pd_vol_new();
        nf->ops->identify(nf->pool, nf->name, v);
        pd_pool_util_error(error, nf->pool, nf->name, PD_ERROR_EXISTS, "'%s' already exists",
                           v->key);
    }
    return r == 0;
}

/* Checks the name and creates the empty partial file with @def's permissions: the store over
 * it, NULL with @error. */
static PdIO *new_file_begin(NewFile *nf, const PdVolDef *def, GError **error)
{
    if (!check_name_free(nf, error))
        return NULL;
    g_autofree char *tmp = pd_io_partial_name(def->name);
    PdIO *io = nf->ops->create(nf->ns, tmp, def, error);
    if (io)
        nf->tmp = g_steal_pointer(&tmp);
    return io;
}

/* Renames the complete partial file into place (never over an existing file) and makes that
 * durable before the daemon's reply says done (unless @no_sync: then the daemon's later sync
 * callback does, group commit). On failure the name is free again. */
static bool new_file_commit(NewFile *nf, bool no_sync, GError **error)
{
    if (!nf->ops->rename_noreplace(nf->ns, nf->tmp, nf->name, error))
        return false;
    g_clear_pointer(&nf->tmp, g_free); /* committed: nothing to discard any more */
    if (no_sync || !nf->ops->sync || nf->ops->sync(nf->ns, error))
        return true;
    (void)nf->ops->unlink(nf->ns, nf->name, NULL);
    return false;
}

/* What fills a new volume's partial file: a fresh image per @plan, or a copy of @src (@src_vol
 * of @src_pool) with @flags (PD_VOL_CREATE_REFLINK). */
typedef struct {
    const PdCreatePlan *plan;
    PdImage *src;
    const PdPool *src_pool;
    const PdVol *src_vol;
    unsigned flags;
} Filling;

/* Grows a reflinked copy in @io (taken) to @capacity (a bigger clone than its source). */
static bool grow_copy(PdIO *io, PdFormat format, uint64_t capacity, GError **error)
{
    g_autoptr(PdImage) img = pd_image_open_io(io, format, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    return img && pd_image_resize(img, capacity, PD_PREALLOC_OFF, false, error) &&
           pd_image_flush(img, error);
}

/* Fills @io (taken) with a copy of the source: reflink when allowed and possible, else the
 * convert engine. */
static bool clone_into(const NewFile *nf, PdIO *io, const Filling *fill, const PdBackendJob *job,
                       GError **error)
{
    const PdCreatePlan *plan = fill->plan;
    bool can_reflink = nf->ops->reflink && pd_image_format(fill->src) == plan->opts.format &&
                       !pd_image_backing(fill->src);
    int r = can_reflink ? nf->ops->reflink(nf->ns, io, fill->src_pool, fill->src_vol, error) : 0;
    if (r == 0 && (fill->flags & PD_VOL_CREATE_REFLINK)) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "cannot reflink '%s' here (%s); clone without --reflink to copy it",
                    fill->src_vol->name,
                    can_reflink ? "the filesystem does not share extents"
                                : "formats differ or the source has a backing file");
        r = -1;
    }
    if (r == 0)
        return pd_pool_image_copy_into(fill->src, io, plan, job, error);
    if (r < 0) {
        pd_io_close(io);
        return false;
    }
    uint64_t src_size = pd_image_size(fill->src);
    pd_pool_util_progress(job, src_size, src_size);
    if (plan->opts.size > src_size)
        return grow_copy(io, plan->opts.format, plan->opts.size, error);
    pd_io_close(io);
    return true;
}

/* Fills @io (taken) per @fill. */
static bool fill_partial(const NewFile *nf, PdIO *io, const Filling *fill, const PdBackendJob *job,
                         GError **error)
{
    if (fill->src)
        return clone_into(nf, io, fill, job, error);
    bool ok = pd_pool_image_write_new(io, fill->plan, error);
    pd_io_close(io);
    return ok;
}

/* Builds volume @def on session @ns: partial file with permissions, filled per @fill, renamed
 * into place, read back. @no_sync: group commit. On failure nothing is left. */
static bool create_volume(const PdFileNsOps *ops, PdFileNs *ns, const PdPool *pool,
                          const PdVolDef *def, const Filling *fill, bool no_sync,
                          const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    g_auto(NewFile) nf = {.ops = ops, .ns = ns, .pool = pool, .name = def->name};
    PdIO *io = NULL;
    bool ok = pd_pool_util_check_cancel(job, pool, def->name, error) &&
              (io = new_file_begin(&nf, def, error)) && fill_partial(&nf, io, fill, job, error) &&
              pd_pool_util_check_cancel(job, pool, def->name, error) &&
              new_file_commit(&nf, no_sync, error);
    if (!ok) {
        pd_pool_util_prefix_error(error, pool, def->name);
        return false;
    }
    g_autoptr(PdVol) prev = pd_vol_new();
    prev->format = g_strdup(pd_format_name(fill->plan->opts.format));
    PdVol *vol = read_volume(ops, ns, pool, def->name, prev, error);
    if (!vol)
        return false;
    if (!fill->src) /* a copy reported its own progress: bytes of guest data */
        pd_pool_util_progress(job, vol->capacity, vol->capacity);
    *ret_vol = vol;
    return true;
}

/* Refuses PD_VOL_CREATE_REFLINK where the namespace cannot share extents at all. */
static bool check_reflink(const PdFileNsOps *ops, const PdPool *pool, const PdVolDef *def,
                          unsigned flags, GError **error)
{
    if (!(flags & PD_VOL_CREATE_REFLINK) || ops->reflink)
        return true;
    pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                       "%s; clone without --reflink to copy", ops->no_reflink);
    return false;
}

bool pd_file_pool_vol_create(const PdFileNsOps *ops, const PdPool *pool, const PdVolDef *def,
                             unsigned flags, const PdBackendJob *job, PdVol **ret_vol,
                             GError **error)
{
    g_auto(Session) s = {0};
    if (!check_reflink(ops, pool, def, flags, error) ||
        !session_open(&s, ops, pool, def->name, error))
        return false;
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_create(pool, def, flags, ops->probe_backing, s.ns, &plan, error);
    if (ok && plan.backing_file && ops->backing_name) {
        char *name = ops->backing_name(pool, plan.backing_file, error);
        g_free(plan.backing_file);
        plan.opts.backing_file = plan.backing_file = name;
        ok = name != NULL;
        if (!ok)
            pd_pool_util_prefix_error(error, pool, def->name);
    }
    Filling fill = {.plan = &plan};
    ok = ok && create_volume(ops, s.ns, pool, def, &fill, flags & PD_VOL_CREATE_NO_SYNC, job,
                             ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* A linked clone: a qcow2 overlay whose backing file is @src_vol. */
static bool create_linked(const PdFileNsOps *ops, const PdPool *pool, const PdVolDef *def,
                          const PdPool *src_pool, const PdVol *src_vol, const PdBackendJob *job,
                          PdVol **ret_vol, GError **error)
{
    g_autofree char *backing = ops->linked_backing(pool, src_pool, src_vol, error);
    g_auto(Session) s = {0};
    if (!backing || !session_open(&s, ops, pool, def->name, error))
        return false;
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_linked(pool, def, backing, src_vol->format, &plan, error);
    Filling fill = {.plan = &plan};
    ok = ok && create_volume(ops, s.ns, pool, def, &fill, false, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

bool pd_file_pool_vol_create_from(const PdFileNsOps *ops, const PdPool *pool, const PdVolDef *def,
                                  const PdPool *src_pool, const PdVol *src_vol, unsigned flags,
                                  const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    if (flags & PD_VOL_CREATE_LINKED)
        return create_linked(ops, pool, def, src_pool, src_vol, job, ret_vol, error);
    if (!check_reflink(ops, pool, def, flags, error))
        return false;
    const PdPoolBackend *src_be = pd_pool_backend_for_def(src_pool->def, error);
    if (!src_be)
        return false;
    g_autoptr(PdImage) src =
        pd_pool_backend_vol_open(src_be, src_pool, src_vol, PD_OPEN_RDONLY, error);
    g_auto(Session) s = {0};
    if (!src || !session_open(&s, ops, pool, def->name, error))
        return false;
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_clone(pool, def, src, &plan, error);
    Filling fill = {
        .plan = &plan, .src = src, .src_pool = src_pool, .src_vol = src_vol, .flags = flags};
    ok = ok && create_volume(ops, s.ns, pool, def, &fill, false, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* ---- delete, resize, wipe ---------------------------------------------------------------------- */

bool pd_file_pool_vol_delete(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                             unsigned flags, GError **error)
{
    g_auto(Session) s = {0};
    if (!session_open(&s, ops, pool, vol->name, error) || !ops->unlink(s.ns, vol->name, error))
        return false;
    /* best effort: the volume is gone either way; a crash may bring the name back, and the next
     * refresh then lists it again */
    if (!(flags & PD_VOL_DELETE_NO_SYNC) && ops->sync) /* else the sync callback: group commit */
        (void)ops->sync(s.ns, NULL);
    return true;
}

bool pd_file_pool_vol_resize(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                             uint64_t capacity, unsigned flags, const PdBackendJob *job,
                             PdVol **ret_vol, GError **error)
{
    if (vol->type == PD_VOL_BLOCK) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "a block device in a dir pool cannot be resized by poold");
        return false;
    }
    /* the backing chain is opened too: a shrink must not cut what the guest reads from it */
    g_autoptr(PdImage) img = pd_file_pool_vol_open(ops, pool, vol, PD_OPEN_RDWR, error);
    if (!img || !pd_pool_image_resize(pool, vol, img, capacity, flags, job, error) ||
        !pd_pool_image_close(g_steal_pointer(&img), pool, vol, error))
        return false;
    return !ret_vol || pd_file_pool_vol_refresh(ops, pool, vol, ret_vol, error);
}

bool pd_file_pool_vol_wipe(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                           PdWipeAlgorithm algorithm, unsigned flags, const PdBackendJob *job,
                           GError **error)
{
    g_autoptr(PdImage) img =
        pd_file_pool_vol_open(ops, pool, vol, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    return img && pd_pool_image_wipe(pool, vol, img, algorithm, job, error) &&
           pd_pool_image_close(g_steal_pointer(&img), pool, vol, error);
}

/* ---- upload, download ----------------------------------------------------------------------- */

/* The volume's file as a store, on a session of its own. */
static PdIO *open_volume_io(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                            PdIOFlags flags, GError **error)
{
    g_auto(Session) s = {0};
    PdIO *io = session_open(&s, ops, pool, vol->name, error)
                   ? ops->open_file(s.ns, vol->name, flags, error)
                   : NULL;
    if (!io)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return io;
}

bool pd_file_pool_vol_upload(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol, int fd,
                             uint64_t offset, uint64_t length, unsigned flags,
                             const PdBackendJob *job, GError **error)
{
    g_autoptr(PdIO) io = open_volume_io(ops, pool, vol, PD_IO_RDWR, error);
    return io && pd_pool_util_upload_io(pool, vol, io, io->fixed_size, fd, offset, length, flags,
                                        job, error);
}

bool pd_file_pool_vol_download(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol, int fd,
                               uint64_t offset, uint64_t length, unsigned flags,
                               const PdBackendJob *job, GError **error)
{
    g_autoptr(PdIO) io = open_volume_io(ops, pool, vol, PD_IO_RDONLY, error);
    return io && pd_pool_util_download_io(pool, vol, io, fd, offset, length, flags, job, error);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/* Opens a qcow2 volume for its snapshots; PD_ERROR_UNSUPPORTED naming the format otherwise. */
static PdImage *open_for_snapshots(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                   unsigned flags, GError **error)
{
    if (!pd_pool_image_check_snapshots(pool, vol, error))
        return NULL;
    return pd_file_pool_vol_open(ops, pool, vol, flags | PD_OPEN_NO_BACKING, error);
}

bool pd_file_pool_vol_snapshot_list(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                    GArray **ret_snapshots, GError **error)
{
    g_autoptr(PdImage) img = open_for_snapshots(ops, pool, vol, PD_OPEN_RDONLY, error);
    if (!img)
        return false;
    GArray *list = pd_image_snapshot_list(img, error);
    if (!list) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    *ret_snapshots = list;
    return true;
}

typedef bool (*SnapshotOp)(PdImage *img, const char *name, GError **error);

/* Runs a snapshot operation that changes the image and flushes it. */
static bool snapshot_change(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                            const char *name, SnapshotOp op, GError **error)
{
    g_autoptr(PdImage) img = open_for_snapshots(ops, pool, vol, PD_OPEN_RDWR, error);
    if (!img)
        return false;
    if (!op(img, name, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return pd_pool_image_close(g_steal_pointer(&img), pool, vol, error);
}

bool pd_file_pool_vol_snapshot_create(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                      const char *name, GError **error)
{
    return snapshot_change(ops, pool, vol, name, pd_image_snapshot_create, error);
}

bool pd_file_pool_vol_snapshot_revert(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                      const char *name, GError **error)
{
    return snapshot_change(ops, pool, vol, name, pd_image_snapshot_apply, error);
}

bool pd_file_pool_vol_snapshot_delete(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                      const char *name, GError **error)
{
    return snapshot_change(ops, pool, vol, name, pd_image_snapshot_delete, error);
}
