/* io.poold.Volume: policy for volumes (pool active, name valid and free, busy, space,
 * backing files inside the pools), then the backend on a worker, then the catalog, the store
 * and an event in one transaction before the answer. */
#include "common/pd-error.h"
#include "common/size.h"
#include "daemon/attach/attachments.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"
#include "daemon/api/methods.h"
#include "daemon/model/model.h"
#include "daemon/model/backing-policy.h"
#include "xml/vol-xml.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PdPoolObj *obj;
    PdPool *view;
    PdVol *vol; /* a copy of the volume worked on; NULL for a create */
    PdVolDef *def;
    PdPoolObj *src_obj;
    PdPool *src_view;
    PdVol *src_vol;
    unsigned flags;
    uint64_t capacity;
    PdWipeAlgorithm algorithm;
    int fd;
    uint64_t offset, length;
    char *snapshot;
    const char *event; /* logged when applied */
    bool groupable;    /* a quick create or delete: group commit when the call allows it */
    bool no_overlap;   /* a create the client's other calls must not overlap (PdJobSpec) */
    bool stream;       /* upload, download: a stream job (PdJobSpec) */
    bool read;         /* snapshot list: a read job (PdJobSpec) */
    const PdPoolBackend *backend; /* op->obj's: a read job may outlive op->obj */
    int fd_flags;  /* the client's descriptor's status flags before the stream, or -1 */
    PdVol *result; /* the new state, from the worker */
    GArray *snapshots;
    PdBackendJob bjob;
} VolOp;

static void vol_op_free(gpointer data)
{
    VolOp *op = data;
    pd_pool_view_free(op->view);
    pd_pool_view_free(op->src_view);
    pd_vol_free(op->vol);
    pd_vol_free(op->src_vol);
    pd_vol_def_free(op->def);
    pd_vol_free(op->result);
    g_free(op->snapshot);
    if (op->snapshots)
        g_array_unref(op->snapshots);
    if (op->fd >= 0)
        (void)close(op->fd);
    g_free(op);
}

static VolOp *vol_op_new(PdPoolObj *obj, const PdVol *vol)
{
    VolOp *op = g_new0(VolOp, 1);
    op->obj = obj;
    op->view = pd_pool_view(obj->pool);
    op->backend = obj->backend;
    op->vol = vol ? pd_vol_copy(vol) : NULL;
    op->fd = -1;
    return op;
}

/* Starts the job of @op for volume @name; answers @call (at once with "async"). */
/* What a group commit barrier needs to sync a pool: its backend and a copy of its definition
 * (the pool may be stopped or undefined before the barrier runs). */
typedef struct {
    const PdPoolBackend *backend;
    PdPool *pool;
} PoolSync;

static gpointer pool_sync_new(PdPoolObj *obj)
{
    /* made for every grouped call: only what a sync reads (name, type, target path), not a
     * copy of the whole definition through its XML */
    const PdPoolDef *def = obj->pool->def;
    PdPoolDef *light = pd_pool_def_new(def->type);
    light->name = g_strdup(def->name);
    light->target_path = g_strdup(def->target_path);
    PoolSync *ps = g_new0(PoolSync, 1);
    ps->backend = obj->backend;
    ps->pool = pd_pool_new(light);
    ps->pool->dir_bound = obj->pool->dir_bound;
    ps->pool->dir_dev = obj->pool->dir_dev;
    ps->pool->dir_ino = obj->pool->dir_ino;
    return ps;
}

static void pool_sync_free(gpointer data)
{
    PoolSync *ps = data;
    pd_pool_free(ps->pool);
    g_free(ps);
}

static bool sync_pool(gpointer data, GError **error)
{
    PoolSync *ps = data;
    return pd_pool_backend_sync(ps->backend, ps->pool, error);
}

