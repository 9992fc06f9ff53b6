/* A pool made of files, once: the namespace interface and the one implementation over it.
 *
 * A dir pool (and fs, netfs in mount mode: a directory once started) and a netfs pool in
 * userspace mode (an NFS export through libnfs) do the same thing with their files: list them,
 * stat them, open them as stores of the image engine, build new ones under a hidden partial name
 * and rename them into place, unlink them. Only where the files live differs. PdFileNsOps is what
 * a pool of files needs from that place; pool-files.c implements every volume callback of
 * backend.h once over it (refresh, cleanup_partial, vol_refresh, vol_open, vol_create,
 * vol_create_from, vol_delete, vol_resize, vol_wipe, vol_upload, vol_download, snapshots).
 *
 * Implementations:
 *   pool-ns-posix.c   a local directory, every name through the path rule (pool-path.h)
 *   pool-netfs-nfs.c  an NFS export over libnfs (formats/io/nfs), one connection per call
 *
 * A PdFileNs is one session on the namespace for one operation (a descriptor of the directory,
 * an NFS connection), opened by @open and closed by @close, used by one thread.
 *
 * Return convention: true (or a store, a session) on success; false (NULL) with @error set
 * (PD_ERROR domain) naming the pool and, where there is one, the volume; ret_* untouched on
 * failure. */
#pragma once

#include "pools/backend.h"

#include <sys/stat.h>

G_BEGIN_DECLS

typedef struct PdFileNs PdFileNs;

/* One name found by list, with what it is (@st: the file a volume's name leads to; for a name
 * that is no volume by the namespace's rule, something that is neither a regular file nor a
 * block device). False with @error stops the listing. */
typedef bool (*PdFileListFunc)(const char *name, const struct stat *st, void *data, GError **error);

typedef struct {
    /* ---- sessions ---- */
    /* A session on @pool's namespace (errors name @vol_name when not NULL). */
    PdFileNs *(*open)(const PdPool *pool, const char *vol_name, GError **error);
    void (*close)(PdFileNs *ns); /* NULL is fine */
    /* Optional: removes what earlier failures could not (refresh and cleanup_partial call it
     * first). */
    void (*tidy)(PdFileNs *ns);

    /* ---- the namespace ---- */
    bool (*statvfs)(PdFileNs *ns, uint64_t *ret_capacity, uint64_t *ret_allocation,
                    uint64_t *ret_available, GError **error);
    /* Calls @fn for every name at the top of the namespace ("." and ".." left out). */
    bool (*list)(PdFileNs *ns, PdFileListFunc fn, void *data, GError **error);
    /* What volume @name is: a regular file or block device by the namespace's rule, else an
     * error naming the volume (PD_ERROR_NO_SUCH_VOLUME when it is gone). */
    bool (*stat)(PdFileNs *ns, const char *name, struct stat *ret_st, GError **error);
    /* 1 when anything has @name (a dangling link too), 0 when it is free, -1 with @error. */
    int (*exists)(PdFileNs *ns, const char *name, GError **error);
    /* Volume @name as a store (the rule of @stat applies). */
    PdIO *(*open_file)(PdFileNs *ns, const char *name, PdIOFlags flags, GError **error);
    /* The new empty file @name, made exclusively (an existing name fails with
     * PD_ERROR_EXISTS), with @def's permissions and nocow attribute, open for reading and
     * writing as a store named as volume @def->name will be (relative backing files resolve as
     * after the rename). On failure nothing is left (or it is remembered for @tidy). */
    PdIO *(*create)(PdFileNs *ns, const char *name, const PdVolDef *def, GError **error);
    /* Renames @from to @to, never replacing anything at @to (PD_ERROR_EXISTS). */
    bool (*rename_noreplace)(PdFileNs *ns, const char *from, const char *to, GError **error);
    /* Removes volume @name (a link: the link). PD_ERROR_NO_SUCH_VOLUME when it is gone. */
    bool (*unlink)(PdFileNs *ns, const char *name, GError **error);
    /* Removes the partial file @name after a failure, best effort (or remembers it for @tidy). */
    void (*discard)(PdFileNs *ns, const char *name);
    /* Optional: makes earlier renames and unlinks durable (a directory's fsync). NULL: they are
     * durable when they return (NFSv3 answers after the server committed them). */
    bool (*sync)(PdFileNs *ns, GError **error);
    /* Optional: makes @dst share the extents of @src_vol of @src_pool. 1 when done, 0 when not
     * possible here, -1 with @error. NULL: never possible (@no_reflink says why). */
    int (*reflink)(PdFileNs *ns, PdIO *dst, const PdPool *src_pool, const PdVol *src_vol,
                   GError **error);
    const char *no_reflink; /* with reflink NULL: "NFSv3 cannot share extents (reflink)" */

    /* ---- volumes ---- */
    /* The volumes are PD_VOL_NETWORK (no local path: a domain reaches them over the network);
     * else PD_VOL_FILE or PD_VOL_BLOCK as stat says. */
    bool network;
    /* Sets @vol's key and path for file @name. */
    void (*identify)(const PdPool *pool, const char *name, PdVol *vol);
    /* Whether @vol, as the catalog has it, is file @name of @pool (its key and path would not
     * change): the condition for sharing it unchanged. */
    bool (*same_place)(const PdPool *pool, const PdVol *vol, const char *name);
    /* Opens the backing file @path named by a new volume's definition to probe its format;
     * @data is the session. */
    PdImage *(*probe_backing)(const PdPool *pool, const char *path, void *data, GError **error);
    /* Optional: the backing file name a new overlay records for @path (the definition's);
     * NULL with @error when it cannot be. NULL: recorded as given. */
    char *(*backing_name)(const PdPool *pool, const char *path, GError **error);
    /* The backing file name of a linked clone on @src_vol of @src_pool; NULL with @error when
     * this namespace cannot link to it. */
    char *(*linked_backing)(const PdPool *pool, const PdPool *src_pool, const PdVol *src_vol,
                            GError **error);
} PdFileNsOps;

