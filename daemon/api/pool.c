/* io.poold.Pool: definitions, state and lifecycle of pools. Policy here; mechanism in the
 * backend, run on a worker for everything that touches storage. */
#include "common/pd-error.h"
#include "daemon/attach/attachments.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"
#include "daemon/api/methods.h"
#include "daemon/model/model.h"
#include "daemon/model/secrets.h"
#include "xml/pool-types.h"
#include "xml/pool-xml.h"

/* One pool-level operation on a worker. */
typedef struct {
    PdDaemon *daemon;
    PdPoolObj *obj;
    const char *op; /* "pool-start" ... (static) */
    bool build;
    unsigned build_flags;
    bool create;  /* pool-create: the transient pool goes away if starting fails */
    bool applied; /* the result reached the model */
    PdPool *view; /* refresh: what the worker reads */
    GPtrArray *previous;
    PdPoolRefresh refresh;
} PoolOp;

static void pool_op_free(gpointer data)
{
    PoolOp *op = data;
    op->obj->operation = NULL;
    op->obj->operation_job = NULL;
    if (op->obj->touched && g_str_equal(op->op, "pool-refresh")) {
        g_hash_table_unref(op->obj->touched);
        op->obj->touched = NULL;
    }
    if (op->create && !op->applied) {
        g_autoptr(GError) error = NULL;
        if (!pd_store_pool_delete(op->daemon->store, pd_pool_obj_name(op->obj), &error))
            g_warning("%s", error->message);
        g_hash_table_remove(op->daemon->pools, pd_pool_obj_name(op->obj));
        pd_model_update_backing_roots(op->daemon);
    }
    pd_pool_view_free(op->view);
    if (op->previous)
        g_ptr_array_unref(op->previous);
    pd_pool_refresh_clear(&op->refresh);
    g_free(op);
}

static JsonObject *reply_pool(PdDaemon *daemon, PdPoolObj *obj)
{
    JsonObject *params = json_object_new();
    json_object_set_object_member(params, "pool", pd_model_pool_json(daemon, obj));
    return params;
}

/* Starts @op as a job; answers @call when it ends. */
static void pool_op_start(PdDaemon *daemon, PdCall *call, PoolOp *op, PdJobRunFunc run,
                          PdJobApplyFunc apply)
{
    op->daemon = daemon;
    op->obj->operation = op->op;
    PdJobSpec spec = {
        .kind = op->op,
        .pool = pd_pool_obj_name(op->obj),
        .run = run,
        .apply = apply,
        .data = op,
        .data_free = pool_op_free,
    };
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = op->obj;
    PdJob *job = pd_jobs_start(daemon->jobs, &spec, call, false, &error);
    if (!job)
        pd_call_fail(call, error);
    else if (obj->operation) /* not already finished and freed */
        obj->operation_job = job;
}

/* Worker: [build,] start and refresh an inactive pool. */
static bool run_start(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    PoolOp *op = data;
    PdPoolObj *obj = op->obj;
    if (op->build && !pd_pool_backend_build(obj->backend, obj->pool, op->build_flags, error))
        return false;
    if (!pd_pool_backend_start(obj->backend, obj->pool, error))
        return false;
    if (!pd_pool_backend_refresh(obj->backend, obj->pool, op->previous, &op->refresh, error)) {
        (void)pd_pool_backend_stop(obj->backend, obj->pool, NULL);
        return false;
    }
    return true;
}

static JsonObject *apply_start(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    PoolOp *op = data;
    PdPoolObj *obj = op->obj;
    obj->active = true;
    if (!pd_model_apply_refresh(daemon, obj, &op->refresh, error) ||
        !pd_model_save_pool(daemon, obj, error) ||
        !pd_events_emit(daemon->events, "pool-started", pd_pool_obj_name(obj), NULL, NULL, error)) {
        obj->active = false;
        (void)pd_pool_backend_stop(obj->backend, obj->pool, NULL);
        return NULL;
    }
    op->applied = true;
    return reply_pool(daemon, obj);
}

