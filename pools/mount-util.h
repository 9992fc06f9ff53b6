/* Mounting for the pools that become a directory once started (fs: a block device with a
 * filesystem; netfs in mount mode: an NFS export through the kernel's client): mount and umount
 * argv built by functions the tests print, run with a deadline (pd_cmd_run), and the mount
 * table (/proc/self/mountinfo) to see what is mounted where.
 *
 * Return convention: true on success, false with @error set (PD_ERROR domain) naming the pool;
 * ret_* outputs set only on success. */
#pragma once

#include "pools/backend.h"

G_BEGIN_DECLS

/* Default deadline of mount and umount, in milliseconds; the environment variable
 * POOLD_MOUNT_TIMEOUT (seconds, 1-3600) overrides it, for tests and slow servers. */
#define PD_MOUNT_TIMEOUT_DEFAULT_MS (30 * 1000)
unsigned pd_mount_timeout_ms(void);

/* ---- argv builders (NULL-terminated; caller frees with g_strfreev) ---------------------- */

/* mount [-t FSTYPE] [-o OPTIONS] SOURCE TARGET; @fstype NULL or "auto" lets mount probe,
 * @options NULL or "" adds no -o. */
char **pd_mount_argv(const char *fstype, const char *source, const char *target,
                     const char *options);
/* umount TARGET */
char **pd_umount_argv(const char *target);

/* "HOST:DIR" as mount.nfs wants it ("[ADDR]:DIR" for an IPv6 address). Caller frees. */
char *pd_mount_nfs_source(const char *host, const char *dir);

/* The -o options of an NFS mount of @def, comma-separated: libvirt's nodev,nosuid,noexec; a
 * soft mount whose calls fail after about @timeout_s seconds (timeo/retrans) and no
 * background retries (retry=0); vers= from <protocol ver>, port= from <host port>; then the
 * pool's mount_opts, last so that they win. Caller frees. */
char *pd_mount_nfs_options(const PdPoolDef *def, unsigned timeout_s);

/* The pool's mount_opts joined with commas, or NULL when there are none. Caller frees. */
char *pd_mount_join_options(const GPtrArray *mount_opts);

/* ---- the mount table --------------------------------------------------------------------- */

/* One line of /proc/self/mountinfo. Strings owned, octal escapes (\040) decoded. */
typedef struct {
    unsigned major, minor; /* st_dev of the mounted filesystem */
    char *mount_point;
    char *fstype;
    char *source; /* "/dev/loop0", "127.0.0.1:/srv/export" */
} PdMountEntry;

void pd_mount_entry_clear(PdMountEntry *entry);

/* The topmost mount at @mount_point (an absolute path without symlinks: see
 * pd_mount_find) in the mountinfo text @mountinfo. Returns 1 and fills *ret when found, 0
 * when nothing is mounted there. Lines that do not parse are skipped. */
int pd_mount_lookup(const char *mountinfo, const char *mount_point, PdMountEntry *ret);

/* Where device @rdev (st_rdev of a block device) is mounted: the first mount point, or NULL.
 * Caller frees. */
char *pd_mount_lookup_device(const char *mountinfo, dev_t rdev);

/* pd_mount_lookup on /proc/self/mountinfo for @path (resolved with realpath first). Returns 1
 * (found, *ret filled), 0 (not a mount point), -1 with @error (unreadable table, path
 * missing). */
int pd_mount_find(const PdPool *pool, const char *path, PdMountEntry *ret, GError **error);

/* ---- running ------------------------------------------------------------------------------ */

/* Runs a mount or umount @argv with a deadline of @timeout_ms (0: pd_mount_timeout_ms). False with an error
 * naming the pool, @what ("cannot mount '/dev/vdb' at '/mnt/p'") and the tool's own last
 * complaint, or the deadline that passed. A "target is busy" from umount is PD_ERROR_BUSY. */
bool pd_mount_run(const PdPool *pool, char *const *argv, const char *what, unsigned timeout_ms,
                  GError **error);

/* The refresh of fs and netfs pools: the directory's (pd_pool_posix_refresh) when @state (what
 * the backend found at the target: 1 its mount, 0 nothing, -1 an error already in @error) says
 * the pool's @source ("source device '/dev/sdb'", "NFS export host:/dir") is mounted; else
 * PD_ERROR_INVALID_STATE (an unmounted target would list, and later fill, the directory
 * underneath). */
bool pd_mount_refresh(const PdPool *pool, int state, const char *source, const GPtrArray *previous,
                      PdPoolRefresh *ret, GError **error);

/* The stop of fs and netfs pools: umount of the target when something is mounted there (a
 * target found unmounted is no error: the pool is stopped either way). On failure (busy) the
 * pool stays mounted. */
bool pd_mount_unmount_target(PdPool *pool, GError **error);

G_END_DECLS
