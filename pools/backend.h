/* The storage pool backend vtable (PdPoolBackend) and the runtime state of a pool (PdPool)
 * and of a volume (PdVol).
 *
 * Mechanism only, as libvirt's storage_backend.h: a backend turns one operation on one pool or
 * volume into filesystem, block-device, network or tool calls. Policy lives in daemon/: the
 * daemon has checked, before any callback runs, that
 *   - the pool exists and is in the state the operation needs (active for every vol_* call,
 *     inactive for build/delete, see each callback),
 *   - the volume named exists in its catalog (vol_* except vol_create) or that the new name
 *     is free and valid (pd_xml_name_valid) and is no hidden partial name,
 *   - nothing else works on that volume (no job holds it: VolumeBusy is the daemon's answer),
 *   - the client may do it (read-write socket), sizes and paths are inside its limits and a
 *     backing file lies inside the allowed roots.
 * A backend never touches SQLite, sockets, events or job accounting, never logs, and never
 * opens a path a client named (uploads and downloads come as file descriptors).
 *
 * Threads: every callback may run on a worker thread. Pool-level callbacks (build, start,
 * stop, delete, refresh) of one pool are serialised by the daemon; volume callbacks on
 * different volumes of one pool may run at the same time, and refresh may run while volume
 * jobs run (a refresh is never refused because of a job). So volume callbacks read the pool
 * (const) and never change pool->volumes: they return the new or changed PdVol and the daemon
 * updates its catalog.
 *
 * Return convention: true on success; false with @error set (PD_ERROR domain) whose message
 * names the pool and, for volume calls, the volume, and says what to do. ret_* outputs are
 * set only on success; the caller owns what they return. An operation the backend does not
 * have (NULL callback) answers PD_ERROR_UNSUPPORTED naming the pool type, through the
 * pd_pool_backend_* call wrappers at the end of this file, which the daemon uses instead of
 * calling the pointers itself.
 *
 * Undo: every create (vol_create, vol_create_from, build) undoes its own work on failure or
 * cancellation: nothing half-made is visible under the volume's name afterwards (a crash may
 * leave a hidden ".NAME.partial*" file; the daemon's start-up reconciliation removes those
 * through the cleanup_partial callback). Operations that change an existing volume in place
 * (resize, wipe, upload, snapshot revert) cannot always be undone; each says what state a
 * failure leaves. */
#pragma once

#include "formats/image/image.h"
#include "xml/pool-xml.h"
#include "xml/vol-xml.h"

#include <gio/gio.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- runtime state --------------------------------------------------------------------- */

/* One volume as the catalog knows it. All strings owned. */
typedef struct {
    char *name; /* the name in the pool: a file name for dir pools */
    char *key;  /* unique over the daemon: the path for dir pools (libvirt's key) */
    char *path; /* what a domain's <disk> points at; NULL for network volumes */
    PdVolType type;
    /* "raw", "qcow2", "iso", ... (libvirt's names). The recorded format is authoritative:
     * a backend opens the volume as this format and never probes it. NULL = not recorded yet
     * (a file that appeared behind the daemon's back): refresh probes it, once. */
    char *format;
    uint64_t capacity;    /* virtual size in bytes */
    uint64_t allocation;  /* bytes allocated on the storage */
    uint64_t physical;    /* bytes of the file or device itself (file size) */
    char *backing_path;   /* as recorded in the image; NULL without a backing file */
    char *backing_format; /* as recorded; NULL when the image does not record it */
    /* qcow2 details for vol-dumpxml; NULL / 0 / false for other formats */
    char *compat; /* "0.10" or "1.1" */
    uint64_t cluster_size;
    bool lazy_refcounts;
    /* owner and mode of the file (vol-dumpxml <permissions>) */
    uint32_t mode; /* permission bits only (07777) */
    uint32_t uid;
    uint32_t gid;
    PdVolTimestamps timestamps;
    /* Stat identity, for incremental refresh: a file whose size, mtime and inode are all
     * unchanged is not reopened (its format, capacity and backing are kept from the
     * catalog). 0 when unknown (forces a reopen). */
    uint64_t stat_size;
    int64_t stat_mtime_ns; /* nanoseconds since the epoch */
    uint64_t stat_inode;
    int refs; /* pd_vol_ref / pd_vol_free (atomic) */
} PdVol;

