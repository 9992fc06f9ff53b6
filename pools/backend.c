/* PdPool / PdVol runtime state, the backend lookup and the call wrappers of backend.h. */
#include "pools/backend.h"
#include "pools/backend-module.h"

#include "common/pd-error.h"

#include <string.h>

/* ---- PdVol ------------------------------------------------------------------------------ */

PdVol *pd_vol_new(void)
{
    PdVol *vol = g_new0(PdVol, 1);
    vol->refs = 1;
    vol->type = PD_VOL_FILE;
    pd_vol_timestamps_init(&vol->timestamps);
    return vol;
}

void pd_vol_free(PdVol *vol)
{
    if (!vol || !g_atomic_int_dec_and_test(&vol->refs))
        return;
    g_free(vol->name);
    g_free(vol->key);
    g_free(vol->path);
    g_free(vol->format);
    g_free(vol->backing_path);
    g_free(vol->backing_format);
    g_free(vol->compat);
    g_free(vol);
}

PdVol *pd_vol_copy(const PdVol *vol)
{
    PdVol *copy = g_memdup2(vol, sizeof(*vol));
    copy->refs = 1;
    copy->name = g_strdup(vol->name);
    copy->key = g_strdup(vol->key);
    copy->path = g_strdup(vol->path);
    copy->format = g_strdup(vol->format);
    copy->backing_path = g_strdup(vol->backing_path);
    copy->backing_format = g_strdup(vol->backing_format);
    copy->compat = g_strdup(vol->compat);
    return copy;
}

PdVol *pd_vol_ref(const PdVol *vol)
{
    PdVol *shared = (PdVol *)vol;
    g_atomic_int_inc(&shared->refs);
    return shared;
}

/* ---- PdPool ----------------------------------------------------------------------------- */

PdPool *pd_pool_new(PdPoolDef *def)
{
    PdPool *pool = g_new0(PdPool, 1);
    pool->def = def;
    pool->volumes = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    return pool;
}

void pd_pool_free(PdPool *pool)
{
    if (!pool)
        return;
    pd_pool_def_free(pool->def);
    g_ptr_array_unref(pool->volumes);
    if (pool->auth_secret) {
        explicit_bzero(pool->auth_secret, strlen(pool->auth_secret));
        g_free(pool->auth_secret);
    }
    g_free(pool);
}

void pd_disk_source_free(PdDiskSource *source)
{
    if (!source)
        return;
    g_free(source->path);
    g_free(source->protocol);
    g_free(source->name);
    g_free(source->host_name);
    g_free(source->auth_username);
    g_free(source->auth_secret_usage);
    g_free(source->auth_secret_uuid);
    g_free(source);
}

gint pd_vol_compare_name(gconstpointer a, gconstpointer b)
{
    return strcmp((*(PdVol *const *)a)->name, (*(PdVol *const *)b)->name);
}