/* Common start of pool-start and pool-create. */
static void start_pool(PdDaemon *daemon, PdCall *call, PdPoolObj *obj, bool build,
                       unsigned build_flags, bool create)
{
    pd_model_take_next_def(obj);
    PoolOp *op = g_new0(PoolOp, 1);
    op->obj = obj;
    op->op = "pool-start";
    op->build = build;
    op->build_flags = build_flags;
    op->create = create;
    op->previous = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    for (guint i = 0; i < obj->pool->volumes->len; i++)
        g_ptr_array_add(op->previous, pd_vol_ref(obj->pool->volumes->pdata[i]));
    g_autoptr(GError) error = NULL;
    if (!pd_secret_resolve_pool(daemon, obj->pool, &error)) {
        op->daemon = daemon;
        pool_op_free(op); /* forgets a transient pool that cannot start */
        pd_call_fail(call, error);
        return;
    }
    pool_op_start(daemon, call, op, run_start, apply_start);
}

/* Parses pool XML from a call, refusing a type without a backend. */
static PdPoolDef *parse_pool_xml(const char *xml, GError **error)
{
    g_autoptr(PdPoolDef) def = pd_pool_def_parse(xml, error);
    if (!def || !pd_pool_backend_for_def(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* The source two pools of one type must not share (libvirt's virStoragePoolSourceFindDuplicate):
 * an iSCSI target at a host (for one initiator), an fs pool's device. NULL when the type has no
 * such rule; else a description of the shared source for the message, caller frees. */
static char *shared_source(const PdPoolDef *a, const PdPoolDef *b)
{
    const GPtrArray *da = a->source.devices, *db = b->source.devices;
    if (a->type != b->type || !da->len || !db->len || g_strcmp0(da->pdata[0], db->pdata[0]))
        return NULL;
    if (a->type == PD_POOL_FS)
        return g_strdup_printf("source device %s", (char *)da->pdata[0]);
    if (a->type == PD_POOL_ISCSI && !g_strcmp0(a->source.host_name, b->source.host_name) &&
        !g_strcmp0(a->source.initiator_iqn, b->source.initiator_iqn))
        return g_strdup_printf("target %s at %s", (char *)da->pdata[0], a->source.host_name);
    return NULL;
}

/* A new definition must not reuse another pool's UUID, target or source. iscsi pools share
 * their target directory (/dev/disk/by-path): their source decides. */
static bool check_duplicates(PdDaemon *daemon, const PdPoolDef *def, GError **error)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *o = value;
        const PdPoolDef *other = o->pool->def;
        if (g_str_equal(other->name, def->name))
            continue;
        if (g_ascii_strcasecmp(other->uuid, def->uuid) == 0) {
            g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                        "pool '%s' is already defined with uuid %s", other->name, def->uuid);
            return false;
        }
        g_autofree char *source = shared_source(other, def);
        if (source) {
            g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                        "Storage source conflict with pool: '%s' already uses %s", other->name,
                        source);
            return false;
        }
        if (other->target_path && def->target_path && other->type == def->type &&
            def->type != PD_POOL_ISCSI && g_str_equal(other->target_path, def->target_path)) {
            g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                        "Storage source conflict with pool: '%s' already uses target path %s",
                        other->name, def->target_path);
            return false;
        }
    }
    return true;
}

/* Saves @obj and logs @kind in one transaction. */
static bool commit_pool_change(PdDaemon *daemon, PdPoolObj *obj, const char *kind, GError **error)
{
    if (!pd_store_begin(daemon->store, error))
        return false;
    if (!pd_model_save_pool(daemon, obj, error) ||
        !pd_events_emit(daemon->events, kind, pd_pool_obj_name(obj), NULL, NULL, error) ||
        !pd_store_commit(daemon->store, error)) {
        pd_store_rollback(daemon->store);
        pd_events_discard(daemon->events);
        return false;
    }
    pd_events_flush(daemon->events);
    return true;
}

