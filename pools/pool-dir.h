/* The dir backend's callbacks, exported so that the backends whose pools become a directory
 * once started (fs: a mounted block device; netfs in mount mode: a mounted export) put them in
 * their own tables next to their own build/start/stop instead of copying them. Conventions:
 * those of the matching PdPoolBackend callbacks in backend.h. */
#pragma once

#include "pools/backend.h"

G_BEGIN_DECLS

bool pd_pool_dir_build(PdPool *pool, unsigned flags, GError **error);
bool pd_pool_dir_start(PdPool *pool, GError **error);
bool pd_pool_dir_delete(PdPool *pool, unsigned flags, GError **error);
bool pd_pool_dir_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                         GError **error);
bool pd_pool_dir_cleanup_partial(const PdPool *pool, unsigned *ret_removed, GError **error);
bool pd_pool_dir_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol, GError **error);
/* Opens the volume's file through the path rule (pool-path.h) with its recorded format. */
PdImage *pd_pool_dir_vol_open(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error);
bool pd_pool_dir_vol_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                            const PdBackendJob *job, PdVol **ret_vol, GError **error);
bool pd_pool_dir_vol_create_from(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                                 const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                                 PdVol **ret_vol, GError **error);
/* fsync of the pool directory (the sync callback: group commit of creates and deletes). */
bool pd_pool_dir_sync(const PdPool *pool, GError **error);
bool pd_pool_dir_vol_delete(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error);
bool pd_pool_dir_vol_resize(const PdPool *pool, const PdVol *vol, uint64_t capacity, unsigned flags,
                            const PdBackendJob *job, PdVol **ret_vol, GError **error);
bool pd_pool_dir_vol_wipe(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                          unsigned flags, const PdBackendJob *job, GError **error);
/* vol_wipe of the image at @path (a block device of a pool whose volumes are no files in the
 * target directory: iSCSI LUNs), with the volume's recorded format. */
bool pd_pool_dir_wipe_at(const PdPool *pool, const PdVol *vol, const char *path,
                         PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error);
bool pd_pool_dir_vol_upload(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                            uint64_t length, unsigned flags, const PdBackendJob *job,
                            GError **error);
bool pd_pool_dir_vol_download(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                              uint64_t length, unsigned flags, const PdBackendJob *job,
                              GError **error);
bool pd_pool_dir_vol_snapshot_list(const PdPool *pool, const PdVol *vol, GArray **ret_snapshots,
                                   GError **error);
bool pd_pool_dir_vol_snapshot_create(const PdPool *pool, const PdVol *vol, const char *name,
                                     GError **error);
bool pd_pool_dir_vol_snapshot_revert(const PdPool *pool, const PdVol *vol, const char *name,
                                     GError **error);
bool pd_pool_dir_vol_snapshot_delete(const PdPool *pool, const PdVol *vol, const char *name,
                                     GError **error);

G_END_DECLS