/* A volume with every field empty (timestamps absent). Never NULL. */
PdVol *pd_vol_new(void);
/* Drops a reference; the last one frees. NULL is fine. */
void pd_vol_free(PdVol *vol);
/* A deep copy, with a reference of its own. */
PdVol *pd_vol_copy(const PdVol *vol);
/* Another reference to @vol, which nobody may change from then on: a volume in the catalog is
 * never changed in place (a change replaces it), so a refresh on a worker can share the
 * catalog's volumes instead of copying them all. Any thread. */
PdVol *pd_vol_ref(const PdVol *vol);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdVol, pd_vol_free)

/* One pool at run time. */
typedef struct {
    PdPoolDef *def;                           /* owned; the definition the pool was started with */
    uint64_t capacity, allocation, available; /* bytes, from the last refresh */
    GPtrArray *volumes;                       /* PdVol *, owned, sorted by name; never NULL */
    /* Backend state between start and stop (a mount, a libnfs or libiscsi context). Set only
     * by start, cleared by stop; NULL for dir pools. */
    void *backend_data;
    /* The secret of the pool's <source><auth> (CHAP password), resolved by the daemon from its
     * secret store and set before start; NULL without auth. NUL-terminated; a backend copies
     * what it needs into backend_data at start and never logs or returns it. pd_pool_free
     * wipes it. */
    char *auth_secret;
} PdPool;

/* A pool for @def (taken over), no volumes, zero sizes. Never NULL. */
PdPool *pd_pool_new(PdPoolDef *def);
void pd_pool_free(PdPool *pool); /* NULL is fine; backend_data must have been cleared by stop */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdPool, pd_pool_free)

/* The volume named @name, or NULL (binary search in the sorted list). Not owned. */
PdVol *pd_pool_find_vol(const PdPool *pool, const char *name);

/* What refresh found. pd_pool_refresh_apply moves it into a pool. */
typedef struct {
    uint64_t capacity, allocation, available;
    GPtrArray *volumes; /* PdVol *, owned, sorted by name */
    /* statistics for metrics and tests */
    unsigned n_volumes;  /* volumes found */
    unsigned n_reopened; /* images opened: new, changed or without a recorded format */
    unsigned n_probed;   /* of those, opened without a recorded format (format guessed) */
} PdPoolRefresh;

/* Frees what @refresh holds (not @refresh itself) and zeroes it. */
void pd_pool_refresh_clear(PdPoolRefresh *refresh);
/* Moves sizes and volumes of @refresh into @pool (replacing its list); clears @refresh. */
void pd_pool_refresh_apply(PdPool *pool, PdPoolRefresh *refresh);

/* ---- long operations ------------------------------------------------------------------- */

/* Progress of a long operation: @done of @total bytes. Called on the thread running the
 * callback; must be quick (the daemon stores numbers and returns). */
typedef void (*PdBackendProgressFunc)(uint64_t done, uint64_t total, void *user_data);

/* What the daemon's job gives a long callback. NULL, or any field NULL, is fine. A callback
 * that sees @cancellable cancelled stops at the next piece, undoes what it must (as for a
 * failure) and fails with PD_ERROR_CANCELLED. */
typedef struct {
    PdBackendProgressFunc progress;
    void *progress_data;
    GCancellable *cancellable;
} PdBackendJob;

/* ---- how a domain reaches a volume ------------------------------------------------------- */

typedef enum {
    PD_DISK_SOURCE_FILE,    /* <disk type='file'><source file=path> */
    PD_DISK_SOURCE_BLOCK,   /* <disk type='block'><source dev=path> */
    PD_DISK_SOURCE_NETWORK, /* <disk type='network'><source protocol= name=><host name= port=> */
} PdDiskSourceType;

