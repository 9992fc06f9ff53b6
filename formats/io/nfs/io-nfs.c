/* PdIO over NFSv3 through libnfs, and the directory operations of an NFS pool. */
#include "formats/io/nfs/io-nfs.h"

#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h> /* libnfs.h 4.0 uses struct timeval without including it */

/* clang-format off: libnfs's headers must come in this order */
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>
/* clang-format on */

struct PdNfsHealth {
    gint refs;
    GMutex lock;
    gint64 last_timeout; /* monotonic µs of the last timeout on any connection; 0: none */
};

struct PdNfsConn {
    gint refs;
    GMutex lock; /* one RPC at a time on the context */
    /* The server's health, and when this connection was made: once a call on any connection
     * to the server timed out after that, this one's calls fail at once instead of waiting a
     * whole timeout each; a new connection asks the server again. */
    PdNfsHealth *health;
    gint64 created;
    struct nfs_context *nfs;
    char *server;
    char *export;
    unsigned nfs_port, mount_port, timeout_ms;
};

typedef struct {
    PdIO base;
    PdNfsConn *conn; /* a reference */
    struct nfsfh *fh;
    char *path; /* "/dir/file" inside the export */
} NfsIO;

static const PdIOOps nfs_io_ops;

/* ---- errors ------------------------------------------------------------------------------ */

/* True when a failed libnfs call ran out of time rather than being refused. libnfs 4.0 ends
 * an RPC that got no answer in time by cancelling it: -EINTR, "Command was cancelled" (poold
 * never cancels calls otherwise, and no signal interrupts them). */
static bool is_timeout(int rc, const char *message)
{
    return rc == -ETIMEDOUT || rc == -EINTR ||
           (message && (strstr(message, "imed out") || strstr(message, "was cancelled")));
}

PdNfsHealth *pd_nfs_health_new(void)
{
    PdNfsHealth *h = g_new0(PdNfsHealth, 1);
    h->refs = 1;
    g_mutex_init(&h->lock);
    return h;
}

PdNfsHealth *pd_nfs_health_ref(PdNfsHealth *health)
{
    g_atomic_int_inc(&health->refs);
    return health;
}

void pd_nfs_health_unref(PdNfsHealth *health)
{
    if (!health || !g_atomic_int_dec_and_test(&health->refs))
        return;
    g_mutex_clear(&health->lock);
    g_free(health);
}

/* True when a call to the server timed out since @c was made. */
static bool conn_dead(PdNfsConn *c)
{
    g_mutex_lock(&c->health->lock);
    bool dead = c->health->last_timeout && c->health->last_timeout >= c->created;
    g_mutex_unlock(&c->health->lock);
    return dead;
}

/* Runs the libnfs call @call on @c (lock held) unless the server stopped answering since
 * the connection was made: then -ETIMEDOUT without asking it again. */
#define CONN_CALL(c, call) (conn_dead(c) ? -ETIMEDOUT : (call))

/* The errno of a failed call (lock held): ETIMEDOUT for a timeout, which is recorded in the
 * server's health; else what libnfs returned. */
static int call_errno(PdNfsConn *c, int rc)
{
    if (is_timeout(rc, nfs_get_error(c->nfs))) {
        g_mutex_lock(&c->health->lock);
        c->health->last_timeout = g_get_monotonic_time();
        g_mutex_unlock(&c->health->lock);
        return ETIMEDOUT;
    }
    return rc < 0 && rc > -4096 ? -rc : EIO;
}

/* Sets "WHAT: CAUSE" for a failed call on @c (lock held). A timeout says who did not answer
 * and after how long; other errors carry libnfs's message. */
static void G_GNUC_PRINTF(4, 5)
    conn_error(GError **error, PdNfsConn *c, int rc, const char *what_fmt, ...)
{
    va_list ap;
    va_start(ap, what_fmt);
    g_autofree char *what = g_strdup_vprintf(what_fmt, ap);
    va_end(ap);
    const char *msg = nfs_get_error(c->nfs);
    int err = call_errno(c, rc);

    if (err == ETIMEDOUT) {
        g_set_error(error, PD_ERROR, PD_ERROR_IO,
                    "%s: the server did not answer within %u s (timed out)", what,
                    c->timeout_ms / 1000);
        return;
    }
    /* libnfs's bare "nfs_service failed" means the socket failed: refused or closed */
    if (!msg || !*msg || strcmp(msg, "nfs_service failed") == 0)
        msg = "the connection failed (nothing listening, or the server closed it)";
    g_set_error(error, PD_ERROR, pd_error_code_from_errno(err), "%s: %s", what, msg);
}

