/* The path rule of the pools made of local files (dir, fs, netfs in mount mode): every file
 * operation poold does on a volume is resolved beneath the pool's directory, here and nowhere
 * else (docs/pools.md, "Files in a pool directory").
 *
 *   - A volume is a name in the pool directory: one path component, never "." or "..".
 *   - It is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) under a descriptor of
 *     the directory: a symbolic link is followed only while every step of it stays beneath the
 *     directory (no absolute target, no ".." above it, no /proc magic link). Where the kernel
 *     has no openat2, no symbolic link is followed at all (O_NOFOLLOW).
 *   - What the name resolves to is first opened with O_PATH (which opens nothing: no FIFO can
 *     block, no device driver runs) and checked with fstat: only regular files and block devices
 *     are volumes; a FIFO, socket, character device, directory or anything else is refused with
 *     an error naming the pool, the volume and the file type. Only then is that same inode
 *     opened for I/O (O_NONBLOCK | O_CLOEXEC, through /proc/self/fd, checked again).
 *   - New files are made with O_CREAT | O_EXCL | O_NOFOLLOW under the directory descriptor,
 *     their permissions set through the descriptor (fchmod/fchown, never by name), and renamed
 *     into place with renameat2(RENAME_NOREPLACE) under the same descriptor.
 *
 * Return convention: descriptors >= 0 or -1, booleans true or false; on failure @error is set
 * (PD_ERROR domain) naming the pool and the volume; ret_* untouched on failure. */
#pragma once

#include "pools/backend.h"

#include <stdbool.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* A descriptor of @pool's target directory (O_RDONLY | O_DIRECTORY | O_CLOEXEC), opened anew by
 * every operation (a mount made at the target since the last one is seen). */
int pd_pool_path_open_dir(const PdPool *pool, GError **error);
/* Binds @pool to its target directory as it is now (pool start, after a mount): opened
 * without following a symbolic link as its last component, its st_dev/st_ino recorded; from
 * then on pd_pool_path_open_dir refuses any other directory at that path. */
bool pd_pool_path_bind_dir(PdPool *pool, GError **error);

/* Opens volume @name of @pool beneath @dfd for I/O: @oflags is O_RDONLY or O_RDWR. Regular
 * files and block devices only (see above). *ret_st (may be NULL): what the descriptor is. */
int pd_pool_path_open(const PdPool *pool, int dfd, const char *name, int oflags,
                      struct stat *ret_st, GError **error);

/* The type check of pd_pool_path_open without opening anything for I/O (O_PATH only):
 * *ret_st is what @name leads to, a regular file or block device. */
bool pd_pool_path_stat(const PdPool *pool, int dfd, const char *name, struct stat *ret_st,
                       GError **error);

/* The same as a store of the image engine (formats/io.h) named DIR/NAME, so that relative
 * backing files resolve as before. NULL with @error. */
PdIO *pd_pool_path_open_io(const PdPool *pool, int dfd, const char *name, PdIOFlags flags,
                           GError **error);

/* Whether directory entry @name is a volume by the rule above, without opening it for I/O (what
 * refresh lists): a regular file or block device, or a symbolic link resolving beneath @dfd to
 * one; *ret_st is then what it resolves to. False for anything else (gone meanwhile included). */
bool pd_pool_path_stat_volume(int dfd, const char *name, struct stat *ret_st);

/* Creates the new empty file @name beneath @dfd for reading and writing (O_CREAT | O_EXCL |
 * O_NOFOLLOW: a name that exists, a symbolic link too, fails with PD_ERROR_EXISTS). The
 * error names @what (the volume's name) in @pool. */
int pd_pool_path_create(const PdPool *pool, int dfd, const char *name, const char *what,
                        mode_t mode, GError **error);

/* Closes *@fd when it is >= 0: for `PD_AUTO_FD int fd = ...;`, the descriptor closed at the end
 * of its scope (GLib 2.74 has no g_autofd). */
void pd_pool_path_close_fd(int *fd);
#define PD_AUTO_FD __attribute__((cleanup(pd_pool_path_close_fd)))

/* For tests: false makes every resolution take the path of kernels without openat2
 * (O_NOFOLLOW, no symbolic link followed). Not thread-safe; set it before any pool work. */
void pd_pool_path_set_openat2(bool use);

G_END_DECLS
