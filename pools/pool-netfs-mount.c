/* The netfs backend in mount mode (libvirt's way): start mounts the NFS export at the target
 * path with the kernel's client (mount -t nfs, a soft mount with a timeout, under a deadline),
 * stop unmounts it, and between the two the pool is a directory: every volume operation is the
 * dir pool's own code (pool-dir.h). find_sources lists a host's exports with showmount. */
#include "pools/pool-fs.h"

#include "common/pd-error.h"
#include "pools/cmd-util.h"
#include "pools/mount-util.h"
#include "pools/pool-dir.h"
#include "pools/pool-path.h"
#include "pools/pool-util.h"

#include <string.h>

/* ---- find_sources ---------------------------------------------------------------------------- */

char **pd_netfs_showmount_argv(const char *host)
{
    return g_strdupv((char *[]){"showmount", "--no-headers", "-e", (char *)host, NULL});
}

GPtrArray *pd_netfs_parse_showmount(const char *output)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) lines = g_strsplit(output ? output : "", "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *line = *l;
        if (line[0] != '/')
            continue; /* exports are absolute paths; anything else is no export line */
        size_t len = strcspn(line, " \t");
        g_ptr_array_add(paths, g_strndup(line, len));
    }
    return paths;
}

static bool netfs_find_sources(const PdPoolDef *spec, unsigned flags, GPtrArray **ret_sources,
                               GError **error)
{
    const char *host = spec ? spec->source.host_name : NULL;
    if (!host || !*host) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "finding netfs pool sources needs a host name");
        return false;
    }
    g_auto(GStrv) argv = pd_netfs_showmount_argv(host);
    g_autofree char *what = g_strdup_printf("cannot list the NFS exports of '%s'", host);
    PdCmdCheck check = {.what = what, .timeout_ms = pd_mount_timeout_ms()};
    PdCmdResult res = {0};
    if (!pd_cmd_run_checked((const char *const *)argv, &check, &res, error)) {
        pd_cmd_result_clear(&res);
        return false;
    }
    g_autoptr(GPtrArray) paths = pd_netfs_parse_showmount(res.out);
    pd_cmd_result_clear(&res);
    GPtrArray *sources = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    for (guint i = 0; i < paths->len; i++) {
        PdPoolDef *def = pd_pool_def_new(PD_POOL_NETFS);
        def->source.host_name = g_strdup(host);
        def->source.dir = g_strdup(paths->pdata[i]);
        def->source.format = g_strdup("nfs");
        g_ptr_array_add(sources, def);
    }
    *ret_sources = sources;
    return true;
}

/* ---- start, refresh ---------------------------------------------------------------------- */

/* "HOST:DIR" without trailing slashes on DIR (mountinfo shows the source as mount got it). */
static char *normalized_source(const char *source)
{
    char *s = g_strdup(source);
    size_t len = strlen(s);
    while (len > 1 && s[len - 1] == '/' && s[len - 2] != ':')
        s[--len] = '\0';
    return s;
}

static char *export_source(const PdPool *pool)
{
    g_autofree char *s = pd_mount_nfs_source(pool->def->source.host_name, pool->def->source.dir);
    return normalized_source(s);
}

/* Whether the pool's export is mounted at its target: 1 yes, 0 nothing mounted there, -1 error
 * (also when something else is mounted there). */
static int mounted_state(const PdPool *pool, GError **error)
{
    PdMountEntry e = {0};
    int r = pd_mount_find(pool, pool->def->target_path, &e, error);
    if (r <= 0)
        return r;
    g_autofree char *want = export_source(pool);
    g_autofree char *have = normalized_source(e.source);
    bool ours = g_str_has_prefix(e.fstype, "nfs") && strcmp(want, have) == 0;
    if (!ours)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                           "target '%s' has %s (%s) mounted on it, not the export %s",
                           pool->def->target_path, e.source, e.fstype, want);
    pd_mount_entry_clear(&e);
    return ours ? 1 : -1;
}

/* The pool's <poold:netfs timeout> when it has one, else the mount default: the deadline of
 * mount and the time after which a call to an unresponsive server fails. */
static unsigned mount_timeout_ms(const PdPoolDef *def)
{
    return def->netfs_timeout ? def->netfs_timeout * 1000 : pd_mount_timeout_ms();
}

static bool check_format(const PdPool *pool, GError **error)
{
    const char *format = pool->def->source.format;
    if (!format || strcmp(format, "auto") == 0 || strcmp(format, "nfs") == 0)
        return true;
    pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                       "netfs source format '%s' is not supported (poold mounts NFS exports)",
                       format);
    return false;
}

static bool netfs_start(PdPool *pool, GError **error)
{
    if (!check_format(pool, error) || !pd_pool_dir_start(pool, error))
        return false;
    int state = mounted_state(pool, error);
    if (state != 0)
        return state > 0; /* mounted already: a restarted poold finds its mount */
    const char *target = pool->def->target_path;
    g_autofree char *source = export_source(pool);
    unsigned timeout_ms = mount_timeout_ms(pool->def);
    g_autofree char *options = pd_mount_nfs_options(pool->def, timeout_ms / 1000);
    g_auto(GStrv) argv = pd_mount_argv("nfs", source, target, options);
    g_autofree char *what = g_strdup_printf("cannot mount NFS export %s at '%s'", source, target);
    if (!pd_mount_run(pool, argv, what, timeout_ms, error))
        return false;
    if (mounted_state(pool, error) > 0)
        return pd_pool_path_bind_dir(pool, error); /* the mount's root */
    if (error && !*error)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_IO,
                           "%s: mount succeeded but nothing is mounted there", what);
    g_auto(GStrv) undo = pd_umount_argv(target);
    (void)pd_mount_run(pool, undo, "undo", timeout_ms, NULL);
    return false;
}

/* The dir pool's refresh, once the export is known to be mounted: an unmounted target would
 * list (and later fill) the local directory underneath. */
static bool netfs_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                          GError **error)
{
    g_autofree char *export = export_source(pool);
    g_autofree char *source = g_strdup_printf("NFS export %s", export);
    return pd_mount_refresh(pool, mounted_state(pool, error), source, previous, ret, error);
}

PD_POSIX_POOL_DEFINE

const PdPoolBackend pd_pool_backend_netfs_mount = {
    .type = PD_POOL_NETFS,
    .find_sources = netfs_find_sources,
    .build = pd_pool_dir_build, /* the target directory */
    .start = netfs_start,
    .stop = pd_mount_unmount_target,
    .delete = pd_pool_dir_delete,
    .refresh = netfs_refresh,
    PD_POSIX_POOL_CALLBACKS,
    .vol_disk_source = NULL, /* a FILE source at the volume's path */
};