/* What the daemon needs to build a libvirt <disk> for a volume. All strings owned. */
typedef struct {
    PdDiskSourceType type;
    char *path;         /* FILE and BLOCK */
    char *protocol;     /* NETWORK: "nfs" or "iscsi" */
    char *name;         /* NETWORK: nfs: "/export/dir/vol"; iscsi: "IQN/LUN" */
    char *host_name;    /* NETWORK */
    unsigned host_port; /* NETWORK; 0 = the protocol's default */
    /* NETWORK with CHAP: the pool's <auth> (username and secret usage/uuid), else NULL */
    char *auth_username;
    char *auth_secret_usage;
    char *auth_secret_uuid;
} PdDiskSource;

void pd_disk_source_free(PdDiskSource *source); /* NULL is fine */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdDiskSource, pd_disk_source_free)

/* ---- flags ------------------------------------------------------------------------------ */

typedef enum {
    PD_POOL_BUILD_OVERWRITE = 1 << 0,    /* virsh pool-build --overwrite */
    PD_POOL_BUILD_NO_OVERWRITE = 1 << 1, /* virsh pool-build --no-overwrite */
} PdPoolBuildFlags;

typedef enum {
    PD_POOL_DELETE_ZEROED = 1 << 0, /* libvirt's flag; backends without it refuse it */
} PdPoolDeleteFlags;

typedef enum {
    /* Write zeroes over every byte (preallocation=full): for filesystems where fallocate is
     * not real (libvirt's allocation then means written). poold extension. */
    PD_VOL_CREATE_PREALLOC_FULL = 1 << 0,
    /* vol-clone --reflink / vol-create-from --reflink: share the source's extents; fail with
     * PD_ERROR_UNSUPPORTED when the filesystem cannot (instead of copying). */
    PD_VOL_CREATE_REFLINK = 1 << 1,
    /* vol_create_from only: make a linked clone, a qcow2 overlay whose backing file is the
     * source volume (the new definition's format must be qcow2). */
    PD_VOL_CREATE_LINKED = 1 << 2,
    /* vol_create only, group commit: the volume's data must be durable as always, but its
     * rename into place need not be yet; the daemon calls sync before it answers. Only given
     * to backends that have a sync callback. */
    PD_VOL_CREATE_NO_SYNC = 1 << 3,
} PdVolCreateFlags;

typedef enum {
    /* vol-delete --delete-snapshots: also remove snapshots that live outside the volume (LVM
     * snapshots of an LV). Without it a backend refuses to delete a volume that has such
     * snapshots, naming them (libvirt's VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS). Internal
     * qcow2 snapshots are part of the file and go with it either way. */
    PD_VOL_DELETE_WITH_SNAPSHOTS = 1 << 0,
    /* Group commit: the unlink need not be durable yet; the daemon calls sync before it
     * answers. Only given to backends that have a sync callback. */
    PD_VOL_DELETE_NO_SYNC = 1 << 1,
} PdVolDeleteFlags;

typedef enum {
    PD_VOL_RESIZE_ALLOCATE = 1 << 0, /* reserve the new space (fallocate), vol-resize --allocate */
    PD_VOL_RESIZE_SHRINK = 1 << 1,   /* a smaller capacity is allowed (vol-resize --shrink) */
} PdVolResizeFlags;

typedef enum {
    PD_WIPE_ZERO = 0, /* write zeroes over the guest data, keeping the format's structure */
    PD_WIPE_RANDOM,   /* write random bytes over the whole guest-visible range */
    PD_WIPE_TRIM,     /* discard everything (reads back as zeroes); fails where unsupported */
    PD_WIPE_COUNT
} PdWipeAlgorithm;

/* "zero", "random", "trim" (virsh vol-wipe --algorithm names) <-> enum; -1 when unknown. */
const char *pd_wipe_algorithm_name(PdWipeAlgorithm algorithm);
int pd_wipe_algorithm_from_name(const char *name);

typedef enum {
    PD_VOL_XFER_SPARSE = 1 << 0, /* vol-upload/vol-download --sparse: keep holes as holes */
} PdVolTransferFlags;

/* What a backend's pools are like, for the policy above it (daemon/), instead of branches on
 * the pool type. */
typedef enum {
    /* No free-space accounting: the volumes are the storage's own (an iSCSI target's LUNs),
     * so a create is not checked against the pool's available bytes; the backend answers. */
    PD_BACKEND_CAP_NO_SPACE_CHECK = 1 << 0,
} PdPoolBackendCaps;

