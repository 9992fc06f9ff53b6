/* Shared between attachments.c, attach-disk.c and reconcile.c. */
#pragma once

#include "daemon/attachments.h"

struct PdLibvirt {
    PdLibvirtConns *conns;
    /* Bumped by every attach and detach applied: a reconciliation whose scan started before
     * one is stale, and runs again instead of applying. */
    guint64 generation;
    GHashTable *reconciling; /* uri -> GINT_TO_POINTER(1 running, 2 running + again) */
};

/* Emits @kind ("vol-attached", "vol-detached") for @pool/@volume with a detail naming the
 * domain, the target, what was changed and @why (NULL, or "outside poold"...). */
bool pd_attach_emit(PdDaemon *daemon, const char *kind, const char *pool, const char *volume,
                    const char *domain, const char *target, bool live, bool config, const char *why,
                    GError **error);