/* Defines (or redefines) a pool; returns it or NULL with @error. */
static PdPoolObj *define_pool(PdDaemon *daemon, PdPoolDef *def_in, bool persistent, GError **error)
{
    g_autoptr(PdPoolDef) def = def_in;
    if (!check_duplicates(daemon, def, error))
        return NULL;
    PdPoolObj *obj = g_hash_table_lookup(daemon->pools, def->name);
    /* libvirt's words, with its error class first */
    if (obj && (!persistent || g_ascii_strcasecmp(obj->pool->def->uuid, def->uuid) != 0)) {
        g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                    "operation failed: pool '%s' already exists with uuid %s", def->name,
                    obj->pool->def->uuid);
        return NULL;
    }
    if (obj && obj->pool->def->type != def->type) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s' is of type %s; a definition cannot change its type", def->name,
                    pd_pool_type_info(obj->pool->def->type)->name);
        return NULL;
    }
    if (obj && !pd_model_check_idle(obj, error))
        return NULL;
    bool created = !obj;
    if (obj && obj->active) {
        pd_pool_def_free(obj->next_def);
        obj->next_def = g_steal_pointer(&def);
    } else if (obj) {
        pd_model_set_def(obj, g_steal_pointer(&def));
    } else {
        obj = pd_model_add_pool(daemon, g_steal_pointer(&def), persistent, error);
        if (!obj)
            return NULL;
    }
    obj->persistent = obj->persistent || persistent;
    pd_model_update_backing_roots(daemon);
    if (!commit_pool_change(daemon, obj, "pool-defined", error)) {
        if (created) {
            g_hash_table_remove(daemon->pools, pd_pool_obj_name(obj));
            pd_model_backing_invalidate(daemon);
        }
        return NULL;
    }
    return obj;
}

PdPoolObj *pd_pool_define_xml(PdDaemon *daemon, const char *xml, GError **error)
{
    PdPoolDef *def = parse_pool_xml(xml, error);
    return def ? define_pool(daemon, def, true, error) : NULL;
}

PD_HANDLER(pd_method_pool_define)
{
    g_autoptr(GError) error = NULL;
    PdPoolDef *def = parse_pool_xml(pd_param_string(params, "xml"), &error);
    PdPoolObj *obj = def ? define_pool(daemon, def, true, &error) : NULL;
    if (!obj) {
        pd_call_fail(call, error);
        return;
    }
    pd_call_reply(call, reply_pool(daemon, obj));
}

PD_HANDLER(pd_method_pool_create)
{
    g_autoptr(GError) error = NULL;
    PdPoolDef *def = parse_pool_xml(pd_param_string(params, "xml"), &error);
    PdPoolObj *obj = def ? define_pool(daemon, def, false, &error) : NULL;
    if (!obj) {
        pd_call_fail(call, error);
        return;
    }
    unsigned flags = pd_param_bool(params, "overwrite", false) ? PD_POOL_BUILD_OVERWRITE : 0;
    start_pool(daemon, call, obj, pd_param_bool(params, "build", false), flags, true);
}

PD_HANDLER(pd_method_pool_start)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    if (obj && obj->active)
        g_set_error(&error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: storage pool '%s' is already active",
                    pd_pool_obj_name(obj));
    if (!obj || obj->active || !pd_model_check_idle(obj, &error)) {
        pd_call_fail(call, error);
        return;
    }
    start_pool(daemon, call, obj, pd_param_bool(params, "build", false), 0, false);
}

static bool run_stop(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    PoolOp *op = data;
    return pd_pool_backend_stop(op->obj->backend, op->obj->pool, error);
}

static JsonObject *apply_stop(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    PoolOp *op = data;
    PdPoolObj *obj = op->obj;
    obj->active = false;
    bool ok =
        pd_events_emit(daemon->events, "pool-stopped", pd_pool_obj_name(obj), NULL, NULL, error);
    if (ok && !obj->persistent) {
        ok = pd_store_pool_delete(daemon->store, pd_pool_obj_name(obj), error) &&
             pd_events_emit(daemon->events, "pool-undefined", pd_pool_obj_name(obj), NULL,
                            "transient", error);
        op->create = ok; /* pool_op_free forgets it */
    } else if (ok) {
        ok = pd_model_save_pool(daemon, obj, error);
    }
    if (!ok) {
        obj->active = true;
        return NULL;
    }
    return json_object_new();
}

