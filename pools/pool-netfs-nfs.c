/* The netfs backend in userspace mode (qemu's way): poold speaks NFSv3 to the server itself
 * through libnfs (formats/io-nfs.h); nothing is mounted and the pool's target path is not used.
 * Volumes are the regular files at the top of the export, with no local path: their key is
 * "nfs://HOST/EXPORT/NAME" and a domain reaches them as <disk type='network'><source
 * protocol='nfs' name='EXPORT/NAME'>.
 *
 * Every call opens its own connection to the server (a MOUNT and a few RPCs: milliseconds on a
 * LAN) and closes it at the end: volume jobs of one pool do not queue behind each other, and a
 * server that was restarted or frozen in between costs nothing afterwards. Every RPC has the
 * pool's timeout (<poold:netfs timeout=>, default 10 s): a dead or frozen server makes the call
 * fail with an error naming the pool and the server, never block the daemon's worker for good.
 *
 * As in the dir pool, volumes are built under a hidden ".NAME.partial-PID-N" name and renamed
 * into place when complete; the image-level work (plans, copies, resize, wipe) is
 * pool-image.c's, the transfers pool-util.c's. NFSv3 has no rename that refuses to replace:
 * the name is checked just before the rename (the daemon serialises creates of one name). */
#include "common/pd-error.h"
#include "formats/io/nfs/io-nfs.h"
#include "pools/backend.h"
#include "pools/pool-image.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_VOL_MODE 0600 /* libvirt's VIR_STORAGE_DEFAULT_VOL_PERM_MODE */

/* backend_data between start and stop: where the export is. */
typedef struct {
    char *server;
    char *export;
    unsigned nfs_port;
    unsigned timeout_ms;
    PdNfsHealth *health; /* shared by the pool's connections: see io-nfs.h */
    /* Partial files a failed create could not remove (the server stopped answering): removed
     * by the next refresh or cleanup_partial. Volume calls run on several threads: the mutex
     * guards the list. */
    GMutex lock;
    GPtrArray *orphans; /* char * */
} NfsPool;

static NfsPool *nfs_pool_new(void)
{
    NfsPool *p = g_new0(NfsPool, 1);
    g_mutex_init(&p->lock);
    p->orphans = g_ptr_array_new_with_free_func(g_free);
    p->health = pd_nfs_health_new();
    return p;
}

static void nfs_pool_free(NfsPool *p)
{
    if (!p)
        return;
    g_free(p->server);
    g_free(p->export);
    g_mutex_clear(&p->lock);
    g_ptr_array_unref(p->orphans);
    pd_nfs_health_unref(p->health);
    g_free(p);
}

/* Remembers the partial file @name, which could not be removed. */
static void add_orphan(const PdPool *pool, const char *name)
{
    NfsPool *p = pool->backend_data;
    g_mutex_lock(&p->lock);
    g_ptr_array_add(p->orphans, g_strdup(name));
    g_mutex_unlock(&p->lock);
}

/* Removes the remembered partial files that are still there; keeps those it cannot. The
 * list is not locked while the server is asked (that may take a timeout). */
static void remove_orphans(const PdPool *pool, PdNfsConn *conn)
{
    NfsPool *p = pool->backend_data;
    g_mutex_lock(&p->lock);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < p->orphans->len; i++)
        g_ptr_array_add(names, g_strdup(p->orphans->pdata[i]));
    g_mutex_unlock(&p->lock);
    for (guint i = 0; i < names->len; i++) {
        g_autoptr(GError) error = NULL;
        const char *name = names->pdata[i];
        if (!pd_nfs_unlink(conn, name, &error) &&
            !g_error_matches(error, PD_ERROR, PD_ERROR_NOT_FOUND))
            continue;
        g_mutex_lock(&p->lock);
        for (guint j = 0; j < p->orphans->len; j++) {
            if (g_str_equal(p->orphans->pdata[j], name)) {
                g_ptr_array_remove_index(p->orphans, j);
                break;
            }
        }
        g_mutex_unlock(&p->lock);
    }
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NfsPool, nfs_pool_free)

/* ---- connections --------------------------------------------------------------------------- */

