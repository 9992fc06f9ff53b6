/* Proxies of the backends in loadable modules (backend-module.h). */
#include "pools/backend-module.h"

#include "common/module.h"
#include "common/pd-error.h"

/* Every callback of PdPoolBackend (backend.h), for the check that a module's backend has the
 * callbacks its proxy has. */
/* clang-format off */
#define BACKEND_CALLBACKS(X)                                                                      \
    X(find_sources) X(build) X(start) X(stop) X(delete) X(sync) X(refresh) X(cleanup_partial)     \
    X(vol_refresh) X(vol_open) X(vol_create) X(vol_create_from) X(vol_delete) X(vol_resize)       \
    X(vol_wipe) X(vol_upload) X(vol_download) X(vol_snapshot_list) X(vol_snapshot_create)         \
    X(vol_snapshot_revert) X(vol_snapshot_delete) X(vol_disk_source)
/* clang-format on */

bool pd_pool_backend_same_callbacks(const PdPoolBackend *a, const PdPoolBackend *b)
{
    bool same = a->type == b->type;
#define SAME_CALLBACK(name) same = same && (!a->name == !b->name);
    BACKEND_CALLBACKS(SAME_CALLBACK)
#undef SAME_CALLBACK
    return same;
}

/* Defined when the process links the backend's code (tests), else NULL: then it is loaded. */
extern const PdPoolBackend pd_pool_backend_netfs_nfs __attribute__((weak));
extern const PdPoolBackend pd_pool_backend_iscsi_direct __attribute__((weak));

typedef struct {
    const char *file; /* the module */
    const char *what; /* in errors: "poold's WHAT module" */
    const PdPoolBackend *proxy;
    GMutex lock;
    const PdPoolBackend *backend; /* once loaded */
} BackendModule;

/* The module's backend, NULL with @error when it is refused. */
static const PdPoolBackend *check_module(const BackendModule *m, const PdPoolBackendModule *t,
                                         GError **error)
{
    const PdPoolBackend *be = t->backend;
    if (t->abi == PD_POOL_BACKEND_MODULE_ABI && t->size == sizeof(PdPoolBackend) &&
        pd_pool_backend_same_callbacks(be, m->proxy))
        return be;
    g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                "cannot load poold's %s module %s: it was built for another version of poold",
                m->what, m->file);
    return NULL;
}

/* The real backend behind proxy @m, loading its module on the first call. */
static const PdPoolBackend *module_backend(BackendModule *m, GError **error)
{
    const PdPoolBackend *be = g_atomic_pointer_get(&m->backend);
    if (be)
        return be;
    g_mutex_lock(&m->lock);
    be = m->backend;
    if (!be) {
        const PdPoolBackendModule *t =
            pd_module_load(m->file, m->what, "pd_pool_backend_module_table", error);
        be = t ? check_module(m, t, error) : NULL;
        g_atomic_pointer_set(&m->backend, be);
    }
    g_mutex_unlock(&m->lock);
    return be;
}

/* A proxy's callbacks: load (MOD is a BackendModule), then call the backend's. */
#define FORWARD_BOOL(MOD, name, params, args)                                                      \
    static bool MOD##_##name params                                                                \
    {                                                                                              \
        const PdPoolBackend *be = module_backend(&MOD, error);                                     \
        return be && be->name args;                                                                \
    }

#define FORWARD_COMMON(MOD)                                                                        \
    FORWARD_BOOL(MOD, find_sources,                                                                \
                 (const PdPoolDef *spec, unsigned flags, GPtrArray **ret_sources, GError **error), \
                 (spec, flags, ret_sources, error))                                                \
    FORWARD_BOOL(MOD, start, (PdPool * pool, GError * *error), (pool, error))                      \
    FORWARD_BOOL(MOD, stop, (PdPool * pool, GError * *error), (pool, error))                       \
    FORWARD_BOOL(                                                                                  \
        MOD, refresh,                                                                              \
        (const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret, GError **error),       \
        (pool, previous, ret, error))                                                              \
    FORWARD_BOOL(MOD, vol_refresh,                                                                 \
                 (const PdPool *pool, const PdVol *vol, PdVol **ret_vol, GError **error),          \
                 (pool, vol, ret_vol, error))                                                      \
    FORWARD_BOOL(MOD, vol_create,                                                                  \
                 (const PdPool *pool, const PdVolDef *def, unsigned flags,                         \
                  const PdBackendJob *job, PdVol **ret_vol, GError **error),                       \
                 (pool, def, flags, job, ret_vol, error))                                          \
    FORWARD_BOOL(MOD, vol_delete,                                                                  \
                 (const PdPool *pool, const PdVol *vol, unsigned flags, GError **error),           \
                 (pool, vol, flags, error))                                                        \
    FORWARD_BOOL(MOD, vol_wipe,                                                                    \
                 (const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm, unsigned flags, \
                  const PdBackendJob *job, GError **error),                                        \
                 (pool, vol, algorithm, flags, job, error))                                        \
    FORWARD_BOOL(MOD, vol_upload,                                                                  \
                 (const PdPool *pool, const PdVol *vol, int fd, uint64_t offset, uint64_t length,  \
                  unsigned flags, const PdBackendJob *job, GError **error),                        \
                 (pool, vol, fd, offset, length, flags, job, error))                               \
    FORWARD_BOOL(MOD, vol_download,                                                                \
                 (const PdPool *pool, const PdVol *vol, int fd, uint64_t offset, uint64_t length,  \
                  unsigned flags, const PdBackendJob *job, GError **error),                        \
                 (pool, vol, fd, offset, length, flags, job, error))                               \
    FORWARD_BOOL(                                                                                  \
        MOD, vol_disk_source,                                                                      \
        (const PdPool *pool, const PdVol *vol, PdDiskSource **ret_source, GError **error),         \
        (pool, vol, ret_source, error))                                                            \
    static PdImage *MOD##_vol_open(const PdPool *pool, const PdVol *vol, unsigned flags,           \
                                   GError **error)                                                 \
    {                                                                                              \
        const PdPoolBackend *be = module_backend(&MOD, error);                                     \
        return be ? be->vol_open(pool, vol, flags, error) : NULL;                                  \
    }