/* Checks that @obj is active and that nothing runs on it (stop). */
static bool check_stoppable(PdDaemon *daemon, PdPoolObj *obj, GError **error)
{
    if (!obj->active) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: storage pool '%s' is not active",
                    pd_pool_obj_name(obj));
        return false;
    }
    if (!pd_model_check_idle(obj, error))
        return false;
    if (pd_jobs_pool_busy(daemon->jobs, pd_pool_obj_name(obj))) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "storage pool '%s' has volume jobs running (job-list shows them); wait "
                    "for them or cancel them first",
                    pd_pool_obj_name(obj));
        return false;
    }
    return true;
}

PD_HANDLER(pd_method_pool_stop)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    if (!obj || !check_stoppable(daemon, obj, &error)) {
        pd_call_fail(call, error);
        return;
    }
    PoolOp *op = g_new0(PoolOp, 1);
    op->obj = obj;
    op->op = "pool-stop";
    pool_op_start(daemon, call, op, run_stop, apply_stop);
}

/* Checks that @obj is inactive and idle (build, delete, undefine). @word: libvirt's, "still"
 * or (build) "already". */
static bool check_inactive(PdPoolObj *obj, const char *word, GError **error)
{
    if (obj->active) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: storage pool '%s' is %s active "
                    "(stop it with pool-destroy %s first)",
                    pd_pool_obj_name(obj), word, pd_pool_obj_name(obj));
        return false;
    }
    return pd_model_check_idle(obj, error);
}

static bool run_build(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    PoolOp *op = data;
    return pd_pool_backend_build(op->obj->backend, op->obj->pool, op->build_flags, error);
}

static JsonObject *apply_event(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    PoolOp *op = data;
    const char *kind = g_str_equal(op->op, "pool-build") ? "pool-built" : "pool-deleted";
    if (!pd_events_emit(daemon->events, kind, pd_pool_obj_name(op->obj), NULL, NULL, error))
        return NULL;
    return json_object_new();
}

PD_HANDLER(pd_method_pool_build)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    bool overwrite = pd_param_bool(params, "overwrite", false);
    bool no_overwrite = pd_param_bool(params, "no_overwrite", false);
    if (obj && overwrite && no_overwrite)
        g_set_error(&error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "--overwrite and --no-overwrite are mutually exclusive");
    if (!obj || error || !check_inactive(obj, "already", &error)) {
        pd_call_fail(call, error);
        return;
    }
    PoolOp *op = g_new0(PoolOp, 1);
    op->obj = obj;
    op->op = "pool-build";
    op->build_flags =
        (overwrite ? PD_POOL_BUILD_OVERWRITE : 0) | (no_overwrite ? PD_POOL_BUILD_NO_OVERWRITE : 0);
    pool_op_start(daemon, call, op, run_build, apply_event);
}

static bool run_delete(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    PoolOp *op = data;
    return pd_pool_backend_delete(op->obj->backend, op->obj->pool, 0, error);
}

PD_HANDLER(pd_method_pool_delete)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    if (!obj || !check_inactive(obj, "still", &error) ||
        !pd_attach_check_unattached(daemon, pd_pool_obj_name(obj), NULL, "delete", &error)) {
        pd_call_fail(call, error);
        return;
    }
    PoolOp *op = g_new0(PoolOp, 1);
    op->obj = obj;
    op->op = "pool-delete";
    pool_op_start(daemon, call, op, run_delete, apply_event);
}

static bool run_refresh(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    PoolOp *op = data;
    return pd_pool_backend_refresh(op->obj->backend, op->view, op->previous, &op->refresh, error);
}

static JsonObject *apply_refresh(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    PoolOp *op = data;
    if (!pd_model_apply_refresh(daemon, op->obj, &op->refresh, error) ||
        !pd_events_emit(daemon->events, "pool-refreshed", pd_pool_obj_name(op->obj), NULL, NULL,
                        error))
        return NULL;
    return reply_pool(daemon, op->obj);
}

/* Refresh runs while volume jobs run (libvirt refuses it; poold does not): volumes the
 * daemon changes meanwhile keep the daemon's state (PdPoolObj.touched). */
