/* The dir backend: a pool is a directory, its volumes are the regular files and block devices
 * in it (raw and qcow2 through the image engine; other formats listed, read as bytes).
 *
 * Volumes are built under a hidden ".NAME.partial-PID-N" name in the pool directory, with their
 * permissions set before any data goes in, and renamed into place (never over an existing
 * file) only when complete. Refresh skips those names. */
#include "pools/pool-dir.h"

#include "common/pd-error.h"
#include "pools/pool-image.h"
#include "pools/pool-path.h"
#include "pools/pool-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_POOL_MODE 0711 /* libvirt's VIR_STORAGE_DEFAULT_POOL_PERM_MODE */
#define DEFAULT_VOL_MODE  0600 /* libvirt's VIR_STORAGE_DEFAULT_VOL_PERM_MODE */

static char *vol_path(const PdPool *pool, const char *name)
{
    return g_build_filename(pool->def->target_path, name, NULL);
}

/* ---- build, start, delete ----------------------------------------------------------------- */

/* Creates the missing ancestors of @path (mode 0755), appending each created one to @created
 * (owned strings, outermost first) so that a failure can remove them again. */
static bool make_parents(const char *path, GPtrArray *created, GError **error)
{
    g_autofree char *parent = g_path_get_dirname(path);
    struct stat st;
    if (strcmp(parent, path) == 0 || stat(parent, &st) == 0)
        return true;
    if (!make_parents(parent, created, error))
        return false;
    if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
        pd_error_set_errno(error, errno, "could not create directory '%s'", parent);
        return false;
    }
    g_ptr_array_add(created, g_steal_pointer(&parent));
    return true;
}

/* Removes the directories of @created, innermost first. */
static void remove_created(GPtrArray *created)
{
    for (guint i = created->len; i > 0; i--)
        (void)rmdir(g_ptr_array_index(created, i - 1));
}

bool pd_pool_dir_build(PdPool *pool, unsigned flags, GError **error)
{
    const char *path = pool->def->target_path;
    const PdPerms *perms = &pool->def->target_perms;
    struct stat st;

    /* as libvirt: --overwrite formats the source device, and a directory has none */
    if (flags & PD_POOL_BUILD_OVERWRITE) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: No source device specified when formatting "
                    "pool '%s' (--overwrite formats a device; build a directory without it)",
                    pool->def->name);
        return false;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                               "target '%s' exists and is not a directory", path);
            return false;
        }
        if (flags & PD_POOL_BUILD_NO_OVERWRITE) {
            pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                               "target directory '%s' already exists (--no-overwrite)", path);
            return false;
        }
        /* as libvirt: an existing directory only gets the permissions asked for */
        if (!pd_pool_util_apply_perms(path, perms, (mode_t)-1, error)) {
            pd_pool_util_prefix_error(error, pool, NULL);
            return false;
        }
        return true;
    }
    g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
    if (!make_parents(path, created, error))
        goto fail;
    if (mkdir(path, 0700) < 0) {
        pd_error_set_errno(error, errno, "could not create target directory '%s'", path);
        goto fail;
    }
    g_ptr_array_add(created, g_strdup(path));
    if (!pd_pool_util_apply_perms(path, perms, DEFAULT_POOL_MODE, error))
        goto fail;
    return true;
fail:
    remove_created(created);
    pd_pool_util_prefix_error(error, pool, NULL);
    return false;
}

bool pd_pool_dir_start(PdPool *pool, GError **error)
{
    const char *path = pool->def->target_path;
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            pd_pool_util_error(error, pool, NULL, PD_ERROR_NOT_FOUND,
                               "target directory '%s' does not exist (build the pool first: "
                               "pool-build)",
                               path);
        else
            pd_pool_util_error_errno(error, pool, NULL, errno, "cannot use target '%s'", path);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "target '%s' is not a directory", path);
        return false;
    }
    if (access(path, R_OK | X_OK) < 0) {
        pd_pool_util_error_errno(error, pool, NULL, errno, "cannot read target directory '%s'",
                                 path);
        return false;
    }
    return true;
}

bool pd_pool_dir_delete(PdPool *pool, unsigned flags, GError **error)
{
    const char *path = pool->def->target_path;
    if (flags & PD_POOL_DELETE_ZEROED) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                           "dir pools cannot be deleted with zeroing");
        return false;
    }
    if (rmdir(path) == 0)
        return true;
    if (errno == ENOTEMPTY || errno == EEXIST)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_BUSY,
                           "cannot delete target directory '%s': it is not empty (delete its "
                           "volumes and files first)",
                           path);
    else
        pd_pool_util_error_errno(error, pool, NULL, errno, "cannot delete target directory '%s'",
                                 path);
    return false;
}

