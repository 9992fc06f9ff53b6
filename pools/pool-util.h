/* Helpers shared by the backends of pools/ (dir today; fs and netfs in mount mode reuse the
 * dir code through pool-dir.h; logical and iscsi use the partial-name, permission, transfer
 * and job helpers). Not for daemon/: it sees backend.h only.
 *
 * Return convention: true on success, false with @error set (PD_ERROR domain); ret_* outputs
 * set only on success. */
#pragma once

#include "pools/backend.h"

#include <sys/stat.h>

G_BEGIN_DECLS

/* Error helpers: messages start with "pool 'P': volume 'V': " (volume part left out when
 * @vol_name is NULL). */
void pd_pool_util_error(GError **error, const PdPool *pool, const char *vol_name, int code,
                        const char *fmt, ...) G_GNUC_PRINTF(5, 6);
/* Same for an errno value (code from pd_error_code_from_errno, strerror appended). */
void pd_pool_util_error_errno(GError **error, const PdPool *pool, const char *vol_name, int errnum,
                              const char *fmt, ...) G_GNUC_PRINTF(5, 6);
/* Prefixes an existing error with "pool 'P': volume 'V': " unless it starts with that
 * already. @error NULL or unset is fine. */
void pd_pool_util_prefix_error(GError **error, const PdPool *pool, const char *vol_name);

/* ---- jobs -------------------------------------------------------------------------------- */

/* Progress, if the job wants it. */
void pd_pool_util_progress(const PdBackendJob *job, uint64_t done, uint64_t total);
/* False with PD_ERROR_CANCELLED naming the pool and volume when the job is cancelled. */
bool pd_pool_util_check_cancel(const PdBackendJob *job, const PdPool *pool, const char *vol_name,
                               GError **error);

/* Bridges a job's GCancellable to the convert engine's atomic flag (PdConvertOptions.cancel).
 * Init connects (the flag is set at once when already cancelled); clear disconnects. */
typedef struct {
    gint flag;
    GCancellable *cancellable; /* not owned */
    gulong handler;
} PdCancelBridge;
void pd_cancel_bridge_init(PdCancelBridge *bridge, const PdBackendJob *job);
void pd_cancel_bridge_clear(PdCancelBridge *bridge);

/* ---- hidden partial files ---------------------------------------------------------------- */

/* pd_vol_name_check (the one check of a volume name), the error prefixed with the pool: a
 * backend's defence in depth (the daemon checks first), as it runs as root. */
bool pd_pool_util_check_vol_name(const PdPool *pool, const char *name, GError **error);

/* Sets FS_NOCOW_FL (btrfs) on an empty file; best effort (ignored where the filesystem has
 * none), as libvirt. */
void pd_pool_util_set_nocow(int fd);

/* fsync of a directory, making a rename or unlink in it durable. */
bool pd_pool_util_sync_dir(const char *dir, GError **error);

/* ---- permissions and sizes --------------------------------------------------------------- */

/* chmod (when @perms->mode is set, else to @default_mode unless it is (mode_t)-1) and chown
 * (when owner or group is set) of @path. EPERM on chown to the ids the file has already is no
 * error. */
bool pd_pool_util_apply_perms(const char *path, const PdPerms *perms, mode_t default_mode,
                              GError **error);
/* The same through descriptor @fd (never by name: nothing can swap the file meanwhile); @name
 * is what errors call it. */
bool pd_pool_util_apply_perms_fd(int fd, const char *name, const PdPerms *perms,
                                 mode_t default_mode, GError **error);

/* capacity, allocation, available of the filesystem holding @path, as libvirt computes them
 * from statvfs: allocation = blocks - free, available = free blocks (f_bfree, root's
 * reserve included), so that capacity = allocation + available. */
bool pd_pool_util_statvfs(const char *path, uint64_t *ret_capacity, uint64_t *ret_allocation,
                          uint64_t *ret_available, GError **error);

/* Fills the stat-derived fields of @vol: type (file/block), allocation, physical, mode, uid,
 * gid, timestamps and the stat identity. For a regular file capacity is set to its size too
 * (an image read afterwards overrides it). */
void pd_pool_util_vol_set_stat(PdVol *vol, const struct stat *st);

/* Fills format, capacity, backing and qcow2 details of @vol from an open image. */
bool pd_pool_util_vol_set_image(PdVol *vol, PdImage *img, GError **error);
/* The same from what pd_image_get_info or pd_image_read_info said. */
void pd_pool_util_vol_set_info(PdVol *vol, const PdImageInfo *info);

/* ---- transfers --------------------------------------------------------------------------- */

/* vol_upload / vol_download over a store: a local file, an NFS file, a LUN (the conventions of
 * the callbacks in backend.h). @fixed_size: the store cannot grow (a block device, a LUN):
 * uploads past its end are refused and sparse uploads write zeroes (a discard need not read
 * back as zeroes there). Holes are made with discard and found with data_status where the
 * store has them. @io stays the caller's. */
bool pd_pool_util_upload_io(const PdPool *pool, const PdVol *vol, PdIO *io, bool fixed_size, int fd,
                            uint64_t offset, uint64_t length, unsigned flags,
                            const PdBackendJob *job, GError **error);
bool pd_pool_util_download_io(const PdPool *pool, const PdVol *vol, PdIO *io, int fd,
                              uint64_t offset, uint64_t length, unsigned flags,
                              const PdBackendJob *job, GError **error);

/* The same for volumes that are local files or block devices at @path. */
bool pd_pool_util_upload_path(const PdPool *pool, const PdVol *vol, const char *path, int fd,
                              uint64_t offset, uint64_t length, unsigned flags,
                              const PdBackendJob *job, GError **error);
bool pd_pool_util_download_path(const PdPool *pool, const PdVol *vol, const char *path, int fd,
                                uint64_t offset, uint64_t length, unsigned flags,
                                const PdBackendJob *job, GError **error);

/* True when all @len bytes at @buf are zero. */
bool pd_pool_util_is_zero(const void *buf, size_t len);

G_END_DECLS