PD_HANDLER(pd_method_pool_refresh)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_active_pool(daemon, pd_param_string(params, "pool"), &error);
    if (obj && obj->operation_job && g_strcmp0(obj->operation, "pool-refresh") == 0) {
        pd_job_wait(obj->operation_job, call); /* joins the refresh that runs */
        return;
    }
    if (!obj || !pd_model_check_idle(obj, &error)) {
        pd_call_fail(call, error);
        return;
    }
    PoolOp *op = g_new0(PoolOp, 1);
    op->obj = obj;
    op->op = "pool-refresh";
    op->view = pd_pool_view(obj->pool);
    op->previous = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    for (guint i = 0; i < obj->pool->volumes->len; i++) /* shared: see pd_vol_ref */
        g_ptr_array_add(op->previous, pd_vol_ref(obj->pool->volumes->pdata[i]));
    obj->touched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    pool_op_start(daemon, call, op, run_refresh, apply_refresh);
}

PD_HANDLER(pd_method_pool_undefine)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    /* as libvirt 9: an active pool (persistent or transient) is not undefined */
    if (!obj || !check_inactive(obj, "still", &error)) {
        pd_call_fail(call, error);
        return;
    }
    g_autofree char *name = g_strdup(pd_pool_obj_name(obj));
    if (!pd_store_begin(daemon->store, &error) ||
        !pd_store_pool_delete(daemon->store, name, &error) ||
        !pd_events_emit(daemon->events, "pool-undefined", name, NULL, NULL, &error) ||
        !pd_store_commit(daemon->store, &error)) {
        pd_store_rollback(daemon->store);
        pd_events_discard(daemon->events);
        pd_call_fail(call, error);
        return;
    }
    pd_events_flush(daemon->events);
    g_hash_table_remove(daemon->pools, name);
    pd_model_backing_invalidate(daemon);
    pd_call_reply(call, NULL);
}

PD_HANDLER(pd_method_pool_set_autostart)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    if (obj && !obj->persistent)
        g_set_error(&error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "cannot set autostart for transient pool '%s'", pd_pool_obj_name(obj));
    if (!obj || error) {
        pd_call_fail(call, error);
        return;
    }
    bool old = obj->autostart;
    obj->autostart = pd_param_bool(params, "autostart", true);
    if (!pd_store_pool_set_autostart(daemon->store, pd_pool_obj_name(obj), obj->autostart,
                                     &error)) {
        obj->autostart = old;
        pd_call_fail(call, error);
        return;
    }
    pd_call_reply(call, NULL);
}

PD_HANDLER(pd_method_pool_list)
{
    g_autoptr(GPtrArray) pools = pd_model_pools_sorted(daemon);
    JsonArray *array = json_array_new();
    for (guint i = 0; i < pools->len; i++)
        json_array_add_object_element(array, pd_model_pool_json(daemon, pools->pdata[i]));
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "pools", array);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_pool_info)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    if (!obj) {
        pd_call_fail(call, error);
        return;
    }
    pd_call_reply(call, reply_pool(daemon, obj));
}

PD_HANDLER(pd_method_pool_dump_xml)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    if (!obj) {
        pd_call_fail(call, error);
        return;
    }
    bool inactive = pd_param_bool(params, "inactive", false);
    const PdPoolDef *src = inactive && obj->next_def ? obj->next_def : obj->pool->def;
    g_autoptr(PdPoolDef) def = pd_pool_def_copy(src);
    if (obj->active && src == obj->pool->def) {
        def->capacity = obj->pool->capacity;
        def->allocation = obj->pool->allocation;
        def->available = obj->pool->available;
    }
    g_autofree char *xml = pd_pool_def_format(def);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "xml", xml);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_pool_capabilities)
{
    unsigned supported = 0;
    for (int t = 0; t < PD_POOL_TYPE_COUNT; t++)
        if (pd_pool_backend_for_type((PdPoolType)t, NULL))
            supported |= 1u << t;
    g_autofree char *xml = pd_pool_capabilities_format(supported);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "xml", xml);
    pd_call_reply(call, reply);
}