/* ---- paths -------------------------------------------------------------------------------- */

/* @path made absolute inside the export, with "." and ".." resolved; NULL when ".." would
 * leave the export. Caller frees. */
static char *export_path(const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path ? path : "", "/", -1);
    g_autoptr(GPtrArray) out = g_ptr_array_new();

    for (char **p = parts; *p; p++) {
        if (!**p || strcmp(*p, ".") == 0)
            continue;
        if (strcmp(*p, "..") == 0) {
            if (!out->len)
                return NULL;
            g_ptr_array_set_size(out, out->len - 1);
            continue;
        }
        g_ptr_array_add(out, *p);
    }
    g_ptr_array_add(out, NULL);
    g_autofree char *joined = g_strjoinv("/", (char **)out->pdata);
    return g_strconcat("/", joined, NULL);
}

char *pd_nfs_conn_url(const PdNfsConn *conn, const char *path)
{
    const char *export = strcmp(conn->export, "/") == 0 ? "" : conn->export;
    if (!path)
        return g_strdup_printf("nfs://%s%s", conn->server, export);
    g_autofree char *clean = export_path(path);
    return g_strdup_printf("nfs://%s%s%s", conn->server, export, clean ? clean : "/?");
}

/* Resolves @path (relative to the export) or fails with an error naming it. */
static char *checked_path(PdNfsConn *c, const char *path, GError **error)
{
    char *clean = export_path(path);
    if (!clean) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "'%s' lies outside the NFS export %s:%s", path, c->server, c->export);
    }
    return clean;
}

/* ---- connection --------------------------------------------------------------------------- */

/* Characters that would change the meaning of the nfs:// URL libnfs parses. */
static bool url_safe(const char *s)
{
    return s && *s && !strpbrk(s, "?&#% \t\n\r");
}

/* Builds the context: NFSv3, the ports, the timeout, no endless reconnects. */
static struct nfs_context *new_context(const PdNfsTarget *t, unsigned timeout_ms,
                                       struct nfs_url **ret_url, GError **error)
{
    struct nfs_context *nfs = nfs_init_context();
    if (!nfs) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "NFS server '%s': cannot create a context",
                    t->server);
        return NULL;
    }
    GString *url = g_string_new(NULL);
    g_string_printf(url, "nfs://%s%s?version=3", t->server, t->export);
    if (t->nfs_port)
        g_string_append_printf(url, "&nfsport=%u", t->nfs_port);
    if (t->mount_port)
        g_string_append_printf(url, "&mountport=%u", t->mount_port);
    struct nfs_url *parsed = nfs_parse_url_dir(nfs, url->str);
    g_string_free(url, TRUE);
    if (!parsed) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "NFS export %s:%s: %s", t->server,
                    t->export, nfs_get_error(nfs));
        nfs_destroy_context(nfs);
        return NULL;
    }
    /* libnfs takes whole seconds. Without a timeout a frozen server blocks forever. */
    nfs_set_timeout(nfs, (int)(MAX(timeout_ms, 1000) / 1000 * 1000));
    nfs_set_autoreconnect(nfs, 0);
    *ret_url = parsed;
    return nfs;
}

PdNfsConn *pd_nfs_connect(const PdNfsTarget *t, GError **error)
{
    if (!url_safe(t->server) || !url_safe(t->export) || t->export[0] != '/') {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "NFS export '%s:%s' is malformed (an absolute export path and a host name "
                    "without ?, &, #, %% or spaces)",
                    t->server ? t->server : "", t->export ? t->export : "");
        return NULL;
    }
    unsigned timeout_ms = t->timeout_ms ? t->timeout_ms : PD_NFS_DEFAULT_TIMEOUT_MS;
    struct nfs_url *url = NULL;
    struct nfs_context *nfs = new_context(t, timeout_ms, &url, error);
    if (!nfs)
        return NULL;
    PdNfsConn *c = g_new0(PdNfsConn, 1);
    c->refs = 1;
    g_mutex_init(&c->lock);
    c->nfs = nfs;
    c->server = g_strdup(t->server);
    c->export = g_strdup(t->export);
    c->nfs_port = t->nfs_port;
    c->mount_port = t->mount_port;
    c->timeout_ms = timeout_ms;
    c->health = t->health ? pd_nfs_health_ref(t->health) : pd_nfs_health_new();
    c->created = g_get_monotonic_time();
    int rc = nfs_mount(nfs, url->server, url->path);
    nfs_destroy_url(url);
    if (rc < 0) {
        conn_error(
            error, c, rc, "NFS server '%s': cannot mount export '%s'%s", c->server, c->export,
            rc == -EACCES || rc == -ENOENT ? " (does the server export this path to this host?)"
                                           : "");
        pd_nfs_conn_unref(c);
        return NULL;
    }
    return c;
}

