/* mount/umount argv, the mount table and running mounts with a deadline (see mount-util.h). */
#include "pools/mount-util.h"

#include "common/pd-error.h"
#include "pools/cmd-util.h"
#include "pools/pool-dir.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define NFS_RETRANS 2 /* retransmissions before a soft mount's call fails */

unsigned pd_mount_timeout_ms(void)
{
    const char *env = g_getenv("POOLD_MOUNT_TIMEOUT");
    if (env && *env) {
        char *end;
        unsigned long s = strtoul(env, &end, 10);
        if (*end == '\0' && s >= 1 && s <= 3600)
            return (unsigned)s * 1000;
    }
    return PD_MOUNT_TIMEOUT_DEFAULT_MS;
}

/* ---- argv ------------------------------------------------------------------------------- */

char **pd_mount_argv(const char *fstype, const char *source, const char *target,
                     const char *options)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, g_strdup("mount"));
    if (fstype && strcmp(fstype, "auto") != 0) {
        g_ptr_array_add(argv, g_strdup("-t"));
        g_ptr_array_add(argv, g_strdup(fstype));
    }
    if (options && *options) {
        g_ptr_array_add(argv, g_strdup("-o"));
        g_ptr_array_add(argv, g_strdup(options));
    }
    g_ptr_array_add(argv, g_strdup(source));
    g_ptr_array_add(argv, g_strdup(target));
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}

char **pd_umount_argv(const char *target)
{
    char **argv = g_new0(char *, 3);
    argv[0] = g_strdup("umount");
    argv[1] = g_strdup(target);
    return argv;
}

char *pd_mount_nfs_source(const char *host, const char *dir)
{
    bool ipv6 = strchr(host, ':') != NULL && host[0] != '[';
    return g_strdup_printf(ipv6 ? "[%s]:%s" : "%s:%s", host, dir);
}

char *pd_mount_join_options(const GPtrArray *mount_opts)
{
    if (!mount_opts || mount_opts->len == 0)
        return NULL;
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < mount_opts->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)mount_opts->pdata[i]);
    return g_string_free(s, FALSE);
}

char *pd_mount_nfs_options(const PdPoolDef *def, unsigned timeout_s)
{
    /* soft mount over TCP: a call fails after timeo * (1 + 2 + ... + (retrans + 1)) (linear
     * back-off, nfs(5)), so timeo = timeout / 6 with two retransmissions */
    unsigned timeo = MAX(1u, timeout_s * 10 / ((NFS_RETRANS + 1) * (NFS_RETRANS + 2) / 2));
    GString *s = g_string_new("nodev,nosuid,noexec");
    g_string_append_printf(s, ",soft,timeo=%u,retrans=%u,retry=0", timeo, NFS_RETRANS);
    if (def->source.protocol_ver)
        g_string_append_printf(s, ",vers=%u", def->source.protocol_ver);
    if (def->source.host_port)
        g_string_append_printf(s, ",port=%u", def->source.host_port);
    g_autofree char *extra = pd_mount_join_options(def->mount_opts);
    if (extra)
        g_string_append_printf(s, ",%s", extra);
    return g_string_free(s, FALSE);
}

/* ---- mountinfo --------------------------------------------------------------------------- */

void pd_mount_entry_clear(PdMountEntry *entry)
{
    g_free(entry->mount_point);
    g_free(entry->fstype);
    g_free(entry->source);
    memset(entry, 0, sizeof(*entry));
}