/* ---- the one implementation (pool-files.c): backend.h's callbacks over @ops ---- */

bool pd_file_pool_refresh(const PdFileNsOps *ops, const PdPool *pool, const GPtrArray *previous,
                          PdPoolRefresh *ret, GError **error);
bool pd_file_pool_cleanup_partial(const PdFileNsOps *ops, const PdPool *pool, unsigned *ret_removed,
                                  GError **error);
bool pd_file_pool_vol_refresh(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                              PdVol **ret_vol, GError **error);
PdImage *pd_file_pool_vol_open(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                               unsigned flags, GError **error);
bool pd_file_pool_vol_create(const PdFileNsOps *ops, const PdPool *pool, const PdVolDef *def,
                             unsigned flags, const PdBackendJob *job, PdVol **ret_vol,
                             GError **error);
bool pd_file_pool_vol_create_from(const PdFileNsOps *ops, const PdPool *pool, const PdVolDef *def,
                                  const PdPool *src_pool, const PdVol *src_vol, unsigned flags,
                                  const PdBackendJob *job, PdVol **ret_vol, GError **error);
bool pd_file_pool_vol_delete(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                             unsigned flags, GError **error);
bool pd_file_pool_vol_resize(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                             uint64_t capacity, unsigned flags, const PdBackendJob *job,
                             PdVol **ret_vol, GError **error);
bool pd_file_pool_vol_wipe(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                           PdWipeAlgorithm algorithm, unsigned flags, const PdBackendJob *job,
                           GError **error);
bool pd_file_pool_vol_upload(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol, int fd,
                             uint64_t offset, uint64_t length, unsigned flags,
                             const PdBackendJob *job, GError **error);
bool pd_file_pool_vol_download(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol, int fd,
                               uint64_t offset, uint64_t length, unsigned flags,
                               const PdBackendJob *job, GError **error);
bool pd_file_pool_vol_snapshot_list(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                    GArray **ret_snapshots, GError **error);
bool pd_file_pool_vol_snapshot_create(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                      const char *name, GError **error);
bool pd_file_pool_vol_snapshot_revert(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                      const char *name, GError **error);
bool pd_file_pool_vol_snapshot_delete(const PdFileNsOps *ops, const PdPool *pool, const PdVol *vol,
                                      const char *name, GError **error);

/* The backend callbacks of a pool of files over namespace @OPS (a const PdFileNsOps *), as
 * functions PREFIX_cleanup_partial, PREFIX_vol_create, ... of linkage STORAGE, and the table
 * entries that name them (PD_FILE_POOL_CALLBACKS): one description for every table of a pool
 * of files (dir, fs, netfs in both modes). Refresh is each table's own: fs and netfs in mount
 * mode check their mount first. */