/* ---- reading volumes -------------------------------------------------------------------- */

/* The engine's format for a recorded format name: UNKNOWN for NULL (probe) and for formats the
 * engine does not read (*ret_readable false: listed from stat only). */
static PdFormat engine_format(const char *format, bool *ret_readable)
{
    PdFormat f = format ? pd_format_from_name(format) : PD_FORMAT_UNKNOWN;
    *ret_readable = !format || f != PD_FORMAT_UNKNOWN;
    return f;
}

static bool same_identity(const PdVol *prev, const struct stat *st)
{
    return prev->stat_size == (uint64_t)st->st_size && prev->stat_inode == (uint64_t)st->st_ino &&
           prev->stat_mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Whether @path is the target directory of @pool followed by "/" and @name. */
static bool path_is(const char *path, const PdPool *pool, const char *name)
{
    const char *dir = pool->def->target_path;
    size_t len = strlen(dir);
    if (!path || strncmp(path, dir, len) != 0)
        return false;
    if (len && dir[len - 1] != '/') {
        if (path[len] != '/')
            return false;
        len++;
    }
    return strcmp(path + len, name) == 0;
}

/* Counters of one scan (PdPoolRefresh fields). */
typedef struct {
    unsigned reopened;
    unsigned probed;
} ScanStats;

/* The volume for file @name with @st. Reuses @prev (may be NULL) without opening the file when
 * its identity and recorded format say nothing changed and !@force; else opens the image with
 * the recorded format (probing only without one; a file replaced under the same name keeps the
 * recorded format too). Block devices are always re-read: their size changes without their
 * inode or mtime changing. A file the engine cannot open is listed with what stat says (as
 * libvirt lists what it cannot read). Never NULL. */
static PdVol *scan_volume(const PdPool *pool, int dfd, const char *name, const struct stat *st,
                          const PdVol *prev, bool force, ScanStats *stats)
{
    bool unchanged =
        prev && prev->format && !force && S_ISREG(st->st_mode) && same_identity(prev, st);
    if (unchanged && path_is(prev->path, pool, name)) {
        /* the common case in a large pool: nothing changed at all, so the catalog's volume
         * is shared as it is (pd_vol_ref) instead of copied */
        PdVol probe;
        memcpy(&probe, prev, sizeof(probe));
        pd_pool_util_vol_set_stat(&probe, st);
        probe.capacity = prev->capacity;
        if (memcmp(&probe, prev, sizeof(probe)) == 0)
            return pd_vol_ref(prev);
    }
    PdVol *vol = prev ? pd_vol_copy(prev) : pd_vol_new();
    uint64_t kept_capacity = vol->capacity;
    g_free(vol->name);
    vol->name = g_strdup(name);
    g_free(vol->path);
    vol->path = vol_path(pool, name);
    g_free(vol->key);
    vol->key = g_strdup(vol->path);
    pd_pool_util_vol_set_stat(vol, st);
    if (unchanged) {
        vol->capacity = kept_capacity;
        return vol;
    }
    /* what the image said last time is stale now */
    g_clear_pointer(&vol->backing_path, g_free);
    g_clear_pointer(&vol->backing_format, g_free);
    g_clear_pointer(&vol->compat, g_free);
    vol->cluster_size = 0;
    vol->lazy_refcounts = false;
    bool readable;
    PdFormat format = engine_format(vol->format, &readable);
    stats->reopened++;
    if (!vol->format)
        stats->probed++;
    if (!readable && !S_ISBLK(st->st_mode))
        return vol;
    /* through the path rule (pool-path.h): what refresh read may have been swapped since */
    g_autoptr(PdIO) io = pd_pool_path_open_io(pool, dfd, name, PD_IO_RDONLY, NULL);
    uint64_t size;
    if (io && S_ISBLK(st->st_mode))
        vol->capacity = vol->physical = pd_io_get_size(io, &size, NULL) ? size : 0;
    PdImageInfo info;
    if (io && readable &&
        pd_image_read_info_io(g_steal_pointer(&io), format, &info, NULL)) { /* header only */
        pd_pool_util_vol_set_info(vol, &info);
        pd_image_info_clear(&info);
    }
    return vol;
}

static gint compare_vol_names(gconstpointer a, gconstpointer b)
{
    const PdVol *va = *(PdVol *const *)a, *vb = *(PdVol *const *)b;
    return strcmp(va->name, vb->name);
}

/* Whether directory entry @name is a volume: a regular file or block device, or a symbolic
 * link resolving to one inside the pool directory (pool-path.h), with a UTF-8 name, not a
 * hidden partial file. Fills @st. */
static bool entry_is_volume(int dfd, const char *name, struct stat *st)
{
    return pd_pool_util_is_volume_file_name(name) && pd_pool_path_stat_volume(dfd, name, st);
}

bool pd_pool_dir_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                         GError **error)
{
    PdPoolRefresh r = {0};
    const char *path = pool->def->target_path;

    if (!pd_pool_util_statvfs(path, &r.capacity, &r.allocation, &r.available, error)) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    int dfd = pd_pool_path_open_dir(pool, error);
    DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!dir) {
        if (dfd >= 0) {
            pd_pool_util_error_errno(error, pool, NULL, errno, "cannot read target directory '%s'",
                                     path);
            (void)close(dfd);
        }
        return false;
    }
    g_autoptr(GHashTable) index = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; previous && i < previous->len; i++) {
        PdVol *v = g_ptr_array_index((GPtrArray *)previous, i);
        g_hash_table_insert(index, v->name, v);
    }
    r.volumes = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    ScanStats stats = {0};
    struct dirent *ent;
    errno = 0;
    while ((ent = readdir(dir))) {
        struct stat st;
        if (entry_is_volume(dirfd(dir), ent->d_name, &st))
            g_ptr_array_add(r.volumes,
                            scan_volume(pool, dfd, ent->d_name, &st,
                                        g_hash_table_lookup(index, ent->d_name), false, &stats));
        errno = 0;
    }
    int e = errno;
    (void)closedir(dir);
    if (e) {
        pd_pool_util_error_errno(error, pool, NULL, e, "cannot read target directory '%s'", path);
        pd_pool_refresh_clear(&r);
        return false;
    }
    g_ptr_array_sort(r.volumes, compare_vol_names);
    r.n_volumes = r.volumes->len;
    r.n_reopened = stats.reopened;
    r.n_probed = stats.probed;
    *ret = r;
    return true;
}