/* ---- iscsi-direct: libiscsi ---- */

static BackendModule iscsi;
FORWARD_COMMON(iscsi)

static const PdPoolBackend iscsi_proxy = {
    .type = PD_POOL_ISCSI_DIRECT,
    .capabilities = PD_BACKEND_CAP_NO_SPACE_CHECK,
    .find_sources = iscsi_find_sources,
    .start = iscsi_start,
    .stop = iscsi_stop,
    .refresh = iscsi_refresh,
    .vol_refresh = iscsi_vol_refresh,
    .vol_open = iscsi_vol_open,
    .vol_create = iscsi_vol_create,
    .vol_delete = iscsi_vol_delete,
    .vol_wipe = iscsi_vol_wipe,
    .vol_upload = iscsi_vol_upload,
    .vol_download = iscsi_vol_download,
    .vol_disk_source = iscsi_vol_disk_source,
};

static BackendModule iscsi = {
    .file = "poold-iscsi.so", .what = "iscsi-direct", .proxy = &iscsi_proxy};

const PdPoolBackend *pd_pool_backend_iscsi_direct_get(void)
{
    return &pd_pool_backend_iscsi_direct ? &pd_pool_backend_iscsi_direct : &iscsi_proxy;
}

/* ---- netfs in userspace: libnfs ---- */

static BackendModule nfs;
FORWARD_COMMON(nfs)
FORWARD_BOOL(nfs, delete, (PdPool * pool, unsigned flags, GError **error), (pool, flags, error))
FORWARD_BOOL(nfs, cleanup_partial, (const PdPool *pool, unsigned *ret_removed, GError **error),
             (pool, ret_removed, error))
FORWARD_BOOL(nfs, vol_create_from,
             (const PdPool *pool, const PdVolDef *def, const PdPool *src_pool, const PdVol *src_vol,
              unsigned flags, const PdBackendJob *job, PdVol **ret_vol, GError **error),
             (pool, def, src_pool, src_vol, flags, job, ret_vol, error))
FORWARD_BOOL(nfs, vol_resize,
             (const PdPool *pool, const PdVol *vol, uint64_t capacity, unsigned flags,
              const PdBackendJob *job, PdVol **ret_vol, GError **error),
             (pool, vol, capacity, flags, job, ret_vol, error))
FORWARD_BOOL(nfs, vol_snapshot_list,
             (const PdPool *pool, const PdVol *vol, GArray **ret_snapshots, GError **error),
             (pool, vol, ret_snapshots, error))
FORWARD_BOOL(nfs, vol_snapshot_create,
             (const PdPool *pool, const PdVol *vol, const char *name, GError **error),
             (pool, vol, name, error))
FORWARD_BOOL(nfs, vol_snapshot_revert,
             (const PdPool *pool, const PdVol *vol, const char *name, GError **error),
             (pool, vol, name, error))
FORWARD_BOOL(nfs, vol_snapshot_delete,
             (const PdPool *pool, const PdVol *vol, const char *name, GError **error),
             (pool, vol, name, error))

static const PdPoolBackend nfs_proxy = {
    .type = PD_POOL_NETFS,
    .find_sources = nfs_find_sources,
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

static BackendModule nfs = {
    .file = "poold-nfs.so", .what = "netfs (userspace NFS)", .proxy = &nfs_proxy};

const PdPoolBackend *pd_pool_backend_netfs_nfs_get(void)
{
    return &pd_pool_backend_netfs_nfs ? &pd_pool_backend_netfs_nfs : &nfs_proxy;
}

const PdPoolBackend *pd_pool_backend_module_proxy(const char *file)
{
    if (g_strcmp0(file, nfs.file) == 0)
        return &nfs_proxy;
    if (g_strcmp0(file, iscsi.file) == 0)
        return &iscsi_proxy;
    return NULL;
}