PdVol *pd_pool_find_vol(const PdPool *pool, const char *name)
{
    guint lo = 0, hi = pool->volumes->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        PdVol *vol = g_ptr_array_index(pool->volumes, mid);
        int c = strcmp(vol->name, name);
        if (c == 0)
            return vol;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void pd_pool_refresh_clear(PdPoolRefresh *refresh)
{
    if (refresh->volumes)
        g_ptr_array_unref(refresh->volumes);
    memset(refresh, 0, sizeof(*refresh));
}

void pd_pool_refresh_apply(PdPool *pool, PdPoolRefresh *refresh)
{
    pool->capacity = refresh->capacity;
    pool->allocation = refresh->allocation;
    pool->available = refresh->available;
    if (refresh->volumes) {
        g_ptr_array_unref(pool->volumes);
        pool->volumes = g_steal_pointer(&refresh->volumes);
    }
    pd_pool_refresh_clear(refresh);
}

/* ---- names ------------------------------------------------------------------------------ */

static const char *const wipe_names[PD_WIPE_COUNT] = {
    [PD_WIPE_ZERO] = "zero",
    [PD_WIPE_RANDOM] = "random",
    [PD_WIPE_TRIM] = "trim",
};

const char *pd_wipe_algorithm_name(PdWipeAlgorithm algorithm)
{
    return (unsigned)algorithm < PD_WIPE_COUNT ? wipe_names[algorithm] : "?";
}

int pd_wipe_algorithm_from_name(const char *name)
{
    for (int i = 0; i < PD_WIPE_COUNT; i++) {
        if (name && strcmp(name, wipe_names[i]) == 0)
            return i;
    }
    return -1;
}

/* ---- lookup ----------------------------------------------------------------------------- */

static const char *pool_type_name(PdPoolType type)
{
    const PdPoolTypeInfo *info =
        (unsigned)type < PD_POOL_TYPE_COUNT ? pd_pool_type_info(type) : NULL;
    return info ? info->name : "?";
}

/* The backend of @type, or NULL when poold has none. netfs: the userspace one (see
 * pd_pool_backend_for_def for the mount one). */
static const PdPoolBackend *backend_of_type(PdPoolType type)
{
    switch (type) {
    case PD_POOL_DIR:
        return &pd_pool_backend_dir;
    case PD_POOL_FS:
        return &pd_pool_backend_fs;
    case PD_POOL_ISCSI:
        return &pd_pool_backend_iscsi;
    case PD_POOL_NETFS: /* for_def chooses the mode; this is the one without a kernel client */
        return pd_pool_backend_netfs_nfs_get();
    case PD_POOL_ISCSI_DIRECT:
        return pd_pool_backend_iscsi_direct_get();
    case PD_POOL_LOGICAL:
        return &pd_pool_backend_logical;
    default:
        return NULL;
    }
}

const PdPoolBackend *pd_pool_backend_for_type(PdPoolType type, GError **error)
{
    const PdPoolBackend *be = backend_of_type(type);
    if (be)
        return be;
    g_autoptr(GString) supported = g_string_new(NULL);
    for (int t = 0; t < PD_POOL_TYPE_COUNT; t++) {
        if (backend_of_type((PdPoolType)t))
            g_string_append_printf(supported, "%s%s", supported->len ? ", " : "",
                                   pool_type_name((PdPoolType)t));
    }
    g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                "Pool type '%s' is not supported by this poold (supported: %s)",
                pool_type_name(type), supported->str);
    return NULL;
}

/* True when the running kernel has an NFS client (nfs listed in /proc/filesystems). */
static bool kernel_has_nfs(void)
{
    g_autofree char *list = NULL;
    if (!g_file_get_contents("/proc/filesystems", &list, NULL, NULL))
        return false;
    g_auto(GStrv) lines = g_strsplit(list, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *fs = strrchr(*l, '\t');
        if (fs && strcmp(fs + 1, "nfs") == 0)
            return true;
    }
    return false;
}

const PdPoolBackend *pd_pool_backend_for_def(const PdPoolDef *def, GError **error)
{
    if (def->type != PD_POOL_NETFS)
        return pd_pool_backend_for_type(def->type, error);
    PdNetfsMode mode = def->netfs_mode;
    if (mode == PD_NETFS_MODE_AUTO)
        mode = kernel_has_nfs() ? PD_NETFS_MODE_MOUNT : PD_NETFS_MODE_USERSPACE;
    switch (mode) {
    case PD_NETFS_MODE_USERSPACE:
        return pd_pool_backend_netfs_nfs_get();
    case PD_NETFS_MODE_MOUNT:
        return &pd_pool_backend_netfs_mount;
    default:
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "pool '%s': netfs pools in %s mode are not supported by this poold yet",
                    def->name, mode == PD_NETFS_MODE_MOUNT ? "mount" : "userspace");
        return NULL;
    }
}

void pd_pool_backend_unsupported(GError **error, const PdPool *pool, const char *operation)
{
    g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                "pool '%s': pool type '%s' does not support %s", pool->def->name,
                pool_type_name(pool->def->type), operation);
}

/* ---- call wrappers ---------------------------------------------------------------------- */

bool pd_pool_backend_find_sources(const PdPoolBackend *be, const PdPoolDef *spec, unsigned flags,
                                  GPtrArray **ret_sources, GError **error)
{
    if (!be->find_sources) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "pool type '%s' does not support finding pool sources",
                    pool_type_name(be->type));
        return false;
    }
    return be->find_sources(spec, flags, ret_sources, error);
}