bool pd_pool_dir_cleanup_partial(const PdPool *pool, unsigned *ret_removed, GError **error)
{
    const char *path = pool->def->target_path;
    DIR *dir = opendir(path);
    if (!dir) {
        pd_pool_util_error_errno(error, pool, NULL, errno, "cannot read target directory '%s'",
                                 path);
        return false;
    }
    unsigned removed = 0;
    int failed = 0;
    g_autofree char *failed_name = NULL;
    struct dirent *ent;
    while ((ent = readdir(dir))) {
        if (!pd_pool_util_is_partial_name(ent->d_name) || pd_pool_util_partial_is_ours(ent->d_name))
            continue;
        if (unlinkat(dirfd(dir), ent->d_name, 0) == 0) {
            removed++;
        } else if (errno != ENOENT && !failed) {
            failed = errno;
            failed_name = g_strdup(ent->d_name);
        }
    }
    (void)closedir(dir);
    if (failed) {
        pd_pool_util_error_errno(error, pool, NULL, failed, "cannot remove leftover '%s/%s'", path,
                                 failed_name);
        return false;
    }
    if (ret_removed)
        *ret_removed = removed;
    return true;
}

/* Stats the volume file @name beneath @dfd through the path rule and reads it (reopening it).
 * @prev supplies the recorded format (may be NULL: probe). */
static PdVol *read_volume(const PdPool *pool, int dfd, const char *name, const PdVol *prev,
                          GError **error)
{
    struct stat st;
    PD_AUTO_FD int fd = pd_pool_path_open(pool, dfd, name, O_RDONLY, &st, error);
    if (fd < 0)
        return NULL;
    ScanStats stats = {0};
    return scan_volume(pool, dfd, name, &st, prev, true, &stats);
}

bool pd_pool_dir_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol, GError **error)
{
    PD_AUTO_FD int dfd = pd_pool_path_open_dir(pool, error);
    PdVol *v = dfd >= 0 ? read_volume(pool, dfd, vol->name, vol, error) : NULL;
    if (!v)
        return false;
    *ret_vol = v;
    return true;
}

/* Opens volume @vol's image at @path with its recorded format (probing only when none is
 * recorded). @flags: PdOpenFlags. NULL with an error naming the pool and volume. */