static unsigned pool_timeout_ms(const PdPoolDef *def)
{
    return def->netfs_timeout ? def->netfs_timeout * 1000 : PD_NFS_DEFAULT_TIMEOUT_MS;
}

/* Checks that @def is something this backend can reach: NFS (format auto or nfs), version 3. */
static bool check_def(const PdPool *pool, GError **error)
{
    const PdPoolSource *src = &pool->def->source;
    if (src->format && strcmp(src->format, "auto") != 0 && strcmp(src->format, "nfs") != 0) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                           "source format '%s' needs netfs mode mount (userspace mode speaks NFS "
                           "only)",
                           src->format);
        return false;
    }
    if (src->protocol_ver && src->protocol_ver != 3) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                           "NFS version %u is not available in userspace mode (it speaks NFSv3; "
                           "use protocol ver 3 or netfs mode mount)",
                           src->protocol_ver);
        return false;
    }
    return true;
}

/* A connection to @pool's export (the pool must be started). NULL with an error naming the
 * pool (and @vol_name when not NULL) and the server. */
static PdNfsConn *pool_connect(const PdPool *pool, const char *vol_name, GError **error)
{
    const NfsPool *p = pool->backend_data;
    if (!p) {
        pd_pool_util_error(error, pool, vol_name, PD_ERROR_INVALID_STATE,
                           "the pool is not started");
        return NULL;
    }
    PdNfsTarget t = {
        .server = p->server,
        .export = p->export,
        .nfs_port = p->nfs_port,
        .timeout_ms = p->timeout_ms,
        .health = p->health,
    };
    PdNfsConn *conn = pd_nfs_connect(&t, error);
    if (!conn)
        pd_pool_util_prefix_error(error, pool, vol_name);
    return conn;
}

/* ---- start, stop, delete ---------------------------------------------------------------------- */

static bool nfs_start(PdPool *pool, GError **error)
{
    if (!check_def(pool, error))
        return false;
    g_autoptr(NfsPool) p = nfs_pool_new();
    p->server = g_strdup(pool->def->source.host_name);
    p->export = g_strdup(pool->def->source.dir);
    p->nfs_port = pool->def->source.host_port;
    p->timeout_ms = pool_timeout_ms(pool->def);
    pool->backend_data = p;
    g_autoptr(PdNfsConn) conn = pool_connect(pool, NULL, error);
    pool->backend_data = NULL;
    if (!conn)
        return false;
    PdNfsStat st;
    if (!pd_nfs_stat(conn, "/", &st, error)) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    if (!S_ISDIR(st.mode)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "export '%s' of '%s' is not a directory", p->export, p->server);
        return false;
    }
    pool->backend_data = g_steal_pointer(&p);
    return true;
}

static bool nfs_stop(PdPool *pool, GError **error)
{
    (void)error;
    g_clear_pointer((NfsPool **)&pool->backend_data, nfs_pool_free);
    return true;
}

/* Nothing local to remove (libvirt removes the mount point; userspace mode has none), and the
 * export belongs to the server. */
static bool nfs_delete(PdPool *pool, unsigned flags, GError **error)
{
    if (flags & PD_POOL_DELETE_ZEROED) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                           "netfs pools cannot be deleted with zeroing");
        return false;
    }
    return true;
}

/* ---- reading volumes --------------------------------------------------------------------- */

static char *vol_key(const PdPool *pool, const char *name)
{
    const char *export = pool->def->source.dir;
    return g_strdup_printf("nfs://%s%s/%s", pool->def->source.host_name,
                           strcmp(export, "/") == 0 ? "" : export, name);
}

/* The stat fields of @vol from the server's answer, through the dir pool's helper. */
static void vol_set_nfs_stat(PdVol *vol, const PdNfsStat *ns)
{
    struct stat st = {
        .st_size = (off_t)ns->size,
        .st_blocks = (blkcnt_t)((ns->allocated + 511) / 512),
        .st_mode = ns->mode,
        .st_uid = ns->uid,
        .st_gid = ns->gid,
        .st_ino = ns->inode,
        .st_atim = {ns->atime_ns / 1000000000, ns->atime_ns % 1000000000},
        .st_mtim = {ns->mtime_ns / 1000000000, ns->mtime_ns % 1000000000},
        .st_ctim = {ns->ctime_ns / 1000000000, ns->ctime_ns % 1000000000},
    };
    pd_pool_util_vol_set_stat(vol, &st);
    vol->type = PD_VOL_NETWORK;
}

