/* PdIO: byte I/O under every image format.
 *
 * A PdIO is a sized, randomly addressable byte store: a local file today, an NFS file
 * (libnfs) or an iSCSI LUN (libiscsi) later. Nothing above this layer may assume a file
 * descriptor. Operations are not thread-safe; one user at a time.
 *
 * Return convention of the ops (hot path): 0 or a byte count on success, -errno on failure.
 * The pd_io_* wrappers below turn that into GError for callers that want it. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct PdIO PdIO;

typedef enum {
    PD_IO_RDONLY = 0,
    PD_IO_RDWR = 1 << 0,
    PD_IO_CREATE = 1 << 1, /* create if missing (with PD_IO_RDWR) */
    PD_IO_EXCL = 1 << 2,   /* fail with EEXIST if it exists (with PD_IO_CREATE) */
    PD_IO_TRUNC = 1 << 3,  /* truncate to 0 on open */
    PD_IO_DIRECT = 1 << 4, /* bypass the host page cache where the backend can */
    /* Data only (backing files and other names an image or a tenant chose): opened without
     * blocking (O_NONBLOCK), and refused with PD_ERROR_INVALID_ARGUMENT unless it is a
     * regular file or a block device: a FIFO, socket or character device is never opened
     * for reading (its type is checked on an O_PATH handle first). */
    PD_IO_DATA_ONLY = 1 << 5,
    /* open_relative only: the name must resolve beneath the directory of the store it is
     * relative to (no absolute name, no ".." or symbolic link leading out); refused with
     * PD_ERROR_PERMISSION_DENIED otherwise. For names taken from untrusted images. */
    PD_IO_BENEATH = 1 << 6,
    /* Local files: take QEMU's image locks (formats/io/file/lock.h) as QEMU does for an
     * image it opens: read-only, consistent read while sharing neither write nor resize;
     * with PD_IO_RDWR, write and resize too. Refused with PD_ERROR_BUSY ('Failed to get
     * "write" lock') while another process (a running QEMU) holds a conflicting lock. */
    PD_IO_LOCK = 1 << 7,
    /* With PD_IO_LOCK, read-only: share everything (qemu-img -U / --force-share): only the
     * consistent-read permission is taken, nothing is denied to others. */
    PD_IO_SHARE = 1 << 8,
} PdIOFlags;

typedef struct {
    /* Reads up to @len bytes at @offset. Returns bytes read (short only at end of store),
     * or -errno. */
    ssize_t (*pread)(PdIO *io, void *buf, size_t len, uint64_t offset);
    /* Writes @len bytes at @offset, growing the store if needed. Returns @len or -errno. */
    ssize_t (*pwrite)(PdIO *io, const void *buf, size_t len, uint64_t offset);
    /* Makes every completed write durable. 0 or -errno. */
    int (*flush)(PdIO *io);
    /* Sets the size (grow fills with zeroes, sparse where possible). 0 or -errno. */
    int (*truncate)(PdIO *io, uint64_t size);
    /* Current size in bytes, or -errno. */
    int64_t (*size)(PdIO *io);
    /* Bytes actually allocated on the storage (for "disk size"), or -errno. */
    int64_t (*allocated)(PdIO *io);
    /* Drops the range so it reads back as zeroes (punch hole). 0, -ENOTSUP, or -errno. */
    int (*discard)(PdIO *io, uint64_t offset, uint64_t len);
    /* Gives the range's space back to the storage where it can (a trim: BLKDISCARD on a
     * block device, a punched hole in a file); unlike discard, reads afterwards may return
     * old data (dm-thin reads zeroes, others need not). 0, -ENOTSUP, or -errno. Optional
     * (NULL: use discard). */
    int (*trim)(PdIO *io, uint64_t offset, uint64_t len);
    /* Reserves space for the range without changing content (fallocate); may grow the
     * store. 0, -ENOTSUP, or -errno. Optional (NULL: -ENOTSUP). */
    int (*allocate)(PdIO *io, uint64_t offset, uint64_t len);
    /* Whether [offset, offset+len) starts with data (1) or a hole (0) and how many bytes
     * share that state (*ret_len). -ENOTSUP if the store cannot tell. Optional. */
    int (*data_status)(PdIO *io, uint64_t offset, uint64_t len, uint64_t *ret_len);
    /* Opens another store named relative to this one (a backing file): same backend, same
     * credentials; NULL with @error set on failure. Optional. */
    PdIO *(*open_relative)(PdIO *io, const char *name, PdIOFlags flags, GError **error);
    /* Another read-only handle on this same store, for another thread to use at the same
     * time (a PdIO has one user at a time); NULL with @error if it cannot. Optional. */
    PdIO *(*reopen)(PdIO *io, GError **error);
    /* Releases everything. Never fails; errors of a final flush are the caller's to check
     * before. */
    void (*close)(PdIO *io);
} PdIOOps;