static PdImage *open_image_at(const PdPool *pool, const PdVol *vol, const char *path,
                              unsigned flags, GError **error)
{
    bool readable;
    PdFormat format = engine_format(vol->format, &readable);
    if (!readable) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "format '%s' is not supported for this operation (raw and qcow2 are)",
                           vol->format);
        return NULL;
    }
    PdImage *img = pd_image_open(path, format, flags, error);
    if (!img)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return img;
}

/* Opens the image of @vol, a file in the pool directory, through the path rule (pool-path.h)
 * with its recorded format (probing only when none is recorded). @flags: PdOpenFlags. */
static PdImage *open_volume_image(const PdPool *pool, const PdVol *vol, unsigned flags,
                                  GError **error)
{
    bool readable;
    PdFormat format = engine_format(vol->format, &readable);
    if (!readable) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "format '%s' is not supported for this operation (raw and qcow2 are)",
                           vol->format);
        return NULL;
    }
    PD_AUTO_FD int dfd = pd_pool_path_open_dir(pool, error);
    PdIO *io = dfd >= 0
                   ? pd_pool_path_open_io(pool, dfd, vol->name,
                                          (flags & PD_OPEN_RDWR) ? PD_IO_RDWR : PD_IO_RDONLY, error)
                   : NULL;
    PdImage *img = io ? pd_image_open_io(io, format, flags, error) : NULL;
    if (io && !img)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return img;
}

PdImage *pd_pool_dir_vol_open(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error)
{
    return open_volume_image(pool, vol, flags, error);
}

/* ---- creating ------------------------------------------------------------------------------ */

/* Opens a backing file named by a new volume's definition (relative: to the pool directory)
 * to probe its format. */
static PdImage *probe_backing(const PdPool *pool, const char *path, void *data, GError **error)
{
    (void)data;
    g_autofree char *full = g_path_is_absolute(path)
                                ? g_strdup(path)
                                : g_build_filename(pool->def->target_path, path, NULL);
    return pd_image_open(full, PD_FORMAT_UNKNOWN, PD_OPEN_NO_BACKING, error);
}

/* A volume being built: the pool directory, the hidden partial file in it (by name and by
 * descriptor: after its creation nothing opens it by name again) and the final name. Cleared
 * with new_file_clear, which removes the partial file unless it was committed. */
typedef struct {
    const PdPool *pool;
    const char *name; /* the volume's, not owned */
    int dfd;
    int fd;     /* the partial file, read-write */
    char *tmp;  /* its name in the directory; NULL once committed */
    char *path; /* DIR/NAME: the engine's name of the new image */
} NewFile;

#define NEW_FILE_INIT                                                                              \
    {                                                                                              \
        .dfd = -1, .fd = -1                                                                        \
    }

static void new_file_clear(NewFile *nf)
{
    if (nf->tmp && nf->dfd >= 0)
        (void)unlinkat(nf->dfd, nf->tmp, 0);
    pd_pool_path_close_fd(&nf->fd);
    pd_pool_path_close_fd(&nf->dfd);
    g_clear_pointer(&nf->tmp, g_free);
    g_clear_pointer(&nf->path, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NewFile, new_file_clear)

/* Refuses a name that is taken by anything in the directory (a dangling link too), and (the
 * daemon checks it first; this is defence in depth, as the daemon may run as root) a name that
 * is not a plain file name or is a hidden partial name. */
static bool check_name_free(const PdPool *pool, int dfd, const char *name, GError **error)
{
    if (!pd_xml_name_valid(name) || pd_pool_util_is_partial_name(name)) {
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "not a valid volume name (no '/', not '.' or '..', no hidden "
                           "'.NAME.partial' name, at most 255 bytes)");
        return false;
    }
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        g_autofree char *path = vol_path(pool, name);
        pd_pool_util_error(error, pool, name, PD_ERROR_EXISTS, "'%s' already exists", path);
        return false;
    }
    return true;
}

/* Opens the pool directory, checks that @def's name is free and creates the empty partial
 * file (O_EXCL, no link followed) with @def's permissions (set through the descriptor) and
 * nocow attribute. False with @error; new_file_clear undoes what was done. */