bool pd_pool_backend_build(const PdPoolBackend *be, PdPool *pool, unsigned flags, GError **error)
{
    if ((flags & PD_POOL_BUILD_OVERWRITE) && (flags & PD_POOL_BUILD_NO_OVERWRITE)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': --overwrite and --no-overwrite are mutually exclusive",
                    pool->def->name);
        return false;
    }
    return be->build ? be->build(pool, flags, error) : true;
}

bool pd_pool_backend_start(const PdPoolBackend *be, PdPool *pool, GError **error)
{
    return be->start ? be->start(pool, error) : true;
}

bool pd_pool_backend_stop(const PdPoolBackend *be, PdPool *pool, GError **error)
{
    if (be->stop && !be->stop(pool, error))
        return false;
    pool->dir_bound = false; /* a later start binds the directory as it is then */
    return true;
}

bool pd_pool_backend_delete(const PdPoolBackend *be, PdPool *pool, unsigned flags, GError **error)
{
    if (!be->delete) {
        pd_pool_backend_unsupported(error, pool, "pool deletion");
        return false;
    }
    return be->delete (pool, flags, error);
}

bool pd_pool_backend_refresh(const PdPoolBackend *be, const PdPool *pool, const GPtrArray *previous,
                             PdPoolRefresh *ret, GError **error)
{
    if (!be->refresh) {
        pd_pool_backend_unsupported(error, pool, "refresh");
        return false;
    }
    return be->refresh(pool, previous, ret, error);
}

bool pd_pool_backend_cleanup_partial(const PdPoolBackend *be, const PdPool *pool,
                                     unsigned *ret_removed, GError **error)
{
    if (!be->cleanup_partial) {
        if (ret_removed)
            *ret_removed = 0;
        return true;
    }
    return be->cleanup_partial(pool, ret_removed, error);
}

bool pd_pool_backend_vol_refresh(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                 PdVol **ret_vol, GError **error)
{
    if (!be->vol_refresh) {
        pd_pool_backend_unsupported(error, pool, "volume refresh");
        return false;
    }
    return be->vol_refresh(pool, vol, ret_vol, error);
}

PdImage *pd_pool_backend_vol_open(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                  unsigned flags, GError **error)
{
    if (be->vol_open)
        return be->vol_open(pool, vol, flags, error);
    if (!vol->path) {
        pd_pool_backend_unsupported(error, pool, "opening volumes");
        return NULL;
    }
    PdFormat format = vol->format ? pd_format_from_name(vol->format) : PD_FORMAT_UNKNOWN;
    if (vol->format && format == PD_FORMAT_UNKNOWN) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "pool '%s': volume '%s': format '%s' cannot be read (poold reads raw and "
                    "qcow2)",
                    pool->def->name, vol->name, vol->format);
        return NULL;
    }
    PdImage *img = pd_image_open(vol->path, format, flags, error);
    if (!img)
        g_prefix_error(error, "pool '%s': volume '%s': ", pool->def->name, vol->name);
    return img;
}

bool pd_pool_backend_vol_create(const PdPoolBackend *be, const PdPool *pool, const PdVolDef *def,
                                unsigned flags, const PdBackendJob *job, PdVol **ret_vol,
                                GError **error)
{
    if (!be->vol_create) {
        pd_pool_backend_unsupported(error, pool, "volume creation");
        return false;
    }
    return be->vol_create(pool, def, flags, job, ret_vol, error);
}

bool pd_pool_backend_vol_create_from(const PdPoolBackend *be, const PdPool *pool,
                                     const PdVolDef *def, const PdPool *src_pool,
                                     const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                                     PdVol **ret_vol, GError **error)
{
    if (!be->vol_create_from) {
        pd_pool_backend_unsupported(error, pool, "creating volumes from other volumes");
        return false;
    }
    return be->vol_create_from(pool, def, src_pool, src_vol, flags, job, ret_vol, error);
}

bool pd_pool_backend_vol_delete(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                unsigned flags, GError **error)
{
    if (!be->vol_delete) {
        pd_pool_backend_unsupported(error, pool, "volume deletion");
        return false;
    }
    return be->vol_delete(pool, vol, flags, error);
}