static void vol_op_start(PdDaemon *daemon, PdCall *call, JsonObject *params, VolOp *op,
                         const char *kind, const char *name, bool journal, PdJobRunFunc run,
                         PdJobApplyFunc apply)
{
    PdJobSpec spec = {
        .kind = kind,
        .pool = pd_pool_obj_name(op->obj),
        .volume = name,
        .src_pool = op->src_obj ? pd_pool_obj_name(op->src_obj) : NULL,
        .src_volume = op->src_vol ? op->src_vol->name : NULL,
        .journal = journal,
        .bytes_total = op->src_vol ? op->src_vol->capacity
                       : op->vol   ? op->vol->capacity
                       : op->def   ? op->def->capacity
                                   : 0,
        .run = run,
        .apply = apply,
        .data = op,
        .data_free = vol_op_free,
        .data_free_at_exit = true,
        .no_overlap = op->no_overlap,
        .stream = op->stream,
        .read = op->read,
    };
    if (op->groupable && op->obj->backend->sync) {
        spec.sync = sync_pool;
        spec.sync_key = pd_pool_obj_name(op->obj);
        spec.sync_data = pool_sync_new(op->obj);
        spec.sync_data_free = pool_sync_free;
    }
    g_autoptr(GError) error = NULL;
    bool async = pd_param_bool(params, "async", false);
    if (!pd_jobs_start(daemon->jobs, &spec, call, async, &error))
        pd_call_fail(call, error);
}

/* What the backend gets from the job (on the worker: the job is only known there). */
static const PdBackendJob *backend_job(VolOp *op, PdJob *job, GCancellable *cancellable)
{
    op->bjob.progress = pd_job_progress_cb;
    op->bjob.progress_data = job;
    op->bjob.cancellable = cancellable;
    return &op->bjob;
}

/* Keeps the pool's allocation and available space current between refreshes (as libvirt
 * does after creating, deleting or resizing a volume). */
static void account(PdPoolObj *obj, uint64_t old_alloc, uint64_t new_alloc)
{
    PdPool *pool = obj->pool;
    if (new_alloc >= old_alloc) {
        uint64_t d = new_alloc - old_alloc;
        pool->allocation += d;
        pool->available = pool->available > d ? pool->available - d : 0;
    } else {
        uint64_t d = old_alloc - new_alloc;
        pool->allocation = pool->allocation > d ? pool->allocation - d : 0;
        pool->available += d;
    }
}

/* Applies op->result (or removes op->vol for a delete) and logs op->event. */
static JsonObject *apply_volume(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    VolOp *op = data;
    const char *name = op->result ? op->result->name : op->vol->name;
    g_autofree char *vol_name = g_strdup(name);
    uint64_t old_alloc = op->vol ? op->vol->allocation : 0;
    uint64_t new_alloc = op->result ? op->result->allocation : old_alloc;
    if (g_str_equal(op->event, "vol-deleted"))
        new_alloc = 0;
    JsonObject *reply = json_object_new();
    if (op->result) {
        JsonObject *info = pd_model_volume_json(daemon, op->obj, op->result);
        json_object_remove_member(info, "busy_job"); /* this job, ending now */
        json_object_set_object_member(reply, "volume", info);
        if (!pd_model_volume_put(daemon, op->obj, g_steal_pointer(&op->result), error))
            goto fail;
    } else if (g_str_equal(op->event, "vol-deleted")) {
        if (!pd_model_volume_remove(daemon, op->obj, vol_name, error))
            goto fail;
    }
    if (!pd_events_emit(daemon->events, op->event, pd_pool_obj_name(op->obj), vol_name,
                        op->snapshot, error))
        goto fail;
    account(op->obj, old_alloc, new_alloc);
    return reply;
fail:
    json_object_unref(reply);
    return NULL;
}

/* Worker: re-reads the volume after an in-place change. */
static bool reread(VolOp *op, GError **error)
{
    return pd_pool_backend_vol_refresh(op->obj->backend, op->view, op->vol, &op->result, error);
}

/* ---- create ---- */