static bool new_file_begin(NewFile *nf, const PdPool *pool, const PdVolDef *def, GError **error)
{
    nf->pool = pool;
    nf->name = def->name;
    nf->dfd = pd_pool_path_open_dir(pool, error);
    if (nf->dfd < 0 || !check_name_free(pool, nf->dfd, def->name, error))
        return false;
    g_autofree char *tmp = pd_pool_util_partial_name(def->name);
    nf->fd = pd_pool_path_create(pool, nf->dfd, tmp, def->name, 0600, error);
    if (nf->fd < 0)
        return false;
    nf->tmp = g_steal_pointer(&tmp);
    nf->path = vol_path(pool, def->name);
    if (def->nocow)
        pd_pool_util_set_nocow(nf->fd);
    return pd_pool_util_apply_perms_fd(nf->fd, nf->tmp, &def->target_perms, DEFAULT_VOL_MODE,
                                       error);
}

/* A store over the partial file (on a descriptor of its own), named as the final volume so
 * that relative backing files resolve as they will after the rename. */
static PdIO *new_file_io(const NewFile *nf, GError **error)
{
    int fd = fcntl(nf->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        pd_error_set_errno(error, errno, "Could not open '%s'", nf->tmp);
        return NULL;
    }
    return pd_io_file_open_fd(fd, nf->path, PD_IO_RDWR, error);
}

/* Renames the complete partial file into place (never over an existing file) and makes that
 * durable before the daemon's reply says done (unless @no_sync: then the daemon's later
 * pd_pool_dir_sync does, group commit). On failure the name is free again. */
static bool new_file_commit(NewFile *nf, bool no_sync, GError **error)
{
    if (!pd_pool_path_rename_noreplace(nf->dfd, nf->tmp, nf->name, error))
        return false;
    g_clear_pointer(&nf->tmp, g_free); /* committed: nothing to remove any more */
    if (no_sync || fsync(nf->dfd) == 0)
        return true;
    pd_error_set_errno(error, errno, "Could not flush directory '%s'", nf->pool->def->target_path);
    (void)unlinkat(nf->dfd, nf->name, 0);
    return false;
}

/* Writes a new image per @plan into the empty partial file. */
static bool write_new_image(const NewFile *nf, const PdCreatePlan *plan, GError **error)
{
    PdIO *io = new_file_io(nf, error);
    if (!io)
        return false;
    bool ok = pd_pool_image_write_new(io, plan, error);
    pd_io_close(io);
    return ok;
}

/* The committed volume read back (the catalog's new entry). */
static bool finish_create(const NewFile *nf, const char *format, PdVol **ret_vol, GError **error)
{
    g_autoptr(PdVol) prev = pd_vol_new();
    prev->name = g_strdup(nf->name);
    prev->format = g_strdup(format);
    PdVol *vol = read_volume(nf->pool, nf->dfd, nf->name, prev, error);
    if (!vol)
        return false;
    *ret_vol = vol;
    return true;
}

/* Creates a volume per @plan: partial file with permissions, image, rename into place.
 * @flags: PD_VOL_CREATE_NO_SYNC is honoured. */
static bool create_from_plan(const PdPool *pool, const PdVolDef *def, const PdCreatePlan *plan,
                             unsigned flags, const PdBackendJob *job, PdVol **ret_vol,
                             GError **error)
{
    g_auto(NewFile) nf = NEW_FILE_INIT;
    bool ok = pd_pool_util_check_cancel(job, pool, def->name, error) &&
              new_file_begin(&nf, pool, def, error) && write_new_image(&nf, plan, error) &&
              pd_pool_util_check_cancel(job, pool, def->name, error) &&
              new_file_commit(&nf, flags & PD_VOL_CREATE_NO_SYNC, error);
    if (!ok) {
        pd_pool_util_prefix_error(error, pool, def->name);
        return false;
    }
    if (!finish_create(&nf, pd_format_name(plan->opts.format), ret_vol, error))
        return false;
    pd_pool_util_progress(job, (*ret_vol)->capacity, (*ret_vol)->capacity);
    return true;
}