bool pd_pool_backend_vol_resize(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                uint64_t capacity, unsigned flags, const PdBackendJob *job,
                                PdVol **ret_vol, GError **error)
{
    if (!be->vol_resize) {
        pd_pool_backend_unsupported(error, pool, "volume resize");
        return false;
    }
    return be->vol_resize(pool, vol, capacity, flags, job, ret_vol, error);
}

bool pd_pool_backend_vol_wipe(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                              PdWipeAlgorithm algorithm, unsigned flags, const PdBackendJob *job,
                              GError **error)
{
    if ((unsigned)algorithm >= PD_WIPE_COUNT) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': volume '%s': unknown wipe algorithm %d (use zero, random or "
                    "trim)",
                    pool->def->name, vol->name, (int)algorithm);
        return false;
    }
    if (!be->vol_wipe) {
        pd_pool_backend_unsupported(error, pool, "volume wipe");
        return false;
    }
    return be->vol_wipe(pool, vol, algorithm, flags, job, error);
}

bool pd_pool_backend_vol_upload(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                int fd, uint64_t offset, uint64_t length, unsigned flags,
                                const PdBackendJob *job, GError **error)
{
    if (!be->vol_upload) {
        pd_pool_backend_unsupported(error, pool, "volume upload");
        return false;
    }
    return be->vol_upload(pool, vol, fd, offset, length, flags, job, error);
}

bool pd_pool_backend_vol_download(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                  int fd, uint64_t offset, uint64_t length, unsigned flags,
                                  const PdBackendJob *job, GError **error)
{
    if (!be->vol_download) {
        pd_pool_backend_unsupported(error, pool, "volume download");
        return false;
    }
    return be->vol_download(pool, vol, fd, offset, length, flags, job, error);
}

bool pd_pool_backend_vol_snapshot_list(const PdPoolBackend *be, const PdPool *pool,
                                       const PdVol *vol, GArray **ret_snapshots, GError **error)
{
    if (!be->vol_snapshot_list) {
        pd_pool_backend_unsupported(error, pool, "volume snapshots");
        return false;
    }
    return be->vol_snapshot_list(pool, vol, ret_snapshots, error);
}

bool pd_pool_backend_vol_snapshot_create(const PdPoolBackend *be, const PdPool *pool,
                                         const PdVol *vol, const char *name, GError **error)
{
    if (!be->vol_snapshot_create) {
        pd_pool_backend_unsupported(error, pool, "volume snapshots");
        return false;
    }
    return be->vol_snapshot_create(pool, vol, name, error);
}

bool pd_pool_backend_vol_snapshot_revert(const PdPoolBackend *be, const PdPool *pool,
                                         const PdVol *vol, const char *name, GError **error)
{
    if (!be->vol_snapshot_revert) {
        pd_pool_backend_unsupported(error, pool, "volume snapshots");
        return false;
    }
    return be->vol_snapshot_revert(pool, vol, name, error);
}

bool pd_pool_backend_vol_snapshot_delete(const PdPoolBackend *be, const PdPool *pool,
                                         const PdVol *vol, const char *name, GError **error)
{
    if (!be->vol_snapshot_delete) {
        pd_pool_backend_unsupported(error, pool, "volume snapshots");
        return false;
    }
    return be->vol_snapshot_delete(pool, vol, name, error);
}

bool pd_pool_backend_vol_disk_source(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                     PdDiskSource **ret_source, GError **error)
{
    if (be->vol_disk_source)
        return be->vol_disk_source(pool, vol, ret_source, error);
    if (!vol->path || (vol->type != PD_VOL_FILE && vol->type != PD_VOL_BLOCK)) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "pool '%s': volume '%s' has no path a domain could use", pool->def->name,
                    vol->name);
        return false;
    }
    PdDiskSource *source = g_new0(PdDiskSource, 1);
    source->type = vol->type == PD_VOL_BLOCK ? PD_DISK_SOURCE_BLOCK : PD_DISK_SOURCE_FILE;
    source->path = g_strdup(vol->path);
    *ret_source = source;
    return true;
}

bool pd_pool_backend_sync(const PdPoolBackend *be, const PdPool *pool, GError **error)
{
    return !be->sync || be->sync(pool, error);
}