PdNfsConn *pd_nfs_conn_ref(PdNfsConn *conn)
{
    g_atomic_int_inc(&conn->refs);
    return conn;
}

void pd_nfs_conn_unref(PdNfsConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->refs))
        return;
    /* No UMNT call: NFSv3 is stateless and the server's mount list is advisory; a frozen
     * server would make the unmount wait a whole timeout. */
    nfs_destroy_context(conn->nfs);
    pd_nfs_health_unref(conn->health);
    g_mutex_clear(&conn->lock);
    g_free(conn->server);
    g_free(conn->export);
    g_free(conn);
}

/* A second connection to the same export (for another thread). */
static PdNfsConn *conn_clone(PdNfsConn *c, GError **error)
{
    PdNfsTarget t = {
        .server = c->server,
        .export = c->export,
        .nfs_port = c->nfs_port,
        .mount_port = c->mount_port,
        .timeout_ms = c->timeout_ms,
        .health = c->health,
    };
    return pd_nfs_connect(&t, error);
}

/* ---- PdIO --------------------------------------------------------------------------------- */

static ssize_t nfs_io_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    NfsIO *f = (NfsIO *)io;
    size_t done = 0;

    g_mutex_lock(&f->conn->lock);
    while (done < len) {
        int n = CONN_CALL(
            f->conn, nfs_pread(f->conn->nfs, f->fh, offset + done, len - done, (char *)buf + done));
        if (n < 0) {
            int err = call_errno(f->conn, n);
            g_mutex_unlock(&f->conn->lock);
            return -err;
        }
        if (n == 0)
            break; /* end of file */
        done += (size_t)n;
    }
    g_mutex_unlock(&f->conn->lock);
    return (ssize_t)done;
}

static ssize_t nfs_io_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    NfsIO *f = (NfsIO *)io;
    size_t done = 0;

    g_mutex_lock(&f->conn->lock);
    while (done < len) {
        int n = CONN_CALL(f->conn, nfs_pwrite(f->conn->nfs, f->fh, offset + done, len - done,
                                              (const char *)buf + done));
        if (n <= 0) {
            int err = n < 0 ? call_errno(f->conn, n) : EIO;
            g_mutex_unlock(&f->conn->lock);
            return -err;
        }
        done += (size_t)n;
    }
    g_mutex_unlock(&f->conn->lock);
    return (ssize_t)len;
}

static int nfs_io_flush(PdIO *io)
{
    NfsIO *f = (NfsIO *)io;
    g_mutex_lock(&f->conn->lock);
    int rc = CONN_CALL(f->conn, nfs_fsync(f->conn->nfs, f->fh));
    int err = rc < 0 ? call_errno(f->conn, rc) : 0;
    g_mutex_unlock(&f->conn->lock);
    return -err;
}

static int nfs_io_truncate(PdIO *io, uint64_t size)
{
    NfsIO *f = (NfsIO *)io;
    g_mutex_lock(&f->conn->lock);
    int rc = CONN_CALL(f->conn, nfs_ftruncate(f->conn->nfs, f->fh, size));
    int err = rc < 0 ? call_errno(f->conn, rc) : 0;
    g_mutex_unlock(&f->conn->lock);
    return -err;
}

/* fstat of the open file: 0 or -errno. */
static int nfs_io_fstat(NfsIO *f, struct nfs_stat_64 *st)
{
    g_mutex_lock(&f->conn->lock);
    int rc = CONN_CALL(f->conn, nfs_fstat64(f->conn->nfs, f->fh, st));
    int err = rc < 0 ? call_errno(f->conn, rc) : 0;
    g_mutex_unlock(&f->conn->lock);
    return -err;
}