/* A backing file must be a volume of a pool poold manages (a name in the same pool, or a
 * path the backing policy accepts: what it resolves to lies in a managed pool or a
 * backing_roots directory). Resolves a bare name to its path. */
static bool check_backing(PdDaemon *daemon, PdPoolObj *obj, PdVolDef *def, GError **error)
{
    if (!def->backing || !def->backing->path)
        return true;
    if (!g_path_is_absolute(def->backing->path)) {
        PdVol *vol = pd_pool_find_vol(obj->pool, def->backing->path);
        if (vol) {
            /* a network volume (NFS in userspace mode) has no path: its name, relative to the
             * new volume in the same export, is what the image records */
            if (vol->path) {
                g_free(def->backing->path);
                def->backing->path = g_strdup(vol->path);
            }
            if (!def->backing->format_given && vol->format) {
                g_free(def->backing->format);
                def->backing->format = g_strdup(vol->format);
            }
            return !vol->path || vol->type == PD_VOL_NETWORK ||
                   pd_backing_policy_check(daemon->backing_policy, def->backing->path, def->name,
                                           error);
        }
    } else {
        return pd_backing_policy_check(daemon->backing_policy, def->backing->path, def->name,
                                       error);
    }
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "backing store '%s' of volume '%s' is not a volume of a pool poold manages: "
                "give a volume name of pool '%s' or a path inside a pool's target",
                def->backing->path, def->name, pd_pool_obj_name(obj));
    return false;
}

/* Refuses to work on a volume whose backing chain the backing policy does not accept, before
 * any job starts (the engine's opener refuses such a chain again when a worker opens it). For
 * every operation that opens the chain or changes the image in place (create-from, clone,
 * resize, snapshot create and revert, upload); delete, wipe and download stay possible. */
static bool check_chain(PdDaemon *daemon, PdPoolObj *obj, const PdVol *vol, GError **error)
{
    return !vol->backing_path || pd_model_backing_chain_check(daemon, obj, vol, error);
}

/* Refuses a create the pool's backend does not have (iSCSI LUNs) before any other check, so
 * that the answer is Unsupported naming the pool type rather than a space or name error. */
static bool check_backend_creates(PdPoolObj *obj, bool from, GError **error)
{
    if (from ? obj->backend->vol_create_from != NULL : obj->backend->vol_create != NULL)
        return true;
    pd_pool_backend_unsupported(error, obj->pool,
                                from ? "creating volumes from other volumes" : "volume creation");
    return false;
}

/* Refuses a volume whose reserved allocation does not fit. */
static bool check_space(PdPoolObj *obj, const char *name, uint64_t needed, GError **error)
{
    /* iSCSI pools have no free space by nature (their volumes are the target's LUNs): their
     * backend gives the real answer to a create */
    if (obj->backend->capabilities & PD_BACKEND_CAP_NO_SPACE_CHECK)
        return true;
    if (needed <= obj->pool->available || obj->pool->capacity == 0)
        return true;
    g_autofree char *need = pd_format_size(needed);
    g_autofree char *avail = pd_format_size(obj->pool->available);
    g_set_error(error, PD_ERROR, PD_ERROR_NO_SPACE,
                "Not enough space in pool '%s' for volume '%s': %s needed, %s available",
                pd_pool_obj_name(obj), name, need, avail);
    return false;
}

/* Bytes a new volume reserves at once: raw files get their allocation. */
static uint64_t reserved_bytes(const PdVolDef *def)
{
    if (def->backing || (def->target_format && !g_str_equal(def->target_format, "raw")))
        return 0;
    return def->allocation;
}

static bool run_create(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    unsigned flags = op->flags | (pd_job_grouped(job) ? PD_VOL_CREATE_NO_SYNC : 0);
    return pd_pool_backend_vol_create(op->obj->backend, op->view, op->def, flags,
                                      backend_job(op, job, cancellable), &op->result, error);
}

