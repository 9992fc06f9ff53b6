/* PdIO over NFSv3 through libnfs (userspace: no kernel NFS client needed), and the few
 * directory operations a pool on an NFS export needs.
 *
 * A PdNfsConn is one libnfs context with the export mounted. Every RPC made through it has a
 * timeout (PdNfsTarget.timeout_ms): a dead or frozen server makes the call fail with
 * ETIMEDOUT after that long instead of blocking forever. Calls on one connection are
 * serialised by its mutex, so PdIOs sharing a connection (an image and its backing files)
 * may be used from different threads; reopen makes a new connection for real parallelism.
 * A connection is reference-counted: every PdIO opened on it holds a reference.
 *
 * NFSv3 only: libnfs 4.0's NFSv4 cannot write. Paths are relative to the export root
 * ("vol.qcow2", "dir/vol"); a leading '/' is allowed. */
#pragma once

#include "formats/io/io.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* What the connections to one server share: when the last call on any of them timed out. A
 * connection made before that fails its later calls at once (the server is not answering:
 * a copy between two connections, or the undo after a failed write, must not wait one
 * timeout per connection); a connection made afterwards asks the server again. Thread-safe,
 * reference-counted. */
typedef struct PdNfsHealth PdNfsHealth;
PdNfsHealth *pd_nfs_health_new(void);
PdNfsHealth *pd_nfs_health_ref(PdNfsHealth *health);
void pd_nfs_health_unref(PdNfsHealth *health); /* NULL is fine */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdNfsHealth, pd_nfs_health_unref)

/* Where an export is. Strings are the caller's. */
typedef struct {
    const char *server;  /* host name or address */
    const char *export;  /* export path on the server, "/srv/export" */
    unsigned nfs_port;   /* 0 = ask the server's portmapper */
    unsigned mount_port; /* 0 = ask the server's portmapper */
    unsigned timeout_ms; /* per RPC; 0 = PD_NFS_DEFAULT_TIMEOUT_MS */
    PdNfsHealth *health; /* shared with the other connections to the server; NULL: its own */
} PdNfsTarget;

#define PD_NFS_DEFAULT_TIMEOUT_MS 10000

typedef struct PdNfsConn PdNfsConn;

/* Connects to @target's server and mounts the export. NULL with an error naming the server
 * and the export (PD_ERROR_IO saying "timed out" when the server did not answer in time,
 * PD_ERROR_NOT_FOUND when the export does not exist). */
PdNfsConn *pd_nfs_connect(const PdNfsTarget *target, GError **error);
PdNfsConn *pd_nfs_conn_ref(PdNfsConn *conn);
void pd_nfs_conn_unref(PdNfsConn *conn); /* NULL is fine; unmounts with the last reference */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdNfsConn, pd_nfs_conn_unref)

/* "nfs://SERVER/EXPORT" + ("/" + @path when @path is not NULL). Caller frees. */
char *pd_nfs_conn_url(const PdNfsConn *conn, const char *path);

/* Opens (PD_IO_CREATE: creates with @mode) the file @path of the export. The PdIO's name is
 * its nfs:// URL. Backing files (open_relative) resolve next to it on the same export. */
PdIO *pd_io_nfs_open(PdNfsConn *conn, const char *path, PdIOFlags flags, mode_t mode,
                     GError **error);

/* What stat says about a file or directory. */
typedef struct {
    uint64_t size;
    uint64_t allocated; /* bytes used on the server */
    uint64_t inode;
    int64_t mtime_ns;
    int64_t atime_ns;
    int64_t ctime_ns;
    uint32_t mode; /* with the type bits (S_IFREG...) */
    uint32_t uid, gid;
} PdNfsStat;

/* One entry of a directory (not "." or ".."). */
typedef struct {
    char *name;
    PdNfsStat st;
} PdNfsDirent;

/* Directory and file operations. Each returns false with an error naming the URL, the
 * operation and the cause ("timed out after N s" when the server does not answer). */
bool pd_nfs_stat(PdNfsConn *conn, const char *path, PdNfsStat *ret, GError **error);
/* *ret_entries: GArray of PdNfsDirent (with a clear func), sorted by name. */
bool pd_nfs_list_dir(PdNfsConn *conn, const char *path, GArray **ret_entries, GError **error);
/* Capacity, allocation (used blocks) and available (free) bytes of the export's filesystem,
 * as libvirt computes them from statvfs: capacity = allocation + available. */
bool pd_nfs_statvfs(PdNfsConn *conn, uint64_t *ret_capacity, uint64_t *ret_allocation,
                    uint64_t *ret_available, GError **error);
bool pd_nfs_rename(PdNfsConn *conn, const char *from, const char *to, GError **error);
bool pd_nfs_unlink(PdNfsConn *conn, const char *path, GError **error);
bool pd_nfs_mkdir(PdNfsConn *conn, const char *path, uint32_t mode, GError **error);
bool pd_nfs_rmdir(PdNfsConn *conn, const char *path, GError **error);
bool pd_nfs_chmod(PdNfsConn *conn, const char *path, uint32_t mode, GError **error);
bool pd_nfs_chown(PdNfsConn *conn, const char *path, int uid, int gid, GError **error);

/* The exports of @server (MOUNT's EXPORT call), waiting at most @timeout_ms (0 = default).
 * *ret_exports: NULL-terminated paths. */
bool pd_nfs_list_exports(const char *server, unsigned timeout_ms, char ***ret_exports,
                         GError **error);

G_END_DECLS
