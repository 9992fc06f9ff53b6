/* Backing-file trust: the one place that decides which files an image's backing chain may
 * name (docs/security.md, "Backing chains").
 *
 * Every element of a chain poold opens, and every backing file a new volume names, is
 * resolved by pd_backing_policy_resolve: to its real path, without following /proc magic
 * links (openat2 RESOLVE_NO_MAGICLINKS, O_PATH: nothing is opened for reading yet), and it
 * must be a regular file or a block device lying beneath the target directory of a file pool
 * poold manages (dir, fs, netfs, logical) or beneath a directory of the configuration's
 * [daemon] backing_roots. Loops are refused by the image engine (st_dev, st_ino). The
 * policy is installed as the image engine's process-wide backing opener at start-up, so no
 * open of a chain in poold can go around it (formats/image.h, PdBackingOpener).
 *
 * Threads: pd_backing_policy_set_roots on the main loop; everything else on any thread. */
#pragma once

#include "formats/image/image.h"

#include <glib.h>
#include <stdbool.h>
#include <sys/stat.h>

G_BEGIN_DECLS

typedef struct PdBackingPolicy PdBackingPolicy;

/* @config_roots: [daemon] backing_roots (absolute directories; copied; NULL for none). */
PdBackingPolicy *pd_backing_policy_new(const char *const *config_roots);
void pd_backing_policy_free(PdBackingPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdBackingPolicy, pd_backing_policy_free)

/* The target directories of the managed file pools, and the /dev/VG directories of the logical
 * pools (whose volumes are links to /dev/dm-N: a block device named directly beneath one is
 * accepted by that name), both copied: called whenever pools are defined, changed or
 * removed. */
void pd_backing_policy_set_roots(PdBackingPolicy *policy, const char *const *pool_roots,
                                 const char *const *device_roots);

/* THE rule. Resolves backing file @path (absolute, or relative to the current directory:
 * callers join it to the overlay's directory) named by volume @volume. On success returns an
 * O_PATH descriptor of the file (caller closes), its stat in @ret_st and (when @ret_real is
 * not NULL) its real path; on failure -1 with PD_ERROR_PERMISSION_DENIED (or NOT_FOUND)
 * naming the path, the volume and the rule. A path that does not resolve and lies outside
 * the roots by name is called outside (answers do not tell which host files exist). */
int pd_backing_policy_resolve(PdBackingPolicy *policy, const char *path, const char *volume,
                              struct stat *ret_st, char **ret_real, GError **error);

/* pd_backing_policy_resolve without the descriptor: for checks of definitions and for the
 * marks of listed volumes (no file is opened for reading). */
bool pd_backing_policy_check(PdBackingPolicy *policy, const char *path, const char *volume,
                             GError **error);

/* The image engine's backing opener over @policy (valid while @policy lives). */
const PdBackingOpener *pd_backing_policy_opener(PdBackingPolicy *policy);

G_END_DECLS
