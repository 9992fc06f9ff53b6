/* attach-disk and detach-disk: checks and the in-progress row on the main loop, libvirt on a
 * worker, the row and its event in one transaction on the main loop. */
#include "common/pd-error.h"
#include "daemon/attach/attach-private.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"
#include "daemon/libvirt/disk.h"

#include <string.h>

bool pd_attach_emit(PdDaemon *daemon, const char *kind, const char *pool, const char *volume,
                    const char *domain, const char *target, bool live, bool config, const char *why,
                    GError **error)
{
    g_autofree char *detail = g_strdup_printf(
        "domain '%s' target %s (%s%s%s)%s%s", domain, target, live ? "live" : "",
        live && config ? ", " : "", config ? "config" : "", why ? ": " : "", why ? why : "");
    return pd_events_emit(daemon->events, kind, pool, volume, detail, error);
}

/* ---- attach ---- */

/* The row of (uri, domain, target), or NULL (also on error: @error set then). */
static PdStoreAttachment *find_row(PdDaemon *daemon, const char *uri, const char *domain,
                                   const char *target, GError **error)
{
    g_autoptr(GPtrArray) rows = pd_store_attachment_list(daemon->store, uri, NULL, NULL, error);
    for (guint i = 0; rows && i < rows->len; i++) {
        PdStoreAttachment *a = rows->pdata[i];
        if (g_str_equal(a->domain, domain) && g_str_equal(a->target, target))
            return g_ptr_array_steal_index(rows, i);
    }
    return NULL;
}

struct PdAttachOp {
    PdDaemon *daemon;
    const PdLibvirtModule *module;
    PdLibvirtConns *conns;
    char *uri, *domain, *target, *pool, *volume, *mode, *xml;
    PdAffectFlags flags;
    unsigned affected;
    bool row_written;
    bool applied;
};

void pd_attach_op_free(PdAttachOp *op)
{
    if (!op)
        return;
    if (op->row_written && !op->applied) {
        g_autoptr(GError) error = NULL;
        if (!pd_store_attachment_delete(op->daemon->store, op->uri, op->domain, op->target, &error))
            g_warning("%s", error->message);
    }
    g_free(op->uri);
    g_free(op->domain);
    g_free(op->target);
    g_free(op->pool);
    g_free(op->volume);
    g_free(op->mode);
    g_free(op->xml);
    g_free(op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdAttachOp, pd_attach_op_free)

const char *pd_attach_op_xml(const PdAttachOp *op)
{
    return op->xml;
}

const char *pd_attach_op_pool(const PdAttachOp *op)
{
    return op->pool;
}

const char *pd_attach_op_volume(const PdAttachOp *op)
{
    return op->volume;
}

/* A volume named by a path under an inactive pool's target: say so, rather than "not found". */
static void explain_inactive(PdDaemon *daemon, const char *path, GError **error)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_path_is_absolute(path) && g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *obj = value;
        const char *root = obj->pool->def->target_path;
        size_t len = root ? strlen(root) : 0;
        if (!obj->active && len && strncmp(path, root, len) == 0 && path[len] == '/') {
            g_clear_error(error);
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                        "Requested operation is not valid: storage pool '%s' of '%s' is not "
                        "active (start it with pool-start %s)",
                        pd_pool_obj_name(obj), path, pd_pool_obj_name(obj));
            return;
        }
    }
}

/* Two attachments of one volume conflict unless the new one is shareable, or both only
 * read. Same-target rows are libvirt's to refuse (target in use). */
static bool check_sharing(PdDaemon *daemon, const PdAttachOp *op, GError **error)
{
    g_autoptr(GPtrArray) rows =
        pd_store_attachment_list(daemon->store, NULL, op->pool, op->volume, error);
    if (!rows)
        return false;
    bool shareable = g_strcmp0(op->mode, "shareable") == 0;
    bool readonly = g_strcmp0(op->mode, "readonly") == 0;
    for (guint i = 0; i < rows->len && !shareable; i++) {
        PdStoreAttachment *a = rows->pdata[i];
        if (g_str_equal(a->uri, op->uri) && g_str_equal(a->domain, op->domain) &&
            g_str_equal(a->target, op->target))
            continue;
        bool other_readonly = g_strcmp0(a->mode, "readonly") == 0;
        if (readonly && other_readonly)
            continue;
        g_set_error(error, PD_ERROR, PD_ERROR_VOLUME_ATTACHED,
                    "volume '%s' of pool '%s' is already attached %s to domain '%s' as %s (%s): "
                    "attach it with --mode shareable, or detach it there first",
                    op->volume, op->pool, a->mode ? a->mode : "read-write", a->domain, a->target,
                    a->uri);
        return false;
    }
    return true;
}