/* ---- the vtable ------------------------------------------------------------------------- */

typedef struct {
    PdPoolType type;
    unsigned capabilities; /* PdPoolBackendCaps */

    /* Lists the sources a host offers (find-storage-pool-sources-as): NFS exports, iSCSI
     * targets, LVM volume groups. @spec is a definition whose <source> holds what the user
     * gave (host, port, initiator); may be NULL. *ret_sources: PdPoolDef * holding only a
     * <source> each. Optional (NULL: unsupported). Nothing to undo. */
    bool (*find_sources)(const PdPoolDef *spec, unsigned flags, GPtrArray **ret_sources,
                         GError **error);

    /* Makes the pool's storage exist (mkdir, mkfs, vgcreate). Pool inactive. @flags:
     * PdPoolBuildFlags, never both. Optional (NULL: nothing to build, success, as libvirt).
     * Undo: whatever this call created is removed again on failure. */
    bool (*build)(PdPool *pool, unsigned flags, GError **error);

    /* Makes the pool usable (check the target, mount, log in, activate) and may set
     * pool->backend_data. Pool inactive. Optional (NULL: nothing to do). Undo: on failure
     * the pool is left as before (unmounted, logged out, backend_data NULL). The daemon
     * calls refresh after a successful start. */
    bool (*start)(PdPool *pool, GError **error);

    /* Reverses start and clears backend_data. Pool active, no job on it. Optional (NULL:
     * nothing to do). On failure the pool stays usable (still mounted...). */
    bool (*stop)(PdPool *pool, GError **error);

    /* Destroys the pool's storage (rmdir, vgremove). Pool inactive. @flags:
     * PdPoolDeleteFlags. Optional (NULL: unsupported). Refuses, changing nothing, when the
     * storage still holds volumes. */
    bool (*delete)(PdPool *pool, unsigned flags, GError **error);

    /* Makes durable what earlier vol_create / vol_delete calls with a NO_SYNC flag changed in
     * the pool's namespace (the renames and unlinks: for a directory, one fsync of it), so
     * the daemon can answer a burst of pipelined calls after one sync instead of one each
     * (group commit). @pool holds only the definition's type, name and target path (no
     * volumes, no backend_data): the pool may have been stopped meanwhile, and then there is
     * nothing left to do. Any thread. Optional (NULL: the daemon never passes NO_SYNC flags). */
    bool (*sync)(const PdPool *pool, GError **error);

    /* Reads sizes and the volume list. Pool active. Required. @previous: the catalog as the
     * daemon knows it (PdVol *, any order, not changed; NULL: none, everything is opened).
     * A volume found in @previous with an unchanged stat identity and a recorded format is
     * not reopened; a changed one is reopened with its recorded format; one without a
     * recorded format is probed. Hidden partial files are skipped. Nothing to undo; on
     * failure @ret is untouched. */
    bool (*refresh)(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                    GError **error);

    /* Removes what interrupted creates left behind: hidden partial files of other processes
     * (a crashed poold), never those of a create running in this one, so it is safe at any
     * time; the daemon calls it when it reconciles at start-up and after starting a pool.
     * Pool active. *ret_removed (may be NULL): how many were removed. Optional (NULL: nothing
     * to clean, success). */
    bool (*cleanup_partial)(const PdPool *pool, unsigned *ret_removed, GError **error);

    /* Re-reads one volume (after a change made through the daemon: create, resize, wipe,
     * upload, snapshot) with its recorded format. Pool active. Required for pools with
     * volumes. *ret_vol: the new state. */
    bool (*vol_refresh)(const PdPool *pool, const PdVol *vol, PdVol **ret_vol, GError **error);

    /* Opens a volume's image with the engine, for copying from it (vol_create_from of any
     * pool may read a volume of this pool) and for checks. @flags: PdOpenFlags. Optional
     * (NULL: pd_pool_backend_vol_open opens vol->path as vol->format, probing only when no
     * format is recorded). */
    PdImage *(*vol_open)(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error);

    /* Creates a volume from @def (name, capacity, allocation, format, permissions, backing
     * store, prealloc_metadata). The name is free. @flags: PdVolCreateFlags. Preallocation
     * as libvirt: raw reserves def->allocation bytes (all of it when the XML gave none);
     * qcow2 maps metadata with prealloc_metadata, or reserves everything when allocation
     * equals capacity as well. A backing store makes an overlay whose capacity defaults to
     * the backing file's. The backing file's format is def->backing->format when
     * format_given is true, else the backing file is probed (libvirt's behaviour): so when
     * the daemon fills the format from its catalog it must set format_given = true, or a
     * raw volume holding a guest-written qcow2 header would be taken for qcow2. Optional
     * (NULL: unsupported, e.g. iSCSI LUNs).
     * Undo: built under a hidden partial name and renamed into place only when complete;
     * on failure or cancellation nothing is left. *ret_vol: the new volume. */
    bool (*vol_create)(const PdPool *pool, const PdVolDef *def, unsigned flags,
                       const PdBackendJob *job, PdVol **ret_vol, GError **error);

    /* Creates a volume from @def holding a copy of @src_vol of @src_pool (which may be
     * another pool, of another type; it is active and @src_vol is not being changed). A
     * capacity of 0 in @def means the source's; a bigger one grows the copy; a smaller one is
     * refused. A different format in @def converts. Copies are sparse; reflink is used where
     * source and target are files of one filesystem and no conversion is needed.
     * PD_VOL_CREATE_LINKED makes a qcow2 overlay on the source instead of copying.
     * Progress: bytes of guest data. Optional (NULL: unsupported). Undo: as vol_create. */
    bool (*vol_create_from)(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                            const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                            PdVol **ret_vol, GError **error);

    /* Removes the volume. The daemon has checked it is not attached and not the backing file
     * of another volume it knows. @flags: PdVolDeleteFlags. Optional (NULL: unsupported). On failure the
     * volume is still there. */
    bool (*vol_delete)(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error);

    /* Sets the capacity to @capacity (absolute bytes: the daemon turns --delta into it).
     * @flags: PdVolResizeFlags. A smaller capacity needs PD_VOL_RESIZE_SHRINK and is refused
     * (changing nothing, PD_ERROR_INVALID_ARGUMENT naming the first offset that holds data)
     * when anything readable non-zero lies past the new end. Optional (NULL: unsupported).
     * On failure the volume keeps its old capacity (a growing raw file may keep a partial
     * reservation). *ret_vol may be NULL; else the new state. */
    bool (*vol_resize)(const PdPool *pool, const PdVol *vol, uint64_t capacity, unsigned flags,
                       const PdBackendJob *job, PdVol **ret_vol, GError **error);

    /* Wipes the guest-visible data with @algorithm, keeping the volume's format (a qcow2
     * volume stays a valid qcow2 of the same capacity; internal snapshots keep their data).
     * Optional (NULL: unsupported). A failure or cancellation leaves the volume partly
     * wiped (a valid image). */
    bool (*vol_wipe)(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                     unsigned flags, const PdBackendJob *job, GError **error);

    /* Writes bytes read from @fd (up to end of file, or @length bytes when not 0) into the
     * volume's storage at byte @offset: the stored bytes (a qcow2 file's own bytes, as
     * libvirt), not guest data. @fd belongs to the caller (not closed); it may be a pipe.
     * @flags: PdVolTransferFlags (sparse: all-zero blocks and holes of a seekable @fd become
     * holes). The recorded format does not change. Optional (NULL: unsupported). A failure
     * leaves the bytes written so far. */
    bool (*vol_upload)(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                       uint64_t length, unsigned flags, const PdBackendJob *job, GError **error);

    /* Writes the volume's stored bytes from @offset (@length bytes, 0 = to the end) to @fd
     * (the caller's, not closed; a pipe or a file). Sparse: holes are skipped with lseek on a
     * seekable @fd (and the file extended to its full length at the end); on a pipe they are
     * written as zeroes. A reader that goes away raises SIGPIPE: the daemon ignores that
     * signal (the call then fails with EPIPE). Optional (NULL: unsupported). Nothing to
     * undo. */
    bool (*vol_download)(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                         uint64_t length, unsigned flags, const PdBackendJob *job, GError **error);

    /* Internal snapshots (qcow2 in dir pools, LVM snapshots in logical pools). Optional each
     * (NULL: unsupported); a format without snapshots answers PD_ERROR_UNSUPPORTED naming
     * the volume and its format. The daemon has checked the volume is not attached
     * (revert) and that a new name is free. */
    /* *ret_snapshots: GArray of PdSnapshotInfo (formats/image.h), free with g_array_unref. */
    bool (*vol_snapshot_list)(const PdPool *pool, const PdVol *vol, GArray **ret_snapshots,
                              GError **error);
    /* Undo: a failed create leaves no snapshot. */
    bool (*vol_snapshot_create)(const PdPool *pool, const PdVol *vol, const char *name,
                                GError **error);
    /* Makes the guest data that of the snapshot again. A failure leaves the image valid
     * (the engine orders its writes), possibly unchanged. */
    bool (*vol_snapshot_revert)(const PdPool *pool, const PdVol *vol, const char *name,
                                GError **error);
    bool (*vol_snapshot_delete)(const PdPool *pool, const PdVol *vol, const char *name,
                                GError **error);

    /* How a domain reaches the volume (attach-disk). Pool active. Optional (NULL: a FILE
     * source at vol->path for PD_VOL_FILE volumes, a BLOCK source for PD_VOL_BLOCK ones, see
     * pd_pool_backend_vol_disk_source). Network pools answer a NETWORK source. */
    bool (*vol_disk_source)(const PdPool *pool, const PdVol *vol, PdDiskSource **ret_source,
                            GError **error);
} PdPoolBackend;