bool pd_pool_dir_vol_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                            const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_create(pool, def, flags, probe_backing, NULL, &plan, error) &&
              create_from_plan(pool, def, &plan, flags, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* ---- cloning ------------------------------------------------------------------------------ */

/* Makes the partial file share the extents of @src_vol of @src_pool (FICLONE; the source opened
 * through the path rule of its own pool). Returns 1 when done, 0 when the filesystem cannot
 * (different filesystems, no reflink support), -1 with @error on another failure. */
static int try_reflink(const PdPool *src_pool, const PdVol *src_vol, const NewFile *nf,
                       GError **error)
{
    PD_AUTO_FD int sdfd = pd_pool_path_open_dir(src_pool, error);
    PD_AUTO_FD int sfd =
        sdfd >= 0 ? pd_pool_path_open(src_pool, sdfd, src_vol->name, O_RDONLY, NULL, error) : -1;
    if (sfd < 0)
        return -1;
    if (ioctl(nf->fd, FICLONE, sfd) < 0) {
        int e = errno;
        if (e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS ||
            e == EPERM)
            return 0;
        pd_error_set_errno(error, e, "Could not clone '%s'", src_vol->path);
        return -1;
    }
    if (fsync(nf->fd) < 0) {
        pd_error_set_errno(error, errno, "Could not flush '%s'", nf->tmp);
        return -1;
    }
    return 1;
}

/* Copies @src into the partial file as a new image per @plan. */
static bool copy_into(PdImage *src, const NewFile *nf, const PdCreatePlan *plan,
                      const PdBackendJob *job, GError **error)
{
    PdIO *io = new_file_io(nf, error);
    return io && pd_pool_image_copy_into(src, io, plan, job, error);
}

/* Grows a reflinked copy to @capacity (a bigger clone than its source). */
static bool grow_copy(const NewFile *nf, PdFormat format, uint64_t capacity, GError **error)
{
    PdIO *io = new_file_io(nf, error);
    g_autoptr(PdImage) img =
        io ? pd_image_open_io(io, format, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error) : NULL;
    return img && pd_image_resize(img, capacity, PD_PREALLOC_OFF, false, error) &&
           pd_image_flush(img, error);
}

/* Fills the partial file with a copy of @src_vol of @src_pool (open as @src): reflink when
 * allowed and possible (a file of a pool of files), else the convert engine. */
static bool clone_into(const PdPool *src_pool, const PdVol *src_vol, PdImage *src,
                       const NewFile *nf, const PdCreatePlan *plan, unsigned flags,
                       const PdBackendJob *job, GError **error)
{
    bool can_reflink = src_vol->type == PD_VOL_FILE && src_pool->def->target_path &&
                       path_is(src_vol->path, src_pool, src_vol->name) &&
                       pd_image_format(src) == plan->opts.format && !pd_image_backing(src);
    int r = 0;
    if (can_reflink) {
        r = try_reflink(src_pool, src_vol, nf, error);
        if (r < 0)
            return false;
    }
    if (r == 0 && (flags & PD_VOL_CREATE_REFLINK)) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "cannot reflink '%s' here (%s); clone without --reflink to copy it",
                    src_vol->name,
                    can_reflink ? "the filesystem does not share extents"
                                : "formats differ or the source has a backing file");
        return false;
    }
    if (r == 0)
        return copy_into(src, nf, plan, job, error);
    uint64_t src_size = pd_image_size(src);
    pd_pool_util_progress(job, src_size, src_size);
    return plan->opts.size <= src_size || grow_copy(nf, plan->opts.format, plan->opts.size, error);
}