static int64_t nfs_io_size(PdIO *io)
{
    struct nfs_stat_64 st;
    int rc = nfs_io_fstat((NfsIO *)io, &st);
    return rc < 0 ? rc : (int64_t)st.nfs_size;
}

static int64_t nfs_io_allocated(PdIO *io)
{
    struct nfs_stat_64 st;
    int rc = nfs_io_fstat((NfsIO *)io, &st);
    return rc < 0 ? rc : (int64_t)st.nfs_used;
}

/* NFSv3 has no hole punching. */
static int nfs_io_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    (void)io;
    (void)offset;
    (void)len;
    return -ENOTSUP;
}

/* Opens @path (already resolved) on @conn, taking a reference. */
static PdIO *open_on(PdNfsConn *conn, const char *path, PdIOFlags flags, mode_t mode,
                     GError **error)
{
    int oflags = (flags & PD_IO_RDWR) ? O_RDWR : O_RDONLY;
    oflags |= (flags & PD_IO_CREATE) ? O_CREAT : 0;
    oflags |= (flags & PD_IO_EXCL) ? O_EXCL : 0;
    oflags |= (flags & PD_IO_TRUNC) ? O_TRUNC : 0;
    struct nfsfh *fh = NULL;
    g_autofree char *url = pd_nfs_conn_url(conn, path);

    g_mutex_lock(&conn->lock);
    int rc =
        CONN_CALL(conn, (flags & PD_IO_CREATE) ? nfs_create(conn->nfs, path, oflags, (int)mode, &fh)
                                               : nfs_open(conn->nfs, path, oflags, &fh));
    if (rc < 0)
        conn_error(error, conn, rc, "Could not open '%s'", url);
    g_mutex_unlock(&conn->lock);
    if (rc < 0)
        return NULL;

    NfsIO *f = g_new0(NfsIO, 1);
    f->base.ops = &nfs_io_ops;
    f->base.name = g_steal_pointer(&url);
    f->base.read_only = !(flags & PD_IO_RDWR);
    f->conn = pd_nfs_conn_ref(conn);
    f->fh = fh;
    f->path = g_strdup(path);
    return &f->base;
}

PdIO *pd_io_nfs_open(PdNfsConn *conn, const char *path, PdIOFlags flags, mode_t mode,
                     GError **error)
{
    g_autofree char *clean = checked_path(conn, path, error);
    return clean ? open_on(conn, clean, flags, mode, error) : NULL;
}

/* The path inside this export that a backing file name means: relative names resolve next to
 * the image; absolute ones must lie inside the export (as the server sees it) or be an
 * nfs:// URL of this same export. NULL with an error otherwise. */
static char *backing_path(NfsIO *f, const char *name, GError **error)
{
    PdNfsConn *c = f->conn;
    g_autofree char *root = pd_nfs_conn_url(c, NULL);
    const char *inside = NULL;

    if (g_str_has_prefix(name, "nfs://")) {
        if (g_str_has_prefix(name, root) && name[strlen(root)] == '/')
            inside = name + strlen(root);
    } else if (name[0] == '/') {
        size_t n = strlen(c->export);
        if (strcmp(c->export, "/") == 0)
            inside = name;
        else if (strncmp(name, c->export, n) == 0 && name[n] == '/')
            inside = name + n;
    } else {
        g_autofree char *dir = g_path_get_dirname(f->path);
        g_autofree char *joined = g_build_filename(dir, name, NULL);
        return checked_path(c, joined, error);
    }
    if (!inside) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "backing file '%s' of '%s' lies outside its NFS export %s:%s", name,
                    f->base.name, c->server, c->export);
        return NULL;
    }
    return checked_path(c, inside, error);
}

static PdIO *nfs_io_open_relative(PdIO *io, const char *name, PdIOFlags flags, GError **error)
{
    NfsIO *f = (NfsIO *)io;
    g_autofree char *path = backing_path(f, name, error);
    return path ? open_on(f->conn, path, flags, 0644, error) : NULL;
}

/* A new connection, so that the other thread's reads do not wait for this one's. */
static PdIO *nfs_io_reopen(PdIO *io, GError **error)
{
    NfsIO *f = (NfsIO *)io;
    g_autoptr(PdNfsConn) conn = conn_clone(f->conn, error);
    return conn ? open_on(conn, f->path, PD_IO_RDONLY, 0, error) : NULL;
}