PD_HANDLER(pd_method_vol_create)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_active_pool(daemon, pd_param_string(params, "pool"), &error);
    g_autoptr(PdVolDef) def = NULL;
    if (obj)
        def = pd_vol_def_parse(pd_param_string(params, "xml"), obj->pool->def->type,
                               PD_VOL_PARSE_OPT_CAPACITY, &error);
    /* A create on a backing volume, or one that reserves space (a raw file gets its
     * allocation), runs alone: its base may be one an earlier call still makes (and a delete
     * of that base, coming next, must see the new overlay as its user), and the pool's free
     * space counts a new file only once its call has ended (account), so two such creates
     * side by side could both pass the space check and then fail in their workers, where one
     * at a time the second is refused. It waits for the earlier calls and is not overlapped
     * by the later ones (PdJobSpec.no_overlap). */
    bool alone = def && (def->backing || reserved_bytes(def) > 0);
    if (alone && pd_call_overlapping(call)) {
        pd_call_defer(call);
        return;
    }
    if (!def || !check_backend_creates(obj, false, &error) ||
        !pd_model_check_new_volume(daemon, obj, def->name, &error) ||
        !check_backing(daemon, obj, def, &error) ||
        !check_space(obj, def->name, reserved_bytes(def), &error)) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, NULL);
    op->def = g_steal_pointer(&def);
    op->event = "vol-created";
    op->groupable = true;
    op->no_overlap = alone;
    vol_op_start(daemon, call, params, op, "vol-create", op->def->name, true, run_create,
                 apply_volume);
}

static bool run_create_from(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    return pd_pool_backend_vol_create_from(op->obj->backend, op->view, op->def, op->src_view,
                                           op->src_vol, op->flags,
                                           backend_job(op, job, cancellable), &op->result, error);
}

/* Common part of create-from and clone: @def (taken) from @src of @src_obj into @obj. */
static void create_from(PdDaemon *daemon, PdCall *call, JsonObject *params, PdPoolObj *obj,
                        PdVolDef *def_in, PdPoolObj *src_obj, PdVol *src, const char *kind)
{
    g_autoptr(PdVolDef) def = def_in;
    g_autoptr(GError) error = NULL;
    PdJob *busy = pd_jobs_volume_busy(daemon->jobs, pd_pool_obj_name(src_obj), src->name);
    if (busy)
        pd_job_set_busy_error(busy, pd_pool_obj_name(src_obj), src->name, &error);
    if (busy || !check_chain(daemon, src_obj, src, &error) ||
        !check_backend_creates(obj, true, &error) ||
        !pd_model_check_new_volume(daemon, obj, def->name, &error) ||
        !check_backing(daemon, obj, def, &error) ||
        !check_space(obj, def->name, reserved_bytes(def), &error)) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, NULL);
    op->def = g_steal_pointer(&def);
    op->src_obj = src_obj;
    op->src_view = pd_pool_view(src_obj->pool);
    op->src_vol = pd_vol_copy(src);
    op->flags = pd_param_bool(params, "reflink", false) ? PD_VOL_CREATE_REFLINK : 0;
    op->event = "vol-created";
    vol_op_start(daemon, call, params, op, kind, op->def->name, true, run_create_from,
                 apply_volume);
}

PD_HANDLER(pd_method_vol_create_from)
{
    g_autoptr(GError) error = NULL;
    const char *pool = pd_param_string(params, "pool");
    const char *src_pool = pd_param_string(params, "source_pool");
    PdPoolObj *obj = pd_model_active_pool(daemon, pool, &error);
    PdPoolObj *src_obj = NULL;
    PdVol *src = obj ? pd_model_volume(daemon, src_pool ? src_pool : pool,
                                       pd_param_string(params, "source"), &src_obj, &error)
                     : NULL;
    PdVolDef *def = src ? pd_vol_def_parse(pd_param_string(params, "xml"), obj->pool->def->type,
                                           PD_VOL_PARSE_NO_CAPACITY, &error)
                        : NULL;
    if (!def) {
        pd_call_fail(call, error);
        return;
    }
    create_from(daemon, call, params, obj, def, src_obj, src, "vol-create-from");
}

