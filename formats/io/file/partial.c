/* New files built under a hidden name and renamed into place: the one naming and the one
 * rename that never replaces, for the engine's targets (image/target.c) and the pools of files
 * (pools/pool-ns-posix.c). */
#include "formats/io/io.h"

#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *pd_io_partial_name(const char *name)
{
    static gint counter;
    unsigned n = (unsigned)g_atomic_int_add(&counter, 1);
    /* ".NAME.partial-PID-N": 1 + 9 + 10 + 1 + 10 bytes besides NAME, so at most 220 of it */
    int keep = (int)MIN(strlen(name), 220);
    return g_strdup_printf(".%.*s.partial-%d-%u", keep, name, (int)getpid(), n);
}

bool pd_io_partial_is_ours(const char *name)
{
    /* ".NAME.partial-PID-N" (or ".NAME.partial-PID" of older engines); NAME may hold
     * ".partial-" itself, so take the last one */
    const char *p = g_strrstr(name, ".partial-");
    if (!p)
        return false;
    char *end = NULL;
    long pid = strtol(p + strlen(".partial-"), &end, 10);
    return end && (*end == '\0' || *end == '-') && pid == (long)getpid();
}

bool pd_io_rename_noreplace(int dfd, const char *from, const char *to, GError **error)
{
    if (renameat2(dfd, from, dfd, to, RENAME_NOREPLACE) == 0)
        return true;
    int e = errno;
    if (e == EINVAL || e == ENOSYS) {
        /* no RENAME_NOREPLACE here: link fails on an existing name as well */
        if (linkat(dfd, from, dfd, to, 0) == 0) {
            (void)unlinkat(dfd, from, 0);
            return true;
        }
        e = errno;
        struct stat st;
        /* no hard links either (vfat, some NFS servers): check, then rename (racy, but the
         * daemon serialises creates of one name) */
        if (e != EEXIST && fstatat(dfd, to, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
            if (renameat(dfd, from, dfd, to) == 0)
                return true;
            e = errno;
        }
    }
    if (e == EEXIST)
        g_set_error(error, PD_ERROR, PD_ERROR_EXISTS, "Could not create '%s': file exists", to);
    else
        pd_error_set_errno(error, e, "Could not rename '%s' to '%s'", from, to);
    return false;
}
