/* The fs and netfs (mount mode) backends' tool commands and output parsers, exported for the
 * unit tests (which print and check them without running anything). */
#pragma once

#include "pools/backend.h"

G_BEGIN_DECLS

/* ---- fs --------------------------------------------------------------------------------- */

/* blkid -p -o export DEVICE: a low-level probe of the signatures on a device (no cache). */
char **pd_fs_blkid_argv(const char *device);

/* What `blkid -p -o export` printed: "ext4" for TYPE=ext4, "dos partition table" for
 * PTTYPE=dos, NULL when it names neither. Caller frees. Sample output:
 *   DEVNAME=/dev/loop0
 *   UUID=0b6e2d54-...
 *   BLOCK_SIZE=4096
 *   TYPE=ext4
 *   USAGE=filesystem */
char *pd_fs_parse_blkid(const char *output);

/* wipefs -a DEVICE: erases every signature (before overwriting, after a failed mkfs). */
char **pd_fs_wipefs_argv(const char *device);

/* mkfs.FORMAT [quiet] [force] DEVICE for @format ("ext4", "xfs", "vfat"...); @force lets it
 * write over a device that holds another filesystem (ext*: -F, xfs/btrfs: -f). */
char **pd_fs_mkfs_argv(const char *format, const char *device, bool force);

/* ---- netfs in mount mode ----------------------------------------------------------------- */

/* showmount --no-headers -e HOST */
char **pd_netfs_showmount_argv(const char *host);

/* The export paths of `showmount --no-headers -e` output, one per line as "PATH CLIENTS",
 * in order (char *, owned). Sample:
 *   /srv/export 127.0.0.1
 *   /srv/other  (everyone) */
GPtrArray *pd_netfs_parse_showmount(const char *output);

G_END_DECLS
