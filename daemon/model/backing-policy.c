/* Backing-file trust (backing-policy.h): resolution, the roots, the engine's opener. */
#include "daemon/model/backing-policy.h"
#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct PdBackingPolicy {
    GMutex lock;
    /* roots as real paths, resolved when they are set (a pool's target may be named through a
     * symbolic link; one that does not exist yet, by its canonical name) */
    GPtrArray *config_roots; /* char *, fixed after new */
    GPtrArray *pool_roots;   /* char *, replaced under @lock */
    GPtrArray *device_roots; /* char *, replaced under @lock: /dev/VG of logical pools */
    PdBackingOpener opener;
};

static PdIO *policy_open(PdIO *overlay, const char *name, PdFormat format, PdIO *top, void *data,
                         GError **error);

static GPtrArray *copy_roots(const char *const *roots)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; roots && roots[i]; i++)
        if (*roots[i])
            g_ptr_array_add(a, g_strdup(roots[i]));
    return a;
}

/* The real paths of @roots (what beneath compares with). Resolved once, when the roots are
 * set: a later change of a link in a root's path (by whoever may write there) does not move
 * the root. */
static GPtrArray *resolve_roots(const char *const *roots)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; roots && roots[i]; i++) {
        if (!*roots[i])
            continue;
        char real[PATH_MAX];
        g_ptr_array_add(a, realpath(roots[i], real) ? g_strdup(real)
                                                    : g_canonicalize_filename(roots[i], "/"));
    }
    return a;
}

PdBackingPolicy *pd_backing_policy_new(const char *const *config_roots)
{
    PdBackingPolicy *p = g_new0(PdBackingPolicy, 1);
    g_mutex_init(&p->lock);
    p->config_roots = resolve_roots(config_roots);
    p->pool_roots = copy_roots(NULL);
    p->device_roots = copy_roots(NULL);
    p->opener.open = policy_open;
    p->opener.data = p;
    return p;
}

void pd_backing_policy_free(PdBackingPolicy *policy)
{
    if (!policy)
        return;
    g_ptr_array_unref(policy->config_roots);
    g_ptr_array_unref(policy->pool_roots);
    g_ptr_array_unref(policy->device_roots);
    g_mutex_clear(&policy->lock);
    g_free(policy);
}

void pd_backing_policy_set_roots(PdBackingPolicy *policy, const char *const *pool_roots,
                                 const char *const *device_roots)
{
    GPtrArray *a = resolve_roots(pool_roots);
    GPtrArray *d = copy_roots(device_roots);
    g_mutex_lock(&policy->lock);
    GPtrArray *old = policy->pool_roots;
    GPtrArray *old_d = policy->device_roots;
    policy->pool_roots = a;
    policy->device_roots = d;
    g_mutex_unlock(&policy->lock);
    g_ptr_array_unref(old);
    g_ptr_array_unref(old_d);
}

const PdBackingOpener *pd_backing_policy_opener(PdBackingPolicy *policy)
{
    return &policy->opener;
}

/* @real (a resolved path) is @root_real or lies beneath it. */
static bool beneath(const char *real, const char *root_real)
{
    size_t n = strlen(root_real);
    if (n == 1) /* "/" */
        return true;
    return strncmp(real, root_real, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

static bool beneath_any(const GPtrArray *roots, const char *real)
{
    for (guint i = 0; i < roots->len; i++)
        if (beneath(real, roots->pdata[i]))
            return true;
    return false;
}

static bool inside_roots(PdBackingPolicy *p, const char *real)
{
    if (beneath_any(p->config_roots, real))
        return true;
    g_mutex_lock(&p->lock);
    GPtrArray *pools = g_ptr_array_ref(p->pool_roots);
    g_mutex_unlock(&p->lock);
    bool inside = beneath_any(pools, real);
    g_ptr_array_unref(pools);
    return inside;
}

/* A logical volume: /dev/VG/LV is a link to /dev/dm-N, made by LVM in a directory only root
 * writes; a block device named beneath a logical pool's /dev/VG by its (canonical) name. */
static bool logical_volume(PdBackingPolicy *p, const char *path, const struct stat *st)
{
    if (!S_ISBLK(st->st_mode))
        return false;
    g_autofree char *canon = g_canonicalize_filename(path, NULL);
    g_mutex_lock(&p->lock);
    GPtrArray *devs = g_ptr_array_ref(p->device_roots);
    g_mutex_unlock(&p->lock);
    bool inside = false;
    for (guint i = 0; i < devs->len && !inside; i++) {
        const char *root = devs->pdata[i];
        size_t n = strlen(root);
        inside = strncmp(canon, root, n) == 0 && canon[n] == '/' && !strchr(canon + n + 1, '/');
    }
    g_ptr_array_unref(devs);
    return inside;
}

/* The one answer for a backing file outside the pools or that does not resolve to a file in
 * them: it reads the same whether the file exists or not and never says where a link leads
 * (the answers are readable on the read-only socket); @detail goes to poold's log only. */
static void set_outside(GError **error, const char *path, const char *volume, const char *detail)
{
    g_autofree char *safe = g_strescape(detail, NULL);
    g_message("backing file of volume '%s' refused: %s", volume, safe);
    g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                "backing file '%s' of volume '%s' is outside the pools poold manages or cannot "
                "be opened; add its directory as a pool or to backing_roots, or restore the "
                "file",
                path, volume);
}

/* The root of the pools (or backing_roots) whose name @canon lies beneath, or NULL. */
static char *root_of(PdBackingPolicy *p, const char *canon)
{
    for (guint i = 0; i < p->config_roots->len; i++)
        if (beneath(canon, p->config_roots->pdata[i]))
            return g_strdup(p->config_roots->pdata[i]);
    char *found = NULL;
    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->pool_roots->len && !found; i++)
        if (beneath(canon, p->pool_roots->pdata[i]))
            found = g_strdup(p->pool_roots->pdata[i]);
    g_mutex_unlock(&p->lock);
    return found;
}

