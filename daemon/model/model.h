/* The pools the daemon manages (PdPoolObj): definition, state, backend, the runtime PdPool
 * with its volume catalog, and the policy checks every method shares (exists, active, name
 * valid and free, busy). Main loop thread only. */
#pragma once

#include "daemon/model/daemon.h"
#include "pools/backend.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct {
    PdPool *pool;        /* def = the definition in use (as started); volumes = the catalog */
    PdPoolDef *next_def; /* a definition changed while the pool runs: used from the next start */
    const PdPoolBackend *backend;
    bool active;
    bool autostart;
    bool persistent;
    const char *operation;       /* a pool-level operation running on a worker, or NULL */
    struct PdJob *operation_job; /* its job */
    /* While a refresh runs on a worker: names of volumes the daemon changed meanwhile
     * (created, deleted, resized); applying the refresh keeps the daemon's state of those. */
    GHashTable *touched;
} PdPoolObj;

void pd_pool_obj_free(PdPoolObj *obj);

const char *pd_pool_obj_name(const PdPoolObj *obj);

/* The pool named @name_or_uuid, or NULL with PD_ERROR_NO_SUCH_POOL in virsh's words. */
PdPoolObj *pd_model_pool(PdDaemon *daemon, const char *name_or_uuid, GError **error);
/* The same, and it must be active and have no pool-level operation running. */
PdPoolObj *pd_model_active_pool(PdDaemon *daemon, const char *name_or_uuid, GError **error);
/* Fails with InvalidState when a pool-level operation runs on @obj. */
bool pd_model_check_idle(PdPoolObj *obj, GError **error);

/* A volume: by name in @pool_name when given, else by key or path over active pools.
 * Sets *ret_obj to its pool. NULL with PD_ERROR_NO_SUCH_VOLUME. */
PdVol *pd_model_volume(PdDaemon *daemon, const char *pool_name, const char *volume,
                       PdPoolObj **ret_obj, GError **error);
/* The same, and no job works on it (else PD_ERROR_VOLUME_BUSY naming the job). */
PdVol *pd_model_idle_volume(PdDaemon *daemon, const char *pool_name, const char *volume,
                            PdPoolObj **ret_obj, GError **error);
/* A new volume name must be valid, not a hidden partial name, free and not being made. */
bool pd_model_check_new_volume(PdDaemon *daemon, PdPoolObj *obj, const char *name, GError **error);

/* Puts @vol (taken) into the catalog of @obj, in memory and in the store (inside the
 * caller's transaction). */
bool pd_model_volume_put(PdDaemon *daemon, PdPoolObj *obj, PdVol *vol, GError **error);
bool pd_model_volume_remove(PdDaemon *daemon, PdPoolObj *obj, const char *name, GError **error);
/* The volume of the catalog (any pool, active or not: a stopped pool's overlay still needs its
 * backing file) that uses @vol of @obj as its backing file, or NULL; *ret_obj its pool. A
 * relative backing path counts from the directory of the volume that names it. Answered from
 * an index, not a walk over every volume (vol-delete asks it for each volume). */
PdVol *pd_model_backing_user(PdDaemon *daemon, const PdPoolObj *obj, const PdVol *vol,
                             PdPoolObj **ret_obj);
/* Forgets the index: catalogs changed wholesale (refresh, load, a pool removed); updates the
 * backing roots as well. */
void pd_model_backing_invalidate(PdDaemon *daemon);
/* Gives the backing policy the target directories of the pools (after any change of the set
 * of pools or of a definition). */
void pd_model_update_backing_roots(PdDaemon *daemon);

/* The backing chain of @vol of @obj as the catalog knows it, checked without opening any file
 * for reading (daemon/model/backing-chain.c): each element resolved by the backing policy
 * (pd_backing_policy_resolve, O_PATH), then, when it is a volume of a managed pool, that
 * volume's own backing file (its header was read by refresh), until the chain ends, leaves
 * the catalog (a file in backing_roots: its own chain is checked when it is opened) or loops
 * (st_dev, st_ino seen twice). For attach-disk and the marks of vol-list, vol-info and
 * vol-dumpxml. */
bool pd_model_backing_chain_check(PdDaemon *daemon, const PdPoolObj *obj, const PdVol *vol,
                                  GError **error);
/* The mark of @vol: NULL when its chain passes pd_model_backing_chain_check, else the refusal
 * (owned by the daemon, valid until the catalog changes). Computed once per volume after each
 * change of a catalog or of the pools (a refresh, a create, ...), not at each listing. */
const char *pd_model_backing_mark(PdDaemon *daemon, const PdPoolObj *obj, const PdVol *vol);

/* Applies a refresh result to @obj, in memory and in the store. */
bool pd_model_apply_refresh(PdDaemon *daemon, PdPoolObj *obj, PdPoolRefresh *refresh,
                            GError **error);

/* Writes the pool's row (definition, autostart, state). */
bool pd_model_save_pool(PdDaemon *daemon, PdPoolObj *obj, GError **error);

/* Replaces the definition of inactive pool @obj by @def (taken) and chooses its backend
 * again: a netfs pool's mode may have changed (mount <-> userspace). */
void pd_model_set_def(PdPoolObj *obj, PdPoolDef *def);
/* The definition a pool was given while it ran (next_def) takes effect: before a start. */
void pd_model_take_next_def(PdPoolObj *obj);

/* Adds a pool for @def (taken) to the daemon, inactive. */
PdPoolObj *pd_model_add_pool(PdDaemon *daemon, PdPoolDef *def, bool persistent, GError **error);

/* A copy of @pool that shares its definition and backend data but has no volumes: what a
 * worker reads while the main loop changes the catalog. Free with pd_pool_view_free. */
PdPool *pd_pool_view(const PdPool *pool);
void pd_pool_view_free(PdPool *view);

/* Loads the pools and catalogs from the store (start-up). */
bool pd_model_load(PdDaemon *daemon, GError **error);
/* Start-up reconciliation: marks interrupted jobs failed, starts pools that were active and
 * autostart pools (their storage work on threads, together: a pool on a dead server delays
 * start-up by its timeout once, not once per pool), removes leftover partial files.
 * Returns when done; logs what it does. */
void pd_model_reconcile(PdDaemon *daemon);

/* Synchronous pool start used by reconciliation: backend start + refresh + store. */
bool pd_model_start_pool_now(PdDaemon *daemon, PdPoolObj *obj, GError **error);

JsonObject *pd_model_pool_json(PdDaemon *daemon, PdPoolObj *obj);
JsonObject *pd_model_volume_json(PdDaemon *daemon, PdPoolObj *obj, const PdVol *vol);
/* The same object written as JSON text into @out (vol-list's answer, pd_call_reply_text). */
void pd_model_volume_json_text(GString *out, PdDaemon *daemon, PdPoolObj *obj, const PdVol *vol);

/* Pools sorted by name (PdPoolObj *, not owned). */
GPtrArray *pd_model_pools_sorted(PdDaemon *daemon);
/* The pool and volume gauges of the metrics (a PdMetricsWriter over the daemon). */
void pd_model_write_metrics(GString *out, gpointer daemon);

G_END_DECLS