struct PdIO {
    const PdIOOps *ops;
    char *name;     /* what users call it: a path or a URL; owned */
    bool read_only; /* opened without PD_IO_RDWR */
    /* The store has a fixed size and holds old bytes everywhere (a block device, a LUN): a
     * format must not place new metadata past its end, nor trust unwritten bytes to read as
     * zeroes. */
    bool fixed_size;
    /* Identity of the file or device under the store (st_dev, st_ino), for backing-chain
     * loop detection; has_file_id false when the backend cannot tell. */
    bool has_file_id;
    uint64_t file_dev;
    uint64_t file_ino;
};

/* Opens a local file. The error names the path. */
PdIO *pd_io_file_open(const char *path, PdIOFlags flags, mode_t mode, GError **error);
/* A store over @fd, a regular file or block device its caller opened (for reading, or for
 * reading and writing with PD_IO_RDWR in @flags) and checked, named @path: relative backing
 * files resolve against @path's directory. The store owns @fd from then on, also on failure.
 * A directory is refused, and with PD_IO_DATA_ONLY anything but a regular file or a block
 * device; other flags are ignored. */
PdIO *pd_io_file_open_fd(int fd, const char *path, PdIOFlags flags, GError **error);
/* The descriptor under a store of pd_io_file_open*, still the store's; -1 for any other store. */
int pd_io_file_fd(PdIO *io);
/* "regular file", "FIFO", "character device", ... for error messages. */
const char *pd_io_file_type_name(mode_t mode);
/* Device and inode of a local file's store; false for other stores. */
bool pd_io_file_identity(PdIO *io, dev_t *ret_dev, ino_t *ret_ino);

/* A new file NAME is built under a hidden name in its directory and renamed into place only
 * when complete (formats/io/file/partial.c): ".NAME.partial-PID-N", NAME cut so that the whole
 * fits in 255 bytes, unique in this process. Caller frees. */
char *pd_io_partial_name(const char *name);
/* Whether hidden name @name was made by this process (its PID part is getpid()): a create in
 * progress, not a leftover of a crash. */
bool pd_io_partial_is_ours(const char *name);
/* Renames @from to @to in directory @dfd (AT_FDCWD: paths) without ever replacing anything at
 * @to (PD_ERROR_EXISTS then): renameat2(RENAME_NOREPLACE); link and unlink where the
 * filesystem lacks it; a check and a rename where it has no hard links either. */
bool pd_io_rename_noreplace(int dfd, const char *from, const char *to, GError **error);

/* Full-length helpers. pread_full zero-fills what lies past the end of the store.
 * Return true or false with @error naming the store and the operation. */
bool pd_io_pread_full(PdIO *io, void *buf, size_t len, uint64_t offset, GError **error);
bool pd_io_pwrite_full(PdIO *io, const void *buf, size_t len, uint64_t offset, GError **error);
bool pd_io_flush(PdIO *io, GError **error);
bool pd_io_truncate(PdIO *io, uint64_t size, GError **error);
bool pd_io_get_size(PdIO *io, uint64_t *ret_size, GError **error);

/* Closes and frees; NULL is fine. */
void pd_io_close(PdIO *io);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdIO, pd_io_close)

G_END_DECLS