PD_HANDLER(pd_method_vol_clone)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    PdVol *src = pd_model_volume(daemon, pd_param_string(params, "pool"),
                                 pd_param_string(params, "volume"), &obj, &error);
    if (!src) {
        pd_call_fail(call, error);
        return;
    }
    PdVolDef *def = pd_vol_to_def(obj->pool, src);
    g_free(def->name);
    def->name = g_strdup(pd_param_string(params, "name"));
    g_clear_pointer(&def->key, g_free);
    g_clear_pointer(&def->target_path, g_free);
    create_from(daemon, call, params, obj, def, obj, src, "vol-clone");
}

/* ---- delete, resize, wipe ---- */

static bool run_delete(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    unsigned flags = op->flags | (pd_job_grouped(job) ? PD_VOL_DELETE_NO_SYNC : 0);
    return pd_pool_backend_vol_delete(op->obj->backend, op->view, op->vol, flags, error);
}

/* True when @v (a volume of @o) has @vol (of @vol_obj) as its backing file: by path, or for
 * a network volume without one (NFS in userspace mode) by name within the same pool, which
 * is how its overlays record it. */
/* Refuses to delete a volume another known volume uses as its backing file. */
static bool check_not_backing(PdDaemon *daemon, const PdPoolObj *vol_obj, const PdVol *vol,
                              GError **error)
{
    PdPoolObj *user_obj = NULL;
    PdVol *user = pd_model_backing_user(daemon, vol_obj, vol, &user_obj);
    if (!user)
        return true;
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                "volume '%s' is the backing file of volume '%s' in pool '%s': delete that one "
                "first",
                vol->name, user->name, pd_pool_obj_name(user_obj));
    return false;
}

PD_HANDLER(pd_method_vol_delete)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    PdVol *vol = pd_model_idle_volume(daemon, pd_param_string(params, "pool"),
                                      pd_param_string(params, "volume"), &obj, &error);
    if (!vol || !check_not_backing(daemon, obj, vol, &error) ||
        !pd_attach_check_unattached(daemon, pd_pool_obj_name(obj), vol->name, "delete", &error)) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, vol);
    op->event = "vol-deleted";
    op->groupable = true;
    op->flags = pd_param_bool(params, "delete_snapshots", false) ? PD_VOL_DELETE_WITH_SNAPSHOTS : 0;
    vol_op_start(daemon, call, params, op, "vol-delete", vol->name, false, run_delete,
                 apply_volume);
}

static bool run_resize(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    if (!pd_pool_backend_vol_resize(op->obj->backend, op->view, op->vol, op->capacity, op->flags,
                                    backend_job(op, job, cancellable), &op->result, error))
        return false;
    return op->result || reread(op, error);
}

/* The absolute capacity of a resize (virsh: --delta adds, --delta --shrink subtracts). */
static bool resize_target(const PdVol *vol, JsonObject *params, uint64_t *ret, GError **error)
{
    uint64_t value = (uint64_t)pd_param_int(params, "capacity", 0);
    bool delta = pd_param_bool(params, "delta", false);
    bool shrink = pd_param_bool(params, "shrink", false);
    uint64_t target = value;
    if (delta && shrink) {
        if (value > vol->capacity) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "cannot shrink volume '%s' by more than its capacity", vol->name);
            return false;
        }
        target = vol->capacity - value;
    } else if (delta && !pd_add_u64(vol->capacity, value, &target)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "new capacity of volume '%s' overflows", vol->name);
        return false;
    }
    /* libvirt's two rules, in its order and words (virsh users match them); poold's own check
     * that no data lies past the new end comes after, in the backend. The allocation rule is
     * for files, whose allocation is the blocks they hold: a block device's (an LV, a LUN) is
     * its provisioned size or its thin pool's usage, which says nothing about where its data
     * lies, so there the data check alone decides (docs/pool-logical.md, "Resize"). */
    if (target < vol->capacity && vol->type != PD_VOL_BLOCK && target < vol->allocation) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "invalid argument: can't shrink capacity below existing allocation (volume "
                    "'%s' has %" G_GUINT64_FORMAT " bytes allocated)",
                    vol->name, vol->allocation);
        return false;
    }
    if (target < vol->capacity && !shrink) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "invalid argument: Can't shrink capacity below current capacity unless "
                    "shrink flag explicitly specified (volume '%s')",
                    vol->name);
        return false;
    }
    if (target == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "volume '%s' cannot be resized to zero bytes", vol->name);
        return false;
    }
    *ret = target;
    return true;
}