static void nfs_io_close(PdIO *io)
{
    NfsIO *f = (NfsIO *)io;
    if (f->fh) {
        g_mutex_lock(&f->conn->lock);
        /* Closing a written file sends a COMMIT: to a server that stopped answering it would
         * wait a whole timeout. Cutting the socket first makes it fail at once (the data was
         * not committed either way; the caller already saw the error). */
        if (conn_dead(f->conn))
            (void)shutdown(nfs_get_fd(f->conn->nfs), SHUT_RDWR);
        (void)nfs_close(f->conn->nfs, f->fh);
        g_mutex_unlock(&f->conn->lock);
    }
    pd_nfs_conn_unref(f->conn);
    g_free(f->path);
    g_free(f->base.name);
    g_free(f);
}

static const PdIOOps nfs_io_ops = {
    .pread = nfs_io_pread,
    .pwrite = nfs_io_pwrite,
    .flush = nfs_io_flush,
    .truncate = nfs_io_truncate,
    .size = nfs_io_size,
    .allocated = nfs_io_allocated,
    .discard = nfs_io_discard,
    .open_relative = nfs_io_open_relative,
    .reopen = nfs_io_reopen,
    .close = nfs_io_close,
};

/* ---- directory operations ------------------------------------------------------------------ */

static int64_t to_ns(uint64_t sec, uint64_t nsec)
{
    return (int64_t)sec * G_GINT64_CONSTANT(1000000000) + (int64_t)nsec;
}

bool pd_nfs_stat(PdNfsConn *c, const char *path, PdNfsStat *ret, GError **error)
{
    g_autofree char *clean = checked_path(c, path, error);
    struct nfs_stat_64 st;
    if (!clean)
        return false;
    g_mutex_lock(&c->lock);
    int rc = CONN_CALL(c, nfs_stat64(c->nfs, clean, &st));
    if (rc < 0) {
        g_autofree char *url = pd_nfs_conn_url(c, clean);
        conn_error(error, c, rc, "Cannot stat '%s'", url);
    }
    g_mutex_unlock(&c->lock);
    if (rc < 0)
        return false;
    *ret = (PdNfsStat){
        .size = st.nfs_size,
        .allocated = st.nfs_used,
        .inode = st.nfs_ino,
        .mtime_ns = to_ns(st.nfs_mtime, st.nfs_mtime_nsec),
        .atime_ns = to_ns(st.nfs_atime, st.nfs_atime_nsec),
        .ctime_ns = to_ns(st.nfs_ctime, st.nfs_ctime_nsec),
        .mode = (uint32_t)st.nfs_mode,
        .uid = (uint32_t)st.nfs_uid,
        .gid = (uint32_t)st.nfs_gid,
    };
    return true;
}

static void dirent_clear(gpointer p)
{
    g_free(((PdNfsDirent *)p)->name);
}

static gint dirent_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(((const PdNfsDirent *)a)->name, ((const PdNfsDirent *)b)->name);
}

/* READDIRPLUS gives the type bits separately (NF3REG...): put them into the mode. */
static uint32_t dirent_mode(const struct nfsdirent *de)
{
    uint32_t type = de->type == NF3REG   ? S_IFREG
                    : de->type == NF3DIR ? S_IFDIR
                    : de->type == NF3LNK ? S_IFLNK
                    : de->type == NF3BLK ? S_IFBLK
                    : de->type == NF3CHR ? S_IFCHR
                                         : 0;
    return type | (de->mode & 07777);
}

bool pd_nfs_list_dir(PdNfsConn *c, const char *path, GArray **ret_entries, GError **error)
{
    g_autofree char *clean = checked_path(c, path, error);
    struct nfsdir *dir = NULL;
    if (!clean)
        return false;
    g_mutex_lock(&c->lock);
    int rc = CONN_CALL(c, nfs_opendir(c->nfs, clean, &dir));
    if (rc < 0) {
        g_autofree char *url = pd_nfs_conn_url(c, clean);
        conn_error(error, c, rc, "Cannot list '%s'", url);
        g_mutex_unlock(&c->lock);
        return false;
    }
    GArray *list = g_array_new(FALSE, FALSE, sizeof(PdNfsDirent));
    g_array_set_clear_func(list, dirent_clear);
    for (struct nfsdirent *de; (de = nfs_readdir(c->nfs, dir));) {
        if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
            continue;
        PdNfsDirent e = {
            .name = g_strdup(de->name),
            .st =
                {
                    .size = de->size,
                    .allocated = de->used,
                    .inode = de->inode,
                    .mtime_ns = to_ns((uint64_t)de->mtime.tv_sec, de->mtime_nsec),
                    .atime_ns = to_ns((uint64_t)de->atime.tv_sec, de->atime_nsec),
                    .ctime_ns = to_ns((uint64_t)de->ctime.tv_sec, de->ctime_nsec),
                    .mode = dirent_mode(de),
                    .uid = de->uid,
                    .gid = de->gid,
                },
        };
        g_array_append_val(list, e);
    }
    nfs_closedir(c->nfs, dir);
    g_mutex_unlock(&c->lock);
    g_array_sort(list, dirent_cmp);
    *ret_entries = list;
    return true;
}

