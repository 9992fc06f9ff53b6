/* QEMU's image locks: the OFD byte-range locks QEMU's file driver (block/file-posix.c) takes
 * on every image it opens, so that poolimg and poold keep out of an image a running QEMU
 * uses, and QEMU keeps out of one they change.
 *
 * One byte per permission, shared (read) locks only:
 *   byte 100 + i  held by whoever has permission i,
 *   byte 200 + i  held by whoever does not let others have permission i,
 * with i: 0 consistent read, 1 write, 2 write unchanged, 3 resize (QEMU 7.2's BLK_PERM_*).
 * Taking permissions P while sharing S: lock 100+i for i in P and 200+i for i not in S, then
 * test (F_OFD_GETLK for a write lock, which our own locks never answer) 200+i for i in P
 * (someone refuses to share what we want) and 100+i for i not in S (someone has what we
 * refuse to share). Closing the descriptor drops the locks. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PD_LOCK_PERM_BASE   100
#define PD_LOCK_SHARED_BASE 200

typedef enum {
    PD_PERM_CONSISTENT_READ = 1 << 0,
    PD_PERM_WRITE = 1 << 1,
    PD_PERM_WRITE_UNCHANGED = 1 << 2,
    PD_PERM_RESIZE = 1 << 3,
    PD_PERM_ALL = 0xf,
} PdPerm;

/* Takes @perm sharing @shared on @fd (named @path in the error). False with @error (code
 * PD_ERROR_BUSY, qemu-img's 'Failed to get "write" lock' and its hint) when another process
 * holds a conflicting lock; the bytes taken are released again then. A file system without
 * OFD locks (-EINVAL, -ENOTSUP, -ENOLCK) is not an error, as with QEMU's locking=auto. */
bool pd_file_lock(int fd, unsigned perm, unsigned shared, const char *path, GError **error);

G_END_DECLS