PD_HANDLER(pd_method_vol_resize)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    uint64_t target = 0;
    PdVol *vol = pd_model_idle_volume(daemon, pd_param_string(params, "pool"),
                                      pd_param_string(params, "volume"), &obj, &error);
    bool allocate = pd_param_bool(params, "allocate", false);
    if (!vol || !check_chain(daemon, obj, vol, &error) ||
        !resize_target(vol, params, &target, &error) ||
        (target < vol->capacity &&
         !pd_attach_check_unattached(daemon, pd_pool_obj_name(obj), vol->name, "shrink", &error)) ||
        (allocate && target > vol->capacity &&
         !check_space(obj, vol->name, target - vol->capacity, &error))) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, vol);
    op->capacity = target;
    op->flags = (allocate ? PD_VOL_RESIZE_ALLOCATE : 0) |
                (target < vol->capacity ? PD_VOL_RESIZE_SHRINK : 0);
    op->event = "vol-resized";
    vol_op_start(daemon, call, params, op, "vol-resize", vol->name, true, run_resize, apply_volume);
}

static bool run_wipe(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    return pd_pool_backend_vol_wipe(op->obj->backend, op->view, op->vol, op->algorithm, 0,
                                    backend_job(op, job, cancellable), error) &&
           reread(op, error);
}

PD_HANDLER(pd_method_vol_wipe)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    const char *name = pd_param_string(params, "algorithm");
    int algorithm = name ? pd_wipe_algorithm_from_name(name) : PD_WIPE_ZERO;
    if (algorithm < 0)
        g_set_error(&error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "unsupported wipe algorithm '%s': poold has zero, random and trim", name);
    PdVol *vol = error ? NULL
                       : pd_model_idle_volume(daemon, pd_param_string(params, "pool"),
                                              pd_param_string(params, "volume"), &obj, &error);
    if (!vol ||
        !pd_attach_check_unattached(daemon, pd_pool_obj_name(obj), vol->name, "wipe", &error)) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, vol);
    op->algorithm = (PdWipeAlgorithm)algorithm;
    op->event = "vol-wiped";
    vol_op_start(daemon, call, params, op, "vol-wipe", vol->name, true, run_wipe, apply_volume);
}

/* ---- upload, download ---- */

/* A pipe, socket or terminal the client passed is made non-blocking for the stream
 * (docs/security.md, rule W): the backend then waits in poll and checks for cancellation, so
 * a client that stops reading holds no worker in write(2) (attack 1.8). Restored after. */
static void stream_begin(VolOp *op)
{
    struct stat st;
    op->fd_flags = -1;
    if (fstat(op->fd, &st) < 0 ||
        !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode)))
        return;
    int flags = fcntl(op->fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK) && fcntl(op->fd, F_SETFL, flags | O_NONBLOCK) == 0)
        op->fd_flags = flags;
}

static void stream_end(VolOp *op)
{
    if (op->fd_flags >= 0)
        (void)fcntl(op->fd, F_SETFL, op->fd_flags);
}