/* The <disk> XML of @vol of @obj for @req. */
static char *build_xml(PdPoolObj *obj, const PdVol *vol, const PdAttachRequest *req, GError **error)
{
    g_autoptr(PdDiskSource) src = NULL;
    if (!pd_pool_backend_vol_disk_source(obj->backend, obj->pool, vol, &src, error))
        return NULL;
    PdDiskSpec spec = {
        .source = src,
        .target = req->target,
        .format = req->subdriver ? req->subdriver : vol->format,
        .driver = req->driver,
        .cache = req->cache,
        .bus = req->bus,
        .device = req->device,
        .mode = req->mode,
    };
    char *xml = pd_libvirt_disk_xml(&spec, error);
    if (!xml)
        g_prefix_error(error, "volume '%s' of pool '%s': ", vol->name, pd_pool_obj_name(obj));
    return xml;
}

PdAttachOp *pd_attach_prepare(PdDaemon *daemon, const PdAttachRequest *req, bool print_only,
                              GError **error)
{
    PdPoolObj *obj = NULL;
    PdVol *vol = pd_model_idle_volume(daemon, req->pool, req->volume, &obj, error);
    if (!vol) {
        if (!req->pool)
            explain_inactive(daemon, req->volume, error);
        return NULL;
    }
    /* a guest's QEMU would open the whole chain: the backing policy's rule holds here too */
    if (!pd_model_backing_chain_check(daemon, obj, vol, error)) {
        g_prefix_error(error, "cannot attach volume '%s' of pool '%s': ", vol->name,
                       pd_pool_obj_name(obj));
        return NULL;
    }
    const char *uri = pd_attach_uri(daemon, req->uri, error);
    if (!uri)
        return NULL;
    g_autoptr(PdAttachOp) op = g_new0(PdAttachOp, 1);
    op->daemon = daemon;
    op->uri = g_strdup(uri);
    op->domain = g_strdup(req->domain);
    op->target = g_strdup(req->target);
    op->pool = g_strdup(pd_pool_obj_name(obj));
    op->volume = g_strdup(vol->name);
    op->mode = g_strdup(req->mode);
    op->flags = req->flags;
    op->xml = build_xml(obj, vol, req, error);
    if (!op->xml)
        return NULL;
    if (print_only)
        return g_steal_pointer(&op);
    if (!req->domain || !*req->domain) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "no domain given");
        return NULL;
    }
    if (!pd_attach_load(daemon, error))
        return NULL;
    op->module = daemon->libvirt->module;
    op->conns = daemon->libvirt->conns;
    g_autoptr(GError) local = NULL;
    g_autoptr(PdStoreAttachment) used = find_row(daemon, op->uri, op->domain, op->target, &local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (used) {
        g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                    "target '%s' of domain '%s' is already used by volume '%s' of pool '%s' "
                    "(%s): choose another target",
                    op->target, op->domain, used->volume, used->pool, op->uri);
        return NULL;
    }
    if (!check_sharing(daemon, op, error))
        return NULL;
    PdStoreAttachment row = {.uri = op->uri,
                             .domain = op->domain,
                             .target = op->target,
                             .pool = op->pool,
                             .volume = op->volume,
                             .mode = op->mode};
    if (!pd_store_attachment_put(daemon->store, &row, error))
        return NULL;
    op->row_written = true;
    return g_steal_pointer(&op);
}

bool pd_attach_run(PdAttachOp *op, GError **error)
{
    return op->module->attach_disk(op->conns, op->uri, op->domain, op->xml, op->target, &op->flags,
                                   &op->affected, error);
}

static JsonObject *affected_json(unsigned affected)
{
    JsonObject *o = json_object_new();
    json_object_set_boolean_member(o, "live", (affected & PD_AFFECT_LIVE) != 0);
    json_object_set_boolean_member(o, "config", (affected & PD_AFFECT_CONFIG) != 0);
    return o;
}

