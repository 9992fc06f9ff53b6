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
#include "pools/file-ns.h"
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

/* ---- the namespace: the top directory of the export (file-ns.h) -------------------------- */

struct PdFileNs {
    const PdPool *pool;
    PdNfsConn *conn;
};

static PdFileNs *nfs_ns_open(const PdPool *pool, const char *vol_name, GError **error)
{
    PdNfsConn *conn = pool_connect(pool, vol_name, error);
    if (!conn)
        return NULL;
    PdFileNs *ns = g_new0(PdFileNs, 1);
    ns->pool = pool;
    ns->conn = conn;
    return ns;
}

static void nfs_ns_close(PdFileNs *ns)
{
    pd_nfs_conn_unref(ns->conn);
    g_free(ns);
}

static void nfs_ns_tidy(PdFileNs *ns)
{
    remove_orphans(ns->pool, ns->conn);
}

static bool nfs_ns_statvfs(PdFileNs *ns, uint64_t *ret_capacity, uint64_t *ret_allocation,
                           uint64_t *ret_available, GError **error)
{
    if (pd_nfs_statvfs(ns->conn, ret_capacity, ret_allocation, ret_available, error))
        return true;
    pd_pool_util_prefix_error(error, ns->pool, NULL);
    return false;
}

/* The server's answer as a stat. */
static struct stat stat_of(const PdNfsStat *ns)
{
    return (struct stat){
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
}

/* The regular files at the top of the export (the only files a volume or a partial file can
 * be here: the server resolves links on its side, and device nodes are not readable over
 * NFS). */
static bool nfs_ns_list(PdFileNs *ns, PdFileListFunc fn, void *data, GError **error)
{
    g_autoptr(GArray) entries = NULL;
    if (!pd_nfs_list_dir(ns->conn, "/", &entries, error)) {
        pd_pool_util_prefix_error(error, ns->pool, NULL);
        return false;
    }
    for (guint i = 0; i < entries->len; i++) {
        const PdNfsDirent *e = &g_array_index(entries, PdNfsDirent, i);
        struct stat st = stat_of(&e->st);
        if (S_ISREG(e->st.mode) && !fn(e->name, &st, data, error))
            return false;
    }
    return true;
}

static bool nfs_ns_stat(PdFileNs *ns, const char *name, struct stat *ret_st, GError **error)
{
    PdNfsStat st;
    if (!pd_nfs_stat(ns->conn, name, &st, error)) {
        if (g_error_matches(*error, PD_ERROR, PD_ERROR_NOT_FOUND))
            (*error)->code = PD_ERROR_NO_SUCH_VOLUME;
        pd_pool_util_prefix_error(error, ns->pool, name);
        return false;
    }
    if (!S_ISREG(st.mode)) {
        pd_pool_util_error(error, ns->pool, name, PD_ERROR_INVALID_ARGUMENT, "not a regular file");
        return false;
    }
    *ret_st = stat_of(&st);
    return true;
}

static int nfs_ns_exists(PdFileNs *ns, const char *name, GError **error)
{
    PdNfsStat st;
    g_autoptr(GError) local = NULL;
    if (pd_nfs_stat(ns->conn, name, &st, &local))
        return 1;
    if (g_error_matches(local, PD_ERROR, PD_ERROR_NOT_FOUND))
        return 0;
    g_propagate_error(error, g_steal_pointer(&local));
    pd_pool_util_prefix_error(error, ns->pool, name);
    return -1;
}

static PdIO *nfs_ns_open_file(PdFileNs *ns, const char *name, PdIOFlags flags, GError **error)
{
    PdIO *io = pd_io_nfs_open(ns->conn, name, flags, 0, error);
    if (!io)
        pd_pool_util_prefix_error(error, ns->pool, name);
    return io;
}

/* Creates the empty partial file @tmp with the definition's permissions. */
static PdIO *nfs_ns_create(PdFileNs *ns, const char *tmp, const PdVolDef *def, GError **error)
{
    const PdPool *pool = ns->pool;
    PdNfsConn *conn = ns->conn;
    const PdPerms *perms = &def->target_perms;
    mode_t mode = perms->mode != PD_PERM_UNSET ? (mode_t)perms->mode : DEFAULT_VOL_MODE;
    PdIO *io = pd_io_nfs_open(conn, tmp, PD_IO_RDWR | PD_IO_CREATE | PD_IO_EXCL, mode, error);
    if (!io) {
        /* a CREATE that timed out may still have made the file */
        if (!(error && g_error_matches(*error, PD_ERROR, PD_ERROR_EXISTS)))
            add_orphan(pool, tmp);
        return NULL;
    }
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

/* NFSv3 has no rename that refuses to replace: the name is checked just before (the daemon
 * serialises creates of one name). */
static bool nfs_ns_rename_noreplace(PdFileNs *ns, const char *from, const char *to, GError **error)
{
    int r = nfs_ns_exists(ns, to, error);
    if (r > 0) {
        g_autofree char *key = vol_key(ns->pool, to);
        pd_pool_util_error(error, ns->pool, to, PD_ERROR_EXISTS, "'%s' already exists", key);
    }
    return r == 0 && pd_nfs_rename(ns->conn, from, to, error);
}

static bool nfs_ns_unlink(PdFileNs *ns, const char *name, GError **error)
{
    if (pd_nfs_unlink(ns->conn, name, error))
        return true;
    if (g_error_matches(*error, PD_ERROR, PD_ERROR_NOT_FOUND))
        (*error)->code = PD_ERROR_NO_SUCH_VOLUME;
    pd_pool_util_prefix_error(error, ns->pool, name);
    return false;
}

static void nfs_ns_discard(PdFileNs *ns, const char *name)
{
    if (!pd_nfs_unlink(ns->conn, name, NULL))
        add_orphan(ns->pool, name);
}

static void nfs_ns_identify(const PdPool *pool, const char *name, PdVol *vol)
{
    vol->key = vol_key(pool, name);
}

static bool nfs_ns_same_place(const PdPool *pool, const PdVol *vol, const char *name)
{
    g_autofree char *key = vol_key(pool, name);
    return !vol->path && g_strcmp0(vol->key, key) == 0;
}

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

/* Probes a backing file named by a new volume's definition (the definition gave no format);
 * @data is the session. */
static PdImage *nfs_ns_probe_backing(const PdPool *pool, const char *path, void *data,
                                     GError **error)
{
    PdFileNs *ns = data;
    g_autofree char *inside = backing_in_export(pool, path, error);
    PdIO *io = inside ? pd_io_nfs_open(ns->conn, inside, PD_IO_RDONLY, 0, error) : NULL;
    return io ? pd_image_open_io(io, PD_FORMAT_UNKNOWN, PD_OPEN_NO_BACKING, error) : NULL;
}

/* A linked clone over NFS: an overlay on a volume of this same pool, named relative to it, so
 * that qemu and the server's own tools resolve it too. */
static char *nfs_ns_linked_backing(const PdPool *pool, const PdPool *src_pool, const PdVol *src_vol,
                                   GError **error)
{
    if (src_pool == pool || strcmp(src_pool->def->name, pool->def->name) == 0)
        return g_strdup(src_vol->name);
    pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                       "a linked clone over NFS needs its backing volume in the same pool ('%s' "
                       "is in pool '%s')",
                       src_vol->name, src_pool->def->name);
    return NULL;
}

static const PdFileNsOps nfs_ns = {
    .open = nfs_ns_open,
    .close = nfs_ns_close,
    .tidy = nfs_ns_tidy,
    .statvfs = nfs_ns_statvfs,
    .list = nfs_ns_list,
    .stat = nfs_ns_stat,
    .exists = nfs_ns_exists,
    .open_file = nfs_ns_open_file,
    .create = nfs_ns_create,
    .rename_noreplace = nfs_ns_rename_noreplace,
    .unlink = nfs_ns_unlink,
    .discard = nfs_ns_discard,
    .sync = NULL, /* NFSv3 answers a rename or remove once the server committed it */
    .reflink = NULL,
    .no_reflink = "NFSv3 cannot share extents (reflink)",
    .network = true,
    .identify = nfs_ns_identify,
    .same_place = nfs_ns_same_place,
    .probe_backing = nfs_ns_probe_backing,
    .backing_name = backing_in_export,
    .linked_backing = nfs_ns_linked_backing,
};

PD_FILE_POOL_DEFINE(static, nfs, &nfs_ns)

static bool nfs_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                        GError **error)
{
    return pd_file_pool_refresh(&nfs_ns, pool, previous, ret, error);
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
    PD_FILE_POOL_CALLBACKS(nfs),
    .vol_disk_source = nfs_vol_disk_source,
};