/* A linked clone: a qcow2 overlay whose backing file is @src_vol. */
static bool create_linked(const PdPool *pool, const PdVolDef *def, const PdVol *src_vol,
                          const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    if (!src_vol->path) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                           "source volume '%s' has no path to use as a backing file",
                           src_vol->name);
        return false;
    }
    PdCreatePlan plan;
    bool ok = pd_pool_image_plan_linked(pool, def, src_vol->path, src_vol->format, &plan, error) &&
              create_from_plan(pool, def, &plan, 0, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* Copies @src (open) into a new volume per @plan. */
static bool create_copy(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                        const PdVol *src_vol, PdImage *src, const PdCreatePlan *plan,
                        unsigned flags, const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    g_auto(NewFile) nf = NEW_FILE_INIT;
    bool ok = new_file_begin(&nf, pool, def, error) &&
              clone_into(src_pool, src_vol, src, &nf, plan, flags, job, error) &&
              pd_pool_util_check_cancel(job, pool, def->name, error) &&
              new_file_commit(&nf, false, error);
    if (!ok) {
        pd_pool_util_prefix_error(error, pool, def->name);
        return false;
    }
    return finish_create(&nf, pd_format_name(plan->opts.format), ret_vol, error);
}

bool pd_pool_dir_vol_create_from(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                                 const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                                 PdVol **ret_vol, GError **error)
{
    if (flags & PD_VOL_CREATE_LINKED)
        return create_linked(pool, def, src_vol, job, ret_vol, error);
    const PdPoolBackend *src_be = pd_pool_backend_for_def(src_pool->def, error);
    if (!src_be)
        return false;
    g_autoptr(PdImage) src =
        pd_pool_backend_vol_open(src_be, src_pool, src_vol, PD_OPEN_RDONLY, error);
    PdCreatePlan plan;
    if (!src || !pd_pool_image_plan_clone(pool, def, src, &plan, error))
        return false;
    bool ok = create_copy(pool, def, src_pool, src_vol, src, &plan, flags, job, ret_vol, error);
    pd_create_plan_clear(&plan);
    return ok;
}

/* ---- delete, resize ------------------------------------------------------------------------ */

bool pd_pool_dir_sync(const PdPool *pool, GError **error)
{
    const char *target = pool->def->target_path;
    if (pd_pool_util_sync_dir(target, error))
        return true;
    /* The directory is gone: pool-delete removed it (rmdir: only once empty) after the
     * changes this sync was to make durable, before the group commit's barrier ran (a client
     * that deletes its volumes, then stops and deletes the pool). Nothing is left in it to
     * make durable: make its removal durable instead, or the answers of those deletes would
     * say they failed. */
    if (!g_file_test(target, G_FILE_TEST_EXISTS)) {
        g_autofree char *parent = g_path_get_dirname(target);
        g_clear_error(error);
        if (pd_pool_util_sync_dir(parent, error))
            return true;
    }
    g_prefix_error(error, "pool '%s': ", pool->def->name);
    return false;
}

bool pd_pool_dir_vol_delete(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error)
{
    g_autofree char *path = vol_path(pool, vol->name);
    PD_AUTO_FD int dfd = pd_pool_path_open_dir(pool, error);
    if (dfd < 0)
        return false;
    /* the name goes, whatever it is: a symbolic link is removed, never what it points at */
    if (unlinkat(dfd, vol->name, 0) == 0) {
        /* best effort: the volume is gone either way; a crash may bring the name back, and the
         * next refresh then lists it again */
        if (!(flags & PD_VOL_DELETE_NO_SYNC)) /* else pd_pool_dir_sync, group commit */
            (void)fsync(dfd);
        return true;
    }
    if (errno == ENOENT)
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_NO_SUCH_VOLUME,
                           "'%s' does not exist anymore (refresh the pool)", path);
    else
        pd_pool_util_error_errno(error, pool, vol->name, errno, "cannot delete '%s'", path);
    return false;
}

bool pd_pool_dir_vol_resize(const PdPool *pool, const PdVol *vol, uint64_t capacity, unsigned flags,
                            const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    if (vol->type == PD_VOL_BLOCK) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "a block device in a dir pool cannot be resized by poold");
        return false;
    }
    /* the backing chain is opened too: a shrink must not cut what the guest reads from it */
    g_autoptr(PdImage) img = open_volume_image(pool, vol, PD_OPEN_RDWR, error);
    if (!img)
        return false;
    if (!pd_pool_image_resize(pool, vol, img, capacity, flags, job, error))
        return false;
    if (!pd_pool_image_close(g_steal_pointer(&img), pool, vol, error))
        return false;
    return !ret_vol || pd_pool_dir_vol_refresh(pool, vol, ret_vol, error);
}

/* ---- wipe ---------------------------------------------------------------------------------- */

/* Wipes the open image @img of @vol and closes it. */
static bool wipe_image(const PdPool *pool, const PdVol *vol, PdImage *img,
                       PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error)
{
    g_autoptr(PdImage) owned = img;
    if (!owned || !pd_pool_image_wipe(pool, vol, owned, algorithm, job, error))
        return false;
    return pd_pool_image_close(g_steal_pointer(&owned), pool, vol, error);
}