JsonObject *pd_attach_apply(PdDaemon *daemon, PdAttachOp *op, GError **error)
{
    bool live = (op->affected & PD_AFFECT_LIVE) != 0;
    bool config = (op->affected & PD_AFFECT_CONFIG) != 0;
    PdStoreAttachment row = {.uri = op->uri,
                             .domain = op->domain,
                             .target = op->target,
                             .pool = op->pool,
                             .volume = op->volume,
                             .mode = op->mode,
                             .live = live,
                             .config = config};
    if (!pd_store_attachment_put(daemon->store, &row, error) ||
        !pd_attach_emit(daemon, "vol-attached", op->pool, op->volume, op->domain, op->target, live,
                        config, NULL, error))
        return NULL;
    /* Applied even if the caller's commit fails afterwards: libvirt has the disk, so the row
     * stays for reconciliation rather than being removed by pd_attach_op_free. */
    op->applied = true;
    if (daemon->libvirt)
        daemon->libvirt->generation++;
    return affected_json(op->affected);
}

/* ---- detach ---- */

struct PdDetachOp {
    PdDaemon *daemon;
    const PdLibvirtModule *module;
    PdLibvirtConns *conns;
    char *uri, *domain, *target;
    PdAffectFlags flags;
    unsigned timeout_ms;
    PdStoreAttachment *row; /* NULL: not attached through poold (or not known yet) */
    unsigned affected;
    PdDomainDisk *disk;
};

void pd_detach_op_free(PdDetachOp *op)
{
    if (!op)
        return;
    g_free(op->uri);
    g_free(op->domain);
    g_free(op->target);
    pd_store_attachment_free(op->row);
    pd_domain_disk_free(op->disk);
    g_free(op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdDetachOp, pd_detach_op_free)

const char *pd_detach_op_pool(const PdDetachOp *op)
{
    return op->row ? op->row->pool : NULL;
}

const char *pd_detach_op_volume(const PdDetachOp *op)
{
    return op->row ? op->row->volume : NULL;
}

PdDetachOp *pd_detach_prepare(PdDaemon *daemon, const PdDetachRequest *req, GError **error)
{
    if (!req->domain || !*req->domain || !req->target || !*req->target) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "no domain or target given");
        return NULL;
    }
    if (!pd_attach_load(daemon, error))
        return NULL;
    const char *uri = pd_attach_uri(daemon, req->uri, error);
    if (!uri)
        return NULL;
    g_autoptr(PdDetachOp) op = g_new0(PdDetachOp, 1);
    op->daemon = daemon;
    op->module = daemon->libvirt->module;
    op->conns = daemon->libvirt->conns;
    op->uri = g_strdup(uri);
    op->domain = g_strdup(req->domain);
    op->target = g_strdup(req->target);
    op->flags = req->flags;
    op->timeout_ms = daemon->config.libvirt_detach_timeout_ms
                         ? daemon->config.libvirt_detach_timeout_ms
                         : PD_DETACH_TIMEOUT_MS_DEFAULT;
    g_autoptr(GError) local = NULL;
    op->row = find_row(daemon, op->uri, op->domain, op->target, &local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    return g_steal_pointer(&op);
}

bool pd_detach_run(PdDetachOp *op, GError **error)
{
    return op->module->detach_disk(op->conns, op->uri, op->domain, op->target, &op->flags,
                                   op->timeout_ms, &op->affected, &op->disk, error);
}

JsonObject *pd_detach_apply(PdDaemon *daemon, PdDetachOp *op, GError **error)
{
    bool live = (op->affected & PD_AFFECT_LIVE) != 0;
    bool config = (op->affected & PD_AFFECT_CONFIG) != 0;
    const char *pool = NULL, *volume = NULL;
    if (op->row) {
        pool = op->row->pool;
        volume = op->row->volume;
        op->row->live = op->row->live && !live;
        op->row->config = op->row->config && !config;
        bool ok =
            op->row->live || op->row->config
                ? pd_store_attachment_put(daemon->store, op->row, error)
                : pd_store_attachment_delete(daemon->store, op->uri, op->domain, op->target, error);
        if (!ok)
            return NULL;
    } else {
        PdPoolObj *obj = NULL;
        PdVol *vol = NULL;
        if (op->disk && pd_attach_match_volume(daemon, op->disk, &obj, &vol)) {
            pool = pd_pool_obj_name(obj);
            volume = vol->name;
        }
    }
    if (volume && !pd_attach_emit(daemon, "vol-detached", pool, volume, op->domain, op->target,
                                  live, config, NULL, error))
        return NULL;
    if (daemon->libvirt)
        daemon->libvirt->generation++;
    return affected_json(op->affected);
}