bool pd_nfs_statvfs(PdNfsConn *c, uint64_t *ret_capacity, uint64_t *ret_allocation,
                    uint64_t *ret_available, GError **error)
{
    struct nfs_statvfs_64 sv;
    g_mutex_lock(&c->lock);
    int rc = CONN_CALL(c, nfs_statvfs64(c->nfs, "/", &sv));
    if (rc < 0) {
        g_autofree char *url = pd_nfs_conn_url(c, NULL);
        conn_error(error, c, rc, "Cannot get the free space of '%s'", url);
    }
    g_mutex_unlock(&c->lock);
    if (rc < 0)
        return false;
    *ret_capacity = sv.f_blocks * sv.f_frsize;
    *ret_allocation = (sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    *ret_available = sv.f_bfree * sv.f_frsize; /* libvirt's: free, not avail */
    return true;
}

/* Runs one path call (unlink, rmdir, mkdir, chmod) and names it in the error. */
typedef int (*PathCall)(struct nfs_context *nfs, const char *path, int arg);

static int call_unlink(struct nfs_context *nfs, const char *path, int arg)
{
    (void)arg;
    return nfs_unlink(nfs, path);
}

static int call_rmdir(struct nfs_context *nfs, const char *path, int arg)
{
    (void)arg;
    return nfs_rmdir(nfs, path);
}

static int call_mkdir(struct nfs_context *nfs, const char *path, int arg)
{
    return nfs_mkdir2(nfs, path, arg);
}

static int call_chmod(struct nfs_context *nfs, const char *path, int arg)
{
    return nfs_chmod(nfs, path, arg);
}

static bool path_call(PdNfsConn *c, const char *path, PathCall call, int arg, const char *what,
                      GError **error)
{
    g_autofree char *clean = checked_path(c, path, error);
    if (!clean)
        return false;
    g_mutex_lock(&c->lock);
    int rc = CONN_CALL(c, call(c->nfs, clean, arg));
    if (rc < 0) {
        g_autofree char *url = pd_nfs_conn_url(c, clean);
        conn_error(error, c, rc, "Cannot %s '%s'", what, url);
    }
    g_mutex_unlock(&c->lock);
    return rc >= 0;
}

bool pd_nfs_unlink(PdNfsConn *c, const char *path, GError **error)
{
    return path_call(c, path, call_unlink, 0, "remove", error);
}

bool pd_nfs_rmdir(PdNfsConn *c, const char *path, GError **error)
{
    return path_call(c, path, call_rmdir, 0, "remove directory", error);
}

bool pd_nfs_mkdir(PdNfsConn *c, const char *path, uint32_t mode, GError **error)
{
    return path_call(c, path, call_mkdir, (int)mode, "create directory", error);
}

bool pd_nfs_chmod(PdNfsConn *c, const char *path, uint32_t mode, GError **error)
{
    return path_call(c, path, call_chmod, (int)(mode & 07777), "change the mode of", error);
}

bool pd_nfs_chown(PdNfsConn *c, const char *path, int uid, int gid, GError **error)
{
    g_autofree char *clean = checked_path(c, path, error);
    if (!clean)
        return false;
    g_mutex_lock(&c->lock);
    int rc = CONN_CALL(c, nfs_chown(c->nfs, clean, uid, gid));
    if (rc < 0) {
        g_autofree char *url = pd_nfs_conn_url(c, clean);
        conn_error(error, c, rc, "Cannot change the owner of '%s'", url);
    }
    g_mutex_unlock(&c->lock);
    return rc >= 0;
}

bool pd_nfs_rename(PdNfsConn *c, const char *from, const char *to, GError **error)
{
    g_autofree char *a = checked_path(c, from, error);
    g_autofree char *b = a ? checked_path(c, to, error) : NULL;
    if (!b)
        return false;
    g_mutex_lock(&c->lock);
    int rc = CONN_CALL(c, nfs_rename(c->nfs, a, b));
    if (rc < 0) {
        g_autofree char *url = pd_nfs_conn_url(c, a);
        conn_error(error, c, rc, "Cannot rename '%s' to '%s'", url, b + 1);
    }
    g_mutex_unlock(&c->lock);
    return rc >= 0;
}

/* ---- exports ------------------------------------------------------------------------------ */

typedef struct {
    bool done;
    int status;
    char *message;
    GPtrArray *exports;
} ExportsCall;

static void exports_cb(struct rpc_context *rpc, int status, void *data, void *private_data)
{
    ExportsCall *call = private_data;
    (void)rpc;
    call->done = true;
    call->status = status;
    if (status != RPC_STATUS_SUCCESS) {
        if (!call->message)
            call->message = g_strdup(data ? (const char *)data : "no answer");
        return;
    }
    /* libnfs 4.0 decodes the list into 4-byte aligned memory: copy each node out */
    exports next;
    memcpy(&next, data, sizeof(next));
    while (next) {
        struct exportnode node;
        memcpy(&node, next, sizeof(node));
        g_ptr_array_add(call->exports, g_strdup(node.ex_dir));
        next = node.ex_next;
    }
}

/* Drives @rpc until @call is done or @deadline (monotonic µs) passes. */
static bool exports_wait(struct rpc_context *rpc, ExportsCall *call, gint64 deadline)
{
    while (!call->done) {
        gint64 left = deadline - g_get_monotonic_time();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc)};
        int n = poll(&pfd, 1, (int)MIN(left / 1000 + 1, 100));
        if (n < 0 && errno != EINTR)
            return false;
        if (rpc_service(rpc, n > 0 ? pfd.revents : 0) < 0) {
            if (!call->done) {
                call->done = true;
                call->status = RPC_STATUS_ERROR;
                call->message = g_strdup(rpc_get_error(rpc));
            }
        }
    }
    return true;
}