static bool same_identity(const PdVol *prev, const PdNfsStat *st)
{
    return prev->stat_size == st->size && prev->stat_inode == st->inode &&
           prev->stat_mtime_ns == st->mtime_ns;
}

/* Opens the image of volume @name as @format (PD_FORMAT_UNKNOWN: probe) on @conn. The image
 * owns a reference to @conn. */
static PdImage *open_image_on(PdNfsConn *conn, const char *name, PdFormat format, unsigned flags,
                              GError **error)
{
    PdIO *io =
        pd_io_nfs_open(conn, name, (flags & PD_OPEN_RDWR) ? PD_IO_RDWR : PD_IO_RDONLY, 0, error);
    return io ? pd_image_open_io(io, format, flags, error) : NULL;
}

/* Counters of one scan (PdPoolRefresh fields). */
typedef struct {
    unsigned reopened;
    unsigned probed;
} ScanStats;

/* The volume for file @name with @st (as the dir pool's scan_volume): @prev is reused without
 * opening the image when its identity and recorded format say nothing changed and !@force;
 * else the image is read with the recorded format (probed without one). A file the engine
 * cannot read is listed with what stat says. A failure to reach the server fails the scan
 * (returns NULL with @error): a timeout must not turn into a list of unreadable volumes. */
static PdVol *scan_volume(const PdPool *pool, PdNfsConn *conn, const char *name,
                          const PdNfsStat *st, const PdVol *prev, bool force, ScanStats *stats,
                          GError **error)
{
    g_autoptr(PdVol) vol = prev ? pd_vol_copy(prev) : pd_vol_new();
    uint64_t kept_capacity = vol->capacity;
    g_free(vol->name);
    vol->name = g_strdup(name);
    g_clear_pointer(&vol->path, g_free);
    g_free(vol->key);
    vol->key = vol_key(pool, name);
    vol_set_nfs_stat(vol, st);
    if (prev && prev->format && !force && same_identity(prev, st)) {
        vol->capacity = kept_capacity;
        return g_steal_pointer(&vol);
    }
    g_clear_pointer(&vol->backing_path, g_free);
    g_clear_pointer(&vol->backing_format, g_free);
    g_clear_pointer(&vol->compat, g_free);
    vol->cluster_size = 0;
    vol->lazy_refcounts = false;
    stats->reopened++;
    stats->probed += vol->format == NULL;
    PdFormat format = vol->format ? pd_format_from_name(vol->format) : PD_FORMAT_UNKNOWN;
    if (vol->format && format == PD_FORMAT_UNKNOWN)
        return g_steal_pointer(&vol); /* a format the engine does not read: listed from stat */
    g_autoptr(GError) local = NULL;
    g_autoptr(PdImage) img = open_image_on(conn, name, format, PD_OPEN_NO_BACKING, &local);
    if (!img && local && strstr(local->message, "timed out")) {
        g_propagate_error(error, g_steal_pointer(&local));
        pd_pool_util_prefix_error(error, pool, name);
        return NULL;
    }
    if (img)
        (void)pd_pool_util_vol_set_image(vol, img, NULL);
    return g_steal_pointer(&vol);
}

static gint compare_vol_names(gconstpointer a, gconstpointer b)
{
    const PdVol *va = *(PdVol *const *)a, *vb = *(PdVol *const *)b;
    return strcmp(va->name, vb->name);
}