/* Why @canon (named beneath a root, not resolving) fails when resolved without leaving that
 * root: an errno about the root's own files, or 0 when the name leads out of it (EXDEV) or
 * resolves after all (a race); only the former may be told. */
static int error_beneath_root(PdBackingPolicy *p, const char *canon)
{
    g_autofree char *root = root_of(p, canon);
    if (!root)
        return 0;
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return 0;
    const char *rel = canon + strlen(root);
    while (*rel == '/')
        rel++;
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, rfd, *rel ? rel : ".", &how, sizeof how);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0)
        (void)close(fd);
    (void)close(rfd);
    return e == EXDEV || e == EAGAIN ? 0 : e;
}

/* A path that does not resolve: told in detail only when its failure lies inside a root
 * (a missing volume of a pool, a loop of links there); else the one outside answer, so that
 * an answer does not say which host files exist. */
static void set_unresolved(PdBackingPolicy *p, GError **error, int e, const char *path,
                           const char *volume)
{
    g_autofree char *canon = g_canonicalize_filename(path, NULL);
    int inner = error_beneath_root(p, canon);
    if (!inner) {
        g_autofree char *detail = g_strdup_printf("'%s': %s", path, g_strerror(e));
        set_outside(error, path, volume, detail);
        return;
    }
    if (inner == ELOOP) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "backing file '%s' of volume '%s' cannot be resolved: it loops through "
                    "symbolic links or goes through a /proc magic link, which poold does not "
                    "follow",
                    path, volume);
        return;
    }
    g_set_error(error, PD_ERROR, inner == ENOENT ? PD_ERROR_NOT_FOUND : PD_ERROR_PERMISSION_DENIED,
                "backing file '%s' of volume '%s' cannot be opened: %s", path, volume,
                g_strerror(inner));
}

int pd_backing_policy_resolve(PdBackingPolicy *policy, const char *path, const char *volume,
                              struct stat *ret_st, char **ret_real, GError **error)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0) {
        set_unresolved(policy, error, errno, path, volume);
        return -1;
    }
    char proc[64], real[PATH_MAX];
    (void)snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, real, sizeof real - 1);
    struct stat st;
    if (n <= 0 || fstat(fd, &st) < 0) {
        pd_error_set_errno(error, errno,
                           "backing file '%s' of volume '%s': its real path cannot be read", path,
                           volume);
        (void)close(fd);
        return -1;
    }
    real[n] = '\0';
    if (real[0] != '/' || (!inside_roots(policy, real) && !logical_volume(policy, path, &st))) {
        g_autofree char *detail = g_strdup_printf("'%s' resolves to '%s'", path, real);
        set_outside(error, path, volume, detail);
        (void)close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "backing file '%s' of volume '%s' is a %s; a backing file must be a regular "
                    "file or a block device",
                    path, volume, pd_io_file_type_name(st.st_mode));
        (void)close(fd);
        return -1;
    }
    *ret_st = st;
    if (ret_real)
        *ret_real = g_strdup(real);
    return fd;
}

bool pd_backing_policy_check(PdBackingPolicy *policy, const char *path, const char *volume,
                             GError **error)
{
    struct stat st;
    int fd = pd_backing_policy_resolve(policy, path, volume, &st, NULL, error);
    if (fd < 0)
        return false;
    (void)close(fd);
    return true;
}

/* The engine's opener: the recorded name joined to the overlay's directory (qemu-img's
 * rule), resolved by the policy, then that same file opened for reading, non-blocking. */
static PdIO *policy_open(PdIO *overlay, const char *name, PdFormat format, PdIO *top, void *data,
                         GError **error)
{
    PdBackingPolicy *p = data;
    g_autofree char *volume = g_path_get_basename(top->name);
    if (strstr(overlay->name, "://")) /* NFS in userspace: open_relative stays in the export */
        return pd_backing_open_default(overlay, name, format, top, NULL, error);
    g_autofree char *dir = g_path_get_dirname(overlay->name);
    g_autofree char *path =
        g_path_is_absolute(name) ? g_strdup(name) : g_build_filename(dir, name, NULL);
    struct stat st;
    int pfd = pd_backing_policy_resolve(p, path, volume, &st, NULL, error);
    if (pfd < 0)
        return NULL;
    char proc[64];
    (void)snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    int fd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    (void)close(pfd);
    if (fd < 0) {
        pd_error_set_errno(error, e, "backing file '%s' of volume '%s'", path, volume);
        return NULL;
    }
    PdIO *io = pd_io_file_open_fd(fd, path, PD_IO_RDONLY | PD_IO_DATA_ONLY, error);
    if (io && (io->file_dev != (uint64_t)st.st_dev || io->file_ino != (uint64_t)st.st_ino)) {
        pd_io_close(io);
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "backing file '%s' of volume '%s' changed while it was opened", path, volume);
        return NULL;
    }
    return io;
}
