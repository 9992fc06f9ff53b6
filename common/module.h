/* poold's loadable modules: parts of the daemon that bring large shared libraries (libvirt,
 * libiscsi, libnfs) are shared objects of their own, loaded the first time they are needed
 * (docs/daemon.md, "Loadable modules"). Each exports one table; the caller checks its version.
 *
 * A module FILE is looked for in $POOLD_MODULE_DIR when that is set (only there), else in the
 * directory of the running executable (a build tree: build/daemon/poold finds
 * build/daemon/FILE), then in LIBDIR/poold, where they are installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Loads module @file (RTLD_NOW, never unloaded) and returns the address of its @symbol, or
 * NULL with PD_ERROR_UNSUPPORTED "cannot load poold's WHAT module PATH: REASON" (dlerror()'s
 * reason, or where it was looked for). Not serialized: callers load once, under a lock. */
const void *pd_module_load(const char *file, const char *what, const char *symbol, GError **error);

G_END_DECLS