/* Fills r->volumes from the export's top directory. */
static bool scan_export(const PdPool *pool, PdNfsConn *conn, const GPtrArray *previous,
                        PdPoolRefresh *r, GError **error)
{
    g_autoptr(GArray) entries = NULL;
    if (!pd_nfs_list_dir(conn, "/", &entries, error)) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    g_autoptr(GHashTable) index = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; previous && i < previous->len; i++) {
        PdVol *v = g_ptr_array_index((GPtrArray *)previous, i);
        g_hash_table_insert(index, v->name, v);
    }
    ScanStats stats = {0};
    for (guint i = 0; i < entries->len; i++) {
        const PdNfsDirent *e = &g_array_index(entries, PdNfsDirent, i);
        if (!S_ISREG(e->st.mode) || !pd_pool_util_is_volume_file_name(e->name))
            continue;
        PdVol *vol = scan_volume(pool, conn, e->name, &e->st, g_hash_table_lookup(index, e->name),
                                 false, &stats, error);
        if (!vol)
            return false;
        g_ptr_array_add(r->volumes, vol);
    }
    g_ptr_array_sort(r->volumes, compare_vol_names);
    r->n_volumes = r->volumes->len;
    r->n_reopened = stats.reopened;
    r->n_probed = stats.probed;
    return true;
}

static bool nfs_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                        GError **error)
{
    g_autoptr(PdNfsConn) conn = pool_connect(pool, NULL, error);
    if (!conn)
        return false;
    remove_orphans(pool, conn);
    PdPoolRefresh r = {0};
    if (!pd_nfs_statvfs(conn, &r.capacity, &r.allocation, &r.available, error)) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    r.volumes = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    if (!scan_export(pool, conn, previous, &r, error)) {
        pd_pool_refresh_clear(&r);
        return false;
    }
    *ret = r;
    return true;
}

static bool nfs_cleanup_partial(const PdPool *pool, unsigned *ret_removed, GError **error)
{
    g_autoptr(PdNfsConn) conn = pool_connect(pool, NULL, error);
    g_autoptr(GArray) entries = NULL;
    if (!conn)
        return false;
    remove_orphans(pool, conn);
    if (!pd_nfs_list_dir(conn, "/", &entries, error)) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    unsigned removed = 0;
    for (guint i = 0; i < entries->len; i++) {
        const char *name = g_array_index(entries, PdNfsDirent, i).name;
        if (!pd_pool_util_is_partial_name(name) || pd_pool_util_partial_is_ours(name))
            continue;
        if (!pd_nfs_unlink(conn, name, error)) {
            pd_pool_util_prefix_error(error, pool, NULL);
            return false;
        }
        removed++;
    }
    if (ret_removed)
        *ret_removed = removed;
    return true;
}

/* Stats volume @name and reads its image (always reopened); @prev supplies the recorded
 * format (NULL: probe). */
static PdVol *read_volume(const PdPool *pool, PdNfsConn *conn, const char *name, const PdVol *prev,
                          GError **error)
{
    PdNfsStat st;
    if (!pd_nfs_stat(conn, name, &st, error)) {
        if (g_error_matches(*error, PD_ERROR, PD_ERROR_NOT_FOUND))
            (*error)->code = PD_ERROR_NO_SUCH_VOLUME;
        pd_pool_util_prefix_error(error, pool, name);
        return NULL;
    }
    if (!S_ISREG(st.mode)) {
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT, "not a regular file");
        return NULL;
    }
    ScanStats stats = {0};
    return scan_volume(pool, conn, name, &st, prev, true, &stats, error);
}

static bool nfs_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol, GError **error)
{
    g_autoptr(PdNfsConn) conn = pool_connect(pool, vol->name, error);
    PdVol *v = conn ? read_volume(pool, conn, vol->name, vol, error) : NULL;
    if (!v)
        return false;
    *ret_vol = v;
    return true;
}

/* Opens @vol's image with its recorded format (probing only without one) on a new
 * connection. NULL with an error naming the pool and volume. */
static PdImage *open_volume_image(const PdPool *pool, const PdVol *vol, unsigned flags,
                                  GError **error)
{
    PdFormat format = vol->format ? pd_format_from_name(vol->format) : PD_FORMAT_UNKNOWN;
    if (vol->format && format == PD_FORMAT_UNKNOWN) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "format '%s' is not supported for this operation (raw and qcow2 are)",
                           vol->format);
        return NULL;
    }
    g_autoptr(PdNfsConn) conn = pool_connect(pool, vol->name, error);
    if (!conn)
        return NULL;
    PdImage *img = open_image_on(conn, vol->name, format, flags, error);
    if (!img)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return img;
}