bool pd_pool_dir_vol_wipe(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                          unsigned flags, const PdBackendJob *job, GError **error)
{
    PdImage *img = open_volume_image(pool, vol, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    return wipe_image(pool, vol, img, algorithm, job, error);
}

bool pd_pool_dir_wipe_at(const PdPool *pool, const PdVol *vol, const char *path,
                         PdWipeAlgorithm algorithm, const PdBackendJob *job, GError **error)
{
    PdImage *img = open_image_at(pool, vol, path, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    return wipe_image(pool, vol, img, algorithm, job, error);
}

/* ---- upload, download ----------------------------------------------------------------------- */

/* The volume's file or device as a store, through the path rule. */
static PdIO *open_volume_io(const PdPool *pool, const PdVol *vol, PdIOFlags flags, GError **error)
{
    PD_AUTO_FD int dfd = pd_pool_path_open_dir(pool, error);
    return dfd >= 0 ? pd_pool_path_open_io(pool, dfd, vol->name, flags, error) : NULL;
}

bool pd_pool_dir_vol_upload(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                            uint64_t length, unsigned flags, const PdBackendJob *job,
                            GError **error)
{
    g_autoptr(PdIO) io = open_volume_io(pool, vol, PD_IO_RDWR, error);
    return io && pd_pool_util_upload_io(pool, vol, io, io->fixed_size, fd, offset, length, flags,
                                        job, error);
}

bool pd_pool_dir_vol_download(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                              uint64_t length, unsigned flags, const PdBackendJob *job,
                              GError **error)
{
    g_autoptr(PdIO) io = open_volume_io(pool, vol, PD_IO_RDONLY, error);
    return io && pd_pool_util_download_io(pool, vol, io, fd, offset, length, flags, job, error);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/* Opens a qcow2 volume for its snapshots; PD_ERROR_UNSUPPORTED naming the format otherwise. */
static PdImage *open_for_snapshots(const PdPool *pool, const PdVol *vol, unsigned flags,
                                   GError **error)
{
    if (!pd_pool_image_check_snapshots(pool, vol, error))
        return NULL;
    return open_volume_image(pool, vol, flags | PD_OPEN_NO_BACKING, error);
}

bool pd_pool_dir_vol_snapshot_list(const PdPool *pool, const PdVol *vol, GArray **ret_snapshots,
                                   GError **error)
{
    g_autoptr(PdImage) img = open_for_snapshots(pool, vol, PD_OPEN_RDONLY, error);
    if (!img)
        return false;
    GArray *list = pd_image_snapshot_list(img, error);
    if (!list) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    *ret_snapshots = list;
    return true;
}

typedef bool (*SnapshotOp)(PdImage *img, const char *name, GError **error);

/* Runs a snapshot operation that changes the image and flushes it. */
static bool snapshot_change(const PdPool *pool, const PdVol *vol, const char *name, SnapshotOp op,
                            GError **error)
{
    g_autoptr(PdImage) img = open_for_snapshots(pool, vol, PD_OPEN_RDWR, error);
    if (!img)
        return false;
    if (!op(img, name, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return pd_pool_image_close(g_steal_pointer(&img), pool, vol, error);
}

bool pd_pool_dir_vol_snapshot_create(const PdPool *pool, const PdVol *vol, const char *name,
                                     GError **error)
{
    return snapshot_change(pool, vol, name, pd_image_snapshot_create, error);
}

bool pd_pool_dir_vol_snapshot_revert(const PdPool *pool, const PdVol *vol, const char *name,
                                     GError **error)
{
    return snapshot_change(pool, vol, name, pd_image_snapshot_apply, error);
}

bool pd_pool_dir_vol_snapshot_delete(const PdPool *pool, const PdVol *vol, const char *name,
                                     GError **error)
{
    return snapshot_change(pool, vol, name, pd_image_snapshot_delete, error);
}

/* ---- the table ------------------------------------------------------------------------------ */

const PdPoolBackend pd_pool_backend_dir = {
    .type = PD_POOL_DIR,
    .find_sources = NULL,
    .build = pd_pool_dir_build,
    .start = pd_pool_dir_start,
    .stop = NULL, /* nothing to undo */
    .delete = pd_pool_dir_delete,
    .sync = pd_pool_dir_sync,
    .refresh = pd_pool_dir_refresh,
    .cleanup_partial = pd_pool_dir_cleanup_partial,
    .vol_refresh = pd_pool_dir_vol_refresh,
    .vol_open = pd_pool_dir_vol_open, /* through the path rule (pool-path.h) */
    .vol_create = pd_pool_dir_vol_create,
    .vol_create_from = pd_pool_dir_vol_create_from,
    .vol_delete = pd_pool_dir_vol_delete,
    .vol_resize = pd_pool_dir_vol_resize,
    .vol_wipe = pd_pool_dir_vol_wipe,
    .vol_upload = pd_pool_dir_vol_upload,
    .vol_download = pd_pool_dir_vol_download,
    .vol_snapshot_list = pd_pool_dir_vol_snapshot_list,
    .vol_snapshot_create = pd_pool_dir_vol_snapshot_create,
    .vol_snapshot_revert = pd_pool_dir_vol_snapshot_revert,
    .vol_snapshot_delete = pd_pool_dir_vol_snapshot_delete,
};