/* The backend for @type, or NULL with PD_ERROR_UNSUPPORTED naming the type when poold has
 * none (yet). Static data, not freed. For netfs this is the userspace backend; the daemon
 * uses pd_pool_backend_for_def, which also honours the definition's netfs mode. */
const PdPoolBackend *pd_pool_backend_for_type(PdPoolType type, GError **error);

/* The backend a pool of definition @def runs on: per type, and for netfs per netfs_mode
 * (AUTO: mount when the kernel lists nfs in /proc/filesystems, else userspace). The daemon
 * chooses it again at every start (a changed definition may change the mode). */
const PdPoolBackend *pd_pool_backend_for_def(const PdPoolDef *def, GError **error);

/* The backends, one file each in pools/ (a NULL-free table of designated initializers).
 * netfs has two: mount (the kernel's NFS client, then the dir pool's code) and userspace
 * (libnfs). */
extern const PdPoolBackend pd_pool_backend_dir;
extern const PdPoolBackend pd_pool_backend_fs;          /* a block device, mounted */
extern const PdPoolBackend pd_pool_backend_netfs_mount; /* netfs through the kernel */
/* netfs through libnfs (userspace); in the module poold-nfs.so (backend-module.h) */
extern const PdPoolBackend pd_pool_backend_netfs_nfs;
extern const PdPoolBackend pd_pool_backend_iscsi; /* iscsi through the kernel */
/* iscsi-direct through libiscsi; in the module poold-iscsi.so (backend-module.h) */
extern const PdPoolBackend pd_pool_backend_iscsi_direct;
extern const PdPoolBackend pd_pool_backend_logical; /* pool-logical.c, LVM through lvm.h */