static PdImage *nfs_vol_open(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error)
{
    return open_volume_image(pool, vol, flags, error);
}

/* ---- creating ------------------------------------------------------------------------------ */

/* The name inside the export of a new volume's backing file: a volume name of this pool as
 * given, an absolute path inside the export (as the server sees it) without the export part.
 * What lies elsewhere is refused: the overlay records the name, and qemu opening it over
 * nfs:// and the server's own tools must both find it. NULL with an error. */
static char *backing_in_export(const PdPool *pool, const char *path, GError **error)
{
    const char *export = pool->def->source.dir;
    size_t n = strlen(export);
    if (path[0] != '/' && !strstr(path, "://") && !g_str_has_prefix(path, "../") &&
        strcmp(path, "..") != 0)
        return g_strdup(path);
    if (path[0] == '/' && strcmp(export, "/") == 0)
        return g_strdup(path + 1);
    if (path[0] == '/' && strncmp(path, export, n) == 0 && path[n] == '/' && path[n + 1])
        return g_strdup(path + n + 1);
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "backing store '%s' is not a volume of this pool (give a volume name, or a path "
                "inside the export %s:%s)",
                path, pool->def->source.host_name, export);
    return NULL;
}

/* Probes a backing file named by a new volume's definition (the definition gave no format). */
static PdImage *probe_backing(const PdPool *pool, const char *path, void *data, GError **error)
{
    g_autofree char *inside = backing_in_export(pool, path, error);
    return inside ? open_image_on(data, inside, PD_FORMAT_UNKNOWN, PD_OPEN_NO_BACKING, error)
                  : NULL;
}

/* Refuses a name that is not a plain file name, is a hidden partial name, or exists. */
static bool check_name_free(const PdPool *pool, PdNfsConn *conn, const char *name, GError **error)
{
    if (!pd_xml_name_valid(name) || pd_pool_util_is_partial_name(name)) {
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "not a valid volume name (no '/', not '.' or '..', no hidden "
                           "'.NAME.partial' name, at most 255 bytes)");
        return false;
    }
    PdNfsStat st;
    g_autoptr(GError) local = NULL;
    if (pd_nfs_stat(conn, name, &st, &local)) {
        g_autofree char *key = vol_key(pool, name);
        pd_pool_util_error(error, pool, name, PD_ERROR_EXISTS, "'%s' already exists", key);
        return false;
    }
    if (!g_error_matches(local, PD_ERROR, PD_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        pd_pool_util_prefix_error(error, pool, name);
        return false;
    }
    return true;
}

/* Creates the empty partial file @tmp with the definition's permissions. */
static PdIO *create_partial(const PdPool *pool, PdNfsConn *conn, const PdVolDef *def,
                            const char *tmp, GError **error)
{
    const PdPerms *perms = &def->target_perms;
    mode_t mode = perms->mode != PD_PERM_UNSET ? (mode_t)perms->mode : DEFAULT_VOL_MODE;
    PdIO *io = pd_io_nfs_open(conn, tmp, PD_IO_RDWR | PD_IO_CREATE | PD_IO_EXCL, mode, error);
    if (!io)
        return NULL;
    bool ok = pd_nfs_chmod(conn, tmp, mode, error);
    if (ok && (perms->owner != PD_PERM_UNSET || perms->group != PD_PERM_UNSET))
        ok = pd_nfs_chown(conn, tmp, perms->owner == PD_PERM_UNSET ? -1 : (int)perms->owner,
                          perms->group == PD_PERM_UNSET ? -1 : (int)perms->group, error);
    if (!ok) {
        pd_io_close(io);
        if (!pd_nfs_unlink(conn, tmp, NULL))
            add_orphan(pool, tmp);
        return NULL;
    }
    return io;
}

/* Renames the complete partial file into place, refusing to replace a file that appeared. */
static bool commit_partial(const PdPool *pool, PdNfsConn *conn, const char *tmp, const char *name,
                           GError **error)
{
    return check_name_free(pool, conn, name, error) && pd_nfs_rename(conn, tmp, name, error);
}

