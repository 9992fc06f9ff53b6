/* Volume operations at the image level, shared by the backends whose volumes are image files
 * (dir, and through it fs and netfs in mount mode; netfs in userspace mode over libnfs):
 * planning a create or a clone, writing a new image into an open store, copying through the
 * convert engine, resize with the shrink check, wipe, and snapshots. Where the files are and
 * how they are opened is the backend's; everything here works on a PdIO or a PdImage.
 *
 * Return convention: true on success, false with @error set; errors name the pool and volume
 * where the helper gets them. */
#pragma once

#include "pools/backend.h"

G_BEGIN_DECLS

/* What a create writes: engine options plus the raw prefix to reserve. */
typedef struct {
    PdCreateOptions opts;
    uint64_t reserve;   /* raw: bytes reserved with allocate from offset 0 */
    char *backing_file; /* owned; opts.backing_file points here */
} PdCreatePlan;

void pd_create_plan_clear(PdCreatePlan *plan);

/* Opens the backing file @path named by a new volume's definition to probe its format (the
 * definition gave none). NULL with @error. */
typedef PdImage *(*PdBackingProbeFunc)(const PdPool *pool, const char *path, void *data,
                                       GError **error);

/* The engine format of a new volume's format name (NULL: raw); PD_FORMAT_UNKNOWN with an
 * error naming the volume for a format poold cannot create. */
PdFormat pd_pool_image_create_format(const PdPool *pool, const char *name, const char *format,
                                     GError **error);

/* Fills @plan from @def and @flags (PdVolCreateFlags): format, size, qcow2 options, backing
 * file (its format from the definition, else probed through @probe), preallocation as
 * libvirt decides it. */
bool pd_pool_image_plan_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                               PdBackingProbeFunc probe, void *probe_data, PdCreatePlan *plan,
                               GError **error);

/* The plan of a copy of @src: @def's format (the source's when it has none), capacity at least
 * the source's. */
bool pd_pool_image_plan_clone(const PdPool *pool, const PdVolDef *def, PdImage *src,
                              PdCreatePlan *plan, GError **error);

/* The plan of a linked clone: a qcow2 overlay on @backing_file of @backing_format (NULL: not
 * recorded). Refuses another format in @def. */
bool pd_pool_image_plan_linked(const PdPool *pool, const PdVolDef *def, const char *backing_file,
                               const char *backing_format, PdCreatePlan *plan, GError **error);

/* Writes a new image per @plan into the empty, writable store @io (reserving the raw prefix
 * where the store can) and flushes it. @io stays the caller's. */
bool pd_pool_image_write_new(PdIO *io, const PdCreatePlan *plan, GError **error);

/* Creates an image per @plan in the empty store @io (taken over, closed on return) and copies
 * @src's guest data into it, sparse, through the convert engine with the job's progress and
 * cancellation. */
bool pd_pool_image_copy_into(PdImage *src, PdIO *io, const PdCreatePlan *plan,
                             const PdBackendJob *job, GError **error);

/* The shrink check of backend.h's vol_resize: false (PD_ERROR_INVALID_ARGUMENT) without
 * PD_VOL_RESIZE_SHRINK in @flags, or naming the first offset when anything readable non-zero
 * lies past @capacity in @img (block status skips what surely reads as zeroes, the rest is
 * read). Used by backends that resize by other means (the logical pool: lvresize). */
bool pd_pool_image_check_shrink(const PdPool *pool, const PdVol *vol, PdImage *img,
                                uint64_t capacity, unsigned flags, const PdBackendJob *job,
                                GError **error);

/* vol_resize on an open image (its backing chain open too, so a shrink does not cut what the
 * guest reads from it): the shrink check of backend.h, then the resize. */
bool pd_pool_image_resize(const PdPool *pool, const PdVol *vol, PdImage *img, uint64_t capacity,
                          unsigned flags, const PdBackendJob *job, GError **error);

/* vol_wipe on an image opened read-write without its backing chain. */
bool pd_pool_image_wipe(const PdPool *pool, const PdVol *vol, PdImage *img,
                        PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error);

/* The engine format @vol is opened as: its recorded format, PD_FORMAT_UNKNOWN (probe) when none
 * is recorded; false with PD_ERROR_UNSUPPORTED naming the volume for a format the engine does
 * not read. */
bool pd_pool_image_vol_format(const PdPool *pool, const PdVol *vol, PdFormat *ret_format,
                              GError **error);

/* vol_wipe of the image at @path, a device node the kernel or LVM names (an iSCSI LUN, a
 * logical volume: no file of a pool directory), with the volume's recorded format. */
bool pd_pool_image_wipe_at(const PdPool *pool, const PdVol *vol, const char *path,
                           PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error);

/* False with PD_ERROR_UNSUPPORTED naming the volume and its format unless it is qcow2 (the
 * format with internal snapshots). */
bool pd_pool_image_check_snapshots(const PdPool *pool, const PdVol *vol, GError **error);

/* Flushes and closes @img (taken); false with an error naming the volume when the flush
 * fails. */
bool pd_pool_image_close(PdImage *img, const PdPool *pool, const PdVol *vol, GError **error);

G_END_DECLS