/* Decodes the \ooo escapes mountinfo uses for space, tab, newline and backslash. */
static char *unescape(const char *field)
{
    GString *s = g_string_new(NULL);
    for (const char *p = field; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            g_string_append_c(s, (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
            p += 3;
        } else {
            g_string_append_c(s, *p);
        }
    }
    return g_string_free(s, FALSE);
}

/* Parses one mountinfo line:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (id parent major:minor root mount-point options [optional...] - fstype source super)
 * False when it does not have that shape. */
static bool parse_line(const char *line, PdMountEntry *ret)
{
    g_auto(GStrv) f = g_strsplit(line, " ", -1);
    guint n = g_strv_length(f);
    if (n < 10)
        return false;
    unsigned major, minor;
    char tail;
    if (sscanf(f[2], "%u:%u%c", &major, &minor, &tail) != 2)
        return false;
    guint sep = 6;
    while (sep < n && strcmp(f[sep], "-") != 0)
        sep++;
    if (sep + 2 >= n)
        return false;
    ret->major = major;
    ret->minor = minor;
    ret->mount_point = unescape(f[4]);
    ret->fstype = unescape(f[sep + 1]);
    ret->source = unescape(f[sep + 2]);
    return true;
}

int pd_mount_lookup(const char *mountinfo, const char *mount_point, PdMountEntry *ret)
{
    g_auto(GStrv) lines = g_strsplit(mountinfo, "\n", -1);
    int found = 0;
    for (char **l = lines; *l; l++) {
        PdMountEntry e = {0};
        if (!parse_line(*l, &e))
            continue;
        if (strcmp(e.mount_point, mount_point) == 0) { /* later lines are mounted on top */
            if (found)
                pd_mount_entry_clear(ret);
            *ret = e;
            found = 1;
        } else {
            pd_mount_entry_clear(&e);
        }
    }
    return found;
}

char *pd_mount_lookup_device(const char *mountinfo, dev_t rdev)
{
    g_auto(GStrv) lines = g_strsplit(mountinfo, "\n", -1);
    for (char **l = lines; *l; l++) {
        PdMountEntry e = {0};
        if (!parse_line(*l, &e))
            continue;
        bool match = e.major == major(rdev) && e.minor == minor(rdev);
        char *where = match ? g_steal_pointer(&e.mount_point) : NULL;
        pd_mount_entry_clear(&e);
        if (where)
            return where;
    }
    return NULL;
}

int pd_mount_find(const PdPool *pool, const char *path, PdMountEntry *ret, GError **error)
{
    g_autofree char *real = realpath(path, NULL);
    if (!real) {
        pd_pool_util_error_errno(error, pool, NULL, errno, "cannot resolve '%s'", path);
        return -1;
    }
    g_autofree char *table = NULL;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents("/proc/self/mountinfo", &table, NULL, &local)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_IO, "cannot read the mount table: %s",
                           local->message);
        return -1;
    }
    return pd_mount_lookup(table, real, ret);
}

/* ---- running ------------------------------------------------------------------------------ */

bool pd_mount_run(const PdPool *pool, char *const *argv, const char *what, unsigned timeout_ms,
                  GError **error)
{
    PdCmdCheck check = {
        .what = what,
        .timeout_ms = timeout_ms ? timeout_ms : pd_mount_timeout_ms(),
        .timeout_hint = " (server unreachable or not answering?); it was stopped",
    };
    if (pd_cmd_run_checked((const char *const *)argv, &check, NULL, error))
        return true;
    pd_pool_util_prefix_error(error, pool, NULL);
    return false;
}

bool pd_mount_refresh(const PdPool *pool, int state, const char *source, const GPtrArray *previous,
                      PdPoolRefresh *ret, GError **error)
{
    if (state == 0)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_STATE,
                           "%s is no longer mounted at '%s' (pool-destroy, then pool-start)",
                           source, pool->def->target_path);
    return state > 0 && pd_pool_posix_refresh(pool, previous, ret, error);
}

bool pd_mount_unmount_target(PdPool *pool, GError **error)
{
    const char *target = pool->def->target_path;
    PdMountEntry e = {0};
    g_autoptr(GError) local = NULL;
    int r = pd_mount_find(pool, target, &e, &local);
    pd_mount_entry_clear(&e);
    if (r == 0 || (r < 0 && !g_file_test(target, G_FILE_TEST_EXISTS)))
        return true;
    if (r < 0) {
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    g_auto(GStrv) argv = pd_umount_argv(target);
    g_autofree char *what = g_strdup_printf("cannot unmount '%s'", target);
    return pd_mount_run(pool, argv, what, 0, error);
}