/* What fills a new volume's partial file: a fresh image or a copy of a source. */
typedef struct {
    const PdCreatePlan *plan;
    PdImage *src; /* NULL: a fresh image */
} Filling;

static bool fill_partial(PdIO *io, const Filling *fill, const PdBackendJob *job, GError **error)
{
    if (fill->src)
        return pd_pool_image_copy_into(fill->src, io, fill->plan, job, error);
    bool ok = pd_pool_image_write_new(io, fill->plan, error);
    pd_io_close(io);
    return ok;
}

/* Builds volume @def under a hidden partial name, fills it, renames it into place and reads
 * it back. On failure nothing is left. */
static bool create_volume(const PdPool *pool, PdNfsConn *conn, const PdVolDef *def,
                          const Filling *fill, const PdBackendJob *job, PdVol **ret_vol,
                          GError **error)
{
    if (!check_name_free(pool, conn, def->name, error) ||
        !pd_pool_util_check_cancel(job, pool, def->name, error))
        return false;
    g_autofree char *tmp = pd_pool_util_partial_path("", def->name);
    PdIO *io = create_partial(pool, conn, def, tmp, error);
    if (!io) {
        /* a CREATE that timed out may still have made the file */
        if (!(error && g_error_matches(*error, PD_ERROR, PD_ERROR_EXISTS)))
            add_orphan(pool, tmp);
        pd_pool_util_prefix_error(error, pool, def->name);
        return false;
    }
    bool ok = fill_partial(io, fill, job, error) &&
              pd_pool_util_check_cancel(job, pool, def->name, error) &&
              commit_partial(pool, conn, tmp, def->name, error);
    if (!ok) {
        if (!pd_nfs_unlink(conn, tmp, NULL))
            add_orphan(pool, tmp);
        pd_pool_util_prefix_error(error, pool, def->name);
        return false;
    }
    g_autoptr(PdVol) prev = pd_vol_new();
    prev->format = g_strdup(pd_format_name(fill->plan->opts.format));
    PdVol *vol = read_volume(pool, conn, def->name, prev, error);
    if (!vol)
        return false;
    pd_pool_util_progress(job, vol->capacity, vol->capacity);
    *ret_vol = vol;
    return true;
}