/* Sets PD_ERROR_UNSUPPORTED: "pool 'NAME': pool type 'TYPE' does not support OPERATION". */
void pd_pool_backend_unsupported(GError **error, const PdPool *pool, const char *operation);

/* ---- call wrappers ----------------------------------------------------------------------
 * The daemon calls these, never the pointers: each answers PD_ERROR_UNSUPPORTED naming the
 * pool type for a NULL callback (or succeeds where NULL means nothing to do: build, start,
 * stop), checks flags it knows are invalid, and otherwise returns what the callback returns.
 * The conventions are the callbacks'. */
bool pd_pool_backend_find_sources(const PdPoolBackend *be, const PdPoolDef *spec, unsigned flags,
                                  GPtrArray **ret_sources, GError **error);
bool pd_pool_backend_build(const PdPoolBackend *be, PdPool *pool, unsigned flags, GError **error);
bool pd_pool_backend_start(const PdPoolBackend *be, PdPool *pool, GError **error);
bool pd_pool_backend_stop(const PdPoolBackend *be, PdPool *pool, GError **error);
bool pd_pool_backend_delete(const PdPoolBackend *be, PdPool *pool, unsigned flags, GError **error);
bool pd_pool_backend_refresh(const PdPoolBackend *be, const PdPool *pool, const GPtrArray *previous,
                             PdPoolRefresh *ret, GError **error);