static bool run_upload(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    stream_begin(op);
    bool ok =
        pd_pool_backend_vol_upload(op->obj->backend, op->view, op->vol, op->fd, op->offset,
                                   op->length, op->flags, backend_job(op, job, cancellable), error);
    stream_end(op);
    return ok && reread(op, error);
}

static bool run_download(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    stream_begin(op);
    bool ok = pd_pool_backend_vol_download(op->obj->backend, op->view, op->vol, op->fd, op->offset,
                                           op->length, op->flags, backend_job(op, job, cancellable),
                                           error);
    stream_end(op);
    return ok;
}

static JsonObject *apply_download(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    return json_object_new();
}

static void transfer(PdDaemon *daemon, PdCall *call, JsonObject *params, bool upload)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    PdVol *vol = pd_model_idle_volume(daemon, pd_param_string(params, "pool"),
                                      pd_param_string(params, "volume"), &obj, &error);
    if (!vol || (upload && !check_chain(daemon, obj, vol, &error))) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, vol);
    op->fd = call->fd; /* the descriptor the client passed: the daemon opens no path */
    call->fd = -1;
    op->offset = (uint64_t)pd_param_int(params, "offset", 0);
    op->length = (uint64_t)pd_param_int(params, "length", 0);
    op->flags = pd_param_bool(params, "sparse", false) ? PD_VOL_XFER_SPARSE : 0;
    op->event = "vol-uploaded";
    op->stream = true;
    vol_op_start(daemon, call, params, op, upload ? "vol-upload" : "vol-download", vol->name, true,
                 upload ? run_upload : run_download, upload ? apply_volume : apply_download);
}

PD_HANDLER(pd_method_vol_upload)
{
    transfer(daemon, call, params, true);
}

PD_HANDLER(pd_method_vol_download)
{
    transfer(daemon, call, params, false);
}

/* ---- snapshots ---- */

static bool run_snapshot(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    const PdPoolBackend *be = op->obj->backend;
    bool ok;
    if (g_str_equal(op->event, "vol-snapshot-created"))
        ok = pd_pool_backend_vol_snapshot_create(be, op->view, op->vol, op->snapshot, error);
    else if (g_str_equal(op->event, "vol-snapshot-reverted"))
        ok = pd_pool_backend_vol_snapshot_revert(be, op->view, op->vol, op->snapshot, error);
    else
        ok = pd_pool_backend_vol_snapshot_delete(be, op->view, op->vol, op->snapshot, error);
    return ok && reread(op, error);
}

static void snapshot_change(PdDaemon *daemon, PdCall *call, JsonObject *params, const char *event,
                            const char *kind)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    const char *name = pd_param_string(params, "name");
    if (!pd_xml_name_valid(name))
        g_set_error(&error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "invalid snapshot name '%s': 1 to 255 bytes, without '/'", name);
    PdVol *vol = error ? NULL
                       : pd_model_idle_volume(daemon, pd_param_string(params, "pool"),
                                              pd_param_string(params, "volume"), &obj, &error);
    if (!vol ||
        (!g_str_equal(event, "vol-snapshot-deleted") && !check_chain(daemon, obj, vol, &error)) ||
        (g_str_equal(event, "vol-snapshot-reverted") &&
         !pd_attach_check_unattached(daemon, pd_pool_obj_name(obj), vol->name,
                                     "revert to a snapshot", &error))) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, vol);
    op->snapshot = g_strdup(name);
    op->event = event;
    vol_op_start(daemon, call, params, op, kind, vol->name, false, run_snapshot, apply_volume);
}

PD_HANDLER(pd_method_vol_snapshot_create)
{
    snapshot_change(daemon, call, params, "vol-snapshot-created", "vol-snapshot-create");
}

PD_HANDLER(pd_method_vol_snapshot_revert)
{
    snapshot_change(daemon, call, params, "vol-snapshot-reverted", "vol-snapshot-revert");
}

PD_HANDLER(pd_method_vol_snapshot_delete)
{
    snapshot_change(daemon, call, params, "vol-snapshot-deleted", "vol-snapshot-delete");
}

