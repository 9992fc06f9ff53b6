/* The pools whose volumes are the files of a local directory: dir, fs (a mounted block device)
 * and netfs in mount mode (a mounted export). Their volume callbacks are one implementation
 * (pool-files.c, file-ns.h) over the POSIX namespace (pool-ns-posix.c, every name through the
 * path rule of pool-path.h); each table adds its own build, start, stop and refresh. Conventions:
 * those of the matching PdPoolBackend callbacks in backend.h. */
#pragma once

#include "pools/backend.h"
#include "pools/file-ns.h"

G_BEGIN_DECLS

/* The POSIX namespace (pool-ns-posix.c). */
extern const PdFileNsOps pd_file_ns_posix;

/* The target directory: made (with missing parents, undone on failure), checked, removed. */
bool pd_pool_dir_build(PdPool *pool, unsigned flags, GError **error);
bool pd_pool_dir_start(PdPool *pool, GError **error);
bool pd_pool_dir_delete(PdPool *pool, unsigned flags, GError **error);
/* refresh over the POSIX namespace (fs and netfs in mount mode check their mount first). */
bool pd_pool_posix_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                           GError **error);
/* fsync of the pool directory (the sync callback: group commit of creates and deletes). */
bool pd_pool_posix_sync(const PdPool *pool, GError **error);

/* The volume callbacks of every pool of local files, defined (static) in the file that uses
 * PD_POSIX_POOL_DEFINE, and their table entries: the one description the dir, fs and netfs
 * (mount mode) tables are built from. */
#define PD_POSIX_POOL_DEFINE    PD_FILE_POOL_DEFINE(static, posix, &pd_file_ns_posix)
#define PD_POSIX_POOL_CALLBACKS .sync = pd_pool_posix_sync, PD_FILE_POOL_CALLBACKS(posix)

G_END_DECLS
