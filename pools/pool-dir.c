/* The dir backend: a pool is a directory, its volumes are the regular files and block devices
 * in it (raw and qcow2 through the image engine; other formats listed, read as bytes), and the
 * links that stay inside it (pool-path.h). Here: the directory's build, start and delete; the
 * volumes are the one pool-of-files implementation (pool-files.c) over the POSIX namespace
 * (pool-ns-posix.c). */
#include "pools/pool-dir.h"

#include "common/pd-error.h"
#include "pools/pool-path.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_POOL_MODE 0711 /* libvirt's VIR_STORAGE_DEFAULT_POOL_PERM_MODE */

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
    return pd_pool_path_bind_dir(pool, error);
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

/* ---- the table ------------------------------------------------------------------------------ */

PD_POSIX_POOL_DEFINE

const PdPoolBackend pd_pool_backend_dir = {
    .type = PD_POOL_DIR,
    .find_sources = NULL,
    .build = pd_pool_dir_build,
    .start = pd_pool_dir_start,
    .stop = NULL, /* nothing to undo */
    .delete = pd_pool_dir_delete,
    .refresh = pd_pool_posix_refresh,
    PD_POSIX_POOL_CALLBACKS,
};
