/* libFuzzer target: the output of the tools the kernel-backed pools run, parsed by poold. Part of
 * it comes from other machines (showmount's export list, an iSCSI portal's SendTargets answer)
 * and part from the local system (blkid, /proc/self/mountinfo). Every parser runs on every
 * input; each result must hold only what the parser promises (absolute export paths, target
 * names without blanks, mount points found again by a lookup). Crashes, leaks and sanitizer
 * reports are bugs. The replay program (fuzz-main.c) runs it over tests/fuzz/corpus-tools/. */
#include "pools/mount-util.h"
#include "pools/pool-fs.h"
#include "pools/pool-iscsi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lists(const char *text)
{
    g_autoptr(GPtrArray) exports = pd_netfs_parse_showmount(text);
    for (guint i = 0; i < exports->len; i++) {
        const char *path = exports->pdata[i];
        if (path[0] != '/' || strpbrk(path, " \t\n"))
            abort(); /* an export is one absolute path */
    }
    g_autoptr(GPtrArray) targets = pd_iscsi_parse_discovery(text);
    for (guint i = 0; i < targets->len; i++) {
        const char *iqn = targets->pdata[i];
        if (!*iqn || strpbrk(iqn, " \t\n"))
            abort(); /* a target name is one word */
    }
    g_free(pd_fs_parse_blkid(text));
}

/* Every mount point the table names is found again by a lookup of its own name. */
static void check_mountinfo(const char *text)
{
    PdMountEntry e = {0};
    if (pd_mount_lookup(text, "/", &e) == 1) {
        PdMountEntry again = {0};
        if (pd_mount_lookup(text, e.mount_point, &again) != 1)
            abort();
        pd_mount_entry_clear(&again);
    }
    pd_mount_entry_clear(&e);
    g_free(pd_mount_lookup_device(text, makedev(7, 0)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    g_autofree char *text = g_strndup((const char *)data, size);
    check_lists(text);
    check_mountinfo(text);
    return 0;
}
