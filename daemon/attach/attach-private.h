/* Shared between attachments.c, attach-disk.c and reconcile.c. */
#pragma once

#include "daemon/attach/attachments.h"

struct PdLibvirt {
    const PdLibvirtModule *module; /* NULL until pd_attach_load */
    PdLibvirtConns *conns;
    /* Where reconciliation results and libvirt's domain events reach the daemon: the thread
     * default context of pd_attach_state_new's caller (the main loop's). */
    GMainContext *context;
    /* Bumped by every attach and detach applied: a reconciliation whose scan started before
     * one is stale, and runs again instead of applying. */
    guint64 generation;
    GHashTable *reconciling; /* uri -> GINT_TO_POINTER(1 running, 2 running + again) */
    /* URIs whose start-up reconciliation has not ended yet: until it has, poold does not know
     * what was attached while it was down, and refuses what attachments protect against. */
    GHashTable *starting; /* uri (owned) */
};

/* Runs @func(@data) on the daemon's context, from any thread. */
void pd_attach_invoke(PdLibvirt *state, GSourceFunc func, gpointer data);

/* Emits @kind ("vol-attached", "vol-detached") for @pool/@volume with a detail naming the
 * domain, the target, what was changed and @why (NULL, or "outside poold"...). */
bool pd_attach_emit(PdDaemon *daemon, const char *kind, const char *pool, const char *volume,
                    const char *domain, const char *target, bool live, bool config, const char *why,
                    GError **error);