#define PD_FILE_POOL_DEFINE(STORAGE, PREFIX, OPS)                                                  \
    STORAGE bool PREFIX##_cleanup_partial(const PdPool *pool, unsigned *ret_removed,               \
                                          GError **error)                                          \
    {                                                                                              \
        return pd_file_pool_cleanup_partial(OPS, pool, ret_removed, error);                        \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol,       \
                                      GError **error)                                              \
    {                                                                                              \
        return pd_file_pool_vol_refresh(OPS, pool, vol, ret_vol, error);                           \
    }                                                                                              \
    STORAGE PdImage *PREFIX##_vol_open(const PdPool *pool, const PdVol *vol, unsigned flags,       \
                                       GError **error)                                             \
    {                                                                                              \
        return pd_file_pool_vol_open(OPS, pool, vol, flags, error);                                \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_create(const PdPool *pool, const PdVolDef *def, unsigned flags,      \
                                     const PdBackendJob *job, PdVol **ret_vol, GError **error)     \
    {                                                                                              \
        return pd_file_pool_vol_create(OPS, pool, def, flags, job, ret_vol, error);                \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_create_from(                                                         \
        const PdPool *pool, const PdVolDef *def, const PdPool *src_pool, const PdVol *src_vol,     \
        unsigned flags, const PdBackendJob *job, PdVol **ret_vol, GError **error)                  \
    {                                                                                              \
        return pd_file_pool_vol_create_from(OPS, pool, def, src_pool, src_vol, flags, job,         \
                                            ret_vol, error);                                       \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_delete(const PdPool *pool, const PdVol *vol, unsigned flags,         \
                                     GError **error)                                               \
    {                                                                                              \
        return pd_file_pool_vol_delete(OPS, pool, vol, flags, error);                              \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_resize(const PdPool *pool, const PdVol *vol, uint64_t capacity,      \
                                     unsigned flags, const PdBackendJob *job, PdVol **ret_vol,     \
                                     GError **error)                                               \
    {                                                                                              \
        return pd_file_pool_vol_resize(OPS, pool, vol, capacity, flags, job, ret_vol, error);      \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_wipe(const PdPool *pool, const PdVol *vol,                           \
                                   PdWipeAlgorithm algorithm, unsigned flags,                      \
                                   const PdBackendJob *job, GError **error)                        \
    {                                                                                              \
        return pd_file_pool_vol_wipe(OPS, pool, vol, algorithm, flags, job, error);                \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_upload(const PdPool *pool, const PdVol *vol, int fd,                 \
                                     uint64_t offset, uint64_t length, unsigned flags,             \
                                     const PdBackendJob *job, GError **error)                      \
    {                                                                                              \
        return pd_file_pool_vol_upload(OPS, pool, vol, fd, offset, length, flags, job, error);     \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_download(const PdPool *pool, const PdVol *vol, int fd,               \
                                       uint64_t offset, uint64_t length, unsigned flags,           \
                                       const PdBackendJob *job, GError **error)                    \
    {                                                                                              \
        return pd_file_pool_vol_download(OPS, pool, vol, fd, offset, length, flags, job, error);   \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_snapshot_list(const PdPool *pool, const PdVol *vol,                  \
                                            GArray **ret_snapshots, GError **error)                \
    {                                                                                              \
        return pd_file_pool_vol_snapshot_list(OPS, pool, vol, ret_snapshots, error);               \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_snapshot_create(const PdPool *pool, const PdVol *vol,                \
                                              const char *name, GError **error)                    \
    {                                                                                              \
        return pd_file_pool_vol_snapshot_create(OPS, pool, vol, name, error);                      \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_snapshot_revert(const PdPool *pool, const PdVol *vol,                \
                                              const char *name, GError **error)                    \
    {                                                                                              \
        return pd_file_pool_vol_snapshot_revert(OPS, pool, vol, name, error);                      \
    }                                                                                              \
    STORAGE bool PREFIX##_vol_snapshot_delete(const PdPool *pool, const PdVol *vol,                \
                                              const char *name, GError **error)                    \
    {                                                                                              \
        return pd_file_pool_vol_snapshot_delete(OPS, pool, vol, name, error);                      \
    }

/* The table entries of PD_FILE_POOL_DEFINE's callbacks (refresh is left to each table: fs and
 * netfs in mount mode check their mount first). */
#define PD_FILE_POOL_CALLBACKS(PREFIX)                                                             \
    .cleanup_partial = PREFIX##_cleanup_partial, .vol_refresh = PREFIX##_vol_refresh,              \
    .vol_open = PREFIX##_vol_open, .vol_create = PREFIX##_vol_create,                              \
    .vol_create_from = PREFIX##_vol_create_from, .vol_delete = PREFIX##_vol_delete,                \
    .vol_resize = PREFIX##_vol_resize, .vol_wipe = PREFIX##_vol_wipe,                              \
    .vol_upload = PREFIX##_vol_upload, .vol_download = PREFIX##_vol_download,                      \
    .vol_snapshot_list = PREFIX##_vol_snapshot_list,                                               \
    .vol_snapshot_create = PREFIX##_vol_snapshot_create,                                           \
    .vol_snapshot_revert = PREFIX##_vol_snapshot_revert,                                           \
    .vol_snapshot_delete = PREFIX##_vol_snapshot_delete

G_END_DECLS