bool pd_pool_backend_cleanup_partial(const PdPoolBackend *be, const PdPool *pool,
                                     unsigned *ret_removed, GError **error);
bool pd_pool_backend_vol_refresh(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                 PdVol **ret_vol, GError **error);
PdImage *pd_pool_backend_vol_open(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                  unsigned flags, GError **error);
bool pd_pool_backend_vol_create(const PdPoolBackend *be, const PdPool *pool, const PdVolDef *def,
                                unsigned flags, const PdBackendJob *job, PdVol **ret_vol,
                                GError **error);
bool pd_pool_backend_vol_create_from(const PdPoolBackend *be, const PdPool *pool,
                                     const PdVolDef *def, const PdPool *src_pool,
                                     const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                                     PdVol **ret_vol, GError **error);
bool pd_pool_backend_vol_delete(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                unsigned flags, GError **error);
bool pd_pool_backend_vol_resize(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                uint64_t capacity, unsigned flags, const PdBackendJob *job,
                                PdVol **ret_vol, GError **error);
bool pd_pool_backend_vol_wipe(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                              PdWipeAlgorithm algorithm, unsigned flags, const PdBackendJob *job,
                              GError **error);
bool pd_pool_backend_vol_upload(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                int fd, uint64_t offset, uint64_t length, unsigned flags,
                                const PdBackendJob *job, GError **error);
bool pd_pool_backend_vol_download(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                  int fd, uint64_t offset, uint64_t length, unsigned flags,
                                  const PdBackendJob *job, GError **error);
bool pd_pool_backend_vol_snapshot_list(const PdPoolBackend *be, const PdPool *pool,
                                       const PdVol *vol, GArray **ret_snapshots, GError **error);
bool pd_pool_backend_vol_snapshot_create(const PdPoolBackend *be, const PdPool *pool,
                                         const PdVol *vol, const char *name, GError **error);
bool pd_pool_backend_vol_snapshot_revert(const PdPoolBackend *be, const PdPool *pool,
                                         const PdVol *vol, const char *name, GError **error);
bool pd_pool_backend_vol_snapshot_delete(const PdPoolBackend *be, const PdPool *pool,
                                         const PdVol *vol, const char *name, GError **error);
/* Calls sync when the backend has one (else nothing to do: success). */
bool pd_pool_backend_sync(const PdPoolBackend *be, const PdPool *pool, GError **error);
bool pd_pool_backend_vol_disk_source(const PdPoolBackend *be, const PdPool *pool, const PdVol *vol,
                                     PdDiskSource **ret_source, GError **error);

/* The volume XML of @vol in @pool (vol-dumpxml), as a definition the daemon formats with
 * pd_vol_def_format, laid out as libvirtd shows the same file (no compat/clusterSize of an
 * existing volume; <backingStore> with the backing file's permissions and timestamps, for
 * which it stats a local backing file: the one I/O it does). Caller frees. */
PdVolDef *pd_vol_to_def(const PdPool *pool, const PdVol *vol);

/* True for the hidden names under which volumes are built (".NAME.partial*"): refresh skips
 * them, cleanup_partial removes them, and the daemon refuses them as volume names
 * (pd_vol_name_is_partial of xml/vol-xml.h, which pd_vol_name_check uses). */
bool pd_pool_util_is_partial_name(const char *name);
/* The order of pool->volumes and of every volume list (by name, strcmp), which
 * pd_pool_find_vol's binary search depends on: a GCompareFunc over PdVol **. */
gint pd_vol_compare_name(gconstpointer a, gconstpointer b);
/* Whether a file found in a pool's directory or export may be listed as a volume by its
 * name: not a partial name, and UTF-8 (libvirt's XML and every answer carry names as text; a
 * file named otherwise, made behind poold's back, would break every listing of the pool). */
bool pd_pool_util_is_volume_file_name(const char *name);

G_END_DECLS