bool pd_nfs_list_exports(const char *server, unsigned timeout_ms, char ***ret_exports,
                         GError **error)
{
    unsigned ms = timeout_ms ? timeout_ms : PD_NFS_DEFAULT_TIMEOUT_MS;
    struct rpc_context *rpc = rpc_init_context();
    ExportsCall call = {.exports = g_ptr_array_new_with_free_func(g_free)};
    bool ok = false;

    if (!rpc) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "NFS server '%s': cannot create a context",
                    server);
    } else if (mount_getexports_async(rpc, server, exports_cb, &call) != 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_IO, "NFS server '%s': cannot list exports: %s",
                    server, rpc_get_error(rpc));
    } else if (!exports_wait(rpc, &call, g_get_monotonic_time() + (gint64)ms * 1000)) {
        g_set_error(error, PD_ERROR, PD_ERROR_IO,
                    "NFS server '%s': cannot list exports: the server did not answer within "
                    "%u s (timed out)",
                    server, ms / 1000);
    } else if (call.status == RPC_STATUS_ERROR || call.status < 0) {
        /* the transport failed before any answer (libnfs gives a negative errno or ERROR):
         * nothing serves NFS's mount protocol there */
        g_set_error(error, PD_ERROR, PD_ERROR_IO,
                    "no NFS server answers at '%s' (its mount service cannot be reached: %s); "
                    "check the host name and that the host exports NFS",
                    server, call.message);
    } else if (call.status != RPC_STATUS_SUCCESS) {
        g_set_error(error, PD_ERROR, PD_ERROR_IO, "NFS server '%s': cannot list exports: %s",
                    server, call.message);
    } else {
        g_ptr_array_add(call.exports, NULL);
        *ret_exports = (char **)g_ptr_array_free(g_steal_pointer(&call.exports), FALSE);
        ok = true;
    }
    if (rpc)
        rpc_destroy_context(rpc); /* cancels a call still in flight (its callback runs) */
    g_free(call.message);
    if (call.exports)
        g_ptr_array_unref(call.exports);
    return ok;
}