static bool run_snapshot_list(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    VolOp *op = data;
    return pd_pool_backend_vol_snapshot_list(op->backend, op->view, op->vol, &op->snapshots, error);
}

static JsonObject *apply_snapshot_list(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    VolOp *op = data;
    JsonArray *array = json_array_new();
    for (guint i = 0; op->snapshots && i < op->snapshots->len; i++) {
        const PdSnapshotInfo *s = &g_array_index(op->snapshots, PdSnapshotInfo, i);
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "id", s->id ? s->id : "");
        json_object_set_string_member(o, "name", s->name ? s->name : "");
        json_object_set_int_member(o, "vm_size", (int64_t)s->vm_state_size);
        json_object_set_int_member(o, "date", s->date_sec);
        json_object_set_int_member(o, "vm_clock_nsec", (int64_t)s->vm_clock_nsec);
        json_object_set_int_member(o, "disk_size", (int64_t)s->disk_size);
        json_array_add_object_element(array, o);
    }
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "snapshots", array);
    return reply;
}

PD_HANDLER(pd_method_vol_snapshot_list)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    /* a read (docs/security.md): it neither waits for nor makes the volume busy, and runs
     * on the read pool, one per connection (attack 2 R1: nobody's lists failed root's
     * resize and delete with VolumeBusy) */
    PdVol *vol = pd_model_volume(daemon, pd_param_string(params, "pool"),
                                 pd_param_string(params, "volume"), &obj, &error);
    if (!vol) {
        pd_call_fail(call, error);
        return;
    }
    VolOp *op = vol_op_new(obj, vol);
    op->read = true;
    vol_op_start(daemon, call, params, op, "vol-snapshot-list", vol->name, false, run_snapshot_list,
                 apply_snapshot_list);
}

/* ---- read-only ---- */

PD_HANDLER(pd_method_vol_list)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_active_pool(daemon, pd_param_string(params, "pool"), &error);
    if (!obj) {
        pd_call_fail(call, error);
        return;
    }
    /* written as text: a json-glib tree of 10,000 volumes took ~20 MB at its peak */
    GPtrArray *vols = obj->pool->volumes;
    GString *reply = g_string_sized_new(64 + (gsize)vols->len * 256);
    g_string_append(reply, "{\"volumes\":[");
    for (guint i = 0; i < vols->len; i++) {
        if (i)
            g_string_append_c(reply, ',');
        pd_model_volume_json_text(reply, daemon, obj, vols->pdata[i]);
    }
    g_string_append(reply, "]}");
    pd_call_reply_text(call, reply);
}

PD_HANDLER(pd_method_vol_info)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    PdVol *vol = pd_model_volume(daemon, pd_param_string(params, "pool"),
                                 pd_param_string(params, "volume"), &obj, &error);
    if (!vol) {
        pd_call_fail(call, error);
        return;
    }
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "volume", pd_model_volume_json(daemon, obj, vol));
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_vol_dump_xml)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = NULL;
    PdVol *vol = pd_model_volume(daemon, pd_param_string(params, "pool"),
                                 pd_param_string(params, "volume"), &obj, &error);
    if (!vol) {
        pd_call_fail(call, error);
        return;
    }
    g_autoptr(PdVolDef) def = pd_vol_to_def(obj->pool, vol);
    const char *untrusted = def->backing ? pd_model_backing_mark(daemon, obj, vol) : NULL;
    if (untrusted) {
        /* marked, and nothing told of a file poold does not trust (its owner, mode, times) */
        def->backing->untrusted = g_strdup(untrusted);
        pd_perms_clear(&def->backing->perms);
        pd_perms_init(&def->backing->perms);
        pd_vol_timestamps_init(&def->backing->timestamps);
    }
    g_autofree char *xml = pd_vol_def_format(def);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "xml", xml);
    pd_call_reply(call, reply);
}