static bool nfs_vol_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                           const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    if (flags & PD_VOL_CREATE_REFLINK) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                           "NFSv3 cannot share extents (reflink)");
        return false;
    }
    g_autoptr(PdNfsConn) conn = pool_connect(pool, def->name, error);
    if (!conn)
        return false;
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_create(pool, def, flags, probe_backing, conn, &plan, error);
    if (ok && plan.backing_file) {
        /* recorded relative to the overlay (both are at the top of the export) */
        char *inside = backing_in_export(pool, plan.backing_file, error);
        g_free(plan.backing_file);
        plan.opts.backing_file = plan.backing_file = inside;
        ok = inside != NULL;
        if (!ok)
            pd_pool_util_prefix_error(error, pool, def->name);
    }
    Filling fill = {.plan = &plan};
    ok = ok && create_volume(pool, conn, def, &fill, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* A linked clone: a qcow2 overlay on a volume of this same pool (named relative to it, so that
 * qemu and the server's own tools resolve it too). */
static bool create_linked(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                          const PdVol *src_vol, const PdBackendJob *job, PdVol **ret_vol,
                          GError **error)
{
    if (src_pool != pool && strcmp(src_pool->def->name, pool->def->name) != 0) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                           "a linked clone over NFS needs its backing volume in the same pool "
                           "('%s' is in pool '%s')",
                           src_vol->name, src_pool->def->name);
        return false;
    }
    g_autoptr(PdNfsConn) conn = pool_connect(pool, def->name, error);
    if (!conn)
        return false;
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_linked(pool, def, src_vol->name, src_vol->format, &plan, error);
    Filling fill = {.plan = &plan};
    ok = ok && create_volume(pool, conn, def, &fill, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

static bool nfs_vol_create_from(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                                const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                                PdVol **ret_vol, GError **error)
{
    if (flags & PD_VOL_CREATE_LINKED)
        return create_linked(pool, def, src_pool, src_vol, job, ret_vol, error);
    if (flags & PD_VOL_CREATE_REFLINK) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                           "NFSv3 cannot share extents (reflink); clone without --reflink to "
                           "copy");
        return false;
    }
    const PdPoolBackend *src_be = pd_pool_backend_for_def(src_pool->def, error);
    if (!src_be)
        return false;
    g_autoptr(PdImage) src =
        pd_pool_backend_vol_open(src_be, src_pool, src_vol, PD_OPEN_RDONLY, error);
    if (!src)
        return false;
    g_autoptr(PdNfsConn) conn = pool_connect(pool, def->name, error);
    if (!conn)
        return false;
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_clone(pool, def, src, &plan, error);
    Filling fill = {.plan = &plan, .src = src};
    ok = ok && create_volume(pool, conn, def, &fill, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* ---- delete, resize, wipe ---------------------------------------------------------------------- */

static bool nfs_vol_delete(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error)
{
    g_autoptr(PdNfsConn) conn = pool_connect(pool, vol->name, error);
    if (!conn)
        return false;
    if (pd_nfs_unlink(conn, vol->name, error))
        return true;
    if (g_error_matches(*error, PD_ERROR, PD_ERROR_NOT_FOUND))
        (*error)->code = PD_ERROR_NO_SUCH_VOLUME;
    pd_pool_util_prefix_error(error, pool, vol->name);
    return false;
}

static bool nfs_vol_resize(const PdPool *pool, const PdVol *vol, uint64_t capacity, unsigned flags,
                           const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    g_autoptr(PdImage) img = open_volume_image(pool, vol, PD_OPEN_RDWR, error);
    if (!img || !pd_pool_image_resize(pool, vol, img, capacity, flags, job, error) ||
        !pd_pool_image_close(g_steal_pointer(&img), pool, vol, error))
        return false;
    return !ret_vol || nfs_vol_refresh(pool, vol, ret_vol, error);
}

static bool nfs_vol_wipe(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                         unsigned flags, const PdBackendJob *job, GError **error)
{
    g_autoptr(PdImage) img = open_volume_image(pool, vol, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    return img && pd_pool_image_wipe(pool, vol, img, algorithm, job, error) &&
           pd_pool_image_close(g_steal_pointer(&img), pool, vol, error);
}

/* ---- upload, download ----------------------------------------------------------------------- */

/* The volume's file as a store, on a new connection. */
static PdIO *open_volume_io(const PdPool *pool, const PdVol *vol, PdIOFlags flags, GError **error)
{
    g_autoptr(PdNfsConn) conn = pool_connect(pool, vol->name, error);
    PdIO *io = conn ? pd_io_nfs_open(conn, vol->name, flags, 0, error) : NULL;
    if (conn && !io)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return io;
}

static bool nfs_vol_upload(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                           uint64_t length, unsigned flags, const PdBackendJob *job, GError **error)
{
    g_autoptr(PdIO) io = open_volume_io(pool, vol, PD_IO_RDWR, error);
    return io &&
           pd_pool_util_upload_io(pool, vol, io, false, fd, offset, length, flags, job, error);
}

static bool nfs_vol_download(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                             uint64_t length, unsigned flags, const PdBackendJob *job,
                             GError **error)
{
    g_autoptr(PdIO) io = open_volume_io(pool, vol, PD_IO_RDONLY, error);
    return io && pd_pool_util_download_io(pool, vol, io, fd, offset, length, flags, job, error);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static bool nfs_vol_snapshot_list(const PdPool *pool, const PdVol *vol, GArray **ret_snapshots,
                                  GError **error)
{
    if (!pd_pool_image_check_snapshots(pool, vol, error))
        return false;
    g_autoptr(PdImage) img = open_volume_image(pool, vol, PD_OPEN_NO_BACKING, error);
    GArray *list = img ? pd_image_snapshot_list(img, error) : NULL;
    if (!list) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    *ret_snapshots = list;
    return true;
}

typedef bool (*SnapshotOp)(PdImage *img, const char *name, GError **error);

static bool snapshot_change(const PdPool *pool, const PdVol *vol, const char *name, SnapshotOp op,
                            GError **error)
{
    if (!pd_pool_image_check_snapshots(pool, vol, error))
        return false;
    g_autoptr(PdImage) img = open_volume_image(pool, vol, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    if (!img)
        return false;
    if (!op(img, name, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return pd_pool_image_close(g_steal_pointer(&img), pool, vol, error);
}

static bool nfs_vol_snapshot_create(const PdPool *pool, const PdVol *vol, const char *name,
                                    GError **error)
{
    return snapshot_change(pool, vol, name, pd_image_snapshot_create, error);
}

static bool nfs_vol_snapshot_revert(const PdPool *pool, const PdVol *vol, const char *name,
                                    GError **error)
{
    return snapshot_change(pool, vol, name, pd_image_snapshot_apply, error);
}

static bool nfs_vol_snapshot_delete(const PdPool *pool, const PdVol *vol, const char *name,
                                    GError **error)
{
    return snapshot_change(pool, vol, name, pd_image_snapshot_delete, error);
}

/* ---- domains, sources ------------------------------------------------------------------------ */

static bool nfs_vol_disk_source(const PdPool *pool, const PdVol *vol, PdDiskSource **ret_source,
                                GError **error)
{
    (void)error;
    const char *export = pool->def->source.dir;
    PdDiskSource *source = g_new0(PdDiskSource, 1);
    source->type = PD_DISK_SOURCE_NETWORK;
    source->protocol = g_strdup("nfs");
    source->name = g_strdup_printf("%s/%s", strcmp(export, "/") == 0 ? "" : export, vol->name);
    source->host_name = g_strdup(pool->def->source.host_name);
    source->host_port = pool->def->source.host_port;
    *ret_source = source;
    return true;
}

/* The exports of the host in @spec, as <source> definitions (find-storage-pool-sources-as). */
static bool nfs_find_sources(const PdPoolDef *spec, unsigned flags, GPtrArray **ret_sources,
                             GError **error)
{
    (void)flags;
    const char *host = spec ? spec->source.host_name : NULL;
    if (!host || !*host) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "finding netfs pool sources needs a host name");
        return false;
    }
    g_auto(GStrv) exports = NULL;
    if (!pd_nfs_list_exports(host, pool_timeout_ms(spec), &exports, error))
        return false;
    GPtrArray *sources = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    for (char **e = exports; *e; e++) {
        PdPoolDef *def = pd_pool_def_new(PD_POOL_NETFS);
        def->source.host_name = g_strdup(host);
        def->source.dir = g_strdup(*e);
        def->source.format = g_strdup("nfs");
        g_ptr_array_add(sources, def);
    }
    *ret_sources = sources;
    return true;
}

/* ---- the table ------------------------------------------------------------------------------ */

const PdPoolBackend pd_pool_backend_netfs_nfs = {
    .type = PD_POOL_NETFS,
    .find_sources = nfs_find_sources,
    .build = NULL, /* nothing to build: the export is the server's */
    .start = nfs_start,
    .stop = nfs_stop,
    .delete = nfs_delete,
    .refresh = nfs_refresh,
    .cleanup_partial = nfs_cleanup_partial,
    .vol_refresh = nfs_vol_refresh,
    .vol_open = nfs_vol_open,
    .vol_create = nfs_vol_create,
    .vol_create_from = nfs_vol_create_from,
    .vol_delete = nfs_vol_delete,
    .vol_resize = nfs_vol_resize,
    .vol_wipe = nfs_vol_wipe,
    .vol_upload = nfs_vol_upload,
    .vol_download = nfs_vol_download,
    .vol_snapshot_list = nfs_vol_snapshot_list,
    .vol_snapshot_create = nfs_vol_snapshot_create,
    .vol_snapshot_revert = nfs_vol_snapshot_revert,
    .vol_snapshot_delete = nfs_vol_snapshot_delete,
    .vol_disk_source = nfs_vol_disk_source,
};
